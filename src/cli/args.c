/* args.c - option parsing and help text for the fer commands. */
#include "cli/args.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fer_args_usage(const char *usage, const struct fer_opt *opts)
{
    fprintf(stderr, "usage: %s\n\noptions:\n", usage);
    for (const struct fer_opt *o = opts; o->name; o++) {
        const char *arg = o->type == FER_OPT_FLAG    ? ""
                          : o->type == FER_OPT_STR   ? " S"
                          : o->type == FER_OPT_FLOAT ? " X"
                                                     : " N";
        char left[64];
        snprintf(left, sizeof(left), "--%s%s", o->name, arg);
        fprintf(stderr, "  %-24s %s\n", left, o->help);
    }
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

int fer_args_parse(int argc, char **argv, int first, const struct fer_opt *opts,
                   const char **positional, int max_positional, int *n_positional,
                   const char *usage)
{
    *n_positional = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fer_args_usage(usage, opts);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == 0) {
            if (*n_positional == max_positional) {
                fprintf(stderr, "fer: unexpected argument '%s'\n", a);
                return -1;
            }
            positional[(*n_positional)++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct fer_opt *o = opts;
        for (; o->name; o++)
            if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
                break;
        if (!o->name) {
            fprintf(stderr, "fer: unknown option '--%.*s' (see --help)\n", (int)len, name);
            return -1;
        }
        const char *value = NULL;
        if (o->type != FER_OPT_FLAG) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else {
                fprintf(stderr, "fer: option --%s needs a value\n", o->name);
                return -1;
            }
        } else if (eq) {
            fprintf(stderr, "fer: option --%s takes no value\n", o->name);
            return -1;
        }
        if (set_value(o, value) != 0) {
            fprintf(stderr, "fer: invalid value '%s' for --%s\n", value, o->name);
            return -1;
        }
        if (o->given)
            *o->given = 1;
    }
    return 0;
}
