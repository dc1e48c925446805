/* image.c: eng_image_load, the engine's still-image reader for the vision
 * models.
 *
 * The whole file is read into memory, and its content (never its name)
 * picks the decoder: the PNG signature goes to libpng (image-png.c),
 * anything else to FFmpeg (image-ffmpeg.c), which takes JPEG, WebP, BMP, GIF
 * and TIFF. Both check the pixel count against the cap before decoding, so
 * a decompression bomb costs no memory. The EXIF orientation the decoder
 * reports is applied here, so the image comes out as a viewer shows it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine-internal.h"
#include "media/image-internal.h"

#define DEFAULT_MAX_PIXELS 50000000ull /* 50 megapixels */

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

struct eng_image_params eng_image_params_default(void)
{
    return (struct eng_image_params){.max_pixels = DEFAULT_MAX_PIXELS};
}

enum eng_status image_too_many_pixels(const struct image_file *file, uint64_t width,
                                      uint64_t height, struct eng_err *err)
{
    return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                       "%s: the image is %llux%llu, %llu pixels, over the limit of %llu pixels",
                       file->path, (unsigned long long)width, (unsigned long long)height,
                       (unsigned long long)(width * height), (unsigned long long)file->max_pixels);
}

/* ---- reading the file ---------------------------------------------------- */

/* Read path whole into *data (malloc'd, [*size + IMAGE_DATA_PADDING], the
 * padding zeroed). An empty file is a format error. */
static enum eng_status read_whole_file(const char *path, uint8_t **data, size_t *size,
                                       struct eng_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return eng_set_err(err, ENG_STATUS_ERR_IO, "%s: cannot open the image: %s", path,
                           strerror(errno));
    enum eng_status status = ENG_STATUS_OK;
    uint8_t *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        status = eng_set_err(err, ENG_STATUS_ERR_IO, "%s: cannot stat the image: %s", path,
                             strerror(errno));
        goto out_close;
    }
    if (!S_ISREG(st.st_mode)) {
        status = eng_set_err(err, ENG_STATUS_ERR_IO, "%s: not a regular file", path);
        goto out_close;
    }
    if (st.st_size == 0) {
        status =
            eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: the file is empty, not an image", path);
        goto out_close;
    }
    if ((uint64_t)st.st_size > SIZE_MAX - IMAGE_DATA_PADDING) {
        status = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: the file is too large", path);
        goto out_close;
    }
    size_t want = (size_t)st.st_size;
    buf = malloc(want + IMAGE_DATA_PADDING);
    if (!buf) {
        status = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory for %zu bytes", path, want);
        goto out_close;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            status = eng_set_err(err, ENG_STATUS_ERR_IO, "%s: cannot read the image: %s", path,
                                 strerror(errno));
            goto out_free;
        }
        if (n == 0)
            break; /* the file shrank while we read it: decode what is there */
        got += (size_t)n;
    }
    memset(buf + got, 0, IMAGE_DATA_PADDING);
    *data = buf;
    *size = got;
    close(fd);
    return ENG_STATUS_OK;

out_free:
    free(buf);
out_close:
    close(fd);
    return status;
}

/* ---- EXIF orientation ----------------------------------------------------- */

static unsigned read_u16(const uint8_t *p, bool little_endian)
{
    return little_endian ? (unsigned)p[0] | (unsigned)p[1] << 8
                         : (unsigned)p[0] << 8 | (unsigned)p[1];
}

static uint32_t read_u32(const uint8_t *p, bool little_endian)
{
    return little_endian ? (uint32_t)read_u16(p, true) | (uint32_t)read_u16(p + 2, true) << 16
                         : (uint32_t)read_u16(p, false) << 16 | (uint32_t)read_u16(p + 2, false);
}

int image_exif_orientation(const uint8_t *tiff, size_t size)
{
    enum { TAG_ORIENTATION = 0x0112, TYPE_SHORT = 3, TYPE_LONG = 4, IFD_ENTRY_BYTES = 12 };
    if (size >= 6 && memcmp(tiff, "Exif\0\0", 6) == 0) {
        tiff += 6;
        size -= 6;
    }
    if (size < 8)
        return 1;
    bool little_endian;
    if (tiff[0] == 'I' && tiff[1] == 'I')
        little_endian = true;
    else if (tiff[0] == 'M' && tiff[1] == 'M')
        little_endian = false;
    else
        return 1;
    if (read_u16(tiff + 2, little_endian) != 42)
        return 1;
    size_t ifd0 = read_u32(tiff + 4, little_endian);
    if (ifd0 > size - 2)
        return 1;
    unsigned n_entries = read_u16(tiff + ifd0, little_endian);
    for (unsigned i = 0; i < n_entries; i++) {
        size_t entry = ifd0 + 2 + (size_t)i * IFD_ENTRY_BYTES;
        if (entry > size || size - entry < IFD_ENTRY_BYTES)
            return 1;
        const uint8_t *e = tiff + entry; /* tag u16, type u16, count u32, value u32 */
        if (read_u16(e, little_endian) != TAG_ORIENTATION)
            continue;
        unsigned type = read_u16(e + 2, little_endian);
        uint32_t value;
        if (type == TYPE_SHORT)
            value = read_u16(e + 8, little_endian);
        else if (type == TYPE_LONG)
            value = read_u32(e + 8, little_endian);
        else
            return 1;
        return read_u32(e + 4, little_endian) >= 1 && value >= 1 && value <= 8 ? (int)value : 1;
    }
    return 1;
}

/* Where output pixel (x, y) of the oriented image comes from in the stored
 * one (width x height), for EXIF orientation 1..8: the inverse of the
 * transform PIL's ImageOps.exif_transpose applies (2 mirror, 3 rotate 180,
 * 4 flip, 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90
 * counter-clockwise). */
static void oriented_source(int orientation, int width, int height, int x, int y, int *src_x,
                            int *src_y)
{
    switch (orientation) {
    case 2:
        *src_x = width - 1 - x;
        *src_y = y;
        break;
    case 3:
        *src_x = width - 1 - x;
        *src_y = height - 1 - y;
        break;
    case 4:
        *src_x = x;
        *src_y = height - 1 - y;
        break;
    case 5:
        *src_x = y;
        *src_y = x;
        break;
    case 6:
        *src_x = y;
        *src_y = height - 1 - x;
        break;
    case 7:
        *src_x = width - 1 - y;
        *src_y = height - 1 - x;
        break;
    case 8:
        *src_x = width - 1 - y;
        *src_y = x;
        break;
    default:
        *src_x = x;
        *src_y = y;
        break;
    }
}

/* Move the decoded pixels into image, oriented. Consumes decoded->rgb. */
static enum eng_status orient_into(struct image_decoded *decoded, struct eng_image *image,
                                   const char *path, struct eng_err *err)
{
    int orientation = decoded->orientation;
    if (orientation < 2 || orientation > 8) {
        image->width = decoded->width;
        image->height = decoded->height;
        image->rgb = decoded->rgb;
        decoded->rgb = NULL;
        return ENG_STATUS_OK;
    }
    bool swaps_axes = orientation >= 5;
    int out_w = swaps_axes ? decoded->height : decoded->width;
    int out_h = swaps_axes ? decoded->width : decoded->height;
    uint8_t *rgb = malloc((size_t)out_w * out_h * 3); /* [out_h][out_w][3] */
    if (!rgb)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory to rotate the image", path);
    for (int y = 0; y < out_h; y++) {
        for (int x = 0; x < out_w; x++) {
            int sx, sy;
            oriented_source(orientation, decoded->width, decoded->height, x, y, &sx, &sy);
            memcpy(rgb + ((size_t)y * out_w + x) * 3,
                   decoded->rgb + ((size_t)sy * decoded->width + sx) * 3, 3);
        }
    }
    free(decoded->rgb);
    decoded->rgb = NULL;
    image->width = out_w;
    image->height = out_h;
    image->rgb = rgb;
    return ENG_STATUS_OK;
}

/* ---- the public calls ------------------------------------------------------ */

enum eng_status eng_image_load(const char *path, const struct eng_image_params *params,
                               struct eng_image **out, struct eng_err *err)
{
    ENG_ASSERT(path && out);
    *out = NULL;
    uint64_t max_pixels = params && params->max_pixels ? params->max_pixels : DEFAULT_MAX_PIXELS;

    uint8_t *data = NULL;
    size_t size = 0;
    enum eng_status status = read_whole_file(path, &data, &size, err);
    if (status != ENG_STATUS_OK)
        return status;

    struct image_file file = {.path = path, .data = data, .size = size, .max_pixels = max_pixels};
    struct image_decoded decoded = {0};
    if (size >= sizeof png_signature && memcmp(data, png_signature, sizeof png_signature) == 0)
        status = image_decode_png(&file, &decoded, err);
    else
        status = image_decode_ffmpeg(&file, &decoded, err);
    free(data);
    if (status != ENG_STATUS_OK)
        return status;
    ENG_ASSERT(decoded.rgb && decoded.width > 0 && decoded.height > 0);

    struct eng_image *image = calloc(1, sizeof *image);
    if (!image) {
        free(decoded.rgb);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory", path);
    }
    status = orient_into(&decoded, image, path, err);
    free(decoded.rgb); /* NULL unless orient_into failed */
    if (status != ENG_STATUS_OK) {
        free(image);
        return status;
    }
    *out = image;
    return ENG_STATUS_OK;
}

void eng_image_free(struct eng_image **image)
{
    if (!image || !*image)
        return;
    free((*image)->rgb);
    free(*image);
    *image = NULL;
}
