"""Form helpers shared by every app's staff pages."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError


def bootstrap(form: forms.Form) -> None:
    """Give each widget its Bootstrap 5 class (small controls)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select form-select-sm")
        elif not isinstance(widget, forms.CheckboxSelectMultiple):
            widget.attrs.setdefault("class", "form-control form-control-sm")


def form_errors_text(form: forms.Form) -> str:
    """「字段：问题」 for each invalid field, as one line for a message."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        parts.append(f"{label}：{'，'.join(errors)}" if label else "，".join(errors))
    return "；".join(parts)


def validation_errors_text(exc: ValidationError) -> str:
    """A service's ValidationError as one line for a message."""
    if hasattr(exc, "message_dict"):
        return "；".join(m for ms in exc.message_dict.values() for m in ms)
    return "；".join(exc.messages)
