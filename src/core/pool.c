/*
 * pool.c - pthread worker pool; tasks are handed out through an atomic counter.
 *
 * Waking a sleeping thread (a futex through the kernel) takes tens of microseconds in a virtual
 * machine: one face split over two threads runs three short parallel steps per layer, and
 * paid that 33 times a face. So each side spins a while first: a worker that finished a run
 * watches for the next one for up to SPIN_ROUNDS pauses (about a tenth of a millisecond)
 * before it sleeps, and the caller watches the workers finish before it sleeps.
 */
#include "core/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#include "core/alloc.h"

struct fer_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start_cv;
    pthread_cond_t done_cv;
    atomic_ulong generation; /* bumped for each fer_pool_run (release: the job is set) */
    atomic_int busy_workers; /* workers still inside the current run */
    int stop;
    /* the current job */
    fer_pool_fn fn;
    void *arg;
    size_t n_tasks;
    atomic_size_t next;
};

#define SPIN_ROUNDS 4096

/* 1 when *gen moved past seen within the spin, so that no sleep is needed. */
static int spin_for_generation(atomic_ulong *gen, unsigned long seen)
{
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        if (atomic_load_explicit(gen, memory_order_acquire) != seen)
            return 1;
        CPU_RELAX();
    }
    return 0;
}

struct worker_start {
    fer_pool *pool;
    int index;
};

static void run_tasks(fer_pool *p, int thread)
{
    for (;;) {
        size_t t = atomic_fetch_add(&p->next, 1);
        if (t >= p->n_tasks)
            break;
        p->fn(p->arg, t, thread);
    }
}

static void *worker_main(void *arg)
{
    fer_pool *p = ((struct worker_start *)arg)->pool;
    int index = ((struct worker_start *)arg)->index;
    fer_free(arg);
    unsigned long seen = 0;
    for (;;) {
        if (!spin_for_generation(&p->generation, seen)) {
            pthread_mutex_lock(&p->mu);
            while (!p->stop && atomic_load(&p->generation) == seen)
                pthread_cond_wait(&p->start_cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (p->stop) /* set under the mutex with a generation of its own */
            break;
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        run_tasks(p, index);
        if (atomic_fetch_sub(&p->busy_workers, 1) == 1) {
            pthread_mutex_lock(&p->mu); /* the caller may be about to sleep: wake it */
            pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

int fer_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

enum fer_status fer_pool_new(int n_threads, fer_pool **out, char *err)
{
    *out = NULL;
    if (n_threads <= 0)
        n_threads = fer_cpu_count();
    if (n_threads > 256)
        return fer_errorf(err, FER_ERR_ARG, "too many threads: %d (at most 256)", n_threads);
    fer_pool *p = fer_calloc(1, sizeof(*p));
    if (!p)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory creating thread pool");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    atomic_init(&p->next, 0);
    atomic_init(&p->generation, 0);
    atomic_init(&p->busy_workers, 0);
    p->threads = fer_calloc((size_t)n_threads, sizeof(pthread_t));
    if (!p->threads) {
        fer_pool_free(p);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory creating thread pool");
    }
    for (int i = 1; i < n_threads; i++) {
        struct worker_start *ws = fer_malloc(sizeof(*ws));
        if (ws) {
            ws->pool = p;
            ws->index = i;
        }
        if (!ws || pthread_create(&p->threads[i], NULL, worker_main, ws) != 0) {
            fer_free(ws);
            p->n_threads = i; /* only join the ones that started */
            fer_pool_free(p);
            return fer_errorf(err, FER_ERR_NOMEM, "cannot start worker thread %d", i);
        }
    }
    *out = p;
    return FER_OK;
}

void fer_pool_free(fer_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start_cv);
    pthread_cond_destroy(&p->done_cv);
    fer_free(p->threads);
    fer_free(p);
}

int fer_pool_threads(const fer_pool *p)
{
    return p ? p->n_threads : 1;
}

void fer_pool_run(fer_pool *p, size_t n_tasks, fer_pool_fn fn, void *arg)
{
    if (!p || p->n_threads == 1 || n_tasks <= 1) {
        for (size_t t = 0; t < n_tasks; t++)
            fn(arg, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    atomic_store(&p->busy_workers, p->n_threads - 1);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);

    run_tasks(p, 0);

    for (int i = 0; i < SPIN_ROUNDS && atomic_load(&p->busy_workers) > 0; i++)
        CPU_RELAX();
    if (atomic_load(&p->busy_workers) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->busy_workers) > 0)
            pthread_cond_wait(&p->done_cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
