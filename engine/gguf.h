/* gguf.h: reading and writing GGUF files (private to the engine).
 *
 * gguf_open() maps a file read-only and validates everything in it before
 * returning: every count, string length, array length, value type, tensor
 * dimension, type id, offset, alignment and tensor extent is checked against
 * the file size. After a successful open, every pointer handed out points
 * inside the mapping and every tensor's bytes lie inside the file.
 *
 * The writer builds a file in memory-light form: metadata and tensor infos
 * are collected, then gguf_writer_write() streams header, infos, padding and
 * tensor data to disk (through a temporary file and a rename).
 */
#ifndef WENSHU_GGUF_H
#define WENSHU_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant.h"
#include "wenshu-engine.h"

#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGNMENT 32

enum gguf_value_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT
};

/* A string inside the mapping: not NUL-terminated. */
struct gguf_str {
    const char *data;
    uint64_t len;
};

struct gguf_kv {
    struct gguf_str key;
    enum gguf_value_type type;     /* GGUF_TYPE_ARRAY for arrays */
    enum gguf_value_type arr_type; /* element type when type == GGUF_TYPE_ARRAY */
    uint64_t arr_n;                /* element count when type == GGUF_TYPE_ARRAY */
    const uint8_t *value;          /* points at the value (or first array element) in the map */
    /* For string arrays: strs[arr_n], each pointing into the map (owned by the gguf_file). */
    struct gguf_str *strs;
};

struct gguf_tensor {
    struct gguf_str name;
    int n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the contiguous axis; unused dims are 1 */
    enum eng_type type;
    uint64_t offset;           /* relative to the data blob */
    uint64_t n_bytes;          /* validated: data + n_bytes <= end of file */
    const void *data;          /* inside the mapping, or its private copy */
};

struct gguf_file {
    char *path;            /* owned copy of the path, for messages */
    const uint8_t *map;    /* the whole file, read-only */
    uint64_t size;
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv;
    struct gguf_kv *kv;    /* [n_kv], owned */
    uint64_t n_tensors;
    struct gguf_tensor *tensors; /* [n_tensors], owned */
    uint64_t data_offset;  /* file offset of the data blob */
};

/* Map and validate a GGUF file.
 * Ownership: on success *out owns the file; close it with gguf_close().
 * Errors: ENG_STATUS_ERR_IO or ENG_STATUS_ERR_FORMAT, with a reason that names
 * the path and the problem (and the byte offset where that helps). */
enum eng_status gguf_open(const char *path, struct gguf_file **out, struct eng_err *err);

/* How gguf_open_ex() brings the file into memory. */
enum gguf_load_mode {
    GGUF_LOAD_MMAP,       /* map the file read-only (shared with the page cache) */
    GGUF_LOAD_HUGE_PAGES, /* map it, and read the tensor data into private memory on
                           * transparent huge pages when the kernel offers them:
                           * weights then stream about 1.5x faster on two threads */
};

/* gguf_open() with a choice of load mode. */
enum eng_status gguf_open_ex(const char *path, enum gguf_load_mode mode, struct gguf_file **out,
                             struct eng_err *err);

/* gguf_open_ex() that reports the read: when the data section is read into
 * private memory (GGUF_LOAD_HUGE_PAGES where the kernel offers huge pages),
 * progress (may be NULL) gets the tensor bytes read so far of the sum of
 * every tensor's n_bytes: first 0, then after each chunk of 32 MiB, the last
 * call with done == total. A file that is only mapped gets no call. */
enum eng_status gguf_open_with_progress(const char *path, enum gguf_load_mode mode,
                                        eng_progress_fn progress, void *progress_user_data,
                                        struct gguf_file **out, struct eng_err *err);

/* Validate a GGUF image held in memory (used by the fuzz target). `name` is
 * used in messages. The buffer must outlive the returned file. */
enum eng_status gguf_open_memory(const void *data, size_t size, const char *name,
                                 struct gguf_file **out, struct eng_err *err);

/* The tensor data will not be read for a while (it was copied to a GPU): on
 * a file mapped with GGUF_LOAD_MMAP its pages leave the resident set, and
 * come back from the file if touched again. No effect on a private copy. */
void gguf_drop_resident_data(struct gguf_file *f);

/* Unmap and free; sets *f to NULL. Accepts NULL. */
void gguf_close(struct gguf_file **f);

/* Look-ups. NULL / -1 when absent. Keys are compared as exact byte strings. */
const struct gguf_kv *gguf_find_kv(const struct gguf_file *f, const char *key);
const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name);

/* Typed getters. They return false when the key is absent or of another
 * type; integer getters accept any integer type whose value fits. */
bool gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *out);
bool gguf_get_i64(const struct gguf_file *f, const char *key, int64_t *out);
bool gguf_get_f32(const struct gguf_file *f, const char *key, float *out);
bool gguf_get_bool(const struct gguf_file *f, const char *key, bool *out);
bool gguf_get_str(const struct gguf_file *f, const char *key, struct gguf_str *out);

/* A scalar value of kv printed as text (for `wenshu-cli inspect`), into buf. */
void gguf_kv_format(const struct gguf_kv *kv, char *buf, size_t buf_size);

/* The name of a value type ("u32", "str", ...). */
const char *gguf_value_type_name(enum gguf_value_type t);

/* ---- writer ------------------------------------------------------------- */

struct gguf_writer;

struct gguf_writer *gguf_writer_new(void);
void gguf_writer_free(struct gguf_writer **w);

/* Metadata setters. Keys and values are copied. */
void gguf_writer_set_u32(struct gguf_writer *w, const char *key, uint32_t v);
void gguf_writer_set_i32(struct gguf_writer *w, const char *key, int32_t v);
void gguf_writer_set_f32(struct gguf_writer *w, const char *key, float v);
void gguf_writer_set_bool(struct gguf_writer *w, const char *key, bool v);
void gguf_writer_set_str(struct gguf_writer *w, const char *key, const char *v);
/* Arrays: elements are copied. For strings, strs[n] are NUL-terminated. */
void gguf_writer_set_arr_i32(struct gguf_writer *w, const char *key, const int32_t *v, size_t n);
void gguf_writer_set_arr_f32(struct gguf_writer *w, const char *key, const float *v, size_t n);
void gguf_writer_set_arr_str(struct gguf_writer *w, const char *key, const char *const *strs,
                             size_t n);
/* Copy every KV pair of an open file (used by quantize). */
void gguf_writer_copy_kv(struct gguf_writer *w, const struct gguf_file *f);

/* Add a tensor. data (n_bytes = the type's row size times rows) is NOT copied:
 * it must stay valid until gguf_writer_write() returns. */
void gguf_writer_add_tensor(struct gguf_writer *w, const char *name, enum eng_type type,
                            int n_dims, const int64_t *ne, const void *data);

/* Write the file (v3, alignment 32) to path.tmp, then rename it to path. */
enum eng_status gguf_writer_write(struct gguf_writer *w, const char *path, struct eng_err *err);

#endif /* WENSHU_GGUF_H */
