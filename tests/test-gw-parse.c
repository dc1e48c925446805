/* test-gw-parse.c: unit tests of the 公文 parser (gw_parse_text), the
 * punctuation normaliser (gw_fullwidth_punct) and a few check rules on
 * documents built by hand.
 *
 * Without arguments it runs the tests. Two driver modes serve debugging and
 * tests/test-gw-check.py while `wenshu-cli check` is not wired in:
 *   test-gw-parse --dump FILE     prints every field of the parsed model
 *   test-gw-parse --check FILE    prints the check's issues as JSON, in the
 *                                 shape of `wenshu-cli check --json`; exit 1
 *                                 with an error-severity issue, 2 on bad input
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gongwen.h"
#include "gw-check.h"
#include "check.h"

static struct gw_doc *parse(const char *text)
{
    struct gw_err err = {{0}};
    struct gw_doc *doc = NULL;
    if (!gw_parse_text(text, strlen(text), "test.md", &doc, &err))
        fprintf(stderr, "parse failed: %s\n", err.msg);
    return doc;
}

/* ---- the normaliser ---------------------------------------------------------------- */

static void test_fullwidth_punct(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"为深入贯彻,切实防范.", "为深入贯彻，切实防范。"},
        {"现将有关事项通知如下:", "现将有关事项通知如下："},
        {"是否同意?请批示!", "是否同意？请批示！"},
        {"一是加强领导;二是落实责任", "一是加强领导；二是落实责任"},
        {"增长了3.5%.", "增长了3.5%。"},            /* a number keeps its point */
        {"1.明确责任", "1.明确责任"},                /* a heading number */
        {"附件：1.安排表", "附件：1.安排表"},        /* a list number */
        {"时间为10:30,地点另行通知", "时间为10:30，地点另行通知"},
        {"共计1,000元,其中", "共计1,000元，其中"},
        {"详见http://www.gov.cn/a.html.", "详见http://www.gov.cn/a.html。"},
        {"(一)加强领导", "（一）加强领导"},
        {"(1)细化分工", "（1）细化分工"},
        {"标准 (GB/T 9704-2012) 规定", "标准（GB/T 9704-2012）规定"},
        {"他说\"你好\"。", "他说“你好”。"},
        {"使用 Word, WPS 等软件", "使用 Word，WPS 等软件"},
        {"第一行,\n第二行.", "第一行，\n第二行。"},
        {"He said \"hello, world.\" (twice)", "He said \"hello, world.\" (twice)"},
        {"Version 2.0 released.", "Version 2.0 released."},
        {"email: a@b.cn", "email: a@b.cn"},
        {"全角已是全角，不变。", "全角已是全角，不变。"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = gw_fullwidth_punct(cases[i].in);
        CHECK(got && strcmp(got, cases[i].want) == 0, "fullwidth(\"%s\"): got \"%s\", want \"%s\"",
              cases[i].in, got ? got : "(null)", cases[i].want);
        free(got);
    }
}

/* ---- the parser ----------------------------------------------------------------------- */

static const char labelled_draft[] =
    "<!-- a comment line -->\n"                 /* 1 */
    "份号：000123\n"                            /* 2 */
    "密级：机密★1年\n"                         /* 3 */
    "紧急程度：特急\n"                          /* 4 */
    "发文机关：XX市教育局、XX市财政局\n"        /* 5 */
    "发文机关标志：XX市教育局 XX市财政局文件\n" /* 6 */
    "发文字号：X教发〔2025〕3号\n"              /* 7 */
    "签发人：张三、李四\n"                      /* 8 */
    "\n"                                        /* 9 */
    "# 关于开展安全生产大检查的请示\n"          /* 10 */
    "XX市人民政府：\n"                          /* 11 */
    "为防范风险,现请示如下.\n"                  /* 12 */
    "## 一、总体要求\n"                         /* 13 */
    "（一）加强领导。各单位要高度重视。\n"      /* 14 */
    "1.明确责任。\n"                            /* 15 */
    "(1)细化分工。\n"                           /* 16 */
    "妥否，请批示。\n"                          /* 17 */
    "附件：1.检查安排表。\n"                    /* 18 */
    "2.检查人员名单\n"                          /* 19 */
    "XX市教育局\n"                              /* 20 */
    "XX市财政局\n"                              /* 21 */
    "2025年3月18日\n"                           /* 22 */
    "（联系人：王五，电话：12345678）\n"        /* 23 */
    "抄送：市委办公室，市人大常委会办公室。\n"  /* 24 */
    "印发机关：XX市教育局办公室\n"              /* 25 */
    "印发日期：2025年3月18日\n"                 /* 26 */
    "附件1\n"                                   /* 27 */
    "检查安排表\n"                              /* 28 */
    "一、时间安排\n"                            /* 29 */
    "4月1日开始,6月30日结束。\n";               /* 30 */

static void test_labelled_draft(void)
{
    struct gw_doc *d = parse(labelled_draft);
    CHECK(d != NULL, "labelled draft did not parse");
    if (!d)
        return;
    CHECK_INT(d->kind, GW_KIND_QINGSHI);
    CHECK_INT(d->format, GW_FORMAT_ORDINARY);
    CHECK(!d->format_overridden, "format overridden");
    CHECK_STR(d->copy_number.s, "000123");
    CHECK_INT(d->copy_number.line, 2);
    CHECK_STR(d->secrecy.s, "机密★1年");
    CHECK_STR(d->urgency.s, "特急");
    CHECK_INT(d->n_issuers, 2);
    if (d->n_issuers == 2) {
        CHECK_STR(d->issuers[0].s, "XX市教育局");
        CHECK_STR(d->issuers[1].s, "XX市财政局");
        CHECK_INT(d->issuers[1].line, 5);
    }
    CHECK_STR(d->issuer_mark.s, "XX市教育局 XX市财政局文件");
    CHECK_STR(d->doc_number.s, "X教发〔2025〕3号");
    CHECK_INT(d->doc_number.line, 7);
    CHECK_INT(d->n_signers, 2);
    if (d->n_signers == 2) {
        CHECK_STR(d->signers[0].s, "张三");
        CHECK_STR(d->signers[1].s, "李四");
    }
    CHECK_STR(d->title.s, "关于开展安全生产大检查的请示");
    CHECK_INT(d->title.line, 10);
    CHECK_STR(d->recipients.s, "XX市人民政府");
    CHECK_INT(d->recipients.line, 11);
    static const struct {
        enum gw_block_type type;
        const char *text;
        int line;
    } body[] = {
        {GW_BLOCK_PARA, "为防范风险，现请示如下。", 12},
        {GW_BLOCK_HEADING1, "一、总体要求", 13},
        {GW_BLOCK_HEADING2, "（一）加强领导。各单位要高度重视。", 14},
        {GW_BLOCK_HEADING3, "1.明确责任。", 15},
        {GW_BLOCK_HEADING4, "（1）细化分工。", 16},
        {GW_BLOCK_PARA, "妥否，请批示。", 17},
    };
    CHECK_INT(d->n_body, 6);
    for (int i = 0; i < d->n_body && i < 6; i++) {
        CHECK_INT(d->body[i].type, body[i].type);
        CHECK_STR(d->body[i].text.s, body[i].text);
        CHECK_INT(d->body[i].text.line, body[i].line);
    }
    CHECK_INT(d->n_attachments, 2);
    if (d->n_attachments == 2) {
        CHECK_STR(d->attachments[0].name.s, "检查安排表"); /* no number, no final 。 */
        CHECK_INT(d->attachments[0].name.line, 18);
        CHECK_STR(d->attachments[0].title.s, "检查安排表");
        CHECK_INT(d->attachments[0].title.line, 28);
        CHECK_INT(d->attachments[0].n_blocks, 2);
        if (d->attachments[0].n_blocks == 2) {
            CHECK_INT(d->attachments[0].blocks[0].type, GW_BLOCK_HEADING1);
            CHECK_STR(d->attachments[0].blocks[1].text.s, "4月1日开始，6月30日结束。");
            CHECK_INT(d->attachments[0].blocks[1].text.line, 30);
        }
        CHECK_STR(d->attachments[1].name.s, "检查人员名单");
        CHECK_INT(d->attachments[1].name.line, 19);
        CHECK_STR(d->attachments[1].title.s, NULL);
    }
    CHECK_STR(d->signature.s, "XX市教育局\nXX市财政局");
    CHECK_INT(d->signature.line, 20);
    CHECK_STR(d->date.s, "2025年3月18日");
    CHECK_INT(d->date.line, 22);
    CHECK_STR(d->note.s, "联系人：王五，电话：12345678");
    CHECK_INT(d->note.line, 23);
    CHECK_STR(d->cc.s, "市委办公室，市人大常委会办公室");
    CHECK_INT(d->cc.line, 24);
    CHECK_STR(d->printer.s, "XX市教育局办公室");
    CHECK_STR(d->print_date.s, "2025年3月18日");
    CHECK_INT(d->print_date.line, 26);
    CHECK_STR(d->attendees.s, NULL);
    gw_doc_free(&d);
    CHECK(d == NULL, "gw_doc_free did not clear the pointer");
}

/* A person's draft: no labels at all, a wrapped title, a one-line 印发. */
static const char plain_draft[] =
    "XX县人民政府文件\n"                       /* 1 */
    "X政发〔2025〕12号\n"                      /* 2 */
    "\n"                                       /* 3 */
    "关于做好2025年秋季学期\n"                 /* 4 */
    "开学工作的通知\n"                         /* 5 */
    "\n"                                       /* 6 */
    "各乡镇人民政府,县直各单位:\n"             /* 7 */
    "　　新学期即将开始,现将有关事项通知如下.\n" /* 8 */
    "一、做好开学准备\n"                       /* 9 */
    "(一)排查隐患.\n"                          /* 10 */
    "XX县人民政府\n"                           /* 11 */
    "2025年8月15日\n"                          /* 12 */
    "抄送:县委办公室.\n"                       /* 13 */
    "XX县人民政府办公室 2025年8月15日印发\n";  /* 14 */

static void test_plain_draft(void)
{
    struct gw_doc *d = parse(plain_draft);
    CHECK(d != NULL, "plain draft did not parse");
    if (!d)
        return;
    CHECK_INT(d->kind, GW_KIND_TONGZHI);
    CHECK_STR(d->issuer_mark.s, "XX县人民政府文件");
    CHECK_INT(d->issuer_mark.line, 1);
    CHECK_STR(d->doc_number.s, "X政发〔2025〕12号");
    CHECK_STR(d->title.s, "关于做好2025年秋季学期开学工作的通知");
    CHECK_INT(d->title.line, 4);
    CHECK_STR(d->recipients.s, "各乡镇人民政府，县直各单位");
    CHECK_INT(d->recipients.line, 7);
    CHECK_INT(d->n_body, 3);
    if (d->n_body == 3) {
        CHECK_STR(d->body[0].text.s, "新学期即将开始，现将有关事项通知如下。");
        CHECK_INT(d->body[0].text.line, 8);
        CHECK_INT(d->body[1].type, GW_BLOCK_HEADING1);
        CHECK_INT(d->body[2].type, GW_BLOCK_HEADING2);
        CHECK_STR(d->body[2].text.s, "（一）排查隐患。");
    }
    CHECK_STR(d->signature.s, "XX县人民政府");
    CHECK_INT(d->signature.line, 11);
    CHECK_STR(d->date.s, "2025年8月15日");
    CHECK_STR(d->cc.s, "县委办公室");
    CHECK_INT(d->cc.line, 13);
    CHECK_STR(d->printer.s, "XX县人民政府办公室");
    CHECK_STR(d->print_date.s, "2025年8月15日");
    CHECK_INT(d->print_date.line, 14);
    /* The issuer comes from the signature when no label names it. */
    CHECK_INT(d->n_issuers, 1);
    if (d->n_issuers == 1)
        CHECK_STR(d->issuers[0].s, "XX县人民政府");
    gw_doc_free(&d);
}

static void test_minutes_and_format(void)
{
    struct gw_doc *d = parse("# 市政府第十二次常务会议纪要\n"
                             "会议研究了城市更新工作。\n"
                             "出席：刘志远、张宏\n"
                             "请假：赵强\n"
                             "列席：市财政局负责同志\n");
    CHECK(d != NULL, "minutes did not parse");
    if (d) {
        CHECK_INT(d->kind, GW_KIND_JIYAO);
        CHECK_INT(d->format, GW_FORMAT_MINUTES);
        CHECK_STR(d->attendees.s, "刘志远、张宏");
        CHECK_INT(d->attendees.line, 3);
        CHECK_STR(d->absentees.s, "赵强");
        CHECK_STR(d->observers.s, "市财政局负责同志");
        CHECK_INT(d->n_body, 1);
        CHECK_STR(d->signature.s, NULL);
        CHECK_STR(d->date.s, NULL);
        gw_doc_free(&d);
    }
    d = parse("# 市政府常务会议纪要\n会议议定事项如下：\n一、同意方案。\n");
    CHECK(d && !d->recipients.s && d->n_body == 2, "纪要: a line ending in ： taken as 主送");
    gw_doc_free(&d);
    d = parse("文种：函\n格式：信函\n标题：关于商借场地的函\n主送：XX市文化馆\n"
              "特商借贵馆展厅。\n此函。\n落款：XX市图书馆\n日期：2025年8月20日\n");
    CHECK(d != NULL, "labelled letter did not parse");
    if (d) {
        CHECK_INT(d->kind, GW_KIND_HAN);
        CHECK_INT(d->format, GW_FORMAT_LETTER);
        CHECK(d->format_overridden, "格式： did not mark the format overridden");
        CHECK_STR(d->title.s, "关于商借场地的函");
        CHECK_STR(d->recipients.s, "XX市文化馆");
        CHECK_INT(d->n_body, 2);
        CHECK_STR(d->signature.s, "XX市图书馆");
        CHECK_INT(d->signature.line, 7);
        CHECK_STR(d->date.s, "2025年8月20日");
        gw_doc_free(&d);
    }
    d = parse("格式：ordinary\n# 关于表彰的通报\n全文。\n");
    CHECK(d && d->format == GW_FORMAT_ORDINARY && d->format_overridden && d->kind == GW_KIND_TONGBAO,
          "format override to ordinary");
    gw_doc_free(&d);
}

/* A first line ending in ： that introduces the text ("…如下：") is body, and
 * kinds without 主送 take only a bare list of names as one. */
static void test_colon_line_not_recipients(void)
{
    static const struct {
        const char *text;
        const char *recipients; /* the 主送 wanted, NULL for none */
        int n_body;             /* body blocks wanted */
    } cases[] = {
        {"# 关于春节期间禁止燃放烟花爆竹的通告\n现就有关事项通告如下：\n一、全市禁放。\n"
         "特此通告。\n", NULL, 3},
        {"# 关于发布城市更新条例的公告\n现予公告：\n《临江市城市更新条例》已经通过。\n", NULL, 2},
        {"# 临江市人民政府令\n现发布命令：\n本办法自公布之日起施行。\n", NULL, 2},
        {"文种：决议\n# 临江市人民代表大会关于城市总体规划的决议\n会议审议了规划草案，决议如下：\n"
         "批准该规划。\n", NULL, 2},
        {"# 临江市第七次全国人口普查公报\n普查登记的主要数据：\n全市常住人口为150万人。\n",
         NULL, 2},
        {"# 市政府常务会议纪要\n会议议定：\n一、同意方案。\n", NULL, 2},
        /* 如下 marks a body line in any kind, a 通知 included. */
        {"# 关于开展安全检查的通知\n现将有关事项通知如下：\n一、检查范围。\n", NULL, 2},
        /* A real 主送 stays one: in a 通知, and (for the check to flag) in a 通告. */
        {"# 关于开展安全检查的通知\n各县（市、区）人民政府，市政府各部门：\n请认真执行。\n",
         "各县（市、区）人民政府，市政府各部门", 1},
        {"# 关于禁止燃放烟花爆竹的通告\n全市各单位、广大市民：\n请遵守。\n",
         "全市各单位、广大市民", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct gw_doc *d = parse(cases[i].text);
        CHECK(d != NULL, "case %zu did not parse", i);
        if (!d)
            continue;
        CHECK(str_eq(d->recipients.s, cases[i].recipients), "case %zu: 主送 \"%s\", want \"%s\"",
              i, d->recipients.s ? d->recipients.s : "(null)",
              cases[i].recipients ? cases[i].recipients : "(null)");
        CHECK(d->n_body == cases[i].n_body, "case %zu: %d body blocks, want %d", i, d->n_body,
              cases[i].n_body);
        if (!cases[i].recipients && d->n_body > 0) {
            /* The colon line is the first body block. */
            CHECK(d->body[0].text.line == d->title.line + 1, "case %zu: first body line %d",
                  i, d->body[0].text.line);
        }
        gw_doc_free(&d);
    }
}

/* CRLF line ends, Markdown bold, a title wrapped after "…关于…". */
static void test_line_forms(void)
{
    struct gw_doc *d = parse("XX市人民政府关于开展\r\n"
                             "安全生产大检查的通知\r\n"
                             "各区县人民政府：\r\n"
                             "**一、总体要求**\r\n"
                             "正文。\r\n"
                             "XX市人民政府\r\n"
                             "2025年3月18日\r\n");
    CHECK(d != NULL, "CRLF draft did not parse");
    if (!d)
        return;
    CHECK_STR(d->title.s, "XX市人民政府关于开展安全生产大检查的通知");
    CHECK_INT(d->title.line, 1);
    CHECK_INT(d->n_issuers, 1); /* from the signature, not the title's first line */
    CHECK_STR(d->recipients.s, "各区县人民政府");
    CHECK_INT(d->n_body, 2);
    if (d->n_body == 2) {
        CHECK_INT(d->body[0].type, GW_BLOCK_HEADING1);
        CHECK_STR(d->body[0].text.s, "一、总体要求");
        CHECK_INT(d->body[0].text.line, 4);
    }
    CHECK_STR(d->signature.s, "XX市人民政府");
    CHECK_STR(d->date.s, "2025年3月18日");
    CHECK_INT(d->date.line, 7);
    gw_doc_free(&d);
}

static void test_heading_shapes(void)
{
    static const struct {
        const char *line;
        enum gw_block_type type;
    } cases[] = {
        {"一、总体要求", GW_BLOCK_HEADING1},
        {"十二、其他事项", GW_BLOCK_HEADING1},
        {"二十一、附则", GW_BLOCK_HEADING1},
        {"（一）加强领导", GW_BLOCK_HEADING2},
        {"(三)落实责任", GW_BLOCK_HEADING2},
        {"1.明确分工", GW_BLOCK_HEADING3},
        {"12.按时报送", GW_BLOCK_HEADING3},
        {"3．全角点", GW_BLOCK_HEADING3},
        {"（1）细化", GW_BLOCK_HEADING4},
        {"(2)落实", GW_BLOCK_HEADING4},
        {"3.5亿元资金已经到位。", GW_BLOCK_PARA},
        {"2025年工作要点如下。", GW_BLOCK_PARA},
        {"一是加强领导。", GW_BLOCK_PARA},
        {"（此页无正文）", GW_BLOCK_PARA},
        {"10月1日起施行。", GW_BLOCK_PARA},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "# 关于测试的通知\n各单位：\n%s\n", cases[i].line);
        struct gw_doc *d = parse(text);
        CHECK(d && d->n_body == 1 && d->body[0].type == cases[i].type,
              "\"%s\": type %d, want %d", cases[i].line,
              d && d->n_body ? (int)d->body[0].type : -1, (int)cases[i].type);
        gw_doc_free(&d);
    }
}

static void expect_refusal(const char *text, size_t len, const char *what, const char *needle)
{
    struct gw_err err = {{0}};
    struct gw_doc *doc = (struct gw_doc *)1;
    bool ok = gw_parse_text(text, len, "draft-7.md", &doc, &err);
    CHECK(!ok && doc == NULL, "%s: accepted", what);
    CHECK(strstr(err.msg, "draft-7.md") != NULL, "%s: message does not name the source: %s", what,
          err.msg);
    CHECK(strstr(err.msg, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", what, err.msg,
          needle);
}

static void test_refusals(void)
{
    expect_refusal("# 关于\0的通知\n", 16, "NUL byte", "NUL");
    expect_refusal("# \xB9\xD8\xD3\xDA的通知\n", 12, "GBK bytes", "UTF-8");
    expect_refusal("# 关于\xE5\x85的通知\n", 17, "truncated sequence", "UTF-8");
    expect_refusal("# \xC0\xAF\n", 5, "overlong encoding", "UTF-8");
    expect_refusal("", 0, "empty", "empty");
    expect_refusal(" \n\t\n　\n", strlen(" \n\t\n　\n"), "blank", "empty");
    expect_refusal("<!-- only a comment -->\n", 24, "comment only", "empty");
    const char *no_title = "各单位要认真落实，确保工作取得实效。\n具体要求另行通知。\n";
    expect_refusal(no_title, strlen(no_title), "no title", "title");
    /* A byte-order mark is not an error. */
    struct gw_doc *d = parse("\xEF\xBB\xBF# 关于测试的通知\n正文。\n");
    CHECK(d && d->title.s && strcmp(d->title.s, "关于测试的通知") == 0, "BOM draft");
    gw_doc_free(&d);
}

/* ---- the check on documents built by hand --------------------------------------------- */

static bool has_rule(const struct gw_issue *issues, int n, const char *rule, int line)
{
    for (int i = 0; i < n; i++)
        if (strcmp(issues[i].rule, rule) == 0 && (line < 0 || issues[i].line == line))
            return true;
    return false;
}

static void test_check_built(void)
{
    /* A document built by hand (the drafting path) has no source text. */
    struct gw_doc *d = gw_doc_new();
    d->kind = GW_KIND_TONGZHI;
    gw_text_set(&d->recipients, "各单位", strlen("各单位"), 2);
    gw_doc_add_block(&d->body, &d->n_body, GW_BLOCK_PARA, "按GB/T 9704-2022执行。", 3);
    gw_text_set(&d->signature, "XX局", strlen("XX局"), 4);
    gw_text_set(&d->date, "2025年3月8日", strlen("2025年3月8日"), 5);
    struct gw_issue *issues = NULL;
    int n = 0;
    struct gw_err err = {{0}};
    CHECK(gw_check(d, NULL, 0, &issues, &n, &err), "gw_check failed: %s", err.msg);
    CHECK(has_rule(issues, n, "missing-title", 0), "missing-title not reported");
    CHECK(has_rule(issues, n, "standard-nonexistent", 3), "standard-nonexistent not on line 3");
    CHECK_INT(n, 2);
    for (int i = 1; i < n; i++)
        CHECK(issues[i - 1].line <= issues[i].line, "issues not in line order");
    CHECK(strcmp(gw_severity_name(GW_SEVERITY_ERROR), "错误") == 0 &&
              strcmp(gw_severity_name(GW_SEVERITY_WARNING), "提示") == 0,
          "severity names");
    free(issues);

    /* Dates: every wrong form and a few right ones. */
    static const struct {
        const char *date;
        bool ok;
    } dates[] = {
        {"2025年3月18日", true},   {"2025年12月1日", true},    {"2025年03月18日", false},
        {"2025年3月08日", false},  {"二〇二五年三月十八日", false}, {"2025-3-18", false},
        {"2025.3.18", false},      {"2025/3/18", false},       {"25年3月18日", false},
        {"2025年13月1日", false},  {"2025年3月32日", false},
    };
    gw_text_set(&d->title, "关于测试的通知", strlen("关于测试的通知"), 1);
    free(d->body[0].text.s);
    d->body[0].text.s = strdup("正文。");
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        gw_text_set(&d->date, dates[i].date, strlen(dates[i].date), 5);
        issues = NULL;
        n = 0;
        CHECK(gw_check(d, NULL, 0, &issues, &n, &err), "gw_check failed");
        bool flagged = has_rule(issues, n, "date-format", 5);
        CHECK(flagged != dates[i].ok, "date \"%s\": flagged %d", dates[i].date, (int)flagged);
        CHECK(n == (dates[i].ok ? 0 : 1), "date \"%s\": %d issues", dates[i].date, n);
        free(issues);
    }
    gw_doc_free(&d);
}

/* The check on parsed text, with the rule's line. */
static void test_check_parsed(void)
{
    const char *text = "发文字号：X政发〔2025〕第03号\n"    /* 1 */
                       "# 关于测试的请示\n"                 /* 2 */
                       "XX市人民政府、XX市财政局：\n"        /* 3 */
                       "一、申请经费\n"                      /* 4 */
                       "请批准追加经费。\n"                  /* 5 */
                       "二、申请编制\n"                      /* 6 */
                       "请批准增加编制。\n"                  /* 7 */
                       "附件:1.经费表。\n"                   /* 8 */
                       "XX市教育局\n"                        /* 9 */
                       "2025年3月18日\n";                    /* 10 */
    struct gw_doc *d = parse(text);
    CHECK(d != NULL, "parse");
    if (!d)
        return;
    struct gw_issue *issues = NULL;
    int n = 0;
    struct gw_err err = {{0}};
    CHECK(gw_check(d, text, strlen(text), &issues, &n, &err), "gw_check failed");
    CHECK(has_rule(issues, n, "doc-number-di", 1), "doc-number-di");
    CHECK(has_rule(issues, n, "doc-number-leading-zero", 1), "doc-number-leading-zero");
    CHECK(has_rule(issues, n, "upward-no-signer", 1), "upward-no-signer");
    CHECK(has_rule(issues, n, "qingshi-multiple-recipients", 3), "multiple recipients");
    CHECK(has_rule(issues, n, "qingshi-multiple-matters", -1), "multiple matters");
    /* "请批准…。" closing the last paragraph is an accepted 请示 ending. */
    CHECK(!has_rule(issues, n, "closing-formula", -1), "closing formula");
    CHECK(has_rule(issues, n, "attachment-punctuation", 8), "attachment punctuation");
    CHECK(has_rule(issues, n, "qingshi-no-contact", 10), "no contact line");
    CHECK(!has_rule(issues, n, "mixed-punctuation", 8), "附件: reported twice");
    CHECK(!has_rule(issues, n, "missing-date", -1), "date not found");
    for (int i = 0; i < n; i++)
        CHECK(issues[i].message[0] && issues[i].fix[0], "%s: empty message or fix",
              issues[i].rule);
    free(issues);
    gw_doc_free(&d);
}

/* ---- driver modes ------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

static void dump_text(const char *name, const struct gw_text *t)
{
    if (t->s)
        printf("%-12s %3d  %s\n", name, t->line, t->s);
}

static void dump_blocks(const struct gw_block *b, int n)
{
    for (int i = 0; i < n; i++)
        printf("  block%d     %3d  %s\n", (int)b[i].type, b[i].text.line, b[i].text.s);
}

static void dump(const struct gw_doc *d)
{
    printf("kind %s format %s%s\n", gw_kind_name(d->kind), gw_format_name(d->format),
           d->format_overridden ? " (overridden)" : "");
    dump_text("copy", &d->copy_number);
    dump_text("secrecy", &d->secrecy);
    dump_text("urgency", &d->urgency);
    for (int i = 0; i < d->n_issuers; i++)
        dump_text("issuer", &d->issuers[i]);
    dump_text("mark", &d->issuer_mark);
    dump_text("doc_number", &d->doc_number);
    for (int i = 0; i < d->n_signers; i++)
        dump_text("signer", &d->signers[i]);
    dump_text("title", &d->title);
    dump_text("recipients", &d->recipients);
    dump_blocks(d->body, d->n_body);
    for (int i = 0; i < d->n_attachments; i++) {
        dump_text("att.name", &d->attachments[i].name);
        dump_text("att.title", &d->attachments[i].title);
        dump_blocks(d->attachments[i].blocks, d->attachments[i].n_blocks);
    }
    dump_text("signature", &d->signature);
    dump_text("date", &d->date);
    dump_text("note", &d->note);
    dump_text("attendees", &d->attendees);
    dump_text("absentees", &d->absentees);
    dump_text("observers", &d->observers);
    dump_text("cc", &d->cc);
    dump_text("printer", &d->printer);
    dump_text("print_date", &d->print_date);
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static int run_driver(const char *mode, const char *path)
{
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text) {
        fprintf(stderr, "%s: cannot read\n", path);
        return 2;
    }
    struct gw_err err = {{0}};
    struct gw_doc *doc = NULL;
    if (!gw_parse_text(text, len, path, &doc, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        free(text);
        return 2;
    }
    int rc = 0;
    if (strcmp(mode, "--dump") == 0) {
        dump(doc);
    } else {
        struct gw_issue *issues = NULL;
        int n = 0;
        if (!gw_check(doc, text, len, &issues, &n, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            rc = 2;
        }
        printf("{\"file\": ");
        json_string(path);
        printf(", \"kind\": ");
        json_string(gw_kind_name(doc->kind));
        printf(", \"issues\": [");
        for (int i = 0; i < n; i++) {
            printf("%s{\"line\": %d, \"severity\": \"%s\", \"rule\": ", i ? ", " : "",
                   issues[i].line,
                   issues[i].severity == GW_SEVERITY_ERROR ? "error" : "warning");
            json_string(issues[i].rule);
            printf(", \"message\": ");
            json_string(issues[i].message);
            printf(", \"fix\": ");
            json_string(issues[i].fix);
            printf("}");
            if (issues[i].severity == GW_SEVERITY_ERROR && rc == 0)
                rc = 1;
        }
        printf("]}\n");
        free(issues);
    }
    gw_doc_free(&doc);
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && (strcmp(argv[1], "--dump") == 0 || strcmp(argv[1], "--check") == 0))
        return run_driver(argv[1], argv[2]);
    test_fullwidth_punct();
    test_labelled_draft();
    test_plain_draft();
    test_minutes_and_format();
    test_colon_line_not_recipients();
    test_line_forms();
    test_heading_shapes();
    test_refusals();
    test_check_built();
    test_check_parsed();
    if (n_fail) {
        fprintf(stderr, "%d checks failed\n", n_fail);
        return 1;
    }
    printf("ok\n");
    return 0;
}
