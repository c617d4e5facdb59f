/*
 * softmax.c - the output layer: softmax over each image's logits.
 *
 * Its delta is set by fer_net_loss to dL/dlogits directly (softmax and
 * cross-entropy differentiate together to p - t), so backward only passes it on.
 * With merge=a,b,... the probabilities of outputs b,... are added to a's and
 * those outputs dropped (7 emotions to 6: disgust into angry); such a softmax
 * is for inference only.
 * fer_temper reshapes finished probabilities with a calibration temperature.
 */
#include <math.h>
#include <string.h>

#include "nn/layer.h"
#include "nn/net.h"

/* y (k - n_merge + 1) = the probabilities x (k) with the merged outputs added into the first. */
static void merge_outputs(const struct fer_layer *l, const float *x, int k, float *y)
{
    int j = 0;
    for (int i = 0; i < k; i++) {
        int pos = -1;
        for (int m = 0; m < l->n_merge; m++)
            pos = l->merge[m] == i ? m : pos;
        if (pos > 0)
            continue; /* added to the first of the list */
        float v = x[i];
        if (pos == 0)
            for (int m = 1; m < l->n_merge; m++)
                v += x[l->merge[m]];
        y[j++] = v;
    }
}

void fer_softmax_forward(struct fer_layer *l, struct fer_pass *p)
{
    const int k = (int)l->in_size;
    float all[FER_MAX_CLASSES]; /* before merging (configure keeps k in bounds then) */
    for (int b = 0; b < p->batch; b++) {
        const float *z = p->in + (size_t)b * (size_t)k;
        float *y = l->n_merge ? all : l->out + (size_t)b * (size_t)k;
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
        if (l->n_merge)
            merge_outputs(l, all, k, l->out + (size_t)b * (size_t)l->out_c);
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

/* 1 when the merge list names 2 to FER_MAX_ROUTES different outputs among k <= FER_MAX_CLASSES. */
static int merge_list_ok(const struct fer_layer *l, int k)
{
    int ok = l->n_merge >= 2 && k <= FER_MAX_CLASSES;
    for (int a = 0; ok && a < l->n_merge; a++) {
        ok = l->merge[a] >= 0 && l->merge[a] < k;
        for (int b = 0; ok && b < a; b++)
            ok = l->merge[a] != l->merge[b];
    }
    return ok;
}

/* [softmax]: merge=a,b,... optionally; one output per input value. */
static enum fer_status configure(struct fer_layer *l, const struct fer_layer_spec *spec)
{
    struct fer_spec_section *s = spec->s;
    const int k = l->in_c * l->in_h * l->in_w;
    l->out_c = k;
    l->out_h = l->out_w = 1;
    const char *m = fer_spec_str(s, "merge", NULL);
    if (!m)
        return FER_OK;
    /* absolute output numbers: relative to output 0, negative ones stay out of range */
    l->n_merge = fer_layer_parse_list(m, 0, l->merge, FER_MAX_ROUTES);
    if (!merge_list_ok(l, k))
        return fer_errorf(spec->err, FER_ERR_FORMAT,
                          "%s:%d: merge=%s must list 2 to %d different outputs of the %d "
                          "(at most %d) before it, the first taking the others' "
                          "probabilities",
                          spec->file, s->line, m, FER_MAX_ROUTES, k, FER_MAX_CLASSES);
    l->out_c = k - (l->n_merge - 1);
    return FER_OK;
}

int fer_softmax_merged_away(struct fer_spec_section *s)
{
    if (strcmp(s->type, fer_softmax_ops.section) != 0)
        return 0;
    const char *m = fer_spec_str(s, "merge", NULL);
    int merge[FER_MAX_ROUTES];
    int n = m ? fer_layer_parse_list(m, 0, merge, FER_MAX_ROUTES) : 0;
    return n > 1 ? n - 1 : 0; /* configure reports a bad list */
}

/* Flatten to N x k, Softmax, and with merge= a MatMul by the k x (k - merged) matrix of 0s and
 * 1s that adds the merged outputs into the first of the list (merge_outputs on each unit
 * vector). */
static void to_onnx(const struct fer_layer *l, struct fer_onnx *g)
{
    const char *in = fer_onnx_input(g, l);
    struct fer_onnx_node *flat = fer_onnx_node(g, l, "Flatten", 1, &in);
    fer_onnx_attr_int(flat, "axis", 1);
    const char *flat_out = fer_onnx_node_output(flat);
    struct fer_onnx_node *soft = fer_onnx_node(g, l, "Softmax", 1, &flat_out);
    fer_onnx_attr_int(soft, "axis", 1);
    const char *p = fer_onnx_node_output(soft);
    if (!p || !l->n_merge) {
        fer_onnx_set_output(g, l, p);
        return;
    }
    const int k = (int)l->in_size;
    float m[FER_MAX_CLASSES * FER_MAX_CLASSES], unit[FER_MAX_CLASSES];
    for (int i = 0; i < k; i++) {
        memset(unit, 0, sizeof unit);
        unit[i] = 1;
        merge_outputs(l, unit, k, m + (size_t)i * (size_t)l->out_c);
    }
    const char *args[2] = {p, fer_onnx_tensor(g, l, "merge", 2, (const int64_t[]){k, l->out_c}, m)};
    if (args[1])
        fer_onnx_set_output(g, l, fer_onnx_node_output(fer_onnx_node(g, l, "MatMul", 2, args)));
}

const struct fer_layer_ops fer_softmax_ops = {
    .section = "softmax",
    .name = "softmax",
    .type = FER_LAYER_SOFTMAX,
    .configure = configure,
    .forward = fer_softmax_forward,
    .backward = fer_softmax_backward,
    .to_onnx = to_onnx,
};

/* A temperature on probabilities (see net.h): softmax(log p / T), which is p^(1/T) renormalised. */
void fer_temper(float *p, int k, float t)
{
    if (t == 1.0f || k <= 0 || k > FER_MAX_CLASSES)
        return;
    /* in logs, so that a large 1/T cannot overflow: p^(1/T) / sum = exp(log p / T - max) / ... */
    double z[FER_MAX_CLASSES], top = -HUGE_VAL, sum = 0;
    for (int c = 0; c < k; c++) {
        z[c] = p[c] > 0 ? log((double)p[c]) / (double)t : -HUGE_VAL;
        top = z[c] > top ? z[c] : top;
    }
    if (top == -HUGE_VAL)
        return; /* no probability mass at all: nothing to reshape */
    for (int c = 0; c < k; c++)
        sum += z[c] = exp(z[c] - top);
    for (int c = 0; c < k; c++)
        p[c] = (float)(z[c] / sum);
}
