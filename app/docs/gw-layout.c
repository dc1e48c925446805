/* gw-layout.c: the GB/T 9704-2012 layout of a gw_doc, in millimetres (see
 * gw-layout.h). Text is broken into tokens: each Chinese character (and
 * full-width punctuation) takes one grid cell (156/28 mm for 三号 text, one em
 * for other sizes); a run of Latin letters or digits takes its width as pango
 * measures it. Lines break with the usual Chinese rules (no closing
 * punctuation at a line start, no opening bracket or quote at a line end) and
 * sit on the 22-line grid: the ascent line of a line's text is the top of its
 * grid slot. The header (标志, 发文字号, rule) is placed in millimetres from
 * the standard; everything from the title on snaps to the grid. */
#include <math.h>
#include <pango/pangocairo.h>
#include <stdlib.h>
#include <string.h>

#include "gw-layout.h"

#define AREA_LEFT GW_MARGIN_LEFT_MM
#define AREA_RIGHT (GW_MARGIN_LEFT_MM + GW_AREA_W_MM)
#define AREA_TOP GW_MARGIN_TOP_MM
#define AREA_BOTTOM (GW_MARGIN_TOP_MM + GW_AREA_H_MM)
#define BODY_EM_MM (GW_SIZE_BODY_PT * GW_MM_PER_PT)

/* ---- pango ---------------------------------------------------------------------- */

const char *gw_layout_face_family(const struct gw_fonts *fonts, enum gw_face face, bool *bold)
{
    const struct gw_font_choice *c = &fonts->fangsong;
    switch (face) {
    case GW_FACE_FANGSONG: c = &fonts->fangsong; break;
    case GW_FACE_XIAOBIAOSONG: c = &fonts->xiaobiaosong; break;
    case GW_FACE_HEITI: c = &fonts->heiti; break;
    case GW_FACE_KAITI: c = &fonts->kaiti; break;
    case GW_FACE_SONGTI:
    case GW_FACE_COUNT: c = &fonts->songti; break;
    }
    if (bold)
        *bold = face == GW_FACE_XIAOBIAOSONG && c->substituted;
    return c->family;
}

void gw_layout_prepare_context(PangoContext *ctx)
{
    cairo_font_options_t *opts = cairo_font_options_create();
    cairo_font_options_set_hint_style(opts, CAIRO_HINT_STYLE_NONE);
    cairo_font_options_set_hint_metrics(opts, CAIRO_HINT_METRICS_OFF);
    pango_cairo_context_set_font_options(ctx, opts);
    cairo_font_options_destroy(opts);
    pango_cairo_context_set_resolution(ctx, 72.0);
    pango_context_set_round_glyph_positions(ctx, FALSE);
    pango_context_set_language(ctx, pango_language_from_string("zh-cn"));
}

PangoFontDescription *gw_layout_font_desc(const struct gw_fonts *fonts, enum gw_face face,
                                          double size_pt)
{
    bool bold = false;
    PangoFontDescription *desc = pango_font_description_new();
    pango_font_description_set_family(desc, gw_layout_face_family(fonts, face, &bold));
    pango_font_description_set_weight(desc, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_font_description_set_size(desc, (int)lround(size_pt * PANGO_SCALE));
    return desc;
}

/* ---- the state of one layout ---------------------------------------------------- */

struct lay {
    struct gw_layout *out;
    PangoFontMap *map;
    PangoContext *ctx;
    int page;                  /* index of the page being filled */
    int slot;                  /* next free grid line on it, 0..GW_GRID_LINES */
    bool *no_number;           /* [cap_pages] pages that print no number */
    bool failed;               /* out of memory */
    /* Where the body text (paragraphs, headings, 附件说明) ended: its last
     * page, and the grid lines [body_first_slot, body_end_slot) it holds
     * there. body_page is -1 before any body text. */
    bool in_body;              /* flow_para is setting body text */
    int body_page, body_first_slot, body_end_slot;
};

static double measure_mm(struct lay *L, const char *s, int len, enum gw_face face, double size_pt)
{
    PangoLayout *pl = pango_layout_new(L->ctx);
    PangoFontDescription *desc = gw_layout_font_desc(&L->out->fonts, face, size_pt);
    int w = 0;
    pango_layout_set_font_description(pl, desc);
    pango_layout_set_text(pl, s, len);
    pango_layout_get_size(pl, &w, NULL);
    pango_font_description_free(desc);
    g_object_unref(pl);
    return (double)w / PANGO_SCALE * GW_MM_PER_PT;
}

static double ascent_mm(struct lay *L, enum gw_face face, double size_pt)
{
    PangoFontDescription *desc = gw_layout_font_desc(&L->out->fonts, face, size_pt);
    PangoFontMetrics *m = pango_context_get_metrics(L->ctx, desc, NULL);
    double a = (double)pango_font_metrics_get_ascent(m) / PANGO_SCALE * GW_MM_PER_PT;
    pango_font_metrics_unref(m);
    pango_font_description_free(desc);
    return a;
}

/* The ink of a line of text: how far it reaches above (*above) and below
 * (*below) its baseline, mm. */
static void ink_mm(struct lay *L, const char *s, enum gw_face face, double size_pt,
                   double *above, double *below)
{
    PangoLayout *pl = pango_layout_new(L->ctx);
    PangoFontDescription *desc = gw_layout_font_desc(&L->out->fonts, face, size_pt);
    PangoRectangle ink;
    pango_layout_set_font_description(pl, desc);
    pango_layout_set_text(pl, s, -1);
    pango_layout_get_extents(pl, &ink, NULL);
    double base = (double)pango_layout_get_baseline(pl);
    *above = (base - ink.y) / PANGO_SCALE * GW_MM_PER_PT;
    *below = (ink.y + ink.height - base) / PANGO_SCALE * GW_MM_PER_PT;
    pango_font_description_free(desc);
    g_object_unref(pl);
}

static double slot_top(int k)
{
    return AREA_TOP + k * GW_LINE_PITCH_MM;
}

/* The first grid line whose top is at or below y. */
static int slot_at_or_after(double y)
{
    return (int)ceil((y - AREA_TOP) / GW_LINE_PITCH_MM - 1e-6);
}

static void *grow(void *array, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return array;
    int n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(array, (size_t)n * size);
    if (p)
        *cap = n;
    return p;
}

static struct gw_page *new_page(struct lay *L)
{
    struct gw_layout *o = L->out;
    int cap = o->cap_pages;
    struct gw_page *pages = grow(o->pages, &cap, o->n_pages + 1, sizeof *pages);
    bool *flags = pages ? realloc(L->no_number, (size_t)cap * sizeof *flags) : NULL;
    if (!pages || !flags) {
        if (pages)
            o->pages = pages;
        L->failed = true;
        return NULL;
    }
    o->pages = pages;
    o->cap_pages = cap;
    L->no_number = flags;
    memset(&pages[o->n_pages], 0, sizeof pages[0]);
    flags[o->n_pages] = false;
    L->page = o->n_pages++;
    L->slot = 0;
    return &pages[L->page];
}

static void add_run(struct lay *L, const char *s, int len, double x, double baseline, double w,
                    enum gw_face face, double size_pt, uint32_t rgb)
{
    if (L->failed || L->page < 0)
        return;
    struct gw_page *p = &L->out->pages[L->page];
    struct gw_run *runs = grow(p->runs, &p->cap_runs, p->n_runs + 1, sizeof *runs);
    char *text = runs ? strndup(s, (size_t)len) : NULL;
    if (!text) {
        if (runs)
            p->runs = runs;
        L->failed = true;
        return;
    }
    p->runs = runs;
    runs[p->n_runs++] = (struct gw_run){.text = text, .x_mm = x, .baseline_mm = baseline,
                                        .width_mm = w, .face = face, .size_pt = size_pt,
                                        .rgb = rgb};
}

static void add_rule(struct lay *L, double x0, double x1, double y, double width, uint32_t rgb)
{
    if (L->failed)
        return;
    struct gw_page *p = &L->out->pages[L->page];
    struct gw_rule *rules = grow(p->rules, &p->cap_rules, p->n_rules + 1, sizeof *rules);
    if (!rules) {
        L->failed = true;
        return;
    }
    p->rules = rules;
    rules[p->n_rules++] = (struct gw_rule){x0, x1, y, width, rgb};
}

/* ---- tokens and line breaking ------------------------------------------------------ */

/* A span of text in one face: a paragraph is one or a few of these. */
struct span {
    const char *s;
    enum gw_face face;
};

enum tok_kind { TOK_CJK, TOK_LATIN, TOK_SPACE };

struct tok {
    const char *s; /* into the span's text */
    int len;       /* bytes */
    double w;      /* advance, mm */
    enum gw_face face;
    enum tok_kind kind;
};

struct toks {
    struct tok *t; /* [n] */
    int n, cap;
};

static int utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static bool push_tok(struct lay *L, struct toks *ts, struct tok t)
{
    struct tok *a = grow(ts->t, &ts->cap, ts->n + 1, sizeof *a);
    if (!a) {
        L->failed = true;
        return false;
    }
    ts->t = a;
    a[ts->n++] = t;
    return true;
}

/* Push a Latin run, split into pieces no wider than max_w (a URL longer
 * than the line breaks anywhere). */
static bool push_latin(struct lay *L, struct toks *ts, const char *s, int len, enum gw_face face,
                       double size_pt, double max_w)
{
    while (len > 0) {
        int n = len;
        double w = measure_mm(L, s, n, face, size_pt);
        while (w > max_w && n > 1) {
            n--;
            w = measure_mm(L, s, n, face, size_pt);
        }
        if (!push_tok(L, ts, (struct tok){s, n, w, face, TOK_LATIN}))
            return false;
        s += n;
        len -= n;
    }
    return true;
}

/* Break spans into tokens. cell: the advance of a Chinese character. */
static bool tokenize(struct lay *L, const struct span *sp, int n_sp, double size_pt, double cell,
                     double max_w, struct toks *ts)
{
    for (int i = 0; i < n_sp; i++) {
        const char *s = sp[i].s;
        while (*s) {
            unsigned char c = (unsigned char)*s;
            if (c == ' ') {
                double w = measure_mm(L, " ", 1, sp[i].face, size_pt);
                if (!push_tok(L, ts, (struct tok){s, 1, w, sp[i].face, TOK_SPACE}))
                    return false;
                s++;
            } else if (c < 0x80) {
                const char *e = s;
                while (*e && (unsigned char)*e < 0x80 && *e != ' ')
                    e++;
                if (!push_latin(L, ts, s, (int)(e - s), sp[i].face, size_pt, max_w))
                    return false;
                s = e;
            } else {
                int n = utf8_len(c);
                for (int k = 1; k < n; k++)
                    if (!s[k])
                        n = k;
                if (!push_tok(L, ts, (struct tok){s, n, cell, sp[i].face, TOK_CJK}))
                    return false;
                s += n;
            }
        }
    }
    return true;
}

static bool tok_is(const struct tok *t, const char *set)
{
    if (t->kind != TOK_CJK)
        return false;
    for (const char *p = set; *p; p += utf8_len((unsigned char)*p))
        if (utf8_len((unsigned char)*p) == t->len && memcmp(p, t->s, (size_t)t->len) == 0)
            return true;
    return false;
}

/* Chinese line-breaking rules (禁则). */
static bool no_line_start(const struct tok *t)
{
    if (t->kind == TOK_LATIN && t->len == 1 && strchr(",.;:?!)%", t->s[0]))
        return true;
    return tok_is(t, "，。、；：？！）”’》」』】〕…—·％");
}

static bool no_line_end(const struct tok *t)
{
    return tok_is(t, "（“‘《「『【〔");
}

struct line {
    int a, b;  /* tokens [a, b) */
    double w;  /* width without trailing spaces, mm */
};

struct lines {
    struct line *l; /* [n] */
    int n, cap;
};

/* Greedy breaking: a line takes what fits in w_first (then w_rest); a break
 * that would start a line with closing punctuation or end one with an
 * opening bracket moves back. */
static bool break_lines(struct lay *L, const struct toks *ts, double w_first, double w_rest,
                        struct lines *out)
{
    int i = 0;
    while (i < ts->n) {
        while (i < ts->n && ts->t[i].kind == TOK_SPACE)
            i++;
        if (i >= ts->n)
            break;
        double avail = out->n == 0 ? w_first : w_rest, x = 0;
        int j = i;
        while (j < ts->n && x + ts->t[j].w <= avail + 1e-6)
            x += ts->t[j++].w;
        if (j < ts->n && j > i) {
            int k = j;
            while (k > i + 1 && (no_line_start(&ts->t[k]) || no_line_end(&ts->t[k - 1])))
                k--;
            if (!no_line_start(&ts->t[k]) && !no_line_end(&ts->t[k - 1]))
                j = k;
        }
        if (j == i)
            j = i + 1;
        double w = 0;
        int end = j;
        while (end > i && ts->t[end - 1].kind == TOK_SPACE)
            end--;
        for (int k = i; k < end; k++)
            w += ts->t[k].w;
        struct line *a = grow(out->l, &out->cap, out->n + 1, sizeof *a);
        if (!a) {
            L->failed = true;
            return false;
        }
        out->l = a;
        a[out->n++] = (struct line){i, end, w};
        i = j;
    }
    return true;
}

/* Emit the runs of one line: one run per Chinese character (at its cell) and
 * one per Latin word. */
static void emit_line(struct lay *L, const struct toks *ts, const struct line *ln, double x,
                      double baseline, double size_pt, uint32_t rgb)
{
    for (int k = ln->a; k < ln->b; k++) {
        const struct tok *t = &ts->t[k];
        if (t->kind != TOK_SPACE)
            add_run(L, t->s, t->len, x, baseline, t->w, t->face, size_pt, rgb);
        x += t->w;
    }
}

enum align { ALIGN_LEFT, ALIGN_CENTRE, ALIGN_RIGHT };

/* How one paragraph is set. Indents and widths are in mm from the type-area
 * left edge; right_indent narrows the line from the right. */
struct para_style {
    double size_pt;
    double indent_first, indent_rest, right_indent;
    enum align align;
    uint32_t rgb;
};

static bool layout_para(struct lay *L, const struct span *sp, int n_sp,
                        const struct para_style *st, struct toks *ts, struct lines *ls)
{
    double cell = st->size_pt == GW_SIZE_BODY_PT ? GW_CELL_MM : st->size_pt * GW_MM_PER_PT;
    double width = GW_AREA_W_MM - st->right_indent;
    ts->n = 0;
    ls->n = 0;
    return tokenize(L, sp, n_sp, st->size_pt, cell, width - st->indent_rest, ts) &&
           break_lines(L, ts, width - st->indent_first, width - st->indent_rest, ls);
}

static double line_x(const struct para_style *st, const struct line *ln, bool first)
{
    double area_w = GW_AREA_W_MM - st->right_indent;
    switch (st->align) {
    case ALIGN_CENTRE: return AREA_LEFT + (area_w - ln->w) / 2;
    case ALIGN_RIGHT: return AREA_LEFT + area_w - ln->w;
    case ALIGN_LEFT: break;
    }
    return AREA_LEFT + (first ? st->indent_first : st->indent_rest);
}

/* Record that the grid line L->slot of the current page holds body text. */
static void note_body_line(struct lay *L)
{
    if (L->body_page != L->page) {
        L->body_page = L->page;
        L->body_first_slot = L->slot;
    }
    L->body_end_slot = L->slot + 1;
}

/* Set lines already broken on the grid from the current slot, one grid line
 * per text line, turning pages as needed. face: the first span's (its
 * ascent places a line that is not 三号). */
static void flow_lines(struct lay *L, const struct toks *ts, const struct lines *ls,
                       const struct para_style *st, enum gw_face face)
{
    double asc = ascent_mm(L, GW_FACE_FANGSONG, GW_SIZE_BODY_PT);
    if (st->size_pt != GW_SIZE_BODY_PT)
        asc = ascent_mm(L, face, st->size_pt);
    for (int i = 0; i < ls->n && !L->failed; i++) {
        if (L->slot >= GW_GRID_LINES && !new_page(L))
            break;
        emit_line(L, ts, &ls->l[i], line_x(st, &ls->l[i], i == 0), slot_top(L->slot) + asc,
                  st->size_pt, st->rgb);
        if (L->in_body)
            note_body_line(L);
        L->slot++;
    }
}

/* Set a paragraph on the grid from the current slot, one grid line per text
 * line, turning pages as needed. */
static void flow_para(struct lay *L, const struct span *sp, int n_sp, const struct para_style *st)
{
    struct toks ts = {0};
    struct lines ls = {0};
    if (layout_para(L, sp, n_sp, st, &ts, &ls))
        flow_lines(L, &ts, &ls, st, sp[0].face);
    free(ts.t);
    free(ls.l);
}

/* Skip n blank grid lines (never at the top of a page). */
static void skip_lines(struct lay *L, int n)
{
    if (L->slot > 0)
        L->slot += n;
}

/* Keep the next n lines together: turn the page when they do not fit. */
static void keep_lines(struct lay *L, int n)
{
    if (L->slot + n > GW_GRID_LINES)
        new_page(L);
}

static const struct para_style body_style = {GW_SIZE_BODY_PT, 2 * GW_CELL_MM, 0, 0, ALIGN_LEFT,
                                             GW_BLACK_RGB};

/* Place one line of text with its ascent line at top (mm); returns its width. */
static double place_text(struct lay *L, const char *s, enum gw_face face, double size_pt,
                         double x, double top, uint32_t rgb)
{
    struct span sp = {s, face};
    struct toks ts = {0};
    double cell = size_pt == GW_SIZE_BODY_PT ? GW_CELL_MM : size_pt * GW_MM_PER_PT;
    double w = 0;
    if (tokenize(L, &sp, 1, size_pt, cell, 1e9, &ts)) {
        struct line ln = {0, ts.n, 0};
        for (int k = 0; k < ts.n; k++)
            ln.w += ts.t[k].w;
        emit_line(L, &ts, &ln, x, top + ascent_mm(L, face, size_pt), size_pt, rgb);
        w = ln.w;
    }
    free(ts.t);
    return w;
}

static double text_width(struct lay *L, const char *s, enum gw_face face, double size_pt)
{
    struct span sp = {s, face};
    struct toks ts = {0};
    double cell = size_pt == GW_SIZE_BODY_PT ? GW_CELL_MM : size_pt * GW_MM_PER_PT;
    double w = 0;
    if (tokenize(L, &sp, 1, size_pt, cell, 1e9, &ts))
        for (int k = 0; k < ts.n; k++)
            w += ts.t[k].w;
    free(ts.t);
    return w;
}

/* ---- the header (版头) ------------------------------------------------------------- */

/* 份号, 密级, 紧急程度 stacked flush left from top (mm); returns the bottom of
 * the last one, or top when there is none. */
static double header_fields(struct lay *L, const struct gw_doc *doc, double top)
{
    const struct {
        const struct gw_text *t;
        enum gw_face face;
    } fields[] = {{&doc->copy_number, GW_FACE_FANGSONG},
                  {&doc->secrecy, GW_FACE_HEITI},
                  {&doc->urgency, GW_FACE_HEITI}};
    double bottom = top;
    int n = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (!fields[i].t->s || !*fields[i].t->s)
            continue;
        double y = top + n++ * GW_LINE_PITCH_MM;
        place_text(L, fields[i].t->s, fields[i].face, GW_SIZE_BODY_PT, AREA_LEFT, y, GW_BLACK_RGB);
        bottom = y + BODY_EM_MM;
    }
    return bottom;
}

/* The text of the 发文机关标志 (malloc'd): the mark as given, else the
 * issuers' names joined, plus suffix ("文件"; "" for a letter). */
static char *mark_text(const struct gw_doc *doc, const char *suffix)
{
    if (doc->issuer_mark.s && *doc->issuer_mark.s)
        return strdup(doc->issuer_mark.s);
    size_t n = strlen(suffix) + 1;
    for (int i = 0; i < doc->n_issuers; i++)
        n += strlen(doc->issuers[i].s) + 3;
    char *s = malloc(n);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (int i = 0; i < doc->n_issuers; i++) {
        if (i)
            strcat(s, "、");
        strcat(s, doc->issuers[i].s);
    }
    strcat(s, suffix);
    return s;
}

/* Draw a red mark centred with the top edge of its ink at top (the edge a
 * ruler on the printed page finds); returns the bottom of its ink. The size
 * is 42 pt, or what fits the type area's width for a long name. */
static double draw_mark(struct lay *L, const char *text, double top)
{
    double w10 = text_width(L, text, GW_FACE_XIAOBIAOSONG, 10.0);
    double size = GW_SIZE_MARK_MAX_PT;
    if (w10 > 0 && w10 * size / 10.0 > GW_AREA_W_MM)
        size = 10.0 * GW_AREA_W_MM / w10 * 0.999;
    double w = text_width(L, text, GW_FACE_XIAOBIAOSONG, size);
    double above, below;
    ink_mm(L, text, GW_FACE_XIAOBIAOSONG, size, &above, &below);
    double baseline = top + above;
    place_text(L, text, GW_FACE_XIAOBIAOSONG, size, AREA_LEFT + (GW_AREA_W_MM - w) / 2,
               baseline - ascent_mm(L, GW_FACE_XIAOBIAOSONG, size), GW_RED_RGB);
    return baseline + below;
}

/* A joint issue: the agencies stacked, "文件" to the right, vertically
 * centred on the stack. Returns the bottom. */
static double draw_joint_mark(struct lay *L, const struct gw_doc *doc, double top)
{
    double widest = 0;
    for (int i = 0; i < doc->n_issuers; i++) {
        double w = text_width(L, doc->issuers[i].s, GW_FACE_XIAOBIAOSONG, 10.0);
        widest = w > widest ? w : widest;
    }
    double suffix_w10 = text_width(L, "文件", GW_FACE_XIAOBIAOSONG, 10.0);
    double gap10 = 10.0 * GW_MM_PER_PT; /* one em between the names and 文件 */
    double size = GW_SIZE_MARK_MAX_PT;
    double total10 = widest + gap10 + suffix_w10;
    if (total10 * size / 10.0 > GW_AREA_W_MM)
        size = 10.0 * GW_AREA_W_MM / total10 * 0.999;
    double k = size / 10.0, em = size * GW_MM_PER_PT, line_h = em * 1.2;
    double x0 = AREA_LEFT + (GW_AREA_W_MM - total10 * k) / 2;
    double above, below;
    ink_mm(L, "文件", GW_FACE_XIAOBIAOSONG, size, &above, &below);
    /* line tops (ascent lines) so that the first name's ink starts at top */
    double first = top + above - ascent_mm(L, GW_FACE_XIAOBIAOSONG, size);
    for (int i = 0; i < doc->n_issuers; i++)
        place_text(L, doc->issuers[i].s, GW_FACE_XIAOBIAOSONG, size, x0, first + i * line_h,
                   GW_RED_RGB);
    double stack_h = (doc->n_issuers - 1) * line_h;
    place_text(L, "文件", GW_FACE_XIAOBIAOSONG, size, x0 + (widest + gap10) * k,
               first + stack_h / 2, GW_RED_RGB);
    return top + stack_h + above + below;
}

/* 签发人 lines right-indented one character (two names a line, names in 楷体)
 * with the 发文字号 left-indented one character on the last of them. */
static void signers_and_number(struct lay *L, const struct gw_doc *doc, int slot)
{
    const char *label = "签发人：";
    double label_w = text_width(L, label, GW_FACE_FANGSONG, GW_SIZE_BODY_PT);
    double name_w[2] = {0, 0}; /* the widest name in each column */
    for (int i = 0; i < doc->n_signers; i++) {
        double w = text_width(L, doc->signers[i].s, GW_FACE_KAITI, GW_SIZE_BODY_PT);
        name_w[i % 2] = w > name_w[i % 2] ? w : name_w[i % 2];
    }
    double block_w = label_w + name_w[0] + (doc->n_signers > 1 ? GW_CELL_MM + name_w[1] : 0);
    double x0 = AREA_RIGHT - GW_CELL_MM - block_w;
    double asc = ascent_mm(L, GW_FACE_FANGSONG, GW_SIZE_BODY_PT);
    int n_lines = (doc->n_signers + 1) / 2;
    for (int line = 0; line < n_lines; line++) {
        double top = slot_top(slot + line);
        if (line == 0)
            place_text(L, label, GW_FACE_FANGSONG, GW_SIZE_BODY_PT, x0, top, GW_BLACK_RGB);
        for (int c = 0; c < 2 && line * 2 + c < doc->n_signers; c++) {
            double x = x0 + label_w + (c ? name_w[0] + GW_CELL_MM : 0);
            /* names share the 仿宋 line's baseline */
            double t = top + asc - ascent_mm(L, GW_FACE_KAITI, GW_SIZE_BODY_PT);
            place_text(L, doc->signers[line * 2 + c].s, GW_FACE_KAITI, GW_SIZE_BODY_PT, x, t,
                       GW_BLACK_RGB);
        }
    }
    if (doc->doc_number.s)
        place_text(L, doc->doc_number.s, GW_FACE_FANGSONG, GW_SIZE_BODY_PT,
                   AREA_LEFT + GW_CELL_MM, slot_top(slot + n_lines - 1), GW_BLACK_RGB);
}

/* 文件格式: returns the grid line of the title. */
static int header_ordinary(struct lay *L, const struct gw_doc *doc)
{
    header_fields(L, doc, AREA_TOP);
    double mark_bottom;
    double top = AREA_TOP + GW_MARK_TOP_MM;
    if (doc->n_issuers > 1 && !(doc->issuer_mark.s && *doc->issuer_mark.s)) {
        mark_bottom = draw_joint_mark(L, doc, top);
    } else {
        char *text = mark_text(doc, "文件");
        if (!text) {
            L->failed = true;
            return 0;
        }
        mark_bottom = *text ? draw_mark(L, text, top) : top;
        free(text);
    }
    /* 发文字号 (and 签发人) two blank lines below the mark, on the grid */
    int slot = slot_at_or_after(mark_bottom + 2 * GW_LINE_PITCH_MM);
    int last = slot;
    if (gw_kind_is_upward(doc->kind) && doc->n_signers > 0) {
        signers_and_number(L, doc, slot);
        last = slot + (doc->n_signers + 1) / 2 - 1;
    } else if (doc->doc_number.s) {
        double w = text_width(L, doc->doc_number.s, GW_FACE_FANGSONG, GW_SIZE_BODY_PT);
        place_text(L, doc->doc_number.s, GW_FACE_FANGSONG, GW_SIZE_BODY_PT,
                   AREA_LEFT + (GW_AREA_W_MM - w) / 2, slot_top(slot), GW_BLACK_RGB);
    }
    double rule_y = slot_top(last) + BODY_EM_MM + GW_RULE_BELOW_NUMBER_MM;
    add_rule(L, AREA_LEFT, AREA_RIGHT, rule_y, GW_RED_RULE_MM, GW_RED_RGB);
    return slot_at_or_after(rule_y + 2 * GW_LINE_PITCH_MM);
}

/* One 信函 double rule, 170 mm centred; thick_first: thick over thin. The
 * pair spans [top, top + thick + gap + thin]. Returns its bottom. */
static double double_rule(struct lay *L, double top, bool thick_first)
{
    double x0 = (GW_PAGE_W_MM - GW_LETTER_RULE_W_MM) / 2, x1 = x0 + GW_LETTER_RULE_W_MM;
    double w1 = thick_first ? GW_DOUBLE_THICK_MM : GW_DOUBLE_THIN_MM;
    double w2 = thick_first ? GW_DOUBLE_THIN_MM : GW_DOUBLE_THICK_MM;
    add_rule(L, x0, x1, top + w1 / 2, w1, GW_RED_RGB);
    add_rule(L, x0, x1, top + w1 + GW_DOUBLE_GAP_MM + w2 / 2, w2, GW_RED_RGB);
    return top + w1 + GW_DOUBLE_GAP_MM + w2;
}

/* 信函格式: the mark 30 mm from the page top, the double rules, the 发文字号
 * flush right and the 份号/密级/紧急程度 flush left 7/8 of a character under
 * the first rule. Returns the grid line of the title. */
static int header_letter(struct lay *L, const struct gw_doc *doc)
{
    double mark_bottom = GW_LETTER_MARK_TOP_MM;
    char *text = mark_text(doc, "");
    if (!text) {
        L->failed = true;
        return 0;
    }
    if (*text)
        mark_bottom = draw_mark(L, text, GW_LETTER_MARK_TOP_MM);
    free(text);
    double rule_bottom = double_rule(L, mark_bottom + GW_LETTER_RULE_BELOW_MM, true);
    double pair_h = GW_DOUBLE_THICK_MM + GW_DOUBLE_GAP_MM + GW_DOUBLE_THIN_MM;
    double_rule(L, GW_PAGE_H_MM - GW_LETTER_BOTTOM_RULE_MM - pair_h, false);
    double top = rule_bottom + BODY_EM_MM * 7 / 8;
    double bottom = header_fields(L, doc, top);
    if (doc->doc_number.s) {
        double w = text_width(L, doc->doc_number.s, GW_FACE_FANGSONG, GW_SIZE_BODY_PT);
        place_text(L, doc->doc_number.s, GW_FACE_FANGSONG, GW_SIZE_BODY_PT, AREA_RIGHT - w, top,
                   GW_BLACK_RGB);
        bottom = fmax(bottom, top + BODY_EM_MM);
    }
    return slot_at_or_after(bottom + 2 * GW_LINE_PITCH_MM);
}

/* 命令（令）格式 and 纪要格式: a red mark (top_mm below the type-area top) with
 * the 令号 / 期号 centred two lines below. Returns the grid line that follows
 * two lines below the last of them. */
static int header_mark_only(struct lay *L, const struct gw_doc *doc, const char *mark,
                            double top_mm)
{
    double bottom = draw_mark(L, mark, AREA_TOP + top_mm);
    if (doc->doc_number.s) {
        int slot = slot_at_or_after(bottom + 2 * GW_LINE_PITCH_MM);
        double w = text_width(L, doc->doc_number.s, GW_FACE_FANGSONG, GW_SIZE_BODY_PT);
        place_text(L, doc->doc_number.s, GW_FACE_FANGSONG, GW_SIZE_BODY_PT,
                   AREA_LEFT + (GW_AREA_W_MM - w) / 2, slot_top(slot), GW_BLACK_RGB);
        bottom = slot_top(slot) + BODY_EM_MM;
    }
    return slot_at_or_after(bottom + 2 * GW_LINE_PITCH_MM);
}

/* ---- the body ---------------------------------------------------------------------- */

/* ---- title lines (GB/T 9704-2012 7.3.3) ----------------------------------------------
 * 「标题回行时，要做到词意完整，排列对称，长短适宜，间距恰当」: without a
 * dictionary, the break is chosen among all ways to set the title in the
 * fewest lines by a cost: each break by what is on either side of it (after
 * 、 or a structure word 的 和 与 及, before 关于 or the final "的通知" is good;
 * right after 关于, between a number and what follows it, or inside one of a few
 * words common in titles is bad; inside a run of Latin letters or digits
 * never happens, such a run being one token), and the lines by how far they
 * stray from equal length, a line shorter than the next costing more (the
 * usual shape is the 梯形 with the longer line on top, or the 菱形). */

#define TITLE_MAX_LINES 4
/* A break's cost when nothing marks it: it may split a word. */
#define TITLE_BREAK_PLAIN 2.0
#define TITLE_BREAK_IN_WORD 8.0
#define TITLE_BREAK_GOOD -3.0
#define TITLE_BREAK_BAD 10.0
/* The lines' cost, per em of a line's distance from the mean width, and per
 * em by which a line is shorter than the next. */
#define TITLE_UNEVEN_PER_EM 1.0
#define TITLE_RISING_PER_EM 1.5

/* Words common in 公文 titles that a break must not split. A heuristic,
 * not a dictionary: a break inside one costs TITLE_BREAK_IN_WORD. */
static const char *const title_words[] = {
    "毕业生", "进一步", "工作", "管理", "治理", "建设", "发展", "服务", "就业", "见习",
    "实施", "方案", "办法", "规定", "意见", "安全", "生产", "检查", "开展", "加强",
    "做好", "推进", "落实", "高校", "社区", "改革", "创新", "经济", "社会", "城市",
    "农村", "教育", "卫生", "环境", "保护", "项目", "资金", "经费", "申请", "支持",
    "全面", "质量", "体系", "机制", "制度", "规划", "调整", "表彰", "先进", "集体",
    "个人", "活动", "实践", "情况", "预算", "执行", "维修", "养护", "公路", "学校",
    "干部", "人才", "企业", "产业", "科技", "文化", "医疗", "养老", "交通", "行政",
    "区划", "政府", "人民", "防汛", "抢险", "应急", "监督", "考核", "评估", "培训",
};

/* Whether the tokens from i spell word (one token a character). */
static bool toks_spell(const struct toks *ts, int i, const char *word)
{
    for (const char *p = word; *p; p += utf8_len((unsigned char)*p), i++) {
        int n = utf8_len((unsigned char)*p);
        if (i < 0 || i >= ts->n || ts->t[i].kind != TOK_CJK || ts->t[i].len != n ||
            memcmp(ts->t[i].s, p, (size_t)n) != 0)
            return false;
    }
    return true;
}

/* Whether a break before token k falls inside one of title_words. */
static bool break_splits_word(const struct toks *ts, int k)
{
    for (size_t w = 0; w < sizeof title_words / sizeof *title_words; w++) {
        int len = 0;
        for (const char *p = title_words[w]; *p; p += utf8_len((unsigned char)*p))
            len++;
        for (int off = 1; off < len; off++)
            if (toks_spell(ts, k - off, title_words[w]))
                return true;
    }
    return false;
}

/* The index of the 的 that joins the kind name at the title's end ("…的通知",
 * "…的实施意见": at most four characters after it), or -1. */
static int kind_de(const struct toks *ts)
{
    for (int i = ts->n - 1; i >= 0 && i >= ts->n - 5; i--)
        if (tok_is(&ts->t[i], "的"))
            return i;
    return -1;
}

/* The cost of breaking before token k (0 < k < n); INFINITY where the
 * break is not allowed. de: kind_de(). */
static double title_break_cost(const struct toks *ts, int k, int de)
{
    const struct tok *prev = &ts->t[k - 1], *next = &ts->t[k];
    if (next->kind == TOK_SPACE || no_line_start(next) || no_line_end(prev))
        return INFINITY;
    if (prev->kind == TOK_LATIN && next->kind == TOK_LATIN)
        return INFINITY; /* the pieces of a Latin run too long for a line */
    if (prev->kind == TOK_SPACE)
        return TITLE_BREAK_GOOD;
    if (toks_spell(ts, k - 2, "关于"))
        return TITLE_BREAK_BAD; /* 关于 stays with what follows */
    if (prev->kind == TOK_LATIN && next->kind == TOK_CJK &&
        prev->s[prev->len - 1] >= '0' && prev->s[prev->len - 1] <= '9')
        return TITLE_BREAK_BAD; /* a number and its unit: "2025" + "年" */
    if (toks_spell(ts, k, "关于") || k == de)
        return TITLE_BREAK_GOOD; /* "XX市人民政府" | "关于…", "…" | "的通知" */
    if (tok_is(prev, "、，；：》）") || tok_is(next, "《（"))
        return TITLE_BREAK_GOOD;
    if (tok_is(prev, "的和与及并暨"))
        return k - 1 == de ? TITLE_BREAK_BAD : TITLE_BREAK_GOOD; /* not "…的" | "通知" */
    if (break_splits_word(ts, k))
        return TITLE_BREAK_IN_WORD;
    return TITLE_BREAK_PLAIN;
}

/* The width of tokens [a, b) without trailing spaces. */
static double toks_width(const struct toks *ts, int a, int b)
{
    while (b > a && ts->t[b - 1].kind == TOK_SPACE)
        b--;
    double w = 0;
    for (int k = a; k < b; k++)
        w += ts->t[k].w;
    return w;
}

/* The search for the cheapest breaks: the title's tokens, the lines wanted,
 * the best breaks so far and the ones being tried. */
struct title_search {
    const struct toks *ts;
    const double *cost_before; /* [ts->n] cost of a break before token k */
    int n_lines;
    double mean, max_w, em, tolerance;
    int trial[TITLE_MAX_LINES + 1]; /* line i is tokens [trial[i], trial[i + 1]) */
    int best[TITLE_MAX_LINES + 1];
    double best_cost;
};

static double title_lines_cost(const struct title_search *S, const int *at)
{
    double cost = 0, prev_w = INFINITY;
    for (int i = 0; i < S->n_lines; i++) {
        double w = toks_width(S->ts, at[i], at[i + 1]);
        if (w > S->max_w + 1e-6 || fabs(w - S->mean) > S->tolerance)
            return INFINITY;
        cost += TITLE_UNEVEN_PER_EM * fabs(w - S->mean) / S->em;
        if (w > prev_w + 1e-6)
            cost += TITLE_RISING_PER_EM * (w - prev_w) / S->em;
        if (i > 0)
            cost += S->cost_before[at[i]];
        prev_w = w;
    }
    return cost;
}

/* Try every break for line `line` onwards (its start is S->trial[line]). */
static void title_search_from(struct title_search *S, int line)
{
    int n = S->ts->n;
    if (line == S->n_lines - 1) {
        S->trial[S->n_lines] = n;
        double c = title_lines_cost(S, S->trial);
        if (c < S->best_cost) {
            S->best_cost = c;
            memcpy(S->best, S->trial, sizeof S->best);
        }
        return;
    }
    for (int k = S->trial[line] + 1; k < n; k++) {
        if (isinf(S->cost_before[k]))
            continue;
        double w = toks_width(S->ts, S->trial[line], k);
        if (w > S->max_w + 1e-6)
            break;
        if (w < S->mean - S->tolerance)
            continue;
        S->trial[line + 1] = k;
        title_search_from(S, line + 1);
    }
}

/* Break a title's tokens into the fewest lines no wider than max_w at the
 * cheapest breaks (ls receives them); false when no such breaks exist within
 * TITLE_MAX_LINES lines (the caller falls back to greedy breaking). */
static bool break_title(struct lay *L, const struct toks *ts, double max_w, double em,
                        struct lines *ls)
{
    if (ts->n == 0)
        return false;
    double *cost_before = calloc((size_t)ts->n, sizeof *cost_before); /* [ts->n] */
    if (!cost_before) {
        L->failed = true;
        return false;
    }
    int de = kind_de(ts);
    for (int k = 1; k < ts->n; k++)
        cost_before[k] = title_break_cost(ts, k, de);
    double total = toks_width(ts, 0, ts->n);
    struct title_search S = {.ts = ts, .cost_before = cost_before, .max_w = max_w, .em = em,
                             .best_cost = INFINITY};
    for (S.n_lines = (int)fmax(1, ceil(total / max_w - 1e-9));
         S.n_lines <= TITLE_MAX_LINES && isinf(S.best_cost); S.n_lines++) {
        S.mean = total / S.n_lines;
        /* near the balanced point first; any breaks that fit when none is */
        S.tolerance = fmax(3 * em, 0.25 * S.mean);
        title_search_from(&S, 0);
        if (isinf(S.best_cost)) {
            S.tolerance = INFINITY;
            title_search_from(&S, 0);
        }
        if (!isinf(S.best_cost))
            break;
    }
    free(cost_before);
    if (isinf(S.best_cost))
        return false;
    struct line *a = grow(ls->l, &ls->cap, S.n_lines, sizeof *a);
    if (!a) {
        L->failed = true;
        return false;
    }
    ls->l = a;
    ls->n = S.n_lines;
    for (int i = 0; i < S.n_lines; i++) {
        int b = S.best[i + 1];
        while (b > S.best[i] && ts->t[b - 1].kind == TOK_SPACE)
            b--;
        a[i] = (struct line){S.best[i], b, toks_width(ts, S.best[i], b)};
    }
    return true;
}

/* A title centred in 二号 小标宋 from the current slot, broken as
 * break_title() chooses. */
static void flow_title(struct lay *L, const char *title)
{
    double em = GW_SIZE_TITLE_PT * GW_MM_PER_PT;
    struct span sp = {title, GW_FACE_XIAOBIAOSONG};
    struct para_style st = {GW_SIZE_TITLE_PT, 0, 0, 0, ALIGN_CENTRE, GW_BLACK_RGB};
    struct toks ts = {0};
    struct lines ls = {0};
    if (tokenize(L, &sp, 1, GW_SIZE_TITLE_PT, em, GW_AREA_W_MM, &ts)) {
        bool ok = break_title(L, &ts, GW_AREA_W_MM, em, &ls);
        if (!ok && !L->failed) {
            ls.n = 0;
            ok = break_lines(L, &ts, GW_AREA_W_MM, GW_AREA_W_MM, &ls);
        }
        if (ok)
            flow_lines(L, &ts, &ls, &st, GW_FACE_XIAOBIAOSONG);
    }
    free(ts.t);
    free(ls.l);
}

/* The heading part of a block ("一、总体要求。" of "一、总体要求。各单位…"):
 * up to and including the first 。, or the whole text. */
static size_t heading_len(const char *s)
{
    const char *stop = strstr(s, "。");
    return stop ? (size_t)(stop - s) + strlen("。") : strlen(s);
}

static void flow_block(struct lay *L, const struct gw_block *b)
{
    enum gw_face face = GW_FACE_FANGSONG;
    if (b->type == GW_BLOCK_HEADING1)
        face = GW_FACE_HEITI;
    else if (b->type == GW_BLOCK_HEADING2)
        face = GW_FACE_KAITI;
    if (face == GW_FACE_FANGSONG) {
        struct span sp = {b->text.s, face};
        flow_para(L, &sp, 1, &body_style);
        return;
    }
    size_t n = heading_len(b->text.s);
    if (!b->text.s[n])
        keep_lines(L, 2); /* a heading alone keeps with the next line */
    char *head = strndup(b->text.s, n);
    if (!head) {
        L->failed = true;
        return;
    }
    struct span sp[2] = {{head, face}, {b->text.s + n, GW_FACE_FANGSONG}};
    flow_para(L, sp, b->text.s[n] ? 2 : 1, &body_style);
    free(head);
}

/* "附件：1.XXX" one line below the body, indented two characters, the
 * names aligned. */
static void flow_attachment_note(struct lay *L, const struct gw_doc *doc)
{
    const char *label = "附件：";
    double label_w = text_width(L, label, GW_FACE_FANGSONG, GW_SIZE_BODY_PT);
    skip_lines(L, 1);
    for (int i = 0; i < doc->n_attachments; i++) {
        char num[16] = "";
        if (doc->n_attachments > 1)
            snprintf(num, sizeof num, "%d.", i + 1);
        double num_w = *num ? text_width(L, num, GW_FACE_FANGSONG, GW_SIZE_BODY_PT) : 0;
        struct span sp[3] = {{i == 0 ? label : "", GW_FACE_FANGSONG},
                             {num, GW_FACE_FANGSONG},
                             {doc->attachments[i].name.s ? doc->attachments[i].name.s : "",
                              GW_FACE_FANGSONG}};
        struct para_style st = body_style;
        st.indent_first = 2 * GW_CELL_MM + (i == 0 ? 0 : label_w);
        st.indent_rest = 2 * GW_CELL_MM + label_w + num_w;
        flow_para(L, sp, 3, &st);
    }
}

/* 纪要: "出席：" "请假：" "列席：" in 黑体, the names in 仿宋 aligned after
 * the colon, one line below what comes before. */
static void flow_minutes_people(struct lay *L, const struct gw_doc *doc)
{
    const struct {
        const char *label;
        const struct gw_text *t;
    } rows[] = {{"出席：", &doc->attendees}, {"请假：", &doc->absentees},
                {"列席：", &doc->observers}};
    bool first = true;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (!rows[i].t->s || !*rows[i].t->s)
            continue;
        if (first)
            skip_lines(L, 1);
        first = false;
        struct span sp[2] = {{rows[i].label, GW_FACE_HEITI}, {rows[i].t->s, GW_FACE_FANGSONG}};
        struct para_style st = body_style;
        st.indent_rest = 2 * GW_CELL_MM +
                         text_width(L, rows[i].label, GW_FACE_HEITI, GW_SIZE_BODY_PT);
        flow_para(L, sp, 2, &st);
    }
}

/* 落款 and 成文日期 (GB/T 9704-2012 7.3.5). The 落款 holds one agency a line,
 * the lead agency first (the parser's doc->signature). */

/* The most seals a row can hold: the type area is 156 mm, a seal with its
 * gap 44 mm. */
#define SEAL_MAX_COLS 4

/* One agency of the 落款 and where a sealed layout puts it. */
struct sig_name {
    const char *s; /* into the split copy of doc->signature */
    double w;      /* its width, mm */
    int row, col;  /* sealed: its row and column of seals */
};

/* Split a copy of sig at "\n" into names (blank lines dropped). Returns the
 * copy, which the names point into (caller frees it and *names), or NULL
 * when out of memory. */
static char *split_signature(struct lay *L, const char *sig, struct sig_name **names, int *n)
{
    *names = NULL;
    *n = 0;
    char *copy = strdup(sig);
    int max = 1;
    for (const char *p = sig; *p; p++)
        max += *p == '\n';
    struct sig_name *a = copy ? calloc((size_t)max, sizeof *a) : NULL; /* [max] */
    if (!a) {
        free(copy);
        L->failed = true;
        return NULL;
    }
    for (char *line = copy, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (*line)
            a[(*n)++] = (struct sig_name){line,
                                          text_width(L, line, GW_FACE_FANGSONG, GW_SIZE_BODY_PT),
                                          0, 0};
    }
    *names = a;
    return copy;
}

/* Move the last n grid lines of body text on the current page to the top of
 * a new page; the caller has checked that they are the page's last lines
 * and that at least one body line stays behind. */
static void carry_body_lines(struct lay *L, int n)
{
    int from_page = L->page, from = L->body_end_slot - n;
    if (!new_page(L))
        return;
    struct gw_page *src = &L->out->pages[from_page], *dst = &L->out->pages[L->page];
    double lift = from * GW_LINE_PITCH_MM;
    int kept = 0;
    for (int i = 0; i < src->n_runs; i++) {
        struct gw_run r = src->runs[i];
        int slot = (int)floor((r.baseline_mm - AREA_TOP) / GW_LINE_PITCH_MM);
        if (slot < from || L->failed) {
            src->runs[kept++] = r;
            continue;
        }
        struct gw_run *runs = grow(dst->runs, &dst->cap_runs, dst->n_runs + 1, sizeof *runs);
        if (!runs) {
            L->failed = true;
            src->runs[kept++] = r; /* stays owned by the source page */
            continue;
        }
        dst->runs = runs;
        r.baseline_mm -= lift;
        runs[dst->n_runs++] = r;
    }
    src->n_runs = kept;
    L->slot = n;
    L->body_page = L->page;
    L->body_first_slot = 0;
    L->body_end_slot = n;
}

/* The blank lines to leave above a 落款 block of n_block grid lines, normally
 * gap. GB/T 9704-2012 7.3.5.5: when the space left after the text cannot
 * hold the 落款 (seal or signature and date), adjust the spacing rather
 * than leave the 落款 alone on a page. So when the block would turn the
 * page with body text ending on this one, the gap first shrinks towards
 * min_gap; when even that does not fit, the body's last two lines go to the
 * new page with it. */
static int signature_gap(struct lay *L, int gap, int min_gap, int n_block)
{
    if (L->slot == 0 || L->slot + gap + n_block <= GW_GRID_LINES)
        return gap;
    if (L->body_page != L->page || L->body_end_slot != L->slot)
        return gap; /* no body text ends this page: nothing to keep the 落款 company */
    for (int g = gap - 1; g >= min_gap; g--)
        if (L->slot + g + n_block <= GW_GRID_LINES)
            return g;
    enum { CARRIED_LINES = 2 }; /* a 落款 never goes alone: two lines of text go with it */
    if (L->body_end_slot - L->body_first_slot > CARRIED_LINES &&
        CARRIED_LINES + gap + n_block <= GW_GRID_LINES)
        carry_body_lines(L, CARRIED_LINES);
    return gap;
}

/* Unsealed (7.3.5.2): the names one a line, lead agency first, one blank
 * line below the text, right-aligned two characters in from the right; the
 * date on the next line, its first character two characters right of the
 * names' first character (the widest name's). A date that would then pass
 * the two-character indent is set two characters in, and the names move
 * left with it. At a page's foot the blank line may go (signature_gap()). */
static void flow_signature_unsealed(struct lay *L, const struct sig_name *names, int n,
                                    const char *date, double dw)
{
    double right = AREA_RIGHT - 2 * GW_CELL_MM;
    double widest = 0;
    for (int i = 0; i < n; i++)
        widest = fmax(widest, names[i].w);
    double names_right = right; /* the names' common right edge */
    double dx = right - widest + 2 * GW_CELL_MM;
    if (dx + dw > right + 1e-6) {
        dx = right - dw;
        names_right = dx - 2 * GW_CELL_MM + widest;
    }
    int n_block = n + (date ? 1 : 0);
    skip_lines(L, signature_gap(L, 1, 0, n_block));
    keep_lines(L, n_block);
    for (int i = 0; i < n; i++)
        place_text(L, names[i].s, GW_FACE_FANGSONG, GW_SIZE_BODY_PT, names_right - names[i].w,
                   slot_top(L->slot++), GW_BLACK_RGB);
    if (date)
        place_text(L, date, GW_FACE_FANGSONG, GW_SIZE_BODY_PT, dx, slot_top(L->slot++),
                   GW_BLACK_RGB);
}

/* Put n names in rows of seals: rows of cols columns in order, the last row
 * (which may hold fewer) right-aligned so that its last name is the
 * rightmost. Columns are as far apart as a seal and a gap, or as half of
 * each neighbour's widest name and a character. centre[cols] receives the
 * columns' centres, the rightmost at right_centre (moved left if its names or
 * seal would pass the type area). Returns whether every seal and name stays
 * inside the type area's left edge. */
static bool seal_grid(struct sig_name *names, int n, int rows, int cols, double right_centre,
                      double *centre)
{
    double col_w[SEAL_MAX_COLS] = {0}; /* [cols] the widest name in each column */
    int in_last = n - (rows - 1) * cols;
    for (int i = 0; i < n; i++) {
        names[i].row = i / cols;
        names[i].col = names[i].row < rows - 1 ? i % cols : cols - in_last + i % cols;
        col_w[names[i].col] = fmax(col_w[names[i].col], names[i].w);
    }
    double r = GW_SEAL_D_MM / 2;
    centre[cols - 1] = fmin(right_centre, AREA_RIGHT - fmax(col_w[cols - 1] / 2, r));
    for (int c = cols - 2; c >= 0; c--)
        centre[c] = centre[c + 1] - fmax(GW_SEAL_D_MM + GW_SEAL_GAP_MM,
                                         (col_w[c] + col_w[c + 1]) / 2 + GW_CELL_MM);
    return centre[0] - fmax(col_w[0] / 2, r) >= AREA_LEFT - 1e-6;
}

/* Sealed (7.3.5.1): the date right-indented four characters; one agency:
 * its name centred over the date. Joint: the names in issuing order side by
 * side, in as few rows as keep each row of seals inside the type area (the
 * rows balanced), a seal's diameter and a gap apart so that seals neither
 * cross nor touch; the last name centred over the date, so that the last
 * seal presses both. Two blank lines above the first row leave room for its
 * seals, whose tops stay within a line of the text (one blank line at a
 * page's foot: signature_gap()). */
static void flow_signature_sealed(struct lay *L, struct sig_name *names, int n, const char *date,
                                  double dw)
{
    double centre[SEAL_MAX_COLS]; /* [cols] the columns' centres, mm */
    double date_centre = AREA_RIGHT - 4 * GW_CELL_MM - dw / 2;
    int rows = 0, cols = 0;
    for (int k = 1; k <= n; k++) {
        cols = (n + k - 1) / k;
        rows = (n + cols - 1) / cols;
        if (rows != k || cols > SEAL_MAX_COLS)
            continue; /* not a balanced grid, or too wide to fit anyway */
        if (seal_grid(names, n, rows, cols, date_centre, centre) || cols == 1)
            break;
    }
    int row_lines = (int)ceil((GW_SEAL_D_MM + GW_SEAL_GAP_MM) / GW_LINE_PITCH_MM);
    int n_lines = n > 0 ? (rows - 1) * row_lines + 1 : 0;
    skip_lines(L, signature_gap(L, 2, 1, n_lines + (date ? 1 : 0)));
    keep_lines(L, n_lines + (date ? 1 : 0));
    int first = L->slot;
    for (int i = 0; i < n; i++)
        place_text(L, names[i].s, GW_FACE_FANGSONG, GW_SIZE_BODY_PT,
                   centre[names[i].col] - names[i].w / 2,
                   slot_top(first + names[i].row * row_lines), GW_BLACK_RGB);
    L->slot = first + n_lines;
    if (date)
        place_text(L, date, GW_FACE_FANGSONG, GW_SIZE_BODY_PT,
                   (n > 0 ? centre[cols - 1] : date_centre) - dw / 2, slot_top(L->slot++),
                   GW_BLACK_RGB);
}

/* The 落款 and the date, sealed or not; a 纪要 carries no seal (10.3), so
 * it is always set as unsealed. */
static void flow_signature(struct lay *L, const struct gw_doc *doc)
{
    const char *sig = doc->signature.s && *doc->signature.s ? doc->signature.s : "";
    const char *date = doc->date.s && *doc->date.s ? doc->date.s : NULL;
    if (!*sig && !date)
        return;
    struct sig_name *names = NULL; /* [n] */
    int n = 0;
    char *copy = split_signature(L, sig, &names, &n);
    if (!copy)
        return;
    double dw = date ? text_width(L, date, GW_FACE_FANGSONG, GW_SIZE_BODY_PT) : 0;
    if (doc->sealed && doc->format != GW_FORMAT_MINUTES)
        flow_signature_sealed(L, names, n, date, dw);
    else
        flow_signature_unsealed(L, names, n, date, dw);
    free(names);
    free(copy);
}

/* 附注 on the line after the date, indented two characters, in parentheses. */
static void flow_note(struct lay *L, const struct gw_doc *doc)
{
    if (!doc->note.s || !*doc->note.s)
        return;
    struct span sp[3] = {{"（", GW_FACE_FANGSONG}, {doc->note.s, GW_FACE_FANGSONG},
                         {"）", GW_FACE_FANGSONG}};
    if (L->slot >= GW_GRID_LINES)
        new_page(L);
    flow_para(L, sp, 3, &body_style);
}

/* Each attachment that has pages: a new page, "附件N" in 黑体 flush left on
 * line 1, its title centred from line 3, its text one line below. */
static void flow_attachment_pages(struct lay *L, const struct gw_doc *doc)
{
    for (int i = 0; i < doc->n_attachments && !L->failed; i++) {
        const struct gw_attachment *a = &doc->attachments[i];
        if (!a->title.s && a->n_blocks == 0)
            continue;
        if (!new_page(L))
            return;
        char label[32] = "附件";
        if (doc->n_attachments > 1)
            snprintf(label, sizeof label, "附件%d", i + 1);
        place_text(L, label, GW_FACE_HEITI, GW_SIZE_BODY_PT, AREA_LEFT, slot_top(0),
                   GW_BLACK_RGB);
        L->slot = 2;
        if (a->title.s && *a->title.s) {
            flow_title(L, a->title.s);
            skip_lines(L, 1);
        }
        for (int k = 0; k < a->n_blocks; k++)
            flow_block(L, &a->blocks[k]);
    }
}

/* ---- 版记 --------------------------------------------------------------------------- */

/* The 版记 at the foot of the type area on an even last page: 抄送 and
 * 印发机关/印发日期 in 四号仿宋 between a thick first rule, thin rules
 * between, and a thick last rule on the type area's bottom edge. A letter
 * has no 印发 line and no rules. */
static void flow_colophon(struct lay *L, const struct gw_doc *doc)
{
    bool letter = doc->format == GW_FORMAT_LETTER;
    bool has_cc = doc->cc.s && *doc->cc.s;
    bool has_printer = !letter && ((doc->printer.s && *doc->printer.s) ||
                                   (doc->print_date.s && *doc->print_date.s));
    if (!has_cc && !has_printer)
        return;
    double em = GW_SIZE_SMALL_PT * GW_MM_PER_PT;
    struct toks ts = {0};
    struct lines ls = {0};
    const char *label = "抄送：";
    struct span sp[3] = {{label, GW_FACE_FANGSONG}, {has_cc ? doc->cc.s : "", GW_FACE_FANGSONG},
                         {"。", GW_FACE_FANGSONG}};
    struct para_style st = {GW_SIZE_SMALL_PT, 0, 3 * em, 2 * em, ALIGN_LEFT, GW_BLACK_RGB};
    if (has_cc && !layout_para(L, sp, 3, &st, &ts, &ls))
        goto out_free;
    int rows = ls.n + (has_printer ? 1 : 0);

    /* the last page must be even (a letter's 版记 only needs the last page),
     * and the 版记 needs its rows plus a blank line */
    int n = L->out->n_pages;
    bool fits = L->slot + 1 + rows <= GW_GRID_LINES;
    if (letter && !fits) {
        if (!new_page(L))
            goto out_free;
    } else if (!letter && (n % 2 == 1 || !fits)) {
        if (n % 2 == 0) {
            new_page(L); /* a blank odd page */
            L->no_number[L->page] = true;
        }
        if (!new_page(L))
            goto out_free;
        L->no_number[L->page] = true;
    }
    double top = AREA_BOTTOM - rows * GW_LINE_PITCH_MM;
    double asc = ascent_mm(L, GW_FACE_FANGSONG, GW_SIZE_SMALL_PT);
    double inset = (GW_LINE_PITCH_MM - em) / 2; /* text centred in its row */
    for (int i = 0; i < ls.n; i++)
        emit_line(L, &ts, &ls.l[i], AREA_LEFT + em + (i ? st.indent_rest : 0),
                  top + i * GW_LINE_PITCH_MM + inset + asc, GW_SIZE_SMALL_PT, GW_BLACK_RGB);
    if (has_printer) {
        double row_top = AREA_BOTTOM - GW_LINE_PITCH_MM;
        if (doc->printer.s)
            place_text(L, doc->printer.s, GW_FACE_FANGSONG, GW_SIZE_SMALL_PT, AREA_LEFT + em,
                       row_top + inset, GW_BLACK_RGB);
        if (doc->print_date.s) {
            char *s = g_strconcat(doc->print_date.s, "印发", NULL);
            double w = text_width(L, s, GW_FACE_FANGSONG, GW_SIZE_SMALL_PT);
            place_text(L, s, GW_FACE_FANGSONG, GW_SIZE_SMALL_PT, AREA_RIGHT - em - w,
                       row_top + inset, GW_BLACK_RGB);
            g_free(s);
        }
    }
    if (!letter) {
        add_rule(L, AREA_LEFT, AREA_RIGHT, top + GW_RULE_THICK_MM / 2, GW_RULE_THICK_MM,
                 GW_BLACK_RGB);
        if (has_cc && has_printer)
            add_rule(L, AREA_LEFT, AREA_RIGHT, AREA_BOTTOM - GW_LINE_PITCH_MM, GW_RULE_THIN_MM,
                     GW_BLACK_RGB);
        add_rule(L, AREA_LEFT, AREA_RIGHT, AREA_BOTTOM - GW_RULE_THICK_MM / 2, GW_RULE_THICK_MM,
                 GW_BLACK_RGB);
    }
out_free:
    free(ts.t);
    free(ls.l);
}

/* ---- page numbers ------------------------------------------------------------------ */

/* "— N —" in 四号宋体 with its em box centred 7 mm below the type area:
 * odd pages right, even pages left, one character in. */
static void number_pages(struct lay *L, const struct gw_doc *doc)
{
    double em = GW_SIZE_SMALL_PT * GW_MM_PER_PT;
    double top = AREA_BOTTOM + GW_PAGE_NUMBER_BELOW_MM - em / 2;
    for (int i = 0; i < L->out->n_pages && !L->failed; i++) {
        if (L->no_number[i] || (i == 0 && doc->format == GW_FORMAT_LETTER))
            continue;
        char text[32];
        snprintf(text, sizeof text, "— %d —", i + 1);
        L->page = i;
        double w = text_width(L, text, GW_FACE_SONGTI, GW_SIZE_SMALL_PT);
        double x = (i + 1) % 2 ? AREA_RIGHT - GW_CELL_MM - w : AREA_LEFT + GW_CELL_MM;
        place_text(L, text, GW_FACE_SONGTI, GW_SIZE_SMALL_PT, x, top, GW_BLACK_RGB);
        L->out->pages[i].number = i + 1;
    }
}

/* ---- the whole document -------------------------------------------------------------- */

static void layout_document(struct lay *L, const struct gw_doc *doc)
{
    const char *title = doc->title.s && *doc->title.s ? doc->title.s : NULL;
    if (!new_page(L))
        return;
    int slot = 0;
    bool title_in_mark = false;
    switch (doc->format) {
    case GW_FORMAT_ORDINARY: slot = header_ordinary(L, doc); break;
    case GW_FORMAT_LETTER: slot = header_letter(L, doc); break;
    case GW_FORMAT_ORDER: {
        /* the 标志 is the agency's name + 令, which is often the title too */
        size_t n = title ? strlen(title) : 0;
        bool title_is_mark = n >= strlen("令") && strcmp(title + n - strlen("令"), "令") == 0 &&
                             !(doc->issuer_mark.s && *doc->issuer_mark.s);
        char *mark = title_is_mark ? strdup(title) : mark_text(doc, "令");
        if (!mark) {
            L->failed = true;
            return;
        }
        title_in_mark = title && strcmp(mark, title) == 0;
        slot = header_mark_only(L, doc, mark, GW_ORDER_MARK_TOP_MM);
        free(mark);
        break;
    }
    case GW_FORMAT_MINUTES: {
        const char *mark = doc->issuer_mark.s && *doc->issuer_mark.s ? doc->issuer_mark.s : title;
        title_in_mark = mark == title;
        slot = header_mark_only(L, doc, mark ? mark : "纪要", GW_MINUTES_MARK_TOP_MM);
        break;
    }
    }
    L->slot = slot < GW_GRID_LINES ? slot : GW_GRID_LINES;
    if (title && !title_in_mark) {
        flow_title(L, title);
        skip_lines(L, 1);
    }
    if (doc->recipients.s && *doc->recipients.s) {
        struct span sp[2] = {{doc->recipients.s, GW_FACE_FANGSONG}, {"：", GW_FACE_FANGSONG}};
        struct para_style st = body_style;
        st.indent_first = 0;
        flow_para(L, sp, 2, &st);
    }
    L->in_body = true;
    for (int i = 0; i < doc->n_body && !L->failed; i++)
        flow_block(L, &doc->body[i]);
    if (doc->n_attachments > 0)
        flow_attachment_note(L, doc);
    if (doc->format == GW_FORMAT_MINUTES)
        flow_minutes_people(L, doc);
    L->in_body = false;
    flow_signature(L, doc);
    flow_note(L, doc);
    flow_attachment_pages(L, doc);
    flow_colophon(L, doc);
    number_pages(L, doc);
}

bool gw_layout_build(const struct gw_doc *doc, const struct gw_fonts *fonts,
                     struct gw_layout **out, struct gw_err *err)
{
    *out = NULL;
    struct gw_layout *o = calloc(1, sizeof *o);
    if (!o)
        return gw_fail(err, "layout: out of memory");
    if (fonts)
        o->fonts = *fonts;
    else if (!gw_fonts_resolve(&o->fonts, err)) {
        free(o);
        return false;
    }
    struct lay L = {.out = o, .page = -1, .body_page = -1};
    L.map = pango_cairo_font_map_new();
    L.ctx = pango_font_map_create_context(L.map);
    gw_layout_prepare_context(L.ctx);
    layout_document(&L, doc);
    g_object_unref(L.ctx);
    g_object_unref(L.map);
    free(L.no_number);
    if (L.failed) {
        gw_layout_free(&o);
        return gw_fail(err, "layout: out of memory");
    }
    *out = o;
    return true;
}

void gw_layout_free(struct gw_layout **layout)
{
    if (!layout || !*layout)
        return;
    struct gw_layout *o = *layout;
    for (int i = 0; i < o->n_pages; i++) {
        for (int k = 0; k < o->pages[i].n_runs; k++)
            free(o->pages[i].runs[k].text);
        free(o->pages[i].runs);
        free(o->pages[i].rules);
    }
    free(o->pages);
    free(o);
    *layout = NULL;
}
