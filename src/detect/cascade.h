/*
 * cascade.h - Viola-Jones face detection with OpenCV's cascade files.
 *
 * Loads the XML cascades that OpenCV ships (Haar, old and new formats,
 * including tilted features after Lienhart & Maydt 2002; and LBP), and runs
 * the multi-scale scan of OpenCV's CascadeClassifier::detectMultiScale with
 * the same parameters and the same grouping of overlapping windows, so that
 * on the same gray image fer returns the same boxes as OpenCV 4.6.
 * (Viola & Jones 2001.)
 */
#ifndef FER_DETECT_CASCADE_H
#define FER_DETECT_CASCADE_H

#include <stddef.h>

#include "core/pool.h"
#include "core/status.h"
#include "image/image.h"

typedef struct fer_cascade fer_cascade;

enum fer_status fer_cascade_load_xml(const char *path, fer_cascade **out, char *err);
/* From XML text in memory (the built-in cascade); name labels errors. */
enum fer_status fer_cascade_load_xml_memory(const char *xml, size_t len, const char *name,
                                            fer_cascade **out, char *err);
/* The frontal-face cascade built into the binary (haarcascade_frontalface_default). */
enum fer_status fer_cascade_load_builtin(fer_cascade **out, char *err);
void fer_cascade_free(fer_cascade *c);

struct fer_detect_params {
    double scale_factor; /* > 1; OpenCV's default 1.1 */
    int min_neighbors;   /* OpenCV's default 3 */
    int min_w, min_h;    /* smallest face; 0 = the cascade's window */
    int max_w, max_h;    /* largest face; 0 = the image */
};

struct fer_detect_params fer_detect_defaults(void);

/*
 * Finds faces in a grayscale image. *faces (caller frees with fer_free) gets
 * *n boxes, in the order OpenCV returns them. The cascade is read-only here,
 * so several threads may detect with one cascade at once.
 */
enum fer_status fer_cascade_detect(const fer_cascade *c, const fer_image *gray,
                                   const struct fer_detect_params *p, fer_rect **faces, size_t *n,
                                   char *err);

/*
 * Like fer_cascade_detect, but spreads the scan over pool's threads (pool may
 * be NULL: one thread). The boxes and their order do not depend on the
 * number of threads.
 */
enum fer_status fer_cascade_detect_pool(const fer_cascade *c, const fer_image *gray,
                                        const struct fer_detect_params *p, fer_pool *pool,
                                        fer_rect **faces, size_t *n, char *err);

#endif
