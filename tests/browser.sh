#!/usr/bin/env bash
# browser.sh - the web app in a real browser. Installs what is missing (playwright-core and
# swagger-ui-dist from tests/browser/package.json into build/npm; Debian's chromium when run
# as root), then runs tests/browser/test_web.mjs against `build/fer serve`. Ends with
# "N passed, N failed"; when no browser can be had it says why and skips.
#
#   bash tests/browser.sh            FER=build/asan/fer bash tests/browser.sh
set -u
cd "$(dirname "$0")/.."
export FER=${FER:-build/fer}
NPM_DIR=build/npm
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

skip() {
    echo "browser tests skipped: $1"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
}

[[ -x $FER ]] || { echo "browser.sh: $FER not built (make build/fer)"; echo "0 passed, 1 failed"; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null || {
    if [[ $(id -u) -eq 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null ||
            skip "node and npm are not installed and could not be"
    else
        skip "node and npm are not installed (apt-get install nodejs npm)"
    fi
}
want_pw=$(node -p "require('./tests/browser/package.json').dependencies['playwright-core']")
want_sw=$(node -p "require('./tests/browser/package.json').dependencies['swagger-ui-dist']")
have() { node -p "try { require('./$NPM_DIR/node_modules/$1/package.json').version } catch (e) { '' }"; }
if [[ $(have playwright-core) != "$want_pw" || $(have swagger-ui-dist) != "$want_sw" ]]; then
    mkdir -p "$NPM_DIR"
    cp tests/browser/package.json "$NPM_DIR/package.json"
    # --ignore-scripts: nothing is downloaded beyond the packages themselves
    npm install --prefix "$NPM_DIR" --no-audit --no-fund --ignore-scripts --loglevel=error ||
        skip "npm could not install playwright-core and swagger-ui-dist"
fi
if [[ ! -x $CHROMIUM ]]; then
    if [[ $(id -u) -eq 0 ]]; then
        echo "browser.sh: installing Debian's chromium"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends chromium fonts-noto-color-emoji) >/dev/null ||
            skip "chromium could not be installed"
    else
        skip "no $CHROMIUM (apt-get install chromium, as root)"
    fi
fi
mkdir -p build/test-artifacts
CHROMIUM=$CHROMIUM node tests/browser/test_web.mjs
