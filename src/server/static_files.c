/*
 * static_files.c - the web app's files (web_dir, at /) and Swagger UI (the npm package
 * swagger-ui-dist, at /docs/), served from disk with a strict path check; /docs itself is a
 * page written here that points Swagger UI at /openapi.json.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server_internal.h"

#define MAX_STATIC_BYTES ((off_t)64 * 1024 * 1024)

/* Nothing is loaded from outside the server; media and images may be blobs (webcam frames). */
static const char *const WEB_CSP =
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'";

static const char DOCS_HTML[] =
    "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>fer API - Swagger UI</title>\n"
    "<link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\">\n"
    "<link rel=\"stylesheet\" href=\"/docs/swagger-ui.css\">\n</head>\n<body>\n"
    "<div id=\"swagger-ui\"><p id=\"fer-docs-missing\" hidden>Swagger UI is not installed: run "
    "<code>npm install --prefix build/npm swagger-ui-dist</code> (or start the server with "
    "--swagger-ui DIR). The API description is at <a href=\"/openapi.json\">/openapi.json</a>."
    "</p></div>\n<script src=\"/docs/swagger-ui-bundle.js\"></script>\n"
    "<script src=\"/docs/fer-init.js\"></script>\n</body>\n</html>\n";

static const char DOCS_INIT_JS[] =
    "/* fer-init.js - starts Swagger UI on fer's own OpenAPI document. */\n"
    "window.addEventListener('load', function () {\n"
    "  if (typeof SwaggerUIBundle !== 'function') {\n"
    "    document.getElementById('fer-docs-missing').hidden = false;\n"
    "    return;\n"
    "  }\n"
    "  window.ui = SwaggerUIBundle({\n"
    "    url: '/openapi.json',\n"
    "    dom_id: '#swagger-ui',\n"
    "    deepLinking: true,\n"
    "    presets: [SwaggerUIBundle.presets.apis],\n"
    "    layout: 'BaseLayout'\n"
    "  });\n"
    "});\n";

static const char *media_type(const char *path)
{
    static const char *const TYPES[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".svg", "image/svg+xml"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(TYPES) / sizeof(TYPES[0]); i++)
        if (!strcmp(dot, TYPES[i][0]))
            return TYPES[i][1];
    return "application/octet-stream";
}

/*
 * 1 when rel is a safe relative path: segments of letters, digits, '.', '_' and '-' that do
 * not start with '.' (no "..", no hidden files), separated by single slashes.
 */
static int safe_path(const char *rel)
{
    size_t n = strlen(rel);
    if (n == 0 || n > 200)
        return 0;
    int seg_start = 1;
    for (size_t i = 0; i < n; i++) {
        char ch = rel[i];
        if (ch == '/') {
            if (seg_start)
                return 0; /* empty segment */
            seg_start = 1;
            continue;
        }
        if (seg_start && ch == '.')
            return 0;
        seg_start = 0;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return !seg_start;
}

/* A report's page: its style is inline, it runs no script and loads only its figures. */
static const char *const REPORT_CSP =
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
    "base-uri 'none'";

static void send_file_csp(struct fer_request *rq, const char *dir, const char *rel,
                          const char *cache, const char *csp)
{
    if (!dir || !safe_path(rel)) {
        fer_reply_error(rq, MHD_HTTP_NOT_FOUND, "no file %s", rq->url);
        return;
    }
    char path[1024];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path)) {
        fer_reply_error(rq, MHD_HTTP_NOT_FOUND, "no file %s", rq->url);
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > MAX_STATIC_BYTES) {
        if (fd >= 0)
            close(fd);
        fer_reply_error(rq, MHD_HTTP_NOT_FOUND, "no file %s", rq->url);
        return;
    }
    const char *type = media_type(rel);
    fer_reply_static(rq, MHD_HTTP_OK, type, NULL, 0);
    rq->reply.fd = fd;
    rq->reply.fd_size = (size_t)sb.st_size;
    fer_reply_header(rq, "Cache-Control", cache);
    if (!strncmp(type, "text/html", 9))
        fer_reply_header(rq, "Content-Security-Policy", csp);
}

static void send_file(struct fer_request *rq, const char *dir, const char *rel, const char *cache)
{
    send_file_csp(rq, dir, rel, cache, WEB_CSP);
}

void fer_static_web(struct fer_request *rq)
{
    const char *rel = rq->url[0] == '/' ? rq->url + 1 : rq->url;
    if (!rel[0])
        rel = "index.html";
    if (!rq->srv->cfg.web_dir) {
        fer_reply_error(rq, MHD_HTTP_NOT_FOUND, "no web app here: start the server with --web DIR");
        return;
    }
    /* the app changes with the server: always revalidate */
    send_file(rq, rq->srv->cfg.web_dir, rel, "no-cache");
}

void fer_static_docs(struct fer_request *rq)
{
    const char *rel = rq->url + strlen("/docs");
    if (*rel == '/')
        rel++;
    if (!rel[0] || !strcmp(rel, "index.html")) {
        fer_reply_static(rq, MHD_HTTP_OK, "text/html; charset=utf-8", DOCS_HTML,
                         sizeof(DOCS_HTML) - 1);
        fer_reply_header(rq, "Cache-Control", "no-cache");
    } else if (!strcmp(rel, "fer-init.js")) {
        fer_reply_static(rq, MHD_HTTP_OK, "text/javascript; charset=utf-8", DOCS_INIT_JS,
                         sizeof(DOCS_INIT_JS) - 1);
        fer_reply_header(rq, "Cache-Control", "no-cache");
    } else {
        send_file(rq, rq->srv->cfg.swagger_dir, rel, "public, max-age=86400");
    }
}

void fer_static_report(struct fer_request *rq)
{
    const char *rel = rq->url + strlen("/report");
    if (*rel && *rel != '/') {
        fer_reply_error(rq, MHD_HTTP_NOT_FOUND, "no route %s %s", rq->method, rq->url);
        return;
    }
    if (!*rel) { /* the page names its figures relatively: it must be read from /report/ */
        fer_reply_static(rq, MHD_HTTP_MOVED_PERMANENTLY, "text/plain; charset=utf-8",
                         "see /report/\n", 13);
        fer_reply_header(rq, "Location", "/report/");
        return;
    }
    rel++;
    if (!rq->srv->cfg.report_dir) {
        fer_reply_error(rq, MHD_HTTP_NOT_FOUND,
                        "no report for this model: make one with `fer report --model MODEL "
                        "--data FILE --out DIR` and start the server with --report DIR");
        return;
    }
    send_file_csp(rq, rq->srv->cfg.report_dir, rel[0] ? rel : "index.html", "no-cache", REPORT_CSP);
}
