/* vk-model.h: a text model's weights on a Vulkan device, and the decoder
 * forward pass recorded with vk-ops (private to the engine).
 *
 * vk_model uploads every weight once, in its GGUF block format, into
 * device-local chunks no larger than maxMemoryAllocationSize; a matrix larger
 * than one binding (maxStorageBufferRange) is split by rows. vk_session owns
 * a KV cache (f16) and scratch on the device; one forward pass is one command
 * buffer and one submit.
 *
 * Thread-safety: a vk_model may be shared; its forward passes are
 * serialised by a lock. A vk_session is used by one thread at a time.
 */
#ifndef WENSHU_VK_MODEL_H
#define WENSHU_VK_MODEL_H

#include <stdint.h>

#include "../wenshu-engine.h"

struct eng_model;
struct vk_model;
struct vk_session;

/* Upload m's weights to Vulkan device `index`; progress (may be NULL) gets
 * the bytes uploaded of all the bytes to upload, after each weight.
 * Ownership: *out owns the device context and the weights; free with
 * vk_model_free() before m. */
enum eng_status vk_model_new(const struct eng_model *m, int index, eng_progress_fn progress,
                             void *progress_user_data, struct vk_model **out,
                             struct eng_err *err);
void vk_model_free(struct vk_model **vm);

const char *vk_model_device_name(const struct vk_model *vm);
uint64_t vk_model_device_bytes(const struct vk_model *vm);

/* The most tokens one forward pass can hold on this device: every scratch
 * buffer of a batch must fit one binding. */
int vk_model_max_batch(const struct vk_model *vm);

/* A KV cache of n_ctx tokens and scratch for n_batch tokens on the device.
 * Ownership: *out is freed with vk_session_free(); vm must outlive it. */
enum eng_status vk_session_new(struct vk_model *vm, int n_ctx, int n_batch,
                               struct vk_session **out, struct eng_err *err);
void vk_session_free(struct vk_session **s);

/* One batch of decoder inputs for vk_session_forward(). */
struct vk_forward_input {
    const int32_t *tokens; /* [n_tok] token ids, or NULL */
    const float *embd;     /* [n_tok][n_embd] input rows when tokens is NULL */
    int n_tok;             /* 1..n_batch */
    const int32_t *pos;    /* [4][n_tok] M-RoPE positions (t, h, w, extra); NULL for a
                            * plain RoPE model, whose positions are its cache rows */
    int n_past;            /* the cache row of the first input */
};

/* Forward one batch, writing its keys and values to cache rows
 * n_past..n_past+n_tok-1 (attention is causal by row), and copy the last
 * row's logits to logits[n_vocab]. Embedding rows are uploaded before the
 * pass (one extra transfer); token ids are fetched on the device. */
enum eng_status vk_session_forward(struct vk_session *s, const struct vk_forward_input *in,
                                   float *logits, struct eng_err *err);

/* Work counters and device memory of the session (see eng_session_stats). */
void vk_session_get_stats(const struct vk_session *s, struct eng_session_stats *stats);

#endif /* WENSHU_VK_MODEL_H */
