#!/usr/bin/env bash
# Scale-out on PostgreSQL: 1, 2 (and 3) `serve` instances on one database, each loaded by its own
# wrk (a perfectly even load balancer), checked against the rows committed.
#
# On a 2-core machine the instances, PostgreSQL and wrk share the same cores, so unconstrained
# instances cannot add up. To see what an instance contributes, each one runs in its own cgroup
# (v1 `cpu` controller) capped at INSTANCE_CPU cores, as a container or VM would cap it. The
# groups are removed at exit. Without a writable cgroup the instances run uncapped (stated).
#
#   sudo apt-get install wrk && bash bench/scale.sh
# Env: COUNTS ("1 2 3"), INSTANCE_CPU (0.3), DURATION (15s), CONNECTIONS per instance (16),
#      FORWARDED (0|1: every request from another client through a trusted proxy, rate limit on),
#      PG (postgres://postgres@127.0.0.1:5432)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNTS=${COUNTS:-1 2 3}
INSTANCE_CPU=${INSTANCE_CPU:-0.3}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-16}
FORWARDED=${FORWARDED:-0}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
GROUP=cx-scale
. bench/instances.sh
trap cleanup_instances EXIT
echo "instances capped at $INSTANCE_CPU CPU each: $([ $capped = 1 ] && echo yes || echo 'no (no writable cgroup)')"

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS cx_scale WITH (FORCE)" -c "CREATE DATABASE cx_scale"
export DATABASE_URL=$PG/cx_scale CX_SURVEY_DEFS=survey-defs RUST_LOG=warn CX_SECRET=bench-secret
if [ "$FORWARDED" = 1 ]; then
  export CX_RATE_LIMIT_PER_MINUTE=120 CX_TRUSTED_PROXIES=127.0.0.1
else
  export CX_RATE_LIMIT_PER_MINUTE=0
fi
KEY=$($BIN keys create --agency bench 2>/dev/null | tail -1)

rows() { psql "$DATABASE_URL" -Atc "select count(*) from responses"; }

start 1
H="Authorization: Bearer $KEY"; B=http://127.0.0.1:18091
curl -fsS -o /dev/null -XPOST "$B/api/v1/admin/hisps" -H "$H" -d '{"slug":"h","name":"HISP"}'
curl -fsS -o /dev/null -XPOST "$B/api/v1/admin/services" -H "$H" -d '{"slug":"s","name":"Service","hisp":"h","channels":["website"]}'
export DEPLOYMENT=$(curl -fsS -XPOST "$B/api/v1/admin/deployments" -H "$H" \
  -d '{"instrument":"a11-v2-thumbs","service":"s","channel":"website","transaction_point":"bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
stop_all

for n in $COUNTS; do
  for i in $(seq 1 "$n"); do start "$i"; done
  before=$(rows)
  wrks=()
  for i in $(seq 1 "$n"); do
    RUN=$(printf %04x $((RANDOM))) FORWARDED=$FORWARDED wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s bench/post_response.lua \
      "http://127.0.0.1:$((18090 + i))" > "$WORK/wrk-$i.out" &
    wrks+=($!)
  done
  wait "${wrks[@]}"
  total=0; created=0
  for i in $(seq 1 "$n"); do
    line=$(grep RESULT "$WORK/wrk-$i.out")
    echo "  instance $i: ${line#RESULT }"
    rps=$(sed -E 's/.* rps=([0-9]+).*/\1/' <<<"$line"); c=$(sed -E 's/.* created=([0-9]+).*/\1/' <<<"$line")
    total=$((total + rps)); created=$((created + c))
  done
  sleep 1   # requests wrk left in flight are still being committed
  stored=$(( $(rows) - before ))
  # wrk stops with requests in flight: committed, but their 201 unread. The instances' own
  # counters of stored responses must equal the rows exactly.
  counted=$(stored_by_instances "$n")
  echo "instances=$n total_rps=$total 201s_read=$created stored_rows=$stored stored_by_instances=$counted $([ "$counted" = "$stored" ] && [ "$stored" -ge "$created" ] && echo OK || echo MISMATCH)"
  stop_all
  sleep 2
done
