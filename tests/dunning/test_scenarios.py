"""Account histories walked day by day (issue 13's acceptance): the daily jobs run on every date as cron runs
them, events happen on the days they happen, and each test asserts the account's WHOLE action history — what
was decided on which day, what became of it, and on which day it went out.

The estate is one project billed ¥200.00 a month (due on the 15th); January 2026 is the first bill unless a
scenario says otherwise. Dates to know: 2026-01-01~03 New Year holiday, 01-04 (Sunday) a make-up working day;
Spring Festival 02-15~23 with 02-14 and 02-28 (Saturdays) worked; Qingming 04-04~06; Labour Day 05-01~05;
Dragon Boat 06-19~21. Messages go out on working days and Saturdays 09:00–20:00; calls and visits on working
days. Set ``SCENARIO_RECORD=1`` to print the histories instead of asserting them (then read every line)."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from wuye.billing.choices import PaymentMethod
from wuye.billing.services import bill_generate, payment_record
from wuye.dunning.models import Action

from .scenario import CST, log, lone_estate, walk_days

D = dt.date
RECORD = os.environ.get("SCENARIO_RECORD") == "1"
pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def check(got: list[str], expected: list[str]) -> None:
    if RECORD:
        print("\n    [\n" + "".join(f'        "{line}",\n' for line in got) + "    ]")
        return
    assert got == expected


def pay(actor, unit, fen: int, day: dt.date, hour: int = 9, **kw):
    return lambda: payment_record(actor=actor, unit=unit, amount_fen=fen, method=PaymentMethod.CASH,
                                  paid_at=dt.datetime(day.year, day.month, day.day, hour, tzinfo=CST), **kw)


def pay_own(actor, unit, party, fen: int, day: dt.date):
    """``party`` pays ``fen`` towards their own open lines only (a buyer paying at the desk for their bills)."""
    def run():
        from django.db.models import F

        from wuye.billing.models import Bill

        ids = list(Bill.objects.filter(unit=unit, party=party, is_void=False, settled_fen__lt=F("amount_fen"))
                   .values_list("pk", flat=True))
        return payment_record(actor=actor, unit=unit, amount_fen=fen, method=PaymentMethod.CASH,
                              paid_at=dt.datetime(day.year, day.month, day.day, 9, tzinfo=CST), bill_ids=ids,
                              only_chosen=True)
    return run


def contact(actor, unit, outcome: str, day: dt.date, **kw):
    from wuye.casework.services import contact_record
    from wuye.dunning.models import Task

    def run():  # against the day's open call task when there is one, as the worklist records it
        task = Task.objects.filter(unit=unit, status="open", kind="call").order_by("-pk").first()
        return contact_record(actor=actor, unit=unit, channel="call", outcome=outcome, on=day, task=task, **kw)
    return run


def close_tasks(actor, unit, day: dt.date, **kw):
    """Close the unit's open tasks (a collector doing the day's list)."""
    def run():
        from wuye.dunning.models import Task
        from wuye.dunning.services import task_close

        for task in Task.objects.filter(unit=unit, status="open"):
            task_close(actor=actor, task=task, note="已处理", **kw)
    return run


def sms_texts(unit, party=None) -> list[str]:
    qs = Action.objects.filter(unit=unit, channel="sms").exclude(content="")
    if party is not None:
        qs = qs.filter(party=party)
    return list(qs.order_by("decided_on", "pk").values_list("content", flat=True))


# --- promises ------------------------------------------------------------------------------------------------

def test_01_promise_kept(alice):
    """Owner promises on the first call to pay by 01-30 and pays on 01-28: nothing more is decided."""
    _, (unit,) = lone_estate(alice, months=1)
    walk_days(D(2026, 1, 1), D(2026, 2, 28), {
        (D(2026, 1, 19), "pm"): [contact(alice, unit, "promised", D(2026, 1, 19), promised_on=D(2026, 1, 30))],
        D(2026, 1, 28): [pay(alice, unit, 20000, D(2026, 1, 28))],
    })
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "01-18 逾期 3 天电话 sent@01-19",
    ])


def test_02_promise_broken_then_the_ladder_escalates(alice):
    """A broken promise sends the account back to 暂未明确 (daily calls) and the ladder still reaches the
    3-month registered letter."""
    _, (unit,) = lone_estate(alice, months=1)
    walk_days(D(2026, 1, 1), D(2026, 4, 20), {
        (D(2026, 1, 19), "pm"): [contact(alice, unit, "promised", D(2026, 1, 19), promised_on=D(2026, 1, 30))],
    })
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "01-18 逾期 3 天电话 sent@01-19",
        "01-29 承诺前一天提醒 sent@01-29",
        "01-31 承诺失约跟进 sent@02-02",
        "02-01 每两周欠费短信 sent@02-02",
        "02-02 定期电话 sent@02-02",
        "02-03 暂未明确：每日电话 sent@02-03",
        "02-04 暂未明确：每日电话 sent@02-04",
        "02-05 暂未明确：每日电话 sent@02-05",
        "02-06 暂未明确：每日电话 sent@02-06",
        "02-09 定期电话 sent@02-09",
        "02-10 暂未明确：每日电话 sent@02-10",
        "02-11 暂未明确：每日电话 sent@02-11",
        "02-12 暂未明确：每日电话 sent@02-12",
        "02-13 暂未明确：每日电话 sent@02-13",
        "02-14 暂未明确：每日电话 sent@02-14",
        "02-16 每两周欠费短信 sent@02-24",
        "02-24 定期电话 sent@02-24",
        "02-25 暂未明确：每日电话 sent@02-25",
        "02-26 暂未明确：每日电话 sent@02-26",
        "02-27 暂未明确：每日电话 sent@02-27",
        "02-28 暂未明确：每日电话 sent@02-28",
        "03-02 暂未明确：每日电话 sent@03-02",
        "03-03 定期电话 sent@03-03",
        "03-04 暂未明确：每日电话 sent@03-04",
        "03-05 暂未明确：每日电话 sent@03-05",
        "03-06 暂未明确：每日电话 sent@03-06",
        "03-09 暂未明确：每日电话 sent@03-09",
        "03-10 定期电话 sent@03-10",
        "03-10 每两周欠费短信 sent@03-10",
        "03-11 暂未明确：每日电话 sent@03-11",
        "03-12 暂未明确：每日电话 sent@03-12",
        "03-13 暂未明确：每日电话 sent@03-13",
        "03-16 暂未明确：每日电话 sent@03-16",
        "03-17 定期电话 sent@03-17",
        "03-18 暂未明确：每日电话 sent@03-18",
        "03-19 暂未明确：每日电话 sent@03-19",
        "03-20 暂未明确：每日电话 sent@03-20",
        "03-23 暂未明确：每日电话 sent@03-23",
        "03-24 定期电话 sent@03-24",
        "03-24 每两周欠费短信 sent@03-25",
        "03-25 暂未明确：每日电话 sent@03-25",
        "03-26 暂未明确：每日电话 sent@03-26",
        "03-27 暂未明确：每日电话 sent@03-27",
        "03-30 暂未明确：每日电话 sent@03-30",
        "03-31 定期电话 sent@03-31",
        "04-01 暂未明确：每日电话 sent@04-01",
        "04-02 暂未明确：每日电话 sent@04-02",
        "04-03 暂未明确：每日电话 sent@04-03",
        "04-07 定期电话 sent@04-07",
        "04-08 每两周欠费短信 sent@04-08",
        "04-08 暂未明确：每日电话 sent@04-08",
        "04-09 暂未明确：每日电话 sent@04-09",
        "04-10 暂未明确：每日电话 sent@04-10",
        "04-13 暂未明确：每日电话 sent@04-13",
        "04-14 定期电话 sent@04-14",
        "04-15 暂未明确：每日电话 sent@04-15",
        "04-15 欠费 3 个月挂号信 sent@04-15",
        "04-15 上门沟通 sent@04-15",
        "04-16 暂未明确：每日电话 sent@04-16",
        "04-17 暂未明确：每日电话 sent@04-17",
        "04-20 暂未明确：每日电话 sent@04-20",
    ])


def test_03_promise_renewed_before_the_date(alice):
    """A second promise replaces the first: one eve reminder for the second date only, then kept."""
    _, (unit,) = lone_estate(alice, months=1)
    walk_days(D(2026, 1, 1), D(2026, 2, 28), {
        (D(2026, 1, 19), "pm"): [contact(alice, unit, "promised", D(2026, 1, 19), promised_on=D(2026, 1, 30))],
        (D(2026, 1, 27), "pm"): [contact(alice, unit, "promised", D(2026, 1, 27), promised_on=D(2026, 2, 10))],
        D(2026, 2, 10): [pay(alice, unit, 20000, D(2026, 2, 10))],
    })
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "01-18 逾期 3 天电话 sent@01-19",
        "02-09 承诺前一天提醒 sent@02-09",
    ])


# --- holds and disputes ----------------------------------------------------------------------------------------

def test_04_manual_hold_lapses_and_the_next_unissued_stage_follows(alice):
    """Held from the day after the SMS to 03-31: on 04-01 the account resumes with the stage it never got
    (the first call), not with everything it missed, and the 3-month letter follows on time."""
    from wuye.dunning.services import hold_place

    _, (unit,) = lone_estate(alice, months=1)
    walk_days(D(2026, 1, 1), D(2026, 4, 20), {
        D(2026, 1, 17): [lambda: hold_place(actor=alice, unit=unit, kind="manual", reason="业主住院，经理同意暂缓",
                                            until=D(2026, 3, 31), starts_on=D(2026, 1, 17))],
    })
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "04-01 逾期 3 天电话 sent@04-01",
        "04-01 每两周欠费短信 sent@04-01",
        "04-02 定期电话 sent@04-02",
        "04-09 定期电话 sent@04-09",
        "04-15 每两周欠费短信 sent@04-15",
        "04-15 欠费 3 个月挂号信 sent@04-15",
        "04-15 上门沟通 sent@04-15",
        "04-16 定期电话 sent@04-16",
    ])


def test_05_a_long_hold_resumes_with_the_written_demand_not_the_referral(alice):
    """Held for seven months: the referral is due by age, but no written demand was delivered, so the
    registered letter goes first; the referral follows only after it was signed for and its deadline passed."""
    from tests.dunning.conftest import sign_written
    from wuye.dunning.services import hold_place

    _, (unit,) = lone_estate(alice, months=1)
    walk_days(D(2026, 1, 1), D(2026, 9, 30), {
        D(2026, 1, 17): [lambda: hold_place(actor=alice, unit=unit, kind="manual", reason="经理同意暂缓",
                                            until=D(2026, 8, 31), starts_on=D(2026, 1, 17))],
        D(2026, 9, 3): [lambda: sign_written(alice, unit, D(2026, 9, 3))],
    })
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "09-01 定期电话 sent@09-01",
        "09-01 每两周欠费短信 sent@09-01",
        "09-01 欠费 3 个月挂号信 delivered@09-01",
        "09-01 上门沟通 sent@09-01",
        "09-08 定期电话 sent@09-08",
        "09-09 律师函转介 sent@09-09",
        "09-15 定期电话 sent@09-15",
        "09-15 每两周欠费短信 sent@09-15",
        "09-22 定期电话 sent@09-22",
        "09-22 上门沟通 sent@09-22",
        "09-29 定期电话 sent@09-29",
        "09-29 每两周欠费短信 sent@09-29",
    ])


def test_06_dispute_resolved_then_calls_resume(alice):
    """A complaint on the first call opens a dispute (held, 特殊拒交); resolved on 02-24 the account goes back
    to the collector: a call to agree a date, then the ladder continues."""
    from wuye.casework.models import Dispute
    from wuye.casework.services import dispute_resolve

    _, (unit,) = lone_estate(alice, months=1)
    walk_days(D(2026, 1, 1), D(2026, 3, 15), {
        (D(2026, 1, 19), "pm"): [contact(alice, unit, "dispute", D(2026, 1, 19), reason="service",
                                 note="楼道灯长期不亮")],
        D(2026, 2, 24): [lambda: dispute_resolve(actor=alice, dispute=Dispute.objects.get(unit=unit),
                                                 note="已维修，业主认可", on=D(2026, 2, 24))],
    })
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "01-18 逾期 3 天电话 sent@01-19",
        "02-19 每两周欠费短信 sent@02-25",
        "02-19 特殊拒交：报经理 sent@02-24",
        "02-24 定期电话 sent@02-24",
        "02-25 暂未明确：每日电话 sent@02-25",
        "02-26 暂未明确：每日电话 sent@02-26",
        "02-27 暂未明确：每日电话 sent@02-27",
        "02-28 暂未明确：每日电话 sent@02-28",
        "03-02 暂未明确：每日电话 sent@03-02",
        "03-03 定期电话 sent@03-03",
        "03-04 暂未明确：每日电话 sent@03-04",
        "03-05 暂未明确：每日电话 sent@03-05",
        "03-06 暂未明确：每日电话 sent@03-06",
        "03-09 暂未明确：每日电话 sent@03-09",
        "03-10 定期电话 sent@03-10",
        "03-11 每两周欠费短信 sent@03-11",
        "03-11 暂未明确：每日电话 sent@03-11",
        "03-12 暂未明确：每日电话 sent@03-12",
        "03-13 暂未明确：每日电话 sent@03-13",
    ])


# --- money -------------------------------------------------------------------------------------------------------

def test_07_partial_payments(alice):
    """Three months billed; January paid on 02-20, the rest on 04-10: the ladder keeps running on what is
    still owed (age from the oldest open month) and stops when nothing is."""
    _, (unit,) = lone_estate(alice, months=3)
    walk_days(D(2026, 1, 1), D(2026, 4, 30), {
        D(2026, 2, 20): [pay(alice, unit, 20000, D(2026, 2, 20))],
        D(2026, 4, 10): [pay(alice, unit, 40000 + 500, D(2026, 4, 10))],
    })
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "01-18 逾期 3 天电话 sent@01-19",
        "01-26 定期电话 sent@01-26",
        "01-31 到期前 15 天提醒 sent@01-31",
        "02-01 每两周欠费短信 sent@02-02",
        "02-02 定期电话 sent@02-02",
        "02-08 到期前 7 天提醒 sent@02-09",
        "02-09 定期电话 sent@02-09",
        "02-16 每两周欠费短信 sent@02-24",
        "02-25 定期电话 sent@02-25",
        "02-28 到期前 15 天提醒 sent@02-28",
        "03-04 定期电话 sent@03-04",
        "03-08 到期前 7 天提醒 sent@03-09",
        "03-10 每两周欠费短信 sent@03-10",
        "03-11 定期电话 sent@03-11",
        "03-18 定期电话 sent@03-18",
        "03-24 每两周欠费短信 sent@03-25",
        "03-25 定期电话 sent@03-25",
        "04-01 定期电话 sent@04-01",
        "04-08 定期电话 sent@04-08",
        "04-08 每两周欠费短信 sent@04-08",
    ])


def test_08_paid_after_the_decision_and_before_the_send(alice):
    """The overdue SMS is decided at 06:00 on 01-16; the owner pays at 09:00; the 10:00 dispatch cancels it."""
    _, (unit,) = lone_estate(alice, months=1)
    walk_days(D(2026, 1, 1), D(2026, 2, 10), {(D(2026, 1, 16), "mid"): [pay(alice, unit, 20000, D(2026, 1, 16))]})
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 cancelled",
    ])


def test_09_a_bounced_payment_puts_the_account_back_on_the_ladder(alice):
    from wuye.billing.models import Payment
    from wuye.billing.services import payment_reverse

    _, (unit,) = lone_estate(alice, months=1)
    walk_days(D(2026, 1, 1), D(2026, 2, 28), {
        D(2026, 1, 20): [pay(alice, unit, 20000, D(2026, 1, 20), reference="T001")],
        D(2026, 2, 5): [lambda: payment_reverse(actor=alice, payment=Payment.objects.get(unit=unit, amount_fen=20000),
                                                reason="银行退票")],
    })
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "01-18 逾期 3 天电话 sent@01-19",
        "02-05 逾期 3 天电话 sent@02-05",
        "02-05 每两周欠费短信 sent@02-05",
        "02-06 定期电话 sent@02-06",
        "02-13 定期电话 sent@02-13",
        "02-19 每两周欠费短信 sent@02-25",
        "02-24 定期电话 sent@02-24",
    ])


# --- the debtor after a sale --------------------------------------------------------------------------------------

def test_10_sale_mid_arrears_each_party_for_their_own_periods(alice):
    """The seller owes January and February and sells on 03-01; the buyer is billed from March and pays on
    time. The seller keeps being dunned (at their own number, for their own ¥400.00); the buyer gets only
    pre-due reminders for their own bills and never sees the seller's debt."""
    from wuye.estate.choices import ContactKind, ContactSource, OccupantRole
    from wuye.estate.models import Occupancy, Party
    from wuye.estate.services import contact_add, occupancy_end, occupancy_start

    project, (unit,) = lone_estate(alice, months=2)
    seller = Party.objects.get(occupancies__unit=unit)
    buyer = Party.objects.create(name="买方王五", natural_key="buyer:1")

    def sell():
        occupancy_end(actor=alice, occupancy=Occupancy.objects.get(unit=unit, party=seller), end=D(2026, 2, 28))
        occupancy_start(actor=alice, unit=unit, party=buyer, role=OccupantRole.OWNER, start=D(2026, 3, 1))
        contact_add(actor=alice, party=buyer, kind=ContactKind.MOBILE, value="13700000001",
                    source=ContactSource.OWNER, is_primary=True)
        bill_generate(actor=alice, project=project, period=D(2026, 3, 1))

    walk_days(D(2026, 1, 1), D(2026, 4, 30), {
        D(2026, 3, 1): [sell],
        D(2026, 4, 1): [lambda: bill_generate(actor=alice, project=project, period=D(2026, 4, 1))],
        D(2026, 3, 14): [pay_own(alice, unit, buyer, 20000, D(2026, 3, 14))],
        D(2026, 4, 14): [pay_own(alice, unit, buyer, 20000, D(2026, 4, 14))],
    })
    check(log(unit, party=seller), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "01-18 逾期 3 天电话 sent@01-19",
        "01-26 定期电话 sent@01-26",
        "01-31 到期前 15 天提醒 sent@01-31",
        "02-01 每两周欠费短信 sent@02-02",
        "02-02 定期电话 sent@02-02",
        "02-08 到期前 7 天提醒 sent@02-09",
        "02-09 定期电话 sent@02-09",
        "02-16 每两周欠费短信 sent@02-24",
        "02-24 定期电话 sent@02-24",
        "03-03 定期电话 sent@03-03",
        "03-10 定期电话 sent@03-10",
        "03-10 每两周欠费短信 sent@03-10",
        "03-17 定期电话 sent@03-17",
        "03-24 定期电话 sent@03-24",
        "03-24 每两周欠费短信 sent@03-25",
        "03-31 定期电话 sent@03-31",
        "04-07 定期电话 sent@04-07",
        "04-08 每两周欠费短信 sent@04-08",
        "04-14 定期电话 sent@04-14",
        "04-15 欠费 3 个月挂号信 sent@04-15",
        "04-15 上门沟通 sent@04-15",
        "04-21 定期电话 sent@04-21",
        "04-22 每两周欠费短信 sent@04-25",
        "04-28 定期电话 sent@04-28",
    ])
    check(log(unit, party=buyer), [
        "03-01 到期前 15 天提醒 sent@03-02",
        "03-08 到期前 7 天提醒 sent@03-09",
        "04-01 到期前 15 天提醒 sent@04-01",
        "04-08 到期前 7 天提醒 sent@04-08",
    ])
    seller_texts = [a.content for a in Action.objects.filter(unit=unit, party=seller, channel="sms",
                                                              episode__isnull=False, sent_at__gte=dt.datetime(
                                                                  2026, 3, 1, tzinfo=CST))]
    assert seller_texts and all("400.00" in t for t in seller_texts)  # the seller's own two months, no more
    assert all("400.00" not in t and "600.00" not in t for t in sms_texts(unit, party=buyer))
    assert set(Action.objects.filter(unit=unit, party=seller, channel="sms").exclude(address="")
               .values_list("address", flat=True)) == {"13900000001"}  # never the buyer's number
    assert set(Action.objects.filter(unit=unit, party=buyer, channel="sms").exclude(address="")
               .values_list("address", flat=True)) == {"13700000001"}


# --- ladders as managers shape them ------------------------------------------------------------------------------

def test_11_a_one_step_ladder_ends_and_says_so(alice, bob):
    """A project whose only overdue step is the day-1 SMS: after it, the ladder has ended; the episode records
    it and the worklist tells the manager to decide, instead of showing 新增欠费 for ever."""
    from wuye.casework.selectors import worklist
    from wuye.dunning.choices import StepKind
    from wuye.dunning.defaults import policies_install_defaults
    from wuye.dunning.models import Episode, Policy
    from wuye.dunning.services import policy_save

    project, (unit,) = lone_estate(alice, months=1)
    policies_install_defaults(project)
    policy = Policy.objects.get(project=project, segment="", active=True)
    keep = {"逾期短信"}
    policy_save(actor=alice, policy=policy, active=True, valid_from=None, valid_to=None, steps=[
        {"id": st.pk, "delete": True} for st in policy.steps.all()
        if st.kind in (StepKind.OVERDUE, StepKind.AFTER_PREVIOUS) and st.name not in keep])
    walk_days(D(2026, 1, 1), D(2026, 2, 20))
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
    ])
    episode = Episode.objects.get(unit=unit)
    assert episode.ladder_done_on is not None and episode.closed_on is None
    from wuye.accounts.services import territory_assign

    territory_assign(actor=alice, user=bob, building=unit.building)
    row = next(r for r in worklist(user=bob, day=D(2026, 2, 20)).rows if r.unit_id == unit.pk)
    assert row.ladder_done


def test_12_a_pre_due_reminder_ordered_high_never_counts_as_overdue_progress(alice):
    from wuye.dunning.defaults import policies_install_defaults
    from wuye.dunning.models import Policy
    from wuye.dunning.services import policy_save

    project, (unit,) = lone_estate(alice, months=2)
    policies_install_defaults(project)
    policy = Policy.objects.get(project=project, segment="", active=True)
    pre = policy.steps.get(name="到期前 7 天提醒")
    policy_save(actor=alice, policy=policy, active=True, valid_from=None, valid_to=None,
                steps=[{"id": pre.pk, "order": 60}])
    walk_days(D(2026, 1, 1), D(2026, 2, 20))
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "01-18 逾期 3 天电话 sent@01-19",
        "01-26 定期电话 sent@01-26",
        "01-31 到期前 15 天提醒 sent@01-31",
        "02-01 每两周欠费短信 sent@02-02",
        "02-02 定期电话 sent@02-02",
        "02-08 到期前 7 天提醒 sent@02-09",
        "02-09 定期电话 sent@02-09",
        "02-16 每两周欠费短信 pending",
    ])


def test_13_a_year_of_fortnightly_caps_with_two_dispatchers(alice):
    """Twelve months billed, nobody pays, two dispatchers poll the outbox: no arrears message within 14 days
    of the previous one, nothing sent twice, the ladder climbs to the letter; the referral waits for a
    written demand that reached the owner (nobody signs: the letter is issued again after 30 days)."""
    _, (unit,) = lone_estate(alice, months=12)
    walk_days(D(2026, 1, 1), D(2026, 12, 31), dispatchers=2)
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "01-18 逾期 3 天电话 sent@01-19",
        "01-26 定期电话 sent@01-26",
        "01-31 到期前 15 天提醒 sent@01-31",
        "02-01 每两周欠费短信 sent@02-02",
        "02-02 定期电话 sent@02-02",
        "02-08 到期前 7 天提醒 sent@02-09",
        "02-09 定期电话 sent@02-09",
        "02-16 每两周欠费短信 sent@02-24",
        "02-24 定期电话 sent@02-24",
        "02-28 到期前 15 天提醒 sent@02-28",
        "03-03 定期电话 sent@03-03",
        "03-08 到期前 7 天提醒 sent@03-09",
        "03-10 定期电话 sent@03-10",
        "03-10 每两周欠费短信 sent@03-10",
        "03-17 定期电话 sent@03-17",
        "03-24 定期电话 sent@03-24",
        "03-24 每两周欠费短信 sent@03-25",
        "03-31 到期前 15 天提醒 sent@03-31",
        "03-31 定期电话 sent@03-31",
        "04-07 定期电话 sent@04-07",
        "04-08 到期前 7 天提醒 cancelled",
        "04-08 每两周欠费短信 sent@04-08",
        "04-14 定期电话 sent@04-14",
        "04-15 欠费 3 个月挂号信 sent@04-15",
        "04-15 上门沟通 sent@04-15",
        "04-21 定期电话 sent@04-21",
        "04-22 每两周欠费短信 sent@04-25",
        "04-28 定期电话 sent@04-28",
        "04-30 到期前 15 天提醒 sent@04-30",
        "05-06 定期电话 sent@05-06",
        "05-06 上门沟通 sent@05-06",
        "05-08 到期前 7 天提醒 sent@05-08",
        "05-09 每两周欠费短信 sent@05-09",
        "05-13 定期电话 sent@05-13",
        "05-20 定期电话 sent@05-20",
        "05-23 每两周欠费短信 sent@05-25",
        "05-27 定期电话 sent@05-27",
        "05-27 上门沟通 sent@05-27",
        "05-31 到期前 15 天提醒 sent@06-01",
        "06-03 定期电话 sent@06-03",
        "06-08 到期前 7 天提醒 cancelled",
        "06-08 每两周欠费短信 sent@06-08",
        "06-10 定期电话 sent@06-10",
        "06-17 定期电话 sent@06-17",
        "06-17 上门沟通 sent@06-17",
        "06-22 每两周欠费短信 sent@06-25",
        "06-24 定期电话 sent@06-24",
        "06-30 到期前 15 天提醒 sent@06-30",
        "07-01 定期电话 sent@07-01",
        "07-08 到期前 7 天提醒 sent@07-08",
        "07-08 定期电话 sent@07-08",
        "07-08 上门沟通 sent@07-08",
        "07-09 每两周欠费短信 sent@07-09",
        "07-14 欠费 3 个月挂号信 sent@07-14",
        "07-15 定期电话 sent@07-15",
        "07-22 定期电话 sent@07-22",
        "07-23 每两周欠费短信 sent@07-25",
        "07-29 定期电话 sent@07-29",
        "07-29 上门沟通 sent@07-29",
        "07-31 到期前 15 天提醒 sent@07-31",
        "08-05 定期电话 sent@08-05",
        "08-08 到期前 7 天提醒 cancelled",
        "08-08 每两周欠费短信 sent@08-08",
        "08-12 定期电话 sent@08-12",
        "08-14 欠费 3 个月挂号信 sent@08-14",
        "08-19 定期电话 sent@08-19",
        "08-19 上门沟通 sent@08-19",
        "08-22 每两周欠费短信 sent@08-25",
        "08-26 定期电话 sent@08-26",
        "08-31 到期前 15 天提醒 sent@08-31",
        "09-02 定期电话 sent@09-02",
        "09-08 到期前 7 天提醒 cancelled",
        "09-08 每两周欠费短信 sent@09-08",
        "09-09 定期电话 sent@09-09",
        "09-09 上门沟通 sent@09-09",
        "09-14 欠费 3 个月挂号信 sent@09-14",
        "09-16 定期电话 sent@09-16",
        "09-22 每两周欠费短信 sent@09-28",
        "09-23 定期电话 sent@09-23",
        "09-30 到期前 15 天提醒 sent@09-30",
        "09-30 定期电话 sent@09-30",
        "09-30 上门沟通 sent@09-30",
        "10-08 到期前 7 天提醒 sent@10-08",
        "10-08 定期电话 sent@10-08",
        "10-12 每两周欠费短信 sent@10-12",
        "10-15 定期电话 sent@10-15",
        "10-15 欠费 3 个月挂号信 sent@10-15",
        "10-21 上门沟通 sent@10-21",
        "10-22 定期电话 sent@10-22",
        "10-26 每两周欠费短信 sent@10-26",
        "10-29 定期电话 sent@10-29",
        "10-31 到期前 15 天提醒 sent@10-31",
        "11-05 定期电话 sent@11-05",
        "11-08 到期前 7 天提醒 sent@11-09",
        "11-09 每两周欠费短信 sent@11-09",
        "11-11 上门沟通 sent@11-11",
        "11-12 定期电话 sent@11-12",
        "11-15 欠费 3 个月挂号信 sent@11-16",
        "11-19 定期电话 sent@11-19",
        "11-23 每两周欠费短信 sent@11-25",
        "11-26 定期电话 sent@11-26",
        "11-30 到期前 15 天提醒 sent@11-30",
        "12-02 上门沟通 sent@12-02",
        "12-03 定期电话 sent@12-03",
        "12-08 到期前 7 天提醒 sent@12-08",
        "12-09 每两周欠费短信 sent@12-09",
        "12-10 定期电话 sent@12-10",
        "12-16 欠费 3 个月挂号信 sent@12-16",
        "12-17 定期电话 sent@12-17",
        "12-23 每两周欠费短信 sent@12-25",
        "12-23 上门沟通 sent@12-23",
        "12-24 定期电话 sent@12-24",
        "12-31 定期电话 sent@12-31",
    ])
    from wuye.dunning import cycles

    sent = sorted(a.sent_at for a in Action.objects.filter(unit=unit, channel="sms", sent_at__isnull=False)
                  if cycles.counts_towards_message_cap(a.cycle, a.channel))
    assert sent and all((b - a).days >= 14 for a, b in zip(sent, sent[1:], strict=False))
    assert Action.objects.filter(unit=unit).values("out_id").distinct().count() == Action.objects.filter(
        unit=unit).count()


# --- the account's class -------------------------------------------------------------------------------------

def test_14_a_dead_number_makes_the_account_unreachable_and_sends_someone_to_look(alice):
    _, (unit,) = lone_estate(alice, months=1)
    walk_days(D(2026, 1, 1), D(2026, 3, 10), {
        (D(2026, 1, 19), "pm"): [contact(alice, unit, "dead_number", D(2026, 1, 19))],
    })
    # the number is dead and there is no other: the visits go on, the calls and SMS are not tried (decision 82)
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "01-18 逾期 3 天电话 sent@01-19",
        "01-20 无法联系：上门寻访 sent@01-20",
        "01-26 定期电话 cancelled",
        "02-01 每两周欠费短信 cancelled",
        "02-02 定期电话 cancelled",
        "02-03 无法联系：上门寻访 sent@02-03",
        "02-09 定期电话 cancelled",
        "02-15 每两周欠费短信 cancelled",
        "02-24 定期电话 cancelled",
        "02-24 无法联系：上门寻访 sent@02-24",
        "03-01 每两周欠费短信 cancelled",
        "03-03 定期电话 cancelled",
        "03-10 定期电话 cancelled",
        "03-10 无法联系：上门寻访 sent@03-10",
    ])


def test_15_away_is_called_daily_and_never_visited(alice):
    _, (unit,) = lone_estate(alice, months=1)
    walk_days(D(2026, 1, 1), D(2026, 2, 13), {
        (D(2026, 1, 19), "pm"): [contact(alice, unit, "away", D(2026, 1, 19))],
    })
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "01-18 逾期 3 天电话 sent@01-19",
        "01-20 异地出差：引导远程缴费 sent@01-20",
        "01-21 异地出差：引导远程缴费 sent@01-21",
        "01-22 异地出差：引导远程缴费 sent@01-22",
        "01-23 异地出差：引导远程缴费 sent@01-23",
        "01-26 定期电话 sent@01-26",
        "01-27 异地出差：引导远程缴费 sent@01-27",
        "01-28 异地出差：引导远程缴费 sent@01-28",
        "01-29 异地出差：引导远程缴费 sent@01-29",
        "01-30 异地出差：引导远程缴费 sent@01-30",
        "02-01 每两周欠费短信 sent@02-02",
        "02-02 定期电话 sent@02-02",
        "02-03 异地出差：引导远程缴费 sent@02-03",
        "02-04 异地出差：引导远程缴费 sent@02-04",
        "02-05 异地出差：引导远程缴费 sent@02-05",
        "02-06 异地出差：引导远程缴费 sent@02-06",
        "02-09 定期电话 sent@02-09",
        "02-10 异地出差：引导远程缴费 sent@02-10",
        "02-11 异地出差：引导远程缴费 sent@02-11",
        "02-12 异地出差：引导远程缴费 sent@02-12",
        "02-13 异地出差：引导远程缴费 sent@02-13",
    ])
    assert not Action.objects.filter(unit=unit, channel="visit").exists()


def test_16_hardship_is_never_referred(alice):
    """A hardship household (困难户) gets care calls every 30 days and no letter or referral, however long."""
    from wuye.dunning.choices import Segment
    from wuye.dunning.services import segment_override_set

    _, (unit,) = lone_estate(alice, months=1)
    segment_override_set(actor=alice, unit=unit, segment=Segment.HARDSHIP, reason="低保户，街道证明")
    walk_days(D(2026, 1, 1), D(2026, 8, 31))
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "01-22 关怀电话 sent@01-22",
        "02-24 关怀电话 sent@02-24",
        "03-26 关怀电话 sent@03-26",
        "04-27 关怀电话 sent@04-27",
        "05-27 关怀电话 sent@05-27",
        "06-26 关怀电话 sent@06-26",
        "07-27 关怀电话 sent@07-27",
        "08-26 关怀电话 sent@08-26",
    ])


def test_17_vacant_flat_monthly_calls_and_no_visits(alice):
    from wuye.dunning.choices import Segment
    from wuye.dunning.services import segment_override_set

    _, (unit,) = lone_estate(alice, months=1)
    segment_override_set(actor=alice, unit=unit, segment=Segment.VACANT, reason="业主常年不住")
    walk_days(D(2026, 1, 1), D(2026, 4, 30))
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "01-18 逾期 3 天电话 sent@01-19",
        "01-26 定期电话 sent@01-26",
        "02-01 每两周欠费短信 sent@02-02",
        "02-16 每两周欠费短信 sent@02-24",
        "02-25 定期电话 sent@02-25",
        "03-10 每两周欠费短信 sent@03-10",
        "03-24 每两周欠费短信 sent@03-25",
        "03-27 定期电话 sent@03-27",
        "04-08 每两周欠费短信 sent@04-08",
        "04-15 欠费 3 个月挂号信 sent@04-15",
        "04-22 每两周欠费短信 sent@04-25",
        "04-27 定期电话 sent@04-27",
    ])
    assert not Action.objects.filter(unit=unit, channel="visit").exists()


def test_18_an_owner_who_opted_out_gets_no_reminder_before_the_due_date_but_the_demand_still_goes(alice):
    from wuye.portal.models import ContactPreference

    _, (unit,) = lone_estate(alice, months=1)
    ContactPreference.objects.create(unit=unit, opt_out_non_essential=True)
    walk_days(D(2026, 1, 1), D(2026, 1, 31))
    check(log(unit), [
        "01-16 逾期短信 sent@01-16",
        "01-18 逾期 3 天电话 sent@01-19",
        "01-26 定期电话 sent@01-26",
    ])


def test_19_a_promise_kept_only_in_part_is_broken(alice):
    """Promised the whole ¥200.00 by 01-30, paid ¥100.00 on 01-29: on 01-31 the promise is broken, the
    follow-up call is made and the ladder resumes on the ¥100.00 still owed."""
    _, (unit,) = lone_estate(alice, months=1)
    walk_days(D(2026, 1, 1), D(2026, 2, 13), {
        (D(2026, 1, 19), "pm"): [contact(alice, unit, "promised", D(2026, 1, 19), promised_on=D(2026, 1, 30))],
        D(2026, 1, 29): [pay(alice, unit, 10000, D(2026, 1, 29))],
    })
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "01-18 逾期 3 天电话 sent@01-19",
        "01-29 承诺前一天提醒 sent@01-29",
        "01-31 承诺失约跟进 sent@02-02",
        "02-01 每两周欠费短信 sent@02-02",
        "02-02 定期电话 sent@02-02",
        "02-03 暂未明确：每日电话 sent@02-03",
        "02-04 暂未明确：每日电话 sent@02-04",
        "02-05 暂未明确：每日电话 sent@02-05",
        "02-06 暂未明确：每日电话 sent@02-06",
        "02-09 定期电话 sent@02-09",
        "02-10 暂未明确：每日电话 sent@02-10",
        "02-11 暂未明确：每日电话 sent@02-11",
        "02-12 暂未明确：每日电话 sent@02-12",
        "02-13 暂未明确：每日电话 sent@02-13",
    ])
    assert "100.00" in sms_texts(unit)[-1]


def test_20_office_notice_nobody_signs_goes_by_ems(alice, office):
    """An office tenant: the first written notice could not be handed to anyone (无人签收), so the EMS step
    sends it to the contact address; the later notices and the escalation follow."""
    from wuye.dunning.models import Task
    from wuye.dunning.services import task_close

    def unsigned():
        for task in Task.objects.filter(unit=office, status="open", kind="notice"):
            task_close(actor=alice, task=task, note="前台称负责人出差，无人签收", unsigned=True)

    walk_days(D(2026, 3, 1), D(2026, 4, 10), {(D(2026, 3, 13), "pm"): [unsigned]})
    check(log(office), [
        "03-01 到期前 15 天提醒 failed",
        "03-03 到期前 7 天提醒 failed",
        "03-11 逾期短信 failed",
        "03-13 第一次催缴通知书 failed@03-13",
        "03-14 无人签收改寄 EMS sent@03-16",
        "03-17 第二次催缴通知书 sent@03-17",
        "03-20 第三次催缴通知书 sent@03-20",
        "03-23 升级部门负责人 sent@03-23",
    ])


def test_21_the_year_end_campaign_ladder_in_its_window(alice):
    """The 年末专项 ladder, switched on for 11-01~12-31, is the one in force for December's bill: a written
    notice 30 days before the due date, the 7-day SMS, then the overdue SMS and the call; outside the window
    the standard ladder applies again."""
    from wuye.dunning.defaults import YEAR_END, policies_install_defaults
    from wuye.dunning.models import Policy
    from wuye.dunning.services import policy_save

    project, (unit,) = lone_estate(alice, months=1, start=D(2026, 12, 1))
    policies_install_defaults(project)
    campaign = Policy.objects.get(project=project, name=YEAR_END[0])
    policy_save(actor=alice, policy=campaign, active=True, valid_from=D(2026, 11, 1), valid_to=D(2026, 12, 31),
                steps=[])
    walk_days(D(2026, 11, 10), D(2026, 12, 31))
    check(log(unit), [
        "11-15 到期前 30 天书面通知 sent@11-16",
        "12-08 到期前 7 天提醒 sent@12-08",
        "12-16 逾期短信 sent@12-16",
        "12-18 逾期 3 天电话 sent@12-18",
    ])


def test_22_the_calls_per_day_cap_moves_the_second_call(alice):
    """With one call a day allowed, the broken-promise follow-up and the weekly call falling on the same
    Monday are made on two days."""
    from wuye.dunning.models import CollectionSettings

    project, (unit,) = lone_estate(alice, months=1)
    CollectionSettings.objects.update_or_create(project=project, defaults={"calls_per_day": 1})
    walk_days(D(2026, 1, 1), D(2026, 2, 6), {
        (D(2026, 1, 19), "pm"): [contact(alice, unit, "promised", D(2026, 1, 19), promised_on=D(2026, 1, 30))],
    })
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "01-18 逾期 3 天电话 sent@01-19",
        "01-29 承诺前一天提醒 sent@01-29",
        "01-31 承诺失约跟进 sent@02-02",
        "02-01 每两周欠费短信 sent@02-02",
        "02-02 定期电话 cancelled",
        "02-03 暂未明确：每日电话 sent@02-03",
        "02-04 暂未明确：每日电话 sent@02-04",
        "02-05 暂未明确：每日电话 sent@02-05",
        "02-06 暂未明确：每日电话 sent@02-06",
    ])


def test_23_a_villa_gets_the_shop_and_villa_ladder_with_visits_from_the_first_month(alice):
    """A villa (商铺与别墅) that does not pay: besides the calls and fortnightly SMS, someone is assigned to visit
    from 30 days overdue and every two weeks after (seed 003: 安排人员长期上门), on working days; the 3-month
    letter still comes on time."""
    from wuye.estate.models import Unit

    _, (unit,) = lone_estate(alice, months=1)
    Unit.objects.filter(pk=unit.pk).update(property_type="villa")
    walk_days(D(2026, 1, 1), D(2026, 4, 20))
    check(log(unit), [
        "01-01 到期前 15 天提醒 sent@01-04",
        "01-08 到期前 7 天提醒 sent@01-08",
        "01-16 逾期短信 sent@01-16",
        "01-18 逾期 3 天电话 sent@01-19",
        "01-26 定期电话 sent@01-26",
        "02-01 每两周欠费短信 sent@02-02",
        "02-02 定期电话 sent@02-02",
        "02-09 定期电话 sent@02-09",
        "02-14 专人上门跟进 sent@02-14",
        "02-16 每两周欠费短信 sent@02-24",
        "02-24 定期电话 sent@02-24",
        "02-28 专人上门跟进 sent@02-28",
        "03-03 定期电话 sent@03-03",
        "03-10 定期电话 sent@03-10",
        "03-10 每两周欠费短信 sent@03-10",
        "03-16 专人上门跟进 sent@03-16",
        "03-17 定期电话 sent@03-17",
        "03-24 定期电话 sent@03-24",
        "03-24 每两周欠费短信 sent@03-25",
        "03-30 专人上门跟进 sent@03-30",
        "03-31 定期电话 sent@03-31",
        "04-07 定期电话 sent@04-07",
        "04-08 每两周欠费短信 sent@04-08",
        "04-13 专人上门跟进 sent@04-13",
        "04-14 定期电话 sent@04-14",
        "04-15 欠费 3 个月挂号信 sent@04-15",
    ])
    assert set(Action.objects.filter(unit=unit).values_list("step__policy__name", flat=True)) == {"商铺与别墅催缴"}


def test_24_the_year_end_ladder_walked_to_its_referral_and_past_its_window(alice):
    """The 年末专项 ladder in force 2025-11-01~2026-02-28 for December's bill (due 12-15), never paid: the
    30-day visit, the 40-day registered letter (signed for on 01-28), the referral once the letter's deadline
    has passed — then from 03-01 the standard ladder carries on from the stage reached."""
    from tests.dunning.conftest import sign_written
    from wuye.dunning.defaults import YEAR_END, policies_install_defaults
    from wuye.dunning.models import Policy
    from wuye.dunning.services import policy_save

    project, (unit,) = lone_estate(alice, months=1, start=D(2025, 12, 1))
    policies_install_defaults(project)
    campaign = Policy.objects.get(project=project, name=YEAR_END[0])
    policy_save(actor=alice, policy=campaign, active=True, valid_from=D(2025, 11, 1), valid_to=D(2026, 2, 28),
                steps=[])
    walk_days(D(2025, 11, 10), D(2026, 3, 31), {
        (D(2026, 1, 28), "pm"): [lambda: sign_written(alice, unit, D(2026, 1, 28))],
    })
    # (the 11-15 written notice's task was still open on 01-28 and was closed as signed with the letter's)
    check(log(unit), [
        "11-15 到期前 30 天书面通知 delivered@11-17",
        "12-08 到期前 7 天提醒 sent@12-08",
        "12-16 逾期短信 sent@12-16",
        "12-18 逾期 3 天电话 sent@12-18",
        "01-14 逾期 30 天上门 sent@01-14",
        "01-24 逾期 40 天挂号信催告 delivered@01-26",
        "02-13 逾期 60 天转介律师 sent@02-13",
        "03-01 每两周欠费短信 sent@03-02",
        "03-02 定期电话 sent@03-02",
        "03-09 定期电话 sent@03-09",
        "03-16 定期电话 sent@03-16",
        "03-16 每两周欠费短信 sent@03-16",
        "03-16 上门沟通 sent@03-16",
        "03-23 定期电话 sent@03-23",
        "03-30 定期电话 sent@03-30",
        "03-30 每两周欠费短信 sent@03-30",
    ])
    referral = Action.objects.get(unit=unit, step__name="逾期 60 天转介律师")
    assert referral.periods == ["2025-12-01"]  # the period the delivered letter named
    by_policy = {(a.decided_on >= D(2026, 3, 1), a.step.policy.name)
                 for a in Action.objects.filter(unit=unit).select_related("step__policy")}
    assert by_policy == {(False, YEAR_END[0]), (True, "住宅标准催缴")}


def test_25_a_year_end_window_ending_after_its_visit_does_not_skip_the_standard_letter(alice):
    """The 年末专项 ladder in force until 01-20 reached its 30-day visit (its order 30) on 01-14; from 01-21 the
    standard ladder applies, whose order 30 is the 3-month registered letter. The episode has been through a
    visit, not a letter: the letter still goes at 3 months (decision 115) instead of waiting for the 6-month
    referral's demand-first path."""
    from wuye.dunning.defaults import YEAR_END, policies_install_defaults
    from wuye.dunning.models import Policy
    from wuye.dunning.services import policy_save

    project, (unit,) = lone_estate(alice, months=1, start=D(2025, 12, 1))
    policies_install_defaults(project)
    campaign = Policy.objects.get(project=project, name=YEAR_END[0])
    policy_save(actor=alice, policy=campaign, active=True, valid_from=D(2025, 11, 1), valid_to=D(2026, 1, 20),
                steps=[])
    walk_days(D(2025, 12, 1), D(2026, 3, 20))
    check(log(unit), [
        "12-01 到期前 30 天书面通知 sent@12-01",
        "12-08 到期前 7 天提醒 sent@12-08",
        "12-16 逾期短信 sent@12-16",
        "12-18 逾期 3 天电话 sent@12-18",
        "01-14 逾期 30 天上门 sent@01-14",
        "01-21 定期电话 sent@01-21",
        "01-21 每两周欠费短信 sent@01-26",
        "01-28 定期电话 sent@01-28",
        "02-04 定期电话 sent@02-04",
        "02-09 每两周欠费短信 sent@02-09",
        "02-11 定期电话 sent@02-11",
        "02-23 每两周欠费短信 sent@02-25",
        "02-24 定期电话 sent@02-24",
        "03-03 定期电话 sent@03-03",
        "03-10 定期电话 sent@03-10",
        "03-11 每两周欠费短信 sent@03-11",
        "03-15 欠费 3 个月挂号信 sent@03-16",
        "03-16 上门沟通 sent@03-16",
        "03-17 定期电话 sent@03-17",
    ])


# --- prepaid money running out (issue 13 item 10, seed 001, decision 116) -------------------------------------

def bill_on(actor, project, day: dt.date):
    """The bill run of ``day``'s month, at 01:00 that day: prepaid money (received before it) pays the new
    lines at once."""
    def run():
        from wuye.billing.models import Bill

        posted = bill_generate(actor=actor, project=project, period=day.replace(day=1), on=day)
        Bill.objects.filter(run=posted).update(created_at=dt.datetime(day.year, day.month, day.day, 1, tzinfo=CST))
    return run


PREPAID_ON = D(2025, 12, 20)


def prepay(actor, unit, fen: int, day: dt.date = PREPAID_ON) -> None:
    """Money received before any bill it will pay (it sits on the unit's prepaid balance)."""
    payment_record(actor=actor, unit=unit, amount_fen=fen, method=PaymentMethod.CASH,
                   paid_at=dt.datetime(day.year, day.month, day.day, 10, tzinfo=CST))


def monthly_bills(actor, project, months) -> dict:
    return {D(2026, m, 1): [bill_on(actor, project, D(2026, m, 1))] for m in months}


RUN_OUT = "预存款用完提醒"


def test_26_prepaid_money_that_runs_out_exactly_is_told_once_per_run_out(alice):
    """¥600.00 prepaid on 2025-12-20 pays January–March in full at their bill runs; the balance is 0. April's
    bill (04-01) is the first it leaves wholly unpaid: one 预存款用完提醒, decided that morning and sent at 10:00
    (not by the 07:30 dispatcher, before contact hours), none from a re-run, a full re-run or a second
    dispatcher, and no plain reminder for that due date. The owner tops up ¥400.00 on 04-10 (April paid, ¥200.00
    left); May's bill takes the rest; June's is left unpaid: a second message, for the second run-out. June is
    paid at the desk, so July's bill is an ordinary one (the plain reminders)."""
    from wuye.dunning.dispatch import dispatch
    from wuye.dunning.engine import dunning_run

    project, (unit,) = lone_estate(alice, months=0)
    prepay(alice, unit, 60000)
    early = []

    def dispatch_before_hours():
        dispatch(now=dt.datetime(2026, 4, 1, 7, 30, tzinfo=CST))
        early.extend(Action.objects.filter(unit=unit, step__name=RUN_OUT).values_list("status", flat=True))

    def rerun():
        dunning_run(as_of=D(2026, 4, 1))
        dunning_run(as_of=D(2026, 4, 1), full=True)
        dispatch(now=dt.datetime(2026, 4, 1, 15, 0, tzinfo=CST))

    events = monthly_bills(alice, project, range(1, 8))
    events.update({
        (D(2026, 4, 1), "mid"): [dispatch_before_hours],
        (D(2026, 4, 1), "pm"): [rerun],
        D(2026, 4, 10): [pay(alice, unit, 40000, D(2026, 4, 10))],
        D(2026, 6, 12): [pay(alice, unit, 20000, D(2026, 6, 12))],
        D(2026, 7, 10): [pay(alice, unit, 20000, D(2026, 7, 10))],
    })
    walk_days(D(2026, 1, 1), D(2026, 7, 20), events, dispatchers=2)
    check(log(unit), [
        "04-01 预存款用完提醒 sent@04-01",
        "06-01 预存款用完提醒 sent@06-01",
        "07-01 到期前 15 天提醒 sent@07-01",
        "07-08 到期前 7 天提醒 sent@07-08",
    ])
    assert early == ["pending"]
    sent = Action.objects.filter(unit=unit, step__name=RUN_OUT).order_by("decided_on")
    assert [a.sent_at.astimezone(CST).hour for a in sent] == [10, 10]
    assert [a.cycle for a in sent] == [f"R2026-04-15/p{a.party_id}" for a in sent[:1]] + [
        f"R2026-06-15/p{a.party_id}" for a in sent[1:]]
    texts = [a.content for a in sent]
    assert all("预存物业费已用完" in t and "200.00" in t and "继续预存" in t for t in texts)
    assert not any(w in t for t in texts for w in ("逾期", "违约金", "欠费", "催缴", "律师"))  # a notice, not a demand


def test_27_after_a_sale_the_buyer_is_not_told_about_the_sellers_prepaid_money(alice):
    """Two flats sold on 03-01. The seller of 1-101 prepaid ¥500.00: January and February took ¥400.00 and the
    ¥100.00 left on the unit paid half of the buyer's first bill (prepaid money stays with the unit). The seller
    of 1-102 prepaid ¥400.00, used up exactly on February. Neither buyer is told that "their" prepaid money ran
    out — it was never theirs (个人信息保护法): each gets the plain reminders for their own bill; the sellers,
    with nothing open, get nothing."""
    from wuye.estate.choices import ContactKind, ContactSource, OccupantRole
    from wuye.estate.models import Occupancy, Party
    from wuye.estate.services import contact_add, occupancy_end, occupancy_start

    project, units = lone_estate(alice, units=2, months=0)
    prepay(alice, units[0], 50000)
    prepay(alice, units[1], 40000)
    sellers = [Party.objects.get(occupancies__unit=u) for u in units]
    buyers = [Party.objects.create(name=f"买方{n}", natural_key=f"buyer:{n}") for n in (1, 2)]

    def sell():
        for n, (unit, seller, buyer) in enumerate(zip(units, sellers, buyers, strict=True), start=1):
            occupancy_end(actor=alice, occupancy=Occupancy.objects.get(unit=unit, party=seller), end=D(2026, 2, 28))
            occupancy_start(actor=alice, unit=unit, party=buyer, role=OccupantRole.OWNER, start=D(2026, 3, 1))
            contact_add(actor=alice, party=buyer, kind=ContactKind.MOBILE, value=f"1370000000{n}",
                        source=ContactSource.OWNER, is_primary=True)

    events = monthly_bills(alice, project, range(1, 4))
    events[D(2026, 3, 1)] = [sell, *events[D(2026, 3, 1)]]
    events[D(2026, 3, 13)] = [pay_own(alice, units[0], buyers[0], 10000, D(2026, 3, 13)),
                              pay_own(alice, units[1], buyers[1], 20000, D(2026, 3, 13))]
    walk_days(D(2026, 1, 1), D(2026, 3, 20), events)
    march = [u.bills.get(period_start=D(2026, 3, 1)) for u in units]
    assert [(b.party_id, b.settled_fen) for b in march] == [(buyers[0].pk, 20000), (buyers[1].pk, 20000)]
    assert march[0].allocations.filter(payment__paid_at__lt=march[0].created_at).exists()  # the seller's money
    for unit, seller, buyer in zip(units, sellers, buyers, strict=True):
        check(log(unit, party=seller), [])
        check(log(unit, party=buyer), [
            "03-01 到期前 15 天提醒 sent@03-02",
            "03-08 到期前 7 天提醒 sent@03-09",
        ])
        assert not any("预存" in t for t in sms_texts(unit, party=buyer))


def test_28_an_owner_who_opted_out_is_not_told_their_prepaid_money_ran_out(alice):
    """Two owners prepaid ¥400.00 each, used up on February; 1-101 opted out of reminders in the portal (decision
    114), 1-102 did not. March's bill: 1-102 gets the run-out message, 1-101 nothing (the run records why)."""
    from wuye.dunning.engine import dunning_run
    from wuye.portal.models import ContactPreference

    project, units = lone_estate(alice, units=2, months=0)
    for unit in units:
        prepay(alice, unit, 40000)
    ContactPreference.objects.create(unit=units[0], opt_out_non_essential=True)
    events = monthly_bills(alice, project, range(1, 4))
    events[D(2026, 3, 12)] = [pay(alice, u, 20000, D(2026, 3, 12)) for u in units]
    why = {}
    events[(D(2026, 3, 2), "pm")] = [lambda: why.update(
        (o.unit_id, o.note) for o in dunning_run(as_of=D(2026, 3, 2), dry_run=True).outcomes)]
    walk_days(D(2026, 1, 1), D(2026, 3, 20), events)
    check(log(units[0]), [])
    check(log(units[1]), ["03-01 预存款用完提醒 sent@03-02"])
    assert why[units[0].pk] == "业主已选择不接收到期前提醒"
