#!/usr/bin/env bash
# serve_options.sh - `fer serve` as a process with the options that change what clients see:
# HTTPS with a certificate made here (--tls-cert, --tls-key), CORS for one origin
# (--cors-origin) and the per-client rate limit (--rate-limit), spoken to with curl, and the
# live stream (GET /v1/stream) over ws:// and wss:// with the websockets library.
# Also: a FIFO, a folder loop and other bad input on the command line. Uses $FER (default
# build/fer); ends with "N passed, N failed, N skipped".
set -u
FER=${FER:-build/fer}
tmp=$(mktemp -d /tmp/fer_serve_XXXXXX)
pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1" >&2; }
check() { if "${@:2}"; then ok "$1"; else bad "$1"; fi; }
photo=tests/data/photos/astronaut.jpg

# start ARGS...: fer serve on a free port in the background; sets $pid and $port
start() {
    port=$((20000 + RANDOM % 20000))
    "$FER" serve --port "$port" --db "$tmp/fer.db" --quiet "$@" >"$tmp/serve.log" 2>&1 &
    pid=$!
    for _ in $(seq 300); do # 30 s: a sanitizer build on a busy machine starts slowly
        grep -q "fer serve: open" "$tmp/serve.log" && return 0
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    echo "fer serve did not start:" >&2
    cat "$tmp/serve.log" >&2
    return 1
}
stop() { kill $pid 2>/dev/null; wait $pid 2>/dev/null; pid=; }

if ! command -v curl >/dev/null || ! command -v openssl >/dev/null; then
    echo "skip: the server option tests need curl and openssl (scripts/install-deps.sh --test)"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi

# the live stream with an independent client (Debian's python3-websockets), then over TLS
have_websockets=
if /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
    have_websockets=1
    if start; then
        check "a stream over ws:// with the websockets library" /usr/bin/python3 \
            tests/stream_client.py "ws://127.0.0.1:$port/v1/stream?forget=30" \
            tests/data/photos/grace_hopper.jpg
        stop
    else
        bad "fer serve starts"
    fi
else
    echo "skip: the stream tests with the websockets library need python3-websockets"
    skipped=$((skipped + 2))
fi

# HTTPS with a self-signed certificate for 127.0.0.1
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
if start --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"; then
    check "the address printed is https" grep -q "open https://127.0.0.1:$port/" "$tmp/serve.log"
    body=$(curl -s --cacert "$tmp/cert.pem" "https://127.0.0.1:$port/v1/health")
    check "health over HTTPS, certificate verified" grep -q '"status":"ok"' <<<"$body"
    body=$(curl -s --cacert "$tmp/cert.pem" -F "image=@$photo" "https://127.0.0.1:$port/v1/predict")
    check "a prediction over HTTPS" grep -q '"emotion"' <<<"$body"
    if [[ $have_websockets ]]; then
        check "a stream over wss:// with the websockets library" /usr/bin/python3 \
            tests/stream_client.py "wss://127.0.0.1:$port/v1/stream?forget=30" \
            tests/data/photos/grace_hopper.jpg "$tmp/cert.pem"
    fi
    check "plain HTTP to the HTTPS port gets no answer" \
        bash -c "! curl -s --max-time 5 http://127.0.0.1:$port/v1/health | grep -q status"
    stop
else
    bad "fer serve starts with --tls-cert and --tls-key"
fi
"$FER" serve --port 0 --db "$tmp/fer.db" --tls-cert "$tmp/cert.pem" >/dev/null 2>"$tmp/err"
check "a certificate without a key is refused" grep -q "needs both --tls-cert and --tls-key" "$tmp/err"
"$FER" serve --port 0 --db "$tmp/fer.db" --tls-cert "$tmp/key.pem" --tls-key "$tmp/cert.pem" \
    >/dev/null 2>"$tmp/err"
check "a swapped certificate and key fail with a message" grep -q "cannot start HTTPS" "$tmp/err"
printf 'not a pem' >"$tmp/junk.pem"
"$FER" serve --port 0 --db "$tmp/fer.db" --tls-cert "$tmp/junk.pem" --tls-key "$tmp/key.pem" \
    >/dev/null 2>"$tmp/err"
check "a file that is not PEM is named" grep -q "junk.pem is not in PEM form" "$tmp/err"

# CORS for one origin, and the rate limit
if start --cors-origin https://app.example --rate-limit 3; then
    url=http://127.0.0.1:$port
    curl -s -D "$tmp/h" -o /dev/null -X OPTIONS -H "Origin: https://app.example" "$url/v1/predict"
    check "preflight from the allowed origin: 204" grep -q "^HTTP/1.1 204" "$tmp/h"
    check "  allows POST" grep -qi "^Access-Control-Allow-Methods: GET, POST, OPTIONS" "$tmp/h"
    check "  names the origin" grep -qi "^Access-Control-Allow-Origin: https://app.example" "$tmp/h"
    curl -s -D "$tmp/h" -o /dev/null -X OPTIONS -H "Origin: https://evil.example" "$url/v1/predict"
    check "preflight from another origin: 403" grep -q "^HTTP/1.1 403" "$tmp/h"
    curl -s -D "$tmp/h" -o /dev/null -H "Origin: https://evil.example" "$url/v1/health"
    check "  and no Allow-Origin for it" bash -c "! grep -qi '^Access-Control-Allow-Origin' $tmp/h"
    codes=""
    for _ in 1 2 3 4; do
        codes+=$(curl -s -o /dev/null -w "%{http_code} " -F "image=@$photo" "$url/v1/predict")
    done
    check "rate limit 3 a minute: the 4th prediction gets 429 ($codes)" [ "$codes" = "200 200 200 429 " ]
    curl -s -D "$tmp/h" -o "$tmp/b" -H 'Content-Type: application/json' \
        -d '{"face_id": "0123456789abcdef0123456789abcdef", "emotion": "sad"}' "$url/v1/feedback"
    check "  feedback shares the budget: 429" grep -q "^HTTP/1.1 429" "$tmp/h"
    check "  with Retry-After" grep -qi "^Retry-After: [0-9]" "$tmp/h"
    check "  and a JSON error" grep -q '"error":"more than 3 requests a minute' "$tmp/b"
    check "health is not limited" bash -c "curl -s $url/v1/health | grep -q status"
    stop
else
    bad "fer serve starts with --cors-origin and --rate-limit"
fi
# started from another folder, the server still finds its web app and Swagger UI next to the binary
if [[ -f build/npm/node_modules/swagger-ui-dist/swagger-ui-bundle.js ]]; then
    fer_abs=$(cd "$(dirname "$FER")" && pwd)/$(basename "$FER")
    repo=$PWD
    cd "$tmp" && FER=$fer_abs start && cd "$repo" || cd "$repo"
    if [[ -n $pid ]]; then
        code=$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$port/docs/swagger-ui-bundle.js")
        check "/docs from a server started in another folder ($code)" [ "$code" = 200 ]
        code=$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$port/")
        check "and the web app ($code)" [ "$code" = 200 ]
        stop
    else
        bad "fer serve starts from another folder"
    fi
else
    skipped=$((skipped + 1))
    echo "skip /docs from another folder: Swagger UI is not installed in build/npm"
fi
# /report/: a built-in model's report, shipped in models/fer-resnet-report and fer-accurate-report
if start; then
    base="http://127.0.0.1:$port"
    code=$(curl -s -o /dev/null -w "%{http_code} %{redirect_url}" "$base/report")
    check "/report sends the browser to /report/ ($code)" [ "$code" = "301 $base/report/" ]
    curl -s -D "$tmp/head" "$base/report/" >"$tmp/page"
    check "/report/ shows the built-in model's report" grep -q "<h1>Report: fer-resnet</h1>" "$tmp/page"
    check "  with a policy that allows no script" grep -qi "content-security-policy: default-src 'none'" "$tmp/head"
    all=1
    for f in $(grep -o '<img src="[^"]*"' "$tmp/page" | cut -d'"' -f2); do
        [[ $(curl -s -o /dev/null -w "%{http_code} %{content_type}" "$base/report/$f") == "200 image/png" ]] || all=
    done
    check "  and every figure it shows ($(grep -c '<img' "$tmp/page") of them)" [ -n "$all" ]
    code=$(curl -s -o /dev/null -w "%{http_code}" --path-as-is "$base/report/../fer.db")
    check "  and nothing outside its folder ($code)" [ "$code" = 404 ]
    stop
else
    bad "fer serve starts"
fi
if start --model accurate; then
    curl -s "http://127.0.0.1:$port/report/" >"$tmp/page"
    check "--model accurate shows the accurate model's report" \
        grep -q "<h1>Report: fer-accurate</h1>" "$tmp/page"
    stop
else
    bad "fer serve --model accurate starts"
fi
if start --model models/fer-resnet6.fer; then
    curl -s "http://127.0.0.1:$port/report/" >"$tmp/page"
    check "another model has no report until one is made" grep -q "no report for this model" "$tmp/page"
    stop
    if start --model models/fer-resnet6.fer --report models/fer-resnet-report; then
        code=$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$port/report/index.html")
        check "  and --report DIR shows one ($code)" [ "$code" = 200 ]
        stop
    fi
fi
"$FER" serve --port 0 --db "$tmp/fer.db" --admin-token "$(head -c 300 /dev/zero | tr '\0' x)" \
    >/dev/null 2>"$tmp/err"
check "an admin token of 300 characters is refused at start" grep -q "at most 256" "$tmp/err"

# the command line: special files and loops
mkfifo "$tmp/f.jpg"
timeout 20 "$FER" predict "$tmp/f.jpg" >"$tmp/out" 2>"$tmp/err"
check "predict on a FIFO fails at once (exit 1)" [ $? -eq 1 ]
check "  saying what it is" grep -q "is a FIFO, not a regular file" "$tmp/out"
timeout 20 "$FER" info "$tmp/f.jpg" >/dev/null 2>"$tmp/err"
check "info on a FIFO fails at once" grep -q "is a FIFO" "$tmp/err"
timeout 20 "$FER" detect --cascade "$tmp/f.jpg" "$photo" >/dev/null 2>"$tmp/err"
check "detect --cascade on a FIFO fails at once" grep -q "is a FIFO" "$tmp/err"
timeout 20 "$FER" eval --model "$tmp/f.jpg" --data "$tmp/f.jpg" >/dev/null 2>"$tmp/err"
check "eval on a FIFO fails at once" grep -q "is a FIFO" "$tmp/err"
mkdir -p "$tmp/loop/a"
ln -s .. "$tmp/loop/a/up"
cp "$photo" "$tmp/loop/a/x.jpg"
timeout 60 "$FER" predict --format csv "$tmp/loop" >"$tmp/out" 2>"$tmp/err"
check "a folder with a symbolic link loop: each photo once" [ "$(grep -c x.jpg "$tmp/out")" -eq 1 ]
check "  and the loop is named" grep -q "symbolic link loop" "$tmp/err"
: >"$tmp/empty.jpg"
"$FER" predict "$tmp/empty.jpg" >"$tmp/out" 2>&1
check "a 0-byte image is an error" grep -q '"error"' "$tmp/out"
printf 'emotion,pixels,Usage\n' >"$tmp/header.csv"
"$FER" eval --model models/fer-resnet-111.fer --data "$tmp/header.csv" >/dev/null 2>"$tmp/err"
check "a CSV with only its header is an error" grep -q "holds only its header" "$tmp/err"

echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
