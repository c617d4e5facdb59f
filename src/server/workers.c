/*
 * workers.c - the pool of threads that run the heavy routes (predict, feedback, export). The
 * polling thread suspends a request's connection and queues it; a worker runs the handler,
 * which fills the request's reply, and resumes the connection, whose polling thread then
 * sends the reply. The engine and the store are thread-safe, so workers run in parallel.
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "server/server_internal.h"

static void *worker_main(void *arg)
{
    fer_server *s = arg;
    struct fer_workers *w = &s->workers;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        struct fer_request *rq = w->head;
        if (rq) {
            w->head = rq->next_job;
            if (!w->head)
                w->tail = NULL;
        }
        pthread_mutex_unlock(&w->mu);
        if (!rq)
            return NULL; /* stopping, and nothing left to do */
        rq->route->handler(rq);
        rq->job = 2;
        /* MHD's lock in resume orders the reply's writes before the polling thread reads it */
        MHD_resume_connection(rq->connection);
    }
}

enum fer_status fer_workers_start(fer_server *s, int n_threads, char *err)
{
    struct fer_workers *w = &s->workers;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->threads = fer_calloc((size_t)n_threads, sizeof(pthread_t));
    if (!w->threads)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for %d workers", n_threads);
    for (int i = 0; i < n_threads; i++) {
        int e = pthread_create(&w->threads[i], NULL, worker_main, s);
        if (e != 0) {
            fer_workers_stop(s);
            return fer_errorf(err, FER_ERR_NOMEM, "cannot start worker thread %d: %s", i + 1,
                              strerror(e));
        }
        w->n_threads++;
    }
    return FER_OK;
}

int fer_workers_submit(fer_server *s, struct fer_request *rq)
{
    struct fer_workers *w = &s->workers;
    pthread_mutex_lock(&w->mu);
    int ok = !w->stopping;
    if (ok) {
        rq->next_job = NULL;
        if (w->tail)
            w->tail->next_job = rq;
        else
            w->head = rq;
        w->tail = rq;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return ok ? 0 : -1;
}

void fer_workers_stop(fer_server *s)
{
    struct fer_workers *w = &s->workers;
    if (!w->threads)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->n_threads; i++)
        pthread_join(w->threads[i], NULL);
    fer_free(w->threads);
    w->threads = NULL;
    w->n_threads = 0;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}
