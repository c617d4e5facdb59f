/*
 * cmd_info.c - `fer info [MODEL]`: what a model file (or a built-in model)
 * is: its metadata (classes, input, data and their hashes, labels, accuracy,
 * the command that trained it), size and cost, its layers, and for a
 * checkpoint where its run stands. Without MODEL: the default built-in model
 * and the list of all of them.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "nn/model_file.h"
#include "pipeline/builtin_model.h"

static const char *USAGE =
    "fer info [--json] [--layers] [MODEL]  (MODEL: a .fer file or a built-in "
    "model's name; none: the default, and the list of built-in models)";

/* What one forward pass costs: per face for a classifier, per 640x480 image for a detector
 * (whose cost grows with the image); the key it is written under. */
static double mflop(const fer_net *net, const struct fer_meta *meta, const char **key)
{
    *key = "mflop_per_face";
    if (!fer_meta_is_detector(meta))
        return fer_net_flops(net) / 1e6;
    *key = "mflop_per_640x480";
    char err[FER_ERR_LEN];
    fer_net *big = NULL;
    double f = fer_net_resized(net, 640, 480, &big, err) == FER_OK ? fer_net_flops(big) / 1e6 : 0;
    fer_net_free(big);
    return f;
}

static void print_text(const char *name, fer_net *net, const struct fer_meta *meta,
                       const struct fer_meta *trainer, int layers)
{
    const char *key;
    double cost = mflop(net, meta, &key);
    printf("model: %s\n", name);
    printf("parameters: %zu\n", fer_net_param_count(net));
    printf("%s: %.1f\n", key, cost);
    for (int i = 0; i < meta->n; i++)
        printf("%s: %s\n", meta->key[i], meta->value[i]);
    if (trainer->n) {
        printf("\ncheckpoint (training state):\n");
        for (int i = 0; i < trainer->n; i++)
            printf("  %s: %s\n", trainer->key[i], trainer->value[i]);
    }
    if (layers) {
        char *d = fer_net_describe(net);
        if (d)
            printf("\nlayers:\n%s", d);
        free(d);
    }
}

/* A metadata value as JSON: a number when it is written as one ("40", "0.703260", "1e-05"),
   else the string. Model files store text; readers of --json want numbers as numbers. */
static json_t *meta_value(const char *v)
{
    size_t n = strlen(v), i = v[0] == '-';
    size_t digits = strspn(v + i, "0123456789");
    int integer = digits > 0 && i + digits == n;
    char *end = NULL;
    errno = 0;
    double x = digits > 0 && n <= 24 ? strtod(v, &end) : 0;
    int number = end && *end == '\0' && !errno && isfinite(x) && strspn(v, "-+.0123456789eE") == n;
    if (integer && n <= 18)
        return json_integer((json_int_t)strtoll(v, NULL, 10));
    return number && !integer ? json_real(x) : json_string(v);
}

static json_t *meta_object(const struct fer_meta *meta)
{
    json_t *o = json_object();
    for (int i = 0; i < meta->n; i++)
        json_object_set_new(o, meta->key[i], meta_value(meta->value[i]));
    return o;
}

/* One line per built-in model for the listing: its name, whether it is the default, its
 * size, cost and accuracy as its file records them, and its use; NULL entries where its bytes
 * do not load (they always do: the tests check). */
struct builtin_summary {
    struct fer_builtin_model model;
    size_t parameters;
    double mflop;
    const char *accuracy; /* meta val_accuracy, or NULL */
    struct fer_meta meta;
};

static int summarise_builtin(int i, struct builtin_summary *b)
{
    char err[FER_ERR_LEN];
    fer_net *net = NULL;
    memset(b, 0, sizeof(*b));
    b->model = fer_builtin_model_at(i);
    if (fer_model_load_memory(b->model.bytes, b->model.len, b->model.name, 1, &net, &b->meta, NULL,
                              err) != FER_OK)
        return 0;
    b->parameters = fer_net_param_count(net);
    b->mflop = fer_net_flops(net) / 1e6;
    b->accuracy = fer_meta_get(&b->meta, "val_accuracy");
    fer_net_free(net);
    return 1;
}

static void print_builtin_list_text(void)
{
    printf("\nbuilt-in models (--model NAME):\n");
    for (int i = 0; i < fer_builtin_model_count(); i++) {
        struct builtin_summary b;
        if (!summarise_builtin(i, &b))
            continue;
        char accuracy[32] = "";
        if (b.accuracy)
            snprintf(accuracy, sizeof(accuracy), ", %.2f%% on PublicTest", 100 * atof(b.accuracy));
        printf("  %-9s %s%s: %zu parameters, %.1f MFLOP a face%s (%s)\n", b.model.name,
               i == 0 ? "(the default) " : "", b.model.use, b.parameters, b.mflop, accuracy,
               b.model.file);
        fer_meta_clear(&b.meta);
    }
}

static json_t *builtin_list_json(void)
{
    json_t *list = json_array();
    for (int i = 0; i < fer_builtin_model_count(); i++) {
        struct builtin_summary b;
        if (!summarise_builtin(i, &b))
            continue;
        json_array_append_new(
            list, json_pack("{s:s, s:b, s:s, s:s, s:I, s:f, s:o}", "name", b.model.name, "default",
                            i == 0, "file", b.model.file, "use", b.model.use, "parameters",
                            (json_int_t)b.parameters, "mflop_per_face", round(b.mflop * 10) / 10,
                            "val_accuracy", b.accuracy ? meta_value(b.accuracy) : json_null()));
        fer_meta_clear(&b.meta);
    }
    return list;
}

static int print_json(const char *name, fer_net *net, const struct fer_meta *meta,
                      const struct fer_meta *trainer, int layers, int list_builtin)
{
    json_t *root = json_object();
    json_object_set_new(root, "model", json_string(name));
    json_object_set_new(root, "parameters", json_integer((json_int_t)fer_net_param_count(net)));
    const char *key;
    double cost = mflop(net, meta, &key);
    json_object_set_new(root, key, json_real(round(cost * 10) / 10));
    json_object_set_new(root, "meta", meta_object(meta));
    if (trainer->n)
        json_object_set_new(root, "checkpoint", meta_object(trainer));
    if (layers) {
        char *d = fer_net_describe(net);
        json_object_set_new(root, "layers", d ? json_string(d) : json_null());
        free(d);
    }
    if (list_builtin)
        json_object_set_new(root, "builtin_models", builtin_list_json());
    /* 10 significant digits: the normalisation's mean and std are stored with 9 */
    const size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10);
    int rc = json_dumpf(root, stdout, flags) == 0 ? FER_EXIT_OK : FER_EXIT_FAIL;
    putchar('\n');
    json_decref(root);
    return rc;
}

int fer_cmd_info(int argc, char **argv)
{
    int json = 0, layers = 0;
    struct fer_opt opts[] = {
        {"json", FER_OPT_FLAG, &json, "print JSON", NULL},
        {"layers", FER_OPT_FLAG, &layers, "also list the layers", NULL},
        FER_OPT_END,
    };
    const char *pos[1];
    struct fer_args args = {.command = "info",
                            .usage = USAGE,
                            .opts = opts,
                            .positional_name = "model",
                            .max_positional = 1,
                            .positional = pos};
    int status = fer_args_read(argc, argv, &args);
    if (status != FER_ARGS_GO)
        return status;
    const int n = args.n_positional;

    char err[FER_ERR_LEN];
    fer_net *net = NULL;
    struct fer_meta meta = {0}, trainer = {0};
    struct fer_checkpoint_extra extra = {&trainer, NULL, 0};
    struct fer_builtin_model builtin;
    const int is_builtin = fer_builtin_model_find(n ? pos[0] : NULL, &builtin);
    char name[128];
    snprintf(name, sizeof(name), "%s", n ? pos[0] : "");
    if (is_builtin)
        snprintf(name, sizeof(name), "%s (built in%s)", builtin.name,
                 builtin.bytes == fer_builtin_model_at(0).bytes ? ", the default" : "");
    enum fer_status st =
        fer_builtin_or_file_load(n ? pos[0] : NULL, FER_MODEL_ANY, 1, &net, &meta, &extra, err);
    free(extra.optim);
    if (st != FER_OK) {
        fprintf(stderr, "fer info: %s\n", err);
        fer_meta_clear(&meta);
        fer_meta_clear(&trainer);
        return FER_EXIT_FAIL;
    }
    int rc = FER_EXIT_OK;
    if (json) {
        rc = print_json(name, net, &meta, &trainer, layers, !n);
    } else {
        print_text(name, net, &meta, &trainer, layers);
        if (!n)
            print_builtin_list_text();
    }
    fer_net_free(net);
    fer_meta_clear(&meta);
    fer_meta_clear(&trainer);
    return rc;
}
