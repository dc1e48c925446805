/* gw-parse.c: reads a draft into a gw_doc (gongwen.h). Two kinds of input
 * meet here: light Markdown with labelled lines ("发文字号：…", "# 标题"),
 * and the plain text of a document a person wrote (a .txt, or a .docx after
 * ingest), where the parts are recognised by their shape:
 *
 *   header   份号 (6 digits), 密级 (绝密/机密/秘密…), 紧急程度 (特急/加急),
 *            "…文件" (发文机关标志), "X政发〔2025〕3号" (发文字号), or labels;
 *   title    "# …", "标题：…", or the first line that starts with 关于 or ends
 *            in a kind name (a title wrapped over two lines, "…关于…" + "…的通知",
 *            is joined), or a short line followed by a line ending in ：;
 *   主送     the first line after the title ending in ：, or "主送：…"; never a
 *            line with "如下" ("现就有关事项通告如下：") nor in a 纪要, and in
 *            the other kinds without 主送 (公告, 通告, 公报, 命令, 决议) only
 *            a bare list of addressees ("全市各单位、广大市民：", for the check);
 *   body     paragraphs; headings by their number: 一、 （一） 1. （1）;
 *   附件说明 "附件：1.…" and the numbered lines after it;
 *   tail     the signature (up to three short lines without punctuation), the
 *            date, and a parenthesised 附注 line, at the end of the body;
 *   版记     "抄送：", "印发机关：", "印发日期：", or "XX办公室 2025年3月18日印发";
 *   pages    "附件1" (or "附件") alone on a line starts an attachment page: the
 *            next line is its title, the rest its text.
 * HTML comments (<!-- … -->), Markdown rules (---) and blank lines are skipped;
 * a line wrapped in ** (Markdown bold) loses the asterisks; CRLF reads as LF.
 * Every field keeps its 1-based source line. Body text, the title, 主送,
 * attachment names, 附注, 抄送 and the 纪要 lists get gw_fullwidth_punct();
 * header fields and dates stay as written, so that the check sees them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gongwen.h"
#include "gw-text.h"

/* ---- UTF-8 ------------------------------------------------------------------------ */

/* Decode one code point at s (n bytes left); returns its length, 0 if invalid. */
static int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if ((size_t)len > n)
        return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Number of code points in s (invalid bytes count one each). */
static int u8_count(const char *s)
{
    int n = 0;
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = utf8_decode((const unsigned char *)s + i, len - i, &cp);
        i += k > 0 ? (size_t)k : 1;
        n++;
    }
    return n;
}

/* Chinese text: ideographs, CJK punctuation and full-width forms, CJK quotes. */
static bool is_han(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x3001 && c <= 0x303F) || (c >= 0xFF01 && c <= 0xFF5E) ||
           (c >= 0x2018 && c <= 0x201D) || c == 0x2026 || c == 0x2014;
}

static bool is_ascii_alnum(uint32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(uint32_t c)
{
    return c >= '0' && c <= '9';
}

/* ---- gw_fullwidth_punct ------------------------------------------------------------- */

/* A decoded string: cps[i] is the i-th code point; out[i] what replaces it
 * (0: dropped). */
struct cpbuf {
    uint32_t *cps; /* [n] */
    uint32_t *out; /* [n] */
    unsigned char *decided; /* [n] 1: a closing mark already settled with its opener */
    size_t n;
};

static bool is_space(uint32_t c)
{
    return c == ' ' || c == '\t';
}

/* Index of the nearest non-space code point before i on the same line, or -1. */
static long prev_ns(const struct cpbuf *b, long i)
{
    for (long j = i - 1; j >= 0; j--) {
        if (b->cps[j] == '\n')
            return -1;
        if (!is_space(b->cps[j]))
            return j;
    }
    return -1;
}

static long next_ns(const struct cpbuf *b, long i)
{
    for (long j = i + 1; j < (long)b->n; j++) {
        if (b->cps[j] == '\n')
            return -1;
        if (!is_space(b->cps[j]))
            return j;
    }
    return -1;
}

/* Whether the text left of i is Chinese: the previous character is, or the
 * ASCII word it belongs to ("95%", "www.gov.cn") follows Chinese text. */
static bool left_is_han(const struct cpbuf *b, long i)
{
    long j = prev_ns(b, i);
    if (j < 0)
        return false;
    if (is_han(b->cps[j]))
        return true;
    while (j >= 0 && b->cps[j] > ' ' && b->cps[j] < 0x80)
        j--;
    if (j < 0 || b->cps[j] == '\n')
        return false;
    if (is_space(b->cps[j]))
        j = prev_ns(b, j + 1);
    return j >= 0 && is_han(b->cps[j]);
}

static bool right_is_han(const struct cpbuf *b, long i)
{
    long j = next_ns(b, i);
    return j >= 0 && is_han(b->cps[j]);
}

/* Whether a code point in (i, j) is Chinese. */
static bool span_has_han(const struct cpbuf *b, long i, long j)
{
    for (long k = i + 1; k < j; k++)
        if (is_han(b->cps[k]))
            return true;
    return false;
}

/* The index of the ASCII `close` matching an opener at i on the same line, or -1. */
static long find_close(const struct cpbuf *b, long i, uint32_t open, uint32_t close)
{
    int depth = 0;
    for (long j = i + 1; j < (long)b->n && b->cps[j] != '\n'; j++) {
        if (b->cps[j] == close && depth == 0)
            return j;
        if (open != close && b->cps[j] == open)
            depth++;
        else if (open != close && b->cps[j] == close)
            depth--;
    }
    return -1;
}

/* "1." / "12." at the start of a line or after ：（、: a list number, kept. */
static bool is_list_number_dot(const struct cpbuf *b, long i)
{
    long j = i - 1;
    if (j < 0 || !is_digit(b->cps[j]))
        return false;
    while (j >= 0 && is_digit(b->cps[j]))
        j--;
    if (j < 0)
        return true;
    uint32_t c = b->cps[j];
    return c == '\n' || is_space(c) || c == 0xFF1A || c == ':' || c == 0xFF08 || c == 0x3001;
}

static uint32_t fullwidth_of(uint32_t c)
{
    switch (c) {
    case ',': return 0xFF0C; /* ， */
    case '.': return 0x3002; /* 。 */
    case ':': return 0xFF1A; /* ： */
    case ';': return 0xFF1B; /* ； */
    case '?': return 0xFF1F; /* ？ */
    case '!': return 0xFF01; /* ！ */
    case '(': return 0xFF08; /* （ */
    case ')': return 0xFF09; /* ） */
    default: return c;
    }
}

/* Convert the mark at i to full as `full` and drop the spaces around it. */
static void convert_at(struct cpbuf *b, long i, uint32_t full)
{
    b->out[i] = full;
    for (long j = i - 1; j >= 0 && is_space(b->cps[j]); j--)
        b->out[j] = 0;
    for (long j = i + 1; j < (long)b->n && is_space(b->cps[j]); j++)
        b->out[j] = 0;
}

static void convert_single(struct cpbuf *b, long i)
{
    uint32_t c = b->cps[i];
    uint32_t prev = i > 0 ? b->cps[i - 1] : 0;
    uint32_t next = i + 1 < (long)b->n ? b->cps[i + 1] : 0;
    /* Inside an ASCII word: 3.5, 1,000, 10:30, www.gov.cn. */
    if (is_ascii_alnum(prev) && is_ascii_alnum(next))
        return;
    if (c == ':' && next == '/')
        return;
    if (c == '.' && is_list_number_dot(b, i))
        return;
    if (left_is_han(b, i) || right_is_han(b, i))
        convert_at(b, i, fullwidth_of(c));
}

/* A pair of ( ) or " " converts when its content or its surroundings are Chinese. */
static void convert_pair(struct cpbuf *b, long i, uint32_t open, uint32_t close, uint32_t full_open,
                         uint32_t full_close)
{
    long j = find_close(b, i, open, close);
    if (j < 0) {
        if (left_is_han(b, i) || right_is_han(b, i))
            convert_at(b, i, full_open);
        return;
    }
    if (span_has_han(b, i, j) || left_is_han(b, i) || right_is_han(b, j)) {
        convert_at(b, i, full_open);
        convert_at(b, j, full_close);
    }
    b->decided[j] = 1;
}

char *gw_fullwidth_punct(const char *text)
{
    size_t len = strlen(text);
    struct cpbuf b = {.cps = malloc((len + 1) * sizeof(uint32_t)),
                      .out = malloc((len + 1) * sizeof(uint32_t)),
                      .decided = calloc(len + 1, 1)};
    char *res = malloc(len * 3 + 1); /* a 1-byte mark becomes at most 3 bytes */
    if (!b.cps || !b.out || !b.decided || !res) {
        free(b.cps), free(b.out), free(b.decided), free(res);
        return NULL;
    }
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = utf8_decode((const unsigned char *)text + i, len - i, &cp);
        if (k <= 0)
            cp = (unsigned char)text[i], k = 1;
        b.cps[b.n] = cp;
        b.out[b.n] = cp;
        b.n++;
        i += (size_t)k;
    }
    for (long i = 0; i < (long)b.n; i++) {
        uint32_t c = b.cps[i];
        if (b.decided[i])
            continue;
        if (c == '(')
            convert_pair(&b, i, '(', ')', 0xFF08, 0xFF09);
        else if (c == '"')
            convert_pair(&b, i, '"', '"', 0x201C, 0x201D);
        else if (c == ')')
            convert_single(&b, i);
        else if (c == ',' || c == '.' || c == ':' || c == ';' || c == '?' || c == '!')
            convert_single(&b, i);
    }
    size_t o = 0;
    for (size_t i = 0; i < b.n; i++)
        if (b.out[i])
            o += utf8_encode(b.out[i], res + o);
    res[o] = '\0';
    free(b.cps);
    free(b.out);
    free(b.decided);
    return res;
}

/* ---- lines -------------------------------------------------------------------------- */

struct src_line {
    char *s; /* trimmed, NUL-terminated, points into the parser's copy */
    int no;  /* 1-based source line */
};

struct parser {
    struct gw_doc *doc;
    struct src_line *lines; /* [n_lines] non-empty content lines */
    int n_lines;
    const char *source;
    struct gw_err *err;
};

/* Trim ASCII blanks and U+3000 (ideographic space) at both ends, in place. */
static char *trim(char *s)
{
    for (;;) {
        if (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        else if (gw_starts_with(s, "\xE3\x80\x80"))
            s += 3;
        else
            break;
    }
    size_t n = strlen(s);
    for (;;) {
        if (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
            n--;
        else if (n >= 3 && memcmp(s + n - 3, "\xE3\x80\x80", 3) == 0)
            n -= 3;
        else
            break;
    }
    s[n] = '\0';
    return s;
}

static bool is_rule_line(const char *s)
{
    size_t n = strlen(s);
    if (n < 3)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '-' && s[i] != '=' && s[i] != '*' && s[i] != '_')
            return false;
    return true;
}

/* Split the copy buf into trimmed content lines (comments, rules and blanks out). */
static bool split_lines(struct parser *p, char *buf)
{
    int n_phys = 1;
    for (char *c = buf; *c; c++)
        n_phys += *c == '\n';
    p->lines = calloc((size_t)n_phys, sizeof *p->lines);
    if (!p->lines)
        return gw_fail(p->err, "%s: out of memory", p->source);
    bool in_comment = false;
    char *s = buf;
    for (int no = 1; s; no++) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        char *t = trim(s);
        s = nl ? nl + 1 : NULL;
        if (in_comment) {
            in_comment = strstr(t, "-->") == NULL;
            continue;
        }
        if (gw_starts_with(t, "<!--")) {
            in_comment = strstr(t, "-->") == NULL;
            continue;
        }
        if (*t == '\0' || is_rule_line(t))
            continue;
        size_t n = strlen(t);
        if (n > 4 && gw_starts_with(t, "**") && gw_ends_with(t, "**")) { /* Markdown bold */
            t[n - 2] = '\0';
            t = trim(t + 2);
        }
        p->lines[p->n_lines++] = (struct src_line){.s = t, .no = no};
    }
    return true;
}

/* ---- small shape tests ---------------------------------------------------------------- */

/* The heading level of a line by its number (0: a paragraph). */
static int heading_level(const char *s)
{
    size_t k = gw_han_numeral_len(s);
    if (k > 0 && k <= 9 &&
        (gw_starts_with(s + k, "、") || gw_starts_with(s + k, "．") ||
         (s[k] == '.' && !(s[k + 1] >= '0' && s[k + 1] <= '9'))))
        return 1;
    const char *open = gw_starts_with(s, "（") ? s + 3 : *s == '(' ? s + 1 : NULL;
    if (open) {
        size_t h = gw_han_numeral_len(open);
        size_t d = gw_digit_len(open);
        size_t m = h ? h : d;
        if (m > 0 && m <= 9 && (gw_starts_with(open + m, "）") || open[m] == ')'))
            return h ? 2 : 4;
    }
    size_t d = gw_digit_len(s);
    if (d > 0 && d <= 3) {
        if (s[d] == '.' && !(s[d + 1] >= '0' && s[d + 1] <= '9') && s[d + 1] != '\0')
            return 3;
        if ((gw_starts_with(s + d, "．") || gw_starts_with(s + d, "、")) && s[d + 3] != '\0')
            return 3;
    }
    return 0;
}

static bool has_punct(const char *s)
{
    static const char *const marks[] = {"。", "，", "；", "：", "！", "？", ",", ";", ":",
                                        "!", "?"};
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (strstr(s, marks[i]))
            return true;
    return false;
}

static bool ends_in_colon(const char *s)
{
    return gw_ends_with(s, "：") || gw_ends_with(s, ":");
}

/* A copy of s without its trailing punctuation (for kind detection). */
static char *strip_final_punct(const char *s)
{
    char *t = strdup(s);
    if (!t)
        return NULL;
    while (gw_ends_in_punct(t) || gw_ends_with(t, "…")) {
        size_t n = strlen(t);
        t[n - ((unsigned char)t[n - 1] < 0x80 ? 1 : 3)] = '\0';
    }
    return t;
}

static enum gw_kind kind_of_line(const char *s)
{
    char *t = strip_final_punct(s);
    enum gw_kind k = t ? gw_kind_from_title(t) : GW_KIND_UNKNOWN;
    free(t);
    return k;
}

/* A date line as people write it: 2025年3月18日, 二〇二五年三月十八日, 2025-3-18,
 * 2025.3.18, 2025/3/18 (the check judges the form). */
static bool is_date_line(const char *s)
{
    size_t d = gw_digit_len(s);
    if (d == 4) {
        const char *r = s + 4;
        if (gw_starts_with(r, "年"))
            return gw_ends_with(s, "日") && u8_count(s) <= 12;
        char sep = *r;
        if (sep != '-' && sep != '.' && sep != '/')
            return false;
        size_t m = gw_digit_len(r + 1);
        if (m < 1 || m > 2 || r[1 + m] != sep)
            return false;
        size_t dd = gw_digit_len(r + 2 + m);
        return dd >= 1 && dd <= 2 && r[2 + m + dd] == '\0';
    }
    size_t h = gw_han_numeral_len(s);
    return h >= 12 && gw_starts_with(s + h, "年") && gw_ends_with(s, "日") && u8_count(s) <= 14;
}

static bool is_parenthesised(const char *s)
{
    return (gw_starts_with(s, "（") || *s == '(') && (gw_ends_with(s, "）") || gw_ends_with(s, ")"));
}

/* "附件" or "附件1" / "附件 2" alone on a line: an attachment page; *num gets the
 * number (0 when none). */
static bool is_attachment_page_head(const char *s, int *num)
{
    if (!gw_starts_with(s, "附件"))
        return false;
    const char *r = s + strlen("附件");
    while (*r == ' ')
        r++;
    size_t d = gw_digit_len(r);
    if (r[d] != '\0')
        return false;
    *num = d ? atoi(r) : 0;
    return true;
}

/* "附件：…" / "附件:…": the 附件说明; *rest gets what follows the colon. */
static bool is_attachment_list(const char *s, const char **rest)
{
    if (!gw_starts_with(s, "附件"))
        return false;
    const char *r = s + strlen("附件");
    if (gw_starts_with(r, "："))
        r += 3;
    else if (*r == ':')
        r++;
    else
        return false;
    while (*r == ' ')
        r++;
    *rest = r;
    return true;
}

/* "1.XX" / "2、XX" / "3．XX": an item of the 附件说明; *name gets its start. */
static bool is_attachment_item(const char *s, const char **name)
{
    size_t d = gw_digit_len(s);
    if (d == 0 || d > 2)
        return false;
    const char *r = s + d;
    if (*r == '.')
        r++;
    else if (gw_starts_with(r, "．") || gw_starts_with(r, "、"))
        r += 3;
    else
        return false;
    while (*r == ' ')
        r++;
    *name = r;
    return *r != '\0';
}

/* ---- labels ------------------------------------------------------------------------- */

enum field {
    F_COPY, F_SECRECY, F_URGENCY, F_ISSUER, F_MARK, F_DOCNUM, F_SIGNER, F_KIND, F_FORMAT,
    F_TITLE, /* the labels above belong before the title */
    F_RECIP, F_CC, F_PRINTER, F_PRINTDATE, F_NOTE, F_SIGNATURE, F_DATE, F_ATTEND, F_ABSENT,
    F_OBSERVE,
};

static const struct {
    const char *label;
    enum field field;
} labels[] = {
    {"份号", F_COPY},          {"密级和保密期限", F_SECRECY}, {"密级", F_SECRECY},
    {"紧急程度", F_URGENCY},   {"发文机关标志", F_MARK},      {"发文机关", F_ISSUER},
    {"发文字号", F_DOCNUM},    {"令号", F_DOCNUM},            {"签发人", F_SIGNER},
    {"文种", F_KIND},          {"格式", F_FORMAT},            {"标题", F_TITLE},
    {"主送机关", F_RECIP},     {"主送", F_RECIP},             {"抄送机关", F_CC},
    {"抄送", F_CC},            {"印发机关", F_PRINTER},       {"印发日期", F_PRINTDATE},
    {"附注", F_NOTE},          {"落款", F_SIGNATURE},         {"成文日期", F_DATE},
    {"日期", F_DATE},          {"出席", F_ATTEND},            {"请假", F_ABSENT},
    {"列席", F_OBSERVE},
};

/* A labelled line "标签：值" (or "标签:值"): the field and the value's start. */
static bool label_of(const char *s, enum field *field, const char **value)
{
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        size_t n = strlen(labels[i].label);
        if (strncmp(s, labels[i].label, n) != 0)
            continue;
        const char *r = s + n;
        while (*r == ' ')
            r++;
        if (gw_starts_with(r, "："))
            r += 3;
        else if (*r == ':')
            r++;
        else
            continue;
        while (*r == ' ')
            r++;
        *field = labels[i].field;
        *value = r;
        return true;
    }
    return false;
}

static bool set_text(struct parser *p, struct gw_text *t, const char *s, int line)
{
    if (!gw_text_set(t, s, strlen(s), line))
        return gw_fail(p->err, "%s: out of memory", p->source);
    return true;
}

/* Set t to the full-width-normalised s. */
static bool set_norm(struct parser *p, struct gw_text *t, const char *s, int line)
{
    char *n = gw_fullwidth_punct(s);
    if (!n)
        return gw_fail(p->err, "%s: out of memory", p->source);
    bool ok = set_text(p, t, n, line);
    free(n);
    return ok;
}

/* Append the names in s, separated by 、，, or blanks, to list. */
static bool add_names(struct parser *p, struct gw_text **list, int *n, const char *s, int line)
{
    static const char *const seps[] = {"、", "，", ",", " ", "\xE3\x80\x80", "；", ";", "\n"};
    const char *start = s;
    for (const char *c = s;; c++) {
        size_t sep = 0;
        for (size_t k = 0; k < sizeof seps / sizeof seps[0] && *c; k++)
            if (gw_starts_with(c, seps[k]))
                sep = strlen(seps[k]);
        if (*c == '\0' || sep) {
            if (c > start) {
                char *name = strndup(start, (size_t)(c - start));
                bool ok = name && gw_doc_add_text(list, n, name, line);
                free(name);
                if (!ok)
                    return gw_fail(p->err, "%s: out of memory", p->source);
            }
            if (*c == '\0')
                return true;
            c += sep - 1;
            start = c + 1;
        }
    }
}

/* A copy of s without a final 。/. and without surrounding parentheses when asked. */
static char *value_copy(const char *s, bool drop_period, bool drop_parens)
{
    char *t = strdup(s);
    if (!t)
        return NULL;
    size_t n = strlen(t);
    if (drop_parens && is_parenthesised(t)) {
        size_t open = *t == '(' ? 1 : 3, close = t[n - 1] == ')' ? 1 : 3;
        memmove(t, t + open, n - open - close);
        n -= open + close;
        t[n] = '\0';
    }
    if (drop_period) {
        if (gw_ends_with(t, "。"))
            t[n - 3] = '\0';
        else if (n > 0 && t[n - 1] == '.')
            t[n - 1] = '\0';
    }
    return t;
}

static bool apply_label(struct parser *p, enum field f, const char *v, int line)
{
    struct gw_doc *d = p->doc;
    switch (f) {
    case F_COPY: return set_text(p, &d->copy_number, v, line);
    case F_SECRECY: return set_text(p, &d->secrecy, v, line);
    case F_URGENCY: return set_text(p, &d->urgency, v, line);
    case F_ISSUER: return add_names(p, &d->issuers, &d->n_issuers, v, line);
    case F_MARK: return set_text(p, &d->issuer_mark, v, line);
    case F_DOCNUM: return set_text(p, &d->doc_number, v, line);
    case F_SIGNER: return add_names(p, &d->signers, &d->n_signers, v, line);
    case F_KIND: gw_kind_parse(v, &d->kind); return true;
    case F_FORMAT:
        if (gw_format_parse(v, &d->format))
            d->format_overridden = true;
        return true;
    case F_TITLE: return set_norm(p, &d->title, v, line);
    case F_RECIP: {
        char *t = value_copy(v, false, false);
        size_t n = t ? strlen(t) : 0;
        if (t && gw_ends_with(t, "："))
            t[n - 3] = '\0';
        else if (t && n > 0 && t[n - 1] == ':')
            t[n - 1] = '\0';
        bool ok = t && set_norm(p, &d->recipients, t, line);
        free(t);
        return t ? ok : gw_fail(p->err, "%s: out of memory", p->source);
    }
    case F_SIGNATURE: return set_text(p, &d->signature, v, line);
    case F_DATE: return set_text(p, &d->date, v, line);
    case F_PRINTER: return set_text(p, &d->printer, v, line);
    default: break;
    }
    /* The fields that lose a final 。 or their parentheses. */
    char *t = value_copy(v, f == F_CC || f == F_ATTEND || f == F_ABSENT || f == F_OBSERVE,
                         f == F_NOTE);
    if (!t)
        return gw_fail(p->err, "%s: out of memory", p->source);
    if (f == F_PRINTDATE && gw_ends_with(t, "印发"))
        t[strlen(t) - strlen("印发")] = '\0';
    struct gw_text *dst = f == F_CC ? &d->cc : f == F_NOTE ? &d->note
                        : f == F_ATTEND ? &d->attendees : f == F_ABSENT ? &d->absentees
                        : f == F_OBSERVE ? &d->observers : &d->print_date;
    bool ok = f == F_PRINTDATE ? set_text(p, dst, t, line) : set_norm(p, dst, t, line);
    free(t);
    return ok;
}

/* "XX市人民政府办公室 2025年3月18日印发": the 印发机关 and 印发日期 on one line. */
static bool is_print_line(const char *s, size_t *date_at)
{
    if (!gw_ends_with(s, "印发") || strlen(s) < 12)
        return false;
    const char *sp = strrchr(s, ' ');
    const char *at = NULL;
    if (sp) {
        at = sp + 1;
    } else {
        for (const char *c = s; *c; c++)
            if (*c >= '0' && *c <= '9') {
                at = c;
                break;
            }
    }
    if (!at || at == s || !(strstr(at, "年") || (*at >= '0' && *at <= '9')))
        return false;
    *date_at = (size_t)(at - s);
    return true;
}

static bool apply_print_line(struct parser *p, const char *s, size_t date_at, int line)
{
    char *printer = strndup(s, date_at);
    char *date = strndup(s + date_at, strlen(s) - date_at - strlen("印发"));
    bool ok = printer && date && set_text(p, &p->doc->printer, trim(printer), line) &&
              set_text(p, &p->doc->print_date, trim(date), line);
    if (!printer || !date)
        gw_fail(p->err, "%s: out of memory", p->source);
    free(printer);
    free(date);
    return ok;
}

/* Consume a line of the 版记 / tail labels or the one-line 印发; *taken says so. */
static bool take_tail_label(struct parser *p, const struct src_line *l, bool *taken)
{
    enum field f;
    const char *v;
    size_t date_at;
    *taken = false;
    if (label_of(l->s, &f, &v) && f > F_TITLE) {
        *taken = true;
        return apply_label(p, f, v, l->no);
    }
    if (is_print_line(l->s, &date_at)) {
        *taken = true;
        return apply_print_line(p, l->s, date_at, l->no);
    }
    return true;
}

/* ---- the header and the title ---------------------------------------------------------- */

/* An unlabelled header line by its shape; false when it is none. */
static bool header_shape(struct parser *p, const struct src_line *l, bool *ok)
{
    const char *s = l->s;
    struct gw_doc *d = p->doc;
    size_t n = strlen(s);
    *ok = true;
    if (gw_digit_len(s) == n && n >= 1 && n <= 6 && !d->copy_number.s) {
        *ok = set_text(p, &d->copy_number, s, l->no);
        return true;
    }
    if ((gw_starts_with(s, "绝密") || gw_starts_with(s, "机密") || gw_starts_with(s, "秘密")) &&
        u8_count(s) <= 10) {
        *ok = set_text(p, &d->secrecy, s, l->no);
        return true;
    }
    if (!strcmp(s, "特急") || !strcmp(s, "加急") || !strcmp(s, "平急") || !strcmp(s, "特提")) {
        *ok = set_text(p, &d->urgency, s, l->no);
        return true;
    }
    if (gw_ends_with(s, "号") && u8_count(s) <= 30 && !has_punct(s) &&
        (strstr(s, "〔") || strchr(s, '[') || strchr(s, '(') || strstr(s, "（") ||
         strstr(s, "【") || strstr(s, "第"))) {
        *ok = set_text(p, &d->doc_number, s, l->no);
        return true;
    }
    if (gw_ends_with(s, "文件") && u8_count(s) <= 40 && !has_punct(s)) {
        *ok = set_text(p, &d->issuer_mark, s, l->no);
        return true;
    }
    return false;
}

static bool looks_like_title(const char *s)
{
    if (ends_in_colon(s) || u8_count(s) > 80 || heading_level(s) > 0)
        return false;
    return gw_starts_with(s, "关于") || kind_of_line(s) != GW_KIND_UNKNOWN;
}

/* Set the title from line i (joined with line i+1 when wrapped); returns the
 * index of the first line after it. */
static int take_title(struct parser *p, int i, const char *s, bool plain)
{
    const struct src_line *next = i + 1 < p->n_lines ? &p->lines[i + 1] : NULL;
    enum field f;
    const char *v;
    if (plain && next && strstr(s, "关于") && kind_of_line(s) == GW_KIND_UNKNOWN &&
        !label_of(next->s, &f, &v) && !ends_in_colon(next->s) && u8_count(next->s) <= 40 &&
        kind_of_line(next->s) != GW_KIND_UNKNOWN) {
        size_t a = strlen(s), b = strlen(next->s);
        char *joined = malloc(a + b + 1);
        if (!joined) {
            gw_fail(p->err, "%s: out of memory", p->source);
            return -1;
        }
        memcpy(joined, s, a);
        memcpy(joined + a, next->s, b + 1);
        bool ok = set_norm(p, &p->doc->title, joined, p->lines[i].no);
        free(joined);
        return ok ? i + 2 : -1;
    }
    return set_norm(p, &p->doc->title, s, p->lines[i].no) ? i + 1 : -1;
}

/* Read the lines before the title and the title; returns the index after the
 * title, -1 on error. */
static int parse_head(struct parser *p)
{
    for (int i = 0; i < p->n_lines; i++) {
        const struct src_line *l = &p->lines[i];
        const char *s = l->s;
        enum field f;
        const char *v;
        bool ok;
        if (*s == '#') {
            while (*s == '#')
                s++;
            s = trim((char *)s);
            if (*s == '\0')
                continue;
            return set_norm(p, &p->doc->title, s, l->no) ? i + 1 : -1;
        }
        if (label_of(s, &f, &v)) {
            if (!apply_label(p, f, v, l->no))
                return -1;
            if (f == F_TITLE)
                return i + 1;
            continue;
        }
        if (looks_like_title(s))
            return take_title(p, i, s, true);
        /* "XX市人民政府关于开展" + "安全生产大检查的通知": a title wrapped by hand. */
        if (strstr(s, "关于") && !has_punct(s) && i + 1 < p->n_lines &&
            kind_of_line(p->lines[i + 1].s) != GW_KIND_UNKNOWN &&
            !ends_in_colon(p->lines[i + 1].s) && u8_count(p->lines[i + 1].s) <= 40)
            return take_title(p, i, s, true);
        if (header_shape(p, l, &ok)) {
            if (!ok)
                return -1;
            continue;
        }
        /* A short line followed by the 主送 line is a title without a kind. */
        if (i + 1 < p->n_lines && ends_in_colon(p->lines[i + 1].s) && !has_punct(s) &&
            u8_count(s) <= 60)
            return take_title(p, i, s, true);
        if (!has_punct(s) && u8_count(s) <= 30 && !is_date_line(s)) {
            if (!add_names(p, &p->doc->issuers, &p->doc->n_issuers, s, l->no))
                return -1;
            continue;
        }
        gw_fail(p->err, "%s: no title found before line %d (expected \"# 标题\" or a line like "
                        "\"关于…的通知\")", p->source, l->no);
        return -1;
    }
    gw_fail(p->err, "%s: no title found (expected \"# 标题\" or a line like \"关于…的通知\")",
            p->source);
    return -1;
}

/* ---- the body and its tail -------------------------------------------------------------- */

static bool add_block(struct parser *p, struct gw_block **blocks, int *n, const char *s, int line)
{
    static const enum gw_block_type types[] = {GW_BLOCK_PARA, GW_BLOCK_HEADING1,
                                               GW_BLOCK_HEADING2, GW_BLOCK_HEADING3,
                                               GW_BLOCK_HEADING4};
    while (*s == '#')
        s++;
    s = trim((char *)s);
    char *norm = gw_fullwidth_punct(s);
    bool ok = norm && gw_doc_add_block(blocks, n, types[heading_level(s)], norm, line);
    free(norm);
    return ok ? true : gw_fail(p->err, "%s: out of memory", p->source);
}

/* Whether a line can be (part of) the signature: short, no punctuation, not a
 * heading, a date, an attachment item or a closing formula. */
static bool is_signature_shape(const char *s)
{
    const char *name;
    return u8_count(s) <= 30 && !has_punct(s) && !gw_ends_with(s, "。") && heading_level(s) == 0 &&
           !is_date_line(s) && !is_attachment_item(s, &name) && !gw_starts_with(s, "附件") &&
           !gw_starts_with(s, "此") && !gw_starts_with(s, "特此") && !gw_starts_with(s, "妥否") &&
           !gw_starts_with(s, "当否") && !is_parenthesised(s);
}

/* Take the note, the date and the signature from the end of rest[0..*n). */
static bool parse_tail(struct parser *p, const struct src_line **rest, int *n)
{
    struct gw_doc *d = p->doc;
    int i = *n - 1;
    if (i >= 1 && is_parenthesised(rest[i]->s) && is_date_line(rest[i - 1]->s) && !d->note.s) {
        char *t = value_copy(rest[i]->s, false, true);
        bool ok = t && set_norm(p, &d->note, t, rest[i]->no);
        free(t);
        if (!ok)
            return t ? false : gw_fail(p->err, "%s: out of memory", p->source);
        i--;
    }
    if (i >= 0 && is_date_line(rest[i]->s) && !d->date.s) {
        if (!set_text(p, &d->date, rest[i]->s, rest[i]->no))
            return false;
        i--;
    }
    int first = i + 1;
    while (first - 1 >= 0 && i - (first - 1) < 3 && is_signature_shape(rest[first - 1]->s))
        first--;
    /* A lone heading-free short line right after the body is a signature only
     * when the line before it ends a sentence or it is followed by the date. */
    if (first <= i && !d->signature.s) {
        size_t total = 0;
        for (int k = first; k <= i; k++)
            total += strlen(rest[k]->s) + 1;
        char *sig = malloc(total + 1);
        if (!sig)
            return gw_fail(p->err, "%s: out of memory", p->source);
        sig[0] = '\0';
        for (int k = first; k <= i; k++) {
            if (k > first)
                strcat(sig, "\n");
            strcat(sig, rest[k]->s);
        }
        bool ok = set_text(p, &d->signature, sig, rest[first]->no);
        free(sig);
        if (!ok)
            return false;
        i = first - 1;
    }
    *n = i + 1;
    return true;
}

/* Add one attachment of the 附件说明 from its name as written ("XX表。"). */
static bool add_listed_attachment(struct parser *p, const char *name, int line)
{
    char *t = strip_final_punct(name);
    char *norm = t ? gw_fullwidth_punct(t) : NULL;
    bool ok = norm && gw_doc_add_attachment(p->doc, norm, line);
    free(t);
    free(norm);
    return ok ? true : gw_fail(p->err, "%s: out of memory", p->source);
}

/* The body proper: paragraphs, headings and the 附件说明. */
static bool parse_body(struct parser *p, const struct src_line **rest, int n)
{
    struct gw_doc *d = p->doc;
    bool in_list = false;
    for (int i = 0; i < n; i++) {
        const char *s = rest[i]->s, *r;
        if (is_attachment_list(s, &r)) {
            in_list = true;
            const char *name = r;
            is_attachment_item(r, &name);
            if (*name && !add_listed_attachment(p, name, rest[i]->no))
                return false;
            continue;
        }
        if (in_list && is_attachment_item(s, &r)) {
            if (!add_listed_attachment(p, r, rest[i]->no))
                return false;
            continue;
        }
        in_list = false;
        if (!add_block(p, &d->body, &d->n_body, s, rest[i]->no))
            return false;
    }
    return true;
}

/* Kinds that address no one in particular and so carry no 主送 (公告, 通告,
 * 纪要, 公报, 命令, 决议); the kind comes from 文种： or else from the title. */
static bool kind_has_no_recipients(const struct gw_doc *d)
{
    enum gw_kind k = d->kind != GW_KIND_UNKNOWN ? d->kind : kind_of_line(d->title.s);
    switch (k) {
    case GW_KIND_GONGGAO:
    case GW_KIND_TONGGAO:
    case GW_KIND_JIYAO:
    case GW_KIND_GONGBAO:
    case GW_KIND_MINGLING:
    case GW_KIND_JUEYI:
        return true;
    default:
        return false;
    }
}

/* A bare list of addressees ending in ：, "全市各单位、广大市民：": nothing before
 * the colon but names, 、 and brackets ("各县（市、区）"), no 的 ("普查的主要数据："
 * introduces text), and the shape of addressees: a list (、), "各…", or a
 * name ending like a body or a public (单位, 政府, 市民...). */
static bool is_bare_name_list(const char *s)
{
    static const char *const marks[] = {"，", "；", "！", "？", ",", ";", "“", "\"", "的"};
    static const char *const ends[] = {"单位", "部门", "政府", "机关", "机构", "市民", "居民",
                                       "群众", "同志", "委员会", "企业", "学校", "局", "厅",
                                       "委", "办", "院", "公司"};
    char *t = strip_final_punct(s);
    if (!t)
        return false;
    bool bare = u8_count(t) <= 60;
    for (size_t i = 0; bare && i < sizeof marks / sizeof *marks; i++)
        bare = !strstr(t, marks[i]);
    bool addressed = gw_starts_with(t, "各") || strstr(t, "、");
    for (size_t i = 0; !addressed && i < sizeof ends / sizeof *ends; i++)
        addressed = gw_ends_with(t, ends[i]);
    free(t);
    return bare && addressed;
}

/* The first line after the title is the 主送 when it ends in ： and is not a
 * body sentence that introduces a list: never with "如下" ("现就有关事项通知如下："),
 * never in a 纪要 ("会议议定事项："), and in the other kinds without 主送 only
 * when it is a bare list of names, so that the check can still flag a 通告
 * written with a 主送. */
static bool is_recipient_line(const struct gw_doc *d, const char *s)
{
    if (!ends_in_colon(s) || heading_level(s) > 0 || strstr(s, "。") || strstr(s, "如下") ||
        gw_starts_with(s, "附件"))
        return false;
    bool minutes = d->kind == GW_KIND_JIYAO || kind_of_line(d->title.s) == GW_KIND_JIYAO;
    if (minutes)
        return false;
    return !kind_has_no_recipients(d) || is_bare_name_list(s);
}

/* The main part between the title and the first attachment page. */
static bool parse_main(struct parser *p, int from, int to)
{
    struct gw_doc *d = p->doc;
    const struct src_line **rest = calloc((size_t)(to - from + 1), sizeof *rest);
    if (!rest)
        return gw_fail(p->err, "%s: out of memory", p->source);
    int n = 0;
    bool ok = true;
    for (int i = from; i < to && ok; i++) {
        bool taken;
        ok = take_tail_label(p, &p->lines[i], &taken);
        if (ok && !taken)
            rest[n++] = &p->lines[i];
    }
    int skip = 0;
    if (ok && n > 0 && !d->recipients.s && is_recipient_line(d, rest[0]->s)) {
        ok = apply_label(p, F_RECIP, rest[0]->s, rest[0]->no);
        skip = 1;
    }
    n -= skip;
    ok = ok && parse_tail(p, rest + skip, &n) && parse_body(p, rest + skip, n);
    free(rest);
    return ok;
}

/* The attachment pages from line `from` on. */
static bool parse_pages(struct parser *p, int from)
{
    struct gw_doc *d = p->doc;
    int cur = -1, n_pages = 0;
    bool want_title = false, created = false;
    for (int i = from; i < p->n_lines; i++) {
        const struct src_line *l = &p->lines[i];
        bool taken;
        int num;
        if (!take_tail_label(p, l, &taken))
            return false;
        if (taken)
            continue;
        if (is_attachment_page_head(l->s, &num)) {
            n_pages++;
            cur = (num > 0 ? num : n_pages) - 1;
            created = false;
            while (cur >= d->n_attachments) {
                if (!gw_doc_add_attachment(d, "", 0))
                    return gw_fail(p->err, "%s: out of memory", p->source);
                created = true;
            }
            want_title = true;
            continue;
        }
        struct gw_attachment *a = &d->attachments[cur];
        if (want_title) {
            if (!set_norm(p, &a->title, l->s, l->no))
                return false;
            if (created && !set_norm(p, &a->name, l->s, 0))
                return false;
            want_title = false;
            continue;
        }
        if (!add_block(p, &a->blocks, &a->n_blocks, l->s, l->no))
            return false;
    }
    return true;
}

/* ---- gw_parse_text ------------------------------------------------------------------------ */

static bool check_input(const char *text, size_t len, const char *source, struct gw_err *err)
{
    const void *nul = memchr(text, '\0', len);
    if (nul)
        return gw_fail(err, "%s: binary data (a NUL byte at offset %zu), not a text draft",
                       source, (size_t)((const char *)nul - text));
    int line = 1;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = utf8_decode((const unsigned char *)text + i, len - i, &cp);
        if (k <= 0)
            return gw_fail(err, "%s: not UTF-8 text (invalid byte 0x%02X on line %d)", source,
                           (unsigned char)text[i], line);
        line += cp == '\n';
        i += (size_t)k;
    }
    return true;
}

static bool parse_lines(struct parser *p)
{
    if (p->n_lines == 0)
        return gw_fail(p->err, "%s: empty draft (no text)", p->source);
    int after_title = parse_head(p);
    if (after_title < 0)
        return false;
    int pages = p->n_lines, num;
    for (int i = after_title; i < p->n_lines; i++)
        if (is_attachment_page_head(p->lines[i].s, &num)) {
            pages = i;
            break;
        }
    if (!parse_main(p, after_title, pages) || !parse_pages(p, pages))
        return false;
    struct gw_doc *d = p->doc;
    if (d->kind == GW_KIND_UNKNOWN)
        d->kind = kind_of_line(d->title.s);
    if (!d->format_overridden)
        d->format = gw_kind_format(d->kind);
    /* A plain draft names its issuer only in the signature. */
    if (d->n_issuers == 0 && d->signature.s)
        return add_names(p, &d->issuers, &d->n_issuers, d->signature.s, d->signature.line);
    return true;
}

bool gw_parse_text(const char *text, size_t len, const char *source, struct gw_doc **out,
                   struct gw_err *err)
{
    *out = NULL;
    if (!source)
        source = "draft";
    if (!check_input(text, len, source, err))
        return false;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3, len -= 3; /* a byte-order mark */
    char *buf = malloc(len + 1);
    struct parser p = {.doc = gw_doc_new(), .source = source, .err = err};
    bool ok = buf && p.doc;
    if (!ok) {
        gw_fail(err, "%s: out of memory", source);
    } else {
        memcpy(buf, text, len);
        buf[len] = '\0';
        ok = split_lines(&p, buf) && parse_lines(&p);
    }
    free(p.lines);
    free(buf);
    if (!ok) {
        gw_doc_free(&p.doc);
        return false;
    }
    *out = p.doc;
    return true;
}
