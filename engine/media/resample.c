/* resample.c: Pillow's 8-bit resize (see resample.h).
 *
 * Every floating-point step below is written in the order Pillow's C code
 * evaluates it (src/libImaging/Resample.c: precompute_coeffs,
 * normalize_coeffs_8bpc, ImagingResample{Horizontal,Vertical}_8bpc,
 * ImagingResampleInner), because a weight that differs in its last bit can
 * move an output sample by one step. Build without FMA contraction of these
 * expressions (the engine's default flags do not enable FMA here). */
#include "media/resample.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* Pillow's PRECISION_BITS: 32 - 8 (result) - 2 (headroom for negative lobes
 * and sums above 1). */
#define RESAMPLE_PRECISION_BITS 22
#define RESAMPLE_MAX_SIDE (1 << 20)

static double filter_bilinear(double x)
{
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return 1.0 - x;
    return 0.0;
}

static double filter_bicubic(double x)
{
    const double a = -0.5;
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0)
        return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double sinc(double x)
{
    if (x == 0.0)
        return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}

static double filter_lanczos(double x)
{
    if (-3.0 <= x && x < 3.0)
        return sinc(x) * sinc(x / 3);
    return 0.0;
}

struct filter_desc {
    double (*weight)(double x);
    double support; /* half-width of the kernel at scale 1 */
};

static struct filter_desc filter_desc(enum resample_filter filter)
{
    switch (filter) {
    case RESAMPLE_BILINEAR:
        return (struct filter_desc){filter_bilinear, 1.0};
    case RESAMPLE_BICUBIC:
        return (struct filter_desc){filter_bicubic, 2.0};
    case RESAMPLE_LANCZOS:
        return (struct filter_desc){filter_lanczos, 3.0};
    }
    ENG_ASSERT(!"unknown resample filter");
    return (struct filter_desc){filter_bilinear, 1.0};
}

const char *resample_filter_name(enum resample_filter filter)
{
    switch (filter) {
    case RESAMPLE_BILINEAR:
        return "bilinear";
    case RESAMPLE_BICUBIC:
        return "bicubic";
    case RESAMPLE_LANCZOS:
        return "lanczos";
    }
    return "unknown";
}

/* The weights of one 1-D pass from n_in to n_out samples. */
struct resample_coeffs {
    int n_out;
    int ksize;        /* taps per output sample (room for the widest window) */
    int *first;       /* [n_out]: first source sample of each window */
    int *count;       /* [n_out]: source samples in each window (<= ksize) */
    int32_t *weights; /* [n_out][ksize]: fixed-point weights, 1.0 = 1 << 22 */
};

static void coeffs_free(struct resample_coeffs *c)
{
    free(c->first);
    free(c->count);
    free(c->weights);
    memset(c, 0, sizeof(*c));
}

/* Pillow's precompute_coeffs over the whole source (box 0..n_in) followed
 * by normalize_coeffs_8bpc. */
static enum eng_status coeffs_compute(int n_in, int n_out, enum resample_filter filter,
                                      struct resample_coeffs *c, struct eng_err *err)
{
    const struct filter_desc fd = filter_desc(filter);
    /* Pillow passes the box as floats: in1 - in0 is a float subtraction. */
    const float in0 = 0.0f, in1 = (float)n_in;
    double scale = (double)(in1 - in0) / n_out;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = fd.support * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;

    memset(c, 0, sizeof(*c));
    c->n_out = n_out;
    c->ksize = ksize;
    c->first = malloc((size_t)n_out * sizeof(int));
    c->count = malloc((size_t)n_out * sizeof(int));
    c->weights = malloc((size_t)n_out * (size_t)ksize * sizeof(int32_t));
    double *k = malloc((size_t)ksize * sizeof(double)); /* [ksize] one window */
    if (!c->first || !c->count || !c->weights || !k) {
        free(k);
        coeffs_free(c);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "resample: out of memory for %d x %d weights",
                           n_out, ksize);
    }

    for (int xx = 0; xx < n_out; xx++) {
        double center = in0 + (xx + 0.5) * scale;
        double ww = 0.0;
        double ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > n_in)
            xmax = n_in;
        xmax -= xmin;
        int x = 0;
        for (; x < xmax; x++) {
            double w = fd.weight((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++) {
            if (ww != 0.0)
                k[x] /= ww;
        }
        for (; x < ksize; x++)
            k[x] = 0;

        int32_t *kw = &c->weights[(size_t)xx * ksize];
        for (x = 0; x < ksize; x++) {
            if (k[x] < 0)
                kw[x] = (int)(-0.5 + k[x] * (1 << RESAMPLE_PRECISION_BITS));
            else
                kw[x] = (int)(0.5 + k[x] * (1 << RESAMPLE_PRECISION_BITS));
        }
        c->first[xx] = xmin;
        c->count[xx] = xmax;
    }
    free(k);
    return ENG_STATUS_OK;
}

/* A fixed-point sum (with Pillow's rounding bias included) to 8 bits. */
static inline uint8_t clip8(int32_t sum)
{
    if (sum < 0)
        return 0;
    int32_t v = sum >> RESAMPLE_PRECISION_BITS;
    return v > 255 ? 255 : (uint8_t)v;
}

/* Horizontal pass: src [n_rows][src_w][3] -> dst [n_rows][c->n_out][3]. */
static void pass_horizontal(const uint8_t *src, int src_w, int n_rows, uint8_t *dst,
                            const struct resample_coeffs *c)
{
    const int32_t bias = 1 << (RESAMPLE_PRECISION_BITS - 1);
    for (int y = 0; y < n_rows; y++) {
        const uint8_t *row = src + (size_t)y * src_w * 3;
        uint8_t *out = dst + (size_t)y * c->n_out * 3;
        for (int xx = 0; xx < c->n_out; xx++) {
            const int32_t *k = &c->weights[(size_t)xx * c->ksize];
            const uint8_t *p = row + (size_t)c->first[xx] * 3;
            int32_t s0 = bias, s1 = bias, s2 = bias;
            for (int x = 0; x < c->count[xx]; x++) {
                s0 += p[x * 3 + 0] * k[x];
                s1 += p[x * 3 + 1] * k[x];
                s2 += p[x * 3 + 2] * k[x];
            }
            out[xx * 3 + 0] = clip8(s0);
            out[xx * 3 + 1] = clip8(s1);
            out[xx * 3 + 2] = clip8(s2);
        }
    }
}

/* Vertical pass: src rows [row0 + first[yy] ...] of width w -> dst
 * [c->n_out][w][3]. acc is scratch [w * 3]. Integer sums are exact, so
 * accumulating a whole row per tap gives Pillow's values. */
static void pass_vertical(const uint8_t *src, int w, int row0, uint8_t *dst,
                          const struct resample_coeffs *c, int32_t *acc)
{
    const int32_t bias = 1 << (RESAMPLE_PRECISION_BITS - 1);
    const size_t row_len = (size_t)w * 3;
    for (int yy = 0; yy < c->n_out; yy++) {
        const int32_t *k = &c->weights[(size_t)yy * c->ksize];
        for (size_t i = 0; i < row_len; i++)
            acc[i] = bias;
        for (int y = 0; y < c->count[yy]; y++) {
            const uint8_t *row = src + (size_t)(c->first[yy] - row0 + y) * row_len;
            const int32_t ky = k[y];
            for (size_t i = 0; i < row_len; i++)
                acc[i] += row[i] * ky;
        }
        uint8_t *out = dst + (size_t)yy * row_len;
        for (size_t i = 0; i < row_len; i++)
            out[i] = clip8(acc[i]);
    }
}

enum eng_status resample_rgb8(const uint8_t *src, int src_w, int src_h, uint8_t *dst, int dst_w,
                              int dst_h, enum resample_filter filter, struct eng_err *err)
{
    if (src_w <= 0 || src_h <= 0 || dst_w <= 0 || dst_h <= 0 || src_w > RESAMPLE_MAX_SIDE ||
        src_h > RESAMPLE_MAX_SIDE || dst_w > RESAMPLE_MAX_SIDE || dst_h > RESAMPLE_MAX_SIDE)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "resample: cannot resize %dx%d to %dx%d",
                           src_w, src_h, dst_w, dst_h);

    const bool need_horizontal = dst_w != src_w;
    const bool need_vertical = dst_h != src_h;
    if (!need_horizontal && !need_vertical) {
        memcpy(dst, src, (size_t)src_w * src_h * 3);
        return ENG_STATUS_OK;
    }

    struct resample_coeffs vert, horiz = {0};
    uint8_t *temp = NULL; /* [row_last - row_first][dst_w][3] horizontal pass output */
    int32_t *acc = NULL;  /* [dst_w * 3] vertical pass sums */
    enum eng_status st = coeffs_compute(src_h, dst_h, filter, &vert, err);
    if (st != ENG_STATUS_OK)
        return st;

    /* The source rows the vertical pass reads. */
    const int row_first = vert.first[0];
    const int row_last = vert.first[dst_h - 1] + vert.count[dst_h - 1];

    const uint8_t *rows = src; /* what the vertical pass reads: rows from row0 on */
    int rows_w = src_w, row0 = 0;
    if (need_horizontal) {
        st = coeffs_compute(src_w, dst_w, filter, &horiz, err);
        if (st != ENG_STATUS_OK)
            goto out_free;
        temp = malloc((size_t)(row_last - row_first) * dst_w * 3);
        if (!temp) {
            st = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "resample: out of memory for %dx%d",
                             dst_w, row_last - row_first);
            goto out_free;
        }
        pass_horizontal(src + (size_t)row_first * src_w * 3, src_w, row_last - row_first, temp,
                        &horiz);
        rows = temp;
        rows_w = dst_w;
        row0 = row_first;
    }

    if (need_vertical) {
        acc = malloc((size_t)rows_w * 3 * sizeof(int32_t));
        if (!acc) {
            st = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "resample: out of memory");
            goto out_free;
        }
        pass_vertical(rows, rows_w, row0, dst, &vert, acc);
    } else {
        /* Only the width changed: the window of an unchanged size spans
         * every row, so temp holds the whole output. */
        ENG_ASSERT(row_first == 0 && row_last == src_h);
        memcpy(dst, temp, (size_t)dst_w * dst_h * 3);
    }

out_free:
    free(acc);
    free(temp);
    coeffs_free(&horiz);
    coeffs_free(&vert);
    return st;
}
