/*
 * args.h - table-driven parsing of `fer <command> --option value ... [args]`.
 *
 * Each command lists its options once, with which of them it needs and how
 * many other arguments it takes; the table gives parsing, the messages for
 * what is missing or malformed, and the --help text:
 *
 *     struct fer_opt opts[] = {{"model", FER_OPT_STR, &model, "model file", NULL}, ...,
 *                              FER_OPT_END};
 *     struct fer_args a = {"eval", USAGE, opts, "model data"};
 *     int status = fer_args_read(argc, argv, &a);
 *     if (status != FER_ARGS_GO)
 *         return status;
 */
#ifndef FER_CLI_ARGS_H
#define FER_CLI_ARGS_H

#include <stddef.h>
#include <stdio.h>

enum fer_opt_type {
    FER_OPT_FLAG,  /* sets int *dst to 1 */
    FER_OPT_INT,   /* int *dst */
    FER_OPT_U64,   /* uint64_t *dst */
    FER_OPT_FLOAT, /* float *dst */
    FER_OPT_STR,   /* const char **dst (borrowed from argv) */
};

struct fer_opt {
    const char *name; /* without the leading "--" */
    enum fer_opt_type type;
    void *dst;
    const char *help;
    int *given; /* optional: set to 1 when the option appears */
};

#define FER_OPT_END                                                                                \
    {                                                                                              \
        NULL, 0, NULL, NULL, NULL                                                                  \
    }
/* The options most commands share. */
#define FER_OPT_THREADS(dst)                                                                       \
    {                                                                                              \
        "threads", FER_OPT_INT, (dst), "worker threads (default: all cores)", NULL                 \
    }
#define FER_OPT_NO_PROGRESS(dst)                                                                   \
    {                                                                                              \
        "no-progress", FER_OPT_FLAG, (dst), "no progress bar", NULL                                \
    }

#define FER_OPT_USAGE(dst)                                                                         \
    {                                                                                              \
        "usage", FER_OPT_STR, (dst),                                                               \
            "rows of a CSV that mixes usages (the original fer2013.csv): Training | PublicTest "   \
            "(default) | PrivateTest | all",                                                       \
            NULL                                                                                   \
    }

struct fer_args {
    const char *command;        /* "eval": names the command in messages */
    const char *usage;          /* the usage line --help and usage errors print */
    const struct fer_opt *opts; /* ends with FER_OPT_END */
    const char *required;       /* space-separated names of options that must be given, or NULL */
    /* arguments that are not options: none unless max_positional > 0 */
    const char *positional_name; /* what they are, for "no ... given" ("images") */
    int min_positional, max_positional;
    const char **positional; /* receives them: max_positional slots */
    int n_positional;        /* how many were given (set by fer_args_read) */
};

/* fer_args_read's answer when the command should go on. */
#define FER_ARGS_GO (-1)

/*
 * Parses argv[2..] (argv[1] is the command) into the table's variables.
 * Returns FER_ARGS_GO, or the exit status the command should return at
 * once: 0 after printing --help, 2 after a usage error (an unknown option, a
 * malformed value, a missing option or argument), whose message names what
 * is wrong and, for what is missing, is followed by the usage.
 */
int fer_args_read(int argc, char **argv, struct fer_args *a);

/* "fer COMMAND: MESSAGE", then the usage and options; returns 2 (FER_EXIT_USAGE). */
int fer_args_fail(const struct fer_args *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void fer_args_usage(FILE *out, const char *usage, const struct fer_opt *opts);

/* A --tta name (none, flip, crops) as an enum fer_tta, or -1 after saying what is wrong. */
int fer_args_tta(const struct fer_args *a, const char *name);

/*
 * A --usage value (NULL when not given) for fer_dataset_pick_usage: an enum
 * fer_usage, FER_USAGE_ALL or FER_USAGE_UNSET; FER_USAGE_UNSET - 1 after
 * saying what is wrong.
 */
int fer_args_usage_choice(const struct fer_args *a, const char *name);

/* The output formats of detect and predict: json 0, jsonl 1, csv 2; -1 after a usage error
   that names the three. */
int fer_args_format(const struct fer_args *a, const char *name);

#endif
