/* vk-ops.h: the model ops on the Vulkan device (private to the engine).
 *
 * Each op records one or a few dispatches into the context's current batch
 * (between vk_cmd_begin() and vk_cmd_submit()); nothing runs until the
 * submit. Activations are f32, row-major, one row per token. Weights stay in
 * their GGUF block format and the shaders dequantize them on the fly. The
 * KV cache is f16.
 *
 * Views passed in follow vk.h's rules (aligned offsets, ranges that fit one
 * binding); offsets inside a view are given in elements where an op needs
 * them. In-place use (y == x) is allowed where a comment says so.
 *
 * Thread-safety: as vk.h: one thread per context.
 */
#ifndef WENSHU_VK_OPS_H
#define WENSHU_VK_OPS_H

#include "../quant.h"
#include "vk.h"

/* ---- weights -------------------------------------------------------------- */

/* A weight matrix on the device: n_out rows of n_in elements (ggml ne =
 * [n_in, n_out]) in GGUF block format. A matrix larger than one binding is
 * split by rows into parts; each part is one view holding rows
 * row0..row0+n_rows-1 back to back (row_bytes each). The shaders read
 * weights in 16-byte units: a part's view offset must be a multiple of 16,
 * and its range rounded up to 16 must still fit the buffer and one binding
 * (the bytes past the last row are read, never used). */
struct vk_matrix_part {
    struct vk_view view;
    int row0, n_rows;
};
struct vk_matrix {
    enum eng_type type;
    int n_in, n_out;
    uint64_t row_bytes;
    int n_parts;
    struct vk_matrix_part *parts; /* [n_parts], owned by whoever made the matrix */
};

/* Whether the shaders can read weights of this type (the 12 types of
 * quant.h that have a dequantizer: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
 * Q8_0, Q4_K, Q5_K, Q6_K, IQ4_NL). */
bool vk_type_supported(enum eng_type type);

/* y[t][r] = sum_k W[r][k] * x[t][k] (+ bias[r]) (+ y[t][r] when accumulate),
 * for t < n_tok, r < w->n_out. Uses the matrix-vector shader for small
 * n_tok and the tiled matrix-matrix shader otherwise; one dispatch per part.
 * x and y must not overlap. */
struct vk_mul_mat_args {
    const struct vk_matrix *w;
    struct vk_view x;       /* f32 [n_tok][x_stride], x_stride >= w->n_in */
    int x_stride;
    struct vk_view y;       /* f32 [n_tok][y_stride], y_stride >= w->n_out */
    int y_stride;
    int n_tok;
    const struct vk_view *bias; /* f32 [w->n_out], or NULL */
    bool accumulate;        /* y += W x (the residual add, fused) */
};
void vk_op_mul_mat(struct vk_ctx *ctx, const struct vk_mul_mat_args *a);

/* The token count from which vk_op_mul_mat() uses the tiled shader. */
#define VK_MUL_MAT_MIN_TILED_TOKENS 8

/* The fused SwiGLU of a decode step:
 *   y[t][r] = silu(gate[r] . x[t]) * (up[r] . x[t]),  silu(g) = g / (1 + exp(-g)),
 * for t < n_tok, r < gate->n_out; one dispatch per part (mul_mat_vec.comp
 * with GLU). x: f32 [n_tok][x_stride], x_stride >= n_in; y: f32
 * [n_tok][y_stride], y_stride >= n_out; x and y must not overlap. Needs
 * vk_mul_mat_glu_ok(): gate and up of the same type, n_in and n_out,
 * split into the same parts (row0 and n_rows each), and
 * n_tok < VK_MUL_MAT_MIN_TILED_TOKENS; otherwise use two vk_op_mul_mat()
 * and vk_op_silu_mul(). */
bool vk_mul_mat_glu_ok(const struct vk_matrix *gate, const struct vk_matrix *up, int n_tok);
void vk_op_mul_mat_glu(struct vk_ctx *ctx, const struct vk_matrix *gate,
                       const struct vk_matrix *up, struct vk_view x, int x_stride,
                       struct vk_view y, int y_stride, int n_tok);

/* Embedding row fetch: y[i] = dequantized row ids[i] of w, for i < n.
 * ids: int32 [n]; y: f32 [n][w->n_in]. One dispatch per part. */
void vk_op_get_rows(struct vk_ctx *ctx, const struct vk_matrix *w, struct vk_view ids, int n,
                    struct vk_view y);

/* ---- norms ---------------------------------------------------------------- */

/* y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w, for n_rows rows of n
 * (w: f32 [n], the fused scale; y may equal x). */
void vk_op_rms_norm(struct vk_ctx *ctx, struct vk_view x, struct vk_view y, struct vk_view w,
                    int n, int n_rows, float eps);
/* y[r] = (x[r] - mean) / sqrt(var + eps) * w + b (biased variance, as
 * torch.nn.LayerNorm); w, b: f32 [n]; y may equal x. */
void vk_op_layer_norm(struct vk_ctx *ctx, struct vk_view x, struct vk_view y, struct vk_view w,
                      struct vk_view b, int n, int n_rows, float eps);

/* ---- rotary embeddings ------------------------------------------------------ */

enum vk_rope_mode {
    VK_ROPE_NORM,   /* adjacent pairs (2i, 2i+1): llama */
    VK_ROPE_NEOX,   /* pairs (i, i + n_rot/2): qwen2, qwen3 */
    VK_ROPE_MROPE,  /* NEOX pairs; pair i takes its position from the section
                     * it falls in (t, h, w; Qwen2-VL's mrope_section): with
                     * s = i % sum(sections), pos row 0 if s < S0, row 1 if
                     * s < S0+S1, row 2 if s < S0+S1+S2, else row 3 (as
                     * ggml's rope_multi; HF has sum(sections) = n_rot/2) */
    VK_ROPE_VISION, /* Qwen2-VL vision 2D: NEOX pairs over n_rot (usually the
                     * whole head, n_rot % 4 == 0); pairs i < n_rot/4 rotate
                     * by pos row 1 (h) times inv_freq[i], the others by pos
                     * row 2 (w) times inv_freq[i - n_rot/4]; inv_freq is
                     * the vision table f32 [n_rot/4], theta^(-2j/(n_rot/2))
                     * (HF VisionRotaryEmbedding(head_dim/2)); no sections */
};

/* Rotate x in place: f32 [n_tok][n_heads][head_dim], over the first n_rot
 * dims of each head. inv_freq: f32 [n_rot / 2], theta_i = pos * inv_freq[i]
 * (VISION: f32 [n_rot / 4], see VK_ROPE_VISION).
 * NORM/NEOX: token t has position pos0 + t.
 * MROPE/VISION: positions come from pos, int32 [4][n_tok] (t, h, w, extra
 * rows), and sections[] gives the pairs per section.
 *
 * Fused KV write: when k_cache.buf is set, x holds the new keys; the
 * rotated keys go to k_cache row cache_pos0 + t as f16, v (f32
 * [n_tok][n_heads * head_dim]) goes to v_cache likewise, and x itself is
 * left as it was. k_cache, v_cache: f16 [n_ctx][n_heads * head_dim]. */
struct vk_rope_args {
    enum vk_rope_mode mode;
    struct vk_view x;
    int n_tok, n_heads, head_dim, n_rot;
    struct vk_view inv_freq;
    int pos0;
    struct vk_view pos;
    int sections[4];
    struct vk_view v, k_cache, v_cache;
    int cache_pos0;
};
void vk_op_rope(struct vk_ctx *ctx, const struct vk_rope_args *a);

/* ---- attention -------------------------------------------------------------- */

/* Causal attention of n_tok queries at positions pos0..pos0+n_tok-1 over a
 * cache holding positions 0..pos0+n_tok-1, with GQA (head h reads KV head
 * h / (n_head / n_head_kv)) and an online softmax.
 * q, out: f32 [n_tok][n_head][head_dim]; k_cache, v_cache: f16
 * [n_ctx][n_head_kv][head_dim] of one layer. head_dim: a multiple of 4,
 * at most 256. */
struct vk_attention_args {
    struct vk_view q, k_cache, v_cache, out;
    int n_tok, pos0;
    int n_head, n_head_kv, head_dim;
    float scale; /* usually 1/sqrt(head_dim) */
};
void vk_op_attention(struct vk_ctx *ctx, const struct vk_attention_args *a);

/* ---- element-wise ------------------------------------------------------------ */

/* y[r] = softmax(x[r] * scale) for n_rows rows of n (y may equal x). */
void vk_op_softmax(struct vk_ctx *ctx, struct vk_view x, struct vk_view y, int n, int n_rows,
                   float scale);

enum vk_unary {
    VK_UNARY_SILU,       /* x * sigmoid(x) */
    VK_UNARY_GELU,       /* tanh approximation, as ggml_gelu / HF gelu_pytorch_tanh */
    VK_UNARY_GELU_QUICK, /* x * sigmoid(1.702 x) */
};
/* y[i] = op(x[i]) for i < n (y may equal x). */
void vk_op_unary(struct vk_ctx *ctx, enum vk_unary op, struct vk_view x, struct vk_view y,
                 uint32_t n);
/* y[i] = silu(a[i]) * b[i] for i < n (the fused SwiGLU; y may equal a). */
void vk_op_silu_mul(struct vk_ctx *ctx, struct vk_view a, struct vk_view b, struct vk_view y,
                    uint32_t n);

/* y[i] = a[i] + b[i % b_len], y[i] = a[i] * b[i % b_len] (b broadcast over
 * rows, e.g. a bias), and y[i] = a[i] * s; for i < n (y may equal a). */
void vk_op_add(struct vk_ctx *ctx, struct vk_view a, struct vk_view b, struct vk_view y,
               uint32_t n, uint32_t b_len);
void vk_op_mul(struct vk_ctx *ctx, struct vk_view a, struct vk_view b, struct vk_view y,
               uint32_t n, uint32_t b_len);
void vk_op_scale(struct vk_ctx *ctx, struct vk_view a, struct vk_view y, uint32_t n, float s);

/* Copy and convert n elements: dst[dst_off + i] = src[src_off + i], types
 * F32 or F16 on either side (offsets in elements). */
void vk_op_copy(struct vk_ctx *ctx, struct vk_view src, enum eng_type src_type, uint32_t src_off,
                struct vk_view dst, enum eng_type dst_type, uint32_t dst_off, uint32_t n);

/* ---- vision encoder ops --------------------------------------------------------- */

/* y[i] = 0.5 x[i] (1 + erf(x[i] / sqrt(2))), the exact GELU (torch's
 * nn.GELU() default; Qwen2-VL's merger), for i < n (y may equal x). */
void vk_op_gelu_erf(struct vk_ctx *ctx, struct vk_view x, struct vk_view y, uint32_t n);

/* Query rows per tile of vk_op_attention_seg(): one workgroup each. */
#define VK_ATTENTION_SEG_ROWS 64

/* Cut segments into the tiles vk_op_attention_seg() runs: segment s holds
 * tokens bounds[s] .. bounds[s + 1] - 1 (bounds: int32 [n_seg + 1],
 * non-decreasing, like HF's cu_seqlens; empty segments are skipped). Each
 * tile is int32 {q_begin, q_end, k_begin, k_end} with at most
 * VK_ATTENTION_SEG_ROWS queries. tiles may be NULL to count. Returns the
 * number of tiles. Thread-safety: safe (pure). */
int vk_attention_seg_tiles(const int32_t *bounds, int n_seg, int32_t *tiles);

/* Non-causal attention within segments: for each tile and head h, rows
 * t in [q_begin, q_end) get
 *   out[t][h] = sum_j softmax_j(scale * q[t][h] . k[j][h]) v[j][h]
 * over j in [k_begin, k_end), with an online softmax.
 * q, k, v, out: f32 [n_tok][stride], head h at columns h * head_dim ..;
 * out must not overlap q, k or v. tiles: int32 [n_tiles][4] from
 * vk_attention_seg_tiles(). head_dim: a multiple of 4, at most 128;
 * stride: a multiple of 4, >= n_head * head_dim. */
struct vk_attention_seg_args {
    struct vk_view q, k, v, out, tiles;
    int n_tiles, n_head, head_dim, stride;
    float scale; /* usually 1/sqrt(head_dim) */
};
void vk_op_attention_seg(struct vk_ctx *ctx, const struct vk_attention_seg_args *a);

#endif /* WENSHU_VK_OPS_H */
