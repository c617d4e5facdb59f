/*
 * face_json.h - the one JSON record of a face, written the same by fer
 * predict, fer detect and the REST API:
 *
 *     {"id": "0", "box": {"x": 10, "y": 20, "w": 64, "h": 80},
 *      "score": 0.93,                         (when the detector gives one)
 *      "landmarks": [[x, y] x 5],             (YuNet: right eye, left eye, nose tip,
 *                                              right and left mouth corner)
 *      "emotion": "happy", "confidence": 0.87,
 *      "probabilities": {"angry": 0.01, ...}} (all classes, or the top K)
 *
 * The id is a string: the face's index in the image for the commands, the
 * stored face's id (for POST /v1/feedback) in the API.
 */
#ifndef FER_PIPELINE_FACE_JSON_H
#define FER_PIPELINE_FACE_JSON_H

#include <jansson.h>

#include "fer.h"

/* Adds "box", "score" (when score >= 0) and "landmarks" (when not NULL: 10 floats) to o. */
void fer_face_json_detection(json_t *o, const fer_rect *box, float score, const float *landmarks);

/*
 * The whole record of face f as the engine classified it, with its id; top > 0 lists only the
 * top K classes, most likely first. NULL when out of memory.
 */
json_t *fer_face_json(const fer_engine *e, const fer_face *f, const char *id, int top);

/* The array of an analysis's face records, ids their indices ("0", "1", ...); the array of a
 * frame's tracked faces, ids their track ids. NULL when out of memory. */
json_t *fer_analysis_faces_json(const fer_engine *e, const fer_analysis *a, int top);
json_t *fer_tracks_faces_json(const fer_engine *e, const fer_tracks *t);

/* The class indices of face f by decreasing probability (k classes). */
void fer_face_rank_classes(const fer_face *f, int k, int *order);

#endif
