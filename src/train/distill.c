/* distill.c - a teacher's predictions blended into the training targets (see distill.h). */
#include "train/distill.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/sha256.h"
#include "train/ensemble.h"
#include "train/teacher_cache.h"

/* Faces per forward pass of the teacher. */
#define TEACHER_BATCH 256

enum fer_status fer_distill_blend(fer_dataset *ds, const float *probs, float weight,
                                  float temperature, char *err)
{
    const int k = ds->n_classes;
    if (!(weight >= 0 && weight <= 1))
        return fer_errorf(err, FER_ERR_ARG, "the teacher's weight must be in [0, 1], not %g",
                          (double)weight);
    if (!(temperature > 0 && temperature <= 100))
        return fer_errorf(err, FER_ERR_ARG, "the teacher's temperature must be in (0, 100], not %g",
                          (double)temperature);
    float *soft = ds->soft;
    if (!soft && !(soft = fer_malloc((ds->n ? ds->n : 1) * (size_t)k * sizeof(float))))
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for %zu soft targets", ds->n);
    for (size_t i = 0; i < ds->n; i++) {
        float *t = soft + i * (size_t)k;
        const float *p = probs + i * (size_t)k;
        if (!ds->soft)
            for (int c = 0; c < k; c++)
                t[c] = c == ds->labels[i] ? 1.0f : 0.0f;
        double q[FER_MAX_CLASSES], sum = 0;
        for (int c = 0; c < k; c++)
            sum += q[c] = pow(fmax((double)p[c], 0.0), 1.0 / (double)temperature);
        for (int c = 0; c < k; c++) {
            double share = sum > 0 ? q[c] / sum : 1.0 / k; /* a teacher with no opinion */
            t[c] = (float)((1 - (double)weight) * (double)t[c] + (double)weight * share);
        }
    }
    ds->soft = soft;
    return FER_OK;
}

/* How often the teacher's top class is the label, and how sure it is on average. */
static void summarise(const fer_dataset *ds, const float *probs, struct fer_teacher_report *rep)
{
    struct fer_metrics m;
    fer_metrics_from_probs(probs, ds, &m);
    rep->agreement = m.accuracy;
    double conf = 0;
    for (size_t i = 0; i < ds->n; i++) {
        const float *p = probs + i * (size_t)ds->n_classes;
        float top = p[0];
        for (int c = 1; c < ds->n_classes; c++)
            top = p[c] > top ? p[c] : top;
        conf += (double)top;
    }
    rep->mean_confidence = ds->n ? conf / (double)ds->n : 0;
}

enum fer_status fer_distill_targets(fer_dataset *ds, const struct fer_teacher *t, fer_pool *pool,
                                    int progress, struct fer_teacher_report *report, char *err)
{
    struct fer_teacher_report rep = {0};
    fer_ensemble *e = NULL;
    float *probs = NULL;
    if (!(t->weight >= 0 && t->weight <= 1) || !(t->temperature > 0 && t->temperature <= 100))
        return fer_distill_blend(ds, NULL, t->weight, t->temperature, err); /* its message */
    enum fer_status st = fer_ensemble_load(t->models, TEACHER_BATCH, pool, NULL, &e, err);
    /* the teacher's raw probabilities: a model's fitted temperature is for its users, and
     * --teacher-temperature is how distillation softens or sharpens them */
    for (int i = 0; st == FER_OK && i < e->n; i++)
        fer_net_set_temperature(e->nets[i], 1.0f);
    if (st == FER_OK && fer_ensemble_classes(e) != ds->n_classes)
        st = fer_errorf(err, FER_ERR_ARG, "the teacher has %d classes but the training data %d",
                        fer_ensemble_classes(e), ds->n_classes);
    for (int i = 0; st == FER_OK && i < e->n; i++) {
        char *at = rep.sha256 + strlen(rep.sha256);
        if (i > 0)
            *at++ = ',';
        st = fer_sha256_file(e->paths[i], at, err);
    }
    if (st == FER_OK) {
        rep.n_models = e->n;
        size_t count = (ds->n ? ds->n : 1) * (size_t)ds->n_classes;
        if (!(probs = fer_malloc(count * sizeof(float))))
            st = fer_errorf(err, FER_ERR_NOMEM, "out of memory for the teacher's predictions");
    }
    uint8_t key[32];
    if (st == FER_OK && t->cache_path) {
        fer_teacher_cache_key(rep.sha256, t->tta, ds, key);
        rep.cached = fer_teacher_cache_read(t->cache_path, key, ds, probs, rep.cache_note) == 1;
    }
    if (st == FER_OK && !rep.cached) {
        st = fer_ensemble_probs(e, ds, (enum fer_tta)t->tta, progress, probs, NULL, err);
        if (st == FER_OK && t->cache_path) {
            char why[FER_ERR_LEN];
            rep.cache_kept = fer_teacher_cache_write(t->cache_path, key, ds, probs, why) == FER_OK;
            if (!rep.cache_kept)
                snprintf(rep.cache_note, sizeof(rep.cache_note), "%s", why);
        }
    }
    if (st == FER_OK) {
        summarise(ds, probs, &rep);
        st = fer_distill_blend(ds, probs, t->weight, t->temperature, err);
    }
    if (st == FER_OK && report)
        *report = rep;
    fer_free(probs);
    fer_ensemble_free(e);
    return st;
}
