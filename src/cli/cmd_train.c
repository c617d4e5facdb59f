/* cmd_train.c - `fer train`: options -> struct fer_train_config -> fer_train_run. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "nn/spec.h"
#include "train/evaluate.h"
#include "train/trainer.h"

static const char *USAGE =
    "fer train --arch models/X.cfg --train FILE [--val FILE] --out MODEL [options]\n"
    "       fer train --resume MODEL.ckpt --train FILE [--val FILE] --out MODEL\n"
    "       fer train --init MODEL --train FEEDBACK.csv --out TUNED [options]";

int fer_cmd_train(int argc, char **argv)
{
    struct fer_train_config c;
    fer_train_config_defaults(&c);
    const char *labels = "fer2013", *optimizer = NULL, *schedule = NULL, *tta_name = NULL;
    int no_progress = 0, no_augment = 0, limit = 0, val_limit = 0;
    float lr = 0, wd = -1, momentum = -1, warmup = -1, smoothing = -1, mixup = -1;
    int epochs = 0, batch = 0;
    uint64_t seed = 1;
    struct fer_opt opts[] = {
        {"arch", FER_OPT_STR, &c.arch_path,
         "architecture and [train] recipe (models/*.cfg); with --init, the recipe only", NULL},
        {"train", FER_OPT_STR, &c.train_path,
         "training data, FER2013 CSV (.csv or .csv.gz); of the original fer2013.csv, its "
         "Training rows",
         NULL},
        {"val", FER_OPT_STR, &c.val_path,
         "validation data, whose best epoch is kept; of fer2013.csv, its PublicTest rows", NULL},
        {"out", FER_OPT_STR, &c.out_path, "where the trained model goes (.fer)", NULL},
        {"classes", FER_OPT_INT, &c.n_classes, "7, or 6 to merge disgust into angry", NULL},
        {"labels", FER_OPT_STR, &labels,
         "fer2013 | ferplus-majority | ferplus-soft | fer2013+ferplus (FER2013 labels, targets "
         "blended with the FER+ votes)",
         NULL},
        {"ferplus", FER_OPT_STR, &c.ferplus_path, "FER+ votes file (fer2013new.csv)", NULL},
        {"ferplus-weight", FER_OPT_FLOAT, &c.ferplus_weight,
         "FER+ share of the target with fer2013+ferplus (default 0.5)", NULL},
        {"teacher", FER_OPT_STR, &c.teacher.models,
         "distil: blend these models' predictions (comma-separated: their mean) into the "
         "targets",
         NULL},
        {"teacher-weight", FER_OPT_FLOAT, &c.teacher.weight,
         "the teacher's share of each target (default 0.5)", NULL},
        {"teacher-temperature", FER_OPT_FLOAT, &c.teacher.temperature,
         "soften (> 1) or sharpen (< 1) the teacher's probabilities (default 1)", NULL},
        {"drop-unusable", FER_OPT_FLAG, &c.drop_unusable,
         "drop rows FER+ marks as not a face or unknown", NULL},
        {"epochs", FER_OPT_INT, &epochs, "number of epochs", NULL},
        {"batch", FER_OPT_INT, &batch, "batch size", NULL},
        {"seed", FER_OPT_U64, &seed, "random seed (same seed, same model)", NULL},
        FER_OPT_THREADS(&c.threads),
        {"resume", FER_OPT_STR, &c.resume_path, "continue from this checkpoint", NULL},
        {"init", FER_OPT_STR, &c.init_path, "start from this model's weights (fine-tune)", NULL},
        {"checkpoint", FER_OPT_STR, &c.checkpoint_path, "checkpoint path (default OUT.ckpt)", NULL},
        {"log", FER_OPT_STR, &c.log_path, "JSONL log path (default OUT.log.jsonl)", NULL},
        {"name", FER_OPT_STR, &c.name, "model name stored in the file", NULL},
        {"optimizer", FER_OPT_STR, &optimizer, "sgd | adam | adamw", NULL},
        {"lr", FER_OPT_FLOAT, &lr, "base learning rate", NULL},
        {"schedule", FER_OPT_STR, &schedule, "constant | step | cosine | onecycle | plateau", NULL},
        {"warmup", FER_OPT_FLOAT, &warmup, "epochs of linear learning-rate warm-up", NULL},
        {"weight-decay", FER_OPT_FLOAT, &wd, "weight decay", NULL},
        {"momentum", FER_OPT_FLOAT, &momentum, "SGD momentum", NULL},
        {"label-smoothing", FER_OPT_FLOAT, &smoothing, "label smoothing epsilon", NULL},
        {"mixup", FER_OPT_FLOAT, &mixup, "mixup alpha (0 disables)", NULL},
        {"keep-last", FER_OPT_INT, &c.keep_last,
         "also save the weights of each of the last N epochs (OUT.epochE.fer, for fer average)",
         NULL},
        {"no-augment", FER_OPT_FLAG, &no_augment, "train without augmentation", NULL},
        {"tta", FER_OPT_STR, &tta_name,
         "validation test-time augmentation: none | flip (default) | crops", NULL},
        {"limit", FER_OPT_INT, &limit, "use only the first N training rows (of the usage read)",
         NULL},
        {"val-limit", FER_OPT_INT, &val_limit,
         "use only the first N validation rows (of the usage read)", NULL},
        {"skip-bad-rows", FER_OPT_FLAG, &c.skip_bad_rows, "skip malformed CSV rows", NULL},
        FER_OPT_NO_PROGRESS(&no_progress),
        FER_OPT_END,
    };
    struct fer_args args = {
        .command = "train", .usage = USAGE, .opts = opts, .required = "train out"};
    int status = fer_args_read(argc, argv, &args);
    if (status != FER_ARGS_GO)
        return status;
    if (!c.arch_path && !c.resume_path && !c.init_path)
        return fer_args_fail(&args, "one of --arch, --init and --resume is needed");
    if (c.n_classes != 6 && c.n_classes != 7) {
        fprintf(stderr, "fer train: --classes must be 6 or 7\n");
        return FER_EXIT_USAGE;
    }
    int ls = fer_label_source_parse(labels);
    if (ls < 0) {
        fprintf(stderr, "fer train: unknown --labels '%s'\n", labels);
        return FER_EXIT_USAGE;
    }
    c.labels = (enum fer_label_source)ls;
    if (!(c.ferplus_weight >= 0 && c.ferplus_weight <= 1)) {
        fprintf(stderr, "fer train: --ferplus-weight must be in [0, 1]\n");
        return FER_EXIT_USAGE;
    }
    if (!(c.teacher.weight >= 0 && c.teacher.weight <= 1) ||
        !(c.teacher.temperature > 0 && c.teacher.temperature <= 100)) {
        fprintf(stderr, "fer train: --teacher-weight must be in [0, 1] and --teacher-temperature "
                        "in (0, 100]\n");
        return FER_EXIT_USAGE;
    }
    char err[FER_ERR_LEN];
    /* --arch gives the recipe; with --init the weights and architecture come
     * from the init model (a warm restart of a trained model uses both) */
    if (c.arch_path && !c.resume_path) {
        fer_spec *spec;
        if (fer_spec_load(c.arch_path, &spec, err) != FER_OK ||
            fer_train_config_from_spec(&c, spec, err) != FER_OK) {
            fprintf(stderr, "fer train: %s\n", err);
            return FER_EXIT_FAIL;
        }
        fer_spec_free(spec);
    }
    /* the command line wins over the spec's [train] recipe */
    if (optimizer) {
        int k = fer_optim_kind_parse(optimizer);
        if (k < 0) {
            fprintf(stderr, "fer train: unknown --optimizer '%s'\n", optimizer);
            return FER_EXIT_USAGE;
        }
        c.optim = fer_optim_defaults((enum fer_optim_kind)k);
    }
    if (schedule) {
        int k = fer_sched_kind_parse(schedule);
        if (k < 0) {
            fprintf(stderr, "fer train: unknown --schedule '%s'\n", schedule);
            return FER_EXIT_USAGE;
        }
        c.schedule.kind = (enum fer_sched_kind)k;
    }
    if (epochs < 0 || batch < 0 || limit < 0 || val_limit < 0 || lr < 0 || c.keep_last < 0) {
        fprintf(stderr, "fer train: --epochs, --batch, --limit, --lr and --keep-last must be "
                        "positive\n");
        return FER_EXIT_USAGE;
    }
    if (epochs > 0) {
        c.epochs = epochs;
        c.epochs_given = 1;
    }
    if (batch > 0)
        c.batch = batch;
    if (lr > 0)
        c.schedule.base_lr = lr;
    if (wd >= 0)
        c.optim.weight_decay = wd;
    if (momentum >= 0)
        c.optim.momentum = momentum;
    if (warmup >= 0)
        c.schedule.warmup = warmup;
    if (smoothing >= 0)
        c.label_smoothing = smoothing;
    if (mixup >= 0)
        c.mixup = mixup;
    if (tta_name) {
        /* 0, 1 and 2, the numbers this option once took, still name them */
        static const char *const by_number[] = {"none", "flip", "crops"};
        if (tta_name[0] >= '0' && tta_name[0] <= '2' && tta_name[1] == 0)
            tta_name = by_number[tta_name[0] - '0'];
        int tta = fer_args_tta(&args, tta_name);
        if (tta < 0)
            return FER_EXIT_USAGE;
        c.eval_tta = tta;
    }
    if (no_augment)
        c.augment = fer_augment_none();
    c.seed = seed;
    c.limit = (size_t)limit;
    c.val_limit = (size_t)val_limit;
    c.progress = !no_progress;
    c.log = fer_log_stderr; /* what the run does, as lines on stderr */
    char cmdline[2048];
    fer_cli_command_line(argc, argv, cmdline, sizeof(cmdline));
    c.command = cmdline;
    if (fer_train_run(&c, err) != FER_OK) {
        fprintf(stderr, "fer train: %s\n", err);
        return FER_EXIT_FAIL;
    }
    return FER_EXIT_OK;
}
