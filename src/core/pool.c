/*
 * pool.c - pthread worker pool: each thread a run of the tasks, then what the others left.
 *
 * A run's tasks are cut into one share per thread (struct share), [front, back) in one word.
 * Each thread takes its own share's tasks from the front, in order; when that is done it takes
 * from the back of the others' shares, one task at a time: equal shares while the cores keep
 * pace, more for the faster core where there are more tasks than threads (a batch's images, a
 * dense layer's rows).
 *
 * A run ends when all its tasks are done, counted as each thread runs out of them, not when
 * every worker has checked in: a worker that was not running when the run began (descheduled,
 * or asleep) costs nothing; its share is taken by the others, and when it wakes it finds nothing
 * left, or takes part in a later run. A worker reads the run's function and argument only after
 * it has taken one of the run's tasks (whose share the caller stored, with release, after them),
 * so a late one never runs a task with another run's function. With a busy loop on one of the
 * two cores (nice 10), one face of the seed network on two threads: the 90th percentile 3.8 ->
 * 2.8 ms, where each layer had waited for the descheduled worker to check in.
 *
 * fer_pool_run_split cuts work of units in a row into one range per thread, sized to the
 * threads' pace: each thread's share of the units moves, run by run, a sixteenth of the way to
 * its share of the last run's speed (units per tick from its first unit's start to its last
 * unit's end: not from the run's start, since a worker's start, a microsecond or two late,
 * counted for much in short runs and skewed the cut of long ones). In slow spells of this machine
 * one core ran 10-18% slower than the other for seconds on end (one face of the seed network, its
 * Winograd layers on fixed halves, 2,000 faces: the slower thread's half took that much longer);
 * fixed halves waited for it at every layer.
 *
 * Waking a sleeping thread (a futex through the kernel) takes tens of microseconds in a virtual
 * machine: one face split over two threads runs a parallel step for each layer. So each side
 * spins a while first: a worker that finished a run watches for the next one for up to
 * SPIN_ROUNDS pauses (about a tenth of a millisecond) before it sleeps, and the caller watches
 * the tasks finish before it sleeps.
 */
#include "core/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <x86intrin.h>
#define CPU_RELAX() _mm_pause()
/* A clock for pacing, a few nanoseconds to read: the time-stamp counter, whose rate is fixed. */
#define PACE_CLOCK() __rdtsc()
#else
#define CPU_RELAX()  ((void)0)
#define PACE_CLOCK() ((uint64_t)(fer_now() * 1e9))
#endif

#include "core/alloc.h"
#include "core/progress.h"

/* A thread's share of a run: tasks [front, back) in one word (front in the low 32 bits), so
 * that its owner taking the front and another thread taking the back cannot both take the last
 * one. A cache line each, as every take writes it. */
struct share {
    _Alignas(64) _Atomic uint64_t range;
};

/* A thread's pace in fer_pool_run_split: the share of the units it gets (its weight, kept by
 * the caller), and in the last run the units it ran and when it finished them. */
struct pace {
    _Alignas(64) double weight;
    size_t units;
    uint64_t start, end;
};

/* Tasks of one run at most: a share's word holds 32-bit indices. */
#define RUN_MOST_TASKS UINT32_MAX

struct fer_pool {
    int n_threads;
    pthread_t *threads;
    struct share *shares; /* n_threads of them */
    pthread_mutex_t mu;
    pthread_cond_t start_cv;
    pthread_cond_t done_cv;
    atomic_ulong generation; /* bumped for each run, once its shares are set */
    atomic_int stop;         /* read by a worker that may wake as the pool is freed */
    /* the current run: set by the caller while no task is left to take */
    fer_pool_fn fn;
    void *arg;
    size_t first, n_tasks; /* the run's tasks are first .. first + n_tasks - 1 of the job */
    _Alignas(64) atomic_size_t done; /* tasks of the run finished */
    /* fer_pool_run_split's run: one task for each thread's range */
    fer_pool_range_fn range_fn;
    void *range_arg;
    size_t *bounds;    /* n_threads + 1: task t's units are bounds[t] .. bounds[t + 1] */
    struct pace *pace; /* n_threads of them */
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

/* The front task of a share into *task; 0 when it has none left. */
static int take_front(struct share *s, size_t *task)
{
    uint64_t r = atomic_load_explicit(&s->range, memory_order_acquire);
    for (;;) {
        const uint32_t front = (uint32_t)r, back = (uint32_t)(r >> 32);
        if (front >= back)
            return 0;
        if (atomic_compare_exchange_weak_explicit(&s->range, &r, r + 1, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            *task = front;
            return 1;
        }
    }
}

/* The back task of a share into *task; 0 when it has none left. */
static int take_back(struct share *s, size_t *task)
{
    uint64_t r = atomic_load_explicit(&s->range, memory_order_acquire);
    for (;;) {
        const uint32_t front = (uint32_t)r, back = (uint32_t)(r >> 32);
        if (front >= back)
            return 0;
        const uint64_t next = (uint64_t)(back - 1) << 32 | front;
        if (atomic_compare_exchange_weak_explicit(&s->range, &r, next, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            *task = back - 1;
            return 1;
        }
    }
}

/* Thread `thread`'s own share, then what is left of the others', each from its back; then the
 * count of tasks it ran added to the run's, once, so that the threads do not pass the count's
 * cache line to and fro for each task (about half a microsecond each way here), and the caller
 * woken where that made the run's last. */
static void run_shares(fer_pool *p, int thread)
{
    size_t task, ran = 0;
    while (take_front(&p->shares[thread], &task)) {
        p->fn(p->arg, p->first + task, thread);
        ran++;
    }
    for (int k = 1; k < p->n_threads; k++) {
        struct share *other = &p->shares[(thread + k) % p->n_threads];
        while (take_back(other, &task)) {
            p->fn(p->arg, p->first + task, thread);
            ran++;
        }
    }
    if (!ran) /* a late worker: the run may be over, and p's fields another's */
        return;
    const size_t n = p->n_tasks;
    if (atomic_fetch_add_explicit(&p->done, ran, memory_order_acq_rel) + ran == n && thread != 0) {
        pthread_mutex_lock(&p->mu); /* the caller may be about to sleep: wake it */
        pthread_cond_signal(&p->done_cv);
        pthread_mutex_unlock(&p->mu);
    }
}

struct worker_start {
    fer_pool *pool;
    int index;
};

static void *worker_main(void *arg)
{
    fer_pool *p = ((struct worker_start *)arg)->pool;
    int index = ((struct worker_start *)arg)->index;
    fer_free(arg);
    unsigned long seen = 0;
    for (;;) {
        if (!spin_for_generation(&p->generation, seen)) {
            pthread_mutex_lock(&p->mu);
            while (!atomic_load(&p->stop) && atomic_load(&p->generation) == seen)
                pthread_cond_wait(&p->start_cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) /* set with a generation of its own */
            break;
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        run_shares(p, index);
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
    if (n_threads > FER_POOL_MOST_THREADS)
        return fer_errorf(err, FER_ERR_ARG, "too many threads: %d (at most %d)", n_threads,
                          FER_POOL_MOST_THREADS);
    fer_pool *p = fer_alloc_aligned(1, sizeof(*p));
    if (!p)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory creating thread pool");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->stop, 0);
    p->threads = fer_calloc((size_t)n_threads, sizeof(pthread_t));
    p->shares = fer_alloc_aligned((size_t)n_threads, sizeof(struct share));
    p->bounds = fer_calloc((size_t)n_threads + 1, sizeof(size_t));
    p->pace = fer_alloc_aligned((size_t)n_threads, sizeof(struct pace));
    if (!p->threads || !p->shares || !p->bounds || !p->pace) {
        fer_pool_free(p);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory creating thread pool");
    }
    for (int i = 0; i < n_threads; i++)
        p->pace[i].weight = 1.0 / n_threads;
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
    atomic_store(&p->stop, 1);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start_cv);
    pthread_cond_destroy(&p->done_cv);
    fer_free(p->threads);
    fer_free(p->shares);
    fer_free(p->bounds);
    fer_free(p->pace);
    fer_free(p);
}

int fer_pool_threads(const fer_pool *p)
{
    return p ? p->n_threads : 1;
}

/* Tasks first .. first + n - 1 (n <= RUN_MOST_TASKS): shares handed to the workers, thread 0's
 * part run here, and back when every task is done. */
static void run(fer_pool *p, size_t first, size_t n, fer_pool_fn fn, void *arg)
{
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->first = first;
    p->n_tasks = n;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    for (int i = 0; i < p->n_threads; i++) { /* release: a task taken shows the run above */
        const uint64_t front = n * (size_t)i / (size_t)p->n_threads;
        const uint64_t back = n * (size_t)(i + 1) / (size_t)p->n_threads;
        atomic_store_explicit(&p->shares[i].range, back << 32 | front, memory_order_release);
    }
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);

    run_shares(p, 0);

    for (int i = 0; i < SPIN_ROUNDS && atomic_load(&p->done) < n; i++)
        CPU_RELAX();
    if (atomic_load(&p->done) < n) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->done) < n)
            pthread_cond_wait(&p->done_cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

void fer_pool_run(fer_pool *p, size_t n_tasks, fer_pool_fn fn, void *arg)
{
    if (!p || p->n_threads == 1 || n_tasks <= 1) {
        for (size_t t = 0; t < n_tasks; t++)
            fn(arg, t, 0);
        return;
    }
    for (size_t first = 0; first < n_tasks; first += RUN_MOST_TASKS)
        run(p, first, n_tasks - first < RUN_MOST_TASKS ? n_tasks - first : RUN_MOST_TASKS, fn, arg);
}

/* How far a thread's weight may move from an equal share, either way: half of it. */
#define PACE_SPREAD 0.5
/* How much of a weight one run's pace moves: a slow spell, which lasts seconds, is followed
 * within a few dozen runs (a face's layers), one late run does not throw the cut. */
#define PACE_STEP (1.0 / 16)

/* Task t of a split run: thread t's range, timed for its pace. */
static void split_task(void *arg, size_t task, int thread)
{
    fer_pool *p = arg;
    const size_t begin = p->bounds[task], end = p->bounds[task + 1];
    if (!p->pace[thread].units)
        p->pace[thread].start = PACE_CLOCK();
    if (end > begin)
        p->range_fn(p->range_arg, begin, end, thread);
    p->pace[thread].units += end - begin;
    p->pace[thread].end = PACE_CLOCK();
}

/* The weights moved towards each thread's share of the run's speed (units a tick, from the
 * thread's first unit's start to its last unit's end), where every thread took part. */
static void update_pace(fer_pool *p)
{
    const int n = p->n_threads;
    double rate[FER_POOL_MOST_THREADS], total = 0;
    for (int t = 0; t < n; t++) {
        if (!p->pace[t].units)
            return; /* a thread that did not run: absent, not slow; its range was taken */
        if (p->pace[t].end <= p->pace[t].start)
            return; /* a counter read on another core, behind: no pace to learn */
        const double ticks = (double)(p->pace[t].end - p->pace[t].start);
        rate[t] = (double)p->pace[t].units / (ticks > 1 ? ticks : 1);
        total += rate[t];
    }
    const double low = (1 - PACE_SPREAD) / n, high = (1 + PACE_SPREAD) / n;
    double sum = 0;
    for (int t = 0; t < n; t++) {
        double w = (1 - PACE_STEP) * p->pace[t].weight + PACE_STEP * rate[t] / total;
        w = w < low ? low : w > high ? high : w;
        p->pace[t].weight = w;
        sum += w;
    }
    for (int t = 0; t < n; t++)
        p->pace[t].weight /= sum;
}

void fer_pool_run_split(fer_pool *p, size_t n_units, fer_pool_range_fn fn, void *arg)
{
    if (!p || p->n_threads == 1 || n_units <= 1) {
        if (n_units)
            fn(arg, 0, n_units, 0);
        return;
    }
    double cum = 0;
    p->bounds[0] = 0;
    for (int t = 0; t < p->n_threads; t++) {
        cum += p->pace[t].weight;
        const double at = cum * (double)n_units + 0.5;
        size_t b = at < (double)n_units ? (size_t)at : n_units;
        p->bounds[t + 1] = b < p->bounds[t] ? p->bounds[t] : b;
        p->pace[t].units = 0;
    }
    p->bounds[p->n_threads] = n_units;
    p->range_fn = fn;
    p->range_arg = arg;
    run(p, 0, (size_t)p->n_threads, split_task, p);
    update_pace(p);
}

void fer_pool_set_weights(fer_pool *p, const double *weights)
{
    if (!p || p->n_threads == 1)
        return;
    double sum = 0;
    for (int t = 0; t < p->n_threads; t++)
        sum += weights[t] > 0 ? weights[t] : 0;
    for (int t = 0; t < p->n_threads; t++)
        p->pace[t].weight = sum > 0 ? (weights[t] > 0 ? weights[t] : 0) / sum : 1.0 / p->n_threads;
}

double fer_pool_weight(const fer_pool *p, int thread)
{
    if (!p || p->n_threads == 1)
        return 1;
    return thread >= 0 && thread < p->n_threads ? p->pace[thread].weight : 0;
}
