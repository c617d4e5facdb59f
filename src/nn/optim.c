/* optim.c - SGD (momentum, Nesterov), Adam, AdamW; learning-rate schedules. */
#include "nn/optim.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

struct fer_optim {
    struct fer_optim_config cfg;
    fer_net *net;
    float *state; /* m (and v for Adam) for every parameter, in param order */
    size_t n_state;
    size_t n_params;
    uint64_t steps;
};

int fer_optim_kind_parse(const char *s)
{
    if (strcmp(s, "sgd") == 0)
        return FER_OPTIM_SGD;
    if (strcmp(s, "adam") == 0)
        return FER_OPTIM_ADAM;
    if (strcmp(s, "adamw") == 0)
        return FER_OPTIM_ADAMW;
    return -1;
}

const char *fer_optim_kind_name(enum fer_optim_kind k)
{
    return k == FER_OPTIM_SGD ? "sgd" : k == FER_OPTIM_ADAM ? "adam" : "adamw";
}

struct fer_optim_config fer_optim_defaults(enum fer_optim_kind kind)
{
    struct fer_optim_config c = {kind, 0.9f, 1, 0.9f, 0.999f, 1e-8f, 0.0f, 0.0f};
    c.weight_decay = kind == FER_OPTIM_ADAMW ? 0.05f : 5e-4f;
    return c;
}

enum fer_status fer_optim_new(const struct fer_optim_config *cfg, fer_net *net, fer_optim **out,
                              char *err)
{
    *out = NULL;
    fer_optim *o = fer_calloc(1, sizeof(*o));
    if (!o)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for optimizer");
    o->cfg = *cfg;
    o->net = net;
    fer_net_params(net, &o->n_params);
    o->n_state = o->n_params * (cfg->kind == FER_OPTIM_SGD ? 1 : 2);
    o->state = fer_alloc_aligned(o->n_state, sizeof(float));
    if (!o->state) {
        fer_free(o);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for optimizer state");
    }
    *out = o;
    return FER_OK;
}

void fer_optim_free(fer_optim *o)
{
    if (!o)
        return;
    fer_free(o->state);
    fer_free(o);
}

float *fer_optim_state(fer_optim *o, size_t *n)
{
    *n = o->n_state;
    return o->state;
}

uint64_t fer_optim_steps(const fer_optim *o)
{
    return o->steps;
}

void fer_optim_set_steps(fer_optim *o, uint64_t steps)
{
    o->steps = steps;
}

double fer_optim_step(fer_optim *o, float lr)
{
    size_t n;
    float *grads = fer_net_grads(o->net, &n);
    double sq = 0;
    for (size_t i = 0; i < n; i++)
        sq += (double)grads[i] * (double)grads[i];
    double norm = sqrt(sq);
    float gscale = 1.0f;
    if (o->cfg.clip_norm > 0 && norm > (double)o->cfg.clip_norm)
        gscale = (float)((double)o->cfg.clip_norm / norm);
    o->steps++;
    struct fer_param_group *groups;
    size_t n_groups = fer_net_param_groups(o->net, &groups);
    float *params = fer_net_params(o->net, &n);
    const struct fer_optim_config *c = &o->cfg;
    const float bc1 = 1.0f - powf(c->beta1, (float)o->steps);
    const float bc2 = 1.0f - powf(c->beta2, (float)o->steps);
    for (size_t g = 0; g < n_groups; g++) {
        float *p = groups[g].param, *gr = groups[g].grad;
        size_t off = (size_t)(p - params);
        float wd = groups[g].decay ? c->weight_decay : 0.0f;
        if (c->kind == FER_OPTIM_SGD) {
            float *m = o->state + off;
            for (size_t i = 0; i < groups[g].n; i++) {
                float d = gr[i] * gscale + wd * p[i];
                m[i] = c->momentum * m[i] + d;
                p[i] -= lr * (c->nesterov ? d + c->momentum * m[i] : m[i]);
            }
        } else {
            float *m = o->state + off, *v = o->state + o->n_params + off;
            int decoupled = c->kind == FER_OPTIM_ADAMW;
            for (size_t i = 0; i < groups[g].n; i++) {
                float d = gr[i] * gscale + (decoupled ? 0.0f : wd * p[i]);
                m[i] = c->beta1 * m[i] + (1 - c->beta1) * d;
                v[i] = c->beta2 * v[i] + (1 - c->beta2) * d * d;
                float update = (m[i] / bc1) / (sqrtf(v[i] / bc2) + c->eps);
                if (decoupled)
                    update += wd * p[i];
                p[i] -= lr * update;
            }
        }
    }
    fer_net_weights_changed(o->net);
    return norm;
}

int fer_sched_kind_parse(const char *s)
{
    static const char *names[] = {"constant", "step", "cosine", "onecycle", "plateau"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

const char *fer_sched_kind_name(enum fer_sched_kind k)
{
    static const char *names[] = {"constant", "step", "cosine", "onecycle", "plateau"};
    return names[k];
}

float fer_schedule_lr(const struct fer_schedule *s, double t, int epochs)
{
    double lr = s->base_lr;
    if (s->warmup > 0 && t < (double)s->warmup)
        return (float)(lr * (t + 1e-3) / (double)s->warmup);
    double span = epochs - (double)s->warmup;
    double u = span > 0 ? (t - (double)s->warmup) / span : 1.0;
    u = u < 0 ? 0 : u > 1 ? 1 : u;
    switch (s->kind) {
    case FER_SCHED_CONSTANT:
        break;
    case FER_SCHED_STEP:
        lr *= pow(s->gamma, floor(t / (s->step_epochs > 0 ? s->step_epochs : 1)));
        break;
    case FER_SCHED_COSINE: {
        double lo = lr * (double)s->min_ratio;
        lr = lo + 0.5 * (lr - lo) * (1 + cos(M_PI * u));
        break;
    }
    case FER_SCHED_ONECYCLE:
        lr = 0.5 * lr * (1 + cos(M_PI * u));
        break;
    case FER_SCHED_PLATEAU:
        lr *= (double)s->plateau_scale;
        break;
    }
    return (float)lr;
}

void fer_schedule_observe(struct fer_schedule *s, float val_loss)
{
    if (s->kind != FER_SCHED_PLATEAU)
        return;
    if (val_loss < s->plateau_best * (1 - 1e-3f)) {
        s->plateau_best = val_loss;
        s->plateau_bad_epochs = 0;
    } else if (++s->plateau_bad_epochs > s->patience) {
        s->plateau_scale *= s->gamma;
        s->plateau_bad_epochs = 0;
    }
}
