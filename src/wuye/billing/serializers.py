from __future__ import annotations

from rest_framework import serializers

from wuye.billing.choices import PaymentMethod
from wuye.billing.models import Payment
from wuye.common.api import AmountFenField, BoundedDateTimeField


class LateFeeSerializer(serializers.Serializer):
    amount_fen = serializers.IntegerField()
    court_fen = serializers.IntegerField(help_text="法院通常支持的金额（一年期 LPR 上浮）")
    capped = serializers.BooleanField()
    explanation = serializers.CharField()


class StatementLineSerializer(serializers.Serializer):
    bill_id = serializers.IntegerField(source="bill.pk")
    fee_item = serializers.CharField(source="bill.fee_item.name")
    period_start = serializers.DateField(source="bill.period_start")
    period_end = serializers.DateField(source="bill.period_end")
    due_date = serializers.DateField(source="bill.due_date")
    amount_fen = serializers.IntegerField(source="bill.amount_fen")
    rule = serializers.CharField(source="bill.rule")
    is_void = serializers.BooleanField(source="bill.is_void")
    paid_fen = serializers.IntegerField()
    adjusted_fen = serializers.IntegerField()
    open_fen = serializers.IntegerField()
    late_fee = LateFeeSerializer(allow_null=True)


class PaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = ["id", "unit", "amount_fen", "method", "paid_at", "payer_name", "reference", "receipt_no",
                  "reverses", "note"]


class StatementSerializer(serializers.Serializer):
    unit_id = serializers.IntegerField()
    as_of = serializers.DateField()
    billed_fen = serializers.IntegerField()
    open_fen = serializers.IntegerField()
    overdue_fen = serializers.IntegerField()
    late_fee_fen = serializers.IntegerField()
    court_late_fee_fen = serializers.IntegerField()
    prepaid_fen = serializers.IntegerField()
    lines = StatementLineSerializer(many=True)
    payments = PaymentSerializer(many=True)


class PaymentCreateSerializer(serializers.Serializer):
    unit = serializers.IntegerField()
    amount_fen = AmountFenField(help_text="金额，单位：分（整数）")
    method = serializers.ChoiceField(choices=PaymentMethod.choices)
    paid_at = BoundedDateTimeField(required=False)
    payer_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=100)
    note = serializers.CharField(required=False, allow_blank=True, max_length=300)
    bill_ids = serializers.ListField(child=serializers.IntegerField(), required=False,
                                     help_text="付款人指定冲抵的账单；不填按到期先后冲抵")
