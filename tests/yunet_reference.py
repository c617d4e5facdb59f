#!/usr/bin/env python3
"""Independent numpy reference forward pass of the YuNet face detector.

fer's tests use this file to check fer's own C implementation of YuNet. It is
written from a written description of the architecture (layer order, weight
layouts, input packing, decoding, scoring and NMS as libfacedetection does
them), NOT from fer's C code, and imports nothing from fer.

Weights: facedetectcnn-data.cpp from the public repository
ShiqiYu/libfacedetection (src/facedetectcnn-data.cpp), Copyright (c) 2018-2023
Shiqi Yu, MIT licence (see the LICENSE beside the weights file). This script
only reads that file; it contains no weights itself.

Usage:
  python3 tests/yunet_reference.py WEIGHTS.cpp IMAGE.ppm [--score-threshold 0.5]
      [--nms-threshold 0.3] [--top-k 1000] [--keep 100] [--raw]

Prints JSON: {"width":W,"height":H,"faces":[{"score":s,"box":[x,y,w,h],
"landmarks":[[x,y] x5]}, ...]}, faces sorted by score descending after NMS.
With --raw: every candidate before NMS that passes the threshold, in
level-then-row-major order, with extra fields "level", "row", "col".
Images: binary PPM (P6) or PGM (P5), 8-bit; other formats only if cv2 exists.
From Python: detect(weights_path, bgr_uint8_hwc_array, ...) -> list of faces.
Computation is in float64 on weights rounded to float32 (as the C literals are).
"""
import argparse
import functools
import json
import math
import re
import sys

import numpy as np

SIGMOID_CLAMP = 88.3762626647949
NUM_LAYERS = 53

_ARRAY_RE = re.compile(r"float\s+(\w+)\s*\[[^\]]*\]\s*=\s*\{([^}]*)\}\s*;")
_INFO_RE = re.compile(r"ConvInfoStruct\s+param_pConvInfo\s*\[\s*(\d+)\s*\]\s*=\s*\{(.*?)\}\s*;", re.S)
_ENTRY_RE = re.compile(r"\{\s*(\d+)\s*,\s*(\d+)\s*,\s*(true|false)\s*,\s*(true|false)\s*,"
                       r"\s*(true|false)\s*,\s*(\w+)\s*,\s*(\w+)\s*\}")


def _parse_floats(body, name):
    vals = []
    for tok in body.split(","):
        tok = tok.strip()
        if not tok:
            continue
        if tok[-1] in "fF":
            tok = tok[:-1]
        try:
            vals.append(float(tok))
        except ValueError:
            raise ValueError("weights: bad number %r in array %s" % (tok, name))
    # The C literals are floats: round to float32, then compute in float64.
    return np.array(vals, dtype=np.float32).astype(np.float64)


@functools.lru_cache(maxsize=4)
def load_weights(path):
    """Parse facedetectcnn-data.cpp into a list of 53 layer dicts."""
    with open(path, "r", encoding="latin-1") as f:
        text = f.read()
    arrays = {m.group(1): _parse_floats(m.group(2), m.group(1)) for m in _ARRAY_RE.finditer(text)}
    m = _INFO_RE.search(text)
    if not m:
        raise ValueError("weights: no 'ConvInfoStruct param_pConvInfo[...]' table in %s" % path)
    entries = _ENTRY_RE.findall(m.group(2))
    if int(m.group(1)) != NUM_LAYERS or len(entries) != NUM_LAYERS:
        raise ValueError("weights: expected %d layers, table declares %s and lists %d"
                         % (NUM_LAYERS, m.group(1), len(entries)))
    layers = []
    for i, (cin, cout, dw, pw, relu, wname, bname) in enumerate(entries):
        cin, cout, dw, pw = int(cin), int(cout), dw == "true", pw == "true"
        if dw == pw:
            raise ValueError("weights: layer %d must be exactly one of depthwise/pointwise" % i)
        if dw and cin != cout:
            raise ValueError("weights: depthwise layer %d has %d inputs but %d outputs" % (i, cin, cout))
        for nm in (wname, bname):
            if nm not in arrays:
                raise ValueError("weights: layer %d refers to missing array %s" % (i, nm))
        w, b = arrays[wname], arrays[bname]
        need_w = 9 * cout if dw else cout * cin
        if w.size != need_w:
            raise ValueError("weights: layer %d array %s has %d values, needs %d"
                             % (i, wname, w.size, need_w))
        if b.size != cout:
            raise ValueError("weights: layer %d array %s has %d values, needs %d"
                             % (i, bname, b.size, cout))
        # pointwise: [out][in]; depthwise: [9 kernel positions][channels]
        w = w.reshape(9, cout) if dw else w.reshape(cout, cin)
        layers.append(dict(cin=cin, cout=cout, depthwise=dw, w=w, b=b, relu_flag=relu == "true"))
    return layers


# ---------------------------------------------------------------- layers (HWC)
def pointwise(L, x):
    if x.shape[2] != L["cin"]:
        raise ValueError("pointwise layer expects %d channels, got %d" % (L["cin"], x.shape[2]))
    h, w, c = x.shape
    return (x.reshape(h * w, c) @ L["w"].T + L["b"]).reshape(h, w, L["cout"])


def depthwise(L, x):
    h, w, c = x.shape
    if c != L["cout"]:
        raise ValueError("depthwise layer expects %d channels, got %d" % (L["cout"], c))
    xp = np.zeros((h + 2, w + 2, c))
    xp[1:h + 1, 1:w + 1] = x
    out = np.broadcast_to(L["b"], (h, w, c)).copy()
    tmp = np.empty_like(out)
    for ky in range(3):
        for kx in range(3):
            np.multiply(xp[ky:ky + h, kx:kx + w], L["w"][ky * 3 + kx], out=tmp)
            out += tmp
    return out


def relu(x):
    return np.maximum(x, 0.0)


def pool2(x):
    h, w, c = x.shape
    return x.reshape(h // 2, 2, w // 2, 2, c).max(axis=(1, 3))


def upsample2(x):
    return np.repeat(np.repeat(x, 2, axis=0), 2, axis=1)


def pack_input(img):
    """Layer-0 input: (H2/2, W2/2, 32), the 3x3 stride-2 neighbourhood of each
    output position, element ((fy+1)*3+(fx+1))*3+ch, zeros outside the image."""
    h, w, _ = img.shape
    h2, w2 = -(-h // 32) * 32, -(-w // 32) * 32
    p = np.zeros((h2 + 2, w2 + 2, 3))
    p[1:h + 1, 1:w + 1] = img
    out = np.zeros((h2 // 2, w2 // 2, 32))
    for fy in (-1, 0, 1):
        for fx in (-1, 0, 1):
            k = ((fy + 1) * 3 + (fx + 1)) * 3
            out[:, :, k:k + 3] = p[1 + fy:1 + fy + h2:2, 1 + fx:1 + fx + w2:2]
    return out


def forward(layers, img):
    """Returns [(cls, bbox, obj, kps, stride)] for the three levels."""
    def DP(i, x, r=True):
        y = depthwise(layers[i + 1], pointwise(layers[i], x))
        return relu(y) if r else y

    def UNIT(i, x):
        return DP(i + 2, DP(i, x))

    x = relu(pointwise(layers[0], pack_input(img)))
    x = pool2(DP(1, x))
    x = pool2(UNIT(7, UNIT(3, x)))
    f1 = UNIT(11, x)
    f2 = UNIT(15, pool2(f1))
    f3 = UNIT(19, pool2(f2))
    f3 = DP(27, f3)
    f2 = DP(25, upsample2(f3) + f2)
    f1 = DP(23, upsample2(f2) + f1)
    outs = []
    for level, (f, stride) in enumerate(((f1, 8), (f2, 16), (f3, 32))):
        outs.append((DP(29 + 2 * level, f, False), DP(35 + 2 * level, f, False),
                     DP(41 + 2 * level, f, False), DP(47 + 2 * level, f, False), stride))
    return outs


# ------------------------------------------------------------------ decoding
def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-np.clip(v, -SIGMOID_CLAMP, SIGMOID_CLAMP)))


def candidates(outs, score_threshold):
    """All positions with score >= threshold, level 0 first, row-major."""
    faces = []
    for level, (cls, bbox, obj, kps, s) in enumerate(outs):
        score = np.sqrt(sigmoid(cls[:, :, 0]) * sigmoid(obj[:, :, 0]))
        for r, c in zip(*np.nonzero(score >= score_threshold)):
            px, py = float(c * s), float(r * s)
            b, k = bbox[r, c], kps[r, c]
            cx, cy = b[0] * s + px, b[1] * s + py
            bw, bh = math.exp(b[2]) * s, math.exp(b[3]) * s
            faces.append(dict(
                score=float(score[r, c]),
                box=[float(cx - bw / 2), float(cy - bh / 2), float(bw), float(bh)],
                landmarks=[[float(k[2 * n] * s + px), float(k[2 * n + 1] * s + py)] for n in range(5)],
                level=level, row=int(r), col=int(c)))
    return faces


def iou(a, b):
    ax0, ay0, ax1, ay1 = a[0], a[1], a[0] + a[2], a[1] + a[3]
    bx0, by0, bx1, by1 = b[0], b[1], b[0] + b[2], b[1] + b[3]
    iw, ih = min(ax1, bx1) - max(ax0, bx0), min(ay1, by1) - max(ay0, by0)
    inter = iw * ih if iw > 0 and ih > 0 else 0.0
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def nms(cands, nms_threshold, top_k, keep):
    order = sorted(cands, key=lambda f: -f["score"])[:top_k]  # Python's sort is stable
    kept = []
    for f in order:
        if len(kept) >= keep:
            break
        if all(iou(f["box"], g["box"]) <= nms_threshold for g in kept):
            kept.append(f)
    return kept


def detect(weights_path, image, score_threshold=0.5, nms_threshold=0.3,
           top_k=1000, keep=100, raw=False):
    """image: uint8 array, HxWx3 in BGR order (or HxW gray). Returns a list of
    faces {"score", "box":[x,y,w,h], "landmarks":[[x,y]]*5} after NMS, or with
    raw=True all thresholded candidates (plus "level", "row", "col")."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 3) or img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError("image must be HxW or HxWx3, got shape %r" % (img.shape,))
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    cands = candidates(forward(load_weights(weights_path), img.astype(np.float64)), score_threshold)
    if raw:
        return cands
    faces = nms(cands, nms_threshold, top_k, keep)
    for f in faces:
        for k in ("level", "row", "col"):
            del f[k]
    return faces


# -------------------------------------------------------------------- images
def read_pnm(path):
    """Binary PPM (P6, returned as BGR) or PGM (P5, replicated to 3 channels)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:2]
    if magic not in (b"P5", b"P6"):
        raise ValueError("not a binary PPM/PGM file")
    fields, pos = [], 2
    while len(fields) < 3:
        while pos < len(data) and data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            while pos < len(data) and data[pos:pos + 1] not in (b"\n", b"\r"):
                pos += 1
            continue
        start = pos
        while pos < len(data) and data[pos:pos + 1].isdigit():
            pos += 1
        if start == pos:
            raise ValueError("%s: bad PNM header" % path)
        fields.append(int(data[start:pos]))
    w, h, maxval = fields
    pos += 1  # exactly one whitespace byte before the raster
    if not (0 < maxval < 256) or w < 1 or h < 1:
        raise ValueError("%s: only 8-bit PNM with positive size is supported" % path)
    ch = 3 if magic == b"P6" else 1
    if len(data) - pos < w * h * ch:
        raise ValueError("%s: truncated raster" % path)
    px = np.frombuffer(data, np.uint8, w * h * ch, pos).reshape(h, w, ch)
    return px[:, :, ::-1] if ch == 3 else np.repeat(px, 3, axis=2)


def read_image(path):
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic in (b"P5", b"P6"):
        return read_pnm(path)
    try:
        import cv2  # optional, only for non-PNM inputs
    except ImportError:
        raise SystemExit("%s: not a binary PPM/PGM and cv2 is not available" % path)
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit("%s: cannot decode image" % path)
    return img


def main(argv=None):
    ap = argparse.ArgumentParser(description="numpy reference YuNet face detector")
    ap.add_argument("weights")
    ap.add_argument("image")
    ap.add_argument("--score-threshold", type=float, default=0.5)
    ap.add_argument("--nms-threshold", type=float, default=0.3)
    ap.add_argument("--top-k", type=int, default=1000)
    ap.add_argument("--keep", type=int, default=100)
    ap.add_argument("--raw", action="store_true", help="all candidates before NMS")
    a = ap.parse_args(argv)
    img = read_image(a.image)
    faces = detect(a.weights, img, a.score_threshold, a.nms_threshold, a.top_k, a.keep, a.raw)
    json.dump({"width": int(img.shape[1]), "height": int(img.shape[0]), "faces": faces}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
