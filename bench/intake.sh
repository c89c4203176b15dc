#!/usr/bin/env bash
# Intake load benchmark: sustained POST …/responses on SQLite and PostgreSQL with wrk on the same
# machine, checked against the rows actually committed, compared in the same run with a bare
# one-INSERT-per-request actix handler (examples/bare_insert.rs).
#
#   bash bench/intake.sh            # needs wrk (apt-get install wrk) and PostgreSQL on 127.0.0.1:5432
# Env: BACKENDS ("sqlite postgres"), DURATION (default 20s), CONNECTIONS (32), PG (postgres://postgres@127.0.0.1:5432),
#      FORWARDED (0|1: rate limit on at 120/min, every request a new client through a trusted proxy)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
PORT=18080
cargo build --release -q --bin cx-survey --example bare_insert
BIN=target/release/cx-survey
BARE=target/release/examples/bare_insert
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

wait_port() { for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
fresh_url() { # backend -> database url
  if [ "$1" = sqlite ]; then rm -f "$WORK"/bench.db*; echo "sqlite://$WORK/bench.db";
  else psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS cx_bench WITH (FORCE)" -c "CREATE DATABASE cx_bench"; echo "$PG/cx_bench"; fi
}
rows() { # backend url table
  if [ "$1" = sqlite ]; then python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from $3').fetchone()[0])" "${2#sqlite://}";
  else psql "$2" -Atc "select count(*) from $3"; fi
}
peak_rss_mb() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

for backend in ${BACKENDS:-sqlite postgres}; do
  echo "### $backend"
  # Baseline first: a bare handler, one INSERT and one commit per request.
  url=$(fresh_url $backend)
  $BARE "$url" "127.0.0.1:$PORT" & pid=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
  RUN=$(printf %04x $((RANDOM))) DEPLOYMENT=bare wrk -t2 -c"$CONNECTIONS" -d"$DURATION" -s bench/post_response.lua "http://127.0.0.1:$PORT" | grep RESULT | sed 's/^/bare_insert /'
  echo "bare_insert rows=$(rows $backend "$url" bare_responses)"
  kill $pid; wait $pid 2>/dev/null || true

  url=$(fresh_url $backend)
  export DATABASE_URL=$url CX_SURVEY_DEFS=survey-defs CX_RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn
  # FORWARDED=1: the shipped rate limit on, each request from another client behind a trusted proxy.
  [ "${FORWARDED:-0}" = 1 ] && export CX_RATE_LIMIT_PER_MINUTE=120 CX_TRUSTED_PROXIES=127.0.0.1 FORWARDED=1
  KEY=$($BIN keys create --agency bench 2>/dev/null | tail -1)
  $BIN serve --bind 127.0.0.1:$PORT 2>"$WORK/serve.log" & pid=$!
  wait_port healthz
  H="Authorization: Bearer $KEY"
  curl -fsS -o /dev/null -XPOST "http://127.0.0.1:$PORT/api/v1/admin/hisps" -H "$H" -d '{"slug":"h","name":"HISP"}'
  curl -fsS -o /dev/null -XPOST "http://127.0.0.1:$PORT/api/v1/admin/services" -H "$H" -d '{"slug":"s","name":"Service","hisp":"h","channels":["website"]}'
  DEP=$(curl -fsS -XPOST "http://127.0.0.1:$PORT/api/v1/admin/deployments" -H "$H" \
    -d '{"instrument":"a11-v2-thumbs","service":"s","channel":"website","transaction_point":"bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  export DEPLOYMENT=$DEP
  # Latency at a steady ~1,000 requests/s first (12 connections, each pausing 10 ms between
  # requests), then the throughput at full speed. The other order measures the latency while
  # the kernel writes back the burst's dirty pages (see docs/benchmarks.md).
  RUN=$(printf %04x $((RANDOM))) DELAY_MS=10 wrk -t2 -c12 -d"$DURATION" -s bench/post_response.lua "http://127.0.0.1:$PORT" | grep RESULT | sed 's/^/cx-survey@~1000rps /'
  echo "cx-survey rows=$(rows $backend "$url" responses)"
  RUN=$(printf %04x $((RANDOM))) DEPLOYMENT=$DEP wrk -t2 -c"$CONNECTIONS" -d"$DURATION" -s bench/post_response.lua "http://127.0.0.1:$PORT" | grep RESULT | sed 's/^/cx-survey /'
  echo "cx-survey rows=$(rows $backend "$url" responses) peak_rss_mb=$(peak_rss_mb $pid)"
  curl -fsS "http://127.0.0.1:$PORT/metrics" | grep -E '^cx_responses_total|^cx_intake_batch_size_(sum|count)'
  kill $pid; wait $pid 2>/dev/null || true
done
