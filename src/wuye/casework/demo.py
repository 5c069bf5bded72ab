"""Casework history for ``wuye demo``: a few days of the demo collector's contacts, promises (one kept, one
broken, some open), disputes (one with a work order, one under the developer's warranty). Fast: a few dozen
accounts, written through the real services."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def demo_casework(*, collector: str = "shoufei1", manager: str = "jingli", accounts: int = 30) -> int:
    """Record demo contacts for the first ``accounts`` units in arrears of the collector's territory; returns
    how many contacts were recorded. Does nothing when the collector already has contacts."""
    from wuye.accounts.models import User
    from wuye.casework import services
    from wuye.casework.models import ContactAttempt
    from wuye.casework.selectors import worklist
    from wuye.estate.models import Unit

    user = User.objects.filter(username=collector).first()
    boss = User.objects.filter(username=manager).first()
    if user is None or boss is None or ContactAttempt.objects.filter(made_by=user).exists():
        return 0
    today = timezone.localdate()
    rows = worklist(user=user, day=today).rows[:accounts]
    units = {u.pk: u for u in Unit.objects.filter(pk__in=[r.unit_id for r in rows]).select_related("project")}
    n = 0
    script = ["no_answer", "busy", "promised", "away", "switched_off", "promised", "refused", "no_answer",
              "dispute", "paid_already"]
    for i, row in enumerate(rows):
        unit = units[row.unit_id]
        outcome = script[i % len(script)]
        on = today - dt.timedelta(days=1 + i % 3)
        kwargs: dict = {}
        if outcome == "promised":
            kwargs = {"promised_on": on + dt.timedelta(days=3 + i % 10),
                      "amount_fen": min(row.overdue_fen, 50_000 + 10_000 * (i % 5)), "note": "业主答应发工资后缴"}
        elif outcome == "refused":
            kwargs = {"reason": "service" if i % 2 else "fee_level", "note": "对门口保洁不满意，整改后再说"}
        elif outcome == "dispute":
            kwargs = {"reason": "house_quality", "note": "阳台窗户渗水", "developer_warranty": i % 4 == 0}
        elif outcome == "paid_already":
            kwargs = {"note": "说已经在手机上缴过了"}
        elif outcome == "away":
            kwargs = {"note": "在外地上班，春节回来", "follow_up_on": today + dt.timedelta(days=14)}
        try:
            services.contact_record(actor=user, unit=unit, channel="call" if i % 4 else "visit", outcome=outcome,
                                    on=on, **kwargs)
        except Exception:  # noqa: BLE001 — demo data: skip an account the rules refuse
            continue
        n += 1
    from wuye.casework.models import Dispute

    dispute = Dispute.objects.filter(unit__in=units.values(), developer_warranty=False).first()
    if dispute is not None:
        services.work_order_open(actor=boss, dispute=dispute, title="上门检查并处理业主反映的问题",
                                 due_on=today + dt.timedelta(days=7), detail="完成后通知收费员回访")
    return n
