/* gw-text.c: small UTF-8 string tests (gw-text.h). */
#include <string.h>

#include "gw-text.h"

bool gw_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool gw_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

size_t gw_u8_count(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

size_t gw_digit_len(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    return n;
}

static const char *const han_numerals[] = {"〇", "一", "二", "三", "四", "五",
                                           "六", "七", "八", "九", "十", "零"};

/* The bytes of the Chinese numeral at s, 0 when there is none. */
static size_t han_numeral_at(const char *s)
{
    for (size_t k = 0; k < sizeof han_numerals / sizeof han_numerals[0]; k++)
        if (gw_starts_with(s, han_numerals[k]))
            return strlen(han_numerals[k]);
    return 0;
}

size_t gw_han_numeral_len(const char *s)
{
    size_t n = 0;
    for (size_t k; (k = han_numeral_at(s + n)) > 0;)
        n += k;
    return n;
}

bool gw_ends_in_punct(const char *s)
{
    static const char *const marks[] = {"。", "，", "；", "：", "！", "？", "、",
                                        ".",  ",",  ";",  ":",  "!",  "?"};
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (gw_ends_with(s, marks[i]))
            return true;
    return false;
}
