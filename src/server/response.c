/*
 * response.c - the reply a handler builds (JSON, JSON errors, text, files, extra headers),
 * sending it through libmicrohttpd with the headers every response carries, and reading the
 * parts of a request that handlers need.
 */
#include <ctype.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/utf8.h"
#include "server/server_internal.h"

void fer_reply_clear(struct fer_reply *r)
{
    if (!r->body_static)
        fer_free(r->body);
    if (r->fd >= 0)
        close(r->fd);
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

void fer_reply_take(struct fer_request *rq, unsigned status, const char *content_type, char *buf,
                    size_t len)
{
    struct fer_reply *r = &rq->reply;
    if (!r->body_static)
        fer_free(r->body);
    r->body_static = 0;
    r->body = buf;
    r->len = len;
    r->status = buf ? status : 0;
    r->content_type = content_type;
}

void fer_reply_static(struct fer_request *rq, unsigned status, const char *content_type,
                      const char *text, size_t len)
{
    fer_reply_take(rq, status, content_type, NULL, 0);
    rq->reply.body = (char *)text;
    rq->reply.body_static = 1;
    rq->reply.len = len;
    rq->reply.status = status;
}

void fer_reply_json(struct fer_request *rq, unsigned status, json_t *o)
{
    /* jansson allocates with malloc, which is what fer_free releases */
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    fer_reply_take(rq, status, "application/json", s, s ? strlen(s) : 0);
    fer_reply_header(rq, "Cache-Control", "no-store");
}

void fer_reply_error(struct fer_request *rq, unsigned status, const char *fmt, ...)
{
    char msg[FER_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fer_utf8_sanitize(msg); /* messages quote what clients sent; JSON strings are UTF-8 */
    if (rq->srv->cfg.log_requests && status >= 500)
        fprintf(stderr, "fer serve: %s %s: %u %s\n", rq->method, rq->url, status, msg);
    fer_reply_json(rq, status, json_pack("{s:s}", "error", msg));
}

void fer_reply_header(struct fer_request *rq, const char *name, const char *value)
{
    struct fer_reply *r = &rq->reply;
    if (r->n_headers == FER_REPLY_HEADERS)
        return;
    snprintf(r->headers[r->n_headers].name, sizeof(r->headers[0].name), "%s", name);
    snprintf(r->headers[r->n_headers].value, sizeof(r->headers[0].value), "%s", value);
    r->n_headers++;
}

enum MHD_Result fer_reply_send(struct fer_request *rq, struct MHD_Connection *c)
{
    struct fer_reply *r = &rq->reply;
    struct MHD_Response *resp = NULL;
    if (r->status && r->upgrade) {
        resp = MHD_create_response_for_upgrade(fer_stream_upgraded, rq->srv);
    } else if (r->status && r->fd >= 0) {
        resp = MHD_create_response_from_fd(r->fd_size, r->fd);
        if (resp)
            r->fd = -1; /* MHD closes it */
    } else if (r->status && r->body_static) {
        resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_PERSISTENT);
    } else if (r->status) {
        resp = MHD_create_response_from_buffer_with_free_callback(r->len, r->body, fer_free);
        if (resp)
            r->body = NULL; /* MHD frees it */
    }
    if (!resp) {
        fer_reply_clear(r);
        return MHD_NO; /* out of memory: MHD closes the connection */
    }
    if (r->content_type)
        MHD_add_response_header(resp, "Content-Type", r->content_type);
    for (int i = 0; i < r->n_headers; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Server", "fer");
    fer_guard_cors_headers(rq, resp);
    enum MHD_Result ret = MHD_queue_response(c, r->status, resp);
    MHD_destroy_response(resp);
    if (ret == MHD_YES)
        rq->status = r->status;
    fer_reply_clear(r);
    return ret;
}

unsigned fer_http_status_for(enum fer_status st)
{
    switch (st) {
    case FER_OK:
        return MHD_HTTP_OK;
    case FER_ERR_LIMIT:
        return MHD_HTTP_CONTENT_TOO_LARGE;
    case FER_ERR_NOMEM:
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    case FER_ERR_IO:
    case FER_ERR_STATE:
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    default:
        return MHD_HTTP_BAD_REQUEST;
    }
}

void fer_request_media_type(const struct fer_request *rq, char *out, size_t cap)
{
    const char *ct = rq->content_type;
    size_t n = 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    for (; ct[n] && ct[n] != ';' && ct[n] != ' ' && ct[n] != '\t' && n + 1 < cap; n++)
        out[n] = (char)tolower((unsigned char)ct[n]);
    out[n] = 0;
}

void fer_request_client_text(const struct fer_request *rq, char *out, size_t cap)
{
    socklen_t len = rq->client.sa.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                        : sizeof(struct sockaddr_in);
    if (!rq->client_set ||
        getnameinfo(&rq->client.sa, len, out, (socklen_t)cap, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(out, cap, "unknown");
}

const char *fer_request_arg(const struct fer_request *rq, const char *key)
{
    for (int i = 0; i < rq->n_args; i++)
        if (!strcmp(rq->args[i].key, key))
            return rq->args[i].value;
    return NULL;
}

int fer_request_flag(const struct fer_request *rq, const char *key)
{
    const char *v = fer_request_arg(rq, key);
    if (!v)
        return 0;
    return !v[0] || !strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
           !strcasecmp(v, "on");
}

json_t *fer_request_json_object(const struct fer_request *rq, char *msg)
{
    json_error_t jerr;
    if (rq->len == 0 || !rq->body) {
        snprintf(msg, FER_ERR_LEN, "the request body is empty: expected a JSON object");
        return NULL;
    }
    json_t *o = json_loadb((const char *)rq->body, rq->len, JSON_REJECT_DUPLICATES, &jerr);
    if (json_is_object(o))
        return o;
    if (o)
        snprintf(msg, FER_ERR_LEN, "the JSON body must be an object");
    else
        snprintf(msg, FER_ERR_LEN, "malformed JSON at line %d column %d: %s", jerr.line,
                 jerr.column, jerr.text);
    json_decref(o);
    return NULL;
}
