"""收费员绩效 — the monthly table per collector a manager uses for the reward scheme (seed 002): money collected
for the month's lines and for old arrears in the collector's territory, the promises they took that fell due
in the month and how many were kept, their contacts, and the owners' disputes/complaints opened in their
territory — so a reward never looks at collection alone (domain.md: rates *and* owner satisfaction).

- 当期实收 / 收费率, 清欠实收 / 清欠率: the month's figures by collector territory (``insights.metrics``).
- 承诺: promises registered by the collector whose promised date falls in the month; 已兑现 / 失约 as the
  ladder recorded them (a payment covering the amount / the day after the date unpaid); 兑现率 = 已兑现 ÷
  (已兑现 + 失约) — promises still open or withdrawn are not in the rate.
- 联系次数: contacts the collector recorded with a business date in the month.
- 投诉/争议: disputes opened in the month on units of the collector's territory (whoever recorded them).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q

from wuye.accounts.choices import Role
from wuye.insights import selectors as sel
from wuye.insights.metrics import collectors_by_floor, month_end


@dataclass
class CollectorMonth:
    collector_id: int
    name: str
    figures: sel.Figures
    promises: int = 0
    kept: int = 0
    broken: int = 0
    contacts: int = 0
    complaints: int = 0

    @property
    def kept_rate(self) -> Decimal | None:
        return sel.percent(self.kept, self.kept + self.broken)


def collector_incentives(month: sel.Month, *, project_ids: list[int] | None) -> list[CollectorMonth]:
    from wuye.casework.models import ContactAttempt, Dispute, Promise

    first, last = month.period, month_end(month.period)
    within = Q(project_id__in=project_ids) if project_ids is not None else Q()
    figures = {f.key[0]: f for f in sel.rollup(month, "collector") if f.key[0] is not None}
    promises = {r["made_by"]: r for r in Promise.objects.filter(within, promised_on__gte=first, promised_on__lte=last,
                                                                made_by__isnull=False)
                .values("made_by").annotate(n=Count("id"), kept=Count("id", filter=Q(hold__outcome="kept")),
                                            broken=Count("id", filter=Q(hold__outcome="broken")))}
    contacts = dict(ContactAttempt.objects.filter(within, on__gte=first, on__lte=last, made_by__isnull=False)
                    .values("made_by").annotate(n=Count("id")).values_list("made_by", "n"))
    disputes = list(Dispute.objects.filter(within, opened_on__gte=first, opened_on__lte=last)
                    .values("unit__project_id", "unit__building_id", "unit__floor").annotate(n=Count("id")))
    who = collectors_by_floor([(d["unit__project_id"], d["unit__building_id"], d["unit__floor"], None)
                               for d in disputes])
    complaints: dict[int, int] = {}
    for d in disputes:
        c = who.get((d["unit__building_id"], d["unit__floor"]))
        if c is not None:
            complaints[c] = complaints.get(c, 0) + d["n"]
    ids = set(figures) | set(promises) | set(contacts) | set(complaints)
    users = {pk: u for pk, u in sel.people(month, sorted(ids)).items() if u.role == Role.COLLECTOR}
    out = []
    for uid, user in users.items():
        p = promises.get(uid, {})
        out.append(CollectorMonth(uid, user.display_name or user.username, figures.get(uid, sel.Figures((uid,))),
                                  promises=p.get("n", 0), kept=p.get("kept", 0), broken=p.get("broken", 0),
                                  contacts=contacts.get(uid, 0), complaints=complaints.get(uid, 0)))
    return sorted(out, key=lambda c: (-(c.figures.collection_rate or Decimal(-1)), c.name))
