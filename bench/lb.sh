#!/usr/bin/env bash
# Two `serve` instances on one PostgreSQL behind a real load balancer (HAProxy, round robin,
# `option forwardfor`), as an agency would run them:
#   1. one client flooding through the balancer gets exactly CX_RATE_LIMIT_PER_MINUTE responses
#      stored in all (not twice that), while a second client still gets through;
#   2. a client forging X-Forwarded-For is still counted as itself;
#   3. throughput through the balancer with 1 and with 2 instances (each capped at INSTANCE_CPU
#      cores in its own cgroup, as in bench/scale.sh), checked against the rows committed. The
#      clients grow with the instances (CONNECTIONS per instance, 32): an instance's cost per
#      response falls as its batches grow, so halving each one's load would measure that instead.
# Clients are told apart by their loopback source address (127.0.0.2, 127.0.0.3): the instances
# trust only the balancer (127.0.0.1).
#
#   sudo apt-get install haproxy wrk && bash bench/lb.sh
# Env: INSTANCE_CPU (0.3), DURATION (15s), LIMIT (30), CONNECTIONS (32), REPEAT (3), PG (postgres://postgres@127.0.0.1:5432)
set -euo pipefail
cd "$(dirname "$0")/.."
INSTANCE_CPU=${INSTANCE_CPU:-0.3}
DURATION=${DURATION:-15s}
LIMIT=${LIMIT:-30}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
LB=18100
GROUP=cx-lb
. bench/instances.sh
cleanup() {
  set +e
  [ -f "$WORK/haproxy.pid" ] && kill "$(cat "$WORK/haproxy.pid")" 2>/dev/null   # daemonised: not a job
  cleanup_instances
}
trap cleanup EXIT

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS cx_lb WITH (FORCE)" -c "CREATE DATABASE cx_lb" 2>/dev/null
export DATABASE_URL=$PG/cx_lb CX_SURVEY_DEFS=survey-defs RUST_LOG=warn CX_SECRET=bench-secret \
       CX_TRUSTED_PROXIES=127.0.0.1 CX_RATE_LIMIT_PER_MINUTE=$LIMIT
KEY=$($BIN keys create --agency bench 2>/dev/null | tail -1)

balancer() { # backends... -> (re)starts HAProxy on $LB
  if [ -f "$WORK/haproxy.pid" ]; then   # the old one must be gone, not still sharing the port
    local old; old=$(cat "$WORK/haproxy.pid"); kill "$old" 2>/dev/null || true
    while kill -0 "$old" 2>/dev/null; do sleep 0.1; done
  fi
  {
    printf 'global\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n'
    printf 'frontend fe\n  bind 127.0.0.1:%s\n  option forwardfor\n  default_backend be\n' "$LB"
    printf 'backend be\n  balance roundrobin\n  http-reuse always\n  option httpchk GET /readyz\n'
    for i in "$@"; do printf '  server s%s 127.0.0.1:%s check inter 1s\n' "$i" $((18090 + i)); done
  } > "$WORK/haproxy.cfg"
  haproxy -f "$WORK/haproxy.cfg" -D -p "$WORK/haproxy.pid"
  sleep 0.3
}
rows() { psql "$DATABASE_URL" -Atc "select count(*) from responses where deployment_id = '$1'"; }
deployment() {
  curl -fsS -XPOST "http://127.0.0.1:18091/api/v1/admin/deployments" -H "Authorization: Bearer $KEY" \
    -d "{\"instrument\":\"a11-v2-thumbs\",\"service\":\"s\",\"channel\":\"website\",\"transaction_point\":\"$1\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
post() { # source-address deployment [forged X-Forwarded-For] -> status
  local extra=()
  [ -n "${3:-}" ] && extra=(-H "X-Forwarded-For: $3")
  curl -s -o /dev/null -w '%{http_code}' --interface "$1" -XPOST "http://127.0.0.1:$LB/api/v1/deployments/$2/responses" \
    -H 'Content-Type: application/json' "${extra[@]}" \
    -d "{\"submission_id\":\"$(python3 -c 'import uuid; print(uuid.uuid4())')\",\"answers\":{\"trust\":1}}"
}

start 1; start 2
H="Authorization: Bearer $KEY"
curl -fsS -o /dev/null -XPOST "http://127.0.0.1:18091/api/v1/admin/hisps" -H "$H" -d '{"slug":"h","name":"HISP"}'
curl -fsS -o /dev/null -XPOST "http://127.0.0.1:18091/api/v1/admin/services" -H "$H" -d '{"slug":"s","name":"Service","hisp":"h","channels":["website"]}'
balancer 1 2

echo "## rate limit $LIMIT/min per client, 2 instances behind HAProxy"
left=$(( 60 - $(date +%S | sed 's/^0//') )); [ "$left" -lt 25 ] && sleep $((left + 1))   # one calendar minute
dep=$(deployment flood)
codes=""; for _ in $(seq 1 $((LIMIT * 2))); do codes+=" $(post 127.0.0.2 "$dep")"; done
ok=$(tr ' ' '\n' <<<"$codes" | grep -c '^201$' || true); limited=$(tr ' ' '\n' <<<"$codes" | grep -c '^429$' || true)
other=$(post 127.0.0.3 "$dep")
forged=$(post 127.0.0.2 "$dep" "198.51.100.99")
echo "client A sent $((LIMIT * 2)) through the balancer: 201 x $ok, 429 x $limited; stored $(rows "$dep")"
echo "client B (another address) right after: $other; client A forging X-Forwarded-For: $forged"
[ "$ok" = "$LIMIT" ] && [ "$(rows "$dep")" = "$((LIMIT + 1))" ] && [ "$other" = 201 ] && [ "$forged" = 429 ] \
  && echo "rate limit across instances: OK" || { echo "rate limit across instances: FAILED"; exit 1; }

echo "## throughput through HAProxy (instances capped at $INSTANCE_CPU CPU: $([ $capped = 1 ] && echo yes || echo no))"
export CX_RATE_LIMIT_PER_MINUTE=0
for n in $(for _ in $(seq 1 "${REPEAT:-3}"); do echo 1 2; done); do   # alternating: CFS throttling makes single runs noisy
  stop_all
  for i in $(seq 1 $n); do start "$i"; done
  balancer $(seq 1 $n)
  dep=$(deployment "wrk-$n")
  RUN=$(printf %04x $((RANDOM))) DEPLOYMENT=$dep wrk -t1 -c$((${CONNECTIONS:-32} * n)) -d"$DURATION" -s bench/post_response.lua "http://127.0.0.1:$LB" > "$WORK/wrk.out"
  line=$(grep RESULT "$WORK/wrk.out")
  sleep 1   # requests wrk left in flight are still being committed
  counted=$(stored_by_instances "$n")
  stored=$(rows "$dep")
  echo "instances=$n via HAProxy: ${line#RESULT } stored_rows=$stored stored_by_instances=$counted $([ "$stored" = "$counted" ] && echo OK || echo MISMATCH)"
done
