/*
 * optim.h - optimizers and learning-rate schedules.
 *
 * An optimizer updates every parameter group of a net from its gradients:
 * SGD with momentum (optionally Nesterov), Adam (Kingma & Ba 2015) and AdamW
 * (decoupled weight decay, Loshchilov & Hutter 2019). Weight decay applies
 * only to groups with decay=1 (weights, not biases or batch-norm scales).
 * Its state (moments) is one flat array so checkpoints can save and restore it.
 */
#ifndef FER_NN_OPTIM_H
#define FER_NN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "nn/net.h"

enum fer_optim_kind {
    FER_OPTIM_SGD,
    FER_OPTIM_ADAM,
    FER_OPTIM_ADAMW,
};

struct fer_optim_config {
    enum fer_optim_kind kind;
    float momentum;     /* SGD */
    int nesterov;       /* SGD */
    float beta1, beta2; /* Adam */
    float eps;          /* Adam */
    float weight_decay; /* L2 for SGD and Adam, decoupled for AdamW */
    float clip_norm;    /* clip the global gradient norm to this; 0 disables */
};

typedef struct fer_optim fer_optim;

/* Parses "sgd", "adam", "adamw"; returns -1 if unknown. */
int fer_optim_kind_parse(const char *s);
const char *fer_optim_kind_name(enum fer_optim_kind k);
struct fer_optim_config fer_optim_defaults(enum fer_optim_kind kind);

enum fer_status fer_optim_new(const struct fer_optim_config *cfg, fer_net *net, fer_optim **out,
                              char *err);
void fer_optim_free(fer_optim *opt);
/* One update with learning rate lr. Returns the gradient norm before clipping. */
double fer_optim_step(fer_optim *opt, float lr);
/* The state as one array (moments), for checkpoints; and the step count. */
float *fer_optim_state(fer_optim *opt, size_t *n);
uint64_t fer_optim_steps(const fer_optim *opt);
void fer_optim_set_steps(fer_optim *opt, uint64_t steps);

/* Learning-rate schedules over training progress. */
enum fer_sched_kind {
    FER_SCHED_CONSTANT,
    FER_SCHED_STEP,     /* lr * gamma^(floor(epoch / step_epochs)) */
    FER_SCHED_COSINE,   /* cosine from lr to lr*min_ratio over all epochs */
    FER_SCHED_ONECYCLE, /* linear warm-up to lr over warmup epochs, then cosine to 0 */
    FER_SCHED_PLATEAU,  /* lr * gamma each time validation loss stalls for `patience` epochs */
};

struct fer_schedule {
    enum fer_sched_kind kind;
    float base_lr;
    float gamma;     /* step, plateau */
    int step_epochs; /* step */
    float min_ratio; /* cosine */
    float warmup;    /* epochs of linear warm-up (all kinds) */
    int patience;    /* plateau */
    /* plateau state (saved in checkpoints); start with scale 1, best FLT_MAX */
    float plateau_scale;
    float plateau_best;
    int plateau_bad_epochs;
};

int fer_sched_kind_parse(const char *s);
const char *fer_sched_kind_name(enum fer_sched_kind k);
/* Learning rate at fractional epoch t (e.g. 3.25) of `epochs`. */
float fer_schedule_lr(const struct fer_schedule *s, double t, int epochs);
/* Tells a plateau schedule the validation loss at the end of an epoch. */
void fer_schedule_observe(struct fer_schedule *s, float val_loss);

#endif
