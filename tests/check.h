/* check.h: the failure counter and CHECK macros of the C unit tests
 * (test-gw-draft.c, test-gw-parse.c, test-chat.c, test-sampler.c).
 *
 * CHECK(cond, fmt, ...) prints "FAIL file:line: <message>" to stderr and
 * counts the failure in n_fail when cond is false; the test's main() returns
 * non-zero when n_fail > 0. Include it once, from the test's .c file. */
#ifndef WENSHU_TESTS_CHECK_H
#define WENSHU_TESTS_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int n_fail;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                           \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            n_fail++;                                                                      \
        }                                                                                  \
    } while (0)

/* s equals want (NULL matches NULL). */
static inline bool str_eq(const char *s, const char *want)
{
    if (!s || !want)
        return s == want;
    return strcmp(s, want) == 0;
}

#define CHECK_STR(got, want) CHECK(str_eq((got), (want)), "%s: got \"%s\", want \"%s\"", #got, \
                                   (got) ? (got) : "(null)", (want) ? (want) : "(null)")
#define CHECK_INT(got, want) CHECK((got) == (want), "%s: got %d, want %d", #got, (int)(got), \
                                   (int)(want))

#endif
