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
check "example reads a photo with two faces" \
    sh -c "$tmp/emotions tests/data/photos/two_portraits.jpg | grep -q '2 face(s)'"
# the overview example at the top of fer.h, as written there
{
    printf '#include <stdio.h>\n#include <fer.h>\nint main(void)\n{\n'
    sed -n '/^ \*       char err\[FER_ERR_LEN\];/,/^ \*       fer_engine_close(engine);/p' include/fer.h |
        sed 's/^ \*       //'
    printf '    return 0;\n}\n'
} >"$tmp/overview.c"
check "fer.h's example is in the header" grep -q fer_engine_analyze_file "$tmp/overview.c"
check "fer.h's example compiles" \
    sh -c "cc -std=c11 -Wall -Werror $tmp/overview.c \$(pkg-config --cflags --libs fer) -o $tmp/overview"
check "fer.h's example runs" sh -c "cd tests/data/photos && cp grace_hopper.jpg $tmp/photo.jpg && \
    cd $tmp && ./overview | grep -q neutral"
check "installed binary runs" "$tmp/prefix/bin/fer" version
echo "$passed passed, $failed failed, 0 skipped"
[[ $failed -eq 0 ]]
