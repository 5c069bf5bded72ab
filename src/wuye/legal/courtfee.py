"""Court fees (诉讼费用交纳办法, 国务院令第 481 号) — a pure calculator, amounts in fen.

- 案件受理费 of a property case (art. 13(1)), by the amount claimed, cumulated band by band:
  up to ¥10,000 ¥50 flat; ¥10,000–100,000 2.5 %; –200,000 2 %; –500,000 1.5 %; –1,000,000 1 %;
  –2,000,000 0.9 %; –5,000,000 0.8 %; –10,000,000 0.7 %; –20,000,000 0.6 %; above 0.5 %.
- 支付令 申请费 (art. 14(3)): one third of that fee.
- 简易程序 (art. 16) and a case ended by mediation or withdrawal (art. 15): half of the 案件受理费.
- 执行申请费 (art. 14(1)): up to ¥10,000 ¥50; ¥10,000–500,000 1.5 %; –5,000,000 1 %; –10,000,000 0.5 %;
  above 0.1 %.
Each result is rounded once to the fen, half away from zero (``common.formatting.round_fen``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from wuye.common.formatting import format_yuan, round_fen

YUAN = 100
# (upper bound of the band in fen or None, rate) — the first band is a flat fee
PROPERTY_BANDS: tuple[tuple[int | None, Decimal], ...] = (
    (100_000 * YUAN, Decimal("0.025")),
    (200_000 * YUAN, Decimal("0.02")),
    (500_000 * YUAN, Decimal("0.015")),
    (1_000_000 * YUAN, Decimal("0.01")),
    (2_000_000 * YUAN, Decimal("0.009")),
    (5_000_000 * YUAN, Decimal("0.008")),
    (10_000_000 * YUAN, Decimal("0.007")),
    (20_000_000 * YUAN, Decimal("0.006")),
    (None, Decimal("0.005")),
)
ENFORCEMENT_BANDS: tuple[tuple[int | None, Decimal], ...] = (
    (500_000 * YUAN, Decimal("0.015")),
    (5_000_000 * YUAN, Decimal("0.01")),
    (10_000_000 * YUAN, Decimal("0.005")),
    (None, Decimal("0.001")),
)
FLAT_BAND = 10_000 * YUAN
FLAT_FEE = 50 * YUAN

KINDS = {
    "lawsuit": "诉讼（普通程序）案件受理费",
    "summary": "诉讼（简易程序）案件受理费（减半）",
    "mediated": "调解结案或撤诉（减半）",
    "payment_order": "支付令申请费（受理费的三分之一）",
    "enforcement": "执行申请费",
}


@dataclass(frozen=True)
class Fee:
    kind: str
    claim_fen: int
    fee_fen: int
    explanation: str


def _banded(claim_fen: int, bands) -> tuple[Decimal, list[str]]:
    if claim_fen <= FLAT_BAND:
        return Decimal(FLAT_FEE), [f"不超过 1 万元部分 {format_yuan(FLAT_FEE)}"]
    total, parts, lower = Decimal(FLAT_FEE), [f"1 万元以下 {format_yuan(FLAT_FEE)}"], FLAT_BAND
    for upper, rate in bands:
        top = claim_fen if upper is None else min(claim_fen, upper)
        if top <= lower:
            break
        part = Decimal(top - lower) * rate
        total += part
        parts.append(f"{format_yuan(lower)}～{format_yuan(top)} × {rate * 100:.1f}% = {format_yuan(round_fen(part))}")
        lower = top
        if upper is None or claim_fen <= upper:
            break
    return total, parts


def court_fee(claim_fen: int, kind: str = "lawsuit") -> Fee:
    """The fee for claiming ``claim_fen``: ``lawsuit`` (普通程序), ``summary`` (简易程序, halved), ``mediated``
    (mediation or withdrawal, halved), ``payment_order`` (1/3), ``enforcement`` (执行申请费)."""
    if kind not in KINDS:
        raise ValueError(f"未知的费用类型：{kind}")
    if isinstance(claim_fen, bool) or not isinstance(claim_fen, int) or claim_fen <= 0:
        raise ValueError("请求金额必须是大于 0 的整数（分）。")
    if kind == "enforcement":
        raw, parts = _banded(claim_fen, ENFORCEMENT_BANDS)
        factor, note = Decimal(1), ""
    else:
        raw, parts = _banded(claim_fen, PROPERTY_BANDS)
        factor, note = {"lawsuit": (Decimal(1), ""), "summary": (Decimal("0.5"), "；简易程序减半"),
                        "mediated": (Decimal("0.5"), "；调解或撤诉减半"),
                        "payment_order": (Decimal(1) / Decimal(3), "；支付令按三分之一")}[kind]
    fee = round_fen(raw * factor)
    text = f"{KINDS[kind]}：请求 {format_yuan(claim_fen)}；" + "，".join(parts) + note + f" → {format_yuan(fee)}"
    return Fee(kind, claim_fen, fee, text)
