/* wenshu-attachment-bar.h: the attachments of a prompt, shown as chips (a
 * thumbnail or icon, the name, a summary line, a remove button; a video's
 * chip also shows its keyframes). Files come in through
 *   - the bar's add button (a file chooser),
 *   - drag and drop onto a widget the owner names
 *     (wenshu_attachment_bar_add_drop_target),
 *   - paste: wenshu_attachment_bar_paste reads the clipboard's files, or an
 *     image (saved as a PNG in a temporary folder the bar owns),
 *   - wenshu_attachment_bar_add_file (tests, and the owner's own flows).
 * Each file loads on a worker thread (a spinner chip meanwhile). A file that
 * cannot be read, or an image or video while media are not accepted (a
 * text-only model), is refused: it gets no chip and "refused" is emitted
 * with the reason, which names the file.
 *
 * Signals (main loop):
 *   "changed" ()                      an attachment was added or removed
 *   "refused" (const char *reason)    a file was not attached, and why
 *
 * Ownership: the bar owns its attachments (a GListStore of WenshuAttachment).
 * Thread-safety: main thread only.
 */
#ifndef WENSHU_ATTACHMENT_BAR_H
#define WENSHU_ATTACHMENT_BAR_H

#include <gtk/gtk.h>

#include "wenshu-attachment.h"

G_BEGIN_DECLS

#define WENSHU_TYPE_ATTACHMENT_BAR (wenshu_attachment_bar_get_type())
G_DECLARE_FINAL_TYPE(WenshuAttachmentBar, wenshu_attachment_bar, WENSHU, ATTACHMENT_BAR,
                     GtkWidget)

GtkWidget *wenshu_attachment_bar_new(void);

/* Start loading a file; a chip appears when it has loaded. */
void wenshu_attachment_bar_add_file(WenshuAttachmentBar *self, GFile *file);
/* Accept drops of files (a GdkFileList or one GFile) on widget. */
void wenshu_attachment_bar_add_drop_target(WenshuAttachmentBar *self, GtkWidget *widget);
/* Attach what the clipboard holds: files, else an image. Returns FALSE
 * when it holds neither (the owner then lets the text view paste text). */
gboolean wenshu_attachment_bar_paste(WenshuAttachmentBar *self, GdkClipboard *clipboard);
/* Whether images and videos are accepted (the model has a projector).
 * Turning it off refuses (removes, with "refused") media already attached. */
void wenshu_attachment_bar_set_accept_media(WenshuAttachmentBar *self, gboolean accept,
                                            const char *reason_when_not);
/* The attachments in order (a GListModel of WenshuAttachment, owned by the bar). */
GListModel *wenshu_attachment_bar_get_items(WenshuAttachmentBar *self);
/* Files still loading. */
int wenshu_attachment_bar_get_n_pending(WenshuAttachmentBar *self);
void wenshu_attachment_bar_clear(WenshuAttachmentBar *self);

G_END_DECLS

#endif /* WENSHU_ATTACHMENT_BAR_H */
