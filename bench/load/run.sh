#!/usr/bin/env bash
# The load test of the pages (issue 18 item 4): gunicorn (4 workers) + the job worker on PostgreSQL and Redis,
# the pay sandbox, the people (setup_load.py) and locust (locustfile.py), headless, for DURATION; then
# report.py writes the per-page table into bench/results/load.md. Only loopback addresses are used.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuye_load bash bench/load/run.sh
#
# Environment (all optional but DATABASE_URL):
#   DURATION=5m  SCALE=1 (0.4 → 20 collectors, 4 cashiers, 2 managers, 80 owners)  SPAWN_RATE=5
#   WORKERS=4 (gunicorn)  PORT=8077  SANDBOX_PORT=8078  REDIS_URL=redis://127.0.0.1:6379/0
#   LOCUST=path/to/locust (default: a venv made once under var/load/locust-venv; locust is not a dependency
#   of Wuye and is never installed into .venv)  NOTE="free text for the results row"
#   SKIP_SETUP=1 reuses var/load/people.json (passwords and links from the last run)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
: "${DATABASE_URL:?set DATABASE_URL to the PostgreSQL database to load (a seeded copy, never production)}"
DURATION=${DURATION:-5m}
SCALE=${SCALE:-1}
SPAWN_RATE=${SPAWN_RATE:-5}
WORKERS=${WORKERS:-4}
PORT=${PORT:-8077}
SANDBOX_PORT=${SANDBOX_PORT:-8078}
OUT=${OUT:-$ROOT/var/load}
mkdir -p "$OUT"
export DATABASE_URL
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export WUYE_HUEY_NAME=${WUYE_HUEY_NAME:-wuye-load}
export WUYE_DATA_DIR=${WUYE_DATA_DIR:-$OUT/data}
export WUYE_LOG_LEVEL=${WUYE_LOG_LEVEL:-WARNING}
export WUYE_SECRET_KEY=${WUYE_SECRET_KEY:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')}
export WUYE_ALLOWED_HOSTS=127.0.0.1,localhost
export WUYE_SITE_URL=http://127.0.0.1:$PORT
export WUYE_PAY_NOTIFY_BASE=http://127.0.0.1:$PORT
export WUYE_LOGIN_THROTTLE=0  # 65 logins from one address in a minute are the test, not an attack
export DJANGO_SETTINGS_MODULE=wuye.settings
PY=$ROOT/.venv/bin/python
mkdir -p "$WUYE_DATA_DIR"

# gunicorn into the project's venv (the `load` extra), locust into a venv of its own
"$PY" -c "import gunicorn" 2>/dev/null || "$ROOT/.venv/bin/pip" install -q "gunicorn==27.0.1"
if [ -z "${LOCUST:-}" ]; then
  if [ ! -x "$OUT/locust-venv/bin/locust" ]; then
    python3 -m venv "$OUT/locust-venv" && "$OUT/locust-venv/bin/pip" install -q -r bench/load/requirements.txt
  fi
  LOCUST=$OUT/locust-venv/bin/locust
fi

"$PY" -m wuye migrate -v0
if [ -z "${SKIP_SETUP:-}" ]; then
  "$PY" bench/load/setup_load.py --out "$OUT/people.json"
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$PY" bench/load/sandbox_server.py --port "$SANDBOX_PORT" --keys "$OUT/sandbox-keys" --env "$OUT/sandbox.env" \
  > "$OUT/sandbox.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -s "$OUT/sandbox.env" ] && grep -q ALIPAY_GATEWAY "$OUT/sandbox.env" && break; sleep 0.2; done
# shellcheck disable=SC1091
source "$OUT/sandbox.env"
rm -f "$OUT/sandbox.env"

# this run's logs only: report.py reads the time inside a worker from the access log, which gunicorn appends to
: > "$OUT/access.log"
: > "$OUT/gunicorn.log"
"$PY" -m wuye run_huey --workers 1 > "$OUT/huey.log" 2>&1 &
pids+=($!)
"$ROOT/.venv/bin/gunicorn" wuye.wsgi --bind "127.0.0.1:$PORT" --workers "$WORKERS" --timeout 120 \
  --access-logfile "$OUT/access.log" --error-logfile "$OUT/gunicorn.log" \
  --access-logformat '%(m)s %(U)s %(s)s %(M)s' &
pids+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/login/" && break; sleep 0.3; done

LOAD0=$(cat /proc/loadavg)
USERS=$(python3 -c "s=$SCALE; print(sum(max(1, round(n*s)) for n in (50, 10, 5, 200)))")
LOAD_PEOPLE=$OUT/people.json LOAD_SCALE=$SCALE LOAD_SANDBOX=http://127.0.0.1:$SANDBOX_PORT \
  "$LOCUST" -f bench/load/locustfile.py --headless --host "http://127.0.0.1:$PORT" -u "$USERS" -r "$SPAWN_RATE" \
  -t "$DURATION" --csv "$OUT/run" --only-summary --loglevel WARNING > "$OUT/locust.log" 2>&1 &
locust_pid=$!
# the load average every 15 s while locust runs
( while kill -0 $locust_pid 2>/dev/null; do cat /proc/loadavg; sleep 15; done ) > "$OUT/loadavg.log" &
wait $locust_pid || true
LOAD1=$(cat /proc/loadavg)

"$PY" bench/load/report.py --csv "$OUT/run" --loadavg "$OUT/loadavg.log" --users "$USERS" --scale "$SCALE" \
  --duration "$DURATION" --workers "$WORKERS" --load-start "$LOAD0" --load-end "$LOAD1" --note "${NOTE:-}" \
  --access "$OUT/access.log" \
  --results bench/results/load.md
