/* vision-ops.h: the CPU ops the vision encoders need beyond the decoder's
 * (ops.h): row-parallel norms and activations, a rotary embedding from a
 * per-token table, and non-causal attention within segments of the sequence.
 *
 * Activations are f32, row-major, one row per token, as in ops.h. Every op
 * fans out to the pool itself.
 *
 * Thread-safety: ops are called from one thread at a time per pool.
 */
#ifndef WENSHU_CPU_VISION_OPS_H
#define WENSHU_CPU_VISION_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "ops.h"
#include "threadpool.h"

/* ---- f32 products with float weights ------------------------------------
 * y = x · W^T + bias for F32, F16 or BF16 weights and f32 activations,
 * blocked for the caches (a register tile of 6 tokens x 16 outputs, AVX2/FMA
 * where the CPU has it). The weights are first repacked to f32 panels of 16
 * rows, k-major: packed[panel][k][16], the last panel padded with zeros. */

/* Whether cpu_gemm takes weights of this type (F32, F16, BF16). */
bool cpu_gemm_supports(enum eng_type type);

/* Floats of the packed form of w: n_out rounded up to 16, times n_in. */
size_t cpu_gemm_packed_floats(const struct cpu_matrix *w);

/* Repack w into packed (cpu_gemm_packed_floats of them), one task per panel. */
void cpu_gemm_pack(struct threadpool *pool, const struct cpu_matrix *w, float *packed);

/* y[t][r] = sum_k x[t][k] * w[r][k] + bias[r] for t < n_tok, r < n_out, from
 * the packed weights. x: [n_tok][n_in]; y: [n_tok][y_stride]; bias may be NULL. */
void cpu_gemm_run(struct threadpool *pool, const float *packed, int n_in, int n_out, const float *x,
                  int n_tok, const float *bias, float *y, int y_stride);

/* Queries per attention task: a block whose scores stay in L2. */
#define CPU_SEG_ATTN_QBLOCK 36 /* a multiple of the 6-token register tile */

/* y[t] = (x[t] - mean) / sqrt(var + eps) * w + b (LayerNorm, biased
 * variance), or, when b is NULL, y[t] = x[t] / sqrt(mean(x^2) + eps) * w
 * (RMSNorm). n_tok rows of n; y may equal x. */
void cpu_norm_rows(struct threadpool *pool, float *y, const float *x, const float *w,
                   const float *b, int n, int n_tok, float eps);

enum cpu_act {
    CPU_ACT_GELU_QUICK, /* x * sigmoid(1.702 x) */
    CPU_ACT_GELU_TANH,  /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    CPU_ACT_GELU_ERF,   /* 0.5 x (1 + erf(x / sqrt(2))) */
    CPU_ACT_SILU,       /* x * sigmoid(x) */
};

/* x[i] = act(x[i]) * mul[i] (mul NULL: act(x[i])) over n_rows rows of
 * row_len, in place; mul is the up projection of a gated MLP. */
void cpu_act_rows(struct threadpool *pool, float *x, const float *mul, int n_rows, size_t row_len,
                  enum cpu_act act);

/* y[i] += x[i] over n_rows rows of row_len. */
void cpu_add_rows(struct threadpool *pool, float *y, const float *x, int n_rows, size_t row_len);

/* Rotate-half rotary embedding in place on x[n_tok][n_head][head_dim]:
 * pairs (i, i + head_dim/2) turn by the angle whose cosine and sine are
 * cos_sin[t][i][0] and cos_sin[t][i][1] (table [n_tok][head_dim/2][2]). */
void cpu_rope_table(struct threadpool *pool, float *x, int n_tok, int n_head, int head_dim,
                    const float *cos_sin);

/* Non-causal softmax attention in which each token attends only to the
 * tokens of its own segment: segment s is tokens seg_start[s] ..
 * seg_start[s+1]-1. out = softmax(q k^T * scale) v, per head. */
struct cpu_seg_attention {
    const float *q; /* [n_tok][n_head * head_dim] */
    const float *k; /* [n_tok][n_head * head_dim] */
    const float *v; /* [n_tok][n_head * head_dim] */
    float *out;     /* [n_tok][n_head * head_dim] */
    int n_tok, n_head, head_dim;
    const int *seg_start; /* [n_seg + 1]: 0, ..., n_tok, increasing */
    int n_seg;
    float scale;   /* 1/sqrt(head_dim) */
    float *kt;     /* scratch [n_head][head_dim][n_tok]: k transposed per head */
    float *scores; /* scratch [n_threads][CPU_SEG_ATTN_QBLOCK][max segment length] */
    int max_seg;   /* the longest segment, in tokens */
};

/* Floats of cpu_seg_attention.scores for a pool of n_threads. */
size_t cpu_seg_attention_score_floats(int n_threads, int max_seg);

void cpu_seg_attention_run(struct threadpool *pool, const struct cpu_seg_attention *a);

#endif /* WENSHU_CPU_VISION_OPS_H */
