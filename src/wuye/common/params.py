"""Query parameters, parsed in one place: every number and date a page or an endpoint reads from the query
string goes through these, so ``?building=9223372036854775808``, ``?project=1e30`` or ``?date=2026-13-45``
is a 400 with a Chinese message naming the parameter — never a 500, never a raw string in a query.

Pages: a ``BadParameter`` is a ``django.core.exceptions.BadRequest``; ``wuye.common.views.bad_request`` shows
its message. API: the one exception handler (``wuye.common.api.exception_handler``) answers it as
``{"error": {"code": "invalid_parameter", "message", "fields": {name: [message]}}}``. FilterSets get the same
bounds from ``BoundedFilterSet`` (pages and API share them).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import BadRequest

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
# Amounts, areas and other decimals a query may carry: far above any real value, far below what overflows.
DECIMAL_LIMIT = Decimal(10) ** 15
DATE_MIN, DATE_MAX = dt.date(1900, 1, 1), dt.date(2100, 12, 31)
# A floor of a building: ten levels underground to the tallest towers (the estate import, territories, filters).
FLOOR_MIN, FLOOR_MAX = -10, 200
_INT = re.compile(r"[+-]?[0-9]{1,19}")  # ASCII only: "²", "١٢" and "１２" are not ids


class BadParameter(BadRequest):
    """A query parameter that is not what the page or endpoint takes (→ 400)."""

    def __init__(self, name: str, message: str):
        self.name, self.message = name, message
        super().__init__(f"参数 {name}：{message}")


def _raw(params, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def int_param(params, name: str, default: int | None = None, *, min_value: int = BIGINT_MIN,
              max_value: int = BIGINT_MAX) -> int | None:
    """An integer within [min_value, max_value] (64-bit by default); absent or blank → ``default``."""
    raw = _raw(params, name)
    if raw is None:
        return default
    if not _INT.fullmatch(raw):
        raise BadParameter(name, "应为整数。")
    value = int(raw)
    if value < min_value or value > max_value:
        raise BadParameter(name, f"超出范围（{min_value}–{max_value}）。")
    return value


def id_param(params, name: str, default: int | None = None) -> int | None:
    """A record id: a positive 64-bit integer."""
    return int_param(params, name, default, min_value=1)


def id_or_none(raw) -> int | None:
    """A record id typed into a form or a list of ticks, or None for anything that is not one — for the places
    that skip a bad value instead of refusing the request. ASCII digits only (``str.isdigit()`` is True for "²",
    which ``int()`` refuses), within a positive 64-bit integer."""
    raw = str(raw if raw is not None else "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        return None
    value = int(raw)
    return value if 0 < value <= BIGINT_MAX else None


def decimal_param(params, name: str, default: Decimal | None = None, *, limit: Decimal = DECIMAL_LIMIT
                  ) -> Decimal | None:
    raw = _raw(params, name)
    if raw is None:
        return default
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise BadParameter(name, "应为数字。") from exc
    if not value.is_finite() or abs(value) >= limit:
        raise BadParameter(name, "超出范围。")
    return value


def date_param(params, name: str, default: dt.date | None = None) -> dt.date | None:
    """A date written YYYY-MM-DD between 1900 and 2100."""
    raw = _raw(params, name)
    if raw is None:
        return default
    try:
        value = dt.date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        value = None
    if value is None:
        raise BadParameter(name, "日期格式应为 YYYY-MM-DD。")
    if not DATE_MIN <= value <= DATE_MAX:
        raise BadParameter(name, "日期应在 1900–2100 年之间。")
    return value


def choice_param(params, name: str, choices, default: str = "") -> str:
    """One of ``choices`` (values); absent → ``default``."""
    raw = _raw(params, name)
    if raw is None:
        return default
    if raw not in set(choices):
        raise BadParameter(name, "不是可选的值。")
    return raw
