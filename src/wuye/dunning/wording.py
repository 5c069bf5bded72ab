"""What a demand's text says about money: the placeholders filled from a document's figures
(``billing.figures``), and no 违约金 without a late-fee clause.

Placeholders from the figures: ``{amount}`` 应缴合计 (unpaid matured principal and charged unpaid 违约金 of this
debtor), ``{principal}`` 欠费本金, ``{late_fee}`` the charged unpaid 违约金 (empty when there is none), ``{months}``
the number of periods named, ``{oldest_due}`` the oldest unpaid due date, ``{late_fee_rate}`` the contract's daily
rate (“0.5‰”; empty without a late-fee clause). A bracketed part holding an empty placeholder is left out
(``dispatch.render``), so ``[逾期按合同约定每日 {late_fee_rate} 计收违约金。]`` is said only where the contract says so.

Without a clause (``late_fee_per_mille = 0``) a text must not speak of 违约金 at all (民法典 585: a threat of a
charge the contract does not provide is misleading). Templates edited by hand may still carry such a sentence:
``drop_late_fee`` removes every clause that mentions it, so the rule holds whatever a template says.
"""

from __future__ import annotations

import datetime as dt
import re

from wuye.billing.figures import Figures
from wuye.common.formatting import format_yuan

LATE_FEE_WORDS = ("违约金", "滞纳金")
_CLAUSE = re.compile(r"[^，,；;。！!？?\n]*(?:[，,；;。！!？?]|\n|$)")


def cn_date(d: dt.date | None) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else ""


def figure_context(fig: Figures) -> dict[str, str | int]:
    """The money placeholders of a template, from one document's figures."""
    return {
        "amount": format_yuan(fig.total_fen), "principal": format_yuan(fig.principal_fen),
        "late_fee": format_yuan(fig.late_fee_charged_fen) if fig.clause and fig.late_fee_charged_fen else "",
        "months": fig.months, "oldest_due": cn_date(fig.oldest_due), "late_fee_rate": fig.rate_text,
    }


def mentions_late_fee(text: str) -> bool:
    return any(word in (text or "") for word in LATE_FEE_WORDS)


def drop_late_fee(text: str) -> str:
    """``text`` without the clauses (between ，；。！？ or line ends) that mention 违约金/滞纳金. A clause ending a
    sentence hands its full stop to what is left (“请于 X 前缴纳，逾期计收违约金。” → “请于 X 前缴纳。”)."""
    if not mentions_late_fee(text):
        return text
    out: list[str] = []
    for part in _CLAUSE.findall(text):
        if not part:
            continue
        if mentions_late_fee(part):
            end = part[-1] if part[-1] in "。！!？?\n" else ""
            if end and out and out[-1] and out[-1][-1] in "，,；;":
                out[-1] = out[-1][:-1] + end
            elif end == "\n":
                out.append("\n")
            continue
        out.append(part)
    return "".join(out).strip(" ，,；;")


def finish(text: str, fig: Figures | None) -> str:
    """The last word on a rendered demand: no 违约金 where the contract has no clause."""
    if fig is not None and not fig.clause:
        return drop_late_fee(text)
    return text
