/* json-schema.h: constrained decoding of JSON that follows a schema
 * (private to the engine; the schema is eng_schema in wenshu-engine.h).
 *
 * A byte-level pushdown automaton accepts exactly the compact JSON texts of
 * the schema: no whitespace; objects with every property in order; arrays
 * within their item counts; strings without escapes or control characters,
 * in well-formed UTF-8 (RFC 3629's ranges, so no surrogates or overlong
 * forms), from the choices when there are some, else between min_chars and
 * max_chars code points and starting with the prefix; integers and numbers
 * in [minimum, maximum] without leading zeros; true or false. Keys,
 * punctuation and prefixes are the only bytes possible at their place, so
 * the model is led through them.
 *
 * A token is allowed when the automaton consumes all of its bytes from the
 * current state (it may end inside a multi-byte character; the next token
 * must finish it). json_matcher_finish_bytes() gives the shortest valid
 * ending from a state, for when the token budget runs out.
 *
 * Ownership: a json_matcher owns its literals and refers to the caller's
 * schema, which must outlive it. Thread-safety: one thread.
 */
#ifndef WENSHU_JSON_SCHEMA_H
#define WENSHU_JSON_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wenshu-engine.h"

#define JSON_MAX_DEPTH 8

/* An open array or object. */
struct json_frame {
    const struct eng_schema *node;
    int index; /* array: items written; object: the property being written */
};

/* Where the automaton is. Plain data, copied to test a token. */
struct json_state {
    struct json_frame stack[JSON_MAX_DEPTH]; /* [depth] the open containers */
    int depth;
    int phase;                     /* enum json_phase (json-schema.c) */
    const struct eng_schema *node; /* the scalar being written, or the value to start */
    const char *lit;               /* a literal being written (the matcher's or static) */
    int lit_len, lit_pos;
    int lit_then;                  /* what follows the literal (enum lit_then) */
    /* a string */
    int n_chars;                   /* code points, the prefix included */
    int val_bytes;                 /* bytes after the opening quote and prefix (choices) */
    uint32_t choice_mask;          /* choices the value is still a prefix of */
    uint8_t utf8_need;             /* continuation bytes due in the current character */
    uint8_t utf8_lo, utf8_hi;      /* the range of the next continuation byte */
    /* a number */
    double num;                    /* the integer part so far */
    int n_digits;                  /* digits of the integer part */
    int n_decimals;                /* digits after the '.' */
    bool in_fraction;
};

struct json_matcher;

/* Check the schema and build the literals. Errors: ENG_STATUS_ERR_ARG naming
 * the node at fault (a name or choice with '"' or '\\', more than 32
 * choices, limits out of order, nesting deeper than JSON_MAX_DEPTH, a root
 * that is not an object or an array). */
enum eng_status json_matcher_new(const struct eng_schema *schema, struct json_matcher **out,
                                 struct eng_err *err);
void json_matcher_free(struct json_matcher **m);

/* The state before the first byte. */
struct json_state json_matcher_start(const struct json_matcher *m);

/* Consume n bytes; false (and *st undefined) when one is not allowed. */
bool json_matcher_feed(const struct json_matcher *m, struct json_state *st, const char *bytes,
                       size_t n);

/* Whether the value is complete (the root's closing bracket written). */
bool json_matcher_done(const struct json_state *st);

/* Inside a string without choices and between characters: how many more
 * code points it takes (max_chars less those written). -1 elsewhere. */
int json_matcher_text_room(const struct json_state *st);

/* How n bytes fare from a state where json_matcher_text_room() is r >= 0:
 *   >= 0              text only: well-formed UTF-8 (the last character may be
 *                     cut short), no control character, '"' or '\\'; the
 *                     value is their code points (a cut one counted), and
 *                     the bytes are accepted exactly when it is at most r;
 *   JSON_TEXT_NEVER   never accepted: a byte no string takes comes before
 *                     any '"';
 *   JSON_TEXT_LEAVES  a '"' may close the string: only feeding tells. */
enum { JSON_TEXT_NEVER = -1, JSON_TEXT_LEAVES = -2 };
int json_text_chars(const char *bytes, size_t n);

/* What st is writing, for benchmarks: "text" (a string without choices),
 * "choice" (a string with choices), "literal" (a prefix, a key, true or
 * false), "number", "structure" (between values) or "done". */
const char *json_state_kind(const struct json_state *st);

/* The shortest bytes that complete the value from st into out[cap]: the
 * current character finished with continuation bytes, a string padded to
 * min_chars with "-", the shortest choice, numbers raised to their minimum,
 * missing items with their smallest values. Returns the length, or -1 when
 * cap is too small. */
int json_matcher_finish_bytes(const struct json_matcher *m, const struct json_state *st,
                              char *out, size_t cap);

/* ---- the guide: the automaton over a model's vocab (json-guide.c) ---- */

struct tokenizer;
struct sampler;
struct json_guide;

/* Ownership: *out is the caller's (json_guide_free); tok and schema must
 * outlive it. Errors: as json_matcher_new, or ENG_STATUS_ERR_NOMEM. */
enum eng_status json_guide_new(const struct eng_schema *schema, const struct tokenizer *tok,
                               struct json_guide **out, struct eng_err *err);
void json_guide_free(struct json_guide **g);

/* The next token: sampled by smp among the allowed tokens of logits
 * [n_vocab], or, when fewer than budget tokens would not leave room for the
 * shortest ending (budget counts this token), the longest token that
 * starts that ending. Returns -1 with err set when no token can go on (a
 * vocab without single-byte tokens). Does not change the guide's state. */
int32_t json_guide_next(struct json_guide *g, struct sampler *smp, const float *logits,
                        int budget, struct eng_err *err);
/* Advance the state over the chosen token. */
void json_guide_accept(struct json_guide *g, int32_t token);
bool json_guide_done(const struct json_guide *g);
/* The state after the tokens accepted so far (owned by g). */
const struct json_state *json_guide_state(const struct json_guide *g);
/* How many masks were checked against the token-by-token feed: the guide
 * checks every mask when created with WENSHU_JSON_GUIDE_VERIFY=1 in the
 * environment, and aborts with a message on a difference. */
long json_guide_n_verified(const struct json_guide *g);

#endif /* WENSHU_JSON_SCHEMA_H */
