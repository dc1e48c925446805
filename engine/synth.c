/* synth.c: writing vocab-only GGUF files and synthetic models with fixed
 * pseudo-random weights (test fixtures and benchmark models).
 *
 * Keys and tensor names follow llama.cpp's convert_hf_to_gguf.py, so
 * llama.cpp loads the same files. Weights come from a seeded splitmix64
 * stream, so a preset and a seed always give the same file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "gguf.h"
#include "quant.h"

struct synth_shape {
    const char *preset;
    const char *arch;     /* default architecture of the preset */
    int n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_vocab, n_ctx;
    float rope_base;
    bool tied;
    int32_t rope_sections[4]; /* qwen2vl M-RoPE pairs per position stream (t, h, w, extra) */
};

/* Real shapes from the models' config.json (shared/specs/models.md 2.2).
 * n_vocab 0 = the vocab's own size. The tiny presets differ per arch to
 * exercise each code path: qwen3 has head_dim != n_embd / n_head, llama has an
 * untied output and rope_freqs. */
static const struct synth_shape shapes[] = {
    {"tiny", "qwen2", 64, 2, 4, 2, 16, 128, 0, 256, 1000000.0f, true, {0}},
    {"tiny", "qwen3", 64, 2, 4, 2, 32, 128, 0, 256, 1000000.0f, true, {0}},
    {"tiny", "llama", 64, 2, 4, 2, 16, 128, 0, 256, 500000.0f, false, {0}},
    /* head_dim 16: 8 pairs, split 2/3/3 over t, h, w as Qwen2-VL's 16/24/24 of 64. */
    {"tiny", "qwen2vl", 64, 2, 4, 2, 16, 128, 0, 256, 1000000.0f, true, {2, 3, 3, 0}},
    /* Rows wide enough (256, 512) for the K quant types, with no fallbacks. */
    {"small", "qwen2", 256, 2, 4, 2, 64, 512, 0, 512, 1000000.0f, true, {0}},
    {"qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 64, 4864, 151936, 32768, 1000000.0f, true, {0}},
    {"qwen2.5-1.5b", "qwen2", 1536, 28, 12, 2, 128, 8960, 151936, 32768, 1000000.0f, true, {0}},
    {"qwen3-0.6b", "qwen3", 1024, 28, 16, 8, 128, 3072, 151936, 40960, 1000000.0f, true, {0}},
    {"qwen2-vl-2b", "qwen2vl", 1536, 28, 12, 2, 128, 8960, 151936, 32768, 1000000.0f, true,
     {16, 24, 24, 0}},
};

struct eng_synth_params eng_synth_params_default(void)
{
    return (struct eng_synth_params){
        .arch = NULL, .preset = "tiny", .vocab = NULL, .weight_type = "F32", .seed = 42,
        .path = NULL};
}

/* ---- vocab ---------------------------------------------------------------- */

static void write_vocab_keys(struct gguf_writer *w, const struct eng_vocab *v)
{
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", v->pre ? v->pre : "gpt-2");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", v->tokens, v->n_tokens);
    gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", v->token_types, v->n_tokens);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", v->merges, v->n_merges);
    if (v->bos_id >= 0)
        gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos_id);
    if (v->eos_id >= 0)
        gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)v->eos_id);
    if (v->eot_id >= 0)
        gguf_writer_set_u32(w, "tokenizer.ggml.eot_token_id", (uint32_t)v->eot_id);
    if (v->pad_id >= 0)
        gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)v->pad_id);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", v->add_bos);
    if (v->chat_template)
        gguf_writer_set_str(w, "tokenizer.chat_template", v->chat_template);
}

enum eng_status eng_vocab_write(const struct eng_vocab *vocab, const char *path,
                                struct eng_err *err)
{
    struct gguf_writer *w = gguf_writer_new();
    if (!w)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: out of memory", path);
    gguf_writer_set_str(w, "general.architecture", "vocab");
    gguf_writer_set_str(w, "general.type", "vocab");
    write_vocab_keys(w, vocab);
    enum eng_status st = gguf_writer_write(w, path, err);
    gguf_writer_free(&w);
    return st;
}

/* The small byte-level vocab of the tiny fixtures: the 256 GPT-2 byte
 * symbols, a few merges, then the family's special tokens (and the vision
 * tokens of the family's VLM: Qwen2-VL's for qwen2vl, SmolVLM's for llama). */
struct small_vocab {
    char *strings[512];  /* owned, NUL-terminated */
    const char *tokens[512];
    int32_t types[512];
    const char *merges[64];
    size_t n_tokens, n_merges;
    struct eng_vocab vocab;
};

static void utf8_append(char *dst, unsigned cp)
{
    size_t n = strlen(dst);
    if (cp < 0x80) {
        dst[n++] = (char)cp;
    } else if (cp < 0x800) {
        dst[n++] = (char)(0xC0 | (cp >> 6));
        dst[n++] = (char)(0x80 | (cp & 0x3F));
    } else {
        dst[n++] = (char)(0xE0 | (cp >> 12));
        dst[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        dst[n++] = (char)(0x80 | (cp & 0x3F));
    }
    dst[n] = '\0';
}

/* GPT-2 bytes_to_unicode: printable bytes map to themselves, the rest to
 * U+0100 + k in byte order. */
static unsigned byte_symbol(unsigned b)
{
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    if (printable)
        return b;
    unsigned k = 0;
    for (unsigned i = 0; i < b; i++)
        if (!((i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174)))
            k++;
    return 256 + k;
}

static int small_vocab_add(struct small_vocab *sv, const char *text, int32_t type)
{
    char *copy = strdup(text);
    if (!copy)
        return -1;
    sv->strings[sv->n_tokens] = copy;
    sv->tokens[sv->n_tokens] = copy;
    sv->types[sv->n_tokens] = type;
    return (int)sv->n_tokens++;
}

static void small_vocab_free(struct small_vocab *sv)
{
    for (size_t i = 0; i < sv->n_tokens; i++)
        free(sv->strings[i]);
}

static bool small_vocab_build(struct small_vocab *sv, const char *arch)
{
    memset(sv, 0, sizeof *sv);
    for (unsigned b = 0; b < 256; b++) {
        char sym[8] = "";
        utf8_append(sym, byte_symbol(b));
        if (small_vocab_add(sv, sym, 1) < 0)
            return false;
    }
    /* Merges over the byte symbols ("Ġ" is the space symbol). */
    static const char *const merges[] = {
        "Ġ t", "h e", "i n", "e r", "a n", "Ġt he", "o n", "r e", "Ġ a", "e n",
        "Ġ s", "Ġ w", "o r", "i s", "Ġ o", "Ġ c", "a t", "e s", "in g", "Ġ the",
    };
    for (size_t i = 0; i < sizeof merges / sizeof merges[0]; i++) {
        char joined[32];
        const char *space = strchr(merges[i], ' ');
        snprintf(joined, sizeof joined, "%.*s%s", (int)(space - merges[i]), merges[i], space + 1);
        sv->merges[sv->n_merges++] = merges[i];
        if (small_vocab_add(sv, joined, 1) < 0)
            return false;
    }
    struct eng_vocab *v = &sv->vocab;
    v->bos_id = v->eos_id = v->eot_id = v->pad_id = -1;
    if (strcmp(arch, "llama") == 0) {
        v->bos_id = small_vocab_add(sv, "<|begin_of_text|>", 3);
        v->eos_id = small_vocab_add(sv, "<|end_of_text|>", 3);
        small_vocab_add(sv, "<|start_header_id|>", 3);
        small_vocab_add(sv, "<|end_header_id|>", 3);
        v->eot_id = small_vocab_add(sv, "<|eot_id|>", 3);
        /* SmolVLM's image tokens (processing_smolvlm.py). Its tokenizer marks
         * them special, so llama.cpp's converter writes them as CONTROL. */
        small_vocab_add(sv, "<fake_token_around_image>", 3);
        small_vocab_add(sv, "<global-img>", 3);
        small_vocab_add(sv, "<image>", 3);
        small_vocab_add(sv, "<end_of_utterance>", 3);
        for (int r = 1; r <= 6; r++)
            for (int c = 1; c <= 6; c++) {
                char tile[32];
                snprintf(tile, sizeof tile, "<row_%d_col_%d>", r, c);
                small_vocab_add(sv, tile, 3);
            }
        v->pre = "llama-bpe";
        v->add_bos = true;
        v->chat_template = "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>' }}";
    } else {
        v->bos_id = v->pad_id = small_vocab_add(sv, "<|endoftext|>", 3);
        small_vocab_add(sv, "<|im_start|>", 3);
        v->eos_id = small_vocab_add(sv, "<|im_end|>", 3);
        v->pre = "qwen2";
        if (strcmp(arch, "qwen3") == 0) {
            small_vocab_add(sv, "<think>", 4);
            small_vocab_add(sv, "</think>", 4);
            v->chat_template = "{%- if enable_thinking %}<think>{%- endif %}<|im_start|>";
        } else {
            v->chat_template = "{% for message in messages %}<|im_start|>{% endfor %}";
        }
        if (strcmp(arch, "qwen2vl") == 0) {
            static const char *const vision[] = {"<|vision_start|>", "<|vision_end|>",
                                                 "<|vision_pad|>", "<|image_pad|>",
                                                 "<|video_pad|>"};
            for (size_t i = 0; i < sizeof vision / sizeof vision[0]; i++)
                small_vocab_add(sv, vision[i], 3);
        }
    }
    v->tokens = sv->tokens;
    v->token_types = sv->types;
    v->n_tokens = sv->n_tokens;
    v->merges = sv->merges;
    v->n_merges = sv->n_merges;
    return true;
}

/* ---- weights -------------------------------------------------------------- */

struct synth_rng {
    uint64_t state;
};

static uint64_t splitmix64(struct synth_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static float rng_uniform(struct synth_rng *r)
{
    return (float)((double)(splitmix64(r) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

/* The tensors of one synthetic model; their data is owned here until written. */
struct synth_model {
    struct gguf_writer *w;
    void *blobs[512];
    int n_blobs;
    struct synth_rng rng;
    enum eng_type matrix_type;
};

/* Add a tensor of n = ne0*ne1 values: center + scale * uniform noise. */
static bool add_tensor(struct synth_model *sm, const char *name, int64_t ne0, int64_t ne1,
                       float center, float scale, bool matrix)
{
    enum eng_type type = matrix ? sm->matrix_type : ENG_TYPE_F32;
    size_t n = (size_t)(ne0 * ne1);
    float *values = malloc(sizeof(float) * n);
    void *blob = type == ENG_TYPE_F32 ? values : malloc(quant_row_size(type, ne0) * (size_t)ne1);
    if (!values || !blob || sm->n_blobs >= 512) {
        free(values);
        if (blob != values)
            free(blob);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        values[i] = center + scale * rng_uniform(&sm->rng);
    if (type != ENG_TYPE_F32) {
        quant_quantize_row(type, values, blob, (int64_t)n);
        free(values);
    }
    sm->blobs[sm->n_blobs++] = blob;
    int64_t ne[2] = {ne0, ne1};
    gguf_writer_add_tensor(sm->w, name, type, ne1 > 1 ? 2 : 1, ne, blob);
    return true;
}

/* Llama 3 rope_freqs: factors for factor 32, low 1, high 4, original 8192
 * (convert_hf_to_gguf.py, LlamaModel.generate_extra_tensors). */
static bool add_rope_freqs(struct synth_model *sm, int n_rot, float base)
{
    float *f = malloc(sizeof(float) * (size_t)(n_rot / 2));
    if (!f || sm->n_blobs >= 512) {
        free(f);
        return false;
    }
    const double factor = 32.0, low = 1.0, high = 4.0, orig = 8192.0;
    for (int i = 0; i < n_rot / 2; i++) {
        double freq = pow(base, -2.0 * i / n_rot);
        double wavelen = 2.0 * M_PI / freq;
        if (wavelen < orig / high) {
            f[i] = 1.0f;
        } else if (wavelen > orig / low) {
            f[i] = (float)factor;
        } else {
            double smooth = (orig / wavelen - low) / (high - low);
            f[i] = (float)(1.0 / ((1.0 - smooth) / factor + smooth));
        }
    }
    sm->blobs[sm->n_blobs++] = f;
    int64_t ne[1] = {n_rot / 2};
    gguf_writer_add_tensor(sm->w, "rope_freqs.weight", ENG_TYPE_F32, 1, ne, f);
    return true;
}

static bool add_layer(struct synth_model *sm, const struct synth_shape *sh, const char *arch,
                      int il)
{
    char name[96];
    int q_dim = sh->n_head * sh->head_dim, kv_dim = sh->n_head_kv * sh->head_dim;
    float s_embd = 1.0f / sqrtf((float)sh->n_embd), s_ff = 1.0f / sqrtf((float)sh->n_ff);
    float s_q = 1.0f / sqrtf((float)q_dim);
    bool ok = true;
#define T(suffix, ne0, ne1, center, scale, matrix)                                       \
    (snprintf(name, sizeof name, "blk.%d." suffix, il),                                  \
     ok = ok && add_tensor(sm, name, ne0, ne1, center, scale, matrix))
    T("attn_norm.weight", sh->n_embd, 1, 1.0f, 0.2f, false);
    T("attn_q.weight", sh->n_embd, q_dim, 0.0f, 1.7f * s_embd, true);
    T("attn_k.weight", sh->n_embd, kv_dim, 0.0f, 1.7f * s_embd, true);
    T("attn_v.weight", sh->n_embd, kv_dim, 0.0f, 1.7f * s_embd, true);
    if (strcmp(arch, "qwen2") == 0 || strcmp(arch, "qwen2vl") == 0) {
        T("attn_q.bias", q_dim, 1, 0.0f, 0.5f, false);
        T("attn_k.bias", kv_dim, 1, 0.0f, 0.5f, false);
        T("attn_v.bias", kv_dim, 1, 0.0f, 0.5f, false);
    }
    if (strcmp(arch, "qwen3") == 0) {
        T("attn_q_norm.weight", sh->head_dim, 1, 1.0f, 0.2f, false);
        T("attn_k_norm.weight", sh->head_dim, 1, 1.0f, 0.2f, false);
    }
    T("attn_output.weight", q_dim, sh->n_embd, 0.0f, 6.0f * s_q, true);
    T("ffn_norm.weight", sh->n_embd, 1, 1.0f, 0.2f, false);
    T("ffn_gate.weight", sh->n_embd, sh->n_ff, 0.0f, 1.7f * s_embd, true);
    T("ffn_up.weight", sh->n_embd, sh->n_ff, 0.0f, 1.7f * s_embd, true);
    T("ffn_down.weight", sh->n_ff, sh->n_embd, 0.0f, 6.0f * s_ff, true);
#undef T
    return ok;
}

static void write_hparams(struct gguf_writer *w, const struct synth_shape *sh, const char *arch,
                          int n_vocab, enum eng_type matrix_type)
{
    char key[128];
#define KEY(suffix) (snprintf(key, sizeof key, "%s." suffix, arch), key)
    gguf_writer_set_str(w, "general.architecture", arch);
    gguf_writer_set_str(w, "general.type", "model");
    char name[96];
    snprintf(name, sizeof name, "wenshu synth %s %s", sh->preset, arch);
    gguf_writer_set_str(w, "general.name", name);
    gguf_writer_set_u32(w, "general.file_type", matrix_type == ENG_TYPE_F16 ? 1 : 0);
    gguf_writer_set_u32(w, KEY("context_length"), (uint32_t)sh->n_ctx);
    gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)sh->n_embd);
    gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)sh->n_layer);
    gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)sh->n_ff);
    gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)sh->n_head);
    gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)sh->n_head_kv);
    gguf_writer_set_f32(w, KEY("rope.freq_base"), sh->rope_base);
    gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-6f);
    if (sh->head_dim != sh->n_embd / sh->n_head) {
        gguf_writer_set_u32(w, KEY("attention.key_length"), (uint32_t)sh->head_dim);
        gguf_writer_set_u32(w, KEY("attention.value_length"), (uint32_t)sh->head_dim);
    }
    if (strcmp(arch, "qwen2vl") == 0) {
        gguf_writer_set_arr_i32(w, "qwen2vl.rope.dimension_sections", sh->rope_sections, 4);
    }
    if (strcmp(arch, "llama") == 0) {
        gguf_writer_set_u32(w, KEY("rope.dimension_count"), (uint32_t)sh->head_dim);
        gguf_writer_set_u32(w, KEY("vocab_size"), (uint32_t)n_vocab);
    }
#undef KEY
}

static const struct synth_shape *find_shape(const char *preset, const char *arch)
{
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (strcmp(shapes[i].preset, preset) == 0 && (!arch || strcmp(shapes[i].arch, arch) == 0))
            return &shapes[i];
    return NULL;
}

/* A vocab padded with "[PAD{i}]" tokens up to n (as the converter pads Qwen). */
struct padded_vocab {
    const char **tokens;
    int32_t *types;
    char *pad_text; /* one block holding every "[PADi]" string */
    struct eng_vocab vocab;
};

static bool pad_vocab(struct padded_vocab *pv, const struct eng_vocab *v, size_t n)
{
    memset(pv, 0, sizeof *pv);
    pv->vocab = *v;
    if (n <= v->n_tokens)
        return true;
    pv->tokens = malloc(sizeof(char *) * n);
    pv->types = malloc(sizeof(int32_t) * n);
    pv->pad_text = malloc((n - v->n_tokens) * 16);
    if (!pv->tokens || !pv->types || !pv->pad_text)
        return false;
    memcpy(pv->tokens, v->tokens, sizeof(char *) * v->n_tokens);
    memcpy(pv->types, v->token_types, sizeof(int32_t) * v->n_tokens);
    for (size_t i = v->n_tokens; i < n; i++) {
        char *s = pv->pad_text + (i - v->n_tokens) * 16;
        snprintf(s, 16, "[PAD%zu]", i);
        pv->tokens[i] = s;
        pv->types[i] = 5; /* UNUSED */
    }
    pv->vocab.tokens = pv->tokens;
    pv->vocab.token_types = pv->types;
    pv->vocab.n_tokens = n;
    return true;
}

static void padded_vocab_free(struct padded_vocab *pv)
{
    free(pv->tokens);
    free(pv->types);
    free(pv->pad_text);
}

enum eng_status eng_synth_write(const struct eng_synth_params *p, struct eng_err *err)
{
    if (!p || !p->path || !p->preset)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "synth: no output path or preset");
    const struct synth_shape *sh = find_shape(p->preset, p->arch);
    if (!sh)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "synth: no preset \"%s\" for architecture \"%s\" (presets: tiny for "
                           "qwen2/qwen2vl/qwen3/llama, small, qwen2.5-0.5b, qwen2.5-1.5b, "
                           "qwen3-0.6b, qwen2-vl-2b)",
                           p->preset, p->arch ? p->arch : "any");
    const char *arch = p->arch ? p->arch : sh->arch;
    quant_init();
    enum eng_type matrix_type = ENG_TYPE_F32;
    if (p->weight_type && strcmp(p->weight_type, "F16") == 0)
        matrix_type = ENG_TYPE_F16;
    else if (p->weight_type && strcmp(p->weight_type, "F32") != 0)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "synth: weight type must be F32 or F16, "
                           "not %s (use quantize for others)", p->weight_type);

    struct small_vocab sv;
    struct padded_vocab pv = {0};
    struct synth_model sm = {.rng = {p->seed}, .matrix_type = matrix_type};
    enum eng_status st = ENG_STATUS_ERR_NOMEM;
    const struct eng_vocab *vocab = p->vocab;
    bool ok = vocab || small_vocab_build(&sv, arch);
    if (!vocab)
        vocab = &sv.vocab;
    ok = ok && pad_vocab(&pv, vocab, (size_t)sh->n_vocab);
    int n_vocab = (int)pv.vocab.n_tokens;
    sm.w = gguf_writer_new();
    ok = ok && sm.w;
    if (ok) {
        write_hparams(sm.w, sh, arch, n_vocab, matrix_type);
        write_vocab_keys(sm.w, &pv.vocab);
        ok = add_tensor(&sm, "token_embd.weight", sh->n_embd, n_vocab, 0.0f, 0.1f, true);
        for (int il = 0; ok && il < sh->n_layer; il++)
            ok = add_layer(&sm, sh, arch, il);
        ok = ok && add_tensor(&sm, "output_norm.weight", sh->n_embd, 1, 1.0f, 0.2f, false);
        if (ok && !sh->tied)
            ok = add_tensor(&sm, "output.weight", sh->n_embd, n_vocab, 0.0f,
                            1.7f / sqrtf((float)sh->n_embd), true);
        if (ok && strcmp(arch, "llama") == 0)
            ok = add_rope_freqs(&sm, sh->head_dim, sh->rope_base);
    }
    if (ok)
        st = gguf_writer_write(sm.w, p->path, err);
    else
        eng_set_err(err, st, "%s: out of memory while building the model", p->path);
    gguf_writer_free(&sm.w);
    for (int i = 0; i < sm.n_blobs; i++)
        free(sm.blobs[i]);
    padded_vocab_free(&pv);
    if (!p->vocab)
        small_vocab_free(&sv);
    return st;
}
