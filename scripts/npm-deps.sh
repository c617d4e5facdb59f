#!/usr/bin/env bash
# npm-deps.sh [browser|onnx] - installs the npm packages fer uses, at the versions pinned in
# tests/<set>/package.json, into build/npm (browser, the default: swagger-ui-dist for /docs,
# playwright-core for the browser tests) or build/npm-onnx (onnx: onnxruntime-node, which
# checks and benchmarks fer export's ONNX files; 290 MB, so only the tests and benchmarks
# that need it ask for it). Does nothing when they are there; says so and succeeds when npm
# is missing.
set -u
cd "$(dirname "$0")/.."
set_name=${1:-browser}
case "$set_name" in
browser) NPM_DIR=build/npm ;;
onnx) NPM_DIR=build/npm-onnx ;;
*) echo "npm-deps: unknown set $set_name (browser or onnx)" >&2; exit 2 ;;
esac
PINS=tests/$set_name/package.json
command -v npm >/dev/null && command -v node >/dev/null || {
    echo "npm-deps: node/npm not installed; the $set_name tests need them" >&2
    exit 0
}
# 1 when every pinned package is installed at its pinned version
installed=$(node -e "
const want = require('./$PINS').dependencies;
let ok = 1;
for (const [name, version] of Object.entries(want)) {
    try { if (require('./$NPM_DIR/node_modules/' + name + '/package.json').version !== version) ok = 0; }
    catch (e) { ok = 0; }
}
console.log(ok);")
[[ $installed == 1 ]] && exit 0
mkdir -p "$NPM_DIR"
cp "$PINS" "$NPM_DIR/package.json"
# --ignore-scripts: nothing is downloaded beyond the packages themselves
npm install --prefix "$NPM_DIR" --no-audit --no-fund --ignore-scripts --loglevel=error
