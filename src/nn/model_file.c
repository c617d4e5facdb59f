/* model_file.c - reading and writing .fer model files and checkpoints. */
#include "nn/model_file.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/sha256.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "model_file.c writes float32 in host order and needs a little-endian host"
#endif

static const char MAGIC[8] = {'F', 'E', 'R', 'M', 'O', 'D', 'E', 'L'};
#define MAX_MODEL_BYTES ((size_t)1 << 31)
#define NAME_LEN        16

/* Remembers the first failed set (see struct fer_meta) and returns its status. */
static enum fer_status meta_lose(struct fer_meta *m, const char *key, enum fer_status st)
{
    if (m->lost == FER_OK) {
        m->lost = st;
        snprintf(m->lost_key, sizeof(m->lost_key), "%s", key);
    }
    return st;
}

enum fer_status fer_meta_set(struct fer_meta *m, const char *key, const char *value)
{
    /* a key that meta_text would write and meta_parse read back as another */
    if (!*key || strpbrk(key, "=\n\r"))
        return meta_lose(m, key, FER_ERR_ARG);
    char *v = fer_strdup(value);
    if (!v)
        return meta_lose(m, key, FER_ERR_NOMEM);
    for (char *p = v; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    for (int i = 0; i < m->n; i++) {
        if (strcmp(m->key[i], key) == 0) {
            fer_free(m->value[i]);
            m->value[i] = v;
            return FER_OK;
        }
    }
    if (m->n == FER_META_MAX) {
        fer_free(v);
        return meta_lose(m, key, FER_ERR_LIMIT);
    }
    char *k = fer_strdup(key);
    if (!k) {
        fer_free(v);
        return meta_lose(m, key, FER_ERR_NOMEM);
    }
    m->key[m->n] = k;
    m->value[m->n] = v;
    m->n++;
    return FER_OK;
}

enum fer_status fer_meta_setf(struct fer_meta *m, const char *key, const char *fmt, ...)
{
    char buf[512];
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int len = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    enum fer_status st;
    if (len < 0) {
        st = meta_lose(m, key, FER_ERR_ARG);
    } else if ((size_t)len < sizeof(buf)) {
        st = fer_meta_set(m, key, buf);
    } else { /* a long value is stored whole, not cut */
        char *big = fer_malloc((size_t)len + 1);
        if (big) {
            vsnprintf(big, (size_t)len + 1, fmt, again);
            st = fer_meta_set(m, key, big);
            fer_free(big);
        } else {
            st = meta_lose(m, key, FER_ERR_NOMEM);
        }
    }
    va_end(again);
    return st;
}

enum fer_status fer_meta_check(const struct fer_meta *m, const char *what, char *err)
{
    if (m->lost == FER_OK)
        return FER_OK;
    char why[64];
    if (m->lost == FER_ERR_LIMIT)
        snprintf(why, sizeof(why), "more than %d keys", FER_META_MAX);
    else if (m->lost == FER_ERR_ARG)
        snprintf(why, sizeof(why), "not a valid key (empty, or with '=' or a line break)");
    else
        snprintf(why, sizeof(why), "%s", fer_status_str(m->lost));
    return fer_errorf(err, m->lost, "%s%smetadata key '%s' was not stored: %s", what ? what : "",
                      what ? " " : "", m->lost_key, why);
}

void fer_meta_unset(struct fer_meta *m, const char *key)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->key[i], key) == 0) {
            fer_free(m->key[i]);
            fer_free(m->value[i]);
            memmove(m->key + i, m->key + i + 1, sizeof(char *) * (size_t)(m->n - i - 1));
            memmove(m->value + i, m->value + i + 1, sizeof(char *) * (size_t)(m->n - i - 1));
            m->n--;
            return;
        }
}

int fer_meta_norm(const struct fer_meta *m, float *mean, float *std)
{
    const char *mv = fer_meta_get(m, "input_mean"), *sv = fer_meta_get(m, "input_std");
    if (mv && sv && atof(sv) > 0) {
        *mean = (float)atof(mv);
        *std = (float)atof(sv);
        return 1;
    }
    *mean = 0.5f;
    *std = 0.25f;
    return 0;
}

void fer_model_uncalibrate(fer_net *net, struct fer_meta *m)
{
    fer_net_set_temperature(net, 1.0f);
    fer_meta_unset(m, "temperature");
    fer_meta_unset(m, "temperature_fitted_on");
}

const char *fer_meta_get(const struct fer_meta *m, const char *key)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->key[i], key) == 0)
            return m->value[i];
    return NULL;
}

void fer_meta_clear(struct fer_meta *m)
{
    for (int i = 0; i < m->n; i++) {
        fer_free(m->key[i]);
        fer_free(m->value[i]);
    }
    m->n = 0;
    m->lost = FER_OK;
    m->lost_key[0] = 0;
}

int fer_meta_is_detector(const struct fer_meta *m)
{
    const char *task = fer_meta_get(m, "task");
    return task && strcmp(task, "detect") == 0;
}

int fer_meta_classes(const struct fer_meta *m, char names[][16], int max)
{
    const char *s = fer_meta_get(m, "classes");
    if (!s || !*s)
        return -1;
    int n = 0;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0 || len >= 16 || n == max)
            return -1;
        memcpy(names[n], s, len);
        names[n][len] = 0;
        n++;
        s += len + (e ? 1 : 0);
    }
    return n;
}

/* Renders meta as "key=value\n" lines (caller frees). */
static char *meta_text(const struct fer_meta *m, size_t *len)
{
    size_t cap = 1;
    for (int i = 0; i < m->n; i++)
        cap += strlen(m->key[i]) + strlen(m->value[i]) + 2;
    char *s = fer_malloc(cap);
    if (!s)
        return NULL;
    size_t n = 0;
    for (int i = 0; i < m->n; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s=%s\n", m->key[i], m->value[i]);
    *len = n;
    return s;
}

/* Adds the "key=value\n" lines of text to m; a malformed line is FER_ERR_CORRUPT. */
static enum fer_status meta_parse(const char *text, size_t len, struct fer_meta *m)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *eq = memchr(p, '=', (size_t)(le - p));
        if (!eq || eq == p || memchr(p, 0, (size_t)(le - p)))
            return FER_ERR_CORRUPT;
        size_t kl = (size_t)(eq - p), vl = (size_t)(le - eq - 1);
        char *line = fer_malloc(kl + vl + 2);
        if (!line)
            return FER_ERR_NOMEM;
        memcpy(line, p, kl);
        line[kl] = 0;
        memcpy(line + kl + 1, eq + 1, vl);
        line[kl + 1 + vl] = 0;
        enum fer_status st = fer_meta_set(m, line, line + kl + 1);
        fer_free(line);
        if (st != FER_OK)
            return st == FER_ERR_ARG ? FER_ERR_CORRUPT : st;
        p = le + 1;
    }
    return FER_OK;
}

struct writer {
    FILE *f;
    fer_sha256 sha;
    int failed;
};

static void put(struct writer *w, const void *data, size_t n)
{
    if (w->failed || n == 0)
        return;
    fer_sha256_update(&w->sha, data, n);
    if (fwrite(data, 1, n, w->f) != n)
        w->failed = 1;
}

static void put_u32(struct writer *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(w, b, 4);
}

static void put_section(struct writer *w, const char *name, const void *data, size_t size)
{
    char nm[NAME_LEN] = {0};
    strncpy(nm, name, NAME_LEN - 1);
    put(w, nm, NAME_LEN);
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)size >> (8 * i));
    put(w, b, 8);
    put(w, data, size);
}

enum fer_status fer_model_save(const char *path, fer_net *net, const struct fer_meta *meta,
                               const struct fer_checkpoint_extra *extra, char *err)
{
    char why[FER_ERR_LEN];
    enum fer_status lost = fer_meta_check(meta, "model", why);
    if (lost == FER_OK && extra && extra->trainer)
        lost = fer_meta_check(extra->trainer, "checkpoint", why);
    if (lost != FER_OK)
        return fer_errorf(err, lost, "not saving %s: %s", path, why);
    if (!fer_meta_get(meta, "classes") && !fer_meta_is_detector(meta))
        return fer_errorf(err, FER_ERR_ARG, "model metadata lacks 'classes'");
    size_t tmp_len = strlen(path) + 16;
    char *tmp = fer_malloc(tmp_len);
    size_t meta_len = 0, trainer_len = 0;
    char *mtext = meta_text(meta, &meta_len);
    char *ttext = extra && extra->trainer ? meta_text(extra->trainer, &trainer_len) : NULL;
    enum fer_status st = FER_OK;
    if (!tmp || !mtext || (extra && extra->trainer && !ttext)) {
        st = fer_errorf(err, FER_ERR_NOMEM, "out of memory saving %s", path);
        goto end;
    }
    snprintf(tmp, tmp_len, "%s.tmp", path);
    struct writer w = {0};
    w.f = fopen(tmp, "wb");
    if (!w.f) {
        st = fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        goto end;
    }
    fer_sha256_init(&w.sha);
    size_t n_params, n_buffers;
    float *params = fer_net_params(net, &n_params);
    float *buffers = fer_net_buffers(net, &n_buffers);
    const char *arch = fer_net_spec_text(net);
    uint32_t n_sections = 4 + (ttext ? 1 : 0) + (extra && extra->optim ? 1 : 0);
    put(&w, MAGIC, 8);
    put_u32(&w, FER_MODEL_VERSION);
    put_u32(&w, n_sections);
    put_section(&w, "meta", mtext, meta_len);
    put_section(&w, "arch", arch, strlen(arch));
    put_section(&w, "params", params, n_params * sizeof(float));
    put_section(&w, "buffers", buffers, n_buffers * sizeof(float));
    if (ttext)
        put_section(&w, "trainer", ttext, trainer_len);
    if (extra && extra->optim)
        put_section(&w, "optim", extra->optim, extra->n_optim * sizeof(float));
    uint8_t digest[32];
    fer_sha256_final(&w.sha, digest);
    if (!w.failed && fwrite(digest, 1, 32, w.f) != 32)
        w.failed = 1;
    if (fflush(w.f) != 0 || fsync(fileno(w.f)) != 0)
        w.failed = 1;
    if (fclose(w.f) != 0)
        w.failed = 1;
    if (w.failed) {
        st = fer_errorf(err, FER_ERR_IO, "error writing %s: %s", tmp, strerror(errno));
        remove(tmp);
        goto end;
    }
    if (rename(tmp, path) != 0) {
        st = fer_errorf(err, FER_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        remove(tmp);
    }
end:
    fer_free(tmp);
    fer_free(mtext);
    fer_free(ttext);
    return st;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

struct section {
    const uint8_t *data;
    size_t size;
    int present;
};

/* The sections a model file may hold, by name; the first four must be there. */
enum { SEC_META, SEC_ARCH, SEC_PARAMS, SEC_BUFFERS, SEC_TRAINER, SEC_OPTIM, SEC_COUNT };
static const char *const section_names[SEC_COUNT] = {"meta",    "arch",    "params",
                                                     "buffers", "trainer", "optim"};

/* The index of the first NaN or infinity in x[0..n), or n when all are finite. */
static size_t first_non_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return i;
    return n;
}

/* The magic, the format version and the checksum over everything before it. */
static enum fer_status check_file(const uint8_t *data, size_t size, const char *name, char *err)
{
    if (size < 8 || memcmp(data, MAGIC, 8) != 0)
        return fer_errorf(err, FER_ERR_FORMAT, "%s is not a fer model file (bad magic)", name);
    if (size < 16 + 32)
        return fer_errorf(err, FER_ERR_CORRUPT, "%s is truncated (%zu bytes)", name, size);
    uint32_t version = (uint32_t)data[8] | (uint32_t)data[9] << 8 | (uint32_t)data[10] << 16 |
                       (uint32_t)data[11] << 24;
    if (version != FER_MODEL_VERSION)
        return fer_errorf(err, FER_ERR_VERSION,
                          "%s has model format version %u; this fer reads version %d", name,
                          version, FER_MODEL_VERSION);
    fer_sha256 sha;
    uint8_t digest[32];
    fer_sha256_init(&sha);
    fer_sha256_update(&sha, data, size - 32);
    fer_sha256_final(&sha, digest);
    if (memcmp(digest, data + size - 32, 32) != 0)
        return fer_errorf(err, FER_ERR_CORRUPT, "%s is corrupt or truncated (checksum mismatch)",
                          name);
    return FER_OK;
}

/* Finds the known sections in the table after the header (unknown ones are skipped). */
static enum fer_status read_sections(const uint8_t *data, size_t size, const char *name,
                                     struct section *sec, char *err)
{
    uint32_t n_sections = (uint32_t)data[12] | (uint32_t)data[13] << 8 | (uint32_t)data[14] << 16 |
                          (uint32_t)data[15] << 24;
    size_t off = 16, end = size - 32;
    for (uint32_t s = 0; s < n_sections; s++) {
        if (end - off < NAME_LEN + 8)
            return fer_errorf(err, FER_ERR_CORRUPT, "%s: section table runs past the end", name);
        char nm[NAME_LEN + 1];
        memcpy(nm, data + off, NAME_LEN);
        nm[NAME_LEN] = 0;
        uint64_t len = get_u64(data + off + NAME_LEN);
        off += NAME_LEN + 8;
        if (len > end - off)
            return fer_errorf(err, FER_ERR_CORRUPT, "%s: section '%s' runs past the end", name, nm);
        for (int k = 0; k < SEC_COUNT; k++)
            if (strcmp(nm, section_names[k]) == 0)
                sec[k] = (struct section){data + off, (size_t)len, 1};
        off += (size_t)len;
    }
    for (int k = 0; k < SEC_TRAINER; k++)
        if (!sec[k].present)
            return fer_errorf(err, FER_ERR_CORRUPT, "%s lacks its '%s' section", name,
                              section_names[k]);
    return FER_OK;
}

/* The metadata into meta, and how many classes it lists; the file must be of the kind asked. */
static enum fer_status read_meta(const struct section *text, const char *name,
                                 enum fer_model_kind kind, struct fer_meta *meta, int *n_classes,
                                 char *err)
{
    enum fer_status st = meta_parse((const char *)text->data, text->size, meta);
    if (st == FER_ERR_LIMIT)
        return fer_errorf(err, FER_ERR_CORRUPT, "%s: more than %d metadata keys", name,
                          FER_META_MAX);
    if (st != FER_OK)
        return fer_errorf(err, st == FER_ERR_NOMEM ? st : FER_ERR_CORRUPT, "%s: malformed metadata",
                          name);
    *n_classes = 0;
    int detector = fer_meta_is_detector(meta);
    if (kind == FER_MODEL_CLASSIFIER && detector)
        return fer_errorf(err, FER_ERR_ARG, "%s is a face detector, not an emotion model", name);
    if (kind == FER_MODEL_DETECTOR && !detector)
        return fer_errorf(err, FER_ERR_ARG, "%s is not a face detector (no task=detect)", name);
    if (detector)
        return FER_OK; /* a net without classes (net.h) */
    char classes[FER_META_MAX][16];
    *n_classes = fer_meta_classes(meta, classes, FER_META_MAX);
    if (*n_classes < 2)
        return fer_errorf(err, FER_ERR_CORRUPT, "%s: metadata lacks a valid 'classes' list", name);
    return FER_OK;
}

/* The network the stored architecture describes, with n_classes outputs. */
static enum fer_status build_net(const struct section *arch_text, const char *name, int n_classes,
                                 int max_batch, fer_net **net, char *err)
{
    char *arch = fer_malloc(arch_text->size + 1);
    if (!arch)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory loading %s", name);
    memcpy(arch, arch_text->data, arch_text->size);
    arch[arch_text->size] = 0;
    fer_spec *spec = NULL;
    char spec_name[300];
    snprintf(spec_name, sizeof(spec_name), "%s (architecture)", name);
    enum fer_status st = fer_spec_parse(arch, spec_name, &spec, err);
    fer_free(arch);
    if (st != FER_OK)
        return st;
    st = fer_net_new(spec, n_classes, max_batch, net, err);
    fer_spec_free(spec);
    return st;
}

/* The weights and batch-norm statistics, which must fit the network and be finite. */
static enum fer_status load_weights(fer_net *net, const struct section *sec, const char *name,
                                    char *err)
{
    size_t n_params, n_buffers;
    float *params = fer_net_params(net, &n_params);
    float *buffers = fer_net_buffers(net, &n_buffers);
    const struct section *p = &sec[SEC_PARAMS], *b = &sec[SEC_BUFFERS];
    if (p->size != n_params * sizeof(float) || b->size != n_buffers * sizeof(float))
        return fer_errorf(err, FER_ERR_CORRUPT,
                          "%s: %zu parameter bytes stored, the architecture needs %zu", name,
                          p->size, n_params * sizeof(float));
    memcpy(params, p->data, p->size);
    memcpy(buffers, b->data, b->size);
    fer_net_weights_changed(net);
    size_t bad = first_non_finite(params, n_params);
    const char *which = "weight";
    if (bad == n_params) {
        bad = first_non_finite(buffers, n_buffers);
        which = "batch-norm statistic";
        if (bad == n_buffers)
            which = NULL;
    }
    if (which)
        return fer_errorf(err, FER_ERR_CORRUPT,
                          "%s: %s %zu is not a finite number (NaN or infinity): the model is "
                          "unusable (did its training diverge?)",
                          name, which, bad);
    return FER_OK;
}

/* The softmax temperature the metadata may hold (from fer calibrate). */
static enum fer_status set_temperature(fer_net *net, const struct fer_meta *meta, const char *name,
                                       char *err)
{
    const char *temperature = fer_meta_get(meta, "temperature");
    char *rest = NULL;
    if (temperature &&
        (fer_net_set_temperature(net, strtof(temperature, &rest)) != 0 || *rest != 0))
        return fer_errorf(err, FER_ERR_CORRUPT, "%s: temperature '%s' is not a number in (0, %g]",
                          name, temperature, (double)FER_TEMPERATURE_MAX);
    return FER_OK;
}

/* A checkpoint's trainer state and optimizer moments, when the caller asks for them. */
static enum fer_status load_extra(const struct section *sec, const char *name,
                                  struct fer_checkpoint_extra *extra, char *err)
{
    const struct section *trainer = &sec[SEC_TRAINER], *optim = &sec[SEC_OPTIM];
    if (trainer->present && extra->trainer &&
        meta_parse((const char *)trainer->data, trainer->size, extra->trainer) != FER_OK)
        return fer_errorf(err, FER_ERR_CORRUPT, "%s: malformed trainer state", name);
    extra->optim = NULL;
    extra->n_optim = 0;
    if (optim->present && optim->size % sizeof(float) == 0) {
        extra->optim = fer_malloc(optim->size);
        if (!extra->optim)
            return fer_errorf(err, FER_ERR_NOMEM, "out of memory loading %s", name);
        memcpy(extra->optim, optim->data, optim->size);
        extra->n_optim = optim->size / sizeof(float);
    }
    return FER_OK;
}

enum fer_status fer_model_load_memory(const uint8_t *data, size_t size, const char *name,
                                      int max_batch, fer_net **out, struct fer_meta *meta,
                                      struct fer_checkpoint_extra *extra, char *err)
{
    return fer_model_load_memory_as(data, size, name, FER_MODEL_CLASSIFIER, max_batch, out, meta,
                                    extra, err);
}

enum fer_status fer_model_load_memory_as(const uint8_t *data, size_t size, const char *name,
                                         enum fer_model_kind kind, int max_batch, fer_net **out,
                                         struct fer_meta *meta, struct fer_checkpoint_extra *extra,
                                         char *err)
{
    *out = NULL;
    struct section sec[SEC_COUNT] = {{0}};
    int n_classes = 0;
    fer_net *net = NULL;
    enum fer_status st = check_file(data, size, name, err);
    if (st == FER_OK)
        st = read_sections(data, size, name, sec, err);
    if (st == FER_OK)
        st = read_meta(&sec[SEC_META], name, kind, meta, &n_classes, err);
    if (st == FER_OK)
        st = build_net(&sec[SEC_ARCH], name, n_classes, max_batch, &net, err);
    if (st == FER_OK)
        st = load_weights(net, sec, name, err);
    if (st == FER_OK)
        st = set_temperature(net, meta, name, err);
    if (st == FER_OK && extra)
        st = load_extra(sec, name, extra, err);
    if (st != FER_OK) {
        fer_net_free(net);
        return st;
    }
    *out = net;
    return FER_OK;
}

enum fer_status fer_model_load(const char *path, int max_batch, fer_net **net,
                               struct fer_meta *meta, struct fer_checkpoint_extra *extra, char *err)
{
    return fer_model_load_as(path, FER_MODEL_CLASSIFIER, max_batch, net, meta, extra, err);
}

enum fer_status fer_model_load_as(const char *path, enum fer_model_kind kind, int max_batch,
                                  fer_net **net, struct fer_meta *meta,
                                  struct fer_checkpoint_extra *extra, char *err)
{
    *net = NULL;
    uint8_t *data;
    size_t size;
    enum fer_status st = fer_file_read(path, "model", MAX_MODEL_BYTES, &data, &size, err);
    if (st != FER_OK)
        return st;
    st = fer_model_load_memory_as(data, size, path, kind, max_batch, net, meta, extra, err);
    fer_free(data);
    return st;
}
