/* activation.c - elementwise activations and their derivatives, split over the pool. */
#include <string.h>

#include "nn/layer.h"

int fer_activation_parse(const char *s, enum fer_activation *act)
{
    if (strcmp(s, "relu") == 0)
        *act = FER_ACT_RELU;
    else if (strcmp(s, "linear") == 0)
        *act = FER_ACT_LINEAR;
    else
        return 0;
    return 1;
}

struct act_job {
    struct fer_layer *l;
    size_t per_image;
};

static void relu_task(void *arg, size_t b, int thread)
{
    (void)thread;
    struct act_job *j = arg;
    float *o = j->l->out + b * j->per_image;
    for (size_t i = 0; i < j->per_image; i++)
        o[i] = o[i] > 0 ? o[i] : 0;
}

static void relu_grad_task(void *arg, size_t b, int thread)
{
    (void)thread;
    struct act_job *j = arg;
    const float *o = j->l->out + b * j->per_image;
    float *d = j->l->delta + b * j->per_image;
    for (size_t i = 0; i < j->per_image; i++)
        d[i] = o[i] > 0 ? d[i] : 0;
}

void fer_activate(struct fer_layer *l, struct fer_pass *p)
{
    if (l->act == FER_ACT_LINEAR)
        return;
    struct act_job j = {l, l->out_size};
    fer_pool_run(p->pool, (size_t)p->batch, relu_task, &j);
}

void fer_activate_backward(struct fer_layer *l, struct fer_pass *p)
{
    if (l->act == FER_ACT_LINEAR)
        return;
    struct act_job j = {l, l->out_size};
    fer_pool_run(p->pool, (size_t)p->batch, relu_grad_task, &j);
}
