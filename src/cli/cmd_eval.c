/*
 * cmd_eval.c - `fer eval`: a model's accuracy, per-class precision, recall and
 * F1, macro-F1 and confusion matrix on a FER2013 CSV, as text or JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "nn/model_file.h"
#include "pipeline/builtin_model.h"
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

/* The command line of one fer eval. */
struct eval_opts {
    const char *model_path, *data_path, *tta_name, *ferplus, *exclude, *probs_path;
    int json, threads, batch, skip_bad, premerged, no_progress, merge;
    enum fer_tta tta;
    int usage;        /* for fer_dataset_pick_usage */
    int label_source; /* an enum fer_label_source */
};

/* Parses argv into o: FER_ARGS_GO, or the exit status after --help or a usage error. */
static int read_options(int argc, char **argv, struct eval_opts *o)
{
    const char *labels = "fer2013", *usage_name = NULL;
    *o = (struct eval_opts){.tta_name = "flip", .batch = 256};
    struct fer_opt opts[] = {
        {"model", FER_OPT_STR, &o->model_path,
         "a built-in model by name (fast, accurate) or a .fer file; several, separated by "
         "commas, are scored as an ensemble (their probabilities averaged)",
         NULL},
        {"data", FER_OPT_STR, &o->data_path, "FER2013 CSV (.csv or .csv.gz)", NULL},
        {"json", FER_OPT_FLAG, &o->json, "print one JSON object", NULL},
        {"tta", FER_OPT_STR, &o->tta_name,
         "test-time augmentation: none | flip (default, as fer predict) | crops", NULL},
        {"labels", FER_OPT_STR, &labels, "fer2013 | ferplus-majority", NULL},
        {"ferplus", FER_OPT_STR, &o->ferplus, "FER+ votes file for --labels ferplus-majority",
         NULL},
        {"exclude-overlap", FER_OPT_STR, &o->exclude,
         "leave out faces whose pixels also occur in this file (e.g. the training set)", NULL},
        {"merge-disgust", FER_OPT_FLAG, &o->merge,
         "score a 7-class model on 6 classes: its angry and disgust probabilities added", NULL},
        {"premerged", FER_OPT_FLAG, &o->premerged,
         "the data already has 6-class labels (from fer prepare --classes 6)", NULL},
        FER_OPT_USAGE(&usage_name),
        {"probabilities", FER_OPT_STR, &o->probs_path,
         "also write each face's label and probabilities, in the data's order, to this CSV", NULL},
        {"batch", FER_OPT_INT, &o->batch, "faces per forward pass", NULL},
        FER_OPT_THREADS(&o->threads),
        {"skip-bad-rows", FER_OPT_FLAG, &o->skip_bad, "skip malformed CSV rows", NULL},
        FER_OPT_NO_PROGRESS(&o->no_progress),
        FER_OPT_END,
    };
    struct fer_args args = {
        .command = "eval", .usage = USAGE, .opts = opts, .required = "model data"};
    int status = fer_args_read(argc, argv, &args);
    if (status != FER_ARGS_GO)
        return status;
    int tta_kind = fer_args_tta(&args, o->tta_name);
    o->usage = fer_args_usage_choice(&args, usage_name);
    if (tta_kind < 0 || o->usage < FER_USAGE_UNSET)
        return FER_EXIT_USAGE;
    o->tta = (enum fer_tta)tta_kind;
    int ls = fer_label_source_parse(labels);
    if (ls < 0 || ls == FER_LABELS_FERPLUS_SOFT || (ls != FER_LABELS_FER2013 && !o->ferplus)) {
        fprintf(stderr, "fer eval: --labels must be fer2013, or ferplus-majority with --ferplus\n");
        return FER_EXIT_USAGE;
    }
    o->label_source = ls;
    if (o->batch < 1 || o->batch > 4096) {
        fprintf(stderr, "fer eval: --batch must be in [1, 4096]\n");
        return FER_EXIT_USAGE;
    }
    return FER_ARGS_GO;
}

/* What one fer eval holds; freed by free_run. */
struct eval_run {
    fer_ensemble *models;
    fer_pool *pool;
    fer_dataset *ds;
    float *probs; /* ds->n x ds->n_classes */
    size_t skipped, removed, unusable;
    const char *rows; /* the usage kept from a file that mixes them, or NULL */
    double member_acc[FER_ENSEMBLE_MAX];
};

static void free_run(struct eval_run *r)
{
    fer_free(r->probs);
    fer_dataset_free(r->ds);
    fer_ensemble_free(r->models);
    fer_pool_free(r->pool);
}

/* --premerged: the data's labels are already the 6 classes; a label 6 (neutral in 7) says
 * they are not, and would index past the 6 probabilities. */
static enum fer_status keep_premerged(fer_dataset *ds, const char *path, char *err)
{
    for (size_t i = 0; i < ds->n; i++)
        if (ds->labels[i] >= 6)
            return fer_errorf(err, FER_ERR_FORMAT,
                              "--premerged: face %zu of %s has label %d, so its labels are "
                              "the 7 classes; leave --premerged out to merge them",
                              i + 1, path, ds->labels[i]);
    ds->n_classes = 6;
    return FER_OK;
}

/*
 * The faces to score, their labels made to match the models (FER+ votes, 6 classes) and the
 * overlap left out. FER_OK, or an error in err.
 */
static enum fer_status load_faces(const struct eval_opts *o, struct eval_run *r, char *err)
{
    struct fer_read_options ro = {o->skip_bad, -1, 0};
    struct fer_usage_pick pick = {0};
    enum fer_status st = fer_dataset_read_csv(o->data_path, &ro, &r->ds, &r->skipped, err);
    if (st == FER_OK)
        st = fer_dataset_pick_usage(r->ds, o->data_path, o->usage, FER_USAGE_PUBLIC_TEST, &pick,
                                    err);
    if (st == FER_OK && pick.kept)
        fprintf(stderr, "fer eval: %s\n", pick.note);
    r->rows = pick.kept;
    fer_dataset *ds = r->ds;
    int classes = fer_ensemble_classes(r->models);
    if (st == FER_OK && o->label_source != FER_LABELS_FER2013)
        st = fer_dataset_apply_ferplus(ds, o->ferplus, (enum fer_label_source)o->label_source, 1,
                                       &r->unusable, err);
    if (st == FER_OK && classes == 6) {
        if (o->premerged)
            st = keep_premerged(ds, o->data_path, err);
        else
            st = fer_dataset_merge_disgust(ds, err);
    }
    if (st == FER_OK && o->exclude)
        st = fer_dataset_drop_overlap(ds, o->exclude, &r->removed, err);
    if (st == FER_OK && o->merge && (classes != 7 || ds->n_classes != 7))
        st = fer_errorf(err, FER_ERR_ARG, "--merge-disgust needs a 7-class model and 7-class data");
    if (st == FER_OK && ds->n == 0)
        st = fer_errorf(err, FER_ERR_FORMAT, "no faces left to evaluate in %s", o->data_path);
    return st;
}

/* Loads the models and the faces and fills r->probs. FER_OK, or an error in err. */
static enum fer_status score_faces(const struct eval_opts *o, struct eval_run *r, char *err)
{
    enum fer_status st = fer_pool_new(o->threads, &r->pool, err);
    if (st == FER_OK)
        st = fer_ensemble_load(o->model_path, o->batch, r->pool, fer_builtin_or_classifier_load,
                               &r->models, err);
    if (st == FER_OK)
        st = load_faces(o, r, err);
    if (st != FER_OK)
        return st;
    fer_dataset *ds = r->ds;
    if (!(r->probs = fer_malloc((ds->n ? ds->n : 1) * (size_t)ds->n_classes * sizeof(float))))
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for %zu predictions", ds->n);
    st = fer_ensemble_probs(r->models, ds, o->tta, !o->no_progress && !o->json, r->probs,
                            r->member_acc, err);
    if (st == FER_OK && o->merge)
        st = merge_predictions(r->probs, ds, err);
    return st;
}

/* The text report: the models, the data and what was left out of it, then the metrics. */
static void print_text(const struct eval_opts *o, const struct eval_run *r,
                       const struct fer_metrics *m, const char *const *names)
{
    const fer_ensemble *models = r->models;
    for (int i = 0; i < models->n; i++) {
        const char *name = fer_meta_get(&models->metas[i], "name");
        printf("model     %s (%s)", models->paths[i], name ? name : "unnamed");
        if (models->n > 1)
            printf(": %.2f%% alone%s", 100 * r->member_acc[i], o->merge ? " (7 classes)" : "");
        printf("\n");
    }
    if (models->n > 1)
        printf("ensemble  the mean of %d models' probabilities\n", models->n);
    printf("data      %s%s%s%s\n", o->data_path, r->rows ? ", its " : "", r->rows ? r->rows : "",
           r->rows ? " rows" : "");
    if (r->skipped)
        printf("skipped   %zu malformed rows\n", r->skipped);
    if (r->unusable)
        printf("dropped   %zu faces FER+ marks as not a face or unknown\n", r->unusable);
    if (o->exclude)
        printf("excluded  %zu faces that also occur in %s\n", r->removed, o->exclude);
    printf("tta       %s\n", o->tta_name);
    fer_metrics_print(m, names, stdout);
}

/* --probabilities: "label,angry,...", then one row per face (9 significant digits). */
static enum fer_status write_probabilities(const char *path, const struct eval_run *r,
                                           const char *const *names, char *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    const fer_dataset *ds = r->ds;
    fprintf(f, "label");
    for (int c = 0; c < ds->n_classes; c++)
        fprintf(f, ",%s", names[c]);
    fprintf(f, "\n");
    for (size_t i = 0; i < ds->n; i++) {
        fprintf(f, "%s", names[ds->labels[i]]);
        for (int c = 0; c < ds->n_classes; c++)
            fprintf(f, ",%.9g", (double)r->probs[i * (size_t)ds->n_classes + (size_t)c]);
        fprintf(f, "\n");
    }
    int failed = ferror(f);
    failed |= fclose(f) != 0;
    return failed ? fer_errorf(err, FER_ERR_IO, "error writing %s: %s", path, strerror(errno))
                  : FER_OK;
}

/* The metrics of r->probs, as JSON or text, with the first model's class names; and the
 * probabilities when asked. */
static enum fer_status report(const struct eval_opts *o, const struct eval_run *r, char *err)
{
    struct fer_metrics m;
    fer_metrics_from_probs(r->probs, r->ds, &m);
    char names[FER_MAX_CLASSES][16];
    const char *name_ptrs[FER_MAX_CLASSES];
    int nc = fer_meta_classes(&r->models->metas[0], names, FER_MAX_CLASSES);
    for (int i = 0; i < nc; i++)
        name_ptrs[i] = names[i];
    if (o->merge)
        for (int i = 0; i < 6; i++)
            name_ptrs[i] = fer_class_names(6)[i];
    if (o->json)
        fer_metrics_print_json(&m, name_ptrs, stdout);
    else
        print_text(o, r, &m, name_ptrs);
    return o->probs_path ? write_probabilities(o->probs_path, r, name_ptrs, err) : FER_OK;
}

int fer_cmd_eval(int argc, char **argv)
{
    struct eval_opts o;
    int status = read_options(argc, argv, &o);
    if (status != FER_ARGS_GO)
        return status;
    char err[FER_ERR_LEN];
    struct eval_run r = {0};
    if (score_faces(&o, &r, err) != FER_OK || report(&o, &r, err) != FER_OK) {
        fprintf(stderr, "fer eval: %s\n", err);
        status = FER_EXIT_FAIL;
    } else {
        status = FER_EXIT_OK;
    }
    free_run(&r);
    return status;
}
