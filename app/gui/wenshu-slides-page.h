/* wenshu-slides-page.h: the 幻灯片 workspace of the desktop app: a topic, an
 * optional source document (.docx/.pdf/.md/.txt through gw_ingest_file), a
 * slide count and a theme; "Outline" asks the model for the deck outline
 * (schema-bound JSON, streamed into an editable view); "Slides" writes each
 * slide's bullets and notes in turn with a progress bar; thumbnails of the
 * deck as it stands (deck_export_png in a GTask thread); export to PPTX and
 * PDF through app/deck.
 *
 * The editable view holds either an outline (slides with "points") or a
 * deck JSON (slides with "bullets", deck.h); both preview and export.
 *
 * Actions (on the page): slides.outline, slides.generate, slides.stop,
 * slides.open-source, slides.export-pptx, slides.export-pdf.
 *
 * Signals (main loop):
 *   "outlined" (gboolean ok)         the outline step ended
 *   "generated" (gboolean ok)        the slides step ended
 *   "preview-ready" (int n_pages)    thumbnails redrawn (0: the JSON does not read)
 *
 * Ownership: the page keeps a reference to its runner. Thread-safety: main
 * loop only; the thumbnails render in a GTask thread that touches no widget.
 */
#ifndef WENSHU_SLIDES_PAGE_H
#define WENSHU_SLIDES_PAGE_H

#include <adwaita.h>

#include "wenshu-runner.h"

G_BEGIN_DECLS

#define WENSHU_TYPE_SLIDES_PAGE (wenshu_slides_page_get_type())
G_DECLARE_FINAL_TYPE(WenshuSlidesPage, wenshu_slides_page, WENSHU, SLIDES_PAGE, AdwBin)

/* A new page generating with runner (may be NULL; the page takes a reference). */
GtkWidget *wenshu_slides_page_new(WenshuRunner *runner);

/* Replace the outline/deck JSON in the editable view; the thumbnails follow
 * (debounced). */
void wenshu_slides_page_set_outline_text(WenshuSlidesPage *self, const char *json);
/* The JSON as it stands. Ownership: the caller frees it (g_free). */
char *wenshu_slides_page_get_outline_text(WenshuSlidesPage *self);

/* Read a source document (gw_ingest_file) for the prompts.
 * Errors: FALSE with error (G_IO_ERROR) naming the file. */
gboolean wenshu_slides_page_set_source(WenshuSlidesPage *self, const char *path, GError **error);

/* Write the deck as it stands as PPTX (pptx not NULL) and PDF (pdf not
 * NULL) in the chosen theme; each file is written to a temporary name and
 * renamed. Errors: FALSE with error (G_IO_ERROR) naming the problem. */
gboolean wenshu_slides_page_export(WenshuSlidesPage *self, const char *pptx, const char *pdf,
                                   GError **error);

G_END_DECLS

#endif /* WENSHU_SLIDES_PAGE_H */
