/* deck-pptx.c: the PowerPoint (.pptx) export of a deck (deck.h), ECMA-376
 * PresentationML.
 *
 * The package: presentation.xml (16:9, 12192000 x 6858000 EMU) with one
 * slide master, three layouts (title slide; title and content; title,
 * content and picture), a theme part carrying the deck theme's colours and
 * fonts (Latin and East Asian), a notes master with its own theme, one slide
 * part a page (the first shows the deck's title and subtitle), a notes slide
 * for every slide with speaker notes, and the pictures under ppt/media.
 * Slides hold placeholders that point at their layout's (and a picture,
 * placed explicitly in the picture slot); the look
 * (background, accent band and rule, fonts, sizes, bullet characters and
 * indents) lives in the master and layouts, so that the file stays editable.
 * A crowded slide carries the shrink factor of the PDF's fitting
 * (deck-internal.h) as normAutofit.
 *
 * Every XML part is written with libxml2's xmlTextWriter into memory, the
 * parts are zipped with libzip into a temporary file beside the target, and
 * that file is renamed over the target only when complete (ooxml.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "deck-internal.h"
#include "ooxml.h"
#include "wenshu-engine.h"

static const char NS_A[] = "http://schemas.openxmlformats.org/drawingml/2006/main";
static const char NS_P[] = "http://schemas.openxmlformats.org/presentationml/2006/main";
#define CT_PML "application/vnd.openxmlformats-officedocument.presentationml."

/* ---- XML writing (ooxml.h) ---- */

static void attr_rgb(struct ooxml_xml *x, const char *name, uint32_t rgb)
{
    char s[8];
    snprintf(s, sizeof s, "%06X", (unsigned)(rgb & 0xFFFFFF));
    ooxml_attr(x, name, s);
}

static void start_root(struct ooxml_xml *x, const char *name)
{
    ooxml_start(x, name);
    ooxml_attr(x, "xmlns:a", NS_A);
    ooxml_attr(x, "xmlns:r", OOXML_NS_R);
    ooxml_attr(x, "xmlns:p", NS_P);
}

static void solid_fill(struct ooxml_xml *x, uint32_t rgb)
{
    ooxml_start(x, "a:solidFill");
    ooxml_start(x, "a:srgbClr");
    attr_rgb(x, "val", rgb);
    ooxml_end(x);
    ooxml_end(x);
}

static void xfrm(struct ooxml_xml *x, const char *tag, struct deck_box b)
{
    ooxml_start(x, tag);
    ooxml_start(x, "a:off");
    ooxml_attr_long(x, "x", b.x);
    ooxml_attr_long(x, "y", b.y);
    ooxml_end(x);
    ooxml_start(x, "a:ext");
    ooxml_attr_long(x, "cx", b.w);
    ooxml_attr_long(x, "cy", b.h);
    ooxml_end(x);
    ooxml_end(x);
}

/* A rectangle's place (a:xfrm) and geometry (a:prstGeom rect), in p:spPr. */
static void rect_xfrm(struct ooxml_xml *x, struct deck_box b)
{
    xfrm(x, "a:xfrm", b);
    ooxml_start(x, "a:prstGeom");
    ooxml_attr(x, "prst", "rect");
    ooxml_el(x, "a:avLst");
    ooxml_end(x);
}

/* ---- the package's parts ---- */

struct part {
    char *name;       /* "ppt/slides/slide1.xml", malloc'd */
    const char *type; /* content type, NULL: covered by a Default (rels, media) */
    char *data;       /* [len] the bytes, malloc'd */
    size_t len;
};

struct package {
    struct part *parts; /* [n] */
    int n, cap;
    bool ok; /* false after a failed allocation or writer */
};

/* Add a part; takes data (freed on failure too). */
static void package_add(struct package *pkg, const char *type, char *data, size_t len,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void package_add(struct package *pkg, const char *type, char *data, size_t len,
                        const char *fmt, ...)
{
    if (pkg->ok && pkg->n == pkg->cap) {
        int cap = pkg->cap ? 2 * pkg->cap : 32;
        struct part *more = realloc(pkg->parts, sizeof *more * (size_t)cap);
        if (more) {
            pkg->parts = more;
            pkg->cap = cap;
        } else {
            pkg->ok = false;
        }
    }
    if (!pkg->ok || !data) {
        free(data);
        pkg->ok = false;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *name = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    pkg->parts[pkg->n++] = (struct part){.name = name, .type = type, .data = data, .len = len};
}

/* Finish x and add its text as a part. */
static void package_add_xml(struct package *pkg, struct ooxml_xml *x, const char *type,
                            const char *name)
{
    char *data = NULL;
    size_t len = 0;
    if (!ooxml_finish(x, &data, &len))
        pkg->ok = false;
    package_add(pkg, type, data, len, "%s", name);
}

static void package_free(struct package *pkg)
{
    for (int i = 0; i < pkg->n; i++) {
        g_free(pkg->parts[i].name);
        free(pkg->parts[i].data);
    }
    free(pkg->parts);
    *pkg = (struct package){0};
}

/* ---- relationships ---- */

struct rel {
    const char *id;
    const char *type; /* the last part of the type URI: "slide", "theme" ... */
    char target[128]; /* relative to the source part's folder */
};

static void add_rels(struct package *pkg, const char *name, const struct rel *rels, int n)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    ooxml_start(&x, "Relationships");
    ooxml_attr(&x, "xmlns", OOXML_NS_PKG_REL);
    for (int i = 0; i < n; i++) {
        char type[256];
        if (strcmp(rels[i].type, "core-properties") == 0)
            snprintf(type, sizeof type, "%s/metadata/core-properties", OOXML_NS_PKG_REL);
        else
            snprintf(type, sizeof type, "%s%s", OOXML_REL_BASE, rels[i].type);
        ooxml_rel(&x, rels[i].id, type, rels[i].target);
    }
    ooxml_end(&x);
    package_add_xml(pkg, &x, NULL, name);
}

/* ---- text bodies ---- */

/* <a:bodyPr> with no insets (the PDF draws from the box's edge), an anchor,
 * and normAutofit with the fitting's font scale. */
static void body_pr(struct ooxml_xml *x, const char *anchor, double scale)
{
    ooxml_start(x, "a:bodyPr");
    ooxml_attr(x, "lIns", "0");
    ooxml_attr(x, "tIns", "0");
    ooxml_attr(x, "rIns", "0");
    ooxml_attr(x, "bIns", "0");
    ooxml_attr(x, "anchor", anchor);
    ooxml_start(x, "a:normAutofit");
    if (scale < 0.999)
        ooxml_attr_long(x, "fontScale", (long)(scale * 100000 + 0.5));
    ooxml_end(x);
    ooxml_end(x);
}

/* One paragraph of text at lvl (-1: no pPr), "\n" as a:br. */
static void paragraph(struct ooxml_xml *x, int lvl, const char *algn, const char *s)
{
    ooxml_start(x, "a:p");
    if (lvl >= 0 || algn) {
        ooxml_start(x, "a:pPr");
        if (lvl > 0)
            ooxml_attr_long(x, "lvl", lvl);
        if (algn)
            ooxml_attr(x, "algn", algn);
        ooxml_end(x);
    }
    gchar **lines = g_strsplit(s, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        if (i > 0) {
            ooxml_start(x, "a:br");
            ooxml_el_attr(x, "a:rPr", "lang", "zh-CN");
            ooxml_end(x);
        }
        if (!lines[i][0])
            continue;
        ooxml_start(x, "a:r");
        ooxml_start(x, "a:rPr");
        ooxml_attr(x, "lang", "zh-CN");
        ooxml_attr(x, "altLang", "en-US");
        ooxml_end(x);
        ooxml_el_text(x, "a:t", lines[i]);
        ooxml_end(x);
    }
    g_strfreev(lines);
    ooxml_start(x, "a:endParaRPr");
    ooxml_attr(x, "lang", "zh-CN");
    ooxml_end(x);
    ooxml_end(x);
}

/* ---- shapes ---- */

struct placeholder {
    int id; /* cNvPr id, unique in the spTree */
    const char *name;
    const char *type;           /* ph type, NULL: an object placeholder (body) */
    int idx;                    /* ph idx, 0: none */
    const struct deck_box *box; /* NULL: inherited */
};

static void ph_start(struct ooxml_xml *x, const struct placeholder *ph)
{
    ooxml_start(x, "p:sp");
    ooxml_start(x, "p:nvSpPr");
    ooxml_start(x, "p:cNvPr");
    ooxml_attr_long(x, "id", ph->id);
    ooxml_attr(x, "name", ph->name);
    ooxml_end(x);
    ooxml_start(x, "p:cNvSpPr");
    ooxml_el_attr(x, "a:spLocks", "noGrp", "1");
    ooxml_end(x);
    ooxml_start(x, "p:nvPr");
    ooxml_start(x, "p:ph");
    if (ph->type)
        ooxml_attr(x, "type", ph->type);
    if (ph->idx)
        ooxml_attr_long(x, "idx", ph->idx);
    ooxml_end(x);
    ooxml_end(x);
    ooxml_end(x);
    ooxml_start(x, "p:spPr");
    if (ph->box) {
        rect_xfrm(x, *ph->box);
    }
    ooxml_end(x);
}

/* A placeholder of a master or layout, with its prompt text. */
static void ph_template(struct ooxml_xml *x, const struct placeholder *ph, const char *anchor,
                        const char *prompt)
{
    ph_start(x, ph);
    ooxml_start(x, "p:txBody");
    body_pr(x, anchor, 1);
    ooxml_el(x, "a:lstStyle");
    paragraph(x, -1, NULL, prompt);
    ooxml_end(x);
    ooxml_end(x);
}

/* A filled rectangle drawn by the master or a layout (band, rule). */
static void deco_rect(struct ooxml_xml *x, int id, const char *name, struct deck_box b,
                      uint32_t rgb)
{
    ooxml_start(x, "p:sp");
    ooxml_start(x, "p:nvSpPr");
    ooxml_start(x, "p:cNvPr");
    ooxml_attr_long(x, "id", id);
    ooxml_attr(x, "name", name);
    ooxml_end(x);
    ooxml_el(x, "p:cNvSpPr");
    ooxml_el_attr(x, "p:nvPr", "userDrawn", "1");
    ooxml_end(x);
    ooxml_start(x, "p:spPr");
    rect_xfrm(x, b);
    solid_fill(x, rgb);
    ooxml_start(x, "a:ln");
    ooxml_el(x, "a:noFill");
    ooxml_end(x);
    ooxml_end(x);
    ooxml_end(x);
}

static void point(struct ooxml_xml *x, const char *tag, const char *xn, const char *yn)
{
    ooxml_start(x, tag);
    ooxml_attr(x, xn, "0");
    ooxml_attr(x, yn, "0");
    ooxml_end(x);
}

static void sp_tree_start(struct ooxml_xml *x)
{
    ooxml_start(x, "p:spTree");
    ooxml_start(x, "p:nvGrpSpPr");
    ooxml_start(x, "p:cNvPr");
    ooxml_attr(x, "id", "1");
    ooxml_attr(x, "name", "");
    ooxml_end(x);
    ooxml_el(x, "p:cNvGrpSpPr");
    ooxml_el(x, "p:nvPr");
    ooxml_end(x);
    ooxml_start(x, "p:grpSpPr");
    ooxml_start(x, "a:xfrm");
    point(x, "a:off", "x", "y");
    point(x, "a:ext", "cx", "cy");
    point(x, "a:chOff", "x", "y");
    point(x, "a:chExt", "cx", "cy");
    ooxml_end(x);
    ooxml_end(x);
}

/* Close p:spTree and p:cSld, keep the master's colour map (p:clrMapOvr) and
 * close the part's root: the end of a layout, slide or notes slide. */
static void end_slide_part(struct ooxml_xml *x)
{
    ooxml_end(x); /* spTree */
    ooxml_end(x); /* cSld */
    ooxml_start(x, "p:clrMapOvr");
    ooxml_el(x, "a:masterClrMapping");
    ooxml_end(x);
    ooxml_end(x);
}

/* ---- the theme ---- */

static void theme_color(struct ooxml_xml *x, const char *tag, uint32_t rgb)
{
    ooxml_start(x, tag);
    ooxml_start(x, "a:srgbClr");
    attr_rgb(x, "val", rgb);
    ooxml_end(x);
    ooxml_end(x);
}

static void theme_fonts(struct ooxml_xml *x, const char *tag, const struct deck_font *f)
{
    ooxml_start(x, tag);
    ooxml_el_attr(x, "a:latin", "typeface", f->latin);
    ooxml_el_attr(x, "a:ea", "typeface", f->east_asian);
    ooxml_el_attr(x, "a:cs", "typeface", f->latin);
    ooxml_start(x, "a:font");
    ooxml_attr(x, "script", "Hans");
    ooxml_attr(x, "typeface", f->east_asian);
    ooxml_end(x);
    ooxml_end(x);
}

/* Three identical style entries, each a phClr fill or line. */
static void fmt_list(struct ooxml_xml *x, const char *tag, const char *item)
{
    ooxml_start(x, tag);
    for (int i = 0; i < 3; i++) {
        if (strcmp(item, "ln") == 0) {
            ooxml_start(x, "a:ln");
            ooxml_attr(x, "w", "6350");
        } else if (strcmp(item, "effect") == 0) {
            ooxml_start(x, "a:effectStyle");
            ooxml_el(x, "a:effectLst");
            ooxml_end(x);
            continue;
        }
        ooxml_start(x, "a:solidFill");
        ooxml_el_attr(x, "a:schemeClr", "val", "phClr");
        ooxml_end(x);
        if (strcmp(item, "ln") == 0)
            ooxml_end(x);
    }
    ooxml_end(x);
}

static void add_theme(struct package *pkg, const struct deck_theme *t, const char *name)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    ooxml_start(&x, "a:theme");
    ooxml_attr(&x, "xmlns:a", NS_A);
    ooxml_attr(&x, "name", t->name);
    ooxml_start(&x, "a:themeElements");
    ooxml_start(&x, "a:clrScheme");
    ooxml_attr(&x, "name", t->name);
    theme_color(&x, "a:dk1", t->text_color);
    theme_color(&x, "a:lt1", t->background);
    theme_color(&x, "a:dk2", t->title_color);
    theme_color(&x, "a:lt2", 0xE7E6E6);
    theme_color(&x, "a:accent1", t->accent);
    theme_color(&x, "a:accent2", 0xED7D31);
    theme_color(&x, "a:accent3", 0xA5A5A5);
    theme_color(&x, "a:accent4", 0xFFC000);
    theme_color(&x, "a:accent5", 0x5B9BD5);
    theme_color(&x, "a:accent6", 0x70AD47);
    theme_color(&x, "a:hlink", 0x0563C1);
    theme_color(&x, "a:folHlink", 0x954F72);
    ooxml_end(&x);
    ooxml_start(&x, "a:fontScheme");
    ooxml_attr(&x, "name", t->name);
    theme_fonts(&x, "a:majorFont", &t->title_font);
    theme_fonts(&x, "a:minorFont", &t->body_font);
    ooxml_end(&x);
    ooxml_start(&x, "a:fmtScheme");
    ooxml_attr(&x, "name", t->name);
    fmt_list(&x, "a:fillStyleLst", "fill");
    fmt_list(&x, "a:lnStyleLst", "ln");
    fmt_list(&x, "a:effectStyleLst", "effect");
    fmt_list(&x, "a:bgFillStyleLst", "fill");
    ooxml_end(&x);
    ooxml_end(&x);
    ooxml_el(&x, "a:objectDefaults");
    ooxml_el(&x, "a:extraClrSchemeLst");
    ooxml_end(&x);
    package_add_xml(pkg, &x, "application/vnd.openxmlformats-officedocument.theme+xml", name);
}

/* ---- master, layouts, notes master ---- */

static void clr_map(struct ooxml_xml *x)
{
    ooxml_start(x, "p:clrMap");
    ooxml_attr(x, "bg1", "lt1");
    ooxml_attr(x, "tx1", "dk1");
    ooxml_attr(x, "bg2", "lt2");
    ooxml_attr(x, "tx2", "dk2");
    static const char *const accents[] = {"accent1", "accent2", "accent3", "accent4",
                                          "accent5", "accent6", "hlink",   "folHlink"};
    for (size_t i = 0; i < sizeof accents / sizeof accents[0]; i++)
        ooxml_attr(x, accents[i], accents[i]);
    ooxml_end(x);
}

/* <a:defRPr> in a theme font ("+mj" or "+mn"), colour and size. */
static void def_rpr(struct ooxml_xml *x, double size_pt, bool bold, uint32_t rgb, const char *font)
{
    ooxml_start(x, "a:defRPr");
    ooxml_attr_long(x, "sz", (long)(size_pt * 100 + 0.5));
    if (bold)
        ooxml_attr(x, "b", "1");
    ooxml_attr(x, "kern", "1200");
    solid_fill(x, rgb);
    char face[8];
    snprintf(face, sizeof face, "%s-lt", font);
    ooxml_el_attr(x, "a:latin", "typeface", face);
    snprintf(face, sizeof face, "%s-ea", font);
    ooxml_el_attr(x, "a:ea", "typeface", face);
    snprintf(face, sizeof face, "%s-cs", font);
    ooxml_el_attr(x, "a:cs", "typeface", face);
    ooxml_end(x);
}

static void level_ppr(struct ooxml_xml *x, const struct deck_theme *t, int level)
{
    char tag[16];
    snprintf(tag, sizeof tag, "a:lvl%dpPr", level + 1);
    double size = deck_level_pt(t, level);
    ooxml_start(x, tag);
    ooxml_attr_long(x, "marL", DECK_BULLET_HANG + (long)level * DECK_LEVEL_STEP);
    ooxml_attr_long(x, "indent", -DECK_BULLET_HANG);
    ooxml_attr(x, "algn", "l");
    ooxml_start(x, "a:lnSpc");
    ooxml_el_attr(x, "a:spcPct", "val", "100000");
    ooxml_end(x);
    ooxml_start(x, "a:spcBef");
    ooxml_start(x, "a:spcPts");
    ooxml_attr_long(x, "val", (long)(0.3 * size * 100 + 0.5)); /* hundredths of a point */
    ooxml_end(x);
    ooxml_end(x);
    ooxml_start(x, "a:buClr");
    ooxml_start(x, "a:srgbClr");
    attr_rgb(x, "val", t->accent);
    ooxml_end(x);
    ooxml_end(x);
    ooxml_el_attr(x, "a:buFont", "typeface", "Arial");
    ooxml_el_attr(x, "a:buChar", "char", deck_level_bullet(level));
    def_rpr(x, size, t->body_font.bold, t->text_color, "+mn");
    ooxml_end(x);
}

static void tx_styles(struct ooxml_xml *x, const struct deck_theme *t)
{
    ooxml_start(x, "p:txStyles");
    ooxml_start(x, "p:titleStyle");
    ooxml_start(x, "a:lvl1pPr");
    ooxml_attr(x, "algn", "l");
    ooxml_start(x, "a:lnSpc");
    ooxml_el_attr(x, "a:spcPct", "val", "100000");
    ooxml_end(x);
    ooxml_el(x, "a:buNone");
    def_rpr(x, t->title_pt, t->title_font.bold, t->title_color, "+mj");
    ooxml_end(x);
    ooxml_end(x);
    ooxml_start(x, "p:bodyStyle");
    for (int level = 0; level <= DECK_MAX_LEVEL; level++)
        level_ppr(x, t, level);
    ooxml_end(x);
    ooxml_start(x, "p:otherStyle");
    ooxml_start(x, "a:defPPr");
    ooxml_el_attr(x, "a:defRPr", "lang", "zh-CN");
    ooxml_end(x);
    ooxml_end(x);
    ooxml_end(x);
}

/* A placeholder's own list style: one level, its alignment, size, colour
 * and theme font ("+mj" titles, "+mn" body), no bullet. */
struct ph_style {
    const char *algn;
    double size_pt;
    bool bold;
    uint32_t rgb;
    const char *font;
};

static void ph_template_styled(struct ooxml_xml *x, const struct placeholder *ph,
                               const char *anchor, const char *prompt, const struct ph_style *st)
{
    ph_start(x, ph);
    ooxml_start(x, "p:txBody");
    body_pr(x, anchor, 1);
    ooxml_start(x, "a:lstStyle");
    if (st) {
        ooxml_start(x, "a:lvl1pPr");
        ooxml_attr(x, "marL", "0");
        ooxml_attr(x, "indent", "0");
        ooxml_attr(x, "algn", st->algn);
        ooxml_el(x, "a:buNone");
        def_rpr(x, st->size_pt, st->bold, st->rgb, st->font);
        ooxml_end(x);
    }
    ooxml_end(x);
    paragraph(x, -1, NULL, prompt);
    ooxml_end(x);
    ooxml_end(x);
}

static void add_master(struct package *pkg, const struct deck_theme *t)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    start_root(&x, "p:sldMaster");
    ooxml_start(&x, "p:cSld");
    ooxml_start(&x, "p:bg");
    ooxml_start(&x, "p:bgPr");
    solid_fill(&x, t->background);
    ooxml_el(&x, "a:effectLst");
    ooxml_end(&x);
    ooxml_end(&x);
    sp_tree_start(&x);
    if (t->top_bar)
        deco_rect(&x, 2, "Accent band", deck_box_get(DECK_BOX_TOP_BAR), t->accent);
    struct deck_box title = deck_box_get(DECK_BOX_TITLE), body = deck_box_get(DECK_BOX_BODY);
    ph_template(&x, &(struct placeholder){3, "Title Placeholder 1", "title", 0, &title}, "ctr",
                "单击此处编辑母版标题样式");
    ph_template(&x, &(struct placeholder){4, "Text Placeholder 2", "body", 1, &body}, "t",
                "单击此处编辑母版文本样式");
    ooxml_end(&x); /* spTree */
    ooxml_end(&x); /* cSld */
    clr_map(&x);
    ooxml_start(&x, "p:sldLayoutIdLst");
    for (int i = 0; i < 3; i++) {
        char rid[8];
        snprintf(rid, sizeof rid, "rId%d", i + 1);
        ooxml_start(&x, "p:sldLayoutId");
        ooxml_attr_long(&x, "id", 2147483649L + i);
        ooxml_attr(&x, "r:id", rid);
        ooxml_end(&x);
    }
    ooxml_end(&x);
    tx_styles(&x, t);
    ooxml_end(&x);
    package_add_xml(pkg, &x, CT_PML "slideMaster+xml", "ppt/slideMasters/slideMaster1.xml");
    struct rel rels[4] = {{"rId1", "slideLayout", "../slideLayouts/slideLayout1.xml"},
                          {"rId2", "slideLayout", "../slideLayouts/slideLayout2.xml"},
                          {"rId3", "slideLayout", "../slideLayouts/slideLayout3.xml"},
                          {"rId4", "theme", "../theme/theme1.xml"}};
    add_rels(pkg, "ppt/slideMasters/_rels/slideMaster1.xml.rels", rels, 4);
}

enum layout { LAYOUT_TITLE = 1, LAYOUT_CONTENT = 2, LAYOUT_PICTURE = 3 };

static void add_layout(struct package *pkg, const struct deck_theme *t, enum layout which)
{
    static const char *const names[] = {"", "Title Slide", "Title and Content",
                                        "Title, Content and Picture"};
    static const char *const types[] = {"", "title", "obj", "cust"};
    struct ooxml_xml x;
    ooxml_begin(&x);
    start_root(&x, "p:sldLayout");
    ooxml_attr(&x, "type", types[which]);
    ooxml_attr(&x, "preserve", "1");
    ooxml_start(&x, "p:cSld");
    ooxml_attr(&x, "name", names[which]);
    sp_tree_start(&x);
    if (which == LAYOUT_TITLE) {
        struct deck_box title = deck_box_get(DECK_BOX_COVER_TITLE);
        struct deck_box sub = deck_box_get(DECK_BOX_COVER_SUBTITLE);
        ph_template_styled(&x, &(struct placeholder){2, "Title 1", "ctrTitle", 0, &title}, "b",
                           "单击此处编辑标题",
                           &(struct ph_style){"ctr", t->title_pt * 1.2, t->title_font.bold,
                                              t->title_color, "+mj"});
        ph_template_styled(&x, &(struct placeholder){3, "Subtitle 2", "subTitle", 1, &sub}, "t",
                           "单击此处编辑副标题",
                           &(struct ph_style){"ctr", t->subtitle_pt, false, t->text_color, "+mn"});
        if (t->title_rule)
            deco_rect(&x, 4, "Rule", deck_box_get(DECK_BOX_COVER_RULE), t->accent);
    } else {
        struct deck_box title = deck_box_get(DECK_BOX_TITLE);
        struct deck_box body =
            deck_box_get(which == LAYOUT_PICTURE ? DECK_BOX_BODY_NARROW : DECK_BOX_BODY);
        struct deck_box pic = deck_box_get(DECK_BOX_PICTURE);
        ph_template(&x, &(struct placeholder){2, "Title 1", "title", 0, &title}, "ctr",
                    "单击此处编辑标题");
        ph_template(&x, &(struct placeholder){3, "Content Placeholder 2", NULL, 1, &body}, "t",
                    "单击此处编辑文本");
        if (which == LAYOUT_PICTURE)
            ph_template(&x, &(struct placeholder){4, "Picture Placeholder 3", "pic", 2, &pic},
                        "ctr", "");
        if (t->title_rule)
            deco_rect(&x, 5, "Rule", deck_box_get(DECK_BOX_TITLE_RULE), t->accent);
    }
    end_slide_part(&x);
    char name[64];
    snprintf(name, sizeof name, "ppt/slideLayouts/slideLayout%d.xml", which);
    package_add_xml(pkg, &x, CT_PML "slideLayout+xml", name);
    struct rel rel = {"rId1", "slideMaster", "../slideMasters/slideMaster1.xml"};
    snprintf(name, sizeof name, "ppt/slideLayouts/_rels/slideLayout%d.xml.rels", which);
    add_rels(pkg, name, &rel, 1);
}

static void add_notes_master(struct package *pkg, const struct deck_theme *t)
{
    struct deck_theme notes_theme = *t; /* black on white, whatever the slides' colours */
    notes_theme.background = 0xFFFFFF;
    notes_theme.text_color = 0x000000;
    notes_theme.title_color = 0x000000;
    add_theme(pkg, &notes_theme, "ppt/theme/theme2.xml");
    struct ooxml_xml x;
    ooxml_begin(&x);
    start_root(&x, "p:notesMaster");
    ooxml_start(&x, "p:cSld");
    ooxml_start(&x, "p:bg");
    ooxml_start(&x, "p:bgRef");
    ooxml_attr(&x, "idx", "1001");
    ooxml_el_attr(&x, "a:schemeClr", "val", "bg1");
    ooxml_end(&x);
    ooxml_end(&x);
    sp_tree_start(&x);
    struct deck_box img = {1143000, 685800, 4572000, 2571750}; /* 16:9, on a portrait page */
    struct deck_box body = {685800, 3543300, 5486400, 4914900};
    ph_start(&x, &(struct placeholder){2, "Slide Image Placeholder 1", "sldImg", 0, &img});
    ooxml_end(&x);
    ph_template(&x, &(struct placeholder){3, "Notes Placeholder 2", "body", 1, &body}, "t",
                "单击此处编辑备注");
    ooxml_end(&x);
    ooxml_end(&x);
    clr_map(&x);
    ooxml_start(&x, "p:notesStyle");
    ooxml_start(&x, "a:lvl1pPr");
    ooxml_attr(&x, "marL", "0");
    ooxml_attr(&x, "algn", "l");
    def_rpr(&x, 12, false, 0x000000, "+mn");
    ooxml_end(&x);
    ooxml_end(&x);
    ooxml_end(&x);
    package_add_xml(pkg, &x, CT_PML "notesMaster+xml", "ppt/notesMasters/notesMaster1.xml");
    struct rel rel = {"rId1", "theme", "../theme/theme2.xml"};
    add_rels(pkg, "ppt/notesMasters/_rels/notesMaster1.xml.rels", &rel, 1);
}

/* ---- slides ---- */

/* Open a placeholder's p:txBody whose text is shrunk to scale (the PDF's
 * fitting) by normAutofit; the caller writes the paragraphs and closes it. */
static void start_fitted_body(struct ooxml_xml *x, double scale)
{
    ooxml_start(x, "p:txBody");
    ooxml_start(x, "a:bodyPr");
    ooxml_start(x, "a:normAutofit");
    if (scale < 0.999)
        ooxml_attr_long(x, "fontScale", (long)(scale * 100000 + 0.5));
    ooxml_end(x);
    ooxml_end(x);
    ooxml_el(x, "a:lstStyle");
}

/* A slide's placeholder with text: the cover's title and subtitle, a
 * content slide's title. */
static void ph_text(struct ooxml_xml *x, const struct placeholder *ph, double scale, const char *s)
{
    ph_start(x, ph);
    start_fitted_body(x, scale);
    paragraph(x, -1, NULL, s);
    ooxml_end(x);
    ooxml_end(x);
}

static void ph_bullets(struct ooxml_xml *x, const struct deck_slide *s, double scale)
{
    ph_start(x, &(struct placeholder){3, "Content Placeholder 2", NULL, 1, NULL});
    start_fitted_body(x, scale);
    for (int i = 0; i < s->n_bullets; i++)
        paragraph(x, s->bullet_levels[i], NULL, s->bullets[i]);
    ooxml_end(x);
    ooxml_end(x);
}

/* A picture of width x height pixels, fitted into the picture slot. */
static void picture(struct ooxml_xml *x, const char *descr, int width, int height)
{
    struct deck_box slot = deck_box_get(DECK_BOX_PICTURE);
    double scale = slot.w / (double)width < slot.h / (double)height ? slot.w / (double)width
                                                                    : slot.h / (double)height;
    long w = (long)(width * scale), h = (long)(height * scale);
    struct deck_box b = {slot.x + (slot.w - w) / 2, slot.y + (slot.h - h) / 2, w, h};
    ooxml_start(x, "p:pic");
    ooxml_start(x, "p:nvPicPr");
    ooxml_start(x, "p:cNvPr");
    ooxml_attr(x, "id", "4");
    ooxml_attr(x, "name", "Picture 3");
    ooxml_attr(x, "descr", descr);
    ooxml_end(x);
    ooxml_start(x, "p:cNvPicPr");
    ooxml_el_attr(x, "a:picLocks", "noChangeAspect", "1");
    ooxml_end(x);
    ooxml_el(x, "p:nvPr");
    ooxml_end(x);
    ooxml_start(x, "p:blipFill");
    ooxml_el_attr(x, "a:blip", "r:embed", "rId3");
    ooxml_start(x, "a:stretch");
    ooxml_el(x, "a:fillRect");
    ooxml_end(x);
    ooxml_end(x);
    ooxml_start(x, "p:spPr");
    rect_xfrm(x, b);
    ooxml_end(x);
    ooxml_end(x);
}

/* A picture's bytes and pixel size, for ppt/media. */
struct media {
    char *data; /* [len], malloc'd */
    size_t len;
    const char *ext; /* "png" or "jpeg" */
    int width, height;
};

static bool load_media(const char *path, struct media *m, struct deck_err *err)
{
    gchar *data = NULL;
    gsize len = 0;
    GError *gerr = NULL;
    if (!g_file_get_contents(path, &data, &len, &gerr)) {
        deck_fail(err, "%s: cannot read the picture: %s", path, gerr->message);
        g_clear_error(&gerr);
        return false;
    }
    const unsigned char *b = (const unsigned char *)data;
    bool png = len >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0;
    bool jpeg = len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF;
    struct eng_image *img = NULL;
    struct eng_err eerr = {{0}};
    struct eng_image_params ip = eng_image_params_default();
    if (!png && !jpeg) {
        g_free(data);
        return deck_fail(err, "%s: the picture is neither PNG nor JPEG", path);
    }
    if (eng_image_load(path, &ip, &img, &eerr) != ENG_STATUS_OK) {
        g_free(data);
        return deck_fail(err, "%s: %s", path, eerr.msg);
    }
    m->width = img->width;
    m->height = img->height;
    eng_image_free(&img);
    m->data = malloc(len ? len : 1);
    if (m->data)
        memcpy(m->data, data, len);
    g_free(data);
    m->len = len;
    m->ext = png ? "png" : "jpeg";
    return m->data != NULL || deck_fail(err, "%s: out of memory", path);
}

static bool has_notes(const struct deck_slide *s)
{
    return s && s->notes && s->notes[0];
}

static bool add_slide(struct package *pkg, const struct deck *deck, const struct deck_theme *t,
                      int page, struct deck_err *err)
{
    const struct deck_slide *s = page > 0 ? &deck->slides[page - 1] : NULL;
    enum layout layout = !s ? LAYOUT_TITLE : s->image_slot ? LAYOUT_PICTURE : LAYOUT_CONTENT;
    struct media m = {0};
    if (s && s->image && !load_media(s->image, &m, err))
        return false;
    struct deck_fit fit;
    deck_fit_page(deck, t, page, &fit);
    struct ooxml_xml x;
    ooxml_begin(&x);
    start_root(&x, "p:sld");
    ooxml_start(&x, "p:cSld");
    sp_tree_start(&x);
    if (!s) {
        ph_text(&x, &(struct placeholder){2, "Title 1", "ctrTitle", 0, NULL}, fit.title_scale,
                deck->title);
        if (deck->subtitle && deck->subtitle[0])
            ph_text(&x, &(struct placeholder){3, "Subtitle 2", "subTitle", 1, NULL}, 1,
                    deck->subtitle);
    } else {
        ph_text(&x, &(struct placeholder){2, "Title 1", "title", 0, NULL}, fit.title_scale,
                s->title);
        if (s->n_bullets > 0)
            ph_bullets(&x, s, fit.body_scale);
        if (s->image) {
            const char *base = strrchr(s->image, '/');
            picture(&x, base ? base + 1 : s->image, m.width, m.height);
        } else if (s->image_slot) {
            ph_start(&x, &(struct placeholder){4, "Picture Placeholder 3", "pic", 2, NULL});
            ooxml_end(&x);
        }
    }
    end_slide_part(&x);
    char name[96];
    snprintf(name, sizeof name, "ppt/slides/slide%d.xml", page + 1);
    package_add_xml(pkg, &x, CT_PML "slide+xml", name);

    struct rel rels[3] = {{"rId1", "slideLayout", ""}};
    int n_rels = 1;
    snprintf(rels[0].target, sizeof rels[0].target, "../slideLayouts/slideLayout%d.xml", layout);
    if (has_notes(s)) {
        rels[n_rels] = (struct rel){"rId2", "notesSlide", ""};
        snprintf(rels[n_rels++].target, sizeof rels[0].target, "../notesSlides/notesSlide%d.xml",
                 page + 1);
    }
    if (s && s->image) {
        rels[n_rels] = (struct rel){"rId3", "image", ""};
        snprintf(rels[n_rels++].target, sizeof rels[0].target, "../media/image%d.%s", page + 1,
                 m.ext);
        package_add(pkg, NULL, m.data, m.len, "ppt/media/image%d.%s", page + 1, m.ext);
    }
    snprintf(name, sizeof name, "ppt/slides/_rels/slide%d.xml.rels", page + 1);
    add_rels(pkg, name, rels, n_rels);
    return true;
}

static void add_notes_slide(struct package *pkg, const struct deck_slide *s, int page)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    start_root(&x, "p:notes");
    ooxml_start(&x, "p:cSld");
    sp_tree_start(&x);
    ph_start(&x, &(struct placeholder){2, "Slide Image Placeholder 1", "sldImg", 0, NULL});
    ooxml_end(&x);
    ph_start(&x, &(struct placeholder){3, "Notes Placeholder 2", "body", 1, NULL});
    ooxml_start(&x, "p:txBody");
    ooxml_el(&x, "a:bodyPr");
    ooxml_el(&x, "a:lstStyle");
    gchar **paras = g_strsplit(s->notes, "\n", -1);
    for (int i = 0; paras[i]; i++)
        paragraph(&x, -1, NULL, paras[i]);
    g_strfreev(paras);
    ooxml_end(&x);
    ooxml_end(&x);
    end_slide_part(&x);
    char name[96];
    snprintf(name, sizeof name, "ppt/notesSlides/notesSlide%d.xml", page + 1);
    package_add_xml(pkg, &x, CT_PML "notesSlide+xml", name);
    struct rel rels[2] = {{"rId1", "notesMaster", "../notesMasters/notesMaster1.xml"},
                          {"rId2", "slide", ""}};
    snprintf(rels[1].target, sizeof rels[1].target, "../slides/slide%d.xml", page + 1);
    snprintf(name, sizeof name, "ppt/notesSlides/_rels/notesSlide%d.xml.rels", page + 1);
    add_rels(pkg, name, rels, 2);
}

/* ---- presentation, properties, content types ---- */

enum { FIRST_SLIDE_RID = 7 }; /* presentation.xml.rels: rId1..6 below, then the slides */

static void add_presentation(struct package *pkg, const struct deck *deck)
{
    int n_pages = deck_page_count(deck);
    struct ooxml_xml x;
    ooxml_begin(&x);
    start_root(&x, "p:presentation");
    ooxml_attr(&x, "saveSubsetFonts", "1");
    ooxml_start(&x, "p:sldMasterIdLst");
    ooxml_start(&x, "p:sldMasterId");
    ooxml_attr(&x, "id", "2147483648");
    ooxml_attr(&x, "r:id", "rId1");
    ooxml_end(&x);
    ooxml_end(&x);
    ooxml_start(&x, "p:notesMasterIdLst");
    ooxml_el_attr(&x, "p:notesMasterId", "r:id", "rId2");
    ooxml_end(&x);
    ooxml_start(&x, "p:sldIdLst");
    for (int i = 0; i < n_pages; i++) {
        char rid[16];
        snprintf(rid, sizeof rid, "rId%d", FIRST_SLIDE_RID + i);
        ooxml_start(&x, "p:sldId");
        ooxml_attr_long(&x, "id", 256 + i);
        ooxml_attr(&x, "r:id", rid);
        ooxml_end(&x);
    }
    ooxml_end(&x);
    ooxml_start(&x, "p:sldSz");
    ooxml_attr_long(&x, "cx", DECK_EMU_W);
    ooxml_attr_long(&x, "cy", DECK_EMU_H);
    ooxml_end(&x);
    ooxml_start(&x, "p:notesSz");
    ooxml_attr(&x, "cx", "6858000");
    ooxml_attr(&x, "cy", "9144000");
    ooxml_end(&x);
    ooxml_end(&x);
    package_add_xml(pkg, &x, CT_PML "presentation.main+xml", "ppt/presentation.xml");

    struct rel *rels = calloc((size_t)n_pages + 6, sizeof *rels); /* [6 + n_pages] */
    if (!rels) {
        pkg->ok = false;
        return;
    }
    rels[0] = (struct rel){"rId1", "slideMaster", "slideMasters/slideMaster1.xml"};
    rels[1] = (struct rel){"rId2", "notesMaster", "notesMasters/notesMaster1.xml"};
    rels[2] = (struct rel){"rId3", "theme", "theme/theme1.xml"};
    rels[3] = (struct rel){"rId4", "presProps", "presProps.xml"};
    rels[4] = (struct rel){"rId5", "viewProps", "viewProps.xml"};
    rels[5] = (struct rel){"rId6", "tableStyles", "tableStyles.xml"};
    char(*ids)[16] = calloc((size_t)n_pages, sizeof *ids); /* [n_pages] "rIdN" */
    for (int i = 0; ids && i < n_pages; i++) {
        snprintf(ids[i], sizeof ids[i], "rId%d", FIRST_SLIDE_RID + i);
        rels[6 + i].id = ids[i];
        rels[6 + i].type = "slide";
        snprintf(rels[6 + i].target, sizeof rels[6 + i].target, "slides/slide%d.xml", i + 1);
    }
    if (ids)
        add_rels(pkg, "ppt/_rels/presentation.xml.rels", rels, 6 + n_pages);
    else
        pkg->ok = false;
    free(ids);
    free(rels);
}

static void add_small_parts(struct package *pkg)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    start_root(&x, "p:presentationPr");
    ooxml_end(&x);
    package_add_xml(pkg, &x, CT_PML "presProps+xml", "ppt/presProps.xml");
    ooxml_begin(&x);
    start_root(&x, "p:viewPr");
    ooxml_end(&x);
    package_add_xml(pkg, &x, CT_PML "viewProps+xml", "ppt/viewProps.xml");
    ooxml_begin(&x);
    ooxml_start(&x, "a:tblStyleLst");
    ooxml_attr(&x, "xmlns:a", NS_A);
    ooxml_attr(&x, "def", "{5C22544A-7EE6-4342-B048-85BDC9FD1C3A}");
    ooxml_end(&x);
    package_add_xml(pkg, &x, CT_PML "tableStyles+xml", "ppt/tableStyles.xml");
}

static void add_doc_props(struct package *pkg, const struct deck *deck, int n_notes)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    ooxml_core_props(&x, deck->title, "Wenshu", NULL);
    package_add_xml(pkg, &x, "application/vnd.openxmlformats-package.core-properties+xml",
                    "docProps/core.xml");
    ooxml_begin(&x);
    ooxml_start(&x, "Properties");
    ooxml_attr(&x, "xmlns", OOXML_NS_EXTENDED_PROPS);
    ooxml_el_text(&x, "Application", "Wenshu");
    ooxml_el_text(&x, "PresentationFormat", "宽屏");
    char n[16];
    snprintf(n, sizeof n, "%d", deck_page_count(deck));
    ooxml_el_text(&x, "Slides", n);
    snprintf(n, sizeof n, "%d", n_notes);
    ooxml_el_text(&x, "Notes", n);
    ooxml_end(&x);
    package_add_xml(pkg, &x,
                    "application/vnd.openxmlformats-officedocument.extended-properties+xml",
                    "docProps/app.xml");
    struct rel rels[3] = {{"rId1", "officeDocument", "ppt/presentation.xml"},
                          {"rId2", "core-properties", "docProps/core.xml"},
                          {"rId3", "extended-properties", "docProps/app.xml"}};
    add_rels(pkg, "_rels/.rels", rels, 3);
}

/* [Content_Types].xml: Defaults for rels, xml and the pictures, an Override
 * for every other part. */
static void add_content_types(struct package *pkg)
{
    struct ooxml_xml x;
    ooxml_begin(&x);
    ooxml_start(&x, "Types");
    ooxml_attr(&x, "xmlns", OOXML_NS_CT);
    static const char *const defaults[][2] = {
        {"rels", "application/vnd.openxmlformats-package.relationships+xml"},
        {"xml", "application/xml"},
        {"png", "image/png"},
        {"jpeg", "image/jpeg"}};
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        ooxml_default(&x, defaults[i][0], defaults[i][1]);
    for (int i = 0; i < pkg->n; i++)
        if (pkg->parts[i].type)
            ooxml_override(&x, pkg->parts[i].name, pkg->parts[i].type);
    ooxml_end(&x);
    package_add_xml(pkg, &x, NULL, "[Content_Types].xml");
}

static bool package_build(const struct deck *deck, const struct deck_theme *theme, const char *path,
                          struct package *pkg, struct deck_err *err)
{
    pkg->ok = true;
    int n_notes = 0;
    add_presentation(pkg, deck);
    add_small_parts(pkg);
    add_theme(pkg, theme, "ppt/theme/theme1.xml");
    add_master(pkg, theme);
    for (int which = LAYOUT_TITLE; which <= LAYOUT_PICTURE; which++)
        add_layout(pkg, theme, (enum layout)which);
    add_notes_master(pkg, theme);
    for (int page = 0; page < deck_page_count(deck); page++) {
        if (!add_slide(pkg, deck, theme, page, err))
            return false;
        const struct deck_slide *s = page > 0 ? &deck->slides[page - 1] : NULL;
        if (has_notes(s)) {
            add_notes_slide(pkg, s, page);
            n_notes++;
        }
    }
    add_doc_props(pkg, deck, n_notes);
    add_content_types(pkg);
    return pkg->ok ||
           deck_fail(err, "%s: cannot write the presentation's XML (out of memory?)", path);
}

/* ---- the zip ---- */

/* Zip the parts for path, [Content_Types].xml (the last part) first; the
 * zip takes every part's data. */
static bool write_zip(struct package *pkg, const char *path, struct deck_err *err)
{
    struct gw_err zip_err = {{0}};
    struct ooxml_zip *zip = NULL;
    if (!ooxml_zip_open(path, &zip, &zip_err))
        return deck_fail(err, "%s", zip_err.msg);
    for (int k = 0; k < pkg->n; k++) {
        int i = k == 0 ? pkg->n - 1 : k - 1;
        ooxml_zip_add(zip, pkg->parts[i].name, pkg->parts[i].data, pkg->parts[i].len);
        pkg->parts[i].data = NULL; /* the zip owns it now, or it is freed */
    }
    return ooxml_zip_commit(&zip, true, &zip_err) || deck_fail(err, "%s", zip_err.msg);
}

bool deck_export_pptx(const struct deck *deck, const struct deck_theme *theme, const char *path,
                      struct deck_err *err)
{
    struct package pkg = {0};
    bool ok = package_build(deck, theme, path, &pkg, err);
    if (ok)
        ok = write_zip(&pkg, path, err);
    package_free(&pkg);
    return ok;
}
