/* gw-layout.h (private to libwenshu-docs): the GB/T 9704-2012 page layout in
 * millimetres. gw_layout_build() turns a gw_doc into pages of positioned text
 * runs (face, size, colour, baseline) and rules; the PDF and PNG exports draw
 * them as they are (gw-pdf.c). The DOCX export (gw-docx.c) uses the constants
 * below and also calls gw_layout_build() to plan its pages: where the layout
 * broke the title, which grid line the text starts on, the 标志's size and
 * where the 版记 falls. Every number comes from shared/specs/gongwen-gbt9704.md
 * or GB/T 9704-2012 itself (section numbers given), except those marked as
 * not given by the standard.
 *
 * Coordinates: millimetres from the top-left corner of an A4 page, y down.
 * A text line on the grid has its font's ascent line at the top of its grid
 * slot, so that the first line of the type area starts at the 37 mm margin.
 *
 * Ownership: a gw_layout owns its pages, runs and strings; free it with
 * gw_layout_free(). Thread-safety: gw_layout_build() uses its own pango
 * font map; layouts are plain data.
 */
#ifndef WENSHU_GW_LAYOUT_H
#define WENSHU_GW_LAYOUT_H

#include <stdint.h>

#include "gw-export.h"

/* ---- the page and the grid ---------------------------------------------------- */
#define GW_PAGE_W_MM 210.0
#define GW_PAGE_H_MM 297.0
#define GW_MARGIN_TOP_MM 37.0  /* 天头 */
#define GW_MARGIN_LEFT_MM 28.0 /* 订口 */
#define GW_AREA_W_MM 156.0     /* 版心 width */
#define GW_AREA_H_MM 225.0     /* 版心 height */
#define GW_GRID_LINES 22
#define GW_GRID_CHARS 28
#define GW_LINE_PITCH_MM (GW_AREA_H_MM / GW_GRID_LINES) /* ≈ 10.23 mm ≈ 29 pt */
#define GW_CELL_MM (GW_AREA_W_MM / GW_GRID_CHARS)       /* one 字 on the grid ≈ 5.57 mm */
#define GW_MM_PER_PT (25.4 / 72.0)

/* ---- sizes (pt): 二号 22, 三号 16, 四号 14 ------------------------------------- */
#define GW_SIZE_TITLE_PT 22.0
#define GW_SIZE_BODY_PT 16.0
#define GW_SIZE_SMALL_PT 14.0
#define GW_SIZE_MARK_MIN_PT 22.0 /* the red 发文机关标志 is scaled in [22, 42] pt */
#define GW_SIZE_MARK_MAX_PT 42.0

/* ---- positions (mm) ----------------------------------------------------------- */
#define GW_MARK_TOP_MM 35.0         /* 标志 top edge below the type-area top */
#define GW_LETTER_MARK_TOP_MM 30.0  /* 信函: 标志 top edge below the PAGE top */
#define GW_ORDER_MARK_TOP_MM 20.0   /* 命令: 标志 top edge below the type-area top */
#define GW_MINUTES_MARK_TOP_MM 35.0 /* 纪要: "XX纪要" top edge below the type-area top */
#define GW_RULE_BELOW_NUMBER_MM 4.0 /* red rule below the 发文字号 */
#define GW_PAGE_NUMBER_BELOW_MM 7.0 /* the page number's dash line below the type area */
#define GW_LETTER_RULE_W_MM 170.0   /* 信函 double rules */
#define GW_LETTER_RULE_BELOW_MM 4.0 /* first double rule below the 信函 标志 */
#define GW_LETTER_BOTTOM_RULE_MM 20.0 /* second double rule above the page's bottom edge */
#define GW_RULE_THICK_MM 0.35       /* 版记 first and last rules */
#define GW_RULE_THIN_MM 0.25        /* 版记 rules between */
/* Not given by the standard: the red rule under the 发文字号 and the 信函
 * double rules' weights and gap. */
#define GW_RED_RULE_MM 0.5
#define GW_DOUBLE_THICK_MM 0.8
#define GW_DOUBLE_THIN_MM 0.3
#define GW_DOUBLE_GAP_MM 0.8
/* Not given by the standard: the seal's size. 7.3.5.1 wants the seals of a
 * joint issue in rows that neither cross nor touch and stay inside the type
 * area; a 机关's seal is commonly 42 mm across. */
#define GW_SEAL_D_MM 42.0
#define GW_SEAL_GAP_MM 2.0 /* between two seals side by side or one row and the next */
/* Red ink: Y80 % M80 % (CMYK 0/80/80/0), as RGB. */
#define GW_RED_RGB 0xFF3333u
#define GW_BLACK_RGB 0x000000u

/* ---- the layout ---------------------------------------------------------------- */

enum gw_face {
    GW_FACE_FANGSONG,     /* 仿宋: body */
    GW_FACE_XIAOBIAOSONG, /* 小标宋: 标志, title */
    GW_FACE_HEITI,        /* 黑体: level-1 headings, 密级, 附件N */
    GW_FACE_KAITI,        /* 楷体: level-2 headings, 签发人 names */
    GW_FACE_SONGTI,       /* 宋体: page numbers */
    GW_FACE_COUNT,
};

/* One piece of text drawn with one font at one position. */
struct gw_run {
    char *text;         /* owned UTF-8 */
    double x_mm;        /* left edge of the run's advance */
    double baseline_mm; /* baseline, from the page top */
    double width_mm;    /* the advance the layout measured */
    enum gw_face face;
    double size_pt;
    uint32_t rgb;       /* 0xRRGGBB */
};

/* A horizontal rule: from x0 to x1 at y (the stroke's centre), width thick. */
struct gw_rule {
    double x0_mm, x1_mm, y_mm, width_mm;
    uint32_t rgb;
};

struct gw_page {
    struct gw_run *runs;   /* [n_runs] */
    int n_runs, cap_runs;
    struct gw_rule *rules; /* [n_rules] */
    int n_rules, cap_rules;
    int number;            /* the page number printed, 0: none */
};

struct gw_layout {
    struct gw_page *pages; /* [n_pages] */
    int n_pages, cap_pages;
    struct gw_fonts fonts; /* the fonts the runs name */
};

/* Lay the document out. fonts may be NULL (resolved here).
 * Ownership: *out is the caller's (gw_layout_free). Errors: false with err
 * (no CJK font, out of memory, a document without a title). */
bool gw_layout_build(const struct gw_doc *doc, const struct gw_fonts *fonts,
                     struct gw_layout **out, struct gw_err *err);
/* Free a layout and set *layout to NULL. Accepts NULL. */
void gw_layout_free(struct gw_layout **layout);

/* The fontconfig family a face is drawn with, and whether it is drawn bold
 * (a substituted 小标宋 is a bold serif). */
const char *gw_layout_face_family(const struct gw_fonts *fonts, enum gw_face face, bool *bold);

/* Pango pieces shared with the renderer, so that what is measured is what is
 * drawn: a context at 72 dpi (1 pango point = 1 pt) without hinting or glyph
 * rounding, for Chinese; and a face's font description (caller frees). */
struct _PangoContext;
struct _PangoFontDescription;
void gw_layout_prepare_context(struct _PangoContext *ctx);
struct _PangoFontDescription *gw_layout_font_desc(const struct gw_fonts *fonts, enum gw_face face,
                                                  double size_pt);

#endif /* WENSHU_GW_LAYOUT_H */
