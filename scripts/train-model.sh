#!/usr/bin/env bash
# train-model.sh - what `make model` does: (re)trains the built-in model from
# FER2013 in $DATA with the recipe in models/fer-resnet.cfg, resuming from the
# last checkpoint in runs/ when there is one. Training takes hours on 2 cores;
# interrupt it at any time and run it again to continue.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/fer2013}
ARCH=${ARCH:-models/fer-resnet.cfg}
name=$(basename "$ARCH" .cfg)
mkdir -p runs
args=(--train "$DATA/train.csv.gz" --val "$DATA/publictest.csv.gz" --name "$name"
      --out "runs/$name.fer")
if [[ -f runs/$name.fer.ckpt ]]; then
    echo "resuming from runs/$name.fer.ckpt" >&2
    exec nice build/fer train --resume "runs/$name.fer.ckpt" "${args[@]}"
fi
exec nice build/fer train --arch "$ARCH" "${args[@]}"
