/* json-guide.c: the JSON automaton (json-schema.c) applied to a model's vocab
 * while generating: disallowed tokens are masked to -inf before the
 * sampler draws, and a budget keeps room for the shortest ending.
 *
 * Cost per step. Running every token's bytes through the automaton is about
 * a million byte steps at a 151k vocab, so the mask takes two shortcuts,
 * both exact:
 *   - inside a string without choices, between characters, a text-only
 *     token (json_text_chars, computed once per guide) is allowed exactly
 *     when its code points fit the room left, and one with a byte no string
 *     takes before any '"' is refused, with no feeding; only tokens that
 *     may close the string are fed;
 *   - elsewhere tokens are grouped by their first byte, and the 256 single
 *     bytes are tried once per step; a group whose byte is refused is
 *     skipped whole (a token is refused when its first byte is), and the
 *     tokens of the other groups are fed. With
 * WENSHU_JSON_GUIDE_VERIFY=1 in the environment every mask is also computed
 * the slow way, token by token, and any difference aborts the process.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "json-schema.h"
#include "sampler.h"
#include "tokenizer.h"

enum { FINISH_CAP = 16384 };

/* A token as the mask sees it inside a string (read in id order). */
struct token_info {
    int16_t text_chars;  /* json_text_chars() of its bytes; JSON_TEXT_LEAVES (feed it)
                          * when over INT16_MAX or never allowed */
    uint8_t allowable;   /* 0: never allowed (len == 0) */
};

struct json_guide {
    struct json_matcher *matcher;  /* owned */
    struct json_state state;       /* after the tokens accepted so far */
    int n_vocab;
    const char **bytes;            /* [n_vocab] each token's bytes (the tokenizer's) */
    size_t *len;                   /* [n_vocab] their lengths; 0: never allowed */
    struct token_info *info;       /* [n_vocab] what the mask reads first, packed */
    int32_t *by_first;             /* [n_vocab] the allowable tokens (len > 0) grouped by
                                    * first byte, ascending ids within a group */
    int group_start[257];          /* group b is by_first[group_start[b] .. group_start[b+1]) */
    float *masked;                 /* [n_vocab] logits, -inf where not allowed */
    bool verify;                   /* check every mask against the full feed */
    long n_verified;               /* masks checked so far */
    char finish[FINISH_CAP];       /* the shortest ending from state */
};

/* Control, unknown and unused tokens never appear inside the object. */
static bool eligible_type(enum tok_token_type type)
{
    return type == TOK_TYPE_NORMAL || type == TOK_TYPE_USER_DEFINED || type == TOK_TYPE_BYTE ||
           type == TOK_TYPE_UNDEFINED;
}

/* Group the allowable tokens by first byte (a counting sort keeps ids ascending). */
static void group_by_first_byte(struct json_guide *g)
{
    int count[256] = {0};
    for (int t = 0; t < g->n_vocab; t++) {
        if (g->len[t])
            count[(unsigned char)g->bytes[t][0]]++;
    }
    g->group_start[0] = 0;
    for (int b = 0; b < 256; b++)
        g->group_start[b + 1] = g->group_start[b] + count[b];
    int fill[256]; /* [256] the next free slot of each group */
    memcpy(fill, g->group_start, sizeof fill);
    for (int t = 0; t < g->n_vocab; t++) {
        if (g->len[t])
            g->by_first[fill[(unsigned char)g->bytes[t][0]]++] = t;
    }
}

static void read_vocab(struct json_guide *g, const struct tokenizer *tok)
{
    for (int t = 0; t < g->n_vocab; t++) {
        size_t len = 0;
        const char *b = tokenizer_token_bytes(tok, t, &len);
        if (b && eligible_type(tokenizer_token_type(tok, t))) {
            g->bytes[t] = b;
            g->len[t] = len;
        }
        int text_chars = g->len[t] ? json_text_chars(b, len) : JSON_TEXT_LEAVES;
        g->info[t] = (struct token_info){
            .text_chars = (int16_t)(text_chars <= INT16_MAX ? text_chars : JSON_TEXT_LEAVES),
            .allowable = g->len[t] > 0,
        };
    }
    group_by_first_byte(g);
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
        g->info = malloc((size_t)n * sizeof(*g->info));
        g->by_first = malloc((size_t)n * sizeof(*g->by_first));
        g->masked = malloc((size_t)n * sizeof(*g->masked));
    }
    if (!g || !g->bytes || !g->len || !g->info || !g->by_first || !g->masked) {
        if (g)
            json_guide_free(&g);
        else
            json_matcher_free(&matcher);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    }
    read_vocab(g, tok);
    const char *verify = getenv("WENSHU_JSON_GUIDE_VERIFY");
    g->verify = verify && strcmp(verify, "1") == 0;
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
    free((*g)->info);
    free((*g)->by_first);
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
    int b = (unsigned char)finish[0];
    for (int i = g->group_start[b]; n > 0 && i < g->group_start[b + 1]; i++) {
        int32_t t = g->by_first[i];
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

/* The logit of token t when allowed from the state, computed the slow way. */
static float full_feed_logit(const struct json_guide *g, int32_t t, const float *logits)
{
    struct json_state after;
    return allowed(g, t, &after) && !isnan(logits[t]) ? logits[t] : -INFINITY;
}

/* Whether byte b alone is accepted from the state: else no token starting with it is. */
static bool first_byte_allowed(const struct json_guide *g, int b)
{
    struct json_state after = g->state;
    char c = (char)b;
    return json_matcher_feed(g->matcher, &after, &c, 1);
}

/* Inside a string without choices, between characters (room >= 0 more code
 * points allowed): a text-only token is allowed when its code points fit,
 * one that no string takes is not, and only those that may close the string
 * are fed. One pass in id order, without branches on the common path: at a
 * 151k vocab this loop is most of the step. */
static void mask_text_tokens(struct json_guide *g, int room, const float *logits)
{
    for (int32_t t = 0; t < g->n_vocab; t++) {
        int text_chars = g->info[t].text_chars;
        if (text_chars == JSON_TEXT_LEAVES) {
            g->masked[t] = g->info[t].allowable ? full_feed_logit(g, t, logits) : -INFINITY;
        } else {
            bool fits = text_chars >= 0 && text_chars <= room && !isnan(logits[t]);
            g->masked[t] = fits ? logits[t] : -INFINITY;
        }
    }
}

/* Elsewhere: only the groups whose first byte is accepted alone are fed. */
static void mask_grouped_tokens(struct json_guide *g, const float *logits)
{
    for (int32_t t = 0; t < g->n_vocab; t++)
        g->masked[t] = -INFINITY;
    for (int b = 0; b < 256; b++) {
        if (g->group_start[b] == g->group_start[b + 1] || !first_byte_allowed(g, b))
            continue;
        for (int i = g->group_start[b]; i < g->group_start[b + 1]; i++) {
            int32_t t = g->by_first[i];
            g->masked[t] = full_feed_logit(g, t, logits);
        }
    }
}

/* masked[] from logits: the allowed tokens keep their logit. */
static void mask_tokens(struct json_guide *g, const float *logits)
{
    int room = json_matcher_text_room(&g->state);
    if (room >= 0)
        mask_text_tokens(g, room, logits);
    else
        mask_grouped_tokens(g, logits);
}

/* The verify mode: masked[] must equal the token-by-token mask. */
static void verify_mask(struct json_guide *g, const float *logits)
{
    for (int32_t t = 0; t < g->n_vocab; t++) {
        float want = full_feed_logit(g, t, logits);
        if (g->masked[t] != want && !(isnan(want) && isnan(g->masked[t]))) {
            fprintf(stderr,
                    "json guide: the fast mask differs from the full feed at token %d "
                    "(%s; fast %g, full %g)\n",
                    (int)t, json_state_kind(&g->state), (double)g->masked[t], (double)want);
            abort();
        }
    }
    g->n_verified++;
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
    mask_tokens(g, logits);
    if (g->verify)
        verify_mask(g, logits);
    struct json_state after;
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

const struct json_state *json_guide_state(const struct json_guide *g)
{
    return &g->state;
}

long json_guide_n_verified(const struct json_guide *g)
{
    return g->n_verified;
}
