#!/usr/bin/env bash
# run-tests.sh - what `make test` runs once everything is built: every test program
# (build/asan/test_*), then tests/cli.sh, tests/serve_options.sh, tests/video.sh, tests/onnx.sh,
# tests/mpi.sh, tests/cluster.sh, tests/python.sh, tests/install.sh and tests/browser.sh. Each one's output is shown as it comes; each ends with "N passed, N failed[, N skipped]", and the last
# line printed here is the total of them all:
#
#   N passed, N failed, N skipped
#
# A program that crashes or exits non-zero without such a line counts as one failure.
# Exit status 0 only when nothing failed.
#
#   scripts/run-tests.sh test_core test_nn ...     (the names of the test programs)
set -u
cd "$(dirname "$0")/.."
log=$(mktemp /tmp/fer_tests_XXXXXX)
trap 'rm -f "$log"' EXIT
passed=0 failed=0 skipped=0 broken=()

# run NAME COMMAND...: runs it, adds its counts to the total.
run() {
    local name=$1
    shift
    echo "== $name"
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -1)
    if [[ -z $line ]]; then
        failed=$((failed + 1))
        broken+=("$name (exit $rc, no summary line)")
        return
    fi
    local p f s
    read -r p f s < <(sed -E 's/^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$/\1 \2 \4/' <<<"$line")
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + ${s:-0}))
    if [[ $rc -ne 0 && $f -eq 0 ]]; then
        failed=$((failed + 1))
        broken+=("$name (exit $rc after its summary: a sanitizer or leak report?)")
    elif [[ $f -ne 0 ]]; then
        broken+=("$name ($f failed)")
    fi
}

export OPENBLAS_NUM_THREADS=1 # fer owns its threads
for t in "$@"; do
    ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=tests/lsan.supp run "$t" "./build/asan/$t"
done
LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp FER=./build/asan/fer run tests/cli.sh bash tests/cli.sh
LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp FER=./build/asan/fer run tests/serve_options.sh \
    bash tests/serve_options.sh
LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp FER=./build/asan/fer run tests/video.sh bash tests/video.sh
LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp FER=./build/asan/fer run tests/onnx.sh bash tests/onnx.sh
LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp FER=./build/asan/fer run tests/mpi.sh bash tests/mpi.sh
LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp FER=./build/asan/fer run tests/cluster.sh \
    bash tests/cluster.sh
run tests/python.sh bash tests/python.sh
run tests/install.sh bash tests/install.sh
run tests/browser.sh bash tests/browser.sh

echo
if [[ ${#broken[@]} -ne 0 ]]; then
    echo "failed: ${broken[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
