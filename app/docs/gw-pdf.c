/* gw-pdf.c: the PDF export and the PNG page previews. Both draw the pages of
 * gw_layout_build() (gw-layout.c) with cairo and pango as they are, in
 * points (1 mm = 72/25.4 pt), so that a PDF and its preview match the layout
 * millimetre for millimetre. Files go to a temporary name beside the target
 * and are renamed into place, so that nothing half-written is ever left at
 * the output path. */
#include <cairo-pdf.h>
#include <math.h>
#include <pango/pangocairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-file.h"
#include "gw-layout.h"

#define PT_PER_MM (72.0 / 25.4)

static void set_rgb(cairo_t *cr, uint32_t rgb)
{
    cairo_set_source_rgb(cr, ((rgb >> 16) & 0xFF) / 255.0, ((rgb >> 8) & 0xFF) / 255.0,
                         (rgb & 0xFF) / 255.0);
}

/* Draw one page in points on cr; ctx is a pango context made for cr. */
static void draw_page(cairo_t *cr, PangoContext *ctx, const struct gw_fonts *fonts,
                      const struct gw_page *page)
{
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    for (int i = 0; i < page->n_rules; i++) {
        const struct gw_rule *r = &page->rules[i];
        set_rgb(cr, r->rgb);
        cairo_set_line_width(cr, r->width_mm * PT_PER_MM);
        cairo_move_to(cr, r->x0_mm * PT_PER_MM, r->y_mm * PT_PER_MM);
        cairo_line_to(cr, r->x1_mm * PT_PER_MM, r->y_mm * PT_PER_MM);
        cairo_stroke(cr);
    }
    PangoLayout *pl = pango_layout_new(ctx);
    for (int i = 0; i < page->n_runs; i++) {
        const struct gw_run *run = &page->runs[i];
        PangoFontDescription *desc = gw_layout_font_desc(fonts, run->face, run->size_pt);
        pango_layout_set_font_description(pl, desc);
        pango_font_description_free(desc);
        pango_layout_set_text(pl, run->text, -1);
        double baseline = (double)pango_layout_get_baseline(pl) / PANGO_SCALE;
        set_rgb(cr, run->rgb);
        cairo_move_to(cr, run->x_mm * PT_PER_MM, run->baseline_mm * PT_PER_MM - baseline);
        pango_cairo_show_layout(cr, pl);
    }
    g_object_unref(pl);
}

static bool build(const struct gw_doc *doc, const struct gw_export_opts *opts,
                  struct gw_layout **lay, struct gw_err *err)
{
    return gw_layout_build(doc, opts ? opts->fonts : NULL, lay, err);
}

bool gw_export_pdf(const struct gw_doc *doc, const struct gw_export_opts *opts, const char *path,
                   int *n_pages, struct gw_err *err)
{
    struct gw_layout *lay = NULL;
    if (!build(doc, opts, &lay, err))
        return false;
    char *tmp = gw_file_temp_beside(path, err);
    if (!tmp) {
        gw_layout_free(&lay);
        return false;
    }
    cairo_surface_t *surf = cairo_pdf_surface_create(tmp, GW_PAGE_W_MM * PT_PER_MM,
                                                     GW_PAGE_H_MM * PT_PER_MM);
    cairo_t *cr = cairo_create(surf);
    if (doc->title.s)
        cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_TITLE, doc->title.s);
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATOR, "Wenshu");
    PangoFontMap *map = pango_cairo_font_map_new(); /* private: no shared caches */
    PangoContext *ctx = pango_font_map_create_context(map);
    pango_cairo_update_context(cr, ctx);
    gw_layout_prepare_context(ctx);
    for (int i = 0; i < lay->n_pages; i++) {
        draw_page(cr, ctx, &lay->fonts, &lay->pages[i]);
        cairo_show_page(cr);
    }
    g_object_unref(ctx);
    g_object_unref(map);
    cairo_destroy(cr);
    cairo_surface_finish(surf);
    cairo_status_t st = cairo_surface_status(surf);
    cairo_surface_destroy(surf);
    bool ok = st == CAIRO_STATUS_SUCCESS ||
              gw_fail(err, "%s: cannot write the PDF: %s", path, cairo_status_to_string(st));
    if (ok && n_pages)
        *n_pages = lay->n_pages;
    gw_layout_free(&lay);
    return gw_file_replace(tmp, path, ok, err);
}

/* Render one page at dpi into path (through a temporary file). */
static bool write_png_page(const struct gw_layout *lay, const struct gw_page *page, double dpi,
                           PangoFontMap *map, const char *path, struct gw_err *err)
{
    int w = (int)lround(GW_PAGE_W_MM / 25.4 * dpi), h = (int)lround(GW_PAGE_H_MM / 25.4 * dpi);
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_scale(cr, dpi / 72.0, dpi / 72.0);
    PangoContext *ctx = pango_font_map_create_context(map);
    pango_cairo_update_context(cr, ctx);
    gw_layout_prepare_context(ctx);
    draw_page(cr, ctx, &lay->fonts, page);
    g_object_unref(ctx);
    cairo_destroy(cr);
    char *tmp = gw_file_temp_beside(path, err);
    bool ok = tmp != NULL;
    if (ok) {
        cairo_status_t st = cairo_surface_write_to_png(surf, tmp);
        ok = st == CAIRO_STATUS_SUCCESS ||
             gw_fail(err, "%s: cannot write the PNG: %s", path, cairo_status_to_string(st));
        ok = gw_file_replace(tmp, path, ok, err);
    }
    cairo_surface_destroy(surf);
    return ok;
}

bool gw_export_png(const struct gw_doc *doc, const struct gw_export_opts *opts,
                   const char *prefix, double dpi, int *n_pages, struct gw_err *err)
{
    if (!(dpi >= 10 && dpi <= 1200))
        return gw_fail(err, "%s: preview resolution %g dpi is outside 10..1200", prefix, dpi);
    struct gw_layout *lay = NULL;
    if (!build(doc, opts, &lay, err))
        return false;
    bool ok = true;
    PangoFontMap *map = pango_cairo_font_map_new(); /* private: no shared caches */
    for (int i = 0; i < lay->n_pages && ok; i++) {
        size_t n = strlen(prefix) + 24;
        char *path = malloc(n);
        if (!path) {
            ok = gw_fail(err, "%s: out of memory", prefix);
            break;
        }
        snprintf(path, n, "%s-%d.png", prefix, i + 1);
        ok = write_png_page(lay, &lay->pages[i], dpi, map, path, err);
        free(path);
    }
    g_object_unref(map);
    if (ok && n_pages)
        *n_pages = lay->n_pages;
    gw_layout_free(&lay);
    return ok;
}
