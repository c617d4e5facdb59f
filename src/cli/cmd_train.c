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
    "       fer train --init MODEL --train FEEDBACK.csv --out TUNED [options]\n"
    "       mpirun -np N fer train ...   (data-parallel: N processes share each batch)";

/* The command line of one fer train: the config, and what overrides its recipe. */
struct train_cli {
    struct fer_train_config c;
    const char *labels, *optimizer, *schedule, *tta_name;
    int no_progress, no_augment, limit, val_limit, epochs, batch;
    float lr, wd, momentum, warmup, smoothing, mixup; /* < 0 (lr: 0): the recipe's */
    uint64_t seed;
};

/* Parses argv into t: FER_ARGS_GO, or the exit status after --help or a usage error. */
static int read_options(int argc, char **argv, struct train_cli *t)
{
    *t = (struct train_cli){.labels = "fer2013",
                            .wd = -1,
                            .momentum = -1,
                            .warmup = -1,
                            .smoothing = -1,
                            .mixup = -1,
                            .seed = 1};
    struct fer_train_config *c = &t->c;
    fer_train_config_defaults(c);
    struct fer_opt opts[] = {
        {"arch", FER_OPT_STR, &c->arch_path,
         "architecture and [train] recipe (models/*.cfg); with --init, the recipe only", NULL},
        {"train", FER_OPT_STR, &c->train_path,
         "training data, FER2013 CSV (.csv or .csv.gz); of the original fer2013.csv, its "
         "Training rows",
         NULL},
        {"val", FER_OPT_STR, &c->val_path,
         "validation data, whose best epoch is kept; of fer2013.csv, its PublicTest rows", NULL},
        {"out", FER_OPT_STR, &c->out_path, "where the trained model goes (.fer)", NULL},
        {"classes", FER_OPT_INT, &c->n_classes, "7, or 6 to merge disgust into angry", NULL},
        {"labels", FER_OPT_STR, &t->labels,
         "fer2013 | ferplus-majority | ferplus-soft | fer2013+ferplus (FER2013 labels, targets "
         "blended with the FER+ votes)",
         NULL},
        {"ferplus", FER_OPT_STR, &c->ferplus_path, "FER+ votes file (fer2013new.csv)", NULL},
        {"ferplus-weight", FER_OPT_FLOAT, &c->ferplus_weight,
         "FER+ share of the target with fer2013+ferplus (default 0.5)", NULL},
        {"teacher", FER_OPT_STR, &c->teacher.models,
         "distil: blend these models' predictions (comma-separated: their mean) into the "
         "targets",
         NULL},
        {"teacher-weight", FER_OPT_FLOAT, &c->teacher.weight,
         "the teacher's share of each target (default 0.5)", NULL},
        {"teacher-temperature", FER_OPT_FLOAT, &c->teacher.temperature,
         "soften (> 1) or sharpen (< 1) the teacher's probabilities (default 1)", NULL},
        {"drop-unusable", FER_OPT_FLAG, &c->drop_unusable,
         "drop rows FER+ marks as not a face or unknown", NULL},
        {"epochs", FER_OPT_INT, &t->epochs, "number of epochs", NULL},
        {"batch", FER_OPT_INT, &t->batch, "batch size", NULL},
        {"seed", FER_OPT_U64, &t->seed, "random seed (same seed, same model)", NULL},
        FER_OPT_THREADS(&c->threads),
        {"resume", FER_OPT_STR, &c->resume_path, "continue from this checkpoint", NULL},
        {"init", FER_OPT_STR, &c->init_path, "start from this model's weights (fine-tune)", NULL},
        {"checkpoint", FER_OPT_STR, &c->checkpoint_path, "checkpoint path (default OUT.ckpt)",
         NULL},
        {"log", FER_OPT_STR, &c->log_path, "JSONL log path (default OUT.log.jsonl)", NULL},
        {"name", FER_OPT_STR, &c->name, "model name stored in the file", NULL},
        {"optimizer", FER_OPT_STR, &t->optimizer, "sgd | adam | adamw", NULL},
        {"lr", FER_OPT_FLOAT, &t->lr, "base learning rate", NULL},
        {"schedule", FER_OPT_STR, &t->schedule, "constant | step | cosine | onecycle | plateau",
         NULL},
        {"warmup", FER_OPT_FLOAT, &t->warmup, "epochs of linear learning-rate warm-up", NULL},
        {"weight-decay", FER_OPT_FLOAT, &t->wd, "weight decay", NULL},
        {"momentum", FER_OPT_FLOAT, &t->momentum, "SGD momentum", NULL},
        {"label-smoothing", FER_OPT_FLOAT, &t->smoothing, "label smoothing epsilon", NULL},
        {"mixup", FER_OPT_FLOAT, &t->mixup, "mixup alpha (0 disables)", NULL},
        {"keep-last", FER_OPT_INT, &c->keep_last,
         "also save the weights of each of the last N epochs (OUT.epochE.fer, for fer average)",
         NULL},
        {"no-augment", FER_OPT_FLAG, &t->no_augment, "train without augmentation", NULL},
        {"tta", FER_OPT_STR, &t->tta_name,
         "validation test-time augmentation: none | flip (default) | crops", NULL},
        {"limit", FER_OPT_INT, &t->limit, "use only the first N training rows (of the usage read)",
         NULL},
        {"val-limit", FER_OPT_INT, &t->val_limit,
         "use only the first N validation rows (of the usage read)", NULL},
        {"skip-bad-rows", FER_OPT_FLAG, &c->skip_bad_rows, "skip malformed CSV rows", NULL},
        FER_OPT_NO_PROGRESS(&t->no_progress),
        FER_OPT_END,
    };
    struct fer_args args = {
        .command = "train", .usage = USAGE, .opts = opts, .required = "train out"};
    int status = fer_args_read(argc, argv, &args);
    if (status != FER_ARGS_GO)
        return status;
    if (!c->arch_path && !c->resume_path && !c->init_path)
        return fer_args_fail(&args, "one of --arch, --init and --resume is needed");
    return FER_ARGS_GO;
}

/* --classes, --labels and the weights of FER+ and a teacher: FER_ARGS_GO or FER_EXIT_USAGE. */
static int check_labels(struct train_cli *t)
{
    struct fer_train_config *c = &t->c;
    if (c->n_classes != 6 && c->n_classes != 7) {
        fprintf(stderr, "fer train: --classes must be 6 or 7\n");
        return FER_EXIT_USAGE;
    }
    int ls = fer_label_source_parse(t->labels);
    if (ls < 0) {
        fprintf(stderr, "fer train: unknown --labels '%s'\n", t->labels);
        return FER_EXIT_USAGE;
    }
    c->labels = (enum fer_label_source)ls;
    if (!(c->ferplus_weight >= 0 && c->ferplus_weight <= 1)) {
        fprintf(stderr, "fer train: --ferplus-weight must be in [0, 1]\n");
        return FER_EXIT_USAGE;
    }
    if (!(c->teacher.weight >= 0 && c->teacher.weight <= 1) ||
        !(c->teacher.temperature > 0 && c->teacher.temperature <= 100)) {
        fprintf(stderr, "fer train: --teacher-weight must be in [0, 1] and --teacher-temperature "
                        "in (0, 100]\n");
        return FER_EXIT_USAGE;
    }
    return FER_ARGS_GO;
}

/*
 * The [train] recipe of --arch: FER_ARGS_GO or FER_EXIT_FAIL. With --init the weights and
 * architecture come from the init model (a warm restart of a trained model uses both); a
 * resume takes its recipe from the checkpoint.
 */
static int load_recipe(struct fer_train_config *c)
{
    if (!c->arch_path || c->resume_path)
        return FER_ARGS_GO;
    char err[FER_ERR_LEN];
    fer_spec *spec = NULL;
    enum fer_status st = fer_spec_load(c->arch_path, &spec, err);
    if (st == FER_OK)
        st = fer_train_config_from_spec(c, spec, err);
    fer_spec_free(spec);
    if (st != FER_OK) {
        fprintf(stderr, "fer train: %s\n", err);
        return FER_EXIT_FAIL;
    }
    return FER_ARGS_GO;
}

/* --tta, whose numbers 0, 1 and 2 (what it once took) still name none, flip and crops. */
static int read_tta(const char *name)
{
    static const char *const by_number[] = {"none", "flip", "crops"};
    if (name[0] >= '0' && name[0] <= '2' && name[1] == 0)
        name = by_number[name[0] - '0'];
    const struct fer_args train = {.command = "train"}; /* all fer_args_tta needs */
    return fer_args_tta(&train, name);
}

/* The command line wins over the recipe: FER_ARGS_GO, or FER_EXIT_USAGE after a message. */
static int apply_overrides(struct train_cli *t)
{
    struct fer_train_config *c = &t->c;
    if (t->optimizer) {
        int k = fer_optim_kind_parse(t->optimizer);
        if (k < 0) {
            fprintf(stderr, "fer train: unknown --optimizer '%s'\n", t->optimizer);
            return FER_EXIT_USAGE;
        }
        c->optim = fer_optim_defaults((enum fer_optim_kind)k);
    }
    if (t->schedule) {
        int k = fer_sched_kind_parse(t->schedule);
        if (k < 0) {
            fprintf(stderr, "fer train: unknown --schedule '%s'\n", t->schedule);
            return FER_EXIT_USAGE;
        }
        c->schedule.kind = (enum fer_sched_kind)k;
    }
    if (t->epochs < 0 || t->batch < 0 || t->limit < 0 || t->val_limit < 0 || t->lr < 0 ||
        c->keep_last < 0) {
        fprintf(stderr, "fer train: --epochs, --batch, --limit, --lr and --keep-last must be "
                        "positive\n");
        return FER_EXIT_USAGE;
    }
    if (t->epochs > 0) {
        c->epochs = t->epochs;
        c->epochs_given = 1;
    }
    if (t->batch > 0)
        c->batch = t->batch;
    if (t->lr > 0)
        c->schedule.base_lr = t->lr;
    if (t->wd >= 0)
        c->optim.weight_decay = t->wd;
    if (t->momentum >= 0)
        c->optim.momentum = t->momentum;
    if (t->warmup >= 0)
        c->schedule.warmup = t->warmup;
    if (t->smoothing >= 0)
        c->label_smoothing = t->smoothing;
    if (t->mixup >= 0)
        c->mixup = t->mixup;
    if (t->tta_name) {
        int tta = read_tta(t->tta_name);
        if (tta < 0)
            return FER_EXIT_USAGE;
        c->eval_tta = tta;
    }
    if (t->no_augment)
        c->augment = fer_augment_none();
    return FER_ARGS_GO;
}

int fer_cmd_train(int argc, char **argv)
{
    struct train_cli t;
    int status = read_options(argc, argv, &t);
    if (status == FER_ARGS_GO)
        status = check_labels(&t);
    if (status == FER_ARGS_GO)
        status = load_recipe(&t.c);
    if (status == FER_ARGS_GO)
        status = apply_overrides(&t);
    if (status != FER_ARGS_GO)
        return status;
    struct fer_train_config *c = &t.c;
    c->seed = t.seed;
    c->limit = (size_t)t.limit;
    c->val_limit = (size_t)t.val_limit;
    c->progress = !t.no_progress;
    c->log = fer_log_stderr; /* what the run does, as lines on stderr */
    char cmdline[2048], err[FER_ERR_LEN];
    fer_cli_command_line(argc, argv, cmdline, sizeof(cmdline));
    c->command = cmdline;
    if (fer_train_run(c, err) != FER_OK) {
        fprintf(stderr, "fer train: %s\n", err);
        return FER_EXIT_FAIL;
    }
    return FER_EXIT_OK;
}
