/*
 * small_gemm.h - the GEMM of forward passes: c (M x N) = a (M x K) · b (K x N) for
 * the small, repeated products of one face's convolutions, where OpenBLAS
 * spends a quarter of its time packing operands it packed the call before.
 * Internal to nn/.
 *
 * a, the weights, is packed once (fer_small_gemm_pack) into panels of
 * FER_GEMM_MR rows; b is read in place, FER_GEMM_NR columns at a time, from
 * rows that hold whole panels (its row stride ldb >= N rounded up to NR, the
 * columns past N any finite value). A 6x16 AVX2/FMA kernel (the BLIS Haswell
 * shape) runs where the CPU has it, portable C elsewhere.
 */
#ifndef FER_NN_SMALL_GEMM_H
#define FER_NN_SMALL_GEMM_H

#include <stddef.h>

#define FER_GEMM_MR 6
#define FER_GEMM_NR 16

/* Floats of a packed m x k matrix: m rounded up to MR, times k. */
size_t fer_small_gemm_packed_size(int m, int k);

/* packed = a (m x k, row stride lda) in panels of MR rows, each column's MR values together;
 * the rows past m are zero. */
void fer_small_gemm_pack(const float *a, int m, int k, size_t lda, float *packed);

/* The row stride to give b for n columns: whole panels, and off 4 KiB multiples. */
size_t fer_small_gemm_ldb(int n);

/* c (m x n, row stride ldc) = packed a (m x k) · b (k x n, row stride ldb); only c's m x n
 * values are written. */
void fer_small_gemm(int m, int n, int k, const float *packed_a, const float *b, size_t ldb,
                    float *c, size_t ldc);
/* The same into a c with room for whole tiles (m rounded up to MR rows, ldc >= n rounded up to
 * NR), which takes the padding's values too: faster, for scratch. */
void fer_small_gemm_padded(int m, int n, int k, const float *packed_a, const float *b, size_t ldb,
                           float *c, size_t ldc);

/* Makes later products use the portable C kernel even where AVX2 and FMA are there (for
 * tests: both kernels must give the same answers). Not thread-safe. */
void fer_small_gemm_portable(int on);

#endif
