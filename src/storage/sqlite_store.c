/*
 * sqlite_store.c - the SQLite backend of the feedback store.
 *
 * One connection per store (store.c serialises calls with a mutex), in WAL mode with a busy
 * timeout, so other processes (a second server, `fer export`) can use the same file. Faces are
 * committed with synchronous=NORMAL, feedback with synchronous=FULL: both survive kill -9, and
 * feedback survives power loss too (see store.h). The schema version is PRAGMA user_version;
 * each migration step sets it as its last statement, inside the migration's transaction.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "storage/store_internal.h"

#define SQ_BUSY_MS     10000 /* wait this long for another process's write lock */
#define SQ_READ        0     /* for sq_begin: a read, which leaves the synchronous level */
#define SQ_SYNC_NORMAL 1
#define SQ_SYNC_FULL   2

struct sq_store {
    struct fer_store base;
    sqlite3 *db;
    int sync; /* the synchronous level last set */
    char path[FER_STORE_NAME_LEN];
};

static const struct fer_migration sq_migrations[] = {
    {1, "CREATE TABLE faces ("
        " face_id TEXT PRIMARY KEY NOT NULL,"
        " created REAL NOT NULL,"
        " model_version TEXT NOT NULL,"
        " classes TEXT NOT NULL,"
        " probs TEXT NOT NULL," /* JSON array, one number per class */
        " crop BLOB NOT NULL CHECK (length(crop) = 2304),"
        " box_x INTEGER NOT NULL, box_y INTEGER NOT NULL,"
        " box_w INTEGER NOT NULL, box_h INTEGER NOT NULL);"
        "CREATE INDEX faces_created ON faces (created);"
        "CREATE TABLE feedback ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " created REAL NOT NULL,"
        " face_id TEXT REFERENCES faces (face_id),"
        " label TEXT NOT NULL,"
        " model_version TEXT,"
        " classes TEXT,"
        " probs TEXT,"
        " crop BLOB NOT NULL CHECK (length(crop) = 2304));"
        "CREATE INDEX feedback_face_id ON feedback (face_id);"
        "PRAGMA user_version = 1;"},
    /* the client's Idempotency-Key: a feedback sent again is stored once */
    {2, "ALTER TABLE feedback ADD COLUMN request_key TEXT;"
        "CREATE UNIQUE INDEX feedback_request_key ON feedback (request_key);"
        "PRAGMA user_version = 2;"},
};
#define SQ_LATEST (sq_migrations[sizeof(sq_migrations) / sizeof(sq_migrations[0]) - 1].version)

static enum fer_status sq_status(int code)
{
    switch (code & 0xff) {
    case SQLITE_NOMEM:
        return FER_ERR_NOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return FER_ERR_CORRUPT;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
        return FER_ERR_ARG;
    default:
        return FER_ERR_IO;
    }
}

/* "sqlite: <what> <path>: <SQLite's message>", with the status SQLite's error code maps to. */
static enum fer_status sq_fail(struct sq_store *s, const char *what, char *err)
{
    return fer_errorf(err, sq_status(sqlite3_extended_errcode(s->db)), "sqlite: %s %s: %s", what,
                      s->path, sqlite3_errmsg(s->db));
}

static enum fer_status sq_exec(struct sq_store *s, const char *sql, const char *what, char *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return sq_fail(s, what, err);
    return FER_OK;
}

static enum fer_status sq_prepare(struct sq_store *s, const char *sql, sqlite3_stmt **stmt,
                                  const char *what, char *err)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, stmt, NULL) != SQLITE_OK)
        return sq_fail(s, what, err);
    return FER_OK;
}

static enum fer_status sq_set_sync(struct sq_store *s, int level, const char *what, char *err)
{
    if (s->sync == level)
        return FER_OK;
    enum fer_status st =
        sq_exec(s, level == SQ_SYNC_FULL ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                what, err);
    s->sync = st == FER_OK ? level : 0;
    return st;
}

/* Binds text, or NULL for NULL or "". */
static int sq_bind_opt_text(sqlite3_stmt *stmt, int i, const char *text)
{
    if (!text || !*text)
        return sqlite3_bind_null(stmt, i);
    return sqlite3_bind_text(stmt, i, text, -1, SQLITE_STATIC);
}

/* Copies a text column into dst; NULL gives "" when nullable, an error otherwise. */
static enum fer_status sq_col_text(sqlite3_stmt *stmt, int col, char *dst, size_t cap, int nullable,
                                   const char *where, const char *what, char *err)
{
    if (sqlite3_column_type(stmt, col) == SQLITE_NULL) {
        dst[0] = '\0';
        if (nullable)
            return FER_OK;
        return fer_errorf(err, FER_ERR_CORRUPT, "%s: %s is NULL", where, what);
    }
    const unsigned char *t = sqlite3_column_text(stmt, col);
    if (!t)
        return fer_errorf(err, FER_ERR_NOMEM, "%s: out of memory reading %s", where, what);
    return fer_store_copy_text(dst, cap, (const char *)t, (size_t)sqlite3_column_bytes(stmt, col),
                               where, what, err);
}

static enum fer_status sq_col_crop(sqlite3_stmt *stmt, int col, unsigned char *crop,
                                   const char *where, char *err)
{
    const void *b = sqlite3_column_blob(stmt, col);
    int n = sqlite3_column_bytes(stmt, col);
    if (!b || sqlite3_column_type(stmt, col) != SQLITE_BLOB || n != FER_STORE_CROP_BYTES)
        return fer_errorf(err, FER_ERR_CORRUPT, "%s: the crop is not a %d-byte blob", where,
                          FER_STORE_CROP_BYTES);
    memcpy(crop, b, FER_STORE_CROP_BYTES);
    return FER_OK;
}

/*
 * Starts a call: for a write (sync SQ_SYNC_NORMAL or SQ_SYNC_FULL) sets the synchronous level,
 * then prepares sql into *stmt, which sq_end finalises. On failure *stmt is NULL and err says
 * "sqlite: <what> <path>: ...".
 */
static enum fer_status sq_begin(struct sq_store *s, int sync, const char *sql, sqlite3_stmt **stmt,
                                const char *what, char *err)
{
    *stmt = NULL;
    enum fer_status st = sync != SQ_READ ? sq_set_sync(s, sync, what, err) : FER_OK;
    if (st == FER_OK)
        st = sq_prepare(s, sql, stmt, what, err);
    return st;
}

/* Ends a call begun by sq_begin: finalises stmt and passes st on. */
static enum fer_status sq_end(sqlite3_stmt *stmt, enum fer_status st)
{
    sqlite3_finalize(stmt);
    return st;
}

/* Steps a statement that returns no rows; bind_rc is its bindings' result. */
static enum fer_status sq_run(struct sq_store *s, sqlite3_stmt *stmt, int bind_rc, const char *what,
                              char *err)
{
    if (bind_rc != SQLITE_OK || sqlite3_step(stmt) != SQLITE_DONE)
        return sq_fail(s, what, err);
    return FER_OK;
}

static enum fer_status sq_add_face(fer_store *base, const struct fer_face_record *f,
                                   const char *probs, char *err)
{
    static const char sql[] =
        "INSERT INTO faces (face_id, created, model_version, classes, probs, crop,"
        " box_x, box_y, box_w, box_h) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
    static const char what[] = "cannot add a face to";
    struct sq_store *s = (struct sq_store *)base;
    sqlite3_stmt *stmt;
    enum fer_status st = sq_begin(s, SQ_SYNC_NORMAL, sql, &stmt, what, err);
    if (st != FER_OK)
        return st;
    if (sqlite3_bind_text(stmt, 1, f->face_id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_double(stmt, 2, f->created) != SQLITE_OK ||
        sqlite3_bind_text(stmt, 3, f->model_version, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(stmt, 4, f->classes, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(stmt, 5, probs, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(stmt, 6, f->crop, FER_STORE_CROP_BYTES, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(stmt, 7, f->box_x) != SQLITE_OK ||
        sqlite3_bind_int(stmt, 8, f->box_y) != SQLITE_OK ||
        sqlite3_bind_int(stmt, 9, f->box_w) != SQLITE_OK ||
        sqlite3_bind_int(stmt, 10, f->box_h) != SQLITE_OK)
        st = sq_fail(s, what, err);
    else if (sqlite3_step(stmt) != SQLITE_DONE)
        st = sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY
                 ? fer_errorf(err, FER_ERR_ARG, "sqlite: %s %s: face id %s is already stored", what,
                              s->path, f->face_id)
                 : sq_fail(s, what, err);
    return sq_end(stmt, st);
}

/* Reads the row of sq_get_face's SELECT into *out. */
static enum fer_status sq_face_from_row(struct sq_store *s, sqlite3_stmt *stmt, const char *face_id,
                                        struct fer_face_record *out, char *err)
{
    char where[FER_STORE_NAME_LEN + 64], probs[FER_STORE_PROBS_LEN];
    snprintf(where, sizeof(where), "%s, face %s", s->base.name, face_id);
    memset(out, 0, sizeof(*out));
    memcpy(out->face_id, face_id, FER_STORE_ID_LEN + 1);
    out->created = sqlite3_column_double(stmt, 0);
    enum fer_status st;
    if ((st = sq_col_text(stmt, 1, out->model_version, sizeof(out->model_version), 0, where,
                          "model_version", err)) != FER_OK ||
        (st = sq_col_text(stmt, 2, out->classes, sizeof(out->classes), 0, where, "classes", err)) !=
            FER_OK ||
        (st = sq_col_text(stmt, 3, probs, sizeof(probs), 0, where, "probs", err)) != FER_OK ||
        (st = fer_store_probs_parse(probs, out->probs, &out->n_probs, where, err)) != FER_OK ||
        (st = sq_col_crop(stmt, 4, out->crop, where, err)) != FER_OK)
        return st;
    out->box_x = sqlite3_column_int(stmt, 5);
    out->box_y = sqlite3_column_int(stmt, 6);
    out->box_w = sqlite3_column_int(stmt, 7);
    out->box_h = sqlite3_column_int(stmt, 8);
    return FER_OK;
}

static enum fer_status sq_get_face(fer_store *base, const char *face_id,
                                   struct fer_face_record *out, int *found, char *err)
{
    static const char sql[] =
        "SELECT created, model_version, classes, probs, crop, box_x, box_y, box_w, box_h"
        " FROM faces WHERE face_id = ?1";
    static const char what[] = "cannot read a face from";
    struct sq_store *s = (struct sq_store *)base;
    sqlite3_stmt *stmt;
    enum fer_status st = sq_begin(s, SQ_READ, sql, &stmt, what, err);
    if (st != FER_OK)
        return st;
    if (sqlite3_bind_text(stmt, 1, face_id, -1, SQLITE_STATIC) != SQLITE_OK)
        return sq_end(stmt, sq_fail(s, what, err));
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) /* no such face */
        return sq_end(stmt, FER_OK);
    if (rc != SQLITE_ROW)
        return sq_end(stmt, sq_fail(s, what, err));
    st = sq_face_from_row(s, stmt, face_id, out, err);
    if (st == FER_OK)
        *found = 1;
    return sq_end(stmt, st);
}

/* Binds a feedback row: ?3 is the face's id when it names one, else ?3-?6 are the face. */
static int sq_bind_feedback(sqlite3_stmt *stmt, const struct fer_feedback_record *fb,
                            const char *probs)
{
    int rc = sqlite3_bind_double(stmt, 1, fb->created);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(stmt, 2, fb->label, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sq_bind_opt_text(stmt, 3, fb->request_key);
    if (rc == SQLITE_OK && fb->face_id[0] != '\0')
        return sqlite3_bind_text(stmt, 4, fb->face_id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sq_bind_opt_text(stmt, 4, fb->model_version);
    if (rc == SQLITE_OK)
        rc = sq_bind_opt_text(stmt, 5, probs ? fb->classes : NULL);
    if (rc == SQLITE_OK)
        rc = sq_bind_opt_text(stmt, 6, probs);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(stmt, 7, fb->crop, FER_STORE_CROP_BYTES, SQLITE_STATIC);
    return rc;
}

static enum fer_status sq_add_feedback(fer_store *base, const struct fer_feedback_record *fb,
                                       const char *probs, int64_t *id, char *err)
{
    /* Copying from the face in the INSERT itself makes the check and the copy one statement;
     * a key already stored (a unique index) adds nothing. */
    static const char by_face[] =
        "INSERT INTO feedback (created, face_id, label, model_version, classes, probs, crop,"
        " request_key)"
        " SELECT ?1, face_id, ?2, model_version, classes, probs, crop, ?3 FROM faces"
        " WHERE face_id = ?4 ON CONFLICT (request_key) DO NOTHING";
    static const char direct[] =
        "INSERT INTO feedback (created, face_id, label, model_version, classes, probs, crop,"
        " request_key)"
        " VALUES (?1, NULL, ?2, ?4, ?5, ?6, ?7, ?3) ON CONFLICT (request_key) DO NOTHING";
    static const char what[] = "cannot add feedback to";
    struct sq_store *s = (struct sq_store *)base;
    sqlite3_stmt *stmt;
    *id = 0;
    enum fer_status st =
        sq_begin(s, SQ_SYNC_FULL, fb->face_id[0] ? by_face : direct, &stmt, what, err);
    if (st != FER_OK)
        return st;
    st = sq_run(s, stmt, sq_bind_feedback(stmt, fb, probs), what, err);
    if (st == FER_OK && sqlite3_changes(s->db) > 0)
        *id = sqlite3_last_insert_rowid(s->db);
    return sq_end(stmt, st);
}

static enum fer_status sq_find_request(fer_store *base, const char *request_key, int *found,
                                       struct fer_feedback_record *out, char *err)
{
    static const char sql[] = "SELECT id, face_id, label FROM feedback WHERE request_key = ?1";
    static const char what[] = "cannot read feedback from";
    struct sq_store *s = (struct sq_store *)base;
    sqlite3_stmt *stmt;
    *found = 0;
    enum fer_status st = sq_begin(s, SQ_READ, sql, &stmt, what, err);
    if (st != FER_OK)
        return st;
    if (sqlite3_bind_text(stmt, 1, request_key, -1, SQLITE_STATIC) != SQLITE_OK)
        return sq_end(stmt, sq_fail(s, what, err));
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        char where[FER_STORE_NAME_LEN + 96];
        snprintf(where, sizeof(where), "%s, request key %s", s->base.name, request_key);
        out->id = sqlite3_column_int64(stmt, 0);
        if ((st = sq_col_text(stmt, 1, out->face_id, sizeof(out->face_id), 1, where, "face_id",
                              err)) == FER_OK &&
            (st = sq_col_text(stmt, 2, out->label, sizeof(out->label), 0, where, "label", err)) ==
                FER_OK)
            *found = 1;
    } else if (rc != SQLITE_DONE) {
        st = sq_fail(s, what, err);
    }
    return sq_end(stmt, st);
}

static enum fer_status sq_count(fer_store *base, enum fer_store_table table, int64_t *n, char *err)
{
    static const char what[] = "cannot count rows in";
    struct sq_store *s = (struct sq_store *)base;
    const char *sql =
        table == FER_STORE_FACES ? "SELECT count(*) FROM faces" : "SELECT count(*) FROM feedback";
    sqlite3_stmt *stmt;
    enum fer_status st = sq_begin(s, SQ_READ, sql, &stmt, what, err);
    if (st != FER_OK)
        return st;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *n = sqlite3_column_int64(stmt, 0);
    else
        st = sq_fail(s, what, err);
    return sq_end(stmt, st);
}

/* Reads a row of sq_list_feedback's SELECT into *fb. */
static enum fer_status sq_feedback_from_row(struct sq_store *s, sqlite3_stmt *stmt,
                                            struct fer_feedback_record *fb, char *err)
{
    char where[FER_STORE_NAME_LEN + 64], probs[FER_STORE_PROBS_LEN];
    memset(fb, 0, sizeof(*fb));
    fb->id = sqlite3_column_int64(stmt, 0);
    fb->created = sqlite3_column_double(stmt, 1);
    snprintf(where, sizeof(where), "%s, feedback %lld", s->base.name, (long long)fb->id);
    enum fer_status st;
    if ((st = sq_col_text(stmt, 2, fb->face_id, sizeof(fb->face_id), 1, where, "face_id", err)) !=
            FER_OK ||
        (st = sq_col_text(stmt, 3, fb->label, sizeof(fb->label), 0, where, "label", err)) !=
            FER_OK ||
        (st = sq_col_text(stmt, 4, fb->model_version, sizeof(fb->model_version), 1, where,
                          "model_version", err)) != FER_OK ||
        (st = sq_col_text(stmt, 5, fb->classes, sizeof(fb->classes), 1, where, "classes", err)) !=
            FER_OK ||
        (st = sq_col_text(stmt, 6, probs, sizeof(probs), 1, where, "probs", err)) != FER_OK ||
        (probs[0] &&
         (st = fer_store_probs_parse(probs, fb->probs, &fb->n_probs, where, err)) != FER_OK))
        return st;
    return sq_col_crop(stmt, 7, fb->crop, where, err);
}

static enum fer_status sq_list_feedback(fer_store *base, int64_t after,
                                        struct fer_feedback_record *out, size_t max, size_t *n,
                                        char *err)
{
    static const char sql[] =
        "SELECT id, created, face_id, label, model_version, classes, probs, crop"
        " FROM feedback WHERE id > ?1 ORDER BY id LIMIT ?2";
    static const char what[] = "cannot read feedback from";
    struct sq_store *s = (struct sq_store *)base;
    sqlite3_stmt *stmt;
    *n = 0;
    enum fer_status st = sq_begin(s, SQ_READ, sql, &stmt, what, err);
    if (st != FER_OK)
        return st;
    if (sqlite3_bind_int64(stmt, 1, after) != SQLITE_OK ||
        sqlite3_bind_int64(stmt, 2, (sqlite3_int64)max) != SQLITE_OK)
        return sq_end(stmt, sq_fail(s, what, err));
    while (st == FER_OK && *n < max) { /* LIMIT ?2 keeps it there */
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW)
            st = sq_fail(s, what, err);
        else if ((st = sq_feedback_from_row(s, stmt, &out[*n], err)) == FER_OK)
            (*n)++;
    }
    return sq_end(stmt, st);
}

static enum fer_status sq_prune_faces(fer_store *base, double cutoff, int64_t *deleted, char *err)
{
    static const char sql[] = "DELETE FROM faces WHERE created < ?1 AND NOT EXISTS"
                              " (SELECT 1 FROM feedback WHERE feedback.face_id = faces.face_id)";
    static const char what[] = "cannot prune faces in";
    struct sq_store *s = (struct sq_store *)base;
    sqlite3_stmt *stmt;
    enum fer_status st = sq_begin(s, SQ_SYNC_NORMAL, sql, &stmt, what, err);
    if (st != FER_OK)
        return st;
    st = sq_run(s, stmt, sqlite3_bind_double(stmt, 1, cutoff), what, err);
    if (st == FER_OK)
        *deleted = sqlite3_changes(s->db);
    return sq_end(stmt, st);
}

static void sq_close(fer_store *base)
{
    struct sq_store *s = (struct sq_store *)base;
    if (!s)
        return;
    sqlite3_close(s->db); /* every statement is finalised where it was made */
    fer_free(s);
}

/* Brings the schema to SQ_LATEST in one IMMEDIATE transaction (other processes wait). */
static enum fer_status sq_migrate(struct sq_store *s, char *err)
{
    static const char what[] = "cannot migrate the schema of";
    sqlite3_stmt *stmt = NULL;
    enum fer_status st = sq_exec(s, "BEGIN IMMEDIATE", "cannot open", err);
    if (st != FER_OK)
        return st;
    if ((st = sq_prepare(s, "PRAGMA user_version", &stmt, "cannot open", err)) != FER_OK)
        goto rollback;
    if (sqlite3_step(stmt) != SQLITE_ROW) {
        st = sq_fail(s, "cannot open", err);
        goto rollback;
    }
    int version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (version > SQ_LATEST || version < 0) {
        st = fer_errorf(err, FER_ERR_VERSION,
                        "sqlite: %s has schema version %d, but this fer knows versions up to %d "
                        "(made by a newer fer? upgrade fer or use another database)",
                        s->path, version, SQ_LATEST);
        goto rollback;
    }
    for (size_t i = 0; i < sizeof(sq_migrations) / sizeof(sq_migrations[0]); i++)
        if (sq_migrations[i].version > version &&
            (st = sq_exec(s, sq_migrations[i].sql, what, err)) != FER_OK)
            goto rollback;
    if ((st = sq_exec(s, "COMMIT", what, err)) != FER_OK)
        goto rollback;
    return FER_OK;
rollback:
    sqlite3_finalize(stmt);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL); /* best effort: st says what failed */
    return st;
}

static const struct fer_store_ops sq_ops = {
    .close = sq_close,
    .add_face = sq_add_face,
    .get_face = sq_get_face,
    .add_feedback = sq_add_feedback,
    .find_request = sq_find_request,
    .count = sq_count,
    .list_feedback = sq_list_feedback,
    .prune_faces = sq_prune_faces,
};

enum fer_status fer_sqlite_store_open(const char *path, fer_store **out, char *err)
{
    static const char what[] = "cannot open";
    struct sq_store *s = fer_calloc(1, sizeof(*s));
    if (!s)
        return fer_errorf(err, FER_ERR_NOMEM, "sqlite: %s %s: out of memory", what, path);
    s->base.ops = &sq_ops;
    s->base.kind = FER_STORE_SQLITE;
    snprintf(s->path, sizeof(s->path), "%s", path);
    snprintf(s->base.name, sizeof(s->base.name), "sqlite %s", path);
    enum fer_status st;
    int rc = sqlite3_open_v2(
        path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        st = fer_errorf(err, sq_status(rc), "sqlite: %s %s: %s", what, s->path,
                        s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    if (sqlite3_extended_result_codes(s->db, 1) != SQLITE_OK ||
        sqlite3_busy_timeout(s->db, SQ_BUSY_MS) != SQLITE_OK) {
        st = sq_fail(s, what, err);
        goto fail;
    }
    /* journal_mode reads the header first, so a file that is no database fails here. */
    if ((st = sq_exec(s, "PRAGMA journal_mode=WAL", what, err)) != FER_OK ||
        (st = sq_exec(s, "PRAGMA foreign_keys=ON", what, err)) != FER_OK ||
        (st = sq_set_sync(s, SQ_SYNC_NORMAL, what, err)) != FER_OK ||
        (st = sq_migrate(s, err)) != FER_OK)
        goto fail;
    *out = &s->base;
    return FER_OK;
fail:
    sq_close(&s->base);
    return st;
}
