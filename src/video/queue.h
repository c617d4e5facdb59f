/*
 * queue.h - the bounded queue between the video loop's threads (reader, analyser, writer).
 * Each item is a decoded frame or an audio packet on its way to the output, or the end of
 * the stream. A producer either waits for room (files: every frame counts) or drops the
 * frame when the queue is full (live input: fer keeps up by skipping, never by lagging).
 */
#ifndef FER_VIDEO_QUEUE_H
#define FER_VIDEO_QUEUE_H

#include <pthread.h>
#include <stddef.h>

#include "fer.h"

struct AVPacket;

enum fer_video_item_kind { FER_ITEM_FRAME, FER_ITEM_AUDIO, FER_ITEM_END };

struct fer_video_item {
    enum fer_video_item_kind kind;
    fer_image rgb;           /* FRAME: the picture (owned by the item) */
    long index;              /* FRAME: its number in the input, from 0 (dropped ones count) */
    double time;             /* FRAME: seconds from the input's start */
    double arrived;          /* FRAME: fer_now() when it was decoded (for latency) */
    fer_tracks tracks;       /* FRAME, after analysis: the faces (owned) */
    struct AVPacket *packet; /* AUDIO: the packet to copy (owned) */
};

/* Frees what the item owns and zeroes it. */
void fer_video_item_clear(struct fer_video_item *it);

/* cap bounds the frames waiting; audio packets (small, and never dropped) have room for three
 * times as many beside them, so that they do not take the frames' places. */
struct fer_video_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    struct fer_video_item *items;
    size_t cap, size, head, count, frames; /* size: the ring's, 4 * cap */
    int closed; /* the consumer stopped: pushes fail and free their item */
};

int fer_video_queue_init(struct fer_video_queue *q, size_t cap);
void fer_video_queue_destroy(struct fer_video_queue *q);
/* Adds it (taking what it owns), waiting for room. 0, or -1 when the queue was closed. */
int fer_video_queue_push(struct fer_video_queue *q, struct fer_video_item *it);
/* Adds it without waiting: 0, 1 when full (it is left with the caller), -1 when closed. */
int fer_video_queue_try_push(struct fer_video_queue *q, struct fer_video_item *it);
/* Takes the oldest item, waiting for one. */
void fer_video_queue_pop(struct fer_video_queue *q, struct fer_video_item *it);
/* How many frames wait. */
size_t fer_video_queue_frames(struct fer_video_queue *q);
/* The consumer gives up: waiting producers return -1 and the items held are freed. */
void fer_video_queue_close(struct fer_video_queue *q);

#endif
