/* records.c - JSON lines, CSV and track histories of fer video (records.h). */
#include "video/records.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "pipeline/face_json.h"

struct fer_video_records {
    const fer_engine *e;
    int k;
    FILE *jsonl, *csv;
    char jsonl_path[1024], csv_path[1024];
    struct fer_track_history *tracks;
    size_t n, cap;
};

static enum fer_status open_file(const char *path, FILE **f, char *copy, size_t len, char *err)
{
    snprintf(copy, len, "%s", path);
    *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!*f)
        return fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return FER_OK;
}

enum fer_status fer_video_records_open(const fer_engine *e, const char *jsonl, const char *csv,
                                       fer_video_records **out, char *err)
{
    *out = NULL;
    fer_video_records *r = fer_calloc(1, sizeof(*r));
    if (!r)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for the records");
    r->e = e;
    r->k = fer_engine_class_count(e);
    enum fer_status st = FER_OK;
    if (jsonl)
        st = open_file(jsonl, &r->jsonl, r->jsonl_path, sizeof(r->jsonl_path), err);
    if (st == FER_OK && csv)
        st = open_file(csv, &r->csv, r->csv_path, sizeof(r->csv_path), err);
    if (st == FER_OK && r->csv) {
        fputs("frame,time,id,x,y,w,h,score,emotion,confidence", r->csv);
        for (int c = 0; c < r->k; c++)
            fprintf(r->csv, ",%s", fer_engine_class_name(e, c));
        fputc('\n', r->csv);
    }
    if (st != FER_OK) {
        fer_video_records_free(r);
        return st;
    }
    *out = r;
    return FER_OK;
}

static enum fer_status write_jsonl(fer_video_records *r, long frame, double time,
                                   const fer_tracks *t, char *err)
{
    json_t *faces = json_array();
    json_t *line = json_pack("{s:I, s:f, s:o}", "frame", (json_int_t)frame, "time",
                             round(time * 1e3) / 1e3, "faces", faces);
    if (!line)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory writing frame %ld", frame);
    for (size_t i = 0; i < t->n; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", t->tracks[i].id);
        json_array_append_new(faces, fer_face_json(r->e, &t->tracks[i].face, id, 0));
    }
    char *text = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(line);
    if (!text)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory writing frame %ld", frame);
    int bad = fputs(text, r->jsonl) < 0 || fputc('\n', r->jsonl) < 0;
    free(text);
    if (bad)
        return fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", r->jsonl_path, strerror(errno));
    return FER_OK;
}

static enum fer_status write_csv(fer_video_records *r, long frame, double time, const fer_tracks *t,
                                 char *err)
{
    for (size_t i = 0; i < t->n; i++) {
        const fer_face *f = &t->tracks[i].face;
        fprintf(r->csv, "%ld,%.3f,%d,%d,%d,%d,%d,%.4f,%s,%.4f", frame, time, t->tracks[i].id,
                f->box.x, f->box.y, f->box.w, f->box.h, (double)f->score,
                fer_engine_class_name(r->e, f->emotion), (double)f->probabilities[f->emotion]);
        for (int c = 0; c < r->k; c++)
            fprintf(r->csv, ",%.4f", (double)f->probabilities[c]);
        if (fputc('\n', r->csv) < 0)
            return fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", r->csv_path, strerror(errno));
    }
    return FER_OK;
}

/* The history of track id, made when it is first seen (ids only grow: it goes last). */
static struct fer_track_history *history_of(fer_video_records *r, int id)
{
    for (size_t i = r->n; i-- > 0;)
        if (r->tracks[i].id == id)
            return &r->tracks[i];
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        struct fer_track_history *t = fer_realloc(r->tracks, cap * sizeof(*t));
        if (!t)
            return NULL;
        r->tracks = t;
        r->cap = cap;
    }
    struct fer_track_history *h = &r->tracks[r->n++];
    memset(h, 0, sizeof(*h));
    h->id = id;
    return h;
}

static enum fer_status remember(fer_video_records *r, double time, const fer_track *tr, char *err)
{
    struct fer_track_history *h = history_of(r, tr->id);
    if (!h)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for track %d", tr->id);
    if ((h->n & (h->n - 1)) == 0) { /* grow at powers of two */
        size_t cap = h->n ? h->n * 2 : 1;
        double *times = fer_realloc(h->times, cap * sizeof(double));
        if (times)
            h->times = times;
        float *probs = fer_realloc(h->probs, cap * FER_MAX_CLASSES * sizeof(float));
        if (probs)
            h->probs = probs;
        if (!times || !probs)
            return fer_errorf(err, FER_ERR_NOMEM, "out of memory for track %d", tr->id);
    }
    h->times[h->n] = time;
    memcpy(h->probs + h->n * FER_MAX_CLASSES, tr->face.probabilities,
           sizeof(float) * FER_MAX_CLASSES);
    h->n++;
    h->top_frames[tr->face.emotion]++;
    return FER_OK;
}

enum fer_status fer_video_records_add(fer_video_records *r, long frame, double time,
                                      const fer_tracks *t, char *err)
{
    enum fer_status st = FER_OK;
    if (r->jsonl)
        st = write_jsonl(r, frame, time, t, err);
    if (st == FER_OK && r->csv)
        st = write_csv(r, frame, time, t, err);
    for (size_t i = 0; st == FER_OK && i < t->n; i++)
        st = remember(r, time, &t->tracks[i], err);
    return st;
}

static enum fer_status close_file(FILE **f, const char *path, char *err)
{
    if (!*f)
        return FER_OK;
    int bad = fflush(*f) != 0 || ferror(*f);
    int e = errno;
    if (*f != stdout && fclose(*f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    *f = NULL;
    return bad ? fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", path, strerror(e)) : FER_OK;
}

enum fer_status fer_video_records_close(fer_video_records *r, char *err)
{
    enum fer_status a = close_file(&r->jsonl, r->jsonl_path, err);
    enum fer_status b = close_file(&r->csv, r->csv_path, a == FER_OK ? err : NULL);
    return a != FER_OK ? a : b;
}

void fer_video_records_free(fer_video_records *r)
{
    if (!r)
        return;
    fer_video_records_close(r, NULL);
    for (size_t i = 0; i < r->n; i++) {
        fer_free(r->tracks[i].times);
        fer_free(r->tracks[i].probs);
    }
    fer_free(r->tracks);
    fer_free(r);
}

const struct fer_track_history *fer_video_records_tracks(const fer_video_records *r, size_t *n)
{
    *n = r->n;
    return r->tracks;
}

json_t *fer_video_records_summary(const fer_video_records *r)
{
    json_t *all = json_array();
    for (size_t i = 0; all && i < r->n; i++) {
        const struct fer_track_history *h = &r->tracks[i];
        int dominant = 0;
        for (int c = 1; c < r->k; c++)
            if (h->top_frames[c] > h->top_frames[dominant])
                dominant = c;
        json_t *share = json_object();
        for (int c = 0; c < r->k; c++)
            json_object_set_new(
                share, fer_engine_class_name(r->e, c),
                json_real(round(1e4 * (double)h->top_frames[c] / (double)h->n) / 1e4));
        json_array_append_new(
            all, json_pack("{s:i, s:f, s:f, s:I, s:s, s:o}", "id", h->id, "first_seen",
                           round(h->times[0] * 1e3) / 1e3, "last_seen",
                           round(h->times[h->n - 1] * 1e3) / 1e3, "frames", (json_int_t)h->n,
                           "dominant", fer_engine_class_name(r->e, dominant), "share", share));
    }
    return all;
}
