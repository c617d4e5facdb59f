/*
 * store.h - the feedback store: the faces the predictor saw, and the labels users gave them.
 *
 * One interface, two backends, chosen by the URL given to fer_store_open:
 *
 *     data/fer.db, sqlite:///abs/fer.db, sqlite:rel/fer.db   SQLite, embedded (the default)
 *     postgresql://user@host:5432/db, postgres://...         PostgreSQL through libpq, so that
 *                                                            several servers share one store
 *
 * A plain path has no "scheme:" in front (write ./a:b.db for a file whose name holds a colon);
 * any other scheme ("mysql://x") is an error. SQLite paths are taken literally (no file: URIs).
 *
 * Data. Two tables:
 *   faces     one row per face the predictor classified: face_id (32 lowercase hex digits, a
 *             random 128-bit id made by the caller or the store), created (unix seconds),
 *             model_version, classes (comma list), probabilities, the 48x48 grayscale crop and
 *             the face's box in the photo.
 *   feedback  one row per correction: id (increasing), created, face_id (or none), label (a class
 *             name, or FER_STORE_NOT_A_FACE for a negative), the crop, and the probabilities,
 *             classes and model_version of the prediction it corrects. Given a face id, the store
 *             copies crop, probabilities, classes and model version from the face row in the same
 *             statement, so the feedback outlives the face (fer_store_prune_faces never deletes a
 *             face that has feedback).
 * Negatives: a user who says a detection is no face at all gives the label "not_a_face"
 * (FER_STORE_NOT_A_FACE). Such rows live in the feedback table like any other, as the label
 * column holds any name, so they took no schema change and an older fer opening the store
 * still works (its FER2013 export skips them as an unknown label). fer_store_export_fer2013
 * leaves them out; fer_store_export_negatives writes them, and only them.
 * Probabilities are stored as text, a JSON array such as [0.0125,0.87,...], each value written
 * with "%.9g", which gives back the same float32 exactly, and readable in sqlite3 or psql. The
 * C library's LC_NUMERIC must be "C" (the default; fer never calls setlocale).
 *
 * Durability: no acknowledged feedback is lost when the process is killed. SQLite runs in WAL
 * mode; a face is committed with synchronous=NORMAL (it survives kill -9 of the process, though
 * a power failure may lose the last few, which only makes later feedback on them fail cleanly
 * as "no face with id"), and a feedback row with synchronous=FULL (the WAL is fsynced before
 * fer_store_add_feedback returns, so it survives power loss too). PostgreSQL commits each call
 * before it returns; what a commit survives is the server's configuration (fsync,
 * synchronous_commit).
 *
 * Schema: versioned (SQLite: PRAGMA user_version; PostgreSQL: table schema_version) and
 * migrated on open by an ordered list of SQL steps applied in one transaction. A database made
 * by a newer fer (a higher version than this code knows) is refused with FER_ERR_VERSION.
 *
 * Ownership: the store copies all it is given; the records below are plain values with
 * fixed-size arrays, so nothing returned needs freeing. fer_store_open's caller owns the store
 * and frees it with fer_store_close.
 *
 * Thread safety: every function may be called on one store from many threads at once, except
 * fer_store_close, which must be the last call. Each store holds one database connection behind
 * a mutex, so calls are serialised (SQLite serialises writers anyway; open several stores for
 * parallel PostgreSQL reads). A lost PostgreSQL connection (server restart) is noticed before
 * the next call and reconnected once; a call whose connection drops mid-statement fails with
 * FER_ERR_IO and is not retried, as it might have committed. After fork() a child must open its
 * own store. All SQL uses bound parameters.
 *
 * Errors: every function returns FER_OK or a negative status and writes a message naming the
 * backend and what failed into err (FER_ERR_LEN bytes, may be NULL). Passwords in URLs never
 * appear in messages.
 */
#ifndef FER_STORAGE_STORE_H
#define FER_STORAGE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

#define FER_STORE_ID_LEN 32 /* hex digits of a face id */
/* a crop is the face contract's FER_FACE_SIDE x FER_FACE_SIDE (fer.h), up to FER_MAX_CLASSES */
#define FER_STORE_CROP_BYTES  (FER_FACE_SIDE * FER_FACE_SIDE)
#define FER_STORE_VERSION_LEN 64  /* model_version buffer, with the NUL */
#define FER_STORE_CLASSES_LEN 256 /* classes buffer, with the NUL */
#define FER_STORE_LABEL_LEN   32  /* label buffer, with the NUL */
#define FER_STORE_KEY_LEN     65  /* request key buffer: up to 64 characters, with the NUL */
/* The label of a negative: the detector boxed something that is not a face (see top). */
#define FER_STORE_NOT_A_FACE "not_a_face"

typedef struct fer_store fer_store;

enum fer_store_kind {
    FER_STORE_SQLITE = 1,
    FER_STORE_POSTGRESQL = 2,
};

/* A face the predictor saw. */
struct fer_face_record {
    char
        face_id[FER_STORE_ID_LEN + 1]; /* 32 lowercase hex digits; "" on add: the store makes one */
    double created;                    /* unix seconds; 0 on add: now */
    char model_version[FER_STORE_VERSION_LEN];
    char classes[FER_STORE_CLASSES_LEN];      /* "angry,disgust,...": n_probs names */
    int n_probs;                              /* 1..FER_MAX_CLASSES */
    float probs[FER_MAX_CLASSES];             /* probs[i] belongs to the i-th class name */
    unsigned char crop[FER_STORE_CROP_BYTES]; /* 48x48 grayscale, row-major */
    int box_x, box_y, box_w, box_h;           /* in the photo's pixels; w, h >= 0 */
};

/* A label a user gave a face. */
struct fer_feedback_record {
    int64_t id;                         /* set by the store */
    double created;                     /* 0 on add: now */
    char face_id[FER_STORE_ID_LEN + 1]; /* "" when the crop came without a face id */
    char label[FER_STORE_LABEL_LEN];    /* a class name or FER_STORE_NOT_A_FACE, validated by
                                           the caller */
    /*
     * With a face id these are copied from the face and ignored on add; without one, crop is
     * required and the rest optional ("" and n_probs 0 when unknown).
     */
    char model_version[FER_STORE_VERSION_LEN];
    char classes[FER_STORE_CLASSES_LEN];
    int n_probs;
    float probs[FER_MAX_CLASSES];
    unsigned char crop[FER_STORE_CROP_BYTES];
    /*
     * The client's key for this feedback (HTTP Idempotency-Key), "" for none: 1 to 64 of
     * A-Z a-z 0-9 and "-_.:". A second add with the same key stores nothing and gives the
     * first one's id, so a client may send again what got no answer. Not read back.
     */
    char request_key[FER_STORE_KEY_LEN];
};

/*
 * Opens (creating and migrating when needed) the store at url; see the top of this file for
 * the forms. On success *out is the caller's, to free with fer_store_close.
 * FER_ERR_ARG: bad or unsupported URL; FER_ERR_IO: cannot open or connect; FER_ERR_VERSION:
 * the schema is newer than this code; FER_ERR_CORRUPT: not a database; FER_ERR_NOMEM.
 */
enum fer_status fer_store_open(const char *url, fer_store **out, char *err);

/* Closes the connection and frees the store. NULL is a no-op. */
void fer_store_close(fer_store *store);

enum fer_store_kind fer_store_kind(const fer_store *store);

/*
 * A description for logs, such as "sqlite data/fer.db" or "postgresql fer@127.0.0.1:5432/fer"
 * (no password); borrowed, valid until fer_store_close.
 */
const char *fer_store_name(const fer_store *store);

/* Writes a new random face id (32 lowercase hex digits and a NUL) into out. */
enum fer_status fer_store_new_face_id(char out[FER_STORE_ID_LEN + 1], char *err);

/*
 * Adds a face. An empty face->face_id is replaced by a new random id, and created 0 by the
 * current time, in *face, so the caller learns them. FER_ERR_ARG for a malformed field or an
 * id that is already stored.
 */
enum fer_status fer_store_add_face(fer_store *store, struct fer_face_record *face, char *err);

/* Looks a face up: FER_OK with *found 1 and *out filled, or FER_OK with *found 0. */
enum fer_status fer_store_get_face(fer_store *store, const char *face_id,
                                   struct fer_face_record *out, int *found, char *err);

/*
 * Adds feedback, durably (see top). With fb->face_id set, crop, probabilities, classes and
 * model version come from that face, in one statement; an unknown id is FER_ERR_ARG
 * ("no face with id ..."). Without one, fb->crop is stored as given. created 0 means now.
 * *id (may be NULL) receives the new row's id. With fb->request_key set and a row with that
 * key already stored (by this process or another on the same database), nothing is added:
 * *id receives that row's id when it has the same face id and label, and FER_ERR_STATE
 * ("... was used for another feedback") when it does not. A malformed key is FER_ERR_ARG.
 */
/* FER_OK when key is a valid request key (see request_key above), else FER_ERR_ARG saying why. */
enum fer_status fer_store_check_request_key(const char *key, char *err);

enum fer_status fer_store_add_feedback(fer_store *store, const struct fer_feedback_record *fb,
                                       int64_t *id, char *err);
/* fer_store_add_feedback, and *replayed (may be NULL) 1 when fb->request_key named a row
 * already stored, so that nothing was added and *id is that row's. */
enum fer_status fer_store_add_feedback_keyed(fer_store *store, const struct fer_feedback_record *fb,
                                             int64_t *id, int *replayed, char *err);

enum fer_status fer_store_count_feedback(fer_store *store, int64_t *n, char *err);
enum fer_status fer_store_count_faces(fer_store *store, int64_t *n, char *err);

/*
 * Calls fn on every feedback row in increasing id order. Rows are read in pages, and fn runs
 * without the store's lock held, so it may call the store (rows added meanwhile may or may not
 * be seen). The record is borrowed for the call. A status other than FER_OK from fn stops the
 * walk and is returned as is (fn writes its message into the err it is given).
 */
typedef enum fer_status (*fer_feedback_fn)(const struct fer_feedback_record *fb, void *arg,
                                           char *err);
enum fer_status fer_store_each_feedback(fer_store *store, fer_feedback_fn fn, void *arg, char *err);

/*
 * Writes all feedback to out as FER2013 CSV: the header "emotion,pixels,Usage", then one row
 * per feedback "<id>,<2304 space-separated pixels>,Training" in id order. names7[i] is the
 * class name of FER2013 label i (NULL: fer_class_names(7), core/classes.h). Negatives
 * (FER_STORE_NOT_A_FACE) are left out and not counted; a row whose label is none of names7 is
 * skipped and counted in *skipped. *rows and *skipped may be NULL. FER_ERR_IO when a write
 * fails; out is flushed, not closed.
 */
enum fer_status fer_store_export_fer2013(fer_store *store, FILE *out, const char *const names7[7],
                                         size_t *rows, size_t *skipped, char *err);

/*
 * Writes the negatives (label FER_STORE_NOT_A_FACE), and only them, to out as CSV: the header
 * "id,created,face_id,model_version,pixels", then one row per negative in id order: the
 * feedback id, its unix time (3 decimals), the face id ("" for a crop sent without one), the
 * model version ("" when unknown; quoted when it holds a comma or a quote) and the crop as
 * 2304 space-separated gray values, as in FER2013. *rows (may be NULL) receives how many.
 * FER_ERR_IO when a write fails; out is flushed, not closed.
 */
enum fer_status fer_store_export_negatives(fer_store *store, FILE *out, size_t *rows, char *err);

/*
 * Writes every feedback row, negatives too, to out as CSV: the header
 * "id,created,face_id,model_version,emotion,pixels", then one row per feedback in id order,
 * the fields as in fer_store_export_negatives with the label (an emotion or "not_a_face")
 * before the pixels. The complete table, for audits and for checking that several servers on
 * one database stored each acknowledged row once. *rows (may be NULL) receives how many.
 */
enum fer_status fer_store_export_all(fer_store *store, FILE *out, size_t *rows, char *err);

/*
 * Deletes the faces created more than older_than seconds ago that have no feedback. *deleted
 * (may be NULL) receives how many.
 */
enum fer_status fer_store_prune_faces(fer_store *store, double older_than, int64_t *deleted,
                                      char *err);

#endif
