#!/usr/bin/env bash
# install.sh - `make install` into a temporary prefix, then build the example
# program against the installed copy with pkg-config and run it.
set -u
tmp=$(mktemp -d /tmp/fer_install_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
check() { if "${@:2}" >"$tmp/log" 2>&1; then passed=$((passed + 1)); echo "ok   $1"; else
    failed=$((failed + 1)); echo "FAIL $1" >&2; tail -5 "$tmp/log" >&2; fi; }
check "make install" make -s install PREFIX="$tmp/prefix"
check "header installed" test -f "$tmp/prefix/include/fer.h"
check "library installed" test -f "$tmp/prefix/lib/libfer.a"
export PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig
check "pkg-config finds fer" pkg-config --exists fer
check "example builds from the installed copy" \
    sh -c "cc -std=c11 -Wall -Werror examples/emotions.c \$(pkg-config --cflags --libs fer) -o $tmp/emotions"
check "example runs on a file it cannot read and says so" \
    sh -c "! $tmp/emotions $tmp/none.jpg 2>$tmp/msg && grep -q none.jpg $tmp/msg"
media=${FER_SHARED_DATA:-../shared/data}/media
if [[ -f $media/two_people.jpg ]]; then
    check "example reads a photo" sh -c "$tmp/emotions $media/two_people.jpg | grep -q 'face(s)'"
fi
check "installed binary runs" "$tmp/prefix/bin/fer" version
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
