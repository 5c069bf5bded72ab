from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wuye.billing.choices import PaymentMethod
from wuye.billing.models import BillingPolicy
from wuye.billing.policy import EDITABLE
from wuye.common.formatting import AMOUNT_MAX_FEN, AMOUNT_TOO_LARGE, yuan_to_fen
from wuye.common.forms import bootstrap

MAX_YUAN = Decimal(AMOUNT_MAX_FEN + 1) / 100  # ¥10^12: the shared bound, in yuan


class YuanField(forms.CharField):
    """An amount typed in yuan (e.g. ¥1,234 and fifty fen) → integer fen. Never a float."""

    def to_python(self, value):
        text = (super().to_python(value) or "").replace(",", "").replace("¥", "").replace("，", "").strip()
        if not text:
            return None
        try:
            amount = Decimal(text)
        except InvalidOperation as exc:
            raise forms.ValidationError("请输入金额（元），最多两位小数。") from exc
        if not amount.is_finite():  # "NaN", "Infinity"
            raise forms.ValidationError("请输入金额（元），最多两位小数。")
        if abs(amount) >= MAX_YUAN:  # "1e30" cannot even be rounded to fen (InvalidOperation, a 500)
            raise forms.ValidationError(AMOUNT_TOO_LARGE)
        if amount != amount.quantize(Decimal("0.01")):
            raise forms.ValidationError("金额最多两位小数。")
        return yuan_to_fen(amount)


class DeskPaymentForm(forms.Form):
    amount = YuanField(label="金额（元）")
    method = forms.ChoiceField(label="方式", choices=PaymentMethod.choices, initial=PaymentMethod.CASH)
    tendered = YuanField(label="收到现金（元）", required=False,
                         help_text="现金收款时填写顾客递来的金额，系统算出找零；其他方式留空。")
    payer_name = forms.CharField(label="付款人", max_length=100, required=False)
    reference = forms.CharField(label="流水号/凭证号", max_length=100, required=False)
    note = forms.CharField(label="备注", max_length=300, required=False)
    bills = forms.TypedMultipleChoiceField(label="指定冲抵的账单", coerce=int, required=False,
                                           widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, open_bills=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bills"].choices = [(b.pk, str(b.pk)) for b in open_bills]
        bootstrap(self)
        self.fields["amount"].widget.attrs.update(inputmode="decimal", autocomplete="off")
        self.fields["tendered"].widget.attrs.update(inputmode="decimal", autocomplete="off")

    def clean(self):
        data = super().clean()
        amount, tendered, method = data.get("amount"), data.get("tendered"), data.get("method")
        if tendered is not None:
            if method != PaymentMethod.CASH:
                self.add_error("tendered", "只有现金收款需要填写收到现金。")
            elif amount is not None and tendered < amount:
                self.add_error("tendered", "收到现金少于收款金额。")
        return data


class HandoverForm(forms.Form):
    """交班: the cash counted in the drawer, who takes over, and a note (required when the cash differs)."""

    counted = YuanField(label="实点现金（元）")
    handed_to = forms.TypedChoiceField(label="接班人", coerce=int, required=False, empty_value=None)
    note = forms.CharField(label="备注（长短款须说明）", max_length=300, required=False)

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["handed_to"].choices = [("", "—")] + list(people)
        bootstrap(self)

    def clean_counted(self):
        value = self.cleaned_data.get("counted")
        return value


TAKINGS_FIRST_DAY = dt.date(2000, 1, 1)  # no takings before the system; 9999-12-31 or 0001-01-01 were 500s


class TakingsFilter(forms.Form):
    date = forms.DateField(label="日期", required=False, error_messages={"invalid": "日期格式应为 YYYY-MM-DD。"},
                           widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    cashier = forms.TypedChoiceField(label="收款人", coerce=int, required=False, empty_value=None)

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cashier"].choices = [("", "全部")] + list(people)
        bootstrap(self)

    def clean_date(self):
        day = self.cleaned_data.get("date")
        last = timezone.localdate() + dt.timedelta(days=366)
        if day is not None and not TAKINGS_FIRST_DAY <= day <= last:
            raise forms.ValidationError(f"日期应在 {TAKINGS_FIRST_DAY:%Y-%m-%d} 至 {last:%Y-%m-%d} 之间。")
        return day


class AdjustmentRequestForm(forms.Form):
    """Rendered once per open line (so without ids); placeholders and aria-labels name the fields."""

    kind = forms.ChoiceField(label="类型", choices=[("waive_principal", "减免本金"), ("write_off", "核销/和解"),
                                                   ("void", "作废（可重开）")])
    amount = YuanField(label="减免金额 / 重开金额（元）", required=False)
    reason = forms.CharField(label="原因", max_length=300)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        bootstrap(self)
        for field in self.fields.values():
            field.widget.attrs["aria-label"] = field.label
            field.widget.attrs["placeholder"] = field.label


class RunForm(forms.Form):
    period = forms.CharField(label="账期（YYYY-MM）", max_length=7)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["period"].initial = timezone.localdate().strftime("%Y-%m")
        bootstrap(self)

    def clean_period(self) -> dt.date:
        try:
            return dt.datetime.strptime(self.cleaned_data["period"], "%Y-%m").date()
        except ValueError as exc:
            raise forms.ValidationError("账期格式应为 YYYY-MM，例如 2026-07。") from exc


class InstallmentForm(forms.Form):
    count = forms.IntegerField(label="期数", min_value=2, max_value=24, initial=3)
    first_due = forms.DateField(label="第一期到期日",
                                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    reason = forms.CharField(label="原因", max_length=300)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["first_due"].initial = timezone.localdate() + dt.timedelta(days=30)
        bootstrap(self)


class DeliveryForm(forms.Form):
    period = forms.DateField(label="账期", widget=forms.Select)
    method = forms.ChoiceField(label="送达方式")
    delivered_on = forms.DateField(label="送达日期",
                                   widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    signed_by = forms.CharField(label="签收人", max_length=50, required=False)
    signer_relation = forms.CharField(label="签收人身份", max_length=20, required=False)
    reference = forms.CharField(label="单号/回执号", max_length=60, required=False)

    def __init__(self, *args, periods=(), **kwargs):
        from wuye.billing.models import StatementDelivery

        super().__init__(*args, **kwargs)
        self.fields["period"].widget.choices = [(p.isoformat(), f"{p:%Y-%m}") for p in periods]
        self.fields["method"].choices = StatementDelivery.Method.choices
        self.fields["delivered_on"].initial = timezone.localdate()
        bootstrap(self)


class PrepayTakeForm(forms.Form):
    """预缴优惠 at the desk: the offer, the amount received (must equal the quote), how it was paid."""

    offer = forms.TypedChoiceField(label=_("优惠方案"), coerce=int)
    amount = YuanField(label=_("实收金额（元）"))
    method = forms.ChoiceField(label=_("方式"), choices=PaymentMethod.choices, initial=PaymentMethod.CASH)
    payer_name = forms.CharField(label=_("付款人"), max_length=100, required=False)
    reference = forms.CharField(label=_("流水号/凭证号"), max_length=100, required=False)

    def __init__(self, *args, offers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["offer"].choices = [(o.pk, o.name) for o in offers]
        bootstrap(self)


class PrepayOfferForm(forms.Form):
    """A manager's pay-ahead offer."""

    name = forms.CharField(label=_("方案名称"), max_length=60)
    fee_item = forms.TypedChoiceField(label=_("收费项目"), coerce=int)
    months = forms.IntegerField(label=_("预缴月数"), min_value=1, max_value=36, initial=12)
    discount_percent = forms.DecimalField(label=_("优惠比例（%）"), max_digits=5, decimal_places=2, initial=5)
    valid_from = forms.DateField(label=_("办理起始日"),
                                 widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    valid_to = forms.DateField(label=_("办理截止日"),
                               widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, *args, fee_items=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fee_item"].choices = [(f.pk, f.name) for f in fee_items]
        bootstrap(self)


class BillingPolicyForm(forms.ModelForm):
    """A project's billing terms (收费政策); the bounds and cross-field rules live in ``billing.policy``."""

    class Meta:
        model = BillingPolicy
        fields = list(EDITABLE)

    def __init__(self, *args, cycle_locked: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if cycle_locked:
            for name in ("cycle_months", "anchor_month"):
                self.fields[name].disabled = True
                self.fields[name].help_text = _("已出账，账期不能再改。")
        bootstrap(self)
