/*
 * api_feedback.c - POST /v1/feedback (the emotion a user says is right, or "not_a_face" when
 * the box holds no face, for a face id from a prediction or for a crop sent along; with an
 * Idempotency-Key header a feedback sent again is stored once) and
 * GET /v1/feedback/export (every correction as FER2013 CSV, for `fer train --init`, or with
 * format=negatives the "not a face" corrections, or with format=all every row with its id;
 * needs the admin token).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/alloc.h"
#include "image/image.h"
#include "server/base64.h"
#include "server/server_internal.h"

#define MAX_CROP_BYTES (2u * 1024 * 1024)

static int is_face_id(const char *s)
{
    size_t n = strlen(s);
    if (n != FER_STORE_ID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* The class index of name in the served model, or -1. */
static int class_index(fer_engine *e, const char *name)
{
    for (int c = 0; c < fer_engine_class_count(e); c++)
        if (!strcmp(fer_engine_class_name(e, c), name))
            return c;
    return -1;
}

/*
 * The crop of a feedback without a face id: base64 of a PNG or JPEG (any size: made gray and
 * resized to 48x48) or of the 2304 raw gray bytes. Returns 0 or an HTTP status.
 */
static unsigned read_crop(fer_server *s, const char *b64, size_t n, uint8_t *crop, char *msg)
{
    uint8_t *bytes;
    size_t len;
    enum fer_status st = fer_base64_decode(b64, n, MAX_CROP_BYTES, &bytes, &len, msg);
    if (st != FER_OK)
        return fer_http_status_for(st);
    int is_png = len >= 8 && !memcmp(bytes, "\x89PNG", 4);
    int is_jpeg = len >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
    unsigned status = 0;
    if (!is_png && !is_jpeg) {
        if (len == FER_STORE_CROP_BYTES)
            memcpy(crop, bytes, len);
        else {
            snprintf(msg, FER_ERR_LEN,
                     "\"crop\" must be a PNG or JPEG image, or 2304 raw gray bytes (48x48), "
                     "in base64; got %zu bytes of neither",
                     len);
            status = MHD_HTTP_BAD_REQUEST;
        }
        fer_free(bytes);
        return status;
    }
    fer_image img = {0}, small = {0};
    st = fer_image_decode(bytes, len, "the crop", 1, s->cfg.max_pixels, &img, msg);
    if (st == FER_OK)
        st = fer_image_crop_resize(&img, (fer_rect){0, 0, img.width, img.height}, FER_FACE_SIDE,
                                   FER_FACE_SIDE, &small, msg);
    if (st == FER_OK)
        memcpy(crop, small.data, FER_STORE_CROP_BYTES);
    else
        status = fer_http_status_for(st);
    fer_image_free(&small);
    fer_image_free(&img);
    fer_free(bytes);
    return status;
}

/* Fills fb from the JSON body; returns 0 or an HTTP status with msg. */
static unsigned parse_feedback(struct fer_request *rq, struct fer_feedback_record *fb, char *msg)
{
    fer_server *s = rq->srv;
    json_t *o = fer_request_json_object(rq, msg);
    unsigned status = MHD_HTTP_BAD_REQUEST;
    if (!o)
        goto end;
    const char *emotion = json_string_value(json_object_get(o, "emotion"));
    if (!emotion) {
        snprintf(msg, FER_ERR_LEN, "\"emotion\" is missing: the class the user says is right");
        goto end;
    }
    if (strcmp(emotion, FER_STORE_NOT_A_FACE) != 0 &&
        (class_index(s->engine, emotion) < 0 || strlen(emotion) >= sizeof(fb->label))) {
        snprintf(msg, FER_ERR_LEN,
                 "unknown emotion '%.40s': use one of %s, or %s when the box holds no face",
                 emotion, s->classes, FER_STORE_NOT_A_FACE);
        goto end;
    }
    snprintf(fb->label, sizeof(fb->label), "%s", emotion);
    json_t *id = json_object_get(o, "face_id"), *crop = json_object_get(o, "crop");
    if (id && !json_is_null(id)) {
        if (!json_is_string(id) || !is_face_id(json_string_value(id))) {
            snprintf(msg, FER_ERR_LEN,
                     "\"face_id\" must be the 32 hex digits of an id from "
                     "/v1/predict");
            goto end;
        }
        snprintf(fb->face_id, sizeof(fb->face_id), "%s", json_string_value(id));
    } else if (json_is_string(crop)) {
        status = read_crop(s, json_string_value(crop), json_string_length(crop), fb->crop, msg);
        if (status)
            goto end;
        const char *version = json_string_value(json_object_get(o, "model_version"));
        snprintf(fb->model_version, sizeof(fb->model_version), "%s", version ? version : "");
    } else {
        snprintf(msg, FER_ERR_LEN,
                 "send \"face_id\" (from /v1/predict) or \"crop\" (a base64 "
                 "image of the face)");
        goto end;
    }
    if (rq->idempotency_key[0]) {
        char why[FER_ERR_LEN / 2];
        if (fer_store_check_request_key(rq->idempotency_key, why) != FER_OK) {
            snprintf(msg, FER_ERR_LEN, "the Idempotency-Key header: %s", why);
            goto end;
        }
        /* checked: it fits */
        memcpy(fb->request_key, rq->idempotency_key, strlen(rq->idempotency_key) + 1);
    }
    status = 0;
end:
    json_decref(o);
    return status;
}

void fer_api_feedback(struct fer_request *rq)
{
    fer_server *s = rq->srv;
    char type[64], msg[FER_ERR_LEN];
    fer_request_media_type(rq, type, sizeof(type));
    if (strcmp(type, "application/json") != 0) {
        fer_reply_error(rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                        "unsupported Content-Type '%s': send application/json",
                        type[0] ? type : "(none)");
        return;
    }
    struct fer_feedback_record *fb = fer_calloc(1, sizeof(*fb));
    if (!fb) {
        fer_reply_error(rq, 503, "out of memory");
        return;
    }
    unsigned status = parse_feedback(rq, fb, msg);
    if (status) {
        fer_reply_error(rq, status, "%s", msg);
        goto end;
    }
    if (fb->face_id[0]) {
        /* a clear 404 for an unknown id (the add below also refuses it, atomically) */
        struct fer_face_record *face = fer_malloc(sizeof(*face));
        int found = 0;
        enum fer_status st = face ? fer_store_get_face(s->store, fb->face_id, face, &found, msg)
                                  : fer_errorf(msg, FER_ERR_NOMEM, "out of memory");
        fer_free(face);
        if (st != FER_OK || !found) {
            if (st != FER_OK)
                fer_reply_error(rq, 500, "%s", msg);
            else
                fer_reply_error(rq, MHD_HTTP_NOT_FOUND, "no face with id %s", fb->face_id);
            goto end;
        }
    }
    int64_t id = 0;
    int replayed = 0;
    enum fer_status st = fer_store_add_feedback_keyed(s->store, fb, &id, &replayed, msg);
    if (st != FER_OK) {
        fer_reply_error(rq,
                        st == FER_ERR_ARG     ? MHD_HTTP_NOT_FOUND
                        : st == FER_ERR_STATE ? MHD_HTTP_UNPROCESSABLE_CONTENT
                                              : 500,
                        "%s", msg);
        goto end;
    }
    if (!replayed)
        fer_metrics_add_feedback(s->metrics);
    /* sent again with its key: the first answer again, saying so */
    json_t *o = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "emotion", fb->label, "status",
                          replayed ? "already stored" : "stored");
    if (o && fb->face_id[0])
        json_object_set_new(o, "face_id", json_string(fb->face_id));
    fer_reply_json(rq, MHD_HTTP_CREATED, o);
end:
    fer_free(fb);
}

/*
 * Answers with the export as CSV: the FER2013 one, or the negatives. It is written to an
 * unlinked temporary file and sent from there, so memory stays flat however much feedback the
 * store holds.
 */
enum export_format { EXPORT_FER2013, EXPORT_NEGATIVES, EXPORT_ALL };

static void send_export(struct fer_request *rq, enum export_format format)
{
    fer_server *s = rq->srv;
    char msg[FER_ERR_LEN];
    size_t rows = 0, skipped = 0;
    FILE *f = tmpfile();
    if (!f) {
        fer_reply_error(rq, 503, "no temporary file for the export: %s", strerror(errno));
        return;
    }
    enum fer_status st =
        format == EXPORT_NEGATIVES ? fer_store_export_negatives(s->store, f, &rows, msg)
        : format == EXPORT_ALL     ? fer_store_export_all(s->store, f, &rows, msg)
                               : fer_store_export_fer2013(s->store, f, NULL, &rows, &skipped, msg);
    long size = -1;
    if (st == FER_OK && (fflush(f) != 0 || (size = ftell(f)) < 0))
        st = fer_errorf(msg, FER_ERR_IO, "writing the export: %s", strerror(errno));
    int fd = st == FER_OK ? dup(fileno(f)) : -1;
    if (st == FER_OK && fd < 0)
        st = fer_errorf(msg, FER_ERR_IO, "the export: %s", strerror(errno));
    fclose(f);
    if (st != FER_OK) {
        fer_reply_error(rq, 500, "%s", msg);
        return;
    }
    char n[32];
    fer_reply_static(rq, MHD_HTTP_OK, "text/csv; charset=utf-8", NULL, 0);
    rq->reply.fd = fd; /* sent by MHD, which closes it */
    rq->reply.fd_size = (size_t)size;
    fer_reply_header(rq, "Content-Disposition",
                     format == EXPORT_NEGATIVES ? "attachment; filename=\"fer-negatives.csv\""
                     : format == EXPORT_ALL     ? "attachment; filename=\"fer-feedback-all.csv\""
                                                : "attachment; filename=\"fer-feedback.csv\"");
    fer_reply_header(rq, "Cache-Control", "no-store");
    snprintf(n, sizeof(n), "%zu", rows);
    fer_reply_header(rq, "X-Fer-Rows", n);
    if (format == EXPORT_FER2013) {
        snprintf(n, sizeof(n), "%zu", skipped);
        fer_reply_header(rq, "X-Fer-Skipped", n);
    }
}

/* 1 when a and b are equal, in time independent of where they differ. */
static int same_token(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned char diff = (unsigned char)(na != nb);
    for (size_t i = 0; i < na; i++)
        diff |= (unsigned char)(a[i] ^ b[nb ? i % nb : 0]);
    return diff == 0;
}

void fer_api_export(struct fer_request *rq)
{
    fer_server *s = rq->srv;
    if (!s->cfg.admin_token) {
        fer_reply_error(rq, MHD_HTTP_FORBIDDEN,
                        "the export is disabled: start the server with "
                        "--admin-token or FER_ADMIN_TOKEN");
        return;
    }
    const char *auth = rq->authorization;
    /* the scheme is case-insensitive (RFC 7235 section 2.1) */
    if (strncasecmp(auth, "Bearer ", 7) != 0) {
        fer_reply_error(rq, MHD_HTTP_UNAUTHORIZED,
                        "the export needs the admin token: Authorization: Bearer TOKEN");
        fer_reply_header(rq, "WWW-Authenticate", "Bearer realm=\"fer\"");
        return;
    }
    const char *token = auth + 7;
    while (*token == ' ')
        token++;
    if (rq->authorization_truncated || !same_token(token, s->cfg.admin_token)) {
        fer_reply_error(rq, MHD_HTTP_FORBIDDEN, "wrong admin token");
        return;
    }
    const char *name = fer_request_arg(rq, "format");
    enum export_format format = EXPORT_FER2013;
    if (name && strcmp(name, "negatives") == 0)
        format = EXPORT_NEGATIVES;
    else if (name && strcmp(name, "all") == 0)
        format = EXPORT_ALL;
    else if (name && strcmp(name, "fer2013") != 0) {
        fer_reply_error(rq, MHD_HTTP_BAD_REQUEST,
                        "unknown format '%.40s': the export knows format=fer2013 (the "
                        "corrections), format=negatives (the \"not a face\" ones) and "
                        "format=all (every row, with its id and label)",
                        name);
        return;
    }
    send_export(rq, format);
}
