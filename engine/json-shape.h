/* json-shape.h: constrained decoding of one JSON object of a fixed shape
 * (private to the engine; the shape is eng_json_shape in wenshu-engine.h).
 *
 * A byte-level automaton accepts exactly the texts
 *   {"k1":"v","k2":["v","v"],...}
 * of the shape: no whitespace, string values without escapes or control
 * characters, well-formed UTF-8 (the ranges of RFC 3629, so no surrogates
 * or overlong forms), values from the choices when a field has them, free
 * text between min_chars and max_chars code points, arrays between
 * min_items and max_items values. Keys, punctuation and prefixes are the
 * only bytes possible at their place, so the model is led through them.
 *
 * A token is allowed when the automaton consumes all of its bytes from the
 * current state (a token may end inside a multi-byte character; the next
 * token must finish it). json_shape_mask() marks the allowed tokens of the
 * vocab; json_shape_finish_bytes() gives the shortest valid ending from the
 * current state, for when the token budget runs out.
 *
 * Ownership: a json_matcher owns its literals. Thread-safety: one thread.
 */
#ifndef WENSHU_JSON_SHAPE_H
#define WENSHU_JSON_SHAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wenshu-engine.h"

/* Where the automaton is. Small, so that testing a token copies it. */
struct json_state {
    int field;          /* the field being written */
    int phase;          /* enum json_phase (json-shape.c) */
    int lit;            /* literal being written: a field's opening, an item's, or the end */
    int lit_pos;        /* bytes of it written */
    int n_chars;        /* code points of the current value (the prefix included) */
    int n_items;        /* values of the current array */
    int val_bytes;      /* bytes of the current value after the prefix (choices) */
    uint32_t choice_mask; /* choices the value is still a prefix of */
    uint8_t utf8_need;  /* continuation bytes still due in the current character */
    uint8_t utf8_lo, utf8_hi; /* the allowed range of the next continuation byte */
};

struct json_matcher;

/* Check the shape and build the literals. Errors: ENG_STATUS_ERR_ARG naming
 * the field at fault (no fields, a name or choice with '"' or '\\', more
 * than 32 choices, limits out of order). */
enum eng_status json_matcher_new(const struct eng_json_shape *shape, struct json_matcher **out,
                                 struct eng_err *err);
void json_matcher_free(struct json_matcher **m);

/* The state before the first byte. */
struct json_state json_matcher_start(const struct json_matcher *m);

/* Consume n bytes; false (and *st undefined) when one is not allowed. */
bool json_matcher_feed(const struct json_matcher *m, struct json_state *st, const char *bytes,
                       size_t n);

/* Whether the object is complete (the closing brace written). */
bool json_matcher_done(const struct json_state *st);

/* The shortest bytes that complete the object from st into out[cap] (the
 * current character finished with continuation bytes, a value padded to
 * min_chars with "-", the shortest choice, missing items and fields with
 * their smallest values). Returns the length, or -1 when cap is too small. */
int json_matcher_finish_bytes(const struct json_matcher *m, const struct json_state *st,
                              char *out, size_t cap);

/* ---- the guide: the automaton over a model's vocab (json-guide.c) ---- */

struct tokenizer;
struct sampler;
struct json_guide;

/* Ownership: *out is the caller's (json_guide_free); tok must outlive it.
 * Errors: as json_matcher_new, or ENG_STATUS_ERR_NOMEM. */
enum eng_status json_guide_new(const struct eng_json_shape *shape, const struct tokenizer *tok,
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

#endif /* WENSHU_JSON_SHAPE_H */
