/* gw-draft.h: drafting a 公文 with the model: one recipe per kind, the
 * prompts, the header's JSON shape, and the draft put together.
 *
 * Drafting runs in two steps (wenshu-cli draft, later the GUI, drives the
 * model; this file only builds text and reads it back):
 *  1. The header. The chat is [system, user = gw_draft_header_prompt()];
 *     the model answers with one JSON object of the shape
 *     gw_draft_header_schema() describes, which the sampler enforces
 *     (eng_generate_params.schema), so that even a small model cannot break it.
 *     gw_draft_header_parse() reads it back with json-glib.
 *  2. The body. The chat goes on with [assistant = the JSON, user =
 *     gw_draft_body_prompt()]; the model writes the body as free text, which
 *     streams to the user.
 * gw_draft_compose() then writes the whole draft as light Markdown, the
 * format gw_parse_text() reads (so the clerk can edit it and run `format`
 * again): header lines, title, 主送, the cleaned body, the kind's closing
 * formula (added when the model left it out), signature, date, 附注, 抄送.
 *
 * Ownership: every char * returned is malloc'd and the caller's; a header
 * owns its strings (gw_draft_header_clear()). Thread-safety: plain data.
 */
#ifndef WENSHU_GW_DRAFT_H
#define WENSHU_GW_DRAFT_H

#include "gongwen.h"
#include "wenshu-engine.h"

/* How to draft one kind. */
struct gw_recipe {
    enum gw_kind kind;
    const char *purpose;     /* what the kind is for (条例 Art. 8), one sentence */
    const char *structure;   /* the body's parts in order, as guidance to the model */
    const char *title_hint;  /* "关于……的通知" */
    int max_recipients;      /* 请示: 1 (one 主送 only); 0: the kind has no 主送 (公告, 纪要) */
};

/* The recipe of a kind; NULL when the kind has none. At least 通知, 请示, 报告,
 * 函, 纪要, 通报, 意见 and 批复 have one. */
const struct gw_recipe *gw_recipe_for(enum gw_kind kind);

/* A piece of material the user gave (the text of a .txt, .docx or .pdf). */
struct gw_draft_material {
    const char *name; /* the file's base name, for the prompt */
    const char *text; /* UTF-8 */
};

/* What the user said. Strings may be NULL where noted. */
struct gw_draft_facts {
    enum gw_kind kind;
    const char *issuer;       /* 发文机关; joint issuers separated by "、" (required) */
    const char *doc_number;   /* 发文字号 "X政发〔2025〕3号", or NULL */
    const char *signers;      /* 签发人, "、"-separated, or NULL */
    const char *recipients;   /* 主送 as the user wants it, or NULL: the model proposes */
    const char *date;         /* 成文日期 "2025年3月18日" (required) */
    const char *contact;      /* 附注 contact line "联系人：…，电话：…", or NULL */
    const char *notes;        /* the user's facts (required, UTF-8) */
    const struct gw_draft_material *materials; /* [n_materials] */
    int n_materials;
    int n_images;             /* images the vision model sees: the header prompt holds one
                               * ENG_MEDIA_MARKER per image, in order */
};

/* The header the model chose. */
struct gw_draft_header {
    char *title;              /* "关于…的通知" */
    char **recipients;        /* [n_recipients] */
    int n_recipients;
    char *urgency;            /* "", "特急" or "加急" */
    char **cc;                /* [n_cc] 抄送 */
    int n_cc;
};

/* The JSON schema of step 1: an object with title, recipients (only for
 * kinds that have a 主送), urgency and cc. Every node lives in the struct,
 * which must not move while the schema is in use; strings are static. */
struct gw_draft_schema {
    struct eng_schema root;                /* the object */
    struct eng_schema_property props[4];   /* [root.n_properties] */
    struct eng_schema title, recipients, recipient, urgency, cc, cc_item;
};
void gw_draft_header_schema(enum gw_kind kind, struct gw_draft_schema *schema);

/* The system message (the drafting rules, common to every kind). */
char *gw_draft_system_prompt(const struct gw_draft_facts *facts);
/* Step 1's user message: the recipe, the facts, the materials, the images'
 * markers, and the JSON to answer with. */
char *gw_draft_header_prompt(const struct gw_draft_facts *facts);
/* Read the model's JSON. Errors: false with err quoting the problem. */
bool gw_draft_header_parse(const char *json, size_t len, struct gw_draft_header *header,
                           struct gw_err *err);
void gw_draft_header_clear(struct gw_draft_header *header);
/* Step 2's user message: write the body for this header. */
char *gw_draft_body_prompt(const struct gw_draft_facts *facts,
                           const struct gw_draft_header *header);

/* The whole draft as light Markdown. The body is cleaned first: a leading
 * <think>…</think> block, Markdown marks (#, **, list bullets), a repeated
 * title or 主送 line, and the model's own signature and date lines are
 * dropped; the kind's closing formula is added as the last paragraph when
 * the body does not end with it. NULL when out of memory. */
char *gw_draft_compose(const struct gw_draft_facts *facts, const struct gw_draft_header *header,
                       const char *body);

#endif /* WENSHU_GW_DRAFT_H */
