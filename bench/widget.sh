#!/usr/bin/env bash
# GET /widget.js throughput: wrk on the same machine against a release build, the way browsers
# ask for it (gzip accepted), plus a revalidation run (If-None-Match → 304) and the gzipped
# sizes of widget.js and widget.css.
#
#   bash bench/widget.sh            # needs wrk (apt-get install wrk)
# Env: DURATION (default 20s), CONNECTIONS (64)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-64}
PORT=18082
cargo build --release -q --bin cx-survey
BIN=target/release/cx-survey
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
DATABASE_URL="sqlite://$WORK/w.db" CX_SURVEY_DEFS=survey-defs RUST_LOG=warn "$BIN" serve --bind 127.0.0.1:$PORT 2>"$WORK/serve.log" & pid=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT/widget.js"
js=$(curl -fsS -H 'Accept-Encoding: gzip' "$URL" | wc -c)
css=$(curl -fsS -H 'Accept-Encoding: gzip' "http://127.0.0.1:$PORT/widget.css" | wc -c)
etag=$(curl -fsSI "$URL" | awk -F': ' 'tolower($1)=="etag" {print $2}' | tr -d '\r')
echo "gzipped: widget.js $js B, widget.css $css B, together $((js + css)) B"
echo "== GET /widget.js, Accept-Encoding: gzip, $CONNECTIONS connections, $DURATION"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H 'Accept-Encoding: gzip' "$URL" | grep -E 'Requests/sec|Transfer/sec|50%|99%|Non-2xx|Socket errors'
echo "== revalidation: If-None-Match → 304"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "If-None-Match: $etag" "$URL" | grep -E 'Requests/sec|50%|99%|Socket errors'
echo "peak RSS: $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$pid/status)"
