/*
 * layers.c - the table of layer types, and what their configure and carve
 * hooks share. Adding a layer type: its file with a struct fer_layer_ops, an
 * entry in enum fer_layer_type and in the table below.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/layer.h"

static const struct fer_layer_ops *const fer_layer_table[] = {
    &fer_conv_ops,  &fer_dense_ops,     &fer_maxpool_ops,   &fer_avgpool_ops,
    &fer_gap_ops,   &fer_batchnorm_ops, &fer_dropout_ops,   &fer_shortcut_ops,
    &fer_route_ops, &fer_softmax_ops,   &fer_depthwise_ops, &fer_upsample_ops,
};

const struct fer_layer_ops *fer_layer_ops_find(const char *section)
{
    for (size_t i = 0; i < sizeof(fer_layer_table) / sizeof(fer_layer_table[0]); i++) {
        const struct fer_layer_ops *ops = fer_layer_table[i];
        if (strcmp(section, ops->section) == 0 || (ops->alias && strcmp(section, ops->alias) == 0))
            return ops;
    }
    return NULL;
}

float *fer_carve_floats(struct fer_carve *c, size_t n)
{
    float *p = c->floats ? c->floats + c->n_floats : NULL;
    c->n_floats += n;
    return p;
}

uint32_t *fer_carve_words(struct fer_carve *c, size_t n)
{
    uint32_t *p = c->words ? c->words + c->n_words : NULL;
    c->n_words += n;
    return p;
}

int fer_layer_parse_list(const char *s, int i, int *routes, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || n == max)
            return -1;
        routes[n++] = v < 0 ? i + (int)v : (int)v;
        p = end;
        while (*p == ' ' || *p == ',')
            p++;
    }
    return n;
}
