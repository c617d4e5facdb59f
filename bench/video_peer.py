#!/usr/bin/python3
"""The Python peer of `fer video`: the same steps with OpenCV and PyTorch (Debian packages).

    decode (cv2.VideoCapture) -> every Nth frame, detect faces on a copy reduced to
    --detect-width (OpenCV's Haar cascade: OpenCV 4.6's YuNet needs an ONNX file, and there
    is none offline; between detections the boxes are kept) -> crop each face from the gray
    frame, 48x48 with area averaging, the centre 44x44 normalised -> classify all faces of
    the frame in one batch with the network of models/fer-resnet.cfg built in PyTorch
    (eval mode, inference_mode) -> softmax -> one JSON line per frame -> optionally draw the
    boxes and labels (cv2.rectangle, cv2.putText) and write H.264 MP4 (cv2.VideoWriter,
    'avc1', FFmpeg's libx264).

    /usr/bin/python3 bench/video_peer.py --input clip.mp4 --jsonl out.jsonl [--output out.mp4]
        [--threads N] [--detect-every 2] [--detect-width 640]

Prints one JSON line: frames, seconds, fps.
"""

import argparse
import json
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn as nn

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def read_cfg(path):
    """The sections of a fer architecture file: [(name, {key: value})]."""
    sections = []
    for line in open(path):
        line = line.split("#")[0].strip()
        if not line:
            continue
        if line.startswith("["):
            sections.append((line.strip("[]"), {}))
        else:
            k, v = line.split("=", 1)
            sections[-1][1][k.strip()] = v.strip()
    return sections


class CfgNet(nn.Module):
    """A network from fer's cfg: convolutional (+BN), maxpool, route, shortcut,
    global_avgpool, dropout, dense, softmax."""

    def __init__(self, path, classes=7):
        super().__init__()
        self.layers = nn.ModuleList()
        self.kinds = []
        ch, outs = 1, []
        for name, o in read_cfg(path):
            if name in ("net", "train"):
                continue
            if name == "convolutional":
                f, k = int(o["filters"]), int(o.get("size", 3))
                pad = int(o.get("pad", 1)) * (k // 2)
                bn = int(o.get("batch_normalize", 0))
                mods = [nn.Conv2d(ch, f, k, int(o.get("stride", 1)), pad, bias=not bn)]
                if bn:
                    mods.append(nn.BatchNorm2d(f))
                if o.get("activation") == "relu":
                    mods.append(nn.ReLU())
                self.layers.append(nn.Sequential(*mods))
                self.kinds.append(("layer", None))
                ch = f
            elif name == "maxpool":
                self.layers.append(nn.MaxPool2d(int(o.get("size", 2))))
                self.kinds.append(("layer", None))
            elif name == "route":
                idx = len(outs) + int(o["layers"])
                self.layers.append(nn.Identity())
                self.kinds.append(("route", idx))
                ch = outs[idx][1]
            elif name == "shortcut":
                idx = len(outs) + int(o["from"])
                self.layers.append(nn.ReLU() if o.get("activation") == "relu" else nn.Identity())
                self.kinds.append(("shortcut", idx))
            elif name == "global_avgpool":
                self.layers.append(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()))
                self.kinds.append(("layer", None))
            elif name == "dropout":
                self.layers.append(nn.Dropout(float(o.get("probability", 0.5))))
                self.kinds.append(("layer", None))
            elif name == "dense":
                n = classes if o["output"] == "classes" else int(o["output"])
                self.layers.append(nn.Linear(ch, n))
                self.kinds.append(("layer", None))
                ch = n
            elif name == "softmax":
                self.layers.append(nn.Softmax(dim=1))
                self.kinds.append(("layer", None))
            else:
                raise ValueError(f"{path}: layer [{name}] is not known here")
            outs.append((len(outs), ch))

    def forward(self, x):
        outs = []
        for layer, (kind, idx) in zip(self.layers, self.kinds):
            if kind == "route":
                x = outs[idx]
            elif kind == "shortcut":
                x = layer(x + outs[idx])
                outs.append(x)
                continue
            x = layer(x)
            outs.append(x)
        return x


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--jsonl", required=True)
    ap.add_argument("--output")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--detect-every", type=int, default=2)
    ap.add_argument("--detect-width", type=int, default=640)
    ap.add_argument("--arch", default="models/fer-resnet.cfg")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    cv2.setNumThreads(a.threads)
    net = CfgNet(a.arch).eval()
    cascade = cv2.CascadeClassifier(
        "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml")
    cap = cv2.VideoCapture(a.input)
    if not cap.isOpened():
        sys.exit(f"cannot open {a.input}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = None
    if a.output:
        writer = cv2.VideoWriter(a.output, cv2.VideoWriter_fourcc(*"avc1"), fps, (w, h))
        if not writer.isOpened():
            sys.exit("cv2.VideoWriter cannot write H.264 (avc1) here")
    out = open(a.jsonl, "w")
    boxes, n, start = [], 0, time.perf_counter()
    with torch.inference_mode():
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            if n % a.detect_every == 0:
                s = a.detect_width / w if a.detect_width and w > a.detect_width else 1.0
                small = cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else gray
                found = cascade.detectMultiScale(small, 1.1, 5, minSize=(30, 30))
                boxes = [tuple(int(v / s) for v in b) for b in found]
            faces = []
            if boxes:
                crops = []
                for (x, y, bw, bh) in boxes:
                    c = cv2.resize(gray[max(y, 0):y + bh, max(x, 0):x + bw], (48, 48),
                                   interpolation=cv2.INTER_AREA)[2:46, 2:46]
                    crops.append((c.astype(np.float32) / 255 - 0.5) / 0.25)
                probs = net(torch.from_numpy(np.stack(crops)[:, None])).numpy()
                for (x, y, bw, bh), p in zip(boxes, probs):
                    k = int(p.argmax())
                    faces.append({"box": {"x": x, "y": y, "w": bw, "h": bh},
                                  "emotion": CLASSES[k], "confidence": round(float(p[k]), 6),
                                  "probabilities": {c: round(float(v), 6) for c, v in zip(CLASSES, p)}})
                    if writer:
                        cv2.rectangle(frame, (x, y), (x + bw, y + bh), (0, 200, 255), 2)
                        cv2.putText(frame, f"{CLASSES[k]} {p[k]:.0%}", (x, y - 6),
                                    cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 200, 255), 2)
            out.write(json.dumps({"frame": n, "time": round(n / fps, 3), "faces": faces}) + "\n")
            if writer:
                writer.write(frame)
            n += 1
    out.close()
    if writer:
        writer.release()
    secs = time.perf_counter() - start
    print(json.dumps({"peer": "opencv+pytorch", "frames": n, "seconds": round(secs, 3),
                      "fps": round(n / secs, 2)}))


if __name__ == "__main__":
    main()
