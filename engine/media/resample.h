/* resample.h: Pillow's Image.resize for 8-bit RGB, byte for byte (private to
 * the engine).
 *
 * The Hugging Face image processors resize through PIL, so the vision
 * encoders were trained on Pillow's output. This is Pillow's separable
 * convolution (src/libImaging/Resample.c): per output sample a window of
 * source samples, widened by the scale when downscaling, weighted by the
 * filter and normalised to sum 1; the weights are turned into 22-bit fixed
 * point; the horizontal pass runs first and rounds and clips to 8 bits, then
 * the vertical pass reads those 8-bit rows. A pass whose size does not change
 * is skipped, and an unchanged size copies the image (Image.resize with
 * reducing_gap=None, the HF default).
 *
 * Thread-safety: safe; no shared state.
 */
#ifndef WENSHU_MEDIA_RESAMPLE_H
#define WENSHU_MEDIA_RESAMPLE_H

#include <stdint.h>

#include "wenshu-engine.h"

/* PIL.Image.Resampling filters (the ones the processors use). */
enum resample_filter {
    RESAMPLE_BILINEAR, /* triangle, support 1 */
    RESAMPLE_BICUBIC,  /* Keys cubic with a = -0.5, support 2 (Qwen2-VL) */
    RESAMPLE_LANCZOS,  /* sinc windowed by sinc(x/3), support 3 (Idefics3, SmolVLM) */
};

/* The filter's name ("bilinear", "bicubic", "lanczos"). */
const char *resample_filter_name(enum resample_filter filter);

/* Resize src [src_h][src_w][3] into dst [dst_h][dst_w][3], which the caller
 * allocates, as PIL's Image.resize((dst_w, dst_h), filter) does for mode RGB.
 * Ownership: src and dst stay the caller's; they must not overlap.
 * Errors: ENG_STATUS_ERR_ARG for a size <= 0 or over 1<<20 pixels a side,
 * ENG_STATUS_ERR_NOMEM. Thread-safety: safe. */
enum eng_status resample_rgb8(const uint8_t *src, int src_w, int src_h, uint8_t *dst, int dst_w,
                              int dst_h, enum resample_filter filter, struct eng_err *err);

#endif /* WENSHU_MEDIA_RESAMPLE_H */
