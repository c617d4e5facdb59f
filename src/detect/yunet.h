/*
 * yunet.h - the YuNet face detector (Wu, Peng, Yu 2023; libfacedetection) on
 * fer's nn engine: faces with a score and five landmarks (right eye, left
 * eye, nose tip, right and left mouth corners, as the person's own sides).
 *
 * The model is a .fer file of task=detect (models/yunet.fer, built into the
 * binary; `fer import yunet` makes it from libfacedetection's weights). Its
 * net is remade for each image size (fer_net_resized) and kept while the
 * size stays the same, as it does for a video. An image larger than
 * max_pixels is searched on a copy reduced by area averaging, and the boxes
 * are scaled back.
 */
#ifndef FER_DETECT_YUNET_H
#define FER_DETECT_YUNET_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "core/status.h"
#include "image/image.h"
#include "nn/net.h"

typedef struct fer_yunet fer_yunet;

/* One face: the box in image pixels (float, may reach past the image), its score in (0, 1),
 * and the five landmarks as x, y pairs. */
struct fer_yunet_face {
    float x, y, w, h;
    float score;
    float landmarks[10];
};

struct fer_yunet_params {
    float score_threshold; /* faces scoring below are dropped (default 0.6) */
    float nms_threshold;   /* a face overlapping a better one by more IoU is dropped (0.3) */
    int min_size;          /* faces whose box is smaller on both sides are dropped (0: none) */
    int top_k;             /* candidates kept for suppression, best first (1000) */
    int keep;              /* faces returned at most (200) */
    size_t max_pixels;     /* larger images are reduced to this many pixels first (see above;
                              default FER_YUNET_MAX_PIXELS, 0: never) */
};

/* 1024x768: about 140 MB of activations; a face of 10 pixels in the reduced image is found. */
#define FER_YUNET_MAX_PIXELS ((size_t)1024 * 768)

void fer_yunet_params_default(struct fer_yunet_params *p);

/* The detector built into the binary, or a .fer file of task=detect. */
enum fer_status fer_yunet_open_builtin(fer_yunet **out, char *err);
enum fer_status fer_yunet_open(const char *path, fer_yunet **out, char *err);
enum fer_status fer_yunet_open_memory(const uint8_t *data, size_t size, const char *name,
                                      fer_yunet **out, char *err);
void fer_yunet_free(fer_yunet *y);
/* The pool its passes split over (borrowed, may be NULL). */
void fer_yunet_set_pool(fer_yunet *y, fer_pool *pool);

/*
 * Finds the faces in img (RGB, or gray, which is used as B = G = R), best first.
 * *faces (caller frees with fer_free) receives *n faces; none found is not an error.
 */
enum fer_status fer_yunet_detect(fer_yunet *y, const fer_image *img,
                                 const struct fer_yunet_params *p, struct fer_yunet_face **faces,
                                 size_t *n, char *err);

/*
 * The decoding and suppression alone, on a forward pass already made: net is the detector's
 * net for a w x h image (padded to multiples of 32) and `scale` maps its pixels to the
 * caller's. Exposed for tests that compare heads with a reference.
 */
enum fer_status fer_yunet_decode(const fer_net *net, const int heads[12], float scale,
                                 const struct fer_yunet_params *p, struct fer_yunet_face **faces,
                                 size_t *n, char *err);

/*
 * libfacedetection's weights file (its C source, facedetectcnn-data.cpp) into a new net of
 * models/yunet.cfg: yunet_import.c. Every inconsistency is an error naming what is wrong.
 */
enum fer_status fer_yunet_import(const char *text, size_t len, const char *name, fer_net **out,
                                 char *err);
/* The metadata of a YuNet model made by fer_yunet_import: its heads, strides and input. */
#define FER_YUNET_HEADS "39,42,45,48,51,54,57,60,63,66,69,72"

#endif
