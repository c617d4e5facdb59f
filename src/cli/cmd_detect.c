/*
 * cmd_detect.c - `fer detect`: the faces in photos, with the detector and
 * defaults of fer predict (YuNet unless --detector says otherwise), in the
 * order given: one JSON array with an entry per image (--format json), one
 * JSON object per line (jsonl), or a CSV row per face (csv; an image without
 * faces still gets a row, with an empty face number).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/detect_opts.h"
#include "cli/files.h"
#include "core/alloc.h"
#include "detect/finder.h"
#include "fer.h"
#include "image/image.h"
#include "pipeline/face_json.h"

static const char *USAGE =
    "fer detect [--detector yunet|haar|lbp|none] [--format json|jsonl|csv] "
    "[--score-threshold X] [--cascade XML] [--min-size N] [--max-size N] IMAGE|DIR...";

/* A file name as a CSV field: quoted, quotes doubled (paths may hold commas). */
static void print_csv_field(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* One image's result in the chosen format; entry is the JSON form (file, faces or error). */
static void print_entry(int fmt, json_t *entry, json_t *all)
{
    if (fmt == 0) {
        json_array_append(all, entry);
        return;
    }
    if (fmt == 1) {
        char *s = json_dumps(entry, JSON_COMPACT | JSON_REAL_PRECISION(6));
        if (s)
            puts(s);
        free(s);
        return;
    }
    const char *file = json_string_value(json_object_get(entry, "file"));
    json_t *error = json_object_get(entry, "error"), *faces = json_object_get(entry, "faces");
    if (error || json_array_size(faces) == 0) {
        print_csv_field(file);
        printf(",,,,,,,");
        if (error)
            print_csv_field(json_string_value(error));
        putchar('\n');
        return;
    }
    for (size_t f = 0; f < json_array_size(faces); f++) {
        json_t *face = json_array_get(faces, f), *box = json_object_get(face, "box");
        print_csv_field(file);
        printf(",%zu,%lld,%lld,%lld,%lld,", f,
               (long long)json_integer_value(json_object_get(box, "x")),
               (long long)json_integer_value(json_object_get(box, "y")),
               (long long)json_integer_value(json_object_get(box, "w")),
               (long long)json_integer_value(json_object_get(box, "h")));
        json_t *score = json_object_get(face, "score");
        if (score)
            printf("%.4f", json_real_value(score));
        printf(",\n");
    }
}

/* Faces in one image as its JSON entry (file, then faces or error); *failed counts errors. */
static json_t *detect_one(fer_finder *finder, const char *path, size_t max_pixels, size_t *failed)
{
    char err[FER_ERR_LEN];
    json_t *entry = json_pack("{s:s}", "file", path);
    fer_image img = {0};
    struct fer_found *found = NULL;
    size_t n = 0;
    int gray = fer_finder_detector(finder) != FER_DETECTOR_YUNET;
    enum fer_status st = fer_image_load(path, gray, max_pixels, &img, err);
    if (st == FER_OK)
        st = fer_finder_find(finder, &img, NULL, &found, &n, err);
    if (st != FER_OK) {
        (*failed)++;
        fprintf(stderr, "fer detect: %s\n", err);
        json_object_set_new(entry, "error", json_string(err));
    } else {
        json_t *faces = json_array();
        for (size_t f = 0; f < n; f++) {
            json_t *face = json_object();
            char id[24];
            snprintf(id, sizeof(id), "%zu", f);
            json_object_set_new(face, "id", json_string(id));
            fer_face_json_detection(face, &found[f].box, found[f].score,
                                    found[f].has_landmarks ? found[f].landmarks : NULL);
            json_array_append_new(faces, face);
        }
        json_object_set_new(entry, "faces", faces);
    }
    fer_free(found);
    fer_image_free(&img);
    return entry;
}

/* Detects in every file and prints the results in format fmt; returns how many failed. */
static size_t detect_all(fer_finder *finder, const struct fer_file_list *files, size_t max_pixels,
                         int fmt)
{
    size_t failed = 0;
    json_t *out = json_array();
    if (fmt == 2)
        printf("file,face,x,y,w,h,score,error\n");
    for (size_t i = 0; i < files->n; i++) {
        json_t *entry = detect_one(finder, files->paths[i], max_pixels, &failed);
        print_entry(fmt, entry, out);
        json_decref(entry);
    }
    if (fmt == 0) {
        json_dumpf(out, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        putchar('\n');
    }
    json_decref(out);
    return failed;
}

/* The detector the options describe and the images the arguments name. */
static enum fer_status open_inputs(const struct fer_detect_opts *d, const char **pos, int n_pos,
                                   fer_finder **finder, struct fer_file_list *files, char *err)
{
    struct fer_engine_options eo;
    fer_engine_options_default(&eo);
    fer_detect_opts_to_engine(d, &eo);
    enum fer_status st = fer_finder_open(&eo, finder, err);
    for (int i = 0; i < n_pos && st == FER_OK; i++)
        st = fer_file_list_add(files, pos[i], err);
    return st;
}

int fer_cmd_detect(int argc, char **argv)
{
    struct fer_detect_opts d;
    fer_detect_opts_init(&d);
    const char *format = "json";
    struct fer_opt opts[] = {
        {"format", FER_OPT_STR, &format, "json | jsonl | csv (a row per face)", NULL},
        FER_OPTS_DETECT(&d),
        FER_OPT_END,
    };
    const char *pos[4096];
    struct fer_args args = {.command = "detect",
                            .usage = USAGE,
                            .opts = opts,
                            .positional_name = "images",
                            .min_positional = 1,
                            .max_positional = 4096,
                            .positional = pos};
    int status = fer_args_read(argc, argv, &args);
    if (status == FER_ARGS_GO)
        status = fer_detect_opts_check(&args, &d);
    if (status != FER_ARGS_GO)
        return status;
    int fmt = fer_args_format(&args, format);
    if (fmt < 0)
        return FER_EXIT_USAGE;
    char err[FER_ERR_LEN];
    fer_finder *finder = NULL;
    struct fer_file_list files = {0};
    if (open_inputs(&d, pos, args.n_positional, &finder, &files, err) != FER_OK) {
        fprintf(stderr, "fer detect: %s\n", err);
        status = FER_EXIT_FAIL;
    } else {
        size_t failed = detect_all(finder, &files, fer_detect_opts_max_pixels(&d), fmt);
        status = failed ? FER_EXIT_FAIL : FER_EXIT_OK;
    }
    fer_finder_free(finder);
    fer_file_list_free(&files);
    return status;
}
