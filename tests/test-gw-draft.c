/* test-gw-draft.c: the drafting side of libwenshu-docs (gw-draft.h).
 *
 * For every kind with a recipe, a draft is composed from a hand-written
 * header JSON and a messy model body (a <think> block, Markdown marks, the
 * title and 主送 repeated, the model's own signature and date, a missing or
 * inline closing formula), then read back by the independent parser
 * (gw_parse_text) and format check (gw_check). The expectations are written
 * by hand from the inputs: the kind, the title, the 主送, the closing formula
 * once as the last paragraph, the signature, the date, the 附注, the 抄送,
 * no leftover marks, and no error-severity issue. Also: the header JSON
 * reader on good and bad answers, the JSON shape per kind, the recipes, and
 * what the prompts must carry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw-check.h"
#include "gw-draft.h"
#include "check.h"

/* Occurrences of needle in s. */
static int count_of(const char *s, const char *needle)
{
    int n = 0;
    size_t m = strlen(needle);
    for (const char *p = strstr(s, needle); p; p = strstr(p + m, needle))
        n++;
    return n;
}

/* ---- composed drafts through the parser and the check ---------------------------------- */

struct draft_case {
    const char *name;
    enum gw_kind kind;
    const char *issuer, *doc_number, *signers, *user_recipients, *date, *contact;
    const char *header_json; /* what the model answered in step 1 */
    const char *body;        /* what the model wrote in step 2 */
    /* expected, by hand */
    const char *title;
    const char *recipients;  /* NULL: none */
    const char *last_para;   /* the last paragraph (the closing, where the kind has one), found
                              * once; NULL: not checked */
    const char *first_para;  /* the first body paragraph */
    const char *signature;   /* NULL: none (纪要) */
    const char *note;        /* NULL: none */
    const char *cc;          /* NULL: none */
    const char *urgency;     /* NULL: none */
    int n_body;              /* body blocks */
    const char *second_para; /* the second body paragraph; NULL: not checked */
};

static const struct draft_case cases[] = {
    {"tongzhi", GW_KIND_TONGZHI, "临江市人民政府", "临政发〔2025〕3号", NULL, NULL,
     "2025年3月18日", NULL,
     "{\"title\":\"关于开展2025年度安全生产大检查的通知\",\"recipients\":[\"各区县人民政府\","
     "\"市政府各部门\"],\"urgency\":\"加急\",\"cc\":[\"市委办公室\",\"市人大常委会办公室。\"]}",
     "<think>\n用户要一份通知，我先想想结构。\n</think>\n"
     "# 关于开展2025年度安全生产大检查的通知\n\n"
     "各区县人民政府、市政府各部门：\n\n"
     "为切实防范化解重大安全风险,经市政府同意,决定在全市范围内开展2025年度安全生产大检查."
     "现将有关事项通知如下：\n\n"
     "## 一、检查范围\n"
     "全市所有生产经营单位，重点是危险化学品、建筑施工和消防安全领域。\n"
     "**二、工作要求**\n"
     "- 各单位要于4月30日前完成自查。\n"
     "- 各区县要将检查情况报市应急管理局。\n\n"
     "特此通知。\n\n"
     "临江市人民政府\n"
     "2025年3月18日\n",
     "关于开展2025年度安全生产大检查的通知", "各区县人民政府、市政府各部门", NULL,
     "为切实防范化解重大安全风险，经市政府同意，决定在全市范围内开展2025年度安全生产大检查。"
     "现将有关事项通知如下：",
     "临江市人民政府", NULL, "市委办公室，市人大常委会办公室", "加急", 7,
     "一、检查范围"},
    {"qingshi", GW_KIND_QINGSHI, "临江市教育局", "临教〔2025〕15号", "周建国", NULL,
     "2025年5月6日", "联系人:李明,电话:0571-87654321",
     "{\"title\":\"关于追加农村学校校舍维修经费的请示报告\",\"recipients\":[\"临江市人民政府\"],"
     "\"urgency\":\"\",\"cc\":[]}",
     "今年以来，我市部分农村学校校舍因连续强降雨出现屋面渗漏、墙体开裂等情况，共有12所学校的"
     "36间教室需要维修加固，预计所需经费480万元。\n"
     "为保障秋季学期正常开学和师生安全，恳请市政府追加农村学校校舍维修经费480万元。\n"
     "临江市教育局\n"
     "二〇二五年五月六日\n",
     "关于追加农村学校校舍维修经费的请示", "临江市人民政府", "妥否，请批示。",
     "今年以来，我市部分农村学校校舍因连续强降雨出现屋面渗漏、墙体开裂等情况，共有12所学校的"
     "36间教室需要维修加固，预计所需经费480万元。",
     "临江市教育局", "联系人：李明，电话：0571-87654321", NULL, NULL, 3, NULL},
    {"baogao", GW_KIND_BAOGAO, "临江市财政局", "临财〔2025〕42号", "王海、陈立", NULL,
     "2025年7月15日", NULL,
     "{\"title\":\"关于2025年上半年财政预算执行情况的报告\",\"recipients\":[\"临江市人民政府\"],"
     "\"urgency\":\"\",\"cc\":[\"市人大常委会预算工作委员会\"]}",
     "好的，我先梳理上半年数据，收入和支出都要写清楚。\n</think>\n"
     "现将我市2025年上半年财政预算执行情况报告如下。\n"
     "一、预算执行基本情况\n"
     "上半年，全市一般公共预算收入完成86.5亿元，同比增长5.2%。\n"
     "二、下半年工作打算\n"
     "我们将继续加强预算执行管理，确保完成全年预算目标。特此报告。\n",
     "关于2025年上半年财政预算执行情况的报告", "临江市人民政府", "特此报告。",
     "现将我市2025年上半年财政预算执行情况报告如下。", "临江市财政局", NULL,
     "市人大常委会预算工作委员会", NULL, 6, NULL},
    {"han", GW_KIND_HAN, "临江市科学技术局", "临科函〔2025〕8号", NULL, "临江职业技术学院",
     "2025年8月4日", "联系人：赵云，电话：0571-86001234",
     "{\"title\":\"关于商请支持开展科技特派员培训的函\",\"recipients\":[\"某学院\"],"
     "\"urgency\":\"\",\"cc\":[]}",
     "临江职业技术学院：\n"
     "　　为提升我市科技特派员服务能力，我局拟于2025年9月举办科技特派员能力提升培训班，"
     "特商请贵院在师资和场地方面给予支持。\n"
     "　　培训所需经费由我局承担。\n"
     "　　特此函告。\n"
     "（盖章）\n"
     "2025年8月4日\n",
     "关于商请支持开展科技特派员培训的函", "临江职业技术学院", "特此函告。",
     "为提升我市科技特派员服务能力，我局拟于2025年9月举办科技特派员能力提升培训班，"
     "特商请贵院在师资和场地方面给予支持。",
     "临江市科学技术局", "联系人：赵云，电话：0571-86001234", NULL, NULL, 3,
     "培训所需经费由我局承担。"},
    {"jiyao", GW_KIND_JIYAO, "临江市人民政府办公室", NULL, NULL, NULL, "2025年6月20日", NULL,
     "{\"title\":\"市政府第十二次常务会议纪要\",\"urgency\":\"\",\"cc\":[\"市委办公室\"]}",
     "**市政府第十二次常务会议纪要**\n"
     "2025年6月20日上午，市长刘志远主持召开市政府第十二次常务会议，研究城市更新等工作。"
     "现将会议议定事项纪要如下：\n"
     "### 一、关于城市更新工作\n"
     "会议强调，要坚持规划引领，统筹推进老旧小区、老旧街区改造。\n"
     "### 二、关于老旧小区改造资金\n"
     "会议同意市财政安排老旧小区改造配套资金1.2亿元。\n"
     "出席：刘志远、张宏、李晓\n"
     "请假：赵强（出差）\n",
     "市政府第十二次常务会议纪要", NULL, NULL,
     "2025年6月20日上午，市长刘志远主持召开市政府第十二次常务会议，研究城市更新等工作。"
     "现将会议议定事项纪要如下：",
     NULL, NULL, "市委办公室", NULL, 5, "一、关于城市更新工作"},
    {"tongbao", GW_KIND_TONGBAO, "临江市应急管理局", "临应急〔2025〕21号", NULL, NULL,
     "2025年8月30日", NULL,
     "{\"title\":\"关于表扬防汛抢险先进集体和先进个人的通报\",\"recipients\":[\"各区县应急管理局\"],"
     "\"urgency\":\"\",\"cc\":[]}",
     "临江市应急管理局关于表扬防汛抢险先进集体和先进个人的通报\n"
     "**一、基本情况**\n"
     "今年入汛以来，全市应急管理系统广大干部职工闻令而动，圆满完成了防汛抢险各项任务。\n"
     "**二、表扬决定**\n"
     "经研究，决定对江北区应急管理局等5个先进集体和张伟等20名先进个人予以通报表扬。\n"
     "**三、有关要求**\n"
     "希望受到表扬的集体和个人珍惜荣誉、再接再厉。\n"
     "临江市应急管理局\n"
     "（盖章）\n"
     "2025年8月30日\n",
     "关于表扬防汛抢险先进集体和先进个人的通报", "各区县应急管理局", NULL, "一、基本情况",
     "临江市应急管理局", NULL, NULL, NULL, 6,
     "今年入汛以来，全市应急管理系统广大干部职工闻令而动，圆满完成了防汛抢险各项任务。"},
    {"yijian", GW_KIND_YIJIAN, "临江市人民政府", "临政发〔2025〕9号", NULL, NULL,
     "2025年4月10日", NULL,
     "{\"title\":\"关于加快发展老年助餐服务的意见。\",\"recipients\":[\"各区县人民政府\"],"
     "\"urgency\":\"\",\"cc\":[]}",
     "为加快发展老年助餐服务，结合我市实际，提出如下意见。\n"
     "一. 总体要求\n"
     "坚持政府引导、社会参与，到2026年底实现城乡社区老年助餐服务全覆盖。\n"
     "二. 主要任务\n"
     "1、完善助餐服务网络。\n"
     "2、提升服务质量，____年底前完成。\n",
     "关于加快发展老年助餐服务的意见", "各区县人民政府", "2.提升服务质量，____年底前完成。",
     "为加快发展老年助餐服务，结合我市实际，提出如下意见。", "临江市人民政府", NULL, NULL,
     NULL, 6, "一、总体要求"},
    {"pifu", GW_KIND_PIFU, "临江市人民政府", "临政复〔2025〕6号", NULL, NULL, "2025年9月12日",
     NULL,
     "{\"title\":\"关于同意调整江北区部分行政区划\",\"recipients\":[\"江北区人民政府\"],"
     "\"urgency\":\"\",\"cc\":[]}",
     "你区《关于调整部分行政区划的请示》（江政〔2025〕9号）收悉。经研究，现批复如下。\n"
     "此复。\n"
     "一、同意将江北区临湖镇的新港村划归滨海街道管辖。\n"
     "二、调整后，你区要认真做好干部群众思想工作。\n"
     "此复\n",
     "关于同意调整江北区部分行政区划的批复", "江北区人民政府", "此复。",
     "你区《关于调整部分行政区划的请示》（江政〔2025〕9号）收悉。经研究，现批复如下。",
     "临江市人民政府", NULL, NULL, NULL, 4, NULL},
    {"jueding", GW_KIND_JUEDING, "临江市人力资源和社会保障局、临江市教育局", "临人社发〔2025〕30号",
     NULL, NULL, "2025年9月5日", NULL,
     "{\"title\":\"关于表彰全市优秀教师的决定\",\"recipients\":[\"各区县人力资源和社会保障局\","
     "\"市属各学校\"],\"urgency\":\"\",\"cc\":[]}",
     "近年来，全市广大教师忠诚党的教育事业，为我市教育事业发展作出了积极贡献。\n"
     "希望受表彰的同志珍惜荣誉，再创佳绩。\n"
     "临江市人力资源和社会保障局\n"
     "临江市教育局\n",
     "关于表彰全市优秀教师的决定", "各区县人力资源和社会保障局、市属各学校", NULL,
     "近年来，全市广大教师忠诚党的教育事业，为我市教育事业发展作出了积极贡献。",
     "临江市人力资源和社会保障局\n临江市教育局", NULL, NULL, NULL, 2, NULL},
    {"mingling", GW_KIND_MINGLING, "临江市人民政府", "第12号", NULL, NULL, "2025年6月18日",
     NULL, "{\"title\":\"临江市人民政府令\",\"urgency\":\"\",\"cc\":[]}",
     "《临江市城市绿化管理办法》已经2025年6月10日市人民政府第十一次常务会议审议通过，"
     "现予公布，自2025年8月1日起施行。\n",
     "临江市人民政府令", NULL, NULL,
     "《临江市城市绿化管理办法》已经2025年6月10日市人民政府第十一次常务会议审议通过，"
     "现予公布，自2025年8月1日起施行。",
     "临江市人民政府", NULL, NULL, NULL, 1, NULL},
    {"tonggao", GW_KIND_TONGGAO, "临江市公安局", NULL, NULL, NULL, "2025年9月20日", NULL,
     "{\"title\":\"关于临江大桥封闭施工期间交通管制的通告\",\"urgency\":\"\",\"cc\":[]}",
     "因临江大桥维修加固工程施工需要，决定对临江大桥实施交通管制。现将有关事项通告如下。\n"
     "一、自2025年10月1日起至12月31日止，临江大桥全桥封闭。\n"
     "二、过江车辆请绕行临江二桥。\n"
     "特此通告。\n",
     "关于临江大桥封闭施工期间交通管制的通告", NULL, "特此通告。",
     "因临江大桥维修加固工程施工需要，决定对临江大桥实施交通管制。现将有关事项通告如下。",
     "临江市公安局", NULL, NULL, NULL, 4, NULL},
    {"gonggao", GW_KIND_GONGGAO, "临江市人民政府", NULL, NULL, NULL, "2025年10月8日", NULL,
     "{\"title\":\"关于临江新区设立的公告\",\"urgency\":\"\",\"cc\":[]}",
     "经省人民政府批准，设立临江新区，管辖临湖镇、滨江街道。\n特此公告。\n",
     "关于临江新区设立的公告", NULL, "特此公告。",
     "经省人民政府批准，设立临江新区，管辖临湖镇、滨江街道。", "临江市人民政府", NULL, NULL,
     NULL, 2, NULL},
    {"gongbao", GW_KIND_GONGBAO, "临江市统计局", NULL, NULL, NULL, "2025年3月1日", NULL,
     "{\"title\":\"临江市2024年国民经济和社会发展统计公报\",\"urgency\":\"\",\"cc\":[]}",
     "2024年，全市地区生产总值1250亿元，比上年增长5.6%。\n",
     "临江市2024年国民经济和社会发展统计公报", NULL, NULL,
     "2024年，全市地区生产总值1250亿元，比上年增长5.6%。", "临江市统计局", NULL, NULL, NULL,
     1, NULL},
    {"jueyi", GW_KIND_JUEYI, "临江市人民代表大会常务委员会", NULL, NULL, NULL, "2025年2月28日",
     NULL, "{\"title\":\"关于批准2025年市级预算调整方案的决议\",\"urgency\":\"\",\"cc\":[]}",
     "临江市第十七届人民代表大会常务委员会第二十次会议审查了市人民政府提出的2025年市级预算调整方案，"
     "决定批准该方案。\n",
     "关于批准2025年市级预算调整方案的决议", NULL, NULL,
     "临江市第十七届人民代表大会常务委员会第二十次会议审查了市人民政府提出的2025年市级预算调整方案，"
     "决定批准该方案。",
     "临江市人民代表大会常务委员会", NULL, NULL, NULL, 1, NULL},
    {"yian", GW_KIND_YIAN, "临江市人民政府", "临政〔2025〕20号", NULL, NULL, "2025年4月2日",
     NULL,
     "{\"title\":\"关于提请审议《临江市城市绿化管理条例（草案）》的议案\","
     "\"recipients\":[\"临江市人民代表大会常务委员会\"],\"urgency\":\"\",\"cc\":[]}",
     "为加强城市绿化管理，市人民政府起草了《临江市城市绿化管理条例（草案）》，"
     "已经市人民政府常务会议讨论通过。现提请审议。\n",
     "关于提请审议《临江市城市绿化管理条例（草案）》的议案", "临江市人民代表大会常务委员会",
     NULL,
     "为加强城市绿化管理，市人民政府起草了《临江市城市绿化管理条例（草案）》，"
     "已经市人民政府常务会议讨论通过。现提请审议。",
     "临江市人民政府", NULL, NULL, NULL, 1, NULL},
};

/* No block holds a leftover of the model's formatting or its own tail. */
static void check_no_leftovers(const struct draft_case *c, const struct gw_doc *doc)
{
    static const char *const marks[] = {"<think>", "</think>", "**", "#", "```", "（盖章）"};
    for (int i = 0; i < doc->n_body; i++) {
        const char *s = doc->body[i].text.s;
        for (size_t k = 0; k < sizeof marks / sizeof marks[0]; k++)
            CHECK(!strstr(s, marks[k]), "%s: body block %d \"%s\" holds \"%s\"", c->name, i, s,
                  marks[k]);
        CHECK(strncmp(s, "- ", 2) != 0, "%s: body block %d is a bullet: %s", c->name, i, s);
        CHECK(strcmp(s, c->title) != 0, "%s: the title repeated in the body", c->name);
        CHECK(strcmp(s, c->date) != 0, "%s: the date line in the body", c->name);
    }
}

/* The expected last paragraph (the closing formula, where the kind has one) is
 * last, and appears once. */
static void check_closing(const struct draft_case *c, const struct gw_doc *doc)
{
    if (!c->last_para)
        return;
    CHECK(doc->n_body > 0, "%s: empty body", c->name);
    if (doc->n_body == 0)
        return;
    CHECK_STR(doc->body[doc->n_body - 1].text.s, c->last_para);
    int n_closing = 0;
    for (int i = 0; i < doc->n_body; i++)
        n_closing += strstr(doc->body[i].text.s, c->last_para) != NULL;
    CHECK(n_closing == 1, "%s: closing \"%s\" appears %d times", c->name, c->last_para,
          n_closing);
}

/* No error-severity issue from the format check. */
static void check_format(const struct draft_case *c, const struct gw_doc *doc, const char *draft)
{
    struct gw_issue *issues = NULL;
    int n_issues = 0;
    struct gw_err err = {{0}};
    CHECK(gw_check(doc, draft, strlen(draft), &issues, &n_issues, &err), "%s: check: %s",
          c->name, err.msg);
    for (int i = 0; i < n_issues; i++)
        CHECK(issues[i].severity != GW_SEVERITY_ERROR, "%s: check error %s at line %d: %s",
              c->name, issues[i].rule, issues[i].line, issues[i].message);
    free(issues);
}

static void run_draft_case(const struct draft_case *c)
{
    struct gw_draft_header header;
    struct gw_err err = {{0}};
    bool ok = gw_draft_header_parse(c->header_json, strlen(c->header_json), &header, &err);
    CHECK(ok, "%s: header parse: %s", c->name, err.msg);
    if (!ok)
        return;
    struct gw_draft_facts facts = {
        .kind = c->kind, .issuer = c->issuer, .doc_number = c->doc_number,
        .signers = c->signers, .recipients = c->user_recipients, .date = c->date,
        .contact = c->contact, .notes = "（测试）"};
    char *draft = gw_draft_compose(&facts, &header, c->body);
    gw_draft_header_clear(&header);
    CHECK(draft != NULL, "%s: compose returned NULL", c->name);
    if (!draft)
        return;
    struct gw_doc *doc = NULL;
    ok = gw_parse_text(draft, strlen(draft), c->name, &doc, &err);
    CHECK(ok, "%s: the composed draft does not parse: %s", c->name, err.msg);
    if (ok) {
        int before = n_fail;
        CHECK_INT(doc->kind, c->kind);
        CHECK_STR(doc->title.s, c->title);
        CHECK_STR(doc->recipients.s, c->recipients);
        CHECK_STR(doc->signature.s, c->signature);
        CHECK_STR(doc->date.s, c->date);
        CHECK_STR(doc->note.s, c->note);
        CHECK_STR(doc->cc.s, c->cc);
        CHECK_STR(doc->urgency.s, c->urgency);
        CHECK_STR(doc->doc_number.s, c->doc_number);
        CHECK_INT(doc->n_body, c->n_body);
        if (doc->n_body > 0)
            CHECK_STR(doc->body[0].text.s, c->first_para);
        if (doc->n_body > 1 && c->second_para)
            CHECK_STR(doc->body[1].text.s, c->second_para);
        check_closing(c, doc);
        check_no_leftovers(c, doc);
        check_format(c, doc, draft);
        if (n_fail != before)
            fprintf(stderr, "---- %s draft:\n%s----\n", c->name, draft);
    }
    gw_doc_free(&doc);
    free(draft);
}

/* Every kind with a recipe has a case above. */
static void test_compose(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_draft_case(&cases[i]);
    for (int k = 0; k < GW_KIND_COUNT; k++) {
        bool covered = false;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            covered |= cases[i].kind == (enum gw_kind)k;
        CHECK(!gw_recipe_for((enum gw_kind)k) || covered, "kind %s has a recipe but no case",
              gw_kind_name((enum gw_kind)k));
    }
}

/* Details of the cases above, one at a time. */
static void test_compose_details(void)
{
    struct gw_draft_header header;
    struct gw_err err = {{0}};
    const char *json = "{\"title\":\"关于开展检查的通知\",\"recipients\":[\"甲局\",\"乙局\"]}";
    CHECK(gw_draft_header_parse(json, strlen(json), &header, &err), "%s", err.msg);
    struct gw_draft_facts facts = {.kind = GW_KIND_QINGSHI, .issuer = "丙局",
                                   .date = "2025年1月2日", .notes = "x"};
    /* A 请示 keeps one 主送 of the model's two, and the title's kind follows the
     * facts: another kind's name at its end is replaced. */
    char *draft = gw_draft_compose(&facts, &header, "请求拨付经费10万元。\n");
    struct gw_doc *doc = NULL;
    CHECK(draft && gw_parse_text(draft, strlen(draft), "qingshi-two", &doc, &err), "%s", err.msg);
    if (doc) {
        CHECK_STR(doc->recipients.s, "甲局");
        CHECK_STR(doc->title.s, "关于开展检查的请示");
        CHECK_STR(doc->body[doc->n_body - 1].text.s, "妥否，请批示。");
        CHECK_INT(doc->n_body, 2);
    }
    gw_doc_free(&doc);
    free(draft);

    /* A thinking block that never closes leaves no body but the closing. */
    facts.kind = GW_KIND_BAOGAO;
    draft = gw_draft_compose(&facts, &header, "<think>\n先想想怎么写报告。\n");
    CHECK(draft && gw_parse_text(draft, strlen(draft), "think-open", &doc, &err), "%s", err.msg);
    if (doc) {
        CHECK_INT(doc->n_body, 1);
        CHECK_STR(doc->body[0].text.s, "特此报告。");
        CHECK_STR(doc->title.s, "关于开展检查的报告");
        CHECK(!strstr(draft, "先想想"), "thinking left in the draft");
    }
    gw_doc_free(&doc);
    free(draft);

    /* The 附件说明 goes after the closing and the attachment page after the
     * 落款, wherever the model put them; a title the model wrapped is one line. */
    facts.kind = GW_KIND_QINGSHI;
    facts.contact = "联系人：李明，电话：12345678";
    const char *json2 = "{\"title\":\"关于追加\\n经费的请示\",\"recipients\":[\"丁\\n局\"]}";
    struct gw_draft_header h2;
    CHECK(gw_draft_header_parse(json2, strlen(json2), &h2, &err), "%s", err.msg);
    draft = gw_draft_compose(&facts, &h2,
                             "恳请追加经费10万元。\n附件：1.经费测算表\n2.维修清单\n妥否，请批示。\n"
                             "丙局\n2025年1月2日\n附件1\n经费测算表\n一、维修：10万元。\n");
    gw_draft_header_clear(&h2);
    CHECK(draft && gw_parse_text(draft, strlen(draft), "attachments", &doc, &err), "%s", err.msg);
    if (doc) {
        CHECK_STR(doc->title.s, "关于追加经费的请示");
        CHECK_STR(doc->recipients.s, "丁局");
        CHECK_INT(doc->n_body, 2);
        CHECK_STR(doc->body[doc->n_body - 1].text.s, "妥否，请批示。");
        CHECK_INT(doc->n_attachments, 2);
        if (doc->n_attachments == 2) {
            CHECK_STR(doc->attachments[0].name.s, "经费测算表");
            CHECK_STR(doc->attachments[0].title.s, "经费测算表");
            CHECK_INT(doc->attachments[0].n_blocks, 1);
            CHECK_STR(doc->attachments[1].name.s, "维修清单");
        }
        CHECK_STR(doc->signature.s, "丙局");
        CHECK_STR(doc->date.s, "2025年1月2日");
        CHECK_STR(doc->note.s, "联系人：李明，电话：12345678");
        struct gw_issue *issues = NULL;
        int n_issues = 0;
        CHECK(gw_check(doc, draft, strlen(draft), &issues, &n_issues, &err), "%s", err.msg);
        for (int i = 0; i < n_issues; i++)
            CHECK(issues[i].severity != GW_SEVERITY_ERROR, "attachments: %s %s", issues[i].rule,
                  issues[i].message);
        free(issues);
        /* The 附件说明 comes after the body, closing included (GB/T 9704-2012). */
        const char *list = strstr(draft, "附件：");
        CHECK(list && strstr(draft, "妥否，请批示。") < list, "附件说明 before the closing:\n%s",
              draft);
    }
    gw_doc_free(&doc);
    free(draft);

    gw_draft_header_clear(&header);
    gw_draft_header_clear(&header); /* twice is harmless */
    CHECK(header.title == NULL && header.n_recipients == 0, "clear left data");
}

/* ---- the header JSON reader -------------------------------------------------------------- */

static void test_header_parse(void)
{
    struct gw_draft_header h;
    struct gw_err err = {{0}};
    const char *good = "{\"title\":\" 关于开展检查的通知 \",\"recipients\":[\"甲局\",\"\",\"乙局\"],"
                       "\"urgency\":\"特急\",\"cc\":[\"丙局\"]}";
    CHECK(gw_draft_header_parse(good, strlen(good), &h, &err), "good: %s", err.msg);
    CHECK_STR(h.title, "关于开展检查的通知");
    CHECK_INT(h.n_recipients, 2);
    if (h.n_recipients == 2) {
        CHECK_STR(h.recipients[0], "甲局");
        CHECK_STR(h.recipients[1], "乙局");
    }
    CHECK_STR(h.urgency, "特急");
    CHECK_INT(h.n_cc, 1);
    gw_draft_header_clear(&h);

    /* Optional keys may be missing; the length bounds the text (no NUL needed). */
    const char *minimal = "{\"title\":\"关于设立新区的公告\"}trailing bytes";
    size_t minimal_len = strlen("{\"title\":\"关于设立新区的公告\"}");
    CHECK(gw_draft_header_parse(minimal, minimal_len, &h, &err), "minimal: %s", err.msg);
    CHECK_STR(h.title, "关于设立新区的公告");
    CHECK_STR(h.urgency, "");
    CHECK_INT(h.n_recipients, 0);
    CHECK_INT(h.n_cc, 0);
    gw_draft_header_clear(&h);

    static const struct {
        const char *json;
        const char *words[2]; /* the message holds both */
    } bad[] = {
        {"{\"recipients\":[\"甲局\"]}", {"\"title\"", "no key"}},
        {"{\"title\":\"   \"}", {"\"title\"", "empty"}},
        {"{\"title\":5}", {"\"title\"", "must be a string, got a number"}},
        {"{\"title\":null}", {"\"title\"", "null"}},
        {"{\"title\":\"关于X的通知\",\"recipients\":\"甲局\"}", {"\"recipients\"", "array"}},
        {"{\"title\":\"关于X的通知\",\"cc\":[\"甲局\",3]}", {"\"cc\"", "item 2"}},
        {"{\"title\":\"关于X的通知\",\"urgency\":[\"特急\"]}", {"\"urgency\"", "an array"}},
        {"{\"title\":\"关于X的通知\",\"urgency\":\"很急\"}", {"\"urgency\"", "很急"}},
        {"标题：关于X的通知", {"not valid JSON", "header JSON"}},
        {"{\"title\":\"关于X的通知\"", {"not valid JSON", "header JSON"}},
        {"[\"关于X的通知\"]", {"expected an object", "an array"}},
        {"", {"header JSON", "header JSON"}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        bool ok = gw_draft_header_parse(bad[i].json, strlen(bad[i].json), &h, &err);
        CHECK(!ok, "bad[%zu] %s: accepted", i, bad[i].json);
        CHECK(strstr(err.msg, bad[i].words[0]) && strstr(err.msg, bad[i].words[1]),
              "bad[%zu] %s: message \"%s\" lacks \"%s\"/\"%s\"", i, bad[i].json, err.msg,
              bad[i].words[0], bad[i].words[1]);
        CHECK(!strchr(err.msg, '\n'), "bad[%zu]: message spans lines", i);
        CHECK(h.title == NULL && h.recipients == NULL && h.cc == NULL && h.urgency == NULL,
              "bad[%zu]: header not cleared", i);
    }
}

/* ---- the JSON schema --------------------------------------------------------------------- */

static const struct eng_schema *prop_named(const struct eng_schema *root, const char *name)
{
    for (int i = 0; i < root->n_properties; i++)
        if (str_eq(root->properties[i].name, name))
            return root->properties[i].schema;
    return NULL;
}

static void test_header_schema(void)
{
    struct gw_draft_schema s;
    gw_draft_header_schema(GW_KIND_QINGSHI, &s);
    const struct eng_schema *root = &s.root;
    CHECK_INT(root->type, ENG_SCHEMA_OBJECT);
    CHECK_INT(root->n_properties, 4);
    CHECK_STR(root->properties[0].name, "title");
    CHECK_STR(root->properties[1].name, "recipients");
    CHECK_STR(root->properties[2].name, "urgency");
    CHECK_STR(root->properties[3].name, "cc");
    const struct eng_schema *t = prop_named(root, "title");
    CHECK_INT(t->type, ENG_SCHEMA_STRING);
    CHECK_STR(t->prefix, "关于");
    CHECK_INT(t->min_chars, 6);
    CHECK_INT(t->max_chars, 50);
    CHECK(t->choices == NULL, "title has choices");
    const struct eng_schema *r = prop_named(root, "recipients");
    CHECK_INT(r->type, ENG_SCHEMA_ARRAY);
    CHECK_INT(r->items->type, ENG_SCHEMA_STRING);
    CHECK_INT(r->min_items, 1);
    CHECK_INT(r->max_items, 1); /* 请示: one 主送 */
    const struct eng_schema *u = prop_named(root, "urgency");
    CHECK_INT(u->type, ENG_SCHEMA_STRING);
    CHECK_INT(u->n_choices, 3);
    for (int i = 0; i < u->n_choices; i++)
        CHECK(str_eq(u->choices[i], "") || str_eq(u->choices[i], "特急") ||
                  str_eq(u->choices[i], "加急"),
              "urgency choice %s", u->choices[i]);
    const struct eng_schema *cc = prop_named(root, "cc");
    CHECK_INT(cc->type, ENG_SCHEMA_ARRAY);
    CHECK_INT(cc->min_items, 0);
    CHECK_INT(cc->max_items, 5);
    CHECK_INT(cc->items->max_chars, 30);

    gw_draft_header_schema(GW_KIND_TONGZHI, &s);
    r = prop_named(&s.root, "recipients");
    CHECK(r && r->max_items >= 2, "通知 takes several 主送");

    /* Kinds without 主送 have no recipients key. */
    static const enum gw_kind none[] = {GW_KIND_GONGGAO, GW_KIND_TONGGAO, GW_KIND_JIYAO,
                                        GW_KIND_GONGBAO, GW_KIND_MINGLING};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        gw_draft_header_schema(none[i], &s);
        CHECK_INT(s.root.n_properties, 3);
        CHECK(!prop_named(&s.root, "recipients"), "%s has recipients", gw_kind_name(none[i]));
        CHECK(prop_named(&s.root, "title") && prop_named(&s.root, "cc"), "%s lacks a field",
              gw_kind_name(none[i]));
    }
    gw_draft_header_schema(GW_KIND_JIYAO, &s);
    CHECK(prop_named(&s.root, "title")->prefix == NULL, "纪要 title has a prefix");
    gw_draft_header_schema(GW_KIND_GONGGAO, &s);
    CHECK_STR(prop_named(&s.root, "title")->prefix, "关于");

    /* What the engine requires of every schema. */
    for (int k = 0; k <= GW_KIND_COUNT; k++) {
        gw_draft_header_schema((enum gw_kind)k, &s);
        CHECK(s.root.n_properties >= 3 && s.root.n_properties <= 4, "kind %d: %d properties", k,
              s.root.n_properties);
        for (int i = 0; i < s.root.n_properties; i++) {
            const struct eng_schema *p = s.root.properties[i].schema;
            if (p->type == ENG_SCHEMA_ARRAY) {
                CHECK(p->max_items >= p->min_items && p->max_items > 0,
                      "kind %d %s: items %d..%d", k, s.root.properties[i].name, p->min_items,
                      p->max_items);
                p = p->items;
            }
            CHECK(p->n_choices <= 32, "kind %d: too many choices", k);
            CHECK(p->max_chars == 0 || p->max_chars >= p->min_chars, "kind %d: chars", k);
        }
    }
}

/* ---- recipes and prompts ---------------------------------------------------------------- */

static void test_recipes(void)
{
    static const enum gw_kind required[] = {GW_KIND_TONGZHI, GW_KIND_QINGSHI, GW_KIND_BAOGAO,
                                            GW_KIND_HAN, GW_KIND_JIYAO, GW_KIND_TONGBAO,
                                            GW_KIND_YIJIAN, GW_KIND_PIFU};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        const struct gw_recipe *r = gw_recipe_for(required[i]);
        CHECK(r != NULL, "no recipe for %s", gw_kind_name(required[i]));
        if (!r)
            continue;
        CHECK_INT(r->kind, required[i]);
        CHECK(strstr(r->purpose, "适用于"), "%s purpose: %s", gw_kind_name(r->kind), r->purpose);
        CHECK(strstr(r->title_hint, gw_kind_name(r->kind)), "%s title hint: %s",
              gw_kind_name(r->kind), r->title_hint);
        const char *closing = gw_kind_closing(r->kind);
        CHECK(!closing || strstr(r->structure, closing), "%s structure lacks %s",
              gw_kind_name(r->kind), closing ? closing : "");
    }
    CHECK_INT(gw_recipe_for(GW_KIND_QINGSHI)->max_recipients, 1);
    CHECK(strstr(gw_recipe_for(GW_KIND_QINGSHI)->structure, "一文一事"), "请示: 一文一事");
    CHECK(strstr(gw_recipe_for(GW_KIND_BAOGAO)->structure, "不得夹带请示事项"), "报告");
    static const enum gw_kind none[] = {GW_KIND_GONGGAO, GW_KIND_TONGGAO, GW_KIND_JIYAO,
                                        GW_KIND_GONGBAO, GW_KIND_MINGLING};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        CHECK_INT(gw_recipe_for(none[i])->max_recipients, 0);
    CHECK(gw_recipe_for(GW_KIND_UNKNOWN) == NULL, "a recipe for UNKNOWN");
}

static void test_prompts(void)
{
    /* One long material (7000 梅, cut at 6000) and one short one, two images. */
    size_t long_len = 7000 * strlen("梅");
    char *long_text = malloc(long_len + 1);
    for (size_t i = 0; i < long_len; i += strlen("梅"))
        memcpy(long_text + i, "梅", strlen("梅"));
    long_text[long_len] = '\0';
    struct gw_draft_material materials[] = {{"long.txt", long_text}, {"short.docx", "竹兰菊。"}};
    struct gw_draft_facts facts = {.kind = GW_KIND_QINGSHI, .issuer = "临江市教育局",
                                   .date = "2025年5月6日", .notes = "追加维修经费480万元",
                                   .materials = materials, .n_materials = 2, .n_images = 2};
    char *sys = gw_draft_system_prompt(&facts);
    CHECK(sys && strstr(sys, "GB/T 9704-2012") && strstr(sys, "党政机关公文处理工作条例") &&
              strstr(sys, "不编造") && strstr(sys, "2025年3月18日") && strstr(sys, "全角"),
          "system prompt: %s", sys ? sys : "(null)");
    free(sys);

    char *p = gw_draft_header_prompt(&facts);
    CHECK(p != NULL, "header prompt NULL");
    if (p) {
        CHECK_INT(count_of(p, "梅"), 6000);
        CHECK_INT(count_of(p, "（以下略）"), 1);
        CHECK(strstr(p, "「材料：long.txt」") && strstr(p, "「材料：short.docx」") &&
                  strstr(p, "竹兰菊。"),
              "materials missing");
        CHECK(strstr(p, "（以下略）") > strstr(p, "梅") && strstr(p, "（以下略）") < strstr(p, "竹"),
              "the cut mark is not after the long material");
        CHECK_INT(count_of(p, ENG_MEDIA_MARKER), 2);
        CHECK(strstr(p, "图片1：" ENG_MEDIA_MARKER) && strstr(p, "图片2：" ENG_MEDIA_MARKER),
              "image lines");
        CHECK(strstr(p, "追加维修经费480万元") && strstr(p, "临江市教育局"), "facts missing");
        CHECK(strstr(p, "请示适用于向上级机关请求指示、批准"), "purpose missing");
        CHECK(strstr(p, "请只输出如下JSON"), "JSON request missing");
        CHECK(strstr(p, "{\"title\":\"关于……的请示\",\"recipients\":[\"……\"],\"urgency\":\"\","
                        "\"cc\":[]}"),
              "JSON example: %s", p);
    }
    free(p);

    facts.kind = GW_KIND_JIYAO;
    facts.n_materials = 0;
    facts.n_images = 0;
    p = gw_draft_header_prompt(&facts);
    CHECK(p && !strstr(p, "recipients") && !strstr(p, ENG_MEDIA_MARKER) && !strstr(p, "材料："),
          "纪要 prompt: %s", p ? p : "(null)");
    free(p);

    facts.kind = GW_KIND_HAN;
    facts.recipients = "临江职业技术学院";
    p = gw_draft_header_prompt(&facts);
    CHECK(p && strstr(p, "\"recipients\":[\"临江职业技术学院\"]"), "user 主送 in the example");
    free(p);

    struct gw_draft_header h = {.title = "关于商请支持培训的函", .urgency = ""};
    char *body = gw_draft_body_prompt(&facts, &h);
    CHECK(body && strstr(body, "关于商请支持培训的函") && strstr(body, "临江职业技术学院") &&
              strstr(body, "此函。") && strstr(body, "不写标题"),
          "body prompt: %s", body ? body : "(null)");
    free(body);
    free(long_text);
}

int main(void)
{
    test_recipes();
    test_header_schema();
    test_header_parse();
    test_prompts();
    test_compose();
    test_compose_details();
    if (n_fail) {
        fprintf(stderr, "%d check(s) failed\n", n_fail);
        return 1;
    }
    printf("test-gw-draft: all checks passed\n");
    return 0;
}
