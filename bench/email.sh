#!/usr/bin/env bash
# Invitations: queue 100,000 from a CSV file with `cx-survey invite`, then deliver them all with
# `cx-survey invite --send-now` to a local SMTP server (aiosmtpd's Sink handler: a real SMTP
# server that accepts and discards), on SQLite and PostgreSQL. Prints both times and rates.
#
#   bash bench/email.sh            # needs PostgreSQL on 127.0.0.1:5432 and python3 (venv + pip)
# Env: BACKENDS ("sqlite postgres"), N (100000), PG (postgres://postgres@127.0.0.1:5432)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
PORT=18083
SMTP_PORT=2588
cargo build --release -q --bin cx-survey
BIN=$PWD/target/release/cx-survey
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
PY=${CX_TEST_SMTP_PYTHON:-/tmp/cx-ci-smtp/bin/python}
if ! "$PY" -c "import aiosmtpd" 2>/dev/null; then
  python3 -m venv /tmp/cx-ci-smtp && /tmp/cx-ci-smtp/bin/pip install -q aiosmtpd
  PY=/tmp/cx-ci-smtp/bin/python
fi
"$PY" -m aiosmtpd -n -l 127.0.0.1:$SMTP_PORT -c aiosmtpd.handlers.Sink &
python3 - "$WORK/invites.csv" "$N" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("email,transaction_id,transaction_date,locale\n")
    for i in range(int(sys.argv[2])):
        f.write(f"person{i}@example.com,case-{i},2026-11-20,{'es' if i % 4 == 0 else 'en'}\n")
PY
echo "CSV: $N rows, $(du -h "$WORK/invites.csv" | cut -f1)"
for backend in ${BACKENDS:-sqlite postgres}; do
  echo "### $backend"
  if [ "$backend" = sqlite ]; then url="sqlite://$WORK/email.db"; rm -f "$WORK"/email.db*;
  else psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS cx_email_bench WITH (FORCE)" -c "CREATE DATABASE cx_email_bench"; url="$PG/cx_email_bench"; fi
  export DATABASE_URL=$url CX_SURVEY_DEFS=$PWD/survey-defs CX_SECRET=bench-secret RUST_LOG=warn
  KEY=$($BIN keys create --agency bench 2>/dev/null | tail -1)
  $BIN serve --bind 127.0.0.1:$PORT 2>"$WORK/serve.log" & pid=$!
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break; sleep 0.1; done
  H="Authorization: Bearer $KEY"; A="http://127.0.0.1:$PORT/api/v1/admin"
  curl -fsS -o /dev/null -XPOST "$A/hisps" -H "$H" -d '{"slug":"h","name":"HISP"}'
  curl -fsS -o /dev/null -XPOST "$A/services" -H "$H" -d '{"slug":"s","name":"Passport renewal","hisp":"h","channels":["phone"]}'
  DEP=$(curl -fsS -XPOST "$A/deployments" -H "$H" -d '{"instrument":"a11-v2-thumbs","service":"s","channel":"phone","transaction_point":"after a call"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  kill $pid; wait $pid 2>/dev/null || true
  /usr/bin/time -f "queue: wall %e s, peak RSS %M KB" $BIN invite --deployment "$DEP" --csv "$WORK/invites.csv" | head -1
  CX_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT" /usr/bin/time -f "send: wall %e s, peak RSS %M KB" $BIN invite --send-now
  if [ "$backend" = sqlite ]; then
    python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print('status:', c.execute('select status, count(*), sum(email is not null) from invitations group by status').fetchall())" "$WORK/email.db"
  else psql "$url" -Atc "select 'status: ' || status || ' ' || count(*) || ', addresses left ' || count(email) from invitations group by status"; fi
done
