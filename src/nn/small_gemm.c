/* small_gemm.c - the GEMM of inference (see small_gemm.h). */
#include "nn/small_gemm.h"

#include <string.h>

#define MR FER_GEMM_MR
#define NR FER_GEMM_NR

/* c (MR x NR, row stride ldc) = a (k x MR, packed) · b (k x NR, row stride ldb): portable C. */
static void kernel_c(int k, const float *restrict a, const float *restrict b, size_t ldb,
                     float *restrict c, size_t ldc)
{
    float acc[MR][NR] = {{0}};
    for (int i = 0; i < k; i++) {
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++)
                acc[r][j] += a[r] * b[j];
        a += MR;
        b += ldb;
    }
    for (int r = 0; r < MR; r++)
        memcpy(c + (size_t)r * ldc, acc[r], sizeof(acc[r]));
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_KERNEL_AVX2 1

/* The same with AVX2 and FMA, chosen at run time: 12 accumulators of 8 (6 rows x 16 columns),
 * the BLIS Haswell shape. */
__attribute__((target("avx2,fma"))) static void kernel_avx2(int k, const float *restrict a,
                                                            const float *restrict b, size_t ldb,
                                                            float *restrict c, size_t ldc)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int i = 0; i < k; i++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), x;
        x = _mm256_broadcast_ss(a);
        c00 = _mm256_fmadd_ps(x, b0, c00);
        c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(x, b0, c10);
        c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(x, b0, c20);
        c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(x, b0, c30);
        c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(x, b0, c40);
        c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(x, b0, c50);
        c51 = _mm256_fmadd_ps(x, b1, c51);
        a += MR;
        b += ldb;
    }
    _mm256_storeu_ps(c, c00);
    _mm256_storeu_ps(c + 8, c01);
    _mm256_storeu_ps(c + ldc, c10);
    _mm256_storeu_ps(c + ldc + 8, c11);
    _mm256_storeu_ps(c + 2 * ldc, c20);
    _mm256_storeu_ps(c + 2 * ldc + 8, c21);
    _mm256_storeu_ps(c + 3 * ldc, c30);
    _mm256_storeu_ps(c + 3 * ldc + 8, c31);
    _mm256_storeu_ps(c + 4 * ldc, c40);
    _mm256_storeu_ps(c + 4 * ldc + 8, c41);
    _mm256_storeu_ps(c + 5 * ldc, c50);
    _mm256_storeu_ps(c + 5 * ldc + 8, c51);
}

#define HAVE_KERNEL_AVX512 1

/* One tile (6 rows x 16 columns) with AVX-512: 6 accumulators of 16. Where 512-bit vectors run
 * at full width (AMD Zen 5, Intel server cores) this does the tile in half the instructions of
 * kernel_avx2; on Zen 4, which splits them, it is no slower. The same fused multiply-adds in
 * the same order, so the same answers to the bit. */
__attribute__((target("avx512f"))) static void kernel_avx512(int k, const float *restrict a,
                                                             const float *restrict b, size_t ldb,
                                                             float *restrict c, size_t ldc)
{
    __m512 acc[MR];
    for (int r = 0; r < MR; r++)
        acc[r] = _mm512_setzero_ps();
    for (int i = 0; i < k; i++) {
        const __m512 b0 = _mm512_loadu_ps(b);
        for (int r = 0; r < MR; r++)
            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), b0, acc[r]);
        a += MR;
        b += ldb;
    }
    for (int r = 0; r < MR; r++)
        _mm512_storeu_ps(c + (size_t)r * ldc, acc[r]);
}

/* Two tiles side by side (6 rows x 32 columns) with AVX-512: 12 accumulators of 16. Each value
 * is the same chain of fused multiply-adds over k as in the kernels above, so the answers are
 * the same to the bit. */
__attribute__((target("avx512f"))) static void kernel_avx512_wide(int k, const float *restrict a,
                                                                  const float *restrict b,
                                                                  size_t ldb, float *restrict c,
                                                                  size_t ldc)
{
    __m512 acc[MR][2];
    for (int r = 0; r < MR; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int i = 0; i < k; i++) {
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + NR);
        for (int r = 0; r < MR; r++) {
            const __m512 x = _mm512_set1_ps(a[r]);
            acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
        }
        a += MR;
        b += ldb;
    }
    for (int r = 0; r < MR; r++) {
        _mm512_storeu_ps(c + (size_t)r * ldc, acc[r][0]);
        _mm512_storeu_ps(c + (size_t)r * ldc + NR, acc[r][1]);
    }
}
#endif

typedef void (*kernel_fn)(int, const float *restrict, const float *restrict, size_t,
                          float *restrict, size_t);

/* The same over 2 * NR columns, where the CPU has a kernel that wide; NULL where not. */
typedef kernel_fn wide_kernel_fn;

/* The widest kernel later products may take (fer_small_gemm_use). */
enum kernel_level { LEVEL_PORTABLE, LEVEL_AVX2, LEVEL_AVX512 };
static enum kernel_level level_cap = LEVEL_AVX512;

static int cpu_has(enum kernel_level level)
{
    switch (level) {
#ifdef HAVE_KERNEL_AVX512
    case LEVEL_AVX512:
        return __builtin_cpu_supports("avx512f");
#endif
#ifdef HAVE_KERNEL_AVX2
    case LEVEL_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    case LEVEL_PORTABLE:
        return 1;
    default:
        return 0;
    }
}

static const char *const LEVEL_NAMES[] = {"portable", "avx2", "avx512"};

int fer_small_gemm_use(const char *kernel)
{
    if (!kernel) {
        level_cap = LEVEL_AVX512;
        return 1;
    }
    for (int level = LEVEL_PORTABLE; level <= LEVEL_AVX512; level++)
        if (strcmp(kernel, LEVEL_NAMES[level]) == 0 && cpu_has((enum kernel_level)level)) {
            level_cap = (enum kernel_level)level;
            return 1;
        }
    return 0;
}

static kernel_fn pick_kernel(void)
{
#ifdef HAVE_KERNEL_AVX512
    if (level_cap >= LEVEL_AVX512 && cpu_has(LEVEL_AVX512))
        return kernel_avx512;
#endif
#ifdef HAVE_KERNEL_AVX2
    if (level_cap >= LEVEL_AVX2 && cpu_has(LEVEL_AVX2))
        return kernel_avx2;
#endif
    return kernel_c;
}

static wide_kernel_fn pick_wide_kernel(void)
{
#ifdef HAVE_KERNEL_AVX512
    if (level_cap >= LEVEL_AVX512 && cpu_has(LEVEL_AVX512))
        return kernel_avx512_wide;
#endif
    return NULL;
}

const char *fer_small_gemm_kernel(void)
{
    for (int level = level_cap; level > LEVEL_PORTABLE; level--)
        if (cpu_has((enum kernel_level)level))
            return LEVEL_NAMES[level];
    return LEVEL_NAMES[LEVEL_PORTABLE];
}

size_t fer_small_gemm_packed_size(int m, int k)
{
    return (size_t)((m + MR - 1) / MR * MR) * (size_t)k;
}

void fer_small_gemm_pack(const float *a, int m, int k, size_t lda, float *packed)
{
    memset(packed, 0, sizeof(float) * fer_small_gemm_packed_size(m, k));
    for (int r = 0; r < m; r++)
        for (int i = 0; i < k; i++)
            packed[((size_t)(r / MR) * (size_t)k + (size_t)i) * MR + (size_t)(r % MR)] =
                a[(size_t)r * lda + (size_t)i];
}

size_t fer_small_gemm_ldb(int n)
{
    return (size_t)((n + NR - 1) / NR * NR) + 8;
}

/* Columns of b per block: every row panel of a runs over one block before the next, so that
 * the block (k x 256 floats, 64 KiB at k = 64) is read from cache, not memory, after the first
 * panel: on the wide maps of a detector, b would otherwise stream from memory m / MR times. */
#define COLUMN_BLOCK 256

/* The tiles of rows r0.. and columns j0 .. j1 (one block). */
static void run_block(int m, int n, int k, const float *packed_a, const float *b, size_t ldb,
                      float *c, size_t ldc, int room, int j0, int j1)
{
    const kernel_fn kernel = pick_kernel();
    const wide_kernel_fn wide = pick_wide_kernel();
    float edge[MR * NR];
    for (int r0 = 0; r0 < m; r0 += MR) {
        const float *a = packed_a + (size_t)r0 * (size_t)k;
        const int rows = m - r0 < MR ? m - r0 : MR;
        for (int j = j0; j < j1; j += NR) {
            const int cols = n - j < NR ? n - j : NR;
            float *dst = c + (size_t)r0 * ldc + (size_t)j;
            const int whole = room || rows == MR;
            if (wide && whole && j + 2 * NR <= j1 && (room || j + 2 * NR <= n)) {
                wide(k, a, b + j, ldb, dst, ldc);
                j += NR;
                continue;
            }
            if (room || (rows == MR && cols == NR)) {
                kernel(k, a, b + j, ldb, dst, ldc);
                continue;
            }
            /* a partial tile: whole in a local block, then its valid part */
            kernel(k, a, b + j, ldb, edge, NR);
            for (int r = 0; r < rows; r++)
                memcpy(dst + (size_t)r * ldc, edge + r * NR, sizeof(float) * (size_t)cols);
        }
    }
}

/* Both entry points: with room, every tile is written whole, padding and all. */
static void run(int m, int n, int k, const float *packed_a, const float *b, size_t ldb, float *c,
                size_t ldc, int room)
{
    for (int j0 = 0; j0 < n; j0 += COLUMN_BLOCK) {
        int j1 = j0 + COLUMN_BLOCK < n ? j0 + COLUMN_BLOCK : n;
        run_block(m, n, k, packed_a, b, ldb, c, ldc, room, j0, j1);
    }
}

void fer_small_gemm(int m, int n, int k, const float *packed_a, const float *b, size_t ldb,
                    float *c, size_t ldc)
{
    run(m, n, k, packed_a, b, ldb, c, ldc, 0);
}

void fer_small_gemm_padded(int m, int n, int k, const float *packed_a, const float *b, size_t ldb,
                           float *c, size_t ldc)
{
    run(m, n, k, packed_a, b, ldb, c, ldc, 1);
}
