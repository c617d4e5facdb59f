#!/usr/bin/python3
"""flask_peer.py - the peer for bench/load.sh: the same POST /v1/predict done the usual way in
Python, with Flask, OpenCV's Haar cascade and a PyTorch CNN, all from Debian packages
(python3-flask, python3-opencv, python3-torch, opencv-data).

The work matches `fer serve`: decode the JPEG, gray, detect faces with
haarcascade_frontalface_default.xml (scale 1.1, 5 neighbours, 30 px minimum), crop each face
with the same margin, resize to 48x48 (INTER_AREA), take the centre 44x44, normalise, and run
the network of models/fer-resnet.cfg (the same layers, random weights: speed only) on the face
and its mirror image, averaging the two; store each face (crop, probabilities, box) in SQLite
so that feedback could refer to it; answer the same JSON. Served by Flask's own threaded
server, as the usual tutorials and the system fer grows from do.

    /usr/bin/python3 bench/flask_peer.py --port 18081 --db /tmp/peer.db
"""
import argparse
import json
import os
import sqlite3
import threading
import time
import uuid

import cv2
import numpy as np
import torch
from torch import nn
from flask import Flask, Response, request

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
CASCADE = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
MARGIN = 0.0  # context around each box: the built-in model records none (crop_margin)
MEAN, STD = 0.507741928, 0.255007565  # the built-in model's input_mean and input_std


class Block(nn.Module):
    """conv3x3-BN-ReLU, conv3x3-BN, plus the input (or its 1x1-BN projection when the width
    changes), then ReLU."""

    def __init__(self, cin, cout):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                               nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                               nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                               nn.BatchNorm2d(cout))
        self.proj = (nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
                     if cin != cout else nn.Identity())

    def forward(self, x):
        return torch.relu(self.a(x) + self.proj(x))


class FerResNet(nn.Module):
    """models/fer-resnet.cfg: 44x44x1 -> 32 -> pool -> 64 -> pool -> 128, 128 -> pool -> 256, 256
    (one residual block in stage 1, two in stages 2 and 3) -> global average -> dropout 0.3 ->
    dense 7 -> softmax."""

    def __init__(self, classes=7):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.MaxPool2d(2), Block(32, 64), nn.MaxPool2d(2), Block(64, 128), Block(128, 128),
            nn.MaxPool2d(2), Block(128, 256), Block(256, 256), nn.AdaptiveAvgPool2d(1),
            nn.Flatten(), nn.Dropout(0.3),
            nn.Linear(256, classes))

    def forward(self, x):
        return torch.softmax(self.body(x), dim=1)


def create_app(db_path):
    app = Flask(__name__)
    cascade = cv2.CascadeClassifier(CASCADE)
    if cascade.empty():
        raise SystemExit(f"flask_peer: cannot load {CASCADE} (apt-get install opencv-data)")
    model = FerResNet().eval()
    db = sqlite3.connect(db_path, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS faces (face_id TEXT PRIMARY KEY, created REAL, "
               "probabilities TEXT, crop BLOB, x INT, y INT, w INT, h INT)")
    db_lock = threading.Lock()

    def error(status, message):
        return Response(json.dumps({"error": message}), status=status,
                        mimetype="application/json")

    @app.route("/v1/health")
    def health():
        return {"status": "ok"}

    @app.route("/v1/predict", methods=["POST"])
    def predict():
        t0 = time.perf_counter()
        if request.mimetype == "multipart/form-data":
            f = request.files.get("image")
            data = f.read() if f else b""
        elif request.mimetype in ("image/jpeg", "image/png"):
            data = request.get_data()
        else:
            return error(415, "send an image")
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            return error(400, "not an image")
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        boxes = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(30, 30))
        faces = []
        if len(boxes):
            crops = []
            for (x, y, w, h) in boxes:
                dx, dy = int(w * MARGIN + 0.5), int(h * MARGIN + 0.5)
                padded = cv2.copyMakeBorder(gray, dy, dy, dx, dx, cv2.BORDER_REPLICATE)
                face = padded[y:y + h + 2 * dy, x:x + w + 2 * dx]
                crops.append(cv2.resize(face, (48, 48), interpolation=cv2.INTER_AREA))
            batch = np.stack(crops)[:, 2:46, 2:46].astype(np.float32) / 255.0
            batch = (batch - MEAN) / STD
            x = torch.from_numpy(batch).unsqueeze(1)
            with torch.no_grad():
                probs = ((model(x) + model(torch.flip(x, dims=[3]))) / 2).numpy()
            rows = []
            for (bx, by, bw, bh), crop, p in zip(boxes, crops, probs):
                fid = uuid.uuid4().hex
                rows.append((fid, time.time(), json.dumps([float(v) for v in p]),
                             crop.tobytes(), int(bx), int(by), int(bw), int(bh)))
                faces.append({"id": fid, "box": {"x": int(bx), "y": int(by), "w": int(bw),
                                                 "h": int(bh)},
                              "emotion": CLASSES[int(np.argmax(p))],
                              "probabilities": {c: float(v) for c, v in zip(CLASSES, p)}})
            with db_lock, db:
                db.executemany("INSERT INTO faces VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return {"faces": faces, "model": {"name": "fer-resnet-random", "version": "peer"},
                "elapsed_ms": (time.perf_counter() - t0) * 1e3}

    return app


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18081)
    ap.add_argument("--db", default="/tmp/fer_flask_peer.db")
    args = ap.parse_args()
    torch.manual_seed(1)
    app = create_app(args.db)
    print(f"flask peer on http://{args.host}:{args.port}/ (torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, opencv {cv2.__version__})", flush=True)
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    os.environ.setdefault("FLASK_ENV", "production")
    main()
