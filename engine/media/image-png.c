/* image-png.c: PNG decoding with libpng for eng_image_load.
 *
 * Every colour type and bit depth (grey 1/2/4/8/16, grey+alpha, palette,
 * RGB, RGBA, 8 or 16 bits) and Adam7 interlacing come out as 8-bit RGB the
 * way PIL's convert("RGB") gives them: libpng expands palettes and low bit
 * depths, keeps the high byte of 16-bit samples, drops alpha and repeats
 * grey. The size in IHDR is checked against the pixel cap before libpng
 * allocates anything. libpng reports errors by longjmp; its message, with
 * the file name, becomes the engine's error. An eXIf chunk's orientation is
 * returned for image.c to apply.
 */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "media/image-internal.h"

/* One decode. libpng's callbacks reach it through their user pointers, and
 * the code after setjmp reads it through a pointer that never changes, so
 * nothing here needs to be volatile. */
struct png_reader {
    const struct image_file *file;
    size_t pos;        /* next byte of file->data to hand libpng */
    char error[160];   /* libpng's error */
    char warning[160]; /* libpng's last warning (it explains a bad IHDR there) */
    uint8_t *rgb;      /* [height][width][3] */
    uint8_t **rows;    /* [height], pointers into rgb */
};

static void on_png_error(png_structp png, png_const_charp message)
{
    struct png_reader *reader = png_get_error_ptr(png);
    snprintf(reader->error, sizeof reader->error, "%s", message);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp message)
{
    struct png_reader *reader = png_get_error_ptr(png);
    snprintf(reader->warning, sizeof reader->warning, "%s", message);
}

static void on_png_read(png_structp png, png_bytep out, size_t n)
{
    struct png_reader *reader = png_get_io_ptr(png);
    if (n > reader->file->size - reader->pos)
        png_error(png, "the file ends early (truncated)");
    memcpy(out, reader->file->data + reader->pos, n);
    reader->pos += n;
}

static uint32_t read_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Check the size in IHDR (which PNG requires to be the first chunk) before
 * libpng starts: a zero-sized image, or one over the cap. A file too short
 * or without IHDR first is left for libpng to report. */
static enum eng_status check_ihdr_size(const struct image_file *file, struct eng_err *err)
{
    /* signature[8], then chunk length u32 = 13, type "IHDR", width u32, height u32 */
    if (file->size < 8 + 8 + 8 || read_be32(file->data + 8) != 13 ||
        memcmp(file->data + 12, "IHDR", 4) != 0)
        return ENG_STATUS_OK;
    uint32_t width = read_be32(file->data + 16), height = read_be32(file->data + 20);
    if (width == 0 || height == 0)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: the PNG is zero-sized (%ux%u), not a usable image", file->path,
                           width, height);
    if ((uint64_t)width * height > file->max_pixels)
        return image_too_many_pixels(file, width, height, err);
    return ENG_STATUS_OK;
}

/* Set libpng's transforms so that every row comes out as 8-bit RGB, then
 * check that it does. Returns false (with reader->error set) when not. */
static bool set_rgb8_transforms(png_structp png, png_infop info, struct png_reader *reader)
{
    png_set_expand(png);      /* palette -> RGB, grey < 8 bits -> 8 bits, tRNS -> alpha */
    png_set_strip_16(png);    /* 16 -> 8 bits: the high byte, as PIL keeps it */
    png_set_strip_alpha(png); /* PIL's convert("RGB") drops alpha without compositing */
    png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t width = png_get_image_width(png, info);
    if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != width * 3) {
        snprintf(reader->error, sizeof reader->error,
                 "libpng gives %d channels of %d bits, not RGB8", png_get_channels(png, info),
                 png_get_bit_depth(png, info));
        return false;
    }
    return true;
}

/* The orientation in an eXIf chunk (before or after IDAT; call after
 * png_read_end), 1 without one. */
static int png_orientation(png_structp png, png_infop info)
{
#ifdef PNG_eXIf_SUPPORTED
    png_uint_32 n_bytes = 0;
    png_bytep exif = NULL;
    if (png_get_eXIf_1(png, info, &n_bytes, &exif) && exif)
        return image_exif_orientation(exif, n_bytes);
#else
    (void)png;
    (void)info;
#endif
    return 1;
}

enum eng_status image_decode_png(const struct image_file *file, struct image_decoded *out,
                                 struct eng_err *err)
{
    enum eng_status status = check_ihdr_size(file, err);
    if (status != ENG_STATUS_OK)
        return status;

    struct png_reader *reader = calloc(1, sizeof *reader);
    if (!reader)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory", file->path);
    reader->file = file;
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, reader, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        status = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory for libpng", file->path);
        goto out_destroy;
    }
    if (setjmp(png_jmpbuf(png))) {
        /* libpng failed: on_png_error holds its message */
        if (reader->warning[0])
            status = eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                                 "%s: corrupt or truncated PNG: %s (libpng: %s)", file->path,
                                 reader->error, reader->warning);
        else
            status = eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: corrupt or truncated PNG: %s",
                                 file->path, reader->error);
        goto out_destroy;
    }
    png_set_read_fn(png, reader, on_png_read);
    png_read_info(png, info);

    uint32_t width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    if (width == 0 || height == 0) { /* libpng refuses these already; kept as a guard */
        status = eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: the PNG is zero-sized", file->path);
        goto out_destroy;
    }
    if ((uint64_t)width * height > file->max_pixels) {
        status = image_too_many_pixels(file, width, height, err);
        goto out_destroy;
    }
    if (!set_rgb8_transforms(png, info, reader)) {
        status = eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: unexpected PNG layout: %s",
                             file->path, reader->error);
        goto out_destroy;
    }
    reader->rgb = malloc((size_t)width * height * 3);
    reader->rows = malloc(sizeof *reader->rows * height);
    if (!reader->rgb || !reader->rows) {
        status = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory for a %ux%u image",
                             file->path, width, height);
        goto out_destroy;
    }
    for (uint32_t y = 0; y < height; y++)
        reader->rows[y] = reader->rgb + (size_t)y * width * 3;
    png_read_image(png, reader->rows);
    png_read_end(png, info); /* checks the CRCs up to IEND, reads a late eXIf */

    out->width = (int)width;
    out->height = (int)height;
    out->rgb = reader->rgb;
    out->orientation = png_orientation(png, info);
    reader->rgb = NULL;
    status = ENG_STATUS_OK;

out_destroy:
    png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, NULL);
    free(reader->rows);
    free(reader->rgb);
    free(reader);
    return status;
}
