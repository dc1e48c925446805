/* video.c: eng_video_sample and eng_video_scene_cuts, video frames for the
 * vision models through FFmpeg's libraries.
 *
 * libavformat opens the container (local files only) and libavcodec
 * decodes the best video stream with the send / receive / drain loop of
 * FFmpeg's decode_video.c. Sampling wants frames at evenly spaced times;
 * for each one it seeks back to the keyframe before the time when that
 * keyframe lies ahead of where decoding already is (so a sparse sample
 * skips whole groups of pictures), and otherwise decodes straight on. Of
 * the two decoded frames around a wanted time, the nearer is kept, so a
 * frame is at most half a frame period off. libswscale converts the kept
 * frames to 8-bit RGB, downscaled in the same pass when asked, and a
 * display-matrix rotation (portrait phone clips) is applied, so frames come
 * out as a player shows them.
 *
 * Scene cuts compare 64x36 RGB thumbnails of consecutive analysed frames
 * (mean absolute difference in levels of 255; colour rather than grey so
 * that two shots of equal brightness still differ) and keep the local
 * peaks that stand a threshold above the median difference of the second
 * around them (the shot's own motion), at least min_gap apart.
 *
 * A file that breaks off (a truncated download) is read up to the break;
 * it is an error only when no frame decodes at all. FFmpeg's own logging
 * is silenced; its error text goes into the engine's error instead.
 */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image-internal.h"
#include "engine-internal.h"

#define DEFAULT_FPS 2.0
#define DEFAULT_MIN_FRAMES 4
#define DEFAULT_MAX_FRAMES 768
#define MAX_FRAME_PIXELS 50000000ull    /* as eng_image_load's default cap */
#define SEEK_GAP_WITHOUT_INDEX 3.0      /* seconds; seek only past this without an index */
#define SEEK_RETRIES 3                  /* re-seeks, each 2 s earlier, when a seek overshoots */
#define MAX_READ_ERRORS 32              /* demuxer errors in a row before the stream counts as
                                         * broken off (demuxers resync after damage) */
#define THUMB_W 64
#define THUMB_H 36
#define DEFAULT_SCENE_THRESHOLD 24.0
#define DEFAULT_SCENE_MIN_GAP 0.5
#define DEFAULT_SCENE_FPS 10.0
#define BASELINE_WINDOW 1.0 /* seconds either side: the motion a cut must stand above */

struct eng_video_params eng_video_params_default(void)
{
    return (struct eng_video_params){.fps = DEFAULT_FPS,
                                     .min_frames = DEFAULT_MIN_FRAMES,
                                     .max_frames = DEFAULT_MAX_FRAMES,
                                     .frame_multiple = 1};
}

struct eng_scene_params eng_scene_params_default(void)
{
    return (struct eng_scene_params){.threshold = DEFAULT_SCENE_THRESHOLD,
                                     .min_gap = DEFAULT_SCENE_MIN_GAP,
                                     .analysis_fps = DEFAULT_SCENE_FPS};
}

static void silence_ffmpeg(void)
{
    av_log_set_level(AV_LOG_QUIET);
}

static pthread_once_t silence_once = PTHREAD_ONCE_INIT;

static enum eng_status ffmpeg_error(const char *path, const char *what, int code,
                                    struct eng_err *err)
{
    char text[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(code, text, sizeof text);
    return eng_set_err(err, code == AVERROR(ENOMEM) ? ENG_STATUS_ERR_NOMEM : ENG_STATUS_ERR_FORMAT,
                       "%s: %s: %s", path, what, text);
}

static bool is_cancelled(const volatile int *cancel)
{
    return cancel && *cancel;
}

/* ---- the reader: demuxer and decoder of one video stream ----------------- */

/* Everything one open video holds; freed by reader_close. */
struct video_reader {
    const char *path;          /* for messages */
    AVFormatContext *format;
    AVCodecContext *codec;
    AVPacket *packet;
    AVStream *stream;
    int stream_index;
    int64_t start_ts;          /* the stream's first timestamp, in stream time base */
    double time_base;          /* seconds per timestamp unit */
    double stream_fps;         /* average frame rate; 0 when unknown */
    int rotation;              /* clockwise turn to display a frame: 0, 90, 180 or 270 */
    double duration;           /* seconds */
    double last_time;          /* time of the last frame out of the decoder; -1 before any */
    bool demux_done;           /* no more packets: end of file or a read error */
    bool read_error;           /* the demuxer stopped on an error, not at the end */
    bool drained;              /* the decoder has given its last frame */
    int n_decoded;             /* frames out of the decoder */
    int n_read_errors;         /* demuxer errors since the last good packet */
};

static void reader_close(struct video_reader *r)
{
    av_packet_free(&r->packet);
    avcodec_free_context(&r->codec);
    avformat_close_input(&r->format);
}

/* Still-image demuxers (image2, jpeg_pipe, png_pipe, ...): a photo is not a
 * video, and eng_image_load reads it. */
static bool is_still_image_demuxer(const char *name)
{
    size_t n = strlen(name);
    return strcmp(name, "image2") == 0 || (n > 5 && strcmp(name + n - 5, "_pipe") == 0);
}

/* A clear reason when the file has no video stream worth decoding. */
static enum eng_status no_video_stream(const struct video_reader *r, bool only_cover_art,
                                       struct eng_err *err)
{
    int n_audio = 0, n_video = 0;
    for (unsigned i = 0; i < r->format->nb_streams; i++) {
        const AVStream *st = r->format->streams[i];
        n_audio += st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO;
        n_video += st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
                   !(st->disposition & AV_DISPOSITION_ATTACHED_PIC);
    }
    if (r->format->nb_streams == 0)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: an empty %s container: no streams, zero duration", r->path,
                           r->format->iformat->long_name ? r->format->iformat->long_name
                                                         : r->format->iformat->name);
    if (n_video && !only_cover_art) /* FFmpeg found no frame to learn the stream from */
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: the video stream is empty (zero duration, no frames)", r->path);
    if (only_cover_art)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: no video stream (only a cover picture%s)", r->path,
                           n_audio ? " and audio" : "");
    if (n_audio)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: no video stream (an audio-only file, %d audio stream%s)", r->path,
                           n_audio, n_audio == 1 ? "" : "s");
    return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: no video stream in the file (%s)",
                       r->path, r->format->iformat->long_name ? r->format->iformat->long_name
                                                              : r->format->iformat->name);
}

/* The clip's length in seconds: the stream's, else the container's, else
 * the end of its last packet (a scan without decoding). */
static double probe_duration(struct video_reader *r)
{
    AVStream *st = r->stream;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        return (double)st->duration * r->time_base;
    if (r->format->duration != AV_NOPTS_VALUE && r->format->duration > 0) {
        double start = r->format->start_time != AV_NOPTS_VALUE
                           ? (double)r->format->start_time / AV_TIME_BASE
                           : 0.0;
        double stream_start = (double)r->start_ts * r->time_base;
        double end = start + (double)r->format->duration / AV_TIME_BASE;
        return end - stream_start;
    }
    int64_t last_end = AV_NOPTS_VALUE;
    while (av_read_frame(r->format, r->packet) >= 0) {
        if (r->packet->stream_index == r->stream_index && r->packet->pts != AV_NOPTS_VALUE) {
            int64_t end = r->packet->pts + (r->packet->duration > 0 ? r->packet->duration : 0);
            if (last_end == AV_NOPTS_VALUE || end > last_end)
                last_end = end;
        }
        av_packet_unref(r->packet);
    }
    av_seek_frame(r->format, r->stream_index, r->start_ts, AVSEEK_FLAG_BACKWARD);
    if (last_end == AV_NOPTS_VALUE)
        return 0.0;
    return (double)(last_end - r->start_ts) * r->time_base;
}

/* The clockwise turn (0, 90, 180, 270) the stream's display matrix asks
 * for, as the ffmpeg CLI's autorotate reads it; phones store portrait
 * clips as turned landscape frames. Other angles and flips are ignored. */
static int display_rotation(const AVStream *stream)
{
    size_t size = 0;
    const uint8_t *matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (!matrix || size < 9 * sizeof(int32_t))
        return 0;
    double turn = -av_display_rotation_get((const int32_t *)matrix);
    if (isnan(turn))
        return 0;
    int degrees = (int)lround(turn - 360.0 * floor(turn / 360.0 + 0.9 / 360.0));
    return degrees == 90 || degrees == 180 || degrees == 270 ? degrees : 0;
}

/* Open the container (a local file only), find its video stream, and open
 * the decoder; r->path must be set. */
static enum eng_status reader_open(struct video_reader *r, struct eng_err *err)
{
    pthread_once(&silence_once, silence_ffmpeg);
    struct stat st;
    if (stat(r->path, &st) != 0)
        return eng_set_err(err, ENG_STATUS_ERR_IO, "%s: %s", r->path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return eng_set_err(err, ENG_STATUS_ERR_IO, "%s: is a directory, not a video file",
                           r->path);
    if (st.st_size == 0)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: the file is empty", r->path);

    /* "file:" so that a name like "http://..." or "concat:..." is a file
     * name; the whitelist keeps playlists from reaching other protocols. */
    size_t url_bytes = strlen(r->path) + sizeof "file:";
    char *url = malloc(url_bytes);
    r->packet = av_packet_alloc();
    if (!url || !r->packet) {
        free(url);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory for FFmpeg", r->path);
    }
    snprintf(url, url_bytes, "file:%s", r->path);
    AVDictionary *options = NULL;
    av_dict_set(&options, "protocol_whitelist", "file", 0);
    int ret = avformat_open_input(&r->format, url, NULL, &options);
    av_dict_free(&options);
    free(url);
    if (ret < 0)
        return ffmpeg_error(r->path,
                            "cannot open as a video (not a media file, or truncated or corrupt)",
                            ret, err);
    const char *demuxer = r->format->iformat->name;
    if (strcmp(demuxer, "tty") == 0)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: not a video file (FFmpeg reads it only as text)", r->path);
    if (is_still_image_demuxer(demuxer))
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: a still image (%s), not a video; load it as an image", r->path,
                           demuxer);
    ret = avformat_find_stream_info(r->format, NULL);
    if (ret < 0)
        return ffmpeg_error(r->path, "cannot read the streams (truncated or corrupt)", ret, err);

    r->stream_index = av_find_best_stream(r->format, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (r->stream_index < 0)
        return no_video_stream(r, false, err);
    r->stream = r->format->streams[r->stream_index];
    if (r->stream->disposition & AV_DISPOSITION_ATTACHED_PIC)
        return no_video_stream(r, true, err);
    const AVCodecParameters *par = r->stream->codecpar;
    if ((uint64_t)par->width * (uint64_t)par->height > MAX_FRAME_PIXELS)
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                           "%s: frames of %dx%d, over the limit of %llu pixels", r->path,
                           par->width, par->height, (unsigned long long)MAX_FRAME_PIXELS);

    const AVCodec *decoder = avcodec_find_decoder(par->codec_id);
    if (!decoder)
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                           "%s: this FFmpeg has no decoder for %s video", r->path,
                           avcodec_get_name(par->codec_id));
    r->codec = avcodec_alloc_context3(decoder);
    if (!r->codec)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory for FFmpeg", r->path);
    ret = avcodec_parameters_to_context(r->codec, par);
    if (ret < 0)
        return ffmpeg_error(r->path, "cannot set up the decoder", ret, err);
    r->codec->pkt_timebase = r->stream->time_base;
    r->codec->thread_count = 0; /* FFmpeg picks, by the number of cores */
    ret = avcodec_open2(r->codec, decoder, NULL);
    if (ret < 0)
        return ffmpeg_error(r->path, "cannot open the video decoder", ret, err);

    r->time_base = av_q2d(r->stream->time_base);
    r->start_ts = r->stream->start_time != AV_NOPTS_VALUE ? r->stream->start_time : 0;
    AVRational rate = r->stream->avg_frame_rate.num > 0 ? r->stream->avg_frame_rate
                                                        : r->stream->r_frame_rate;
    r->stream_fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0.0;
    r->last_time = -1.0;
    r->rotation = display_rotation(r->stream);
    r->duration = probe_duration(r);
    if (!(r->duration > 0.0))
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: the video has zero duration (no frames to sample)", r->path);
    return ENG_STATUS_OK;
}

/* The presentation time of a decoded frame, seconds from the stream start. */
static double frame_time(struct video_reader *r, const AVFrame *frame)
{
    int64_t ts = frame->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE)
        ts = frame->pts;
    if (ts == AV_NOPTS_VALUE) /* none at all: one frame period after the last */
        return r->last_time < 0 ? 0.0
                                : r->last_time + (r->stream_fps > 0 ? 1.0 / r->stream_fps : 0.04);
    return (double)(ts - r->start_ts) * r->time_base;
}

/* The next decoded frame into frame (which must be empty): 0, AVERROR_EOF
 * after the last one, or another error. Corrupt packets are skipped, as
 * players skip them; damaged container data is read past (up to
 * MAX_READ_ERRORS errors in a row), and then a read error ends the stream
 * as the end of file does, and sets r->read_error. */
static int reader_next_frame(struct video_reader *r, AVFrame *frame)
{
    for (;;) {
        int ret = avcodec_receive_frame(r->codec, frame);
        if (ret == 0) {
            r->last_time = frame_time(r, frame);
            r->n_decoded++;
            return 0;
        }
        if (ret == AVERROR_EOF) {
            r->drained = true;
            return AVERROR_EOF;
        }
        if (ret != AVERROR(EAGAIN))
            return ret;
        if (r->demux_done) /* drain mode was entered, yet the decoder wants input */
            return AVERROR_EOF;
        ret = av_read_frame(r->format, r->packet);
        if (ret < 0 && ret != AVERROR_EOF && !avio_feof(r->format->pb) &&
            ++r->n_read_errors < MAX_READ_ERRORS)
            continue; /* damaged data: the demuxer resyncs on the next read */
        if (ret < 0) {
            r->demux_done = true;
            r->read_error = ret != AVERROR_EOF;
            avcodec_send_packet(r->codec, NULL); /* drain */
            continue;
        }
        r->n_read_errors = 0;
        if (r->packet->stream_index == r->stream_index) {
            ret = avcodec_send_packet(r->codec, r->packet);
            if (ret < 0 && ret != AVERROR_INVALIDDATA && ret != AVERROR(EAGAIN)) {
                av_packet_unref(r->packet);
                return ret;
            }
        }
        av_packet_unref(r->packet);
    }
}

/* Seek to the keyframe at or before time; the decoder starts afresh. */
static int reader_seek(struct video_reader *r, double time)
{
    int64_t ts = r->start_ts + (int64_t)floor(time / r->time_base);
    int ret = av_seek_frame(r->format, r->stream_index, ts, AVSEEK_FLAG_BACKWARD);
    if (ret < 0)
        return ret;
    avcodec_flush_buffers(r->codec);
    r->demux_done = false;
    r->read_error = false;
    r->n_read_errors = 0;
    r->drained = false;
    r->last_time = -1.0;
    return 0;
}

/* Whether seeking to time skips decoding: the keyframe before it (from the
 * container's index) lies ahead of the decoder's position. Without an
 * index, only a gap over SEEK_GAP_WITHOUT_INDEX is worth a blind seek. */
static bool seek_pays(struct video_reader *r, double time)
{
    double position = r->last_time < 0 ? 0.0 : r->last_time;
    if (time <= position)
        return false;
    int64_t ts = r->start_ts + (int64_t)floor(time / r->time_base);
    const AVIndexEntry *entry =
        avformat_index_get_entry_from_timestamp(r->stream, ts, AVSEEK_FLAG_BACKWARD);
    if (entry && avformat_index_get_entries_count(r->stream) > 1) {
        double keyframe = (double)(entry->timestamp - r->start_ts) * r->time_base;
        return keyframe > position + 1e-6;
    }
    return time - position > SEEK_GAP_WITHOUT_INDEX;
}

/* ---- conversion to RGB --------------------------------------------------- */

/* Convert frame to a tight [dst_h][dst_w][3] (dst_format RGB24) buffer at
 * rgb, through *sws (made or re-made as the frame's format needs): the
 * frame's matrix (BT.601 when unknown) and range, full-range output. */
static int convert_frame(struct SwsContext **sws, const AVFrame *frame, int dst_w, int dst_h,
                         int flags, uint8_t *rgb)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(frame->format);
    bool full_range = frame->color_range == AVCOL_RANGE_JPEG;
    enum AVPixelFormat src_format = image_plain_yuv_twin(frame->format, &full_range);
    if (!desc || (desc->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) ||
        desc->nb_components < 3)
        full_range = true; /* grey, palette and RGB samples are used as they are */
    *sws = sws_getCachedContext(*sws, frame->width, frame->height, src_format, dst_w, dst_h,
                                AV_PIX_FMT_RGB24, flags, NULL, NULL, NULL);
    if (!*sws)
        return AVERROR(ENOMEM);
    int colorspace = frame->colorspace == AVCOL_SPC_UNSPECIFIED ? SWS_CS_ITU601 : frame->colorspace;
    sws_setColorspaceDetails(*sws, sws_getCoefficients(colorspace), full_range,
                             sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    uint8_t *dst[4] = {rgb, NULL, NULL, NULL};
    int dst_stride[4] = {dst_w * 3, 0, 0, 0};
    int ret = sws_scale(*sws, (const uint8_t *const *)frame->data, frame->linesize, 0,
                        frame->height, dst, dst_stride);
    return ret < 0 ? ret : 0;
}

/* The size a frame of width x height becomes with its longest edge at most
 * max_edge (0: unchanged), the aspect ratio kept, never below 1 pixel. */
static void scaled_size(int width, int height, int max_edge, int *out_w, int *out_h)
{
    *out_w = width;
    *out_h = height;
    int longest = width > height ? width : height;
    if (max_edge <= 0 || longest <= max_edge)
        return;
    double scale = (double)max_edge / longest;
    *out_w = (int)lround(width * scale);
    *out_h = (int)lround(height * scale);
    if (*out_w < 1)
        *out_w = 1;
    if (*out_h < 1)
        *out_h = 1;
}

/* rgb ([height][width][3]) turned clockwise by degrees (90, 180 or 270)
 * into a new buffer (malloc'd; [width][height][3] for 90 and 270). */
static uint8_t *rotate_rgb(const uint8_t *rgb, int width, int height, int degrees)
{
    uint8_t *out = malloc((size_t)width * height * 3);
    if (!out)
        return NULL;
    int out_w = degrees == 180 ? width : height;
    int out_h = degrees == 180 ? height : width;
    for (int y = 0; y < out_h; y++)
        for (int x = 0; x < out_w; x++) {
            int src_x, src_y;
            if (degrees == 90) {
                src_x = y;
                src_y = height - 1 - x;
            } else if (degrees == 180) {
                src_x = width - 1 - x;
                src_y = height - 1 - y;
            } else {
                src_x = width - 1 - y;
                src_y = x;
            }
            memcpy(out + ((size_t)y * out_w + x) * 3, rgb + ((size_t)src_y * width + src_x) * 3,
                   3);
        }
    return out;
}

/* ---- sampling ------------------------------------------------------------ */

/* The number of frames to sample from a clip of duration seconds. */
static int sample_count(double duration, const struct eng_video_params *p)
{
    double wanted = ceil(duration * p->fps - 1e-9);
    if (wanted < p->min_frames)
        wanted = p->min_frames;
    if (wanted > p->max_frames)
        wanted = p->max_frames;
    if (p->frame_multiple > 1) {
        wanted = floor(wanted / p->frame_multiple) * p->frame_multiple;
        if (wanted < p->frame_multiple)
            wanted = p->frame_multiple;
    }
    return (int)wanted;
}

/* The decoded frames around the wanted time: before (time < wanted, may be
 * empty) and after (time >= wanted, empty at the end of the stream). */
struct frame_pair {
    AVFrame *before, *after;
    double before_time, after_time;
};

/* Advance pair until pair->after is at or past time (or the stream ends).
 * Returns 0 or a decoder error other than the end. */
static int advance_to(struct video_reader *r, struct frame_pair *pair, double time,
                      const volatile int *cancel)
{
    while (pair->after->buf[0] == NULL || pair->after_time < time) {
        if (is_cancelled(cancel))
            return AVERROR_EXIT;
        if (pair->after->buf[0]) {
            av_frame_unref(pair->before);
            av_frame_move_ref(pair->before, pair->after);
            pair->before_time = pair->after_time;
        }
        if (r->drained)
            return 0;
        int ret = reader_next_frame(r, pair->after);
        if (ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return ret;
        pair->after_time = r->last_time;
    }
    return 0;
}

/* Seek for time and decode up to it; re-seek earlier when the demuxer
 * landed past time (some seek imprecisely). */
static int seek_and_advance(struct video_reader *r, struct frame_pair *pair, double time,
                            double frame_period, const volatile int *cancel)
{
    for (int attempt = 0; attempt <= SEEK_RETRIES; attempt++) {
        double seek_time = time - 2.0 * attempt;
        if (reader_seek(r, seek_time > 0 ? seek_time : 0.0) < 0)
            break; /* decode on from where it was */
        av_frame_unref(pair->before);
        av_frame_unref(pair->after);
        int ret = advance_to(r, pair, time, cancel);
        if (ret < 0)
            return ret;
        bool landed_late = !pair->before->buf[0] && pair->after->buf[0] &&
                           pair->after_time > time + frame_period && seek_time > 0;
        if (!landed_late)
            return 0;
    }
    return advance_to(r, pair, time, cancel);
}

/* The frame of pair nearest to time, or NULL when the stream ended more
 * than a frame period before it. */
static const AVFrame *nearest_frame(const struct frame_pair *pair, double time,
                                    double frame_period, double *chosen_time)
{
    bool have_before = pair->before->buf[0] != NULL, have_after = pair->after->buf[0] != NULL;
    if (have_after && (!have_before || pair->after_time - time <= time - pair->before_time)) {
        *chosen_time = pair->after_time;
        return pair->after;
    }
    if (have_before && (have_after || time - pair->before_time <= frame_period + 1e-6)) {
        *chosen_time = pair->before_time;
        return pair->before;
    }
    return NULL;
}

void eng_video_free(struct eng_video **video)
{
    if (!video || !*video)
        return;
    for (int i = 0; i < (*video)->n_frames; i++)
        free((*video)->frames[i].image.rgb);
    free((*video)->frames);
    free(*video);
    *video = NULL;
}

static enum eng_status check_video_params(const char *path, const struct eng_video_params *p,
                                          struct eng_err *err)
{
    if (!(p->fps > 0.0) || p->min_frames < 1 || p->max_frames < p->min_frames || p->max_edge < 0 ||
        p->frame_multiple < 0 || p->frame_multiple > 64)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "%s: bad sampling parameters (fps %g, frames %d..%d, max edge %d, "
                           "multiple %d): fps must be > 0, 1 <= min_frames <= max_frames, "
                           "0 <= frame_multiple <= 64",
                           path, p->fps, p->min_frames, p->max_frames, p->max_edge,
                           p->frame_multiple);
    return ENG_STATUS_OK;
}

/* Store frame as video->frames[video->n_frames], converted and scaled. */
static enum eng_status keep_frame(struct video_reader *r, struct SwsContext **sws,
                                  const AVFrame *frame, double time, double target, int max_edge,
                                  struct eng_video *video, struct eng_err *err)
{
    if (frame->width <= 0 || frame->height <= 0 ||
        (uint64_t)frame->width * (uint64_t)frame->height > MAX_FRAME_PIXELS)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: a decoded frame of %dx%d at %.3f s",
                           r->path, frame->width, frame->height, time);
    int w, h;
    scaled_size(frame->width, frame->height, max_edge, &w, &h);
    uint8_t *rgb = malloc((size_t)w * h * 3);
    if (!rgb)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory for frame %d (%dx%d)",
                           r->path, video->n_frames, w, h);
    int flags = SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT;
    if (w != frame->width || h != frame->height)
        flags = SWS_AREA | SWS_ACCURATE_RND; /* a downscale averages, without aliasing */
    int ret = convert_frame(sws, frame, w, h, flags, rgb);
    if (ret < 0) {
        free(rgb);
        return ffmpeg_error(r->path, "cannot convert a frame to RGB", ret, err);
    }
    if (r->rotation) {
        uint8_t *turned = rotate_rgb(rgb, w, h, r->rotation);
        free(rgb);
        if (!turned)
            return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory to turn frame %d",
                               r->path, video->n_frames);
        rgb = turned;
        if (r->rotation != 180) {
            int t = w;
            w = h;
            h = t;
        }
    }
    video->frames[video->n_frames++] = (struct eng_video_frame){
        .image = {.width = w, .height = h, .rgb = rgb}, .time = time, .target_time = target};
    return ENG_STATUS_OK;
}

/* Sample the n wanted frames into video; stops early (video->truncated)
 * when the stream ends before a wanted time. */
static enum eng_status sample_frames(struct video_reader *r, const struct eng_video_params *p,
                                     int n, struct eng_video *video, struct eng_err *err)
{
    enum eng_status status = ENG_STATUS_OK;
    struct SwsContext *sws = NULL;
    struct frame_pair pair = {.before = av_frame_alloc(), .after = av_frame_alloc()};
    if (!pair.before || !pair.after) {
        status = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory for FFmpeg", r->path);
        goto out_free;
    }
    double frame_period = r->stream_fps > 0 ? 1.0 / r->stream_fps : 0.1;
    for (int k = 0; k < n; k++) {
        double target = k / video->sample_fps;
        if (is_cancelled(p->cancel)) {
            status = eng_set_err(err, ENG_STATUS_CANCELLED, "%s: cancelled", r->path);
            goto out_free;
        }
        int ret = seek_pays(r, target) ? seek_and_advance(r, &pair, target, frame_period, p->cancel)
                                       : advance_to(r, &pair, target, p->cancel);
        if (ret == AVERROR_EXIT) {
            status = eng_set_err(err, ENG_STATUS_CANCELLED, "%s: cancelled", r->path);
            goto out_free;
        }
        if (ret < 0 && video->n_frames > 0) { /* broken past here: keep what decoded */
            video->truncated = true;
            break;
        }
        if (ret < 0) {
            status = ffmpeg_error(r->path, "cannot decode the video", ret, err);
            goto out_free;
        }
        double time = 0.0;
        const AVFrame *frame = nearest_frame(&pair, target, frame_period, &time);
        if (!frame) {
            video->truncated = true;
            break;
        }
        status = keep_frame(r, &sws, frame, time, target, p->max_edge, video, err);
        if (status != ENG_STATUS_OK)
            goto out_free;
        if (p->progress)
            p->progress(k + 1, n, time, p->progress_user_data);
    }
    if (video->n_frames == 0)
        status = eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                             "%s: no frame could be decoded (truncated or corrupt video%s)",
                             r->path, r->n_decoded ? ", frames only past the clip's end" : "");
out_free:
    av_frame_free(&pair.before);
    av_frame_free(&pair.after);
    sws_freeContext(sws);
    return status;
}

enum eng_status eng_video_sample(const char *path, const struct eng_video_params *params,
                                 struct eng_video **out, struct eng_err *err)
{
    ENG_ASSERT(path && out);
    *out = NULL;
    struct eng_video_params p = params ? *params : eng_video_params_default();
    enum eng_status status = check_video_params(path, &p, err);
    if (status != ENG_STATUS_OK)
        return status;

    struct video_reader r = {.path = path};
    struct eng_video *video = NULL;
    status = reader_open(&r, err);
    if (status != ENG_STATUS_OK)
        goto out_close;
    int n = sample_count(r.duration, &p);
    video = calloc(1, sizeof *video);
    struct eng_video_frame *frames = calloc((size_t)n, sizeof *frames);
    if (!video || !frames) {
        free(frames);
        status = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory for %d frames", path, n);
        goto out_close;
    }
    bool turned = r.rotation == 90 || r.rotation == 270;
    *video = (struct eng_video){.duration = r.duration,
                                .fps = r.stream_fps,
                                .width = turned ? r.stream->codecpar->height
                                                : r.stream->codecpar->width,
                                .height = turned ? r.stream->codecpar->width
                                                 : r.stream->codecpar->height,
                                .sample_fps = n / r.duration,
                                .frames = frames};
    status = sample_frames(&r, &p, n, video, err);
    if (status != ENG_STATUS_OK)
        goto out_close;
    *out = video;
    video = NULL;
out_close:
    eng_video_free(&video);
    reader_close(&r);
    return status;
}

/* ---- scene cuts ---------------------------------------------------------- */

/* The difference between each analysed frame and the one before it. */
struct frame_diffs {
    double *time;  /* [n], the later frame's time */
    double *score; /* [n], mean |a - b| over THUMB_W x THUMB_H x 3 samples, 0..255 */
    int n, capacity;
};

static bool diffs_push(struct frame_diffs *d, double time, double score)
{
    if (d->n == d->capacity) {
        int capacity = d->capacity ? d->capacity * 2 : 256;
        double *t = realloc(d->time, capacity * sizeof *t);
        if (t)
            d->time = t;
        double *s = t ? realloc(d->score, capacity * sizeof *s) : NULL;
        if (!s)
            return false;
        d->score = s;
        d->capacity = capacity;
    }
    d->time[d->n] = time;
    d->score[d->n] = score;
    d->n++;
    return true;
}

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (uint64_t)abs((int)a[i] - (int)b[i]);
    return (double)sum / n;
}

/* Decode the clip and record the thumbnail difference of each analysed
 * frame against the previous analysed one. */
static enum eng_status collect_diffs(struct video_reader *r, const struct eng_scene_params *p,
                                     struct frame_diffs *diffs, struct eng_err *err)
{
    enum eng_status status = ENG_STATUS_OK;
    struct SwsContext *sws = NULL;
    AVFrame *frame = av_frame_alloc();
    uint8_t thumbs[2][THUMB_W * THUMB_H * 3]; /* previous and current, RGB */
    int current = 0;
    bool have_previous = false;
    double next_time = -INFINITY; /* analyse the next frame at or after this */
    double frame_period = r->stream_fps > 0 ? 1.0 / r->stream_fps : 0.04;
    double analysed_per_second = p->analysis_fps > 0 ? p->analysis_fps : 1.0 / frame_period;
    int n_total = (int)ceil(r->duration * analysed_per_second);
    double next_report = 1.0;
    if (!frame) {
        status = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory for FFmpeg", r->path);
        goto out_free;
    }
    for (;;) {
        if (is_cancelled(p->cancel)) {
            status = eng_set_err(err, ENG_STATUS_CANCELLED, "%s: cancelled", r->path);
            goto out_free;
        }
        av_frame_unref(frame);
        int ret = reader_next_frame(r, frame);
        if (ret == AVERROR_EOF)
            break;
        if (ret < 0 && diffs->n > 0) /* broken past here: analyse what decoded */
            break;
        if (ret < 0) {
            status = ffmpeg_error(r->path, "cannot decode the video", ret, err);
            goto out_free;
        }
        double time = r->last_time;
        if (time < next_time - frame_period / 2)
            continue;
        if (p->analysis_fps > 0)
            next_time = (floor(time * p->analysis_fps + 1e-6) + 1) / p->analysis_fps;
        ret = convert_frame(&sws, frame, THUMB_W, THUMB_H, SWS_AREA, thumbs[current]);
        if (ret < 0) {
            status = ffmpeg_error(r->path, "cannot make a thumbnail", ret, err);
            goto out_free;
        }
        double score = have_previous ? mean_abs_diff(thumbs[current], thumbs[!current],
                                                     sizeof thumbs[0])
                                     : 0.0;
        if (!diffs_push(diffs, time, score)) {
            status = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory", r->path);
            goto out_free;
        }
        have_previous = true;
        current = !current;
        if (p->progress && time >= next_report) {
            p->progress(diffs->n, n_total, time, p->progress_user_data);
            next_report = floor(time) + 1.0;
        }
    }
    if (diffs->n == 0)
        status = eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                             "%s: no frame could be decoded (truncated or corrupt video)",
                             r->path);
out_free:
    av_frame_free(&frame);
    sws_freeContext(sws);
    return status;
}

static int compare_doubles(const void *a, const void *b);

/* The median score within BASELINE_WINDOW seconds either side of frame i,
 * frame i left out: the level of motion in the shot around it. scratch
 * holds d->n values. */
static double local_baseline(const struct frame_diffs *d, int i, double *scratch)
{
    int n = 0;
    for (int j = i - 1; j >= 1 && d->time[i] - d->time[j] <= BASELINE_WINDOW; j--)
        scratch[n++] = d->score[j];
    for (int j = i + 1; j < d->n && d->time[j] - d->time[i] <= BASELINE_WINDOW; j++)
        scratch[n++] = d->score[j];
    if (n == 0)
        return 0.0;
    qsort(scratch, (size_t)n, sizeof *scratch, compare_doubles);
    return n % 2 ? scratch[n / 2] : 0.5 * (scratch[n / 2 - 1] + scratch[n / 2]);
}

/* Candidate cut i: a local peak (>= the one before, > the one after, so a
 * plateau gives one cut) that stands more than threshold above the motion
 * around it (so steady fast motion or a pan is no cut). */
static bool is_cut(const struct frame_diffs *d, int i, double threshold, double *scratch)
{
    if (i == 0 || d->score[i] <= threshold)
        return false;
    if (d->score[i] < d->score[i - 1] || (i + 1 < d->n && d->score[i] <= d->score[i + 1]))
        return false;
    return d->score[i] - local_baseline(d, i, scratch) > threshold;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The peaks of diffs, strongest first, each kept when no kept cut is within
 * min_gap; *times ascending. */
static enum eng_status pick_cuts(const char *path, const struct frame_diffs *d, double threshold,
                                 double min_gap, double **times, int *n_times, struct eng_err *err)
{
    int *order = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof *order);
    double *kept = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof *kept);
    double *scratch = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof *scratch);
    if (!order || !kept || !scratch) {
        free(order);
        free(kept);
        free(scratch);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory", path);
    }
    int n_peaks = 0;
    for (int i = 0; i < d->n; i++)
        if (is_cut(d, i, threshold, scratch))
            order[n_peaks++] = i;
    free(scratch);
    /* strongest first: a short insertion sort, peaks are few */
    for (int i = 1; i < n_peaks; i++)
        for (int j = i; j > 0 && d->score[order[j]] > d->score[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    int n_kept = 0;
    for (int i = 0; i < n_peaks; i++) {
        double t = d->time[order[i]];
        bool near = false;
        for (int j = 0; j < n_kept && !near; j++)
            near = fabs(kept[j] - t) < min_gap;
        if (!near)
            kept[n_kept++] = t;
    }
    free(order);
    qsort(kept, (size_t)n_kept, sizeof *kept, compare_doubles);
    if (n_kept == 0) {
        free(kept);
        kept = NULL;
    }
    *times = kept;
    *n_times = n_kept;
    return ENG_STATUS_OK;
}

enum eng_status eng_video_scene_cuts(const char *path, const struct eng_scene_params *params,
                                     double **times, int *n_times, struct eng_err *err)
{
    ENG_ASSERT(path && times && n_times);
    *times = NULL;
    *n_times = 0;
    struct eng_scene_params p = params ? *params : eng_scene_params_default();
    if (!(p.threshold >= 0.0) || !(p.min_gap >= 0.0) || !(p.analysis_fps >= 0.0))
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "%s: bad scene-cut parameters (threshold %g, min gap %g, fps %g)",
                           path, p.threshold, p.min_gap, p.analysis_fps);
    struct video_reader r = {.path = path};
    struct frame_diffs diffs = {0};
    enum eng_status status = reader_open(&r, err);
    if (status == ENG_STATUS_OK)
        status = collect_diffs(&r, &p, &diffs, err);
    if (status == ENG_STATUS_OK)
        status = pick_cuts(path, &diffs, p.threshold, p.min_gap, times, n_times, err);
    free(diffs.time);
    free(diffs.score);
    reader_close(&r);
    return status;
}
