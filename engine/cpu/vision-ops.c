/* vision-ops.c: CPU implementations of the vision encoders' ops (see
 * vision-ops.h). The products (weights and attention alike) run on one
 * register-tiled f32 kernel: an AVX2/FMA version compiled through a target
 * attribute and chosen at run time with quant.h's kernels, and a plain C one. */
#include <math.h>
#include <string.h>

#include "../engine-internal.h"
#include "../quant.h"
#include "vision-ops.h"

/* The AVX2/FMA code is compiled through target attributes (this file is
 * built for the baseline CPU) and runs only when quant_have_avx2(). */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WENSHU_X86 1
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#define AVX2_INLINE static inline __attribute__((always_inline)) TARGET_AVX2

/* e^x (Cephes expf: a degree-5 polynomial on the reduced argument, about
 * 1 ulp), with x clamped to [-87, 88] so that 2^n stays a normal float. */
AVX2_INLINE __m256 exp8(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* x * sigmoid(c) for 8 values: x / (1 + e^-c). */
AVX2_INLINE __m256 mul_sigmoid8(__m256 x, __m256 c)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(x, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), c))));
}
#else
#define WENSHU_X86 0
#endif

/* Rows per task of the row-wise ops: enough work to amortise claiming a task. */
#define ROWS_PER_TASK 8

static int row_tasks(int n_rows)
{
    return (n_rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
}

/* The rows [*r0, *r1) of task `task` over n_rows rows. */
static void task_rows(int task, int n_rows, int *r0, int *r1)
{
    *r0 = task * ROWS_PER_TASK;
    *r1 = *r0 + ROWS_PER_TASK < n_rows ? *r0 + ROWS_PER_TASK : n_rows;
}

/* ---- norms ------------------------------------------------------------------ */

struct norm_ctx {
    float *y;
    const float *x, *w, *b;
    int n, n_tok;
    float eps;
};

static void layer_norm_row(float *y, const float *x, const float *w, const float *b, int n,
                           float eps)
{
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += x[i];
    float mean = (float)(sum / n);
    double var = 0.0;
    for (int i = 0; i < n; i++) {
        float d = x[i] - mean;
        var += (double)d * d;
    }
    float scale = (float)(1.0 / sqrt(var / n + eps));
    for (int i = 0; i < n; i++)
        y[i] = (x[i] - mean) * scale * w[i] + b[i];
}

static void norm_task(void *p, int task, int ith)
{
    (void)ith;
    const struct norm_ctx *c = p;
    int r0, r1;
    task_rows(task, c->n_tok, &r0, &r1);
    if (!c->b) {
        cpu_rms_norm(c->y + (size_t)r0 * c->n, c->x + (size_t)r0 * c->n, c->w, c->n, r1 - r0,
                     c->eps);
        return;
    }
    for (int t = r0; t < r1; t++)
        layer_norm_row(c->y + (size_t)t * c->n, c->x + (size_t)t * c->n, c->w, c->b, c->n,
                       c->eps);
}

void cpu_norm_rows(struct threadpool *pool, float *y, const float *x, const float *w,
                   const float *b, int n, int n_tok, float eps)
{
    struct norm_ctx c = {.y = y, .x = x, .w = w, .b = b, .n = n, .n_tok = n_tok, .eps = eps};
    threadpool_run(pool, norm_task, &c, row_tasks(n_tok));
}

/* ---- activations and residual adds --------------------------------------- */

struct rows_ctx {
    float *y;
    const float *x;
    int n_rows;
    size_t row_len;
    enum cpu_act act;
};

static float act_one(float x, enum cpu_act act)
{
    switch (act) {
    case CPU_ACT_GELU_QUICK: return x / (1.0f + expf(-1.702f * x));
    case CPU_ACT_GELU_TANH:
        return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case CPU_ACT_GELU_ERF: return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
    case CPU_ACT_SILU: return x / (1.0f + expf(-x));
    }
    ENG_ASSERT(!"unknown activation");
}

#if WENSHU_X86
/* The sigmoid-form activations (all but GELU-erf) 8 at a time:
 * gelu_tanh(x) = x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)), as
 * 0.5 (1 + tanh u) = sigmoid(2u). Returns how many values it did. */
TARGET_AVX2 static size_t act_avx2(float *y, const float *mul, size_t n, enum cpu_act act)
{
    if (act == CPU_ACT_GELU_ERF)
        return 0;
    const __m256 k_quick = _mm256_set1_ps(1.702f), k_tanh = _mm256_set1_ps(1.5957691216057308f);
    const __m256 k_cube = _mm256_set1_ps(0.044715f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(y + i), c = x;
        if (act == CPU_ACT_GELU_QUICK)
            c = _mm256_mul_ps(k_quick, x);
        else if (act == CPU_ACT_GELU_TANH)
            c = _mm256_mul_ps(k_tanh,
                              _mm256_fmadd_ps(_mm256_mul_ps(k_cube, x), _mm256_mul_ps(x, x), x));
        __m256 r = mul_sigmoid8(x, c);
        if (mul)
            r = _mm256_mul_ps(r, _mm256_loadu_ps(mul + i));
        _mm256_storeu_ps(y + i, r);
    }
    return i;
}
#endif

static void act_task(void *p, int task, int ith)
{
    (void)ith;
    const struct rows_ctx *c = p;
    int r0, r1;
    task_rows(task, c->n_rows, &r0, &r1);
    float *y = c->y + (size_t)r0 * c->row_len;
    size_t n = (size_t)(r1 - r0) * c->row_len;
    const float *mul = c->x ? c->x + (size_t)r0 * c->row_len : NULL;
#if WENSHU_X86
    if (quant_have_avx2()) {
        size_t done = act_avx2(y, mul, n, c->act);
        y += done;
        n -= done;
        mul = mul ? mul + done : NULL;
    }
#endif
    if (mul) {
        for (size_t i = 0; i < n; i++)
            y[i] = act_one(y[i], c->act) * mul[i];
    } else {
        for (size_t i = 0; i < n; i++)
            y[i] = act_one(y[i], c->act);
    }
}

void cpu_act_rows(struct threadpool *pool, float *x, const float *mul, int n_rows, size_t row_len,
                  enum cpu_act act)
{
    quant_init(); /* act_task asks quant_have_avx2() */
    struct rows_ctx c = {.y = x, .x = mul, .n_rows = n_rows, .row_len = row_len, .act = act};
    threadpool_run(pool, act_task, &c, row_tasks(n_rows));
}

static void add_task(void *p, int task, int ith)
{
    (void)ith;
    const struct rows_ctx *c = p;
    int r0, r1;
    task_rows(task, c->n_rows, &r0, &r1);
    float *y = c->y + (size_t)r0 * c->row_len;
    const float *x = c->x + (size_t)r0 * c->row_len;
    size_t n = (size_t)(r1 - r0) * c->row_len;
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}

void cpu_add_rows(struct threadpool *pool, float *y, const float *x, int n_rows, size_t row_len)
{
    struct rows_ctx c = {.y = y, .x = x, .n_rows = n_rows, .row_len = row_len};
    threadpool_run(pool, add_task, &c, row_tasks(n_rows));
}

/* ---- rotary embedding ------------------------------------------------------ */

struct rope_ctx {
    float *x;
    int n_tok, n_head, head_dim;
    const float *cos_sin;
};

static void rope_task(void *p, int task, int ith)
{
    (void)ith;
    const struct rope_ctx *c = p;
    int half = c->head_dim / 2;
    int r0, r1;
    task_rows(task, c->n_tok, &r0, &r1);
    for (int t = r0; t < r1; t++) {
        const float *cs = c->cos_sin + (size_t)t * half * 2; /* [half][2] */
        for (int h = 0; h < c->n_head; h++) {
            float *v = c->x + ((size_t)t * c->n_head + h) * c->head_dim;
            for (int i = 0; i < half; i++) {
                float a = v[i], b = v[i + half];
                v[i] = a * cs[2 * i] - b * cs[2 * i + 1];
                v[i + half] = b * cs[2 * i] + a * cs[2 * i + 1];
            }
        }
    }
}

void cpu_rope_table(struct threadpool *pool, float *x, int n_tok, int n_head, int head_dim,
                    const float *cos_sin)
{
    struct rope_ctx c = {
        .x = x, .n_tok = n_tok, .n_head = n_head, .head_dim = head_dim, .cos_sin = cos_sin};
    threadpool_run(pool, rope_task, &c, row_tasks(n_tok));
}

/* ---- the f32 tile kernel ----------------------------------------------------- */

#define GEMM_MR 6   /* tokens per register tile */
#define GEMM_NR 16  /* outputs per register tile (two AVX2 vectors) */
#define GEMM_KC 256 /* k per pass: a panel slice of 16 KiB stays in L1 */
/* A task: 144 tokens (24 register tiles, 144 KiB of a k slice, in L2) by
 * 64 outputs (4 panels); measured best of 48-192 x 32-128 for 1280 and 5120
 * wide products. */
#define GEMM_TOK_BLOCK 144
#define GEMM_ROW_BLOCK 64

/* c[i][0..nr) = start[i] + sum_{k < kc} a[i * lda + k] * b[k * ldb + 0..nr)
 * for i < mr, where start[i] is bias[0..nr) (zeros when bias is NULL) when
 * first, else c[i] itself. Reads no b, bias or c value at or past nr. */
typedef void (*tile_fn)(int mr, int kc, const float *a, size_t lda, const float *b, size_t ldb,
                        float *c, size_t ldc, int nr, bool first, const float *bias);

static void tile_c(int mr, int kc, const float *a, size_t lda, const float *b, size_t ldb, float *c,
                   size_t ldc, int nr, bool first, const float *bias)
{
    float acc[GEMM_MR][GEMM_NR];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++)
            acc[i][j] = first ? (bias ? bias[j] : 0.0f) : c[i * ldc + j];
    for (int k = 0; k < kc; k++)
        for (int i = 0; i < mr; i++) {
            float ai = a[i * lda + k];
            for (int j = 0; j < nr; j++)
                acc[i][j] += ai * b[k * ldb + j];
        }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++)
            c[i * ldc + j] = acc[i][j];
}

#if WENSHU_X86

/* Load 8 floats of which the first n (may be <= 0 or >= 8) are valid. */
AVX2_INLINE __m256 load8_part(const float *p, int n, bool full)
{
    if (full || n >= 8)
        return _mm256_loadu_ps(p);
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx));
}

AVX2_INLINE void store8_part(float *p, __m256 v, int n, bool full)
{
    if (full || n >= 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx), v);
}

/* The kernel for MR tokens; FULL: nr == 16, no masks. */
AVX2_INLINE void tile_avx2_mr(const int MR, const bool FULL, int kc, const float *a, size_t lda,
                              const float *b, size_t ldb, float *c, size_t ldc, int nr, bool first,
                              const float *bias)
{
    __m256 acc0[GEMM_MR], acc1[GEMM_MR];
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    if (first && bias) {
        s0 = load8_part(bias, nr, FULL);
        s1 = load8_part(bias + 8, nr - 8, FULL);
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        acc0[i] = first ? s0 : load8_part(c + i * ldc, nr, FULL);
        acc1[i] = first ? s1 : load8_part(c + i * ldc + 8, nr - 8, FULL);
    }
    for (int k = 0; k < kc; k++) {
        const __m256 b0 = load8_part(b + k * ldb, nr, FULL);
        const __m256 b1 = load8_part(b + k * ldb + 8, nr - 8, FULL);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            const __m256 ai = _mm256_broadcast_ss(a + i * lda + k);
            acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
            acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        store8_part(c + i * ldc, acc0[i], nr, FULL);
        store8_part(c + i * ldc + 8, acc1[i], nr - 8, FULL);
    }
}

#define TILE_AVX2(MR)                                                                              \
    TARGET_AVX2 static void tile_avx2_##MR(int kc, const float *a, size_t lda, const float *b,     \
                                           size_t ldb, float *c, size_t ldc, int nr, bool first,   \
                                           const float *bias)                                      \
    {                                                                                              \
        if (nr == GEMM_NR)                                                                         \
            tile_avx2_mr(MR, true, kc, a, lda, b, ldb, c, ldc, nr, first, bias);                   \
        else                                                                                       \
            tile_avx2_mr(MR, false, kc, a, lda, b, ldb, c, ldc, nr, first, bias);                  \
    }
TILE_AVX2(1)
TILE_AVX2(2)
TILE_AVX2(3)
TILE_AVX2(4)
TILE_AVX2(5)
TILE_AVX2(6)

static void tile_avx2(int mr, int kc, const float *a, size_t lda, const float *b, size_t ldb,
                      float *c, size_t ldc, int nr, bool first, const float *bias)
{
    switch (mr) {
    case 1: tile_avx2_1(kc, a, lda, b, ldb, c, ldc, nr, first, bias); break;
    case 2: tile_avx2_2(kc, a, lda, b, ldb, c, ldc, nr, first, bias); break;
    case 3: tile_avx2_3(kc, a, lda, b, ldb, c, ldc, nr, first, bias); break;
    case 4: tile_avx2_4(kc, a, lda, b, ldb, c, ldc, nr, first, bias); break;
    case 5: tile_avx2_5(kc, a, lda, b, ldb, c, ldc, nr, first, bias); break;
    default: tile_avx2_6(kc, a, lda, b, ldb, c, ldc, nr, first, bias); break;
    }
}
#endif

/* The AVX2 kernel when quant.h uses AVX2 (the CPU has it and WENSHU_NO_AVX2
 * is unset), else the plain one. */
static tile_fn pick_tile(void)
{
    quant_init();
#if WENSHU_X86
    if (quant_have_avx2())
        return tile_avx2;
#endif
    return tile_c;
}

/* ---- products with float weights ---------------------------------------------- */

bool cpu_gemm_supports(enum eng_type type)
{
    return type == ENG_TYPE_F32 || type == ENG_TYPE_F16 || type == ENG_TYPE_BF16;
}

size_t cpu_gemm_packed_floats(const struct cpu_matrix *w)
{
    size_t panels = ((size_t)w->n_out + GEMM_NR - 1) / GEMM_NR;
    return panels * GEMM_NR * (size_t)w->n_in;
}

struct pack_ctx {
    const struct cpu_matrix *w;
    float *packed;
};

/* Columns per step of the repacking: a 16 x 64 block converted, then transposed. */
#define PACK_COLS 64

/* packed[panel][k][16] = w[panel * 16 + j][k], zeros past n_out. */
static void pack_task(void *p, int panel, int ith)
{
    (void)ith;
    const struct pack_ctx *c = p;
    const struct cpu_matrix *w = c->w;
    float *dst = c->packed + (size_t)panel * GEMM_NR * w->n_in; /* [n_in][16] */
    float block[GEMM_NR][PACK_COLS];
    for (int k0 = 0; k0 < w->n_in; k0 += PACK_COLS) {
        int nk = w->n_in - k0 < PACK_COLS ? w->n_in - k0 : PACK_COLS;
        for (int j = 0; j < GEMM_NR; j++) {
            int r = panel * GEMM_NR + j;
            if (r < w->n_out)
                quant_dequantize_row(
                    w->type, w->data + (size_t)r * w->row_bytes + quant_row_size(w->type, k0),
                    block[j], nk);
            else
                memset(block[j], 0, sizeof block[j]);
        }
        for (int k = 0; k < nk; k++)
            for (int j = 0; j < GEMM_NR; j++)
                dst[(size_t)(k0 + k) * GEMM_NR + j] = block[j][k];
    }
}

void cpu_gemm_pack(struct threadpool *pool, const struct cpu_matrix *w, float *packed)
{
    ENG_ASSERT(cpu_gemm_supports(w->type));
    struct pack_ctx c = {.w = w, .packed = packed};
    threadpool_run(pool, pack_task, &c, (w->n_out + GEMM_NR - 1) / GEMM_NR);
}

struct gemm_ctx {
    tile_fn tile;
    const float *packed, *x, *bias;
    float *y;
    int n_in, n_out, n_tok, y_stride;
    int n_row_blocks;
};

/* One block of GEMM_TOK_BLOCK tokens by GEMM_ROW_BLOCK outputs, k in slices
 * of GEMM_KC: a panel slice stays in L1 while the block's tokens pass. */
static void gemm_task(void *p, int task, int ith)
{
    (void)ith;
    const struct gemm_ctx *c = p;
    int t0 = task / c->n_row_blocks * GEMM_TOK_BLOCK, r0 = task % c->n_row_blocks * GEMM_ROW_BLOCK;
    int t1 = t0 + GEMM_TOK_BLOCK < c->n_tok ? t0 + GEMM_TOK_BLOCK : c->n_tok;
    int r1 = r0 + GEMM_ROW_BLOCK < c->n_out ? r0 + GEMM_ROW_BLOCK : c->n_out;
    for (int k0 = 0; k0 < c->n_in; k0 += GEMM_KC) {
        int kc = c->n_in - k0 < GEMM_KC ? c->n_in - k0 : GEMM_KC;
        for (int r = r0; r < r1; r += GEMM_NR) {
            const float *b = c->packed + ((size_t)r * c->n_in + (size_t)k0 * GEMM_NR);
            int nr = r1 - r < GEMM_NR ? r1 - r : GEMM_NR;
            for (int t = t0; t < t1; t += GEMM_MR) {
                int mr = t1 - t < GEMM_MR ? t1 - t : GEMM_MR;
                c->tile(mr, kc, c->x + (size_t)t * c->n_in + k0, (size_t)c->n_in, b, GEMM_NR,
                        c->y + (size_t)t * c->y_stride + r, (size_t)c->y_stride, nr, k0 == 0,
                        c->bias ? c->bias + r : NULL);
            }
        }
    }
}

void cpu_gemm_run(struct threadpool *pool, const float *packed, int n_in, int n_out, const float *x,
                  int n_tok, const float *bias, float *y, int y_stride)
{
    struct gemm_ctx c = {.tile = pick_tile(),
                         .packed = packed,
                         .x = x,
                         .bias = bias,
                         .y = y,
                         .n_in = n_in,
                         .n_out = n_out,
                         .n_tok = n_tok,
                         .y_stride = y_stride,
                         .n_row_blocks = (n_out + GEMM_ROW_BLOCK - 1) / GEMM_ROW_BLOCK};
    int n_tok_blocks = (n_tok + GEMM_TOK_BLOCK - 1) / GEMM_TOK_BLOCK;
    threadpool_run(pool, gemm_task, &c, n_tok_blocks * c.n_row_blocks);
}

/* ---- attention within segments -------------------------------------------- */

size_t cpu_seg_attention_score_floats(int n_threads, int max_seg)
{
    return (size_t)n_threads * CPU_SEG_ATTN_QBLOCK * (size_t)max_seg;
}

/* Tokens per task of the transpose of k. */
#define TRANSPOSE_TOKENS 64

/* kt[h][d][t] = k[t][h][d] for a block of tokens of one head. */
static void transpose_task(void *p, int task, int ith)
{
    (void)ith;
    const struct cpu_seg_attention *a = p;
    int n_blocks = (a->n_tok + TRANSPOSE_TOKENS - 1) / TRANSPOSE_TOKENS;
    int h = task / n_blocks, t0 = task % n_blocks * TRANSPOSE_TOKENS;
    int t1 = t0 + TRANSPOSE_TOKENS < a->n_tok ? t0 + TRANSPOSE_TOKENS : a->n_tok;
    int hd = a->head_dim;
    size_t row = (size_t)a->n_head * hd;
    float *kt = a->kt + (size_t)h * hd * a->n_tok; /* [hd][n_tok] */
    for (int d = 0; d < hd; d++)
        for (int t = t0; t < t1; t++)
            kt[(size_t)d * a->n_tok + t] = a->k[t * row + (size_t)h * hd + d];
}

typedef void (*softmax_fn)(float *row, int n, float scale);

#if WENSHU_X86
TARGET_AVX2 static void softmax_avx2(float *row, int n, float scale)
{
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int j = 0;
    for (; j + 8 <= n; j += 8)
        vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(row + j));
    float lanes[8];
    _mm256_storeu_ps(lanes, vmax);
    float max_score = -INFINITY;
    for (int i = 0; i < 8; i++)
        max_score = lanes[i] > max_score ? lanes[i] : max_score;
    for (int k = j; k < n; k++)
        max_score = row[k] > max_score ? row[k] : max_score;

    const __m256 vm = _mm256_set1_ps(max_score), vs = _mm256_set1_ps(scale);
    __m256 vsum = _mm256_setzero_ps();
    for (j = 0; j + 8 <= n; j += 8) {
        __m256 e = exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(row + j), vm), vs));
        _mm256_storeu_ps(row + j, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    _mm256_storeu_ps(lanes, vsum);
    float sum = 0.0f;
    for (int i = 0; i < 8; i++)
        sum += lanes[i];
    for (int k = j; k < n; k++) {
        row[k] = expf((row[k] - max_score) * scale);
        sum += row[k];
    }
    const __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (j = 0; j + 8 <= n; j += 8)
        _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), inv));
    for (int k = j; k < n; k++)
        row[k] *= 1.0f / sum;
}
#endif

static softmax_fn pick_softmax(void)
{
    quant_init();
#if WENSHU_X86
    if (quant_have_avx2())
        return softmax_avx2;
#endif
    return cpu_softmax_row;
}

/* The segment and first query of query block `block` (counted over all
 * segments, each cut into CPU_SEG_ATTN_QBLOCK-query blocks). */
static void find_block(const struct cpu_seg_attention *a, int block, int *seg, int *q0)
{
    for (int s = 0; s < a->n_seg; s++) {
        int len = a->seg_start[s + 1] - a->seg_start[s];
        int n_blocks = (len + CPU_SEG_ATTN_QBLOCK - 1) / CPU_SEG_ATTN_QBLOCK;
        if (block < n_blocks) {
            *seg = s;
            *q0 = a->seg_start[s] + block * CPU_SEG_ATTN_QBLOCK;
            return;
        }
        block -= n_blocks;
    }
    ENG_ASSERT(!"attention block out of range");
}

struct attention_ctx {
    const struct cpu_seg_attention *a;
    tile_fn tile;
    softmax_fn softmax;
};

/* c[n_q][n_out] (row stride ldc) = a[n_q][n_k] (row stride lda) times
 * b[n_k][n_out] (row stride ldb), in register tiles. */
static void small_gemm(tile_fn tile, int n_q, int n_k, int n_out, const float *a, size_t lda,
                       const float *b, size_t ldb, float *c, size_t ldc)
{
    for (int k0 = 0; k0 < n_k; k0 += GEMM_KC) {
        int kc = n_k - k0 < GEMM_KC ? n_k - k0 : GEMM_KC;
        for (int j = 0; j < n_out; j += GEMM_NR) {
            int nr = n_out - j < GEMM_NR ? n_out - j : GEMM_NR;
            for (int i = 0; i < n_q; i += GEMM_MR) {
                int mr = n_q - i < GEMM_MR ? n_q - i : GEMM_MR;
                tile(mr, kc, a + i * lda + k0, lda, b + k0 * ldb + j, ldb, c + i * ldc + j, ldc, nr,
                     k0 == 0, NULL);
            }
        }
    }
}

/* One head over one block of queries against the keys of their segment. */
static void attention_task(void *p, int task, int ith)
{
    const struct attention_ctx *ctx = p;
    const struct cpu_seg_attention *a = ctx->a;
    int h = task % a->n_head, seg, q0;
    find_block(a, task / a->n_head, &seg, &q0);
    int k0 = a->seg_start[seg], n_keys = a->seg_start[seg + 1] - k0;
    int n_q = a->seg_start[seg + 1] - q0;
    n_q = n_q < CPU_SEG_ATTN_QBLOCK ? n_q : CPU_SEG_ATTN_QBLOCK;
    int hd = a->head_dim;
    size_t row = (size_t)a->n_head * hd;
    float *scores = a->scores + (size_t)ith * CPU_SEG_ATTN_QBLOCK * a->max_seg; /* [n_q][n_keys] */

    /* scores[i][j] = q[q0 + i] · k[k0 + j] for this head; kt row d at kt + d * n_tok */
    const float *kt = a->kt + (size_t)h * hd * a->n_tok + k0;
    small_gemm(ctx->tile, n_q, hd, n_keys, a->q + (size_t)q0 * row + (size_t)h * hd, row, kt,
               (size_t)a->n_tok, scores, (size_t)n_keys);
    for (int i = 0; i < n_q; i++)
        ctx->softmax(scores + (size_t)i * n_keys, n_keys, a->scale);
    /* out[q0 + i][h] = sum_j scores[i][j] v[k0 + j][h] */
    small_gemm(ctx->tile, n_q, n_keys, hd, scores, (size_t)n_keys,
               a->v + (size_t)k0 * row + (size_t)h * hd, row,
               a->out + (size_t)q0 * row + (size_t)h * hd, row);
}

void cpu_seg_attention_run(struct threadpool *pool, const struct cpu_seg_attention *a)
{
    ENG_ASSERT(a->n_seg >= 1 && a->seg_start[0] == 0 && a->seg_start[a->n_seg] == a->n_tok);
    int n_blocks = (a->n_tok + TRANSPOSE_TOKENS - 1) / TRANSPOSE_TOKENS;
    threadpool_run(pool, transpose_task, (void *)a, a->n_head * n_blocks);
    int n_qblocks = 0;
    for (int s = 0; s < a->n_seg; s++) {
        int len = a->seg_start[s + 1] - a->seg_start[s];
        ENG_ASSERT(len >= 1 && len <= a->max_seg);
        n_qblocks += (len + CPU_SEG_ATTN_QBLOCK - 1) / CPU_SEG_ATTN_QBLOCK;
    }
    struct attention_ctx ctx = {.a = a, .tile = pick_tile(), .softmax = pick_softmax()};
    threadpool_run(pool, attention_task, &ctx, n_qblocks * a->n_head);
}
