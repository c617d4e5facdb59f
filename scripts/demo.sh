#!/usr/bin/env bash
# demo.sh - what `make demo` does: a short demonstration of training and
# evaluating on FER2013 from $DATA (default ../shared/data/fer2013), then the
# shipped model's evaluation for comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/fer2013}
FER=build/fer
train=$DATA/train.csv.gz
val=$DATA/publictest.csv.gz
if [[ ! -f $train || ! -f $val ]]; then
    cat >&2 <<MSG
fer: FER2013 not found in $DATA (train.csv.gz and publictest.csv.gz).
Point DATA at a folder holding them, e.g.  make run DATA=/path/to/fer2013
MSG
    exit 1
fi
mkdir -p runs
echo "== a short training demonstration: fer-resnet, 1 epoch on 4,000 faces"
$FER train --arch models/fer-resnet.cfg --train "$train" --val "$val" --limit 4000 \
    --val-limit 1000 --epochs 1 --lr 0.05 --warmup 0 --out runs/demo.fer
echo
echo "== evaluating it on all 3,589 PublicTest faces"
$FER eval --model runs/demo.fer --data "$val"
echo
echo "== the shipped model (models/fer-resnet.fer) on the same faces"
$FER eval --model models/fer-resnet.fer --data "$val" --tta flip
echo
echo "Train the full model with: make model   (see models/README.md)"
