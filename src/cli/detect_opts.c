/* detect_opts.c - the detection options of fer detect and fer predict (see detect_opts.h). */
#include "cli/detect_opts.h"

#include <stdio.h>

#include "cli/commands.h"

/* Sets the values and writes the help texts that state them. */
static void set_defaults(struct fer_detect_opts *d, const char *cascade, double scale_factor,
                         int min_neighbors, int min_size, int max_size)
{
    d->cascade = cascade;
    d->scale_factor = (float)scale_factor;
    d->min_neighbors = min_neighbors;
    d->min_size = min_size;
    d->max_size = max_size;
    d->max_megapixels = FER_DEFAULT_MAX_MEGAPIXELS;
    snprintf(d->help_scale, sizeof(d->help_scale), "detection pyramid step, > 1 (default %g)",
             scale_factor);
    snprintf(d->help_neighbors, sizeof(d->help_neighbors), "overlapping hits needed (default %d)",
             min_neighbors);
    if (min_size)
        snprintf(d->help_min_size, sizeof(d->help_min_size), "smallest face in pixels (default %d)",
                 min_size);
    else
        snprintf(d->help_min_size, sizeof(d->help_min_size),
                 "smallest face in pixels (default: the cascade's window)");
    if (max_size)
        snprintf(d->help_max_size, sizeof(d->help_max_size), "largest face in pixels (default %d)",
                 max_size);
    else
        snprintf(d->help_max_size, sizeof(d->help_max_size),
                 "largest face in pixels (default: any)");
    snprintf(d->help_megapixels, sizeof(d->help_megapixels), "refuse larger images (default %d)",
             FER_DEFAULT_MAX_MEGAPIXELS);
}

void fer_detect_opts_from_params(struct fer_detect_opts *d, const struct fer_detect_params *p)
{
    set_defaults(d, NULL, p->scale_factor, p->min_neighbors, p->min_w, p->max_w);
}

void fer_detect_opts_from_engine(struct fer_detect_opts *d, const struct fer_engine_options *eo)
{
    set_defaults(d, eo->cascade_path, eo->scale_factor, eo->min_neighbors, eo->min_face,
                 eo->max_face);
}

int fer_detect_opts_check(const struct fer_args *a, const struct fer_detect_opts *d)
{
    if (d->scale_factor <= 1.0f || d->min_neighbors < 0 || d->min_size < 0 || d->max_size < 0)
        return fer_args_fail(a, "--scale-factor must be > 1; --min-neighbors and the sizes >= 0");
    if (d->max_megapixels < 1 || d->max_megapixels > FER_DEFAULT_MAX_MEGAPIXELS)
        return fer_args_fail(a, "--max-megapixels must be 1 to %d", FER_DEFAULT_MAX_MEGAPIXELS);
    return FER_ARGS_GO;
}

void fer_detect_opts_to_params(const struct fer_detect_opts *d, struct fer_detect_params *p)
{
    p->scale_factor = d->scale_factor;
    p->min_neighbors = d->min_neighbors;
    p->min_w = p->min_h = d->min_size;
    p->max_w = p->max_h = d->max_size;
}

void fer_detect_opts_to_engine(const struct fer_detect_opts *d, struct fer_engine_options *eo)
{
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
