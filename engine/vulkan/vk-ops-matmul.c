/* vk-ops-matmul.c: recording of the weight ops on the Vulkan device: the
 * matrix product (mul_mat_vec.comp for a few tokens, the tiled mul_mat.comp
 * from VK_MUL_MAT_MIN_TILED_TOKENS on), the fused SwiGLU of a decode step
 * (mul_mat_vec.comp with GLU) and the embedding row fetch
 * (get_rows.comp), for every weight type the shaders dequantize
 * (shaders/dequant.glsl). See vk-ops.h for what each op computes and the
 * shader files for how. A matrix split into parts takes one dispatch per
 * part; each part's view is bound alone and the shader is told the part's
 * first row, so the outputs land where a single dispatch would put them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine-internal.h"
#include "vk-ops.h"

/* The most workgroups one grid dimension may hold (the spec's guaranteed
 * minimum of maxComputeWorkGroupCount); larger grids spill into y or z. */
#define GRID_DIM_MAX 65535u

/* get_rows.comp: threads per workgroup, each writing 32 elements. */
#define GET_ROWS_WG 64u

/* Push constants of mul_mat_vec.comp and mul_mat.comp (the same block). */
struct mul_mat_push {
    uint32_t n_in, n_rows, row0;
    uint32_t x_stride, y_stride;
    uint32_t n_tok;
    uint32_t flags;
};
#define MUL_MAT_FLAG_BIAS 1u
#define MUL_MAT_FLAG_ACCUMULATE 2u

/* Specialization constant 3 (mul_mat_vec) / 1 (mul_mat, get_rows). */
#define ALIGN_ACTIVATIONS 1u /* x rows (or get_rows' y rows) start on 16 bytes */
#define ALIGN_WEIGHTS 2u     /* weight rows start on 16 bytes (float types only) */

struct get_rows_push {
    uint32_t n_in, n_rows, row0, n;
};

bool vk_type_supported(enum eng_type type)
{
    switch (type) {
    case ENG_TYPE_F32:
    case ENG_TYPE_F16:
    case ENG_TYPE_BF16:
    case ENG_TYPE_Q4_0:
    case ENG_TYPE_Q4_1:
    case ENG_TYPE_Q5_0:
    case ENG_TYPE_Q5_1:
    case ENG_TYPE_Q8_0:
    case ENG_TYPE_Q4_K:
    case ENG_TYPE_Q5_K:
    case ENG_TYPE_Q6_K:
    case ENG_TYPE_IQ4_NL: return true;
    default: return false;
    }
}

/* The shader-name suffix of a weight type ("q4_0", ...). */
static const char *type_suffix(enum eng_type type)
{
    switch (type) {
    case ENG_TYPE_F32: return "f32";
    case ENG_TYPE_F16: return "f16";
    case ENG_TYPE_BF16: return "bf16";
    case ENG_TYPE_Q4_0: return "q4_0";
    case ENG_TYPE_Q4_1: return "q4_1";
    case ENG_TYPE_Q5_0: return "q5_0";
    case ENG_TYPE_Q5_1: return "q5_1";
    case ENG_TYPE_Q8_0: return "q8_0";
    case ENG_TYPE_Q4_K: return "q4_k";
    case ENG_TYPE_Q5_K: return "q5_k";
    case ENG_TYPE_Q6_K: return "q6_k";
    case ENG_TYPE_IQ4_NL: return "iq4_nl";
    default: break;
    }
    ENG_ASSERT(!"weight type without a shader");
    return NULL;
}

/* Check a matrix against its type and return the shader-name suffix. */
static const char *check_matrix(const struct vk_matrix *w)
{
    ENG_ASSERT(w && vk_type_supported(w->type) && w->n_in > 0 && w->n_out > 0);
    ENG_ASSERT(w->n_in % quant_traits(w->type)->blck == 0);
    ENG_ASSERT(w->row_bytes == quant_row_size(w->type, w->n_in));
    ENG_ASSERT(w->n_parts >= 1 && w->parts);
    return type_suffix(w->type);
}

/* The view of one part as bound to binding 0. The shaders read weights in
 * 16-byte units (uvec4) relative to the view's start, so the offset must be
 * a multiple of 16 and the range is rounded up to 16: the last block of a
 * part may end inside a granule. Whoever lays the matrix out must leave
 * those bytes inside the buffer (they are read, never used). */
static struct vk_view weight_view(struct vk_ctx *ctx, const struct vk_matrix *w, int part)
{
    const struct vk_matrix_part *p = &w->parts[part];
    ENG_ASSERT(p->n_rows > 0 && p->row0 >= 0 && p->row0 + p->n_rows <= w->n_out);
    ENG_ASSERT(p->view.range >= (uint64_t)p->n_rows * w->row_bytes);
    ENG_ASSERT(p->view.offset % 16 == 0);
    struct vk_view v = p->view;
    v.range = (v.range + 15) / 16 * 16;
    ENG_ASSERT(v.offset + v.range <= v.buf->size && v.range <= vk_ctx_max_binding(ctx));
    return v;
}

/* How the shaders are shaped on a device (spec constants). Two tunings:
 *  - portable (GPUs): mul_mat_vec shares each row among 32 threads that add
 *    up through shared memory; mul_mat uses 64 x 64 shared-memory tiles.
 *  - software Vulkan (llvmpipe and other CPU-type devices, where every load
 *    is a loop over the lanes whatever its width, shared memory costs as
 *    much as a buffer, barriers switch coroutines, and both sides of every
 *    branch run): each invocation owns whole rows, in registers, with no
 *    shared memory and no barrier.
 * WENSHU_VK_TUNING=gpu|cpu forces one (the tests run both). */
struct matmul_tuning {
    /* mul_mat_vec: threads per workgroup, rows per thread, threads per row;
     * rows per thread of the GLU variant (two dots a row: on software Vulkan
     * 8 holds as many sums as the plain 16; 4, 8 and 16 time alike there) */
    uint32_t vec_wg, vec_rows_per_thread, vec_row_threads, glu_rows_per_thread;
    /* mul_mat: threads per workgroup, direct mode, tile rows, tile tokens */
    uint32_t tiled_wg, tiled_direct, tile_rows, tile_tokens;
};

static struct matmul_tuning tuning_for(const struct vk_ctx *ctx)
{
    const struct matmul_tuning gpu = {.vec_wg = 128, .vec_rows_per_thread = 1,
                                      .vec_row_threads = 32, .glu_rows_per_thread = 1,
                                      .tiled_wg = 64, .tiled_direct = 0, .tile_rows = 64,
                                      .tile_tokens = 64};
    const struct matmul_tuning cpu = {.vec_wg = 8, .vec_rows_per_thread = 16,
                                      .vec_row_threads = 1, .glu_rows_per_thread = 8,
                                      .tiled_wg = 8, .tiled_direct = 1, .tile_rows = 8 * 8,
                                      .tile_tokens = 8};
    return vk_ctx_tune_for_cpu(ctx) ? cpu : gpu;
}

/* ---- matrix product ----------------------------------------------------------- */

/* One mul_mat_vec.comp dispatch (shader: the variant's name) over the
 * push->n_rows rows of a part. bindings: weights, x, y, and bias (GLU: the
 * up weights); only y is written. */
static void dispatch_mul_mat_vec(struct vk_ctx *ctx, const char *shader,
                                 const struct mul_mat_push *push, const struct vk_view bindings[4],
                                 uint32_t rows_per_thread, uint32_t align)
{
    const struct matmul_tuning tu = tuning_for(ctx);
    struct vk_dispatch d = {
        .shader = shader,
        .n_bindings = 4,
        .bindings = {bindings[0], bindings[1], bindings[2], bindings[3]},
        .writes = {false, false, true, false},
        .push = push,
        .push_size = sizeof *push,
        .spec = {tu.vec_wg, rows_per_thread, tu.vec_row_threads, align},
        .n_spec = 4,
    };
    const uint32_t rows_per_wg = tu.vec_wg / tu.vec_row_threads * rows_per_thread;
    const uint32_t n_groups = vk_div_up((uint64_t)push->n_rows, rows_per_wg);
    d.groups[0] = n_groups < GRID_DIM_MAX ? n_groups : GRID_DIM_MAX;
    d.groups[1] = vk_div_up(n_groups, GRID_DIM_MAX);
    vk_cmd_dispatch(ctx, &d);
}

static void record_mul_mat_vec(struct vk_ctx *ctx, const struct vk_mul_mat_args *a,
                               const char *suffix, int part, struct vk_view bias, uint32_t flags,
                               uint32_t align)
{
    const struct vk_matrix *w = a->w;
    const struct vk_matrix_part *p = &w->parts[part];
    const struct mul_mat_push push = {
        .n_in = (uint32_t)w->n_in, .n_rows = (uint32_t)p->n_rows, .row0 = (uint32_t)p->row0,
        .x_stride = (uint32_t)a->x_stride, .y_stride = (uint32_t)a->y_stride,
        .n_tok = (uint32_t)a->n_tok, .flags = flags};
    const struct vk_view bindings[4] = {weight_view(ctx, w, part), a->x, a->y, bias};
    char name[48];
    snprintf(name, sizeof name, "mul_mat_vec_%s", suffix);
    dispatch_mul_mat_vec(ctx, name, &push, bindings, tuning_for(ctx).vec_rows_per_thread, align);
}

static void record_mul_mat_tiled(struct vk_ctx *ctx, const struct vk_mul_mat_args *a,
                                 const char *suffix, int part, struct vk_view bias, uint32_t flags,
                                 uint32_t align)
{
    const struct vk_matrix *w = a->w;
    const struct vk_matrix_part *p = &w->parts[part];
    const struct matmul_tuning tu = tuning_for(ctx);
    const struct mul_mat_push push = {
        .n_in = (uint32_t)w->n_in, .n_rows = (uint32_t)p->n_rows, .row0 = (uint32_t)p->row0,
        .x_stride = (uint32_t)a->x_stride, .y_stride = (uint32_t)a->y_stride,
        .n_tok = (uint32_t)a->n_tok, .flags = flags};
    struct vk_dispatch d = {
        .n_bindings = 4,
        .bindings = {weight_view(ctx, w, part), a->x, a->y, bias},
        .writes = {false, false, true, false},
        .push = &push,
        .push_size = sizeof push,
        .spec = {tu.tiled_wg, align, tu.tiled_direct},
        .n_spec = 3,
    };
    char name[48];
    snprintf(name, sizeof name, "mul_mat_%s", suffix);
    d.shader = name;
    /* row tiles over x and z (tile = z * groups_x + x), token tiles over y */
    const uint32_t row_tiles = vk_div_up((uint64_t)p->n_rows, tu.tile_rows);
    d.groups[0] = row_tiles < GRID_DIM_MAX ? row_tiles : GRID_DIM_MAX;
    d.groups[2] = vk_div_up(row_tiles, GRID_DIM_MAX);
    d.groups[1] = vk_div_up((uint64_t)a->n_tok, tu.tile_tokens);
    ENG_ASSERT(d.groups[1] <= GRID_DIM_MAX);
    vk_cmd_dispatch(ctx, &d);
}

void vk_op_mul_mat(struct vk_ctx *ctx, const struct vk_mul_mat_args *a)
{
    const struct vk_matrix *w = a->w;
    const char *suffix = check_matrix(w);
    ENG_ASSERT(a->n_tok >= 0 && a->x_stride >= w->n_in && a->y_stride >= w->n_out);
    if (a->n_tok == 0)
        return;
    ENG_ASSERT(a->x.range >= 4 * ((uint64_t)(a->n_tok - 1) * a->x_stride + w->n_in));
    ENG_ASSERT(a->y.range >= 4 * ((uint64_t)(a->n_tok - 1) * a->y_stride + w->n_out));
    ENG_ASSERT(a->x.buf != a->y.buf || a->x.offset + a->x.range <= a->y.offset ||
               a->y.offset + a->y.range <= a->x.offset);
    uint32_t flags = a->accumulate ? MUL_MAT_FLAG_ACCUMULATE : 0;
    /* Without a bias, x is bound in its place (a valid view the shader
     * never reads: FLAG_BIAS is clear). */
    struct vk_view bias = a->x;
    if (a->bias) {
        ENG_ASSERT(a->bias->range >= 4 * (uint64_t)w->n_out);
        bias = *a->bias;
        flags |= MUL_MAT_FLAG_BIAS;
    }
    uint32_t align = 0;
    if (a->x_stride % 4 == 0 && a->x.offset % 16 == 0)
        align |= ALIGN_ACTIVATIONS;
    if (quant_traits(w->type)->blck == 1 && w->row_bytes % 16 == 0)
        align |= ALIGN_WEIGHTS; /* only the float types read it: fewer pipelines */
    for (int part = 0; part < w->n_parts; part++) {
        if (a->n_tok < VK_MUL_MAT_MIN_TILED_TOKENS)
            record_mul_mat_vec(ctx, a, suffix, part, bias, flags, align);
        else
            record_mul_mat_tiled(ctx, a, suffix, part, bias, flags, align);
    }
}

/* ---- fused SwiGLU (decode) ------------------------------------------------------- */

bool vk_mul_mat_glu_ok(const struct vk_matrix *gate, const struct vk_matrix *up, int n_tok)
{
    if (!gate || !up || n_tok < 0 || n_tok >= VK_MUL_MAT_MIN_TILED_TOKENS)
        return false;
    if (!vk_type_supported(gate->type) || up->type != gate->type || up->n_in != gate->n_in ||
        up->n_out != gate->n_out || up->row_bytes != gate->row_bytes ||
        up->n_parts != gate->n_parts || !gate->parts || !up->parts)
        return false;
    for (int part = 0; part < gate->n_parts; part++)
        if (up->parts[part].row0 != gate->parts[part].row0 ||
            up->parts[part].n_rows != gate->parts[part].n_rows)
            return false;
    return true;
}

void vk_op_mul_mat_glu(struct vk_ctx *ctx, const struct vk_matrix *gate,
                       const struct vk_matrix *up, struct vk_view x, int x_stride,
                       struct vk_view y, int y_stride, int n_tok)
{
    ENG_ASSERT(vk_mul_mat_glu_ok(gate, up, n_tok));
    const char *suffix = check_matrix(gate);
    check_matrix(up);
    ENG_ASSERT(x_stride >= gate->n_in && y_stride >= gate->n_out);
    if (n_tok == 0)
        return;
    ENG_ASSERT(x.range >= 4 * ((uint64_t)(n_tok - 1) * x_stride + gate->n_in));
    ENG_ASSERT(y.range >= 4 * ((uint64_t)(n_tok - 1) * y_stride + gate->n_out));
    ENG_ASSERT(x.buf != y.buf || x.offset + x.range <= y.offset ||
               y.offset + y.range <= x.offset);
    uint32_t align = 0;
    if (x_stride % 4 == 0 && x.offset % 16 == 0)
        align |= ALIGN_ACTIVATIONS;
    if (quant_traits(gate->type)->blck == 1 && gate->row_bytes % 16 == 0)
        align |= ALIGN_WEIGHTS; /* only the float types read it: fewer pipelines */
    char name[48];
    snprintf(name, sizeof name, "mul_mat_vec_glu_%s", suffix);
    const uint32_t rows_per_thread = tuning_for(ctx).glu_rows_per_thread;
    for (int part = 0; part < gate->n_parts; part++) {
        const struct vk_matrix_part *p = &gate->parts[part];
        const struct mul_mat_push push = {
            .n_in = (uint32_t)gate->n_in, .n_rows = (uint32_t)p->n_rows,
            .row0 = (uint32_t)p->row0, .x_stride = (uint32_t)x_stride,
            .y_stride = (uint32_t)y_stride, .n_tok = (uint32_t)n_tok, .flags = 0};
        const struct vk_view bindings[4] = {weight_view(ctx, gate, part), x, y,
                                            weight_view(ctx, up, part)};
        dispatch_mul_mat_vec(ctx, name, &push, bindings, rows_per_thread, align);
    }
}

/* ---- embedding rows -------------------------------------------------------------- */

void vk_op_get_rows(struct vk_ctx *ctx, const struct vk_matrix *w, struct vk_view ids, int n,
                    struct vk_view y)
{
    const char *suffix = check_matrix(w);
    ENG_ASSERT(n >= 0);
    if (n == 0)
        return;
    ENG_ASSERT(ids.range >= 4 * (uint64_t)n && y.range >= 4 * (uint64_t)n * w->n_in);
    const uint64_t chunks_per_row = ((uint64_t)w->n_in + 31) / 32;
    ENG_ASSERT(chunks_per_row * n <= UINT32_MAX - GET_ROWS_WG);
    const uint32_t n_groups = vk_div_up(chunks_per_row * n, GET_ROWS_WG);
    uint32_t align = 0;
    if (w->n_in % 4 == 0 && y.offset % 16 == 0)
        align |= ALIGN_ACTIVATIONS;
    if (quant_traits(w->type)->blck == 1 && w->row_bytes % 16 == 0)
        align |= ALIGN_WEIGHTS; /* only the float types read it: fewer pipelines */
    char name[48];
    snprintf(name, sizeof name, "get_rows_%s", suffix);
    for (int part = 0; part < w->n_parts; part++) {
        const struct vk_matrix_part *p = &w->parts[part];
        const struct get_rows_push push = {(uint32_t)w->n_in, (uint32_t)p->n_rows,
                                           (uint32_t)p->row0, (uint32_t)n};
        struct vk_dispatch d = {
            .shader = name,
            .n_bindings = 3,
            .bindings = {weight_view(ctx, w, part), ids, y},
            .writes = {false, false, true},
            .push = &push,
            .push_size = sizeof push,
            .spec = {GET_ROWS_WG, align},
            .n_spec = 2,
        };
        d.groups[0] = n_groups < GRID_DIM_MAX ? n_groups : GRID_DIM_MAX;
        d.groups[1] = vk_div_up(n_groups, GRID_DIM_MAX);
        vk_cmd_dispatch(ctx, &d);
    }
}
