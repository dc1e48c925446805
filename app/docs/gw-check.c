/* gw-check.c: the format check of a 公文 (gw-check.h), rule by rule, as a 文秘
 * reviewer reads a draft against GB/T 9704-2012, GB/T 15834 (punctuation) and
 * 《党政机关公文处理工作条例》.
 *
 * Rules (stable ids; E = error, W = warning):
 *   版头  doc-number-brackets E, doc-number-di E, doc-number-leading-zero E,
 *         doc-number-year E, copy-number-format E, secret-copy-number E,
 *         secrecy-format E, urgency-value E, upward-no-signer E
 *   标题  missing-title E, title-punctuation E, title-kind E, qingshi-baogao E
 *   主送  missing-recipients E (通知: W), qingshi-multiple-recipients E,
 *         recipients-too-long E, tonggao-recipients W
 *   正文  heading-sequence E (one level skipped under 一、: W), heading-number-form W,
 *         closing-formula E (请示) / W, qingshi-multiple-matters E, baogao-request E,
 *         mixed-punctuation E, standard-nonexistent E
 *   附件  attachment-punctuation E, attachment-unlisted E
 *   落款  missing-signature E, missing-date E, date-format E, qingshi-no-contact E
 *   版记  cc-ending E, print-date-format E
 * Checks on the text as written (punctuation, the 附件说明 and 抄送 lines) read
 * the source lines; the rest read the document model.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-check.h"
#include "gw-text.h"

struct checker {
    const struct gw_doc *doc;
    char **src;              /* [n_src] source lines (index = line - 1), owned */
    int n_src;
    struct gw_issue *issues; /* [n_issues], capacity cap */
    int n_issues, cap;
    bool oom;
};

const char *gw_severity_name(enum gw_severity severity)
{
    return severity == GW_SEVERITY_ERROR ? "错误" : "提示";
}

static void add_issue(struct checker *c, enum gw_severity sev, int line, const char *rule,
                      const char *fix, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void add_issue(struct checker *c, enum gw_severity sev, int line, const char *rule,
                      const char *fix, const char *fmt, ...)
{
    if (c->n_issues == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        struct gw_issue *grown = realloc(c->issues, sizeof *grown * (size_t)cap);
        if (!grown) {
            c->oom = true;
            return;
        }
        c->issues = grown;
        c->cap = cap;
    }
    struct gw_issue *is = &c->issues[c->n_issues++];
    memset(is, 0, sizeof *is);
    is->severity = sev;
    is->line = line;
    snprintf(is->rule, sizeof is->rule, "%s", rule);
    snprintf(is->fix, sizeof is->fix, "%s", fix);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(is->message, sizeof is->message, fmt, ap);
    va_end(ap);
}

/* ---- small text helpers ----------------------------------------------------------------- */

static bool contains_any(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(s, list[i]))
            return true;
    return false;
}

#define CONTAINS_ANY(s, list) contains_any((s), (list), sizeof(list) / sizeof((list)[0]))

/* The value of a Chinese numeral 一…九十九 at s; *len gets its bytes (0: none). */
static int han_number(const char *s, size_t *len)
{
    static const char *const digits[] = {"零", "一", "二", "三", "四", "五", "六", "七", "八", "九"};
    int value = 0, cur = -1;
    size_t n = 0;
    for (;;) {
        int d = -1;
        for (int k = 0; k < 10; k++)
            if (gw_starts_with(s + n, digits[k]))
                d = k;
        if (d >= 0) {
            cur = d;
            n += 3;
        } else if (gw_starts_with(s + n, "十")) {
            value += (cur > 0 ? cur : 1) * 10;
            cur = -1;
            n += 3;
        } else {
            break;
        }
    }
    *len = n;
    return n ? value + (cur > 0 ? cur : 0) : 0;
}

/* At most 40 characters of s, cut between code points ("…" marks a cut), in buf. */
static const char *clip(const char *s, char *buf, size_t size)
{
    size_t n = 0;
    int chars = 0;
    while (s[n] && chars < 40) {
        size_t k = 1;
        while (((unsigned char)s[n + k] & 0xC0) == 0x80)
            k++;
        if (n + k + 4 > size)
            break;
        n += k;
        chars++;
    }
    memcpy(buf, s, n);
    strcpy(buf + n, s[n] ? "…" : "");
    return buf;
}

/* The text of s around byte at (up to 12 characters before and 8 after), in
 * buf (at least 80 bytes). */
static const char *near(const char *s, size_t at, char *buf, size_t size)
{
    size_t start = at, end = at + 1;
    for (int chars = 0; start > 0 && chars < 12; chars++) {
        start--;
        while (start > 0 && ((unsigned char)s[start] & 0xC0) == 0x80)
            start--;
    }
    for (int chars = 0; s[end] && chars < 8; chars++) {
        end++;
        while (((unsigned char)s[end] & 0xC0) == 0x80)
            end++;
    }
    if (end - start + 8 > 80 || end - start + 8 > size)
        start = at, end = at + 1;
    snprintf(buf, 80, "%s%.*s%s", start > 0 ? "…" : "", (int)(end - start), s + start,
             s[end] ? "…" : "");
    return buf;
}

/* The source line `line` (1-based), or NULL. */
static const char *src_line(const struct checker *c, int line)
{
    return line >= 1 && line <= c->n_src ? c->src[line - 1] : NULL;
}

/* ---- 版头 --------------------------------------------------------------------------------- */

static void check_doc_number(struct checker *c)
{
    const struct gw_text *t = &c->doc->doc_number;
    /* 令号 is "第N号" by rule, and a 纪要's number is its issue ("第12期"). */
    if (!t->s || c->doc->kind == GW_KIND_MINGLING || c->doc->kind == GW_KIND_JIYAO)
        return;
    static const char *const wrong[] = {"[", "]", "(", ")", "（", "）", "【", "】",
                                        "［", "］", "〈", "〉", "<", ">", "{", "}"};
    if (CONTAINS_ANY(t->s, wrong))
        add_issue(c, GW_SEVERITY_ERROR, t->line, "doc-number-brackets",
                  "年份用六角括号〔〕括入，如“X政发〔2025〕3号”",
                  "发文字号“%s”的年份未使用六角括号〔〕", t->s);
    if (strstr(t->s, "第"))
        add_issue(c, GW_SEVERITY_ERROR, t->line, "doc-number-di", "删去“第”字，如“〔2025〕3号”",
                  "发文字号“%s”的序号前加了“第”字", t->s);
    /* The year: the digits after the opening bracket. */
    static const char *const opens[] = {"〔", "[", "(", "（", "【", "［"};
    static const char *const closes[] = {"〕", "]", ")", "）", "】", "］"};
    for (size_t k = 0; k < sizeof opens / sizeof opens[0]; k++) {
        const char *o = strstr(t->s, opens[k]);
        if (!o)
            continue;
        o += strlen(opens[k]);
        size_t y = gw_digit_len(o);
        if (y != 4 && gw_starts_with(o + y, closes[k]))
            add_issue(c, GW_SEVERITY_ERROR, t->line, "doc-number-year",
                      "年份写全称，如“〔2025〕”", "发文字号“%s”的年份不是四位全称", t->s);
        break;
    }
    /* The sequence number: the digits after the closing bracket (and a 第). */
    for (size_t k = 0; k < sizeof closes / sizeof closes[0]; k++) {
        const char *r = strstr(t->s, closes[k]);
        if (!r)
            continue;
        r += strlen(closes[k]);
        if (gw_starts_with(r, "第"))
            r += strlen("第");
        if (r[0] == '0' && gw_digit_len(r) >= 1)
            add_issue(c, GW_SEVERITY_ERROR, t->line, "doc-number-leading-zero",
                      "序号不编虚位，如“3号”而不是“03号”", "发文字号“%s”的序号前加了0", t->s);
        break;
    }
}

static void check_header(struct checker *c)
{
    const struct gw_doc *d = c->doc;
    check_doc_number(c);
    if (d->copy_number.s &&
        (gw_digit_len(d->copy_number.s) != 6 || d->copy_number.s[6] != '\0'))
        add_issue(c, GW_SEVERITY_ERROR, d->copy_number.line, "copy-number-format",
                  "份号用6位阿拉伯数字，如“000123”", "份号“%s”不是6位阿拉伯数字",
                  d->copy_number.s);
    if (d->secrecy.s) {
        const char *s = d->secrecy.s;
        bool level = gw_starts_with(s, "绝密") || gw_starts_with(s, "机密") || gw_starts_with(s, "秘密");
        bool tail_ok = strlen(s) == strlen("机密") || gw_starts_with(s + strlen("机密"), "★");
        if (!level || !tail_ok)
            add_issue(c, GW_SEVERITY_ERROR, d->secrecy.line, "secrecy-format",
                      "密级写“绝密”“机密”或“秘密”，保密期限用“★”隔开，如“机密★1年”",
                      "密级和保密期限“%s”不规范", s);
        if (!d->copy_number.s)
            add_issue(c, GW_SEVERITY_ERROR, d->secrecy.line, "secret-copy-number",
                      "在版头左上角第一行标注6位份号", "涉密公文未标注份号");
    }
    if (d->urgency.s && strcmp(d->urgency.s, "特急") != 0 && strcmp(d->urgency.s, "加急") != 0)
        add_issue(c, GW_SEVERITY_ERROR, d->urgency.line, "urgency-value",
                  "紧急程度只标“特急”或“加急”", "紧急程度“%s”不是“特急”或“加急”",
                  d->urgency.s);
    if (gw_kind_is_upward(d->kind) && d->doc_number.s && d->n_signers == 0)
        add_issue(c, GW_SEVERITY_ERROR, d->doc_number.line, "upward-no-signer",
                  "上行文在发文字号右侧标注“签发人：姓名”",
                  "%s是上行文，版头缺少签发人", gw_kind_name(d->kind));
}

/* ---- 标题与主送 ----------------------------------------------------------------------------- */

static void check_title(struct checker *c)
{
    const struct gw_doc *d = c->doc;
    const struct gw_text *t = &d->title;
    if (!t->s || !*t->s) {
        add_issue(c, GW_SEVERITY_ERROR, 0, "missing-title",
                  "补写标题，一般为“发文机关+关于+事由+文种”", "公文缺少标题");
        return;
    }
    if (gw_ends_in_punct(t->s))
        add_issue(c, GW_SEVERITY_ERROR, t->line, "title-punctuation", "删去标题末尾的标点符号",
                  "标题“%s”末尾带有标点符号", t->s);
    bool kind_line = false;
    for (int i = 0; i < c->n_src; i++)
        if ((gw_starts_with(c->src[i], "文种：") || gw_starts_with(c->src[i], "文种:")) &&
            strstr(c->src[i], "请示报告"))
            kind_line = true;
    if (strstr(t->s, "请示报告") || kind_line)
        add_issue(c, GW_SEVERITY_ERROR, t->line, "qingshi-baogao",
                  "请示与报告不能混用：请求批准用“请示”，汇报工作用“报告”",
                  "文种写成了“请示报告”");
    else if (d->kind == GW_KIND_UNKNOWN)
        add_issue(c, GW_SEVERITY_ERROR, t->line, "title-kind",
                  "标题以文种结尾，如“关于…的通知”", "标题“%s”没有标明文种", t->s);
}

/* Lines the 主送 takes on page 1 after the header and the title, by the 22 x
 * 28 grid: the header block's lines by format, the title at about 20 二号
 * characters a line, a blank line, the 主送 at 28 characters a line. */
static void check_recipients_length(struct checker *c)
{
    const struct gw_doc *d = c->doc;
    static const int header_lines[] = {
        [GW_FORMAT_ORDINARY] = 11, /* 35 mm + 标志 + 2 blank + 字号 + rule + 2 blank */
        [GW_FORMAT_LETTER] = 6,    /* 标志 at 30 mm from the page top, double rule, 字号 */
        [GW_FORMAT_ORDER] = 9,     /* 20 mm + 标志 + 2 blank + 令号 + 2 blank */
        [GW_FORMAT_MINUTES] = 8,   /* 35 mm + 标志 + rule */
    };
    int title_lines = d->title.s ? (gw_u8_count(d->title.s) + 19) / 20 : 0;
    int recip_lines = (gw_u8_count(d->recipients.s) + 1 + 27) / 28; /* + the colon */
    int used = header_lines[d->format] + title_lines + 1 + recip_lines;
    if (used + 1 > 22)
        add_issue(c, GW_SEVERITY_ERROR, d->recipients.line, "recipients-too-long",
                  "主送机关过多时移至版记，以“主送：”标注在抄送之上",
                  "主送机关占%d行，首页已排不下正文（估算共需%d行，每页22行）", recip_lines,
                  used + 1);
}

static void check_recipients(struct checker *c)
{
    const struct gw_doc *d = c->doc;
    const struct gw_text *r = &d->recipients;
    enum gw_kind k = d->kind;
    bool needs = k == GW_KIND_QINGSHI || k == GW_KIND_BAOGAO || k == GW_KIND_HAN ||
                 k == GW_KIND_PIFU;
    if (!r->s) {
        /* A 通知 goes to named recipients (a 通告 is the one for the public). */
        if (needs || k == GW_KIND_TONGZHI)
            add_issue(c, needs ? GW_SEVERITY_ERROR : GW_SEVERITY_WARNING, d->title.line,
                      "missing-recipients", "在标题下空一行顶格写主送机关，以全角冒号结尾",
                      "%s缺少主送机关", gw_kind_name(k));
        return;
    }
    static const char *const seps[] = {"、", "，", ",", "；", ";"};
    if (k == GW_KIND_QINGSHI && CONTAINS_ANY(r->s, seps))
        add_issue(c, GW_SEVERITY_ERROR, r->line, "qingshi-multiple-recipients",
                  "请示只主送一个上级机关，需要其他机关知悉的用抄送",
                  "请示主送了多个机关：%s", r->s);
    if (k == GW_KIND_TONGGAO)
        add_issue(c, GW_SEVERITY_WARNING, r->line, "tonggao-recipients",
                  "通告面向社会公布，一般不写主送机关；对特定机关行文用通知",
                  "通告写了主送机关“%s”", r->s);
    check_recipients_length(c);
}

/* ---- 正文 ---------------------------------------------------------------------------------- */

/* The number of a heading and whether its form is the standard one. */
static int heading_number(const struct gw_block *b, bool *form_ok)
{
    const char *s = b->text.s;
    size_t n = 0;
    int v = 0;
    *form_ok = true;
    switch (b->type) {
    case GW_BLOCK_HEADING1:
        v = han_number(s, &n);
        *form_ok = gw_starts_with(s + n, "、");
        break;
    case GW_BLOCK_HEADING2:
    case GW_BLOCK_HEADING4: {
        const char *o = gw_starts_with(s, "（") ? s + 3 : s + 1;
        if (b->type == GW_BLOCK_HEADING2) {
            v = han_number(o, &n);
        } else {
            n = gw_digit_len(o);
            v = atoi(o);
        }
        *form_ok = gw_starts_with(s, "（") && gw_starts_with(o + n, "）");
        break;
    }
    case GW_BLOCK_HEADING3:
        n = gw_digit_len(s);
        v = atoi(s);
        *form_ok = s[n] == '.';
        break;
    default: break;
    }
    return v;
}

static const char *const level_forms[] = {"", "一、", "（一）", "1.", "（1）"};

/* The heading levels of one sequence of blocks (the body or one attachment). */
static void check_headings(struct checker *c, const struct gw_block *blocks, int n)
{
    int counters[5] = {0}; /* [level] the last number seen at each level */
    int depth = 0;         /* the deepest level now open */
    char cut[160];
    for (int i = 0; i < n; i++) {
        const struct gw_block *b = &blocks[i];
        if (b->type == GW_BLOCK_PARA)
            continue;
        int level = (int)b->type - (int)GW_BLOCK_HEADING1 + 1;
        bool form_ok;
        int num = heading_number(b, &form_ok);
        if (!form_ok)
            add_issue(c, GW_SEVERITY_WARNING, b->text.line, "heading-number-form",
                      "结构层次序数依次写作“一、”“（一）”“1.”“（1）”",
                      "“%s”是第%d层标题，序号应写作“%s”的形式", clip(b->text.s, cut, sizeof cut), level,
                      level_forms[level]);
        if (level > depth + 1) {
            /* "一、" then "1." is common in short documents: a reviewer asks;
             * no "一、" at all, or two levels skipped, is an error. */
            bool one_skip = depth >= 1 && level == depth + 2;
            add_issue(c, one_skip ? GW_SEVERITY_WARNING : GW_SEVERITY_ERROR, b->text.line,
                      "heading-sequence", "结构层次依次为“一、”“（一）”“1.”“（1）”，不宜越级",
                      "“%s”越级使用了第%d层序号（上一层级为第%d层）", clip(b->text.s, cut, sizeof cut), level, depth);
        } else if (num != counters[level] + 1) {
            add_issue(c, GW_SEVERITY_ERROR, b->text.line, "heading-sequence",
                      "同一层级的序号应从1开始连续编排", "“%s”的序号不连续：应为第%d个，写作%d",
                      clip(b->text.s, cut, sizeof cut), counters[level] + 1, num);
        }
        counters[level] = num;
        for (int k = level + 1; k <= 4; k++)
            counters[k] = 0;
        depth = level;
    }
}

/* The last few paragraphs of the body joined: where the closing formula sits. */
static bool tail_contains(const struct gw_doc *d, const char *const *list, size_t n)
{
    int seen = 0;
    for (int i = d->n_body - 1; i >= 0 && seen < 2; i--) {
        if (d->body[i].type != GW_BLOCK_PARA)
            continue;
        seen++;
        if (contains_any(d->body[i].text.s, list, n))
            return true;
    }
    return false;
}

static void check_closing(struct checker *c)
{
    const struct gw_doc *d = c->doc;
    static const char *const qingshi[] = {"请批示", "请予批示", "请批复", "请予批复", "请审批",
                                          "请予审批", "请审示", "请予批准", "请批准", "请审定",
                                          "请予审定"};
    static const char *const baogao[] = {"特此报告", "专此报告"};
    static const char *const han[] = {"此函", "此复", "盼复", "函复", "复函"};
    static const char *const pifu[] = {"此复", "特此批复"};
    const char *const *list;
    size_t n;
    enum gw_severity sev = GW_SEVERITY_WARNING;
    switch (d->kind) {
    case GW_KIND_QINGSHI: list = qingshi, n = 11, sev = GW_SEVERITY_ERROR; break;
    case GW_KIND_BAOGAO: list = baogao, n = 2; break;
    case GW_KIND_HAN: list = han, n = 5; break;
    case GW_KIND_PIFU: list = pifu, n = 2; break;
    default: return;
    }
    if (d->n_body == 0 || !tail_contains(d, list, n)) {
        int line = d->n_body ? d->body[d->n_body - 1].text.line : d->title.line;
        char fix[128];
        snprintf(fix, sizeof fix, "正文末尾另起一段写结束语“%s”", gw_kind_closing(d->kind));
        add_issue(c, sev, line, "closing-formula", fix, "%s缺少规范的结束语（如“%s”）",
                  gw_kind_name(d->kind), gw_kind_closing(d->kind));
    }
}

static const char *const request_words[] = {"请批准", "请予批准", "请审批", "请予审批",
                                            "请求批准", "恳请批准", "请予解决", "恳请解决"};

static void check_qingshi_matters(struct checker *c)
{
    const struct gw_doc *d = c->doc;
    int n_requests = 0, n_apply_headings = 0, first_line = 0;
    for (int i = 0; i < d->n_body; i++) {
        const struct gw_block *b = &d->body[i];
        bool is_last = i == d->n_body - 1;
        if (b->type == GW_BLOCK_HEADING1 && (strstr(b->text.s, "申请") || strstr(b->text.s, "请求")))
            n_apply_headings++;
        if (!is_last && CONTAINS_ANY(b->text.s, request_words)) {
            if (!first_line)
                first_line = b->text.line;
            n_requests++;
        }
    }
    static const char *const several[] = {"等事项", "等问题", "几个问题", "若干问题", "几个事项"};
    bool title_several = d->title.s && CONTAINS_ANY(d->title.s, several);
    if (n_requests >= 2 || n_apply_headings >= 2 || title_several)
        add_issue(c, GW_SEVERITY_ERROR, title_several ? d->title.line : first_line,
                  "qingshi-multiple-matters", "请示应一文一事，把各事项分别行文请示",
                  "请示中包含多个请求事项（%d处请求）", n_requests > 1 ? n_requests : 2);
}

static void check_kind_rules(struct checker *c)
{
    const struct gw_doc *d = c->doc;
    if (d->kind == GW_KIND_QINGSHI) {
        check_qingshi_matters(c);
        bool contact = d->note.s && strstr(d->note.s, "联系人") &&
                       (strstr(d->note.s, "电话") || strstr(d->note.s, "手机"));
        if (!contact)
            add_issue(c, GW_SEVERITY_ERROR, d->date.s ? d->date.line : 0, "qingshi-no-contact",
                      "在成文日期下一行加附注，如“（联系人：王五，电话：12345678）”",
                      "请示未在附注中注明联系人和联系电话");
    }
    if (d->kind == GW_KIND_BAOGAO) {
        char cut[160];
        static const char *const asks[] = {"请批示", "请审批", "妥否", "当否", "请批准",
                                           "请予批准", "请予审批", "请批复", "请予批复"};
        for (int i = 0; i < d->n_body; i++)
            if (CONTAINS_ANY(d->body[i].text.s, asks)) {
                add_issue(c, GW_SEVERITY_ERROR, d->body[i].text.line, "baogao-request",
                          "报告中不得夹带请示事项；需要批准的事项另行请示",
                          "报告中夹带了请示事项：“%s”",
                          clip(d->body[i].text.s, cut, sizeof cut));
                break;
            }
    }
}

/* A cited GB/T 9704 year other than 2012 (and the replaced 1999). */
static void check_standard_in(struct checker *c, const char *s, int line)
{
    for (const char *p = strstr(s, "9704"); p; p = strstr(p + 4, "9704")) {
        const char *r = p + 4;
        while (*r == ' ' || *r == '-')
            r++;
        while (gw_starts_with(r, "—") || gw_starts_with(r, "－") || gw_starts_with(r, "–"))
            r += 3;
        if (gw_digit_len(r) != 4 || r == p + 4)
            continue;
        if (strncmp(r, "2012", 4) != 0 && strncmp(r, "1999", 4) != 0)
            add_issue(c, GW_SEVERITY_ERROR, line, "standard-nonexistent",
                      "现行标准为GB/T 9704—2012《党政机关公文格式》",
                      "引用了不存在的标准版本“9704-%.4s”", r);
    }
}

static void check_standard(struct checker *c)
{
    const struct gw_doc *d = c->doc;
    if (c->n_src > 0) {
        for (int i = 0; i < c->n_src; i++)
            check_standard_in(c, c->src[i], i + 1);
        return;
    }
    if (d->title.s)
        check_standard_in(c, d->title.s, d->title.line);
    for (int i = 0; i < d->n_body; i++)
        check_standard_in(c, d->body[i].text.s, d->body[i].text.line);
}

/* Half-width punctuation in Chinese text: the lines the normaliser would change. */
static void check_mixed(struct checker *c)
{
    const struct gw_doc *d = c->doc;
    bool in_comment = false;
    char cut[160];
    for (int i = 0; i < c->n_src; i++) {
        const char *s = c->src[i];
        while (*s == ' ' || *s == '\t')
            s++;
        if (in_comment || gw_starts_with(s, "<!--")) {
            in_comment = strstr(s, "-->") == NULL;
            continue;
        }
        if (i + 1 == d->doc_number.line) /* doc-number-brackets reports it */
            continue;
        char *line = strdup(s);
        if (!line) {
            c->oom = true;
            return;
        }
        if (gw_starts_with(line, "附件:")) /* attachment-punctuation reports it */
            line[strlen("附件")] = ' ';
        char *norm = gw_fullwidth_punct(line);
        if (!norm) {
            c->oom = true;
            free(line);
            return;
        }
        size_t at = 0;
        while (line[at] && line[at] == norm[at])
            at++;
        while (line[at] == ' ') /* a dropped blank before the mark */
            at++;
        if (line[at])
            add_issue(c, GW_SEVERITY_ERROR, i + 1, "mixed-punctuation",
                      "中文文本使用全角标点：，。：；？！（）“”",
                      "中文文本中混用了半角标点“%c”：“%s”", line[at],
                      clip(near(line, at, cut, sizeof cut), cut + 80, sizeof cut - 80));
        free(norm);
        free(line);
    }
}

static void check_body(struct checker *c)
{
    const struct gw_doc *d = c->doc;
    check_headings(c, d->body, d->n_body);
    for (int i = 0; i < d->n_attachments; i++)
        check_headings(c, d->attachments[i].blocks, d->attachments[i].n_blocks);
    check_closing(c);
    check_kind_rules(c);
    check_standard(c);
    check_mixed(c);
}

/* ---- 附件 ---------------------------------------------------------------------------------- */

static void check_attachments(struct checker *c)
{
    const struct gw_doc *d = c->doc;
    for (int i = 0; i < d->n_attachments; i++) {
        const struct gw_attachment *a = &d->attachments[i];
        if (a->name.line == 0) {
            add_issue(c, GW_SEVERITY_ERROR, a->title.line, "attachment-unlisted",
                      "在正文之后的附件说明中列出该附件", "附件%d“%s”未在附件说明中列出", i + 1,
                      a->title.s ? a->title.s : "");
            continue;
        }
        const char *s = src_line(c, a->name.line);
        if (!s)
            continue;
        if (gw_starts_with(s, "附件:"))
            add_issue(c, GW_SEVERITY_ERROR, a->name.line, "attachment-punctuation",
                      "写作“附件：”（全角冒号）", "附件说明使用了半角冒号");
        const char *item = s;
        if (gw_starts_with(item, "附件:") || gw_starts_with(item, "附件："))
            item += gw_starts_with(item, "附件:") ? strlen("附件:") : strlen("附件：");
        size_t dl = gw_digit_len(item);
        if (dl > 0 && gw_starts_with(item + dl, "、"))
            add_issue(c, GW_SEVERITY_ERROR, a->name.line, "attachment-punctuation",
                      "附件序号写作“1.”", "附件序号“%.*s、”应使用“.”", (int)dl, item);
        if (gw_ends_in_punct(s))
            add_issue(c, GW_SEVERITY_ERROR, a->name.line, "attachment-punctuation",
                      "删去附件名称后的标点符号", "附件名称“%s”后加了标点符号", a->name.s);
    }
}

/* ---- 落款、日期、版记 -------------------------------------------------------------------------- */

/* What is wrong with a date written as s, or NULL when it is 2025年3月18日. */
static const char *date_problem(const char *s)
{
    static const char *const han[] = {"〇", "零", "一", "二", "三", "四", "五", "六", "七",
                                      "八", "九", "十"};
    if (CONTAINS_ANY(s, han))
        return "使用了汉字数字";
    if (strchr(s, '-') || strchr(s, '.') || strchr(s, '/'))
        return "使用了“-”“.”或“/”分隔";
    size_t y = gw_digit_len(s);
    if (y != 4 || !gw_starts_with(s + y, "年"))
        return "年份不是四位全称";
    const char *m = s + y + strlen("年");
    size_t ml = gw_digit_len(m);
    if (ml == 0 || !gw_starts_with(m + ml, "月"))
        return "缺少月份";
    const char *dd = m + ml + strlen("月");
    size_t dl = gw_digit_len(dd);
    if (dl == 0 || strcmp(dd + dl, "日") != 0)
        return "缺少日";
    if (m[0] == '0' || dd[0] == '0')
        return "月、日前加了“0”";
    int month = atoi(m), day = atoi(dd);
    if (ml > 2 || dl > 2 || month < 1 || month > 12 || day < 1 || day > 31)
        return "月或日超出范围";
    return NULL;
}

static void check_tail(struct checker *c)
{
    const struct gw_doc *d = c->doc;
    enum gw_kind k = d->kind;
    bool needs_signature = k != GW_KIND_JIYAO && k != GW_KIND_JUEYI && k != GW_KIND_GONGBAO;
    int end_line = d->n_body ? d->body[d->n_body - 1].text.line : d->title.line;
    if (!d->signature.s && needs_signature)
        add_issue(c, GW_SEVERITY_ERROR, end_line, "missing-signature",
                  "在正文（或附件说明）下空一行右空二字标注发文机关署名", "%s缺少发文机关署名",
                  gw_kind_name(k));
    if (!d->date.s && k != GW_KIND_JIYAO)
        add_issue(c, GW_SEVERITY_ERROR, end_line, "missing-date",
                  "在署名下一行标注成文日期，如“2025年3月18日”", "公文缺少成文日期");
    const char *why = d->date.s ? date_problem(d->date.s) : NULL;
    if (why)
        add_issue(c, GW_SEVERITY_ERROR, d->date.line, "date-format",
                  "用阿拉伯数字将年、月、日标全，年份写全称，月、日不编虚位，如“2025年3月18日”",
                  "成文日期“%s”%s", d->date.s, why);
    why = d->print_date.s ? date_problem(d->print_date.s) : NULL;
    if (why)
        add_issue(c, GW_SEVERITY_ERROR, d->print_date.line, "print-date-format",
                  "印发日期写作“2025年3月18日印发”", "印发日期“%s”%s", d->print_date.s, why);
    const char *cc = d->cc.s ? src_line(c, d->cc.line) : NULL;
    if (cc && !gw_ends_with(cc, "。"))
        add_issue(c, GW_SEVERITY_ERROR, d->cc.line, "cc-ending", "最后一个抄送机关名称后标句号",
                  "抄送机关末尾没有句号");
}

/* ---- gw_check -------------------------------------------------------------------------------- */

/* Split source into the checker's lines (trailing \r and blanks dropped). */
static bool split_source(struct checker *c, const char *source, size_t len)
{
    int n = 1;
    for (size_t i = 0; i < len; i++)
        n += source[i] == '\n';
    c->src = calloc((size_t)n, sizeof *c->src);
    if (!c->src)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && source[i] != '\n')
            continue;
        size_t e = i;
        while (e > start && (source[e - 1] == '\r' || source[e - 1] == ' ' || source[e - 1] == '\t'))
            e--;
        c->src[c->n_src] = strndup(source + start, e - start);
        if (!c->src[c->n_src])
            return false;
        c->n_src++;
        start = i + 1;
    }
    return true;
}

/* Issues in source order; the rule order breaks ties (qsort is not stable,
 * so the rule name makes the order the same on every libc). */
static int by_line(const void *a, const void *b)
{
    const struct gw_issue *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return strcmp(x->rule, y->rule);
}

bool gw_check(const struct gw_doc *doc, const char *source, size_t len, struct gw_issue **issues,
              int *n_issues, struct gw_err *err)
{
    struct checker c = {.doc = doc};
    *issues = NULL;
    *n_issues = 0;
    bool ok = !source || split_source(&c, source, len);
    if (ok) {
        check_header(&c);
        check_title(&c);
        check_recipients(&c);
        check_body(&c);
        check_attachments(&c);
        check_tail(&c);
        ok = !c.oom;
    }
    for (int i = 0; i < c.n_src; i++)
        free(c.src[i]);
    free(c.src);
    if (!ok) {
        free(c.issues);
        return gw_fail(err, "format check: out of memory");
    }
    if (c.n_issues > 1)
        qsort(c.issues, (size_t)c.n_issues, sizeof *c.issues, by_line);
    if (c.n_issues == 0) {
        free(c.issues);
        c.issues = NULL;
    }
    *issues = c.issues;
    *n_issues = c.n_issues;
    return true;
}
