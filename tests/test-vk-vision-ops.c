/* test-vk-vision-ops.c: the ops of vulkan/vk-ops.h that the vision encoders
 * add (the exact GELU, segment tiles and non-causal attention within
 * segments) on the first usable Vulkan device, against double-precision
 * references written here from the torch definitions (erf from libm, a
 * plain softmax over each segment), not from the shaders.
 *
 * Each case prints op, shape, NMSE and its limit; the test fails when any
 * NMSE is above its limit (or NaN), when bytes outside an op's output
 * change, when the tiles do not cover the segments, or (with the
 * validation layer on) when the layer reports an error. One timing line
 * (information only) reports one layer's attention of a 448x448 Qwen2-VL
 * image. Exits 77 only when there is no Vulkan device at all.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk-test.h"
#include "vulkan/vk-ops.h"

#define LIMIT_F32 1e-8 /* f32 math against double */
#define GUARD 1.2345e6f /* value of the bytes past an op's output */

struct test {
    struct vk_ctx *vk;
    uint64_t rng;
    int n_cases, n_failed;
};

static void report(struct test *t, const char *op, const char *shape, double value, double limit)
{
    bool ok = value <= limit; /* false for NaN */
    t->n_cases++;
    t->n_failed += !ok;
    printf("%-4s %-16s %-44s nmse %.3e  limit %.0e\n", ok ? "ok" : "FAIL", op, shape, value, limit);
}

static void check(struct test *t, bool ok, const char *what)
{
    t->n_cases++;
    t->n_failed += !ok;
    printf("%-4s %s\n", ok ? "ok" : "FAIL", what);
}

/* ---- gelu_erf ------------------------------------------------------------------ */

static void test_gelu_erf(struct test *t, uint32_t n, float range)
{
    float *x = vkt_xcalloc(n, sizeof *x), *y = vkt_xcalloc(n + 4, sizeof *y);
    double *ref = vkt_xcalloc(n, sizeof *ref);
    vkt_fill_uniform(&t->rng, x, n, -range, range);
    if (n > 4) { /* the tails and zero */
        x[0] = 0.0f, x[1] = -range * 2, x[2] = range * 2, x[3] = -9.0f;
    }
    for (uint32_t i = 0; i < n; i++)
        ref[i] = 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0)));
    for (uint32_t i = 0; i < n + 4; i++)
        y[i] = GUARD;
    struct vk_buf bx = vkt_buf_upload(t->vk, x, 4 * (uint64_t)n);
    struct vk_buf by = vkt_buf_upload(t->vk, y, 4 * (uint64_t)(n + 4));
    vk_cmd_begin(t->vk);
    vk_op_gelu_erf(t->vk, vk_view_sub(&bx, 0, 4 * (uint64_t)n), vk_view_of(&by), n);
    vkt_submit(t->vk);
    vkt_download(t->vk, &by, y, 4 * (uint64_t)(n + 4));
    char shape[64];
    snprintf(shape, sizeof shape, "n=%u range=%g", n, range);
    report(t, "gelu_erf", shape, vkt_nmse(y, ref, n), LIMIT_F32);
    double worst = 0;
    for (uint32_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(y[i] - ref[i]));
    printf("     gelu_erf max |diff| %.3e\n", worst);
    bool guard_ok = true;
    for (uint32_t i = n; i < n + 4; i++)
        guard_ok = guard_ok && y[i] == GUARD;
    check(t, guard_ok, "gelu_erf leaves the bytes past n alone");
    vk_buf_free(t->vk, &bx);
    vk_buf_free(t->vk, &by);
    free(x), free(y), free(ref);
}

/* ---- tiles ------------------------------------------------------------------- */

/* Every token of every segment is the query of exactly one tile, and that
 * tile's key range is its segment. */
static void test_tiles(struct test *t, const int32_t *bounds, int n_seg)
{
    int n_tiles = vk_attention_seg_tiles(bounds, n_seg, NULL);
    int32_t *tiles = vkt_xcalloc(4 * (size_t)n_tiles, sizeof *tiles);
    bool ok = vk_attention_seg_tiles(bounds, n_seg, tiles) == n_tiles;
    int n_tok = bounds[n_seg];
    int *seen = vkt_xcalloc((size_t)n_tok, sizeof *seen);
    for (int i = 0; i < n_tiles && ok; i++) {
        const int32_t *tl = tiles + 4 * i;
        ok = tl[0] < tl[1] && tl[1] - tl[0] <= VK_ATTENTION_SEG_ROWS;
        for (int q = tl[0]; q < tl[1] && ok; q++) {
            int s = 0;
            while (bounds[s + 1] <= q)
                s++;
            ok = tl[2] == bounds[s] && tl[3] == bounds[s + 1];
            seen[q]++;
        }
    }
    for (int q = bounds[0]; q < n_tok && ok; q++)
        ok = seen[q] == 1;
    char what[96];
    snprintf(what, sizeof what, "tiles cover %d segments of %d tokens once (%d tiles)", n_seg,
             n_tok - bounds[0], n_tiles);
    check(t, ok, what);
    free(seen);
    free(tiles);
}

/* ---- attention within segments ---------------------------------------------------- */

/* out[t][h] over keys of t's segment, in double. */
static void attention_ref(const float *q, const float *k, const float *v, double *out,
                          const int32_t *bounds, int n_seg, int n_head, int head_dim, int stride,
                          float scale)
{
    int max_len = 0;
    for (int s = 0; s < n_seg; s++)
        if (bounds[s + 1] - bounds[s] > max_len)
            max_len = bounds[s + 1] - bounds[s];
    double *p = vkt_xcalloc((size_t)max_len, sizeof *p);
    for (int s = 0; s < n_seg; s++) {
        int b = bounds[s], e = bounds[s + 1];
        for (int tq = b; tq < e; tq++) {
            for (int h = 0; h < n_head; h++) {
                const float *qr = q + (size_t)tq * stride + h * head_dim;
                double mx = -INFINITY, sum = 0;
                for (int j = b; j < e; j++) {
                    const float *kr = k + (size_t)j * stride + h * head_dim;
                    double d = 0;
                    for (int c = 0; c < head_dim; c++)
                        d += (double)qr[c] * kr[c];
                    p[j - b] = d * scale;
                    mx = fmax(mx, p[j - b]);
                }
                for (int j = b; j < e; j++)
                    sum += p[j - b] = exp(p[j - b] - mx);
                double *o = out + (size_t)tq * stride + h * head_dim;
                for (int c = 0; c < head_dim; c++) {
                    double a = 0;
                    for (int j = b; j < e; j++)
                        a += p[j - b] * v[(size_t)j * stride + h * head_dim + c];
                    o[c] = a / sum;
                }
            }
        }
    }
    free(p);
}

static void test_attention_seg(struct test *t, const int32_t *bounds, int n_seg, int n_head,
                               int head_dim, int stride, float q_range)
{
    int n_tok = bounds[n_seg];
    size_t n = (size_t)n_tok * stride;
    float *q = vkt_xcalloc(n, sizeof *q), *k = vkt_xcalloc(n, sizeof *k);
    float *v = vkt_xcalloc(n, sizeof *v), *out = vkt_xcalloc(n, sizeof *out);
    double *ref = vkt_xcalloc(n, sizeof *ref);
    vkt_fill_uniform(&t->rng, q, n, -q_range, q_range);
    vkt_fill_uniform(&t->rng, k, n, -q_range, q_range);
    vkt_fill_uniform(&t->rng, v, n, -1.0f, 1.0f);
    float scale = 1.0f / sqrtf((float)head_dim);
    attention_ref(q, k, v, ref, bounds, n_seg, n_head, head_dim, stride, scale);
    /* Columns past n_head * head_dim and rows before bounds[0] keep GUARD. */
    for (size_t i = 0; i < n; i++)
        out[i] = GUARD;

    int n_tiles = vk_attention_seg_tiles(bounds, n_seg, NULL);
    int32_t *tiles = vkt_xcalloc(4 * (size_t)n_tiles, sizeof *tiles);
    vk_attention_seg_tiles(bounds, n_seg, tiles);
    struct vk_buf bq = vkt_buf_upload(t->vk, q, 4 * n), bk = vkt_buf_upload(t->vk, k, 4 * n);
    struct vk_buf bv = vkt_buf_upload(t->vk, v, 4 * n), bo = vkt_buf_upload(t->vk, out, 4 * n);
    struct vk_buf bt = vkt_buf_upload(t->vk, tiles, 16 * (uint64_t)n_tiles);
    struct vk_attention_seg_args a = {
        .q = vk_view_of(&bq), .k = vk_view_of(&bk), .v = vk_view_of(&bv), .out = vk_view_of(&bo),
        .tiles = vk_view_of(&bt), .n_tiles = n_tiles, .n_head = n_head, .head_dim = head_dim,
        .stride = stride, .scale = scale};
    double t0 = vkt_now_seconds();
    vk_cmd_begin(t->vk);
    vk_op_attention_seg(t->vk, &a);
    vkt_submit(t->vk);
    double seconds = vkt_now_seconds() - t0;
    vkt_download(t->vk, &bo, out, 4 * n);

    /* Compare the heads' columns of the segments' rows; the rest must be GUARD. */
    size_t n_cmp = 0;
    float *got = vkt_xcalloc(n, sizeof *got);
    double *want = vkt_xcalloc(n, sizeof *want);
    bool guard_ok = true;
    for (int r = 0; r < n_tok; r++) {
        for (int c = 0; c < stride; c++) {
            size_t i = (size_t)r * stride + c;
            if (r >= bounds[0] && c < n_head * head_dim) {
                got[n_cmp] = out[i];
                want[n_cmp++] = ref[i];
            } else {
                guard_ok = guard_ok && out[i] == GUARD;
            }
        }
    }
    char shape[96];
    snprintf(shape, sizeof shape, "tok=%d seg=%d heads=%d hd=%d stride=%d", n_tok - bounds[0],
             n_seg, n_head, head_dim, stride);
    report(t, "attention_seg", shape, vkt_nmse(got, want, n_cmp), LIMIT_F32);
    check(t, guard_ok, "attention_seg writes only the heads' columns of the segments' rows");
    printf("     attention_seg %.1f ms\n", 1e3 * seconds);
    vk_buf_free(t->vk, &bq), vk_buf_free(t->vk, &bk), vk_buf_free(t->vk, &bv);
    vk_buf_free(t->vk, &bo), vk_buf_free(t->vk, &bt);
    free(q), free(k), free(v), free(out), free(ref), free(got), free(want), free(tiles);
}

/* Information only: one layer's attention of a 448x448 Qwen2-VL image
 * (1024 patches, 16 heads of 80), timed after a warm-up run. */
static void time_attention_seg(struct test *t)
{
    const int n_tok = 1024, n_head = 16, head_dim = 80, stride = n_head * head_dim;
    const size_t n = (size_t)n_tok * stride;
    float *x = vkt_xcalloc(n, sizeof *x);
    vkt_fill_uniform(&t->rng, x, n, -1.0f, 1.0f);
    const int32_t bounds[] = {0, n_tok};
    int n_tiles = vk_attention_seg_tiles(bounds, 1, NULL);
    int32_t *tiles = vkt_xcalloc(4 * (size_t)n_tiles, sizeof *tiles);
    vk_attention_seg_tiles(bounds, 1, tiles);
    struct vk_buf bx = vkt_buf_upload(t->vk, x, 4 * n), bo = vkt_buf_upload(t->vk, NULL, 4 * n);
    struct vk_buf bt = vkt_buf_upload(t->vk, tiles, 16 * (uint64_t)n_tiles);
    struct vk_attention_seg_args a = {
        .q = vk_view_of(&bx), .k = vk_view_of(&bx), .v = vk_view_of(&bx), .out = vk_view_of(&bo),
        .tiles = vk_view_of(&bt), .n_tiles = n_tiles, .n_head = n_head, .head_dim = head_dim,
        .stride = stride, .scale = 1.0f / sqrtf((float)head_dim)};
    double seconds = 0;
    for (int run = 0; run < 2; run++) {
        double t0 = vkt_now_seconds();
        vk_cmd_begin(t->vk);
        vk_op_attention_seg(t->vk, &a);
        vkt_submit(t->vk);
        seconds = vkt_now_seconds() - t0;
    }
    double gflop = 4.0 * n_tok * (double)n_tok * n_head * head_dim * 1e-9;
    printf("time attention_seg tok=%d heads=%d hd=%d: %.1f ms (%.1f GFLOP/s)\n", n_tok, n_head,
           head_dim, 1e3 * seconds, gflop / seconds);
    vk_buf_free(t->vk, &bx), vk_buf_free(t->vk, &bo), vk_buf_free(t->vk, &bt);
    free(x), free(tiles);
}

int main(void)
{
    struct vkt_device dev;
    vkt_open_device(&dev);
    struct test t = {.vk = dev.ctx, .rng = 0x5eed};

    test_gelu_erf(&t, 4099, 4.0f);
    test_gelu_erf(&t, 1000, 12.0f);

    const int32_t one[] = {0, 200};
    const int32_t uneven[] = {0, 1, 65, 65, 129, 200, 333};
    const int32_t offset[] = {5, 70, 71};
    test_tiles(&t, one, 1);
    test_tiles(&t, uneven, 6);
    test_tiles(&t, offset, 2);

    /* Tiny fixtures (head_dim 8), SigLIP (64), Qwen (80), the largest (128). */
    test_attention_seg(&t, one, 1, 4, 8, 32, 2.0f);
    test_attention_seg(&t, uneven, 6, 2, 64, 128, 1.0f);
    test_attention_seg(&t, offset, 2, 3, 80, 244, 1.0f);
    test_attention_seg(&t, uneven, 6, 1, 128, 128, 0.5f);
    /* Large scores: the online softmax must not overflow. */
    test_attention_seg(&t, one, 1, 2, 16, 32, 8.0f);

    time_attention_seg(&t);

    if (vk_ctx_validation_on(t.vk))
        check(&t, vk_ctx_validation_errors(t.vk) == 0, "no validation-layer errors");

    printf("%d cases, %d failed\n", t.n_cases, t.n_failed);
    vk_ctx_free(&dev.ctx);
    return t.n_failed ? 1 : 0;
}
