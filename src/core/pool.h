/*
 * pool.h - a fixed thread pool that runs parallel-for loops.
 *
 * fer owns its threads: BLAS runs single-threaded and the pool splits work (images of a batch,
 * rows of a matrix) across cores. fer_pool_run calls fn(arg, task, thread) for every task in
 * [0, n_tasks); the calling thread takes part as thread 0, so a pool of 1 thread runs everything
 * inline. Each thread first takes a run of neighbouring tasks in order (thread t of T those from
 * n_tasks * t / T on), then what is left at the back of the others' runs: neighbouring tasks
 * find what they share in their thread's cache, and a core that falls behind (or was not
 * running) leaves its tasks to the others. `thread` is in [0, fer_pool_threads()) and may index
 * per-thread scratch; results must depend only on `task`, never on `thread`, which keeps outputs
 * identical for any thread count.
 */
#ifndef FER_CORE_POOL_H
#define FER_CORE_POOL_H

#include <stddef.h>

#include "core/status.h"

typedef struct fer_pool fer_pool;
#define FER_POOL_MOST_THREADS 256
typedef void (*fer_pool_fn)(void *arg, size_t task, int thread);

/* n_threads <= 0 means one per online CPU; at most FER_POOL_MOST_THREADS. */
enum fer_status fer_pool_new(int n_threads, fer_pool **out, char *err);
void fer_pool_free(fer_pool *pool);
int fer_pool_threads(const fer_pool *pool);
/* Runs all tasks and returns when they are done. Not reentrant. pool may be NULL (inline). */
void fer_pool_run(fer_pool *pool, size_t n_tasks, fer_pool_fn fn, void *arg);

/* Work of n_units units in a row, whose neighbours share data (the tile rows of a face's layer,
 * the filters a row of tiles needs), cut into one range of units for each thread in proportion
 * to how fast the threads got through their ranges lately: fn(arg, begin, end, thread) for
 * ranges that together cover [0, n_units) once. Where one core runs slower than the other for
 * a while (its host busy), its threads take less; where a thread does not run at all, another
 * takes its range. How the units are cut must not change any value. */
typedef void (*fer_pool_range_fn)(void *arg, size_t begin, size_t end, int thread);
void fer_pool_run_split(fer_pool *pool, size_t n_units, fer_pool_range_fn fn, void *arg);
/* The share of fer_pool_run_split's units that thread `thread` gets now (1 / threads at first). */
double fer_pool_weight(const fer_pool *pool, int thread);
/* Sets the shares (weights[t] for thread t, scaled to sum to 1; learning goes on from there):
 * for tests that need a given cut, and tools. */
void fer_pool_set_weights(fer_pool *pool, const double *weights);

/* Number of online CPUs (at least 1). */
int fer_cpu_count(void);

#endif
