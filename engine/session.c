/* session.c: a conversation's state (KV cache, scratch, logits) and the
 * decoder forward pass for qwen2, qwen2vl, qwen3 and llama on the CPU
 * backend, plus streaming generation.
 *
 * One forward pass takes a batch of n_tok inputs (token ids, or embedding
 * rows such as an image's), appends their keys and values to cache rows
 * n_past..n_past+n_tok-1 and leaves the logits of the last one. Attention is
 * causal by cache row; RoPE uses each input's own positions: (t, h, w, extra)
 * streams for qwen2vl's M-RoPE, which an image makes differ from the row.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "engine-internal.h"
#include "json-schema.h"
#include "model.h"
#include "sampler.h"
#ifdef WENSHU_HAVE_VULKAN
#include "vulkan/vk-model.h"
#endif

struct eng_session {
    struct eng_model *model;
    struct threadpool *pool;
    int n_ctx, n_batch, n_past;
    struct vk_session *gpu; /* owned; the pass runs there when the model is on a GPU */
    struct eng_session_stats stats; /* of CPU passes */
    int32_t *row_next_pos; /* [n_ctx] the next text position after each cache row */
    int32_t *pos;          /* [4][n_batch] RoPE position streams of the batch being run */

    float *k_cache;  /* [n_layer][n_ctx][n_head_kv * head_dim] */
    float *v_cache;  /* [n_layer][n_ctx][n_head_kv * head_dim] */
    float *logits;   /* [n_vocab] of the last evaluated token */

    /* Scratch for one batch; every row is one token. */
    float *x;        /* [n_batch][n_embd] the residual stream */
    float *xn;       /* [n_batch][n_embd] normed input of a block */
    float *q;        /* [n_batch][n_head * head_dim] */
    float *attn;     /* [n_batch][n_head * head_dim] attention output */
    float *proj;     /* [n_batch][n_embd] output of attn_output / ffn_down */
    float *gate;     /* [n_batch][n_ff] */
    float *up;       /* [n_batch][n_ff] */
    float *scores;   /* [n_threads][n_head / n_head_kv][n_ctx] attention scratch */
    uint8_t *qact_data[CPU_QACT_COUNT]; /* per activation type: n_batch rows of the widest input */
    struct cpu_qact qact[CPU_QACT_COUNT];
};

struct eng_session_params eng_session_params_default(void)
{
    return (struct eng_session_params){.n_ctx = 0, .n_batch = 256, .n_threads = 0};
}

static void *alloc_floats(size_t n, bool *ok)
{
    void *p = calloc(n ? n : 1, sizeof(float));
    if (!p)
        *ok = false;
    return p;
}

/* Mark the activation types the model's matrices need. */
static void mark_qact_types(const struct eng_model *m, bool used[CPU_QACT_COUNT])
{
    memset(used, 0, sizeof(bool) * CPU_QACT_COUNT);
    used[cpu_qact_slot(quant_traits(m->output.type)->vec_dot_type)] = true;
    for (int il = 0; il < m->n_layer; il++) {
        const struct model_layer *l = &m->layers[il];
        const struct cpu_matrix *mats[] = {&l->wq,       &l->wk,     &l->wv,      &l->wo,
                                           &l->ffn_gate, &l->ffn_up, &l->ffn_down};
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++)
            used[cpu_qact_slot(quant_traits(mats[i]->type)->vec_dot_type)] = true;
    }
}

enum eng_status eng_session_new(struct eng_model *model, const struct eng_session_params *params,
                                struct eng_session **out, struct eng_err *err)
{
    *out = NULL;
    if (model->vocab_only)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "%s: loaded vocab-only, cannot run",
                           model->gguf->path);
    struct eng_session_params p = params ? *params : eng_session_params_default();
    const struct eng_model *m = model;
    if (p.n_ctx <= 0)
        p.n_ctx = m->n_ctx_train < 4096 ? m->n_ctx_train : 4096;
    if (p.n_batch <= 0)
        p.n_batch = 256;
    if (p.n_batch > p.n_ctx)
        p.n_batch = p.n_ctx;
#ifdef WENSHU_HAVE_VULKAN
    /* A device with small bindings takes a prompt in smaller batches. */
    if (m->gpu && p.n_batch > vk_model_max_batch(m->gpu))
        p.n_batch = vk_model_max_batch(m->gpu) > 0 ? vk_model_max_batch(m->gpu) : 1;
#endif
    struct eng_session *s = calloc(1, sizeof *s);
    if (!s)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    s->model = model;
    s->n_ctx = p.n_ctx;
    s->n_batch = p.n_batch;
    s->pool = threadpool_new(p.n_threads > 0 ? p.n_threads : m->n_threads);
    bool ok = s->pool != NULL;
    size_t kv_dim = (size_t)m->n_head_kv * m->head_dim, q_dim = (size_t)m->n_head * m->head_dim;
    /* CPU scratch rows: a batch on the CPU; one (unused) on a GPU. */
    size_t nb = m->gpu ? 1 : (size_t)p.n_batch;
    /* On a GPU the cache lives on the device; the CPU scratch stays small. */
    size_t cpu_cache_tokens = m->gpu ? 1 : (size_t)p.n_ctx;
    s->k_cache = alloc_floats((size_t)m->n_layer * cpu_cache_tokens * kv_dim, &ok);
    s->v_cache = alloc_floats((size_t)m->n_layer * cpu_cache_tokens * kv_dim, &ok);
    s->logits = alloc_floats((size_t)m->n_vocab, &ok);
    s->x = alloc_floats(nb * m->n_embd, &ok);
    s->xn = alloc_floats(nb * m->n_embd, &ok);
    s->q = alloc_floats(nb * q_dim, &ok);
    s->attn = alloc_floats(nb * q_dim, &ok);
    s->proj = alloc_floats(nb * m->n_embd, &ok);
    s->gate = alloc_floats(nb * m->n_ff, &ok);
    s->up = alloc_floats(nb * m->n_ff, &ok);
    size_t n_score_rows = (size_t)(ok ? threadpool_n_threads(s->pool) : 1) *
                          (size_t)(m->n_head / m->n_head_kv);
    s->scores = alloc_floats(n_score_rows * p.n_ctx, &ok);
    s->row_next_pos = calloc((size_t)p.n_ctx, sizeof(int32_t));
    s->pos = calloc(4 * (size_t)p.n_batch, sizeof(int32_t));
    ok = ok && s->row_next_pos && s->pos;
    bool used[CPU_QACT_COUNT];
    mark_qact_types(m, used);
    int widest = m->n_ff > m->n_embd ? m->n_ff : m->n_embd;
    if ((int)q_dim > widest)
        widest = (int)q_dim;
    for (int i = 0; i < CPU_QACT_COUNT && ok; i++) {
        if (!used[i])
            continue;
        int blck = quant_traits(cpu_qact_types[i])->blck;
        int padded = (widest + blck - 1) / blck * blck;
        s->qact_data[i] = malloc(cpu_qact_bytes(cpu_qact_types[i], padded, (int)nb));
        ok = ok && s->qact_data[i];
    }
    if (!ok) {
        eng_session_free(&s);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM,
                           "out of memory for a %d-token context", p.n_ctx);
    }
#ifdef WENSHU_HAVE_VULKAN
    if (m->gpu) {
        enum eng_status st = vk_session_new(m->gpu, p.n_ctx, p.n_batch, &s->gpu, err);
        if (st) {
            eng_session_free(&s);
            return st;
        }
    }
#endif
    *out = s;
    return ENG_STATUS_OK;
}

void eng_session_free(struct eng_session **session)
{
    struct eng_session *s = session ? *session : NULL;
    if (!s)
        return;
#ifdef WENSHU_HAVE_VULKAN
    vk_session_free(&s->gpu);
#endif
    threadpool_free(&s->pool);
    float *bufs[] = {s->k_cache, s->v_cache, s->logits, s->x,  s->xn,
                     s->q,       s->attn,    s->proj,   s->gate, s->up, s->scores};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    for (int i = 0; i < CPU_QACT_COUNT; i++)
        free(s->qact_data[i]);
    free(s->row_next_pos);
    free(s->pos);
    free(s);
    *session = NULL;
}

int eng_session_n_past(const struct eng_session *s) { return s->n_past; }
int eng_session_n_ctx(const struct eng_session *s) { return s->n_ctx; }
void eng_session_reset(struct eng_session *s) { s->n_past = 0; }

void eng_session_truncate(struct eng_session *s, int n_keep)
{
    if (n_keep >= 0 && n_keep < s->n_past)
        s->n_past = n_keep;
}
const float *eng_session_logits(const struct eng_session *s) { return s->logits; }

int session_next_pos(const struct eng_session *s)
{
    return s->n_past > 0 ? s->row_next_pos[s->n_past - 1] : 0;
}

const struct eng_model *session_model(const struct eng_session *s) { return s->model; }

void eng_session_get_stats(const struct eng_session *s, struct eng_session_stats *stats)
{
#ifdef WENSHU_HAVE_VULKAN
    if (s->gpu) {
        vk_session_get_stats(s->gpu, stats);
        return;
    }
#endif
    *stats = s->stats;
}

/* Quantize x[n_tok][n_in] for products with weights of type w_type. Each
 * activation type has its own slot, so inputs quantized for weights of
 * different types stay valid side by side. */
static const struct cpu_qact *quantize_input(struct eng_session *s, enum eng_type w_type,
                                             const float *x, int n_in, int n_tok)
{
    int slot = cpu_qact_slot(quant_traits(w_type)->vec_dot_type);
    struct cpu_qact *q = &s->qact[slot];
    q->data = s->qact_data[slot];
    cpu_qact_fill(s->pool, q, cpu_qact_types[slot], x, n_in, n_tok);
    return q;
}

/* The input for a second matrix that reads the same x as `done` (quantized
 * for done_type): reused when both weight types share an activation type. */
static const struct cpu_qact *quantize_again(struct eng_session *s, const struct cpu_qact *done,
                                             enum eng_type w_type, const float *x, int n_in,
                                             int n_tok)
{
    if (quant_traits(w_type)->vec_dot_type == done->type)
        return done;
    return quantize_input(s, w_type, x, n_in, n_tok);
}

/* y[n_tok][w->n_out] = x · W^T for one matrix. */
static void matmul(struct eng_session *s, const struct cpu_matrix *w, const float *x, int n_tok,
                   float *y, int y_stride)
{
    struct cpu_matmul job = {.w = w, .x = quantize_input(s, w->type, x, w->n_in, n_tok),
                             .y = y, .y_stride = y_stride};
    cpu_matmul_run(s->pool, &job, 1);
}

/* The KV cache holds f16 values, as llama.cpp's does by default and as the
 * Vulkan cache stores them: new keys and values are rounded to f16 (kept in
 * f32 storage), so both backends attend over the same numbers. */
static void round_to_half(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = eng_half_to_float(eng_float_to_half(x[i]));
}

/* The attention block of one layer; adds its output to s->x. */
static void attention_block(struct eng_session *s, int il, int n_tok)
{
    const struct eng_model *m = s->model;
    const struct model_layer *l = &m->layers[il];
    int q_dim = m->n_head * m->head_dim, kv_dim = m->n_head_kv * m->head_dim;
    int pos0 = s->n_past;
    /* This layer's cache rows for the new tokens: [n_tok][kv_dim] each. */
    float *k_layer = s->k_cache + (size_t)il * s->n_ctx * kv_dim;
    float *v_layer = s->v_cache + (size_t)il * s->n_ctx * kv_dim;
    float *k_new = k_layer + (size_t)pos0 * kv_dim;
    float *v_new = v_layer + (size_t)pos0 * kv_dim;

    cpu_rms_norm(s->xn, s->x, l->attn_norm, m->n_embd, n_tok, m->norm_eps);
    /* K and V may need other activation types than Q in mixed-quant files. */
    const struct cpu_qact *xq = quantize_input(s, l->wq.type, s->xn, m->n_embd, n_tok);
    const struct cpu_qact *xk = quantize_again(s, xq, l->wk.type, s->xn, m->n_embd, n_tok);
    const struct cpu_qact *xv = quantize_again(s, xk, l->wv.type, s->xn, m->n_embd, n_tok);
    struct cpu_matmul qkv[3] = {
        {.w = &l->wq, .x = xq, .y = s->q, .y_stride = q_dim, .bias = l->bq},
        {.w = &l->wk, .x = xk, .y = k_new, .y_stride = kv_dim, .bias = l->bk},
        {.w = &l->wv, .x = xv, .y = v_new, .y_stride = kv_dim, .bias = l->bv},
    };
    cpu_matmul_run(s->pool, qkv, 3);

    if (l->q_norm) {
        cpu_rms_norm(s->q, s->q, l->q_norm, m->head_dim, n_tok * m->n_head, m->norm_eps);
        cpu_rms_norm(k_new, k_new, l->k_norm, m->head_dim, n_tok * m->n_head_kv, m->norm_eps);
    }
    const int *sections = m->rope_mrope ? m->rope_sections : NULL;
    cpu_rope(s->q, n_tok, m->n_head, m->head_dim, m->n_rot, m->rope_inv_freq, s->pos, sections,
             m->rope_neox);
    cpu_rope(k_new, n_tok, m->n_head_kv, m->head_dim, m->n_rot, m->rope_inv_freq, s->pos,
             sections, m->rope_neox);
    round_to_half(k_new, (size_t)n_tok * kv_dim);
    round_to_half(v_new, (size_t)n_tok * kv_dim);

    struct cpu_attention att = {
        .q = s->q, .k_cache = k_layer, .v_cache = v_layer, .out = s->attn,
        .n_tok = n_tok, .pos0 = pos0,
        .n_head = m->n_head, .n_head_kv = m->n_head_kv, .head_dim = m->head_dim,
        .scale = 1.0f / sqrtf((float)m->head_dim), .scores = s->scores, .n_ctx = s->n_ctx,
    };
    cpu_attention_run(s->pool, &att);
    matmul(s, &l->wo, s->attn, n_tok, s->proj, m->n_embd);
    cpu_add(s->x, s->proj, (size_t)n_tok * m->n_embd);
}

/* The SwiGLU feed-forward block of one layer; adds its output to s->x. */
static void ffn_block(struct eng_session *s, int il, int n_tok)
{
    const struct eng_model *m = s->model;
    const struct model_layer *l = &m->layers[il];
    cpu_rms_norm(s->xn, s->x, l->ffn_norm, m->n_embd, n_tok, m->norm_eps);
    const struct cpu_qact *xg = quantize_input(s, l->ffn_gate.type, s->xn, m->n_embd, n_tok);
    const struct cpu_qact *xu = quantize_again(s, xg, l->ffn_up.type, s->xn, m->n_embd, n_tok);
    struct cpu_matmul gate_up[2] = {
        {.w = &l->ffn_gate, .x = xg, .y = s->gate, .y_stride = m->n_ff},
        {.w = &l->ffn_up, .x = xu, .y = s->up, .y_stride = m->n_ff},
    };
    cpu_matmul_run(s->pool, gate_up, 2);
    cpu_silu_mul(s->pool, s->gate, s->up, n_tok, (size_t)m->n_ff);
    matmul(s, &l->ffn_down, s->gate, n_tok, s->proj, m->n_embd);
    cpu_add(s->x, s->proj, (size_t)n_tok * m->n_embd);
}

/* Forward n_tok inputs (n_tok <= n_batch, fits the context): token ids, or
 * embedding rows embd[n_tok][n_embd] when tokens is NULL, at the positions
 * in s->pos ([4][n_tok]). */
static enum eng_status forward_batch(struct eng_session *s, const int32_t *tokens,
                                     const float *embd, int n_tok, struct eng_err *err)
{
    const struct eng_model *m = s->model;
#ifdef WENSHU_HAVE_VULKAN
    if (s->gpu) {
        struct vk_forward_input in = {.tokens = tokens, .embd = embd, .n_tok = n_tok,
                                      .pos = m->rope_mrope ? s->pos : NULL,
                                      .n_past = s->n_past};
        enum eng_status st = vk_session_forward(s->gpu, &in, s->logits, err);
        if (st == ENG_STATUS_OK)
            s->n_past += n_tok;
        return st;
    }
#else
    (void)err;
#endif
    s->stats.n_forwards++;
    if (tokens) {
        for (int t = 0; t < n_tok; t++) {
            const struct cpu_matrix *e = &m->token_embd;
            quant_dequantize_row(e->type, e->data + (size_t)tokens[t] * e->row_bytes,
                                 s->x + (size_t)t * m->n_embd, m->n_embd);
        }
    } else {
        memcpy(s->x, embd, sizeof(float) * (size_t)n_tok * m->n_embd);
    }
    for (int il = 0; il < m->n_layer; il++) {
        attention_block(s, il, n_tok);
        ffn_block(s, il, n_tok);
    }
    s->n_past += n_tok;
    /* Logits of the last token only. */
    float *last = s->xn;
    cpu_rms_norm(last, s->x + (size_t)(n_tok - 1) * m->n_embd, m->output_norm, m->n_embd, 1,
                 m->norm_eps);
    matmul(s, &m->output, last, 1, s->logits, m->n_vocab);
    return ENG_STATUS_OK;
}

/* Check an input before any of it runs: shape, token ids, the context, and
 * positions a plain (1-D) RoPE can take. */
static enum eng_status check_input(const struct eng_session *s, const struct session_input *in,
                                   struct eng_err *err)
{
    const struct eng_model *m = s->model;
    if (in->n < 0 || (!in->tokens && !in->embd))
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "an input of %d rows without tokens or "
                           "embeddings", in->n);
    if (in->n > s->n_ctx - s->n_past)
        return eng_set_err(err, ENG_STATUS_ERR_CONTEXT,
                           "input of %d tokens does not fit the context: %d of %d tokens are "
                           "used, %d are free",
                           in->n, s->n_past, s->n_ctx, s->n_ctx - s->n_past);
    if (in->tokens)
        for (int i = 0; i < in->n; i++)
            if (in->tokens[i] < 0 || in->tokens[i] >= m->n_vocab)
                return eng_set_err(err, ENG_STATUS_ERR_ARG, "token id %d at %d is out of range "
                                   "(vocab %d)", in->tokens[i], i, m->n_vocab);
    if (!in->pos)
        return ENG_STATUS_OK;
    if (in->pos_advance < 0)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "negative position advance %d",
                           in->pos_advance);
    if (m->rope_mrope)
        return ENG_STATUS_OK;
    /* Plain RoPE has one stream and its cache rows are its positions. */
    int next = session_next_pos(s);
    for (int i = 0; i < in->n; i++)
        if (in->pos[i] != next + i)
            return eng_set_err(err, ENG_STATUS_ERR_ARG,
                               "%s takes sequential positions only: input row %d has position "
                               "%d, not %d", m->arch_name, i, (int)in->pos[i], next + i);
    if (in->pos_advance != in->n)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "%s advances positions by the input's "
                           "length %d, not %d", m->arch_name, in->n, in->pos_advance);
    return ENG_STATUS_OK;
}

/* Fill s->pos [4][n_tok] for input rows first..first+n_tok-1, and the next
 * text position after each of their cache rows. */
static void batch_positions(struct eng_session *s, const struct session_input *in, int first,
                            int n_tok, int next_pos)
{
    int32_t *row_next = s->row_next_pos + s->n_past;
    for (int t = 0; t < n_tok; t++) {
        int i = first + t;
        int32_t after = 0;
        for (int k = 0; k < 4; k++) {
            int32_t p = in->pos ? in->pos[(size_t)k * in->n + i] : next_pos + i;
            s->pos[(size_t)k * n_tok + t] = p;
            after = p + 1 > after ? p + 1 : after;
        }
        /* After the input's last row the text goes on at next + advance;
         * a cut inside an image goes on past its largest position so far. */
        row_next[t] = i == in->n - 1 ? next_pos + (in->pos ? in->pos_advance : in->n) : after;
    }
}

enum eng_status session_eval_input(struct eng_session *s, const struct session_input *in,
                                   const volatile int *cancel, struct eng_err *err)
{
    const struct eng_model *m = s->model;
    enum eng_status st = check_input(s, in, err);
    if (st || in->n == 0)
        return st;
    int next_pos = session_next_pos(s);
    for (int done = 0; done < in->n;) {
        if (cancel && *cancel)
            return eng_set_err(err, ENG_STATUS_CANCELLED, "cancelled");
        int n_tok = in->n - done < s->n_batch ? in->n - done : s->n_batch;
        batch_positions(s, in, done, n_tok, next_pos);
        st = forward_batch(s, in->tokens ? in->tokens + done : NULL,
                           in->tokens ? NULL : in->embd + (size_t)done * m->n_embd, n_tok, err);
        if (st)
            return st;
        done += n_tok;
    }
    return ENG_STATUS_OK;
}

enum eng_status eng_session_eval(struct eng_session *s, const int32_t *tokens, size_t n,
                                 const volatile int *cancel, struct eng_err *err)
{
    if (n == 0)
        return ENG_STATUS_OK;
    if (n > (size_t)(s->n_ctx - s->n_past))
        return eng_set_err(err, ENG_STATUS_ERR_CONTEXT,
                           "input of %zu tokens does not fit the context: %d of %d tokens are "
                           "used, %d are free",
                           n, s->n_past, s->n_ctx, s->n_ctx - s->n_past);
    struct session_input in = {.tokens = tokens, .n = (int)n};
    return session_eval_input(s, &in, cancel, err);
}

struct eng_sampler_params eng_sampler_params_default(void)
{
    return (struct eng_sampler_params){
        .temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
        .repeat_penalty = 1.0f, .frequency_penalty = 0.0f, .presence_penalty = 0.0f,
        .penalty_last_n = 64, .seed = 0,
    };
}

struct eng_generate_params eng_generate_params_default(void)
{
    return (struct eng_generate_params){
        .n_predict = 256, .sampler = eng_sampler_params_default(), .stop_at_end = true};
}

/* Stream one token's bytes through the UTF-8 holder to the callback. */
static bool emit_token(const struct eng_generate_params *p, const struct eng_model *m,
                       struct utf8_stream *utf8, int32_t token)
{
    size_t len = 0;
    const char *bytes = eng_token_bytes(m, token, &len);
    if (!bytes)
        len = 0;
    /* utf8_stream_push needs 3 * len + 12 bytes (each bad byte becomes U+FFFD). */
    char local[1024];
    size_t cap = 3 * len + 12;
    char *buf = cap <= sizeof local ? local : malloc(cap);
    if (!buf)
        return false;
    size_t n_out = utf8_stream_push(utf8, bytes ? bytes : "", len, buf, cap);
    bool go_on = p->on_token ? p->on_token(token, buf, n_out, p->user_data) : true;
    if (buf != local)
        free(buf);
    return go_on;
}

enum eng_status eng_session_generate(struct eng_session *s, const int32_t *prompt,
                                     size_t n_prompt, const struct eng_generate_params *params,
                                     int32_t **out_tokens, size_t *out_n, struct eng_err *err)
{
    const struct eng_model *m = s->model;
    struct eng_generate_params p = params ? *params : eng_generate_params_default();
    if (out_tokens)
        *out_tokens = NULL;
    if (out_n)
        *out_n = 0;
    enum eng_status st = eng_session_eval(s, prompt, n_prompt, p.cancel, err);
    if (st)
        return st;
    if (s->n_past == 0)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "nothing to generate from: empty prompt");
    int max_new = p.n_predict < 0 ? s->n_ctx : p.n_predict;
    struct json_guide *guide = NULL;
    if (p.schema) {
        if ((st = json_guide_new(p.schema, m->tok, &guide, err)))
            return st;
        /* the object must close within the context, too */
        if (max_new > s->n_ctx - s->n_past + 1)
            max_new = s->n_ctx - s->n_past + 1;
    }
    struct sampler *smp = sampler_new(&p.sampler, m->n_vocab);
    int32_t *generated = malloc(sizeof(int32_t) * (size_t)(max_new > 0 ? max_new : 1));
    if (!smp || !generated) {
        sampler_free(&smp);
        free(generated);
        json_guide_free(&guide);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_prompt; i++)
        sampler_accept(smp, prompt[i]);
    struct utf8_stream utf8 = {0};
    int n_gen = 0;
    while (n_gen < max_new) {
        if (p.cancel && *p.cancel) {
            st = eng_set_err(err, ENG_STATUS_CANCELLED, "cancelled after %d tokens", n_gen);
            break;
        }
        int32_t token = guide ? json_guide_next(guide, smp, s->logits, max_new - n_gen, err)
                              : sampler_sample(smp, s->logits);
        if (token < 0) {
            st = ENG_STATUS_ERR_FORMAT;
            break;
        }
        if (!guide && p.stop_at_end && eng_token_is_end(m, token))
            break;
        sampler_accept(smp, token);
        generated[n_gen++] = token;
        if (guide)
            json_guide_accept(guide, token);
        if (!emit_token(&p, m, &utf8, token))
            break;
        if (n_gen == max_new || s->n_past >= s->n_ctx || (guide && json_guide_done(guide)))
            break;
        if ((st = eng_session_eval(s, &token, 1, NULL, err)))
            break;
    }
    if (guide && st == ENG_STATUS_OK && !json_guide_done(guide) && n_gen == max_new)
        st = eng_set_err(err, ENG_STATUS_ERR_CONTEXT,
                         "JSON output: %d tokens are too few for the schema", max_new);
    json_guide_free(&guide);
    char tail[16];
    size_t n_tail = utf8_stream_flush(&utf8, tail, sizeof tail);
    if (n_tail && p.on_token)
        p.on_token(-1, tail, n_tail, p.user_data);
    sampler_free(&smp);
    if (out_tokens)
        *out_tokens = generated;
    else
        free(generated);
    if (out_n)
        *out_n = (size_t)n_gen;
    return st;
}

uint64_t eng_peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_maxrss * 1024u;
}
