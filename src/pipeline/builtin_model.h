/*
 * builtin_model.h - the emotion models built into fer (builtin_model_data.S embeds their files),
 * by the names --model, the REST API, the library and Python take for them.
 */
#ifndef FER_PIPELINE_BUILTIN_MODEL_H
#define FER_PIPELINE_BUILTIN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "nn/model_file.h"

struct fer_builtin_model {
    const char *name;   /* "fast" */
    const char *file;   /* the file it was built from: "models/fer-resnet.fer" */
    const char *use;    /* what it is for, one line */
    const char *report; /* its `fer report` folder in the repository: "models/fer-resnet-report" */
    const uint8_t *bytes;
    size_t len;
};

/* How many models are built in, and the i-th (0 is the default). */
int fer_builtin_model_count(void);
struct fer_builtin_model fer_builtin_model_at(int i);

/*
 * The built-in model `name` names into *out, and 1; 0 when it names none, which makes it a
 * file's path. NULL and "builtin" name the default. A file with one of these names is read as
 * ./NAME.
 */
int fer_builtin_model_find(const char *name, struct fer_builtin_model *out);

/* Loads `model`, a built-in model's name or a file, as fer_model_load_as does. */
enum fer_status fer_builtin_or_file_load(const char *model, enum fer_model_kind kind, int max_batch,
                                         fer_net **net, struct fer_meta *meta,
                                         struct fer_checkpoint_extra *extra, char *err);

/* The same for a classifier, with fer_model_load's signature: the loader (fer_model_loader)
 * that lets a command's model lists name the built-in models (`fer eval --model accurate`,
 * `fer average accurate ...`). */
enum fer_status fer_builtin_or_classifier_load(const char *model, int max_batch, fer_net **net,
                                               struct fer_meta *meta,
                                               struct fer_checkpoint_extra *extra, char *err);

#endif
