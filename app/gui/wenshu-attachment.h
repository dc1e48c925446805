/* wenshu-attachment.h: one file the user attached to a prompt: a text file,
 * a document (.docx, .pdf), an image or a video. Loading reads and checks it
 * on a worker thread: the text of a text file or document (gw_ingest_file),
 * an image's size and a thumbnail (eng_image_load, so what the model will
 * read is what was checked), a video's duration and a few sampled keyframes
 * (eng_video_sample). A file that cannot be read fails with a GError whose
 * message names the file and the problem.
 *
 * Ownership: WenshuAttachment is a GObject (G_DECLARE_FINAL_TYPE); strings and
 * textures returned by getters are owned by it.
 * Thread-safety: main thread, except the load, which runs in a GTask thread.
 */
#ifndef WENSHU_ATTACHMENT_H
#define WENSHU_ATTACHMENT_H

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef enum {
    WENSHU_ATTACHMENT_TEXT,     /* .txt, .md and other UTF-8 text */
    WENSHU_ATTACHMENT_DOCUMENT, /* .docx or .pdf, read to text */
    WENSHU_ATTACHMENT_IMAGE,
    WENSHU_ATTACHMENT_VIDEO,
} WenshuAttachmentKind;

#define WENSHU_ATTACHMENT_ERROR (wenshu_attachment_error_quark())
GQuark wenshu_attachment_error_quark(void);
enum {
    WENSHU_ATTACHMENT_ERROR_UNREADABLE = 1, /* missing, unreadable, corrupt, empty */
    WENSHU_ATTACHMENT_ERROR_UNSUPPORTED = 2, /* a kind of file Wenshu cannot read */
    WENSHU_ATTACHMENT_ERROR_TOO_LARGE = 3,
};

#define WENSHU_TYPE_ATTACHMENT (wenshu_attachment_get_type())
G_DECLARE_FINAL_TYPE(WenshuAttachment, wenshu_attachment, WENSHU, ATTACHMENT, GObject)

/* Read and check a local file on a worker thread. */
void wenshu_attachment_load_async(GFile *file, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
/* The attachment (a new reference), or NULL and error. */
WenshuAttachment *wenshu_attachment_load_finish(GAsyncResult *result, GError **error);

WenshuAttachmentKind wenshu_attachment_get_kind(WenshuAttachment *self);
const char *wenshu_attachment_get_path(WenshuAttachment *self);
/* The file's display name ("report.docx"). */
const char *wenshu_attachment_get_name(WenshuAttachment *self);
/* TEXT and DOCUMENT: the text, UTF-8; NULL for media. */
const char *wenshu_attachment_get_text(WenshuAttachment *self);
/* A short line for the chip: "1,234 characters", "1280 × 720",
 * "0:42 · 6 keyframes". */
const char *wenshu_attachment_get_summary(WenshuAttachment *self);
/* A small picture for the chip (images: the image; videos: the first
 * keyframe); NULL for text and documents. */
GdkTexture *wenshu_attachment_get_thumbnail(WenshuAttachment *self);
/* VIDEO: the clip's length in seconds (0 otherwise), and its sampled
 * keyframes: [n] textures and their times in seconds. */
double wenshu_attachment_get_duration(WenshuAttachment *self);
int wenshu_attachment_get_n_keyframes(WenshuAttachment *self);
GdkTexture *wenshu_attachment_get_keyframe(WenshuAttachment *self, int index, double *time);
/* Whether the kind needs a vision projector (IMAGE, VIDEO). */
gboolean wenshu_attachment_is_media(WenshuAttachment *self);

G_END_DECLS

#endif /* WENSHU_ATTACHMENT_H */
