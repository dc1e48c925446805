/* test-vk-matmul.c: the weight ops of vulkan/vk-ops.h (vk_op_mul_mat on
 * both shaders, vk_op_mul_mat_glu, vk_op_get_rows) for all 12 weight types
 * on the first usable Vulkan device.
 *
 * Weights are random rows quantized with quant_quantize_row() (real
 * quantized data); the reference uses the CPU dequantizer
 * quant_dequantize_row() (itself checked against numpy by the quant test)
 * and double-precision dots. Shapes cover odd sizes: n_in of one, three and
 * five "units" (a unit is 32 elements, 256 for the K types; the float types
 * also take 37 to leave a tail), n_out in {1, 7, 33, 130}, n_tok in
 * {1, 2, 5, 8, 13, 64} (both sides of VK_MUL_MAT_MIN_TILED_TOKENS), with
 * bias and accumulate cycled and x rows aligned or not. Matrices with 33 or
 * more rows are split by hand into 3 parts placed in reverse order in one
 * buffer with NaN-filled gaps, as a matrix larger than one binding would be.
 * Padding around y and past get_rows' output must come back untouched.
 * The fused SwiGLU (mul_mat_glu) is checked against silu(gate . x) * (up . x)
 * in doubles for n_tok 1, 2, 5, n_out 7, 33 and 301 (3 parts from 33 on),
 * the same n_in as above; vk_mul_mat_glu_ok() against mismatched pairs.
 *
 * Each case prints op, type, shape, NMSE = sum((got - ref)^2) / sum(ref^2)
 * and its limit; the test fails when any NMSE is above its limit (or NaN),
 * or when bytes outside an output change. Everything runs twice, with the
 * GPU and the software-Vulkan shapes of the shaders (both tunings of
 * vk-ops-matmul.c) whatever the device; the tuning that is not the
 * device's own skips the shapes whose rows are off 16 bytes. A larger case (896 x 4864, Qwen2.5
 * 0.5B's FFN up, n_tok 1 and 64, Q8_0 and Q4_0) also prints the time per
 * dispatch, and the fused SwiGLU of gate and up at that size its time
 * against the unfused mul_mat, mul_mat, silu_mul (information only, no
 * timing assertion).
 * Exits 77 only when there is no Vulkan device at all.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "vk-test.h"
#include "vulkan/vk-ops.h"

/* The shaders dequantize exactly as the CPU does (the same f16 scales and
 * the same f32 products; at most one rounding differs where a driver fuses
 * q * d + m), so what is left is f32 accumulation over at most 1280 terms.
 * Its error scales with the terms, not with their sum: squared, about
 * n * 2^-48 * sum of squared products ~ 1e-12 of it for n = 1280. The limit
 * is 1e-10 relative to that energy: 1e-10 * max(1, sum_terms^2 / sum_ref^2),
 * i.e. plain 1e-10 unless the outputs cancel (a single near-zero dot).
 * One wrong element in a 1280-long row alone gives ~1e-3. */
#define LIMIT_MUL_MAT 1e-10
/* mul_mat_glu: y = silu(g) u carries the dots' errors as
 * dy = silu'(g) u dg + silu(g) du; its limit is 1e-10 relative to the energy
 * of those error terms, sum(silu'(g)^2 u^2 Tg + silu(g)^2 Tu), where T is a
 * dot's sum of squared products (the same rule as LIMIT_MUL_MAT). The f32
 * exp adds a relative error of a few ulp, ~1e-13 squared. */
#define LIMIT_MUL_MAT_GLU 1e-10
/* get_rows copies dequantized values: equal but for that one rounding. */
#define LIMIT_GET_ROWS 1e-12

#define SENTINEL 1234.5f

static const enum eng_type all_types[] = {
    ENG_TYPE_F32,  ENG_TYPE_F16,  ENG_TYPE_BF16, ENG_TYPE_Q4_0, ENG_TYPE_Q4_1, ENG_TYPE_Q5_0,
    ENG_TYPE_Q5_1, ENG_TYPE_Q8_0, ENG_TYPE_Q4_K, ENG_TYPE_Q5_K, ENG_TYPE_Q6_K, ENG_TYPE_IQ4_NL,
};
#define N_TYPES (int)(sizeof all_types / sizeof all_types[0])

struct test {
    struct vk_ctx *vk;
    uint64_t rng;
    int n_cases, n_failed;
};

/* A weight matrix on the host: quantized rows and their dequantized values. */
struct weights {
    enum eng_type type;
    int n_in, n_out;
    size_t row_bytes;
    uint8_t *data; /* [n_out][row_bytes], the type's blocks */
    double *deq;   /* [n_out][n_in], quant_dequantize_row() of data */
};

/* The same matrix on the device, in n_parts parts of one buffer. */
struct dev_matrix {
    struct vk_buf buf; /* the parts in reverse order, gaps filled with 0xFF bytes */
    struct vk_matrix m;
    struct vk_matrix_part parts[3];
};

/* ---- helpers ---------------------------------------------------------------- */

static uint64_t round_up(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

static void report(struct test *t, const char *op, const char *what, double value, double limit)
{
    bool ok = value <= limit; /* false for NaN */
    t->n_cases++;
    if (!ok)
        t->n_failed++;
    printf("%-4s %-8s %-64s nmse=%.3g limit=%.2g\n", ok ? "ok" : "FAIL", op, what, value, limit);
}

static void fail(struct test *t, const char *op, const char *what, const char *why)
{
    t->n_cases++;
    t->n_failed++;
    printf("FAIL %-8s %-64s %s\n", op, what, why);
}

/* ---- weights -------------------------------------------------------------------- */

/* Random rows quantized to type. Rows get different scales so that the
 * per-block scales vary; a few blocks are near zero. */
static struct weights make_weights(struct test *t, enum eng_type type, int n_in, int n_out)
{
    struct weights w = {.type = type, .n_in = n_in, .n_out = n_out};
    w.row_bytes = quant_row_size(type, n_in);
    w.data = vkt_xcalloc((size_t)n_out, w.row_bytes);
    w.deq = vkt_xcalloc((size_t)n_out * n_in, sizeof(double));
    float *row = vkt_xcalloc((size_t)n_in, sizeof(float));
    for (int r = 0; r < n_out; r++) {
        float scale = vkt_rand_uniform(&t->rng, 0.05f, 2.0f);
        for (int k = 0; k < n_in; k++)
            row[k] = scale * vkt_rand_uniform(&t->rng, -1.0f, 1.0f) * (k % 97 == 5 ? 0.01f : 1.0f);
        quant_quantize_row(type, row, w.data + (size_t)r * w.row_bytes, n_in);
        quant_dequantize_row(type, w.data + (size_t)r * w.row_bytes, row, n_in);
        for (int k = 0; k < n_in; k++)
            w.deq[(size_t)r * n_in + k] = row[k];
    }
    free(row);
    return w;
}

static void free_weights(struct weights *w)
{
    free(w->data);
    free(w->deq);
}

/* Upload w in n_parts parts (1 or 3): part p holds rows
 * [row0_p, row0_p + n_rows_p); the parts go into the buffer last part first,
 * each at a multiple of 16 bytes after a 16-byte gap of 0xFF bytes (NaN as
 * f16/f32), so a shader that ignored the part's view or row0, or read past
 * its rows, would show it. */
static void upload_matrix(struct test *t, const struct weights *w, int n_parts,
                          struct dev_matrix *dm)
{
    memset(dm, 0, sizeof *dm);
    int rows_left = w->n_out, row0 = 0;
    for (int p = 0; p < n_parts; p++) {
        int n_rows = rows_left / (n_parts - p) + (p == 0 ? rows_left % (n_parts - p) : 0);
        dm->parts[p].row0 = row0;
        dm->parts[p].n_rows = n_rows;
        row0 += n_rows;
        rows_left -= n_rows;
    }
    uint64_t offset[3], end = 0;
    for (int p = n_parts - 1; p >= 0; p--) {
        offset[p] = round_up(end, 16) + 16;
        end = offset[p] + (uint64_t)dm->parts[p].n_rows * w->row_bytes;
    }
    uint64_t size = round_up(end, 16) + 16;
    uint8_t *image = vkt_xcalloc(size, 1);
    memset(image, 0xFF, size);
    for (int p = 0; p < n_parts; p++)
        memcpy(image + offset[p], w->data + (size_t)dm->parts[p].row0 * w->row_bytes,
               (size_t)dm->parts[p].n_rows * w->row_bytes);
    dm->buf = vkt_buf_upload(t->vk, image, size);
    free(image);
    for (int p = 0; p < n_parts; p++)
        dm->parts[p].view =
            vk_view_sub(&dm->buf, offset[p], (uint64_t)dm->parts[p].n_rows * w->row_bytes);
    dm->m = (struct vk_matrix){.type = w->type, .n_in = w->n_in, .n_out = w->n_out,
                               .row_bytes = w->row_bytes, .n_parts = n_parts,
                               .parts = dm->parts};
}

/* ---- mul_mat ---------------------------------------------------------------------- */

struct mul_mat_case {
    int n_tok;
    int x_stride, y_stride;
    bool bias, accumulate;
};

/* Run one product and compare it with the double reference; also check that
 * y's padding columns kept their sentinel. */
static void check_mul_mat(struct test *t, const struct weights *w, const struct dev_matrix *dm,
                          const struct mul_mat_case *c)
{
    const int n_in = w->n_in, n_out = w->n_out, n_tok = c->n_tok;
    float *x = vkt_xcalloc((size_t)n_tok * c->x_stride, sizeof(float)); /* [n_tok][x_stride] */
    float *y = vkt_xcalloc((size_t)n_tok * c->y_stride, sizeof(float)); /* [n_tok][y_stride] */
    float *bias = vkt_xcalloc((size_t)n_out, sizeof(float));            /* [n_out] */
    double *ref = vkt_xcalloc((size_t)n_tok * n_out, sizeof(double));   /* [n_tok][n_out] */
    float *got = vkt_xcalloc((size_t)n_tok * n_out, sizeof(float));     /* [n_tok][n_out] */
    vkt_fill_uniform(&t->rng, x, (size_t)n_tok * c->x_stride, -1.0f, 1.0f);
    vkt_fill_uniform(&t->rng, bias, (size_t)n_out, -1.0f, 1.0f);
    for (int i = 0; i < n_tok; i++)
        for (int r = 0; r < c->y_stride; r++)
            y[(size_t)i * c->y_stride + r] =
                r < n_out ? vkt_rand_uniform(&t->rng, -1.0f, 1.0f) : SENTINEL;

    double energy_terms = 0, energy_ref = 0; /* sum of squared terms, of squared results */
    for (int i = 0; i < n_tok; i++)
        for (int r = 0; r < n_out; r++) {
            const double *wr = w->deq + (size_t)r * n_in;
            const float *xt = x + (size_t)i * c->x_stride;
            double s = 0;
            for (int k = 0; k < n_in; k++) {
                s += wr[k] * (double)xt[k];
                energy_terms += (wr[k] * xt[k]) * (wr[k] * xt[k]);
            }
            if (c->bias) {
                s += bias[r];
                energy_terms += (double)bias[r] * bias[r];
            }
            if (c->accumulate) {
                double y0 = y[(size_t)i * c->y_stride + r];
                s += y0;
                energy_terms += y0 * y0;
            }
            ref[(size_t)i * n_out + r] = s;
            energy_ref += s * s;
        }
    const double limit =
        LIMIT_MUL_MAT * (energy_terms > energy_ref ? energy_terms / energy_ref : 1.0);

    struct vk_buf x_buf = vkt_buf_upload(t->vk, x, 4 * (uint64_t)n_tok * c->x_stride);
    struct vk_buf y_buf = vkt_buf_upload(t->vk, y, 4 * (uint64_t)n_tok * c->y_stride);
    struct vk_buf b_buf = vkt_buf_upload(t->vk, bias, 4 * (uint64_t)n_out);
    struct vk_view b_view = vk_view_sub(&b_buf, 0, 4 * (uint64_t)n_out);
    struct vk_mul_mat_args a = {
        .w = &dm->m,
        .x = vk_view_sub(&x_buf, 0, 4 * (uint64_t)n_tok * c->x_stride),
        .x_stride = c->x_stride,
        .y = vk_view_sub(&y_buf, 0, 4 * (uint64_t)n_tok * c->y_stride),
        .y_stride = c->y_stride,
        .n_tok = n_tok,
        .bias = c->bias ? &b_view : NULL,
        .accumulate = c->accumulate,
    };
    vk_cmd_begin(t->vk);
    vk_op_mul_mat(t->vk, &a);
    vkt_submit(t->vk);
    float *y_after = vkt_xcalloc((size_t)n_tok * c->y_stride, sizeof(float));
    vkt_download(t->vk, &y_buf, y_after, 4 * (uint64_t)n_tok * c->y_stride);

    bool padding_kept = true;
    for (int i = 0; i < n_tok; i++)
        for (int r = 0; r < c->y_stride; r++) {
            float v = y_after[(size_t)i * c->y_stride + r];
            if (r < n_out)
                got[(size_t)i * n_out + r] = v;
            else if (v != SENTINEL)
                padding_kept = false;
        }
    char what[160];
    snprintf(what, sizeof what, "%-6s n_in=%-4d n_out=%-3d n_tok=%-2d parts=%d %s x_stride=%d%s%s",
             quant_traits(w->type)->name, n_in, n_out, n_tok, dm->m.n_parts,
             n_tok < VK_MUL_MAT_MIN_TILED_TOKENS ? "vec  " : "tiled", c->x_stride,
             c->bias ? " bias" : "", c->accumulate ? " acc" : "");
    report(t, "mul_mat", what, vkt_nmse(got, ref, (size_t)n_tok * n_out), limit);
    if (!padding_kept)
        fail(t, "mul_mat", what, "y padding columns changed");

    vk_buf_free(t->vk, &x_buf);
    vk_buf_free(t->vk, &y_buf);
    vk_buf_free(t->vk, &b_buf);
    free(x), free(y), free(bias), free(ref), free(got), free(y_after);
}

/* ---- get_rows ---------------------------------------------------------------------- */

/* Fetch n rows by id (ids spread over all parts, with repeats) and compare
 * with the CPU dequantization; the 8 floats after y must stay untouched. */
static void check_get_rows(struct test *t, const struct weights *w, const struct dev_matrix *dm,
                           int n)
{
    const int n_in = w->n_in;
    int32_t *ids = vkt_xcalloc((size_t)n, sizeof(int32_t)); /* [n] */
    for (int i = 0; i < n; i++)
        ids[i] = i < 3 ? (i * (w->n_out - 1)) / 2
                       : (int32_t)(vkt_rng_next(&t->rng) % (uint64_t)w->n_out);
    const size_t y_len = (size_t)n * n_in + 8;
    float *y = vkt_xcalloc(y_len, sizeof(float)); /* [n][n_in] and 8 guard floats */
    for (size_t i = 0; i < y_len; i++)
        y[i] = SENTINEL;
    double *ref = vkt_xcalloc((size_t)n * n_in, sizeof(double)); /* [n][n_in] */
    for (int i = 0; i < n; i++)
        memcpy(ref + (size_t)i * n_in, w->deq + (size_t)ids[i] * n_in, sizeof(double) * n_in);

    struct vk_buf ids_buf = vkt_buf_upload(t->vk, ids, 4 * (uint64_t)n);
    struct vk_buf y_buf = vkt_buf_upload(t->vk, y, 4 * (uint64_t)y_len);
    vk_cmd_begin(t->vk);
    vk_op_get_rows(t->vk, &dm->m, vk_view_sub(&ids_buf, 0, 4 * (uint64_t)n), n,
                   vk_view_sub(&y_buf, 0, 4 * (uint64_t)n * n_in));
    vkt_submit(t->vk);
    vkt_download(t->vk, &y_buf, y, 4 * (uint64_t)y_len);

    char what[160];
    snprintf(what, sizeof what, "%-6s n_in=%-4d n_out=%-3d n=%-2d parts=%d",
             quant_traits(w->type)->name, n_in, w->n_out, n, dm->m.n_parts);
    report(t, "get_rows", what, vkt_nmse(y, ref, (size_t)n * n_in), LIMIT_GET_ROWS);
    for (int i = 0; i < 8; i++)
        if (y[(size_t)n * n_in + i] != SENTINEL) {
            fail(t, "get_rows", what, "wrote past y");
            break;
        }
    vk_buf_free(t->vk, &ids_buf);
    vk_buf_free(t->vk, &y_buf);
    free(ids), free(y), free(ref);
}

/* ---- mul_mat_glu --------------------------------------------------------------------- */

static double silu(double g) { return g / (1.0 + exp(-g)); }

/* d silu(g) / dg = sigmoid(g) (1 + g (1 - sigmoid(g))). */
static double silu_slope(double g)
{
    const double s = 1.0 / (1.0 + exp(-g));
    return s * (1.0 + g * (1.0 - s));
}

/* The dot of row r of w with x (n_in values) and its sum of squared products. */
static double ref_dot(const struct weights *w, int r, const float *x, double *energy)
{
    const double *wr = w->deq + (size_t)r * w->n_in;
    double s = 0, e = 0;
    for (int k = 0; k < w->n_in; k++) {
        s += wr[k] * (double)x[k];
        e += (wr[k] * x[k]) * (wr[k] * x[k]);
    }
    *energy = e;
    return s;
}

/* Run the fused SwiGLU of gate and up on n_tok random rows and compare with
 * the double reference; y's padding columns must keep their sentinel. */
static void check_glu(struct test *t, const struct weights *wg, const struct weights *wu,
                      const struct dev_matrix *dg, const struct dev_matrix *du, int n_tok,
                      int x_stride, int y_stride)
{
    const int n_in = wg->n_in, n_out = wg->n_out;
    float *x = vkt_xcalloc((size_t)n_tok * x_stride, sizeof(float));       /* [n_tok][x_stride] */
    float *y = vkt_xcalloc((size_t)n_tok * y_stride, sizeof(float));       /* [n_tok][y_stride] */
    double *ref = vkt_xcalloc((size_t)n_tok * n_out, sizeof(double));      /* [n_tok][n_out] */
    float *got = vkt_xcalloc((size_t)n_tok * n_out, sizeof(float));        /* [n_tok][n_out] */
    vkt_fill_uniform(&t->rng, x, (size_t)n_tok * x_stride, -1.0f, 1.0f);
    for (int i = 0; i < n_tok; i++)
        for (int r = 0; r < y_stride; r++)
            y[(size_t)i * y_stride + r] =
                r < n_out ? vkt_rand_uniform(&t->rng, -1.0f, 1.0f) : SENTINEL;

    double energy_terms = 0, energy_ref = 0; /* of the error terms, of the results */
    for (int i = 0; i < n_tok; i++)
        for (int r = 0; r < n_out; r++) {
            double tg, tu;
            const double g = ref_dot(wg, r, x + (size_t)i * x_stride, &tg);
            const double u = ref_dot(wu, r, x + (size_t)i * x_stride, &tu);
            const double v = silu(g) * u, slope = silu_slope(g);
            ref[(size_t)i * n_out + r] = v;
            energy_ref += v * v;
            energy_terms += slope * slope * u * u * tg + silu(g) * silu(g) * tu;
        }
    const double limit =
        LIMIT_MUL_MAT_GLU * (energy_terms > energy_ref ? energy_terms / energy_ref : 1.0);

    struct vk_buf x_buf = vkt_buf_upload(t->vk, x, 4 * (uint64_t)n_tok * x_stride);
    struct vk_buf y_buf = vkt_buf_upload(t->vk, y, 4 * (uint64_t)n_tok * y_stride);
    vk_cmd_begin(t->vk);
    vk_op_mul_mat_glu(t->vk, &dg->m, &du->m, vk_view_sub(&x_buf, 0, 4 * (uint64_t)n_tok * x_stride),
                      x_stride, vk_view_sub(&y_buf, 0, 4 * (uint64_t)n_tok * y_stride), y_stride,
                      n_tok);
    vkt_submit(t->vk);
    vkt_download(t->vk, &y_buf, y, 4 * (uint64_t)n_tok * y_stride);

    bool padding_kept = true;
    for (int i = 0; i < n_tok; i++)
        for (int r = 0; r < y_stride; r++) {
            float v = y[(size_t)i * y_stride + r];
            if (r < n_out)
                got[(size_t)i * n_out + r] = v;
            else if (v != SENTINEL)
                padding_kept = false;
        }
    char what[160];
    snprintf(what, sizeof what, "%-6s n_in=%-4d n_out=%-4d n_tok=%-2d parts=%d x_stride=%d",
             quant_traits(wg->type)->name, n_in, n_out, n_tok, dg->m.n_parts, x_stride);
    report(t, "glu", what, vkt_nmse(got, ref, (size_t)n_tok * n_out), limit);
    if (!padding_kept)
        fail(t, "glu", what, "y padding columns changed");

    vk_buf_free(t->vk, &x_buf);
    vk_buf_free(t->vk, &y_buf);
    free(x), free(y), free(ref), free(got);
}

/* The fused SwiGLU for all shapes of one type (full: as test_type()). */
static void test_glu_type(struct test *t, enum eng_type type, bool full)
{
    const int blck = quant_traits(type)->blck;
    const int unit = blck == 1 ? 32 : blck;
    const int n_ins[] = {unit, 3 * unit, blck == 1 && full ? 37 : 0};
    const int n_outs[] = {7, 33, 301};
    const int n_toks[] = {1, 2, 5};
    const bool unaligned_x = full && (type == ENG_TYPE_F32 || type == ENG_TYPE_Q8_0);
    int variant = 0;
    for (int a = 0; a < 3; a++) {
        if (n_ins[a] == 0)
            continue;
        for (int b = 0; b < 3; b++) {
            struct weights wg = make_weights(t, type, n_ins[a], n_outs[b]);
            struct weights wu = make_weights(t, type, n_ins[a], n_outs[b]);
            const int n_parts = n_outs[b] >= 33 ? 3 : 1;
            struct dev_matrix dg, du;
            upload_matrix(t, &wg, n_parts, &dg);
            upload_matrix(t, &wu, n_parts, &du);
            for (int c = 0; c < 3; c++, variant++) {
                const int x_stride = wg.n_in + (variant % 3 == 1 && unaligned_x ? 3 : 0);
                check_glu(t, &wg, &wu, &dg, &du, n_toks[c], x_stride, wg.n_out + 2);
            }
            vk_buf_free(t->vk, &dg.buf);
            vk_buf_free(t->vk, &du.buf);
            free_weights(&wg);
            free_weights(&wu);
        }
    }
}

/* vk_mul_mat_glu_ok() takes matching pairs of few tokens only. */
static void test_glu_ok(struct test *t)
{
    struct vk_matrix_part pg[2] = {{.row0 = 0, .n_rows = 40}, {.row0 = 40, .n_rows = 24}};
    struct vk_matrix_part pu[2] = {{.row0 = 0, .n_rows = 40}, {.row0 = 40, .n_rows = 24}};
    struct vk_matrix_part pu_other[2] = {{.row0 = 0, .n_rows = 32}, {.row0 = 32, .n_rows = 32}};
    const struct vk_matrix gate = {.type = ENG_TYPE_Q8_0, .n_in = 64, .n_out = 64,
                                   .row_bytes = quant_row_size(ENG_TYPE_Q8_0, 64), .n_parts = 2,
                                   .parts = pg};
    struct vk_matrix up = gate;
    up.parts = pu;
    struct {
        const char *what;
        struct vk_matrix up;
        int n_tok;
        bool expected;
    } cases[] = {
        {"matching pair, n_tok 1", up, 1, true},
        {"matching pair, n_tok 7", up, 7, true},
        {"n_tok = VK_MUL_MAT_MIN_TILED_TOKENS", up, VK_MUL_MAT_MIN_TILED_TOKENS, false},
        {"other type", up, 1, false},
        {"other n_out", up, 1, false},
        {"other n_in", up, 1, false},
        {"other part split", up, 1, false},
        {"one part", up, 1, false},
    };
    cases[3].up.type = ENG_TYPE_Q4_0;
    cases[3].up.row_bytes = quant_row_size(ENG_TYPE_Q4_0, 64);
    cases[4].up.n_out = 65;
    cases[5].up.n_in = 96;
    cases[5].up.row_bytes = quant_row_size(ENG_TYPE_Q8_0, 96);
    cases[6].up.parts = pu_other;
    cases[7].up.n_parts = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t->n_cases++;
        bool got = vk_mul_mat_glu_ok(&gate, &cases[i].up, cases[i].n_tok);
        if (got != cases[i].expected)
            t->n_failed++;
        printf("%-4s %-8s %s: %s\n", got == cases[i].expected ? "ok" : "FAIL", "glu_ok",
               cases[i].what, got ? "true" : "false");
    }
}

/* ---- all types, all shapes ------------------------------------------------------------- */

/* All shapes of one type. full: also rows that are not on 16 bytes (float
 * types with n_in = 37, which also leaves a tail past the last 32 elements;
 * x rows with a stride off 4 for two types: the x loads do not depend on the
 * weight type). Each of those is another pipeline variant, and on software
 * Vulkan every variant costs seconds to compile. */
static void test_type(struct test *t, enum eng_type type, bool full)
{
    const int blck = quant_traits(type)->blck;
    const int unit = blck == 1 ? 32 : blck; /* the float types: 32 */
    const int n_ins[] = {unit, 3 * unit, 5 * 256, blck == 1 && full ? 37 : 0};
    const int n_outs[] = {1, 7, 33, 130};
    const int n_toks[] = {1, 2, 5, 8, 13, 64};
    const bool unaligned_x = full && (type == ENG_TYPE_F32 || type == ENG_TYPE_Q8_0);
    int variant = 0;
    for (int a = 0; a < 4; a++) {
        if (n_ins[a] == 0)
            continue;
        for (int b = 0; b < 4; b++) {
            struct weights w = make_weights(t, type, n_ins[a], n_outs[b]);
            struct dev_matrix dm;
            upload_matrix(t, &w, w.n_out >= 33 ? 3 : 1, &dm);
            for (int c = 0; c < 6; c++, variant++) {
                struct mul_mat_case mc = {
                    .n_tok = n_toks[c],
                    .x_stride = w.n_in + (variant % 3 == 1 && unaligned_x ? 3 : 0),
                    .y_stride = w.n_out + 2,
                    .bias = variant % 4 == 1 || variant % 4 == 3,
                    .accumulate = variant % 4 >= 2,
                };
                check_mul_mat(t, &w, &dm, &mc);
            }
            check_get_rows(t, &w, &dm, 1 + (int)(vkt_rng_next(&t->rng) % 13));
            vk_buf_free(t->vk, &dm.buf);
            free_weights(&w);
        }
    }
}

/* ---- a realistic size, timed ---------------------------------------------------------- */

/* Qwen2.5-0.5B's FFN up projection (896 -> 4864): checks the result, then
 * reports the time per dispatch over a batch of dispatches (information
 * only), as GB/s of weights for one token and GFLOP/s for 64. */
static void time_large(struct test *t, enum eng_type type, int n_tok)
{
    const int n_in = 896, n_out = 4864;
    struct weights w = make_weights(t, type, n_in, n_out);
    struct dev_matrix dm;
    upload_matrix(t, &w, 1, &dm);
    struct mul_mat_case mc = {.n_tok = n_tok, .x_stride = n_in, .y_stride = n_out};
    check_mul_mat(t, &w, &dm, &mc);

    float *x = vkt_xcalloc((size_t)n_tok * n_in, sizeof(float));
    vkt_fill_uniform(&t->rng, x, (size_t)n_tok * n_in, -1.0f, 1.0f);
    struct vk_buf x_buf = vkt_buf_upload(t->vk, x, 4 * (uint64_t)n_tok * n_in);
    struct eng_err err = {0};
    struct vk_buf y_buf;
    if (vk_buf_new(t->vk, 4 * (uint64_t)n_tok * n_out, VK_MEM_DEVICE, &y_buf, &err))
        vkt_die("vk_buf_new", &err);
    struct vk_mul_mat_args a = {.w = &dm.m, .x = vk_view_of(&x_buf), .x_stride = n_in,
                                .y = vk_view_of(&y_buf), .y_stride = n_out, .n_tok = n_tok};
    const int reps = n_tok == 1 ? 20 : 4;
    double best = 1e30;
    for (int round = 0; round < 3; round++) {
        double t0 = vkt_now_seconds();
        vk_cmd_begin(t->vk);
        for (int i = 0; i < reps; i++)
            vk_op_mul_mat(t->vk, &a);
        vkt_submit(t->vk);
        double per = (vkt_now_seconds() - t0) / reps;
        if (per < best)
            best = per;
    }
    double bytes = (double)w.row_bytes * n_out;
    double flops = 2.0 * n_in * n_out * n_tok;
    printf("time %-6s %dx%d n_tok=%-2d %s: %.3f ms per dispatch, %.2f GB/s of weights, "
           "%.2f GFLOP/s\n",
           quant_traits(type)->name, n_in, n_out, n_tok,
           n_tok < VK_MUL_MAT_MIN_TILED_TOKENS ? "mul_mat_vec" : "mul_mat (tiled)", best * 1e3,
           bytes / best * 1e-9, flops / best * 1e-9);
    vk_buf_free(t->vk, &x_buf);
    vk_buf_free(t->vk, &y_buf);
    vk_buf_free(t->vk, &dm.buf);
    free(x);
    free_weights(&w);
}

/* The fused SwiGLU of Qwen2.5-0.5B's FFN gate and up (896 -> 4864, one
 * token): checks the result, then times it against the unfused sequence
 * (mul_mat gate, mul_mat up, silu_mul), best of several batches
 * (information only). */
static void time_glu(struct test *t, enum eng_type type)
{
    const int n_in = 896, n_out = 4864, n_tok = 1;
    struct weights wg = make_weights(t, type, n_in, n_out);
    struct weights wu = make_weights(t, type, n_in, n_out);
    struct dev_matrix dg, du;
    upload_matrix(t, &wg, 1, &dg);
    upload_matrix(t, &wu, 1, &du);
    check_glu(t, &wg, &wu, &dg, &du, n_tok, n_in, n_out);

    float *x = vkt_xcalloc((size_t)n_in, sizeof(float)); /* [n_tok][n_in] */
    vkt_fill_uniform(&t->rng, x, (size_t)n_in, -1.0f, 1.0f);
    struct vk_buf x_buf = vkt_buf_upload(t->vk, x, 4 * (uint64_t)n_in);
    struct eng_err err = {0};
    struct vk_buf g_buf, u_buf; /* f32 [n_tok][n_out] each: gate (and the result), up */
    if (vk_buf_new(t->vk, 4 * (uint64_t)n_out, VK_MEM_DEVICE, &g_buf, &err) ||
        vk_buf_new(t->vk, 4 * (uint64_t)n_out, VK_MEM_DEVICE, &u_buf, &err))
        vkt_die("vk_buf_new", &err);
    struct vk_view xv = vk_view_of(&x_buf), gv = vk_view_of(&g_buf), uv = vk_view_of(&u_buf);
    struct vk_mul_mat_args a_gate = {.w = &dg.m, .x = xv, .x_stride = n_in, .y = gv,
                                     .y_stride = n_out, .n_tok = n_tok};
    struct vk_mul_mat_args a_up = a_gate;
    a_up.w = &du.m;
    a_up.y = uv;
    const int reps = 20;
    double best_fused = 1e30, best_unfused = 1e30;
    for (int round = 0; round < 5; round++) {
        double t0 = vkt_now_seconds();
        vk_cmd_begin(t->vk);
        for (int i = 0; i < reps; i++)
            vk_op_mul_mat_glu(t->vk, &dg.m, &du.m, xv, n_in, gv, n_out, n_tok);
        vkt_submit(t->vk);
        double t1 = vkt_now_seconds();
        vk_cmd_begin(t->vk);
        for (int i = 0; i < reps; i++) {
            vk_op_mul_mat(t->vk, &a_gate);
            vk_op_mul_mat(t->vk, &a_up);
            vk_op_silu_mul(t->vk, gv, uv, gv, (uint32_t)n_out);
        }
        vkt_submit(t->vk);
        double t2 = vkt_now_seconds();
        if ((t1 - t0) / reps < best_fused)
            best_fused = (t1 - t0) / reps;
        if ((t2 - t1) / reps < best_unfused)
            best_unfused = (t2 - t1) / reps;
    }
    printf("time %-6s %dx%d n_tok=%d glu: fused %.3f ms, unfused (mul_mat x2 + silu_mul) "
           "%.3f ms, %.2fx; fused %.2f GB/s of weights\n",
           quant_traits(type)->name, n_in, n_out, n_tok, best_fused * 1e3, best_unfused * 1e3,
           best_unfused / best_fused, 2.0 * (double)wg.row_bytes * n_out / best_fused * 1e-9);
    vk_buf_free(t->vk, &x_buf);
    vk_buf_free(t->vk, &g_buf);
    vk_buf_free(t->vk, &u_buf);
    vk_buf_free(t->vk, &dg.buf);
    vk_buf_free(t->vk, &du.buf);
    free(x);
    free_weights(&wg);
    free_weights(&wu);
}

int main(int argc, char **argv)
{
    struct vkt_device dev;
    vkt_open_device(&dev);
    quant_init();
    struct test t = {.vk = dev.ctx, .rng = 20240611};

    /* Both shader tunings on whatever device this is (see
     * WENSHU_VK_TUNING in vk-ops-matmul.c): the device's own with
     * every shape, the other with the rows on 16 bytes (the alignment paths
     * are the same code in both). An optional argument picks one type by
     * name (e.g. "Q4_K"), only the fused SwiGLU ("glu", its timing too), or
     * only the timed cases ("time"), which run with the device's own tuning. */
    const char *only = argc >= 2 ? argv[1] : NULL;
    const bool only_time = only && strcmp(only, "time") == 0;
    const bool only_glu = only && strcmp(only, "glu") == 0;
    const bool cpu_device = dev.descs[dev.index].vk_type == VK_PHYSICAL_DEVICE_TYPE_CPU;
    const char *tunings[] = {cpu_device ? "gpu" : "cpu", cpu_device ? "cpu" : "gpu"};
    for (int k = 0; k < 2 && !only_time; k++) {
        setenv("WENSHU_VK_TUNING", tunings[k], 1);
        printf("tuning: %s%s\n", tunings[k],
               k == 1 ? " (the device's), all shapes" : ", aligned shapes");
        for (int i = 0; i < N_TYPES; i++) {
            const bool picked = strcmp(only ? only : "", quant_traits(all_types[i])->name) == 0;
            if (!only || picked)
                test_type(&t, all_types[i], k == 1);
            if (!only || picked || only_glu)
                test_glu_type(&t, all_types[i], k == 1);
        }
    }
    unsetenv("WENSHU_VK_TUNING");
    if (!only || only_glu)
        test_glu_ok(&t);
    if (!only || only_time) {
        const enum eng_type timed[] = {ENG_TYPE_Q8_0, ENG_TYPE_Q4_0};
        for (int i = 0; i < 2; i++) {
            time_large(&t, timed[i], 1);
            time_large(&t, timed[i], 64);
        }
    }
    if (!only || only_time || only_glu) {
        const enum eng_type timed[] = {ENG_TYPE_Q8_0, ENG_TYPE_Q4_0};
        for (int i = 0; i < 2; i++)
            time_glu(&t, timed[i]);
    }

    int validation_errors = vk_ctx_validation_errors(t.vk);
    vk_ctx_free(&t.vk);
    if (validation_errors > 0) {
        printf("FAIL: %d validation errors\n", validation_errors);
        return 1;
    }
    printf("%d cases, %d failed\n", t.n_cases, t.n_failed);
    return t.n_failed ? 1 : 0;
}
