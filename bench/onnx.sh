#!/usr/bin/env bash
# onnx.sh - fer's inference against ONNX Runtime on the same networks, in one run: each model
# exported with fer export and run by onnxruntime-node (bench/onnx_ort.mjs), beside
# build/bench_infer on the .fer file; one face (batch 1) and batch 128, on 1 and 2 threads,
# the two peers alternating in several short rounds (which goes first alternates too), so that
# the machine's drift, often 20-40% over a minute here, hits both alike: each ratio is the
# median of the rounds' ratios, each time the median of the rounds' times. The networks: the seed
# (models/seed.cfg, 2016's 9 layers; weights from one epoch on random faces, as speed does
# not depend on them), the built-in fast model and the accurate network (models/fer-accurate.
# cfg): its trained model when there is one (ACCURATE=FILE, models/fer-accurate.fer), else
# weights from one epoch on random faces, as for the seed.
# Prints a table with ratios and keeps the JSON lines in bench/out/onnx.jsonl.
#
#   make bench-onnx     (ROUNDS=5 of SECONDS_EACH=2 by default; pause training first)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_EACH:-2}
rounds=${ROUNDS:-5}
mkdir -p bench/out
out=bench/out/onnx.jsonl
tmp=$(mktemp -d /tmp/fer_bench_onnx_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
: >"$out"
bash scripts/npm-deps.sh onnx

models=()
/usr/bin/python3 tests/onnx/faces.py 256 "$tmp/faces.csv" 1 Training
build/fer train --arch models/seed.cfg --train "$tmp/faces.csv" --epochs 1 --out "$tmp/seed.fer" \
    --no-progress >/dev/null 2>&1
models+=("$tmp/seed.fer" models/fer-resnet.fer)
accurate=${ACCURATE:-models/fer-accurate.fer}
if [[ ! -f $accurate ]]; then
    accurate=$tmp/fer-accurate.fer
    build/fer train --arch models/fer-accurate.cfg --train "$tmp/faces.csv" --epochs 1 \
        --out "$accurate" --no-progress >/dev/null 2>&1
fi
models+=("$accurate")
for m in "${models[@]}"; do
    build/fer export "$m" "$tmp/$(basename "$m" .fer).onnx" 2>/dev/null
done
# each peer's JSON line gains its round, which pairs it with the other's; a failed run stops
# the benchmark (set -e)
record() {
    "$@" >"$tmp/row"
    sed "s/^{/{\"round\":$round,/" "$tmp/row" >>"$out"
}
run_fer() { record build/bench_infer --model "$1" --threads "$2" --seconds "$secs"; }
run_ort() { record node bench/onnx_ort.mjs "$tmp/$(basename "$1" .fer).onnx" "$2" "$secs"; }
for ((round = 1; round <= rounds; round++)); do
    echo "round $round of $rounds" >&2
    for m in "${models[@]}"; do
        for threads in 1 2; do
            if ((round % 2)); then
                run_fer "$m" "$threads"
                run_ort "$m" "$threads"
            else
                run_ort "$m" "$threads"
                run_fer "$m" "$threads"
            fi
        done
    done
done
grep -m1 -o 'avx512[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ' >"$tmp/isa"
/usr/bin/python3 - "$out" "$(cat "$tmp/isa")" <<'PY'
import json, os, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cells = {}  # (network, threads) -> {round: {"fer": row, "onnxruntime": row}}
for r in rows:
    name = os.path.basename(r["model"]).rsplit(".", 1)[0]
    cells.setdefault((name, r["threads"]), {}).setdefault(r["round"], {})[r["peer"]] = r
med = statistics.median
print(f"{'network':<14}{'MFLOP':>7}{'threads':>8}{'fer ms':>9}{'ORT ms':>9}{'ratio':>8}"
      f"{'fer f/s':>10}{'ORT f/s':>10}{'ratio':>8}{'rounds':>8}")
for (name, t), c in cells.items():
    pairs = [(p["fer"], p["onnxruntime"]) for p in c.values() if len(p) == 2]
    f, o = [a for a, _ in pairs], [b for _, b in pairs]
    ms_ratio = med(b["b1_ms"] / a["b1_ms"] for a, b in pairs)
    fs_ratio = med(a["b128_faces_s"] / b["b128_faces_s"] for a, b in pairs)
    print(f"{name:<14}{f[0]['mflop']:>7.0f}{t:>8}{med(a['b1_ms'] for a in f):>9.2f}"
          f"{med(b['b1_ms'] for b in o):>9.2f}{ms_ratio:>7.2f}x"
          f"{med(a['b128_faces_s'] for a in f):>10.0f}{med(b['b128_faces_s'] for b in o):>10.0f}"
          f"{fs_ratio:>7.2f}x{len(pairs):>8}")
print("ratio > 1: fer is faster (ORT ms / fer ms; fer faces/s / ORT faces/s), the median of the "
      "rounds' ratios. ms: one face, median; f/s: faces per second at batch 128")
PY
