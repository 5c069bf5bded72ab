"""The dispatcher: windows, caps, cancellation between decision and send, crash recovery, evidence."""

import datetime as dt
import hashlib
import json
from zoneinfo import ZoneInfo

import pytest

from wuye.billing.services import payment_record
from wuye.dunning.choices import ActionStatus
from wuye.dunning.dispatch import dispatch, receipt_record
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action, ActionEvent, Task
from wuye.estate.models import ContactPoint
from wuye.notify.base import Backend, Outcome, Result
from wuye.notify.file import FileBackend

D = dt.date
SH = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=SH)


@pytest.fixture
def outbox(tmp_path, settings):
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    return tmp_path / "outbox"


def sms_lines(outbox):
    path = outbox / "sms.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_no_sms_at_half_past_nine_in_the_evening(arrears_estate, outbox):
    dunning_run(as_of=D(2026, 1, 16))
    late = dispatch(now=at(2026, 1, 16, 21, 30))
    assert late.sent == 0 and late.deferred == 36
    assert sms_lines(outbox) == []
    # handed back with the next opening: 09:00 the next day (a Saturday: messages may go on Saturdays)
    action = Action.objects.filter(channel="sms").first()
    assert action.next_attempt_at == at(2026, 1, 17, 9, 0)
    morning = dispatch(now=at(2026, 1, 17, 9, 5))
    # the six unsold units: the developer has no mobile on file, so those fail without a send
    assert (morning.sent, morning.failed) == (30, 6)
    assert len(sms_lines(outbox)) == 30


def test_evidence_is_kept_for_each_message(arrears_estate, outbox):
    unit = arrears_estate["units"][0]
    dunning_run(as_of=D(2026, 1, 16))
    dispatch(now=at(2026, 1, 16, 10, 0))
    action = Action.objects.get(unit=unit, channel="sms")
    assert action.status == ActionStatus.SENT
    assert action.address == "13800000001"
    assert "¥179.00" in action.content and "测试花园1-101" in action.content
    assert action.content_sha256 == hashlib.sha256(action.content.encode()).hexdigest()
    assert action.periods == ["2026-01-01"]
    assert action.template_version == 1 and action.provider == "file"
    assert action.deadline == D(2026, 1, 23)
    assert [e.status for e in ActionEvent.objects.filter(action=action)] == [ActionStatus.SENT]
    line = next(x for x in sms_lines(outbox) if x["out_id"] == action.out_id)
    assert line["to"] == "13800000001" and line["body"] == action.content
    receipt_record(out_id=action.out_id, delivered=True, at=at(2026, 1, 16, 10, 1))
    action.refresh_from_db()
    assert action.status == ActionStatus.DELIVERED and action.delivered_at == at(2026, 1, 16, 10, 1)


def test_a_payment_between_decision_and_dispatch_cancels_the_send(alice, arrears_estate, outbox):
    unit = arrears_estate["units"][0]
    dunning_run(as_of=D(2026, 1, 16))
    payment_record(actor=alice, unit=unit, amount_fen=17_900, method="cash",
                   paid_at=dt.datetime(2026, 1, 16, 8, 30, tzinfo=SH))
    result = dispatch(now=at(2026, 1, 16, 10, 0))
    assert result.sent == 29
    assert unit.pk not in {a.unit_id for a in Action.objects.filter(status=ActionStatus.SENT)}
    assert "13800000001" not in {x["to"] for x in sms_lines(outbox)}


def test_a_payment_the_signal_missed_is_still_caught_at_dispatch(arrears_estate, outbox):
    """Money posted outside the services (e.g. a direct import) is seen by the dispatcher's own re-check."""
    from django.db.models import F

    from wuye.billing.models import Bill

    unit = arrears_estate["units"][0]
    dunning_run(as_of=D(2026, 1, 16))
    Bill.objects.filter(unit=unit, period_start=D(2026, 1, 1)).update(settled_fen=F("amount_fen"))
    dispatch(now=at(2026, 1, 16, 10, 0))
    assert Action.objects.get(unit=unit, channel="sms").status == ActionStatus.CANCELLED


def test_national_day_defers_and_the_make_up_saturday_works(arrears_estate, outbox):
    dunning_run(as_of=D(2026, 9, 30))  # call tasks and messages are decided
    holiday = dispatch(now=at(2026, 10, 1, 10, 0))
    assert holiday.sent == 0 and holiday.deferred > 0  # not even office work on a public holiday
    calls = Action.objects.filter(channel="call")
    assert calls.exists()
    assert {a.next_attempt_at for a in calls} == {at(2026, 10, 8, 9, 0)}
    # 10 October is a Saturday but a make-up working day: calls may be made
    dunning_run(as_of=D(2026, 10, 10))
    dispatch(now=at(2026, 10, 10, 9, 30))
    assert Task.objects.filter(kind="call", due_on=D(2026, 10, 10)).exists()


def test_a_call_step_becomes_a_task_for_the_collector(arrears_estate, bob_territory, outbox):
    unit = arrears_estate["units"][0]  # building 1: bob's territory
    dunning_run(as_of=D(2026, 1, 19))  # day 4: the first call
    dispatch(now=at(2026, 1, 19, 9, 30))
    task = Task.objects.get(unit=unit, kind="call")
    assert task.assigned_to == bob_territory and task.due_on == D(2026, 1, 19)
    far = arrears_estate["units"][-1]  # building 3: nobody's territory
    assert Task.objects.get(unit=far, kind="call").assigned_to is None


class Flaky(Backend):
    name = "flaky"

    def __init__(self, outcome):
        super().__init__()
        self.outcome, self.calls = outcome, 0

    def send(self, message):
        self.calls += 1
        return Result(self.outcome, detail="gateway says no", dead_address="empty" if self.outcome ==
                      Outcome.PERMANENT else "")


def test_transient_failures_retry_with_backoff(arrears_estate, outbox):
    dunning_run(as_of=D(2026, 1, 16))
    flaky = Flaky(Outcome.TRANSIENT)
    first = dispatch(now=at(2026, 1, 16, 10, 0), backends={"sms": flaky})
    assert first.sent == 0 and first.deferred == 30
    action = Action.objects.filter(channel="sms").first()
    assert action.status == ActionStatus.PENDING and action.attempts == 1
    assert action.next_attempt_at == at(2026, 1, 16, 10, 1)
    again = dispatch(now=at(2026, 1, 16, 10, 0, ), backends={"sms": flaky})
    assert again.sent == again.deferred == 0  # not yet time
    dispatch(now=at(2026, 1, 16, 10, 2), backends={"sms": FileBackend()})
    action.refresh_from_db()
    assert action.status == ActionStatus.SENT and action.attempts == 2


def test_an_empty_number_is_flagged_and_not_tried_again(arrears_estate, outbox):
    unit = arrears_estate["units"][0]
    dunning_run(as_of=D(2026, 1, 16))
    result = dispatch(now=at(2026, 1, 16, 10, 0), backends={"sms": Flaky(Outcome.PERMANENT)})
    assert result.failed == 36
    assert ContactPoint.objects.get(value="13800000001").validity == "empty"
    assert Action.objects.get(unit=unit, channel="sms").status == ActionStatus.FAILED
    # the next message finds the number dead and no other: not tried — a visit to find a new number instead
    # (decision 82), without calling the gateway
    dunning_run(as_of=D(2026, 2, 1))
    never = Flaky(Outcome.SENT)
    dispatch(now=at(2026, 2, 2, 10, 0), backends={"sms": never})
    rerouted = Action.objects.get(unit=unit, channel="sms", decided_on=D(2026, 2, 1), episode__isnull=False)
    assert rerouted.status == ActionStatus.CANCELLED and "号码已失效" in rerouted.last_error
    assert unit.tasks.filter(kind="visit", status="open").count() == 1


def test_a_crash_between_send_and_record_never_sends_twice(arrears_estate, outbox, settings):
    settings.WUYE_SEND_LEASE_SECONDS = 60
    dunning_run(as_of=D(2026, 1, 16))
    file = FileBackend()
    # simulate the crash: the file backend sent two messages, then the process died before recording
    claimed = list(Action.objects.filter(channel="sms").order_by("pk")[:3])
    from wuye.notify.base import Message

    file.send_many([Message("sms", "138", "x", a.out_id) for a in claimed[:2]])
    Action.objects.filter(pk__in=[a.pk for a in claimed]).update(
        status=ActionStatus.SENDING, claimed_at=at(2026, 1, 16, 9, 59), claimed_by="dead")
    dispatch(now=at(2026, 1, 16, 10, 5))
    statuses = [Action.objects.get(pk=a.pk).status for a in claimed]
    assert statuses == [ActionStatus.SENT, ActionStatus.SENT, ActionStatus.SENT]
    sent_ids = [x["out_id"] for x in sms_lines(outbox)]
    assert len(sent_ids) == len(set(sent_ids)) == 30  # the two that went before the crash went once


def test_a_provider_that_cannot_tell_leaves_it_for_a_person(arrears_estate, outbox, settings):
    settings.WUYE_SEND_LEASE_SECONDS = 60
    dunning_run(as_of=D(2026, 1, 16))
    action = Action.objects.filter(channel="sms").first()
    Action.objects.filter(pk=action.pk).update(status=ActionStatus.SENDING, claimed_at=at(2026, 1, 16, 9, 0))
    blind = Flaky(Outcome.SENT)  # was_sent → None
    result = dispatch(now=at(2026, 1, 16, 10, 0), backends={"sms": blind})
    assert result.uncertain == 1
    action.refresh_from_db()
    assert action.status == ActionStatus.UNCERTAIN
    assert blind.calls == 29  # everyone else, not this one


def test_two_dispatchers_never_take_the_same_action(arrears_estate, outbox):
    from wuye.dunning.dispatch import _claim

    dunning_run(as_of=D(2026, 1, 16))
    ids = list(Action.objects.filter(channel="sms").values_list("pk", flat=True))
    first = _claim(ids, at(2026, 1, 16, 10), "a", {})
    second = _claim(ids, at(2026, 1, 16, 10), "b", {})
    assert len(first) == 36 and second == []


def test_each_reminder_carries_the_units_pay_link_which_opens_its_bill(arrears_estate, outbox, client, alice):
    import re

    from django.utils import timezone

    from wuye.dunning.dispatch import pay_links
    from wuye.portal.links import link_revoke, token_hash
    from wuye.portal.models import PayLink

    unit, other = arrears_estate["units"][0], arrears_estate["units"][1]
    dunning_run(as_of=D(2026, 1, 16))
    dispatch(now=at(2026, 1, 16, 10, 0))
    action = Action.objects.get(unit=unit, channel="sms", status=ActionStatus.SENT)
    found = re.search(r"在线缴费 (https?://\S+/p/([\w-]{16})/)", action.content)
    assert found, action.content
    url, token = found.groups()
    link = PayLink.objects.get(token_hash=token_hash(token))
    assert link.unit_id == unit.pk and link.created_by_label == "job:dispatch"
    # one link per unit for the day, however many messages; asking again the same day gives the same URL,
    # so a message re-rendered after a crash is the same text with the same content hash
    sent_units = set(Action.objects.filter(channel="sms", status=ActionStatus.SENT).values_list("unit_id", flat=True))
    assert PayLink.objects.count() == len(sent_units)
    assert pay_links([unit.pk], D(2026, 1, 16)) == {unit.pk: url}
    assert pay_links([unit.pk], D(2026, 1, 17))[unit.pk] != url
    # the owner opens it (the estate lives in January 2026: move the expiry past today's real clock)
    PayLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() + dt.timedelta(days=1))
    page = client.get(url[url.index("/p/"):])
    assert page.status_code == 200 and unit.code in page.content.decode()
    # a revoked link is never handed out again: that day's messages go without one
    other_link = PayLink.objects.get(unit=other)
    link_revoke(actor=alice, link=other_link, reason="业主反映链接被转发")
    assert pay_links([other.pk, unit.pk], D(2026, 1, 16)) == {unit.pk: url}


def test_a_send_that_timed_out_is_left_for_a_person_and_never_resent_blind(arrears_estate, alice, client, outbox):
    """The real Tencent SDK posts to a local gateway that takes the request but answers too late: the
    message may have gone out, so the dispatcher neither retries it nor calls it failed."""
    from tests.notify.conftest import Answer, FakeProvider
    from wuye.notify.sms_tencent import TencentSMSBackend

    gateway = FakeProvider()
    gateway.answer = Answer(delay=1.0, body={})
    try:
        sdk = TencentSMSBackend(secret_id="AKIDtest", secret_key="secret-test", app_id="1400006666",
                                endpoint=gateway.endpoint, scheme="http", timeout=0.2, template_id="1")
        unit = arrears_estate["units"][0]
        dunning_run(as_of=D(2026, 1, 16))
        ids = list(Action.objects.filter(channel="sms", unit=unit).values_list("pk", flat=True))
        Action.objects.filter(channel="sms").exclude(pk__in=ids).update(status=ActionStatus.CANCELLED)
        result = dispatch(now=at(2026, 1, 16, 10, 0), backends={"sms": sdk})
        assert result.uncertain == 1 and len(gateway.requests) == 1
        action = Action.objects.get(pk=ids[0])
        assert action.status == ActionStatus.UNCERTAIN and "人工核实" in action.last_error
        dispatch(now=at(2026, 1, 16, 11, 0), backends={"sms": sdk})
        assert len(gateway.requests) == 1  # not tried again
    finally:
        gateway.close()
    # the office checks the gateway's console: it did not go out → queued again, sent by the next round
    client.force_login(alice)
    refused = client.post(f"/collection/outbox/{action.pk}/verify/", {"went_out": "0", "note": ""})
    assert refused.status_code == 302
    action.refresh_from_db()
    assert action.status == ActionStatus.UNCERTAIN  # no reason given: nothing changed
    client.post(f"/collection/outbox/{action.pk}/verify/", {"went_out": "0", "note": "平台发送记录中查无此条"})
    action.refresh_from_db()
    assert action.status == ActionStatus.PENDING
    assert action.events.order_by("-pk").first().actor_label == "user:alice"
    dispatch(now=at(2026, 1, 16, 11, 5))
    action.refresh_from_db()
    assert action.status == ActionStatus.SENT
    assert [x["out_id"] for x in sms_lines(outbox)] == [action.out_id]
