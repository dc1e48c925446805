/* test-vk-ops.c: every op of vulkan/vk-ops.h except the matmul family
 * (norms, rotary embeddings with and without the fused KV write, attention,
 * softmax, activations, element-wise arithmetic, copies) on the first usable
 * Vulkan device, against double-precision references written here from the
 * Hugging Face / torch definitions, not from the shaders.
 *
 * Each case prints op, shape, NMSE = sum((got - ref)^2) / sum(ref^2) and
 * its limit; the test fails when any NMSE is above its limit (or NaN), or
 * when bytes outside an op's output change. One timing line (information
 * only) reports decode attention at pos0 = 2048 for Qwen2.5-0.5B's shape.
 * Exits 77 only when there is no Vulkan device at all.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk-test.h"
#include "vulkan/vk-ops.h"

#define LIMIT_EXACT 1e-10 /* copies, add, mul, scale */
#define LIMIT_F32 1e-8    /* f32 math: norms, softmax, activations, rope, attention */
#define LIMIT_F16 1e-6    /* results stored as f16 */

struct test {
    struct vk_ctx *vk;
    uint64_t rng;
    int n_cases, n_failed;
};

/* ---- helpers ---------------------------------------------------------------- */

/* IEEE binary16 bits of x, rounded to nearest even (subnormals included). */
static uint16_t f32_to_f16(float x)
{
    double a = fabs((double)x);
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    if (isnan(x))
        return 0x7e00;
    if (a >= 65520.0) /* rounds to infinity */
        return sign | 0x7c00;
    int e;
    frexp(a, &e);    /* a = m * 2^e, m in [0.5, 1) */
    int exp = e - 1; /* a = 1.f * 2^exp */
    if (exp < -14)
        exp = -14; /* subnormal range: fixed quantum 2^-24 */
    double quantum = ldexp(1.0, exp - 10);
    double q = nearbyint(a / quantum) * quantum; /* default rounding: to nearest even */
    int qe;
    frexp(q, &qe);
    if (q == 0)
        return sign;
    if (qe - 1 < -14) /* subnormal */
        return sign | (uint16_t)(q / ldexp(1.0, -24));
    int biased = qe - 1 + 15;
    uint16_t mant = (uint16_t)(q / ldexp(1.0, qe - 1 - 10)) - 1024;
    return sign | (uint16_t)(biased << 10) | mant;
}

static float f16_to_f32(uint16_t h)
{
    int exp = (h >> 10) & 31, mant = h & 1023;
    double v;
    if (exp == 0)
        v = ldexp(mant, -24);
    else if (exp == 31)
        v = mant ? NAN : INFINITY;
    else
        v = ldexp(1024 + mant, exp - 25);
    return (float)((h & 0x8000) ? -v : v);
}

static void report(struct test *t, const char *op, const char *shape, double value, double limit)
{
    bool ok = value <= limit; /* false for NaN */
    t->n_cases++;
    t->n_failed += !ok;
    printf("%-4s %-16s %-44s nmse %.3e  limit %.0e\n", ok ? "ok" : "FAIL", op, shape, value, limit);
}

/* A boolean check that is not an NMSE (untouched bytes and the like). */
static void report_bool(struct test *t, const char *op, const char *what, bool ok)
{
    t->n_cases++;
    t->n_failed += !ok;
    printf("%-4s %-16s %s\n", ok ? "ok" : "FAIL", op, what);
}

static void dev_free(struct test *t, struct vk_buf *b) { vk_buf_free(t->vk, b); }

/* ---- norms ------------------------------------------------------------------ */

/* HF LlamaRMSNorm: x / sqrt(mean(x^2) + eps) * w. */
static void ref_rms_norm(const float *x, const float *w, int n, int n_rows, double eps, double *y)
{
    for (int r = 0; r < n_rows; r++) {
        const float *xr = x + (size_t)r * n;
        double sum_sq = 0;
        for (int i = 0; i < n; i++)
            sum_sq += (double)xr[i] * xr[i];
        double inv = 1.0 / sqrt(sum_sq / n + eps);
        for (int i = 0; i < n; i++)
            y[(size_t)r * n + i] = xr[i] * inv * w[i];
    }
}

/* torch.nn.LayerNorm: (x - mean) / sqrt(biased var + eps) * w + b. */
static void ref_layer_norm(const float *x, const float *w, const float *b, int n, int n_rows,
                           double eps, double *y)
{
    for (int r = 0; r < n_rows; r++) {
        const float *xr = x + (size_t)r * n;
        double mean = 0, var = 0;
        for (int i = 0; i < n; i++)
            mean += xr[i];
        mean /= n;
        for (int i = 0; i < n; i++)
            var += (xr[i] - mean) * (xr[i] - mean);
        var /= n;
        double inv = 1.0 / sqrt(var + eps);
        for (int i = 0; i < n; i++)
            y[(size_t)r * n + i] = (xr[i] - mean) * inv * w[i] + b[i];
    }
}

struct norm_case {
    int n, n_rows;
    float amplitude, offset; /* x = offset + uniform(-amplitude, amplitude) */
    bool in_place;
};

static void test_norm_case(struct test *t, bool layer, const struct norm_case *c)
{
    size_t count = (size_t)c->n * c->n_rows;
    float *x = vkt_xcalloc(count, sizeof *x);      /* [n_rows][n] */
    float *w = vkt_xcalloc(c->n, sizeof *w);       /* [n] */
    float *b = vkt_xcalloc(c->n, sizeof *b);       /* [n] */
    float *got = vkt_xcalloc(count, sizeof *got);  /* [n_rows][n] */
    double *ref = vkt_xcalloc(count, sizeof *ref); /* [n_rows][n] */
    vkt_fill_uniform(&t->rng, x, count, c->offset - c->amplitude, c->offset + c->amplitude);
    vkt_fill_uniform(&t->rng, w, c->n, 0.5f, 1.5f);
    vkt_fill_uniform(&t->rng, b, c->n, -0.5f, 0.5f);
    float eps = layer ? 1e-5f : 1e-6f;

    /* y lives 256 bytes into its buffer, as sub-views of a big one will. */
    const uint64_t y_offset = 256;
    struct vk_buf dx = vkt_buf_upload(t->vk, x, count * 4), dw = vkt_buf_upload(t->vk, w, c->n * 4),
                  db = vkt_buf_upload(t->vk, b, c->n * 4),
                  dy = vkt_buf_upload(t->vk, NULL, y_offset + count * 4);
    struct vk_view vx = vk_view_of(&dx);
    struct vk_view vy = c->in_place ? vx : vk_view_sub(&dy, y_offset, count * 4);
    vk_cmd_begin(t->vk);
    if (layer)
        vk_op_layer_norm(t->vk, vx, vy, vk_view_of(&dw), vk_view_of(&db), c->n, c->n_rows, eps);
    else
        vk_op_rms_norm(t->vk, vx, vy, vk_view_of(&dw), c->n, c->n_rows, eps);
    vkt_submit(t->vk);
    if (c->in_place) {
        vkt_download(t->vk, &dx, got, count * 4);
    } else {
        float *all = vkt_xcalloc(y_offset / 4 + count, sizeof *all);
        vkt_download(t->vk, &dy, all, y_offset + count * 4);
        memcpy(got, all + y_offset / 4, count * 4);
        free(all);
    }
    if (layer)
        ref_layer_norm(x, w, b, c->n, c->n_rows, eps, ref);
    else
        ref_rms_norm(x, w, c->n, c->n_rows, eps, ref);

    char shape[96];
    snprintf(shape, sizeof shape, "n=%d rows=%d x~%g+-%g%s", c->n, c->n_rows, c->offset,
             c->amplitude, c->in_place ? " in-place" : "");
    report(t, layer ? "layer_norm" : "rms_norm", shape, vkt_nmse(got, ref, count), LIMIT_F32);
    dev_free(t, &dx), dev_free(t, &dw), dev_free(t, &db), dev_free(t, &dy);
    free(x), free(w), free(b), free(got), free(ref);
}

static void test_norms(struct test *t)
{
    static const struct norm_case cases[] = {
        {1, 1, 1, 0, false},     {7, 3, 1, 0, false},     {64, 5, 1, 0, true},
        {896, 7, 2, 0, false},   {4097, 2, 1, 0, false},  {896, 3, 1e-3f, 0, false},
        {896, 3, 1, 100, false}, {7, 70000, 1, 0, false}, /* rows past one grid dimension */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_norm_case(t, false, &cases[i]);
        test_norm_case(t, true, &cases[i]);
    }
}

/* ---- rotary embeddings -------------------------------------------------------- */

struct rope_case {
    enum vk_rope_mode mode;
    int n_tok, n_heads, head_dim, n_rot, pos0;
    float base;
    int sections[4];
    bool kv_write;
    int cache_pos0, n_ctx;
};

static const char *rope_mode_name(enum vk_rope_mode m)
{
    return m == VK_ROPE_NORM    ? "norm"
           : m == VK_ROPE_NEOX  ? "neox"
           : m == VK_ROPE_MROPE ? "mrope"
                                : "vision";
}

/* HF's angle: inv_freq (f32) times the position (f32), rounded to f32. */
static double hf_angle(int pos, float inv_freq) { return (double)((float)pos * inv_freq); }

/* The angle table of one token as HF lays it out over the n_rot rotated dims
 * (cos/sin = emb = cat(freqs, freqs)); NORM uses emb[2i] for pair i. */
static void ref_rope_angles(const struct rope_case *c, const float *inv_freq, const int32_t *pos,
                            int t, double *emb)
{
    const int half = c->n_rot / 2;
    if (c->mode == VK_ROPE_NORM || c->mode == VK_ROPE_NEOX) {
        for (int j = 0; j < half; j++)
            emb[j] = emb[j + half] = hf_angle(c->pos0 + t, inv_freq[j]);
        if (c->mode == VK_ROPE_NORM) /* adjacent pairs: pair i owns dims 2i, 2i+1 */
            for (int i = half - 1; i >= 0; i--)
                emb[2 * i] = emb[2 * i + 1] = emb[i];
    } else if (c->mode == VK_ROPE_MROPE) {
        /* HF apply_multimodal_rotary_pos_emb: split the n_rot dims into
         * chunks mrope_section * 2 and take chunk k from position row k % 3. */
        int chunk_sizes[6] = {c->sections[0], c->sections[1], c->sections[2],
                              c->sections[0], c->sections[1], c->sections[2]};
        int d = 0;
        for (int k = 0; k < 6; k++)
            for (int u = 0; u < chunk_sizes[k]; u++, d++)
                emb[d] = hf_angle(pos[(k % 3) * c->n_tok + t], inv_freq[d % half]);
    } else {
        /* HF VisionRotaryEmbedding(head_dim / 2) indexed by (h, w), flattened:
         * freqs = [h * inv_freq, w * inv_freq]; emb = cat(freqs, freqs). */
        const int quarter = c->n_rot / 4;
        for (int j = 0; j < quarter; j++) {
            emb[j] = emb[j + half] = hf_angle(pos[c->n_tok + t], inv_freq[j]);
            emb[quarter + j] = emb[quarter + j + half] =
                hf_angle(pos[2 * c->n_tok + t], inv_freq[j]);
        }
    }
}

/* y = rope(x) for every token and head, in double. */
static void ref_rope(const struct rope_case *c, const float *x, const float *inv_freq,
                     const int32_t *pos, double *y)
{
    double *emb = vkt_xcalloc(c->n_rot, sizeof *emb);
    const int half = c->n_rot / 2;
    for (int t = 0; t < c->n_tok; t++) {
        ref_rope_angles(c, inv_freq, pos, t, emb);
        for (int h = 0; h < c->n_heads; h++) {
            const float *xr = x + ((size_t)t * c->n_heads + h) * c->head_dim;
            double *yr = y + ((size_t)t * c->n_heads + h) * c->head_dim;
            for (int d = 0; d < c->head_dim; d++)
                yr[d] = xr[d];
            for (int d = 0; d < c->n_rot; d++) {
                double rotated; /* rotate_half(x)[d], or the pair partner for NORM */
                if (c->mode == VK_ROPE_NORM)
                    rotated = d % 2 == 0 ? -(double)xr[d + 1] : xr[d - 1];
                else
                    rotated = d < half ? -(double)xr[d + half] : xr[d - half];
                yr[d] = xr[d] * cos(emb[d]) + rotated * sin(emb[d]);
            }
        }
    }
    free(emb);
}

/* inv_freq as HF computes it: 1 / base^(2j / dim), in f32, for j < n. */
static void hf_inv_freq(float base, int dim, int n, float *inv_freq)
{
    for (int j = 0; j < n; j++)
        inv_freq[j] = (float)(1.0 / pow(base, (double)(2 * j) / dim));
}

static void rope_shape(const struct rope_case *c, char *buf, size_t size)
{
    int len =
        snprintf(buf, size, "tok=%d h=%d d=%d rot=%d", c->n_tok, c->n_heads, c->head_dim, c->n_rot);
    if (c->mode == VK_ROPE_MROPE)
        snprintf(buf + len, size - len, " sec=%d,%d,%d", c->sections[0], c->sections[1],
                 c->sections[2]);
    else if (c->mode == VK_ROPE_VISION)
        snprintf(buf + len, size - len, " pos<=%d", c->pos0);
    else
        snprintf(buf + len, size - len, " pos0=%d", c->pos0);
    if (c->kv_write)
        snprintf(buf + strlen(buf), size - strlen(buf), " cache@%d", c->cache_pos0);
}

/* The fused KV write: compare both caches with the reference rounded to f16,
 * check that rows outside the written range keep their sentinel, and that x
 * is unchanged. */
static void check_kv_write(struct test *t, const struct rope_case *c, const char *shape,
                           const float *x, const float *v, const double *ref_k,
                           const struct vk_buf *dx, const struct vk_buf *dk,
                           const struct vk_buf *dv, uint16_t sentinel)
{
    const size_t row = (size_t)c->n_heads * c->head_dim;
    const size_t count = (size_t)c->n_tok * row;
    uint16_t *k_cache = vkt_xcalloc((size_t)c->n_ctx * row, 2); /* [n_ctx][n_heads * head_dim] */
    uint16_t *v_cache = vkt_xcalloc((size_t)c->n_ctx * row, 2);
    float *got = vkt_xcalloc(count, sizeof *got);
    double *ref = vkt_xcalloc(count, sizeof *ref);
    float *x_after = vkt_xcalloc(count, sizeof *x_after);
    vkt_download(t->vk, dk, k_cache, (size_t)c->n_ctx * row * 2);
    vkt_download(t->vk, dv, v_cache, (size_t)c->n_ctx * row * 2);
    vkt_download(t->vk, dx, x_after, count * 4);

    const uint16_t *k_new = k_cache + (size_t)c->cache_pos0 * row;
    for (size_t i = 0; i < count; i++) {
        got[i] = f16_to_f32(k_new[i]);
        ref[i] = f16_to_f32(f32_to_f16((float)ref_k[i]));
    }
    char op[32];
    snprintf(op, sizeof op, "rope_%s_kv K", rope_mode_name(c->mode));
    report(t, op, shape, vkt_nmse(got, ref, count), LIMIT_F16);
    const uint16_t *v_new = v_cache + (size_t)c->cache_pos0 * row;
    for (size_t i = 0; i < count; i++) {
        got[i] = f16_to_f32(v_new[i]);
        ref[i] = f16_to_f32(f32_to_f16(v[i]));
    }
    snprintf(op, sizeof op, "rope_%s_kv V", rope_mode_name(c->mode));
    report(t, op, shape, vkt_nmse(got, ref, count), LIMIT_F16);

    bool untouched = memcmp(x_after, x, count * 4) == 0;
    for (size_t i = 0; i < (size_t)c->n_ctx * row; i++) {
        size_t r = i / row;
        bool written = r >= (size_t)c->cache_pos0 && r < (size_t)(c->cache_pos0 + c->n_tok);
        if (!written && (k_cache[i] != sentinel || v_cache[i] != sentinel))
            untouched = false;
    }
    snprintf(op, sizeof op, "rope_%s_kv", rope_mode_name(c->mode));
    report_bool(t, op, "x and the cache rows outside the new ones are unchanged", untouched);
    free(k_cache), free(v_cache), free(got), free(ref), free(x_after);
}

static void test_rope_case(struct test *t, const struct rope_case *c)
{
    const size_t count = (size_t)c->n_tok * c->n_heads * c->head_dim;
    const int n_freq = c->mode == VK_ROPE_VISION ? c->n_rot / 4 : c->n_rot / 2;
    float *x = vkt_xcalloc(count, sizeof *x); /* [n_tok][n_heads][head_dim] */
    float *v = vkt_xcalloc(count, sizeof *v); /* [n_tok][n_heads * head_dim] */
    float *inv_freq = vkt_xcalloc(n_freq, sizeof *inv_freq);
    int32_t *pos = vkt_xcalloc(4 * (size_t)c->n_tok, sizeof *pos); /* [4][n_tok] */
    double *ref = vkt_xcalloc(count, sizeof *ref);
    float *got = vkt_xcalloc(count, sizeof *got);
    vkt_fill_uniform(&t->rng, x, count, -1, 1);
    vkt_fill_uniform(&t->rng, v, count, -1, 1);
    /* VISION: VisionRotaryEmbedding(head_dim/2): dim = n_rot/2. */
    hf_inv_freq(c->base, c->mode == VK_ROPE_VISION ? c->n_rot / 2 : c->n_rot, n_freq, inv_freq);
    for (size_t i = 0; i < 4 * (size_t)c->n_tok; i++) /* MROPE/VISION: up to pos0 */
        pos[i] = (int32_t)(vkt_rng_next(&t->rng) % (uint64_t)(c->pos0 + 1));

    struct vk_buf dx = vkt_buf_upload(t->vk, x, count * 4),
                  dv = vkt_buf_upload(t->vk, v, count * 4),
                  df = vkt_buf_upload(t->vk, inv_freq, n_freq * 4),
                  dp = vkt_buf_upload(t->vk, pos, 16 * c->n_tok);
    struct vk_buf dk = {0}, dvc = {0};
    const uint16_t sentinel = 0x5a5a;
    if (c->kv_write) {
        size_t cache_elems = (size_t)c->n_ctx * c->n_heads * c->head_dim;
        uint16_t *fill = vkt_xcalloc(cache_elems, 2);
        for (size_t i = 0; i < cache_elems; i++)
            fill[i] = sentinel;
        dk = vkt_buf_upload(t->vk, fill, cache_elems * 2);
        dvc = vkt_buf_upload(t->vk, fill, cache_elems * 2);
        free(fill);
    }
    struct vk_rope_args a = {
        .mode = c->mode,
        .x = vk_view_of(&dx),
        .n_tok = c->n_tok,
        .n_heads = c->n_heads,
        .head_dim = c->head_dim,
        .n_rot = c->n_rot,
        .inv_freq = vk_view_of(&df),
        .pos0 = c->pos0,
        .pos = vk_view_of(&dp),
        .sections = {c->sections[0], c->sections[1], c->sections[2], c->sections[3]},
    };
    if (c->kv_write) {
        a.v = vk_view_of(&dv);
        a.k_cache = vk_view_of(&dk);
        a.v_cache = vk_view_of(&dvc);
        a.cache_pos0 = c->cache_pos0;
    }
    vk_cmd_begin(t->vk);
    vk_op_rope(t->vk, &a);
    vkt_submit(t->vk);
    ref_rope(c, x, inv_freq, pos, ref);

    char shape[96];
    rope_shape(c, shape, sizeof shape);
    if (c->kv_write) {
        check_kv_write(t, c, shape, x, v, ref, &dx, &dk, &dvc, sentinel);
    } else {
        char op[32];
        snprintf(op, sizeof op, "rope_%s", rope_mode_name(c->mode));
        vkt_download(t->vk, &dx, got, count * 4);
        report(t, op, shape, vkt_nmse(got, ref, count), LIMIT_F32);
    }
    dev_free(t, &dx), dev_free(t, &dv), dev_free(t, &df), dev_free(t, &dp);
    if (c->kv_write)
        dev_free(t, &dk), dev_free(t, &dvc);
    free(x), free(v), free(inv_freq), free(pos), free(ref), free(got);
}

static void test_rope(struct test *t)
{
    static const struct rope_case cases[] = {
        {VK_ROPE_NORM, 1, 1, 2, 2, 0, 10000, {0}, false, 0, 0},
        {VK_ROPE_NORM, 7, 3, 80, 80, 1000, 10000, {0}, false, 0, 0},
        {VK_ROPE_NORM, 5, 16, 128, 64, 17, 500000, {0}, false, 0, 0},
        {VK_ROPE_NEOX, 1, 14, 64, 64, 0, 1000000, {0}, false, 0, 0},
        {VK_ROPE_NEOX, 7, 14, 64, 64, 1000, 1000000, {0}, false, 0, 0},
        {VK_ROPE_NEOX, 9, 3, 80, 32, 4097, 10000, {0}, false, 0, 0},
        {VK_ROPE_NEOX, 64, 16, 128, 128, 31, 1000000, {0}, false, 0, 0},
        {VK_ROPE_MROPE, 6, 4, 128, 128, 2000, 1000000, {16, 24, 24, 0}, false, 0, 0},
        {VK_ROPE_MROPE, 3, 2, 32, 32, 50, 10000, {4, 6, 6, 0}, false, 0, 0},
        {VK_ROPE_VISION, 10, 16, 80, 80, 40, 10000, {0}, false, 0, 0},
        {VK_ROPE_VISION, 4, 3, 64, 64, 7, 10000, {0}, false, 0, 0},
        /* fused KV write */
        {VK_ROPE_NORM, 3, 8, 128, 128, 1000, 500000, {0}, true, 1000, 1010},
        {VK_ROPE_NEOX, 1, 2, 64, 64, 2048, 1000000, {0}, true, 2048, 2050},
        {VK_ROPE_NEOX, 7, 3, 80, 48, 12, 10000, {0}, true, 12, 20},
        {VK_ROPE_MROPE, 5, 2, 128, 128, 700, 1000000, {16, 24, 24, 0}, true, 33, 40},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        test_rope_case(t, &cases[i]);
}

/* ---- attention ---------------------------------------------------------------- */

struct attention_case {
    int n_tok, pos0, n_head, n_head_kv, head_dim;
    float q_amplitude; /* q ~ uniform(-a, a): larger gives peakier softmaxes */
};

/* Causal GQA attention in double: token t at position pos0 + t attends to
 * keys 0..pos0 + t of KV head h / (n_head / n_head_kv). */
static void ref_attention(const struct attention_case *c, const float *q, const float *k,
                          const float *v, double *out)
{
    const int group = c->n_head / c->n_head_kv, d = c->head_dim;
    double *p = vkt_xcalloc((size_t)c->pos0 + c->n_tok, sizeof *p);
    for (int t = 0; t < c->n_tok; t++) {
        for (int h = 0; h < c->n_head; h++) {
            const float *qr = q + ((size_t)t * c->n_head + h) * d;
            const int kvh = h / group, n_keys = c->pos0 + t + 1;
            double max = -INFINITY, sum = 0;
            for (int j = 0; j < n_keys; j++) {
                const float *kr = k + ((size_t)j * c->n_head_kv + kvh) * d;
                double s = 0;
                for (int i = 0; i < d; i++)
                    s += (double)qr[i] * kr[i];
                p[j] = s / sqrt((double)d);
                max = fmax(max, p[j]);
            }
            for (int j = 0; j < n_keys; j++)
                sum += p[j] = exp(p[j] - max);
            double *o = out + ((size_t)t * c->n_head + h) * d;
            for (int i = 0; i < d; i++)
                o[i] = 0;
            for (int j = 0; j < n_keys; j++) {
                const float *vr = v + ((size_t)j * c->n_head_kv + kvh) * d;
                for (int i = 0; i < d; i++)
                    o[i] += p[j] / sum * vr[i];
            }
        }
    }
    free(p);
}

/* Random f16 cache [n_ctx][n_head_kv][head_dim] for positions < n_valid, NaN
 * after them (attention must never read those); vals gets the f32 values. */
static uint16_t *random_f16_cache(struct test *t, size_t n_ctx, size_t row, size_t n_valid,
                                  float *vals)
{
    uint16_t *h = vkt_xcalloc(n_ctx * row, 2);
    for (size_t i = 0; i < n_ctx * row; i++) {
        h[i] = i < n_valid * row ? f32_to_f16(vkt_rand_uniform(&t->rng, -1, 1)) : 0x7e00;
        vals[i] = f16_to_f32(h[i]);
    }
    return h;
}

struct attention_bufs {
    struct vk_buf q, k, v, out;
};

static struct vk_attention_args attention_args(const struct attention_case *c,
                                               const struct attention_bufs *b)
{
    return (struct vk_attention_args){.q = vk_view_of(&b->q),
                                      .k_cache = vk_view_of(&b->k),
                                      .v_cache = vk_view_of(&b->v),
                                      .out = vk_view_of(&b->out),
                                      .n_tok = c->n_tok,
                                      .pos0 = c->pos0,
                                      .n_head = c->n_head,
                                      .n_head_kv = c->n_head_kv,
                                      .head_dim = c->head_dim,
                                      .scale = (float)(1.0 / sqrt((double)c->head_dim))};
}

static void test_attention_case(struct test *t, const struct attention_case *c)
{
    const size_t q_count = (size_t)c->n_tok * c->n_head * c->head_dim;
    const size_t kv_row = (size_t)c->n_head_kv * c->head_dim;
    const size_t n_valid = (size_t)c->pos0 + c->n_tok, n_ctx = n_valid + 3;
    float *q = vkt_xcalloc(q_count, sizeof *q);        /* [n_tok][n_head][head_dim] */
    float *k = vkt_xcalloc(n_ctx * kv_row, sizeof *k); /* [n_ctx][n_head_kv][head_dim] */
    float *v = vkt_xcalloc(n_ctx * kv_row, sizeof *v);
    float *got = vkt_xcalloc(q_count, sizeof *got);
    double *ref = vkt_xcalloc(q_count, sizeof *ref);
    vkt_fill_uniform(&t->rng, q, q_count, -c->q_amplitude, c->q_amplitude);
    uint16_t *k16 = random_f16_cache(t, n_ctx, kv_row, n_valid, k);
    uint16_t *v16 = random_f16_cache(t, n_ctx, kv_row, n_valid, v);

    struct attention_bufs b = {
        vkt_buf_upload(t->vk, q, q_count * 4), vkt_buf_upload(t->vk, k16, n_ctx * kv_row * 2),
        vkt_buf_upload(t->vk, v16, n_ctx * kv_row * 2), vkt_buf_upload(t->vk, NULL, q_count * 4)};
    struct vk_attention_args a = attention_args(c, &b);
    vk_cmd_begin(t->vk);
    vk_op_attention(t->vk, &a);
    vkt_submit(t->vk);
    vkt_download(t->vk, &b.out, got, q_count * 4);
    ref_attention(c, q, k, v, ref);

    char shape[96];
    snprintf(shape, sizeof shape, "tok=%d pos0=%d heads=%d/%d d=%d q~%g", c->n_tok, c->pos0,
             c->n_head, c->n_head_kv, c->head_dim, c->q_amplitude);
    report(t, "attention_f16", shape, vkt_nmse(got, ref, q_count), LIMIT_F32);
    dev_free(t, &b.q), dev_free(t, &b.k), dev_free(t, &b.v), dev_free(t, &b.out);
    free(q), free(k), free(v), free(got), free(ref), free(k16), free(v16);
}

/* Information only: decode (n_tok = 1) attention at pos0 = 2048 for
 * Qwen2.5-0.5B (14 heads, 2 KV heads, head_dim 64), in K+V bytes read per
 * second. */
static void time_decode_attention(struct test *t)
{
    const struct attention_case c = {1, 2048, 14, 2, 64, 1};
    const size_t kv_row = (size_t)c.n_head_kv * c.head_dim, n_ctx = (size_t)c.pos0 + 1;
    const size_t q_bytes = (size_t)c.n_head * c.head_dim * 4;
    float *vals = vkt_xcalloc(n_ctx * kv_row, sizeof *vals);
    uint16_t *k16 = random_f16_cache(t, n_ctx, kv_row, n_ctx, vals);
    float *q = vkt_xcalloc(q_bytes / 4, sizeof *q);
    vkt_fill_uniform(&t->rng, q, q_bytes / 4, -1, 1);
    struct attention_bufs b = {
        vkt_buf_upload(t->vk, q, q_bytes), vkt_buf_upload(t->vk, k16, n_ctx * kv_row * 2),
        vkt_buf_upload(t->vk, k16, n_ctx * kv_row * 2), vkt_buf_upload(t->vk, NULL, q_bytes)};
    struct vk_attention_args a = attention_args(&c, &b);
    vk_cmd_begin(t->vk); /* warm-up: builds the pipeline */
    vk_op_attention(t->vk, &a);
    vkt_submit(t->vk);
    const int reps = 50;
    double t0 = vkt_now_seconds();
    vk_cmd_begin(t->vk);
    for (int i = 0; i < reps; i++)
        vk_op_attention(t->vk, &a);
    vkt_submit(t->vk);
    double per_call = (vkt_now_seconds() - t0) / reps;
    double kv_bytes = 2.0 * n_ctx * kv_row * 2;
    printf("time attention_f16 decode pos0=%d heads=14/2 d=64: %.1f us/call, K+V %.2f MB, "
           "%.2f GB/s\n",
           c.pos0, per_call * 1e6, kv_bytes / 1e6, kv_bytes / per_call / 1e9);
    dev_free(t, &b.q), dev_free(t, &b.k), dev_free(t, &b.v), dev_free(t, &b.out);
    free(vals), free(k16), free(q);
}

static void test_attention(struct test *t)
{
    static const struct attention_case cases[] = {
        {1, 0, 14, 2, 64, 1},    /* first token */
        {1, 1000, 14, 2, 64, 4}, /* decode past several key chunks */
        {1, 300, 16, 8, 128, 2},
        {1, 127, 3, 1, 80, 8}, /* keys end at a chunk edge (128 or 256 keys a chunk) */
        {1, 255, 3, 1, 80, 8},
        {5, 130, 3, 1, 80, 2}, /* prefill continuing a context */
        {33, 0, 14, 2, 64, 3}, /* prefill from empty */
        {3, 127, 4, 4, 64, 6}, /* no GQA: tokens share a workgroup; a chunk edge inside */
        {3, 254, 4, 4, 64, 6},
        {20, 0, 2, 2, 32, 2},      /* several token tiles, the last partial */
        {9, 5, 12, 1, 256, 1},     /* group larger than a workgroup's rows, head_dim 256 */
        {64, 1000, 16, 8, 128, 2}, /* longer prefill over a long context */
        {2, 300, 6, 2, 36, 3},     /* odd number of vec4 columns */
        {3, 10, 2, 1, 4, 2},       /* a single vec4 column */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        test_attention_case(t, &cases[i]);
    time_decode_attention(t);
}

/* ---- softmax -------------------------------------------------------------------- */

static void test_softmax_case(struct test *t, int n, int n_rows, float scale, bool in_place)
{
    const size_t count = (size_t)n * n_rows;
    float *x = vkt_xcalloc(count, sizeof *x); /* [n_rows][n] */
    float *got = vkt_xcalloc(count, sizeof *got);
    double *ref = vkt_xcalloc(count, sizeof *ref);
    vkt_fill_uniform(&t->rng, x, count, -10, 10);
    struct vk_buf dx = vkt_buf_upload(t->vk, x, count * 4),
                  dy = vkt_buf_upload(t->vk, NULL, count * 4);
    vk_cmd_begin(t->vk);
    vk_op_softmax(t->vk, vk_view_of(&dx), in_place ? vk_view_of(&dx) : vk_view_of(&dy), n, n_rows,
                  scale);
    vkt_submit(t->vk);
    vkt_download(t->vk, in_place ? &dx : &dy, got, count * 4);
    for (int r = 0; r < n_rows; r++) {
        const float *xr = x + (size_t)r * n;
        double max = -INFINITY, sum = 0;
        for (int i = 0; i < n; i++)
            max = fmax(max, (double)xr[i] * scale);
        for (int i = 0; i < n; i++)
            sum += exp((double)xr[i] * scale - max);
        for (int i = 0; i < n; i++)
            ref[(size_t)r * n + i] = exp((double)xr[i] * scale - max) / sum;
    }
    char shape[96];
    snprintf(shape, sizeof shape, "n=%d rows=%d scale=%g%s", n, n_rows, scale,
             in_place ? " in-place" : "");
    report(t, "softmax", shape, vkt_nmse(got, ref, count), LIMIT_F32);
    dev_free(t, &dx), dev_free(t, &dy);
    free(x), free(got), free(ref);
}

static void test_softmax(struct test *t)
{
    test_softmax_case(t, 1, 1, 1.0f, false);
    test_softmax_case(t, 7, 3, 0.5f, false);
    test_softmax_case(t, 64, 5, 1.0f, true);
    test_softmax_case(t, 896, 7, 2.0f, false);
    test_softmax_case(t, 4097, 2, 0.125f, false);
    test_softmax_case(t, 3, 70000, 1.0f, false); /* rows past one grid dimension */
}

/* ---- activations ----------------------------------------------------------------- */

static double ref_silu(double x) { return x / (1 + exp(-x)); }
static double ref_gelu(double x)
{
    return 0.5 * x * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
}
static double ref_gelu_quick(double x) { return x / (1 + exp(-1.702 * x)); }

/* Inputs: mostly moderate, every 16th large so overflow paths run. */
static void fill_activation_inputs(struct test *t, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] =
            i % 16 == 15 ? vkt_rand_uniform(&t->rng, -100, 100) : vkt_rand_uniform(&t->rng, -6, 6);
}

static void test_unary_case(struct test *t, enum vk_unary op, uint32_t n, bool in_place)
{
    static const char *names[] = {"silu", "gelu", "gelu_quick"};
    float *x = vkt_xcalloc(n, sizeof *x); /* [n] */
    float *got = vkt_xcalloc(n, sizeof *got);
    double *ref = vkt_xcalloc(n, sizeof *ref);
    fill_activation_inputs(t, x, n);
    struct vk_buf dx = vkt_buf_upload(t->vk, x, n * 4), dy = vkt_buf_upload(t->vk, NULL, n * 4);
    vk_cmd_begin(t->vk);
    vk_op_unary(t->vk, op, vk_view_of(&dx), in_place ? vk_view_of(&dx) : vk_view_of(&dy), n);
    vkt_submit(t->vk);
    vkt_download(t->vk, in_place ? &dx : &dy, got, n * 4);
    for (uint32_t i = 0; i < n; i++)
        ref[i] = op == VK_UNARY_SILU   ? ref_silu(x[i])
                 : op == VK_UNARY_GELU ? ref_gelu(x[i])
                                       : ref_gelu_quick(x[i]);
    char shape[64];
    snprintf(shape, sizeof shape, "n=%u%s", n, in_place ? " in-place" : "");
    report(t, names[op], shape, vkt_nmse(got, ref, n), LIMIT_F32);
    dev_free(t, &dx), dev_free(t, &dy);
    free(x), free(got), free(ref);
}

static void test_silu_mul_case(struct test *t, uint32_t n, bool in_place)
{
    float *a = vkt_xcalloc(n, sizeof *a), *b = vkt_xcalloc(n, sizeof *b); /* [n] each */
    float *got = vkt_xcalloc(n, sizeof *got);
    double *ref = vkt_xcalloc(n, sizeof *ref);
    fill_activation_inputs(t, a, n);
    vkt_fill_uniform(&t->rng, b, n, -3, 3);
    struct vk_buf da = vkt_buf_upload(t->vk, a, n * 4), db = vkt_buf_upload(t->vk, b, n * 4),
                  dy = vkt_buf_upload(t->vk, NULL, n * 4);
    vk_cmd_begin(t->vk);
    vk_op_silu_mul(t->vk, vk_view_of(&da), vk_view_of(&db),
                   in_place ? vk_view_of(&da) : vk_view_of(&dy), n);
    vkt_submit(t->vk);
    vkt_download(t->vk, in_place ? &da : &dy, got, n * 4);
    for (uint32_t i = 0; i < n; i++)
        ref[i] = ref_silu(a[i]) * b[i];
    char shape[64];
    snprintf(shape, sizeof shape, "n=%u%s", n, in_place ? " in-place" : "");
    report(t, "silu_mul", shape, vkt_nmse(got, ref, n), LIMIT_F32);
    dev_free(t, &da), dev_free(t, &db), dev_free(t, &dy);
    free(a), free(b), free(got), free(ref);
}

static void test_activations(struct test *t)
{
    static const uint32_t sizes[] = {1, 7, 64, 896, 4097, 300001};
    for (int op = VK_UNARY_SILU; op <= VK_UNARY_GELU_QUICK; op++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            test_unary_case(t, (enum vk_unary)op, sizes[i], i == 2);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        test_silu_mul_case(t, sizes[i], i == 3);
}

/* ---- add, mul, scale -------------------------------------------------------------- */

enum binary_kind { BINARY_ADD, BINARY_MUL, BINARY_SCALE };

static void test_binary_case(struct test *t, enum binary_kind kind, uint32_t n, uint32_t b_len,
                             bool in_place)
{
    static const char *names[] = {"add", "mul", "scale"};
    const float s = 0.3f;
    float *a = vkt_xcalloc(n, sizeof *a);     /* [n] */
    float *b = vkt_xcalloc(b_len, sizeof *b); /* [b_len], broadcast over rows */
    float *got = vkt_xcalloc(n, sizeof *got);
    double *ref = vkt_xcalloc(n, sizeof *ref);
    vkt_fill_uniform(&t->rng, a, n, -2, 2);
    vkt_fill_uniform(&t->rng, b, b_len, -2, 2);
    struct vk_buf da = vkt_buf_upload(t->vk, a, n * 4), db = vkt_buf_upload(t->vk, b, b_len * 4),
                  dy = vkt_buf_upload(t->vk, NULL, n * 4);
    struct vk_view vy = in_place ? vk_view_of(&da) : vk_view_of(&dy);
    vk_cmd_begin(t->vk);
    if (kind == BINARY_ADD)
        vk_op_add(t->vk, vk_view_of(&da), vk_view_of(&db), vy, n, b_len);
    else if (kind == BINARY_MUL)
        vk_op_mul(t->vk, vk_view_of(&da), vk_view_of(&db), vy, n, b_len);
    else
        vk_op_scale(t->vk, vk_view_of(&da), vy, n, s);
    vkt_submit(t->vk);
    vkt_download(t->vk, in_place ? &da : &dy, got, n * 4);
    for (uint32_t i = 0; i < n; i++)
        ref[i] = kind == BINARY_ADD   ? (double)a[i] + b[i % b_len]
                 : kind == BINARY_MUL ? (double)a[i] * b[i % b_len]
                                      : (double)a[i] * s;
    char shape[64];
    if (kind == BINARY_SCALE)
        snprintf(shape, sizeof shape, "n=%u s=%g%s", n, s, in_place ? " in-place" : "");
    else
        snprintf(shape, sizeof shape, "n=%u b_len=%u%s", n, b_len, in_place ? " in-place" : "");
    report(t, names[kind], shape, vkt_nmse(got, ref, n), LIMIT_EXACT);
    dev_free(t, &da), dev_free(t, &db), dev_free(t, &dy);
    free(a), free(b), free(got), free(ref);
}

static void test_binary(struct test *t)
{
    static const uint32_t shapes[][2] = {/* n, b_len */
                                         {1, 1},         {7, 7},       {64, 1},
                                         {7 * 896, 896}, {4097, 4097}, {5 * 4097, 4097}};
    for (int kind = BINARY_ADD; kind <= BINARY_SCALE; kind++)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            test_binary_case(t, (enum binary_kind)kind, shapes[i][0], shapes[i][1], i == 2);
}

/* ---- copy --------------------------------------------------------------------------- */

static size_t type_size(enum eng_type type) { return type == ENG_TYPE_F32 ? 4 : 2; }

static float load_value(const void *buf, enum eng_type type, size_t i)
{
    return type == ENG_TYPE_F32 ? ((const float *)buf)[i] : f16_to_f32(((const uint16_t *)buf)[i]);
}

static void test_copy_case(struct test *t, enum eng_type src_type, enum eng_type dst_type,
                           uint32_t n, uint32_t src_off, uint32_t dst_off)
{
    const size_t src_len = src_off + n + 3, dst_len = dst_off + n + 5; /* elements */
    const size_t ss = type_size(src_type), ds = type_size(dst_type);
    uint8_t *src = vkt_xcalloc(src_len, ss);        /* [src_len] of src_type */
    uint8_t *dst_before = vkt_xcalloc(dst_len, ds); /* [dst_len] of dst_type, random bytes */
    uint8_t *dst = vkt_xcalloc(dst_len, ds);
    float *got = vkt_xcalloc(n, sizeof *got);
    double *ref = vkt_xcalloc(n, sizeof *ref);
    for (size_t i = 0; i < src_len; i++) {
        float v = vkt_rand_uniform(&t->rng, -60000, 60000) * (i % 3 ? 1e-4f : 1.0f);
        if (src_type == ENG_TYPE_F32)
            ((float *)src)[i] = v;
        else
            ((uint16_t *)src)[i] = f32_to_f16(v);
    }
    for (size_t i = 0; i < dst_len * ds; i++)
        dst_before[i] = (uint8_t)(vkt_rng_next(&t->rng) & 0x3f); /* finite either way */
    struct vk_buf dsrc = vkt_buf_upload(t->vk, src, src_len * ss),
                  ddst = vkt_buf_upload(t->vk, dst_before, dst_len * ds);
    vk_cmd_begin(t->vk);
    vk_op_copy(t->vk, vk_view_of(&dsrc), src_type, src_off, vk_view_of(&ddst), dst_type, dst_off,
               n);
    vkt_submit(t->vk);
    vkt_download(t->vk, &ddst, dst, dst_len * ds);
    for (uint32_t i = 0; i < n; i++) {
        float v = load_value(src, src_type, src_off + i);
        ref[i] = dst_type == ENG_TYPE_F16 ? f16_to_f32(f32_to_f16(v)) : v;
        got[i] = load_value(dst, dst_type, dst_off + i);
    }
    bool untouched = memcmp(dst, dst_before, dst_off * ds) == 0 &&
                     memcmp(dst + (dst_off + n) * ds, dst_before + (dst_off + n) * ds,
                            (dst_len - dst_off - n) * ds) == 0;

    char op[32], shape[64];
    snprintf(op, sizeof op, "copy_%s_%s", src_type == ENG_TYPE_F32 ? "f32" : "f16",
             dst_type == ENG_TYPE_F32 ? "f32" : "f16");
    snprintf(shape, sizeof shape, "n=%u src_off=%u dst_off=%u", n, src_off, dst_off);
    /* f32 -> f16 allows either rounding mode the device uses for the narrowing. */
    double limit = src_type == ENG_TYPE_F32 && dst_type == ENG_TYPE_F16 ? LIMIT_F16 : LIMIT_EXACT;
    report(t, op, shape, vkt_nmse(got, ref, n), limit);
    if (!untouched)
        report_bool(t, op, "elements outside the copied range are unchanged", false);
    dev_free(t, &dsrc), dev_free(t, &ddst);
    free(src), free(dst_before), free(dst), free(got), free(ref);
}

static void test_copy(struct test *t)
{
    static const uint32_t shapes[][3] = {/* n, src_off, dst_off */
                                         {1, 0, 0},
                                         {7, 3, 5},
                                         {896, 1, 0},
                                         {4097, 0, 3},
                                         {300001, 2, 1}};
    const enum eng_type types[2] = {ENG_TYPE_F32, ENG_TYPE_F16};
    for (int s = 0; s < 2; s++)
        for (int d = 0; d < 2; d++)
            for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
                test_copy_case(t, types[s], types[d], shapes[i][0], shapes[i][1], shapes[i][2]);
}

/* ---- main --------------------------------------------------------------------------- */

int main(void)
{
    struct vkt_device dev;
    vkt_open_device(&dev);
    struct test t = {.vk = dev.ctx, .rng = 12345};

    test_norms(&t);
    test_rope(&t);
    test_attention(&t);
    test_softmax(&t);
    test_activations(&t);
    test_binary(&t);
    test_copy(&t);

    if (vk_ctx_validation_errors(t.vk) > 0) {
        printf("FAIL: %d validation errors\n", vk_ctx_validation_errors(t.vk));
        t.n_failed++;
    }
    vk_ctx_free(&t.vk);
    printf("%d cases, %d failed\n", t.n_cases, t.n_failed);
    return t.n_failed ? 1 : 0;
}
