/* http_client.c - a tiny HTTP/1.1 client over real sockets for the server tests (http_client.h). */
#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int http_client_port;

void resp_free(struct resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

int http_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)http_client_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {120, 0}; /* no test may hang */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int http_raw(const void *req, size_t n, struct resp *r)
{
    memset(r, 0, sizeof(*r));
    int fd = http_connect();
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, (const char *)req + off, n - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may answer early and stop reading: read what it said */
        off += (size_t)w;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (len == cap)
            buf = realloc(buf, (cap *= 2) + 1);
        ssize_t got = recv(fd, buf + len, cap - len, 0);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    buf[len] = 0;
    char *end = strstr(buf, "\r\n\r\n");
    if (!end || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) {
        free(buf);
        return -1;
    }
    size_t head = (size_t)(end - buf) + 4;
    r->head = strndup(buf, head);
    r->len = len - head;
    r->body = malloc(r->len + 1);
    memcpy(r->body, buf + head, r->len);
    r->body[r->len] = 0;
    free(buf);
    return 0;
}

const char *header(const struct resp *r, const char *name, char *out, size_t cap)
{
    out[0] = 0;
    size_t k = strlen(name);
    for (const char *p = r->head ? strstr(r->head, "\r\n") : NULL; p && p[2];
         p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, k) == 0 && line[k] == ':') {
            const char *v = line + k + 1;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r");
            snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), v);
            break;
        }
    }
    return out;
}

int http(const char *method, const char *path, const char *extra_headers, const void *body,
         size_t len, struct resp *r)
{
#define HEAD_FORMAT                                                                                \
    "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%sContent-Length: %zu\r\n\r\n"
    const char *extra = extra_headers ? extra_headers : "";
    int n = snprintf(NULL, 0, HEAD_FORMAT, method, path, extra, len);
    char *req = malloc((size_t)n + 1 + len);
    snprintf(req, (size_t)n + 1, HEAD_FORMAT, method, path, extra, len);
#undef HEAD_FORMAT
    if (len)
        memcpy(req + n, body, len);
    int st = http_raw(req, (size_t)n + len, r);
    free(req);
    return st;
}

int get(const char *path, const char *extra, struct resp *r)
{
    return http("GET", path, extra, NULL, 0, r);
}

int post(const char *path, const char *content_type, const void *body, size_t len, struct resp *r)
{
    char h[256];
    snprintf(h, sizeof(h), "Content-Type: %s\r\n", content_type);
    return http("POST", path, h, body, len, r);
}

json_t *body_json(const struct resp *r)
{
    return json_loadb(r->body, r->len, 0, NULL);
}

int is_json_error(const struct resp *r, int status)
{
    char ct[128];
    json_t *o = body_json(r);
    int ok = r->status == status && json_is_string(json_object_get(o, "error")) &&
             strstr(header(r, "Content-Type", ct, sizeof(ct)), "application/json");
    if (!ok)
        fprintf(stderr, "  wanted a JSON error %d, got %d: %.200s\n", status, r->status,
                r->body ? r->body : "");
    json_decref(o);
    return ok;
}
