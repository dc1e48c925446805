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
/* Upload the bound weights to Vulkan device index, with the same fallback
 * rule; on success the mapped file's pages are let go. */
enum eng_status device_upload(struct eng_model *m, int device, int index, struct eng_err *err);
/* Free the device copy of the weights. */
void device_detach(struct eng_model *m);

#endif /* WENSHU_MODEL_H */
