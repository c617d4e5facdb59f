"""test_fer.py - the fer Python package (python/), installed with pip into a virtual
environment by tests/python.sh, against the fer command line. Run with Debian's python3 and
its numpy. Ends with "N passed, N failed, N skipped"."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

import fer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PHOTOS = os.path.join(ROOT, "tests", "data", "photos")
PORTRAITS = os.path.join(PHOTOS, "two_portraits.jpg")
FER = os.environ.get("FER_CLI", os.path.join(ROOT, "build", "fer"))


def fer_cli(*args):
    out = subprocess.run([FER, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def read_ppm(path):
    """An RGB image from a binary PPM (P6, 255)."""
    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        start = pos
        while not data[pos:pos + 1].isspace():
            pos += 1
        fields.append(data[start:pos])
    assert fields[0] == b"P6" and fields[3] == b"255"
    w, h = int(fields[1]), int(fields[2])
    return np.frombuffer(data[pos + 1:pos + 1 + w * h * 3], np.uint8).reshape(h, w, 3)


def portraits_rgb(test):
    """The two portraits as an RGB array, decoded by ffmpeg; skips the test without it."""
    with tempfile.TemporaryDirectory() as tmp:
        ppm = os.path.join(tmp, "p.ppm")
        try:
            subprocess.run(["ffmpeg", "-v", "error", "-i", PORTRAITS, ppm], check=True)
        except (OSError, subprocess.CalledProcessError):
            test.skipTest("ffmpeg is not installed to decode the photo")
        return read_ppm(ppm)


class EngineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.engine = fer.Engine()

    def test_three_lines_from_the_readme(self):
        engine = fer.Engine()
        faces = engine.analyze(PORTRAITS)
        self.assertEqual(len(faces), 2)

    def test_the_records_are_fer_predicts(self):
        faces = self.engine.analyze(PORTRAITS)
        cli = fer_cli("predict", "--format", "json", PORTRAITS)
        self.assertEqual(faces, cli[0]["faces"])
        self.assertEqual(set(faces[0]),
                         {"id", "box", "score", "landmarks", "emotion", "confidence", "probabilities"})

    def test_options_have_the_command_lines_names(self):
        options = dict(min_size=40, score_threshold=0.7, tta=False, merge_disgust=True)
        faces = fer.Engine(**options).analyze(PORTRAITS)
        cli = fer_cli("predict", "--format", "json", "--min-size", "40", "--score-threshold",
                      "0.7", "--no-tta", "--merge-disgust", PORTRAITS)
        self.assertEqual(faces, cli[0]["faces"])
        self.assertEqual(len(faces[0]["probabilities"]), 6)
        self.assertEqual(fer.Engine(min_size=2000).analyze(PORTRAITS), [])

    def test_a_built_in_model_by_name(self):
        self.assertEqual(fer.Engine(model="fast").analyze(PORTRAITS), self.engine.analyze(PORTRAITS))
        self.assertEqual(fer.Engine(model="fast").model_name, self.engine.model_name)
        accurate = fer.Engine(model="accurate")
        self.assertEqual(accurate.model_name, "fer-accurate")
        cli = fer_cli("predict", "--format", "json", "--model", "accurate", PORTRAITS)
        self.assertEqual(accurate.analyze(PORTRAITS), cli[0]["faces"])

    def test_the_haar_cascade_and_a_model_file(self):
        model = os.path.join(ROOT, "models", "fer-resnet-111.fer")
        faces = fer.Engine(model=model, detector="haar").analyze(PORTRAITS)
        cli = fer_cli("predict", "--format", "json", "--model", model, "--detector", "haar",
                      PORTRAITS)
        self.assertEqual(faces, cli[0]["faces"])
        self.assertNotIn("landmarks", faces[0])

    def test_a_numpy_rgb_array(self):
        rgb = portraits_rgb(self)
        from_array = self.engine.analyze(rgb)
        from_file = self.engine.analyze(PORTRAITS)
        self.assertEqual(len(from_array), len(from_file))
        for a, b in zip(from_array, from_file):  # ffmpeg's JPEG decoder rounds differently
            for k in "xywh":
                self.assertLessEqual(abs(a["box"][k] - b["box"][k]), 3)
            self.assertEqual(a["emotion"], b["emotion"])

    def test_gray_arrays_and_a_crop_with_no_detector(self):
        rng = np.random.default_rng(3)
        gray = rng.integers(0, 256, (120, 160), dtype=np.uint8)
        self.assertIsInstance(self.engine.analyze(gray), list)
        crop = fer.Engine(detector="none").analyze(gray[:48, :48])
        self.assertEqual(len(crop), 1)
        self.assertEqual(crop[0]["box"], {"x": 0, "y": 0, "w": 48, "h": 48})
        self.assertAlmostEqual(sum(crop[0]["probabilities"].values()), 1, places=4)
        # a non-contiguous view and an H x W x 1 array are read as they are
        self.assertEqual(fer.Engine(detector="none").analyze(gray[::2, ::2][:48, :48, None])[0]["id"], "0")

    def test_the_model(self):
        self.assertEqual(self.engine.classes,
                         ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])
        self.assertEqual(self.engine.detector, "yunet")
        self.assertEqual(self.engine.model_name, fer_cli("info", "--json")["meta"]["name"])
        self.assertGreater(float(self.engine.model_info("val_accuracy")), 0.6)
        self.assertIsNone(self.engine.model_info("no such key"))

    def test_bad_input_says_what_is_wrong(self):
        with self.assertRaises(fer.FerError) as e:
            self.engine.analyze("/nonexistent/photo.jpg")
        self.assertIn("/nonexistent/photo.jpg", str(e.exception))
        with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
            f.write(b"\xff\xd8\xff\xe0 not really a JPEG")
            f.flush()
            with self.assertRaises(fer.FerError):
                self.engine.analyze(f.name)
        with self.assertRaises(TypeError):
            self.engine.analyze(np.zeros((10, 10), np.float32))
        with self.assertRaises(ValueError):
            self.engine.analyze(np.zeros((10, 10, 4), np.uint8))
        with self.assertRaises(ValueError):
            self.engine.analyze(np.zeros((0, 10), np.uint8))
        with self.assertRaises(ValueError):
            fer.Engine(detector="cnn")
        with self.assertRaises(fer.FerError) as e:
            fer.Engine(model="/nonexistent/model.fer")
        self.assertIn("model.fer", str(e.exception))
        engine = fer.Engine()
        engine.close()
        with self.assertRaises(fer.FerError):
            engine.analyze(PORTRAITS)


class TrackerTest(unittest.TestCase):
    def test_faces_keep_their_ids_across_frames(self):
        rgb = portraits_rgb(self)
        engine = fer.Engine()
        tracker = engine.tracker(detect_every=3, smooth=0.2)
        ids, detected = [], []
        for i in range(9):
            frame = np.roll(rgb, 4 * i, axis=1)  # the faces move right, 4 pixels a frame
            faces = tracker.feed(frame, i / 30)
            ids.append(sorted(f["id"] for f in faces))
            detected.append(tracker.detected)
        self.assertEqual(ids, [["1", "2"]] * 9)
        self.assertEqual(detected, [True, False, False] * 3)
        with self.assertRaises(fer.FerError):  # another size than the first frame's
            tracker.feed(rgb[:100], 1.0)
        tracker.close()


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    skipped = len(result.skipped)
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed - skipped} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed else 0)
