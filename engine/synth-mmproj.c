/* synth-mmproj.c: writing vision projector (mmproj) files with fixed
 * pseudo-random F32 weights (test fixtures and benchmark projectors).
 *
 * The keys, their types and the tensor names and shapes are those llama.cpp's
 * convert_hf_to_gguf.py --mmproj writes (MmprojModel.set_gguf_parameters,
 * Qwen2VLVisionModel, SmolVLMModel), quirks included: for qwen2vl_merger the
 * converter writes the text width as feed_forward_length (it reads the vision
 * config's "hidden_size"), and the fixtures do too, so that readers must take
 * n_ff from the tensors as they must for real files.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "gguf.h"
#include "mmproj.h"

struct mmproj_shape {
    const char *preset;
    enum mmproj_type type;
    int n_embd, n_head, n_ff, n_layer;
    int patch_size, image_size;
    int n_embd_text;        /* default projection_dim */
    int merge;              /* Qwen spatial merge (not written, 2), or Idefics3 scale_factor */
    int n_wa_pattern;       /* qwen2.5vl */
    int preproc_image_size; /* idefics3 longest edge */
    float eps;
};

/* Tiny shapes for tests (odd sizes where the layout allows), and the real
 * vision towers from the models' config.json (shared/specs/models.md 2.4, 2.7).
 * Qwen image_size is the converter's 560 placeholder (dynamic resolution). */
static const struct mmproj_shape shapes[] = {
    {"tiny", MMPROJ_TYPE_QWEN2VL, 32, 4, 128, 2, 14, 560, 64, 2, 0, 0, 1e-6f},
    {"tiny", MMPROJ_TYPE_QWEN25VL, 32, 4, 48, 4, 14, 560, 64, 2, 2, 0, 1e-6f},
    {"tiny", MMPROJ_TYPE_IDEFICS3, 32, 4, 64, 2, 16, 64, 64, 2, 0, 128, 1e-6f},
    {"qwen2-vl-2b", MMPROJ_TYPE_QWEN2VL, 1280, 16, 5120, 32, 14, 560, 1536, 2, 0, 0, 1e-6f},
    {"qwen2.5-vl-3b", MMPROJ_TYPE_QWEN25VL, 1280, 16, 3420, 32, 14, 560, 2048, 2, 8, 0, 1e-6f},
    {"smolvlm-256m", MMPROJ_TYPE_IDEFICS3, 768, 12, 3072, 12, 16, 512, 576, 4, 0, 2048, 1e-6f},
};

/* OpenAI CLIP normalisation (Qwen2/2.5-VL preprocessor_config.json). */
static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
static const float half_rgb[3] = {0.5f, 0.5f, 0.5f};

struct eng_mmproj_synth_params eng_mmproj_synth_params_default(void)
{
    return (struct eng_mmproj_synth_params){
        .projector = NULL, .preset = "tiny", .n_embd_text = 0, .seed = 42, .path = NULL};
}

/* ---- weights -------------------------------------------------------------- */

struct mmproj_synth {
    struct gguf_writer *w;
    float **blobs; /* every tensor's data, owned until written */
    int n_blobs, cap_blobs;
    uint64_t rng_state; /* splitmix64 */
    bool ok;
};

static float rng_uniform(struct mmproj_synth *s)
{
    uint64_t z = (s->rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) * (2.0 / 9007199254740992.0) - 1.0); /* [-1, 1) */
}

/* Add an F32 tensor of shape ne[n_dims] holding center + scale * noise. */
static void add_tensor(struct mmproj_synth *s, const char *name, int n_dims, const int64_t *ne,
                       float center, float scale)
{
    if (!s->ok)
        return;
    size_t n = 1;
    for (int d = 0; d < n_dims; d++)
        n *= (size_t)ne[d];
    if (s->n_blobs == s->cap_blobs) {
        int cap = s->cap_blobs ? 2 * s->cap_blobs : 64;
        float **grown = realloc(s->blobs, sizeof(float *) * (size_t)cap);
        if (!grown) {
            s->ok = false;
            return;
        }
        s->blobs = grown;
        s->cap_blobs = cap;
    }
    float *v = malloc(sizeof(float) * n);
    if (!v) {
        s->ok = false;
        return;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = center + scale * rng_uniform(s);
    s->blobs[s->n_blobs++] = v;
    gguf_writer_add_tensor(s->w, name, ENG_TYPE_F32, n_dims, ne, v);
}

/* A Linear layer: weight ne [n_in, n_out] (+ bias [n_out]). */
static void add_linear(struct mmproj_synth *s, const char *prefix, int n_in, int n_out,
                       bool bias)
{
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    add_tensor(s, name, 2, (int64_t[]){n_in, n_out}, 0.0f, 1.7f / sqrtf((float)n_in));
    if (bias) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        add_tensor(s, name, 1, (int64_t[]){n_out}, 0.0f, 0.1f);
    }
}

/* A norm: weight [n] (+ bias [n] for LayerNorm). */
static void add_norm(struct mmproj_synth *s, const char *prefix, int n, bool bias)
{
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    add_tensor(s, name, 1, (int64_t[]){n}, 1.0f, 0.2f);
    if (bias) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        add_tensor(s, name, 1, (int64_t[]){n}, 0.0f, 0.1f);
    }
}

/* One ViT block, named as the converter maps HF's (the qkv split into q, k, v). */
static void add_block(struct mmproj_synth *s, const struct mmproj_shape *sh, int il)
{
    bool layer_norm = sh->type != MMPROJ_TYPE_QWEN25VL; /* 2.5 uses RMSNorm */
    int e = sh->n_embd;
    char prefix[64];
#define P(part) (snprintf(prefix, sizeof prefix, "v.blk.%d." part, il), prefix)
    add_norm(s, P("ln1"), e, layer_norm);
    add_linear(s, P("attn_q"), e, e, true);
    add_linear(s, P("attn_k"), e, e, true);
    add_linear(s, P("attn_v"), e, e, true);
    add_linear(s, P("attn_out"), e, e, true);
    add_norm(s, P("ln2"), e, layer_norm);
    if (sh->type == MMPROJ_TYPE_QWEN25VL)
        add_linear(s, P("ffn_gate"), e, sh->n_ff, true);
    add_linear(s, P("ffn_up"), e, sh->n_ff, true);
    add_linear(s, P("ffn_down"), sh->n_ff, e, true);
#undef P
}

static void add_weights(struct mmproj_synth *s, const struct mmproj_shape *sh, int n_embd_text)
{
    int e = sh->n_embd, ps = sh->patch_size;
    float patch_scale = 1.0f / sqrtf(3.0f * (float)(ps * ps));
    /* Conv kernel: torch [n_embd, 3, ps, ps] is ggml ne [ps, ps, 3, n_embd]. */
    int64_t kernel_ne[4] = {ps, ps, 3, e};
    add_tensor(s, "v.patch_embd.weight", 4, kernel_ne, 0.0f, patch_scale);
    if (sh->type == MMPROJ_TYPE_IDEFICS3) {
        int side = sh->image_size / ps;
        add_tensor(s, "v.patch_embd.bias", 1, (int64_t[]){e}, 0.0f, 0.1f);
        add_tensor(s, "v.position_embd.weight", 2, (int64_t[]){e, (int64_t)side * side}, 0.0f,
                   0.5f);
    } else {
        /* Conv3d (2, ps, ps) split into its two temporal slices. */
        add_tensor(s, "v.patch_embd.weight.1", 4, kernel_ne, 0.0f, patch_scale);
    }
    for (int il = 0; il < sh->n_layer; il++)
        add_block(s, sh, il);
    /* SigLIP post_layernorm, or the Qwen merger's ln_q: both are v.post_ln. */
    add_norm(s, "v.post_ln", e, sh->type != MMPROJ_TYPE_QWEN25VL);
    int merged = e * sh->merge * sh->merge;
    if (sh->type == MMPROJ_TYPE_IDEFICS3) {
        add_linear(s, "mm.model.fc", merged, n_embd_text, false);
    } else {
        add_linear(s, "mm.0", merged, merged, true);
        add_linear(s, "mm.2", merged, n_embd_text, true);
    }
}

/* ---- keys ----------------------------------------------------------------- */

static void write_keys(struct gguf_writer *w, const struct mmproj_shape *sh, int n_embd_text)
{
    char name[96];
    snprintf(name, sizeof name, "wenshu synth %s %s", sh->preset, mmproj_type_name(sh->type));
    gguf_writer_set_str(w, "general.architecture", "clip");
    gguf_writer_set_str(w, "general.type", "mmproj");
    gguf_writer_set_str(w, "general.name", name);
    gguf_writer_set_u32(w, "general.file_type", 0); /* ALL_F32 */
    /* ModelBase.prepare_metadata writes it for every file, mmproj included. */
    gguf_writer_set_u32(w, "general.quantization_version", 2);
    /* MmprojModel.set_gguf_parameters */
    gguf_writer_set_bool(w, "clip.has_vision_encoder", true);
    gguf_writer_set_u32(w, "clip.vision.projection_dim", (uint32_t)n_embd_text);
    gguf_writer_set_u32(w, "clip.vision.image_size", (uint32_t)sh->image_size);
    gguf_writer_set_u32(w, "clip.vision.patch_size", (uint32_t)sh->patch_size);
    gguf_writer_set_u32(w, "clip.vision.embedding_length", (uint32_t)sh->n_embd);
    /* Qwen2-VL: the converter copies the vision config's hidden_size (the
     * text width) here; the real n_ff is only in the tensor shapes. */
    int n_ff_written = sh->type == MMPROJ_TYPE_QWEN2VL ? n_embd_text : sh->n_ff;
    gguf_writer_set_u32(w, "clip.vision.feed_forward_length", (uint32_t)n_ff_written);
    gguf_writer_set_u32(w, "clip.vision.block_count", (uint32_t)sh->n_layer);
    gguf_writer_set_u32(w, "clip.vision.attention.head_count", (uint32_t)sh->n_head);
    bool qwen = sh->type != MMPROJ_TYPE_IDEFICS3;
    gguf_writer_set_arr_f32(w, "clip.vision.image_mean", qwen ? clip_mean : half_rgb, 3);
    gguf_writer_set_arr_f32(w, "clip.vision.image_std", qwen ? clip_std : half_rgb, 3);
    /* The projector classes */
    gguf_writer_set_str(w, "clip.projector_type", mmproj_type_name(sh->type));
    if (sh->type == MMPROJ_TYPE_QWEN25VL) {
        gguf_writer_set_bool(w, "clip.use_silu", true);
        gguf_writer_set_u32(w, "clip.vision.n_wa_pattern", (uint32_t)sh->n_wa_pattern);
    }
    gguf_writer_set_f32(w, "clip.vision.attention.layer_norm_epsilon", sh->eps);
    if (sh->type == MMPROJ_TYPE_IDEFICS3) {
        gguf_writer_set_u32(w, "clip.vision.projector.scale_factor", (uint32_t)sh->merge);
        gguf_writer_set_bool(w, "clip.use_gelu", true);
        gguf_writer_set_u32(w, "clip.vision.preproc_image_size",
                            (uint32_t)sh->preproc_image_size);
    }
}

static const struct mmproj_shape *find_shape(const char *preset, const char *projector)
{
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (strcmp(shapes[i].preset, preset) == 0 &&
            (!projector || strcmp(mmproj_type_name(shapes[i].type), projector) == 0))
            return &shapes[i];
    return NULL;
}

enum eng_status eng_mmproj_synth_write(const struct eng_mmproj_synth_params *p,
                                       struct eng_err *err)
{
    if (!p || !p->path || !p->preset)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "synth: no output path or preset");
    if (!p->projector && strcmp(p->preset, "tiny") == 0)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "synth: the tiny mmproj preset needs a projector type "
                           "(qwen2vl_merger, qwen2.5vl_merger or idefics3)");
    const struct mmproj_shape *sh = find_shape(p->preset, p->projector);
    if (!sh)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "synth: no mmproj preset \"%s\" for projector \"%s\" (presets: tiny "
                           "for qwen2vl_merger/qwen2.5vl_merger/idefics3, qwen2-vl-2b, "
                           "qwen2.5-vl-3b, smolvlm-256m)",
                           p->preset, p->projector ? p->projector : "any");
    if (p->n_embd_text < 0 || p->n_embd_text > (1 << 16))
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "synth: bad text width %d", p->n_embd_text);
    int n_embd_text = p->n_embd_text > 0 ? p->n_embd_text : sh->n_embd_text;

    struct mmproj_synth s = {.w = gguf_writer_new(), .rng_state = p->seed, .ok = true};
    enum eng_status st = ENG_STATUS_ERR_NOMEM;
    s.ok = s.w != NULL;
    if (s.ok) {
        write_keys(s.w, sh, n_embd_text);
        add_weights(&s, sh, n_embd_text);
    }
    if (s.ok)
        st = gguf_writer_write(s.w, p->path, err);
    else
        eng_set_err(err, st, "%s: out of memory while building the projector", p->path);
    gguf_writer_free(&s.w);
    for (int i = 0; i < s.n_blobs; i++)
        free(s.blobs[i]);
    free(s.blobs);
    return st;
}
