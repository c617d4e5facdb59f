"""fer - facial emotion recognition, from fer's C library (libfer.so, through ctypes).

    import fer
    engine = fer.Engine()                   # the built-in model and the YuNet detector
    faces = engine.analyze("photo.jpg")     # or a numpy array: H x W gray or H x W x 3 RGB
    for face in faces:
        print(face["box"], face["emotion"], face["confidence"])

Each face is the record every fer command and the REST API write: id, box, score, landmarks,
emotion, confidence, probabilities. Options have the names of the command line's (--min-size
is min_size). A video's faces are followed with a tracker:

    tracker = engine.tracker(detect_every=2)
    for t, frame in frames:                 # numpy arrays, all the same size
        faces = tracker.feed(frame, t)      # "id" is the track's, stable while it is followed
"""
import ctypes
import json
import os

__all__ = ["Engine", "Tracker", "FerError", "DETECTORS"]
__version__ = "0.1.0"

DETECTORS = ("yunet", "haar", "lbp", "none")  # enum fer_detector's order
_ERR_LEN = 512


class FerError(Exception):
    """What fer's C library reported: the message says what is wrong."""


class _Image(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("channels", ctypes.c_int),
                ("data", ctypes.c_void_p)]


class _EngineOptions(ctypes.Structure):
    _fields_ = [("model_path", ctypes.c_char_p), ("detector", ctypes.c_int),
                ("detector_path", ctypes.c_char_p), ("score_threshold", ctypes.c_float),
                ("nms_threshold", ctypes.c_float), ("cascade_path", ctypes.c_char_p),
                ("scale_factor", ctypes.c_double), ("min_neighbors", ctypes.c_int),
                ("min_face", ctypes.c_int), ("max_face", ctypes.c_int),
                ("margin", ctypes.c_float), ("tta", ctypes.c_int), ("align", ctypes.c_int),
                ("merge_disgust", ctypes.c_int), ("detect_max_pixels", ctypes.c_size_t)]


class _TrackerOptions(ctypes.Structure):
    _fields_ = [("detect_every", ctypes.c_int), ("detect_width", ctypes.c_int),
                ("smooth_seconds", ctypes.c_double), ("forget_seconds", ctypes.c_double),
                ("match_iou", ctypes.c_float)]


class _Analysis(ctypes.Structure):
    _fields_ = [("n_faces", ctypes.c_size_t), ("faces", ctypes.c_void_p),
                ("detect_ms", ctypes.c_double), ("classify_ms", ctypes.c_double)]


class _Tracks(ctypes.Structure):
    _fields_ = [("n", ctypes.c_size_t), ("tracks", ctypes.c_void_p), ("detected", ctypes.c_int),
                ("detect_ms", ctypes.c_double), ("track_ms", ctypes.c_double),
                ("classify_ms", ctypes.c_double)]


def _load_library():
    path = os.environ.get("FER_LIBRARY") or os.path.join(os.path.dirname(__file__), "libfer.so")
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"fer: cannot load {path}: {e}") from e
    P, I, S = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    sigs = {
        "fer_engine_options_size": ([], ctypes.c_size_t),
        "fer_tracker_options_size": ([], ctypes.c_size_t),
        "fer_engine_options_default": ([P], None),
        "fer_engine_open": ([P, ctypes.POINTER(P), S], I),
        "fer_engine_close": ([P], None),
        "fer_engine_analyze": ([P, P, P, S], I),
        "fer_engine_analyze_file": ([P, S, ctypes.c_size_t, P, P, S], I),
        "fer_analysis_free": ([P], None),
        "fer_analysis_json": ([P, P], P),
        "fer_engine_class_count": ([P], I),
        "fer_engine_class_name": ([P, I], S),
        "fer_engine_model_name": ([P], S),
        "fer_engine_model_version": ([P], S),
        "fer_engine_detector": ([P], S),
        "fer_engine_model_info": ([P, S], S),
        "fer_tracker_options_default": ([P], None),
        "fer_tracker_new": ([P, P, ctypes.POINTER(P), S], I),
        "fer_tracker_feed": ([P, P, ctypes.c_double, P, S], I),
        "fer_tracks_free": ([P], None),
        "fer_tracks_json": ([P, P], P),
        "fer_tracker_free": ([P], None),
        "fer_string_free": ([P], None),
    }
    for name, (args, res) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    # the layouts above must be the library's
    for c_size, struct in ((lib.fer_engine_options_size(), _EngineOptions),
                           (lib.fer_tracker_options_size(), _TrackerOptions)):
        if c_size != ctypes.sizeof(struct):
            raise ImportError(f"fer: {path} lays out {struct.__name__} in {c_size} bytes, this "
                              f"package in {ctypes.sizeof(struct)}: the library and the package "
                              "are of different versions")
    return lib


_lib = _load_library()


def _check(status, err):
    if status != 0:
        raise FerError(err.value.decode("utf-8", "replace"))


def _json(ptr):
    """The records of a JSON string the library allocated (freed here)."""
    if not ptr:
        raise MemoryError("fer: out of memory writing the faces as JSON")
    try:
        return json.loads(ctypes.string_at(ptr).decode("utf-8"))
    finally:
        _lib.fer_string_free(ptr)


def _as_image(array):
    """A fer_image over a numpy array (H x W gray, H x W x 3 RGB, uint8) and the array it
    reads, which must stay alive while the image is used."""
    import numpy as np

    a = np.asarray(array)
    if a.dtype != np.uint8:
        raise TypeError(f"fer: images are uint8 arrays (0-255), not {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise ValueError(f"fer: an image is H x W (gray) or H x W x 3 (RGB), not {a.shape}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"fer: an empty image ({a.shape})")
    a = np.ascontiguousarray(a)
    img = _Image(a.shape[1], a.shape[0], 1 if a.ndim == 2 else 3, a.ctypes.data)
    return img, a


class _Owned:
    """An object of the C library, freed by close(), at the end of a with block, or when
    Python collects it."""

    _handle = None
    _free = None  # the library's function that frees the handle

    def close(self):
        if self._handle:
            type(self)._free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class Engine(_Owned):
    """A model and a face detector (fer_engine). Safe to use from several threads.

    model: a built-in model's name ("fast" or "accurate"; `fer info` lists them) or a .fer
    file; None for the default built-in model.
    detector: "yunet" (default), "haar", "lbp" (with cascade) or "none" (the whole image is
    one face). The other options are the command line's, with "_" for "-": detector_model,
    score_threshold, nms_threshold, cascade, scale_factor, min_neighbors, min_size, max_size,
    margin, tta (False is --no-tta), align, merge_disgust, max_megapixels.
    """

    _free = _lib.fer_engine_close

    def __init__(self, model=None, detector="yunet", detector_model=None, score_threshold=None,
                 nms_threshold=None, cascade=None, scale_factor=None, min_neighbors=None,
                 min_size=None, max_size=None, margin=None, tta=True, align=False,
                 merge_disgust=False, max_megapixels=50):
        if detector not in DETECTORS:
            raise ValueError(f"fer: detector must be one of {', '.join(DETECTORS)}, not {detector!r}")
        o = _EngineOptions()
        _lib.fer_engine_options_default(ctypes.byref(o))
        self._keep = []  # the bytes the options' strings point into

        def text(value):
            if value is None:
                return None
            b = os.fsencode(value)
            self._keep.append(b)
            return b

        o.model_path = text(model)
        o.detector = DETECTORS.index(detector)
        o.detector_path = text(detector_model)
        o.cascade_path = text(cascade)
        for field, value in (("score_threshold", score_threshold), ("nms_threshold", nms_threshold),
                             ("scale_factor", scale_factor), ("min_neighbors", min_neighbors),
                             ("min_face", min_size), ("max_face", max_size), ("margin", margin)):
            if value is not None:
                setattr(o, field, value)
        o.tta, o.align, o.merge_disgust = int(bool(tta)), int(bool(align)), int(bool(merge_disgust))
        self._max_pixels = int(max_megapixels) * 1000000
        self._handle = ctypes.c_void_p()
        err = ctypes.create_string_buffer(_ERR_LEN)
        _check(_lib.fer_engine_open(ctypes.byref(o), ctypes.byref(self._handle), err), err)

    def _open(self):
        if not self._handle:
            raise FerError("fer: the engine is closed")
        return self._handle

    def analyze(self, image):
        """Every face in image: a path (JPEG, PNG or WebP) or a numpy array (H x W gray or
        H x W x 3 RGB, uint8). A list of face records, as fer predict writes them."""
        handle = self._open()
        result = _Analysis()
        err = ctypes.create_string_buffer(_ERR_LEN)
        if isinstance(image, (str, bytes, os.PathLike)):
            st = _lib.fer_engine_analyze_file(handle, os.fsencode(image), self._max_pixels,
                                              ctypes.byref(result), None, err)
        else:
            img, _alive = _as_image(image)
            st = _lib.fer_engine_analyze(handle, ctypes.byref(img), ctypes.byref(result), err)
        _check(st, err)
        try:
            return _json(_lib.fer_analysis_json(handle, ctypes.byref(result)))
        finally:
            _lib.fer_analysis_free(ctypes.byref(result))

    def tracker(self, detect_every=None, detect_width=None, smooth=None, forget=None):
        """A Tracker that follows faces through a video's frames, with /v1/stream's and fer
        video's options: detect_every (frames), detect_width (pixels), smooth and forget
        (seconds)."""
        return Tracker(self, detect_every, detect_width, smooth, forget)

    @property
    def classes(self):
        h = self._open()
        return [_lib.fer_engine_class_name(h, i).decode() for i in range(_lib.fer_engine_class_count(h))]

    @property
    def model_name(self):
        return _lib.fer_engine_model_name(self._open()).decode()

    @property
    def model_version(self):
        return _lib.fer_engine_model_version(self._open()).decode()

    @property
    def detector(self):
        return _lib.fer_engine_detector(self._open()).decode()

    def model_info(self, key):
        """A metadata value of the model file (e.g. "val_accuracy"), or None."""
        v = _lib.fer_engine_model_info(self._open(), key.encode())
        return v.decode() if v is not None else None


class Tracker(_Owned):
    """Follows the faces of a video (fer_tracker); one thread at a time. feed() each frame, in
    order, with its time in seconds."""

    _free = _lib.fer_tracker_free

    def __init__(self, engine, detect_every=None, detect_width=None, smooth=None, forget=None):
        self._engine = engine  # kept alive: the tracker reads it
        o = _TrackerOptions()
        _lib.fer_tracker_options_default(ctypes.byref(o))
        for field, value in (("detect_every", detect_every), ("detect_width", detect_width),
                             ("smooth_seconds", smooth), ("forget_seconds", forget)):
            if value is not None:
                setattr(o, field, value)
        self._handle = ctypes.c_void_p()
        self.detected = False
        err = ctypes.create_string_buffer(_ERR_LEN)
        _check(_lib.fer_tracker_new(engine._open(), ctypes.byref(o), ctypes.byref(self._handle),
                                    err), err)

    def feed(self, frame, time):
        """The faces followed in this frame (numpy, H x W or H x W x 3 uint8) at `time` seconds:
        face records whose "id" is the track's. self.detected says whether the detector ran."""
        if not self._handle:
            raise FerError("fer: the tracker is closed")
        img, _alive = _as_image(frame)
        tracks = _Tracks()
        err = ctypes.create_string_buffer(_ERR_LEN)
        _check(_lib.fer_tracker_feed(self._handle, ctypes.byref(img), float(time),
                                     ctypes.byref(tracks), err), err)
        try:
            self.detected = bool(tracks.detected)
            return _json(_lib.fer_tracks_json(self._engine._open(), ctypes.byref(tracks)))
        finally:
            _lib.fer_tracks_free(ctypes.byref(tracks))
