/*
 * yunet_import.c - turns libfacedetection's weights file (facedetectcnn-data.cpp:
 * C arrays of floats and the table param_pConvInfo that lists the 53
 * convolutions in order) into a fer net of models/yunet.cfg, which is built
 * into the binary (yunet_arch.S). Everything in the file is checked: the
 * syntax, that every array the table names exists with the length its layer
 * needs, that each layer's kind, shape and activation are those of the
 * architecture, that the values are finite. The file's layout, read from the
 * library's forward pass: pointwise weights [filters][channels]; depthwise
 * weights [3x3 position][channels], which fer stores [channels][3x3]; the
 * first layer, a 3x3/2 convolution of the B, G, R image, as a pointwise one
 * over 32 inputs whose first 27 are (position, colour) pairs, the rest zero.
 */
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "detect/yunet.h"
#include "nn/spec.h"

#define MAX_TEXT   (64u << 20)
#define MAX_ARRAYS 512
#define MAX_VALUES (1u << 22)
#define N_CONV     53
#define NAME_LEN   128

extern const char fer_yunet_arch_start[], fer_yunet_arch_end[];

struct array {
    char name[NAME_LEN];
    float *v;
    size_t n;
};

struct conv_info {
    int channels, filters, depthwise, pointwise, relu;
    char weights[NAME_LEN], biases[NAME_LEN];
};

struct parser {
    const char *p, *end, *name;
    struct array arrays[MAX_ARRAYS];
    int n_arrays;
    struct conv_info conv[N_CONV];
    char *err;
};

/* The order of the table's convolutions in fer's layers (models/yunet.cfg): the backbone,
 * the pyramid from coarse to fine, then per stride the score, box, objectness and landmark
 * heads. */
static const int conv_order[N_CONV] = {
    0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17,
    18, 19, 20, 21, 22, 27, 28, 25, 26, 23, 24, 29, 30, 35, 36, 41, 42, 47,
    48, 31, 32, 37, 38, 43, 44, 49, 50, 33, 34, 39, 40, 45, 46, 51, 52,
};

static void skip_space(struct parser *ps)
{
    for (;;) {
        while (ps->p < ps->end && isspace((unsigned char)*ps->p))
            ps->p++;
        if (ps->end - ps->p >= 2 && ps->p[0] == '/' && ps->p[1] == '/') {
            while (ps->p < ps->end && *ps->p != '\n')
                ps->p++;
        } else if (ps->end - ps->p >= 2 && ps->p[0] == '/' && ps->p[1] == '*') {
            const char *close = NULL;
            for (const char *q = ps->p + 2; q + 1 < ps->end; q++)
                if (q[0] == '*' && q[1] == '/') {
                    close = q + 2;
                    break;
                }
            ps->p = close ? close : ps->end;
        } else {
            return;
        }
    }
}

static int accept(struct parser *ps, char c)
{
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return 1;
    }
    return 0;
}

static int identifier(struct parser *ps, char *out)
{
    skip_space(ps);
    size_t n = 0;
    while (ps->p < ps->end && (isalnum((unsigned char)*ps->p) || *ps->p == '_')) {
        if (n + 1 >= NAME_LEN)
            return 0;
        out[n++] = *ps->p++;
    }
    out[n] = 0;
    return n > 0 && !isdigit((unsigned char)out[0]);
}

static enum fer_status fail(struct parser *ps, const char *what)
{
    return fer_errorf(ps->err, FER_ERR_FORMAT, "%s: %s", ps->name, what);
}

/* A number as the file writes them (0.00122f, -8.6e-06f, 0.f, 16): strtod on a copy. */
static int number(struct parser *ps, double *v)
{
    skip_space(ps);
    char buf[64];
    size_t n = 0;
    while (ps->p < ps->end && n + 1 < sizeof(buf) &&
           (isdigit((unsigned char)*ps->p) || strchr("+-.eE", *ps->p)))
        buf[n++] = *ps->p++;
    buf[n] = 0;
    if (ps->p < ps->end && (*ps->p == 'f' || *ps->p == 'F'))
        ps->p++;
    char *end;
    *v = strtod(buf, &end);
    return n > 0 && *end == 0 && isfinite(*v) &&
           fabs(*v) <= (double)FLT_MAX; /* finite as a float too */
}

/* "{v, v, ...}" into a new array (a trailing comma is allowed). */
static enum fer_status array_values(struct parser *ps, struct array *a)
{
    size_t cap = 0;
    if (!accept(ps, '{'))
        return fail(ps, "expected '{' after an array's declaration");
    while (!accept(ps, '}')) {
        double v;
        if (!number(ps, &v))
            return fer_errorf(ps->err, FER_ERR_FORMAT,
                              "%s: array %s: value %zu is not a finite "
                              "number",
                              ps->name, a->name, a->n + 1);
        if (a->n == cap) {
            if (cap >= MAX_VALUES)
                return fer_errorf(ps->err, FER_ERR_LIMIT, "%s: array %s has over %u values",
                                  ps->name, a->name, MAX_VALUES);
            cap = cap ? 2 * cap : 1024;
            float *nv = fer_realloc(a->v, cap * sizeof(float));
            if (!nv)
                return fer_errorf(ps->err, FER_ERR_NOMEM, "out of memory reading %s", ps->name);
            a->v = nv;
        }
        a->v[a->n++] = (float)v;
        if (!accept(ps, ',') && !(skip_space(ps), ps->p < ps->end && *ps->p == '}'))
            return fer_errorf(ps->err, FER_ERR_FORMAT, "%s: array %s: expected ',' or '}'",
                              ps->name, a->name);
    }
    return FER_OK;
}

/* After "float NAME": "[size expression] = {...};". */
static enum fer_status float_array(struct parser *ps, const char *name)
{
    if (ps->n_arrays == MAX_ARRAYS)
        return fer_errorf(ps->err, FER_ERR_LIMIT, "%s: more than %d arrays", ps->name, MAX_ARRAYS);
    struct array *a = &ps->arrays[ps->n_arrays++];
    snprintf(a->name, sizeof(a->name), "%s", name);
    if (!accept(ps, '['))
        return fer_errorf(ps->err, FER_ERR_FORMAT, "%s: expected '[' after float %s", ps->name,
                          name);
    while (ps->p < ps->end && *ps->p != ']')
        ps->p++;
    if (!accept(ps, ']') || !accept(ps, '='))
        return fer_errorf(ps->err, FER_ERR_FORMAT, "%s: expected '] =' in array %s", ps->name,
                          name);
    enum fer_status st = array_values(ps, a);
    if (st == FER_OK && !accept(ps, ';'))
        return fer_errorf(ps->err, FER_ERR_FORMAT, "%s: expected ';' after array %s", ps->name,
                          name);
    return st;
}

static int boolean(struct parser *ps, int *v)
{
    char word[NAME_LEN];
    if (!identifier(ps, word))
        return 0;
    *v = strcmp(word, "true") == 0;
    return *v || strcmp(word, "false") == 0;
}

/* One "{channels, filters, depthwise, pointwise, relu, weights, biases}". */
static int conv_entry(struct parser *ps, struct conv_info *c)
{
    double ch, f;
    return accept(ps, '{') && number(ps, &ch) && accept(ps, ',') && number(ps, &f) &&
           accept(ps, ',') && boolean(ps, &c->depthwise) && accept(ps, ',') &&
           boolean(ps, &c->pointwise) && accept(ps, ',') && boolean(ps, &c->relu) &&
           accept(ps, ',') && identifier(ps, c->weights) && accept(ps, ',') &&
           identifier(ps, c->biases) && accept(ps, '}') && ch >= 1 && ch <= 4096 && f >= 1 &&
           f <= 4096 && (c->channels = (int)ch) == ch && (c->filters = (int)f) == f;
}

/* After "ConvInfoStruct param_pConvInfo": "[53] = {{...}, ...};". */
static enum fer_status conv_table(struct parser *ps)
{
    double n;
    if (!accept(ps, '[') || !number(ps, &n) || n != N_CONV || !accept(ps, ']') ||
        !accept(ps, '=') || !accept(ps, '{'))
        return fer_errorf(ps->err, FER_ERR_FORMAT, "%s: expected param_pConvInfo[%d] = {", ps->name,
                          N_CONV);
    for (int i = 0; i < N_CONV; i++) {
        if (!conv_entry(ps, &ps->conv[i]))
            return fer_errorf(ps->err, FER_ERR_FORMAT, "%s: param_pConvInfo entry %d is malformed",
                              ps->name, i);
        if (i + 1 < N_CONV && !accept(ps, ','))
            return fer_errorf(ps->err, FER_ERR_FORMAT, "%s: param_pConvInfo has %d entries, not %d",
                              ps->name, i + 1, N_CONV);
    }
    accept(ps, ',');
    if (!accept(ps, '}') || !accept(ps, ';'))
        return fer_errorf(ps->err, FER_ERR_FORMAT, "%s: param_pConvInfo has more than %d entries",
                          ps->name, N_CONV);
    return FER_OK;
}

/* The whole file: arrays, the table, and anything else (includes, comments) skipped. */
static enum fer_status parse(struct parser *ps)
{
    int have_table = 0;
    while (skip_space(ps), ps->p < ps->end) {
        char word[NAME_LEN], name[NAME_LEN];
        if (*ps->p == '#') {
            while (ps->p < ps->end && *ps->p != '\n')
                ps->p++;
            continue;
        }
        if (!identifier(ps, word)) {
            ps->p++;
            continue;
        }
        enum fer_status st = FER_OK;
        if (strcmp(word, "float") == 0 && identifier(ps, name))
            st = float_array(ps, name);
        else if (strcmp(word, "ConvInfoStruct") == 0 && identifier(ps, name) &&
                 strcmp(name, "param_pConvInfo") == 0) {
            st = conv_table(ps);
            have_table = 1;
        }
        if (st != FER_OK)
            return st;
    }
    if (!have_table)
        return fer_errorf(ps->err, FER_ERR_FORMAT,
                          "%s: no param_pConvInfo table (is it "
                          "libfacedetection's facedetectcnn-data.cpp?)",
                          ps->name);
    return FER_OK;
}

static const struct array *find_array(const struct parser *ps, const char *name)
{
    for (int i = 0; i < ps->n_arrays; i++)
        if (strcmp(ps->arrays[i].name, name) == 0)
            return &ps->arrays[i];
    return NULL;
}

/* Convolution k of the table into fer's weight and bias groups w and b. */
static enum fer_status fill_layer(struct parser *ps, int k, const struct fer_param_group *w,
                                  const struct fer_param_group *b)
{
    const struct conv_info *c = &ps->conv[k];
    const struct array *wa = find_array(ps, c->weights), *ba = find_array(ps, c->biases);
    if (!wa || !ba)
        return fer_errorf(ps->err, FER_ERR_FORMAT,
                          "%s: convolution %d names array %s, which the "
                          "file does not define",
                          ps->name, k, wa ? c->biases : c->weights);
    size_t want_w =
        c->depthwise ? 9 * (size_t)c->channels : (size_t)c->filters * (size_t)c->channels;
    const char *kind = c->depthwise ? "depthwise" : "pointwise";
    if (c->depthwise == c->pointwise)
        return fer_errorf(ps->err, FER_ERR_FORMAT,
                          "%s: convolution %d is %s depthwise and "
                          "pointwise",
                          ps->name, k, c->depthwise ? "both" : "neither");
    if (wa->n != want_w || ba->n != (size_t)c->filters)
        return fer_errorf(ps->err, FER_ERR_FORMAT,
                          "%s: array %s has %zu values; convolution %d "
                          "(%s, %d -> %d) needs %zu",
                          ps->name, wa->n != want_w ? wa->name : ba->name,
                          wa->n != want_w ? wa->n : ba->n, k, kind, c->channels, c->filters,
                          wa->n != want_w ? want_w : (size_t)c->filters);
    int first = k == 0;
    size_t fer_w = first ? (size_t)c->filters * 27 : want_w;
    if (w->n != fer_w || b->n != (size_t)c->filters ||
        (c->depthwise && c->filters != c->channels) || (first && c->channels != 32))
        return fer_errorf(ps->err, FER_ERR_FORMAT,
                          "%s: convolution %d (%d -> %d) does not fit "
                          "layer %s of the architecture",
                          ps->name, k, c->channels, c->filters, w->name);
    memcpy(b->param, ba->v, sizeof(float) * ba->n);
    if (c->depthwise) {
        for (int ch = 0; ch < c->channels; ch++)
            for (int pos = 0; pos < 9; pos++)
                w->param[ch * 9 + pos] = wa->v[(size_t)pos * (size_t)c->channels + (size_t)ch];
    } else if (first) {
        for (int o = 0; o < c->filters; o++)
            for (int in = 0; in < 32; in++) {
                float v = wa->v[(size_t)o * 32 + (size_t)in];
                if (in >= 27 && v != 0)
                    return fer_errorf(ps->err, FER_ERR_FORMAT,
                                      "%s: convolution 0: input %d of "
                                      "filter %d should be padding (0), not %g",
                                      ps->name, in, o, (double)v);
                if (in < 27) /* (position, colour) -> fer's [colour][ky][kx] */
                    w->param[(size_t)o * 27 + (size_t)(in % 3) * 9 + (size_t)(in / 3)] = v;
            }
    } else {
        memcpy(w->param, wa->v, sizeof(float) * wa->n);
    }
    return FER_OK;
}

/* Each table entry onto its layer: fer's groups come in pairs (weight, bias) per layer. */
static enum fer_status fill_net(struct parser *ps, fer_net *net)
{
    struct fer_param_group *g;
    size_t n = fer_net_param_groups(net, &g);
    if (n != 2 * N_CONV)
        return fer_errorf(ps->err, FER_ERR_STATE,
                          "models/yunet.cfg has %zu parameter groups, "
                          "not %d",
                          n, 2 * N_CONV);
    for (int i = 0; i < N_CONV; i++) {
        enum fer_status st = fill_layer(ps, conv_order[i], &g[2 * i], &g[2 * i + 1]);
        if (st != FER_OK)
            return st;
    }
    fer_net_weights_changed(net);
    return FER_OK;
}

/* The table's ReLU flags must be the architecture's activations, layer by layer. */
static enum fer_status check_relu(struct parser *ps, fer_spec *spec)
{
    int k = 0;
    for (int i = 0; i < spec->n_sections; i++) {
        struct fer_spec_section *s = &spec->sections[i];
        if (strcmp(s->type, "convolutional") != 0 && strcmp(s->type, "depthwise") != 0)
            continue;
        if (k == N_CONV)
            return fer_errorf(ps->err, FER_ERR_STATE,
                              "models/yunet.cfg has over %d "
                              "convolutions",
                              N_CONV);
        int relu = strcmp(fer_spec_str(s, "activation", "linear"), "relu") == 0;
        const struct conv_info *c = &ps->conv[conv_order[k++]];
        if (c->relu != relu)
            return fer_errorf(ps->err, FER_ERR_FORMAT,
                              "%s: convolution %d is%s followed by "
                              "ReLU, unlike the architecture's",
                              ps->name, conv_order[k - 1], c->relu ? "" : " not");
    }
    return FER_OK;
}

static void free_parser(struct parser *ps)
{
    for (int i = 0; i < ps->n_arrays; i++)
        fer_free(ps->arrays[i].v);
    fer_free(ps);
}

static enum fer_status arch_spec(fer_spec **spec, char *err)
{
    size_t len = (size_t)(fer_yunet_arch_end - fer_yunet_arch_start);
    char *text = fer_malloc(len + 1);
    if (!text)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory");
    memcpy(text, fer_yunet_arch_start, len);
    text[len] = 0;
    enum fer_status st = fer_spec_parse(text, "models/yunet.cfg", spec, err);
    fer_free(text);
    return st;
}

enum fer_status fer_yunet_import(const char *text, size_t len, const char *name, fer_net **out,
                                 char *err)
{
    *out = NULL;
    if (len > MAX_TEXT)
        return fer_errorf(err, FER_ERR_LIMIT, "%s: over %u MB", name, MAX_TEXT >> 20);
    struct parser *ps = fer_calloc(1, sizeof(*ps));
    if (!ps)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory reading %s", name);
    *ps = (struct parser){.p = text, .end = text + len, .name = name, .err = err};
    fer_spec *spec = NULL;
    fer_net *net = NULL;
    enum fer_status st = parse(ps);
    if (st == FER_OK)
        st = arch_spec(&spec, err);
    if (st == FER_OK)
        st = fer_net_new(spec, 0, 1, &net, err);
    if (st == FER_OK)
        st = fill_net(ps, net);
    if (st == FER_OK)
        st = check_relu(ps, spec);
    fer_spec_free(spec);
    free_parser(ps);
    if (st != FER_OK) {
        fer_net_free(net);
        return st;
    }
    *out = net;
    return FER_OK;
}
