/*
 * test_crash.c - nothing acknowledged is lost. `fer serve` (the release binary, build/fer, or
 * $FER_SERVE_BIN) runs as a separate process on 127.0.0.1 while a client posts predictions and
 * feedback; another thread kills the server with SIGKILL at random moments (KILLS times) and
 * restarts it on the same store. Afterwards every feedback the client got a 201 for must be in
 * the store exactly once, and the store must pass its integrity check (SQLite's
 * integrity_check; on PostgreSQL amcheck's bt_index_check on every index). Runs on SQLite,
 * then on PostgreSQL (tests/pg_harness.c; skipped when PostgreSQL is not installed).
 *
 * Then a full disk: the SQLite store on a small tmpfs (root only; skipped otherwise) that a
 * filler file fills up. Feedback then fails with a JSON 5xx error, nothing acknowledged is lost,
 * the database stays intact, and once the filler is removed the same server takes feedback
 * again.
 */
#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "http_client.h"
#include "pg_harness.h"
#include "storage/store.h"
#include "tmp_dir.h"

#define KILLS          20
#define MAX_ACKED      20000
#define PHOTO          "tests/data/photos/astronaut_gray.png" /* one face, public domain */
#define CLIENT_LIMIT_S 120.0                                  /* the client gives up after this */

static const char *fer_bin;
static char store_url[700];
static char log_path[512];
static atomic_int server_pid;
static atomic_int killer_done;
static uint8_t *photo;
static size_t photo_len;

/* The face ids whose feedback the server acknowledged. */
static char (*acked)[FER_STORE_ID_LEN + 1];
static int n_acked;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Starts `fer serve` on the store; its output goes to log_path. The child's pid, or -1. */
static int spawn_server(void)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", http_client_port);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *log = freopen(log_path, "a", stdout);
        if (log)
            dup2(fileno(log), 2);
        execl(fer_bin, "fer", "serve", "--port", port, "--db", store_url, "--threads", "2",
              "--keep-days", "0", "--quiet", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Waits until /v1/health answers 200 (at most 30 s); 0 when it does. */
static int wait_ready(int pid)
{
    double until = now_s() + 30;
    while (now_s() < until) {
        struct resp r = {0};
        int ok = get("/v1/health", NULL, &r) == 0 && r.status == 200;
        resp_free(&r);
        if (ok)
            return 0;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "  fer serve exited (status %d); see %s\n", status, log_path);
            return -1;
        }
        sleep_ms(20);
    }
    fprintf(stderr, "  fer serve did not answer within 30 s; see %s\n", log_path);
    return -1;
}

static void stop_server(int sig)
{
    int pid = atomic_exchange(&server_pid, -1);
    if (pid > 0) {
        kill(pid, sig);
        waitpid(pid, NULL, 0);
    }
}

/* Kills the server KILLS times at random moments, restarting it on the same store. */
static void *killer(void *arg)
{
    unsigned seed = *(unsigned *)arg;
    for (int k = 0; k < KILLS; k++) {
        sleep_ms(50 + (int)(rand_r(&seed) % 450));
        stop_server(SIGKILL);
        int pid = spawn_server();
        if (pid < 0 || wait_ready(pid) != 0) {
            atomic_store(&server_pid, pid);
            break;
        }
        atomic_store(&server_pid, pid);
    }
    atomic_store(&killer_done, 1);
    return NULL;
}

/* A prediction of the photo: 1 with its face id in id, 0 when the server did not answer 200. */
static int predict_face(char id[FER_STORE_ID_LEN + 1])
{
    struct resp r = {0};
    if (post("/v1/predict", "image/png", photo, photo_len, &r) != 0 || r.status != 200) {
        resp_free(&r);
        return 0;
    }
    json_t *o = body_json(&r);
    resp_free(&r);
    const char *s =
        json_string_value(json_object_get(json_array_get(json_object_get(o, "faces"), 0), "id"));
    int ok = s && strlen(s) == FER_STORE_ID_LEN;
    CHECK(ok); /* the photo has a face, and a stored face has an id */
    if (ok)
        memcpy(id, s, FER_STORE_ID_LEN + 1);
    json_decref(o);
    return ok;
}

/*
 * Feedback on face id: the HTTP status (0 when there was no answer); a 201 is recorded as
 * acknowledged. *json_error is set when the answer is an error with a JSON body.
 */
static int give_feedback(const char *id, int *json_error)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"face_id\": \"%s\", \"emotion\": \"surprise\"}", id);
    struct resp r = {0};
    int status = 0;
    if (post("/v1/feedback", "application/json", body, strlen(body), &r) == 0) {
        status = r.status;
        if (status == 201 && n_acked < MAX_ACKED)
            snprintf(acked[n_acked++], FER_STORE_ID_LEN + 1, "%s", id);
        if (json_error)
            *json_error = is_json_error(&r, status);
    }
    resp_free(&r);
    return status;
}

/* One prediction and feedback on its face. */
static void one_round(int *predicted, int *refused)
{
    char id[FER_STORE_ID_LEN + 1];
    if (!predict_face(id)) {
        sleep_ms(10); /* the server is down or restarting */
        return;
    }
    (*predicted)++;
    int status = give_feedback(id, NULL);
    *refused += status != 0 && status != 201;
}

struct tally {
    char (*ids)[FER_STORE_ID_LEN + 1];
    int n, cap;
};

static enum fer_status collect(const struct fer_feedback_record *fb, void *arg, char *err)
{
    struct tally *t = arg;
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 1024;
        void *p = fer_realloc(t->ids, (size_t)cap * sizeof(*t->ids));
        if (!p)
            return fer_errorf(err, FER_ERR_NOMEM, "out of memory");
        t->ids = p;
        t->cap = cap;
    }
    snprintf(t->ids[t->n++], FER_STORE_ID_LEN + 1, "%s", fb->face_id);
    return FER_OK;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Every acked id in the store exactly once, and no id twice. Returns the rows counted. */
static int check_store_holds_acked(void)
{
    char err[FER_ERR_LEN];
    fer_store *store = NULL;
    struct tally t = {0};
    CHECK(fer_store_open(store_url, &store, err) == FER_OK);
    if (store)
        CHECK(fer_store_each_feedback(store, collect, &t, err) == FER_OK);
    fer_store_close(store);
    qsort(t.ids, (size_t)t.n, sizeof(*t.ids), cmp_id);
    int twice = 0, missing = 0;
    for (int i = 1; i < t.n; i++)
        twice += strcmp(t.ids[i - 1], t.ids[i]) == 0;
    for (int i = 0; i < n_acked; i++)
        missing += !t.ids || !bsearch(acked[i], t.ids, (size_t)t.n, sizeof(*t.ids), cmp_id);
    printf("  %d feedback acknowledged, %d rows stored, %d missing, %d stored twice\n", n_acked,
           t.n, missing, twice);
    CHECK(missing == 0);
    CHECK(twice == 0);
    CHECK(t.n >= n_acked);
    fer_free(t.ids);
    return t.n;
}

static void check_sqlite_integrity(const char *path)
{
    sqlite3 *db = NULL;
    char result[64] = "";
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    sqlite3_stmt *st = NULL;
    if (db && sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        snprintf(result, sizeof(result), "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    printf("  SQLite integrity_check: %s\n", result);
    CHECK(strcmp(result, "ok") == 0);
}

static void check_pg_integrity(const char *url)
{
    PGconn *c = PQconnectdb(url);
    CHECK(PQstatus(c) == CONNECTION_OK);
    PGresult *r = PQexec(c, "CREATE EXTENSION IF NOT EXISTS amcheck");
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    r = PQexec(c, "SELECT count(bt_index_check(i.indexrelid, true)) FROM pg_index i "
                  "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON "
                  "n.oid = t.relnamespace WHERE n.nspname = 'public'");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    printf("  PostgreSQL amcheck on %s indexes: %s\n", ok ? PQgetvalue(r, 0, 0) : "the",
           ok ? "ok" : PQresultErrorMessage(r));
    CHECK(ok && atoi(PQgetvalue(r, 0, 0)) > 0);
    PQclear(r);
    PQfinish(c);
}

/* The client's loop against the server the killer keeps killing; then the checks. */
static void kill_and_check(unsigned seed)
{
    n_acked = 0;
    atomic_store(&killer_done, 0);
    int pid = spawn_server();
    CHECK(pid > 0 && wait_ready(pid) == 0);
    atomic_store(&server_pid, pid);
    pthread_t t;
    pthread_create(&t, NULL, killer, &seed);
    int predicted = 0, refused = 0, after = 0;
    double until = now_s() + CLIENT_LIMIT_S;
    while (now_s() < until && after < 20) {
        one_round(&predicted, &refused);
        after += atomic_load(&killer_done);
    }
    pthread_join(t, NULL);
    stop_server(SIGTERM);
    printf("  %d kills (seed %u), %d predictions, %d feedback refused\n", KILLS, seed, predicted,
           refused);
    CHECK(after == 20); /* the server came back after every kill */
    CHECK(n_acked > KILLS);
    check_store_holds_acked();
}

TEST(sqlite_survives_kill_9)
{
    char path[512];
    test_tmp_path(path, sizeof(path), "crash.db");
    snprintf(store_url, sizeof(store_url), "sqlite:%s", path);
    kill_and_check((unsigned)time(NULL));
    check_sqlite_integrity(path);
}

TEST(postgresql_survives_kill_9)
{
    char base[160];
    chmod(test_tmp_dir(), 0755); /* the postgres user makes its folder in it */
    int pg = pg_harness_start(test_tmp_dir(), base, sizeof(base));
    CHECK(pg >= 0);
    if (pg == 0) {
        CHECK_SKIP("PostgreSQL is not installed");
        return;
    }
    if (pg < 0)
        return;
    snprintf(store_url, sizeof(store_url), "%spostgres", base);
    kill_and_check((unsigned)time(NULL) + 1);
    check_pg_integrity(store_url);
    pg_harness_stop();
}

/* Writes files of 64 KiB into dir until the disk is full; the bytes written. */
static size_t fill_disk(const char *path)
{
    FILE *f = fopen(path, "wb");
    static char block[65536];
    size_t total = 0;
    while (f && fwrite(block, 1, sizeof(block), f) == sizeof(block) && fflush(f) == 0)
        total += sizeof(block);
    if (f)
        fclose(f);
    return total;
}

TEST(full_disk_gives_clean_errors)
{
    char dir[512], db[600], filler[600];
    test_tmp_path(dir, sizeof(dir), "small_disk");
    mkdir(dir, 0755);
    if (geteuid() != 0 || mount("tmpfs", dir, "tmpfs", 0, "size=4m") != 0) {
        CHECK_SKIP("cannot mount a small tmpfs (needs root): %s", strerror(errno));
        return;
    }
    snprintf(db, sizeof(db), "%s/fer.db", dir);
    snprintf(filler, sizeof(filler), "%s/filler", dir);
    snprintf(store_url, sizeof(store_url), "sqlite:%s", db);
    n_acked = 0;
    int pid = spawn_server();
    CHECK(pid > 0 && wait_ready(pid) == 0);
    atomic_store(&server_pid, pid);
    int predicted = 0, refused = 0;
    for (int i = 0; i < 5; i++)
        one_round(&predicted, &refused);
    CHECK(n_acked == 5 && refused == 0);
    /* faces to give feedback on once the disk is full */
    enum { PENDING = 30 };
    char pending[PENDING][FER_STORE_ID_LEN + 1];
    int n_pending = 0;
    while (n_pending < PENDING && predict_face(pending[n_pending]))
        n_pending++;
    CHECK(n_pending == PENDING);
    size_t filled = fill_disk(filler);
    int acked_full = n_acked, errors = 0, errors_json = 0, given = 0;
    for (; given < n_pending; given++) {
        int json = 0, status = give_feedback(pending[given], &json);
        if (status != 201) {
            errors++;
            errors_json += status >= 500 && json;
        }
        if (errors >= 5)
            break; /* the disk is full for certain */
    }
    acked_full = n_acked - acked_full;
    printf("  disk filled (%zu KiB): %d feedback acknowledged, then %d errors (%d JSON 5xx)\n",
           filled / 1024, acked_full, errors, errors_json);
    CHECK(errors == 5 && errors_json == 5);
    unlink(filler);
    /* space is back: the same server takes the rest of the feedback */
    int acked_before = n_acked, rest = 0;
    for (given++; given < n_pending; given++, rest++)
        CHECK(give_feedback(pending[given], NULL) == 201);
    CHECK(n_acked == acked_before + rest && rest > 0);
    stop_server(SIGTERM);
    check_store_holds_acked();
    check_sqlite_integrity(db);
    umount(dir);
}

int main(void)
{
    fer_bin = getenv("FER_SERVE_BIN") ? getenv("FER_SERVE_BIN") : "build/fer";
    if (access(fer_bin, X_OK) != 0 || test_tmp_create("/tmp/fer_test_crash_XXXXXX") != 0) {
        fprintf(stderr, "test_crash: %s is not built (make build/fer)\n", fer_bin);
        printf("0 passed, 1 failed, 0 skipped\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    FILE *f = fopen(PHOTO, "rb");
    photo = fer_malloc(1 << 20);
    photo_len = f && photo ? fread(photo, 1, 1 << 20, f) : 0;
    if (f)
        fclose(f);
    acked = fer_calloc(MAX_ACKED, sizeof(*acked));
    http_client_port = free_port();
    test_tmp_path(log_path, sizeof(log_path), "serve.log");
    if (photo_len == 0 || !acked || http_client_port < 0) {
        fprintf(stderr, "test_crash: cannot read %s (run from the repository root)\n", PHOTO);
        check_failed++;
    } else {
        RUN(sqlite_survives_kill_9);
        RUN(postgresql_survives_kill_9);
        RUN(full_disk_gives_clean_errors);
    }
    stop_server(SIGKILL);
    pg_harness_stop();
    fer_free(photo);
    fer_free(acked);
    int failed = check_report();
    if (!failed)
        test_tmp_remove();
    else
        fprintf(stderr, "test_crash: kept %s for its logs\n", test_tmp_dir());
    return failed;
}
