/* quant-avx2.c: AVX2/FMA/F16C dot kernels and activation quantizers.
 *
 * Built with -mavx2 -mfma -mf16c into a library of its own; quant.c calls in
 * here only after checking the CPU's flags (quant_init). The kernels follow
 * ggml's x86 pattern: unpack the quants of a block to bytes, multiply with the
 * Q8 activations by maddubs (u8 x s8 -> pairs of s16) and madd (-> s32), then
 * convert once per block and scale with an FMA. The *_rows kernels run the
 * same inner loop over several weight rows against one activation block, so
 * each activation load and scale serves 2-4 rows and the rows' FMA chains
 * overlap. The rows x cols (prefill) kernels of Q4_0 and Q5_0 repack weight
 * rows so that one broadcast activation dword serves 8 rows (see "prefill
 * with repacked weights"); Q8_0 and IQ4_NL keep 2 x 4 register tiles.
 *
 * Activations must come from quant_quantize_row (|q| <= 127): the sign trick
 * used for s8 x s8 products cannot represent -128 * -128. */
#include <string.h>

#include "quant.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* ---- helpers ------------------------------------------------------------- */

ALWAYS_INLINE float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

ALWAYS_INLINE int hsum_epi32_128(__m128i v)
{
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(v);
}

ALWAYS_INLINE float h2f(eng_half h)
{
    return _cvtsh_ss(h);
}

/* A half in memory, converted and broadcast to 8 floats. */
ALWAYS_INLINE __m256 bcast_half(const eng_half *p)
{
    short v;
    memcpy(&v, p, 2);
    return _mm256_cvtph_ps(_mm_set1_epi16(v));
}

/* 16 packed bytes -> 32 bytes: low nibbles of p[0..15], then high nibbles. */
ALWAYS_INLINE __m256i unpack_nibbles(const uint8_t *p)
{
    const __m128i t = _mm_loadu_si128((const __m128i *)p);
    const __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
}

/* 32 bits -> 32 bytes, 0xFF where the bit is set (ggml bytes_from_bits_32). */
ALWAYS_INLINE __m256i bytes_from_bits_32(const uint8_t *p)
{
    uint32_t x32;
    memcpy(&x32, p, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                           0x0101010101010101, 0x0000000000000000);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x32), shuf);
    bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

/* 8 sums of 4 products u8 x s8 (u must be < 128 or s small enough that pair
 * sums fit s16). */
ALWAYS_INLINE __m256i dot_u8s8(__m256i u, __m256i s)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* 8 sums of 4 products s8 x s8; y must not hold -128. */
ALWAYS_INLINE __m256i dot_s8s8(__m256i x, __m256i y)
{
    return dot_u8s8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* ---- per-block integer dots for the 32-element formats ------------------- */

/* Each returns 8 s32 partial sums of one block's integer dot. `pre` is
 * what prep_*(qy) computed once per activation block for all rows. */

/* 8 * y summed in pairs (s16): the "- 8" of Q4_0, shared by all rows. */
ALWAYS_INLINE __m256i prep_q4_0(__m256i qy)
{
    return _mm256_maddubs_epi16(_mm256_set1_epi8(8), qy);
}

ALWAYS_INLINE __m256i prep_none(__m256i qy)
{
    return qy;
}

/* The Q8_0-family weight formats are split into loadx_* (a block's 32 quants
 * as bytes, unsigned for Q4_0 and signed for the rest) and dotxy_* (their
 * integer dot with one activation block), so a tile can unpack a block once
 * for several activation columns. blk_* = dotxy_*(loadx_*). */

ALWAYS_INLINE __m256i dotxy_u4(__m256i q, __m256i qy, __m256i pre)
{
    /* sum (q - 8) * y = sum q*y - 8 * sum y, both in s16 range per pair */
    return _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(q, qy), pre),
                             _mm256_set1_epi16(1));
}

ALWAYS_INLINE __m256i dotxy_s8(__m256i q, __m256i qy, __m256i pre)
{
    (void)pre;
    return dot_s8s8(q, qy);
}

ALWAYS_INLINE __m256i loadx_q4_0(const struct block_q4_0 *x)
{
    return unpack_nibbles(x->qs);
}

ALWAYS_INLINE __m256i loadx_q8_0(const struct block_q8_0 *x)
{
    return _mm256_loadu_si256((const __m256i *)x->qs);
}

ALWAYS_INLINE __m256i loadx_q5_0(const struct block_q5_0 *x)
{
    /* (q4 | hi<<4) - 16 == q4 | (hi ? 0 : 0xF0) as s8 */
    __m256i hi = _mm256_andnot_si256(bytes_from_bits_32(x->qh), _mm256_set1_epi8((char)0xF0));
    return _mm256_or_si256(unpack_nibbles(x->qs), hi);
}

ALWAYS_INLINE __m256i loadx_iq4_nl(const struct block_iq4_nl *x)
{
    static const int8_t kvalues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                       1,    13,   25,  38,  53,  69,  89,  113};
    const __m256i book = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kvalues));
    return _mm256_shuffle_epi8(book, unpack_nibbles(x->qs));
}

#define DEFINE_BLK(NAME, BLOCK, DOTXY)                                                             \
    ALWAYS_INLINE __m256i blk_##NAME(const struct BLOCK *x, __m256i qy, __m256i pre)               \
    {                                                                                              \
        return DOTXY(loadx_##NAME(x), qy, pre);                                                    \
    }

DEFINE_BLK(q4_0, block_q4_0, dotxy_u4)
DEFINE_BLK(q8_0, block_q8_0, dotxy_s8)
DEFINE_BLK(q5_0, block_q5_0, dotxy_s8)
DEFINE_BLK(iq4_nl, block_iq4_nl, dotxy_s8)

ALWAYS_INLINE __m256i blk_q4_1(const struct block_q4_1 *x, __m256i qy, __m256i pre)
{
    (void)pre;
    return dot_u8s8(unpack_nibbles(x->qs), qy);
}

ALWAYS_INLINE __m256i blk_q5_1(const struct block_q5_1 *x, __m256i qy, __m256i pre)
{
    (void)pre;
    const __m256i hi = _mm256_and_si256(bytes_from_bits_32(x->qh), _mm256_set1_epi8(0x10));
    return dot_u8s8(_mm256_or_si256(unpack_nibbles(x->qs), hi), qy);
}

/* A weight format with 32-element blocks against Q8_0 activations: R rows
 * (R a compile-time constant after inlining) share each activation block. */
#define DEFINE_ROWS_Q8_0(NAME, BLOCK, BLK_FN, PREP_FN)                                             \
    ALWAYS_INLINE void NAME##_rowsR(int nb, float *s, const uint8_t *x, size_t stride,             \
                                    const struct block_q8_0 *y, const int R)                       \
    {                                                                                              \
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),            \
                         _mm256_setzero_ps()};                                                     \
        for (int i = 0; i < nb; i++) {                                                             \
            const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);                       \
            const __m256i pre = PREP_FN(qy);                                                       \
            const __m256 dy = bcast_half(&y[i].d);                                                 \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)                                    \
            {                                                                                      \
                const struct BLOCK *xb = (const struct BLOCK *)(x + (size_t)r * stride) + i;       \
                const __m256 p = _mm256_mul_ps(dy, _mm256_cvtepi32_ps(BLK_FN(xb, qy, pre)));       \
                acc[r] = _mm256_fmadd_ps(bcast_half(&xb->d), p, acc[r]);                           \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) s[r] = hsum_ps(acc[r]);                \
    }                                                                                              \
    static void NAME##_dot(int n, float *s, const void *vx, const void *vy)                        \
    {                                                                                              \
        const struct BLOCK *x = vx;                                                                \
        const struct block_q8_0 *y = vy;                                                           \
        const int nb = n / 32;                                                                     \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                             \
        int i = 0;                                                                                 \
        for (; i + 1 < nb; i += 2) {                                                               \
            const __m256i qy0 = _mm256_loadu_si256((const __m256i *)y[i].qs);                      \
            const __m256i qy1 = _mm256_loadu_si256((const __m256i *)y[i + 1].qs);                  \
            const __m256 d0 = _mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d));                           \
            const __m256 d1 = _mm256_set1_ps(h2f(x[i + 1].d) * h2f(y[i + 1].d));                   \
            acc0 =                                                                                 \
                _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(BLK_FN(&x[i], qy0, PREP_FN(qy0))), acc0);   \
            acc1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(BLK_FN(&x[i + 1], qy1, PREP_FN(qy1))),   \
                                   acc1);                                                          \
        }                                                                                          \
        for (; i < nb; i++) {                                                                      \
            const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);                       \
            const __m256 d = _mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d));                            \
            acc0 = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(BLK_FN(&x[i], qy, PREP_FN(qy))), acc0);   \
        }                                                                                          \
        *s = hsum_ps(_mm256_add_ps(acc0, acc1));                                                   \
    }                                                                                              \
    static void NAME##_rows(int n, float *s, const void *vx, size_t stride, int n_rows,            \
                            const void *vy)                                                        \
    {                                                                                              \
        const uint8_t *x = vx;                                                                     \
        const int nb = n / 32;                                                                     \
        int r = 0;                                                                                 \
        for (; r + 4 <= n_rows; r += 4)                                                            \
            NAME##_rowsR(nb, s + r, x + (size_t)r * stride, stride, vy, 4);                        \
        switch (n_rows - r) {                                                                      \
        case 3: NAME##_rowsR(nb, s + r, x + (size_t)r * stride, stride, vy, 3); break;             \
        case 2: NAME##_rowsR(nb, s + r, x + (size_t)r * stride, stride, vy, 2); break;             \
        case 1: NAME##_dot(n, s + r, x + (size_t)r * stride, vy); break;                           \
        default: break;                                                                            \
        }                                                                                          \
    }

DEFINE_ROWS_Q8_0(q4_0, block_q4_0, blk_q4_0, prep_q4_0)
DEFINE_ROWS_Q8_0(q8_0, block_q8_0, blk_q8_0, prep_none)
DEFINE_ROWS_Q8_0(q5_0, block_q5_0, blk_q5_0, prep_none)
DEFINE_ROWS_Q8_0(iq4_nl, block_iq4_nl, blk_iq4_nl, prep_none)

/* Prefill tiles: TILE_R weight rows x TILE_C activation columns per call of
 * the micro-kernel, each weight block unpacked once for TILE_C columns and
 * each activation block loaded once for TILE_R rows; L2 blocking of
 * ROWS_COLS_R rows x ROWS_COLS_C columns around it. */
#define TILE_R 2
#define TILE_C 4
#define ROWS_COLS_R 64
#define ROWS_COLS_C 64

#define DEFINE_TILE_Q8_0(NAME, BLOCK, DOTXY, PREP_FN)                                              \
    ALWAYS_INLINE void NAME##_tileRC(int nb, float *s, size_t s_col_stride, const uint8_t *x,      \
                                     size_t x_stride, const uint8_t *y, size_t y_stride,           \
                                     const int R, const int C)                                     \
    {                                                                                              \
        __m256 acc[TILE_R][TILE_C];                                                                \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)                                        \
            _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_ps();   \
        for (int i = 0; i < nb; i++) {                                                             \
            __m256i xv[TILE_R];                                                                    \
            __m256 dx[TILE_R];                                                                     \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)                                    \
            {                                                                                      \
                const struct BLOCK *xb = (const struct BLOCK *)(x + (size_t)r * x_stride) + i;     \
                xv[r] = loadx_##NAME(xb);                                                          \
                dx[r] = bcast_half(&xb->d);                                                        \
            }                                                                                      \
            _Pragma("GCC unroll 4") for (int c = 0; c < C; c++)                                    \
            {                                                                                      \
                const struct block_q8_0 *yb =                                                      \
                    (const struct block_q8_0 *)(y + (size_t)c * y_stride) + i;                     \
                const __m256i qy = _mm256_loadu_si256((const __m256i *)yb->qs);                    \
                const __m256i pre = PREP_FN(qy);                                                   \
                const __m256 dy = bcast_half(&yb->d);                                              \
                _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)                                \
                {                                                                                  \
                    const __m256 p = _mm256_mul_ps(dy, _mm256_cvtepi32_ps(DOTXY(xv[r], qy, pre))); \
                    acc[r][c] = _mm256_fmadd_ps(dx[r], p, acc[r][c]);                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 4") for (int c = 0; c < C; c++)                                        \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) s[(size_t)c * s_col_stride + r] =  \
                hsum_ps(acc[r][c]);                                                                \
    }                                                                                              \
    static void NAME##_tile(int nb, float *s, size_t s_col_stride, const uint8_t *x,               \
                            size_t x_stride, int R, const uint8_t *y, size_t y_stride, int C)      \
    {                                                                                              \
        if (R == TILE_R && C == TILE_C)                                                            \
            NAME##_tileRC(nb, s, s_col_stride, x, x_stride, y, y_stride, TILE_R, TILE_C);          \
        else if (R == TILE_R)                                                                      \
            _Pragma("GCC unroll 4") for (int c = 0; c < C; c++)                                    \
                NAME##_tileRC(nb, s + (size_t)c * s_col_stride, s_col_stride, x, x_stride,         \
                              y + (size_t)c * y_stride, y_stride, TILE_R, 1);                      \
        else                                                                                       \
            _Pragma("GCC unroll 4") for (int c = 0; c < C; c++)                                    \
                NAME##_tileRC(nb, s + (size_t)c * s_col_stride, s_col_stride, x, x_stride,         \
                              y + (size_t)c * y_stride, y_stride, 1, 1);                           \
    }                                                                                              \
    static void NAME##_rows_cols(int n, float *s, size_t s_col_stride, const void *vx,             \
                                 size_t x_stride, int n_rows, const void *vy, size_t y_stride,     \
                                 int n_cols)                                                       \
    {                                                                                              \
        const uint8_t *x = vx, *y = vy;                                                            \
        for (int c0 = 0; c0 < n_cols; c0 += ROWS_COLS_C) {                                         \
            const int c1 = c0 + ROWS_COLS_C < n_cols ? c0 + ROWS_COLS_C : n_cols;                  \
            for (int r0 = 0; r0 < n_rows; r0 += ROWS_COLS_R) {                                     \
                const int r1 = r0 + ROWS_COLS_R < n_rows ? r0 + ROWS_COLS_R : n_rows;              \
                for (int c = c0; c < c1; c += TILE_C)                                              \
                    for (int r = r0; r < r1; r += TILE_R)                                          \
                        NAME##_tile(n / 32, s + (size_t)c * s_col_stride + r, s_col_stride,        \
                                    x + (size_t)r * x_stride, x_stride,                            \
                                    r1 - r < TILE_R ? r1 - r : TILE_R, y + (size_t)c * y_stride,   \
                                    y_stride, c1 - c < TILE_C ? c1 - c : TILE_C);                  \
            }                                                                                      \
        }                                                                                          \
    }

/* Q4_0 and Q5_0 use the repacked kernels below; u8 x s8 pair sums of Q8_0
 * and IQ4_NL bytes would saturate maddubs, so they keep these tiles. */
DEFINE_TILE_Q8_0(q8_0, block_q8_0, dotxy_s8, prep_none)
DEFINE_TILE_Q8_0(iq4_nl, block_iq4_nl, dotxy_s8, prep_none)

/* ---- prefill with repacked weights: Q4_0 and Q5_0 --------------------------
 * As in quant-avx512.c, but 8 rows per ymm and maddubs in place of
 * vpdpbusd: each weight block of 8 rows is repacked once per call into 8
 * vectors (k-group g: the unsigned quants u = q + K of elements 4g..4g+3 of
 * every row), and 4 bytes of an activation block are broadcast to all lanes.
 * maddubs gives u8 x s8 pair sums in s16, added up in s16 over S8_GROUPS
 * k-groups (Q4_0: 8 * 2 * 15 * 127 < 32768; Q5_0: 4 * 2 * 31 * 127) before
 * one madd widens them; the accumulator then gets -K * sum(y) (per column
 * and block), so the integer part is exact. */
#define P2_ROWS 8
#define P2_BB 32 /* blocks per chunk */
#define P2_CB 64 /* columns per chunk */
#define P2_TILE_C 4

struct p2_pack {
    uint8_t q[P2_BB][8][P2_ROWS][4]; /* [block][k-group][row][byte] */
    float d[P2_BB][P2_ROWS];         /* [block][row]; 0 past the rows */
};

struct p2_col {
    float dy;
    int32_t nks; /* -K * sum(q) */
};

static void p2_col_prep(struct p2_col *cp /* [P2_CB][P2_BB] */, const uint8_t *y, size_t y_stride,
                        int ncb, int nbb, int k)
{
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (int c = 0; c < ncb; c++) {
        for (int b = 0; b < nbb; b++) {
            const uint8_t *yb = y + (size_t)c * y_stride + (size_t)b * 34;
            eng_half h;
            memcpy(&h, yb, 2);
            /* sum(q + 128) by sad against zero, in 4 u64 lanes */
            const __m256i qy = _mm256_loadu_si256((const __m256i *)(yb + 2));
            const __m256i sad = _mm256_sad_epu8(_mm256_xor_si256(qy, flip), _mm256_setzero_si256());
            __m128i t =
                _mm_add_epi64(_mm256_castsi256_si128(sad), _mm256_extracti128_si256(sad, 1));
            t = _mm_add_epi64(t, _mm_unpackhi_epi64(t, t));
            const int sum = _mm_cvtsi128_si32(t) - 32 * 128;
            cp[c * P2_BB + b] = (struct p2_col){h2f(h), -k * sum};
        }
    }
}

/* u[8 rows] (32 bytes each) -> q[8 k-groups][8 rows][4 bytes]: an 8 x 8
 * transpose of dwords. */
ALWAYS_INLINE void p2_transpose(uint8_t (*q)[P2_ROWS][4], const __m256i u[8])
{
    __m256i a[8], b[8];
    for (int i = 0; i < 8; i += 2) {
        a[i] = _mm256_unpacklo_epi32(u[i], u[i + 1]);
        a[i + 1] = _mm256_unpackhi_epi32(u[i], u[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        b[i] = _mm256_unpacklo_epi64(a[i], a[i + 2]);
        b[i + 1] = _mm256_unpackhi_epi64(a[i], a[i + 2]);
        b[i + 2] = _mm256_unpacklo_epi64(a[i + 1], a[i + 3]);
        b[i + 3] = _mm256_unpackhi_epi64(a[i + 1], a[i + 3]);
    }
    /* b[i] (i < 4): dword i of rows 0-3 in the low lane, dword i + 4 in the
     * high lane; b[i + 4] the same for rows 4-7 */
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_si256((__m256i *)q[i], _mm256_permute2x128_si256(b[i], b[i + 4], 0x20));
        _mm256_storeu_si256((__m256i *)q[i + 4], _mm256_permute2x128_si256(b[i], b[i + 4], 0x31));
    }
}

ALWAYS_INLINE __m256i p2_u_q4_0(const uint8_t *blk)
{
    return unpack_nibbles(blk + 2);
}

ALWAYS_INLINE __m256i p2_u_q5_0(const uint8_t *blk)
{
    const __m256i hi = _mm256_and_si256(bytes_from_bits_32(blk + 2), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(unpack_nibbles(blk + 6), hi);
}

#define DEFINE_P2_PACK(NAME, BS, U)                                                                \
    static void NAME##_p2_pack(struct p2_pack *pk, const uint8_t *x, size_t x_stride, int nr,      \
                               int nbb)                                                            \
    {                                                                                              \
        for (int b = 0; b < nbb; b++) {                                                            \
            __m256i u[P2_ROWS];                                                                    \
            for (int j = 0; j < P2_ROWS; j++) {                                                    \
                if (j < nr) {                                                                      \
                    const uint8_t *blk = x + (size_t)j * x_stride + (size_t)b * (BS);              \
                    eng_half h;                                                                    \
                    memcpy(&h, blk, 2);                                                            \
                    pk->d[b][j] = h2f(h);                                                          \
                    u[j] = U(blk);                                                                 \
                } else {                                                                           \
                    pk->d[b][j] = 0.0f;                                                            \
                    u[j] = _mm256_setzero_si256();                                                 \
                }                                                                                  \
            }                                                                                      \
            p2_transpose(pk->q[b], u);                                                             \
        }                                                                                          \
    }

DEFINE_P2_PACK(q4_0, 18, p2_u_q4_0)
DEFINE_P2_PACK(q5_0, 22, p2_u_q5_0)

/* 8 rows x C columns over the nbb blocks of a chunk; G: k-groups summed in
 * s16 before widening (8 or 4). Rows past rmask are not stored. */
ALWAYS_INLINE void p2_tile(const struct p2_pack *pk, int nbb, const struct p2_col *cp,
                           const uint8_t *y, size_t y_stride, float *s, size_t s_col_stride,
                           int nr, bool first, const int C, const int G)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[P2_TILE_C];
    for (int c = 0; c < C; c++)
        acc[c] = _mm256_setzero_ps();
    for (int b = 0; b < nbb; b++) {
        __m256i i32[P2_TILE_C];
        for (int c = 0; c < C; c++)
            i32[c] = _mm256_set1_epi32(cp[c * P2_BB + b].nks);
        for (int g0 = 0; g0 < 8; g0 += G) {
            __m256i i16[P2_TILE_C];
            for (int c = 0; c < C; c++)
                i16[c] = _mm256_setzero_si256();
            for (int g = g0; g < g0 + G; g++) {
                const __m256i w = _mm256_loadu_si256((const __m256i *)pk->q[b][g]);
                for (int c = 0; c < C; c++) {
                    int32_t v;
                    memcpy(&v, y + (size_t)c * y_stride + (size_t)b * 34 + 2 + 4 * g, 4);
                    i16[c] = _mm256_add_epi16(i16[c],
                                              _mm256_maddubs_epi16(w, _mm256_set1_epi32(v)));
                }
            }
            for (int c = 0; c < C; c++)
                i32[c] = _mm256_add_epi32(i32[c], _mm256_madd_epi16(i16[c], ones));
        }
        const __m256 dx = _mm256_loadu_ps(pk->d[b]);
        for (int c = 0; c < C; c++) {
            const __m256 f =
                _mm256_mul_ps(_mm256_cvtepi32_ps(i32[c]), _mm256_set1_ps(cp[c * P2_BB + b].dy));
            acc[c] = _mm256_fmadd_ps(dx, f, acc[c]);
        }
    }
    for (int c = 0; c < C; c++) {
        float o[P2_ROWS];
        _mm256_storeu_ps(o, acc[c]);
        float *sc = s + (size_t)c * s_col_stride;
        for (int j = 0; j < nr; j++)
            sc[j] = first ? o[j] : sc[j] + o[j];
    }
}

#define DEFINE_P2_ROWS_COLS(NAME, BS, K, G)                                                        \
    static void NAME##_p2_cols(const struct p2_pack *pk, int nbb, const struct p2_col *cp,         \
                               const uint8_t *y, size_t y_stride, float *s, size_t s_col_stride,   \
                               int nr, bool first, int ncb)                                        \
    {                                                                                              \
        int c = 0;                                                                                 \
        for (; c + P2_TILE_C <= ncb; c += P2_TILE_C)                                               \
            p2_tile(pk, nbb, cp + c * P2_BB, y + (size_t)c * y_stride, y_stride,                   \
                    s + (size_t)c * s_col_stride, s_col_stride, nr, first, P2_TILE_C, G);          \
        for (; c < ncb; c++)                                                                       \
            p2_tile(pk, nbb, cp + c * P2_BB, y + (size_t)c * y_stride, y_stride,                   \
                    s + (size_t)c * s_col_stride, s_col_stride, nr, first, 1, G);                  \
    }                                                                                              \
    static void NAME##_rows_cols_p2(int n, float *s, size_t s_col_stride, const void *vx,          \
                                    size_t x_stride, int n_rows, const void *vy, size_t y_stride,  \
                                    int n_cols)                                                    \
    {                                                                                              \
        const uint8_t *x = vx, *y = vy;                                                            \
        const int nb = n / 32;                                                                     \
        struct p2_pack pk;                                                                         \
        struct p2_col cp[P2_CB * P2_BB]; /* [column][block] of the chunk */                       \
        for (int c0 = 0; c0 < n_cols; c0 += P2_CB) {                                               \
            const int ncb = n_cols - c0 < P2_CB ? n_cols - c0 : P2_CB;                             \
            for (int b0 = 0; b0 < nb; b0 += P2_BB) {                                               \
                const int nbb = nb - b0 < P2_BB ? nb - b0 : P2_BB;                                 \
                const uint8_t *yc = y + (size_t)c0 * y_stride + (size_t)b0 * 34;                   \
                p2_col_prep(cp, yc, y_stride, ncb, nbb, K);                                        \
                for (int r0 = 0; r0 < n_rows; r0 += P2_ROWS) {                                     \
                    const int nr = n_rows - r0 < P2_ROWS ? n_rows - r0 : P2_ROWS;                  \
                    NAME##_p2_pack(&pk, x + (size_t)r0 * x_stride + (size_t)b0 * (BS), x_stride,   \
                                   nr, nbb);                                                       \
                    NAME##_p2_cols(&pk, nbb, cp, yc, y_stride, s + (size_t)c0 * s_col_stride + r0, \
                                   s_col_stride, nr, b0 == 0, ncb);                                \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_P2_ROWS_COLS(q4_0, 18, 8, 8)
DEFINE_P2_ROWS_COLS(q5_0, 22, 16, 4)

/* Q4_1 and Q5_1 against Q8_1: d*dy*sum(q*y) + m*s per block. */
#define DEFINE_DOT_Q8_1(NAME, BLOCK, BLK_FN)                                                       \
    static void NAME##_dot(int n, float *s, const void *vx, const void *vy)                        \
    {                                                                                              \
        const struct BLOCK *x = vx;                                                                \
        const struct block_q8_1 *y = vy;                                                           \
        __m256 acc = _mm256_setzero_ps();                                                          \
        float summs = 0;                                                                           \
        for (int i = 0; i < n / 32; i++) {                                                         \
            const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);                       \
            const __m256 d = _mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d));                            \
            summs += h2f(x[i].m) * h2f(y[i].s);                                                    \
            acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(BLK_FN(&x[i], qy, qy)), acc);              \
        }                                                                                          \
        *s = hsum_ps(acc) + summs;                                                                 \
    }

DEFINE_DOT_Q8_1(q4_1, block_q4_1, blk_q4_1)
DEFINE_DOT_Q8_1(q5_1, block_q5_1, blk_q5_1)

/* ---- K formats ------------------------------------------------------------ */

/* Shuffle mask that broadcasts s16 element i of each 128-bit lane. */
ALWAYS_INLINE __m256i shuffle_s16(int i)
{
    return _mm256_set1_epi16((short)(((2 * i + 1) << 8) | (2 * i)));
}

/* Unpack the 12 scale bytes of a Q4_K/Q5_K block: returns 16 s16, the 8
 * scales in the low lane and the 8 mins in the high lane. */
ALWAYS_INLINE __m256i unpack_scales_mins_k4(const uint8_t *scales)
{
    const uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
    uint32_t u[4];
    memcpy(u, scales, 12);
    u[3] = ((u[2] >> 4) & kmask2) | (((u[1] >> 6) & kmask3) << 4);
    const uint32_t mins_lo = u[1] & kmask1;
    u[1] = (u[2] & kmask2) | (((u[0] >> 6) & kmask3) << 4);
    u[2] = mins_lo;
    u[0] &= kmask1;
    return _mm256_cvtepu8_epi16(_mm_set_epi32((int)u[3], (int)u[2], (int)u[1], (int)u[0]));
}

/* sum_j mins[j] * (bsums[2j] + bsums[2j+1]) as 4 s32. */
ALWAYS_INLINE __m128i mins_dot_bsums(__m256i mins_and_scales, const int16_t *bsums)
{
    const __m256i q8sums = _mm256_loadu_si256((const __m256i *)bsums);
    const __m128i q8s =
        _mm_hadd_epi16(_mm256_castsi256_si128(q8sums), _mm256_extracti128_si256(q8sums, 1));
    return _mm_madd_epi16(_mm256_extracti128_si256(mins_and_scales, 1), q8s);
}

/* The scaled integer dot of one Q4_K (with_high=false) or Q5_K block with a
 * Q8_K block, as 8 s32; *mins_out gets the 4 s32 of the min correction. */
ALWAYS_INLINE __m256i blk_k4(const uint8_t *scales_raw, const uint8_t *qs, const uint8_t *qh,
                             const int8_t *q8, const int16_t *bsums, __m128i *mins_out,
                             const int with_high)
{
    const __m256i m4 = _mm256_set1_epi8(0xF);
    const __m256i ms = unpack_scales_mins_k4(scales_raw);
    *mins_out = mins_dot_bsums(ms, bsums);
    const __m128i sc128 = _mm256_castsi256_si128(ms);
    const __m256i scales = _mm256_set_m128i(sc128, sc128);
    __m256i hbits = with_high ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
    __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const __m256i scale_l = _mm256_shuffle_epi8(scales, shuffle_s16(2 * j));
        const __m256i scale_h = _mm256_shuffle_epi8(scales, shuffle_s16(2 * j + 1));
        const __m256i qbits = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
        __m256i ql = _mm256_and_si256(qbits, m4);
        __m256i qhi = _mm256_and_si256(_mm256_srli_epi16(qbits, 4), m4);
        if (with_high) {
            const __m256i one = _mm256_set1_epi8(1);
            ql = _mm256_or_si256(ql, _mm256_slli_epi16(_mm256_and_si256(hbits, one), 4));
            qhi = _mm256_or_si256(
                qhi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 1), one), 4));
            hbits = _mm256_srli_epi16(hbits, 2);
        }
        const __m256i q8l = _mm256_loadu_si256((const __m256i *)(q8 + 64 * j));
        const __m256i q8h = _mm256_loadu_si256((const __m256i *)(q8 + 64 * j + 32));
        const __m256i pl = _mm256_madd_epi16(scale_l, _mm256_maddubs_epi16(ql, q8l));
        const __m256i ph = _mm256_madd_epi16(scale_h, _mm256_maddubs_epi16(qhi, q8h));
        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
    }
    return sumi;
}

/* R rows of Q4_K/Q5_K (BLOCK type inferred from the block size) against one
 * Q8_K row. */
ALWAYS_INLINE void k4_rowsR(int nb, float *s, const uint8_t *x, size_t stride,
                            const struct block_q8_K *y, const int R, const int with_high)
{
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    __m128 acc_m[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};
    for (int i = 0; i < nb; i++) {
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *row = x + (size_t)r * stride;
            const uint8_t *scales, *qs, *qh = NULL;
            eng_half hd, hdmin;
            if (with_high) {
                const struct block_q5_K *b = (const struct block_q5_K *)row + i;
                scales = b->scales, qs = b->qs, qh = b->qh, hd = b->d, hdmin = b->dmin;
            } else {
                const struct block_q4_K *b = (const struct block_q4_K *)row + i;
                scales = b->scales, qs = b->qs, hd = b->d, hdmin = b->dmin;
            }
            __m128i prod_m;
            const __m256i sumi = blk_k4(scales, qs, qh, y[i].qs, y[i].bsums, &prod_m, with_high);
            const float d = y[i].d * h2f(hd), dmin = -y[i].d * h2f(hdmin);
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc[r]);
            acc_m[r] = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(prod_m), acc_m[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        __m128 m = _mm_add_ps(acc_m[r], _mm_movehl_ps(acc_m[r], acc_m[r]));
        m = _mm_add_ss(m, _mm_movehdup_ps(m));
        s[r] = hsum_ps(acc[r]) + _mm_cvtss_f32(m);
    }
}

/* Scales for Q6_K: s16 vector with sc[2i] in the low 8 lanes, sc[2i+1] high. */
ALWAYS_INLINE __m256i q6_scale(__m128i scales8, int i)
{
    const __m128i shuf =
        _mm_set_epi8((char)(2 * i + 1), (char)(2 * i + 1), (char)(2 * i + 1), (char)(2 * i + 1),
                     (char)(2 * i + 1), (char)(2 * i + 1), (char)(2 * i + 1), (char)(2 * i + 1),
                     (char)(2 * i), (char)(2 * i), (char)(2 * i), (char)(2 * i), (char)(2 * i),
                     (char)(2 * i), (char)(2 * i), (char)(2 * i));
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales8, shuf));
}

/* The scaled integer dot of one Q6_K block with a Q8_K block, as 8 s32.
 * The quants are used unsigned (0..63); the "- 32" is applied once per block
 * as 32 * sum_j scale[j] * bsums[j], the 16-element sums Q8_K carries. */
ALWAYS_INLINE __m256i blk_q6_K(const struct block_q6_K *x, const int8_t *q8, const int16_t *bsums)
{
    const __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3);
    const __m128i scales8 = _mm_loadu_si128((const __m128i *)x->scales);
    const __m256i corr = _mm256_madd_epi16(_mm256_cvtepi8_epi16(scales8),
                                           _mm256_loadu_si256((const __m256i *)bsums));
    __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 5));
#pragma GCC unroll 4
    for (int h = 0; h < 2; h++) {
        const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h));
        const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h + 32));
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
        __m256i q[4];
        q[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4),
                               _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
        q[1] =
            _mm256_or_si256(_mm256_and_si256(ql1, m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4));
        q[2] =
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4));
        q[3] =
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4));
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            const __m256i q8k = _mm256_loadu_si256((const __m256i *)(q8 + 128 * h + 32 * k));
            const __m256i p = _mm256_maddubs_epi16(q[k], q8k);
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(q6_scale(scales8, 4 * h + k), p));
        }
    }
    return sumi;
}

ALWAYS_INLINE void q6_K_rowsR(int nb, float *s, const uint8_t *x, size_t stride,
                              const struct block_q8_K *y, const int R)
{
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    for (int i = 0; i < nb; i++) {
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const struct block_q6_K *b = (const struct block_q6_K *)(x + (size_t)r * stride) + i;
            const __m256 d = _mm256_set1_ps(y[i].d * h2f(b->d));
            acc[r] =
                _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(blk_q6_K(b, y[i].qs, y[i].bsums)), acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        s[r] = hsum_ps(acc[r]);
}

static void q4_K_dot(int n, float *s, const void *x, const void *y)
{
    k4_rowsR(n / QK_K, s, x, 0, y, 1, 0);
}

static void q5_K_dot(int n, float *s, const void *x, const void *y)
{
    k4_rowsR(n / QK_K, s, x, 0, y, 1, 1);
}

static void q6_K_dot(int n, float *s, const void *x, const void *y)
{
    q6_K_rowsR(n / QK_K, s, x, 0, y, 1);
}

/* K formats: one row at a time. A super-block already holds 256 elements of
 * independent work, and interleaving 2 rows measured ~5% slower (register
 * pressure), so the rows entry points just loop. */
static void q4_K_rows(int n, float *s, const void *vx, size_t stride, int n_rows, const void *y)
{
    for (int r = 0; r < n_rows; r++)
        q4_K_dot(n, s + r, (const uint8_t *)vx + (size_t)r * stride, y);
}

static void q5_K_rows(int n, float *s, const void *vx, size_t stride, int n_rows, const void *y)
{
    for (int r = 0; r < n_rows; r++)
        q5_K_dot(n, s + r, (const uint8_t *)vx + (size_t)r * stride, y);
}

static void q6_K_rows(int n, float *s, const void *vx, size_t stride, int n_rows, const void *y)
{
    for (int r = 0; r < n_rows; r++)
        q6_K_dot(n, s + r, (const uint8_t *)vx + (size_t)r * stride, y);
}

/* ---- float formats --------------------------------------------------------- */

ALWAYS_INLINE __m256 load8_f32(const void *p, int i)
{
    return _mm256_loadu_ps((const float *)p + i);
}

ALWAYS_INLINE __m256 load8_f16(const void *p, int i)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const eng_half *)p + i)));
}

ALWAYS_INLINE __m256 load8_bf16(const void *p, int i)
{
    const __m128i b = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(b), 16));
}

/* R rows of a float format against one row; 16 elements per step, tail in C. */
#define DEFINE_FLOAT(NAME, LOAD, SCALAR)                                                           \
    ALWAYS_INLINE void NAME##_rowsR(int n, float *s, const uint8_t *x, size_t stride,              \
                                    const void *y, const int R)                                    \
    {                                                                                              \
        __m256 acc0[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),           \
                          _mm256_setzero_ps()};                                                    \
        __m256 acc1[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),           \
                          _mm256_setzero_ps()};                                                    \
        int i = 0;                                                                                 \
        for (; i + 16 <= n; i += 16) {                                                             \
            const __m256 y0 = LOAD(y, i), y1 = LOAD(y, i + 8);                                     \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)                                    \
            {                                                                                      \
                const void *xr = x + (size_t)r * stride;                                           \
                acc0[r] = _mm256_fmadd_ps(LOAD(xr, i), y0, acc0[r]);                               \
                acc1[r] = _mm256_fmadd_ps(LOAD(xr, i + 8), y1, acc1[r]);                           \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)                                        \
        {                                                                                          \
            float sum = hsum_ps(_mm256_add_ps(acc0[r], acc1[r]));                                  \
            for (int k = i; k < n; k++)                                                            \
                sum += SCALAR(x + (size_t)r * stride, k) * SCALAR(y, k);                           \
            s[r] = sum;                                                                            \
        }                                                                                          \
    }                                                                                              \
    static void NAME##_dot(int n, float *s, const void *x, const void *y)                          \
    {                                                                                              \
        NAME##_rowsR(n, s, x, 0, y, 1);                                                            \
    }                                                                                              \
    static void NAME##_rows(int n, float *s, const void *vx, size_t stride, int n_rows,            \
                            const void *y)                                                         \
    {                                                                                              \
        const uint8_t *x = vx;                                                                     \
        int r = 0;                                                                                 \
        for (; r + 4 <= n_rows; r += 4)                                                            \
            NAME##_rowsR(n, s + r, x + (size_t)r * stride, stride, y, 4);                          \
        for (; r < n_rows; r++)                                                                    \
            NAME##_rowsR(n, s + r, x + (size_t)r * stride, stride, y, 1);                          \
    }

ALWAYS_INLINE float scalar_f32(const void *p, int k)
{
    return ((const float *)p)[k];
}
ALWAYS_INLINE float scalar_f16(const void *p, int k)
{
    return h2f(((const eng_half *)p)[k]);
}
ALWAYS_INLINE float scalar_bf16(const void *p, int k)
{
    const uint32_t u = (uint32_t)((const uint16_t *)p)[k] << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

DEFINE_FLOAT(f32, load8_f32, scalar_f32)
DEFINE_FLOAT(f16, load8_f16, scalar_f16)
DEFINE_FLOAT(bf16, load8_bf16, scalar_bf16)

/* ---- activation quantizers ------------------------------------------------ */

ALWAYS_INLINE float hmax_ps(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

ALWAYS_INLINE float hmin_ps(__m256 v)
{
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

#define ROUND_NEAREST (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* 32 floats times mul, rounded to nearest even, packed to 32 s8 in order;
 * *i32_sums (optional) gets the sums of elements 0..15 and 16..31. */
ALWAYS_INLINE __m256i round_pack_32(const float *x, __m256 mul, int *sum_lo, int *sum_hi)
{
    const __m256i i0 =
        _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x), mul), ROUND_NEAREST));
    const __m256i i1 =
        _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8), mul), ROUND_NEAREST));
    const __m256i i2 =
        _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 16), mul), ROUND_NEAREST));
    const __m256i i3 =
        _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 24), mul), ROUND_NEAREST));
    if (sum_lo) {
        const __m256i a = _mm256_add_epi32(i0, i1), b = _mm256_add_epi32(i2, i3);
        *sum_lo = hsum_epi32_128(
            _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1)));
        *sum_hi = hsum_epi32_128(
            _mm_add_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1)));
    }
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static void quantize_q8_0_avx2(const float *x, void *vy, int64_t n)
{
    struct block_q8_0 *y = vy;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        __m256 amax = _mm256_andnot_ps(sign, _mm256_loadu_ps(x));
        for (int k = 8; k < 32; k += 8)
            amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
        const float max = hmax_ps(amax);
        const float d = max / 127.f;
        y[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        const __m256 mul = _mm256_set1_ps(max != 0.0f ? 127.f / max : 0.0f);
        _mm256_storeu_si256((__m256i *)y[i].qs, round_pack_32(x, mul, NULL, NULL));
    }
}

static void quantize_q8_K_avx2(const float *x, void *vy, int64_t n)
{
    struct block_q8_K *y = vy;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        __m256 vmax = _mm256_loadu_ps(x), vmin = vmax;
        for (int k = 8; k < QK_K; k += 8) {
            const __m256 v = _mm256_loadu_ps(x + k);
            vmax = _mm256_max_ps(vmax, v);
            vmin = _mm256_min_ps(vmin, v);
        }
        const float hi = hmax_ps(vmax), lo = hmin_ps(vmin);
        /* the signed value of largest magnitude, as quantize_row_q8_K_ref */
        const float max = hi >= -lo ? hi : lo;
        if (max == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.f / max;
        const __m256 mul = _mm256_set1_ps(iscale);
        for (int k = 0; k < QK_K; k += 32) {
            int s0, s1;
            _mm256_storeu_si256((__m256i *)(y[i].qs + k), round_pack_32(x + k, mul, &s0, &s1));
            y[i].bsums[k / 16] = (int16_t)s0;
            y[i].bsums[k / 16 + 1] = (int16_t)s1;
        }
        y[i].d = 1 / iscale;
    }
}

/* ---- tables ---------------------------------------------------------------- */

quant_dot_fn quant_avx2_dot(enum eng_type type)
{
    switch (type) {
    case ENG_TYPE_F32: return f32_dot;
    case ENG_TYPE_F16: return f16_dot;
    case ENG_TYPE_BF16: return bf16_dot;
    case ENG_TYPE_Q4_0: return q4_0_dot;
    case ENG_TYPE_Q4_1: return q4_1_dot;
    case ENG_TYPE_Q5_0: return q5_0_dot;
    case ENG_TYPE_Q5_1: return q5_1_dot;
    case ENG_TYPE_Q8_0: return q8_0_dot;
    case ENG_TYPE_IQ4_NL: return iq4_nl_dot;
    case ENG_TYPE_Q4_K: return q4_K_dot;
    case ENG_TYPE_Q5_K: return q5_K_dot;
    case ENG_TYPE_Q6_K: return q6_K_dot;
    default: return NULL;
    }
}

quant_dot_rows_fn quant_avx2_dot_rows(enum eng_type type)
{
    switch (type) {
    case ENG_TYPE_F32: return f32_rows;
    case ENG_TYPE_F16: return f16_rows;
    case ENG_TYPE_BF16: return bf16_rows;
    case ENG_TYPE_Q4_0: return q4_0_rows;
    case ENG_TYPE_Q5_0: return q5_0_rows;
    case ENG_TYPE_Q8_0: return q8_0_rows;
    case ENG_TYPE_IQ4_NL: return iq4_nl_rows;
    case ENG_TYPE_Q4_K: return q4_K_rows;
    case ENG_TYPE_Q5_K: return q5_K_rows;
    case ENG_TYPE_Q6_K: return q6_K_rows;
    default: return NULL;
    }
}

quant_dot_rows_cols_fn quant_avx2_dot_rows_cols(enum eng_type type)
{
    switch (type) {
    case ENG_TYPE_Q4_0: return q4_0_rows_cols_p2;
    case ENG_TYPE_Q5_0: return q5_0_rows_cols_p2;
    case ENG_TYPE_Q8_0: return q8_0_rows_cols;
    case ENG_TYPE_IQ4_NL: return iq4_nl_rows_cols;
    default: return NULL;
    }
}

quant_quantize_fn quant_avx2_quantize(enum eng_type type)
{
    switch (type) {
    case ENG_TYPE_Q8_0: return quantize_q8_0_avx2;
    case ENG_TYPE_Q8_K: return quantize_q8_K_avx2;
    default: return NULL;
    }
}

#else /* no AVX2 at build time: quant.c keeps the plain C kernels */

quant_dot_fn quant_avx2_dot(enum eng_type type)
{
    (void)type;
    return NULL;
}

quant_dot_rows_fn quant_avx2_dot_rows(enum eng_type type)
{
    (void)type;
    return NULL;
}

quant_dot_rows_cols_fn quant_avx2_dot_rows_cols(enum eng_type type)
{
    (void)type;
    return NULL;
}

quant_quantize_fn quant_avx2_quantize(enum eng_type type)
{
    (void)type;
    return NULL;
}

#endif
