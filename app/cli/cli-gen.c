/* cli-gen.c: generation steps shared by draft, slides and clip: a text sink
 * for streamed tokens, and one chat turn that answers with JSON following a
 * schema, reusing the cached prompt prefix of the previous turn.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

bool cli_sink_piece(int32_t token, const char *text, size_t len, void *user_data)
{
    (void)token;
    struct cli_text_sink *s = user_data;
    if (s->len + len + 1 > s->cap) {
        size_t cap = (s->cap ? s->cap * 2 : 4096) + len;
        char *grown = realloc(s->text, cap);
        if (!grown)
            return false;
        s->text = grown;
        s->cap = cap;
    }
    memcpy(s->text + s->len, text, len);
    s->len += len;
    s->text[s->len] = '\0';
    if (s->echo) {
        fwrite(text, 1, len, s->echo);
        fflush(s->echo);
    }
    return true;
}

void cli_gen_free(struct cli_gen *g)
{
    free(g->cached);
    g->cached = NULL;
    g->n_cached = 0;
}

/* Evaluate a text-only prompt after the longest cached prefix it shares. */
static int eval_cached(struct cli_gen *g, const char *prompt)
{
    int32_t *ids = NULL;
    size_t n = 0;
    struct eng_err err;
    if (eng_tokenize(g->model, prompt, strlen(prompt), true, &ids, &n, &err))
        return cli_fail("%s", err.msg);
    size_t keep = 0;
    while (keep < n && keep < g->n_cached && ids[keep] == g->cached[keep])
        keep++;
    if (keep == n && keep > 0)
        keep--; /* the last token is evaluated again for its logits */
    eng_session_truncate(g->session, (int)keep);
    enum eng_status st = eng_session_eval(g->session, ids + keep, n - keep, g->cancel, &err);
    if (st) {
        free(ids);
        cli_gen_free(g);
        eng_session_reset(g->session);
        return cli_fail("%s", err.msg);
    }
    free(g->cached);
    g->cached = ids;
    g->n_cached = n;
    return 0;
}

char *cli_gen_turn(struct cli_gen *g, const char *system, const char *user,
                   struct eng_media *const *media, const char *const *names, int n_media,
                   const struct eng_schema *schema, int max_tokens, FILE *echo)
{
    struct eng_chat_message msgs[2] = {{"system", system}, {"user", user}};
    struct eng_chat_params cp = eng_chat_params_default();
    cp.enable_thinking = false;
    char *prompt = NULL;
    struct eng_err err;
    if (eng_chat_render(g->model, msgs, 2, &cp, &prompt, &err) != ENG_STATUS_OK) {
        cli_fail("%s", err.msg);
        return NULL;
    }
    int status;
    if (n_media > 0) { /* media are not cached: start afresh */
        cli_gen_free(g);
        eng_session_reset(g->session);
        status = cli_eval_media_list(g->model, g->session, prompt, media, names, n_media,
                                     g->cancel);
    } else {
        status = eval_cached(g, prompt);
    }
    free(prompt);
    if (status)
        return NULL;
    struct cli_text_sink sink = {.echo = echo};
    struct eng_generate_params gp = eng_generate_params_default();
    gp.n_predict = max_tokens;
    gp.sampler = g->sampler;
    gp.on_token = cli_sink_piece;
    gp.user_data = &sink;
    gp.cancel = g->cancel;
    gp.schema = schema;
    enum eng_status st = eng_session_generate(g->session, NULL, 0, &gp, NULL, NULL, &err);
    /* the generated tokens are not mirrored in cached[]: the next prompt's
     * common prefix ends before them, and truncation drops them */
    if (st) {
        free(sink.text);
        if (st == ENG_STATUS_CANCELLED)
            cli_fail("stopped");
        else
            cli_fail("%s", err.msg);
        return NULL;
    }
    return sink.text ? sink.text : strdup("");
}
