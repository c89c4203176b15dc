#!/usr/bin/env bash
# API fuzzing with schemathesis (PyPI) against /openapi.json of a running release server, public
# and admin routes (with a valid key; schemathesis also tries without), on SQLite and PostgreSQL.
# Checks: no 5xx, documented status codes, documented content types, response schemas.
#
#   bash bench/fuzz_api.sh          # T=120 seconds per backend
set -euo pipefail
cd "$(dirname "$0")/.."
T=${T:-120}
PORT=18089
PG=${PG:-postgres://postgres@127.0.0.1:5432}
cargo build --release -q --bin cx-survey
B=$PWD/target/release/cx-survey
[ -x /tmp/cx-st-venv/bin/schemathesis ] || { python3 -m venv /tmp/cx-st-venv && /tmp/cx-st-venv/bin/pip install -q schemathesis; }
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
for backend in ${BACKENDS:-sqlite postgres}; do
  echo "### $backend"
  if [ "$backend" = sqlite ]; then export DATABASE_URL="sqlite://$WORK/fuzz.db";
  else psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS cx_fuzz WITH (FORCE)" -c "CREATE DATABASE cx_fuzz" 2>/dev/null; export DATABASE_URL="$PG/cx_fuzz"; fi
  export CX_SURVEY_DEFS=$PWD/survey-defs CX_RATE_LIMIT_PER_MINUTE=0 RUST_LOG=error CX_SECRET=fuzz
  KEY=$($B keys create --agency gsa 2>/dev/null | tail -1)
  $B serve --bind 127.0.0.1:$PORT 2>"$WORK/log-$backend" & pid=$!
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break; sleep 0.1; done
  H="Authorization: Bearer $KEY"; A=http://127.0.0.1:$PORT/api/v1/admin
  curl -fsS -o /dev/null -XPOST $A/hisps -H "$H" -d '{"slug":"h","name":"H"}'
  curl -fsS -o /dev/null -XPOST $A/services -H "$H" -d '{"slug":"s","name":"S","hisp":"h","channels":["website"]}'
  curl -fsS -o /dev/null -XPOST $A/deployments -H "$H" -d '{"instrument":"a11-v2-thumbs","service":"s","channel":"website","transaction_point":"x"}'
  /tmp/cx-st-venv/bin/schemathesis run "http://127.0.0.1:$PORT/openapi.json" -H "$H" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-time "$T" -w 2 --seed 1 2>&1 | grep -E "generated|Failures|❌|unique failures" || true
  echo "server log lines at ERROR: $(grep -c '"level":"ERROR"' "$WORK/log-$backend" || true) ($(grep '"level":"ERROR"' "$WORK/log-$backend" | sed -E 's/.*"message":"([^"]*)".*/\1/' | sort -u | tr '\n' ';'))"
  kill $pid; wait $pid 2>/dev/null || true
done
