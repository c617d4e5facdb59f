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

/* The widest level this CPU has, up to the cap. */
static enum kernel_level best_level(void)
{
    int level = level_cap;
    while (level > LEVEL_PORTABLE && !cpu_has((enum kernel_level)level))
        level--;
    return (enum kernel_level)level;
}

static kernel_fn pick_kernel(void)
{
    switch (best_level()) {
#ifdef HAVE_KERNEL_AVX512
    case LEVEL_AVX512:
        return kernel_avx512;
#endif
#ifdef HAVE_KERNEL_AVX2
    case LEVEL_AVX2:
        return kernel_avx2;
#endif
    default:
        return kernel_c;
    }
}

static wide_kernel_fn pick_wide_kernel(void)
{
#ifdef HAVE_KERNEL_AVX512
    if (best_level() == LEVEL_AVX512)
        return kernel_avx512_wide;
#endif
    return NULL;
}

const char *fer_small_gemm_kernel(void)
{
    return LEVEL_NAMES[best_level()];
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

/*
 * fer_small_gemm_tn: c (m x n) = aᵀ · b with aᵀ stored k x m (a[i * lda + r]) and b k x n, for
 * products whose columns are many channels and whose rows are few positions. The kernels hold
 * up to ROWS_* rows x one or two column vectors in registers and read a where it lies: a row of
 * a tile's k values is a strided walk through the k rows of aᵀ, each broadcast in turn.
 */
#define COLS_TN 16 /* columns of one step: n must be a multiple */

/* portable C: rows x 16 */
static void tn_rows_c(int rows, int k, const float *restrict at, size_t lda,
                      const float *restrict b, size_t ldb, float *restrict c, size_t ldc)
{
    float acc[16][COLS_TN] = {{0}};
    for (int i = 0; i < k; i++, at += lda, b += ldb)
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < COLS_TN; j++)
                acc[r][j] += at[r] * b[j];
    for (int r = 0; r < rows; r++)
        memcpy(c + (size_t)r * ldc, acc[r], sizeof(acc[r]));
}

#ifdef HAVE_KERNEL_AVX2
#define ROWS_AVX2 6
/* AVX2: up to 6 rows x 16 columns, 12 accumulators (the rows a constant after inlining) */
__attribute__((target("avx2,fma"), always_inline)) static inline void
tn_rows_avx2(int rows, int k, const float *restrict at, size_t lda, const float *restrict b,
             size_t ldb, float *restrict c, size_t ldc)
{
    __m256 acc[ROWS_AVX2][2];
    for (int r = 0; r < rows; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int i = 0; i < k; i++, at += lda, b += ldb) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        for (int r = 0; r < rows; r++) {
            const __m256 x = _mm256_broadcast_ss(at + r);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < rows; r++) {
        _mm256_storeu_ps(c + (size_t)r * ldc, acc[r][0]);
        _mm256_storeu_ps(c + (size_t)r * ldc + 8, acc[r][1]);
    }
}

__attribute__((target("avx2,fma"))) static void tn_avx2(int rows, int k, const float *at,
                                                        size_t lda, const float *b, size_t ldb,
                                                        float *c, size_t ldc)
{
    switch (rows) {
#define ROWS_CASE(R)                                                                               \
    case R:                                                                                        \
        tn_rows_avx2(R, k, at, lda, b, ldb, c, ldc);                                               \
        break;
        ROWS_CASE(1) ROWS_CASE(2) ROWS_CASE(3) ROWS_CASE(4) ROWS_CASE(5) ROWS_CASE(6)
#undef ROWS_CASE
    }
}
#endif

#ifdef HAVE_KERNEL_AVX512
#define ROWS_AVX512 14
/* How far ahead in b the AVX-512 kernel asks for rows: 8 KiB, two pages, so that a page's rows
 * are on their way before the kernel reaches them (batch 1 of the built-in network, training
 * paused: one face in 1.66-2.0 ms against 2.2-2.6 without; 4 KiB ahead gained half that). */
#define PREFETCH_BYTES 8192
/* AVX-512: up to 14 rows x `vectors` (1 or 2) vectors of 16 columns: at most 28 accumulators,
 * the two b vectors, and the broadcasts taken from memory by the multiply-adds themselves. */
__attribute__((target("avx512f"), always_inline)) static inline void
tn_rows_avx512(int rows, int vectors, int k, const float *restrict at, size_t lda,
               const float *restrict b, size_t ldb, float *restrict c, size_t ldc)
{
    __m512 acc[ROWS_AVX512][2];
    for (int r = 0; r < rows; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int i = 0; i < k; i++, at += lda, b += ldb) {
        /* b's rows come from memory, not cache, when a face's weights pass once (batch 1):
         * ask for them well ahead, since the hardware's prefetcher stops at page borders */
        _mm_prefetch((const char *)b + PREFETCH_BYTES, _MM_HINT_T0);
        if (vectors == 2)
            _mm_prefetch((const char *)(b + 16) + PREFETCH_BYTES, _MM_HINT_T0);
        const __m512 b0 = _mm512_loadu_ps(b);
        const __m512 b1 = vectors == 2 ? _mm512_loadu_ps(b + 16) : b0;
        for (int r = 0; r < rows; r++) {
            const __m512 x = _mm512_set1_ps(at[r]);
            acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
            if (vectors == 2)
                acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < rows; r++) {
        _mm512_storeu_ps(c + (size_t)r * ldc, acc[r][0]);
        if (vectors == 2)
            _mm512_storeu_ps(c + (size_t)r * ldc + 16, acc[r][1]);
    }
}

__attribute__((target("avx512f"))) static void tn_avx512(int rows, int vectors, int k,
                                                         const float *at, size_t lda,
                                                         const float *b, size_t ldb, float *c,
                                                         size_t ldc)
{
    switch (rows * 2 + vectors - 1) {
#define ROWS_CASE(R)                                                                               \
    case 2 * R:                                                                                    \
        tn_rows_avx512(R, 1, k, at, lda, b, ldb, c, ldc);                                          \
        break;                                                                                     \
    case 2 * R + 1:                                                                                \
        tn_rows_avx512(R, 2, k, at, lda, b, ldb, c, ldc);                                          \
        break;
        ROWS_CASE(1)
        ROWS_CASE(2)
        ROWS_CASE(3)
        ROWS_CASE(4)
        ROWS_CASE(5)
        ROWS_CASE(6)
        ROWS_CASE(7) ROWS_CASE(8) ROWS_CASE(9) ROWS_CASE(10) ROWS_CASE(11) ROWS_CASE(12)
            ROWS_CASE(13) ROWS_CASE(14)
#undef ROWS_CASE
    }
}
#endif

/* Columns of one packed panel of b: 32, or 16 for the last when n is an odd number of 16s. */
#define PANEL_TN 32

size_t fer_small_gemm_tn_packed_size(int k, int n)
{
    return (size_t)k * (size_t)n;
}

void fer_small_gemm_tn_pack(const float *b, int k, int n, size_t ldb, float *packed)
{
    for (int j = 0; j < n; j += PANEL_TN) {
        const int w = n - j < PANEL_TN ? n - j : PANEL_TN;
        for (int i = 0; i < k; i++, packed += w)
            memcpy(packed, b + (size_t)i * ldb + (size_t)j, sizeof(float) * (size_t)w);
    }
}

/* The panels of rows fer_small_gemm_tn takes at a time on this CPU. */
static int tn_most_rows(enum kernel_level level)
{
#ifdef HAVE_KERNEL_AVX512
    if (level == LEVEL_AVX512)
        return ROWS_AVX512;
#endif
#ifdef HAVE_KERNEL_AVX2
    if (level == LEVEL_AVX2)
        return ROWS_AVX2;
#endif
    (void)level;
    return 16;
}

/* One panel of b (w = 32 or 16 columns, row stride w) against rows r0 .. r0 + rows of aᵀ. */
static void tn_panel(enum kernel_level level, int rows, int w, int k, const float *at, size_t lda,
                     const float *bp, float *c, size_t ldc)
{
#ifdef HAVE_KERNEL_AVX512
    if (level == LEVEL_AVX512) {
        tn_avx512(rows, w / 16, k, at, lda, bp, (size_t)w, c, ldc);
        return;
    }
#endif
    for (int j = 0; j < w; j += 16) {
#ifdef HAVE_KERNEL_AVX2
        if (level == LEVEL_AVX2) {
            tn_avx2(rows, k, at, lda, bp + j, (size_t)w, c + j, ldc);
            continue;
        }
#endif
        tn_rows_c(rows, k, at, lda, bp + j, (size_t)w, c + j, ldc);
    }
}

void fer_small_gemm_tn(int m, int n, int k, const float *at, size_t lda, const float *packed_b,
                       float *c, size_t ldc)
{
    const enum kernel_level level = best_level();
    const int most = tn_most_rows(level), panels = (m + most - 1) / most;
    /* each panel of b (k x 32, contiguous) once, from memory, against every row: at batch 1
     * the weights pass once and their bytes, not the arithmetic, set the pace */
    for (int j = 0; j < n; j += PANEL_TN) {
        const int w = n - j < PANEL_TN ? n - j : PANEL_TN;
        const float *bp = packed_b + (size_t)j * (size_t)k;
        /* rows in (nearly) equal panels: 25 rows take 13 + 12, not 14 + 11 */
        for (int p = 0, r0 = 0; p < panels; p++) {
            const int rows = (m - r0 + (panels - p) - 1) / (panels - p);
            tn_panel(level, rows, w, k, at + r0, lda, bp, c + (size_t)r0 * ldc + (size_t)j, ldc);
            r0 += rows;
        }
    }
}

/*
 * fer_small_gemv: y (m) = a (m x k, row stride lda) · x (k). One face through a dense layer reads
 * each weight once: its speed is the memory's, and OpenBLAS 0.3.21 would first pack the whole
 * matrix as for a product with many rows (18.9 MB for the seed network's first dense layer).
 */
static void gemv_c(int m, int k, const float *a, size_t lda, const float *x, float *y)
{
    for (int r = 0; r < m; r++) {
        const float *row = a + (size_t)r * lda;
        float acc = 0;
        for (int i = 0; i < k; i++)
            acc += row[i] * x[i];
        y[r] = acc;
    }
}

#ifdef HAVE_KERNEL_AVX512
/* Four rows at a time, 16 columns a step, the rows prefetched a page ahead. */
__attribute__((target("avx512f"))) static void gemv_avx512(int m, int k, const float *a, size_t lda,
                                                           const float *x, float *y)
{
    const int whole = k / 16 * 16;
    const __mmask16 tail = (__mmask16)((1u << (k - whole)) - 1);
    int r = 0;
    for (; r + 4 <= m; r += 4) {
        const float *a0 = a + (size_t)r * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        for (int i = 0; i < whole; i += 16) {
            _mm_prefetch((const char *)(a0 + i) + 4096, _MM_HINT_T0);
            _mm_prefetch((const char *)(a1 + i) + 4096, _MM_HINT_T0);
            _mm_prefetch((const char *)(a2 + i) + 4096, _MM_HINT_T0);
            _mm_prefetch((const char *)(a3 + i) + 4096, _MM_HINT_T0);
            const __m512 xv = _mm512_loadu_ps(x + i);
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a0 + i), xv, s0);
            s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a1 + i), xv, s1);
            s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a2 + i), xv, s2);
            s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a3 + i), xv, s3);
        }
        if (tail) {
            const __m512 xv = _mm512_maskz_loadu_ps(tail, x + whole);
            s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, a0 + whole), xv, s0);
            s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, a1 + whole), xv, s1);
            s2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, a2 + whole), xv, s2);
            s3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, a3 + whole), xv, s3);
        }
        y[r] = _mm512_reduce_add_ps(s0);
        y[r + 1] = _mm512_reduce_add_ps(s1);
        y[r + 2] = _mm512_reduce_add_ps(s2);
        y[r + 3] = _mm512_reduce_add_ps(s3);
    }
    gemv_c(m - r, k, a + (size_t)r * lda, lda, x, y + r);
}
#endif

void fer_small_gemv(int m, int k, const float *a, size_t lda, const float *x, float *y)
{
#ifdef HAVE_KERNEL_AVX512
    if (best_level() == LEVEL_AVX512) {
        gemv_avx512(m, k, a, lda, x, y);
        return;
    }
#endif
    gemv_c(m, k, a, lda, x, y);
}
