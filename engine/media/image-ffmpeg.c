/* image-ffmpeg.c: JPEG, WebP, BMP, GIF and TIFF decoding with FFmpeg's
 * libraries for eng_image_load.
 *
 * libavformat probes the bytes in memory (never the file name) and must
 * name one of the image demuxers; libavcodec decodes the first frame; and
 * libswscale converts it to full-range 8-bit RGB. The pixel cap is checked
 * where the demuxer already knows the size, and again in the decoder's
 * get_buffer2 callback, which every decoder calls after parsing the header
 * and before decoding pixels: a decompression bomb is refused there without
 * its frame ever being allocated. FFmpeg's own logging is silenced; its
 * error text goes into the engine's error instead.
 *
 * Two checks FFmpeg does not make are made here: a JPEG must reach its
 * end-of-image marker (FFmpeg would decode a truncated file to a half-grey
 * picture, where PIL refuses it), and the EXIF orientation is read from the
 * file (JPEG APP1, WebP EXIF chunk, TIFF IFD0), with the decoder's frame
 * metadata as a fallback.
 */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "media/image-internal.h"

#define PROBE_BYTES (1 << 20) /* what av_probe_input_format3 sees of a file */
#define AVIO_BUFFER_BYTES 4096

/* One decode: the file as an AVIOContext reads it, and what the
 * get_buffer2 callback saw. */
struct ffmpeg_reader {
    const struct image_file *file;
    size_t pos;   /* read position in file->data */
    bool refused; /* the decoder asked for a frame over the cap */
    int refused_width, refused_height;
};

/* What each accepted codec is called in messages. */
static const char *image_codec_name(enum AVCodecID id)
{
    switch (id) {
    case AV_CODEC_ID_MJPEG: return "JPEG";
    case AV_CODEC_ID_WEBP: return "WebP";
    case AV_CODEC_ID_BMP: return "BMP";
    case AV_CODEC_ID_GIF: return "GIF";
    case AV_CODEC_ID_TIFF: return "TIFF";
    default: return NULL;
    }
}

static void silence_ffmpeg(void)
{
    av_log_set_level(AV_LOG_QUIET);
}

static pthread_once_t silence_once = PTHREAD_ONCE_INIT;

static enum eng_status ffmpeg_error(const struct image_file *file, const char *what, int code,
                                    struct eng_err *err)
{
    char text[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(code, text, sizeof text);
    return eng_set_err(err, code == AVERROR(ENOMEM) ? ENG_STATUS_ERR_NOMEM : ENG_STATUS_ERR_FORMAT,
                       "%s: %s: %s", file->path, what, text);
}

/* ---- the file as FFmpeg reads it ----------------------------------------- */

static int avio_read_memory(void *opaque, uint8_t *buf, int buf_size)
{
    struct ffmpeg_reader *reader = opaque;
    size_t left = reader->file->size - reader->pos;
    size_t n = left < (size_t)buf_size ? left : (size_t)buf_size;
    if (n == 0)
        return AVERROR_EOF;
    memcpy(buf, reader->file->data + reader->pos, n);
    reader->pos += n;
    return (int)n;
}

static int64_t avio_seek_memory(void *opaque, int64_t offset, int whence)
{
    struct ffmpeg_reader *reader = opaque;
    int64_t size = (int64_t)reader->file->size, base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return size;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)reader->pos; break;
    case SEEK_END: base = size; break;
    default: return AVERROR(EINVAL);
    }
    if (offset < -base || offset > size - base)
        return AVERROR(EINVAL);
    reader->pos = (size_t)(base + offset);
    return base + offset;
}

/* Whether a demuxer is one of FFmpeg's still-image readers: jpeg_pipe,
 * webp_pipe, bmp_pipe, tiff_pipe and the other *_pipe ones (refused later by
 * codec), gif, and mjpeg (raw JPEG frames, which a JPEG with unusual
 * markers can probe as). */
static bool is_image_demuxer(const char *name)
{
    size_t n = strlen(name);
    return strcmp(name, "gif") == 0 || strcmp(name, "mjpeg") == 0 ||
           (n > 5 && strcmp(name + n - 5, "_pipe") == 0);
}

/* Find the demuxer for the file's bytes (*format); a format error when
 * FFmpeg sees no still image in them. */
static enum eng_status probe_image_format(const struct image_file *file,
                                          const AVInputFormat **format, struct eng_err *err)
{
    size_t n = file->size < PROBE_BYTES ? file->size : PROBE_BYTES;
    uint8_t *buf = av_mallocz(n + AVPROBE_PADDING_SIZE); /* the probe wants zero padding */
    if (!buf)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory", file->path);
    memcpy(buf, file->data, n);
    AVProbeData probe = {.filename = "", .buf = buf, .buf_size = (int)n};
    int score = 0;
    *format = av_probe_input_format3(&probe, 1, &score);
    av_free(buf);
    if (*format && is_image_demuxer((*format)->name))
        return ENG_STATUS_OK;
    if (*format)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: not an image (the content looks like %s); PNG, JPEG, WebP, BMP, "
                           "GIF and TIFF are read",
                           file->path,
                           (*format)->long_name ? (*format)->long_name : (*format)->name);
    if (file->size >= 3 && memcmp(file->data, "\xff\xd8\xff", 3) == 0)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: corrupt JPEG: it starts like one, but its marker segments are "
                           "broken",
                           file->path);
    return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                       "%s: not an image (no known image format in its content); PNG, JPEG, "
                       "WebP, BMP, GIF and TIFF are read",
                       file->path);
}

/* ---- checks FFmpeg does not make ----------------------------------------- */

/* What a walk over a JPEG's marker segments finds. */
struct jpeg_layout {
    bool complete;          /* the end-of-image marker is there */
    int orientation;        /* of the first APP1 Exif block; 1 without one */
    bool have_size;         /* a SOFn segment was found */
    unsigned width, height; /* from the first SOFn segment */
};

static bool is_jpeg_sof(unsigned marker)
{
    /* SOF0..SOF15 except DHT (c4), JPG (c8) and DAC (cc) */
    return marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
}

/* Walk a JPEG's marker segments from SOI to EOI, skipping entropy-coded
 * data, for what FFmpeg does not report: whether the file is complete
 * (FFmpeg decodes a truncated one to a half-grey picture), its size before
 * decoding, and its orientation. */
static struct jpeg_layout jpeg_walk(const uint8_t *data, size_t size)
{
    enum { SOI = 0xd8, EOI = 0xd9, SOS = 0xda, APP1 = 0xe1, RST0 = 0xd0, RST7 = 0xd7, TEM = 0x01 };
    struct jpeg_layout layout = {.orientation = 1};
    bool have_exif = false;
    size_t pos = 2; /* after SOI */
    for (;;) {
        while (pos < size && data[pos] != 0xff) /* stray bytes before a marker, as libjpeg allows */
            pos++;
        while (pos < size && data[pos] == 0xff) /* fill bytes */
            pos++;
        if (pos >= size)
            return layout;
        unsigned marker = data[pos++];
        if (marker == EOI) {
            layout.complete = true;
            return layout;
        }
        if (marker == SOI || marker == TEM || (marker >= RST0 && marker <= RST7) || marker == 0)
            continue; /* no length field */
        if (size - pos < 2)
            return layout;
        size_t length = (size_t)data[pos] << 8 | data[pos + 1]; /* includes its own 2 bytes */
        if (length < 2 || length > size - pos)
            return layout;
        const uint8_t *body = data + pos + 2; /* [length - 2] */
        if (is_jpeg_sof(marker) && !layout.have_size && length >= 2 + 5) {
            layout.have_size = true;
            layout.height = (unsigned)body[1] << 8 | body[2]; /* after the sample precision */
            layout.width = (unsigned)body[3] << 8 | body[4];
        }
        if (marker == APP1 && !have_exif && length >= 2 + 6 && memcmp(body, "Exif\0\0", 6) == 0) {
            layout.orientation = image_exif_orientation(body, length - 2);
            have_exif = true;
        }
        pos += length;
        if (marker != SOS)
            continue;
        /* entropy-coded data: up to the next 0xff that is not a stuffed
         * 0xff00 or a restart marker */
        for (;;) {
            while (pos < size && data[pos] != 0xff)
                pos++;
            if (size - pos < 2)
                return layout;
            unsigned next = data[pos + 1];
            if (next == 0xff) {
                pos++;
                continue;
            }
            if (next != 0x00 && !(next >= RST0 && next <= RST7))
                break;
            pos += 2;
        }
    }
}

/* The orientation of a WebP: the EXIF chunk of its RIFF container. */
static int webp_orientation(const uint8_t *data, size_t size)
{
    if (size < 12 || memcmp(data, "RIFF", 4) != 0 || memcmp(data + 8, "WEBP", 4) != 0)
        return 1;
    size_t pos = 12;
    while (size - pos >= 8) {
        size_t chunk_bytes = (size_t)data[pos + 4] | (size_t)data[pos + 5] << 8 |
                             (size_t)data[pos + 6] << 16 | (size_t)data[pos + 7] << 24;
        if (chunk_bytes > size - pos - 8)
            return 1;
        if (memcmp(data + pos, "EXIF", 4) == 0)
            return image_exif_orientation(data + pos + 8, chunk_bytes);
        pos += 8 + chunk_bytes + (chunk_bytes & 1); /* chunks are padded to even sizes */
        if (pos > size)
            return 1;
    }
    return 1;
}

/* The orientation stored in a WebP or TIFF: 1 when it has none, 0 when the
 * format carries none this code reads (JPEG's comes from jpeg_walk). */
static int file_orientation(const struct image_file *file, enum AVCodecID codec)
{
    switch (codec) {
    case AV_CODEC_ID_WEBP: return webp_orientation(file->data, file->size);
    case AV_CODEC_ID_TIFF: return image_exif_orientation(file->data, file->size);
    default: return 0;
    }
}

/* ---- decoding ------------------------------------------------------------ */

/* The decoder allocates its frame once it knows the size: refuse it there
 * when the image is over the cap, before any pixel is decoded. */
static int get_buffer_capped(AVCodecContext *codec, AVFrame *frame, int flags)
{
    struct ffmpeg_reader *reader = codec->opaque;
    int width = codec->width > 0 ? codec->width : frame->width;
    int height = codec->height > 0 ? codec->height : frame->height;
    if ((uint64_t)width * (uint64_t)height > reader->file->max_pixels) {
        reader->refused = true;
        reader->refused_width = width;
        reader->refused_height = height;
        return AVERROR(ERANGE);
    }
    return avcodec_default_get_buffer2(codec, frame, flags);
}

/* Everything one decode holds; freed by close_decode. */
struct ffmpeg_decode {
    struct ffmpeg_reader reader;
    AVIOContext *io;
    AVFormatContext *format;
    AVCodecContext *codec;
    AVPacket *packet;
    AVFrame *frame;
    int stream_index;
};

static void close_decode(struct ffmpeg_decode *d)
{
    av_frame_free(&d->frame);
    av_packet_free(&d->packet);
    avcodec_free_context(&d->codec);
    avformat_close_input(&d->format);
    if (d->io)
        av_freep(&d->io->buffer);
    avio_context_free(&d->io);
}

/* Open the demuxer on the file's bytes, find its image stream, check the
 * size the demuxer knows, and open the decoder. */
static enum eng_status open_decode(struct ffmpeg_decode *d, const AVInputFormat *input_format,
                                   struct eng_err *err)
{
    const struct image_file *file = d->reader.file;
    uint8_t *io_buffer = av_malloc(AVIO_BUFFER_BYTES);
    d->io = io_buffer ? avio_alloc_context(io_buffer, AVIO_BUFFER_BYTES, 0, &d->reader,
                                           avio_read_memory, NULL, avio_seek_memory)
                      : NULL;
    d->format = avformat_alloc_context();
    d->packet = av_packet_alloc();
    d->frame = av_frame_alloc();
    if (!d->io || !d->format || !d->packet || !d->frame) {
        if (!d->io)
            av_free(io_buffer);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory for FFmpeg", file->path);
    }
    d->format->pb = d->io;
    d->format->flags |= AVFMT_FLAG_CUSTOM_IO;
    int ret = avformat_open_input(&d->format, "", input_format, NULL);
    if (ret < 0) /* avformat_open_input freed d->format */
        return ffmpeg_error(file, "cannot read the image container", ret, err);

    d->stream_index = av_find_best_stream(d->format, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (d->stream_index < 0)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: no image in the file", file->path);
    const AVCodecParameters *par = d->format->streams[d->stream_index]->codecpar;
    const char *name = image_codec_name(par->codec_id);
    if (!name)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: an image in %s, which is not read (PNG, JPEG, WebP, BMP, GIF and "
                           "TIFF are)",
                           file->path, avcodec_get_name(par->codec_id));
    if ((uint64_t)par->width * (uint64_t)par->height > file->max_pixels)
        return image_too_many_pixels(file, (uint64_t)par->width, (uint64_t)par->height, err);

    const AVCodec *decoder = avcodec_find_decoder(par->codec_id);
    if (!decoder)
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED, "%s: this FFmpeg has no %s decoder",
                           file->path, name);
    d->codec = avcodec_alloc_context3(decoder);
    if (!d->codec)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory for FFmpeg", file->path);
    ret = avcodec_parameters_to_context(d->codec, par);
    if (ret < 0)
        return ffmpeg_error(file, "cannot set up the decoder", ret, err);
    d->codec->opaque = &d->reader;
    d->codec->get_buffer2 = get_buffer_capped;
    d->codec->thread_count = 1; /* get_buffer2 on this thread */
    /* A corrupt JPEG scan fails instead of half-decoding. Only for JPEG: the
     * TIFF decoder would also fail on every tag it does not know. */
    if (par->codec_id == AV_CODEC_ID_MJPEG)
        d->codec->err_recognition |= AV_EF_EXPLODE;
    ret = avcodec_open2(d->codec, decoder, NULL);
    if (ret < 0)
        return ffmpeg_error(file, "cannot open the decoder", ret, err);
    return ENG_STATUS_OK;
}

/* Decode the stream's first frame into d->frame (send / receive / drain). */
static int decode_first_frame(struct ffmpeg_decode *d)
{
    for (;;) {
        int ret = av_read_frame(d->format, d->packet);
        if (ret == AVERROR_EOF) {
            ret = avcodec_send_packet(d->codec, NULL); /* drain */
            if (ret < 0)
                return ret;
            ret = avcodec_receive_frame(d->codec, d->frame);
            return ret == AVERROR_EOF ? AVERROR_INVALIDDATA : ret;
        }
        if (ret < 0)
            return ret;
        if (d->packet->stream_index != d->stream_index) {
            av_packet_unref(d->packet);
            continue;
        }
        ret = avcodec_send_packet(d->codec, d->packet);
        av_packet_unref(d->packet);
        if (ret < 0 && ret != AVERROR(EAGAIN))
            return ret;
        ret = avcodec_receive_frame(d->codec, d->frame);
        if (ret != AVERROR(EAGAIN))
            return ret;
    }
}

/* ---- conversion to RGB ----------------------------------------------------- */

/* Chroma upsampling as libjpeg-turbo does it by default ("fancy"
 * upsampling, which PIL gets): a triangle filter over chroma sited between
 * the luma pixels, edges repeated, with libjpeg's rounding biases. libwebp
 * upsamples lossy WebP with the same 9-3-3-1 filter. swscale's bilinear
 * upsampling differs from both by a mean of about 6 levels on sharp colour
 * edges, so JPEG and WebP chroma is upsampled here and swscale converts the
 * resulting 4:4:4.
 * src: [chroma_h][chroma_w] (linesize src_stride); dst: [height][width]
 * (linesize dst_stride); log2_w, log2_h: the subsampling, 0 or 1 each. */
static void upsample_chroma(const uint8_t *src, int src_stride, int chroma_w, int chroma_h,
                            int log2_w, int log2_h, uint8_t *dst, int dst_stride, int width,
                            int height)
{
    /* libjpeg filters horizontally only when a row has more than 2 samples */
    bool fancy_h = log2_w == 1 && chroma_w > 2;
    bool fancy_v = log2_h == 1 && (log2_w == 0 || chroma_w > 2);
    for (int y = 0; y < height; y++) {
        int row = y >> log2_h;
        int far_row = row; /* the other chroma row of the vertical triangle */
        if (fancy_v)
            far_row = (y & 1) ? (row + 1 < chroma_h ? row + 1 : row) : (row > 0 ? row - 1 : 0);
        const uint8_t *near = src + (size_t)row * src_stride;
        const uint8_t *far = src + (size_t)far_row * src_stride;
        uint8_t *out = dst + (size_t)y * dst_stride;
        for (int x = 0; x < width; x++) {
            int col = x >> log2_w;
            if (!fancy_h) {
                /* vertical only (4:4:0), or plain repetition */
                out[x] =
                    fancy_v ? (uint8_t)((3 * near[col] + far[col] + 1 + (y & 1)) >> 2) : near[col];
                continue;
            }
            int side = (x & 1) ? (col + 1 < chroma_w ? col + 1 : col) : (col > 0 ? col - 1 : 0);
            if (!fancy_v) { /* 4:2:2 */
                out[x] = (uint8_t)((3 * near[col] + near[side] + 1 + (x & 1)) >> 2);
                continue;
            }
            /* 4:2:0: column sums of the vertical triangle, then the horizontal one */
            int this_sum = 3 * near[col] + far[col];
            int side_sum = 3 * near[side] + far[side];
            out[x] = (uint8_t)((3 * this_sum + side_sum + 8 - (x & 1)) >> 4);
        }
    }
}

/* Whether frame is 8-bit planar YUV with 4:2:0, 4:2:2 or 4:4:0 chroma from
 * a codec that sites chroma at the centre (JPEG, WebP). */
static bool wants_fancy_upsampling(const AVFrame *frame, enum AVCodecID codec)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(frame->format);
    if (!desc || (codec != AV_CODEC_ID_MJPEG && codec != AV_CODEC_ID_WEBP))
        return false;
    if ((desc->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BE)) ||
        !(desc->flags & AV_PIX_FMT_FLAG_PLANAR) || desc->nb_components < 3)
        return false;
    for (int i = 0; i < 3; i++)
        if (desc->comp[i].depth != 8 || desc->comp[i].plane != i || desc->comp[i].step != 1)
            return false;
    int w = desc->log2_chroma_w, h = desc->log2_chroma_h;
    return (w == 1 && h == 1) || (w == 1 && h == 0) || (w == 0 && h == 1);
}

/* frame as 4:4:4 (a new frame in *out), its chroma upsampled as libjpeg does. */
static int upsample_to_444(const AVFrame *frame, AVFrame **out)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(frame->format);
    bool full_range = frame->color_range == AVCOL_RANGE_JPEG;
    switch (frame->format) { /* the JPEG formats are full range whatever the field says */
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_YUVJ422P:
    case AV_PIX_FMT_YUVJ440P: full_range = true; break;
    default: break;
    }
    AVFrame *full = av_frame_alloc();
    if (!full)
        return AVERROR(ENOMEM);
    full->format = AV_PIX_FMT_YUV444P;
    full->width = frame->width;
    full->height = frame->height;
    full->color_range = full_range ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    full->colorspace = frame->colorspace;
    int ret = av_frame_get_buffer(full, 0);
    if (ret < 0) {
        av_frame_free(&full);
        return ret;
    }
    av_image_copy_plane(full->data[0], full->linesize[0], frame->data[0], frame->linesize[0],
                        frame->width, frame->height);
    int chroma_w = AV_CEIL_RSHIFT(frame->width, desc->log2_chroma_w);
    int chroma_h = AV_CEIL_RSHIFT(frame->height, desc->log2_chroma_h);
    for (int plane = 1; plane <= 2; plane++)
        upsample_chroma(frame->data[plane], frame->linesize[plane], chroma_w, chroma_h,
                        desc->log2_chroma_w, desc->log2_chroma_h, full->data[plane],
                        full->linesize[plane], frame->width, frame->height);
    *out = full;
    return 0;
}

enum AVPixelFormat image_plain_yuv_twin(enum AVPixelFormat format, bool *full_range)
{
    switch (format) {
    case AV_PIX_FMT_YUVJ420P: *full_range = true; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full_range = true; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full_range = true; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full_range = true; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full_range = true; return AV_PIX_FMT_YUV411P;
    default: return format;
    }
}

/* A swscale context from frame's format to RGB24 at the same size: bilinear
 * chroma upsampling with the chroma sited where the decoder says (the
 * centre, as JPEG and WebP site it, when it does not say), full-range
 * output, BT.601 (or the frame's) matrix, accurate rounding. */
static struct SwsContext *rgb_converter(const AVFrame *frame)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(frame->format);
    bool full_range = frame->color_range == AVCOL_RANGE_JPEG;
    enum AVPixelFormat src_format = image_plain_yuv_twin(frame->format, &full_range);
    bool is_yuv = desc && !(desc->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) &&
                  desc->nb_components >= 3;
    if (!is_yuv) /* grey, palette and RGB samples are used as they are */
        full_range = true;
    int chroma_x = 128, chroma_y = 128; /* 1/256 luma pixel units: the centre */
    if (frame->chroma_location != AVCHROMA_LOC_UNSPECIFIED)
        avcodec_enum_to_chroma_pos(&chroma_x, &chroma_y, frame->chroma_location);
    if (!desc || desc->log2_chroma_w == 0) /* full-width chroma sits on its pixel */
        chroma_x = 0;
    if (!desc || desc->log2_chroma_h == 0)
        chroma_y = 0;

    struct SwsContext *sws = sws_alloc_context();
    if (!sws)
        return NULL;
    av_opt_set_int(sws, "srcw", frame->width, 0);
    av_opt_set_int(sws, "srch", frame->height, 0);
    av_opt_set_int(sws, "src_format", src_format, 0);
    av_opt_set_int(sws, "dstw", frame->width, 0);
    av_opt_set_int(sws, "dsth", frame->height, 0);
    av_opt_set_int(sws, "dst_format", AV_PIX_FMT_RGB24, 0);
    av_opt_set_int(sws, "sws_flags",
                   SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP, 0);
    av_opt_set_int(sws, "src_range", full_range, 0);
    av_opt_set_int(sws, "dst_range", 1, 0);
    av_opt_set_int(sws, "src_h_chr_pos", chroma_x, 0);
    av_opt_set_int(sws, "src_v_chr_pos", chroma_y, 0);
    if (sws_init_context(sws, NULL, NULL) < 0) {
        sws_freeContext(sws);
        return NULL;
    }
    int colorspace = frame->colorspace == AVCOL_SPC_UNSPECIFIED ? SWS_CS_ITU601 : frame->colorspace;
    sws_setColorspaceDetails(sws, sws_getCoefficients(colorspace), full_range,
                             sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    return sws;
}

/* Convert frame to a tight [height][width][3] RGB buffer (*rgb, malloc'd). */
static enum eng_status frame_to_rgb(const struct image_file *file, const AVFrame *decoded,
                                    enum AVCodecID codec, uint8_t **rgb, struct eng_err *err)
{
    enum eng_status status = ENG_STATUS_OK;
    struct SwsContext *sws = NULL;
    AVFrame *upsampled = NULL; /* 4:4:4 from decoded, for JPEG and WebP */
    /* RGB24 with padded rows: swscale may write past the width */
    AVFrame *converted = av_frame_alloc();
    uint8_t *tight = malloc((size_t)decoded->width * decoded->height * 3);
    const AVFrame *frame = decoded;
    if (converted && tight && wants_fancy_upsampling(decoded, codec)) {
        int ret = upsample_to_444(decoded, &upsampled);
        if (ret < 0) {
            status = ffmpeg_error(file, "cannot upsample the chroma", ret, err);
            goto out_free;
        }
        frame = upsampled;
    }
    sws = converted && tight ? rgb_converter(frame) : NULL;
    if (!sws || !converted || !tight) {
        status = eng_set_err(err, ENG_STATUS_ERR_NOMEM,
                             "%s: cannot convert %s to RGB (no memory or no converter)", file->path,
                             av_get_pix_fmt_name(frame->format));
        goto out_free;
    }
    converted->format = AV_PIX_FMT_RGB24;
    converted->width = frame->width;
    converted->height = frame->height;
    int ret = av_frame_get_buffer(converted, 0);
    if (ret >= 0)
        ret = sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height,
                        converted->data, converted->linesize);
    if (ret < 0) {
        status = ffmpeg_error(file, "cannot convert the image to RGB", ret, err);
        goto out_free;
    }
    for (int y = 0; y < frame->height; y++)
        memcpy(tight + (size_t)y * frame->width * 3,
               converted->data[0] + (size_t)y * converted->linesize[0], (size_t)frame->width * 3);
    *rgb = tight;
    tight = NULL;
out_free:
    free(tight);
    av_frame_free(&upsampled);
    av_frame_free(&converted);
    sws_freeContext(sws);
    return status;
}

/* The orientation in the decoder's frame metadata (FFmpeg exports EXIF
 * tags of JPEG and WebP there), 1 without one. */
static int frame_orientation(const AVFrame *frame)
{
    const AVDictionaryEntry *entry = av_dict_get(frame->metadata, "Orientation", NULL, 0);
    int value = entry ? atoi(entry->value) : 1;
    return value >= 1 && value <= 8 ? value : 1;
}

enum eng_status image_decode_ffmpeg(const struct image_file *file, struct image_decoded *out,
                                    struct eng_err *err)
{
    pthread_once(&silence_once, silence_ffmpeg);
    const AVInputFormat *input_format = NULL;
    enum eng_status status = probe_image_format(file, &input_format, err);
    if (status != ENG_STATUS_OK)
        return status;

    struct ffmpeg_decode d = {.reader = {.file = file}};
    status = open_decode(&d, input_format, err);
    if (status != ENG_STATUS_OK)
        goto out_close;
    enum AVCodecID codec_id = d.codec->codec_id;
    const char *name = image_codec_name(codec_id);
    int stored_orientation = file_orientation(file, codec_id);
    if (codec_id == AV_CODEC_ID_MJPEG) {
        struct jpeg_layout layout = jpeg_walk(file->data, file->size);
        stored_orientation = layout.orientation;
        if ((uint64_t)layout.width * layout.height > file->max_pixels) {
            status = image_too_many_pixels(file, layout.width, layout.height, err);
            goto out_close;
        }
        if (layout.have_size && (layout.width == 0 || layout.height == 0)) {
            status = eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                                 "%s: the JPEG is zero-sized (%ux%u), not a usable image",
                                 file->path, layout.width, layout.height);
            goto out_close;
        }
        if (!layout.complete) {
            status = eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                                 "%s: corrupt or truncated JPEG: the data ends before the "
                                 "end-of-image marker",
                                 file->path);
            goto out_close;
        }
    }

    int ret = decode_first_frame(&d);
    if (d.reader.refused) {
        status = image_too_many_pixels(file, (uint64_t)d.reader.refused_width,
                                       (uint64_t)d.reader.refused_height, err);
        goto out_close;
    }
    if (ret < 0) {
        /* FFmpeg's own size check (av_image_check_size: about 268 million
         * pixels) answers EINVAL before get_buffer2 is reached */
        char what[96];
        snprintf(what, sizeof what,
                 ret == AVERROR(EINVAL) ? "corrupt %s, or a size FFmpeg refuses"
                                        : "corrupt or truncated %s",
                 name);
        status = ffmpeg_error(file, what, ret, err);
        goto out_close;
    }
    AVFrame *frame = d.frame;
    if (frame->width <= 0 || frame->height <= 0) {
        status = eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: the %s is zero-sized (%dx%d)",
                             file->path, name, frame->width, frame->height);
        goto out_close;
    }
    if ((uint64_t)frame->width * (uint64_t)frame->height > file->max_pixels) {
        status = image_too_many_pixels(file, (uint64_t)frame->width, (uint64_t)frame->height, err);
        goto out_close;
    }
    status = frame_to_rgb(file, frame, codec_id, &out->rgb, err);
    if (status != ENG_STATUS_OK)
        goto out_close;
    out->width = frame->width;
    out->height = frame->height;
    out->orientation = stored_orientation;
    if (out->orientation <= 1)
        out->orientation = frame_orientation(frame);

out_close:
    close_decode(&d);
    return status;
}
