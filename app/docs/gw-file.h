/* gw-file.h: writing an output file so that nothing half-written is ever
 * left at its path: write into a temporary file beside it, then rename.
 * Internal to libwenshu-docs and its users (gw-pdf.c, deck-pdf.c, ooxml.c).
 *
 * Thread-safety: safe; temporary names are unique within the process. */
#ifndef WENSHU_GW_FILE_H
#define WENSHU_GW_FILE_H

#include <stdbool.h>

#include "gongwen.h"

/* A fresh temporary name beside path, "<path>.tmp-<pid>-<n>"; nothing is
 * created. Ownership: malloc'd, the caller frees it; NULL when out of memory. */
char *gw_file_temp_name(const char *path);

/* A temporary file beside path, created empty with the mode an ordinary new
 * file gets (0666 less the umask). Ownership: the name is malloc'd; pass it to
 * gw_file_replace(). Errors: NULL, with err (may be NULL) naming path. */
char *gw_file_temp_beside(const char *path, struct gw_err *err);

/* When ok, rename tmp over path, else remove tmp; frees tmp. Returns whether
 * path now holds the new file. Errors: err (may be NULL) names path. */
bool gw_file_replace(char *tmp, const char *path, bool ok, struct gw_err *err);

#endif
