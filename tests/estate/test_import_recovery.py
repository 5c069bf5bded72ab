"""An estate import whose worker died (a restart, the memory killer) is not left 校验中/写入中 for ever (issue 14
item 7): the writing is one transaction, so nothing of the dead run is in the database; a job claimed longer
ago than WUYE_IMPORT_STALE_MINUTES is queued again — by the periodic job or when its page is opened — at most
WUYE_IMPORT_MAX_ATTEMPTS claims, then failed with a message. A run is a claim: two workers never run one job,
and a run whose claim was superseded while it wrote keeps nothing."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from wuye.accounts.models import AuditEvent
from wuye.estate import importer
from wuye.estate.models import ImportJob, Project, Unit

from .test_import_safety import _csv, _row

pytestmark = pytest.mark.django_db


def _stuck(user, *, status=ImportJob.Status.APPLYING, minutes: int = 40, attempts: int = 1) -> ImportJob:
    """A job a worker claimed ``minutes`` ago and died on: its transaction rolled back, only the row is left."""
    raw = _csv([_row(0), _row(1)])
    job = ImportJob(created_by=user, filename="stuck.csv", sha256=hashlib.sha256(raw).hexdigest())
    job.file.save("stuck.csv", ContentFile(raw), save=False)
    job.save()
    ImportJob.objects.filter(pk=job.pk).update(
        status=status, started_at=timezone.now() - dt.timedelta(minutes=minutes), attempts=attempts,
        total_rows=2, processed_rows=2)
    job.refresh_from_db()
    return job


@pytest.mark.parametrize("status", [ImportJob.Status.VALIDATING, ImportJob.Status.APPLYING])
def test_a_job_left_running_by_a_dead_worker_is_queued_again_and_imported(alice, status):
    job = _stuck(alice, status=status)
    assert importer.imports_recover_stale() == {"requeued": 1, "failed": 0}
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED and job.attempts == 2  # run again at once (immediate queue)
    assert Unit.objects.filter(project__code="SAFE").count() == 2
    assert AuditEvent.objects.filter(verb="import.requeue", object_id=str(job.pk)).count() == 1


def test_after_the_last_attempt_it_is_failed_with_a_message_and_nothing_written(alice, settings):
    settings.WUYE_IMPORT_MAX_ATTEMPTS = 2
    job = _stuck(alice, attempts=2)
    assert importer.imports_recover_stale() == {"requeued": 0, "failed": 1}
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and job.finished_at is not None
    message = job.errors[0]["message"]
    assert "后台处理中断" in message and "数据没有任何改变" in message and "共处理 2 次" in message
    assert Project.objects.count() == 0
    assert AuditEvent.objects.filter(verb="import.failed", object_id=str(job.pk)).count() == 1


def test_a_job_still_within_the_limit_is_left_alone(alice, settings):
    settings.WUYE_IMPORT_STALE_MINUTES = 30
    job = _stuck(alice, minutes=5)
    assert importer.imports_recover_stale() == {"requeued": 0, "failed": 0}
    job.refresh_from_db()
    assert job.status == ImportJob.Status.APPLYING


def test_opening_the_jobs_page_recovers_it(client, alice):
    job = _stuck(alice, status=ImportJob.Status.VALIDATING)
    client.force_login(alice)
    response = client.get(f"/estate/imports/{job.pk}/progress/")
    assert response.status_code == 200
    assert "已导入" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED


def test_a_job_another_worker_has_claimed_is_not_run_twice(alice):
    job = _stuck(alice, status=ImportJob.Status.VALIDATING, minutes=0)
    again = importer.import_run(job.pk)
    assert again.status == ImportJob.Status.VALIDATING and again.attempts == 1
    assert Project.objects.count() == 0


def _recoverer_fails(job_id: int) -> None:
    """What the recoverer does to a job it takes for dead after the last attempt (conditional on the claim)."""
    job = ImportJob.objects.get(pk=job_id)
    assert ImportJob.objects.filter(pk=job_id, status=job.status, started_at=job.started_at).update(
        status=ImportJob.Status.FAILED, errors=[{"message": "中断"}])


def _submitted(user) -> ImportJob:
    raw = _csv([_row(0)])
    job = ImportJob(created_by=user, filename="slow.csv", sha256=hashlib.sha256(raw).hexdigest())
    job.file.save("slow.csv", ContentFile(raw), save=False)
    job.save()
    return job


def test_a_run_taken_for_dead_while_validating_writes_nothing(alice, monkeypatch):
    real = importer.validate_rows

    def slow(table, header_index, colmap, progress):
        out = real(table, header_index, colmap, progress)
        _recoverer_fails(job.pk)
        return out

    monkeypatch.setattr(importer, "validate_rows", slow)
    job = _submitted(alice)
    importer.import_run(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and job.errors == [{"message": "中断"}]
    assert Project.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_run_taken_for_dead_while_writing_keeps_its_rows_only_with_its_success(alice, monkeypatch):
    """On PostgreSQL the recoverer (another connection) can fail the job while the run's transaction writes:
    the run's success is recorded in that transaction, conditional on its claim, so its rows are rolled back
    and the job says what the recoverer said. (SQLite has one writer: a recoverer waits for the run to commit
    and then finds the job finished; the validation case above covers it there.)"""
    import threading

    from django.db import connection, connections

    real = importer.apply_rows

    def slow(rows, *, actor, job):
        counts = real(rows, actor=actor, job=job)
        if connection.vendor == "postgresql":
            def other():
                try:
                    _recoverer_fails(job.pk)
                finally:
                    connections.close_all()

            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
        return counts

    monkeypatch.setattr(importer, "apply_rows", slow)
    job = _submitted(alice)
    importer.import_run(job.pk)
    job.refresh_from_db()
    if connection.vendor == "postgresql":
        assert job.status == ImportJob.Status.FAILED and job.errors == [{"message": "中断"}]
        assert Project.objects.count() == 0 and Unit.objects.count() == 0
    else:
        assert job.status == ImportJob.Status.SUCCEEDED and Unit.objects.count() == 1


def test_the_recovery_is_scheduled():
    from huey.contrib.djhuey import HUEY

    from wuye.tasks import recover_stale_estate_imports

    assert any(isinstance(t, recover_stale_estate_imports.task_class) for t in HUEY._registry.periodic_tasks)


# --- a job whose queue message was lost (decision 171) ------------------------------------------------------


def _queued(user, *, minutes: int) -> ImportJob:
    """A job uploaded ``minutes`` ago whose queue message never reached a worker: still 排队中, never claimed."""
    job = _submitted(user)
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(minutes=minutes))
    job.refresh_from_db()
    return job


def test_a_queued_job_whose_message_was_lost_is_queued_again_and_imported(alice, settings):
    settings.WUYE_IMPORT_STALE_MINUTES = 30
    young, job = _queued(alice, minutes=5), _queued(alice, minutes=40)
    assert importer.imports_recover_stale() == {"requeued": 1, "failed": 0}
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED and job.attempts == 1 and job.requeued == 1
    assert Unit.objects.filter(project__code="SAFE").count() == 1
    assert AuditEvent.objects.get(verb="import.requeue", object_id=str(job.pk)).note.startswith("排队已 40 分钟")
    young.refresh_from_db()
    assert young.status == ImportJob.Status.PENDING and young.requeued == 0  # a worker will take it


def test_a_lost_job_is_sent_once_per_period_and_failed_after_the_last_attempt(alice, settings, monkeypatch):
    """The queue keeps losing it: each sweep within the period after a re-send leaves it alone (one message a
    period, whoever sweeps), after WUYE_IMPORT_MAX_ATTEMPTS re-sends it is failed with a message, nothing
    written."""
    from wuye.estate import tasks

    settings.WUYE_IMPORT_STALE_MINUTES, settings.WUYE_IMPORT_MAX_ATTEMPTS = 30, 2
    sent = []
    monkeypatch.setattr(tasks, "run_import", sent.append)  # the message is lost again
    job = _queued(alice, minutes=31)
    now = timezone.now()
    assert importer.imports_recover_stale(now=now) == {"requeued": 1, "failed": 0}
    assert importer.imports_recover_stale(now=now + dt.timedelta(minutes=5)) == {"requeued": 0, "failed": 0}
    assert importer.imports_recover_stale(now=now + dt.timedelta(minutes=31)) == {"requeued": 1, "failed": 0}
    assert sent == [job.pk, job.pk]
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PENDING and job.requeued == 2 and job.attempts == 0
    assert importer.imports_recover_stale(now=now + dt.timedelta(minutes=62)) == {"requeued": 0, "failed": 1}
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and job.finished_at is not None and sent == [job.pk, job.pk]
    message = job.errors[0]["message"]
    assert "排队后一直未开始处理" in message and "数据没有任何改变" in message and "重新排队 2 次" in message
    assert Project.objects.count() == 0
    # a message that turns up after all finds the job finished: nothing runs
    assert importer.import_run(job.pk).status == ImportJob.Status.FAILED and Project.objects.count() == 0


def test_a_late_first_message_and_a_resent_one_run_the_job_once(alice, monkeypatch):
    """Sending again is safe when the first message was only late: the claim lets one of them run it."""
    from wuye.estate import tasks

    sent = []
    monkeypatch.setattr(tasks, "run_import", sent.append)
    job = _queued(alice, minutes=40)
    assert importer.imports_recover_stale() == {"requeued": 1, "failed": 0}
    runs = [importer.import_run(job_id) for job_id in [job.pk, *sent]]  # the late one, then the re-sent one
    assert [r.status for r in runs] == [ImportJob.Status.SUCCEEDED] * 2
    job.refresh_from_db()
    assert job.attempts == 1 and Unit.objects.filter(project__code="SAFE").count() == 1


def test_opening_a_lost_jobs_page_queues_it_again(client, alice):
    job = _queued(alice, minutes=40)
    client.force_login(alice)
    response = client.get(f"/estate/imports/{job.pk}/progress/")
    assert response.status_code == 200 and "已导入" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED and job.requeued == 1
