/* engine-internal.h: small helpers shared by the engine's files. */
#ifndef WENSHU_ENGINE_INTERNAL_H
#define WENSHU_ENGINE_INTERNAL_H

#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "wenshu-engine.h"

/* Format a reason into err (may be NULL) and return status. */
enum eng_status eng_set_err(struct eng_err *err, enum eng_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An assertion that stays on in release builds (programming errors only). */
#define ENG_ASSERT(cond)                                                                   \
    do {                                                                                   \
        if (!(cond))                                                                       \
            eng_assert_fail(#cond, __FILE__, __LINE__);                                    \
    } while (0)
_Noreturn void eng_assert_fail(const char *expr, const char *file, int line);

/* FNV-1a hash of n bytes, for the engine's string-keyed hash tables. */
static inline uint64_t eng_hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#endif /* WENSHU_ENGINE_INTERNAL_H */
