"""REST: a unit's collection state (segment, class, current step, holds, actions); message templates (read,
and a manager changes the text through the guardrails); delivery receipts."""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from wuye.accounts.permissions import can_manage_team
from wuye.common.params import date_param
from wuye.dunning import services
from wuye.dunning.dispatch import receipt_record
from wuye.dunning.models import MessageTemplate
from wuye.dunning.selectors import collection_state
from wuye.dunning.serializers import CollectionSerializer, MessageTemplateInput, MessageTemplateSerializer
from wuye.estate.selectors import projects_visible, unit_visible_or_404
from wuye.notify.receipts import PARSERS, ReceiptError, wechat_signature_ok

log = logging.getLogger(__name__)


class CollectionView(APIView):
    """The unit's segment, policy, current step, holds, today's decision and its actions with status."""

    @extend_schema(parameters=[OpenApiParameter("as_of", str, description="YYYY-MM-DD，默认今天")],
                   responses=CollectionSerializer)
    def get(self, request, pk: int):
        unit = unit_visible_or_404(request.user, pk)
        as_of = date_param(request.query_params, "as_of", timezone.localdate())
        return Response(CollectionSerializer(collection_state(unit, as_of=as_of)).data)


def _templates(user):
    return MessageTemplate.objects.filter(Q(project__isnull=True) | Q(project__in=projects_visible(user)))


class MessageTemplateListView(APIView):
    """The company-wide templates and those of the projects the user sees."""

    @extend_schema(responses=MessageTemplateSerializer(many=True))
    def get(self, request):
        return Response(MessageTemplateSerializer(_templates(request.user).order_by("code", "pk"), many=True).data)


class MessageTemplateDetailView(APIView):
    """One template; PATCH (managers) saves a new version of its text after the guardrail check."""

    @extend_schema(responses=MessageTemplateSerializer)
    def get(self, request, pk: int):
        return Response(MessageTemplateSerializer(get_object_or_404(_templates(request.user), pk=pk)).data)

    @extend_schema(request=MessageTemplateInput, responses=MessageTemplateSerializer)
    def patch(self, request, pk: int):
        template = get_object_or_404(_templates(request.user), pk=pk)
        if not can_manage_team(request.user):
            raise PermissionDenied("只有经理和管理员可以修改模板。")
        s = MessageTemplateInput(data=request.data, context={"template": template})
        s.is_valid(raise_exception=True)
        d = s.validated_data
        try:
            services.template_save(actor=request.user, template=template, body=d["body"],
                                   subject=d.get("subject", template.subject),
                                   provider_template_id=d.get("provider_template_id"))
        except DjangoValidationError as exc:
            raise ValidationError(getattr(exc, "message_dict", {"non_field_errors": exc.messages})) from exc
        return Response(MessageTemplateSerializer(template).data)


@csrf_exempt
def receipt_view(request, provider: str, token: str):
    """Delivery receipts pushed by Tencent SMS, Aliyun SMS or WeChat (see ``wuye.notify.receipts``).

    The path carries ``WUYE_RECEIPT_TOKEN``; a wrong token or an unknown provider is a plain 404. A body that
    is not a receipt push is answered 400 and changes nothing. Each receipt is matched to its action by our
    out_id or the provider's message id; unknown ids are counted and ignored (a receipt for a message sent
    by another system on the same account)."""
    expected = settings.WUYE_RECEIPT_TOKEN
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()) or provider not in PARSERS:
        raise Http404
    if provider == "wechat":
        q = request.GET
        if not wechat_signature_ok(settings.WUYE_WECHAT_SERVER_TOKEN, q.get("signature", ""), q.get("timestamp", ""),
                                   q.get("nonce", "")):
            return HttpResponse("签名无效", status=403, content_type="text/plain; charset=utf-8")
        if request.method == "GET":  # the server-address check when the URL is configured in the console
            return HttpResponse(q.get("echostr", ""), content_type="text/plain")
    if request.method != "POST":
        return HttpResponse(status=405)
    now = timezone.now()
    try:
        parsed = PARSERS[provider](request.body, now)
    except ReceiptError as e:
        return HttpResponse(str(e), status=400, content_type="text/plain; charset=utf-8")
    matched = 0
    for r in parsed.receipts:
        action = receipt_record(out_id=r.out_id, provider_message_id=r.provider_message_id, delivered=r.delivered,
                                at=r.at, detail=r.detail, dead_address=r.dead_address,
                                actor_label=f"job:receipt:{provider}")
        matched += action is not None
    if len(parsed.receipts) != matched:
        log.info("receipts from %s: %d of %d matched no action", provider, len(parsed.receipts) - matched,
                 len(parsed.receipts))
    return HttpResponse(parsed.reply, content_type=f"{parsed.content_type}; charset=utf-8")
