/*
 * train_state.c - what a checkpoint records to continue a run exactly: the recipe and how far
 * the run has come, one "trainer" metadata key per field (see fer_train_state_write).
 *
 * One table names every field, its type and where it lives; writing and reading both walk it,
 * so a new field is one new row. Checkpoints from before the table kept groups of fields as
 * positional tuples ("optimizer" = "0 0.9 1 ..."); legacy_upgrade turns those into the keys
 * of the table, so they still resume.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model_file.h"
#include "train/trainer.h"

enum field_type { F_INT, F_U64, F_FLOAT, F_DOUBLE, F_OPTIM_KIND, F_SCHED_KIND };
enum field_home { IN_CONFIG, IN_PROGRESS };

struct field {
    const char *key;
    enum field_type type;
    enum field_home home;
    size_t offset;
    int required; /* 0: a checkpoint without it leaves the caller's value */
};

#define CFG(key, type, member, required)                                                           \
    {                                                                                              \
        key, type, IN_CONFIG, offsetof(struct fer_train_config, member), required                  \
    }
#define PROG(key, type, member, required)                                                          \
    {                                                                                              \
        key, type, IN_PROGRESS, offsetof(struct fer_train_progress, member), required              \
    }

/* The optional rows are those older checkpoints may lack; a field added later is optional. */
static const struct field FIELDS[] = {
    PROG("epoch", F_INT, epoch, 1),
    PROG("steps", F_U64, steps, 1),
    PROG("best_acc", F_DOUBLE, best_acc, 1),
    PROG("best_epoch", F_INT, best_epoch, 0),
    PROG("elapsed", F_DOUBLE, elapsed, 0),
    CFG("seed", F_U64, seed, 1),
    CFG("batch", F_INT, batch, 1),
    CFG("epochs", F_INT, epochs, 0),
    CFG("optim.kind", F_OPTIM_KIND, optim.kind, 1),
    CFG("optim.momentum", F_FLOAT, optim.momentum, 1),
    CFG("optim.nesterov", F_INT, optim.nesterov, 1),
    CFG("optim.beta1", F_FLOAT, optim.beta1, 1),
    CFG("optim.beta2", F_FLOAT, optim.beta2, 1),
    CFG("optim.eps", F_FLOAT, optim.eps, 1),
    CFG("optim.weight_decay", F_FLOAT, optim.weight_decay, 1),
    CFG("optim.clip_norm", F_FLOAT, optim.clip_norm, 1),
    CFG("schedule.kind", F_SCHED_KIND, schedule.kind, 1),
    CFG("schedule.base_lr", F_FLOAT, schedule.base_lr, 1),
    CFG("schedule.gamma", F_FLOAT, schedule.gamma, 1),
    CFG("schedule.step_epochs", F_INT, schedule.step_epochs, 1),
    CFG("schedule.min_ratio", F_FLOAT, schedule.min_ratio, 1),
    CFG("schedule.warmup", F_FLOAT, schedule.warmup, 1),
    CFG("schedule.patience", F_INT, schedule.patience, 1),
    CFG("schedule.plateau_scale", F_FLOAT, schedule.plateau_scale, 1),
    CFG("schedule.plateau_best", F_FLOAT, schedule.plateau_best, 1),
    CFG("schedule.plateau_bad_epochs", F_INT, schedule.plateau_bad_epochs, 1),
    CFG("augment.shift", F_FLOAT, augment.shift, 1),
    CFG("augment.rotate", F_FLOAT, augment.rotate, 1),
    CFG("augment.scale", F_FLOAT, augment.scale, 1),
    CFG("augment.flip", F_FLOAT, augment.flip, 1),
    CFG("augment.brightness", F_FLOAT, augment.brightness, 1),
    CFG("augment.contrast", F_FLOAT, augment.contrast, 1),
    CFG("augment.erase", F_FLOAT, augment.erase, 1),
    CFG("augment.nearest", F_INT, augment.nearest, 0),
    CFG("regularise.label_smoothing", F_FLOAT, label_smoothing, 1),
    CFG("regularise.mixup", F_FLOAT, mixup, 1),
    CFG("eval.tta", F_INT, eval_tta, 1),
    CFG("keep_last", F_INT, keep_last, 0),
};
#define N_FIELDS (sizeof(FIELDS) / sizeof(FIELDS[0]))

static void *field_ptr(const struct field *f, const struct fer_train_config *c,
                       const struct fer_train_progress *p)
{
    const void *home = f->home == IN_CONFIG ? (const void *)c : (const void *)p;
    return (char *)(uintptr_t)home + f->offset;
}

static const struct field *find_field(const char *key)
{
    for (size_t i = 0; i < N_FIELDS; i++)
        if (strcmp(FIELDS[i].key, key) == 0)
            return &FIELDS[i];
    return NULL;
}

void fer_train_state_write(struct fer_meta *t, const struct fer_train_config *c,
                           const struct fer_train_progress *p)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        const struct field *f = &FIELDS[i];
        const void *v = field_ptr(f, c, p);
        switch (f->type) {
        case F_INT:
            fer_meta_setf(t, f->key, "%d", *(const int *)v);
            break;
        case F_U64:
            fer_meta_setf(t, f->key, "%" PRIu64, *(const uint64_t *)v);
            break;
        case F_FLOAT: /* 9 significant digits read back as the same float */
            fer_meta_setf(t, f->key, "%.9g", (double)*(const float *)v);
            break;
        case F_DOUBLE: { /* the fewest digits that read back as the same double */
            double x = *(const double *)v;
            char text[32];
            for (int digits = 15; digits <= 17; digits++) {
                snprintf(text, sizeof(text), "%.*g", digits, x);
                if (strtod(text, NULL) == x)
                    break;
            }
            fer_meta_set(t, f->key, text);
            break;
        }
        case F_OPTIM_KIND:
            fer_meta_set(t, f->key, fer_optim_kind_name(*(const enum fer_optim_kind *)v));
            break;
        case F_SCHED_KIND:
            fer_meta_set(t, f->key, fer_sched_kind_name(*(const enum fer_sched_kind *)v));
            break;
        }
    }
}

/* Parses text, all of it, as f's type into v; returns 0 when it is not one. */
static int parse_field(const struct field *f, const char *text, void *v)
{
    char *end = NULL;
    errno = 0;
    switch (f->type) {
    case F_INT: {
        long x = strtol(text, &end, 10);
        if (x < -2147483647L - 1 || x > 2147483647L)
            return 0;
        *(int *)v = (int)x;
        break;
    }
    case F_U64: {
        if (strchr(text, '-'))
            return 0;
        unsigned long long x = strtoull(text, &end, 10);
        *(uint64_t *)v = (uint64_t)x;
        break;
    }
    case F_FLOAT:
        *(float *)v = strtof(text, &end);
        break;
    case F_DOUBLE:
        *(double *)v = strtod(text, &end);
        break;
    case F_OPTIM_KIND: {
        int k = fer_optim_kind_parse(text);
        if (k < 0)
            return 0;
        *(enum fer_optim_kind *)v = (enum fer_optim_kind)k;
        return 1;
    }
    case F_SCHED_KIND: {
        int k = fer_sched_kind_parse(text);
        if (k < 0)
            return 0;
        *(enum fer_sched_kind *)v = (enum fer_sched_kind)k;
        return 1;
    }
    }
    /* ERANGE is allowed for floats: a denormal or huge value is read as C reads it */
    return end != text && *end == 0 && (errno == 0 || f->type == F_FLOAT || f->type == F_DOUBLE);
}

/*
 * The tuples of checkpoints written before the table, in the order their fields were printed
 * ("%d %.9g %d ..."), and the table keys those fields now have.
 */
static const struct legacy_tuple {
    const char *key;
    const char *fields[10];
} LEGACY[] = {
    {"optimizer",
     {"optim.kind", "optim.momentum", "optim.nesterov", "optim.beta1", "optim.beta2", "optim.eps",
      "optim.weight_decay", "optim.clip_norm"}},
    {"schedule",
     {"schedule.kind", "schedule.base_lr", "schedule.gamma", "schedule.step_epochs",
      "schedule.min_ratio", "schedule.warmup", "schedule.patience", "schedule.plateau_scale",
      "schedule.plateau_best", "schedule.plateau_bad_epochs"}},
    {"augment",
     {"augment.shift", "augment.rotate", "augment.scale", "augment.flip", "augment.brightness",
      "augment.contrast", "augment.erase"}},
    {"augment_nearest", {"augment.nearest"}},
    {"regularise", {"regularise.label_smoothing", "regularise.mixup", "eval.tta"}},
};

/*
 * Copies t into out with each legacy tuple whose fields t lacks split into the table's keys.
 * The kinds were numbers (the enums' values) and are now names; and "augment_nearest" came
 * later than "augment": without it, as the old reader did, sampling is bilinear.
 */
static enum fer_status legacy_upgrade(const struct fer_meta *t, struct fer_meta *out, char *err)
{
    for (int i = 0; i < t->n; i++)
        fer_meta_set(out, t->key[i], t->value[i]);
    for (size_t g = 0; g < sizeof(LEGACY) / sizeof(LEGACY[0]); g++) {
        const struct legacy_tuple *lt = &LEGACY[g];
        const char *tuple = fer_meta_get(t, lt->key);
        if (!tuple || fer_meta_get(t, lt->fields[0]))
            continue;
        const char *s = tuple;
        for (int i = 0; i < 10 && lt->fields[i]; i++) {
            char token[64];
            int used = 0;
            if (sscanf(s, " %63s%n", token, &used) != 1)
                return fer_errorf(err, FER_ERR_CORRUPT,
                                  "checkpoint has a malformed training state ('%s' is '%s')",
                                  lt->key, tuple);
            s += used;
            const struct field *f = find_field(lt->fields[i]);
            char *end;
            long k = strtol(token, &end, 10);
            if (f && (f->type == F_OPTIM_KIND || f->type == F_SCHED_KIND)) {
                int max = f->type == F_OPTIM_KIND ? FER_OPTIM_ADAMW : FER_SCHED_PLATEAU;
                if (end == token || *end || k < 0 || k > max)
                    return fer_errorf(err, FER_ERR_CORRUPT,
                                      "checkpoint has a malformed training state ('%s' is '%s')",
                                      lt->key, tuple);
                fer_meta_set(out, lt->fields[i],
                             f->type == F_OPTIM_KIND ? fer_optim_kind_name((enum fer_optim_kind)k)
                                                     : fer_sched_kind_name((enum fer_sched_kind)k));
            } else {
                fer_meta_set(out, lt->fields[i], token);
            }
        }
        while (*s == ' ')
            s++;
        if (*s)
            return fer_errorf(err, FER_ERR_CORRUPT,
                              "checkpoint has a malformed training state ('%s' is '%s')", lt->key,
                              tuple);
    }
    if (fer_meta_get(t, "augment") && !fer_meta_get(out, "augment.nearest"))
        fer_meta_set(out, "augment.nearest", "0");
    return fer_meta_check(out, "checkpoint", err);
}

enum fer_status fer_train_state_read(const struct fer_meta *t, struct fer_train_config *c,
                                     struct fer_train_progress *p, char *err)
{
    struct fer_meta m = {0};
    enum fer_status st = legacy_upgrade(t, &m, err);
    /* read into copies, so that a bad checkpoint leaves c and p as they were */
    struct fer_train_config c2 = *c;
    struct fer_train_progress p2 = *p;
    for (size_t i = 0; i < N_FIELDS && st == FER_OK; i++) {
        const struct field *f = &FIELDS[i];
        const char *text = fer_meta_get(&m, f->key);
        if (!text && f->required)
            st = fer_errorf(err, FER_ERR_CORRUPT, "checkpoint lacks its training state (no '%s')",
                            f->key);
        else if (text && !parse_field(f, text, field_ptr(f, &c2, &p2)))
            st = fer_errorf(err, FER_ERR_CORRUPT,
                            "checkpoint has a malformed training state ('%s' is '%s')", f->key,
                            text);
    }
    if (st == FER_OK && c2.batch < 1)
        st = fer_errorf(err, FER_ERR_CORRUPT,
                        "checkpoint has a malformed training state (batch %d)", c2.batch);
    if (st == FER_OK) {
        *c = c2;
        *p = p2;
    }
    fer_meta_clear(&m);
    return st;
}
