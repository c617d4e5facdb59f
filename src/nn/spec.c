/* spec.c - parser for the INI-like architecture text format. */
#include "nn/spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"

#define FER_SPEC_MAX_BYTES (1 << 20)

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

void fer_spec_free(fer_spec *spec)
{
    if (!spec)
        return;
    for (int i = 0; i < spec->n_sections; i++) {
        fer_free(spec->sections[i].type);
        for (int k = 0; k < spec->sections[i].n_kv; k++) {
            fer_free(spec->sections[i].kv[k].key);
            fer_free(spec->sections[i].kv[k].value);
        }
    }
    fer_free(spec->text);
    fer_free(spec->name);
    fer_free(spec);
}

enum fer_status fer_spec_parse(const char *text, const char *name, fer_spec **out, char *err)
{
    *out = NULL;
    enum fer_status st = FER_OK;
    char *copy = NULL;
    fer_spec *spec = fer_calloc(1, sizeof(*spec));
    if (!spec || !(spec->text = fer_strdup(text)) || !(spec->name = fer_strdup(name)) ||
        !(copy = fer_strdup(text))) {
        st = fer_errorf(err, FER_ERR_NOMEM, "out of memory parsing %s", name);
        goto end;
    }
    int line_no = 0;
    char *save = NULL;
    struct fer_spec_section *cur = NULL;
    /* strtok_r on "\n" would merge blank lines and lose line numbers: split by hand. */
    for (char *line = copy; line; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = 0;
        line_no++;
        char *hash = strpbrk(line, "#;");
        if (hash)
            *hash = 0;
        char *s = trim(line);
        if (!*s)
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close || close[1] != 0 || close == s + 1) {
                st = fer_errorf(err, FER_ERR_FORMAT, "%s:%d: malformed section header '%s'", name,
                                line_no, s);
                goto end;
            }
            if (spec->n_sections == FER_SPEC_MAX_SECTIONS) {
                st = fer_errorf(err, FER_ERR_LIMIT, "%s:%d: more than %d sections", name, line_no,
                                FER_SPEC_MAX_SECTIONS);
                goto end;
            }
            *close = 0;
            cur = &spec->sections[spec->n_sections++];
            cur->line = line_no;
            if (!(cur->type = fer_strdup(trim(s + 1)))) {
                st = fer_errorf(err, FER_ERR_NOMEM, "out of memory parsing %s", name);
                goto end;
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            st = fer_errorf(err, FER_ERR_FORMAT, "%s:%d: expected key=value, found '%s'", name,
                            line_no, s);
            goto end;
        }
        if (!cur) {
            st = fer_errorf(err, FER_ERR_FORMAT, "%s:%d: key=value before any [section]", name,
                            line_no);
            goto end;
        }
        if (cur->n_kv == FER_SPEC_MAX_KEYS) {
            st = fer_errorf(err, FER_ERR_LIMIT, "%s:%d: too many keys in [%s]", name, line_no,
                            cur->type);
            goto end;
        }
        *eq = 0;
        char *key = trim(s), *value = trim(eq + 1);
        if (!*key || !*value) {
            st = fer_errorf(err, FER_ERR_FORMAT, "%s:%d: empty key or value", name, line_no);
            goto end;
        }
        for (int k = 0; k < cur->n_kv; k++) {
            if (strcmp(cur->kv[k].key, key) == 0) {
                st = fer_errorf(err, FER_ERR_FORMAT, "%s:%d: key '%s' given twice in [%s]", name,
                                line_no, key, cur->type);
                goto end;
            }
        }
        struct fer_spec_kv *kv = &cur->kv[cur->n_kv++];
        kv->line = line_no;
        if (!(kv->key = fer_strdup(key)) || !(kv->value = fer_strdup(value))) {
            st = fer_errorf(err, FER_ERR_NOMEM, "out of memory parsing %s", name);
            goto end;
        }
    }
    if (spec->n_sections == 0)
        st = fer_errorf(err, FER_ERR_FORMAT, "%s: no sections found", name);
end:
    fer_free(copy);
    if (st != FER_OK)
        fer_spec_free(spec);
    else
        *out = spec;
    return st;
}

enum fer_status fer_spec_load(const char *path, fer_spec **out, char *err)
{
    *out = NULL;
    FILE *f;
    enum fer_status opened = fer_file_fopen_regular(path, "architecture", &f, NULL, err);
    if (opened != FER_OK)
        return opened;
    char *buf = fer_malloc(FER_SPEC_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory reading %s", path);
    }
    size_t n = fread(buf, 1, FER_SPEC_MAX_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    enum fer_status st;
    if (bad)
        st = fer_errorf(err, FER_ERR_IO, "read error on %s", path);
    else if (n > FER_SPEC_MAX_BYTES)
        st = fer_errorf(err, FER_ERR_LIMIT, "%s: architecture file larger than 1 MiB", path);
    else if (memchr(buf, 0, n))
        st = fer_errorf(err, FER_ERR_FORMAT, "%s: binary data in architecture file", path);
    else {
        buf[n] = 0;
        st = fer_spec_parse(buf, path, out, err);
    }
    fer_free(buf);
    return st;
}

struct fer_spec_section *fer_spec_find(fer_spec *spec, const char *type)
{
    for (int i = 0; i < spec->n_sections; i++)
        if (strcmp(spec->sections[i].type, type) == 0)
            return &spec->sections[i];
    return NULL;
}

static struct fer_spec_kv *lookup(struct fer_spec_section *s, const char *key)
{
    if (!s)
        return NULL;
    for (int k = 0; k < s->n_kv; k++) {
        if (strcmp(s->kv[k].key, key) == 0) {
            s->kv[k].used = 1;
            return &s->kv[k];
        }
    }
    return NULL;
}

int fer_spec_int(struct fer_spec_section *s, const char *key, int def, int lo, int hi,
                 const char *name, int *bad, char *err)
{
    struct fer_spec_kv *kv = lookup(s, key);
    if (!kv)
        return def;
    char *end;
    errno = 0;
    long v = strtol(kv->value, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        if (!*bad)
            fer_errorf(err, FER_ERR_FORMAT, "%s:%d: %s=%s is not an integer in [%d, %d]", name,
                       kv->line, key, kv->value, lo, hi);
        *bad = 1;
        return def;
    }
    return (int)v;
}

float fer_spec_float(struct fer_spec_section *s, const char *key, float def, float lo, float hi,
                     const char *name, int *bad, char *err)
{
    struct fer_spec_kv *kv = lookup(s, key);
    if (!kv)
        return def;
    char *end;
    errno = 0;
    float v = strtof(kv->value, &end);
    if (errno || *end || !(v >= lo && v <= hi)) {
        if (!*bad)
            fer_errorf(err, FER_ERR_FORMAT, "%s:%d: %s=%s is not a number in [%g, %g]", name,
                       kv->line, key, kv->value, (double)lo, (double)hi);
        *bad = 1;
        return def;
    }
    return v;
}

const char *fer_spec_str(struct fer_spec_section *s, const char *key, const char *def)
{
    struct fer_spec_kv *kv = lookup(s, key);
    return kv ? kv->value : def;
}
