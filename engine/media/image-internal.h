/* image-internal.h: the decoders behind eng_image_load (media/image.c).
 *
 * image.c reads the whole file, picks a decoder by content (the PNG
 * signature goes to libpng in image-png.c, anything else to FFmpeg in
 * image-ffmpeg.c), then applies the EXIF orientation the decoder found.
 * Each decoder checks the pixel count against the cap before it decodes.
 */
#ifndef WENSHU_MEDIA_IMAGE_INTERNAL_H
#define WENSHU_MEDIA_IMAGE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavutil/pixfmt.h>

#include "wenshu-engine.h"

/* Zero bytes that follow a file's data in memory (FFmpeg's probe and
 * parsers read up to 64 bytes past the end). */
#define IMAGE_DATA_PADDING 64

/* A whole image file in memory. */
struct image_file {
    const char *path;    /* for messages */
    const uint8_t *data; /* [size + IMAGE_DATA_PADDING], the padding zeroed */
    size_t size;
    uint64_t max_pixels; /* the cap, already resolved (never 0) */
};

/* A decoder's result before orientation: the pixels as stored. */
struct image_decoded {
    int width, height;
    uint8_t *rgb;    /* [height][width][3], malloc'd; the caller frees it */
    int orientation; /* EXIF orientation 1..8 (1 when absent or invalid) */
};

/* The EXIF orientation 1..8 in a TIFF-structured block (an EXIF payload or
 * a whole TIFF file: "II*\0" or "MM\0*", then IFD0), 1 when it has none or
 * the block is malformed. An "Exif\0\0" prefix is skipped. */
int image_exif_orientation(const uint8_t *tiff, size_t size);

/* "WIDTHxHEIGHT is N pixels, over the limit of M" into err, for a refused image. */
enum eng_status image_too_many_pixels(const struct image_file *file, uint64_t width,
                                      uint64_t height, struct eng_err *err);

/* Decode a PNG (file->data starts with the PNG signature) with libpng.
 * Errors: ENG_STATUS_ERR_FORMAT, ENG_STATUS_ERR_UNSUPPORTED (too many pixels),
 * ENG_STATUS_ERR_NOMEM. Thread-safety: safe. */
enum eng_status image_decode_png(const struct image_file *file, struct image_decoded *out,
                                 struct eng_err *err);

/* Decode a JPEG, WebP, BMP, GIF (first frame) or TIFF with libavformat and
 * libavcodec, and convert it to RGB with libswscale. Anything else FFmpeg
 * may recognise is refused as not an image. Errors as image_decode_png.
 * Thread-safety: safe. */
enum eng_status image_decode_ffmpeg(const struct image_file *file, struct image_decoded *out,
                                    struct eng_err *err);

/* A JPEG (full-range) pixel format as its plain twin, setting *full_range:
 * swscale takes the range from sws_setColorspaceDetails instead. Other
 * formats come back unchanged. Shared with media/video.c. */
enum AVPixelFormat image_plain_yuv_twin(enum AVPixelFormat format, bool *full_range);

#endif /* WENSHU_MEDIA_IMAGE_INTERNAL_H */
