/* gongwen.c: the document model's small pieces: kinds, formats, building and
 * freeing a gw_doc (see gongwen.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gongwen.h"

bool gw_fail(struct gw_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* ---- kinds and formats ---------------------------------------------------------- */

static const char *const kind_names[GW_KIND_COUNT] = {
    [GW_KIND_JUEYI] = "决议",   [GW_KIND_JUEDING] = "决定", [GW_KIND_MINGLING] = "命令",
    [GW_KIND_GONGBAO] = "公报", [GW_KIND_GONGGAO] = "公告", [GW_KIND_TONGGAO] = "通告",
    [GW_KIND_YIJIAN] = "意见",  [GW_KIND_TONGZHI] = "通知", [GW_KIND_TONGBAO] = "通报",
    [GW_KIND_BAOGAO] = "报告",  [GW_KIND_QINGSHI] = "请示", [GW_KIND_PIFU] = "批复",
    [GW_KIND_YIAN] = "议案",    [GW_KIND_HAN] = "函",       [GW_KIND_JIYAO] = "纪要",
};

const char *gw_kind_name(enum gw_kind kind)
{
    return kind < GW_KIND_COUNT ? kind_names[kind] : "";
}

bool gw_kind_parse(const char *text, enum gw_kind *kind)
{
    if (strcmp(text, "令") == 0 || strcmp(text, "命令（令）") == 0 ||
        strcmp(text, "命令(令)") == 0) {
        *kind = GW_KIND_MINGLING;
        return true;
    }
    for (int k = 0; k < GW_KIND_COUNT; k++)
        if (strcmp(text, kind_names[k]) == 0) {
            *kind = (enum gw_kind)k;
            return true;
        }
    return false;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

enum gw_kind gw_kind_from_title(const char *title)
{
    if (!title)
        return GW_KIND_UNKNOWN;
    /* The longest names first, so that "通报" is not read as "报". */
    enum gw_kind best = GW_KIND_UNKNOWN;
    size_t best_len = 0;
    for (int k = 0; k < GW_KIND_COUNT; k++) {
        size_t len = strlen(kind_names[k]);
        if (len > best_len && ends_with(title, kind_names[k])) {
            best = (enum gw_kind)k;
            best_len = len;
        }
    }
    if (best == GW_KIND_UNKNOWN && ends_with(title, "令"))
        best = GW_KIND_MINGLING;
    return best;
}

enum gw_format gw_kind_format(enum gw_kind kind)
{
    switch (kind) {
    case GW_KIND_MINGLING: return GW_FORMAT_ORDER;
    case GW_KIND_JIYAO: return GW_FORMAT_MINUTES;
    case GW_KIND_HAN: return GW_FORMAT_LETTER;
    default: return GW_FORMAT_ORDINARY;
    }
}

static const char *const format_names[] = {"ordinary", "letter", "order", "minutes"};

const char *gw_format_name(enum gw_format format)
{
    return format_names[format];
}

bool gw_format_parse(const char *text, enum gw_format *format)
{
    static const char *const chinese[] = {"文件", "信函", "命令", "纪要"};
    for (int f = 0; f < 4; f++)
        if (strcmp(text, format_names[f]) == 0 || strcmp(text, chinese[f]) == 0) {
            *format = (enum gw_format)f;
            return true;
        }
    return false;
}

bool gw_kind_is_upward(enum gw_kind kind)
{
    return kind == GW_KIND_QINGSHI || kind == GW_KIND_BAOGAO;
}

const char *gw_kind_closing(enum gw_kind kind)
{
    switch (kind) {
    case GW_KIND_QINGSHI: return "妥否，请批示。";
    case GW_KIND_BAOGAO: return "特此报告。";
    case GW_KIND_PIFU: return "此复。";
    case GW_KIND_HAN: return "此函。";
    default: return NULL;
    }
}

/* ---- the document ---------------------------------------------------------------- */

struct gw_doc *gw_doc_new(void)
{
    struct gw_doc *doc = calloc(1, sizeof *doc);
    if (doc) {
        doc->kind = GW_KIND_UNKNOWN;
        doc->format = GW_FORMAT_ORDINARY;
    }
    return doc;
}

bool gw_text_set(struct gw_text *t, const char *s, size_t n, int line)
{
    char *copy = malloc(n + 1);
    if (!copy)
        return false;
    memcpy(copy, s, n);
    copy[n] = '\0';
    free(t->s);
    t->s = copy;
    t->line = line;
    return true;
}

/* Make room for one more element of size `size` in *array holding *n. */
static void *grow(void *array, int n, size_t size)
{
    return realloc(array, size * (size_t)(n + 1));
}

bool gw_doc_add_block(struct gw_block **blocks, int *n, enum gw_block_type type, const char *s,
                      int line)
{
    struct gw_block *b = grow(*blocks, *n, sizeof **blocks);
    if (!b)
        return false;
    *blocks = b;
    b[*n] = (struct gw_block){.type = type};
    if (!gw_text_set(&b[*n].text, s, strlen(s), line))
        return false;
    (*n)++;
    return true;
}

bool gw_doc_add_text(struct gw_text **list, int *n, const char *s, int line)
{
    struct gw_text *t = grow(*list, *n, sizeof **list);
    if (!t)
        return false;
    *list = t;
    t[*n] = (struct gw_text){0};
    if (!gw_text_set(&t[*n], s, strlen(s), line))
        return false;
    (*n)++;
    return true;
}

struct gw_attachment *gw_doc_add_attachment(struct gw_doc *doc, const char *name, int line)
{
    struct gw_attachment *a = grow(doc->attachments, doc->n_attachments, sizeof *a);
    if (!a)
        return NULL;
    doc->attachments = a;
    struct gw_attachment *at = &a[doc->n_attachments];
    *at = (struct gw_attachment){0};
    if (!gw_text_set(&at->name, name, strlen(name), line))
        return NULL;
    doc->n_attachments++;
    return at;
}

static void free_blocks(struct gw_block *blocks, int n)
{
    for (int i = 0; i < n; i++)
        free(blocks[i].text.s);
    free(blocks);
}

static void free_texts(struct gw_text *list, int n)
{
    for (int i = 0; i < n; i++)
        free(list[i].s);
    free(list);
}

void gw_doc_free(struct gw_doc **doc)
{
    struct gw_doc *d = doc ? *doc : NULL;
    if (!d)
        return;
    struct gw_text *fields[] = {
        &d->copy_number, &d->secrecy, &d->urgency, &d->issuer_mark, &d->doc_number, &d->title,
        &d->recipients, &d->signature, &d->date, &d->note, &d->attendees, &d->absentees,
        &d->observers, &d->cc, &d->printer, &d->print_date};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        free(fields[i]->s);
    free_texts(d->issuers, d->n_issuers);
    free_texts(d->signers, d->n_signers);
    free_blocks(d->body, d->n_body);
    for (int i = 0; i < d->n_attachments; i++) {
        free(d->attachments[i].name.s);
        free(d->attachments[i].title.s);
        free_blocks(d->attachments[i].blocks, d->attachments[i].n_blocks);
    }
    free(d->attachments);
    free(d);
    *doc = NULL;
}
