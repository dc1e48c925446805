/* clip-highlights.c: a highlights file cut from chosen chapters by stream
 * copy through libavformat: packets are copied, never decoded (see clip.h).
 *
 * The best video stream and the best audio stream go to a new file with
 * the source's codec parameters. For each range the demuxer seeks to the
 * video keyframe at or before the range's start; packets are dropped until
 * that keyframe, then copied while their time is before the range's end.
 * Each packet's timestamps are shifted so that the range begins where the
 * previous one ended (measured on the video: its last frame's end), which
 * makes the output continuous. Times are seconds from the video stream's
 * start, as the engine's are. The output goes to a temporary file beside
 * dst and is renamed over it once its trailer is written.
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <math.h>
#include <unistd.h>

#include "clip.h"

/* Everything one cut holds; freed by remux_close. */
struct remux {
    const char *src, *dst;
    AVFormatContext *in, *out;
    AVPacket *packet;
    int video_index, audio_index; /* input streams; audio_index -1 when none */
    int *out_index;               /* [in->nb_streams] output stream, or -1 when dropped */
    int64_t *last_dts;            /* [in->nb_streams] last dts written, output time base */
    int64_t video_origin_us;      /* the video stream's start, microseconds */
    int64_t offset_us;            /* where the next range begins in the output */
};

static void remux_close(struct remux *r)
{
    av_packet_free(&r->packet);
    avformat_close_input(&r->in);
    if (r->out) {
        avio_closep(&r->out->pb);
        avformat_free_context(r->out);
        r->out = NULL;
    }
    g_free(r->out_index);
    g_free(r->last_dts);
}

static gboolean av_fail(GError **error, enum clip_error code, const char *path, const char *what,
                        int av_code)
{
    char text[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(av_code, text, sizeof text);
    g_set_error(error, CLIP_ERROR, code, "%s: %s: %s", path, what, text);
    return FALSE;
}

/* Open the source and choose its streams. */
static gboolean open_source(struct remux *r, GError **error)
{
    if (!g_file_test(r->src, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_IO, "%s: no such file", r->src);
        return FALSE;
    }
    int rc = avformat_open_input(&r->in, r->src, NULL, NULL);
    if (rc < 0)
        return av_fail(error, CLIP_ERROR_FORMAT, r->src,
                       "cannot open (not a media file, or truncated or corrupt)", rc);
    rc = avformat_find_stream_info(r->in, NULL);
    if (rc < 0)
        return av_fail(error, CLIP_ERROR_FORMAT, r->src, "cannot read the streams", rc);
    if (r->in->nb_streams == 0) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_FORMAT,
                    "%s: an empty %s container: no streams, zero duration", r->src,
                    r->in->iformat->long_name ? r->in->iformat->long_name : r->in->iformat->name);
        return FALSE;
    }
    r->video_index = av_find_best_stream(r->in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (r->video_index < 0 ||
        (r->in->streams[r->video_index]->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_FORMAT, "%s: no video stream", r->src);
        return FALSE;
    }
    AVStream *video = r->in->streams[r->video_index];
    if (video->duration <= 0 && r->in->duration <= 0 && video->nb_frames <= 0) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_FORMAT,
                    "%s: the video stream is empty (zero duration, no frames)", r->src);
        return FALSE;
    }
    r->audio_index = av_find_best_stream(r->in, AVMEDIA_TYPE_AUDIO, -1, r->video_index, NULL, 0);
    if (r->audio_index < 0)
        r->audio_index = -1;
    int64_t start = video->start_time != AV_NOPTS_VALUE ? video->start_time : 0;
    r->video_origin_us = av_rescale_q(start, video->time_base, AV_TIME_BASE_Q);
    return TRUE;
}

/* Copy one input stream's parameters (and, before FFmpeg 6.1, its side
 * data such as a display rotation) to a new output stream. */
static gboolean add_output_stream(struct remux *r, int in_index, GError **error)
{
    AVStream *in_stream = r->in->streams[in_index];
    AVStream *out_stream = avformat_new_stream(r->out, NULL);
    if (!out_stream)
        return av_fail(error, CLIP_ERROR_IO, r->dst, "cannot add a stream", AVERROR(ENOMEM));
    int rc = avcodec_parameters_copy(out_stream->codecpar, in_stream->codecpar);
    if (rc < 0)
        return av_fail(error, CLIP_ERROR_IO, r->dst, "cannot copy stream parameters", rc);
    out_stream->codecpar->codec_tag = 0; /* let the muxer pick its own tag for the codec */
    out_stream->time_base = in_stream->time_base;
    out_stream->disposition = in_stream->disposition;
#if LIBAVCODEC_VERSION_INT < AV_VERSION_INT(60, 31, 100)
    for (int i = 0; i < in_stream->nb_side_data; i++) {
        const AVPacketSideData *sd = &in_stream->side_data[i];
        uint8_t *copy = av_stream_new_side_data(out_stream, sd->type, sd->size);
        if (!copy)
            return av_fail(error, CLIP_ERROR_IO, r->dst, "cannot copy side data", AVERROR(ENOMEM));
        memcpy(copy, sd->data, sd->size);
    }
#endif
    r->out_index[in_index] = out_stream->index;
    return TRUE;
}

/* Create the output (container from dst's name) at tmp_path and write its header. */
static gboolean open_output(struct remux *r, const char *tmp_path, GError **error)
{
    const AVOutputFormat *format = av_guess_format(NULL, r->dst, NULL);
    if (!format) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_ARG,
                    "%s: cannot tell the container from the file name (use .mp4, .mkv, ...)",
                    r->dst);
        return FALSE;
    }
    int rc = avformat_alloc_output_context2(&r->out, format, NULL, tmp_path);
    if (rc < 0)
        return av_fail(error, CLIP_ERROR_IO, r->dst, "cannot create the output", rc);
    int n_in = (int)r->in->nb_streams;
    r->out_index = g_new(int, n_in);
    r->last_dts = g_new(int64_t, n_in);
    for (int i = 0; i < n_in; i++) {
        r->out_index[i] = -1;
        r->last_dts[i] = AV_NOPTS_VALUE;
    }
    if (!add_output_stream(r, r->video_index, error))
        return FALSE;
    if (r->audio_index >= 0 && !add_output_stream(r, r->audio_index, error))
        return FALSE;
    rc = avio_open(&r->out->pb, tmp_path, AVIO_FLAG_WRITE);
    if (rc < 0)
        return av_fail(error, CLIP_ERROR_IO, r->dst, "cannot write", rc);
    rc = avformat_write_header(r->out, NULL);
    if (rc < 0)
        return av_fail(error, CLIP_ERROR_FORMAT, r->dst, "cannot write the header", rc);
    return TRUE;
}

/* A timestamp as microseconds on the source's clock (not shifted). */
static int64_t ts_to_us(int64_t ts, AVRational time_base)
{
    return av_rescale_q(ts, time_base, AV_TIME_BASE_Q);
}

/* Shift a packet from the source clock to the output clock (the range
 * starting at origin_us lands at r->offset_us), rescale it to the output
 * stream's time base, keep dts increasing, and write it. */
static gboolean write_shifted(struct remux *r, AVPacket *packet, int64_t origin_us, GError **error)
{
    int in_index = packet->stream_index;
    AVRational in_tb = r->in->streams[in_index]->time_base;
    AVStream *out_stream = r->out->streams[r->out_index[in_index]];
    int64_t shift = av_rescale_q(r->offset_us - origin_us, AV_TIME_BASE_Q, in_tb);
    if (packet->pts != AV_NOPTS_VALUE)
        packet->pts += shift;
    if (packet->dts != AV_NOPTS_VALUE)
        packet->dts += shift;
    av_packet_rescale_ts(packet, in_tb, out_stream->time_base);
    int64_t *last = &r->last_dts[in_index];
    if (packet->dts != AV_NOPTS_VALUE && *last != AV_NOPTS_VALUE && packet->dts <= *last) {
        packet->dts = *last + 1; /* a join: the muxer needs strictly increasing dts */
        if (packet->pts != AV_NOPTS_VALUE && packet->pts < packet->dts)
            packet->pts = packet->dts;
    }
    if (packet->dts != AV_NOPTS_VALUE)
        *last = packet->dts;
    packet->stream_index = out_stream->index;
    packet->pos = -1;
    int rc = av_interleaved_write_frame(r->out, packet);
    if (rc < 0)
        return av_fail(error, CLIP_ERROR_IO, r->dst, "cannot write a packet", rc);
    return TRUE;
}

/* The state of one range while its packets stream by. */
struct range_copy {
    int64_t start_us, end_us; /* the range on the source clock, microseconds */
    int64_t origin_us;        /* the keyframe it starts at; INT64_MIN before it is found */
    int64_t video_end_us;     /* end of the last video frame copied */
    bool video_done;          /* a video packet at or past the end was read */
    bool audio_done;          /* an audio packet at or past the end was read (or no audio) */
    int n_video;              /* video packets copied */
};

/* Decide about one packet of a kept stream: copy it, drop it, or mark its
 * stream done. The packet is consumed either way. */
static gboolean copy_packet(struct remux *r, struct range_copy *range, AVPacket *packet,
                            GError **error)
{
    AVRational tb = r->in->streams[packet->stream_index]->time_base;
    bool is_video = packet->stream_index == r->video_index;
    int64_t pts = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
    if (pts == AV_NOPTS_VALUE)
        return TRUE; /* nothing to place it by */
    int64_t pts_us = ts_to_us(pts, tb);
    if (range->origin_us == INT64_MIN) {
        if (!is_video || !(packet->flags & AV_PKT_FLAG_KEY))
            return TRUE; /* before the range's first keyframe */
        range->origin_us = pts_us;
    }
    if (is_video) {
        int64_t dts_us = packet->dts != AV_NOPTS_VALUE ? ts_to_us(packet->dts, tb) : pts_us;
        if (dts_us >= range->end_us) {
            range->video_done = true; /* every later packet decodes after the end */
            return TRUE;
        }
        if (pts_us >= range->end_us)
            return TRUE;
        int64_t frame_end = pts_us + (packet->duration > 0 ? ts_to_us(packet->duration, tb) : 0);
        range->video_end_us = MAX(range->video_end_us, frame_end);
        range->n_video++;
    } else {
        if (pts_us >= range->end_us) {
            range->audio_done = true;
            return TRUE;
        }
        if (pts_us < range->origin_us)
            return TRUE;
    }
    return write_shifted(r, packet, range->origin_us, error);
}

/* Copy the packets of one range [start, end) seconds. */
static gboolean copy_range(struct remux *r, double start, double end, int number, GError **error)
{
    struct range_copy range = {
        .start_us = r->video_origin_us + llround(start * AV_TIME_BASE),
        .end_us = r->video_origin_us + llround(end * AV_TIME_BASE),
        .origin_us = INT64_MIN,
        .video_end_us = INT64_MIN,
        .audio_done = r->audio_index < 0,
    };
    AVStream *video = r->in->streams[r->video_index];
    int64_t seek_ts = av_rescale_q(range.start_us, AV_TIME_BASE_Q, video->time_base);
    int rc = av_seek_frame(r->in, r->video_index, seek_ts, AVSEEK_FLAG_BACKWARD);
    if (rc < 0)
        return av_fail(error, CLIP_ERROR_FORMAT, r->src, "cannot seek", rc);
    while (!(range.video_done && range.audio_done)) {
        rc = av_read_frame(r->in, r->packet);
        if (rc == AVERROR_EOF)
            break;
        if (rc < 0)
            return av_fail(error, CLIP_ERROR_FORMAT, r->src, "cannot read a packet", rc);
        gboolean ok = TRUE;
        if (r->out_index[r->packet->stream_index] >= 0)
            ok = copy_packet(r, &range, r->packet, error);
        av_packet_unref(r->packet);
        if (!ok)
            return FALSE;
    }
    if (range.n_video == 0) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_FORMAT,
                    "%s: range %d (%.3f to %.3f s) holds no video frame", r->src, number, start,
                    end);
        return FALSE;
    }
    r->offset_us += range.video_end_us - range.origin_us;
    return TRUE;
}

static gboolean check_ranges(const char *src, const struct clip_chapter *chosen, int n,
                             GError **error)
{
    if (n < 1 || !chosen) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_ARG, "%s: no chapters chosen for highlights",
                    src);
        return FALSE;
    }
    for (int i = 0; i < n; i++) {
        double start = chosen[i].start, end = chosen[i].end;
        if (!isfinite(start) || !isfinite(end) || start < 0.0 || end <= start ||
            (i > 0 && start < chosen[i - 1].end)) {
            g_set_error(error, CLIP_ERROR, CLIP_ERROR_ARG,
                        "%s: highlight range %d (%.3f to %.3f s) is empty, negative or "
                        "overlaps the one before",
                        src, i + 1, start, end);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean clip_cut_highlights(const char *src, const struct clip_chapter *chosen, int n,
                             const char *dst, GError **error)
{
    if (!check_ranges(src, chosen, n, error))
        return FALSE;
    av_log_set_level(AV_LOG_QUIET); /* the reasons go into the GError */
    struct remux r = {.src = src, .dst = dst, .audio_index = -1};
    r.packet = av_packet_alloc();
    char *tmp_path = g_strdup_printf("%s.XXXXXX", dst);
    int fd = g_mkstemp(tmp_path);
    if (fd < 0 || !r.packet) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_IO, "%s: cannot write: %s", dst,
                    fd < 0 ? g_strerror(errno) : "out of memory");
        g_free(tmp_path);
        av_packet_free(&r.packet);
        return FALSE;
    }
    close(fd);               /* avio_open reopens it by name */
    g_chmod(tmp_path, 0644); /* mkstemp makes it 0600; a video is for everyone to read */
    gboolean ok = open_source(&r, error) && open_output(&r, tmp_path, error);
    for (int i = 0; ok && i < n; i++)
        ok = copy_range(&r, chosen[i].start, chosen[i].end, i + 1, error);
    if (ok) {
        int rc = av_write_trailer(r.out);
        if (rc < 0)
            ok = av_fail(error, CLIP_ERROR_IO, dst, "cannot finish the file", rc);
    }
    if (ok && r.out) {
        int rc = avio_closep(&r.out->pb);
        if (rc < 0)
            ok = av_fail(error, CLIP_ERROR_IO, dst, "cannot write", rc);
    }
    remux_close(&r);
    if (ok && g_rename(tmp_path, dst) != 0) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_IO, "%s: cannot write: %s", dst,
                    g_strerror(errno));
        ok = FALSE;
    }
    if (!ok)
        g_unlink(tmp_path);
    g_free(tmp_path);
    return ok;
}
