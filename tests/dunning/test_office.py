"""An office tenant's 3/7/10-day written notices, then escalation to the department head."""

import datetime as dt

from wuye.dunning.dispatch import dispatch
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Task

from .conftest import names

D = dt.date


def test_three_notices_on_days_3_7_10_then_escalation(office, alice):
    for day in range(11, 25):
        dunning_run(as_of=D(2026, 3, day))
    got = [(d, n) for d, n in names(office) if not n.startswith("到期前")]
    assert got == [
        (D(2026, 3, 11), "逾期短信"),
        (D(2026, 3, 13), "第一次催缴通知书"),
        (D(2026, 3, 17), "第二次催缴通知书"),
        (D(2026, 3, 20), "第三次催缴通知书"),
        (D(2026, 3, 23), "升级部门负责人"),
    ]
    # written notices become delivery tasks on a working day; the escalation goes to the manager
    dispatch(now=dt.datetime(2026, 3, 23, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    kinds = dict(Task.objects.filter(unit=office).values_list("title", "kind"))
    assert kinds["A-1201 第一次催缴通知书"] == "notice"
    escalation = Task.objects.get(unit=office, kind="escalate")
    assert escalation.assigned_to == alice


def test_a_signed_notice_is_recorded_as_delivered_with_the_signer(office, alice, client):
    from wuye.dunning.choices import ActionStatus, TaskStatus

    for day in (11, 13):
        dunning_run(as_of=D(2026, 3, day))
    dispatch(now=dt.datetime(2026, 3, 13, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    task = Task.objects.get(unit=office, kind="notice")
    client.force_login(alice)
    # a signer without the relation is refused, and nothing changes
    client.post(f"/collection/tasks/{task.pk}/close/", {"signed_by": "王前台", "signed_on": "2026-03-13"})
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN
    client.post(f"/collection/tasks/{task.pk}/close/", {"signed_by": "王前台", "relation": "公司前台/指定人员",
                                                        "signed_on": "2026-03-13", "note": "前台代收"})
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE and "王前台" in task.close_note
    action = task.action
    action.refresh_from_db()
    assert action.status == ActionStatus.DELIVERED and action.delivered_at.date() == D(2026, 3, 13)
    assert action.events.filter(status=ActionStatus.DELIVERED, actor_label=f"user:{alice.username}").exists()
