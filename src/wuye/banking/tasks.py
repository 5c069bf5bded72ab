"""Huey tasks of the banking app: thin wrappers that take ids and call a service."""

from huey.contrib.djhuey import db_task


@db_task(retries=3, retry_delay=2)
def run_statement(statement_id: int) -> None:
    """Parse, match and post one uploaded bank statement (retried only while its row is not yet visible)."""
    from wuye.banking.services import statement_run

    statement_run(statement_id)


@db_task()
def send_arrears_reduced(items: list) -> None:
    """Tell dunning and casework that these units' arrears went down (after a statement import committed)."""
    from wuye.banking.posting import notify_arrears_reduced

    notify_arrears_reduced([(int(u), str(d)) for u, d in items])
