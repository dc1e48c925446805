/* vision.h: the vision encoders and projectors on the CPU backend (private
 * to the engine): preprocessed pixels in, rows of the text model's width out.
 *
 * Written from the Hugging Face definitions:
 *   qwen2vl_merger    modeling_qwen2_vl.py: Qwen2VisionTransformerPretrainedModel
 *                     (patch embed as two temporal slices, 2D vision RoPE,
 *                     LayerNorm, quick-GELU MLP, PatchMerger: LayerNorm ->
 *                     Linear -> GELU (erf) -> Linear).
 *   qwen2.5vl_merger  modeling_qwen2_5_vl.py: the same with RMSNorm, a gated
 *                     SiLU MLP with biases, and windowed attention (windows of
 *                     window_size / patch / merge merged units per side) in
 *                     every layer but the full-attention ones.
 *   idefics3          modeling_idefics3.py: SigLIP (patch conv with bias,
 *                     learned positions, LayerNorm, GELU-tanh MLP, post
 *                     LayerNorm), pixel shuffle and the connector Linear.
 *
 * Shapes (all f32, row-major, one row per token):
 *   Qwen input   struct qwen_pixels: [grid_t * grid_h * grid_w][3 * 2 * ps * ps]
 *                in HF's order (each merge x merge block consecutive).
 *   Qwen output  [grid_t * (grid_h / m) * (grid_w / m)][projection_dim]: per
 *                temporal group, the merged grid row by row (HF's order).
 *   Idefics3 in  [n_images][3][S][S] (struct idefics3_pixels).
 *   Idefics3 out [n_images * tokens_per_image][projection_dim]: each image's
 *                tokens_per_image rows in HF's pixel-shuffle order.
 *
 * Attention in the ViT never crosses temporal groups (HF's cu_seqlens).
 *
 * Thread-safety: a call uses the pool it is given; the projector is read-only.
 */
#ifndef WENSHU_VISION_H
#define WENSHU_VISION_H

#include "cpu/threadpool.h"
#include "media/preprocess.h"
#include "mmproj.h"

/* The progress of one eng_mmproj_encode_* call, across every encoder pass it
 * makes (see eng_mmproj_params.progress): done and total count encoder
 * layers times encoder images (Qwen: temporal groups; Idefics3: tiles). */
struct vision_progress {
    eng_progress_fn fn; /* NULL: nothing is reported */
    void *user_data;
    uint64_t done, total;
    int vk_layers_per_submit; /* Vulkan: encoder layers one submit runs while the
                               * encode is followed (0 = 1 to start); it grows
                               * while a submit takes under a few milliseconds */
};

/* One more encoder layer has run on n_images encoder images: add them and
 * report. Accepts NULL and a NULL fn (nothing to do). */
void vision_progress_add(struct vision_progress *vp, int n_images);

/* Encode Qwen2-VL / Qwen2.5-VL pixels. out: [qwen_pixels_n_tokens(px)][projection_dim].
 * progress (may be NULL) advances by px->grid_t after each encoder layer.
 * Errors: ENG_STATUS_ERR_ARG when the pixels do not fit the projector
 * (patch_dim, merge size, a grid not a multiple of the merge size),
 * ENG_STATUS_ERR_NOMEM. */
enum eng_status vision_encode_qwen_cpu(const struct mmproj *p, struct threadpool *pool,
                                       const struct qwen_pixels *px,
                                       struct vision_progress *progress, float *out,
                                       struct eng_err *err);

/* Tokens one Idefics3 image of side `size` becomes:
 * (size / patch_size)^2 / merge_size^2 (64 for SmolVLM's 512 / 16 / 4). */
int vision_idefics3_tokens_per_image(const struct mmproj *p, int size);

/* Encode Idefics3 / SmolVLM images (tiles and the global image).
 * out: [px->n_images * vision_idefics3_tokens_per_image(p, px->size)][projection_dim].
 * progress (may be NULL) advances by px->n_images after each encoder layer.
 * Errors: ENG_STATUS_ERR_ARG when the tile size does not give the
 * projector's n_pos positions or does not divide by the shuffle factor,
 * ENG_STATUS_ERR_NOMEM. */
enum eng_status vision_encode_idefics3_cpu(const struct mmproj *p, struct threadpool *pool,
                                           const struct idefics3_pixels *px,
                                           struct vision_progress *progress, float *out,
                                           struct eng_err *err);

#endif /* WENSHU_VISION_H */
