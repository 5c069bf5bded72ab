"""REST endpoints for the estate: read-only lists scoped to what the user may see."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from wuye.accounts.services import pii_reveal
from wuye.common.http import client_ip
from wuye.estate.filtersets import UnitFilterSet
from wuye.estate.selectors import (
    UNIT_ORDER,
    buildings_visible,
    contacts_visible,
    parties_visible,
    projects_visible,
    units_visible,
)
from wuye.estate.serializers import (
    BuildingSerializer,
    ContactPointSerializer,
    PartySerializer,
    ProjectSerializer,
    RevealSerializer,
    UnitSerializer,
)


class ProjectViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ProjectSerializer
    filterset_fields = ["kind"]

    def get_queryset(self):
        return projects_visible(self.request.user).order_by("code")


class BuildingViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = BuildingSerializer
    filterset_fields = ["project"]

    def get_queryset(self):
        return buildings_visible(self.request.user).order_by("project_id", "code")


class UnitViewSet(viewsets.ReadOnlyModelViewSet):
    """Units the requesting user may see (a collector: their territory), with filters and pagination."""

    serializer_class = UnitSerializer
    filterset_class = UnitFilterSet

    def get_queryset(self):
        return units_visible(self.request.user).order_by(*UNIT_ORDER)


class PartyViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = PartySerializer
    filterset_fields = ["kind", "is_developer"]

    def get_queryset(self):
        return parties_visible(self.request.user).order_by("name", "id")


class ContactPointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Contact points, masked for roles that do not need them; ``reveal`` shows one in clear and logs it."""

    serializer_class = ContactPointSerializer
    filterset_fields = ["party", "kind", "validity"]

    def get_queryset(self):
        return contacts_visible(self.request.user).order_by("party_id", "id")

    @extend_schema(request=None, responses=RevealSerializer)
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        contact = self.get_object()
        value = pii_reveal(actor=request.user, obj=contact, field="value", ip=client_ip(request))
        return Response({"value": value})
