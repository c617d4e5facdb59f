/*
 * cmd_detect.c - `fer detect`: face boxes in photos with an OpenCV cascade, in
 * the order given: one JSON array with an entry per image (--format json),
 * one JSON object per line (jsonl), or a CSV row per face (csv).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/files.h"
#include "core/alloc.h"
#include "detect/cascade.h"
#include "fer.h"
#include "image/image.h"

static const char *USAGE =
    "fer detect [--cascade XML] [--format json|jsonl|csv] [--scale-factor X] "
    "[--min-neighbors N] [--min-size N] [--max-size N] IMAGE|DIR...";

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
        char *s = json_dumps(entry, JSON_COMPACT);
        if (s)
            puts(s);
        free(s);
        return;
    }
    const char *file = json_string_value(json_object_get(entry, "file"));
    json_t *error = json_object_get(entry, "error"), *faces = json_object_get(entry, "faces");
    if (error) {
        print_csv_field(file);
        printf(",,,,,");
        print_csv_field(json_string_value(error));
        putchar('\n');
        return;
    }
    for (size_t f = 0; f < json_array_size(faces); f++) {
        json_t *box = json_object_get(json_array_get(faces, f), "box");
        print_csv_field(file);
        printf(",%zu,%lld,%lld,%lld,%lld,\n", f,
               (long long)json_integer_value(json_object_get(box, "x")),
               (long long)json_integer_value(json_object_get(box, "y")),
               (long long)json_integer_value(json_object_get(box, "w")),
               (long long)json_integer_value(json_object_get(box, "h")));
    }
}

int fer_cmd_detect(int argc, char **argv)
{
    const char *cascade_path = NULL;
    struct fer_detect_params p = fer_detect_defaults();
    float scale = (float)p.scale_factor;
    int min_size = 0, max_size = 0, max_mpix = FER_DEFAULT_MAX_MEGAPIXELS;
    const char *format = "json";
    struct fer_opt opts[] = {
        {"cascade", FER_OPT_STR, &cascade_path,
         "OpenCV cascade XML (default: built-in frontal face)", NULL},
        {"format", FER_OPT_STR, &format, "json | jsonl | csv (a row per face)", NULL},
        {"scale-factor", FER_OPT_FLOAT, &scale, "pyramid step, > 1 (default 1.1)", NULL},
        {"min-neighbors", FER_OPT_INT, &p.min_neighbors, "overlapping hits needed (default 3)",
         NULL},
        {"min-size", FER_OPT_INT, &min_size, "smallest face in pixels (default: the window)", NULL},
        {"max-size", FER_OPT_INT, &max_size, "largest face in pixels (default: any)", NULL},
        {"max-megapixels", FER_OPT_INT, &max_mpix, "refuse larger images (default 50)", NULL},
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
    if (status != FER_ARGS_GO)
        return status;
    const int n_pos = args.n_positional;
    if (scale <= 1.0f || p.min_neighbors < 0 || min_size < 0 || max_size < 0)
        return fer_args_fail(&args, "--scale-factor must be > 1; --min-neighbors and the sizes "
                                    ">= 0");
    int fmt = !strcmp(format, "json")    ? 0
              : !strcmp(format, "jsonl") ? 1
              : !strcmp(format, "csv")   ? 2
                                         : -1;
    if (fmt < 0)
        return fer_args_fail(&args, "unknown --format '%s' (json, jsonl or csv)", format);
    p.scale_factor = scale;
    p.min_w = p.min_h = min_size;
    p.max_w = p.max_h = max_size;
    char err[FER_ERR_LEN];
    fer_cascade *cascade = NULL;
    enum fer_status st = cascade_path ? fer_cascade_load_xml(cascade_path, &cascade, err)
                                      : fer_cascade_load_builtin(&cascade, err);
    if (st != FER_OK) {
        fprintf(stderr, "fer detect: %s\n", err);
        return FER_EXIT_FAIL;
    }
    struct fer_file_list files = {0};
    for (int i = 0; i < n_pos && st == FER_OK; i++)
        st = fer_file_list_add(&files, pos[i], err);
    if (st != FER_OK) {
        fprintf(stderr, "fer detect: %s\n", err);
        fer_cascade_free(cascade);
        fer_file_list_free(&files);
        return FER_EXIT_FAIL;
    }
    size_t failed = 0;
    json_t *out = json_array();
    if (fmt == 2)
        printf("file,face,x,y,w,h,error\n");
    for (size_t i = 0; i < files.n; i++) {
        json_t *entry = json_pack("{s:s}", "file", files.paths[i]);
        fer_image gray = {0};
        fer_rect *boxes = NULL;
        size_t n = 0;
        st = fer_image_load(files.paths[i], 1, (size_t)max_mpix * 1000000, &gray, err);
        if (st == FER_OK)
            st = fer_cascade_detect(cascade, &gray, &p, &boxes, &n, err);
        if (st != FER_OK) {
            failed++;
            fprintf(stderr, "fer detect: %s\n", err);
            json_object_set_new(entry, "error", json_string(err));
        } else {
            json_t *faces = json_array();
            for (size_t f = 0; f < n; f++)
                json_array_append_new(faces,
                                      json_pack("{s:{s:i,s:i,s:i,s:i}}", "box", "x", boxes[f].x,
                                                "y", boxes[f].y, "w", boxes[f].w, "h", boxes[f].h));
            json_object_set_new(entry, "faces", faces);
        }
        print_entry(fmt, entry, out);
        json_decref(entry);
        fer_free(boxes);
        fer_image_free(&gray);
    }
    if (fmt == 0) {
        json_dumpf(out, stdout, JSON_INDENT(2));
        putchar('\n');
    }
    json_decref(out);
    fer_cascade_free(cascade);
    fer_file_list_free(&files);
    return failed ? FER_EXIT_FAIL : FER_EXIT_OK;
}
