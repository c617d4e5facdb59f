/*
 * cmd_report.c - `fer report`: runs a model over a FER2013 CSV and writes the figures that
 * show how it behaves (the class distribution, confusion matrix, per-class results,
 * calibration, a grid of faces with the model's guesses, its most confident mistakes, the
 * feature maps of one face, training curves from its logs) as PNG or SVG files, with
 * index.html that shows them all with the numbers, report.md and report.json.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/alloc.h"
#include "core/classes.h"
#include "core/pool.h"
#include "fer.h"
#include "nn/model_file.h"
#include "pipeline/builtin_model.h"
#include "report/report.h"
#include "train/evaluate.h"

static const char *USAGE =
    "fer report --model MODEL --data FILE [--out DIR] [--train FILE] [--log LOG.jsonl[,...]]\n"
    "                  [--face N | --image PHOTO] [--seed N] [--format png|svg] [--dpi N]";

#define MAX_FIGURES 10
#define GRID_FACES  24
#define MAX_LAYERS  16

struct report_args {
    const char *model, *data, *out, *logs, *tta_name, *exclude, *usage_name, *train, *image,
        *format;
    int tta, mistakes, bins, threads, no_progress, usage, seed, face, dpi, max_maps;
};

/* What one run of the report holds: the model, the data, its predictions, the figures. */
struct report {
    const struct report_args *a;
    fer_net *net;
    struct fer_meta meta;
    struct fer_norm norm;
    fer_dataset *ds;
    float *probs;
    struct fer_metrics m;
    struct fer_calibration cal;
    size_t excluded;
    const char *rows; /* the usage whose rows were kept from a mixed file, or NULL */
    int k;
    char names[FER_MAX_CLASSES][16];
    const char *name_ptrs[FER_MAX_CLASSES];
    struct fer_report_figure figs[MAX_FIGURES];
    char files[MAX_FIGURES][32];
    int n_figs;
    char path[1200];          /* the figure being written */
    char feature_maps_of[80]; /* the face the feature maps show, and how it was read */
};

/* Names the next figure (stem + the format's extension); out points at its path. */
static void next_figure(struct report *r, const char *stem, const char *title, const char *caption,
                        struct fer_figure_file *out)
{
    char *file = r->files[r->n_figs];
    snprintf(file, sizeof(r->files[0]), "%s.%s", stem, r->a->format);
    r->figs[r->n_figs] = (struct fer_report_figure){file, title, caption};
    snprintf(r->path, sizeof(r->path), "%s/%s", r->a->out, file);
    *out = (struct fer_figure_file){r->path, r->a->dpi};
}

/* Counts the figure named last: it was written. */
static enum fer_status done(struct report *r, enum fer_status st)
{
    if (st == FER_OK)
        r->n_figs++;
    return st;
}

/* The training curves of the comma-separated logs, one stage each. */
static enum fer_status draw_curves(const char *logs, const struct fer_figure_file *out, char *err)
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
        st = fer_figure_curves(ep, n, starts, n_stages, out, err);
    fer_free(ep);
    return st;
}

static void count_classes(const fer_dataset *ds, int k, size_t *counts)
{
    memset(counts, 0, sizeof(size_t) * (size_t)k);
    for (size_t i = 0; i < ds->n; i++)
        if (ds->labels[i] < k)
            counts[ds->labels[i]]++;
}

/* distribution: the evaluation data's classes, and the training data's with --train. */
static enum fer_status draw_distribution(struct report *r, char *err)
{
    size_t eval_counts[FER_MAX_CLASSES], train_counts[FER_MAX_CLASSES];
    count_classes(r->ds, r->k, eval_counts);
    fer_dataset *train = NULL;
    if (r->a->train) {
        enum fer_status st = fer_dataset_read_for_model(r->a->train, r->k, FER_USAGE_UNSET,
                                                        FER_USAGE_TRAINING, &train, NULL, err);
        if (st != FER_OK)
            return st;
        count_classes(train, r->k, train_counts);
        fer_dataset_free(train);
    }
    struct fer_figure_file out;
    next_figure(r, "distribution", "Faces per class",
                "How many faces of each class the data holds: a class with few faces is "
                "usually read worse.",
                &out);
    return done(r, fer_figure_distribution(eval_counts, r->a->train ? train_counts : NULL, r->k,
                                           r->name_ptrs, "evaluation", "training", &out, err));
}

/* faces: GRID_FACES evaluation faces chosen with --seed. */
static enum fer_status draw_faces(struct report *r, char *err)
{
    size_t idx[GRID_FACES];
    size_t m = fer_select_sample(r->ds->n, GRID_FACES, (uint64_t)r->a->seed, idx);
    struct fer_figure_file out;
    next_figure(r, "faces", "A sample of faces and the model's guesses",
                "Faces drawn at random (fer report --seed), with their label and the model's "
                "two likeliest classes; red: the first guess is wrong.",
                &out);
    return done(r, fer_figure_faces(r->ds->pixels, r->probs, r->ds->labels, r->k, r->name_ptrs, idx,
                                    m, &out, err));
}

/* The 48x48 face of --image: the largest face the engine finds in the photo. */
static enum fer_status face_of_image(const struct report_args *a, uint8_t *face, char *caption,
                                     size_t cap, char *err)
{
    struct fer_engine_options eo;
    fer_engine_options_default(&eo);
    eo.model_path = a->model;
    fer_engine *e = NULL;
    fer_analysis an = {0};
    enum fer_status st = fer_engine_open(&eo, &e, err);
    if (st == FER_OK)
        st = fer_engine_analyze_file(e, a->image, 0, &an, NULL, err);
    if (st == FER_OK && an.n_faces == 0)
        st = fer_errorf(err, FER_ERR_ARG, "--image %s: no face found in it", a->image);
    if (st == FER_OK) {
        size_t best = 0;
        for (size_t i = 1; i < an.n_faces; i++)
            if ((long)an.faces[i].box.w * an.faces[i].box.h >
                (long)an.faces[best].box.w * an.faces[best].box.h)
                best = i;
        const fer_face *f = &an.faces[best];
        memcpy(face, f->crop, FER_FACE_PIXELS);
        const char *base = strrchr(a->image, '/');
        snprintf(caption, cap, "%.40s: %s %.0f%%", base ? base + 1 : a->image,
                 fer_engine_class_name(e, f->emotion), 100 * (double)f->probabilities[f->emotion]);
    }
    fer_analysis_free(&an);
    fer_engine_close(e);
    return st;
}

/* featuremaps: the maps of face --face N of the data, or of the face in --image. */
static enum fer_status draw_feature_maps(struct report *r, char *err)
{
    const struct report_args *a = r->a;
    uint8_t face[FER_FACE_PIXELS], view[FER_FACE_PIXELS];
    char *caption = r->feature_maps_of;
    const size_t cap = sizeof(r->feature_maps_of);
    if (a->image) {
        enum fer_status st = face_of_image(a, face, caption, cap, err);
        if (st != FER_OK)
            return st;
    } else {
        if ((size_t)a->face >= r->ds->n)
            return fer_errorf(err, FER_ERR_ARG, "--face %d: the data has %zu faces", a->face,
                              r->ds->n);
        memcpy(face, r->ds->pixels + (size_t)a->face * FER_FACE_PIXELS, FER_FACE_PIXELS);
        const float *p = r->probs + (size_t)a->face * (size_t)r->k;
        int said = 0;
        for (int c = 1; c < r->k; c++)
            said = p[c] > p[said] ? c : said;
        snprintf(caption, cap, "face %d (%s): %s %.0f%%", a->face,
                 r->name_ptrs[r->ds->labels[a->face]], r->name_ptrs[said], 100 * (double)p[said]);
    }
    struct fer_feature_layer layers[MAX_LAYERS];
    int n =
        fer_feature_layers_of(r->net, r->norm.mean, r->norm.std, face, view, layers, MAX_LAYERS);
    if (n == 0)
        return FER_OK; /* a network without pooling or residual stages: nothing to show */
    int side = fer_net_input_side(r->net);
    struct fer_figure_file out;
    next_figure(r, "featuremaps", "What the network sees",
                "The face as the network sees it, and the maps after each pooling layer and at "
                "the end of each residual stage (fer report --face N, or --image PHOTO).",
                &out);
    return done(
        r, fer_figure_feature_maps(view, side, side, caption, layers, n, a->max_maps, &out, err));
}

/* The figures of the predictions: confusion, per class, calibration, mistakes, curves. */
static enum fer_status draw_results(struct report *r, char *err)
{
    const struct report_args *a = r->a;
    struct fer_figure_file out;
    char title[160];
    snprintf(title, sizeof(title), "Confusion matrix: %s",
             fer_meta_get(&r->meta, "name") ? fer_meta_get(&r->meta, "name") : "model");
    next_figure(r, "confusion", "Confusion matrix",
                "Each row is a true class and sums to 100%; the diagonal is what the model "
                "reads right.",
                &out);
    enum fer_status st =
        done(r, fer_figure_confusion(r->m.confusion, r->k, r->name_ptrs, title, &out, err));
    next_figure(r, "classes", "Per class",
                "Precision, recall and F1 per class; below, how many faces of each class there "
                "are and how many the model says.",
                &out);
    if (st == FER_OK)
        st = done(r, fer_figure_classes(r->m.confusion, r->k, r->name_ptrs, &out, err));
    next_figure(r, "calibration", "Calibration",
                "Does a face read with 80% confidence come out right 80% of the time? Bars on "
                "the diagonal mean yes.",
                &out);
    if (st == FER_OK)
        st = done(r, fer_figure_calibration(&r->cal, &out, err));
    next_figure(r, "mistakes", "The most confident mistakes",
                "Per true class, the faces the model got wrong with the highest confidence: "
                "some are the model's errors, some the label's.",
                &out);
    if (st == FER_OK)
        st = done(r, fer_figure_mistakes(r->ds->pixels, r->probs, r->ds->labels, r->ds->n, r->k,
                                         r->name_ptrs, a->mistakes, &out, err));
    if (a->logs) {
        next_figure(r, "curves", "Training", "Loss and accuracy by epoch, from the training logs.",
                    &out);
        if (st == FER_OK)
            st = done(r, draw_curves(a->logs, &out, err));
    }
    return st;
}

static enum fer_status write_json(const char *path, const struct report *r, char *err)
{
    const struct report_args *a = r->a;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for report.json");
    fer_metrics_print_json(&r->m, r->name_ptrs, mem);
    fclose(mem);
    json_t *metrics = json_loads(buf, 0, NULL);
    free(buf);
    json_t *figures = json_array();
    for (int i = 0; i < r->n_figs; i++)
        json_array_append_new(figures, json_string(r->figs[i].file));
    json_t *o = json_pack("{s:s, s:s, s:s?, s:s, s:I, s:f, s:o*, s:o, s:s?}", "model", a->model,
                          "data", a->data, "usage", r->rows, "tta", a->tta_name, "excluded",
                          (json_int_t)r->excluded, "ece", round(r->cal.ece * 1e6) / 1e6, "metrics",
                          metrics, "figures", figures, "feature_maps_of",
                          r->feature_maps_of[0] ? r->feature_maps_of : NULL);
    enum fer_status st = FER_OK;
    if (!o || json_dump_file(o, path, JSON_INDENT(1) | JSON_REAL_PRECISION(6)) != 0)
        st = fer_errorf(err, FER_ERR_IO, "cannot write %s", path);
    json_decref(o);
    return st;
}

static enum fer_status write_markdown(const char *path, const struct report *r, char *err)
{
    const struct report_args *a = r->a;
    const struct fer_metrics *m = &r->m;
    FILE *f = fopen(path, "w");
    if (!f)
        return fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    const char *name = fer_meta_get(&r->meta, "name");
    fprintf(f, "# Report: %s\n\n", name ? name : a->model);
    fprintf(f, "| | |\n| --- | --- |\n| model | `%s` |\n| data | `%s`", a->model, a->data);
    if (r->rows)
        fprintf(f, ", its %s rows", r->rows);
    if (a->exclude)
        fprintf(f, " without the %zu faces also in `%s`", r->excluded, a->exclude);
    fprintf(f, " |\n| faces | %zu |\n| test-time augmentation | %s |\n", m->total, a->tta_name);
    fprintf(f, "| accuracy | **%.2f%%** |\n| macro-F1 | %.4f |\n", 100 * m->accuracy, m->macro_f1);
    fprintf(f, "| expected calibration error | %.2f%% |\n\n", 100 * r->cal.ece);
    fprintf(f,
            "| class | precision | recall | F1 | faces |\n| --- | ---: | ---: | ---: | ---: |\n");
    for (int c = 0; c < m->n_classes; c++)
        fprintf(f, "| %s | %.3f | %.3f | %.3f | %zu |\n", r->name_ptrs[c],
                m->per_class[c].precision, m->per_class[c].recall, m->per_class[c].f1,
                m->per_class[c].support);
    for (int i = 0; i < r->n_figs; i++)
        fprintf(f, "\n![%s](%s)\n", r->figs[i].title, r->figs[i].file);
    if (fclose(f) != 0)
        return fer_errorf(err, FER_ERR_IO, "writing %s failed", path);
    return FER_OK;
}

static enum fer_status write_html(const char *path, const struct report *r, char *err)
{
    const struct report_args *a = r->a;
    struct fer_report_class classes[FER_MAX_CLASSES];
    for (int c = 0; c < r->k; c++)
        classes[c] =
            (struct fer_report_class){r->m.per_class[c].precision, r->m.per_class[c].recall,
                                      r->m.per_class[c].f1, r->m.per_class[c].support};
    char data[1100];
    snprintf(data, sizeof(data), "%s%s%s%s", a->data, r->rows ? ", its " : "",
             r->rows ? r->rows : "", r->rows ? " rows" : "");
    const char *name = fer_meta_get(&r->meta, "name");
    struct fer_report_summary s = {name ? name : a->model,
                                   a->model,
                                   data,
                                   a->tta_name,
                                   r->m.total,
                                   r->m.accuracy,
                                   r->m.macro_f1,
                                   r->cal.ece,
                                   r->k,
                                   r->name_ptrs,
                                   classes,
                                   r->figs,
                                   r->n_figs};
    return fer_report_write_html(path, &s, err);
}

/* Loads the model and the data, and predicts every face. */
static enum fer_status predict_all(struct report *r, fer_pool **pool, char *err)
{
    const struct report_args *a = r->a;
    struct fer_usage_pick pick = {0};
    enum fer_status st =
        fer_builtin_or_file_load(a->model, FER_MODEL_CLASSIFIER, 256, &r->net, &r->meta, NULL, err);
    if (st == FER_OK && (st = fer_pool_new(a->threads, pool, err)) == FER_OK)
        st = fer_net_set_pool(r->net, *pool, err);
    if (st == FER_OK)
        st = fer_dataset_read_for_model(a->data, fer_net_classes(r->net), a->usage,
                                        FER_USAGE_PUBLIC_TEST, &r->ds, &pick, err);
    if (st == FER_OK && pick.kept) {
        fprintf(stderr, "fer report: %s\n", pick.note);
        r->rows = pick.kept;
    }
    if (st == FER_OK && a->exclude)
        st = fer_dataset_drop_overlap(r->ds, a->exclude, &r->excluded, err);
    if (st != FER_OK)
        return st;
    r->k = fer_net_classes(r->net);
    if (fer_meta_classes(&r->meta, r->names, FER_MAX_CLASSES) != r->k)
        return fer_errorf(err, FER_ERR_FORMAT, "%s: class names do not match its %d outputs",
                          a->model, r->k);
    for (int i = 0; i < r->k; i++)
        r->name_ptrs[i] = r->names[i];
    if (!(r->probs = fer_malloc((r->ds->n ? r->ds->n : 1) * (size_t)r->k * sizeof(float))))
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for %zu predictions", r->ds->n);
    fer_meta_norm(&r->meta, &r->norm.mean, &r->norm.std);
    st = fer_evaluate(r->net, r->norm, r->ds, (enum fer_tta)a->tta, !a->no_progress, &r->m,
                      r->probs, err);
    if (st == FER_OK)
        fer_calibration_compute(r->probs, r->ds->labels, r->ds->n, r->k, a->bins, &r->cal);
    return st;
}

static enum fer_status make_report(const struct report_args *a, char *err)
{
    if (mkdir(a->out, 0755) != 0 && errno != EEXIST)
        return fer_errorf(err, FER_ERR_IO, "cannot make %s: %s", a->out, strerror(errno));
    struct report *r = fer_calloc(1, sizeof(*r));
    if (!r)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory");
    r->a = a;
    fer_pool *pool = NULL;
    char path[1200];
    enum fer_status st = predict_all(r, &pool, err);
    if (st == FER_OK)
        st = draw_distribution(r, err);
    if (st == FER_OK)
        st = draw_results(r, err);
    if (st == FER_OK)
        st = draw_faces(r, err);
    if (st == FER_OK)
        st = draw_feature_maps(r, err);
    snprintf(path, sizeof(path), "%s/report.json", a->out);
    if (st == FER_OK)
        st = write_json(path, r, err);
    snprintf(path, sizeof(path), "%s/report.md", a->out);
    if (st == FER_OK)
        st = write_markdown(path, r, err);
    snprintf(path, sizeof(path), "%s/index.html", a->out);
    if (st == FER_OK)
        st = write_html(path, r, err);
    if (st == FER_OK) {
        printf("accuracy %.2f%%, macro-F1 %.4f, calibration error %.2f%% on %zu faces\n"
               "wrote %s/index.html with",
               100 * r->m.accuracy, r->m.macro_f1, 100 * r->cal.ece, r->m.total, a->out);
        for (int i = 0; i < r->n_figs; i++)
            printf(" %s", r->figs[i].file);
        printf(", report.md and report.json\n");
    }
    fer_free(r->probs);
    fer_dataset_free(r->ds);
    fer_net_free(r->net);
    fer_pool_free(pool);
    fer_meta_clear(&r->meta);
    fer_free(r);
    return st;
}

int fer_cmd_report(int argc, char **argv)
{
    struct report_args a = {.out = "report",
                            .tta_name = "flip",
                            .mistakes = 8,
                            .bins = 10,
                            .usage = FER_USAGE_UNSET,
                            .format = "png",
                            .seed = 1,
                            .dpi = 96,
                            .max_maps = 16};
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
        {"train", FER_OPT_STR, &a.train,
         "training data, for the class distribution beside the evaluation data's", NULL},
        {"seed", FER_OPT_INT, &a.seed, "which 24 faces the grid shows (default 1)", NULL},
        {"face", FER_OPT_INT, &a.face, "the face of the data whose feature maps are drawn (0)",
         NULL},
        {"image", FER_OPT_STR, &a.image,
         "draw the feature maps of the largest face in this photo instead", NULL},
        {"max-maps", FER_OPT_INT, &a.max_maps, "feature maps shown per layer (default 16)", NULL},
        {"format", FER_OPT_STR, &a.format, "png (default) or svg", NULL},
        {"dpi", FER_OPT_INT, &a.dpi, "resolution of PNG figures (default 96; 192: twice as sharp)",
         NULL},
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
    if (a.mistakes < 1 || a.mistakes > 32 || a.bins < 1 || a.bins > FER_CAL_MAX_BINS ||
        a.face < 0 || a.dpi < 24 || a.dpi > 600 || a.max_maps < 1 || a.max_maps > 64) {
        fprintf(stderr,
                "fer report: --mistakes must be in [1, 32], --bins in [1, %d], --face 0 or "
                "more, --dpi in [24, 600] and --max-maps in [1, 64]\n",
                FER_CAL_MAX_BINS);
        return FER_EXIT_USAGE;
    }
    if (strcmp(a.format, "png") != 0 && strcmp(a.format, "svg") != 0) {
        fprintf(stderr, "fer report: --format must be png or svg, not '%s'\n", a.format);
        return FER_EXIT_USAGE;
    }
    char err[FER_ERR_LEN];
    if (make_report(&a, err) != FER_OK) {
        fprintf(stderr, "fer report: %s\n", err);
        return FER_EXIT_FAIL;
    }
    return FER_EXIT_OK;
}
