"""Forms of the legal pages (they only parse; the services check and write)."""

from __future__ import annotations

from django import forms

from wuye.common.formatting import AMOUNT_TOO_LARGE, yuan_to_fen
from wuye.common.forms import bootstrap
from wuye.dunning.choices import MAIL_SIGNER_RELATIONS, SIGNER_RELATIONS, Channel
from wuye.legal.choices import CostKind, DeadlineKind, Event, Mediator, Outcome, ProofKind

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class _Bootstrapped(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        bootstrap(self)


class MoneyField(forms.DecimalField):
    """Yuan as typed, fen as cleaned."""

    def __init__(self, **kwargs):
        kwargs["error_messages"] = {"invalid": "请输入金额（元），最多两位小数。", "max_whole_digits": AMOUNT_TOO_LARGE,
                                    "max_digits": AMOUNT_TOO_LARGE, "max_decimal_places": "金额最多两位小数。",
                                    "min_value": "金额不能为负数。", **kwargs.get("error_messages", {})}
        super().__init__(max_digits=14, decimal_places=2, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        return None if value is None else yuan_to_fen(value)


class CaseOpenForm(_Bootstrapped):
    project = forms.ModelChoiceField(label="项目", queryset=None)
    unit_code = forms.CharField(label="房号", max_length=60, help_text="按房号找到欠费的业户（按账期的缴费责任人）。")
    note = forms.CharField(label="备注", max_length=500, required=False)

    def __init__(self, *args, projects, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = projects


class EventForm(_Bootstrapped):
    event = forms.ChoiceField(label="事项", choices=[(v, lbl) for v, lbl in Event.choices if v != Event.OPENED])
    on = forms.DateField(label="日期", widget=DATE)
    note = forms.CharField(label="说明", max_length=500, required=False)
    law_firm = forms.CharField(label="律师事务所", max_length=100, required=False)
    lawyer_name = forms.CharField(label="律师姓名", max_length=50, required=False)
    lawyer_licence = forms.CharField(label="律师执业证号", max_length=40, required=False)
    court = forms.CharField(label="法院", max_length=100, required=False)
    docket_no = forms.CharField(label="案号", max_length=60, required=False)
    mediator = forms.ChoiceField(label="调解组织", choices=[("", "—")] + list(Mediator.choices), required=False)
    amount = MoneyField(label="判决/调解金额（元）", required=False)
    due_on = forms.DateField(label="履行期限届满日", widget=DATE, required=False,
                             help_text="判决/调解书写明具体日期时填写；“生效之日起 N 日内”的，登记判决生效时填写。")
    served_on = forms.DateField(label="判决书送达日期", widget=DATE, required=False,
                                help_text="登记判决时已收到判决书的填写；上诉期自送达之日起算。")
    outcome = forms.ChoiceField(label="结案方式", choices=[("", "—")] + list(Outcome.choices), required=False)
    document = forms.FileField(label="律所出具的律师函 PDF", required=False)


class DeadlineForm(_Bootstrapped):
    kind = forms.ChoiceField(label="类型", choices=DeadlineKind.choices)
    due_on = forms.DateField(label="期限", widget=DATE)
    remind_days = forms.IntegerField(label="提前提醒（天）", min_value=0, max_value=90, initial=7)
    note = forms.CharField(label="说明", max_length=300, required=False)


class OwnerForm(_Bootstrapped):
    owner = forms.ModelChoiceField(label="承办人", queryset=None, empty_label="请选择")
    note = forms.CharField(label="说明", max_length=300, required=False)

    def __init__(self, *args, project_id: int, **kwargs):
        from wuye.legal.selectors import owners_for

        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners_for(project_id)


class CostForm(_Bootstrapped):
    kind = forms.ChoiceField(label="类型", choices=CostKind.choices)
    amount = MoneyField(label="金额（元）", min_value=0)
    on = forms.DateField(label="支付日期", widget=DATE)
    note = forms.CharField(label="说明", max_length=300, required=False)


class ProofForm(_Bootstrapped):
    kind = forms.ChoiceField(label="凭证类型", choices=ProofKind.choices)
    tracking_no = forms.CharField(label="邮件单号", max_length=40, required=False)
    signed_by = forms.CharField(label="签收人", max_length=50, required=False)
    relation = forms.ChoiceField(label="签收人身份", required=False,
                                 choices=[("", "请选择")] + [(r, r) for r in MAIL_SIGNER_RELATIONS],
                                 help_text="书面通知须由本人、同住成年家属、受托人或单位指定人员签收；"
                                           "邮件送达收件地址即可。")

    def for_channel(self, channel: str) -> ProofForm:
        """A hand-delivered notice offers only the signers that count as reaching the debtor (decision 131)."""
        if channel != Channel.REGISTERED:
            self.fields["relation"].choices = [("", "请选择")] + [(r, r) for r in SIGNER_RELATIONS]
        return self
    signed_on = forms.DateField(label="签收日期", widget=DATE, required=False)
    delivered = forms.BooleanField(label="凭证证明已送达", required=False, initial=True)
    file = forms.FileField(label="凭证文件（JPG、PNG 或 PDF）",
                           widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,application/pdf"}))


class TemplateForm(_Bootstrapped):
    title = forms.CharField(label="标题", max_length=60)
    body = forms.CharField(label="正文", widget=forms.Textarea(attrs={"rows": 18}))


class CourtFeeForm(_Bootstrapped):
    amount = MoneyField(label="请求金额（元）", min_value=0)
    kind = forms.ChoiceField(label="类型", choices=[
        ("lawsuit", "诉讼（普通程序）"), ("summary", "诉讼（简易程序）"), ("mediated", "调解结案或撤诉"),
        ("payment_order", "支付令申请"), ("enforcement", "申请执行")])
