/*
 * server.c - starting and stopping the libmicrohttpd daemon: the listening address, the
 * thread pool, per-connection limits, and the server object the handlers share.
 */
#include "server/server.h"

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/pool.h"
#include "core/progress.h"
#include "server/server_internal.h"

#define CONNECTION_MEMORY (128u * 1024) /* MHD's per-connection pool: headers, read buffer */

void fer_server_config_default(struct fer_server_config *c)
{
    memset(c, 0, sizeof(*c));
    c->host = "127.0.0.1";
    c->port = 8080;
    c->max_upload_bytes = FER_SERVER_DEFAULT_UPLOAD;
    c->max_pixels = FER_SERVER_DEFAULT_PIXELS;
    c->timeout_s = 30;
    c->max_connections = 1000;
    c->max_streams = FER_SERVER_DEFAULT_STREAMS;
    c->web_dir = "web";
    c->swagger_dir = FER_SERVER_SWAGGER_DIR;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = 0;
    fprintf(stderr, "fer serve: %s\n", line);
}

/* A copy of s, or NULL for NULL; *failed is set when out of memory. */
static char *dup_or_null(const char *s, int *failed)
{
    if (!s)
        return NULL;
    char *d = fer_strdup(s);
    if (!d)
        *failed = 1;
    return d;
}

static enum fer_status copy_config(fer_server *s, const struct fer_server_config *c, char *err)
{
    s->cfg = *c;
    if (!s->cfg.host || !s->cfg.host[0])
        s->cfg.host = "127.0.0.1";
    if (!s->cfg.max_upload_bytes)
        s->cfg.max_upload_bytes = FER_SERVER_DEFAULT_UPLOAD;
    if (!s->cfg.max_pixels)
        s->cfg.max_pixels = FER_SERVER_DEFAULT_PIXELS;
    if (!s->cfg.timeout_s)
        s->cfg.timeout_s = 30;
    if (!s->cfg.max_connections)
        s->cfg.max_connections = 1000;
    if (!s->cfg.max_streams)
        s->cfg.max_streams = FER_SERVER_DEFAULT_STREAMS;
    if (s->cfg.threads <= 0)
        s->cfg.threads = fer_cpu_count();
    /* room for many full-size uploads at once, not for a thousand */
    s->max_buffered = 32 * s->cfg.max_upload_bytes;
    atomic_init(&s->buffered, 0);
    if (s->cfg.port < 0 || s->cfg.port > 65535)
        return fer_errorf(err, FER_ERR_ARG, "port %d is out of range 0-65535", s->cfg.port);
    if (s->cfg.threads > 1024)
        return fer_errorf(err, FER_ERR_ARG, "%d threads is too many (at most 1024)",
                          s->cfg.threads);
    if (c->admin_token && strlen(c->admin_token) > FER_MAX_ADMIN_TOKEN)
        return fer_errorf(err, FER_ERR_ARG,
                          "the admin token is %zu characters long: at most %d are accepted",
                          strlen(c->admin_token), FER_MAX_ADMIN_TOKEN);
    for (const char *t = c->admin_token; t && *t; t++)
        if (*t <= ' ' || *t == 127)
            return fer_errorf(err, FER_ERR_ARG,
                              "the admin token has a space or control character: clients "
                              "cannot send it in an Authorization header");
    int failed = 0;
    s->cfg.host = s->host = dup_or_null(s->cfg.host, &failed);
    s->cfg.admin_token = s->admin_token =
        dup_or_null(c->admin_token && c->admin_token[0] ? c->admin_token : NULL, &failed);
    s->cfg.web_dir = s->web_dir = dup_or_null(c->web_dir, &failed);
    s->cfg.swagger_dir = s->swagger_dir = dup_or_null(c->swagger_dir, &failed);
    s->cfg.report_dir = s->report_dir = dup_or_null(c->report_dir, &failed);
    s->cfg.cors_origin = s->cors_origin =
        dup_or_null(c->cors_origin && c->cors_origin[0] ? c->cors_origin : NULL, &failed);
    s->cfg.tls_cert = s->cfg.tls_key = NULL; /* read by read_tls; not kept */
    if (failed)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for the server's settings");
    return FER_OK;
}

/* A PEM file's contents, NUL-terminated, for MHD. */
static enum fer_status read_pem(const char *path, const char *what, char **out, char *err)
{
    uint8_t *data;
    size_t len;
    enum fer_status st = fer_file_read(path, what, 1u << 20, &data, &len, err);
    if (st != FER_OK)
        return st;
    *out = fer_malloc(len + 1);
    if (*out) {
        memcpy(*out, data, len);
        (*out)[len] = 0;
    }
    fer_free(data);
    if (!*out)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory reading %s", path);
    if (!strstr(*out, "-----BEGIN "))
        return fer_errorf(err, FER_ERR_FORMAT, "%s %s is not in PEM form (no -----BEGIN line)",
                          what, path);
    return FER_OK;
}

/* The certificate and key for HTTPS, when the config names them. */
static enum fer_status read_tls(fer_server *s, const struct fer_server_config *c, char *err)
{
    if (!c->tls_cert && !c->tls_key)
        return FER_OK;
    if (!c->tls_cert || !c->tls_key)
        return fer_errorf(err, FER_ERR_ARG, "HTTPS needs both --tls-cert and --tls-key");
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return fer_errorf(err, FER_ERR_ARG, "this libmicrohttpd was built without TLS");
    enum fer_status st = read_pem(c->tls_cert, "TLS certificate", &s->tls_cert_pem, err);
    if (st == FER_OK)
        st = read_pem(c->tls_key, "TLS key", &s->tls_key_pem, err);
    return st;
}

/* The model's class names joined with commas, and its info gauge for /metrics. */
static enum fer_status describe_model(fer_server *s, char *err)
{
    size_t n = 0;
    int k = fer_engine_class_count(s->engine);
    for (int i = 0; i < k; i++) {
        int w = snprintf(s->classes + n, sizeof(s->classes) - n, "%s%s", i ? "," : "",
                         fer_engine_class_name(s->engine, i));
        if (w < 0 || (size_t)w >= sizeof(s->classes) - n)
            return fer_errorf(err, FER_ERR_ARG, "the model's class names are too long");
        n += (size_t)w;
    }
    char line[512];
    snprintf(line, sizeof(line),
             "# HELP fer_model_info The model being served.\n# TYPE fer_model_info gauge\n"
             "fer_model_info{name=\"%s\",version=\"%s\",classes=\"%d\"} 1\n",
             fer_engine_model_name(s->engine), fer_engine_model_version(s->engine), k);
    s->model_info_metrics = fer_strdup(line);
    if (!s->model_info_metrics)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory");
    return FER_OK;
}

static enum fer_status start_daemon(fer_server *s, char *err)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", s->cfg.port);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(s->cfg.host, port, &hints, &ai);
    if (gai != 0)
        return fer_errorf(err, FER_ERR_ARG, "cannot resolve host '%s': %s", s->cfg.host,
                          gai_strerror(gai));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct MHD_OptionItem tls_opt[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    if (s->tls_cert_pem)
        flags |= MHD_USE_TLS;
    /* polling threads only read and write: the work is the workers' */
    int io_threads = fer_cpu_count() > 1 ? 2 : 1;
    struct MHD_OptionItem pool_opt[] = {
        {MHD_OPTION_THREAD_POOL_SIZE, io_threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    /* the logger goes first so that MHD reports problems with the other options through it */
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)s->cfg.port, NULL, NULL, fer_server_access, s, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_ARRAY,
        io_threads > 1 ? pool_opt : pool_opt + 1, MHD_OPTION_ARRAY,
        s->tls_cert_pem ? tls_opt : tls_opt + 2, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)s->cfg.timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_connections, MHD_OPTION_NOTIFY_COMPLETED,
        fer_server_completed, s, MHD_OPTION_URI_LOG_CALLBACK, fer_server_uri_guard, s,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->daemon && s->tls_cert_pem)
        return fer_errorf(err, FER_ERR_IO,
                          "cannot start HTTPS on %s port %d: the port is in use, or the TLS "
                          "certificate and key do not load or do not match (see above)",
                          s->cfg.host, s->cfg.port);
    if (!s->daemon)
        return fer_errorf(err, FER_ERR_IO,
                          "cannot listen on %s port %d (in use, or not an address of this "
                          "machine?)",
                          s->cfg.host, s->cfg.port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->cfg.port;
    return FER_OK;
}

enum fer_status fer_server_start(const struct fer_server_config *c, fer_engine *engine,
                                 fer_store *store, fer_server **out, char *err)
{
    *out = NULL;
    if (!engine || !store)
        return fer_errorf(err, FER_ERR_ARG, "the server needs an engine and a store");
    fer_server *s = fer_calloc(1, sizeof(*s));
    if (!s)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for the server");
    s->engine = engine;
    s->store = store;
    pthread_mutex_init(&s->streams.mu, NULL);
    pthread_cond_init(&s->streams.cv, NULL);
    s->started = fer_now();
    enum fer_status st = copy_config(s, c, err);
    if (st == FER_OK)
        st = read_tls(s, c, err);
    if (st == FER_OK && s->cfg.rate_limit)
        st = fer_rate_table_new(&s->rate, err);
    if (st == FER_OK)
        st = describe_model(s, err);
    if (st == FER_OK)
        st = fer_openapi_build(&s->openapi, &s->openapi_len, err);
    if (st == FER_OK)
        st = fer_metrics_new(&s->metrics, err);
    if (st == FER_OK)
        st = fer_workers_start(s, s->cfg.threads, err);
    if (st == FER_OK)
        st = start_daemon(s, err);
    if (st != FER_OK) {
        fer_server_stop(s);
        return st;
    }
    *out = s;
    return FER_OK;
}

int fer_server_port(const fer_server *s)
{
    return s->port;
}

void fer_server_stop(fer_server *s)
{
    if (!s)
        return;
    /* stop taking connections; finish the queued work, which resumes its connections; close */
    MHD_socket listener = s->daemon ? MHD_quiesce_daemon(s->daemon) : MHD_INVALID_SOCKET;
    fer_workers_stop(s);
    if (s->daemon)
        fer_streams_stop(s); /* upgraded connections are the application's to close first */
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    if (listener != MHD_INVALID_SOCKET)
        close(listener); /* a quiesced daemon leaves its socket to the caller */
    fer_metrics_free(s->metrics);
    fer_free(s->model_info_metrics);
    fer_free(s->openapi);
    fer_free(s->host);
    fer_free(s->admin_token);
    fer_free(s->web_dir);
    fer_free(s->swagger_dir);
    fer_free(s->report_dir);
    fer_free(s->cors_origin);
    fer_free(s->tls_cert_pem);
    fer_free(s->tls_key_pem);
    fer_rate_table_free(s->rate);
    pthread_mutex_destroy(&s->streams.mu);
    pthread_cond_destroy(&s->streams.cv);
    fer_free(s);
}
