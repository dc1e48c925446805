/* vk-vision.h: the vision encoders and projectors on the Vulkan backend
 * (private to the engine): the projector's weights on one device, and one
 * encode of preprocessed pixels recorded into one command buffer.
 *
 * The math, the inputs and the output layouts are those of vision.h's CPU
 * encoders (Qwen2-VL, Qwen2.5-VL with windowed attention, SigLIP with the
 * Idefics3 connector); vk-vision.c mirrors them op for op.
 *
 * Thread-safety: a vk_vision may be shared; encodes on it are serialized by
 * its lock (one device context).
 */
#ifndef WENSHU_VK_VISION_H
#define WENSHU_VK_VISION_H

#include <stdint.h>

#include "../media/preprocess.h"
#include "../mmproj.h"
#include "../vision.h"
#include "../wenshu-engine.h"

struct vk_vision;

/* Open Vulkan device device_index (from vk_devices_list()) and upload the
 * projector's weights to it. The projector must outlive the result.
 * Ownership: on success *out owns the device context and the weights; free
 * with vk_vision_free(). Thread-safety: safe; each call opens its own context.
 * Errors: ENG_STATUS_ERR_UNSUPPORTED for a weight type the shaders cannot
 * read, ENG_STATUS_ERR_NOMEM, and vk_ctx_new()'s errors. */
enum eng_status vk_vision_new(const struct mmproj *p, int device_index, struct vk_vision **out,
                              struct eng_err *err);
/* Free everything; sets *vv to NULL. Accepts NULL. Not while an encode runs. */
void vk_vision_free(struct vk_vision **vv);

/* The device's name (owned by vv). */
const char *vk_vision_device_name(const struct vk_vision *vv);
/* Bytes of device memory the weights take. */
uint64_t vk_vision_device_bytes(const struct vk_vision *vv);

/* Encode Qwen2-VL / Qwen2.5-VL pixels: the contract and the output layout
 * of vision_encode_qwen_cpu(). out: [qwen_pixels_n_tokens(px)][projection_dim].
 * Temporal groups (Idefics3: images) never attend to each other, so input
 * whose activations exceed one device binding (maxStorageBufferRange) runs
 * as several submits of whole groups.
 * progress (may be NULL) advances by the groups of a submit for each
 * encoder layer run: with a callback, the pass is split into submits of
 * whole layers (one at first, more while they run in under 5 ms), and each
 * submit's layers are reported when the device has run them.
 * Errors: ENG_STATUS_ERR_ARG when the pixels do not fit the projector or
 * one group's activations would not fit one binding, ENG_STATUS_ERR_NOMEM,
 * and device errors.
 * Ownership: out is the caller's. Thread-safety: encodes on one vv are
 * serialized by its lock. */
enum eng_status vk_vision_encode_qwen(struct vk_vision *vv, const struct qwen_pixels *px,
                                      struct vision_progress *progress, float *out,
                                      struct eng_err *err);

/* Encode Idefics3 / SmolVLM images: the contract and the output layout of
 * vision_encode_idefics3_cpu(). out: [px->n_images * tokens per image][projection_dim].
 * Progress (by images), errors, ownership and thread-safety: as
 * vk_vision_encode_qwen(). */
enum eng_status vk_vision_encode_idefics3(struct vk_vision *vv, const struct idefics3_pixels *px,
                                          struct vision_progress *progress, float *out,
                                          struct eng_err *err);

#endif /* WENSHU_VK_VISION_H */
