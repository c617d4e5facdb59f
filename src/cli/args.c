/* args.c - option parsing and help text for the fer commands. */
#include "cli/args.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "train/evaluate.h"

/* The most options one command may list. */
#define MAX_OPTS 64

void fer_args_usage(FILE *out, const char *usage, const struct fer_opt *opts)
{
    fprintf(out, "usage: %s\n\noptions:\n", usage);
    for (const struct fer_opt *o = opts; o->name; o++) {
        const char *arg = o->type == FER_OPT_FLAG    ? ""
                          : o->type == FER_OPT_STR   ? " S"
                          : o->type == FER_OPT_FLOAT ? " X"
                                                     : " N";
        char left[64];
        snprintf(left, sizeof(left), "--%s%s", o->name, arg);
        fprintf(out, "  %-24s %s\n", left, o->help);
    }
}

int fer_args_fail(const struct fer_args *a, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fer %s: ", a->command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n\n", stderr);
    fer_args_usage(stderr, a->usage, a->opts);
    return FER_EXIT_USAGE;
}

int fer_args_tta(const struct fer_args *a, const char *name)
{
    int tta = fer_tta_parse(name);
    if (tta < 0)
        fprintf(stderr, "fer %s: --tta must be none, flip or crops, not '%s'\n", a->command, name);
    return tta;
}

int fer_args_format(const struct fer_args *a, const char *name)
{
    static const char *const formats[] = {"json", "jsonl", "csv"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, formats[i]))
            return i;
    fer_args_fail(a, "unknown --format '%s' (json, jsonl or csv)", name);
    return -1;
}

int fer_args_usage_choice(const struct fer_args *a, const char *name)
{
    if (!name)
        return FER_USAGE_UNSET;
    int usage = fer_usage_parse(name);
    if (usage == FER_USAGE_UNSET) {
        fprintf(stderr,
                "fer %s: --usage must be Training, PublicTest, PrivateTest or all, not '%s'\n",
                a->command, name);
        return FER_USAGE_UNSET - 1;
    }
    return usage;
}

static int set_value(const struct fer_opt *o, const char *v)
{
    char *end;
    errno = 0;
    switch (o->type) {
    case FER_OPT_FLAG:
        *(int *)o->dst = 1;
        return 0;
    case FER_OPT_INT: {
        long x = strtol(v, &end, 10);
        if (errno || *end || end == v || x < INT32_MIN || x > INT32_MAX)
            return -1;
        *(int *)o->dst = (int)x;
        return 0;
    }
    case FER_OPT_U64: {
        if (*v == '-')
            return -1;
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || *end || end == v)
            return -1;
        *(uint64_t *)o->dst = (uint64_t)x;
        return 0;
    }
    case FER_OPT_FLOAT: {
        float x = strtof(v, &end);
        if (errno || *end || end == v)
            return -1;
        *(float *)o->dst = x;
        return 0;
    }
    case FER_OPT_STR:
        *(const char **)o->dst = v;
        return 0;
    }
    return -1;
}

/* The index of the option called name[0..len) in the table, or -1. */
static int find_option(const struct fer_opt *opts, const char *name, size_t len)
{
    for (int k = 0; opts[k].name; k++)
        if (strlen(opts[k].name) == len && strncmp(opts[k].name, name, len) == 0)
            return k;
    return -1;
}

/* One argument (and its value, which may be the next one); returns 0, or -1 after a message. */
static int read_one(int argc, char **argv, int *i, struct fer_args *a, int *seen)
{
    const char *arg = argv[*i];
    if (strncmp(arg, "--", 2) != 0 || arg[2] == 0) {
        if (a->n_positional == a->max_positional) {
            fprintf(stderr, "fer %s: unexpected argument '%s' (see fer %s --help)\n", a->command,
                    arg, a->command);
            return -1;
        }
        a->positional[a->n_positional++] = arg;
        return 0;
    }
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    int k = find_option(a->opts, name, len);
    if (k < 0) {
        fprintf(stderr, "fer %s: unknown option '--%.*s' (see fer %s --help)\n", a->command,
                (int)len, name, a->command);
        return -1;
    }
    const struct fer_opt *o = &a->opts[k];
    const char *value = NULL;
    if (o->type != FER_OPT_FLAG) {
        if (eq)
            value = eq + 1;
        else if (*i + 1 < argc)
            value = argv[++*i];
        else {
            fprintf(stderr, "fer %s: option --%s needs a value\n", a->command, o->name);
            return -1;
        }
    } else if (eq) {
        fprintf(stderr, "fer %s: option --%s takes no value\n", a->command, o->name);
        return -1;
    }
    if (set_value(o, value) != 0) {
        fprintf(stderr, "fer %s: invalid value '%s' for --%s\n", a->command, value, o->name);
        return -1;
    }
    if (o->given)
        *o->given = 1;
    seen[k] = 1; /* k < MAX_OPTS: fer_args_read checked the table's length */
    return 0;
}

/*
 * Lists the required options not seen as "--a, --b and --c" in buf and
 * returns how many; -1 when the list names an option the table lacks.
 */
static int missing_options(const struct fer_args *a, const int *seen, char *buf, size_t size)
{
    char missing[MAX_OPTS][40];
    int n = 0;
    for (const char *at = a->required; at && *at; at += strspn(at, " ")) {
        size_t len = strcspn(at, " ");
        int k = find_option(a->opts, at, len);
        if (k < 0)
            return -1;
        if (!seen[k])
            snprintf(missing[n++], sizeof(missing[0]), "--%.*s", (int)len, at);
        at += len;
    }
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s%s",
                 i == 0       ? ""
                 : i == n - 1 ? " and "
                              : ", ",
                 missing[i]);
    }
    return n;
}

int fer_args_read(int argc, char **argv, struct fer_args *a)
{
    int seen[MAX_OPTS] = {0}, n_opts = 0;
    while (a->opts[n_opts].name)
        n_opts++;
    /* a table too long or a required name it lacks is a bug in the command, not in its use */
    if (n_opts > MAX_OPTS) {
        fprintf(stderr, "fer %s: %d options, more than the parser's %d\n", a->command, n_opts,
                MAX_OPTS);
        return FER_EXIT_FAIL;
    }
    a->n_positional = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fer_args_usage(stdout, a->usage, a->opts); /* asked for: `| grep` finds it */
            return FER_EXIT_OK;
        }
        if (read_one(argc, argv, &i, a, seen) != 0)
            return FER_EXIT_USAGE;
    }
    char list[512];
    int n = missing_options(a, seen, list, sizeof(list));
    if (n < 0) {
        fprintf(stderr, "fer %s: the required options '%s' are not all in its table\n", a->command,
                a->required);
        return FER_EXIT_FAIL;
    }
    if (n > 0)
        return fer_args_fail(a, "%s %s needed", list, n == 1 ? "is" : "are");
    if (a->n_positional < a->min_positional)
        return fer_args_fail(a, "no %s given",
                             a->positional_name ? a->positional_name : "arguments");
    return FER_ARGS_GO;
}
