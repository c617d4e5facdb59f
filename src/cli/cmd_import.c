/*
 * cmd_import.c - `fer import yunet WEIGHTS.cpp OUT.fer`: a model file made
 * from another project's trained weights. The one format today is
 * libfacedetection's facedetectcnn-data.cpp (the YuNet face detector, 3-clause BSD
 * licence), whose copyright notice and licence go into the file's metadata.
 */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/alloc.h"
#include "core/file.h"
#include "core/sha256.h"
#include "detect/yunet.h"
#include "nn/model_file.h"

static const char *USAGE = "fer import yunet WEIGHTS.cpp OUT.fer [--source TEXT]";

/* The weights file's first line that holds "Copyright", without the comment marks. */
static void copyright_line(const char *text, size_t len, char *out, size_t n)
{
    snprintf(out, n, "Copyright (c) 2018-2023, Shiqi Yu, all rights reserved.");
    const char *at = memmem(text, len < 4096 ? len : 4096, "Copyright", 9);
    if (!at)
        return;
    size_t k = 0;
    while (at + k < text + len && at[k] != '\n' && at[k] != '\r' && k + 1 < n)
        k++;
    snprintf(out, n, "%.*s", (int)k, at);
}

static void describe(struct fer_meta *m, const char *path, const char *text, size_t len,
                     const char *source, const char *cmdline)
{
    char copyright[256], hex[65];
    uint8_t digest[32];
    fer_sha256 h;
    fer_sha256_init(&h);
    fer_sha256_update(&h, text, len);
    fer_sha256_final(&h, digest);
    fer_sha256_hex(digest, hex);
    copyright_line(text, len, copyright, sizeof(copyright));
    fer_meta_set(m, "task", "detect");
    fer_meta_set(m, "name", "yunet");
    fer_meta_set(m, "detector", "YuNet (libfacedetection): face score, box, 5 landmarks");
    fer_meta_set(m, "heads", FER_YUNET_HEADS);
    fer_meta_set(m, "head_order", "per stride 8,16,32: score,box,objectness,landmarks");
    fer_meta_set(m, "input", "B,G,R 0-255, sides padded with zeros to multiples of 32");
    fer_meta_set(m, "source", source);
    fer_meta_setf(m, "source_sha256", "%s (%s)", hex, path);
    fer_meta_set(m, "license", "3-clause BSD (models/yunet.LICENSE)");
    fer_meta_set(m, "copyright", copyright);
    fer_meta_set(m, "command", cmdline);
}

int fer_cmd_import(int argc, char **argv)
{
    const char *source = "ShiqiYu/libfacedetection, src/facedetectcnn-data.cpp";
    const char *pos[3] = {0};
    struct fer_opt opts[] = {
        {"source", FER_OPT_STR, &source, "where the weights came from (stored in the model)", NULL},
        FER_OPT_END,
    };
    struct fer_args args = {.command = "import",
                            .usage = USAGE,
                            .opts = opts,
                            .positional_name = "format, weights and output",
                            .min_positional = 3,
                            .max_positional = 3,
                            .positional = pos};
    int status = fer_args_read(argc, argv, &args);
    if (status != FER_ARGS_GO)
        return status;
    if (strcmp(pos[0], "yunet") != 0) {
        fprintf(stderr, "fer import: unknown format '%s' (yunet)\n", pos[0]);
        return FER_EXIT_USAGE;
    }
    char err[FER_ERR_LEN], cmdline[1024];
    uint8_t *text = NULL;
    size_t len = 0;
    fer_net *net = NULL;
    struct fer_meta meta = {0};
    fer_cli_command_line(argc, argv, cmdline, sizeof(cmdline));
    enum fer_status st = fer_file_read(pos[1], "weights file", (size_t)64 << 20, &text, &len, err);
    if (st == FER_OK)
        st = fer_yunet_import((const char *)text, len, pos[1], &net, err);
    if (st == FER_OK) {
        describe(&meta, pos[1], (const char *)text, len, source, cmdline);
        st = fer_model_save(pos[2], net, &meta, NULL, err);
    }
    if (st == FER_OK)
        fprintf(stderr, "fer import: %s: YuNet, %zu parameters\n", pos[2],
                fer_net_param_count(net));
    else
        fprintf(stderr, "fer import: %s\n", err);
    fer_free(text);
    fer_net_free(net);
    fer_meta_clear(&meta);
    return st == FER_OK ? FER_EXIT_OK : FER_EXIT_FAIL;
}
