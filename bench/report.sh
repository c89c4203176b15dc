#!/usr/bin/env bash
# Quarterly report benchmark: seed a quarter of N responses over 50 deployments (once per
# database), then time the full `cx-survey report` and, as the floor, the plain
# SELECT … GROUP BY that counts the same rows.
#
#   bash bench/report.sh sqlite   [N]    # N defaults to 10,000,000; database in $BENCH_DIR
#   bash bench/report.sh postgres [N]    # PostgreSQL on 127.0.0.1:5432, database cx_report_bench
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=${1:?sqlite or postgres}
N=${2:-10000000}
BENCH_DIR=${BENCH_DIR:-/tmp/cx-report-bench}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
export DATABASE_URL=$(bash bench/seed.sh "$BACKEND" "$N" | tail -1)
BIN=$PWD/target/release/cx-survey
export CX_SURVEY_DEFS=$PWD/survey-defs RUST_LOG=info
OUT="$BENCH_DIR/out-$BACKEND"
rm -rf "$OUT"
sync
echo "== full report ($BACKEND, $N responses)"
/usr/bin/time -f "report: wall %e s, peak RSS %M KB" "$BIN" report --fiscal-year 2026 --quarter 2 --out "$OUT" 2>&1 |
  grep -v 'response rows written' | sed -E 's/.*"message":"([^"]*)","seconds":([0-9.]+).*/\1: \2 s/'
du -sh "$OUT" | sed 's/^/output: /'
echo "== floor: SELECT deployment_id, COUNT(*) … GROUP BY deployment_id"
FLOOR="SELECT deployment_id, COUNT(*) FROM responses WHERE status = 'counted' AND submitted_at >= '2026-01-01 05:00:00' AND submitted_at < '2026-04-01 04:00:00' GROUP BY deployment_id"
if [ "$BACKEND" = sqlite ]; then
  python3 - "$BENCH_DIR/report-$N.db" "$FLOOR" <<'PY'
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1])
t = time.time(); rows = c.execute(sys.argv[2]).fetchall(); dt = time.time() - t
print(f"floor: {dt:.2f} s, {sum(r[1] for r in rows)} rows counted in {len(rows)} groups")
PY
else
  psql "$DATABASE_URL" -qAt -c '\timing on' -c "SELECT SUM(n), COUNT(*) FROM ($FLOOR) AS g(d, n)" | tr '\n' ' '; echo
fi
