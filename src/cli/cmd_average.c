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
#include "train/average.h"
#include "train/evaluate.h"

static const char *USAGE =
    "fer average --out MODEL [--recalibrate TRAIN.csv] [--val FILE] [--merge-disgust] "
    "[--name NAME] MODEL_OR_CKPT...";

#define MAX_MODELS 64

int fer_cmd_average(int argc, char **argv)
{
    const char *out = NULL, *recal_path = NULL, *val_path = NULL, *tta_name = "flip", *name = NULL;
    int threads = 0, recal_rows = 0, no_progress = 0, merge = 0;
    struct fer_opt opts[] = {
        {"out", FER_OPT_STR, &out, "where the averaged model goes (.fer)", NULL},
        {"recalibrate", FER_OPT_STR, &recal_path,
         "measure batch-norm statistics again on this training CSV (recommended; of "
         "fer2013.csv, its Training rows)",
         NULL},
        {"recalibrate-rows", FER_OPT_INT, &recal_rows, "use only the first N rows for that", NULL},
        {"val", FER_OPT_STR, &val_path,
         "score the average on this CSV and store the result (of fer2013.csv, its PublicTest rows)",
         NULL},
        {"tta", FER_OPT_STR, &tta_name, "test-time augmentation for --val: none | flip | crops",
         NULL},
        {"merge-disgust", FER_OPT_FLAG, &merge,
         "make a 6-class model: the average's softmax adds disgust's probability into angry's "
         "(for inference; fer eval --merge-disgust reads a 7-class model the same way)",
         NULL},
        {"name", FER_OPT_STR, &name, "model name stored in the file (default: the first model's)",
         NULL},
        FER_OPT_THREADS(&threads),
        FER_OPT_NO_PROGRESS(&no_progress),
        FER_OPT_END,
    };
    const char *paths[MAX_MODELS];
    struct fer_args args = {.command = "average",
                            .usage = USAGE,
                            .opts = opts,
                            .required = "out",
                            .positional_name = "models",
                            .min_positional = 1,
                            .max_positional = MAX_MODELS,
                            .positional = paths};
    int status = fer_args_read(argc, argv, &args);
    if (status != FER_ARGS_GO)
        return status;
    const int n = args.n_positional;
    int tta = fer_args_tta(&args, tta_name);
    if (tta < 0)
        return FER_EXIT_USAGE;
    if (recal_rows < 0) {
        fprintf(stderr, "fer average: --recalibrate-rows must be positive\n");
        return FER_EXIT_USAGE;
    }
    char err[FER_ERR_LEN];
    status = FER_EXIT_FAIL;
    fer_net *net = NULL;
    fer_pool *pool = NULL;
    fer_dataset *ds = NULL;
    struct fer_meta meta = {0};
    enum fer_status st = fer_average_models(paths, n, 256, &net, &meta, err);
    if (st == FER_OK && merge)
        st = fer_merge_disgust(&net, &meta, 256, err);
    if (st == FER_OK)
        st = fer_pool_new(threads, &pool, err);
    if (st == FER_OK)
        st = fer_net_set_pool(net, pool, err);
    if (st != FER_OK)
        goto fail;
    fprintf(stderr, "averaged %d model%s\n", n, n == 1 ? "" : "s");
    char cmdline[2048];
    fer_cli_command_line(argc, argv, cmdline, sizeof(cmdline));
    fer_meta_set(&meta, "command", cmdline);
    if (name && (st = fer_meta_set(&meta, "name", name)) != FER_OK) {
        fer_errorf(err, st, "cannot store the name: model metadata is full or memory ran out");
        goto fail;
    }
    struct fer_norm norm;
    fer_meta_norm(&meta, &norm.mean, &norm.std);
    struct fer_usage_pick pick;
    if (recal_path) {
        if ((st = fer_dataset_read_for_model(recal_path, fer_net_classes(net), FER_USAGE_UNSET,
                                             FER_USAGE_TRAINING, &ds, &pick, err)) != FER_OK ||
            (st = fer_recalibrate_bn(net, ds, (size_t)recal_rows, norm.mean, norm.std, !no_progress,
                                     err)) != FER_OK)
            goto fail;
        if (pick.kept)
            fprintf(stderr, "fer average: --recalibrate: %s\n", pick.note);
        fer_meta_setf(&meta, "bn_recalibrated_on", "%s (%zu %srows)", recal_path,
                      recal_rows && (size_t)recal_rows < ds->n ? (size_t)recal_rows : ds->n,
                      pick.kept ? "Training " : "");
        fer_dataset_free(ds);
        ds = NULL;
    }
    if (val_path) {
        struct fer_metrics m;
        if ((st = fer_dataset_read_for_model(val_path, fer_net_classes(net), FER_USAGE_UNSET,
                                             FER_USAGE_PUBLIC_TEST, &ds, &pick, err)) != FER_OK)
            goto fail;
        if (pick.kept)
            fprintf(stderr, "fer average: --val: %s\n", pick.note);
        if ((st = fer_evaluate(net, norm, ds, (enum fer_tta)tta, !no_progress, &m, NULL, err)))
            goto fail;
        fer_meta_set(&meta, "val_data", val_path);
        if (pick.kept)
            fer_meta_set(&meta, "val_usage", pick.kept);
        fer_meta_setf(&meta, "val_accuracy", "%.6f", m.accuracy);
        fer_meta_setf(&meta, "val_macro_f1", "%.6f", m.macro_f1);
        printf("accuracy  %.2f%%  macro-F1 %.4f  on %s (tta %s)\n", 100 * m.accuracy, m.macro_f1,
               val_path, tta_name);
        fflush(stdout);
    }
    if ((st = fer_model_save(out, net, &meta, NULL, err)) != FER_OK)
        goto fail;
    fprintf(stderr, "saved %s\n", out);
    status = FER_EXIT_OK;
    goto end;
fail:
    fprintf(stderr, "fer average: %s\n", err);
end:
    fer_dataset_free(ds);
    fer_net_free(net);
    fer_pool_free(pool);
    fer_meta_clear(&meta);
    return status;
}
