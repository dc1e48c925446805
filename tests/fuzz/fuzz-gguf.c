/* fuzz-gguf.c: libFuzzer target for the GGUF reader.
 *
 * Feeds arbitrary bytes to gguf_open_memory(). On success it also walks what
 * the reader handed out (every key formatted, every string and tensor byte
 * touched), so a pointer outside the image is caught by ASan.
 * Seeds: tests/fuzz/corpus/gguf/. Run: fuzz-gguf -max_total_time=120 CORPUS_DIR
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read every byte of a span inside the image (ASan checks the bounds). */
static unsigned touch(const void *p, uint64_t n)
{
    const uint8_t *b = p;
    unsigned sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += b[i];
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gguf_file *f = NULL;
    struct eng_err err;
    if (gguf_open_memory(data, size, "fuzz.gguf", &f, &err) != ENG_STATUS_OK)
        return 0;
    volatile unsigned sink = 0;
    char buf[200];
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const struct gguf_kv *kv = &f->kv[i];
        gguf_kv_format(kv, buf, sizeof buf);
        sink += touch(kv->key.data, kv->key.len);
        if (kv->strs != NULL)
            for (uint64_t j = 0; j < kv->arr_n; j++)
                sink += touch(kv->strs[j].data, kv->strs[j].len);
        /* Look-ups by name must find this very entry (keys are unique). */
        if (kv->key.len < sizeof buf && memchr(kv->key.data, 0, kv->key.len) == NULL) {
            memcpy(buf, kv->key.data, kv->key.len);
            buf[kv->key.len] = '\0';
            if (gguf_find_kv(f, buf) != kv)
                __builtin_trap();
        }
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const struct gguf_tensor *t = &f->tensors[i];
        sink += touch(t->name.data, t->name.len);
        sink += touch(t->data, t->n_bytes);
    }
    (void)sink;
    gguf_close(&f);
    return 0;
}
