/* detect_opts.c - the detection options of fer detect and fer predict (see detect_opts.h). */
#include "cli/detect_opts.h"

#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "detect/finder.h"

void fer_detect_opts_init(struct fer_detect_opts *d)
{
    struct fer_engine_options eo;
    fer_engine_options_default(&eo);
    *d = (struct fer_detect_opts){.detector = NULL, /* see fer_detect_opts_detector */
                                  .detector_path = eo.detector_path,
                                  .score_threshold = eo.score_threshold,
                                  .nms_threshold = eo.nms_threshold,
                                  .cascade = eo.cascade_path,
                                  .scale_factor = (float)eo.scale_factor,
                                  .min_neighbors = eo.min_neighbors,
                                  .min_size = eo.min_face,
                                  .max_size = eo.max_face,
                                  .max_megapixels = FER_DEFAULT_MAX_MEGAPIXELS};
    snprintf(d->help_detector, sizeof(d->help_detector),
             "yunet | haar | lbp (with --cascade) | none: the whole image is the face "
             "(default %s; haar when --cascade is given)",
             fer_detector_name(eo.detector));
    snprintf(d->help_score, sizeof(d->help_score),
             "yunet: drop faces scoring below, 0 to 1 (default %g)", (double)d->score_threshold);
    snprintf(d->help_nms, sizeof(d->help_nms),
             "yunet: of two faces overlapping by more (IoU), keep the better (default %g)",
             (double)d->nms_threshold);
    snprintf(d->help_scale, sizeof(d->help_scale), "cascades: pyramid step, > 1 (default %g)",
             eo.scale_factor);
    snprintf(d->help_neighbors, sizeof(d->help_neighbors),
             "cascades: overlapping hits needed (default %d)", eo.min_neighbors);
    snprintf(d->help_min_size, sizeof(d->help_min_size), "smallest face in pixels (default %d)",
             eo.min_face);
    snprintf(d->help_max_size, sizeof(d->help_max_size), "largest face in pixels (default: any)");
    snprintf(d->help_megapixels, sizeof(d->help_megapixels), "refuse larger images (default %d)",
             FER_DEFAULT_MAX_MEGAPIXELS);
}

int fer_detect_opts_detector(const struct fer_detect_opts *d)
{
    if (d->detector)
        return fer_detector_parse(d->detector);
    if (d->cascade)
        return FER_DETECTOR_HAAR;
    struct fer_engine_options eo;
    fer_engine_options_default(&eo);
    return eo.detector;
}

int fer_detect_opts_check(const struct fer_args *a, const struct fer_detect_opts *d)
{
    int detector = fer_detect_opts_detector(d);
    if (detector < 0)
        return fer_args_fail(a, "--detector must be yunet, haar, lbp or none, not '%s'",
                             d->detector);
    if (detector == FER_DETECTOR_LBP && !d->cascade)
        return fer_args_fail(a, "--detector lbp needs --cascade FILE (an OpenCV LBP cascade)");
    if (d->cascade && detector != FER_DETECTOR_HAAR && detector != FER_DETECTOR_LBP)
        return fer_args_fail(a, "--cascade goes with --detector haar or lbp");
    if (!(d->score_threshold >= 0 && d->score_threshold <= 1) ||
        !(d->nms_threshold >= 0 && d->nms_threshold <= 1))
        return fer_args_fail(a, "--score-threshold and --nms-threshold must be 0 to 1");
    if (d->scale_factor <= 1.0f || d->min_neighbors < 0 || d->min_size < 0 || d->max_size < 0)
        return fer_args_fail(a, "--scale-factor must be > 1; --min-neighbors and the sizes >= 0");
    if (d->max_megapixels < 1 || d->max_megapixels > FER_DEFAULT_MAX_MEGAPIXELS)
        return fer_args_fail(a, "--max-megapixels must be 1 to %d", FER_DEFAULT_MAX_MEGAPIXELS);
    return FER_ARGS_GO;
}

void fer_detect_opts_to_engine(const struct fer_detect_opts *d, struct fer_engine_options *eo)
{
    eo->detector = fer_detect_opts_detector(d);
    eo->detector_path = d->detector_path;
    eo->score_threshold = d->score_threshold;
    eo->nms_threshold = d->nms_threshold;
    eo->cascade_path = d->cascade;
    eo->scale_factor = d->scale_factor;
    eo->min_neighbors = d->min_neighbors;
    eo->min_face = d->min_size;
    eo->max_face = d->max_size;
}

size_t fer_detect_opts_max_pixels(const struct fer_detect_opts *d)
{
    return (size_t)d->max_megapixels * 1000000;
}
