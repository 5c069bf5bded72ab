"""Chinese display conventions written once: amounts, phone and ID masks, dates."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

_DIGITS = re.compile(r"\D")


def fen_to_yuan(fen: int) -> Decimal:
    """Integer fen → Decimal yuan with two places (exact)."""
    return (Decimal(int(fen)) / 100).quantize(Decimal("0.01"))


def yuan_to_fen(value: Decimal | str | int) -> int:
    """Decimal/str yuan → integer fen, half-up on the third decimal. Never accepts float."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    return int((Decimal(str(value)) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def round_fen(fen: Decimal) -> int:
    """The one rounding rule for money: a Decimal number of fen → integer fen, half away from zero."""
    return int(Decimal(fen).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


_DIGIT_UPPER = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ["", "拾", "佰", "仟"]
_BIG_UNITS = ["", "万", "亿", "万亿"]


def rmb_upper(fen: int) -> str:
    """Amount in Chinese capitals for receipts: 123450 → 人民币壹仟贰佰叁拾肆元伍角整."""
    if fen < 0:
        return "负" + rmb_upper(-fen)
    yuan, rest = divmod(int(fen), 100)
    jiao, cents = divmod(rest, 10)
    words = ""
    if yuan:
        groups = []
        n = yuan
        while n:
            n, g = divmod(n, 10_000)
            groups.append(g)
        zero_pending = False
        for idx in range(len(groups) - 1, -1, -1):
            g = groups[idx]
            if g == 0:
                zero_pending = bool(words)
                continue
            if words and (zero_pending or g < 1000):
                words += "零"
            zero_pending = False
            part, inner_zero = "", False
            for pos in range(3, -1, -1):
                d = g // (10 ** pos) % 10
                if d == 0:
                    inner_zero = bool(part)
                    continue
                if inner_zero:
                    part += "零"
                    inner_zero = False
                part += _DIGIT_UPPER[d] + _SMALL_UNITS[pos]
            words += part + _BIG_UNITS[idx]
        words += "元"
    if not jiao and not cents:
        return "人民币" + (words or "零元") + "整"
    if jiao:
        words += _DIGIT_UPPER[jiao] + "角"
    elif words:
        words += "零"
    if cents:
        words += _DIGIT_UPPER[cents] + "分"
    else:
        words += "整"
    return "人民币" + words


def format_yuan(fen: int) -> str:
    """12345 → '¥123.45'; 123450000 → '¥1,234,500.00'; negatives as '-¥1.00'."""
    amount = fen_to_yuan(fen)
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"


# The largest amount anyone may enter, in fen: ¥999,999,999,999.99 ("最多 12 位整数" in yuan) — far above any
# fee, payment, case cost, judgment or expense, far below a 64-bit column (10**19 was a 500 before this bound).
AMOUNT_MAX_FEN = 10**14 - 1
AMOUNT_TOO_LARGE = "金额超出范围（不能超过 ¥999,999,999,999.99）。"


def amount_too_large(amount_fen) -> bool:
    """An integer amount (fen) past ``AMOUNT_MAX_FEN`` either way; for the services' own checks."""
    return isinstance(amount_fen, int) and not isinstance(amount_fen, bool) and abs(amount_fen) > AMOUNT_MAX_FEN


def mask_phone(value: str | None) -> str:
    """13812345678 → 138****5678. Landlines keep area code and last four digits."""
    if not value:
        return ""
    digits = _DIGITS.sub("", value)
    if len(digits) == 11 and digits.startswith("1"):
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}" if len(digits) < 11 else f"{digits[:4]}****{digits[-4:]}"
    return "****"


def mask_id_number(value: str | None) -> str:
    """Resident ID 110101199003071234 → 1101**********1234; anything else keeps 2+2 characters."""
    if not value:
        return ""
    value = value.strip()
    if len(value) >= 15:
        return value[:4] + "*" * (len(value) - 8) + value[-4:]
    if len(value) > 4:
        return value[:2] + "*" * (len(value) - 4) + value[-2:]
    return "*" * len(value)


def mask_email(value: str | None) -> str:
    if not value or "@" not in value:
        return value or ""
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_text(value: str | None, keep: int = 6) -> str:
    """Addresses and openids: keep the first characters, hide the rest."""
    if not value:
        return ""
    return value[:keep] + "****" if len(value) > keep else "****"


# A date (2026-12-05, 2026-12) in a sentence the code wrote, outside any tag of the text's own markup.
_DATE_IN_TEXT = re.compile(r"(<[^>]*>)|(?<![\d-])(\d{4}-\d{2}(?:-\d{2})?)(?![\d-])")


def keep_dates(text) -> str:
    """``text`` for a page, escaped (unless already safe HTML), with every date in it — ``2026-12-05``,
    ``2026-12`` — in a ``text-nowrap`` span, so that a sentence written in Python (a message after a form, a
    late fee's calculation, a limitation clock's) may wrap between its words but never splits a date at its
    hyphen on a phone (decision 173). Plain text stays plain everywhere else (PDFs, the API, the audit log)."""
    from django.utils.html import conditional_escape
    from django.utils.safestring import mark_safe

    if text is None:
        return ""
    text = getattr(text, "message", text)  # a flash message: its text (safe HTML stays safe)
    escaped = str(conditional_escape(text))
    return mark_safe(_DATE_IN_TEXT.sub(  # noqa: S308 — the text is escaped above; only our span is added
        lambda m: m.group(1) or f'<span class="text-nowrap">{m.group(2)}</span>', escaped))
