/* bench-dot.c: single-thread throughput of the matrix-vector dot kernels.
 *
 * For each weight type, a ROWS x COLS matrix (default 896 x 4864, the shape of
 * Qwen2.5-0.5B's ffn_down; override with argv[1] argv[2]) is multiplied by
 * one quantized activation row. Reports GB/s of weight bytes read for
 *   C:    quant_vec_dot_ref row by row (the plain C kernels)
 *   dot:  quant_vec_dot row by row (the dispatched single-row kernels, the
 *         shape of ggml's vec_dot loop)
 *   rows: quant_vec_dot_rows (the dispatched multi-row kernels)
 * and the "prefill" rates of quant_vec_dot_rows_cols: 8 columns in one call,
 * and 64 columns in calls of 64 rows (the shape of a prefill matmul task,
 * MATMUL_BATCH_CHUNK_ROWS in engine/cpu/ops.c).
 * WENSHU_NO_AVX512=1 pins the AVX2 kernels where the AVX-512 ones would be
 * chosen; WENSHU_NO_AVX2=1 pins the plain C ones.
 * Usage: bench-dot [ROWS COLS [SECONDS_PER_MEASURE]]
 *        bench-dot --check
 * --check is a test: quant_vec_dot_rows_cols over the shapes that reach
 * every edge of the prefill tiles (row groups of 16 cut short, column tiles
 * of 8/4/1, chunks of 32 blocks and 64 columns) against quant_vec_dot_ref,
 * the plain C kernels that test-quant checks against numpy. The integer
 * parts are exact; only float summation order differs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quant.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

struct bench_case {
    enum eng_type type;
    int rows, cols;
    uint8_t *w; /* [rows][row_size] */
    uint8_t *a; /* [64][activation row size] */
    float *out; /* [64][rows] */
    size_t wrs, ars;
};

static void run_ref(struct bench_case *c)
{
    for (int r = 0; r < c->rows; r++)
        quant_vec_dot_ref(c->type, c->cols, &c->out[r], c->w + (size_t)r * c->wrs, c->a);
}

static void run_dot(struct bench_case *c)
{
    for (int r = 0; r < c->rows; r++)
        quant_vec_dot(c->type, c->cols, &c->out[r], c->w + (size_t)r * c->wrs, c->a);
}

static void run_rows(struct bench_case *c)
{
    quant_vec_dot_rows(c->type, c->cols, c->out, c->w, c->wrs, c->rows, c->a);
}

static void run_rows_cols(struct bench_case *c)
{
    quant_vec_dot_rows_cols(c->type, c->cols, c->out, (size_t)c->rows, c->w, c->wrs, c->rows, c->a,
                            c->ars, 8);
}

static void run_prefill64(struct bench_case *c)
{
    for (int r0 = 0; r0 < c->rows; r0 += 64)
        quant_vec_dot_rows_cols(c->type, c->cols, c->out + r0, (size_t)c->rows,
                                c->w + (size_t)r0 * c->wrs, c->wrs,
                                c->rows - r0 < 64 ? c->rows - r0 : 64, c->a, c->ars, 64);
}

/* Seconds of the fastest call of fn over at least min_s of calls: the best
 * case is the most stable figure on a shared machine. */
static double time_it(void (*fn)(struct bench_case *), struct bench_case *c, double min_s)
{
    fn(c); /* warm up */
    double best = 1e30;
    const double t0 = now_s();
    do {
        const double t1 = now_s();
        fn(c);
        const double dt = now_s() - t1;
        if (dt < best)
            best = dt;
    } while (now_s() - t0 < min_s);
    return best;
}

/* Fills a [count][row_size] buffer of type `type` by quantizing a pseudo-
 * random pattern (normal-ish, different per row). */
static void fill_rows(enum eng_type type, uint8_t *dst, int n, int count, unsigned seed)
{
    const size_t rs = quant_row_size(type, n);
    float *row = malloc(sizeof(float) * (size_t)n); /* [n] */
    if (!row)
        abort();
    for (int r = 0; r < count; r++) {
        for (int i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            const float u = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
            row[i] = u * u * u * (float)(1 + r % 5); /* heavy-tailed, scale per row */
        }
        quant_quantize_row(type, row, dst + (size_t)r * rs, n);
    }
    free(row);
}

/* One shape of the check; returns the number of mismatches. */
static int check_shape(enum eng_type type, int n, int rows, int cols)
{
    const enum eng_type vt = quant_traits(type)->vec_dot_type;
    const size_t wrs = quant_row_size(type, n), ars = quant_row_size(vt, n);
    const size_t s_stride = (size_t)rows + 3;                /* padded: catches overwrites */
    uint8_t *w = malloc(wrs * (size_t)rows);                 /* [rows][wrs] */
    uint8_t *a = malloc(ars * (size_t)cols);                 /* [cols][ars] */
    float *got = malloc(sizeof(float) * s_stride * cols);    /* [cols][s_stride] */
    float *ref = malloc(sizeof(float) * (size_t)rows * cols); /* [cols][rows] */
    if (!w || !a || !got || !ref)
        abort();
    fill_rows(type, w, n, rows, 7u + (unsigned)rows);
    fill_rows(vt, a, n, cols, 99u + (unsigned)cols);
    for (size_t i = 0; i < s_stride * cols; i++)
        got[i] = -12345.0f;
    quant_vec_dot_rows_cols(type, n, got, s_stride, w, wrs, rows, a, ars, cols);
    double mag = 0;
    for (int c = 0; c < cols; c++)
        for (int r = 0; r < rows; r++) {
            quant_vec_dot_ref(type, n, &ref[(size_t)c * rows + r], w + (size_t)r * wrs,
                              a + (size_t)c * ars);
            mag = fmax(mag, fabs(ref[(size_t)c * rows + r]));
        }
    int bad = 0;
    for (int c = 0; c < cols; c++) {
        for (int r = 0; r < (int)s_stride; r++) {
            const float g = got[(size_t)c * s_stride + r];
            if (r >= rows) {
                if (g != -12345.0f && bad++ < 5)
                    fprintf(stderr, "%s n=%d %dx%d: wrote past row %d of column %d\n",
                            quant_traits(type)->name, n, rows, cols, rows, c);
                continue;
            }
            const float e = ref[(size_t)c * rows + r];
            if (!(fabs((double)g - e) <= 1e-5 * mag + 1e-4 * fabs(e)) && bad++ < 5)
                fprintf(stderr, "%s n=%d %dx%d: [col %d][row %d] = %g, reference %g\n",
                        quant_traits(type)->name, n, rows, cols, c, r, g, e);
        }
    }
    free(w), free(a), free(got), free(ref);
    return bad;
}

static int run_check(void)
{
    const enum eng_type types[] = {ENG_TYPE_Q4_0, ENG_TYPE_Q5_0, ENG_TYPE_Q8_0, ENG_TYPE_IQ4_NL,
                                   ENG_TYPE_Q4_1, ENG_TYPE_Q4_K, ENG_TYPE_Q6_K};
    const int row_counts[] = {1, 3, 15, 16, 17, 35};
    const int col_counts[] = {1, 2, 5, 8, 9, 12, 15, 64, 67, 75};
    int bad = 0, cases = 0;
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const int blck = quant_traits(types[k])->blck;
        /* one block; past one chunk of 32 blocks by one; two chunks and a bit */
        const int ns[3] = {blck, blck == 32 ? 32 * 33 : 256 * 5, blck == 32 ? 32 * 70 : 256 * 9};
        for (int i = 0; i < 3; i++)
            for (size_t r = 0; r < sizeof row_counts / sizeof row_counts[0]; r++)
                for (size_t c = 0; c < sizeof col_counts / sizeof col_counts[0]; c++) {
                    bad += check_shape(types[k], ns[i], row_counts[r], col_counts[c]);
                    cases++;
                }
    }
    printf("rows x cols check: %d shapes, %d mismatches\n", cases, bad);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--check") == 0)
        return run_check();
    const int rows = argc > 2 ? atoi(argv[1]) : 896;
    const int cols = argc > 2 ? atoi(argv[2]) : 4864;
    const double min_s = argc > 3 ? atof(argv[3]) : 0.3;
    if (rows <= 0 || cols <= 0 || cols % 32 != 0) {
        fprintf(stderr, "usage: bench-dot [ROWS COLS(multiple of 32) [SECONDS]]\n");
        return 2;
    }
    quant_init();
    const char *no512 = getenv("WENSHU_NO_AVX512");
    printf("matrix %d x %d, one thread, AVX2 %s, AVX-512 %s\n", rows, cols,
           quant_have_avx2() ? "on" : "off (WENSHU_NO_AVX2 or no CPU support)",
           no512 && no512[0] && strcmp(no512, "0") != 0 ? "off (WENSHU_NO_AVX512)"
                                                        : "where the CPU has it");
    printf("%-7s %8s %9s %9s %10s %11s %12s\n", "type", "MiB", "C GB/s", "dot GB/s", "rows GB/s",
           "8-col GB/s", "64-col GB/s");
    const enum eng_type types[] = {ENG_TYPE_F32,    ENG_TYPE_F16,  ENG_TYPE_BF16, ENG_TYPE_Q8_0,
                                   ENG_TYPE_Q4_0,   ENG_TYPE_Q4_1, ENG_TYPE_Q5_0, ENG_TYPE_Q5_1,
                                   ENG_TYPE_IQ4_NL, ENG_TYPE_Q4_K, ENG_TYPE_Q5_K, ENG_TYPE_Q6_K};
    float *src = malloc(sizeof(float) * (size_t)cols * 64); /* [64][cols] */
    if (!src)
        return 1;
    unsigned seed = 1;
    for (size_t i = 0; i < (size_t)cols * 64; i++) {
        seed = seed * 1103515245u + 12345u;
        src[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        struct bench_case c = {.type = types[k], .rows = rows, .cols = cols};
        const struct quant_traits *t = quant_traits(c.type);
        if (cols % t->blck != 0)
            continue;
        const enum eng_type vt = t->vec_dot_type;
        c.wrs = quant_row_size(c.type, cols);
        c.ars = quant_row_size(vt, cols);
        c.w = malloc(c.wrs * (size_t)rows);
        c.a = malloc(c.ars * 64);
        c.out = malloc(sizeof(float) * (size_t)rows * 64);
        if (!c.w || !c.a || !c.out)
            return 1;
        for (int r = 0; r < rows; r++) /* realistic weights: quantize a pattern */
            quant_quantize_row(c.type, src + (size_t)(r % 8) * cols, c.w + (size_t)r * c.wrs, cols);
        for (int j = 0; j < 64; j++)
            quant_quantize_row(vt, src + (size_t)j * cols, c.a + (size_t)j * c.ars, cols);
        const double bytes = (double)c.wrs * rows;
        const double t_ref = time_it(run_ref, &c, min_s);
        const double t_dot = time_it(run_dot, &c, min_s);
        const double t_rows = time_it(run_rows, &c, min_s);
        const double t_rc = time_it(run_rows_cols, &c, min_s);
        const double t_pf = time_it(run_prefill64, &c, min_s);
        printf("%-7s %8.2f %9.2f %9.2f %10.2f %11.2f %12.2f\n", t->name, bytes / (1 << 20),
               bytes / t_ref * 1e-9, bytes / t_dot * 1e-9, bytes / t_rows * 1e-9,
               8 * bytes / t_rc * 1e-9, 64 * bytes / t_pf * 1e-9);
        free(c.w), free(c.a), free(c.out);
    }
    free(src);
    return 0;
}
