#!/usr/bin/env bash
# cli.sh - the fer command line end to end: prepare, train, resume, eval (text
# and JSON), and the errors users see for bad input. Uses $FER (default
# build/fer) and makes its own small data; ends with "N passed, N failed".
set -u
FER=${FER:-build/fer}
tmp=$(mktemp -d /tmp/fer_cli_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"

# A small FER2013-format file: 3 usages, labels 0..6, pixels from a formula.
awk 'BEGIN {
    print "emotion,pixels,Usage";
    split("Training PublicTest PrivateTest", use, " ");
    for (i = 0; i < 60; i++) {
        line = (i % 7) ",";
        for (p = 0; p < 2304; p++) line = line (p ? " " : "") ((p * 7 + i * 13 + (i % 7) * 40) % 256);
        print line "," use[i < 40 ? 1 : (i < 50 ? 2 : 3)];
    }
}' >"$tmp/all.csv"
gzip -k "$tmp/all.csv"

expect "version" 0 "$FER" version
expect "unknown command" 2 "$FER" frobnicate
contains "unknown command says so" "$tmp/err" "unknown command 'frobnicate'"
expect "info on the built-in model" 0 "$FER" info
contains "info lists the classes" "$tmp/out" "classes: angry,disgust,fear,happy,sad,surprise,neutral"
contains "info gives the cost" "$tmp/out" "mflop_per_face: "
contains "info lists the built-in models" "$tmp/out" "built-in models (--model NAME):"
contains "the fast model is the default" "$tmp/out" "fast      (the default)"
contains "the accurate model is listed" "$tmp/out" "accurate  the fast model's network"
expect "info on the fast model by name" 0 "$FER" info fast
contains "and names it" "$tmp/out" "model: fast (built in, the default)"
expect "info on the accurate model by name" 0 "$FER" info accurate
contains "and names it" "$tmp/out" "model: accurate (built in)"
contains "which is the accurate network" "$tmp/out" "mflop_per_face: 648.0"
expect "info on a name that is no built-in model nor file" 1 "$FER" info slow
contains "says the file is missing" "$tmp/err" "slow"
expect "export the fast model by name" 0 "$FER" export fast "$tmp/fast.onnx"
[[ -s $tmp/fast.onnx ]] && ok "export by name wrote the file" || bad "export by name wrote the file"
expect "average takes a built-in model by name: accurate into 6 classes" 0 "$FER" average \
    --merge-disgust --no-progress --out "$tmp/accurate6.fer" accurate
expect "info on it" 0 "$FER" info "$tmp/accurate6.fer"
contains "it has the 6 classes" "$tmp/out" "classes: angry,fear,happy,sad,surprise,neutral"
contains "and the accurate network" "$tmp/out" "mflop_per_face: 648.0"
expect "average of a name that is no built-in model nor file" 1 "$FER" average --out "$tmp/x.fer" slow
contains "names what it could not read" "$tmp/err" "slow"
[[ -e $tmp/x.fer ]] && bad "a failed average left a file" || ok "a failed average leaves no file"
expect "info --json --layers" 0 "$FER" info --json --layers
if /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["meta"]["name"] and d["parameters"] > 0 and "conv" in d["layers"]; b = d["builtin_models"]; assert b[0]["name"] == "fast" and b[0]["default"] and b[0]["parameters"] == d["parameters"], b; assert [m["name"] for m in b] == ["fast", "accurate"] and not b[1]["default"] and b[1]["parameters"] > 2 * b[0]["parameters"] and b[1]["val_accuracy"] > b[0]["val_accuracy"], b' "$tmp/out"; then
    ok "info --json parses and has name, parameters, layers and the built-in models"
else
    bad "info --json parses and has name, parameters, layers and the built-in models"
fi
if /usr/bin/python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))["meta"]
assert type(m["epochs"]) is int and type(m["seed"]) is int, m
assert type(m["val_accuracy"]) is float and abs(m["val_accuracy"] - 0.70326) < 1e-9, m
assert type(m["mflop_per_face"]) is float and m["mflop_per_face"] == 288.4, m
assert type(m["input_mean"]) is float and repr(m["input_mean"]) == "0.507741928", m
assert type(m["fer_version"]) is str and type(m["train_sha256"]) is str, m' "$tmp/out"; then
    ok "info --json writes numbers as numbers, strings as strings"
else
    bad "info --json writes numbers as numbers, strings as strings"
fi
expect "info on a missing file" 1 "$FER" info "$tmp/nothing.fer"
contains "names the file" "$tmp/err" "nothing.fer"
expect "train --help" 0 "$FER" train --help
contains "help lists --resume, on stdout" "$tmp/out" "--resume"
"$FER" predict --help | grep -q -- "--annotate" && ok "predict --help | grep finds --annotate" ||
    bad "predict --help | grep finds --annotate"
expect "fer help" 0 "$FER" help
contains "fer help lists the commands on stdout" "$tmp/out" "predict"
expect "fer with no command is a usage error" 2 "$FER"
contains "and lists the commands on stderr" "$tmp/err" "predict"

expect "prepare 7 classes" 0 "$FER" prepare --input "$tmp/all.csv.gz" --out "$tmp/p7"
contains "prepare counts training" "$tmp/out" "40 faces (Training)"
[[ -f $tmp/p7/training.csv && -f $tmp/p7/publictest.csv && -f $tmp/p7/privatetest.csv ]] &&
    ok "prepare writes one file per usage" || bad "prepare writes one file per usage"
[[ $(($(wc -l <"$tmp/p7/publictest.csv") - 1)) -eq 10 ]] && ok "publictest has 10 rows" ||
    bad "publictest has 10 rows"
expect "prepare 6 classes, gzip" 0 "$FER" prepare --input "$tmp/all.csv" --out "$tmp/p6" --classes 6 --gzip
if zcat "$tmp/p6/training.csv.gz" | tail -n +2 | cut -d, -f1 | sort -u | tr '\n' ' ' | grep -q '^0 1 2 3 4 5 $'; then
    ok "6-class labels are 0..5"
else bad "6-class labels are 0..5"; fi

cat >"$tmp/tiny.cfg" <<'CFG'
[net]
width=48
height=48
channels=1
[convolutional]
filters=4
size=4
stride=4
pad=0
batch_normalize=1
activation=relu
[maxpool]
size=2
[dense]
output=classes
[softmax]
CFG
expect "train" 0 "$FER" train --arch "$tmp/tiny.cfg" --train "$tmp/p7/training.csv" \
    --val "$tmp/p7/publictest.csv" --epochs 2 --batch 8 --out "$tmp/m.fer" --no-progress --name tiny-net
[[ -f $tmp/m.fer && -f $tmp/m.fer.ckpt && -f $tmp/m.fer.log.jsonl ]] &&
    ok "train writes model, checkpoint and log" || bad "train writes model, checkpoint and log"
contains "train reports epochs" "$tmp/err" "epoch 2/2"
expect "info on a checkpoint" 0 "$FER" info "$tmp/m.fer.ckpt"
contains "shows where the run stands" "$tmp/out" "  epoch: 2"
expect "resume" 0 "$FER" train --resume "$tmp/m.fer.ckpt" --train "$tmp/p7/training.csv" \
    --val "$tmp/p7/publictest.csv" --epochs 3 --out "$tmp/m.fer" --no-progress
contains "resume continues at epoch 3" "$tmp/err" "epoch 3/3"
[[ $(wc -l <"$tmp/m.fer.log.jsonl") -eq 3 ]] && ok "log has 3 epochs" || bad "log has 3 epochs"
expect "info after the resume" 0 "$FER" info "$tmp/m.fer.ckpt"
contains "keeps the command that started the run" "$tmp/out" "command: $FER train --arch $tmp/tiny.cfg"
contains "and the one that resumed it" "$tmp/out" "resume_command: $FER train --resume $tmp/m.fer.ckpt"
grep -qx "name: tiny-net" "$tmp/out" && ok "and the name it was given" || bad "and the name it was given"

expect "eval" 0 "$FER" eval --model "$tmp/m.fer" --data "$tmp/p7/publictest.csv"
contains "eval prints accuracy" "$tmp/out" "accuracy"
contains "eval prints confusion" "$tmp/out" "confusion matrix"
expect "eval --json" 0 "$FER" eval --model "$tmp/m.fer" --data "$tmp/all.csv.gz" --json --tta flip
for key in '"accuracy":' '"per_class":' '"confusion":' '"macro_f1":' '"total":10'; do
    contains "json has $key" "$tmp/out" "$key"
done
# the original fer2013.csv mixes usages: scoring defaults to PublicTest and says so
contains "eval of a mixed file says which rows it scored" "$tmp/err" \
    "all.csv.gz mixes Training (40), PublicTest (10) and PrivateTest (10) rows: using the 10 PublicTest rows"
expect "eval --usage all" 0 "$FER" eval --model "$tmp/m.fer" --data "$tmp/all.csv.gz" --usage all --json
contains "scores all 60 faces" "$tmp/out" '"total":60'
expect "eval --usage privatetest" 0 "$FER" eval --model "$tmp/m.fer" --data "$tmp/all.csv" --usage privatetest
contains "names the rows it scored" "$tmp/out" "data      $tmp/all.csv, its PrivateTest rows"
contains "and counts them" "$tmp/out" "(10 faces)"
expect "eval --usage of a file without those rows" 1 "$FER" eval --model "$tmp/m.fer" \
    --data "$tmp/p7/publictest.csv" --usage Training
contains "says what the file holds" "$tmp/err" "publictest.csv has no Training rows (it holds PublicTest (10) rows)"
expect "eval --usage nonsense" 2 "$FER" eval --model "$tmp/m.fer" --data "$tmp/all.csv" --usage test
contains "lists the usages" "$tmp/err" "--usage must be Training, PublicTest, PrivateTest or all, not 'test'"
expect "eval 6-class model on 7-class data" 0 "$FER" train --arch "$tmp/tiny.cfg" --classes 6 \
    --train "$tmp/all.csv" --epochs 1 --batch 8 --out "$tmp/m6.fer" --no-progress
contains "training on a mixed file uses its Training rows" "$tmp/err" "using the 40 Training rows"
expect "train and validate on one mixed file, with --limit" 0 "$FER" train --arch "$tmp/tiny.cfg" \
    --train "$tmp/all.csv" --val "$tmp/all.csv" --limit 25 --epochs 1 --batch 8 \
    --out "$tmp/mixed.fer" --no-progress
contains "limits the Training rows" "$tmp/err" "all.csv: of its 40 Training rows, the first 25 (--limit)"
contains "validates on the PublicTest rows" "$tmp/err" "using the 10 PublicTest rows"
expect "info on that model" 0 "$FER" info "$tmp/mixed.fer"
contains "records the training rows" "$tmp/out" "train_usage: Training"
contains "and how many" "$tmp/out" "train_rows: 25"
contains "and the validation rows" "$tmp/out" "val_usage: PublicTest"
# a copy of all.csv whose last PublicTest row repeats the first Training face
{ cat "$tmp/all.csv"; sed -n 2p "$tmp/all.csv" | sed 's/,Training$/,PublicTest/'; } >"$tmp/dup.csv"
expect "exclude-overlap against a mixed file" 0 "$FER" eval --model "$tmp/m.fer" --data "$tmp/dup.csv" \
    --exclude-overlap "$tmp/dup.csv"
contains "compares with its Training rows only" "$tmp/out" "excluded  1 faces that also occur in"
contains "and scores the other 10" "$tmp/out" "(10 faces)"
expect "eval merges disgust" 0 "$FER" eval --model "$tmp/m6.fer" --data "$tmp/all.csv" --json
contains "6 classes in confusion" "$tmp/out" '"classes":["angry","fear","happy","sad","surprise","neutral"]'
expect "resuming a 6-class checkpoint without --classes 6 fails" 1 "$FER" train --resume "$tmp/m6.fer.ckpt" \
    --train "$tmp/all.csv" --epochs 2 --out "$tmp/m6.fer" --no-progress
contains "and says to pass --classes 6" "$tmp/err" "pass --classes 6"

expect "eval --merge-disgust scores a 7-class model on 6 classes" 0 "$FER" eval --model "$tmp/m.fer" \
    --data "$tmp/all.csv" --merge-disgust --json
contains "with the 6 class names" "$tmp/out" '"classes":["angry","fear","happy","sad","surprise","neutral"]'
contains "and the 10 PublicTest faces" "$tmp/out" '"total":10'
expect "--merge-disgust on a 6-class model fails" 1 "$FER" eval --model "$tmp/m6.fer" \
    --data "$tmp/all.csv" --merge-disgust
contains "and says what it needs" "$tmp/err" "needs a 7-class model"
expect "--premerged on 7-class labels is refused" 1 "$FER" eval --model "$tmp/m6.fer" \
    --data "$tmp/all.csv" --premerged
contains "and says why" "$tmp/err" "so its labels are the 7 classes"
expect "eval --probabilities writes each face's" 0 "$FER" eval --model "$tmp/m6.fer" \
    --data "$tmp/all.csv" --tta none --probabilities "$tmp/probs.csv"
contains "a header of the 6 classes" "$tmp/probs.csv" "label,angry,fear,happy,sad,surprise,neutral"
if [[ $(wc -l <"$tmp/probs.csv") -eq 11 ]] &&
    awk -F, 'NR > 1 { s = 0; for (i = 2; i <= NF; i++) s += $i; if (s < 0.9999 || s > 1.0001) exit 1 }' \
        "$tmp/probs.csv"; then
    ok "one row per face, its probabilities summing to 1"
else
    bad "eval --probabilities rows: $(head -3 "$tmp/probs.csv")"
fi
expect "--probabilities to a folder that does not exist fails" 1 "$FER" eval --model "$tmp/m6.fer" \
    --data "$tmp/all.csv" --probabilities /nonexistent-dir/p.csv

# ensembles (comma-separated models) and distillation (--teacher)
expect "train a second model" 0 "$FER" train --arch "$tmp/tiny.cfg" --train "$tmp/p7/training.csv" \
    --epochs 2 --batch 8 --seed 9 --out "$tmp/m2.fer" --no-progress
expect "eval an ensemble" 0 "$FER" eval --model "$tmp/m.fer,$tmp/m2.fer" --data "$tmp/all.csv"
contains "names each member with its accuracy" "$tmp/out" "m2.fer (fer-model): "
contains "and says it averaged them" "$tmp/out" "the mean of 2 models"
expect "an ensemble of 7 and 6 classes fails" 1 "$FER" eval --model "$tmp/m.fer,$tmp/m6.fer" \
    --data "$tmp/all.csv"
contains "and says why" "$tmp/err" "6 classes"
expect "an ensemble with a missing member fails" 1 "$FER" eval --model "$tmp/m.fer,$tmp/none.fer" \
    --data "$tmp/all.csv"
expect "distil an ensemble" 0 "$FER" train --init "$tmp/m.fer" --teacher "$tmp/m.fer,$tmp/m2.fer" \
    --teacher-weight 0.7 --train "$tmp/p7/training.csv" --epochs 1 --batch 8 --out "$tmp/kd.fer" \
    --no-progress
contains "reports the teacher" "$tmp/err" "teacher: 2 models, agrees with"
contains "and keeps its predictions" "$tmp/err" "kept for a resume in $tmp/kd.fer.teacher"
expect "info shows the teacher" 0 "$FER" info "$tmp/kd.fer"
contains "with its weight" "$tmp/out" "teacher_weight: 0.7"
expect "a resume without the teacher fails" 1 "$FER" train --resume "$tmp/kd.fer.ckpt" \
    --train "$tmp/p7/training.csv" --epochs 2 --out "$tmp/kd.fer" --no-progress
contains "and says to give it" "$tmp/err" "--teacher"
expect "a resume with the teacher" 0 "$FER" train --resume "$tmp/kd.fer.ckpt" \
    --teacher "$tmp/m.fer,$tmp/m2.fer" --teacher-weight 0.7 --train "$tmp/p7/training.csv" \
    --epochs 2 --out "$tmp/kd.fer" --no-progress
contains "reads the teacher's kept predictions" "$tmp/err" "teacher: predictions read from"
expect "--teacher-weight out of range" 2 "$FER" train --init "$tmp/m.fer" --teacher "$tmp/m.fer" \
    --teacher-weight 1.5 --train "$tmp/p7/training.csv" --out "$tmp/kd2.fer"

# calibration: a fitted temperature changes the probabilities, not the answers
expect "calibrate a model" 0 "$FER" calibrate --model "$tmp/m.fer" --data "$tmp/all.csv" \
    --out "$tmp/cal.fer" --no-progress
contains "says what it fitted" "$tmp/out" "fitted on 10 faces (tta flip): log-loss"
expect "info shows the temperature" 0 "$FER" info "$tmp/cal.fer"
contains "and where it was fitted" "$tmp/out" "temperature_fitted_on: $tmp/all.csv, its PublicTest rows (10 faces"
expect "eval the raw model" 0 "$FER" eval --model "$tmp/m.fer" --data "$tmp/all.csv" --json
grep -o '"accuracy":[0-9.]*' "$tmp/out" >"$tmp/acc_raw"
expect "eval the calibrated model" 0 "$FER" eval --model "$tmp/cal.fer" --data "$tmp/all.csv" --json
grep -o '"accuracy":[0-9.]*' "$tmp/out" >"$tmp/acc_cal"
if [[ -s $tmp/acc_raw ]] && cmp -s "$tmp/acc_raw" "$tmp/acc_cal"; then ok "same accuracy"; else
    bad "calibration changed the accuracy: $(cat "$tmp/acc_raw") vs $(cat "$tmp/acc_cal")"
fi
expect "average a calibrated model" 0 "$FER" average --out "$tmp/avgcal.fer" "$tmp/cal.fer" \
    --no-progress
expect "info of the average" 0 "$FER" info "$tmp/avgcal.fer"
if grep -q "^temperature:" "$tmp/out"; then bad "the average kept the temperature"; else
    ok "the average drops the member's temperature"
fi
expect "calibrating a checkpoint fails" 1 "$FER" calibrate --model "$tmp/m.fer.ckpt" \
    --data "$tmp/all.csv" --out "$tmp/cal3.fer"
contains "and says to use the model" "$tmp/err" "is a training checkpoint"
expect "calibrate without --out" 2 "$FER" calibrate --model "$tmp/m.fer" --data "$tmp/all.csv"
expect "calibrate on a missing file" 1 "$FER" calibrate --model "$tmp/m.fer" \
    --data "$tmp/none.csv" --out "$tmp/cal2.fer"
contains "names the file" "$tmp/err" "none.csv"

expect "fine-tune 7 -> 6 classes with --init" 0 "$FER" train --init "$tmp/m.fer" --classes 6 \
    --train "$tmp/all.csv" --epochs 1 --batch 8 --out "$tmp/tuned6.fer" --no-progress
contains "--init keeps the body" "$tmp/err" "7 -> 6 classes; kept"
expect "eval the tuned model" 0 "$FER" eval --model "$tmp/tuned6.fer" --data "$tmp/all.csv" --json
contains "tuned model has 6 classes" "$tmp/out" '"classes":["angry","fear","happy","sad","surprise","neutral"]'

# make model's stages (tiny data, tiny net): each stage finishes, and a rerun resumes
mkdir -p "$tmp/mm"
gzip -c "$tmp/p7/training.csv" >"$tmp/mm/train.csv.gz"
gzip -c "$tmp/p7/publictest.csv" >"$tmp/mm/publictest.csv.gz"
mkdir -p "$tmp/ferplus"
awk 'BEGIN {
    print "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF";
    split("Training PublicTest PrivateTest", use, " ");
    for (i = 0; i < 60; i++)
        printf "%s,fer%07d.png,%d,%d,%d,%d,%d,%d,%d,0,%d,0\n", use[i < 40 ? 1 : (i < 50 ? 2 : 3)],
            i, i % 3, i % 4, i % 5, 1, i % 2, i % 7 == 1, 2, i % 6 == 0;
}' >"$tmp/ferplus/fer2013new.csv"
expect "make model's script runs its stages" 0 env DATA="$tmp/mm" ARCH="$tmp/tiny.cfg" \
    RUNS="$tmp/mm/runs" FER="$FER" bash scripts/train-model.sh
for f in fer-resnet-deep fer-resnet fer-resnet6; do
    [[ -f $tmp/mm/runs/$f.fer && -f $tmp/mm/runs/$f.done ]] && ok "stage $f done" || bad "stage $f done"
done
expect "the 6-class stage has 6 classes" 0 "$FER" eval --model "$tmp/mm/runs/fer-resnet6.fer" \
    --data "$tmp/p7/publictest.csv" --json
contains "six classes" "$tmp/out" '"classes":["angry","fear","happy","sad","surprise","neutral"]'
rm "$tmp/mm/runs/fer-resnet-deep.done"
expect "a rerun resumes the unfinished stage" 0 env DATA="$tmp/mm" ARCH="$tmp/tiny.cfg" \
    RUNS="$tmp/mm/runs" FER="$FER" bash scripts/train-model.sh
contains "and says so" "$tmp/err" "fer-resnet-deep: resuming"
contains "and skips the finished ones" "$tmp/err" "fer-resnet6: done"
expect "the training stage ran the recipe's 40 epochs" 0 "$FER" info "$tmp/mm/runs/fer-resnet-deep.fer"
contains "forty of them" "$tmp/out" "epochs: 40"
expect "the built-in model's recipe ends in a soup" 0 "$FER" info "$tmp/mm/runs/fer-resnet.fer"
contains "of the last 6 epochs" "$tmp/out" "averaged_from: 6: $tmp/mm/runs/fer-resnet-deep.epoch35.fer"
contains "with batch norm measured again" "$tmp/out" "bn_recalibrated_on: $tmp/mm/train.csv.gz (40 rows)"
grep -qx "name: fer-resnet" "$tmp/out" && ok "named after its stage" || bad "named after its stage"
contains "and is calibrated" "$tmp/out" "temperature_fitted_on: $tmp/mm/publictest.csv.gz"
expect "so is the 6-class model" 0 "$FER" info "$tmp/mm/runs/fer-resnet6.fer"
contains "made by merging" "$tmp/out" "merged: disgust into angry"
grep -qx "name: fer-resnet6" "$tmp/out" && ok "and named for its classes" || bad "and named for its classes"
contains "on 6 classes" "$tmp/out" "temperature_fitted_on: $tmp/mm/publictest.csv.gz"

# FER2013 labels blended with FER+ votes: recorded in the model, required again on resume
expect "train on blended labels" 0 "$FER" train --arch "$tmp/tiny.cfg" --no-progress \
    --train "$tmp/mm/train.csv.gz" --labels fer2013+ferplus --ferplus "$tmp/ferplus/fer2013new.csv" \
    --ferplus-weight 0.4 --epochs 1 --batch 8 --out "$tmp/blend.fer"
expect "info on the blended model" 0 "$FER" info "$tmp/blend.fer"
contains "records its labels" "$tmp/out" "labels: fer2013+ferplus"
contains "and the FER+ file's hash" "$tmp/out" "ferplus_sha256: "
expect "resuming blended labels as plain ones fails" 1 "$FER" train --no-progress \
    --resume "$tmp/blend.fer.ckpt" --train "$tmp/mm/train.csv.gz" --epochs 2 --out "$tmp/blend.fer"
contains "and names the labels" "$tmp/err" "fer2013+ferplus 0.4"
expect "FER+ labels on a mixed file" 0 "$FER" eval --model "$tmp/m.fer" --data "$tmp/all.csv" \
    --labels ferplus-majority --ferplus "$tmp/ferplus/fer2013new.csv" --json
contains "are aligned on its PublicTest rows" "$tmp/err" "using the 10 PublicTest rows"
expect "the same on the PublicTest file" 0 "$FER" eval --model "$tmp/m.fer" --data "$tmp/p7/publictest.csv" \
    --labels ferplus-majority --ferplus "$tmp/ferplus/fer2013new.csv" --json
cp "$tmp/out" "$tmp/ferplus_pub.json"
expect "and again on the mixed file" 0 "$FER" eval --model "$tmp/m.fer" --data "$tmp/all.csv" \
    --labels ferplus-majority --ferplus "$tmp/ferplus/fer2013new.csv" --json
cmp -s "$tmp/out" "$tmp/ferplus_pub.json" && ok "gives the same labels and scores" ||
    bad "FER+ labels differ between the mixed file and its PublicTest rows"
expect "resuming with the same labels works" 0 "$FER" train --no-progress \
    --resume "$tmp/blend.fer.ckpt" --train "$tmp/mm/train.csv.gz" --epochs 2 --out "$tmp/blend.fer" \
    --labels fer2013+ferplus --ferplus "$tmp/ferplus/fer2013new.csv" --ferplus-weight 0.4
expect "blended labels need --ferplus" 1 "$FER" train --arch "$tmp/tiny.cfg" --no-progress \
    --train "$tmp/p7/training.csv" --labels fer2013+ferplus --out "$tmp/x.fer"
contains "and say so" "$tmp/err" "needs --ferplus"
expect "a FER+ weight above 1 is refused" 2 "$FER" train --arch "$tmp/tiny.cfg" \
    --train "$tmp/p7/training.csv" --labels fer2013+ferplus --ferplus-weight 1.5 --out "$tmp/x.fer"
expect "make model without data fails" 1 env DATA="$tmp/nowhere" bash scripts/train-model.sh
contains "and names the file" "$tmp/err" "nowhere/train.csv.gz is missing"

expect "report" 0 "$FER" report --model "$tmp/m.fer" --data "$tmp/p7/publictest.csv" \
    --out "$tmp/rep" --log "$tmp/m.fer.log.jsonl" --no-progress
figures="distribution.png confusion.png classes.png calibration.png mistakes.png curves.png faces.png featuremaps.png"
for f in $figures report.md report.json index.html; do
    [[ -s $tmp/rep/$f ]] && ok "report wrote $f" || bad "report wrote $f"
done
for f in $figures; do
    contains "index.html shows $f" "$tmp/rep/index.html" "<img src=\"$f\""
done
contains "report.json has the accuracy" "$tmp/rep/report.json" '"accuracy":'
contains "report.md shows the figures" "$tmp/rep/report.md" "![Confusion matrix](confusion.png)"
# the page's and report.json's numbers are fer eval's on the same data
"$FER" eval --model "$tmp/m.fer" --data "$tmp/p7/publictest.csv" --json --tta flip >"$tmp/eval.json" 2>/dev/null
if /usr/bin/python3 - "$tmp/rep" "$tmp/eval.json" <<'PY'
import json, re, sys
rep = json.load(open(sys.argv[1] + "/report.json"))
ev = json.load(open(sys.argv[2]))
html = open(sys.argv[1] + "/index.html").read()
m = rep["metrics"]
assert m["accuracy"] == ev["accuracy"] and m["macro_f1"] == ev["macro_f1"], (m, ev)
assert m["confusion"] == ev["confusion"]
assert re.search(r'id="accuracy">%.2f%%<' % (100 * ev["accuracy"]), html)
assert re.search(r'id="macro_f1">%.4f<' % ev["macro_f1"], html)
for c, v in ev["per_class"].items():
    assert "<td>%s</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%d</td>" % (
        c, v["precision"], v["recall"], v["f1"], v["support"]) in html, c
assert all(isinstance(rep[k], (int, float)) for k in ("ece", "excluded"))
assert len(repr(rep["ece"])) <= 10, rep["ece"]  # six digits, not 0.67576499999999995
PY
then ok "index.html and report.json hold fer eval's numbers"; else bad "index.html and report.json hold fer eval's numbers"; fi
expect "report as SVG at another seed, maps of a photo" 0 "$FER" report --model "$tmp/m.fer" \
    --data "$tmp/p7/publictest.csv" --out "$tmp/rep_svg" --format svg --seed 9 --no-progress \
    --train "$tmp/p7/training.csv" --image tests/data/photos/grace_hopper.jpg
for f in distribution confusion faces featuremaps; do
    contains "report --format svg wrote $f.svg" "$tmp/rep_svg/$f.svg" "<svg"
done
contains "the maps are of the photo" "$tmp/rep_svg/report.json" '"feature_maps_of": "grace_hopper.jpg: '
contains "  and the SVG holds the face" "$tmp/rep_svg/featuremaps.svg" "<image"
expect "report --format gif" 2 "$FER" report --model "$tmp/m.fer" --data "$tmp/p7/publictest.csv" \
    --format gif
contains "is refused" "$tmp/err" "--format must be png or svg"
expect "report --face past the data" 1 "$FER" report --model "$tmp/m.fer" --no-progress \
    --data "$tmp/p7/publictest.csv" --out "$tmp/rep3" --face 100000
contains "says how many faces" "$tmp/err" "--face 100000: the data has"
expect "report --image without a face" 1 "$FER" report --model "$tmp/m.fer" --no-progress \
    --data "$tmp/p7/publictest.csv" --out "$tmp/rep3" --image tests/data/photos/coffee.jpg
contains "says so" "$tmp/err" "no face found"
expect "report on a mixed file" 0 "$FER" report --model "$tmp/m.fer" --data "$tmp/all.csv" \
    --out "$tmp/rep_mixed" --usage PrivateTest --no-progress
contains "report.md names the rows" "$tmp/rep_mixed/report.md" "| data | \`$tmp/all.csv\`, its PrivateTest rows |"
contains "report.json too" "$tmp/rep_mixed/report.json" '"usage": "PrivateTest"'
expect "report without --data" 2 "$FER" report --model "$tmp/m.fer"
echo '{"nonsense":1}' >"$tmp/bad.jsonl"
expect "report with a foreign log" 1 "$FER" report --model "$tmp/m.fer" --no-progress \
    --data "$tmp/p7/publictest.csv" --out "$tmp/rep2" --log "$tmp/bad.jsonl"
contains "and names its line" "$tmp/err" "bad.jsonl:1"

expect "average a checkpoint and a model" 0 "$FER" average --out "$tmp/avg.fer" --no-progress \
    --recalibrate "$tmp/p7/training.csv" --val "$tmp/p7/publictest.csv" "$tmp/m.fer.ckpt" "$tmp/m.fer"
contains "average scores the result" "$tmp/out" "accuracy"
expect "info on the average" 0 "$FER" info "$tmp/avg.fer"
contains "records the average's own command" "$tmp/out" "command: $FER average --out"
expect "eval the average" 0 "$FER" eval --model "$tmp/avg.fer" --data "$tmp/p7/publictest.csv"
expect "average with a mixed file" 0 "$FER" average --out "$tmp/avg2.fer" --no-progress \
    --recalibrate "$tmp/all.csv" --val "$tmp/all.csv" "$tmp/m.fer"
contains "recalibrates on its Training rows" "$tmp/err" "--recalibrate: $tmp/all.csv mixes"
contains "on the 40 of them" "$tmp/err" "using the 40 Training rows"
contains "and scores its PublicTest rows" "$tmp/err" "--val: $tmp/all.csv mixes Training (40), PublicTest (10) and PrivateTest (10) rows: using the 10 PublicTest rows"
expect "averaging different class counts fails" 1 "$FER" average --out "$tmp/x.fer" \
    "$tmp/m.fer" "$tmp/tuned6.fer"
contains "and says so" "$tmp/err" "classes"
[[ ! -e $tmp/x.fer ]] && ok "a failed average writes nothing" || bad "a failed average writes nothing"

# 6 classes by merging: the 7-class model's softmax adds disgust's probability into angry's
expect "merge disgust into angry" 0 "$FER" average --merge-disgust --out "$tmp/merged6.fer" \
    --no-progress --val "$tmp/p7/publictest.csv" "$tmp/m.fer"
expect "info of the merged model" 0 "$FER" info "$tmp/merged6.fer"
contains "has the 6 classes" "$tmp/out" "classes: angry,fear,happy,sad,surprise,neutral"
contains "and says how" "$tmp/out" "merged: disgust into angry"
expect "eval the merged model" 0 "$FER" eval --model "$tmp/merged6.fer" \
    --data "$tmp/p7/publictest.csv" --json --tta none
merged_acc=$(grep -o '"accuracy":[0-9.]*' "$tmp/out" | head -1)
expect "eval the 7-class model merged at eval" 0 "$FER" eval --model "$tmp/m.fer" \
    --data "$tmp/p7/publictest.csv" --json --tta none --merge-disgust
[[ -n $merged_acc && $(grep -o '"accuracy":[0-9.]*' "$tmp/out" | head -1) == "$merged_acc" ]] &&
    ok "both read the same ($merged_acc)" || bad "the merged model reads $merged_acc, eval --merge-disgust $(grep -o '"accuracy":[0-9.]*' "$tmp/out" | head -1)"
expect "a merged model is not trained" 1 "$FER" train --init "$tmp/merged6.fer" --classes 6 \
    --train "$tmp/p7/training.csv" --epochs 1 --out "$tmp/x6.fer"
contains "and says why" "$tmp/err" "it is for inference, not training"
expect "merging a 6-class model fails" 1 "$FER" average --merge-disgust --out "$tmp/x.fer" \
    "$tmp/merged6.fer"
contains "and says why" "$tmp/err" "needs a model of the 7 FER2013 emotions"

# bad input
printf 'emotion,pixels,Usage\n0,1 2 3,Training\n' >"$tmp/short.csv"
expect "malformed row fails" 1 "$FER" train --arch "$tmp/tiny.cfg" --train "$tmp/short.csv" --out "$tmp/x.fer"
contains "malformed row names file and line" "$tmp/err" "short.csv:2"
head -c $(($(stat -c %s "$tmp/all.csv.gz") / 2)) "$tmp/all.csv.gz" >"$tmp/cut.csv.gz"
expect "truncated gzip fails" 1 "$FER" eval --model "$tmp/m.fer" --data "$tmp/cut.csv.gz"
head -c 1000 "$tmp/m.fer" >"$tmp/cut.fer"
expect "truncated model fails" 1 "$FER" eval --model "$tmp/cut.fer" --data "$tmp/all.csv"
contains "truncated model is named" "$tmp/err" "cut.fer"
expect "foreign model fails" 1 "$FER" eval --model "$tmp/all.csv" --data "$tmp/all.csv"
contains "foreign model explained" "$tmp/err" "not a fer model file"
expect "missing option" 2 "$FER" train --train "$tmp/all.csv"
contains "names what is missing" "$tmp/err" "fer train: --out is needed"
contains "and shows the usage" "$tmp/err" "usage: fer train"
expect "missing options" 2 "$FER" calibrate --tta none
contains "names them all" "$tmp/err" "fer calibrate: --model, --data and --out are needed"
expect "no way to build the net" 2 "$FER" train --train "$tmp/all.csv" --out "$tmp/x.fer"
contains "says the choices" "$tmp/err" "one of --arch, --init and --resume is needed"
expect "bad option value" 2 "$FER" train --arch "$tmp/tiny.cfg" --train x --out y --epochs many
contains "names the value" "$tmp/err" "fer train: invalid value 'many' for --epochs"
expect "bad --tta name" 2 "$FER" train --arch "$tmp/tiny.cfg" --train x --out y --tta sideways
contains "lists the names" "$tmp/err" "fer train: --tta must be none, flip or crops, not 'sideways'"
expect "bad --tta in report" 2 "$FER" report --model "$tmp/m.fer" --data "$tmp/all.csv" --tta 2x
contains "the same way" "$tmp/err" "fer report: --tta must be none, flip or crops, not '2x'"
expect "unknown option" 2 "$FER" eval --model a --data b --frobnicate
contains "points to the help" "$tmp/err" "unknown option '--frobnicate' (see fer eval --help)"
expect "a stray argument" 2 "$FER" eval --model a --data b extra
contains "is named" "$tmp/err" "fer eval: unexpected argument 'extra'"
expect "--help is not an error" 0 "$FER" calibrate --help
contains "and lists the options" "$tmp/out" "--tta S"
expect "missing data file" 1 "$FER" eval --model "$tmp/m.fer" --data "$tmp/none.csv"
contains "missing data file named" "$tmp/err" "none.csv"

# the shipped models reproduce the accuracy their files record (the model card's numbers);
# the accurate one by its built-in name, as --model takes it everywhere
publictest=${FER_SHARED_DATA:-../shared/data}/fer2013/publictest.csv.gz
if [[ -f $publictest ]]; then
    for m in models/fer-resnet.fer models/fer-resnet6.fer accurate; do
        want=$("$FER" info "$m" | sed -n 's/^val_accuracy: //p')
        expect "eval $m on PublicTest" 0 "$FER" eval --model "$m" --data "$publictest" --json --no-progress
        got=$(grep -o '"accuracy":[0-9.]*' "$tmp/out" | head -1 | cut -d: -f2)
        [[ -n $want && $got == "$want" ]] && ok "$m reads $got of PublicTest, as its file records" ||
            bad "$m reads $got of PublicTest, its file records ${want:-nothing}"
    done
else
    skip "the shipped models' accuracy: $publictest not found"
fi

# photos: detect and predict (the built-in model and detector)
photos=tests/data/photos # public domain, tests/data/README.md
printf 'not an image at all' >"$tmp/garbage.jpg"
expect "predict garbage fails" 1 "$FER" predict "$tmp/garbage.jpg"
contains "predict garbage is named" "$tmp/err" "garbage.jpg"
contains "predict garbage still prints JSON" "$tmp/out" '"error"'
expect "predict missing file fails" 1 "$FER" predict "$tmp/none.png"
expect "predict needs an image" 2 "$FER" predict
contains "and says so" "$tmp/err" "fer predict: no images given"
expect "predict bad format" 2 "$FER" predict --format xml "$tmp/garbage.jpg"
expect "detect garbage fails" 1 "$FER" detect "$tmp/garbage.jpg"
expect "detect bad cascade" 1 "$FER" detect --cascade "$tmp/all.csv" "$tmp/garbage.jpg"
expect "detect a photo" 0 "$FER" detect "$photos/two_portraits.jpg"
contains "detect prints boxes" "$tmp/out" '"box"'
expect "predict a photo" 0 "$FER" predict "$photos/two_portraits.jpg"
contains "predict prints an emotion" "$tmp/out" '"emotion"'
contains "predict prints probabilities" "$tmp/out" '"neutral"'
cp "$tmp/out" "$tmp/predict_default.json"
expect "predict with the fast model by name" 0 "$FER" predict --model fast "$photos/two_portraits.jpg"
cmp -s "$tmp/out" "$tmp/predict_default.json" && ok "the fast model by name is the default's answer" ||
    bad "the fast model by name is the default's answer"
expect "predict in 6 classes" 0 "$FER" predict --merge-disgust "$photos/two_portraits.jpg"
grep -q '"disgust"' "$tmp/out" && bad "6 classes have no disgust" || ok "6 classes have no disgust"
contains "but angry" "$tmp/out" '"angry"'
expect "merging a 6-class model fails" 1 "$FER" predict --merge-disgust \
    --model models/fer-resnet6.fer "$photos/two_portraits.jpg"
contains "and says why" "$tmp/err" "7 FER2013 classes"
expect "predict jsonl with top 2" 0 "$FER" predict --format jsonl --top 2 "$photos/two_portraits.jpg"
[[ $(grep -o '"probabilities":{[^}]*}' "$tmp/out" | head -1 | grep -o ':' | wc -l) -eq 3 ]] &&
    ok "--top 2 lists two emotions" || bad "--top 2 lists two emotions"
expect "predict csv" 0 "$FER" predict --format csv "$photos/two_portraits.jpg"
contains "csv header" "$tmp/out" "file,face,x,y,w,h,score,emotion,angry"
mkdir -p "$tmp/photos/sub"
cp "$photos/two_portraits.jpg" "$tmp/photos/a.jpg"
cp "$photos/grace_hopper.jpg" "$tmp/photos/sub/b.jpg"
cp "$tmp/garbage.jpg" "$tmp/photos/c.jpg"
expect "predict a folder with one bad file exits 1" 1 "$FER" predict --annotate "$tmp/ann" "$tmp/photos"
[[ $(grep -c '"file"' "$tmp/out") -eq 3 ]] && ok "folder walked: 3 entries" || bad "folder walked: 3 entries"
[[ -s $tmp/ann/a.png && -s $tmp/ann/sub/b.png ]] && ok "annotated pictures written, paths kept" ||
    bad "annotated pictures written, paths kept"
# two inputs of the same name: refused before any work, not one silently lost
mkdir -p "$tmp/same/one" "$tmp/same/two"
cp "$photos/astronaut.jpg" "$tmp/same/one/x.jpg"
cp "$photos/grace_hopper.jpg" "$tmp/same/two/x.jpg"
expect "two inputs annotated to one name" 1 "$FER" predict --annotate "$tmp/same/out" \
    "$tmp/same/one/x.jpg" "$tmp/same/two/x.jpg"
contains "are refused, both named" "$tmp/err" "would both be annotated as $tmp/same/out/x.png"
[[ ! -e $tmp/same/out ]] && ok "and nothing is written" || bad "and nothing is written"
expect "a picture name for two inputs" 1 "$FER" predict --annotate "$tmp/a1.png" \
    "$tmp/same/one/x.jpg" "$tmp/same/two/x.jpg"
contains "is refused" "$tmp/err" "names one picture, but 2 images are given"
[[ ! -e $tmp/a1.png ]] && ok "and no folder a1.png is made" || bad "and no folder a1.png is made"
expect "a folder of both" 0 "$FER" predict --no-progress --annotate "$tmp/same/out" "$tmp/same"
[[ -s $tmp/same/out/one/x.png && -s $tmp/same/out/two/x.png ]] && ok "keeps both, by their paths" ||
    bad "keeps both, by their paths"
# annotation styles
expect "--style label" 0 "$FER" predict --style label --annotate "$tmp/label.png" "$photos/two_portraits.jpg"
[[ -s $tmp/label.png ]] && ok "  writes the picture" || bad "  writes the picture"
expect "--style fancy" 2 "$FER" predict --style fancy "$photos/astronaut.jpg"
contains "  names the styles" "$tmp/err" "unknown --style 'fancy' (auto, bars or label)"
# standard input and WebP
expect "predict - reads standard input" 0 "$FER" predict --format csv - <"$photos/grace_hopper.jpg"
contains "  and finds the face" "$tmp/out" '"-",0,182,121,172,211,0.9434,neutral'
expect "predict a WebP" 0 "$FER" predict --format csv "$photos/astronaut.webp"
contains "  the smiling astronaut reads happy" "$tmp/out" ",happy,"
expect "a WebP from standard input" 0 "$FER" predict --format jsonl - <"$photos/astronaut.webp"
head -c 100 "$photos/astronaut.webp" >"$tmp/cut.webp"
expect "a truncated WebP fails" 1 "$FER" predict "$tmp/cut.webp"
contains "  and says so" "$tmp/err" "invalid or truncated WebP data"
expect "'-' twice" 2 "$FER" predict - - </dev/null
contains "  is refused" "$tmp/err" "'-' (standard input) may be given once"
# --top: 1 to the classes; in CSV the K most likely as name and probability pairs
expect "predict csv --top 3" 0 "$FER" predict --format csv --top 3 "$photos/astronaut.jpg"
contains "csv --top header" "$tmp/out" "emotion,emotion_1,probability_1,emotion_2,probability_2,emotion_3,probability_3,error"
contains "the most likely first" "$tmp/out" ",happy,happy,0."
expect "--top 9 with 7 classes" 2 "$FER" predict --top 9 --annotate "$tmp/top9/" "$photos/astronaut.jpg"
contains "says the range" "$tmp/err" "--top 9: the model has 7 classes (--top 1 to 7)"
[[ ! -e $tmp/top9 ]] && ok "  before any folder is made" || bad "  before any folder is made"
expect "--top -1" 2 "$FER" predict --top -1 "$photos/astronaut.jpg"
# detect speaks the same formats
expect "detect csv" 0 "$FER" detect --format csv "$photos/grace_hopper.jpg"
contains "detect csv header" "$tmp/out" "file,face,x,y,w,h,score,error"
[[ $(wc -l <"$tmp/out") -eq 2 ]] && ok "one row per face" || bad "one row per face"
expect "detect jsonl" 0 "$FER" detect --format jsonl "$photos/grace_hopper.jpg" "$photos/coffee.jpg"
[[ $(grep -c '"file"' "$tmp/out") -eq 2 && $(wc -l <"$tmp/out") -eq 2 ]] && ok "a line per image" ||
    bad "a line per image"
contains "a photo without a face has none" "$tmp/out" '"faces":[]'
expect "detect --format xml" 2 "$FER" detect --format xml "$photos/grace_hopper.jpg"
# the detectors: yunet (default), haar (the 2016 system's, OpenCV's boxes), lbp, none
expect "detect finds Grace Hopper" 0 "$FER" detect --format jsonl "$photos/grace_hopper.jpg"
contains "  with YuNet's box, score and landmarks" "$tmp/out" \
    '"faces":[{"id":"0","box":{"x":182,"y":121,"w":172,"h":211},"score":0.94'
contains "  five of them" "$tmp/out" '"landmarks":[[227.1,193.3],[308.0,195.5],[266.5,240.0],'
expect "--detector haar" 0 "$FER" detect --detector haar --format csv "$photos/grace_hopper.jpg"
contains "  gives OpenCV's box, without a score" "$tmp/out" '"tests/data/photos/grace_hopper.jpg",0,155,105,222,222,,'
expect "--cascade alone means haar" 0 "$FER" detect --cascade \
    /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml --format csv \
    "$photos/grace_hopper.jpg"
contains "  the same box" "$tmp/out" ',0,155,105,222,222,,'
expect "--detector none" 0 "$FER" predict --detector none --format csv "$photos/grace_hopper.jpg"
contains "  takes the whole picture" "$tmp/out" '"tests/data/photos/grace_hopper.jpg",0,0,0,512,600,,'
expect "--detector lbp without a cascade" 2 "$FER" detect --detector lbp "$photos/grace_hopper.jpg"
contains "  asks for one" "$tmp/err" "--detector lbp needs --cascade FILE"
lbp=/usr/share/opencv4/lbpcascades/lbpcascade_frontalface_improved.xml
if [[ -r $lbp ]]; then
    expect "--detector lbp --cascade" 0 "$FER" detect --detector lbp --cascade "$lbp" --format csv \
        "$photos/grace_hopper.jpg"
    [[ $(wc -l <"$tmp/out") -eq 2 ]] && ok "  finds one face" || bad "  finds one face"
else
    skip "--detector lbp --cascade (no $lbp)"
fi
expect "--detector yunet --cascade" 2 "$FER" detect --detector yunet --cascade "$lbp" x.jpg
contains "  is refused" "$tmp/err" "--cascade goes with --detector haar or lbp"
expect "--detector dlib" 2 "$FER" predict --detector dlib "$photos/grace_hopper.jpg"
contains "  names the detectors" "$tmp/err" "yunet, haar, lbp or none"
expect "--score-threshold 2" 2 "$FER" detect --score-threshold 2 "$photos/grace_hopper.jpg"
expect "--score-threshold 0.99" 0 "$FER" detect --score-threshold 0.99 --format jsonl \
    "$photos/two_portraits.jpg"
contains "  leaves no face" "$tmp/out" '"faces":[]'
expect "--detector-model of an emotion model" 1 "$FER" detect --detector-model \
    models/fer-resnet.fer "$photos/grace_hopper.jpg"
contains "  says it is not a detector" "$tmp/err" "not a face detector"
# detect and predict: the same defaults, the same faces, the same record
"$FER" detect --format jsonl "$photos/two_portraits.jpg" | grep -o '"box":{[^}]*}' >"$tmp/d.box"
"$FER" predict --format jsonl "$photos/two_portraits.jpg" | grep -o '"box":{[^}]*}' >"$tmp/p.box"
[[ -s $tmp/d.box ]] && cmp -s "$tmp/d.box" "$tmp/p.box" && ok "detect and predict find the same faces" ||
    bad "detect and predict find the same faces"
expect "predict --align" 0 "$FER" predict --align --format csv "$photos/two_portraits.jpg"
[[ $(grep -c '^"' "$tmp/out") -eq 2 ]] && ok "  reads both faces, turned upright" ||
    bad "  reads both faces, turned upright"
expect "a photo without faces in CSV" 0 "$FER" predict --format csv "$photos/coffee.jpg"
contains "  still gets its row" "$tmp/out" '"tests/data/photos/coffee.jpg",,,,,,,,'
expect "info on the detector" 0 "$FER" info models/yunet.fer
contains "  says it detects" "$tmp/out" "task: detect"
contains "  with its cost at 640x480" "$tmp/out" "mflop_per_640x480: 516"
contains "  and its copyright" "$tmp/out" "copyright: Copyright (c) 2018-2023, Shiqi Yu"
# fer import: libfacedetection's weights into a model file
expect "import needs three arguments" 2 "$FER" import yunet
expect "import of an unknown format" 2 "$FER" import onnx a b
contains "  says so" "$tmp/err" "unknown format 'onnx'"
expect "import of a file that is not weights" 1 "$FER" import yunet "$tmp/garbage.jpg" "$tmp/y.fer"
contains "  says why" "$tmp/err" "no param_pConvInfo table"
[[ ! -e $tmp/y.fer ]] && ok "  and writes nothing" || bad "  and writes nothing"
yunet_src=../shared/data/yunet/facedetectcnn-data.cpp
if [[ -r $yunet_src ]]; then
    expect "import yunet (../shared)" 0 "$FER" import yunet "$yunet_src" "$tmp/y.fer"
    expect "  and detect with it" 0 "$FER" detect --detector-model "$tmp/y.fer" --format csv \
        "$photos/grace_hopper.jpg"
    contains "  the same face" "$tmp/out" ',0,182,121,172,211,0.9434,'
else
    skip "import yunet (needs ../shared/data/yunet)"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
