/*
 * run.h - fer video's real-time loop: frames from a source (video/source.h) are analysed by
 * a tracker (fer.h), written as records (video/records.h), drawn on (video/overlay.h),
 * encoded (video/sink.h) and shown (video/window.h). Three threads form a pipeline, joined
 * by bounded queues, so decoding, analysis and encoding overlap:
 *
 *   reader:   demux + decode + RGB  ──queue──►  analyser: track + classify + records + draw
 *             ──queue──►  writer: encode + mux (with the audio copied)
 *
 * and the calling thread runs the window. Files are read as fast as fer goes, every frame
 * analysed. Live input (a camera, a stream, or a file played with --show) never waits: a frame
 * that finds the analyser's queue full (about a second of frames, for streams that come in
 * bursts) is dropped, and in the window a frame that waited over 100 ms is skipped when a
 * newer one is there, so the picture stays close to now; drops are counted. Ctrl-C
 * (o->stop) and errors end the run with the output finished, so what was written plays.
 */
#ifndef FER_VIDEO_RUN_H
#define FER_VIDEO_RUN_H

#include <jansson.h>

#include "core/status.h"
#include "fer.h"
#include "video/overlay.h"

struct fer_video_options {
    const char *input;                           /* path, /dev/videoN or URL */
    const char *output, *jsonl, *csv, *timeline; /* NULL: not written; "-": stdout (jsonl, csv) */
    int show;                                    /* the live window */
    enum fer_overlay overlay;
    struct fer_tracker_options tracker;
    int threads;        /* decoder and encoder threads, 0: FFmpeg's choice */
    double timeout;     /* seconds a network read may wait */
    long max_frames;    /* stop after this many frames of the input (0: all) */
    int progress;       /* a progress line on stderr */
    volatile int *stop; /* set (by a signal handler, say) to end the run cleanly */
};

struct fer_video_stats {
    int width, height;
    double input_fps;
    long read;                              /* frames decoded */
    long analysed;                          /* frames analysed: read minus dropped */
    long dropped;                           /* live input: frames skipped to keep up */
    long written;                           /* frames in the output video */
    long shown;                             /* frames shown in the window */
    long tracks;                            /* faces followed */
    double seconds;                         /* wall time of the run */
    double duration;                        /* the input's time covered, seconds */
    double latency_mean_ms, latency_max_ms; /* --show: arrival to display */
    int audio_copied, audio_dropped;        /* the input's audio went into the output, or
                                               could not (a codec MP4 does not hold) */
    int interrupted;                        /* *stop ended it */
};

/*
 * Runs the whole loop. *summary (when not NULL) receives the tracks' summary (records.h).
 * On an error the outputs are still finished (the MP4 plays, the lines written so far stay)
 * and the stats say how far it went.
 */
enum fer_status fer_video_run(fer_engine *e, const struct fer_video_options *o,
                              struct fer_video_stats *stats, json_t **summary, char *err);

#endif
