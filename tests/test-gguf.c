/* test-gguf.c: the GGUF reader, writer and inspect (suite `engine`).
 *
 * 1. A file built byte by byte here, from the layout in models.md 1.1 and not
 *    with the engine's writer, must open and read back exactly; every strict
 *    prefix of it and a list of hand-made corruptions must be refused with
 *    ENG_STATUS_ERR_FORMAT and a message naming the file.
 * 2. The writer's output must read back field for field (keys, arrays, tensor
 *    shapes, types, offsets, data, padding) and be refused when truncated.
 * 3. Getters, look-ups, gguf_kv_format escaping, and eng_inspect_file.
 *
 * Modes used by tests/reference/gguf_read.py (the independent numpy reader):
 *   test-gguf --write-sample PATH   write the shared sample with the writer
 *   test-gguf --read-sample PATH    check a sample written by the Python writer
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gguf.h"

static int n_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            n_failures++;                                                                          \
        }                                                                                          \
    } while (0)

static char tmp_dir[256];

static void tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmp_dir, name);
}

/* ---- a byte builder (independent of the engine's writer) ------------------ */

struct bb {
    uint8_t *p; /* [n], capacity cap */
    size_t n, cap;
};

static void bb_bytes(struct bb *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL)
            abort();
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void bb_u8(struct bb *b, uint8_t v)
{
    bb_bytes(b, &v, 1);
}
static void bb_u32(struct bb *b, uint32_t v)
{
    bb_bytes(b, &v, 4);
}
static void bb_u64(struct bb *b, uint64_t v)
{
    bb_bytes(b, &v, 8);
}
static void bb_i64(struct bb *b, int64_t v)
{
    bb_bytes(b, &v, 8);
}

static void bb_str(struct bb *b, const char *s)
{
    bb_u64(b, strlen(s));
    bb_bytes(b, s, strlen(s));
}

static void bb_pad(struct bb *b, size_t alignment)
{
    while (b->n % alignment != 0)
        bb_u8(b, 0);
}

/* Knobs that corrupt one field of the hand-built file; zero = valid. */
struct knobs {
    uint32_t magic, version;
    bool set_n_tensors, set_n_kv;
    int64_t n_tensors, n_kv;
    bool set_key_len; /* length field of key 0 */
    uint64_t key_len;
    bool set_value_type; /* type id of key 1 */
    uint32_t value_type;
    bool set_arr_type; /* element type of the i32 array (key 2) */
    uint32_t arr_type;
    bool set_arr_n; /* count of the i32 array */
    uint64_t arr_n;
    bool set_str_arr_n; /* count of the string array (key 3) */
    uint64_t str_arr_n;
    bool dup_key;       /* key 1 named like key 0 */
    bool set_alignment; /* add general.alignment = alignment of type alignment_type */
    uint32_t alignment, alignment_type;
    bool set_n_dims; /* n_dims of tensor 1 (that many ne written, up to 8) */
    uint32_t n_dims;
    bool set_ne; /* ne of tensor 1 */
    int64_t ne0, ne1;
    bool set_type; /* type id of tensor 1 */
    int32_t type_id;
    bool set_offset; /* offset of tensor 1 */
    uint64_t offset;
    bool dup_name; /* tensor 1 named like tensor 0 */
};

/* Data of the hand-built file: t0 F32 [4, 2], t1 Q8_0 [32, 2]. */
#define HB_T0_BYTES 32
#define HB_T1_BYTES 68

static uint8_t hb_byte(size_t i)
{
    return (uint8_t)(i * 29 + 5);
}

/* The hand-built file. Its last tensor is not padded, so every strict prefix
 * is invalid. */
static void build_file(struct bb *b, const struct knobs *k)
{
    uint32_t alignment = k->set_alignment && k->alignment_type == GGUF_TYPE_UINT32 &&
                                 k->alignment != 0 && (k->alignment & (k->alignment - 1)) == 0
                             ? k->alignment
                             : 32;
    bb_u32(b, k->magic ? k->magic : 0x46554747u);
    bb_u32(b, k->version ? k->version : 3);
    bb_i64(b, k->set_n_tensors ? k->n_tensors : 2);
    bb_i64(b, k->set_n_kv ? k->n_kv : 4 + (k->set_alignment ? 1 : 0));
    /* key 0: general.architecture = "test" */
    if (k->set_key_len) {
        bb_u64(b, k->key_len);
        bb_bytes(b, "general.architecture", 20);
    } else {
        bb_str(b, "general.architecture");
    }
    bb_u32(b, GGUF_TYPE_STRING);
    bb_str(b, "test");
    /* key 1: test.u32 = 7 */
    bb_str(b, k->dup_key ? "general.architecture" : "test.u32");
    bb_u32(b, k->set_value_type ? k->value_type : GGUF_TYPE_UINT32);
    bb_u32(b, 7);
    /* key 2: test.arr = i32 [1, -2, 3] */
    bb_str(b, "test.arr");
    bb_u32(b, GGUF_TYPE_ARRAY);
    bb_u32(b, k->set_arr_type ? k->arr_type : GGUF_TYPE_INT32);
    bb_u64(b, k->set_arr_n ? k->arr_n : 3);
    bb_u32(b, 1);
    bb_u32(b, (uint32_t)-2);
    bb_u32(b, 3);
    /* key 3: test.strs = ["a", "bc", ""] */
    bb_str(b, "test.strs");
    bb_u32(b, GGUF_TYPE_ARRAY);
    bb_u32(b, GGUF_TYPE_STRING);
    bb_u64(b, k->set_str_arr_n ? k->str_arr_n : 3);
    bb_str(b, "a");
    bb_str(b, "bc");
    bb_str(b, "");
    if (k->set_alignment) {
        bb_str(b, "general.alignment");
        bb_u32(b, k->alignment_type);
        if (k->alignment_type == GGUF_TYPE_UINT64)
            bb_u64(b, k->alignment);
        else
            bb_u32(b, k->alignment);
    }
    /* tensor 0: t0 F32 [4, 2] at 0 */
    bb_str(b, "t0");
    bb_u32(b, 2);
    bb_i64(b, 4);
    bb_i64(b, 2);
    bb_u32(b, 0);
    bb_u64(b, 0);
    /* tensor 1: t1 Q8_0 [32, 2] after t0 */
    bb_str(b, k->dup_name ? "t0" : "t1");
    uint32_t n_dims = k->set_n_dims ? k->n_dims : 2;
    bb_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims && d < 8; d++)
        bb_i64(b, d == 0 ? (k->set_ne ? k->ne0 : 32) : d == 1 ? (k->set_ne ? k->ne1 : 2) : 1);
    bb_u32(b, k->set_type ? (uint32_t)k->type_id : 8);
    uint64_t t1_offset = (HB_T0_BYTES + alignment - 1) / alignment * alignment;
    bb_u64(b, k->set_offset ? k->offset : t1_offset);
    bb_pad(b, alignment);
    size_t data_start = b->n;
    for (size_t i = 0; i < t1_offset + HB_T1_BYTES; i++)
        bb_u8(b, i < HB_T0_BYTES || i >= t1_offset ? hb_byte(i) : 0);
    (void)data_start;
}

static bool contains(const char *s, const char *needle)
{
    return strstr(s, needle) != NULL;
}

/* The valid hand-built file must read back exactly. */
static void test_hand_built_valid(void)
{
    struct bb b = {0};
    struct knobs k = {0};
    build_file(&b, &k);
    struct gguf_file *f = NULL;
    struct eng_err err = {{0}};
    enum eng_status st = gguf_open_memory(b.p, b.n, "hand.gguf", &f, &err);
    CHECK(st == ENG_STATUS_OK);
    if (st != ENG_STATUS_OK) {
        fprintf(stderr, "  %s\n", err.msg);
        free(b.p);
        return;
    }
    CHECK(f->version == 3 && f->alignment == 32 && f->n_kv == 4 && f->n_tensors == 2);
    struct gguf_str s;
    CHECK(gguf_get_str(f, "general.architecture", &s) && s.len == 4 &&
          memcmp(s.data, "test", 4) == 0);
    uint32_t u;
    CHECK(gguf_get_u32(f, "test.u32", &u) && u == 7);
    const struct gguf_kv *kv = gguf_find_kv(f, "test.arr");
    CHECK(kv && kv->type == GGUF_TYPE_ARRAY && kv->arr_type == GGUF_TYPE_INT32 && kv->arr_n == 3);
    if (kv) {
        int32_t v[3];
        memcpy(v, kv->value, sizeof v);
        CHECK(v[0] == 1 && v[1] == -2 && v[2] == 3);
    }
    kv = gguf_find_kv(f, "test.strs");
    CHECK(kv && kv->arr_type == GGUF_TYPE_STRING && kv->arr_n == 3 && kv->strs);
    if (kv && kv->strs) {
        CHECK(kv->strs[0].len == 1 && kv->strs[0].data[0] == 'a');
        CHECK(kv->strs[1].len == 2 && memcmp(kv->strs[1].data, "bc", 2) == 0);
        CHECK(kv->strs[2].len == 0);
    }
    const struct gguf_tensor *t0 = gguf_find_tensor(f, "t0"), *t1 = gguf_find_tensor(f, "t1");
    CHECK(t0 && t1 && !gguf_find_tensor(f, "t2") && !gguf_find_tensor(f, "t"));
    if (t0 && t1) {
        size_t data_start = b.n - 32 - HB_T1_BYTES;
        CHECK(f->data_offset == data_start && data_start % 32 == 0);
        CHECK(t0->n_dims == 2 && t0->ne[0] == 4 && t0->ne[1] == 2 && t0->ne[2] == 1 &&
              t0->ne[3] == 1 && t0->type == ENG_TYPE_F32 && t0->n_bytes == HB_T0_BYTES);
        CHECK(t1->type == ENG_TYPE_Q8_0 && t1->offset == 32 && t1->n_bytes == HB_T1_BYTES);
        CHECK((const uint8_t *)t0->data == b.p + data_start);
        CHECK((const uint8_t *)t1->data == b.p + data_start + 32);
        CHECK(((const uint8_t *)t1->data)[5] == hb_byte(32 + 5));
    }
    gguf_close(&f);
    CHECK(f == NULL);
    gguf_close(&f); /* NULL is fine */
    free(b.p);
}

/* open_memory must refuse with a format error naming `name`. */
static bool refused_mem(const void *p, size_t n, const char *name, const char *want)
{
    struct gguf_file *f = NULL;
    struct eng_err err = {{0}};
    enum eng_status st = gguf_open_memory(p, n, name, &f, &err);
    bool ok = st == ENG_STATUS_ERR_FORMAT && f == NULL && contains(err.msg, name) &&
              (want == NULL || contains(err.msg, want));
    if (!ok)
        fprintf(stderr, "  %s (%zu bytes): status %d, message '%s' (wanted '%s')\n", name, n,
                (int)st, err.msg, want ? want : "");
    gguf_close(&f);
    return ok;
}

/* The same through a real file in the temp dir. */
static bool refused_file(const void *p, size_t n, const char *name, const char *want)
{
    char path[512];
    tmp_path(path, sizeof path, name);
    FILE *fp = fopen(path, "wb");
    if (fp == NULL || fwrite(p, 1, n, fp) != n || fclose(fp) != 0) {
        fprintf(stderr, "  cannot write %s\n", path);
        return false;
    }
    struct gguf_file *f = NULL;
    struct eng_err err = {{0}};
    enum eng_status st = gguf_open(path, &f, &err);
    bool ok = st == ENG_STATUS_ERR_FORMAT && f == NULL && contains(err.msg, path) &&
              (want == NULL || contains(err.msg, want));
    if (!ok)
        fprintf(stderr, "  %s: status %d, message '%s' (wanted '%s')\n", path, (int)st, err.msg,
                want ? want : "");
    gguf_close(&f);
    unlink(path);
    return ok;
}

static void test_truncations(void)
{
    struct bb b = {0};
    struct knobs k = {0};
    build_file(&b, &k);
    int n_bad = 0;
    for (size_t n = 0; n < b.n; n++)
        if (!refused_mem(b.p, n, "cut.gguf", NULL))
            n_bad++;
    CHECK(n_bad == 0);
    /* Through real files (mmap path), at a spread of points. */
    for (size_t n = 0; n < b.n; n += 13)
        CHECK(refused_file(b.p, n, "cut-file.gguf", NULL));
    CHECK(refused_mem(b.p, 0, "empty.gguf", "truncated at byte 0"));
    /* A cut inside ne[0] of tensor info 1 names the tensor and the byte. */
    const uint8_t *t1 = memmem(b.p, b.n, "\x02\0\0\0\0\0\0\0t1", 10);
    CHECK(t1 != NULL);
    if (t1 != NULL) {
        size_t cut = (size_t)(t1 - b.p) + 10 + 4 + 3;
        char want[160];
        snprintf(want, sizeof want,
                 "cut-t1.gguf: truncated at byte %zu while reading tensor info 1 (t1)", cut);
        CHECK(refused_mem(b.p, cut, "cut-t1.gguf", want));
    }
    free(b.p);
}

struct bad_case {
    const char *name; /* also the file name */
    struct knobs k;
    const char *want; /* a fragment of the message */
};

static void test_corruptions(void)
{
    static const struct bad_case cases[] = {
        {"magic.gguf", {.magic = 0x46554746u}, "not a GGUF file"},
        {"v1.gguf", {.version = 1}, "version 1"},
        {"v99.gguf", {.version = 99}, "version 99"},
        {"bigendian.gguf", {.version = 0x03000000u}, "big-endian"},
        {"huge-tensors.gguf", {.set_n_tensors = true, .n_tensors = INT64_C(1) << 60}, "tensors"},
        {"neg-tensors.gguf", {.set_n_tensors = true, .n_tensors = -1}, "negative"},
        {"huge-kv.gguf", {.set_n_kv = true, .n_kv = INT64_MAX}, "metadata keys"},
        {"more-kv.gguf", {.set_n_kv = true, .n_kv = 6}, NULL},
        {"huge-str.gguf", {.set_key_len = true, .key_len = UINT64_C(1) << 62}, "string length"},
        {"max-str.gguf", {.set_key_len = true, .key_len = UINT64_MAX}, "string length"},
        {"huge-arr.gguf", {.set_arr_n = true, .arr_n = UINT64_C(1) << 61}, "test.arr"},
        {"max-arr.gguf", {.set_arr_n = true, .arr_n = UINT64_MAX}, "test.arr"},
        {"huge-strarr.gguf", {.set_str_arr_n = true, .str_arr_n = UINT64_C(1) << 60}, "test.strs"},
        {"long-strarr.gguf", {.set_str_arr_n = true, .str_arr_n = 4}, NULL},
        {"vtype13.gguf", {.set_value_type = true, .value_type = 13}, "unknown value type 13"},
        {"vtype-max.gguf", {.set_value_type = true, .value_type = UINT32_MAX}, "test.u32"},
        {"arrtype.gguf", {.set_arr_type = true, .arr_type = 77}, "unknown value type 77"},
        {"nested.gguf", {.set_arr_type = true, .arr_type = GGUF_TYPE_ARRAY}, "nested"},
        {"dupkey.gguf", {.dup_key = true}, "duplicate key 'general.architecture'"},
        {"ttype.gguf", {.set_type = true, .type_id = 4}, "'t1' has unknown type id 4"},
        {"ttype-neg.gguf", {.set_type = true, .type_id = -1}, "unknown type id -1"},
        {"ttype-big.gguf", {.set_type = true, .type_id = 1000}, "unknown type id 1000"},
        {"ndims0.gguf", {.set_n_dims = true, .n_dims = 0}, "'t1' has 0 dimensions"},
        {"ndims5.gguf", {.set_n_dims = true, .n_dims = 5}, "'t1' has 5 dimensions"},
        {"neg-ne.gguf", {.set_ne = true, .ne0 = 32, .ne1 = -2}, "ne[1] = -2"},
        {"block.gguf", {.set_ne = true, .ne0 = 48, .ne1 = 2}, "not a multiple of the block"},
        {"elems-ovf.gguf",
         {.set_ne = true, .ne0 = INT64_C(1) << 40, .ne1 = INT64_C(1) << 40},
         "element count overflows"},
        {"bytes-ovf.gguf",
         {.set_ne = true,
          .set_type = true,
          .type_id = 0,
          .ne0 = INT64_C(1) << 40,
          .ne1 = INT64_C(1) << 22},
         "byte size overflows"},
        {"big-tensor.gguf", {.set_ne = true, .ne0 = 32, .ne1 = 3}, "extends past the end"},
        {"offset-end.gguf", {.set_offset = true, .offset = 1 << 20}, "extends past the end"},
        {"offset-ovf.gguf", {.set_offset = true, .offset = UINT64_MAX - 31}, "t1"},
        {"offset-near.gguf", {.set_offset = true, .offset = 64}, "extends past the end"},
        {"misaligned.gguf", {.set_offset = true, .offset = 48}, "not a multiple of the alignment"},
        {"align0.gguf",
         {.set_alignment = true, .alignment_type = GGUF_TYPE_UINT32, .alignment = 0},
         "general.alignment is 0"},
        {"align3.gguf",
         {.set_alignment = true, .alignment_type = GGUF_TYPE_UINT32, .alignment = 3},
         "general.alignment is 3"},
        {"align-type.gguf",
         {.set_alignment = true, .alignment_type = GGUF_TYPE_INT32, .alignment = 32},
         "expected u32"},
        {"align-u64.gguf",
         {.set_alignment = true, .alignment_type = GGUF_TYPE_UINT64, .alignment = 32},
         "expected u32"},
        {"misaligned64.gguf",
         {.set_alignment = true,
          .alignment_type = GGUF_TYPE_UINT32,
          .alignment = 64,
          .set_offset = true,
          .offset = 32},
         "not a multiple of the alignment 64"},
        {"dupname.gguf", {.dup_name = true}, "duplicate tensor name 't0'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct bb b = {0};
        build_file(&b, &cases[i].k);
        bool ok = refused_file(b.p, b.n, cases[i].name, cases[i].want) &&
                  refused_mem(b.p, b.n, cases[i].name, cases[i].want);
        if (!ok)
            fprintf(stderr, "  case %s failed\n", cases[i].name);
        CHECK(ok);
        free(b.p);
    }
    /* A valid variant: alignment 64 with the offset it implies. */
    struct bb b = {0};
    struct knobs k = {.set_alignment = true, .alignment_type = GGUF_TYPE_UINT32, .alignment = 64};
    build_file(&b, &k);
    struct gguf_file *f = NULL;
    struct eng_err err = {{0}};
    CHECK(gguf_open_memory(b.p, b.n, "a64.gguf", &f, &err) == ENG_STATUS_OK);
    CHECK(f && f->alignment == 64 && f->data_offset % 64 == 0 && f->tensors[1].offset == 64);
    gguf_close(&f);
    free(b.p);
    /* Version 2 has the same layout. */
    b = (struct bb){0};
    k = (struct knobs){.version = 2};
    build_file(&b, &k);
    CHECK(gguf_open_memory(b.p, b.n, "v2.gguf", &f, &err) == ENG_STATUS_OK && f->version == 2);
    gguf_close(&f);
    free(b.p);
}

/* ---- the shared sample (also checked by tests/reference/gguf_read.py) ---- */

static const int32_t sample_arr_i32[] = {-1, 0, 1, 2147483647};
static const float sample_arr_f32[] = {0.5f, -2.25f, 1e-3f};
static const char *const sample_tokens[] = {"<|im_start|>", "", "\xc4\xa0hello", "中文"};
/* F16 bits of -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5 */
static const uint16_t sample_b_f16[8] = {0xbc00, 0xb800, 0x0000, 0x3800,
                                         0x3c00, 0x3e00, 0x4000, 0x4100};

/* Tensor data of the sample: a (F32 [5,3]) = (i - 7) / 4; b as above;
 * c (Q8_0 [64, 2]) bytes (i * 37 + 11) & 255; d (F32 [2,1,3,2]) = i. */
struct sample_data {
    float a[15];
    uint8_t c[136];
    float d[12];
};

static void sample_fill(struct sample_data *s)
{
    for (int i = 0; i < 15; i++)
        s->a[i] = (float)(i - 7) * 0.25f;
    for (int i = 0; i < 136; i++)
        s->c[i] = (uint8_t)((i * 37 + 11) & 255);
    for (int i = 0; i < 12; i++)
        s->d[i] = (float)i;
}

static const int64_t sample_ne_a[] = {5, 3}, sample_ne_b[] = {8}, sample_ne_c[] = {64, 2},
                     sample_ne_d[] = {2, 1, 3, 2};

static struct gguf_writer *sample_writer(const struct sample_data *s)
{
    struct gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", "placeholder");
    gguf_writer_set_str(w, "general.name", "样例 model\n");
    gguf_writer_set_u32(w, "test.u32", 4294967295u);
    gguf_writer_set_i32(w, "test.i32", -123456);
    gguf_writer_set_f32(w, "test.f32", 0.15625f);
    gguf_writer_set_bool(w, "test.bool", true);
    gguf_writer_set_arr_i32(w, "test.arr_i32", sample_arr_i32, 4);
    gguf_writer_set_arr_f32(w, "test.arr_f32", sample_arr_f32, 3);
    gguf_writer_set_arr_str(w, "test.tokens", sample_tokens, 4);
    gguf_writer_set_str(w, "general.architecture", "wenshu-test"); /* replaces, keeps place */
    gguf_writer_add_tensor(w, "a.weight", ENG_TYPE_F32, 2, sample_ne_a, s->a);
    gguf_writer_add_tensor(w, "b.weight", ENG_TYPE_F16, 1, sample_ne_b, sample_b_f16);
    gguf_writer_add_tensor(w, "c.weight", ENG_TYPE_Q8_0, 2, sample_ne_c, s->c);
    gguf_writer_add_tensor(w, "d.weight", ENG_TYPE_F32, 4, sample_ne_d, s->d);
    return w;
}

static int write_sample(const char *path)
{
    struct sample_data s;
    sample_fill(&s);
    struct gguf_writer *w = sample_writer(&s);
    struct eng_err err = {{0}};
    enum eng_status st = gguf_writer_write(w, path, &err);
    gguf_writer_free(&w);
    if (st != ENG_STATUS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    return 0;
}

static void check_tensor(const struct gguf_file *f, const char *name, enum eng_type type,
                         int n_dims, const int64_t *ne, const void *data, size_t n_bytes)
{
    const struct gguf_tensor *t = gguf_find_tensor(f, name);
    CHECK(t != NULL);
    if (t == NULL)
        return;
    CHECK(t->type == type && t->n_dims == n_dims && t->n_bytes == n_bytes);
    for (int d = 0; d < GGUF_MAX_DIMS; d++)
        CHECK(t->ne[d] == (d < n_dims ? ne[d] : 1));
    CHECK(t->offset % f->alignment == 0);
    CHECK((const uint8_t *)t->data == f->map + f->data_offset + t->offset);
    CHECK(memcmp(t->data, data, n_bytes) == 0);
}

/* Every field of the sample. `exact_keys`: the writer's own output, where
 * the key order and count are known too. */
static void check_sample(const struct gguf_file *f, bool exact_keys)
{
    struct sample_data s;
    sample_fill(&s);
    struct gguf_str str;
    uint32_t u32;
    int64_t i64;
    float f32;
    bool b;
    CHECK(gguf_get_str(f, "general.architecture", &str) && str.len == 11 &&
          memcmp(str.data, "wenshu-test", 11) == 0);
    CHECK(gguf_get_str(f, "general.name", &str) && str.len == strlen("样例 model\n") &&
          memcmp(str.data, "样例 model\n", str.len) == 0);
    CHECK(gguf_get_u32(f, "test.u32", &u32) && u32 == 4294967295u);
    CHECK(gguf_get_i64(f, "test.i32", &i64) && i64 == -123456);
    CHECK(gguf_get_f32(f, "test.f32", &f32) && f32 == 0.15625f);
    CHECK(gguf_get_bool(f, "test.bool", &b) && b);
    const struct gguf_kv *kv = gguf_find_kv(f, "test.arr_i32");
    CHECK(kv && kv->type == GGUF_TYPE_ARRAY && kv->arr_type == GGUF_TYPE_INT32 && kv->arr_n == 4 &&
          memcmp(kv->value, sample_arr_i32, sizeof sample_arr_i32) == 0);
    kv = gguf_find_kv(f, "test.arr_f32");
    CHECK(kv && kv->arr_type == GGUF_TYPE_FLOAT32 && kv->arr_n == 3 &&
          memcmp(kv->value, sample_arr_f32, sizeof sample_arr_f32) == 0);
    kv = gguf_find_kv(f, "test.tokens");
    CHECK(kv && kv->arr_type == GGUF_TYPE_STRING && kv->arr_n == 4 && kv->strs);
    for (int i = 0; kv && kv->strs && i < 4; i++)
        CHECK(kv->strs[i].len == strlen(sample_tokens[i]) &&
              memcmp(kv->strs[i].data, sample_tokens[i], kv->strs[i].len) == 0);
    if (exact_keys) {
        static const char *const order[] = {"general.architecture",
                                            "general.name",
                                            "test.u32",
                                            "test.i32",
                                            "test.f32",
                                            "test.bool",
                                            "test.arr_i32",
                                            "test.arr_f32",
                                            "test.tokens"};
        CHECK(f->n_kv == 9 && f->version == 3 && f->alignment == 32);
        for (uint64_t i = 0; i < f->n_kv && i < 9; i++)
            CHECK(f->kv[i].key.len == strlen(order[i]) &&
                  memcmp(f->kv[i].key.data, order[i], f->kv[i].key.len) == 0);
    }
    CHECK(f->n_tensors == 4);
    check_tensor(f, "a.weight", ENG_TYPE_F32, 2, sample_ne_a, s.a, sizeof s.a);
    check_tensor(f, "b.weight", ENG_TYPE_F16, 1, sample_ne_b, sample_b_f16, 16);
    check_tensor(f, "c.weight", ENG_TYPE_Q8_0, 2, sample_ne_c, s.c, sizeof s.c);
    check_tensor(f, "d.weight", ENG_TYPE_F32, 4, sample_ne_d, s.d, sizeof s.d);
}

static int read_sample(const char *path)
{
    struct gguf_file *f = NULL;
    struct eng_err err = {{0}};
    if (gguf_open(path, &f, &err) != ENG_STATUS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    check_sample(f, false);
    gguf_close(&f);
    return n_failures ? 1 : 0;
}

static uint8_t *read_whole(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    fseek(fp, 0, SEEK_END);
    *n = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *p = malloc(*n ? *n : 1);
    if (p && fread(p, 1, *n, fp) != *n) {
        free(p);
        p = NULL;
    }
    fclose(fp);
    return p;
}

/* Writer output: exact read-back, zero padding, layout, and truncation. */
static void test_writer_roundtrip(void)
{
    char path[512];
    tmp_path(path, sizeof path, "sample.gguf");
    CHECK(write_sample(path) == 0);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0); /* renamed away */
    struct gguf_file *f = NULL;
    struct eng_err err = {{0}};
    CHECK(gguf_open(path, &f, &err) == ENG_STATUS_OK);
    if (f == NULL) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    check_sample(f, true);
    /* Tensors are laid out in order, each padded to 32 with zeros. */
    CHECK(f->data_offset % 32 == 0);
    uint64_t expect_offset = 0, end = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const struct gguf_tensor *t = &f->tensors[i];
        CHECK(t->offset == expect_offset);
        expect_offset += (t->n_bytes + 31) / 32 * 32;
        end = f->data_offset + t->offset + t->n_bytes;
        for (uint64_t j = t->n_bytes; j < (t->n_bytes + 31) / 32 * 32; j++)
            CHECK(((const uint8_t *)t->data)[j] == 0);
    }
    CHECK(f->size == f->data_offset + expect_offset);
    /* The padding between the infos and the data blob is zeros as well. */
    const struct gguf_tensor *last = &f->tensors[f->n_tensors - 1];
    const uint8_t *infos_end =
        (const uint8_t *)last->name.data + last->name.len + 4 + 8 * (size_t)last->n_dims + 4 + 8;
    for (const uint8_t *p = infos_end; p < f->map + f->data_offset; p++)
        CHECK(*p == 0);
    gguf_close(&f);

    /* Every prefix that cuts into real content is refused. */
    size_t n;
    uint8_t *img = read_whole(path, &n);
    CHECK(img != NULL);
    int n_bad = 0;
    for (size_t cut = 0; img && cut < end; cut++)
        if (!refused_mem(img, cut, "sample-cut.gguf", NULL))
            n_bad++;
    CHECK(n_bad == 0);
    free(img);
}

/* general.alignment set on the writer is used for the data layout. */
static void test_writer_alignment(void)
{
    struct sample_data s;
    sample_fill(&s);
    char path[512];
    tmp_path(path, sizeof path, "a64.gguf");
    struct gguf_writer *w = sample_writer(&s);
    gguf_writer_set_u32(w, "general.alignment", 64);
    struct eng_err err = {{0}};
    CHECK(gguf_writer_write(w, path, &err) == ENG_STATUS_OK);
    struct gguf_file *f = NULL;
    CHECK(gguf_open(path, &f, &err) == ENG_STATUS_OK);
    if (f) {
        CHECK(f->alignment == 64 && f->data_offset % 64 == 0);
        for (uint64_t i = 0; i < f->n_tensors; i++)
            CHECK(f->tensors[i].offset % 64 == 0);
        check_sample(f, false);
    }
    gguf_close(&f);
    /* A bad alignment is refused at write time and nothing is left behind. */
    gguf_writer_set_u32(w, "general.alignment", 3);
    tmp_path(path, sizeof path, "a3.gguf");
    CHECK(gguf_writer_write(w, path, &err) == ENG_STATUS_ERR_ARG && contains(err.msg, path));
    CHECK(access(path, F_OK) != 0);
    gguf_writer_free(&w);
    CHECK(w == NULL);
    gguf_writer_free(&w);
}

static void test_writer_errors(void)
{
    struct sample_data s;
    sample_fill(&s);
    struct eng_err err = {{0}};
    /* A directory that does not exist. */
    char path[512];
    tmp_path(path, sizeof path, "no-such-dir/x.gguf");
    struct gguf_writer *w = sample_writer(&s);
    CHECK(gguf_writer_write(w, path, &err) == ENG_STATUS_ERR_IO && contains(err.msg, path));
    gguf_writer_free(&w);
    /* Misuse is reported by the write, naming the path and the tensor. */
    w = gguf_writer_new();
    const int64_t ne[] = {48, 2};
    gguf_writer_add_tensor(w, "bad.weight", ENG_TYPE_Q8_0, 2, ne, s.c);
    tmp_path(path, sizeof path, "misuse.gguf");
    CHECK(gguf_writer_write(w, path, &err) == ENG_STATUS_ERR_ARG && contains(err.msg, path) &&
          contains(err.msg, "bad.weight"));
    gguf_writer_free(&w);
    w = gguf_writer_new();
    gguf_writer_add_tensor(w, "x", ENG_TYPE_F32, 2, sample_ne_a, s.a);
    gguf_writer_add_tensor(w, "x", ENG_TYPE_F32, 2, sample_ne_a, s.a);
    CHECK(gguf_writer_write(w, path, &err) == ENG_STATUS_ERR_ARG && contains(err.msg, "duplicate"));
    gguf_writer_free(&w);
    /* An empty writer makes a valid empty file. */
    w = gguf_writer_new();
    tmp_path(path, sizeof path, "empty.gguf");
    CHECK(gguf_writer_write(w, path, &err) == ENG_STATUS_OK);
    gguf_writer_free(&w);
    struct gguf_file *f = NULL;
    CHECK(gguf_open(path, &f, &err) == ENG_STATUS_OK && f->n_kv == 0 && f->n_tensors == 0);
    gguf_close(&f);
    /* A missing file is an I/O error naming it. */
    tmp_path(path, sizeof path, "missing.gguf");
    CHECK(gguf_open(path, &f, &err) == ENG_STATUS_ERR_IO && contains(err.msg, path));
}

/* copy_kv reproduces every key byte for byte. */
static void test_copy_kv(void)
{
    char src_path[512], dst_path[512];
    tmp_path(src_path, sizeof src_path, "copy-src.gguf");
    tmp_path(dst_path, sizeof dst_path, "copy-dst.gguf");
    CHECK(write_sample(src_path) == 0);
    struct gguf_file *src = NULL, *dst = NULL;
    struct eng_err err = {{0}};
    CHECK(gguf_open(src_path, &src, &err) == ENG_STATUS_OK);
    if (src == NULL)
        return;
    struct gguf_writer *w = gguf_writer_new();
    gguf_writer_copy_kv(w, src);
    gguf_writer_set_i32(w, "test.u32", -5); /* replace with another type */
    CHECK(gguf_writer_write(w, dst_path, &err) == ENG_STATUS_OK);
    gguf_writer_free(&w);
    CHECK(gguf_open(dst_path, &dst, &err) == ENG_STATUS_OK);
    if (dst != NULL) {
        CHECK(dst->n_kv == src->n_kv && dst->n_tensors == 0);
        for (uint64_t i = 0; i < src->n_kv && i < dst->n_kv; i++) {
            const struct gguf_kv *a = &src->kv[i], *b = &dst->kv[i];
            CHECK(a->key.len == b->key.len && memcmp(a->key.data, b->key.data, a->key.len) == 0);
            if (a->key.len == 8 && memcmp(a->key.data, "test.u32", 8) == 0)
                continue;
            CHECK(a->type == b->type && a->arr_type == b->arr_type && a->arr_n == b->arr_n);
            char fa[256], fb[256];
            gguf_kv_format(a, fa, sizeof fa);
            gguf_kv_format(b, fb, sizeof fb);
            CHECK(strcmp(fa, fb) == 0);
        }
        int64_t v;
        uint32_t u;
        CHECK(gguf_get_i64(dst, "test.u32", &v) && v == -5 && !gguf_get_u32(dst, "test.u32", &u));
    }
    gguf_close(&src);
    gguf_close(&dst);
}

/* Typed getters: integer widening and refusals. */
static void test_getters(void)
{
    struct bb b = {0};
    bb_u32(&b, 0x46554747u);
    bb_u32(&b, 3);
    bb_i64(&b, 0);
    bb_i64(&b, 7);
    bb_str(&b, "u8");
    bb_u32(&b, GGUF_TYPE_UINT8);
    bb_u8(&b, 200);
    bb_str(&b, "i16");
    bb_u32(&b, GGUF_TYPE_INT16);
    uint16_t m5 = (uint16_t)-5;
    bb_bytes(&b, &m5, 2);
    bb_str(&b, "u64big");
    bb_u32(&b, GGUF_TYPE_UINT64);
    bb_u64(&b, UINT64_MAX);
    bb_str(&b, "i64");
    bb_u32(&b, GGUF_TYPE_INT64);
    bb_i64(&b, -(INT64_C(1) << 40));
    bb_str(&b, "f64");
    bb_u32(&b, GGUF_TYPE_FLOAT64);
    double d = 2.5;
    bb_bytes(&b, &d, 8);
    bb_str(&b, "bool2");
    bb_u32(&b, GGUF_TYPE_BOOL);
    bb_u8(&b, 2);
    bb_str(&b, "");
    bb_u32(&b, GGUF_TYPE_UINT32);
    bb_u32(&b, 42);
    struct gguf_file *f = NULL;
    struct eng_err err = {{0}};
    CHECK(gguf_open_memory(b.p, b.n, "getters.gguf", &f, &err) == ENG_STATUS_OK);
    if (f) {
        uint32_t u;
        int64_t i;
        float x;
        bool bo;
        struct gguf_str s;
        CHECK(gguf_get_u32(f, "u8", &u) && u == 200);
        CHECK(gguf_get_i64(f, "u8", &i) && i == 200);
        CHECK(!gguf_get_u32(f, "i16", &u));
        CHECK(gguf_get_i64(f, "i16", &i) && i == -5);
        CHECK(!gguf_get_u32(f, "u64big", &u) && !gguf_get_i64(f, "u64big", &i));
        CHECK(gguf_get_i64(f, "i64", &i) && i == -(INT64_C(1) << 40) &&
              !gguf_get_u32(f, "i64", &u));
        CHECK(gguf_get_f32(f, "f64", &x) && x == 2.5f && !gguf_get_i64(f, "f64", &i));
        CHECK(gguf_get_bool(f, "bool2", &bo) && bo && !gguf_get_u32(f, "bool2", &u));
        CHECK(!gguf_get_str(f, "u8", &s) && !gguf_get_bool(f, "u8", &bo));
        CHECK(!gguf_get_u32(f, "absent", &u) && gguf_find_kv(f, "absent") == NULL);
        CHECK(gguf_get_u32(f, "", &u) && u == 42);
        CHECK(gguf_find_tensor(f, "u8") == NULL);
    }
    gguf_close(&f);
    free(b.p);
}

/* gguf_kv_format: escaping, truncation, arrays. */
static void test_format(void)
{
    static const char *const strs[] = {"a\x01z",       "\xff\xfe", "tab\there", "\"q\\", "中",
                                       "\xe2\x80\xae", "x",        "y",         "z",     "last"};
    char path[512];
    tmp_path(path, sizeof path, "format.gguf");
    struct gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "s", "bell\a and \x1b[31m red \xc3\x28 \xe6\x96\x87");
    gguf_writer_set_arr_str(w, "arr", strs, 10);
    int32_t big[100];
    for (int i = 0; i < 100; i++)
        big[i] = i * 3 - 6;
    gguf_writer_set_arr_i32(w, "ints", big, 100);
    gguf_writer_set_f32(w, "f", 0.1f);
    gguf_writer_set_bool(w, "b", false);
    struct eng_err err = {{0}};
    CHECK(gguf_writer_write(w, path, &err) == ENG_STATUS_OK);
    gguf_writer_free(&w);
    struct gguf_file *f = NULL;
    CHECK(gguf_open(path, &f, &err) == ENG_STATUS_OK);
    if (f == NULL)
        return;
    char buf[256];
    gguf_kv_format(gguf_find_kv(f, "s"), buf, sizeof buf);
    CHECK(strcmp(buf, "\"bell\\u{7} and \\u{1b}[31m red \\xc3( \xe6\x96\x87\"") == 0);
    gguf_kv_format(gguf_find_kv(f, "arr"), buf, sizeof buf);
    CHECK(strcmp(buf, "str[10] [\"a\\u{1}z\", \"\\xff\\xfe\", \"tab\\there\", \"\\\"q\\\\\", "
                      "\"中\", \"\\u{202e}\", \"x\", \"y\", ...]") == 0);
    gguf_kv_format(gguf_find_kv(f, "ints"), buf, sizeof buf);
    CHECK(strcmp(buf, "i32[100] [-6, -3, 0, 3, 6, 9, 12, 15, ...]") == 0);
    gguf_kv_format(gguf_find_kv(f, "f"), buf, sizeof buf);
    CHECK(strcmp(buf, "0.100000001") == 0);
    gguf_kv_format(gguf_find_kv(f, "b"), buf, sizeof buf);
    CHECK(strcmp(buf, "false") == 0);
    /* Small buffers: always NUL-terminated, cut with "...". */
    for (size_t n = 1; n < 40; n++) {
        char small[40];
        memset(small, 'Q', sizeof small);
        gguf_kv_format(gguf_find_kv(f, "arr"), small, n);
        CHECK(memchr(small, '\0', n) != NULL && strlen(small) < n);
        CHECK(n < 8 || contains(small, "..."));
    }
    gguf_close(&f);
}

/* Escaped output must not hold control bytes other than newlines. */
static bool is_clean_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if ((c < 0x20 && c != '\n') || c == 0x7f)
            return false;
    }
    return true;
}

static void test_inspect(void)
{
    char path[512];
    tmp_path(path, sizeof path, "inspect.gguf");
    struct sample_data s;
    sample_fill(&s);
    struct gguf_writer *w = sample_writer(&s);
    gguf_writer_set_str(w, "weird\x01key\xff", "v\x1b\x07");
    char long_str[3000];
    memset(long_str, 'x', sizeof long_str - 1);
    long_str[sizeof long_str - 1] = '\0';
    gguf_writer_set_str(w, "tokenizer.chat_template", long_str);
    struct eng_err err = {{0}};
    CHECK(gguf_writer_write(w, path, &err) == ENG_STATUS_OK);
    gguf_writer_free(&w);
    char *text = NULL;
    size_t text_len = 0;
    FILE *out = open_memstream(&text, &text_len);
    CHECK(eng_inspect_file(path, out, &err) == ENG_STATUS_OK);
    fclose(out);
    CHECK(text != NULL && is_clean_text(text, text_len));
    if (text) {
        CHECK(contains(text, "general.architecture"));
        CHECK(contains(text, "\"wenshu-test\""));
        CHECK(contains(text, "weird\\x01key\\xff"));
        CHECK(contains(text, "str[4] [\"<|im_start|>\", \"\", \"\xc4\xa0hello\", \"中文\"]"));
        CHECK(contains(text, "(2999 bytes)"));
        CHECK(contains(text, "c.weight"));
        CHECK(contains(text, "Q8_0"));
        CHECK(contains(text, "[2, 1, 3, 2]"));
        CHECK(contains(text, "[64, 2]"));
        CHECK(contains(text, "totals: 4 tensors, 163 elements"));
        /* 60 + 16 + 136 + 48 tensor bytes */
        CHECK(contains(text, "260 bytes of tensor data"));
    }
    free(text);
    /* A bad file is an error naming it, and nothing is printed. */
    tmp_path(path, sizeof path, "not-gguf.gguf");
    FILE *fp = fopen(path, "wb");
    fputs("hello, world: not a model", fp);
    fclose(fp);
    text = NULL;
    out = open_memstream(&text, &text_len);
    CHECK(eng_inspect_file(path, out, &err) == ENG_STATUS_ERR_FORMAT && contains(err.msg, path));
    fclose(out);
    CHECK(text_len == 0);
    free(text);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A model-shaped file: a 151k-string token array, 30 keys, 300 tensors.
 * Opening and looking up must be quick (the string array is indexed once). */
static void test_large_vocab(void)
{
    enum { N_TOKENS = 151643, N_TENSORS = 300 };
    char(*tok)[16] = malloc((size_t)N_TOKENS * 16); /* [N_TOKENS][16] token texts */
    const char **toks = malloc((size_t)N_TOKENS * sizeof *toks);
    float *zero = calloc(64, sizeof(float));
    struct gguf_writer *w = gguf_writer_new();
    for (int i = 0; i < N_TOKENS; i++) {
        snprintf(tok[i], 16, "tok%d", i);
        toks[i] = tok[i];
    }
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, N_TOKENS);
    for (int i = 0; i < 30; i++) {
        char key[32];
        snprintf(key, sizeof key, "model.key%d", i);
        gguf_writer_set_u32(w, key, (uint32_t)i);
    }
    for (int i = 0; i < N_TENSORS; i++) {
        char name[48];
        int64_t ne[2] = {8, 8};
        snprintf(name, sizeof name, "blk.%d.attn_q.weight", i);
        gguf_writer_add_tensor(w, name, ENG_TYPE_F32, 2, ne, zero);
    }
    char path[512];
    tmp_path(path, sizeof path, "vocab.gguf");
    struct eng_err err = {{0}};
    double t0 = now_s();
    CHECK(gguf_writer_write(w, path, &err) == ENG_STATUS_OK);
    double t1 = now_s();
    gguf_writer_free(&w);
    struct gguf_file *f = NULL;
    CHECK(gguf_open(path, &f, &err) == ENG_STATUS_OK);
    double t2 = now_s();
    if (f) {
        const struct gguf_kv *kv = gguf_find_kv(f, "tokenizer.ggml.tokens");
        CHECK(kv && kv->arr_n == N_TOKENS && kv->strs[N_TOKENS - 1].len == 9 &&
              memcmp(kv->strs[151642].data, "tok151642", 9) == 0);
        uint32_t u, sum = 0;
        for (int rep = 0; rep < 10000; rep++) {
            for (int i = 0; i < 30; i += 7) {
                char key[32];
                snprintf(key, sizeof key, "model.key%d", i);
                if (gguf_get_u32(f, key, &u))
                    sum += u;
            }
        }
        CHECK(sum == 10000u * (0 + 7 + 14 + 21 + 28));
        for (int i = 0; i < N_TENSORS; i++) {
            char name[48];
            snprintf(name, sizeof name, "blk.%d.attn_q.weight", i);
            const struct gguf_tensor *t = gguf_find_tensor(f, name);
            CHECK(t && t == &f->tensors[i]);
        }
    }
    double t3 = now_s();
    fprintf(stderr,
            "large vocab: write %.1f ms, open %.1f ms, 50k key + 300 tensor look-ups %.1f ms\n",
            (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3);
    CHECK(t2 - t1 < 1.0 && t3 - t2 < 1.0);
    gguf_close(&f);
    free(tok);
    free(toks);
    free(zero);
}

static void remove_tmp_dir(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tmp_dir);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-sample") == 0)
        return write_sample(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--read-sample") == 0)
        return read_sample(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--write-sample PATH | --read-sample PATH]\n", argv[0]);
        return 2;
    }
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmp_dir, sizeof tmp_dir, "%s/test-gguf-XXXXXX", base);
    if (mkdtemp(tmp_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_hand_built_valid();
    test_truncations();
    test_corruptions();
    test_writer_roundtrip();
    test_writer_alignment();
    test_writer_errors();
    test_copy_kv();
    test_getters();
    test_format();
    test_inspect();
    test_large_vocab();
    remove_tmp_dir();
    if (n_failures) {
        fprintf(stderr, "test-gguf: %d checks failed\n", n_failures);
        return 1;
    }
    printf("test-gguf: all checks passed\n");
    return 0;
}
