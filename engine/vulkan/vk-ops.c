/* vk-ops.c: recording of the non-matmul model ops (norms, rotary
 * embeddings, attention, softmax, activations, element-wise arithmetic and
 * copies) on the Vulkan device; see vk-ops.h for what each computes and the
 * shader files for how. Every op checks its arguments with assertions (a
 * wrong shape is a programming error), fills a push-constant block that
 * mirrors the shader's, and records one dispatch. */
#include <stdio.h>

#include "../engine-internal.h"
#include "vk-ops.h"

/* The most workgroups one grid dimension may hold (the spec's guaranteed
 * minimum of maxComputeWorkGroupCount); larger grids spill into y. */
#define GRID_DIM_MAX 65535u

/* Threads per workgroup of the element-wise shaders; each thread handles 4
 * elements (PER_THREAD in the shaders). */
#define ELEMENTWISE_WG 256u
#define ELEMENTWISE_PER_THREAD 4u
/* Threads per workgroup of rope.comp (one pair slot each). */
#define ROPE_WG 256u
/* attention.comp: threads (half the keys per chunk) and query rows per
 * workgroup. Software devices run a workgroup on one CPU thread, where the
 * per-chunk reductions cost more than on a GPU: they take smaller chunks. */
#define ATTENTION_WG_GPU 128u
#define ATTENTION_WG_CPU 64u
#define ATTENTION_ROWS 8
#define ATTENTION_MAX_HEAD_DIM 256

/* Spread n_groups workgroups over x and y (the shaders rebuild the flat
 * index as wg.y * num_wg.x + wg.x and bound-check it). */
static void set_grid_1d(struct vk_dispatch *d, uint32_t n_groups)
{
    ENG_ASSERT(n_groups > 0);
    d->groups[0] = n_groups < GRID_DIM_MAX ? n_groups : GRID_DIM_MAX;
    d->groups[1] = vk_div_up(n_groups, GRID_DIM_MAX);
    d->groups[2] = 1;
}

/* Record one dispatch of shader over the views (writes[i]: whether binding i
 * is written), with workgroup size wg (spec constant 0). */
static void record(struct vk_ctx *ctx, const char *shader, const struct vk_view *views,
                   const bool *writes, int n_views, const void *push, uint32_t push_size,
                   uint32_t wg, uint32_t n_groups)
{
    struct vk_dispatch d = {
        .shader = shader,
        .n_bindings = n_views,
        .push = push,
        .push_size = push_size,
        .spec = {wg},
        .n_spec = 1,
    };
    for (int i = 0; i < n_views; i++) {
        d.bindings[i] = views[i];
        d.writes[i] = writes[i];
    }
    set_grid_1d(&d, n_groups);
    vk_cmd_dispatch(ctx, &d);
}

/* Workgroup size for the one-workgroup-per-row shaders (norm, softmax): a
 * power of two, smaller for short rows so few threads idle. */
static uint32_t row_workgroup_size(int n) { return n <= 256 ? 64u : 256u; }

/* ---- norms ---------------------------------------------------------------- */

struct norm_push {
    uint32_t n, n_rows;
    float eps;
};

void vk_op_rms_norm(struct vk_ctx *ctx, struct vk_view x, struct vk_view y, struct vk_view w, int n,
                    int n_rows, float eps)
{
    ENG_ASSERT(n > 0 && n_rows >= 0);
    if (n_rows == 0)
        return;
    struct norm_push push = {(uint32_t)n, (uint32_t)n_rows, eps};
    struct vk_view views[3] = {x, y, w};
    bool writes[3] = {false, true, false};
    record(ctx, "rms_norm", views, writes, 3, &push, sizeof push, row_workgroup_size(n),
           (uint32_t)n_rows);
}

void vk_op_layer_norm(struct vk_ctx *ctx, struct vk_view x, struct vk_view y, struct vk_view w,
                      struct vk_view b, int n, int n_rows, float eps)
{
    ENG_ASSERT(n > 0 && n_rows >= 0);
    if (n_rows == 0)
        return;
    struct norm_push push = {(uint32_t)n, (uint32_t)n_rows, eps};
    struct vk_view views[4] = {x, y, w, b};
    bool writes[4] = {false, true, false, false};
    record(ctx, "layer_norm", views, writes, 4, &push, sizeof push, row_workgroup_size(n),
           (uint32_t)n_rows);
}

/* ---- rotary embeddings ------------------------------------------------------ */

/* Mirrors rope.comp's push constants. */
struct rope_push {
    uint32_t n_tok, n_heads, head_dim, n_rot;
    int32_t pos0;
    uint32_t cache_pos0;
    uint32_t sections[4];
};

static const char *rope_shader(enum vk_rope_mode mode, bool kv_write)
{
    switch (mode) {
    case VK_ROPE_NORM:
        return kv_write ? "rope_norm_kv" : "rope_norm";
    case VK_ROPE_NEOX:
        return kv_write ? "rope_neox_kv" : "rope_neox";
    case VK_ROPE_MROPE:
        return kv_write ? "rope_mrope_kv" : "rope_mrope";
    case VK_ROPE_VISION:
        ENG_ASSERT(!kv_write);
        return "rope_vision";
    }
    ENG_ASSERT(!"unknown rope mode");
    return NULL;
}

void vk_op_rope(struct vk_ctx *ctx, const struct vk_rope_args *a)
{
    const bool kv_write = a->k_cache.buf != NULL;
    const bool has_pos = a->mode == VK_ROPE_MROPE || a->mode == VK_ROPE_VISION;
    ENG_ASSERT(a->n_tok >= 0 && a->n_heads > 0 && a->head_dim > 0 && a->head_dim % 2 == 0);
    ENG_ASSERT(a->n_rot > 0 && a->n_rot % 2 == 0 && a->n_rot <= a->head_dim);
    ENG_ASSERT(a->mode != VK_ROPE_VISION || a->n_rot % 4 == 0);
    if (a->mode == VK_ROPE_MROPE) {
        int sum = 0;
        for (int i = 0; i < 4; i++) {
            ENG_ASSERT(a->sections[i] >= 0);
            sum += a->sections[i];
        }
        ENG_ASSERT(sum > 0);
    }
    if (a->n_tok == 0)
        return;

    struct rope_push push = {
        .n_tok = (uint32_t)a->n_tok,
        .n_heads = (uint32_t)a->n_heads,
        .head_dim = (uint32_t)a->head_dim,
        .n_rot = (uint32_t)a->n_rot,
        .pos0 = a->pos0,
        .cache_pos0 = (uint32_t)a->cache_pos0,
    };
    for (int i = 0; i < 4; i++)
        push.sections[i] = (uint32_t)a->sections[i];

    struct vk_view views[6];
    bool writes[6];
    int n = 0;
    views[n] = a->x, writes[n++] = !kv_write; /* rotated in place unless it only feeds the cache */
    views[n] = a->inv_freq, writes[n++] = false;
    if (has_pos)
        views[n] = a->pos, writes[n++] = false;
    if (kv_write) {
        ENG_ASSERT(a->v.buf && a->v_cache.buf && a->cache_pos0 >= 0);
        views[n] = a->v, writes[n++] = false;
        views[n] = a->k_cache, writes[n++] = true;
        views[n] = a->v_cache, writes[n++] = true;
    }
    uint64_t n_slots = (uint64_t)a->n_tok * (uint64_t)a->n_heads * (uint64_t)(a->head_dim / 2);
    ENG_ASSERT(n_slots <= UINT32_MAX);
    record(ctx, rope_shader(a->mode, kv_write), views, writes, n, &push, sizeof push, ROPE_WG,
           vk_div_up(n_slots, ROPE_WG));
}

/* ---- attention -------------------------------------------------------------- */

/* Mirrors attention.comp's push constants. */
struct attention_push {
    uint32_t n_tok, pos0, n_head, n_head_kv, head_dim;
    float scale;
    uint32_t heads_per_wg, toks_per_wg;
};

void vk_op_attention(struct vk_ctx *ctx, const struct vk_attention_args *a)
{
    ENG_ASSERT(a->n_tok >= 0 && a->pos0 >= 0);
    ENG_ASSERT(a->n_head > 0 && a->n_head_kv > 0 && a->n_head % a->n_head_kv == 0);
    ENG_ASSERT(a->head_dim > 0 && a->head_dim % 4 == 0 && a->head_dim <= ATTENTION_MAX_HEAD_DIM);
    if (a->n_tok == 0)
        return;

    /* A workgroup takes up to ATTENTION_ROWS rows of one KV head: the heads
     * of the GQA group (split evenly when the group is larger), then as many
     * tokens as still fit, so K and V loads serve several rows. */
    int group = a->n_head / a->n_head_kv;
    int head_chunks = (group + ATTENTION_ROWS - 1) / ATTENTION_ROWS;
    int heads_per_wg = (group + head_chunks - 1) / head_chunks;
    int toks_per_wg = ATTENTION_ROWS / heads_per_wg;
    if (toks_per_wg > a->n_tok)
        toks_per_wg = a->n_tok;

    struct attention_push push = {
        .n_tok = (uint32_t)a->n_tok,
        .pos0 = (uint32_t)a->pos0,
        .n_head = (uint32_t)a->n_head,
        .n_head_kv = (uint32_t)a->n_head_kv,
        .head_dim = (uint32_t)a->head_dim,
        .scale = a->scale,
        .heads_per_wg = (uint32_t)heads_per_wg,
        .toks_per_wg = (uint32_t)toks_per_wg,
    };
    struct vk_dispatch d = {
        .shader = "attention_f16",
        .n_bindings = 4,
        .bindings = {a->q, a->k_cache, a->v_cache, a->out},
        .writes = {false, false, false, true},
        .push = &push,
        .push_size = sizeof push,
        .spec = {vk_ctx_tune_for_cpu(ctx) ? ATTENTION_WG_CPU : ATTENTION_WG_GPU},
        .n_spec = 1,
        .groups = {(uint32_t)(a->n_head_kv * head_chunks), vk_div_up(a->n_tok, toks_per_wg), 1},
    };
    ENG_ASSERT(d.groups[0] <= GRID_DIM_MAX && d.groups[1] <= GRID_DIM_MAX);
    vk_cmd_dispatch(ctx, &d);
}

/* ---- element-wise ------------------------------------------------------------ */

struct softmax_push {
    uint32_t n, n_rows;
    float scale;
};

void vk_op_softmax(struct vk_ctx *ctx, struct vk_view x, struct vk_view y, int n, int n_rows,
                   float scale)
{
    ENG_ASSERT(n > 0 && n_rows >= 0);
    if (n_rows == 0)
        return;
    struct softmax_push push = {(uint32_t)n, (uint32_t)n_rows, scale};
    struct vk_view views[2] = {x, y};
    bool writes[2] = {false, true};
    record(ctx, "softmax", views, writes, 2, &push, sizeof push, row_workgroup_size(n),
           (uint32_t)n_rows);
}

/* Workgroups the element-wise shaders need for n elements. */
static uint32_t elementwise_groups(uint32_t n)
{
    return vk_div_up(n, (uint64_t)ELEMENTWISE_WG * ELEMENTWISE_PER_THREAD);
}

struct unary_push {
    uint32_t n;
};

void vk_op_unary(struct vk_ctx *ctx, enum vk_unary op, struct vk_view x, struct vk_view y,
                 uint32_t n)
{
    const char *shader = op == VK_UNARY_SILU ? "silu" : op == VK_UNARY_GELU ? "gelu" : "gelu_quick";
    ENG_ASSERT(op == VK_UNARY_SILU || op == VK_UNARY_GELU || op == VK_UNARY_GELU_QUICK);
    if (n == 0)
        return;
    struct unary_push push = {n};
    struct vk_view views[2] = {x, y};
    bool writes[2] = {false, true};
    record(ctx, shader, views, writes, 2, &push, sizeof push, ELEMENTWISE_WG,
           elementwise_groups(n));
}

void vk_op_silu_mul(struct vk_ctx *ctx, struct vk_view a, struct vk_view b, struct vk_view y,
                    uint32_t n)
{
    if (n == 0)
        return;
    struct unary_push push = {n};
    struct vk_view views[3] = {a, b, y};
    bool writes[3] = {false, false, true};
    record(ctx, "silu_mul", views, writes, 3, &push, sizeof push, ELEMENTWISE_WG,
           elementwise_groups(n));
}

/* Mirrors binary.comp's push constants. */
struct binary_push {
    uint32_t n, b_len;
    float s;
};

static void binary_op(struct vk_ctx *ctx, const char *shader, struct vk_view a, struct vk_view b,
                      struct vk_view y, uint32_t n, uint32_t b_len)
{
    ENG_ASSERT(b_len > 0);
    if (n == 0)
        return;
    struct binary_push push = {n, b_len, 0.0f};
    struct vk_view views[3] = {a, b, y};
    bool writes[3] = {false, false, true};
    record(ctx, shader, views, writes, 3, &push, sizeof push, ELEMENTWISE_WG,
           elementwise_groups(n));
}

void vk_op_add(struct vk_ctx *ctx, struct vk_view a, struct vk_view b, struct vk_view y, uint32_t n,
               uint32_t b_len)
{
    binary_op(ctx, "add", a, b, y, n, b_len);
}

void vk_op_mul(struct vk_ctx *ctx, struct vk_view a, struct vk_view b, struct vk_view y, uint32_t n,
               uint32_t b_len)
{
    binary_op(ctx, "mul", a, b, y, n, b_len);
}

void vk_op_scale(struct vk_ctx *ctx, struct vk_view a, struct vk_view y, uint32_t n, float s)
{
    if (n == 0)
        return;
    struct binary_push push = {n, 1, s};
    struct vk_view views[2] = {a, y};
    bool writes[2] = {false, true};
    record(ctx, "scale", views, writes, 2, &push, sizeof push, ELEMENTWISE_WG,
           elementwise_groups(n));
}

/* Mirrors copy.comp's push constants. */
struct copy_push {
    uint32_t n, src_off, dst_off;
};

void vk_op_copy(struct vk_ctx *ctx, struct vk_view src, enum eng_type src_type, uint32_t src_off,
                struct vk_view dst, enum eng_type dst_type, uint32_t dst_off, uint32_t n)
{
    ENG_ASSERT(src_type == ENG_TYPE_F32 || src_type == ENG_TYPE_F16);
    ENG_ASSERT(dst_type == ENG_TYPE_F32 || dst_type == ENG_TYPE_F16);
    if (n == 0)
        return;
    char shader[32];
    snprintf(shader, sizeof shader, "copy_%s_%s", src_type == ENG_TYPE_F32 ? "f32" : "f16",
             dst_type == ENG_TYPE_F32 ? "f32" : "f16");
    struct copy_push push = {n, src_off, dst_off};
    struct vk_view views[2] = {src, dst};
    bool writes[2] = {false, true};
    record(ctx, shader, views, writes, 2, &push, sizeof push, ELEMENTWISE_WG,
           elementwise_groups(n));
}

/* ---- vision encoder ops --------------------------------------------------------- */

void vk_op_gelu_erf(struct vk_ctx *ctx, struct vk_view x, struct vk_view y, uint32_t n)
{
    if (n == 0)
        return;
    struct unary_push push = {n};
    struct vk_view views[2] = {x, y};
    bool writes[2] = {false, true};
    record(ctx, "gelu_erf", views, writes, 2, &push, sizeof push, ELEMENTWISE_WG,
           elementwise_groups(n));
}

/* attention_seg.comp: the most vec4 columns a thread holds per head. */
#define ATTENTION_SEG_MAX_HEAD_DIM 128

int vk_attention_seg_tiles(const int32_t *bounds, int n_seg, int32_t *tiles)
{
    int n_tiles = 0;
    for (int s = 0; s < n_seg; s++) {
        ENG_ASSERT(bounds[s] >= 0 && bounds[s + 1] >= bounds[s]);
        for (int32_t q0 = bounds[s]; q0 < bounds[s + 1]; q0 += VK_ATTENTION_SEG_ROWS) {
            if (tiles) {
                int32_t *t = tiles + 4 * (size_t)n_tiles;
                t[0] = q0;
                t[1] = bounds[s + 1] - q0 < VK_ATTENTION_SEG_ROWS ? bounds[s + 1]
                                                                  : q0 + VK_ATTENTION_SEG_ROWS;
                t[2] = bounds[s];
                t[3] = bounds[s + 1];
            }
            n_tiles++;
        }
    }
    return n_tiles;
}

/* Mirrors attention_seg.comp's push constants. */
struct attention_seg_push {
    uint32_t stride;
    float scale;
};

void vk_op_attention_seg(struct vk_ctx *ctx, const struct vk_attention_seg_args *a)
{
    ENG_ASSERT(a->n_tiles >= 0 && a->n_head > 0);
    ENG_ASSERT(a->head_dim > 0 && a->head_dim % 4 == 0 &&
               a->head_dim <= ATTENTION_SEG_MAX_HEAD_DIM);
    ENG_ASSERT(a->stride % 4 == 0 && a->stride >= a->n_head * a->head_dim);
    ENG_ASSERT(a->tiles.range >= 16 * (uint64_t)a->n_tiles);
    if (a->n_tiles == 0)
        return;
    struct attention_seg_push push = {(uint32_t)a->stride, a->scale};
    struct vk_dispatch d = {
        .shader = "attention_seg",
        .n_bindings = 5,
        .bindings = {a->q, a->k, a->v, a->out, a->tiles},
        .writes = {false, false, false, true, false},
        .push = &push,
        .push_size = sizeof push,
        .spec = {VK_ATTENTION_SEG_ROWS, (uint32_t)a->head_dim / 4},
        .n_spec = 2,
        .groups = {(uint32_t)a->n_tiles, (uint32_t)a->n_head, 1},
    };
    ENG_ASSERT(d.groups[0] <= GRID_DIM_MAX && d.groups[1] <= GRID_DIM_MAX);
    vk_cmd_dispatch(ctx, &d);
}
