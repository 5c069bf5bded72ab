"""common.bulk: rows written as dicts get the model's defaults; a misspelt or missing column is an error,
not a shifted tuple."""

import datetime as dt

import pytest

from wuye.common.bulk import dict_rows, insert_dicts, model_defaults, update_dicts
from wuye.dunning.choices import ActionStatus, TaskStatus
from wuye.dunning.models import Action, ActionEvent, Task


def test_a_dict_row_gets_the_models_defaults(arrears_estate):
    from wuye.dunning.engine import dunning_run

    dunning_run(as_of=dt.date(2026, 1, 16))
    action = Action.objects.filter(channel="sms").first()
    now = dt.datetime(2026, 1, 16, 2, 0, tzinfo=dt.UTC)
    assert insert_dicts(Task, [{"project_id": action.project_id, "unit_id": action.unit_id, "kind": "call",
                                "title": "电话", "assignee_role": "collector", "due_on": dt.date(2026, 1, 16)}]) == 1
    task = Task.objects.get()
    assert (task.status, task.detail, task.assigned_to_id, task.closed_at, task.close_note) == (
        TaskStatus.OPEN, "", None, None, "")
    assert task.created_at is not None  # auto_now_add: the time of the write
    insert_dicts(ActionEvent, [{"action_id": action.pk, "at": now, "status": "sent", "actor_label": "t"}])
    assert ActionEvent.objects.get(action=action).detail == ""
    update_dicts(Action, [{"pk": action.pk, "status": ActionStatus.SENT, "periods": ["2026-01-01"]}],
                 ("status", "periods"))
    action.refresh_from_db()
    assert action.status == ActionStatus.SENT and action.periods == ["2026-01-01"]


def test_unknown_and_missing_columns_are_named():
    with pytest.raises(KeyError, match="stauts"):
        dict_rows(Task, [{"project_id": 1, "unit_id": 1, "kind": "call", "title": "x", "assignee_role": "manager",
                          "due_on": dt.date(2026, 1, 1), "stauts": "open"}])
    with pytest.raises(KeyError, match="due_on"):
        dict_rows(Task, [{"project_id": 1, "unit_id": 1, "kind": "call", "title": "x", "assignee_role": "manager"}])
    with pytest.raises(KeyError, match="stauts"):
        update_dicts(Task, [{"pk": 1, "stauts": "open"}], ("stauts",))


def test_defaults_are_database_ready():
    defaults = model_defaults(Action)
    assert defaults["status"] == ActionStatus.PENDING and defaults["attempts"] == 0 and defaults["periods"] == []
    assert "unit_id" not in defaults and "id" not in defaults  # required, and never filled
    columns, rows = dict_rows(Action, [{"project_id": 1, "unit_id": 2, "step_id": 3, "cycle": "A2026-01-16",
                                        "decided_on": dt.date(2026, 1, 16), "channel": "sms", "stage": 10,
                                        "not_before": dt.datetime(2026, 1, 16, tzinfo=dt.UTC), "out_id": "x"}])
    row = dict(zip(columns, rows[0], strict=True))
    assert row["periods"] == "[]" and row["party_id"] is None and row["content"] == ""


def test_a_shaped_row_names_its_columns_and_gets_the_rest_from_the_defaults(arrears_estate):
    from wuye.common.bulk import Shape, insert_shaped
    from wuye.dunning.engine import dunning_run

    with pytest.raises(KeyError, match="stauts"):
        Shape(Task, ("project_id", "unit_id", "kind", "title", "assignee_role", "due_on", "stauts"))
    with pytest.raises(KeyError, match="due_on"):
        Shape(Task, ("project_id", "unit_id", "kind", "title", "assignee_role"))

    dunning_run(as_of=dt.date(2026, 1, 16))
    action = Action.objects.filter(channel="sms").first()
    shape = Shape(Task, ("project_id", "unit_id", "kind", "title", "assignee_role", "due_on"))
    assert shape.index("title") == 3
    columns, tail = shape.columns_and_tail()
    assert columns[:6] == list(shape.fields) and len(columns) == len(set(columns)) == 6 + len(tail)
    assert insert_shaped(shape, [(action.project_id, action.unit_id, "call", "电话", "collector",
                                  dt.date(2026, 1, 16))]) == 1
    task = Task.objects.get()
    assert (task.title, task.status, task.detail, task.assigned_to_id, task.close_note) == (
        "电话", TaskStatus.OPEN, "", None, "")
    assert task.created_at is not None
