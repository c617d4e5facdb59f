/*
 * routes.c - the request life cycle on top of libmicrohttpd: match the route, copy what the
 * handler needs from the connection, buffer the body up to its limit (refusing larger ones
 * with 413, early when Content-Length says so), then run the handler, here or on the worker
 * pool with the connection suspended, and send its reply. On completion: metrics and the
 * access log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/progress.h"
#include "server/server_internal.h"

#define SMALL_BODY_LIMIT (64u * 1024) /* bodies of requests that expect none */
#define MAX_URI_LEN      8192         /* longer request targets get 414 */
#define MAX_QUERY_ARGS   64           /* more query arguments get 414 */

/* The con_cls of a request whose target fer_server_uri_guard refused. */
static char URI_REFUSED;

void *fer_server_uri_guard(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    const char *q = strchr(uri, '?');
    size_t amps = 0;
    for (const char *p = q; p && *p; p++)
        amps += *p == '&';
    if (strlen(uri) <= MAX_URI_LEN && amps < MAX_QUERY_ARGS)
        return NULL;
    /*
     * libmicrohttpd 0.9.75 parses the query into its per-connection pool after this callback;
     * when the pool runs out it queues a 431 that it never sends and the client waits for the
     * timeout. uri points into MHD's own writable read buffer: ending it at the '?' makes the
     * query empty, and begin() answers 414.
     */
    if (q)
        ((char *)q)[1] = '\0';
    return &URI_REFUSED;
}

static enum MHD_Result count_content_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                            const char *value)
{
    (void)kind;
    (void)value;
    if (!strcasecmp(key, "Content-Length"))
        ++*(unsigned *)cls;
    return MHD_YES;
}

static const struct fer_route ROUTES[] = {
    {"/v1/health", "GET", FER_ROUTE_HEALTH, fer_api_health, 0, 0},
    {"/v1/predict", "POST", FER_ROUTE_PREDICT, fer_api_predict, 0, 1},
    {"/v1/feedback", "POST", FER_ROUTE_FEEDBACK, fer_api_feedback, 0, 1},
    {"/v1/feedback/export", "GET", FER_ROUTE_EXPORT, fer_api_export, 0, 1},
    {"/v1/stream", "GET", FER_ROUTE_STREAM, fer_api_stream, 0, 0},
    {"/metrics", "GET", FER_ROUTE_METRICS, fer_api_metrics, 0, 0},
    {"/openapi.json", "GET", FER_ROUTE_OPENAPI, fer_api_openapi, 0, 0},
    {"/docs", "GET", FER_ROUTE_DOCS, fer_static_docs, 0, 0},
    {"/docs/", "GET", FER_ROUTE_DOCS, fer_static_docs, 1, 0},
    {"/report", "GET", FER_ROUTE_STATIC, fer_static_report, 1, 0},
};
#define N_ROUTES (sizeof(ROUTES) / sizeof(ROUTES[0]))

static const struct fer_route STATIC_ROUTE = {"/", "GET", FER_ROUTE_STATIC, fer_static_web, 1, 0};

static int path_matches(const struct fer_route *r, const char *url)
{
    return r->prefix ? strncmp(url, r->path, strlen(r->path)) == 0 : strcmp(url, r->path) == 0;
}

static int method_matches(const struct fer_route *r, const char *method)
{
    return strcmp(method, r->method) == 0 ||
           (strcmp(r->method, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

/*
 * The route for method and url. *path_only receives the route whose path matches when the
 * method is wrong (405), else NULL.
 */
static const struct fer_route *find_route(const char *method, const char *url,
                                          const struct fer_route **path_only)
{
    *path_only = NULL;
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (!path_matches(&ROUTES[i], url))
            continue;
        if (method_matches(&ROUTES[i], method))
            return &ROUTES[i];
        *path_only = &ROUTES[i];
    }
    if (!*path_only && method_matches(&STATIC_ROUTE, method))
        return &STATIC_ROUTE;
    return NULL;
}

static enum MHD_Result copy_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    struct fer_request *rq = cls;
    if (rq->n_args == FER_REQUEST_ARGS)
        return MHD_NO;
    snprintf(rq->args[rq->n_args].key, sizeof(rq->args[0].key), "%s", key);
    snprintf(rq->args[rq->n_args].value, sizeof(rq->args[0].value), "%s", value ? value : "");
    rq->n_args++;
    return MHD_YES;
}

/* A header's value, truncated to fit; "" when absent. */
static void copy_header(struct MHD_Connection *c, const char *name, char *out, size_t cap)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(out, cap, "%s", h ? h : "");
}

/* The first call for a request: set up its state; refuse a declared oversize body at once. */
static enum MHD_Result begin(fer_server *s, struct MHD_Connection *c, const char *url,
                             const char *method, void **con_cls)
{
    int uri_refused = *con_cls == &URI_REFUSED;
    *con_cls = NULL;
    struct fer_request *rq = fer_calloc(1, sizeof(*rq));
    if (!rq)
        return MHD_NO;
    rq->srv = s;
    rq->start = fer_now();
    rq->reply.fd = -1;
    snprintf(rq->method, sizeof(rq->method), "%s", method);
    snprintf(rq->url, sizeof(rq->url), "%s", url);
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    snprintf(rq->content_type, sizeof(rq->content_type), "%s", h ? h : "");
    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    int w = snprintf(rq->authorization, sizeof(rq->authorization), "%s", h ? h : "");
    rq->authorization_truncated = w < 0 || (size_t)w >= sizeof(rq->authorization);
    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    snprintf(rq->origin, sizeof(rq->origin), "%s", h ? h : "");
    copy_header(c, "Host", rq->host, sizeof(rq->host));
    copy_header(c, "Idempotency-Key", rq->idempotency_key, sizeof(rq->idempotency_key));
    copy_header(c, "Upgrade", rq->upgrade, sizeof(rq->upgrade));
    copy_header(c, "Connection", rq->connection_header, sizeof(rq->connection_header));
    copy_header(c, "Sec-WebSocket-Key", rq->ws_key, sizeof(rq->ws_key));
    copy_header(c, "Sec-WebSocket-Version", rq->ws_version, sizeof(rq->ws_version));
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                               : sizeof(struct sockaddr_in);
        memcpy(&rq->client, ci->client_addr, len);
        rq->client_set = 1;
    }
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, copy_arg, rq);
    const struct fer_route *path_only;
    rq->route = find_route(method, url, &path_only);
    rq->route_id = rq->route ? rq->route->id : path_only ? path_only->id : FER_ROUTE_UNMATCHED;
    rq->limit = rq->route && !strcmp(rq->route->method, "POST") ? s->cfg.max_upload_bytes
                                                                : SMALL_BODY_LIMIT;
    *con_cls = rq;
    fer_metrics_request_begin(s->metrics);
    if (uri_refused) {
        fer_reply_error(rq, MHD_HTTP_URI_TOO_LONG,
                        "the request target is longer than %d bytes or has %d or more query "
                        "arguments",
                        MAX_URI_LEN, MAX_QUERY_ARGS);
        fer_reply_header(rq, "Connection", "close");
        return fer_reply_send(rq, c);
    }
    /* two Content-Length headers (libmicrohttpd reads the first): a smuggling attempt */
    unsigned n_lengths = 0;
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_content_length, &n_lengths);
    if (n_lengths > 1) {
        fer_reply_error(rq, MHD_HTTP_BAD_REQUEST, "more than one Content-Length header");
        fer_reply_header(rq, "Connection", "close");
        return fer_reply_send(rq, c);
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        errno = 0;
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || end == cl || n > rq->limit) {
            /*
             * Answered before the body is read: MHD then reads no more and closes the
             * connection after the response (clients that sent Expect: 100-continue never
             * send the body at all).
             */
            rq->too_large = 1;
            fer_reply_error(rq, MHD_HTTP_CONTENT_TOO_LARGE,
                            "the request body (%.30s bytes) is over the limit of %zu bytes", cl,
                            rq->limit);
            return fer_reply_send(rq, c);
        }
    }
    return MHD_YES;
}

/*
 * Reserves n more bytes of the server-wide body budget, so that many large uploads at once
 * cannot exhaust memory; 0 when it is spent.
 */
static int reserve(fer_server *s, size_t n)
{
    size_t now = atomic_fetch_add(&s->buffered, n);
    if (now + n <= s->max_buffered)
        return 1;
    atomic_fetch_sub(&s->buffered, n);
    return 0;
}

/* Appends a piece of the body, or counts it as discarded past the limit. */
static enum MHD_Result take_body(struct fer_request *rq, const char *data, size_t n)
{
    if (rq->too_large || rq->too_busy || n > rq->limit - rq->len) {
        rq->too_large |= !rq->too_busy;
        rq->discarded += n;
        /* a client streaming far past the limit is cut off rather than read forever */
        return rq->discarded > 4 * rq->limit + (1u << 20) ? MHD_NO : MHD_YES;
    }
    if (n > rq->cap - rq->len) {
        size_t cap = rq->cap ? rq->cap : 64 * 1024;
        while (cap - rq->len < n)
            cap *= 2;
        if (cap > rq->limit)
            cap = rq->limit;
        if (!reserve(rq->srv, cap - rq->cap)) {
            rq->too_busy = 1;
            rq->discarded += n;
            return MHD_YES;
        }
        uint8_t *p = fer_realloc(rq->body, cap);
        if (!p) {
            atomic_fetch_sub(&rq->srv->buffered, cap - rq->cap);
            return MHD_NO;
        }
        rq->body = p;
        rq->cap = cap;
    }
    memcpy(rq->body + rq->len, data, n);
    rq->len += n;
    return MHD_YES;
}

static void method_not_allowed(struct fer_request *rq, const char *allowed)
{
    char allow[32];
    snprintf(allow, sizeof(allow), "%s%s", allowed, strcmp(allowed, "GET") ? "" : ", HEAD");
    fer_reply_error(rq, MHD_HTTP_METHOD_NOT_ALLOWED, "%s is not allowed on %s; use %s", rq->method,
                    rq->url, allowed);
    fer_reply_header(rq, "Allow", allow);
}

/* The whole body is in: answer now, or hand the request to a worker. */
static enum MHD_Result dispatch(struct fer_request *rq, struct MHD_Connection *c)
{
    if (rq->too_large) {
        fer_reply_error(rq, MHD_HTTP_CONTENT_TOO_LARGE,
                        "the request body is over the limit of %zu bytes", rq->limit);
    } else if (rq->too_busy) {
        fer_reply_error(rq, MHD_HTTP_SERVICE_UNAVAILABLE,
                        "too many uploads at once: try again in a moment");
        fer_reply_header(rq, "Retry-After", "1");
    } else if (fer_guard_preflight(rq) || fer_guard_rate_limited(rq)) {
        /* answered */
    } else if (!rq->route) {
        const struct fer_route *path_only;
        find_route(rq->method, rq->url, &path_only);
        if (path_only)
            method_not_allowed(rq, path_only->method);
        else
            fer_reply_error(rq, MHD_HTTP_NOT_FOUND, "no route %s %s", rq->method, rq->url);
    } else if (rq->route->async) {
        rq->connection = c;
        rq->job = 1;
        /* suspended before it is queued, so that a worker cannot resume it first */
        MHD_suspend_connection(c);
        if (fer_workers_submit(rq->srv, rq) == 0)
            return MHD_YES;
        MHD_resume_connection(c);
        rq->job = 2;
        fer_reply_error(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is shutting down");
        return MHD_YES; /* sent when MHD calls again after the resume */
    } else {
        rq->route->handler(rq);
    }
    return fer_reply_send(rq, c);
}

enum MHD_Result fer_server_access(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    fer_server *s = cls;
    struct fer_request *rq = *con_cls;
    if (!rq || *con_cls == &URI_REFUSED)
        return begin(s, c, url, method, con_cls);
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return rq->status ? MHD_YES : take_body(rq, upload_data, n);
    }
    if (rq->status)
        return MHD_YES; /* answered early */
    if (rq->job == 2)
        return fer_reply_send(rq, c); /* a worker finished: resumed */
    if (rq->job == 1)
        return MHD_YES; /* still with a worker */
    return dispatch(rq, c);
}

void fer_server_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    fer_server *s = cls;
    struct fer_request *rq = *con_cls;
    if (!rq || *con_cls == &URI_REFUSED)
        return; /* with a URI logger, MHD completes requests that never reached begin() */
    double seconds = fer_now() - rq->start;
    fer_metrics_request_done(s->metrics, rq->route_id, rq->status, seconds);
    if (s->cfg.log_requests)
        fprintf(stderr, "fer serve: %s %s %u %.1f ms\n", rq->method, rq->url, rq->status,
                seconds * 1e3);
    fer_stream_abandon(s, rq);
    fer_reply_clear(&rq->reply);
    atomic_fetch_sub(&s->buffered, rq->cap);
    fer_free(rq->body);
    fer_free(rq);
    *con_cls = NULL;
}
