#!/usr/bin/env bash
# mpi.sh - data-parallel training under Open MPI's mpirun: 1, 2, 3 and 4 processes give the
# model one process gives (within float tolerance), rank 0 alone writes, a run resumes with
# another process count, a failing rank ends the job, and two simulated hosts (network
# namespaces, scripts/mpi-netns.sh; root only) train the same model over TCP.
#
# $FER (make test: the sanitizer build) runs the checks that exercise the group code under
# ASan; $FER_RELEASE (default build/fer) the others, which compare numbers. Makes its own
# small data. Ends with "N passed, N failed, N skipped".
set -u
FER=${FER:-build/fer}
FER_RELEASE=${FER_RELEASE:-build/fer}
root=$(pwd)
tmp=$(mktemp -d /tmp/fer_mpi_XXXXXX)
export FER_NETNS=fer-t$$
trap 'scripts/mpi-netns.sh down >/dev/null 2>&1; [[ -n ${KEEP:-} ]] || rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"

if ! command -v mpirun >/dev/null; then
    skip "mpirun is not installed (Debian's openmpi-bin; make deps installs it)"
    summary
    exit 0
fi
[[ $(id -u) -eq 0 ]] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Open MPI keeps what MPI_Init allocates; its frames are suppressed, and found only with the
# slow unwinder (Open MPI's libraries have no frame pointers).
grep -hv '^#' tests/lsan.supp tests/mpi/lsan.supp >"$tmp/lsan.supp"
export LSAN_OPTIONS=suppressions=$tmp/lsan.supp ASAN_OPTIONS=fast_unwind_on_malloc=0

# 7 classes, each a pattern of stripes of its own frequency, with noise: learnable, not trivial.
awk 'BEGIN {
    print "emotion,pixels,Usage"; srand(11);
    for (i = 0; i < 518; i++) {
        c = i % 7; line = c ",";
        for (p = 0; p < 2304; p++) {
            v = 128 + 70 * sin((p % 48) * (c + 1) * 0.13 + int(p / 48) * 0.05 * c) + 60 * (rand() - 0.5);
            line = line (p ? " " : "") int(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        print line "," (i < 448 ? "Training" : "PublicTest");
    }
}' >"$tmp/faces.csv"

cat >"$tmp/net.cfg" <<'CFG'
[net]
width=44
height=44
channels=1
[convolutional]
filters=8
size=3
stride=2
pad=1
batch_normalize=1
activation=relu
[convolutional]
filters=16
size=3
stride=2
pad=1
batch_normalize=1
activation=relu
[maxpool]
size=2
[dropout]
probability=0.2
[dense]
output=classes
[softmax]
CFG

# train OUT EPOCHS [fer train options...]: the shared recipe (mixup and dropout on, so that
# every path that crosses the batch is taken).
args() {
    local out=$1 epochs=$2
    shift 2
    echo train --arch "$tmp/net.cfg" --train "$tmp/faces.csv" --val "$tmp/faces.csv" \
        --epochs "$epochs" --batch 64 --lr 0.02 --mixup 0.2 --seed 7 --no-progress \
        --out "$tmp/$out" "$@"
}

# same NAME A B: the two files' weights agree within 1e-5 and their batch-norm statistics
# within 1e-4 (the sums over the group add in another order; the weights are about 1).
same() {
    local line
    if line=$(/usr/bin/python3 tests/mpi/compare_models.py "$2" "$3") &&
        /usr/bin/python3 -c 'import sys; w = sys.argv[1].split(); assert float(w[2]) < 1e-5 and float(w[4]) < 1e-4' "$line"; then
        ok "$1 (${line#* })"
    else
        bad "$1: $line"
    fi
}

expect "one process, no mpirun" 0 "$FER_RELEASE" $(args one.fer 3)
if /usr/bin/python3 -c 'import json, sys; assert json.loads(open(sys.argv[1]).readlines()[-1])["val_acc"] > 0.5' "$tmp/one.fer.log.jsonl"; then
    ok "the recipe learns (validation above 50%, chance is 14%)"
else
    bad "the recipe learns (validation above 50%, chance is 14%)"
fi

expect "mpirun -np 2 (sanitizer build)" 0 mpirun -np 2 "$FER" $(args two.fer 3)
contains "says how the batch is shared" "$tmp/err" "group: 2 processes (2 on this host), each 32 of every 64 images"
contains "each process takes one of the two cores" "$tmp/err" "1 threads"
[[ $(grep -c "^epoch 3/3" "$tmp/err") -eq 1 ]] && ok "rank 0 alone reports" || bad "rank 0 alone reports"
[[ $(wc -l <"$tmp/two.fer.log.jsonl") -eq 3 ]] && ok "the log has each epoch once" ||
    bad "the log has each epoch once"
contains "the log records the processes" "$tmp/two.fer.log.jsonl" '"processes":2'
same "2 processes train the model 1 does" "$tmp/one.fer.ckpt" "$tmp/two.fer.ckpt"

expect "mpirun -np 3: 64 images shared 21-21-22 (sanitizer build)" 0 mpirun --oversubscribe -np 3 "$FER" $(args three.fer 3)
same "3 uneven shares train the same model" "$tmp/one.fer.ckpt" "$tmp/three.fer.ckpt"

expect "mpirun -np 1" 0 mpirun -np 1 "$FER_RELEASE" $(args np1.fer 3)
if /usr/bin/python3 tests/mpi/compare_models.py "$tmp/one.fer.ckpt" "$tmp/np1.fer.ckpt" | grep -q "params 0 buffers 0 "; then
    ok "one process under mpirun is bit-identical to a plain run"
else
    bad "one process under mpirun is bit-identical to a plain run"
fi
expect "mpirun -np 4 --oversubscribe" 0 mpirun --oversubscribe -np 4 "$FER_RELEASE" $(args four.fer 3)
same "4 processes train the same model" "$tmp/one.fer.ckpt" "$tmp/four.fer.ckpt"
if /usr/bin/python3 -c '
import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:])
assert all(abs(x["train_loss"] - y["train_loss"]) < 1e-4 and abs(x["val_acc"] - y["val_acc"]) < 1e-9 for x, y in zip(a, b)), (a, b)' \
    "$tmp/one.fer.log.jsonl" "$tmp/four.fer.log.jsonl"; then
    ok "and the same losses and validation accuracy every epoch"
else
    bad "and the same losses and validation accuracy every epoch"
fi

# A net large enough for several gradient buckets (models/fer-resnet.cfg: 2.7M parameters,
# 3 buckets of at least 4 MiB) after one step. (Over more steps such a net's copies drift
# apart faster: a max-pool whose two largest values differ in the last bits picks the other.)
expect "fer-resnet, one step, one process" 0 "$FER_RELEASE" train --arch models/fer-resnet.cfg \
    --train "$tmp/faces.csv" --limit 64 --batch 64 --epochs 1 --warmup 0 --seed 3 \
    --no-progress --out "$tmp/big1.fer"
expect "and on 2 processes" 0 mpirun -np 2 "$FER_RELEASE" train --arch models/fer-resnet.cfg \
    --train "$tmp/faces.csv" --limit 64 --batch 64 --epochs 1 --warmup 0 --seed 3 \
    --no-progress --out "$tmp/big2.fer"
same "summed in buckets, the same step" "$tmp/big1.fer.ckpt" "$tmp/big2.fer.ckpt"

# Resume with the same or another count: each checkpoint after 2 epochs is resumed twice for a
# third, and both ends agree. (Between a 2-epoch run on one process and on several the weights
# differ more than between 3-epoch ones, about 6e-5 here: a max-pool or ReLU that flips on a
# last-bit difference moves a run by a step. Each check starts from one checkpoint.)
third() { # third CKPT COPY LAUNCHER...: resumes COPY (a copy of CKPT) for epoch 3
    cp "$tmp/$1.fer.ckpt" "$tmp/$2.fer.ckpt"
    local name=$2
    shift 2
    "$@" train --resume "$tmp/$name.fer.ckpt" --train "$tmp/faces.csv" --val "$tmp/faces.csv" \
        --epochs 3 --no-progress --out "$tmp/$name.fer"
}
expect "one process: 2 epochs" 0 "$FER_RELEASE" $(args r1.fer 2)
expect "its checkpoint resumed by one process" 0 third r1 r1a "$FER_RELEASE"
expect "and by 4" 0 third r1 r1b mpirun --oversubscribe -np 4 "$FER_RELEASE"
contains "which resume at epoch 3" "$tmp/err" "epoch 3/3"
same "4 processes resume one process's run" "$tmp/r1a.fer.ckpt" "$tmp/r1b.fer.ckpt"
expect "2 processes: 2 epochs" 0 mpirun -np 2 "$FER_RELEASE" $(args r2.fer 2)
expect "their checkpoint resumed by 2" 0 third r2 r2a mpirun -np 2 "$FER_RELEASE"
expect "and by one process" 0 third r2 r2b "$FER_RELEASE"
same "one process resumes a run of 2" "$tmp/r2a.fer.ckpt" "$tmp/r2b.fer.ckpt"

# A rank that fails ends the job instead of leaving the others waiting.
touch "$tmp/ro" # the output's folder is a file (a read-only folder would not stop root)
expect "rank 0 that cannot write ends the job" 1 timeout 120 mpirun -np 2 "$FER_RELEASE" $(args ro/x.fer 2)
contains "with the reason" "$tmp/err" "ro/x.fer"
contains "and no process is left to be killed" "$tmp/err" "rank 0 failed to save the epoch"
expect "a bad recipe fails on every rank" 2 timeout 120 mpirun -np 2 "$FER_RELEASE" $(args bad.fer 2) --epochs many
contains "with fer's message" "$tmp/err" "invalid value 'many' for --epochs"

# Two hosts: a network namespace each, TCP over a veth pair.
if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null; then
    skip "two simulated hosts need root and ip (iproute2)"
elif ! scripts/mpi-netns.sh up >"$tmp/out" 2>"$tmp/err"; then
    skip "two simulated hosts: no network namespaces here ($(head -1 "$tmp/err"))"
else
    expect "mpirun across two hosts" 0 timeout 300 scripts/mpi-netns.sh mpirun -np 2 "$FER_RELEASE" $(args hosts.fer 3)
    same "two hosts train the model one process does" "$tmp/one.fer.ckpt" "$tmp/hosts.fer.ckpt"
    bytes=$(ip -n "${FER_NETNS}1" -s link show "${FER_NETNS}v1" | awk '/TX:/ {getline; print $1}')
    [[ ${bytes:-0} -gt 100000 ]] && ok "their traffic crossed the veth ($bytes bytes sent)" ||
        bad "their traffic crossed the veth (${bytes:-0} bytes sent)"
    scripts/mpi-netns.sh down
fi
summary
