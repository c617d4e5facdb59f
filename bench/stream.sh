#!/usr/bin/env bash
# stream.sh - the web app's live webcam path, GET /v1/stream (a WebSocket), against the
# one-POST-a-frame path it replaced, in one run on one server: (1) in headless Chromium with
# a fake camera playing a 640x480 clip at 30 frames a second (two faces panning, made by the
# ffmpeg tool from tests/data/photos), the frames the page analyses and draws per second
# (bench/stream.mjs); (2) without a browser, what each path sustains when frames are sent as
# fast as they are answered (bench/stream_peer.py, JPEG frames of the same clip). Prints a
# table; raw JSON lines in bench/out/stream.jsonl.
#
#   make bench-stream                  (builds build/fer, installs chromium and the peers)
#   SECONDS_LONG=20 bash bench/stream.sh
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_LONG:-10}
tmp=$(mktemp -d /tmp/fer_bench_stream_XXXXXX)
pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p bench/out
out=bench/out/stream.jsonl
: >"$out"

# the camera: two faces panning, 3 s at 30 frames a second, as Y4M (Chromium) and JPEGs
ffmpeg -v error -y -loop 1 -i tests/data/photos/two_portraits.jpg -filter_complex \
    "[0:v]scale=720:-2,crop=640:'min(ih,480)':x='40*(1+sin(2*PI*t/3))':y=0,pad=640:480:0:(oh-ih)/2,format=yuv420p[v]" \
    -map "[v]" -t 3 -r 30 "$tmp/camera.y4m"
ffmpeg -v error -y -i "$tmp/camera.y4m" -q:v 4 "$tmp/frame_%03d.jpg"

port=$((20000 + RANDOM % 20000))
build/fer serve --port "$port" --db "sqlite:$tmp/fer.db" --quiet >"$tmp/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "fer serve: open" "$tmp/serve.log" && break; sleep 0.1; done

node bench/stream.mjs "http://127.0.0.1:$port" "$tmp/camera.y4m" "$secs" | tee -a "$out"
/usr/bin/python3 bench/stream_peer.py 127.0.0.1 "$port" "$secs" "$tmp"/frame_*.jpg | tee -a "$out"

echo
echo "| path | frames/s |"
echo "| --- | ---: |"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
names = {"stream": "web app, streaming (Chromium, fake camera at 30/s)",
         "post": "web app, one POST a frame (its 200 ms cap)"}
for r in rows:
    print(f"| {names.get(r['mode'], r['mode'])} | {r['fps']:.1f} |")
fps = {r["mode"]: r["fps"] for r in rows}
print()
print(f"web app streaming / one POST a frame: {fps['stream'] / fps['post']:.2f}x")
print(f"server, stream with 2 in flight / POST one after the other: "
      f"{fps['stream, 2 in flight'] / fps['POST, one after the other']:.2f}x")
PY
