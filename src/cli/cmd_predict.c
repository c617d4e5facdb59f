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
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/files.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "core/progress.h"
#include "fer.h"
#include "image/draw.h"
#include "image/image.h"

static const char *USAGE = "fer predict [--model M] [--format json|jsonl|csv] [--annotate OUT] "
                           "[--top K] IMAGE|DIR...";

struct item {
    const char *path;
    fer_analysis result;
    enum fer_status status;
    char err[FER_ERR_LEN];
    char annotated[4096];
};

struct predict_job {
    fer_engine *engine;
    struct item *items;
    const char *annotate; /* file or folder, or NULL */
    int annotate_is_dir;
    size_t max_pixels;
    fer_progress *bar;
    pthread_mutex_t *bar_mu;
};

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
    if (j->annotate_is_dir) {
        const char *base = strrchr(it->path, '/');
        base = base ? base + 1 : it->path;
        char stem[1024];
        snprintf(stem, sizeof(stem), "%s", base);
        char *dot = strrchr(stem, '.');
        if (dot)
            *dot = 0;
        snprintf(it->annotated, sizeof(it->annotated), "%s/%s.png", j->annotate, stem);
    } else {
        snprintf(it->annotated, sizeof(it->annotated), "%s", j->annotate);
    }
    it->status = fer_image_annotate(rgb, a, n, it->err);
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
    it->status = fer_engine_analyze_file(j->engine, it->path, j->max_pixels, &it->result,
                                         j->annotate ? &rgb : NULL, it->err);
    if (it->status == FER_OK && j->annotate)
        annotate_item(j, it, &rgb);
    fer_image_free(&rgb);
    pthread_mutex_lock(j->bar_mu);
    fer_progress_add(j->bar, 1, NULL);
    pthread_mutex_unlock(j->bar_mu);
}

/* The face as JSON: box, emotion, probabilities (the top K when top > 0). */
static json_t *face_json(fer_engine *e, const fer_face *f, size_t index, int top)
{
    int k = fer_engine_class_count(e);
    json_t *probs = json_object();
    int order[FER_MAX_CLASSES];
    for (int c = 0; c < k; c++)
        order[c] = c;
    for (int a = 0; a < k; a++) /* by decreasing probability, for --top */
        for (int b = a + 1; b < k; b++)
            if (f->probabilities[order[b]] > f->probabilities[order[a]]) {
                int t = order[a];
                order[a] = order[b];
                order[b] = t;
            }
    int shown = top > 0 && top < k ? top : k;
    for (int i = 0; i < shown; i++) {
        int c = top > 0 ? order[i] : i;
        json_object_set_new(probs, fer_engine_class_name(e, c),
                            json_real((double)f->probabilities[c]));
    }
    return json_pack("{s:I, s:{s:i, s:i, s:i, s:i}, s:s, s:o}", "face", (json_int_t)index, "box",
                     "x", f->box.x, "y", f->box.y, "w", f->box.w, "h", f->box.h, "emotion",
                     fer_engine_class_name(e, f->emotion), "probabilities", probs);
}

static json_t *item_json(fer_engine *e, const struct item *it, int top)
{
    json_t *o = json_pack("{s:s}", "file", it->path);
    if (it->status != FER_OK) {
        json_object_set_new(o, "error", json_string(it->err));
        return o;
    }
    json_t *faces = json_array();
    for (size_t i = 0; i < it->result.n_faces; i++)
        json_array_append_new(faces, face_json(e, &it->result.faces[i], i, top));
    json_object_set_new(o, "faces", faces);
    if (it->annotated[0])
        json_object_set_new(o, "annotated", json_string(it->annotated));
    return o;
}

static void print_csv(fer_engine *e, const struct item *items, size_t n)
{
    int k = fer_engine_class_count(e);
    printf("file,face,x,y,w,h,emotion");
    for (int c = 0; c < k; c++)
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
        if (it->status != FER_OK) {
            printf("%s,,,,,,", quoted);
            for (int c = 0; c < k; c++)
                putchar(',');
            printf(",\"%s\"\n", it->err);
            continue;
        }
        for (size_t f = 0; f < it->result.n_faces; f++) {
            const fer_face *face = &it->result.faces[f];
            printf("%s,%zu,%d,%d,%d,%d,%s", quoted, f, face->box.x, face->box.y, face->box.w,
                   face->box.h, fer_engine_class_name(e, face->emotion));
            for (int c = 0; c < k; c++)
                printf(",%.6f", (double)face->probabilities[c]);
            printf(",\n");
        }
    }
}

int fer_cmd_predict(int argc, char **argv)
{
    struct fer_engine_options eo;
    fer_engine_options_default(&eo);
    const char *format = "json", *annotate = NULL;
    int top = 0, threads = 0, no_tta = 0, max_mpix = 50;
    float scale = (float)eo.scale_factor;
    struct fer_opt opts[] = {
        {"model", FER_OPT_STR, &eo.model_path, "model file (default: the built-in model)", NULL},
        {"cascade", FER_OPT_STR, &eo.cascade_path,
         "OpenCV cascade XML (default: built-in frontal face)", NULL},
        {"merge-disgust", FER_OPT_FLAG, &eo.merge_disgust,
         "answer in 6 classes: a 7-class model's disgust added to angry", NULL},
        {"format", FER_OPT_STR, &format, "json | jsonl | csv", NULL},
        {"annotate", FER_OPT_STR, &annotate,
         "write annotated pictures: a .png file for one image, else a folder", NULL},
        {"top", FER_OPT_INT, &top, "list only the K most likely emotions per face", NULL},
        {"scale-factor", FER_OPT_FLOAT, &scale, "detection pyramid step (default 1.1)", NULL},
        {"min-neighbors", FER_OPT_INT, &eo.min_neighbors, "detection hits needed (default 5)",
         NULL},
        {"min-size", FER_OPT_INT, &eo.min_face, "smallest face in pixels (default 30)", NULL},
        {"max-size", FER_OPT_INT, &eo.max_face, "largest face in pixels (default: any)", NULL},
        {"margin", FER_OPT_FLOAT, &eo.margin, "context around faces (default: the model's)", NULL},
        {"no-tta", FER_OPT_FLAG, &no_tta, "do not average with the mirrored face", NULL},
        {"max-megapixels", FER_OPT_INT, &max_mpix, "refuse larger images (default 50)", NULL},
        {"threads", FER_OPT_INT, &threads, "images analysed at once (default: all cores)", NULL},
        FER_OPT_END,
    };
    const char *pos[4096];
    struct fer_args args = {.command = "predict",
                            .usage = USAGE,
                            .opts = opts,
                            .positional_name = "images",
                            .min_positional = 1,
                            .max_positional = 4096,
                            .positional = pos};
    int status = fer_args_read(argc, argv, &args);
    if (status != FER_ARGS_GO)
        return status;
    const int n_pos = args.n_positional;
    eo.scale_factor = scale;
    eo.tta = !no_tta;
    int fmt = !strcmp(format, "json")    ? 0
              : !strcmp(format, "jsonl") ? 1
              : !strcmp(format, "csv")   ? 2
                                         : -1;
    if (fmt < 0)
        return fer_args_fail(&args, "unknown --format '%s' (json, jsonl or csv)", format);
    if (top < 0 || max_mpix < 1)
        return fer_args_fail(&args, "--top must be >= 0 and --max-megapixels >= 1");
    char err[FER_ERR_LEN];
    struct fer_file_list files = {0};
    for (int i = 0; i < n_pos; i++)
        if (fer_file_list_add(&files, pos[i], err) != FER_OK) {
            fprintf(stderr, "fer predict: %s\n", err);
            fer_file_list_free(&files);
            return FER_EXIT_FAIL;
        }
    int annotate_is_dir = 0;
    if (annotate) {
        struct stat sb;
        size_t len = strlen(annotate);
        annotate_is_dir = files.n > 1 || (len && annotate[len - 1] == '/') ||
                          (stat(annotate, &sb) == 0 && S_ISDIR(sb.st_mode));
        if (annotate_is_dir && mkdir(annotate, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "fer predict: cannot create folder %s: %s\n", annotate,
                    strerror(errno));
            fer_file_list_free(&files);
            return FER_EXIT_FAIL;
        }
    }
    fer_engine *engine = NULL;
    fer_pool *pool = NULL;
    struct item *items = fer_calloc(files.n ? files.n : 1, sizeof(*items));
    status = FER_EXIT_FAIL;
    if (!items || fer_engine_open(&eo, &engine, err) != FER_OK ||
        fer_pool_new(threads, &pool, err) != FER_OK) {
        fprintf(stderr, "fer predict: %s\n", items ? err : "out of memory");
        goto end;
    }
    for (size_t i = 0; i < files.n; i++)
        items[i].path = files.paths[i];
    fer_progress bar;
    pthread_mutex_t bar_mu = PTHREAD_MUTEX_INITIALIZER;
    fer_progress_start(&bar, "predict", "img", files.n, files.n > 1 && isatty(2));
    struct predict_job job = {engine, items,  annotate, annotate_is_dir, (size_t)max_mpix * 1000000,
                              &bar,   &bar_mu};
    fer_pool_run(pool, files.n, predict_task, &job);
    fer_progress_finish(&bar);
    size_t failed = 0;
    for (size_t i = 0; i < files.n; i++)
        if (items[i].status != FER_OK) {
            failed++;
            fprintf(stderr, "fer predict: %s\n", items[i].err);
        }
    if (fmt == 2) {
        print_csv(engine, items, files.n);
    } else if (fmt == 1) {
        for (size_t i = 0; i < files.n; i++) {
            json_t *o = item_json(engine, &items[i], top);
            char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
            if (s)
                puts(s);
            free(s);
            json_decref(o);
        }
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < files.n; i++)
            json_array_append_new(arr, item_json(engine, &items[i], top));
        json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        putchar('\n');
        json_decref(arr);
    }
    fflush(stdout);
    status = failed ? FER_EXIT_FAIL : FER_EXIT_OK;
end:
    for (size_t i = 0; items && i < files.n; i++)
        fer_analysis_free(&items[i].result);
    fer_free(items);
    fer_pool_free(pool);
    fer_engine_close(engine);
    fer_file_list_free(&files);
    return status;
}
