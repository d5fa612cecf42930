#!/usr/bin/env bash
# The grant API benchmark with its peers, in one run (docs/performance.md).
#
#   bash tests/perf/run_grant_bench.sh              # full run, ~30 min (plus waiting for quiet)
#   QUICK=1 bash tests/perf/run_grant_bench.sh      # smoke run: 2 s runs, 1 rep, no waiting
#
# 1. /work/shared/peers/setup.sh if /tmp/peers is not set up yet (wrk, venv, npm packages).
# 2. Waits (bounded: QUIET_MAX s, default 2400) until the 1-minute load average is below
#    QUIET_LOAD (0.6): other sessions share this 2-core machine. Skipped with QUICK=1.
# 3. The FastAPI ceiling: the peers' fastapi_app.py `/ping` under uvicorn with 1 and 2 workers
#    (bench_python.sh's commands, only that endpoint), through the peers' bench.py.
# 4. oidc-provider: bench_oidc.sh unchanged (client_credentials token + introspection).
#    With QUICK=1: only its token step, with short runs.
# 5. Regie: tests/perf/grant_bench.py run (read of a 1 KiB record; CIBA token with
#    private_key_jwt + DPoP; 1 and 2 workers), then a py-spy profile of one worker
#    (PROFILE seconds, default 10; 0 = none).
# 6. Diagnostics (DIAG=1, default): 1 worker, c=32, 2 reps, server variants (one CPU, a smaller
#    threadpool, a bigger connection pool) to see where the time goes; not bars.
# 7. One table (the peers' summarize.py), the bars (grant_bench.py report), the diagnostics.
# Everything on 127.0.0.1; wrk runs are bounded; servers are stopped by PID.
# Output: OUT (default /tmp/regie_grant_bench/<time>): results.jsonl, raw wrk output, logs,
# profile summaries, table.md, load.txt.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PEERS_SRC=${PEERS_SRC:-/work/shared/peers}
export PEERS=${PEERS:-/tmp/peers}
OUT=${OUT:-/tmp/regie_grant_bench/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
export RESULTS=$OUT/results.jsonl
QUICK=${QUICK:-0}
# Ports: PORT for Regie, PORT+1 for the FastAPI ceiling, PORT+2/+3 for oidc-provider.
PORT=${PORT:-8400}
PORT_PY=${PORT_PY:-$((PORT + 1))}
PORT_OIDC=${PORT_OIDC:-$((PORT + 2))}
QUIET_LOAD=${QUIET_LOAD:-0.6}
QUIET_MAX=${QUIET_MAX:-2400}
PROFILE=${PROFILE:-10}
if [ "$QUICK" = 1 ]; then
  BENCH_ARGS=(--duration 2 --reps 1 --warmup 1)
  REGIE_ARGS=(--duration 2 --reps 1 --warmup 1)
  PROFILE=${PROFILE_QUICK:-0}
  DIAG_ARGS=(--duration 2 --reps 1 --warmup 1)
else
  BENCH_ARGS=()
  REGIE_ARGS=()
  DIAG_ARGS=(--reps 2)
fi

# shellcheck source=/dev/null
source "$PEERS_SRC/lib.sh"   # wait_port, stop_pid (by PID), bench (peers' bench.py -> $RESULTS)

note_load() { echo "$(date -Is) $1 loadavg: $(cat /proc/loadavg)" | tee -a "$OUT/load.txt"; }

if [ ! -x "$PEERS/venv/bin/uvicorn" ] || [ ! -d "$PEERS/oidc/node_modules/oidc-provider" ]; then
  bash "$PEERS_SRC/setup.sh"
fi
{
  bash "$PEERS_SRC/versions.sh"
  echo "regie venv: $("$REPO/.venv/bin/python" --version)"
  "$REPO/.venv/bin/pip" list 2>/dev/null |
    grep -iE '^(fastapi|uvicorn|starlette|sqlalchemy|psycopg|psycopg-binary|joserfc|cryptography|pydantic|pydantic.core|uvloop|httptools|py-spy) '
  echo "postgres: $(psql -h 127.0.0.1 -U postgres -d test -Atc 'show server_version' 2>/dev/null || echo '?')"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-) x $(nproc); mem: $(free -g | awk '/Mem:/ {print $2}') GiB"
} | tee "$OUT/versions.txt"

if [ "$QUICK" != 1 ]; then
  waited=0
  while awk -v lim="$QUIET_LOAD" '{exit !($1 >= lim)}' /proc/loadavg && (( waited < QUIET_MAX )); do
    echo "load $(cut -d' ' -f1-3 /proc/loadavg) >= $QUIET_LOAD: waiting (${waited}s of ${QUIET_MAX}s)"
    sleep 60; waited=$((waited + 60))
  done
  echo "waited ${waited}s for a quiet machine" | tee -a "$OUT/load.txt"
fi
note_load "start"

# --- FastAPI ceiling (bench_python.sh's run_uvicorn, /ping only) -----------------------------
for w in 1 2; do
  (cd "$PEERS_SRC/python" && exec "$PEERS/venv/bin/uvicorn" fastapi_app:app --host 127.0.0.1 \
      --port "$PORT_PY" --workers "$w" --no-access-log --log-level warning) \
      > "$OUT/fastapi-${w}w.log" 2>&1 &
  pid=$!
  trap 'stop_pid $pid' EXIT
  wait_port "$PORT_PY" 30 "$pid"; sleep 2   # let all workers come up
  curl -sf "http://127.0.0.1:$PORT_PY/ping" >/dev/null
  bench --name "fastapi-${w}w/ping" --pid "$pid" --url "http://127.0.0.1:$PORT_PY/ping" "${BENCH_ARGS[@]}"
  stop_pid "$pid"; trap - EXIT
done
note_load "after fastapi"

# --- oidc-provider -------------------------------------------------------------------------
if [ "$QUICK" != 1 ]; then
  PORT=$PORT_OIDC bash "$PEERS_SRC/bench_oidc.sh" 2>&1 | tee "$OUT/oidc.txt"
else
  cp "$PEERS_SRC/oidc/server.mjs" "$PEERS/oidc/server.mjs"
  (cd "$PEERS/oidc" && PORT=$PORT_OIDC exec node server.mjs) > "$OUT/oidc.log" 2>&1 &
  pid=$!
  trap 'stop_pid $pid' EXIT
  wait_port "$PORT_OIDC" 30 "$pid"
  BASIC=$(printf 'school-svc:bench-secret-0123456789abcdef0123456789abcdef' | base64 -w0) \
  BODY='grant_type=client_credentials&scope=records:read' \
    bench --name oidc/token-client_credentials --pid "$pid" --url "http://127.0.0.1:$PORT_OIDC/token" \
      --lua "$PEERS_SRC/lua/post_form.lua" "${BENCH_ARGS[@]}"
  stop_pid "$pid"; trap - EXIT
fi
note_load "after oidc"

# --- Regie ---------------------------------------------------------------------------------
(cd "$REPO" && .venv/bin/python tests/perf/grant_bench.py run --out "$OUT" --results "$RESULTS" --port "$PORT" \
   --profile "$PROFILE" "${REGIE_ARGS[@]}") 2>&1 | tee "$OUT/regie.txt"
note_load "after regie"

# --- diagnostics: where the time goes (1 worker, c=32; not bars) ---------------------------
# base = as above; pin1 = the server on one CPU (taskset); threadsN = anyio threadpool of N
# threads (tests/perf/grant_bench_app.py); pool40 = REGIE_DB_POOL_SIZE=40 (no overflow churn).
if [ "${DIAG:-1}" = 1 ]; then
  (cd "$REPO" && .venv/bin/python tests/perf/grant_bench.py run --out "$OUT/diag" --port "$PORT" \
     --results "$OUT/diagnostics.jsonl" --workers 1 --conns 32 --no-diag-c1 --profile 0 \
     --variants "${DIAG_VARIANTS:-base,pin1}" "${DIAG_ARGS[@]}") \
     2>&1 | tee "$OUT/diag.txt"
fi
note_load "end"

# --- the table and the bars ----------------------------------------------------------------
{
  echo "## Results (median of reps)"
  python3 "$PEERS_SRC/summarize.py" "$RESULTS"
  echo
  echo "## Bars, then Regie's details"
  (cd "$REPO" && .venv/bin/python tests/perf/grant_bench.py report "$RESULTS")
  if [ -s "$OUT/diagnostics.jsonl" ]; then
    echo
    echo "## Diagnostics (1 worker, c=32)"
    python3 "$PEERS_SRC/summarize.py" "$OUT/diagnostics.jsonl"
    echo
    (cd "$REPO" && .venv/bin/python tests/perf/grant_bench.py report "$OUT/diagnostics.jsonl")
  fi
  for f in "$OUT"/profile-*.summary; do
    if [ -e "$f" ]; then echo; echo "## $(basename "$f")"; echo '```'; cat "$f"; echo '```'; fi
  done
} | tee "$OUT/table.md"
echo "output in $OUT"
