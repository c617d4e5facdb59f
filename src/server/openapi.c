/*
 * openapi.c - the OpenAPI 3 description of the REST API, served at /openapi.json and read by
 * Swagger UI at /docs. The document is src/server/openapi.json, built into the binary by
 * openapi_json.S; fer_openapi_build checks that it parses before the server serves it.
 * tests/test_server.c checks that it names every route; keep it in step with routes.c and the
 * handlers.
 */
#include <string.h>

#include "core/alloc.h"
#include "server/server_internal.h"

/* openapi_json.S: the bytes of openapi.json (the .byte 0 after them is not counted). */
extern const char fer_openapi_json_start[], fer_openapi_json_end[];

enum fer_status fer_openapi_build(char **out, size_t *len, char *err)
{
    size_t n = (size_t)(fer_openapi_json_end - fer_openapi_json_start);
    json_error_t jerr;
    json_t *doc = json_loadb(fer_openapi_json_start, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return fer_errorf(err, FER_ERR_FORMAT,
                          "the OpenAPI document built in from src/server/openapi.json is not "
                          "valid JSON: line %d, column %d: %s (fix the file and rebuild)",
                          jerr.line, jerr.column, jerr.text);
    int described = json_is_string(json_object_get(doc, "openapi")) &&
                    json_is_object(json_object_get(doc, "paths"));
    json_decref(doc);
    if (!described)
        return fer_errorf(err, FER_ERR_FORMAT,
                          "the OpenAPI document built in from src/server/openapi.json lacks "
                          "\"openapi\" or \"paths\" (fix the file and rebuild)");
    /* The file's own bytes are served, so its layout is what a reader of /openapi.json sees. */
    char *s = fer_malloc(n + 1);
    if (!s)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for the OpenAPI document");
    memcpy(s, fer_openapi_json_start, n);
    s[n] = '\0';
    *out = s;
    *len = n;
    return FER_OK;
}
