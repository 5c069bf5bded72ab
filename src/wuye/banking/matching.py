"""Matching incoming credits to units, set-based: one load of the project's codes, liable parties and open
totals (a handful of queries), then pure Python over the lines.

Rules, in order; each records which rule matched and a confidence (whole per cent):
1. a unit code of the project in the memo (附言/摘要/用途), however it was typed (3-2-1502, ３－２－１５０２,
   3栋2单元1502室) — 95;
2. a payment reference (缴费编号, ``payment_reference(unit)``) with a valid check number — 98;
3. the payer's name equals the name of a liable party (owner, or a tenant who pays) of exactly one unit
   whose open amount equals the credit — 90.
Exactly one unit from rules 1–3 → matched and posted automatically. Several units → review with all of them
ranked. Only a weaker clue (the name matches but the amount does not) → review with that suggestion. No clue
→ unmatched (in the review queue without suggestions).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import F, Q, Sum

from wuye.banking.models import LineStatus, MatchRule
from wuye.banking.parsing import code_key, memo_code_keys, name_key, references_in
from wuye.billing.models import Bill
from wuye.estate.choices import OccupantRole
from wuye.estate.models import Occupancy, Unit

CONFIDENCE = {MatchRule.REFERENCE: 98, MatchRule.UNIT_CODE: 95, MatchRule.NAME_AMOUNT: 90,
              MatchRule.NAME_ONLY: 40}
AUTO_RULES = (MatchRule.UNIT_CODE, MatchRule.REFERENCE, MatchRule.NAME_AMOUNT)


@dataclass
class Match:
    status: str
    unit_id: int | None = None
    rule: str = ""
    confidence: int = 0
    suggestions: list[dict] = field(default_factory=list)


@dataclass
class MatchContext:
    """What matching needs of one project, loaded once."""

    project_id: int
    codes: dict[int, str]  # unit id → code as stored
    by_code: dict[str, set[int]]  # code_key → unit ids
    by_name: dict[str, set[int]]  # name_key of a liable party → unit ids
    names: dict[int, list[str]]  # unit id → liable parties' names (display)
    open_fen: dict[int, int]  # unit id → open amount (all open lines, due or not)
    max_groups: int = 1

    @classmethod
    def load(cls, project_id: int, on: dt.date) -> MatchContext:
        codes = dict(Unit.objects.filter(project_id=project_id).values_list("id", "code"))
        by_code: dict[str, set[int]] = defaultdict(set)
        for unit_id, code in codes.items():
            by_code[code_key(code)].add(unit_id)
        liable = (Occupancy.objects.filter(unit__project_id=project_id, start__lte=on)
                  .filter(Q(end__isnull=True) | Q(end__gte=on))
                  .filter(Q(role=OccupantRole.OWNER) | Q(role=OccupantRole.TENANT, pays_fees=True))
                  .values_list("unit_id", "party__name"))
        by_name: dict[str, set[int]] = defaultdict(set)
        names: dict[int, list[str]] = defaultdict(list)
        for unit_id, name in liable:
            if name_key(name):
                by_name[name_key(name)].add(unit_id)
                names[unit_id].append(name)
        open_rows = (Bill.objects.filter(project_id=project_id, is_void=False, settled_fen__lt=F("amount_fen"))
                     .values_list("unit_id").annotate(t=Sum(F("amount_fen") - F("settled_fen"))))
        max_groups = max((k.count("-") + 1 for k in by_code), default=1)
        return cls(project_id, codes, dict(by_code), dict(by_name), dict(names), dict(open_rows), max_groups)

    # -- rules --------------------------------------------------------------------------------------------

    def _code_hits(self, memo: str) -> set[int]:
        """Units whose code is in the memo; the longest run of groups wins (a longer code hides the shorter
        codes inside it). A code of a single group counts only when it has a letter (A101), never bare digits
        that could be an amount or a date."""
        found: set[int] = set()
        covered: list[str] = []
        for key in memo_code_keys(memo):
            if key.count("-") + 1 > self.max_groups:
                continue
            if key not in self.by_code:
                continue
            if "-" not in key and key.isascii() and key.isdigit():
                continue
            if any(f"-{key}-" in f"-{c}-" for c in covered):
                continue
            covered.append(key)
            found |= self.by_code[key]
        return found

    def _suggestion(self, unit_id: int, rule: str, why: str) -> dict:
        return {"unit_id": unit_id, "code": self.codes.get(unit_id, ""), "rule": rule,
                "confidence": CONFIDENCE[rule], "why": why,
                "names": "、".join(self.names.get(unit_id, [])), "open_fen": self.open_fen.get(unit_id, 0)}

    def match(self, *, amount_fen: int, payer_name: str, memo: str) -> Match:
        if amount_fen <= 0:
            return Match(LineStatus.IGNORED)
        found: dict[int, tuple[str, str]] = {}
        for unit_id in sorted(self._code_hits(memo)):
            found.setdefault(unit_id, (MatchRule.UNIT_CODE, f"附言含房屋编码 {self.codes[unit_id]}"))
        for unit_id in references_in(memo):
            if unit_id in self.codes:
                found.setdefault(unit_id, (MatchRule.REFERENCE, "附言含缴费编号"))
        key = name_key(payer_name)
        same_name = sorted(self.by_name.get(key, ())) if key else []
        if not found:
            exact = [u for u in same_name if self.open_fen.get(u, 0) == amount_fen]
            for unit_id in exact:
                found[unit_id] = (MatchRule.NAME_AMOUNT, f"户名 {payer_name} 与欠费金额一致")
        suggestions = [self._suggestion(u, rule, why) for u, (rule, why) in found.items()]
        if len(found) == 1:
            (unit_id, (rule, _why)), = found.items()
            self.open_fen[unit_id] = self.open_fen.get(unit_id, 0) - amount_fen
            return Match(LineStatus.MATCHED, unit_id, rule, CONFIDENCE[rule], suggestions)
        if found:
            share = len(found)
            for s in suggestions:
                s["confidence"] = s["confidence"] // share
            suggestions.sort(key=lambda s: (-s["confidence"], s["code"]))
            return Match(LineStatus.REVIEW, None, "", suggestions[0]["confidence"], suggestions)
        weak = [self._suggestion(u, MatchRule.NAME_ONLY, f"户名 {payer_name} 一致，金额不符") for u in same_name]
        if weak:
            for s in weak:
                s["confidence"] = s["confidence"] // len(weak)
            weak.sort(key=lambda s: (abs(s["open_fen"] - amount_fen), s["code"]))
            return Match(LineStatus.REVIEW, None, "", weak[0]["confidence"], weak[:10])
        return Match(LineStatus.UNMATCHED)
