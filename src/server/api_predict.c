/*
 * api_predict.c - POST /v1/predict: take an image as multipart/form-data, a raw image/jpeg,
 * image/png or image/webp body, or JSON {"image_base64": ...}; find and classify its faces; store
 * each face so that feedback can name it by id; answer with boxes, emotions and probabilities, and
 * on request the annotated picture and the 48x48 crops as base64 PNG.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/progress.h"
#include "image/draw.h"
#include "image/image.h"
#include "pipeline/face_json.h"
#include "server/base64.h"
#include "server/multipart.h"
#include "server/server_internal.h"

/* The image bytes of a request and the options that came with it. */
struct upload {
    const uint8_t *bytes; /* into the request body or `owned` */
    size_t len;
    uint8_t *owned; /* decoded base64 */
    int annotate, crops;
    char style[16]; /* the annotation's style name, "" for auto */
};

static int text_is_true(const uint8_t *p, size_t n)
{
    return (n == 1 && p[0] == '1') || (n == 4 && !strncasecmp((const char *)p, "true", 4)) ||
           (n == 3 && !strncasecmp((const char *)p, "yes", 3)) ||
           (n == 2 && !strncasecmp((const char *)p, "on", 2));
}

/* Returns 0, or an HTTP status with its message in msg. */
static unsigned from_multipart(struct fer_request *rq, struct upload *u, char *msg)
{
    struct fer_multipart_part parts[FER_MULTIPART_MAX_PARTS];
    size_t n;
    if (fer_multipart_parse(rq->content_type, rq->body, rq->len, parts, &n, msg) != FER_OK)
        return MHD_HTTP_BAD_REQUEST;
    const struct fer_multipart_part *image = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct fer_multipart_part *p = &parts[i];
        if (!strcmp(p->name, "annotate"))
            u->annotate = text_is_true(p->data, p->len);
        else if (!strcmp(p->name, "crops"))
            u->crops = text_is_true(p->data, p->len);
        else if (!strcmp(p->name, "style"))
            snprintf(u->style, sizeof(u->style), "%.*s", (int)(p->len < 15 ? p->len : 15),
                     (const char *)p->data);
        else if (!strcmp(p->name, "image") || !strcmp(p->name, "file") || p->filename[0] ||
                 !strncasecmp(p->content_type, "image/", 6)) {
            if (image) {
                snprintf(msg, FER_ERR_LEN,
                         "the multipart body has more than one image (\"%.40s\" and \"%.40s\"): "
                         "send one image per request",
                         image->filename[0] ? image->filename : image->name,
                         p->filename[0] ? p->filename : p->name);
                return MHD_HTTP_BAD_REQUEST;
            }
            image = p;
        }
    }
    if (!image) {
        snprintf(msg, FER_ERR_LEN,
                 "the multipart body has no image: send the file in a field named \"image\"");
        return MHD_HTTP_BAD_REQUEST;
    }
    u->bytes = image->data;
    u->len = image->len;
    return 0;
}

static unsigned from_json(struct fer_request *rq, struct upload *u, char *msg)
{
    json_t *o = fer_request_json_object(rq, msg);
    if (!o)
        return MHD_HTTP_BAD_REQUEST;
    json_t *img = json_object_get(o, "image_base64");
    if (!json_is_string(img)) {
        json_decref(o);
        snprintf(msg, FER_ERR_LEN, "the JSON body needs \"image_base64\": a base64 string");
        return MHD_HTTP_BAD_REQUEST;
    }
    u->annotate = json_is_true(json_object_get(o, "annotate"));
    u->crops = json_is_true(json_object_get(o, "crops"));
    const char *style = json_string_value(json_object_get(o, "style"));
    if (style)
        snprintf(u->style, sizeof(u->style), "%s", style);
    enum fer_status st = fer_base64_decode(json_string_value(img), json_string_length(img),
                                           rq->srv->cfg.max_upload_bytes, &u->owned, &u->len, msg);
    json_decref(o);
    if (st != FER_OK)
        return fer_http_status_for(st);
    u->bytes = u->owned;
    return 0;
}

static unsigned read_upload(struct fer_request *rq, struct upload *u, char *msg)
{
    char type[64];
    fer_request_media_type(rq, type, sizeof(type));
    unsigned status = 0;
    if (!strcmp(type, "multipart/form-data")) {
        status = from_multipart(rq, u, msg);
    } else if (!strcmp(type, "application/json")) {
        status = from_json(rq, u, msg);
    } else if (!strcmp(type, "image/jpeg") || !strcmp(type, "image/png") ||
               !strcmp(type, "image/webp") || !strcmp(type, "image/jpg") ||
               !strcmp(type, "application/octet-stream")) {
        u->bytes = rq->body;
        u->len = rq->len;
    } else {
        snprintf(msg, FER_ERR_LEN,
                 "unsupported Content-Type '%s': send multipart/form-data, image/jpeg, "
                 "image/png, image/webp or application/json",
                 type[0] ? type : "(none)");
        return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }
    if (status == 0 && u->len == 0) {
        snprintf(msg, FER_ERR_LEN, "no image: the upload is empty");
        return MHD_HTTP_BAD_REQUEST;
    }
    u->annotate |= fer_request_flag(rq, "annotate");
    u->crops |= fer_request_flag(rq, "crops");
    const char *style = fer_request_arg(rq, "style");
    if (style)
        snprintf(u->style, sizeof(u->style), "%s", style);
    enum fer_annotate_style parsed;
    if (status == 0 && u->style[0] && fer_annotate_style_parse(u->style, &parsed) != 0) {
        snprintf(msg, FER_ERR_LEN, "unknown style '%s': auto, bars or label", u->style);
        return MHD_HTTP_BAD_REQUEST;
    }
    return status;
}

/* Stores each face so that feedback can refer to it; ids[i] receives its id. */
static enum fer_status store_faces(fer_server *s, const fer_analysis *a,
                                   char (*ids)[FER_STORE_ID_LEN + 1], char *err)
{
    struct fer_face_record rec;
    for (size_t i = 0; i < a->n_faces; i++) {
        const fer_face *f = &a->faces[i];
        memset(&rec, 0, sizeof(rec));
        snprintf(rec.model_version, sizeof(rec.model_version), "%s",
                 fer_engine_model_version(s->engine));
        snprintf(rec.classes, sizeof(rec.classes), "%s", s->classes);
        rec.n_probs = fer_engine_class_count(s->engine);
        memcpy(rec.probs, f->probabilities, sizeof(float) * (size_t)rec.n_probs);
        memcpy(rec.crop, f->crop, sizeof(rec.crop));
        rec.box_x = f->box.x;
        rec.box_y = f->box.y;
        rec.box_w = f->box.w;
        rec.box_h = f->box.h;
        enum fer_status st = fer_store_add_face(s->store, &rec, err);
        if (st != FER_OK)
            return st;
        memcpy(ids[i], rec.face_id, sizeof(ids[i]));
    }
    return FER_OK;
}

/* A base64 PNG of img, as a JSON string; NULL with err set on failure. */
static json_t *png_base64(const fer_image *img, char *err)
{
    uint8_t *png;
    size_t n;
    if (fer_image_encode_png_memory(img, &png, &n, err) != FER_OK)
        return NULL;
    char *b64 = fer_base64_encode(png, n);
    fer_free(png);
    json_t *s = b64 ? json_string(b64) : NULL;
    fer_free(b64);
    if (!s)
        fer_errorf(err, FER_ERR_NOMEM, "out of memory encoding a PNG");
    return s;
}

static json_t *face_json(fer_server *s, const fer_face *f, const char *id, int crops, char *err)
{
    json_t *o = fer_face_json(s->engine, f, id, 0);
    if (!o)
        fer_errorf(err, FER_ERR_NOMEM, "out of memory");
    if (o && crops) {
        fer_image crop = {FER_FACE_SIDE, FER_FACE_SIDE, 1, (uint8_t *)f->crop};
        json_t *png = png_base64(&crop, err);
        if (!png) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "crop_png", png);
    }
    return o;
}

/* The picture with every face boxed, labelled and barred, as a JSON base64 string. */
static json_t *annotated_json(fer_server *s, fer_image *rgb, const fer_analysis *a,
                              const char *style_name, char *err)
{
    enum fer_annotate_style style = FER_ANNOTATE_AUTO;
    if (style_name[0])
        fer_annotate_style_parse(style_name, &style); /* checked in read_upload */
    const char *names[FER_MAX_CLASSES];
    int k = fer_engine_class_count(s->engine);
    for (int c = 0; c < k; c++)
        names[c] = fer_engine_class_name(s->engine, c);
    struct fer_annotation *ann = fer_calloc(a->n_faces ? a->n_faces : 1, sizeof(*ann));
    if (!ann) {
        fer_errorf(err, FER_ERR_NOMEM, "out of memory annotating");
        return NULL;
    }
    for (size_t i = 0; i < a->n_faces; i++) {
        const fer_face *f = &a->faces[i];
        const char *label = names[f->emotion];
        ann[i] = (struct fer_annotation){f->box,
                                         label,
                                         f->probabilities[f->emotion],
                                         fer_emotion_emoji(label),
                                         fer_emotion_color(label),
                                         k,
                                         names,
                                         f->probabilities};
    }
    json_t *out = NULL;
    if (fer_image_annotate_style(rgb, ann, a->n_faces, style, err) == FER_OK)
        out = png_base64(rgb, err);
    fer_free(ann);
    return out;
}

json_t *fer_api_model_json(fer_server *s)
{
    json_t *classes = json_array();
    for (int c = 0; c < fer_engine_class_count(s->engine); c++)
        json_array_append_new(classes, json_string(fer_engine_class_name(s->engine, c)));
    return json_pack("{s:s, s:s, s:o}", "name", fer_engine_model_name(s->engine), "version",
                     fer_engine_model_version(s->engine), "classes", classes);
}

void fer_api_predict(struct fer_request *rq)
{
    fer_server *s = rq->srv;
    double t0 = fer_now();
    char msg[FER_ERR_LEN];
    struct upload u = {0};
    fer_image img = {0};
    fer_analysis a = {0};
    char(*ids)[FER_STORE_ID_LEN + 1] = NULL;
    json_t *faces = NULL;
    unsigned status = read_upload(rq, &u, msg);
    if (status) {
        fer_reply_error(rq, status, "%s", msg);
        goto end;
    }
    /* colour: YuNet finds faces in it (the engine makes the gray crops) */
    enum fer_status st =
        fer_image_decode(u.bytes, u.len, "the uploaded image", 0, s->cfg.max_pixels, &img, msg);
    if (st != FER_OK) {
        fer_reply_error(rq, fer_http_status_for(st), "%s", msg);
        goto end;
    }
    double t1 = fer_now();
    st = fer_engine_analyze(s->engine, &img, &a, msg);
    if (st != FER_OK) {
        fer_reply_error(rq, st == FER_ERR_NOMEM ? 503 : 500, "%s", msg);
        goto end;
    }
    fer_metrics_add_image(s->metrics, a.n_faces);
    ids = fer_calloc(a.n_faces ? a.n_faces : 1, sizeof(*ids));
    if (!ids) {
        fer_reply_error(rq, 503, "out of memory for %zu faces", a.n_faces);
        goto end;
    }
    if ((st = store_faces(s, &a, ids, msg)) != FER_OK) {
        fer_reply_error(rq, 500, "cannot store the faces: %s", msg);
        goto end;
    }
    faces = json_array();
    for (size_t i = 0; i < a.n_faces; i++) {
        json_t *f = face_json(s, &a.faces[i], ids[i], u.crops, msg);
        if (!f) {
            fer_reply_error(rq, 500, "%s", msg);
            goto end;
        }
        json_array_append_new(faces, f);
    }
    json_t *annotated = NULL;
    if (u.annotate && !(annotated = annotated_json(s, &img, &a, u.style, msg))) {
        fer_reply_error(rq, 500, "%s", msg);
        goto end;
    }
    double t2 = fer_now();
    json_t *o = json_pack("{s:o, s:o, s:{s:i, s:i}, s:f, s:{s:f, s:f, s:f}}", "faces", faces,
                          "model", fer_api_model_json(s), "image", "width", img.width, "height",
                          img.height, "elapsed_ms", (t2 - t0) * 1e3, "timing", "decode_ms",
                          (t1 - t0) * 1e3, "detect_ms", a.detect_ms, "classify_ms", a.classify_ms);
    faces = NULL; /* the pack took it */
    if (o && annotated)
        json_object_set_new(o, "annotated_png", annotated);
    else
        json_decref(annotated);
    fer_reply_json(rq, MHD_HTTP_OK, o);
end:
    json_decref(faces);
    fer_free(ids);
    fer_analysis_free(&a);
    fer_image_free(&img);
    fer_free(u.owned);
}
