/* run.c - fer video's threads and how they end (run.h). */
#include "video/run.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/progress.h"
#include "image/image.h"
#include "pipeline/engine_parts.h"
#include "report/report.h"
#include "video/plot.h"
#include "video/queue.h"
#include "video/records.h"
#include "video/sink.h"
#include "video/source.h"
#include "video/window.h"

#define QUEUE_FILE   8   /* frames in flight between two threads, for files */
#define QUEUE_LIVE   32  /* live input: about a second, for streams that come in bursts */
#define QUEUE_SHOW   8   /* live input shown in the window: the delay counts more */
#define STALE_SHOW   0.1 /* with --show, a frame that waited longer is skipped for a newer one */
#define PANEL        200
#define PLOT_SECONDS 10.0

struct run {
    fer_engine *e;
    const struct fer_video_options *o;
    struct fer_video_stats *stats;
    fer_video_source *src;
    struct fer_video_source_info info;
    fer_tracker *tracker;
    fer_video_records *records;
    fer_video_sink *sink;
    int drop, paced;
    struct fer_video_queue to_analyse, to_write;
    pthread_mutex_t mu; /* the first error, and the stats the threads share */
    enum fer_status status;
    int halt; /* an error in the analyser, the writer or the window: drop what waits */
    char err[FER_ERR_LEN];
    fer_progress progress;
    /* the window's slot: the latest analysed frame, replaced if not shown in time */
    pthread_cond_t shown_cv;
    struct fer_video_item slot;
    int slot_full, analysis_done;
};

/* Keeps the first error. The input's errors end the input, and the frames read before are
 * still analysed and written; the others (halt) stop everything at once. */
static void fail(struct run *r, enum fer_status st, const char *msg, int halt)
{
    pthread_mutex_lock(&r->mu);
    if (r->status == FER_OK) {
        r->status = st;
        snprintf(r->err, sizeof(r->err), "%s", msg);
    }
    r->halt |= halt;
    pthread_mutex_unlock(&r->mu);
    if (halt)
        *r->o->stop = 1;
}

static int halted(struct run *r)
{
    pthread_mutex_lock(&r->mu);
    int f = r->halt;
    pthread_mutex_unlock(&r->mu);
    return f;
}

/* ---- reader ------------------------------------------------------------------------------- */

/* Sleeps until the frame's time has come on the wall clock (files played with --show). */
static void pace(double start, double frame_time)
{
    double wait = start + frame_time - fer_now();
    if (wait <= 0)
        return;
    struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Lets a frame go unanalysed, and counts it. */
static void drop(struct run *r, struct fer_video_item *it)
{
    fer_video_item_clear(it);
    pthread_mutex_lock(&r->mu);
    r->stats->dropped++;
    pthread_mutex_unlock(&r->mu);
}

/* Hands a frame on: waits for room, or (live) drops it when the analyser is busy. 0 goes on,
 * -1 when the analyser has stopped. */
static int hand_on(struct run *r, struct fer_video_item *it)
{
    if (!r->drop)
        return fer_video_queue_push(&r->to_analyse, it);
    int got = fer_video_queue_try_push(&r->to_analyse, it);
    if (got == 1) {
        drop(r, it);
        return 0;
    }
    return got;
}

/* A file that ends well before the frames its header announces was cut short: say so (what
 * was read is still analysed and written). */
static void check_complete(struct run *r)
{
    long expected = r->info.frames_expected;
    if (r->info.live || expected <= 0 || r->o->max_frames || *r->o->stop ||
        (double)r->stats->read >= 0.9 * (double)expected)
        return;
    char msg[FER_ERR_LEN];
    snprintf(msg, sizeof(msg),
             "%s ends after %ld of the %ld frames its header announces: the file is truncated "
             "or damaged (the frames read are in the outputs)",
             r->o->input, r->stats->read, expected);
    fail(r, FER_ERR_FORMAT, msg, 0);
}

static void *reader(void *arg)
{
    struct run *r = arg;
    char err[FER_ERR_LEN];
    double start = fer_now();
    while (!*r->o->stop) {
        struct fer_video_item it;
        enum fer_status st = fer_video_source_read(r->src, &it, err);
        if (st != FER_OK) {
            fail(r, st, err, 0);
            break;
        }
        if (it.kind == FER_ITEM_END)
            break;
        if (it.kind == FER_ITEM_AUDIO) {
            if (!r->sink)
                fer_video_item_clear(&it);
            else if (fer_video_queue_push(&r->to_analyse, &it) < 0)
                break;
            continue;
        }
        if (r->o->max_frames && it.index >= r->o->max_frames) {
            fer_video_item_clear(&it);
            break;
        }
        pthread_mutex_lock(&r->mu);
        r->stats->read++;
        pthread_mutex_unlock(&r->mu);
        if (r->paced) { /* a file played at its own speed: its frames arrive on time */
            pace(start, it.time);
            it.arrived = fer_now();
        }
        if (hand_on(r, &it) < 0)
            break;
    }
    check_complete(r);
    struct fer_video_item end = {.kind = FER_ITEM_END};
    fer_video_queue_push(&r->to_analyse, &end);
    return NULL;
}

/* ---- analyser ----------------------------------------------------------------------------- */

/* Puts the analysed frame in the window's slot (the one waiting there is dropped: the window
 * shows the latest): the frame itself when nothing else needs it (*it is emptied), else a
 * copy, for the writer keeps the original. */
static enum fer_status post_to_window(struct run *r, struct fer_video_item *it, int take, char *err)
{
    struct fer_video_item copy = {
        .kind = FER_ITEM_FRAME, .index = it->index, .time = it->time, .arrived = it->arrived};
    if (take) {
        copy = *it;
        memset(it, 0, sizeof(*it));
    } else {
        enum fer_status st = fer_image_new(it->rgb.width, it->rgb.height, 3, &copy.rgb, err);
        if (st != FER_OK)
            return st;
        memcpy(copy.rgb.data, it->rgb.data, (size_t)it->rgb.width * (size_t)it->rgb.height * 3);
        if (it->tracks.n) {
            copy.tracks.tracks = fer_calloc(it->tracks.n, sizeof(fer_track));
            if (!copy.tracks.tracks) {
                fer_video_item_clear(&copy);
                return fer_errorf(err, FER_ERR_NOMEM, "out of memory showing frame %ld", it->index);
            }
            memcpy(copy.tracks.tracks, it->tracks.tracks, it->tracks.n * sizeof(fer_track));
            copy.tracks.n = it->tracks.n;
        }
    }
    pthread_mutex_lock(&r->mu);
    fer_video_item_clear(&r->slot);
    r->slot = copy;
    r->slot_full = 1;
    pthread_cond_signal(&r->shown_cv);
    pthread_mutex_unlock(&r->mu);
    return FER_OK;
}

/* One frame: tracks, records, overlay, then on to the writer and the window. */
static enum fer_status analyse(struct run *r, struct fer_video_item *it, char *err)
{
    enum fer_status st = fer_tracker_feed(r->tracker, &it->rgb, it->time, &it->tracks, err);
    if (st == FER_OK)
        st = fer_video_records_add(r->records, it->index, it->time, &it->tracks, err);
    if (st == FER_OK && (r->sink || r->o->show))
        st = fer_overlay_draw(&it->rgb, r->e, &it->tracks, r->o->overlay, err);
    size_t faces = it->tracks.n;
    double time = it->time;
    if (st == FER_OK && r->o->show)
        st = post_to_window(r, it, !r->sink, err);
    if (st != FER_OK)
        return st;
    pthread_mutex_lock(&r->mu);
    r->stats->analysed++;
    r->stats->duration = time;
    pthread_mutex_unlock(&r->mu);
    if (r->o->progress) {
        char extra[64];
        snprintf(extra, sizeof(extra), "%zu face%s  %ld dropped", faces, faces == 1 ? "" : "s",
                 r->stats->dropped);
        fer_progress_add(&r->progress, 1, extra);
    }
    if (r->sink)
        fer_video_queue_push(&r->to_write, it); /* a closed queue (writer failed) frees it */
    else
        fer_video_item_clear(it);
    return FER_OK;
}

/* Live input in the window: a frame that waited too long is skipped when a newer one waits,
 * so that what is shown stays close to now. */
static int stale(struct run *r, struct fer_video_item *it)
{
    if (!r->o->show || !r->drop || fer_now() - it->arrived <= STALE_SHOW ||
        fer_video_queue_frames(&r->to_analyse) == 0)
        return 0;
    drop(r, it);
    return 1;
}

static void *analyser(void *arg)
{
    struct run *r = arg;
    char err[FER_ERR_LEN];
    for (;;) {
        struct fer_video_item it;
        fer_video_queue_pop(&r->to_analyse, &it);
        if (it.kind == FER_ITEM_END)
            break;
        if (halted(r)) { /* stop taking frames: the reader's pushes fail from here on */
            fer_video_item_clear(&it);
            fer_video_queue_close(&r->to_analyse);
            break;
        }
        if (it.kind == FER_ITEM_AUDIO) {
            fer_video_queue_push(&r->to_write, &it);
            continue;
        }
        if (stale(r, &it))
            continue;
        enum fer_status st = analyse(r, &it, err);
        if (st != FER_OK) {
            fer_video_item_clear(&it);
            fail(r, st, err, 1);
        }
    }
    if (r->sink) {
        struct fer_video_item end = {.kind = FER_ITEM_END};
        fer_video_queue_push(&r->to_write, &end);
    }
    pthread_mutex_lock(&r->mu);
    r->analysis_done = 1;
    pthread_cond_signal(&r->shown_cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- writer ------------------------------------------------------------------------------- */

static void *writer(void *arg)
{
    struct run *r = arg;
    char err[FER_ERR_LEN];
    for (;;) {
        struct fer_video_item it;
        fer_video_queue_pop(&r->to_write, &it);
        if (it.kind == FER_ITEM_END)
            break;
        enum fer_status st = it.kind == FER_ITEM_FRAME
                                 ? fer_video_sink_write_frame(r->sink, &it.rgb, it.time, err)
                                 : fer_video_sink_write_audio(r->sink, it.packet, err);
        fer_video_item_clear(&it);
        if (st != FER_OK) {
            fail(r, st, err, 1);
            fer_video_queue_close(&r->to_write);
            break;
        }
    }
    return NULL;
}

/* ---- the window (the calling thread) ------------------------------------------------------ */

struct screen {
    fer_video_window *window;
    fer_live_plot *plot;
    fer_image picture, panel;
    double last_shown, fps, latency_sum;
};

/* Stacks the frame and the plot into the picture and shows it. */
static enum fer_status show(struct run *r, struct screen *s, struct fer_video_item *it, char *err)
{
    size_t frame_bytes = (size_t)it->rgb.width * (size_t)it->rgb.height * 3;
    memcpy(s->picture.data, it->rgb.data, frame_bytes);
    double now = fer_now();
    if (s->last_shown > 0 && now > s->last_shown) /* frames per second, smoothed */
        s->fps += (1.0 / (now - s->last_shown) - s->fps) * 0.1;
    s->last_shown = now;
    pthread_mutex_lock(&r->mu);
    struct fer_live_status status = {s->fps, r->stats->dropped,
                                     r->stats->shown ? s->latency_sum / (double)r->stats->shown : 0,
                                     it->index};
    pthread_mutex_unlock(&r->mu);
    enum fer_status st = fer_live_plot_add(s->plot, it->time, &it->tracks, err);
    if (st == FER_OK)
        st = fer_live_plot_draw(s->plot, &status, &s->panel, err);
    if (st == FER_OK) {
        memcpy(s->picture.data + frame_bytes, s->panel.data,
               (size_t)s->panel.width * (size_t)s->panel.height * 3);
        st = fer_video_window_show(s->window, &s->picture, err);
    }
    if (st != FER_OK)
        return st;
    double latency = (fer_now() - it->arrived) * 1e3;
    pthread_mutex_lock(&r->mu);
    r->stats->shown++;
    s->latency_sum += latency;
    r->stats->latency_mean_ms = s->latency_sum / (double)r->stats->shown;
    if (latency > r->stats->latency_max_ms)
        r->stats->latency_max_ms = latency;
    pthread_mutex_unlock(&r->mu);
    return FER_OK;
}

/* Shows each frame the analyser posts until it is done; closing the window stops the run. */
static void run_window(struct run *r, struct screen *s)
{
    char err[FER_ERR_LEN];
    for (;;) {
        if (fer_video_window_closed(s->window))
            *r->o->stop = 1;
        pthread_mutex_lock(&r->mu);
        if (!r->slot_full && !r->analysis_done) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 10 * 1000 * 1000; /* poll the window's events every 10 ms */
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&r->shown_cv, &r->mu, &until);
        }
        struct fer_video_item it = {0};
        int have = r->slot_full, done = r->analysis_done;
        if (have) {
            it = r->slot;
            memset(&r->slot, 0, sizeof(r->slot));
            r->slot_full = 0;
        }
        pthread_mutex_unlock(&r->mu);
        if (have) {
            enum fer_status st = show(r, s, &it, err);
            fer_video_item_clear(&it);
            if (st != FER_OK)
                fail(r, st, err, 1);
        } else if (done) {
            return;
        }
    }
}

static enum fer_status open_screen(struct run *r, struct screen *s, char *err)
{
    char title[300];
    snprintf(title, sizeof(title), "fer video - %s", r->o->input);
    enum fer_status st =
        fer_video_window_open(title, r->info.width, r->info.height, PANEL, &s->window, err);
    if (st == FER_OK)
        st = fer_live_plot_new(r->e, PLOT_SECONDS, &s->plot, err);
    if (st == FER_OK)
        st = fer_image_new(r->info.width, r->info.height + PANEL, 3, &s->picture, err);
    if (st == FER_OK)
        st = fer_image_new(r->info.width, PANEL, 3, &s->panel, err);
    return st;
}

static void close_screen(struct screen *s)
{
    fer_video_window_free(s->window);
    fer_live_plot_free(s->plot);
    fer_image_free(&s->picture);
    fer_image_free(&s->panel);
}

/* ---- the run ------------------------------------------------------------------------------ */

/* Opens the source, the tracker, the records and the output: everything that can fail on
 * bad options or input, before any thread starts. */
static enum fer_status open_all(struct run *r, char *err)
{
    const struct fer_video_options *o = r->o;
    enum fer_status st =
        fer_video_source_open(o->input, o->threads, o->timeout, o->stop, &r->src, err);
    if (st != FER_OK)
        return st;
    fer_video_source_info(r->src, &r->info);
    r->paced = o->show && !r->info.live;
    r->drop = r->info.live || r->paced;
    r->stats->width = r->info.width;
    r->stats->height = r->info.height;
    r->stats->input_fps = r->info.fps;
    if ((st = fer_tracker_new(r->e, &o->tracker, &r->tracker, err)) != FER_OK)
        return st;
    if ((st = fer_video_records_open(r->e, o->jsonl, o->csv, &r->records, err)) != FER_OK)
        return st;
    if (o->output) {
        st = fer_video_sink_open(o->output, r->info.width, r->info.height, r->info.fps,
                                 fer_video_source_audio(r->src), o->threads,
                                 &r->stats->audio_dropped, &r->sink, err);
        r->stats->audio_copied = st == FER_OK && r->info.has_audio && !r->stats->audio_dropped;
    }
    return st;
}

/* Finishes the outputs (the MP4's index, the files' last bytes, the timeline). */
static enum fer_status finish_all(struct run *r, json_t **summary, char *err)
{
    enum fer_status st = FER_OK;
    if (r->sink) {
        st = fer_video_sink_finish(r->sink, err);
        r->stats->written = fer_video_sink_frames(r->sink);
    }
    enum fer_status rs = fer_video_records_close(r->records, st == FER_OK ? err : NULL);
    if (st == FER_OK)
        st = rs;
    size_t n;
    const struct fer_track_history *h = fer_video_records_tracks(r->records, &n);
    r->stats->tracks = (long)n;
    if (r->o->timeline) {
        int k = fer_engine_class_count(r->e);
        const char *names[FER_MAX_CLASSES];
        for (int c = 0; c < k; c++)
            names[c] = fer_engine_class_name(r->e, c);
        char title[300];
        snprintf(title, sizeof(title), "Emotions over time: %s", r->o->input);
        double duration = r->stats->duration > 0 ? r->stats->duration : 1;
        struct fer_figure_file out = {r->o->timeline, 0};
        enum fer_status ts = fer_figure_timeline(h, n, k, names, duration, 12, title, &out,
                                                 st == FER_OK ? err : NULL);
        if (st == FER_OK)
            st = ts;
    }
    if (summary)
        *summary = fer_video_records_summary(r->records);
    return st;
}

/* Runs the detector and the classifier once on a blank frame, so that their networks exist
 * before the first real frame, and draws a face on it so that fontconfig has loaded its
 * fonts (half a second): otherwise the first frames wait for them (live input would drop
 * frames and the window would start late). */
static enum fer_status warm_up(struct run *r, char *err)
{
    fer_image blank = {0}, gray = {0};
    struct fer_found *found = NULL;
    size_t n = 0;
    uint8_t crop[FER_FACE_SIDE * FER_FACE_SIDE] = {0};
    float probs[FER_MAX_CLASSES];
    int w = r->o->tracker.detect_width && r->info.width > r->o->tracker.detect_width
                ? r->o->tracker.detect_width
                : r->info.width;
    int h = (int)((double)r->info.height * w / r->info.width + 0.5);
    enum fer_status st = fer_image_new(w, h > 0 ? h : 1, 3, &blank, err);
    if (st == FER_OK)
        st = fer_image_new(blank.width, blank.height, 1, &gray, err);
    if (st == FER_OK)
        st = fer_engine_find_faces(r->e, &blank, &gray, &found, &n, err);
    if (st == FER_OK)
        st = fer_engine_classify_crops(r->e, crop, 1, probs, err);
    if (st == FER_OK && (r->sink || r->o->show)) {
        fer_track track = {.id = 1, .face = {.box = {0, 0, w / 2, h / 2}}};
        fer_tracks tracks = {.n = 1, .tracks = &track};
        track.face.probabilities[0] = 1;
        st = fer_overlay_draw(&blank, r->e, &tracks, r->o->overlay, err);
    }
    fer_free(found);
    fer_image_free(&blank);
    fer_image_free(&gray);
    return st;
}

/* The frames the progress line counts towards: 0 (open-ended) for live input. */
static size_t frames_to_come(const struct run *r)
{
    long n = r->info.frames_expected;
    if (r->o->max_frames && r->o->max_frames < n)
        n = r->o->max_frames;
    return r->drop || n < 0 ? 0 : (size_t)n;
}

static void run_threads(struct run *r)
{
    char err[FER_ERR_LEN];
    struct screen s = {0};
    /* the window first: the warm-up then also covers what opening it costs the first frames */
    enum fer_status st = r->o->show ? open_screen(r, &s, err) : FER_OK;
    if (st == FER_OK)
        st = warm_up(r, err);
    if (st != FER_OK) {
        fail(r, st, err, 1);
        close_screen(&s);
        return;
    }
    if (r->o->progress)
        fer_progress_start(&r->progress, "video", "frames", frames_to_come(r), 1);
    pthread_t rt, at, wt;
    pthread_create(&rt, NULL, reader, r);
    pthread_create(&at, NULL, analyser, r);
    if (r->sink)
        pthread_create(&wt, NULL, writer, r);
    if (r->o->show)
        run_window(r, &s);
    pthread_join(rt, NULL);
    pthread_join(at, NULL);
    if (r->sink)
        pthread_join(wt, NULL);
    if (r->o->progress)
        fer_progress_finish(&r->progress);
    close_screen(&s);
}

enum fer_status fer_video_run(fer_engine *e, const struct fer_video_options *o,
                              struct fer_video_stats *stats, json_t **summary, char *err)
{
    memset(stats, 0, sizeof(*stats));
    if (summary)
        *summary = NULL;
    struct run r = {.e = e, .o = o, .stats = stats};
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.shown_cv, NULL);
    double start = fer_now();
    enum fer_status st = open_all(&r, err);
    int queues = st == FER_OK;
    if (queues) {
        size_t cap = !r.drop ? QUEUE_FILE : o->show ? QUEUE_SHOW : QUEUE_LIVE;
        if (fer_video_queue_init(&r.to_analyse, cap) || fer_video_queue_init(&r.to_write, cap))
            st = fer_errorf(err, FER_ERR_NOMEM, "out of memory for the frame queues");
    }
    if (st == FER_OK) {
        run_threads(&r);
        stats->interrupted = *o->stop && r.status == FER_OK;
        enum fer_status fin = finish_all(&r, summary, r.status == FER_OK ? err : NULL);
        st = r.status != FER_OK ? r.status : fin;
        if (r.status != FER_OK)
            snprintf(err, FER_ERR_LEN, "%s", r.err);
    }
    stats->seconds = fer_now() - start;
    fer_video_item_clear(&r.slot);
    if (queues) {
        fer_video_queue_destroy(&r.to_analyse);
        fer_video_queue_destroy(&r.to_write);
    }
    fer_video_sink_free(r.sink);
    fer_video_records_free(r.records);
    fer_tracker_free(r.tracker);
    fer_video_source_free(r.src);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.shown_cv);
    return st;
}
