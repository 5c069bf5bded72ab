"""The dispatcher's ``triage``: one claimed action, the batch's reads, the project's rules and the time in,
a verdict out — no database. Each row of the table is one situation an action can be in at send time."""

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from wuye.billing.selectors import AccountSummary
from wuye.dunning import cycles
from wuye.dunning.dispatch import Do, Item, Reads, Rules, _note, triage
from wuye.dunning.engine import HoldInfo
from wuye.dunning.models import Step

pytestmark = pytest.mark.once  # no database: scripts/test.sh runs it in one pass only

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=SH)
TODAY = NOW.date()
UNIT, SELLER, BUYER, EPISODE = 7, 70, 71, 700
EP = cycles.Episode(dt.date(2026, 1, 16), SELLER)


def item(**over) -> Item:
    channel = over.pop("channel", "sms")
    values = dict(pk=1, project_id=1, unit_id=UNIT, party_id=SELLER, step_id=11, cycle=cycles.stage(EP),
                  episode_id=EPISODE, channel=channel, attempts=1, out_id="wy1", assigned_to_id=None,
                  unit_code="1-101", stage=10, not_before=NOW - dt.timedelta(hours=1), decided_on=TODAY,
                  next_attempt_at=None, periods=(), step=Step(name="逾期短信", channel=channel, order=10))
    values.update(over)
    return Item(**values)


def summary(party=SELLER, overdue=17_900, open_=17_900, **over) -> AccountSummary:
    values = dict(unit_id=UNIT, overdue_fen=overdue, open_fen=open_, oldest_due=dt.date(2026, 1, 15),
                  days_overdue=46, overdue_periods=2, prepaid_fen=0, party_id=party, next_due=dt.date(2026, 3, 15),
                  upcoming_fen=8_950)
    values.update(over)
    return AccountSummary(**values)


def reads(**over) -> Reads:
    r = Reads(today=TODAY, summaries={(UNIT, SELLER): summary(), (UNIT, BUYER): summary(party=BUYER)},
              contacts={(SELLER, "mobile"): (1, "13800000001"), (BUYER, "mobile"): (2, "13900000002")},
              liable={UNIT: BUYER})
    return dataclasses.replace(r, **over)


RULES = Rules(message_min_days=14, calls_per_day=2, stage_message_max_age_days=14, timezone="Asia/Shanghai")
PROMISE = HoldInfo(id=5, kind="promise", starts_on=dt.date(2026, 2, 20), until=dt.date(2026, 3, 10), outcome="",
                   reason="", party_id=SELLER)
BUYERS_PROMISE = dataclasses.replace(PROMISE, party_id=BUYER)
HELD_BACK = {"next_attempt_at": NOW - dt.timedelta(minutes=1)}  # a dispatcher handed it back before
SENT_3_DAYS_AGO = {(UNIT, SELLER): (NOW - dt.timedelta(days=3), False)}
IN_FLIGHT = {(UNIT, SELLER): (NOW - dt.timedelta(seconds=5), True)}

TABLE = [
    # (case, item overrides, reads overrides, rules overrides, expected verdict, words in the reason)
    ("an overdue SMS with a number goes to the debtor's own number", {}, {}, {}, Do.SEND, ""),
    ("paid since the decision: cancelled", {}, {"summaries": {(UNIT, SELLER): summary(overdue=0, open_=0)}}, {},
     Do.CANCEL, "已缴清"),
    ("paid the overdue part, a bill not yet due is open: an arrears action is cancelled", {},
     {"summaries": {(UNIT, SELLER): summary(overdue=0, open_=8_950)}}, {}, Do.CANCEL, "已缴清"),
    ("a pre-due reminder still has an open amount to remind of",
     {"cycle": cycles.pre_due(dt.date(2026, 3, 15), SELLER), "episode_id": None},
     {"summaries": {(UNIT, SELLER): summary(overdue=0, open_=8_950)}}, {}, Do.SEND, ""),
    ("a pre-due reminder for an owner who opted out is dropped",
     {"cycle": cycles.pre_due(dt.date(2026, 3, 15), SELLER), "episode_id": None}, {"declined": {UNIT}}, {},
     Do.CANCEL, "不接收"),
    ("so is the notice that the prepaid money ran out (also a reminder before a due date)",
     {"cycle": cycles.prepaid_out(dt.date(2026, 3, 15), SELLER), "episode_id": None}, {"declined": {UNIT}}, {},
     Do.CANCEL, "不接收"),
    ("the debtor's own promise holds the ladder", {}, {"holds": {UNIT: [PROMISE]}}, {}, Do.CANCEL, "承诺"),
    ("another debtor's promise on the same unit does not", {}, {"holds": {UNIT: [BUYERS_PROMISE]}}, {}, Do.SEND, ""),
    ("the reminder on the eve of a promise goes while the promise holds",
     {"cycle": cycles.promise_eve(5)}, {"holds": {UNIT: [PROMISE]}}, {}, Do.SEND, ""),
    ("a held-back stage message when a later stage was decided: superseded", HELD_BACK,
     {"highest_stage": {EPISODE: 20}}, {}, Do.SUPERSEDE, "更高阶段"),
    ("pushed by the engine's cap, then a later stage: superseded",
     {"not_before": NOW - dt.timedelta(hours=1), "decided_on": TODAY - dt.timedelta(days=9)},
     {"highest_stage": {EPISODE: 20}}, {}, Do.SUPERSEDE, "更高阶段"),
    ("never held back, a later stage decided the same day: they go in order", {}, {"highest_stage": {EPISODE: 20}},
     {}, Do.SEND, ""),
    ("a later stage already went out: never after it", {}, {"highest_stage": {EPISODE: 20},
                                                            "highest_sent_stage": {EPISODE: 20}}, {},
     Do.SUPERSEDE, "已发出"),
    ("a later stage of another episode changes nothing", HELD_BACK, {"highest_stage": {EPISODE + 1: 20}}, {},
     Do.SEND, ""),
    ("held back for 15 days: expired", {**HELD_BACK, "not_before": NOW - dt.timedelta(days=15)}, {}, {},
     Do.EXPIRE, "14 天"),
    ("the age limit is the project's setting", {**HELD_BACK, "not_before": NOW - dt.timedelta(days=15)}, {},
     {"stage_message_max_age_days": 30}, Do.SEND, ""),
    ("a repeat is not a stage: it neither expires nor is superseded",
     {**HELD_BACK, "cycle": cycles.repeat(EP, dt.date(2026, 2, 1)), "not_before": NOW - dt.timedelta(days=20)},
     {"highest_stage": {EPISODE: 20}, "highest_sent_stage": {EPISODE: 20}}, {}, Do.SEND, ""),
    ("an arrears message 3 days after the last one waits for the 14-day cap", {},
     {"last_message": SENT_3_DAYS_AGO}, {}, Do.DEFER, "频次"),
    ("another dispatcher is sending this account's message: wait for it", {}, {"last_message": IN_FLIGHT}, {},
     Do.DEFER, "正在发送"),
    ("the buyer's message is not held by the seller's cap", {"party_id": BUYER},
     {"last_message": SENT_3_DAYS_AGO}, {}, Do.SEND, ""),
    ("a pre-due reminder is not held by the cap",
     {"cycle": cycles.pre_due(dt.date(2026, 3, 15), SELLER), "episode_id": None},
     {"last_message": SENT_3_DAYS_AGO}, {}, Do.SEND, ""),
    ("the promise-eve reminder the owner asked for is not held by the cap",
     {"cycle": cycles.promise_eve(5)}, {"last_message": SENT_3_DAYS_AGO, "holds": {UNIT: [PROMISE]}}, {},
     Do.SEND, ""),
    ("a broken promise counts: held by the cap", {"cycle": cycles.promise_broken(5)},
     {"last_message": SENT_3_DAYS_AGO}, {}, Do.DEFER, "频次"),
    ("a call is not a message: no message cap", {"channel": "call"}, {"last_message": SENT_3_DAYS_AGO}, {},
     Do.TASK, ""),
    ("a third call today waits for tomorrow", {"channel": "call"}, {"calls_today": {(UNIT, SELLER): 2}}, {},
     Do.DEFER, "电话次数"),
    ("a third routine (repeating) call today is dropped, not queued",
     {"channel": "call", "cycle": cycles.repeat(EP, TODAY)}, {"calls_today": {(UNIT, SELLER): 2}}, {},
     Do.CANCEL, "例行电话"),
    ("no live number: failed without a send", {}, {"contacts": {}}, {}, Do.FAIL, "联系方式"),
    ("a row decided before debtors goes to the party liable today", {"party_id": None},
     {"summaries": {(UNIT, BUYER): summary(party=BUYER)}}, {}, Do.SEND, ""),
    ("a registered letter becomes a task", {"channel": "registered"}, {}, {}, Do.TASK, ""),
    # a number known dead (空号/停机/错号) and no live one: a visit to find a new number, once
    ("an SMS to a number flagged dead becomes a visit", {}, {"contacts": {}, "dead": {(SELLER, "mobile")}}, {},
     Do.TASK, "上门寻访"),
    ("a call to a number flagged dead becomes a visit", {"channel": "call"},
     {"contacts": {}, "dead": {(SELLER, "mobile")}}, {}, Do.TASK, "上门寻访"),
    ("a dead number and a visit already open: nothing more", {"channel": "call"},
     {"contacts": {}, "dead": {(SELLER, "mobile")}, "open_visits": {UNIT}}, {}, Do.CANCEL, "已安排上门寻访"),
    ("a dead mobile but a live landline: the call goes to the collector as a call", {"channel": "call"},
     {"contacts": {(SELLER, "landline"): (3, "057188880000")}, "dead": {(SELLER, "mobile")}}, {}, Do.TASK, ""),
    ("a dead old number beside a live new one: the SMS goes", {}, {"dead": {(SELLER, "mobile")}}, {}, Do.SEND, ""),
    ("another debtor's dead number does not reroute this one's SMS", {}, {"contacts": {}, "dead": {(BUYER, "mobile")}},
     {}, Do.FAIL, "联系方式"),
    ("a letter is not rerouted by a dead phone", {"channel": "registered"},
     {"contacts": {}, "dead": {(SELLER, "mobile")}}, {}, Do.TASK, ""),
]


@pytest.mark.parametrize(("case", "item_over", "reads_over", "rules_over", "expected", "why"), TABLE,
                         ids=[row[0] for row in TABLE])
def test_triage(case, item_over, reads_over, rules_over, expected, why):
    verdict = triage(item(**item_over), reads(**reads_over), dataclasses.replace(RULES, **rules_over), NOW)
    assert verdict.do == expected, verdict
    assert why in verdict.why
    assert (verdict.task_kind == "visit") == ("上门寻访" in why and expected == Do.TASK)


def test_the_cap_waits_exactly_until_the_gap_has_passed():
    verdict = triage(item(), reads(last_message=SENT_3_DAYS_AGO), RULES, NOW)
    assert verdict.until == NOW + dt.timedelta(days=11)
    in_flight = triage(item(), reads(last_message=IN_FLIGHT), RULES, NOW)
    assert NOW < in_flight.until <= NOW + dt.timedelta(minutes=10)  # the next dispatch looks again


def test_a_call_cap_hands_back_to_eight_the_next_morning():
    verdict = triage(item(channel="call"), reads(calls_today={(UNIT, SELLER): 2}), RULES, NOW)
    assert verdict.until == dt.datetime(2026, 3, 3, 8, 0, tzinfo=SH)


def test_the_address_is_the_debtors_own_not_the_new_owners():
    assert triage(item(), reads(), RULES, NOW).address == "13800000001"
    assert triage(item(party_id=BUYER), reads(), RULES, NOW).address == "13900000002"


def test_a_send_in_the_batch_holds_the_next_message_of_that_account_only():
    r = reads()
    first = triage(item(), r, RULES, NOW)
    _note(first, item(), r, NOW)
    assert triage(item(pk=2, cycle=cycles.repeat(EP, TODAY)), r, RULES, NOW).do == Do.DEFER
    assert triage(item(pk=3, party_id=BUYER), r, RULES, NOW).do == Do.SEND
