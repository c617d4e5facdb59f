/*
 * cmd_calibrate.c - `fer calibrate`: fits a model's temperature on held-out
 * faces (train/calibrate.h) and writes the model with it, so that the
 * probabilities fer predict and fer serve report mean what they say.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "nn/model_file.h"
#include "pipeline/builtin_model.h"
#include "report/report.h"
#include "train/calibrate.h"
#include "train/evaluate.h"

static const char *USAGE =
    "fer calibrate --model MODEL --data HELD_OUT.csv --out MODEL [--tta none|flip|crops]";

/* Expected calibration error of probs (n x k) in 10 bins, the figure fer report draws. */
static double ece(const float *probs, const fer_dataset *ds)
{
    struct fer_calibration cal;
    fer_calibration_compute(probs, ds->labels, ds->n, ds->n_classes, 10, &cal);
    return cal.ece;
}

static enum fer_status calibrate(const char *model, const char *data, int usage, const char *out,
                                 enum fer_tta tta, int threads, int progress, char *err)
{
    struct fer_usage_pick pick = {0};
    fer_net *net = NULL;
    fer_pool *pool = NULL;
    fer_dataset *ds = NULL;
    float *probs = NULL;
    struct fer_meta meta = {0}, trainer = {0};
    struct fer_checkpoint_extra extra = {&trainer, NULL, 0};
    enum fer_status st =
        fer_builtin_or_file_load(model, FER_MODEL_CLASSIFIER, 256, &net, &meta, &extra, err);
    fer_free(extra.optim);
    /* saving would drop the trainer's state, and the resume with it */
    if (st == FER_OK && trainer.n > 0)
        st = fer_errorf(err, FER_ERR_ARG,
                        "%s is a training checkpoint; calibrate the model file it saved", model);
    if (st == FER_OK && (st = fer_pool_new(threads, &pool, err)) == FER_OK)
        st = fer_net_set_pool(net, pool, err);
    if (st == FER_OK)
        st = fer_dataset_read_for_model(data, fer_net_classes(net), usage, FER_USAGE_PUBLIC_TEST,
                                        &ds, &pick, err);
    if (st != FER_OK)
        goto end;
    if (pick.kept)
        fprintf(stderr, "fer calibrate: %s\n", pick.note);
    const size_t count = (ds->n ? ds->n : 1) * (size_t)ds->n_classes;
    if (!(probs = fer_malloc(count * sizeof(float)))) {
        st = fer_errorf(err, FER_ERR_NOMEM, "out of memory for %zu predictions", ds->n);
        goto end;
    }
    const float before = fer_net_temperature(net);
    fer_net_set_temperature(net, 1.0f); /* fit from the raw probabilities */
    struct fer_norm norm;
    fer_meta_norm(&meta, &norm.mean, &norm.std);
    struct fer_metrics m;
    struct fer_temperature_fit fit;
    if ((st = fer_evaluate(net, norm, ds, tta, progress, &m, probs, err)) != FER_OK ||
        (st = fer_fit_temperature(probs, ds, &fit, err)) != FER_OK)
        goto end;
    const double ece_before = ece(probs, ds);
    for (size_t i = 0; i < ds->n; i++)
        fer_temper(probs + i * (size_t)ds->n_classes, ds->n_classes, fit.temperature);
    const double ece_after = ece(probs, ds);

    fer_net_set_temperature(net, fit.temperature);
    if (fer_meta_setf(&meta, "temperature", "%.6g", (double)fit.temperature) != FER_OK ||
        fer_meta_setf(&meta, "temperature_fitted_on", "%s%s%s%s (%zu faces, tta %s)", data,
                      pick.kept ? ", its " : "", pick.kept ? pick.kept : "",
                      pick.kept ? " rows" : "", ds->n, fer_tta_name(tta)) != FER_OK) {
        st = fer_errorf(err, FER_ERR_LIMIT, "%s: no room for the temperature in its metadata",
                        model);
        goto end;
    }
    if ((st = fer_model_save(out, net, &meta, NULL, err)) != FER_OK)
        goto end;
    if (before != 1.0f)
        printf("(the model had temperature %.4g; fitted again from the raw probabilities)\n",
               (double)before);
    printf("temperature %.4g fitted on %zu faces (tta %s): log-loss %.4f -> %.4f, "
           "calibration error %.2f%% -> %.2f%%; accuracy %.2f%% is unchanged\nwrote %s\n",
           (double)fit.temperature, ds->n, fer_tta_name(tta), fit.nll_before, fit.nll_after,
           100 * ece_before, 100 * ece_after, 100 * m.accuracy, out);
end:
    fer_free(probs);
    fer_dataset_free(ds);
    fer_net_free(net);
    fer_pool_free(pool);
    fer_meta_clear(&meta);
    fer_meta_clear(&trainer);
    return st;
}

int fer_cmd_calibrate(int argc, char **argv)
{
    const char *model = NULL, *data = NULL, *out = NULL, *tta_name = "flip", *usage_name = NULL;
    int threads = 0, no_progress = 0;
    struct fer_opt opts[] = {
        {"model", FER_OPT_STR, &model, "model file (.fer)", NULL},
        {"data", FER_OPT_STR, &data,
         "FER2013 CSV of faces the model was not trained on (e.g. PublicTest)", NULL},
        {"out", FER_OPT_STR, &out, "where the calibrated model goes (may be --model)", NULL},
        {"tta", FER_OPT_STR, &tta_name,
         "test-time augmentation it will be used with: none | flip (default) | crops", NULL},
        FER_OPT_USAGE(&usage_name),
        FER_OPT_THREADS(&threads),
        FER_OPT_NO_PROGRESS(&no_progress),
        FER_OPT_END,
    };
    struct fer_args args = {
        .command = "calibrate", .usage = USAGE, .opts = opts, .required = "model data out"};
    int status = fer_args_read(argc, argv, &args);
    if (status != FER_ARGS_GO)
        return status;
    int tta = fer_args_tta(&args, tta_name);
    int usage = fer_args_usage_choice(&args, usage_name);
    if (tta < 0 || usage < FER_USAGE_UNSET)
        return FER_EXIT_USAGE;
    char err[FER_ERR_LEN];
    if (calibrate(model, data, usage, out, (enum fer_tta)tta, threads, !no_progress, err) !=
        FER_OK) {
        fprintf(stderr, "fer calibrate: %s\n", err);
        return FER_EXIT_FAIL;
    }
    return FER_EXIT_OK;
}
