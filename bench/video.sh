#!/usr/bin/env bash
# video.sh - fer video's frames per second against a Python loop doing the same steps with
# OpenCV and PyTorch (bench/video_peer.py), in one run: clips of 640x480 and 1280x720 (two
# faces panning, 30 frames per second, made by the ffmpeg tool from tests/data/photos),
# analysis with JSON lines only and with H.264 output, on one core and on two (taskset), the
# two peers alternating so that machine noise hits both alike. Then the delay from a frame's
# arrival to its display in --show mode (under Xvfb when there is no display). Prints a table
# with ratios and keeps the raw JSON lines in bench/out/video.jsonl.
#
#   make bench-video                   (builds build/fer, installs the peers)
#   SECONDS_LONG=10 bash bench/video.sh
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_LONG:-6}
tmp=$(mktemp -d /tmp/fer_bench_video_XXXXXX)
trap 'rm -rf "$tmp"; [[ -n ${xvfb:-} ]] && kill $xvfb 2>/dev/null; true' EXIT
mkdir -p bench/out
out=bench/out/video.jsonl
: >"$out"

# clip W H: two faces panning, $secs seconds at 30 frames per second
clip() {
    local w=$1 h=$2 sw=$(($1 * 9 / 8))
    ffmpeg -v error -y -loop 1 -i tests/data/photos/two_portraits.jpg -filter_complex \
        "[0:v]scale=$sw:-2,crop=$w:'min(ih,$h)':x='($sw-$w)/2*(1+sin(2*PI*t/3))':y=0,pad=$w:$h:0:(oh-ih)/2,format=yuv420p[v]" \
        -map "[v]" -t "$secs" -r 30 -c:v libx264 -preset veryfast "$tmp/${w}x$h.mp4"
}
clip 640 480
clip 1280 720

# run PEER CORES SIZE MODE: one measurement, one JSON line into $out
run() {
    local peer=$1 cores=$2 size=$3 mode=$4 cpus=0
    [[ $cores == 2 ]] && cpus=0,1
    local outputs=(--jsonl "$tmp/out.jsonl")
    [[ $mode == h264 ]] && outputs+=(--output "$tmp/out.mp4")
    local seconds frames
    if [[ $peer == fer ]]; then
        taskset -c $cpus build/fer video --input "$tmp/$size.mp4" "${outputs[@]}" --quiet \
            >"$tmp/summary.json"
    else
        OMP_NUM_THREADS=$cores taskset -c $cpus /usr/bin/python3 bench/video_peer.py \
            --input "$tmp/$size.mp4" "${outputs[@]}" --threads "$cores" >"$tmp/summary.json"
    fi
    # each side's own clock, from opening the input to the last frame written: the
    # interpreter's and the engine's start-up are left out
    seconds=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read())["seconds"])' "$tmp/summary.json")
    frames=$(wc -l <"$tmp/out.jsonl")
    printf '{"peer": "%s", "cores": %s, "size": "%s", "mode": "%s", "frames": %s, "seconds": %s}\n' \
        "$peer" "$cores" "$size" "$mode" "$frames" "$seconds" >>"$out"
}

for size in 640x480 1280x720; do
    for mode in json h264; do
        for cores in 1 2; do
            run fer $cores $size $mode
            run peer $cores $size $mode
        done
    done
done

# --show: the delay from a frame's arrival to its display, the file played at its own speed
display=${DISPLAY:-}
if [[ -z $display ]] && command -v Xvfb >/dev/null; then
    display=:$((500 + RANDOM % 100))
    Xvfb $display -screen 0 1600x1200x24 -nolisten tcp >/dev/null 2>&1 &
    xvfb=$!
    sleep 1
fi
if [[ -n $display ]]; then
    for cores in 1 2; do
        cpus=0
        [[ $cores == 2 ]] && cpus=0,1
        DISPLAY=$display taskset -c $cpus build/fer video --input "$tmp/640x480.mp4" --show --quiet \
            >"$tmp/show.json"
        /usr/bin/python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(json.dumps({'peer':'fer','cores':$cores,'size':'640x480','mode':'show','frames':s['frames'],'shown':s['shown'],'dropped':s['dropped'],'latency_mean_ms':s['latency_mean_ms'],'latency_max_ms':s['latency_max_ms']}))" "$tmp/show.json" >>"$out"
    done
fi

/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {(r["peer"], r["cores"], r["size"], r["mode"]): r for r in rows}
print(f"{'size':<10}{'output':<8}{'cores':>6}{'fer fps':>10}{'peer fps':>10}{'fer/peer':>10}")
for size in ("640x480", "1280x720"):
    for mode in ("json", "h264"):
        for cores in (1, 2):
            f, p = by[("fer", cores, size, mode)], by[("peer", cores, size, mode)]
            ff, pf = f["frames"] / f["seconds"], p["frames"] / p["seconds"]
            print(f"{size:<10}{mode:<8}{cores:>6}{ff:>10.1f}{pf:>10.1f}{ff / pf:>9.2f}x")
for r in rows:
    if r["mode"] == "show":
        print(f"--show, {r['cores']} core(s): {r['shown']} of {r['frames']} frames shown, "
              f"{r['dropped']} dropped; arrival to display {r['latency_mean_ms']:.0f} ms mean, "
              f"{r['latency_max_ms']:.0f} ms max")
print("(fps: frames over each side's own clock from opening the input to the last frame;")
print(" the peer detects with OpenCV's Haar cascade and keeps boxes between detections)")
PY
