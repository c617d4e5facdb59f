/*
 * recipe.c - training defaults and the [train] section of an architecture
 * spec, which lets a model file in models/ carry the recipe that trains it.
 */
#include <string.h>

#include "train/evaluate.h"
#include "train/trainer.h"

void fer_train_config_defaults(struct fer_train_config *c)
{
    memset(c, 0, sizeof(*c));
    c->n_classes = 7;
    c->labels = FER_LABELS_FER2013;
    c->ferplus_weight = FER_FERPLUS_WEIGHT_DEFAULT;
    c->teacher.weight = FER_TEACHER_WEIGHT_DEFAULT;
    c->teacher.temperature = FER_TEACHER_TEMPERATURE_DEFAULT;
    c->teacher.tta = FER_TTA_FLIP;
    c->epochs = 30;
    c->batch = 128;
    c->seed = 1;
    c->threads = 0;
    c->optim = fer_optim_defaults(FER_OPTIM_SGD);
    c->schedule =
        (struct fer_schedule){FER_SCHED_COSINE, 0.01f, 0.1f, 10, 0.0f, 0.0f, 3, 1.0f, 3.4e38f, 0};
    c->augment = fer_augment_defaults();
    c->progress = 0; /* a library draws nothing unless asked; fer train asks */
    c->name = NULL;  /* describe_model: the checkpoint's name, or "fer-model" */
}

enum fer_status fer_train_config_from_spec(struct fer_train_config *c, fer_spec *spec, char *err)
{
    struct fer_spec_section *s = fer_spec_find(spec, "train");
    if (!s)
        return FER_OK;
    const char *n = spec->name;
    int bad = 0;
    const char *opt = fer_spec_str(s, "optimizer", NULL);
    if (opt) {
        int kind = fer_optim_kind_parse(opt);
        if (kind < 0)
            return fer_errorf(err, FER_ERR_FORMAT,
                              "%s:%d: unknown optimizer '%s' (sgd, adam, adamw)", n, s->line, opt);
        c->optim = fer_optim_defaults((enum fer_optim_kind)kind);
    }
    const char *sched = fer_spec_str(s, "schedule", NULL);
    if (sched) {
        int kind = fer_sched_kind_parse(sched);
        if (kind < 0)
            return fer_errorf(err, FER_ERR_FORMAT,
                              "%s:%d: unknown schedule '%s' (constant, step, cosine, onecycle, "
                              "plateau)",
                              n, s->line, sched);
        c->schedule.kind = (enum fer_sched_kind)kind;
    }
    c->schedule.base_lr = fer_spec_float(s, "lr", c->schedule.base_lr, 1e-7f, 10, n, &bad, err);
    c->schedule.warmup = fer_spec_float(s, "warmup", c->schedule.warmup, 0, 1000, n, &bad, err);
    c->schedule.gamma = fer_spec_float(s, "gamma", c->schedule.gamma, 0.001f, 1, n, &bad, err);
    c->schedule.step_epochs =
        fer_spec_int(s, "step_epochs", c->schedule.step_epochs, 1, 100000, n, &bad, err);
    c->schedule.min_ratio =
        fer_spec_float(s, "min_lr_ratio", c->schedule.min_ratio, 0, 1, n, &bad, err);
    c->schedule.patience = fer_spec_int(s, "patience", c->schedule.patience, 0, 1000, n, &bad, err);
    c->optim.momentum = fer_spec_float(s, "momentum", c->optim.momentum, 0, 0.999f, n, &bad, err);
    c->optim.nesterov = fer_spec_int(s, "nesterov", c->optim.nesterov, 0, 1, n, &bad, err);
    c->optim.weight_decay =
        fer_spec_float(s, "weight_decay", c->optim.weight_decay, 0, 1, n, &bad, err);
    c->optim.clip_norm = fer_spec_float(s, "clip_norm", c->optim.clip_norm, 0, 1e6f, n, &bad, err);
    c->epochs = fer_spec_int(s, "epochs", c->epochs, 1, 100000, n, &bad, err);
    c->batch = fer_spec_int(s, "batch", c->batch, 1, 4096, n, &bad, err);
    c->label_smoothing =
        fer_spec_float(s, "label_smoothing", c->label_smoothing, 0, 0.5f, n, &bad, err);
    c->mixup = fer_spec_float(s, "mixup", c->mixup, 0, 10, n, &bad, err);
    struct fer_augment *a = &c->augment;
    a->shift = fer_spec_float(s, "shift", a->shift, 0, 24, n, &bad, err);
    a->rotate = fer_spec_float(s, "rotate", a->rotate, 0, 90, n, &bad, err);
    a->scale = fer_spec_float(s, "scale", a->scale, 0, 0.5f, n, &bad, err);
    a->flip = fer_spec_float(s, "flip", a->flip, 0, 1, n, &bad, err);
    a->brightness = fer_spec_float(s, "brightness", a->brightness, 0, 1, n, &bad, err);
    a->contrast = fer_spec_float(s, "contrast", a->contrast, 0, 1, n, &bad, err);
    a->erase = fer_spec_float(s, "erase", a->erase, 0, 1, n, &bad, err);
    a->nearest = fer_spec_int(s, "nearest", a->nearest, 0, 1, n, &bad, err);
    c->eval_tta = fer_spec_int(s, "eval_tta", c->eval_tta, 0, 2, n, &bad, err);
    if (bad)
        return FER_ERR_FORMAT;
    for (int k = 0; k < s->n_kv; k++)
        if (!s->kv[k].used)
            return fer_errorf(err, FER_ERR_FORMAT, "%s:%d: unknown key '%s' in [train]", n,
                              s->kv[k].line, s->kv[k].key);
    return FER_OK;
}
