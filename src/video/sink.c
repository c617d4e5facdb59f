/*
 * sink.c - encoding and muxing with FFmpeg (sink.h). The encoder's time base is 1/90000 s,
 * so frames keep their input times even when live input drops some; x264 runs with the
 * "veryfast" preset at CRF 23 (the look of the input at a fraction of its cost).
 */
#include "video/sink.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

#define TIME_BASE 90000

struct fer_video_sink {
    char path[1024];
    AVFormatContext *fmt;
    AVCodecContext *enc;
    AVStream *video, *audio;
    AVRational audio_in_tb; /* the input audio's time base */
    int64_t audio_start;    /* the first audio packet's time, subtracted from all */
    struct SwsContext *sws;
    AVFrame *yuv;
    AVPacket *pkt;
    int64_t last_pts;
    long frames;
    int header_written, finished;
};

static const char *av_message(int code, char *buf, size_t len)
{
    if (av_strerror(code, buf, len) < 0)
        snprintf(buf, len, "error %d", code);
    return buf;
}

static enum fer_status open_encoder(fer_video_sink *s, int width, int height, double fps,
                                    int threads, char *err)
{
    char why[128];
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec)
        codec = avcodec_find_encoder(AV_CODEC_ID_H264);
    if (!codec)
        return fer_errorf(err, FER_ERR_STATE, "this FFmpeg has no H.264 encoder (libx264)");
    s->enc = avcodec_alloc_context3(codec);
    if (!s->enc)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for an encoder");
    s->enc->width = width;
    s->enc->height = height;
    s->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    s->enc->time_base = (AVRational){1, TIME_BASE};
    s->enc->framerate = av_d2q(fps, 100000);
    s->enc->thread_count = threads > 0 ? threads : 0;
    s->enc->gop_size = (int)(fps * 2 + 0.5);
    if (s->fmt->oformat->flags & AVFMT_GLOBALHEADER)
        s->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_opt_set(s->enc->priv_data, "preset", "veryfast", 0);
    av_opt_set(s->enc->priv_data, "crf", "23", 0);
    int r = avcodec_open2(s->enc, codec, NULL);
    if (r < 0)
        return fer_errorf(err, FER_ERR_STATE, "cannot open the H.264 encoder for %dx%d: %s", width,
                          height, av_message(r, why, sizeof(why)));
    s->video = avformat_new_stream(s->fmt, NULL);
    if (!s->video || avcodec_parameters_from_context(s->video->codecpar, s->enc) < 0)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for the output's video stream");
    s->video->time_base = s->enc->time_base;
    s->video->avg_frame_rate = s->enc->framerate;
    s->yuv = av_frame_alloc();
    s->pkt = av_packet_alloc();
    if (!s->yuv || !s->pkt)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for the encoder's frames");
    s->yuv->format = AV_PIX_FMT_YUV420P;
    s->yuv->width = width;
    s->yuv->height = height;
    if (av_frame_get_buffer(s->yuv, 0) < 0)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for a %dx%d frame", width, height);
    s->sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P,
                            SWS_BILINEAR, NULL, NULL, NULL);
    if (!s->sws)
        return fer_errorf(err, FER_ERR_STATE, "cannot convert RGB to YUV at %dx%d", width, height);
    return FER_OK;
}

/* A stream that copies the input's audio, when MP4 can hold its codec. */
static enum fer_status add_audio(fer_video_sink *s, const AVStream *in, int *dropped, char *err)
{
    *dropped = 0;
    if (!in)
        return FER_OK;
    if (avformat_query_codec(s->fmt->oformat, in->codecpar->codec_id, FF_COMPLIANCE_NORMAL) != 1) {
        *dropped = 1;
        return FER_OK;
    }
    s->audio = avformat_new_stream(s->fmt, NULL);
    if (!s->audio || avcodec_parameters_copy(s->audio->codecpar, in->codecpar) < 0)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for the output's audio stream");
    s->audio->codecpar->codec_tag = 0;
    s->audio->time_base = in->time_base;
    s->audio_in_tb = in->time_base;
    s->audio_start = AV_NOPTS_VALUE;
    return FER_OK;
}

enum fer_status fer_video_sink_open(const char *path, int width, int height, double fps,
                                    const struct AVStream *audio, int threads, int *audio_dropped,
                                    fer_video_sink **out, char *err)
{
    char why[128];
    *out = NULL;
    /* 4:2:0 needs even sides: an odd last column or row is left out */
    width &= ~1;
    height &= ~1;
    if (width < 2 || height < 2)
        return fer_errorf(err, FER_ERR_ARG, "%s: frames of %dx%d are too small to encode", path,
                          width, height);
    fer_video_sink *s = fer_calloc(1, sizeof(*s));
    if (!s)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for %s", path);
    snprintf(s->path, sizeof(s->path), "%s", path);
    s->last_pts = AV_NOPTS_VALUE;
    enum fer_status st = FER_OK;
    int r = avformat_alloc_output_context2(&s->fmt, NULL, "mp4", path);
    if (r < 0)
        st = fer_errorf(err, FER_ERR_NOMEM, "cannot make an MP4 for %s: %s", path,
                        av_message(r, why, sizeof(why)));
    if (st == FER_OK)
        st = open_encoder(s, width, height, fps, threads, err);
    if (st == FER_OK)
        st = add_audio(s, audio, audio_dropped, err);
    if (st == FER_OK && (r = avio_open(&s->fmt->pb, path, AVIO_FLAG_WRITE)) < 0)
        st = fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", path,
                        av_message(r, why, sizeof(why)));
    if (st == FER_OK && (r = avformat_write_header(s->fmt, NULL)) < 0)
        st = fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", path,
                        av_message(r, why, sizeof(why)));
    if (st != FER_OK) {
        s->finished = 1; /* nothing to finish */
        fer_video_sink_free(s);
        return st;
    }
    s->header_written = 1;
    *out = s;
    return FER_OK;
}

/* Sends frame (NULL: flush) to the encoder and writes every packet it gives back. */
static enum fer_status encode(fer_video_sink *s, AVFrame *frame, char *err)
{
    char why[128];
    int r = avcodec_send_frame(s->enc, frame);
    if (r < 0)
        return fer_errorf(err, FER_ERR_STATE, "%s: the encoder refused frame %ld: %s", s->path,
                          s->frames, av_message(r, why, sizeof(why)));
    for (;;) {
        r = avcodec_receive_packet(s->enc, s->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return FER_OK;
        if (r < 0)
            return fer_errorf(err, FER_ERR_STATE, "%s: encoding failed: %s", s->path,
                              av_message(r, why, sizeof(why)));
        av_packet_rescale_ts(s->pkt, s->enc->time_base, s->video->time_base);
        s->pkt->stream_index = s->video->index;
        r = av_interleaved_write_frame(s->fmt, s->pkt);
        if (r < 0)
            return fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", s->path,
                              av_message(r, why, sizeof(why)));
    }
}

enum fer_status fer_video_sink_write_frame(fer_video_sink *s, const fer_image *rgb, double time,
                                           char *err)
{
    if (rgb->channels != 3 || (rgb->width & ~1) != s->enc->width ||
        (rgb->height & ~1) != s->enc->height)
        return fer_errorf(err, FER_ERR_ARG, "%s: frame of %dx%d, the video is %dx%d", s->path,
                          rgb->width, rgb->height, s->enc->width, s->enc->height);
    if (av_frame_make_writable(s->yuv) < 0)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory encoding %s", s->path);
    const uint8_t *src[4] = {rgb->data};
    int src_stride[4] = {rgb->width * 3};
    sws_scale(s->sws, src, src_stride, 0, s->enc->height, s->yuv->data, s->yuv->linesize);
    int64_t pts = (int64_t)(time * TIME_BASE + 0.5);
    if (s->last_pts != AV_NOPTS_VALUE && pts <= s->last_pts)
        pts = s->last_pts + 1; /* timestamps must grow */
    s->last_pts = pts;
    s->yuv->pts = pts;
    enum fer_status st = encode(s, s->yuv, err);
    if (st == FER_OK)
        s->frames++;
    return st;
}

enum fer_status fer_video_sink_write_audio(fer_video_sink *s, struct AVPacket *pkt, char *err)
{
    char why[128];
    if (!s->audio)
        return FER_OK;
    if (s->audio_start == AV_NOPTS_VALUE)
        s->audio_start = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    if (s->audio_start != AV_NOPTS_VALUE) {
        if (pkt->pts != AV_NOPTS_VALUE)
            pkt->pts -= s->audio_start;
        if (pkt->dts != AV_NOPTS_VALUE)
            pkt->dts -= s->audio_start;
    }
    av_packet_rescale_ts(pkt, s->audio_in_tb, s->audio->time_base);
    pkt->stream_index = s->audio->index;
    pkt->pos = -1;
    int r = av_interleaved_write_frame(s->fmt, pkt);
    if (r < 0)
        return fer_errorf(err, FER_ERR_IO, "cannot write %s (audio): %s", s->path,
                          av_message(r, why, sizeof(why)));
    return FER_OK;
}

enum fer_status fer_video_sink_finish(fer_video_sink *s, char *err)
{
    char why[128];
    if (s->finished)
        return FER_OK;
    s->finished = 1;
    enum fer_status st = encode(s, NULL, err);
    int r = av_write_trailer(s->fmt);
    if (r < 0 && st == FER_OK)
        st = fer_errorf(err, FER_ERR_IO, "cannot finish %s: %s", s->path,
                        av_message(r, why, sizeof(why)));
    r = avio_closep(&s->fmt->pb);
    if (r < 0 && st == FER_OK)
        st = fer_errorf(err, FER_ERR_IO, "cannot close %s: %s", s->path,
                        av_message(r, why, sizeof(why)));
    return st;
}

long fer_video_sink_frames(const fer_video_sink *s)
{
    return s->frames;
}

void fer_video_sink_free(fer_video_sink *s)
{
    if (!s)
        return;
    if (!s->finished)
        fer_video_sink_finish(s, NULL);
    if (s->fmt && !(s->fmt->oformat->flags & AVFMT_NOFILE))
        avio_closep(&s->fmt->pb);
    avformat_free_context(s->fmt);
    avcodec_free_context(&s->enc);
    sws_freeContext(s->sws);
    av_frame_free(&s->yuv);
    av_packet_free(&s->pkt);
    fer_free(s);
}
