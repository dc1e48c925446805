/* test-vision-ops.c: the vision encoders' CPU ops (engine/cpu/vision-ops.h)
 * against plain double-precision loops written here: cpu_gemm for F32, F16
 * and BF16 weights at sizes that leave partial register tiles, panels and
 * k slices; cpu_seg_attention_run over uneven segments; the activations,
 * norms and rotary table. Run once as is and once with WENSHU_NO_AVX2=1
 * (the plain C kernels). Exit 0 pass, 1 fail. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/vision-ops.h"
#include "quant.h"

static uint64_t rng_state = 42;

static float rng_uniform(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static float *random_floats(size_t n)
{
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        v[i] = rng_uniform();
    return v;
}

static int n_fail;

/* max|got - want| <= tol * max|want| */
static void check(const char *what, const float *got, const double *want, size_t n, double tol)
{
    double max_ref = 0.0, max_diff = 0.0;
    for (size_t i = 0; i < n; i++) {
        max_ref = fmax(max_ref, fabs(want[i]));
        max_diff = fmax(max_diff, fabs(got[i] - want[i]));
    }
    bool ok = max_diff <= tol * max_ref && max_ref > 0.0;
    printf("%s %s: max diff %.3g of max %.3g\n", ok ? "ok  " : "FAIL", what, max_diff, max_ref);
    n_fail += !ok;
}

/* The weight as the kernel must read it: F16 and BF16 rounded. */
static void store_weights(enum eng_type type, const float *w, size_t n, void *dst, float *rounded)
{
    for (size_t i = 0; i < n; i++) {
        if (type == ENG_TYPE_F16) {
            ((eng_half *)dst)[i] = eng_float_to_half(w[i]);
            rounded[i] = eng_half_to_float(((eng_half *)dst)[i]);
        } else if (type == ENG_TYPE_BF16) {
            ((uint16_t *)dst)[i] = eng_float_to_bf16(w[i]);
            rounded[i] = eng_bf16_to_float(((uint16_t *)dst)[i]);
        } else {
            ((float *)dst)[i] = w[i];
            rounded[i] = w[i];
        }
    }
}

static void test_gemm(struct threadpool *pool, enum eng_type type, int n_tok, int n_in, int n_out,
                      bool bias)
{
    size_t elem = type == ENG_TYPE_F32 ? 4 : 2;
    float *w = random_floats((size_t)n_out * n_in), *x = random_floats((size_t)n_tok * n_in);
    float *b = bias ? random_floats((size_t)n_out) : NULL;
    float *rounded = malloc(sizeof(float) * n_out * n_in);
    void *data = malloc(elem * n_out * n_in);
    store_weights(type, w, (size_t)n_out * n_in, data, rounded);
    struct cpu_matrix m = {.type = type, .data = data, .n_in = n_in, .n_out = n_out,
                           .row_bytes = elem * n_in};
    float *packed = malloc(sizeof(float) * cpu_gemm_packed_floats(&m));
    int stride = n_out + 3;
    float *y = malloc(sizeof(float) * n_tok * stride);
    double *want = malloc(sizeof(double) * n_tok * n_out);
    float *got = malloc(sizeof(float) * n_tok * n_out);
    for (int i = 0; i < n_tok * stride; i++)
        y[i] = 1e30f; /* the padding columns must stay untouched */
    cpu_gemm_pack(pool, &m, packed);
    cpu_gemm_run(pool, packed, n_in, n_out, x, n_tok, b, y, stride);
    bool pad_ok = true;
    for (int t = 0; t < n_tok; t++) {
        for (int r = 0; r < n_out; r++) {
            double s = b ? b[r] : 0.0;
            for (int k = 0; k < n_in; k++)
                s += (double)x[(size_t)t * n_in + k] * rounded[(size_t)r * n_in + k];
            want[(size_t)t * n_out + r] = s;
            got[(size_t)t * n_out + r] = y[(size_t)t * stride + r];
        }
        for (int r = n_out; r < stride; r++)
            pad_ok = pad_ok && y[(size_t)t * stride + r] == 1e30f;
    }
    char what[96];
    snprintf(what, sizeof what, "gemm type %d %d x %d -> %d%s", type, n_tok, n_in, n_out,
             bias ? " +bias" : "");
    check(what, got, want, (size_t)n_tok * n_out, 1e-5);
    if (!pad_ok) {
        printf("FAIL %s: wrote past n_out\n", what);
        n_fail++;
    }
    free(w), free(x), free(b), free(rounded), free(data), free(packed), free(y), free(want);
    free(got);
}

static void test_attention(struct threadpool *pool, int n_head, int head_dim, const int *seg,
                           int n_seg)
{
    int n_tok = seg[n_seg], row = n_head * head_dim, max_seg = 0;
    for (int s = 0; s < n_seg; s++)
        max_seg = seg[s + 1] - seg[s] > max_seg ? seg[s + 1] - seg[s] : max_seg;
    float *q = random_floats((size_t)n_tok * row), *k = random_floats((size_t)n_tok * row);
    float *v = random_floats((size_t)n_tok * row);
    for (size_t i = 0; i < (size_t)n_tok * row; i++)
        q[i] *= 4.0f; /* peaked softmax rows */
    float *out = malloc(sizeof(float) * n_tok * row), *kt = malloc(sizeof(float) * n_tok * row);
    float *scores = malloc(sizeof(float) * cpu_seg_attention_score_floats(
                                               threadpool_n_threads(pool), max_seg));
    struct cpu_seg_attention a = {
        .q = q, .k = k, .v = v, .out = out, .n_tok = n_tok, .n_head = n_head,
        .head_dim = head_dim, .seg_start = seg, .n_seg = n_seg,
        .scale = 1.0f / sqrtf((float)head_dim), .kt = kt, .scores = scores, .max_seg = max_seg};
    cpu_seg_attention_run(pool, &a);
    double *want = calloc((size_t)n_tok * row, sizeof(double));
    double *p = malloc(sizeof(double) * max_seg);
    for (int s = 0; s < n_seg; s++)
        for (int t = seg[s]; t < seg[s + 1]; t++)
            for (int h = 0; h < n_head; h++) {
                double max_score = -INFINITY, sum = 0.0;
                for (int j = seg[s]; j < seg[s + 1]; j++) {
                    double d = 0.0;
                    for (int c = 0; c < head_dim; c++)
                        d += (double)q[(size_t)t * row + h * head_dim + c] *
                             k[(size_t)j * row + h * head_dim + c];
                    p[j - seg[s]] = d / sqrt((double)head_dim);
                    max_score = fmax(max_score, p[j - seg[s]]);
                }
                for (int j = 0; j < seg[s + 1] - seg[s]; j++)
                    sum += p[j] = exp(p[j] - max_score);
                for (int j = seg[s]; j < seg[s + 1]; j++)
                    for (int c = 0; c < head_dim; c++)
                        want[(size_t)t * row + h * head_dim + c] +=
                            p[j - seg[s]] / sum * v[(size_t)j * row + h * head_dim + c];
            }
    char what[96];
    snprintf(what, sizeof what, "attention %d heads of %d, %d segments, %d tokens", n_head,
             head_dim, n_seg, n_tok);
    check(what, out, want, (size_t)n_tok * row, 1e-5);
    free(q), free(k), free(v), free(out), free(kt), free(scores), free(want), free(p);
}

static void test_act(struct threadpool *pool, enum cpu_act act, bool gated)
{
    int n_rows = 5, len = 37;
    size_t n = (size_t)n_rows * len;
    float *x = random_floats(n), *mul = gated ? random_floats(n) : NULL;
    double *want = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) {
        x[i] *= 12.0f; /* -12 .. 12: both tails */
        double v = x[i], y;
        switch (act) {
        case CPU_ACT_GELU_QUICK: y = v / (1.0 + exp(-1.702 * v)); break;
        case CPU_ACT_GELU_TANH:
            y = 0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
            break;
        case CPU_ACT_GELU_ERF: y = 0.5 * v * (1.0 + erf(v / sqrt(2.0))); break;
        default: y = v / (1.0 + exp(-v)); break;
        }
        want[i] = mul ? y * mul[i] : y;
    }
    cpu_act_rows(pool, x, mul, n_rows, (size_t)len, act);
    char what[64];
    snprintf(what, sizeof what, "activation %d%s", act, gated ? " gated" : "");
    check(what, x, want, n, 2e-6);
    free(x), free(mul), free(want);
}

static void test_norm(struct threadpool *pool, bool layer)
{
    int n_tok = 11, n = 45;
    float *x = random_floats((size_t)n_tok * n), *w = random_floats(n), *b = random_floats(n);
    float *y = malloc(sizeof(float) * n_tok * n);
    double *want = malloc(sizeof(double) * n_tok * n);
    for (int t = 0; t < n_tok; t++) {
        const float *r = x + (size_t)t * n;
        double mean = 0.0, var = 0.0;
        for (int i = 0; i < n; i++)
            mean += layer ? r[i] / (double)n : 0.0;
        for (int i = 0; i < n; i++)
            var += (r[i] - mean) * (r[i] - mean) / n;
        for (int i = 0; i < n; i++)
            want[(size_t)t * n + i] =
                (r[i] - mean) / sqrt(var + 1e-6) * w[i] + (layer ? b[i] : 0.0);
    }
    cpu_norm_rows(pool, y, x, w, layer ? b : NULL, n, n_tok, 1e-6f);
    check(layer ? "layer norm" : "rms norm", y, want, (size_t)n_tok * n, 1e-6);
    free(x), free(w), free(b), free(y), free(want);
}

static void test_rope(struct threadpool *pool)
{
    int n_tok = 9, n_head = 3, hd = 12, half = hd / 2;
    size_t n = (size_t)n_tok * n_head * hd;
    float *x = random_floats(n), *cs = malloc(sizeof(float) * n_tok * hd);
    double *want = malloc(sizeof(double) * n);
    for (int t = 0; t < n_tok; t++)
        for (int i = 0; i < half; i++) {
            double angle = (t + 1) * 0.37 * (i + 1);
            cs[(t * half + i) * 2] = (float)cos(angle);
            cs[(t * half + i) * 2 + 1] = (float)sin(angle);
            for (int h = 0; h < n_head; h++) {
                const float *v = x + ((size_t)t * n_head + h) * hd;
                double *o = want + ((size_t)t * n_head + h) * hd;
                /* rotate_half: out = x cos + (-x2, x1) sin */
                o[i] = v[i] * cos(angle) - v[i + half] * sin(angle);
                o[i + half] = v[i + half] * cos(angle) + v[i] * sin(angle);
            }
        }
    cpu_rope_table(pool, x, n_tok, n_head, hd, cs);
    check("rope table", x, want, n, 1e-6);
    free(x), free(cs), free(want);
}

int main(void)
{
    quant_init();
    struct threadpool *pool = threadpool_new(2);
    printf("kernels: %s\n", quant_have_avx2() ? "AVX2" : "plain C");
    const enum eng_type types[] = {ENG_TYPE_F32, ENG_TYPE_F16, ENG_TYPE_BF16};
    for (int i = 0; i < 3; i++) {
        test_gemm(pool, types[i], 1, 5, 3, false);
        test_gemm(pool, types[i], 7, 37, 21, true);
        test_gemm(pool, types[i], 53, 300, 133, true); /* a k slice and a row block past one */
        test_gemm(pool, types[i], 100, 64, 16, false);
    }
    const int seg_a[] = {0, 1, 17, 50, 53};
    const int seg_b[] = {0, 300};
    test_attention(pool, 3, 8, seg_a, 4);
    test_attention(pool, 2, 20, seg_b, 1); /* many query blocks, k past one GEMM_KC slice */
    for (int act = CPU_ACT_GELU_QUICK; act <= CPU_ACT_SILU; act++) {
        test_act(pool, (enum cpu_act)act, false);
        test_act(pool, (enum cpu_act)act, true);
    }
    test_norm(pool, true);
    test_norm(pool, false);
    test_rope(pool);
    threadpool_free(&pool);
    printf(n_fail ? "%d checks FAILED\n" : "all checks passed\n", n_fail);
    return n_fail ? 1 : 0;
}
