/*
 * cmd_serve.c - `fer serve`: the REST API, the web app and Swagger UI over HTTP, with the
 * feedback store. Opens the engine and the store, starts the server, and waits for SIGINT or
 * SIGTERM; meanwhile it prunes, once an hour, stored faces that never got feedback.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/detect_opts.h"
#include "cli/files.h"
#include "core/alloc.h"
#include "fer.h"
#include "pipeline/builtin_model.h"
#include "server/server.h"
#include "storage/store.h"

static const char *USAGE = "fer serve [--host 127.0.0.1] [--port 8080] [--db URL] [--model M] "
                           "[--threads N] [--admin-token T] [options]";

#define DEFAULT_DB "sqlite:data/fer.db"

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/*
 * A data folder given relative to the repository: as is when it exists from the current
 * folder, else in the repository the executable was built in (build/fer or build/asan/fer: the
 * executable's folder and up to two above it), else NULL.
 */
static const char *find_dir(const char *rel, char *buf, size_t len)
{
    if (is_dir(rel))
        return rel;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = 0;
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash)
            return NULL;
        *slash = 0;
        if ((size_t)snprintf(buf, len, "%s/%s", exe, rel) < len && is_dir(buf))
            return buf;
    }
    return NULL;
}

/* Creates the folders above an SQLite database file, so that the default works anywhere. */
static int make_db_parent(const char *url, char *err)
{
    const char *path = url;
    if (!strncmp(url, "sqlite://", 9))
        path = url + 9;
    else if (!strncmp(url, "sqlite:", 7))
        path = url + 7;
    else if (strstr(url, "://"))
        return 0; /* a server URL */
    return fer_make_parents(path, err);
}

static void print_address(const char *host, int port, int tls)
{
    const char *shown = host;
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
        shown = "127.0.0.1"; /* every address: this machine's own works */
    int v6 = strchr(shown, ':') != NULL;
    printf("fer serve: open http%s://%s%s%s:%d/   (API docs: /docs, metrics: /metrics)\n",
           tls ? "s" : "", v6 ? "[" : "", shown, v6 ? "]" : "", port);
    fflush(stdout);
}

/* Waits for SIGINT or SIGTERM (blocked in every thread), pruning old faces every hour. */
static void wait_for_signal(fer_store *store, int keep_days)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    for (;;) {
        if (keep_days > 0) {
            char err[FER_ERR_LEN];
            int64_t deleted = 0;
            if (fer_store_prune_faces(store, keep_days * 86400.0, &deleted, err) != FER_OK)
                fprintf(stderr, "fer serve: pruning old faces: %s\n", err);
            else if (deleted)
                fprintf(stderr, "fer serve: pruned %lld faces older than %d days\n",
                        (long long)deleted, keep_days);
        }
        struct timespec hour = {3600, 0};
        int sig = sigtimedwait(&set, NULL, &hour);
        if (sig == SIGINT || sig == SIGTERM) {
            fprintf(stderr, "fer serve: %s, stopping\n",
                    sig == SIGINT ? "interrupted" : "terminated");
            return;
        }
    }
}

/* What the command line says, before it becomes the server's and the engine's settings. */
struct serve_options {
    struct fer_server_config sc;
    struct fer_engine_options eo;
    struct fer_detect_opts detect;
    const char *db, *web, *swagger, *token, *report;
    int max_upload_mb, max_mpix, timeout, quiet, keep_days, rate_limit, max_streams;
    char web_buf[PATH_MAX], swagger_buf[PATH_MAX], report_buf[PATH_MAX];
};

/* Parses and checks the options into o; FER_ARGS_GO or the exit status. */
static int read_options(int argc, char **argv, struct serve_options *o)
{
    fer_server_config_default(&o->sc);
    fer_engine_options_default(&o->eo);
    fer_detect_opts_init(&o->detect);
    o->db = DEFAULT_DB;
    o->max_upload_mb = 10;
    o->max_mpix = FER_DEFAULT_MAX_MEGAPIXELS;
    o->timeout = 30;
    o->keep_days = 30;
    o->max_streams = FER_SERVER_DEFAULT_STREAMS;
    struct fer_opt opts[] = {
        {"host", FER_OPT_STR, &o->sc.host, "address to listen on (default 127.0.0.1)", NULL},
        {"port", FER_OPT_INT, &o->sc.port, "port (default 8080; 0 picks a free one)", NULL},
        {"db", FER_OPT_STR, &o->db,
         "feedback store: sqlite:PATH or postgresql://... (default " DEFAULT_DB ")", NULL},
        {"model", FER_OPT_STR, &o->eo.model_path,
         "a built-in model by name (fast) or a .fer file (default: fast)", NULL},
        FER_OPTS_DETECTOR(&o->detect),
        {"merge-disgust", FER_OPT_FLAG, &o->eo.merge_disgust,
         "answer in 6 classes: a 7-class model's disgust added to angry", NULL},
        {"align", FER_OPT_FLAG, &o->eo.align,
         "turn each face so that its eyes are level first (YuNet's landmarks)", NULL},
        {"threads", FER_OPT_INT, &o->sc.threads, "images analysed at once (default: one per core)",
         NULL},
        {"admin-token", FER_OPT_STR, &o->token,
         "bearer token for /v1/feedback/export (default: $FER_ADMIN_TOKEN; none: disabled)", NULL},
        {"max-upload-mb", FER_OPT_INT, &o->max_upload_mb, "largest request body (default 10)",
         NULL},
        {"max-megapixels", FER_OPT_INT, &o->max_mpix, "largest image (default 50)", NULL},
        {"timeout", FER_OPT_INT, &o->timeout, "seconds before an idle connection is closed (30)",
         NULL},
        {"web", FER_OPT_STR, &o->web, "the web app's folder (default: web)", NULL},
        {"report", FER_OPT_STR, &o->report,
         "a `fer report` folder to show at /report/ (default: a built-in model's own, "
         "as models/fer-resnet-report)",
         NULL},
        {"swagger-ui", FER_OPT_STR, &o->swagger,
         "swagger-ui-dist's folder (default: " FER_SERVER_SWAGGER_DIR ")", NULL},
        {"keep-days", FER_OPT_INT, &o->keep_days,
         "delete faces without feedback after this many days (default 30; 0 keeps all)", NULL},
        {"tls-cert", FER_OPT_STR, &o->sc.tls_cert,
         "PEM certificate file: serve HTTPS (with --tls-key)", NULL},
        {"tls-key", FER_OPT_STR, &o->sc.tls_key, "PEM private key file of --tls-cert", NULL},
        {"cors-origin", FER_OPT_STR, &o->sc.cors_origin,
         "an origin (https://app.example) or * whose pages may call the API (default: none)", NULL},
        {"rate-limit", FER_OPT_INT, &o->rate_limit,
         "predict and feedback requests a minute per client address; more get 429 "
         "(default 0: no limit)",
         NULL},
        {"max-streams", FER_OPT_INT, &o->max_streams,
         "live video streams (GET /v1/stream, the web app's webcam) open at once; more get "
         "503 (default 8)",
         NULL},
        {"quiet", FER_OPT_FLAG, &o->quiet, "no access log on stderr", NULL},
        FER_OPT_END,
    };
    struct fer_args args = {.command = "serve", .usage = USAGE, .opts = opts};
    int status = fer_args_read(argc, argv, &args);
    if (status != FER_ARGS_GO)
        return status;
    if (o->sc.port < 0 || o->sc.port > 65535 || o->max_upload_mb < 1 || o->max_upload_mb > 1024 ||
        o->max_mpix < 1 || o->max_mpix > 50 || o->timeout < 1 || o->sc.threads < 0 ||
        o->sc.threads > 1024 || o->keep_days < 0 || o->rate_limit < 0 || o->rate_limit > 1000000 ||
        o->max_streams < 1 || o->max_streams > 1024) {
        fprintf(stderr, "fer serve: out of range: --port 0-65535, --max-upload-mb 1-1024, "
                        "--max-megapixels 1-50, --timeout >= 1, --threads 0-1024, "
                        "--rate-limit 0-1000000, --max-streams 1-1024\n");
        return FER_EXIT_USAGE;
    }
    if ((status = fer_detect_opts_check(&args, &o->detect)) != FER_ARGS_GO)
        return status;
    fer_detect_opts_to_engine(&o->detect, &o->eo);
    return FER_ARGS_GO;
}

/* The server's settings from the options; the web app and Swagger UI looked for. */
static void configure(struct serve_options *o)
{
    struct fer_server_config *sc = &o->sc;
    sc->admin_token = o->token ? o->token : getenv("FER_ADMIN_TOKEN");
    sc->max_upload_bytes = (size_t)o->max_upload_mb * 1024 * 1024;
    sc->max_pixels = (size_t)o->max_mpix * 1000 * 1000;
    sc->timeout_s = (unsigned)o->timeout;
    sc->rate_limit = (unsigned)o->rate_limit;
    sc->max_streams = (unsigned)o->max_streams;
    sc->log_requests = !o->quiet;
    sc->web_dir = o->web ? o->web : find_dir("web", o->web_buf, sizeof(o->web_buf));
    sc->swagger_dir =
        o->swagger ? o->swagger
                   : find_dir(FER_SERVER_SWAGGER_DIR, o->swagger_buf, sizeof(o->swagger_buf));
    /* a built-in model's report ships with it; another model's is the user's to make */
    struct fer_builtin_model builtin;
    sc->report_dir = o->report ? o->report
                     : fer_builtin_model_find(o->eo.model_path, &builtin)
                         ? find_dir(builtin.report, o->report_buf, sizeof(o->report_buf))
                         : NULL;
    if (o->report && !is_dir(o->report))
        fprintf(stderr, "fer serve: warning: no report folder %s: /report/ will answer 404\n",
                o->report);
    if (!sc->web_dir || !is_dir(sc->web_dir))
        fprintf(stderr, "fer serve: warning: no web app folder %s: / will answer 404\n",
                o->web ? o->web : "web");
    if (!sc->swagger_dir || !is_dir(sc->swagger_dir))
        fprintf(stderr,
                "fer serve: warning: Swagger UI not found (%s): /docs shows how to "
                "install it\n",
                o->swagger ? o->swagger : FER_SERVER_SWAGGER_DIR);
}

/* Blocks the stop signals in every thread the server starts; the main thread waits for them. */
static void block_stop_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int fer_cmd_serve(int argc, char **argv)
{
    struct serve_options *o = fer_calloc(1, sizeof(*o));
    if (!o) {
        fprintf(stderr, "fer serve: out of memory\n");
        return FER_EXIT_FAIL;
    }
    int status = read_options(argc, argv, o);
    if (status != FER_ARGS_GO) {
        fer_free(o);
        return status;
    }
    configure(o);
    block_stop_signals();
    char err[FER_ERR_LEN];
    fer_engine *engine = NULL;
    fer_store *store = NULL;
    fer_server *server = NULL;
    status = FER_EXIT_FAIL;
    if (fer_engine_open(&o->eo, &engine, err) != FER_OK || make_db_parent(o->db, err) != 0 ||
        fer_store_open(o->db, &store, err) != FER_OK ||
        fer_server_start(&o->sc, engine, store, &server, err) != FER_OK) {
        fprintf(stderr, "fer serve: %s\n", err);
        goto end;
    }
    fprintf(stderr, "fer serve: model %s (%s), store %s, %s\n", fer_engine_model_name(engine),
            fer_engine_model_version(engine), fer_store_name(store),
            o->sc.admin_token && o->sc.admin_token[0] ? "export enabled"
                                                      : "export disabled (no admin token)");
    print_address(o->sc.host, fer_server_port(server), o->sc.tls_cert != NULL);
    wait_for_signal(store, o->keep_days);
    status = FER_EXIT_OK;
end:
    fer_server_stop(server);
    fer_store_close(store);
    fer_engine_close(engine);
    fer_free(o);
    return status;
}
