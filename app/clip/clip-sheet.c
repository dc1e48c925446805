/* clip-sheet.c: the contact sheet of a clip, a grid of keyframe thumbnails
 * with their timestamps (see clip.h for the size formula).
 *
 * cairo draws into an RGB24 image surface (thumbnails scaled with cairo's
 * GOOD filter, labels laid out by pango); libpng writes the surface's rows
 * as an 8-bit RGB PNG into a temporary file beside the target, which is
 * then renamed over it.
 */
#include <cairo.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <pango/pangocairo.h>
#include <png.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clip.h"

#define DEFAULT_COLS 4
#define DEFAULT_THUMB_WIDTH 240
#define DEFAULT_MARGIN 8
#define DEFAULT_LABEL_HEIGHT 22
#define MAX_SHEET_EDGE 32768 /* pixels; cairo's image surfaces stop at 32767 */
#define LABEL_FONT "Sans 10"

struct clip_sheet_params clip_sheet_params_default(void)
{
    return (struct clip_sheet_params){.cols = DEFAULT_COLS,
                                      .thumb_width = DEFAULT_THUMB_WIDTH,
                                      .margin = DEFAULT_MARGIN,
                                      .label_height = DEFAULT_LABEL_HEIGHT};
}

/* The grid: every size in pixels. */
struct sheet_layout {
    int cols, rows;
    int thumb_width, thumb_height, label_height, margin;
    int width, height;
};

static gboolean plan_layout(const struct eng_video *video, int n, const struct clip_sheet_params *p,
                            const char *path, struct sheet_layout *layout, GError **error)
{
    const struct eng_image *first = &video->frames[0].image;
    if (p->cols < 1 || p->thumb_width < 1 || p->margin < 0 || p->label_height < 0 ||
        first->width < 1 || first->height < 1) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_ARG,
                    "%s: bad contact sheet parameters: %d columns, thumbnails %d px wide, "
                    "frames %dx%d",
                    path, p->cols, p->thumb_width, first->width, first->height);
        return FALSE;
    }
    *layout = (struct sheet_layout){
        .cols = MIN(p->cols, n),
        .rows = (n + p->cols - 1) / p->cols,
        .thumb_width = p->thumb_width,
        .thumb_height = MAX(1, (int)lround((double)p->thumb_width * first->height / first->width)),
        .label_height = p->label_height,
        .margin = p->margin,
    };
    int64_t width = p->margin + (int64_t)layout->cols * (p->thumb_width + p->margin);
    int64_t height =
        p->margin + (int64_t)layout->rows * (layout->thumb_height + p->label_height + p->margin);
    if (width >= MAX_SHEET_EDGE || height >= MAX_SHEET_EDGE) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_ARG,
                    "%s: the contact sheet would be %lldx%lld pixels, over the %d limit: "
                    "use fewer tiles or smaller thumbnails",
                    path, (long long)width, (long long)height, MAX_SHEET_EDGE - 1);
        return FALSE;
    }
    layout->width = (int)width;
    layout->height = (int)height;
    return TRUE;
}

cairo_surface_t *clip_image_surface(const struct eng_image *image)
{
    cairo_surface_t *surface =
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, image->width, image->height);
    if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(surface);
        return NULL;
    }
    cairo_surface_flush(surface);
    unsigned char *data = cairo_image_surface_get_data(surface); /* [height][stride] */
    int stride = cairo_image_surface_get_stride(surface);
    for (int y = 0; y < image->height; y++) {
        uint32_t *row = (uint32_t *)(data + (size_t)y * stride);        /* [width] 0xffRRGGBB */
        const uint8_t *rgb = image->rgb + (size_t)y * image->width * 3; /* [width][3] */
        for (int x = 0; x < image->width; x++)
            row[x] = 0xff000000u | (uint32_t)rgb[3 * x] << 16 | (uint32_t)rgb[3 * x + 1] << 8 |
                     rgb[3 * x + 2];
    }
    cairo_surface_mark_dirty(surface);
    return surface;
}

/* Draw one frame scaled into the thumbnail box at (x, y), aspect kept and
 * centred. */
static gboolean draw_thumbnail(cairo_t *cr, const struct eng_image *image, double x, double y,
                               const struct sheet_layout *layout)
{
    cairo_surface_t *frame = clip_image_surface(image);
    if (!frame)
        return FALSE;
    double scale = MIN((double)layout->thumb_width / image->width,
                       (double)layout->thumb_height / image->height);
    double w = image->width * scale, h = image->height * scale;
    cairo_save(cr);
    cairo_rectangle(cr, x, y, layout->thumb_width, layout->thumb_height);
    cairo_clip(cr);
    cairo_translate(cr, x + (layout->thumb_width - w) / 2, y + (layout->thumb_height - h) / 2);
    cairo_scale(cr, scale, scale);
    cairo_set_source_surface(cr, frame, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
    cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
    cairo_rectangle(cr, 0, 0, image->width, image->height);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_surface_destroy(frame);
    return TRUE;
}

/* The timestamp "HH:MM:SS.s", centred in the label band whose top-left is (x, y). */
static void draw_label(cairo_t *cr, PangoLayout *text, double seconds, double x, double y,
                       const struct sheet_layout *layout)
{
    long long tenths = llround(MAX(seconds, 0.0) * 10.0);
    char label[48];
    g_snprintf(label, sizeof label, "%02lld:%02lld:%02lld.%lld", tenths / 36000, tenths / 600 % 60,
               tenths / 10 % 60, tenths % 10);
    pango_layout_set_text(text, label, -1);
    int text_w = 0, text_h = 0;
    pango_layout_get_pixel_size(text, &text_w, &text_h);
    cairo_save(cr);
    cairo_rectangle(cr, x, y, layout->thumb_width, layout->label_height);
    cairo_clip(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_move_to(cr, x + (layout->thumb_width - text_w) / 2.0,
                  y + (layout->label_height - text_h) / 2.0);
    pango_cairo_show_layout(cr, text);
    cairo_restore(cr);
}

/* Draw the whole sheet. Returns the surface, or NULL with error set. */
static cairo_surface_t *draw_sheet(const struct eng_video *video, const int *frame_indices, int n,
                                   const struct sheet_layout *layout, const char *path,
                                   GError **error)
{
    cairo_surface_t *sheet =
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, layout->width, layout->height);
    cairo_t *cr = cairo_create(sheet);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    PangoLayout *text = pango_cairo_create_layout(cr);
    PangoFontDescription *font = pango_font_description_from_string(LABEL_FONT);
    pango_layout_set_font_description(text, font);
    gboolean ok = TRUE;
    for (int k = 0; k < n && ok; k++) {
        const struct eng_video_frame *frame = &video->frames[frame_indices[k]];
        double x = layout->margin + (k % layout->cols) * (layout->thumb_width + layout->margin);
        double y = layout->margin + (k / layout->cols) * (layout->thumb_height +
                                                          layout->label_height + layout->margin);
        ok = draw_thumbnail(cr, &frame->image, x, y, layout);
        draw_label(cr, text, frame->time, x, y + layout->thumb_height, layout);
    }
    pango_font_description_free(font);
    g_object_unref(text);
    if (ok && cairo_status(cr) != CAIRO_STATUS_SUCCESS)
        ok = FALSE;
    cairo_destroy(cr);
    cairo_surface_flush(sheet);
    if (!ok) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_IO, "%s: cannot draw the contact sheet: %s", path,
                    cairo_status_to_string(cairo_surface_status(sheet)));
        cairo_surface_destroy(sheet);
        return NULL;
    }
    return sheet;
}

/* libpng's error callback: keep the message, then jump back to write_png. */
static void on_png_error(png_structp png, png_const_charp message)
{
    char *reason = png_get_error_ptr(png); /* [256] */
    g_strlcpy(reason, message, 256);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp message)
{
    (void)png;
    (void)message;
}

/* Write an RGB24 surface as an 8-bit RGB PNG to an open file. rgb_row is
 * [width][3], reused for each row. Returns FALSE with reason filled. */
static gboolean write_png_rows(FILE *file, cairo_surface_t *sheet, uint8_t *rgb_row,
                               char reason[256])
{
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, reason, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        g_strlcpy(reason, "out of memory", 256);
        png_destroy_write_struct(&png, NULL);
        return FALSE;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return FALSE;
    }
    int width = cairo_image_surface_get_width(sheet);
    int height = cairo_image_surface_get_height(sheet);
    const unsigned char *data = cairo_image_surface_get_data(sheet); /* [height][stride] */
    int stride = cairo_image_surface_get_stride(sheet);
    png_init_io(png, file);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) {
        const uint32_t *pixels = (const uint32_t *)(data + (size_t)y * stride); /* [width] */
        for (int x = 0; x < width; x++) {
            rgb_row[3 * x] = (uint8_t)(pixels[x] >> 16);
            rgb_row[3 * x + 1] = (uint8_t)(pixels[x] >> 8);
            rgb_row[3 * x + 2] = (uint8_t)pixels[x];
        }
        png_write_row(png, rgb_row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return TRUE;
}

/* Write the surface to a temporary file beside path, then rename it. */
static gboolean write_png_file(cairo_surface_t *sheet, const char *path, GError **error)
{
    char *tmp_path = g_strdup_printf("%s.XXXXXX", path);
    int fd = g_mkstemp(tmp_path);
    if (fd < 0) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_IO, "%s: cannot write: %s", path,
                    g_strerror(errno));
        g_free(tmp_path);
        return FALSE;
    }
    g_chmod(tmp_path, 0644); /* mkstemp makes it 0600; a PNG is for everyone to read */
    FILE *file = fdopen(fd, "wb");
    char reason[256] = "";
    gboolean ok = FALSE;
    if (!file) {
        g_strlcpy(reason, g_strerror(errno), sizeof reason);
        close(fd);
    } else {
        uint8_t *rgb_row = g_malloc((size_t)cairo_image_surface_get_width(sheet) * 3); /* [w][3] */
        ok = write_png_rows(file, sheet, rgb_row, reason);
        g_free(rgb_row);
        if (fclose(file) != 0 && ok) {
            g_strlcpy(reason, g_strerror(errno), sizeof reason);
            ok = FALSE;
        }
    }
    if (ok && g_rename(tmp_path, path) != 0) {
        g_strlcpy(reason, g_strerror(errno), sizeof reason);
        ok = FALSE;
    }
    if (!ok) {
        g_unlink(tmp_path);
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_IO, "%s: cannot write the PNG: %s", path, reason);
    }
    g_free(tmp_path);
    return ok;
}

gboolean clip_contact_sheet(const struct eng_video *video, const int *frame_indices, int n,
                            const struct clip_sheet_params *params, const char *path,
                            GError **error)
{
    struct clip_sheet_params p = params ? *params : clip_sheet_params_default();
    if (!video || video->n_frames < 1 || n < 1) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_ARG, "%s: no frames for the contact sheet", path);
        return FALSE;
    }
    for (int k = 0; k < n; k++) {
        if (frame_indices[k] < 0 || frame_indices[k] >= video->n_frames) {
            g_set_error(error, CLIP_ERROR, CLIP_ERROR_ARG, "%s: tile %d asks for frame %d of %d",
                        path, k, frame_indices[k], video->n_frames);
            return FALSE;
        }
    }
    struct sheet_layout layout;
    if (!plan_layout(video, n, &p, path, &layout, error))
        return FALSE;
    cairo_surface_t *sheet = draw_sheet(video, frame_indices, n, &layout, path, error);
    if (!sheet)
        return FALSE;
    gboolean ok = write_png_file(sheet, path, error);
    cairo_surface_destroy(sheet);
    return ok;
}
