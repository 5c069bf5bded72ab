#!/usr/bin/env bash
# Run the whole suite on SQLite, then again on PostgreSQL when a server is reachable.
#   WUYE_REQUIRE_PG=1       fail (instead of skipping the second pass) when PostgreSQL is unreachable
#   WUYE_REQUIRE_BROWSER=1  fail (instead of skipping browser tests) when /usr/bin/chromium is missing
#   TEST_DATABASE_URL       the PostgreSQL server to use (default postgres://postgres@127.0.0.1:5432/wuye)
#   WUYE_TEST_WORKERS       pytest-xdist workers (default: one per core, at most 4; 0 runs in one process)
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/wuye}"
export WUYE_DATA_DIR="${WUYE_DATA_DIR:-$(mktemp -d)}"

# The job queue: Redis when a server answers (or REDIS_URL is given), else Huey's SQLite storage.
if [ -z "${REDIS_URL:-}" ] && python -c "import redis; redis.Redis(host='127.0.0.1', socket_connect_timeout=2).ping()" 2>/dev/null; then
  export REDIS_URL="redis://127.0.0.1:6379/0"
fi
export WUYE_HUEY_NAME="wuye-test-$$"
if [ -n "${REDIS_URL:-}" ]; then echo "Job queue: Redis at $REDIS_URL"; else
  [ "${WUYE_REQUIRE_REDIS:-0}" = "1" ] && { echo "Redis is required (WUYE_REQUIRE_REDIS=1) but not reachable" >&2; exit 1; }
  echo "Job queue: SQLite (no Redis reachable at 127.0.0.1:6379; the Redis round-trip test is skipped)"; fi

WORKERS="${WUYE_TEST_WORKERS:-$(python -c 'import os; print(min(4, len(os.sched_getaffinity(0))))')}"
XDIST=()
# loadfile: a file's tests stay on one worker (module fixtures: the demo process, live servers). No reorder:
# files go out in collection order, where tests/conftest.py puts the slowest first (SLOW_FILES_FIRST).
[ "$WORKERS" != "0" ] && XDIST=(-n "$WORKERS" --dist loadfile --no-loadscope-reorder)
echo "Test workers: ${WORKERS} (WUYE_TEST_WORKERS)"

PG_UP=0
python -c "import sys, psycopg; psycopg.connect(sys.argv[1].rsplit('/', 1)[0] + '/postgres', connect_timeout=3).close()" "$PG_URL" 2>/dev/null && PG_UP=1
if [ "$PG_UP" = "0" ] && [ "${WUYE_REQUIRE_PG:-0}" = "1" ]; then
  echo "PostgreSQL is required (WUYE_REQUIRE_PG=1) but not reachable at $PG_URL" >&2
  exit 1
fi

# Tests marked `once` do not depend on the database backend (no database, or a child process on its own
# SQLite: the demo walk, file parsing, PDF text, `check --deploy`): they run in one pass only — the PostgreSQL
# pass when it runs, else the SQLite pass. Every other test runs in both passes.
# Before (CI, 2026-12-05): SQLite pass ~13.5 min + PostgreSQL pass ~16.7 min = 1917 s; see docs/operations.md.
ONCE=()
if [ "$PG_UP" = "1" ]; then
  ONCE=(-m "not once")
  echo "== 1/2 SQLite (the tests marked once are left to the PostgreSQL pass) =="
else
  echo "== 1/2 SQLite (every test, the ones marked once included: no PostgreSQL pass follows) =="
fi
env -u DATABASE_URL pytest "${XDIST[@]}" "${ONCE[@]}" "$@"

if [ "$PG_UP" = "1" ]; then
  echo "== 2/2 PostgreSQL ($PG_URL; every test, the ones marked once included) =="
  DATABASE_URL="$PG_URL" pytest "${XDIST[@]}" "$@"
else
  echo "== 2/2 PostgreSQL: SKIPPED — no server reachable at $PG_URL; only the SQLite pass ran. =="
  echo "   Set TEST_DATABASE_URL to run the suite on PostgreSQL as well."
fi
