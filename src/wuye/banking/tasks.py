"""Huey tasks of the banking app: thin wrappers that take ids and call a service."""

from huey.contrib.djhuey import db_task


@db_task(retries=3, retry_delay=2)
def run_statement(statement_id: int) -> None:
    """Parse, match and post one uploaded bank statement (retried only while its row is not yet visible)."""
    from wuye.banking.services import statement_run

    statement_run(statement_id)

