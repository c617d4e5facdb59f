/* queue.c - the bounded queue between the video threads (queue.h). */
#include "video/queue.h"

#include <libavcodec/avcodec.h>
#include <string.h>

#include "core/alloc.h"

void fer_video_item_clear(struct fer_video_item *it)
{
    fer_image_free(&it->rgb);
    fer_tracks_free(&it->tracks);
    av_packet_free(&it->packet);
    memset(it, 0, sizeof(*it));
}

int fer_video_queue_init(struct fer_video_queue *q, size_t cap)
{
    memset(q, 0, sizeof(*q));
    q->items = fer_calloc(4 * cap, sizeof(*q->items));
    if (!q->items)
        return -1;
    q->cap = cap;
    q->size = 4 * cap;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    return 0;
}

void fer_video_queue_destroy(struct fer_video_queue *q)
{
    if (!q->items)
        return;
    for (size_t i = 0; i < q->count; i++)
        fer_video_item_clear(&q->items[(q->head + i) % q->size]);
    fer_free(q->items);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    memset(q, 0, sizeof(*q));
}

/* Whether it must wait: the ring is full, or it is a frame and cap frames wait. */
static int full_for(const struct fer_video_queue *q, const struct fer_video_item *it)
{
    return q->count == q->size || (it->kind == FER_ITEM_FRAME && q->frames >= q->cap);
}

/* Adds it to a queue with room; the caller holds the lock. */
static void put(struct fer_video_queue *q, struct fer_video_item *it)
{
    q->items[(q->head + q->count) % q->size] = *it;
    q->count++;
    q->frames += it->kind == FER_ITEM_FRAME;
    memset(it, 0, sizeof(*it));
    pthread_cond_signal(&q->not_empty);
}

int fer_video_queue_push(struct fer_video_queue *q, struct fer_video_item *it)
{
    pthread_mutex_lock(&q->mu);
    while (full_for(q, it) && !q->closed)
        pthread_cond_wait(&q->not_full, &q->mu);
    int closed = q->closed;
    if (!closed)
        put(q, it);
    pthread_mutex_unlock(&q->mu);
    if (closed)
        fer_video_item_clear(it);
    return closed ? -1 : 0;
}

int fer_video_queue_try_push(struct fer_video_queue *q, struct fer_video_item *it)
{
    pthread_mutex_lock(&q->mu);
    int r = q->closed ? -1 : full_for(q, it) ? 1 : 0;
    if (r == 0)
        put(q, it);
    pthread_mutex_unlock(&q->mu);
    if (r < 0)
        fer_video_item_clear(it);
    return r;
}

void fer_video_queue_pop(struct fer_video_queue *q, struct fer_video_item *it)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == 0)
        pthread_cond_wait(&q->not_empty, &q->mu);
    *it = q->items[q->head];
    q->head = (q->head + 1) % q->size;
    q->count--;
    q->frames -= it->kind == FER_ITEM_FRAME;
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

size_t fer_video_queue_frames(struct fer_video_queue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->frames;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void fer_video_queue_close(struct fer_video_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    for (q->frames = 0; q->count; q->count--) {
        fer_video_item_clear(&q->items[q->head]);
        q->head = (q->head + 1) % q->size;
    }
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}
