/*
 * engine_parts.h - the steps of fer_engine_analyze, for callers inside fer that run them
 * apart: the tracker (pipeline/tracker.c) detects only on some frames and classifies the
 * faces it follows on every frame.
 */
#ifndef FER_PIPELINE_ENGINE_PARTS_H
#define FER_PIPELINE_ENGINE_PARTS_H

#include <stddef.h>

#include "detect/finder.h"
#include "fer.h"

/* The gray image to read for img: img itself when gray, else a new copy into *gray (the
 * caller frees it); *g points to the one to use. */
enum fer_status fer_engine_gray_of(const fer_image *img, fer_image *gray, const fer_image **g,
                                   char *err);

/* The detector's faces in img (RGB or gray; gray is its gray version). *found: fer_free. */
enum fer_status fer_engine_find_faces(fer_engine *e, const fer_image *img, const fer_image *gray,
                                      struct fer_found **found, size_t *n, char *err);

/* Crops each of the n faces from gray (with the model's margin, aligned when the engine
 * aligns) and classifies them in batches into out[0..n): every field of fer_face. */
enum fer_status fer_engine_classify_found(fer_engine *e, const fer_image *gray,
                                          const struct fer_found *found, size_t n, fer_face *out,
                                          char *err);

/* The most likely of the engine's classes in probabilities. */
int fer_engine_top_class(const fer_engine *e, const float *probabilities);

#endif
