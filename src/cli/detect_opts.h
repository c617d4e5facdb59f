/*
 * detect_opts.h - the face-detection options that fer detect and fer predict
 * share (--cascade, --scale-factor, --min-neighbors, --min-size, --max-size,
 * --max-megapixels), defined once with their checks.
 *
 * Each command keeps its own defaults: fer detect OpenCV's (3 neighbours, the
 * cascade's window as the smallest face), fer predict the engine's (5
 * neighbours, 30 pixels). The help texts are written from those defaults:
 *
 *     struct fer_detect_opts d;
 *     fer_detect_opts_from_params(&d, &params);
 *     struct fer_opt opts[] = {..., FER_OPTS_DETECT(&d), ..., FER_OPT_END};
 *     ... fer_args_read ...
 *     if ((status = fer_detect_opts_check(&args, &d)) != FER_ARGS_GO)
 *         return status;
 *     fer_detect_opts_to_params(&d, &params);
 */
#ifndef FER_CLI_DETECT_OPTS_H
#define FER_CLI_DETECT_OPTS_H

#include <stddef.h>

#include "cli/args.h"
#include "detect/cascade.h"
#include "fer.h"

struct fer_detect_opts {
    const char *cascade; /* an OpenCV cascade XML; NULL: the built-in frontal face */
    float scale_factor;  /* the pyramid step, > 1 */
    int min_neighbors;   /* overlapping hits a face needs, >= 0 */
    int min_size;        /* the smallest face in pixels; 0: the cascade's window */
    int max_size;        /* the largest face in pixels; 0: any */
    int max_megapixels;  /* larger images are refused: 1 to FER_DEFAULT_MAX_MEGAPIXELS */
    /* the help texts, which state the command's defaults */
    char help_scale[64], help_neighbors[64], help_min_size[64], help_max_size[64],
        help_megapixels[64];
};

/* The options' entries in a command's fer_opt table; d points to a struct set up by a _from_. */
/* clang-format off */
#define FER_OPTS_DETECT(d)                                                                         \
    {"cascade", FER_OPT_STR, &(d)->cascade,                                                        \
     "OpenCV cascade XML (default: built-in frontal face)", NULL},                                 \
    {"scale-factor", FER_OPT_FLOAT, &(d)->scale_factor, (d)->help_scale, NULL},                    \
    {"min-neighbors", FER_OPT_INT, &(d)->min_neighbors, (d)->help_neighbors, NULL},                \
    {"min-size", FER_OPT_INT, &(d)->min_size, (d)->help_min_size, NULL},                           \
    {"max-size", FER_OPT_INT, &(d)->max_size, (d)->help_max_size, NULL},                           \
    {"max-megapixels", FER_OPT_INT, &(d)->max_megapixels, (d)->help_megapixels, NULL}
/* clang-format on */

/* Defaults from fer detect's parameters (fer_detect_defaults), with the built-in cascade. */
void fer_detect_opts_from_params(struct fer_detect_opts *d, const struct fer_detect_params *p);

/* Defaults from fer predict's engine options (fer_engine_options_default). */
void fer_detect_opts_from_engine(struct fer_detect_opts *d, const struct fer_engine_options *eo);

/*
 * Checks the values as given: FER_ARGS_GO, or FER_EXIT_USAGE after a message
 * (fer_args_fail) when the scale factor is not above 1, a count or size is
 * negative, or --max-megapixels is not 1 to FER_DEFAULT_MAX_MEGAPIXELS.
 */
int fer_detect_opts_check(const struct fer_args *a, const struct fer_detect_opts *d);

/* The values into the parameters of fer_cascade_detect (the cascade is not among them). */
void fer_detect_opts_to_params(const struct fer_detect_opts *d, struct fer_detect_params *p);

/* The values into engine options, the cascade's path included. */
void fer_detect_opts_to_engine(const struct fer_detect_opts *d, struct fer_engine_options *eo);

/* --max-megapixels in pixels, for fer_image_load and fer_image_decode. */
size_t fer_detect_opts_max_pixels(const struct fer_detect_opts *d);

#endif
