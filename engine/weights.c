/* weights.c: GGUF tensors bound as weights (see weights.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "weights.h"

void owned_vectors_free(struct owned_vectors *v)
{
    for (int i = 0; i < v->n; i++)
        free(v->items[i]);
    free(v->items);
    v->items = NULL;
    v->n = 0;
}

void weights_format_shape(const struct gguf_tensor *t, char *buf, size_t size)
{
    int n = snprintf(buf, size, "[");
    for (int d = 0; d < t->n_dims && n > 0 && (size_t)n < size; d++)
        n += snprintf(buf + n, size - (size_t)n, "%s%lld", d ? ", " : "", (long long)t->ne[d]);
    if (n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, "]");
}

enum eng_status weights_missing(const struct gguf_file *g, const char *name,
                                const char *needed_by, struct eng_err *err)
{
    if (needed_by)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: missing tensor %s (needed by %s)",
                           g->path, name, needed_by);
    return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "%s: missing tensor %s", g->path, name);
}

enum eng_status weights_bind_matrix(const struct gguf_file *g, const char *name, int n_in,
                                    int n_out, bool required, const char *needed_by,
                                    struct cpu_matrix *out, struct eng_err *err)
{
    const struct gguf_tensor *t = gguf_find_tensor(g, name);
    memset(out, 0, sizeof *out);
    if (!t)
        return required ? weights_missing(g, name, needed_by, err) : ENG_STATUS_OK;
    if (t->n_dims > 2 || t->ne[0] != n_in || t->ne[1] != n_out) {
        char shape[96];
        weights_format_shape(t, shape, sizeof shape);
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: tensor %s has shape %s, expected [%d, %d]", g->path, name, shape,
                           n_in, n_out);
    }
    const struct quant_traits *tr = quant_traits(t->type);
    if (!tr || !tr->can_dot || n_in % tr->blck != 0)
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED, "%s: tensor %s has type %s (%d), "
                           "which the engine cannot compute with", g->path, name,
                           tr ? tr->name : "unknown", (int)t->type);
    out->type = t->type;
    out->data = t->data;
    out->n_in = n_in;
    out->n_out = n_out;
    out->row_bytes = quant_row_size(t->type, n_in);
    return ENG_STATUS_OK;
}

enum eng_status weights_bind_vector(const struct gguf_file *g, struct owned_vectors *owned,
                                    const char *name, int n, bool required,
                                    const char *needed_by, float **out, struct eng_err *err)
{
    const struct gguf_tensor *t = gguf_find_tensor(g, name);
    *out = NULL;
    if (!t)
        return required ? weights_missing(g, name, needed_by, err) : ENG_STATUS_OK;
    if (t->n_dims != 1 || t->ne[0] != n) {
        char shape[96];
        weights_format_shape(t, shape, sizeof shape);
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: tensor %s has shape %s, expected [%d]", g->path, name, shape, n);
    }
    if (t->type != ENG_TYPE_F32 && t->type != ENG_TYPE_F16 && t->type != ENG_TYPE_BF16)
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                           "%s: 1-D tensor %s must be F32, F16 or BF16", g->path, name);
    float *v = malloc(sizeof(float) * (size_t)n);
    float **list = realloc(owned->items, sizeof(float *) * (size_t)(owned->n + 1));
    if (list)
        owned->items = list;
    if (!v || !list) {
        free(v);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: out of memory", g->path);
    }
    owned->items[owned->n++] = v;
    quant_dequantize_row(t->type, t->data, v, n);
    *out = v;
    return ENG_STATUS_OK;
}
