/* model.h: a loaded text model (private to the engine).
 *
 * Weights are pointers into the mapped GGUF file, in their block format.
 * Small 1-D tensors (norm weights, biases) are converted to owned f32 arrays
 * at load, so the forward pass reads them without branches on their type.
 */
#ifndef WENSHU_MODEL_H
#define WENSHU_MODEL_H

#include <stdbool.h>

#include "chat.h"
#include "cpu/ops.h"
#include "cpu/threadpool.h"
#include "gguf.h"
#include "tokenizer.h"
#include "weights.h"
#include "wenshu-engine.h"

struct vk_model;

enum model_arch {
    MODEL_ARCH_QWEN2,
    MODEL_ARCH_QWEN3,
    MODEL_ARCH_LLAMA,
    MODEL_ARCH_QWEN2VL, /* Qwen2-VL / Qwen2.5-VL text: qwen2 blocks with M-RoPE */
};

struct model_layer {
    float *attn_norm;            /* [n_embd] */
    struct cpu_matrix wq;        /* n_embd -> n_head * head_dim */
    struct cpu_matrix wk;        /* n_embd -> n_head_kv * head_dim */
    struct cpu_matrix wv;        /* n_embd -> n_head_kv * head_dim */
    float *bq, *bk, *bv;         /* qwen2 biases, or NULL */
    float *q_norm, *k_norm;      /* qwen3 per-head norms [head_dim], or NULL */
    struct cpu_matrix wo;        /* n_head * head_dim -> n_embd */
    float *ffn_norm;             /* [n_embd] */
    struct cpu_matrix ffn_gate;  /* n_embd -> n_ff */
    struct cpu_matrix ffn_up;    /* n_embd -> n_ff */
    struct cpu_matrix ffn_down;  /* n_ff -> n_embd */
};

struct eng_model {
    struct gguf_file *gguf;       /* owned; weights point into its mapping */
    struct tokenizer *tok;        /* owned */
    enum chat_family chat;
    int32_t end_tokens[8];        /* ids that end a turn */
    int n_end_tokens;
    char arch_name[16];
    char name[128];
    bool vocab_only;

    enum model_arch arch;
    int n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_rot;
    float norm_eps;
    bool rope_neox;
    bool rope_mrope;              /* qwen2vl: pairs take (t, h, w) positions by section */
    int rope_sections[4];         /* {arch}.rope.dimension_sections: pairs per stream */
    float *rope_inv_freq;         /* [n_rot / 2], owned; freq factors applied */

    struct cpu_matrix token_embd; /* n_vocab rows of n_embd */
    float *output_norm;           /* [n_embd] */
    struct cpu_matrix output;     /* n_embd -> n_vocab (token_embd when tied) */
    struct model_layer *layers;   /* [n_layer], owned */
    struct owned_vectors owned;   /* every f32 array above, for freeing */

    int n_threads;
    uint64_t n_params, weight_bytes;

    struct vk_model *gpu;         /* owned; the weights on a Vulkan device, or NULL */
    char device_name[256];        /* "CPU" or the device's name */
    char device_notice[512];      /* why the model is not on a GPU, or "" */
    uint64_t device_bytes;        /* device memory of the weights */
};

/* Where the model will run (device.c), before its file is read: *index
 * receives a Vulkan device index, or -1 for the CPU. ENG_DEVICE_AUTO falls
 * back to the CPU with m->device_notice set; other choices fail instead. */
enum eng_status device_choose(struct eng_model *m, int device, int *index,
                              struct eng_err *err);
/* The same choice for any other weights (a vision projector): the notice
 * goes to notice[notice_size]. */
enum eng_status device_choose_index(int device, int *index, char *notice, size_t notice_size,
                                    struct eng_err *err);
/* Upload the bound weights to Vulkan device index, with the same fallback
 * rule; on success the mapped file's pages are let go. progress (may be
 * NULL) gets the bytes uploaded of all the bytes to upload, after each
 * weight. */
enum eng_status device_upload(struct eng_model *m, int device, int index,
                              eng_progress_fn progress, void *progress_user_data,
                              struct eng_err *err);
/* Free the device copy of the weights. */
void device_detach(struct eng_model *m);

/* ---- session internals (session.c) ---------------------------------------- */

/* One input of the decoder: token ids or embedding rows (an image's), with
 * their RoPE positions. The session keeps the next text position, which
 * equals n_past until an M-RoPE image makes them differ. */
struct session_input {
    const int32_t *tokens;  /* [n] token ids, or NULL */
    const float *embd;      /* [n][n_embd] input rows when tokens is NULL */
    int n;
    const int32_t *pos;     /* [4][n] positions (t, h, w, extra rows), or NULL: all
                             * four streams at next_pos + i */
    int pos_advance;        /* the next position grows by this afterwards (ignored,
                             * taken as n, when pos is NULL) */
};

/* Evaluate one input in batches of n_batch, as eng_session_eval does for
 * tokens: refuses (ENG_STATUS_ERR_CONTEXT) an input that does not fit,
 * before evaluating any of it; cancel is polled between batches. */
enum eng_status session_eval_input(struct eng_session *s, const struct session_input *in,
                                   const volatile int *cancel, struct eng_err *err);

/* The position the next text token gets. */
int session_next_pos(const struct eng_session *s);

/* The session's model. */
const struct eng_model *session_model(const struct eng_session *s);

#endif /* WENSHU_MODEL_H */
