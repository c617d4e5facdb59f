/* overlay.c - the faces drawn onto video frames (overlay.h). */
#include "video/overlay.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "image/draw.h"
#include "pipeline/face_json.h"

static const char *const NAMES[] = {"boxes", "bars", "emoji", "meme", "none"};

int fer_overlay_parse(const char *name, enum fer_overlay *o)
{
    for (int i = 0; i < 5; i++)
        if (name && strcmp(name, NAMES[i]) == 0) {
            *o = (enum fer_overlay)i;
            return 0;
        }
    return -1;
}

/* How a class reads in a caption: "HAPPY", "SCARED", ... */
static const char *adjective(const char *emotion)
{
    static const char *const pairs[][2] = {
        {"angry", "ANGRY"},        {"disgust", "DISGUSTED"}, {"fear", "SCARED"},
        {"happy", "HAPPY"},        {"sad", "SAD"},           {"surprise", "SURPRISED"},
        {"neutral", "UNIMPRESSED"}};
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
        if (strcmp(pairs[i][0], emotion) == 0)
            return pairs[i][1];
    return emotion;
}

void fer_overlay_meme_caption(const fer_engine *e, const fer_face *f, char *top, size_t top_len,
                              char *bottom, size_t bottom_len)
{
    int order[FER_MAX_CLASSES];
    fer_face_rank_classes(f, fer_engine_class_count(e), order);
    float p1 = f->probabilities[order[0]], p2 = f->probabilities[order[1]];
    const char *first = adjective(fer_engine_class_name(e, order[0]));
    snprintf(top, top_len, "%s%s", p1 >= 0.75f ? "SO " : p1 < 0.45f ? "KIND OF " : "", first);
    if (p2 >= 0.15f)
        snprintf(bottom, bottom_len, "BUT %s%s", p2 < 0.3f ? "A BIT " : "ALSO ",
                 adjective(fer_engine_class_name(e, order[1])));
    else
        bottom[0] = 0;
}

static enum fer_status draw_covers(fer_image *rgb, const fer_engine *e, const fer_tracks *t,
                                   int meme, char *err)
{
    struct fer_cover *c = fer_calloc(t->n, sizeof(*c));
    char(*captions)[2][48] = fer_calloc(t->n, sizeof(*captions));
    if (!c || !captions) {
        fer_free(c);
        fer_free(captions);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory drawing %zu faces", t->n);
    }
    for (size_t i = 0; i < t->n; i++) {
        const fer_face *f = &t->tracks[i].face;
        int order[FER_MAX_CLASSES];
        fer_face_rank_classes(f, fer_engine_class_count(e), order);
        c[i].box = f->box;
        c[i].emoji = fer_emotion_emoji(fer_engine_class_name(e, order[0]));
        if (!meme)
            continue;
        fer_overlay_meme_caption(e, f, captions[i][0], sizeof(captions[i][0]), captions[i][1],
                                 sizeof(captions[i][1]));
        if (f->probabilities[order[1]] >= 0.15f)
            c[i].badge = fer_emotion_emoji(fer_engine_class_name(e, order[1]));
        c[i].top = captions[i][0];
        c[i].bottom = captions[i][1][0] ? captions[i][1] : NULL;
    }
    enum fer_status st = fer_image_cover_faces(rgb, c, t->n, err);
    fer_free(c);
    fer_free(captions);
    return st;
}

static enum fer_status draw_boxes(fer_image *rgb, const fer_engine *e, const fer_tracks *t,
                                  enum fer_annotate_style style, char *err)
{
    int k = fer_engine_class_count(e);
    struct fer_annotation *a = fer_calloc(t->n, sizeof(*a));
    char(*labels)[48] = fer_calloc(t->n, sizeof(*labels));
    const char *names[FER_MAX_CLASSES];
    if (!a || !labels) {
        fer_free(a);
        fer_free(labels);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory drawing %zu faces", t->n);
    }
    for (int c = 0; c < k; c++)
        names[c] = fer_engine_class_name(e, c);
    for (size_t i = 0; i < t->n; i++) {
        const fer_face *f = &t->tracks[i].face;
        const char *name = names[f->emotion];
        snprintf(labels[i], sizeof(labels[i]), "#%d %s", t->tracks[i].id, name);
        a[i] = (struct fer_annotation){f->box,
                                       labels[i],
                                       f->probabilities[f->emotion],
                                       fer_emotion_emoji(name),
                                       fer_emotion_color(name),
                                       k,
                                       names,
                                       f->probabilities};
    }
    enum fer_status st = fer_image_annotate_style(rgb, a, t->n, style, err);
    fer_free(a);
    fer_free(labels);
    return st;
}

enum fer_status fer_overlay_draw(fer_image *rgb, const fer_engine *e, const fer_tracks *t,
                                 enum fer_overlay o, char *err)
{
    if (t->n == 0 || o == FER_OVERLAY_NONE)
        return FER_OK;
    if (o == FER_OVERLAY_EMOJI || o == FER_OVERLAY_MEME)
        return draw_covers(rgb, e, t, o == FER_OVERLAY_MEME, err);
    return draw_boxes(rgb, e, t, o == FER_OVERLAY_BARS ? FER_ANNOTATE_BARS : FER_ANNOTATE_AUTO,
                      err);
}
