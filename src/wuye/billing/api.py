"""REST endpoints of billing: a unit's statement and recording a payment."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from wuye.billing import permissions as billing_permissions
from wuye.billing.selectors import statement_for_unit
from wuye.billing.serializers import PaymentCreateSerializer, PaymentSerializer, StatementSerializer
from wuye.billing.services import payment_record
from wuye.common.once import idempotent
from wuye.common.params import date_param
from wuye.estate.selectors import unit_visible_or_404


class StatementView(APIView):
    """A unit's statement as of a date: lines with late fees and their calculation, payments, prepaid."""

    @extend_schema(parameters=[OpenApiParameter("as_of", str, description="YYYY-MM-DD，默认今天")],
                   responses=StatementSerializer)
    def get(self, request, pk: int):
        unit = unit_visible_or_404(request.user, pk)
        as_of = date_param(request.query_params, "as_of", timezone.localdate())
        return Response(StatementSerializer(statement_for_unit(unit, as_of=as_of)).data)


class CanRecordPayments(permissions.BasePermission):
    message = "只有财务、经理和管理员可以登记收款。"

    def has_permission(self, request, view):
        return bool(request.user.is_authenticated and billing_permissions.can_record_payments(request.user))


class PaymentCreateView(APIView):
    """Record a payment at the desk; allocation follows the payer's choice, else the oldest line first."""

    permission_classes = [permissions.IsAuthenticated, CanRecordPayments]

    @extend_schema(request=PaymentCreateSerializer, responses={201: PaymentSerializer})
    @idempotent
    def post(self, request):
        data = PaymentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        unit = unit_visible_or_404(request.user, v["unit"])
        try:
            payment = payment_record(
                actor=request.user, unit=unit, amount_fen=v["amount_fen"], method=v["method"],
                paid_at=v.get("paid_at"), payer_name=v.get("payer_name", ""), reference=v.get("reference", ""),
                bill_ids=v.get("bill_ids"), note=v.get("note", ""))
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)
