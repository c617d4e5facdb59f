/*
 * server.h - fer's HTTP server: the REST API, its OpenAPI document, the web app and the
 * Swagger UI page, on libmicrohttpd with a pool of threads.
 *
 *   GET  /v1/health                      liveness, the model, the store, the limits
 *   POST /v1/predict                     faces and emotions of an image (multipart, raw, JSON)
 *   POST /v1/feedback                    the right emotion for a face (by id or by crop), or
 *                                        "not_a_face"
 *   GET  /v1/feedback/export             stored feedback as FER2013 CSV, or with
 *                                        format=negatives the "not a face" rows (admin token)
 *   GET  /v1/stream                      live video: a WebSocket, one frame a binary message,
 *                                        one text message of tracked faces back (stream.c)
 *   GET  /metrics                        Prometheus text
 *   GET  /openapi.json, /docs            the API description and Swagger UI
 *   GET  /report/                        the model's report (a `fer report` folder)
 *   GET  /, /app.js, ...                 the web app (files of web_dir)
 *
 * Every error is a JSON body {"error": "..."} with a 4xx or 5xx status. Each request body is
 * held in memory up to max_upload_bytes (all of them together up to 32 times that, past which
 * uploads get 503); each connection has a timeout and a memory limit.
 * Two polling threads read requests and write replies; prediction, feedback and export run on
 * `threads` worker threads with their connections suspended meanwhile, so health checks and
 * metrics answer at once under load. The engine and the store are thread-safe.
 */
#ifndef FER_SERVER_SERVER_H
#define FER_SERVER_SERVER_H

#include <stddef.h>

#include "core/status.h"
#include "fer.h"
#include "storage/store.h"

#define FER_SERVER_DEFAULT_UPLOAD  (10u * 1024 * 1024)
#define FER_SERVER_DEFAULT_PIXELS  ((size_t)FER_DEFAULT_MAX_MEGAPIXELS * 1000 * 1000)
#define FER_SERVER_DEFAULT_STREAMS 8
#define FER_SERVER_SWAGGER_DIR     "build/npm/node_modules/swagger-ui-dist"
/* The longest admin token accepted at start; longer ones are refused with a message. */
#define FER_MAX_ADMIN_TOKEN 256

struct fer_server_config {
    const char *host;         /* numeric IPv4/IPv6 address or a host name (default 127.0.0.1) */
    int port;                 /* 0: an ephemeral port, see fer_server_port (default 8080) */
    int threads;              /* worker threads: requests analysed at once; <= 0: one per core */
    const char *admin_token;  /* the bearer token for the export; NULL or "": export disabled */
    size_t max_upload_bytes;  /* largest request body (default 10 MiB); larger: 413 */
    size_t max_pixels;        /* largest image (default FER_DEFAULT_MAX_MEGAPIXELS); larger: 413 */
    unsigned timeout_s;       /* idle connections are closed after this (default 30) */
    unsigned max_connections; /* open connections at most (default 1000) */
    const char *web_dir;      /* the web app's files; NULL: none, / answers 404 */
    const char *swagger_dir;  /* swagger-ui-dist's files; NULL or missing: /docs says so */
    const char *report_dir;   /* a `fer report` folder shown at /report/; NULL: /report says
                                 how to make one */
    int log_requests;         /* 1: one line per request on stderr */
    const char *tls_cert;     /* PEM certificate (chain) file: HTTPS; NULL: plain HTTP */
    const char *tls_key;      /* its PEM private key file; needed with tls_cert */
    const char *cors_origin;  /* an origin ("https://app.example") or "*" that may call the API
                                 from a browser; NULL: no CORS headers (the default) */
    unsigned rate_limit;      /* predict and feedback requests a minute per client address;
                                 over it: 429 with Retry-After. 0: no limit */
    unsigned max_streams;     /* WebSocket streams (GET /v1/stream) open at once (default 8);
                                 more: 503 */
};

typedef struct fer_server fer_server;

void fer_server_config_default(struct fer_server_config *c);

/*
 * Starts serving in background threads and returns. engine and store are borrowed and must
 * outlive the server; the config's strings are copied. FER_ERR_IO when the address cannot be
 * bound (in use, no permission), FER_ERR_ARG for a bad config.
 */
enum fer_status fer_server_start(const struct fer_server_config *c, fer_engine *engine,
                                 fer_store *store, fer_server **out, char *err);

/* The port the server listens on (the chosen one when the config said 0). */
int fer_server_port(const fer_server *s);

/* Stops accepting, finishes or closes the open connections, joins the threads, frees. */
void fer_server_stop(fer_server *s);

#endif
