from django import forms
from django.conf import settings
from django.db.models import Q

from wuye.common.formatting import fen_to_yuan
from wuye.dunning.choices import HoldKind
from wuye.dunning.ladders import STEP_FIELDS
from wuye.dunning.models import MessageTemplate, Step


class StepForm(forms.ModelForm):
    amount_yuan = forms.DecimalField(label="欠费金额达到（元）", required=False, min_value=0, decimal_places=2)

    class Meta:
        model = Step
        fields = ["order", "name", "kind", "days", "months", "event", "repeat_days", "channel", "template",
                  "assignee", "account_class", "min_risk_pct", "prefer_month_edge_days", "active"]

    def __init__(self, *args, project_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.amount_fen:
            self.fields["amount_yuan"].initial = fen_to_yuan(self.instance.amount_fen)
        # the company's templates and this project's own: never another project's (``Step.clean`` checks it too)
        project_id = project_id or (self.instance.policy.project_id if self.instance.policy_id else None)
        self.fields["template"].queryset = MessageTemplate.objects.filter(
            Q(project__isnull=True) | Q(project_id=project_id)).order_by("code")

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == "pre_due" and (data.get("days") is None or data["days"] >= 0):
            self.add_error("days", "到期前提醒的天数应为负数，如 -15。")
        if kind == "event" and not data.get("event"):
            self.add_error("event", "请选择事件。")
        if kind == "after_previous" and not data.get("days"):
            self.add_error("days", "请填写距上一步的天数。")
        if kind == "overdue" and data.get("days") is None and not data.get("months") and not data.get("amount_yuan"):
            self.add_error("days", "逾期阈值至少填写天数、月数、金额之一。")
        if data.get("min_risk_pct"):
            if kind != "pre_due":
                self.add_error("min_risk_pct", "按预警风险筛选只适用于到期前提醒。")
            elif not getattr(settings, "WUYE_RISK_SCORES", ""):
                self.add_error("min_risk_pct", "未启用预警评分（WUYE_RISK_SCORES），不能按风险筛选。")
        template = data.get("template")
        if template and template.channel != data.get("channel"):
            self.add_error("template", "模板的渠道与步骤的渠道不一致。")
        return data

    def save(self, commit=True):
        step = super().save(commit=False)
        yuan = self.cleaned_data.get("amount_yuan")
        step.amount_fen = int(yuan * 100) if yuan else None
        if commit:
            step.save()
        return step


def steps_from_formset(formset) -> list[dict]:
    """A validated step formset as the plain data ``services.policy_save`` takes."""
    out = []
    for form in formset.forms:
        if not form.has_changed() and form.instance.pk is None:
            continue  # the blank extra row
        data = {"id": form.instance.pk} if form.instance.pk else {}
        if formset.can_delete and form.cleaned_data.get("DELETE"):
            if form.instance.pk:
                out.append({**data, "delete": True})
            continue
        step = form.save(commit=False)  # fills amount_fen from the yuan field; nothing is written
        out.append({**data, **{f: getattr(step, f) for f in STEP_FIELDS}})
    return out


class TemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["subject", "body", "provider_template_id"]
        widgets = {"body": forms.Textarea(attrs={"rows": 5})}

    # The guardrails run in ``MessageTemplate.clean`` (called by the model form's validation), so each
    # refused phrase is shown under its field with the reason and the legal basis.


class HoldForm(forms.Form):
    kind = forms.ChoiceField(label="类型", choices=HoldKind.choices)
    until = forms.DateField(label="截止日期", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                            help_text="承诺缴费日或暂停结束日。")
    reason = forms.CharField(label="原因", max_length=300)
