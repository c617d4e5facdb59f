#!/usr/bin/env bash
# load.sh - HTTP load test of POST /v1/predict on loopback with wrk: `fer serve` against a
# minimal Flask + OpenCV + PyTorch service doing the same work (bench/flask_peer.py), in the
# same run, at 1, 8 and 64 connections. The body is a 640x480 JPEG holding faces, sent raw
# (image/jpeg). Prints a table of requests/s and p50/p99 latency and keeps it in
# bench/out/load.md.
#
#   bash bench/load.sh                   SECONDS_EACH=5 CONNECTIONS="1 8" bash bench/load.sh
# Needs: build/fer, wrk, python3-flask, python3-opencv, python3-torch, opencv-data
# (scripts/install-deps.sh --bench), and ../shared/data/media/two_people.jpg.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_EACH:-10}
conns=${CONNECTIONS:-1 8 64}
FER=${FER:-build/fer}
PY=/usr/bin/python3
FER_PORT=${FER_PORT:-18090}
PEER_PORT=${PEER_PORT:-18091}
media=${FER_SHARED_DATA:-../shared/data}/media/two_people.jpg

for tool in wrk "$PY"; do
    command -v "$tool" >/dev/null || { echo "load.sh: $tool missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
done
[[ -x $FER ]] || { echo "load.sh: $FER not built (make)" >&2; exit 1; }
[[ -f $media ]] || { echo "load.sh: $media not found (FER_SHARED_DATA)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/fer_load_XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p bench/out

# The photo: two_people.jpg cut to 4:3 around its centre and scaled to 640x480.
"$PY" - "$media" "$tmp/photo.jpg" <<'PY'
import sys, cv2
img = cv2.imread(sys.argv[1])
h, w = img.shape[:2]
cw = min(w, h * 4 // 3)
x0 = (w - cw) // 2
img = cv2.resize(img[:, x0:x0 + cw], (640, 480), interpolation=cv2.INTER_AREA)
cv2.imwrite(sys.argv[2], img, [cv2.IMWRITE_JPEG_QUALITY, 90])
PY

export FER_BENCH_PHOTO="$tmp/photo.jpg" # for bench/predict.lua

wait_up() { # url: up to 60 s for the service to answer
    for _ in $(seq 120); do
        curl -sf "$1/v1/health" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    echo "load.sh: $1 did not come up" >&2
    return 1
}

"$FER" serve --port "$FER_PORT" --db "sqlite:$tmp/fer.db" --quiet >"$tmp/fer.log" 2>&1 &
pids+=($!)
"$PY" bench/flask_peer.py --port "$PEER_PORT" --db "$tmp/peer.db" >"$tmp/peer.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$FER_PORT"
wait_up "http://127.0.0.1:$PEER_PORT"

faces() { curl -s -H 'Content-Type: image/jpeg' --data-binary "@$tmp/photo.jpg" "$1/v1/predict" |
          "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["faces"]))'; }
fer_faces=$(faces "http://127.0.0.1:$FER_PORT")
peer_faces=$(faces "http://127.0.0.1:$PEER_PORT")
echo "photo: 640x480 JPEG, $(stat -c %s "$tmp/photo.jpg") bytes; faces found: fer $fer_faces, flask $peer_faces"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"

results=$tmp/results
: >"$results"
for c in $conns; do
    t=$((c < 2 ? 1 : 2))
    # alternate the two services at each level so that machine noise hits both alike
    for svc in fer flask; do
        port=$FER_PORT
        [[ $svc == flask ]] && port=$PEER_PORT
        url="http://127.0.0.1:$port/v1/predict"
        wrk -t1 -c1 -d2s -s bench/predict.lua "$url" >/dev/null 2>&1 || true # warm up
        line=$(wrk -t"$t" -c"$c" -d"${secs}s" --timeout 30s -s bench/predict.lua "$url" |
               grep '^RESULT' || true)
        [[ -n $line ]] || line="RESULT 0 1 0 0 -1"
        echo "$svc $c $line" >>"$results"
        echo "  $svc, $c connections: $line" >&2
    done
done

"$PY" - "$results" "$secs" <<'PY' | tee bench/out/load.md
import sys
rows = [l.split() for l in open(sys.argv[1])]
by = {(r[0], int(r[1])): r for r in rows}
print(f"POST /v1/predict, 640x480 JPEG with faces, {sys.argv[2]} s per cell, loopback, wrk")
print()
print("| connections | fer req/s | fer p50 ms | fer p99 ms "
      "| Flask req/s | Flask p50 ms | Flask p99 ms | fer/Flask req/s |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for c in sorted({int(r[1]) for r in rows}):
    cells, rates = [], []
    for svc in ("fer", "flask"):
        r = by.get((svc, c))
        if not r:
            cells += ["-"] * 3
            rates.append(0)
            continue
        n, dur, p50, p99, errs = int(r[3]), float(r[4]), float(r[5]), float(r[6]), int(r[7])
        rate = n / dur if dur else 0
        rates.append(rate)
        if n == 0:  # nothing finished within the measurement: latency unknown, over dur
            cells += [f"0 (none done in {dur:.0f} s)", f"> {dur * 1e3:.0f}", f"> {dur * 1e3:.0f}"]
            continue
        note = f" ({errs} errors)" if errs else ""
        cells += [f"{rate:.1f}{note}", f"{p50:.0f}", f"{p99:.0f}"]
    ratio = f"{rates[0] / rates[1]:.1f}x" if rates[1] else "-"
    print(f"| {c} | " + " | ".join(cells) + f" | {ratio} |")
PY
