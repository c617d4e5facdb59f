/*
 * source.c - demuxing and decoding with FFmpeg (source.h). One packet is read at a time;
 * the decoder may hold several before it gives a frame, and gives the rest when flushed at
 * the end. Frames are converted to packed RGB24 at the input's size.
 */
#include "video/source.h"

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/progress.h"
#include "image/image.h"

#define MAX_DAMAGED 100 /* more damaged frames in a row end the reading */

struct fer_video_source {
    char name[256];
    AVFormatContext *fmt;
    AVCodecContext *dec;
    struct SwsContext *sws;
    AVPacket *pkt;
    AVFrame *frame;
    int video, audio; /* stream indices; audio -1 when there is none */
    int flushing, finished;
    int damaged_in_a_row; /* frames the decoder could not make, since the last good one */
    long frames;          /* frames decoded so far */
    int64_t start_pts;
    int live;
    volatile int *stop;
};

/* libavformat's question during blocking reads: give up? */
static int interrupted(void *arg)
{
    const fer_video_source *s = arg;
    return s->stop && *s->stop;
}

/* FFmpeg's message for an error code. */
static const char *av_message(int code, char *buf, size_t len)
{
    if (av_strerror(code, buf, len) < 0)
        snprintf(buf, len, "error %d", code);
    return buf;
}

static int is_device(const char *input)
{
    return strncmp(input, "/dev/", 5) == 0;
}

static int is_url(const char *input)
{
    const char *colon = strstr(input, "://");
    return colon && colon > input && strncmp(input, "file://", 7) != 0;
}

static void register_devices(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, avdevice_register_all);
}

/* Opens the container (a device through video4linux2, a URL with a read timeout). */
static enum fer_status open_input(fer_video_source *s, const char *input, double timeout_s,
                                  char *err)
{
    char why[128];
    const AVInputFormat *format = NULL;
    AVDictionary *opts = NULL;
    if (is_device(input)) {
        register_devices();
        format = av_find_input_format("video4linux2");
        FILE *f = fopen(input, "rb");
        if (!f)
            return fer_errorf(err, FER_ERR_IO,
                              "cannot open the camera %s: %s (is it connected? "
                              "ls /dev/video* lists the cameras)",
                              input, strerror(errno));
        fclose(f);
    }
    if (is_url(input)) {
        char us[32];
        snprintf(us, sizeof(us), "%lld", (long long)(timeout_s * 1e6));
        av_dict_set(&opts, strncmp(input, "rtsp://", 7) == 0 ? "timeout" : "rw_timeout", us, 0);
    }
    s->fmt = avformat_alloc_context();
    if (!s->fmt)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory opening %s", input);
    s->fmt->interrupt_callback = (AVIOInterruptCB){interrupted, s};
    int r = avformat_open_input(&s->fmt, input, format, &opts);
    av_dict_free(&opts);
    if (r < 0)
        return fer_errorf(err, r == AVERROR(ENOENT) ? FER_ERR_IO : FER_ERR_FORMAT,
                          "cannot open the video %s: %s%s", input, av_message(r, why, sizeof(why)),
                          r == AVERROR_INVALIDDATA ? " (not a video, or one cut short: an MP4 "
                                                     "keeps its index at the end)"
                                                   : "");
    if ((r = avformat_find_stream_info(s->fmt, NULL)) < 0)
        return fer_errorf(err, FER_ERR_FORMAT, "%s: cannot read its streams: %s", input,
                          av_message(r, why, sizeof(why)));
    return FER_OK;
}

/* Finds the video stream (and any audio) and opens a decoder for it. */
static enum fer_status open_decoder(fer_video_source *s, int threads, char *err)
{
    char why[128];
    const AVCodec *codec = NULL;
    s->video = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (s->video < 0)
        return fer_errorf(err, FER_ERR_FORMAT, "%s has no video stream fer can decode%s", s->name,
                          s->video == AVERROR_DECODER_NOT_FOUND ? " (no decoder)" : "");
    s->audio = av_find_best_stream(s->fmt, AVMEDIA_TYPE_AUDIO, -1, s->video, NULL, 0);
    if (s->audio < 0)
        s->audio = -1;
    AVStream *st = s->fmt->streams[s->video];
    s->dec = avcodec_alloc_context3(codec);
    if (!s->dec)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for a decoder");
    int r = avcodec_parameters_to_context(s->dec, st->codecpar);
    if (r >= 0) {
        s->dec->thread_count = threads > 0 ? threads : 0;
        s->dec->pkt_timebase = st->time_base;
        r = avcodec_open2(s->dec, codec, NULL);
    }
    if (r < 0)
        return fer_errorf(err, FER_ERR_FORMAT, "%s: cannot open its %s decoder: %s", s->name,
                          codec->name, av_message(r, why, sizeof(why)));
    if (s->dec->width <= 0 || s->dec->height <= 0 ||
        (size_t)s->dec->width * (size_t)s->dec->height > FER_IMAGE_MAX_PIXELS)
        return fer_errorf(err, FER_ERR_LIMIT,
                          "%s: frames of %dx%d are not something fer reads "
                          "(at most %zu pixels)",
                          s->name, s->dec->width, s->dec->height, (size_t)FER_IMAGE_MAX_PIXELS);
    return FER_OK;
}

enum fer_status fer_video_source_open(const char *input, int threads, double timeout_s,
                                      volatile int *stop, fer_video_source **out, char *err)
{
    *out = NULL;
    fer_video_source *s = fer_calloc(1, sizeof(*s));
    if (!s)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory opening %s", input);
    snprintf(s->name, sizeof(s->name), "%s", input);
    s->stop = stop;
    s->live = is_device(input) || is_url(input);
    s->start_pts = AV_NOPTS_VALUE;
    enum fer_status st = open_input(s, input, timeout_s, err);
    if (st == FER_OK)
        st = open_decoder(s, threads, err);
    if (st == FER_OK) {
        s->pkt = av_packet_alloc();
        s->frame = av_frame_alloc();
        if (!s->pkt || !s->frame)
            st = fer_errorf(err, FER_ERR_NOMEM, "out of memory reading %s", input);
    }
    if (st != FER_OK) {
        fer_video_source_free(s);
        return st;
    }
    *out = s;
    return FER_OK;
}

void fer_video_source_info(const fer_video_source *s, struct fer_video_source_info *info)
{
    AVStream *st = s->fmt->streams[s->video];
    AVRational rate = av_guess_frame_rate(s->fmt, st, NULL);
    info->width = s->dec->width;
    info->height = s->dec->height;
    info->fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 25.0;
    if (info->fps > 240)
        info->fps = 240;
    info->live = s->live;
    info->has_audio = s->audio >= 0;
    info->codec = s->dec->codec->name;
    info->duration = s->fmt->duration > 0 ? (double)s->fmt->duration / AV_TIME_BASE : 0;
    info->frames_expected =
        st->nb_frames > 0 ? (long)st->nb_frames : (long)(info->duration * info->fps + 0.5);
}

const struct AVStream *fer_video_source_audio(const fer_video_source *s)
{
    return s->audio >= 0 ? s->fmt->streams[s->audio] : NULL;
}

void fer_video_source_free(fer_video_source *s)
{
    if (!s)
        return;
    sws_freeContext(s->sws);
    av_frame_free(&s->frame);
    av_packet_free(&s->pkt);
    avcodec_free_context(&s->dec);
    avformat_close_input(&s->fmt);
    fer_free(s);
}

/* The decoded frame s->frame as an RGB item. */
static enum fer_status take_frame(fer_video_source *s, struct fer_video_item *it, char *err)
{
    AVFrame *f = s->frame;
    if (f->width != s->dec->width || f->height != s->dec->height)
        return fer_errorf(err, FER_ERR_FORMAT,
                          "%s: frame %ld is %dx%d, the video's are %dx%d: "
                          "fer reads videos whose size stays the same",
                          s->name, s->frames, f->width, f->height, s->dec->width, s->dec->height);
    s->sws = sws_getCachedContext(s->sws, f->width, f->height, f->format, f->width, f->height,
                                  AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
    if (!s->sws)
        return fer_errorf(err, FER_ERR_FORMAT, "%s: cannot convert %s frames to RGB", s->name,
                          av_get_pix_fmt_name(f->format));
    memset(it, 0, sizeof(*it));
    enum fer_status st = fer_image_new(f->width, f->height, 3, &it->rgb, err);
    if (st != FER_OK)
        return st;
    uint8_t *dst[4] = {it->rgb.data};
    int dst_stride[4] = {f->width * 3};
    sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dst_stride);
    int64_t pts = f->best_effort_timestamp;
    AVRational tb = s->fmt->streams[s->video]->time_base;
    if (pts != AV_NOPTS_VALUE && s->start_pts == AV_NOPTS_VALUE)
        s->start_pts = pts;
    it->kind = FER_ITEM_FRAME;
    it->index = s->frames++;
    it->time = pts != AV_NOPTS_VALUE ? (double)(pts - s->start_pts) * av_q2d(tb)
                                     : (double)it->index / 25.0;
    it->arrived = fer_now();
    av_frame_unref(f);
    return FER_OK;
}

enum fer_status fer_video_source_read(fer_video_source *s, struct fer_video_item *it, char *err)
{
    char why[128];
    memset(it, 0, sizeof(*it));
    for (;;) {
        if (s->finished) {
            it->kind = FER_ITEM_END;
            return FER_OK;
        }
        int r = avcodec_receive_frame(s->dec, s->frame);
        if (r == 0) {
            s->damaged_in_a_row = 0;
            return take_frame(s, it, err);
        }
        if (r == AVERROR_EOF) {
            s->finished = 1;
            continue;
        }
        if (r == AVERROR_INVALIDDATA && ++s->damaged_in_a_row < MAX_DAMAGED)
            continue; /* a damaged frame is skipped, as players do */
        if (r != AVERROR(EAGAIN))
            return fer_errorf(err, FER_ERR_FORMAT, "%s: cannot decode frame %ld: %s", s->name,
                              s->frames, av_message(r, why, sizeof(why)));
        if (s->flushing)
            return fer_errorf(err, FER_ERR_STATE, "%s: the decoder stopped early", s->name);
        r = av_read_frame(s->fmt, s->pkt);
        if (r == AVERROR_EOF || (r < 0 && avio_feof(s->fmt->pb) && !s->live)) {
            s->flushing = 1;
            avcodec_send_packet(s->dec, NULL);
            continue;
        }
        if (r < 0) {
            if (s->stop && *s->stop) {
                s->flushing = 1;
                avcodec_send_packet(s->dec, NULL);
                continue;
            }
            return fer_errorf(err, FER_ERR_IO, "%s: the %s broke after %ld frames: %s", s->name,
                              s->live ? "stream" : "file", s->frames,
                              av_message(r, why, sizeof(why)));
        }
        if (s->pkt->stream_index == s->audio) {
            it->kind = FER_ITEM_AUDIO;
            it->packet = av_packet_clone(s->pkt);
            av_packet_unref(s->pkt);
            if (!it->packet)
                return fer_errorf(err, FER_ERR_NOMEM, "out of memory for an audio packet");
            return FER_OK;
        }
        if (s->pkt->stream_index == s->video)
            r = avcodec_send_packet(s->dec, s->pkt);
        av_packet_unref(s->pkt);
        /* a damaged packet is skipped, as players do; the frames around it still come */
        if (r < 0 && r != AVERROR(EAGAIN) && r != AVERROR_INVALIDDATA)
            return fer_errorf(err, FER_ERR_FORMAT, "%s: cannot decode frame %ld: %s", s->name,
                              s->frames, av_message(r, why, sizeof(why)));
    }
}
