"""Issue 13 at the dispatcher: one message cap with the engine (item 8), stale stage messages (item 10), the
guardrails again at send time (item 6), the account class changed through the audited service, and each
debtor messaged at their own number after a sale."""

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from wuye.accounts.models import AuditEvent
from wuye.casework import services as casework
from wuye.dunning.choices import AccountClass, ActionStatus, Assignee, TaskKind
from wuye.dunning.dispatch import dispatch
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action, ActionEvent, CollectionSettings, Episode, MessageTemplate, Step, Task
from wuye.notify.base import Outcome

from .test_dispatch import Flaky

D = dt.date
SH = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=SH)


@pytest.fixture
def outbox(tmp_path, settings):
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    return tmp_path / "outbox"


def sms_to(outbox, number):
    path = outbox / "sms.jsonl"
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
    return [m["body"] for m in lines if m["to"] == number]


def run(*days):
    for day in days:
        dunning_run(as_of=day)


# --- item 8: one cap, the same in the engine and the dispatcher ---------------------------------------------

def test_the_promise_eve_reminder_the_owner_asked_for_is_not_held_by_the_arrears_cap(alice, arrears_estate,
                                                                                       outbox):
    """The engine never counted the reminder on the eve of a promise (``counts_towards_message_cap``); the
    dispatcher counted every action with an episode and held it back for 14 days — past the promised date."""
    unit = arrears_estate["units"][0]
    run(D(2026, 1, 16))
    dispatch(now=at(2026, 1, 16, 10))
    assert len(sms_to(outbox, "13800000001")) == 1  # the day-1 SMS
    template = MessageTemplate.objects.create(
        code="promise_eve_sms", name="承诺前一天短信", channel="sms",
        body="{company}提醒：您承诺于 {promise_date} 缴纳 {unit} 物业费 {amount}，感谢支持。")
    # the manager makes the promise reminder an SMS (every ladder of the project)
    Step.objects.filter(policy__project=arrears_estate["project"], name="承诺前一天提醒").update(
        channel="sms", template=template)
    casework.promise_make(actor=alice, unit=unit, promised_on=D(2026, 1, 24), on=D(2026, 1, 19))
    run(D(2026, 1, 23))
    result = dispatch(now=at(2026, 1, 23, 10))
    action = Action.objects.get(unit=unit, step__name="承诺前一天提醒")
    assert action.status == ActionStatus.SENT, action.last_error
    assert result.sent >= 1
    assert "2026年1月24日" in sms_to(outbox, "13800000001")[-1]


def test_a_pre_due_reminder_delays_neither_the_decision_nor_the_send_of_the_day_one_sms(billed_estate, alice,
                                                                                          outbox):
    from wuye.billing.services import bill_generate

    bill_generate(actor=alice, project=billed_estate["project"], period=D(2026, 1, 1))  # due 15 January
    unit = billed_estate["units"][0]
    run(D(2026, 1, 8))
    dispatch(now=at(2026, 1, 8, 10))
    run(D(2026, 1, 16))
    dispatch(now=at(2026, 1, 16, 10))
    sent = list(Action.objects.filter(unit=unit, channel="sms", status=ActionStatus.SENT).order_by("sent_at")
                .values_list("step__name", "sent_at"))
    assert sent == [("到期前 7 天提醒", at(2026, 1, 8, 10)), ("逾期短信", at(2026, 1, 16, 10))]


# --- item 10: a held-back stage message goes stale -----------------------------------------------------------

def test_a_held_back_stage_sms_is_superseded_when_a_later_stage_is_decided(arrears_estate, bob_territory, outbox):
    unit = arrears_estate["units"][0]
    run(D(2026, 1, 16))
    dispatch(now=at(2026, 1, 16, 21, 30))  # after hours: handed back to 09:00 the next day
    sms = Action.objects.get(unit=unit, channel="sms", episode__isnull=False)
    assert sms.status == ActionStatus.PENDING and sms.next_attempt_at == at(2026, 1, 17, 9)
    run(D(2026, 1, 17), D(2026, 1, 18))  # (no dispatcher ran on the 17th) the 3-day call is decided
    sms.refresh_from_db()
    assert sms.status == ActionStatus.SUPERSEDED and "更高阶段" in sms.last_error
    assert ActionEvent.objects.filter(action=sms, status=ActionStatus.SUPERSEDED).exists()
    dispatch(now=at(2026, 1, 19, 10))
    assert sms_to(outbox, "13800000001") == []  # never after the call
    assert Task.objects.filter(unit=unit, kind=TaskKind.CALL).exists()
    sms.refresh_from_db()
    assert sms.status == ActionStatus.SUPERSEDED and sms.sent_at is None


def test_the_dispatcher_supersedes_a_stage_sms_decided_before_a_later_one_went(arrears_estate, outbox):
    """A row the engine did not supersede (decided before the rule, or the later stage was sent first) is
    caught at send time: a stage message never goes after a later stage went out."""
    unit = arrears_estate["units"][0]
    run(D(2026, 1, 16), D(2026, 1, 18))
    sms = Action.objects.get(unit=unit, channel="sms", episode__isnull=False)
    Action.objects.filter(pk=sms.pk).update(not_before=at(2026, 1, 20, 8))  # e.g. pushed by hand
    dispatch(now=at(2026, 1, 19, 10))  # the call goes (a task)
    dispatch(now=at(2026, 1, 20, 10))
    sms.refresh_from_db()
    assert sms.status == ActionStatus.SUPERSEDED and "已发出" in sms.last_error
    assert sms_to(outbox, "13800000001") == []


def test_a_stage_sms_held_back_longer_than_the_setting_expires(arrears_estate, outbox):
    project = arrears_estate["project"]
    unit = arrears_estate["units"][0]
    CollectionSettings.objects.create(project=project, stage_message_max_age_days=5)
    run(D(2026, 1, 16))
    dispatch(now=at(2026, 1, 16, 21, 30))
    result = dispatch(now=at(2026, 1, 22, 10))  # six days after its time
    sms = Action.objects.get(unit=unit, channel="sms", episode__isnull=False)
    assert sms.status == ActionStatus.EXPIRED and "5 天" in sms.last_error
    assert result.expired == 30 + 6 and result.sent == 0
    assert sms_to(outbox, "13800000001") == []
    assert ActionEvent.objects.filter(action=sms, status=ActionStatus.EXPIRED).exists()


def test_within_the_setting_a_held_back_stage_sms_still_goes(arrears_estate, outbox):
    run(D(2026, 1, 16))
    dispatch(now=at(2026, 1, 16, 21, 30))
    dispatch(now=at(2026, 1, 17, 9, 5))
    assert len(sms_to(outbox, "13800000001")) == 1


# --- the guardrails at send time ---------------------------------------------------------------------------

def test_a_template_written_straight_to_the_database_is_blocked_at_send_and_the_manager_told(arrears_estate,
                                                                                            outbox):
    unit = arrears_estate["units"][0]
    run(D(2026, 1, 16))
    sms = Action.objects.select_related("step__template").get(unit=unit, channel="sms", episode__isnull=False)
    template = sms.step.template
    table = connection.ops.quote_name(MessageTemplate._meta.db_table)
    with connection.cursor() as cursor:  # past every door of the model: save, clean, bulk methods, update
        cursor.execute(f"UPDATE {table} SET body = %s WHERE id = %s",
                       ["{unit} 欠费 {amount}，逾期将停水停电，并在小区公示欠费名单。", template.pk])
    result = dispatch(now=at(2026, 1, 16, 10))
    sms.refresh_from_db()
    assert sms.status == ActionStatus.BLOCKED and sms.sent_at is None
    assert "停水" in sms.last_error and "未发送" in sms.last_error
    assert sms_to(outbox, "13800000001") == [] and not (outbox / "sms.jsonl").exists()
    assert (result.blocked, result.failed, result.sent) == (30, 6, 0)  # the developer has no mobile
    assert [a for a in result.alerts if template.name in a] == [f"逾期短信：模板「{template.name}」未通过合规检查，已拦截，经理已收到任务"]
    task = Task.objects.get(action=sms)
    assert task.kind == TaskKind.ESCALATE and task.assignee_role == Assignee.MANAGER
    assert template.name in task.detail and "停水" in task.detail
    assert ActionEvent.objects.filter(action=sms, status=ActionStatus.BLOCKED).exists()
    dispatch(now=at(2026, 1, 16, 11))  # parked: never retried by itself
    sms.refresh_from_db()
    assert sms.status == ActionStatus.BLOCKED


# --- the account class changes through the audited service --------------------------------------------------

def test_a_dead_number_makes_the_account_unreachable_through_the_audited_service(arrears_estate, outbox):
    unit = arrears_estate["units"][0]
    run(D(2026, 1, 16))
    dispatch(now=at(2026, 1, 16, 10), backends={"sms": Flaky(Outcome.PERMANENT)})
    episode = Episode.objects.get(unit=unit, closed_on__isnull=True)
    assert episode.account_class == AccountClass.UNREACHABLE
    event = AuditEvent.objects.filter(verb="dunning.account_class", actor_label="job:dispatch").order_by("pk")[0]
    assert event.after["account_class"] == AccountClass.UNREACHABLE and event.before == {"account_class": ""}
    assert AuditEvent.objects.filter(verb="dunning.account_class", actor_label="job:dispatch").count() == 30


# --- after a sale each debtor at their own number ---------------------------------------------------------

def test_after_a_sale_the_seller_is_messaged_at_the_sellers_number_for_the_sellers_periods(alice, billed_estate,
                                                                                          outbox):
    from wuye.billing.services import bill_generate
    from wuye.estate.choices import ContactKind, ContactSource, OccupantRole
    from wuye.estate.models import Occupancy, Party
    from wuye.estate.services import contact_add, occupancy_end, occupancy_start

    project, unit = billed_estate["project"], billed_estate["units"][0]
    seller = Party.objects.get(occupancies__unit=unit)
    for month in (1, 2, 3):
        bill_generate(actor=alice, project=project, period=D(2026, month, 1))
    occupancy_end(actor=alice, occupancy=Occupancy.objects.get(unit=unit, party=seller), end=D(2026, 3, 31))
    buyer = Party.objects.create(name="买受人", natural_key="t:buyer")
    occupancy_start(actor=alice, unit=unit, party=buyer, role=OccupantRole.OWNER, start=D(2026, 4, 1))
    contact_add(actor=alice, party=buyer, kind=ContactKind.MOBILE, value="13900000001",
                source=ContactSource.OWNER, is_primary=True)
    for month in (4, 5):
        bill_generate(actor=alice, project=project, period=D(2026, month, 1))
    run(D(2026, 5, 16))
    dispatch(now=at(2026, 5, 18, 10))
    by_party = {a.party_id: a for a in Action.objects.filter(unit=unit, channel="sms", episode__isnull=False)}
    assert by_party[seller.pk].status == by_party[buyer.pk].status == ActionStatus.SENT
    assert by_party[seller.pk].address == "13800000001" and by_party[buyer.pk].address == "13900000001"
    assert by_party[seller.pk].periods == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert by_party[buyer.pk].periods == ["2026-04-01", "2026-05-01"]
    assert len(sms_to(outbox, "13800000001")) == len(sms_to(outbox, "13900000001")) == 1


def test_the_policy_page_says_what_counts_towards_the_message_cap(alice, arrears_estate, client):
    from django.urls import reverse

    from wuye.dunning.models import Policy

    project = arrears_estate["project"]
    run(D(2026, 1, 1))  # installs the default ladders
    CollectionSettings.objects.create(project=project, arrears_message_min_days=10, stage_message_max_age_days=7)
    policy = Policy.objects.filter(project=project, segment="").first()
    client.force_login(alice)
    page = client.get(reverse("dunning:policy-detail", args=[policy.pk])).content.decode()
    assert "至少相隔 10 天" in page and "到期前提醒、承诺前一天提醒和预存款用完提醒不计入" in page
    assert "超过 7 天" in page
