/* quant-avx512.c: AVX-512 (F/BW/VL/VNNI/VBMI) single-row dot kernels and
 * rows x cols (prefill) kernels for the 32-element formats against Q8_0
 * activations; the prefill scheme is described at its section below.
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
/* The AVX-512 VNNI rows x cols (prefill) kernel for a weight type, or NULL;
 * the same conditions as quant_avx512_dot. */
quant_dot_rows_cols_fn quant_avx512_dot_rows_cols(enum eng_type type);

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

/* ---- prefill: rows x cols tiles (quant_vec_dot_rows_cols) ---------------- */

/* Scheme: 16 weight rows sit in the 16 s32 lanes of a zmm. Each weight block
 * of the 16 rows is repacked once per call into 8 vectors (k-group g holds
 * the unsigned bytes u = q + K of elements 4g..4g+3 of every row), and for
 * each activation column the 4 bytes y[4g..4g+3] are broadcast to all lanes:
 * 8 vpdpbusd give the 16 rows' sum(u * y) of the block. The accumulator
 * starts at -K * sum(y) (per column and block, computed once per call), so
 * the integer part is exact; one convert, one multiply by the activation
 * scale and one FMA with the 16 weight scales finish the block. A register
 * tile of up to 8 columns, each summed in two chains of 4, keeps 16
 * independent vpdpbusd chains in flight. The repacking is a 4 x 4 dword
 * transpose inside the 128-bit lanes of 4 zmm (rc_gather16), so it costs
 * little next to the 64 columns of a prefill task that reuse it.
 * Work is blocked as RC_CB columns x RC_BB blocks so that the repacked
 * weights and the per-column sums live on the stack (~35 KiB). */
#define RC_ROWS 16 /* rows per repacked group (zmm lanes) */
#define RC_BB 32   /* blocks per chunk */
#define RC_CB 64   /* columns per chunk */
#define RC_TILE_C 8

/* Weights of one chunk: RC_ROWS rows x RC_BB blocks. */
struct rc_pack {
    uint8_t q[RC_BB][8][RC_ROWS][4]; /* [block][k-group][row][byte]: u = q + K */
    float d[RC_BB][RC_ROWS];         /* [block][row] weight scales; 0 past the rows */
};

/* One activation block's scale and -K * sum(q). */
struct rc_col {
    float dy;
    int32_t nks;
};

/* Rows past the end of a group read this instead (scale 0, quants 0). */
static const uint8_t rc_zero_rows[RC_BB * 34];

/* The row pointers of a group: rows past nr point at rc_zero_rows. */
static void rc_row_ptrs(const uint8_t *rp[RC_ROWS], const uint8_t *x, size_t x_stride, int nr)
{
    for (int j = 0; j < RC_ROWS; j++)
        rp[j] = j < nr ? x + (size_t)j * x_stride : rc_zero_rows;
}

/* The 16 rows' scales (the half at byte `off` of each row) into d[16]. */
ALWAYS_INLINE void rc_scales(float *d, const uint8_t *const rp[RC_ROWS], size_t off)
{
    uint16_t h[RC_ROWS];
    for (int j = 0; j < RC_ROWS; j++)
        memcpy(&h[j], rp[j] + off, 2);
    _mm512_storeu_ps(d, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h)));
}

/* 4 x 4 dword transpose inside the 128-bit lanes: if z[k] holds row 4l + k
 * in lane l, out[g] holds dword g of row j at element j. */
ALWAYS_INLINE void rc_transpose4(__m512i out[4], const __m512i z[4])
{
    const __m512i a = _mm512_unpacklo_epi32(z[0], z[1]), b = _mm512_unpackhi_epi32(z[0], z[1]);
    const __m512i c = _mm512_unpacklo_epi32(z[2], z[3]), d = _mm512_unpackhi_epi32(z[2], z[3]);
    out[0] = _mm512_unpacklo_epi64(a, c);
    out[1] = _mm512_unpackhi_epi64(a, c);
    out[2] = _mm512_unpacklo_epi64(b, d);
    out[3] = _mm512_unpackhi_epi64(b, d);
}

/* The 16 bytes at byte `off` of each of the 16 rows, transposed:
 * out[g] element j = dword g of those bytes of row j. */
ALWAYS_INLINE void rc_gather16(__m512i out[4], const uint8_t *const rp[RC_ROWS], size_t off)
{
    __m512i z[4];
    for (int k = 0; k < 4; k++) {
        __m512i t = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(rp[k] + off)));
        t = _mm512_inserti32x4(t, _mm_loadu_si128((const __m128i *)(rp[4 + k] + off)), 1);
        t = _mm512_inserti32x4(t, _mm_loadu_si128((const __m128i *)(rp[8 + k] + off)), 2);
        z[k] = _mm512_inserti32x4(t, _mm_loadu_si128((const __m128i *)(rp[12 + k] + off)), 3);
    }
    rc_transpose4(out, z);
}

/* Activation scales and -K * sums of blocks 0..nbb-1 of columns 0..ncb-1
 * (column c at y + c * y_stride, already offset to the chunk's first
 * block), 16 blocks at a time: the blocks take the place of the rows of
 * rc_gather16, and vpdpbusd with bytes of 1 sums each block's quants. */
static void rc_col_prep(struct rc_col *cp /* [RC_CB][RC_BB] */, const uint8_t *y, size_t y_stride,
                        int ncb, int nbb, int k)
{
    const __m512i ones = _mm512_set1_epi8(1), nk = _mm512_set1_epi32(-k);
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
    for (int c = 0; c < ncb; c++) {
        const uint8_t *yc = y + (size_t)c * y_stride;
        for (int b0 = 0; b0 < nbb; b0 += RC_ROWS) {
            const uint8_t *rp[RC_ROWS]; /* [block] */
            for (int j = 0; j < RC_ROWS; j++)
                rp[j] = b0 + j < nbb ? yc + (size_t)(b0 + j) * 34 : rc_zero_rows;
            float dy[RC_ROWS];
            rc_scales(dy, rp, 0);
            __m512i sum = _mm512_setzero_si512();
            for (int h = 0; h < 2; h++) {
                __m512i t[4];
                rc_gather16(t, rp, 2 + 16 * (size_t)h);
                for (int g = 0; g < 4; g++)
                    sum = _mm512_dpbusd_epi32(sum, ones, t[g]);
            }
            /* interleave into {dy, -K * sum} pairs; RC_BB is a multiple of 16 */
            const __m512i d = _mm512_castps_si512(_mm512_loadu_ps(dy));
            const __m512i n = _mm512_mullo_epi32(sum, nk);
            struct rc_col *o = &cp[c * RC_BB + b0];
            _mm512_storeu_si512((void *)o, _mm512_permutex2var_epi32(d, lo, n));
            _mm512_storeu_si512((void *)(o + 8), _mm512_permutex2var_epi32(d, hi, n));
        }
    }
}

/* Nibble formats (Q4_0, IQ4_NL; quants at byte 2 of 18): element e < 16 is
 * the low nibble of qs[e], element e + 16 its high nibble, so k-group g < 4
 * is the low nibbles of qs dword g and k-group g + 4 the high ones. */
ALWAYS_INLINE void rc_pack_nibbles(struct rc_pack *pk, const uint8_t *const rp[RC_ROWS], int nbb,
                                   bool iq4)
{
    /* kvalues_iq4nl + 128 */
    static const uint8_t book[16] = {1,   24,  45,  63,  79,  93,  106, 118,
                                     129, 141, 153, 166, 181, 197, 217, 241};
    const __m512i bk = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)book));
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int b = 0; b < nbb; b++) {
        rc_scales(pk->d[b], rp, (size_t)b * 18);
        __m512i t[4];
        rc_gather16(t, rp, (size_t)b * 18 + 2);
        for (int g = 0; g < 4; g++) {
            __m512i lo = _mm512_and_si512(t[g], m4);
            __m512i hi = _mm512_and_si512(_mm512_srli_epi16(t[g], 4), m4);
            if (iq4) {
                lo = _mm512_shuffle_epi8(bk, lo);
                hi = _mm512_shuffle_epi8(bk, hi);
            }
            _mm512_storeu_si512((void *)pk->q[b][g], lo);
            _mm512_storeu_si512((void *)pk->q[b][g + 4], hi);
        }
    }
}

/* Q4_0: u = the nibble itself (K = 8). */
static void q4_0_rc_pack(struct rc_pack *pk, const uint8_t *const rp[RC_ROWS], int nbb)
{
    rc_pack_nibbles(pk, rp, nbb, false);
}

/* IQ4_NL: u = codebook value + 128 (K = 128). */
static void iq4_nl_rc_pack(struct rc_pack *pk, const uint8_t *const rp[RC_ROWS], int nbb)
{
    rc_pack_nibbles(pk, rp, nbb, true);
}

/* Q8_0: u = q + 128 (K = 128); quants at byte 2 of 34. */
static void q8_0_rc_pack(struct rc_pack *pk, const uint8_t *const rp[RC_ROWS], int nbb)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int b = 0; b < nbb; b++) {
        rc_scales(pk->d[b], rp, (size_t)b * 34);
        for (int h = 0; h < 2; h++) {
            __m512i t[4];
            rc_gather16(t, rp, (size_t)b * 34 + 2 + 16 * h);
            for (int g = 0; g < 4; g++)
                _mm512_storeu_si512((void *)pk->q[b][4 * h + g], _mm512_xor_si512(t[g], flip));
        }
    }
}

/* Q5_0: u = nibble | high bit << 4 (K = 16); qh at byte 2, qs at 6 of 22.
 * Element e = 4g + i sits in byte i of k-group g for both nibble halves, so
 * k-group g takes bits 4g..4g+3 of each row's qh. */
static void q5_0_rc_pack(struct rc_pack *pk, const uint8_t *const rp[RC_ROWS], int nbb)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F), b4 = _mm512_set1_epi8(0x10);
    for (int b = 0; b < nbb; b++) {
        const size_t off = (size_t)b * 22;
        rc_scales(pk->d[b], rp, off);
        uint32_t qh[RC_ROWS]; /* [row] high bits */
        for (int j = 0; j < RC_ROWS; j++)
            memcpy(&qh[j], rp[j] + off + 2, 4);
        const __m512i qv = _mm512_loadu_si512((const void *)qh);
        /* byte 4j + i of k-group g tests bit 4g + i of row j's qh: copy byte
         * g / 2 of each dword to its 4 bytes, test bit 4 (g % 2) + i of byte i */
        const __m512i base = _mm512_set4_epi32(0x0C0C0C0C, 0x08080808, 0x04040404, 0);
        __m512i t[4];
        rc_gather16(t, rp, off + 6);
        for (int g = 0; g < 8; g++) {
            const __m512i idx = _mm512_add_epi8(base, _mm512_set1_epi8((char)(g / 2)));
            const __m512i sel = _mm512_shuffle_epi8(qv, idx);
            const __mmask64 m =
                _mm512_test_epi8_mask(sel, _mm512_set1_epi32((int)(0x08040201u << (4 * (g % 2)))));
            const __m512i nib = g < 4 ? _mm512_and_si512(t[g], m4)
                                      : _mm512_and_si512(_mm512_srli_epi16(t[g - 4], 4), m4);
            _mm512_storeu_si512((void *)pk->q[b][g],
                                _mm512_or_si512(nib, _mm512_maskz_mov_epi8((__mmask64)m, b4)));
        }
    }
}

/* 16 rows x C columns over the nbb blocks of a chunk. y: column 0 at the
 * chunk's first block; s: column 0, row 0 of the group; rmask: the rows
 * that exist; first: start from zero rather than from s. */
ALWAYS_INLINE void rc_tile(const struct rc_pack *pk, int nbb, const struct rc_col *cp,
                           const uint8_t *y, size_t y_stride, float *s, size_t s_col_stride,
                           __mmask16 rmask, bool first, const int C)
{
    __m512 acc[RC_TILE_C];
    _Pragma("GCC unroll 8") for (int c = 0; c < C; c++) acc[c] =
        first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(rmask, s + (size_t)c * s_col_stride);
    for (int b = 0; b < nbb; b++) {
        __m512i w[8];
        _Pragma("GCC unroll 8") for (int g = 0; g < 8; g++) w[g] =
            _mm512_loadu_si512((const void *)pk->q[b][g]);
        const __m512 dx = _mm512_loadu_ps(pk->d[b]);
        _Pragma("GCC unroll 8") for (int c = 0; c < C; c++)
        {
            const uint8_t *yq = y + (size_t)c * y_stride + (size_t)b * 34 + 2;
            const struct rc_col *p = &cp[c * RC_BB + b];
            /* two chains of 4 vpdpbusd: half the latency of one of 8 */
            __m512i ia[2] = {_mm512_set1_epi32(p->nks), _mm512_setzero_si512()};
            _Pragma("GCC unroll 8") for (int g = 0; g < 8; g++)
            {
                int32_t v;
                memcpy(&v, yq + 4 * g, 4);
                ia[g % 2] = _mm512_dpbusd_epi32(ia[g % 2], w[g], _mm512_set1_epi32(v));
            }
            const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(ia[0], ia[1])),
                                           _mm512_set1_ps(p->dy));
            acc[c] = _mm512_fmadd_ps(dx, f, acc[c]);
        }
    }
    _Pragma("GCC unroll 8") for (int c = 0; c < C; c++)
        _mm512_mask_storeu_ps(s + (size_t)c * s_col_stride, rmask, acc[c]);
}

/* Columns 0..ncb-1 of one chunk, in tiles of 8, 4 and 1. */
static void rc_cols(const struct rc_pack *pk, int nbb, const struct rc_col *cp, const uint8_t *y,
                    size_t y_stride, float *s, size_t s_col_stride, __mmask16 rmask, bool first,
                    int ncb)
{
    int c = 0;
    for (; c + 8 <= ncb; c += 8)
        rc_tile(pk, nbb, cp + c * RC_BB, y + (size_t)c * y_stride, y_stride,
                s + (size_t)c * s_col_stride, s_col_stride, rmask, first, 8);
    for (; c + 4 <= ncb; c += 4)
        rc_tile(pk, nbb, cp + c * RC_BB, y + (size_t)c * y_stride, y_stride,
                s + (size_t)c * s_col_stride, s_col_stride, rmask, first, 4);
    for (; c < ncb; c++)
        rc_tile(pk, nbb, cp + c * RC_BB, y + (size_t)c * y_stride, y_stride,
                s + (size_t)c * s_col_stride, s_col_stride, rmask, first, 1);
}

#define DEFINE_ROWS_COLS512(NAME, BS, K)                                                           \
    static void NAME##_rows_cols512(int n, float *s, size_t s_col_stride, const void *vx,          \
                                    size_t x_stride, int n_rows, const void *vy, size_t y_stride,  \
                                    int n_cols)                                                    \
    {                                                                                              \
        const uint8_t *x = vx, *y = vy;                                                            \
        const int nb = n / 32;                                                                     \
        struct rc_pack pk;                                                                         \
        struct rc_col cp[RC_CB * RC_BB]; /* [column][block] of the chunk */                       \
        for (int c0 = 0; c0 < n_cols; c0 += RC_CB) {                                               \
            const int ncb = n_cols - c0 < RC_CB ? n_cols - c0 : RC_CB;                             \
            for (int b0 = 0; b0 < nb; b0 += RC_BB) {                                               \
                const int nbb = nb - b0 < RC_BB ? nb - b0 : RC_BB;                                 \
                const uint8_t *yc = y + (size_t)c0 * y_stride + (size_t)b0 * 34;                   \
                rc_col_prep(cp, yc, y_stride, ncb, nbb, K);                                        \
                for (int r0 = 0; r0 < n_rows; r0 += RC_ROWS) {                                     \
                    const int nr = n_rows - r0 < RC_ROWS ? n_rows - r0 : RC_ROWS;                  \
                    const uint8_t *rp[RC_ROWS];                                            \
                    rc_row_ptrs(rp, x + (size_t)r0 * x_stride + (size_t)b0 * (BS), x_stride, nr);  \
                    NAME##_rc_pack(&pk, rp, nbb);                                                  \
                    rc_cols(&pk, nbb, cp, yc, y_stride, s + (size_t)c0 * s_col_stride + r0,        \
                            s_col_stride, (__mmask16)((1u << nr) - 1), b0 == 0, ncb);              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_ROWS_COLS512(q4_0, 18, 8)
DEFINE_ROWS_COLS512(q5_0, 22, 16)
DEFINE_ROWS_COLS512(iq4_nl, 18, 128)
DEFINE_ROWS_COLS512(q8_0, 34, 128)

quant_dot_rows_cols_fn quant_avx512_dot_rows_cols(enum eng_type type)
{
    switch (type) {
    case ENG_TYPE_Q4_0: return q4_0_rows_cols512;
    case ENG_TYPE_Q5_0: return q5_0_rows_cols512;
    case ENG_TYPE_IQ4_NL: return iq4_nl_rows_cols512;
    case ENG_TYPE_Q8_0: return q8_0_rows_cols512;
    default: return NULL;
    }
}

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

quant_dot_rows_cols_fn quant_avx512_dot_rows_cols(enum eng_type type)
{
    (void)type;
    return NULL;
}

#endif
