/* calibrate.c - temperature scaling fitted by golden-section search (see calibrate.h). */
#include "train/calibrate.h"

#include <math.h>

#include "core/alloc.h"

/* Below this a probability counts as this (log 1e-30 = -69): a zero cannot make -inf. */
#define PROB_FLOOR 1e-30

/* Mean -log softmax(beta * log p)[label] over the faces; logp is n x k. */
static double nll(const double *logp, const uint8_t *labels, size_t n, int k, double beta)
{
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const double *l = logp + i * (size_t)k;
        double top = beta * l[0], sum = 0;
        for (int c = 1; c < k; c++)
            top = fmax(top, beta * l[c]);
        for (int c = 0; c < k; c++)
            sum += exp(beta * l[c] - top);
        total += top + log(sum) - beta * l[labels[i]];
    }
    return n ? total / (double)n : 0;
}

enum fer_status fer_fit_temperature(const float *probs, const fer_dataset *ds,
                                    struct fer_temperature_fit *fit, char *err)
{
    const int k = ds->n_classes;
    if (ds->n == 0)
        return fer_errorf(err, FER_ERR_ARG, "no faces to fit a temperature on");
    double *logp = fer_malloc(ds->n * (size_t)k * sizeof(double));
    if (!logp)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for %zu faces", ds->n);
    for (size_t i = 0; i < ds->n * (size_t)k; i++)
        logp[i] = log(fmax((double)probs[i], PROB_FLOOR));

    /* golden section over beta = 1/T in [1/T_max, 1/T_min] */
    const double phi = (sqrt(5.0) - 1) / 2;
    double lo = 1.0 / FER_FIT_TEMPERATURE_MAX, hi = 1.0 / FER_FIT_TEMPERATURE_MIN;
    double a = hi - phi * (hi - lo), b = lo + phi * (hi - lo);
    double fa = nll(logp, ds->labels, ds->n, k, a), fb = nll(logp, ds->labels, ds->n, k, b);
    for (int it = 0; it < 80 && hi - lo > 1e-7; it++) {
        if (fa < fb) {
            hi = b;
            b = a;
            fb = fa;
            a = hi - phi * (hi - lo);
            fa = nll(logp, ds->labels, ds->n, k, a);
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + phi * (hi - lo);
            fb = nll(logp, ds->labels, ds->n, k, b);
        }
    }
    double beta = (lo + hi) / 2;
    fit->temperature = (float)(1.0 / beta);
    fit->nll_before = nll(logp, ds->labels, ds->n, k, 1.0);
    fit->nll_after = nll(logp, ds->labels, ds->n, k, beta);
    fer_free(logp);
    return FER_OK;
}
