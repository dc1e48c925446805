/* gw-export.h: the GB/T 9704-2012 layout and its exports: PDF (cairo and
 * pango), PNG page previews, and DOCX (libzip, libxml2's writer).
 *
 * One layout serves both exports: the same page, margins, grid, fonts and
 * positions (gw-layout.c computes them in millimetres; the PDF draws them,
 * the DOCX states them as Word styles, section margins and a document grid).
 * Files are written to a temporary file beside the target and renamed, so
 * that nothing half-written is ever left at the output path.
 */
#ifndef WENSHU_GW_EXPORT_H
#define WENSHU_GW_EXPORT_H

#include "gongwen.h"

/* Which installed font stands in for each face the standard names. */
struct gw_font_choice {
    const char *face;       /* "仿宋", "小标宋", "黑体", "楷体", "宋体" */
    char family[128];       /* the family used (fontconfig name) */
    bool substituted;       /* not the face itself or its _GB2312 form */
};

struct gw_fonts {
    struct gw_font_choice fangsong, xiaobiaosong, heiti, kaiti, songti;
};

/* Resolve the faces through the table of acceptable substitutes
 * (仿宋_GB2312 -> 仿宋 -> FangSong -> an installed CJK serif; 方正小标宋简体 ->
 * 小标宋 -> an installed CJK serif bold; 黑体 -> SimHei -> a CJK sans; 楷体_GB2312
 * -> 楷体 -> KaiTi -> AR PL UKai -> a CJK serif; 宋体 -> SimSun -> a CJK serif).
 * Errors: false when no CJK font is installed at all. */
bool gw_fonts_resolve(struct gw_fonts *fonts, struct gw_err *err);
/* One line per substitution ("仿宋 → AR PL UMing CN（未安装仿宋）"), into
 * out[size]; "" when none. */
void gw_fonts_describe(const struct gw_fonts *fonts, char *out, size_t size);

struct gw_export_opts {
    const struct gw_fonts *fonts; /* NULL: resolved on the fly */
};

/* Lay out and write the document as PDF. Returns the page count in *n_pages
 * (may be NULL). Errors: false with err naming path. */
bool gw_export_pdf(const struct gw_doc *doc, const struct gw_export_opts *opts, const char *path,
                   int *n_pages, struct gw_err *err);

/* Page previews: PNG files prefix-1.png, prefix-2.png ... at dpi. */
bool gw_export_png(const struct gw_doc *doc, const struct gw_export_opts *opts,
                   const char *prefix, double dpi, int *n_pages, struct gw_err *err);

/* Write the document as a Word file (.docx). */
bool gw_export_docx(const struct gw_doc *doc, const struct gw_export_opts *opts, const char *path,
                    struct gw_err *err);

#endif /* WENSHU_GW_EXPORT_H */
