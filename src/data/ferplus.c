/*
 * ferplus.c - replaces FER2013 labels with the FER+ crowd votes of
 * fer2013new.csv (Barsoum et al., "Training Deep Networks for Facial
 * Expression Recognition with Crowd-Sourced Label Distribution", ICMI 2016).
 *
 * FER+ rows are matched to dataset rows by usage and rank, never by image
 * name (the names skip excluded rows). Only the FER+ rows that the dataset
 * needs are kept in memory: a dataset without PrivateTest rows never looks at
 * the PrivateTest votes.
 */
#include "data/dataset.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/file.h"
#include "data/csv_fields.h"

#define FP_FIELDS   12
#define FP_EMOTIONS 7
#define FP_LINE_MAX 1024

static const char *const fp_header[FP_FIELDS] = {
    "Usage", "Image name", "neutral", "happiness", "surprise", "sadness",
    "anger", "disgust",    "fear",    "contempt",  "unknown",  "NF",
};

/* FER2013 class id of FER+ emotion column j (neutral, happiness, ..., fear). */
static const int fp_to_fer[FP_EMOTIONS] = {6, 3, 5, 4, 0, 1, 2};

/* The votes of one FER+ row, indexed by FER2013 class id. */
struct fp_row {
    uint16_t votes[FP_EMOTIONS];
    uint32_t junk; /* unknown + NF */
    uint8_t named; /* the image name is not empty */
};

/* Trims blanks and one pair of surrounding double quotes. */
static struct fer_span field_trim(char *p, size_t n)
{
    struct fer_span s = fer_span_trim((struct fer_span){p, n});
    if (s.n >= 2 && s.p[0] == '"' && s.p[s.n - 1] == '"') {
        s.p++;
        s.n -= 2;
    }
    return s;
}

/* Splits on commas; returns the field count, or FP_FIELDS + 1 when there are more. */
static int split(char *s, size_t len, struct fer_span *f)
{
    int k = 0;
    size_t i = 0;
    for (;;) {
        if (k == FP_FIELDS)
            return FP_FIELDS + 1;
        char *comma = memchr(s + i, ',', len - i);
        size_t end = comma ? (size_t)(comma - s) : len;
        f[k++] = field_trim(s + i, end - i);
        if (!comma)
            return k;
        i = end + 1;
    }
}

static int parse_count(struct fer_span s, uint32_t *v)
{
    if (s.n == 0 || s.n > 5)
        return -1;
    uint32_t x = 0;
    for (size_t i = 0; i < s.n; i++) {
        if ((unsigned)(s.p[i] - '0') >= 10u)
            return -1;
        x = x * 10u + (uint32_t)(s.p[i] - '0');
    }
    if (x > UINT16_MAX)
        return -1;
    *v = x;
    return 0;
}

/* Reads one line into buf (*len excludes "\n" or "\r\n"); *got is 0 at the end of the file. */
static enum fer_status read_line(gzFile gz, const char *path, size_t line_no, char *buf,
                                 size_t *len, int *got, char *err)
{
    char *s = gzgets(gz, buf, FP_LINE_MAX);
    int zerr = Z_OK;
    const char *zmsg = gzerror(gz, &zerr);
    if (zerr != Z_OK) {
        if (zerr == Z_ERRNO)
            return fer_errorf(err, FER_ERR_IO, "%s: read error: %s", path, strerror(errno));
        if (zerr == Z_MEM_ERROR)
            return fer_errorf(err, FER_ERR_NOMEM, "%s: out of memory in zlib", path);
        size_t pn = strlen(path); /* zlib puts "path: " in front of its message */
        if (zmsg && strncmp(zmsg, path, pn) == 0 && zmsg[pn] == ':' && zmsg[pn + 1] == ' ')
            zmsg += pn + 2;
        return fer_errorf(err, FER_ERR_FORMAT, "%s:%zu: truncated or corrupt gzip stream (%s)",
                          path, line_no, zmsg && *zmsg ? zmsg : "zlib error");
    }
    *got = s != NULL;
    if (!s)
        return FER_OK;
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    else if (n == FP_LINE_MAX - 1 && !gzeof(gz))
        return fer_errorf(err, FER_ERR_FORMAT, "%s:%zu: line longer than %d bytes", path, line_no,
                          FP_LINE_MAX - 2);
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    *len = n;
    return FER_OK;
}

/*
 * Reads the FER+ file, keeping the first need[u] rows of each usage u in
 * rows[u] (arrays of need[u] entries) and counting all rows in have[u].
 */
static enum fer_status read_ferplus(const char *path, const size_t *need, struct fp_row **rows,
                                    size_t *have, char *err)
{
    enum fer_status st = FER_OK;
    char buf[FP_LINE_MAX], shown[32];
    struct fer_span f[FP_FIELDS];
    size_t line_no = 1, len = 0;
    int got = 0;

    int fd;
    if ((st = fer_file_open_regular(path, "FER+ file", &fd, NULL, err)) != FER_OK)
        return st;
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory opening %s", path);
    }
    if ((st = read_line(gz, path, line_no, buf, &len, &got, err)) != FER_OK)
        goto end;
    if (!got) {
        st = fer_errorf(err, FER_ERR_FORMAT, "%s: empty file (expected the FER+ header)", path);
        goto end;
    }
    int nf = split(buf, len, f);
    for (int k = 0; k < FP_FIELDS; k++) {
        size_t hn = strlen(fp_header[k]);
        if (nf != FP_FIELDS || f[k].n != hn || strncasecmp(f[k].p, fp_header[k], hn) != 0) {
            st = fer_errorf(err, FER_ERR_FORMAT,
                            "%s:1: expected the FER+ header \"Usage,Image name,neutral,"
                            "happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\"",
                            path);
            goto end;
        }
    }

    for (;;) {
        line_no++;
        if ((st = read_line(gz, path, line_no, buf, &len, &got, err)) != FER_OK)
            goto end;
        if (!got)
            break;
        if (len == 0)
            continue;
        nf = split(buf, len, f);
        if (nf != FP_FIELDS) {
            st = fer_errorf(err, FER_ERR_FORMAT, "%s:%zu: expected %d fields, found %s%d", path,
                            line_no, FP_FIELDS, nf > FP_FIELDS ? "more than " : "",
                            nf > FP_FIELDS ? FP_FIELDS : nf);
            goto end;
        }
        int u = fer_span_usage(f[0]);
        if (u < 0) {
            st = fer_errorf(err, FER_ERR_FORMAT, "%s:%zu: unknown usage \"%s\"", path, line_no,
                            fer_csv_show(shown, f[0].p, f[0].n));
            goto end;
        }
        struct fp_row row = {{0}, 0, (uint8_t)(f[1].n > 0)};
        for (int k = 2; k < FP_FIELDS; k++) {
            uint32_t v;
            if (parse_count(f[k], &v) != 0) {
                st = fer_errorf(err, FER_ERR_FORMAT,
                                "%s:%zu: %s vote count \"%s\" is not an integer 0..65535", path,
                                line_no, fp_header[k], fer_csv_show(shown, f[k].p, f[k].n));
                goto end;
            }
            if (k - 2 < FP_EMOTIONS)
                row.votes[fp_to_fer[k - 2]] = (uint16_t)v;
            else if (k >= FP_FIELDS - 2) /* unknown, NF; contempt is dropped */
                row.junk += v;
        }
        if (have[u] < need[u])
            rows[u][have[u]] = row;
        have[u]++;
    }
end:
    gzclose(gz);
    return st;
}

/*
 * A row is unusable when FER+ excluded it (empty image name), when it has no
 * emotion votes, or when unknown + NF outvote the strongest emotion. The
 * majority is the emotion with the most votes, ties going to the lowest
 * FER2013 class id so that the result is deterministic.
 */
static int fp_usable(const struct fp_row *r, int *majority, uint32_t *sum)
{
    uint32_t best = 0, total = 0;
    int arg = 0;
    for (int c = 0; c < FP_EMOTIONS; c++) {
        total += r->votes[c];
        if (r->votes[c] > best) {
            best = r->votes[c];
            arg = c;
        }
    }
    *majority = arg;
    *sum = total;
    return r->named && total > 0 && r->junk <= best;
}

/*
 * Checks the arguments and the dataset's rows; need[u] gets how many rows of usage u the
 * dataset reaches into (the highest rank plus one).
 */
static enum fer_status check_dataset(const fer_dataset *ds, const char *ferplus_path,
                                     enum fer_label_source source, float weight, size_t *need,
                                     char *err)
{
    if (!ds || !ferplus_path)
        return fer_errorf(err, FER_ERR_ARG, "fer_dataset_apply_ferplus: NULL argument");
    if (source != FER_LABELS_FER2013 && source != FER_LABELS_FERPLUS_MAJORITY &&
        source != FER_LABELS_FERPLUS_SOFT && source != FER_LABELS_BLEND)
        return fer_errorf(err, FER_ERR_ARG, "unknown label source %d", (int)source);
    if (!(weight >= 0 && weight <= 1))
        return fer_errorf(err, FER_ERR_ARG, "FER+ weight %g is not in [0, 1]", (double)weight);
    if (ds->n_classes != 7)
        return fer_errorf(err, FER_ERR_STATE,
                          "FER+ labels need the 7-class dataset (it has %d); merge afterwards",
                          ds->n_classes);
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->usage[i] >= FER_USAGE_COUNT || ds->labels[i] >= FP_EMOTIONS)
            return fer_errorf(err, FER_ERR_STATE, "dataset row %zu has usage %d, label %d", i,
                              ds->usage[i], ds->labels[i]);
        if ((size_t)ds->usage_rank[i] + 1 > need[ds->usage[i]])
            need[ds->usage[i]] = (size_t)ds->usage_rank[i] + 1;
    }
    return FER_OK;
}

/* Room for the need[u] FER+ rows of each usage u. */
static enum fer_status alloc_rows(const size_t *need, struct fp_row **rows, char *err)
{
    for (int u = 0; u < FER_USAGE_COUNT; u++)
        if (need[u] && !(rows[u] = fer_calloc(need[u], sizeof(struct fp_row))))
            return fer_errorf(err, FER_ERR_NOMEM, "out of memory for FER+ votes");
    return FER_OK;
}

/* Reads the FER+ rows the dataset needs into rows; the file must have them all. */
static enum fer_status read_needed(const char *ferplus_path, const size_t *need,
                                   struct fp_row **rows, char *err)
{
    size_t have[FER_USAGE_COUNT] = {0};
    enum fer_status st = read_ferplus(ferplus_path, need, rows, have, err);
    if (st != FER_OK)
        return st;
    for (int u = 0; u < FER_USAGE_COUNT; u++) {
        if (have[u] < need[u])
            return fer_errorf(err, FER_ERR_FORMAT,
                              "%s has %zu %s rows but the dataset has %s row %zu: the files do "
                              "not match",
                              ferplus_path, have[u], fer_usage_name((enum fer_usage)u),
                              fer_usage_name((enum fer_usage)u), need[u] - 1);
    }
    return FER_OK;
}

/*
 * New labels (majority sources) and soft targets (when soft is not NULL) from each row's
 * votes; keep[i] says whether row i stays. Returns the number of rows to drop. Cannot fail.
 */
static size_t relabel(fer_dataset *ds, struct fp_row *const *rows, enum fer_label_source source,
                      float weight, int drop_unusable, uint8_t *keep, float *soft)
{
    size_t dropped = 0;
    for (size_t i = 0; i < ds->n; i++) {
        const struct fp_row *r = &rows[ds->usage[i]][ds->usage_rank[i]];
        int majority;
        uint32_t sum;
        int usable = fp_usable(r, &majority, &sum);
        keep[i] = (uint8_t)(usable || !drop_unusable);
        if (!usable) {
            dropped += drop_unusable != 0;
            if (soft)
                soft[i * FP_EMOTIONS + ds->labels[i]] = 1.0f;
            continue;
        }
        if (source == FER_LABELS_FERPLUS_MAJORITY || source == FER_LABELS_FERPLUS_SOFT)
            ds->labels[i] = (uint8_t)majority;
        if (soft) {
            float *t = soft + i * FP_EMOTIONS;
            for (int c = 0; c < FP_EMOTIONS; c++)
                t[c] = weight * (float)r->votes[c] / (float)sum;
            t[ds->labels[i]] += 1 - weight;
        }
    }
    return dropped;
}

/*
 * With source FER_LABELS_FER2013 the labels stay as they are and only
 * drop_unusable has an effect. With FERPLUS_MAJORITY any old soft targets are
 * freed (they would no longer match the labels). *n_dropped is the number of
 * rows removed (0 without drop_unusable). On error ds is left unchanged.
 */
static enum fer_status apply_ferplus(fer_dataset *ds, const char *ferplus_path,
                                     enum fer_label_source source, float weight, int drop_unusable,
                                     size_t *n_dropped, char *err)
{
    struct fp_row *rows[FER_USAGE_COUNT] = {NULL};
    size_t need[FER_USAGE_COUNT] = {0};
    uint8_t *keep = NULL;
    float *soft = NULL;

    if (n_dropped)
        *n_dropped = 0;
    enum fer_status st = check_dataset(ds, ferplus_path, source, weight, need, err);
    if (st != FER_OK)
        return st;
    const int soft_mode = source == FER_LABELS_FERPLUS_SOFT || source == FER_LABELS_BLEND;
    if ((st = alloc_rows(need, rows, err)) != FER_OK)
        goto end;
    /* Allocated even for an empty dataset, so that soft mode always has ds->soft. */
    keep = fer_malloc(ds->n);
    if (soft_mode) {
        size_t n_soft;
        if (fer_size_mul(ds->n, FP_EMOTIONS, &n_soft))
            soft = fer_calloc(n_soft, sizeof(float));
    }
    if (!keep || (soft_mode && !soft)) {
        st = fer_errorf(err, FER_ERR_NOMEM, "out of memory for FER+ labels");
        goto end;
    }
    if ((st = read_needed(ferplus_path, need, rows, err)) != FER_OK)
        goto end;

    /* Nothing can fail from here on, so ds changes only on success. */
    size_t dropped = relabel(ds, rows, source, weight, drop_unusable, keep, soft);
    if (soft_mode) {
        fer_free(ds->soft);
        ds->soft = soft;
        soft = NULL;
    } else if (source == FER_LABELS_FERPLUS_MAJORITY) {
        fer_free(ds->soft);
        ds->soft = NULL;
    }
    if (drop_unusable && dropped > 0)
        st = fer_dataset_filter(ds, keep, err);
    if (n_dropped)
        *n_dropped = dropped;

end:
    for (int u = 0; u < FER_USAGE_COUNT; u++)
        fer_free(rows[u]);
    fer_free(keep);
    fer_free(soft);
    return st;
}

enum fer_status fer_dataset_apply_ferplus(fer_dataset *ds, const char *ferplus_path,
                                          enum fer_label_source source, int drop_unusable,
                                          size_t *n_dropped, char *err)
{
    float weight = source == FER_LABELS_BLEND ? FER_FERPLUS_WEIGHT_DEFAULT : 1.0f;
    return apply_ferplus(ds, ferplus_path, source, weight, drop_unusable, n_dropped, err);
}

enum fer_status fer_dataset_blend_ferplus(fer_dataset *ds, const char *ferplus_path, float weight,
                                          int drop_unusable, size_t *n_dropped, char *err)
{
    return apply_ferplus(ds, ferplus_path, FER_LABELS_BLEND, weight, drop_unusable, n_dropped, err);
}
