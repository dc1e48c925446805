/* vk-vision.c: the vision encoders on Vulkan (see vk-vision.h). The
 * projector's weights go into a few device chunks at load; one encode
 * uploads the pixels (patches gathered or reordered on the host), records
 * the whole ViT, the merger or connector into one command buffer, submits
 * it and downloads the rows (in several submits of whole temporal groups
 * or images when the activations would exceed one binding; and submits of
 * whole layers while a progress callback follows the encode). The pass
 * mirrors vision.h's CPU encoders op for op.
 *
 * Host-side reorders keep the device work to plain row-wise ops:
 *  - Qwen: the two temporal kernel slices become one matrix of rows
 *    [c][f][py][px] (the pixel row's layout), so the patch embed is one
 *    matmul.
 *  - Qwen2.5-VL: the merge units are uploaded in HF's window order
 *    (get_window_index), so a window is a run of rows; the output rows are
 *    put back in the original order on download (HF's reverse_indices).
 *  - Idefics3: the stride-ps convolution is a matmul over patches gathered
 *    into rows [c][py][px]; the pixel shuffle is a row gather (get_rows
 *    over the activations as an f32 matrix).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine-internal.h"
#include "../quant.h"
#include "vk-ops.h"
#include "vk-pack.h"
#include "vk-vision.h"

/* One ViT block's weights on the device. Optional vectors have .buf == NULL. */
struct vk_vision_layer {
    struct vk_view ln1_w, ln1_b, ln2_w, ln2_b;  /* f32 [n_embd]; _b absent for RMSNorm */
    struct vk_view bq, bk, bv, bo;              /* f32 [n_embd] */
    struct vk_view ffn_up_b, ffn_gate_b;        /* f32 [n_ff] */
    struct vk_view ffn_down_b;                  /* f32 [n_embd] */
    struct vk_matrix wq, wk, wv, wo, ffn_up, ffn_gate, ffn_down; /* ffn_gate: SiLU MLP only */
};

struct vk_vision {
    const struct mmproj *p;
    struct vk_ctx *ctx;
    pthread_mutex_t lock;        /* one encode at a time on the context */
    struct vk_weights weights;   /* device-local weight memory, every matrix's parts */
    struct vk_matrix patch;      /* Qwen: n_embd rows of [3][2][ps][ps];
                                  * Idefics3: n_embd rows of [3][ps][ps] */
    struct vk_view patch_bias;   /* f32 [n_embd], Idefics3 */
    struct vk_view position;     /* f32 [n_pos][n_embd], Idefics3 */
    struct vk_view rope_inv_freq;/* f32 [head_dim / 4], Qwen */
    struct vk_view post_ln_w, post_ln_b; /* f32 [n_embd] */
    struct vk_matrix mm0, mm2;   /* Qwen merger */
    struct vk_view mm0_b, mm2_b; /* f32 [n_embd * m * m], [projection_dim] */
    struct vk_matrix mm_fc;      /* Idefics3 connector */
    struct vk_vision_layer *layers; /* [n_layer] */
};

/* Host copies made only for the upload: freed once the weights are on the device. */
struct host_weights {
    struct cpu_matrix patch;  /* Qwen: the combined kernel; else = p->patch_embd */
    uint8_t *patch_data;      /* owned data of the combined kernel, or NULL */
    float *position;          /* f32 [n_pos][n_embd] (Idefics3), or NULL */
    float *inv_freq;          /* f32 [head_dim / 4] (Qwen), or NULL */
};

/* ---- weight placement ----------------------------------------------------- */

/* What the walk over the projector's weights reads and fills in. */
struct projector_walk {
    struct vk_vision *vv;
    const struct host_weights *hw;
};

/* The whole walk over the projector's weights (a vk_pack_walk_fn on a
 * projector_walk). */
static void pack_projector(struct vk_packer *pk, void *user_data)
{
    const struct projector_walk *walk = user_data;
    struct vk_vision *vv = walk->vv;
    const struct host_weights *hw = walk->hw;
    const struct mmproj *p = vv->p;
    int m2 = p->merge_size * p->merge_size;
    vk_pack_matrix(pk, &hw->patch, &vv->patch);
    vv->patch_bias = vk_pack_vector(pk, p->patch_bias, p->n_embd);
    if (hw->position)
        vv->position = vk_pack_vector(pk, hw->position, p->n_pos * p->n_embd);
    vv->rope_inv_freq = vk_pack_vector(pk, hw->inv_freq, p->head_dim / 4);
    vv->post_ln_w = vk_pack_vector(pk, p->post_ln_w, p->n_embd);
    vv->post_ln_b = vk_pack_vector(pk, p->post_ln_b, p->n_embd);
    vk_pack_matrix(pk, &p->mm0, &vv->mm0);
    vv->mm0_b = vk_pack_vector(pk, p->mm0_b, p->n_embd * m2);
    vk_pack_matrix(pk, &p->mm2, &vv->mm2);
    vv->mm2_b = vk_pack_vector(pk, p->mm2_b, p->projection_dim);
    vk_pack_matrix(pk, &p->mm_fc, &vv->mm_fc);
    for (int il = 0; il < p->n_layer; il++) {
        const struct mmproj_layer *l = &p->layers[il];
        struct vk_vision_layer *g = &vv->layers[il];
        g->ln1_w = vk_pack_vector(pk, l->ln1_w, p->n_embd);
        g->ln1_b = vk_pack_vector(pk, l->ln1_b, p->n_embd);
        g->ln2_w = vk_pack_vector(pk, l->ln2_w, p->n_embd);
        g->ln2_b = vk_pack_vector(pk, l->ln2_b, p->n_embd);
        g->bq = vk_pack_vector(pk, l->bq, p->n_embd);
        g->bk = vk_pack_vector(pk, l->bk, p->n_embd);
        g->bv = vk_pack_vector(pk, l->bv, p->n_embd);
        g->bo = vk_pack_vector(pk, l->bo, p->n_embd);
        g->ffn_up_b = vk_pack_vector(pk, l->ffn_up_b, p->n_ff);
        g->ffn_gate_b = vk_pack_vector(pk, l->ffn_gate_b, p->n_ff);
        g->ffn_down_b = vk_pack_vector(pk, l->ffn_down_b, p->n_embd);
        vk_pack_matrix(pk, &l->wq, &g->wq);
        vk_pack_matrix(pk, &l->wk, &g->wk);
        vk_pack_matrix(pk, &l->wv, &g->wv);
        vk_pack_matrix(pk, &l->wo, &g->wo);
        vk_pack_matrix(pk, &l->ffn_up, &g->ffn_up);
        vk_pack_matrix(pk, &l->ffn_gate, &g->ffn_gate);
        vk_pack_matrix(pk, &l->ffn_down, &g->ffn_down);
    }
}

/* ---- host-side weight preparation ----------------------------------------------- */

/* Qwen's kernel as one matrix: row r is [c][f][py][px], f = 0 from
 * patch_embd and f = 1 from patch_embd_1 (each [c][py][px]), so it takes
 * the pixel row ([c][f][py][px]) as it is. Float types only (one element
 * per block), as mmproj_load() guarantees for the kernel. */
static enum eng_status combine_qwen_kernel(const struct mmproj *p, struct host_weights *hw,
                                           struct eng_err *err)
{
    const struct cpu_matrix *w0 = &p->patch_embd, *w1 = &p->patch_embd_1;
    ENG_ASSERT(quant_traits(w0->type)->blck == 1 && w0->type == w1->type);
    size_t elem = quant_traits(w0->type)->type_size;
    size_t slice = (size_t)p->patch_size * p->patch_size * elem; /* bytes of one [py][px] */
    ENG_ASSERT(w0->row_bytes == 3 * slice && w1->row_bytes == 3 * slice);
    size_t row_bytes = 2 * w0->row_bytes;
    hw->patch_data = malloc(row_bytes * (size_t)w0->n_out);
    if (!hw->patch_data)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    for (int r = 0; r < w0->n_out; r++) {
        uint8_t *dst = hw->patch_data + (size_t)r * row_bytes;
        for (int c = 0; c < 3; c++) {
            memcpy(dst + (2 * c) * slice, w0->data + (size_t)r * w0->row_bytes + c * slice, slice);
            memcpy(dst + (2 * c + 1) * slice, w1->data + (size_t)r * w1->row_bytes + c * slice,
                   slice);
        }
    }
    hw->patch = (struct cpu_matrix){.type = w0->type, .data = hw->patch_data,
                                    .n_in = 2 * w0->n_in, .n_out = w0->n_out,
                                    .row_bytes = row_bytes};
    return ENG_STATUS_OK;
}

static enum eng_status prepare_host_weights(const struct mmproj *p, struct host_weights *hw,
                                            struct eng_err *err)
{
    *hw = (struct host_weights){.patch = p->patch_embd};
    if (p->type == MMPROJ_TYPE_IDEFICS3) {
        const struct cpu_matrix *pe = &p->position_embd;
        hw->position = malloc(sizeof(float) * (size_t)pe->n_out * pe->n_in);
        if (!hw->position)
            return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
        for (int r = 0; r < pe->n_out; r++)
            quant_dequantize_row(pe->type, pe->data + (size_t)r * pe->row_bytes,
                                 hw->position + (size_t)r * pe->n_in, pe->n_in);
        return ENG_STATUS_OK;
    }
    /* Qwen: HF VisionRotaryEmbedding(head_dim / 2, theta 10000). */
    int n_freq = p->head_dim / 4;
    hw->inv_freq = malloc(sizeof(float) * (size_t)n_freq);
    if (!hw->inv_freq)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    for (int j = 0; j < n_freq; j++)
        hw->inv_freq[j] = (float)(1.0 / pow(10000.0, (2.0 * j) / (p->head_dim / 2.0)));
    return combine_qwen_kernel(p, hw, err);
}

static void free_host_weights(struct host_weights *hw)
{
    free(hw->patch_data);
    free(hw->position);
    free(hw->inv_freq);
}

/* Refuse a weight type the shaders cannot read, naming it. */
static enum eng_status check_types(const struct mmproj *p, struct eng_err *err)
{
    const struct cpu_matrix *top[] = {&p->patch_embd, &p->patch_embd_1, &p->mm0, &p->mm2,
                                      &p->mm_fc};
    for (int i = 0; i < 5 + 7 * p->n_layer; i++) {
        const struct cpu_matrix *w;
        if (i < 5) {
            w = top[i];
        } else {
            const struct mmproj_layer *l = &p->layers[(i - 5) / 7];
            const struct cpu_matrix *lm[] = {&l->wq, &l->wk, &l->wv, &l->wo,
                                             &l->ffn_up, &l->ffn_gate, &l->ffn_down};
            w = lm[(i - 5) % 7];
        }
        if (w->data && !vk_type_supported(w->type))
            return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                               "%s: the Vulkan shaders cannot read %s weights", p->gguf->path,
                               quant_traits(w->type)->name);
    }
    if (p->head_dim % 4 != 0 || p->head_dim > 128)
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                           "%s: the Vulkan vision attention needs a head size that is a multiple "
                           "of 4 and at most 128, not %d", p->gguf->path, p->head_dim);
    return ENG_STATUS_OK;
}

enum eng_status vk_vision_new(const struct mmproj *p, int device_index, struct vk_vision **out,
                              struct eng_err *err)
{
    *out = NULL;
    enum eng_status st = check_types(p, err);
    if (st)
        return st;
    struct vk_vision *vv = calloc(1, sizeof *vv);
    if (!vv)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    vv->p = p;
    pthread_mutex_init(&vv->lock, NULL);
    struct host_weights hw = {0};
    vv->layers = calloc((size_t)p->n_layer, sizeof *vv->layers);
    if (!vv->layers) {
        st = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = vk_ctx_new(device_index, &vv->ctx, err)))
        goto fail;
    if ((st = prepare_host_weights(p, &hw, err)))
        goto fail;
    struct projector_walk walk = {.vv = vv, .hw = &hw};
    /* patch, mm0, mm2, mm_fc; 7 a layer */
    if ((st = vk_pack_weights(vv->ctx, p->gguf->size, 4 + 7 * p->n_layer, pack_projector, &walk,
                              NULL,
                              &vv->weights, err)))
        goto fail;
    free_host_weights(&hw);
    *out = vv;
    return ENG_STATUS_OK;
fail:
    free_host_weights(&hw);
    vk_vision_free(&vv);
    return st;
}

void vk_vision_free(struct vk_vision **pvv)
{
    struct vk_vision *vv = pvv ? *pvv : NULL;
    if (!vv)
        return;
    vk_weights_free(vv->ctx, &vv->weights);
    vk_ctx_free(&vv->ctx);
    free(vv->layers);
    pthread_mutex_destroy(&vv->lock);
    free(vv);
    *pvv = NULL;
}

const char *vk_vision_device_name(const struct vk_vision *vv) { return vk_ctx_desc(vv->ctx)->name; }
uint64_t vk_vision_device_bytes(const struct vk_vision *vv) { return vv->weights.bytes; }

/* ---- one encode: buffers ---------------------------------------------------------- */

/* The device buffers of one encode, made for its token count and freed after. */
struct encode_bufs {
    int n_tok;            /* patches (ViT tokens) */
    struct vk_buf pix;    /* f32 [n_tok][patch_in] patch rows */
    struct vk_buf x;      /* f32 [n_tok][n_embd] the residual stream */
    struct vk_buf xn;     /* f32 [n_tok][n_embd] normed input of a block; the merger's input */
    struct vk_buf q, k, v;/* f32 [n_tok][n_embd] */
    struct vk_buf attn;   /* f32 [n_tok][n_embd] attention output */
    struct vk_buf ff;     /* f32 [n_tok][n_ff] MLP hidden (gate for SiLU) */
    struct vk_buf ff_up;  /* f32 [n_tok][n_ff] SiLU MLP's up product, else unused (16 bytes) */
    struct vk_buf merged; /* f32 [n_out][n_embd * m * m]: merger hidden or shuffled rows */
    struct vk_buf out;    /* f32 [n_out][projection_dim] */
    struct vk_buf pos;    /* int32 [4][n_tok] RoPE positions (Qwen), else unused */
    struct vk_buf tiles_full, tiles_window; /* int32 [n_tiles][4] attention tiles */
    struct vk_buf ids;    /* int32 [n_tok] pixel-shuffle gather ids (Idefics3), else unused */
    int n_tiles_full, n_tiles_window;
};

static void encode_bufs_free(struct vk_ctx *ctx, struct encode_bufs *b)
{
    struct vk_buf *all[] = {&b->pix, &b->x, &b->xn, &b->q, &b->k, &b->v, &b->attn, &b->ff,
                            &b->ff_up, &b->merged, &b->out, &b->pos, &b->tiles_full,
                            &b->tiles_window, &b->ids};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        vk_buf_free(ctx, all[i]);
}

/* Allocate every buffer of an encode of n_tok patches into n_out rows; a
 * buffer over one binding is refused with ENG_STATUS_ERR_ARG. */
static enum eng_status encode_bufs_new(struct vk_vision *vv, int n_tok, int patch_in, int n_out,
                                       int n_tiles_full, int n_tiles_window,
                                       struct encode_bufs *b, struct eng_err *err)
{
    const struct mmproj *p = vv->p;
    const uint64_t f = sizeof(float), nt = (uint64_t)n_tok;
    const bool gated = p->ffn_op == MMPROJ_FFN_SILU, qwen = p->type != MMPROJ_TYPE_IDEFICS3;
    *b = (struct encode_bufs){.n_tok = n_tok, .n_tiles_full = n_tiles_full,
                              .n_tiles_window = n_tiles_window};
    /* One workgroup a tile: the grid's x dimension holds at most 65535. */
    if (n_tiles_full > 65535 || n_tiles_window > 65535)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "%d vision patches are too many for one "
                           "Vulkan attention dispatch; use a smaller image", n_tok);
    struct { struct vk_buf *buf; uint64_t bytes; } plan[] = {
        {&b->pix, nt * patch_in * f},
        {&b->x, nt * p->n_embd * f},
        {&b->xn, nt * p->n_embd * f},
        {&b->q, nt * p->n_embd * f},
        {&b->k, nt * p->n_embd * f},
        {&b->v, nt * p->n_embd * f},
        {&b->attn, nt * p->n_embd * f},
        {&b->ff, nt * p->n_ff * f},
        {&b->ff_up, gated ? nt * p->n_ff * f : 16},
        {&b->merged, nt * p->n_embd * f},
        {&b->out, (uint64_t)n_out * p->projection_dim * f},
        {&b->pos, qwen ? 4 * nt * sizeof(int32_t) : 16},
        {&b->tiles_full, 16 * (uint64_t)(n_tiles_full > 0 ? n_tiles_full : 1)},
        {&b->tiles_window, 16 * (uint64_t)(n_tiles_window > 0 ? n_tiles_window : 1)},
        {&b->ids, qwen ? 16 : nt * sizeof(int32_t)},
    };
    enum eng_status st = ENG_STATUS_OK;
    for (size_t i = 0; i < sizeof plan / sizeof plan[0] && !st; i++) {
        uint64_t bytes = (plan[i].bytes + 15) / 16 * 16; /* views may be read in 16-byte units */
        if (bytes > vk_ctx_max_binding(vv->ctx))
            st = eng_set_err(err, ENG_STATUS_ERR_ARG,
                             "%d vision patches need a %.1f MiB buffer, over the Vulkan device's "
                             "%.1f MiB binding limit; use a smaller image", n_tok,
                             bytes / 1048576.0, vk_ctx_max_binding(vv->ctx) / 1048576.0);
        else
            st = vk_buf_new(vv->ctx, bytes, VK_MEM_DEVICE, plan[i].buf, err);
    }
    if (st)
        encode_bufs_free(vv->ctx, b);
    return st;
}

/* The view of the first n floats (or int32s) of a buffer. */
static struct vk_view floats(const struct vk_buf *b, uint64_t n)
{
    return vk_view_sub(b, 0, n * sizeof(float));
}

/* ---- one encode: recording -------------------------------------------------------- */

static void mul_mat(struct vk_ctx *ctx, const struct vk_matrix *w, const struct vk_buf *x,
                    const struct vk_buf *y, int n_tok, const struct vk_view *bias, bool accumulate)
{
    struct vk_mul_mat_args a = {
        .w = w, .x = floats(x, (uint64_t)n_tok * w->n_in), .x_stride = w->n_in,
        .y = floats(y, (uint64_t)n_tok * w->n_out), .y_stride = w->n_out, .n_tok = n_tok,
        .bias = bias && bias->buf ? bias : NULL, .accumulate = accumulate};
    vk_op_mul_mat(ctx, &a);
}

/* y = norm(x) over n_rows rows of n_embd: LayerNorm or RMSNorm as the projector says. */
static void norm(struct vk_vision *vv, const struct vk_buf *x, const struct vk_buf *y,
                 struct vk_view w, struct vk_view b, int n_rows)
{
    const struct mmproj *p = vv->p;
    uint64_t n = (uint64_t)n_rows * p->n_embd;
    if (p->norm == MMPROJ_NORM_RMS)
        vk_op_rms_norm(vv->ctx, floats(x, n), floats(y, n), w, p->n_embd, n_rows, p->eps);
    else
        vk_op_layer_norm(vv->ctx, floats(x, n), floats(y, n), w, b, p->n_embd, n_rows, p->eps);
}

/* x += wo(attention(q, k, v)) of layer il, q/k/v from norm1(x); Qwen
 * rotates q and k by the 2D vision RoPE. */
static void record_attention(struct vk_vision *vv, struct encode_bufs *b, int il, bool windowed)
{
    const struct mmproj *p = vv->p;
    const struct vk_vision_layer *l = &vv->layers[il];
    struct vk_ctx *ctx = vv->ctx;
    const int n = b->n_tok;
    const uint64_t all = (uint64_t)n * p->n_embd;
    norm(vv, &b->x, &b->xn, l->ln1_w, l->ln1_b, n);
    mul_mat(ctx, &l->wq, &b->xn, &b->q, n, &l->bq, false);
    mul_mat(ctx, &l->wk, &b->xn, &b->k, n, &l->bk, false);
    mul_mat(ctx, &l->wv, &b->xn, &b->v, n, &l->bv, false);
    if (p->type != MMPROJ_TYPE_IDEFICS3) {
        const struct vk_buf *qk[2] = {&b->q, &b->k};
        for (int i = 0; i < 2; i++) {
            struct vk_rope_args r = {.mode = VK_ROPE_VISION, .x = floats(qk[i], all), .n_tok = n,
                                     .n_heads = p->n_head, .head_dim = p->head_dim,
                                     .n_rot = p->head_dim, .inv_freq = vv->rope_inv_freq,
                                     .pos = vk_view_sub(&b->pos, 0, 16 * (uint64_t)n)};
            vk_op_rope(ctx, &r);
        }
    }
    const struct vk_buf *tiles = windowed ? &b->tiles_window : &b->tiles_full;
    int n_tiles = windowed ? b->n_tiles_window : b->n_tiles_full;
    struct vk_attention_seg_args a = {
        .q = floats(&b->q, all), .k = floats(&b->k, all), .v = floats(&b->v, all),
        .out = floats(&b->attn, all), .tiles = vk_view_sub(tiles, 0, 16 * (uint64_t)n_tiles),
        .n_tiles = n_tiles, .n_head = p->n_head, .head_dim = p->head_dim,
        .stride = p->n_embd, .scale = 1.0f / sqrtf((float)p->head_dim)};
    vk_op_attention_seg(ctx, &a);
    mul_mat(ctx, &l->wo, &b->attn, &b->x, n, &l->bo, true);
}

/* x += mlp(norm2(x)) of layer il. */
static void record_mlp(struct vk_vision *vv, struct encode_bufs *b, int il)
{
    const struct mmproj *p = vv->p;
    const struct vk_vision_layer *l = &vv->layers[il];
    struct vk_ctx *ctx = vv->ctx;
    const int n = b->n_tok;
    const uint64_t ff_all = (uint64_t)n * p->n_ff;
    norm(vv, &b->x, &b->xn, l->ln2_w, l->ln2_b, n);
    if (p->ffn_op == MMPROJ_FFN_SILU) {
        mul_mat(ctx, &l->ffn_gate, &b->xn, &b->ff, n, &l->ffn_gate_b, false);
        mul_mat(ctx, &l->ffn_up, &b->xn, &b->ff_up, n, &l->ffn_up_b, false);
        vk_op_silu_mul(ctx, floats(&b->ff, ff_all), floats(&b->ff_up, ff_all),
                       floats(&b->ff, ff_all), (uint32_t)ff_all);
    } else {
        mul_mat(ctx, &l->ffn_up, &b->xn, &b->ff, n, &l->ffn_up_b, false);
        enum vk_unary op = p->ffn_op == MMPROJ_FFN_GELU ? VK_UNARY_GELU : VK_UNARY_GELU_QUICK;
        vk_op_unary(ctx, op, floats(&b->ff, ff_all), floats(&b->ff, ff_all), (uint32_t)ff_all);
    }
    mul_mat(ctx, &l->ffn_down, &b->ff, &b->x, n, &l->ffn_down_b, true);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A followed encode splits its pass into submits of whole layers, so the
 * report after each comes when the device has run them. A submit and its
 * wait cost tens of microseconds on a GPU: layers are grouped until a
 * submit runs at least this long, keeping that cost under about 1%. */
#define FOLLOWED_SUBMIT_SECONDS 0.005

/* The layers recorded since the last submit of a followed pass. */
struct layer_group {
    struct vision_progress *progress; /* NULL or without fn: one submit, no reports */
    int n_images;                     /* encoder images of the pass */
    int n_layers;                     /* layers recorded since the last submit */
    double started;                   /* when recording them began */
};

/* After an encoder layer of a followed pass: once the group holds
 * progress->vk_layers_per_submit layers (or this was the last layer), run
 * it, report its layers on the pass's images and record on. On an error
 * nothing is being recorded any more. */
static enum eng_status layer_done(struct vk_vision *vv, struct layer_group *g, bool last,
                                  struct eng_err *err)
{
    struct vision_progress *vp = g->progress;
    if (!vp || !vp->fn)
        return ENG_STATUS_OK;
    if (vp->vk_layers_per_submit < 1)
        vp->vk_layers_per_submit = 1;
    if (++g->n_layers < vp->vk_layers_per_submit && !last)
        return ENG_STATUS_OK;
    enum eng_status st = vk_cmd_submit(vv->ctx, err);
    if (st)
        return st;
    double now = now_seconds();
    if (now - g->started < FOLLOWED_SUBMIT_SECONDS && vp->vk_layers_per_submit < vv->p->n_layer)
        vp->vk_layers_per_submit *= 2;
    for (int i = 0; i < g->n_layers; i++)
        vision_progress_add(vp, g->n_images);
    g->n_layers = 0;
    g->started = now;
    vk_cmd_begin(vv->ctx);
    return ENG_STATUS_OK;
}

/* The ViT blocks; Qwen2.5-VL layers without full_attention attend within
 * windows. Errors: a followed pass's submit failed (see layer_done()). */
static enum eng_status record_blocks(struct vk_vision *vv, struct encode_bufs *b,
                                     struct vision_progress *progress, int n_images,
                                     struct eng_err *err)
{
    const struct mmproj *p = vv->p;
    struct layer_group group = {.progress = progress, .n_images = n_images,
                                .started = now_seconds()};
    enum eng_status st = ENG_STATUS_OK;
    for (int il = 0; il < p->n_layer && !st; il++) {
        bool windowed = p->type == MMPROJ_TYPE_QWEN25VL && !p->layers[il].full_attention;
        record_attention(vv, b, il, windowed);
        record_mlp(vv, b, il);
        st = layer_done(vv, &group, il == p->n_layer - 1, err);
    }
    return st;
}

/* Upload n bytes to the start of buffer dst (nothing when n is 0). */
static enum eng_status upload(struct vk_vision *vv, const struct vk_buf *dst, const void *src,
                              uint64_t n, struct eng_err *err)
{
    return n ? vk_upload(vv->ctx, dst, 0, src, n, err) : ENG_STATUS_OK;
}

/* Upload the tiles of the segments given by bounds (int32 [n_seg + 1]). */
static enum eng_status upload_tiles(struct vk_vision *vv, const struct vk_buf *dst,
                                    const int32_t *bounds, int n_seg, struct eng_err *err)
{
    int n_tiles = vk_attention_seg_tiles(bounds, n_seg, NULL);
    int32_t *tiles = malloc(16 * (size_t)(n_tiles > 0 ? n_tiles : 1));
    if (!tiles)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    vk_attention_seg_tiles(bounds, n_seg, tiles);
    enum eng_status st = upload(vv, dst, tiles, 16 * (uint64_t)n_tiles, err);
    free(tiles);
    return st;
}

/* ---- Qwen2-VL / Qwen2.5-VL ------------------------------------------------------------ */

/* HF Qwen2.5-VL get_window_index for one image or clip: order[i] is the
 * merge unit (in the input's order) that goes to place i, windows of ws x
 * ws units tiling each temporal group's merged grid from the top-left
 * (partial at the right and bottom edges), each window row by row.
 * bounds (int32 [n_win + 1]) receives the windows' patch ranges in the new
 * order (HF's cu_window_seqlens) and *n_win their count. */
static void qwen_window_order(int grid_t, int units_h, int units_w, int ws, int m2, int32_t *order,
                              int32_t *bounds, int *n_win)
{
    int at = 0, w = 0;
    bounds[0] = 0;
    for (int t = 0; t < grid_t; t++)
        for (int wy = 0; wy < units_h; wy += ws)
            for (int wx = 0; wx < units_w; wx += ws) {
                for (int uy = wy; uy < wy + ws && uy < units_h; uy++)
                    for (int ux = wx; ux < wx + ws && ux < units_w; ux++)
                        order[at++] = (t * units_h + uy) * units_w + ux;
                bounds[++w] = at * m2;
            }
    *n_win = w;
}

/* Everything a Qwen encode uploads, in the device's token order. */
struct qwen_inputs {
    int n_units;          /* merge units: n_tok / m^2 */
    int32_t *order;       /* [n_units] input unit at each place (identity without windows) */
    float *pix;           /* [n_tok][patch_dim] rows in that order */
    int32_t *pos;         /* [4][n_tok]: unused, row h, column w, unused */
    int32_t *full_bounds; /* [grid_t + 1] temporal groups */
    int32_t *win_bounds;  /* [n_units + 1] windows (Qwen2.5-VL) */
    int n_win;
};

static void qwen_inputs_free(struct qwen_inputs *in)
{
    free(in->order);
    free(in->pix);
    free(in->pos);
    free(in->full_bounds);
    free(in->win_bounds);
}

static enum eng_status qwen_inputs_make(const struct mmproj *p, const struct qwen_pixels *px,
                                        struct qwen_inputs *in, struct eng_err *err)
{
    const int m = px->merge_size, m2 = m * m;
    const int units_h = px->grid_h / m, units_w = px->grid_w / m;
    const int n_tok = px->grid_t * px->grid_h * px->grid_w;
    *in = (struct qwen_inputs){.n_units = n_tok / m2};
    in->order = malloc(sizeof(int32_t) * (size_t)in->n_units);
    in->pix = malloc(sizeof(float) * (size_t)n_tok * px->patch_dim);
    in->pos = calloc(4 * (size_t)n_tok, sizeof(int32_t));
    in->full_bounds = malloc(sizeof(int32_t) * (size_t)(px->grid_t + 1));
    in->win_bounds = malloc(sizeof(int32_t) * (size_t)(in->n_units + 1));
    if (!in->order || !in->pix || !in->pos || !in->full_bounds || !in->win_bounds) {
        qwen_inputs_free(in);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    }
    if (p->type == MMPROJ_TYPE_QWEN25VL) {
        int ws = p->window_size / p->merge_size / p->patch_size;
        qwen_window_order(px->grid_t, units_h, units_w, ws, m2, in->order, in->win_bounds,
                          &in->n_win);
    } else {
        for (int u = 0; u < in->n_units; u++)
            in->order[u] = u;
    }
    for (int t = 0; t <= px->grid_t; t++)
        in->full_bounds[t] = t * px->grid_h * px->grid_w;
    /* Rows in the new order, and each patch's place in the full grid. */
    for (int i = 0; i < n_tok; i++) {
        int src = in->order[i / m2] * m2 + i % m2;
        memcpy(in->pix + (size_t)i * px->patch_dim, px->values + (size_t)src * px->patch_dim,
               sizeof(float) * (size_t)px->patch_dim);
        int in_frame = src % (px->grid_h * px->grid_w);
        int mx = in_frame % m, my = in_frame / m % m, unit = in_frame / m2;
        in->pos[1 * n_tok + i] = unit / units_w * m + my;
        in->pos[2 * n_tok + i] = unit % units_w * m + mx;
    }
    return ENG_STATUS_OK;
}

static enum eng_status qwen_check(const struct mmproj *p, const struct qwen_pixels *px,
                                  struct eng_err *err)
{
    const char *path = p->gguf->path;
    if (px->patch_dim != 6 * p->patch_size * p->patch_size)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "%s: pixel rows of %d values, the projector "
                           "takes %d", path, px->patch_dim, 6 * p->patch_size * p->patch_size);
    if (px->merge_size != p->merge_size)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "%s: pixels merged by %d, the projector "
                           "merges by %d", path, px->merge_size, p->merge_size);
    if (px->grid_t < 1 || px->grid_h < 1 || px->grid_w < 1 || px->grid_h % p->merge_size ||
        px->grid_w % p->merge_size)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "%s: a %dx%dx%d patch grid is not a "
                           "multiple of the merge size %d", path, px->grid_t, px->grid_h,
                           px->grid_w, p->merge_size);
    if ((int64_t)px->grid_t * px->grid_h * px->grid_w > (1 << 24))
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "%s: %d x %d x %d patches are too many",
                           path, px->grid_t, px->grid_h, px->grid_w);
    if (p->type == MMPROJ_TYPE_QWEN25VL && p->window_size / p->merge_size / p->patch_size < 1)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "%s: window size %d is under one merge "
                           "unit", path, p->window_size);
    return ENG_STATUS_OK;
}

/* Record patch embed, blocks and the PatchMerger of grid_t groups.
 * Errors: as record_blocks(). */
static enum eng_status record_qwen(struct vk_vision *vv, struct encode_bufs *b, int n_units,
                                   int grid_t, struct vision_progress *progress,
                                   struct eng_err *err)
{
    struct vk_ctx *ctx = vv->ctx;
    mul_mat(ctx, &vv->patch, &b->pix, &b->x, b->n_tok, NULL, false);
    enum eng_status st = record_blocks(vv, b, progress, grid_t, err);
    if (st)
        return st;
    /* ln_q per patch; m*m consecutive rows are one merged row (a free reshape). */
    norm(vv, &b->x, &b->xn, vv->post_ln_w, vv->post_ln_b, b->n_tok);
    uint64_t hidden = (uint64_t)n_units * vv->mm0.n_out;
    mul_mat(ctx, &vv->mm0, &b->xn, &b->merged, n_units, &vv->mm0_b, false);
    vk_op_gelu_erf(ctx, floats(&b->merged, hidden), floats(&b->merged, hidden), (uint32_t)hidden);
    mul_mat(ctx, &vv->mm2, &b->merged, &b->out, n_units, &vv->mm2_b, false);
    return ENG_STATUS_OK;
}

/* Download the merged rows and put them back in the input's unit order. */
static enum eng_status qwen_download(struct vk_vision *vv, const struct encode_bufs *b,
                                     const struct qwen_inputs *in, float *out,
                                     struct eng_err *err)
{
    const size_t dim = (size_t)vv->p->projection_dim;
    float *rows = malloc(sizeof(float) * dim * (size_t)in->n_units); /* [n_units][dim] device order */
    if (!rows)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    enum eng_status st = vk_download(vv->ctx, &b->out, 0, rows,
                                     sizeof(float) * dim * (uint64_t)in->n_units, err);
    for (int i = 0; !st && i < in->n_units; i++)
        memcpy(out + (size_t)in->order[i] * dim, rows + (size_t)i * dim, sizeof(float) * dim);
    free(rows);
    return st;
}

/* One submit: the temporal groups of px (checked) into out. */
static enum eng_status encode_qwen_batch(struct vk_vision *vv, const struct qwen_pixels *px,
                                         struct vision_progress *progress, float *out,
                                         struct eng_err *err)
{
    const struct mmproj *p = vv->p;
    struct qwen_inputs in;
    enum eng_status st = qwen_inputs_make(p, px, &in, err);
    if (st)
        return st;
    const int n_tok = px->grid_t * px->grid_h * px->grid_w;
    pthread_mutex_lock(&vv->lock);
    struct encode_bufs b;
    st = encode_bufs_new(vv, n_tok, px->patch_dim, in.n_units,
                         vk_attention_seg_tiles(in.full_bounds, px->grid_t, NULL),
                         in.n_win ? vk_attention_seg_tiles(in.win_bounds, in.n_win, NULL) : 0,
                         &b, err);
    if (st)
        goto out_unlock;
    if ((st = upload(vv, &b.pix, in.pix, sizeof(float) * (uint64_t)n_tok * px->patch_dim, err)) ||
        (st = upload(vv, &b.pos, in.pos, 16 * (uint64_t)n_tok, err)) ||
        (st = upload_tiles(vv, &b.tiles_full, in.full_bounds, px->grid_t, err)) ||
        (in.n_win && (st = upload_tiles(vv, &b.tiles_window, in.win_bounds, in.n_win, err))))
        goto out_free_bufs;
    vk_cmd_begin(vv->ctx);
    if ((st = record_qwen(vv, &b, in.n_units, px->grid_t, progress, err)) ||
        (st = vk_cmd_submit(vv->ctx, err)))
        goto out_free_bufs;
    st = qwen_download(vv, &b, &in, out, err);
out_free_bufs:
    encode_bufs_free(vv->ctx, &b);
out_unlock:
    pthread_mutex_unlock(&vv->lock);
    qwen_inputs_free(&in);
    return st;
}

/* Tokens one submit may hold: every activation buffer within one binding.
 * Its widest row is the patch row, the MLP hidden, the merger's input or
 * the output, counted per token. */
static int64_t max_batch_tokens(const struct vk_vision *vv, int patch_in)
{
    const struct mmproj *p = vv->p;
    int64_t widest = patch_in;
    int64_t rows[] = {p->n_embd, p->n_ff, p->projection_dim};
    for (int i = 0; i < 3; i++)
        widest = rows[i] > widest ? rows[i] : widest;
    return (int64_t)((vk_ctx_max_binding(vv->ctx) - 16) / (sizeof(float) * (uint64_t)widest));
}

/* How many groups of group_tokens tokens fit one submit (at least 1: a
 * group too large for one binding is refused later, naming the sizes). */
static int groups_per_batch(const struct vk_vision *vv, int patch_in, int64_t group_tokens)
{
    int64_t n = max_batch_tokens(vv, patch_in) / group_tokens;
    if (n > 65535 / 2) /* also keeps the attention tiles in one grid row */
        n = 65535 / 2;
    return n < 1 ? 1 : (int)n;
}

enum eng_status vk_vision_encode_qwen(struct vk_vision *vv, const struct qwen_pixels *px,
                                      struct vision_progress *progress, float *out,
                                      struct eng_err *err)
{
    const struct mmproj *p = vv->p;
    ENG_ASSERT(p->type == MMPROJ_TYPE_QWEN2VL || p->type == MMPROJ_TYPE_QWEN25VL);
    enum eng_status st = qwen_check(p, px, err);
    if (st)
        return st;
    /* Temporal groups never attend to each other: a clip too large for one
     * binding runs as several submits of whole groups. */
    const int64_t group_tokens = (int64_t)px->grid_h * px->grid_w;
    const int64_t group_rows = group_tokens / (px->merge_size * px->merge_size);
    const int per_batch = groups_per_batch(vv, px->patch_dim, group_tokens);
    for (int t0 = 0; t0 < px->grid_t && !st; t0 += per_batch) {
        struct qwen_pixels sub = *px;
        sub.grid_t = px->grid_t - t0 < per_batch ? px->grid_t - t0 : per_batch;
        sub.values = px->values + (size_t)t0 * group_tokens * px->patch_dim;
        st = encode_qwen_batch(vv, &sub, progress,
                               out + (size_t)t0 * group_rows * p->projection_dim, err);
    }
    return st;
}

/* ---- Idefics3 / SmolVLM ------------------------------------------------------------------ */

/* Patches of each image as rows [c][py][px], patch index pr * side + pc:
 * the stride-ps convolution becomes a matmul. rows: [n_images * side^2][3 * ps * ps]. */
static void idefics3_gather_patches(const struct idefics3_pixels *px, int ps, float *rows)
{
    const int side = px->size / ps, S = px->size;
    const size_t row_len = 3 * (size_t)ps * ps;
    for (int img = 0; img < px->n_images; img++)
        for (int pr = 0; pr < side; pr++)
            for (int pc = 0; pc < side; pc++) {
                float *dst = rows + ((size_t)(img * side + pr) * side + pc) * row_len;
                for (int c = 0; c < 3; c++)
                    for (int py = 0; py < ps; py++) {
                        const float *src = px->values + (((size_t)img * 3 + c) * S +
                                                          (size_t)pr * ps + py) * S + (size_t)pc * ps;
                        memcpy(dst + ((size_t)c * ps + py) * ps, src, sizeof(float) * (size_t)ps);
                    }
            }
}

/* HF Idefics3Connector.pixel_shuffle as a row gather: output row o = (h2,
 * w2) of an image's side/s x side/s grid is s*s chunks of n_embd, chunk
 * k*s + j being patch (h2*s + k, w2*s + j). ids: int32 [n_images * side^2]. */
static void idefics3_shuffle_ids(int n_images, int side, int s, int32_t *ids)
{
    const int out_side = side / s;
    int at = 0;
    for (int img = 0; img < n_images; img++)
        for (int h2 = 0; h2 < out_side; h2++)
            for (int w2 = 0; w2 < out_side; w2++)
                for (int k = 0; k < s; k++)
                    for (int j = 0; j < s; j++)
                        ids[at++] = img * side * side + (h2 * s + k) * side + w2 * s + j;
}

static enum eng_status idefics3_check(const struct mmproj *p, const struct idefics3_pixels *px,
                                      struct eng_err *err)
{
    int ps = p->patch_size, s = p->merge_size;
    int side = px->size > 0 && px->size % ps == 0 ? px->size / ps : 0;
    if (side == 0 || side * side != p->n_pos || side % s != 0 || px->n_images < 1)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "%s: %d image(s) of side %d do not give "
                           "the projector's %d positions of %d-pixel patches in a grid that "
                           "shuffles by %d", p->gguf->path, px->n_images, px->size, p->n_pos,
                           ps, s);
    if ((int64_t)px->n_images * p->n_pos > (1 << 24))
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "%s: %d images are too many",
                           p->gguf->path, px->n_images);
    return ENG_STATUS_OK;
}

/* Record patch embed, positions, blocks, post LayerNorm, shuffle and the
 * connector of n_images images. Errors: as record_blocks(). */
static enum eng_status record_idefics3(struct vk_vision *vv, struct encode_bufs *b, int n_out,
                                       int n_images, struct vision_progress *progress,
                                       struct eng_err *err)
{
    const struct mmproj *p = vv->p;
    struct vk_ctx *ctx = vv->ctx;
    const uint64_t all = (uint64_t)b->n_tok * p->n_embd;
    mul_mat(ctx, &vv->patch, &b->pix, &b->x, b->n_tok, &vv->patch_bias, false);
    vk_op_add(ctx, floats(&b->x, all), vv->position, floats(&b->x, all), (uint32_t)all,
              (uint32_t)p->n_pos * p->n_embd);
    enum eng_status st = record_blocks(vv, b, progress, n_images, err);
    if (st)
        return st;
    norm(vv, &b->x, &b->xn, vv->post_ln_w, vv->post_ln_b, b->n_tok);
    /* The normed rows as an f32 matrix, so get_rows gathers them. */
    struct vk_matrix_part part = {.view = floats(&b->xn, all), .row0 = 0, .n_rows = b->n_tok};
    struct vk_matrix rows = {.type = ENG_TYPE_F32, .n_in = p->n_embd, .n_out = b->n_tok,
                             .row_bytes = sizeof(float) * (uint64_t)p->n_embd, .n_parts = 1,
                             .parts = &part};
    vk_op_get_rows(ctx, &rows, floats(&b->ids, (uint64_t)b->n_tok), b->n_tok,
                   floats(&b->merged, all));
    mul_mat(ctx, &vv->mm_fc, &b->merged, &b->out, n_out, NULL, false);
    return ENG_STATUS_OK;
}

/* One submit: the images of px (checked) into out. */
static enum eng_status encode_idefics3_batch(struct vk_vision *vv,
                                             const struct idefics3_pixels *px,
                                             struct vision_progress *progress, float *out,
                                             struct eng_err *err)
{
    const struct mmproj *p = vv->p;
    enum eng_status st = ENG_STATUS_OK;
    const int ps = p->patch_size, s = p->merge_size, side = px->size / ps;
    const int n_tok = px->n_images * p->n_pos, n_out = n_tok / (s * s);
    const int patch_in = 3 * ps * ps;
    float *rows = malloc(sizeof(float) * (size_t)n_tok * patch_in); /* [n_tok][patch_in] */
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n_tok);          /* [n_tok] */
    int32_t *bounds = malloc(sizeof(int32_t) * (size_t)(px->n_images + 1)); /* per image */
    if (!rows || !ids || !bounds) {
        st = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
        goto out_free_host;
    }
    idefics3_gather_patches(px, ps, rows);
    idefics3_shuffle_ids(px->n_images, side, s, ids);
    for (int i = 0; i <= px->n_images; i++)
        bounds[i] = i * p->n_pos;

    pthread_mutex_lock(&vv->lock);
    struct encode_bufs b;
    st = encode_bufs_new(vv, n_tok, patch_in, n_out,
                         vk_attention_seg_tiles(bounds, px->n_images, NULL), 0, &b, err);
    if (st)
        goto out_unlock;
    if ((st = upload(vv, &b.pix, rows, sizeof(float) * (uint64_t)n_tok * patch_in, err)) ||
        (st = upload(vv, &b.ids, ids, sizeof(int32_t) * (uint64_t)n_tok, err)) ||
        (st = upload_tiles(vv, &b.tiles_full, bounds, px->n_images, err)))
        goto out_free_bufs;
    vk_cmd_begin(vv->ctx);
    if ((st = record_idefics3(vv, &b, n_out, px->n_images, progress, err)) ||
        (st = vk_cmd_submit(vv->ctx, err)))
        goto out_free_bufs;
    st = vk_download(vv->ctx, &b.out, 0, out,
                     sizeof(float) * (uint64_t)n_out * p->projection_dim, err);
out_free_bufs:
    encode_bufs_free(vv->ctx, &b);
out_unlock:
    pthread_mutex_unlock(&vv->lock);
out_free_host:
    free(rows);
    free(ids);
    free(bounds);
    return st;
}

enum eng_status vk_vision_encode_idefics3(struct vk_vision *vv, const struct idefics3_pixels *px,
                                          struct vision_progress *progress, float *out,
                                          struct eng_err *err)
{
    const struct mmproj *p = vv->p;
    ENG_ASSERT(p->type == MMPROJ_TYPE_IDEFICS3);
    enum eng_status st = idefics3_check(p, px, err);
    if (st)
        return st;
    /* Images never attend to each other: many tiles run as several submits. */
    const int s2 = p->merge_size * p->merge_size;
    const size_t image_values = 3 * (size_t)px->size * px->size;
    const size_t image_rows = (size_t)(p->n_pos / s2);
    const int per_batch = groups_per_batch(vv, 3 * p->patch_size * p->patch_size, p->n_pos);
    for (int i0 = 0; i0 < px->n_images && !st; i0 += per_batch) {
        struct idefics3_pixels sub = *px;
        sub.n_images = px->n_images - i0 < per_batch ? px->n_images - i0 : per_batch;
        sub.values = px->values + (size_t)i0 * image_values;
        st = encode_idefics3_batch(vv, &sub, progress,
                                   out + (size_t)i0 * image_rows * p->projection_dim, err);
    }
    return st;
}
