/* tokenizer.h: byte-level BPE built from a GGUF vocab (private to the engine).
 *
 * The vocab comes from the keys tokenizer.ggml.{model,pre,tokens,token_type,
 * merges,bos_token_id,eos_token_id,eot_token_id,add_bos_token}. The
 * pre-tokenizer is chosen by tokenizer.ggml.pre: qwen2, deepseek-r1-qwen,
 * llama-bpe (and llama3), smollm, gpt-2. Tokenization matches Hugging Face
 * `tokenizers` for the same tokenizer.json, token for token.
 *
 * Invalid UTF-8 in the input: each maximal invalid subsequence is read as one
 * U+FFFD (the WHATWG / Unicode "substitution of maximal subparts" rule, which
 * is what node's Buffer.toString('utf8') does), then tokenized as that
 * character.
 *
 * Thread-safety: a built tokenizer is immutable; all functions are safe from
 * any thread.
 */
#ifndef WENSHU_TOKENIZER_H
#define WENSHU_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "wenshu-engine.h"

enum tok_token_type {
    TOK_TYPE_UNDEFINED = 0,
    TOK_TYPE_NORMAL = 1,
    TOK_TYPE_UNKNOWN = 2,
    TOK_TYPE_CONTROL = 3,
    TOK_TYPE_USER_DEFINED = 4,
    TOK_TYPE_UNUSED = 5,
    TOK_TYPE_BYTE = 6,
};

struct tokenizer;

/* Build the tokenizer from an open GGUF file. Token strings are copied, so
 * the tokenizer does not depend on the mapping.
 * Ownership: *out is owned by the caller; free with tokenizer_free().
 * Errors: ENG_STATUS_ERR_FORMAT naming f->path and the key at fault;
 * ENG_STATUS_ERR_UNSUPPORTED for an unknown model or pre-tokenizer. */
enum eng_status tokenizer_from_gguf(const struct gguf_file *f, struct tokenizer **out,
                                    struct eng_err *err);
void tokenizer_free(struct tokenizer **tok);

int tokenizer_n_vocab(const struct tokenizer *tok);

/* Tokenize len bytes of text. parse_special: split out CONTROL and
 * USER_DEFINED token strings first (longest match wins). Adds no BOS.
 * Ownership: *out_ids is malloc'd; the caller frees it. */
enum eng_status tokenizer_encode(const struct tokenizer *tok, const char *text, size_t len,
                                 bool parse_special, int32_t **out_ids, size_t *out_n,
                                 struct eng_err *err);

/* The decoded bytes of one token (byte-level map undone). NULL when out of
 * range. Owned by the tokenizer. */
const char *tokenizer_token_bytes(const struct tokenizer *tok, int32_t id, size_t *len);

/* The token's string as stored in the vocab (not decoded). */
const char *tokenizer_token_text(const struct tokenizer *tok, int32_t id);
enum tok_token_type tokenizer_token_type(const struct tokenizer *tok, int32_t id);

/* Exact look-up of a vocab string (e.g. "<|im_end|>"); -1 when absent. */
int32_t tokenizer_find(const struct tokenizer *tok, const char *text);

int32_t tokenizer_bos(const struct tokenizer *tok); /* -1 when none */
int32_t tokenizer_eos(const struct tokenizer *tok); /* -1 when none */
int32_t tokenizer_eot(const struct tokenizer *tok); /* -1 when none */
bool tokenizer_add_bos(const struct tokenizer *tok);
const char *tokenizer_pre_name(const struct tokenizer *tok);

/* Streaming decode: feed token bytes, get back only whole UTF-8 characters.
 * A partial character at the end is held (at most 3 bytes) until the next
 * push completes it. An invalid byte sequence is emitted as U+FFFD. */
struct utf8_stream {
    char pending[4];
    int n_pending;
};
/* Appends whole characters from (pending + bytes) into out (capacity out_cap,
 * at least 3 * len + 12: each invalid byte can become the 3 bytes of U+FFFD),
 * returning the count written. */
size_t utf8_stream_push(struct utf8_stream *s, const char *bytes, size_t len, char *out,
                        size_t out_cap);
/* Flush what is held at the end of a stream (as U+FFFD for an incomplete character). */
size_t utf8_stream_flush(struct utf8_stream *s, char *out, size_t out_cap);

#endif /* WENSHU_TOKENIZER_H */
