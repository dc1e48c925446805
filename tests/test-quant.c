/* test-quant.c: writes the inputs and outputs of the quant kernels to a
 * directory, for tests/reference/check_quant.py to compare with a numpy
 * reference written from ggml's published formulas.
 *
 * Usage: test-quant OUTDIR
 *
 * OUTDIR/manifest.txt lists the cases, one a line:
 *   half PREFIX
 *   dot  TYPE_NAME TYPE_ID VEC_DOT_TYPE_ID N ROWS COLS PREFIX
 *   quant TYPE_NAME TYPE_ID N ROWS PREFIX
 *   file TARGET IN_GGUF OUT_GGUF          (eng_quantize_file)
 * and each case's raw files are OUTDIR/PREFIX.* (little-endian, described at
 * the writer functions below). Everything is generated from fixed seeds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"
#include "wenshu-engine.h"

static const char *out_dir;
static FILE *manifest;

/* ---- seeded random numbers (splitmix64) ---------------------------------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static float rng_uniform(float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)(rng_next() >> 11) * 0x1p-53);
}

/* Standard normal (Box-Muller). */
static float rng_normal(void)
{
    double u1 = ((double)(rng_next() >> 11) + 1.0) * 0x1p-53;
    double u2 = (double)(rng_next() >> 11) * 0x1p-53;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* ---- output --------------------------------------------------------------- */

static void write_file(const char *prefix, const char *ext, const void *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", out_dir, prefix, ext);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "test-quant: cannot write %s\n", path);
        exit(1);
    }
}

static void *xmalloc(size_t size)
{
    void *p = calloc(1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "test-quant: out of memory\n");
        exit(1);
    }
    return p;
}

/* ---- half / bf16 ---------------------------------------------------------- */

/* PREFIX.in: float32[N] inputs; PREFIX.f16 / PREFIX.bf16: uint16[N] from
 * eng_float_to_half / eng_float_to_bf16; PREFIX.all: float32[65536] from
 * eng_half_to_float over every bit pattern. */
static void case_half(void)
{
    enum { N = 20000 };
    float *in = xmalloc(N * sizeof *in);       /* [N] */
    uint16_t *h = xmalloc(N * sizeof *h);      /* [N] */
    uint16_t *b = xmalloc(N * sizeof *b);      /* [N] */
    float *all = xmalloc(65536 * sizeof *all); /* [65536] */
    const float specials[] = {0.0f,       -0.0f,      1.0f,       -1.0f,          65504.0f,
                              65519.99f,  65520.0f,   -65520.0f,  1e10f,          INFINITY,
                              -INFINITY,  NAN,        -NAN,       0x1p-14f,       0x1p-24f,
                              0x1p-25f,   0x1.8p-25f, 0x1p-26f,   0x1.ff8p-15f,   3.0e-8f,
                              0x1.002p0f, 0x1.001p0f, 0x1.003p0f, 0x1.fffffep127f};
    const int n_spec = (int)(sizeof specials / sizeof specials[0]);
    rng_state = 11;
    for (int i = 0; i < N; i++) {
        if (i < n_spec) {
            in[i] = specials[i];
        } else if (i < N / 2) { /* half-range values incl. subnormals and exact ties */
            const float mag = ldexpf(1.0f, (int)(rng_next() % 44) - 28);
            in[i] = rng_uniform(-mag, mag);
            if (i % 7 == 0) { /* an exact half tie: a half value plus half its ulp */
                uint32_t u;
                eng_half hv = (eng_half)(rng_next() & 0x7bff);
                float base = eng_half_to_float(hv);
                memcpy(&u, &base, 4);
                u += 1u << 12;
                memcpy(&in[i], &u, 4);
            }
        } else { /* any bit pattern, NaNs included */
            uint32_t u = (uint32_t)rng_next();
            memcpy(&in[i], &u, 4);
        }
        h[i] = eng_float_to_half(in[i]);
        b[i] = eng_float_to_bf16(in[i]);
    }
    for (int i = 0; i < 65536; i++)
        all[i] = eng_half_to_float((eng_half)i);
    write_file("half", "in", in, N * sizeof *in);
    write_file("half", "f16", h, N * sizeof *h);
    write_file("half", "bf16", b, N * sizeof *b);
    write_file("half", "all", all, 65536 * sizeof *all);
    fprintf(manifest, "half half\n");
    free(in), free(h), free(b), free(all);
}

/* ---- random weight blocks ------------------------------------------------ */

static eng_half rand_half(float lo, float hi)
{
    return eng_float_to_half(rng_uniform(lo, hi));
}

/* Fill one row of n elements of type with random bytes, then make the
 * scale fields sane finite halves. */
static void random_row(enum eng_type type, uint8_t *row, int n)
{
    const struct quant_traits *t = quant_traits(type);
    const size_t size = quant_row_size(type, n);
    for (size_t i = 0; i < size; i++)
        row[i] = (uint8_t)rng_next();
    const int nb = n / t->blck;
    for (int i = 0; i < nb; i++) {
        uint8_t *b = row + (size_t)i * t->type_size;
        switch (type) {
        case ENG_TYPE_F32: {
            float v = rng_uniform(-1, 1);
            memcpy(b, &v, 4);
            break;
        }
        case ENG_TYPE_F16: {
            eng_half v = rand_half(-1, 1);
            memcpy(b, &v, 2);
            break;
        }
        case ENG_TYPE_BF16: {
            uint16_t v = eng_float_to_bf16(rng_uniform(-1, 1));
            memcpy(b, &v, 2);
            break;
        }
        case ENG_TYPE_Q4_0: ((struct block_q4_0 *)b)->d = rand_half(-0.05f, 0.05f); break;
        case ENG_TYPE_Q5_0: ((struct block_q5_0 *)b)->d = rand_half(-0.05f, 0.05f); break;
        case ENG_TYPE_Q8_0: ((struct block_q8_0 *)b)->d = rand_half(-0.01f, 0.01f); break;
        case ENG_TYPE_IQ4_NL: ((struct block_iq4_nl *)b)->d = rand_half(-0.01f, 0.01f); break;
        case ENG_TYPE_Q4_1:
            ((struct block_q4_1 *)b)->d = rand_half(0, 0.05f);
            ((struct block_q4_1 *)b)->m = rand_half(-0.5f, 0.5f);
            break;
        case ENG_TYPE_Q5_1:
            ((struct block_q5_1 *)b)->d = rand_half(0, 0.05f);
            ((struct block_q5_1 *)b)->m = rand_half(-0.5f, 0.5f);
            break;
        case ENG_TYPE_Q4_K:
            ((struct block_q4_K *)b)->d = rand_half(0, 0.01f);
            ((struct block_q4_K *)b)->dmin = rand_half(0, 0.01f);
            break;
        case ENG_TYPE_Q5_K:
            ((struct block_q5_K *)b)->d = rand_half(0, 0.01f);
            ((struct block_q5_K *)b)->dmin = rand_half(0, 0.01f);
            break;
        case ENG_TYPE_Q6_K: ((struct block_q6_K *)b)->d = rand_half(-0.001f, 0.001f); break;
        default: break;
        }
    }
}

/* Dot case. PREFIX.w: weights [rows][row_size]; PREFIX.wdq: float32
 * [rows][n] from quant_dequantize_row; PREFIX.a: float32 [cols][n]
 * activations; PREFIX.aq: [cols][vec row size] from quant_quantize_row;
 * PREFIX.dref / .ddisp: float32 [cols][rows] from quant_vec_dot_ref /
 * quant_vec_dot; PREFIX.drows: float32 [cols][rows] from quant_vec_dot_rows
 * per column; PREFIX.drc: float32 [cols][rows] from quant_vec_dot_rows_cols. */
static void case_dot(enum eng_type type, int n, int rows, int cols, uint64_t seed)
{
    const struct quant_traits *t = quant_traits(type);
    const enum eng_type vt = t->vec_dot_type;
    const size_t wrs = quant_row_size(type, n), ars = quant_row_size(vt, n);
    uint8_t *w = xmalloc(wrs * rows);                    /* [rows][wrs] */
    float *wdq = xmalloc(sizeof(float) * n * rows);      /* [rows][n] */
    float *a = xmalloc(sizeof(float) * n * cols);        /* [cols][n] */
    uint8_t *aq = xmalloc(ars * cols);                   /* [cols][ars] */
    float *dref = xmalloc(sizeof(float) * rows * cols);  /* [cols][rows] */
    float *ddisp = xmalloc(sizeof(float) * rows * cols); /* [cols][rows] */
    float *drows = xmalloc(sizeof(float) * rows * cols); /* [cols][rows] */
    float *drc = xmalloc(sizeof(float) * rows * cols);   /* [cols][rows] */
    rng_state = seed;
    for (int r = 0; r < rows; r++) {
        random_row(type, w + r * wrs, n);
        quant_dequantize_row(type, w + r * wrs, wdq + (size_t)r * n, n);
    }
    for (int c = 0; c < cols; c++) {
        for (int i = 0; i < n; i++)
            a[(size_t)c * n + i] = rng_normal() * (c + 1);
        quant_quantize_row(vt, a + (size_t)c * n, aq + c * ars, n);
    }
    for (int c = 0; c < cols; c++) {
        for (int r = 0; r < rows; r++) {
            quant_vec_dot_ref(type, n, &dref[c * rows + r], w + r * wrs, aq + c * ars);
            quant_vec_dot(type, n, &ddisp[c * rows + r], w + r * wrs, aq + c * ars);
        }
        quant_vec_dot_rows(type, n, drows + c * rows, w, wrs, rows, aq + c * ars);
    }
    quant_vec_dot_rows_cols(type, n, drc, rows, w, wrs, rows, aq, ars, cols);

    char prefix[128];
    snprintf(prefix, sizeof prefix, "dot_%s_%d_%d", t->name, n, rows);
    write_file(prefix, "w", w, wrs * rows);
    write_file(prefix, "wdq", wdq, sizeof(float) * n * rows);
    write_file(prefix, "a", a, sizeof(float) * n * cols);
    write_file(prefix, "aq", aq, ars * cols);
    write_file(prefix, "dref", dref, sizeof(float) * rows * cols);
    write_file(prefix, "ddisp", ddisp, sizeof(float) * rows * cols);
    write_file(prefix, "drows", drows, sizeof(float) * rows * cols);
    write_file(prefix, "drc", drc, sizeof(float) * rows * cols);
    fprintf(manifest, "dot %s %d %d %d %d %d %s\n", t->name, (int)type, (int)vt, n, rows, cols,
            prefix);
    free(w), free(wdq), free(a), free(aq), free(dref), free(ddisp), free(drows), free(drc);
}

/* Quantizer case. PREFIX.x: float32 [rows][n] source (normal, the first
 * 256 values of row 0 zero and row 1 holding one spike); PREFIX.q: [rows]
 * [row_size] from quant_quantize_row; PREFIX.qdq: float32 [rows][n] from
 * quant_dequantize_row of PREFIX.q. */
static void case_quant(enum eng_type type, int n, int rows, uint64_t seed)
{
    const struct quant_traits *t = quant_traits(type);
    const size_t rs = quant_row_size(type, n);
    float *x = xmalloc(sizeof(float) * n * rows);   /* [rows][n] */
    uint8_t *q = xmalloc(rs * rows);                /* [rows][rs] */
    float *qdq = xmalloc(sizeof(float) * n * rows); /* [rows][n] */
    rng_state = seed;
    for (size_t i = 0; i < (size_t)n * rows; i++)
        x[i] = rng_normal() * 0.02f;
    for (int i = 0; i < 256 && i < n; i++)
        x[i] = 0.0f;
    if (rows > 1)
        x[n + 300 % n] = 0.5f;
    for (int r = 0; r < rows; r++) {
        quant_quantize_row(type, x + (size_t)r * n, q + r * rs, n);
        quant_dequantize_row(type, q + r * rs, qdq + (size_t)r * n, n);
    }
    char prefix[128];
    snprintf(prefix, sizeof prefix, "quant_%s", t->name);
    write_file(prefix, "x", x, sizeof(float) * n * rows);
    write_file(prefix, "q", q, rs * rows);
    write_file(prefix, "qdq", qdq, sizeof(float) * n * rows);
    fprintf(manifest, "quant %s %d %d %d %s\n", t->name, (int)type, n, rows, prefix);
    free(x), free(q), free(qdq);
}

/* eng_quantize_file case: a small model-like GGUF (F32/F16/BF16 sources,
 * widths that force the K fallbacks, 1-D tensors, a norm) is written to
 * OUTDIR/file_in.gguf and requantized to each target in OUTDIR/file_T.gguf. */
struct file_tensor {
    const char *name;
    enum eng_type type;
    int n_dims;
    int64_t ne[2];
};

static void case_file(void)
{
    static const struct file_tensor tensors[] = {
        {"token_embd.weight", ENG_TYPE_F32, 2, {512, 24}},
        {"blk.0.attn_norm.weight", ENG_TYPE_F32, 1, {512, 1}},
        {"blk.0.attn_q.weight", ENG_TYPE_F16, 2, {512, 40}},
        {"blk.0.attn_q.bias", ENG_TYPE_F16, 1, {512, 1}},
        {"blk.0.ffn_down.weight", ENG_TYPE_BF16, 2, {896, 16}}, /* K -> fallback */
        {"blk.0.ffn_gate.weight", ENG_TYPE_F32, 2, {100, 8}},   /* -> F16 */
        {"blk.0.attn_k_norm.weight", ENG_TYPE_F32, 2, {64, 2}}, /* a norm: F32 */
        {"output.weight", ENG_TYPE_F32, 2, {512, 24}},
    };
    enum { N_T = sizeof tensors / sizeof tensors[0] };
    void *data[N_T]; /* each tensor's bytes in its own type */
    struct gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_u32(w, "general.file_type", 0);
    gguf_writer_set_u32(w, "llama.block_count", 1);
    rng_state = 77;
    for (int i = 0; i < N_T; i++) {
        const struct file_tensor *t = &tensors[i];
        const int64_t n = t->ne[0] * t->ne[1];
        float *x = xmalloc(sizeof(float) * (size_t)n); /* [ne1][ne0] */
        for (int64_t k = 0; k < n; k++)
            x[k] = rng_normal() * 0.02f;
        data[i] = xmalloc(quant_row_size(t->type, t->ne[0]) * (size_t)t->ne[1]);
        for (int64_t r = 0; r < t->ne[1]; r++)
            quant_quantize_row(t->type, x + r * t->ne[0],
                               (uint8_t *)data[i] + quant_row_size(t->type, t->ne[0]) * r,
                               t->ne[0]);
        free(x);
        gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, data[i]);
    }
    char in_path[4096], out_path[4096];
    snprintf(in_path, sizeof in_path, "%s/file_in.gguf", out_dir);
    struct eng_err err = {{0}};
    if (gguf_writer_write(w, in_path, &err) != ENG_STATUS_OK) {
        fprintf(stderr, "test-quant: %s\n", err.msg);
        exit(1);
    }
    gguf_writer_free(&w);
    for (int i = 0; i < N_T; i++)
        free(data[i]);

    const char *const names[] = {"Q4_K", "Q6_K", "Q8_0", "Q4_0", "Q5_K", "F16", "iq4_nl"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        snprintf(out_path, sizeof out_path, "%s/file_%s.gguf", out_dir, names[k]);
        if (eng_quantize_file(in_path, out_path, names[k], 2, &err) != ENG_STATUS_OK) {
            fprintf(stderr, "test-quant: quantize to %s: %s\n", names[k], err.msg);
            exit(1);
        }
        fprintf(manifest, "file %s file_in.gguf file_%s.gguf\n", names[k], names[k]);
    }
    /* a bad target must fail cleanly */
    if (eng_quantize_file(in_path, out_path, "Q3_XX", 1, &err) != ENG_STATUS_ERR_ARG) {
        fprintf(stderr, "test-quant: an unknown target type was accepted\n");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test-quant OUTDIR\n");
        return 2;
    }
    out_dir = argv[1];
    quant_init();
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.txt", out_dir);
    manifest = fopen(path, "w");
    if (!manifest) {
        fprintf(stderr, "test-quant: cannot write %s\n", path);
        return 1;
    }
    fprintf(manifest, "avx2 %d\n", quant_have_avx2() ? 1 : 0);
    case_half();

    const enum eng_type dot_types[] = {
        ENG_TYPE_F32,  ENG_TYPE_F16,  ENG_TYPE_BF16, ENG_TYPE_Q4_0, ENG_TYPE_Q4_1, ENG_TYPE_Q5_0,
        ENG_TYPE_Q5_1, ENG_TYPE_Q8_0, ENG_TYPE_Q4_K, ENG_TYPE_Q5_K, ENG_TYPE_Q6_K, ENG_TYPE_IQ4_NL};
    uint64_t seed = 1000;
    for (size_t k = 0; k < sizeof dot_types / sizeof dot_types[0]; k++) {
        const enum eng_type type = dot_types[k];
        const int blck = quant_traits(type)->blck;
        /* one block, a few blocks, a model-like width; rows cover every
         * remainder of the 4- and 2-row kernels */
        int ns[4], n_ns;
        if (blck == 1) {
            ns[0] = 17, ns[1] = 33, ns[2] = 896, ns[3] = 4864, n_ns = 4;
        } else if (blck == 32) {
            ns[0] = 32, ns[1] = 96, ns[2] = 896, ns[3] = 4864, n_ns = 4;
        } else {
            ns[0] = 256, ns[1] = 768, ns[2] = 2560, n_ns = 3;
        }
        const int rows_for[4] = {7, 6, 5, 3};
        for (int i = 0; i < n_ns; i++)
            case_dot(type, ns[i], rows_for[i], 5, seed++);
    }

    for (int type = 0; type < ENG_TYPE_COUNT; type++) {
        const struct quant_traits *t = quant_traits(type);
        if (t && t->can_quantize)
            case_quant((enum eng_type)type, 2560, 8, seed++);
    }
    case_file();
    if (fclose(manifest) != 0) {
        fprintf(stderr, "test-quant: cannot write %s\n", path);
        return 1;
    }
    return 0;
}
