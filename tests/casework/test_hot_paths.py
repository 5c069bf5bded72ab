"""The three requests the full-scale load test found slowest (issue 18): the collector's worklist, the
promise recorded from the contact form and the manager's team desk — what they show and write, and what they
cost in queries."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from wuye.accounts.models import AuditEvent
from wuye.casework import services
from wuye.casework.models import ContactAttempt, Promise, TalkingPoint
from wuye.common.formatting import format_yuan
from wuye.common.lookups import Ids, ids_q
from wuye.dunning.choices import ActionStatus
from wuye.dunning.dispatch import dispatch
from wuye.dunning.models import Action, DecisionState, Episode, Hold, Task
from wuye.estate.models import Unit

from .conftest import D, run


def _called(bob, unit):
    """The first run and the first day's dispatch: the unit's debtor has an episode, a call task for bob and
    the ladder's next steps pending."""
    run(D(2026, 1, 16), D(2026, 1, 19))
    dispatch(now=dt.datetime(2026, 1, 19, 10, tzinfo=ZoneInfo("Asia/Shanghai")))
    run(D(2026, 2, 20))  # the ladder's next steps, decided and not sent yet
    return Task.objects.get(unit=unit, assigned_to=bob, status="open", kind="call")


def test_a_promise_from_the_contact_form_writes_its_rows_in_a_bounded_number_of_queries(
        unit, bob_territory, client, django_assert_max_num_queries):
    task = _called(bob_territory, unit)
    episode = Episode.objects.get(unit=unit, closed_on__isnull=True)
    party = episode.party
    owed = services.open_fen_of(unit, party.pk)
    pending = set(Action.objects.filter(unit=unit, status=ActionStatus.PENDING).values_list("pk", flat=True))
    mark = DecisionState.objects.get(unit=unit).mark
    before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    today = timezone.localdate()
    promised_on = today + dt.timedelta(days=10)
    client.force_login(bob_territory)
    url = f"/casework/units/{unit.pk}/contact/?outcome=promised&party={party.pk}&task={task.pk}"
    client.get(url)
    with django_assert_max_num_queries(42):  # 67 before (the load database at 100k units: 69 → 45, the same rows)
        r = client.post(url, {"channel": "call", "outcome": "promised", "task": task.pk,
                              "promised_on": promised_on.isoformat(), "note": "月底发工资后缴清"})
    assert r.status_code == 302
    # what the promise wrote, row by row
    attempt = ContactAttempt.objects.get(unit=unit)
    assert (attempt.channel, attempt.outcome, attempt.party_id, attempt.task_id, attempt.on, attempt.note,
            attempt.made_by_id, attempt.actor_label) == ("call", "promised", party.pk, task.pk, today,
                                                         "月底发工资后缴清", bob_territory.pk, "user:bob")
    assert attempt.contact_point_id == services.live_phones(party)[0].pk  # the debtor's first live number
    promise = Promise.objects.get(unit=unit)
    assert (promise.contact_id, promise.party_id, promise.promised_on, promise.amount_fen, promise.made_on,
            promise.made_by_id) == (attempt.pk, party.pk, promised_on, owed, today, bob_territory.pk)
    hold = Hold.objects.get(unit=unit)
    assert (hold.pk, hold.kind, hold.party_id, hold.starts_on, hold.until, hold.amount_fen, hold.released_on,
            hold.reason) == (promise.hold_id, "promise", party.pk, today, promised_on, owed, None,
                             f"承诺 {promised_on} 前缴 ¥{owed // 100:,}.{owed % 100:02d}")
    episode.refresh_from_db()
    assert (episode.account_class, episode.class_since) == ("promised", today)
    task.refresh_from_db()
    assert (task.status, task.close_note) == ("done", f"电话：承诺缴费（联系记录 {attempt.pk}）")
    assert pending and not Action.objects.filter(pk__in=pending, status=ActionStatus.PENDING).exists()
    events = list(AuditEvent.objects.filter(pk__gt=before or 0).order_by("pk").values_list(
        "verb", "object_id", "actor_label"))
    assert [e[0] for e in events] == ["casework.contact", "dunning.hold", "dunning.account_class",
                                      "casework.promise", "dunning.task_done"]
    assert {e[1] for e in events} == {str(unit.pk)}
    # one write, one mark: the hold, its save and the class used to bump the unit's marker three times
    assert DecisionState.objects.get(unit=unit).mark == mark + 1


def test_a_promise_recorded_by_the_service_or_the_form_is_the_same(arrears_estate, bob_territory):
    """``contact_record`` makes the promise without reading the debtor again (``_promise_make``); the rows are
    those ``promise_make`` writes for the same debtor."""
    a, b = arrears_estate["units"][:2]
    run(D(2026, 1, 16))
    on, until = D(2026, 1, 17), D(2026, 1, 27)
    owed = {u.pk: services.open_fen_of(u) for u in (a, b)}
    services.contact_record(actor=bob_territory, unit=a, channel="call", outcome="promised", promised_on=until,
                            on=on)
    services.promise_make(actor=bob_territory, unit=b, promised_on=until, on=on)

    def written(unit):
        promise = Promise.objects.select_related("hold").get(unit=unit)
        episode = Episode.objects.get(unit=unit)
        hold = promise.hold
        return (promise.promised_on, promise.amount_fen - owed[unit.pk], promise.made_on,
                promise.party_id == episode.party_id == hold.party_id, hold.kind, hold.until,
                hold.amount_fen == promise.amount_fen, hold.released_on, episode.account_class, episode.class_since,
                list(AuditEvent.objects.filter(object_id=str(unit.pk), verb__in=[
                    "dunning.hold", "dunning.account_class", "casework.promise"]).order_by("pk").values_list(
                    "verb", "before", "after__account_class", "after__reason")), format_yuan(owed[unit.pk]))

    def same(unit):
        *rows, events, amount = written(unit)
        return rows, [(verb, before, klass, reason and reason.replace(amount, "¥…"))
                      for verb, before, klass, reason in events]

    assert same(a) == same(b)
    assert written(a)[3] is True and written(a)[1] == 0


def test_ranges_of_ids_select_the_same_rows_as_the_list(arrears_estate):
    ids = sorted(Unit.objects.values_list("pk", flat=True))
    lo = ids[0]
    cases = [ids, ids[:1], ids[::2], ids[:20] + ids[25:26] + ids[30:47], [lo, lo + 1, lo + 40], [lo + 10**9]]
    for chosen in cases:
        q = ids_q("id", chosen)
        assert set(Unit.objects.filter(q).values_list("pk", flat=True)) == set(Unit.objects.filter(
            pk__in_ids=Ids(chosen)).values_list("pk", flat=True))
    # a run of 16 or more is one range (two comparisons), the rest one list
    sql = str(Unit.objects.filter(ids_q("id", ids[:20] + ids[25:26])).values("pk").query)
    assert sql.count(">=") == 1 and sql.count("<=") == 1
    assert str(Unit.objects.filter(ids_q("id", ids[::2])).values("pk").query).count(">=") == 0


def test_the_worklist_page_takes_16_queries_and_draws_the_cards_buttons_and_points(
        arrears_estate, bob_territory, client, django_assert_max_num_queries):
    task = _called(bob_territory, arrears_estate["units"][0])
    TalkingPoint.objects.create(code="x-escape", title="<b>先核对</b>", body="{房号} 的费用 & 明细", active=True,
                                sort=0)
    client.force_login(bob_territory)
    client.get("/casework/")
    with django_assert_max_num_queries(16):  # 18 before (17 on main): the buildings read for the filter name the cards
        page = client.get("/casework/").content.decode()
    unit = arrears_estate["units"][0]
    key = f"{unit.pk}-{task.action.party_id}"
    keys = set()
    for value, label in (("no_answer", "无人接听"), ("busy", "占线"), ("switched_off", "关机"), ("away", "人在外地")):
        found = re.search(
            f'<button class="btn btn-outline-secondary btn-sm" hx-post="/casework/units/{unit.pk}/quick/" '
            f'hx-vals=\'{{"_once": "([\\w-]{{24}})", "outcome": "{value}", "task": "{task.pk}", '
            f'"party": "{task.action.party_id}"}}\' hx-target="#actions-{key}" hx-swap="outerHTML">{label}</button>',
            page)
        assert found, value
        keys.add(found.group(1))
    assert len(keys) == 1  # one one-time key for the card's taps (the first tap answers; decision 204)
    assert len(set(re.findall(r'"_once": "([\w-]+)", "outcome": "no_answer"', page))) == page.count('"no_answer"')
    # a manager's talking point is escaped and names the card's unit
    assert f"<li><strong>&lt;b&gt;先核对&lt;/b&gt;</strong>：{unit.code} 的费用 &amp; 明细</li>" in page
    assert "<b>先核对</b>" not in page


def test_the_team_desk_counts_each_collectors_territories_and_open_tasks_apart(
        arrears_estate, unit, bob_territory, erin, alice, client):
    from wuye.accounts.services import territory_assign

    _called(bob_territory, unit)
    for building in arrears_estate["buildings"][1:]:
        territory_assign(actor=alice, user=bob_territory, building=building)
    n_open = Task.objects.filter(assigned_to=bob_territory, status="open").count()
    Task.objects.filter(pk=Task.objects.filter(assigned_to=bob_territory).order_by("pk").values("pk")[:1]).update(
        status="done")
    n_territories = bob_territory.territories.count()
    assert n_territories > 1 and n_open > 1
    client.force_login(alice)
    with CaptureQueriesContext(connection) as q:
        page = client.get("/casework/desk/team/").content.decode()
    assert (f"<td>{bob_territory}</td><td>在职</td><td>{n_territories}</td><td>{n_open - 1}</td>") in page
    assert f"<td>{erin}</td><td>在职</td><td>0</td><td>0</td>" in page
    # no query joins a collector's territories to their tasks (every pair was counted, then made distinct)
    assert not [s for s in q.captured_queries if "JOIN \"dunning_task\"" in s["sql"]
                and "\"accounts_territory\"" in s["sql"]]


def test_marks_held_mark_each_unit_once_at_the_end_and_nothing_when_the_block_fails(arrears_estate):
    import pytest
    from django.db import transaction

    from wuye.dunning.marks import mark_units, marks_held

    a, b = (u.pk for u in arrears_estate["units"][:2])

    def marks():
        return dict(DecisionState.objects.filter(unit_id__in=[a, b]).values_list("unit_id", "mark"))

    start = marks()
    with transaction.atomic(), marks_held():
        mark_units([a])
        with marks_held():  # an inner block joins the outer one
            mark_units([a, b])
        mark_units([a])
        assert marks() == start  # nothing written until the block ends
    after = marks()
    assert after == {a: start.get(a, 0) + 1, b: start.get(b, 0) + 1}
    with pytest.raises(RuntimeError), transaction.atomic(), marks_held():
        mark_units([a])
        raise RuntimeError("the write failed")
    assert marks() == after
    mark_units([b])  # outside a block each call marks at once
    assert marks()[b] == after[b] + 1
