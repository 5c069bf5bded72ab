"""A worker that dies mid-import leaves its import running: its transaction rolled back, so nothing was
posted, but the row says 处理中 for ever. Imports whose claim is older than WUYE_BANK_IMPORT_STALE_MINUTES are
queued again (by the periodic job, or when their page is opened), at most WUYE_BANK_IMPORT_MAX_ATTEMPTS claims,
then failed with a message; finance can press 重新处理. Reprocessing posts nothing twice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from wuye.accounts.models import AuditEvent
from wuye.banking import services
from wuye.banking.models import StatementImport, StatementLine
from wuye.billing.models import Payment

from .conftest import DAY, icbc_csv

ROWS = [[DAY, "J1", "", "100.00", "张某", "", "1-101物业费"],
        [DAY, "J2", "", "99.00", "业主004", "6222000000000004", "转账"],
        [DAY, "J3", "", "7.00", "某公司", "", "往来款"]]


def _stuck(fiona, icbc_account, *, minutes: int = 40, attempts: int = 1, rows=ROWS) -> StatementImport:
    """An import a worker claimed ``minutes`` ago and then died on: its transaction rolled back, so there
    are no lines and no payments, only the row left running."""
    statement = services._statement_create(actor=fiona, account=icbc_account, filename="s.csv",
                                           raw=icbc_csv(rows), actor_label="", apply=True)
    StatementImport.objects.filter(pk=statement.pk).update(
        status=StatementImport.Status.RUNNING, started_at=timezone.now() - dt.timedelta(minutes=minutes),
        attempts=attempts, rows_total=len(rows))
    statement.refresh_from_db()
    return statement


def test_it_requeues_a_stale_running_import_and_the_rerun_posts_it_once(fiona, owed, icbc_account):
    statement = _stuck(fiona, icbc_account)
    assert services.statements_recover_stale() == {"requeued": 1, "failed": 0}
    statement.refresh_from_db()  # the queue is immediate in tests: the job has run again
    assert statement.status == StatementImport.Status.APPLIED and statement.attempts == 2
    assert statement.counts["posted"] == 1 and Payment.objects.count() == 1
    assert StatementLine.objects.count() == 3
    payment = Payment.objects.get()
    assert payment.created_by == fiona and payment.amount_fen == 10_000  # still the uploader's payment
    assert AuditEvent.objects.filter(verb="banking.statement.requeue", object_id=str(statement.pk)).count() == 1
    # a second pass finds nothing to do
    assert services.statements_recover_stale() == {"requeued": 0, "failed": 0}
    assert Payment.objects.count() == 1


def test_a_running_import_younger_than_the_limit_is_left_alone(fiona, owed, icbc_account, settings):
    settings.WUYE_BANK_IMPORT_STALE_MINUTES = 30
    statement = _stuck(fiona, icbc_account, minutes=29)
    assert services.statements_recover_stale() == {"requeued": 0, "failed": 0}
    statement.refresh_from_db()
    assert statement.status == StatementImport.Status.RUNNING and Payment.objects.count() == 0


def test_reprocessing_lines_already_posted_posts_nothing_twice(fiona, owed, icbc_account):
    """The file was meanwhile uploaded again and imported in full; the stuck copy, re-run, finds every line
    already imported."""
    done = services.statement_submit(actor=fiona, account=icbc_account, filename="again.csv", raw=icbc_csv(ROWS))
    assert done.status == StatementImport.Status.APPLIED and Payment.objects.count() == 1
    statement = _stuck(fiona, icbc_account)
    services.statements_recover_stale()
    statement.refresh_from_db()
    assert statement.status == StatementImport.Status.APPLIED
    assert statement.counts["duplicate"] == 3 and statement.counts["posted"] == 0
    assert Payment.objects.count() == 1 and StatementLine.objects.count() == 3


def test_a_worker_that_wakes_up_after_its_claim_was_taken_over_writes_nothing(fiona, owed, icbc_account,
                                                                               monkeypatch):
    """The slow worker's claim goes stale while it parses; the recoverer re-queues and another run imports
    the file; when the slow worker gets to posting, its claim is no longer the current one: it posts nothing."""
    statement = services._statement_create(actor=fiona, account=icbc_account, filename="s.csv",
                                           raw=icbc_csv(ROWS), actor_label="", apply=True)
    real_parse = services.parse_statement
    taken_over = []

    def slow_parse(*args, **kwargs):
        parsed = real_parse(*args, **kwargs)
        if not taken_over:  # only the first (slow) run: its claim is made old, then recovered meanwhile
            taken_over.append(True)
            StatementImport.objects.filter(pk=statement.pk).update(
                started_at=timezone.now() - dt.timedelta(hours=1))
            assert services.statements_recover_stale()["requeued"] == 1  # the second run happens here
        return parsed

    monkeypatch.setattr(services, "parse_statement", slow_parse)
    services.statement_run(statement.pk)
    statement.refresh_from_db()
    assert statement.status == StatementImport.Status.APPLIED and statement.attempts == 2
    assert statement.counts["posted"] == 1 and statement.counts["duplicate"] == 0
    assert Payment.objects.count() == 1 and StatementLine.objects.count() == 3


def test_after_the_last_attempt_it_is_failed_with_a_clear_message(client, fiona, owed, icbc_account, settings):
    settings.WUYE_BANK_IMPORT_MAX_ATTEMPTS = 3
    statement = _stuck(fiona, icbc_account, attempts=3)
    assert services.statements_recover_stale() == {"requeued": 0, "failed": 1}
    statement.refresh_from_db()
    assert statement.status == StatementImport.Status.FAILED and statement.finished_at
    message = statement.errors[0]["message"]
    assert "后台处理中断" in message and "共处理 3 次" in message and "重新处理" in message
    assert Payment.objects.count() == 0 and StatementLine.objects.count() == 0
    client.force_login(fiona)
    page = client.get(f"/banking/statements/{statement.pk}/").content.decode()
    assert "后台处理中断" in page and 'data-testid="retry"' in page


def test_finance_presses_reprocess_and_it_posts_once(client, fiona, owed, icbc_account, queue):
    statement = _stuck(fiona, icbc_account, attempts=3)
    services.statements_recover_stale()
    client.force_login(fiona)
    response = client.post(f"/banking/statements/{statement.pk}/", {"action": "retry"}, follow=True)
    assert "已重新排队处理" in response.content.decode()
    statement.refresh_from_db()
    assert statement.status == StatementImport.Status.QUEUED and statement.attempts == 0 and not statement.errors
    assert AuditEvent.objects.filter(verb="banking.statement.retry", actor=fiona).count() == 1
    task = queue.dequeue()
    queue.execute(task)
    statement.refresh_from_db()
    assert statement.status == StatementImport.Status.APPLIED and Payment.objects.count() == 1
    # pressing it again on a finished import is refused with a message; nothing moves
    response = client.post(f"/banking/statements/{statement.pk}/", {"action": "retry"}, follow=True)
    assert "不能重新处理" in response.content.decode() and Payment.objects.count() == 1


def test_opening_the_page_of_a_stuck_import_queues_it_again(client, fiona, owed, icbc_account, queue):
    statement = _stuck(fiona, icbc_account)
    client.force_login(fiona)
    state = client.get(f"/banking/statements/{statement.pk}/state/", HTTP_HX_REQUEST="true").content.decode()
    statement.refresh_from_db()
    assert statement.status == StatementImport.Status.QUEUED and queue.pending_count() == 1
    assert "正在排队" in state
    queue.execute(queue.dequeue())
    statement.refresh_from_db()
    assert statement.status == StatementImport.Status.APPLIED and Payment.objects.count() == 1


def test_a_rerun_shows_that_the_last_one_was_interrupted(client, fiona, owed, icbc_account):
    statement = _stuck(fiona, icbc_account, minutes=1, attempts=2)
    client.force_login(fiona)
    state = client.get(f"/banking/statements/{statement.pk}/state/").content.decode()
    assert "上次处理中断，这是第 2 次处理" in state
    assert client.get(f"/api/v1/bank-statements/{statement.pk}/").json()["attempts"] == 2


@pytest.mark.parametrize("status", ["queued", "applied", "preview"])
def test_only_failed_or_stuck_imports_can_be_reprocessed(fiona, owed, icbc_account, status):
    from django.core.exceptions import ValidationError

    statement = _stuck(fiona, icbc_account, minutes=1)
    StatementImport.objects.filter(pk=statement.pk).update(status=status)
    with pytest.raises(ValidationError, match="不能重新处理"):
        services.statement_retry(actor=fiona, statement=statement)


def test_the_periodic_job_requeues_stuck_imports(fiona, owed, icbc_account):
    from wuye import tasks

    job = tasks.recover_stale_statement_imports
    assert job.task_class().validate_datetime(dt.datetime(2026, 7, 20, 10, 5))  # every five minutes
    statement = _stuck(fiona, icbc_account)
    job.call_local()
    statement.refresh_from_db()
    assert statement.status == StatementImport.Status.APPLIED and Payment.objects.count() == 1
