/* engine-internal.h: small helpers shared by the engine's files. */
#ifndef WENSHU_ENGINE_INTERNAL_H
#define WENSHU_ENGINE_INTERNAL_H

#include <assert.h>
#include <stdarg.h>

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

#endif /* WENSHU_ENGINE_INTERNAL_H */
