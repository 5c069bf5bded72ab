"""Forms of the insights pages (they only parse; the services check and write)."""

from __future__ import annotations

from django import forms

from wuye.billing.forms import YuanField
from wuye.insights.models import ExpenseCategory


class ExpenseForm(forms.Form):
    """One expense for the 收支公示: the amount in yuan with at most two decimals ("1.005" is refused, not
    rounded), within the shared bound; the service checks the rest (category, voucher, date)."""

    category = forms.ChoiceField(label="类别", choices=ExpenseCategory.choices,
                                 error_messages={"required": "请选择支出类别。", "invalid_choice": "请选择支出类别。"})
    amount = YuanField(label="金额（元）", error_messages={"required": "请填写金额。"})
    spent_on = forms.DateField(label="支出日期", error_messages={"required": "请填写支出日期。",
                                                             "invalid": "支出日期格式应为 YYYY-MM-DD。"})
    voucher_no = forms.CharField(label="凭证号", max_length=40, error_messages={
        "required": "请填写凭证号。", "max_length": "凭证号不能超过 40 个字符。"})
    note = forms.CharField(label="摘要", max_length=200, required=False,
                           error_messages={"max_length": "摘要不能超过 200 字。"})
