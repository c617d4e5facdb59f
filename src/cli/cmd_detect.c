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
#include "cli/detect_opts.h"
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

/* Faces in one image as its JSON entry (file, then faces or error); *failed counts errors. */
static json_t *detect_one(const fer_cascade *cascade, const char *path,
                          const struct fer_detect_params *p, size_t max_pixels, size_t *failed)
{
    char err[FER_ERR_LEN];
    json_t *entry = json_pack("{s:s}", "file", path);
    fer_image gray = {0};
    fer_rect *boxes = NULL;
    size_t n = 0;
    enum fer_status st = fer_image_load(path, 1, max_pixels, &gray, err);
    if (st == FER_OK)
        st = fer_cascade_detect(cascade, &gray, p, &boxes, &n, err);
    if (st != FER_OK) {
        (*failed)++;
        fprintf(stderr, "fer detect: %s\n", err);
        json_object_set_new(entry, "error", json_string(err));
    } else {
        json_t *faces = json_array();
        for (size_t f = 0; f < n; f++)
            json_array_append_new(faces,
                                  json_pack("{s:{s:i,s:i,s:i,s:i}}", "box", "x", boxes[f].x, "y",
                                            boxes[f].y, "w", boxes[f].w, "h", boxes[f].h));
        json_object_set_new(entry, "faces", faces);
    }
    fer_free(boxes);
    fer_image_free(&gray);
    return entry;
}

/* Detects in every file and prints the results in format fmt; returns how many failed. */
static size_t detect_all(const fer_cascade *cascade, const struct fer_file_list *files,
                         const struct fer_detect_params *p, size_t max_pixels, int fmt)
{
    size_t failed = 0;
    json_t *out = json_array();
    if (fmt == 2)
        printf("file,face,x,y,w,h,error\n");
    for (size_t i = 0; i < files->n; i++) {
        json_t *entry = detect_one(cascade, files->paths[i], p, max_pixels, &failed);
        print_entry(fmt, entry, out);
        json_decref(entry);
    }
    if (fmt == 0) {
        json_dumpf(out, stdout, JSON_INDENT(2));
        putchar('\n');
    }
    json_decref(out);
    return failed;
}

/* The cascade (the built-in one unless a path is given) and the images the arguments name. */
static enum fer_status open_inputs(const char *cascade_path, const char **pos, int n_pos,
                                   fer_cascade **cascade, struct fer_file_list *files, char *err)
{
    enum fer_status st = cascade_path ? fer_cascade_load_xml(cascade_path, cascade, err)
                                      : fer_cascade_load_builtin(cascade, err);
    for (int i = 0; i < n_pos && st == FER_OK; i++)
        st = fer_file_list_add(files, pos[i], err);
    return st;
}

int fer_cmd_detect(int argc, char **argv)
{
    struct fer_detect_params p = fer_detect_defaults();
    struct fer_detect_opts d;
    fer_detect_opts_from_params(&d, &p);
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
    fer_detect_opts_to_params(&d, &p);
    char err[FER_ERR_LEN];
    fer_cascade *cascade = NULL;
    struct fer_file_list files = {0};
    if (open_inputs(d.cascade, pos, args.n_positional, &cascade, &files, err) != FER_OK) {
        fprintf(stderr, "fer detect: %s\n", err);
        status = FER_EXIT_FAIL;
    } else {
        size_t failed = detect_all(cascade, &files, &p, fer_detect_opts_max_pixels(&d), fmt);
        status = failed ? FER_EXIT_FAIL : FER_EXIT_OK;
    }
    fer_cascade_free(cascade);
    fer_file_list_free(&files);
    return status;
}
