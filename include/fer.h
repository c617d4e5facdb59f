/*
 * fer.h - the public C API of fer, facial emotion recognition.
 *
 * Overview
 *
 *   An engine holds a trained emotion model and a face detector. Give it an
 *   image (any size, RGB or gray) and it returns every face it found: the box,
 *   the most likely emotion and the probability of each class.
 *
 *       char err[FER_ERR_LEN];
 *       fer_engine *engine;
 *       if (fer_engine_open(NULL, &engine, err) != FER_OK) { // built-in model and detector
 *           fprintf(stderr, "%s\n", err);
 *           return 1;
 *       }
 *       fer_analysis result;
 *       // 0: the default image-size limit; NULL: the decoded picture is not kept
 *       if (fer_engine_analyze_file(engine, "photo.jpg", 0, &result, NULL, err) == FER_OK) {
 *           for (size_t i = 0; i < result.n_faces; i++)
 *               printf("%s %.2f\n", fer_engine_class_name(engine, result.faces[i].emotion),
 *                      result.faces[i].probabilities[result.faces[i].emotion]);
 *           fer_analysis_free(&result);
 *       } else {
 *           fprintf(stderr, "%s\n", err);
 *       }
 *       fer_engine_close(engine);
 *
 *   (tests/install.sh compiles this example against an installed copy and runs it.)
 *
 * Conventions: functions return FER_OK (0) or a negative enum fer_status and
 * write a message into a caller-provided buffer of FER_ERR_LEN bytes. Objects
 * made by _open/_new are freed by the matching _close/_free (NULL is fine).
 * An engine may be used from several threads at once.
 *
 * Link with `pkg-config --cflags --libs fer`.
 */
#ifndef FER_H
#define FER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FER_VERSION_MAJOR 0
#define FER_VERSION_MINOR 1
#define FER_VERSION_PATCH 0

/* Length of the error-message buffers every fallible function takes. */
#define FER_ERR_LEN 512

enum fer_status {
    FER_OK = 0,
    FER_ERR_NOMEM = -1,   /* an allocation failed */
    FER_ERR_IO = -2,      /* open/read/write failed */
    FER_ERR_FORMAT = -3,  /* input is malformed (file, CSV row, spec, request) */
    FER_ERR_ARG = -4,     /* a caller or user passed an invalid argument */
    FER_ERR_CORRUPT = -5, /* checksum or structural check failed */
    FER_ERR_VERSION = -6, /* a file of an unsupported version */
    FER_ERR_LIMIT = -7,   /* a size limit was exceeded */
    FER_ERR_STATE = -8,   /* an operation was called in the wrong state */
};

/* A short static description of a status, e.g. "malformed input". */
const char *fer_status_str(enum fer_status st);

/* ---- images ---------------------------------------------------------------------------- */

/* An 8-bit image, gray (1 channel) or RGB (3), rows packed: stride = width * channels. */
typedef struct fer_image {
    int width, height;
    int channels;
    uint8_t *data; /* owned by whoever filled the struct; release with fer_image_free */
} fer_image;

/* An axis-aligned box in pixels. */
typedef struct fer_rect {
    int x, y, w, h;
} fer_rect;

/*
 * Decodes a JPEG, PNG or WebP file into RGB (or gray when want_gray), upright per
 * its EXIF orientation. Images over max_pixels (0: 50 megapixels) are refused
 * before they are decoded.
 */
enum fer_status fer_image_load(const char *path, int want_gray, size_t max_pixels, fer_image *img,
                               char *err);
void fer_image_free(fer_image *img);

/* ---- the engine: faces and their emotions ---------------------------------------------- */

#define FER_MAX_CLASSES 16
#define FER_FACE_SIDE   48

typedef struct fer_engine fer_engine;

/* Who finds the faces. */
enum fer_detector {
    FER_DETECTOR_YUNET, /* a CNN (libfacedetection's YuNet): scores and five landmarks */
    FER_DETECTOR_HAAR,  /* an OpenCV Haar cascade, OpenCV's exact boxes (the 2016 system's) */
    FER_DETECTOR_LBP,   /* an OpenCV LBP cascade, from cascade_path */
    FER_DETECTOR_NONE,  /* the whole image is one face: for pictures that are already crops */
};

struct fer_engine_options {
    const char *model_path;    /* "fast" or "accurate" (built in), or a .fer file; NULL or
                                  "builtin": the default built-in model */
    int detector;              /* enum fer_detector (default FER_DETECTOR_YUNET) */
    const char *detector_path; /* YuNet: a .fer of task=detect; NULL: the built-in one */
    float score_threshold;     /* YuNet: faces scoring below are dropped (default 0.6) */
    float nms_threshold;       /* YuNet: of two faces overlapping by more IoU, the weaker goes
                                  (default 0.3) */
    const char *cascade_path;  /* Haar, LBP: an OpenCV XML; NULL: the built-in Haar frontal face */
    double scale_factor;       /* cascades: detection pyramid step, > 1 (default 1.1) */
    int min_neighbors;         /* cascades: overlapping detections needed for a face (default 5) */
    int min_face, max_face;    /* face size limits in pixels, 0 for none (default 30, 0) */
    float margin;              /* context added around each box, as a fraction; < 0: the model's */
    int tta;                   /* 1: average each face with its mirror image (default 1) */
    int align;                 /* 1: turn each face so that its eyes are level before it is
                                  classified (with the landmarks of YuNet; default 0) */
    int merge_disgust;         /* 1: a 7-class model answers in the 6 classes of the 2016
                                  system, disgust's probability added to angry's (default 0) */
    size_t detect_max_pixels;  /* larger images are searched for faces on a copy reduced to this
                                  many pixels (area averaging), bounding the time and memory of
                                  one detection; faces are still cropped from the full image.
                                  Default FER_DETECT_MAX_PIXELS; 0: never reduce */
};

/* YuNet's defaults: see fer_engine_options. */
#define FER_DEFAULT_SCORE_THRESHOLD 0.6f
#define FER_DEFAULT_NMS_THRESHOLD   0.3f

/* 3840x2160: a 4K frame is searched as it is; a 40-megapixel photo costs as much as it. */
#define FER_DETECT_MAX_PIXELS ((size_t)3840 * 2160)

/* The largest image the commands and the server read unless told otherwise (--max-megapixels):
   a 48-megapixel phone photo passes. Decoding refuses larger ones before allocating. */
#define FER_DEFAULT_MAX_MEGAPIXELS 50

typedef struct fer_face {
    fer_rect box;
    float score;         /* how sure the detector is, in (0, 1]; -1 when it does not say */
    int has_landmarks;   /* 1 when the detector marked the five points below */
    float landmarks[10]; /* right eye, left eye, nose tip, right and left mouth corners (the
                            person's own sides): x, y in image pixels */
    int emotion;         /* index of the most likely class */
    float probabilities[FER_MAX_CLASSES];        /* one per class, summing to 1; scaled by
                                                    the model's fitted temperature, if any,
                                                    so that they read as odds */
    uint8_t crop[FER_FACE_SIDE * FER_FACE_SIDE]; /* the 48x48 gray face the model saw */
} fer_face;

typedef struct fer_analysis {
    size_t n_faces;
    fer_face *faces; /* owned; release with fer_analysis_free */
    double detect_ms, classify_ms;
} fer_analysis;

void fer_engine_options_default(struct fer_engine_options *o);
/* Opens an engine; opt may be NULL for the defaults. */
enum fer_status fer_engine_open(const struct fer_engine_options *opt, fer_engine **out, char *err);
void fer_engine_close(fer_engine *e);

/* Finds every face in img (gray or RGB) and classifies it. An image without faces gives 0. */
enum fer_status fer_engine_analyze(fer_engine *e, const fer_image *img, fer_analysis *out,
                                   char *err);
/*
 * The same for an image file. When keep_rgb is not NULL it receives the
 * decoded RGB image (the caller frees it), e.g. to draw on.
 */
enum fer_status fer_engine_analyze_file(fer_engine *e, const char *path, size_t max_pixels,
                                        fer_analysis *out, fer_image *keep_rgb, char *err);
/*
 * Classifies n already-cropped 48x48 gray faces (n * 2304 bytes, row-major);
 * probs receives n rows of FER_MAX_CLASSES floats (the first class-count used).
 */
enum fer_status fer_engine_classify_crops(fer_engine *e, const uint8_t *crops, size_t n,
                                          float *probs, char *err);
void fer_analysis_free(fer_analysis *a);

/* The model: class count and names ("angry", ...), name, version, other metadata. */
int fer_engine_class_count(const fer_engine *e);
const char *fer_engine_class_name(const fer_engine *e, int i);
const char *fer_engine_model_name(const fer_engine *e);
/* The first 12 hex digits of the model file's SHA-256 and its creation time. */
const char *fer_engine_model_version(const fer_engine *e);
/* The face detector's name: "yunet", "haar", "lbp" or "none". */
const char *fer_engine_detector(const fer_engine *e);
/* Any metadata key of the model file (e.g. "val_accuracy"), or NULL. Borrowed. */
const char *fer_engine_model_info(const fer_engine *e, const char *key);

/* ---- video: faces followed from frame to frame ----------------------------------------- */

/*
 * A tracker follows the faces of a video through its frames, for frames from any source (the
 * user's own capture, or fer video's decoder). Feed it the frames in order with their times;
 * it gives back the faces it follows, each with an id that stays the same while the face is
 * followed, and probabilities smoothed over time.
 *
 *     struct fer_tracker_options to;
 *     fer_tracker_options_default(&to);
 *     fer_tracker *tracker;
 *     fer_tracker_new(engine, &to, &tracker, err);
 *     for (each frame, at t seconds) {
 *         fer_tracks tracks;
 *         if (fer_tracker_feed(tracker, &frame, t, &tracks, err) != FER_OK) break;
 *         for (size_t i = 0; i < tracks.n; i++)
 *             printf("%d %s\n", tracks.tracks[i].id,
 *                    fer_engine_class_name(engine, tracks.tracks[i].face.emotion));
 *         fer_tracks_free(&tracks);
 *     }
 *     fer_tracker_free(tracker);
 *
 * The detector runs on every detect_every-th frame, on a copy reduced to detect_width pixels
 * across; between detections each face is followed by matching its look (normalised
 * cross-correlation) near where it was. Every followed face is classified on every frame.
 * A face that leaves the picture (or hides) for longer than forget_seconds ends its track; if
 * it comes back it gets a new id. A tracker is used by one thread at a time; the engine it
 * reads may serve others.
 */
typedef struct fer_tracker fer_tracker;

struct fer_tracker_options {
    int detect_every;      /* run the detector on every Nth frame, >= 1 (default 2) */
    int detect_width;      /* frames wider than this are reduced to it for detection (area
                              averaging); faces are still cropped from the full frame. 0: never
                              reduce (default 640) */
    double smooth_seconds; /* the time constant of the exponential smoothing of each track's
                              probabilities; 0: none (default 0.5) */
    double forget_seconds; /* a face the detector has not seen for longer ends (default 0.5) */
    float match_iou;       /* a detection continues the track it overlaps by at least this IoU
                              (default 0.3) */
};

typedef struct fer_track {
    int id;        /* 1, 2, ...: stable while the face is followed, never reused */
    fer_face face; /* where the face is in this frame; emotion and probabilities smoothed;
                      score and landmarks as the detector last gave them (landmarks moved
                      with the box between detections) */
    float raw_probabilities[FER_MAX_CLASSES]; /* this frame's, before smoothing */
    int detected;      /* 1 when the detector found the face in this frame, 0 when followed */
    long frames;       /* frames since the track began, this one included */
    double first_seen; /* the time of the track's first frame, seconds */
} fer_track;

typedef struct fer_tracks {
    size_t n;
    fer_track *tracks; /* owned; release with fer_tracks_free */
    int detected;      /* 1 when the detector ran on this frame */
    double detect_ms, track_ms, classify_ms;
} fer_tracks;

void fer_tracker_options_default(struct fer_tracker_options *o);
/* A tracker reading faces with engine (which must outlive it); opt NULL for the defaults. */
enum fer_status fer_tracker_new(fer_engine *engine, const struct fer_tracker_options *opt,
                                fer_tracker **out, char *err);
/*
 * The faces in the next frame (RGB or gray, all frames the same size) at time_s seconds
 * (increasing). A frame of another size than the first fails with FER_ERR_ARG.
 */
enum fer_status fer_tracker_feed(fer_tracker *t, const fer_image *frame, double time_s,
                                 fer_tracks *out, char *err);
void fer_tracks_free(fer_tracks *tracks);
void fer_tracker_free(fer_tracker *t);

/* ---- JSON: the face records of every command and of the REST API ---------------------- */

/*
 * The faces of an analysis as the JSON array fer predict writes ("faces"), each record with
 * its index as "id": box, score, landmarks, emotion, confidence, probabilities. The faces a
 * tracker follows, as /v1/stream writes them, each with its track's id. NULL when out of
 * memory; free with fer_string_free. (Bindings to other languages read faces this way, so
 * that every door of fer gives the same records.)
 */
char *fer_analysis_json(const fer_engine *e, const fer_analysis *a);
char *fer_tracks_json(const fer_engine *e, const fer_tracks *t);
void fer_string_free(char *s);

/* sizeof the option structs this library was built with: for bindings that lay them out
 * themselves, to check that they agree with it. */
size_t fer_engine_options_size(void);
size_t fer_tracker_options_size(void);

#ifdef __cplusplus
}
#endif

#endif
