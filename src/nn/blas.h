/*
 * blas.h - the one place fer includes CBLAS (OpenBLAS).
 *
 * fer owns its threads (core/pool.h) and calls BLAS from inside them, so
 * BLAS itself must stay single-threaded: two layers of threads fight over
 * the cores. fer_blas_single_thread() sets that once per process.
 */
#ifndef FER_NN_BLAS_H
#define FER_NN_BLAS_H

#include <cblas.h>

void fer_blas_single_thread(void);

/* The kernels OpenBLAS chose for this CPU ("SkylakeX", "Haswell", ...; cli/blas_preinit.c). */
const char *fer_blas_core(void);

#endif
