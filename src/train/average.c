/* average.c - weight averaging of models and batch-norm recalibration (average.h). */
#include "train/average.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/pool.h"
#include "core/progress.h"
#include "data/augment.h"
#include "image/view.h"
#include "nn/spec.h"

/* Adds src (n floats) into the double accumulator acc. */
static void accumulate(double *acc, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        acc[i] += (double)src[i];
}

static void store_mean(float *dst, const double *acc, size_t n, int count)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)(acc[i] / count);
}

/* Checks that other can be averaged with first: same architecture and classes. */
static enum fer_status same_shape(fer_net *first, fer_net *other, const char *first_path,
                                  const char *path, char *err)
{
    size_t np_a, np_b, nb_a, nb_b;
    fer_net_params(first, &np_a);
    fer_net_params(other, &np_b);
    fer_net_buffers(first, &nb_a);
    fer_net_buffers(other, &nb_b);
    if (fer_net_classes(first) != fer_net_classes(other))
        return fer_errorf(err, FER_ERR_ARG, "%s has %d classes but %s has %d", first_path,
                          fer_net_classes(first), path, fer_net_classes(other));
    if (strcmp(fer_net_spec_text(first), fer_net_spec_text(other)) != 0 || np_a != np_b ||
        nb_a != nb_b)
        return fer_errorf(err, FER_ERR_ARG, "%s and %s have different architectures", first_path,
                          path);
    return FER_OK;
}

enum fer_status fer_average_models(const char *const *paths, int n, int max_batch,
                                   fer_model_loader load, fer_net **net, struct fer_meta *meta,
                                   char *err)
{
    if (!load)
        load = fer_model_load;
    *net = NULL;
    if (n < 1)
        return fer_errorf(err, FER_ERR_ARG, "no models to average");
    enum fer_status st = load(paths[0], max_batch, net, meta, NULL, err);
    if (st != FER_OK)
        return st;
    size_t n_params, n_buffers;
    float *params = fer_net_params(*net, &n_params), *buffers = fer_net_buffers(*net, &n_buffers);
    double *acc_p = fer_calloc(n_params ? n_params : 1, sizeof(double));
    double *acc_b = fer_calloc(n_buffers ? n_buffers : 1, sizeof(double));
    if (!acc_p || !acc_b) {
        st = fer_errorf(err, FER_ERR_NOMEM, "out of memory averaging models");
        goto end;
    }
    accumulate(acc_p, params, n_params);
    accumulate(acc_b, buffers, n_buffers);
    for (int i = 1; i < n && st == FER_OK; i++) {
        fer_net *other = NULL;
        struct fer_meta other_meta = {0};
        st = load(paths[i], 1, &other, &other_meta, NULL, err);
        if (st == FER_OK)
            st = same_shape(*net, other, paths[0], paths[i], err);
        if (st == FER_OK) {
            size_t np, nb;
            accumulate(acc_p, fer_net_params(other, &np), n_params);
            accumulate(acc_b, fer_net_buffers(other, &nb), n_buffers);
        }
        fer_meta_clear(&other_meta);
        fer_net_free(other);
    }
    if (st != FER_OK)
        goto end;
    store_mean(params, acc_p, n_params, n);
    fer_net_weights_changed(*net);
    store_mean(buffers, acc_b, n_buffers, n);

    char list[2048];
    size_t len = (size_t)snprintf(list, sizeof(list), "%d:", n);
    for (int i = 0; i < n && len < sizeof(list); i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, " %s", paths[i]);
    if ((st = fer_meta_set(meta, "averaged_from", list)) != FER_OK)
        fer_errorf(err, st, "model metadata is full");
    /* the first model's figures and history do not describe the average; its
     * command is kept as "first_member_command" (the caller records its own) */
    const char *first_command = fer_meta_get(meta, "command");
    if (st == FER_OK && first_command)
        st = fer_meta_set(meta, "first_member_command", first_command);
    static const char *const per_run[] = {"val_accuracy",  "val_macro_f1", "epoch",
                                          "train_seconds", "command",      "resume_command"};
    fer_model_uncalibrate(*net, meta); /* members' calibrations do not carry over */
    for (size_t i = 0; i < sizeof(per_run) / sizeof(per_run[0]); i++)
        fer_meta_unset(meta, per_run[i]);
end:
    fer_free(acc_p);
    fer_free(acc_b);
    if (st != FER_OK) {
        fer_net_free(*net);
        *net = NULL;
        fer_meta_clear(meta);
    }
    return st;
}

struct view_job {
    const fer_dataset *ds;
    float *dst;
    size_t first;
    int side;
    float mean, std;
};

static void view_task(void *arg, size_t i, int thread)
{
    (void)thread;
    struct view_job *j = arg;
    fer_face_view(j->ds->pixels + (j->first + i) * FER_FACE_PIXELS, FER_FACE_SIDE,
                  j->dst + i * (size_t)j->side * (size_t)j->side, j->side, 0, 0, 0, j->mean,
                  j->std);
}

enum fer_status fer_recalibrate_bn(fer_net *net, const fer_dataset *ds, size_t max_rows,
                                   float norm_mean, float norm_std, int progress, char *err)
{
    const int side = fer_net_input_side(net), max_batch = fer_net_max_batch(net);
    if (fer_net_input_channels(net) != 1 || side > FER_FACE_SIDE)
        return fer_errorf(err, FER_ERR_ARG, "the model expects %dx%dx%d input; faces are 48x48x1",
                          fer_net_input_channels(net), side, side);
    size_t rows = max_rows && max_rows < ds->n ? max_rows : ds->n;
    if (rows == 0)
        return fer_errorf(err, FER_ERR_ARG, "no faces to recalibrate batch norm on");
    fer_progress bar;
    fer_progress_start(&bar, "batch norm", "img", rows, progress);
    size_t seen = 0;
    for (size_t first = 0; first < rows; first += (size_t)max_batch) {
        int batch = (int)(rows - first < (size_t)max_batch ? rows - first : (size_t)max_batch);
        struct view_job j = {ds, fer_net_input(net), first, side, norm_mean, norm_std};
        fer_pool_run(fer_net_pool(net), (size_t)batch, view_task, &j);
        /* weight batch / (seen + batch): after the last batch, the plain mean over all */
        fer_net_set_bn_momentum(net, (float)((double)batch / (double)(seen + (size_t)batch)));
        fer_net_forward(net, batch, 1);
        seen += (size_t)batch;
        fer_progress_add(&bar, (size_t)batch, NULL);
    }
    fer_progress_finish(&bar);
    fer_net_set_bn_momentum(net, 0); /* back to the default */
    return FER_OK;
}

enum fer_status fer_merge_disgust(fer_net **net, struct fer_meta *meta, int max_batch, char *err)
{
    char names[FER_META_MAX][16];
    const char *const *seven = fer_class_names(7), *const *six = fer_class_names(6);
    int n = fer_meta_classes(meta, names, FER_META_MAX);
    int ok = n == 7 && !fer_net_merges_outputs(*net);
    for (int c = 0; ok && c < 7; c++)
        ok = strcmp(names[c], seven[c]) == 0;
    if (!ok)
        return fer_errorf(err, FER_ERR_ARG,
                          "merging disgust into angry needs a model of the 7 FER2013 emotions, "
                          "not one that merges them already; this one has %s",
                          fer_meta_get(meta, "classes") ? fer_meta_get(meta, "classes") : "none");
    /* the same text with merge=0,1 added to its [softmax], which is the last section */
    const char *text = fer_net_spec_text(*net);
    const char *add =
        "\n# disgust (1) merged into angry (0): fer average --merge-disgust\nmerge=0,1\n";
    char *merged_text = fer_malloc(strlen(text) + strlen(add) + 1);
    if (!merged_text)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory merging classes");
    strcpy(merged_text, text);
    strcat(merged_text, add);
    fer_spec *spec = NULL;
    fer_net *six_net = NULL;
    enum fer_status st = fer_spec_parse(merged_text, "the merged architecture", &spec, err);
    fer_free(merged_text);
    if (st == FER_OK)
        st = fer_net_new(spec, 6, max_batch, &six_net, err);
    fer_spec_free(spec);
    if (st != FER_OK)
        return st;
    size_t np, np6, nb, nb6;
    const float *params = fer_net_params(*net, &np), *buffers = fer_net_buffers(*net, &nb);
    float *params6 = fer_net_params(six_net, &np6), *buffers6 = fer_net_buffers(six_net, &nb6);
    if (np != np6 || nb != nb6) { /* the softmax has no parameters: cannot happen */
        fer_net_free(six_net);
        return fer_errorf(err, FER_ERR_ARG, "the merged network's parameters differ");
    }
    memcpy(params6, params, sizeof(float) * np);
    fer_net_weights_changed(six_net);
    memcpy(buffers6, buffers, sizeof(float) * nb);
    /* a temperature fitted on 7 classes does not hold for 6; fer calibrate fits one again */
    fer_model_uncalibrate(six_net, meta);
    char list[6 * 16];
    snprintf(list, sizeof(list), "%s,%s,%s,%s,%s,%s", six[0], six[1], six[2], six[3], six[4],
             six[5]);
    fer_meta_set(meta, "classes", list);
    fer_meta_set(meta, "merged", "disgust into angry: their probabilities added");
    fer_net_free(*net);
    *net = six_net;
    return FER_OK;
}
