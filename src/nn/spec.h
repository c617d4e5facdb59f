/*
 * spec.h - the text architecture format (the .cfg files in models/), darknet style:
 *
 *     [net]
 *     width=48
 *     height=48
 *     channels=1
 *
 *     [convolutional]
 *     filters=32
 *     size=3
 *     pad=1
 *     activation=relu
 *
 * A spec is a list of sections, each a type name and key=value pairs, kept in
 * the order written. `#` and `;` start comments. The parser only checks the
 * syntax; fer_net_new checks the meaning (known sections and keys, values).
 */
#ifndef FER_NN_SPEC_H
#define FER_NN_SPEC_H

#include <stddef.h>

#include "core/status.h"

#define FER_SPEC_MAX_SECTIONS 256
#define FER_SPEC_MAX_KEYS     24

struct fer_spec_kv {
    char *key;
    char *value;
    int line;
    int used; /* set by the consumer; unused keys are reported as errors */
};

struct fer_spec_section {
    char *type;
    int line;
    int n_kv;
    struct fer_spec_kv kv[FER_SPEC_MAX_KEYS];
};

typedef struct fer_spec {
    char *text; /* the whole source text, as read (stored in model files) */
    char *name; /* where it came from, for messages */
    int n_sections;
    struct fer_spec_section sections[FER_SPEC_MAX_SECTIONS];
} fer_spec;

/* Parses spec text; `name` labels error messages ("models/seed.cfg:12: ..."). */
enum fer_status fer_spec_parse(const char *text, const char *name, fer_spec **out, char *err);
enum fer_status fer_spec_load(const char *path, fer_spec **out, char *err);
void fer_spec_free(fer_spec *spec);

/* The first section of this type, or NULL. Borrowed from spec. */
struct fer_spec_section *fer_spec_find(fer_spec *spec, const char *type);

/*
 * Typed lookups: return `def` when the key is absent; set *bad (if not
 * already set) and write err when the value does not parse or is out of range.
 */
int fer_spec_int(struct fer_spec_section *s, const char *key, int def, int lo, int hi,
                 const char *name, int *bad, char *err);
float fer_spec_float(struct fer_spec_section *s, const char *key, float def, float lo, float hi,
                     const char *name, int *bad, char *err);
/* Borrowed string value, or def. */
const char *fer_spec_str(struct fer_spec_section *s, const char *key, const char *def);

#endif
