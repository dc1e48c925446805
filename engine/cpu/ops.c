/* ops.c: CPU implementations of the decoder ops (see ops.h). */
#include <math.h>
#include <string.h>

#include "../engine-internal.h"
#include "ops.h"

/* Weight bytes per matmul task when decoding one token: big enough that
 * claiming a task costs little, small enough to balance two to eight threads. */
#define MATMUL_DECODE_CHUNK_BYTES 32768
/* Output rows per task in a batch: a tile of weights that stays in L2 while
 * every token of the batch streams past it. */
#define MATMUL_BATCH_CHUNK_ROWS 64

const enum eng_type cpu_qact_types[CPU_QACT_COUNT] = {
    [CPU_QACT_F32] = ENG_TYPE_F32,   [CPU_QACT_F16] = ENG_TYPE_F16,
    [CPU_QACT_BF16] = ENG_TYPE_BF16, [CPU_QACT_Q8_0] = ENG_TYPE_Q8_0,
    [CPU_QACT_Q8_1] = ENG_TYPE_Q8_1, [CPU_QACT_Q8_K] = ENG_TYPE_Q8_K,
};

int cpu_qact_slot(enum eng_type vec_type)
{
    for (int i = 0; i < CPU_QACT_COUNT; i++)
        if (cpu_qact_types[i] == vec_type)
            return i;
    ENG_ASSERT(!"no activation slot for this type");
}

size_t cpu_qact_bytes(enum eng_type vec_type, int n_in, int n_tok)
{
    return quant_row_size(vec_type, n_in) * (size_t)n_tok;
}

struct qact_fill_ctx {
    struct cpu_qact *q;
    const float *x;
    int n_in;
};

static void qact_fill_task(void *p, int task, int ith)
{
    (void)ith;
    const struct qact_fill_ctx *ctx = p;
    quant_quantize_row(ctx->q->type, ctx->x + (size_t)task * ctx->n_in,
                       ctx->q->data + (size_t)task * ctx->q->row_bytes, ctx->n_in);
}

void cpu_qact_fill(struct threadpool *pool, struct cpu_qact *q, enum eng_type vec_type,
                   const float *x, int n_in, int n_tok)
{
    q->type = vec_type;
    q->row_bytes = quant_row_size(vec_type, n_in);
    q->n_tok = n_tok;
    struct qact_fill_ctx ctx = {.q = q, .x = x, .n_in = n_in};
    threadpool_run(pool, qact_fill_task, &ctx, n_tok);
}

struct matmul_ctx {
    const struct cpu_matmul *jobs;
    int n_jobs;
    int rows_per_chunk[8];
    int chunk_start[9]; /* first task of each job; [n_jobs] = total */
};

static void matmul_chunk(const struct cpu_matmul *job, int row0, int row1)
{
    const struct cpu_matrix *w = job->w;
    const struct cpu_qact *x = job->x;
    const uint8_t *wrows = w->data + (size_t)row0 * w->row_bytes;
    int n_rows = row1 - row0;
    if (x->n_tok == 1)
        quant_vec_dot_rows(w->type, w->n_in, job->y + row0, wrows, w->row_bytes, n_rows, x->data);
    else
        quant_vec_dot_rows_cols(w->type, w->n_in, job->y + row0, (size_t)job->y_stride, wrows,
                                w->row_bytes, n_rows, x->data, x->row_bytes, x->n_tok);
    if (job->bias)
        for (int t = 0; t < x->n_tok; t++)
            for (int r = row0; r < row1; r++)
                job->y[(size_t)t * job->y_stride + r] += job->bias[r];
}

static void matmul_task(void *p, int task, int ith)
{
    (void)ith;
    const struct matmul_ctx *ctx = p;
    int j = 0;
    while (task >= ctx->chunk_start[j + 1])
        j++;
    const struct cpu_matmul *job = &ctx->jobs[j];
    int row0 = (task - ctx->chunk_start[j]) * ctx->rows_per_chunk[j];
    int row1 = row0 + ctx->rows_per_chunk[j];
    if (row1 > job->w->n_out)
        row1 = job->w->n_out;
    matmul_chunk(job, row0, row1);
}

/* Rows per task: about MATMUL_DECODE_CHUNK_BYTES of weights for one token
 * (a multiple of 4, the row kernels' unroll), a fixed tile for a batch. */
static int matmul_rows_per_chunk(const struct cpu_matmul *job)
{
    if (job->x->n_tok > 1)
        return MATMUL_BATCH_CHUNK_ROWS;
    size_t rows = MATMUL_DECODE_CHUNK_BYTES / job->w->row_bytes;
    if (rows < 4)
        rows = 4;
    if (rows > 256)
        rows = 256;
    return (int)(rows & ~(size_t)3);
}

void cpu_matmul_run(struct threadpool *pool, const struct cpu_matmul *jobs, int n_jobs)
{
    ENG_ASSERT(n_jobs >= 1 && n_jobs <= 8);
    struct matmul_ctx ctx = {.jobs = jobs, .n_jobs = n_jobs};
    ctx.chunk_start[0] = 0;
    for (int j = 0; j < n_jobs; j++) {
        ENG_ASSERT(jobs[j].x->type == quant_traits(jobs[j].w->type)->vec_dot_type);
        int rows = matmul_rows_per_chunk(&jobs[j]);
        ctx.rows_per_chunk[j] = rows;
        ctx.chunk_start[j + 1] = ctx.chunk_start[j] + (jobs[j].w->n_out + rows - 1) / rows;
    }
    threadpool_run(pool, matmul_task, &ctx, ctx.chunk_start[n_jobs]);
}

void cpu_rms_norm(float *y, const float *x, const float *w, int n, int n_tok, float eps)
{
    for (int t = 0; t < n_tok; t++) {
        const float *xr = x + (size_t)t * n;
        float *yr = y + (size_t)t * n;
        double sum = 0.0;
        for (int i = 0; i < n; i++)
            sum += (double)xr[i] * xr[i];
        float scale = (float)(1.0 / sqrt(sum / n + eps));
        for (int i = 0; i < n; i++)
            yr[i] = xr[i] * scale * w[i];
    }
}

/* The position stream M-RoPE pair i reads (see cpu_rope). */
static int rope_stream(const int *sections, int i)
{
    if (!sections)
        return 0;
    int s0 = sections[0], s1 = s0 + sections[1], s2 = s1 + sections[2];
    int sector = i % (s2 + sections[3]);
    return sector < s0 ? 0 : sector < s1 ? 1 : sector < s2 ? 2 : 3;
}

void cpu_rope(float *x, int n_tok, int n_heads, int head_dim, int n_rot, const float *inv_freq,
              const int32_t *pos, const int *sections, bool neox)
{
    int half = n_rot / 2;
    for (int t = 0; t < n_tok; t++) {
        for (int i = 0; i < half; i++) {
            float p = (float)pos[(size_t)rope_stream(sections, i) * n_tok + t];
            float theta = p * inv_freq[i];
            float c = cosf(theta), s = sinf(theta);
            for (int h = 0; h < n_heads; h++) {
                float *v = x + ((size_t)t * n_heads + h) * head_dim;
                int i0 = neox ? i : 2 * i;
                int i1 = neox ? i + half : 2 * i + 1;
                float a = v[i0], b = v[i1];
                v[i0] = a * c - b * s;
                v[i1] = a * s + b * c;
            }
        }
    }
}

struct silu_mul_ctx {
    float *a;
    const float *b;
    size_t row_len;
};

static void silu_mul_task(void *p, int task, int ith)
{
    (void)ith;
    const struct silu_mul_ctx *ctx = p;
    float *a = ctx->a + (size_t)task * ctx->row_len;
    const float *b = ctx->b + (size_t)task * ctx->row_len;
    for (size_t i = 0; i < ctx->row_len; i++)
        a[i] = a[i] / (1.0f + expf(-a[i])) * b[i];
}

void cpu_silu_mul(struct threadpool *pool, float *a, const float *b, int n_rows, size_t row_len)
{
    struct silu_mul_ctx ctx = {.a = a, .b = b, .row_len = row_len};
    threadpool_run(pool, silu_mul_task, &ctx, n_rows);
}

void cpu_add(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}

void cpu_softmax_row(float *row, int n, float scale)
{
    float max_score = -INFINITY;
    for (int j = 0; j < n; j++)
        max_score = row[j] > max_score ? row[j] : max_score;
    float sum = 0.0f;
    for (int j = 0; j < n; j++) {
        row[j] = expf((row[j] - max_score) * scale);
        sum += row[j];
    }
    float inv_sum = 1.0f / sum;
    for (int j = 0; j < n; j++)
        row[j] *= inv_sum;
}

/* Token t's queries of the heads that share key/value head kv_h (GQA),
 * against the cache: softmax(q·K^T · scale) · V. Each key and value row is
 * read once for the whole group. scores: scratch [group][n_ctx]. */
static void attention_group(const struct cpu_attention *a, int t, int kv_h, float *scores)
{
    int hd = a->head_dim, group = a->n_head / a->n_head_kv;
    size_t kv_stride = (size_t)a->n_head_kv * hd;
    const float *q = a->q + ((size_t)t * a->n_head + (size_t)kv_h * group) * hd; /* [group][hd] */
    float *out = a->out + ((size_t)t * a->n_head + (size_t)kv_h * group) * hd;  /* [group][hd] */
    const float *k = a->k_cache + (size_t)kv_h * hd; /* key j at k + j * kv_stride */
    const float *v = a->v_cache + (size_t)kv_h * hd; /* value j at v + j * kv_stride */
    int n_keys = a->pos0 + t + 1; /* causal: keys 0..pos */

    /* scores[h][j] = q[h] · k[j] */
    quant_vec_dot_rows_cols(ENG_TYPE_F32, hd, scores, (size_t)a->n_ctx, k,
                            kv_stride * sizeof(float), n_keys, q, (size_t)hd * sizeof(float),
                            group);
    for (int h = 0; h < group; h++) {
        float *row = scores + (size_t)h * a->n_ctx;
        for (int j = 0; j < n_keys; j++)
            row[j] *= a->scale;
        cpu_softmax_row(row, n_keys, 1.0f);
    }
    memset(out, 0, sizeof(float) * (size_t)group * hd);
    for (int j = 0; j < n_keys; j++) {
        const float *vj = v + j * kv_stride;
        for (int h = 0; h < group; h++) {
            float p = scores[(size_t)h * a->n_ctx + j];
            float *o = out + (size_t)h * hd;
            for (int d = 0; d < hd; d++)
                o[d] += p * vj[d];
        }
    }
}

static void attention_task(void *p, int task, int ith)
{
    const struct cpu_attention *a = p;
    int group = a->n_head / a->n_head_kv;
    attention_group(a, task / a->n_head_kv, task % a->n_head_kv,
                    a->scores + (size_t)ith * group * a->n_ctx);
}

void cpu_attention_run(struct threadpool *pool, const struct cpu_attention *a)
{
    ENG_ASSERT(a->n_head % a->n_head_kv == 0);
    threadpool_run(pool, attention_task, (void *)a, a->n_tok * a->n_head_kv);
}
