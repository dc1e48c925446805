/* vk-pack.h: the weight packer of the Vulkan backend (private to the
 * engine). It places a model's or a projector's weights into device-local
 * chunks of at most maxMemoryAllocationSize (and at most 1 GiB), each
 * matrix split by rows into parts that fit one binding
 * (maxStorageBufferRange), every chunk a whole number of 16-byte units.
 *
 * The caller describes its weights once, as a walk that calls
 * vk_pack_vector() and vk_pack_matrix() for each of them; vk_pack_weights()
 * runs the walk twice: the first pass only sizes the chunks, the second
 * uploads into them and fills in the views and matrices.
 *
 * Thread-safety: one vk_pack_weights() call at a time per context.
 */
#ifndef WENSHU_VK_PACK_H
#define WENSHU_VK_PACK_H

#include <stdint.h>

#include "../cpu/ops.h"
#include "vk-ops.h"

/* Device memory holding packed weights, and the parts arrays of its matrices. */
struct vk_weights {
    struct vk_buf *chunks;               /* [n_chunks] device-local weight memory */
    int n_chunks;
    uint64_t bytes;                      /* bytes of the chunks */
    struct vk_matrix_part **owned_parts; /* [max_owned_parts] every matrix's parts array */
    int n_owned_parts, max_owned_parts;
};

/* One pass of a walk (opaque). */
struct vk_packer;

/* The caller's walk over its weights: the same calls, in the same order, on
 * both passes. */
typedef void (*vk_pack_walk_fn)(struct vk_packer *pk, void *user_data);

/* Place n floats (f32 [n]); a NULL v gives an empty view (.buf == NULL). */
struct vk_view vk_pack_vector(struct vk_packer *pk, const float *v, int n);

/* Place a matrix in its block format, in parts of at most one binding's
 * worth of rows each; a matrix without data gives an empty vk_matrix. The
 * views and *out are valid after the second pass only. */
void vk_pack_matrix(struct vk_packer *pk, const struct cpu_matrix *w, struct vk_matrix *out);

/* Who follows an upload: fn (may be NULL) gets the bytes uploaded of all the
 * bytes the walk places, after each vector and each matrix part. */
struct vk_pack_progress {
    eng_progress_fn fn;
    void *user_data;
};

/* Run walk twice on ctx: size the chunks, allocate them, upload.
 * total_bytes: about the bytes the walk places (e.g. the file's weight
 * bytes), which bounds the chunk count; max_matrices: the most
 * vk_pack_matrix() calls of one walk; progress may be NULL.
 * Ownership: on success *out owns the chunks and the parts arrays, which the
 * views and matrices that walk filled in point into; free with
 * vk_weights_free() before ctx. On failure nothing is left to free.
 * Errors: ENG_STATUS_ERR_NOMEM, and vk_buf_new()'s and vk_upload()'s errors. */
enum eng_status vk_pack_weights(struct vk_ctx *ctx, uint64_t total_bytes, int max_matrices,
                                vk_pack_walk_fn walk, void *user_data,
                                const struct vk_pack_progress *progress, struct vk_weights *out,
                                struct eng_err *err);

/* Free the chunks and the parts arrays; leaves *w zeroed. Accepts a zeroed *w. */
void vk_weights_free(struct vk_ctx *ctx, struct vk_weights *w);

#endif /* WENSHU_VK_PACK_H */
