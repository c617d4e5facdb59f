/*
 * cmd_predict.c - `fer predict`: emotions of every face in photos and folders,
 * as JSON, JSON lines or CSV, optionally with annotated pictures. Folders are
 * walked and the images analysed in parallel; results keep the input order.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/detect_opts.h"
#include "cli/files.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "core/progress.h"
#include "fer.h"
#include "image/draw.h"
#include "image/image.h"
#include "pipeline/face_json.h"

static const char *USAGE = "fer predict [--model M] [--format json|jsonl|csv] [--annotate OUT] "
                           "[--top K] IMAGE|DIR|-... (- reads an image from standard input)";

struct item {
    const char *path;
    const char *root; /* the folder argument it was found in, or NULL for a file argument */
    fer_analysis result;
    enum fer_status status;
    char err[FER_ERR_LEN];
    char annotated[4096];
};

struct predict_job {
    fer_engine *engine;
    const uint8_t *stdin_bytes; /* the image "-" names, read before the work starts */
    size_t stdin_len;
    struct item *items;
    int annotate; /* 1: each item's picture goes to its annotated path */
    enum fer_annotate_style style;
    size_t max_pixels;
    fer_progress *bar;
    pthread_mutex_t *bar_mu;
};

static int has_picture_suffix(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot &&
           (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int cmp_annotated(const void *a, const void *b)
{
    return strcmp((*(struct item *const *)a)->annotated, (*(struct item *const *)b)->annotated);
}

/*
 * Where each item's annotated picture goes, decided before any work so that a clash is refused
 * up front: `out` itself for one image (unless it is a folder), else out/<path below the folder
 * argument> for images found in folders and out/<name> for images named, as .png. 0, or -1
 * with a message in err.
 */
static int plan_annotations(struct item *items, size_t n, const char *out, char *err)
{
    struct stat sb;
    size_t len = strlen(out);
    int is_dir = (len && out[len - 1] == '/') || (stat(out, &sb) == 0 && S_ISDIR(sb.st_mode));
    if (!is_dir && n == 1) {
        snprintf(items[0].annotated, sizeof(items[0].annotated), "%s", out);
        return 0;
    }
    size_t dir_len = len;
    while (dir_len > 1 && out[dir_len - 1] == '/')
        dir_len--;
    if (!is_dir && has_picture_suffix(out)) {
        snprintf(err, FER_ERR_LEN,
                 "--annotate %s names one picture, but %zu images are given: name a folder", out,
                 n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct item *it = &items[i];
        const char *rel = it->path;
        if (it->root && !strncmp(rel, it->root, strlen(it->root)) && rel[strlen(it->root)] == '/')
            rel += strlen(it->root) + 1;
        else if (strrchr(rel, '/'))
            rel = strrchr(rel, '/') + 1;
        char stem[4096];
        snprintf(stem, sizeof(stem), "%s", rel);
        char *dot = strrchr(stem, '.'), *slash = strrchr(stem, '/');
        if (dot && (!slash || dot > slash))
            *dot = 0;
        int w =
            snprintf(it->annotated, sizeof(it->annotated), "%.*s/%s.png", (int)dir_len, out, stem);
        if (w < 0 || (size_t)w >= sizeof(it->annotated)) {
            snprintf(err, FER_ERR_LEN, "the annotated picture's path for %.200s is too long",
                     it->path);
            return -1;
        }
    }
    struct item **sorted = fer_malloc(n * sizeof(*sorted));
    if (!sorted) {
        snprintf(err, FER_ERR_LEN, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = &items[i];
    qsort(sorted, n, sizeof(*sorted), cmp_annotated);
    int clash = 0;
    for (size_t i = 1; i < n && !clash; i++)
        if (!strcmp(sorted[i - 1]->annotated, sorted[i]->annotated)) {
            snprintf(err, FER_ERR_LEN,
                     "%.120s and %.120s would both be annotated as %.120s: give them in one "
                     "folder, or annotate them apart",
                     sorted[i - 1]->path, sorted[i]->path, sorted[i]->annotated);
            clash = 1;
        }
    fer_free(sorted);
    for (size_t i = 0; i < n && !clash; i++)
        if (fer_make_parents(items[i].annotated, err) != 0)
            return -1;
    return clash ? -1 : 0;
}

static void annotate_item(struct predict_job *j, struct item *it, fer_image *rgb)
{
    fer_engine *e = j->engine;
    size_t n = it->result.n_faces;
    struct fer_annotation *a = fer_calloc(n ? n : 1, sizeof(*a));
    const char *names[FER_MAX_CLASSES];
    int k = fer_engine_class_count(e);
    for (int c = 0; c < k; c++)
        names[c] = fer_engine_class_name(e, c);
    if (!a) {
        it->status = fer_errorf(it->err, FER_ERR_NOMEM, "out of memory annotating %s", it->path);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const fer_face *f = &it->result.faces[i];
        const char *label = names[f->emotion];
        a[i] = (struct fer_annotation){.box = f->box,
                                       .label = label,
                                       .confidence = f->probabilities[f->emotion],
                                       .emoji = fer_emotion_emoji(label),
                                       .color = fer_emotion_color(label),
                                       .n_bars = k,
                                       .bar_names = names,
                                       .bar_values = f->probabilities};
    }
    it->status = fer_image_annotate_style(rgb, a, n, j->style, it->err);
    if (it->status == FER_OK)
        it->status = fer_image_save_png(rgb, it->annotated, it->err);
    fer_free(a);
}

static void predict_task(void *arg, size_t i, int thread)
{
    (void)thread;
    struct predict_job *j = arg;
    struct item *it = &j->items[i];
    fer_image rgb = {0};
    if (!strcmp(it->path, "-")) {
        it->status = fer_image_decode(j->stdin_bytes, j->stdin_len, "standard input", 0,
                                      j->max_pixels, &rgb, it->err);
        if (it->status == FER_OK)
            it->status = fer_engine_analyze(j->engine, &rgb, &it->result, it->err);
    } else {
        it->status = fer_engine_analyze_file(j->engine, it->path, j->max_pixels, &it->result,
                                             j->annotate ? &rgb : NULL, it->err);
    }
    if (it->status == FER_OK && j->annotate)
        annotate_item(j, it, &rgb);
    else
        it->annotated[0] = 0; /* nothing was written there */
    fer_image_free(&rgb);
    pthread_mutex_lock(j->bar_mu);
    fer_progress_add(j->bar, 1, NULL);
    pthread_mutex_unlock(j->bar_mu);
}

static json_t *item_json(fer_engine *e, const struct item *it, int top)
{
    json_t *o = json_pack("{s:s}", "file", it->path);
    if (it->status != FER_OK) {
        json_object_set_new(o, "error", json_string(it->err));
        return o;
    }
    json_object_set_new(o, "faces", fer_analysis_faces_json(e, &it->result, top));
    if (it->annotated[0])
        json_object_set_new(o, "annotated", json_string(it->annotated));
    return o;
}

/*
 * A row per face: file, face, box, score, emotion, then every class's probability in the
 * model's order, or with --top K the K most likely as emotion_1,probability_1,... pairs. An
 * image without faces, or that failed, gets one row with the face fields empty (and the error).
 */
static void print_csv(fer_engine *e, const struct item *items, size_t n, int top)
{
    int k = fer_engine_class_count(e);
    printf("file,face,x,y,w,h,score,emotion");
    for (int c = 0; c < (top ? top : k); c++)
        if (top)
            printf(",emotion_%d,probability_%d", c + 1, c + 1);
        else
            printf(",%s", fer_engine_class_name(e, c));
    printf(",error\n");
    for (size_t i = 0; i < n; i++) {
        const struct item *it = &items[i];
        /* quote the file name: paths may hold commas */
        char quoted[8192];
        size_t q = 0;
        quoted[q++] = '"';
        for (const char *p = it->path; *p && q < sizeof(quoted) - 3; p++) {
            if (*p == '"')
                quoted[q++] = '"';
            quoted[q++] = *p;
        }
        quoted[q++] = '"';
        quoted[q] = 0;
        if (it->status != FER_OK || it->result.n_faces == 0) {
            printf("%s,,,,,,,", quoted);
            for (int c = 0; c < (top ? 2 * top : k); c++)
                putchar(',');
            if (it->status != FER_OK)
                printf(",\"%s\"\n", it->err);
            else
                printf(",\n");
            continue;
        }
        for (size_t f = 0; f < it->result.n_faces; f++) {
            const fer_face *face = &it->result.faces[f];
            printf("%s,%zu,%d,%d,%d,%d,", quoted, f, face->box.x, face->box.y, face->box.w,
                   face->box.h);
            if (face->score >= 0)
                printf("%.4f", (double)face->score);
            printf(",%s", fer_engine_class_name(e, face->emotion));
            int order[FER_MAX_CLASSES];
            fer_face_rank_classes(face, k, order);
            for (int c = 0; c < (top ? top : k); c++)
                if (top)
                    printf(",%s,%.6f", fer_engine_class_name(e, order[c]),
                           (double)face->probabilities[order[c]]);
                else
                    printf(",%.6f", (double)face->probabilities[c]);
            printf(",\n");
        }
    }
}

/* The command line of one fer predict. */
struct predict_opts {
    struct fer_engine_options eo;
    struct fer_detect_opts detect;
    const char *annotate; /* where annotated pictures go, or NULL */
    enum fer_annotate_style style;
    int fmt; /* 0 json, 1 jsonl, 2 csv */
    int top, threads, no_progress;
    const char *pos[4096]; /* the images and folders named */
    int n_pos;
};

/* Parses argv into o: FER_ARGS_GO, or the exit status after --help or a usage error. */
static int read_options(int argc, char **argv, struct predict_opts *o)
{
    struct fer_engine_options *eo = &o->eo;
    fer_engine_options_default(eo);
    fer_detect_opts_init(&o->detect);
    const char *format = "json", *style = "auto";
    int no_tta = 0;
    o->annotate = NULL;
    o->top = o->threads = o->no_progress = 0;
    struct fer_opt opts[] = {
        {"model", FER_OPT_STR, &eo->model_path,
         "a built-in model by name (fast) or a .fer file (default: fast)", NULL},
        {"merge-disgust", FER_OPT_FLAG, &eo->merge_disgust,
         "answer in 6 classes: a 7-class model's disgust added to angry", NULL},
        {"format", FER_OPT_STR, &format, "json | jsonl | csv", NULL},
        {"annotate", FER_OPT_STR, &o->annotate,
         "write annotated pictures: a .png file for one image, else a folder", NULL},
        {"style", FER_OPT_STR, &style,
         "annotation: auto (probability bars where they cover no face) | bars | label (box, "
         "label and emoji only)",
         NULL},
        {"top", FER_OPT_INT, &o->top,
         "list only the K most likely emotions per face, most likely first (1 to the classes)",
         NULL},
        FER_OPTS_DETECT(&o->detect),
        {"margin", FER_OPT_FLOAT, &eo->margin, "context around faces (default: the model's)", NULL},
        {"no-tta", FER_OPT_FLAG, &no_tta, "do not average with the mirrored face", NULL},
        {"align", FER_OPT_FLAG, &eo->align,
         "turn each face so that its eyes are level first (YuNet's landmarks; BENCHMARKS.md has "
         "what it changes)",
         NULL},
        {"threads", FER_OPT_INT, &o->threads, "images analysed at once (default: all cores)", NULL},
        FER_OPT_NO_PROGRESS(&o->no_progress),
        FER_OPT_END,
    };
    struct fer_args args = {.command = "predict",
                            .usage = USAGE,
                            .opts = opts,
                            .positional_name = "images",
                            .min_positional = 1,
                            .max_positional = 4096,
                            .positional = o->pos};
    int status = fer_args_read(argc, argv, &args);
    if (status != FER_ARGS_GO)
        return status;
    o->n_pos = args.n_positional;
    eo->tta = !no_tta;
    if (fer_annotate_style_parse(style, &o->style) != 0)
        return fer_args_fail(&args, "unknown --style '%s' (auto, bars or label)", style);
    if ((o->fmt = fer_args_format(&args, format)) < 0)
        return FER_EXIT_USAGE;
    if ((status = fer_detect_opts_check(&args, &o->detect)) != FER_ARGS_GO)
        return status;
    fer_detect_opts_to_engine(&o->detect, eo);
    return FER_ARGS_GO;
}

/* What one fer predict holds; freed by free_run. */
struct predict_run {
    struct fer_file_list files;
    struct item *items; /* one per file, in the order given */
    fer_engine *engine;
    fer_pool *pool;
    uint8_t *stdin_bytes; /* the image "-" names */
    size_t stdin_len;
};

static void free_run(struct predict_run *r)
{
    for (size_t i = 0; r->items && i < r->files.n; i++)
        fer_analysis_free(&r->items[i].result);
    fer_free(r->items);
    fer_free(r->stdin_bytes);
    fer_pool_free(r->pool);
    fer_engine_close(r->engine);
    fer_file_list_free(&r->files);
}

/*
 * The images the arguments name (folders walked) as r->items, each with the folder argument
 * it was found in. FER_OK, or an error in err.
 */
static enum fer_status list_items(const char *const *pos, int n_pos, struct predict_run *r,
                                  char *err)
{
    enum fer_status st = FER_OK;
    const char **roots = fer_calloc((size_t)n_pos, sizeof(*roots)); /* per argument */
    size_t *first = fer_calloc((size_t)n_pos + 1, sizeof(*first));
    for (int i = 0; roots && first && i < n_pos && st == FER_OK; i++) {
        struct stat sb;
        first[i] = r->files.n;
        if (stat(pos[i], &sb) == 0 && S_ISDIR(sb.st_mode))
            roots[i] = pos[i];
        st = fer_file_list_add(&r->files, pos[i], err);
    }
    if (st == FER_OK) {
        if (first)
            first[n_pos] = r->files.n;
        r->items = fer_calloc(r->files.n ? r->files.n : 1, sizeof(*r->items));
        if (!r->items || !roots || !first)
            st = fer_errorf(err, FER_ERR_NOMEM, "out of memory");
    }
    for (int a = 0; st == FER_OK && a < n_pos; a++)
        for (size_t i = first[a]; i < first[a + 1]; i++) {
            r->items[i].path = r->files.paths[i];
            r->items[i].root = roots[a];
        }
    fer_free(roots);
    fer_free(first);
    return st;
}

/* Reads standard input when "-" is among the files: FER_ARGS_GO, or the exit status. */
static int read_stdin_item(struct predict_run *r, char *err)
{
    int dashes = 0;
    for (size_t i = 0; i < r->files.n; i++)
        dashes += !strcmp(r->files.paths[i], "-");
    if (dashes > 1) {
        fprintf(stderr, "fer predict: '-' (standard input) may be given once\n");
        return FER_EXIT_USAGE;
    }
    if (dashes &&
        fer_read_stdin(&r->stdin_bytes, &r->stdin_len, (size_t)512 << 20, err) != FER_OK) {
        fprintf(stderr, "fer predict: %s\n", err);
        return FER_EXIT_FAIL;
    }
    return FER_ARGS_GO;
}

/*
 * Everything before the analysis: the items, the engine and threads, standard input, where
 * annotated pictures go. FER_ARGS_GO, or the exit status after a message.
 */
static int prepare_run(const struct predict_opts *o, struct predict_run *r)
{
    char err[FER_ERR_LEN];
    enum fer_status st = list_items(o->pos, o->n_pos, r, err);
    if (st == FER_OK && (st = fer_engine_open(&o->eo, &r->engine, err)) == FER_OK)
        st = fer_pool_new(o->threads, &r->pool, err);
    if (st != FER_OK) {
        fprintf(stderr, "fer predict: %s\n", err);
        return FER_EXIT_FAIL;
    }
    /* every check before anything is written: planning makes the annotation folders */
    int classes = fer_engine_class_count(r->engine);
    if (o->top < 0 || o->top > classes) {
        fprintf(stderr, "fer predict: --top %d: the model has %d classes (--top 1 to %d)\n", o->top,
                classes, classes);
        return FER_EXIT_USAGE;
    }
    int status = read_stdin_item(r, err);
    if (status != FER_ARGS_GO)
        return status;
    if (o->annotate && plan_annotations(r->items, r->files.n, o->annotate, err) != 0) {
        fprintf(stderr, "fer predict: %s\n", err);
        return FER_EXIT_FAIL;
    }
    return FER_ARGS_GO;
}

/* Analyses every item on the pool's threads; returns how many failed, after naming them. */
static size_t analyse_items(const struct predict_opts *o, struct predict_run *r)
{
    fer_progress bar;
    pthread_mutex_t bar_mu = PTHREAD_MUTEX_INITIALIZER;
    size_t n = r->files.n;
    fer_progress_start(&bar, "predict", "img", n, !o->no_progress && n > 1 && isatty(2));
    struct predict_job job = {.engine = r->engine,
                              .stdin_bytes = r->stdin_bytes,
                              .stdin_len = r->stdin_len,
                              .items = r->items,
                              .annotate = o->annotate != NULL,
                              .style = o->style,
                              .max_pixels = fer_detect_opts_max_pixels(&o->detect),
                              .bar = &bar,
                              .bar_mu = &bar_mu};
    fer_pool_run(r->pool, n, predict_task, &job);
    fer_progress_finish(&bar);
    size_t failed = 0;
    for (size_t i = 0; i < n; i++)
        if (r->items[i].status != FER_OK) {
            failed++;
            fprintf(stderr, "fer predict: %s\n", r->items[i].err);
        }
    return failed;
}

/* The results on standard output: CSV, a JSON object per line, or one JSON array. */
static void print_results(fer_engine *e, const struct item *items, size_t n, int fmt, int top)
{
    if (fmt == 2) {
        print_csv(e, items, n, top);
    } else if (fmt == 1) {
        for (size_t i = 0; i < n; i++) {
            json_t *o = item_json(e, &items[i], top);
            char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
            if (s)
                puts(s);
            free(s);
            json_decref(o);
        }
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, item_json(e, &items[i], top));
        json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        putchar('\n');
        json_decref(arr);
    }
    fflush(stdout);
}

int fer_cmd_predict(int argc, char **argv)
{
    struct predict_opts o;
    int status = read_options(argc, argv, &o);
    if (status != FER_ARGS_GO)
        return status;
    struct predict_run r = {0};
    status = prepare_run(&o, &r);
    if (status == FER_ARGS_GO) {
        size_t failed = analyse_items(&o, &r);
        print_results(r.engine, r.items, r.files.n, o.fmt, o.top);
        status = failed ? FER_EXIT_FAIL : FER_EXIT_OK;
    }
    free_run(&r);
    return status;
}
