"""The acceptance scenarios of the collector's day, each over dates with the real engine."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from wuye.billing.services import payment_record
from wuye.casework import services
from wuye.casework.models import Dispute, Promise
from wuye.dunning.choices import AccountClass, HoldReason
from wuye.dunning.dispatch import dispatch
from wuye.dunning.models import Episode, HeldAccount, Task
from wuye.estate.choices import ContactValidity
from wuye.estate.models import ContactPoint

from .conftest import D, names, run

SH = ZoneInfo("Asia/Shanghai")


def klass(unit):
    return Episode.objects.get(unit=unit, closed_on__isnull=True).account_class


def test_an_undecided_account_is_called_every_working_day_until_a_promise_is_recorded(unit, bob_territory):
    run(D(2026, 1, 16), D(2026, 1, 18))
    services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="no_answer", on=D(2026, 1, 18))
    assert klass(unit) == AccountClass.UNDECIDED
    run(D(2026, 1, 19), D(2026, 1, 20), D(2026, 1, 21))
    daily = [d for d, n in names(unit) if n == "暂未明确：每日电话"]
    assert daily == [D(2026, 1, 19), D(2026, 1, 20), D(2026, 1, 21)]
    services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="promised",
                            promised_on=D(2026, 1, 30), amount_fen=17_900, on=D(2026, 1, 21))
    assert klass(unit) == AccountClass.PROMISED
    run(D(2026, 1, 22), D(2026, 1, 23))
    assert [d for d, n in names(unit) if n == "暂未明确：每日电话"] == daily


def test_a_promise_is_reminded_the_day_before_and_broken_the_day_after_re_engages_the_ladder(unit, bob_territory):
    run(D(2026, 1, 16), D(2026, 1, 18))
    promise = services.promise_make(actor=bob_territory, unit=unit, promised_on=D(2026, 1, 30), amount_fen=17_900,
                                    on=D(2026, 1, 19))
    run(*[D(2026, 1, d) for d in range(19, 29)])
    assert [n for d, n in names(unit) if D(2026, 1, 19) <= d <= D(2026, 1, 28)] == []
    run(D(2026, 1, 29))
    assert names(unit, decided_on=D(2026, 1, 29)) == [(D(2026, 1, 29), "承诺前一天提醒")]
    run(D(2026, 1, 30), D(2026, 1, 31))
    assert "承诺失约跟进" in [n for _, n in names(unit, decided_on=D(2026, 1, 31))]
    promise.refresh_from_db()
    assert promise.state == "broken" and promise.hold.outcome == "broken"
    run(D(2026, 2, 1), D(2026, 2, 2))  # the hold is gone: the ladder goes on at the first working day
    assert "定期电话" in [n for _, n in names(unit, decided_on=D(2026, 2, 2))]
    from wuye.casework.selectors import worklist

    row = worklist(user=bob_territory, day=D(2026, 1, 31)).rows[0]
    assert row.unit_id == unit.pk and row.priority == 1 and "未兑现" in row.why


def test_a_payment_covering_the_promised_amount_keeps_the_promise(unit, bob_territory, alice):
    run(D(2026, 1, 16), D(2026, 2, 16))  # two months overdue
    promise = services.promise_make(actor=bob_territory, unit=unit, promised_on=D(2026, 2, 25), amount_fen=17_900,
                                    on=D(2026, 2, 17))
    payment_record(actor=alice, unit=unit, amount_fen=17_900, method="cash",
                   paid_at=dt.datetime(2026, 2, 20, 10, tzinfo=SH))
    promise.refresh_from_db()
    assert promise.state == "kept"
    assert Episode.objects.filter(unit=unit, closed_on__isnull=True).exists()  # still owes February
    run(D(2026, 2, 24), D(2026, 2, 26))
    assert "承诺前一天提醒" not in [n for _, n in names(unit)] and "承诺失约跟进" not in [n for _, n in names(unit)]


def test_a_dead_number_is_flagged_and_the_account_becomes_unreachable_with_a_visit_task(unit, bob_territory, outbox):
    run(D(2026, 1, 16), D(2026, 1, 18))
    phone = ContactPoint.objects.get(party__occupancies__unit=unit, kind="mobile")
    services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="dead_number",
                            contact_point=phone, on=D(2026, 1, 19), note="提示空号")
    phone.refresh_from_db()
    assert phone.validity == ContactValidity.EMPTY
    assert klass(unit) == AccountClass.UNREACHABLE
    run(D(2026, 1, 20))
    assert (D(2026, 1, 20), "无法联系：上门寻访") in names(unit)
    dispatch(now=dt.datetime(2026, 1, 20, 10, 0, tzinfo=SH))
    task = Task.objects.get(unit=unit, kind="visit")
    assert task.assigned_to == bob_territory


def test_a_dispute_with_a_work_order_holds_the_ladder_and_resolving_it_resumes(unit, bob_territory, alice, make_user):
    from wuye.accounts.choices import Role

    engineer = make_user("gong", Role.ENGINEERING)
    run(D(2026, 1, 16), D(2026, 1, 18))
    services.contact_record(actor=bob_territory, unit=unit, channel="visit", outcome="refused",
                            reason="house_quality", note="卫生间顶棚漏水三个月没人修", on=D(2026, 1, 19))
    dispute = Dispute.objects.get(unit=unit)
    assert klass(unit) == AccountClass.REFUSING and dispute.hold_until == D(2026, 2, 18)
    wo = services.work_order_open(actor=alice, dispute=dispute, title="查漏并修复楼上防水", due_on=D(2026, 2, 5),
                                  on=D(2026, 1, 19))
    run(D(2026, 1, 25), D(2026, 2, 1), D(2026, 2, 8))
    assert HeldAccount.objects.filter(unit=unit, reason=HoldReason.DISPUTE).count() == 3
    assert [n for d, n in names(unit, episode__isnull=False) if d > D(2026, 1, 18)] == []
    # never the pre-due reminders of new bills
    assert names(unit, decided_on=D(2026, 2, 8), episode__isnull=True) == [(D(2026, 2, 8), "到期前 7 天提醒")]
    with pytest.raises(ValidationError) as err:
        services.dispute_resolve(actor=alice, dispute=dispute, note="已修好", on=D(2026, 2, 9))
    assert "工单" in str(err.value)
    services.work_order_update(actor=engineer, work_order=wo, status="done", note="更换防水层，闭水试验合格")
    services.dispute_resolve(actor=alice, dispute=dispute, note="维修完成，业主确认", on=D(2026, 2, 9))
    dispute.refresh_from_db()
    assert dispute.status == "resolved" and dispute.hold.released_on == D(2026, 2, 9)
    assert klass(unit) == AccountClass.UNDECIDED
    run(D(2026, 2, 10))
    resumed = [n for _, n in names(unit, decided_on=D(2026, 2, 10))]
    assert "暂未明确：每日电话" in resumed or "定期电话" in resumed


def test_a_dispute_whose_hold_date_passes_stops_holding(unit, bob_territory):
    run(D(2026, 1, 16))
    dispute = services.dispute_open(actor=bob_territory, unit=unit, reason="fee_level", description="嫌收费贵",
                                    on=D(2026, 1, 17), hold_until=D(2026, 1, 24))
    assert services.dispute_holds_expire(as_of=D(2026, 1, 24)) == 0
    assert services.dispute_holds_expire(as_of=D(2026, 1, 25)) == 1
    dispute.refresh_from_db()
    assert dispute.status == "open" and dispute.hold.released_on == D(2026, 1, 25)
    run(D(2026, 1, 25))
    assert not HeldAccount.objects.filter(unit=unit, run_date=D(2026, 1, 25)).exists()


def test_a_developer_warranty_issue_is_labelled_and_gets_no_company_work_order(unit, bob_territory, alice):
    run(D(2026, 1, 16))
    with pytest.raises(ValidationError) as err:
        services.dispute_open(actor=bob_territory, unit=unit, reason="service", description="保洁差",
                              developer_warranty=True, on=D(2026, 1, 17))
    assert "developer_warranty" in err.value.message_dict
    dispute = services.dispute_open(actor=bob_territory, unit=unit, reason="house_quality",
                                    description="外墙渗水", developer_warranty=True, on=D(2026, 1, 17))
    with pytest.raises(ValidationError) as err:
        services.work_order_open(actor=alice, dispute=dispute, title="修外墙", due_on=D(2026, 2, 1),
                                 on=D(2026, 1, 17))
    assert "开发商" in str(err.value)


def test_promises_validate_date_and_amount_in_fen(unit, bob_territory):
    run(D(2026, 1, 16))
    with pytest.raises(ValidationError) as err:
        services.promise_make(actor=bob_territory, unit=unit, promised_on=D(2026, 1, 10), on=D(2026, 1, 17))
    assert "promised_on" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        services.promise_make(actor=bob_territory, unit=unit, promised_on=D(2026, 1, 20), amount_fen=12.5,
                              on=D(2026, 1, 17))
    assert "整数" in err.value.message_dict["amount_fen"][0]
    with pytest.raises(ValidationError) as err:
        services.promise_make(actor=bob_territory, unit=unit, promised_on=D(2026, 1, 20), amount_fen=10**9,
                              on=D(2026, 1, 17))
    assert "不能超过" in err.value.message_dict["amount_fen"][0]
    first = services.promise_make(actor=bob_territory, unit=unit, promised_on=D(2026, 1, 20), on=D(2026, 1, 17))
    second = services.promise_make(actor=bob_territory, unit=unit, promised_on=D(2026, 1, 25), on=D(2026, 1, 18))
    first.refresh_from_db()
    assert first.state == "withdrawn" and second.state == "open"
    assert Promise.objects.filter(unit=unit).count() == 2


def test_the_demo_history_is_recorded_through_the_services(arrears_estate, bob_territory, alice):
    from wuye.casework.demo import demo_casework
    from wuye.casework.models import ContactAttempt, WorkOrder

    run(D(2026, 1, 16))
    n = demo_casework(collector="bob", manager="alice", accounts=12)
    assert n >= 10 and ContactAttempt.objects.filter(made_by=bob_territory).count() == n
    assert Promise.objects.exists() and Dispute.objects.exists() and WorkOrder.objects.count() == 1
    assert demo_casework(collector="bob", manager="alice") == 0  # once only


def test_a_broken_promise_moves_the_account_to_undecided_and_counts_against_the_owner(unit, bob_territory, client):
    from wuye.accounts.models import AuditEvent
    from wuye.casework.selectors import worklist
    from wuye.casework.tasks import settle_broken_promises

    run(D(2026, 1, 16), D(2026, 1, 18))
    promise = services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="promised",
                                      promised_on=D(2026, 1, 25), amount_fen=17_900, on=D(2026, 1, 19)).promises.get()
    assert promise.party is not None and klass(unit) == AccountClass.PROMISED
    assert services.promises_broken_settle(as_of=D(2026, 1, 25)) == 0  # nothing broken yet
    run(*[D(2026, 1, d) for d in range(19, 27)])
    promise.refresh_from_db()
    assert promise.state == "broken"
    settle_broken_promises.call_local()  # the hourly job
    promise.refresh_from_db()
    assert promise.broken_settled_on is not None
    assert klass(unit) == AccountClass.UNDECIDED
    event = AuditEvent.objects.filter(verb="dunning.account_class", object_id=str(unit.pk)).first()
    assert event.after["account_class"] == AccountClass.UNDECIDED and "失约" in event.after["reason"]
    assert AuditEvent.objects.filter(verb="casework.promise_broken", object_id=str(unit.pk)).count() == 1
    assert services.promises_broken_settle(as_of=D(2026, 1, 27)) == 0  # once only
    # the engine reads the class: undecided accounts are called every working day
    run(D(2026, 1, 27), D(2026, 1, 28), D(2026, 1, 29))
    assert "定期电话" in [n for _, n in names(unit, decided_on=D(2026, 1, 27))]  # the ladder goes on at once
    assert [d for d, n in names(unit) if n == "暂未明确：每日电话"] == [D(2026, 1, 28), D(2026, 1, 29)]
    # the owner's record: the worklist row and the case page show the broken promise
    row = next(r for r in worklist(user=bob_territory, day=D(2026, 1, 28)).rows if r.unit_id == unit.pk)
    assert row.broken_promises == 1
    client.force_login(bob_territory)
    assert "失约 1 次" in client.get("/casework/?date=2026-01-28").content.decode()
    page = client.get(f"/casework/units/{unit.pk}/").content.decode()
    assert 'data-testid="broken-promises"' in page and "业主失约 1 次" in page


def test_the_run_that_finds_a_promise_broken_reclasses_the_account_at_once(unit, bob_territory,
                                                                          django_capture_on_commit_callbacks):
    run(D(2026, 1, 16), D(2026, 1, 18))
    services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="promised",
                            promised_on=D(2026, 1, 22), amount_fen=17_900, on=D(2026, 1, 19))
    run(*[D(2026, 1, d) for d in range(19, 23)])
    assert klass(unit) == AccountClass.PROMISED
    with django_capture_on_commit_callbacks(execute=True):
        run(D(2026, 1, 23))  # the day after the date, unpaid: dunning signals, casework reclasses
    assert klass(unit) == AccountClass.UNDECIDED
    assert Promise.objects.get(unit=unit).broken_settled_on == D(2026, 1, 23)


def test_a_contact_after_the_promise_that_set_another_class_is_kept_when_the_promise_breaks(unit, bob_territory):
    run(D(2026, 1, 16), D(2026, 1, 18))
    services.promise_make(actor=bob_territory, unit=unit, promised_on=D(2026, 1, 22), on=D(2026, 1, 19))
    # the owner says on the 21st that they are away for work; the promise itself stands
    services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="away", on=D(2026, 1, 21))
    assert klass(unit) == AccountClass.AWAY
    run(*[D(2026, 1, d) for d in range(19, 24)])
    promise = Promise.objects.get(unit=unit)
    assert promise.state == "broken"
    assert services.promises_broken_settle(as_of=D(2026, 1, 23)) == 1
    assert klass(unit) == AccountClass.AWAY  # the later contact's class stands
    from wuye.accounts.models import AuditEvent

    event = AuditEvent.objects.get(verb="casework.promise_broken", object_id=str(unit.pk))
    assert event.after["class_moved"] is False and event.after["later_contact"]


def test_an_away_account_is_called_every_working_day_and_steered_to_remote_payment(unit, bob_territory, outbox):
    run(D(2026, 1, 16), D(2026, 1, 18))
    services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="away", on=D(2026, 1, 19),
                            note="在深圳工作，春节才回")
    assert klass(unit) == AccountClass.AWAY
    run(*[D(2026, 1, d) for d in range(20, 27)])
    away = [d for d, n in names(unit) if n == "异地出差：引导远程缴费"]
    # daily on working days (seed 001: owners away are called often), 24–25 January is a weekend; on the 26th
    # the ladder's own weekly call is that day's one call
    assert away == [D(2026, 1, d) for d in (20, 21, 22, 23)]
    assert (D(2026, 1, 26), "定期电话") in names(unit)
    dispatch(now=dt.datetime(2026, 1, 20, 10, 0, tzinfo=SH))
    task = Task.objects.get(unit=unit, action__step__name="异地出差：引导远程缴费")
    assert task.kind == "call" and task.assigned_to == bob_territory
    assert "转账" in task.detail and "缴费链接" in task.detail
    # not while undecided: the class drives it
    assert "异地出差：引导远程缴费" not in [n for d, n in names(unit) if d < D(2026, 1, 20)]


def test_an_unreachable_accounts_visit_task_says_to_look_for_new_contacts_first(unit, bob_territory, outbox):
    run(D(2026, 1, 16), D(2026, 1, 18))
    phone = ContactPoint.objects.get(party__occupancies__unit=unit, kind="mobile")
    services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="dead_number",
                            contact_point=phone, on=D(2026, 1, 19))
    run(D(2026, 1, 20))
    dispatch(now=dt.datetime(2026, 1, 20, 10, 0, tzinfo=SH))
    task = Task.objects.get(unit=unit, kind="visit")
    assert "无法联系" in task.title and "找新号码" in task.detail and "邻居" in task.detail


def test_a_refusing_account_is_reported_to_the_manager_and_escalated_when_the_hold_lapses(
        unit, bob_territory, alice, client, outbox):
    run(D(2026, 1, 16), D(2026, 1, 18))
    services.contact_record(actor=bob_territory, unit=unit, channel="visit", outcome="refused", reason="fee_level",
                            note="认为物业费比周边贵", on=D(2026, 1, 19), hold_until=D(2026, 1, 26))
    assert klass(unit) == AccountClass.REFUSING
    client.force_login(alice)  # the manager sees the case at once, with its reason
    page = client.get("/casework/desk/escalations/").content.decode()
    assert unit.code in page and "收费标准" in page
    run(D(2026, 1, 20))
    assert "特殊拒交：报经理" not in [n for _, n in names(unit)]  # held while the dispute is looked at
    services.dispute_holds_expire(as_of=D(2026, 1, 27))  # unresolved past its hold date
    run(D(2026, 1, 27))
    assert (D(2026, 1, 27), "特殊拒交：报经理") in names(unit)
    dispatch(now=dt.datetime(2026, 1, 27, 10, 0, tzinfo=SH))
    task = Task.objects.get(unit=unit, kind="escalate")
    assert task.assignee_role == "manager"
    assert str(task.pk) in client.get("/casework/desk/escalations/").content.decode()


def test_the_undecided_accounts_call_tasks_come_each_working_day_and_one_call_answers_them(unit, bob_territory,
                                                                                         outbox):
    """Over two weeks with a weekend: each working day bob has a daily-call task due that day; none is due on
    Saturday or Sunday; the day's call closes every call task already due (a call decided over the weekend too);
    once a promise is recorded no more daily calls come."""
    from chinese_calendar import is_workday

    from wuye.dunning.models import Action

    run(D(2026, 1, 16), D(2026, 1, 18))
    services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="no_answer", on=D(2026, 1, 18))
    daily = Task.objects.filter(unit=unit, kind="call", action__step__name="暂未明确：每日电话")
    calls = Task.objects.filter(unit=unit, kind="call")  # the daily call, or the weekly one on its day
    for n in range(19, 31):
        day = D(2026, 1, n)
        run(day)
        dispatch(now=dt.datetime(day.year, day.month, day.day, 10, 0, tzinfo=SH))
        if not is_workday(day):
            assert not calls.filter(due_on=day).exists(), day
            continue
        if day < D(2026, 1, 28):
            assert calls.filter(due_on=day, status="open", assigned_to=bob_territory).exists(), day
            services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="no_answer", on=day)
            assert not Task.objects.filter(unit=unit, kind="call", status="open", due_on__lte=day).exists(), day
        elif day == D(2026, 1, 28):
            services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="promised",
                                    promised_on=D(2026, 2, 6), amount_fen=17_900, on=day)
            assert klass(unit) == AccountClass.PROMISED
            assert not Task.objects.filter(unit=unit, kind="call", status="open", due_on__lte=day).exists()
    assert not Action.objects.filter(unit=unit, step__name="暂未明确：每日电话", decided_on__gt=D(2026, 1, 28)).exists()
    assert set(daily.values_list("status", flat=True)) == {"done"}
