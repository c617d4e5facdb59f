/* blas.c - keeps OpenBLAS single-threaded: fer's pool owns the cores. */
#include "nn/blas.h"

void fer_blas_single_thread(void)
{
    openblas_set_num_threads(1);
}

const char *fer_blas_core(void)
{
    return openblas_get_corename();
}
