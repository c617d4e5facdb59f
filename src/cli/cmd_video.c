/*
 * cmd_video.c - `fer video`: faces tracked and their emotions read in a video file, a webcam
 * or a network stream, in real time, with an annotated video, JSON lines, a CSV timeline, a
 * timeline figure and a live window. The loop itself is video/run.c; this file reads the
 * options, installs the Ctrl-C handler, and prints the summary.
 */
#include <jansson.h>
#include <libavutil/log.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/detect_opts.h"
#include "fer.h"
#include "video/run.h"

#define USAGE                                                                                      \
    "fer video --input FILE|/dev/videoN|URL [--output OUT.mp4] [--jsonl OUT]\n"                    \
    "           [--csv OUT] [--timeline OUT.png] [--show] [--overlay boxes|bars|emoji|meme]\n"     \
    "           [--detect-every N] [--smooth SECONDS] [--model FILE] [--detector NAME]\n\n"        \
    "Reads a video file, a V4L2 camera or a stream (rtsp://, http://, udp://...), follows each\n"  \
    "face with a stable id and reads its emotion frame by frame. Prints a summary of the faces\n"  \
    "as JSON when it ends (Ctrl-C ends it cleanly: the outputs are finished and play).\n"

static volatile sig_atomic_t interrupted;
static volatile int stop;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
    stop = 1;
}

struct video_opts {
    struct fer_video_options v;
    struct fer_engine_options eo;
    struct fer_detect_opts detect;
    const char *overlay;
    int tta, quiet, detect_every, detect_width;
    float smooth, forget, timeout;
    int max_frames;
};

static int read_options(int argc, char **argv, struct video_opts *o)
{
    memset(o, 0, sizeof(*o));
    fer_engine_options_default(&o->eo);
    fer_detect_opts_init(&o->detect);
    struct fer_tracker_options to;
    fer_tracker_options_default(&to);
    o->detect_every = to.detect_every;
    o->detect_width = to.detect_width;
    o->smooth = (float)to.smooth_seconds;
    o->forget = (float)to.forget_seconds;
    o->timeout = 10;
    o->overlay = "boxes";
    struct fer_opt opts[] = {
        {"input", FER_OPT_STR, &o->v.input, "a video file, a camera (/dev/video0) or a URL", NULL},
        {"output", FER_OPT_STR, &o->v.output,
         "the annotated video, H.264 in MP4 (the input's size, frame rate and audio)", NULL},
        {"jsonl", FER_OPT_STR, &o->v.jsonl, "a JSON line per frame with its faces (- for stdout)",
         NULL},
        {"csv", FER_OPT_STR, &o->v.csv, "a CSV row per face per frame (- for stdout)", NULL},
        {"timeline", FER_OPT_STR, &o->v.timeline,
         "a PNG of each face's emotions over time, with its summary", NULL},
        {"show", FER_OPT_FLAG, &o->v.show,
         "a live window with the annotated frames and a plot of the emotions", NULL},
        {"overlay", FER_OPT_STR, &o->overlay,
         "boxes (default: box, label, bars where they fit) | bars | emoji | meme | none", NULL},
        {"detect-every", FER_OPT_INT, &o->detect_every,
         "run the detector on every Nth frame and follow the faces between (default 2)", NULL},
        {"detect-width", FER_OPT_INT, &o->detect_width,
         "detect on frames reduced to this width (default 640; 0: full size)", NULL},
        {"smooth", FER_OPT_FLOAT, &o->smooth,
         "seconds over which each face's probabilities are smoothed (default 0.5; 0: none)", NULL},
        {"forget", FER_OPT_FLOAT, &o->forget,
         "a face unseen for this many seconds ends its track (default 0.5)", NULL},
        {"model", FER_OPT_STR, &o->eo.model_path,
         "a built-in model by name (fast) or a .fer file (default: fast)", NULL},
        {"merge-disgust", FER_OPT_FLAG, &o->eo.merge_disgust,
         "answer in 6 classes: a 7-class model's disgust added to angry", NULL},
        FER_OPTS_DETECTOR(&o->detect),
        {"tta", FER_OPT_FLAG, &o->tta,
         "average each face with its mirror image (twice the classification cost)", NULL},
        {"align", FER_OPT_FLAG, &o->eo.align, "turn each face so that its eyes are level first",
         NULL},
        {"frames", FER_OPT_INT, &o->max_frames, "stop after this many frames", NULL},
        {"timeout", FER_OPT_FLOAT, &o->timeout,
         "seconds a stream may stay silent before fer gives up (default 10)", NULL},
        {"threads", FER_OPT_INT, &o->v.threads,
         "decoder and encoder threads (default: FFmpeg's choice)", NULL},
        {"quiet", FER_OPT_FLAG, &o->quiet, "no progress line", NULL},
        FER_OPT_END,
    };
    struct fer_args args = {.command = "video", .usage = USAGE, .opts = opts, .required = "input"};
    int status = fer_args_read(argc, argv, &args);
    if (status != FER_ARGS_GO)
        return status;
    if ((status = fer_detect_opts_check(&args, &o->detect)) != FER_ARGS_GO)
        return status;
    if (fer_overlay_parse(o->overlay, &o->v.overlay) != 0)
        return fer_args_fail(&args, "unknown --overlay '%s' (boxes, bars, emoji, meme or none)",
                             o->overlay);
    if (o->detect_every < 1 || o->detect_width < 0 || o->smooth < 0 || o->forget < 0 ||
        o->timeout <= 0 || o->max_frames < 0 || o->v.threads < 0)
        return fer_args_fail(&args,
                             "--detect-every must be 1 or more; --detect-width, --smooth, "
                             "--forget, --frames and --threads 0 or more; --timeout above 0");
    if (o->v.jsonl && o->v.csv && !strcmp(o->v.jsonl, "-") && !strcmp(o->v.csv, "-"))
        return fer_args_fail(&args, "--jsonl - and --csv - would mix on stdout: send one to a "
                                    "file");
    fer_detect_opts_to_engine(&o->detect, &o->eo);
    o->eo.tta = o->tta;
    o->v.tracker =
        (struct fer_tracker_options){o->detect_every, o->detect_width, o->smooth, o->forget, 0.3f};
    o->v.timeout = o->timeout;
    o->v.max_frames = o->max_frames;
    o->v.progress = !o->quiet;
    o->v.stop = &stop;
    return FER_ARGS_GO;
}

/* The summary on stdout (unless stdout carries the lines): what was read, and each face. */
static void print_summary(const struct video_opts *o, const struct fer_video_stats *s,
                          json_t *tracks)
{
    if ((o->v.jsonl && !strcmp(o->v.jsonl, "-")) || (o->v.csv && !strcmp(o->v.csv, "-"))) {
        json_decref(tracks);
        return;
    }
    json_t *j = json_pack("{s:s, s:i, s:i, s:f, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:b, s:o}",
                          "input", o->v.input, "width", s->width, "height", s->height, "input_fps",
                          s->input_fps, "frames", (json_int_t)s->read, "analysed",
                          (json_int_t)s->analysed, "dropped", (json_int_t)s->dropped, "written",
                          (json_int_t)s->written, "duration", s->duration, "seconds", s->seconds,
                          "fps", s->seconds > 0 ? (double)s->analysed / s->seconds : 0.0,
                          "interrupted", s->interrupted, "tracks", tracks ? tracks : json_array());
    if (o->v.show) {
        json_object_set_new(j, "shown", json_integer(s->shown));
        json_object_set_new(j, "latency_mean_ms", json_real(s->latency_mean_ms));
        json_object_set_new(j, "latency_max_ms", json_real(s->latency_max_ms));
    }
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    fputc('\n', stdout);
    json_decref(j);
}

int fer_cmd_video(int argc, char **argv)
{
    struct video_opts o;
    int status = read_options(argc, argv, &o);
    if (status != FER_ARGS_GO)
        return status;
    av_log_set_level(AV_LOG_FATAL); /* fer reports what goes wrong itself */
    char err[FER_ERR_LEN];
    fer_engine *engine;
    if (fer_engine_open(&o.eo, &engine, err) != FER_OK) {
        fprintf(stderr, "fer video: %s\n", err);
        return FER_EXIT_FAIL;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct fer_video_stats stats;
    json_t *tracks = NULL;
    enum fer_status st = fer_video_run(engine, &o.v, &stats, &tracks, err);
    if (st != FER_OK)
        fprintf(stderr, "fer video: %s\n", err);
    if (stats.dropped)
        fprintf(stderr, "fer video: %ld of %ld frames dropped to keep up with the input\n",
                stats.dropped, stats.read);
    if (stats.audio_dropped)
        fprintf(stderr, "fer video: the input's audio is in a codec MP4 does not hold: the "
                        "output has no sound\n");
    if (interrupted)
        fprintf(stderr,
                "fer video: interrupted after %ld frames; the outputs are complete up "
                "to there\n",
                stats.read);
    if (stats.read > 0 || st == FER_OK)
        print_summary(&o, &stats, tracks);
    else
        json_decref(tracks);
    fer_engine_close(engine);
    return st == FER_OK ? FER_EXIT_OK : FER_EXIT_FAIL;
}
