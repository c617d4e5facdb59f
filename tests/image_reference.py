#!/usr/bin/python3
"""image_reference.py - writes tests/data/image_reference.txt: what OpenCV 4.6
gives for the images that tests/test_image.c decodes and resizes, so the C
test can check that fer's image module matches it.

Run from the repository root with Debian's python3 (python3-opencv, numpy):

    /usr/bin/python3 tests/image_reference.py [SHARED_DATA_DIR]

SHARED_DATA_DIR defaults to ../shared/data. Lines (fields separated by
spaces, hashes are 64-bit FNV-1a of the pixel bytes as 16 hex digits):

    photo REL W H FNV_RGB GRAY_SUM FNV_GRAY   cv2.imread(IMREAD_COLOR), as RGB; its BGR2GRAY
    area REL X Y W H OW OH FNV                gray crop (border replicated), INTER_AREA to OWxOH
    exif REL ORIENTATION W H FNV_GRAY         REL with an EXIF APP1 spliced in (see exif_segment)
    synth SEED SW SH CN X Y W H OW OH INTERP HEX   synthetic image (see synth_image), crop, resize

INTERP is "area" (cv2.INTER_AREA, for shrinking) or "linear" (cv2.INTER_LINEAR,
for enlarging); HEX is the whole resized image.
"""
import os
import struct
import sys
import tempfile

import cv2
import numpy as np

MASK = (1 << 64) - 1


def fnv(arr):
    """64-bit FNV-1a of an array's bytes in C order."""
    h = 0xCBF29CE484222325
    for b in np.ascontiguousarray(arr).reshape(-1).tolist():
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def synth_image(seed, n):
    """n bytes of splitmix64 output (top byte of each draw); the C test has the same."""
    out = bytearray(n)
    s = seed & MASK
    for i in range(n):
        s = (s + 0x9E3779B97F4A7C15) & MASK
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        out[i] = z >> 56
    return out


def exif_segment(orientation, big_endian):
    """APP1 "Exif" segment whose IFD0 holds only the orientation tag (0x0112, SHORT)."""
    e = ">" if big_endian else "<"
    tiff = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8)
    tiff += struct.pack(e + "H", 1) + struct.pack(e + "HHIHH", 0x0112, 3, 1, orientation, 0)
    tiff += struct.pack(e + "I", 0)
    payload = b"Exif\0\0" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def crop_replicate(img, x, y, w, h):
    hh, ww = img.shape[:2]
    ys = np.clip(np.arange(y, y + h), 0, hh - 1)
    xs = np.clip(np.arange(x, x + w), 0, ww - 1)
    return img[ys][:, xs]


def photo_lines(data_dir):
    media = os.path.join(data_dir, "media")
    rels = sorted(f for f in os.listdir(media) if f.endswith((".jpg", ".png")))
    rels = ["media/" + f for f in rels]
    rels += ["media/dlib_faces/" + f for f in sorted(os.listdir(os.path.join(media, "dlib_faces")))
             if f.endswith(".jpg")]
    lines = []
    for rel in rels:
        bgr = cv2.imread(os.path.join(data_dir, rel), cv2.IMREAD_COLOR)
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        h, w = gray.shape
        lines.append("photo %s %d %d %016x %d %016x" % (
            rel, w, h, fnv(bgr[:, :, ::-1]), int(gray.sum(dtype=np.int64)), fnv(gray)))
        side = min(w, h)
        crops = [(0, 0, w, h, 48, 48),                                  # whole image
                 (w // 4, h // 5, side // 2, side // 2, 48, 48),         # a face-sized box
                 (-side // 10, -side // 12, side // 3, side // 3, 48, 48),  # partly outside
                 (w // 3, h // 3, 96, 96, 48, 48),                      # 2x2 blocks
                 (w // 2, h // 3, 144, 96, 48, 48)]                     # 3x2 blocks
        for (x, y, cw, ch, ow, oh) in crops:
            out = cv2.resize(crop_replicate(gray, x, y, cw, ch), (ow, oh),
                             interpolation=cv2.INTER_AREA)
            lines.append("area %s %d %d %d %d %d %d %016x" % (rel, x, y, cw, ch, ow, oh, fnv(out)))
    return lines


def exif_lines(data_dir):
    rel = "media/dlib_faces/2008_001009.jpg"
    raw = open(os.path.join(data_dir, rel), "rb").read()
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for o in range(1, 9):
            path = os.path.join(tmp, "o%d.jpg" % o)
            with open(path, "wb") as f:
                f.write(raw[:2] + exif_segment(o, o % 2 == 0) + raw[2:])
            gray = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2GRAY)
            h, w = gray.shape
            lines.append("exif %s %d %d %d %016x" % (rel, o, w, h, fnv(gray)))
    return lines


# seed, source w, h, channels, crop x, y, w, h, output w, h
SYNTH_CASES = [
    (1, 4, 4, 1, 0, 0, 4, 4, 2, 2),
    (2, 96, 96, 1, 0, 0, 96, 96, 48, 48),      # 2x2 blocks
    (3, 60, 30, 1, 0, 0, 60, 30, 20, 10),      # 3x3 blocks
    (4, 40, 40, 1, 0, 0, 40, 40, 10, 10),      # 4x4 blocks
    (5, 90, 40, 1, 0, 0, 90, 40, 30, 20),      # 3x2 blocks (not exactly 3 in double)
    (6, 100, 80, 1, 0, 0, 100, 80, 48, 48),
    (7, 77, 51, 1, 0, 0, 77, 51, 13, 17),
    (8, 53, 53, 1, 0, 0, 53, 53, 48, 48),
    (9, 250, 190, 1, 0, 0, 250, 190, 48, 48),
    (10, 60, 50, 1, -10, -5, 70, 40, 32, 24),  # partly outside
    (11, 60, 50, 1, 40, 30, 50, 50, 48, 48),
    (12, 50, 40, 3, 0, 0, 50, 40, 20, 16),
    (13, 64, 64, 3, 0, 0, 64, 64, 32, 32),
    (14, 31, 29, 3, 3, 2, 25, 25, 7, 7),
    (15, 70, 70, 1, 5, 5, 60, 48, 48, 48),     # one axis kept
    (16, 20, 15, 1, 0, 0, 20, 15, 48, 48),     # enlarging
    (17, 7, 5, 1, 0, 0, 7, 5, 20, 13),
    (18, 30, 30, 1, 10, 10, 10, 10, 48, 48),
    (19, 9, 7, 3, 0, 0, 9, 7, 30, 22),
    (20, 12, 12, 1, -4, -4, 16, 16, 40, 40),   # enlarging, partly outside
    (21, 33, 21, 1, 0, 0, 33, 21, 33, 40),     # one axis kept, one enlarged
]


def synth_lines():
    lines = []
    for (seed, sw, sh, cn, x, y, w, h, ow, oh) in SYNTH_CASES:
        img = np.frombuffer(synth_image(seed, sw * sh * cn), np.uint8).reshape(sh, sw, cn)
        if cn == 1:
            img = img[:, :, 0]
        crop = crop_replicate(img, x, y, w, h)
        interp = "area" if ow <= w and oh <= h else "linear"
        out = cv2.resize(crop, (ow, oh),
                         interpolation=cv2.INTER_AREA if interp == "area" else cv2.INTER_LINEAR)
        lines.append("synth %d %d %d %d %d %d %d %d %d %d %s %s" % (
            seed, sw, sh, cn, x, y, w, h, ow, oh, interp, out.tobytes().hex()))
    return lines


def main():
    data_dir = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
    out_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                            "image_reference.txt")
    lines = ["# image_reference.txt - written by tests/image_reference.py; do not edit.",
             "# OpenCV %s, numpy %s. Format: see the script." % (cv2.__version__, np.__version__)]
    lines += synth_lines()
    lines += photo_lines(data_dir)
    lines += exif_lines(data_dir)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s (%d lines)" % (out_path, len(lines)))


if __name__ == "__main__":
    main()
