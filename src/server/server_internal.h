/*
 * server_internal.h - what the files of src/server share: the server object, the state of one
 * request, the reply a handler builds, the worker pool and the route handlers.
 *
 * Threads: libmicrohttpd's few polling threads read requests and write replies and never
 * wait on the model. A route marked `async` (predict, feedback, export) is handed to the
 * worker pool with its connection suspended; the worker builds the reply and resumes the
 * connection, and the polling thread sends it. So health checks and metrics answer at once
 * under load, and time spent queued for a worker does not count as a client's idle time.
 * A handler sees only its struct fer_request: whatever it needs from the connection
 * (headers, query arguments, body) is copied there first.
 */
#ifndef FER_SERVER_INTERNAL_H
#define FER_SERVER_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "server/metrics.h"
#include "server/server.h"

struct fer_request;

/* The worker pool: a FIFO of suspended requests and the threads that serve it. */
struct fer_workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct fer_request *head, *tail;
    pthread_t *threads;
    int n_threads;
    int stopping;
};

/* stream.c: the open WebSocket streams, each served by its own thread. */
struct fer_stream;
struct fer_streams {
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* signalled when a stream ends */
    struct fer_stream *open;     /* a list of the streams whose threads run */
    unsigned n_open, n_reserved; /* reserved: upgrade answered, the socket not yet handed over */
    atomic_int stopping;
};

/* guard.c: the per-client rate limit's buckets (a fixed table). */
#define FER_RATE_SLOTS 4096
struct fer_rate_table;

struct fer_server {
    struct MHD_Daemon *daemon;
    fer_engine *engine; /* borrowed */
    fer_store *store;   /* borrowed */
    fer_metrics *metrics;
    struct fer_workers workers;
    struct fer_streams streams;
    struct fer_server_config cfg; /* strings point into the copies below */
    char *host, *admin_token, *web_dir, *swagger_dir, *cors_origin, *report_dir;
    char *tls_cert_pem, *tls_key_pem; /* the files' contents, NUL-terminated; NULL: plain HTTP */
    struct fer_rate_table *rate;      /* NULL: no rate limit */
    int port;
    double started;
    char classes[FER_STORE_CLASSES_LEN]; /* the model's class names, comma-separated */
    char *model_info_metrics;            /* the fer_model_info gauge line */
    char *openapi;                       /* the OpenAPI document */
    size_t openapi_len;
    atomic_size_t buffered; /* request body bytes held, all connections */
    size_t max_buffered;    /* past this, uploads are refused with 503 */
};

#define FER_REPLY_HEADERS 6

/* What a handler answers; sent by the polling thread with fer_reply_send. */
struct fer_reply {
    unsigned status;          /* 0: no reply (out of memory: the connection is closed) */
    const char *content_type; /* static */
    char *body;               /* fer_malloc'd, or static when body_static */
    size_t len;
    int body_static;
    int upgrade; /* 1: a 101 that hands the connection to a WebSocket stream (stream.c) */
    int fd;      /* >= 0: send fd_size bytes of this file instead of body */
    size_t fd_size;
    int n_headers;
    struct {
        char name[40];
        char value[320];
    } headers[FER_REPLY_HEADERS];
};

#define FER_REQUEST_ARGS 8

/* One request, from its headers to its completion (MHD's per-connection `con_cls`). */
struct fer_request {
    fer_server *srv;
    const struct fer_route *route; /* NULL: no route matched */
    enum fer_route_id route_id;
    char method[16]; /* copies, for the handler and the access log (truncated) */
    char url[256];
    char content_type[256]; /* the Content-Type header, "" when none */
    char authorization[FER_MAX_ADMIN_TOKEN + 64];
    char origin[256];         /* the Origin header, "" when none */
    char idempotency_key[80]; /* the Idempotency-Key header, "" when none; cut when longer */
    char host[256];           /* the Host header, "" when none */
    /* a WebSocket upgrade's headers, "" when absent */
    char upgrade[64], connection_header[128], ws_key[64], ws_version[16];
    union {
        struct sockaddr sa;
        struct sockaddr_in6 in6; /* room for either family */
    } client;
    int client_set;
    int authorization_truncated; /* the header did not fit: it cannot hold the token */
    struct {
        char key[32];
        char value[96];
    } args[FER_REQUEST_ARGS]; /* the first query arguments */
    int n_args;
    double start;
    unsigned status; /* the status sent, 0 until then */
    uint8_t *body;   /* the body so far (fer_malloc) */
    size_t len, cap;
    size_t limit;  /* bodies over this are refused with 413 */
    int too_large; /* the body passed the limit; the rest is discarded */
    int too_busy;  /* all bodies together passed the server's limit; discarded too */
    size_t discarded;
    /* the worker pool's part */
    struct MHD_Connection *connection;
    struct fer_request *next_job;
    int job;                   /* 0 none, 1 queued or running, 2 done */
    struct fer_stream *stream; /* an upgrade answered but not yet handed over (stream.c) */
    struct fer_reply reply;
};

typedef void (*fer_handler)(struct fer_request *rq);

struct fer_route {
    const char *path;
    const char *method; /* "GET" routes also answer HEAD */
    enum fer_route_id id;
    fer_handler handler;
    int prefix; /* 1: path is a prefix ("/docs/") */
    int async;  /* 1: runs on the worker pool */
};

/* routes.c: MHD's access handler and completion callback, and its URI logger, which refuses
   request targets with too many query arguments before MHD parses them (414). */
void *fer_server_uri_guard(void *cls, const char *uri, struct MHD_Connection *c);
enum MHD_Result fer_server_access(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls);
void fer_server_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                          enum MHD_RequestTerminationCode toe);

/* guard.c */
enum fer_status fer_rate_table_new(struct fer_rate_table **out, char *err);
void fer_rate_table_free(struct fer_rate_table *t);
/*
 * Takes one request from client's bucket at time now (seconds): 1 when allowed, else 0 with
 * *retry_after_s set. Always 1 when per_minute is 0 or the address is unknown.
 */
int fer_rate_take(struct fer_rate_table *t, unsigned per_minute, const struct sockaddr *client,
                  double now, int *retry_after_s);
/* 1 when the request is over the client's rate limit: a 429 reply is set. */
int fer_guard_rate_limited(struct fer_request *rq);
/* 1 when a page of the request's Origin may open a WebSocket: no Origin (not a browser), the
   server's own origin (Origin's host equals Host), or one --cors-origin allows. */
int fer_guard_origin_may_connect(const struct fer_request *rq);
/* 1 when the request is a CORS preflight (OPTIONS with --cors-origin): the reply is set. */
int fer_guard_preflight(struct fer_request *rq);
/* Access-Control-Allow-Origin and Vary when the request's origin is allowed. */
void fer_guard_cors_headers(const struct fer_request *rq, struct MHD_Response *resp);

/* workers.c */
enum fer_status fer_workers_start(fer_server *s, int n_threads, char *err);
/* Queues a suspended request; -1 when the pool is stopping (the caller answers 503). */
int fer_workers_submit(fer_server *s, struct fer_request *rq);
/* Finishes the queued requests, then joins the threads. */
void fer_workers_stop(fer_server *s);

/* response.c: building the reply. Out of memory leaves status 0: the connection closes. */
/* o (stolen) as application/json. */
void fer_reply_json(struct fer_request *rq, unsigned status, json_t *o);
/* {"error": "<message>"}. */
void fer_reply_error(struct fer_request *rq, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* buf (fer_malloc'd, taken over) with the given static Content-Type. */
void fer_reply_take(struct fer_request *rq, unsigned status, const char *content_type, char *buf,
                    size_t len);
/* A static buffer, not copied. */
void fer_reply_static(struct fer_request *rq, unsigned status, const char *content_type,
                      const char *text, size_t len);
void fer_reply_header(struct fer_request *rq, const char *name, const char *value);
/* Queues the reply on the connection and releases it; MHD_NO when there is none. */
enum MHD_Result fer_reply_send(struct fer_request *rq, struct MHD_Connection *c);
void fer_reply_clear(struct fer_reply *r);
/* The HTTP status for a fer_status from user input: 400, 413 (limits), 503, 500. */
unsigned fer_http_status_for(enum fer_status st);
/* The request's media type, lowercased, without parameters ("" when none). */
void fer_request_media_type(const struct fer_request *rq, char *out, size_t cap);
/* A query argument's value, or NULL. */
const char *fer_request_arg(const struct fer_request *rq, const char *key);
/* The body as a JSON object (caller decrefs), or NULL with msg (FER_ERR_LEN) saying why. */
json_t *fer_request_json_object(const struct fer_request *rq, char *msg);
/* The client's address as text ("127.0.0.1", "::1"; "unknown"). */
void fer_request_client_text(const struct fer_request *rq, char *out, size_t cap);
/* 1 when a query argument is "1", "true", "yes" or "on" (or empty: "?crops"). */
int fer_request_flag(const struct fer_request *rq, const char *key);

/* The handlers. */
void fer_api_health(struct fer_request *rq);
void fer_api_predict(struct fer_request *rq);
void fer_api_feedback(struct fer_request *rq);
void fer_api_export(struct fer_request *rq);
void fer_api_metrics(struct fer_request *rq);
void fer_api_openapi(struct fer_request *rq);
void fer_static_docs(struct fer_request *rq);
void fer_static_web(struct fer_request *rq);
void fer_static_report(struct fer_request *rq);
void fer_api_stream(struct fer_request *rq);
/* {"name", "version", "classes"} of the server's model (api_predict.c). */
json_t *fer_api_model_json(fer_server *s);

/* stream.c: the life of a stream after fer_api_stream answered 101. */
/* MHD's upgrade handler: takes the socket and starts the stream's thread. */
void fer_stream_upgraded(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra_in,
                         size_t extra_in_size, MHD_socket sock,
                         struct MHD_UpgradeResponseHandle *urh);
/* Gives back a stream's place: st NULL for one reserved and never opened. */
void fer_stream_release(fer_server *s, struct fer_stream *st);
/* Frees the stream of a request whose upgrade never happened (the client left first). */
void fer_stream_abandon(fer_server *s, struct fer_request *rq);
/* Closes every open stream (1001) and waits for their threads. */
void fer_streams_stop(fer_server *s);

/* openapi.c: the OpenAPI 3 document as one JSON text, fer_malloc'd (NUL-terminated). */
enum fer_status fer_openapi_build(char **out, size_t *len, char *err);

#endif
