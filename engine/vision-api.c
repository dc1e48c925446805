/* vision-api.c: the public vision API: projector files on a device, images
 * and clips encoded into struct eng_media, and media evaluated in a session
 * with each family's wrapper tokens and positions.
 *
 * The encoders themselves are vision.c (CPU) and vulkan/vk-vision.c; this
 * file picks one, runs the preprocessor of the projector's family and
 * assembles the prompt around the rows:
 *   Qwen2-VL / Qwen2.5-VL (HF processing_qwen2_vl.py, get_rope_index):
 *     <|vision_start|> rows <|vision_end|>, M-RoPE positions (t, h, w).
 *   SmolVLM (HF processing_smolvlm.py _prompt_split_image, video_processing):
 *     <fake_token_around_image><row_R_col_C> rows ... "\n" per tile row, then
 *     "\n<fake_token_around_image><global-img>" rows "<fake_token_around_image>";
 *     a clip gets the intro, "\nFrame from mm:ss:" per frame and "\n\n".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine-internal.h"
#include "media/preprocess.h"
#include "mmproj.h"
#include "model.h"
#include "vision.h"
#ifdef WENSHU_HAVE_VULKAN
#include "vulkan/vk-vision.h"
#endif

struct eng_mmproj {
    struct mmproj *p;            /* owned */
    struct threadpool *pool;     /* owned; the CPU encoder's */
    struct eng_mmproj_params params;
    struct vk_vision *gpu;       /* owned; the weights on a Vulkan device, or NULL */
    char device_name[256];
    char device_notice[512];
    uint64_t device_bytes;
};

/* Qwen's per-frame pixel budget for video (qwen-vl-utils VIDEO_MIN_PIXELS,
 * VIDEO_MAX_PIXELS) and its tokens per second of video time (Qwen2.5-VL
 * vision_config.tokens_per_second). */
#define QWEN_VIDEO_MIN_PIXELS (128 * 28 * 28)
#define QWEN_VIDEO_MAX_PIXELS (768 * 28 * 28)
#define QWEN25_TOKENS_PER_SECOND 2

struct eng_mmproj_params eng_mmproj_params_default(void)
{
    return (struct eng_mmproj_params){
        .path = NULL, .n_threads = 0, .device = eng_model_params_default().device,
        .min_pixels = 0, .max_pixels = 0, .video_min_pixels = 0, .video_max_pixels = 0,
        .longest_edge = 0, .max_tiles = -1};
}

static bool is_qwen(const struct mmproj *p)
{
    return p->type == MMPROJ_TYPE_QWEN2VL || p->type == MMPROJ_TYPE_QWEN25VL;
}

/* Put the projector on the chosen device, or note why it stays on the CPU. */
static enum eng_status place_projector(struct eng_mmproj *mp, struct eng_err *err)
{
    int index = -1;
    snprintf(mp->device_name, sizeof mp->device_name, "CPU");
    enum eng_status st = device_choose_index(mp->params.device, &index, mp->device_notice,
                                             sizeof mp->device_notice, err);
    if (st || index < 0)
        return st;
#ifdef WENSHU_HAVE_VULKAN
    struct eng_err e = {{0}};
    st = vk_vision_new(mp->p, index, &mp->gpu, &e);
    if (st == ENG_STATUS_OK) {
        snprintf(mp->device_name, sizeof mp->device_name, "%s", vk_vision_device_name(mp->gpu));
        mp->device_bytes = vk_vision_device_bytes(mp->gpu);
        return ENG_STATUS_OK;
    }
    if (mp->params.device != ENG_DEVICE_AUTO)
        return eng_set_err(err, st, "%s: Vulkan device %d: %s", mp->params.path, index, e.msg);
    snprintf(mp->device_notice, sizeof mp->device_notice,
             "%.200s: Vulkan device %d: %.200s; running on the CPU", mp->params.path, index,
             e.msg);
#endif
    return ENG_STATUS_OK;
}

enum eng_status eng_mmproj_load(const struct eng_mmproj_params *params, struct eng_mmproj **out,
                                struct eng_err *err)
{
    *out = NULL;
    if (!params || !params->path)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "no projector file given");
    struct eng_mmproj *mp = calloc(1, sizeof *mp);
    if (!mp)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    mp->params = *params;
    enum eng_status st = mmproj_load(params->path, &mp->p, err);
    if (st == ENG_STATUS_OK) {
        int n_threads = params->n_threads > 0 ? params->n_threads : threadpool_default_threads();
        mp->pool = threadpool_new(n_threads);
        st = mp->pool ? place_projector(mp, err)
                      : eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory for threads");
    }
    if (st) {
        eng_mmproj_free(&mp);
        return st;
    }
    *out = mp;
    return ENG_STATUS_OK;
}

void eng_mmproj_free(struct eng_mmproj **proj)
{
    struct eng_mmproj *mp = proj ? *proj : NULL;
    if (!mp)
        return;
#ifdef WENSHU_HAVE_VULKAN
    vk_vision_free(&mp->gpu);
#endif
    threadpool_free(&mp->pool);
    mmproj_free(&mp->p);
    free(mp);
    *proj = NULL;
}

void eng_mmproj_get_info(const struct eng_mmproj *mp, struct eng_mmproj_info *info)
{
    const struct mmproj *p = mp->p;
    *info = (struct eng_mmproj_info){
        .projector = mmproj_type_name(p->type), .name = p->name, .n_embd = p->n_embd,
        .n_layer = p->n_layer, .n_head = p->n_head, .n_ff = p->n_ff,
        .patch_size = p->patch_size, .projection_dim = p->projection_dim,
        .device = mp->device_name, .device_notice = mp->device_notice,
        .device_bytes = mp->device_bytes};
}

enum eng_status eng_mmproj_check_pair(const struct eng_mmproj *mp, const struct eng_model *model,
                                      struct eng_err *err)
{
    enum eng_status st = mmproj_check_pair(mp->p, model, err);
    if (st)
        return st;
    bool qwen_text = model->arch == MODEL_ARCH_QWEN2VL;
    if (is_qwen(mp->p) != qwen_text)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s and %s do not belong together: the %s projector needs %s "
                           "text model, and this one is %s",
                           mp->params.path, model->gguf ? model->gguf->path : "the text model",
                           mmproj_type_name(mp->p->type),
                           is_qwen(mp->p) ? "a qwen2vl (M-RoPE)" : "a llama (SmolVLM)",
                           model->arch_name);
    return ENG_STATUS_OK;
}

/* ---- encoding ---------------------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A media record with room for n_tokens rows. */
static enum eng_status media_new(const struct eng_mmproj *mp, int64_t n_tokens,
                                 struct eng_media **out, struct eng_err *err)
{
    int width = mp->p->projection_dim;
    if (n_tokens <= 0 || n_tokens > INT32_MAX / width)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "%s: %lld image tokens is too many",
                           mp->params.path, (long long)n_tokens);
    struct eng_media *m = calloc(1, sizeof *m);
    float *embd = malloc(sizeof(float) * (size_t)n_tokens * (size_t)width);
    if (!m || !embd) {
        free(m);
        free(embd);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM,
                           "out of memory for %lld image tokens", (long long)n_tokens);
    }
    m->projector = mmproj_type_name(mp->p->type);
    m->n_tokens = (int)n_tokens;
    m->n_embd = width;
    m->embd = embd;
    *out = m;
    return ENG_STATUS_OK;
}

void eng_media_free(struct eng_media **media)
{
    struct eng_media *m = media ? *media : NULL;
    if (!m)
        return;
    free(m->embd);
    free(m->frame_times);
    free(m);
    *media = NULL;
}

static struct qwen_preprocess_params qwen_params(const struct eng_mmproj *mp, bool video)
{
    const struct mmproj *p = mp->p;
    struct qwen_preprocess_params q = qwen_preprocess_params_default();
    q.patch_size = p->patch_size;
    q.merge_size = p->merge_size;
    memcpy(q.image_mean, p->image_mean, sizeof q.image_mean);
    memcpy(q.image_std, p->image_std, sizeof q.image_std);
    int64_t lo = video ? mp->params.video_min_pixels : mp->params.min_pixels;
    int64_t hi = video ? mp->params.video_max_pixels : mp->params.max_pixels;
    if (lo > 0)
        q.min_pixels = lo;
    else if (video)
        q.min_pixels = QWEN_VIDEO_MIN_PIXELS;
    if (hi > 0)
        q.max_pixels = hi;
    else if (video)
        q.max_pixels = QWEN_VIDEO_MAX_PIXELS;
    return q;
}

static struct idefics3_preprocess_params idefics3_params(const struct eng_mmproj *mp, bool video)
{
    const struct mmproj *p = mp->p;
    struct idefics3_preprocess_params q = idefics3_preprocess_params_default();
    q.tile_size = p->image_size;
    if (mp->params.longest_edge > 0)
        q.longest_edge = mp->params.longest_edge;
    else if (p->preproc_image_size > 0)
        q.longest_edge = p->preproc_image_size;
    if (q.longest_edge < q.tile_size)
        q.longest_edge = q.tile_size;
    q.max_tiles = mp->params.max_tiles;
    memcpy(q.image_mean, p->image_mean, sizeof q.image_mean);
    memcpy(q.image_std, p->image_std, sizeof q.image_std);
    if (video) {
        /* SmolVLM2 video frames: the long edge to one tile, no splitting. */
        q.longest_edge = q.tile_size;
        q.do_image_splitting = false;
    }
    return q;
}

/* The progress of one encode call of n_images encoder images (groups,
 * tiles or frames) through every layer; the first report, 0 of the total,
 * goes out now. */
static struct vision_progress progress_start(const struct eng_mmproj *mp, int64_t n_images)
{
    struct vision_progress vp = {.fn = mp->params.progress,
                                 .user_data = mp->params.progress_user_data,
                                 .total = (uint64_t)mp->p->n_layer * (uint64_t)n_images};
    if (vp.fn)
        vp.fn(0, vp.total, vp.user_data);
    return vp;
}

/* Run the Qwen encoder on the projector's device; rows go to out. */
static enum eng_status encode_qwen(struct eng_mmproj *mp, const struct qwen_pixels *px,
                                   struct vision_progress *vp, float *out, struct eng_err *err)
{
#ifdef WENSHU_HAVE_VULKAN
    if (mp->gpu)
        return vk_vision_encode_qwen(mp->gpu, px, vp, out, err);
#endif
    return vision_encode_qwen_cpu(mp->p, mp->pool, px, vp, out, err);
}

static enum eng_status encode_idefics3(struct eng_mmproj *mp, const struct idefics3_pixels *px,
                                       struct vision_progress *vp, float *out,
                                       struct eng_err *err)
{
#ifdef WENSHU_HAVE_VULKAN
    if (mp->gpu)
        return vk_vision_encode_idefics3(mp->gpu, px, vp, out, err);
#endif
    return vision_encode_idefics3_cpu(mp->p, mp->pool, px, vp, out, err);
}

static enum eng_status encode_image_qwen(struct eng_mmproj *mp, const struct eng_image *image,
                                         struct eng_media **out, struct eng_err *err)
{
    struct qwen_preprocess_params qp = qwen_params(mp, false);
    struct qwen_pixels *px = NULL;
    enum eng_status st = qwen_preprocess_image(image, &qp, &px, err);
    if (st == ENG_STATUS_OK)
        st = media_new(mp, qwen_pixels_n_tokens(px), out, err);
    if (st == ENG_STATUS_OK) {
        struct eng_media *m = *out;
        m->grid_t = px->grid_t;
        m->grid_h = px->grid_h / px->merge_size;
        m->grid_w = px->grid_w / px->merge_size;
        m->n_images = 1;
        struct vision_progress vp = progress_start(mp, px->grid_t);
        st = encode_qwen(mp, px, &vp, m->embd, err);
    }
    qwen_pixels_free(&px);
    return st;
}

static enum eng_status encode_image_idefics3(struct eng_mmproj *mp, const struct eng_image *image,
                                             struct eng_media **out, struct eng_err *err)
{
    struct idefics3_preprocess_params ip = idefics3_params(mp, false);
    struct idefics3_pixels *px = NULL;
    enum eng_status st = idefics3_preprocess_image(image, &ip, &px, err);
    int per_image = st ? 0 : vision_idefics3_tokens_per_image(mp->p, px->size);
    if (st == ENG_STATUS_OK)
        st = media_new(mp, (int64_t)px->n_images * per_image, out, err);
    if (st == ENG_STATUS_OK) {
        struct eng_media *m = *out;
        m->n_rows = px->n_rows;
        m->n_cols = px->n_cols;
        m->n_images = px->n_images;
        m->tokens_per_image = per_image;
        struct vision_progress vp = progress_start(mp, px->n_images);
        st = encode_idefics3(mp, px, &vp, m->embd, err);
    }
    idefics3_pixels_free(&px);
    return st;
}

enum eng_status eng_mmproj_encode_image(struct eng_mmproj *mp, const struct eng_image *image,
                                        struct eng_media **out, struct eng_err *err)
{
    *out = NULL;
    double t0 = now_seconds();
    enum eng_status st = is_qwen(mp->p) ? encode_image_qwen(mp, image, out, err)
                                        : encode_image_idefics3(mp, image, out, err);
    if (st) {
        eng_media_free(out);
        return st;
    }
    (*out)->encode_seconds = now_seconds() - t0;
    return ENG_STATUS_OK;
}

/* Qwen: frames in temporal pairs (an odd last frame repeated), one encoder
 * pass per pair; the rows of group g follow those of group g - 1. */
static enum eng_status encode_video_qwen(struct eng_mmproj *mp, const struct eng_video *v,
                                         const volatile int *cancel, struct eng_media **out,
                                         struct eng_err *err)
{
    struct qwen_preprocess_params qp = qwen_params(mp, true);
    int n_groups = (v->n_frames + 1) / 2;
    const struct eng_image *first = &v->frames[0].image;
    int rh = 0, rw = 0;
    enum eng_status st = qwen_smart_resize(first->height, first->width, &qp, &rh, &rw, err);
    if (st)
        return st;
    int factor = qp.patch_size * qp.merge_size;
    int gh = rh / factor, gw = rw / factor;
    if ((st = media_new(mp, (int64_t)n_groups * gh * gw, out, err)))
        return st;
    struct eng_media *m = *out;
    m->is_video = true;
    m->grid_t = n_groups;
    m->grid_h = gh;
    m->grid_w = gw;
    m->seconds_per_group = v->sample_fps > 0 ? 2.0 / v->sample_fps : 0.0;
    struct vision_progress vp = progress_start(mp, n_groups);
    for (int g = 0; g < n_groups && st == ENG_STATUS_OK; g++) {
        if (cancel && *cancel)
            return eng_set_err(err, ENG_STATUS_CANCELLED, "cancelled after %d of %d frame pairs",
                               g, n_groups);
        const struct eng_image *a = &v->frames[2 * g].image;
        const struct eng_image *b = 2 * g + 1 < v->n_frames ? &v->frames[2 * g + 1].image : a;
        struct qwen_pixels *px = NULL;
        st = qwen_preprocess_frame_pair(a, b, &qp, &px, err);
        if (st == ENG_STATUS_OK && (px->grid_h / px->merge_size != gh ||
                                    px->grid_w / px->merge_size != gw))
            st = eng_set_err(err, ENG_STATUS_ERR_ARG, "frame %d of the clip has another size "
                             "than the first", 2 * g);
        if (st == ENG_STATUS_OK)
            st = encode_qwen(mp, px, &vp, m->embd + (size_t)g * gh * gw * m->n_embd, err);
        qwen_pixels_free(&px);
    }
    return st;
}

/* SmolVLM2: one square encoder image per frame. */
static enum eng_status encode_video_idefics3(struct eng_mmproj *mp, const struct eng_video *v,
                                             const volatile int *cancel, struct eng_media **out,
                                             struct eng_err *err)
{
    struct idefics3_preprocess_params ip = idefics3_params(mp, true);
    int per_image = vision_idefics3_tokens_per_image(mp->p, ip.tile_size);
    enum eng_status st = media_new(mp, (int64_t)v->n_frames * per_image, out, err);
    if (st)
        return st;
    struct eng_media *m = *out;
    m->is_video = true;
    m->n_images = v->n_frames;
    m->tokens_per_image = per_image;
    struct vision_progress vp = progress_start(mp, v->n_frames);
    for (int f = 0; f < v->n_frames && st == ENG_STATUS_OK; f++) {
        if (cancel && *cancel)
            return eng_set_err(err, ENG_STATUS_CANCELLED, "cancelled after %d of %d frames", f,
                               v->n_frames);
        struct idefics3_pixels *px = NULL;
        st = idefics3_preprocess_image(&v->frames[f].image, &ip, &px, err);
        if (st == ENG_STATUS_OK)
            st = encode_idefics3(mp, px, &vp, m->embd + (size_t)f * per_image * m->n_embd, err);
        idefics3_pixels_free(&px);
    }
    return st;
}

enum eng_status eng_mmproj_encode_video(struct eng_mmproj *mp, const struct eng_video *video,
                                        const volatile int *cancel, struct eng_media **out,
                                        struct eng_err *err)
{
    *out = NULL;
    if (!video || video->n_frames <= 0)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "the clip has no frames to encode");
    double t0 = now_seconds();
    enum eng_status st = is_qwen(mp->p) ? encode_video_qwen(mp, video, cancel, out, err)
                                        : encode_video_idefics3(mp, video, cancel, out, err);
    if (st == ENG_STATUS_OK) {
        struct eng_media *m = *out;
        m->frame_times = malloc(sizeof(double) * (size_t)video->n_frames);
        if (!m->frame_times)
            st = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
        for (int f = 0; st == ENG_STATUS_OK && f < video->n_frames; f++)
            m->frame_times[f] = video->frames[f].time;
        m->n_frames = video->n_frames;
        m->duration = video->duration;
        m->encode_seconds = now_seconds() - t0;
    }
    if (st)
        eng_media_free(out);
    return st;
}
