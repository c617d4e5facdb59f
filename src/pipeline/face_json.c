/* face_json.c - the face record of fer predict, fer detect and the API (face_json.h). */
#include "pipeline/face_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Coordinates to 0.1 pixel, scores and probabilities to 6 digits: numbers, not strings. */
static json_t *rounded(double v, double unit)
{
    return json_real(round(v / unit) * unit);
}

void fer_face_json_detection(json_t *o, const fer_rect *box, float score, const float *landmarks)
{
    json_object_set_new(
        o, "box",
        json_pack("{s:i, s:i, s:i, s:i}", "x", box->x, "y", box->y, "w", box->w, "h", box->h));
    if (score >= 0)
        json_object_set_new(o, "score", rounded(score, 1e-6));
    if (!landmarks)
        return;
    json_t *points = json_array();
    for (int k = 0; k < 5; k++)
        json_array_append_new(points, json_pack("[o, o]", rounded(landmarks[2 * k], 0.1),
                                                rounded(landmarks[2 * k + 1], 0.1)));
    json_object_set_new(o, "landmarks", points);
}

void fer_face_rank_classes(const fer_face *f, int k, int *order)
{
    for (int c = 0; c < k; c++)
        order[c] = c;
    for (int a = 0; a < k; a++)
        for (int b = a + 1; b < k; b++)
            if (f->probabilities[order[b]] > f->probabilities[order[a]]) {
                int t = order[a];
                order[a] = order[b];
                order[b] = t;
            }
}

json_t *fer_face_json(const fer_engine *e, const fer_face *f, const char *id, int top)
{
    int k = fer_engine_class_count(e), order[FER_MAX_CLASSES];
    fer_face_rank_classes(f, k, order);
    int shown = top > 0 && top < k ? top : k;
    json_t *o = json_pack("{s:s}", "id", id);
    json_t *probs = json_object();
    if (!o || !probs) {
        json_decref(o);
        json_decref(probs);
        return NULL;
    }
    fer_face_json_detection(o, &f->box, f->score, f->has_landmarks ? f->landmarks : NULL);
    json_object_set_new(o, "emotion", json_string(fer_engine_class_name(e, f->emotion)));
    json_object_set_new(o, "confidence", rounded(f->probabilities[f->emotion], 1e-6));
    for (int i = 0; i < shown; i++) {
        int c = top > 0 ? order[i] : i;
        json_object_set_new(probs, fer_engine_class_name(e, c), rounded(f->probabilities[c], 1e-6));
    }
    json_object_set_new(o, "probabilities", probs);
    return o;
}

json_t *fer_analysis_faces_json(const fer_engine *e, const fer_analysis *a, int top)
{
    json_t *faces = json_array();
    for (size_t i = 0; faces && i < a->n_faces; i++) {
        char id[24];
        snprintf(id, sizeof(id), "%zu", i);
        if (json_array_append_new(faces, fer_face_json(e, &a->faces[i], id, top)) != 0) {
            json_decref(faces);
            return NULL;
        }
    }
    return faces;
}

json_t *fer_tracks_faces_json(const fer_engine *e, const fer_tracks *t)
{
    json_t *faces = json_array();
    for (size_t i = 0; faces && i < t->n; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", t->tracks[i].id);
        if (json_array_append_new(faces, fer_face_json(e, &t->tracks[i].face, id, 0)) != 0) {
            json_decref(faces);
            return NULL;
        }
    }
    return faces;
}

/* The text of a JSON value it consumes, compact, numbers as fer predict writes them; NULL when
 * out of memory. */
static char *dump(json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(v);
    return s;
}

char *fer_analysis_json(const fer_engine *e, const fer_analysis *a)
{
    return dump(fer_analysis_faces_json(e, a, 0));
}

char *fer_tracks_json(const fer_engine *e, const fer_tracks *t)
{
    return dump(fer_tracks_faces_json(e, t));
}

void fer_string_free(char *s)
{
    free(s); /* jansson's json_dumps allocates with malloc */
}
