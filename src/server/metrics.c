/*
 * metrics.c - Prometheus counters and histograms behind one mutex. Status codes are counted
 * in an array indexed by code (100-599), printed only where non-zero.
 */
#include "server/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/progress.h"

/* Upper bounds of the latency buckets in seconds; +Inf is implied. */
static const double BUCKETS[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define N_BUCKETS (sizeof(BUCKETS) / sizeof(BUCKETS[0]))
#define MIN_CODE  100
#define N_CODES   500

struct route_stats {
    uint64_t by_code[N_CODES];
    uint64_t no_response;            /* the client left before a response was sent */
    uint64_t buckets[N_BUCKETS + 1]; /* not cumulative here; the last is +Inf */
    uint64_t count;
    double sum;
};

struct fer_metrics {
    pthread_mutex_t mu;
    double started;
    struct route_stats routes[FER_ROUTE_COUNT];
    uint64_t in_flight, images, faces, feedback;
    uint64_t stream_frames, streams_open;
};

static const char *const LABELS[FER_ROUTE_COUNT] = {
    "/v1/health",    "/v1/predict", "/v1/feedback", "/v1/feedback/export", "/v1/stream", "/metrics",
    "/openapi.json", "/docs",       "static",       "unmatched",
};

const char *fer_route_label(enum fer_route_id r)
{
    return (unsigned)r < FER_ROUTE_COUNT ? LABELS[r] : "unmatched";
}

enum fer_status fer_metrics_new(fer_metrics **out, char *err)
{
    *out = fer_calloc(1, sizeof(fer_metrics));
    if (!*out)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for the metrics");
    pthread_mutex_init(&(*out)->mu, NULL);
    (*out)->started = fer_now();
    return FER_OK;
}

void fer_metrics_free(fer_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    fer_free(m);
}

void fer_metrics_request_begin(fer_metrics *m)
{
    pthread_mutex_lock(&m->mu);
    m->in_flight++;
    pthread_mutex_unlock(&m->mu);
}

void fer_metrics_request_done(fer_metrics *m, enum fer_route_id r, unsigned status, double seconds)
{
    if ((unsigned)r >= FER_ROUTE_COUNT)
        r = FER_ROUTE_UNMATCHED;
    size_t b = 0;
    while (b < N_BUCKETS && seconds > BUCKETS[b])
        b++;
    pthread_mutex_lock(&m->mu);
    struct route_stats *s = &m->routes[r];
    if (status >= MIN_CODE && status < MIN_CODE + N_CODES)
        s->by_code[status - MIN_CODE]++;
    else
        s->no_response++;
    s->buckets[b]++;
    s->count++;
    s->sum += seconds;
    if (m->in_flight)
        m->in_flight--;
    pthread_mutex_unlock(&m->mu);
}

void fer_metrics_add_image(fer_metrics *m, size_t n_faces)
{
    pthread_mutex_lock(&m->mu);
    m->images++;
    m->faces += n_faces;
    pthread_mutex_unlock(&m->mu);
}

void fer_metrics_add_stream_frame(fer_metrics *m, size_t n_faces)
{
    pthread_mutex_lock(&m->mu);
    m->images++;
    m->faces += n_faces;
    m->stream_frames++;
    pthread_mutex_unlock(&m->mu);
}

void fer_metrics_streams_open(fer_metrics *m, int delta)
{
    pthread_mutex_lock(&m->mu);
    m->streams_open += (uint64_t)(int64_t)delta;
    pthread_mutex_unlock(&m->mu);
}

void fer_metrics_add_feedback(fer_metrics *m)
{
    pthread_mutex_lock(&m->mu);
    m->feedback++;
    pthread_mutex_unlock(&m->mu);
}

/* A growing text buffer; `failed` sticks after the first allocation failure. */
struct text {
    char *s;
    size_t len, cap;
    int failed;
};

__attribute__((format(printf, 2, 3))) static void put(struct text *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if (t->s && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 8192;
        while (cap - t->len <= (size_t)n)
            cap *= 2;
        char *p = fer_realloc(t->s, cap);
        if (!p) {
            t->failed = 1;
            return;
        }
        t->s = p;
        t->cap = cap;
    }
}

/* One unlabelled metric with its HELP and TYPE lines. */
static void put_scalar(struct text *t, const char *name, const char *type, const char *help,
                       uint64_t value)
{
    put(t, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
        (unsigned long long)value);
}

char *fer_metrics_render(fer_metrics *m, const char *extra, size_t *len)
{
    struct fer_metrics *snap = fer_malloc(sizeof(*snap));
    if (!snap)
        return NULL;
    pthread_mutex_lock(&m->mu);
    memcpy(snap, m, sizeof(*snap)); /* print from a copy: the lock is held only for this */
    pthread_mutex_unlock(&m->mu);
    struct text t = {0};
    put(&t, "# HELP fer_http_requests_total HTTP requests answered, by route and status code.\n"
            "# TYPE fer_http_requests_total counter\n");
    for (int r = 0; r < FER_ROUTE_COUNT; r++)
        for (int c = 0; c < N_CODES; c++)
            if (snap->routes[r].by_code[c])
                put(&t, "fer_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n", LABELS[r],
                    c + MIN_CODE, (unsigned long long)snap->routes[r].by_code[c]);
    put(&t, "# HELP fer_http_errors_total Requests answered with a 4xx or 5xx status, by route.\n"
            "# TYPE fer_http_errors_total counter\n");
    for (int r = 0; r < FER_ROUTE_COUNT; r++) {
        uint64_t e = 0;
        for (int c = 400 - MIN_CODE; c < N_CODES; c++)
            e += snap->routes[r].by_code[c];
        put(&t, "fer_http_errors_total{route=\"%s\"} %llu\n", LABELS[r], (unsigned long long)e);
    }
    put(&t, "# HELP fer_http_aborted_total Requests whose client left before a response.\n"
            "# TYPE fer_http_aborted_total counter\n");
    for (int r = 0; r < FER_ROUTE_COUNT; r++)
        if (snap->routes[r].no_response)
            put(&t, "fer_http_aborted_total{route=\"%s\"} %llu\n", LABELS[r],
                (unsigned long long)snap->routes[r].no_response);
    put(&t, "# HELP fer_http_request_duration_seconds Time from a request's headers to its "
            "completion.\n# TYPE fer_http_request_duration_seconds histogram\n");
    for (int r = 0; r < FER_ROUTE_COUNT; r++) {
        const struct route_stats *s = &snap->routes[r];
        if (!s->count && r != FER_ROUTE_PREDICT)
            continue;
        uint64_t cum = 0;
        for (size_t b = 0; b < N_BUCKETS; b++) {
            cum += s->buckets[b];
            put(&t, "fer_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                LABELS[r], BUCKETS[b], (unsigned long long)cum);
        }
        put(&t, "fer_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
            LABELS[r], (unsigned long long)s->count);
        put(&t, "fer_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", LABELS[r], s->sum);
        put(&t, "fer_http_request_duration_seconds_count{route=\"%s\"} %llu\n", LABELS[r],
            (unsigned long long)s->count);
    }
    put_scalar(&t, "fer_http_requests_in_flight", "gauge", "Requests being handled now.",
               snap->in_flight);
    put_scalar(&t, "fer_images_analyzed_total", "counter", "Images run through face detection.",
               snap->images);
    put_scalar(&t, "fer_faces_seen_total", "counter", "Faces found and classified.", snap->faces);
    put_scalar(&t, "fer_stream_frames_total", "counter",
               "Frames analysed on WebSocket streams (also counted in "
               "fer_images_analyzed_total).",
               snap->stream_frames);
    put_scalar(&t, "fer_streams_open", "gauge", "WebSocket streams open now.", snap->streams_open);
    put_scalar(&t, "fer_feedback_total", "counter", "Corrections stored.", snap->feedback);
    put(&t,
        "# HELP fer_uptime_seconds Seconds since the server started.\n"
        "# TYPE fer_uptime_seconds gauge\nfer_uptime_seconds %.3f\n",
        fer_now() - snap->started);
    if (extra)
        put(&t, "%s", extra);
    fer_free(snap);
    if (t.failed) {
        fer_free(t.s);
        return NULL;
    }
    *len = t.len;
    return t.s;
}
