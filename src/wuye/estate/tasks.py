"""Huey tasks of the estate: thin wrappers that take ids and call a service."""

from huey.contrib.djhuey import db_task


@db_task()
def run_import(job_id: int) -> None:
    from wuye.estate.importer import import_run

    import_run(job_id)
