/* vk-pack.c: the weight packer (see vk-pack.h), shared by vk-model.c's text
 * weights and vk-vision.c's projector weights. */
#include <stdlib.h>

#include "../engine-internal.h"
#include "vk-pack.h"

/* Places weights into chunks in two passes with the same walk: the first
 * (upload == false) only sizes the chunks, the second uploads into them. */
struct vk_packer {
    struct vk_ctx *ctx;
    struct vk_weights *w;   /* the chunks (second pass) and the parts arrays */
    bool upload;
    uint64_t chunk_cap;     /* bytes per chunk at most */
    uint64_t *chunk_bytes;  /* [max_chunks] sizes found by the first pass */
    int max_chunks, chunk;  /* chunk being filled */
    uint64_t offset;        /* next free byte in it */
    uint64_t placed;        /* bytes placed so far (the sizing pass's: all of them) */
    uint64_t total;         /* second pass: the bytes the sizing pass placed */
    const struct vk_pack_progress *progress; /* second pass: may be NULL */
    enum eng_status status;
    struct eng_err *err;
};

/* Reserve n bytes at an aligned offset; upload src there in the second pass. */
static struct vk_view pack_bytes(struct vk_packer *pk, const void *src, uint64_t n)
{
    uint64_t align = vk_ctx_offset_align(pk->ctx);
    uint64_t at = (pk->offset + align - 1) / align * align;
    if (at + n > pk->chunk_cap && at > 0) {
        pk->chunk++;
        at = 0;
    }
    ENG_ASSERT(pk->chunk < pk->max_chunks && n <= pk->chunk_cap);
    pk->offset = at + n;
    pk->placed += n;
    if (!pk->upload) {
        /* The matrix shaders read whole 16-byte units: a view's last bytes
         * may be read past its end, so chunks end on a 16-byte boundary. */
        pk->chunk_bytes[pk->chunk] = (pk->offset + 15) / 16 * 16;
        return (struct vk_view){0};
    }
    const struct vk_buf *buf = &pk->w->chunks[pk->chunk];
    if (pk->status == ENG_STATUS_OK)
        pk->status = vk_upload(pk->ctx, buf, at, src, n, pk->err);
    if (pk->status == ENG_STATUS_OK && pk->progress && pk->progress->fn)
        pk->progress->fn(pk->placed, pk->total, pk->progress->user_data);
    return vk_view_sub(buf, at, n);
}

struct vk_view vk_pack_vector(struct vk_packer *pk, const float *v, int n)
{
    if (!v)
        return (struct vk_view){0};
    return pack_bytes(pk, v, sizeof(float) * (uint64_t)n);
}

void vk_pack_matrix(struct vk_packer *pk, const struct cpu_matrix *w, struct vk_matrix *out)
{
    if (!w->data) {
        *out = (struct vk_matrix){0};
        return;
    }
    /* Rows per part, leaving room to round the part's range up to 16 bytes. */
    uint64_t max_rows = (vk_ctx_max_binding(pk->ctx) - 15) / w->row_bytes;
    if (max_rows > (pk->chunk_cap - 15) / w->row_bytes)
        max_rows = (pk->chunk_cap - 15) / w->row_bytes;
    ENG_ASSERT(max_rows >= 1);
    int n_parts = (int)((w->n_out + max_rows - 1) / max_rows);
    struct vk_matrix_part *parts = NULL;
    if (pk->upload) {
        parts = calloc((size_t)n_parts, sizeof *parts);
        if (!parts) {
            pk->status = eng_set_err(pk->err, ENG_STATUS_ERR_NOMEM, "out of memory");
            return;
        }
        ENG_ASSERT(pk->w->n_owned_parts < pk->w->max_owned_parts);
        pk->w->owned_parts[pk->w->n_owned_parts++] = parts;
    }
    for (int i = 0; i < n_parts; i++) {
        int row0 = (int)(i * max_rows);
        int n_rows = w->n_out - row0 < (int)max_rows ? w->n_out - row0 : (int)max_rows;
        struct vk_view view = pack_bytes(pk, w->data + (uint64_t)row0 * w->row_bytes,
                                         (uint64_t)n_rows * w->row_bytes);
        if (parts)
            parts[i] = (struct vk_matrix_part){.view = view, .row0 = row0, .n_rows = n_rows};
    }
    *out = (struct vk_matrix){.type = w->type, .n_in = w->n_in, .n_out = w->n_out,
                              .row_bytes = w->row_bytes, .n_parts = n_parts, .parts = parts};
}

/* Allocate the n chunks the first pass sized. */
static enum eng_status alloc_chunks(struct vk_ctx *ctx, const uint64_t *chunk_bytes, int n,
                                    struct vk_weights *w, struct eng_err *err)
{
    w->n_chunks = n;
    w->chunks = calloc((size_t)n, sizeof *w->chunks);
    if (!w->chunks)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    enum eng_status st = ENG_STATUS_OK;
    for (int i = 0; i < n && st == ENG_STATUS_OK; i++) {
        st = vk_buf_new(ctx, chunk_bytes[i], VK_MEM_DEVICE, &w->chunks[i], err);
        w->bytes += chunk_bytes[i];
    }
    return st;
}

enum eng_status vk_pack_weights(struct vk_ctx *ctx, uint64_t total_bytes, int max_matrices,
                                vk_pack_walk_fn walk, void *user_data,
                                const struct vk_pack_progress *progress, struct vk_weights *out,
                                struct eng_err *err)
{
    *out = (struct vk_weights){.max_owned_parts = max_matrices};
    /* + 1: never a zero-size allocation */
    out->owned_parts = calloc((size_t)max_matrices + 1, sizeof *out->owned_parts);
    if (!out->owned_parts)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");

    /* Chunks of up to 1 GiB (less where the device allows less): few
     * allocations, each far below maxMemoryAllocationSize on real GPUs. */
    uint64_t cap = vk_ctx_max_alloc(ctx) < (1ull << 30) ? vk_ctx_max_alloc(ctx) : (1ull << 30);
    /* A chunk is closed only when the next piece does not fit in it, so
     * each two neighbouring chunks hold about cap bytes or more; 8 more are
     * slack (pack_bytes asserts the bound). */
    int max_chunks = (int)(total_bytes / (cap / 2) + 8);
    uint64_t *chunk_bytes = calloc((size_t)max_chunks, sizeof *chunk_bytes);
    if (!chunk_bytes) {
        vk_weights_free(ctx, out);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    }
    struct vk_packer sizing = {.ctx = ctx, .w = out, .chunk_cap = cap,
                               .chunk_bytes = chunk_bytes, .max_chunks = max_chunks, .err = err};
    walk(&sizing, user_data);
    enum eng_status st = alloc_chunks(ctx, chunk_bytes, sizing.chunk + 1, out, err);
    free(chunk_bytes);
    if (!st) {
        struct vk_packer upload = {.ctx = ctx, .w = out, .upload = true, .chunk_cap = cap,
                                   .max_chunks = out->n_chunks, .total = sizing.placed,
                                   .progress = progress, .err = err};
        if (progress && progress->fn)
            progress->fn(0, upload.total, progress->user_data);
        walk(&upload, user_data);
        st = upload.status;
    }
    if (st)
        vk_weights_free(ctx, out);
    return st;
}

void vk_weights_free(struct vk_ctx *ctx, struct vk_weights *w)
{
    for (int i = 0; w->chunks && i < w->n_chunks; i++)
        vk_buf_free(ctx, &w->chunks[i]);
    free(w->chunks);
    for (int i = 0; i < w->n_owned_parts; i++)
        free(w->owned_parts[i]);
    free(w->owned_parts);
    *w = (struct vk_weights){0};
}
