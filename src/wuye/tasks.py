"""The Huey schedule: every periodic job of the system is listed here.

Task bodies stay thin: they take ids and call a service.
"""

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task


@db_periodic_task(crontab(minute="17", hour="3"))
def purge_finished_imports() -> None:
    """Delete uploaded import files older than the retention period (the job rows stay)."""
    from wuye.estate.importer import purge_old_import_files

    purge_old_import_files()


@db_periodic_task(crontab(minute="30", hour="1"))
def refresh_installment_plans() -> None:
    """Record installment plans that broke or were completed yesterday (the ladder reacts to broken ones)."""
    from wuye.billing.installments import installment_refresh

    installment_refresh()


@db_periodic_task(crontab(minute="50", hour="5"))
def expire_dispute_holds() -> None:
    """Disputes still open whose hold date has passed stop holding the ladder (before the daily run)."""
    from wuye.casework.services import dispute_holds_expire

    dispute_holds_expire(as_of=timezone.localdate())


@db_periodic_task(crontab(minute="0", hour="6"))
def daily_dunning_run() -> None:
    """Decide today's collection actions (idempotent: a second run the same day creates nothing). With
    ``WUYE_DISTRIBUTED_DAILY`` this worker only coordinates: one part per project goes to all the workers."""
    from django.conf import settings

    if settings.WUYE_DISTRIBUTED_DAILY:
        from wuye.estate.models import Project
        from wuye.fanout import fanout_run

        fanout_run(kind="dunning", key=timezone.localdate().isoformat(), projects=list(Project.objects.order_by("pk")),
                   timeout=settings.WUYE_DISTRIBUTED_TIMEOUT)
        return
    from wuye.dunning.engine import dunning_run

    dunning_run(as_of=timezone.localdate())


@db_task()
def fanout_part(part_id: int, attempt: int) -> None:
    """One project's part of a distributed daily run or bill run (``wuye.fanout``; the coordinator queues it)."""
    from wuye.fanout import part_execute

    part_execute(part_id=part_id, attempt=attempt)


@db_periodic_task(crontab(minute="*/5"))
def dispatch_outbox() -> None:
    """Send what is due and inside its contact window (a lock keeps two consumers from overlapping)."""
    from wuye.dunning.dispatch import dispatch

    with HUEY.lock_task("dispatch-outbox"):
        dispatch()
    seal_action_log()


def seal_action_log() -> None:
    """Chain the action-log records that became final since the last seal (legal's hash chain): after each
    dispatch, and hourly for what receipts, task closings and contacts added in between."""
    from wuye.legal.chain import seal

    with HUEY.lock_task("legal-seal"):
        seal()


@db_periodic_task(crontab(minute="40"))
def seal_hourly() -> None:
    seal_action_log()


@db_periodic_task(crontab(minute="30", hour="7"))
def legal_daily() -> None:
    """After the daily run: seal its records, count the periods running out within 30/60/90 days per project
    (the legal role's numbers), and mark the case deadlines entering their reminder window."""
    from wuye.legal.selectors import clock_summary_compute
    from wuye.legal.services import deadlines_remind

    seal_action_log()
    clock_summary_compute(as_of=timezone.localdate())
    deadlines_remind()


@db_periodic_task(crontab(minute="45", hour="7"))
def legal_deadline_notices() -> None:
    """Tell each case's 承办人 of the deadlines that reached a reminder stage today (their window, then the day
    before they run out): one 期限提醒 per deadline and stage, however often it runs."""
    from wuye.legal.services import deadlines_close_old_appeals, deadlines_notify

    deadlines_close_old_appeals()  # 上诉期 rows counted from the judgment's date (before decision 161): closed first
    deadlines_notify()


@db_periodic_task(crontab(minute="*/5"))
def recover_stale_estate_imports() -> None:
    """Estate import jobs left 校验中/写入中 by a worker that died are queued again (or, after
    WUYE_IMPORT_MAX_ATTEMPTS claims, failed with a message); jobs left 排队中 whose queue message was lost are
    queued again too (at most WUYE_IMPORT_MAX_ATTEMPTS times, then failed)."""
    from wuye.estate.importer import imports_recover_stale

    with HUEY.lock_task("estate-recover-imports"):
        imports_recover_stale()


@db_periodic_task(crontab(minute="*/5"))
def recover_stale_statement_imports() -> None:
    """Bank statement imports left running by a worker that died are queued again (or, after
    WUYE_BANK_IMPORT_MAX_ATTEMPTS claims, marked failed for finance)."""
    from wuye.banking.services import statements_recover_stale

    with HUEY.lock_task("banking-recover-imports"):
        statements_recover_stale()
