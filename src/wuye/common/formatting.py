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


def format_yuan(fen: int) -> str:
    """12345 → '¥123.45'; 123450000 → '¥1,234,500.00'; negatives as '-¥1.00'."""
    amount = fen_to_yuan(fen)
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"


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
