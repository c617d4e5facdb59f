#!/usr/bin/env bash
# npm-deps.sh - installs the npm packages fer uses (swagger-ui-dist for /docs, playwright-core
# for the browser tests), at the versions pinned in tests/browser/package.json, into build/npm.
# Does nothing when they are there; says so and succeeds when npm is missing.
set -u
cd "$(dirname "$0")/.."
NPM_DIR=build/npm
command -v npm >/dev/null && command -v node >/dev/null || {
    echo "npm-deps: node/npm not installed; /docs and the browser tests need them" >&2
    exit 0
}
have() { node -p "try { require('./$NPM_DIR/node_modules/$1/package.json').version } catch (e) { '' }"; }
want() { node -p "require('./tests/browser/package.json').dependencies['$1']"; }
if [[ $(have playwright-core) == "$(want playwright-core)" && $(have swagger-ui-dist) == "$(want swagger-ui-dist)" ]]; then
    exit 0
fi
mkdir -p "$NPM_DIR"
cp tests/browser/package.json "$NPM_DIR/package.json"
# --ignore-scripts: nothing is downloaded beyond the packages themselves
npm install --prefix "$NPM_DIR" --no-audit --no-fund --ignore-scripts --loglevel=error
