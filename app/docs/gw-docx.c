/* gw-docx.c: the Word (.docx) export of a 公文 (gw-export.h).
 *
 * The layout of GB/T 9704-2012 is stated the way Word keeps it, so that the
 * file stays editable: named paragraph styles (Title, heading 1-4, 公文正文,
 * 版记, 发文机关标志, 发文字号 ...), a section with A4 paper, the standard
 * margins and a linesAndChars document grid of 22 lines x 28 characters, and
 * odd/even footers with PAGE fields.
 *
 * The page breaks follow the PDF's layout (gw-layout.c), which this export
 * runs once with and once without the 版记: the 版记 is a floating table
 * anchored to the foot of the type area, with its rules as table borders, on
 * the text's last page when the layout put it there, else after a nextPage
 * section break (and a blank page's section) whose footers carry no number.
 * The layout also gives the 标志's size, the grid line where the text
 * after the 版头 starts, and where each name of the 落款 and the date stand
 * (one agency a line, or side by side in rows of seals): this export holds
 * each at that edge or centre by alignment, indents and tab stops, on the
 * same grid lines. Without a CJK font (no layout) the 版记 falls back to an
 * evenPage section and the 落款 to nominal widths. Paragraph defaults match
 * the layout's typesetting:
 * characters condensed 0.25 pt (the layout sets 28 a line, 15.8 pt apart),
 * no punctuation hanging into the margin, no extra space between Chinese and
 * Latin text.
 *
 * Fonts are named by their standard names (仿宋_GB2312, 方正小标宋简体, 黑体,
 * 楷体_GB2312, 宋体) in every w:rFonts attribute that names a face; no theme
 * part is written and no w:*Theme attribute appears, so that no theme can
 * override them. Word substitutes on the user's machine.
 *
 * Every XML part is written with libxml2's xmlTextWriter into memory, the
 * parts are zipped with libzip into a temporary file beside the target, and
 * that file is renamed over the target only when complete (ooxml.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-export.h"
#include "gw-layout.h"
#include "gw-text.h"
#include "ooxml.h"

/* ---- the page, in twips (1/1440 inch) ---------------------------------------------- */

#define TWIPS_PER_MM (1440.0 / 25.4)
#define MM(mm) ((int)((mm)*TWIPS_PER_MM + 0.5)) /* mm >= 0 */

enum {
    PAGE_W = 11906,                /* A4 210 mm */
    PAGE_H = 16838,                /* A4 297 mm */
    TEXT_W = PAGE_W - 1587 - 1474, /* 156 mm: the type area's width, 8845 */
    LINE_PITCH = 12756 / 22,       /* 225 mm / 22 lines, rounded down: 579 (28.95 pt) */
    CHAR_TW = (TEXT_W + 14) / 28,  /* one grid character, 156 mm / 28: 316 */
    PT = 20,                       /* twips per point */
    SZ_3HAO = 32,                  /* 三号 16 pt, in half-points */
    SZ_4HAO = 28,                  /* 四号 14 pt */
    SZ_2HAO = 44,                  /* 二号 22 pt */
    CHAR_4HAO = 14 * PT,           /* one 四号 character: 280 */
};

/* The standard names of the faces; Word substitutes what is not installed. */
static const char FONT_FANGSONG[] = "仿宋_GB2312";
static const char FONT_XIAOBIAOSONG[] = "方正小标宋简体";
static const char FONT_HEITI[] = "黑体";
static const char FONT_KAITI[] = "楷体_GB2312";
static const char FONT_SONGTI[] = "宋体";
static const char RED[] = "FF0000";

static const char NS_W[] = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
static const char CT_WML[] = "application/vnd.openxmlformats-officedocument.wordprocessingml.";

/* Relationship ids of document.xml's parts. */
static const char RID_STYLES[] = "rIdStyles";
static const char RID_SETTINGS[] = "rIdSettings";
static const char RID_FONTS[] = "rIdFontTable";
static const char RID_FOOTER_ODD[] = "rIdFooterOdd";
static const char RID_FOOTER_EVEN[] = "rIdFooterEven";
static const char RID_FOOTER_EMPTY[] = "rIdFooterEmpty";
static const char RID_HEADER_LETTER[] = "rIdHeaderLetter";
static const char RID_FOOTER_LETTER[] = "rIdFooterLetter";

/* ---- XML writing (ooxml.h) --------------------------------------------------------- */

/* <name w:val="value"/> */
static void el_val(struct ooxml_xml *x, const char *name, const char *value)
{
    ooxml_el_attr(x, name, "w:val", value);
}

static void el_val_int(struct ooxml_xml *x, const char *name, int value)
{
    ooxml_start(x, name);
    ooxml_attr_long(x, "w:val", value);
    ooxml_end(x);
}

/* The root element of a WordprocessingML part, with the w and r namespaces. */
static void start_w_root(struct ooxml_xml *x, const char *name)
{
    ooxml_start(x, name);
    ooxml_attr(x, "xmlns:w", NS_W);
    ooxml_attr(x, "xmlns:r", OOXML_NS_R);
}

/* ---- run and paragraph properties ------------------------------------------------- */

/* Character formatting: font face (all four slots), colour, size. */
struct run_props {
    const char *font;  /* NULL: the style's */
    const char *color; /* NULL: the style's */
    int sz;            /* half-points; 0: the style's */
};

static void write_fonts(struct ooxml_xml *x, const char *font)
{
    ooxml_start(x, "w:rFonts");
    ooxml_attr(x, "w:ascii", font);
    ooxml_attr(x, "w:hAnsi", font);
    ooxml_attr(x, "w:eastAsia", font);
    ooxml_attr(x, "w:cs", font);
    ooxml_end(x);
}

/* <w:rPr> in schema order; nothing when rp sets nothing. */
static void write_rpr(struct ooxml_xml *x, const struct run_props *rp)
{
    if (!rp || (!rp->font && !rp->color && !rp->sz))
        return;
    ooxml_start(x, "w:rPr");
    if (rp->font)
        write_fonts(x, rp->font);
    if (rp->color)
        el_val(x, "w:color", rp->color);
    if (rp->sz) {
        el_val_int(x, "w:sz", rp->sz);
        el_val_int(x, "w:szCs", rp->sz);
    }
    ooxml_end(x);
}

/* A paragraph border line. */
struct border {
    const char *val; /* "single", "thickThinSmallGap" ... */
    int sz;          /* eighths of a point */
    const char *color;
    int space; /* points between text and line */
};

/* A tab stop: val is "left", "center" or "right"; pos in twips from the
 * type area's left edge (Word, and LibreOffice in a .docx, measure tab stops
 * from the margin, not from the paragraph's indent). */
struct tab_stop {
    const char *val;
    int pos;
};

/* Paragraph formatting; zero fields are left to the style. */
struct para_props {
    const char *style;
    bool keep_next;
    bool no_keep_next; /* override a style's keepNext */
    bool page_break_before;
    const struct border *top, *bottom;
    int tab_right;   /* a right-aligned tab stop at this position (twips), 0: none */
    int tab_left;    /* a left-aligned tab stop at this position (twips), 0: none */
    const struct tab_stop *tabs; /* [n_tabs] more tab stops, by position; NULL: none */
    int n_tabs;
    bool no_snap;    /* do not snap to the document grid */
    int before;      /* twips */
    int after;       /* twips */
    bool set_before; /* write before even when 0 */
    int line_exact;  /* exact line height in twips, 0: the style's */
    bool set_ind;    /* write the indents below */
    int ind_left, ind_right, first_line, hanging;
    int first_line_chars; /* hundredths of a character, 0: none */
    const char *jc;       /* "left", "center", "right", "both" or NULL */
    int outline_lvl;      /* 1-based outline level, 0: none */
};

static void write_border(struct ooxml_xml *x, const char *side, const struct border *b)
{
    ooxml_start(x, side);
    ooxml_attr(x, "w:val", b->val);
    ooxml_attr_long(x, "w:sz", b->sz);
    ooxml_attr_long(x, "w:space", b->space);
    ooxml_attr(x, "w:color", b->color);
    ooxml_end(x);
}

/* The children of a w:pPr in the order the schema requires. */
static void write_ppr_body(struct ooxml_xml *x, const struct para_props *pp)
{
    if (pp->style)
        el_val(x, "w:pStyle", pp->style);
    if (pp->keep_next)
        ooxml_el(x, "w:keepNext");
    else if (pp->no_keep_next)
        el_val(x, "w:keepNext", "0");
    if (pp->page_break_before)
        ooxml_el(x, "w:pageBreakBefore");
    if (pp->top || pp->bottom) {
        ooxml_start(x, "w:pBdr");
        if (pp->top)
            write_border(x, "w:top", pp->top);
        if (pp->bottom)
            write_border(x, "w:bottom", pp->bottom);
        ooxml_end(x);
    }
    if (pp->tab_right || pp->tab_left || pp->n_tabs > 0) {
        ooxml_start(x, "w:tabs");
        if (pp->tab_right || pp->tab_left) {
            ooxml_start(x, "w:tab");
            ooxml_attr(x, "w:val", pp->tab_right ? "right" : "left");
            ooxml_attr_long(x, "w:pos", pp->tab_right ? pp->tab_right : pp->tab_left);
            ooxml_end(x);
        }
        for (int i = 0; i < pp->n_tabs; i++) {
            ooxml_start(x, "w:tab");
            ooxml_attr(x, "w:val", pp->tabs[i].val);
            ooxml_attr_long(x, "w:pos", pp->tabs[i].pos);
            ooxml_end(x);
        }
        ooxml_end(x);
    }
    if (pp->no_snap)
        el_val(x, "w:snapToGrid", "0");
    if (pp->before || pp->set_before || pp->after || pp->line_exact) {
        ooxml_start(x, "w:spacing");
        if (pp->before || pp->set_before || pp->after) {
            ooxml_attr_long(x, "w:before", pp->before);
            ooxml_attr_long(x, "w:after", pp->after);
        }
        if (pp->line_exact) {
            ooxml_attr_long(x, "w:line", pp->line_exact);
            ooxml_attr(x, "w:lineRule", "exact");
        }
        ooxml_end(x);
    }
    if (pp->set_ind) {
        ooxml_start(x, "w:ind");
        ooxml_attr_long(x, "w:left", pp->ind_left);
        ooxml_attr_long(x, "w:right", pp->ind_right);
        if (pp->hanging)
            ooxml_attr_long(x, "w:hanging", pp->hanging);
        else {
            if (pp->first_line_chars)
                ooxml_attr_long(x, "w:firstLineChars", pp->first_line_chars);
            ooxml_attr_long(x, "w:firstLine", pp->first_line);
        }
        ooxml_end(x);
    }
    if (pp->jc)
        el_val(x, "w:jc", pp->jc);
    if (pp->outline_lvl)
        el_val_int(x, "w:outlineLvl", pp->outline_lvl - 1);
}

/* Text as runs: tabs become w:tab, newlines w:br; control bytes are dropped
 * (XML 1.0 cannot carry them). */
static void write_run(struct ooxml_xml *x, const struct run_props *rp, const char *s)
{
    ooxml_start(x, "w:r");
    write_rpr(x, rp);
    const char *p = s;
    while (*p) {
        size_t n = 0;
        while (p[n] && (unsigned char)p[n] >= 0x20)
            n++;
        if (n) {
            char *piece = strndup(p, n);
            if (!piece) {
                x->ok = false;
                return;
            }
            ooxml_start(x, "w:t");
            ooxml_attr(x, "xml:space", "preserve");
            ooxml_text(x, piece);
            ooxml_end(x);
            free(piece);
            p += n;
        }
        if (*p == '\t')
            ooxml_el(x, "w:tab");
        else if (*p == '\n')
            ooxml_el(x, "w:br");
        if (*p)
            p++;
    }
    ooxml_end(x);
}

/* A whole paragraph of one or two runs (second may be NULL). */
static void write_para2(struct ooxml_xml *x, const struct para_props *pp,
                        const struct run_props *rp1, const char *s1, const struct run_props *rp2,
                        const char *s2)
{
    ooxml_start(x, "w:p");
    ooxml_start(x, "w:pPr");
    write_ppr_body(x, pp);
    ooxml_end(x);
    if (s1 && *s1)
        write_run(x, rp1, s1);
    if (s2 && *s2)
        write_run(x, rp2, s2);
    ooxml_end(x);
}

static void write_para(struct ooxml_xml *x, const struct para_props *pp, const struct run_props *rp,
                       const char *s)
{
    write_para2(x, pp, rp, s, NULL, NULL);
}

/* ---- measuring ---------------------------------------------------------------------- */

/* The width of s in twips at the grid's pitch: a CJK character is one grid
 * character, ASCII half of one. */
static int text_width(const char *s)
{
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if (*p < 0x80)
            w += CHAR_TW / 2;
        else if ((*p & 0xC0) != 0x80)
            w += CHAR_TW;
    }
    return w;
}

static bool has(const struct gw_text *t)
{
    return t->s && t->s[0];
}

/* ---- the section ---------------------------------------------------------------------- */

enum section_kind {
    SECTION_MAIN,        /* page-numbered: odd right, even left */
    SECTION_NUMBERED,    /* a later section that goes on numbering (a letter's 版记 page) */
    SECTION_UNNUMBERED,  /* a new page without a number: the 版记's, or the blank one before it */
    SECTION_EVEN_PAGE,   /* no layout to follow: Word's own even page, without a number */
};

static void write_footer_ref(struct ooxml_xml *x, const char *type, const char *rid)
{
    ooxml_start(x, "w:footerReference");
    ooxml_attr(x, "w:type", type);
    ooxml_attr(x, "r:id", rid);
    ooxml_end(x);
}

/* A w:sectPr: A4, the standard margins, the 22 x 28 grid. The page number's
 * line (exact 14 pt) ends FOOTER_DIST above the paper's edge, so that its top
 * lies 7 mm below the type area (35 mm - 7 mm = 28 mm above the edge). Every
 * section after the first starts on a new page and goes on counting pages. */
static void write_sectpr(struct ooxml_xml *x, enum section_kind kind, bool letter)
{
    const int footer_dist = MM(28) - CHAR_4HAO;
    bool numbered = kind == SECTION_MAIN || kind == SECTION_NUMBERED;
    ooxml_start(x, "w:sectPr");
    if (kind == SECTION_MAIN && letter) {
        ooxml_start(x, "w:headerReference");
        ooxml_attr(x, "w:type", "first");
        ooxml_attr(x, "r:id", RID_HEADER_LETTER);
        ooxml_end(x);
    }
    if (numbered) {
        write_footer_ref(x, "default", RID_FOOTER_ODD);
        write_footer_ref(x, "even", RID_FOOTER_EVEN);
        if (kind == SECTION_MAIN && letter)
            write_footer_ref(x, "first", RID_FOOTER_LETTER);
    } else {
        write_footer_ref(x, "default", RID_FOOTER_EMPTY);
        write_footer_ref(x, "even", RID_FOOTER_EMPTY);
        write_footer_ref(x, "first", RID_FOOTER_EMPTY);
    }
    if (kind != SECTION_MAIN)
        el_val(x, "w:type", kind == SECTION_EVEN_PAGE ? "evenPage" : "nextPage");
    ooxml_start(x, "w:pgSz");
    ooxml_attr_long(x, "w:w", PAGE_W);
    ooxml_attr_long(x, "w:h", PAGE_H);
    ooxml_end(x);
    ooxml_start(x, "w:pgMar");
    ooxml_attr_long(x, "w:top", MM(37));
    ooxml_attr_long(x, "w:right", MM(26));
    ooxml_attr_long(x, "w:bottom", MM(35));
    ooxml_attr_long(x, "w:left", MM(28));
    ooxml_attr_long(x, "w:header", letter ? MM(30) : MM(15));
    ooxml_attr_long(x, "w:footer", footer_dist);
    ooxml_attr_long(x, "w:gutter", 0);
    ooxml_end(x);
    ooxml_start(x, "w:pgNumType");
    ooxml_attr(x, "w:fmt", "decimal");
    ooxml_end(x);
    if (kind == SECTION_MAIN && letter)
        ooxml_el(x, "w:titlePg");
    /* charSpace: the grid character's pitch less 16 pt, in 1/4096 pt, rounded
     * down so that 28 characters fit in 156 mm (-842). */
    double space = ((double)TEXT_W / PT / 28.0 - 16.0) * 4096.0;
    int char_space = (int)space - ((double)(int)space > space); /* floor */
    ooxml_start(x, "w:docGrid");
    ooxml_attr(x, "w:type", "linesAndChars");
    ooxml_attr_long(x, "w:linePitch", LINE_PITCH);
    ooxml_attr_long(x, "w:charSpace", char_space);
    ooxml_end(x);
    ooxml_end(x);
}

/* An empty paragraph that ends a section. It is SECTION_END_TW high, less
 * than the room 22 lines of LINE_PITCH leave in the type area (12756 - 22 x
 * 579 = 18 twips), so that it never pushes onto a page of its own. */
enum { SECTION_END_TW = 14 };

static void write_section_end(struct ooxml_xml *x, enum section_kind kind, bool letter)
{
    struct para_props pp = {.style = "GwRule", .line_exact = SECTION_END_TW};
    ooxml_start(x, "w:p");
    ooxml_start(x, "w:pPr");
    write_ppr_body(x, &pp);
    write_sectpr(x, kind, letter);
    ooxml_end(x);
    ooxml_end(x);
}

/* A 信函's 版记 is the 抄送 alone, without 印发 line and rules (GB/T 9704 10.1). */
static bool has_colophon(const struct gw_doc *doc)
{
    if (doc->format == GW_FORMAT_LETTER)
        return has(&doc->cc);
    return has(&doc->cc) || has(&doc->printer) || has(&doc->print_date);
}

/* ---- the pages, as the layout decided them ------------------------------------------ */

/* Where the 版记 goes (gw-layout.c, flow_colophon): at the foot of the last
 * page, which must be even; so on the text's last page when that is even and
 * has room, else on a page of its own, after a blank page when the text ends
 * on an even page without room. */
enum colophon_place {
    COLOPHON_NONE,
    COLOPHON_ON_LAST_PAGE, /* under the text on its last page */
    COLOPHON_OWN_PAGE,     /* on the next page */
    COLOPHON_AFTER_BLANK,  /* a blank page, then its own page */
    COLOPHON_EVEN_PAGE,    /* no layout (no CJK font here): Word's even page */
};

/* The most pieces of the 落款 on one line: the layout puts at most four seals
 * side by side (gw-layout.c, SEAL_MAX_COLS); a longer line is split. */
#define SIG_MAX_PER_LINE 8

/* One piece of the 落款 as the layout set it: an agency's name or the date. */
struct sig_piece {
    char *text;    /* owned UTF-8 */
    double x_mm;   /* the left edge of its advance, from the page's left edge */
    double w_mm;   /* its advance */
    int slot;      /* its grid line, counted over the pages: page * GW_GRID_LINES + line */
    bool in_area;  /* on a grid line of the type area (not the page number below it) */
    bool is_date;
};

/* What the DOCX takes from the PDF's layout, so that both break the same way. */
struct page_plan {
    enum colophon_place colophon;
    bool colophon_numbered; /* the 版记's own page carries a number (a letter's) */
    int text_slot;          /* the grid line on page 1 where the text after the 版头
                             * starts (the title, or the first line after a 纪要's or
                             * 命令's 标志 and number); -1: unknown */
    int mark_sz;            /* the red 标志's size, half-points; 0: unknown */
    double letter_rule_top_mm;   /* 信函: the top of the first red double rule, from the
                                  * page's top; 0: unknown */
    double letter_number_top_mm; /* 信函: the 发文字号's top under it; 0: unknown */
    char *title_lines;      /* owned: the title with "\n" where the layout broke its
                             * lines (balanced, GB/T 9704 7.3.1), or NULL */
    struct sig_piece *sig;  /* [n_sig] owned: the 落款's names in issuing order, then
                             * the date; NULL when the layout's were not found */
    int n_sig;
    int sig_skip;           /* blank grid lines between the text and the 落款, or
                             * above it on a new page; -1: unknown */
    bool sig_new_page;      /* the layout moved the 落款 to a page of its own */
    size_t sig_company_len; /* bytes of text on the 落款's page above it, when the
                             * layout carried at most two lines there with it
                             * (GB/T 9704 7.3.5.5); 0: none */
};

/* Free n pieces and their array. Accepts NULL. */
static void sig_pieces_free(struct sig_piece *pieces, int n)
{
    for (int i = 0; pieces && i < n; i++)
        free(pieces[i].text);
    free(pieces);
}

static void page_plan_free(struct page_plan *plan)
{
    free(plan->title_lines);
    plan->title_lines = NULL;
    sig_pieces_free(plan->sig, plan->n_sig);
    plan->sig = NULL;
    plan->n_sig = 0;
}

/* The title as the layout set it on page 1, its lines joined by "\n", when
 * it has several and they hold the title's text exactly; else NULL. Caller
 * frees. */
static char *layout_title_lines(const struct gw_layout *lay, const struct gw_doc *doc)
{
    if (!has(&doc->title) || lay->n_pages == 0 || doc->format != GW_FORMAT_ORDINARY)
        return NULL;
    const struct gw_page *pg = &lay->pages[0];
    size_t cap = strlen(doc->title.s) + 64;
    char *out = malloc(cap); /* [cap] the title and a few "\n" */
    if (!out)
        return NULL;
    size_t n = 0;
    int n_lines = 0;
    double baseline = -1;
    for (int i = 0; i < pg->n_runs; i++) {
        const struct gw_run *r = &pg->runs[i];
        if (r->face != GW_FACE_XIAOBIAOSONG || r->size_pt != GW_SIZE_TITLE_PT)
            continue;
        bool new_line = baseline < 0 || fabs(r->baseline_mm - baseline) > 0.5;
        size_t len = strlen(r->text);
        if (n + len + 2 > cap)
            goto out_none;
        if (new_line && baseline >= 0)
            out[n++] = '\n';
        n_lines += new_line;
        memcpy(out + n, r->text, len);
        n += len;
        baseline = r->baseline_mm;
    }
    out[n] = '\0';
    /* the same text, line breaks aside */
    const char *a = out, *b = doc->title.s;
    while (*a && *b) {
        if (*a == '\n') {
            a++;
            continue;
        }
        if (*a != *b)
            break;
        a++;
        b++;
    }
    if (n_lines > 1 && !*a && !*b)
        return out;
out_none:
    free(out);
    return NULL;
}

/* The grid line that holds a run with this baseline: a run's ascent line is
 * its slot's top, so its baseline lies inside the slot. */
static int slot_of_baseline(double baseline_mm)
{
    return (int)((baseline_mm - GW_MARGIN_TOP_MM) / GW_LINE_PITCH_MM);
}

/* The first line after the 版头 on page 1 of a layout: the title's first
 * line in the 文件 format; else the first line below the red 标志 and the
 * line under it that carries the 发文字号 (期号, 令号). -1 when not found. */
static int layout_text_slot(const struct gw_layout *lay, const struct gw_doc *doc)
{
    if (lay->n_pages == 0)
        return -1;
    const struct gw_page *pg = &lay->pages[0];
    if (doc->format == GW_FORMAT_ORDINARY || doc->format == GW_FORMAT_LETTER) {
        double top = -1;
        for (int i = 0; i < pg->n_runs; i++) {
            const struct gw_run *r = &pg->runs[i];
            if (r->face == GW_FACE_XIAOBIAOSONG && r->size_pt == GW_SIZE_TITLE_PT &&
                (top < 0 || r->baseline_mm < top))
                top = r->baseline_mm;
        }
        return top < 0 ? -1 : slot_of_baseline(top);
    }
    int last_red = -1; /* runs come in the order drawn: the 版头 first */
    for (int i = 0; i < pg->n_runs; i++)
        if (pg->runs[i].rgb == GW_RED_RGB)
            last_red = i;
    int next = last_red + 1;
    if (last_red < 0 || next >= pg->n_runs)
        return -1;
    if (has(&doc->doc_number)) { /* skip the number's line */
        double number_base = pg->runs[next].baseline_mm;
        while (next < pg->n_runs && fabs(pg->runs[next].baseline_mm - number_base) < 0.5)
            next++;
        if (next >= pg->n_runs)
            return -1;
    }
    return slot_of_baseline(pg->runs[next].baseline_mm);
}

/* The size of the red 标志 on page 1, in half-points; 0 when there is none. */
static int layout_mark_sz(const struct gw_layout *lay)
{
    double size = 0;
    for (int i = 0; lay->n_pages > 0 && i < lay->pages[0].n_runs; i++) {
        const struct gw_run *r = &lay->pages[0].runs[i];
        if (r->rgb == GW_RED_RGB && r->size_pt > size)
            size = r->size_pt;
    }
    return (int)floor(size * 2); /* rounded down: never wider than the layout's */
}

/* 信函: where the layout drew the first red double rule (the upper half of
 * page 1) and so the 发文字号 under it (its top 7/8 of a 三号 character
 * below the rule). */
static void layout_letter_rule(const struct gw_layout *lay, struct page_plan *plan)
{
    double top = 0, bottom = 0;
    for (int i = 0; lay->n_pages > 0 && i < lay->pages[0].n_rules; i++) {
        const struct gw_rule *r = &lay->pages[0].rules[i];
        if (r->rgb != GW_RED_RGB || r->y_mm > GW_PAGE_H_MM / 2)
            continue;
        double t = r->y_mm - r->width_mm / 2, b = r->y_mm + r->width_mm / 2;
        top = top == 0 || t < top ? t : top;
        bottom = b > bottom ? b : bottom;
    }
    if (top <= 0)
        return;
    plan->letter_rule_top_mm = top;
    plan->letter_number_top_mm = bottom + GW_SIZE_BODY_PT * GW_MM_PER_PT * 7 / 8;
}

/* The 落款's lines as the parser gives them: doc->signature split at "\n",
 * blank lines dropped, then the date; each owned (sig_pieces_free). Positions
 * are left zero. Returns the count, or -1 when out of memory. */
static int signature_texts(const struct gw_doc *doc, struct sig_piece **out)
{
    const char *sig = has(&doc->signature) ? doc->signature.s : "";
    int max = 2; /* the names (one more than the "\n"s) and the date */
    for (const char *p = sig; *p; p++)
        max += *p == '\n';
    struct sig_piece *a = calloc((size_t)max, sizeof *a); /* [max] */
    if (!a)
        return -1;
    int n = 0;
    for (const char *line = sig; *line;) {
        size_t len = strcspn(line, "\n");
        if (len > 0 && !(a[n++].text = strndup(line, len)))
            goto out_nomem;
        line += len + (line[len] == '\n');
    }
    if (has(&doc->date)) {
        a[n].is_date = true;
        if (!(a[n++].text = strdup(doc->date.s)))
            goto out_nomem;
    }
    *out = a;
    return n;
out_nomem:
    sig_pieces_free(a, n);
    return -1;
}

/* The layout's runs joined into pieces of text: runs on one baseline that
 * follow each other (a gap under half a character: a space between Latin
 * words) make one piece; a wider gap (the names side by side under seals, a
 * character or more apart) or another baseline starts the next. */
static int layout_pieces(const struct gw_layout *lay, struct sig_piece **out)
{
    int total = 0;
    for (int p = 0; p < lay->n_pages; p++)
        total += lay->pages[p].n_runs;
    struct sig_piece *a = calloc((size_t)total + 1, sizeof *a); /* [total] at most */
    if (!a)
        return -1;
    int n = 0;
    for (int p = 0; p < lay->n_pages; p++) {
        const struct gw_page *pg = &lay->pages[p];
        double baseline = 0;
        for (int i = 0; i < pg->n_runs; i++) {
            const struct gw_run *r = &pg->runs[i];
            struct sig_piece *last = n > 0 ? &a[n - 1] : NULL;
            double gap = last ? r->x_mm - (last->x_mm + last->w_mm) : 0;
            bool joins = i > 0 && fabs(r->baseline_mm - baseline) < 0.01 && gap > -0.01 &&
                         gap < GW_CELL_MM / 2;
            if (!joins) {
                int line = slot_of_baseline(r->baseline_mm);
                a[n++] = (struct sig_piece){strdup(r->text), r->x_mm, r->width_mm,
                                            p * GW_GRID_LINES + line,
                                            line >= 0 && line < GW_GRID_LINES, false};
                baseline = r->baseline_mm;
                if (!a[n - 1].text)
                    goto out_nomem;
                continue;
            }
            size_t len = strlen(last->text);
            char *joined = malloc(len + strlen(r->text) + 2); /* [len + run + " " + NUL] */
            if (!joined)
                goto out_nomem;
            snprintf(joined, len + strlen(r->text) + 2, "%s%s%s", last->text,
                     gap > 0.05 ? " " : "", r->text);
            free(last->text);
            last->text = joined;
            last->w_mm = r->x_mm + r->width_mm - last->x_mm;
        }
    }
    *out = a;
    return n;
out_nomem:
    sig_pieces_free(a, n);
    return -1;
}

/* The bytes of text in the pieces [0, end) that lie above grid line first on
 * its page, when they fill at most max_lines lines from the top of a page
 * after the first; else 0. */
static size_t text_above_on_page(const struct sig_piece *pieces, int end, int first,
                                 int max_lines)
{
    int page = first / GW_GRID_LINES;
    size_t len = 0;
    int top = first;
    for (int i = 0; i < end; i++) {
        if (!pieces[i].in_area || pieces[i].slot / GW_GRID_LINES != page ||
            pieces[i].slot >= first)
            continue;
        len += strlen(pieces[i].text);
        top = pieces[i].slot < top ? pieces[i].slot : top;
    }
    bool company = page > 0 && len > 0 && top == page * GW_GRID_LINES && first - top <= max_lines + 1;
    return company ? len : 0;
}

/* The 落款 as the layout set it: the last run of pieces that reads the names
 * in order and then the date. Fills plan->sig (taking want's texts) and the
 * blank lines above it; leaves plan->sig NULL when not found. */
static void layout_signature(const struct gw_layout *lay, const struct gw_doc *doc,
                             struct page_plan *plan)
{
    struct sig_piece *want = NULL, *got = NULL; /* [n_want], [n_got] */
    int n_want = signature_texts(doc, &want);
    int n_got = n_want > 0 ? layout_pieces(lay, &got) : -1;
    int found = -1;
    for (int i = 0; i + n_want <= n_got; i++) {
        int k = 0;
        while (k < n_want && strcmp(got[i + k].text, want[k].text) == 0)
            k++;
        if (k == n_want)
            found = i;
    }
    if (found >= 0) {
        for (int k = 0; k < n_want; k++) {
            want[k].x_mm = got[found + k].x_mm;
            want[k].w_mm = got[found + k].w_mm;
            want[k].slot = got[found + k].slot;
        }
        /* the blank lines above: down from the text's last line on the same page,
         * or from the top of the page when the text ended on an earlier one */
        int first = want[0].slot;
        plan->sig_skip = -1;
        for (int i = found - 1; i >= 0 && plan->sig_skip < 0; i--)
            if (!got[i].in_area)
                continue;
            else if (got[i].slot / GW_GRID_LINES != first / GW_GRID_LINES)
                break;
            else if (got[i].slot < first)
                plan->sig_skip = first - got[i].slot - 1;
        if (plan->sig_skip < 0 && found > 0) {
            plan->sig_new_page = true;
            plan->sig_skip = first % GW_GRID_LINES;
        }
        plan->sig_company_len = text_above_on_page(got, found, first, 2);
        plan->sig = want;
        plan->n_sig = n_want;
        want = NULL;
    }
    sig_pieces_free(want, n_want > 0 ? n_want : 0);
    sig_pieces_free(got, n_got > 0 ? n_got : 0);
}

/* Whether the 落款 is set for seals (GB/T 9704 7.3.5.1); a 纪要 carries none
 * (10.3). */
static bool signature_sealed(const struct gw_doc *doc)
{
    return doc->sealed && doc->format != GW_FORMAT_MINUTES;
}

/* Without a layout (no CJK font here), the 落款 placed by the grid's nominal
 * widths: unsealed, the names right-aligned two characters in from the right,
 * the date starting two characters right of the widest name's first
 * character (or two in, the names moved left); sealed, the date four
 * characters in and the names stacked, each centred over it. */
static void nominal_signature(const struct gw_doc *doc, struct page_plan *plan)
{
    struct sig_piece *a = NULL; /* [n] */
    int n = signature_texts(doc, &a);
    if (n <= 0) {
        sig_pieces_free(a, n > 0 ? n : 0);
        return;
    }
    const double left = GW_MARGIN_LEFT_MM, cell = GW_CELL_MM;
    double widest = 0, dw = 0;
    for (int i = 0; i < n; i++) {
        a[i].w_mm = text_width(a[i].text) / TWIPS_PER_MM;
        if (a[i].is_date)
            dw = a[i].w_mm;
        else
            widest = fmax(widest, a[i].w_mm);
        a[i].slot = i;
        a[i].in_area = true;
    }
    double right = left + GW_AREA_W_MM - 2 * cell;
    double names_right = right, date_x = right - widest + 2 * cell;
    if (signature_sealed(doc)) {
        date_x = left + GW_AREA_W_MM - 4 * cell - dw;
        names_right = date_x + dw / 2 + widest / 2;
    } else if (date_x + dw > right) {
        date_x = right - dw;
        names_right = date_x - 2 * cell + widest;
    }
    for (int i = 0; i < n; i++)
        a[i].x_mm = a[i].is_date ? date_x
                    : signature_sealed(doc) ? names_right - widest / 2 - a[i].w_mm / 2
                                            : names_right - a[i].w_mm;
    plan->sig = a;
    plan->n_sig = n;
    plan->sig_skip = signature_sealed(doc) ? 2 : 1;
}

/* Lay the document out twice, with and without its 版记, and read off where
 * the 版记 went. Without a layout (no CJK font) the plan falls back to Word's
 * own even-page section and the nominal sizes and spacing. */
static void plan_pages(const struct gw_doc *doc, const struct gw_export_opts *opts,
                       struct page_plan *plan)
{
    *plan = (struct page_plan){.colophon = COLOPHON_NONE, .text_slot = -1, .sig_skip = -1};
    const struct gw_fonts *fonts = opts ? opts->fonts : NULL;
    struct gw_layout *full = NULL, *text_only = NULL;
    struct gw_err err = {0};
    if (!gw_layout_build(doc, fonts, &full, &err)) {
        plan->colophon = has_colophon(doc) ? COLOPHON_EVEN_PAGE : COLOPHON_NONE;
        nominal_signature(doc, plan);
        return;
    }
    plan->text_slot = layout_text_slot(full, doc);
    plan->mark_sz = layout_mark_sz(full);
    if (doc->format == GW_FORMAT_LETTER)
        layout_letter_rule(full, plan);
    plan->title_lines = layout_title_lines(full, doc);
    layout_signature(full, doc, plan);
    if (!plan->sig)
        nominal_signature(doc, plan);
    if (has_colophon(doc)) {
        struct gw_doc body = *doc; /* a shallow copy that shares every string */
        body.cc.s = body.printer.s = body.print_date.s = NULL;
        if (!gw_layout_build(&body, &full->fonts, &text_only, &err)) {
            plan->colophon = COLOPHON_EVEN_PAGE;
        } else {
            int extra = full->n_pages - text_only->n_pages;
            plan->colophon = extra <= 0   ? COLOPHON_ON_LAST_PAGE
                             : extra == 1 ? COLOPHON_OWN_PAGE
                                          : COLOPHON_AFTER_BLANK;
            plan->colophon_numbered = full->pages[full->n_pages - 1].number != 0;
        }
    }
    gw_layout_free(&text_only);
    gw_layout_free(&full);
}

/* ---- the document's parts ---------------------------------------------------------- */

static const struct border RULE_RED = {"single", 8, RED, 0};        /* 红色分隔线 */
static const struct border RULE_THICK = {"single", 8, "000000", 1}; /* 0.35 mm ≈ 1 pt */
static const struct border RULE_THIN = {"single", 6, "000000", 1};  /* 0.25 mm ≈ 0.75 pt */

/* The word after the issuers' names in the mark: 文件, 令, 纪要, or none (信函). */
static const char *issuer_mark_word(const struct gw_doc *doc)
{
    switch (doc->format) {
    case GW_FORMAT_ORDER: return "令";
    case GW_FORMAT_MINUTES: return "纪要";
    case GW_FORMAT_LETTER: return "";
    default: return "文件";
    }
}

/* The 发文机关标志 as gw-layout.c draws it: the mark given; a 纪要's title
 * ("XX会议纪要"); a 命令's title when it ends in 令; else the issuers' names
 * and the format's word. Caller frees. */
static char *issuer_mark_text(const struct gw_doc *doc)
{
    if (has(&doc->issuer_mark))
        return strdup(doc->issuer_mark.s);
    if (has(&doc->title) && (doc->format == GW_FORMAT_MINUTES ||
                             (doc->format == GW_FORMAT_ORDER && gw_ends_with(doc->title.s, "令"))))
        return strdup(doc->title.s);
    const char *word = issuer_mark_word(doc);
    size_t n = strlen(word) + 1;
    for (int i = 0; i < doc->n_issuers; i++)
        n += strlen(doc->issuers[i].s) + 1;
    char *s = malloc(n); /* [n] the joined names + word */
    if (!s)
        return NULL;
    s[0] = '\0';
    for (int i = 0; i < doc->n_issuers; i++) {
        if (i)
            strcat(s, "\n");
        strcat(s, doc->issuers[i].s);
    }
    if (!s[0])
        return s;
    strcat(s, word);
    return s;
}

/* The mark's size in half-points: the layout's (layout_sz, 0: unknown) or at
 * most 36 pt, and never larger than lets its longest line fit the type
 * area's width when every character is a full one (22 pt at least): a
 * substituted face may set Latin letters wider than the layout's. */
static int issuer_mark_size(const char *mark, int layout_sz)
{
    int longest = 0, n = 0;
    for (const char *p = mark;; p++) {
        if (*p == '\n' || !*p) {
            longest = n > longest ? n : longest;
            n = 0;
            if (!*p)
                break;
        } else if (((unsigned char)*p & 0xC0) != 0x80) {
            n++;
        }
    }
    int fit = longest ? (TEXT_W / PT) / longest * 2 : 72;
    int sz = layout_sz ? layout_sz : 72;
    sz = sz < fit ? sz : fit;
    return sz < 44 ? 44 : sz;
}

static int longest_issuer(const struct gw_doc *doc)
{
    int longest = 0;
    for (int i = 0; i < doc->n_issuers; i++) {
        int n = 0;
        for (const unsigned char *p = (const unsigned char *)doc->issuers[i].s; *p; p++)
            n += (*p & 0xC0) != 0x80;
        longest = n > longest ? n : longest;
    }
    return longest;
}

static void write_table_cell(struct ooxml_xml *x, int width)
{
    ooxml_start(x, "w:tcPr");
    ooxml_start(x, "w:tcW");
    ooxml_attr_long(x, "w:w", width);
    ooxml_attr(x, "w:type", "dxa");
    ooxml_end(x);
    el_val(x, "w:vAlign", "center");
    ooxml_end(x);
}

/* A joint issue's mark (GB/T 9704 7.2.4): the names stacked, the lead agency
 * first, each spread to the same width, and the word (文件) to their right,
 * centred on them vertically: a borderless two-cell table, centred. */
static void write_joint_mark(struct ooxml_xml *x, const struct gw_doc *doc, const char *word,
                             int mark_sz)
{
    int n_word = 0;
    for (const unsigned char *p = (const unsigned char *)word; *p; p++)
        n_word += (*p & 0xC0) != 0x80;
    int longest = longest_issuer(doc);
    int pt = (TEXT_W / PT) / (longest + n_word + 1);
    pt = pt > 36 ? 36 : pt < 22 ? 22 : pt;
    pt = mark_sz ? mark_sz / 2 : pt;
    int names_w = longest * pt * PT + PT * 4;             /* twips */
    int word_w = n_word * pt * PT + pt * PT / 2 + PT * 4; /* and half a character of gap */
    struct run_props rp = {.sz = pt * 2};
    ooxml_start(x, "w:tbl");
    ooxml_start(x, "w:tblPr");
    ooxml_start(x, "w:tblW");
    ooxml_attr_long(x, "w:w", names_w + word_w);
    ooxml_attr(x, "w:type", "dxa");
    ooxml_end(x);
    el_val(x, "w:jc", "center");
    el_val(x, "w:tblLayout", "fixed");
    ooxml_start(x, "w:tblCellMar");
    static const char *const sides[] = {"w:top", "w:left", "w:bottom", "w:right"};
    for (int i = 0; i < 4; i++) {
        ooxml_start(x, sides[i]);
        ooxml_attr_long(x, "w:w", 0);
        ooxml_attr(x, "w:type", "dxa");
        ooxml_end(x);
    }
    ooxml_end(x);
    ooxml_end(x);
    ooxml_start(x, "w:tblGrid");
    ooxml_start(x, "w:gridCol");
    ooxml_attr_long(x, "w:w", names_w);
    ooxml_end(x);
    ooxml_start(x, "w:gridCol");
    ooxml_attr_long(x, "w:w", word_w);
    ooxml_end(x);
    ooxml_end(x);
    ooxml_start(x, "w:tr");
    ooxml_start(x, "w:tc");
    write_table_cell(x, names_w);
    for (int i = 0; i < doc->n_issuers; i++) {
        struct para_props pp = {
            .style = "GwIssuerMark", .jc = "distribute", .line_exact = pt * PT + 2 * PT};
        write_para(x, &pp, &rp, doc->issuers[i].s);
    }
    ooxml_end(x);
    ooxml_start(x, "w:tc");
    write_table_cell(x, word_w);
    struct para_props pp = {.style = "GwIssuerMark", .jc = "right", .line_exact = pt * PT + 2 * PT};
    write_para(x, &pp, &rp, word);
    ooxml_end(x);
    ooxml_end(x);
    ooxml_end(x);
}

/* The red 发文机关标志, its top edge top_mm below the top of the type area,
 * after n_above lines of 份号/密级/紧急程度. Returns the height written in
 * twips (with the space above), or -1 for a joint mark, whose table row is as
 * high as Word makes it. */
static int write_issuer_mark(struct ooxml_xml *x, const struct gw_doc *doc, double top_mm,
                             int n_above, int mark_sz)
{
    int before = MM(top_mm) - n_above * LINE_PITCH;
    before = before > 0 ? before : 0;
    const char *word = issuer_mark_word(doc);
    if (doc->format == GW_FORMAT_ORDINARY && !has(&doc->issuer_mark) && doc->n_issuers > 1) {
        if (before > 0) { /* a spacer as high as the gap: a table has no space before */
            struct para_props spacer = {.style = "GwRule", .line_exact = before};
            write_para(x, &spacer, NULL, NULL);
        }
        write_joint_mark(x, doc, word, mark_sz);
        return -1;
    }
    char *mark = issuer_mark_text(doc);
    if (!mark) {
        x->ok = false;
        return -1;
    }
    if (!mark[0]) {
        free(mark);
        return 0;
    }
    int sz = issuer_mark_size(mark, mark_sz);
    struct para_props pp = {.style = "GwIssuerMark",
                            .before = before,
                            .set_before = true,
                            .line_exact = sz * PT / 2 + 2 * PT};
    struct run_props rp = {.sz = sz};
    write_para(x, &pp, &rp, mark);
    free(mark);
    return pp.before + pp.line_exact;
}

/* 份号, 密级, 紧急程度: one line each, flush left; the count written. */
static int write_header_fields(struct ooxml_xml *x, const struct gw_doc *doc)
{
    struct para_props pp = {.style = "GwHeaderField"};
    struct run_props hei = {.font = FONT_HEITI};
    int n = 0;
    if (has(&doc->copy_number)) {
        write_para(x, &pp, NULL, doc->copy_number.s);
        n++;
    }
    if (has(&doc->secrecy)) {
        write_para(x, &pp, &hei, doc->secrecy.s);
        n++;
    }
    if (has(&doc->urgency)) {
        write_para(x, &pp, &hei, doc->urgency.s);
        n++;
    }
    return n;
}

/* The names on 签发人 line `row`, two a line, separated by a full-width space. */
static void signer_line(const struct gw_doc *doc, int row, char *out, size_t size)
{
    out[0] = '\0';
    for (int j = 2 * row; j < 2 * row + 2 && j < doc->n_signers; j++) {
        if (j > 2 * row)
            strncat(out, "　", size - strlen(out) - 1);
        strncat(out, doc->signers[j].s, size - strlen(out) - 1);
    }
}

/* 签发人 lines (upward documents): "签发人：" and two names a line in 楷体, the
 * widest line right-indented one character and the names of every line
 * starting at one tab stop; the last line carries the 发文字号, left-indented
 * one character. */
static void write_signers_and_number(struct ooxml_xml *x, const struct gw_doc *doc)
{
    struct run_props kai = {.font = FONT_KAITI};
    int n_rows = (doc->n_signers + 1) / 2;
    int widest = 0;
    for (int row = 0; row < n_rows; row++) {
        char names[1024];
        signer_line(doc, row, names, sizeof names);
        int w = text_width(names);
        widest = w > widest ? w : widest;
    }
    const int label = 4 * CHAR_TW; /* "签发人：" */
    int tab = TEXT_W - CHAR_TW - widest - label;
    tab = tab > CHAR_TW ? tab : CHAR_TW;
    for (int row = 0; row < n_rows; row++) {
        char names[1024];
        signer_line(doc, row, names, sizeof names);
        struct para_props pp = {.style = "GwDocNumber",
                                .jc = "left",
                                .set_ind = true,
                                .ind_left = CHAR_TW,
                                .tab_left = tab,
                                .before = row == 0 ? 2 * LINE_PITCH : 0,
                                .set_before = true};
        ooxml_start(x, "w:p");
        ooxml_start(x, "w:pPr");
        write_ppr_body(x, &pp);
        ooxml_end(x);
        if (row == n_rows - 1 && has(&doc->doc_number))
            write_run(x, NULL, doc->doc_number.s);
        write_run(x, NULL, "\t");
        write_run(x, NULL, row == 0 ? "签发人：" : "　　　　");
        write_run(x, &kai, names);
        ooxml_end(x);
    }
}

/* The red rule 4 mm below the 发文字号: the bottom border of an empty
 * paragraph 4 mm high, as wide as the type area (no indents: 156 mm). */
static void write_red_rule(struct ooxml_xml *x)
{
    struct para_props pp = {.style = "GwRule", .bottom = &RULE_RED};
    write_para(x, &pp, NULL, NULL);
}

/* The height of a mark's block, -1 when unknown, plus h (twips). */
static int add_height(int block, int h)
{
    return block < 0 ? -1 : block + h;
}

/* The 版头 by format; false when it has nothing to show. *height_tw: how high
 * the paragraphs written are, in twips, or -1 when Word decides it (a joint
 * mark's table, a letter's header, which pushes the text down). */
static bool write_head(struct ooxml_xml *x, const struct gw_doc *doc, const struct page_plan *plan,
                       int *height_tw)
{
    int n_above = write_header_fields(x, doc);
    *height_tw = n_above * LINE_PITCH;
    char *mark = issuer_mark_text(doc);
    bool has_mark = mark && mark[0];
    free(mark);
    if (n_above == 0 && !has_mark && !has(&doc->doc_number))
        return false;
    struct para_props number = {.style = "GwDocNumber", .before = 2 * LINE_PITCH};
    int h = 0;
    switch (doc->format) {
    case GW_FORMAT_LETTER: /* the mark and its double rule are in page 1's header */
        if (plan->letter_number_top_mm <= 0) { /* no layout: the header's height decides */
            *height_tw = -1;
            if (has(&doc->doc_number)) {
                struct para_props pp = {.style = "GwDocNumber", .jc = "right"};
                write_para(x, &pp, NULL, doc->doc_number.s);
            }
            return true;
        }
        if (n_above == 0 && has(&doc->doc_number)) {
            /* its line centred on where the layout set it, under the double rule */
            double line_top = plan->letter_number_top_mm -
                              (GW_LINE_PITCH_MM - GW_SIZE_BODY_PT * GW_MM_PER_PT) / 2;
            int before = MM(fmax(line_top - GW_MARGIN_TOP_MM, 0));
            struct para_props pp = {
                .style = "GwDocNumber", .jc = "right", .before = before, .set_before = true};
            write_para(x, &pp, NULL, doc->doc_number.s);
            *height_tw = before + LINE_PITCH;
        } else {
            *height_tw = -1;
            if (has(&doc->doc_number)) {
                struct para_props pp = {.style = "GwDocNumber", .jc = "right"};
                write_para(x, &pp, NULL, doc->doc_number.s);
            }
        }
        return true;
    case GW_FORMAT_ORDER:
    case GW_FORMAT_MINUTES: /* the 标志 and the 令号/期号 two lines below, no rule */
        h = write_issuer_mark(x, doc, doc->format == GW_FORMAT_ORDER ? 20.0 : 35.0, n_above,
                              plan->mark_sz);
        if (has(&doc->doc_number)) {
            write_para(x, &number, NULL, doc->doc_number.s);
            h = add_height(h, number.before + LINE_PITCH);
        }
        break;
    case GW_FORMAT_ORDINARY:
        h = write_issuer_mark(x, doc, 35.0, n_above, plan->mark_sz);
        if (gw_kind_is_upward(doc->kind) && doc->n_signers > 0) {
            write_signers_and_number(x, doc);
            h = add_height(h, 2 * LINE_PITCH + (doc->n_signers + 1) / 2 * LINE_PITCH);
        } else if (has(&doc->doc_number)) {
            write_para(x, &number, NULL, doc->doc_number.s);
            h = add_height(h, number.before + LINE_PITCH);
        }
        write_red_rule(x);
        h = add_height(h, MM(4) + RULE_RED.sz * PT / 8);
        break;
    }
    *height_tw = add_height(h, *height_tw);
    return true;
}

/* Whether the title is drawn as the 标志 (纪要, 命令) rather than under it. */
static bool title_in_mark(const struct gw_doc *doc)
{
    if (!has(&doc->title) || doc->format == GW_FORMAT_LETTER)
        return false;
    char *mark = issuer_mark_text(doc);
    bool same = mark && strcmp(mark, doc->title.s) == 0;
    free(mark);
    return same;
}

static const char *block_style(enum gw_block_type type)
{
    switch (type) {
    case GW_BLOCK_HEADING1: return "Heading1";
    case GW_BLOCK_HEADING2: return "Heading2";
    case GW_BLOCK_HEADING3: return "Heading3";
    case GW_BLOCK_HEADING4: return "Heading4";
    default: return "GwBody";
    }
}

/* The heading part of a level-1 or level-2 heading: up to its first "。"
 * (the text after it is run-in body text, as gw-layout.c draws it). */
static size_t heading_len(const char *s)
{
    const char *stop = strstr(s, "。");
    return stop ? (size_t)(stop - s) + strlen("。") : strlen(s);
}

/* How many of the last blocks hold their last tail_len bytes of text; at
 * least one. */
static int blocks_holding_tail(const struct gw_block *blocks, int n, size_t tail_len)
{
    int k = 0;
    size_t len = 0;
    while (k < n && (k == 0 || len < tail_len)) {
        const char *s = blocks[n - 1 - k].text.s;
        len += s ? strlen(s) : 0;
        k++;
    }
    return k;
}

/* Body blocks, the first first_before twips below the paragraph before it
 * (-1: its style's spacing); the last n_keep kept with the next paragraph
 * (the 落款, which never stands alone on a page, GB/T 9704 7.3.5.5). A level-1/2 heading with run-in text ("（一）加强领导。各单位
 * ……") has its heading in the heading's face and the rest in 仿宋, and is not
 * kept with the next paragraph; a heading alone is (the style's keepNext). */
static void write_blocks(struct ooxml_xml *x, const struct gw_block *blocks, int n,
                         int first_before, int n_keep)
{
    static const struct run_props body = {.font = FONT_FANGSONG};
    for (int i = 0; i < n; i++) {
        const char *s = blocks[i].text.s;
        struct para_props pp = {.style = block_style(blocks[i].type),
                                .keep_next = i >= n - n_keep};
        if (i == 0 && first_before >= 0) {
            pp.before = first_before;
            pp.set_before = true;
        }
        bool run_in_type =
            blocks[i].type == GW_BLOCK_HEADING1 || blocks[i].type == GW_BLOCK_HEADING2;
        size_t head = run_in_type ? heading_len(s) : strlen(s);
        if (!s[head]) {
            write_para(x, &pp, NULL, s);
            continue;
        }
        char *heading = strndup(s, head);
        if (!heading) {
            x->ok = false;
            return;
        }
        pp.no_keep_next = true;
        write_para2(x, &pp, NULL, heading, &body, s + head);
        free(heading);
    }
}

/* 附件说明: "附件：1.XX" two characters in, one line below the text; the
 * wrapped lines and the later names ("2.XX") aligned with the first name's
 * first character. A single attachment has no number. */
static void write_attachment_list(struct ooxml_xml *x, const struct gw_doc *doc)
{
    bool numbered = doc->n_attachments > 1;
    const int label = 3 * CHAR_TW;             /* "附件：" */
    const int number = numbered ? CHAR_TW : 0; /* "1." */
    const int name_left = 2 * CHAR_TW + label + number;
    for (int i = 0; i < doc->n_attachments; i++) {
        char name[1024];
        if (numbered)
            snprintf(name, sizeof name, "%d.%s", i + 1, doc->attachments[i].name.s);
        else
            snprintf(name, sizeof name, "%s", doc->attachments[i].name.s);
        struct para_props pp = {.style = "GwAttachmentList",
                                .set_ind = true,
                                .ind_left = name_left,
                                .hanging = i == 0 ? label + number : number,
                                .before = i == 0 ? LINE_PITCH : 0,
                                .set_before = true};
        write_para2(x, &pp, NULL, i == 0 ? "附件：" : NULL, NULL, name);
    }
}

/* 出席/请假/列席 of a 纪要: the label in 黑体, wrapped lines after the colon. */
static void write_minutes_people(struct ooxml_xml *x, const struct gw_doc *doc)
{
    const struct gw_text *lists[] = {&doc->attendees, &doc->absentees, &doc->observers};
    static const char *const labels[] = {"出席：", "请假：", "列席："};
    struct run_props hei = {.font = FONT_HEITI};
    bool first = true;
    for (int i = 0; i < 3; i++) {
        if (!has(lists[i]))
            continue;
        struct para_props pp = {.style = "GwMinutesList",
                                .set_ind = true,
                                .ind_left = 5 * CHAR_TW,
                                .hanging = 3 * CHAR_TW,
                                .before = first ? LINE_PITCH : 0,
                                .set_before = true};
        write_para2(x, &pp, &hei, labels[i], NULL, lists[i]->s);
        first = false;
    }
}

/* Where a piece of the 落款 is held, as a tab stop would hold it, in twips
 * from the type area's left edge: sealed, a name centred on its seal's column
 * and the date ending four characters in; unsealed, the names ending at their
 * common right edge and the date starting at its place (or ending two
 * characters in, when it is longer than the names). So the edge or centre
 * that the standard fixes stays put when Word's font measures a little
 * differently from the layout's. */
static struct tab_stop signature_anchor(const struct sig_piece *piece, bool sealed)
{
    double left = fmax(piece->x_mm - GW_MARGIN_LEFT_MM, 0);
    double right = fmax(piece->x_mm + piece->w_mm - GW_MARGIN_LEFT_MM, 0);
    /* unsealed, a date longer than the names is set two characters in from the
     * right instead (7.3.5.2), and held there */
    bool date_two_in = right > GW_AREA_W_MM - 2 * GW_CELL_MM - 0.05;
    if (sealed)
        return piece->is_date ? (struct tab_stop){"right", MM(right)}
                              : (struct tab_stop){"center", MM((left + right) / 2)};
    return piece->is_date && !date_two_in ? (struct tab_stop){"left", MM(left)}
                                          : (struct tab_stop){"right", MM(right)};
}

/* Set a line's first piece by the paragraph's alignment and indents, so that
 * the line carries no leading tab (the text reads back as the 落款 itself). */
static void anchor_by_indents(struct para_props *pp, struct tab_stop anchor)
{
    int pos = anchor.pos < TEXT_W ? anchor.pos : TEXT_W;
    pp->set_ind = true;
    pp->jc = anchor.val;
    if (strcmp(anchor.val, "right") == 0) {
        pp->ind_right = TEXT_W - pos;
    } else if (strcmp(anchor.val, "left") == 0) {
        pp->ind_left = pos;
    } else { /* centred: a measure around pos, as wide as the type area allows */
        pp->ind_left = 2 * pos > TEXT_W ? 2 * pos - TEXT_W : 0;
        pp->ind_right = 2 * pos < TEXT_W ? TEXT_W - 2 * pos : 0;
    }
}

/* One line of the 落款: the pieces [a, b) of plan->sig that share a grid
 * line. The first is set by the paragraph's alignment and indents; several
 * names side by side (a row of seals) start at the first's left edge and
 * the others follow at centre tab stops. before: twips above the line. */
static void write_signature_line(struct ooxml_xml *x, const struct page_plan *plan, int a, int b,
                                 int before, bool sealed, bool keep_next)
{
    struct tab_stop tabs[SIG_MAX_PER_LINE]; /* [b - a - 1] the stops of pieces a+1 .. b-1 */
    struct para_props pp = {.style = "GwSignature",
                            .keep_next = keep_next,
                            .page_break_before = a == 0 && plan->sig_new_page,
                            .tabs = tabs,
                            .n_tabs = b - a - 1,
                            .before = before,
                            .set_before = true};
    struct tab_stop first = signature_anchor(&plan->sig[a], sealed);
    if (b - a > 1)
        first = (struct tab_stop){"left", MM(fmax(plan->sig[a].x_mm - GW_MARGIN_LEFT_MM, 0))};
    anchor_by_indents(&pp, first);
    size_t len = 1;
    for (int i = a; i < b; i++) {
        if (i > a)
            tabs[i - a - 1] = signature_anchor(&plan->sig[i], sealed);
        len += strlen(plan->sig[i].text) + 1;
    }
    char *line = malloc(len); /* [len] the pieces, "\t" between them, and NUL */
    if (!line) {
        x->ok = false;
        return;
    }
    line[0] = '\0';
    for (int i = a; i < b; i++) {
        if (i > a)
            strcat(line, "\t");
        strcat(line, plan->sig[i].text);
    }
    write_para(x, &pp, NULL, line);
    free(line);
}

/* 落款 and 成文日期 (GB/T 9704 7.3.5), then the 附注. Each name and the date
 * sit where the layout (gw-layout.c, flow_signature) put them: unsealed, one
 * agency a line; sealed, the agencies side by side in rows of seals, a row's
 * names on one line at tab stops. The grid lines between them, and the blank
 * lines above, are the layout's; the lines keep together, as there, and
 * start a new page where the layout's did. */
static void write_signature(struct ooxml_xml *x, const struct gw_doc *doc,
                            const struct page_plan *plan)
{
    bool sealed = signature_sealed(doc);
    int skip = plan->sig_skip >= 0 ? plan->sig_skip : sealed ? 2 : 1;
    for (int a = 0, b; a < plan->n_sig; a = b) {
        b = a + 1;
        while (b < plan->n_sig && b - a < SIG_MAX_PER_LINE &&
               plan->sig[b].slot == plan->sig[a].slot)
            b++;
        int lines_above = a == 0 ? skip : plan->sig[a].slot - plan->sig[a - 1].slot - 1;
        write_signature_line(x, plan, a, b, (lines_above > 0 ? lines_above : 0) * LINE_PITCH,
                             sealed, b < plan->n_sig);
    }
    if (has(&doc->note)) {
        size_t n = strlen(doc->note.s) + 8;
        char *note = malloc(n); /* [n] "（" note "）" */
        if (!note) {
            x->ok = false;
            return;
        }
        snprintf(note, n, "（%s）", doc->note.s);
        struct para_props pp = {.style = "GwBody"};
        write_para(x, &pp, NULL, note);
        free(note);
    }
}

/* Each attachment on a new page: "附件N" in 黑体 on line 1, its title centred
 * on line 3, then its text. */
static void write_attachment_pages(struct ooxml_xml *x, const struct gw_doc *doc)
{
    for (int i = 0; i < doc->n_attachments; i++) {
        const struct gw_attachment *a = &doc->attachments[i];
        if (!has(&a->title) && a->n_blocks == 0)
            continue;
        char label[32];
        if (doc->n_attachments > 1)
            snprintf(label, sizeof label, "附件%d", i + 1);
        else
            snprintf(label, sizeof label, "附件");
        struct para_props pp = {.style = "GwAttachmentLabel", .page_break_before = true};
        write_para(x, &pp, NULL, label);
        if (has(&a->title)) {
            struct para_props tp = {.style = "Title", .before = LINE_PITCH};
            write_para(x, &tp, NULL, a->title.s);
        }
        write_blocks(x, a->blocks, a->n_blocks, -1, 0);
    }
}

/* ---- the 版记 ---------------------------------------------------------------------- */

static void write_cell_margins_zero(struct ooxml_xml *x, const char *element)
{
    static const char *const sides[] = {"w:top", "w:left", "w:bottom", "w:right"};
    ooxml_start(x, element);
    for (int i = 0; i < 4; i++) {
        ooxml_start(x, sides[i]);
        ooxml_attr_long(x, "w:w", 0);
        ooxml_attr(x, "w:type", "dxa");
        ooxml_end(x);
    }
    ooxml_end(x);
}

/* A table border line: "nil" when b is NULL. */
static void write_table_border(struct ooxml_xml *x, const char *side, const struct border *b)
{
    ooxml_start(x, side);
    ooxml_attr(x, "w:val", b ? b->val : "nil");
    if (b) {
        ooxml_attr_long(x, "w:sz", b->sz);
        ooxml_attr_long(x, "w:space", 0);
        ooxml_attr(x, "w:color", b->color);
    }
    ooxml_end(x);
}

/* One row of the 版记 table: at least `height` twips (exact: no more). */
static void start_colophon_row(struct ooxml_xml *x, int height, bool exact)
{
    ooxml_start(x, "w:tr");
    ooxml_start(x, "w:trPr");
    ooxml_el(x, "w:cantSplit");
    ooxml_start(x, "w:trHeight");
    ooxml_attr_long(x, "w:val", height);
    ooxml_attr(x, "w:hRule", exact ? "exact" : "atLeast");
    ooxml_end(x);
    ooxml_end(x);
    ooxml_start(x, "w:tc");
    ooxml_start(x, "w:tcPr");
    ooxml_start(x, "w:tcW");
    ooxml_attr_long(x, "w:w", TEXT_W);
    ooxml_attr(x, "w:type", "dxa");
    ooxml_end(x);
    el_val(x, "w:vAlign", "center");
    ooxml_end(x);
}

/* Open a floating table (w:tbl, w:tblPr) and its w:tblpPr with no gap to the
 * text around it, placed vertically relative to vert_anchor ("margin",
 * "page") and horizontally from the page's edge: LibreOffice floats a table
 * as wide as the type area only when it is placed relative to the page. The
 * caller adds the position (w:tblpX ...) and closes w:tblpPr. */
static void start_floating_table(struct ooxml_xml *x, const char *vert_anchor)
{
    ooxml_start(x, "w:tbl");
    ooxml_start(x, "w:tblPr");
    ooxml_start(x, "w:tblpPr");
    ooxml_attr_long(x, "w:leftFromText", 0);
    ooxml_attr_long(x, "w:rightFromText", 0);
    ooxml_attr_long(x, "w:topFromText", 0);
    ooxml_attr_long(x, "w:bottomFromText", 0);
    ooxml_attr(x, "w:vertAnchor", vert_anchor);
    ooxml_attr(x, "w:horzAnchor", "page");
}

/* The 版记 as a floating table at the foot of the type area (vertAnchor
 * margin, tblpYSpec bottom), as wide as the type area: 抄送 in one row, 印发机关
 * (left, one character in) and 印发日期 (right, one character in) in the last
 * row of one grid line. The rules are the table's borders: thick first and
 * last, thin between. A 信函 has the 抄送 only, without rules. The empty
 * paragraph after the table anchors it to its page. */
static void write_colophon(struct ooxml_xml *x, const struct gw_doc *doc)
{
    bool letter = doc->format == GW_FORMAT_LETTER;
    bool cc = has(&doc->cc);
    bool printer = !letter && (has(&doc->printer) || has(&doc->print_date));
    start_floating_table(x, "margin");
    ooxml_attr(x, "w:tblpYSpec", "bottom");
    ooxml_attr_long(x, "w:tblpX", MM(GW_MARGIN_LEFT_MM));
    ooxml_end(x);
    el_val(x, "w:tblOverlap", "never");
    ooxml_start(x, "w:tblW");
    ooxml_attr_long(x, "w:w", TEXT_W);
    ooxml_attr(x, "w:type", "dxa");
    ooxml_end(x);
    ooxml_start(x, "w:tblBorders");
    write_table_border(x, "w:top", letter ? NULL : &RULE_THICK);
    write_table_border(x, "w:left", NULL);
    write_table_border(x, "w:bottom", letter ? NULL : &RULE_THICK);
    write_table_border(x, "w:right", NULL);
    write_table_border(x, "w:insideH", letter ? NULL : &RULE_THIN);
    write_table_border(x, "w:insideV", NULL);
    ooxml_end(x);
    el_val(x, "w:tblLayout", "fixed");
    write_cell_margins_zero(x, "w:tblCellMar");
    ooxml_end(x);
    ooxml_start(x, "w:tblGrid");
    ooxml_start(x, "w:gridCol");
    ooxml_attr_long(x, "w:w", TEXT_W);
    ooxml_end(x);
    ooxml_end(x);
    if (cc) {
        size_t n = strlen(doc->cc.s) + 16;
        char *line = malloc(n); /* [n] "抄送：" cc "。" */
        if (!line) {
            x->ok = false;
            return;
        }
        snprintf(line, n, "抄送：%s。", doc->cc.s);
        start_colophon_row(x, LINE_PITCH, false);
        struct para_props pp = {.style = "GwColophon",
                                .set_ind = true,
                                .ind_left = CHAR_4HAO + 3 * CHAR_4HAO,
                                .ind_right = CHAR_4HAO,
                                .hanging = 3 * CHAR_4HAO};
        write_para(x, &pp, NULL, line);
        free(line);
        ooxml_end(x); /* w:tc */
        ooxml_end(x); /* w:tr */
    }
    if (printer) {
        char date[256] = "";
        if (has(&doc->print_date))
            snprintf(date, sizeof date, "\t%s印发", doc->print_date.s);
        start_colophon_row(x, LINE_PITCH, true);
        struct para_props pp = {.style = "GwColophon", .tab_right = TEXT_W - CHAR_4HAO};
        write_para2(x, &pp, NULL, has(&doc->printer) ? doc->printer.s : "", NULL, date);
        ooxml_end(x);
        ooxml_end(x);
    }
    ooxml_end(x); /* w:tbl */
    struct para_props anchor = {.style = "GwRule", .line_exact = SECTION_END_TW};
    write_para(x, &anchor, NULL, NULL);
}

/* The 版记 where the plan puts it, and the last section's properties. */
static void write_colophon_and_end(struct ooxml_xml *x, const struct gw_doc *doc,
                                   const struct page_plan *plan)
{
    bool letter = doc->format == GW_FORMAT_LETTER;
    enum section_kind last = SECTION_MAIN;
    switch (plan->colophon) {
    case COLOPHON_NONE:
        write_sectpr(x, SECTION_MAIN, letter);
        return;
    case COLOPHON_ON_LAST_PAGE:
        break;
    case COLOPHON_AFTER_BLANK:
        write_section_end(x, SECTION_MAIN, letter);
        write_section_end(x, SECTION_UNNUMBERED, letter); /* the blank page */
        last = SECTION_UNNUMBERED;
        break;
    case COLOPHON_OWN_PAGE:
        write_section_end(x, SECTION_MAIN, letter);
        last = plan->colophon_numbered ? SECTION_NUMBERED : SECTION_UNNUMBERED;
        break;
    case COLOPHON_EVEN_PAGE:
        write_section_end(x, SECTION_MAIN, letter);
        last = SECTION_EVEN_PAGE;
        break;
    }
    if (last != SECTION_MAIN) {
        /* LibreOffice starts a section's page style at its first paragraph,
         * which must not be one a floating table takes away */
        struct para_props first = {.style = "GwRule", .line_exact = SECTION_END_TW};
        write_para(x, &first, NULL, NULL);
    }
    write_colophon(x, doc);
    write_sectpr(x, last, letter);
}

static bool build_document(const struct gw_doc *doc, const struct page_plan *plan, char **data,
                           size_t *len)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    start_w_root(&x, "w:document");
    ooxml_start(&x, "w:body");
    int head_tw = 0; /* the height of the 版头 written, in twips; -1: not known */
    bool head = write_head(&x, doc, plan, &head_tw);
    /* The space above the first paragraph after the 版头, so that it starts on
     * the grid line the layout chose (when the 版头's height is known); -1:
     * the paragraph's own. */
    int first_before = -1;
    if (head && head_tw >= 0 && plan->text_slot >= 0 && plan->text_slot * LINE_PITCH > head_tw)
        first_before = plan->text_slot * LINE_PITCH - head_tw;
    if (has(&doc->title) && !title_in_mark(doc)) {
        int before = doc->format == GW_FORMAT_LETTER ? LINE_PITCH : 2 * LINE_PITCH;
        before = first_before >= 0 ? first_before : head ? before : 0;
        first_before = -1;
        /* one blank line under the title: the 主送机关's space before, or here */
        struct para_props pp = {.style = "Title",
                                .before = before,
                                .set_before = true,
                                .after = has(&doc->recipients) ? 0 : LINE_PITCH};
        write_para(&x, &pp, NULL, plan->title_lines ? plan->title_lines : doc->title.s);
    }
    if (has(&doc->recipients)) {
        size_t n = strlen(doc->recipients.s) + 4;
        char *line = malloc(n); /* [n] recipients "：" */
        if (line) {
            snprintf(line, n, "%s：", doc->recipients.s);
            struct para_props pp = {.style = "GwRecipients",
                                    .before = first_before >= 0 ? first_before : LINE_PITCH};
            write_para(&x, &pp, NULL, line);
        }
        first_before = -1;
        x.ok = x.ok && line;
        free(line);
    }
    /* the 落款 takes the body's last lines with it to a new page, as the
     * layout does, when nothing else comes between (and the layout did not set
     * it alone on a new page, when the text was too short to go along) */
    bool keep_body = plan->n_sig > 0 && !plan->sig_new_page && doc->n_attachments == 0 &&
                     !has(&doc->attendees) &&
                     !has(&doc->absentees) && !has(&doc->observers);
    write_blocks(&x, doc->body, doc->n_body, first_before,
                 keep_body ? blocks_holding_tail(doc->body, doc->n_body, plan->sig_company_len) : 0);
    write_attachment_list(&x, doc);
    write_minutes_people(&x, doc);
    write_signature(&x, doc, plan);
    write_attachment_pages(&x, doc);
    write_colophon_and_end(&x, doc, plan);
    ooxml_end(&x);
    ooxml_end(&x);
    return ooxml_finish(&x, data, len);
}

/* ---- styles ------------------------------------------------------------------------- */

struct style_def {
    const char *id, *name, *based_on;
    struct para_props pp;
    struct run_props rp;
};

static void write_style(struct ooxml_xml *x, const struct style_def *s)
{
    ooxml_start(x, "w:style");
    ooxml_attr(x, "w:type", "paragraph");
    if (strcmp(s->id, "Normal") == 0)
        ooxml_attr(x, "w:default", "1");
    ooxml_attr(x, "w:styleId", s->id);
    el_val(x, "w:name", s->name);
    if (s->based_on)
        el_val(x, "w:basedOn", s->based_on);
    el_val(x, "w:next", s->pp.outline_lvl || strcmp(s->id, "Title") == 0 ? "GwBody" : s->id);
    ooxml_el(x, "w:qFormat");
    ooxml_start(x, "w:pPr");
    write_ppr_body(x, &s->pp);
    ooxml_end(x);
    write_rpr(x, &s->rp);
    ooxml_end(x);
}

static bool build_styles(char **data, size_t *len)
{
    const int first = 2 * CHAR_TW; /* 首行缩进 2 字 */
    const struct style_def styles[] = {
        {"Normal",
         "Normal",
         NULL,
         {.line_exact = LINE_PITCH, .jc = "both"},
         {FONT_FANGSONG, "000000", SZ_3HAO}},
        {"GwBody",
         "公文正文",
         "Normal",
         {.set_ind = true, .first_line = first, .first_line_chars = 200},
         {0}},
        /* Lines placed by centring, tabs or computed indents leave the character
         * grid: Word narrows a snapped character by 0.2 pt only, but LibreOffice
         * gives a character wider than the pitch two cells and would wrap them. */
        {"Title",
         "Title",
         "Normal",
         {.no_snap = true, .jc = "center"},
         {FONT_XIAOBIAOSONG, NULL, SZ_2HAO}},
        {"Heading1",
         "heading 1",
         "GwBody",
         {.keep_next = true, .outline_lvl = 1},
         {FONT_HEITI, NULL, SZ_3HAO}},
        {"Heading2",
         "heading 2",
         "GwBody",
         {.keep_next = true, .outline_lvl = 2},
         {FONT_KAITI, NULL, SZ_3HAO}},
        {"Heading3", "heading 3", "GwBody", {.outline_lvl = 3}, {FONT_FANGSONG, NULL, SZ_3HAO}},
        {"Heading4", "heading 4", "GwBody", {.outline_lvl = 4}, {FONT_FANGSONG, NULL, SZ_3HAO}},
        {"GwHeaderField", "份号密级", "Normal", {.jc = "left"}, {0}},
        {"GwIssuerMark",
         "发文机关标志",
         "Normal",
         {.no_snap = true, .jc = "center"},
         {FONT_XIAOBIAOSONG, RED, 72}},
        {"GwDocNumber", "发文字号", "Normal", {.no_snap = true, .jc = "center"}, {0}},
        {"GwRule",
         "分隔线",
         "Normal",
         {.no_snap = true, .line_exact = MM(4), .jc = "center"},
         {.sz = 2}},
        {"GwRecipients", "主送机关", "Normal", {.jc = "left"}, {0}},
        /* The 落款 is placed by tab stops on lines that stay on the grid, so
         * that LibreOffice sets them at the grid lines the layout chose (an
         * unsnapped line sits about 1 mm lower in its exact line height). */
        {"GwSignature", "发文机关署名", "Normal", {.jc = "left"}, {0}},
        /* Hanging indents: based on Normal, so that no firstLineChars is inherited
         * (Word lets a style's *Chars indent win over a paragraph's twips). */
        {"GwAttachmentList", "附件说明", "Normal", {.jc = "left"}, {0}},
        {"GwMinutesList", "出席人员", "Normal", {.jc = "left"}, {0}},
        {"GwAttachmentLabel", "附件标注", "Normal", {.jc = "left"}, {FONT_HEITI, NULL, SZ_3HAO}},
        {"GwColophon",
         "版记",
         "Normal",
         {.set_ind = true, .ind_left = CHAR_4HAO, .ind_right = CHAR_4HAO, .jc = "left"},
         {FONT_FANGSONG, NULL, SZ_4HAO}},
        {"Footer",
         "footer",
         "Normal",
         {.no_snap = true, .line_exact = CHAR_4HAO, .jc = "right"},
         {FONT_SONGTI, NULL, SZ_4HAO}},
    };
    struct ooxml_xml x;
    ooxml_begin(&x);
    start_w_root(&x, "w:styles");
    /* Defaults name the faces explicitly: no theme fonts anywhere. */
    ooxml_start(&x, "w:docDefaults");
    ooxml_start(&x, "w:rPrDefault");
    ooxml_start(&x, "w:rPr");
    write_fonts(&x, FONT_FANGSONG);
    el_val_int(&x, "w:spacing", -5);
    el_val_int(&x, "w:sz", SZ_3HAO);
    el_val_int(&x, "w:szCs", SZ_3HAO);
    ooxml_start(&x, "w:lang");
    ooxml_attr(&x, "w:val", "en-US");
    ooxml_attr(&x, "w:eastAsia", "zh-CN");
    ooxml_attr(&x, "w:bidi", "ar-SA");
    ooxml_end(&x);
    ooxml_end(&x);
    ooxml_end(&x);
    ooxml_start(&x, "w:pPrDefault");
    ooxml_start(&x, "w:pPr");
    /* no punctuation hanging into the margin: the layout keeps every line
     * inside the type area and wraps one character earlier instead */
    el_val(&x, "w:overflowPunct", "0");
    /* and no extra space between Chinese and Latin letters or digits, which
     * the layout does not add either */
    el_val(&x, "w:autoSpaceDE", "0");
    el_val(&x, "w:autoSpaceDN", "0");
    ooxml_start(&x, "w:spacing");
    ooxml_attr_long(&x, "w:after", 0);
    ooxml_attr_long(&x, "w:line", LINE_PITCH);
    ooxml_attr(&x, "w:lineRule", "exact");
    ooxml_end(&x);
    ooxml_end(&x);
    ooxml_end(&x);
    ooxml_end(&x);
    for (size_t i = 0; i < sizeof styles / sizeof styles[0]; i++)
        write_style(&x, &styles[i]);
    /* The default character style Word expects. */
    ooxml_start(&x, "w:style");
    ooxml_attr(&x, "w:type", "character");
    ooxml_attr(&x, "w:default", "1");
    ooxml_attr(&x, "w:styleId", "DefaultParagraphFont");
    el_val(&x, "w:name", "Default Paragraph Font");
    el_val_int(&x, "w:uiPriority", 1);
    ooxml_el(&x, "w:semiHidden");
    ooxml_end(&x);
    ooxml_end(&x);
    return ooxml_finish(&x, data, len);
}

/* ---- settings, fonts, footers, letter header ------------------------------------------- */

static bool build_settings(char **data, size_t *len)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    start_w_root(&x, "w:settings");
    el_val_int(&x, "w:defaultTabStop", 2 * CHAR_TW);
    ooxml_el(&x, "w:evenAndOddHeaders");
    el_val(&x, "w:characterSpacingControl", "compressPunctuation");
    ooxml_start(&x, "w:compat");
    ooxml_start(&x, "w:compatSetting");
    ooxml_attr(&x, "w:name", "compatibilityMode");
    ooxml_attr(&x, "w:uri", "http://schemas.microsoft.com/office/word");
    ooxml_attr(&x, "w:val", "15");
    ooxml_end(&x);
    ooxml_end(&x);
    ooxml_end(&x);
    return ooxml_finish(&x, data, len);
}

static bool build_font_table(char **data, size_t *len)
{
    static const char *const fonts[] = {FONT_FANGSONG, FONT_XIAOBIAOSONG, FONT_HEITI, FONT_KAITI,
                                        FONT_SONGTI};
    static const char *const families[] = {"modern", "script", "modern", "modern", "auto"};
    struct ooxml_xml x;
    ooxml_begin(&x);
    start_w_root(&x, "w:fonts");
    for (int i = 0; i < 5; i++) {
        ooxml_start(&x, "w:font");
        ooxml_attr(&x, "w:name", fonts[i]);
        el_val(&x, "w:charset", "86"); /* GB2312 */
        el_val(&x, "w:family", families[i]);
        el_val(&x, "w:pitch", "fixed");
        ooxml_end(&x);
    }
    ooxml_end(&x);
    return ooxml_finish(&x, data, len);
}

/* A footer with the page number "— N —": odd pages right-aligned, even pages
 * left-aligned, one 四号 character in. empty: a footer with nothing in it. */
static bool build_footer(bool odd, bool empty, char **data, size_t *len)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    start_w_root(&x, "w:ftr");
    struct para_props pp = {.style = "Footer",
                            .set_ind = true,
                            .jc = odd ? "right" : "left",
                            .ind_left = odd ? 0 : CHAR_4HAO,
                            .ind_right = odd ? CHAR_4HAO : 0};
    ooxml_start(&x, "w:p");
    ooxml_start(&x, "w:pPr");
    write_ppr_body(&x, &pp);
    ooxml_end(&x);
    if (!empty) {
        write_run(&x, NULL, "— ");
        static const char *const parts[] = {"begin", NULL, "separate", "1", "end"};
        for (int i = 0; i < 5; i++) {
            ooxml_start(&x, "w:r");
            if (i == 1) {
                ooxml_start(&x, "w:instrText");
                ooxml_attr(&x, "xml:space", "preserve");
                ooxml_text(&x, " PAGE ");
                ooxml_end(&x);
            } else if (i == 3) {
                ooxml_el_text(&x, "w:t", parts[i]);
            } else {
                ooxml_start(&x, "w:fldChar");
                ooxml_attr(&x, "w:fldCharType", parts[i]);
                ooxml_end(&x);
            }
            ooxml_end(&x);
        }
        write_run(&x, NULL, " —");
    }
    ooxml_end(&x);
    ooxml_end(&x);
    return ooxml_finish(&x, data, len);
}

/* 信函格式, page 1's 标志 as the layout draws it: a floating table (it takes no
 * room in the header, so the text still starts at the 37 mm margin) from 30
 * mm below the page's top to the first double rule, 170 mm wide and centred,
 * whose red thick-over-thin bottom border is that rule; an empty paragraph
 * after it anchors it. */
static void write_letter_mark_table(struct ooxml_xml *x, const char *mark, int sz,
                                    double rule_top_mm)
{
    const int top = MM(GW_LETTER_MARK_TOP_MM) - 2 * PT; /* the face's box starts above its ink */
    const int width = MM(GW_LETTER_RULE_W_MM);
    static const struct border dbl = {"thickThinSmallGap", 24, RED, 0};
    start_floating_table(x, "page");
    ooxml_attr_long(x, "w:tblpX", MM((GW_PAGE_W_MM - GW_LETTER_RULE_W_MM) / 2));
    ooxml_attr_long(x, "w:tblpY", top);
    ooxml_end(x);
    el_val(x, "w:tblOverlap", "never");
    ooxml_start(x, "w:tblW");
    ooxml_attr_long(x, "w:w", width);
    ooxml_attr(x, "w:type", "dxa");
    ooxml_end(x);
    ooxml_start(x, "w:tblBorders");
    write_table_border(x, "w:top", NULL);
    write_table_border(x, "w:left", NULL);
    write_table_border(x, "w:bottom", &dbl);
    write_table_border(x, "w:right", NULL);
    write_table_border(x, "w:insideH", NULL);
    write_table_border(x, "w:insideV", NULL);
    ooxml_end(x);
    el_val(x, "w:tblLayout", "fixed");
    write_cell_margins_zero(x, "w:tblCellMar");
    ooxml_end(x);
    ooxml_start(x, "w:tblGrid");
    ooxml_start(x, "w:gridCol");
    ooxml_attr_long(x, "w:w", width);
    ooxml_end(x);
    ooxml_end(x);
    ooxml_start(x, "w:tr");
    ooxml_start(x, "w:trPr");
    ooxml_start(x, "w:trHeight");
    ooxml_attr_long(x, "w:val", MM(rule_top_mm) - top);
    ooxml_attr(x, "w:hRule", "exact");
    ooxml_end(x);
    ooxml_end(x);
    ooxml_start(x, "w:tc");
    ooxml_start(x, "w:tcPr");
    ooxml_start(x, "w:tcW");
    ooxml_attr_long(x, "w:w", width);
    ooxml_attr(x, "w:type", "dxa");
    ooxml_end(x);
    ooxml_end(x);
    struct para_props pp = {.style = "GwIssuerMark", .line_exact = sz * PT / 2 + 2 * PT};
    struct run_props rp = {.sz = sz};
    write_para(x, &pp, &rp, mark);
    ooxml_end(x); /* w:tc */
    ooxml_end(x); /* w:tr */
    ooxml_end(x); /* w:tbl */
    struct para_props anchor = {.style = "GwRule", .line_exact = SECTION_END_TW};
    write_para(x, &anchor, NULL, NULL);
}

/* 信函格式, page 1's header: the mark 30 mm from the top of the paper (the
 * header distance) and a red double rule (thick over thin) 170 mm long. */
static bool build_letter_header(const struct gw_doc *doc, const struct page_plan *plan,
                                char **data, size_t *len)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    start_w_root(&x, "w:hdr");
    char *mark = issuer_mark_text(doc);
    x.ok = x.ok && mark;
    const int overhang = (MM(170) - TEXT_W) / 2; /* the rule is wider than the type area */
    static const struct border dbl = {"thickThinSmallGap", 24, RED, 4};
    int sz = mark ? issuer_mark_size(mark, plan->mark_sz) : 72;
    struct run_props rp = {.sz = sz};
    if (plan->letter_rule_top_mm > GW_LETTER_MARK_TOP_MM) {
        write_letter_mark_table(&x, mark ? mark : "", sz, plan->letter_rule_top_mm);
    } else {
        struct para_props pp = {.style = "GwIssuerMark",
                                .bottom = &dbl,
                                .set_ind = true,
                                .ind_left = -overhang,
                                .ind_right = -overhang,
                                .line_exact = sz * PT / 2 + 2 * PT};
        write_para(&x, &pp, &rp, mark ? mark : "");
    }
    free(mark);
    ooxml_end(&x);
    return ooxml_finish(&x, data, len);
}

/* 信函格式, page 1's footer: a red double rule (thin over thick) 20 mm above
 * the bottom edge, and no page number. */
static bool build_letter_footer(char **data, size_t *len)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    start_w_root(&x, "w:ftr");
    const int overhang = (MM(170) - TEXT_W) / 2;
    static const struct border dbl = {"thinThickSmallGap", 24, RED, 0};
    /* The footer's bottom lies 28 mm - 14 pt above the edge; the empty line
     * below the rule brings the rule up to about 20 mm. */
    struct para_props pp = {.style = "Footer",
                            .bottom = &dbl,
                            .set_ind = true,
                            .ind_left = -overhang,
                            .ind_right = -overhang,
                            .line_exact = PT};
    write_para(&x, &pp, NULL, NULL);
    ooxml_end(&x);
    return ooxml_finish(&x, data, len);
}

/* ---- package parts ------------------------------------------------------------------- */

struct part {
    const char *name;     /* path in the zip */
    const char *type;     /* content type (NULL: by extension) */
    const char *rel_type; /* relationship type from document.xml, or NULL */
    const char *rid;
    char *data; /* [len] owned */
    size_t len;
};

static bool build_content_types(const struct part *parts, int n, char **data, size_t *len)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    ooxml_start(&x, "Types");
    ooxml_attr(&x, "xmlns", OOXML_NS_CT);
    ooxml_default(&x, "rels", "application/vnd.openxmlformats-package.relationships+xml");
    ooxml_default(&x, "xml", "application/xml");
    for (int i = 0; i < n; i++)
        if (parts[i].type)
            ooxml_override(&x, parts[i].name, parts[i].type);
    ooxml_end(&x);
    return ooxml_finish(&x, data, len);
}

static bool build_package_rels(char **data, size_t *len)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    ooxml_start(&x, "Relationships");
    ooxml_attr(&x, "xmlns", OOXML_NS_PKG_REL);
    ooxml_rel(&x, "rId1", OOXML_REL_BASE "officeDocument", "word/document.xml");
    ooxml_rel(&x, "rId2", OOXML_NS_PKG_REL "/metadata/core-properties", "docProps/core.xml");
    ooxml_rel(&x, "rId3", OOXML_REL_BASE "extended-properties", "docProps/app.xml");
    ooxml_end(&x);
    return ooxml_finish(&x, data, len);
}

static bool build_document_rels(const struct part *parts, int n, char **data, size_t *len)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    ooxml_start(&x, "Relationships");
    ooxml_attr(&x, "xmlns", OOXML_NS_PKG_REL);
    for (int i = 0; i < n; i++) {
        if (!parts[i].rel_type)
            continue;
        char type[160];
        snprintf(type, sizeof type, "%s%s", OOXML_REL_BASE, parts[i].rel_type);
        ooxml_rel(&x, parts[i].rid, type, parts[i].name + strlen("word/"));
    }
    ooxml_end(&x);
    return ooxml_finish(&x, data, len);
}

static bool build_core(const struct gw_doc *doc, char **data, size_t *len)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    ooxml_core_props(&x, has(&doc->title) ? doc->title.s : "",
                     doc->n_issuers ? doc->issuers[0].s : "Wenshu", "zh-CN");
    return ooxml_finish(&x, data, len);
}

static bool build_app(char **data, size_t *len)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    ooxml_start(&x, "Properties");
    ooxml_attr(&x, "xmlns", OOXML_NS_EXTENDED_PROPS);
    ooxml_el_text(&x, "Application", "Wenshu");
    ooxml_el_text(&x, "DocSecurity", "0");
    ooxml_end(&x);
    return ooxml_finish(&x, data, len);
}

enum { MAX_PARTS = 16 };

struct package {
    struct part parts[MAX_PARTS];
    int n;
};

static struct part *package_add(struct package *pkg, const char *name, const char *type,
                                const char *rel_type, const char *rid)
{
    struct part *p = &pkg->parts[pkg->n++];
    *p = (struct part){.name = name, .type = type, .rel_type = rel_type, .rid = rid};
    return p;
}

static void package_free(struct package *pkg)
{
    for (int i = 0; i < pkg->n; i++)
        free(pkg->parts[i].data);
    pkg->n = 0;
}

/* Build every XML part in memory. */
static bool package_build(const struct gw_doc *doc, const struct page_plan *plan,
                          struct package *pkg)
{
    char ct_doc[128], ct_styles[128], ct_settings[128], ct_fonts[128], ct_ftr[128], ct_hdr[128];
    snprintf(ct_doc, sizeof ct_doc, "%sdocument.main+xml", CT_WML);
    snprintf(ct_styles, sizeof ct_styles, "%sstyles+xml", CT_WML);
    snprintf(ct_settings, sizeof ct_settings, "%ssettings+xml", CT_WML);
    snprintf(ct_fonts, sizeof ct_fonts, "%sfontTable+xml", CT_WML);
    snprintf(ct_ftr, sizeof ct_ftr, "%sfooter+xml", CT_WML);
    snprintf(ct_hdr, sizeof ct_hdr, "%sheader+xml", CT_WML);
    bool letter = doc->format == GW_FORMAT_LETTER;
    struct part *p;
    bool ok = true;
    p = package_add(pkg, "word/document.xml", ct_doc, NULL, NULL);
    ok = ok && build_document(doc, plan, &p->data, &p->len);
    p = package_add(pkg, "word/styles.xml", ct_styles, "styles", RID_STYLES);
    ok = ok && build_styles(&p->data, &p->len);
    p = package_add(pkg, "word/settings.xml", ct_settings, "settings", RID_SETTINGS);
    ok = ok && build_settings(&p->data, &p->len);
    p = package_add(pkg, "word/fontTable.xml", ct_fonts, "fontTable", RID_FONTS);
    ok = ok && build_font_table(&p->data, &p->len);
    p = package_add(pkg, "word/footer1.xml", ct_ftr, "footer", RID_FOOTER_ODD);
    ok = ok && build_footer(true, false, &p->data, &p->len);
    p = package_add(pkg, "word/footer2.xml", ct_ftr, "footer", RID_FOOTER_EVEN);
    ok = ok && build_footer(false, false, &p->data, &p->len);
    p = package_add(pkg, "word/footer3.xml", ct_ftr, "footer", RID_FOOTER_EMPTY);
    ok = ok && build_footer(true, true, &p->data, &p->len);
    if (letter) {
        p = package_add(pkg, "word/header1.xml", ct_hdr, "header", RID_HEADER_LETTER);
        ok = ok && build_letter_header(doc, plan, &p->data, &p->len);
        p = package_add(pkg, "word/footer4.xml", ct_ftr, "footer", RID_FOOTER_LETTER);
        ok = ok && build_letter_footer(&p->data, &p->len);
    }
    p = package_add(pkg, "docProps/core.xml",
                    "application/vnd.openxmlformats-package.core-properties+xml", NULL, NULL);
    ok = ok && build_core(doc, &p->data, &p->len);
    p = package_add(pkg, "docProps/app.xml",
                    "application/vnd.openxmlformats-officedocument.extended-properties+xml", NULL,
                    NULL);
    ok = ok && build_app(&p->data, &p->len);
    struct part rels = {0}, doc_rels = {0}, types = {0};
    ok = ok && build_package_rels(&rels.data, &rels.len);
    ok = ok && build_document_rels(pkg->parts, pkg->n, &doc_rels.data, &doc_rels.len);
    ok = ok && build_content_types(pkg->parts, pkg->n, &types.data, &types.len);
    /* [Content_Types].xml goes first in the zip. */
    if (pkg->n + 3 <= MAX_PARTS) {
        memmove(&pkg->parts[1], &pkg->parts[0], sizeof pkg->parts[0] * (size_t)pkg->n);
        pkg->parts[0] =
            (struct part){.name = "[Content_Types].xml", .data = types.data, .len = types.len};
        pkg->n++;
        pkg->parts[pkg->n++] =
            (struct part){.name = "_rels/.rels", .data = rels.data, .len = rels.len};
        pkg->parts[pkg->n++] = (struct part){
            .name = "word/_rels/document.xml.rels", .data = doc_rels.data, .len = doc_rels.len};
    } else {
        free(types.data);
        free(rels.data);
        free(doc_rels.data);
        ok = false;
    }
    return ok;
}

bool gw_export_docx(const struct gw_doc *doc, const struct gw_export_opts *opts, const char *path,
                    struct gw_err *err)
{
    /* Word resolves the standard font names itself; opts->fonts only serves
     * the layout that decides the page breaks. */
    struct page_plan plan;
    plan_pages(doc, opts, &plan);
    struct package pkg = {0};
    bool built = package_build(doc, &plan, &pkg);
    page_plan_free(&plan);
    if (!built) {
        package_free(&pkg);
        return gw_fail(err, "%s: cannot write the document's XML (out of memory?)", path);
    }
    struct ooxml_zip *zip = NULL;
    if (!ooxml_zip_open(path, &zip, err)) {
        package_free(&pkg);
        return false;
    }
    for (int i = 0; i < pkg.n; i++) {
        ooxml_zip_add(zip, pkg.parts[i].name, pkg.parts[i].data, pkg.parts[i].len);
        pkg.parts[i].data = NULL; /* the zip owns it now, or it is freed */
    }
    return ooxml_zip_commit(&zip, true, err);
}
