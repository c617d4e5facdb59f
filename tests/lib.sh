# lib.sh - what the shell tests share: counting and reporting checks. Sourced after $tmp (the
# test's temporary folder) is made; the test ends with `summary` as its last line.
#
#   ok NAME / bad NAME / skip NAME      count a check (bad goes to stderr)
#   expect NAME STATUS CMD...           runs CMD (stdout to $tmp/out, stderr to $tmp/err) and
#                                       passes when it exits with STATUS
#   contains NAME FILE TEXT             passes when FILE holds TEXT
#   summary                             prints "N passed, N failed, N skipped"
passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1" >&2; }
skip() { skipped=$((skipped + 1)); echo "skip $1"; }
expect() {
    local name=$1 want=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if [[ $got -eq $want ]]; then ok "$name"; else
        bad "$name (exit $got, wanted $want)"
        head -5 "$tmp/err" >&2
    fi
}
contains() {
    if grep -qF -- "$3" "$2"; then ok "$1"; else
        bad "$1: '$3' not in $(basename "$2")"
        head -5 "$2" >&2
    fi
}
summary() { echo "$passed passed, $failed failed, $skipped skipped"; }
