/* deck-pdf.c: the deck's PDF export and PNG thumbnails (deck.h), drawn with
 * cairo and pango in points on a 960 x 540 pt page (the PPTX's 16:9 slide,
 * 12700 EMU a point), and the text fitting both exports share
 * (deck-internal.h): a title or a bullet list that does not fit its box is
 * shrunk in steps of 5 % until it does, down to a floor, and text is wrapped
 * at word or character boundaries (CJK text has no spaces). Pictures are
 * decoded by the engine (PNG, JPEG) and scaled into their slot, keeping their
 * aspect. */
#include <cairo-pdf.h>
#include <math.h>
#include <pango/pangocairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deck-internal.h"
#include "gw-file.h"
#include "wenshu-engine.h"

#define PAGE_W_PT ((double)DECK_EMU_W / DECK_EMU_PER_PT) /* 960 */
#define PAGE_H_PT ((double)DECK_EMU_H / DECK_EMU_PER_PT) /* 540 */
#define PT(emu) ((double)(emu) / DECK_EMU_PER_PT)

/* ---- geometry (deck-internal.h) ---- */

struct deck_box deck_box_get(enum deck_box_id id)
{
    switch (id) {
    case DECK_BOX_TOP_BAR:
        return (struct deck_box){0, 0, DECK_EMU_W, 228600};
    case DECK_BOX_COVER_TITLE:
        return (struct deck_box){914400, 1965960, 10363200, 1645920};
    case DECK_BOX_COVER_RULE:
        return (struct deck_box){3048000, 3840480, 6096000, 38100};
    case DECK_BOX_COVER_SUBTITLE:
        return (struct deck_box){914400, 4023360, 10363200, 1280160};
    case DECK_BOX_TITLE:
        return (struct deck_box){609600, 457200, 10972800, 1143000};
    case DECK_BOX_TITLE_RULE:
        return (struct deck_box){609600, 1645920, 10972800, 38100};
    case DECK_BOX_BODY:
        return (struct deck_box){609600, 1828800, 10972800, 4572000};
    case DECK_BOX_BODY_NARROW:
        return (struct deck_box){609600, 1828800, 6400800, 4572000};
    case DECK_BOX_PICTURE:
        return (struct deck_box){7315200, 1828800, 4267200, 4572000};
    }
    return (struct deck_box){0, 0, 0, 0};
}

double deck_level_pt(const struct deck_theme *theme, int level)
{
    static const double factor[] = {1.0, 0.85, 0.75, 0.75, 0.75}; /* [DECK_MAX_LEVEL + 1] */
    return theme->body_pt * factor[level < 0 ? 0 : level > DECK_MAX_LEVEL ? DECK_MAX_LEVEL : level];
}

const char *deck_level_bullet(int level)
{
    return level % 2 ? "–" : "•";
}

/* ---- text ---- */

static void set_rgb(cairo_t *cr, uint32_t rgb)
{
    cairo_set_source_rgb(cr, ((rgb >> 16) & 0xFF) / 255.0, ((rgb >> 8) & 0xFF) / 255.0,
                         (rgb & 0xFF) / 255.0);
}

/* Points as layout units, no hinting: the same metrics at every scale. */
static void prepare_context(PangoContext *ctx)
{
    pango_cairo_context_set_resolution(ctx, 72);
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(ctx, fo);
    cairo_font_options_destroy(fo);
}

/* Set text into pl in font f at size_pt, wrapped at width_pt. */
static void set_text(PangoLayout *pl, const struct deck_font *f, double size_pt, double width_pt,
                     const char *text, PangoAlignment align)
{
    PangoFontDescription *desc = pango_font_description_from_string(f->pango_families);
    pango_font_description_set_family(desc, f->pango_families);
    pango_font_description_set_size(desc, (int)lround(size_pt * PANGO_SCALE));
    pango_font_description_set_weight(desc, f->bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_layout_set_font_description(pl, desc);
    pango_font_description_free(desc);
    pango_layout_set_width(pl, (int)(width_pt * PANGO_SCALE));
    pango_layout_set_wrap(pl, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_alignment(pl, align);
    pango_layout_set_text(pl, text, -1);
}

static double layout_height(PangoLayout *pl)
{
    int w = 0, h = 0;
    pango_layout_get_size(pl, &w, &h);
    return (double)h / PANGO_SCALE;
}

/* The bullets of a slide laid out at scale in a box width_pt wide: their
 * total height, and when cr is not NULL, drawn from (x, y). */
static double bullets_height(PangoContext *ctx, cairo_t *cr, const struct deck_theme *t,
                             const struct deck_slide *s, double scale, double x, double y,
                             double width_pt)
{
    PangoLayout *pl = pango_layout_new(ctx);
    double top = 0;
    for (int i = 0; i < s->n_bullets; i++) {
        int level = s->bullet_levels[i];
        double size = deck_level_pt(t, level) * scale;
        double bullet_x = PT((long)level * DECK_LEVEL_STEP);
        double text_x = bullet_x + PT(DECK_BULLET_HANG);
        if (i > 0)
            top += 0.3 * size; /* space before a paragraph (spcBef in the PPTX) */
        set_text(pl, &t->body_font, size, width_pt - text_x, s->bullets[i], PANGO_ALIGN_LEFT);
        double h = layout_height(pl);
        if (cr) {
            set_rgb(cr, t->text_color);
            cairo_move_to(cr, x + text_x, y + top);
            pango_cairo_show_layout(cr, pl);
            set_text(pl, &t->body_font, size, PT(DECK_BULLET_HANG), deck_level_bullet(level),
                     PANGO_ALIGN_LEFT);
            set_rgb(cr, t->accent);
            cairo_move_to(cr, x + bullet_x, y + top);
            pango_cairo_show_layout(cr, pl);
        }
        top += h;
    }
    g_object_unref(pl);
    return top;
}

static double text_height(PangoContext *ctx, const struct deck_font *f, double size_pt,
                          double width_pt, const char *text)
{
    PangoLayout *pl = pango_layout_new(ctx);
    set_text(pl, f, size_pt, width_pt, text, PANGO_ALIGN_LEFT);
    double h = layout_height(pl);
    g_object_unref(pl);
    return h;
}

/* The largest scale in 5 % steps from 1 down to min at which fits(scale). */
static double title_scale(PangoContext *ctx, const struct deck_theme *t, const char *title,
                          double size_pt, struct deck_box box)
{
    double scale = 1.0;
    while (scale > DECK_MIN_TITLE_SCALE + 1e-9 &&
           text_height(ctx, &t->title_font, size_pt * scale, PT(box.w), title) > PT(box.h))
        scale -= 0.05;
    return scale;
}

static const struct deck_slide *page_slide(const struct deck *deck, int page)
{
    return page > 0 ? &deck->slides[page - 1] : NULL;
}

static void fit_with(PangoContext *ctx, const struct deck *deck, const struct deck_theme *t,
                     int page, struct deck_fit *fit)
{
    const struct deck_slide *s = page_slide(deck, page);
    fit->body_scale = 1.0;
    if (!s) {
        fit->title_scale =
            title_scale(ctx, t, deck->title, t->title_pt * 1.2, deck_box_get(DECK_BOX_COVER_TITLE));
        return;
    }
    fit->title_scale = title_scale(ctx, t, s->title, t->title_pt, deck_box_get(DECK_BOX_TITLE));
    struct deck_box body = deck_box_get(s->image_slot ? DECK_BOX_BODY_NARROW : DECK_BOX_BODY);
    while (fit->body_scale > DECK_MIN_BODY_SCALE + 1e-9 &&
           bullets_height(ctx, NULL, t, s, fit->body_scale, 0, 0, PT(body.w)) > PT(body.h))
        fit->body_scale -= 0.05;
}

void deck_fit_page(const struct deck *deck, const struct deck_theme *theme, int page,
                   struct deck_fit *fit)
{
    PangoFontMap *map = pango_cairo_font_map_new(); /* private: no shared caches */
    PangoContext *ctx = pango_font_map_create_context(map);
    prepare_context(ctx);
    fit_with(ctx, deck, theme, page, fit);
    g_object_unref(ctx);
    g_object_unref(map);
}

/* ---- drawing ---- */

static void fill_box(cairo_t *cr, struct deck_box b, uint32_t rgb)
{
    set_rgb(cr, rgb);
    cairo_rectangle(cr, PT(b.x), PT(b.y), PT(b.w), PT(b.h));
    cairo_fill(cr);
}

/* Text in a box; valign: 0 top, 1 middle, 2 bottom. Clipped to the box. */
static void draw_text(cairo_t *cr, PangoContext *ctx, const struct deck_font *f, double size_pt,
                      uint32_t rgb, struct deck_box b, const char *text, PangoAlignment align,
                      int valign)
{
    PangoLayout *pl = pango_layout_new(ctx);
    set_text(pl, f, size_pt, PT(b.w), text, align);
    double h = layout_height(pl);
    double y = PT(b.y) + (valign == 0 ? 0 : valign == 1 ? (PT(b.h) - h) / 2 : PT(b.h) - h);
    cairo_save(cr);
    cairo_rectangle(cr, PT(b.x), PT(b.y), PT(b.w), PT(b.h));
    cairo_clip(cr);
    set_rgb(cr, rgb);
    cairo_move_to(cr, PT(b.x), y);
    pango_cairo_show_layout(cr, pl);
    cairo_restore(cr);
    g_object_unref(pl);
}

/* An eng_image as a cairo surface (RGB24: one uint32 0x00RRGGBB a pixel). */
static cairo_surface_t *image_surface(const struct eng_image *img)
{
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, img->width, img->height);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS)
        return surf;
    cairo_surface_flush(surf);
    unsigned char *data = cairo_image_surface_get_data(surf);
    int stride = cairo_image_surface_get_stride(surf);
    for (int y = 0; y < img->height; y++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)y * (size_t)stride); /* [width] */
        const uint8_t *src = img->rgb + (size_t)y * (size_t)img->width * 3;      /* [width][3] */
        for (int x = 0; x < img->width; x++)
            row[x] = (uint32_t)src[3 * x] << 16 | (uint32_t)src[3 * x + 1] << 8 | src[3 * x + 2];
    }
    cairo_surface_mark_dirty(surf);
    return surf;
}

/* The picture scaled into box, centred, keeping its aspect. */
static bool draw_picture(cairo_t *cr, const char *path, struct deck_box b, struct deck_err *err)
{
    struct eng_image *img = NULL;
    struct eng_err eerr = {{0}};
    struct eng_image_params ip = eng_image_params_default();
    if (eng_image_load(path, &ip, &img, &eerr) != ENG_STATUS_OK)
        return deck_fail(err, "%s: %s", path, eerr.msg);
    cairo_surface_t *surf = image_surface(img);
    double scale = fmin(PT(b.w) / img->width, PT(b.h) / img->height);
    double w = img->width * scale, h = img->height * scale;
    cairo_save(cr);
    cairo_translate(cr, PT(b.x) + (PT(b.w) - w) / 2, PT(b.y) + (PT(b.h) - h) / 2);
    cairo_scale(cr, scale, scale);
    cairo_set_source_surface(cr, surf, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
    cairo_rectangle(cr, 0, 0, img->width, img->height);
    cairo_fill(cr);
    cairo_restore(cr);
    bool ok = cairo_surface_status(surf) == CAIRO_STATUS_SUCCESS ||
              deck_fail(err, "%s: out of memory drawing the picture", path);
    cairo_surface_destroy(surf);
    eng_image_free(&img);
    return ok;
}

/* An empty picture slot: a thin dashed frame in the accent colour. */
static void draw_slot(cairo_t *cr, const struct deck_theme *t, struct deck_box b)
{
    static const double dash[] = {6, 4}; /* points on, off */
    cairo_save(cr);
    set_rgb(cr, t->accent);
    cairo_set_line_width(cr, 1);
    cairo_set_dash(cr, dash, 2, 0);
    cairo_rectangle(cr, PT(b.x) + 0.5, PT(b.y) + 0.5, PT(b.w) - 1, PT(b.h) - 1);
    cairo_stroke(cr);
    cairo_restore(cr);
}

static bool draw_page(cairo_t *cr, PangoContext *ctx, const struct deck *deck,
                      const struct deck_theme *t, int page, struct deck_err *err)
{
    struct deck_fit fit;
    fit_with(ctx, deck, t, page, &fit);
    set_rgb(cr, t->background);
    cairo_paint(cr);
    if (t->top_bar)
        fill_box(cr, deck_box_get(DECK_BOX_TOP_BAR), t->accent);
    const struct deck_slide *s = page_slide(deck, page);
    if (!s) {
        draw_text(cr, ctx, &t->title_font, t->title_pt * 1.2 * fit.title_scale, t->title_color,
                  deck_box_get(DECK_BOX_COVER_TITLE), deck->title, PANGO_ALIGN_CENTER, 2);
        if (t->title_rule)
            fill_box(cr, deck_box_get(DECK_BOX_COVER_RULE), t->accent);
        if (deck->subtitle)
            draw_text(cr, ctx, &t->body_font, t->subtitle_pt, t->text_color,
                      deck_box_get(DECK_BOX_COVER_SUBTITLE), deck->subtitle, PANGO_ALIGN_CENTER, 0);
        return true;
    }
    draw_text(cr, ctx, &t->title_font, t->title_pt * fit.title_scale, t->title_color,
              deck_box_get(DECK_BOX_TITLE), s->title, PANGO_ALIGN_LEFT, 1);
    if (t->title_rule)
        fill_box(cr, deck_box_get(DECK_BOX_TITLE_RULE), t->accent);
    struct deck_box body = deck_box_get(s->image_slot ? DECK_BOX_BODY_NARROW : DECK_BOX_BODY);
    cairo_save(cr);
    cairo_rectangle(cr, PT(body.x), PT(body.y), PT(body.w), PT(body.h));
    cairo_clip(cr);
    bullets_height(ctx, cr, t, s, fit.body_scale, PT(body.x), PT(body.y), PT(body.w));
    cairo_restore(cr);
    if (s->image)
        return draw_picture(cr, s->image, deck_box_get(DECK_BOX_PICTURE), err);
    if (s->image_slot)
        draw_slot(cr, t, deck_box_get(DECK_BOX_PICTURE));
    return true;
}

/* ---- files ---- */

/* gw_file_temp_beside() (gw-file.h) with the deck's error. */
static char *temp_beside(const char *path, struct deck_err *err)
{
    struct gw_err file_err = {{0}};
    char *tmp = gw_file_temp_beside(path, &file_err);
    if (!tmp)
        deck_fail(err, "%s", file_err.msg);
    return tmp;
}

/* gw_file_replace() with the deck's error: rename tmp over path when ok, else
 * remove it; frees tmp. */
static bool finish_file(char *tmp, const char *path, bool ok, struct deck_err *err)
{
    struct gw_err file_err = {{0}};
    bool replaced = gw_file_replace(tmp, path, ok, &file_err);
    if (ok && !replaced)
        deck_fail(err, "%s", file_err.msg);
    return replaced;
}

bool deck_export_pdf(const struct deck *deck, const struct deck_theme *theme, const char *path,
                     struct deck_err *err)
{
    char *tmp = temp_beside(path, err);
    if (!tmp)
        return false;
    cairo_surface_t *surf = cairo_pdf_surface_create(tmp, PAGE_W_PT, PAGE_H_PT);
    cairo_t *cr = cairo_create(surf);
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_TITLE, deck->title);
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATOR, "Wenshu");
    PangoFontMap *map = pango_cairo_font_map_new(); /* private: no shared caches */
    PangoContext *ctx = pango_font_map_create_context(map);
    pango_cairo_update_context(cr, ctx);
    prepare_context(ctx);
    bool ok = true;
    for (int page = 0; ok && page < deck_page_count(deck); page++) {
        ok = draw_page(cr, ctx, deck, theme, page, err);
        cairo_show_page(cr);
    }
    g_object_unref(ctx);
    g_object_unref(map);
    cairo_destroy(cr);
    cairo_surface_finish(surf);
    cairo_status_t st = cairo_surface_status(surf);
    cairo_surface_destroy(surf);
    if (ok && st != CAIRO_STATUS_SUCCESS)
        ok = deck_fail(err, "%s: cannot write the PDF: %s", path, cairo_status_to_string(st));
    return finish_file(tmp, path, ok, err);
}

/* Render one page at dpi into path (through a temporary file). */
static bool write_png_page(const struct deck *deck, const struct deck_theme *theme, int page,
                           double dpi, PangoFontMap *map, const char *path, struct deck_err *err)
{
    int w = (int)lround(PAGE_W_PT / 72 * dpi), h = (int)lround(PAGE_H_PT / 72 * dpi);
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(surf);
    cairo_scale(cr, dpi / 72.0, dpi / 72.0);
    PangoContext *ctx = pango_font_map_create_context(map);
    pango_cairo_update_context(cr, ctx);
    prepare_context(ctx);
    bool ok = draw_page(cr, ctx, deck, theme, page, err);
    g_object_unref(ctx);
    cairo_destroy(cr);
    char *tmp = ok ? temp_beside(path, err) : NULL;
    if (tmp) {
        cairo_status_t st = cairo_surface_write_to_png(surf, tmp);
        ok = st == CAIRO_STATUS_SUCCESS ||
             deck_fail(err, "%s: cannot write the PNG: %s", path, cairo_status_to_string(st));
        ok = finish_file(tmp, path, ok, err);
    } else {
        ok = false;
    }
    cairo_surface_destroy(surf);
    return ok;
}

/* prefix-<page + 1>.png, malloc'd. */
static char *png_name(const char *prefix, int page)
{
    size_t n = strlen(prefix) + 24;
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s-%d.png", prefix, page + 1);
    return path;
}

bool deck_export_png(const struct deck *deck, const struct deck_theme *theme, const char *prefix,
                     double dpi, struct deck_err *err)
{
    if (!(dpi >= 10 && dpi <= 600))
        return deck_fail(err, "%s: thumbnail resolution %g dpi is outside 10..600", prefix, dpi);
    PangoFontMap *map = pango_cairo_font_map_new(); /* private: no shared caches */
    int written = 0;
    bool ok = true;
    for (int page = 0; ok && page < deck_page_count(deck); page++) {
        char *path = png_name(prefix, page);
        ok = path ? write_png_page(deck, theme, page, dpi, map, path, err)
                  : deck_fail(err, "%s: out of memory", prefix);
        free(path);
        if (ok)
            written = page + 1;
    }
    g_object_unref(map);
    for (int page = 0; !ok && page < written; page++) {
        char *path = png_name(prefix, page);
        if (path)
            unlink(path);
        free(path);
    }
    return ok;
}
