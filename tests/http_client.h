/*
 * http_client.h - a tiny HTTP/1.1 client for the server tests: one request
 * per connection (Connection: close) to 127.0.0.1:http_client_port, the whole
 * reply read until the server closes, with a receive timeout so no test hangs.
 */
#ifndef FER_TESTS_HTTP_CLIENT_H
#define FER_TESTS_HTTP_CLIENT_H

#include <jansson.h>
#include <stddef.h>

extern int http_client_port;

struct resp {
    int status;
    char *head; /* status line and headers, NUL-terminated */
    char *body; /* NUL-terminated; len bytes */
    size_t len;
};

void resp_free(struct resp *r);
/* A connected socket to the server (120 s receive timeout), or -1. */
int http_connect(void);
/* Sends n raw bytes, reads the reply until the server closes; 0 on success. */
int http_raw(const void *req, size_t n, struct resp *r);
/* A header's value (case-insensitive name) copied into out, or "" when absent. */
const char *header(const struct resp *r, const char *name, char *out, size_t cap);
int http(const char *method, const char *path, const char *extra_headers, const void *body,
         size_t len, struct resp *r);
int get(const char *path, const char *extra, struct resp *r);
int post(const char *path, const char *content_type, const void *body, size_t len, struct resp *r);
/* The body parsed as JSON (NULL when it is not). */
json_t *body_json(const struct resp *r);
/* 1 when the response is an error with a JSON {"error": "..."} body and the wanted status. */
int is_json_error(const struct resp *r, int status);

#endif
