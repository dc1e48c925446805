/* quant.h: tensor block formats, dequantization and CPU dot kernels
 * (private to the engine).
 *
 * Types and block layouts are ggml's, byte for byte (shared/specs/models.md
 * 1.2-1.3), so GGUF tensor data is used in place. A weight row is dotted with
 * activations that were first quantized to the weight type's vec_dot_type
 * (Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL, Q8_1 for Q4_1/Q5_1, Q8_K for the K types,
 * F16/BF16/F32 for themselves). Every kernel has a plain C version and an
 * AVX2/FMA version; quant_init() picks one at run time from the CPU's flags.
 *
 * Thread-safety: all functions are pure and safe from any thread once
 * quant_init() has run (eng_model_load calls it).
 */
#ifndef WENSHU_QUANT_H
#define WENSHU_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ggml type ids, as stored in GGUF tensor infos. */
enum eng_type {
    ENG_TYPE_F32 = 0,
    ENG_TYPE_F16 = 1,
    ENG_TYPE_Q4_0 = 2,
    ENG_TYPE_Q4_1 = 3,
    ENG_TYPE_Q5_0 = 6,
    ENG_TYPE_Q5_1 = 7,
    ENG_TYPE_Q8_0 = 8,
    ENG_TYPE_Q8_1 = 9,
    ENG_TYPE_Q2_K = 10,
    ENG_TYPE_Q3_K = 11,
    ENG_TYPE_Q4_K = 12,
    ENG_TYPE_Q5_K = 13,
    ENG_TYPE_Q6_K = 14,
    ENG_TYPE_Q8_K = 15,
    ENG_TYPE_IQ4_NL = 20,
    ENG_TYPE_BF16 = 30,
    ENG_TYPE_COUNT = 40 /* upper bound of ids; not a type */
};

#define QK4_0 32
#define QK8_0 32
#define QK_K 256
#define K_SCALE_SIZE 12

/* Block structs, in ggml's field order (sizes are asserted in quant.c). */
typedef uint16_t eng_half; /* IEEE binary16 bits */

struct block_q4_0 { eng_half d; uint8_t qs[16]; };                   /* 18 bytes */
struct block_q4_1 { eng_half d, m; uint8_t qs[16]; };                /* 20 */
struct block_q5_0 { eng_half d; uint8_t qh[4]; uint8_t qs[16]; };    /* 22 */
struct block_q5_1 { eng_half d, m; uint8_t qh[4]; uint8_t qs[16]; }; /* 24 */
struct block_q8_0 { eng_half d; int8_t qs[32]; };                    /* 34 */
struct block_q8_1 { eng_half d, s; int8_t qs[32]; };                 /* 36; s = d * sum(qs) */
struct block_iq4_nl { eng_half d; uint8_t qs[16]; };                 /* 18 */
struct block_q4_K { eng_half d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[128]; }; /* 144 */
struct block_q5_K {
    eng_half d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[32];
    uint8_t qs[128];
}; /* 176 */
struct block_q6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; eng_half d; }; /* 210 */
struct block_q8_K { float d; int8_t qs[256]; int16_t bsums[16]; };  /* 292 */

struct quant_traits {
    const char *name;           /* "Q4_K", ... */
    int blck;                   /* elements per block */
    size_t type_size;           /* bytes per block */
    enum eng_type vec_dot_type; /* what activations are quantized to */
    bool can_dot;               /* has a dequantizer and a dot kernel */
    bool can_quantize;          /* quant_quantize_row() can write it */
};

/* Pick the AVX2/FMA kernels when the CPU has them. Idempotent, thread-safe.
 * Setting WENSHU_NO_AVX2=1 in the environment forces the plain C kernels. */
void quant_init(void);
/* Whether the AVX2/FMA kernels are in use. */
bool quant_have_avx2(void);

/* Traits of a type id, or NULL when the id is unknown to the engine. */
const struct quant_traits *quant_traits(int type_id);
/* Bytes of a row of n elements; n must be a multiple of the block size. */
size_t quant_row_size(enum eng_type type, int64_t n);

float eng_half_to_float(eng_half h);
eng_half eng_float_to_half(float f);
float eng_bf16_to_float(uint16_t b);
uint16_t eng_float_to_bf16(float f);

/* Dequantize n elements (a multiple of the block size) of src into dst. */
void quant_dequantize_row(enum eng_type type, const void *src, float *dst, int64_t n);

/* Quantize n floats into type. Works for every type whose can_quantize is set
 * (at least F32, F16, BF16, Q8_0, Q8_1, Q8_K, Q4_0, Q4_K, Q6_K). */
void quant_quantize_row(enum eng_type type, const float *src, void *dst, int64_t n);

/* s = dot(x, y) over n elements. x is a row of `type`; y is a row of
 * quant_traits(type)->vec_dot_type. Uses the kernels chosen by quant_init(). */
void quant_vec_dot(enum eng_type type, int n, float *s, const void *x, const void *y);

/* The plain C kernel, whatever the CPU (for tests against the AVX2 one). */
void quant_vec_dot_ref(enum eng_type type, int n, float *s, const void *x, const void *y);

/* ---- matrix-vector kernels (appended by the quant owner) ---------------- */

/* s[r] = dot(row r of x, y) for r < n_rows, where row r starts at byte
 * x + r * x_row_stride. y is one row of vec_dot_type. The AVX2 path shares
 * each activation block across several weight rows. */
void quant_vec_dot_rows(enum eng_type type, int n, float *s, const void *x, size_t x_row_stride,
                        int n_rows, const void *y);

/* s[c * s_col_stride + r] = dot(row r of x, column c of y) for r < n_rows,
 * c < n_cols; column c of y (vec_dot_type) starts at byte y + c * y_col_stride.
 * For prefill: a tile of weight rows is reused across all columns. */
void quant_vec_dot_rows_cols(enum eng_type type, int n, float *s, size_t s_col_stride,
                             const void *x, size_t x_row_stride, int n_rows, const void *y,
                             size_t y_col_stride, int n_cols);

/* ---- kernel tables shared by quant.c and quant-avx2.c only --------------- */
typedef void (*quant_dot_fn)(int n, float *s, const void *x, const void *y);
typedef void (*quant_dot_rows_fn)(int n, float *s, const void *x, size_t x_row_stride,
                                  int n_rows, const void *y);
typedef void (*quant_dot_rows_cols_fn)(int n, float *s, size_t s_col_stride, const void *x,
                                       size_t x_row_stride, int n_rows, const void *y,
                                       size_t y_col_stride, int n_cols);
typedef void (*quant_quantize_fn)(const float *src, void *dst, int64_t n);
/* The AVX2 kernel for a weight type, or NULL when there is none (or the file
 * was built without AVX2). Call only when the CPU has AVX2, FMA and F16C. */
quant_dot_fn quant_avx2_dot(enum eng_type type);
quant_dot_rows_fn quant_avx2_dot_rows(enum eng_type type);
quant_dot_rows_cols_fn quant_avx2_dot_rows_cols(enum eng_type type);
quant_quantize_fn quant_avx2_quantize(enum eng_type type);

#endif /* WENSHU_QUANT_H */
