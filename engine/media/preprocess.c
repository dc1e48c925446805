/* preprocess.c: the Qwen2-VL and Idefics3/SmolVLM image processors (see
 * preprocess.h). The size rules follow transformers'
 * models/qwen2_vl/image_processing_qwen2_vl.py (smart_resize, _preprocess)
 * and models/smolvlm/image_processing_smolvlm.py (resize,
 * resize_for_vision_encoder, split_image), step for step, in doubles where
 * Python computes in floats. */
#include "media/preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"

/* Pixel budgets and sides beyond these are refused as nonsense params. */
#define PREPROCESS_MAX_SIDE (1 << 16)
#define PREPROCESS_MAX_PIXELS ((int64_t)1 << 28)

/* ---- shared steps ------------------------------------------------------- */

static enum eng_status check_image(const struct eng_image *image, const char *what,
                                   struct eng_err *err)
{
    if (!image || !image->rgb || image->width <= 0 || image->height <= 0)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "%s: an empty image (%dx%d)", what,
                           image ? image->width : 0, image ? image->height : 0);
    if (image->width > PREPROCESS_MAX_SIDE || image->height > PREPROCESS_MAX_SIDE)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "%s: image %dx%d is too large", what,
                           image->width, image->height);
    return ENG_STATUS_OK;
}

static enum eng_status check_mean_std(const float mean[3], const float std[3], const char *what,
                                      struct eng_err *err)
{
    for (int c = 0; c < 3; c++) {
        if (!isfinite(mean[c]) || !isfinite(std[c]) || std[c] == 0.0f)
            return eng_set_err(err, ENG_STATUS_ERR_ARG, "%s: bad mean %g / std %g for channel %d",
                               what, mean[c], std[c], c);
    }
    return ENG_STATUS_OK;
}

/* Resize into a new buffer [dst_h][dst_w][3]. */
static enum eng_status resize_new(const uint8_t *src, int src_w, int src_h, int dst_w, int dst_h,
                                  enum resample_filter filter, uint8_t **out, struct eng_err *err)
{
    *out = NULL;
    uint8_t *dst = malloc((size_t)dst_w * dst_h * 3);
    if (!dst)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "preprocess: out of memory for %dx%d",
                           dst_w, dst_h);
    enum eng_status st = resample_rgb8(src, src_w, src_h, dst, dst_w, dst_h, filter, err);
    if (st != ENG_STATUS_OK) {
        free(dst);
        return st;
    }
    *out = dst;
    return ENG_STATUS_OK;
}

/* HF's rescale then normalize of one 8-bit sample: numpy computes
 * u8 -> float64 * (1/255) -> float32, then (x - mean) / std in float32. */
static inline float rescale_normalize(uint8_t u, float mean, float std)
{
    float x = (float)((double)u * (1.0 / 255.0));
    return (x - mean) / std;
}

/* rgb [h][w][3] (row stride src_w pixels) -> planes [3][h][w]. */
static void normalize_to_planes(const uint8_t *rgb, int src_w, int h, int w, const float mean[3],
                                const float std[3], float *planes)
{
    for (int c = 0; c < 3; c++) {
        float *plane = planes + (size_t)c * h * w;
        for (int y = 0; y < h; y++) {
            const uint8_t *row = rgb + (size_t)y * src_w * 3;
            for (int x = 0; x < w; x++)
                plane[(size_t)y * w + x] = rescale_normalize(row[x * 3 + c], mean[c], std[c]);
        }
    }
}

/* ---- Qwen2-VL ----------------------------------------------------------- */

struct qwen_preprocess_params qwen_preprocess_params_default(void)
{
    /* OPENAI_CLIP_MEAN / STD as numpy makes them float32: decimal -> double
     * -> float, hence the casts rather than f-suffixed literals. */
    return (struct qwen_preprocess_params){
        .patch_size = 14,
        .merge_size = 2,
        .temporal_patch_size = 2,
        .min_pixels = 56 * 56,
        .max_pixels = 28 * 28 * 1280,
        .image_mean = {(float)0.48145466, (float)0.4578275, (float)0.40821073},
        .image_std = {(float)0.26862954, (float)0.26130258, (float)0.27577711},
        .resample = RESAMPLE_BICUBIC,
    };
}

static enum eng_status qwen_check_params(const struct qwen_preprocess_params *p,
                                         struct eng_err *err)
{
    if (p->patch_size <= 0 || p->patch_size > 1024 || p->merge_size <= 0 ||
        p->merge_size > 16 || p->temporal_patch_size <= 0 || p->temporal_patch_size > 16 ||
        p->min_pixels < 0 || p->max_pixels <= 0 || p->max_pixels > PREPROCESS_MAX_PIXELS ||
        p->min_pixels > p->max_pixels)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "qwen preprocess: bad params (patch %d, merge %d, temporal %d, "
                           "pixels %lld..%lld)",
                           p->patch_size, p->merge_size, p->temporal_patch_size,
                           (long long)p->min_pixels, (long long)p->max_pixels);
    return check_mean_std(p->image_mean, p->image_std, "qwen preprocess", err);
}

enum eng_status qwen_smart_resize(int height, int width, const struct qwen_preprocess_params *params,
                                  int *out_height, int *out_width, struct eng_err *err)
{
    enum eng_status st = qwen_check_params(params, err);
    if (st != ENG_STATUS_OK)
        return st;
    if (height <= 0 || width <= 0 || height > PREPROCESS_MAX_SIDE || width > PREPROCESS_MAX_SIDE)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "qwen preprocess: bad image size %dx%d",
                           width, height);
    const int factor = params->patch_size * params->merge_size;
    const int long_side = height > width ? height : width;
    const int short_side = height > width ? width : height;
    if ((double)long_side / short_side > 200)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "qwen preprocess: image %dx%d: aspect ratio %.1f is over 200", width,
                           height, (double)long_side / short_side);

    /* Python's round() on a float rounds half to even, as nearbyint does in
     * the default rounding mode. */
    int64_t h_bar = (int64_t)nearbyint((double)height / factor) * factor;
    int64_t w_bar = (int64_t)nearbyint((double)width / factor) * factor;
    const double area = (double)((int64_t)height * width);
    if (h_bar * w_bar > params->max_pixels) {
        double beta = sqrt(area / (double)params->max_pixels);
        h_bar = (int64_t)floor(height / beta / factor) * factor;
        w_bar = (int64_t)floor(width / beta / factor) * factor;
        if (h_bar < factor)
            h_bar = factor;
        if (w_bar < factor)
            w_bar = factor;
    } else if (h_bar * w_bar < params->min_pixels) {
        double beta = sqrt((double)params->min_pixels / area);
        h_bar = (int64_t)ceil(height * beta / factor) * factor;
        w_bar = (int64_t)ceil(width * beta / factor) * factor;
    }
    if (h_bar <= 0 || w_bar <= 0 || h_bar > PREPROCESS_MAX_SIDE || w_bar > PREPROCESS_MAX_SIDE)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "qwen preprocess: image %dx%d resizes to %lldx%lld with pixels "
                           "%lld..%lld",
                           width, height, (long long)w_bar, (long long)h_bar,
                           (long long)params->min_pixels, (long long)params->max_pixels);
    *out_height = (int)h_bar;
    *out_width = (int)w_bar;
    return ENG_STATUS_OK;
}

/* Scatter one normalised frame planes [3][h][w] into HF's flatten_patches
 * layout as frame f of the clip. */
static void qwen_scatter_frame(const float *planes, int h, int w, int f,
                               const struct qwen_preprocess_params *p, struct qwen_pixels *px)
{
    const int ps = p->patch_size, m = p->merge_size, tps = p->temporal_patch_size;
    const int t = f / tps, tf = f % tps;
    const int blocks_h = px->grid_h / m, blocks_w = px->grid_w / m;
    for (int c = 0; c < 3; c++) {
        for (int y = 0; y < h; y++) {
            const int gy = y / ps, py = y % ps;
            const int by = gy / m, my = gy % m;
            const float *src = planes + ((size_t)c * h + y) * w;
            for (int x = 0; x < w; x++) {
                const int gx = x / ps, px_in = x % ps;
                const int bx = gx / m, mx = gx % m;
                size_t row = (((size_t)t * blocks_h + by) * blocks_w + bx) * m * m +
                             (size_t)my * m + mx;
                size_t col = (((size_t)c * tps + tf) * ps + py) * ps + px_in;
                px->values[row * px->patch_dim + col] = src[x];
            }
        }
    }
}

enum eng_status qwen_preprocess_frames(const struct eng_image *const *frames, int n_frames,
                                       const struct qwen_preprocess_params *params,
                                       struct qwen_pixels **out, struct eng_err *err)
{
    *out = NULL;
    if (!frames || n_frames <= 0 || n_frames > 4096)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "qwen preprocess: %d frames", n_frames);
    for (int i = 0; i < n_frames; i++) {
        enum eng_status st = check_image(frames[i], "qwen preprocess", err);
        if (st != ENG_STATUS_OK)
            return st;
    }
    int rh, rw;
    enum eng_status st =
        qwen_smart_resize(frames[0]->height, frames[0]->width, params, &rh, &rw, err);
    if (st != ENG_STATUS_OK)
        return st;

    const int tps = params->temporal_patch_size, ps = params->patch_size;
    const int n_padded = (n_frames + tps - 1) / tps * tps;
    struct qwen_pixels *px = calloc(1, sizeof(*px));
    uint8_t *resized = malloc((size_t)rw * rh * 3);          /* [rh][rw][3] one frame */
    float *planes = malloc((size_t)rw * rh * 3 * sizeof(float)); /* [3][rh][rw] */
    if (!px || !resized || !planes)
        goto out_nomem;
    px->grid_t = n_padded / tps;
    px->grid_h = rh / ps;
    px->grid_w = rw / ps;
    px->merge_size = params->merge_size;
    px->patch_dim = 3 * tps * ps * ps;
    px->values = malloc((size_t)n_padded * rh * rw * 3 * sizeof(float));
    if (!px->values)
        goto out_nomem;

    for (int f = 0; f < n_padded; f++) {
        if (f < n_frames) {
            const struct eng_image *im = frames[f];
            st = resample_rgb8(im->rgb, im->width, im->height, resized, rw, rh, params->resample,
                               err);
            if (st != ENG_STATUS_OK)
                goto out_fail;
            normalize_to_planes(resized, rw, rh, rw, params->image_mean, params->image_std,
                                planes);
        }
        /* A padding frame repeats the last frame's planes. */
        qwen_scatter_frame(planes, rh, rw, f, params, px);
    }
    free(resized);
    free(planes);
    *out = px;
    return ENG_STATUS_OK;

out_nomem:
    st = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "qwen preprocess: out of memory for %dx%d x %d",
                     rw, rh, n_padded);
out_fail:
    free(resized);
    free(planes);
    qwen_pixels_free(&px);
    return st;
}

enum eng_status qwen_preprocess_image(const struct eng_image *image,
                                      const struct qwen_preprocess_params *params,
                                      struct qwen_pixels **out, struct eng_err *err)
{
    const struct eng_image *frames[1] = {image};
    return qwen_preprocess_frames(frames, 1, params, out, err);
}

enum eng_status qwen_preprocess_frame_pair(const struct eng_image *a, const struct eng_image *b,
                                           const struct qwen_preprocess_params *params,
                                           struct qwen_pixels **out, struct eng_err *err)
{
    const struct eng_image *frames[2] = {a, b};
    return qwen_preprocess_frames(frames, 2, params, out, err);
}

int64_t qwen_pixels_n_tokens(const struct qwen_pixels *pixels)
{
    const int64_t m2 = (int64_t)pixels->merge_size * pixels->merge_size;
    return (int64_t)pixels->grid_t * pixels->grid_h * pixels->grid_w / m2;
}

void qwen_pixels_free(struct qwen_pixels **pixels)
{
    if (!pixels || !*pixels)
        return;
    free((*pixels)->values);
    free(*pixels);
    *pixels = NULL;
}

/* ---- Idefics3 / SmolVLM ------------------------------------------------- */

struct idefics3_preprocess_params idefics3_preprocess_params_default(void)
{
    return (struct idefics3_preprocess_params){
        .longest_edge = 2048,
        .tile_size = 512,
        .max_edge = 4096,
        .max_tiles = -1,
        .do_image_splitting = true,
        .image_mean = {0.5f, 0.5f, 0.5f},
        .image_std = {0.5f, 0.5f, 0.5f},
        .resample = RESAMPLE_LANCZOS,
    };
}

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

/* _resize_output_size_rescale_to_max_len: the long side becomes max_len
 * (up or down), the short side follows the aspect ratio, rounded up to even. */
static void rescale_to_max_len(int *height, int *width, int max_len)
{
    int h = *height, w = *width;
    const double aspect_ratio = (double)w / h;
    if (w >= h) {
        w = max_len;
        h = (int)(w / aspect_ratio);
        if (h % 2 != 0)
            h += 1;
    } else {
        h = max_len;
        w = (int)(h * aspect_ratio);
        if (w % 2 != 0)
            w += 1;
    }
    *height = max_int(h, 1);
    *width = max_int(w, 1);
}

/* _resize_output_size_scale_below_upper_bound. */
static void scale_below_upper_bound(int *height, int *width, int max_len)
{
    int h = *height, w = *width;
    const double aspect_ratio = (double)w / h;
    if (w >= h && w > max_len) {
        w = max_len;
        h = (int)(w / aspect_ratio);
    } else if (h > w && h > max_len) {
        h = max_len;
        w = (int)(h * aspect_ratio);
    }
    *height = max_int(h, 1);
    *width = max_int(w, 1);
}

static int ceil_to_multiple(int v, int m)
{
    return (int)ceil((double)v / m) * m;
}

/* resize_for_vision_encoder's size: both sides up to multiples of tile. */
static void vision_encoder_size(int *height, int *width, int tile)
{
    int h = *height, w = *width;
    const double aspect_ratio = (double)w / h;
    if (w >= h) {
        w = ceil_to_multiple(w, tile);
        h = (int)(w / aspect_ratio);
        h = ceil_to_multiple(h, tile);
    } else {
        h = ceil_to_multiple(h, tile);
        w = (int)(h * aspect_ratio);
        w = ceil_to_multiple(w, tile);
    }
    *height = h;
    *width = w;
}

/* The layout for one longest_edge value. */
static void layout_for_edge(int height, int width, const struct idefics3_preprocess_params *p,
                            int longest_edge, struct idefics3_layout *l)
{
    const int tile = p->tile_size;
    memset(l, 0, sizeof(*l));
    l->longest_edge = longest_edge;
    l->resized_h = height;
    l->resized_w = width;
    rescale_to_max_len(&l->resized_h, &l->resized_w, longest_edge);
    scale_below_upper_bound(&l->resized_h, &l->resized_w, p->max_edge);
    if (!p->do_image_splitting) {
        l->split_h = l->split_w = tile;
        l->n_images = 1;
        return;
    }
    l->split_h = l->resized_h;
    l->split_w = l->resized_w;
    vision_encoder_size(&l->split_h, &l->split_w, tile);
    if (l->split_h > tile || l->split_w > tile) {
        l->n_rows = (int)ceil((double)l->split_h / tile);
        l->n_cols = (int)ceil((double)l->split_w / tile);
    }
    l->n_images = l->n_rows * l->n_cols + 1;
}

enum eng_status idefics3_layout(int height, int width, const struct idefics3_preprocess_params *params,
                                struct idefics3_layout *out, struct eng_err *err)
{
    const struct idefics3_preprocess_params *p = params;
    if (height <= 0 || width <= 0 || height > PREPROCESS_MAX_SIDE || width > PREPROCESS_MAX_SIDE)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "idefics3 preprocess: bad image size %dx%d",
                           width, height);
    if (p->tile_size <= 0 || p->longest_edge < p->tile_size || p->max_edge <= 0 ||
        p->max_edge > PREPROCESS_MAX_SIDE || p->longest_edge > p->max_edge)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "idefics3 preprocess: bad params (longest edge %d, tile %d, max edge %d)",
                           p->longest_edge, p->tile_size, p->max_edge);

    /* Lower the longest edge one tile at a time until the grid fits the cap. */
    int edge = p->longest_edge;
    for (;;) {
        layout_for_edge(height, width, p, edge, out);
        if (p->max_tiles < 0 || out->n_rows * out->n_cols <= p->max_tiles)
            break;
        edge = (edge - 1) / p->tile_size * p->tile_size;
        if (edge < p->tile_size)
            return eng_set_err(err, ENG_STATUS_ERR_ARG,
                               "idefics3 preprocess: image %dx%d cannot fit %d tiles of %d",
                               width, height, p->max_tiles, p->tile_size);
    }
    if (out->split_h <= 0 || out->split_w <= 0 || out->split_h > PREPROCESS_MAX_SIDE ||
        out->split_w > PREPROCESS_MAX_SIDE)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "idefics3 preprocess: image %dx%d resizes to %dx%d", width, height,
                           out->split_w, out->split_h);
    return ENG_STATUS_OK;
}

/* Copy the tile at (row, col) of img [h][w][3] into dst [S][S][3]. HF
 * crops ceil(h / rows) x ceil(w / cols) pieces, which are S x S here
 * because h and w are multiples of S. */
static void crop_tile(const uint8_t *img, int w, int row, int col, int tile, uint8_t *dst)
{
    for (int y = 0; y < tile; y++) {
        const uint8_t *src = img + ((size_t)(row * tile + y) * w + (size_t)col * tile) * 3;
        memcpy(dst + (size_t)y * tile * 3, src, (size_t)tile * 3);
    }
}

enum eng_status idefics3_preprocess_rgb8(const struct eng_image *image,
                                         const struct idefics3_preprocess_params *params,
                                         struct idefics3_layout *layout, uint8_t **out_rgb,
                                         struct eng_err *err)
{
    *out_rgb = NULL;
    enum eng_status st = check_image(image, "idefics3 preprocess", err);
    if (st != ENG_STATUS_OK)
        return st;
    struct idefics3_layout l;
    st = idefics3_layout(image->height, image->width, params, &l, err);
    if (st != ENG_STATUS_OK)
        return st;

    const int tile = params->tile_size;
    const size_t tile_bytes = (size_t)tile * tile * 3;
    const enum resample_filter filter = params->resample;
    uint8_t *resized = NULL; /* [resized_h][resized_w][3] after the longest-edge resize */
    uint8_t *split = NULL;   /* [split_h][split_w][3] after resize_for_vision_encoder */
    uint8_t *tiles = malloc((size_t)l.n_images * tile_bytes); /* [n_images][S][S][3] */
    if (!tiles)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "idefics3 preprocess: out of memory");
    uint8_t *global = tiles + (size_t)(l.n_images - 1) * tile_bytes;

    st = resize_new(image->rgb, image->width, image->height, l.resized_w, l.resized_h, filter,
                    &resized, err);
    if (st != ENG_STATUS_OK)
        goto out_free;
    if (!params->do_image_splitting) {
        /* SmolVLM squashes the image to one tile. */
        st = resample_rgb8(resized, l.resized_w, l.resized_h, global, tile, tile, filter, err);
        goto out_free;
    }
    st = resize_new(resized, l.resized_w, l.resized_h, l.split_w, l.split_h, filter, &split, err);
    if (st != ENG_STATUS_OK)
        goto out_free;
    if (l.n_rows == 0) {
        /* Not split: the image is one tile already and is the global image. */
        ENG_ASSERT(l.split_h == tile && l.split_w == tile);
        memcpy(global, split, tile_bytes);
        goto out_free;
    }
    ENG_ASSERT(l.split_h == l.n_rows * tile && l.split_w == l.n_cols * tile);
    for (int r = 0; r < l.n_rows; r++) {
        for (int c = 0; c < l.n_cols; c++)
            crop_tile(split, l.split_w, r, c, tile, tiles + (size_t)(r * l.n_cols + c) * tile_bytes);
    }
    st = resample_rgb8(split, l.split_w, l.split_h, global, tile, tile, filter, err);

out_free:
    free(resized);
    free(split);
    if (st != ENG_STATUS_OK) {
        free(tiles);
        return st;
    }
    *layout = l;
    *out_rgb = tiles;
    return ENG_STATUS_OK;
}

enum eng_status idefics3_preprocess_image(const struct eng_image *image,
                                          const struct idefics3_preprocess_params *params,
                                          struct idefics3_pixels **out, struct eng_err *err)
{
    *out = NULL;
    enum eng_status st = check_mean_std(params->image_mean, params->image_std,
                                        "idefics3 preprocess", err);
    if (st != ENG_STATUS_OK)
        return st;
    struct idefics3_layout l;
    uint8_t *rgb = NULL; /* [n_images][S][S][3] */
    st = idefics3_preprocess_rgb8(image, params, &l, &rgb, err);
    if (st != ENG_STATUS_OK)
        return st;

    const int tile = params->tile_size;
    const size_t plane = (size_t)tile * tile;
    struct idefics3_pixels *px = calloc(1, sizeof(*px));
    if (px)
        px->values = malloc((size_t)l.n_images * 3 * plane * sizeof(float));
    if (!px || !px->values) {
        free(rgb);
        idefics3_pixels_free(&px);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "idefics3 preprocess: out of memory");
    }
    px->n_rows = l.n_rows;
    px->n_cols = l.n_cols;
    px->n_images = l.n_images;
    px->size = tile;
    for (int i = 0; i < l.n_images; i++)
        normalize_to_planes(rgb + (size_t)i * plane * 3, tile, tile, tile, params->image_mean,
                            params->image_std, px->values + (size_t)i * 3 * plane);
    free(rgb);
    *out = px;
    return ENG_STATUS_OK;
}

int64_t idefics3_pixels_n_tokens(const struct idefics3_pixels *pixels, int image_seq_len)
{
    return (int64_t)pixels->n_images * image_seq_len;
}

void idefics3_pixels_free(struct idefics3_pixels **pixels)
{
    if (!pixels || !*pixels)
        return;
    free((*pixels)->values);
    free(*pixels);
    *pixels = NULL;
}
