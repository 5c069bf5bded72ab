import datetime as dt

import pytest

from wuye.dunning.choices import ActionStatus
from wuye.dunning.dispatch import dispatch
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action, CalendarDay, MessageTemplate, Policy, Task

D = dt.date


@pytest.fixture
def worked(arrears_estate):
    dunning_run(as_of=D(2026, 1, 19))
    dispatch(now=dt.datetime(2026, 1, 19, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    return arrears_estate


def test_overview_previews_tomorrow_with_reasons(client, alice, worked):
    client.force_login(alice)
    r = client.get(f"/collection/?project={worked['project'].pk}&date=2026-01-26")
    assert r.status_code == 200
    text = r.content.decode()
    assert "定期电话" in text and "每 7 天重复" in text
    assert "2026-01-26 将发生什么" in text
    assert "尚未运行" not in text  # the whole-company run of the fixture is listed


def test_collector_sees_only_the_territory(client, bob_territory, worked):
    client.force_login(bob_territory)
    text = client.get(f"/collection/?project={worked['project'].pk}&date=2026-01-26").content.decode()
    assert "1-101" in text and "3-101" not in text
    tasks = client.get("/collection/tasks/").content.decode()
    assert "1-101" in tasks and "3-101" not in tasks
    outbox = client.get("/collection/outbox/").content.decode()
    assert "3-101" not in outbox


def test_a_manager_edits_a_step_and_the_change_is_audited(client, alice, worked):
    from wuye.accounts.models import AuditEvent

    policy = Policy.objects.get(project=worked["project"], name="住宅标准催缴")
    client.force_login(alice)
    page = client.get(f"/collection/policies/{policy.pk}/")
    assert page.status_code == 200
    formset = page.context["formset"]
    data = {"active": "on", "valid_from": "", "valid_to": ""}
    mgmt = formset.management_form
    data.update({f"form-{k}": v for k, v in mgmt.initial.items()})
    for i, form in enumerate(formset.forms):
        for name, field in form.fields.items():
            value = form.initial.get(name, field.initial)
            if value is None or value is False:
                continue
            data[f"form-{i}-{name}"] = "on" if value is True else getattr(value, "pk", value)
    call = next(i for i, f in enumerate(formset.forms) if f.instance.name == "逾期 3 天电话")
    data[f"form-{call}-days"] = 5
    r = client.post(f"/collection/policies/{policy.pk}/", data)
    fs = r.context["formset"] if r.status_code == 200 else None
    assert r.status_code == 302, [e for e in fs.errors if e]
    assert policy.steps.get(name="逾期 3 天电话").days == 5
    assert AuditEvent.objects.filter(verb="dunning.policy").exists()


def test_a_template_with_a_threat_is_refused(client, alice, worked):
    template = MessageTemplate.objects.get(code="arrears_sms")
    client.force_login(alice)
    r = client.post(f"/collection/templates/{template.pk}/", {
        "subject": "", "body": "再不缴费将停水停电，并在业主群公示。", "provider_template_id": ""})
    assert r.status_code == 200
    text = r.content.decode()
    assert "停水" in text and "个人信息保护法" in text
    template.refresh_from_db()
    assert template.version == 1 and "停水" not in template.body
    ok = client.post(f"/collection/templates/{template.pk}/", {
        "subject": "", "body": "{unit} 尚欠 {amount}，请于 {deadline} 前缴纳。", "provider_template_id": "1234"})
    assert ok.status_code == 302
    template.refresh_from_db()
    assert template.version == 2


def test_a_collector_cannot_edit_policies(client, bob_territory, worked):
    policy = Policy.objects.filter(project=worked["project"]).first()
    client.force_login(bob_territory)
    assert client.post(f"/collection/policies/{policy.pk}/", {}).status_code == 403


def test_next_years_schedule_is_entered_and_covers_2027(client, alice, worked):
    client.force_login(alice)
    page = client.get("/collection/calendar/").content.decode()
    assert "2027 年的法定节假日安排尚未录入" in page
    r = client.post("/collection/calendar/", {"schedule": "2027-01-01 假 元旦\n2027-02-06~2027-02-12 假 春节\n"
                                                          "2027-02-20 班 春节调休\n"})
    assert r.status_code == 302
    assert CalendarDay.objects.count() == 9
    bad = client.post("/collection/calendar/", {"schedule": "2027-13-01 假 元旦"})
    assert "第 1 行" in bad.content.decode()
    assert CalendarDay.objects.count() == 9


def test_unit_page_places_and_releases_a_hold(client, alice, worked):
    unit = worked["units"][0]
    client.force_login(alice)
    r = client.post(f"/collection/units/{unit.pk}/", {"kind": "manual", "until": "2026-12-31",
                                                      "reason": "业主住院"})
    assert r.status_code == 302
    hold = unit.holds.get()
    assert not Action.objects.filter(unit=unit, status=ActionStatus.PENDING, episode__isnull=False).exists()
    page = client.get(f"/collection/units/{unit.pk}/").content.decode()
    assert "业主住院" in page
    client.post(f"/collection/units/{unit.pk}/holds/{hold.pk}/release/", {"note": "已出院"})
    hold.refresh_from_db()
    assert hold.released_on is not None


def test_tasks_close_and_action_detail_shows_evidence(client, alice, worked):
    task = Task.objects.filter(kind="call").first()
    client.force_login(alice)
    client.post(f"/collection/tasks/{task.pk}/close/", {"note": "已接通，承诺月底缴"})
    task.refresh_from_db()
    assert task.status == "done"
    call = task.action
    text = client.get(f"/collection/outbox/{call.pk}/").content.decode()
    assert call.content_sha256 and call.content_sha256 in text and call.out_id in text
    assert "了解未缴原因" in text


def _more_projects(alice, n: int, first: int = 0) -> None:
    """``n`` more projects, each with two occupied units billed January 2026 and nobody paying."""
    from decimal import Decimal

    from wuye.billing.models import BillingPolicy
    from wuye.billing.services import bill_generate, seed_default_fee_items
    from wuye.estate.models import Building, Party, Project, Unit
    from wuye.estate.services import occupancy_start

    for i in range(first, first + n):
        project = Project.objects.create(code=f"M{i}", name=f"多项目{i}", city="杭州")
        building = Building.objects.create(project=project, code="1", name="1幢", floors=1)
        for k in (1, 2):
            unit = Unit.objects.create(project=project, building=building, floor=1, number=f"10{k}",
                                       code=f"1-10{k}", property_type="low_rise", area=Decimal("90"), state="self")
            owner = Party.objects.create(name=f"多{i}业主{k}", natural_key=f"m:{i}:{k}")
            occupancy_start(actor=alice, unit=unit, party=owner, role="owner", start=D(2020, 1, 1))
        BillingPolicy.objects.create(project=project, cycle_months=1, due_day=15)
        seed_default_fee_items(project, effective_from=D(2020, 1, 1), price_per_m2=Decimal("2.00"))
        bill_generate(actor=alice, project=project, period=D(2026, 1, 1))


def _overview_queries(client) -> tuple[int, str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        r = client.get("/collection/")
    assert r.status_code == 200
    return len(captured), r.content.decode()


def test_the_overview_reads_stored_figures_for_every_project_in_queries_that_do_not_grow(
        client, alice, arrears_estate, monkeypatch, django_assert_max_num_queries):
    """The overview lists every project as the last run left it — accounts in arrears, actions decided,
    held — without dry-running any ladder, in as many queries for seven projects as for two."""
    from wuye.dunning import views

    _more_projects(alice, 1)
    dunning_run(as_of=D(2026, 1, 19))
    client.force_login(alice)
    monkeypatch.setattr(views, "dunning_run", lambda **kw: pytest.fail("the overview dry-ran a ladder"))
    few, _ = _overview_queries(client)
    _more_projects(alice, 5, first=1)
    dunning_run(as_of=D(2026, 1, 20))
    with django_assert_max_num_queries(few):
        many, text = _overview_queries(client)
    assert many == few
    figures = {f.project.code: f for f in client.get("/collection/").context["figures"]}
    assert len(figures) == 7 and all(f.last_run_on == D(2026, 1, 20) for f in figures.values())
    assert figures["M4"].in_arrears == 2  # both units of a new project owe January
    assert figures[arrears_estate["project"].code].in_arrears == Action.objects.filter(
        project=arrears_estate["project"]).values("unit").distinct().count()
    assert sum(f.actions for f in figures.values()) == Action.objects.filter(decided_on=D(2026, 1, 20)).count()
    assert 'data-testid="figures-M4"' in text and "多项目4" in text
    # the preview of one project is still there, when asked for
    monkeypatch.undo()
    asked = client.get(f"/collection/?project={arrears_estate['project'].pk}&date=2026-01-26").content.decode()
    assert "2026-01-26 将发生什么" in asked


def test_the_overview_lists_the_projects_figures_a_page_at_a_time(client, alice, arrears_estate, monkeypatch):
    """A group of hundreds of projects: the figures are counted and drawn for one page of projects (50), not
    all of them on every visit; every project is on some page, in code order."""
    from wuye.dunning import views
    from wuye.estate.models import Project

    _more_projects(alice, 6)
    dunning_run(as_of=D(2026, 1, 19))
    monkeypatch.setattr(views, "FIGURES_PAGE", 3)
    client.force_login(alice)
    codes = list(Project.objects.order_by("code").values_list("code", flat=True))
    assert len(codes) == 7
    seen = []
    for page in (1, 2, 3):
        r = client.get(f"/collection/?page={page}")
        listed = [f.project.code for f in r.context["figures"]]
        assert len(listed) == (3 if page < 3 else 1)
        assert all(f'data-testid="figures-{c}"' in r.content.decode() for c in listed)
        seen += listed
    assert seen == codes
    assert "1 / 3" in client.get("/collection/").content.decode()


def test_todays_outbox_is_counted_from_the_day_index_alone(client, alice, worked):
    """The overview's count of today's actions by status reads the (day, status) index, never the whole
    action history: on a company-wide page that count read every action ever decided (decision 193)."""
    import re

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    today = timezone.localdate()
    dunning_run(as_of=today)  # today's actions beside the fixture's January ones
    by_status = {s: Action.objects.filter(decided_on=today, status=s).count() for s in ActionStatus.values}
    assert sum(by_status.values()) > 0 and Action.objects.exclude(decided_on=today).exists()
    client.force_login(alice)
    with CaptureQueriesContext(connection) as q:
        page = client.get("/collection/").content.decode()
    shown = dict(re.findall(r'<span class="text-secondary">([^<]+)</span> <strong>([\d,]+)</strong>', page))
    assert {label: int(n.replace(",", "")) for label, n in shown.items()} == {
        ActionStatus(s).label: n for s, n in by_status.items()}
    sql = next(s["sql"] for s in q.captured_queries
               if "COUNT(*)" in s["sql"] and "decided_on" in s["sql"] and "GROUP BY" in s["sql"])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET enable_seqscan = off")  # as on a large table
            try:
                cursor.execute("EXPLAIN " + sql)
                plan = "\n".join(r[0] for r in cursor.fetchall())
            finally:
                cursor.execute("RESET enable_seqscan")
            # an index-only scan once the visibility map is set (vacuum); a bitmap scan of the index before
            assert "action_by_day_status_project" in plan and "Seq Scan" not in plan, plan
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = "\n".join(str(r[-1]) for r in cursor.fetchall())
            assert "COVERING INDEX action_by_day_status_project" in plan, plan


def test_the_overview_counts_what_a_direct_count_of_each_project_and_status_finds(
        client, alice, arrears_estate, monkeypatch):
    """The day's outbox and each project's figures come from one grouped pass over the actions (decision 197):
    they equal a plain count per project and per status — for projects whose last run was on different days,
    for the projects on the page only, and for the day's outbox of every project in scope, on the page or not."""
    from django.db.models import Q
    from django.utils import timezone

    from wuye.dunning import views
    from wuye.dunning.models import Episode, HeldAccount
    from wuye.estate.models import Project

    _more_projects(alice, 3)
    dunning_run(as_of=D(2026, 1, 19))
    today = timezone.localdate()
    main = arrears_estate["project"]
    dunning_run(as_of=today, project=main)  # one project run again today, the others last on 19 January
    alice.projects.set(Project.objects.exclude(code="M2"))  # a manager of some projects: M2 is out of scope
    monkeypatch.setattr(views, "FIGURES_PAGE", 2)
    client.force_login(alice)
    seen = {}
    for page in (1, 2):
        r = client.get(f"/collection/?page={page}")
        seen |= {f.project.code: f for f in r.context["figures"]}
        counts = dict(r.context["counts"])
    assert set(seen) == set(Project.objects.exclude(code="M2").values_list("code", flat=True))
    for code, f in seen.items():
        on = today if code == main.code else D(2026, 1, 19)
        assert f.last_run_on == on
        day = Action.objects.filter(project__code=code, decided_on=on)
        assert (f.actions, f.waiting) == (day.count(), day.filter(status__in=["pending", "sending"]).count())
        assert f.held == HeldAccount.objects.filter(project__code=code, run_date=on).count()
        assert f.in_arrears == Episode.objects.filter(project__code=code, closed_on__isnull=True).count()
    assert seen[main.code].actions > 0 and seen["M1"].actions > 0
    in_scope = Action.objects.filter(~Q(project__code="M2"), decided_on=today)
    assert counts == {ActionStatus(s).label: in_scope.filter(status=s).count() for s in ActionStatus.values}
    assert sum(counts.values()) == seen[main.code].actions > 0


def test_the_overview_reads_the_database_a_bounded_number_of_times(
        client, alice, arrears_estate, django_assert_max_num_queries):
    """A manager of several projects: the projects assigned are read once for the page, not by every selector,
    and the day's outbox is counted in the same query as the projects' actions (16 before, decision 197)."""
    from django.utils import timezone

    from wuye.estate.models import Project

    _more_projects(alice, 2)
    dunning_run(as_of=timezone.localdate())
    alice.projects.set(Project.objects.all())
    client.force_login(alice)
    client.get("/collection/")
    with django_assert_max_num_queries(13):
        r = client.get("/collection/")
    assert r.status_code == 200 and sum(n for _label, n in r.context["counts"]) > 0
