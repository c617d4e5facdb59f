#!/usr/bin/python3
"""detect_reference.py - reference face boxes from OpenCV for tests/test_detect.c.

Runs OpenCV 4.6's CascadeClassifier.detectMultiScale (Viola & Jones 2001;
tilted features after Lienhart & Maydt 2002; Debian's python3-opencv, run with
/usr/bin/python3) on the photos of tests/data/photos (named by their path in the repository)
and of shared/data/media (named relative to shared/data), the way a user would: cv2.imread(IMREAD_COLOR), cvtColor(BGR2GRAY), detectMultiScale. One
thread, so the boxes come in OpenCV's sequential order. Writes one JSON object
per line (file, cascade, params, boxes) so that the C test can read it without
a JSON library.

    /usr/bin/python3 scripts/detect_reference.py [shared_data_dir] [--pgm DIR]

--pgm also writes each gray image as binary PGM (for debugging the decoder).
"""
import json
import os
import sys

import cv2

CASCADES = "/usr/share/opencv4"
# (cascade, scale factor, min neighbours, min size), on every photo
CONFIGS = [
    ("haarcascades/haarcascade_frontalface_default.xml", 1.1, 3, 30),
    ("haarcascades/haarcascade_frontalface_default.xml", 1.1, 5, 30),
    ("haarcascades/haarcascade_frontalface_alt2.xml", 1.1, 3, 30),   # 2-node trees
    ("haarcascades/haarcascade_upperbody.xml", 1.1, 3, 0),           # tilted features
    ("lbpcascades/lbpcascade_frontalface_improved.xml", 1.1, 3, 30),
]
# on the photos of at most SMALL pixels, to keep the sanitizer test run short
SMALL = 800 * 800
SMALL_CONFIGS = [
    ("haarcascades/haarcascade_eye_tree_eyeglasses.xml", 1.1, 3, 0),  # tilted, 3-node trees
    ("haarcascades/haarcascade_licence_plate_rus_16stages.xml", 1.1, 3, 0),  # old layout
    ("lbpcascades/lbpcascade_frontalface.xml", 1.2, 2, 0),
]


def repo_photos(repo):
    d = os.path.join(repo, "tests", "data", "photos")
    return [(os.path.join(d, n), "tests/data/photos/" + n) for n in sorted(os.listdir(d))
            if n.lower().endswith((".jpg", ".png"))]


def photos(data):
    media = os.path.join(data, "media")
    out = []
    if not os.path.isdir(media):
        return out
    for sub in ("", "dlib_faces"):
        d = os.path.join(media, sub)
        for name in sorted(os.listdir(d)):
            if name.lower().endswith((".jpg", ".png")):
                rel = os.path.join("media", sub, name) if sub else os.path.join("media", name)
                out.append((os.path.join(data, rel), rel))
    return out


def main():
    args = sys.argv[1:]
    pgm_dir = None
    if "--pgm" in args:
        i = args.index("--pgm")
        pgm_dir = args[i + 1]
        del args[i:i + 2]
    here = os.path.dirname(os.path.abspath(__file__))
    data = args[0] if args else os.path.join(here, "..", "..", "shared", "data")
    out_path = os.path.join(here, "..", "tests", "data", "detect_reference.json")
    cv2.setNumThreads(1)
    cascades = {}
    lines = []
    for path, rel in repo_photos(os.path.join(here, "..")) + photos(data):
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        if pgm_dir:
            os.makedirs(pgm_dir, exist_ok=True)
            cv2.imwrite(os.path.join(pgm_dir, os.path.basename(rel) + ".pgm"), gray)
        small = gray.shape[0] * gray.shape[1] <= SMALL
        for casc, sf, mn, ms in CONFIGS + (SMALL_CONFIGS if small else []):
            if casc not in cascades:
                cascades[casc] = cv2.CascadeClassifier(os.path.join(CASCADES, casc))
            boxes = cascades[casc].detectMultiScale(gray, scaleFactor=sf, minNeighbors=mn,
                                                    minSize=(ms, ms))
            boxes = [[int(v) for v in b] for b in boxes]
            entry = {"file": rel, "cascade": casc, "scale_factor": sf, "min_neighbors": mn,
                     "min_size": ms, "boxes": boxes}
            lines.append(json.dumps(entry))
    with open(out_path, "w") as f:
        f.write("[\n" + ",\n".join(lines) + "\n]\n")
    print("wrote %d entries to %s" % (len(lines), os.path.normpath(out_path)))


if __name__ == "__main__":
    main()
