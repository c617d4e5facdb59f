/*
 * overlay.h - what fer video draws over each tracked face:
 *   boxes  the box, "#id emotion NN%" with its emoji, probability bars where they fit
 *   bars   the same, with the bars beside every face
 *   emoji  the emotion's emoji over the face
 *   meme   the 2016 demo's overlay: the top emotion's emoji over the face, the runner-up's
 *          at its corner, and a caption made of the two ("SO HAPPY" / "BUT A BIT SURPRISED")
 *   none   nothing (the output is the input, re-encoded)
 */
#ifndef FER_VIDEO_OVERLAY_H
#define FER_VIDEO_OVERLAY_H

#include "core/status.h"
#include "fer.h"

enum fer_overlay {
    FER_OVERLAY_BOXES,
    FER_OVERLAY_BARS,
    FER_OVERLAY_EMOJI,
    FER_OVERLAY_MEME,
    FER_OVERLAY_NONE
};

/* The overlay named `name` into *o: 0, or -1 for an unknown name. */
int fer_overlay_parse(const char *name, enum fer_overlay *o);

/* Draws the tracks onto the RGB frame in place. */
enum fer_status fer_overlay_draw(fer_image *rgb, const fer_engine *e, const fer_tracks *t,
                                 enum fer_overlay o, char *err);

/* The meme captions for a face: top from its top emotion (and how sure), bottom from the
 * runner-up when it has some weight (else ""). */
void fer_overlay_meme_caption(const fer_engine *e, const fer_face *f, char *top, size_t top_len,
                              char *bottom, size_t bottom_len);

#endif
