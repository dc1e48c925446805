/* chat.c: chat prompts per template family, written from the published
 * Jinja templates (never executed).
 *
 * chat_detect() recognises the family from marker strings in
 * tokenizer.chat_template; chat_render() reproduces, byte for byte, what the
 * family's real template renders for plain-text system/user/assistant turns
 * (tests/reference/chat_ref.py renders the real templates with jinja2 and
 * compares). Tools, images as structured content and other template
 * features are not rendered; an image in SmolVLM is the text "<image>" at the
 * start of a turn. Fixed choices:
 *  - Llama 3.1+: "Today Date" is the template's own fallback, 26 Jul 2024
 *    (the Llama 3.2 template asks strftime_now for today; a fixed date keeps
 *    prompts reproducible).
 *  - BOS text (<|begin_of_text|>, <｜begin▁of▁sentence｜>) is part of the
 *    prompt as the template writes it; the caller tokenizes with
 *    parse_special and must not add a second BOS.
 *  - A default system text (the family's, or params->default_system) is
 *    rendered exactly as a system message placed first would be.
 */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "engine-internal.h"

#define QWEN25_DEFAULT_SYSTEM "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
#define CHATML_DEFAULT_SYSTEM "You are a helpful assistant."
#define LLAMA3_BOS "<|begin_of_text|>"
#define LLAMA31_PREAMBLE "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
#define R1_BOS "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
#define R1_EOS "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
#define R1_USER "<\xef\xbd\x9cUser\xef\xbd\x9c>"
#define R1_ASSISTANT "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>"

/* ---- detection ----------------------------------------------------------- */

/* Whether needle occurs in the first len bytes of hay (hay need not end in NUL). */
static bool contains(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (!hay || n > len)
        return false;
    for (size_t i = 0; i + n <= len; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0)
            return true;
    }
    return false;
}

enum chat_family chat_detect(const char *template_text, size_t template_len, const char *arch)
{
    const char *t = template_text;
    size_t n = t ? template_len : 0;

    if (contains(t, n, R1_USER))
        return CHAT_FAMILY_DEEPSEEK_R1;
    if (contains(t, n, "<|start_header_id|>"))
        return contains(t, n, "Cutting Knowledge Date") ? CHAT_FAMILY_LLAMA31 : CHAT_FAMILY_LLAMA3;
    if (contains(t, n, "<end_of_utterance>"))
        return CHAT_FAMILY_SMOLVLM;
    if (contains(t, n, "<|im_start|>")) {
        if (contains(t, n, "<think>") || contains(t, n, "enable_thinking"))
            return CHAT_FAMILY_QWEN3;
        if (contains(t, n, "You are Qwen, created by Alibaba Cloud"))
            return CHAT_FAMILY_QWEN25;
        return CHAT_FAMILY_CHATML;
    }
    if (arch && strcmp(arch, "llama") == 0)
        return CHAT_FAMILY_LLAMA3;
    if (arch && strcmp(arch, "qwen3") == 0)
        return CHAT_FAMILY_QWEN3;
    return CHAT_FAMILY_CHATML;
}

const char *chat_family_name(enum chat_family family)
{
    switch (family) {
    case CHAT_FAMILY_CHATML:
    case CHAT_FAMILY_QWEN25: return "chatml";
    case CHAT_FAMILY_QWEN3: return "qwen3";
    case CHAT_FAMILY_LLAMA3:
    case CHAT_FAMILY_LLAMA31: return "llama3";
    case CHAT_FAMILY_DEEPSEEK_R1: return "deepseek-r1";
    case CHAT_FAMILY_SMOLVLM: return "smolvlm";
    }
    return "chatml";
}

/* ---- a growing output string ---------------------------------------------- */

struct strbuf {
    char *data; /* [cap], NUL-terminated at len */
    size_t len;
    size_t cap;
    bool oom;
};

static void sb_add(struct strbuf *sb, const char *s, size_t n)
{
    if (sb->oom)
        return;
    if (sb->len + n + 1 > sb->cap) {
        size_t cap = sb->cap ? sb->cap : 256;
        while (cap < sb->len + n + 1)
            cap *= 2;
        char *p = realloc(sb->data, cap);
        if (!p) {
            sb->oom = true;
            return;
        }
        sb->data = p;
        sb->cap = cap;
    }
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

static void sb_str(struct strbuf *sb, const char *s)
{
    sb_add(sb, s, strlen(s));
}

/* ---- text helpers (Python str semantics used by the templates) ----------- */

/* A view of bytes inside a message; not NUL-terminated. */
struct span {
    const char *p;
    size_t n;
};

static struct span span_of(const char *s)
{
    return (struct span){s ? s : "", s ? strlen(s) : 0};
}

static void sb_span(struct strbuf *sb, struct span s)
{
    sb_add(sb, s.p, s.n);
}

/* Python's str.isspace() set (what Jinja's trim filter strips). */
static bool is_py_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Decode one UTF-8 character at p[0..n); returns its length, 0 when invalid. */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    size_t len = (p[0] & 0xe0) == 0xc0   ? 2
                 : (p[0] & 0xf0) == 0xe0 ? 3
                 : (p[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t c = p[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    *cp = c;
    return len;
}

/* Jinja's |trim: strip Unicode whitespace from both ends. Invalid UTF-8 is
 * never whitespace. */
static struct span span_trim(struct span s)
{
    const unsigned char *p = (const unsigned char *)s.p;
    size_t a = 0, b = s.n;
    uint32_t c;
    size_t k;
    while (a < b && (k = utf8_decode(p + a, b - a, &c)) && is_py_space(c))
        a += k;
    while (b > a) {
        size_t start = b - 1;
        while (start > a && b - start < 4 && (p[start] & 0xc0) == 0x80)
            start--;
        k = utf8_decode(p + start, b - start, &c);
        if (k != b - start || !is_py_space(c))
            break;
        b = start;
    }
    return (struct span){s.p + a, b - a};
}

static struct span span_lstrip_nl(struct span s)
{
    while (s.n > 0 && s.p[0] == '\n') {
        s.p++;
        s.n--;
    }
    return s;
}

static struct span span_rstrip_nl(struct span s)
{
    while (s.n > 0 && s.p[s.n - 1] == '\n')
        s.n--;
    return s;
}

/* Offset of the first (last = false) or last occurrence of needle in s, or
 * -1 when absent. */
static long span_find(struct span s, const char *needle, bool last)
{
    size_t n = strlen(needle);
    long found = -1;
    for (size_t i = 0; i + n <= s.n; i++) {
        if (memcmp(s.p + i, needle, n) == 0) {
            found = (long)i;
            if (!last)
                break;
        }
    }
    return found;
}

static bool span_starts(struct span s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.n >= n && memcmp(s.p, prefix, n) == 0;
}

static bool span_ends(struct span s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.n >= n && memcmp(s.p + s.n - n, suffix, n) == 0;
}

/* s.split(sep)[-1]: the text after the last sep (all of s when absent). */
static struct span span_after_last(struct span s, const char *sep)
{
    long at = span_find(s, sep, true);
    if (at < 0)
        return s;
    size_t skip = (size_t)at + strlen(sep);
    return (struct span){s.p + skip, s.n - skip};
}

/* s.split(sep)[0]: the text before the first sep. */
static struct span span_before_first(struct span s, const char *sep)
{
    long at = span_find(s, sep, false);
    return at < 0 ? s : (struct span){s.p, (size_t)at};
}

/* ---- the conversation as the renderers see it ---------------------------- */

enum role { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT };

struct turn {
    enum role role;
    struct span content;
};

static const char *role_name(enum role r)
{
    return r == ROLE_SYSTEM ? "system" : r == ROLE_USER ? "user" : "assistant";
}

struct convo {
    const struct turn *turns; /* [n] */
    size_t n;
    bool add_generation_prompt;
    bool enable_thinking;
};

/* ---- renderers, one per family -------------------------------------------- */

static void chatml_turn(struct strbuf *sb, const char *role, struct span content)
{
    sb_str(sb, "<|im_start|>");
    sb_str(sb, role);
    sb_str(sb, "\n");
    sb_span(sb, content);
    sb_str(sb, "<|im_end|>\n");
}

/* Qwen2-VL / Qwen2.5 without tools: every turn as ChatML. (Their default
 * system text was already placed first by chat_render.) */
static void render_chatml(struct strbuf *sb, const struct convo *c)
{
    for (size_t i = 0; i < c->n; i++)
        chatml_turn(sb, role_name(c->turns[i].role), c->turns[i].content);
    if (c->add_generation_prompt)
        sb_str(sb, "<|im_start|>assistant\n");
}

/* Qwen3: the reasoning of assistant turns before the last user query is
 * dropped; after it, the reasoning is kept inside <think> tags. */
static void qwen3_assistant(struct strbuf *sb, struct span text, bool after_query, bool is_last)
{
    struct span content = text, reasoning = {"", 0};
    if (span_find(text, "</think>", false) >= 0) {
        content = span_lstrip_nl(span_after_last(text, "</think>"));
        reasoning = span_rstrip_nl(span_before_first(text, "</think>"));
        reasoning = span_lstrip_nl(span_after_last(reasoning, "<think>"));
    }
    sb_str(sb, "<|im_start|>assistant\n");
    if (after_query && (is_last || reasoning.n > 0)) {
        sb_str(sb, "<think>\n");
        sb_span(sb, span_rstrip_nl(span_lstrip_nl(reasoning)));
        sb_str(sb, "\n</think>\n\n");
        sb_span(sb, span_lstrip_nl(content));
    } else {
        sb_span(sb, content);
    }
    sb_str(sb, "<|im_end|>\n");
}

static void render_qwen3(struct strbuf *sb, const struct convo *c)
{
    size_t last_query = c->n ? c->n - 1 : 0;
    for (size_t i = c->n; i-- > 0;) {
        struct span s = c->turns[i].content;
        bool tool_response = span_starts(s, "<tool_response>") && span_ends(s, "</tool_response>");
        if (c->turns[i].role == ROLE_USER && !tool_response) {
            last_query = i;
            break;
        }
    }
    for (size_t i = 0; i < c->n; i++) {
        const struct turn *t = &c->turns[i];
        if (t->role == ROLE_ASSISTANT)
            qwen3_assistant(sb, t->content, i > last_query, i + 1 == c->n);
        else
            chatml_turn(sb, role_name(t->role), t->content);
    }
    if (c->add_generation_prompt) {
        sb_str(sb, "<|im_start|>assistant\n");
        if (!c->enable_thinking)
            sb_str(sb, "<think>\n\n</think>\n\n");
    }
}

static void llama3_turn(struct strbuf *sb, const char *role, struct span content)
{
    sb_str(sb, "<|start_header_id|>");
    sb_str(sb, role);
    sb_str(sb, "<|end_header_id|>\n\n");
    sb_span(sb, span_trim(content));
    sb_str(sb, "<|eot_id|>");
}

/* Llama 3: BOS before the first turn, every turn trimmed. */
static void render_llama3(struct strbuf *sb, const struct convo *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (i == 0)
            sb_str(sb, LLAMA3_BOS);
        llama3_turn(sb, role_name(c->turns[i].role), c->turns[i].content);
    }
    if (c->add_generation_prompt)
        sb_str(sb, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* Llama 3.1+: a system block always comes first, holding the date preamble
 * and the first message when it is a system message. */
static void render_llama31(struct strbuf *sb, const struct convo *c)
{
    size_t first = 0;
    struct span system = {"", 0};
    if (c->n > 0 && c->turns[0].role == ROLE_SYSTEM) {
        system = span_trim(c->turns[0].content);
        first = 1;
    }
    sb_str(sb, LLAMA3_BOS "<|start_header_id|>system<|end_header_id|>\n\n" LLAMA31_PREAMBLE);
    sb_span(sb, system);
    sb_str(sb, "<|eot_id|>");
    for (size_t i = first; i < c->n; i++)
        llama3_turn(sb, role_name(c->turns[i].role), c->turns[i].content);
    if (c->add_generation_prompt)
        sb_str(sb, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* DeepSeek-R1: the last system message goes right after BOS; assistant
 * turns keep only the text after their last </think>. */
static void render_deepseek_r1(struct strbuf *sb, const struct convo *c)
{
    struct span system = {"", 0};
    for (size_t i = 0; i < c->n; i++) {
        if (c->turns[i].role == ROLE_SYSTEM)
            system = c->turns[i].content;
    }
    sb_str(sb, R1_BOS);
    sb_span(sb, system);
    for (size_t i = 0; i < c->n; i++) {
        const struct turn *t = &c->turns[i];
        if (t->role == ROLE_USER) {
            sb_str(sb, R1_USER);
            sb_span(sb, t->content);
        } else if (t->role == ROLE_ASSISTANT) {
            sb_str(sb, R1_ASSISTANT);
            sb_span(sb, span_after_last(t->content, "</think>"));
            sb_str(sb, R1_EOS);
        }
    }
    if (c->add_generation_prompt)
        sb_str(sb, R1_ASSISTANT "<think>\n");
}

/* SmolVLM: "Role: text" per turn; the separator is ":" alone when the turn
 * starts with an image ("<image>", or the engine's media marker that stands
 * for one). */
static void render_smolvlm(struct strbuf *sb, const struct convo *c)
{
    static const char *const names[] = {"System", "User", "Assistant"};
    sb_str(sb, "<|im_start|>");
    for (size_t i = 0; i < c->n; i++) {
        const struct turn *t = &c->turns[i];
        sb_str(sb, names[t->role]);
        bool image_first = span_starts(t->content, "<image>") ||
                           span_starts(t->content, ENG_MEDIA_MARKER);
        sb_str(sb, image_first ? ":" : ": ");
        sb_span(sb, t->content);
        sb_str(sb, "<end_of_utterance>\n");
    }
    if (c->add_generation_prompt)
        sb_str(sb, "Assistant:");
}

/* ---- chat_render ---------------------------------------------------------- */

static const char *family_default_system(enum chat_family family)
{
    switch (family) {
    case CHAT_FAMILY_QWEN25: return QWEN25_DEFAULT_SYSTEM;
    case CHAT_FAMILY_CHATML: return CHATML_DEFAULT_SYSTEM;
    default: return "";
    }
}

static bool parse_role(const char *s, enum role *out)
{
    if (!s)
        return false;
    if (strcmp(s, "system") == 0)
        *out = ROLE_SYSTEM;
    else if (strcmp(s, "user") == 0)
        *out = ROLE_USER;
    else if (strcmp(s, "assistant") == 0)
        *out = ROLE_ASSISTANT;
    else
        return false;
    return true;
}

enum eng_status chat_render(enum chat_family family, const struct eng_chat_message *msgs,
                            size_t n_msgs, const struct eng_chat_params *params, char **out,
                            struct eng_err *err)
{
    ENG_ASSERT(out && params && (msgs || n_msgs == 0));
    *out = NULL;
    if (n_msgs > SIZE_MAX / sizeof(struct turn) - 1)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "chat: too many messages");

    /* turns: [n_msgs + 1], the default system text first when it applies */
    struct turn *turns = malloc((n_msgs + 1) * sizeof(*turns));
    if (!turns)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "chat: out of memory");
    size_t n = 0;
    const char *def = params->default_system ? params->default_system
                                             : family_default_system(family);
    bool first_is_system = n_msgs > 0 && msgs[0].role && strcmp(msgs[0].role, "system") == 0;
    if (n_msgs > 0 && !first_is_system && def[0] != '\0')
        turns[n++] = (struct turn){ROLE_SYSTEM, span_of(def)};
    for (size_t i = 0; i < n_msgs; i++) {
        if (!parse_role(msgs[i].role, &turns[n].role)) {
            free(turns);
            return eng_set_err(err, ENG_STATUS_ERR_ARG,
                               "chat: message %zu has role \"%s\" (want system, user or assistant)",
                               i, msgs[i].role ? msgs[i].role : "(null)");
        }
        turns[n++].content = span_of(msgs[i].content);
    }

    struct convo c = {turns, n, params->add_generation_prompt, params->enable_thinking};
    struct strbuf sb = {0};
    sb_add(&sb, "", 0);
    switch (family) {
    case CHAT_FAMILY_CHATML:
    case CHAT_FAMILY_QWEN25: render_chatml(&sb, &c); break;
    case CHAT_FAMILY_QWEN3: render_qwen3(&sb, &c); break;
    case CHAT_FAMILY_LLAMA3: render_llama3(&sb, &c); break;
    case CHAT_FAMILY_LLAMA31: render_llama31(&sb, &c); break;
    case CHAT_FAMILY_DEEPSEEK_R1: render_deepseek_r1(&sb, &c); break;
    case CHAT_FAMILY_SMOLVLM: render_smolvlm(&sb, &c); break;
    }
    free(turns);
    if (sb.oom) {
        free(sb.data);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "chat: out of memory");
    }
    *out = sb.data;
    return ENG_STATUS_OK;
}

/* ---- end tokens ----------------------------------------------------------- */

static void add_id(int32_t *ids, size_t max_ids, size_t *n, int32_t id)
{
    if (id < 0 || *n >= max_ids)
        return;
    for (size_t i = 0; i < *n; i++) {
        if (ids[i] == id)
            return;
    }
    ids[(*n)++] = id;
}

size_t chat_end_tokens(enum chat_family family, const struct tokenizer *tok, int32_t *ids,
                       size_t max_ids)
{
    static const char *const chatml[] = {"<|im_end|>", "<|endoftext|>", NULL};
    static const char *const llama3[] = {"<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", NULL};
    static const char *const r1[] = {R1_EOS, NULL};
    static const char *const smolvlm[] = {"<end_of_utterance>", NULL};
    const char *const *names = chatml;
    switch (family) {
    case CHAT_FAMILY_CHATML:
    case CHAT_FAMILY_QWEN25:
    case CHAT_FAMILY_QWEN3: names = chatml; break;
    case CHAT_FAMILY_LLAMA3:
    case CHAT_FAMILY_LLAMA31: names = llama3; break;
    case CHAT_FAMILY_DEEPSEEK_R1: names = r1; break;
    case CHAT_FAMILY_SMOLVLM: names = smolvlm; break;
    }
    size_t n = 0;
    if (!tok || !ids)
        return 0;
    for (size_t i = 0; names[i]; i++)
        add_id(ids, max_ids, &n, tokenizer_find(tok, names[i]));
    add_id(ids, max_ids, &n, tokenizer_eos(tok));
    add_id(ids, max_ids, &n, tokenizer_eot(tok));
    return n;
}
