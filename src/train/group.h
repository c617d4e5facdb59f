/*
 * group.h - the processes that train one model together: data parallelism over MPI.
 *
 * `mpirun -np N fer train ...` starts N copies of fer. Each joins the group, takes its share of
 * every global batch, and after the backward pass the gradients are summed over the group
 * (MPI_Allreduce, in buckets started while the backward pass goes on), so every copy takes
 * the same optimizer step. Batch norm sums its statistics over the group (nn/net.h,
 * fer_net_group). Without mpirun a group is this process alone and MPI is never called.
 *
 * Only the main thread calls these functions.
 */
#ifndef FER_TRAIN_GROUP_H
#define FER_TRAIN_GROUP_H

#include <stddef.h>

#include "core/status.h"

typedef struct fer_group fer_group;

/*
 * Joins the group that mpirun (Open MPI's environment variables, or PMIx's) started, or makes a
 * group of one without them. FER_ERR_STATE when MPI fails to start.
 */
enum fer_status fer_group_open(fer_group **out, char *err);
/*
 * Leaves the group. A process that failed (failed != 0) in a group of several ends the whole
 * run (MPI_Abort): the others would otherwise wait for it forever.
 */
void fer_group_close(fer_group *g, int failed);

int fer_group_rank(const fer_group *g); /* 0 .. size - 1; rank 0 writes the files */
int fer_group_size(const fer_group *g);
/* How many of the group's processes run on this host (to share its cores). */
int fer_group_local_size(const fer_group *g);

/* This process's share [*lo, *hi) of n items: n * rank / size to n * (rank + 1) / size. */
void fer_group_share(const fer_group *g, size_t n, size_t *lo, size_t *hi);

/* Adds n doubles element-wise over the group, in place (every process gets the totals). */
void fer_group_sum(fer_group *g, double *v, size_t n);
/* Copies rank 0's bytes to every process. */
void fer_group_broadcast(fer_group *g, void *data, size_t bytes);
/* 1 when every process passes ok != 0 (each waits for all). */
int fer_group_all_ok(fer_group *g, int ok);
/* Waits until every process has come here. */
void fer_group_barrier(fer_group *g);
/*
 * rows x row_floats floats of which this process filled its share of rows
 * (fer_group_share(g, rows, ...)): afterwards every process has all of them.
 */
enum fer_status fer_group_gather_rows(fer_group *g, float *rows_data, size_t rows,
                                      size_t row_floats, char *err);

/*
 * Summing one step's gradients (n floats; in place): _begin before the backward pass, _ready
 * as fer_net_group.grads_ready (the floats from `from` on are final: the buckets they complete
 * start summing), _finish after it, which waits for every bucket and returns the seconds it
 * waited. A group of one does nothing.
 */
void fer_group_grads_begin(fer_group *g, float *grads, size_t n);
void fer_group_grads_ready(fer_group *g, size_t from);
double fer_group_grads_finish(fer_group *g);

/* Seconds spent in the group's communication since it opened (sums, gradients, broadcasts). */
double fer_group_comm_seconds(const fer_group *g);

#endif
