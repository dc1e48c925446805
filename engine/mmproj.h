/* mmproj.h: a loaded vision projector ("mmproj") file (private to the engine).
 *
 * An mmproj file is a GGUF file with general.architecture = "clip", in the
 * key and tensor layout of llama.cpp's converter (tools/mtmd/clip-impl.h,
 * clip.cpp). Three projector types are supported:
 *
 *   qwen2vl_merger    Qwen2-VL ViT: LayerNorm, quick-GELU MLP, 2x2 merger.
 *   qwen2.5vl_merger  Qwen2.5-VL ViT: RMSNorm, gated SiLU MLP, windowed
 *                     attention with a full-attention layer every
 *                     n_wa_pattern layers, 2x2 merger. ("qwen2.5o", the Omni
 *                     vision tower, loads as this type.)
 *   idefics3          SigLIP with learned positions, GELU-tanh MLP, pixel
 *                     shuffle and the Idefics3 connector (SmolVLM).
 *
 * mmproj_load() checks every count and shape against the tensors. Where
 * known files write wrong metadata the size comes from the tensors: n_ff
 * (Qwen2-VL's converter writes the text width there, old surgery files 0).
 * Old files with ffn_up and ffn_down swapped are swapped back.
 *
 * Weights are pointers into the mapped file, in their stored type; 1-D
 * tensors (norms, biases) are converted to owned f32 arrays.
 */
#ifndef WENSHU_MMPROJ_H
#define WENSHU_MMPROJ_H

#include <stdbool.h>

#include "cpu/ops.h"
#include "gguf.h"
#include "weights.h"
#include "wenshu-engine.h"

struct eng_model;

enum mmproj_type {
    MMPROJ_TYPE_QWEN2VL,  /* "qwen2vl_merger" */
    MMPROJ_TYPE_QWEN25VL, /* "qwen2.5vl_merger" */
    MMPROJ_TYPE_IDEFICS3, /* "idefics3" */
};

enum mmproj_norm {
    MMPROJ_NORM_LAYER, /* LayerNorm with weight and bias */
    MMPROJ_NORM_RMS,   /* RMSNorm, weight only */
};

/* The activation of the ViT MLP (clip.use_gelu / clip.use_silu). */
enum mmproj_ffn_op {
    MMPROJ_FFN_GELU_QUICK, /* neither key set: x * sigmoid(1.702 x) */
    MMPROJ_FFN_GELU,       /* clip.use_gelu: GELU (tanh approximation) */
    MMPROJ_FFN_SILU,       /* clip.use_silu: silu(gate) * up */
};

struct mmproj_layer {
    float *ln1_w, *ln1_b;          /* [n_embd]; ln1_b NULL for RMSNorm */
    struct cpu_matrix wq, wk, wv;  /* n_embd -> n_embd */
    float *bq, *bk, *bv;           /* [n_embd] */
    struct cpu_matrix wo;          /* n_embd -> n_embd */
    float *bo;                     /* [n_embd] */
    float *ln2_w, *ln2_b;          /* [n_embd]; ln2_b NULL for RMSNorm */
    struct cpu_matrix ffn_up;      /* n_embd -> n_ff */
    float *ffn_up_b;               /* [n_ff] */
    struct cpu_matrix ffn_gate;    /* n_embd -> n_ff; qwen2.5vl only, else data NULL */
    float *ffn_gate_b;             /* [n_ff] or NULL */
    struct cpu_matrix ffn_down;    /* n_ff -> n_embd */
    float *ffn_down_b;             /* [n_embd] */
    bool full_attention;           /* false: windowed (qwen2.5vl) */
};

struct mmproj {
    struct gguf_file *gguf;        /* owned; weights point into its mapping */
    enum mmproj_type type;
    char type_name[32];            /* as written in the file */
    char name[128];                /* general.name, or "" */

    int n_embd, n_head, head_dim, n_layer;
    int n_ff;                      /* from the tensor shapes */
    int n_ff_metadata;             /* clip.vision.feed_forward_length as written (may be wrong) */
    int projection_dim;            /* output width = the text model's n_embd */
    float eps;                     /* norm epsilon */
    int image_size, patch_size;    /* image_size: 560 placeholder for Qwen (dynamic size) */
    float image_mean[3], image_std[3];
    enum mmproj_norm norm;
    enum mmproj_ffn_op ffn_op;
    bool ffn_swapped;              /* the file had ffn_up and ffn_down swapped */

    int merge_size;                /* Qwen spatial merge (2), or Idefics3 pixel-shuffle factor */
    int window_size;               /* qwen2.5vl: attention window side in pixels
                                    * (clip.vision.window_size; 112 when absent) */
    int n_wa_pattern;              /* qwen2.5vl: layer il is full attention when
                                    * (il + 1) % n_wa_pattern == 0; 0 = all full */
    int preproc_image_size;        /* idefics3 longest edge; 0 when not written */
    int n_pos;                     /* idefics3: (image_size / patch_size)^2 positions */

    struct cpu_matrix patch_embd;  /* conv kernel ne [ps, ps, 3, n_embd]:
                                    * n_embd rows of 3 * ps * ps (F32/F16/BF16) */
    struct cpu_matrix patch_embd_1;/* Qwen: the 2nd temporal slice, same shape; else data NULL */
    float *patch_bias;             /* [n_embd], idefics3 only */
    struct cpu_matrix position_embd; /* idefics3: n_pos rows of n_embd; else data NULL */
    float *post_ln_w, *post_ln_b;  /* [n_embd]; Qwen: the merger's ln_q; b NULL for RMSNorm */
    struct mmproj_layer *layers;   /* [n_layer], owned */

    struct cpu_matrix mm0;         /* Qwen merger: n_embd*m*m -> n_embd*m*m */
    float *mm0_b;                  /* [n_embd*m*m] */
    struct cpu_matrix mm2;         /* Qwen merger: n_embd*m*m -> projection_dim */
    float *mm2_b;                  /* [projection_dim] */
    struct cpu_matrix mm_fc;       /* idefics3: n_embd*s*s -> projection_dim, no bias */

    struct owned_vectors owned;    /* every f32 array above, for freeing */
};

/* Map and validate an mmproj file.
 * Ownership: on success *out owns the projector; free it with mmproj_free().
 * Errors: ENG_STATUS_ERR_IO, _FORMAT or _UNSUPPORTED with a one-line reason
 * naming the file and the key or tensor at fault.
 * Thread-safety: safe; a loaded projector is read-only. */
enum eng_status mmproj_load(const char *path, struct mmproj **out, struct eng_err *err);

/* Free the projector; sets *p to NULL. Accepts NULL. */
void mmproj_free(struct mmproj **p);

/* Check that the projector's output width equals the text model's n_embd.
 * Errors: ENG_STATUS_ERR_FORMAT naming both files and both widths.
 * Thread-safety: safe. */
enum eng_status mmproj_check_pair(const struct mmproj *p, const struct eng_model *text,
                                  struct eng_err *err);

/* "qwen2vl_merger", "qwen2.5vl_merger" or "idefics3". */
const char *mmproj_type_name(enum mmproj_type type);

#endif /* WENSHU_MMPROJ_H */
