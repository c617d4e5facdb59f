/* group.c - the processes that train one model together, over MPI (see group.h). */
#include "train/group.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/progress.h"

/* Gradients are summed in buckets of at least this many floats (4 MiB), as they become final;
   past MAX_BUCKETS - 1 of them, the rest go in one last bucket. */
#define BUCKET_FLOATS ((size_t)1 << 20)
#define MAX_BUCKETS   64

struct fer_group {
    int mpi; /* 1 when MPI was started (a group under mpirun, even of one) */
    int rank, size, local_size;
    /* the step's gradients: [sent, n) are summing in requests[0 .. n_requests) */
    float *grads;
    size_t n, sent;
    MPI_Request requests[MAX_BUCKETS];
    int n_requests;
    double comm_seconds;
};

/* Whether a launcher started this process as part of a job: Open MPI's mpirun, or any PMIx
   or PMI launcher (srun, hydra). */
static int launched_by_mpirun(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

/* The group's processes on this host: those that share memory with this one. */
static int count_local(void)
{
    MPI_Comm local;
    int n = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local) ==
        MPI_SUCCESS) {
        MPI_Comm_size(local, &n);
        MPI_Comm_free(&local);
    }
    return n;
}

enum fer_status fer_group_open(fer_group **out, char *err)
{
    fer_group *g = fer_calloc(1, sizeof(*g));
    if (!g)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory");
    g->size = g->local_size = 1;
    if (launched_by_mpirun()) {
        int provided;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            fer_free(g);
            return fer_errorf(err, FER_ERR_STATE, "MPI did not start (MPI_Init_thread failed)");
        }
        g->mpi = 1;
        MPI_Comm_rank(MPI_COMM_WORLD, &g->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &g->size);
        g->local_size = count_local();
    }
    *out = g;
    return FER_OK;
}

void fer_group_close(fer_group *g, int failed)
{
    if (!g)
        return;
    if (g->mpi && failed && g->size > 1)
        MPI_Abort(MPI_COMM_WORLD, 1);
    if (g->mpi)
        MPI_Finalize();
    fer_free(g);
}

int fer_group_rank(const fer_group *g)
{
    return g->rank;
}

int fer_group_size(const fer_group *g)
{
    return g->size;
}

int fer_group_local_size(const fer_group *g)
{
    return g->local_size;
}

void fer_group_share(const fer_group *g, size_t n, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)g->rank / (size_t)g->size;
    *hi = n * (size_t)(g->rank + 1) / (size_t)g->size;
}

void fer_group_sum(fer_group *g, double *v, size_t n)
{
    if (g->size == 1)
        return;
    double t0 = fer_now();
    MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    g->comm_seconds += fer_now() - t0;
}

void fer_group_broadcast(fer_group *g, void *data, size_t bytes)
{
    if (g->size == 1)
        return;
    double t0 = fer_now();
    for (size_t done = 0; done < bytes;) { /* MPI counts are ints */
        size_t part = bytes - done < (size_t)INT_MAX ? bytes - done : (size_t)INT_MAX;
        MPI_Bcast((char *)data + done, (int)part, MPI_BYTE, 0, MPI_COMM_WORLD);
        done += part;
    }
    g->comm_seconds += fer_now() - t0;
}

int fer_group_all_ok(fer_group *g, int ok)
{
    if (g->size == 1)
        return ok != 0;
    int all = ok != 0;
    MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return all;
}

void fer_group_barrier(fer_group *g)
{
    if (g->size > 1)
        MPI_Barrier(MPI_COMM_WORLD);
}

enum fer_status fer_group_gather_rows(fer_group *g, float *rows_data, size_t rows,
                                      size_t row_floats, char *err)
{
    if (g->size == 1)
        return FER_OK;
    if (rows * row_floats > (size_t)INT_MAX)
        return fer_errorf(err, FER_ERR_LIMIT, "%zu rows are too many to gather", rows);
    int *counts = fer_calloc((size_t)g->size, sizeof(int));
    int *offsets = fer_calloc((size_t)g->size, sizeof(int));
    if (!counts || !offsets) {
        fer_free(counts);
        fer_free(offsets);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory");
    }
    for (int r = 0; r < g->size; r++) {
        size_t lo = rows * (size_t)r / (size_t)g->size;
        size_t hi = rows * (size_t)(r + 1) / (size_t)g->size;
        offsets[r] = (int)(lo * row_floats);
        counts[r] = (int)((hi - lo) * row_floats);
    }
    double t0 = fer_now();
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, rows_data, counts, offsets, MPI_FLOAT,
                   MPI_COMM_WORLD);
    g->comm_seconds += fer_now() - t0;
    fer_free(counts);
    fer_free(offsets);
    return FER_OK;
}

void fer_group_grads_begin(fer_group *g, float *grads, size_t n)
{
    g->grads = grads;
    g->n = g->sent = n;
    g->n_requests = 0;
}

/* Starts summing grads[from, sent) (one request). Every process starts the same buckets in
   the same order: the layers finish in the same order everywhere. */
static void start_bucket(fer_group *g, size_t from)
{
    int count = (int)(g->sent - from);
    MPI_Iallreduce(MPI_IN_PLACE, g->grads + from, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                   &g->requests[g->n_requests++]);
    g->sent = from;
}

void fer_group_grads_ready(fer_group *g, size_t from)
{
    if (g->size == 1)
        return;
    double t0 = fer_now();
    if (g->sent - from >= BUCKET_FLOATS && g->n_requests < MAX_BUCKETS - 1)
        start_bucket(g, from);
    if (g->n_requests) { /* lets the buckets in flight move on (no progress thread) */
        int done;
        MPI_Testall(g->n_requests, g->requests, &done, MPI_STATUSES_IGNORE);
    }
    g->comm_seconds += fer_now() - t0;
}

double fer_group_grads_finish(fer_group *g)
{
    if (g->size == 1)
        return 0;
    double t0 = fer_now();
    if (g->sent > 0)
        start_bucket(g, 0);
    MPI_Waitall(g->n_requests, g->requests, MPI_STATUSES_IGNORE);
    g->n_requests = 0;
    double waited = fer_now() - t0;
    g->comm_seconds += waited;
    return waited;
}

double fer_group_comm_seconds(const fer_group *g)
{
    return g->comm_seconds;
}
