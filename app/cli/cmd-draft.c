/* cmd-draft.c: `wenshu-cli draft`: a 公文 drafted by the model, laid out to
 * GB/T 9704-2012 and exported.
 *
 *   wenshu-cli draft -m MODEL.gguf --kind 通知 --issuer "XX市人民政府" --facts notes.txt
 *       [--attach a.docx]... [--mmproj P.gguf --image p.png]... [--to 主送]
 *       [--number 发文字号] [--signer 签发人] [--date 2025年3月18日] [--contact 附注]
 *       [-o out.docx] [--pdf out.pdf] [--md draft.md] [--sealed]
 *       [-n BODY_TOKENS] [-c CTX] [-t N] [--device D] [--temp ...]
 *   wenshu-cli draft --remote URL --remote-model M [--api-key-env VAR] [--image p.png]... ...
 *
 * With --remote both steps run on an OpenAI-compatible endpoint instead of a
 * local model: no -m, and --mmproj is refused (the endpoint reads the
 * --image files itself, sent as data URLs). An endpoint's error (a refused
 * key, 429, a timeout, a dropped stream) names the URL, and no output file
 * is written.
 *
 * Two steps on one session (gw-draft.h): the header as a JSON object the
 * sampler enforces (printed to stderr), then the body, streamed to stdout.
 * The draft is composed as light Markdown (saved with --md), parsed, checked
 * (the check's findings go to stderr as advice) and exported.
 */
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "cli.h"
#include "gongwen.h"
#include "gw-check.h"
#include "gw-draft.h"
#include "gw-ingest.h"

#define MAX_ATTACH 16

struct draft_options {
    const char *model_path, *kind, *issuer, *facts_path, *to, *number, *signer, *date, *contact;
    const char *docx, *pdf, *md;
    const char *attach[MAX_ATTACH];
    int n_attach;
    bool sealed;
    int n_predict, n_ctx, n_threads, device;
    struct eng_sampler_params sampler;
    struct cli_media_options media;
    struct cli_remote_options remote; /* remote.url: an endpoint instead of -m */
};

static volatile int cancel_flag;

static void on_sigint(int sig)
{
    (void)sig;
    cancel_flag = 1;
}

static bool parse_option(int argc, char **argv, int *i, struct draft_options *o, bool *bad)
{
    const char *v = NULL;
    bool missing = false;
    bool hit = true;
    if (cli_remote_opt(argc, argv, i, &o->remote, &missing) ||
        cli_opt(argc, argv, i, "-m", "--model", &o->model_path, &missing) ||
        cli_opt(argc, argv, i, NULL, "--kind", &o->kind, &missing) ||
        cli_opt(argc, argv, i, NULL, "--issuer", &o->issuer, &missing) ||
        cli_opt(argc, argv, i, NULL, "--facts", &o->facts_path, &missing) ||
        cli_opt(argc, argv, i, NULL, "--to", &o->to, &missing) ||
        cli_opt(argc, argv, i, NULL, "--number", &o->number, &missing) ||
        cli_opt(argc, argv, i, NULL, "--signer", &o->signer, &missing) ||
        cli_opt(argc, argv, i, NULL, "--date", &o->date, &missing) ||
        cli_opt(argc, argv, i, NULL, "--contact", &o->contact, &missing) ||
        cli_opt(argc, argv, i, "-o", "--output", &o->docx, &missing) ||
        cli_opt(argc, argv, i, NULL, "--pdf", &o->pdf, &missing) ||
        cli_opt(argc, argv, i, NULL, "--md", &o->md, &missing)) {
    } else if (cli_opt(argc, argv, i, NULL, "--attach", &v, &missing)) {
        if (!missing && o->n_attach == MAX_ATTACH) {
            cli_fail("draft: at most %d --attach files", MAX_ATTACH);
            *bad = true;
        } else if (!missing) {
            o->attach[o->n_attach++] = v;
        }
    } else if (cli_opt(argc, argv, i, "-n", "--n-predict", &v, &missing)) {
        *bad = !missing && (!cli_parse_int(v, &o->n_predict) || o->n_predict < 1);
    } else if (cli_opt(argc, argv, i, "-c", "--ctx", &v, &missing)) {
        *bad = !missing && (!cli_parse_int(v, &o->n_ctx) || o->n_ctx < 256);
    } else if (cli_opt(argc, argv, i, "-t", "--threads", &v, &missing)) {
        *bad = !missing && (!cli_parse_int(v, &o->n_threads) || o->n_threads < 0);
    } else if (cli_opt(argc, argv, i, NULL, "--device", &v, &missing)) {
        *bad = !missing && !eng_device_parse(v, &o->device);
    } else if (strcmp(argv[*i], "--sealed") == 0) {
        o->sealed = true;
    } else {
        hit = false;
    }
    if (*bad && v)
        cli_fail("draft: bad value for %s: %s", argv[*i - 1], v);
    *bad = *bad || missing;
    return hit;
}

static bool parse_draft_options(int argc, char **argv, struct draft_options *o)
{
    *o = (struct draft_options){.n_predict = 1500, .n_ctx = 8192,
                                .device = eng_model_params_default().device,
                                .sampler = eng_sampler_params_default()};
    cli_media_options_init(&o->media);
    for (int i = 1; i < argc; i++) {
        bool bad = false;
        if (!parse_option(argc, argv, &i, o, &bad) && !cli_sampler_opt(argc, argv, &i, &o->sampler,
                                                                        &bad) &&
            !cli_media_opt(argc, argv, &i, &o->media, &bad)) {
            cli_fail("draft: unknown option %s", argv[i]);
            return false;
        }
        if (bad)
            return false;
    }
    if (!cli_remote_check("draft", &o->remote))
        return false;
    if (o->remote.url && (o->model_path || o->media.mmproj)) {
        cli_fail("draft: --remote replaces the local model: give neither -m nor --mmproj (the "
                 "endpoint reads the --image files itself)");
        return false;
    }
    const char *missing = !o->model_path && !o->remote.url
                              ? "a model (-m MODEL.gguf or --remote URL)"
                          : !o->kind     ? "a kind (--kind 通知)"
                          : !o->issuer   ? "the issuing agency (--issuer 名称)"
                          : !o->facts_path ? "the facts (--facts NOTES.txt|.docx|.pdf)"
                          : !o->docx && !o->pdf && !o->md ? "an output (-o OUT.docx, --pdf OUT.pdf "
                                                            "or --md DRAFT.md)"
                                                          : NULL;
    if (missing) {
        cli_fail("draft: no %s given", missing);
        return false;
    }
    return true;
}

/* "2025年3月18日" for today. */
static void today(char *out, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    snprintf(out, size, "%d年%d月%d日", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* The text of every input file: [0] the facts, then the attachments. */
struct draft_inputs {
    char *facts;
    char *texts[MAX_ATTACH];            /* owned */
    char *names[MAX_ATTACH];            /* owned copies of the base names */
    struct gw_draft_material materials[MAX_ATTACH];
};

static void inputs_free(struct draft_inputs *in)
{
    free(in->facts);
    for (int i = 0; i < MAX_ATTACH; i++) {
        free(in->texts[i]);
        free(in->names[i]);
    }
}

/* Read a file through gw-ingest; false after printing why. */
static bool ingest(const char *path, char **text)
{
    size_t len = 0;
    struct gw_err err = {{0}};
    if (!gw_ingest_file(path, text, &len, &err)) {
        cli_fail("%s", err.msg);
        return false;
    }
    return true;
}

static bool read_inputs(const struct draft_options *o, struct draft_inputs *in)
{
    if (!ingest(o->facts_path, &in->facts))
        return false;
    for (int i = 0; i < o->n_attach; i++) {
        char *copy = strdup(o->attach[i]);
        in->names[i] = copy ? strdup(basename(copy)) : NULL;
        free(copy);
        if (!in->names[i] || !ingest(o->attach[i], &in->texts[i]))
            return false;
        in->materials[i] = (struct gw_draft_material){in->names[i], in->texts[i]};
    }
    return true;
}

/* ---- the model ------------------------------------------------------------------------- */

struct draft_run {
    WenshuRemoteEndpoint *remote; /* owned; NULL: the local model below */
    const char *image_paths[CLI_MAX_MEDIA]; /* [n_images] the --image files, for remote */
    int n_images;
    struct eng_model *model;
    struct eng_session *session;
    struct cli_media_set media;
    const struct draft_options *o;
};

static char *render(struct draft_run *r, const struct eng_chat_message *msgs, size_t n)
{
    struct eng_chat_params cp = eng_chat_params_default();
    cp.enable_thinking = false;
    char *prompt = NULL;
    struct eng_err err;
    if (eng_chat_render(r->model, msgs, n, &cp, &prompt, &err) != ENG_STATUS_OK)
        cli_fail("%s", err.msg);
    return prompt;
}

static int generate(struct draft_run *r, const int32_t *prompt, size_t n_prompt, int n_predict,
                    const struct eng_schema *schema, struct cli_text_sink *sink)
{
    struct eng_generate_params gp = eng_generate_params_default();
    gp.n_predict = n_predict;
    gp.sampler = r->o->sampler;
    gp.on_token = cli_sink_piece;
    gp.user_data = sink;
    gp.cancel = &cancel_flag;
    gp.schema = schema;
    struct eng_err err;
    enum eng_status st = eng_session_generate(r->session, prompt, n_prompt, &gp, NULL, NULL,
                                              &err);
    if (st == ENG_STATUS_CANCELLED)
        return cli_fail("draft: stopped; nothing was written");
    if (st)
        return cli_fail("%s: %s", r->o->model_path, err.msg);
    return 0;
}

/* Step 1 on the endpoint; frees msgs' contents. */
static int remote_header(struct draft_run *r, const struct gw_draft_facts *facts,
                         struct eng_chat_message *msgs, struct cli_text_sink *json)
{
    int status = 1;
    struct gw_draft_schema schema;
    gw_draft_header_schema(facts->kind, &schema);
    fprintf(stderr, "wenshu-cli: 版头（%s）：", r->o->remote.url);
    json->echo = stderr;
    if (msgs[0].content && msgs[1].content)
        status = cli_remote_turn(r->remote, msgs, 2, r->image_paths, r->n_images,
                                 &r->o->sampler, &schema.root, 600, &cancel_flag, json);
    else
        cli_fail("out of memory");
    if (!status)
        fprintf(stderr, "\n");
    free((char *)msgs[0].content);
    free((char *)msgs[1].content);
    return status;
}

/* Step 1: the header. *prompt1 keeps the rendered prompt, *n_prompt1 the
 * cache rows it took, for step 2. */
static int draft_header(struct draft_run *r, const struct gw_draft_facts *facts, char **prompt1,
                        int *n_prompt1, struct cli_text_sink *json)
{
    char *system = gw_draft_system_prompt(facts);
    char *user = gw_draft_header_prompt(facts);
    struct eng_chat_message msgs[2] = {{"system", system}, {"user", user}};
    if (r->remote)
        return remote_header(r, facts, msgs, json);
    *prompt1 = system && user ? render(r, msgs, 2) : NULL;
    free(system);
    free(user);
    if (!*prompt1 || cli_eval_with_media(r->model, r->session, *prompt1, &r->media, &cancel_flag))
        return 1;
    *n_prompt1 = eng_session_n_past(r->session);
    struct gw_draft_schema schema;
    gw_draft_header_schema(facts->kind, &schema);
    fprintf(stderr, "wenshu-cli: 版头（%d 个提示词元）：", *n_prompt1);
    json->echo = stderr;
    int status = generate(r, NULL, 0, 600, &schema.root, json);
    fprintf(stderr, "\n");
    return status;
}

/* Step 2: the body, after the header's JSON as the assistant's turn. */
static int draft_body(struct draft_run *r, const struct gw_draft_facts *facts,
                      const struct gw_draft_header *header, const char *prompt1, int n_prompt1,
                      const char *json, struct cli_text_sink *body)
{
    char *system = gw_draft_system_prompt(facts);
    char *user1 = gw_draft_header_prompt(facts);
    char *user2 = gw_draft_body_prompt(facts, header);
    struct eng_chat_message msgs[4] = {
        {"system", system}, {"user", user1}, {"assistant", json}, {"user", user2}};
    if (r->remote) {
        body->echo = stdout;
        int status = system && user1 && user2
                         ? cli_remote_turn(r->remote, msgs, 4, r->image_paths, r->n_images,
                                           &r->o->sampler, NULL, r->o->n_predict, &cancel_flag,
                                           body)
                         : cli_fail("out of memory");
        printf("\n");
        free(system);
        free(user1);
        free(user2);
        return status;
    }
    char *prompt2 = system && user1 && user2 ? render(r, msgs, 4) : NULL;
    free(system);
    free(user1);
    free(user2);
    if (!prompt2)
        return 1;
    int status = 0;
    size_t len1 = strlen(prompt1);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    struct eng_err err;
    if (strncmp(prompt2, prompt1, len1) == 0) {
        /* the first prompt (and its media) stays in the cache */
        eng_session_truncate(r->session, n_prompt1);
        if (eng_tokenize(r->model, prompt2 + len1, strlen(prompt2 + len1), true, &ids, &n_ids,
                         &err))
            status = cli_fail("%s", err.msg);
    } else {
        eng_session_reset(r->session);
        status = cli_eval_with_media(r->model, r->session, prompt2, &r->media, &cancel_flag);
    }
    if (!status) {
        body->echo = stdout;
        status = generate(r, ids, n_ids, r->o->n_predict, NULL, body);
        printf("\n");
    }
    free(ids);
    free(prompt2);
    return status;
}

/* ---- the document ------------------------------------------------------------------------ */

/* Parse the composed draft, report the check, export. */
static int finish_document(const struct draft_options *o, const char *markdown)
{
    GError *gerr = NULL;
    if (o->md && !g_file_set_contents(o->md, markdown, -1, &gerr)) { /* temp file + rename */
        cli_fail("%s: cannot write the draft: %s", o->md, gerr->message);
        g_error_free(gerr);
        return 1;
    }
    struct gw_doc *doc = NULL;
    struct gw_err err = {{0}};
    if (!gw_parse_text(markdown, strlen(markdown), o->md ? o->md : "(draft)", &doc, &err))
        return cli_fail("the composed draft does not parse: %s", err.msg);
    doc->sealed = o->sealed;
    struct gw_issue *issues = NULL;
    int n_issues = 0;
    if (gw_check(doc, markdown, strlen(markdown), &issues, &n_issues, &err)) {
        for (int i = 0; i < n_issues; i++)
            fprintf(stderr, "wenshu-cli: 核稿 第%d行 [%s] %s；建议：%s\n", issues[i].line,
                    gw_severity_name(issues[i].severity), issues[i].message, issues[i].fix);
    }
    free(issues);
    int status = (o->docx || o->pdf) ? cli_export_gongwen(doc, o->docx, o->pdf, NULL, 0) : 0;
    gw_doc_free(&doc);
    return status;
}

static bool fill_facts(const struct draft_options *o, const struct draft_inputs *in,
                       const char *date, int n_images, struct gw_draft_facts *facts)
{
    *facts = (struct gw_draft_facts){
        .issuer = o->issuer, .doc_number = o->number, .signers = o->signer,
        .recipients = o->to, .date = date, .contact = o->contact, .notes = in->facts,
        .materials = in->materials, .n_materials = o->n_attach, .n_images = n_images};
    if (!gw_kind_parse(o->kind, &facts->kind) || !gw_recipe_for(facts->kind)) {
        cli_fail("draft: no recipe for the kind %s (通知, 请示, 报告, 函, 纪要, 通报, 意见, 批复 ...)",
                 o->kind);
        return false;
    }
    return true;
}

static int run_draft(struct draft_run *r, const struct gw_draft_facts *facts)
{
    struct cli_text_sink json = {0}, body = {0};
    struct gw_draft_header header = {0};
    struct gw_err err = {{0}};
    char *prompt1 = NULL, *markdown = NULL;
    int n_prompt1 = 0;
    int status = draft_header(r, facts, &prompt1, &n_prompt1, &json);
    if (!status && !gw_draft_header_parse(json.text ? json.text : "", json.len, &header, &err))
        status = cli_fail("the header JSON does not parse: %s", err.msg);
    if (!status)
        status = draft_body(r, facts, &header, prompt1, n_prompt1, json.text, &body);
    if (!status && !(markdown = gw_draft_compose(facts, &header, body.text ? body.text : "")))
        status = cli_fail("out of memory");
    if (!status)
        status = finish_document(r->o, markdown);
    free(markdown);
    free(prompt1);
    free(json.text);
    free(body.text);
    gw_draft_header_clear(&header);
    return status;
}

/* Both steps on the endpoint; the --image files go as data URLs. */
static int run_remote_draft(struct draft_run *r, const struct gw_draft_facts *facts)
{
    for (int i = 0; i < r->o->media.n_items; i++)
        r->image_paths[r->n_images++] = r->o->media.items[i].path;
    r->remote = cli_remote_endpoint_new(&r->o->remote);
    int status = run_draft(r, facts);
    wenshu_remote_endpoint_free(&r->remote);
    return status;
}

int cmd_draft(int argc, char **argv)
{
    struct draft_options o;
    if (!parse_draft_options(argc, argv, &o))
        return 2;
    char date[64];
    if (!o.date)
        today(date, sizeof date);
    struct draft_inputs in = {0};
    struct gw_draft_facts facts;
    if (!read_inputs(&o, &in) ||
        !fill_facts(&o, &in, o.date ? o.date : date, o.media.n_items, &facts)) {
        inputs_free(&in);
        return 2;
    }
    signal(SIGINT, on_sigint);
    struct draft_run r = {.o = &o};
    if (o.remote.url) {
        int status = run_remote_draft(&r, &facts);
        inputs_free(&in);
        return status;
    }
    r.model = cli_load_model_and_media(o.model_path, o.n_threads, o.device, false, &o.media,
                                       &r.media);
    struct eng_session_params sp = eng_session_params_default();
    sp.n_ctx = o.n_ctx;
    sp.n_threads = o.n_threads;
    struct eng_err err;
    int status = 1;
    if (r.model && eng_session_new(r.model, &sp, &r.session, &err) != ENG_STATUS_OK)
        cli_fail("%s: %s", o.model_path, err.msg);
    else if (r.model)
        status = run_draft(&r, &facts);
    eng_session_free(&r.session);
    if (r.model)
        cli_media_set_free(&r.media);
    eng_model_free(&r.model);
    inputs_free(&in);
    return status;
}
