/* quant-avx512.c: AVX-512 (F/BW/VL/VNNI/VBMI) single-row dot kernels for the
 * 32-element formats against Q8_0 activations.
 *
 * Built with -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx512vbmi into a
 * library of its own; quant.c calls in here only when the CPU has all of
 * them (and WENSHU_NO_AVX512 is not set). The AVX2 kernels stay the baseline.
 *
 * Scheme, per group of 4 weight blocks and 4 activation blocks:
 *  - the group's bytes are loaded as 64-byte chunks (the last one masked to
 *    the group's length, so nothing past the row is touched), and one vpermb
 *    of a chunk pair (vpermt2b) gathers the quants of 2 blocks into one
 *    register in element order, the activations likewise;
 *  - every weight format is turned into unsigned bytes u = q + K (Q4_0: the
 *    nibble itself, K = 8; Q5_0: nibble | hi << 4, K = 16; IQ4_NL: the
 *    codebook value + 128, K = 128; Q8_0: q ^ 0x80, K = 128), so vpdpbusd
 *    (u8 x s8, sums of 4 into s32) gives sum(u * y), and one more vpdpbusd
 *    of the constant K with y gives the exact integer correction K * sum(y);
 *  - the 8 halves (4 weight scales, 4 activation scales) are gathered by two
 *    vpermt2w and converted together; each 2-block integer vector is
 *    converted once and FMA'd with its 2 block scales spread by vpermps.
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

/* Byte/word index tables of vpermt2b/vpermt2w, one set per weight block size;
 * filled by tables_init() before any kernel pointer is handed out. */
struct perm_tables {
    uint8_t x_pair[2][64]; /* [pair][out byte] -> byte within the pair's chunk pair */
    int x_chunk[2];        /* [pair] first 64-byte chunk of the pair's chunk pair */
    uint16_t d_words[32];  /* out word k < 4 -> word of block k's scale */
};

/* Block layouts handled here: bytes per block, offset of the 16 or 32 quant
 * bytes in a block, whether the quants are nibbles (16 bytes) or bytes. */
enum { L_Q4_0, L_Q5_0, L_Q8_0, L_COUNT };
static const int layout_size[L_COUNT] = {18, 22, 34};
static const int layout_qs[L_COUNT] = {2, 6, 2};
static const bool layout_nibbles[L_COUNT] = {true, true, false};
static struct perm_tables tables[L_COUNT];

static void tables_init_one(int l)
{
    struct perm_tables *t = &tables[l];
    const int bs = layout_size[l], qs = layout_qs[l];
    for (int p = 0; p < 2; p++) {
        int lo = 1 << 30;
        int off[64]; /* byte offset within the group of output byte j */
        for (int j = 0; j < 64; j++) {
            const int blk = 2 * p + j / 32;
            /* nibbles: each 16-byte qs is repeated twice (low then high half) */
            const int byte = layout_nibbles[l] ? (j % 32) % 16 : j % 32;
            off[j] = blk * bs + qs + byte;
            if (off[j] < lo)
                lo = off[j];
        }
        t->x_chunk[p] = lo / 64;
        for (int j = 0; j < 64; j++)
            t->x_pair[p][j] = (uint8_t)(off[j] - 64 * t->x_chunk[p]);
    }
    for (int k = 0; k < 32; k++)
        t->d_words[k] = (uint16_t)(k < 4 ? k * bs / 2 : 0);
}

static void tables_init(void)
{
    static bool done; /* only ever called under quant.c's pthread_once */
    if (done)
        return;
    for (int l = 0; l < L_COUNT; l++)
        tables_init_one(l);
    done = true;
}

/* ---- helpers ------------------------------------------------------------- */

/* Chunk c (64 bytes) of a group of `len` bytes, zero past len. */
ALWAYS_INLINE __m512i load_chunk(const uint8_t *p, int c, int len)
{
    const int rest = len - 64 * c;
    if (rest >= 64)
        return _mm512_loadu_si512((const void *)(p + 64 * c));
    return _mm512_maskz_loadu_epi8((__mmask64)((1ull << rest) - 1), p + 64 * c);
}

/* The 4 scales (halves) of a group as 4 floats, from its first 2 chunks. */
ALWAYS_INLINE __m128 group_scales(__m512i c0, __m512i c1, const struct perm_tables *t)
{
    const __m512i idx = _mm512_loadu_si512((const void *)t->d_words);
    const __m512i w = _mm512_permutex2var_epi16(c0, idx, c1);
    return _mm_cvtph_ps(_mm512_castsi512_si128(w));
}

ALWAYS_INLINE float hsum512(__m512 v)
{
    return _mm512_reduce_add_ps(v);
}

/* Per-pair spread of 4 floats: lanes 0-7 get s[2p], lanes 8-15 s[2p+1]. */
ALWAYS_INLINE __m512 spread_pair(__m512 s4, int p)
{
    const __m512i idx = _mm512_set_epi32(2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1,
                                         2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p, 2 * p, 2 * p,
                                         2 * p, 2 * p, 2 * p, 2 * p, 2 * p);
    return _mm512_permutexvar_ps(idx, s4);
}

/* ---- weight formats: 2 blocks' quants (as gathered) -> unsigned bytes ---- */

/* Nibble pairs as gathered: each block's 16 bytes twice; keep the low nibble
 * in the first copy and the high nibble in the second. */
ALWAYS_INLINE __m512i nibbles(__m512i g)
{
    const long long s4 = 0x0004000400040004; /* a shift of 4 in each word */
    const __m512i shift = _mm512_set_epi64(s4, s4, 0, 0, s4, s4, 0, 0);
    return _mm512_and_si512(_mm512_srlv_epi16(g, shift), _mm512_set1_epi8(0x0F));
}

ALWAYS_INLINE __m512i u_q4_0(__m512i g, const uint8_t *grp, int p)
{
    (void)grp, (void)p;
    return nibbles(g);
}

ALWAYS_INLINE __m512i u_iq4_nl(__m512i g, const uint8_t *grp, int p)
{
    (void)grp, (void)p;
    /* kvalues_iq4nl + 128 */
    static const uint8_t book[16] = {1,   24,  45,  63,  79,  93,  106, 118,
                                     129, 141, 153, 166, 181, 197, 217, 241};
    const __m512i b = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)book));
    return _mm512_shuffle_epi8(b, nibbles(g));
}

ALWAYS_INLINE __m512i u_q5_0(__m512i g, const uint8_t *grp, int p)
{
    uint32_t h0, h1;
    memcpy(&h0, grp + (size_t)(2 * p) * 22 + 2, 4);
    memcpy(&h1, grp + (size_t)(2 * p + 1) * 22 + 2, 4);
    const __mmask64 k = (__mmask64)h0 | ((__mmask64)h1 << 32);
    return _mm512_or_si512(nibbles(g), _mm512_maskz_mov_epi8(k, _mm512_set1_epi8(0x10)));
}

ALWAYS_INLINE __m512i u_q8_0(__m512i g, const uint8_t *grp, int p)
{
    (void)grp, (void)p;
    return _mm512_xor_si512(g, _mm512_set1_epi8((char)0x80));
}

/* One row of a 32-element format (layout L, bytes -> unsigned by U, offset
 * K) against one Q8_0 row. */
#define DEFINE_DOT512(NAME, L, U, K, TAIL)                                                         \
    static void NAME##_dot512(int n, float *s, const void *vx, const void *vy)                     \
    {                                                                                              \
        const int nb = n / 32, bs = layout_size[L];                                                \
        const uint8_t *x = vx, *y = vy;                                                            \
        const struct perm_tables *tx = &tables[L], *ty = &tables[L_Q8_0];                          \
        const __m512i kk = _mm512_set1_epi8((char)(K));                                            \
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();                             \
        int i = 0;                                                                                 \
        for (; i + 4 <= nb; i += 4) {                                                              \
            const uint8_t *gx = x + (size_t)i * bs, *gy = y + (size_t)i * 34;                      \
            const __m512i xc0 = load_chunk(gx, 0, 4 * bs), xc1 = load_chunk(gx, 1, 4 * bs);        \
            const __m512i yc0 = load_chunk(gy, 0, 136), yc1 = load_chunk(gy, 1, 136);              \
            const __m512i yc2 = load_chunk(gy, 2, 136);                                            \
            __m512i xc2 = xc1;                                                                     \
            if (4 * bs > 128)                                                                      \
                xc2 = load_chunk(gx, 2, 4 * bs);                                                   \
            const __m128 d4 = _mm_mul_ps(group_scales(xc0, xc1, tx), group_scales(yc0, yc1, ty)); \
            const __m512 d = _mm512_castps128_ps512(d4);                                           \
            __m512 *acc[2] = {&acc0, &acc1};                                                       \
            _Pragma("GCC unroll 2") for (int p = 0; p < 2; p++)                                    \
            {                                                                                      \
                const __m512i idx = _mm512_loadu_si512((const void *)tx->x_pair[p]);               \
                const __m512i gxp = tx->x_chunk[p] == 0                                            \
                                        ? _mm512_permutex2var_epi8(xc0, idx, xc1)                  \
                                        : _mm512_permutex2var_epi8(xc1, idx, xc2);                 \
                const __m512i iy = _mm512_loadu_si512((const void *)ty->x_pair[p]);                \
                const __m512i gyp = p == 0 ? _mm512_permutex2var_epi8(yc0, iy, yc1)                \
                                           : _mm512_permutex2var_epi8(yc1, iy, yc2);               \
                const __m512i u = U(gxp, gx, p);                                                   \
                const __m512i sum =                                                                \
                    _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, gyp),          \
                                     _mm512_dpbusd_epi32(_mm512_setzero_si512(), kk, gyp));        \
                *acc[p] = _mm512_fmadd_ps(spread_pair(d, p), _mm512_cvtepi32_ps(sum), *acc[p]);    \
            }                                                                                      \
        }                                                                                          \
        float sum = hsum512(_mm512_add_ps(acc0, acc1));                                            \
        if (i < nb) {                                                                              \
            float t;                                                                               \
            TAIL(n - 32 * i, &t, x + (size_t)i * bs, y + (size_t)i * 34);                          \
            sum += t;                                                                              \
        }                                                                                          \
        *s = sum;                                                                                  \
    }

/* Tails (fewer than 4 blocks) go to the reference kernels via quant.c. */
static void tail_q4_0(int n, float *s, const void *x, const void *y)
{
    quant_vec_dot_ref(ENG_TYPE_Q4_0, n, s, x, y);
}
static void tail_q5_0(int n, float *s, const void *x, const void *y)
{
    quant_vec_dot_ref(ENG_TYPE_Q5_0, n, s, x, y);
}
static void tail_q8_0(int n, float *s, const void *x, const void *y)
{
    quant_vec_dot_ref(ENG_TYPE_Q8_0, n, s, x, y);
}
static void tail_iq4_nl(int n, float *s, const void *x, const void *y)
{
    quant_vec_dot_ref(ENG_TYPE_IQ4_NL, n, s, x, y);
}

DEFINE_DOT512(q4_0, L_Q4_0, u_q4_0, 8, tail_q4_0)
DEFINE_DOT512(q5_0, L_Q5_0, u_q5_0, 16, tail_q5_0)
DEFINE_DOT512(iq4_nl, L_Q4_0, u_iq4_nl, 128, tail_iq4_nl)
DEFINE_DOT512(q8_0, L_Q8_0, u_q8_0, 128, tail_q8_0)

quant_dot_fn quant_avx512_dot(enum eng_type type)
{
    tables_init();
    switch (type) {
    case ENG_TYPE_Q4_0: return q4_0_dot512;
    case ENG_TYPE_Q5_0: return q5_0_dot512;
    case ENG_TYPE_IQ4_NL: return iq4_nl_dot512;
    case ENG_TYPE_Q8_0: return q8_0_dot512;
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
