"""A reminder before a due date names that bill's amount — the lines due that day — not every line not yet
due: with January–July billed at once, the reminder of 15 January must not ask for seven months."""

import datetime as dt

from django.db.models import F, Sum

from wuye.billing.models import Bill
from wuye.common.formatting import format_yuan
from wuye.dunning import cycles
from wuye.dunning.choices import ActionStatus
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action

from .conftest import dispatch_on

D = dt.date


def _open(unit, **filters) -> int:
    return (Bill.objects.filter(unit=unit, is_void=False, late_fee_of__isnull=True, **filters)
            .aggregate(n=Sum(F("amount_fen") - F("settled_fen")))["n"] or 0)


def test_the_pre_due_reminder_names_the_amount_due_on_its_date(arrears_estate, tmp_path, settings):
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    unit = arrears_estate["units"][1]
    dunning_run(as_of=D(2026, 1, 8))
    dispatch_on(D(2026, 1, 8))
    sent = [a for a in Action.objects.filter(unit=unit, status=ActionStatus.SENT)
            if cycles.kind_of(a.cycle) == cycles.Kind.PRE_DUE]
    assert sent, list(Action.objects.filter(unit=unit).values_list("cycle", "status", "last_error"))
    this_bill = _open(unit, due_date=D(2026, 1, 15))
    everything_not_due = _open(unit, due_date__gte=D(2026, 1, 8))
    assert 0 < this_bill < everything_not_due  # the world: more than one bill not yet due
    for action in sent:
        assert format_yuan(this_bill) in action.content, action.content
        assert format_yuan(everything_not_due) not in action.content
        assert "2026年1月15日" in action.content


def test_the_figure_follows_the_ledger_a_part_payment_lowers_it(alice, arrears_estate, tmp_path, settings):
    from wuye.billing.services import payment_record

    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    unit = arrears_estate["units"][1]
    dunning_run(as_of=D(2026, 1, 8))
    payment_record(actor=alice, unit=unit, amount_fen=5_000, method="cash")  # paid on the oldest line first
    dispatch_on(D(2026, 1, 8))
    action = next(a for a in Action.objects.filter(unit=unit, status=ActionStatus.SENT)
                  if cycles.kind_of(a.cycle) == cycles.Kind.PRE_DUE)
    assert format_yuan(_open(unit, due_date=D(2026, 1, 15))) in action.content, action.content
