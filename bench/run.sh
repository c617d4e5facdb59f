#!/usr/bin/env bash
# run.sh - fer's network throughput against PyTorch on the same architectures
# (ARCHS: the seed network and the accurate model's by default), in one run,
# with 1 and 2 threads, alternating the two so that machine noise hits both
# alike. Prints a table with ratios and keeps the raw JSON lines in
# bench/out/nn.jsonl.
#
#   make bench                      (builds build/bench_nn, installs python3-torch)
#   SECONDS_EACH=10 bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_EACH:-10}
mkdir -p bench/out
out=bench/out/nn.jsonl
: >"$out"
archs=${ARCHS:-seed fer-accurate}
for arch in $archs; do
    for threads in 1 2; do
        build/bench_nn --arch "models/$arch.cfg" --threads "$threads" --seconds "$secs" --json \
            >>"$out"
        OMP_NUM_THREADS=$threads /usr/bin/python3 bench/torch_seed.py --arch "$arch" \
            --threads "$threads" --seconds "$secs" --json | grep '^{' >>"$out"
    done
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys
import os
rows = [json.loads(l) for l in open(sys.argv[1])]
for r in rows:  # fer names the cfg file, PyTorch the network
    r["arch"] = os.path.basename(r["arch"]).replace(".cfg", "")
for arch in dict.fromkeys(r["arch"] for r in rows):
    by = {(r["peer"], r["threads"]): r for r in rows if r["arch"] == arch}
    print(f"{arch} network ({by[('pytorch', 1)]['mflop_per_image_forward']:.0f} MFLOP/face forward)")
    print(f"{'metric':<26}{'threads':>8}{'fer':>10}{'pytorch':>10}{'fer/pytorch':>13}")
    for key, name, better in [("train_img_s", "train img/s (batch 128)", "high"),
                              ("infer_b128_img_s", "infer img/s (batch 128)", "high"),
                              ("infer_b1_ms", "one face, ms (batch 1)", "low")]:
        for t in (1, 2):
            f, p = by[("fer", t)][key], by[("pytorch", t)][key]
            ratio = f / p if better == "high" else p / f
            print(f"{name:<26}{t:>8}{f:>10.2f}{p:>10.2f}{ratio:>12.2f}x")
    print()
print("(ratios > 1 mean fer is faster; for latency the ratio is pytorch_ms / fer_ms)")
PY
