/*
 * sink.h - the annotated video: H.264 (libx264) in MP4 through libavcodec and
 * libavformat, at the input's size and frame rate, with the input's audio copied as it is
 * (when MP4 can hold its codec). An odd last column or row is left out (4:2:0 needs even
 * sides). fer_video_sink_finish writes the MP4's index, so the file
 * plays; it is called on every way out (the end, an error, Ctrl-C).
 */
#ifndef FER_VIDEO_SINK_H
#define FER_VIDEO_SINK_H

#include "core/status.h"
#include "fer.h"

struct AVStream;
struct AVPacket;
typedef struct fer_video_sink fer_video_sink;

/*
 * Creates path (width x height, fps frames per second; audio NULL or the input's audio
 * stream to copy) with `threads` encoder threads. *audio_dropped is set when the input had
 * audio MP4 cannot hold.
 */
enum fer_status fer_video_sink_open(const char *path, int width, int height, double fps,
                                    const struct AVStream *audio, int threads, int *audio_dropped,
                                    fer_video_sink **out, char *err);
/* Encodes one RGB frame shown at `time` seconds from the start (increasing). */
enum fer_status fer_video_sink_write_frame(fer_video_sink *s, const fer_image *rgb, double time,
                                           char *err);
/* Copies one audio packet of the input (its own time base). */
enum fer_status fer_video_sink_write_audio(fer_video_sink *s, struct AVPacket *pkt, char *err);
/* Flushes the encoder and writes the MP4's index; the file is complete after it. */
enum fer_status fer_video_sink_finish(fer_video_sink *s, char *err);
/* Frames written so far. */
long fer_video_sink_frames(const fer_video_sink *s);
/* Frees the sink (finishing it first if that was not done). */
void fer_video_sink_free(fer_video_sink *s);

#endif
