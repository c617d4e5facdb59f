/*
 * args.h - table-driven parsing of `fer <command> --option value ...`.
 *
 * Each command lists its options once; the table gives parsing, validation
 * messages and the --help text.
 */
#ifndef FER_CLI_ARGS_H
#define FER_CLI_ARGS_H

#include <stddef.h>

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

/*
 * Parses argv[first..argc) against opts (terminated by a {NULL} entry).
 * Non-option arguments are collected into positional (up to max_positional).
 * Returns 0 on success, 1 when --help was asked, -1 on error (message printed).
 */
int fer_args_parse(int argc, char **argv, int first, const struct fer_opt *opts,
                   const char **positional, int max_positional, int *n_positional,
                   const char *usage);

void fer_args_usage(const char *usage, const struct fer_opt *opts);

#endif
