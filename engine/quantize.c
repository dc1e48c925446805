/* quantize.c: eng_quantize_file(), requantizing a GGUF model's weight
 * matrices to one target type, as llama-quantize does without an imatrix.
 *
 * Policy (close to llama.cpp's src/llama-quant.cpp, kept simple):
 *  - every 2-D tensor whose name ends in ".weight" and does not name a norm
 *    (or a vision projector's position_embd) becomes the target type, except the tensor that computes the logits
 *    (output.weight, or token_embd.weight when the output is tied): as in
 *    llama.cpp, it becomes Q6_K unless the target is Q8_0 or a float type;
 *  - when the row width ne[0] is not a multiple of the target's block, the
 *    llama.cpp fallback is used (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0,
 *    IQ4_NL/Q4_x/Q5_x/Q8_0 -> F16), and F16 when even that does not fit;
 *  - 1-D tensors and norms become F32; anything else is copied unchanged;
 *  - every KV pair is copied; general.file_type is set to the llama_ftype of
 *    the target and general.quantization_version to 2.
 * Rows are converted by n_threads pthreads (dequantize to F32, quantize).
 * The converted tensors are held in memory until the file is written. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "engine-internal.h"
#include "gguf.h"
#include "quant.h"

/* Target names accepted by eng_quantize_file and their llama_ftype ids. */
struct quant_target {
    const char *name;
    enum eng_type type;
    uint32_t ftype;
};

static const struct quant_target targets[] = {
    {"F32", ENG_TYPE_F32, 0},      {"F16", ENG_TYPE_F16, 1},        {"BF16", ENG_TYPE_BF16, 32},
    {"Q4_0", ENG_TYPE_Q4_0, 2},    {"Q4_1", ENG_TYPE_Q4_1, 3},      {"Q8_0", ENG_TYPE_Q8_0, 7},
    {"Q5_0", ENG_TYPE_Q5_0, 8},    {"Q5_1", ENG_TYPE_Q5_1, 9},      {"Q4_K", ENG_TYPE_Q4_K, 14},
    {"Q4_K_S", ENG_TYPE_Q4_K, 14}, {"Q5_K", ENG_TYPE_Q5_K, 16},     {"Q5_K_S", ENG_TYPE_Q5_K, 16},
    {"Q6_K", ENG_TYPE_Q6_K, 18},   {"IQ4_NL", ENG_TYPE_IQ4_NL, 25},
};

/* Rows per work item of a conversion. */
#define QUANTIZE_CHUNK_ROWS 16

static const struct quant_target *find_target(const char *name)
{
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (strcasecmp(name, targets[i].name) == 0)
            return &targets[i];
    return NULL;
}

static bool str_ends_with(const struct gguf_str *s, const char *suffix)
{
    const size_t n = strlen(suffix);
    return s->len >= n && memcmp(s->data + s->len - n, suffix, n) == 0;
}

static bool str_contains(const struct gguf_str *s, const char *needle)
{
    const size_t n = strlen(needle);
    for (uint64_t i = 0; i + n <= s->len; i++)
        if (memcmp(s->data + i, needle, n) == 0)
            return true;
    return false;
}

static bool is_weight_matrix(const struct gguf_tensor *t)
{
    /* A vision projector's learned positions are added, never multiplied:
     * they stay as they are (mmproj.c reads them as floats). */
    return t->ne[2] == 1 && t->ne[3] == 1 && t->ne[1] > 1 && t->n_dims == 2 &&
           str_ends_with(&t->name, ".weight") && !str_contains(&t->name, "norm") &&
           !str_contains(&t->name, "position_embd");
}

/* The type a weight matrix of width ne0 gets for target (llama.cpp fallbacks). */
static enum eng_type matrix_type(enum eng_type target, int64_t ne0)
{
    if (ne0 % quant_traits(target)->blck == 0)
        return target;
    enum eng_type fallback;
    switch (target) {
    case ENG_TYPE_Q4_K: fallback = ENG_TYPE_Q5_0; break;
    case ENG_TYPE_Q5_K: fallback = ENG_TYPE_Q5_1; break;
    case ENG_TYPE_Q6_K: fallback = ENG_TYPE_Q8_0; break;
    default: fallback = ENG_TYPE_F16; break;
    }
    return ne0 % quant_traits(fallback)->blck == 0 ? fallback : ENG_TYPE_F16;
}

/* Whether t computes the logits: output.weight, or the tied token_embd. */
static bool is_logits_matrix(const struct gguf_file *f, const struct gguf_tensor *t)
{
    static const char output[] = "output.weight", embd[] = "token_embd.weight";
    if (t->name.len == sizeof output - 1 && memcmp(t->name.data, output, sizeof output - 1) == 0)
        return true;
    return t->name.len == sizeof embd - 1 && memcmp(t->name.data, embd, sizeof embd - 1) == 0 &&
           !gguf_find_tensor(f, output);
}

/* The output type of tensor t; *convert tells whether its bytes change. */
static enum eng_type output_type(const struct gguf_file *f, const struct gguf_tensor *t,
                                 enum eng_type target, bool *convert)
{
    enum eng_type out = t->type;
    bool float_target = target == ENG_TYPE_F32 || target == ENG_TYPE_F16 ||
                        target == ENG_TYPE_BF16;
    if (is_weight_matrix(t) && is_logits_matrix(f, t) && !float_target &&
        target != ENG_TYPE_Q8_0)
        out = matrix_type(ENG_TYPE_Q6_K, t->ne[0]);
    else if (is_weight_matrix(t))
        out = matrix_type(target, t->ne[0]);
    else if (t->n_dims == 1 || str_contains(&t->name, "norm"))
        out = ENG_TYPE_F32;
    *convert = out != t->type;
    return out;
}

/* One tensor being converted. */
struct conv_tensor {
    const struct gguf_tensor *src;
    enum eng_type type;
    int64_t n_rows;
    size_t src_row_bytes, dst_row_bytes;
    uint8_t *dst; /* [n_rows][dst_row_bytes], owned */
};

struct conv_ctx {
    struct conv_tensor *tensors; /* [n_tensors] */
    size_t n_tensors;
    int64_t *chunk_start; /* [n_tensors + 1]: first global chunk of each tensor */
    atomic_long next_chunk;
    atomic_bool out_of_memory;
};

/* Convert rows [r0, r1) of c: dequantize each to F32, quantize to c->type. */
static bool convert_rows(const struct conv_tensor *c, int64_t r0, int64_t r1, float **row_buf,
                         int64_t *row_buf_n)
{
    const int64_t ne0 = c->src->ne[0];
    if (*row_buf_n < ne0) {
        float *p = realloc(*row_buf, sizeof(float) * (size_t)ne0);
        if (!p)
            return false;
        *row_buf = p;
        *row_buf_n = ne0;
    }
    const uint8_t *src = c->src->data;
    for (int64_t r = r0; r < r1; r++) {
        quant_dequantize_row(c->src->type, src + (size_t)r * c->src_row_bytes, *row_buf, ne0);
        quant_quantize_row(c->type, *row_buf, c->dst + (size_t)r * c->dst_row_bytes, ne0);
    }
    return true;
}

static void *conv_worker(void *p)
{
    struct conv_ctx *ctx = p;
    float *row_buf = NULL; /* [ne0] of the widest tensor seen, owned */
    int64_t row_buf_n = 0;
    size_t ti = 0;
    const int64_t total = ctx->chunk_start[ctx->n_tensors];
    for (;;) {
        const long chunk = atomic_fetch_add(&ctx->next_chunk, 1);
        if (chunk >= total || atomic_load(&ctx->out_of_memory))
            break;
        while (ctx->chunk_start[ti + 1] <= chunk)
            ti++;
        const struct conv_tensor *c = &ctx->tensors[ti];
        const int64_t r0 = (chunk - ctx->chunk_start[ti]) * QUANTIZE_CHUNK_ROWS;
        const int64_t r1 =
            r0 + QUANTIZE_CHUNK_ROWS < c->n_rows ? r0 + QUANTIZE_CHUNK_ROWS : c->n_rows;
        if (!convert_rows(c, r0, r1, &row_buf, &row_buf_n)) {
            atomic_store(&ctx->out_of_memory, true);
            break;
        }
    }
    free(row_buf);
    return NULL;
}

/* Run the conversion on n_threads threads (the caller's thread included). */
static bool run_workers(struct conv_ctx *ctx, int n_threads)
{
    pthread_t *threads = calloc((size_t)n_threads, sizeof *threads); /* [n_threads - 1] used */
    if (!threads)
        return false;
    int started = 0;
    for (int i = 1; i < n_threads; i++) {
        if (pthread_create(&threads[started], NULL, conv_worker, ctx) != 0)
            break; /* fewer threads is fine: the queue is shared */
        started++;
    }
    conv_worker(ctx);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    return !atomic_load(&ctx->out_of_memory);
}

/* Check a source tensor we must convert and fill c (dst not allocated). */
static enum eng_status plan_tensor(const struct gguf_file *f, const struct gguf_tensor *t,
                                   enum eng_type type, struct conv_tensor *c, struct eng_err *err)
{
    const struct quant_traits *st = quant_traits(t->type);
    const bool can_read = st && (st->can_dot || t->type == ENG_TYPE_F32);
    if (!can_read)
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                           "%s: tensor '%.*s' has type %s, which cannot be requantized", f->path,
                           (int)t->name.len, t->name.data, st ? st->name : "unknown");
    int64_t n_rows = 1;
    bool bad = t->ne[0] <= 0 || t->ne[0] % st->blck != 0 || t->ne[0] > INT32_MAX;
    for (int d = 1; d < GGUF_MAX_DIMS; d++)
        bad = bad || t->ne[d] < 0 || __builtin_mul_overflow(n_rows, t->ne[d], &n_rows);
    uint64_t n_bytes = 0;
    if (bad ||
        __builtin_mul_overflow((uint64_t)quant_row_size(t->type, t->ne[0]), (uint64_t)n_rows,
                               &n_bytes) ||
        n_bytes != t->n_bytes)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: tensor '%.*s' has a size that does not match its shape", f->path,
                           (int)t->name.len, t->name.data);
    *c = (struct conv_tensor){
        .src = t,
        .type = type,
        .n_rows = n_rows,
        .src_row_bytes = quant_row_size(t->type, t->ne[0]),
        .dst_row_bytes = quant_row_size(type, t->ne[0]),
    };
    return ENG_STATUS_OK;
}

static int default_threads(int n_threads)
{
    if (n_threads > 0)
        return n_threads;
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Add every tensor of f to w: converted ones from conv (in file order), the
 * rest pointing into f's mapping. */
static enum eng_status add_tensors(struct gguf_writer *w, const struct gguf_file *f,
                                   const struct conv_tensor *conv, size_t n_conv,
                                   struct eng_err *err)
{
    size_t ci = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const struct gguf_tensor *t = &f->tensors[i];
        char name[512];
        if (t->name.len >= sizeof name)
            return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: tensor name too long", f->path);
        memcpy(name, t->name.data, t->name.len);
        name[t->name.len] = '\0';
        if (ci < n_conv && conv[ci].src == t) {
            gguf_writer_add_tensor(w, name, conv[ci].type, t->n_dims, t->ne, conv[ci].dst);
            ci++;
        } else {
            gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data);
        }
    }
    return ENG_STATUS_OK;
}

enum eng_status eng_quantize_file(const char *in_path, const char *out_path, const char *type_name,
                                  int n_threads, struct eng_err *err)
{
    if (!in_path || !out_path || !type_name)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "quantize: missing path or type");
    const struct quant_target *target = find_target(type_name);
    if (!target)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "quantize: unknown type '%s' (F32, F16, BF16, Q8_0, Q4_0, Q4_1, "
                           "Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, IQ4_NL)",
                           type_name);
    quant_init();
    struct gguf_file *f = NULL;
    enum eng_status st = gguf_open(in_path, &f, err);
    if (st != ENG_STATUS_OK)
        return st;

    struct gguf_writer *w = NULL;
    struct conv_ctx ctx = {0};
    ctx.tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *ctx.tensors);
    ctx.chunk_start = calloc(f->n_tensors + 1, sizeof *ctx.chunk_start);
    if (!ctx.tensors || !ctx.chunk_start) {
        st = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: out of memory", in_path);
        goto out_free;
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        bool convert;
        const enum eng_type type = output_type(f, &f->tensors[i], target->type, &convert);
        if (!convert)
            continue;
        struct conv_tensor *c = &ctx.tensors[ctx.n_tensors];
        st = plan_tensor(f, &f->tensors[i], type, c, err);
        if (st != ENG_STATUS_OK)
            goto out_free;
        c->dst = malloc(c->dst_row_bytes * (size_t)c->n_rows + 1);
        if (!c->dst) {
            st = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: out of memory for tensor '%.*s'",
                             in_path, (int)f->tensors[i].name.len, f->tensors[i].name.data);
            goto out_free;
        }
        ctx.chunk_start[ctx.n_tensors + 1] =
            ctx.chunk_start[ctx.n_tensors] +
            (c->n_rows + QUANTIZE_CHUNK_ROWS - 1) / QUANTIZE_CHUNK_ROWS;
        ctx.n_tensors++;
    }
    if (!run_workers(&ctx, default_threads(n_threads))) {
        st = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: out of memory while quantizing", in_path);
        goto out_free;
    }

    w = gguf_writer_new();
    if (!w) {
        st = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: out of memory", out_path);
        goto out_free;
    }
    gguf_writer_copy_kv(w, f);
    gguf_writer_set_u32(w, "general.file_type", target->ftype);
    gguf_writer_set_u32(w, "general.quantization_version", 2);
    st = add_tensors(w, f, ctx.tensors, ctx.n_tensors, err);
    if (st == ENG_STATUS_OK)
        st = gguf_writer_write(w, out_path, err);

out_free:
    gguf_writer_free(&w);
    if (ctx.tensors)
        for (size_t i = 0; i < ctx.n_tensors; i++)
            free(ctx.tensors[i].dst);
    free(ctx.tensors);
    free(ctx.chunk_start);
    gguf_close(&f);
    return st;
}
