#!/usr/bin/python3
"""opencv_detect.py - OpenCV's side of bench/detect.sh (bench_detect.c is fer's).

Times CascadeClassifier.detectMultiScale (Viola & Jones 2001; Lienhart &
Maydt 2002) on gray images, one thread, and prints one JSON line per image like
build/bench_detect does: the median thread CPU time of detection alone
(decoding excluded) over the rounds, after a warm-up, and the boxes. With
--accuracy DIR: recall and precision at IoU >= 0.5 against DIR/training.xml,
matched the same way as bench_detect.c.

    /usr/bin/python3 bench/opencv_detect.py [--cascade XML] [--scale 1.1]
        [--min-neighbors 3] [--min-size 30] [--rounds 5] IMAGE...
"""
import argparse
import json
import os
import re
import time

import cv2

DEFAULT = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"


def iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = (x1 - x0) * (y1 - y0) if x1 > x0 and y1 > y0 else 0
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def match(truth, det):
    used_t, used_d, hits = set(), set(), 0
    while True:
        best, bt, bd = 0.5, -1, -1
        for i, t in enumerate(truth):
            for j, d in enumerate(det):
                if i not in used_t and j not in used_d and iou(t, d) >= best:
                    best, bt, bd = iou(t, d), i, j
        if bt < 0:
            return hits
        used_t.add(bt)
        used_d.add(bd)
        hits += 1


def gray(path):
    return cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2GRAY)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cascade", default=DEFAULT)
    ap.add_argument("--scale", type=float, default=1.1)
    ap.add_argument("--min-neighbors", type=int, default=3)
    ap.add_argument("--min-size", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--accuracy")
    ap.add_argument("images", nargs="*")
    a = ap.parse_args()
    cv2.setNumThreads(1)
    c = cv2.CascadeClassifier(a.cascade)
    detect = lambda g: [[int(v) for v in b] for b in c.detectMultiScale(
        g, scaleFactor=a.scale, minNeighbors=a.min_neighbors, minSize=(a.min_size, a.min_size))]
    if a.accuracy:
        xml = open(os.path.join(a.accuracy, "training.xml")).read()
        faces = dets = hits = 0
        for name, body in re.findall(r"<image file='([^']+)'[^>]*>(.*?)</image>", xml, re.S):
            truth = [(int(l), int(t), int(w), int(h)) for t, l, w, h in re.findall(
                r"<box top='(\d+)' left='(\d+)' width='(\d+)' height='(\d+)'", body)]
            boxes = detect(gray(os.path.join(a.accuracy, name)))
            h = match(truth, boxes)
            print(json.dumps({"peer": "opencv", "image": name, "faces": len(truth),
                              "detections": len(boxes), "matched": h, "boxes": boxes}))
            faces, dets, hits = faces + len(truth), dets + len(boxes), hits + h
        print(json.dumps({"peer": "opencv", "min_neighbors": a.min_neighbors,
                          "min_size": a.min_size, "faces": faces, "detections": dets,
                          "matched": hits, "recall": round(hits / max(faces, 1), 4),
                          "precision": round(hits / max(dets, 1), 4)}))
        return
    for path in a.images:
        g = gray(path)
        boxes = detect(g)  # warm-up
        ms = []
        for _ in range(a.rounds):
            t0 = time.thread_time()  # CPU time of this thread, as bench_detect measures
            boxes = detect(g)
            ms.append((time.thread_time() - t0) * 1e3)
        ms.sort()
        print(json.dumps({"peer": "opencv", "image": path, "width": g.shape[1],
                          "height": g.shape[0], "threads": 1, "ms": round(ms[len(ms) // 2], 3),
                          "boxes": boxes}))


if __name__ == "__main__":
    main()
