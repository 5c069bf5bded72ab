from django import template

from wuye.common import formatting

register = template.Library()


@register.filter
def yuan(fen):
    """{{ amount_fen|yuan }} → ¥1,234.50"""
    if fen in (None, ""):
        return ""
    return formatting.format_yuan(int(fen))


@register.filter
def with_unit(text, code):
    """{{ point.body|with_unit:unit.code }}: a talking point's {房号} filled with the unit's code."""
    return str(text or "").replace("{房号}", str(code or "")) if code else text


@register.filter
def phone_mask(value):
    return formatting.mask_phone(value)


@register.simple_tag(takes_context=True)
def querystring_with(context, **kwargs):
    """Current query string with some parameters replaced (for pagination links)."""
    params = context["request"].GET.copy()
    for key, value in kwargs.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def verb_text(verb):
    """{{ event.verb|verb_text }}: an audit key in Chinese (``dunning.task_done`` → 完成催缴任务)."""
    from wuye.common.labels import verb_label

    return verb_label(verb)


@register.filter
def who(value):
    """{{ x.created_by|default:x.actor_label|who }}: a user, or a job/owner label in words (never ``job:demo``)."""
    from wuye.common.labels import actor_label

    return actor_label(value)


@register.filter
def keep_dates(text):
    """{{ message|keep_dates }}: a sentence written by the code, escaped, its dates never split at the hyphen."""
    return formatting.keep_dates(text)


@register.simple_tag
def once_field():
    """{% once_field %} inside a form that records something: a fresh one-time key, so a second copy of the
    same submission (a double-click, a resend) records nothing (``wuye.common.once``)."""
    from django.utils.html import format_html

    from wuye.common.once import FIELD, new_key

    return format_html('<input type="hidden" name="{}" value="{}">', FIELD, new_key())


@register.simple_tag
def once_key():
    """{% once_key as key %}: a fresh one-time key for a request that is not a form (htmx ``hx-vals``)."""
    from wuye.common.once import new_key

    return new_key()
