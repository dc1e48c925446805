/* gw-ingest.h: reading inputs into text: .txt/.md (UTF-8, checked), .docx
 * (libzip + libxml2: the paragraphs of word/document.xml, one per line) and
 * .pdf (poppler-glib: the text layer, page by page).
 *
 * Refused with a clear message naming the file: a binary or non-UTF-8 file,
 * an empty one, a .docx that is not a zip or has no word/document.xml, a PDF
 * without a text layer, and an input over the size cap (GW_INGEST_MAX_BYTES
 * of text, about 500 pages).
 */
#ifndef WENSHU_GW_INGEST_H
#define WENSHU_GW_INGEST_H

#include <stddef.h>

#include "gongwen.h"

#define GW_INGEST_MAX_BYTES (4u << 20) /* 4 MiB of UTF-8 text */

/* Read path by its content (zip -> docx, %PDF -> pdf, else text).
 * Ownership: *text is malloc'd and NUL-terminated; free() it. */
bool gw_ingest_file(const char *path, char **text, size_t *len, struct gw_err *err);

#endif /* WENSHU_GW_INGEST_H */
