/* deck.h: the slide deck of Wenshu (issue 6): the deck model, its outline
 * JSON, the themes in assets/themes/, and the exports: PPTX (PresentationML
 * through libxml2's writer and libzip), PDF and PNG thumbnails (cairo and
 * pango). Nothing here needs a model: the outline may come from the user, a
 * file, or the constrained generator in app/tasks.
 *
 * The exported deck has one slide more than deck->slides: the first slide
 * shows the deck's title and subtitle (deck_page_count()).
 *
 * Files are written to a temporary name beside the target and renamed into
 * place, so that nothing half-written is ever left at an output path.
 * Thread-safety: every function is safe on distinct decks; a deck and a
 * theme are read-only during exports and may be shared by them. */
#ifndef WENSHU_DECK_H
#define WENSHU_DECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors ---- */

struct deck_err {
    char msg[512]; /* one line, naming the file and the problem */
};

/* Format a reason into err (may be NULL) and return false. */
bool deck_fail(struct deck_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the model ---- */

enum {
    DECK_MAX_SLIDES = 200,
    DECK_MAX_BULLETS = 20,      /* a slide's bullets */
    DECK_MAX_LEVEL = 4,         /* bullet levels 0..4 */
    DECK_MAX_TITLE_CHARS = 200, /* code points of a title or subtitle */
    DECK_MAX_BULLET_CHARS = 500,
    DECK_MAX_NOTES_CHARS = 20000,
};

struct deck_slide {
    char *title;        /* never NULL; may be "" */
    char **bullets;     /* [n_bullets] UTF-8 strings */
    int *bullet_levels; /* [n_bullets], 0..DECK_MAX_LEVEL */
    int n_bullets;
    char *notes;     /* speaker notes, or NULL */
    char *image;     /* a path to a PNG or JPEG, or NULL */
    bool image_slot; /* leave room for a picture (true too when image is set) */
};

struct deck {
    char *title;               /* never NULL */
    char *subtitle;            /* or NULL */
    struct deck_slide *slides; /* [n_slides] */
    int n_slides;
};

/* Read an outline:
 *   {"title": "…", "subtitle": "…", "slides": [{"title": "…", "bullets": ["…",
 *    {"text": "…", "level": 1}], "notes": "…", "image": false | true | "pic.png"}]}
 * "title", "slides" and each slide's "title" and "bullets" are required;
 * "subtitle", "notes" and "image" may be missing or null. Unknown keys are
 * ignored. Relative image paths stay as written (deck_resolve_images()).
 * source names the input in messages ("outline.json").
 * Ownership: on success *out owns the deck; free it with deck_free().
 * Errors: false with err naming source and the key ("outline.json:
 * slides[2].bullets: expected an array"). */
bool deck_from_json(const char *text, size_t len, const char *source, struct deck **out,
                    struct deck_err *err);

/* The outline JSON of a deck (pretty-printed, malloc'd; caller frees), in the
 * format deck_from_json() reads. NULL when out of memory. */
char *deck_to_json(const struct deck *deck);

/* Make relative image paths relative to base_dir (e.g. the outline file's
 * folder). Errors: false when out of memory. */
bool deck_resolve_images(struct deck *deck, const char *base_dir, struct deck_err *err);

/* Check that every image exists and decodes as PNG or JPEG. Errors: false
 * with err naming the image file and the slide. */
bool deck_check_images(const struct deck *deck, struct deck_err *err);

/* The exported slide count: the title slide and the deck's slides. */
int deck_page_count(const struct deck *deck);

/* Free a deck and set *deck to NULL. Accepts NULL. */
void deck_free(struct deck **deck);

/* ---- themes ---- */

enum { DECK_FONT_NAME = 128 };

/* One text style's fonts: what the PPTX names (Office substitutes on the
 * user's machine) and the pango family list that draws the PDF here. */
struct deck_font {
    char latin[DECK_FONT_NAME];      /* "Arial" */
    char east_asian[DECK_FONT_NAME]; /* the standard name, "黑体", "方正小标宋简体" */
    char pango_families[2 * DECK_FONT_NAME + 8]; /* "Arial,WenQuanYi Zen Hei" */
    bool bold;
};

struct deck_theme {
    char name[64];
    uint32_t background; /* 0xRRGGBB */
    uint32_t title_color;
    uint32_t text_color;
    uint32_t accent; /* the bar, the rule, bullets */
    bool top_bar;    /* a band of accent across the top of every slide */
    bool title_rule; /* a rule of accent under the content slides' titles */
    struct deck_font title_font, body_font;
    double title_pt, subtitle_pt, body_pt; /* sizes in points */
};

/* Load assets/themes/<name>.json. The assets folder is $WENSHU_ASSETS_DIR,
 * else the source tree's (a development build), else the installed one.
 * The CJK families for the PDF are resolved through fontconfig (the 公文
 * table of substitutes, gw_fonts_resolve()).
 * Errors: false with err naming the file and key; an unknown name lists the
 * themes there are. */
bool deck_theme_load(const char *name, struct deck_theme *theme, struct deck_err *err);

/* The assets folder in use (a static string). */
const char *deck_assets_dir(void);

/* ---- exports ---- */

/* Write the deck as PowerPoint (.pptx, ECMA-376 PresentationML, 16:9). */
bool deck_export_pptx(const struct deck *deck, const struct deck_theme *theme, const char *path,
                      struct deck_err *err);

/* Draw the deck as PDF, one 16:9 page (960 x 540 pt) a slide. */
bool deck_export_pdf(const struct deck *deck, const struct deck_theme *theme, const char *path,
                     struct deck_err *err);

/* Thumbnails prefix-1.png, prefix-2.png ... at dpi (10..600; 96 dpi gives
 * 1280 x 720). On failure the thumbnails already written are removed. */
bool deck_export_png(const struct deck *deck, const struct deck_theme *theme, const char *prefix,
                     double dpi, struct deck_err *err);

#endif /* WENSHU_DECK_H */
