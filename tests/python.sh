#!/usr/bin/env bash
# python.sh - the fer Python package as a user installs it: a virtual environment of Debian's
# python3 (with its numpy), `pip install --no-index ./python` (nothing from the network: the
# package's own build backend makes build/libfer.so with the Makefile), then
# tests/python/test_fer.py against build/fer. Ends with "N passed, N failed, N skipped".
set -u
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/fer_python_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
summary() { echo "$1 passed, $2 failed, $3 skipped"; }
if ! $PY -c 'import venv, ensurepip, numpy' 2>/dev/null; then
    echo "skip the Python package: python3-venv or python3-numpy is not installed"
    summary 0 0 1
    exit 0
fi
if ! $PY -m venv --system-site-packages "$tmp/venv" >"$tmp/log" 2>&1 ||
    ! "$tmp/venv/bin/pip" install --no-index --no-cache-dir ./python >>"$tmp/log" 2>&1; then
    echo "FAIL pip install --no-index ./python" >&2
    tail -20 "$tmp/log" >&2
    summary 0 1 0
    exit 1
fi
echo "ok   pip install --no-index ./python (the tests below count)"
# from another folder, so that python/fer in the repository is not what gets imported
root=$PWD
cd "$tmp" && FER_CLI="$root/build/fer" "$tmp/venv/bin/python" "$root/tests/python/test_fer.py"
