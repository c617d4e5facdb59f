/*
 * cmd_prepare.c - `fer prepare`: the data generator. Splits one FER2013 CSV
 * into one file per usage (training, publictest, privatetest), optionally
 * merging disgust into angry (6 classes) or relabelling with FER+ votes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "data/dataset.h"

static const char *USAGE = "fer prepare --input fer2013.csv[.gz] --out DIR [--classes 7|6] "
                           "[--labels fer2013|ferplus-majority] [--gzip]";

int fer_cmd_prepare(int argc, char **argv)
{
    const char *input = NULL, *out_dir = NULL, *labels = "fer2013", *ferplus = NULL;
    int classes = 7, gzip = 0, skip_bad = 0, drop = 0;
    struct fer_opt opts[] = {
        {"input", FER_OPT_STR, &input, "FER2013 CSV with any mix of usages", NULL},
        {"out", FER_OPT_STR, &out_dir, "output folder (created if missing)", NULL},
        {"classes", FER_OPT_INT, &classes, "7, or 6 to merge disgust into angry", NULL},
        {"labels", FER_OPT_STR, &labels, "fer2013 | ferplus-majority", NULL},
        {"ferplus", FER_OPT_STR, &ferplus, "FER+ votes file (fer2013new.csv)", NULL},
        {"drop-unusable", FER_OPT_FLAG, &drop, "drop rows FER+ marks as not a face or unknown",
         NULL},
        {"gzip", FER_OPT_FLAG, &gzip, "write .csv.gz files", NULL},
        {"skip-bad-rows", FER_OPT_FLAG, &skip_bad, "skip malformed rows, and count them", NULL},
        FER_OPT_END,
    };
    struct fer_args args = {
        .command = "prepare", .usage = USAGE, .opts = opts, .required = "input out"};
    int status = fer_args_read(argc, argv, &args);
    if (status != FER_ARGS_GO)
        return status;
    if (classes != 6 && classes != 7)
        return fer_args_fail(&args, "--classes is 6 or 7, not %d", classes);
    int ls = fer_label_source_parse(labels);
    if (ls < 0 || ls == FER_LABELS_FERPLUS_SOFT || (ls != FER_LABELS_FER2013 && !ferplus)) {
        fprintf(stderr, "fer prepare: --labels is fer2013, or ferplus-majority with --ferplus "
                        "(soft labels do not fit the CSV format)\n");
        return FER_EXIT_USAGE;
    }
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "fer prepare: cannot create %s: %s\n", out_dir, strerror(errno));
        return FER_EXIT_FAIL;
    }
    char err[FER_ERR_LEN];
    fer_dataset *ds = NULL;
    struct fer_read_options ro = {skip_bad, -1, 0};
    size_t skipped = 0, dropped = 0;
    enum fer_status st = fer_dataset_read_csv(input, &ro, &ds, &skipped, err);
    if (st == FER_OK && ls != FER_LABELS_FER2013)
        st = fer_dataset_apply_ferplus(ds, ferplus, (enum fer_label_source)ls, drop, &dropped, err);
    if (st == FER_OK && classes == 6)
        st = fer_dataset_merge_disgust(ds, err);
    size_t per_usage[FER_USAGE_COUNT] = {0};
    for (size_t i = 0; st == FER_OK && i < ds->n; i++)
        per_usage[ds->usage[i]]++;
    static const char *files[FER_USAGE_COUNT] = {"training", "publictest", "privatetest"};
    for (int u = 0; st == FER_OK && u < FER_USAGE_COUNT; u++) {
        if (!per_usage[u])
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.csv%s", out_dir, files[u], gzip ? ".gz" : "");
        st = fer_dataset_write_csv(ds, path, u, err);
        if (st == FER_OK)
            printf("%-40s %6zu faces (%s)\n", path, per_usage[u], fer_usage_name(u));
    }
    fer_dataset_free(ds);
    if (st != FER_OK) {
        fprintf(stderr, "fer prepare: %s\n", err);
        return FER_EXIT_FAIL;
    }
    if (skipped)
        printf("skipped %zu malformed rows\n", skipped);
    if (dropped)
        printf("dropped %zu rows FER+ marks as unusable\n", dropped);
    if (classes == 6)
        printf("labels use 6 classes (0 angry+disgust, 1 fear, 2 happy, 3 sad, 4 surprise, "
               "5 neutral); read these files with --premerged\n");
    return FER_EXIT_OK;
}
