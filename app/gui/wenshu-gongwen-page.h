/* wenshu-gongwen-page.h: the 公文 workspace of the desktop app: a form (kind,
 * issuing agency, 发文字号, 签发人, 主送, date, 附注 contact, the facts), drafting
 * through the WenshuRunner in two steps (the header as schema-bound JSON,
 * then the body streamed into the editable draft), a live format check whose
 * findings are clickable to their line, page previews drawn by the same
 * layout code as the PDF export, and export to DOCX and PDF.
 *
 * Actions (on the page): gongwen.draft, gongwen.stop, gongwen.export-docx,
 * gongwen.export-pdf. Draft is enabled while a model is loaded and nothing
 * runs; Stop while this page's draft runs.
 *
 * Signals (main loop):
 *   "checked" (int n_issues)   the format check ran on the current draft text
 *                              (-1: the draft does not parse)
 *   "preview-ready" (int n_pages)  the preview pages were redrawn (0: none)
 *   "drafted" (gboolean ok)    a drafting run ended (composed, or stopped/failed)
 *   "history-changed"          the form and draft were saved into the history
 *
 * Ownership: the page keeps a reference to its runner. Thread-safety: main
 * loop only; the preview renders in a GTask thread that touches no widget.
 */
#ifndef WENSHU_GONGWEN_PAGE_H
#define WENSHU_GONGWEN_PAGE_H

#include <adwaita.h>

#include "wenshu-history.h"
#include "wenshu-runner.h"

G_BEGIN_DECLS

#define WENSHU_TYPE_GONGWEN_PAGE (wenshu_gongwen_page_get_type())
G_DECLARE_FINAL_TYPE(WenshuGongwenPage, wenshu_gongwen_page, WENSHU, GONGWEN_PAGE, AdwBin)

/* A new page drafting with runner (the page takes a reference). */
GtkWidget *wenshu_gongwen_page_new(WenshuRunner *runner);

/* Replace the draft text (UTF-8); the check and the preview follow
 * (debounced). */
void wenshu_gongwen_page_set_draft_text(WenshuGongwenPage *self, const char *text);
/* The draft text as it stands. Ownership: the caller frees it (g_free). */
char *wenshu_gongwen_page_get_draft_text(WenshuGongwenPage *self);

/* Parse the current draft and write it as DOCX (docx not NULL) and PDF (pdf
 * not NULL), each through a temporary file, so that a failure leaves nothing
 * at the path. Errors: FALSE with error (G_IO_ERROR) naming the file. */
gboolean wenshu_gongwen_page_export(WenshuGongwenPage *self, const char *docx, const char *pdf,
                                    GError **error);

/* Save the form (JSON settings) and the draft (a message) into history as
 * a "gongwen" conversation when a draft ends and after edits (debounced);
 * NULL stops saving. The page borrows history until it is disposed or
 * another is set. */
void wenshu_gongwen_page_set_history(WenshuGongwenPage *self, WenshuHistory *history);
/* Put a saved 公文 back: the form from its settings, the draft text; later
 * edits update it. Refused (FALSE, error) while a draft is generated. */
gboolean wenshu_gongwen_page_load_conversation(WenshuGongwenPage *self, WenshuHistory *history,
                                               gint64 conversation, GError **error);
/* The saved conversation the page shows or writes, or 0. */
gint64 wenshu_gongwen_page_get_conversation(WenshuGongwenPage *self);

G_END_DECLS

#endif /* WENSHU_GONGWEN_PAGE_H */
