/* test-sampler.c: the sampler's own checks, a timing, and the driver that
 * tests/reference/sampler_ref.py uses to compare its draws with numpy.
 *
 * Without arguments: greedy = argmax (lowest id among equal maxima, NaN
 * ignored), the same seed gives the same sequence and another seed another,
 * a draw never leaves top-k, and the time per token at n_vocab 151936.
 *
 * Driver: test-sampler --draw LOGITS.f32 HISTORY.i32 N_DRAWS TEMP TOP_K TOP_P MIN_P
 *                              REPEAT FREQ PRESENCE LAST_N SEED
 * reads n_vocab little-endian floats and the accepted tokens (int32), draws
 * N_DRAWS times from the same logits (nothing accepted between draws) and
 * prints "id count" for every token drawn.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sampler.h"
#include "check.h"

/* A small LCG for test logits (independent of the sampler's generator). */
static uint64_t lcg_state = 12345;
static double lcg_uniform(void)
{
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg_state >> 11) * 0x1.0p-53;
}

/* Roughly normal(0, sigma) by summing uniforms. */
static float lcg_normal(float sigma)
{
    double s = 0;
    for (int i = 0; i < 12; i++)
        s += lcg_uniform();
    return (float)((s - 6.0) * sigma);
}

static struct eng_sampler_params params_off(void)
{
    struct eng_sampler_params p = {
        .temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f,
        .repeat_penalty = 1.0f, .frequency_penalty = 0.0f, .presence_penalty = 0.0f,
        .penalty_last_n = 64, .seed = 1,
    };
    return p;
}

static void test_greedy(void)
{
    enum { N = 1000 };
    float *logits = malloc(N * sizeof(*logits));
    struct eng_sampler_params p = params_off();
    p.temperature = 0.0f;
    for (int trial = 0; trial < 20; trial++) {
        int best = 0;
        for (int i = 0; i < N; i++) {
            logits[i] = lcg_normal(3.0f);
            if (logits[i] > logits[best])
                best = i;
        }
        struct sampler *s = sampler_new(&p, N);
        CHECK(sampler_sample(s, logits) == best, "greedy != argmax (trial %d)", trial);
        sampler_free(&s);
        CHECK(s == NULL, "sampler_free must clear the pointer");
    }
    /* equal maxima: the lowest id wins; NaN is never chosen */
    for (int i = 0; i < N; i++)
        logits[i] = -1.0f;
    logits[700] = 5.0f;
    logits[30] = 5.0f;
    logits[500] = 5.0f;
    logits[10] = NAN;
    struct sampler *s = sampler_new(&p, N);
    CHECK(sampler_sample(s, logits) == 30, "tie must go to the lowest id");
    /* a repeat penalty of 2 halves 30's logit: 500 wins the tie that is left */
    sampler_free(&s);
    p.repeat_penalty = 2.0f;
    s = sampler_new(&p, N);
    sampler_accept(s, 30);
    CHECK(sampler_sample(s, logits) == 500, "penalized token must lose");
    sampler_free(&s);
    sampler_free(&s); /* NULL is accepted */
    free(logits);
}

/* Settings that leave one candidate must return the argmax; infinities
 * must not turn into NaN probabilities. */
static void test_edges(void)
{
    enum { N = 300 };
    float logits[N];
    for (int i = 0; i < N; i++)
        logits[i] = lcg_normal(1.0f);
    logits[123] = 9.0f;
    struct { int top_k; float top_p, min_p; } one[] = {{0, 1.0f, 2.0f}, {0, 0.0f, 0.0f},
                                                      {1, 1.0f, 0.0f}, {40, 0.0f, 0.0f},
                                                      {40, 1.0f, 2.0f}};
    for (size_t c = 0; c < sizeof(one) / sizeof(one[0]); c++) {
        struct eng_sampler_params p = params_off();
        p.top_k = one[c].top_k;
        p.top_p = one[c].top_p;
        p.min_p = one[c].min_p;
        struct sampler *s = sampler_new(&p, N);
        for (int d = 0; d < 50; d++)
            CHECK(sampler_sample(s, logits) == 123, "single-candidate case %zu", c);
        sampler_free(&s);
    }
    struct eng_sampler_params p = params_off();
    struct sampler *s = sampler_new(&p, N);
    logits[200] = INFINITY;
    CHECK(sampler_sample(s, logits) == 200, "+inf logit must win");
    for (int i = 0; i < N; i++)
        logits[i] = -INFINITY;
    int32_t t = sampler_sample(s, logits);
    CHECK(t >= 0 && t < N, "all -inf must still give a token");
    sampler_free(&s);
}

static void draw_sequence(uint64_t seed, const float *logits, int n, int32_t *out, int count)
{
    struct eng_sampler_params p = params_off();
    p.seed = seed;
    p.temperature = 1.5f;
    p.top_k = 50;
    struct sampler *s = sampler_new(&p, n);
    for (int i = 0; i < count; i++) {
        out[i] = sampler_sample(s, logits);
        sampler_accept(s, out[i]);
    }
    sampler_free(&s);
}

static void test_seeds(void)
{
    enum { N = 4096, COUNT = 500 };
    float *logits = malloc(N * sizeof(*logits));
    for (int i = 0; i < N; i++)
        logits[i] = lcg_normal(2.0f);
    int32_t a[COUNT], b[COUNT], c[COUNT];
    draw_sequence(42, logits, N, a, COUNT);
    draw_sequence(42, logits, N, b, COUNT);
    draw_sequence(43, logits, N, c, COUNT);
    CHECK(memcmp(a, b, sizeof(a)) == 0, "same seed must give the same tokens");
    int same = 0;
    for (int i = 0; i < COUNT; i++)
        same += a[i] == c[i];
    CHECK(same < COUNT / 4, "another seed gave %d/%d equal tokens", same, COUNT);
    /* every draw stays inside the top 50 */
    float sorted_50th;
    {
        float *copy = malloc(N * sizeof(*copy));
        memcpy(copy, logits, N * sizeof(*copy));
        for (int k = 0; k < 50; k++) { /* selection of the 50 largest */
            int best = k;
            for (int i = k + 1; i < N; i++)
                best = copy[i] > copy[best] ? i : best;
            float t = copy[k];
            copy[k] = copy[best];
            copy[best] = t;
        }
        sorted_50th = copy[49];
        free(copy);
    }
    for (int i = 0; i < COUNT; i++)
        CHECK(logits[a[i]] >= sorted_50th, "token %d is outside top-k", a[i]);
    free(logits);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Time per token at Qwen's vocab size. "peaked" logits are shaped like a
 * model's (a normal body, sigma 2, and a few tokens 20+ above it); "flat"
 * ones (sigma 2.5, peaks only 14 above) leave most of the mass in the body,
 * the worst case for top-p without top-k. */
static void bench_shape(const char *shape, float sigma, float peak)
{
    enum { N = 151936, HIST = 64 };
    float *logits = malloc(N * sizeof(*logits));
    for (int i = 0; i < N; i++)
        logits[i] = lcg_normal(sigma);
    for (int i = 0; i < 8; i++)
        logits[(i * 7919) % N] += peak - (float)i;
    struct {
        const char *name;
        int top_k;
        float top_p, min_p, temperature;
    } cases[] = {
        {"top_k=40 top_p=0.95 T=0.8 (+penalties)", 40, 0.95f, 0.0f, 0.8f},
        {"top_k=40 top_p=0.95 min_p=0.05 T=0.8", 40, 0.95f, 0.05f, 0.8f},
        {"top_p=0.95 min_p=0.05 T=0.8", 0, 0.95f, 0.05f, 0.8f},
        {"top_p=0.95 T=0.8", 0, 0.95f, 0.0f, 0.8f},
        {"no filter T=1", 0, 1.0f, 0.0f, 1.0f},
        {"greedy", 0, 1.0f, 0.0f, 0.0f},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct eng_sampler_params p = params_off();
        p.top_k = cases[c].top_k;
        p.top_p = cases[c].top_p;
        p.min_p = cases[c].min_p;
        p.temperature = cases[c].temperature;
        p.repeat_penalty = 1.1f;
        p.penalty_last_n = HIST;
        struct sampler *s = sampler_new(&p, N);
        for (int i = 0; i < HIST; i++)
            sampler_accept(s, (i * 131) % N);
        int reps = 200;
        double t0 = now_s();
        for (int r = 0; r < reps; r++)
            (void)sampler_sample(s, logits);
        double ms = (now_s() - t0) * 1e3 / reps;
        printf("bench n_vocab=%d %-6s %-40s %.3f ms/token\n", N, shape, cases[c].name, ms);
        sampler_free(&s);
    }
    free(logits);
}

static void bench(void)
{
    bench_shape("peaked", 2.0f, 24.0f);
    bench_shape("flat", 2.5f, 14.0f);
}

/* ---- driver ------------------------------------------------------------------ */

static void *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "test-sampler: cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n))
        exit(2);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int drive(char **argv)
{
    size_t n_bytes, h_bytes;
    float *logits = read_file(argv[0], &n_bytes);
    int32_t *hist = read_file(argv[1], &h_bytes);
    long n_draws = atol(argv[2]);
    struct eng_sampler_params p = {
        .temperature = strtof(argv[3], NULL),
        .top_k = atoi(argv[4]),
        .top_p = strtof(argv[5], NULL),
        .min_p = strtof(argv[6], NULL),
        .repeat_penalty = strtof(argv[7], NULL),
        .frequency_penalty = strtof(argv[8], NULL),
        .presence_penalty = strtof(argv[9], NULL),
        .penalty_last_n = atoi(argv[10]),
        .seed = strtoull(argv[11], NULL, 10),
    };
    int n_vocab = (int)(n_bytes / sizeof(float));
    struct sampler *s = sampler_new(&p, n_vocab);
    long *counts = calloc((size_t)n_vocab, sizeof(*counts));
    if (!s || !counts)
        return 2;
    for (size_t i = 0; i < h_bytes / sizeof(int32_t); i++)
        sampler_accept(s, hist[i]);
    for (long d = 0; d < n_draws; d++) {
        int32_t t = sampler_sample(s, logits);
        if (t < 0 || t >= n_vocab)
            return 3;
        counts[t]++;
    }
    for (int i = 0; i < n_vocab; i++) {
        if (counts[i])
            printf("%d %ld\n", i, counts[i]);
    }
    sampler_free(&s);
    free(counts);
    free(logits);
    free(hist);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 14 && strcmp(argv[1], "--draw") == 0)
        return drive(argv + 2);
    if (argc != 1) {
        fprintf(stderr, "usage: test-sampler [--draw LOGITS HIST N TEMP TOP_K TOP_P MIN_P "
                        "REPEAT FREQ PRESENCE LAST_N SEED]\n");
        return 2;
    }
    test_greedy();
    test_edges();
    test_seeds();
    bench();
    if (n_fail)
        fprintf(stderr, "%d check(s) failed\n", n_fail);
    else
        printf("test-sampler: all checks passed\n");
    return n_fail ? 1 : 0;
}
