/*
 * dataset.c - the fer_dataset helpers that do not touch files: class and usage
 * names, label-source parsing, row filtering, class counts, pixel statistics,
 * the 7 -> 6 class merge, and free. The CSV reader and writer live in
 * fer2013_csv.c, the FER+ relabelling in ferplus.c.
 */
#include "data/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"

const char *fer_usage_name(enum fer_usage u)
{
    switch (u) {
    case FER_USAGE_TRAINING:
        return "Training";
    case FER_USAGE_PUBLIC_TEST:
        return "PublicTest";
    case FER_USAGE_PRIVATE_TEST:
        return "PrivateTest";
    }
    return "unknown";
}

int fer_usage_parse(const char *s)
{
    if (!s)
        return FER_USAGE_UNSET;
    if (strcasecmp(s, "all") == 0)
        return FER_USAGE_ALL;
    for (int u = 0; u < FER_USAGE_COUNT; u++)
        if (strcasecmp(s, fer_usage_name((enum fer_usage)u)) == 0)
            return u;
    return FER_USAGE_UNSET;
}

/* Moves row `from` to row `to` (to <= from), for compacting in place. */
static void move_row(fer_dataset *ds, size_t to, size_t from)
{
    if (to == from)
        return;
    const size_t nc = (size_t)ds->n_classes;
    memcpy(ds->pixels + to * FER_FACE_PIXELS, ds->pixels + from * FER_FACE_PIXELS, FER_FACE_PIXELS);
    ds->labels[to] = ds->labels[from];
    ds->usage[to] = ds->usage[from];
    ds->usage_rank[to] = ds->usage_rank[from];
    if (ds->soft)
        memcpy(ds->soft + to * nc, ds->soft + from * nc, nc * sizeof(float));
}

/* "Training (28709), PublicTest (3589) and PrivateTest (3589)": the usages present. */
static void describe_usages(const size_t counts[FER_USAGE_COUNT], char *out, size_t len)
{
    int present = 0, shown = 0;
    for (int u = 0; u < FER_USAGE_COUNT; u++)
        present += counts[u] > 0;
    size_t at = 0;
    out[0] = '\0';
    for (int u = 0; u < FER_USAGE_COUNT && at < len; u++) {
        if (!counts[u])
            continue;
        const char *sep = shown == 0 ? "" : shown == present - 1 ? " and " : ", ";
        int k = snprintf(out + at, len - at, "%s%s (%zu)", sep, fer_usage_name((enum fer_usage)u),
                         counts[u]);
        if (k < 0)
            break;
        at += (size_t)k;
        shown++;
    }
}

enum fer_status fer_dataset_pick_usage(fer_dataset *ds, const char *path, int usage, int fallback,
                                       struct fer_usage_pick *pick, char *err)
{
    if (pick) {
        pick->kept = NULL;
        pick->note[0] = '\0';
    }
    if (!ds || usage < FER_USAGE_UNSET || usage >= FER_USAGE_COUNT || fallback < 0 ||
        fallback >= FER_USAGE_COUNT)
        return fer_errorf(err, FER_ERR_ARG, "fer_dataset_pick_usage: bad arguments");
    if (usage == FER_USAGE_ALL)
        return FER_OK;
    size_t counts[FER_USAGE_COUNT] = {0};
    int present = 0;
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->usage[i] >= FER_USAGE_COUNT)
            return fer_errorf(err, FER_ERR_STATE, "%s: row %zu has no valid usage", path, i + 1);
        counts[ds->usage[i]]++;
    }
    for (int u = 0; u < FER_USAGE_COUNT; u++)
        present += counts[u] > 0;
    if (usage == FER_USAGE_UNSET) {
        if (present <= 1)
            return FER_OK;
        usage = fallback;
    }
    char held[128];
    describe_usages(counts, held, sizeof(held));
    const char *name = fer_usage_name((enum fer_usage)usage);
    if (counts[usage] == 0)
        return fer_errorf(err, FER_ERR_FORMAT, "%s has no %s rows (it holds %s rows)", path, name,
                          present ? held : "no");
    if (counts[usage] == ds->n)
        return FER_OK;
    size_t kept = 0;
    for (size_t i = 0; i < ds->n; i++)
        if (ds->usage[i] == usage)
            move_row(ds, kept++, i);
    ds->n = kept;
    if (pick) {
        pick->kept = name;
        snprintf(pick->note, sizeof(pick->note), "%s mixes %s rows: using the %zu %s rows", path,
                 held, kept, name);
    }
    return FER_OK;
}

const char *fer_label_source_name(enum fer_label_source s)
{
    switch (s) {
    case FER_LABELS_FER2013:
        return "fer2013";
    case FER_LABELS_FERPLUS_MAJORITY:
        return "ferplus-majority";
    case FER_LABELS_FERPLUS_SOFT:
        return "ferplus-soft";
    case FER_LABELS_BLEND:
        return "fer2013+ferplus";
    }
    return "unknown";
}

int fer_label_source_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "fer2013") == 0)
        return FER_LABELS_FER2013;
    if (strcmp(s, "ferplus-majority") == 0)
        return FER_LABELS_FERPLUS_MAJORITY;
    if (strcmp(s, "ferplus-soft") == 0)
        return FER_LABELS_FERPLUS_SOFT;
    if (strcmp(s, "fer2013+ferplus") == 0)
        return FER_LABELS_BLEND;
    return -1;
}

void fer_dataset_free(fer_dataset *ds)
{
    if (!ds)
        return;
    fer_free(ds->pixels);
    fer_free(ds->labels);
    fer_free(ds->usage);
    fer_free(ds->usage_rank);
    fer_free(ds->soft);
    fer_free(ds);
}

/*
 * Compacts every per-row array in place; it allocates nothing, so it cannot
 * fail half way. The arrays keep their capacity.
 */
enum fer_status fer_dataset_filter(fer_dataset *ds, const uint8_t *keep, char *err)
{
    if (!ds || (ds->n > 0 && !keep))
        return fer_errorf(err, FER_ERR_ARG, "fer_dataset_filter: NULL dataset or keep mask");
    size_t j = 0;
    for (size_t i = 0; i < ds->n; i++)
        if (keep[i])
            move_row(ds, j++, i);
    ds->n = j;
    return FER_OK;
}

/* Labels outside [0, n_classes) are not counted (they cannot occur in a dataset fer built). */
void fer_dataset_class_counts(const fer_dataset *ds, size_t *counts)
{
    for (int c = 0; c < ds->n_classes; c++)
        counts[c] = 0;
    for (size_t i = 0; i < ds->n; i++)
        if (ds->labels[i] < ds->n_classes)
            counts[ds->labels[i]]++;
}

/*
 * Counts a histogram of the 256 grey levels, so the sums are exact integers
 * and the result does not depend on summation order. An empty dataset gives
 * mean 0 and std 1, so that normalising with them stays finite.
 */
void fer_dataset_pixel_stats(const fer_dataset *ds, float *mean, float *std)
{
    uint64_t hist[256] = {0};
    size_t total = ds->n * FER_FACE_PIXELS;
    for (size_t i = 0; i < total; i++)
        hist[ds->pixels[i]]++;
    if (total == 0) {
        *mean = 0.0f;
        *std = 1.0f;
        return;
    }
    double s = 0.0, s2 = 0.0;
    for (int v = 0; v < 256; v++) {
        double x = v / 255.0;
        s += (double)hist[v] * x;
        s2 += (double)hist[v] * x * x;
    }
    double m = s / (double)total;
    double var = s2 / (double)total - m * m;
    *mean = (float)m;
    *std = (float)sqrt(var > 0.0 ? var : 0.0);
}

enum fer_status fer_dataset_read_for_model(const char *path, int classes, int usage, int fallback,
                                           fer_dataset **out, struct fer_usage_pick *pick,
                                           char *err)
{
    struct fer_read_options ro = {0, -1, 0};
    enum fer_status st = fer_dataset_read_csv(path, &ro, out, NULL, err);
    if (st == FER_OK)
        st = fer_dataset_pick_usage(*out, path, usage, fallback, pick, err);
    if (st == FER_OK && classes == 6)
        st = fer_dataset_merge_disgust(*out, err);
    if (st != FER_OK && *out) {
        fer_dataset_free(*out);
        *out = NULL;
    }
    return st;
}

enum fer_status fer_dataset_merge_disgust(fer_dataset *ds, char *err)
{
    if (!ds)
        return fer_errorf(err, FER_ERR_ARG, "merge disgust: NULL dataset");
    if (ds->n_classes != 7)
        return fer_errorf(err, FER_ERR_STATE,
                          "merge disgust: dataset has %d classes, expected 7 (already merged?)",
                          ds->n_classes);
    for (size_t i = 0; i < ds->n; i++)
        if (ds->labels[i] >= 7)
            return fer_errorf(err, FER_ERR_STATE, "merge disgust: row %zu has label %d", i,
                              ds->labels[i]);
    for (size_t i = 0; i < ds->n; i++)
        ds->labels[i] = (uint8_t)fer_class_merged(ds->labels[i]);
    if (ds->soft) {
        /* Row i moves from offset 7i to 6i <= 7i: reading a row before writing it is safe. */
        for (size_t i = 0; i < ds->n; i++) {
            float row[7];
            memcpy(row, ds->soft + i * 7, sizeof(row));
            float *dst = ds->soft + i * 6;
            dst[0] = row[0] + row[1];
            for (int c = 2; c < 7; c++)
                dst[c - 1] = row[c];
        }
    }
    ds->n_classes = 6;
    return FER_OK;
}

static uint64_t hash_face(const uint8_t *px)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (int i = 0; i < FER_FACE_PIXELS; i++)
        h = (h ^ px[i]) * 1099511628211ULL;
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Hash equality is treated as identity: a 64-bit FNV collision among 30k faces is vanishingly
 * unlikely. */
enum fer_status fer_dataset_drop_overlap(fer_dataset *ds, const char *other_path, size_t *removed,
                                         char *err)
{
    struct fer_read_options ro = {1, -1, 0};
    fer_dataset *other = NULL;
    enum fer_status st = fer_dataset_read_csv(other_path, &ro, &other, NULL, err);
    if (st == FER_OK) /* of the original fer2013.csv, the Training rows */
        st = fer_dataset_pick_usage(other, other_path, FER_USAGE_UNSET, FER_USAGE_TRAINING, NULL,
                                    err);
    if (st != FER_OK) {
        fer_dataset_free(other);
        return st;
    }
    uint64_t *hashes = fer_malloc(sizeof(uint64_t) * (other->n ? other->n : 1));
    uint8_t *keep = fer_malloc(ds->n ? ds->n : 1);
    if (!hashes || !keep) {
        st = fer_errorf(err, FER_ERR_NOMEM, "out of memory");
        goto end;
    }
    for (size_t i = 0; i < other->n; i++)
        hashes[i] = hash_face(other->pixels + i * FER_FACE_PIXELS);
    qsort(hashes, other->n, sizeof(uint64_t), cmp_u64);
    *removed = 0;
    for (size_t i = 0; i < ds->n; i++) {
        uint64_t h = hash_face(ds->pixels + i * FER_FACE_PIXELS);
        keep[i] = bsearch(&h, hashes, other->n, sizeof(uint64_t), cmp_u64) == NULL;
        *removed += !keep[i];
    }
    st = fer_dataset_filter(ds, keep, err);
end:
    fer_free(hashes);
    fer_free(keep);
    fer_dataset_free(other);
    return st;
}
