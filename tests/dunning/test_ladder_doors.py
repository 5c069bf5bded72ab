"""The ladder's doors against what a red-team review found (each test fails without its fix):

- a step of a channel that reaches the owner without a template sent its *name* as the message, unchecked: the
  name is now checked like a template's text at every door, such a step is refused, and the dispatcher and the
  notice printer refuse it again should one get into the database another way;
- a hold until 9999-12-31 crashed the daily run for every project; an installment plan starting in the year
  9999, or of two million instalments, crashed pages and the run or cost a schedule's worth of work;
- a manager of one project rewrote the company-wide templates every project sends; a policy step could use
  another project's own template, and the policy page listed them all."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from wuye.accounts.choices import Role
from wuye.billing import installments
from wuye.dunning.choices import ActionStatus, HoldKind, TaskKind
from wuye.dunning.defaults import policies_install_defaults
from wuye.dunning.dispatch import dispatch
from wuye.dunning.engine import dunning_run
from wuye.dunning.guardrails import GuardrailError
from wuye.dunning.models import Action, Hold, MessageTemplate, Policy, Step, Task
from wuye.dunning.notices import notices_pdf
from wuye.dunning.services import MAX_HOLD_DAYS, hold_place, policy_save, template_save
from wuye.estate.models import Project

THREAT = "欠费不交将停水停电并在公告栏公布姓名"


@pytest.fixture
def ladder(arrears_estate):
    policies_install_defaults(arrears_estate["project"])
    return Policy.objects.filter(project=arrears_estate["project"]).order_by("pk").first()


def _sms_steps(policy):
    return list(policy.steps.filter(channel="sms").order_by("order"))


def test_a_step_name_is_checked_like_a_template_at_every_door(alice, ladder):
    step = _sms_steps(ladder)[0]
    with pytest.raises(ValidationError) as refused:
        policy_save(actor=alice, policy=ladder, active=True, valid_from=None, valid_to=None,
                    steps=[{"id": step.pk, "name": THREAT}])
    assert "停水" in str(refused.value) or "停止" in str(refused.value)
    with pytest.raises(GuardrailError):  # the model's own door
        Step.objects.create(policy=ladder, order=99, name="逾期不缴 停 水", kind="overdue", days=1, channel="sms",
                            template=step.template)
    with pytest.raises(GuardrailError):  # a queryset update, in traditional characters
        Step.objects.filter(pk=step.pk).update(name="逾期將停電")
    step.refresh_from_db()
    assert "停" not in step.name


def test_a_step_that_reaches_the_owner_must_have_a_template(alice, ladder):
    sms, notice_step = _sms_steps(ladder)[0], ladder.steps.filter(channel__in=["notice", "registered"]).first()
    for step in [sms] + ([notice_step] if notice_step else []):
        with pytest.raises(ValidationError) as refused:
            policy_save(actor=alice, policy=ladder, active=True, valid_from=None, valid_to=None,
                        steps=[{"id": step.pk, "template_id": None}])
        assert "必须选择模板" in str(refused.value)
    assert Step.objects.get(pk=sms.pk).template_id is not None
    # a call task may go without one: a person reads its name, nobody is sent it
    call = ladder.steps.filter(channel="call").first()
    policy_save(actor=alice, policy=ladder, active=True, valid_from=None, valid_to=None,
                steps=[{"id": call.pk, "template_id": None}])
    assert Step.objects.get(pk=call.pk).template_id is None


def test_a_templateless_message_step_that_got_in_anyway_is_not_sent_and_the_manager_is_told(
        ladder, settings, tmp_path):
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    ids = [s.pk for s in _sms_steps(ladder)]
    dunning_run(as_of=dt.date(2026, 2, 1))
    Step.objects.filter(pk__in=ids).update(template=None)  # not a guarded field: this door stays open
    dunning_run(as_of=dt.date(2026, 4, 20))
    result = dispatch(now=dt.datetime(2026, 4, 20, 2, 0, tzinfo=dt.UTC))
    actions = Action.objects.filter(step_id__in=ids)
    blocked = actions.filter(status=ActionStatus.BLOCKED)
    assert blocked.count() == result.blocked > 0
    assert not actions.filter(status__in=[ActionStatus.SENT, ActionStatus.DELIVERED]).exists()
    assert all("没有设置模板" in e for e in blocked.values_list("last_error", flat=True))
    assert any("步骤没有设置模板" in a for a in result.alerts)
    assert Task.objects.filter(kind=TaskKind.ESCALATE, action__in=blocked, title__contains="未通过合规检查").exists()
    sent = list((tmp_path / "outbox").rglob("*")) if (tmp_path / "outbox").exists() else []
    assert not any(p.is_file() and "逾期" in p.read_text(encoding="utf-8") for p in sent)


def test_a_notice_without_a_template_or_with_forbidden_words_prints_nothing(ladder, arrears_estate):
    dunning_run(as_of=dt.date(2026, 4, 20))
    notice = Action.objects.filter(channel__in=["notice", "registered"]).select_related("step").first()
    if notice is None:
        pytest.skip("the default ladder of this estate has no written step")  # pragma: no cover
    pending = list(Action.objects.filter(step=notice.step))
    Step.objects.filter(pk=notice.step_id).update(template=None)
    with pytest.raises(ValidationError) as refused:
        notices_pdf(Action.objects.filter(pk__in=[a.pk for a in pending]), as_of=dt.date(2026, 4, 20))
    assert "没有设置模板" in str(refused.value)
    assert list(Action.objects.filter(pk__in=[a.pk for a in pending]).values_list("status", flat=True)) == \
        [a.status for a in pending]  # nothing withdrawn or marked


def test_a_hold_longer_than_a_year_is_refused_and_an_old_one_does_not_stop_the_run(alice, arrears_estate):
    unit = arrears_estate["units"][0]
    today = timezone.localdate()
    with pytest.raises(ValidationError) as refused:
        hold_place(actor=alice, unit=unit, kind=HoldKind.MANUAL, reason="业主出国", until=dt.date(9999, 12, 31))
    assert f"暂停最长 {MAX_HOLD_DAYS} 天" in str(refused.value)
    client = Client()
    client.force_login(alice)
    r = client.post(f"/collection/units/{unit.pk}/", {"kind": "manual", "until": "9999-12-31", "reason": "业主出国"})
    assert r.status_code in (200, 302) and not Hold.objects.filter(unit=unit).exists()
    hold_place(actor=alice, unit=unit, kind=HoldKind.MANUAL, reason="业主出国",
               until=today + dt.timedelta(days=MAX_HOLD_DAYS))
    # a row written before the bound (or by hand): the run decides every other account all the same
    Hold.objects.create(project=unit.project, unit=arrears_estate["units"][1], kind=HoldKind.MANUAL, reason="旧数据",
                        until=dt.date.max, starts_on=dt.date(2026, 1, 1))
    result = dunning_run(as_of=dt.date(2026, 4, 20))
    assert result.actions_created > 0


@pytest.mark.parametrize("count, first_due, field", [
    (3, "9999-12-01", "first_due"), (3, "9999-11-30", "first_due"), (2_000_000, None, "count"), (1, None, "count")])
def test_an_installment_plan_out_of_bounds_is_refused_at_every_door(alice, arrears_estate, count, first_due, field):
    from wuye.portal.links import link_create

    unit = arrears_estate["units"][0]
    due = dt.date.fromisoformat(first_due) if first_due else timezone.localdate() + dt.timedelta(days=20)
    with pytest.raises(ValidationError) as refused:
        installments.equal_schedule(100_00, count, due)
    assert field in refused.value.message_dict
    _, token = link_create(unit=unit, actor=alice)
    owner = Client()
    r = owner.post(f"/p/{token}/installment/", {"count": str(count), "first_due": due.isoformat(), "reason": "失业"})
    assert r.status_code == 302
    staff = Client()
    staff.force_login(alice)
    r = staff.post(f"/billing/units/{unit.pk}/installments/", {"count": str(count), "first_due": due.isoformat(),
                                                                "reason": "失业"})
    assert r.status_code == 302
    assert not unit.installment_plans.exists()
    assert staff.get(f"/billing/units/{unit.pk}/").status_code == 200


def test_a_project_manager_cannot_rewrite_the_company_wide_templates(alice, arrears_estate, make_user, ladder):
    other = Project.objects.create(code="T9", name="别处大厦", city="杭州", developer=arrears_estate["developer"])
    scoped = make_user("jingli2", Role.MANAGER)
    scoped.projects.add(other)
    shared = MessageTemplate.objects.filter(project__isnull=True, channel="sms").order_by("pk").first()
    before = shared.body
    with pytest.raises(PermissionDenied):
        template_save(actor=scoped, template=shared, body=before + "（改）")
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(scoped)
    r = api.patch(f"/api/v1/message-templates/{shared.pk}/", {"body": before + "（改）"}, format="json")
    assert r.status_code == 403
    shared.refresh_from_db()
    assert shared.body == before
    # their own project's template they may change; a company-wide manager changes the shared one
    own = MessageTemplate.objects.create(project=other, code=shared.code, name="别处大厦专用", channel="sms",
                                         body=before)
    assert template_save(actor=scoped, template=own, body=before + "（本项目）").version == own.version
    assert template_save(actor=alice, template=shared, body=before + "。").body.endswith("。")


def test_a_step_cannot_use_another_projects_template_nor_see_it_listed(alice, arrears_estate, ladder):
    other = Project.objects.create(code="T9", name="别处大厦", city="杭州", developer=arrears_estate["developer"])
    shared = MessageTemplate.objects.filter(project__isnull=True, channel="sms").order_by("pk").first()
    theirs = MessageTemplate.objects.create(project=other, code="t9_only", name="别处大厦专用催缴模板",
                                            channel="sms", body=shared.body)
    step = _sms_steps(ladder)[0]
    with pytest.raises(ValidationError) as refused:
        policy_save(actor=alice, policy=ladder, active=True, valid_from=None, valid_to=None,
                    steps=[{"id": step.pk, "template_id": theirs.pk}])
    assert "其他项目的专用模板" in str(refused.value)
    client = Client()
    client.force_login(alice)
    page = client.get(f"/collection/policies/{ladder.pk}/").content.decode()
    assert "别处大厦专用催缴模板" not in page and shared.name in page
