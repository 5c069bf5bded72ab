"""The worklist: order, filters, suggested talking points, a fixed number of queries, territory."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from wuye.casework import services
from wuye.casework.models import TalkingPoint
from wuye.casework.selectors import worklist
from wuye.dunning.choices import AccountClass
from wuye.dunning.dispatch import dispatch

from .conftest import D, run


def test_the_starting_library_of_talking_points_is_installed(db):
    assert TalkingPoint.objects.count() >= 20
    assert set(TalkingPoint.objects.exclude(account_class="").values_list("account_class", flat=True)) == set(
        AccountClass.values)
    from wuye.casework.talking_points import talking_points_install

    assert talking_points_install() == 0  # idempotent


def test_rows_are_ordered_promise_task_call_daily_large_then_the_rest(arrears_estate, bob_territory, outbox):
    import datetime as dt
    from zoneinfo import ZoneInfo

    units = arrears_estate["units"][:12]  # building 1, all bob's
    run(D(2026, 1, 16))
    # a promise due on 20 January, an undecided account
    services.promise_make(actor=bob_territory, unit=units[5], promised_on=D(2026, 1, 20), on=D(2026, 1, 17))
    services.contact_record(actor=bob_territory, unit=units[7], channel="call", outcome="busy", on=D(2026, 1, 17))
    run(D(2026, 1, 19))  # day 4: the first call of every other account
    dispatch(now=dt.datetime(2026, 1, 19, 10, tzinfo=ZoneInfo("Asia/Shanghai")))
    wl = worklist(user=bob_territory, day=D(2026, 1, 20))
    assert [r.code for r in wl.rows][0] == units[5].code and wl.rows[0].priority == 1
    assert wl.rows[0].why == "今天是承诺缴费日"
    assert {r.priority for r in wl.rows[1:]} <= {2, 3}
    assert len(wl.rows) == 12
    undecided = next(r for r in wl.rows if r.unit_id == units[7].pk)
    assert undecided.account_class == AccountClass.UNDECIDED
    assert undecided.last_outcome == "busy" and undecided.last_by == "bob"
    assert any(p.account_class == AccountClass.UNDECIDED for p in undecided.points)
    assert all(r.phone_masked.count("*") == 4 for r in wl.rows)  # masked for a collector
    # filters: class, floor, amount
    assert [r.unit_id for r in worklist(user=bob_territory, day=D(2026, 1, 20),
                                        account_class=AccountClass.UNDECIDED).rows] == [units[7].pk]
    assert {r.floor for r in worklist(user=bob_territory, day=D(2026, 1, 20), floor_from=5).rows} == {5, 6}
    assert worklist(user=bob_territory, day=D(2026, 1, 20), min_fen=10**8).rows == []


def test_a_collector_sees_only_the_territory(arrears_estate, bob_territory):
    run(D(2026, 1, 16))
    wl = worklist(user=bob_territory, day=D(2026, 2, 1))
    building_1 = arrears_estate["buildings"][0].name
    assert wl.rows and {r.building for r in wl.rows} == {building_1}


def test_the_worklist_takes_a_fixed_number_of_queries(arrears_estate, bob_territory, alice, django_assert_max_num_queries):
    from wuye.accounts.services import territory_assign

    run(D(2026, 1, 16))
    for unit in arrears_estate["units"][:4]:
        services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="no_answer",
                                on=D(2026, 1, 17))
    with CaptureQueriesContext(connection) as small:
        n_small = len(worklist(user=bob_territory, day=D(2026, 2, 1)).rows)
    territory_assign(actor=alice, user=bob_territory, building=arrears_estate["buildings"][1])
    territory_assign(actor=alice, user=bob_territory, building=arrears_estate["buildings"][2])
    with django_assert_max_num_queries(14):  # the territory, its open lines, then buildings and debtors (decision 191); the early-warning scores (one query, any size)
        with CaptureQueriesContext(connection) as large:
            n_large = len(worklist(user=bob_territory, day=D(2026, 2, 1)).rows)
    assert n_large > n_small * 2
    assert len(large.captured_queries) == len(small.captured_queries)


def test_a_manager_picks_a_collector(arrears_estate, bob_territory, alice):
    run(D(2026, 1, 16))
    assert worklist(user=alice, day=D(2026, 2, 1)).note
    assert len(worklist(user=alice, day=D(2026, 2, 1), collector=bob_territory).rows) == 12


def test_each_row_says_what_happens_next_by_promise_task_and_class(arrears_estate, bob_territory):
    units = arrears_estate["units"]
    run(D(2026, 1, 16))
    services.promise_make(actor=bob_territory, unit=units[0], promised_on=D(2026, 1, 25), on=D(2026, 1, 19))
    services.promise_make(actor=bob_territory, unit=units[1], promised_on=D(2026, 1, 21), on=D(2026, 1, 19))
    services.contact_record(actor=bob_territory, unit=units[2], channel="call", outcome="no_answer",
                            on=D(2026, 1, 19))
    services.contact_record(actor=bob_territory, unit=units[3], channel="call", outcome="away", on=D(2026, 1, 19))
    services.contact_record(actor=bob_territory, unit=units[4], channel="visit", outcome="refused",
                            reason="service", note="电梯常坏", on=D(2026, 1, 19))
    nxt = {r.unit_id: r.next_step for r in worklist(user=bob_territory, day=D(2026, 1, 20)).rows}
    assert nxt[units[0].pk] == "1月24日 承诺前一天提醒"
    assert nxt[units[1].pk] == "今天提醒：明天是承诺缴费日"
    assert nxt[units[2].pk] == "每个工作日电话，直到约定缴费日期"
    assert nxt[units[3].pk] == "每个工作日电话，引导远程缴费"
    assert nxt[units[4].pk] == "争议处理中，暂停升级催缴"
    assert worklist(user=bob_territory, day=D(2026, 1, 21)).rows[0].next_step.startswith("今天是承诺缴费日")
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(bob_territory)
    rows = api.get("/api/v1/worklist/?date=2026-01-20").json()["rows"]
    assert {r["unit_id"]: r["next_step"] for r in rows}[units[0].pk] == "1月24日 承诺前一天提醒"


def _score(units, probabilities):
    """Early-warning scores as the insights module stores them (the worklist reads them through a setting)."""
    import datetime as dt

    from django.utils import timezone

    from wuye.insights.models import RiskModel, RiskScore

    model = RiskModel.objects.create(trained_at=timezone.now(), as_of=dt.date(2026, 1, 31), features=[], mean=[],
                                     scale=[], coef=[], intercept=0.0)
    for unit, p in zip(units, probabilities, strict=True):
        RiskScore.objects.create(model=model, project_id=unit.project_id, unit=unit, as_of=model.as_of,
                                 probability=p, reasons=[["dead_contacts", 1.2], ["late_trend", 0.4]])


def test_the_worklist_shows_the_early_warning_and_sorts_by_it(client, arrears_estate, bob_territory):
    run(D(2026, 1, 16))
    units = arrears_estate["units"][:12]
    _score([units[9], units[3]], [0.81, 0.2])
    rows = worklist(user=bob_territory, day=D(2026, 2, 1)).rows
    by_unit = {r.unit_id: r for r in rows}
    assert by_unit[units[9].pk].risk == 0.81 and by_unit[units[9].pk].risk_reasons == ["无效联系方式", "逾期缴费比例上升"]
    assert by_unit[units[0].pk].risk is None
    client.force_login(bob_territory)
    page = client.get("/casework/?date=2026-02-01").content.decode()
    assert f'data-testid="risk-{units[9].code}"' in page and "预警 81%" in page
    assert f'data-testid="risk-{units[3].code}"' not in page  # below WUYE_RISK_HIGH: no badge
    assert 'data-testid="sort-risk"' in page
    page = client.get("/casework/?date=2026-02-01&sort=risk").content.decode()
    assert page.index(f'data-testid="risk-{units[9].code}"') < page.index(f'data-testid="class-{units[0].code}"')
    assert 'data-testid="sort-priority"' in page


def test_each_card_links_to_its_own_unit_debtor_and_task(client, arrears_estate, bob_territory, outbox):
    """The cards' links are built in the view (``_card_links``: eleven ``{% url %}`` a card were most of the
    page's time); each must still name its unit, its debtor, the first task and the page to come back to."""
    import datetime as dt
    import html
    import re
    from urllib.parse import quote
    from zoneinfo import ZoneInfo

    from django.urls import reverse

    run(D(2026, 1, 16))
    run(D(2026, 1, 19))  # day 4: a call task for each account
    dispatch(now=dt.datetime(2026, 1, 19, 10, tzinfo=ZoneInfo("Asia/Shanghai")))
    client.force_login(bob_territory)
    here = "/casework/?date=2026-01-20&floor_from=1"
    page = client.get(here).content.decode()
    back = quote(here, safe="/")
    rows = worklist(user=bob_territory, day=D(2026, 1, 20), floor_from=1).rows
    with_task = [r for r in rows if r.task_ids]
    assert with_task
    for r in rows[:50]:
        task = r.task_ids[0] if r.task_ids else None
        contact = reverse("casework:contact", args=[r.unit_id])
        tail = f"&task={task}" if task else ""
        assert f'href="{reverse("casework:case", args=[r.unit_id])}"' in page
        assert (f'href="{contact}?outcome=promised&party={r.party_id}{tail}&next={back}" '
                f'data-testid="promise-{r.code}"') in page
        assert f'href="{contact}?party={r.party_id}&' + (f"task={task}&" if task else "") + f'next={back}"' in page
        assert (f'href="{reverse("casework:visit", args=[r.unit_id])}?party={r.party_id}{tail}&next={back}" '
                f'data-testid="visit-{r.code}"') in page
        quick = re.findall(rf'hx-post="{reverse("casework:quick", args=[r.unit_id])}" hx-vals=\'([^\']+)\'', page)
        assert quick and all(html.unescape(v).endswith(f'"task": "{task or ""}", "party": "{r.party_id}"}}')
                             for v in quick)
