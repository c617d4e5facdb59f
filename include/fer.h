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
 *       if (fer_engine_open(NULL, &engine, err) != FER_OK)   // built-in model and cascade
 *           { fprintf(stderr, "%s\n", err); return 1; }
 *       fer_analysis result;
 *       if (fer_engine_analyze_file(engine, "photo.jpg", &result, err) == FER_OK) {
 *           for (size_t i = 0; i < result.n_faces; i++)
 *               printf("%s %.2f\n", fer_engine_class_name(engine, result.faces[i].emotion),
 *                      result.faces[i].probabilities[result.faces[i].emotion]);
 *           fer_analysis_free(&result);
 *       }
 *       fer_engine_close(engine);
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

#ifdef __cplusplus
}
#endif

#endif
