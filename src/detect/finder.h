/*
 * finder.h - where the faces are, whichever detector finds them: YuNet (a
 * CNN with scores and landmarks, the default), an OpenCV cascade (Haar or
 * LBP, with OpenCV's exact boxes), or none (the whole image is the face, for
 * pictures that are already crops). fer detect, fer predict, fer serve and
 * the library all go through it, with the same options and defaults.
 *
 * A finder may be used by several threads at once: the cascade is
 * read-only, and each call borrows a YuNet instance (its activations) from a
 * small free list.
 */
#ifndef FER_DETECT_FINDER_H
#define FER_DETECT_FINDER_H

#include <stddef.h>

#include "core/pool.h"
#include "core/status.h"
#include "detect/cascade.h"
#include "detect/yunet.h"
#include "fer.h"

typedef struct fer_finder fer_finder;

/* One face found: the box in image pixels (clipped to the image), the detector's score in
 * (0, 1] or -1 when it has none (cascades, none), and the landmarks when it gives them. */
struct fer_found {
    fer_rect box;
    float score;
    int has_landmarks;
    float landmarks[10]; /* right eye, left eye, nose tip, right and left mouth corner: x, y */
};

/* "yunet", "haar", "lbp", "none" <-> enum fer_detector (fer.h); -1 when unknown. */
int fer_detector_parse(const char *name);
const char *fer_detector_name(int detector);

/* The finder the engine options describe (detector, its file, thresholds, sizes). */
enum fer_status fer_finder_open(const struct fer_engine_options *o, fer_finder **out, char *err);
void fer_finder_free(fer_finder *f);
int fer_finder_detector(const fer_finder *f);

/*
 * The faces in img (RGB or gray), best first for YuNet, in OpenCV's order for cascades, the
 * whole image for none. *faces (caller frees with fer_free) gets *n entries.
 */
enum fer_status fer_finder_find(fer_finder *f, const fer_image *img, fer_pool *pool,
                                struct fer_found **faces, size_t *n, char *err);

#endif
