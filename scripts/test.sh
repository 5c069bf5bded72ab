#!/usr/bin/env bash
# Run the whole suite on SQLite, then again on PostgreSQL when a server is reachable.
#   WUYE_REQUIRE_PG=1       fail (instead of skipping the second pass) when PostgreSQL is unreachable
#   WUYE_REQUIRE_BROWSER=1  fail (instead of skipping browser tests) when /usr/bin/chromium is missing
#   TEST_DATABASE_URL       the PostgreSQL server to use (default postgres://postgres@127.0.0.1:5432/wuye)
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/wuye}"
export WUYE_DATA_DIR="${WUYE_DATA_DIR:-$(mktemp -d)}"

echo "== 1/2 SQLite =="
env -u DATABASE_URL pytest "$@"

if python -c "import sys, psycopg; psycopg.connect(sys.argv[1].rsplit('/', 1)[0] + '/postgres', connect_timeout=3).close()" "$PG_URL" 2>/dev/null; then
  echo "== 2/2 PostgreSQL ($PG_URL) =="
  DATABASE_URL="$PG_URL" pytest "$@"
else
  if [ "${WUYE_REQUIRE_PG:-0}" = "1" ]; then
    echo "PostgreSQL is required (WUYE_REQUIRE_PG=1) but not reachable at $PG_URL" >&2
    exit 1
  fi
  echo "== 2/2 PostgreSQL: SKIPPED — no server reachable at $PG_URL; only the SQLite pass ran. =="
  echo "   Set TEST_DATABASE_URL to run the suite on PostgreSQL as well."
fi
