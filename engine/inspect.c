/* inspect.c: `wenshu-cli inspect`, a human-readable dump of a GGUF file.
 *
 * Prints a summary line, the metadata (one key a line: key, value type,
 * value; long strings and arrays are cut to their first part) and a tensor
 * table (name, type, shape in ggml order, bytes), then totals. Everything
 * taken from the file is escaped, so odd bytes in keys or values never reach
 * the terminal raw.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine-internal.h"
#include "gguf.h"

#define INSPECT_VALUE_CHARS 160 /* a value is cut to about this many bytes */

/* A printable ASCII form of s into buf: bytes outside 0x21..0x7e (and the
 * backslash) become \xNN; a long name ends in "...". Returns buf. */
static const char *escape_name(struct gguf_str s, char *buf, size_t buf_size)
{
    size_t n = 0;
    for (uint64_t i = 0; i < s.len; i++) {
        uint8_t c = (uint8_t)s.data[i];
        if (n + 8 >= buf_size) {
            memcpy(buf + n, "...", 4);
            return buf;
        }
        if (c > 0x20 && c < 0x7f && c != '\\')
            buf[n++] = (char)c;
        else
            n += (size_t)snprintf(buf + n, buf_size - n, "\\x%02x", c);
    }
    buf[n] = '\0';
    return buf;
}

static void print_size(FILE *out, uint64_t bytes)
{
    if (bytes >= (1ull << 30))
        fprintf(out, "%.2f GiB", (double)bytes / (double)(1ull << 30));
    else if (bytes >= (1ull << 20))
        fprintf(out, "%.2f MiB", (double)bytes / (double)(1ull << 20));
    else
        fprintf(out, "%" PRIu64 " bytes", bytes);
}

static void print_metadata(const struct gguf_file *f, FILE *out)
{
    char key[256];
    char value[INSPECT_VALUE_CHARS];
    fprintf(out, "metadata (%" PRIu64 " keys):\n", f->n_kv);
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const struct gguf_kv *kv = &f->kv[i];
        gguf_kv_format(kv, value, sizeof value);
        fprintf(out, "  %-44s %-4s %s", escape_name(kv->key, key, sizeof key),
                gguf_value_type_name(kv->type), value);
        if (kv->type == GGUF_TYPE_STRING) {
            uint64_t len;
            memcpy(&len, kv->value, sizeof len);
            if (len + 2 >= sizeof value - 4)
                fprintf(out, " (%" PRIu64 " bytes)", len);
        }
        fputc('\n', out);
    }
}

/* Shape in ggml order (ne[0] first), e.g. "[896, 151936]". */
static void format_shape(const struct gguf_tensor *t, char *buf, size_t buf_size)
{
    size_t n = (size_t)snprintf(buf, buf_size, "[");
    for (int d = 0; d < t->n_dims && n < buf_size; d++)
        n += (size_t)snprintf(buf + n, buf_size - n, "%s%" PRId64, d ? ", " : "", t->ne[d]);
    if (n < buf_size)
        snprintf(buf + n, buf_size - n, "]");
}

static void print_tensors(const struct gguf_file *f, FILE *out)
{
    char name[256];
    char shape[128];
    uint64_t total_bytes = 0, total_elements = 0;
    fprintf(out, "tensors (%" PRIu64 "):\n", f->n_tensors);
    fprintf(out, "  %-44s %-7s %-28s %14s\n", "name", "type", "shape", "bytes");
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const struct gguf_tensor *t = &f->tensors[i];
        uint64_t n_elements = 1;
        for (int d = 0; d < GGUF_MAX_DIMS; d++)
            n_elements *= (uint64_t)t->ne[d]; /* validated by gguf_open: no overflow */
        format_shape(t, shape, sizeof shape);
        fprintf(out, "  %-44s %-7s %-28s %14" PRIu64 "\n", escape_name(t->name, name, sizeof name),
                quant_traits(t->type)->name, shape, t->n_bytes);
        total_bytes += t->n_bytes;
        total_elements += n_elements;
    }
    fprintf(out, "totals: %" PRIu64 " tensors, %" PRIu64 " elements, ", f->n_tensors,
            total_elements);
    print_size(out, total_bytes);
    fprintf(out, " of tensor data\n");
}

enum eng_status eng_inspect_file(const char *path, FILE *out, struct eng_err *err)
{
    ENG_ASSERT(path != NULL && out != NULL);
    struct gguf_file *f = NULL;
    enum eng_status status = gguf_open(path, &f, err);
    if (status != ENG_STATUS_OK)
        return status;
    fprintf(out,
            "%s: GGUF v%" PRIu32 ", %" PRIu64 " keys, %" PRIu64 " tensors, alignment %" PRIu32
            ", data at byte %" PRIu64 ", ",
            path, f->version, f->n_kv, f->n_tensors, f->alignment, f->data_offset);
    print_size(out, f->size);
    fputc('\n', out);
    print_metadata(f, out);
    print_tensors(f, out);
    gguf_close(&f);
    if (ferror(out))
        return eng_set_err(err, ENG_STATUS_ERR_IO, "%s: cannot write the listing", path);
    return ENG_STATUS_OK;
}
