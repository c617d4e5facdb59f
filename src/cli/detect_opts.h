/*
 * detect_opts.h - the face-detection options that fer detect and fer predict
 * share (--detector, --detector-model, --score-threshold, --nms-threshold,
 * --cascade, --scale-factor, --min-neighbors, --min-size, --max-size,
 * --max-megapixels), defined once with their checks and with the engine's
 * defaults (fer_engine_options_default), so that both commands find the same
 * faces. The server reads the same names as query parameters.
 *
 *     struct fer_detect_opts d;
 *     fer_detect_opts_init(&d);
 *     struct fer_opt opts[] = {..., FER_OPTS_DETECT(&d), ..., FER_OPT_END};
 *     ... fer_args_read ...
 *     if ((status = fer_detect_opts_check(&args, &d)) != FER_ARGS_GO)
 *         return status;
 *     fer_detect_opts_to_engine(&d, &engine_options);
 */
#ifndef FER_CLI_DETECT_OPTS_H
#define FER_CLI_DETECT_OPTS_H

#include <stddef.h>

#include "cli/args.h"
#include "fer.h"

struct fer_detect_opts {
    const char *detector;      /* yunet | haar | lbp | none; NULL: see fer_detect_opts_detector */
    const char *detector_path; /* a YuNet .fer; NULL: the built-in one */
    float score_threshold, nms_threshold;
    const char *cascade; /* an OpenCV cascade XML; NULL: the built-in Haar frontal face */
    float scale_factor;  /* the pyramid step, > 1 */
    int min_neighbors;   /* overlapping hits a face needs, >= 0 */
    int min_size;        /* the smallest face in pixels; 0: any */
    int max_size;        /* the largest face in pixels; 0: any */
    int max_megapixels;  /* larger images are refused: 1 to FER_DEFAULT_MAX_MEGAPIXELS */
    /* the help texts, which state the defaults */
    char help_detector[128], help_score[96], help_nms[96], help_scale[64], help_neighbors[64],
        help_min_size[64], help_max_size[64], help_megapixels[64];
};

/* The options' entries in a command's fer_opt table; d points to a struct set up by _init.
 * FER_OPTS_DETECTOR leaves out --max-megapixels, for commands that have their own. */
/* clang-format off */
#define FER_OPTS_DETECT(d)                                                                         \
    FER_OPTS_DETECTOR(d),                                                                          \
    {"max-megapixels", FER_OPT_INT, &(d)->max_megapixels, (d)->help_megapixels, NULL}
#define FER_OPTS_DETECTOR(d)                                                                       \
    {"detector", FER_OPT_STR, &(d)->detector, (d)->help_detector, NULL},                           \
    {"detector-model", FER_OPT_STR, &(d)->detector_path,                                           \
     "yunet: a detector .fer (default: built-in, models/yunet.fer)", NULL},                        \
    {"score-threshold", FER_OPT_FLOAT, &(d)->score_threshold, (d)->help_score, NULL},              \
    {"nms-threshold", FER_OPT_FLOAT, &(d)->nms_threshold, (d)->help_nms, NULL},                    \
    {"cascade", FER_OPT_STR, &(d)->cascade,                                                        \
     "haar, lbp: an OpenCV cascade XML (default: built-in Haar frontal face)", NULL},              \
    {"scale-factor", FER_OPT_FLOAT, &(d)->scale_factor, (d)->help_scale, NULL},                    \
    {"min-neighbors", FER_OPT_INT, &(d)->min_neighbors, (d)->help_neighbors, NULL},                \
    {"min-size", FER_OPT_INT, &(d)->min_size, (d)->help_min_size, NULL},                           \
    {"max-size", FER_OPT_INT, &(d)->max_size, (d)->help_max_size, NULL}
/* clang-format on */

/* The engine's defaults, and the help texts that state them. */
void fer_detect_opts_init(struct fer_detect_opts *d);

/*
 * Checks the values as given: FER_ARGS_GO, or FER_EXIT_USAGE after a message (fer_args_fail)
 * for an unknown detector, lbp without --cascade, --cascade with another detector, thresholds
 * outside [0, 1], a scale factor not above 1, a negative count or size, or --max-megapixels
 * not 1 to FER_DEFAULT_MAX_MEGAPIXELS.
 */
int fer_detect_opts_check(const struct fer_args *a, const struct fer_detect_opts *d);

/* The detector asked for (enum fer_detector): --detector, else haar when --cascade is given,
 * else the engine's default; -1 for an unknown name. */
int fer_detect_opts_detector(const struct fer_detect_opts *d);

/* The values into engine options (fer_finder_open takes the same). */
void fer_detect_opts_to_engine(const struct fer_detect_opts *d, struct fer_engine_options *eo);

/* --max-megapixels in pixels, for fer_image_load and fer_image_decode. */
size_t fer_detect_opts_max_pixels(const struct fer_detect_opts *d);

#endif
