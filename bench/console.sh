#!/usr/bin/env bash
# Staff console speed on a quarter of N responses (default 10,000,000; seeded once by
# bench/seed.sh): a release `serve`, an admin of the seed agency signed in through a
# break-glass link, every console page requested ROUNDS times over one keep-alive connection
# (bench/console_pages.py), the responses page's first and 100th page included. Prints p50/p95/
# max per page (time to the last byte on loopback: the server's time plus a few tens of µs),
# the server's peak RSS, and EXPLAIN of the paged queries.
#
#   bash bench/console.sh sqlite   [N]
#   bash bench/console.sh postgres [N]
# Env: ROUNDS (30), PORT (18190), BENCH_DIR, PG.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=${1:?sqlite or postgres}
N=${2:-10000000}
PORT=${PORT:-18190}
export ROUNDS=${ROUNDS:-30}
export DATABASE_URL=$(bash bench/seed.sh "$BACKEND" "$N" | tail -1)
BIN=$PWD/target/release/cx-survey
export CX_SURVEY_DEFS=$PWD/survey-defs RUST_LOG=warn CX_RATE_LIMIT_PER_MINUTE=0
export CX_PUBLIC_URL=http://127.0.0.1:$PORT
"$BIN" users grant --agency seed --email bench@agency.gov --role admin >/dev/null
"$BIN" serve --bind "127.0.0.1:$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "$CX_PUBLIC_URL/healthz" >/dev/null && break; sleep 0.2; done
LINK=$("$BIN" users link --email bench@agency.gov | tail -1)
python3 bench/console_pages.py "$CX_PUBLIC_URL" "$LINK"
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$SERVER/status)"
kill $SERVER; wait $SERVER 2>/dev/null || true
trap - EXIT

echo "== EXPLAIN of the paged queries"
python3 bench/console_explain.py "$BACKEND" "$DATABASE_URL"
