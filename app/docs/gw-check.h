/* gw-check.h: the format check of a 公文, as a 文秘 reviewer does it.
 *
 * Every breach is reported with the source line of the paragraph, the rule
 * broken and a suggested fix, in Chinese. Rules (gw-check.c lists them all):
 * the 发文字号 form (〔〕, no 第, no leading zeros), the date form
 * (2025年3月18日), the heading level sequence, a title ending in punctuation,
 * the kind's closing formula, a 请示 with several matters or several 主送 or
 * no contact line in the 附注, a 报告 that asks for something, the
 * attachment list's punctuation, mixed half- and full-width punctuation, a
 * 主送 list too long for page 1, a cited standard that does not exist
 * (GB/T 9704-2022), ...
 */
#ifndef WENSHU_GW_CHECK_H
#define WENSHU_GW_CHECK_H

#include "gongwen.h"

enum gw_severity {
    GW_SEVERITY_ERROR,   /* breaks GB/T 9704-2012 or the 条例 */
    GW_SEVERITY_WARNING, /* usual practice; a reviewer would ask */
};

struct gw_issue {
    enum gw_severity severity;
    int line;            /* 1-based source line of the paragraph, 0 for the whole document */
    char rule[48];       /* a stable ASCII id, e.g. "doc-number-brackets" (tests match on it) */
    char message[384];   /* what is wrong, in Chinese */
    char fix[384];       /* the suggested fix, in Chinese */
};

/* Check doc. source/len: the text the document was parsed from (checks on
 * the raw text, such as mixed punctuation, read it; may be NULL).
 * Ownership: *issues is malloc'd (NULL when *n_issues is 0); free() it.
 * Returns false only when out of memory. */
bool gw_check(const struct gw_doc *doc, const char *source, size_t len, struct gw_issue **issues,
              int *n_issues, struct gw_err *err);

/* "错误" / "提示" */
const char *gw_severity_name(enum gw_severity severity);

#endif /* WENSHU_GW_CHECK_H */
