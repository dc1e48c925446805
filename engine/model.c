/* model.c: loading a GGUF text model (qwen2, qwen2vl, qwen3, llama) and the public
 * model, token and chat functions that only need a loaded model.
 *
 * Loading reads the hyper-parameters, builds the tokenizer, and binds every
 * weight by its llama.cpp name, checking its type and shape before use.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "model.h"

struct eng_model_params eng_model_params_default(void)
{
    int device = ENG_DEVICE_AUTO;
    const char *env = getenv("WENSHU_DEVICE");
    if (env && *env && !eng_device_parse(env, &device))
        device = ENG_DEVICE_AUTO;
    return (struct eng_model_params){
        .path = NULL, .n_threads = 0, .vocab_only = false, .use_mmap = false,
        .device = device};
}

/* Read a positive integer hyper-parameter "{arch}.{suffix}". */
static enum eng_status read_hparam(const struct eng_model *m, const char *suffix, bool required,
                                   int def, int *out, struct eng_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", m->arch_name, suffix);
    uint32_t v;
    if (!gguf_get_u32(m->gguf, key, &v)) {
        if (required)
            return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: missing or invalid key %s",
                               m->gguf->path, key);
        *out = def;
        return ENG_STATUS_OK;
    }
    if (v == 0 || v > (1u << 24))
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: key %s has an invalid value %u",
                           m->gguf->path, key, v);
    *out = (int)v;
    return ENG_STATUS_OK;
}

static float read_hparam_f32(const struct eng_model *m, const char *suffix, float def)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", m->arch_name, suffix);
    float v;
    return gguf_get_f32(m->gguf, key, &v) ? v : def;
}

static enum eng_status read_hparams(struct eng_model *m, struct eng_err *err)
{
    enum eng_status st;
    const char *path = m->gguf->path;
    if ((st = read_hparam(m, "embedding_length", true, 0, &m->n_embd, err)) ||
        (st = read_hparam(m, "block_count", true, 0, &m->n_layer, err)) ||
        (st = read_hparam(m, "feed_forward_length", true, 0, &m->n_ff, err)) ||
        (st = read_hparam(m, "attention.head_count", true, 0, &m->n_head, err)) ||
        (st = read_hparam(m, "attention.head_count_kv", false, m->n_head, &m->n_head_kv, err)) ||
        (st = read_hparam(m, "context_length", false, 4096, &m->n_ctx_train, err)))
        return st;
    if (m->n_head_kv > m->n_head || m->n_head % m->n_head_kv != 0)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: %d attention heads cannot share %d key/value heads", path,
                           m->n_head, m->n_head_kv);
    if ((st = read_hparam(m, "attention.key_length", false, m->n_embd / m->n_head, &m->head_dim,
                          err)))
        return st;
    int value_length;
    if ((st = read_hparam(m, "attention.value_length", false, m->head_dim, &value_length, err)))
        return st;
    if (value_length != m->head_dim)
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                           "%s: key length %d differs from value length %d", path, m->head_dim,
                           value_length);
    if ((st = read_hparam(m, "rope.dimension_count", false, m->head_dim, &m->n_rot, err)))
        return st;
    if (m->n_rot > m->head_dim || m->n_rot % 2 != 0)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: rope dimension %d does not fit head %d",
                           path, m->n_rot, m->head_dim);
    m->norm_eps = read_hparam_f32(m, "attention.layer_norm_rms_epsilon", 1e-6f);
    if (!(m->norm_eps > 0.0f && m->norm_eps < 1.0f))
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: invalid RMS norm epsilon %g", path,
                           (double)m->norm_eps);
    return ENG_STATUS_OK;
}

/* Bind a weight matrix "name" that must have ne = [n_in, n_out]. */
static enum eng_status bind_matrix(struct eng_model *m, const char *name, int n_in, int n_out,
                                   bool required, struct cpu_matrix *out, struct eng_err *err)
{
    return weights_bind_matrix(m->gguf, name, n_in, n_out, required, NULL, out, err);
}

/* Bind a 1-D tensor of n elements as an owned f32 array. */
static enum eng_status bind_vector(struct eng_model *m, const char *name, int n, bool required,
                                   float **out, struct eng_err *err)
{
    return weights_bind_vector(m->gguf, &m->owned, name, n, required, NULL, out, err);
}

static enum eng_status bind_layer(struct eng_model *m, int il, struct eng_err *err)
{
    struct model_layer *l = &m->layers[il];
    int q_dim = m->n_head * m->head_dim, kv_dim = m->n_head_kv * m->head_dim;
    bool qwen2 = m->arch == MODEL_ARCH_QWEN2 || m->arch == MODEL_ARCH_QWEN2VL;
    bool qwen3 = m->arch == MODEL_ARCH_QWEN3;
    char name[96];
    enum eng_status st = ENG_STATUS_OK;
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix, il), name)
    if ((st = bind_vector(m, NAME("attn_norm.weight"), m->n_embd, true, &l->attn_norm, err)) ||
        (st = bind_matrix(m, NAME("attn_q.weight"), m->n_embd, q_dim, true, &l->wq, err)) ||
        (st = bind_matrix(m, NAME("attn_k.weight"), m->n_embd, kv_dim, true, &l->wk, err)) ||
        (st = bind_matrix(m, NAME("attn_v.weight"), m->n_embd, kv_dim, true, &l->wv, err)) ||
        (st = bind_vector(m, NAME("attn_q.bias"), q_dim, qwen2, &l->bq, err)) ||
        (st = bind_vector(m, NAME("attn_k.bias"), kv_dim, qwen2, &l->bk, err)) ||
        (st = bind_vector(m, NAME("attn_v.bias"), kv_dim, qwen2, &l->bv, err)) ||
        (st = bind_vector(m, NAME("attn_q_norm.weight"), m->head_dim, qwen3, &l->q_norm, err)) ||
        (st = bind_vector(m, NAME("attn_k_norm.weight"), m->head_dim, qwen3, &l->k_norm, err)) ||
        (st = bind_matrix(m, NAME("attn_output.weight"), q_dim, m->n_embd, true, &l->wo, err)) ||
        (st = bind_vector(m, NAME("ffn_norm.weight"), m->n_embd, true, &l->ffn_norm, err)) ||
        (st = bind_matrix(m, NAME("ffn_gate.weight"), m->n_embd, m->n_ff, true, &l->ffn_gate,
                          err)) ||
        (st = bind_matrix(m, NAME("ffn_up.weight"), m->n_embd, m->n_ff, true, &l->ffn_up, err)) ||
        (st = bind_matrix(m, NAME("ffn_down.weight"), m->n_ff, m->n_embd, true, &l->ffn_down,
                          err)))
        return st;
#undef NAME
    return ENG_STATUS_OK;
}

/* inv_freq[i] = base^(-2i/n_rot) / freq_factor[i] (rope_freqs, Llama 3.x), / linear factor. */
static enum eng_status setup_rope(struct eng_model *m, struct eng_err *err)
{
    float base = read_hparam_f32(m, "rope.freq_base", 10000.0f);
    float linear = 1.0f;
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch_name);
    struct gguf_str scaling;
    if (gguf_get_str(m->gguf, key, &scaling) &&
        !(scaling.len == 4 && memcmp(scaling.data, "none", 4) == 0)) {
        if (scaling.len == 6 && memcmp(scaling.data, "linear", 6) == 0) {
            linear = read_hparam_f32(m, "rope.scaling.factor", 1.0f);
            if (!(linear > 0.0f))
                linear = 1.0f;
        } else {
            return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                               "%s: RoPE scaling type \"%.*s\" is not supported", m->gguf->path,
                               (int)scaling.len, scaling.data);
        }
    }
    float *freq_factors = NULL;
    enum eng_status st = bind_vector(m, "rope_freqs.weight", m->n_rot / 2, false, &freq_factors,
                                     err);
    if (st)
        return st;
    m->rope_inv_freq = malloc(sizeof(float) * (size_t)(m->n_rot / 2));
    if (!m->rope_inv_freq)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: out of memory", m->gguf->path);
    for (int i = 0; i < m->n_rot / 2; i++) {
        double inv = pow((double)base, -2.0 * i / m->n_rot) / linear;
        if (freq_factors)
            inv /= freq_factors[i];
        m->rope_inv_freq[i] = (float)inv;
    }
    return ENG_STATUS_OK;
}

/* M-RoPE (qwen2vl): {arch}.rope.dimension_sections, i32[4], the pairs that
 * take the t, h, w and extra position streams. Pairs past their sum wrap
 * around (ggml's rope_multi), so the sum must be positive and at most n_rot/2. */
static enum eng_status read_rope_sections(struct eng_model *m, struct eng_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.rope.dimension_sections", m->arch_name);
    const struct gguf_kv *kv = gguf_find_kv(m->gguf, key);
    if (!kv)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: missing key %s (M-RoPE sections)",
                           m->gguf->path, key);
    if (kv->type != GGUF_TYPE_ARRAY ||
        (kv->arr_type != GGUF_TYPE_INT32 && kv->arr_type != GGUF_TYPE_UINT32) || kv->arr_n != 4)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: key %s must be an array of 4 i32 (pairs per position stream)",
                           m->gguf->path, key);
    int32_t sections[4];
    memcpy(sections, kv->value, sizeof sections); /* the map may be unaligned */
    int sum = 0;
    for (int i = 0; i < 4; i++) {
        if (sections[i] < 0 || sections[i] > m->n_rot)
            return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: key %s has an invalid section %d",
                               m->gguf->path, key, (int)sections[i]);
        sum += sections[i];
        m->rope_sections[i] = sections[i];
    }
    if (sum <= 0 || 2 * sum > m->n_rot)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: key %s: sections [%d, %d, %d, %d] cover %d pairs; a head "
                           "rotates %d pairs",
                           m->gguf->path, key, (int)sections[0], (int)sections[1],
                           (int)sections[2], (int)sections[3], sum, m->n_rot / 2);
    m->rope_mrope = true;
    return ENG_STATUS_OK;
}

static enum eng_status bind_weights(struct eng_model *m, struct eng_err *err)
{
    const struct gguf_tensor *embd = gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!embd)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: missing tensor token_embd.weight",
                           m->gguf->path);
    if (embd->ne[1] < 1 || embd->ne[1] > (1 << 22))
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: token_embd.weight has %lld rows",
                           m->gguf->path, (long long)embd->ne[1]);
    m->n_vocab = (int)embd->ne[1];
    if (tokenizer_n_vocab(m->tok) > m->n_vocab)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: the vocab has %d tokens but token_embd.weight only %d rows",
                           m->gguf->path, tokenizer_n_vocab(m->tok), m->n_vocab);
    enum eng_status st;
    if ((st = bind_matrix(m, "token_embd.weight", m->n_embd, m->n_vocab, true, &m->token_embd,
                          err)) ||
        (st = bind_vector(m, "output_norm.weight", m->n_embd, true, &m->output_norm, err)) ||
        (st = bind_matrix(m, "output.weight", m->n_embd, m->n_vocab, false, &m->output, err)))
        return st;
    if (!m->output.data)
        m->output = m->token_embd; /* tied embeddings */
    m->layers = calloc((size_t)m->n_layer, sizeof *m->layers);
    if (!m->layers)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: out of memory", m->gguf->path);
    for (int il = 0; il < m->n_layer; il++)
        if ((st = bind_layer(m, il, err)))
            return st;
    if (m->arch == MODEL_ARCH_QWEN2VL && (st = read_rope_sections(m, err)))
        return st;
    return setup_rope(m, err);
}

static enum eng_status read_arch(struct eng_model *m, struct eng_err *err)
{
    struct gguf_str arch;
    if (!gguf_get_str(m->gguf, "general.architecture", &arch))
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: missing key general.architecture",
                           m->gguf->path);
    snprintf(m->arch_name, sizeof m->arch_name, "%.*s",
             (int)(arch.len < 15 ? arch.len : 15), arch.data);
    if (arch.len == 5 && memcmp(arch.data, "qwen2", 5) == 0)
        m->arch = MODEL_ARCH_QWEN2;
    else if (arch.len == 7 && memcmp(arch.data, "qwen2vl", 7) == 0)
        m->arch = MODEL_ARCH_QWEN2VL;
    else if (arch.len == 5 && memcmp(arch.data, "qwen3", 5) == 0)
        m->arch = MODEL_ARCH_QWEN3;
    else if (arch.len == 5 && memcmp(arch.data, "llama", 5) == 0)
        m->arch = MODEL_ARCH_LLAMA;
    else if (m->vocab_only)
        return ENG_STATUS_OK;
    else
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                           "%s: unknown architecture \"%.*s\" (supported: qwen2, qwen2vl, qwen3, llama)",
                           m->gguf->path, (int)(arch.len > 64 ? 64 : arch.len), arch.data);
    m->rope_neox = m->arch != MODEL_ARCH_LLAMA; /* qwen2vl's M-RoPE pairs as NEOX */
    return ENG_STATUS_OK;
}

static void count_weights(struct eng_model *m)
{
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        const struct gguf_tensor *t = &m->gguf->tensors[i];
        m->n_params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        m->weight_bytes += t->n_bytes;
    }
}

/* The caller's progress callback for one load. The steps report in turn
 * (the read, or the upload, then the end), each in the units of the whole:
 * bytes of the weights, of total. */
struct load_progress {
    eng_progress_fn fn; /* NULL: no reports */
    void *user_data;
    uint64_t total;     /* the weight bytes: the sum of every tensor's n_bytes */
    bool started;       /* a report was made */
};

static void load_progress_report(struct load_progress *lp, uint64_t done)
{
    if (!lp->fn)
        return;
    lp->started = true;
    lp->fn(done, lp->total, lp->user_data);
}

/* gguf's report of the tensor bytes read (an eng_progress_fn): the same units
 * and the same total as the load's. */
static void on_read_progress(uint64_t done, uint64_t total, void *user_data)
{
    struct load_progress *lp = user_data;
    lp->total = total;
    load_progress_report(lp, done);
}

/* The upload's report of bytes uploaded (an eng_progress_fn), scaled to the
 * weight bytes: what goes to the device is not byte for byte the file (norm
 * vectors become f32, tied embeddings go once). */
static void on_upload_progress(uint64_t done, uint64_t total, void *user_data)
{
    struct load_progress *lp = user_data;
    if (total == 0 || done == total)
        load_progress_report(lp, lp->total);
    else
        load_progress_report(lp, (uint64_t)((double)done / (double)total * (double)lp->total));
}

static void setup_chat(struct eng_model *m)
{
    struct gguf_str tmpl = {NULL, 0};
    gguf_get_str(m->gguf, "tokenizer.chat_template", &tmpl);
    m->chat = chat_detect(tmpl.data, (size_t)tmpl.len, m->arch_name);
    m->n_end_tokens = (int)chat_end_tokens(m->chat, m->tok, m->end_tokens,
                                           sizeof m->end_tokens / sizeof m->end_tokens[0]);
}

enum eng_status eng_model_load(const struct eng_model_params *params, struct eng_model **out,
                               struct eng_err *err)
{
    *out = NULL;
    if (!params || !params->path)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "no model path given");
    quant_init();
    struct eng_model *m = calloc(1, sizeof *m);
    if (!m)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: out of memory", params->path);
    m->vocab_only = params->vocab_only;
    m->n_threads = params->n_threads > 0 ? params->n_threads : threadpool_default_threads();
    enum eng_status st;
    int gpu_index = -1;
    snprintf(m->device_name, sizeof m->device_name, "CPU");
    if (!m->vocab_only && (st = device_choose(m, params->device, &gpu_index, err)))
        goto out_free;
    /* Weights bound for a GPU are read once, for the upload: map them. */
    enum gguf_load_mode mode = params->use_mmap || params->vocab_only || gpu_index >= 0
                                   ? GGUF_LOAD_MMAP
                                   : GGUF_LOAD_HUGE_PAGES;
    struct load_progress lp = {.fn = params->progress, .user_data = params->progress_user_data};
    if ((st = gguf_open_with_progress(params->path, mode, on_read_progress, &lp, &m->gguf,
                                      err)) ||
        (st = read_arch(m, err)) || (st = tokenizer_from_gguf(m->gguf, &m->tok, err)))
        goto out_free;
    struct gguf_str name;
    if (gguf_get_str(m->gguf, "general.name", &name))
        snprintf(m->name, sizeof m->name, "%.*s", (int)(name.len < 127 ? name.len : 127),
                 name.data);
    setup_chat(m);
    count_weights(m);
    /* A mapped file reads nothing here: its first report says so. */
    lp.total = m->weight_bytes;
    if (!lp.started)
        load_progress_report(&lp, 0);
    if (!m->vocab_only && ((st = read_hparams(m, err)) || (st = bind_weights(m, err))))
        goto out_free;
    if (gpu_index >= 0 && (st = device_upload(m, params->device, gpu_index, on_upload_progress,
                                              &lp, err)))
        goto out_free;
    load_progress_report(&lp, lp.total);
    *out = m;
    return ENG_STATUS_OK;

out_free:
    eng_model_free(&m);
    return st;
}

void eng_model_free(struct eng_model **model)
{
    struct eng_model *m = model ? *model : NULL;
    if (!m)
        return;
    device_detach(m);
    owned_vectors_free(&m->owned);
    free(m->layers);
    free(m->rope_inv_freq);
    tokenizer_free(&m->tok);
    gguf_close(&m->gguf);
    free(m);
    *model = NULL;
}

void eng_model_get_info(const struct eng_model *m, struct eng_model_info *info)
{
    *info = (struct eng_model_info){
        .arch = m->arch_name,
        .name = m->name,
        .n_vocab = m->vocab_only ? tokenizer_n_vocab(m->tok) : m->n_vocab,
        .n_ctx_train = m->n_ctx_train,
        .n_embd = m->n_embd,
        .n_layer = m->n_layer,
        .n_head = m->n_head,
        .n_head_kv = m->n_head_kv,
        .head_dim = m->head_dim,
        .n_ff = m->n_ff,
        .n_params = m->n_params,
        .weight_bytes = m->weight_bytes,
        .device = m->device_name,
        .device_notice = m->device_notice,
        .device_bytes = m->device_bytes,
    };
}

enum eng_status eng_tokenize(const struct eng_model *model, const char *text, size_t len,
                             bool parse_special, int32_t **out_tokens, size_t *out_n,
                             struct eng_err *err)
{
    return tokenizer_encode(model->tok, text, len, parse_special, out_tokens, out_n, err);
}

const char *eng_token_bytes(const struct eng_model *model, int32_t token, size_t *len)
{
    return tokenizer_token_bytes(model->tok, token, len);
}

bool eng_token_is_end(const struct eng_model *model, int32_t token)
{
    for (int i = 0; i < model->n_end_tokens; i++)
        if (model->end_tokens[i] == token)
            return true;
    return false;
}

struct eng_chat_params eng_chat_params_default(void)
{
    return (struct eng_chat_params){
        .add_generation_prompt = true, .enable_thinking = true, .default_system = NULL};
}

enum eng_status eng_chat_render(const struct eng_model *model, const struct eng_chat_message *msgs,
                                size_t n_msgs, const struct eng_chat_params *params, char **out,
                                struct eng_err *err)
{
    struct eng_chat_params defaults = eng_chat_params_default();
    return chat_render(model->chat, msgs, n_msgs, params ? params : &defaults, out, err);
}

const char *eng_chat_family(const struct eng_model *model)
{
    return chat_family_name(model->chat);
}
