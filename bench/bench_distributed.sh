#!/usr/bin/env bash
# The distributed daily run and bill run with N local workers against a copy of the seeded estate.
#   DATABASE_URL=postgres://…/copy REDIS_URL=redis://127.0.0.1:6379/0 bash bench/bench_distributed.sh DATE PERIOD [WORKERS]
# Prints each command's JSON line, its wall time and peak memory (coordinator) and the load average; the workers'
# logs go to $WUYE_DATA_DIR/worker-N.log. Runs, in order: the distributed first run of DATE, its same-day re-run,
# a one-process same-day re-run (its totals must match), the distributed bill run of PERIOD and a one-process
# re-run of it (nothing new).
set -euo pipefail
cd "$(dirname "$0")/.."
DATE="$1"; PERIOD="$2"; WORKERS="${3:-2}"
: "${DATABASE_URL:?a copy of the seeded database}" "${REDIS_URL:=redis://127.0.0.1:6379/0}"
export REDIS_URL WUYE_HUEY_NAME="${WUYE_HUEY_NAME:-wuye-bench-$$}" WUYE_DATA_DIR="${WUYE_DATA_DIR:-$(mktemp -d)}"
export WUYE_SECRET_KEY="${WUYE_SECRET_KEY:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')}"
BIN=.venv/bin
pids=()
for n in $(seq 1 "$WORKERS"); do
  "$BIN/wuye" run_huey --workers 1 --no-periodic --max-delay 1 > "$WUYE_DATA_DIR/worker-$n.log" 2>&1 &
  pids+=($!)
done
trap 'kill -INT "${pids[@]}" 2>/dev/null; wait' EXIT
step() {  # label, command…
  local label="$1"; shift
  echo "== $label: $* (load $(cut -d' ' -f1-3 /proc/loadavg))"
  /usr/bin/time -f "   wall %e s, peak %M KB (this process)" "$BIN/wuye" "$@" 2>&1 | grep -v '^\s*$' | tail -3
}
step "distributed first run" dunning_run --date "$DATE" --distributed
step "distributed same-day re-run" dunning_run --date "$DATE" --distributed
step "one-process same-day re-run" dunning_run --date "$DATE"
step "distributed bill run" generate_bills --period "$PERIOD" --distributed
step "one-process bill re-run" generate_bills --period "$PERIOD"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
