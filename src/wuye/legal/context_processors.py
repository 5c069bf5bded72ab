"""The legal module's sidebar badge: how many 期限提醒 wait for the user (decision 187)."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from wuye.legal.permissions import can_legal


def legal_badges(request):
    """``legal_notices``: the user's unread reminders on open deadlines of cases they may see — one COUNT, run only
    when a template shows it (the sidebar of a legal user), never for other roles."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not can_legal(user):
        return {}
    from wuye.legal.selectors import notices_waiting

    return {"legal_notices": SimpleLazyObject(lambda: notices_waiting(user).count())}
