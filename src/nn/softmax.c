/*
 * softmax.c - the output layer: softmax over each image's logits.
 *
 * Its delta is set by fer_net_loss to dL/dlogits directly (softmax and
 * cross-entropy differentiate together to p - t), so backward only passes it on.
 */
#include <math.h>

#include "nn/layer.h"

void fer_softmax_forward(struct fer_layer *l, struct fer_pass *p)
{
    const int k = l->out_c;
    for (int b = 0; b < p->batch; b++) {
        const float *z = p->in + (size_t)b * (size_t)k;
        float *y = l->out + (size_t)b * (size_t)k;
        float m = z[0];
        for (int i = 1; i < k; i++)
            m = z[i] > m ? z[i] : m;
        double s = 0;
        for (int i = 0; i < k; i++) {
            y[i] = expf(z[i] - m);
            s += (double)y[i];
        }
        for (int i = 0; i < k; i++)
            y[i] = (float)((double)y[i] / s);
    }
}

void fer_softmax_backward(struct fer_layer *l, struct fer_pass *p)
{
    if (!p->in_delta)
        return;
    size_t n = (size_t)l->out_c * (size_t)p->batch;
    for (size_t i = 0; i < n; i++)
        p->in_delta[i] += l->delta[i];
}
