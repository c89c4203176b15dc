#!/usr/bin/env bash
# Seeds (once per database) one synthetic FY2026 Q2 of N responses over 50 deployments, shared
# by the report and console benchmarks, and prints the DATABASE_URL on its last line.
#
#   bash bench/seed.sh sqlite|postgres [N]     # N defaults to 10,000,000
# Env: BENCH_DIR (/tmp/cx-report-bench: the SQLite file and the "seeded" marks), PG.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=${1:?sqlite or postgres}
N=${2:-10000000}
BENCH_DIR=${BENCH_DIR:-/tmp/cx-report-bench}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
mkdir -p "$BENCH_DIR"
cargo build --release -q --bin cx-survey
BIN=$PWD/target/release/cx-survey
export CX_SURVEY_DEFS=$PWD/survey-defs RUST_LOG=${RUST_LOG:-info}
if [ "$BACKEND" = sqlite ]; then
  export DATABASE_URL="sqlite://$BENCH_DIR/report-$N.db"
else
  export DATABASE_URL="$PG/cx_report_bench_$N"
fi
MARK="$BENCH_DIR/seeded-$BACKEND-$N"
if [ ! -f "$MARK" ]; then
  if [ "$BACKEND" = sqlite ]; then rm -f "$BENCH_DIR/report-$N.db"*;
  else psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS cx_report_bench_$N WITH (FORCE)" -c "CREATE DATABASE cx_report_bench_$N"; fi
  /usr/bin/time -f "seed: wall %e s, peak RSS %M KB" "$BIN" dev seed --responses "$N" --deployments 50 --fiscal-year 2026 --quarter 2 >&2
  touch "$MARK"
fi
echo "$DATABASE_URL"
