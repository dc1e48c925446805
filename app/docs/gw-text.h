/* gw-text.h: the small UTF-8 string tests that the 公文 parser, checker,
 * drafting recipes and DOCX export share. Internal to libwenshu-docs.
 *
 * Thread-safety: safe; every function only reads its arguments. */
#ifndef WENSHU_GW_TEXT_H
#define WENSHU_GW_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Whether s begins with prefix / ends with suffix (byte comparison). */
bool gw_starts_with(const char *s, const char *prefix);
bool gw_ends_with(const char *s, const char *suffix);

/* Number of code points in UTF-8 s: the bytes that are not continuation
 * bytes (10xxxxxx). */
size_t gw_u8_count(const char *s);

/* Length in bytes of the run of ASCII digits at s. */
size_t gw_digit_len(const char *s);

/* Length in bytes of the run of Chinese numerals at s (〇 一…十 零). */
size_t gw_han_numeral_len(const char *s);

/* Whether s ends in sentence or clause punctuation, full-width or ASCII
 * (。，；：！？、 .,;:!?). */
bool gw_ends_in_punct(const char *s);

#endif
