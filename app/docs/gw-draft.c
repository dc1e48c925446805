/* gw-draft.c: drafting a 公文 with the model (gw-draft.h). It holds one
 * recipe per kind (purpose from 《党政机关公文处理工作条例》 Art. 8, the body's
 * parts, the title's form, how many 主送), builds the three prompts in
 * Chinese, describes the header's JSON shape for the sampler, reads the
 * model's JSON back with json-glib, and puts the whole draft together in
 * the light Markdown that gw_parse_text() reads. Nothing here runs the
 * model: the CLI (and later the GUI) does, with these strings.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "gw-draft.h"
#include "gw-json.h"
#include "gw-text.h"

/* ---- recipes -------------------------------------------------------------------------------- */

/* Kinds addressed to many: the shape's own cap on 主送 items. */
#define MANY_RECIPIENTS 8

static const struct gw_recipe recipes[GW_KIND_COUNT] = {
    [GW_KIND_JUEYI] = {GW_KIND_JUEYI,
        "决议适用于会议讨论通过的重大决策事项。",
        "先写会议名称、时间和讨论通过的事项及依据，再分条写决议的内容和要求，最后提出号召或执行要求。",
        "关于……的决议", 0},
    [GW_KIND_JUEDING] = {GW_KIND_JUEDING,
        "决定适用于对重要事项作出决策和部署、奖惩有关单位和人员、变更或者撤销下级机关不适当的决定事项。",
        "先写作出决定的缘由和依据，再写决定事项（部署、表彰或处分的具体内容），最后写执行要求或希望号召。",
        "关于……的决定", MANY_RECIPIENTS},
    [GW_KIND_MINGLING] = {GW_KIND_MINGLING,
        "命令（令）适用于公布行政法规和规章、宣布施行重大强制性措施、批准授予和晋升衔级、嘉奖有关单位和人员。",
        "篇幅简短：写明公布或施行的法规规章名称、通过的会议和日期、施行日期，或嘉奖的对象与事由，语气庄重果断。",
        "××市人民政府令", 0},
    [GW_KIND_GONGBAO] = {GW_KIND_GONGBAO,
        "公报适用于公布重要决定或者重大事项。",
        "先概述公布的事项及其背景，再分部分写明具体内容和数据，语言准确客观。",
        "××关于……的公报，或“××公报”", 0},
    [GW_KIND_GONGGAO] = {GW_KIND_GONGGAO,
        "公告适用于向国内外宣布重要事项或者法定事项。",
        "先写发布公告的依据或缘由（第一段以句号结束），再写公告事项，结尾可用“特此公告。”；公告不写主送机关。",
        "关于……的公告", 0},
    [GW_KIND_TONGGAO] = {GW_KIND_TONGGAO,
        "通告适用于在一定范围内公布应当遵守或者周知的事项。",
        "先写明通告的缘由和法律依据（第一段以句号结束，不以冒号结束），再分条写应当遵守或周知的事项，结尾可用“特此通告。”；通告面向社会，不写主送机关。",
        "关于……的通告", 0},
    [GW_KIND_YIJIAN] = {GW_KIND_YIJIAN,
        "意见适用于对重要问题提出见解和处理办法。",
        "先写提出意见的背景、目的和依据，再分层次写总体要求、主要任务或具体措施、保障措施，结尾提出贯彻落实的要求。",
        "关于……的意见", MANY_RECIPIENTS},
    [GW_KIND_TONGZHI] = {GW_KIND_TONGZHI,
        "通知适用于发布、传达要求下级机关执行和有关单位周知或者执行的事项，批转、转发公文。",
        "先写发文的缘由、目的和依据，用“现将有关事项通知如下”过渡，再分条写通知事项（时间、范围、任务、要求），最后写执行要求，可用“特此通知。”结尾。",
        "关于……的通知", MANY_RECIPIENTS},
    [GW_KIND_TONGBAO] = {GW_KIND_TONGBAO,
        "通报适用于表彰先进、批评错误、传达重要精神和告知重要情况。",
        "先写通报的事实（时间、单位、人员、经过），再写分析评价和处理或表彰决定，最后提出希望和要求。",
        "关于……的通报", MANY_RECIPIENTS},
    [GW_KIND_BAOGAO] = {GW_KIND_BAOGAO,
        "报告适用于向上级机关汇报工作、反映情况，回复上级机关的询问。",
        "先用“现将……报告如下”引出，再分条写基本情况、主要做法和成效、存在的问题、下一步打算；报告中不得夹带请示事项，不写“请批示”“请批准”之类的请求；结尾另起一段写“特此报告。”。",
        "关于……的报告", 1},
    [GW_KIND_QINGSHI] = {GW_KIND_QINGSHI,
        "请示适用于向上级机关请求指示、批准。",
        "先写请示缘由（背景、依据、必要性），再写请示事项（请求批准或解决的具体事项、数额、办法），一文一事，只请示一个事项；结尾另起一段写“妥否，请批示。”。",
        "关于……的请示", 1},
    [GW_KIND_PIFU] = {GW_KIND_PIFU,
        "批复适用于答复下级机关请示事项。",
        "先引述来文（“你单位《关于……的请示》（文号）收悉”），再写批复意见（同意与否及理由、具体要求），结尾另起一段写“此复。”。",
        "关于……的批复", 1},
    [GW_KIND_YIAN] = {GW_KIND_YIAN,
        "议案适用于各级人民政府按照法律程序向同级人民代表大会或者人民代表大会常务委员会提请审议事项。",
        "先写提请审议的事项和依据，再说明起草经过、主要内容和理由，最后写“现提请审议”。",
        "关于提请审议……的议案", 1},
    [GW_KIND_HAN] = {GW_KIND_HAN,
        "函适用于不相隶属机关之间商洽工作、询问和答复问题、请求批准和答复审批事项。",
        "先写发函的缘由，再写商洽、询问、请求或答复的具体事项，语气平和得体；去函结尾另起一段写“此函。”或“特此函告。”，复函结尾写“此复。”。",
        "关于……的函（复函：关于……的复函）", MANY_RECIPIENTS},
    [GW_KIND_JIYAO] = {GW_KIND_JIYAO,
        "纪要适用于记载会议主要情况和议定事项。",
        "先写会议概况（时间、地点、主持人、议题），用“现将会议议定事项纪要如下”过渡，再以“会议认为”“会议要求”“会议议定”分条写议定事项；纪要不写主送机关，不加落款。",
        "××会议纪要", 0},
};

const struct gw_recipe *gw_recipe_for(enum gw_kind kind)
{
    if (kind >= GW_KIND_COUNT || !recipes[kind].purpose)
        return NULL;
    return &recipes[kind];
}

/* How many 主送 a kind takes (a kind without a recipe: many). */
static int max_recipients_of(enum gw_kind kind)
{
    const struct gw_recipe *r = gw_recipe_for(kind);
    return r ? r->max_recipients : MANY_RECIPIENTS;
}

/* Titles of 命令, 纪要 and 公报 name the issuer or the meeting, not "关于…". */
static bool title_starts_with_guanyu(enum gw_kind kind)
{
    return kind != GW_KIND_MINGLING && kind != GW_KIND_JIYAO && kind != GW_KIND_GONGBAO;
}

/* ---- a growing string ----------------------------------------------------------------------- */

struct sbuf {
    char *s;    /* [cap] NUL-terminated after len bytes, owned */
    size_t len, cap;
    bool oom;   /* an append failed; sb_finish() returns NULL */
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *grown = realloc(b->s, cap);
        if (!grown) {
            b->oom = true;
            return;
        }
        b->s = grown;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    char *tmp = malloc((size_t)n + 1);
    if (!tmp) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(tmp, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_putn(b, tmp, (size_t)n);
    free(tmp);
}

/* The string built (the caller's), or NULL when an append ran out of memory. */
static char *sb_finish(struct sbuf *b)
{
    if (b->oom || !b->s) {
        free(b->s);
        return b->oom ? NULL : strdup("");
    }
    return b->s;
}

/* ---- small text helpers --------------------------------------------------------------------- */

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* Byte length of the first n code points of s (all of s when it has fewer). */
static size_t u8_prefix_bytes(const char *s, size_t n)
{
    size_t i = 0;
    for (size_t chars = 0; s[i] && chars < n; chars++) {
        i++;
        while (((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

/* Blanks at an end of a line: ASCII blanks, U+3000 and U+00A0. */
static size_t blank_len(const char *s)
{
    if (*s == ' ' || *s == '\t' || *s == '\r')
        return 1;
    if (gw_starts_with(s, "\xE3\x80\x80"))
        return 3;
    if (gw_starts_with(s, "\xC2\xA0"))
        return 2;
    return 0;
}

/* Trim s in place at both ends; returns the new start. */
static char *trim(char *s)
{
    for (size_t k; (k = blank_len(s)) > 0;)
        s += k;
    size_t n = strlen(s);
    for (;;) {
        if (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
            n--;
        else if (n >= 3 && memcmp(s + n - 3, "\xE3\x80\x80", 3) == 0)
            n -= 3;
        else if (n >= 2 && memcmp(s + n - 2, "\xC2\xA0", 2) == 0)
            n -= 2;
        else
            break;
    }
    s[n] = '\0';
    return s;
}

/* Remove every occurrence of mark from s, in place. */
static void remove_all(char *s, const char *mark)
{
    size_t m = strlen(mark);
    char *w = s;
    for (const char *r = s; *r;) {
        if (strncmp(r, mark, m) == 0) {
            r += m;
            continue;
        }
        *w++ = *r++;
    }
    *w = '\0';
}

/* Make s one line, in place: line breaks dropped (a value the model wrapped),
 * tabs and other control characters turned into spaces. */
static void flatten(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r == '\n' || *r == '\r')
            continue;
        *w++ = (unsigned char)*r < 0x20 ? ' ' : *r;
    }
    *w = '\0';
}

/* Final sentence or clause punctuation, full- or half-width. */
static size_t final_punct_len(const char *s)
{
    static const char *const marks[] = {"。", "，", "；", "：", "！", "？", "、", ".", ",",
                                        ";", ":", "!", "?"};
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (gw_ends_with(s, marks[i]))
            return strlen(marks[i]);
    return 0;
}

/* Cut every final punctuation mark off s, in place. */
static void strip_final_punct(char *s)
{
    for (size_t k; (k = final_punct_len(s)) > 0;)
        s[strlen(s) - k] = '\0';
}

static bool has_clause_punct(const char *s)
{
    static const char *const marks[] = {"。", "，", "；", "：", "！", "？", ",", ";", ":",
                                        "!", "?"};
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (strstr(s, marks[i]))
            return true;
    return false;
}

/* A heading number at the start of s: 一、 （一） 1. （1）. */
static bool is_heading(const char *s)
{
    size_t h = gw_han_numeral_len(s);
    if (h > 0 && gw_starts_with(s + h, "、"))
        return true;
    if (gw_starts_with(s, "（")) {
        const char *o = s + strlen("（");
        size_t m = gw_han_numeral_len(o);
        if (m == 0)
            m = gw_digit_len(o);
        return m > 0 && gw_starts_with(o + m, "）");
    }
    size_t d = gw_digit_len(s);
    return d > 0 && d <= 3 && (s[d] == '.' || gw_starts_with(s + d, "．"));
}

/* A date as people write it: 2025年3月18日, 二〇二五年三月十八日, 2025-3-18,
 * 2025.3.18, 2025/3/18. */
static bool is_date_line(const char *s)
{
    size_t n = gw_u8_count(s);
    size_t d = gw_digit_len(s);
    if (d == 4 && gw_starts_with(s + 4, "年"))
        return gw_ends_with(s, "日") && n <= 12;
    if (d == 4 && (s[4] == '-' || s[4] == '.' || s[4] == '/')) {
        for (const char *c = s + 5; *c; c++)
            if (!(*c >= '0' && *c <= '9') && *c != s[4])
                return false;
        return n <= 10;
    }
    size_t h = gw_han_numeral_len(s);
    return h >= 12 && gw_starts_with(s + h, "年") && gw_ends_with(s, "日") && n <= 14;
}

/* ---- the header's JSON schema ---------------------------------------------------------------- */

static const char *const urgency_choices[] = {"", "特急", "加急"};

void gw_draft_header_schema(enum gw_kind kind, struct gw_draft_schema *s)
{
    memset(s, 0, sizeof *s);
    s->title = (struct eng_schema){.type = ENG_SCHEMA_STRING,
                                   .prefix = title_starts_with_guanyu(kind) ? "关于" : NULL,
                                   .min_chars = 6, .max_chars = 50};
    s->recipient = (struct eng_schema){.type = ENG_SCHEMA_STRING, .min_chars = 2,
                                       .max_chars = 40};
    s->recipients = (struct eng_schema){.type = ENG_SCHEMA_ARRAY, .items = &s->recipient,
                                        .min_items = 1, .max_items = max_recipients_of(kind)};
    s->urgency = (struct eng_schema){
        .type = ENG_SCHEMA_STRING, .choices = urgency_choices,
        .n_choices = (int)(sizeof urgency_choices / sizeof urgency_choices[0])};
    s->cc_item = (struct eng_schema){.type = ENG_SCHEMA_STRING, .min_chars = 2, .max_chars = 30};
    s->cc = (struct eng_schema){.type = ENG_SCHEMA_ARRAY, .items = &s->cc_item, .min_items = 0,
                                .max_items = 5};
    int n = 0;
    s->props[n++] = (struct eng_schema_property){"title", &s->title};
    /* A kind without 主送 (公告, 通告, 纪要, 公报, 命令, 决议) has no recipients key. */
    if (max_recipients_of(kind) > 0)
        s->props[n++] = (struct eng_schema_property){"recipients", &s->recipients};
    s->props[n++] = (struct eng_schema_property){"urgency", &s->urgency};
    s->props[n++] = (struct eng_schema_property){"cc", &s->cc};
    s->root = (struct eng_schema){.type = ENG_SCHEMA_OBJECT, .properties = s->props,
                                  .n_properties = n};
}

/* ---- prompts -------------------------------------------------------------------------------- */

/* Characters of one material put into the prompt. */
#define MATERIAL_MAX_CHARS 6000

char *gw_draft_system_prompt(const struct gw_draft_facts *facts)
{
    struct sbuf b = {0};
    sb_printf(&b, "你是%s的一名资深文秘，熟悉《党政机关公文处理工作条例》和GB/T 9704-2012"
                  "《党政机关公文格式》，负责起草规范的党政机关公文。\n",
              facts && facts->issuer ? facts->issuer : "机关");
    sb_puts(&b, "起草时遵守以下规则：\n"
                "1. 只依据用户提供的事实、材料和图片写作，不编造事实、数据、文号、人名、单位、日期"
                "和政策依据；确需而材料中没有的内容，用“××”标出，留待补充。\n"
                "2. 文种使用正确，一文一事；请示与报告不得混用，报告中不得夹带请示事项。\n"
                "3. 语言庄重、准确、简明，使用规范的书面语，不用口语、网络用语和夸张修辞。\n"
                "4. 标点一律使用全角中文标点（，。：；？！“”（）、），不用半角标点。\n"
                "5. 日期用阿拉伯数字写全年、月、日，如“2025年3月18日”，月、日前不加“0”。\n"
                "6. 结构层次序数依次用“一、”“（一）”“1.”“（1）”，不越级使用。\n"
                "7. 不使用Markdown标记（#、*、-等），不写“以下是”“好的”之类的说明性文字。\n");
    return sb_finish(&b);
}

/* One material: its name, its text (cut at MATERIAL_MAX_CHARS characters). */
static void put_material(struct sbuf *b, const struct gw_draft_material *m)
{
    const char *text = or_empty(m->text);
    size_t cut = u8_prefix_bytes(text, MATERIAL_MAX_CHARS);
    bool cut_short = text[cut] != '\0';
    sb_printf(b, "「材料：%s」%s\n", m->name ? m->name : "未命名",
              cut_short ? "（节选前6000字）" : "");
    sb_putn(b, text, cut);
    if (cut > 0 && text[cut - 1] != '\n')
        sb_puts(b, "\n");
    if (cut_short)
        sb_puts(b, "（以下略）\n");
}

/* What the model is told about 主送 for this kind. */
static void put_recipient_rule(struct sbuf *b, const struct gw_draft_facts *facts, int max)
{
    if (max == 0)
        sb_printf(b, "主送机关：%s一般不写主送机关。\n", gw_kind_name(facts->kind));
    else if (facts->recipients && *facts->recipients)
        sb_printf(b, "主送机关：已定为“%s”，recipients照此填写。\n", facts->recipients);
    else if (max == 1)
        sb_puts(b, "主送机关：只写一个主送机关，其他需要知悉的机关列入抄送。\n");
    else
        sb_puts(b, "主送机关：写明受文机关的规范名称或统称，如“各区县人民政府，市政府各部门”。\n");
}

/* The JSON example the model copies. */
static void put_json_example(struct sbuf *b, const struct gw_draft_facts *facts, int max)
{
    const struct gw_recipe *r = gw_recipe_for(facts->kind);
    sb_printf(b, "{\"title\":\"%s\"", r ? r->title_hint : "关于……的通知");
    if (max > 0)
        sb_printf(b, ",\"recipients\":[\"%s\"]",
                  facts->recipients && *facts->recipients ? facts->recipients : "……");
    sb_puts(b, ",\"urgency\":\"\",\"cc\":[]}\n");
}

char *gw_draft_header_prompt(const struct gw_draft_facts *facts)
{
    const struct gw_recipe *r = gw_recipe_for(facts->kind);
    int max = max_recipients_of(facts->kind);
    struct sbuf b = {0};
    sb_printf(&b, "请以%s的名义起草一份%s。\n", or_empty(facts->issuer),
              gw_kind_name(facts->kind));
    if (r) {
        sb_printf(&b, "文种说明：%s\n", r->purpose);
        sb_printf(&b, "正文结构：%s\n", r->structure);
        sb_printf(&b, "标题格式：%s，不超过50字，末尾不加标点。\n", r->title_hint);
    }
    put_recipient_rule(&b, facts, max);
    sb_printf(&b, "发文机关：%s\n", or_empty(facts->issuer));
    if (facts->doc_number && *facts->doc_number)
        sb_printf(&b, "发文字号：%s\n", facts->doc_number);
    sb_printf(&b, "成文日期：%s\n", or_empty(facts->date));
    sb_printf(&b, "\n事实和要求：\n%s\n", or_empty(facts->notes));
    if (facts->n_materials > 0)
        sb_puts(&b, "\n参考材料（从中提取事实，不照抄无关内容）：\n");
    for (int i = 0; i < facts->n_materials; i++)
        put_material(&b, &facts->materials[i]);
    if (facts->n_images > 0)
        sb_puts(&b, "\n图片材料（从图中读取相关事实）：\n");
    for (int i = 0; i < facts->n_images; i++)
        sb_printf(&b, "图片%d：%s\n", i + 1, ENG_MEDIA_MARKER);
    sb_puts(&b, "\n先确定这份公文的版头要素。请只输出如下JSON：\n");
    put_json_example(&b, facts, max);
    sb_puts(&b, "其中title是标题；");
    if (max > 0)
        sb_printf(&b, "recipients是主送机关（最多%d个）；", max);
    sb_puts(&b, "urgency是紧急程度，只能是\"\"、\"特急\"或\"加急\"，一般为\"\"；"
                "cc是抄送机关，没有则为[]。\n");
    return sb_finish(&b);
}

/* The 主送 line as the draft will have it: the user's, else the model's
 * (at most the kind's number), joined with 、; "" when none. Caller frees. */
static char *recipients_line(const struct gw_draft_facts *facts,
                             const struct gw_draft_header *header)
{
    struct sbuf b = {0};
    if (facts->recipients && *facts->recipients) {
        sb_puts(&b, facts->recipients);
    } else if (header) {
        int max = max_recipients_of(facts->kind); /* 0: the kind has no 主送 */
        int n = header->n_recipients < max ? header->n_recipients : max;
        for (int i = 0; i < n; i++) {
            if (i > 0)
                sb_puts(&b, "、");
            sb_puts(&b, header->recipients[i]);
        }
    }
    char *s = sb_finish(&b);
    if (s) {
        flatten(s);
        strip_final_punct(s);
        char *t = trim(s);
        memmove(s, t, strlen(t) + 1);
    }
    return s;
}

char *gw_draft_body_prompt(const struct gw_draft_facts *facts,
                           const struct gw_draft_header *header)
{
    const struct gw_recipe *r = gw_recipe_for(facts->kind);
    const char *closing = gw_kind_closing(facts->kind);
    char *recipients = recipients_line(facts, header);
    if (!recipients)
        return NULL;
    struct sbuf b = {0};
    sb_printf(&b, "标题已定为：%s\n", header && header->title ? header->title : "");
    if (*recipients)
        sb_printf(&b, "主送机关：%s\n", recipients);
    sb_puts(&b, "现在请撰写这份公文的正文，从正文第一段写起。要求：\n"
                "1. 只写正文：不写标题、主送机关、发文机关署名、成文日期、附注和抄送。\n");
    if (r)
        sb_printf(&b, "2. 正文结构：%s\n", r->structure);
    sb_puts(&b, "3. 每个自然段单独成行；层次序数依次用“一、”“（一）”“1.”“（1）”，"
                "标题性的层次单独成行。\n"
                "4. 使用全角中文标点，不使用Markdown标记，不编造材料中没有的事实。\n");
    if (closing)
        sb_printf(&b, "5. 正文最后另起一段，以“%s”结尾。\n", closing);
    sb_puts(&b, "直接输出正文。\n");
    free(recipients);
    return sb_finish(&b);
}

/* ---- reading the header's JSON -------------------------------------------------------------- */

/* A trimmed malloc'd copy of s, or NULL when out of memory. */
static char *trimmed_copy(const char *s)
{
    char *c = strdup(s);
    if (!c)
        return NULL;
    char *t = trim(c);
    memmove(c, t, strlen(t) + 1);
    return c;
}

/* The string array at key (absent: none) into *out[*n] (empty strings skipped). */
static bool read_string_array(JsonObject *obj, const char *key, char ***out, int *n,
                              struct gw_err *err)
{
    if (!json_object_has_member(obj, key))
        return true;
    JsonNode *node = json_object_get_member(obj, key);
    if (!JSON_NODE_HOLDS_ARRAY(node))
        return gw_fail(err, "header JSON: key \"%s\" must be an array of strings, got %s", key,
                       gw_json_kind_words(node));
    JsonArray *arr = json_node_get_array(node);
    guint len = json_array_get_length(arr);
    *out = calloc(len + 1, sizeof **out); /* [len] at most; +1 keeps calloc(0) non-NULL */
    if (!*out)
        return gw_fail(err, "header JSON: out of memory");
    for (guint i = 0; i < len; i++) {
        JsonNode *item = json_array_get_element(arr, i);
        if (!gw_json_is_string(item))
            return gw_fail(err, "header JSON: key \"%s\" item %u must be a string, got %s", key,
                           i + 1, gw_json_kind_words(item));
        char *s = trimmed_copy(json_node_get_string(item));
        if (!s)
            return gw_fail(err, "header JSON: out of memory");
        if (*s == '\0') {
            free(s);
            continue;
        }
        (*out)[(*n)++] = s;
    }
    return true;
}

/* The string at key, trimmed, into *out (absent: *out stays NULL). */
static bool read_string(JsonObject *obj, const char *key, char **out, struct gw_err *err)
{
    if (!json_object_has_member(obj, key))
        return true;
    JsonNode *node = json_object_get_member(obj, key);
    if (!gw_json_is_string(node))
        return gw_fail(err, "header JSON: key \"%s\" must be a string, got %s", key,
                       gw_json_kind_words(node));
    *out = trimmed_copy(json_node_get_string(node));
    return *out ? true : gw_fail(err, "header JSON: out of memory");
}

/* The members of the object root into header. */
static bool read_header_object(JsonObject *obj, struct gw_draft_header *header,
                               struct gw_err *err)
{
    if (!json_object_has_member(obj, "title"))
        return gw_fail(err, "header JSON: no key \"title\"");
    if (!read_string(obj, "title", &header->title, err) ||
        !read_string(obj, "urgency", &header->urgency, err) ||
        !read_string_array(obj, "recipients", &header->recipients, &header->n_recipients, err) ||
        !read_string_array(obj, "cc", &header->cc, &header->n_cc, err))
        return false;
    if (*header->title == '\0')
        return gw_fail(err, "header JSON: key \"title\" is empty");
    if (!header->urgency)
        header->urgency = strdup("");
    if (!header->urgency)
        return gw_fail(err, "header JSON: out of memory");
    const char *u = header->urgency;
    if (*u && strcmp(u, "特急") != 0 && strcmp(u, "加急") != 0) {
        char cut[64];
        size_t n = u8_prefix_bytes(u, 16);
        snprintf(cut, sizeof cut, "%.*s", (int)n, u);
        return gw_fail(err, "header JSON: key \"urgency\" is \"%s\" (expected \"\", \"特急\" or "
                            "\"加急\")", cut);
    }
    return true;
}

bool gw_draft_header_parse(const char *json, size_t len, struct gw_draft_header *header,
                           struct gw_err *err)
{
    memset(header, 0, sizeof *header);
    if (len > G_MAXSSIZE)
        return gw_fail(err, "header JSON: too long");
    JsonParser *parser = json_parser_new();
    GError *gerr = NULL;
    bool ok = false;
    if (!json_parser_load_from_data(parser, json, (gssize)len, &gerr)) {
        gw_fail(err, "header JSON: not valid JSON (%s)", gerr ? gerr->message : "unknown error");
        g_clear_error(&gerr);
        goto out_free_parser;
    }
    JsonNode *root = json_parser_get_root(parser);
    if (!root) {
        gw_fail(err, "header JSON: empty answer, expected an object");
        goto out_free_parser;
    }
    if (!JSON_NODE_HOLDS_OBJECT(root)) {
        gw_fail(err, "header JSON: expected an object, got %s", gw_json_kind_words(root));
        goto out_free_parser;
    }
    ok = read_header_object(json_node_get_object(root), header, err);
out_free_parser:
    g_object_unref(parser);
    if (!ok)
        gw_draft_header_clear(header);
    return ok;
}

static void free_strings(char **list, int n)
{
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void gw_draft_header_clear(struct gw_draft_header *header)
{
    if (!header)
        return;
    free(header->title);
    free(header->urgency);
    free_strings(header->recipients, header->n_recipients);
    free_strings(header->cc, header->n_cc);
    memset(header, 0, sizeof *header);
}

/* ---- the title ------------------------------------------------------------------------------ */

/* The draft's title: the model's, trimmed, without Markdown marks, a "标题："
 * label or final punctuation, with full-width punctuation, ending in the
 * kind's name (another kind's name at the end is replaced: "…的报告" for a
 * 请示 becomes "…的请示"); "关于××的通知" when nothing is left, so that the
 * clerk sees what to fill in. Caller frees; NULL when out of memory. */
static char *compose_title(enum gw_kind kind, const char *model_title)
{
    char *raw = strdup(or_empty(model_title));
    if (!raw)
        return NULL;
    flatten(raw);
    remove_all(raw, "**");
    char *t = trim(raw);
    while (*t == '#')
        t++;
    t = trim(t);
    if (gw_starts_with(t, "标题："))
        t += strlen("标题：");
    else if (gw_starts_with(t, "标题:"))
        t += strlen("标题:");
    strip_final_punct(t);
    char *norm = gw_fullwidth_punct(*trim(t) ? trim(t) : "关于××的");
    free(raw);
    if (!norm || kind >= GW_KIND_COUNT)
        return norm;
    /* Strip names of other kinds from the end ("…请示报告" -> "…请示"). */
    for (enum gw_kind found; (found = gw_kind_from_title(norm)) != kind &&
                             found != GW_KIND_UNKNOWN;) {
        const char *name = gw_ends_with(norm, gw_kind_name(found)) ? gw_kind_name(found) : "令";
        norm[strlen(norm) - strlen(name)] = '\0';
    }
    if (gw_kind_from_title(norm) == kind)
        return norm;
    struct sbuf b = {0};
    sb_puts(&b, norm);
    if (!gw_ends_with(norm, "的") && *norm)
        sb_puts(&b, "的");
    sb_puts(&b, gw_kind_name(kind));
    free(norm);
    return sb_finish(&b);
}

/* ---- cleaning the body ---------------------------------------------------------------------- */

struct lines {
    char **items; /* [n] malloc'd lines, owned */
    int n, cap;
};

static bool lines_push(struct lines *l, char *s)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 32;
        char **grown = realloc(l->items, sizeof *grown * (size_t)cap);
        if (!grown)
            return false;
        l->items = grown;
        l->cap = cap;
    }
    l->items[l->n++] = s;
    return true;
}

static void lines_remove(struct lines *l, int i)
{
    free(l->items[i]);
    memmove(l->items + i, l->items + i + 1, sizeof *l->items * (size_t)(l->n - i - 1));
    l->n--;
}

static void lines_free(struct lines *l)
{
    free_strings(l->items, l->n);
    memset(l, 0, sizeof *l);
}

/* The body without a <think>…</think> block: a pointer into body. A block
 * that never closes is all thinking (nothing is left); a lone </think>
 * (the template opened the block) ends what is dropped. */
static const char *skip_thinking(const char *body)
{
    const char *open = strstr(body, "<think>");
    const char *close = strstr(body, "</think>");
    if (close && (!open || open < close))
        return close + strlen("</think>");
    if (open)
        return body + strlen(body);
    return body;
}

/* Labels of the lines gw_draft_compose() writes itself (or that the parser
 * would take as the header or the 版记): a model's copy is dropped. */
static bool is_own_label_line(const char *s)
{
    static const char *const labels[] = {"标题", "主送", "发文机关", "发文字号", "签发人",
                                         "紧急程度", "抄送", "附注", "落款", "成文日期",
                                         "日期", "印发机关", "印发日期", "文种", "格式",
                                         "份号", "密级", "令号"};
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        if (!gw_starts_with(s, labels[i]))
            continue;
        const char *r = s + strlen(labels[i]);
        if (gw_starts_with(r, "：") || *r == ':')
            return true;
    }
    return false;
}

/* Whether "s：" would read as one of the parser's labels (a 主送 named
 * "日期" or "出席…"): such a 主送 line is written with its own label. */
static bool starts_like_label(const char *s)
{
    static const char *const more[] = {"出席", "请假", "列席", "主送机关", "抄送机关",
                                       "发文机关标志", "密级和保密期限"};
    char line[96];
    snprintf(line, sizeof line, "%.60s：", s);
    if (is_own_label_line(line) || strstr(s, "："))
        return true;
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        if (gw_starts_with(s, more[i]))
            return true;
    return false;
}

/* Repair a heading number the normaliser would not read: "一." "一，" "一 "
 * become "一、", "1、" becomes "1.". Returns a malloc'd line or NULL (OOM). */
static char *repair_heading(const char *s)
{
    size_t h = gw_han_numeral_len(s);
    size_t mark = 0;
    if (h > 0 && h <= 9) {
        const char *r = s + h;
        if (*r == '.' || *r == ',' || *r == ' ')
            mark = 1;
        else if (gw_starts_with(r, "．") || gw_starts_with(r, "，") || gw_starts_with(r, "。"))
            mark = 3;
        if (mark) {
            const char *rest = r + mark;
            for (size_t k; (k = blank_len(rest)) > 0;)
                rest += k;
            struct sbuf b = {0};
            sb_putn(&b, s, h);
            sb_puts(&b, "、");
            sb_puts(&b, rest);
            return sb_finish(&b);
        }
    }
    size_t d = gw_digit_len(s);
    if (d > 0 && d <= 2 && gw_starts_with(s + d, "、") && s[d + 3] != '\0') {
        struct sbuf b = {0};
        sb_putn(&b, s, d);
        sb_puts(&b, ".");
        sb_puts(&b, s + d + strlen("、"));
        return sb_finish(&b);
    }
    return strdup(s);
}

/* One line of the model's body, cleaned: blanks, Markdown headings, bold,
 * bullets and quotes gone, heading numbers repaired, punctuation full-width.
 * *out gets a malloc'd line, or NULL when the line is to be dropped.
 * Returns false when out of memory. */
static bool clean_line(const char *line, size_t n, char **out)
{
    *out = NULL;
    char *raw = strndup(line, n);
    if (!raw)
        return false;
    remove_all(raw, "**"); /* not "__": "____年" is a blank to fill in */
    char *s = trim(raw);
    if (gw_starts_with(s, "```") || gw_starts_with(s, "<think>") || gw_starts_with(s, "</think>")) {
        free(raw);
        return true;
    }
    while (*s == '#' || *s == '>')
        s = trim(s + 1);
    if ((*s == '-' || *s == '*' || *s == '+') && (s[1] == ' ' || s[1] == '\t'))
        s = trim(s + 2);
    else if (gw_starts_with(s, "•") || gw_starts_with(s, "·"))
        s = trim(s + (gw_starts_with(s, "•") ? strlen("•") : strlen("·")));
    bool drop = *s == '\0' || is_own_label_line(s);
    char *fixed = drop ? NULL : repair_heading(s);
    free(raw);
    if (drop)
        return true;
    if (!fixed)
        return false;
    *out = gw_fullwidth_punct(fixed);
    free(fixed);
    return *out != NULL;
}

/* The body's lines, cleaned, into l. */
static bool split_body(const char *body, struct lines *l)
{
    for (const char *s = skip_thinking(body); *s;) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        char *line;
        if (!clean_line(s, n, &line))
            return false;
        if (line && !lines_push(l, line)) {
            free(line);
            return false;
        }
        s += n + (nl ? 1 : 0);
    }
    return true;
}

/* Whether s (a cleaned line) is the title again, perhaps with the issuer's
 * name in front ("临江市人民政府关于…的通知"). */
static bool is_title_line(const char *s, const char *title, const char *model_title)
{
    char *t = strdup(s);
    if (!t)
        return false;
    if (gw_starts_with(t, "标题："))
        memmove(t, t + strlen("标题："), strlen(t) - strlen("标题：") + 1);
    strip_final_punct(t);
    bool same = strcmp(t, title) == 0 || (model_title && strcmp(t, model_title) == 0) ||
                (gw_ends_with(t, title) && !has_clause_punct(t) && gw_u8_count(t) <= 80);
    free(t);
    return same;
}

/* Whether s (the first line of the body) is a 主送 line: it ends in a colon,
 * holds no sentence, and names a recipient or is short and plain. */
static bool is_recipients_line(const char *s, const char *recipients,
                               const struct gw_draft_header *header)
{
    if (!gw_ends_with(s, "：") || strstr(s, "。") || strstr(s, "如下") || is_heading(s))
        return false;
    if (*recipients && strstr(s, recipients))
        return true;
    for (int i = 0; header && i < header->n_recipients; i++)
        if (strstr(s, header->recipients[i]))
            return true;
    return !strstr(s, "，") && gw_u8_count(s) <= 40;
}

/* Drop the repeated title and 主送 from the top of the body. */
static void drop_head_repeats(struct lines *l, const char *title, const char *recipients,
                              const struct gw_draft_header *header)
{
    const char *model_title = header ? header->title : NULL;
    for (int checked = 0; checked < 2 && l->n > 0; checked++) {
        if (is_title_line(l->items[0], title, model_title))
            lines_remove(l, 0);
        else if (is_recipients_line(l->items[0], recipients, header))
            lines_remove(l, 0);
        else
            break;
    }
}

/* Whether s names the issuer (or one of the joint issuers). */
static bool names_issuer(const char *s, const char *issuer)
{
    if (!issuer || !*issuer)
        return false;
    if (strstr(issuer, s) || strstr(s, issuer))
        return true;
    const char *start = issuer;
    for (const char *sep; (sep = strstr(start, "、")) != NULL; start = sep + strlen("、"))
        if (sep > start && strncmp(s, start, (size_t)(sep - start)) == 0)
            return true;
    return strcmp(s, start) == 0;
}

/* A line the model may put under the body as its own 落款. */
static bool is_signature_shape(const char *s)
{
    return gw_u8_count(s) <= 30 && !has_clause_punct(s) && !is_heading(s) &&
           !gw_starts_with(s, "此") && !gw_starts_with(s, "特此") && !gw_starts_with(s, "妥否") &&
           !gw_starts_with(s, "当否") && !gw_starts_with(s, "专此") && !gw_starts_with(s, "附件");
}

static bool is_seal_or_contact(const char *s)
{
    bool parens = gw_starts_with(s, "（") && gw_ends_with(s, "）");
    return parens && (strstr(s, "联系人") || strstr(s, "电话") || strstr(s, "盖章") ||
                      strstr(s, "印章") || strstr(s, "公章"));
}

/* Drop the model's own signature, date, seal and contact lines from the end. */
static void drop_tail(struct lines *l, const char *issuer)
{
    bool saw_date = false;
    int n_signature = 0;
    while (l->n > 0) {
        const char *s = l->items[l->n - 1];
        if (is_date_line(s))
            saw_date = true;
        else if (is_seal_or_contact(s))
            ;
        else if (n_signature < 3 && is_signature_shape(s) && (saw_date || names_issuer(s, issuer)))
            n_signature++;
        else
            break;
        lines_remove(l, l->n - 1);
    }
}

/* ---- the closing formula -------------------------------------------------------------------- */

/* The closings a kind may end with (the check accepts each), without the
 * final 。; the standard one (gw_kind_closing) first. */
static const char *const *closing_variants(enum gw_kind kind, int *n)
{
    static const char *const qingshi[] = {"妥否，请批示", "当否，请批示", "妥否，请批复",
                                          "当否，请批复", "以上请示妥否，请批示",
                                          "以上请示当否，请批示", "妥否，请审示"};
    static const char *const baogao[] = {"特此报告", "专此报告"};
    static const char *const pifu[] = {"此复", "特此批复"};
    static const char *const han[] = {"此函", "此复", "特此函告", "特此函复", "专此函复",
                                      "特此函达"};
#define VARIANTS(list) (*n = (int)(sizeof(list) / sizeof((list)[0])), (list))
    switch (kind) {
    case GW_KIND_QINGSHI: return VARIANTS(qingshi);
    case GW_KIND_BAOGAO: return VARIANTS(baogao);
    case GW_KIND_PIFU: return VARIANTS(pifu);
    case GW_KIND_HAN: return VARIANTS(han);
    default: *n = 0; return NULL;
    }
#undef VARIANTS
}

/* The variant s is, alone on its line ("此函" or "此函。"), or NULL. */
static const char *closing_of_line(const char *s, const char *const *variants, int n)
{
    for (int i = 0; i < n; i++) {
        size_t m = strlen(variants[i]);
        if (strncmp(s, variants[i], m) == 0 &&
            (s[m] == '\0' || strcmp(s + m, "。") == 0 || strcmp(s + m, "！") == 0))
            return variants[i];
    }
    return NULL;
}

/* Make the kind's closing formula the body's last line, once: standalone
 * closings are removed, a closing at the end of the last paragraph is split
 * off, and the closing the model ended with is kept when it is a proper one
 * (else the kind's standard formula is added). */
static bool settle_closing(struct lines *l, enum gw_kind kind)
{
    int n_variants;
    const char *const *variants = closing_variants(kind, &n_variants);
    if (!variants)
        return true;
    const char *kept = NULL;
    for (int i = l->n - 1; i >= 0; i--) {
        const char *v = closing_of_line(l->items[i], variants, n_variants);
        if (!v)
            continue;
        if (!kept && i == l->n - 1)
            kept = v;
        lines_remove(l, i);
    }
    if (!kept && l->n > 0) {
        char *last = l->items[l->n - 1];
        for (int k = 0; k < n_variants && !kept; k++) {
            char with_stop[64];
            snprintf(with_stop, sizeof with_stop, "%s。", variants[k]);
            size_t n = strlen(last), m = strlen(with_stop);
            /* "…恳请追加经费。妥否，请批示。": the closing follows a full stop. */
            if (n >= m + 3 && gw_ends_with(last, with_stop) &&
                memcmp(last + n - m - 3, "。", 3) == 0) {
                last[n - m] = '\0';
                kept = variants[k];
            }
        }
    }
    struct sbuf b = {0};
    if (kept) {
        sb_puts(&b, kept);
        sb_puts(&b, "。");
    } else {
        sb_puts(&b, gw_kind_closing(kind));
    }
    char *closing = sb_finish(&b);
    if (!closing || !lines_push(l, closing)) {
        free(closing);
        return false;
    }
    return true;
}

/* ---- the draft ------------------------------------------------------------------------------ */

/* label + s (made one line) + suffix + newline, in b. */
static void put_line(struct sbuf *b, const char *label, const char *s, const char *suffix)
{
    char *t = strdup(s);
    if (!t) {
        b->oom = true;
        return;
    }
    flatten(t);
    sb_printf(b, "%s%s%s\n", label, t, suffix);
    free(t);
}

/* s with full-width punctuation, without final punctuation (for lists), in b. */
static void put_list_item(struct sbuf *b, const char *s)
{
    char *t = trimmed_copy(s);
    if (!t) {
        b->oom = true;
        return;
    }
    flatten(t);
    strip_final_punct(t);
    char *norm = gw_fullwidth_punct(t);
    free(t);
    if (!norm) {
        b->oom = true;
        return;
    }
    sb_puts(b, norm);
    free(norm);
}

static void put_header_lines(struct sbuf *b, const struct gw_draft_facts *facts,
                             const struct gw_draft_header *header)
{
    put_line(b, "发文机关：", or_empty(facts->issuer), "");
    if (facts->doc_number && *facts->doc_number)
        put_line(b, "发文字号：", facts->doc_number, "");
    if (facts->signers && *facts->signers)
        put_line(b, "签发人：", facts->signers, "");
    if (header && header->urgency &&
        (strcmp(header->urgency, "特急") == 0 || strcmp(header->urgency, "加急") == 0))
        sb_printf(b, "紧急程度：%s\n", header->urgency);
}

/* The 落款: one line per issuer (joint issuers are separated by 、). */
static void put_signature(struct sbuf *b, const char *issuer)
{
    char *names = strdup(or_empty(issuer));
    if (!names) {
        b->oom = true;
        return;
    }
    flatten(names);
    const char *start = names;
    for (const char *sep; (sep = strstr(start, "、")) != NULL; start = sep + strlen("、")) {
        sb_putn(b, start, (size_t)(sep - start));
        sb_puts(b, "\n");
    }
    if (*start)
        sb_printf(b, "%s\n", start);
    free(names);
}

/* The 附注 contact line, in full-width parentheses. */
static void put_contact(struct sbuf *b, const char *contact)
{
    char *t = trimmed_copy(contact);
    if (!t) {
        b->oom = true;
        return;
    }
    flatten(t);
    char *s = t;
    if ((gw_starts_with(s, "（") && gw_ends_with(s, "）")) || (*s == '(' && gw_ends_with(s, ")"))) {
        size_t open = *s == '(' ? 1 : 3, close = gw_ends_with(s, ")") ? 1 : 3;
        s[strlen(s) - close] = '\0';
        s += open;
    }
    char *norm = gw_fullwidth_punct(s);
    if (norm)
        sb_printf(b, "（%s）\n", norm);
    else
        b->oom = true;
    free(norm);
    free(t);
}

static void put_cc(struct sbuf *b, const struct gw_draft_header *header)
{
    if (!header || header->n_cc == 0)
        return;
    sb_puts(b, "抄送：");
    for (int i = 0; i < header->n_cc; i++) {
        if (i > 0)
            sb_puts(b, "，");
        put_list_item(b, header->cc[i]);
    }
    sb_puts(b, "。\n");
}

/* "附件" or "附件2" alone on a line: the model began an attachment page. */
static bool is_attachment_page_head(const char *s)
{
    if (!gw_starts_with(s, "附件"))
        return false;
    const char *r = s + strlen("附件");
    while (*r == ' ')
        r++;
    return r[gw_digit_len(r)] == '\0';
}

/* "附件：…" (the 附件说明) or one of its numbered items "2.…". */
static bool is_attachment_list_head(const char *s)
{
    return gw_starts_with(s, "附件：") || gw_starts_with(s, "附件:");
}

static bool is_attachment_item(const char *s)
{
    size_t d = gw_digit_len(s);
    return d > 0 && d <= 2 &&
           (s[d] == '.' || gw_starts_with(s + d, "．") || gw_starts_with(s + d, "、"));
}

/* Move l's lines [from, to_excl) to the end of dest, keeping the order of both. */
static bool lines_move_range(struct lines *l, int from, int to_excl, struct lines *dest)
{
    int n_move = to_excl - from;
    if (n_move == 0)
        return true;
    if (dest->n + n_move > dest->cap) {
        int cap = dest->cap ? dest->cap : 32;
        while (cap < dest->n + n_move)
            cap *= 2;
        char **grown = realloc(dest->items, sizeof *grown * (size_t)cap);
        if (!grown)
            return false;
        dest->items = grown;
        dest->cap = cap;
    }
    memcpy(dest->items + dest->n, l->items + from, sizeof *l->items * (size_t)n_move);
    dest->n += n_move;
    memmove(l->items + from, l->items + to_excl, sizeof *l->items * (size_t)(l->n - to_excl));
    l->n -= n_move;
    return true;
}

/* The model's body in three parts: main (the body proper, ending in the
 * closing formula), list (a 附件说明 the model put after it, which GB/T 9704
 * places after the closing and before the 落款) and pages (attachment pages,
 * after the 落款). */
struct body_parts {
    struct lines main, list, pages;
};

static void body_parts_free(struct body_parts *p)
{
    lines_free(&p->main);
    lines_free(&p->list);
    lines_free(&p->pages);
}

static bool split_parts(struct body_parts *p, const struct gw_draft_facts *facts,
                        const char *title, const char *recipients,
                        const struct gw_draft_header *header)
{
    struct lines *m = &p->main;
    int at = m->n;
    for (int i = 0; i < m->n && at == m->n; i++)
        if (is_attachment_page_head(m->items[i]))
            at = i;
    if (!lines_move_range(m, at, m->n, &p->pages))
        return false;
    drop_head_repeats(m, title, recipients, header);
    drop_tail(m, facts->issuer);
    int head = -1;
    for (int i = 0; i < m->n; i++)
        if (is_attachment_list_head(m->items[i]))
            head = i;
    if (head < 0)
        return true;
    int end = head + 1;
    while (end < m->n && is_attachment_item(m->items[end]))
        end++;
    return lines_move_range(m, head, end, &p->list);
}

static void put_lines(struct sbuf *b, const struct lines *l)
{
    for (int i = 0; i < l->n; i++)
        sb_printf(b, "%s\n", l->items[i]);
}

char *gw_draft_compose(const struct gw_draft_facts *facts, const struct gw_draft_header *header,
                       const char *body)
{
    char *title = compose_title(facts->kind, header ? header->title : NULL);
    char *recipients = recipients_line(facts, header);
    char *recipients_norm = recipients ? gw_fullwidth_punct(recipients) : NULL;
    struct body_parts parts = {0};
    struct sbuf b = {0};
    if (!title || !recipients_norm || !split_body(or_empty(body), &parts.main) ||
        !split_parts(&parts, facts, title, recipients_norm, header) ||
        !settle_closing(&parts.main, facts->kind))
        goto out_free;

    put_header_lines(&b, facts, header);
    put_line(&b, "# ", title, "");
    if (*recipients_norm)
        put_line(&b, starts_like_label(recipients_norm) ? "主送：" : "", recipients_norm, "：");
    put_lines(&b, &parts.main);
    put_lines(&b, &parts.list);
    if (facts->kind != GW_KIND_JIYAO) /* 纪要 carry no 落款 */
        put_signature(&b, facts->issuer);
    if (facts->date && *facts->date)
        put_line(&b, "", facts->date, "");
    if (facts->contact && *facts->contact)
        put_contact(&b, facts->contact);
    put_lines(&b, &parts.pages);
    put_cc(&b, header);
    body_parts_free(&parts);
    free(title);
    free(recipients);
    free(recipients_norm);
    return sb_finish(&b);

out_free:
    body_parts_free(&parts);
    free(b.s);
    free(title);
    free(recipients);
    free(recipients_norm);
    return NULL;
}
