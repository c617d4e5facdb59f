#!/usr/bin/env bash
# video.sh - fer video end to end on clips this script makes with the ffmpeg tool from the
# public-domain photos in tests/data/photos (two faces panning, with a sine tone as audio):
# tracks and JSON lines, the CSV, the timeline figure, the annotated MP4 decoded again (size,
# frame count, audio, drawn overlays), every overlay, a stream served by ffmpeg on 127.0.0.1,
# a stream cut in the middle and one that stalls, truncated files, missing cameras, Ctrl-C,
# and the live window under Xvfb (its screenshot is kept in build/test-artifacts/). Uses $FER
# (default build/fer); the Hamilton clip of ../shared when it is there. Ends with
# "N passed, N failed, N skipped".
set -u
FER=${FER:-build/fer}
PY=/usr/bin/python3
SHARED_CLIP=../shared/data/media/short_hamilton_clip.mp4
tmp=$(mktemp -d /tmp/fer_video_XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
source "$(dirname "$0")/lib.sh"
check() { # check NAME COMMAND...: passes when the command succeeds
    local name=$1
    shift
    if "$@" >"$tmp/check.out" 2>&1; then ok "$name"; else
        bad "$name"
        head -5 "$tmp/check.out" >&2
    fi
}
frames_in() { # the video frames of a file, counted by decoding
    ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
        -of csv=p=0 "$1" 2>/dev/null
}
free_port() {
    $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
    skip "every video test: the ffmpeg tool is not installed (scripts/install-deps.sh --test)"
    echo "$passed passed, $failed failed, $skipped skipped"
    exit 0
fi

# clip.mp4: 400x272, 12 frames per second, 3 s (36 frames), two faces panning, AAC audio
ffmpeg -v error -y -loop 1 -i tests/data/photos/two_portraits.jpg \
    -f lavfi -i "sine=frequency=440:sample_rate=44100" \
    -filter_complex "[0:v]scale=480:278,crop=400:272:x='40+40*sin(2*PI*t/3)':y=3,format=yuv420p[v]" \
    -map "[v]" -map 1:a -t 3 -r 12 -c:v libx264 -preset ultrafast -c:a aac -shortest \
    "$tmp/clip.mp4" || { bad "ffmpeg makes the test clip"; echo "$passed passed, $failed failed, $skipped skipped"; exit 1; }

# ---- a file, every output -------------------------------------------------------------------
expect "video with every output" 0 "$FER" video --input "$tmp/clip.mp4" --output "$tmp/out.mp4" \
    --jsonl "$tmp/out.jsonl" --csv "$tmp/out.csv" --timeline "$tmp/timeline.png" --quiet
cp "$tmp/out" "$tmp/summary.json"
check "JSON lines: a line per frame, frames and times in order, faces in the one schema" \
    $PY - "$tmp/out.jsonl" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 36, len(lines)
assert [l["frame"] for l in lines] == list(range(36))
times = [l["time"] for l in lines]
assert all(b > a for a, b in zip(times, times[1:])) and abs(times[-1] - 35 / 12) < 0.01, times[-3:]
for l in lines:
    for f in l["faces"]:
        assert set(f) >= {"id", "box", "score", "landmarks", "emotion", "confidence", "probabilities"}, f
        assert isinstance(f["id"], str) and len(f["landmarks"]) == 5
        assert abs(sum(f["probabilities"].values()) - 1) < 1e-3
        assert f["probabilities"][f["emotion"]] == f["confidence"]
EOF
check "tracks: both faces in nearly every frame, each keeping its id" $PY - "$tmp/out.jsonl" <<'EOF'
import json, sys, collections
lines = [json.loads(l) for l in open(sys.argv[1])]
two = sum(len(l["faces"]) == 2 for l in lines)
assert two >= 33, f"{two} of 36 frames with two faces"
ids = collections.Counter(f["id"] for l in lines for f in l["faces"])
top2 = sum(n for _, n in ids.most_common(2))
assert top2 >= 0.95 * sum(ids.values()), ids
# the face on the left stays left of the one on the right: ids never swap
left = collections.Counter(min(l["faces"], key=lambda f: f["box"]["x"])["id"] for l in lines if len(l["faces"]) == 2)
assert left.most_common(1)[0][1] == two, left
EOF
expect "--detect-every 1: the detector on every frame" 0 "$FER" video --input "$tmp/clip.mp4" \
    --detect-every 1 --jsonl "$tmp/every1.jsonl" --quiet
expect "--detect-every 3: followed between detections" 0 "$FER" video --input "$tmp/clip.mp4" \
    --detect-every 3 --jsonl "$tmp/every3.jsonl" --quiet
check "faces followed between detections stay where the detector puts them" \
    $PY - "$tmp/every1.jsonl" "$tmp/every3.jsonl" <<'EOF'
import json, sys
a = [{f["id"]: f["box"] for f in json.loads(l)["faces"]} for l in open(sys.argv[1])]
b = [{f["id"]: f["box"] for f in json.loads(l)["faces"]} for l in open(sys.argv[2])]
errs = [abs(x[k]["x"] - y[k]["x"]) + abs(x[k]["y"] - y[k]["y"])
        for i, (x, y) in enumerate(zip(a, b)) if i % 3 for k in x if k in y]
assert len(errs) >= 40 and sum(errs) / len(errs) < 4 and max(errs) < 12, (len(errs), max(errs))
moved = max(abs(a[i][k]["x"] - a[0][k]["x"]) for i in range(len(a)) for k in a[i] if k in a[0])
assert moved > 30, moved  # the faces did move
EOF
check "summary: 36 frames read, analysed and written, shares of each face summing to 1" \
    $PY - "$tmp/summary.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
assert (s["frames"], s["analysed"], s["written"], s["dropped"]) == (36, 36, 36, 0), s
assert s["width"] == 400 and s["height"] == 272 and s["interrupted"] is False
assert len(s["tracks"]) >= 2
for t in s["tracks"]:
    assert abs(sum(t["share"].values()) - 1) < 1e-3 and t["dominant"] in t["share"], t
    assert t["share"][t["dominant"]] == max(t["share"].values())
EOF
check "CSV: the header, then a row per face per frame" $PY - "$tmp/out.csv" "$tmp/out.jsonl" <<'EOF'
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1])))
assert rows[0] == "frame,time,id,x,y,w,h,score,emotion,confidence,angry,disgust,fear,happy,sad,surprise,neutral".split(","), rows[0]
faces = sum(len(json.loads(l)["faces"]) for l in open(sys.argv[2]))
assert len(rows) - 1 == faces, (len(rows), faces)
assert all(len(r) == 17 for r in rows)
EOF
check "the annotated MP4: the input's size, every frame, H.264 and the audio" $PY - "$tmp/out.mp4" <<'EOF'
import json, subprocess, sys
info = json.loads(subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_streams",
                                  "-of", "json", sys.argv[1]], capture_output=True, text=True).stdout)
video = [s for s in info["streams"] if s["codec_type"] == "video"][0]
audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
assert (video["width"], video["height"], video["codec_name"]) == (400, 272, "h264"), video
assert int(video["nb_read_frames"]) == 36, video["nb_read_frames"]
assert eval(video["avg_frame_rate"]) == 12, video["avg_frame_rate"]
assert audio and audio[0]["codec_name"] == "aac", audio
EOF
# frame_diff A B: the share of pixels of frame 18 that differ by more than 48 in some channel
frame_diff() {
    ffmpeg -v error -y -i "$1" -vf "select=eq(n\,18)" -frames:v 1 -f rawvideo -pix_fmt rgb24 "$tmp/a.rgb"
    ffmpeg -v error -y -i "$2" -vf "select=eq(n\,18)" -frames:v 1 -f rawvideo -pix_fmt rgb24 "$tmp/b.rgb"
    $PY -c 'import sys; a=open(sys.argv[1],"rb").read(); b=open(sys.argv[2],"rb").read(); assert len(a)==len(b)==400*272*3
n=sum(1 for i in range(0,len(a),3) if max(abs(a[i]-b[i]),abs(a[i+1]-b[i+1]),abs(a[i+2]-b[i+2]))>48); print(n/(400*272))' "$tmp/a.rgb" "$tmp/b.rgb"
}
d=$(frame_diff "$tmp/clip.mp4" "$tmp/out.mp4")
check "the overlays are drawn in the output ($d of frame 18 changed)" $PY -c "assert $d > 0.02"
expect "--overlay none" 0 "$FER" video --input "$tmp/clip.mp4" --output "$tmp/none.mp4" --overlay none --quiet
d=$(frame_diff "$tmp/clip.mp4" "$tmp/none.mp4")
check "--overlay none leaves the picture as it was ($d changed)" $PY -c "assert $d < 0.005"
check "the timeline figure: 1200 wide, a row per face" $PY - "$tmp/timeline.png" <<'EOF'
import struct, sys
head = open(sys.argv[1], "rb").read(33)
assert head[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", head[16:24])
assert w == 1200 and h >= 88 + 2 * 150, (w, h)
EOF
for o in bars emoji meme; do
    expect "--overlay $o" 0 "$FER" video --input "$tmp/clip.mp4" --output "$tmp/$o.mp4" --overlay "$o" \
        --frames 4 --quiet
    check "--overlay $o writes the 4 frames asked for" test "$(frames_in "$tmp/$o.mp4")" = 4
done
expect "--detect-every 4 --smooth 0 --jsonl -" 0 "$FER" video --input "$tmp/clip.mp4" \
    --detect-every 4 --smooth 0 --jsonl - --quiet
check "JSON lines on stdout, nothing else" test "$(grep -c '"frame"' "$tmp/out")" = 36

# ---- streams ------------------------------------------------------------------------------
port=$(free_port)
ffmpeg -v error -re -i "$tmp/clip.mp4" -c copy -f mpegts -listen 1 "http://127.0.0.1:$port/live.ts" 2>/dev/null &
pids+=($!)
sleep 0.5
expect "a stream served by ffmpeg on 127.0.0.1" 0 "$FER" video --input "http://127.0.0.1:$port/live.ts" \
    --jsonl "$tmp/live.jsonl" --output "$tmp/live.mp4" --quiet
check "the stream's frames are read and analysed" $PY -c "
import json; s=json.load(open('$tmp/out')); assert s['frames'] == 36 and s['analysed'] + s['dropped'] == 36 and s['analysed'] > 0, s"
check "the stream's faces are found" $PY -c "
import json; assert sum(len(json.loads(l)['faces']) for l in open('$tmp/live.jsonl')) > 0"

ffmpeg -v error -y -stream_loop 3 -i "$tmp/clip.mp4" -c copy -f mpegts "$tmp/long.ts"
port=$(free_port)
$PY - "$tmp/long.ts" "$port" <<'EOF' &
# an HTTP server that promises the whole file (Content-Length) and sends half of it
import socket, sys
data = open(sys.argv[1], "rb").read()
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[2]))); srv.listen(4)
while True:
    c, _ = srv.accept()
    req = b""
    while b"\r\n\r\n" not in req:
        chunk = c.recv(4096)
        if not chunk: break
        req += chunk
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: %d\r\n\r\n" % len(data))
    try: c.sendall(data[: len(data) // 2])
    except OSError: pass
    c.close()
EOF
pids+=($!)
sleep 0.5
expect "a stream cut in the middle fails" 1 "$FER" video --input "http://127.0.0.1:$port/cut.ts" \
    --output "$tmp/cut.mp4" --quiet
contains "and says the stream broke" "$tmp/err" "the stream broke after"
written=$($PY -c "import json; print(json.load(open('$tmp/out'))['written'])")
check "what was written of the cut stream plays ($written frames)" test "$(frames_in "$tmp/cut.mp4")" = "$written"

port=$(free_port)
ffmpeg -v error -re -i "$tmp/long.ts" -c copy -f mpegts -listen 1 "http://127.0.0.1:$port/stall.ts" 2>/dev/null &
server=$!
pids+=($server)
sleep 0.5
# the server stops (SIGSTOP) once fer has analysed its first frames
(for _ in $(seq 300); do [[ -s $tmp/stall.jsonl ]] && break; sleep 0.1; done
 sleep 0.3 && kill -STOP $server) &
expect "a stream that stalls fails after --timeout" 1 "$FER" video --input "http://127.0.0.1:$port/stall.ts" \
    --output "$tmp/stall.mp4" --jsonl "$tmp/stall.jsonl" --timeout 2 --quiet
contains "and says it timed out" "$tmp/err" "timed out"
check "what was written of the stalled stream plays" test "$(frames_in "$tmp/stall.mp4")" -gt 0
kill -CONT $server 2>/dev/null

# ---- bad input ------------------------------------------------------------------------------
ffmpeg -v error -y -i "$tmp/clip.mp4" -c copy -movflags +faststart "$tmp/faststart.mp4"
size=$(stat -c %s "$tmp/faststart.mp4")
head -c $((size / 2)) "$tmp/faststart.mp4" >"$tmp/half.mp4"
expect "a file cut in half fails" 1 "$FER" video --input "$tmp/half.mp4" --output "$tmp/half_out.mp4" --quiet
contains "and says it is truncated" "$tmp/err" "the file is truncated or damaged"
check "what was read of it is in a playable output" test "$(frames_in "$tmp/half_out.mp4")" -gt 0
head -c $(($(stat -c %s "$tmp/clip.mp4") / 2)) "$tmp/clip.mp4" >"$tmp/noindex.mp4"
expect "an MP4 cut before its index fails" 1 "$FER" video --input "$tmp/noindex.mp4" --quiet
contains "and says why" "$tmp/err" "cut short"
expect "a camera that is not there" 1 "$FER" video --input /dev/video97 --quiet
contains "names it" "$tmp/err" "cannot open the camera /dev/video97"
expect "a missing file" 1 "$FER" video --input "$tmp/nothing.mp4" --quiet
contains "names it" "$tmp/err" "nothing.mp4: No such file"
expect "a text file" 1 "$FER" video --input tests/video.sh --quiet
contains "says it is not a video" "$tmp/err" "not a video"
expect "an output folder that does not exist" 1 "$FER" video --input "$tmp/clip.mp4" \
    --output "$tmp/no/such/out.mp4" --quiet
contains "names it" "$tmp/err" "cannot write $tmp/no/such/out.mp4"
expect "an unknown overlay" 2 "$FER" video --input "$tmp/clip.mp4" --overlay hats
expect "--detect-every 0" 2 "$FER" video --input "$tmp/clip.mp4" --detect-every 0
expect "no --input" 2 "$FER" video --output "$tmp/x.mp4"
expect "--show without a display" 1 env -u DISPLAY -u WAYLAND_DISPLAY "$FER" video --input "$tmp/clip.mp4" --show --quiet
contains "says there is no display" "$tmp/err" "needs a display"

# ---- Ctrl-C ---------------------------------------------------------------------------------
ffmpeg -v error -y -stream_loop 9 -i "$tmp/clip.mp4" -c copy "$tmp/long.mp4"
"$FER" video --input "$tmp/long.mp4" --output "$tmp/int.mp4" --jsonl "$tmp/int.jsonl" --quiet \
    >"$tmp/int.json" 2>"$tmp/int.err" &
fer=$!
for _ in $(seq 100); do [[ -s $tmp/int.jsonl ]] && break; sleep 0.1; done
sleep 0.5
kill -INT $fer
wait $fer
rc=$?
check "Ctrl-C ends fer video cleanly (exit $rc)" test $rc -eq 0
check "the summary says it was interrupted" $PY -c "
import json; s=json.load(open('$tmp/int.json')); assert s['interrupted'] and 0 < s['written'] < 360, s"
written=$($PY -c "import json; print(json.load(open('$tmp/int.json'))['written'])")
check "the interrupted MP4 plays, all $written frames" test "$(frames_in "$tmp/int.mp4")" = "$written"

# ---- the live window under Xvfb --------------------------------------------------------------
if command -v Xvfb >/dev/null; then
    display=:$((90 + RANDOM % 400))
    Xvfb "$display" -screen 0 1024x768x24 -nolisten tcp >/dev/null 2>&1 &
    pids+=($!)
    sleep 1
    DISPLAY=$display "$FER" video --input "$tmp/long.mp4" --show --frames 72 --quiet \
        >"$tmp/show.json" 2>"$tmp/show.err" &
    fer=$!
    mkdir -p build/test-artifacts
    shot=build/test-artifacts/video_show.png
    rm -f "$shot"
    for _ in $(seq 40); do # a screenshot once the window shows something
        sleep 0.25
        DISPLAY=$display ffmpeg -v error -y -f x11grab -video_size 1024x768 -i "$display" \
            -frames:v 1 -f rawvideo -pix_fmt gray "$tmp/shot.gray" 2>/dev/null || continue
        if $PY -c "import sys; d=open(sys.argv[1],'rb').read(); sys.exit(0 if sum(b > 40 for b in d[::97]) > 400 else 1)" "$tmp/shot.gray"; then
            DISPLAY=$display ffmpeg -v error -y -f x11grab -video_size 1024x768 -i "$display" \
                -frames:v 1 "$shot" 2>/dev/null
            break
        fi
    done
    wait $fer
    rc=$?
    check "the live window runs under Xvfb (exit $rc)" test $rc -eq 0
    check "a screenshot of it shows the frames ($shot)" test -s "$shot"
    check "the window showed frames, with their delay measured" $PY -c "
import json; s=json.load(open('$tmp/show.json')); assert s['shown'] > 0 and s['latency_mean_ms'] > 0, s"
else
    skip "the live window: Xvfb is not installed"
fi

# ---- the shared clip ------------------------------------------------------------------------
if [[ -f $SHARED_CLIP ]]; then
    expect "the Hamilton clip" 0 "$FER" video --input "$SHARED_CLIP" --jsonl "$tmp/ham.jsonl" --quiet
    check "its 275 frames, and the singer followed for most of them" $PY - "$tmp/ham.jsonl" <<'EOF'
import json, sys, collections
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 275
ids = collections.Counter(f["id"] for l in lines for f in l["faces"])
assert ids.most_common(1)[0][1] >= 200, ids.most_common(3)
EOF
else
    skip "the Hamilton clip: no $SHARED_CLIP"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
