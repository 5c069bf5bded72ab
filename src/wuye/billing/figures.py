"""The figures a document demands — one function for every SMS, notice, registered letter, referral draft and
statement, so that what is printed adds up and agrees from one document to the next.

A document's figures belong to one debtor account: a unit and the party liable for its lines (``Bill.party``).
Rules (docs/collection.md, "Figures on documents"; decision 36):

- **Only that debtor's lines.** After a sale the seller's periods and the buyer's are two accounts; no document
  shows one party's period to the other.
- **Only matured lines.** A fee line is demanded once its due date has passed (``due_date < as_of``); a charged
  违约金 line is due from the day it was charged (``due_date <= as_of``). Nothing not yet due is demanded.
- **Per line**: the principal still unpaid; the 违约金 charged and unpaid (its 违约金 lines); and the 违约金 that
  accrues per contract and is not charged yet (only on principal still unpaid: once the principal is settled the
  fee stops running, and charging what is left is a manager's decision, ``late_fee_post``).
- **Totals**: 欠费本金 = Σ principal; 应缴合计 = 欠费本金 + charged unpaid 违约金 — what the account can pay now,
  the same figure as the owner's bill page; the accruing 违约金 is shown beside it with the figure a court is
  likely to uphold (it is not a line on the books yet). ``total_upper`` is 应缴合计 in capitals (``rmb_upper``,
  which already starts with 人民币 — never prefix it again).
- **No clause, no 违约金** (民法典 585): with ``late_fee_per_mille = 0`` nothing accrues and 违约金 lines are left
  out of the demand; documents then say nothing about 违约金.
- **A settled account gets no demand**: ``demandable`` is false once no matured principal is unpaid (a charged
  违约金 alone does not make a debtor again — decision 14).
- **The ledger as it stands**: every allocation and approved adjustment recorded counts (a payment recorded
  after the run is never demanded again); the late fee runs to ``as_of``, the document's date.

Set-based: ``demand_figures_many`` reads any number of accounts with a fixed number of queries (open lines,
their allocations, approved adjustments, charged 违约金 per line, disputed intervals, one policy per project).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import F, Sum

from wuye.billing import latefee
from wuye.billing.disputes import intervals_for
from wuye.billing.models import Adjustment, Allocation, Bill, BillingPolicy
from wuye.common.formatting import format_yuan, rmb_upper

Key = tuple[int, int | None]  # (unit id, party id); a None party means every party of the unit (legacy rows)


@dataclass(frozen=True)
class FigureLine:
    """One billing line of a document: a fee of one period, with what of it is demanded."""

    bill_id: int
    period_start: dt.date
    period_end: dt.date
    fee_item: str
    due_date: dt.date
    amount_fen: int  # billed
    settled_fen: int  # paid and adjusted (waived, discounted)
    principal_fen: int  # still unpaid (0 when only a charged 违约金 of this line is open)
    late_fee_charged_fen: int  # 违约金 charged on this line and unpaid
    late_fee_accruing_fen: int  # 违约金 per contract to the document date, not charged yet
    court_fen: int  # what a court is likely to uphold of this line's 违约金 to the document date
    explanation: str  # how the 违约金 was computed

    @property
    def period(self) -> str:
        return self.period_start.isoformat()

    @property
    def total_fen(self) -> int:
        """What this line adds to 应缴合计."""
        return self.principal_fen + self.late_fee_charged_fen


@dataclass(frozen=True)
class Figures:
    """A document's figures for one debtor account as of a date (fen)."""

    unit_id: int
    party_id: int | None
    as_of: dt.date
    clause: bool  # the contract has a late-fee clause (late_fee_per_mille > 0)
    per_mille: Decimal
    lines: tuple[FigureLine, ...] = field(default=())

    @property
    def principal_fen(self) -> int:
        return sum(x.principal_fen for x in self.lines)

    @property
    def late_fee_charged_fen(self) -> int:
        return sum(x.late_fee_charged_fen for x in self.lines)

    @property
    def late_fee_accruing_fen(self) -> int:
        return sum(x.late_fee_accruing_fen for x in self.lines)

    @property
    def late_fee_fen(self) -> int:
        """All 违约金 of the document: charged and unpaid plus accruing."""
        return self.late_fee_charged_fen + self.late_fee_accruing_fen

    @property
    def court_fen(self) -> int:
        return sum(x.court_fen for x in self.lines)

    @property
    def total_fen(self) -> int:
        """应缴合计: unpaid principal and charged unpaid 违约金."""
        return self.principal_fen + self.late_fee_charged_fen

    @property
    def total_upper(self) -> str:
        return rmb_upper(self.total_fen)

    @property
    def principal_upper(self) -> str:
        return rmb_upper(self.principal_fen)

    @property
    def periods(self) -> tuple[str, ...]:
        """First days (ISO) of the periods the document names."""
        return tuple(sorted({x.period for x in self.lines}))

    @property
    def months(self) -> int:
        return len(self.periods)

    @property
    def oldest_due(self) -> dt.date | None:
        dues = [x.due_date for x in self.lines if x.principal_fen > 0]
        return min(dues) if dues else None

    @property
    def demandable(self) -> bool:
        """Something matured is unpaid: a demand may go. False for a settled account."""
        return self.principal_fen > 0

    @property
    def rate_text(self) -> str:
        """The contract's daily rate as printed, with a per-mille sign (‰); empty without a clause."""
        return f"{self.per_mille.normalize():f}‰" if self.clause else ""

    def only(self, periods: Iterable[str] | None) -> Figures:
        """The same figures restricted to ``periods`` (ISO first days); all when None or empty."""
        wanted = set(periods or ())
        if not wanted:
            return self
        return Figures(self.unit_id, self.party_id, self.as_of, self.clause, self.per_mille,
                       tuple(x for x in self.lines if x.period in wanted))

    def summary(self) -> str:
        """One line for an event or a log: 应缴合计 and the periods."""
        return (f"应缴合计 {format_yuan(self.total_fen)}（本金 {format_yuan(self.principal_fen)}"
                + (f"，违约金 {format_yuan(self.late_fee_charged_fen)}" if self.late_fee_charged_fen else "")
                + f"），账期 {'、'.join(p[:7] for p in self.periods) or '无'}")


def demand_figures(unit_id: int, party_id: int | None, as_of: dt.date, *,
                   periods: Iterable[str] | None = None) -> Figures:
    """The figures of one debtor account on ``as_of`` (see the module docstring); ``periods`` restricts them to
    the periods a demand names."""
    return demand_figures_many([(unit_id, party_id)], as_of)[(unit_id, party_id)].only(periods)


def demand_figures_many(keys: Iterable[Key], as_of: dt.date) -> dict[Key, Figures]:
    """``demand_figures`` for many accounts at once: seven queries whatever their number (plus one per project
    without a billing policy row). Every key asked for is in the answer (empty figures when nothing is open)."""
    keys = list(dict.fromkeys(keys))
    unit_ids = sorted({u for u, _ in keys})
    if not unit_ids:
        return {}
    wanted_parties: dict[int, set[int | None]] = defaultdict(set)
    for u, p in keys:
        wanted_parties[u].add(p)
    rows = list(Bill.objects.filter(unit_id__in_ids=unit_ids, is_void=False, settled_fen__lt=F("amount_fen"),
                                    due_date__lte=as_of)
                .select_related("fee_item", "late_fee_of__fee_item")
                .order_by("unit_id", "period_start", "fee_item__sort", "id"))
    rows = [b for b in rows if b.party_id in wanted_parties[b.unit_id] or None in wanted_parties[b.unit_id]]
    principal = [b for b in rows if b.late_fee_of_id is None and b.due_date < as_of]
    fee_lines = [b for b in rows if b.late_fee_of_id is not None]
    ids = [b.pk for b in principal] + [b.pk for b in fee_lines]
    allocations: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    adjusted: dict[int, int] = {}
    posted: dict[int, int] = defaultdict(int)
    disputed = intervals_for(b.pk for b in principal) if principal else {}
    if ids:
        for bill_id, day, fen in Allocation.objects.filter(bill_id__in_ids=ids).values_list(
                "bill_id", "applied_on", "amount_fen"):
            allocations[bill_id].append((day, fen))
        adjusted = dict(Adjustment.objects.filter(bill_id__in_ids=ids, status="approved").values_list("bill_id")
                        .annotate(t=Sum("amount_fen")).values_list("bill_id", "t"))
    if principal:
        posted.update(Bill.objects.filter(late_fee_of_id__in_ids=[b.pk for b in principal], is_void=False)
                      .values_list("late_fee_of_id").annotate(t=Sum("amount_fen")).values_list("late_fee_of_id", "t"))
    unit_project = {b.unit_id: b.project_id for b in rows}
    if len(unit_project) < len(unit_ids):
        unit_project.update(_project_ids([u for u in unit_ids if u not in unit_project]))
    policies = {p.project_id: p for p in BillingPolicy.objects.filter(project_id__in=set(unit_project.values()))}
    terms = {pid: latefee.Terms.from_policy(policies[pid]) if pid in policies else latefee.Terms(Decimal(0))
             for pid in set(unit_project.values())}

    per_account: dict[Key, list[FigureLine]] = defaultdict(list)
    by_source: dict[int, list[Bill]] = defaultdict(list)
    for b in fee_lines:
        by_source[b.late_fee_of_id].append(b)
    open_principal = {b.pk for b in principal}

    def unpaid(b: Bill) -> int:
        return b.amount_fen - sum(fen for _, fen in allocations.get(b.pk, ())) - adjusted.get(b.pk, 0)

    for b in principal:
        t = terms[b.project_id]
        clause = t.per_mille_per_day > 0
        adj = adjusted.get(b.pk, 0)
        fee = latefee.compute(amount_fen=b.amount_fen - adj, due_date=b.due_date, as_of=as_of, terms=t,
                              payments=allocations.get(b.pk, []), disputed=disputed.get(b.pk, ()))
        open_fen = unpaid(b)
        charged = sum(max(unpaid(x), 0) for x in by_source.get(b.pk, ())) if clause else 0
        accruing = max(0, fee.amount_fen - posted.get(b.pk, 0)) if clause and open_fen > 0 else 0
        per_account[(b.unit_id, b.party_id)].append(FigureLine(
            b.pk, b.period_start, b.period_end, b.fee_item.name, b.due_date, b.amount_fen, b.amount_fen - open_fen,
            max(open_fen, 0), charged, accruing, fee.court_fen if clause else 0, fee.explanation if clause else ""))
    # charged 违约金 still open whose own line is settled: a line of the document with no principal
    for source_id, fees in by_source.items():
        if source_id in open_principal:
            continue
        first = fees[0]
        if terms[first.project_id].per_mille_per_day <= 0:
            continue
        source = first.late_fee_of
        charged = sum(max(unpaid(x), 0) for x in fees)
        if charged <= 0:
            continue
        per_account[(first.unit_id, first.party_id)].append(FigureLine(
            source.pk, source.period_start, source.period_end, source.fee_item.name, source.due_date,
            source.amount_fen, source.amount_fen, 0, charged, 0, 0, "；".join(x.rule for x in fees)))

    out: dict[Key, Figures] = {}
    for u, p in keys:
        pid = unit_project.get(u)
        t = terms.get(pid) if pid is not None else None
        per_mille = t.per_mille_per_day if t is not None else Decimal(0)
        if p is None:
            lines = [x for (uu, _pp), xs in per_account.items() if uu == u for x in xs]
        else:
            lines = per_account.get((u, p), [])
        lines.sort(key=lambda x: (x.period_start, x.due_date, x.bill_id))
        out[(u, p)] = Figures(u, p, as_of, per_mille > 0, per_mille, tuple(lines))
    return out


def _project_ids(unit_ids: list[int]) -> dict[int, int]:
    from wuye.estate.models import Unit

    return dict(Unit.objects.filter(pk__in_ids=unit_ids).values_list("pk", "project_id"))
