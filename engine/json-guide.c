/* json-guide.c: the JSON automaton (json-schema.c) applied to a model's vocab
 * while generating: disallowed tokens are masked to -inf before the
 * sampler draws, and a budget keeps room for the shortest ending.
 *
 * Cost per step: every eligible token's bytes run through the automaton
 * (about a million byte steps at a 151k vocab; most tokens fail on their
 * first byte outside a value).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "json-schema.h"
#include "sampler.h"
#include "tokenizer.h"

enum { FINISH_CAP = 16384 };

struct json_guide {
    struct json_matcher *matcher;  /* owned */
    struct json_state state;       /* after the tokens accepted so far */
    int n_vocab;
    const char **bytes;            /* [n_vocab] each token's bytes (the tokenizer's) */
    size_t *len;                   /* [n_vocab] their lengths; 0: never allowed */
    float *masked;                 /* [n_vocab] logits, -inf where not allowed */
    char finish[FINISH_CAP];       /* the shortest ending from state */
};

/* Control, unknown and unused tokens never appear inside the object. */
static bool eligible_type(enum tok_token_type type)
{
    return type == TOK_TYPE_NORMAL || type == TOK_TYPE_USER_DEFINED || type == TOK_TYPE_BYTE ||
           type == TOK_TYPE_UNDEFINED;
}

enum eng_status json_guide_new(const struct eng_schema *schema, const struct tokenizer *tok,
                               struct json_guide **out, struct eng_err *err)
{
    *out = NULL;
    struct json_matcher *matcher = NULL;
    enum eng_status st = json_matcher_new(schema, &matcher, err);
    if (st)
        return st;
    struct json_guide *g = calloc(1, sizeof(*g));
    int n = tokenizer_n_vocab(tok);
    if (g) {
        g->matcher = matcher;
        g->n_vocab = n;
        g->bytes = calloc((size_t)n, sizeof(*g->bytes));
        g->len = calloc((size_t)n, sizeof(*g->len));
        g->masked = malloc((size_t)n * sizeof(*g->masked));
    }
    if (!g || !g->bytes || !g->len || !g->masked) {
        if (g)
            json_guide_free(&g);
        else
            json_matcher_free(&matcher);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    }
    for (int t = 0; t < n; t++) {
        size_t len = 0;
        const char *b = tokenizer_token_bytes(tok, t, &len);
        if (b && eligible_type(tokenizer_token_type(tok, t))) {
            g->bytes[t] = b;
            g->len[t] = len;
        }
    }
    g->state = json_matcher_start(matcher);
    *out = g;
    return ENG_STATUS_OK;
}

void json_guide_free(struct json_guide **g)
{
    if (!g || !*g)
        return;
    json_matcher_free(&(*g)->matcher);
    free((*g)->bytes);
    free((*g)->len);
    free((*g)->masked);
    free(*g);
    *g = NULL;
}

static bool allowed(const struct json_guide *g, int32_t t, struct json_state *after)
{
    if (t < 0 || t >= g->n_vocab || g->len[t] == 0)
        return false;
    *after = g->state;
    return json_matcher_feed(g->matcher, after, g->bytes[t], g->len[t]);
}

/* The longest token whose bytes start finish[n]; -1 when none. */
static int32_t forced_token(const struct json_guide *g, const char *finish, size_t n)
{
    int32_t best = -1;
    size_t best_len = 0;
    for (int32_t t = 0; t < g->n_vocab; t++) {
        size_t len = g->len[t];
        if (len > best_len && len <= n && memcmp(g->bytes[t], finish, len) == 0) {
            best = t;
            best_len = len;
        }
    }
    return best;
}

static int32_t force(const struct json_guide *g, int finish_len, struct eng_err *err)
{
    int32_t t = forced_token(g, g->finish, (size_t)finish_len);
    if (t < 0)
        eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                    "JSON output: the vocab has no token for byte 0x%02x",
                    (unsigned char)g->finish[0]);
    return t;
}

/* The best allowed token by logit (lowest id on ties); -1 when none. */
static int32_t best_allowed(const struct json_guide *g)
{
    int32_t best = -1;
    for (int32_t t = 0; t < g->n_vocab; t++) {
        if (g->masked[t] > -INFINITY && (best < 0 || g->masked[t] > g->masked[best]))
            best = t;
    }
    return best;
}

int32_t json_guide_next(struct json_guide *g, struct sampler *smp, const float *logits,
                        int budget, struct eng_err *err)
{
    int finish_len = json_matcher_finish_bytes(g->matcher, &g->state, g->finish, sizeof g->finish);
    if (finish_len < 0) {
        eng_set_err(err, ENG_STATUS_ERR_ARG, "JSON output: the shape's ending is too long");
        return -1;
    }
    if (budget <= finish_len)
        return force(g, finish_len, err);
    struct json_state after;
    for (int32_t t = 0; t < g->n_vocab; t++)
        g->masked[t] = allowed(g, t, &after) && !isnan(logits[t]) ? logits[t] : -INFINITY;
    int32_t t = sampler_sample(smp, g->masked);
    if (!allowed(g, t, &after)) /* only when every allowed logit was -inf */
        t = best_allowed(g);
    if (t < 0 || !allowed(g, t, &after))
        return force(g, finish_len, err);
    int rest = json_matcher_finish_bytes(g->matcher, &after, g->finish, sizeof g->finish);
    if (rest < 0 || rest > budget - 1) { /* no room left after this token: end now */
        json_matcher_finish_bytes(g->matcher, &g->state, g->finish, sizeof g->finish);
        return force(g, finish_len, err);
    }
    return t;
}

void json_guide_accept(struct json_guide *g, int32_t token)
{
    struct json_state after;
    if (allowed(g, token, &after))
        g->state = after;
}

bool json_guide_done(const struct json_guide *g)
{
    return json_matcher_done(&g->state);
}
