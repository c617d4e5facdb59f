/* api_info.c - GET /v1/health, GET /metrics and GET /openapi.json. */
#include <string.h>

#include "core/alloc.h"
#include "core/progress.h"
#include "server/server_internal.h"

void fer_api_health(struct fer_request *rq)
{
    fer_server *s = rq->srv;
    json_t *o = json_pack(
        "{s:s, s:{s:s, s:s, s:i}, s:s, s:f, s:i, s:{s:I, s:I}}", "status", "ok", "model", "name",
        fer_engine_model_name(s->engine), "version", fer_engine_model_version(s->engine), "classes",
        fer_engine_class_count(s->engine), "store", fer_store_name(s->store), "uptime_s",
        fer_now() - s->started, "threads", s->cfg.threads, "limits", "max_upload_bytes",
        (json_int_t)s->cfg.max_upload_bytes, "max_pixels", (json_int_t)s->cfg.max_pixels);
    if (o)
        json_object_set_new(o, "detector", json_string(fer_engine_detector(s->engine)));
    fer_reply_json(rq, MHD_HTTP_OK, o);
}

void fer_api_metrics(struct fer_request *rq)
{
    size_t len = 0;
    char *text = fer_metrics_render(rq->srv->metrics, rq->srv->model_info_metrics, &len);
    if (!text)
        fer_reply_error(rq, 503, "out of memory rendering the metrics");
    else
        fer_reply_take(rq, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

void fer_api_openapi(struct fer_request *rq)
{
    fer_reply_static(rq, MHD_HTTP_OK, "application/json", rq->srv->openapi, rq->srv->openapi_len);
}
