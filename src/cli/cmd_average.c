/*
 * cmd_average.c - `fer average`: one model from the mean weights of several
 * (checkpoints of one run, or fine-tunes of one model), with its batch-norm
 * statistics measured again on training data, and optionally scored.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/pool.h"
#include "nn/model_file.h"
#include "pipeline/builtin_model.h"
#include "train/average.h"
#include "train/evaluate.h"

static const char *USAGE =
    "fer average --out MODEL [--recalibrate TRAIN.csv] [--val FILE] [--merge-disgust] "
    "[--name NAME] MODEL_OR_CKPT...  (each a .fer file, a checkpoint, or a built-in model: "
    "fast, accurate)";

#define MAX_MODELS 64

/* The command line of one fer average. */
struct average_opts {
    const char *out, *recal_path, *val_path, *tta_name, *name;
    int threads, recal_rows, no_progress, merge, tta;
    const char *paths[MAX_MODELS]; /* the models and checkpoints to average */
    int n;
};

/* Parses argv into o: FER_ARGS_GO, or the exit status after --help or a usage error. */
static int read_options(int argc, char **argv, struct average_opts *o)
{
    *o = (struct average_opts){.tta_name = "flip"};
    struct fer_opt opts[] = {
        {"out", FER_OPT_STR, &o->out, "where the averaged model goes (.fer)", NULL},
        {"recalibrate", FER_OPT_STR, &o->recal_path,
         "measure batch-norm statistics again on this training CSV (recommended; of "
         "fer2013.csv, its Training rows)",
         NULL},
        {"recalibrate-rows", FER_OPT_INT, &o->recal_rows, "use only the first N rows for that",
         NULL},
        {"val", FER_OPT_STR, &o->val_path,
         "score the average on this CSV and store the result (of fer2013.csv, its PublicTest rows)",
         NULL},
        {"tta", FER_OPT_STR, &o->tta_name, "test-time augmentation for --val: none | flip | crops",
         NULL},
        {"merge-disgust", FER_OPT_FLAG, &o->merge,
         "make a 6-class model: the average's softmax adds disgust's probability into angry's "
         "(for inference; fer eval --merge-disgust reads a 7-class model the same way)",
         NULL},
        {"name", FER_OPT_STR, &o->name,
         "model name stored in the file (default: the first model's)", NULL},
        FER_OPT_THREADS(&o->threads),
        FER_OPT_NO_PROGRESS(&o->no_progress),
        FER_OPT_END,
    };
    struct fer_args args = {.command = "average",
                            .usage = USAGE,
                            .opts = opts,
                            .required = "out",
                            .positional_name = "models",
                            .min_positional = 1,
                            .max_positional = MAX_MODELS,
                            .positional = o->paths};
    int status = fer_args_read(argc, argv, &args);
    if (status != FER_ARGS_GO)
        return status;
    o->n = args.n_positional;
    if ((o->tta = fer_args_tta(&args, o->tta_name)) < 0)
        return FER_EXIT_USAGE;
    if (o->recal_rows < 0) {
        fprintf(stderr, "fer average: --recalibrate-rows must be positive\n");
        return FER_EXIT_USAGE;
    }
    return FER_ARGS_GO;
}

/* What one fer average holds; freed by free_run. */
struct average_run {
    fer_net *net;
    fer_pool *pool;
    struct fer_meta meta;
    struct fer_norm norm; /* the input normalisation, from meta */
};

static void free_run(struct average_run *r)
{
    fer_net_free(r->net);
    fer_pool_free(r->pool);
    fer_meta_clear(&r->meta);
}

/* The mean of the models' weights (merged to 6 classes with --merge-disgust), on the pool. */
static enum fer_status average(const struct average_opts *o, struct average_run *r, char *err)
{
    enum fer_status st = fer_average_models(o->paths, o->n, 256, fer_builtin_or_classifier_load,
                                            &r->net, &r->meta, err);
    if (st == FER_OK && o->merge)
        st = fer_merge_disgust(&r->net, &r->meta, 256, err);
    if (st == FER_OK)
        st = fer_pool_new(o->threads, &r->pool, err);
    if (st == FER_OK)
        st = fer_net_set_pool(r->net, r->pool, err);
    return st;
}

/* The metadata that says how the average was made: the command line and --name. */
static enum fer_status describe(int argc, char **argv, const struct average_opts *o,
                                struct average_run *r, char *err)
{
    char cmdline[2048];
    fer_cli_command_line(argc, argv, cmdline, sizeof(cmdline));
    fer_meta_set(&r->meta, "command", cmdline);
    enum fer_status st;
    if (o->name && (st = fer_meta_set(&r->meta, "name", o->name)) != FER_OK)
        return fer_errorf(err, st,
                          "cannot store the name: model metadata is full or memory ran out");
    fer_meta_norm(&r->meta, &r->norm.mean, &r->norm.std);
    return FER_OK;
}

/* Batch-norm statistics measured again on --recalibrate's rows. */
static enum fer_status recalibrate(const struct average_opts *o, struct average_run *r, char *err)
{
    fer_dataset *ds = NULL;
    struct fer_usage_pick pick;
    enum fer_status st;
    if ((st = fer_dataset_read_for_model(o->recal_path, fer_net_classes(r->net), FER_USAGE_UNSET,
                                         FER_USAGE_TRAINING, &ds, &pick, err)) != FER_OK ||
        (st = fer_recalibrate_bn(r->net, ds, (size_t)o->recal_rows, r->norm.mean, r->norm.std,
                                 !o->no_progress, err)) != FER_OK) {
        fer_dataset_free(ds);
        return st;
    }
    if (pick.kept)
        fprintf(stderr, "fer average: --recalibrate: %s\n", pick.note);
    size_t rows = ds->n;
    if (o->recal_rows && (size_t)o->recal_rows < ds->n)
        rows = (size_t)o->recal_rows;
    fer_meta_setf(&r->meta, "bn_recalibrated_on", "%s (%zu %srows)", o->recal_path, rows,
                  pick.kept ? "Training " : "");
    fer_dataset_free(ds);
    return FER_OK;
}

/* The average scored on --val: printed, and stored in its metadata. */
static enum fer_status validate(const struct average_opts *o, struct average_run *r, char *err)
{
    fer_dataset *ds = NULL;
    struct fer_usage_pick pick;
    struct fer_metrics m;
    enum fer_status st =
        fer_dataset_read_for_model(o->val_path, fer_net_classes(r->net), FER_USAGE_UNSET,
                                   FER_USAGE_PUBLIC_TEST, &ds, &pick, err);
    if (st != FER_OK)
        return st;
    if (pick.kept)
        fprintf(stderr, "fer average: --val: %s\n", pick.note);
    st = fer_evaluate(r->net, r->norm, ds, (enum fer_tta)o->tta, !o->no_progress, &m, NULL, err);
    fer_dataset_free(ds);
    if (st != FER_OK)
        return st;
    fer_meta_set(&r->meta, "val_data", o->val_path);
    if (pick.kept)
        fer_meta_set(&r->meta, "val_usage", pick.kept);
    fer_meta_setf(&r->meta, "val_accuracy", "%.6f", m.accuracy);
    fer_meta_setf(&r->meta, "val_macro_f1", "%.6f", m.macro_f1);
    printf("accuracy  %.2f%%  macro-F1 %.4f  on %s (tta %s)\n", 100 * m.accuracy, m.macro_f1,
           o->val_path, o->tta_name);
    fflush(stdout);
    return FER_OK;
}

int fer_cmd_average(int argc, char **argv)
{
    struct average_opts o;
    int status = read_options(argc, argv, &o);
    if (status != FER_ARGS_GO)
        return status;
    char err[FER_ERR_LEN];
    struct average_run r = {0};
    enum fer_status st = average(&o, &r, err);
    if (st == FER_OK) {
        fprintf(stderr, "averaged %d model%s\n", o.n, o.n == 1 ? "" : "s");
        st = describe(argc, argv, &o, &r, err);
    }
    if (st == FER_OK && o.recal_path)
        st = recalibrate(&o, &r, err);
    if (st == FER_OK && o.val_path)
        st = validate(&o, &r, err);
    if (st == FER_OK && (st = fer_model_save(o.out, r.net, &r.meta, NULL, err)) == FER_OK)
        fprintf(stderr, "saved %s\n", o.out);
    if (st != FER_OK)
        fprintf(stderr, "fer average: %s\n", err);
    free_run(&r);
    return st == FER_OK ? FER_EXIT_OK : FER_EXIT_FAIL;
}
