"""Forms of the casework pages (they parse and validate; the services write)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms

from wuye.casework.choices import (
    VISIT_OUTCOMES,
    ContactChannel,
    DisputeReason,
    Outcome,
    Relationship,
    WorkOrderStatus,
)
from wuye.common.formatting import yuan_to_fen
from wuye.common.forms import bootstrap
from wuye.common.params import FLOOR_MAX, FLOOR_MIN
from wuye.dunning.choices import AccountClass

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class YuanField(forms.DecimalField):
    """An amount in yuan typed by a person, returned as integer fen."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", Decimal("0.01"))
        kwargs.setdefault("error_messages", {"invalid": "请输入金额（元），最多两位小数。",
                                             "max_decimal_places": "金额最多两位小数。",
                                             "min_value": "金额必须大于 0。"})
        super().__init__(**kwargs)

    def clean(self, value):
        amount = super().clean(value)
        if amount is None:
            return None
        try:
            return yuan_to_fen(amount)
        except (InvalidOperation, ValueError) as exc:
            raise forms.ValidationError("请输入金额（元）。") from exc


class ContactForm(forms.Form):
    channel = forms.ChoiceField(label="联系方式", choices=ContactChannel.choices, initial=ContactChannel.CALL)
    on = forms.DateField(label="联系日期", required=False, widget=DATE,
                         help_text="默认今天；补记前几天的联系时填写，不能是将来的日期。",
                         error_messages={"invalid": "联系日期格式应为 YYYY-MM-DD。"})
    contact_point = forms.TypedChoiceField(label="所拨号码", required=False, coerce=int, empty_value=None)
    outcome = forms.ChoiceField(label="联系结果", choices=[("", "请选择")] + [
        (v, label) for v, label in Outcome.choices if v not in VISIT_OUTCOMES and v != Outcome.UNDONE],
        error_messages={"required": "请选择联系结果。"})
    reason = forms.ChoiceField(label="拒交/争议原因", required=False, choices=[("", "—")] + DisputeReason.choices)
    promised_on = forms.DateField(label="承诺缴费日期", required=False, widget=DATE,
                                  error_messages={"invalid": "承诺缴费日期格式应为 YYYY-MM-DD。"})
    amount_fen = YuanField(label="承诺金额（元）", required=False)
    hold_until = forms.DateField(label="争议暂停催缴至", required=False, widget=DATE,
                                 error_messages={"invalid": "暂停截止日期格式应为 YYYY-MM-DD。"})
    developer_warranty = forms.BooleanField(label="属开发商保修", required=False)
    bill_ids = forms.TypedMultipleChoiceField(
        label="争议的账单", required=False, coerce=int, widget=forms.CheckboxSelectMultiple,
        help_text="只勾选业主有异议的账单，争议期间这些账单不计违约金；都不勾选即为全部未缴账单。",
        error_messages={"invalid_choice": "所选账单不是本户未缴的账单，请刷新页面后重选。"})
    installments = forms.IntegerField(label="分期数", required=False, min_value=2, max_value=24,
                                      error_messages={"min_value": "分期数至少 2 期。", "max_value": "分期数最多 24 期。",
                                                      "invalid": "分期数应为整数。"})
    note = forms.CharField(label="备注", required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                           error_messages={"max_length": "备注不能超过 500 字。"})
    follow_up_on = forms.DateField(label="下次跟进日期", required=False, widget=DATE,
                                   error_messages={"invalid": "下次跟进日期格式应为 YYYY-MM-DD。"})
    task = forms.IntegerField(required=False, widget=forms.HiddenInput)
    corrects = forms.IntegerField(required=False, widget=forms.HiddenInput)

    # fields that matter only for some outcomes: the page shows them when one of those outcomes is chosen
    # (static/wuye/contact_form.js; without the script every field stays visible)
    SHOW_FOR = {
        "promised_on": "promised", "amount_fen": "promised",
        "reason": "refused dispute", "hold_until": "refused dispute", "developer_warranty": "refused dispute",
        "bill_ids": "refused dispute",
        "installments": "installment",
    }

    def __init__(self, *args, phones=(), today=None, bills=(), **kwargs):
        super().__init__(*args, **kwargs)
        for name, outcomes in self.SHOW_FOR.items():
            self.fields[name].show_for = outcomes
        if bills is not None:  # None: not read (a post that ticks none); ``set_bills`` before drawing the form
            self.set_bills(bills)
        self.fields["contact_point"].choices = [("", "首选号码" if phones else "—")] + list(phones)
        if today is not None:  # the date pickers offer no impossible dates
            self.fields["on"].widget.attrs["max"] = today.isoformat()
            for name in ("promised_on", "follow_up_on", "hold_until"):
                self.fields[name].widget.attrs["min"] = today.isoformat()
        bootstrap(self)


    def set_bills(self, bills) -> None:
        """The debtor's open lines to tick: (id, "2026年3月 物业服务费 未缴 ¥179.00"); no field when there are none."""
        if "bill_ids" in self.fields:
            if bills:
                self.fields["bill_ids"].choices = list(bills)
            else:
                del self.fields["bill_ids"]


class VisitForm(forms.Form):
    """上门记录 — what was found at the door; no dialled number (nothing is dialled on a visit)."""

    outcome = forms.ChoiceField(label="上门结果", widget=forms.RadioSelect,
                                choices=[(o.value, o.label) for o in VISIT_OUTCOMES],
                                error_messages={"required": "请选择上门结果。"})
    person_met = forms.CharField(label="见到的人", required=False, max_length=50,
                                 help_text="姓名或称呼，如“王先生”“业主母亲”。",
                                 error_messages={"max_length": "见到的人不能超过 50 字。"})
    relationship = forms.ChoiceField(label="与业主关系", required=False, choices=[("", "—")] + Relationship.choices)
    photo = forms.FileField(label="照片（张贴/塞门的通知、门牌）", required=False,
                            widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png",
                                                                   "capture": "environment",
                                                                   "class": "visually-hidden"}))
    on = forms.DateField(label="上门日期", required=False, widget=DATE,
                         error_messages={"invalid": "上门日期格式应为 YYYY-MM-DD。"})
    follow_up_on = forms.DateField(label="下次跟进日期", required=False, widget=DATE,
                                   error_messages={"invalid": "下次跟进日期格式应为 YYYY-MM-DD。"})
    note = forms.CharField(label="备注", required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                           error_messages={"max_length": "备注不能超过 500 字。"})
    task = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, today=None, **kwargs):
        super().__init__(*args, **kwargs)
        if today is not None:
            self.fields["on"].widget.attrs["max"] = today.isoformat()
            self.fields["follow_up_on"].widget.attrs["min"] = today.isoformat()
        bootstrap(self)
        self.fields["outcome"].widget.attrs.pop("class", None)


class ClassForm(forms.Form):
    account_class = forms.ChoiceField(label="催缴分类", choices=[("", "请选择")] + AccountClass.choices,
                                      error_messages={"required": "请选择催缴分类。"})
    reason = forms.CharField(label="调整原因", max_length=200, error_messages={"required": "请填写调整原因。"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        bootstrap(self)


class ResolveForm(forms.Form):
    note = forms.CharField(label="处理结果", max_length=500, error_messages={"required": "请填写处理结果。"})


class WorkOrderForm(forms.Form):
    title = forms.CharField(label="工单事项", max_length=200, error_messages={"required": "请填写工单事项。"})
    due_on = forms.DateField(label="要求完成日期", widget=DATE,
                             error_messages={"required": "请填写要求完成日期。", "invalid": "日期格式应为 YYYY-MM-DD。"})
    detail = forms.CharField(label="说明", max_length=500, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        bootstrap(self)


class WorkOrderUpdateForm(forms.Form):
    status = forms.ChoiceField(label="状态", choices=WorkOrderStatus.choices)
    note = forms.CharField(label="说明", max_length=500, required=False)


class TalkingPointForm(forms.Form):
    title = forms.CharField(label="要点", max_length=60, error_messages={"required": "请填写要点。"})
    body = forms.CharField(label="话术", widget=forms.Textarea(attrs={"rows": 3}),
                           error_messages={"required": "请填写话术内容。"})
    account_class = forms.ChoiceField(label="适用分类", required=False, choices=[("", "通用")] + AccountClass.choices)
    reason = forms.ChoiceField(label="适用原因", required=False, choices=[("", "不限")] + DisputeReason.choices)
    sort = forms.IntegerField(label="排序", min_value=0, max_value=32000, initial=100)
    active = forms.BooleanField(label="启用", required=False, initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        bootstrap(self)


class WorklistFilter(forms.Form):
    date = forms.DateField(label="日期", required=False, widget=DATE)
    collector = forms.TypedChoiceField(label="收费员", required=False, coerce=int, empty_value=None)
    building = forms.TypedChoiceField(label="楼栋", required=False, coerce=int, empty_value=None)
    floor_from = forms.IntegerField(label="起始楼层", required=False, min_value=FLOOR_MIN, max_value=FLOOR_MAX)
    floor_to = forms.IntegerField(label="结束楼层", required=False, min_value=FLOOR_MIN, max_value=FLOOR_MAX)
    account_class = forms.ChoiceField(label="分类", required=False, choices=[("", "全部分类")] + AccountClass.choices)
    min_fen = YuanField(label="欠费至少（元）", required=False)

    def __init__(self, *args, collectors=(), buildings=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collector"].choices = [("", "—")] + list(collectors)
        self.fields["building"].choices = [("", "全部楼栋")] + list(buildings)
        bootstrap(self)


class ApprovalFilterForm(forms.Form):
    """The approvals page's filters: project, kind, amount range (元) and the collector who asked."""

    project = forms.TypedChoiceField(label="项目", required=False, coerce=int, empty_value=None)
    kind = forms.ChoiceField(label="类型", required=False)
    min_fen = YuanField(label="金额不低于（元）", required=False)
    max_fen = YuanField(label="金额不高于（元）", required=False)
    collector = forms.TypedChoiceField(label="申请人/经办人", required=False, coerce=int, empty_value=None)

    def __init__(self, *args, projects=(), kinds=(), people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", "全部项目")] + list(projects)
        self.fields["kind"].choices = [("", "全部类型")] + list(kinds)
        self.fields["collector"].choices = [("", "全部人员")] + list(people)
        bootstrap(self)

    def clean(self):
        data = super().clean()
        low, high = data.get("min_fen"), data.get("max_fen")
        if low is not None and high is not None and low > high:
            self.add_error("max_fen", "上限不能低于下限。")
        return data
