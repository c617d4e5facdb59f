/*
 * store.c - the feedback store's public functions: URL dispatch to a backend, argument checks,
 * the per-store mutex, random face ids, the paged walk over feedback, the FER2013 export and
 * the export of negatives ("not a face" corrections).
 * The SQL lives in the backends (sqlite_store.c, pg_store.c), reached through fer_store_ops.
 */
#include "storage/store.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "core/alloc.h"
#include "core/classes.h"
#include "storage/store_internal.h"

#define PAGE_ROWS 64 /* feedback rows read per lock in fer_store_each_feedback */

/* Length of a leading "scheme:" (letters, digits, + - . after a first letter), or 0. */
static size_t scheme_len(const char *url)
{
    static const char more[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.";
    if (!isalpha((unsigned char)url[0]))
        return 0;
    size_t n = strspn(url, more);
    return url[n] == ':' ? n : 0;
}

enum fer_status fer_store_open(const char *url, fer_store **out, char *err)
{
    if (!out)
        return fer_errorf(err, FER_ERR_ARG, "store: fer_store_open needs an out pointer");
    *out = NULL;
    if (!url || !*url)
        return fer_errorf(err, FER_ERR_ARG,
                          "store: empty URL (give a file path, sqlite:PATH or postgresql://...)");
    size_t k = scheme_len(url);
    fer_store *s = NULL;
    enum fer_status st;
    if (k == 0) {
        st = fer_sqlite_store_open(url, &s, err);
    } else if (k == 6 && strncasecmp(url, "sqlite", 6) == 0) {
        const char *path = url + 7;
        if (strncmp(path, "//", 2) == 0) {
            if (path[2] != '/')
                return fer_errorf(err, FER_ERR_ARG,
                                  "store: bad SQLite URL %s: write sqlite:///abs/path.db or "
                                  "sqlite:relative/path.db",
                                  url);
            path += 2;
        }
        if (!*path)
            return fer_errorf(err, FER_ERR_ARG, "store: SQLite URL %s names no file", url);
        st = fer_sqlite_store_open(path, &s, err);
    } else if ((k == 10 && strncasecmp(url, "postgresql", 10) == 0) ||
               (k == 8 && strncasecmp(url, "postgres", 8) == 0)) {
        if (strncmp(url + k, "://", 3) != 0)
            return fer_errorf(err, FER_ERR_ARG,
                              "store: bad PostgreSQL URL (write postgresql://user@host:port/db)");
        st = fer_pg_store_open(url, &s, err);
    } else {
        /* Only the scheme is quoted: the rest may hold a password. */
        return fer_errorf(err, FER_ERR_ARG,
                          "store: unsupported URL scheme \"%.*s\" (use a file path, sqlite:PATH "
                          "or postgresql://...)",
                          (int)(k < 32 ? k : 32), url);
    }
    if (st != FER_OK)
        return st;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        s->ops->close(s);
        return fer_errorf(err, FER_ERR_NOMEM, "store: cannot create a mutex");
    }
    *out = s;
    return FER_OK;
}

void fer_store_close(fer_store *store)
{
    if (!store)
        return;
    pthread_mutex_destroy(&store->lock);
    store->ops->close(store);
}

enum fer_store_kind fer_store_kind(const fer_store *store)
{
    return store->kind;
}

const char *fer_store_name(const fer_store *store)
{
    return store->name;
}

static enum fer_status store_lock(fer_store *s, char *err)
{
    if (pthread_mutex_lock(&s->lock) != 0)
        return fer_errorf(err, FER_ERR_STATE, "store: cannot lock %s", s->name);
    return FER_OK;
}

static void store_unlock(fer_store *s)
{
    pthread_mutex_unlock(&s->lock);
}

double fer_store_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return (double)time(NULL);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum fer_status fer_store_new_face_id(char out[FER_STORE_ID_LEN + 1], char *err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[FER_STORE_ID_LEN / 2];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fer_errorf(err, FER_ERR_IO, "store: cannot read random bytes for a face id: %s",
                              n < 0 ? strerror(errno) : "no data");
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[FER_STORE_ID_LEN] = '\0';
    return FER_OK;
}

void fer_store_probs_format(const float *probs, int n, char *buf)
{
    size_t used = 0;
    buf[used++] = '[';
    for (int i = 0; i < n; i++) {
        int w = snprintf(buf + used, FER_STORE_PROBS_LEN - used, "%s%.9g", i ? "," : "",
                         (double)probs[i]);
        if (w > 0)
            used += (size_t)w;
    }
    snprintf(buf + used, FER_STORE_PROBS_LEN - used, "]");
}

enum fer_status fer_store_probs_parse(const char *text, float *probs, int *n, const char *where,
                                      char *err)
{
    const char *p = text + strspn(text, " \t\r\n");
    int count = 0;
    if (*p++ != '[')
        goto bad;
    p += strspn(p, " \t\r\n");
    if (*p == ']') {
        p++;
    } else {
        for (;;) {
            char *end;
            if (count == FER_MAX_CLASSES)
                goto bad;
            double v = strtod(p, &end);
            if (end == p || !isfinite(v))
                goto bad;
            probs[count++] = (float)v;
            p = end + strspn(end, " \t\r\n");
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p++ != ']')
                goto bad;
            break;
        }
    }
    p += strspn(p, " \t\r\n");
    if (*p)
        goto bad;
    *n = count;
    return FER_OK;
bad:
    return fer_errorf(err, FER_ERR_CORRUPT,
                      "%s: probabilities are not a JSON array of at most %d numbers: \"%.60s\"",
                      where, FER_MAX_CLASSES, text);
}

enum fer_status fer_store_copy_text(char *dst, size_t cap, const char *src, size_t len,
                                    const char *where, const char *what, char *err)
{
    if (len >= cap || memchr(src, '\0', len))
        return fer_errorf(err, FER_ERR_CORRUPT, "%s: %s is longer than %zu bytes or holds a NUL",
                          where, what, cap - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
    return FER_OK;
}

/* A NUL-terminated string within cap bytes, non-empty unless allowed, without control bytes. */
static enum fer_status check_text(const char *s, size_t cap, int may_be_empty, const char *what,
                                  char *err)
{
    const char *nul = memchr(s, '\0', cap);
    if (!nul)
        return fer_errorf(err, FER_ERR_ARG, "store: %s is not terminated within %zu bytes", what,
                          cap);
    if (nul == s && !may_be_empty)
        return fer_errorf(err, FER_ERR_ARG, "store: %s is empty", what);
    for (const char *p = s; p < nul; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return fer_errorf(err, FER_ERR_ARG, "store: %s holds a control character", what);
    return FER_OK;
}

static enum fer_status check_face_id(const char *id, char *err)
{
    size_t n = strnlen(id, FER_STORE_ID_LEN + 1);
    if (n != FER_STORE_ID_LEN || strspn(id, "0123456789abcdef") != FER_STORE_ID_LEN)
        return fer_errorf(err, FER_ERR_ARG,
                          "store: face id \"%.32s\" is not %d lowercase hex digits", id,
                          FER_STORE_ID_LEN);
    return FER_OK;
}

/* Probabilities: n in [lo, MAX], finite, and one class name for each when classes is given. */
static enum fer_status check_probs(const char *classes, const float *probs, int n, int lo,
                                   char *err)
{
    enum fer_status st = check_text(classes, FER_STORE_CLASSES_LEN, lo == 0, "classes", err);
    if (st != FER_OK)
        return st;
    if (n < lo || n > FER_MAX_CLASSES)
        return fer_errorf(err, FER_ERR_ARG, "store: %d probabilities (want %d to %d)", n, lo,
                          FER_MAX_CLASSES);
    for (int i = 0; i < n; i++)
        if (!isfinite(probs[i]))
            return fer_errorf(err, FER_ERR_ARG, "store: probability %d is not finite", i);
    if (!*classes)
        return FER_OK;
    int names = 1;
    for (const char *p = classes; *p; p++)
        if (*p == ',') {
            if (p == classes || p[1] == ',' || p[1] == '\0')
                return fer_errorf(err, FER_ERR_ARG, "store: empty class name in \"%s\"", classes);
            names++;
        }
    if (names != n)
        return fer_errorf(err, FER_ERR_ARG, "store: %d class names but %d probabilities", names, n);
    return FER_OK;
}

enum fer_status fer_store_add_face(fer_store *store, struct fer_face_record *face, char *err)
{
    if (!store || !face)
        return fer_errorf(err, FER_ERR_ARG, "store: fer_store_add_face: NULL argument");
    enum fer_status st;
    if (face->face_id[0] == '\0')
        st = fer_store_new_face_id(face->face_id, err);
    else
        st = check_face_id(face->face_id, err);
    if (st == FER_OK)
        st = check_text(face->model_version, FER_STORE_VERSION_LEN, 0, "model_version", err);
    if (st == FER_OK)
        st = check_probs(face->classes, face->probs, face->n_probs, 1, err);
    if (st != FER_OK)
        return st;
    if (face->box_w < 0 || face->box_h < 0)
        return fer_errorf(err, FER_ERR_ARG, "store: negative box size %dx%d", face->box_w,
                          face->box_h);
    if (!isfinite(face->created) || face->created < 0)
        return fer_errorf(err, FER_ERR_ARG, "store: face time %g is not a unix time",
                          face->created);
    if (face->created == 0)
        face->created = fer_store_now();
    char probs[FER_STORE_PROBS_LEN];
    fer_store_probs_format(face->probs, face->n_probs, probs);
    if ((st = store_lock(store, err)) != FER_OK)
        return st;
    st = store->ops->add_face(store, face, probs, err);
    store_unlock(store);
    return st;
}

enum fer_status fer_store_get_face(fer_store *store, const char *face_id,
                                   struct fer_face_record *out, int *found, char *err)
{
    if (!store || !face_id || !out || !found)
        return fer_errorf(err, FER_ERR_ARG, "store: fer_store_get_face: NULL argument");
    *found = 0;
    enum fer_status st = check_face_id(face_id, err);
    if (st != FER_OK || (st = store_lock(store, err)) != FER_OK)
        return st;
    st = store->ops->get_face(store, face_id, out, found, err);
    store_unlock(store);
    return st;
}

enum fer_status fer_store_check_request_key(const char *key, char *err)
{
    size_t n = strnlen(key, FER_STORE_KEY_LEN);
    size_t ok = strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:");
    if (n == 0 || n >= FER_STORE_KEY_LEN || ok != n)
        return fer_errorf(err, FER_ERR_ARG,
                          "request key '%.*s' must be 1 to %d of A-Z a-z 0-9 - _ . :",
                          (int)(n < 70 ? n : 70), key, FER_STORE_KEY_LEN - 1);
    return FER_OK;
}

/*
 * Why add_feedback added nothing: rec's request key was used before (FER_OK and that row's
 * id when it was for the same face and label, FER_ERR_STATE when not), or the face is unknown.
 */
static enum fer_status explain_not_added(fer_store *store, const struct fer_feedback_record *rec,
                                         int64_t *id, char *err)
{
    if (rec->request_key[0]) {
        struct fer_feedback_record *stored = fer_calloc(1, sizeof(*stored));
        if (!stored)
            return fer_errorf(err, FER_ERR_NOMEM, "store: out of memory");
        int found = 0;
        enum fer_status st = store->ops->find_request(store, rec->request_key, &found, stored, err);
        if (st == FER_OK && found) {
            if (strcmp(stored->face_id, rec->face_id) == 0 &&
                strcmp(stored->label, rec->label) == 0)
                *id = stored->id;
            else
                st = fer_errorf(err, FER_ERR_STATE,
                                "request key %s was used for another feedback (id %lld: %s "
                                "for face %s)",
                                rec->request_key, (long long)stored->id, stored->label,
                                stored->face_id[0] ? stored->face_id : "sent as a crop");
        }
        fer_free(stored);
        if (st != FER_OK || found)
            return st;
    }
    return fer_errorf(err, FER_ERR_ARG,
                      "%s: cannot add feedback: no face with id %s (unknown or "
                      "pruned)",
                      store->name, rec->face_id);
}

enum fer_status fer_store_add_feedback(fer_store *store, const struct fer_feedback_record *fb,
                                       int64_t *id, char *err)
{
    return fer_store_add_feedback_keyed(store, fb, id, NULL, err);
}

enum fer_status fer_store_add_feedback_keyed(fer_store *store, const struct fer_feedback_record *fb,
                                             int64_t *id, int *replayed, char *err)
{
    if (replayed)
        *replayed = 0;
    if (!store || !fb)
        return fer_errorf(err, FER_ERR_ARG, "store: add feedback: NULL argument");
    struct fer_feedback_record rec = *fb;
    enum fer_status st = check_text(rec.label, FER_STORE_LABEL_LEN, 0, "label", err);
    if (st != FER_OK)
        return st;
    if (!isfinite(rec.created) || rec.created < 0)
        return fer_errorf(err, FER_ERR_ARG, "store: feedback time %g is not a unix time",
                          rec.created);
    if (rec.created == 0)
        rec.created = fer_store_now();
    int by_face = rec.face_id[0] != '\0';
    char probs[FER_STORE_PROBS_LEN];
    if (by_face) {
        st = check_face_id(rec.face_id, err);
    } else {
        st = check_text(rec.model_version, FER_STORE_VERSION_LEN, 1, "model_version", err);
        if (st == FER_OK)
            st = check_probs(rec.classes, rec.probs, rec.n_probs, 0, err);
        fer_store_probs_format(rec.probs, rec.n_probs, probs);
    }
    if (st == FER_OK && rec.request_key[0])
        st = fer_store_check_request_key(rec.request_key, err);
    if (st != FER_OK || (st = store_lock(store, err)) != FER_OK)
        return st;
    int64_t new_id = 0;
    st = store->ops->add_feedback(store, &rec, by_face || rec.n_probs == 0 ? NULL : probs, &new_id,
                                  err);
    if (st == FER_OK && new_id == 0) {
        st = explain_not_added(store, &rec, &new_id, err);
        if (st == FER_OK && replayed)
            *replayed = 1;
    }
    store_unlock(store);
    if (st == FER_OK && id)
        *id = new_id;
    return st;
}

static enum fer_status count_rows(fer_store *store, enum fer_store_table t, int64_t *n, char *err)
{
    if (!store || !n)
        return fer_errorf(err, FER_ERR_ARG, "store: count: NULL argument");
    enum fer_status st = store_lock(store, err);
    if (st != FER_OK)
        return st;
    st = store->ops->count(store, t, n, err);
    store_unlock(store);
    return st;
}

enum fer_status fer_store_count_feedback(fer_store *store, int64_t *n, char *err)
{
    return count_rows(store, FER_STORE_FEEDBACK, n, err);
}

enum fer_status fer_store_count_faces(fer_store *store, int64_t *n, char *err)
{
    return count_rows(store, FER_STORE_FACES, n, err);
}

enum fer_status fer_store_each_feedback(fer_store *store, fer_feedback_fn fn, void *arg, char *err)
{
    if (!store || !fn)
        return fer_errorf(err, FER_ERR_ARG, "store: fer_store_each_feedback: NULL argument");
    struct fer_feedback_record *page = fer_calloc(PAGE_ROWS, sizeof(*page));
    if (!page)
        return fer_errorf(err, FER_ERR_NOMEM, "store: out of memory reading feedback from %s",
                          store->name);
    enum fer_status st;
    int64_t after = 0; /* ids start at 1 in both backends */
    for (;;) {
        size_t n = 0;
        if ((st = store_lock(store, err)) != FER_OK)
            break;
        st = store->ops->list_feedback(store, after, page, PAGE_ROWS, &n, err);
        store_unlock(store);
        for (size_t i = 0; i < n && st == FER_OK; i++) {
            st = fn(&page[i], arg, err);
            after = page[i].id;
        }
        if (st != FER_OK || n < PAGE_ROWS)
            break;
    }
    fer_free(page);
    return st;
}

/* A line of any export: the longest is one of format all, its id, time and face id (at most
 * EXPORT_HEAD_LEN bytes), a version and a label quoted, then the pixels ("255 " each) and the
 * newline. */
#define EXPORT_HEAD_LEN 128
#define EXPORT_LINE_LEN                                                                            \
    (EXPORT_HEAD_LEN + 2 * FER_STORE_VERSION_LEN + 2 * FER_STORE_LABEL_LEN +                       \
     FER_STORE_CROP_BYTES * 4 + 8)

struct export_ctx {
    FILE *out;
    const char *const *names;
    size_t rows, skipped;
    char line[EXPORT_LINE_LEN];
};

/* Writes crop as 2304 space-separated decimal values at p; returns the end. */
static char *write_pixels(char *p, const unsigned char *crop)
{
    for (size_t i = 0; i < FER_STORE_CROP_BYTES; i++) {
        unsigned v = crop[i];
        if (i)
            *p++ = ' ';
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
    }
    return p;
}

/* Writes text at p as a CSV field, quoted (RFC 4180) when it holds a comma or a quote. */
static char *write_field(char *p, const char *text)
{
    int quote = strpbrk(text, ",\"") != NULL;
    if (quote)
        *p++ = '"';
    for (; *text; text++) {
        if (*text == '"')
            *p++ = '"';
        *p++ = *text;
    }
    if (quote)
        *p++ = '"';
    return p;
}

static enum fer_status export_line(struct export_ctx *x, char *err)
{
    if (fputs(x->line, x->out) == EOF)
        return fer_errorf(err, FER_ERR_IO, "export: cannot write the CSV: %s", strerror(errno));
    x->rows++;
    return FER_OK;
}

static enum fer_status export_row(const struct fer_feedback_record *fb, void *arg, char *err)
{
    struct export_ctx *x = arg;
    if (strcmp(fb->label, FER_STORE_NOT_A_FACE) == 0)
        return FER_OK; /* a negative: fer_store_export_negatives writes it */
    int label = -1;
    for (int i = 0; i < 7 && label < 0; i++)
        if (x->names[i] && strcmp(x->names[i], fb->label) == 0)
            label = i;
    if (label < 0) {
        x->skipped++;
        return FER_OK;
    }
    char *p = x->line;
    *p++ = (char)('0' + label);
    *p++ = ',';
    p = write_pixels(p, fb->crop);
    memcpy(p, ",Training\n", 11);
    return export_line(x, err);
}

/* A row of the id-keyed exports: id, time, face id, version, [label,] pixels. */
static enum fer_status export_record(struct export_ctx *x, const struct fer_feedback_record *fb,
                                     int with_label, char *err)
{
    char *p = x->line;
    /* face ids are hex and versions fit their buffer: only a time far out of range is too long */
    int w =
        snprintf(p, EXPORT_HEAD_LEN, "%lld,%.3f,%s,", (long long)fb->id, fb->created, fb->face_id);
    if (w < 0 || w >= EXPORT_HEAD_LEN)
        return fer_errorf(err, FER_ERR_CORRUPT, "export: feedback %lld has a time out of range",
                          (long long)fb->id);
    p = write_field(p + w, fb->model_version);
    *p++ = ',';
    if (with_label) {
        p = write_field(p, fb->label);
        *p++ = ',';
    }
    p = write_pixels(p, fb->crop);
    memcpy(p, "\n", 2);
    return export_line(x, err);
}

static enum fer_status export_negative(const struct fer_feedback_record *fb, void *arg, char *err)
{
    if (strcmp(fb->label, FER_STORE_NOT_A_FACE) != 0)
        return FER_OK;
    return export_record(arg, fb, 0, err);
}

static enum fer_status export_any(const struct fer_feedback_record *fb, void *arg, char *err)
{
    return export_record(arg, fb, 1, err);
}

/* Writes header, then fn's line for each feedback row, into out. */
static enum fer_status export_csv(fer_store *store, FILE *out, const char *header,
                                  fer_feedback_fn fn, struct export_ctx *x, char *err)
{
    x->out = out;
    enum fer_status st = FER_OK;
    if (fputs(header, out) == EOF)
        st = fer_errorf(err, FER_ERR_IO, "export: cannot write the CSV: %s", strerror(errno));
    if (st == FER_OK)
        st = fer_store_each_feedback(store, fn, x, err);
    if (st == FER_OK && (fflush(out) != 0 || ferror(out)))
        st = fer_errorf(err, FER_ERR_IO, "export: cannot write the CSV: %s", strerror(errno));
    return st;
}

enum fer_status fer_store_export_fer2013(fer_store *store, FILE *out, const char *const names7[7],
                                         size_t *rows, size_t *skipped, char *err)
{
    if (!store || !out)
        return fer_errorf(err, FER_ERR_ARG, "store: fer_store_export_fer2013: NULL argument");
    struct export_ctx *x = fer_calloc(1, sizeof(*x));
    if (!x)
        return fer_errorf(err, FER_ERR_NOMEM, "export: out of memory");
    x->names = names7 ? names7 : fer_class_names(7);
    enum fer_status st = export_csv(store, out, "emotion,pixels,Usage\n", export_row, x, err);
    if (rows)
        *rows = x->rows;
    if (skipped)
        *skipped = x->skipped;
    fer_free(x);
    return st;
}

/* An id-keyed export: header, then fn's rows, counted in *rows. */
static enum fer_status export_by_id(fer_store *store, FILE *out, const char *header,
                                    fer_feedback_fn fn, size_t *rows, char *err)
{
    if (!store || !out)
        return fer_errorf(err, FER_ERR_ARG, "store: export: NULL argument");
    struct export_ctx *x = fer_calloc(1, sizeof(*x));
    if (!x)
        return fer_errorf(err, FER_ERR_NOMEM, "export: out of memory");
    enum fer_status st = export_csv(store, out, header, fn, x, err);
    if (rows)
        *rows = x->rows;
    fer_free(x);
    return st;
}

enum fer_status fer_store_export_negatives(fer_store *store, FILE *out, size_t *rows, char *err)
{
    return export_by_id(store, out, "id,created,face_id,model_version,pixels\n", export_negative,
                        rows, err);
}

enum fer_status fer_store_export_all(fer_store *store, FILE *out, size_t *rows, char *err)
{
    return export_by_id(store, out, "id,created,face_id,model_version,emotion,pixels\n", export_any,
                        rows, err);
}

enum fer_status fer_store_prune_faces(fer_store *store, double older_than, int64_t *deleted,
                                      char *err)
{
    if (!store)
        return fer_errorf(err, FER_ERR_ARG, "store: fer_store_prune_faces: NULL store");
    if (!isfinite(older_than) || older_than < 0)
        return fer_errorf(err, FER_ERR_ARG, "store: prune age %g is not a number of seconds",
                          older_than);
    int64_t n = 0;
    enum fer_status st = store_lock(store, err);
    if (st != FER_OK)
        return st;
    st = store->ops->prune_faces(store, fer_store_now() - older_than, &n, err);
    store_unlock(store);
    if (deleted)
        *deleted = n;
    return st;
}
