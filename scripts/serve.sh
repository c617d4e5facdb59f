#!/usr/bin/env bash
# serve.sh - what `make run` does: start `fer serve` with the built-in model and an SQLite
# feedback store in data/, and print the address to open. Swagger UI for /docs is installed
# into build/npm when npm is there. The admin token for the feedback export is kept in
# data/admin-token (made on first run) unless FER_ADMIN_TOKEN is set.
#
#   scripts/serve.sh                 HOST=0.0.0.0 PORT=9000 scripts/serve.sh --threads 4
set -euo pipefail
cd "$(dirname "$0")/.."
FER=${FER:-build/fer}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8080}
[[ -x $FER ]] || { echo "serve.sh: $FER is not built: run make" >&2; exit 1; }

if [[ ! -f build/npm/node_modules/swagger-ui-dist/swagger-ui-bundle.js ]] && command -v npm >/dev/null; then
    echo "serve.sh: installing Swagger UI (swagger-ui-dist) into build/npm for /docs" >&2
    mkdir -p build/npm
    cp tests/browser/package.json build/npm/package.json
    npm install --prefix build/npm --no-audit --no-fund --ignore-scripts --loglevel=error >&2 ||
        echo "serve.sh: npm failed; /docs will say how to install Swagger UI" >&2
fi

mkdir -p data
if [[ -z ${FER_ADMIN_TOKEN:-} ]]; then
    if [[ ! -s data/admin-token ]]; then
        (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > data/admin-token)
    fi
    FER_ADMIN_TOKEN=$(cat data/admin-token)
    export FER_ADMIN_TOKEN
    echo "serve.sh: the admin token for /v1/feedback/export is in data/admin-token" >&2
fi
echo "serve.sh: export the feedback with" >&2
echo "  curl -H \"Authorization: Bearer \$(cat data/admin-token)\" http://$HOST:$PORT/v1/feedback/export?format=fer2013 > feedback.csv" >&2
echo "  and fine-tune with: $FER train --init models/fer-resnet.fer --train feedback.csv --epochs 3 --out tuned.fer" >&2
echo "serve.sh: Ctrl+C stops the server" >&2
exec "$FER" serve --host "$HOST" --port "$PORT" --db sqlite:data/fer.db "$@"
