/* unicode.c: UTF-8, character classes, NFC and the pre-tokenizer splitters.
 *
 * The splitters are hand-written matchers, one per regex family, that give
 * exactly the pieces the published patterns give under leftmost-first
 * alternation with backtracking (the semantics of Oniguruma in Hugging Face
 * tokenizers, of JavaScript regexes, and of llama.cpp's hand-coded llama3
 * split in src/unicode.cpp). Each matcher returns the length of the match
 * that starts at position i; every position matches some alternative, so the
 * pieces tile the text.
 */
#include "unicode.h"

#include "unicode-data.h"

/* ---- UTF-8 -------------------------------------------------------------- */

uint32_t unicode_decode_utf8(const uint8_t *s, size_t len, size_t *n_read)
{
    uint8_t b0 = s[0];
    if (b0 < 0x80) {
        *n_read = 1;
        return b0;
    }
    int need;
    uint8_t lo = 0x80, hi = 0xBF;
    uint32_t cp;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
        cp = b0 & 0x1Fu;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        cp = b0 & 0x0Fu;
        if (b0 == 0xE0)
            lo = 0xA0;
        if (b0 == 0xED)
            hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        cp = b0 & 0x07u;
        if (b0 == 0xF0)
            lo = 0x90;
        if (b0 == 0xF4)
            hi = 0x8F;
    } else {
        *n_read = 1;
        return UNICODE_REPLACEMENT;
    }
    size_t i = 1;
    for (; need > 0; need--, i++) {
        /* The offending byte is not consumed: it starts the next character. */
        if (i >= len || s[i] < lo || s[i] > hi) {
            *n_read = i;
            return UNICODE_REPLACEMENT;
        }
        cp = (cp << 6) | (s[i] & 0x3Fu);
        lo = 0x80;
        hi = 0xBF;
    }
    *n_read = i;
    return cp;
}

size_t unicode_encode_utf8(uint32_t cp, uint8_t out[4])
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

bool unicode_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n;
        if (unicode_decode_utf8(s + i, len - i, &n) == UNICODE_REPLACEMENT) {
            /* U+FFFD itself is valid (EF BF BD); anything shorter was an error. */
            if (n != 3 || s[i] != 0xEF || s[i + 1] != 0xBF || s[i + 2] != 0xBD)
                return false;
        }
        i += n;
    }
    return true;
}

/* ---- classes ------------------------------------------------------------ */

/* Index of the last entry of a (first << 8 | value) step table with first <= cp. */
static size_t step_find(const uint32_t *table, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n; /* invariant: table[lo].first <= cp < table[hi].first */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if ((table[mid] >> 8) <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

unsigned unicode_class_of(uint32_t cp)
{
    if (cp < 0x80) {
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')
            return UNICODE_CLASS_L;
        if (cp >= '0' && cp <= '9')
            return UNICODE_CLASS_N;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D))
            return UNICODE_CLASS_WS;
        return 0;
    }
    if (cp >= 0x110000)
        return 0;
    size_t n = sizeof ucd_flag_ranges / sizeof ucd_flag_ranges[0];
    return ucd_flag_ranges[step_find(ucd_flag_ranges, n, cp)] & 0xFFu;
}

/* ---- NFC ---------------------------------------------------------------- */

/* Hangul syllable algorithm constants (Unicode 3.12). */
enum {
    HANGUL_S_BASE = 0xAC00,
    HANGUL_L_BASE = 0x1100,
    HANGUL_V_BASE = 0x1161,
    HANGUL_T_BASE = 0x11A7,
    HANGUL_L_COUNT = 19,
    HANGUL_V_COUNT = 21,
    HANGUL_T_COUNT = 28,
    HANGUL_N_COUNT = HANGUL_V_COUNT * HANGUL_T_COUNT,
    HANGUL_S_COUNT = HANGUL_L_COUNT * HANGUL_N_COUNT,
};

static unsigned ccc_of(uint32_t cp)
{
    if (cp < 0x300)
        return 0;
    size_t n = sizeof ucd_ccc_ranges / sizeof ucd_ccc_ranges[0];
    return ucd_ccc_ranges[step_find(ucd_ccc_ranges, n, cp)] & 0xFFu;
}

/* The {cp, a, b} row of cp's canonical decomposition, or NULL. */
static const uint32_t *decomp_find(uint32_t cp)
{
    size_t lo = 0, hi = sizeof ucd_decomp / sizeof ucd_decomp[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ucd_decomp[mid][0] == cp)
            return ucd_decomp[mid];
        if (ucd_decomp[mid][0] < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Full canonical decomposition of cp appended at out; returns the count. */
static size_t decompose(uint32_t cp, uint32_t *out)
{
    if (cp >= HANGUL_S_BASE && cp < HANGUL_S_BASE + HANGUL_S_COUNT) {
        uint32_t s = cp - HANGUL_S_BASE;
        size_t k = 0;
        out[k++] = HANGUL_L_BASE + s / HANGUL_N_COUNT;
        out[k++] = HANGUL_V_BASE + (s % HANGUL_N_COUNT) / HANGUL_T_COUNT;
        if (s % HANGUL_T_COUNT)
            out[k++] = HANGUL_T_BASE + s % HANGUL_T_COUNT;
        return k;
    }
    const uint32_t *row = decomp_find(cp);
    if (!row) {
        out[0] = cp;
        return 1;
    }
    size_t k = decompose(row[1], out);
    if (row[2])
        k += decompose(row[2], out + k);
    return k;
}

/* The primary composite of (a, b), or 0. */
static uint32_t compose(uint32_t a, uint32_t b)
{
    if (a >= HANGUL_L_BASE && a < HANGUL_L_BASE + HANGUL_L_COUNT && b >= HANGUL_V_BASE &&
        b < HANGUL_V_BASE + HANGUL_V_COUNT)
        return HANGUL_S_BASE +
               ((a - HANGUL_L_BASE) * HANGUL_V_COUNT + (b - HANGUL_V_BASE)) * HANGUL_T_COUNT;
    if (a >= HANGUL_S_BASE && a < HANGUL_S_BASE + HANGUL_S_COUNT &&
        (a - HANGUL_S_BASE) % HANGUL_T_COUNT == 0 && b > HANGUL_T_BASE &&
        b < HANGUL_T_BASE + HANGUL_T_COUNT)
        return a + (b - HANGUL_T_BASE);
    size_t lo = 0, hi = sizeof ucd_comp / sizeof ucd_comp[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const uint32_t *row = ucd_comp[mid];
        if (row[0] == a && row[1] == b)
            return row[2];
        if (row[0] < a || (row[0] == a && row[1] < b))
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Canonical ordering: stable sort of each run of non-starters by class. */
static void canonical_order(uint32_t *cps, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        unsigned cc = ccc_of(cps[i]);
        if (cc == 0)
            continue;
        uint32_t cp = cps[i];
        size_t j = i;
        while (j > 0) {
            unsigned prev = ccc_of(cps[j - 1]);
            if (prev == 0 || prev <= cc)
                break;
            cps[j] = cps[j - 1];
            j--;
        }
        cps[j] = cp;
    }
}

/* Canonical composition in place; returns the new length. */
static size_t canonical_compose(uint32_t *cps, size_t n)
{
    size_t out_n = 0;
    size_t starter = SIZE_MAX; /* index in the output of the last starter */
    int last_cc = -1;          /* class of the last kept character after it; -1: none */
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = cps[i];
        int cc = (int)ccc_of(cp);
        if (starter != SIZE_MAX && (last_cc == -1 || (last_cc != 0 && last_cc < cc))) {
            uint32_t composite = compose(cps[starter], cp);
            if (composite) {
                cps[starter] = composite;
                continue;
            }
        }
        if (cc == 0) {
            starter = out_n;
            last_cc = -1;
        } else {
            last_cc = cc;
        }
        cps[out_n++] = cp;
    }
    return out_n;
}

size_t unicode_nfc(const uint32_t *cps, size_t n, uint32_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += decompose(cps[i], out + k);
    canonical_order(out, k);
    return canonical_compose(out, k);
}

bool unicode_nfc_may_change(const uint32_t *cps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (cps[i] >= 0xC0 && (unicode_class_of(cps[i]) & UNICODE_CLASS_NFC))
            return true;
    }
    return false;
}

/* ---- pre-tokenizer matchers --------------------------------------------- */

/* A text being split: code points and their class bits, over [0, n). */
struct split_text {
    const uint32_t *cps;
    const uint8_t *cls;
    size_t n;
};

static bool is_l(const struct split_text *t, size_t i)
{
    return i < t->n && (t->cls[i] & UNICODE_CLASS_L);
}

static bool is_n(const struct split_text *t, size_t i)
{
    return i < t->n && (t->cls[i] & UNICODE_CLASS_N);
}

static bool is_ws(const struct split_text *t, size_t i)
{
    return i < t->n && (t->cls[i] & UNICODE_CLASS_WS);
}

/* [^\s\p{L}\p{N}] */
static bool is_other(const struct split_text *t, size_t i)
{
    return i < t->n && !(t->cls[i] & (UNICODE_CLASS_L | UNICODE_CLASS_N | UNICODE_CLASS_WS));
}

static bool is_crlf(const struct split_text *t, size_t i)
{
    return i < t->n && (t->cps[i] == '\r' || t->cps[i] == '\n');
}

static size_t run_end(const struct split_text *t, size_t i,
                      bool (*pred)(const struct split_text *, size_t))
{
    while (pred(t, i))
        i++;
    return i;
}

static uint32_t ascii_lower(uint32_t cp)
{
    return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
}

/* '(s|t|re|ve|m|ll|d) at i, case-folded for ASCII when fold; returns 0 or the length. */
static size_t match_contraction(const struct split_text *t, size_t i, bool fold)
{
    if (t->cps[i] != '\'' || i + 1 >= t->n)
        return 0;
    uint32_t c1 = fold ? ascii_lower(t->cps[i + 1]) : t->cps[i + 1];
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
        return 2;
    if (i + 2 >= t->n)
        return 0;
    uint32_t c2 = fold ? ascii_lower(t->cps[i + 2]) : t->cps[i + 2];
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
        return 3;
    return 0;
}

/* \s+(?!\S)|\s+ at a whitespace character i. */
static size_t match_space_tail(const struct split_text *t, size_t i)
{
    size_t e = run_end(t, i, is_ws);
    if (e == t->n)
        return e - i; /* the lookahead sees the end of the text */
    if (e - i >= 2)
        return e - i - 1; /* leave the last space to prefix the next word */
    return 1;
}

/* The Qwen2 (max_digits 1) and Llama 3 (max_digits 3) pattern at i. */
static size_t match_llama3(const struct split_text *t, size_t i, size_t max_digits)
{
    size_t k = match_contraction(t, i, true);
    if (k)
        return k;
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (is_l(t, i))
        return run_end(t, i, is_l) - i;
    if (!is_crlf(t, i) && !is_n(t, i) && is_l(t, i + 1))
        return run_end(t, i + 1, is_l) - i;
    /* \p{N}{1,max} */
    if (is_n(t, i)) {
        k = 1;
        while (k < max_digits && is_n(t, i + k))
            k++;
        return k;
    }
    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    size_t j = (t->cps[i] == ' ' && is_other(t, i + 1)) ? i + 1 : i;
    if (is_other(t, j))
        return run_end(t, run_end(t, j, is_other), is_crlf) - i;
    /* \s*[\r\n]+ : the whitespace run up to its last line break */
    size_t e = run_end(t, i, is_ws);
    for (size_t m = e; m > i; m--) {
        if (is_crlf(t, m - 1))
            return m - i;
    }
    return match_space_tail(t, i);
}

/* The GPT-2 pattern at i. */
static size_t match_gpt2(const struct split_text *t, size_t i)
{
    size_t k = match_contraction(t, i, false);
    if (k)
        return k;
    bool space = t->cps[i] == ' ';
    if (is_l(t, i))
        return run_end(t, i, is_l) - i;
    if (space && is_l(t, i + 1))
        return run_end(t, i + 1, is_l) - i;
    if (is_n(t, i))
        return run_end(t, i, is_n) - i;
    if (space && is_n(t, i + 1))
        return run_end(t, i + 1, is_n) - i;
    if (is_other(t, i))
        return run_end(t, i, is_other) - i;
    if (space && is_other(t, i + 1))
        return run_end(t, i + 1, is_other) - i;
    return match_space_tail(t, i);
}

/* Split t (the whole of [0, t->n)) with one pattern; appends ends (offset by base). */
static size_t split_with(enum unicode_pre pre, const struct split_text *t, size_t base,
                         size_t *ends)
{
    size_t n_pieces = 0;
    for (size_t i = 0; i < t->n;) {
        size_t len;
        switch (pre) {
        case UNICODE_PRE_QWEN2: len = match_llama3(t, i, 1); break;
        case UNICODE_PRE_LLAMA3: len = match_llama3(t, i, 3); break;
        default: len = match_gpt2(t, i); break;
        }
        i += len;
        ends[n_pieces++] = base + i;
    }
    return n_pieces;
}

size_t unicode_pretokenize(enum unicode_pre pre, const uint32_t *cps, size_t n, uint8_t *classes,
                           size_t *ends)
{
    for (size_t i = 0; i < n; i++)
        classes[i] = (uint8_t)unicode_class_of(cps[i]);
    if (pre != UNICODE_PRE_SMOLLM) {
        struct split_text t = {cps, classes, n};
        return split_with(pre, &t, 0, ends);
    }
    /* SmolLM: each \p{N} is its own piece; the GPT-2 pattern runs on the
     * stretches between, each seen as a whole text (its lookahead stops there). */
    size_t n_pieces = 0;
    for (size_t i = 0; i < n;) {
        if (classes[i] & UNICODE_CLASS_N) {
            ends[n_pieces++] = ++i;
            continue;
        }
        size_t e = i;
        while (e < n && !(classes[e] & UNICODE_CLASS_N))
            e++;
        struct split_text t = {cps + i, classes + i, e - i};
        n_pieces += split_with(UNICODE_PRE_GPT2, &t, i, ends + n_pieces);
        i = e;
    }
    return n_pieces;
}
