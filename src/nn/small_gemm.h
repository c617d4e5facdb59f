/*
 * small_gemm.h - the GEMM of forward passes: c (M x N) = a (M x K) · b (K x N) for
 * the small, repeated products of one face's convolutions, where OpenBLAS
 * spends a quarter of its time packing operands it packed the call before.
 * Internal to nn/.
 *
 * a, the weights, is packed once (fer_small_gemm_pack) into panels of
 * FER_GEMM_MR rows; b is read in place, FER_GEMM_NR columns at a time, from
 * rows that hold whole panels (its row stride ldb >= N rounded up to NR, the
 * columns past N any finite value). The kernels, chosen at run time: AVX-512 (6x16 and
 * 6x32 tiles; Zen 5 and Intel's server cores run 512-bit arithmetic at full width, twice the
 * work of AVX2 per instruction), AVX2/FMA (6x16, the BLIS Haswell shape), portable C.
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

/*
 * c (m x n, row stride ldc) = aᵀ · b for a given transposed, at (k x m, row stride lda), and b
 * (k x n, n a multiple of 16) packed by fer_small_gemm_tn_pack. For products with few rows
 * (positions, tiles) and many columns (channels), which the kernels above would run at a
 * fraction of their width: the columns fill whole vectors, the rows go in panels of up to 14
 * (AVX-512), 6 (AVX2) or 16 (portable C), as equal as they can be, and a is read in place.
 * Only c's m x n values are written.
 */
void fer_small_gemm_tn(int m, int n, int k, const float *at, size_t lda, const float *packed_b,
                       float *c, size_t ldc);
/* Floats of a packed k x n b: k * n. */
size_t fer_small_gemm_tn_packed_size(int k, int n);
/* packed = b (k x n, row stride ldb, n a multiple of 16) in panels of 32 columns (the last 16
 * when n is an odd number of 16s), each k x 32 contiguous: the order the kernels read it. */
void fer_small_gemm_tn_pack(const float *b, int k, int n, size_t ldb, float *packed);

/* y (m) = a (m x k, row stride lda) · x (k): one row through a dense layer, its weights read
 * once, in order, without packing. */
void fer_small_gemv(int m, int k, const float *a, size_t lda, const float *x, float *y);

/* The kernel later products run: "avx512", "avx2" or "portable". */
const char *fer_small_gemm_kernel(void);

/* Makes later products use at most the named kernel ("avx512", "avx2" or "portable"), for
 * tests and benchmarks: every kernel must give the same answers. 0 when this CPU lacks it (or
 * fer was built without it); then nothing changes. NULL: the widest the CPU has again (the
 * default). Not thread-safe. */
int fer_small_gemm_use(const char *kernel);

#endif
