/* fuzz-tokenizer.c: libFuzzer target for tokenizer_encode() and utf8_stream.
 *
 * At start-up it writes four small vocab GGUFs (one per pre-tokenizer
 * family: the 256 byte tokens, a few merges, CONTROL and USER_DEFINED
 * tokens that overlap) with the engine's own writer, and loads them.
 * Input: byte 0 picks the pre-tokenizer (bits 0-1), parse_special (bit 2)
 * and the stream chunk size (bits 3-5); the rest is the text.
 * Oracles, each abort()s on failure:
 *   - the decoded tokens give back the text (U+FFFD for invalid bytes; after
 *     NFC for the qwen2 vocab, so that case is checked only for NFC-stable
 *     text), and without parse_special no special id appears;
 *   - utf8_stream, fed in chunks, emits what a whole-buffer decode gives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "tokenizer.h"
#include "unicode.h"

static struct tokenizer *vocabs[4]; /* by pre-tokenizer: gpt-2, smollm, qwen2, llama-bpe */

/* GPT-2 bytes_to_unicode, written out independently of tokenizer.c. */
static unsigned byte_symbol(unsigned b)
{
    unsigned k = 0;
    for (unsigned i = 0; i < 256; i++) {
        bool printable = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || i >= 174;
        if (i == b)
            return printable ? i : 256 + k;
        k += !printable;
    }
    return 0;
}

static void put_utf8(char *dst, unsigned cp)
{
    uint8_t buf[4];
    size_t n = unicode_encode_utf8(cp, buf);
    memcpy(dst, buf, n);
    dst[n] = '\0';
}

static struct tokenizer *build_vocab(const char *pre)
{
    static const char *const merges[] = {"Ġ t", "h e",  "t h", "th e", "Ġt he", "Ġ a",   "i n",
                                         "a n", "an d", "1 2", "12 3", "ä ½",   "ĠĠ ĠĠ", "Ġ Ġ"};
    static const char *const extra[] = {"Ġt", "he",  "th", "the", "Ġthe", "Ġa",   "in",
                                        "an", "and", "12", "123", "ä½",   "ĠĠĠĠ", "ĠĠ"};
    static const char *const specials[] = {"<|im_start|>", "<|im_end|>", "<|im_", "<think>",
                                           "</think>"};
    const size_t n_extra = sizeof extra / sizeof extra[0];
    const size_t n_special = sizeof specials / sizeof specials[0];
    char bytes[256][8];
    const char *tokens[256 + 32];
    int32_t types[256 + 32];
    size_t n = 0;
    for (unsigned b = 0; b < 256; b++) {
        put_utf8(bytes[b], byte_symbol(b));
        tokens[n] = bytes[b];
        types[n++] = TOK_TYPE_NORMAL;
    }
    for (size_t i = 0; i < n_extra; i++) {
        tokens[n] = extra[i];
        types[n++] = TOK_TYPE_NORMAL;
    }
    for (size_t i = 0; i < n_special; i++) {
        tokens[n] = specials[i];
        types[n++] = i < 3 ? TOK_TYPE_CONTROL : TOK_TYPE_USER_DEFINED;
    }
    char path[] = "/tmp/fuzz-tokenizer-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    close(fd);
    struct gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", pre);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tokens, n);
    gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", types, n);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, sizeof merges / sizeof merges[0]);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 256 + (uint32_t)n_extra + 1);
    struct eng_err err;
    struct gguf_file *f = NULL;
    struct tokenizer *tok = NULL;
    if (gguf_writer_write(w, path, &err) != ENG_STATUS_OK ||
        gguf_open(path, &f, &err) != ENG_STATUS_OK ||
        tokenizer_from_gguf(f, &tok, &err) != ENG_STATUS_OK) {
        fprintf(stderr, "fuzz-tokenizer: %s\n", err.msg);
        abort();
    }
    gguf_close(&f);
    gguf_writer_free(&w);
    unlink(path);
    return tok;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const char *const pres[4] = {"gpt-2", "smollm", "qwen2", "llama-bpe"};
    for (int i = 0; i < 4; i++)
        vocabs[i] = build_vocab(pres[i]);
    return 0;
}

/* The whole-buffer decode: each maximal invalid subpart as U+FFFD. */
static char *decode_whole(const uint8_t *text, size_t len, size_t *out_len, bool *nfc_stable)
{
    char *out = malloc(3 * len + 1);
    uint32_t *cps = malloc((len + 1) * sizeof *cps);
    size_t k = 0, n = 0;
    for (size_t i = 0; i < len;) {
        size_t used;
        cps[n] = unicode_decode_utf8(text + i, len - i, &used);
        k += unicode_encode_utf8(cps[n++], (uint8_t *)out + k);
        i += used;
    }
    *nfc_stable = !unicode_nfc_may_change(cps, n);
    free(cps);
    *out_len = k;
    return out;
}

static void check_encode(const struct tokenizer *tok, const uint8_t *text, size_t len,
                         bool parse_special, bool nfc)
{
    int32_t *ids = NULL;
    size_t n = 0;
    struct eng_err err;
    if (tokenizer_encode(tok, (const char *)text, len, parse_special, &ids, &n, &err) != 0)
        abort();
    size_t want_len;
    bool nfc_stable;
    char *want = decode_whole(text, len, &want_len, &nfc_stable);
    char *got = malloc(want_len * 4 + 64);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t b_len;
        const char *b = tokenizer_token_bytes(tok, ids[i], &b_len);
        if (!b || (!parse_special && tokenizer_token_type(tok, ids[i]) != TOK_TYPE_NORMAL))
            abort();
        if (k + b_len <= want_len * 4 + 64)
            memcpy(got + k, b, b_len);
        k += b_len;
    }
    if ((!nfc || nfc_stable) && (k != want_len || memcmp(got, want, k) != 0))
        abort();
    free(got);
    free(want);
    free(ids);
}

static void check_stream(const uint8_t *text, size_t len, size_t chunk)
{
    size_t want_len;
    bool nfc_stable;
    char *want = decode_whole(text, len, &want_len, &nfc_stable);
    char *got = malloc(3 * len + 32);
    struct utf8_stream s = {{0}, 0};
    size_t k = 0;
    for (size_t i = 0; i < len; i += chunk) {
        size_t n = len - i < chunk ? len - i : chunk;
        k += utf8_stream_push(&s, (const char *)text + i, n, got + k, 3 * n + 12);
    }
    k += utf8_stream_flush(&s, got + k, 12);
    if (k != want_len || memcmp(got, want, k) != 0)
        abort();
    free(got);
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int pre = data[0] & 3;
    bool parse_special = (data[0] >> 2) & 1;
    size_t chunk = 1 + ((data[0] >> 3) & 7);
    check_encode(vocabs[pre], data + 1, size - 1, parse_special, pre == 2);
    check_stream(data + 1, size - 1, chunk);
    return 0;
}
