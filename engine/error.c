/* error.c: status names and error formatting shared by the whole engine. */
#include <stdio.h>
#include <stdlib.h>

#include "engine-internal.h"

const char *eng_status_name(enum eng_status status)
{
    switch (status) {
    case ENG_STATUS_OK: return "ok";
    case ENG_STATUS_ERR_IO: return "I/O error";
    case ENG_STATUS_ERR_FORMAT: return "format error";
    case ENG_STATUS_ERR_NOMEM: return "out of memory";
    case ENG_STATUS_ERR_ARG: return "bad argument";
    case ENG_STATUS_ERR_CONTEXT: return "context full";
    case ENG_STATUS_ERR_UNSUPPORTED: return "unsupported";
    case ENG_STATUS_CANCELLED: return "cancelled";
    }
    return "unknown status";
}

enum eng_status eng_set_err(struct eng_err *err, enum eng_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

void eng_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "wenshu: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
