/* quant-avx512.c: AVX-512 (F/BW/VL/VNNI/VBMI) single-row dot kernels for the
 * 32-element formats against Q8_0 activations.
 *
 * Built with -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx512vbmi into a
 * library of its own; quant.c calls in here only when the CPU has all of
 * them (and WENSHU_NO_AVX512 is not set). The AVX2 kernels stay the baseline.
 *
 * Scheme, per group of 4 weight blocks and 4 activation blocks (one 128-bit
 * lane per block):
 *  - the group's bytes are loaded as 64-byte chunks (the last one masked to
 *    the group's length, so nothing past the row is touched), and vpermt2b
 *    gathers the quants into lane order: for the nibble formats one gather
 *    then and/shift for the low (elements 0-15) and high (16-31) halves; for
 *    the Q8_0 activations one gather per half;
 *  - every weight format is turned into unsigned bytes u = q + K (Q4_0: the
 *    nibble itself, K = 8; Q5_0: nibble | hi << 4, K = 16; IQ4_NL: the
 *    codebook value + 128, K = 128), so vpdpbusd (u8 x s8, sums of 4 into
 *    s32) gives sum(u * y), and vpdpbusd of the constant K with y gives the
 *    exact integer correction K * sum(y);
 *  - the 4 weight and 4 activation scales are gathered by vpermt2w, converted
 *    and multiplied, spread to the lanes by vpermps, and one FMA per group
 *    scales the converted integer sums.
 * Q8_0 weights keep the AVX2 kernel: this scheme measured slower for them
 * (26 GB/s against 32, L2-resident, on an AMD EPYC with AVX-512).
 * The integer part is exact, so results differ from the plain C kernels only
 * by float summation order. */
#include <stdbool.h>
#include <string.h>

#include "quant.h"

/* The AVX-512 kernel for a weight type, or NULL when there is none (or the
 * file was built without AVX-512). Call only when the CPU has AVX-512
 * F/BW/VL/VNNI/VBMI and F16C. (Declared here and in quant.c, its only
 * caller, so that quant.h stays as designed.) */
quant_dot_fn quant_avx512_dot(enum eng_type type);

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&                    \
    defined(__AVX512VNNI__) && defined(__AVX512VBMI__) && defined(__F16C__)
#include <immintrin.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Index tables of vpermt2b/vpermt2w for one block layout; filled by
 * tables_init() before any kernel pointer is handed out. Output byte j of a
 * gather belongs to block j / 16 of the group (one 128-bit lane per block). */
struct perm_tables {
    uint8_t q[64];        /* [j] byte (of chunks 0-1) of quant byte j % 16 of block j / 16 */
    uint16_t d_words[32]; /* [k] word of block k's scale (k < 4; the rest 0) */
};

/* Block layouts handled here: bytes per block and offset of the quants. */
enum { L_Q4_0, L_Q5_0, L_Q8_0, L_COUNT };
static const int layout_size[L_COUNT] = {18, 22, 34};
static const int layout_qs[L_COUNT] = {2, 6, 2};
static struct perm_tables tables[L_COUNT];

static void tables_init(void)
{
    static bool done; /* only ever called under quant.c's pthread_once */
    if (done)
        return;
    for (int l = 0; l < L_COUNT; l++) {
        struct perm_tables *t = &tables[l];
        for (int j = 0; j < 64; j++)
            t->q[j] = (uint8_t)((j / 16) * layout_size[l] + layout_qs[l] + j % 16);
        for (int k = 0; k < 32; k++)
            t->d_words[k] = (uint16_t)(k < 4 ? k * layout_size[l] / 2 : 0);
    }
    done = true;
}

/* ---- helpers ------------------------------------------------------------- */

/* 64 bytes at p + off of a group of `len` bytes, zero past len (a masked
 * load: nothing past the group is touched). */
ALWAYS_INLINE __m512i load_at(const uint8_t *p, int off, int len)
{
    const int rest = len - off;
    if (rest >= 64)
        return _mm512_loadu_si512((const void *)(p + off));
    return _mm512_maskz_loadu_epi8((__mmask64)((1ull << rest) - 1), p + off);
}

/* The 4 scales (halves) of a group as 4 floats, from its first 128 bytes. */
ALWAYS_INLINE __m128 group_scales(__m512i c0, __m512i c1, const struct perm_tables *t)
{
    const __m512i idx = _mm512_loadu_si512((const void *)t->d_words);
    const __m512i w = _mm512_permutex2var_epi16(c0, idx, c1);
    return _mm_cvtph_ps(_mm512_castsi512_si128(w));
}

/* The 16 lanes of a group: the 32 quant bytes of block k are split as the
 * low half (elements 0-15, lane k of `lo`) and the high half (16-31, `hi`). */
struct halves {
    __m512i lo, hi;
};

/* Q8_0-layout bytes (weights or activations) of a group of 4 blocks. */
ALWAYS_INLINE struct halves gather_q8(const uint8_t *g, const struct perm_tables *t, __m128 *d)
{
    const __m512i idx = _mm512_loadu_si512((const void *)t->q);
    const __m512i c0 = load_at(g, 0, 136), c1 = load_at(g, 64, 136);
    const __m512i c0h = load_at(g, 16, 136), c1h = load_at(g, 80, 136);
    *d = group_scales(c0, c1, t);
    return (struct halves){_mm512_permutex2var_epi8(c0, idx, c1),
                           _mm512_permutex2var_epi8(c0h, idx, c1h)};
}

/* Nibble formats: 16 quant bytes per block -> low nibbles (elements 0-15)
 * and high nibbles (16-31). */
ALWAYS_INLINE struct halves gather_nibbles(const uint8_t *g, int len, const struct perm_tables *t,
                                           __m128 *d)
{
    const __m512i idx = _mm512_loadu_si512((const void *)t->q);
    const __m512i c0 = load_at(g, 0, len), c1 = load_at(g, 64, len);
    *d = group_scales(c0, c1, t);
    const __m512i q = _mm512_permutex2var_epi8(c0, idx, c1);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    return (struct halves){_mm512_and_si512(q, m4),
                           _mm512_and_si512(_mm512_srli_epi16(q, 4), m4)};
}

/* ---- weight formats: a group as unsigned bytes u = q + K ------------------ */

ALWAYS_INLINE struct halves u_q4_0(const uint8_t *g, __m128 *d)
{
    return gather_nibbles(g, 72, &tables[L_Q4_0], d);
}

ALWAYS_INLINE struct halves u_iq4_nl(const uint8_t *g, __m128 *d)
{
    /* kvalues_iq4nl + 128 */
    static const uint8_t book[16] = {1,   24,  45,  63,  79,  93,  106, 118,
                                     129, 141, 153, 166, 181, 197, 217, 241};
    const __m512i b = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)book));
    struct halves h = gather_nibbles(g, 72, &tables[L_Q4_0], d);
    h.lo = _mm512_shuffle_epi8(b, h.lo);
    h.hi = _mm512_shuffle_epi8(b, h.hi);
    return h;
}

ALWAYS_INLINE struct halves u_q5_0(const uint8_t *g, __m128 *d)
{
    uint64_t lo = 0, hi = 0; /* bit 16k + e: high bit of element e (+16) of block k */
    for (int k = 0; k < 4; k++) {
        uint32_t h;
        memcpy(&h, g + 22 * k + 2, 4);
        lo |= (uint64_t)(h & 0xFFFF) << (16 * k);
        hi |= (uint64_t)(h >> 16) << (16 * k);
    }
    struct halves q = gather_nibbles(g, 88, &tables[L_Q5_0], d);
    const __m512i b4 = _mm512_set1_epi8(0x10);
    q.lo = _mm512_or_si512(q.lo, _mm512_maskz_mov_epi8((__mmask64)lo, b4));
    q.hi = _mm512_or_si512(q.hi, _mm512_maskz_mov_epi8((__mmask64)hi, b4));
    return q;
}

/* One row of a 32-element format (bytes per block BS, unsigned bytes by U,
 * offset K) against one Q8_0 row. */
#define DEFINE_DOT512(NAME, BS, U, K, TAIL_TYPE)                                                   \
    static void NAME##_dot512(int n, float *s, const void *vx, const void *vy)                     \
    {                                                                                              \
        const int nb = n / 32;                                                                     \
        const uint8_t *x = vx, *y = vy;                                                            \
        const __m512i kk = _mm512_set1_epi8((char)(K));                                            \
        const __m512i spread = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);  \
        __m512 acc = _mm512_setzero_ps();                                                          \
        int i = 0;                                                                                 \
        _Pragma("GCC unroll 2") for (; i + 4 <= nb; i += 4)                                        \
        {                                                                                          \
            __m128 dx, dy;                                                                         \
            const struct halves u = U(x + (size_t)i * (BS), &dx);                                  \
            const struct halves q = gather_q8(y + (size_t)i * 34, &tables[L_Q8_0], &dy);           \
            const __m512i zero = _mm512_setzero_si512();                                           \
            const __m512i t = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, u.lo, q.lo), u.hi,     \
                                                  q.hi);                                           \
            const __m512i c = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, kk, q.lo), kk, q.hi); \
            const __m512 d = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(                 \
                                                               _mm_mul_ps(dx, dy)));               \
            acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(t, c)), acc);             \
        }                                                                                          \
        float sum = _mm512_reduce_add_ps(acc);                                                     \
        if (i < nb) { /* fewer than 4 blocks left */                                               \
            float t;                                                                               \
            quant_vec_dot_ref(TAIL_TYPE, n - 32 * i, &t, x + (size_t)i * (BS),                     \
                              y + (size_t)i * 34);                                                 \
            sum += t;                                                                              \
        }                                                                                          \
        *s = sum;                                                                                  \
    }

DEFINE_DOT512(q4_0, 18, u_q4_0, 8, ENG_TYPE_Q4_0)
DEFINE_DOT512(q5_0, 22, u_q5_0, 16, ENG_TYPE_Q5_0)
DEFINE_DOT512(iq4_nl, 18, u_iq4_nl, 128, ENG_TYPE_IQ4_NL)

quant_dot_fn quant_avx512_dot(enum eng_type type)
{
    tables_init();
    switch (type) {
    case ENG_TYPE_Q4_0: return q4_0_dot512;
    case ENG_TYPE_Q5_0: return q5_0_dot512;
    case ENG_TYPE_IQ4_NL: return iq4_nl_dot512;
    /* Q8_0: the AVX2 kernel measured faster (32 GB/s against 26, L2-resident) */
    default: return NULL;
    }
}

#else /* compiler without these extensions: quant.c keeps the AVX2 kernels */

quant_dot_fn quant_avx512_dot(enum eng_type type)
{
    (void)type;
    return NULL;
}

#endif
