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
[ "$WORKERS" != "0" ] && XDIST=(-n "$WORKERS" --dist loadfile)
echo "Test workers: ${WORKERS} (WUYE_TEST_WORKERS)"

echo "== 1/2 SQLite =="
env -u DATABASE_URL pytest "${XDIST[@]}" "$@"

if python -c "import sys, psycopg; psycopg.connect(sys.argv[1].rsplit('/', 1)[0] + '/postgres', connect_timeout=3).close()" "$PG_URL" 2>/dev/null; then
  echo "== 2/2 PostgreSQL ($PG_URL) =="
  DATABASE_URL="$PG_URL" pytest "${XDIST[@]}" "$@"
else
  if [ "${WUYE_REQUIRE_PG:-0}" = "1" ]; then
    echo "PostgreSQL is required (WUYE_REQUIRE_PG=1) but not reachable at $PG_URL" >&2
    exit 1
  fi
  echo "== 2/2 PostgreSQL: SKIPPED — no server reachable at $PG_URL; only the SQLite pass ran. =="
  echo "   Set TEST_DATABASE_URL to run the suite on PostgreSQL as well."
fi
