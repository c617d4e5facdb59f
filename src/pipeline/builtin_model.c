/* builtin_model.c - the table of the models builtin_model_data.S embeds (see builtin_model.h). */
#include "pipeline/builtin_model.h"

#include <stdio.h>
#include <string.h>

extern const uint8_t fer_builtin_fast_start[], fer_builtin_fast_end[];
extern const uint8_t fer_builtin_accurate_start[], fer_builtin_accurate_end[];

/* The default first. */
static const struct builtin_entry {
    const char *name, *file, *use, *report;
    const uint8_t *start, *end;
} builtin[] = {
    {"fast", "models/fer-resnet.fer", "a residual network for photos, the server and video",
     "models/fer-resnet-report", fer_builtin_fast_start, fer_builtin_fast_end},
    {"accurate", "models/fer-accurate.fer",
     "the fast model's network 1.5 times wider, for the best answers", "models/fer-accurate-report",
     fer_builtin_accurate_start, fer_builtin_accurate_end},
};

int fer_builtin_model_count(void)
{
    return (int)(sizeof(builtin) / sizeof(builtin[0]));
}

struct fer_builtin_model fer_builtin_model_at(int i)
{
    struct fer_builtin_model m = {0};
    if (i >= 0 && i < fer_builtin_model_count()) {
        const struct builtin_entry *e = &builtin[i];
        m = (struct fer_builtin_model){e->name,   e->file,  e->use,
                                       e->report, e->start, (size_t)(e->end - e->start)};
    }
    return m;
}

int fer_builtin_model_find(const char *name, struct fer_builtin_model *out)
{
    if (!name || strcmp(name, "builtin") == 0) {
        *out = fer_builtin_model_at(0);
        return 1;
    }
    for (int i = 0; i < fer_builtin_model_count(); i++) {
        *out = fer_builtin_model_at(i);
        if (strcmp(name, out->name) == 0)
            return 1;
    }
    return 0;
}

enum fer_status fer_builtin_or_file_load(const char *model, enum fer_model_kind kind, int max_batch,
                                         fer_net **net, struct fer_meta *meta,
                                         struct fer_checkpoint_extra *extra, char *err)
{
    struct fer_builtin_model b;
    if (!fer_builtin_model_find(model, &b))
        return fer_model_load_as(model, kind, max_batch, net, meta, extra, err);
    char name[64];
    snprintf(name, sizeof(name), "the built-in %s model", b.name);
    return fer_model_load_memory_as(b.bytes, b.len, name, kind, max_batch, net, meta, extra, err);
}

enum fer_status fer_builtin_or_classifier_load(const char *model, int max_batch, fer_net **net,
                                               struct fer_meta *meta,
                                               struct fer_checkpoint_extra *extra, char *err)
{
    return fer_builtin_or_file_load(model, FER_MODEL_CLASSIFIER, max_batch, net, meta, extra, err);
}
