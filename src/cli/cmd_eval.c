/*
 * cmd_eval.c - `fer eval`: a model's accuracy, per-class precision, recall and
 * F1, macro-F1 and confusion matrix on a FER2013 CSV, as text or JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "nn/model_file.h"
#include "train/ensemble.h"

static const char *USAGE =
    "fer eval --model MODEL[,MODEL...] --data FILE [--usage NAME] [--json] [--tta none|flip|crops]";

/*
 * A 7-class model scored on 6 classes: each face's angry and disgust
 * probabilities are added, the others kept (in place: the first n x 6 floats
 * of probs), and the labels merged likewise.
 */
static enum fer_status merge_predictions(float *probs, fer_dataset *ds, char *err)
{
    for (size_t i = 0; i < ds->n; i++) {
        float p6[6] = {0};
        for (int c = 0; c < 7; c++)
            p6[fer_class_merged(c)] += probs[i * 7 + (size_t)c];
        memcpy(probs + i * 6, p6, sizeof(p6));
    }
    return fer_dataset_merge_disgust(ds, err);
}

int fer_cmd_eval(int argc, char **argv)
{
    const char *model_path = NULL, *data_path = NULL, *tta_name = "flip", *labels = "fer2013";
    const char *ferplus = NULL, *exclude = NULL, *usage_name = NULL;
    int json = 0, threads = 0, batch = 256, skip_bad = 0, premerged = 0, no_progress = 0;
    int merge = 0;
    struct fer_opt opts[] = {
        {"model", FER_OPT_STR, &model_path,
         "model file (.fer); several, separated by commas, are scored as an ensemble "
         "(their probabilities averaged)",
         NULL},
        {"data", FER_OPT_STR, &data_path, "FER2013 CSV (.csv or .csv.gz)", NULL},
        {"json", FER_OPT_FLAG, &json, "print one JSON object", NULL},
        {"tta", FER_OPT_STR, &tta_name,
         "test-time augmentation: none | flip (default, as fer predict) | crops", NULL},
        {"labels", FER_OPT_STR, &labels, "fer2013 | ferplus-majority", NULL},
        {"ferplus", FER_OPT_STR, &ferplus, "FER+ votes file for --labels ferplus-majority", NULL},
        {"exclude-overlap", FER_OPT_STR, &exclude,
         "leave out faces whose pixels also occur in this file (e.g. the training set)", NULL},
        {"merge-disgust", FER_OPT_FLAG, &merge,
         "score a 7-class model on 6 classes: its angry and disgust probabilities added", NULL},
        {"premerged", FER_OPT_FLAG, &premerged,
         "the data already has 6-class labels (from fer prepare --classes 6)", NULL},
        FER_OPT_USAGE(&usage_name),
        {"batch", FER_OPT_INT, &batch, "faces per forward pass", NULL},
        FER_OPT_THREADS(&threads),
        {"skip-bad-rows", FER_OPT_FLAG, &skip_bad, "skip malformed CSV rows", NULL},
        FER_OPT_NO_PROGRESS(&no_progress),
        FER_OPT_END,
    };
    struct fer_args args = {
        .command = "eval", .usage = USAGE, .opts = opts, .required = "model data"};
    int status = fer_args_read(argc, argv, &args);
    if (status != FER_ARGS_GO)
        return status;
    int tta_kind = fer_args_tta(&args, tta_name);
    int usage = fer_args_usage_choice(&args, usage_name);
    if (tta_kind < 0 || usage < FER_USAGE_UNSET)
        return FER_EXIT_USAGE;
    enum fer_tta tta = (enum fer_tta)tta_kind;
    int ls = fer_label_source_parse(labels);
    if (ls < 0 || ls == FER_LABELS_FERPLUS_SOFT || (ls != FER_LABELS_FER2013 && !ferplus)) {
        fprintf(stderr, "fer eval: --labels must be fer2013, or ferplus-majority with --ferplus\n");
        return FER_EXIT_USAGE;
    }
    if (batch < 1 || batch > 4096) {
        fprintf(stderr, "fer eval: --batch must be in [1, 4096]\n");
        return FER_EXIT_USAGE;
    }
    char err[FER_ERR_LEN];
    status = FER_EXIT_FAIL;
    fer_ensemble *models = NULL;
    fer_pool *pool = NULL;
    fer_dataset *ds = NULL;
    float *probs = NULL;
    enum fer_status st = fer_pool_new(threads, &pool, err);
    if (st == FER_OK)
        st = fer_ensemble_load(model_path, batch, pool, &models, err);
    struct fer_read_options ro = {skip_bad, -1, 0};
    size_t skipped = 0, removed = 0, unusable = 0;
    struct fer_usage_pick pick = {0};
    if (st == FER_OK)
        st = fer_dataset_read_csv(data_path, &ro, &ds, &skipped, err);
    if (st == FER_OK)
        st = fer_dataset_pick_usage(ds, data_path, usage, FER_USAGE_PUBLIC_TEST, &pick, err);
    if (st == FER_OK && pick.kept)
        fprintf(stderr, "fer eval: %s\n", pick.note);
    const char *rows = pick.kept;
    if (st == FER_OK && ls != FER_LABELS_FER2013)
        st = fer_dataset_apply_ferplus(ds, ferplus, (enum fer_label_source)ls, 1, &unusable, err);
    if (st == FER_OK && fer_ensemble_classes(models) == 6) {
        if (premerged)
            ds->n_classes = 6;
        else
            st = fer_dataset_merge_disgust(ds, err);
    }
    if (st == FER_OK && exclude)
        st = fer_dataset_drop_overlap(ds, exclude, &removed, err);
    if (st == FER_OK && merge && (fer_ensemble_classes(models) != 7 || ds->n_classes != 7))
        st = fer_errorf(err, FER_ERR_ARG, "--merge-disgust needs a 7-class model and 7-class data");
    if (st == FER_OK && ds->n == 0)
        st = fer_errorf(err, FER_ERR_FORMAT, "no faces left to evaluate in %s", data_path);
    double member_acc[FER_ENSEMBLE_MAX];
    struct fer_metrics m;
    if (st == FER_OK &&
        !(probs = fer_malloc((ds->n ? ds->n : 1) * (size_t)ds->n_classes * sizeof(float))))
        st = fer_errorf(err, FER_ERR_NOMEM, "out of memory for %zu predictions", ds->n);
    if (st == FER_OK)
        st = fer_ensemble_probs(models, ds, tta, !no_progress && !json, probs, member_acc, err);
    if (st == FER_OK && merge)
        st = merge_predictions(probs, ds, err);
    if (st != FER_OK) {
        fprintf(stderr, "fer eval: %s\n", err);
        goto end;
    }
    fer_metrics_from_probs(probs, ds, &m);
    const struct fer_meta *meta = &models->metas[0];
    char names[FER_MAX_CLASSES][16];
    const char *name_ptrs[FER_MAX_CLASSES];
    int nc = fer_meta_classes(meta, names, FER_MAX_CLASSES);
    for (int i = 0; i < nc; i++)
        name_ptrs[i] = names[i];
    if (merge)
        for (int i = 0; i < 6; i++)
            name_ptrs[i] = fer_class_names(6)[i];
    if (json) {
        fer_metrics_print_json(&m, name_ptrs, stdout);
    } else {
        for (int i = 0; i < models->n; i++) {
            const char *name = fer_meta_get(&models->metas[i], "name");
            printf("model     %s (%s)", models->paths[i], name ? name : "unnamed");
            if (models->n > 1)
                printf(": %.2f%% alone%s", 100 * member_acc[i], merge ? " (7 classes)" : "");
            printf("\n");
        }
        if (models->n > 1)
            printf("ensemble  the mean of %d models' probabilities\n", models->n);
        printf("data      %s%s%s%s\n", data_path, rows ? ", its " : "", rows ? rows : "",
               rows ? " rows" : "");
        if (skipped)
            printf("skipped   %zu malformed rows\n", skipped);
        if (unusable)
            printf("dropped   %zu faces FER+ marks as not a face or unknown\n", unusable);
        if (exclude)
            printf("excluded  %zu faces that also occur in %s\n", removed, exclude);
        printf("tta       %s\n", tta_name);
        fer_metrics_print(&m, name_ptrs, stdout);
    }
    status = FER_EXIT_OK;
end:
    fer_free(probs);
    fer_dataset_free(ds);
    fer_ensemble_free(models);
    fer_pool_free(pool);
    return status;
}
