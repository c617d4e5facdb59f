#!/usr/bin/env bash
# train-model.sh - what `make model` does: retrains the built-in model from
# FER2013 in $DATA with the recipe in models/fer-resnet.cfg, in the stages
# that made the shipped files (models/README.md tells their story):
#
#   fer-resnet-deep  40 epochs from scratch (lr 0.1, warm-up 1, cosine),
#          the weights after each of the last 6 kept                  69.8%
#   fer-resnet   its epochs 35-40 averaged, batch norm measured again
#          (fer average --recalibrate): the built-in model             70.3%
#   fer-resnet6  the 6-class variant: fer-resnet with its softmax adding
#          disgust's probability into angry's (fer average --merge-disgust) 71.0% (6 classes)
#   calibrate    both get a temperature fitted on PublicTest (fer calibrate):
#          the same answers, probabilities that mean what they say
#
# (PublicTest accuracy with flip test-time augmentation, as measured when the
# shipped files were made.) Each training stage checkpoints every epoch;
# interrupt at any time and run the script again to continue where it stopped.
# A finished step leaves runs/<name>.done. Training takes about three hours on
# 2 cores. Copy runs/fer-resnet.fer and runs/fer-resnet6.fer to models/ and
# rebuild to ship them. DATA (FER2013 train/publictest), ARCH, FER and RUNS
# (default runs/) can be set in the environment.
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

# soup NAME MODELS...: `fer average` of MODELS -> runs/NAME.fer, batch norm measured again on
# 8,000 training faces; skipped when done.
soup() {
    local name=$1
    shift
    if [[ -f $RUNS/$name.done ]]; then
        echo "== $name: done ($RUNS/$name.fer)" >&2
        return
    fi
    echo "== $name: fer average $*" >&2
    nice "$FER" average --out "$RUNS/$name.fer" --name "$name" --recalibrate "$DATA/train.csv.gz" \
        --recalibrate-rows 8000 --val "$DATA/publictest.csv.gz" "$@"
    touch "$RUNS/$name.done"
}

# the last N epochs a stage kept with --keep-last: runs/NAME.epochE.fer
last_epochs() {
    local name=$1 first=$2 last=$3 e
    for ((e = first; e <= last; e++)); do
        printf '%s\n' "$RUNS/$name.epoch$e.fer"
    done
}

stage fer-resnet-deep --arch "$ARCH" --name fer-resnet-deep --epochs 40 --lr 0.1 --warmup 1 --seed 51 \
    --keep-last 6
mapfile -t last < <(last_epochs fer-resnet-deep 35 40)
soup fer-resnet "${last[@]}"
# the 6-class variant: the same network, its softmax adding disgust's probability into angry's
if [[ -f $RUNS/fer-resnet6.done ]]; then
    echo "== fer-resnet6: done ($RUNS/fer-resnet6.fer)" >&2
else
    echo "== fer-resnet6: fer average --merge-disgust" >&2
    nice "$FER" average --merge-disgust --name fer-resnet6 --out "$RUNS/fer-resnet6.fer" --no-progress \
        --val "$DATA/publictest.csv.gz" "$RUNS/fer-resnet.fer"
    touch "$RUNS/fer-resnet6.done"
fi
# fitted again from the raw probabilities each time, so a rerun changes nothing
for name in fer-resnet fer-resnet6; do
    echo "== $name: fer calibrate" >&2
    nice "$FER" calibrate --model "$RUNS/$name.fer" --data "$DATA/publictest.csv.gz" \
        --out "$RUNS/$name.fer"
done
echo "trained: $RUNS/fer-resnet.fer (7 classes), $RUNS/fer-resnet6.fer (6 classes)" >&2
