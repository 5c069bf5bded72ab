"""REST: a unit's collection state (segment, class of reachability, current step, holds, actions)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from wuye.dunning.selectors import collection_state
from wuye.dunning.serializers import CollectionSerializer
from wuye.estate.selectors import unit_visible_or_404


class CollectionView(APIView):
    """The unit's segment, policy, current step, holds, today's decision and its actions with status."""

    @extend_schema(parameters=[OpenApiParameter("as_of", str, description="YYYY-MM-DD，默认今天")],
                   responses=CollectionSerializer)
    def get(self, request, pk: int):
        unit = unit_visible_or_404(request.user, pk)
        raw = request.query_params.get("as_of")
        try:
            as_of = dt.date.fromisoformat(raw) if raw else timezone.localdate()
        except ValueError as exc:
            raise ValidationError({"as_of": "日期格式应为 YYYY-MM-DD。"}) from exc
        return Response(CollectionSerializer(collection_state(unit, as_of=as_of)).data)
