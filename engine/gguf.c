/* gguf.c: the GGUF reader and writer (see gguf.h; layout in shared/specs/models.md 1.1).
 *
 * The reader maps the file and walks it once with a bounds-checked cursor.
 * Nothing read from the file is trusted: counts are compared with what the
 * remaining bytes could hold before anything is allocated, so a 16-byte file
 * that claims 2^62 tensors is refused without a large allocation. Keys and
 * tensor names go into open-addressing hash indexes, which find duplicates
 * at open and serve gguf_find_kv()/gguf_find_tensor() afterwards.
 *
 * Choices this reader makes (stricter than llama.cpp in places):
 * - versions 2 and 3 are accepted (same layout); 1 and anything newer are not;
 * - nested arrays (an array whose element type is ARRAY) are refused;
 * - n_dims must be 1..4; general.alignment must be a u32 power of two;
 * - tensor offsets must be multiples of the alignment and every tensor must
 *   lie inside the file, but tensors may come in any order;
 * - for a scalar string, gguf_kv.value points at its u64 length prefix (use
 *   gguf_get_str()); for arrays it points at the first element.
 *
 * The writer collects keys (encoded at once, so setters copy) and tensor
 * descriptors (the data is not copied), then streams the file through a
 * small buffer; tensor data of a buffer's size or more goes straight from the
 * caller's memory to write(2).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine-internal.h"
#include "gguf.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c uses GGUF's little-endian values in place and needs a little-endian host"
#endif

#define GGUF_MAGIC_LE 0x46554747u /* "GGUF" */
#define GGUF_KEY_ALIGNMENT "general.alignment"
/* The smallest encodings, used to refuse counts the remaining bytes cannot hold. */
#define GGUF_MIN_KV_BYTES 13          /* key length u64 + type i32 + a 1-byte value */
#define GGUF_MIN_TENSOR_INFO_BYTES 32 /* name length u64 + n_dims u32 + ne[0] + type + offset */
/* llama.cpp's GGML_MAX_NAME: the writer refuses names it could not load. */
#define GGUF_MAX_TENSOR_NAME 63

/* ---- hash index over names -------------------------------------------- */

struct gguf_index_slot {
    const char *data; /* the name's bytes (in the map), NULL when the slot is empty */
    uint64_t len;
    size_t idx; /* index into kv[] or tensors[] */
};

struct gguf_index {
    struct gguf_index_slot *slots; /* [mask + 1], owned; the size is a power of two */
    size_t mask;
};


/* Room for n names at load factor <= 1/2. False when out of memory. */
static bool index_init(struct gguf_index *ix, size_t n)
{
    size_t cap = 8;
    while (cap < n * 2)
        cap *= 2;
    ix->slots = calloc(cap, sizeof *ix->slots);
    ix->mask = cap - 1;
    return ix->slots != NULL;
}

/* The slot holding name, or the empty slot where it would go. */
static struct gguf_index_slot *index_slot(const struct gguf_index *ix, const char *name,
                                          uint64_t len)
{
    size_t i = (size_t)eng_hash_bytes(name, len) & ix->mask;
    for (;;) {
        struct gguf_index_slot *s = &ix->slots[i];
        if (s->data == NULL || (s->len == len && memcmp(s->data, name, len) == 0))
            return s;
        i = (i + 1) & ix->mask;
    }
}

/* Insert name -> idx. Returns false (and leaves the index alone) when the
 * name is already present; *prev then receives the earlier index. */
static bool index_insert(struct gguf_index *ix, struct gguf_str name, size_t idx, size_t *prev)
{
    struct gguf_index_slot *s = index_slot(ix, name.data, name.len);
    if (s->data != NULL) {
        *prev = s->idx;
        return false;
    }
    /* A zero-length name still needs a non-NULL marker. */
    s->data = name.data != NULL ? name.data : "";
    s->len = name.len;
    s->idx = idx;
    return true;
}

static long long index_find(const struct gguf_index *ix, const char *name)
{
    if (ix->slots == NULL)
        return -1;
    const struct gguf_index_slot *s = index_slot(ix, name, strlen(name));
    return s->data != NULL ? (long long)s->idx : -1;
}

/* ---- the open file ----------------------------------------------------- */

/* The public struct plus private state; gguf_file pointers handed out point
 * at pub, the first member. */
struct gguf_file_impl {
    struct gguf_file pub;
    bool mapped;      /* the image came from mmap() and is unmapped on close */
    void *map_base;   /* what mmap() returned (the image may start later) */
    bool file_backed; /* map_base maps the file itself (not a private copy) */
    size_t map_size;  /* the size given to mmap() */
    void *data_copy_base;  /* GGUF_LOAD_HUGE_PAGES: what mmap() returned for the private
                            * copy of the data section the tensors point into, or NULL */
    size_t data_copy_size; /* the size given to that mmap() */
    struct gguf_index kv_index;
    struct gguf_index tensor_index;
};

static struct gguf_file_impl *impl_of(const struct gguf_file *f)
{
    return (struct gguf_file_impl *)f;
}

/* A printable, ASCII-only form of a name for error messages (bytes outside
 * 0x20..0x7e become \xNN; long names are cut with "..."). Returns buf. */
static const char *msg_name(char *buf, size_t buf_size, const char *s, uint64_t len)
{
    size_t n = 0;
    for (uint64_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];
        if (n + 8 >= buf_size) {
            memcpy(buf + n, "...", 4);
            return buf;
        }
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
            buf[n++] = (char)c;
        else
            n += (size_t)snprintf(buf + n, buf_size - n, "\\x%02x", c);
    }
    buf[n] = '\0';
    return buf;
}

/* ---- the bounds-checked cursor ----------------------------------------- */

struct reader {
    const uint8_t *base; /* [size] the image */
    uint64_t size;
    uint64_t pos;
    const char *path; /* for messages */
    struct eng_err *err;
    enum eng_status status; /* set by the first failure */
    char what[200];         /* what is being read, for messages */
};

static bool fail(struct reader *r, enum eng_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record a failure: "<path>: <reason>". Always returns false. */
static bool fail(struct reader *r, enum eng_status status, const char *fmt, ...)
{
    char reason[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    r->status = eng_set_err(r->err, status, "%s: %s", r->path, reason);
    return false;
}

static void set_what(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_what(struct reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->what, sizeof r->what, fmt, ap);
    va_end(ap);
}

static uint64_t remaining(const struct reader *r)
{
    return r->size - r->pos;
}

/* Check that n more bytes exist. */
static bool need(struct reader *r, uint64_t n)
{
    if (n <= remaining(r))
        return true;
    return fail(r, ENG_STATUS_ERR_FORMAT, "truncated at byte %" PRIu64 " while reading %s", r->size,
                r->what);
}

static bool read_bytes(struct reader *r, void *dst, size_t n)
{
    if (!need(r, n))
        return false;
    memcpy(dst, r->base + r->pos, n);
    r->pos += n;
    return true;
}

static bool read_u32(struct reader *r, uint32_t *v)
{
    return read_bytes(r, v, sizeof *v);
}

static bool read_u64(struct reader *r, uint64_t *v)
{
    return read_bytes(r, v, sizeof *v);
}

/* A string: u64 length, then that many bytes (no NUL). */
static bool read_str(struct reader *r, struct gguf_str *s)
{
    uint64_t at = r->pos;
    if (!read_u64(r, &s->len))
        return false;
    if (s->len > remaining(r))
        return fail(r, ENG_STATUS_ERR_FORMAT,
                    "string length %" PRIu64 " at byte %" PRIu64 " (in %s) exceeds the %" PRIu64
                    " bytes left in the file",
                    s->len, at, r->what, remaining(r));
    s->data = (const char *)r->base + r->pos;
    r->pos += s->len;
    return true;
}

/* ---- value types --------------------------------------------------------- */

/* Bytes of one value of a fixed-size type; 0 for STRING, ARRAY and unknown ids. */
static size_t value_type_size(enum gguf_value_type t)
{
    switch (t) {
    case GGUF_TYPE_UINT8:
    case GGUF_TYPE_INT8:
    case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16:
    case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32:
    case GGUF_TYPE_INT32:
    case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64:
    case GGUF_TYPE_INT64:
    case GGUF_TYPE_FLOAT64: return 8;
    case GGUF_TYPE_STRING:
    case GGUF_TYPE_ARRAY:
    case GGUF_TYPE_COUNT: break;
    }
    return 0;
}

const char *gguf_value_type_name(enum gguf_value_type t)
{
    switch (t) {
    case GGUF_TYPE_UINT8: return "u8";
    case GGUF_TYPE_INT8: return "i8";
    case GGUF_TYPE_UINT16: return "u16";
    case GGUF_TYPE_INT16: return "i16";
    case GGUF_TYPE_UINT32: return "u32";
    case GGUF_TYPE_INT32: return "i32";
    case GGUF_TYPE_FLOAT32: return "f32";
    case GGUF_TYPE_BOOL: return "bool";
    case GGUF_TYPE_STRING: return "str";
    case GGUF_TYPE_ARRAY: return "arr";
    case GGUF_TYPE_UINT64: return "u64";
    case GGUF_TYPE_INT64: return "i64";
    case GGUF_TYPE_FLOAT64: return "f64";
    case GGUF_TYPE_COUNT: break;
    }
    return "?";
}

/* ---- parsing ------------------------------------------------------------- */

static bool parse_header(struct reader *r, struct gguf_file *f)
{
    uint32_t magic;
    int64_t n_tensors, n_kv;
    set_what(r, "the header");
    if (!read_u32(r, &magic))
        return false;
    if (magic != GGUF_MAGIC_LE)
        return fail(r, ENG_STATUS_ERR_FORMAT, "not a GGUF file (magic %02x %02x %02x %02x)",
                    r->base[0], r->base[1], r->base[2], r->base[3]);
    if (!read_u32(r, &f->version))
        return false;
    if (f->version == 1)
        return fail(r, ENG_STATUS_ERR_FORMAT, "GGUF version 1 is not supported (only 2 and 3)");
    if (f->version != 2 && f->version != 3)
        return fail(r, ENG_STATUS_ERR_FORMAT,
                    "unsupported GGUF version %" PRIu32 " (expected 2 or 3%s)", f->version,
                    (f->version & 0xffffu) == 0 ? "; a big-endian file?" : "");
    if (!read_bytes(r, &n_tensors, 8) || !read_bytes(r, &n_kv, 8))
        return false;
    if (n_tensors < 0 || n_kv < 0)
        return fail(r, ENG_STATUS_ERR_FORMAT,
                    "negative count in header (%" PRId64 " tensors, %" PRId64 " keys)", n_tensors,
                    n_kv);
    /* Refuse counts the rest of the file cannot hold before allocating. */
    uint64_t left = remaining(r);
    if ((uint64_t)n_kv > left / GGUF_MIN_KV_BYTES)
        return fail(r, ENG_STATUS_ERR_FORMAT,
                    "header claims %" PRId64 " metadata keys but only %" PRIu64
                    " bytes follow the header",
                    n_kv, left);
    left -= (uint64_t)n_kv * GGUF_MIN_KV_BYTES;
    if ((uint64_t)n_tensors > left / GGUF_MIN_TENSOR_INFO_BYTES)
        return fail(r, ENG_STATUS_ERR_FORMAT,
                    "header claims %" PRId64 " tensors but the %" PRIu64
                    " bytes after the header cannot hold that many tensor infos",
                    n_tensors, remaining(r));
    f->n_tensors = (uint64_t)n_tensors;
    f->n_kv = (uint64_t)n_kv;
    return true;
}

/* An array value: element type, count, elements. kv->key is already set. */
static bool parse_array(struct reader *r, struct gguf_kv *kv, const char *key_msg)
{
    uint32_t elem_type;
    if (!read_u32(r, &elem_type) || !read_u64(r, &kv->arr_n))
        return false;
    if (elem_type == GGUF_TYPE_ARRAY)
        return fail(r, ENG_STATUS_ERR_FORMAT, "key '%s' is a nested array (not supported)",
                    key_msg);
    if (elem_type >= GGUF_TYPE_COUNT)
        return fail(r, ENG_STATUS_ERR_FORMAT,
                    "key '%s' has an array of unknown value type %" PRIu32, key_msg, elem_type);
    kv->arr_type = (enum gguf_value_type)elem_type;
    kv->value = r->base + r->pos;
    if (kv->arr_type != GGUF_TYPE_STRING) {
        size_t esize = value_type_size(kv->arr_type);
        if (kv->arr_n > remaining(r) / esize)
            return fail(r, ENG_STATUS_ERR_FORMAT,
                        "key '%s': array of %" PRIu64 " %s at byte %" PRIu64
                        " does not fit in the %" PRIu64 " bytes left",
                        key_msg, kv->arr_n, gguf_value_type_name(kv->arr_type), r->pos,
                        remaining(r));
        r->pos += kv->arr_n * esize;
        return true;
    }
    /* Strings: each needs at least its 8-byte length, which bounds the count. */
    if (kv->arr_n > remaining(r) / 8)
        return fail(r, ENG_STATUS_ERR_FORMAT,
                    "key '%s': array of %" PRIu64 " strings at byte %" PRIu64
                    " does not fit in the %" PRIu64 " bytes left",
                    key_msg, kv->arr_n, r->pos, remaining(r));
    kv->strs = calloc(kv->arr_n ? kv->arr_n : 1, sizeof *kv->strs);
    if (kv->strs == NULL)
        return fail(r, ENG_STATUS_ERR_NOMEM, "out of memory for %" PRIu64 " strings of key '%s'",
                    kv->arr_n, key_msg);
    for (uint64_t i = 0; i < kv->arr_n; i++)
        if (!read_str(r, &kv->strs[i]))
            return false;
    return true;
}

static bool parse_kv(struct reader *r, struct gguf_file_impl *g, uint64_t i)
{
    struct gguf_kv *kv = &g->pub.kv[i];
    char key_msg[96];
    uint32_t type;
    size_t prev;

    set_what(r, "the key of metadata entry %" PRIu64, i);
    if (!read_str(r, &kv->key))
        return false;
    msg_name(key_msg, sizeof key_msg, kv->key.data, kv->key.len);
    if (!index_insert(&g->kv_index, kv->key, (size_t)i, &prev))
        return fail(r, ENG_STATUS_ERR_FORMAT, "duplicate key '%s' (entries %zu and %" PRIu64 ")",
                    key_msg, prev, i);
    set_what(r, "metadata entry %" PRIu64 " (%s)", i, key_msg);
    if (!read_u32(r, &type))
        return false;
    if (type >= GGUF_TYPE_COUNT)
        return fail(r, ENG_STATUS_ERR_FORMAT, "key '%s' has unknown value type %" PRIu32, key_msg,
                    type);
    kv->type = (enum gguf_value_type)type;
    if (kv->type == GGUF_TYPE_ARRAY)
        return parse_array(r, kv, key_msg);
    kv->value = r->base + r->pos;
    if (kv->type == GGUF_TYPE_STRING) {
        struct gguf_str s;
        return read_str(r, &s);
    }
    if (!need(r, value_type_size(kv->type)))
        return false;
    r->pos += value_type_size(kv->type);
    return true;
}

/* general.alignment, when present, must be a u32 power of two. */
static bool parse_alignment(struct reader *r, struct gguf_file_impl *g)
{
    g->pub.alignment = GGUF_DEFAULT_ALIGNMENT;
    const struct gguf_kv *kv = gguf_find_kv(&g->pub, GGUF_KEY_ALIGNMENT);
    if (kv == NULL)
        return true;
    if (kv->type != GGUF_TYPE_UINT32)
        return fail(r, ENG_STATUS_ERR_FORMAT, GGUF_KEY_ALIGNMENT " has type %s (expected u32)",
                    gguf_value_type_name(kv->type));
    uint32_t a;
    memcpy(&a, kv->value, sizeof a);
    if (a == 0 || (a & (a - 1)) != 0)
        return fail(r, ENG_STATUS_ERR_FORMAT,
                    GGUF_KEY_ALIGNMENT " is %" PRIu32 " (must be a non-zero power of two)", a);
    g->pub.alignment = a;
    return true;
}

/* Shape, type and byte size of tensor info t (its name is already read). */
static bool parse_tensor_shape(struct reader *r, struct gguf_tensor *t, const char *name_msg)
{
    uint32_t n_dims;
    int32_t type_id;
    if (!read_u32(r, &n_dims))
        return false;
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return fail(r, ENG_STATUS_ERR_FORMAT, "tensor '%s' has %" PRIu32 " dimensions (1..%d)",
                    name_msg, n_dims, GGUF_MAX_DIMS);
    t->n_dims = (int)n_dims;
    uint64_t n_elements = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d < t->n_dims && !read_bytes(r, &t->ne[d], 8))
            return false;
        if (t->ne[d] < 0)
            return fail(r, ENG_STATUS_ERR_FORMAT, "tensor '%s' has ne[%d] = %" PRId64 " (< 0)",
                        name_msg, d, t->ne[d]);
        if (__builtin_mul_overflow(n_elements, (uint64_t)t->ne[d], &n_elements) ||
            n_elements > INT64_MAX)
            return fail(r, ENG_STATUS_ERR_FORMAT, "tensor '%s': element count overflows", name_msg);
    }
    if (!read_bytes(r, &type_id, 4))
        return false;
    const struct quant_traits *tr = quant_traits(type_id);
    if (tr == NULL)
        return fail(r, ENG_STATUS_ERR_FORMAT, "tensor '%s' has unknown type id %" PRId32, name_msg,
                    type_id);
    t->type = (enum eng_type)type_id;
    if (t->ne[0] % tr->blck != 0)
        return fail(r, ENG_STATUS_ERR_FORMAT,
                    "tensor '%s' of type %s has ne[0] = %" PRId64
                    ", not a multiple of the block size %d",
                    name_msg, tr->name, t->ne[0], tr->blck);
    uint64_t rows = t->ne[0] == 0 ? 0 : n_elements / (uint64_t)t->ne[0];
    uint64_t row_bytes = (uint64_t)(t->ne[0] / tr->blck) * tr->type_size;
    if (__builtin_mul_overflow(row_bytes, rows, &t->n_bytes))
        return fail(r, ENG_STATUS_ERR_FORMAT, "tensor '%s': byte size overflows", name_msg);
    return true;
}

static bool parse_tensor_info(struct reader *r, struct gguf_file_impl *g, uint64_t i)
{
    struct gguf_tensor *t = &g->pub.tensors[i];
    char name_msg[96];
    size_t prev;

    set_what(r, "the name of tensor info %" PRIu64, i);
    if (!read_str(r, &t->name))
        return false;
    msg_name(name_msg, sizeof name_msg, t->name.data, t->name.len);
    if (!index_insert(&g->tensor_index, t->name, (size_t)i, &prev))
        return fail(r, ENG_STATUS_ERR_FORMAT,
                    "duplicate tensor name '%s' (tensor infos %zu and %" PRIu64 ")", name_msg, prev,
                    i);
    set_what(r, "tensor info %" PRIu64 " (%s)", i, name_msg);
    if (!parse_tensor_shape(r, t, name_msg) || !read_u64(r, &t->offset))
        return false;
    if (t->offset % g->pub.alignment != 0)
        return fail(r, ENG_STATUS_ERR_FORMAT,
                    "tensor '%s' has offset %" PRIu64 ", not a multiple of the alignment %" PRIu32,
                    name_msg, t->offset, g->pub.alignment);
    return true;
}

/* Place the data blob after the infos and check every tensor lies inside the file. */
static bool place_tensors(struct reader *r, struct gguf_file_impl *g)
{
    struct gguf_file *f = &g->pub;
    f->data_offset = (r->pos + f->alignment - 1) / f->alignment * f->alignment;
    if (f->n_tensors == 0)
        return true;
    if (f->data_offset > r->size)
        return fail(r, ENG_STATUS_ERR_FORMAT,
                    "truncated at byte %" PRIu64 " before the data section (starts at byte %" PRIu64
                    ")",
                    r->size, f->data_offset);
    uint64_t blob = r->size - f->data_offset;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        struct gguf_tensor *t = &f->tensors[i];
        if (t->offset > blob || t->n_bytes > blob - t->offset) {
            char name_msg[96];
            return fail(r, ENG_STATUS_ERR_FORMAT,
                        "tensor '%s' (%" PRIu64 " bytes at data offset %" PRIu64
                        ") extends past the end of the file (data section is %" PRIu64 " bytes)",
                        msg_name(name_msg, sizeof name_msg, t->name.data, t->name.len), t->n_bytes,
                        t->offset, blob);
        }
        t->data = r->base + f->data_offset + t->offset;
    }
    return true;
}

static bool parse(struct reader *r, struct gguf_file_impl *g)
{
    struct gguf_file *f = &g->pub;
    if (!parse_header(r, f))
        return false;
    /* Counts are bounded by the file size here, so these allocations are too. */
    f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->tensors);
    if (f->kv == NULL || f->tensors == NULL || !index_init(&g->kv_index, (size_t)f->n_kv) ||
        !index_init(&g->tensor_index, (size_t)f->n_tensors))
        return fail(r, ENG_STATUS_ERR_NOMEM,
                    "out of memory for %" PRIu64 " keys and %" PRIu64 " tensors", f->n_kv,
                    f->n_tensors);
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (!parse_kv(r, g, i))
            return false;
    if (!parse_alignment(r, g))
        return false;
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (!parse_tensor_info(r, g, i))
            return false;
    return place_tensors(r, g);
}

static void free_impl(struct gguf_file_impl *g)
{
    struct gguf_file *f = &g->pub;
    if (f->kv != NULL)
        for (uint64_t i = 0; i < f->n_kv; i++)
            free(f->kv[i].strs);
    free(f->kv);
    free(f->tensors);
    free(g->kv_index.slots);
    free(g->tensor_index.slots);
    if (g->mapped)
        munmap(g->map_base, g->map_size);
    if (g->data_copy_base)
        munmap(g->data_copy_base, g->data_copy_size);
    free(f->path);
    free(g);
}

/* Parse an image already in memory; on success *out owns g, else g is freed. */
static enum eng_status open_image(struct gguf_file_impl *g, struct gguf_file **out,
                                  struct eng_err *err)
{
    struct reader r = {
        .base = g->pub.map,
        .size = g->pub.size,
        .path = g->pub.path,
        .err = err,
        .status = ENG_STATUS_OK,
    };
    if (!parse(&r, g)) {
        free_impl(g);
        return r.status;
    }
    *out = &g->pub;
    return ENG_STATUS_OK;
}

static struct gguf_file_impl *impl_new(const char *name)
{
    struct gguf_file_impl *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->pub.path = strdup(name);
    if (g->pub.path == NULL) {
        free(g);
        return NULL;
    }
    return g;
}

enum eng_status gguf_open_memory(const void *data, size_t size, const char *name,
                                 struct gguf_file **out, struct eng_err *err)
{
    ENG_ASSERT(out != NULL && name != NULL && (data != NULL || size == 0));
    *out = NULL;
    struct gguf_file_impl *g = impl_new(name);
    if (g == NULL)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: out of memory", name);
    /* An empty image still gets a valid base pointer for messages. */
    static const uint8_t empty[4];
    g->pub.map = size != 0 ? data : empty;
    g->pub.size = size;
    return open_image(g, out, err);
}

/* Size of a transparent huge page on x86-64 and arm64 (4 KiB base pages). */
#define HUGE_PAGE_SIZE ((size_t)2 << 20)

/* Whether the kernel gives huge pages to regions that ask (madvise) or always. */
static bool huge_pages_available(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return false;
    char line[128] = "";
    bool ok = fgets(line, sizeof line, f) != NULL &&
              (strstr(line, "[always]") != NULL || strstr(line, "[madvise]") != NULL);
    fclose(f);
    return ok;
}

/* Bytes of tensor data before data-section offset `end`: how much of the
 * weights a read that goes through the section in order has brought in. */
static uint64_t tensor_bytes_below(const struct gguf_file *f, uint64_t end)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const struct gguf_tensor *t = &f->tensors[i];
        if (end > t->offset)
            n += end - t->offset < t->n_bytes ? end - t->offset : t->n_bytes;
    }
    return n;
}

/* The data section is read in pieces of this size, with a progress report
 * after each (some 30 reports a GiB: nothing next to the read itself). */
#define READ_CHUNK_BYTES ((size_t)32 << 20)

/* Copy the data section of the opened file (fd) into anonymous memory backed
 * by huge pages, in chunks, reporting the tensor bytes read; on success the
 * tensors point into the copy, which g owns. */
static enum eng_status read_data_into_huge_pages(struct gguf_file_impl *g, int fd,
                                                 eng_progress_fn progress, void *user_data,
                                                 struct eng_err *err)
{
    struct gguf_file *f = &g->pub;
    const char *path = f->path;
    size_t size = (size_t)(f->size - f->data_offset); /* bytes of the data section */
    size_t alloc = size + HUGE_PAGE_SIZE;
    void *p = mmap(NULL, alloc, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: cannot allocate %zu bytes", path,
                           size);
    uint8_t *aligned =
        (uint8_t *)(((uintptr_t)p + HUGE_PAGE_SIZE - 1) & ~(uintptr_t)(HUGE_PAGE_SIZE - 1));
    madvise(aligned, size, MADV_HUGEPAGE);
    const uint64_t total = tensor_bytes_below(f, size);
    if (progress)
        progress(0, total, user_data);
    size_t done = 0;
    while (done < size) {
        size_t want = size - done < READ_CHUNK_BYTES ? size - done : READ_CHUNK_BYTES;
        ssize_t got = pread(fd, aligned + done, want, (off_t)(f->data_offset + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            int e = got < 0 ? errno : 0;
            munmap(p, alloc);
            return eng_set_err(err, ENG_STATUS_ERR_IO, "%s: read failed at byte %" PRIu64 ": %s",
                               path, f->data_offset + done,
                               e ? strerror(e) : "the file shrank while loading");
        }
        done += (size_t)got;
        if (progress)
            progress(tensor_bytes_below(f, done), total, user_data);
    }
    for (uint64_t i = 0; i < f->n_tensors; i++)
        f->tensors[i].data = aligned + f->tensors[i].offset;
    g->data_copy_base = p;
    g->data_copy_size = alloc;
    return ENG_STATUS_OK;
}

enum eng_status gguf_open_with_progress(const char *path, enum gguf_load_mode mode,
                                        eng_progress_fn progress, void *progress_user_data,
                                        struct gguf_file **out, struct eng_err *err)
{
    ENG_ASSERT(path != NULL && out != NULL);
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return eng_set_err(err, ENG_STATUS_ERR_IO, "%s: cannot open: %s", path,
                           strerror(errno));
    struct stat st;
    enum eng_status status = ENG_STATUS_OK;
    if (fstat(fd, &st) != 0) {
        status = eng_set_err(err, ENG_STATUS_ERR_IO, "%s: cannot stat: %s", path,
                             strerror(errno));
        goto out_close;
    }
    if (!S_ISREG(st.st_mode)) {
        status = eng_set_err(err, ENG_STATUS_ERR_IO, "%s: not a regular file", path);
        goto out_close;
    }
    if (st.st_size == 0) {
        status = gguf_open_memory(NULL, 0, path, out, err);
        goto out_close;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        status = eng_set_err(err, ENG_STATUS_ERR_IO, "%s: too large to map", path);
        goto out_close;
    }
    /* The header is parsed from a map of the file (only its pages are
     * touched); in GGUF_LOAD_HUGE_PAGES mode the data section is then read
     * into private memory. */
    size_t size = (size_t)st.st_size;
    void *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (base == MAP_FAILED) {
        status = eng_set_err(err, ENG_STATUS_ERR_IO, "%s: cannot map: %s", path,
                             strerror(errno));
        goto out_close;
    }
    struct gguf_file_impl *g = impl_new(path);
    if (g == NULL) {
        munmap(base, size);
        status = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: out of memory", path);
        goto out_close;
    }
    g->pub.map = base;
    g->pub.size = (uint64_t)size;
    g->mapped = true;
    g->file_backed = true;
    g->map_base = base;
    g->map_size = size;
    if ((status = open_image(g, out, err)))
        goto out_close; /* open_image freed g */
    if (mode == GGUF_LOAD_HUGE_PAGES && (*out)->n_tensors > 0 && huge_pages_available() &&
        (status = read_data_into_huge_pages(g, fd, progress, progress_user_data, err)))
        gguf_close(out);
out_close:
    close(fd);
    return status;
}

enum eng_status gguf_open_ex(const char *path, enum gguf_load_mode mode, struct gguf_file **out,
                             struct eng_err *err)
{
    return gguf_open_with_progress(path, mode, NULL, NULL, out, err);
}

enum eng_status gguf_open(const char *path, struct gguf_file **out, struct eng_err *err)
{
    return gguf_open_ex(path, GGUF_LOAD_MMAP, out, err);
}

void gguf_drop_resident_data(struct gguf_file *f)
{
    struct gguf_file_impl *g = impl_of(f);
    if (!g->mapped || !g->file_backed || g->data_copy_base || f->data_offset >= f->size)
        return;
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t begin = ((uintptr_t)f->map + f->data_offset + (uintptr_t)page - 1) &
                      ~((uintptr_t)page - 1);
    uintptr_t end = (uintptr_t)f->map + f->size;
    if (end > begin)
        madvise((void *)begin, end - begin, MADV_DONTNEED);
}

void gguf_close(struct gguf_file **f)
{
    if (f == NULL || *f == NULL)
        return;
    free_impl(impl_of(*f));
    *f = NULL;
}

/* ---- look-ups and getters ------------------------------------------------ */

const struct gguf_kv *gguf_find_kv(const struct gguf_file *f, const char *key)
{
    long long i = index_find(&impl_of(f)->kv_index, key);
    return i < 0 ? NULL : &f->kv[i];
}

const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name)
{
    long long i = index_find(&impl_of(f)->tensor_index, name);
    return i < 0 ? NULL : &f->tensors[i];
}

/* A scalar integer value widened to a sign flag and magnitude-preserving
 * pair: *u holds it when non-negative, *s when negative. False for non-integers. */
static bool kv_integer(const struct gguf_kv *kv, bool *negative, uint64_t *u, int64_t *s)
{
    union {
        uint8_t u8;
        int8_t i8;
        uint16_t u16;
        int16_t i16;
        uint32_t u32;
        int32_t i32;
        uint64_t u64;
        int64_t i64;
    } v;
    if (kv == NULL || kv->type == GGUF_TYPE_ARRAY)
        return false;
    size_t n = value_type_size(kv->type);
    if (n == 0 || kv->type == GGUF_TYPE_BOOL || kv->type == GGUF_TYPE_FLOAT32 ||
        kv->type == GGUF_TYPE_FLOAT64)
        return false;
    memcpy(&v, kv->value, n);
    switch (kv->type) {
    case GGUF_TYPE_UINT8: *s = v.u8; break;
    case GGUF_TYPE_INT8: *s = v.i8; break;
    case GGUF_TYPE_UINT16: *s = v.u16; break;
    case GGUF_TYPE_INT16: *s = v.i16; break;
    case GGUF_TYPE_UINT32: *s = v.u32; break;
    case GGUF_TYPE_INT32: *s = v.i32; break;
    case GGUF_TYPE_INT64: *s = v.i64; break;
    case GGUF_TYPE_UINT64:
        *negative = false;
        *u = v.u64;
        *s = v.u64 > INT64_MAX ? INT64_MAX : (int64_t)v.u64;
        return true;
    default: return false;
    }
    *negative = *s < 0;
    *u = *negative ? 0 : (uint64_t)*s;
    return true;
}

bool gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *out)
{
    bool negative;
    uint64_t u;
    int64_t s;
    if (!kv_integer(gguf_find_kv(f, key), &negative, &u, &s) || negative || u > UINT32_MAX)
        return false;
    *out = (uint32_t)u;
    return true;
}

bool gguf_get_i64(const struct gguf_file *f, const char *key, int64_t *out)
{
    bool negative;
    uint64_t u;
    int64_t s;
    if (!kv_integer(gguf_find_kv(f, key), &negative, &u, &s) || (!negative && u > INT64_MAX))
        return false;
    *out = s;
    return true;
}

/* f32, or an f64 (narrowed): both are floats to a reader of hyperparameters. */
bool gguf_get_f32(const struct gguf_file *f, const char *key, float *out)
{
    const struct gguf_kv *kv = gguf_find_kv(f, key);
    if (kv != NULL && kv->type == GGUF_TYPE_FLOAT32) {
        memcpy(out, kv->value, sizeof *out);
        return true;
    }
    if (kv != NULL && kv->type == GGUF_TYPE_FLOAT64) {
        double d;
        memcpy(&d, kv->value, sizeof d);
        *out = (float)d;
        return true;
    }
    return false;
}

bool gguf_get_bool(const struct gguf_file *f, const char *key, bool *out)
{
    const struct gguf_kv *kv = gguf_find_kv(f, key);
    if (kv == NULL || kv->type != GGUF_TYPE_BOOL)
        return false;
    *out = kv->value[0] != 0;
    return true;
}

bool gguf_get_str(const struct gguf_file *f, const char *key, struct gguf_str *out)
{
    const struct gguf_kv *kv = gguf_find_kv(f, key);
    if (kv == NULL || kv->type != GGUF_TYPE_STRING)
        return false;
    memcpy(&out->len, kv->value, sizeof out->len);
    out->data = (const char *)kv->value + sizeof out->len;
    return true;
}

/* ---- formatting for inspect --------------------------------------------- */

/* A bounded text buffer. Pieces are appended whole or not at all; once one
 * does not fit, the text ends with "..." (room for it is reserved). */
struct sbuf {
    char *p;
    size_t cap; /* usable bytes before the reserved "...\0" */
    size_t n;
    bool full;
};

static void sb_init(struct sbuf *sb, char *buf, size_t buf_size)
{
    sb->p = buf;
    sb->cap = buf_size > 4 ? buf_size - 4 : 0;
    sb->n = 0;
    sb->full = buf_size <= 4;
    if (buf_size > 0)
        buf[0] = '\0';
}

static bool sb_add(struct sbuf *sb, const char *s, size_t len)
{
    if (sb->full || len > sb->cap - sb->n) {
        sb->full = true;
        return false;
    }
    memcpy(sb->p + sb->n, s, len);
    sb->n += len;
    sb->p[sb->n] = '\0';
    return true;
}

static bool sb_printf(struct sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool sb_printf(struct sbuf *sb, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return n >= 0 && sb_add(sb, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void sb_finish(struct sbuf *sb, size_t buf_size)
{
    if (sb->full && buf_size > 0) {
        size_t at = sb->n;
        if (at + 4 > buf_size)
            at = buf_size - 1 > 3 ? buf_size - 4 : 0;
        snprintf(sb->p + at, buf_size - at, "...");
    }
}

/* Length of a valid UTF-8 sequence at s (n bytes left) and its code point,
 * or 0 when the bytes there are not valid UTF-8. */
static size_t utf8_decode(const uint8_t *s, uint64_t n, uint32_t *cp)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len = s[0] < 0x80         ? 1
                 : (s[0] >> 5) == 6  ? 2
                 : (s[0] >> 4) == 14 ? 3
                 : (s[0] >> 3) == 30 ? 4
                                     : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t c = len == 1 ? s[0] : (uint32_t)(s[0] & (0x7f >> len));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min_cp[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Code points printed as \u{...}: controls, and bidi/line controls that
 * would reorder or break a terminal line. */
static bool cp_needs_escape(uint32_t c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 ||
           (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0xfeff;
}

/* A string in double quotes with escapes; valid printable UTF-8 passes through. */
static bool sb_add_quoted(struct sbuf *sb, const char *data, uint64_t len)
{
    const uint8_t *s = (const uint8_t *)data;
    if (!sb_add(sb, "\"", 1))
        return false;
    for (uint64_t i = 0; i < len;) {
        uint32_t cp = 0;
        size_t n = utf8_decode(s + i, len - i, &cp);
        bool ok;
        if (n == 0) {
            ok = sb_printf(sb, "\\x%02x", s[i]);
            n = 1;
        } else if (cp == '"' || cp == '\\') {
            ok = sb_printf(sb, "\\%c", (char)cp);
        } else if (cp == '\n') {
            ok = sb_add(sb, "\\n", 2);
        } else if (cp == '\t') {
            ok = sb_add(sb, "\\t", 2);
        } else if (cp_needs_escape(cp)) {
            ok = sb_printf(sb, "\\u{%" PRIx32 "}", cp);
        } else {
            ok = sb_add(sb, (const char *)s + i, n);
        }
        if (!ok)
            return false;
        i += n;
    }
    return sb_add(sb, "\"", 1);
}

/* One fixed-size value of type t at p. */
static bool sb_add_scalar(struct sbuf *sb, enum gguf_value_type t, const uint8_t *p)
{
    union {
        uint8_t u8;
        int8_t i8;
        uint16_t u16;
        int16_t i16;
        uint32_t u32;
        int32_t i32;
        float f32;
        uint64_t u64;
        int64_t i64;
        double f64;
    } v;
    memcpy(&v, p, value_type_size(t));
    switch (t) {
    case GGUF_TYPE_UINT8: return sb_printf(sb, "%" PRIu8, v.u8);
    case GGUF_TYPE_INT8: return sb_printf(sb, "%" PRId8, v.i8);
    case GGUF_TYPE_UINT16: return sb_printf(sb, "%" PRIu16, v.u16);
    case GGUF_TYPE_INT16: return sb_printf(sb, "%" PRId16, v.i16);
    case GGUF_TYPE_UINT32: return sb_printf(sb, "%" PRIu32, v.u32);
    case GGUF_TYPE_INT32: return sb_printf(sb, "%" PRId32, v.i32);
    case GGUF_TYPE_FLOAT32: return sb_printf(sb, "%.9g", (double)v.f32);
    case GGUF_TYPE_BOOL: return sb_printf(sb, "%s", v.u8 ? "true" : "false");
    case GGUF_TYPE_UINT64: return sb_printf(sb, "%" PRIu64, v.u64);
    case GGUF_TYPE_INT64: return sb_printf(sb, "%" PRId64, v.i64);
    case GGUF_TYPE_FLOAT64: return sb_printf(sb, "%.17g", v.f64);
    default: return false;
    }
}

/* Arrays print as "<type>[<count>] [e0, e1, ...]" with the first few elements. */
static void sb_add_array(struct sbuf *sb, const struct gguf_kv *kv)
{
    enum { MAX_SHOWN = 8 };
    sb_printf(sb, "%s[%" PRIu64 "] [", gguf_value_type_name(kv->arr_type), kv->arr_n);
    size_t esize = value_type_size(kv->arr_type);
    for (uint64_t i = 0; i < kv->arr_n && i < MAX_SHOWN; i++) {
        if (i > 0 && !sb_add(sb, ", ", 2))
            return;
        bool ok = kv->arr_type == GGUF_TYPE_STRING
                      ? sb_add_quoted(sb, kv->strs[i].data, kv->strs[i].len)
                      : sb_add_scalar(sb, kv->arr_type, kv->value + i * esize);
        if (!ok)
            return;
    }
    sb_add(sb, kv->arr_n > MAX_SHOWN ? ", ...]" : "]", kv->arr_n > MAX_SHOWN ? 6 : 1);
}

void gguf_kv_format(const struct gguf_kv *kv, char *buf, size_t buf_size)
{
    struct sbuf sb;
    sb_init(&sb, buf, buf_size);
    if (kv->type == GGUF_TYPE_ARRAY) {
        sb_add_array(&sb, kv);
    } else if (kv->type == GGUF_TYPE_STRING) {
        uint64_t len;
        memcpy(&len, kv->value, sizeof len);
        sb_add_quoted(&sb, (const char *)kv->value + sizeof len, len);
    } else {
        sb_add_scalar(&sb, kv->type, kv->value);
    }
    sb_finish(&sb, buf_size);
}

/* ---- writer -------------------------------------------------------------- */

struct writer_kv {
    char *key; /* owned, NUL-terminated */
    enum gguf_value_type type;
    uint8_t *payload; /* [payload_len] owned: the encoded value after the type id */
    size_t payload_len;
};

struct writer_tensor {
    char *name; /* owned */
    int n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    enum eng_type type;
    const void *data; /* [n_bytes], the caller's */
    uint64_t n_bytes;
    uint64_t offset; /* in the data blob; set by gguf_writer_write() */
};

struct gguf_writer {
    struct writer_kv *kv; /* [n_kv], capacity cap_kv */
    size_t n_kv, cap_kv;
    struct writer_tensor *tensors; /* [n_tensors], capacity cap_tensors */
    size_t n_tensors, cap_tensors;
    /* The first misuse or allocation failure; reported by gguf_writer_write(). */
    enum eng_status status;
    char problem[256];
};

struct gguf_writer *gguf_writer_new(void)
{
    return calloc(1, sizeof(struct gguf_writer));
}

void gguf_writer_free(struct gguf_writer **pw)
{
    if (pw == NULL || *pw == NULL)
        return;
    struct gguf_writer *w = *pw;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].payload);
    }
    for (size_t i = 0; i < w->n_tensors; i++)
        free(w->tensors[i].name);
    free(w->kv);
    free(w->tensors);
    free(w);
    *pw = NULL;
}

static void writer_problem(struct gguf_writer *w, enum eng_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Remember the first problem; later calls keep working but the write fails. */
static void writer_problem(struct gguf_writer *w, enum eng_status status, const char *fmt, ...)
{
    if (w->status != ENG_STATUS_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->problem, sizeof w->problem, fmt, ap);
    va_end(ap);
    w->status = status;
}

/* Grow *arr (elements of elem_size) so that one more fits. */
static bool grow(void **arr, size_t *cap, size_t n, size_t elem_size)
{
    if (n < *cap)
        return true;
    size_t new_cap = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, new_cap * elem_size);
    if (p == NULL)
        return false;
    *arr = p;
    *cap = new_cap;
    return true;
}

/* Store key = payload (taking ownership of payload), replacing an earlier value. */
static void writer_put(struct gguf_writer *w, const char *key, enum gguf_value_type type,
                       uint8_t *payload, size_t payload_len)
{
    ENG_ASSERT(w != NULL && key != NULL);
    if (payload == NULL) {
        writer_problem(w, ENG_STATUS_ERR_NOMEM, "out of memory for key '%s'", key);
        return;
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0) {
            free(w->kv[i].payload);
            w->kv[i].type = type;
            w->kv[i].payload = payload;
            w->kv[i].payload_len = payload_len;
            return;
        }
    }
    char *key_copy = strdup(key);
    if (key_copy == NULL || !grow((void **)&w->kv, &w->cap_kv, w->n_kv, sizeof *w->kv)) {
        free(key_copy);
        free(payload);
        writer_problem(w, ENG_STATUS_ERR_NOMEM, "out of memory for key '%s'", key);
        return;
    }
    w->kv[w->n_kv++] = (struct writer_kv){key_copy, type, payload, payload_len};
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    if (q != NULL && n != 0)
        memcpy(q, p, n);
    return q;
}

void gguf_writer_set_u32(struct gguf_writer *w, const char *key, uint32_t v)
{
    writer_put(w, key, GGUF_TYPE_UINT32, dup_bytes(&v, sizeof v), sizeof v);
}

void gguf_writer_set_i32(struct gguf_writer *w, const char *key, int32_t v)
{
    writer_put(w, key, GGUF_TYPE_INT32, dup_bytes(&v, sizeof v), sizeof v);
}

void gguf_writer_set_f32(struct gguf_writer *w, const char *key, float v)
{
    writer_put(w, key, GGUF_TYPE_FLOAT32, dup_bytes(&v, sizeof v), sizeof v);
}

void gguf_writer_set_bool(struct gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    writer_put(w, key, GGUF_TYPE_BOOL, dup_bytes(&b, 1), 1);
}

/* Encoded GGUF string (u64 length + bytes) at dst; returns the bytes written. */
static size_t put_str(uint8_t *dst, const char *s, uint64_t len)
{
    memcpy(dst, &len, 8);
    if (len != 0)
        memcpy(dst + 8, s, (size_t)len);
    return 8 + (size_t)len;
}

void gguf_writer_set_str(struct gguf_writer *w, const char *key, const char *v)
{
    ENG_ASSERT(v != NULL);
    size_t len = strlen(v);
    uint8_t *p = malloc(8 + len);
    if (p != NULL)
        put_str(p, v, len);
    writer_put(w, key, GGUF_TYPE_STRING, p, 8 + len);
}

/* Payload of a fixed-size array: element type u32, count u64, elements. */
static void set_fixed_array(struct gguf_writer *w, const char *key, enum gguf_value_type t,
                            const void *v, size_t n)
{
    size_t esize = value_type_size(t);
    ENG_ASSERT(n == 0 || v != NULL);
    uint8_t *p = n <= (SIZE_MAX - 12) / esize ? malloc(12 + n * esize) : NULL;
    if (p != NULL) {
        uint32_t t32 = (uint32_t)t;
        uint64_t n64 = n;
        memcpy(p, &t32, 4);
        memcpy(p + 4, &n64, 8);
        if (n != 0)
            memcpy(p + 12, v, n * esize);
    }
    writer_put(w, key, GGUF_TYPE_ARRAY, p, 12 + n * esize);
}

void gguf_writer_set_arr_i32(struct gguf_writer *w, const char *key, const int32_t *v, size_t n)
{
    set_fixed_array(w, key, GGUF_TYPE_INT32, v, n);
}

void gguf_writer_set_arr_f32(struct gguf_writer *w, const char *key, const float *v, size_t n)
{
    set_fixed_array(w, key, GGUF_TYPE_FLOAT32, v, n);
}

/* Payload of a string array from n (pointer, length) pairs. */
static void set_str_array(struct gguf_writer *w, const char *key, const struct gguf_str *strs,
                          size_t n)
{
    size_t total = 12;
    for (size_t i = 0; i < n; i++)
        total += 8 + (size_t)strs[i].len;
    uint8_t *p = malloc(total);
    if (p != NULL) {
        uint32_t t32 = GGUF_TYPE_STRING;
        uint64_t n64 = n;
        memcpy(p, &t32, 4);
        memcpy(p + 4, &n64, 8);
        size_t at = 12;
        for (size_t i = 0; i < n; i++)
            at += put_str(p + at, strs[i].data, strs[i].len);
    }
    writer_put(w, key, GGUF_TYPE_ARRAY, p, total);
}

void gguf_writer_set_arr_str(struct gguf_writer *w, const char *key, const char *const *strs,
                             size_t n)
{
    ENG_ASSERT(n == 0 || strs != NULL);
    struct gguf_str *tmp = calloc(n ? n : 1, sizeof *tmp); /* [n] views of strs */
    if (tmp == NULL) {
        writer_problem(w, ENG_STATUS_ERR_NOMEM, "out of memory for key '%s'", key);
        return;
    }
    for (size_t i = 0; i < n; i++)
        tmp[i] = (struct gguf_str){strs[i], strlen(strs[i])};
    set_str_array(w, key, tmp, n);
    free(tmp);
}

/* Copy one key of an open file; its value was validated by gguf_open(). */
static void copy_one_kv(struct gguf_writer *w, const struct gguf_kv *kv)
{
    char key[1024];
    if (kv->key.len >= sizeof key || memchr(kv->key.data, '\0', kv->key.len) != NULL) {
        writer_problem(w, ENG_STATUS_ERR_ARG, "cannot copy key '%.*s...': too long or has NUL", 40,
                       kv->key.data);
        return;
    }
    memcpy(key, kv->key.data, kv->key.len);
    key[kv->key.len] = '\0';
    if (kv->type == GGUF_TYPE_ARRAY && kv->arr_type == GGUF_TYPE_STRING) {
        set_str_array(w, key, kv->strs, (size_t)kv->arr_n);
    } else if (kv->type == GGUF_TYPE_ARRAY) {
        set_fixed_array(w, key, kv->arr_type, kv->value, (size_t)kv->arr_n);
    } else if (kv->type == GGUF_TYPE_STRING) {
        uint64_t len;
        memcpy(&len, kv->value, 8);
        writer_put(w, key, kv->type, dup_bytes(kv->value, 8 + (size_t)len), 8 + (size_t)len);
    } else {
        size_t n = value_type_size(kv->type);
        writer_put(w, key, kv->type, dup_bytes(kv->value, n), n);
    }
}

void gguf_writer_copy_kv(struct gguf_writer *w, const struct gguf_file *f)
{
    ENG_ASSERT(w != NULL && f != NULL);
    for (uint64_t i = 0; i < f->n_kv; i++)
        copy_one_kv(w, &f->kv[i]);
}

void gguf_writer_add_tensor(struct gguf_writer *w, const char *name, enum eng_type type, int n_dims,
                            const int64_t *ne, const void *data)
{
    ENG_ASSERT(w != NULL && name != NULL && ne != NULL);
    const struct quant_traits *tr = quant_traits(type);
    if (tr == NULL || n_dims < 1 || n_dims > GGUF_MAX_DIMS) {
        writer_problem(w, ENG_STATUS_ERR_ARG, "tensor '%s': bad type %d or n_dims %d", name,
                       (int)type, n_dims);
        return;
    }
    if (strlen(name) > GGUF_MAX_TENSOR_NAME) {
        writer_problem(w, ENG_STATUS_ERR_ARG, "tensor '%s': name longer than %d bytes", name,
                       GGUF_MAX_TENSOR_NAME);
        return;
    }
    struct writer_tensor t = {.n_dims = n_dims, .type = type, .data = data};
    uint64_t n_elements = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] < 0 || __builtin_mul_overflow(n_elements, (uint64_t)t.ne[d], &n_elements) ||
            n_elements > INT64_MAX / 8) {
            writer_problem(w, ENG_STATUS_ERR_ARG, "tensor '%s': bad shape", name);
            return;
        }
    }
    if (t.ne[0] % tr->blck != 0) {
        writer_problem(w, ENG_STATUS_ERR_ARG,
                       "tensor '%s': ne[0] = %" PRId64 " is not a multiple of %s's block %d", name,
                       t.ne[0], tr->name, tr->blck);
        return;
    }
    uint64_t rows = t.ne[0] == 0 ? 0 : n_elements / (uint64_t)t.ne[0];
    t.n_bytes = (uint64_t)(t.ne[0] / tr->blck) * tr->type_size * rows;
    ENG_ASSERT(t.n_bytes == 0 || data != NULL);
    for (size_t i = 0; i < w->n_tensors; i++) {
        if (strcmp(w->tensors[i].name, name) == 0) {
            writer_problem(w, ENG_STATUS_ERR_ARG, "duplicate tensor name '%s'", name);
            return;
        }
    }
    t.name = strdup(name);
    if (t.name == NULL ||
        !grow((void **)&w->tensors, &w->cap_tensors, w->n_tensors, sizeof *w->tensors)) {
        free(t.name);
        writer_problem(w, ENG_STATUS_ERR_NOMEM, "out of memory for tensor '%s'", name);
        return;
    }
    w->tensors[w->n_tensors++] = t;
}

/* The alignment the file will use: general.alignment when set (u32 power of two). */
static bool writer_alignment(struct gguf_writer *w, uint32_t *alignment)
{
    *alignment = GGUF_DEFAULT_ALIGNMENT;
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, GGUF_KEY_ALIGNMENT) != 0)
            continue;
        uint32_t a = 0;
        if (w->kv[i].type == GGUF_TYPE_UINT32)
            memcpy(&a, w->kv[i].payload, 4);
        if (a == 0 || (a & (a - 1)) != 0) {
            writer_problem(w, ENG_STATUS_ERR_ARG, GGUF_KEY_ALIGNMENT " must be a u32 power of two");
            return false;
        }
        *alignment = a;
    }
    return true;
}

/* Buffered output to a file descriptor; large pieces bypass the buffer. */
struct out {
    int fd;
    uint8_t buf[1 << 16]; /* pending bytes [n] */
    size_t n;
    int error; /* errno of the first failure, 0 when none */
};

static void out_write_all(struct out *o, const uint8_t *p, size_t n)
{
    while (n > 0 && o->error == 0) {
        size_t chunk = n < (1u << 30) ? n : (1u << 30);
        ssize_t k = write(o->fd, p, chunk);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            o->error = k < 0 ? errno : EIO;
            return;
        }
        p += k;
        n -= (size_t)k;
    }
}

static void out_flush(struct out *o)
{
    out_write_all(o, o->buf, o->n);
    o->n = 0;
}

static void out_bytes(struct out *o, const void *p, size_t n)
{
    if (n > sizeof o->buf - o->n) {
        out_flush(o);
        if (n >= sizeof o->buf) {
            out_write_all(o, p, n); /* tensor data goes straight from the caller's memory */
            return;
        }
    }
    memcpy(o->buf + o->n, p, n);
    o->n += n;
}

static void out_zeros(struct out *o, uint64_t n)
{
    static const uint8_t zeros[4096];
    while (n > 0) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        out_bytes(o, zeros, k);
        n -= k;
    }
}

static void out_u32(struct out *o, uint32_t v)
{
    out_bytes(o, &v, 4);
}

static void out_u64(struct out *o, uint64_t v)
{
    out_bytes(o, &v, 8);
}

static void out_str(struct out *o, const char *s)
{
    uint64_t len = strlen(s);
    out_u64(o, len);
    out_bytes(o, s, (size_t)len);
}

static uint64_t pad_to(uint64_t n, uint32_t alignment)
{
    return (alignment - n % alignment) % alignment;
}

/* Header, metadata, tensor infos, padding, then each tensor's data padded. */
static void write_contents(struct out *o, const struct gguf_writer *w, uint32_t alignment)
{
    uint64_t written = 0;
    out_u32(o, GGUF_MAGIC_LE);
    out_u32(o, 3);
    out_u64(o, w->n_tensors);
    out_u64(o, w->n_kv);
    written += 24;
    for (size_t i = 0; i < w->n_kv; i++) {
        out_str(o, w->kv[i].key);
        out_u32(o, (uint32_t)w->kv[i].type);
        out_bytes(o, w->kv[i].payload, w->kv[i].payload_len);
        written += 8 + strlen(w->kv[i].key) + 4 + w->kv[i].payload_len;
    }
    for (size_t i = 0; i < w->n_tensors; i++) {
        const struct writer_tensor *t = &w->tensors[i];
        out_str(o, t->name);
        out_u32(o, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++)
            out_u64(o, (uint64_t)t->ne[d]);
        out_u32(o, (uint32_t)t->type);
        out_u64(o, t->offset);
        written += 8 + strlen(t->name) + 4 + 8 * (uint64_t)t->n_dims + 4 + 8;
    }
    out_zeros(o, pad_to(written, alignment));
    for (size_t i = 0; i < w->n_tensors; i++) {
        const struct writer_tensor *t = &w->tensors[i];
        out_bytes(o, t->data, (size_t)t->n_bytes);
        out_zeros(o, pad_to(t->n_bytes, alignment));
    }
    out_flush(o);
}

enum eng_status gguf_writer_write(struct gguf_writer *w, const char *path, struct eng_err *err)
{
    ENG_ASSERT(w != NULL && path != NULL);
    uint32_t alignment;
    writer_alignment(w, &alignment);
    if (w->status != ENG_STATUS_OK)
        return eng_set_err(err, w->status, "%s: cannot write: %s", path, w->problem);
    uint64_t offset = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        w->tensors[i].offset = offset;
        offset += w->tensors[i].n_bytes + pad_to(w->tensors[i].n_bytes, alignment);
    }

    size_t tmp_len = strlen(path) + 5;
    char *tmp = malloc(tmp_len); /* "<path>.tmp" */
    struct out *o = malloc(sizeof *o);
    if (tmp == NULL || o == NULL) {
        free(tmp);
        free(o);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, tmp_len, "%s.tmp", path);
    enum eng_status status = ENG_STATUS_OK;
    o->n = 0;
    o->error = 0;
    o->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o->fd < 0) {
        status = eng_set_err(err, ENG_STATUS_ERR_IO, "%s: cannot create %s: %s", path, tmp,
                             strerror(errno));
        goto out_free;
    }
    write_contents(o, w, alignment);
    if (o->error == 0 && fsync(o->fd) != 0)
        o->error = errno;
    if (close(o->fd) != 0 && o->error == 0)
        o->error = errno;
    if (o->error == 0 && rename(tmp, path) != 0)
        o->error = errno;
    if (o->error != 0) {
        status =
            eng_set_err(err, ENG_STATUS_ERR_IO, "%s: cannot write: %s", path, strerror(o->error));
        unlink(tmp);
    }
out_free:
    free(o);
    free(tmp);
    return status;
}
