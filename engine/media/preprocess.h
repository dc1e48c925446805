/* preprocess.h: decoded images to vision-encoder input, as the Hugging Face
 * image processors make it (private to the engine).
 *
 * Two families:
 *  - Qwen2-VL / Qwen2.5-VL (Qwen2VLImageProcessor, the PIL one): smart_resize
 *    to multiples of patch_size * merge_size within [min_pixels, max_pixels],
 *    a BICUBIC resize, rescale by 1/255, normalise, then flatten_patches:
 *    pixel_values [grid_t * grid_h * grid_w][3 * temporal * patch * patch]
 *    with the patches of each merge_size x merge_size block consecutive.
 *  - Idefics3 / SmolVLM (SmolVLMImageProcessor): LANCZOS resize of the long
 *    edge to longest_edge, a second resize to multiples of the tile size,
 *    crops into tiles, plus the whole image resized to one tile (the global
 *    image), rescale, normalise: [n_tiles + 1][3][S][S], channels first.
 *
 * The resizes are Pillow's, byte for byte (media/resample.h); rescale and
 * normalise are numpy's float32 arithmetic: float(u8 * (1/255.0)) in double,
 * then (x - mean) / std in float. So the output equals the processor's bit
 * for bit wherever Pillow and the C library's sin() agree with this build.
 *
 * Thread-safety: every function is safe from any thread; nothing is shared.
 */
#ifndef WENSHU_MEDIA_PREPROCESS_H
#define WENSHU_MEDIA_PREPROCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "media/resample.h"
#include "wenshu-engine.h"

/* ---- Qwen2-VL / Qwen2.5-VL ---------------------------------------------- */

struct qwen_preprocess_params {
    int patch_size;          /* ViT patch side in pixels: 14 */
    int merge_size;          /* the merger joins merge_size^2 patches into one token: 2 */
    int temporal_patch_size; /* frames per temporal patch: 2 */
    int64_t min_pixels;      /* pixel budget of the resized image: 56 * 56 ... */
    int64_t max_pixels;      /* ... to 28 * 28 * 1280 */
    float image_mean[3];     /* per channel (R, G, B): OPENAI_CLIP_MEAN */
    float image_std[3];      /* OPENAI_CLIP_STD */
    enum resample_filter resample; /* RESAMPLE_BICUBIC */
};

/* The HF defaults above. */
struct qwen_preprocess_params qwen_preprocess_params_default(void);

/* HF's smart_resize(height, width, factor = patch_size * merge_size,
 * min_pixels, max_pixels): the resized height and width, multiples of the
 * factor. Python's round() (half to even), floor and ceil, in doubles.
 * Errors: ENG_STATUS_ERR_ARG for a size <= 0, an aspect ratio over 200 (HF
 * refuses it too), bad params, or a budget that leaves a side 0.
 * Thread-safety: safe. */
enum eng_status qwen_smart_resize(int height, int width, const struct qwen_preprocess_params *params,
                                  int *out_height, int *out_width, struct eng_err *err);

/* One image or one clip's frames, patchified. */
struct qwen_pixels {
    int grid_t, grid_h, grid_w; /* in patches: temporal, rows, columns */
    int merge_size;             /* from the params, for the token count */
    int patch_dim;              /* 3 * temporal_patch_size * patch_size^2 */
    float *values;              /* [grid_t * grid_h * grid_w][patch_dim]; row
                                 * (((t * grid_h/m + by) * grid_w/m + bx) * m + my) * m + mx,
                                 * column ((c * temporal + f) * patch + py) * patch + px */
};

/* Frames (all resized to the smart_resize size of frames[0], as HF does),
 * padded to a multiple of temporal_patch_size by repeating the last one.
 * A single image is n_frames = 1 (it becomes two identical frames, t = 1).
 * Ownership: *out is the caller's; free it with qwen_pixels_free().
 * Errors: ENG_STATUS_ERR_ARG (bad image or params, see qwen_smart_resize),
 * ENG_STATUS_ERR_NOMEM. Thread-safety: safe. */
enum eng_status qwen_preprocess_frames(const struct eng_image *const *frames, int n_frames,
                                       const struct qwen_preprocess_params *params,
                                       struct qwen_pixels **out, struct eng_err *err);

/* One image: qwen_preprocess_frames of one frame. */
enum eng_status qwen_preprocess_image(const struct eng_image *image,
                                      const struct qwen_preprocess_params *params,
                                      struct qwen_pixels **out, struct eng_err *err);

/* Two video frames into one temporal patch (grid_t = 1); b is resized to
 * a's smart_resize size. */
enum eng_status qwen_preprocess_frame_pair(const struct eng_image *a, const struct eng_image *b,
                                           const struct qwen_preprocess_params *params,
                                           struct qwen_pixels **out, struct eng_err *err);

/* The tokens the merger makes: grid_t * grid_h * grid_w / merge_size^2. */
int64_t qwen_pixels_n_tokens(const struct qwen_pixels *pixels);

/* Free and set *pixels to NULL. Accepts NULL. */
void qwen_pixels_free(struct qwen_pixels **pixels);

/* ---- Idefics3 / SmolVLM ------------------------------------------------- */

struct idefics3_preprocess_params {
    int longest_edge;        /* size["longest_edge"]: 4 * 364 (Idefics3), 1536 (SmolVLM
                              * 2.2B), 2048 (SmolVLM 256M/500M) */
    int tile_size;           /* max_image_size["longest_edge"]: 364, 384 or 512 */
    int max_edge;            /* MAX_IMAGE_SIZE, the cap on the first resize: 4096 */
    int max_tiles;           /* cap on n_rows * n_cols, < 0 for none (HF has none):
                              * longest_edge is lowered in steps of tile_size
                              * until the grid fits */
    bool do_image_splitting; /* false: resize to longest_edge, then squash to one
                              * tile_size square (SmolVLM's path for video frames) */
    float image_mean[3];     /* IMAGENET_STANDARD_MEAN: 0.5 */
    float image_std[3];      /* IMAGENET_STANDARD_STD: 0.5 */
    enum resample_filter resample; /* RESAMPLE_LANCZOS */
};

/* SmolVLM's defaults for a 512-pixel tile: longest_edge 2048, tile 512,
 * max_edge 4096, no tile cap, splitting on, mean = std = 0.5, LANCZOS. */
struct idefics3_preprocess_params idefics3_preprocess_params_default(void);

/* The sizes the processor goes through for a height x width image. */
struct idefics3_layout {
    int longest_edge;           /* the one used (lowered when max_tiles demands) */
    int resized_h, resized_w;   /* after the longest-edge resize */
    int split_h, split_w;       /* after resize_for_vision_encoder: multiples of tile_size
                                 * (without splitting: tile_size, tile_size) */
    int n_rows, n_cols;         /* tile grid; 0, 0 when the image is not split */
    int n_images;               /* n_rows * n_cols tiles + 1 global image */
};

/* Compute the layout without touching pixels (for prompt sizes).
 * Errors: ENG_STATUS_ERR_ARG for a size <= 0, bad params (longest_edge >
 * max_edge, tile_size > longest_edge), or no longest_edge that meets
 * max_tiles. Thread-safety: safe. */
enum eng_status idefics3_layout(int height, int width, const struct idefics3_preprocess_params *params,
                                struct idefics3_layout *out, struct eng_err *err);

/* The 8-bit images before rescale and normalise: tiles row by row, then the
 * global image. *out_rgb is [layout->n_images][tile_size][tile_size][3].
 * Ownership: *out_rgb is malloc'd; the caller frees it.
 * Errors: as idefics3_layout, and ENG_STATUS_ERR_NOMEM. Thread-safety: safe. */
enum eng_status idefics3_preprocess_rgb8(const struct eng_image *image,
                                         const struct idefics3_preprocess_params *params,
                                         struct idefics3_layout *layout, uint8_t **out_rgb,
                                         struct eng_err *err);

struct idefics3_pixels {
    int n_rows, n_cols; /* tile grid; 0, 0 when not split */
    int n_images;       /* n_rows * n_cols + 1 */
    int size;           /* tile side S */
    float *values;      /* [n_images][3][S][S]: tiles row-major, then the global image */
};

/* Preprocess one image. Ownership: *out is the caller's; free it with
 * idefics3_pixels_free(). Errors: as idefics3_preprocess_rgb8.
 * Thread-safety: safe. */
enum eng_status idefics3_preprocess_image(const struct eng_image *image,
                                          const struct idefics3_preprocess_params *params,
                                          struct idefics3_pixels **out, struct eng_err *err);

/* Prompt tokens of the image: image_seq_len per tile and for the global
 * image, (n_rows * n_cols + 1) * image_seq_len. image_seq_len is the
 * connector's output per image: (S / patch)^2 / scale_factor^2. */
int64_t idefics3_pixels_n_tokens(const struct idefics3_pixels *pixels, int image_seq_len);

/* Free and set *pixels to NULL. Accepts NULL. */
void idefics3_pixels_free(struct idefics3_pixels **pixels);

#endif /* WENSHU_MEDIA_PREPROCESS_H */
