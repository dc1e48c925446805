/* vk-model.c: weights on the device and the decoder forward pass for
 * qwen2, qwen2vl (M-RoPE), qwen3 and llama on Vulkan (see vk-model.h). The
 * pass mirrors session.c's CPU pass op for op; fused ops are noted where
 * they replace several graph ops. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../engine-internal.h"
#include "../model.h"
#include "vk-model.h"
#include "vk-ops.h"
#include "vk-pack.h"

/* One layer's weights on the device. Optional vectors have .buf == NULL. */
struct vk_layer {
    struct vk_view attn_norm, ffn_norm; /* f32 [n_embd] */
    struct vk_view bq, bk, bv;          /* f32 [q_dim], [kv_dim], [kv_dim]: qwen2 biases */
    struct vk_view q_norm, k_norm;      /* f32 [head_dim]: qwen3 per-head norms */
    struct vk_matrix wq, wk, wv, wo, ffn_gate, ffn_up, ffn_down;
};

struct vk_model {
    const struct eng_model *m;
    struct vk_ctx *ctx;
    pthread_mutex_t lock;       /* one forward pass at a time on the context */
    struct vk_weights weights;  /* device-local weight memory, every matrix's parts */
    struct vk_matrix token_embd, output;
    struct vk_view output_norm; /* f32 [n_embd] */
    struct vk_view rope_inv_freq; /* f32 [n_rot / 2] */
    struct vk_layer *layers;    /* [n_layer] */
};

/* ---- weight placement ----------------------------------------------------- */

/* The whole walk over the model's weights (a vk_pack_walk_fn on a vk_model). */
static void pack_model(struct vk_packer *p, void *user_data)
{
    struct vk_model *vm = user_data;
    const struct eng_model *m = vm->m;
    vk_pack_matrix(p, &m->token_embd, &vm->token_embd);
    if (m->output.data == m->token_embd.data)
        vm->output = vm->token_embd; /* tied: the same parts */
    else
        vk_pack_matrix(p, &m->output, &vm->output);
    vm->output_norm = vk_pack_vector(p, m->output_norm, m->n_embd);
    vm->rope_inv_freq = vk_pack_vector(p, m->rope_inv_freq, m->n_rot / 2);
    int q_dim = m->n_head * m->head_dim, kv_dim = m->n_head_kv * m->head_dim;
    for (int il = 0; il < m->n_layer; il++) {
        const struct model_layer *l = &m->layers[il];
        struct vk_layer *g = &vm->layers[il];
        g->attn_norm = vk_pack_vector(p, l->attn_norm, m->n_embd);
        g->ffn_norm = vk_pack_vector(p, l->ffn_norm, m->n_embd);
        g->bq = vk_pack_vector(p, l->bq, q_dim);
        g->bk = vk_pack_vector(p, l->bk, kv_dim);
        g->bv = vk_pack_vector(p, l->bv, kv_dim);
        g->q_norm = vk_pack_vector(p, l->q_norm, m->head_dim);
        g->k_norm = vk_pack_vector(p, l->k_norm, m->head_dim);
        vk_pack_matrix(p, &l->wq, &g->wq);
        vk_pack_matrix(p, &l->wk, &g->wk);
        vk_pack_matrix(p, &l->wv, &g->wv);
        vk_pack_matrix(p, &l->wo, &g->wo);
        vk_pack_matrix(p, &l->ffn_gate, &g->ffn_gate);
        vk_pack_matrix(p, &l->ffn_up, &g->ffn_up);
        vk_pack_matrix(p, &l->ffn_down, &g->ffn_down);
    }
}

/* Refuse a weight type the shaders cannot read, naming it. */
static enum eng_status check_type(const struct eng_model *m, const struct cpu_matrix *w,
                                  struct eng_err *err)
{
    if (vk_type_supported(w->type))
        return ENG_STATUS_OK;
    return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                       "%s: the Vulkan shaders cannot read %s weights", m->gguf->path,
                       quant_traits(w->type)->name);
}

static enum eng_status check_types(const struct eng_model *m, struct eng_err *err)
{
    enum eng_status st;
    if ((st = check_type(m, &m->token_embd, err)) || (st = check_type(m, &m->output, err)))
        return st;
    for (int il = 0; il < m->n_layer; il++) {
        const struct model_layer *l = &m->layers[il];
        const struct cpu_matrix *lm[] = {&l->wq, &l->wk, &l->wv, &l->wo,
                                         &l->ffn_gate, &l->ffn_up, &l->ffn_down};
        for (int i = 0; i < 7; i++)
            if ((st = check_type(m, lm[i], err)))
                return st;
    }
    return ENG_STATUS_OK;
}

enum eng_status vk_model_new(const struct eng_model *m, int index, eng_progress_fn progress,
                             void *progress_user_data, struct vk_model **out,
                             struct eng_err *err)
{
    *out = NULL;
    enum eng_status st = check_types(m, err);
    if (st)
        return st;
    struct vk_model *vm = calloc(1, sizeof *vm);
    if (!vm)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    vm->m = m;
    pthread_mutex_init(&vm->lock, NULL);
    vm->layers = calloc((size_t)m->n_layer, sizeof *vm->layers);
    if (!vm->layers) {
        st = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = vk_ctx_new(index, &vm->ctx, err)))
        goto fail;
    /* 2 matrices + 7 per layer, each with its own parts array. */
    struct vk_pack_progress pp = {.fn = progress, .user_data = progress_user_data};
    if ((st = vk_pack_weights(vm->ctx, m->weight_bytes, 2 + 7 * m->n_layer, pack_model, vm, &pp,
                              &vm->weights, err)))
        goto fail;
    *out = vm;
    return ENG_STATUS_OK;
fail:
    vk_model_free(&vm);
    return st;
}

void vk_model_free(struct vk_model **pvm)
{
    struct vk_model *vm = pvm ? *pvm : NULL;
    if (!vm)
        return;
    vk_weights_free(vm->ctx, &vm->weights);
    vk_ctx_free(&vm->ctx);
    free(vm->layers);
    pthread_mutex_destroy(&vm->lock);
    free(vm);
    *pvm = NULL;
}

const char *vk_model_device_name(const struct vk_model *vm) { return vk_ctx_desc(vm->ctx)->name; }
uint64_t vk_model_device_bytes(const struct vk_model *vm) { return vm->weights.bytes; }

/* ---- sessions ------------------------------------------------------------- */

int vk_model_max_batch(const struct vk_model *vm)
{
    const struct eng_model *m = vm->m;
    int widest = m->n_ff;
    if (m->n_head * m->head_dim > widest)
        widest = m->n_head * m->head_dim;
    if (m->n_embd > widest)
        widest = m->n_embd;
    uint64_t n = vk_ctx_max_binding(vm->ctx) / (sizeof(float) * (uint64_t)widest);
    return n > 4096 ? 4096 : (int)n;
}

struct vk_session {
    struct vk_model *vm;
    int n_ctx, n_batch;
    struct vk_buf *k_cache, *v_cache; /* [n_layer] each f16 [n_ctx][kv_dim] */
    struct vk_buf x;      /* f32 [n_batch][n_embd] the residual stream */
    struct vk_buf xn;     /* f32 [n_batch][n_embd] normed input of a block */
    struct vk_buf q;      /* f32 [n_batch][q_dim] */
    struct vk_buf k, v;   /* f32 [n_batch][kv_dim] new keys and values */
    struct vk_buf attn;   /* f32 [n_batch][q_dim] attention output */
    struct vk_buf gate;   /* f32 [n_batch][n_ff] */
    struct vk_buf up;     /* f32 [n_batch][n_ff] */
    struct vk_buf last;   /* f32 [n_embd] the last token's residual, then its norm */
    struct vk_buf ids;    /* host-visible int32 [n_batch] token ids */
    struct vk_buf pos;    /* host-visible int32 [4][n_batch] M-RoPE positions (qwen2vl) */
    struct vk_buf logits; /* host-visible f32 [n_vocab] */
    struct eng_session_stats stats;
};

enum eng_status vk_session_new(struct vk_model *vm, int n_ctx, int n_batch,
                               struct vk_session **out, struct eng_err *err)
{
    *out = NULL;
    const struct eng_model *m = vm->m;
    struct vk_session *s = calloc(1, sizeof *s);
    if (s) {
        s->k_cache = calloc((size_t)m->n_layer, sizeof *s->k_cache);
        s->v_cache = calloc((size_t)m->n_layer, sizeof *s->v_cache);
    }
    if (!s || !s->k_cache || !s->v_cache) {
        vk_session_free(&s);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    }
    s->vm = vm;
    s->n_ctx = n_ctx;
    s->n_batch = n_batch;
    uint64_t kv_dim = (uint64_t)m->n_head_kv * m->head_dim, q_dim = (uint64_t)m->n_head * m->head_dim;
    uint64_t nb = (uint64_t)n_batch, f = sizeof(float);
    struct { struct vk_buf *buf; uint64_t bytes; enum vk_mem kind; } plan[] = {
        {&s->x, nb * m->n_embd * f, VK_MEM_DEVICE},
        {&s->xn, nb * m->n_embd * f, VK_MEM_DEVICE},
        {&s->q, nb * q_dim * f, VK_MEM_DEVICE},
        {&s->k, nb * kv_dim * f, VK_MEM_DEVICE},
        {&s->v, nb * kv_dim * f, VK_MEM_DEVICE},
        {&s->attn, nb * q_dim * f, VK_MEM_DEVICE},
        {&s->gate, nb * m->n_ff * f, VK_MEM_DEVICE},
        {&s->up, nb * m->n_ff * f, VK_MEM_DEVICE},
        {&s->last, m->n_embd * f, VK_MEM_DEVICE},
        {&s->ids, nb * sizeof(int32_t), VK_MEM_HOST},
        {&s->pos, (m->rope_mrope ? 4 * nb : 1) * sizeof(int32_t), VK_MEM_HOST},
        {&s->logits, (uint64_t)m->n_vocab * f, VK_MEM_HOST},
    };
    struct vk_ctx *ctx = vm->ctx;
    uint64_t before = vk_ctx_allocated_bytes(ctx);
    enum eng_status st = ENG_STATUS_OK;
    for (size_t i = 0; i < sizeof plan / sizeof plan[0] && !st; i++) {
        if (plan[i].bytes > vk_ctx_max_binding(ctx))
            st = eng_set_err(err, ENG_STATUS_ERR_ARG, "a %d-token batch needs a %.1f MiB "
                             "buffer, over the device's %.1f MiB binding limit; use a smaller "
                             "batch", n_batch, plan[i].bytes / 1048576.0,
                             vk_ctx_max_binding(ctx) / 1048576.0);
        else
            st = vk_buf_new(ctx, plan[i].bytes, plan[i].kind, plan[i].buf, err);
    }
    uint64_t cache_bytes = (uint64_t)n_ctx * kv_dim * 2;
    if (!st && cache_bytes > vk_ctx_max_binding(ctx))
        st = eng_set_err(err, ENG_STATUS_ERR_ARG, "a %d-token KV cache layer needs %.1f MiB, "
                         "over the device's %.1f MiB binding limit; use a smaller context",
                         n_ctx, cache_bytes / 1048576.0, vk_ctx_max_binding(ctx) / 1048576.0);
    for (int il = 0; il < m->n_layer && !st; il++) {
        st = vk_buf_new(ctx, cache_bytes, VK_MEM_DEVICE, &s->k_cache[il], err);
        if (!st)
            st = vk_buf_new(ctx, cache_bytes, VK_MEM_DEVICE, &s->v_cache[il], err);
    }
    if (st) {
        struct eng_err inner = err ? *err : (struct eng_err){{0}};
        eng_set_err(err, st, "Vulkan device %s: the KV cache and scratch of a %d-token "
                    "context: %s", vk_ctx_desc(ctx)->name, n_ctx, inner.msg);
        vk_session_free(&s);
        return st;
    }
    s->stats.device_bytes = vk_ctx_allocated_bytes(ctx) - before;
    *out = s;
    return ENG_STATUS_OK;
}

void vk_session_free(struct vk_session **ps)
{
    struct vk_session *s = ps ? *ps : NULL;
    if (!s)
        return;
    struct vk_ctx *ctx = s->vm ? s->vm->ctx : NULL;
    if (ctx) {
        struct vk_buf *bufs[] = {&s->x, &s->xn, &s->q, &s->k, &s->v, &s->attn,
                                 &s->gate, &s->up, &s->last, &s->ids, &s->pos, &s->logits};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
            vk_buf_free(ctx, bufs[i]);
        for (int il = 0; il < s->vm->m->n_layer; il++) {
            if (s->k_cache)
                vk_buf_free(ctx, &s->k_cache[il]);
            if (s->v_cache)
                vk_buf_free(ctx, &s->v_cache[il]);
        }
    }
    free(s->k_cache);
    free(s->v_cache);
    free(s);
    *ps = NULL;
}

void vk_session_get_stats(const struct vk_session *s, struct eng_session_stats *stats)
{
    *stats = s->stats;
}

/* ---- forward pass --------------------------------------------------------- */

/* The view of the first n floats of a buffer. */
static struct vk_view floats(const struct vk_buf *b, uint64_t n)
{
    return vk_view_sub(b, 0, n * sizeof(float));
}

static void mul_mat(struct vk_ctx *ctx, const struct vk_matrix *w, const struct vk_buf *x,
                    const struct vk_buf *y, int n_tok, const struct vk_view *bias,
                    bool accumulate)
{
    struct vk_mul_mat_args a = {
        .w = w, .x = floats(x, (uint64_t)n_tok * w->n_in), .x_stride = w->n_in,
        .y = floats(y, (uint64_t)n_tok * w->n_out), .y_stride = w->n_out, .n_tok = n_tok,
        .bias = bias && bias->buf ? bias : NULL, .accumulate = accumulate};
    vk_op_mul_mat(ctx, &a);
}

/* Attention block of layer il: norm, Q/K/V, RoPE with the fused KV write,
 * attention, and the output projection added to x (fused). */
static void record_attention(struct vk_session *s, int il, int n_tok, int n_past)
{
    const struct eng_model *m = s->vm->m;
    const struct vk_layer *l = &s->vm->layers[il];
    struct vk_ctx *ctx = s->vm->ctx;
    uint64_t n_embd_all = (uint64_t)n_tok * m->n_embd;
    uint64_t q_all = (uint64_t)n_tok * m->n_head * m->head_dim;
    uint64_t kv_all = (uint64_t)n_tok * m->n_head_kv * m->head_dim;

    vk_op_rms_norm(ctx, floats(&s->x, n_embd_all), floats(&s->xn, n_embd_all), l->attn_norm,
                   m->n_embd, n_tok, m->norm_eps);
    mul_mat(ctx, &l->wq, &s->xn, &s->q, n_tok, &l->bq, false);
    mul_mat(ctx, &l->wk, &s->xn, &s->k, n_tok, &l->bk, false);
    mul_mat(ctx, &l->wv, &s->xn, &s->v, n_tok, &l->bv, false);
    if (l->q_norm.buf) {
        vk_op_rms_norm(ctx, floats(&s->q, q_all), floats(&s->q, q_all), l->q_norm, m->head_dim,
                       n_tok * m->n_head, m->norm_eps);
        vk_op_rms_norm(ctx, floats(&s->k, kv_all), floats(&s->k, kv_all), l->k_norm,
                       m->head_dim, n_tok * m->n_head_kv, m->norm_eps);
    }
    enum vk_rope_mode mode = m->rope_mrope ? VK_ROPE_MROPE
                             : m->rope_neox ? VK_ROPE_NEOX
                                            : VK_ROPE_NORM;
    /* Plain RoPE: positions are the cache rows; M-RoPE: s->pos [4][n_tok]. */
    struct vk_view pos = {0};
    if (m->rope_mrope)
        pos = vk_view_sub(&s->pos, 0, 4 * sizeof(int32_t) * (uint64_t)n_tok);
    struct vk_rope_args rq = {.mode = mode, .x = floats(&s->q, q_all), .n_tok = n_tok,
                              .n_heads = m->n_head, .head_dim = m->head_dim, .n_rot = m->n_rot,
                              .inv_freq = s->vm->rope_inv_freq, .pos0 = n_past, .pos = pos};
    memcpy(rq.sections, m->rope_sections, sizeof rq.sections);
    vk_op_rope(ctx, &rq);
    struct vk_rope_args rk = {.mode = mode, .x = floats(&s->k, kv_all), .n_tok = n_tok,
                              .n_heads = m->n_head_kv, .head_dim = m->head_dim,
                              .n_rot = m->n_rot, .inv_freq = s->vm->rope_inv_freq,
                              .pos0 = n_past, .pos = pos, .v = floats(&s->v, kv_all),
                              .k_cache = vk_view_of(&s->k_cache[il]),
                              .v_cache = vk_view_of(&s->v_cache[il]), .cache_pos0 = n_past};
    memcpy(rk.sections, m->rope_sections, sizeof rk.sections);
    vk_op_rope(ctx, &rk);
    struct vk_attention_args att = {
        .q = floats(&s->q, q_all), .k_cache = vk_view_of(&s->k_cache[il]),
        .v_cache = vk_view_of(&s->v_cache[il]), .out = floats(&s->attn, q_all),
        .n_tok = n_tok, .pos0 = n_past, .n_head = m->n_head, .n_head_kv = m->n_head_kv,
        .head_dim = m->head_dim, .scale = 1.0f / sqrtf((float)m->head_dim)};
    vk_op_attention(ctx, &att);
    mul_mat(ctx, &l->wo, &s->attn, &s->x, n_tok, NULL, true);
}

/* SwiGLU block of layer il, its output added to x (fused); for decode the
 * gate and up products and SiLU-mul are one dispatch too. */
static void record_ffn(struct vk_session *s, int il, int n_tok)
{
    const struct eng_model *m = s->vm->m;
    const struct vk_layer *l = &s->vm->layers[il];
    struct vk_ctx *ctx = s->vm->ctx;
    uint64_t n_embd_all = (uint64_t)n_tok * m->n_embd, n_ff_all = (uint64_t)n_tok * m->n_ff;
    vk_op_rms_norm(ctx, floats(&s->x, n_embd_all), floats(&s->xn, n_embd_all), l->ffn_norm,
                   m->n_embd, n_tok, m->norm_eps);
    if (vk_mul_mat_glu_ok(&l->ffn_gate, &l->ffn_up, n_tok)) {
        /* Decode: gate, up and SiLU-mul in one dispatch. */
        vk_op_mul_mat_glu(ctx, &l->ffn_gate, &l->ffn_up, floats(&s->xn, n_embd_all), m->n_embd,
                          floats(&s->gate, n_ff_all), m->n_ff, n_tok);
    } else {
        mul_mat(ctx, &l->ffn_gate, &s->xn, &s->gate, n_tok, NULL, false);
        mul_mat(ctx, &l->ffn_up, &s->xn, &s->up, n_tok, NULL, false);
        vk_op_silu_mul(ctx, floats(&s->gate, n_ff_all), floats(&s->up, n_ff_all),
                       floats(&s->gate, n_ff_all), (uint32_t)n_ff_all);
    }
    mul_mat(ctx, &l->ffn_down, &s->gate, &s->x, n_tok, NULL, true);
}

/* Ops of one forward pass counted as an unfused ggml graph would hold them:
 * get_rows; per layer norm, scale, Q, K, V, (3 bias adds), (2 norms and 2
 * scales for qwen3), 2 RoPEs, 2 cache copies, KQ, softmax, KQV, output,
 * add, norm, scale, gate, up, silu, mul, down, add; then the last row's
 * norm, scale and the logits product. */
static uint64_t graph_ops(const struct eng_model *m)
{
    uint64_t per_layer = 22;
    if (m->layers[0].bq)
        per_layer += 3;
    if (m->layers[0].q_norm)
        per_layer += 4;
    return 1 + per_layer * (uint64_t)m->n_layer + 3;
}

enum eng_status vk_session_forward(struct vk_session *s, const struct vk_forward_input *in,
                                   float *logits, struct eng_err *err)
{
    const struct eng_model *m = s->vm->m;
    struct vk_ctx *ctx = s->vm->ctx;
    const int n_tok = in->n_tok, n_past = in->n_past;
    ENG_ASSERT(n_tok >= 1 && n_tok <= s->n_batch && n_past + n_tok <= s->n_ctx);
    ENG_ASSERT((in->tokens || in->embd) && (in->pos != NULL) == m->rope_mrope);
    pthread_mutex_lock(&s->vm->lock);
    enum eng_status st = ENG_STATUS_OK;
    if (in->tokens)
        memcpy(s->ids.mapped, in->tokens, sizeof(int32_t) * (size_t)n_tok);
    else
        st = vk_upload(ctx, &s->x, 0, in->embd, sizeof(float) * (uint64_t)n_tok * m->n_embd,
                       err);
    if (in->pos)
        memcpy(s->pos.mapped, in->pos, 4 * sizeof(int32_t) * (size_t)n_tok);
    if (st) {
        pthread_mutex_unlock(&s->vm->lock);
        return st;
    }
    uint64_t dispatches_before = vk_ctx_n_dispatches(ctx);
    uint64_t barriers_before = vk_ctx_n_barriers(ctx);

    vk_cmd_begin(ctx);
    if (in->tokens)
        vk_op_get_rows(ctx, &s->vm->token_embd, vk_view_sub(&s->ids, 0, 4 * (uint64_t)n_tok),
                       n_tok, floats(&s->x, (uint64_t)n_tok * m->n_embd));
    for (int il = 0; il < m->n_layer; il++) {
        record_attention(s, il, n_tok, n_past);
        record_ffn(s, il, n_tok);
    }
    /* Only the last token's logits: copy its row out (a copy has no
     * alignment rule, a binding does), norm it, then the output product. */
    uint64_t row_bytes = sizeof(float) * (uint64_t)m->n_embd;
    vk_cmd_copy(ctx, vk_view_sub(&s->x, (uint64_t)(n_tok - 1) * row_bytes, row_bytes),
                vk_view_of(&s->last));
    vk_op_rms_norm(ctx, vk_view_of(&s->last), vk_view_of(&s->last), s->vm->output_norm,
                   m->n_embd, 1, m->norm_eps);
    mul_mat(ctx, &s->vm->output, &s->last, &s->logits, 1, NULL, false);
    st = vk_cmd_submit(ctx, err);

    s->stats.n_forwards++;
    s->stats.n_dispatches += vk_ctx_n_dispatches(ctx) - dispatches_before;
    s->stats.n_barriers += vk_ctx_n_barriers(ctx) - barriers_before;
    s->stats.n_graph_ops += graph_ops(m) - (in->tokens ? 0 : 1); /* embd rows: no get_rows */
    if (!st)
        memcpy(logits, s->logits.mapped, sizeof(float) * (size_t)m->n_vocab);
    pthread_mutex_unlock(&s->vm->lock);
    return st;
}
