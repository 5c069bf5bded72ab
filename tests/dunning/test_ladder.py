"""Worked scenarios of the daily run, each over dates."""

import datetime as dt

from wuye.billing.services import payment_record
from wuye.dunning.choices import ActionStatus, HoldKind, HoldReason
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action, Episode, HeldAccount
from wuye.dunning.services import hold_place, hold_release

from .conftest import dispatch_on, names, sign_written

D = dt.date


def run(*days):
    for day in days:
        dunning_run(as_of=day)


def test_the_residential_ladder_from_reminder_to_lawyer_referral(alice, arrears_estate):
    unit = arrears_estate["units"][0]
    run(D(2025, 12, 31), D(2026, 1, 8), D(2026, 1, 16), D(2026, 1, 18), D(2026, 1, 25), D(2026, 1, 26),
        D(2026, 2, 1), D(2026, 4, 16))
    dispatch_on(D(2026, 4, 16))
    assert sign_written(alice, unit, D(2026, 4, 18))  # the registered letter's receipt stub comes back
    run(D(2026, 7, 14))
    got = names(unit)
    assert got[:4] == [
        (D(2025, 12, 31), "到期前 15 天提醒"),
        (D(2026, 1, 8), "到期前 7 天提醒"),
        (D(2026, 1, 16), "逾期短信"),
        (D(2026, 1, 18), "逾期 3 天电话"),
    ]
    arrears = [g for g in got if g[1] not in ("到期前 15 天提醒", "到期前 7 天提醒")]
    # day 10 (a Sunday): the weekly call starts on the first working day after it
    assert (D(2026, 1, 25), "定期电话") not in arrears and (D(2026, 1, 26), "定期电话") in arrears
    assert (D(2026, 2, 1), "每两周欠费短信") in arrears
    assert (D(2026, 4, 16), "欠费 3 个月挂号信") in arrears and (D(2026, 4, 16), "上门沟通") in arrears
    assert (D(2026, 7, 14), "律师函转介") in arrears
    assert [n for _, n in arrears].count("律师函转介") == 1
    referral = Action.objects.get(unit=unit, step__name="律师函转介")
    assert referral.channel == "referral" and referral.stage == 40
    # every arrears action belongs to the one open episode, which began on the first overdue day
    assert Episode.objects.get(unit=unit).opened_on == D(2026, 1, 16)


def test_an_account_first_seen_deep_in_arrears_starts_where_it_is(alice, arrears_estate):
    unit = arrears_estate["units"][0]
    # 186 days overdue: not the first SMS, and not straight to the referral either — a referral rests on a
    # written demand that reached the debtor (民法典 944(2)), so the registered letter comes first
    run(D(2026, 7, 20))
    stages = ("逾期短信", "逾期 3 天电话", "欠费 3 个月挂号信", "律师函转介")
    assert [n for _, n in names(unit) if n in stages] == ["欠费 3 个月挂号信"]
    dispatch_on(D(2026, 7, 20))
    run(D(2026, 7, 21), D(2026, 7, 25))  # the letter is on its way: nothing more
    assert [n for _, n in names(unit) if n in stages] == ["欠费 3 个月挂号信"]
    sign_written(alice, unit, D(2026, 7, 24))
    run(D(2026, 8, 3))  # deadline (7 days, working days) passed: now the referral
    assert [n for _, n in names(unit) if n in stages] == ["欠费 3 个月挂号信", "律师函转介"]
    referral = Action.objects.get(unit=unit, step__name="律师函转介")
    # it refers exactly the periods the letter named (January–July 2026 were overdue on 20 July)
    assert referral.periods == [f"2026-0{m}-01" for m in range(1, 8)]


def test_running_twice_the_same_day_creates_nothing_new(arrears_estate):
    first = dunning_run(as_of=D(2026, 1, 18))
    second = dunning_run(as_of=D(2026, 1, 18))
    assert first.actions_created > 0
    assert second.actions_created == 0
    assert second.accounts_in_arrears == first.accounts_in_arrears == 36


def test_a_paid_account_is_never_contacted_again(alice, arrears_estate):
    unit = arrears_estate["units"][0]
    run(D(2026, 1, 16), D(2026, 1, 18))
    pending = Action.objects.filter(unit=unit, status=ActionStatus.PENDING).count()
    assert pending == 2
    # pays everything that is due (January), leaving nothing overdue
    payment_record(actor=alice, unit=unit, amount_fen=17_900, method="cash",
                   paid_at=dt.datetime(2026, 1, 19, 10, tzinfo=dt.UTC))
    assert not Action.objects.filter(unit=unit, status=ActionStatus.PENDING, episode__isnull=False).exists()
    assert Action.objects.filter(unit=unit, status=ActionStatus.CANCELLED).count() == 2
    assert Episode.objects.get(unit=unit).closed_on is not None
    run(D(2026, 1, 20), D(2026, 1, 25), D(2026, 2, 1))
    assert not Action.objects.filter(unit=unit, decided_on__gte=D(2026, 1, 20), episode__isnull=False).exists()


def test_a_dispute_holds_escalation_and_release_resumes_at_the_right_step(alice, arrears_estate):
    unit = arrears_estate["units"][0]
    run(D(2026, 1, 16), D(2026, 1, 18))  # SMS, call
    hold_place(actor=alice, unit=unit, kind=HoldKind.DISPUTE, reason="漏水未修", starts_on=D(2026, 1, 19))
    run(D(2026, 1, 25), D(2026, 2, 1), D(2026, 2, 8))
    assert HeldAccount.objects.filter(unit=unit, reason=HoldReason.DISPUTE).count() == 3
    arrears = [n for d, n in names(unit, episode__isnull=False) if d > D(2026, 1, 18)]
    assert arrears == []
    # pre-due reminders of new bills still go out during the dispute
    assert names(unit, decided_on=D(2026, 2, 8), episode__isnull=True) == [(D(2026, 2, 8), "到期前 7 天提醒")]
    hold_release(actor=alice, hold=unit.holds.get(), note="已维修", on=D(2026, 2, 9))
    run(D(2026, 2, 10))
    resumed = [n for d, n in names(unit) if d == D(2026, 2, 10)]
    # back where it was: no second overdue SMS or first call; the repeating steps pick up
    assert "逾期短信" not in resumed and "逾期 3 天电话" not in resumed
    assert "定期电话" in resumed


def test_a_promise_suppresses_calls_until_the_day_before(alice, arrears_estate):
    unit = arrears_estate["units"][0]
    run(D(2026, 1, 16), D(2026, 1, 18))
    hold_place(actor=alice, unit=unit, kind=HoldKind.PROMISE, reason="月底发工资后缴", until=D(2026, 1, 30),
               starts_on=D(2026, 1, 19))
    run(*[D(2026, 1, d) for d in range(19, 29)])
    assert [n for d, n in names(unit) if D(2026, 1, 19) <= d <= D(2026, 1, 28)] == []
    run(D(2026, 1, 29))
    assert names(unit, decided_on=D(2026, 1, 29)) == [(D(2026, 1, 29), "承诺前一天提醒")]
    run(D(2026, 1, 30))
    assert names(unit, decided_on=D(2026, 1, 30)) == []  # the promised day itself: still waiting
    run(D(2026, 1, 31))
    got = [n for _, n in names(unit, decided_on=D(2026, 1, 31))]
    assert "承诺失约跟进" in got
    assert unit.holds.get().outcome == "broken"


def test_an_installment_plan_in_good_standing_holds_the_ladder(alice, arrears_estate):
    from wuye.billing.installments import equal_schedule, installment_request

    unit = arrears_estate["units"][0]
    run(D(2026, 1, 16))
    from django.utils import timezone

    first = max(D(2026, 12, 1), timezone.localdate() + dt.timedelta(days=1))  # a plan cannot start in the past
    installment_request(  # a manager's request is approved at once
        actor=alice, unit=unit, schedule=equal_schedule(17_900 * 7, 7, first),
                               reason="失业，分七期")
    result = dunning_run(as_of=D(2026, 11, 28))
    assert HeldAccount.objects.get(unit=unit, run_date=D(2026, 11, 28)).reason == HoldReason.INSTALLMENT
    assert result.held == 1
    assert names(unit, decided_on=D(2026, 11, 28)) == []
    other = arrears_estate["units"][1]  # not held: its ladder moves (a written demand before any referral)
    assert "欠费 3 个月挂号信" in [n for _, n in names(other, decided_on=D(2026, 11, 28))]


def test_a_rerun_decides_from_the_state_at_the_start_of_the_day(arrears_estate):
    """The first run fires the day-3 call stage; a re-run must not then see that stage as reached and add
    the weekly call beside it (found by the 2,000-unit benchmark)."""
    day = D(2026, 1, 26)  # day 11: both the first-call stage and the weekly repeat are due
    first = dunning_run(as_of=day)
    second = dunning_run(as_of=day)
    assert first.actions_created > 0 and second.actions_created == 0


def test_the_account_class_drives_follow_up_an_undecided_account_is_called_every_day(alice, arrears_estate):
    from wuye.dunning.choices import AccountClass
    from wuye.dunning.services import account_class_set

    unit = arrears_estate["units"][0]
    run(D(2026, 1, 16), D(2026, 1, 18))  # SMS, first call
    assert account_class_set(actor=alice, unit=unit, account_class=AccountClass.UNDECIDED, on=D(2026, 1, 18),
                             reason="无人接听") is not None
    run(D(2026, 1, 19), D(2026, 1, 20), D(2026, 1, 21))
    daily = [d for d, n in names(unit) if n == "暂未明确：每日电话"]
    assert daily == [D(2026, 1, 19), D(2026, 1, 20), D(2026, 1, 21)]
    # a promise date moves the account to "promised": the daily calls stop
    account_class_set(actor=alice, unit=unit, account_class=AccountClass.PROMISED, on=D(2026, 1, 21))
    run(D(2026, 1, 22), D(2026, 1, 23))
    assert [d for d, n in names(unit) if n == "暂未明确：每日电话"] == daily
    # another unit, never classed, never gets the class-only steps
    other = arrears_estate["units"][1]
    assert not [n for _, n in names(other) if n.startswith(("暂未明确", "无法联系", "特殊拒交"))]


def test_an_unknown_class_is_refused_and_a_unit_not_in_arrears_has_no_class(alice, arrears_estate):
    import pytest
    from django.core.exceptions import ValidationError

    from wuye.dunning.services import account_class_set

    unit = arrears_estate["units"][0]
    run(D(2026, 1, 16))
    with pytest.raises(ValidationError):
        account_class_set(actor=alice, unit=unit, account_class="bogus")
    assert account_class_set(actor=alice, unit=arrears_estate["units"][0], account_class="away") is not None
    paid = Episode.objects.get(unit=unit)
    Episode.objects.filter(pk=paid.pk).update(closed_on=D(2026, 1, 17))
    assert account_class_set(actor=alice, unit=unit, account_class="away") is None


def test_an_owner_who_opted_out_gets_no_pre_due_reminder_but_still_the_overdue_demand(arrears_estate, tmp_path,
                                                                                        settings):
    from zoneinfo import ZoneInfo

    from wuye.dunning.dispatch import dispatch
    from wuye.portal.models import ContactPreference

    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    unit, later = arrears_estate["units"][0], arrears_estate["units"][1]
    ContactPreference.objects.create(unit=unit, opt_out_non_essential=True)
    run(D(2025, 12, 31))
    dry = dunning_run(as_of=D(2026, 1, 8), dry_run=True)  # what would happen, with the reason
    assert next(o for o in dry.outcomes if o.unit_id == unit.pk).note == "业主已选择不接收到期前提醒"
    run(D(2026, 1, 8))
    assert not Action.objects.filter(unit=unit).exists()
    assert [n for _, n in names(later)] == ["到期前 15 天提醒", "到期前 7 天提醒"]
    # opting out after the decision: the dispatcher drops the reminder it was about to send
    ContactPreference.objects.create(unit=later, opt_out_non_essential=True)
    dispatch(now=dt.datetime(2026, 1, 8, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    dropped = Action.objects.get(unit=later, decided_on=D(2026, 1, 8))
    assert dropped.status == ActionStatus.CANCELLED and dropped.last_error == "业主已选择不接收到期前提醒"
    # the demand for overdue fees is not a courtesy message: it still goes
    run(D(2026, 1, 16))
    assert names(unit) == [(D(2026, 1, 16), "逾期短信")]


def test_segments_follow_the_liable_owner_in_force(estate):
    """An investor owner puts the unit in the vacant/investor segment, an owner living elsewhere in the
    remote one; when the flagged owner sold, the new owner's (unflagged) record decides."""
    from wuye.dunning.choices import Segment
    from wuye.dunning.engine import segments_for
    from wuye.estate.models import Occupancy, Party, Unit

    project = estate["project"]
    Unit.objects.filter(project=project).update(state="self")
    investor_unit, away_unit, sold_unit = estate["units"][0], estate["units"][1], estate["units"][2]
    Party.objects.filter(occupancies__unit=investor_unit).update(is_investor=True)
    Party.objects.filter(occupancies__unit=away_unit).update(lives_elsewhere=True)
    Party.objects.filter(occupancies__unit=sold_unit).update(is_investor=True)
    buyer = Party.objects.create(name="新业主", natural_key="t:buyer")
    Occupancy.objects.filter(unit=sold_unit).update(end=D(2025, 6, 30))
    Occupancy.objects.create(unit=sold_unit, party=buyer, role="owner", start=D(2025, 7, 1))
    whole = segments_for(project, D(2026, 1, 16))
    assert whole[investor_unit.pk] == Segment.VACANT
    assert whole[away_unit.pk] == Segment.ELSEWHERE
    assert whole[sold_unit.pk] == Segment.RESIDENTIAL
    assert whole[estate["units"][3].pk] == Segment.RESIDENTIAL
    # before the sale the investor was the one who owed
    assert segments_for(project, D(2025, 6, 1), [sold_unit.pk]) == {sold_unit.pk: Segment.VACANT}


def test_a_bulk_posting_stops_the_ladder_of_each_cleared_account_at_once(alice, arrears_estate):
    """A bank statement posts many payments and then sends ``arrears_reduced_many`` once: each account it
    cleared closes its episode, cancels pending demands and open tasks and keeps its promise; an account
    still in arrears is untouched."""
    from wuye.billing.models import Payment
    from wuye.billing.signals import arrears_reduced, arrears_reduced_many
    from wuye.dunning.receivers import _on_arrears_reduced

    paid, partly, cleared = arrears_estate["units"][0], arrears_estate["units"][1], arrears_estate["units"][2]
    run(D(2026, 1, 16), D(2026, 1, 18))
    hold_place(actor=alice, unit=paid, kind=HoldKind.PROMISE, reason="发工资后缴", until=D(2026, 1, 25),
               starts_on=D(2026, 1, 18))
    assert Action.objects.filter(unit__in=[cleared, partly], status=ActionStatus.PENDING).count() == 4
    # the bulk poster does not send the per-unit signal (that is what made statements slow)
    arrears_reduced.disconnect(dispatch_uid="dunning.arrears_reduced")
    try:
        for unit, fen in ((paid, 17_900), (cleared, 17_900), (partly, 5_000)):
            payment_record(actor=alice, unit=unit, amount_fen=fen, method="transfer", reference=f"BK{unit.pk}",
                           paid_at=dt.datetime(2026, 1, 19, 10, tzinfo=dt.UTC))
    finally:
        arrears_reduced.connect(_on_arrears_reduced, dispatch_uid="dunning.arrears_reduced")
    assert Action.objects.filter(unit=cleared, status=ActionStatus.PENDING).count() == 2  # not yet told
    day = D(2026, 1, 19)
    arrears_reduced_many.send(sender=Payment, units={paid.pk: day, cleared.pk: day, partly.pk: day})
    assert not Action.objects.filter(unit=cleared, status=ActionStatus.PENDING, episode__isnull=False).exists()
    assert Episode.objects.get(unit=cleared).closed_on == day
    assert Episode.objects.get(unit=paid).closed_on == D(2026, 1, 19)
    assert paid.holds.get().outcome == "kept"
    assert Action.objects.filter(unit=partly, status=ActionStatus.PENDING).count() == 2
    assert Episode.objects.get(unit=partly).closed_on is None


def test_daily_calls_are_decided_on_working_days_only(alice, arrears_estate):
    """A repeating call is not queued on a Saturday or Sunday (the dispatcher would only push it to Monday,
    beside Monday's own); the first working day after decides it."""
    from wuye.dunning.choices import AccountClass
    from wuye.dunning.services import account_class_set

    unit = arrears_estate["units"][0]
    run(D(2026, 1, 16), D(2026, 1, 18))
    account_class_set(actor=alice, unit=unit, account_class=AccountClass.UNDECIDED, on=D(2026, 1, 18),
                      reason="无人接听")
    run(D(2026, 1, 22), D(2026, 1, 23), D(2026, 1, 24), D(2026, 1, 25), D(2026, 1, 26))  # Thu … Mon
    calls = sorted(d for d, _ in names(unit, channel="call") if d >= D(2026, 1, 22))
    assert calls == [D(2026, 1, 22), D(2026, 1, 23), D(2026, 1, 26)]  # one call a working day, none at the weekend
