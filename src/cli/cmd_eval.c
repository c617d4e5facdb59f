/*
 * cmd_eval.c - `fer eval`: a model's accuracy, per-class precision, recall and
 * F1, macro-F1 and confusion matrix on a FER2013 CSV, as text or JSON.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "nn/model_file.h"
#include "train/evaluate.h"

static const char *USAGE = "fer eval --model MODEL --data FILE [--json] [--tta none|flip|crops]";

/*
 * A 7-class model scored on 6 classes: each face's angry and disgust
 * probabilities are added, the others kept, and the labels merged likewise.
 */
static enum fer_status evaluate_merged(fer_net *net, struct fer_norm norm, const fer_dataset *ds,
                                       enum fer_tta tta, int progress, struct fer_metrics *m,
                                       char *err)
{
    float *probs = fer_malloc((ds->n ? ds->n : 1) * 7 * sizeof(float));
    if (!probs)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for %zu predictions", ds->n);
    struct fer_metrics m7;
    enum fer_status st = fer_evaluate(net, norm, ds, tta, progress, &m7, probs, err);
    if (st == FER_OK) {
        fer_metrics_init(m, 6);
        double loss = 0;
        for (size_t i = 0; i < ds->n; i++) {
            float p6[6] = {0};
            for (int c = 0; c < 7; c++)
                p6[fer_class_merged(c)] += probs[i * 7 + (size_t)c];
            int best = 0, truth = fer_class_merged(ds->labels[i]);
            for (int c = 1; c < 6; c++)
                best = p6[c] > p6[best] ? c : best;
            fer_metrics_add(m, truth, best);
            loss -= log(fmax((double)p6[truth], 1e-12));
        }
        m->loss = ds->n ? loss / (double)ds->n : 0;
        fer_metrics_finish(m);
    }
    fer_free(probs);
    return st;
}

int fer_cmd_eval(int argc, char **argv)
{
    const char *model_path = NULL, *data_path = NULL, *tta_name = "flip", *labels = "fer2013";
    const char *ferplus = NULL, *exclude = NULL;
    int json = 0, threads = 0, batch = 256, skip_bad = 0, premerged = 0, no_progress = 0;
    int merge = 0;
    struct fer_opt opts[] = {
        {"model", FER_OPT_STR, &model_path, "model file (.fer)", NULL},
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
        {"batch", FER_OPT_INT, &batch, "faces per forward pass", NULL},
        {"threads", FER_OPT_INT, &threads, "worker threads (default: all cores)", NULL},
        {"skip-bad-rows", FER_OPT_FLAG, &skip_bad, "skip malformed CSV rows", NULL},
        {"no-progress", FER_OPT_FLAG, &no_progress, "no progress bar", NULL},
        {NULL, 0, NULL, NULL, NULL},
    };
    const char *pos[1];
    int n_pos;
    int r = fer_args_parse(argc, argv, 2, opts, pos, 0, &n_pos, USAGE);
    if (r != 0)
        return r > 0 ? FER_EXIT_OK : FER_EXIT_USAGE;
    if (!model_path || !data_path) {
        fprintf(stderr, "fer eval: --model and --data are needed\n\n");
        fer_args_usage(USAGE, opts);
        return FER_EXIT_USAGE;
    }
    int tta_kind = fer_tta_parse(tta_name);
    if (tta_kind < 0) {
        fprintf(stderr, "fer eval: unknown --tta '%s' (none, flip, crops)\n", tta_name);
        return FER_EXIT_USAGE;
    }
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
    int status = FER_EXIT_FAIL;
    fer_net *net = NULL;
    fer_pool *pool = NULL;
    fer_dataset *ds = NULL;
    struct fer_meta meta = {0};
    enum fer_status st = fer_model_load(model_path, batch, &net, &meta, NULL, err);
    if (st == FER_OK)
        st = fer_pool_new(threads, &pool, err);
    if (st == FER_OK)
        st = fer_net_set_pool(net, pool, err);
    struct fer_read_options ro = {skip_bad, -1, 0};
    size_t skipped = 0, removed = 0;
    if (st == FER_OK)
        st = fer_dataset_read_csv(data_path, &ro, &ds, &skipped, err);
    if (st == FER_OK && ls != FER_LABELS_FER2013)
        st = fer_dataset_apply_ferplus(ds, ferplus, (enum fer_label_source)ls, 1, &removed, err);
    if (st == FER_OK && fer_net_classes(net) == 6) {
        if (premerged)
            ds->n_classes = 6;
        else
            st = fer_dataset_merge_disgust(ds, err);
    }
    if (st == FER_OK && exclude)
        st = fer_dataset_drop_overlap(ds, exclude, &removed, err);
    struct fer_norm norm;
    fer_meta_norm(&meta, &norm.mean, &norm.std);
    if (st == FER_OK && merge && (fer_net_classes(net) != 7 || ds->n_classes != 7))
        st = fer_errorf(err, FER_ERR_ARG, "--merge-disgust needs a 7-class model and 7-class data");
    struct fer_metrics m;
    if (st == FER_OK && merge)
        st = evaluate_merged(net, norm, ds, tta, !no_progress && !json, &m, err);
    else if (st == FER_OK)
        st = fer_evaluate(net, norm, ds, tta, !no_progress && !json, &m, NULL, err);
    if (st != FER_OK) {
        fprintf(stderr, "fer eval: %s\n", err);
        goto end;
    }
    char names[FER_MAX_CLASSES][16];
    const char *name_ptrs[FER_MAX_CLASSES];
    int nc = fer_meta_classes(&meta, names, FER_MAX_CLASSES);
    for (int i = 0; i < nc; i++)
        name_ptrs[i] = names[i];
    if (merge)
        for (int i = 0; i < 6; i++)
            name_ptrs[i] = fer_class_names(6)[i];
    if (json) {
        fer_metrics_print_json(&m, name_ptrs, stdout);
    } else {
        const char *name = fer_meta_get(&meta, "name");
        printf("model     %s (%s)\ndata      %s%s\n", model_path, name ? name : "unnamed",
               data_path, tta ? "" : "");
        if (skipped)
            printf("skipped   %zu malformed rows\n", skipped);
        if (exclude)
            printf("excluded  %zu faces that also occur in %s\n", removed, exclude);
        printf("tta       %s\n", tta_name);
        fer_metrics_print(&m, name_ptrs, stdout);
    }
    status = FER_EXIT_OK;
end:
    fer_dataset_free(ds);
    fer_net_free(net);
    fer_pool_free(pool);
    fer_meta_clear(&meta);
    return status;
}
