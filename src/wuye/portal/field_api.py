"""REST for payment on the doorstep (上门收款登记): a collector (客服, manager) records a transfer the owner made at
the door, for a unit of their territory, with the same checks as the doorstep page (``wuye.portal.field``);
finance lists them and confirms (posted through billing) or rejects them."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from wuye.billing.permissions import can_record_payments
from wuye.casework.services import debtor_for
from wuye.common.api import AmountFenField, Pagination
from wuye.common.once import idempotent
from wuye.estate.selectors import projects_visible, unit_visible_or_404
from wuye.portal import field
from wuye.portal.choices import FieldPaymentMethod, FieldPaymentStatus
from wuye.portal.models import FieldPayment

BIG = 2**63 - 1


class FieldPaymentInput(serializers.Serializer):
    unit = serializers.IntegerField(min_value=1, max_value=BIG, help_text="房屋编号")
    party = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=BIG,
                                     help_text="缴款的欠费人，默认该房屋的欠费人（现业主）")
    amount_fen = AmountFenField(min_value=1, help_text="金额（分）", error_messages={
        "invalid": "金额应为整数（分）。", "min_value": "金额必须大于 0。", "required": "请填写金额（分）。"})
    method = serializers.ChoiceField(choices=FieldPaymentMethod.choices, error_messages={
        "invalid_choice": "转账方式应为 wechat、alipay 或 transfer。", "required": "请选择转账方式。"})
    reference = serializers.CharField(max_length=64, error_messages={
        "required": "请填写转账流水号。", "blank": "请填写转账流水号。", "max_length": "流水号不能超过 64 个字符。"})
    paid_on = serializers.DateField(error_messages={"required": "请填写转账日期。",
                                                    "invalid": "转账日期格式应为 YYYY-MM-DD。"})
    bill_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=BIG), required=False,
                                     max_length=500, help_text="所缴账单编号（这位欠费人未结清的），不填为从最早一期起")
    note = serializers.CharField(required=False, allow_blank=True, max_length=300,
                                 error_messages={"max_length": "备注不能超过 300 字。"})


class FieldPaymentOutput(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display")
    recorded_by = serializers.CharField(source="recorded_by.username")
    receipt_no = serializers.SerializerMethodField()

    class Meta:
        model = FieldPayment
        fields = ["id", "project", "unit", "party", "amount_fen", "method", "reference", "paid_on", "bill_ids",
                  "note", "status", "status_label", "recorded_by", "recorded_at", "decided_at", "decision_note",
                  "payment", "receipt_no"]
        read_only_fields = fields

    def get_receipt_no(self, obj) -> str:
        return obj.payment.receipt_no if obj.payment_id else ""


class FieldPaymentDecisionInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[("confirm", "确认入账"), ("reject", "退回")], error_messages={
        "invalid_choice": "decision 应为 confirm 或 reject。", "required": "请选择 confirm 或 reject。"})
    note = serializers.CharField(required=False, allow_blank=True, max_length=300,
                                 error_messages={"max_length": "说明不能超过 300 字。"})


def _errors(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(getattr(exc, "message_dict", {"non_field_errors": exc.messages}))


class FieldPaymentListCreateView(APIView):
    """GET: the transfers recorded at the door (finance, manager, admin; ``status`` filters, pending by default).
    POST: a collector (客服, manager) records one for a unit of their territory, as the doorstep page does."""

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=FieldPaymentStatus.values + ["all"])],
                   responses=FieldPaymentOutput(many=True))
    def get(self, request):
        if not can_record_payments(request.user):
            raise PermissionDenied("只有财务、经理和管理员可以查看和确认上门收款。")
        wanted = request.query_params.get("status", FieldPaymentStatus.PENDING)
        if wanted not in FieldPaymentStatus.values + ["all"]:
            raise ValidationError({"status": "状态应为 pending、confirmed、rejected 或 all。"})
        qs = FieldPayment.objects.filter(project__in=projects_visible(request.user)).select_related(
            "recorded_by", "payment").order_by("recorded_at", "pk")
        if wanted != "all":
            qs = qs.filter(status=wanted)
        pager = Pagination()
        rows = pager.paginate_queryset(qs, request, view=self)
        return pager.get_paginated_response(FieldPaymentOutput(rows, many=True).data)

    @extend_schema(request=FieldPaymentInput, responses={201: FieldPaymentOutput})
    @idempotent
    def post(self, request):
        s = FieldPaymentInput(data=request.data)
        s.is_valid(raise_exception=True)
        d = dict(s.validated_data)
        unit = unit_visible_or_404(request.user, d.pop("unit"))
        if not field.can_work_doorstep(request.user):
            raise PermissionDenied("只有收费员、客服和经理可以上门收款或发送缴费链接。")
        try:
            party = debtor_for(unit, timezone.localdate(), party_id=d.pop("party", None))
            row = field.field_payment_record(actor=request.user, unit=unit, party_id=party.pk if party else None,
                                             **d)
        except DjangoValidationError as exc:
            raise _errors(exc) from exc
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(FieldPaymentOutput(row).data, status=status.HTTP_201_CREATED)


class FieldPaymentDecisionView(APIView):
    """Finance found the money (``confirm``: posted through billing, a receipt number back) or did not
    (``reject`` with a reason). Not the person who recorded it."""

    @extend_schema(request=FieldPaymentDecisionInput, responses=FieldPaymentOutput)
    def post(self, request, pk: int):
        if not can_record_payments(request.user):
            raise PermissionDenied("只有财务、经理和管理员可以确认上门收款。")
        row = get_object_or_404(FieldPayment.objects.filter(project__in=projects_visible(request.user)), pk=pk)
        s = FieldPaymentDecisionInput(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        try:
            if d["decision"] == "confirm":
                field.field_payment_confirm(actor=request.user, field_payment=row, note=d.get("note", ""))
            else:
                field.field_payment_reject(actor=request.user, field_payment=row, note=d.get("note", ""))
        except DjangoValidationError as exc:
            raise _errors(exc) from exc
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        row.refresh_from_db()
        return Response(FieldPaymentOutput(row).data)
