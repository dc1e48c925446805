/* wenshu-page-util.h: small helpers the task pages (公文, slides, clip)
 * share: the status line, a text view's text, and the removal of a
 * temporary folder of rendered pages.
 * Thread-safety: wenshu_remove_dir is safe from any thread; the others are
 * for the main loop. */
#ifndef WENSHU_PAGE_UTIL_H
#define WENSHU_PAGE_UTIL_H

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Show text in a page's status label, styled "error" when is_error. */
void wenshu_status_set(GtkLabel *label, gboolean is_error, const char *text);

/* The whole text of a buffer (g_free it). */
char *wenshu_buffer_text(GtkTextBuffer *buffer);

/* Remove a folder of plain files (a preview's temporary pages). */
void wenshu_remove_dir(const char *dir);

G_END_DECLS

#endif /* WENSHU_PAGE_UTIL_H */
