/*
 * cmd_report.c - `fer report`: runs a model over a FER2013 CSV and writes the
 * figures that show how it behaves (confusion matrix, per-class results,
 * calibration, its most confident mistakes, training curves from its logs)
 * as PNG files, with report.md to read them in order and report.json.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "nn/model_file.h"
#include "report/report.h"
#include "train/evaluate.h"

static const char *USAGE =
    "fer report --model MODEL --data FILE [--out DIR] [--log LOG.jsonl[,LOG2.jsonl...]]";

struct report_args {
    const char *model, *data, *out, *logs, *tta_name, *exclude, *usage_name;
    int tta, mistakes, bins, threads, no_progress, usage;
    const char *rows; /* the usage whose rows were kept from a mixed file, or NULL */
};

static void join(char *buf, size_t cap, const char *dir, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

/* The training curves of the comma-separated logs, one stage each. */
static enum fer_status draw_curves(const char *logs, const char *path, char *err)
{
    struct fer_log_epoch *ep = NULL;
    size_t n = 0, starts[16];
    int n_stages = 0;
    char list[1024];
    snprintf(list, sizeof(list), "%s", logs);
    enum fer_status st = FER_OK;
    char *save = NULL;
    for (char *p = strtok_r(list, ",", &save); p && st == FER_OK; p = strtok_r(NULL, ",", &save)) {
        if (n > 0 && n_stages < 16)
            starts[n_stages++] = n;
        st = fer_log_read(p, &ep, &n, err);
    }
    if (st == FER_OK)
        st = fer_figure_curves(ep, n, starts, n_stages, path, err);
    fer_free(ep);
    return st;
}

static enum fer_status write_json(const char *path, const struct report_args *a,
                                  const struct fer_metrics *m, const struct fer_calibration *cal,
                                  const char *const *names, size_t excluded, char *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for report.json");
    fer_metrics_print_json(m, names, mem);
    fclose(mem);
    json_t *metrics = json_loads(buf, 0, NULL);
    free(buf);
    json_t *o = json_pack("{s:s, s:s, s:s?, s:s, s:I, s:f, s:o*}", "model", a->model, "data",
                          a->data, "usage", a->rows, "tta", a->tta_name, "excluded",
                          (json_int_t)excluded, "ece", cal->ece, "metrics", metrics);
    enum fer_status st = FER_OK;
    if (!o || json_dump_file(o, path, JSON_INDENT(1)) != 0)
        st = fer_errorf(err, FER_ERR_IO, "cannot write %s", path);
    json_decref(o);
    return st;
}

static enum fer_status write_markdown(const char *path, const struct report_args *a,
                                      const struct fer_meta *meta, const struct fer_metrics *m,
                                      const struct fer_calibration *cal, const char *const *names,
                                      size_t excluded, char *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    const char *name = fer_meta_get(meta, "name");
    fprintf(f, "# Report: %s\n\n", name ? name : a->model);
    fprintf(f, "| | |\n| --- | --- |\n| model | `%s` |\n| data | `%s`", a->model, a->data);
    if (a->rows)
        fprintf(f, ", its %s rows", a->rows);
    if (a->exclude)
        fprintf(f, " without the %zu faces also in `%s`", excluded, a->exclude);
    fprintf(f, " |\n| faces | %zu |\n| test-time augmentation | %s |\n", m->total, a->tta_name);
    fprintf(f, "| accuracy | **%.2f%%** |\n| macro-F1 | %.4f |\n", 100 * m->accuracy, m->macro_f1);
    fprintf(f, "| expected calibration error | %.2f%% |\n\n", 100 * cal->ece);
    fprintf(f,
            "| class | precision | recall | F1 | faces |\n| --- | ---: | ---: | ---: | ---: |\n");
    for (int c = 0; c < m->n_classes; c++)
        fprintf(f, "| %s | %.3f | %.3f | %.3f | %zu |\n", names[c], m->per_class[c].precision,
                m->per_class[c].recall, m->per_class[c].f1, m->per_class[c].support);
    fprintf(f, "\n![confusion matrix](confusion.png)\n\n![per class](classes.png)\n\n"
               "![calibration](calibration.png)\n\n![most confident mistakes](mistakes.png)\n");
    if (a->logs)
        fprintf(f, "\n![training curves](curves.png)\n");
    if (fclose(f) != 0)
        return fer_errorf(err, FER_ERR_IO, "writing %s failed", path);
    return FER_OK;
}

static enum fer_status make_report(struct report_args *a, char *err)
{
    struct fer_usage_pick pick = {0};
    if (mkdir(a->out, 0755) != 0 && errno != EEXIST)
        return fer_errorf(err, FER_ERR_IO, "cannot make %s: %s", a->out, strerror(errno));
    fer_net *net = NULL;
    fer_pool *pool = NULL;
    fer_dataset *ds = NULL;
    float *probs = NULL;
    struct fer_meta meta = {0};
    size_t excluded = 0;
    char path[1200];
    enum fer_status st = fer_model_load(a->model, 256, &net, &meta, NULL, err);
    if (st == FER_OK && (st = fer_pool_new(a->threads, &pool, err)) == FER_OK)
        st = fer_net_set_pool(net, pool, err);
    if (st == FER_OK)
        st = fer_dataset_read_for_model(a->data, fer_net_classes(net), a->usage,
                                        FER_USAGE_PUBLIC_TEST, &ds, &pick, err);
    if (st == FER_OK && pick.kept) {
        fprintf(stderr, "fer report: %s\n", pick.note);
        a->rows = pick.kept;
    }
    if (st == FER_OK && a->exclude)
        st = fer_dataset_drop_overlap(ds, a->exclude, &excluded, err);
    if (st != FER_OK)
        goto end;
    const int k = fer_net_classes(net);
    char names[FER_MAX_CLASSES][16];
    const char *name_ptrs[FER_MAX_CLASSES];
    if (fer_meta_classes(&meta, names, FER_MAX_CLASSES) != k) {
        st = fer_errorf(err, FER_ERR_FORMAT, "%s: class names do not match its %d outputs",
                        a->model, k);
        goto end;
    }
    for (int i = 0; i < k; i++)
        name_ptrs[i] = names[i];
    if (!(probs = fer_malloc((ds->n ? ds->n : 1) * (size_t)k * sizeof(float)))) {
        st = fer_errorf(err, FER_ERR_NOMEM, "out of memory for %zu predictions", ds->n);
        goto end;
    }
    struct fer_norm norm;
    fer_meta_norm(&meta, &norm.mean, &norm.std);
    struct fer_metrics m;
    if ((st = fer_evaluate(net, norm, ds, (enum fer_tta)a->tta, !a->no_progress, &m, probs, err)))
        goto end;
    struct fer_calibration cal;
    fer_calibration_compute(probs, ds->labels, ds->n, k, a->bins, &cal);
    char title[160];
    snprintf(title, sizeof(title), "Confusion matrix: %s",
             fer_meta_get(&meta, "name") ? fer_meta_get(&meta, "name") : "model");
    join(path, sizeof(path), a->out, "confusion.png");
    if ((st = fer_figure_confusion(m.confusion, k, name_ptrs, title, path, err)))
        goto end;
    join(path, sizeof(path), a->out, "classes.png");
    if ((st = fer_figure_classes(m.confusion, k, name_ptrs, path, err)))
        goto end;
    join(path, sizeof(path), a->out, "calibration.png");
    if ((st = fer_figure_calibration(&cal, path, err)))
        goto end;
    join(path, sizeof(path), a->out, "mistakes.png");
    if ((st = fer_figure_mistakes(ds->pixels, probs, ds->labels, ds->n, k, name_ptrs, a->mistakes,
                                  path, err)))
        goto end;
    join(path, sizeof(path), a->out, "curves.png");
    if (a->logs && (st = draw_curves(a->logs, path, err)))
        goto end;
    join(path, sizeof(path), a->out, "report.json");
    if ((st = write_json(path, a, &m, &cal, name_ptrs, excluded, err)))
        goto end;
    join(path, sizeof(path), a->out, "report.md");
    if ((st = write_markdown(path, a, &meta, &m, &cal, name_ptrs, excluded, err)))
        goto end;
    printf("accuracy %.2f%%, macro-F1 %.4f, calibration error %.2f%% on %zu faces\n"
           "wrote %s/report.md with confusion.png classes.png calibration.png mistakes.png%s\n",
           100 * m.accuracy, m.macro_f1, 100 * cal.ece, m.total, a->out,
           a->logs ? " curves.png" : "");
end:
    fer_free(probs);
    fer_dataset_free(ds);
    fer_net_free(net);
    fer_pool_free(pool);
    fer_meta_clear(&meta);
    return st;
}

int fer_cmd_report(int argc, char **argv)
{
    struct report_args a = {
        .out = "report", .tta_name = "flip", .mistakes = 8, .bins = 10, .usage = FER_USAGE_UNSET};
    struct fer_opt opts[] = {
        {"model", FER_OPT_STR, &a.model, "model file (.fer)", NULL},
        {"data", FER_OPT_STR, &a.data, "FER2013 CSV to run it on (.csv or .csv.gz)", NULL},
        {"out", FER_OPT_STR, &a.out, "folder for the figures (default: report)", NULL},
        {"log", FER_OPT_STR, &a.logs,
         "training logs for the curves, comma-separated stages (OUT.log.jsonl)", NULL},
        {"tta", FER_OPT_STR, &a.tta_name, "test-time augmentation: none | flip (default) | crops",
         NULL},
        {"exclude-overlap", FER_OPT_STR, &a.exclude,
         "leave out faces whose pixels also occur in this file (e.g. the training set)", NULL},
        {"mistakes", FER_OPT_INT, &a.mistakes, "mistakes shown per class (default 8)", NULL},
        {"bins", FER_OPT_INT, &a.bins, "calibration bins (default 10)", NULL},
        FER_OPT_USAGE(&a.usage_name),
        FER_OPT_THREADS(&a.threads),
        FER_OPT_NO_PROGRESS(&a.no_progress),
        FER_OPT_END,
    };
    struct fer_args args = {
        .command = "report", .usage = USAGE, .opts = opts, .required = "model data"};
    int status = fer_args_read(argc, argv, &args);
    if (status != FER_ARGS_GO)
        return status;
    if ((a.tta = fer_args_tta(&args, a.tta_name)) < 0 ||
        (a.usage = fer_args_usage_choice(&args, a.usage_name)) < FER_USAGE_UNSET)
        return FER_EXIT_USAGE;
    if (a.mistakes < 1 || a.mistakes > 32 || a.bins < 1 || a.bins > FER_CAL_MAX_BINS) {
        fprintf(stderr, "fer report: --mistakes must be in [1, 32] and --bins in [1, %d]\n",
                FER_CAL_MAX_BINS);
        return FER_EXIT_USAGE;
    }
    char err[FER_ERR_LEN];
    if (make_report(&a, err) != FER_OK) {
        fprintf(stderr, "fer report: %s\n", err);
        return FER_EXIT_FAIL;
    }
    return FER_EXIT_OK;
}
