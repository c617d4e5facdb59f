#!/usr/bin/env bash
# fuzz.sh - what `make fuzz` runs: each libFuzzer target build/fuzz_<parser> for SECONDS (or
# RUNS executions, when RUNS > 0) from its seeds in tests/corpus/<parser>/, one after the
# other, then a table of executions, speed, corpus size and crashes, in Markdown for the
# README's robustness section. The growing corpus is kept in build/fuzz-out/<parser>/corpus;
# crashes, leaks and timeouts are written as build/fuzz-out/<parser>/crash-* (and leak-*,
# timeout-*): copy each into tests/corpus/<parser>/ once fixed, so the tests replay it.
#
#   scripts/fuzz.sh SECONDS RUNS PARSER...
#   FUZZ_OUT=build/fuzz-out-b scripts/fuzz.sh ...   (a second campaign beside the first)
set -u
cd "$(dirname "$0")/.."
seconds=${1:-60} runs=${2:-0}
shift 2
out=${FUZZ_OUT:-build/fuzz-out}
mkdir -p "$out"
table="| parser | executions | per second | corpus | crashes |\n| --- | ---: | ---: | ---: | ---: |\n"
failed=0
for p in "$@"; do
    dir=$out/$p
    mkdir -p "$dir/corpus"
    limit=(-max_total_time="$seconds")
    ((runs > 0)) && limit=(-runs="$runs")
    echo "== fuzz_$p (${limit[*]})" >&2
    # -timeout: an input slower than 10 s is a finding; -rss_limit_mb bounds one input's memory
    "build/fuzz_$p" "${limit[@]}" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" "tests/corpus/$p" \
        >"$dir/log" 2>&1
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
    found=$(find "$dir" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
        -o -name 'oom-*' \) | wc -l)
    corpus=$(find "$dir/corpus" -type f | wc -l)
    [[ -z $execs ]] && { found="run failed: see $dir/log"; failed=1; }
    [[ $found != 0 ]] && failed=1
    table+="| $p | ${execs:-?} | ${speed:-?} | $corpus | $found |\n"
    printf '   %s executions, %s/s, %s corpus files, %s found\n' "${execs:-?}" "${speed:-?}" \
        "$corpus" "$found" >&2
done
printf '\n%b' "$table"
exit $failed
