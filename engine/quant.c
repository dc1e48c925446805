/* quant.c: type traits, half/bf16 conversion, dequantizers, quantizers and
 * the plain C dot kernels, plus the run-time choice between these kernels and
 * the AVX2/FMA ones in quant-avx2.c.
 *
 * Block layouts and formulas follow ggml (ggml-common.h, ggml-quants.c and
 * ggml-cpu/quants.c): dequantizers are the published dequantize_row_*
 * formulas, quantizers follow the *_ref quantizers (make_qx_quants,
 * make_qkx2_quants, ...) so files written here have llama.cpp's quality, and
 * dot kernels accumulate integer products inside a block and scale once per
 * block (or sub-block) as ggml does. */
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "quant.h"

_Static_assert(sizeof(struct block_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(struct block_q4_1) == 20, "q4_1 block");
_Static_assert(sizeof(struct block_q5_0) == 22, "q5_0 block");
_Static_assert(sizeof(struct block_q5_1) == 24, "q5_1 block");
_Static_assert(sizeof(struct block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(struct block_q8_1) == 36, "q8_1 block");
_Static_assert(sizeof(struct block_iq4_nl) == 18, "iq4_nl block");
_Static_assert(sizeof(struct block_q4_K) == 144, "q4_K block");
_Static_assert(sizeof(struct block_q5_K) == 176, "q5_K block");
_Static_assert(sizeof(struct block_q6_K) == 210, "q6_K block");
_Static_assert(sizeof(struct block_q8_K) == 292, "q8_K block");

static const struct quant_traits traits_table[ENG_TYPE_COUNT] = {
    [ENG_TYPE_F32] = {"F32", 1, 4, ENG_TYPE_F32, true, true},
    [ENG_TYPE_F16] = {"F16", 1, 2, ENG_TYPE_F16, true, true},
    [ENG_TYPE_BF16] = {"BF16", 1, 2, ENG_TYPE_BF16, true, true},
    [ENG_TYPE_Q4_0] = {"Q4_0", 32, 18, ENG_TYPE_Q8_0, true, true},
    [ENG_TYPE_Q4_1] = {"Q4_1", 32, 20, ENG_TYPE_Q8_1, true, true},
    [ENG_TYPE_Q5_0] = {"Q5_0", 32, 22, ENG_TYPE_Q8_0, true, true},
    [ENG_TYPE_Q5_1] = {"Q5_1", 32, 24, ENG_TYPE_Q8_1, true, true},
    [ENG_TYPE_Q8_0] = {"Q8_0", 32, 34, ENG_TYPE_Q8_0, true, true},
    [ENG_TYPE_Q8_1] = {"Q8_1", 32, 36, ENG_TYPE_Q8_1, false, true},
    [ENG_TYPE_Q2_K] = {"Q2_K", 256, 84, ENG_TYPE_Q8_K, false, false},
    [ENG_TYPE_Q3_K] = {"Q3_K", 256, 110, ENG_TYPE_Q8_K, false, false},
    [ENG_TYPE_Q4_K] = {"Q4_K", 256, 144, ENG_TYPE_Q8_K, true, true},
    [ENG_TYPE_Q5_K] = {"Q5_K", 256, 176, ENG_TYPE_Q8_K, true, true},
    [ENG_TYPE_Q6_K] = {"Q6_K", 256, 210, ENG_TYPE_Q8_K, true, true},
    [ENG_TYPE_Q8_K] = {"Q8_K", 256, 292, ENG_TYPE_Q8_K, false, true},
    [ENG_TYPE_IQ4_NL] = {"IQ4_NL", 32, 18, ENG_TYPE_Q8_0, true, true},
};

/* The IQ4_NL code book (ggml-common.h kvalues_iq4nl). */
static const int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                         1,    13,   25,  38,  53,  69,  89,  113};

const struct quant_traits *quant_traits(int type_id)
{
    if (type_id < 0 || type_id >= ENG_TYPE_COUNT || traits_table[type_id].name == NULL)
        return NULL;
    return &traits_table[type_id];
}

size_t quant_row_size(enum eng_type type, int64_t n)
{
    const struct quant_traits *t = quant_traits(type);
    ENG_ASSERT(t != NULL && n % t->blck == 0);
    return (size_t)(n / t->blck) * t->type_size;
}

/* ---- half and bfloat16 ---------------------------------------------------- */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float eng_half_to_float(eng_half h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) /* inf or NaN (payload kept) */
        return bits_f32(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) { /* zero or subnormal: mant * 2^-24 is exact in f32 */
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

/* Round to nearest even; overflow gives inf; NaN stays a (quiet) NaN. */
eng_half eng_float_to_half(float f)
{
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) /* NaN: keep the top payload bits, force quiet */
        return (eng_half)(sign | 0x7e00 | ((ax >> 13) & 0x3ff));
    if (ax >= 0x477ff000u) /* >= 65520 rounds to inf (and inf itself) */
        return (eng_half)(sign | 0x7c00);
    if (ax >= 0x38800000u) { /* normal half: rebias and round the 13 dropped bits */
        uint32_t r = ax - 0x38000000u;
        r += 0xfffu + ((r >> 13) & 1);
        return (eng_half)(sign | (r >> 13));
    }
    /* Subnormal or zero: adding 0.5f lines the half ulp (2^-24) up with the
     * f32 ulp, so the FPU does the round-to-nearest-even. */
    float t = bits_f32(ax) + 0.5f;
    return (eng_half)(sign | (f32_bits(t) - 0x3f000000u));
}

float eng_bf16_to_float(uint16_t b)
{
    return bits_f32((uint32_t)b << 16);
}

uint16_t eng_float_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* NaN: truncate and force quiet */
        return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

/* ---- dequantization -------------------------------------------------------- */

/* The 6-bit scale and min of sub-block j of a Q4_K/Q5_K block (12 bytes). */
static void get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

static void dequant_q4_0(const struct block_q4_0 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = eng_half_to_float(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((x[i].qs[j] & 0xF) - 8) * d;
            y[j + 16] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void dequant_q4_1(const struct block_q4_1 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = eng_half_to_float(x[i].d), m = eng_half_to_float(x[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(x[i].qs[j] & 0xF) * d + m;
            y[j + 16] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

static void dequant_q5_0(const struct block_q5_0 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = eng_half_to_float(x[i].d);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10;
            const int h1 = (qh >> (j + 12)) & 0x10;
            y[j] = (float)(((x[i].qs[j] & 0xF) | h0) - 16) * d;
            y[j + 16] = (float)(((x[i].qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

static void dequant_q5_1(const struct block_q5_1 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = eng_half_to_float(x[i].d), m = eng_half_to_float(x[i].m);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10;
            const int h1 = (qh >> (j + 12)) & 0x10;
            y[j] = (float)((x[i].qs[j] & 0xF) | h0) * d + m;
            y[j + 16] = (float)((x[i].qs[j] >> 4) | h1) * d + m;
        }
    }
}

static void dequant_q8_0(const struct block_q8_0 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = eng_half_to_float(x[i].d);
        for (int j = 0; j < 32; j++)
            y[j] = (float)x[i].qs[j] * d;
    }
}

static void dequant_q8_1(const struct block_q8_1 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = eng_half_to_float(x[i].d);
        for (int j = 0; j < 32; j++)
            y[j] = (float)x[i].qs[j] * d;
    }
}

static void dequant_iq4_nl(const struct block_iq4_nl *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = eng_half_to_float(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)kvalues_iq4nl[x[i].qs[j] & 0xF];
            y[j + 16] = d * (float)kvalues_iq4nl[x[i].qs[j] >> 4];
        }
    }
}

static void dequant_q4_K(const struct block_q4_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        const float d = eng_half_to_float(x[i].d), dmin = eng_half_to_float(x[i].dmin);
        const uint8_t *q = x[i].qs;
        for (int is = 0; is < 8; is += 2, q += 32) {
            uint8_t sc, m;
            get_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

static void dequant_q5_K(const struct block_q5_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        const float d = eng_half_to_float(x[i].d), dmin = eng_half_to_float(x[i].dmin);
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int is = 0; is < 8; is += 2, ql += 32) {
            uint8_t sc, m;
            get_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            u1 = (uint8_t)(u1 << 2);
            u2 = (uint8_t)(u2 << 2);
        }
    }
}

static void dequant_q6_K(const struct block_q6_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        const float d = eng_half_to_float(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

static void dequant_q8_K(const struct block_q8_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += QK_K)
        for (int j = 0; j < QK_K; j++)
            y[j] = x[i].d * (float)x[i].qs[j];
}

void quant_dequantize_row(enum eng_type type, const void *src, float *dst, int64_t n)
{
    const struct quant_traits *t = quant_traits(type);
    ENG_ASSERT(t != NULL && n % t->blck == 0);
    const int64_t nb = n / t->blck;
    switch (type) {
    case ENG_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); return;
    case ENG_TYPE_F16: {
        const eng_half *s = src;
        for (int64_t i = 0; i < n; i++)
            dst[i] = eng_half_to_float(s[i]);
        return;
    }
    case ENG_TYPE_BF16: {
        const uint16_t *s = src;
        for (int64_t i = 0; i < n; i++)
            dst[i] = eng_bf16_to_float(s[i]);
        return;
    }
    case ENG_TYPE_Q4_0: dequant_q4_0(src, dst, nb); return;
    case ENG_TYPE_Q4_1: dequant_q4_1(src, dst, nb); return;
    case ENG_TYPE_Q5_0: dequant_q5_0(src, dst, nb); return;
    case ENG_TYPE_Q5_1: dequant_q5_1(src, dst, nb); return;
    case ENG_TYPE_Q8_0: dequant_q8_0(src, dst, nb); return;
    case ENG_TYPE_Q8_1: dequant_q8_1(src, dst, nb); return;
    case ENG_TYPE_IQ4_NL: dequant_iq4_nl(src, dst, nb); return;
    case ENG_TYPE_Q4_K: dequant_q4_K(src, dst, nb); return;
    case ENG_TYPE_Q5_K: dequant_q5_K(src, dst, nb); return;
    case ENG_TYPE_Q6_K: dequant_q6_K(src, dst, nb); return;
    case ENG_TYPE_Q8_K: dequant_q8_K(src, dst, nb); return;
    default: break;
    }
    ENG_ASSERT(!"no dequantizer for this type");
}

/* ---- quantization helpers (ggml-quants.c) -------------------------------- */

#define GROUP_MAX_EPS 1e-15f

static inline int imin(int a, int b)
{
    return a < b ? a : b;
}
static inline int imax(int a, int b)
{
    return a > b ? a : b;
}

/* Round to nearest, ties to even, for |fval| < 2^22 (ggml's nearest_int). */
static inline int nearest_int(float fval)
{
    float val = fval + 12582912.f;
    int i;
    memcpy(&i, &val, sizeof(int));
    return (i & 0x007fffff) - 0x00400000;
}

/* The weight of element i in make_qx_quants' error for rmse_type 1 (x^2). */
static float qx_weight(const float *qw, const float *x, int i)
{
    return qw ? qw[i] : x[i] * x[i];
}

/* Symmetric quantization of x[n] to L in [0, 2*nmax) around nmax, searching
 * 19 scales near -nmax/max for the best weighted fit (ggml make_qx_quants,
 * rmse_type 1). Returns the scale. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L, const float *qw)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = imax(-nmax, imin(nmax - 1, nearest_int(iscale * x[i])));
        L[i] = (int8_t)(l + nmax);
        const float w = qx_weight(qw, x, i);
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0)
            continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = imax(-nmax, imin(nmax - 1, nearest_int(iscale * x[i])));
            const float w = qx_weight(qw, x, i);
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + imax(-nmax, imin(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Affine quantization x ~ scale*L - the_min with L in [0, nmax], searching
 * nstep+1 scales for the best weighted least-squares fit (ggml
 * make_qkx2_quants, squared error). Returns the scale; *the_min >= 0. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep)
{
    float min = x[0], max = x[0];
    float sum_w = weights[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
        sum_w += weights[i];
        sum_x += weights[i] * x[i];
    }
    if (min > 0)
        min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        int l = imax(0, imin(nmax, nearest_int(iscale * (x[i] - min))));
        L[i] = (uint8_t)l;
        const float diff = scale * l + min - x[i];
        best_error += weights[i] * diff * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = imax(0, imin(nmax, nearest_int(iscale * (x[i] - min))));
            Laux[i] = (uint8_t)l;
            const float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D <= 0)
            continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float cur_error = 0;
        for (int i = 0; i < n; i++) {
            const float diff = this_scale * Laux[i] + this_min - x[i];
            cur_error += weights[i] * diff * diff;
        }
        if (cur_error < best_error) {
            memcpy(L, Laux, (size_t)n);
            best_error = cur_error;
            scale = this_scale;
            min = this_min;
        }
    }
    *the_min = -min;
    return scale;
}

/* ---- quantizers ------------------------------------------------------------ */

static void quantize_q8_0(const float *x, struct block_q8_0 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = eng_float_to_half(d);
        for (int j = 0; j < 32; j++)
            y[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

static void quantize_q8_1(const float *x, struct block_q8_1 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127;
        const float id = d ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            y[i].qs[j] = (int8_t)roundf(x[j] * id);
            sum += y[i].qs[j];
        }
        y[i].d = eng_float_to_half(d);
        y[i].s = eng_float_to_half((float)sum * d);
    }
}

static void quantize_q8_K(const float *x, struct block_q8_K *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < QK_K; j++) {
            const float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (!amax) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++)
            y[i].qs[j] = (int8_t)imin(127, nearest_int(iscale * x[j]));
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++)
                sum += y[i].qs[j * 16 + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

static void quantize_q4_0(const float *x, struct block_q4_0 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++) {
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = eng_float_to_half(d);
        for (int j = 0; j < 16; j++) {
            const int q0 = imin(15, (int)(int8_t)(x[j] * id + 8.5f));
            const int q1 = imin(15, (int)(int8_t)(x[j + 16] * id + 8.5f));
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void quantize_q4_1(const float *x, struct block_q4_1 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float min = x[0], max = x[0];
        for (int j = 1; j < 32; j++) {
            min = fminf(min, x[j]);
            max = fmaxf(max, x[j]);
        }
        const float d = (max - min) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = eng_float_to_half(d);
        y[i].m = eng_float_to_half(min);
        for (int j = 0; j < 16; j++) {
            const int q0 = imin(15, (int)(int8_t)((x[j] - min) * id + 0.5f));
            const int q1 = imin(15, (int)(int8_t)((x[j + 16] - min) * id + 0.5f));
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void quantize_q5_0(const float *x, struct block_q5_0 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++) {
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        const float d = max / -16;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = eng_float_to_half(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            const int q0 = imin(31, (int)(int8_t)(x[j] * id + 16.5f));
            const int q1 = imin(31, (int)(int8_t)(x[j + 16] * id + 16.5f));
            y[i].qs[j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
            qh |= ((uint32_t)(q0 & 0x10) >> 4) << j;
            qh |= ((uint32_t)(q1 & 0x10) >> 4) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

static void quantize_q5_1(const float *x, struct block_q5_1 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float min = x[0], max = x[0];
        for (int j = 1; j < 32; j++) {
            min = fminf(min, x[j]);
            max = fmaxf(max, x[j]);
        }
        const float d = (max - min) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = eng_float_to_half(d);
        y[i].m = eng_float_to_half(min);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            const int q0 = imin(31, (int)((x[j] - min) * id + 0.5f));
            const int q1 = imin(31, (int)((x[j + 16] - min) * id + 0.5f));
            y[i].qs[j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
            qh |= ((uint32_t)(q0 & 0x10) >> 4) << j;
            qh |= ((uint32_t)(q1 & 0x10) >> 4) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

/* Index of the code book entry nearest x (val sorted ascending, n entries). */
static int best_index_int8(int n, const int8_t *val, float x)
{
    if (x <= val[0])
        return 0;
    if (x >= val[n - 1])
        return n - 1;
    int ml = 0, mu = n - 1;
    while (mu - ml > 1) {
        const int mav = (ml + mu) / 2;
        if (x < val[mav])
            mu = mav;
        else
            ml = mav;
    }
    return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

/* One IQ4_NL block: the scale search of ggml's quantize_row_iq4_nl_impl
 * (block 32, ntry 7, weights x^2). */
static void quantize_iq4_nl_block(const float *x, struct block_iq4_nl *y)
{
    uint8_t L[32]; /* code book index per element */
    float w[32];   /* error weight per element */
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++) {
        w[j] = x[j] * x[j];
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    float d = 0;
    if (amax >= GROUP_MAX_EPS) {
        d = -max / kvalues_iq4nl[0];
        float id = 1 / d, sumqx = 0, sumq2 = 0;
        for (int j = 0; j < 32; j++) {
            const float q = kvalues_iq4nl[best_index_int8(16, kvalues_iq4nl, id * x[j])];
            sumqx += w[j] * q * x[j];
            sumq2 += w[j] * q * q;
        }
        d = sumqx / sumq2;
        float best = d * sumqx;
        for (int itry = -7; itry <= 7; itry++) {
            id = (itry + kvalues_iq4nl[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < 32; j++) {
                const float q = kvalues_iq4nl[best_index_int8(16, kvalues_iq4nl, id * x[j])];
                sumqx += w[j] * q * x[j];
                sumq2 += w[j] * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
    }
    y->d = eng_float_to_half(d);
    const float id = d ? 1 / d : 0;
    for (int j = 0; j < 32; j++)
        L[j] = (uint8_t)best_index_int8(16, kvalues_iq4nl, id * x[j]);
    for (int j = 0; j < 16; j++)
        y->qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
}

/* Pack 8 six-bit scales and mins into a Q4_K/Q5_K scales[12]. */
static void pack_scales_k4(const uint8_t *ls, const uint8_t *lm, uint8_t *scales)
{
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            scales[j] = ls[j];
            scales[j + 4] = lm[j];
        } else {
            scales[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            scales[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            scales[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

/* The shared part of Q4_K and Q5_K (quantize_row_q{4,5}_K_ref): fit each
 * 32-element sub-block with make_qkx2_quants, quantize the 8 scales and mins
 * to 6 bits, then requantize every element to L[256] in [0, nmax]. */
static void quantize_k_affine(const float *x, int nmax, float rmin, float rdelta, int nstep,
                              eng_half *d_out, eng_half *dmin_out, uint8_t *scales, uint8_t *L)
{
    uint8_t Laux[32];
    float weights[32], mins[8], sub_scales[8];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        const float *xs = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++)
            sum_x2 += xs[l] * xs[l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++)
            weights[l] = av_x + fabsf(xs[l]);
        sub_scales[j] = make_qkx2_quants(32, nmax, xs, weights, L + 32 * j, &mins[j], Laux, rmin,
                                         rdelta, nstep);
        max_scale = fmaxf(max_scale, sub_scales[j]);
        max_min = fmaxf(max_min, mins[j]);
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        ls[j] = (uint8_t)imin(63, nearest_int(inv_scale * sub_scales[j]));
        lm[j] = (uint8_t)imin(63, nearest_int(inv_min * mins[j]));
    }
    memset(scales, 0, K_SCALE_SIZE);
    pack_scales_k4(ls, lm, scales);
    *d_out = eng_float_to_half(max_scale / 63.f);
    *dmin_out = eng_float_to_half(max_min / 63.f);
    const float dd = eng_half_to_float(*d_out), dm = eng_half_to_float(*dmin_out);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        get_scale_min_k4(j, scales, &sc, &m);
        const float d = dd * sc;
        if (!d)
            continue;
        const float mm = dm * m;
        for (int l = 0; l < 32; l++)
            L[32 * j + l] = (uint8_t)imax(0, imin(nmax, nearest_int((x[32 * j + l] + mm) / d)));
    }
}

static void quantize_q4_K(const float *x, struct block_q4_K *y, int64_t nb)
{
    uint8_t L[QK_K]; /* 4-bit level per element */
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        quantize_k_affine(x, 15, -1.f, 0.1f, 20, &y[i].d, &y[i].dmin, y[i].scales, L);
        uint8_t *q = y[i].qs;
        for (int j = 0; j < QK_K; j += 64, q += 32)
            for (int l = 0; l < 32; l++)
                q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

static void quantize_q5_K(const float *x, struct block_q5_K *y, int64_t nb)
{
    uint8_t L[QK_K]; /* 5-bit level per element */
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        quantize_k_affine(x, 31, -0.5f, 0.1f, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
        uint8_t *qh = y[i].qh, *ql = y[i].qs;
        memset(qh, 0, QK_K / 8);
        uint8_t m1 = 1, m2 = 2;
        for (int n = 0; n < QK_K; n += 64, ql += 32) {
            for (int j = 0; j < 32; j++) {
                int l1 = L[n + j], l2 = L[n + j + 32];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[j] |= m1;
                }
                if (l2 > 15) {
                    l2 -= 16;
                    qh[j] |= m2;
                }
                ql[j] = (uint8_t)(l1 | (l2 << 4));
            }
            m1 = (uint8_t)(m1 << 2);
            m2 = (uint8_t)(m2 << 2);
        }
    }
}

static void quantize_q6_K(const float *x, struct block_q6_K *y, int64_t nb)
{
    int8_t L[QK_K];   /* 6-bit level + 32 per element */
    float scales[16]; /* per 16-element sub-block */
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < 16; ib++) {
            scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, NULL);
            if (fabsf(scales[ib]) > max_abs_scale) {
                max_abs_scale = fabsf(scales[ib]);
                max_scale = scales[ib];
            }
        }
        memset(&y[i], 0, sizeof y[i]);
        if (max_abs_scale < GROUP_MAX_EPS)
            continue;
        const float iscale = -128.f / max_scale;
        y[i].d = eng_float_to_half(1 / iscale);
        for (int ib = 0; ib < 16; ib++)
            y[i].scales[ib] = (int8_t)imin(127, nearest_int(iscale * scales[ib]));
        for (int j = 0; j < 16; j++) {
            const float d = eng_half_to_float(y[i].d) * y[i].scales[j];
            if (!d)
                continue;
            for (int l = 0; l < 16; l++) {
                const int q = imax(-32, imin(31, nearest_int(x[16 * j + l] / d)));
                L[16 * j + l] = (int8_t)(q + 32);
            }
        }
        uint8_t *ql = y[i].ql, *qh = y[i].qh;
        for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                const int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF;
                const int q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                ql[l] = (uint8_t)(q1 | (q3 << 4));
                ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
                qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                                  ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
            }
        }
    }
}

/* The plain C quantizer of a type (false when there is none). */
static bool quantize_row_c(enum eng_type type, const float *src, void *dst, int64_t n, int64_t nb)
{
    switch (type) {
    case ENG_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); return true;
    case ENG_TYPE_F16: {
        eng_half *d = dst;
        for (int64_t i = 0; i < n; i++)
            d[i] = eng_float_to_half(src[i]);
        return true;
    }
    case ENG_TYPE_BF16: {
        uint16_t *d = dst;
        for (int64_t i = 0; i < n; i++)
            d[i] = eng_float_to_bf16(src[i]);
        return true;
    }
    case ENG_TYPE_Q4_0: quantize_q4_0(src, dst, nb); return true;
    case ENG_TYPE_Q4_1: quantize_q4_1(src, dst, nb); return true;
    case ENG_TYPE_Q5_0: quantize_q5_0(src, dst, nb); return true;
    case ENG_TYPE_Q5_1: quantize_q5_1(src, dst, nb); return true;
    case ENG_TYPE_Q8_0: quantize_q8_0(src, dst, nb); return true;
    case ENG_TYPE_Q8_1: quantize_q8_1(src, dst, nb); return true;
    case ENG_TYPE_Q8_K: quantize_q8_K(src, dst, nb); return true;
    case ENG_TYPE_Q4_K: quantize_q4_K(src, dst, nb); return true;
    case ENG_TYPE_Q5_K: quantize_q5_K(src, dst, nb); return true;
    case ENG_TYPE_Q6_K: quantize_q6_K(src, dst, nb); return true;
    case ENG_TYPE_IQ4_NL: {
        struct block_iq4_nl *y = dst;
        for (int64_t i = 0; i < nb; i++)
            quantize_iq4_nl_block(src + 32 * i, &y[i]);
        return true;
    }
    default: return false;
    }
}

/* ---- plain C dot kernels ------------------------------------------------- */

static void dot_f32(int n, float *s, const void *vx, const void *vy)
{
    const float *x = vx, *y = vy;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += (double)x[i] * (double)y[i];
    *s = (float)sum;
}

static void dot_f16(int n, float *s, const void *vx, const void *vy)
{
    const eng_half *x = vx, *y = vy;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += (double)eng_half_to_float(x[i]) * (double)eng_half_to_float(y[i]);
    *s = (float)sum;
}

static void dot_bf16(int n, float *s, const void *vx, const void *vy)
{
    const uint16_t *x = vx, *y = vy;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += (double)eng_bf16_to_float(x[i]) * (double)eng_bf16_to_float(y[i]);
    *s = (float)sum;
}

static void dot_q4_0_q8_0(int n, float *s, const void *vx, const void *vy)
{
    const struct block_q4_0 *x = vx;
    const struct block_q8_0 *y = vy;
    float sumf = 0;
    for (int i = 0; i < n / 32; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += ((x[i].qs[j] & 0xF) - 8) * y[i].qs[j];
            sumi += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
        }
        sumf += (float)sumi * eng_half_to_float(x[i].d) * eng_half_to_float(y[i].d);
    }
    *s = sumf;
}

static void dot_q4_1_q8_1(int n, float *s, const void *vx, const void *vy)
{
    const struct block_q4_1 *x = vx;
    const struct block_q8_1 *y = vy;
    float sumf = 0;
    for (int i = 0; i < n / 32; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += (x[i].qs[j] & 0xF) * y[i].qs[j];
            sumi += (x[i].qs[j] >> 4) * y[i].qs[j + 16];
        }
        sumf += eng_half_to_float(x[i].d) * eng_half_to_float(y[i].d) * (float)sumi +
                eng_half_to_float(x[i].m) * eng_half_to_float(y[i].s);
    }
    *s = sumf;
}

static void dot_q5_0_q8_0(int n, float *s, const void *vx, const void *vy)
{
    const struct block_q5_0 *x = vx;
    const struct block_q8_0 *y = vy;
    float sumf = 0;
    for (int i = 0; i < n / 32; i++) {
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10;
            const int h1 = (qh >> (j + 12)) & 0x10;
            sumi += (((x[i].qs[j] & 0xF) | h0) - 16) * y[i].qs[j];
            sumi += (((x[i].qs[j] >> 4) | h1) - 16) * y[i].qs[j + 16];
        }
        sumf += (float)sumi * eng_half_to_float(x[i].d) * eng_half_to_float(y[i].d);
    }
    *s = sumf;
}

static void dot_q5_1_q8_1(int n, float *s, const void *vx, const void *vy)
{
    const struct block_q5_1 *x = vx;
    const struct block_q8_1 *y = vy;
    float sumf = 0;
    for (int i = 0; i < n / 32; i++) {
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10;
            const int h1 = (qh >> (j + 12)) & 0x10;
            sumi += ((x[i].qs[j] & 0xF) | h0) * y[i].qs[j];
            sumi += ((x[i].qs[j] >> 4) | h1) * y[i].qs[j + 16];
        }
        sumf += eng_half_to_float(x[i].d) * eng_half_to_float(y[i].d) * (float)sumi +
                eng_half_to_float(x[i].m) * eng_half_to_float(y[i].s);
    }
    *s = sumf;
}

static void dot_q8_0_q8_0(int n, float *s, const void *vx, const void *vy)
{
    const struct block_q8_0 *x = vx;
    const struct block_q8_0 *y = vy;
    float sumf = 0;
    for (int i = 0; i < n / 32; i++) {
        int sumi = 0;
        for (int j = 0; j < 32; j++)
            sumi += x[i].qs[j] * y[i].qs[j];
        sumf += (float)sumi * eng_half_to_float(x[i].d) * eng_half_to_float(y[i].d);
    }
    *s = sumf;
}

static void dot_iq4_nl_q8_0(int n, float *s, const void *vx, const void *vy)
{
    const struct block_iq4_nl *x = vx;
    const struct block_q8_0 *y = vy;
    float sumf = 0;
    for (int i = 0; i < n / 32; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += kvalues_iq4nl[x[i].qs[j] & 0xF] * y[i].qs[j];
            sumi += kvalues_iq4nl[x[i].qs[j] >> 4] * y[i].qs[j + 16];
        }
        sumf += (float)sumi * eng_half_to_float(x[i].d) * eng_half_to_float(y[i].d);
    }
    *s = sumf;
}

static void dot_q4_K_q8_K(int n, float *s, const void *vx, const void *vy)
{
    const struct block_q4_K *x = vx;
    const struct block_q8_K *y = vy;
    float sumf = 0;
    for (int i = 0; i < n / QK_K; i++) {
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            get_scale_min_k4(j, x[i].scales, &sc, &m);
            summ += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
            const uint8_t *q = x[i].qs + 32 * (j / 2);
            const int8_t *q8 = y[i].qs + 32 * j;
            const int shift = (j & 1) * 4;
            int si = 0;
            for (int l = 0; l < 32; l++)
                si += ((q[l] >> shift) & 0xF) * q8[l];
            sumi += sc * si;
        }
        sumf += y[i].d * eng_half_to_float(x[i].d) * (float)sumi -
                y[i].d * eng_half_to_float(x[i].dmin) * (float)summ;
    }
    *s = sumf;
}

static void dot_q5_K_q8_K(int n, float *s, const void *vx, const void *vy)
{
    const struct block_q5_K *x = vx;
    const struct block_q8_K *y = vy;
    float sumf = 0;
    for (int i = 0; i < n / QK_K; i++) {
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            get_scale_min_k4(j, x[i].scales, &sc, &m);
            summ += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
            const uint8_t *q = x[i].qs + 32 * (j / 2);
            const int8_t *q8 = y[i].qs + 32 * j;
            const int shift = (j & 1) * 4;
            int si = 0;
            for (int l = 0; l < 32; l++) {
                const int hi = (x[i].qh[l] >> j) & 1;
                si += (((q[l] >> shift) & 0xF) | (hi << 4)) * q8[l];
            }
            sumi += sc * si;
        }
        sumf += y[i].d * eng_half_to_float(x[i].d) * (float)sumi -
                y[i].d * eng_half_to_float(x[i].dmin) * (float)summ;
    }
    *s = sumf;
}

static void dot_q6_K_q8_K(int n, float *s, const void *vx, const void *vy)
{
    const struct block_q6_K *x = vx;
    const struct block_q8_K *y = vy;
    float sumf = 0;
    for (int i = 0; i < n / QK_K; i++) {
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales, *q8 = y[i].qs;
        int sumi = 0;
        for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, q8 += 128) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                sumi += sc[is] * q1 * q8[l] + sc[is + 2] * q2 * q8[l + 32] +
                        sc[is + 4] * q3 * q8[l + 64] + sc[is + 6] * q4 * q8[l + 96];
            }
        }
        sumf += eng_half_to_float(x[i].d) * y[i].d * (float)sumi;
    }
    *s = sumf;
}

/* ---- dispatch ------------------------------------------------------------ */

static const quant_dot_fn ref_dot[ENG_TYPE_COUNT] = {
    [ENG_TYPE_F32] = dot_f32,
    [ENG_TYPE_F16] = dot_f16,
    [ENG_TYPE_BF16] = dot_bf16,
    [ENG_TYPE_Q4_0] = dot_q4_0_q8_0,
    [ENG_TYPE_Q4_1] = dot_q4_1_q8_1,
    [ENG_TYPE_Q5_0] = dot_q5_0_q8_0,
    [ENG_TYPE_Q5_1] = dot_q5_1_q8_1,
    [ENG_TYPE_Q8_0] = dot_q8_0_q8_0,
    [ENG_TYPE_IQ4_NL] = dot_iq4_nl_q8_0,
    [ENG_TYPE_Q4_K] = dot_q4_K_q8_K,
    [ENG_TYPE_Q5_K] = dot_q5_K_q8_K,
    [ENG_TYPE_Q6_K] = dot_q6_K_q8_K,
};

/* The kernels in use; written once under pthread_once, read-only after. */
static quant_dot_fn active_dot[ENG_TYPE_COUNT];
static quant_dot_rows_fn active_rows[ENG_TYPE_COUNT];
static quant_dot_rows_cols_fn active_rows_cols[ENG_TYPE_COUNT];
static quant_quantize_fn active_quantize[ENG_TYPE_COUNT];
static bool use_avx2;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static bool cpu_has_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    unsigned eax, ebx, ecx, edx;
    /* F16C is CPUID leaf 1, ECX bit 29 (clang's builtin does not know "f16c"). */
    bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29));
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
#else
    return false;
#endif
}

/* In quant-avx512.c: the AVX-512 single-row and rows x cols kernels of a
 * type, or NULL. */
quant_dot_fn quant_avx512_dot(enum eng_type type);
quant_dot_rows_cols_fn quant_avx512_dot_rows_cols(enum eng_type type);

/* AVX-512 F/BW/VL/VNNI/VBMI (with the AVX2 set), and not disabled by
 * WENSHU_NO_AVX512=1. */
static bool cpu_has_avx512(void)
{
#if defined(__x86_64__) || defined(__i386__)
    const char *no = getenv("WENSHU_NO_AVX512");
    if (no && no[0] && strcmp(no, "0") != 0)
        return false;
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
           __builtin_cpu_supports("avx512vbmi");
#else
    return false;
#endif
}

static void init_tables(void)
{
    const char *no = getenv("WENSHU_NO_AVX2");
    use_avx2 = cpu_has_avx2() && !(no && no[0] && strcmp(no, "0") != 0);
    const bool use_avx512 = use_avx2 && cpu_has_avx512();
    for (int t = 0; t < ENG_TYPE_COUNT; t++) {
        active_dot[t] = ref_dot[t];
        active_rows[t] = NULL;
        active_rows_cols[t] = NULL;
        active_quantize[t] = NULL;
        if (!use_avx2)
            continue;
        if (quant_avx2_dot((enum eng_type)t))
            active_dot[t] = quant_avx2_dot((enum eng_type)t);
        active_rows[t] = quant_avx2_dot_rows((enum eng_type)t);
        active_rows_cols[t] = quant_avx2_dot_rows_cols((enum eng_type)t);
        active_quantize[t] = quant_avx2_quantize((enum eng_type)t);
        if (use_avx512 && quant_avx512_dot((enum eng_type)t))
            active_dot[t] = quant_avx512_dot((enum eng_type)t);
        if (use_avx512 && quant_avx512_dot_rows_cols((enum eng_type)t))
            active_rows_cols[t] = quant_avx512_dot_rows_cols((enum eng_type)t);
    }
}

void quant_init(void)
{
    pthread_once(&init_once, init_tables);
}

bool quant_have_avx2(void)
{
    quant_init();
    return use_avx2;
}

void quant_quantize_row(enum eng_type type, const float *src, void *dst, int64_t n)
{
    const struct quant_traits *t = quant_traits(type);
    ENG_ASSERT(t != NULL && t->can_quantize && n % t->blck == 0);
    quant_init();
    if (active_quantize[type]) {
        active_quantize[type](src, dst, n);
        return;
    }
    ENG_ASSERT(quantize_row_c(type, src, dst, n, n / t->blck));
}

void quant_vec_dot(enum eng_type type, int n, float *s, const void *x, const void *y)
{
    quant_init();
    ENG_ASSERT((unsigned)type < ENG_TYPE_COUNT && active_dot[type] != NULL);
    active_dot[type](n, s, x, y);
}

void quant_vec_dot_ref(enum eng_type type, int n, float *s, const void *x, const void *y)
{
    ENG_ASSERT((unsigned)type < ENG_TYPE_COUNT && ref_dot[type] != NULL);
    ref_dot[type](n, s, x, y);
}

/* Row length from which the interleaved multi-row kernels beat row-by-row dots. */
#define ROWS_INTERLEAVE_MIN_BYTES 16384

void quant_vec_dot_rows(enum eng_type type, int n, float *s, const void *x, size_t x_row_stride,
                        int n_rows, const void *y)
{
    quant_init();
    ENG_ASSERT((unsigned)type < ENG_TYPE_COUNT && active_dot[type] != NULL);
    /* The interleaved multi-row kernels read several rows at once, which
     * defeats the hardware prefetcher when rows are short and come from
     * DRAM (decode): measured 7.8 GB/s against 23 GB/s row by row for Q8_0
     * rows of 896 (bench-dot 151936 896). They pay only for long rows. */
    if (active_rows[type] && x_row_stride >= ROWS_INTERLEAVE_MIN_BYTES) {
        active_rows[type](n, s, x, x_row_stride, n_rows, y);
        return;
    }
    const uint8_t *xr = x;
    for (int r = 0; r < n_rows; r++)
        active_dot[type](n, &s[r], xr + (size_t)r * x_row_stride, y);
}

/* Weight rows per tile of quant_vec_dot_rows_cols: 16 rows of a 4864-wide
 * Q8_0 matrix are ~80 KiB, so a tile stays in L2 while the columns stream. */
#define ROWS_COLS_TILE 16

void quant_vec_dot_rows_cols(enum eng_type type, int n, float *s, size_t s_col_stride,
                             const void *x, size_t x_row_stride, int n_rows, const void *y,
                             size_t y_col_stride, int n_cols)
{
    quant_init();
    ENG_ASSERT((unsigned)type < ENG_TYPE_COUNT && active_dot[type] != NULL);
    if (active_rows_cols[type]) {
        active_rows_cols[type](n, s, s_col_stride, x, x_row_stride, n_rows, y, y_col_stride,
                               n_cols);
        return;
    }
    const uint8_t *xb = x, *yb = y;
    for (int r0 = 0; r0 < n_rows; r0 += ROWS_COLS_TILE) {
        const int nr = imin(ROWS_COLS_TILE, n_rows - r0);
        for (int c = 0; c < n_cols; c++)
            quant_vec_dot_rows(type, n, s + (size_t)c * s_col_stride + r0,
                               xb + (size_t)r0 * x_row_stride, x_row_stride, nr,
                               yb + (size_t)c * y_col_stride);
    }
}
