/* ensemble.c - several models' probabilities averaged (see ensemble.h). */
#include "train/ensemble.h"

#include <string.h>

#include "core/alloc.h"

void fer_ensemble_free(fer_ensemble *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->n; i++) {
        fer_net_free(e->nets[i]);
        fer_meta_clear(&e->metas[i]);
    }
    fer_free(e);
}

/* Checks that member i answers the same question as member 0. */
static enum fer_status check_member(const fer_ensemble *e, int i, char *err)
{
    const fer_net *a = e->nets[0], *b = e->nets[i];
    if (fer_net_classes(a) != fer_net_classes(b))
        return fer_errorf(err, FER_ERR_ARG, "%s has %d classes but %s has %d", e->paths[i],
                          fer_net_classes(b), e->paths[0], fer_net_classes(a));
    if (fer_net_input_side(a) != fer_net_input_side(b) ||
        fer_net_input_channels(a) != fer_net_input_channels(b))
        return fer_errorf(err, FER_ERR_ARG, "%s and %s expect different inputs", e->paths[i],
                          e->paths[0]);
    const char *ca = fer_meta_get(&e->metas[0], "classes");
    const char *cb = fer_meta_get(&e->metas[i], "classes");
    if (ca && cb && strcmp(ca, cb) != 0)
        return fer_errorf(err, FER_ERR_ARG, "%s has classes %s but %s has %s", e->paths[i], cb,
                          e->paths[0], ca);
    return FER_OK;
}

enum fer_status fer_ensemble_load(const char *list, int max_batch, fer_pool *pool,
                                  fer_model_loader load, fer_ensemble **out, char *err)
{
    if (!load)
        load = fer_model_load;
    *out = NULL;
    fer_ensemble *e = fer_calloc(1, sizeof(*e));
    if (!e)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for an ensemble");
    enum fer_status st = FER_OK;
    const char *p = list;
    while (st == FER_OK) {
        size_t len = strcspn(p, ",");
        if (len == 0)
            st = fer_errorf(err, FER_ERR_ARG, "empty model name in '%s'", list);
        else if (e->n == FER_ENSEMBLE_MAX)
            st =
                fer_errorf(err, FER_ERR_ARG, "more than %d models in '%s'", FER_ENSEMBLE_MAX, list);
        else if (len >= sizeof(e->paths[0]))
            st = fer_errorf(err, FER_ERR_ARG, "model path too long in '%s'", list);
        if (st != FER_OK)
            break;
        int i = e->n;
        memcpy(e->paths[i], p, len);
        e->paths[i][len] = '\0';
        st = load(e->paths[i], max_batch, &e->nets[i], &e->metas[i], NULL, err);
        if (st != FER_OK) {
            fer_meta_clear(&e->metas[i]); /* whatever a failed load left */
            break;
        }
        e->n++;
        if ((st = fer_net_set_pool(e->nets[i], pool, err)) == FER_OK)
            st = check_member(e, i, err);
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    if (st != FER_OK) {
        fer_ensemble_free(e);
        return st;
    }
    *out = e;
    return FER_OK;
}

int fer_ensemble_classes(const fer_ensemble *e)
{
    return fer_net_classes(e->nets[0]);
}

enum fer_status fer_ensemble_probs(fer_ensemble *e, const fer_dataset *ds, enum fer_tta tta,
                                   int progress, float *probs, double *member_acc, char *err)
{
    const size_t count = ds->n * (size_t)ds->n_classes;
    float *one = e->n > 1 ? fer_malloc((count ? count : 1) * sizeof(float)) : probs;
    if (!one)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for %zu predictions", ds->n);
    enum fer_status st = FER_OK;
    memset(probs, 0, count * sizeof(float));
    for (int i = 0; i < e->n && st == FER_OK; i++) {
        struct fer_norm norm;
        fer_meta_norm(&e->metas[i], &norm.mean, &norm.std);
        struct fer_metrics m;
        st = fer_evaluate(e->nets[i], norm, ds, tta, progress, &m, one, err);
        if (st != FER_OK)
            break;
        if (member_acc)
            member_acc[i] = m.accuracy;
        if (one != probs)
            for (size_t j = 0; j < count; j++)
                probs[j] += one[j] / (float)e->n;
    }
    if (one != probs)
        fer_free(one);
    return st;
}
