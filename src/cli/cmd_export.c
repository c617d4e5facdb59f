/*
 * cmd_export.c - `fer export --format onnx MODEL OUT.onnx`: a model file (a classifier or the
 * face detector; a built-in model by its name) written as ONNX, for ONNX Runtime and the
 * other tools that read it (nn/onnx.h says what the graph takes and gives).
 */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "nn/model_file.h"
#include "nn/onnx.h"
#include "pipeline/builtin_model.h"

static const char *USAGE = "fer export --format onnx MODEL OUT.onnx  (MODEL: a .fer file, or a "
                           "built-in model: fast, accurate; builtin for the default)";

int fer_cmd_export(int argc, char **argv)
{
    const char *format = "onnx";
    struct fer_opt opts[] = {
        {"format", FER_OPT_STR, &format, "what to write: onnx (the only one for now)", NULL},
        FER_OPT_END,
    };
    const char *pos[2];
    struct fer_args args = {.command = "export",
                            .usage = USAGE,
                            .opts = opts,
                            .positional_name = "model and output file",
                            .min_positional = 2,
                            .max_positional = 2,
                            .positional = pos};
    int status = fer_args_read(argc, argv, &args);
    if (status != FER_ARGS_GO)
        return status;
    if (strcmp(format, "onnx") != 0) {
        fprintf(stderr, "fer export: --format %s: the format must be onnx\n", format);
        return FER_EXIT_USAGE;
    }
    char err[FER_ERR_LEN];
    fer_net *net = NULL;
    struct fer_meta meta = {0};
    struct fer_builtin_model builtin;
    const int is_builtin = fer_builtin_model_find(pos[0], &builtin);
    char source[64];
    snprintf(source, sizeof(source), "built-in %s", is_builtin ? builtin.name : "");
    enum fer_status st = fer_builtin_or_file_load(pos[0], FER_MODEL_ANY, 1, &net, &meta, NULL, err);
    if (st == FER_OK)
        st = fer_onnx_export(net, &meta, is_builtin ? source : pos[0], pos[1], err);
    if (st == FER_OK)
        fprintf(stderr, "fer export: wrote %s (%s, %zu parameters)\n", pos[1],
                fer_net_classes(net) ? "classifier" : "detector", fer_net_param_count(net));
    else
        fprintf(stderr, "fer export: %s\n", err);
    fer_net_free(net);
    fer_meta_clear(&meta);
    return st == FER_OK ? FER_EXIT_OK : FER_EXIT_FAIL;
}
