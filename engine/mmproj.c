/* mmproj.c: loading and validating a vision projector (mmproj) GGUF file.
 *
 * Keys and tensor names are llama.cpp's (tools/mtmd/clip-impl.h); which of
 * them each projector type needs follows clip.cpp's load_hparams() and
 * load_tensors() and the graphs in tools/mtmd/models/. Every size the
 * encoders will use is checked against the tensors here, so they need no
 * checks of their own.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "mmproj.h"
#include "model.h"

/* Sizes beyond these are refused as corrupt (a real ViT is ~1-2k wide, with
 * 14-16 pixel patches and a 2-4 merge); they keep every product of sizes
 * below (n_embd * merge^2, 3 * patch^2, n_pos) far inside an int. */
#define MMPROJ_MAX_DIM (1 << 16)
#define MMPROJ_MAX_LAYERS 1024
#define MMPROJ_MAX_PATCH 256
#define MMPROJ_MAX_MERGE 16
#define MMPROJ_MAX_SIDE 1024 /* patches per side of a fixed-size (SigLIP) image */

static const struct {
    const char *name;
    enum mmproj_type type;
} projector_names[] = {
    {"qwen2vl_merger", MMPROJ_TYPE_QWEN2VL},
    {"qwen2.5vl_merger", MMPROJ_TYPE_QWEN25VL},
    {"qwen2.5o", MMPROJ_TYPE_QWEN25VL}, /* Qwen2.5-Omni's vision tower (clip.cpp) */
    {"idefics3", MMPROJ_TYPE_IDEFICS3},
};

const char *mmproj_type_name(enum mmproj_type type)
{
    switch (type) {
    case MMPROJ_TYPE_QWEN2VL: return "qwen2vl_merger";
    case MMPROJ_TYPE_QWEN25VL: return "qwen2.5vl_merger";
    case MMPROJ_TYPE_IDEFICS3: return "idefics3";
    }
    return "unknown";
}

static bool is_qwen(const struct mmproj *p)
{
    return p->type == MMPROJ_TYPE_QWEN2VL || p->type == MMPROJ_TYPE_QWEN25VL;
}

/* ---- keys ------------------------------------------------------------------ */

/* Read an integer key into *out, within [min_value, MMPROJ_MAX_DIM]. A
 * missing key is an error when required, else *out keeps its value. */
static enum eng_status read_int(const struct mmproj *p, const char *key, bool required,
                                int min_value, int *out, struct eng_err *err)
{
    const struct gguf_kv *kv = gguf_find_kv(p->gguf, key);
    uint32_t v;
    if (!kv) {
        if (!required)
            return ENG_STATUS_OK;
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: missing key %s", p->gguf->path, key);
    }
    if (!gguf_get_u32(p->gguf, key, &v))
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: key %s is a %s, expected a non-negative integer", p->gguf->path,
                           key, gguf_value_type_name(kv->type));
    if (v < (uint32_t)min_value || v > MMPROJ_MAX_DIM)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: key %s has an invalid value %u",
                           p->gguf->path, key, v);
    *out = (int)v;
    return ENG_STATUS_OK;
}

/* Read an f32[3] array key (image_mean, image_std). */
static enum eng_status read_rgb(const struct mmproj *p, const char *key, float out[3],
                                struct eng_err *err)
{
    const struct gguf_kv *kv = gguf_find_kv(p->gguf, key);
    if (!kv)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: missing key %s", p->gguf->path, key);
    if (kv->type != GGUF_TYPE_ARRAY || kv->arr_type != GGUF_TYPE_FLOAT32 || kv->arr_n != 3)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: key %s must be an array of 3 f32 (one per RGB channel)",
                           p->gguf->path, key);
    memcpy(out, kv->value, sizeof(float) * 3); /* the map may be unaligned */
    for (int c = 0; c < 3; c++)
        if (!isfinite(out[c]))
            return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: key %s has a non-finite value",
                               p->gguf->path, key);
    return ENG_STATUS_OK;
}

static bool str_is(struct gguf_str s, const char *text)
{
    return s.len == strlen(text) && memcmp(s.data, text, s.len) == 0;
}

static enum eng_status read_arch_and_type(struct mmproj *p, struct eng_err *err)
{
    const char *path = p->gguf->path;
    struct gguf_str s;
    if (!gguf_get_str(p->gguf, "general.architecture", &s))
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: missing key general.architecture",
                           path);
    if (!str_is(s, "clip"))
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: not an mmproj file (general.architecture is \"%.*s\", expected "
                           "\"clip\")", path, (int)(s.len > 32 ? 32 : s.len), s.data);
    bool has_vision = false;
    if (!gguf_get_bool(p->gguf, "clip.has_vision_encoder", &has_vision) || !has_vision)
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                           "%s: clip.has_vision_encoder is not true: the file has no vision "
                           "encoder", path);
    if (!gguf_get_str(p->gguf, "clip.projector_type", &s) &&
        !gguf_get_str(p->gguf, "clip.vision.projector_type", &s))
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: missing key clip.projector_type", path);
    for (size_t i = 0; i < sizeof projector_names / sizeof projector_names[0]; i++) {
        if (str_is(s, projector_names[i].name)) {
            p->type = projector_names[i].type;
            snprintf(p->type_name, sizeof p->type_name, "%s", projector_names[i].name);
            return ENG_STATUS_OK;
        }
    }
    return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                       "%s: unsupported projector type \"%.*s\" (supported: qwen2vl_merger, "
                       "qwen2.5vl_merger, idefics3)", path, (int)(s.len > 64 ? 64 : s.len),
                       s.data);
}

/* The activation named by clip.use_gelu / clip.use_silu (clip.cpp). */
static enum eng_status read_ffn_op(struct mmproj *p, struct eng_err *err)
{
    bool use_gelu = false, use_silu = false;
    gguf_get_bool(p->gguf, "clip.use_gelu", &use_gelu);
    gguf_get_bool(p->gguf, "clip.use_silu", &use_silu);
    if (use_gelu && use_silu)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: both clip.use_gelu and clip.use_silu are true", p->gguf->path);
    p->ffn_op = use_silu ? MMPROJ_FFN_SILU : use_gelu ? MMPROJ_FFN_GELU : MMPROJ_FFN_GELU_QUICK;
    return ENG_STATUS_OK;
}

static enum eng_status read_hparams(struct mmproj *p, struct eng_err *err)
{
    const char *path = p->gguf->path;
    enum eng_status st;
    if ((st = read_int(p, "clip.vision.embedding_length", true, 1, &p->n_embd, err)) ||
        (st = read_int(p, "clip.vision.attention.head_count", true, 1, &p->n_head, err)) ||
        (st = read_int(p, "clip.vision.block_count", true, 1, &p->n_layer, err)) ||
        (st = read_int(p, "clip.vision.projection_dim", true, 1, &p->projection_dim, err)) ||
        (st = read_int(p, "clip.vision.image_size", true, 0, &p->image_size, err)) ||
        (st = read_int(p, "clip.vision.patch_size", true, 1, &p->patch_size, err)) ||
        /* Kept only for information: known files write it wrong (or 0). */
        (st = read_int(p, "clip.vision.feed_forward_length", false, 0, &p->n_ff_metadata, err)) ||
        (st = read_rgb(p, "clip.vision.image_mean", p->image_mean, err)) ||
        (st = read_rgb(p, "clip.vision.image_std", p->image_std, err)) ||
        (st = read_ffn_op(p, err)))
        return st;
    if (p->n_layer > MMPROJ_MAX_LAYERS)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: block_count %d is too large", path,
                           p->n_layer);
    if (p->patch_size > MMPROJ_MAX_PATCH)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: patch_size %d is too large", path,
                           p->patch_size);
    for (int c = 0; c < 3; c++)
        if (!(p->image_std[c] > 0.0f))
            return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                               "%s: clip.vision.image_std[%d] = %g is not positive", path, c,
                               (double)p->image_std[c]);
    if (!gguf_get_f32(p->gguf, "clip.vision.attention.layer_norm_epsilon", &p->eps))
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: missing or invalid key clip.vision.attention.layer_norm_epsilon",
                           path);
    if (!(p->eps > 0.0f && p->eps < 1.0f))
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: invalid norm epsilon %g", path,
                           (double)p->eps);
    if (p->n_embd % p->n_head != 0)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: embedding_length %d is not a multiple of head_count %d", path,
                           p->n_embd, p->n_head);
    p->head_dim = p->n_embd / p->n_head;
    /* Qwen's vision RoPE rotates 4 sections of head_dim / 4 (clip.cpp). */
    int head_align = is_qwen(p) ? 4 : 1;
    if (p->head_dim % head_align != 0)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: head size %d is not a multiple of %d", path, p->head_dim,
                           head_align);
    p->norm = p->type == MMPROJ_TYPE_QWEN25VL ? MMPROJ_NORM_RMS : MMPROJ_NORM_LAYER;
    if (is_qwen(p)) {
        p->merge_size = 2; /* clip.cpp's default for Qwen 2 and 2.5 */
        if ((st = read_int(p, "clip.vision.spatial_merge_size", false, 1, &p->merge_size, err)))
            return st;
        if (p->merge_size > MMPROJ_MAX_MERGE)
            return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: spatial_merge_size %d is too "
                               "large", path, p->merge_size);
        /* clip.cpp requires the window pattern for 2.5 only. */
        if ((st = read_int(p, "clip.vision.n_wa_pattern", p->type == MMPROJ_TYPE_QWEN25VL,
                           p->type == MMPROJ_TYPE_QWEN25VL ? 1 : 0, &p->n_wa_pattern, err)))
            return st;
        /* Qwen2.5-VL's vision_config.window_size; the converter does not write it. */
        p->window_size = 112;
        if ((st = read_int(p, "clip.vision.window_size", false, 1, &p->window_size, err)))
            return st;
        if (p->window_size % (p->patch_size * p->merge_size) != 0)
            return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: window_size %d is not a multiple "
                               "of patch_size %d x spatial_merge_size %d", path, p->window_size,
                               p->patch_size, p->merge_size);
    } else {
        if ((st = read_int(p, "clip.vision.projector.scale_factor", false, 1, &p->merge_size,
                           err)) ||
            (st = read_int(p, "clip.vision.preproc_image_size", false, 1,
                           &p->preproc_image_size, err)))
            return st;
        if (p->image_size == 0 || p->image_size % p->patch_size != 0)
            return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                               "%s: image_size %d is not a positive multiple of patch_size %d",
                               path, p->image_size, p->patch_size);
        int side = p->image_size / p->patch_size;
        if (side > MMPROJ_MAX_SIDE || p->merge_size > MMPROJ_MAX_MERGE)
            return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                               "%s: %d patches per side or scale_factor %d is too large", path,
                               side, p->merge_size);
        p->n_pos = side * side;
        if (p->merge_size > 0 && side % p->merge_size != 0)
            return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                               "%s: %d patches per side cannot be shuffled by scale_factor %d",
                               path, side, p->merge_size);
    }
    return ENG_STATUS_OK;
}

/* ---- tensors --------------------------------------------------------------- */

static bool is_float_type(enum eng_type t)
{
    return t == ENG_TYPE_F32 || t == ENG_TYPE_F16 || t == ENG_TYPE_BF16;
}

static enum eng_status missing_tensor(const struct mmproj *p, const char *name,
                                      struct eng_err *err)
{
    return weights_missing(p->gguf, name, p->type_name, err);
}

/* Bind tensor `name` as the patch-embedding conv kernel [ps, ps, 3, n_out],
 * read as floats (not dotted); it is kept as a matrix of n_out rows of
 * n_in = ps * ps * 3. */
static enum eng_status bind_kernel(struct mmproj *p, const char *name, int kernel_ps, int n_out,
                                   bool required, struct cpu_matrix *out, struct eng_err *err)
{
    const struct gguf_tensor *t = gguf_find_tensor(p->gguf, name);
    memset(out, 0, sizeof *out);
    if (!t)
        return required ? missing_tensor(p, name, err) : ENG_STATUS_OK;
    if (t->n_dims != 4 || t->ne[0] != kernel_ps || t->ne[1] != kernel_ps || t->ne[2] != 3 ||
        t->ne[3] != n_out) {
        char shape[96];
        weights_format_shape(t, shape, sizeof shape);
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: tensor %s has shape %s, expected [%d, %d, 3, %d]", p->gguf->path,
                           name, shape, kernel_ps, kernel_ps, n_out);
    }
    if (!is_float_type(t->type))
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                           "%s: tensor %s has type %s (%d), which the engine cannot compute with",
                           p->gguf->path, name, quant_traits(t->type) ? quant_traits(t->type)->name
                                                                       : "unknown",
                           (int)t->type);
    int n_in = kernel_ps * kernel_ps * 3;
    *out = (struct cpu_matrix){.type = t->type, .data = t->data, .n_in = n_in, .n_out = n_out,
                               .row_bytes = quant_row_size(t->type, n_in)};
    return ENG_STATUS_OK;
}

static enum eng_status bind_matrix(struct mmproj *p, const char *name, int n_in, int n_out,
                                   bool required, struct cpu_matrix *out, struct eng_err *err)
{
    return weights_bind_matrix(p->gguf, name, n_in, n_out, required, p->type_name, out, err);
}

/* Bind a 1-D tensor of n elements as an owned f32 array. */
static enum eng_status bind_vector(struct mmproj *p, const char *name, int n, bool required,
                                   float **out, struct eng_err *err)
{
    return weights_bind_vector(p->gguf, &p->owned, name, n, required, p->type_name, out, err);
}

/* Old converters wrote ffn_up and ffn_down under each other's names.
 * clip.cpp swaps them back when ffn_down's rows are n_embd long; this asks
 * also that the shapes differ, which they always do unless n_ff == n_embd
 * (then the file cannot tell, and the names are taken as written). */
static bool layer_ffn_swapped(const struct mmproj *p, int il)
{
    char name[96];
    snprintf(name, sizeof name, "v.blk.%d.ffn_down.weight", il);
    const struct gguf_tensor *down = gguf_find_tensor(p->gguf, name);
    return down && down->n_dims == 2 && down->ne[0] == p->n_embd && down->ne[1] != p->n_embd;
}

/* n_ff from layer 0's up projection (metadata is unreliable, see mmproj.h). */
static enum eng_status derive_n_ff(struct mmproj *p, struct eng_err *err)
{
    char name[96];
    bool swapped = layer_ffn_swapped(p, 0);
    snprintf(name, sizeof name, "v.blk.0.%s.weight", swapped ? "ffn_down" : "ffn_up");
    const struct gguf_tensor *up = gguf_find_tensor(p->gguf, name);
    if (!up)
        return missing_tensor(p, name, err);
    /* Only the names were swapped: the up projection, under whichever name,
     * is stored as [n_embd, n_ff]. */
    int64_t n_ff = up->ne[1];
    if (up->n_dims != 2 || n_ff < 1 || n_ff > MMPROJ_MAX_DIM) {
        char shape[96];
        weights_format_shape(up, shape, sizeof shape);
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: tensor %s has shape %s, which gives no feed-forward size",
                           p->gguf->path, name, shape);
    }
    p->n_ff = (int)n_ff;
    return ENG_STATUS_OK;
}

static enum eng_status bind_layer_ffn(struct mmproj *p, int il, struct eng_err *err)
{
    struct mmproj_layer *l = &p->layers[il];
    bool swapped = layer_ffn_swapped(p, il);
    const char *up_name = swapped ? "ffn_down" : "ffn_up";
    const char *down_name = swapped ? "ffn_up" : "ffn_down";
    bool gated = p->type == MMPROJ_TYPE_QWEN25VL;
    char name[96];
    enum eng_status st;
    p->ffn_swapped = p->ffn_swapped || swapped;
#define NAME(part, suffix) (snprintf(name, sizeof name, "v.blk.%d.%s.%s", il, part, suffix), name)
    if ((st = bind_matrix(p, NAME(up_name, "weight"), p->n_embd, p->n_ff, true, &l->ffn_up, err)) ||
        (st = bind_vector(p, NAME(up_name, "bias"), p->n_ff, true, &l->ffn_up_b, err)) ||
        (st = bind_matrix(p, NAME(down_name, "weight"), p->n_ff, p->n_embd, true,
                          &l->ffn_down, err)) ||
        (st = bind_vector(p, NAME(down_name, "bias"), p->n_embd, true, &l->ffn_down_b, err)) ||
        (st = bind_matrix(p, NAME("ffn_gate", "weight"), p->n_embd, p->n_ff, gated, &l->ffn_gate,
                          err)) ||
        (st = bind_vector(p, NAME("ffn_gate", "bias"), p->n_ff, gated, &l->ffn_gate_b, err)))
        return st;
#undef NAME
    if (!gated && l->ffn_gate.data)
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                           "%s: tensor v.blk.%d.ffn_gate.weight is not used by %s",
                           p->gguf->path, il, p->type_name);
    return ENG_STATUS_OK;
}

static enum eng_status bind_layer(struct mmproj *p, int il, struct eng_err *err)
{
    struct mmproj_layer *l = &p->layers[il];
    bool has_bias = p->norm == MMPROJ_NORM_LAYER;
    int e = p->n_embd;
    char name[96];
    enum eng_status st;
#define NAME(suffix) (snprintf(name, sizeof name, "v.blk.%d." suffix, il), name)
    if ((st = bind_vector(p, NAME("ln1.weight"), e, true, &l->ln1_w, err)) ||
        (st = bind_vector(p, NAME("ln1.bias"), e, has_bias, &l->ln1_b, err)) ||
        (st = bind_matrix(p, NAME("attn_q.weight"), e, e, true, &l->wq, err)) ||
        (st = bind_vector(p, NAME("attn_q.bias"), e, true, &l->bq, err)) ||
        (st = bind_matrix(p, NAME("attn_k.weight"), e, e, true, &l->wk, err)) ||
        (st = bind_vector(p, NAME("attn_k.bias"), e, true, &l->bk, err)) ||
        (st = bind_matrix(p, NAME("attn_v.weight"), e, e, true, &l->wv, err)) ||
        (st = bind_vector(p, NAME("attn_v.bias"), e, true, &l->bv, err)) ||
        (st = bind_matrix(p, NAME("attn_out.weight"), e, e, true, &l->wo, err)) ||
        (st = bind_vector(p, NAME("attn_out.bias"), e, true, &l->bo, err)) ||
        (st = bind_vector(p, NAME("ln2.weight"), e, true, &l->ln2_w, err)) ||
        (st = bind_vector(p, NAME("ln2.bias"), e, has_bias, &l->ln2_b, err)))
        return st;
#undef NAME
    if (!has_bias && (l->ln1_b || l->ln2_b))
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                           "%s: layer %d has norm biases, but %s uses RMSNorm", p->gguf->path,
                           il, p->type_name);
    l->full_attention = p->n_wa_pattern == 0 || (il + 1) % p->n_wa_pattern == 0;
    return bind_layer_ffn(p, il, err);
}

static enum eng_status bind_embeddings(struct mmproj *p, struct eng_err *err)
{
    int ps = p->patch_size, e = p->n_embd;
    enum eng_status st;
    bool siglip = p->type == MMPROJ_TYPE_IDEFICS3;
    bool has_bias = p->norm == MMPROJ_NORM_LAYER;
    if ((st = bind_kernel(p, "v.patch_embd.weight", ps, e, true, &p->patch_embd, err)) ||
        (st = bind_kernel(p, "v.patch_embd.weight.1", ps, e, !siglip, &p->patch_embd_1, err)) ||
        (st = bind_vector(p, "v.patch_embd.bias", e, siglip, &p->patch_bias, err)) ||
        (st = bind_vector(p, "v.post_ln.weight", e, true, &p->post_ln_w, err)) ||
        (st = bind_vector(p, "v.post_ln.bias", e, has_bias, &p->post_ln_b, err)))
        return st;
    if (siglip) {
        /* The position table is added, not dotted: it must be a float type. */
        const struct gguf_tensor *t = gguf_find_tensor(p->gguf, "v.position_embd.weight");
        if (t && !is_float_type(t->type))
            return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                               "%s: v.position_embd.weight must be F32, F16 or BF16",
                               p->gguf->path);
        if ((st = bind_matrix(p, "v.position_embd.weight", e, p->n_pos, true, &p->position_embd,
                              err)))
            return st;
    }
    if (!siglip && (p->patch_bias || gguf_find_tensor(p->gguf, "v.position_embd.weight")))
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                           "%s: %s has no patch bias or position table, but the file has one",
                           p->gguf->path, p->type_name);
    if (!has_bias && p->post_ln_b)
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                           "%s: v.post_ln.bias is present, but %s uses RMSNorm", p->gguf->path,
                           p->type_name);
    return ENG_STATUS_OK;
}

/* projection_dim must equal the width the projector really outputs. */
static enum eng_status check_output_width(struct mmproj *p, const char *name,
                                          struct eng_err *err)
{
    const struct gguf_tensor *t = gguf_find_tensor(p->gguf, name);
    if (!t)
        return missing_tensor(p, name, err);
    if (t->n_dims == 2 && t->ne[1] != p->projection_dim)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: clip.vision.projection_dim is %d but %s outputs %lld values",
                           p->gguf->path, p->projection_dim, name, (long long)t->ne[1]);
    return ENG_STATUS_OK;
}

static enum eng_status bind_projector(struct mmproj *p, struct eng_err *err)
{
    enum eng_status st;
    if (is_qwen(p)) {
        int merged = p->n_embd * p->merge_size * p->merge_size;
        if ((st = check_output_width(p, "mm.2.weight", err)) ||
            (st = bind_matrix(p, "mm.0.weight", merged, merged, true, &p->mm0, err)) ||
            (st = bind_vector(p, "mm.0.bias", merged, true, &p->mm0_b, err)) ||
            (st = bind_matrix(p, "mm.2.weight", merged, p->projection_dim, true, &p->mm2, err)) ||
            (st = bind_vector(p, "mm.2.bias", p->projection_dim, true, &p->mm2_b, err)))
            return st;
        return ENG_STATUS_OK;
    }
    const char *fc = "mm.model.fc.weight";
    const struct gguf_tensor *t = gguf_find_tensor(p->gguf, fc);
    if (!t)
        return missing_tensor(p, fc, err);
    if ((st = check_output_width(p, fc, err)))
        return st;
    /* The shuffle factor s gives fc rows of n_embd * s^2; derive s when the
     * key is absent, and check it when present. */
    int s = p->merge_size;
    if (s == 0) {
        int64_t ratio = t->ne[0] / p->n_embd;
        s = (int)lround(sqrt((double)ratio));
        if (s < 1 || s > MMPROJ_MAX_MERGE || (int64_t)s * s * p->n_embd != t->ne[0])
            return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                               "%s: %s has rows of %lld, not n_embd %d times a square",
                               p->gguf->path, fc, (long long)t->ne[0], p->n_embd);
        int side = p->image_size / p->patch_size;
        if (side % s != 0)
            return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                               "%s: %d patches per side cannot be shuffled by %d",
                               p->gguf->path, side, s);
        p->merge_size = s;
    }
    return bind_matrix(p, fc, p->n_embd * s * s, p->projection_dim, true, &p->mm_fc, err);
}

static enum eng_status bind_weights(struct mmproj *p, struct eng_err *err)
{
    enum eng_status st;
    if ((st = bind_embeddings(p, err)) || (st = derive_n_ff(p, err)))
        return st;
    p->layers = calloc((size_t)p->n_layer, sizeof *p->layers);
    if (!p->layers)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: out of memory", p->gguf->path);
    for (int il = 0; il < p->n_layer; il++)
        if ((st = bind_layer(p, il, err)))
            return st;
    /* block_count must cover every layer in the file, not just a prefix. */
    char name[96];
    snprintf(name, sizeof name, "v.blk.%d.attn_out.weight", p->n_layer);
    if (gguf_find_tensor(p->gguf, name))
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: clip.vision.block_count is %d but the file has tensor %s",
                           p->gguf->path, p->n_layer, name);
    return bind_projector(p, err);
}

/* ---- public (to the engine) ---------------------------------------------- */

enum eng_status mmproj_load(const char *path, struct mmproj **out, struct eng_err *err)
{
    *out = NULL;
    if (!path)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "no mmproj path given");
    quant_init();
    struct mmproj *p = calloc(1, sizeof *p);
    if (!p)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: out of memory", path);
    enum eng_status st;
    if ((st = gguf_open_ex(path, GGUF_LOAD_MMAP, &p->gguf, err)) ||
        (st = read_arch_and_type(p, err)))
        goto out_free;
    struct gguf_str name;
    if (gguf_get_str(p->gguf, "general.name", &name))
        snprintf(p->name, sizeof p->name, "%.*s", (int)(name.len < 127 ? name.len : 127),
                 name.data);
    if ((st = read_hparams(p, err)) || (st = bind_weights(p, err)))
        goto out_free;
    *out = p;
    return ENG_STATUS_OK;

out_free:
    mmproj_free(&p);
    return st;
}

void mmproj_free(struct mmproj **proj)
{
    struct mmproj *p = proj ? *proj : NULL;
    if (!p)
        return;
    owned_vectors_free(&p->owned);
    free(p->layers);
    gguf_close(&p->gguf);
    free(p);
    *proj = NULL;
}

enum eng_status mmproj_check_pair(const struct mmproj *p, const struct eng_model *text,
                                  struct eng_err *err)
{
    if (p->projection_dim == text->n_embd)
        return ENG_STATUS_OK;
    return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                       "%s and %s do not belong together: the projector outputs %d-wide "
                       "embeddings (projection_dim) but the text model's embedding width is %d",
                       p->gguf->path, text->gguf ? text->gguf->path : "the text model",
                       p->projection_dim, text->n_embd);
}
