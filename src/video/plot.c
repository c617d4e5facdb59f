/* plot.c - the live plot of fer video's window (plot.h). */
#include "video/plot.h"

#include <cairo.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "image/draw.h"

#define MAX_SAMPLES 4096 /* the ring of (time, track, probabilities) samples */
#define MAX_CHARTS  4

struct sample {
    double t;
    int id;
    float p[FER_MAX_CLASSES];
};

struct fer_live_plot {
    const fer_engine *e;
    int k;
    double seconds, now;
    struct sample *ring;
    size_t head, count;
    int ids[MAX_CHARTS]; /* the faces of the latest frame, at most MAX_CHARTS */
    int n_ids;
};

enum fer_status fer_live_plot_new(const fer_engine *e, double seconds, fer_live_plot **out,
                                  char *err)
{
    fer_live_plot *p = fer_calloc(1, sizeof(*p));
    if (p)
        p->ring = fer_calloc(MAX_SAMPLES, sizeof(struct sample));
    if (!p || !p->ring) {
        fer_live_plot_free(p);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for the live plot");
    }
    p->e = e;
    p->k = fer_engine_class_count(e);
    p->seconds = seconds;
    *out = p;
    return FER_OK;
}

void fer_live_plot_free(fer_live_plot *p)
{
    if (!p)
        return;
    fer_free(p->ring);
    fer_free(p);
}

enum fer_status fer_live_plot_add(fer_live_plot *p, double t, const fer_tracks *tracks, char *err)
{
    (void)err;
    p->now = t;
    p->n_ids = 0;
    for (size_t i = 0; i < tracks->n; i++) {
        struct sample *s = &p->ring[(p->head + p->count) % MAX_SAMPLES];
        if (p->count < MAX_SAMPLES)
            p->count++;
        else
            p->head = (p->head + 1) % MAX_SAMPLES;
        s->t = t;
        s->id = tracks->tracks[i].id;
        memcpy(s->p, tracks->tracks[i].face.probabilities, sizeof(s->p));
        if (p->n_ids < MAX_CHARTS)
            p->ids[p->n_ids++] = s->id;
    }
    return FER_OK;
}

struct draw_job {
    fer_live_plot *p;
    const struct fer_live_status *s;
};

/* One face's chart in the rectangle (x, y, w, h): a line per class over the last seconds. */
static void chart(cairo_t *cr, const fer_live_plot *p, int id, double x, double y, double w,
                  double h)
{
    cairo_set_source_rgb(cr, 0.16, 0.16, 0.18);
    cairo_rectangle(cr, x, y, w, h);
    cairo_fill(cr);
    const struct sample *last = NULL;
    for (int c = 0; c < p->k; c++) {
        const char *name = fer_engine_class_name(p->e, c);
        fer_cairo_set_rgb(cr, fer_emotion_color(name), 1.0);
        cairo_set_line_width(cr, 2);
        cairo_new_path(cr);
        for (size_t i = 0; i < p->count; i++) {
            const struct sample *s = &p->ring[(p->head + i) % MAX_SAMPLES];
            if (s->id != id || s->t < p->now - p->seconds)
                continue;
            double px = x + w * (1 - (p->now - s->t) / p->seconds);
            cairo_line_to(cr, px, y + h - 4 - (h - 22) * (double)s->p[c]);
            last = s;
        }
        cairo_stroke(cr);
    }
    if (!last)
        return;
    int top = 0;
    for (int c = 1; c < p->k; c++)
        if (last->p[c] > last->p[top])
            top = c;
    char label[64];
    snprintf(label, sizeof(label), "#%d %s %.0f%%", id, fer_engine_class_name(p->e, top),
             100.0 * (double)last->p[top]);
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, 13);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_move_to(cr, x + 6, y + 15);
    cairo_show_text(cr, label);
}

static enum fer_status draw_on(cairo_t *cr, void *arg, int w, int h, char *err)
{
    (void)err;
    const struct draw_job *j = arg;
    const fer_live_plot *p = j->p;
    cairo_set_source_rgb(cr, 0.08, 0.08, 0.09);
    cairo_paint(cr);
    char status[160];
    snprintf(status, sizeof(status),
             "%.1f fps   frame %ld   %ld dropped   %.0f ms to display   %d face%s   last %.0f s",
             j->s->fps, j->s->frame, j->s->dropped, j->s->latency_ms, p->n_ids,
             p->n_ids == 1 ? "" : "s", p->seconds);
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 13);
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, 8, 17);
    cairo_show_text(cr, status);
    double x = 8; /* the legend, on the second line */
    cairo_set_font_size(cr, 11);
    for (int c = 0; c < p->k; c++) {
        const char *name = fer_engine_class_name(p->e, c);
        cairo_text_extents_t te;
        cairo_text_extents(cr, name, &te);
        fer_cairo_set_rgb(cr, fer_emotion_color(name), 1.0);
        cairo_rectangle(cr, x, 25, 10, 10);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, x + 13, 34);
        cairo_show_text(cr, name);
        x += te.x_advance + 24;
    }
    int n = p->n_ids ? p->n_ids : 1;
    double cw = (w - 8.0 * (n + 1)) / n;
    for (int i = 0; i < p->n_ids; i++)
        chart(cr, p, p->ids[i], 8 + i * (cw + 8), 42, cw, h - 48);
    if (!p->n_ids) {
        cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
        cairo_move_to(cr, 8, h / 2.0 + 10);
        cairo_show_text(cr, "no face in view");
    }
    return FER_OK;
}

enum fer_status fer_live_plot_draw(fer_live_plot *p, const struct fer_live_status *s,
                                   fer_image *panel, char *err)
{
    struct draw_job j = {p, s};
    return fer_image_draw_cairo(panel, draw_on, &j, err);
}
