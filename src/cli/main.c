/* main.c - `fer <command> [options]`: dispatch to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "nn/blas.h"
#include "nn/small_gemm.h"

#define FER_VERSION "0.1.0"

/* The command list: on stdout when asked for (fer help), on stderr after a mistake. */
static void usage(FILE *out)
{
    fprintf(
        out,
        "fer " FER_VERSION " - facial emotion recognition\n\n"
        "usage: fer <command> [options]   (fer <command> --help for its options)\n\n"
        "commands:\n"
        "  prepare   split a FER2013 CSV into one file per usage (6 or 7 classes)\n"
        "  train     train a network on FER2013 (checkpoints, resume, logs)\n"
        "  eval      accuracy, per-class precision/recall/F1 and confusion matrix\n"
        "  average   one model from the mean weights of several (with batch-norm recalibration)\n"
        "  calibrate fit a model's temperature so that its probabilities mean what they say\n"
        "  report    figures of how a model behaves: confusion, classes, calibration, mistakes\n"
        "  detect    face boxes in photos (OpenCV cascades), as JSON\n"
        "  predict   the emotion of every face in photos and folders\n"
        "  video     faces tracked and their emotions in videos, webcams and streams, live\n"
        "  serve     the REST API, the web app and the feedback store over HTTP\n"
        "  info      what a model file (or the built-in model) is: metadata, cost, layers\n"
        "  import    a model file from another project's weights (yunet: the face detector)\n"
        "  export    a model as ONNX, for ONNX Runtime and the tools that read it\n"
        "  version   print the version\n");
}

void fer_cli_command_line(int argc, char **argv, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < argc && n + 1 < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? " " : "", argv[i]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return FER_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "prepare") == 0)
        return fer_cmd_prepare(argc, argv);
    if (strcmp(cmd, "train") == 0)
        return fer_cmd_train(argc, argv);
    if (strcmp(cmd, "eval") == 0)
        return fer_cmd_eval(argc, argv);
    if (strcmp(cmd, "report") == 0)
        return fer_cmd_report(argc, argv);
    if (strcmp(cmd, "average") == 0)
        return fer_cmd_average(argc, argv);
    if (strcmp(cmd, "calibrate") == 0)
        return fer_cmd_calibrate(argc, argv);
    if (strcmp(cmd, "detect") == 0)
        return fer_cmd_detect(argc, argv);
    if (strcmp(cmd, "predict") == 0)
        return fer_cmd_predict(argc, argv);
    if (strcmp(cmd, "video") == 0)
        return fer_cmd_video(argc, argv);
    if (strcmp(cmd, "serve") == 0)
        return fer_cmd_serve(argc, argv);
    if (strcmp(cmd, "info") == 0)
        return fer_cmd_info(argc, argv);
    if (strcmp(cmd, "import") == 0)
        return fer_cmd_import(argc, argv);
    if (strcmp(cmd, "export") == 0)
        return fer_cmd_export(argc, argv);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        /* the kernels this CPU gets, chosen at run time: what a speed report needs */
        printf("fer " FER_VERSION "\nkernels: fer %s, OpenBLAS %s\n", fer_small_gemm_kernel(),
               fer_blas_core());
        return FER_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return FER_EXIT_OK;
    }
    fprintf(stderr, "fer: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return FER_EXIT_USAGE;
}
