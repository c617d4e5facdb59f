/*
 * guard.c - what the server checks about a client before a handler runs: the per-client rate
 * limit on the routes that cost work (predict, feedback) and cross-origin requests (CORS).
 *
 * The rate limit is a token bucket per client address: rate_limit requests a minute, up to
 * rate_limit at once. Buckets live in a fixed open-addressed table; when a probe window is
 * full, the bucket idle the longest makes room (a client evicted so starts again with a full
 * bucket: the table bounds memory, not precision). Behind a proxy every client has the
 * proxy's address; the limit then applies to the proxy (X-Forwarded-For is not trusted).
 *
 * CORS is off unless --cors-origin names an origin (or "*"): then requests from that origin
 * get Access-Control-Allow-Origin, and OPTIONS preflights are answered with 204.
 */
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/alloc.h"
#include "core/progress.h"
#include "server/server_internal.h"

#define PROBE 8

struct bucket {
    uint8_t key[17]; /* family byte, then the IPv4 or IPv6 address */
    int used;
    double tokens, last;
};

struct fer_rate_table {
    pthread_mutex_t mu;
    struct bucket slots[FER_RATE_SLOTS];
};

enum fer_status fer_rate_table_new(struct fer_rate_table **out, char *err)
{
    *out = fer_calloc(1, sizeof(**out));
    if (!*out)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for the rate limiter");
    pthread_mutex_init(&(*out)->mu, NULL);
    return FER_OK;
}

void fer_rate_table_free(struct fer_rate_table *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->mu);
    fer_free(t);
}

/* The client's address as a table key; 0 when the address is unknown. */
static int client_key(const struct sockaddr *sa, uint8_t key[17])
{
    memset(key, 0, 17);
    if (!sa)
        return 0;
    if (sa->sa_family == AF_INET) {
        key[0] = 4;
        memcpy(key + 1, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return 1;
    }
    if (sa->sa_family == AF_INET6) {
        key[0] = 6;
        memcpy(key + 1, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        return 1;
    }
    return 0;
}

static uint32_t hash_key(const uint8_t key[17])
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int i = 0; i < 17; i++)
        h = (h ^ key[i]) * 16777619u;
    return h;
}

/* The bucket for key: found, or a free or the longest idle one in the probe window, reset. */
static struct bucket *find_bucket(struct fer_rate_table *t, const uint8_t key[17], double now,
                                  double capacity)
{
    uint32_t h = hash_key(key);
    struct bucket *oldest = NULL;
    for (int i = 0; i < PROBE; i++) {
        struct bucket *b = &t->slots[(h + (uint32_t)i) % FER_RATE_SLOTS];
        if (b->used && !memcmp(b->key, key, 17))
            return b;
        if (!oldest || !b->used || (oldest->used && b->last < oldest->last))
            oldest = b;
    }
    memcpy(oldest->key, key, 17);
    oldest->used = 1;
    oldest->tokens = capacity;
    oldest->last = now;
    return oldest;
}

int fer_rate_take(struct fer_rate_table *t, unsigned per_minute, const struct sockaddr *client,
                  double now, int *retry_after_s)
{
    uint8_t key[17];
    if (!t || !per_minute || !client_key(client, key))
        return 1;
    double capacity = per_minute, per_second = per_minute / 60.0;
    pthread_mutex_lock(&t->mu);
    struct bucket *b = find_bucket(t, key, now, capacity);
    b->tokens = fmin(capacity, b->tokens + (now - b->last) * per_second);
    b->last = now;
    int ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    else
        *retry_after_s = (int)ceil((1.0 - b->tokens) / per_second);
    pthread_mutex_unlock(&t->mu);
    return ok;
}

int fer_guard_rate_limited(struct fer_request *rq)
{
    fer_server *s = rq->srv;
    if (!s->cfg.rate_limit || !rq->route ||
        (rq->route_id != FER_ROUTE_PREDICT && rq->route_id != FER_ROUTE_FEEDBACK &&
         rq->route_id != FER_ROUTE_STREAM))
        return 0;
    int retry = 1;
    if (fer_rate_take(s->rate, s->cfg.rate_limit, rq->client_set ? &rq->client.sa : NULL, fer_now(),
                      &retry))
        return 0;
    char value[16];
    snprintf(value, sizeof(value), "%d", retry < 1 ? 1 : retry);
    fer_reply_error(rq, MHD_HTTP_TOO_MANY_REQUESTS,
                    "more than %u requests a minute from this address: try again in %s s",
                    s->cfg.rate_limit, value);
    fer_reply_header(rq, "Retry-After", value);
    return 1;
}

/* 1 when the request's Origin may read the answer. */
static int origin_allowed(const struct fer_request *rq)
{
    const char *allowed = rq->srv->cfg.cors_origin;
    return allowed && rq->origin[0] && (!strcmp(allowed, "*") || !strcmp(allowed, rq->origin));
}

int fer_guard_origin_may_connect(const struct fer_request *rq)
{
    if (!rq->origin[0] || origin_allowed(rq))
        return 1;
    const char *host = strstr(rq->origin, "://");
    return host && rq->host[0] && !strcasecmp(host + 3, rq->host);
}

int fer_guard_preflight(struct fer_request *rq)
{
    if (strcmp(rq->method, "OPTIONS") != 0 || !rq->srv->cfg.cors_origin)
        return 0;
    if (!origin_allowed(rq)) {
        fer_reply_error(rq, MHD_HTTP_FORBIDDEN,
                        "cross-origin requests from '%.100s' are not "
                        "allowed (fer serve --cors-origin)",
                        rq->origin[0] ? rq->origin : "(no Origin header)");
        return 1;
    }
    fer_reply_static(rq, MHD_HTTP_NO_CONTENT, NULL, "", 0);
    fer_reply_header(rq, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    fer_reply_header(rq, "Access-Control-Allow-Headers", "Content-Type, Authorization");
    fer_reply_header(rq, "Access-Control-Max-Age", "600");
    return 1;
}

void fer_guard_cors_headers(const struct fer_request *rq, struct MHD_Response *resp)
{
    if (!origin_allowed(rq))
        return;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin",
                            strcmp(rq->srv->cfg.cors_origin, "*") ? rq->origin : "*");
    MHD_add_response_header(resp, "Vary", "Origin");
}
