"""The seams of the ladder a review found wrong (issue 13): promises that froze escalation, holds that skipped
the written demand, the buyer dunned for the seller's periods, orderings that froze a ladder, a ladder that
ended without saying so. Each test walks dates the way an account lives."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from wuye.billing.services import bill_generate
from wuye.dunning import cycles
from wuye.dunning.choices import ActionStatus, HoldKind, StepKind
from wuye.dunning.engine import dunning_run
from wuye.dunning.ladders import STEP_FIELDS, ladder_problems
from wuye.dunning.models import Action, Episode, Policy, Step
from wuye.dunning.selectors import collection_state
from wuye.dunning.services import hold_place, policy_save
from wuye.estate.choices import OccupantRole
from wuye.estate.models import Occupancy, Party
from wuye.estate.services import occupancy_end, occupancy_start

from .conftest import dispatch_on, names, sign_written

D = dt.date
STAGES = ("逾期短信", "逾期 3 天电话", "欠费 3 个月挂号信", "律师函转介")


def run(*days):
    for day in days:
        dunning_run(as_of=day)


def stage_names(unit):
    return [n for _, n in names(unit) if n in STAGES]


# --- 1. events and repeats never count as the stage reached ---------------------------------------------

def test_a_broken_promise_does_not_stop_the_ladder_reaching_the_letter_and_the_referral(alice, arrears_estate):
    """Promise reminder (order 90) and broken-promise (91) steps used to count as the stage reached: an
    account that ever promised never got the 3-month letter or the referral."""
    unit = arrears_estate["units"][0]
    run(D(2026, 1, 16), D(2026, 1, 18))
    hold_place(actor=alice, unit=unit, kind=HoldKind.PROMISE, reason="发工资后缴", until=D(2026, 2, 10),
               starts_on=D(2026, 1, 19))
    run(D(2026, 2, 9), D(2026, 2, 11))  # the eve of the date, then the day after: broken
    assert ("承诺前一天提醒" in [n for _, n in names(unit)]) and ("承诺失约跟进" in [n for _, n in names(unit)])
    run(D(2026, 4, 16))
    assert stage_names(unit) == ["逾期短信", "逾期 3 天电话", "欠费 3 个月挂号信"]
    state = collection_state(unit, as_of=D(2026, 4, 17))
    assert state.stage == 30 and state.stage_name == "欠费 3 个月挂号信"
    dispatch_on(D(2026, 4, 16))
    sign_written(alice, unit, D(2026, 4, 20))
    run(D(2026, 7, 16))
    assert stage_names(unit)[-1] == "律师函转介"
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(alice)
    body = api.get(f"/api/v1/units/{unit.pk}/collection/?as_of=2026-07-17").json()
    assert body["current_stage"] == 40 and body["current_step"] == "律师函转介"


def test_a_reminder_before_the_due_date_is_never_overdue_progress_whatever_its_order(alice, arrears_estate):
    """A pre-due step given a high order (60) used to be counted as the stage reached (its action has no
    episode and was read anyway): the overdue SMS and the call were then skipped."""
    project = arrears_estate["project"]
    unit = arrears_estate["units"][0]
    dunning_run(as_of=D(2026, 1, 1))  # installs the default ladders
    policy = Policy.objects.get(project=project, segment="", active=True)
    pre = policy.steps.get(name="到期前 7 天提醒")
    policy_save(actor=alice, policy=policy, active=True, valid_from=None, valid_to=None,
                steps=[{"id": pre.pk, "order": 60}])
    run(D(2026, 1, 8), D(2026, 1, 16), D(2026, 1, 18))
    got = names(unit)
    assert (D(2026, 1, 8), "到期前 7 天提醒") in got
    assert stage_names(unit) == ["逾期短信", "逾期 3 天电话"]


def test_the_promise_steps_never_change_the_cap_or_the_stage_in_the_key_grammar():
    assert cycles.is_progress("A2026-01-16/p3")
    for key in ("PD4", "PB11", "A2026-01-16/p3@2026-02-01", "A2026-01-16/p3:I", "D2026-02-15/p3",
                "R2026-02-15/p3", "A2026-01-16/p3:W@2026-05-01", "A2026-01-16/p3:L@2026-05-01"):
        assert not cycles.is_progress(key), key
    # hold 1 is not hold 11 (the old dispatcher matched cycle.endswith(str(hold id)))
    assert cycles.parse("PD11").hold_id == 11 and cycles.parse("PB1").hold_id == 1
    assert not cycles.counts_towards_message_cap("D2026-02-15/p3", "sms")
    assert not cycles.counts_towards_message_cap("PD4", "sms")
    assert cycles.counts_towards_message_cap("A2026-01-16/p3", "sms")
    assert not cycles.counts_towards_message_cap("A2026-01-16/p3", "call")
    with pytest.raises(ValueError):
        cycles.parse("X1")


def test_a_pay_link_sent_by_hand_counts_towards_the_cap_and_never_moves_the_ladder():
    import datetime as dt

    key = cycles.pay_link(dt.datetime(2026, 12, 4, 10, 5, 7, 123), 12)
    assert key == "M2026-12-04T100507/p12" and cycles.kind_of(key) == cycles.Kind.PAY_LINK
    parsed = cycles.parse(key)
    assert parsed.party_id == 12 and parsed.at == dt.datetime(2026, 12, 4, 10, 5, 7)
    assert cycles.counts_towards_message_cap(key, "sms") and cycles.counts_towards_message_cap(key, "wechat")
    assert not cycles.is_progress(key)


# --- the step form and policy_save refuse a ladder that would freeze ---------------------------------------

def _steps(policy):
    return [{f: getattr(st, f) for f in STEP_FIELDS} for st in policy.steps.all()]


def test_an_ordering_that_would_skip_a_stage_for_good_is_refused(alice, arrears_estate):
    project = arrears_estate["project"]
    dunning_run(as_of=D(2026, 1, 1))
    policy = Policy.objects.get(project=project, segment="", active=True)
    assert ladder_problems(_steps(policy)) == []  # the shipped ladder is sound
    referral = policy.steps.get(name="律师函转介")
    before = list(policy.steps.values_list("pk", "order"))
    with pytest.raises(ValidationError) as err:  # the referral below the day-1 SMS: it would never fire
        policy_save(actor=alice, policy=policy, active=True, valid_from=None, valid_to=None,
                    steps=[{"id": referral.pk, "order": 5}])
    assert "永远不会执行" in str(err.value)
    assert list(policy.steps.values_list("pk", "order")) == before  # nothing saved
    letter = policy.steps.get(name="欠费 3 个月挂号信")
    with pytest.raises(ValidationError) as err:  # removing the written demand leaves the referral bare
        policy_save(actor=alice, policy=policy, active=True, valid_from=None, valid_to=None,
                    steps=[{"id": letter.pk, "delete": True}])
    assert "书面催告" in str(err.value)
    with pytest.raises(ValidationError):  # a one-off stage limited to a class would jump the ladder
        policy_save(actor=alice, policy=policy, active=True, valid_from=None, valid_to=None, steps=[
            {"order": 15, "name": "拒交：报经理", "kind": StepKind.OVERDUE, "days": 1, "channel": "escalate",
             "assignee": "manager", "account_class": "refusing"}])


def test_the_policy_page_shows_why_an_ordering_is_refused_and_audits_each_changed_field(alice, arrears_estate,
                                                                                        client):
    from wuye.accounts.models import AuditEvent

    project = arrears_estate["project"]
    dunning_run(as_of=D(2026, 1, 1))
    policy = Policy.objects.get(project=project, segment="", active=True)
    call = policy.steps.get(name="逾期 3 天电话")
    policy_save(actor=alice, policy=policy, active=True, valid_from=None, valid_to=None,
                steps=[{"id": call.pk, "days": 4, "name": "逾期 4 天电话"}])
    event = AuditEvent.objects.filter(verb="dunning.policy").latest("pk")
    change = next(c for c in event.after["changes"] if c["step"] == call.pk)
    assert change["changed"] == {"days": [3, 4], "name": ["逾期 3 天电话", "逾期 4 天电话"]}

    client.force_login(alice)
    page = client.get(f"/collection/policies/{policy.pk}/")
    formset = page.context["formset"]
    data = {k: v for k, v in formset.management_form.initial.items()}
    data = {f"form-{k}": v for k, v in data.items()}
    for i, form in enumerate(formset.forms):
        for name, field in form.fields.items():
            value = form.initial.get(name, field.initial)
            if value is None or value is False:
                continue
            data[f"form-{i}-{name}"] = "on" if value is True else value
        if form.instance.name == "律师函转介":
            data[f"form-{i}-order"] = 5
    data["active"] = "on"
    resp = client.post(f"/collection/policies/{policy.pk}/", data)
    assert resp.status_code == 200
    assert "永远不会执行" in resp.content.decode()
    assert policy.steps.get(name="律师函转介").order == 40


# --- 2. no referral without a delivered written demand ---------------------------------------------------

def test_after_a_long_hold_the_written_demand_comes_before_the_referral(alice, arrears_estate):
    unit = arrears_estate["units"][0]
    run(D(2026, 1, 16), D(2026, 1, 18))
    hold_place(actor=alice, unit=unit, kind=HoldKind.MANUAL, reason="业主住院，暂缓催缴", until=D(2026, 7, 31),
               starts_on=D(2026, 1, 20))
    run(D(2026, 4, 16), D(2026, 7, 20))
    assert stage_names(unit) == ["逾期短信", "逾期 3 天电话"]  # held: nothing moved
    run(D(2026, 8, 3))  # the hold lapsed, 200 days overdue: not the referral — the letter first
    assert stage_names(unit) == ["逾期短信", "逾期 3 天电话", "欠费 3 个月挂号信"]
    dispatch_on(D(2026, 8, 3))
    run(D(2026, 8, 10))
    assert "律师函转介" not in stage_names(unit)  # the letter is on its way, not yet signed for
    sign_written(alice, unit, D(2026, 8, 12))
    run(D(2026, 8, 17))  # deadline (7 days after the letter went out) not yet passed on the 10th; now it has
    assert stage_names(unit)[-1] == "律师函转介"


def test_a_letter_cancelled_by_a_hold_is_issued_again_before_a_referral(alice, arrears_estate):
    unit = arrears_estate["units"][0]
    run(D(2026, 1, 16), D(2026, 4, 16))  # the letter stage is decided…
    hold_place(actor=alice, unit=unit, kind=HoldKind.DISPUTE, reason="漏水争议", starts_on=D(2026, 4, 16))
    letter = Action.objects.get(unit=unit, step__name="欠费 3 个月挂号信")
    assert letter.status == ActionStatus.CANCELLED  # …and cancelled by the dispute before it went out
    from wuye.dunning.models import Hold
    from wuye.dunning.services import hold_release

    hold_release(actor=alice, hold=Hold.objects.get(unit=unit), note="争议已解决", on=D(2026, 7, 1))
    Episode.objects.filter(unit=unit)  # the ladder stands at the letter (a hold does not rewind it)
    run(D(2026, 7, 20))
    again = Action.objects.filter(unit=unit, step__name="欠费 3 个月挂号信").order_by("pk")
    assert again.count() == 2 and cycles.kind_of(again.last().cycle) == cycles.Kind.DEMAND
    assert "律师函转介" not in stage_names(unit)


def test_a_ladder_without_a_written_demand_never_refers_and_says_why(alice, arrears_estate):
    project = arrears_estate["project"]
    unit = arrears_estate["units"][0]
    dunning_run(as_of=D(2026, 1, 1))
    policy = Policy.objects.get(project=project, segment="", active=True)
    # written straight to the database, as an old install might have it (policy_save would refuse)
    Step.objects.filter(policy=policy, name="欠费 3 个月挂号信").update(active=False)
    run(D(2026, 7, 20))
    assert "律师函转介" not in stage_names(unit)
    note = collection_state(unit, as_of=D(2026, 7, 21)).today.note
    assert "没有书面催告" in note


# --- 3. after a sale each party is dunned for their own periods --------------------------------------------

@pytest.fixture
def sold(alice, billed_estate):
    """Unit 1-101 billed January–March to its owner, sold on 1 April, billed April–May to the buyer."""
    project = billed_estate["project"]
    unit = billed_estate["units"][0]
    seller = Party.objects.get(occupancies__unit=unit)
    for month in (1, 2, 3):
        bill_generate(actor=alice, project=project, period=D(2026, month, 1))
    occupancy_end(actor=alice, occupancy=Occupancy.objects.get(unit=unit, party=seller), end=D(2026, 3, 31))
    buyer = Party.objects.create(name="买受人", natural_key="t:buyer")
    occupancy_start(actor=alice, unit=unit, party=buyer, role=OccupantRole.OWNER, start=D(2026, 4, 1))
    from wuye.estate.choices import ContactKind, ContactSource
    from wuye.estate.services import contact_add

    contact_add(actor=alice, party=buyer, kind=ContactKind.MOBILE, value="13900000001",
                source=ContactSource.OWNER, is_primary=True)
    for month in (4, 5):
        bill_generate(actor=alice, project=project, period=D(2026, month, 1))
    return {"unit": unit, "seller": seller, "buyer": buyer, "project": project}


def test_after_a_sale_the_seller_and_the_buyer_each_have_their_own_account(sold):
    unit, seller, buyer = sold["unit"], sold["seller"], sold["buyer"]
    run(D(2026, 4, 16), D(2026, 5, 16))
    episodes = dict(Episode.objects.filter(unit=unit, closed_on__isnull=True).values_list("party_id", "opened_on"))
    assert episodes == {seller.pk: D(2026, 4, 16), buyer.pk: D(2026, 4, 16)}
    by_party = {}
    for a in Action.objects.filter(unit=unit, episode__isnull=False).select_related("step"):
        by_party.setdefault(a.party_id, []).append(a)
        assert a.episode.party_id == a.party_id
    assert set(by_party) == {seller.pk, buyer.pk}
    # the seller's account is three months old, the buyer's one: the seller is further up the ladder
    state = collection_state(unit, as_of=D(2026, 5, 17))
    debtors = {d.party_id: d for d in state.debtors}
    assert debtors[seller.pk].former_owner and not debtors[buyer.pk].former_owner
    assert debtors[seller.pk].overdue_periods == 3 and debtors[buyer.pk].overdue_periods == 2
    assert debtors[seller.pk].days_overdue > debtors[buyer.pk].days_overdue


def test_a_sale_shows_two_rows_on_the_worklist_each_with_its_own_debt(sold, bob_territory):
    from wuye.casework.selectors import worklist

    unit, seller, buyer = sold["unit"], sold["seller"], sold["buyer"]
    run(D(2026, 5, 16))
    rows = [r for r in worklist(user=bob_territory, day=D(2026, 5, 17)).rows if r.unit_id == unit.pk]
    assert {(r.party_id, r.owner, r.former_owner, r.periods) for r in rows} == {
        (seller.pk, seller.name, True, 3), (buyer.pk, buyer.name, False, 2)}
    seller_row = next(r for r in rows if r.party_id == seller.pk)
    buyer_row = next(r for r in rows if r.party_id == buyer.pk)
    assert seller_row.overdue_fen + buyer_row.overdue_fen == sum(
        b.amount_fen for b in unit.bills.all())


def test_paying_the_buyers_periods_closes_only_the_buyers_episode(alice, sold):
    from wuye.billing.services import payment_record

    unit, seller, buyer = sold["unit"], sold["seller"], sold["buyer"]
    run(D(2026, 5, 16))
    buyer_lines = list(unit.bills.filter(party=buyer))
    payment_record(actor=alice, unit=unit, amount_fen=sum(b.amount_fen for b in buyer_lines), method="cash",
                   bill_ids=[b.pk for b in buyer_lines], paid_at=dt.datetime(2026, 5, 18, 10, tzinfo=dt.UTC))
    run(D(2026, 5, 19))
    open_eps = set(Episode.objects.filter(unit=unit, closed_on__isnull=True).values_list("party_id", flat=True))
    assert open_eps == {seller.pk}
    assert not Action.objects.filter(unit=unit, party=buyer, status=ActionStatus.PENDING,
                                     episode__isnull=False).exists()


def test_a_promise_by_the_seller_holds_only_the_sellers_ladder(alice, sold, bob_territory):
    from wuye.casework import services as casework

    unit, seller, buyer = sold["unit"], sold["seller"], sold["buyer"]
    run(D(2026, 5, 16))
    promise = casework.promise_make(actor=bob_territory, unit=unit, promised_on=D(2026, 6, 10), on=D(2026, 5, 18),
                                    party_id=seller.pk)
    assert promise.party == seller and promise.hold.party_id == seller.pk
    assert promise.amount_fen == sum(b.amount_fen for b in unit.bills.filter(party=seller))
    run(D(2026, 6, 2))
    today = {d.party_id: d.today for d in collection_state(unit, as_of=D(2026, 6, 2)).debtors}
    assert today[seller.pk].held and not today[buyer.pk].held


def test_a_held_unit_with_two_debtors_counts_once_in_every_run(alice, sold):
    """``held`` is units held (one 暂停记录 per unit and day): a unit whose seller and buyer are both held by a
    hold on the whole unit counts once — in the first run, a re-run, a full run and a project's run alike (the
    first run counted accounts: 2, the re-run the records: 1)."""
    from wuye.dunning.models import HeldAccount, Run

    unit, project = sold["unit"], sold["project"]
    run(D(2026, 5, 16))
    hold_place(actor=alice, unit=unit, kind=HoldKind.MANUAL, reason="业主委员会协调中",
                starts_on=D(2026, 5, 17), until=D(2026, 6, 30))
    day = D(2026, 5, 18)
    results = [dunning_run(as_of=day), dunning_run(as_of=day), dunning_run(as_of=day, full=True),
               dunning_run(as_of=day, project=project)]
    assert [r.held for r in results] == [1, 1, 1, 1]
    assert HeldAccount.objects.filter(unit=unit, run_date=day).count() == 1
    assert set(Run.objects.filter(run_date=day).values_list("held", flat=True)) == {1}


# --- 10. the end of a ladder, prepaid run-out, the office signer -------------------------------------------

def test_a_one_step_ladder_says_it_has_ended_and_what_the_manager_decides(alice, arrears_estate, bob_territory):
    from wuye.casework.selectors import worklist
    from wuye.dunning.defaults import policies_install_defaults

    project = arrears_estate["project"]
    unit = arrears_estate["units"][0]
    policies_install_defaults(project)
    Policy.objects.filter(project=project).update(active=False)
    one = Policy.objects.create(project=project, name="只发一条短信")
    template = Step.objects.filter(name="逾期短信").first().template
    Step.objects.create(policy=one, order=10, name="逾期短信", kind=StepKind.OVERDUE, days=1, channel="sms",
                        template=template)
    run(D(2026, 1, 16), D(2026, 1, 17), D(2026, 3, 1))
    assert [n for _, n in names(unit)] == ["逾期短信"]
    episode = Episode.objects.get(unit=unit, closed_on__isnull=True)
    assert episode.ladder_done_on == D(2026, 1, 17)
    row = next(r for r in worklist(user=bob_territory, day=D(2026, 3, 2)).rows if r.unit_id == unit.pk)
    assert row.ladder_done and "待经理决定" in row.next_step and "新增欠费" not in row.why
    assert "请经理决定" in collection_state(unit, as_of=D(2026, 3, 2)).today.note


def test_an_owner_whose_prepaid_money_ran_out_gets_that_message_not_a_plain_reminder(alice, billed_estate):
    from wuye.billing.services import payment_record

    project = billed_estate["project"]
    unit = billed_estate["units"][0]
    bill_generate(actor=alice, project=project, period=D(2026, 1, 1), on=D(2026, 1, 1))
    first = unit.bills.get()
    # prepaid enough for January and half of February
    payment_record(actor=alice, unit=unit, amount_fen=first.amount_fen, method="cash",
                   paid_at=dt.datetime(2026, 1, 2, 10, tzinfo=dt.UTC))
    payment_record(actor=alice, unit=unit, amount_fen=first.amount_fen // 2, method="cash",
                   paid_at=dt.datetime(2026, 1, 20, 10, tzinfo=dt.UTC))
    bill_generate(actor=alice, project=project, period=D(2026, 2, 1), on=D(2026, 2, 1))
    run(D(2026, 2, 2), D(2026, 2, 8))
    got = [n for _, n in names(unit)]
    assert got.count("预存款用完提醒") == 1
    sent = Action.objects.get(unit=unit, step__name="预存款用完提醒")
    assert cycles.kind_of(sent.cycle) == cycles.Kind.PREPAID_OUT and sent.episode_id is None
    # it is this owner's reminder for that due date: the plain one 7 days before is not sent beside it
    assert "到期前 7 天提醒" not in got


def test_an_owner_who_opted_out_gets_no_prepaid_run_out_message_either(alice, billed_estate):
    """The run-out notice is a reminder before a due date: an owner who declined those gets neither it nor the
    plain reminder in its place."""
    from wuye.billing.services import payment_record
    from wuye.portal.models import ContactPreference

    project = billed_estate["project"]
    unit = billed_estate["units"][0]
    ContactPreference.objects.create(unit=unit, opt_out_non_essential=True)
    bill_generate(actor=alice, project=project, period=D(2026, 1, 1), on=D(2026, 1, 1))
    first = unit.bills.get()
    payment_record(actor=alice, unit=unit, amount_fen=first.amount_fen + first.amount_fen // 2, method="cash",
                   paid_at=dt.datetime(2026, 1, 2, 10, tzinfo=dt.UTC))
    bill_generate(actor=alice, project=project, period=D(2026, 2, 1), on=D(2026, 2, 1))
    run(D(2026, 2, 2), D(2026, 2, 8))
    assert [n for _, n in names(unit)] == []
    assert "不接收到期前提醒" in collection_state(unit, as_of=D(2026, 2, 8)).debtors[0].today.note


def test_an_office_notice_nobody_could_sign_for_goes_by_ems(alice, office):
    from wuye.dunning.models import Task
    from wuye.dunning.services import task_close

    unit = office
    run(D(2026, 3, 11), D(2026, 3, 13))  # day 3: the first written notice
    dispatch_on(D(2026, 3, 13))
    task = Task.objects.get(unit=unit, kind="notice")
    task_close(actor=alice, task=task, note="前台称负责人出差", unsigned=True)
    assert Action.objects.get(pk=task.action_id).status == ActionStatus.FAILED
    run(D(2026, 3, 16))
    ems = Action.objects.get(unit=unit, step__name="无人签收改寄 EMS")
    assert ems.channel == "registered" and cycles.kind_of(ems.cycle) == cycles.Kind.SIGNER
    run(D(2026, 3, 17))
    assert Action.objects.filter(unit=unit, step__name="无人签收改寄 EMS").count() == 1


# --- the stage reached when the ladder in force changes (decision 115) -------------------------------------

def _ladder(first_id, *stages):
    from wuye.dunning.engine import Ladder

    steps = [Step(id=first_id + n, order=order, name=name, kind=StepKind.OVERDUE, channel=channel, days=days,
                  active=True) for n, (order, name, channel, days) in enumerate(stages)]
    return Ladder.of(Policy(name="x"), steps)


def test_the_stage_reached_is_read_in_the_ladder_in_force():
    from wuye.dunning.engine import Account, fit_stage

    year_end = _ladder(100, (10, "逾期短信", "sms", 1), (20, "电话", "call", 3), (30, "上门", "visit", 30),
                       (35, "挂号信", "registered", 40), (40, "转介", "referral", 60))
    standard = _ladder(200, (10, "逾期短信", "sms", 1), (20, "电话", "call", 3), (30, "挂号信", "registered", 90),
                       (40, "转介", "referral", 180))

    def acc(stage, step, channels):
        return Account(summary=None, segment="", stage=stage, stage_step=step, stage_channels=frozenset(channels))

    # the year-end visit (its 30) is not the standard letter (its 30): the letter is still to come
    assert fit_stage(acc(30, 102, {"sms", "call", "visit"}), standard).stage == 20
    # a letter stands for a letter, a referral for a referral
    assert fit_stage(acc(35, 103, {"sms", "call", "visit", "registered"}), standard).stage == 30
    assert fit_stage(acc(40, 104, {"sms", "call", "visit", "registered", "referral"}), standard).stage == 40
    # into the year-end ladder after the standard letter: its visit is passed, its letter not sent again
    assert fit_stage(acc(30, 202, {"sms", "call", "registered"}), year_end).stage == 35
    # the ladder's own stage: unchanged (three notices on one channel still go one by one)
    office = _ladder(300, (20, "第一次", "notice", 3), (30, "第二次", "notice", 7), (40, "第三次", "notice", 10))
    assert fit_stage(acc(20, 300, {"notice"}), office).stage == 20
    assert fit_stage(acc(0, None, set()), office).stage == 0
