/*
 * test_storage.c - the feedback store: the same tests against SQLite (temporary files) and a
 * real PostgreSQL server that this program starts on loopback with initdb and pg_ctl (as the
 * `postgres` user when run as root), stops and deletes at the end. Without the PostgreSQL
 * binaries the PostgreSQL half prints a skip line and the SQLite half still runs.
 */
#include <errno.h>
#include <glob.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "pg_harness.h"
#include "storage/store.h"

#define CLASSES7 "angry,disgust,fear,happy,sad,surprise,neutral"

static enum fer_store_kind g_kind; /* the backend the shared tests run against */
static char g_tmp[128];            /* temporary folder for SQLite files and the server */
static char g_pg_base[128];        /* "postgresql://fer@127.0.0.1:PORT/" */
static int g_db_counter;

/* Runs a PostgreSQL statement in database db of the test server; 0 on success. */
static int pg_admin(const char *db, const char *sql, PGresult **keep)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", g_pg_base, db);
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
    ExecStatusType rs = PQresultStatus(r);
    int ok = r && (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK);
    if (!ok)
        fprintf(stderr, "  pg_admin(%s): %s", sql, PQerrorMessage(c));
    if (keep && ok)
        *keep = r;
    else
        PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

/* A URL naming a new, empty database of the current backend. */
static void fresh_url(char *url, size_t cap)
{
    int n = ++g_db_counter;
    if (g_kind == FER_STORE_SQLITE) {
        snprintf(url, cap, "sqlite://%s/t%d.db", g_tmp, n);
        return;
    }
    char sql[64];
    snprintf(sql, sizeof(sql), "CREATE DATABASE t%d", n);
    CHECK(pg_admin("postgres", sql, NULL) == 0);
    snprintf(url, cap, "%st%d", g_pg_base, n);
}

static fer_store *open_store(const char *url)
{
    char err[FER_ERR_LEN] = "";
    fer_store *s = NULL;
    enum fer_status st = fer_store_open(url, &s, err);
    if (st != FER_OK)
        fprintf(stderr, "  open %s: %s\n", url, err);
    CHECK(st == FER_OK && s != NULL);
    return s;
}

static void make_face(struct fer_face_record *f, int seed)
{
    static const float probs[7] = {0.1f, 1.0f / 3.0f,  1e-8f,  0.99999994f,
                                   0.0f, 0.123456789f, 2.5e-3f};
    memset(f, 0, sizeof(*f));
    snprintf(f->model_version, sizeof(f->model_version), "test-model-%d", seed);
    strcpy(f->classes, CLASSES7);
    f->n_probs = 7;
    for (int i = 0; i < 7; i++)
        f->probs[i] = probs[(i + seed) % 7];
    for (int i = 0; i < FER_STORE_CROP_BYTES; i++)
        f->crop[i] = (unsigned char)(i * 7 + seed * 13);
    f->box_x = seed;
    f->box_y = -seed;
    f->box_w = 48 + seed;
    f->box_h = 50 + seed;
}

static void make_feedback(struct fer_feedback_record *fb, const char *face_id, const char *label,
                          int seed)
{
    memset(fb, 0, sizeof(*fb));
    snprintf(fb->face_id, sizeof(fb->face_id), "%s", face_id ? face_id : "");
    snprintf(fb->label, sizeof(fb->label), "%s", label);
    for (int i = 0; i < FER_STORE_CROP_BYTES; i++)
        fb->crop[i] = (unsigned char)(i + seed);
}

/* Collects every feedback row (up to 256) through fer_store_each_feedback. */
struct collected {
    int n, stop_at;
    struct fer_feedback_record rows[256];
};

static enum fer_status collect(const struct fer_feedback_record *fb, void *arg, char *err)
{
    struct collected *c = arg;
    if (c->n == c->stop_at)
        return fer_errorf(err, FER_ERR_STATE, "stopped at %d", c->n);
    if (c->n < 256)
        c->rows[c->n] = *fb;
    c->n++;
    return FER_OK;
}

static void set_schema_version(const char *url, int version)
{
    char sql[64];
    if (g_kind == FER_STORE_SQLITE) {
        sqlite3 *db = NULL;
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
        CHECK(sqlite3_open_v2(url + strlen("sqlite://"), &db, SQLITE_OPEN_READWRITE, NULL) ==
              SQLITE_OK);
        CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close(db);
    } else {
        snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d", version);
        CHECK(pg_admin(strrchr(url, '/') + 1, sql, NULL) == 0);
    }
}

TEST(schema_created_and_migrated)
{
    char url[256], err[FER_ERR_LEN];
    fresh_url(url, sizeof(url));
    fer_store *s = open_store(url);
    CHECK(s && fer_store_kind(s) == g_kind);
    CHECK(s && strstr(fer_store_name(s), g_kind == FER_STORE_SQLITE ? "sqlite " : "postgresql "));
    fer_store_close(s);
    s = open_store(url); /* already at the latest version: nothing to do */
    int64_t n = -1;
    CHECK(s && fer_store_count_faces(s, &n, err) == FER_OK && n == 0);
    fer_store_close(s);
    set_schema_version(url, 99);
    s = NULL;
    CHECK(fer_store_open(url, &s, err) == FER_ERR_VERSION && s == NULL);
    CHECK(strstr(err, "schema version 99") && strstr(err, "newer fer"));
}

TEST(face_round_trip)
{
    char url[256], err[FER_ERR_LEN];
    fresh_url(url, sizeof(url));
    fer_store *s = open_store(url);
    if (!s)
        return;
    struct fer_face_record f, g;
    make_face(&f, 3);
    CHECK(fer_store_add_face(s, &f, err) == FER_OK);
    CHECK(strlen(f.face_id) == 32 && strspn(f.face_id, "0123456789abcdef") == 32);
    CHECK(f.created > 1.6e9);
    int found = 0;
    CHECK(fer_store_get_face(s, f.face_id, &g, &found, err) == FER_OK && found);
    CHECK_STR(g.face_id, f.face_id);
    CHECK(g.created == f.created);
    CHECK_STR(g.model_version, f.model_version);
    CHECK_STR(g.classes, CLASSES7);
    CHECK(g.n_probs == 7);
    for (int i = 0; i < 7; i++)
        CHECK(g.probs[i] == f.probs[i]); /* "%.9g" gives float32 back exactly */
    CHECK(memcmp(g.crop, f.crop, FER_STORE_CROP_BYTES) == 0);
    CHECK(g.box_x == 3 && g.box_y == -3 && g.box_w == 51 && g.box_h == 53);
    /* A caller-made id, a duplicate, a missing one, malformed ones. */
    struct fer_face_record h;
    make_face(&h, 4);
    CHECK(fer_store_new_face_id(h.face_id, err) == FER_OK);
    char id[FER_STORE_ID_LEN + 1];
    memcpy(id, h.face_id, sizeof(id));
    CHECK(fer_store_add_face(s, &h, err) == FER_OK && strcmp(h.face_id, id) == 0);
    CHECK(fer_store_add_face(s, &h, err) == FER_ERR_ARG && strstr(err, "already stored"));
    CHECK(fer_store_get_face(s, "0123456789abcdef0123456789abcdef", &g, &found, err) == FER_OK);
    CHECK(!found);
    CHECK(fer_store_get_face(s, "x'; DROP TABLE faces; --", &g, &found, err) == FER_ERR_ARG);
    make_face(&h, 5);
    h.n_probs = 6;
    CHECK(fer_store_add_face(s, &h, err) == FER_ERR_ARG && strstr(err, "7 class names"));
    h.n_probs = 7;
    h.probs[2] = NAN;
    CHECK(fer_store_add_face(s, &h, err) == FER_ERR_ARG && strstr(err, "not finite"));
    make_face(&h, 5);
    strcpy(h.face_id, "ABC");
    CHECK(fer_store_add_face(s, &h, err) == FER_ERR_ARG && strstr(err, "hex digits"));
    int64_t n = 0;
    CHECK(fer_store_count_faces(s, &n, err) == FER_OK && n == 2);
    fer_store_close(s);
}

TEST(feedback_copies_face_and_checks_ids)
{
    char url[256], err[FER_ERR_LEN];
    fresh_url(url, sizeof(url));
    fer_store *s = open_store(url);
    if (!s)
        return;
    struct fer_face_record f;
    struct fer_feedback_record fb;
    make_face(&f, 7);
    CHECK(fer_store_add_face(s, &f, err) == FER_OK);
    make_feedback(&fb, f.face_id, "surprise", 99); /* its crop must be ignored */
    strcpy(fb.model_version, "ignored");
    int64_t id1 = 0, id2 = 0, n = -1;
    CHECK(fer_store_add_feedback(s, &fb, &id1, err) == FER_OK && id1 > 0);
    /* Unknown and malformed ids fail clearly and store nothing. */
    make_feedback(&fb, "00000000000000000000000000000000", "happy", 1);
    CHECK(fer_store_add_feedback(s, &fb, NULL, err) == FER_ERR_ARG);
    CHECK(strstr(err, "no face with id 00000000000000000000000000000000"));
    make_feedback(&fb, "not-an-id", "happy", 1);
    CHECK(fer_store_add_feedback(s, &fb, NULL, err) == FER_ERR_ARG && strstr(err, "hex"));
    make_feedback(&fb, NULL, "", 1);
    CHECK(fer_store_add_feedback(s, &fb, NULL, err) == FER_ERR_ARG && strstr(err, "label"));
    /* A direct crop, without and with probabilities. */
    make_feedback(&fb, NULL, "sad", 5);
    CHECK(fer_store_add_feedback(s, &fb, &id2, err) == FER_OK && id2 > id1);
    make_feedback(&fb, NULL, "fear", 6);
    strcpy(fb.model_version, "client-1");
    strcpy(fb.classes, "a,b");
    fb.n_probs = 2;
    fb.probs[0] = 0.25f;
    fb.probs[1] = 0.75f;
    CHECK(fer_store_add_feedback(s, &fb, NULL, err) == FER_OK);
    CHECK(fer_store_count_feedback(s, &n, err) == FER_OK && n == 3);
    static struct collected c;
    memset(&c, 0, sizeof(c));
    c.stop_at = -1;
    CHECK(fer_store_each_feedback(s, collect, &c, err) == FER_OK && c.n == 3);
    struct fer_feedback_record *a = &c.rows[0], *b = &c.rows[1], *d = &c.rows[2];
    CHECK(a->id == id1 && b->id == id2);
    CHECK_STR(a->face_id, f.face_id);
    CHECK_STR(a->label, "surprise");
    CHECK_STR(a->model_version, f.model_version);
    CHECK_STR(a->classes, CLASSES7);
    CHECK(a->n_probs == 7 && a->probs[3] == f.probs[3] && a->probs[6] == f.probs[6]);
    CHECK(memcmp(a->crop, f.crop, FER_STORE_CROP_BYTES) == 0);
    CHECK(b->face_id[0] == '\0' && b->model_version[0] == '\0' && b->n_probs == 0);
    CHECK_STR(b->label, "sad");
    CHECK(b->crop[0] == 5 && b->crop[300] == (unsigned char)305);
    CHECK_STR(d->model_version, "client-1");
    CHECK_STR(d->classes, "a,b");
    CHECK(d->n_probs == 2 && d->probs[1] == 0.75f);
    fer_store_close(s);
}

TEST(count_and_walk_in_id_order)
{
    static const char *labels[] = {"angry", "happy", "neutral"};
    char url[256], err[FER_ERR_LEN];
    fresh_url(url, sizeof(url));
    fer_store *s = open_store(url);
    if (!s)
        return;
    const int total = 150; /* more than two pages of 64 */
    struct fer_feedback_record fb;
    for (int i = 0; i < total; i++) {
        make_feedback(&fb, NULL, labels[i % 3], i);
        CHECK(fer_store_add_feedback(s, &fb, NULL, err) == FER_OK);
    }
    int64_t n = 0;
    CHECK(fer_store_count_feedback(s, &n, err) == FER_OK && n == total);
    static struct collected c;
    memset(&c, 0, sizeof(c));
    c.stop_at = -1;
    CHECK(fer_store_each_feedback(s, collect, &c, err) == FER_OK && c.n == total);
    for (int i = 1; i < c.n; i++)
        CHECK(c.rows[i].id > c.rows[i - 1].id);
    for (int i = 0; i < c.n; i++)
        CHECK(strcmp(c.rows[i].label, labels[i % 3]) == 0 && c.rows[i].crop[0] == i);
    memset(&c, 0, sizeof(c));
    c.stop_at = 70;
    CHECK(fer_store_each_feedback(s, collect, &c, err) == FER_ERR_STATE && c.n == 70);
    CHECK_STR(err, "stopped at 70");
    fer_store_close(s);
}

TEST(export_fer2013_csv)
{
    char url[256], err[FER_ERR_LEN];
    fresh_url(url, sizeof(url));
    fer_store *s = open_store(url);
    if (!s)
        return;
    static const char *labels[] = {"happy", "contempt", "neutral", "angry"};
    static const int ids[] = {3, -1, 6, 0};
    struct fer_feedback_record fb;
    for (int i = 0; i < 4; i++) {
        make_feedback(&fb, NULL, labels[i], i * 50);
        CHECK(fer_store_add_feedback(s, &fb, NULL, err) == FER_OK);
    }
    FILE *f = tmpfile();
    size_t rows = 0, skipped = 0;
    CHECK(fer_store_export_fer2013(s, f, NULL, &rows, &skipped, err) == FER_OK);
    CHECK(rows == 3 && skipped == 1);
    rewind(f);
    static char line[16384];
    CHECK(fgets(line, sizeof(line), f) && strcmp(line, "emotion,pixels,Usage\n") == 0);
    for (int i = 0; i < 4; i++) {
        if (ids[i] < 0)
            continue;
        CHECK(fgets(line, sizeof(line), f) != NULL);
        char *p = line, *end;
        CHECK(strtol(p, &end, 10) == ids[i] && *end == ',');
        p = end + 1;
        int count = 0, same = 1;
        for (;;) {
            long v = strtol(p, &end, 10);
            if (end == p)
                break;
            same &= v == (unsigned char)(count + i * 50);
            count++;
            p = end;
        }
        CHECK(count == FER_STORE_CROP_BYTES && same);
        CHECK(strcmp(p, ",Training\n") == 0);
    }
    CHECK(fgets(line, sizeof(line), f) == NULL);
    fclose(f);
    /* Other names, and a stream that cannot be written. */
    static const char *const six[7] = {"happy", NULL, NULL, "neutral", NULL, NULL, NULL};
    f = tmpfile();
    CHECK(fer_store_export_fer2013(s, f, six, &rows, NULL, err) == FER_OK && rows == 2);
    fclose(f);
    f = fopen("/dev/full", "w");
    if (f) {
        CHECK(fer_store_export_fer2013(s, f, NULL, NULL, NULL, err) == FER_ERR_IO);
        CHECK(strstr(err, "cannot write"));
        fclose(f);
    }
    fer_store_close(s);
}

TEST(prune_old_faces_without_feedback)
{
    char url[256], err[FER_ERR_LEN];
    fresh_url(url, sizeof(url));
    fer_store *s = open_store(url);
    if (!s)
        return;
    struct fer_face_record old1, old2, young, g;
    make_face(&old1, 1);
    make_face(&old2, 2);
    make_face(&young, 3);
    old1.created = old2.created = 1.0e9; /* 2001 */
    CHECK(fer_store_add_face(s, &old1, err) == FER_OK);
    CHECK(fer_store_add_face(s, &old2, err) == FER_OK);
    CHECK(fer_store_add_face(s, &young, err) == FER_OK);
    struct fer_feedback_record fb;
    make_feedback(&fb, old2.face_id, "fear", 0);
    CHECK(fer_store_add_feedback(s, &fb, NULL, err) == FER_OK);
    int64_t deleted = -1, n = 0;
    int found = 0;
    CHECK(fer_store_prune_faces(s, 3600, &deleted, err) == FER_OK && deleted == 1);
    CHECK(fer_store_get_face(s, old1.face_id, &g, &found, err) == FER_OK && !found);
    CHECK(fer_store_get_face(s, old2.face_id, &g, &found, err) == FER_OK && found);
    CHECK(fer_store_get_face(s, young.face_id, &g, &found, err) == FER_OK && found);
    CHECK(fer_store_count_faces(s, &n, err) == FER_OK && n == 2);
    CHECK(fer_store_count_feedback(s, &n, err) == FER_OK && n == 1);
    CHECK(fer_store_prune_faces(s, -1, NULL, err) == FER_ERR_ARG);
    fer_store_close(s);
}

#define THREADS    8
#define PER_THREAD 12

struct worker {
    fer_store *store;
    const char *face_id;
    int seed, failures;
    char err[FER_ERR_LEN];
};

static void *add_feedback_many(void *arg)
{
    struct worker *w = arg;
    struct fer_feedback_record fb;
    for (int i = 0; i < PER_THREAD; i++) {
        make_feedback(&fb, i % 2 ? w->face_id : NULL, "happy", w->seed + i);
        if (fer_store_add_feedback(w->store, &fb, NULL, w->err) != FER_OK)
            w->failures++;
    }
    return NULL;
}

TEST(concurrent_feedback)
{
    char url[256], err[FER_ERR_LEN];
    fresh_url(url, sizeof(url));
    fer_store *s = open_store(url);
    if (!s)
        return;
    struct fer_face_record f;
    make_face(&f, 1);
    CHECK(fer_store_add_face(s, &f, err) == FER_OK);
    static struct worker w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.store = s, .face_id = f.face_id, .seed = i * 100};
        CHECK(pthread_create(&t[i], NULL, add_feedback_many, &w[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        if (w[i].failures)
            fprintf(stderr, "  thread %d: %s\n", i, w[i].err);
        CHECK(w[i].failures == 0);
    }
    int64_t n = 0;
    CHECK(fer_store_count_feedback(s, &n, err) == FER_OK && n == THREADS * PER_THREAD);
    fer_store_close(s);
}

/* A child adds feedback and is killed the moment the call returns; the row must be there. */
TEST(feedback_survives_kill_9)
{
    char url[256], err[FER_ERR_LEN];
    fresh_url(url, sizeof(url));
    fer_store *s = open_store(url);
    if (!s)
        return;
    fer_store_close(s);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        fer_store *c = NULL;
        struct fer_feedback_record fb;
        make_feedback(&fb, NULL, "disgust", 77);
        if (fer_store_open(url, &c, err) == FER_OK &&
            fer_store_add_feedback(c, &fb, NULL, err) == FER_OK)
            kill(getpid(), SIGKILL);
        fprintf(stderr, "  child: %s\n", err);
        _exit(3);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    s = open_store(url);
    static struct collected c;
    memset(&c, 0, sizeof(c));
    c.stop_at = -1;
    CHECK(s && fer_store_each_feedback(s, collect, &c, err) == FER_OK && c.n == 1);
    CHECK_STR(c.rows[0].label, "disgust");
    CHECK(c.rows[0].crop[0] == 77);
    fer_store_close(s);
}

/* Fault injection: every allocation of the store's own fails once, and is reported. */
TEST(allocation_failures)
{
    char url[256], err[FER_ERR_LEN];
    fresh_url(url, sizeof(url));
    fer_store *s = NULL;
    enum fer_status st = FER_ERR_NOMEM;
    for (long n = 0; n < 20 && st == FER_ERR_NOMEM; n++) {
        fer_alloc_fail_after(n);
        st = fer_store_open(url, &s, err);
        fer_alloc_fail_after(-1);
        CHECK(st == FER_OK || (st == FER_ERR_NOMEM && s == NULL && strstr(err, "memory")));
    }
    CHECK(st == FER_OK && s);
    if (!s)
        return;
    struct fer_feedback_record fb;
    make_feedback(&fb, NULL, "happy", 1);
    CHECK(fer_store_add_feedback(s, &fb, NULL, err) == FER_OK);
    st = FER_ERR_NOMEM;
    for (long n = 0; n < 20 && st == FER_ERR_NOMEM; n++) {
        FILE *f = tmpfile();
        size_t rows = 0;
        fer_alloc_fail_after(n);
        st = fer_store_export_fer2013(s, f, NULL, &rows, NULL, err);
        fer_alloc_fail_after(-1);
        CHECK(st == FER_OK || (st == FER_ERR_NOMEM && strstr(err, "memory")));
        CHECK(st != FER_OK || rows == 1);
        fclose(f);
    }
    CHECK(st == FER_OK);
    fer_store_close(s);
}

/* PostgreSQL only: the server ends the store's session; the next call reconnects. */
TEST(postgresql_reconnects)
{
    char url[256], err[FER_ERR_LEN], sql[256];
    fresh_url(url, sizeof(url));
    fer_store *s = open_store(url);
    if (!s)
        return;
    const char *db = strrchr(url, '/') + 1;
    snprintf(sql, sizeof(sql),
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'", db);
    CHECK(pg_admin("postgres", sql, NULL) == 0);
    snprintf(sql, sizeof(sql), "SELECT 1 FROM pg_stat_activity WHERE datname = '%s'", db);
    for (int i = 0; i < 100; i++) { /* until the backend is gone */
        PGresult *r = NULL;
        int left = pg_admin("postgres", sql, &r) == 0 && PQntuples(r) > 0;
        PQclear(r);
        if (!left)
            break;
        usleep(20000);
    }
    /*
     * A backend leaves pg_stat_activity a moment before its socket is closed; give the
     * close time to reach the client, as it would have between two real requests.
     */
    usleep(300000);
    int64_t n = -1;
    enum fer_status st = fer_store_count_feedback(s, &n, err);
    if (st != FER_OK)
        fprintf(stderr, "  after terminate: %s\n", err);
    CHECK(st == FER_OK && n == 0);
    fer_store_close(s);
}

/* PostgreSQL only: a role that may read and write rows but not create tables opens the store. */
TEST(postgresql_least_privilege)
{
    char url[256], err[FER_ERR_LEN];
    fresh_url(url, sizeof(url));
    fer_store *s = open_store(url); /* migrated by the owner */
    fer_store_close(s);
    const char *db = strrchr(url, '/') + 1;
    CHECK(pg_admin(db,
                   "CREATE ROLE fer_app LOGIN;"
                   "GRANT SELECT, INSERT, DELETE ON ALL TABLES IN SCHEMA public TO fer_app;"
                   "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO fer_app",
                   NULL) == 0);
    char app_url[300];
    snprintf(app_url, sizeof(app_url), "postgresql://fer_app@%s",
             url + strlen("postgresql://fer@"));
    s = open_store(app_url);
    struct fer_feedback_record fb;
    make_feedback(&fb, NULL, "happy", 1);
    CHECK(s && fer_store_add_feedback(s, &fb, NULL, err) == FER_OK);
    fer_store_close(s);
    set_schema_version(url, 0); /* now it has to create tables, and may not */
    s = NULL;
    CHECK(fer_store_open(app_url, &s, err) == FER_ERR_IO && s == NULL);
    CHECK(strstr(err, "cannot migrate the schema of postgresql fer_app@"));
}

TEST(bad_urls_and_files)
{
    char err[FER_ERR_LEN], path[256];
    fer_store *s = NULL;
    CHECK(fer_store_open("mysql://x", &s, err) == FER_ERR_ARG && s == NULL);
    CHECK(strstr(err, "unsupported URL scheme \"mysql\""));
    CHECK(fer_store_open("", &s, err) == FER_ERR_ARG && strstr(err, "empty URL"));
    CHECK(fer_store_open(NULL, &s, err) == FER_ERR_ARG);
    CHECK(fer_store_open("sqlite://relative.db", &s, err) == FER_ERR_ARG);
    CHECK(fer_store_open("sqlite:", &s, err) == FER_ERR_ARG);
    CHECK(fer_store_open("sqlite:///no/such/dir/fer.db", &s, err) == FER_ERR_IO);
    CHECK(strstr(err, "sqlite: cannot open /no/such/dir/fer.db: unable to open database file"));
    CHECK(fer_store_open("postgresql://u:s3cret@127.0.0.1:1/x", &s, err) == FER_ERR_IO);
    CHECK(strstr(err, "postgresql: cannot connect") && !strstr(err, "s3cret"));
    /* Random bytes where a database should be. */
    snprintf(path, sizeof(path), "%s/corrupt.db", g_tmp);
    FILE *f = fopen(path, "wb");
    for (int i = 0; f && i < 8192; i++)
        fputc((int)(((unsigned)i * 2654435761u) >> 13) & 255, f);
    CHECK(f && fclose(f) == 0);
    CHECK(fer_store_open(path, &s, err) == FER_ERR_CORRUPT && s == NULL);
    CHECK(strstr(err, "corrupt.db: file is not a database"));
}

/* Checks that a negatives export line is "<id>,<time>,<face_id>,<version>,<crop's pixels>". */
static void check_negative_line(const char *line, int64_t id, double created, const char *face_id,
                                const char *version, const unsigned char *crop)
{
    char head[256];
    snprintf(head, sizeof(head), "%lld,%.3f,%s,%s,", (long long)id, created, face_id, version);
    CHECK(strncmp(line, head, strlen(head)) == 0);
    if (strncmp(line, head, strlen(head)) != 0)
        fprintf(stderr, "  line starts \"%.80s\", want \"%s\"\n", line, head);
    const char *p = line + strlen(head);
    char *end;
    int count = 0, same = 1;
    for (;;) {
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        same &= count < FER_STORE_CROP_BYTES && v == crop[count];
        count++;
        p = end;
    }
    CHECK(count == FER_STORE_CROP_BYTES && same && strcmp(p, "\n") == 0);
}

/* "Not a face" corrections: stored, left out of the FER2013 export, alone in their own;
 * format all holds every row. */
TEST(negatives_exported_apart)
{
    char url[256], err[FER_ERR_LEN];
    fresh_url(url, sizeof(url));
    fer_store *s = open_store(url);
    if (!s)
        return;
    struct fer_face_record f;
    struct fer_feedback_record fb;
    make_face(&f, 11);
    CHECK(fer_store_add_face(s, &f, err) == FER_OK);
    int64_t ids[4] = {0};
    make_feedback(&fb, NULL, "happy", 1);
    CHECK(fer_store_add_feedback(s, &fb, &ids[0], err) == FER_OK);
    make_feedback(&fb, f.face_id, FER_STORE_NOT_A_FACE, 2); /* the face's crop is kept */
    CHECK(fer_store_add_feedback(s, &fb, &ids[1], err) == FER_OK);
    make_feedback(&fb, NULL, FER_STORE_NOT_A_FACE, 3); /* a crop without a face id */
    strcpy(fb.model_version, "v2, \"beta\"");
    fb.created = 1700000000.25;
    CHECK(fer_store_add_feedback(s, &fb, &ids[2], err) == FER_OK);
    static unsigned char crop3[FER_STORE_CROP_BYTES];
    memcpy(crop3, fb.crop, sizeof(crop3));
    make_feedback(&fb, NULL, "neutral", 4);
    CHECK(fer_store_add_feedback(s, &fb, &ids[3], err) == FER_OK);
    int64_t n = 0;
    CHECK(fer_store_count_feedback(s, &n, err) == FER_OK && n == 4);
    static struct collected c;
    memset(&c, 0, sizeof(c));
    c.stop_at = -1;
    CHECK(fer_store_each_feedback(s, collect, &c, err) == FER_OK && c.n == 4);
    CHECK_STR(c.rows[1].label, "not_a_face");
    CHECK_STR(c.rows[1].face_id, f.face_id);

    /* FER2013: the two emotions only, and the negatives are not counted as skipped */
    FILE *out = tmpfile();
    size_t rows = 0, skipped = 9;
    CHECK(fer_store_export_fer2013(s, out, NULL, &rows, &skipped, err) == FER_OK);
    CHECK(rows == 2 && skipped == 0);
    static char line[16384];
    rewind(out);
    CHECK(fgets(line, sizeof(line), out) && strcmp(line, "emotion,pixels,Usage\n") == 0);
    CHECK(fgets(line, sizeof(line), out) && strncmp(line, "3,1 2 3 ", 8) == 0);
    CHECK(fgets(line, sizeof(line), out) && strncmp(line, "6,4 5 6 ", 8) == 0);
    CHECK(fgets(line, sizeof(line), out) == NULL);
    fclose(out);

    /* negatives: the two of them, with their ids, times, face ids and versions */
    out = tmpfile();
    rows = 0;
    CHECK(fer_store_export_negatives(s, out, &rows, err) == FER_OK && rows == 2);
    rewind(out);
    CHECK(fgets(line, sizeof(line), out) &&
          strcmp(line, "id,created,face_id,model_version,pixels\n") == 0);
    CHECK(fgets(line, sizeof(line), out) != NULL);
    check_negative_line(line, ids[1], c.rows[1].created, f.face_id, f.model_version, f.crop);
    CHECK(fgets(line, sizeof(line), out) != NULL);
    check_negative_line(line, ids[2], 1700000000.25, "", "\"v2, \"\"beta\"\"\"", crop3);
    CHECK(fgets(line, sizeof(line), out) == NULL);
    fclose(out);
    out = fopen("/dev/full", "w");
    if (out) {
        CHECK(fer_store_export_negatives(s, out, NULL, err) == FER_ERR_IO);
        CHECK(strstr(err, "cannot write"));
        fclose(out);
    }
    CHECK(fer_store_export_negatives(NULL, stdout, NULL, err) == FER_ERR_ARG);

    /* all: the four rows in id order, each with its label before the pixels */
    out = tmpfile();
    rows = 0;
    CHECK(fer_store_export_all(s, out, &rows, err) == FER_OK && rows == 4);
    rewind(out);
    CHECK(fgets(line, sizeof(line), out) &&
          strcmp(line, "id,created,face_id,model_version,emotion,pixels\n") == 0);
    for (int i = 0; i < 4; i++) {
        char version_label[128];
        const char *version = i == 2 ? "\"v2, \"\"beta\"\"\"" : c.rows[i].model_version;
        snprintf(version_label, sizeof(version_label), "%s,%s", version, c.rows[i].label);
        CHECK(fgets(line, sizeof(line), out) != NULL);
        check_negative_line(line, ids[i], c.rows[i].created, c.rows[i].face_id, version_label,
                            c.rows[i].crop);
    }
    CHECK(fgets(line, sizeof(line), out) == NULL);
    fclose(out);
    CHECK(fer_store_export_all(NULL, stdout, NULL, err) == FER_ERR_ARG);
    fer_store_close(s);
}

/* A request key stores a feedback once, through any connection; reused for another, refused. */
TEST(request_keys_store_once)
{
    char url[256], err[FER_ERR_LEN];
    fresh_url(url, sizeof(url));
    fer_store *s = open_store(url), *other = open_store(url); /* two servers, one database */
    if (!s || !other)
        goto done;
    struct fer_face_record f;
    struct fer_feedback_record fb;
    make_face(&f, 5);
    CHECK(fer_store_add_face(s, &f, err) == FER_OK);
    int64_t id1 = 0, id2 = 0, id3 = 0, id4 = 0, n = 0;
    make_feedback(&fb, f.face_id, "happy", 1);
    strcpy(fb.request_key, "3f2c9a1e-7b4d-4c1a-9e2f-0a1b2c3d4e5f");
    int replayed = -1;
    CHECK(fer_store_add_feedback_keyed(s, &fb, &id1, &replayed, err) == FER_OK && id1 > 0);
    CHECK(replayed == 0);
    CHECK(fer_store_add_feedback_keyed(other, &fb, &id2, &replayed, err) == FER_OK && id2 == id1);
    CHECK(replayed == 1);
    CHECK(fer_store_add_feedback(s, &fb, &id2, err) == FER_OK && id2 == id1);
    CHECK(fer_store_count_feedback(s, &n, err) == FER_OK && n == 1);
    strcpy(fb.label, "sad"); /* the same key for another label */
    CHECK(fer_store_add_feedback(other, &fb, &id3, err) == FER_ERR_STATE && id3 == 0);
    CHECK(strstr(err, "was used for another feedback") && strstr(err, "happy"));
    make_feedback(&fb, NULL, "happy", 2); /* the same key for a crop */
    strcpy(fb.request_key, "3f2c9a1e-7b4d-4c1a-9e2f-0a1b2c3d4e5f");
    CHECK(fer_store_add_feedback(s, &fb, &id3, err) == FER_ERR_STATE);
    strcpy(fb.request_key, "crop:2"); /* a crop with its own key, twice */
    CHECK(fer_store_add_feedback(s, &fb, &id3, err) == FER_OK && id3 > id1);
    CHECK(fer_store_add_feedback(other, &fb, &id4, err) == FER_OK && id4 == id3);
    make_feedback(&fb, "0123456789abcdef0123456789abcdef", "happy", 3);
    strcpy(fb.request_key, "unused");
    CHECK(fer_store_add_feedback(s, &fb, &id4, err) == FER_ERR_ARG && strstr(err, "no face"));
    strcpy(fb.request_key, "has space");
    CHECK(fer_store_add_feedback(s, &fb, &id4, err) == FER_ERR_ARG && strstr(err, "request key"));
    memset(fb.request_key, 'k', FER_STORE_KEY_LEN - 1); /* 64: the longest */
    fb.request_key[FER_STORE_KEY_LEN - 1] = '\0';
    strcpy(fb.face_id, f.face_id);
    CHECK(fer_store_add_feedback(s, &fb, &id4, err) == FER_OK && id4 > id3);
    fb.request_key[FER_STORE_KEY_LEN - 1] = 'k'; /* 65: not terminated within the buffer */
    CHECK(fer_store_add_feedback(s, &fb, &id4, err) == FER_ERR_ARG);
    CHECK(fer_store_count_feedback(s, &n, err) == FER_OK && n == 3);
done:
    fer_store_close(other);
    fer_store_close(s);
}

/* A store made before request keys (schema 1) gains them, its rows kept. */
TEST(version_1_store_migrates)
{
    char url[256], err[FER_ERR_LEN];
    fresh_url(url, sizeof(url));
    fer_store *s = open_store(url);
    if (!s)
        return;
    struct fer_feedback_record fb;
    make_feedback(&fb, NULL, "fear", 7);
    int64_t id = 0, n = 0;
    CHECK(fer_store_add_feedback(s, &fb, &id, err) == FER_OK);
    fer_store_close(s);
    const char *down = "DROP INDEX feedback_request_key; ALTER TABLE feedback DROP COLUMN "
                       "request_key";
    if (g_kind == FER_STORE_SQLITE) {
        sqlite3 *db = NULL;
        CHECK(sqlite3_open_v2(url + strlen("sqlite://"), &db, SQLITE_OPEN_READWRITE, NULL) ==
              SQLITE_OK);
        CHECK(sqlite3_exec(db, down, NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close(db);
    } else {
        CHECK(pg_admin(strrchr(url, '/') + 1, down, NULL) == 0);
    }
    set_schema_version(url, 1);
    s = open_store(url);
    if (!s)
        return;
    CHECK(fer_store_count_feedback(s, &n, err) == FER_OK && n == 1);
    strcpy(fb.request_key, "after-migration");
    int64_t a = 0, b = 0;
    CHECK(fer_store_add_feedback(s, &fb, &a, err) == FER_OK && a > id);
    CHECK(fer_store_add_feedback(s, &fb, &b, err) == FER_OK && b == a);
    CHECK(fer_store_count_feedback(s, &n, err) == FER_OK && n == 2);
    fer_store_close(s);
}

static void run_shared(void)
{
    RUN(schema_created_and_migrated);
    RUN(face_round_trip);
    RUN(feedback_copies_face_and_checks_ids);
    RUN(count_and_walk_in_id_order);
    RUN(export_fer2013_csv);
    RUN(negatives_exported_apart);
    RUN(request_keys_store_once);
    RUN(version_1_store_migrates);
    RUN(prune_old_faces_without_feedback);
    RUN(concurrent_feedback);
    RUN(feedback_survives_kill_9);
    RUN(allocation_failures);
}

TEST(postgresql_server_starts)
{
    CHECK(pg_harness_start(g_tmp, g_pg_base, sizeof(g_pg_base)) >= 0);
}

int main(void)
{
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/fer_storage_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        fprintf(stderr, "cannot make a temporary folder: %s\n", strerror(errno));
        return 1;
    }
    chmod(g_tmp, 0755); /* the postgres user walks into it */
    printf("== sqlite\n");
    g_kind = FER_STORE_SQLITE;
    run_shared();
    RUN(bad_urls_and_files);
    printf("== postgresql\n");
    g_kind = FER_STORE_POSTGRESQL;
    RUN(postgresql_server_starts);
    if (g_pg_base[0]) {
        run_shared();
        RUN(postgresql_reconnects);
        RUN(postgresql_least_privilege);
        pg_harness_stop();
        g_pg_base[0] = '\0';
    }
    int failed = check_report();
    if (failed && pg_harness_dir()[0]) /* keep the server's logs */
        fprintf(stderr, "kept %s for its logs\n", pg_harness_dir());
    else
        pg_harness_run(0, (const char *const[]){"rm", "-rf", g_tmp, NULL}, "/dev/null");
    return failed;
}
