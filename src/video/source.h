/*
 * source.h - frames from a video file, a V4L2 webcam (/dev/videoN) or a network stream
 * (rtsp://, http://, udp://, ...), through FFmpeg's libavformat, libavdevice and libavcodec,
 * converted to RGB with libswscale. Audio packets are handed on untouched, for copying into
 * the output.
 */
#ifndef FER_VIDEO_SOURCE_H
#define FER_VIDEO_SOURCE_H

#include "core/status.h"
#include "video/queue.h"

typedef struct fer_video_source fer_video_source;

struct fer_video_source_info {
    int width, height;
    double fps; /* the frame rate the input states (or guesses), > 0 */
    int live;   /* a device or a network stream: frames come at their own pace */
    int has_audio;
    double duration;      /* seconds, 0 when unknown (live) */
    long frames_expected; /* what the container says or its duration implies; 0 unknown */
    const char *codec;    /* the video codec's name, e.g. "h264" (borrowed) */
};

/*
 * Opens input (a path, /dev/videoN, or a URL) for reading with `threads` decoder threads.
 * *stop, when it becomes non-zero (Ctrl-C), interrupts a blocking read. Network reads give
 * up after timeout_s seconds without data.
 */
enum fer_status fer_video_source_open(const char *input, int threads, double timeout_s,
                                      volatile int *stop, fer_video_source **out, char *err);
void fer_video_source_info(const fer_video_source *s, struct fer_video_source_info *info);
/* The audio stream's parameters and time base, for fer_video_sink_open (NULL without). */
const struct AVStream *fer_video_source_audio(const fer_video_source *s);

/*
 * The next item: a frame (RGB, with its index and time), an audio packet, or FER_ITEM_END at
 * the end of the input. A stream that breaks, or data that cannot be decoded, fails with a
 * message naming the input and the frame it reached.
 */
enum fer_status fer_video_source_read(fer_video_source *s, struct fer_video_item *it, char *err);
void fer_video_source_free(fer_video_source *s);

#endif
