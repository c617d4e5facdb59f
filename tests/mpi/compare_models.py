"""compare_models.py - the largest difference between the weights of .fer model files.

    /usr/bin/python3 tests/mpi/compare_models.py A.fer B.fer [C.fer ...]

Reads each file's "params" and "buffers" sections (float32; nn/model_file.h gives the
layout), and prints one line per file after the first: its name, the largest absolute
difference from the first file's parameters and from its batch-norm statistics, and the
largest parameter magnitude. Exits 1 when a file is not a model or the shapes differ.
"""
import struct
import sys

import numpy as np


def sections(path):
    data = open(path, "rb").read()
    if data[:8] != b"FERMODEL":
        sys.exit(f"{path}: not a fer model")
    count = struct.unpack_from("<I", data, 12)[0]
    at, found = 16, {}
    for _ in range(count):
        name = data[at:at + 16].rstrip(b"\0").decode()
        size = struct.unpack_from("<Q", data, at + 16)[0]
        found[name] = data[at + 24:at + 24 + size]
        at += 24 + size
    return {k: np.frombuffer(found[k], dtype="<f4") for k in ("params", "buffers")}


first = sections(sys.argv[1])
for path in sys.argv[2:]:
    other = sections(path)
    if any(other[k].shape != first[k].shape for k in first):
        sys.exit(f"{path}: shapes differ from {sys.argv[1]}")
    dp = float(np.max(np.abs(other["params"] - first["params"])))
    db = float(np.max(np.abs(other["buffers"] - first["buffers"]))) if first["buffers"].size else 0.0
    print(f"{path} params {dp:.3g} buffers {db:.3g} largest {float(np.max(np.abs(first['params']))):.3g}")
