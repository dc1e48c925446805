/* ops.h: the CPU ops the text decoders are built from.
 *
 * Activations are f32, row-major, one row per token. Weight matrices stay in
 * their GGUF block format: a matrix has n_out rows of n_in elements (ggml
 * ne = [n_in, n_out]), and a product first quantizes the activations to the
 * weight type's vec_dot_type, then runs the dot kernels of quant.h on the
 * thread pool.
 *
 * Thread-safety: ops are called from the session's thread; they fan out to
 * the pool themselves.
 */
#ifndef WENSHU_CPU_OPS_H
#define WENSHU_CPU_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../quant.h"
#include "threadpool.h"

/* A weight matrix inside the mapped file. */
struct cpu_matrix {
    enum eng_type type;
    const uint8_t *data; /* [n_out] rows of row_bytes */
    int n_in;            /* elements per row (ne[0]) */
    int n_out;           /* rows (ne[1]) */
    size_t row_bytes;
};

/* Activations quantized for one weight type: [n_tok] rows of row_bytes. */
struct cpu_qact {
    enum eng_type type; /* a vec_dot_type */
    uint8_t *data;      /* owned by the caller's scratch arena */
    size_t row_bytes;
    int n_tok;
};

/* The activation types a weight product may need (a weight type's
 * vec_dot_type): callers keep one scratch slot per type, so inputs quantized
 * for weights of different types stay valid side by side. */
enum cpu_qact_slot_id {
    CPU_QACT_F32, CPU_QACT_F16, CPU_QACT_BF16, CPU_QACT_Q8_0, CPU_QACT_Q8_1, CPU_QACT_Q8_K,
    CPU_QACT_COUNT
};
extern const enum eng_type cpu_qact_types[CPU_QACT_COUNT]; /* the type of each slot */

/* The slot of activation type vec_type; asserts that it has one. */
int cpu_qact_slot(enum eng_type vec_type);

/* Bytes needed to quantize n_tok rows of n_in floats to vec_type. */
size_t cpu_qact_bytes(enum eng_type vec_type, int n_in, int n_tok);

/* Quantize x[n_tok][n_in] into q (q->data must hold cpu_qact_bytes()), one
 * task per token row. */
void cpu_qact_fill(struct threadpool *pool, struct cpu_qact *q, enum eng_type vec_type,
                   const float *x, int n_in, int n_tok);

/* One product: y[t][r] = dot(w row r, x row t) + bias[r], for r < w->n_out. */
struct cpu_matmul {
    const struct cpu_matrix *w;
    const struct cpu_qact *x;
    float *y;          /* [n_tok][y_stride] */
    int y_stride;
    const float *bias; /* [n_out] or NULL */
};

/* Run several independent products in one fan-out (e.g. Q, K and V). */
void cpu_matmul_run(struct threadpool *pool, const struct cpu_matmul *jobs, int n_jobs);

/* y[t] = x[t] / rms(x[t]) * w, for n_tok rows of n (y may equal x). */
void cpu_rms_norm(float *y, const float *x, const float *w, int n, int n_tok, float eps);

/* Rotary embedding in place on x[n_tok][n_heads][head_dim], over the first
 * n_rot dims of each head. neox: pairs (i, i + n_rot/2); else pairs
 * (2i, 2i+1). inv_freq[n_rot/2] holds base^(-2i/n_rot) / freq_factor[i];
 * pair i of token t rotates by pos[k][t] * inv_freq[i].
 * pos: int32 [4][n_tok] position streams (t, h, w, extra).
 * sections: NULL for plain RoPE (k = 0), or M-RoPE's pairs per stream
 * (Qwen2-VL, NEOX pairs): with s = i % (S0+S1+S2+S3), k = 0 if s < S0, 1 if
 * s < S0+S1, 2 if s < S0+S1+S2, else 3 (ggml's rope_multi). */
void cpu_rope(float *x, int n_tok, int n_heads, int head_dim, int n_rot, const float *inv_freq,
              const int32_t *pos, const int *sections, bool neox);

/* a[i] = silu(a[i]) * b[i] over n_rows rows of row_len (one task per row). */
void cpu_silu_mul(struct threadpool *pool, float *a, const float *b, int n_rows, size_t row_len);

/* Softmax of row[0..n) * scale in place: exp((row[j] - max) * scale), then
 * scaled so that the row sums to 1. */
void cpu_softmax_row(float *row, int n, float scale);

/* y[i] += x[i]. */
void cpu_add(float *y, const float *x, size_t n);

/* Causal attention for n_tok new tokens at positions pos0..pos0+n_tok-1,
 * over a cache holding positions 0..pos0+n_tok-1. */
struct cpu_attention {
    const float *q;       /* [n_tok][n_head * head_dim] */
    const float *k_cache; /* [n_ctx][n_head_kv * head_dim] of this layer */
    const float *v_cache; /* [n_ctx][n_head_kv * head_dim] of this layer */
    float *out;           /* [n_tok][n_head * head_dim] */
    int n_tok, pos0;
    int n_head, n_head_kv, head_dim;
    float scale;          /* 1/sqrt(head_dim) */
    float *scores;        /* scratch [nth][n_head / n_head_kv][n_ctx] */
    int n_ctx;
};
void cpu_attention_run(struct threadpool *pool, const struct cpu_attention *a);

#endif /* WENSHU_CPU_OPS_H */
