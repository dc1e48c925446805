/* cli-scan.c: reading a scanned PDF (no text layer) through the vision
 * model: each page is rendered with poppler-glib and cairo, encoded by the
 * projector, and transcribed by the model as free text; or, with a remote
 * endpoint, written as a PNG into a temporary folder and sent as an image.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <glib.h>
#include <poppler.h>

#include "cli.h"

#define SCAN_LONG_EDGE 1280 /* pixels of a page's longer side */

bool cli_is_pdf(const char *path)
{
    char magic[5] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return n == sizeof magic && memcmp(magic, "%PDF-", 5) == 0;
}

/* Render one page into image (rgb malloc'd, the caller frees image->rgb). */
static bool render_page(PopplerPage *page, struct eng_image *image)
{
    double w_pt = 0, h_pt = 0;
    poppler_page_get_size(page, &w_pt, &h_pt);
    if (w_pt <= 0 || h_pt <= 0)
        return false;
    double scale = SCAN_LONG_EDGE / (w_pt > h_pt ? w_pt : h_pt);
    int w = (int)(w_pt * scale + 0.5), h = (int)(h_pt * scale + 0.5);
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(surface);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_scale(cr, scale, scale);
    poppler_page_render(page, cr);
    cairo_destroy(cr);
    cairo_surface_flush(surface);
    image->width = w;
    image->height = h;
    image->rgb = malloc((size_t)w * (size_t)h * 3); /* [h][w][3] */
    bool ok = image->rgb && cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS;
    const unsigned char *data = cairo_image_surface_get_data(surface);
    int stride = cairo_image_surface_get_stride(surface);
    for (int y = 0; ok && y < h; y++) {
        const uint32_t *row = (const uint32_t *)(data + (size_t)y * (size_t)stride);
        for (int x = 0; x < w; x++) {
            uint8_t *px = image->rgb + ((size_t)y * (size_t)w + (size_t)x) * 3;
            px[0] = (uint8_t)(row[x] >> 16);
            px[1] = (uint8_t)(row[x] >> 8);
            px[2] = (uint8_t)row[x];
        }
    }
    cairo_surface_destroy(surface);
    return ok;
}

/* One page's text. Locally the page is encoded by proj; with g->remote it
 * is written into images and sent from there. NULL after printing why. */
static char *transcribe_page(struct cli_gen *g, struct eng_mmproj *proj,
                             struct cli_temp_images *images, const char *path, PopplerPage *page,
                             int index, int n_pages)
{
    struct eng_image image = {0};
    if (!render_page(page, &image)) {
        free(image.rgb);
        cli_fail("%s: page %d cannot be rendered", path, index + 1);
        return NULL;
    }
    struct eng_media *media = NULL;
    char *png = NULL; /* the page's file, with g->remote */
    struct eng_err err;
    enum eng_status st = ENG_STATUS_OK;
    if (g->remote)
        png = cli_temp_images_write(images, &image);
    else
        st = eng_mmproj_encode_image(proj, &image, &media, &err);
    free(image.rgb);
    if (g->remote && !png)
        return NULL;
    if (st) {
        cli_fail("%s: page %d: %s", path, index + 1, err.msg);
        return NULL;
    }
    char *user = g_strdup_printf("这是扫描件第%d页（共%d页）：%s\n请逐字转写页面上的全部文字，"
                                 "保持原有段落和标题层次，不加说明和评论。",
                                 index + 1, n_pages, ENG_MEDIA_MARKER);
    const char *names[1] = {png ? png : path};
    char *text = cli_gen_turn(g, "你是一名细致的文字录入员，只转写看到的文字。", user, &media,
                              names, 1, NULL, 1500, NULL);
    g_free(user);
    g_free(png);
    eng_media_free(&media);
    return text;
}

char *cli_transcribe_pdf(struct cli_gen *g, struct eng_mmproj *proj, const char *path,
                         int max_pages)
{
    GError *error = NULL;
    char *uri = g_filename_to_uri(path, NULL, &error);
    PopplerDocument *doc = uri ? poppler_document_new_from_file(uri, NULL, &error) : NULL;
    g_free(uri);
    if (!doc) {
        cli_fail("%s: not a readable PDF: %s", path, error ? error->message : "unknown error");
        g_clear_error(&error);
        return NULL;
    }
    int n_pages = poppler_document_get_n_pages(doc);
    if (n_pages <= 0) {
        g_object_unref(doc);
        cli_fail("%s: the PDF has no pages", path);
        return NULL;
    }
    int n = n_pages < max_pages ? n_pages : max_pages;
    if (n < n_pages)
        fprintf(stderr, "wenshu-cli: %s: reading the first %d of %d scanned pages\n", path, n,
                n_pages);
    GString *all = g_string_new(NULL);
    struct cli_temp_images images = {0}; /* the pages sent to g->remote */
    bool ok = true;
    for (int i = 0; ok && i < n; i++) {
        fprintf(stderr, "\rwenshu-cli: %s: transcribing page %d of %d   ", path, i + 1, n);
        PopplerPage *page = poppler_document_get_page(doc, i);
        char *text = page ? transcribe_page(g, proj, &images, path, page, i, n_pages) : NULL;
        if (page)
            g_object_unref(page);
        ok = text != NULL;
        if (ok) {
            g_string_append(all, text);
            g_string_append_c(all, '\n');
        }
        free(text);
    }
    fprintf(stderr, "\n");
    cli_temp_images_remove(&images);
    g_object_unref(doc);
    char *out = ok ? strdup(all->str) : NULL;
    g_string_free(all, TRUE);
    return out;
}
