"""Forms of the staff pages. They parse and validate; the services write."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from wuye.common.forms import bootstrap
from wuye.estate.choices import (
    ContactKind,
    ContactSource,
    ContactValidity,
    OccupancyState,
    OccupantRole,
    PartyKind,
)
from wuye.estate.importer import MOBILE_RE, parse_phone, resident_id_valid


class BootstrapMixin:
    def _style(self) -> None:
        bootstrap(self)


def _not_future(value: dt.date) -> dt.date:
    if value > timezone.localdate() + dt.timedelta(days=366):
        raise forms.ValidationError("日期过远，请核对。")
    return value


class UnitStateForm(BootstrapMixin, forms.Form):
    state = forms.ChoiceField(label="入住状态", choices=OccupancyState.choices)
    since = forms.DateField(label="起始日期", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    note = forms.CharField(label="说明", required=False, max_length=60)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["since"].initial = timezone.localdate()
        self._style()

    def clean_since(self):
        return _not_future(self.cleaned_data["since"])


class OccupancyForm(BootstrapMixin, forms.Form):
    """Record a new owner (transfer) or tenant of a unit: the person is found or created."""

    role = forms.ChoiceField(label="关系", choices=OccupantRole.choices)
    kind = forms.ChoiceField(label="类型", choices=PartyKind.choices, initial=PartyKind.PERSON)
    name = forms.CharField(label="姓名/名称", max_length=100)
    id_number = forms.CharField(label="证件号码", max_length=40, required=False)
    mobile = forms.CharField(label="手机号码", max_length=20, required=False)
    start = forms.DateField(label="起始日期", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start"].initial = timezone.localdate()
        self._style()

    def clean_mobile(self):
        value = self.cleaned_data["mobile"].strip().replace(" ", "")
        if value and not MOBILE_RE.match(value):
            raise forms.ValidationError("手机号码应为 11 位，以 1 开头。")
        return value

    def clean_id_number(self):
        value = self.cleaned_data["id_number"].strip().upper()
        if value and self.cleaned_data.get("kind") == PartyKind.PERSON and not resident_id_valid(value):
            raise forms.ValidationError("身份证号码无效（应为 18 位且校验位正确）。")
        return value

    def clean_start(self):
        return _not_future(self.cleaned_data["start"])


class ContactForm(BootstrapMixin, forms.Form):
    party = forms.TypedChoiceField(label="业户", coerce=int)
    kind = forms.ChoiceField(label="类型", choices=ContactKind.choices)
    value = forms.CharField(label="内容", max_length=300)
    label = forms.CharField(label="说明", max_length=50, required=False)
    source = forms.ChoiceField(label="来源", choices=[c for c in ContactSource.choices if c[0] != "seed"],
                               initial=ContactSource.COLLECTOR)

    def __init__(self, *args, parties=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["party"].choices = [(p.pk, p.name) for p in parties]
        self._style()

    def clean(self):
        data = super().clean()
        kind, value = data.get("kind"), (data.get("value") or "").strip()
        if kind in (ContactKind.MOBILE, ContactKind.LANDLINE):
            parsed = parse_phone(value)
            if parsed is None or parsed[0] != kind:
                self.add_error("value", "电话号码格式不正确（手机 11 位，固话如 0571-87654321）。")
            else:
                data["value"] = parsed[1]
        elif kind == ContactKind.EMAIL and "@" not in value:
            self.add_error("value", "电子邮箱格式不正确。")
        return data


class ContactValidityForm(BootstrapMixin, forms.Form):
    validity = forms.ChoiceField(label="有效性", choices=ContactValidity.choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()
