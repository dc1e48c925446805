/* vision.c: the vision encoders on the CPU backend (see vision.h).
 *
 * One ViT runs all three projector types: a patch embedding that depends on
 * the type, n_layer pre-norm blocks (norm -> attention -> residual, norm ->
 * MLP -> residual), then the type's merger or connector. Every token of a
 * call goes through the blocks as one batch; attention stays within
 * segments of that batch (a temporal group, a window or an image).
 *
 * Qwen2.5-VL's windowed layers use HF's trick: the patches are taken in
 * window order (each window's merged units together), so that a window is a
 * contiguous segment, and the merged rows are put back in grid order at the
 * end. Each patch keeps its own rotary position, so the result is HF's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/vision-ops.h"
#include "engine-internal.h"
#include "vision.h"

/* The most patches one call takes (a 1 GiB residual stream at width 256). */
#define VISION_MAX_TOKENS (1 << 20)

/* The scratch and layout of one encode call; every buffer is owned here. */
struct vit_run {
    const struct mmproj *p;
    struct threadpool *pool;
    int n_tok;   /* tokens through the ViT */
    int n_units; /* output rows: n_tok / merge^2 */

    float *x;         /* [n_tok][n_embd] the residual stream */
    float *xn;        /* [n_tok][n_embd] normed input of a block */
    float *q, *k, *v; /* [n_tok][n_embd] each */
    float *attn;      /* [n_tok][n_embd] attention output */
    float *proj;      /* [n_tok][n_embd] output of attn_out / ffn_down */
    float *up;        /* [n_tok][n_ff] */
    float *gate;      /* [n_tok][n_ff]; gated MLPs only, else NULL */
    float *kt;        /* [n_head][head_dim][n_tok] attention scratch */
    float *scores;    /* [n_threads][CPU_SEG_ATTN_QBLOCK][max_seg] attention scratch */
    float *cos_sin;   /* [n_tok][head_dim / 2][2] rotary table; NULL without RoPE */
    float *merged;    /* [n_units][merge^2 * n_embd] merger input after shuffling (Idefics3) */
    float *mlp;       /* [n_units][merge^2 * n_embd] Qwen merger hidden rows */
    float *units_out; /* [n_units][projection_dim] rows in ViT order */
    float *packed;    /* cpu_gemm_pack of the float weight in use (the largest's size) */

    int *seg_full; /* [n_seg_full + 1] token offsets of the full-attention segments */
    int n_seg_full;
    int *seg_win; /* [n_seg_win + 1] windows (Qwen2.5-VL); NULL otherwise */
    int n_seg_win;
    int max_seg;     /* the longest segment of either list */
    int *unit_order; /* [n_units]: ViT unit u is output row unit_order[u] */

    uint8_t *qact_data[CPU_QACT_COUNT]; /* per activation type: the largest input, quantized */
    struct cpu_qact qact[CPU_QACT_COUNT];

    struct vision_progress *progress; /* may be NULL */
    int n_images;                     /* encoder images in the batch (groups, tiles) */
};

void vision_progress_add(struct vision_progress *vp, int n_images)
{
    if (!vp || !vp->fn)
        return;
    vp->done += (uint64_t)n_images;
    vp->fn(vp->done, vp->total, vp->user_data);
}

/* ---- scratch ---------------------------------------------------------------- */

/* Grow the byte count of w's activation slot to hold n_rows inputs. Float
 * weights go through cpu_gemm on the f32 activations and need no slot. */
static void need_qact(size_t bytes[CPU_QACT_COUNT], const struct cpu_matrix *w, int n_rows)
{
    if (!w->data || cpu_gemm_supports(w->type))
        return;
    enum eng_type vt = quant_traits(w->type)->vec_dot_type;
    size_t b = cpu_qact_bytes(vt, w->n_in, n_rows);
    int slot = cpu_qact_slot(vt);
    if (b > bytes[slot])
        bytes[slot] = b;
}

/* The floats of the largest packed float weight. */
static void need_packed(size_t *floats, const struct cpu_matrix *w)
{
    if (w->data && cpu_gemm_supports(w->type) && cpu_gemm_packed_floats(w) > *floats)
        *floats = cpu_gemm_packed_floats(w);
}

/* The activation slots and the packed-weight buffer the products need. */
static bool alloc_products(struct vit_run *r)
{
    const struct mmproj *p = r->p;
    size_t bytes[CPU_QACT_COUNT] = {0}, packed = 0;
    const struct cpu_matrix *global[] = {&p->patch_embd, &p->patch_embd_1, &p->mm0, &p->mm2,
                                         &p->mm_fc};
    for (size_t i = 0; i < sizeof global / sizeof global[0]; i++) {
        need_qact(bytes, global[i], r->n_tok);
        need_packed(&packed, global[i]);
    }
    for (int il = 0; il < p->n_layer; il++) {
        const struct mmproj_layer *l = &p->layers[il];
        const struct cpu_matrix *mats[] = {&l->wq,     &l->wk,       &l->wv,      &l->wo,
                                           &l->ffn_up, &l->ffn_gate, &l->ffn_down};
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
            need_qact(bytes, mats[i], r->n_tok);
            need_packed(&packed, mats[i]);
        }
    }
    if (packed && !(r->packed = malloc(sizeof(float) * packed)))
        return false;
    for (int i = 0; i < CPU_QACT_COUNT; i++) {
        if (!bytes[i])
            continue;
        r->qact_data[i] = malloc(bytes[i]);
        if (!r->qact_data[i])
            return false;
    }
    return true;
}

static float *alloc_floats(size_t n, bool *ok)
{
    float *f = malloc((n ? n : 1) * sizeof(float));
    if (!f)
        *ok = false;
    return f;
}

/* The buffers of the blocks and the merger; the segments are set by the caller. */
static enum eng_status vit_alloc(struct vit_run *r, bool rope, struct eng_err *err)
{
    const struct mmproj *p = r->p;
    size_t n = (size_t)r->n_tok, e = (size_t)p->n_embd, m2 = (size_t)p->merge_size * p->merge_size;
    bool ok = true;
    r->x = alloc_floats(n * e, &ok);
    r->xn = alloc_floats(n * e, &ok);
    r->q = alloc_floats(n * e, &ok);
    r->k = alloc_floats(n * e, &ok);
    r->v = alloc_floats(n * e, &ok);
    r->attn = alloc_floats(n * e, &ok);
    r->proj = alloc_floats(n * e, &ok);
    r->kt = alloc_floats(n * e, &ok);
    r->up = alloc_floats(n * p->n_ff, &ok);
    if (p->layers[0].ffn_gate.data)
        r->gate = alloc_floats(n * p->n_ff, &ok);
    r->scores = alloc_floats(
        cpu_seg_attention_score_floats(threadpool_n_threads(r->pool), r->max_seg), &ok);
    if (rope)
        r->cos_sin = alloc_floats(n * (size_t)p->head_dim, &ok);
    if (p->type == MMPROJ_TYPE_IDEFICS3)
        r->merged = alloc_floats((size_t)r->n_units * m2 * e, &ok);
    else
        r->mlp = alloc_floats((size_t)r->n_units * m2 * e, &ok);
    r->units_out = alloc_floats((size_t)r->n_units * p->projection_dim, &ok);
    ok = ok && alloc_products(r);
    if (!ok)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM,
                           "vision: out of memory for the scratch of %d patches", r->n_tok);
    return ENG_STATUS_OK;
}

static void vit_free(struct vit_run *r)
{
    float *bufs[] = {r->x,      r->xn,  r->q,         r->k,     r->v,      r->attn,
                     r->proj,   r->up,  r->gate,      r->kt,    r->scores, r->cos_sin,
                     r->merged, r->mlp, r->units_out, r->packed};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(r->seg_full);
    free(r->seg_win);
    free(r->unit_order);
    for (int i = 0; i < CPU_QACT_COUNT; i++)
        free(r->qact_data[i]);
}

/* ---- products --------------------------------------------------------------- */

/* x[n_rows][w->n_in] quantized for products with the block-quantized w, into
 * the slot of w's activation type. */
static const struct cpu_qact *quantize_for(struct vit_run *r, const struct cpu_matrix *w, float *x,
                                           int n_rows)
{
    enum eng_type vt = quant_traits(w->type)->vec_dot_type;
    struct cpu_qact *q = &r->qact[cpu_qact_slot(vt)];
    ENG_ASSERT(!cpu_gemm_supports(w->type) && r->qact_data[cpu_qact_slot(vt)]);
    q->data = r->qact_data[cpu_qact_slot(vt)];
    cpu_qact_fill(r->pool, q, vt, x, w->n_in, n_rows);
    return q;
}

/* The same x for a second matrix: reused when the activation type matches. */
static const struct cpu_qact *quantize_again(struct vit_run *r, const struct cpu_qact *done,
                                             const struct cpu_matrix *w, float *x, int n_rows)
{
    if (quant_traits(w->type)->vec_dot_type == done->type)
        return done;
    return quantize_for(r, w, x, n_rows);
}

/* y[n_rows][w->n_out] = x · W^T + bias (bias may be NULL): float weights
 * through cpu_gemm, block-quantized ones through cpu_matmul_run. */
static void matmul(struct vit_run *r, const struct cpu_matrix *w, float *x, int n_rows,
                   const float *bias, float *y)
{
    if (cpu_gemm_supports(w->type)) {
        cpu_gemm_pack(r->pool, w, r->packed);
        cpu_gemm_run(r->pool, r->packed, w->n_in, w->n_out, x, n_rows, bias, y, w->n_out);
        return;
    }
    struct cpu_matmul job = {
        .w = w, .x = quantize_for(r, w, x, n_rows), .y = y, .y_stride = w->n_out, .bias = bias};
    cpu_matmul_run(r->pool, &job, 1);
}

/* ---- the transformer blocks ------------------------------------------------- */

static bool is_gemm(const struct cpu_matrix *w)
{
    return cpu_gemm_supports(w->type);
}

static void attention_block(struct vit_run *r, const struct mmproj_layer *l)
{
    const struct mmproj *p = r->p;
    int n = r->n_tok, e = p->n_embd;
    cpu_norm_rows(r->pool, r->xn, r->x, l->ln1_w, l->ln1_b, e, n, p->eps);
    if (is_gemm(&l->wq) || is_gemm(&l->wk) || is_gemm(&l->wv)) {
        matmul(r, &l->wq, r->xn, n, l->bq, r->q);
        matmul(r, &l->wk, r->xn, n, l->bk, r->k);
        matmul(r, &l->wv, r->xn, n, l->bv, r->v);
    } else {
        /* Quantized: the three share one fan-out (and one quantized input). */
        const struct cpu_qact *xq = quantize_for(r, &l->wq, r->xn, n);
        const struct cpu_qact *xk = quantize_again(r, xq, &l->wk, r->xn, n);
        const struct cpu_qact *xv = quantize_again(r, xk, &l->wv, r->xn, n);
        struct cpu_matmul qkv[3] = {
            {.w = &l->wq, .x = xq, .y = r->q, .y_stride = e, .bias = l->bq},
            {.w = &l->wk, .x = xk, .y = r->k, .y_stride = e, .bias = l->bk},
            {.w = &l->wv, .x = xv, .y = r->v, .y_stride = e, .bias = l->bv},
        };
        cpu_matmul_run(r->pool, qkv, 3);
    }
    if (r->cos_sin) {
        cpu_rope_table(r->pool, r->q, n, p->n_head, p->head_dim, r->cos_sin);
        cpu_rope_table(r->pool, r->k, n, p->n_head, p->head_dim, r->cos_sin);
    }
    bool windowed = r->seg_win && !l->full_attention;
    struct cpu_seg_attention att = {
        .q = r->q,
        .k = r->k,
        .v = r->v,
        .out = r->attn,
        .n_tok = n,
        .n_head = p->n_head,
        .head_dim = p->head_dim,
        .seg_start = windowed ? r->seg_win : r->seg_full,
        .n_seg = windowed ? r->n_seg_win : r->n_seg_full,
        .scale = 1.0f / sqrtf((float)p->head_dim),
        .kt = r->kt,
        .scores = r->scores,
        .max_seg = r->max_seg,
    };
    cpu_seg_attention_run(r->pool, &att);
    matmul(r, &l->wo, r->attn, n, l->bo, r->proj);
    cpu_add_rows(r->pool, r->x, r->proj, n, (size_t)e);
}

static enum cpu_act ffn_act(enum mmproj_ffn_op op)
{
    switch (op) {
    case MMPROJ_FFN_GELU_QUICK: return CPU_ACT_GELU_QUICK;
    case MMPROJ_FFN_GELU: return CPU_ACT_GELU_TANH;
    case MMPROJ_FFN_SILU: return CPU_ACT_SILU;
    }
    ENG_ASSERT(!"unknown MLP activation");
}

/* ffn_down(act(ffn_up x)), or ffn_down(act(ffn_gate x) * ffn_up x) when gated. */
static void mlp_block(struct vit_run *r, const struct mmproj_layer *l)
{
    const struct mmproj *p = r->p;
    int n = r->n_tok, e = p->n_embd;
    enum cpu_act act = ffn_act(p->ffn_op);
    cpu_norm_rows(r->pool, r->xn, r->x, l->ln2_w, l->ln2_b, e, n, p->eps);
    float *hidden = r->up; /* [n_tok][n_ff] */
    if (l->ffn_gate.data && (is_gemm(&l->ffn_gate) || is_gemm(&l->ffn_up))) {
        matmul(r, &l->ffn_gate, r->xn, n, l->ffn_gate_b, r->gate);
        matmul(r, &l->ffn_up, r->xn, n, l->ffn_up_b, r->up);
        cpu_act_rows(r->pool, r->gate, r->up, n, (size_t)p->n_ff, act);
        hidden = r->gate;
    } else if (l->ffn_gate.data) {
        /* Quantized: gate and up share one fan-out (and one quantized input). */
        const struct cpu_qact *xu = quantize_for(r, &l->ffn_up, r->xn, n);
        const struct cpu_qact *xg = quantize_again(r, xu, &l->ffn_gate, r->xn, n);
        struct cpu_matmul gate_up[2] = {
            {.w = &l->ffn_gate, .x = xg, .y = r->gate, .y_stride = p->n_ff, .bias = l->ffn_gate_b},
            {.w = &l->ffn_up, .x = xu, .y = r->up, .y_stride = p->n_ff, .bias = l->ffn_up_b},
        };
        cpu_matmul_run(r->pool, gate_up, 2);
        cpu_act_rows(r->pool, r->gate, r->up, n, (size_t)p->n_ff, act);
        hidden = r->gate;
    } else {
        matmul(r, &l->ffn_up, r->xn, n, l->ffn_up_b, r->up);
        cpu_act_rows(r->pool, r->up, NULL, n, (size_t)p->n_ff, act);
    }
    matmul(r, &l->ffn_down, hidden, n, l->ffn_down_b, r->proj);
    cpu_add_rows(r->pool, r->x, r->proj, n, (size_t)e);
}

static void vit_blocks(struct vit_run *r)
{
    for (int il = 0; il < r->p->n_layer; il++) {
        attention_block(r, &r->p->layers[il]);
        mlp_block(r, &r->p->layers[il]);
        vision_progress_add(r->progress, r->n_images);
    }
}

/* ---- Qwen2-VL / Qwen2.5-VL ---------------------------------------------------- */

/* Check the pixels against the projector. */
static enum eng_status qwen_check(const struct mmproj *p, const struct qwen_pixels *px,
                                  struct eng_err *err)
{
    int ps = p->patch_size, m = p->merge_size;
    if (p->type != MMPROJ_TYPE_QWEN2VL && p->type != MMPROJ_TYPE_QWEN25VL)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "vision: projector %s is not a Qwen one",
                           p->type_name);
    if (px->patch_dim != 3 * 2 * ps * ps)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "vision: pixel rows of %d values, but the projector's patch of %d "
                           "pixels over 2 frames needs %d",
                           px->patch_dim, ps, 3 * 2 * ps * ps);
    if (px->merge_size != m)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "vision: pixels merged by %d, but the projector merges by %d",
                           px->merge_size, m);
    if (px->grid_t < 1 || px->grid_h < m || px->grid_w < m || px->grid_h % m || px->grid_w % m)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "vision: patch grid %d x %d x %d is not a positive multiple of the "
                           "merge size %d",
                           px->grid_t, px->grid_h, px->grid_w, m);
    if (px->grid_t > VISION_MAX_TOKENS || px->grid_h > VISION_MAX_TOKENS ||
        px->grid_w > VISION_MAX_TOKENS ||
        (int64_t)px->grid_t * px->grid_h * px->grid_w > VISION_MAX_TOKENS)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "vision: %d x %d x %d patches are too many",
                           px->grid_t, px->grid_h, px->grid_w);
    if (p->type == MMPROJ_TYPE_QWEN25VL && p->window_size / (ps * m) < 1)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "vision: attention window %d is smaller than a merged unit",
                           p->window_size);
    return ENG_STATUS_OK;
}

/* Windows of win x win merged units per side tiling each temporal group's
 * merged grid from the top left (HF get_window_index), in order; unit_order
 * maps each ViT unit (in window order) to its grid-order row. */
static enum eng_status qwen_windows(struct vit_run *r, const struct qwen_pixels *px, int win,
                                    struct eng_err *err)
{
    int m = r->p->merge_size, uh = px->grid_h / m, uw = px->grid_w / m;
    int nwh = (uh + win - 1) / win, nww = (uw + win - 1) / win;
    int units_per_group = uh * uw, m2 = m * m;
    r->n_seg_win = px->grid_t * nwh * nww;
    r->seg_win = malloc(sizeof(int) * (size_t)(r->n_seg_win + 1));
    r->unit_order = malloc(sizeof(int) * (size_t)r->n_units);
    if (!r->seg_win || !r->unit_order)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "vision: out of memory for the windows");
    int u = 0, s = 0;
    for (int t = 0; t < px->grid_t; t++)
        for (int wy = 0; wy < nwh; wy++)
            for (int wx = 0; wx < nww; wx++) {
                r->seg_win[s++] = u * m2;
                for (int by = wy * win; by < uh && by < (wy + 1) * win; by++)
                    for (int bx = wx * win; bx < uw && bx < (wx + 1) * win; bx++)
                        r->unit_order[u++] = t * units_per_group + by * uw + bx;
                int len = u * m2 - r->seg_win[s - 1];
                r->max_seg = len > r->max_seg ? len : r->max_seg;
            }
    r->seg_win[s] = u * m2;
    return ENG_STATUS_OK;
}

/* Segments: one per temporal group; for Qwen2.5-VL also the windows. */
static enum eng_status qwen_layout(struct vit_run *r, const struct qwen_pixels *px,
                                   struct eng_err *err)
{
    int group = px->grid_h * px->grid_w;
    r->n_seg_full = px->grid_t;
    r->seg_full = malloc(sizeof(int) * (size_t)(px->grid_t + 1));
    if (!r->seg_full)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "vision: out of memory for the segments");
    for (int t = 0; t <= px->grid_t; t++)
        r->seg_full[t] = t * group;
    r->max_seg = group;
    if (r->p->type == MMPROJ_TYPE_QWEN25VL)
        return qwen_windows(r, px, r->p->window_size / (r->p->patch_size * r->p->merge_size), err);
    r->unit_order = malloc(sizeof(int) * (size_t)r->n_units);
    if (!r->unit_order)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "vision: out of memory for the segments");
    for (int u = 0; u < r->n_units; u++)
        r->unit_order[u] = u;
    return ENG_STATUS_OK;
}

/* The rotary table of the patch at pixel row `row` (HF order):
 * angle i < head_dim/4 is hpos * inv_freq[i], then wpos * inv_freq[i - head_dim/4]. */
static void qwen_rope_row(const struct qwen_pixels *px, int m, int head_dim, int row,
                          float *cos_sin)
{
    int uw = px->grid_w / m, m2 = m * m;
    int in_group = row % (px->grid_h * px->grid_w);
    int unit = in_group / m2, within = in_group % m2;
    int hpos = unit / uw * m + within / m, wpos = unit % uw * m + within % m;
    int quarter = head_dim / 4;
    for (int i = 0; i < 2 * quarter; i++) {
        int j = i < quarter ? i : i - quarter;
        /* inv_freq[j] = 1 / 10000^(2j / (head_dim / 2)), in float as HF computes it */
        float inv_freq = 1.0f / powf(10000.0f, (float)(2 * j) / (float)(head_dim / 2));
        float angle = (float)(i < quarter ? hpos : wpos) * inv_freq;
        cos_sin[2 * i] = cosf(angle);
        cos_sin[2 * i + 1] = sinf(angle);
    }
}

/* x = W0 · frame 0 + W1 · frame 1 of each patch, taken in ViT unit order; fills
 * the rotary table in the same order. */
static enum eng_status qwen_embed(struct vit_run *r, const struct qwen_pixels *px,
                                  struct eng_err *err)
{
    const struct mmproj *p = r->p;
    int n = r->n_tok, m2 = p->merge_size * p->merge_size, k = 3 * p->patch_size * p->patch_size;
    int frame = p->patch_size * p->patch_size;
    float *frames = malloc(sizeof(float) * 2 * (size_t)n * k); /* [2][n_tok][3 * ps * ps] */
    if (!frames)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "vision: out of memory for the patches");
    for (int t = 0; t < n; t++) {
        int row = r->unit_order[t / m2] * m2 + t % m2;
        const float *src = px->values + (size_t)row * px->patch_dim; /* [3][2][ps * ps] */
        for (int f = 0; f < 2; f++)
            for (int c = 0; c < 3; c++)
                memcpy(frames + ((size_t)f * n + t) * k + (size_t)c * frame,
                       src + (size_t)(c * 2 + f) * frame, sizeof(float) * frame);
        qwen_rope_row(px, p->merge_size, p->head_dim, row, r->cos_sin + (size_t)t * p->head_dim);
    }
    matmul(r, &p->patch_embd, frames, n, NULL, r->x);
    matmul(r, &p->patch_embd_1, frames + (size_t)n * k, n, NULL, r->proj);
    free(frames);
    cpu_add_rows(r->pool, r->x, r->proj, n, (size_t)p->n_embd);
    return ENG_STATUS_OK;
}

/* ln_q, then each merge^2 consecutive rows as one: mm2(gelu(mm0 x + b0)) + b2,
 * written to out in grid order. */
static void qwen_merger(struct vit_run *r, float *out)
{
    const struct mmproj *p = r->p;
    int u = r->n_units, wide = p->mm0.n_in;
    /* The normed [n_tok][n_embd] rows are the [n_units][merge^2 * n_embd] input. */
    cpu_norm_rows(r->pool, r->xn, r->x, p->post_ln_w, p->post_ln_b, p->n_embd, r->n_tok, p->eps);
    matmul(r, &p->mm0, r->xn, u, p->mm0_b, r->mlp);
    cpu_act_rows(r->pool, r->mlp, NULL, u, (size_t)wide, CPU_ACT_GELU_ERF);
    matmul(r, &p->mm2, r->mlp, u, p->mm2_b, r->units_out);
    for (int i = 0; i < u; i++)
        memcpy(out + (size_t)r->unit_order[i] * p->projection_dim,
               r->units_out + (size_t)i * p->projection_dim, sizeof(float) * p->projection_dim);
}

enum eng_status vision_encode_qwen_cpu(const struct mmproj *p, struct threadpool *pool,
                                       const struct qwen_pixels *px,
                                       struct vision_progress *progress, float *out,
                                       struct eng_err *err)
{
    enum eng_status st = qwen_check(p, px, err);
    if (st)
        return st;
    quant_init();
    struct vit_run r = {.p = p, .pool = pool, .progress = progress, .n_images = px->grid_t};
    r.n_tok = px->grid_t * px->grid_h * px->grid_w;
    r.n_units = r.n_tok / (p->merge_size * p->merge_size);
    if (!(st = qwen_layout(&r, px, err)) && !(st = vit_alloc(&r, true, err)) &&
        !(st = qwen_embed(&r, px, err))) {
        vit_blocks(&r);
        qwen_merger(&r, out);
    }
    vit_free(&r);
    return st;
}

/* ---- Idefics3 / SmolVLM --------------------------------------------------------- */

int vision_idefics3_tokens_per_image(const struct mmproj *p, int size)
{
    int side = size / p->patch_size, s = p->merge_size;
    return side * side / (s * s);
}

static enum eng_status idefics3_check(const struct mmproj *p, const struct idefics3_pixels *px,
                                      struct eng_err *err)
{
    int ps = p->patch_size, s = p->merge_size;
    if (p->type != MMPROJ_TYPE_IDEFICS3)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "vision: projector %s is not idefics3",
                           p->type_name);
    if (px->n_images < 1 || (int64_t)px->n_images * p->n_pos > VISION_MAX_TOKENS)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "vision: %d images to encode", px->n_images);
    if (px->size <= 0 || px->size % ps != 0 ||
        (int64_t)(px->size / ps) * (px->size / ps) != p->n_pos)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "vision: tiles of %d pixels do not give the projector's %d positions "
                           "of %d-pixel patches",
                           px->size, p->n_pos, ps);
    if ((px->size / ps) % s != 0)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "vision: %d patches per side do not divide by the shuffle factor %d",
                           px->size / ps, s);
    return ENG_STATUS_OK;
}

/* x = conv(image) + bias + position: patch j of an image is its raster patch j. */
static enum eng_status idefics3_embed(struct vit_run *r, const struct idefics3_pixels *px,
                                      struct eng_err *err)
{
    const struct mmproj *p = r->p;
    int ps = p->patch_size, side = px->size / ps, n = r->n_tok, e = p->n_embd;
    int k = 3 * ps * ps;
    size_t plane = (size_t)px->size * px->size;
    float *patches = malloc(sizeof(float) * (size_t)n * k); /* [n_tok][3][ps][ps] */
    if (!patches)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "vision: out of memory for the patches");
    for (int t = 0; t < n; t++) {
        int img = t / p->n_pos, j = t % p->n_pos, py0 = j / side * ps, px0 = j % side * ps;
        const float *src = px->values + (size_t)img * 3 * plane; /* [3][S][S] */
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < ps; y++)
                memcpy(patches + (size_t)t * k + (size_t)(c * ps + y) * ps,
                       src + c * plane + (size_t)(py0 + y) * px->size + px0, sizeof(float) * ps);
    }
    matmul(r, &p->patch_embd, patches, n, p->patch_bias, r->x);
    free(patches);
    /* The positions, dequantized once into proj (n_pos rows), added per image. */
    for (int j = 0; j < p->n_pos; j++)
        quant_dequantize_row(p->position_embd.type,
                             p->position_embd.data + (size_t)j * p->position_embd.row_bytes,
                             r->proj + (size_t)j * e, e);
    for (int img = 0; img < px->n_images; img++)
        cpu_add_rows(r->pool, r->x + (size_t)img * p->n_pos * e, r->proj, p->n_pos, (size_t)e);
    return ENG_STATUS_OK;
}

/* HF Idefics3Connector.pixel_shuffle of each image's side x side grid:
 * output row (a, b) of the (side/s) x (side/s) grid is the concatenation,
 * for dy < s then dx < s, of patch (a*s + dy, b*s + dx). */
static void idefics3_shuffle(const struct vit_run *r, int side, const float *x, float *y)
{
    int s = r->p->merge_size, e = r->p->n_embd, out_side = side / s;
    int n_images = r->n_tok / (side * side);
    float *dst = y; /* [n_images][out_side^2][s * s * n_embd] */
    for (int img = 0; img < n_images; img++)
        for (int a = 0; a < out_side; a++)
            for (int b = 0; b < out_side; b++)
                for (int dy = 0; dy < s; dy++)
                    for (int dx = 0; dx < s; dx++) {
                        int patch = (a * s + dy) * side + b * s + dx;
                        memcpy(dst, x + ((size_t)img * side * side + patch) * e, sizeof(float) * e);
                        dst += e;
                    }
}

enum eng_status vision_encode_idefics3_cpu(const struct mmproj *p, struct threadpool *pool,
                                           const struct idefics3_pixels *px,
                                           struct vision_progress *progress, float *out,
                                           struct eng_err *err)
{
    enum eng_status st = idefics3_check(p, px, err);
    if (st)
        return st;
    quant_init();
    struct vit_run r = {.p = p, .pool = pool, .progress = progress,
                        .n_images = px->n_images};
    r.n_tok = px->n_images * p->n_pos;
    r.n_units = r.n_tok / (p->merge_size * p->merge_size);
    r.n_seg_full = px->n_images;
    r.max_seg = p->n_pos;
    r.seg_full = malloc(sizeof(int) * (size_t)(px->n_images + 1));
    if (!r.seg_full) {
        st = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "vision: out of memory for the segments");
        goto out_free;
    }
    for (int i = 0; i <= px->n_images; i++)
        r.seg_full[i] = i * p->n_pos;
    if ((st = vit_alloc(&r, false, err)) || (st = idefics3_embed(&r, px, err)))
        goto out_free;
    vit_blocks(&r);
    cpu_norm_rows(r.pool, r.x, r.x, p->post_ln_w, p->post_ln_b, p->n_embd, r.n_tok, p->eps);
    idefics3_shuffle(&r, px->size / p->patch_size, r.x, r.merged);
    matmul(&r, &p->mm_fc, r.merged, r.n_units, NULL, out);
out_free:
    vit_free(&r);
    return st;
}
