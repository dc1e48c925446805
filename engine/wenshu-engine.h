/* wenshu-engine.h: the one public header of libwenshu-engine.
 *
 * The engine loads GGUF text models, tokenizes, renders chat prompts and
 * generates text on a Vulkan device or the CPU. Front ends (wenshu-cli, the GTK app, the server)
 * use only this header. Objects are opaque; parameters come from
 * eng_*_params_default(). Errors are returned as an enum eng_status, with a
 * one-line reason in struct eng_err that names the file and the problem.
 *
 * Thread-safety: a loaded eng_model is immutable and may be shared by any
 * number of threads. An eng_session is used by one thread at a time.
 */
#ifndef WENSHU_ENGINE_H
#define WENSHU_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

enum eng_status {
    ENG_STATUS_OK = 0,
    ENG_STATUS_ERR_IO,          /* cannot open, read, map or write a file */
    ENG_STATUS_ERR_FORMAT,      /* a malformed or unsupported file */
    ENG_STATUS_ERR_NOMEM,       /* out of memory */
    ENG_STATUS_ERR_ARG,         /* a bad argument from the caller */
    ENG_STATUS_ERR_CONTEXT,     /* the input does not fit the context */
    ENG_STATUS_ERR_UNSUPPORTED, /* a valid file the engine cannot run */
    ENG_STATUS_CANCELLED,       /* the caller's cancel flag was set */
};

/* A one-line, human-readable reason. */
struct eng_err {
    char msg[512];
};

/* The name of a status, e.g. "format error". Never NULL. */
const char *eng_status_name(enum eng_status status);

/* ---- devices ------------------------------------------------------------ */

/* Device choices for eng_model_params.device (zero is AUTO). */
#define ENG_DEVICE_AUTO 0      /* a Vulkan GPU (discrete, then integrated, then virtual);
                                * the CPU when there is none, with a notice */
#define ENG_DEVICE_CPU (-1)    /* the CPU backend */
#define ENG_DEVICE_VULKAN (-2) /* the best Vulkan device, software rasterizers included */
#define ENG_DEVICE_INDEX(i) ((i) + 1) /* Vulkan device i of eng_devices_list() */

struct eng_device_info {
    char name[256];
    char type[16];               /* "discrete", "integrated", "virtual", "cpu", "other" */
    char driver[64];
    uint32_t vendor_id, device_id;
    uint64_t memory_bytes;       /* device-local heaps */
    uint64_t max_alloc_bytes;    /* maxMemoryAllocationSize */
    uint64_t max_binding_bytes;  /* maxStorageBufferRange */
    uint32_t max_workgroup_invocations, max_shared_bytes, subgroup_size;
    bool usable;                 /* has what the engine's shaders need */
    bool auto_choice;            /* the device ENG_DEVICE_AUTO takes */
    char why_unusable[128];
};

/* Parse a device choice: "auto", "cpu", "vulkan" (or "gpu") or a Vulkan
 * device index; false when text is none of these. Thread-safety: safe. */
bool eng_device_parse(const char *text, int *device);

/* List the Vulkan devices into out[max] (out may be NULL to count).
 * Returns the number of devices (0 when there are none), or -1 when Vulkan
 * is unavailable (no loader, or a build without Vulkan; err says which).
 * Thread-safety: safe. */
int eng_devices_list(struct eng_device_info *out, int max, struct eng_err *err);

/* ---- models ------------------------------------------------------------- */

struct eng_model;

/* Progress of a long step, called on the thread doing it: done of total
 * units (bytes while a model loads, encoder layers while media encode),
 * non-decreasing, the same total in every call of a step, the first call
 * before the work starts and the last, when the step succeeds, with
 * done == total. Keep it quick: it runs between pieces of the work. */
typedef void (*eng_progress_fn)(uint64_t done, uint64_t total, void *user_data);

struct eng_model_params {
    const char *path; /* the GGUF file */
    int n_threads;    /* CPU threads for compute; 0 = all cores */
    bool vocab_only;  /* load only the tokenizer and chat template (no weights, any arch) */
    bool use_mmap;    /* map the file instead of reading it into huge pages (less
                       * resident memory when several processes share a model,
                       * slower decode) */
    int device;       /* ENG_DEVICE_AUTO, _CPU, _VULKAN or ENG_DEVICE_INDEX(i); the
                       * default is AUTO, or what WENSHU_DEVICE says (see
                       * eng_device_parse) */
    eng_progress_fn progress; /* may be NULL; bytes of weights read (and, on a
                               * GPU, uploaded) of the total to read and upload.
                               * total = eng_model_info.weight_bytes (the sum of
                               * the file's tensor sizes). Read into memory: after
                               * every 32 MiB. Mapped on the CPU: nothing to read,
                               * 0 then total. On a GPU: after each weight, the
                               * uploaded share of total (the upload reads the
                               * mapped file) */
    void *progress_user_data;
};

struct eng_model_params eng_model_params_default(void);

/* Load a GGUF text model (qwen2, qwen3 or llama) and, on a Vulkan device,
 * upload its weights. With ENG_DEVICE_AUTO a missing GPU, or one without
 * room for the weights, falls back to the CPU and info.device_notice says
 * so; a device asked for by index or ENG_DEVICE_VULKAN fails instead.
 * Ownership: on success *out owns the model; free it with eng_model_free().
 * Errors: returns a status; err (may be NULL) receives a reason that names
 * the file and the problem.
 * Thread-safety: safe; a loaded model is immutable. */
enum eng_status eng_model_load(const struct eng_model_params *params, struct eng_model **out,
                               struct eng_err *err);

/* Free a model and set *model to NULL. Accepts NULL. No session may still use it. */
void eng_model_free(struct eng_model **model);

/* Plain facts about a loaded model. Thread-safety: safe. */
struct eng_model_info {
    const char *arch;       /* "qwen2", "qwen3", "llama" */
    const char *name;       /* general.name, or "" */
    int n_vocab;
    int n_ctx_train;
    int n_embd;
    int n_layer;
    int n_head;
    int n_head_kv;
    int head_dim;
    int n_ff;
    uint64_t n_params;      /* weights counted over all tensors */
    uint64_t weight_bytes;  /* bytes of tensor data in the file */
    const char *device;     /* what runs it: "CPU" or the Vulkan device's name */
    const char *device_notice; /* why it is not on a GPU, or "" */
    uint64_t device_bytes;  /* device memory held by the weights (0 on the CPU) */
};
void eng_model_get_info(const struct eng_model *model, struct eng_model_info *info);

/* ---- tokens ------------------------------------------------------------- */

/* Tokenize UTF-8 text. With parse_special, control and user-defined token
 * strings in the text become their ids; otherwise they are plain text. No
 * BOS/EOS is added. Invalid UTF-8 bytes are read as U+FFFD each (the WHATWG
 * decoder's rule), so the output never depends on undefined behaviour.
 * Ownership: *out_tokens is malloc'd and owned by the caller (free()).
 * Thread-safety: safe. */
enum eng_status eng_tokenize(const struct eng_model *model, const char *text, size_t len,
                             bool parse_special, int32_t **out_tokens, size_t *out_n,
                             struct eng_err *err);

/* The raw bytes of one token (after the byte-level map is undone), or NULL
 * for an id out of range. *len receives the byte count. The pointer is owned
 * by the model. Thread-safety: safe. */
const char *eng_token_bytes(const struct eng_model *model, int32_t token, size_t *len);

/* Whether the token ends a turn for this model's family (EOS, <|im_end|>, ...). */
bool eng_token_is_end(const struct eng_model *model, int32_t token);

/* ---- chat --------------------------------------------------------------- */

struct eng_chat_message {
    const char *role;    /* "system", "user" or "assistant" */
    const char *content; /* UTF-8 */
};

struct eng_chat_params {
    bool add_generation_prompt; /* end with the assistant header */
    bool enable_thinking;       /* Qwen3: false adds the empty <think></think> */
    const char *default_system; /* NULL: the family's default, if any */
};
struct eng_chat_params eng_chat_params_default(void);

/* Render messages into a prompt string with the model's chat template,
 * recognised from tokenizer.chat_template (never executed).
 * Ownership: *out is malloc'd, owned by the caller. Thread-safety: safe. */
enum eng_status eng_chat_render(const struct eng_model *model, const struct eng_chat_message *msgs,
                                size_t n_msgs, const struct eng_chat_params *params, char **out,
                                struct eng_err *err);

/* The name of the template family the model uses: "chatml", "qwen3", "llama3",
 * "deepseek-r1", "smolvlm". Thread-safety: safe. */
const char *eng_chat_family(const struct eng_model *model);

/* ---- sampling ----------------------------------------------------------- */

struct eng_sampler_params {
    float temperature;        /* <= 0: greedy */
    int top_k;                /* <= 0: off */
    float top_p;              /* >= 1: off */
    float min_p;              /* <= 0: off */
    float repeat_penalty;     /* 1: off; divides positive logits of seen tokens */
    float frequency_penalty;  /* 0: off; subtracts count * value */
    float presence_penalty;   /* 0: off; subtracts value once per seen token */
    int penalty_last_n;       /* window of recent tokens for the penalties */
    uint64_t seed;            /* same seed, same model, same input: same output */
};
struct eng_sampler_params eng_sampler_params_default(void);

/* ---- sessions ----------------------------------------------------------- */

struct eng_session;

struct eng_session_params {
    int n_ctx;     /* context length in tokens; 0 = min(model's, 4096) */
    int n_batch;   /* prompt tokens per forward pass */
    int n_threads; /* 0 = the model's */
};
struct eng_session_params eng_session_params_default(void);

/* Ownership: *out owns the session (and its KV cache); the model must outlive
 * it. Thread-safety: the session is used by one thread at a time. */
enum eng_status eng_session_new(struct eng_model *model, const struct eng_session_params *params,
                                struct eng_session **out, struct eng_err *err);
void eng_session_free(struct eng_session **session);

/* Tokens held in the KV cache, and the context size. */
int eng_session_n_past(const struct eng_session *session);
int eng_session_n_ctx(const struct eng_session *session);

/* Forget all tokens. */
void eng_session_reset(struct eng_session *session);

/* Keep only the first n_keep tokens of the cache (e.g. the part of a chat
 * that is unchanged); later evals continue from there. */
void eng_session_truncate(struct eng_session *session, int n_keep);

/* Run the model over tokens, appending them to the KV cache, and keep the
 * logits of the last one. Refuses (ENG_STATUS_ERR_CONTEXT) tokens that do not
 * fit the context; nothing is evaluated then.
 * cancel (may be NULL) is polled between batches. */
enum eng_status eng_session_eval(struct eng_session *session, const int32_t *tokens, size_t n,
                                 const volatile int *cancel, struct eng_err *err);

/* Counters of a session's work, for benchmarks. */
struct eng_session_stats {
    uint64_t n_forwards;     /* forward passes (one per eval batch) */
    uint64_t n_dispatches;   /* Vulkan compute dispatches recorded (0 on the CPU) */
    uint64_t n_barriers;     /* Vulkan pipeline barriers between them */
    uint64_t n_graph_ops;    /* ops of the same passes counted unfused, as a ggml graph */
    uint64_t device_bytes;   /* device memory of the KV cache and scratch (0 on the CPU) */
};
void eng_session_get_stats(const struct eng_session *session, struct eng_session_stats *stats);

/* The logits after the last eval: n_vocab floats, owned by the session,
 * valid until the next eval. */
const float *eng_session_logits(const struct eng_session *session);

/* Called once per generated token with its text. The text holds only whole
 * UTF-8 characters; a partial character is held back until it completes.
 * Return false to stop. */
typedef bool (*eng_token_callback)(int32_t token, const char *text, size_t len, void *user_data);

/* ---- constrained output: JSON that follows a schema -------------------- */

/* What a schema node accepts. Output is compact JSON: no whitespace, object
 * properties all present and in the schema's order, strings without
 * escapes ('"', '\\' and control characters cannot occur; valid UTF-8 only). */
enum eng_schema_type {
    ENG_SCHEMA_STRING,  /* "..." */
    ENG_SCHEMA_INTEGER, /* minimum..maximum, no sign, no leading zeros */
    ENG_SCHEMA_NUMBER,  /* minimum..maximum, up to max_decimals digits after the '.' */
    ENG_SCHEMA_BOOLEAN, /* true or false */
    ENG_SCHEMA_ARRAY,   /* [item,...] */
    ENG_SCHEMA_OBJECT,  /* {"name":value,...} */
};

struct eng_schema;

struct eng_schema_property {
    const char *name;                /* the key (no '"', '\\' or control characters) */
    const struct eng_schema *schema; /* its value */
};

/* One node of a schema; unused fields stay zero. At most 8 containers deep;
 * the root is an object or an array. */
struct eng_schema {
    enum eng_schema_type type;
    /* STRING */
    const char *const *choices;  /* NULL: free text; else [n_choices] (at most 32) the only
                                  * values allowed (an enum; "" may be one) */
    int n_choices;
    const char *prefix;          /* free text: every value starts with this, written by the
                                  * sampler, not the model; NULL: none */
    int min_chars, max_chars;    /* code points of a free-text value, the prefix included;
                                  * max_chars 0: 64 */
    /* INTEGER, NUMBER: 0 <= minimum <= maximum <= 1e15 */
    double minimum, maximum;
    int max_decimals;            /* NUMBER: 0: 2 */
    /* ARRAY */
    const struct eng_schema *items;
    int min_items, max_items;    /* max_items 0: 8 */
    /* OBJECT */
    const struct eng_schema_property *properties; /* [n_properties], all required */
    int n_properties;
};

struct eng_generate_params {
    int n_predict;                   /* max new tokens; < 0: until the context is full */
    struct eng_sampler_params sampler;
    eng_token_callback on_token;     /* may be NULL */
    void *user_data;                 /* passed to on_token */
    const volatile int *cancel;      /* may be NULL; non-zero stops between tokens */
    bool stop_at_end;                /* stop on the family's end tokens */
    const struct eng_schema *schema; /* NULL: free text. Else the output is exactly one JSON
                                      * value of this schema: each step samples only among
                                      * tokens that keep it valid, generation stops after
                                      * the closing bracket, and when n_predict or the
                                      * context would run out first, the shortest valid
                                      * ending is written instead (values cut short).
                                      * Errors: ENG_STATUS_ERR_ARG for a malformed schema. */
};
struct eng_generate_params eng_generate_params_default(void);

/* Evaluate prompt tokens, then sample and evaluate up to n_predict new tokens.
 * Ownership: when out_tokens is not NULL, *out_tokens is malloc'd with the
 * generated ids (caller frees). Returns ENG_STATUS_CANCELLED when cancelled;
 * the tokens so far were streamed and stay in the cache. */
enum eng_status eng_session_generate(struct eng_session *session, const int32_t *prompt,
                                     size_t n_prompt, const struct eng_generate_params *params,
                                     int32_t **out_tokens, size_t *out_n, struct eng_err *err);

/* ---- images ------------------------------------------------------------- */

/* A decoded image: 8-bit RGB, top row first, with any EXIF orientation
 * already applied (what the user sees). */
struct eng_image {
    int width, height;
    uint8_t *rgb;        /* [height][width][3], owned by the image */
};

struct eng_image_params {
    uint64_t max_pixels; /* refuse an image with more pixels, before decoding it;
                          * 0 = the default, 50 megapixels */
};
struct eng_image_params eng_image_params_default(void);

/* Decode PNG (libpng), or JPEG, WebP, BMP, GIF (first frame) or TIFF (FFmpeg),
 * chosen by content. Alpha is dropped and grey and palette images become RGB
 * (as PIL's convert("RGB") does); 16-bit samples keep their high byte.
 * Ownership: *out is freed with eng_image_free().
 * Errors: ENG_STATUS_ERR_IO (cannot read), ENG_STATUS_ERR_FORMAT (corrupt,
 * truncated, not an image, zero-sized) or ENG_STATUS_ERR_UNSUPPORTED (too
 * many pixels), with a reason that names the file and the problem.
 * Thread-safety: safe. */
enum eng_status eng_image_load(const char *path, const struct eng_image_params *params,
                               struct eng_image **out, struct eng_err *err);
/* Free an image and set *image to NULL. Accepts NULL. */
void eng_image_free(struct eng_image **image);

/* ---- video -------------------------------------------------------------- */

/* Progress of a video call: n_done of n_total steps (sampled frames, or
 * analysed frames for scene cuts, where n_total is an estimate), the last
 * one at time seconds. Called on the calling thread. */
typedef void (*eng_video_progress_fn)(int n_done, int n_total, double time, void *user_data);

struct eng_video_params {
    double fps;        /* target sampling rate; default 2.0 */
    int min_frames;    /* at least this many frames, spread evenly over a short clip; default 4 */
    int max_frames;    /* at most this many; a long clip gets a lower rate; default 768 */
    int max_edge;      /* downscale so the longest edge is <= this (aspect kept); 0 = keep */
    int frame_multiple; /* round the count down to a multiple of this (never below it):
                         * 2 for Qwen2-VL, which takes frames in temporal pairs; 0 or 1 = any */
    eng_video_progress_fn progress; /* may be NULL; called once per sampled frame */
    void *progress_user_data;
    const volatile int *cancel;     /* may be NULL; polled between frames, nonzero cancels */
};
struct eng_video_params eng_video_params_default(void);

/* One sampled frame. */
struct eng_video_frame {
    struct eng_image image; /* 8-bit RGB as a player shows it (the file's display
                             * rotation applied); image.rgb owned by the video */
    double time;            /* presentation time, seconds from the stream's start */
    double target_time;     /* the time that was asked for */
};

/* Frames sampled from a clip, in time order. */
struct eng_video {
    double duration;      /* seconds */
    double fps;           /* the stream's average frame rate; 0 when unknown */
    int width, height;    /* the frame size as displayed (a rotation in the file
                           * applied), before any downscale */
    double sample_fps;    /* the rate used: frames wanted / duration */
    struct eng_video_frame *frames; /* [n_frames] */
    int n_frames;
    bool truncated;       /* the file ended or broke before the last wanted time; the
                           * frames up to there are kept */
};

/* Sample frames from a video file at params->fps, clamped to
 * [min_frames, max_frames] frames: wanted time k is k / rate for
 * k = 0..n-1, with rate = n / duration, and each gets the decoded frame
 * whose timestamp is nearest (within one frame period). Seeks to the
 * keyframe before a wanted time when that skips decoding; otherwise
 * decodes straight through. Long clips at full size take much memory
 * (width * height * 3 bytes a frame): set max_edge.
 * Run it on a worker thread of your own: it blocks, reports progress
 * through params->progress and stops at params->cancel.
 * Ownership: on success *out owns the frames; free with eng_video_free().
 * Errors: ENG_STATUS_ERR_IO (missing or unreadable file),
 * ENG_STATUS_ERR_FORMAT (not a media file, a still image, no video stream,
 * zero duration, truncated or corrupt with no decodable frame),
 * ENG_STATUS_ERR_UNSUPPORTED (no decoder), ENG_STATUS_ERR_NOMEM,
 * ENG_STATUS_ERR_ARG, ENG_STATUS_CANCELLED; err names the file.
 * Thread-safety: safe; calls on different files or threads are independent. */
enum eng_status eng_video_sample(const char *path, const struct eng_video_params *params,
                                 struct eng_video **out, struct eng_err *err);
/* Free a video and set *video to NULL. Accepts NULL. */
void eng_video_free(struct eng_video **video);

struct eng_scene_params {
    double threshold;    /* a cut where the mean absolute difference between consecutive
                          * 64x36 RGB thumbnails, in levels of 255, is a local peak that
                          * exceeds the median difference within 1 s around it (the shot's
                          * own motion) by more than this; default 24 (about ffmpeg
                          * scdet's 10 %, near PySceneDetect's 27); a hard cut between
                          * unrelated shots scores 40-170; testsrc2's busy motion scores up
                          * to 20 at 10 fps, but under 8 above its median */
    double min_gap;      /* seconds between two cuts, the stronger kept; default 0.5 */
    double analysis_fps; /* compare frames at most this often; default 10; 0 = every frame */
    eng_video_progress_fn progress; /* may be NULL; called about once a second of video */
    void *progress_user_data;
    const volatile int *cancel;     /* may be NULL; polled between frames */
};
struct eng_scene_params eng_scene_params_default(void);

/* Find scene cuts in a video file: *times (ascending seconds, the time of
 * the first frame of each new scene), *n_times of them (0 for one scene).
 * A truncated file is analysed up to the break.
 * Ownership: *times is malloc'd (NULL when *n_times is 0); free() it.
 * Errors: as eng_video_sample.
 * Thread-safety: safe. */
enum eng_status eng_video_scene_cuts(const char *path, const struct eng_scene_params *params,
                                     double **times, int *n_times, struct eng_err *err);

/* ---- vision: projector files, encoded media, media in a session -------- */

/* A vision projector ("mmproj") file, loaded to run on a device. */
struct eng_mmproj;

struct eng_mmproj_params {
    const char *path;         /* the mmproj GGUF file */
    int n_threads;            /* CPU threads; 0 = all cores */
    int device;               /* as eng_model_params.device (default: AUTO or WENSHU_DEVICE) */
    int64_t min_pixels;       /* Qwen image budget in pixels; 0 = HF's 56*56 */
    int64_t max_pixels;       /* 0 = HF's 28*28*1280 (at most 1280 tokens) */
    int64_t video_min_pixels; /* Qwen per-frame budget; 0 = 128*28*28 */
    int64_t video_max_pixels; /* 0 = 768*28*28 */
    int longest_edge;         /* Idefics3 image resize; 0 = the file's
                               * clip.vision.preproc_image_size, else 2048 */
    int max_tiles;            /* Idefics3 cap on tiles per image; < 0 = none (HF) */
    eng_progress_fn progress; /* may be NULL; during each eng_mmproj_encode_image
                               * or _video call: encoder layers done of all the
                               * layers that call runs (layers x encoder images:
                               * Qwen temporal groups, i.e. 1 for an image and the
                               * frame pairs of a clip; Idefics3 tiles plus the
                               * global image, or a clip's frames), 0 first, then
                               * once a layer (where one pass holds several
                               * images, done grows by their count). On Vulkan a
                               * followed encode is split into submits of whole
                               * layers, reported as each submit ends */
    void *progress_user_data; /* kept by the projector: valid while it encodes */
};
struct eng_mmproj_params eng_mmproj_params_default(void);

/* Load a projector. The device rules are the text model's (a notice when
 * AUTO falls back to the CPU).
 * Ownership: free *out with eng_mmproj_free().
 * Errors: as eng_model_load, naming the file and the key or tensor at fault.
 * Thread-safety: safe; one thread at a time per projector afterwards. */
enum eng_status eng_mmproj_load(const struct eng_mmproj_params *params, struct eng_mmproj **out,
                                struct eng_err *err);
void eng_mmproj_free(struct eng_mmproj **proj);

struct eng_mmproj_info {
    const char *projector;     /* "qwen2vl_merger", "qwen2.5vl_merger", "idefics3" */
    const char *name;          /* general.name, or "" */
    int n_embd, n_layer, n_head, n_ff, patch_size;
    int projection_dim;        /* = the text model's n_embd */
    const char *device;        /* "CPU" or the Vulkan device's name */
    const char *device_notice; /* why it is not on a GPU, or "" */
    uint64_t device_bytes;
};
void eng_mmproj_get_info(const struct eng_mmproj *proj, struct eng_mmproj_info *info);

/* Refuse a projector whose output width is not the text model's n_embd, or
 * whose family does not fit the text model (Qwen projectors need a qwen2vl
 * text model, Idefics3 a llama one). Errors: ENG_STATUS_ERR_FORMAT naming
 * both files. */
enum eng_status eng_mmproj_check_pair(const struct eng_mmproj *proj,
                                      const struct eng_model *model, struct eng_err *err);

/* An encoded image or clip: the projector's output rows, ready for a session. */
struct eng_media {
    const char *projector;    /* the projector type that made it (a static string) */
    bool is_video;
    int n_tokens, n_embd;     /* n_embd = projection_dim */
    float *embd;              /* [n_tokens][n_embd], owned */
    /* Qwen: the merged token grid. tokens = grid_t * grid_h * grid_w; a
     * video has one temporal group per pair of frames. */
    int grid_t, grid_h, grid_w;
    double seconds_per_group; /* video: 2 / sampling fps (Qwen2.5-VL's t positions) */
    /* Idefics3: tiles plus the global image (an image), or frames (a video,
     * one encoder image each, no tiles). */
    int n_rows, n_cols;       /* tile grid; 0, 0 when not split */
    int n_images;             /* encoder images */
    int tokens_per_image;     /* rows each encoder image gives (64 for SmolVLM) */
    double *frame_times;      /* video: [n_frames] seconds, owned; else NULL */
    int n_frames;
    double duration;          /* video: the clip's length in seconds */
    double encode_seconds;    /* wall time of preprocessing and the encoder */
};

/* Preprocess and encode one image (see media/preprocess.h for the sizes).
 * Ownership: free *out with eng_media_free().
 * Errors: ENG_STATUS_ERR_ARG (an image the preprocessor refuses),
 * ENG_STATUS_ERR_NOMEM, or a device error. Thread-safety: one thread at a
 * time per projector. */
enum eng_status eng_mmproj_encode_image(struct eng_mmproj *proj, const struct eng_image *image,
                                        struct eng_media **out, struct eng_err *err);
/* Encode a sampled clip: Qwen takes the frames in temporal pairs (an odd
 * last frame is repeated), SmolVLM one 512-pixel image per frame.
 * cancel (may be NULL) is polled between encoder passes. */
enum eng_status eng_mmproj_encode_video(struct eng_mmproj *proj, const struct eng_video *video,
                                        const volatile int *cancel, struct eng_media **out,
                                        struct eng_err *err);
void eng_media_free(struct eng_media **media);

/* The marker that stands for one image or clip in chat text; the caller
 * splits its rendered prompt on it and evaluates media in between. */
#define ENG_MEDIA_MARKER "<__media__>"

/* Evaluate an encoded image or clip in the session, wrapped as its family
 * expects: Qwen "<|vision_start|>" rows "<|vision_end|>" with M-RoPE
 * positions (the next text position advances by max(grid_h, grid_w), and by
 * the temporal extent for a clip); SmolVLM the tile tokens
 * "<fake_token_around_image><row_R_col_C>" rows ..., "\n" after each row,
 * then "\n<fake_token_around_image><global-img>" rows
 * "<fake_token_around_image>"; a SmolVLM2 clip gets the frame prompt with
 * "Frame from mm:ss:" stamps. The wrapper tokens are looked up in the
 * model's vocab.
 * Errors: ENG_STATUS_ERR_CONTEXT (does not fit; nothing is evaluated),
 * ENG_STATUS_ERR_FORMAT (the vocab lacks a wrapper token, or widths
 * differ), ENG_STATUS_CANCELLED. */
enum eng_status eng_session_eval_media(struct eng_session *session, const struct eng_media *media,
                                       const volatile int *cancel, struct eng_err *err);

/* ---- files: vocab, synthetic models, quantization, inspection ----------- */

/* A tokenizer vocab as GGUF keys hold it (tokenizer.ggml.*). */
struct eng_vocab {
    const char *pre;                /* pre-tokenizer id: "qwen2", "llama-bpe", ... */
    const char *const *tokens;      /* [n_tokens], UTF-8 vocab strings */
    const int32_t *token_types;     /* [n_tokens], 1 normal, 3 control, 4 user-defined, ... */
    size_t n_tokens;
    const char *const *merges;      /* [n_merges], "A B", rank = index */
    size_t n_merges;
    int32_t bos_id, eos_id, eot_id, pad_id; /* -1 when absent */
    bool add_bos;
    const char *chat_template;      /* may be NULL */
};

/* Write a GGUF holding only the vocab keys (loadable with vocab_only).
 * Thread-safety: safe. */
enum eng_status eng_vocab_write(const struct eng_vocab *vocab, const char *path,
                                struct eng_err *err);

struct eng_synth_params {
    const char *arch;    /* "qwen2", "qwen3" or "llama" */
    const char *preset;  /* "tiny", "qwen2.5-0.5b", "qwen2.5-1.5b", "qwen3-0.6b" */
    const struct eng_vocab *vocab; /* NULL: a small byte-level vocab */
    const char *weight_type;       /* "F32" (default) or "F16" for matrices */
    uint64_t seed;
    const char *path;    /* output file */
};
struct eng_synth_params eng_synth_params_default(void);

/* Write a model with fixed pseudo-random weights, with llama.cpp's keys and
 * tensor names. Thread-safety: safe. */
enum eng_status eng_synth_write(const struct eng_synth_params *params, struct eng_err *err);

/* A vision projector (mmproj) file with fixed pseudo-random F32 weights, in
 * the key and tensor layout of llama.cpp's converter (general.architecture
 * "clip"). */
struct eng_mmproj_synth_params {
    const char *projector; /* "qwen2vl_merger", "qwen2.5vl_merger" or "idefics3" */
    const char *preset;    /* "tiny" (default), or the real shapes "qwen2-vl-2b",
                            * "qwen2.5-vl-3b", "smolvlm-256m" */
    int n_embd_text;       /* projection_dim = the text model's n_embd; 0: the preset's */
    uint64_t seed;
    const char *path;      /* output file */
};
struct eng_mmproj_synth_params eng_mmproj_synth_params_default(void);

/* Write the projector file. Thread-safety: safe. */
enum eng_status eng_mmproj_synth_write(const struct eng_mmproj_synth_params *params,
                                       struct eng_err *err);

/* Requantize every 2-D weight matrix of a GGUF model to type_name ("Q8_0",
 * "Q4_0", "Q4_K", "Q6_K", ...). Norms, biases and 1-D tensors stay F32.
 * Rows whose width the type cannot hold fall back as llama.cpp does.
 * Thread-safety: safe. */
enum eng_status eng_quantize_file(const char *in_path, const char *out_path,
                                  const char *type_name, int n_threads, struct eng_err *err);

/* Print a GGUF file's metadata and a tensor table (name, type, shape, bytes)
 * to out. Thread-safety: safe. */
enum eng_status eng_inspect_file(const char *path, FILE *out, struct eng_err *err);

/* Peak resident set size of this process in bytes (0 when unknown). */
uint64_t eng_peak_rss_bytes(void);

#ifdef __cplusplus
}
#endif

#endif /* WENSHU_ENGINE_H */
