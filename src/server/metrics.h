/*
 * metrics.h - the server's counters in Prometheus text format (version 0.0.4): requests by
 * route and status code, errors by route, a request-latency histogram per route, images
 * analysed, faces seen, feedback stored, and requests in flight. Every function may be called
 * from any thread; a mutex guards the counters (a few additions per request).
 */
#ifndef FER_SERVER_METRICS_H
#define FER_SERVER_METRICS_H

#include <stddef.h>

#include "core/status.h"

/* The routes that label the metrics: a fixed set, so label cardinality stays bounded. */
enum fer_route_id {
    FER_ROUTE_HEALTH,
    FER_ROUTE_PREDICT,
    FER_ROUTE_FEEDBACK,
    FER_ROUTE_EXPORT,
    FER_ROUTE_STREAM,
    FER_ROUTE_METRICS,
    FER_ROUTE_OPENAPI,
    FER_ROUTE_DOCS,
    FER_ROUTE_STATIC,
    FER_ROUTE_UNMATCHED,
    FER_ROUTE_COUNT
};

/* The label of a route, e.g. "/v1/predict". */
const char *fer_route_label(enum fer_route_id r);

typedef struct fer_metrics fer_metrics;

enum fer_status fer_metrics_new(fer_metrics **out, char *err);
void fer_metrics_free(fer_metrics *m);

/* A request began (in flight until fer_metrics_request_done). */
void fer_metrics_request_begin(fer_metrics *m);
/* A request ended: its route, HTTP status (0 when none was sent) and duration in seconds. */
void fer_metrics_request_done(fer_metrics *m, enum fer_route_id r, unsigned status, double seconds);
/* One image was analysed and held n_faces faces. */
void fer_metrics_add_image(fer_metrics *m, size_t n_faces);
void fer_metrics_add_feedback(fer_metrics *m);
/* One frame of a WebSocket stream was analysed (counted as an image too). */
void fer_metrics_add_stream_frame(fer_metrics *m, size_t n_faces);
/* A stream opened (+1) or ended (-1). */
void fer_metrics_streams_open(fer_metrics *m, int delta);

/*
 * The exposition text, fer_malloc'd and NUL-terminated (*len without the NUL); NULL when out
 * of memory. extra (may be NULL) is appended as is (e.g. the model's info gauge).
 */
char *fer_metrics_render(fer_metrics *m, const char *extra, size_t *len);

#endif
