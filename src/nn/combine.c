/*
 * combine.c - layers that join earlier outputs: [shortcut] adds the output of
 * layer `from` to the previous layer's output (residual connection, He et al.
 * 2016); [route] concatenates the outputs of the listed layers along channels.
 */
#include <string.h>

#include "nn/layer.h"

void fer_shortcut_forward(struct fer_layer *l, struct fer_pass *p)
{
    const float *other = p->layers[l->from].out;
    size_t n = l->out_size * (size_t)p->batch;
    for (size_t i = 0; i < n; i++)
        l->out[i] = p->in[i] + other[i];
    fer_activate(l, p);
}

void fer_shortcut_backward(struct fer_layer *l, struct fer_pass *p)
{
    fer_activate_backward(l, p);
    float *other = p->layers[l->from].delta;
    size_t n = l->out_size * (size_t)p->batch;
    for (size_t i = 0; i < n; i++)
        other[i] += l->delta[i];
    if (p->in_delta)
        for (size_t i = 0; i < n; i++)
            p->in_delta[i] += l->delta[i];
}

void fer_route_forward(struct fer_layer *l, struct fer_pass *p)
{
    for (int b = 0; b < p->batch; b++) {
        float *dst = l->out + (size_t)b * l->out_size;
        for (int r = 0; r < l->n_routes; r++) {
            const struct fer_layer *src = &p->layers[l->routes[r]];
            memcpy(dst, src->out + (size_t)b * src->out_size, sizeof(float) * src->out_size);
            dst += src->out_size;
        }
    }
}

void fer_route_backward(struct fer_layer *l, struct fer_pass *p)
{
    for (int b = 0; b < p->batch; b++) {
        const float *d = l->delta + (size_t)b * l->out_size;
        for (int r = 0; r < l->n_routes; r++) {
            struct fer_layer *src = &p->layers[l->routes[r]];
            float *dst = src->delta + (size_t)b * src->out_size;
            for (size_t i = 0; i < src->out_size; i++)
                dst[i] += d[i];
            d += src->out_size;
        }
    }
}
