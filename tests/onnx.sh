#!/usr/bin/env bash
# onnx.sh - fer export's ONNX files run in ONNX Runtime (onnxruntime-node, installed into
# build/npm-onnx by scripts/npm-deps.sh onnx) against fer itself: a small network with every
# layer type trained here on random faces, the built-in model, its 6-class variant, the
# smaller 111 network and the YuNet detector; with ../shared, 1,000 FER2013 PublicTest faces
# through every shipped classifier, within 1e-5. Bad uses of fer export fail with a message.
# Uses $FER (default build/fer). Ends with "N passed, N failed, N skipped".
set -u
FER=${FER:-build/fer}
PY=/usr/bin/python3
PUBLICTEST=../shared/data/fer2013/publictest.csv.gz
TOLERANCE=1e-5
tmp=$(mktemp -d /tmp/fer_onnx_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"
# json_field FILE KEY: a top-level field of a one-line JSON file
json_field() { node -e "console.log(JSON.parse(require('fs').readFileSync('$1','utf8'))['$2'])"; }

# same NAME MODEL FACES ROWS: MODEL exported and run in ONNX Runtime on the first ROWS faces of
# FACES gives fer eval's probabilities within TOLERANCE, and the same top class on every face
same() {
    local name=$1 model=$2 faces=$3 rows=$4
    local onnx=$tmp/$(basename "$model" .fer).onnx
    if ! "$FER" export --format onnx "$model" "$onnx" 2>"$tmp/err"; then
        bad "$name: fer export failed"; head -3 "$tmp/err" >&2; return
    fi
    head -n $((rows + 1)) <(if [[ $faces == *.gz ]]; then zcat "$faces"; else cat "$faces"; fi) \
        >"$tmp/faces.csv"
    if ! "$FER" eval --model "$model" --data "$tmp/faces.csv" --tta none --no-progress \
        --probabilities "$tmp/fer.csv" >/dev/null 2>"$tmp/err"; then
        bad "$name: fer eval failed"; head -3 "$tmp/err" >&2; return
    fi
    if ! node tests/onnx/ort_check.mjs classify "$onnx" "$tmp/faces.csv" "$tmp/fer.csv" "$rows" \
        >"$tmp/check.json" 2>"$tmp/err"; then
        bad "$name: ONNX Runtime failed"; head -3 "$tmp/err" >&2; return
    fi
    local diff agree n
    diff=$(json_field "$tmp/check.json" max_abs_diff)
    agree=$(json_field "$tmp/check.json" top_class_agrees)
    n=$(json_field "$tmp/check.json" faces)
    if [[ $n == "$rows" ]] && node -e "process.exit($diff <= $TOLERANCE ? 0 : 1)"; then
        ok "$name: $n faces, largest difference $diff"
    else
        bad "$name: $n faces, largest difference $diff (over $TOLERANCE)"
    fi
    if [[ $agree == "$n" ]]; then ok "$name: the top class agrees on all $n faces"; else
        bad "$name: the top class agrees on $agree of $n faces"
    fi
}

if ! command -v node >/dev/null; then
    skip "every ONNX test: node is not installed (scripts/install-deps.sh)"
    echo "$passed passed, $failed failed, $skipped skipped"
    exit 0
fi
if ! bash scripts/npm-deps.sh onnx >"$tmp/npm.log" 2>&1 ||
    [[ ! -d build/npm-onnx/node_modules/onnxruntime-node ]]; then
    bad "onnxruntime-node could not be installed (scripts/npm-deps.sh onnx)"
    cat "$tmp/npm.log" >&2
    echo "$passed passed, $failed failed, $skipped skipped"
    exit 1
fi

# every layer type, with batch norm statistics that training moved
$PY tests/onnx/faces.py 256 "$tmp/train.csv" 3 Training
$PY tests/onnx/faces.py 200 "$tmp/faces_random.csv" 9
if "$FER" train --arch tests/onnx/every_layer.cfg --train "$tmp/train.csv" --out "$tmp/every.fer" \
    --no-progress --seed 5 --threads 2 >/dev/null 2>"$tmp/err"; then
    same "every layer type" "$tmp/every.fer" "$tmp/faces_random.csv" 200
else
    bad "training the every-layer network failed"; head -3 "$tmp/err" >&2
fi
same "the built-in model (random faces)" models/fer-resnet.fer "$tmp/faces_random.csv" 200
same "the 6-class model: softmax, then disgust merged into angry" models/fer-resnet6.fer \
    "$tmp/faces_random.csv" 200

if [[ -f $PUBLICTEST ]]; then
    for m in fer-resnet fer-resnet6 fer-resnet-111 fer-accurate; do
        same "$m on 1,000 PublicTest faces" "models/$m.fer" "$PUBLICTEST" 1000
    done
else
    skip "1,000 PublicTest faces through each model: needs ../shared/data/fer2013"
fi

# `builtin` is the model inside fer: the same graph as its file
"$FER" export builtin "$tmp/builtin.onnx" 2>/dev/null
"$FER" export models/fer-resnet.fer "$tmp/file.onnx" 2>/dev/null
if [[ -s $tmp/builtin.onnx ]] && [[ $(stat -c %s "$tmp/builtin.onnx") -gt 10000000 ]]; then
    ok "fer export builtin writes the built-in model ($(stat -c %s "$tmp/builtin.onnx") bytes)"
else
    bad "fer export builtin"
fi

# the detector: its 12 heads at strides 8, 16 and 32
"$FER" export models/yunet.fer "$tmp/yunet.onnx" 2>/dev/null
if node tests/onnx/ort_check.mjs detect "$tmp/yunet.onnx" 320 320 >"$tmp/det.json" 2>"$tmp/err"; then
    if node -e "
const o = JSON.parse(require('fs').readFileSync('$tmp/det.json', 'utf8')).outputs;
const shapes = Object.values(o).map((d) => d.join('x'));
const want = ['1x1x40x40','1x4x40x40','1x1x40x40','1x10x40x40','1x1x20x20','1x4x20x20',
              '1x1x20x20','1x10x20x20','1x1x10x10','1x4x10x10','1x1x10x10','1x10x10x10'];
process.exit(JSON.stringify(shapes) === JSON.stringify(want) ? 0 : 1)"; then
        ok "the YuNet detector runs in ONNX Runtime: 12 heads of the right shapes on 320x320"
    else
        bad "the YuNet detector's heads: $(cat "$tmp/det.json")"
    fi
else
    bad "the YuNet detector in ONNX Runtime"; head -3 "$tmp/err" >&2
fi

# bad uses
expect "a missing model fails" 1 "$FER" export models/no-such.fer "$tmp/x.onnx"
contains "... and says which" "$tmp/err" "no-such.fer"
expect "another format is a usage error" 2 "$FER" export --format tflite builtin "$tmp/x.onnx"
contains "... naming the format" "$tmp/err" "tflite"
expect "a missing output is a usage error" 2 "$FER" export builtin
expect "an unwritable output fails" 1 "$FER" export builtin /nonexistent-dir/x.onnx
contains "... and says where" "$tmp/err" "/nonexistent-dir/x.onnx"
printf 'not a model' >"$tmp/junk.fer"
expect "a file that is not a model fails" 1 "$FER" export "$tmp/junk.fer" "$tmp/x.onnx"
if [[ ! -e $tmp/x.onnx && ! -e $tmp/x.onnx.tmp ]]; then ok "a failed export leaves no file"; else
    bad "a failed export left a file"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
