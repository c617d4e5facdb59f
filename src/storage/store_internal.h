/*
 * store_internal.h - what store.c shares with the backends (sqlite_store.c, pg_store.c).
 *
 * A backend allocates its own struct with struct fer_store first, fills in ops, kind and name,
 * and returns it from its open function. store.c validates arguments, fills defaults (new ids,
 * times), takes the store's mutex around every ops call and turns pages of rows into the
 * fer_store_each_feedback walk, so backend functions run one at a time and never lock.
 */
#ifndef FER_STORAGE_STORE_INTERNAL_H
#define FER_STORAGE_STORE_INTERNAL_H

#include <pthread.h>

#include "storage/store.h"

#define FER_STORE_NAME_LEN  320 /* fer_store_name buffer; longer paths are cut for display */
#define FER_STORE_PROBS_LEN 512 /* probabilities as JSON text, with the NUL */

enum fer_store_table {
    FER_STORE_FACES,
    FER_STORE_FEEDBACK,
};

/* One step of a backend's schema: the SQL that takes a database from version - 1 to version. */
struct fer_migration {
    int version;
    const char *sql;
};

struct fer_store_ops {
    void (*close)(fer_store *s); /* closes the connection and frees s */
    /* face is complete (id, time set; fields checked); probs is its probabilities as text. */
    enum fer_status (*add_face)(fer_store *s, const struct fer_face_record *face, const char *probs,
                                char *err);
    enum fer_status (*get_face)(fer_store *s, const char *face_id, struct fer_face_record *out,
                                int *found, char *err);
    /*
     * probs: fb's probabilities as text, or NULL when fb has none (or a face id). *id: the new
     * row's id, or 0 when nothing was added (no such face, or fb->request_key already used).
     */
    enum fer_status (*add_feedback)(fer_store *s, const struct fer_feedback_record *fb,
                                    const char *probs, int64_t *id, char *err);
    /* The row stored with request_key: *found, and its id, face id ("" for none) and label. */
    enum fer_status (*find_request)(fer_store *s, const char *request_key, int *found,
                                    struct fer_feedback_record *out, char *err);
    enum fer_status (*count)(fer_store *s, enum fer_store_table table, int64_t *n, char *err);
    /* Up to max feedback rows with id > after, in id order, into out[0..*n). */
    enum fer_status (*list_feedback)(fer_store *s, int64_t after, struct fer_feedback_record *out,
                                     size_t max, size_t *n, char *err);
    /* Deletes faces with created < cutoff and no feedback. */
    enum fer_status (*prune_faces)(fer_store *s, double cutoff, int64_t *deleted, char *err);
};

struct fer_store {
    const struct fer_store_ops *ops;
    enum fer_store_kind kind;
    char name[FER_STORE_NAME_LEN]; /* "sqlite PATH", "postgresql USER@HOST:PORT/DB" */
    pthread_mutex_t lock;          /* initialised by store.c after the backend's open */
};

/* Backends: open (creating and migrating) and return a store whose lock is not yet set up. */
enum fer_status fer_sqlite_store_open(const char *path, fer_store **out, char *err);
enum fer_status fer_pg_store_open(const char *url, fer_store **out, char *err);

/* Current time in unix seconds. */
double fer_store_now(void);

/* Writes probs[0..n) as a JSON array ("%.9g" each) into buf (FER_STORE_PROBS_LEN bytes). */
void fer_store_probs_format(const float *probs, int n, char *buf);

/*
 * Parses a JSON array of at most FER_MAX_CLASSES numbers into probs and *n;
 * FER_ERR_CORRUPT naming where (e.g. "sqlite data/fer.db: face 3f..") when malformed.
 */
enum fer_status fer_store_probs_parse(const char *text, float *probs, int *n, const char *where,
                                      char *err);

/*
 * Copies len bytes of text read from the database into dst (cap bytes with the NUL);
 * FER_ERR_CORRUPT naming where and what when it does not fit or holds a NUL.
 */
enum fer_status fer_store_copy_text(char *dst, size_t cap, const char *src, size_t len,
                                    const char *where, const char *what, char *err);

#endif
