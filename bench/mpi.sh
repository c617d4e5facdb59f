#!/usr/bin/env bash
# mpi.sh - data-parallel training: images per second against processes, on this machine and
# across two simulated hosts (scripts/mpi-netns.sh: network namespaces joined by a veth pair,
# TCP only; root), with the share of the training time spent communicating (the gradients'
# sums, batch norm's, the step's tally). One epoch of the built-in fast network's recipe
# (models/fer-resnet.cfg) on the first LIMIT FER2013 training faces, no validation.
#
#   bench/mpi.sh               (make bench-mpi; needs ../shared/data/fer2013)
#   LIMIT=2560 RATE=1gbit bench/mpi.sh
#
# Prints a Markdown table for BENCHMARKS.md. Pause other work on the cores first.
set -euo pipefail
cd "$(dirname "$0")/.."
FER=${FER:-build/fer}
ARCH=${ARCH:-models/fer-resnet.cfg}
LIMIT=${LIMIT:-2560}
RATE=${RATE:-1gbit}
data=../shared/data/fer2013/train.csv.gz
[[ -f $data ]] || { echo "bench-mpi: $data is missing (../shared)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/fer_bench_mpi_XXXXXX)
export FER_NETNS=fer-b$$
trap 'scripts/mpi-netns.sh down >/dev/null 2>&1; rm -rf "$tmp"' EXIT
[[ $(id -u) -eq 0 ]] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1

# run NAME THREADS [LAUNCHER...]: one epoch with THREADS threads per process; prints a table
# row from the run's log.
run() {
    local name=$1 threads=$2
    shift 2
    rm -f "$tmp/m.fer"*
    "$@" "$FER" train --arch "$ARCH" --train "$data" --limit "$LIMIT" --epochs 1 --seed 1 \
        --threads "$threads" --no-progress --out "$tmp/m.fer" 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; exit 1; }
    /usr/bin/python3 - "$name" "$tmp/m.fer.log.jsonl" "$LIMIT" <<'PY'
import json, sys
name, log, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
e = json.loads(open(log).readline())
busy = (limit // 128) * 128 / e["img_per_s"]
print(f"| {name} | {e['processes']} | {e['img_per_s']:.1f} | {100 * e['communication_s'] / busy:.1f}% |")
PY
}

echo "| setup | processes | images/s | communicating |"
echo "| --- | ---: | ---: | ---: |"
run "one process, 1 thread" 1
run "one process, 2 threads" 2
run "mpirun -np 2, 1 thread each" 1 mpirun -np 2
run "mpirun -np 4 --oversubscribe, 1 thread each" 1 mpirun --oversubscribe -np 4
if [[ $(id -u) -ne 0 ]] || ! scripts/mpi-netns.sh up; then
    echo "bench-mpi: two simulated hosts need root and network namespaces; skipped" >&2
    exit 0
fi
run "two hosts (namespaces), veth, 1 thread each" 1 scripts/mpi-netns.sh mpirun -np 2
scripts/mpi-netns.sh up "$RATE"
run "two hosts, veth shaped to $RATE, 1 thread each" 1 scripts/mpi-netns.sh mpirun -np 2
