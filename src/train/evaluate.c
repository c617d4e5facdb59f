/* evaluate.c - batched inference over a dataset with optional test-time augmentation. */
#include "train/evaluate.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/progress.h"
#include "data/augment.h"
#include "image/view.h"

static const int VIEW_SHIFTS[5][2] = {{0, 0}, {-2, 0}, {2, 0}, {0, -2}, {0, 2}};

struct fill_job {
    const fer_dataset *ds;
    float *input;
    size_t first;
    int side;
    struct fer_norm norm;
    int dx, dy, flip;
};

static void fill_task(void *arg, size_t i, int thread)
{
    (void)thread;
    struct fill_job *j = arg;
    float *dst = j->input + i * (size_t)j->side * (size_t)j->side;
    const uint8_t *src = j->ds->pixels + (j->first + i) * FER_FACE_PIXELS;
    fer_face_view(src, FER_FACE_SIDE, dst, j->side, j->dx, j->dy, j->flip, j->norm.mean,
                  j->norm.std);
}

/* Counts one face's prediction (the top class of p) in m; returns -log p(truth). */
static double score_face(struct fer_metrics *m, const float *p, int k, int truth)
{
    int best = 0;
    for (int c = 1; c < k; c++)
        best = p[c] > p[best] ? c : best;
    fer_metrics_add(m, truth, best);
    return -log(fmax((double)p[truth], 1e-12));
}

void fer_metrics_from_probs(const float *probs, const fer_dataset *ds, struct fer_metrics *m)
{
    const int k = ds->n_classes;
    fer_metrics_init(m, k);
    double loss = 0;
    for (size_t i = 0; i < ds->n; i++)
        loss += score_face(m, probs + i * (size_t)k, k, ds->labels[i]);
    m->loss = ds->n ? loss / (double)ds->n : 0;
    fer_metrics_finish(m);
}

static const char *const tta_names[] = {"none", "flip", "crops"};

int fer_tta_parse(const char *name)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(name, tta_names[i]) == 0)
            return i;
    return -1;
}

const char *fer_tta_name(enum fer_tta tta)
{
    return (unsigned)tta < 3 ? tta_names[tta] : "?";
}

enum fer_status fer_evaluate(fer_net *net, struct fer_norm norm, const fer_dataset *ds,
                             enum fer_tta tta, int progress, struct fer_metrics *m, float *probs,
                             char *err)
{
    const int k = fer_net_classes(net), side = fer_net_input_side(net);
    const int max_batch = fer_net_max_batch(net);
    if (k != ds->n_classes)
        return fer_errorf(err, FER_ERR_ARG, "the model has %d classes but the data has %d", k,
                          ds->n_classes);
    if (fer_net_input_channels(net) != 1 || side > FER_FACE_SIDE)
        return fer_errorf(err, FER_ERR_ARG, "the model expects %dx%dx%d input; faces are 48x48x1",
                          fer_net_input_channels(net), side, side);
    float *sum = fer_calloc((size_t)max_batch * (size_t)k, sizeof(float));
    if (!sum)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for evaluation");
    int n_views = tta == FER_TTA_NONE ? 1 : tta == FER_TTA_FLIP ? 2 : 10;
    fer_metrics_init(m, k);
    double loss = 0;
    fer_progress bar;
    fer_progress_start(&bar, "eval", "img", ds->n, progress);
    for (size_t first = 0; first < ds->n; first += (size_t)max_batch) {
        int batch = (int)(ds->n - first < (size_t)max_batch ? ds->n - first : (size_t)max_batch);
        memset(sum, 0, sizeof(float) * (size_t)batch * (size_t)k);
        for (int v = 0; v < n_views; v++) {
            struct fill_job j = {ds,
                                 fer_net_input(net),
                                 first,
                                 side,
                                 norm,
                                 VIEW_SHIFTS[v / 2][0],
                                 VIEW_SHIFTS[v / 2][1],
                                 v % 2};
            fer_pool_run(fer_net_pool(net), (size_t)batch, fill_task, &j);
            fer_net_forward(net, batch, 0);
            const float *out = fer_net_output(net);
            for (int i = 0; i < batch * k; i++)
                sum[i] += out[i] / (float)n_views;
        }
        for (int b = 0; b < batch; b++) {
            float *p = sum + (size_t)b * (size_t)k;
            fer_temper(p, k, fer_net_temperature(net));
            loss += score_face(m, p, k, ds->labels[first + (size_t)b]);
            if (probs)
                memcpy(probs + (first + (size_t)b) * (size_t)k, p, sizeof(float) * (size_t)k);
        }
        fer_progress_add(&bar, (size_t)batch, NULL);
    }
    fer_progress_finish(&bar);
    m->loss = ds->n ? loss / (double)ds->n : 0;
    fer_metrics_finish(m);
    fer_free(sum);
    return FER_OK;
}
