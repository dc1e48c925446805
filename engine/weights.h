/* weights.h: GGUF tensors bound as the engine's weights (private), for the
 * text model (model.c) and the vision projector (mmproj.c).
 *
 * Matrices stay in the mapped file in their block format; 1-D tensors
 * (norms, biases) become owned f32 arrays, kept in a list that the owner
 * frees in one go. Every error names the file and the tensor.
 */
#ifndef WENSHU_WEIGHTS_H
#define WENSHU_WEIGHTS_H

#include <stdbool.h>
#include <stddef.h>

#include "cpu/ops.h"
#include "gguf.h"

/* The f32 arrays made by weights_bind_vector(), owned together. */
struct owned_vectors {
    float **items; /* [n] malloc'd arrays */
    int n;
};
/* Free every array and the list. */
void owned_vectors_free(struct owned_vectors *v);

/* "[a, b, ...]": a tensor's shape, for messages. */
void weights_format_shape(const struct gguf_tensor *t, char *buf, size_t size);

/* "PATH: missing tensor NAME" (+ " (needed by NEEDED_BY)" when not NULL). */
enum eng_status weights_missing(const struct gguf_file *g, const char *name,
                                const char *needed_by, struct eng_err *err);

/* Bind tensor `name` as a matrix of n_out rows of n_in elements (ne = [n_in,
 * n_out]) in a type the dot kernels take. An absent tensor leaves *out
 * zeroed when !required. */
enum eng_status weights_bind_matrix(const struct gguf_file *g, const char *name, int n_in,
                                    int n_out, bool required, const char *needed_by,
                                    struct cpu_matrix *out, struct eng_err *err);

/* Bind a 1-D F32/F16/BF16 tensor of n elements as an f32 array added to
 * owned. An absent tensor sets *out to NULL when !required. */
enum eng_status weights_bind_vector(const struct gguf_file *g, struct owned_vectors *owned,
                                    const char *name, int n, bool required,
                                    const char *needed_by, float **out, struct eng_err *err);

#endif /* WENSHU_WEIGHTS_H */
