/* test_core.c - status strings, allocation faults, RNG, SHA-256, thread pool, progress. */
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "core/status.h"

TEST(status_strings)
{
    CHECK_STR(fer_status_str(FER_OK), "ok");
    CHECK_STR(fer_status_str(FER_ERR_CORRUPT), "corrupt data");
    char err[FER_ERR_LEN];
    CHECK(fer_errorf(err, FER_ERR_IO, "x%d", 42) == FER_ERR_IO);
    CHECK_STR(err, "x42");
    CHECK(fer_errorf(NULL, FER_ERR_ARG, "ignored") == FER_ERR_ARG);
}

TEST(alloc_fault_injection)
{
    fer_alloc_fail_after(1);
    void *a = fer_malloc(10);
    void *b = fer_malloc(10);
    void *c = fer_malloc(10);
    CHECK(a != NULL);
    CHECK(b == NULL);
    CHECK(c != NULL);
    fer_free(a);
    fer_free(c);
    size_t out;
    CHECK(!fer_size_mul(SIZE_MAX / 2, 3, &out));
    CHECK(fer_size_mul(1000, 1000, &out) && out == 1000000);
    CHECK(fer_calloc(SIZE_MAX / 2, 4) == NULL);
    float *al = fer_alloc_aligned(3, sizeof(float));
    CHECK(al && ((uintptr_t)al % 64) == 0 && al[2] == 0.0f);
    fer_free(al);
}

TEST(rng_reproducible)
{
    fer_rng a, b, c;
    fer_rng_seed(&a, 42, 1, 2, 3);
    fer_rng_seed(&b, 42, 1, 2, 3);
    fer_rng_seed(&c, 42, 2, 1, 3);
    int same = 1, differ = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = fer_rng_u64(&a), y = fer_rng_u64(&b), z = fer_rng_u64(&c);
        same &= x == y;
        differ |= x != z;
    }
    CHECK(same);
    CHECK(differ);
    double sum = 0, sq = 0;
    int n = 20000;
    for (int i = 0; i < n; i++) {
        float u = fer_rng_uniform(&a);
        CHECK(u >= 0.0f && u < 1.0f);
        float g = fer_rng_normal(&a);
        sum += (double)g;
        sq += (double)g * (double)g;
    }
    CHECK_NEAR(sum / n, 0.0, 0.05);
    CHECK_NEAR(sq / n, 1.0, 0.05);
    uint32_t idx[50];
    for (uint32_t i = 0; i < 50; i++)
        idx[i] = i;
    fer_rng_shuffle(&a, idx, 50);
    int seen[50] = {0}, moved = 0;
    for (uint32_t i = 0; i < 50; i++) {
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < 50; i++)
        CHECK(seen[i] == 1);
    CHECK(moved > 10);
}

TEST(sha256_vectors)
{
    uint8_t d[32];
    char hex[65];
    fer_sha256 c;
    fer_sha256_init(&c);
    fer_sha256_update(&c, "abc", 3);
    fer_sha256_final(&c, d);
    fer_sha256_hex(d, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* the two-block message from FIPS 180-4, fed in odd pieces */
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    fer_sha256_init(&c);
    size_t len = strlen(m);
    for (size_t i = 0; i < len; i += 5)
        fer_sha256_update(&c, m + i, len - i < 5 ? len - i : 5);
    fer_sha256_final(&c, d);
    fer_sha256_hex(d, hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char err[FER_ERR_LEN];
    CHECK(fer_sha256_file("/nonexistent/file", hex, err) == FER_ERR_IO);
    CHECK(strstr(err, "/nonexistent/file") != NULL);
}

static atomic_int task_hits[1000];

static void count_task(void *arg, size_t t, int thread)
{
    (void)arg;
    CHECK(thread >= 0 && thread < 4);
    atomic_fetch_add(&task_hits[t], 1);
}

TEST(pool_runs_every_task_once)
{
    fer_pool *pool;
    char err[FER_ERR_LEN];
    CHECK(fer_pool_new(4, &pool, err) == FER_OK);
    CHECK(fer_pool_threads(pool) == 4);
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 1000; i++)
            atomic_store(&task_hits[i], 0);
        fer_pool_run(pool, 1000, count_task, NULL);
        int ok = 1;
        for (int i = 0; i < 1000; i++)
            ok &= atomic_load(&task_hits[i]) == 1;
        CHECK(ok);
    }
    fer_pool_run(pool, 0, count_task, NULL);
    fer_pool_free(pool);
    fer_pool_run(NULL, 3, count_task, NULL); /* inline */
    CHECK(fer_pool_new(100000, &pool, err) == FER_ERR_ARG);
    fer_pool_free(NULL);
}

/* Thread 1's tasks take 2 ms each, thread 0's no time: thread 0, its own run done, takes what is
 * left at the back of thread 1's. */
static atomic_int slow_hits[64], fast_runs;

static void slow_on_thread_one(void *arg, size_t t, int thread)
{
    (void)arg;
    atomic_fetch_add(&slow_hits[t], 1);
    if (thread == 1)
        usleep(2000);
    else
        atomic_fetch_add(&fast_runs, 1);
}

TEST(pool_gives_a_slow_threads_tasks_to_another)
{
    fer_pool *pool;
    char err[FER_ERR_LEN];
    CHECK(fer_pool_new(2, &pool, err) == FER_OK);
    fer_pool_run(pool, 64, slow_on_thread_one, NULL);
    int once = 1;
    for (int i = 0; i < 64; i++)
        once &= atomic_load(&slow_hits[i]) == 1;
    CHECK(once);
    CHECK(atomic_load(&fast_runs) > 32); /* its own half, and more */
    fer_pool_free(pool);
}

/* Split runs of 40 units, each unit a 200 us sleep on thread 1 and 5 us of work on thread 0
 * (with none, thread 0 would take thread 1's range before it woke): every unit once a run, and
 * thread 0's share grows, within a few runs unless thread 0 is kept off its core. */
static atomic_int unit_hits[100], units_on_zero;

static void paced_range(void *arg, size_t begin, size_t end, int thread)
{
    (void)arg;
    for (size_t u = begin; u < end; u++) {
        atomic_fetch_add(&unit_hits[u], 1);
        if (thread == 1) {
            usleep(200);
        } else {
            for (const double t0 = fer_now(); fer_now() - t0 < 5e-6;)
                ;
            atomic_fetch_add(&units_on_zero, 1);
        }
    }
}

/* One split run of n units: 1 when each ran once. */
static int split_runs_each_unit_once(fer_pool *pool, size_t n)
{
    for (size_t u = 0; u < n; u++)
        atomic_store(&unit_hits[u], 0);
    atomic_store(&units_on_zero, 0);
    fer_pool_run_split(pool, n, paced_range, NULL);
    int once = 1;
    for (size_t u = 0; u < n; u++)
        once &= atomic_load(&unit_hits[u]) == 1;
    return once;
}

TEST(pool_split_follows_the_threads_pace)
{
    fer_pool *pool;
    char err[FER_ERR_LEN];
    CHECK(fer_pool_new(2, &pool, err) == FER_OK);
    CHECK(fer_pool_weight(pool, 0) == 0.5);
    int once = 1, runs = 0;
    while (runs < 300 && fer_pool_weight(pool, 0) <= 0.6) {
        once &= split_runs_each_unit_once(pool, 40);
        runs++;
    }
    CHECK(once);
    CHECK(fer_pool_weight(pool, 0) > 0.6);
    CHECK(split_runs_each_unit_once(pool, 40));
    CHECK(atomic_load(&units_on_zero) > 20); /* more than half */
    fer_pool_free(pool);
    fer_pool_run_split(NULL, 3, paced_range, NULL); /* inline: thread 0 */
}

/* Whatever the shares, even none for some threads, and however few the units: each unit once. */
static atomic_int cut_hits[8];

static void count_units(void *arg, size_t begin, size_t end, int thread)
{
    (void)arg;
    (void)thread;
    for (size_t u = begin; u < end; u++)
        atomic_fetch_add(&cut_hits[u], 1);
}

TEST(pool_split_runs_every_unit_once_for_any_shares)
{
    static const double shares[][4] = {{1, 1, 1, 1}, {9, 1, 1, 1}, {1, 0, 0, 5}, {0, 1, 2, 0}};
    int once = 1;
    for (int threads = 2; threads <= 4; threads++) {
        fer_pool *pool;
        char err[FER_ERR_LEN];
        CHECK(fer_pool_new(threads, &pool, err) == FER_OK);
        for (int k = 0; k < 4; k++)
            for (size_t n = 0; n <= 8; n++) {
                for (size_t u = 0; u < 8; u++)
                    atomic_store(&cut_hits[u], 0);
                fer_pool_set_weights(pool, shares[k]);
                fer_pool_run_split(pool, n, count_units, NULL);
                for (size_t u = 0; u < 8; u++)
                    once &= atomic_load(&cut_hits[u]) == (u < n);
            }
        fer_pool_free(pool);
    }
    CHECK(once);
}

TEST(progress_and_durations)
{
    char buf[32];
    fer_format_duration(5.25, buf, sizeof(buf));
    CHECK_STR(buf, "5.2s");
    fer_format_duration(185, buf, sizeof(buf));
    CHECK_STR(buf, "3m05s");
    fer_format_duration(3725, buf, sizeof(buf));
    CHECK_STR(buf, "1h02m");
    fer_progress p;
    fer_progress_start(&p, "test", "img", 10, 0);
    fer_progress_add(&p, 4, "loss 1.0");
    CHECK(p.done == 4);
    CHECK_STR(p.extra, "loss 1.0");
    fer_progress_finish(&p);
}

int main(void)
{
    RUN(status_strings);
    RUN(alloc_fault_injection);
    RUN(rng_reproducible);
    RUN(sha256_vectors);
    RUN(pool_runs_every_task_once);
    RUN(pool_gives_a_slow_threads_tasks_to_another);
    RUN(pool_split_follows_the_threads_pace);
    RUN(pool_split_runs_every_unit_once_for_any_shares);
    RUN(progress_and_durations);
    return check_report();
}
