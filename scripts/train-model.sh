#!/usr/bin/env bash
# train-model.sh - what `make model` does: retrains the built-in models from FER2013 in $DATA,
# in the stages that made the shipped files (models/README.md tells their story).
#
# The fast model, the recipe of models/fer-resnet.cfg given on the command line:
#   fer-resnet-deep  40 epochs from scratch (lr 0.1, warm-up 1, cosine),
#          the weights after each of the last 6 kept                  69.8%
#   fer-resnet   its epochs 35-40 averaged, batch norm measured again
#          (fer average --recalibrate): the built-in fast model       70.3%
#   fer-resnet6  the 6-class variant: fer-resnet with its softmax adding
#          disgust's probability into angry's (fer average --merge-disgust) 71.0% (6 classes)
# The accurate model, the recipe in models/fer-accurate.cfg's [train] section:
#   fer-accurate-deep  60 epochs from scratch (seed 61), the last 6 kept
#   fer-accurate   its epochs 55-60 averaged, batch norm measured again
#   fer-accurate6  its 6-class variant
# Then calibrate: every model gets a temperature fitted on PublicTest (fer calibrate): the same
# answers, probabilities that mean what they say.
#
# (PublicTest accuracy with flip test-time augmentation, as measured when the
# shipped files were made.) Each training stage checkpoints every epoch;
# interrupt at any time and run the script again to continue where it stopped.
# A finished step leaves runs/<name>.done. On 2 cores the fast model takes about three hours,
# the accurate one about five. Copy runs/fer-resnet.fer, runs/fer-resnet6.fer,
# runs/fer-accurate.fer and runs/fer-accurate6.fer to models/ and rebuild to ship them.
# MODELS ("fast accurate" by default, or either), DATA (FER2013 train/publictest), FER and RUNS
# (default runs/) can be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/fer2013}
MODELS=${MODELS:-fast accurate}
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

# six NAME: the 6-class variant of runs/NAME.fer, the same network with its softmax adding
# disgust's probability into angry's -> runs/NAME6.fer; skipped when done.
six() {
    local name=$1
    if [[ -f $RUNS/${name}6.done ]]; then
        echo "== ${name}6: done ($RUNS/${name}6.fer)" >&2
        return
    fi
    echo "== ${name}6: fer average --merge-disgust" >&2
    nice "$FER" average --merge-disgust --name "${name}6" --out "$RUNS/${name}6.fer" --no-progress \
        --val "$DATA/publictest.csv.gz" "$RUNS/$name.fer"
    touch "$RUNS/${name}6.done"
}

# calibrate NAME...: fitted again from the raw probabilities each time, so a rerun changes nothing
calibrate() {
    local name
    for name in "$@"; do
        echo "== $name: fer calibrate" >&2
        nice "$FER" calibrate --model "$RUNS/$name.fer" --data "$DATA/publictest.csv.gz" \
            --out "$RUNS/$name.fer"
    done
}

made=()
for model in $MODELS; do
    case $model in
    fast)
        stage fer-resnet-deep --arch models/fer-resnet.cfg --name fer-resnet-deep --epochs 40 \
            --lr 0.1 --warmup 1 --seed 51 --keep-last 6
        mapfile -t last < <(last_epochs fer-resnet-deep 35 40)
        soup fer-resnet "${last[@]}"
        six fer-resnet
        calibrate fer-resnet fer-resnet6
        made+=("$RUNS/fer-resnet.fer" "$RUNS/fer-resnet6.fer")
        ;;
    accurate)
        stage fer-accurate-deep --arch models/fer-accurate.cfg --name fer-accurate-deep --seed 61 \
            --keep-last 6
        mapfile -t last < <(last_epochs fer-accurate-deep 55 60)
        soup fer-accurate "${last[@]}"
        six fer-accurate
        calibrate fer-accurate fer-accurate6
        made+=("$RUNS/fer-accurate.fer" "$RUNS/fer-accurate6.fer")
        ;;
    *)
        echo "train-model.sh: MODELS names fast and accurate, not $model" >&2
        exit 2
        ;;
    esac
done
echo "trained: ${made[*]}" >&2
