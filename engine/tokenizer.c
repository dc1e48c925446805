/* tokenizer.c: byte-level BPE over a GGUF vocab (see tokenizer.h).
 *
 * Encoding runs the pipeline of Hugging Face tokenizers for the GPT-2 family:
 *   1. invalid UTF-8 becomes U+FFFD (maximal subparts, WHATWG);
 *   2. with parse_special, CONTROL and USER_DEFINED token strings are split
 *      out first, leftmost-longest (HF's added-token matcher);
 *   3. each remaining section is NFC-normalized (Qwen vocabs only: their
 *      tokenizer.json has "normalizer": {"type": "NFC"}; llama.cpp skips this);
 *   4. the pre-tokenizer of tokenizer.ggml.pre splits the section (unicode.c);
 *   5. each piece's bytes start as byte tokens and merge pair by pair, the
 *      lowest merge rank first (leftmost on ties), through a binary heap.
 * All state lives in struct tokenizer, which is immutable once built; each
 * call to tokenizer_encode() owns its scratch buffers.
 *
 * Choices, and where this differs from a reference:
 * - parse_special false splits out nothing (llama.cpp still splits
 *   USER_DEFINED tokens then; HF always splits added tokens).
 * - NFC is applied for pre ids qwen2 and deepseek-r1-qwen. Qwen's
 *   tokenizer.json is verified by the tokenizer-hf test; that R1-distill's
 *   tokenizer.json also normalizes is assumed, not checked.
 * - \s is Unicode White_Space (HF's Oniguruma, llama.cpp). JavaScript's \s,
 *   used by the node reference, differs on U+0085 and U+FEFF only.
 * - (?i:'s|...) folds ASCII only, as llama.cpp and transformers.js do; HF's
 *   Oniguruma would also take an apostrophe + U+017F (long s) as a contraction.
 * - A missing tokenizer.ggml.pre means gpt-2; a merge naming a token that is
 *   not in the vocab is skipped; a repeated merge keeps its last rank (HF).
 */
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "unicode.h"

#define TOK_EMPTY_SLOT (-1)

struct pair_slot {
    uint64_t key;   /* (left id << 32) | right id; UINT64_MAX when empty */
    int32_t rank;   /* merge rank (index in tokenizer.ggml.merges) */
    int32_t merged; /* id of the merged token */
};

struct tokenizer {
    char pre_name[64];
    enum unicode_pre pre;
    bool nfc;           /* NFC-normalize sections before splitting (Qwen) */
    bool ignore_merges; /* a piece that is a whole vocab token skips BPE (Llama 3) */

    int32_t n_vocab;
    char *text_arena;    /* all token strings, each NUL-terminated */
    size_t *text_off;    /* [n_vocab] offset of token i in text_arena */
    uint32_t *text_len;  /* [n_vocab] */
    char *bytes_arena;   /* all decoded token bytes, each NUL-terminated */
    size_t *bytes_off;   /* [n_vocab] */
    uint32_t *bytes_len; /* [n_vocab] */
    uint8_t *types;      /* [n_vocab] enum tok_token_type */

    int32_t *vocab_slots;    /* [vocab_cap] token ids by text hash; TOK_EMPTY_SLOT when empty */
    size_t vocab_cap;        /* power of two */
    struct pair_slot *pairs; /* [pair_cap] merges by (left, right) */
    size_t pair_cap;         /* power of two */

    int32_t byte_token[256]; /* the token of each single byte */

    int32_t *specials; /* [n_specials] CONTROL/USER_DEFINED ids, by first byte then longest first */
    size_t n_specials;
    uint32_t special_first[257]; /* specials[special_first[b] .. special_first[b+1]) start with b */

    int32_t bos, eos, eot;
    bool add_bos;
};

/* ---- GPT-2 bytes_to_unicode --------------------------------------------- */

/* Bytes 33-126, 161-172 and 174-255 stand for themselves; the other 68 take
 * U+0100 + their order (space -> U+0120, newline -> U+010A). */
static uint32_t byte_to_cp(uint8_t b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)
        return b;
    if (b <= 32)
        return 256u + b;
    if (b <= 160)
        return 256u + 33u + (b - 127u);
    return 256u + 67u; /* 173 */
}

/* The byte a byte-level character stands for, or -1. */
static int cp_to_byte(uint32_t cp)
{
    if ((cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 172) || (cp >= 174 && cp <= 255))
        return (int)cp;
    if (cp >= 256 && cp <= 288)
        return (int)(cp - 256);
    if (cp >= 289 && cp <= 322)
        return (int)(cp - 289 + 127);
    if (cp == 323)
        return 173;
    return -1;
}

/* ---- hashing ------------------------------------------------------------ */


static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static size_t pow2_at_least(size_t n)
{
    size_t cap = 16;
    while (cap < n)
        cap <<= 1;
    return cap;
}

static const char *token_text(const struct tokenizer *tok, int32_t id)
{
    return tok->text_arena + tok->text_off[id];
}

static int32_t vocab_lookup(const struct tokenizer *tok, const char *s, size_t len)
{
    size_t mask = tok->vocab_cap - 1;
    for (size_t i = eng_hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
        int32_t id = tok->vocab_slots[i];
        if (id == TOK_EMPTY_SLOT)
            return -1;
        if (tok->text_len[id] == len && memcmp(token_text(tok, id), s, len) == 0)
            return id;
    }
}

/* Index every token by text; on duplicates the first id wins. */
static void vocab_index(struct tokenizer *tok)
{
    size_t mask = tok->vocab_cap - 1;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        const char *s = token_text(tok, id);
        size_t len = tok->text_len[id];
        for (size_t i = eng_hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
            int32_t other = tok->vocab_slots[i];
            if (other == TOK_EMPTY_SLOT) {
                tok->vocab_slots[i] = id;
                break;
            }
            if (tok->text_len[other] == len && memcmp(token_text(tok, other), s, len) == 0)
                break;
        }
    }
}

static struct pair_slot *pair_slot_for(const struct tokenizer *tok, uint64_t key)
{
    size_t mask = tok->pair_cap - 1;
    for (size_t i = hash_u64(key) & mask;; i = (i + 1) & mask) {
        if (tok->pairs[i].key == key || tok->pairs[i].key == UINT64_MAX)
            return &tok->pairs[i];
    }
}

static uint64_t pair_key(int32_t left, int32_t right)
{
    return ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
}

/* The merge of (left, right), or NULL. */
static const struct pair_slot *pair_lookup(const struct tokenizer *tok, int32_t left, int32_t right)
{
    const struct pair_slot *slot = pair_slot_for(tok, pair_key(left, right));
    return slot->key == UINT64_MAX ? NULL : slot;
}

/* ---- loading ------------------------------------------------------------ */

static bool pre_from_name(struct tokenizer *tok, const char *name)
{
    static const struct {
        const char *name;
        enum unicode_pre pre;
        bool nfc, ignore_merges;
    } table[] = {
        {"qwen2", UNICODE_PRE_QWEN2, true, false},
        {"deepseek-r1-qwen", UNICODE_PRE_QWEN2, true, false},
        {"llama-bpe", UNICODE_PRE_LLAMA3, false, true},
        {"llama3", UNICODE_PRE_LLAMA3, false, true},
        {"smollm", UNICODE_PRE_SMOLLM, false, false},
        {"gpt-2", UNICODE_PRE_GPT2, false, false},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(table[i].name, name) == 0) {
            tok->pre = table[i].pre;
            tok->nfc = table[i].nfc;
            tok->ignore_merges = table[i].ignore_merges;
            snprintf(tok->pre_name, sizeof tok->pre_name, "%s", name);
            return true;
        }
    }
    return false;
}

/* Copy a GGUF string into a NUL-terminated buffer of size cap; false if too long. */
static bool str_copy(const struct gguf_str *s, char *buf, size_t cap)
{
    if (s->len >= cap)
        return false;
    memcpy(buf, s->data, s->len);
    buf[s->len] = '\0';
    return true;
}

static enum eng_status load_model_and_pre(struct tokenizer *tok, const struct gguf_file *f,
                                          struct eng_err *err)
{
    struct gguf_str s;
    char name[64];
    if (!gguf_get_str(f, "tokenizer.ggml.model", &s))
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: missing tokenizer.ggml.model", f->path);
    if (!str_copy(&s, name, sizeof name) || strcmp(name, "gpt2") != 0)
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                           "%s: tokenizer.ggml.model '%.*s' is not supported (only gpt2)", f->path,
                           (int)(s.len > 64 ? 64 : s.len), s.data);
    if (!gguf_get_str(f, "tokenizer.ggml.pre", &s)) {
        pre_from_name(tok, "gpt-2"); /* no pre id: the plain GPT-2 pattern */
        return ENG_STATUS_OK;
    }
    if (!str_copy(&s, name, sizeof name) || !pre_from_name(tok, name))
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                           "%s: tokenizer.ggml.pre '%.*s' is not supported (qwen2, "
                           "deepseek-r1-qwen, llama-bpe, llama3, smollm, gpt-2)",
                           f->path, (int)(s.len > 64 ? 64 : s.len), s.data);
    return ENG_STATUS_OK;
}

/* Decode a byte-level token string into raw bytes at out (capacity >= len);
 * characters outside the byte map are kept as their UTF-8. Returns the count. */
static size_t byte_level_decode(const char *text, size_t len, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        size_t n;
        uint32_t cp = unicode_decode_utf8((const uint8_t *)text + i, len - i, &n);
        int b = cp_to_byte(cp);
        if (b >= 0) {
            out[k++] = (char)b;
        } else {
            memcpy(out + k, text + i, n);
            k += n;
        }
        i += n;
    }
    return k;
}

static enum eng_status load_tokens(struct tokenizer *tok, const struct gguf_file *f,
                                   struct eng_err *err)
{
    const struct gguf_kv *kv = gguf_find_kv(f, "tokenizer.ggml.tokens");
    if (!kv || kv->type != GGUF_TYPE_ARRAY || kv->arr_type != GGUF_TYPE_STRING)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: tokenizer.ggml.tokens missing or not a string array", f->path);
    if (kv->arr_n == 0 || kv->arr_n > INT32_MAX / 2)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: tokenizer.ggml.tokens has %llu entries",
                           f->path, (unsigned long long)kv->arr_n);
    size_t n = (size_t)kv->arr_n;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (kv->strs[i].len > UINT32_MAX / 2)
            return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                               "%s: tokenizer.ggml.tokens[%zu] is too long", f->path, i);
        total += kv->strs[i].len + 1;
    }
    tok->n_vocab = (int32_t)n;
    tok->text_arena = malloc(total);
    tok->bytes_arena = malloc(total);
    tok->text_off = malloc(n * sizeof *tok->text_off);
    tok->bytes_off = malloc(n * sizeof *tok->bytes_off);
    tok->text_len = malloc(n * sizeof *tok->text_len);
    tok->bytes_len = malloc(n * sizeof *tok->bytes_len);
    tok->types = malloc(n);
    tok->vocab_cap = pow2_at_least(2 * n);
    tok->vocab_slots = malloc(tok->vocab_cap * sizeof *tok->vocab_slots);
    if (!tok->text_arena || !tok->bytes_arena || !tok->text_off || !tok->bytes_off ||
        !tok->text_len || !tok->bytes_len || !tok->types || !tok->vocab_slots)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory for %zu tokens", f->path, n);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(tok->text_arena + off, kv->strs[i].data, kv->strs[i].len);
        tok->text_arena[off + kv->strs[i].len] = '\0';
        tok->text_off[i] = off;
        tok->text_len[i] = (uint32_t)kv->strs[i].len;
        off += kv->strs[i].len + 1;
    }
    memset(tok->vocab_slots, 0xFF, tok->vocab_cap * sizeof *tok->vocab_slots);
    vocab_index(tok);
    return ENG_STATUS_OK;
}

static enum eng_status load_types(struct tokenizer *tok, const struct gguf_file *f,
                                  struct eng_err *err)
{
    memset(tok->types, TOK_TYPE_NORMAL, (size_t)tok->n_vocab);
    const struct gguf_kv *kv = gguf_find_kv(f, "tokenizer.ggml.token_type");
    if (!kv)
        return ENG_STATUS_OK;
    if (kv->type != GGUF_TYPE_ARRAY ||
        (kv->arr_type != GGUF_TYPE_INT32 && kv->arr_type != GGUF_TYPE_UINT32) ||
        kv->arr_n != (uint64_t)tok->n_vocab)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: tokenizer.ggml.token_type is not an i32 array of %d entries",
                           f->path, tok->n_vocab);
    for (int32_t i = 0; i < tok->n_vocab; i++) {
        int32_t t;
        memcpy(&t, kv->value + 4 * (size_t)i, 4); /* little-endian file, unaligned */
        if (t < TOK_TYPE_UNDEFINED || t > TOK_TYPE_BYTE)
            return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                               "%s: tokenizer.ggml.token_type[%d] = %d is not a token type",
                               f->path, i, t);
        tok->types[i] = (uint8_t)t;
    }
    return ENG_STATUS_OK;
}

static bool is_special_type(uint8_t type)
{
    return type == TOK_TYPE_CONTROL || type == TOK_TYPE_USER_DEFINED;
}

/* Raw bytes of each token: special tokens keep their text, others undo the byte map. */
static void decode_token_bytes(struct tokenizer *tok)
{
    size_t off = 0;
    for (int32_t i = 0; i < tok->n_vocab; i++) {
        const char *text = token_text(tok, i);
        size_t len = tok->text_len[i];
        size_t k;
        if (is_special_type(tok->types[i])) {
            memcpy(tok->bytes_arena + off, text, len);
            k = len;
        } else {
            k = byte_level_decode(text, len, tok->bytes_arena + off);
        }
        tok->bytes_arena[off + k] = '\0';
        tok->bytes_off[i] = off;
        tok->bytes_len[i] = (uint32_t)k;
        off += k + 1; /* decoded bytes never outgrow the text */
    }
}

static enum eng_status find_byte_tokens(struct tokenizer *tok, const struct gguf_file *f,
                                        struct eng_err *err)
{
    for (int b = 0; b < 256; b++) {
        uint8_t utf8[4];
        size_t n = unicode_encode_utf8(byte_to_cp((uint8_t)b), utf8);
        tok->byte_token[b] = vocab_lookup(tok, (const char *)utf8, n);
        if (tok->byte_token[b] < 0)
            return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                               "%s: the vocab lacks the byte-level token for byte 0x%02x", f->path,
                               b);
    }
    return ENG_STATUS_OK;
}

/* Index "A B" merges by (id A, id B). A merge naming a token missing from the
 * vocab is skipped; a repeated pair keeps its last rank, as HF's map does. */
static enum eng_status load_merges(struct tokenizer *tok, const struct gguf_file *f,
                                   struct eng_err *err)
{
    const struct gguf_kv *kv = gguf_find_kv(f, "tokenizer.ggml.merges");
    size_t n = 0;
    if (kv) {
        if (kv->type != GGUF_TYPE_ARRAY || kv->arr_type != GGUF_TYPE_STRING ||
            kv->arr_n > INT32_MAX)
            return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                               "%s: tokenizer.ggml.merges is not a string array", f->path);
        n = (size_t)kv->arr_n;
    }
    tok->pair_cap = pow2_at_least(2 * n + 2);
    tok->pairs = malloc(tok->pair_cap * sizeof *tok->pairs);
    size_t max_len = 0;
    for (size_t i = 0; i < n; i++)
        max_len = kv->strs[i].len > max_len ? kv->strs[i].len : max_len;
    char *joined = malloc(max_len + 1); /* "AB" of the current merge */
    if (!tok->pairs || !joined) {
        free(joined);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory for %zu merges", f->path, n);
    }
    memset(tok->pairs, 0xFF, tok->pair_cap * sizeof *tok->pairs);
    for (size_t i = 0; i < n; i++) {
        const char *s = kv->strs[i].data;
        size_t len = kv->strs[i].len;
        /* The separator is the first space after the first byte (llama.cpp's rule). */
        const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
        if (!sp)
            continue;
        size_t a_len = (size_t)(sp - s), b_len = len - a_len - 1;
        int32_t a = vocab_lookup(tok, s, a_len);
        int32_t b = vocab_lookup(tok, sp + 1, b_len);
        memcpy(joined, s, a_len);
        memcpy(joined + a_len, sp + 1, b_len);
        int32_t merged = vocab_lookup(tok, joined, a_len + b_len);
        if (a < 0 || b < 0 || merged < 0)
            continue;
        struct pair_slot *slot = pair_slot_for(tok, pair_key(a, b));
        slot->key = pair_key(a, b);
        slot->rank = (int32_t)i;
        slot->merged = merged;
    }
    free(joined);
    return ENG_STATUS_OK;
}

/* Specials order: by first byte, then longest first, then by id. */
static bool special_before(const struct tokenizer *tok, int32_t a, int32_t b)
{
    uint8_t fa = (uint8_t)token_text(tok, a)[0], fb = (uint8_t)token_text(tok, b)[0];
    if (fa != fb)
        return fa < fb;
    if (tok->text_len[a] != tok->text_len[b])
        return tok->text_len[a] > tok->text_len[b];
    return a < b;
}

/* Insertion sort: there are few specials, and qsort has no context pointer. */
static void sort_specials(struct tokenizer *tok)
{
    for (size_t i = 1; i < tok->n_specials; i++) {
        int32_t id = tok->specials[i];
        size_t j = i;
        while (j > 0 && special_before(tok, id, tok->specials[j - 1])) {
            tok->specials[j] = tok->specials[j - 1];
            j--;
        }
        tok->specials[j] = id;
    }
}

static enum eng_status index_specials(struct tokenizer *tok, const struct gguf_file *f,
                                      struct eng_err *err)
{
    size_t n = 0;
    for (int32_t i = 0; i < tok->n_vocab; i++)
        n += is_special_type(tok->types[i]) && tok->text_len[i] > 0;
    tok->specials = malloc((n ? n : 1) * sizeof *tok->specials);
    if (!tok->specials)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory for special tokens", f->path);
    for (int32_t i = 0; i < tok->n_vocab; i++) {
        if (is_special_type(tok->types[i]) && tok->text_len[i] > 0)
            tok->specials[tok->n_specials++] = i;
    }
    sort_specials(tok);
    size_t k = 0;
    for (int b = 0; b <= 256; b++) {
        while (k < tok->n_specials && (uint8_t)token_text(tok, tok->specials[k])[0] < b)
            k++;
        tok->special_first[b] = (uint32_t)k;
    }
    return ENG_STATUS_OK;
}

/* An optional token id key: -1 when absent; an id out of range is an error. */
static enum eng_status load_id(const struct gguf_file *f, const char *key, int32_t n_vocab,
                               int32_t *out, struct eng_err *err)
{
    int64_t v;
    *out = -1;
    if (!gguf_find_kv(f, key))
        return ENG_STATUS_OK;
    if (!gguf_get_i64(f, key, &v))
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: %s is not an integer", f->path, key);
    if (v < 0 || v >= n_vocab)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: %s = %lld is outside the vocab (%d)",
                           f->path, key, (long long)v, n_vocab);
    *out = (int32_t)v;
    return ENG_STATUS_OK;
}

static enum eng_status load_ids(struct tokenizer *tok, const struct gguf_file *f,
                                struct eng_err *err)
{
    enum eng_status st;
    if ((st = load_id(f, "tokenizer.ggml.bos_token_id", tok->n_vocab, &tok->bos, err)) ||
        (st = load_id(f, "tokenizer.ggml.eos_token_id", tok->n_vocab, &tok->eos, err)) ||
        (st = load_id(f, "tokenizer.ggml.eot_token_id", tok->n_vocab, &tok->eot, err)))
        return st;
    tok->add_bos = false;
    if (gguf_find_kv(f, "tokenizer.ggml.add_bos_token") &&
        !gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &tok->add_bos))
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: tokenizer.ggml.add_bos_token is not a bool", f->path);
    return ENG_STATUS_OK;
}

enum eng_status tokenizer_from_gguf(const struct gguf_file *f, struct tokenizer **out,
                                    struct eng_err *err)
{
    *out = NULL;
    struct tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: no memory for the tokenizer", f->path);
    enum eng_status st;
    if ((st = load_model_and_pre(tok, f, err)) || (st = load_tokens(tok, f, err)) ||
        (st = load_types(tok, f, err)))
        goto out_free_tok;
    decode_token_bytes(tok);
    if ((st = find_byte_tokens(tok, f, err)) || (st = load_merges(tok, f, err)) ||
        (st = index_specials(tok, f, err)) || (st = load_ids(tok, f, err)))
        goto out_free_tok;
    *out = tok;
    return ENG_STATUS_OK;

out_free_tok:
    tokenizer_free(&tok);
    return st;
}

void tokenizer_free(struct tokenizer **tokp)
{
    if (!tokp || !*tokp)
        return;
    struct tokenizer *tok = *tokp;
    free(tok->text_arena);
    free(tok->bytes_arena);
    free(tok->text_off);
    free(tok->bytes_off);
    free(tok->text_len);
    free(tok->bytes_len);
    free(tok->types);
    free(tok->vocab_slots);
    free(tok->pairs);
    free(tok->specials);
    free(tok);
    *tokp = NULL;
}

/* ---- encoding ----------------------------------------------------------- */

/* The growing output of one encode call. */
struct id_list {
    int32_t *ids; /* [cap] */
    size_t n, cap;
    bool oom;
};

static void id_push(struct id_list *l, int32_t id)
{
    if (l->oom)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        int32_t *ids = realloc(l->ids, cap * sizeof *ids);
        if (!ids) {
            l->oom = true;
            return;
        }
        l->ids = ids;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
}

/* One BPE symbol: a token covering a run of the piece's bytes. */
struct bpe_sym {
    int32_t id;
    int32_t prev, next; /* neighbours in the piece; -1 at the ends */
};

/* A candidate merge of sym[pos] with its next neighbour. */
struct bpe_cand {
    int32_t rank;
    int32_t pos;
    int32_t left, right; /* the ids it was made for; stale when they changed */
    int32_t merged;
};

/* Scratch of one piece (all sized for the longest piece of the section). */
struct bpe_work {
    struct bpe_sym *syms;  /* [piece bytes] */
    struct bpe_cand *heap; /* [3 * piece bytes]: n-1 pairs, then at most 2 per merge */
    size_t n_heap;
    char *text; /* [2 * piece bytes]: the piece in byte-level form */
};

static bool cand_less(const struct bpe_cand *a, const struct bpe_cand *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(struct bpe_work *w, struct bpe_cand c)
{
    size_t i = w->n_heap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!cand_less(&c, &w->heap[parent]))
            break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = c;
}

static struct bpe_cand heap_pop(struct bpe_work *w)
{
    struct bpe_cand top = w->heap[0];
    struct bpe_cand last = w->heap[--w->n_heap];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= w->n_heap)
            break;
        if (child + 1 < w->n_heap && cand_less(&w->heap[child + 1], &w->heap[child]))
            child++;
        if (!cand_less(&w->heap[child], &last))
            break;
        w->heap[i] = w->heap[child];
        i = child;
    }
    if (w->n_heap > 0)
        w->heap[i] = last;
    return top;
}

static void push_pair(const struct tokenizer *tok, struct bpe_work *w, int32_t pos)
{
    int32_t next = w->syms[pos].next;
    if (next < 0)
        return;
    const struct pair_slot *m = pair_lookup(tok, w->syms[pos].id, w->syms[next].id);
    if (m)
        heap_push(w, (struct bpe_cand){m->rank, pos, w->syms[pos].id, w->syms[next].id, m->merged});
}

/* Whole-piece look-up for ignore_merges: the byte-level text of the piece. */
static int32_t piece_as_token(const struct tokenizer *tok, struct bpe_work *w, const uint8_t *bytes,
                              size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        k += unicode_encode_utf8(byte_to_cp(bytes[i]), (uint8_t *)w->text + k);
    int32_t id = vocab_lookup(tok, w->text, k);
    return id >= 0 && tok->types[id] == TOK_TYPE_NORMAL ? id : -1;
}

static void bpe_piece(const struct tokenizer *tok, struct bpe_work *w, const uint8_t *bytes,
                      size_t len, struct id_list *out)
{
    if (len == 1) {
        id_push(out, tok->byte_token[bytes[0]]);
        return;
    }
    if (tok->ignore_merges) {
        int32_t id = piece_as_token(tok, w, bytes, len);
        if (id >= 0) {
            id_push(out, id);
            return;
        }
    }
    for (size_t i = 0; i < len; i++)
        w->syms[i] = (struct bpe_sym){tok->byte_token[bytes[i]], (int32_t)i - 1,
                                      i + 1 < len ? (int32_t)i + 1 : -1};
    w->n_heap = 0;
    for (size_t i = 0; i + 1 < len; i++)
        push_pair(tok, w, (int32_t)i);
    while (w->n_heap > 0) {
        struct bpe_cand c = heap_pop(w);
        struct bpe_sym *left = &w->syms[c.pos];
        if (left->id != c.left || left->next < 0 || w->syms[left->next].id != c.right)
            continue; /* stale: one side has merged since */
        struct bpe_sym *right = &w->syms[left->next];
        left->id = c.merged;
        left->next = right->next;
        if (right->next >= 0)
            w->syms[right->next].prev = c.pos;
        right->id = -1;
        if (left->prev >= 0)
            push_pair(tok, w, left->prev);
        push_pair(tok, w, c.pos);
    }
    for (int32_t i = 0; i >= 0; i = w->syms[i].next)
        id_push(out, w->syms[i].id);
}

/* Decode valid UTF-8 into code points, NFC-normalized when the vocab asks.
 * Returns a malloc'd array (count in *n_out), or NULL when out of memory. */
static uint32_t *section_code_points(const struct tokenizer *tok, const uint8_t *text, size_t len,
                                     size_t *n_out)
{
    uint32_t *cps = malloc(len * sizeof *cps); /* [len]: at most one code point per byte */
    if (!cps)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t used;
        cps[n++] = unicode_decode_utf8(text + i, len - i, &used);
        i += used;
    }
    if (tok->nfc && unicode_nfc_may_change(cps, n)) {
        uint32_t *norm = malloc(4 * n * sizeof *norm); /* [4 n]: the largest expansion */
        if (norm)
            n = unicode_nfc(cps, n, norm);
        free(cps);
        cps = norm;
    }
    *n_out = n;
    return cps;
}

/* BPE over each piece; ends[n_pieces] are the piece ends in cps. */
static bool encode_pieces(const struct tokenizer *tok, const uint32_t *cps, const size_t *ends,
                          size_t n_pieces, struct id_list *out)
{
    size_t max_cps = 0, start = 0;
    for (size_t p = 0; p < n_pieces; start = ends[p++])
        max_cps = ends[p] - start > max_cps ? ends[p] - start : max_cps;
    size_t max_bytes = 4 * max_cps;
    uint8_t *piece = malloc(max_bytes); /* [max_bytes] the current piece's UTF-8 */
    struct bpe_work w = {
        .syms = malloc(max_bytes * sizeof *w.syms),     /* [max_bytes] */
        .heap = malloc(3 * max_bytes * sizeof *w.heap), /* [3 max_bytes] */
        .text = malloc(2 * max_bytes + 1),              /* [2 max_bytes] */
    };
    bool ok = piece && w.syms && w.heap && w.text;
    start = 0;
    for (size_t p = 0; ok && p < n_pieces; start = ends[p++]) {
        size_t n_bytes = 0;
        for (size_t i = start; i < ends[p]; i++)
            n_bytes += unicode_encode_utf8(cps[i], piece + n_bytes);
        bpe_piece(tok, &w, piece, n_bytes, out);
    }
    free(piece);
    free(w.syms);
    free(w.heap);
    free(w.text);
    return ok && !out->oom;
}

/* Encode one section (no special tokens in it) of valid UTF-8. */
static enum eng_status encode_section(const struct tokenizer *tok, const uint8_t *text, size_t len,
                                      struct id_list *out, struct eng_err *err)
{
    if (len == 0)
        return ENG_STATUS_OK;
    size_t n_cps = 0;
    uint32_t *cps = section_code_points(tok, text, len, &n_cps);
    uint8_t *classes = malloc(n_cps + 1);              /* [n_cps] */
    size_t *ends = malloc((n_cps + 1) * sizeof *ends); /* [n_cps] piece ends */
    bool ok = cps && classes && ends;
    if (ok) {
        size_t n_pieces = unicode_pretokenize(tok->pre, cps, n_cps, classes, ends);
        ok = encode_pieces(tok, cps, ends, n_pieces, out);
    }
    free(cps);
    free(classes);
    free(ends);
    if (!ok)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "tokenizer: no memory for %zu bytes of text",
                           len);
    return ENG_STATUS_OK;
}

/* The longest special token at text[pos..len), or -1. */
static int32_t special_at(const struct tokenizer *tok, const uint8_t *text, size_t pos, size_t len)
{
    uint8_t b = text[pos];
    for (uint32_t k = tok->special_first[b]; k < tok->special_first[b + 1]; k++) {
        int32_t id = tok->specials[k];
        size_t n = tok->text_len[id];
        if (n <= len - pos && memcmp(text + pos, token_text(tok, id), n) == 0)
            return id;
    }
    return -1;
}

/* A well-formed copy of text: each maximal invalid subpart becomes U+FFFD.
 * Returns a malloc'd buffer (length in *out_len), or NULL when out of memory. */
static uint8_t *sanitize_utf8(const uint8_t *text, size_t len, size_t *out_len)
{
    uint8_t *out = malloc(3 * len + 1); /* each bad byte grows to at most 3 */
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        size_t n;
        uint32_t cp = unicode_decode_utf8(text + i, len - i, &n);
        k += unicode_encode_utf8(cp, out + k);
        i += n;
    }
    *out_len = k;
    return out;
}

enum eng_status tokenizer_encode(const struct tokenizer *tok, const char *text, size_t len,
                                 bool parse_special, int32_t **out_ids, size_t *out_n,
                                 struct eng_err *err)
{
    *out_ids = NULL;
    *out_n = 0;
    if (!text && len > 0)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "tokenizer_encode: NULL text");
    const uint8_t *src = (const uint8_t *)text;
    uint8_t *clean = NULL;
    if (len > 0 && !unicode_utf8_valid(src, len)) {
        clean = sanitize_utf8(src, len, &len);
        if (!clean)
            return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "tokenizer: no memory for %zu bytes",
                               len);
        src = clean;
    }
    struct id_list out = {0};
    enum eng_status st = ENG_STATUS_OK;
    size_t section = 0;
    for (size_t pos = 0; pos < len && parse_special;) {
        int32_t id = special_at(tok, src, pos, len);
        if (id < 0) {
            pos++;
            continue;
        }
        if ((st = encode_section(tok, src + section, pos - section, &out, err)))
            goto out_free;
        id_push(&out, id);
        pos += tok->text_len[id];
        section = pos;
    }
    st = encode_section(tok, src + section, len - section, &out, err);
    if (!st && out.oom)
        st = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "tokenizer: no memory for the token ids");
out_free:
    free(clean);
    if (st) {
        free(out.ids);
        return st;
    }
    *out_ids = out.ids;
    *out_n = out.n;
    return ENG_STATUS_OK;
}

/* ---- queries ------------------------------------------------------------ */

int tokenizer_n_vocab(const struct tokenizer *tok)
{
    return tok->n_vocab;
}

const char *tokenizer_token_bytes(const struct tokenizer *tok, int32_t id, size_t *len)
{
    if (id < 0 || id >= tok->n_vocab) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = tok->bytes_len[id];
    return tok->bytes_arena + tok->bytes_off[id];
}

const char *tokenizer_token_text(const struct tokenizer *tok, int32_t id)
{
    return id >= 0 && id < tok->n_vocab ? token_text(tok, id) : NULL;
}

enum tok_token_type tokenizer_token_type(const struct tokenizer *tok, int32_t id)
{
    return id >= 0 && id < tok->n_vocab ? (enum tok_token_type)tok->types[id] : TOK_TYPE_UNDEFINED;
}

int32_t tokenizer_find(const struct tokenizer *tok, const char *text)
{
    return vocab_lookup(tok, text, strlen(text));
}

int32_t tokenizer_bos(const struct tokenizer *tok)
{
    return tok->bos;
}

int32_t tokenizer_eos(const struct tokenizer *tok)
{
    return tok->eos;
}

int32_t tokenizer_eot(const struct tokenizer *tok)
{
    return tok->eot;
}

bool tokenizer_add_bos(const struct tokenizer *tok)
{
    return tok->add_bos;
}

const char *tokenizer_pre_name(const struct tokenizer *tok)
{
    return tok->pre_name;
}

/* ---- streaming decode --------------------------------------------------- */

/* The length a lead byte announces (1..4), or 0 for a byte that cannot lead. */
static size_t utf8_seq_len(uint8_t b)
{
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        return 2;
    if (b >= 0xE0 && b <= 0xEF)
        return 3;
    if (b >= 0xF0 && b <= 0xF4)
        return 4;
    return 0;
}

/* Whether s[0..n) could still grow into a valid character (no error yet). */
static bool utf8_is_valid_prefix(const uint8_t *s, size_t n)
{
    size_t used;
    uint32_t cp = unicode_decode_utf8(s, n, &used);
    (void)cp;
    /* A truncated-but-valid prefix is consumed whole before the decoder runs out. */
    return used == n && n < utf8_seq_len(s[0]);
}

/* Decode buf[0..n) into out, holding back a valid incomplete tail in s. */
static size_t stream_decode(struct utf8_stream *s, const uint8_t *buf, size_t n, char *out,
                            size_t out_cap, bool final)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t rest = n - i;
        if (!final && rest < 4 && utf8_seq_len(buf[i]) > rest &&
            utf8_is_valid_prefix(buf + i, rest)) {
            memcpy(s->pending, buf + i, rest);
            s->n_pending = (int)rest;
            return k;
        }
        size_t used;
        uint32_t cp = unicode_decode_utf8(buf + i, rest, &used);
        uint8_t enc[4];
        size_t m = unicode_encode_utf8(cp, enc);
        ENG_ASSERT(k + m <= out_cap);
        memcpy(out + k, enc, m);
        k += m;
        i += used;
    }
    return k;
}

size_t utf8_stream_push(struct utf8_stream *s, const char *bytes, size_t len, char *out,
                        size_t out_cap)
{
    size_t k = 0, taken = 0;
    if (s->n_pending > 0) {
        /* Only the held bytes and the head of the input can form one character. */
        uint8_t head[4];
        size_t n_held = (size_t)s->n_pending;
        size_t n_head = n_held + (len < 4 - n_held ? len : 4 - n_held);
        memcpy(head, s->pending, n_held);
        memcpy(head + n_held, bytes, n_head - n_held);
        s->n_pending = 0;
        if (utf8_seq_len(head[0]) > n_head && utf8_is_valid_prefix(head, n_head)) {
            memcpy(s->pending, head, n_head); /* still incomplete: hold it all */
            s->n_pending = (int)n_head;
            return 0;
        }
        size_t used;
        uint8_t enc[4];
        size_t m = unicode_encode_utf8(unicode_decode_utf8(head, n_head, &used), enc);
        /* The held bytes are a valid prefix, so the character (or its maximal
         * invalid subpart) covers all of them. */
        ENG_ASSERT(used >= n_held && m <= out_cap);
        memcpy(out, enc, m);
        k = m;
        taken = used - n_held;
    }
    k += stream_decode(s, (const uint8_t *)bytes + taken, len - taken, out + k, out_cap - k, false);
    return k;
}

size_t utf8_stream_flush(struct utf8_stream *s, char *out, size_t out_cap)
{
    size_t n = (size_t)s->n_pending;
    s->n_pending = 0;
    return stream_decode(s, (const uint8_t *)s->pending, n, out, out_cap, true);
}
