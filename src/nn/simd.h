/*
 * simd.h - what fer's hand-vectorised kernels share (internal to nn/): a hint for the
 * compiler's vectoriser, and whether the AVX-512 kernels may run.
 */
#ifndef FER_NN_SIMD_H
#define FER_NN_SIMD_H

#include <string.h>

#include "nn/small_gemm.h"

/* Tells the compiler that the next loop's stores do not feed its loads (GCC 12's alias
 * analysis gives up on some loops that restrict pointers should settle). */
#if defined(__clang__)
#define NO_ALIASING_IN_LOOP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define NO_ALIASING_IN_LOOP _Pragma("GCC ivdep")
#else
#define NO_ALIASING_IN_LOOP
#endif

/* 1 when kernels written for AVX-512 may run: the CPU has it and the level that
 * fer_small_gemm_use sets (tests lower it to check the other kernels) allows it. */
static inline int fer_simd_avx512(void)
{
    return strcmp(fer_small_gemm_kernel(), "avx512") == 0;
}

#endif
