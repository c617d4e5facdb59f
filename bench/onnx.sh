#!/usr/bin/env bash
# onnx.sh - fer's inference against ONNX Runtime on the same networks, in one run: each model
# exported with fer export and run by onnxruntime-node (bench/onnx_ort.mjs), beside
# build/bench_infer on the .fer file; one face (batch 1) and batch 128, on 1 and 2 threads,
# the two peers alternating so that machine noise hits both alike. The networks: the seed
# (models/seed.cfg, 2016's 9 layers; weights from one epoch on random faces, as speed does
# not depend on them), the built-in fast model and the accurate network (models/fer-accurate.
# cfg): its trained model when there is one (ACCURATE=FILE, models/fer-accurate.fer), else
# weights from one epoch on random faces, as for the seed.
# Prints a table with ratios and keeps the JSON lines in bench/out/onnx.jsonl.
#
#   make bench-onnx            (SECONDS_EACH=4 by default; pause training first)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_EACH:-4}
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
    onnx=$tmp/$(basename "$m" .fer).onnx
    build/fer export "$m" "$onnx" 2>/dev/null
    for threads in 1 2; do
        build/bench_infer --model "$m" --threads "$threads" --seconds "$secs" >>"$out"
        node bench/onnx_ort.mjs "$onnx" "$threads" "$secs" >>"$out"
    done
done
grep -m1 -o 'avx512[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ' >"$tmp/isa"
/usr/bin/python3 - "$out" "$(cat "$tmp/isa")" <<'PY'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
fer = {(os.path.basename(r["model"]).replace(".fer", ""), r["threads"]): r for r in rows if r["peer"] == "fer"}
ort = {(os.path.basename(r["model"]).replace(".onnx", ""), r["threads"]): r for r in rows if r["peer"] == "onnxruntime"}
print(f"{'network':<14}{'MFLOP':>7}{'threads':>8}{'fer ms':>9}{'ORT ms':>9}{'ratio':>8}"
      f"{'fer f/s':>10}{'ORT f/s':>10}{'ratio':>8}")
for (name, t), f in fer.items():
    o = ort[(name, t)]
    print(f"{name:<14}{f['mflop']:>7.0f}{t:>8}{f['b1_ms']:>9.2f}{o['b1_ms']:>9.2f}"
          f"{o['b1_ms'] / f['b1_ms']:>7.2f}x{f['b128_faces_s']:>10.0f}{o['b128_faces_s']:>10.0f}"
          f"{f['b128_faces_s'] / o['b128_faces_s']:>7.2f}x")
print("ratio > 1: fer is faster (ORT ms / fer ms; fer faces/s / ORT faces/s). ms: one face, "
      "median; f/s: faces per second at batch 128")
PY
