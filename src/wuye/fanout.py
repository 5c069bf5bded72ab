"""A daily job spread over the job workers: one part per project, one coordinator.

``wuye dunning_run --distributed`` and ``wuye generate_bills --distributed`` call ``fanout_run``: it records
the run (``common.FanoutRun``, one part per project), queues each part as a Huey task (``wuye.tasks.fanout_part``)
on the configured queue — Redis when ``REDIS_URL`` is set, so any number of machines running ``wuye run_huey``
share the parts — waits for all of them, queues a failed part again (up to ``attempts`` times in all) and
returns the summed result, which the command prints as one JSON line.

Why the result equals a one-process run: each part calls the same public service a one-process run calls for
that project (``dunning_run(as_of=…, project=…)``, ``bill_generate(project=…, period=…)``), both idempotent
and independent between projects, so a part that ran twice, or half-ran and failed, leaves what one clean
run leaves.

What keeps two runs apart:
- one ``running`` record per kind and key (the date, the period): a second coordinator for the same day
  stops at once, unless the first one's heartbeat is older than ``STALE_AFTER`` (it died), whose record
  becomes ``abandoned``;
- a worker takes a part only for the attempt it was queued for (a conditional update, as Healthchecks claims
  its flips), so a repeated or late delivery does nothing;
- the part's work holds a lock per kind and project (a session advisory lock on PostgreSQL, a file lock
  beside the data on SQLite), released when the process or its connection dies: a part queued again while
  a presumed-lost attempt still runs waits for it instead of running beside it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from wuye.common.models import FanoutKind, FanoutPart, FanoutRun, FanoutStatus, PartStatus
from wuye.estate.models import Project, Unit

log = logging.getLogger(__name__)

STALE_AFTER = dt.timedelta(minutes=5)  # a coordinator that has not beaten for this long is presumed dead
LOCK_SPACE = {FanoutKind.DUNNING: 0x77790F01, FanoutKind.BILLS: 0x77790F02}  # advisory-lock namespaces
LOCK_POLL = 0.5

# Tests: a callable run by the worker before a part's work (it may raise), or the environment variables
# ``WUYE_FANOUT_FAIL_ONCE=<project code>[,<code>…]`` that makes the first attempt of those projects' parts fail and
# ``WUYE_FANOUT_PART_SECONDS=<s>`` that makes every part take at least that long (so that a second worker polling
# the queue takes a share while the first is busy, instead of one fast worker draining a small queue alone).
FAULT_HOOK: Callable[[FanoutPart], None] | None = None


class FanoutBusy(Exception):
    """Another coordinator is running the same job for the same day or period."""


class ProjectBusy(Exception):
    """The project's lock stayed taken for longer than the part may wait."""


def here() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


# --- the parts' work ---------------------------------------------------------------------------------------

def dunning_part(project: Project, key: str) -> dict:
    from wuye.dunning.engine import dunning_run

    result = dunning_run(as_of=dt.date.fromisoformat(key), project=project, actor_label="dunning_run --distributed")
    return {"accounts_in_arrears": result.accounts_in_arrears, "actions_created": result.actions_created,
            "held": result.held, "alert": result.alert}


def bills_part(project: Project, key: str) -> dict:
    from wuye.billing.services import bill_generate

    try:
        run = bill_generate(actor=None, actor_label="generate_bills --distributed", project=project,
                            period=dt.datetime.strptime(key, "%Y-%m").date())
    except ValidationError as exc:
        if "period" in getattr(exc, "message_dict", {}):
            # not a billing month of this project: what the one-process command skips silently
            return {"bills_created": 0, "amount_fen": 0, "skipped": "；".join(exc.message_dict["period"])}
        raise
    if run is None:
        return {"bills_created": 0, "amount_fen": 0}
    return {"bills_created": run.bills_created, "amount_fen": run.amount_fen}


WORK: dict[str, Callable[[Project, str], dict]] = {FanoutKind.DUNNING: dunning_part, FanoutKind.BILLS: bills_part}
SUMMED = {FanoutKind.DUNNING: ("accounts_in_arrears", "actions_created", "held"),
          FanoutKind.BILLS: ("bills_created", "amount_fen")}


# --- the worker's side -------------------------------------------------------------------------------------

@contextlib.contextmanager
def project_lock(kind: str, project_id: int, *, wait: float) -> Iterator[None]:
    """Hold the lock of ``kind`` for one project for the duration of the block (waiting up to ``wait`` s)."""
    deadline = time.monotonic() + wait
    if connection.vendor == "postgresql":
        args = (LOCK_SPACE[kind], project_id % 2**31)
        with connection.cursor() as cursor:
            while True:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", args)
                if cursor.fetchone()[0]:
                    break
                if time.monotonic() >= deadline:
                    raise ProjectBusy(f"project {project_id}: {kind} lock still taken after {wait:.0f} s")
                time.sleep(LOCK_POLL)
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", args)
        return
    # SQLite: every process is on this machine; a lock file per project beside the data (released by the OS
    # when the process dies)
    lock_dir = settings.DATA_DIR / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"fanout-{kind}-{project_id}.lock", "a+b") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ProjectBusy(f"project {project_id}: {kind} lock still taken after {wait:.0f} s") from None
                time.sleep(LOCK_POLL)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _fail_once(part: FanoutPart) -> None:
    pause = float(os.environ.get("WUYE_FANOUT_PART_SECONDS") or 0)
    if pause > 0:
        time.sleep(min(pause, 30.0))
    codes = {c for c in os.environ.get("WUYE_FANOUT_FAIL_ONCE", "").split(",") if c}
    if part.attempts == 1 and part.project.code in codes:
        raise RuntimeError(f"injected failure of the first attempt ({part.project.code})")


def part_execute(*, part_id: int, attempt: int, lock_wait: float = 3600.0) -> bool:
    """Do one part, if it is still waiting for this ``attempt``. Returns whether this call did it."""
    worker = here()
    taken = FanoutPart.objects.filter(pk=part_id, attempts=attempt, status=PartStatus.QUEUED).update(
        status=PartStatus.RUNNING, started_at=timezone.now(), worker=worker, error="")
    if not taken:
        return False  # a repeated delivery, or an attempt the coordinator has since queued again
    part = FanoutPart.objects.select_related("run", "project").get(pk=part_id)
    mine = FanoutPart.objects.filter(pk=part_id, attempts=attempt, status=PartStatus.RUNNING)
    try:
        (FAULT_HOOK or _fail_once)(part)
        with project_lock(part.run.kind, part.project_id, wait=lock_wait):
            result = WORK[part.run.kind](part.project, part.run.key)
    except Exception as exc:
        log.exception("fanout part %s (%s %s, project %s) failed", part_id, part.run.kind, part.run.key,
                      part.project.code)
        mine.update(status=PartStatus.FAILED, finished_at=timezone.now(), error=f"{type(exc).__name__}: {exc}"[:1000])
        return True
    mine.update(status=PartStatus.DONE, finished_at=timezone.now(), result=result)
    return True


# --- the coordinator ---------------------------------------------------------------------------------------

@dataclass
class FanoutResult:
    run: FanoutRun
    totals: dict[str, int]
    parts: int
    retried: int
    failed: list[str] = field(default_factory=list)  # "code: error" of the parts that failed for good
    waiting: list[str] = field(default_factory=list)  # codes of the parts unfinished at the timeout
    alerts: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.run.status == FanoutStatus.SUCCEEDED

    def as_dict(self) -> dict:
        return {**self.totals, "seconds": round(self.seconds, 2),
                "distributed": {"run": self.run.pk, "status": self.run.status, "parts": self.parts,
                                "retried": self.retried, "failed": self.failed, "waiting": self.waiting}}


def run_open(*, kind: str, key: str, attempts: int) -> FanoutRun:
    """Record a new running run of ``kind`` for ``key``; a dead coordinator's record is marked abandoned."""
    now = timezone.now()
    for _ in range(2):
        try:
            with transaction.atomic():
                return FanoutRun.objects.create(kind=kind, key=key, coordinator=here(), heartbeat_at=now,
                                                attempts_max=attempts)
        except IntegrityError:
            other = FanoutRun.objects.filter(kind=kind, key=key, status=FanoutStatus.RUNNING).first()
            if other is None:
                continue  # it just finished
            if other.heartbeat_at and other.heartbeat_at >= now - STALE_AFTER:
                raise FanoutBusy(f"{other.get_kind_display()} {key} 已由 {other.coordinator} 在运行"
                                 f"（运行 #{other.pk}，开始于 {timezone.localtime(other.started_at):%H:%M:%S}）。") from None
            FanoutRun.objects.filter(pk=other.pk, status=FanoutStatus.RUNNING).update(
                status=FanoutStatus.ABANDONED, finished_at=now, error=f"心跳停止于 {other.heartbeat_at}")
    raise FanoutBusy(f"{kind} {key}: could not record the run")


def part_queue(part: FanoutPart) -> bool:
    """Queue ``part`` (again) if it is still as the coordinator last read it: its attempt count goes up and the
    task names that attempt. False when a worker changed it meanwhile (it finished: nothing to queue)."""
    from wuye.tasks import fanout_part

    if not FanoutPart.objects.filter(pk=part.pk, attempts=part.attempts, status=part.status).update(
            status=PartStatus.QUEUED, attempts=part.attempts + 1, queued_at=timezone.now(), error=part.error):
        return False
    part.attempts += 1
    part.status = PartStatus.QUEUED
    fanout_part(part.pk, part.attempts)
    return True


def fanout_run(*, kind: str, key: str, projects: list[Project], attempts: int = 3, timeout: float = 3600.0,
               part_timeout: float | None = None, poll: float = 0.5) -> FanoutResult:
    """Run ``kind`` for ``key`` as one part per project on the job workers and wait for all of them.

    A part that failed is queued again until it has been tried ``attempts`` times; one still running after
    ``part_timeout`` seconds (its worker presumed dead) is queued again the same way. The run ends when
    every part is done or failed for good, or after ``timeout`` seconds (status ``timed_out``: the parts
    left keep going on the workers; running the command again completes whatever they did not)."""
    started = time.monotonic()
    run = run_open(kind=kind, key=key, attempts=attempts)
    FanoutPart.objects.bulk_create([FanoutPart(run=run, project=p) for p in projects])
    # the largest projects first: the workers finish together instead of one of them ending on a big one
    sizes = dict(Unit.objects.filter(project__in=[p.pk for p in projects]).values_list("project_id")
                 .annotate(n=Count("id")).values_list("project_id", "n"))
    parts = sorted(FanoutPart.objects.filter(run=run).select_related("project"),
                   key=lambda p: (-sizes.get(p.project_id, 0), p.project_id))
    retried = 0
    try:
        for part in parts:
            part_queue(part)  # immediate mode (tests, the demo) runs it here
        while True:
            states = {p.pk: p for p in FanoutPart.objects.filter(run=run).select_related("project")}
            now = timezone.now()
            open_parts = []
            for part in states.values():
                if part.status == PartStatus.FAILED and part.attempts < attempts:
                    log.warning("fanout %s %s: project %s failed (%s), queued again", kind, key, part.project.code,
                                part.error)
                    retried += part_queue(part)
                    open_parts.append(part)
                elif (part.status == PartStatus.RUNNING and part_timeout is not None and part.started_at
                      and (now - part.started_at).total_seconds() > part_timeout and part.attempts < attempts):
                    log.warning("fanout %s %s: project %s running for more than %s s, queued again", kind, key,
                                part.project.code, part_timeout)
                    part.error = f"{part_timeout:.0f} 秒未完成，重新排队"
                    retried += part_queue(part)
                    open_parts.append(part)
                elif part.status in (PartStatus.QUEUED, PartStatus.RUNNING):
                    open_parts.append(part)
            FanoutRun.objects.filter(pk=run.pk).update(heartbeat_at=now)
            if not open_parts:
                status = (FanoutStatus.SUCCEEDED if all(p.status == PartStatus.DONE for p in states.values())
                          else FanoutStatus.FAILED)
                break
            if time.monotonic() - started > timeout:
                status = FanoutStatus.TIMED_OUT
                break
            time.sleep(poll)
    except BaseException:
        FanoutRun.objects.filter(pk=run.pk).update(status=FanoutStatus.FAILED, finished_at=timezone.now(),
                                                   error="协调进程中断")
        raise
    final = list(FanoutPart.objects.filter(run=run).select_related("project").order_by("project_id"))
    totals = {name: 0 for name in SUMMED[kind]}
    out = FanoutResult(run=run, totals=totals, parts=len(final), retried=retried)
    for part in final:
        if part.status == PartStatus.DONE:
            for name in SUMMED[kind]:
                totals[name] += int(part.result.get(name, 0))
            if part.result.get("alert") and part.result["alert"] not in out.alerts:
                out.alerts.append(part.result["alert"])
            if part.result.get("skipped"):
                out.skipped[part.project.code] = part.result["skipped"]
        elif part.status == PartStatus.FAILED:
            out.failed.append(f"{part.project.code}: {part.error}")
        else:
            out.waiting.append(part.project.code)
    out.seconds = time.monotonic() - started
    run.status, run.finished_at = status, timezone.now()
    run.summary = {**totals, "parts": len(final), "retried": retried, "seconds": round(out.seconds, 2)}
    run.error = "；".join(out.failed or ([f"超时，未完成：{'、'.join(out.waiting)}"] if out.waiting else []))[:500]
    run.save(update_fields=["status", "finished_at", "summary", "error"])
    return out


# --- the commands' flag ------------------------------------------------------------------------------------

def add_arguments(parser) -> None:
    """``--distributed`` and its knobs, shared by ``dunning_run`` and ``generate_bills``."""
    parser.add_argument("--distributed", action="store_true",
                        help="按项目拆分为任务队列中的任务，由任意多台 `wuye run_huey` 工作进程分担；本进程协调并等待")
    parser.add_argument("--timeout", type=float, default=3600.0, help="--distributed：整次运行最多等待的秒数（默认 3600）")
    parser.add_argument("--attempts", type=int, default=3, help="--distributed：每个项目最多尝试的次数（默认 3）")
    parser.add_argument("--part-timeout", type=float, default=None,
                        help="--distributed：单个项目运行超过此秒数视为工作进程已失联，重新排队（默认不限）")


def command_run(command, *, kind: str, key: str, projects: list[Project], options: dict, head: dict,
                explicit: bool = False) -> None:
    """Run ``kind`` distributed for a management command and print its one JSON line (exit 1 on failure)."""
    import json

    from django.core.management.base import CommandError

    if options["attempts"] < 1:
        raise CommandError("--attempts 至少为 1。")
    try:
        result = fanout_run(kind=kind, key=key, projects=projects, attempts=options["attempts"],
                            timeout=options["timeout"], part_timeout=options["part_timeout"])
    except FanoutBusy as exc:
        raise CommandError(str(exc)) from exc
    for alert in result.alerts:
        command.stderr.write(alert)
    command.stdout.write(json.dumps({**head, **result.as_dict()}, ensure_ascii=False))
    if explicit and result.skipped:
        raise CommandError("；".join(f"{code}：{why}" for code, why in result.skipped.items()))
    if not result.ok:
        what = "；".join(result.failed) or f"{options['timeout']:.0f} 秒内未完成：{'、'.join(result.waiting)}"
        raise CommandError(f"分布式运行 #{result.run.pk} 未全部完成（已完成的部分保留，重跑只会补做未完成的）：{what}")
