#!/usr/bin/env bash
# Parser fuzzing with cargo-fuzz (libFuzzer + AddressSanitizer) for the survey definition
# loader, the response validator and the CSV imports (responses and invitations). Runs two
# targets at a time (one per core), SECONDS_EACH per target (default 600), seeded from the
# shipped files. Stable Rust with RUSTC_BOOTSTRAP=1 (no nightly toolchain here).
#
#   cargo install cargo-fuzz --locked && bash bench/fuzz_parsers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
S=${SECONDS_EACH:-600}
export RUSTC_BOOTSTRAP=1
for t in survey_definition response_body csv_import; do cargo fuzz build -O "$t" 2>&1 | tail -1; done
mkdir -p fuzz/corpus/survey_definition fuzz/corpus/response_body fuzz/corpus/csv_import
cp survey-defs/*.json docs/examples/*.json fuzz/corpus/survey_definition/ 2>/dev/null || true
printf '%s' '{"submission_id":"2f1c3a54-9a3c-4c55-8f0e-0c3f1f7a1d11","answers":{"trust":1,"went_well":["ease"],"comments":"ok"},"locale":"en","page_url":"https://www.example.gov/a"}' > fuzz/corpus/response_body/thumbs
printf '%s' '{"submission_id":"2f1c3a54-9a3c-4c55-8f0e-0c3f1f7a1d12","answers":{"trust":2,"went_poorly":["efficiency"]}}' > fuzz/corpus/response_body/likert
printf 'email,transaction_id,transaction_date,locale\na@b.gov,1,2026-11-20,es\n' > fuzz/corpus/csv_import/invites
run() { # target -> last stats line
  cargo fuzz run -O "$1" -- -max_total_time="$S" -rss_limit_mb=2048 -print_final_stats=1 2>"fuzz/$1.log" >/dev/null \
    && echo "$1: no crash in $S s; $(grep -E '^stat::number_of_executed_units' "fuzz/$1.log" | awk '{print $2}') inputs, $(grep -E '^#[0-9]+[[:space:]]+DONE' "fuzz/$1.log" | sed -E 's/.*cov: ([0-9]+).*/coverage \1/')" \
    || { echo "$1: FAILED (see fuzz/$1.log and fuzz/artifacts/$1)"; return 1; }
}
run survey_definition & a=$!
run response_body & b=$!
wait $a; wait $b
run csv_import
