#!/usr/bin/env bash
# train-model.sh - what `make model` does: retrains the built-in model from
# FER2013 in $DATA with the recipe in models/fer-resnet.cfg, in the stages
# that made the shipped files (models/README.md tells their story):
#
#   1. 12 epochs from scratch (lr 0.1, cosine)                  -> runs/fer-resnet-s1.fer
#   2. a warm restart from stage 1: 32 epochs (lr 0.05, cosine)   -> runs/fer-resnet.fer
#   3. the 6-class variant: stage 2 fine-tuned with disgust merged into angry
#                                                                -> runs/fer-resnet6.fer
#
# Each stage checkpoints every epoch; interrupt at any time and run it again to
# continue where it stopped. A finished stage leaves runs/<name>.done. Training
# takes hours on 2 cores. Copy the results to models/ and rebuild to ship them.
# DATA (FER2013 train/publictest), ARCH, FER and RUNS (default runs/) can be set
# in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/fer2013}
ARCH=${ARCH:-models/fer-resnet.cfg}
FER=${FER:-build/fer}
RUNS=${RUNS:-runs}
for f in "$DATA/train.csv.gz" "$DATA/publictest.csv.gz"; do
    [[ -f $f ]] || { echo "train-model.sh: $f is missing (set DATA=)" >&2; exit 1; }
done
mkdir -p "$RUNS"

# stage NAME ARGS...: runs `fer train ARGS --out runs/NAME.fer`, or resumes it.
stage() {
    local name=$1
    shift
    local out=$RUNS/$name.fer
    if [[ -f $RUNS/$name.done ]]; then
        echo "== $name: done ($out)" >&2
        return
    fi
    local data=(--train "$DATA/train.csv.gz" --val "$DATA/publictest.csv.gz" --out "$out")
    if [[ -f $out.ckpt ]]; then
        echo "== $name: resuming from $out.ckpt" >&2
        # a resume reads the recipe from the checkpoint but the data from the
        # command line: pass the options that say which classes and labels
        local again=() args=("$@") i
        for ((i = 0; i < ${#args[@]}; i++)); do
            case ${args[i]} in
            --classes | --labels | --ferplus | --ferplus-weight | --teacher | --teacher-weight | \
                --teacher-temperature)
                again+=("${args[i]}" "${args[i + 1]}")
                ;;
            esac
        done
        nice "$FER" train --resume "$out.ckpt" "${data[@]}" "${again[@]}"
    else
        echo "== $name: fer train $*" >&2
        nice "$FER" train "$@" "${data[@]}"
    fi
    touch "$RUNS/$name.done"
}

stage fer-resnet-s1 --arch "$ARCH" --name fer-resnet --epochs 12 --seed 1
stage fer-resnet --init "$RUNS/fer-resnet-s1.fer" --arch "$ARCH" --name fer-resnet \
    --epochs 32 --lr 0.05 --warmup 1 --seed 2
stage fer-resnet6 --init "$RUNS/fer-resnet.fer" --arch "$ARCH" --name fer-resnet6 --classes 6 \
    --epochs 3 --lr 0.005 --warmup 0 --seed 3
echo "trained: $RUNS/fer-resnet.fer (7 classes), $RUNS/fer-resnet6.fer (6 classes)" >&2
