"""A reminder before the due date for high-risk accounts only (``Step.min_risk_pct``, issue 16 item 5: "the
ladder can use it, e.g. an early call for high-risk accounts before the due date").

One project, ¥200.00 due on 2026-01-15; the default ladder plus "高风险到期前电话" (a call 10 days before the
due date, for accounts whose latest 预警分 is at least 50%). Dates: 01-05 is the Monday the call is decided and
made (calls go out on working days); the ordinary reminders go on 01-01 (sent 01-04) and 01-08.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from wuye.dunning.choices import Assignee, Channel, StepKind
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action, MessageTemplate, Policy, Task

from .scenario import log, lone_estate, walk_days

D = dt.date
pytestmark = pytest.mark.django_db
SMS = ["01-01 到期前 15 天提醒 sent@01-04", "01-08 到期前 7 天提醒 sent@01-08"]
CALL = "01-05 高风险到期前电话 sent@01-05"


def _scores(**by_unit: float) -> None:
    """Stored 预警分 as the monthly job leaves them (one per unit)."""
    from django.utils import timezone

    from wuye.insights.models import RiskModel, RiskScore

    model = RiskModel.objects.create(trained_at=timezone.now(), as_of=D(2025, 12, 31), features=[], mean=[],
                                     scale=[], coef=[], intercept=0.0)
    for unit, p in by_unit.values():
        RiskScore.objects.create(model=model, project_id=unit.project_id, unit=unit, as_of=D(2025, 12, 31),
                                 probability=p, reasons=[["dead_contacts", 1.2]])


def _early_call(alice, project, *, min_risk_pct=50):
    from wuye.dunning.defaults import policies_install_defaults
    from wuye.dunning.services import policy_save

    policies_install_defaults(project)
    policy = Policy.objects.get(project=project, segment="", active=True)
    template = MessageTemplate.objects.create(
        project=project, code="pre_due_call", name="到期前关怀电话", channel=Channel.CALL,
        body="电话联系业主：提醒 {due_date} 到期的本期费用 {amount_due}，询问是否需要协助缴费。")
    policy_save(actor=alice, policy=policy, active=True, valid_from=None, valid_to=None, steps=[{
        "order": 3, "name": "高风险到期前电话", "kind": StepKind.PRE_DUE, "days": -10, "channel": Channel.CALL,
        "template_id": template.pk, "assignee": Assignee.COLLECTOR, "min_risk_pct": min_risk_pct}])
    return policy


def test_high_risk_gets_the_early_call_low_risk_held_and_disputed_do_not(alice):
    from wuye.casework.services import dispute_open
    from wuye.dunning.services import hold_place

    project, (high, low, held, disputed, unscored, late_hold) = lone_estate(alice, units=6, months=1)
    _early_call(alice, project)
    _scores(a=(high, 0.81), b=(low, 0.2), c=(held, 0.9), d=(disputed, 0.9), f=(late_hold, 0.7))
    hold_place(actor=alice, unit=held, kind="manual", reason="业主住院，暂缓联系", until=D(2026, 1, 31),
               starts_on=D(2026, 1, 2))
    dispute_open(actor=alice, unit=disputed, reason="service", description="楼道灯长期不亮", on=D(2026, 1, 2))
    walk_days(D(2026, 1, 1), D(2026, 1, 14), {
        # placed after the run decided the call and before the dispatcher: the call is cancelled at send time
        (D(2026, 1, 5), "mid"): [lambda: hold_place(actor=alice, unit=late_hold, kind="manual", reason="业主要求暂缓",
                                                    until=D(2026, 1, 31), starts_on=D(2026, 1, 5))],
    })
    assert log(high) == [SMS[0], CALL, SMS[1]]
    for unit in (low, held, disputed, unscored):  # the ordinary reminders go on: a hold does not stop them
        assert log(unit) == SMS, unit.code
    assert log(late_hold) == [SMS[0], "01-05 高风险到期前电话 cancelled", SMS[1]]
    assert "暂停催缴" in Action.objects.get(unit=late_hold, channel=Channel.CALL).last_error
    task = Task.objects.get(unit=high, kind="call")
    assert task.title.endswith("高风险到期前电话") and "2026年1月15日" in task.detail
    assert "预警" not in task.detail and "风险" not in task.detail  # the text is the template's, no score
    # the reason of the decision names the score and the threshold (staff pages: the unit page, the dry run)
    dry = dunning_run(as_of=D(2026, 1, 6), dry_run=True, unit_ids=[high.pk])
    why = [d.why for o in dry.outcomes for d in o.decisions if d.step.name == "高风险到期前电话"]
    assert why == ["2026-01-15 到期前 10 天；预警风险 81%（本步骤 ≥ 50%）"]


def test_a_rerun_creates_nothing_twice_and_scores_are_read_once_per_chunk(alice):
    project, units = lone_estate(alice, units=3, months=1)
    _early_call(alice, project)
    _scores(a=(units[0], 0.6), b=(units[1], 0.55), c=(units[2], 0.1))
    with CaptureQueriesContext(connection) as queries:
        dunning_run(as_of=D(2026, 1, 5))
    reads = [q["sql"] for q in queries.captured_queries if "insights_riskscore" in q["sql"]]
    assert len(reads) == 1, reads  # one set-based read for the chunk, never one per account
    calls = Action.objects.filter(step__name="高风险到期前电话")
    assert sorted(calls.values_list("unit_id", flat=True)) == [units[0].pk, units[1].pk]
    before = sorted(Action.objects.values_list("unit_id", "step_id", "cycle"))
    dunning_run(as_of=D(2026, 1, 5))
    dunning_run(as_of=D(2026, 1, 5), full=True)
    dunning_run(as_of=D(2026, 1, 6))  # still inside the window: the same (unit, step, due date) key
    assert sorted(Action.objects.values_list("unit_id", "step_id", "cycle")) == before


def test_without_the_score_setting_no_account_is_high_risk_and_nothing_is_read(alice, settings):
    project, (unit,) = lone_estate(alice, units=1, months=1)
    _early_call(alice, project)
    _scores(a=(unit, 0.99))
    settings.WUYE_RISK_SCORES = ""
    with CaptureQueriesContext(connection) as queries:
        dunning_run(as_of=D(2026, 1, 5))
    assert not [q for q in queries.captured_queries if "insights_riskscore" in q["sql"]]
    assert not Action.objects.filter(step__name="高风险到期前电话").exists()


def test_a_ladder_without_such_a_step_reads_no_score(alice):
    from wuye.dunning.defaults import policies_install_defaults

    project, (unit,) = lone_estate(alice, units=1, months=1)
    policies_install_defaults(project)
    _scores(a=(unit, 0.99))
    with CaptureQueriesContext(connection) as queries:
        dunning_run(as_of=D(2026, 1, 5))
    assert not [q for q in queries.captured_queries if "insights_riskscore" in q["sql"]]


def test_the_threshold_is_only_for_reminders_before_the_due_date(alice):
    from django.core.exceptions import ValidationError

    from wuye.dunning.services import policy_save

    project, _ = lone_estate(alice, units=1, months=1)
    policy = _early_call(alice, project)
    call = policy.steps.get(name="逾期 3 天电话")
    with pytest.raises(ValidationError) as exc:
        policy_save(actor=alice, policy=policy, active=True, valid_from=None, valid_to=None,
                    steps=[{"id": call.pk, "min_risk_pct": 60}])
    assert "只适用于到期前提醒" in str(exc.value)
    with pytest.raises(ValidationError):  # a percentage
        policy_save(actor=alice, policy=policy, active=True, valid_from=None, valid_to=None,
                    steps=[{"id": policy.steps.get(name="高风险到期前电话").pk, "min_risk_pct": 150}])


def test_the_policy_page_edits_the_threshold(client, alice, settings):
    project, _ = lone_estate(alice, units=1, months=1)
    policy = _early_call(alice, project)
    client.force_login(alice)
    page = client.get(f"/collection/policies/{policy.pk}/").content.decode()
    assert "仅高风险（%）" in page and 'name="form-0-min_risk_pct"' in page
    from wuye.dunning.forms import StepForm

    step = policy.steps.get(name="高风险到期前电话")
    data = {"order": 3, "name": step.name, "kind": "pre_due", "days": -10, "channel": "call",
            "template": step.template_id, "assignee": "collector", "min_risk_pct": 70,
            "prefer_month_edge_days": 0, "active": "on"}
    assert StepForm(data, instance=step).is_valid()
    form = StepForm({**data, "kind": "overdue", "days": 3}, instance=step)
    assert not form.is_valid() and "只适用于到期前提醒" in str(form.errors["min_risk_pct"])
    settings.WUYE_RISK_SCORES = ""
    form = StepForm(data, instance=step)
    assert not form.is_valid() and "未启用预警评分" in str(form.errors["min_risk_pct"])
