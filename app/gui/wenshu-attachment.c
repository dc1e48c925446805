/* wenshu-attachment.c: one attached file, read and checked on a GTask thread
 * (see wenshu-attachment.h).
 *
 * The kind is told by the name first, so that a .txt never reaches FFmpeg:
 * text, .docx and .pdf go to gw_ingest_file (which checks UTF-8, NUL bytes,
 * empty files and the 4 MiB cap itself), image names to eng_image_load,
 * video names to eng_video_sample. A name we do not know is sniffed: a PDF
 * header or UTF-8 text without NUL bytes, then an image decode, then a video
 * decode, else it is refused as unsupported. Every reason starts with the
 * file's display name. The thumbnail (at most THUMB_EDGE pixels a side) is
 * a box average of the decoded RGB, made on the worker; the textures are
 * immutable, so the main loop may use them as they are.
 */
#include "wenshu-attachment.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "gw-ingest.h"
#include "wenshu-engine.h"

#define THUMB_EDGE 96     /* a chip's thumbnail, pixels on the longest side */
#define KEYFRAME_EDGE 160 /* a video's sampled keyframes */
#define N_KEYFRAMES 6     /* sampled evenly over the clip */
#define SNIFF_BYTES 4096  /* read to tell text from binary when the name says nothing */

struct _WenshuAttachment {
    GObject parent_instance;

    WenshuAttachmentKind kind;
    char *path;             /* the local file, in the file system's encoding */
    char *name;             /* its display name, UTF-8 */
    char *text;             /* TEXT, DOCUMENT: the text, UTF-8; else NULL */
    char *summary;          /* the chip's second line */
    GdkTexture *thumbnail;  /* IMAGE, VIDEO; else NULL */
    double duration;        /* VIDEO: seconds */
    GPtrArray *keyframes;   /* VIDEO: [n] GdkTexture, owned; else NULL */
    double *keyframe_times; /* VIDEO: [n] seconds, g_malloc'd */
};

G_DEFINE_FINAL_TYPE(WenshuAttachment, wenshu_attachment, G_TYPE_OBJECT)

GQuark wenshu_attachment_error_quark(void)
{
    return g_quark_from_static_string("wenshu-attachment-error-quark");
}

static const char *const text_extensions[] = {
    "txt", "text", "md",  "markdown", "rst", "csv", "tsv",  "json", "log",
    "xml", "html", "htm", "yaml",     "yml", "ini", "toml", "srt",  "vtt",
    "tex", "c",    "h",   "py",       "js",  "sh",  NULL};
static const char *const document_extensions[] = {"docx", "pdf", NULL};
static const char *const image_extensions[] = {"png", "jpg", "jpeg", "webp", "bmp",
                                               "gif", "tif", "tiff", NULL};
static const char *const video_extensions[] = {"mp4",  "m4v", "mov", "mkv", "webm", "avi", "mpg",
                                               "mpeg", "ts",  "flv", "wmv", "3gp",  "ogv", NULL};

static void wenshu_attachment_finalize(GObject *object)
{
    WenshuAttachment *self = WENSHU_ATTACHMENT(object);
    g_free(self->path);
    g_free(self->name);
    g_free(self->text);
    g_free(self->summary);
    g_clear_object(&self->thumbnail);
    g_clear_pointer(&self->keyframes, g_ptr_array_unref);
    g_free(self->keyframe_times);
    G_OBJECT_CLASS(wenshu_attachment_parent_class)->finalize(object);
}

static void wenshu_attachment_class_init(WenshuAttachmentClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = wenshu_attachment_finalize;
}

static void wenshu_attachment_init(WenshuAttachment *self)
{
    (void)self;
}

/* ---- reasons ------------------------------------------------------------------------- */

/* A library's reason with the file's display name in front instead of its
 * path ("report.pdf: the PDF has no text layer"). Caller frees. */
static char *reason_with_name(const char *name, const char *path, const char *msg)
{
    if (g_str_has_prefix(msg, path))
        return g_strconcat(name, msg + strlen(path), NULL);
    return g_strdup_printf("%s: %s", name, msg);
}

static gboolean has_extension(const char *name, const char *const *extensions)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return FALSE;
    for (int i = 0; extensions[i]; i++)
        if (g_ascii_strcasecmp(dot + 1, extensions[i]) == 0)
            return TRUE;
    return FALSE;
}

/* "1,234": n with commas between groups of three digits. Caller frees. */
static char *group_thousands(gsize n)
{
    char digits[32];
    int len = g_snprintf(digits, sizeof digits, "%" G_GSIZE_FORMAT, n);
    GString *out = g_string_new(NULL);
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            g_string_append_c(out, ',');
        g_string_append_c(out, digits[i]);
    }
    return g_string_free(out, FALSE);
}

/* "0:42", or "1:02:03" past an hour. Caller frees. */
static char *format_duration(double seconds)
{
    long s = (long)floor(seconds + 0.5);
    if (s >= 3600)
        return g_strdup_printf("%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    return g_strdup_printf("%ld:%02ld", s / 60, s % 60);
}

/* ---- thumbnails ---------------------------------------------------------------------- */

/* An RGB image as a texture, box-averaged down so that its longest edge is
 * at most max_edge (copied as it is when already small enough).
 * rgb: [height][width][3]. Returns a new texture. */
static GdkTexture *texture_from_rgb(const guint8 *rgb, int width, int height, int max_edge)
{
    int longest = MAX(width, height);
    int out_w = width, out_h = height;
    if (longest > max_edge) {
        out_w = MAX(1, (int)lround((double)width * max_edge / longest));
        out_h = MAX(1, (int)lround((double)height * max_edge / longest));
    }
    gsize out_stride = (gsize)out_w * 3;
    guint8 *out = g_malloc(out_stride * (gsize)out_h); /* [out_h][out_w][3] */
    for (int oy = 0; oy < out_h; oy++) {
        int y0 = (int)((gint64)oy * height / out_h);
        int y1 = MAX(y0 + 1, (int)((gint64)(oy + 1) * height / out_h));
        for (int ox = 0; ox < out_w; ox++) {
            int x0 = (int)((gint64)ox * width / out_w);
            int x1 = MAX(x0 + 1, (int)((gint64)(ox + 1) * width / out_w));
            guint64 sum[3] = {0, 0, 0};
            for (int y = y0; y < y1; y++) {
                const guint8 *row = rgb + ((gsize)y * (gsize)width + (gsize)x0) * 3;
                for (int x = x0; x < x1; x++, row += 3) {
                    sum[0] += row[0];
                    sum[1] += row[1];
                    sum[2] += row[2];
                }
            }
            guint64 n = (guint64)(y1 - y0) * (guint64)(x1 - x0);
            guint8 *px = out + (gsize)oy * out_stride + (gsize)ox * 3;
            for (int c = 0; c < 3; c++)
                px[c] = (guint8)((sum[c] + n / 2) / n);
        }
    }
    GBytes *bytes = g_bytes_new_take(out, out_stride * (gsize)out_h);
    GdkTexture *texture =
        gdk_memory_texture_new(out_w, out_h, GDK_MEMORY_R8G8B8, bytes, out_stride);
    g_bytes_unref(bytes);
    return texture;
}

/* ---- the loaders (worker thread) ------------------------------------------------------ */

/* What the worker needs; owned by the task. */
struct load_job {
    char *path;
    char *name;
    volatile int cancel; /* set from the cancellable, polled by the video decoder */
};

static void load_job_free(struct load_job *job)
{
    g_free(job->path);
    g_free(job->name);
    g_free(job);
}

static WenshuAttachment *attachment_new(const struct load_job *job, WenshuAttachmentKind kind)
{
    WenshuAttachment *a = g_object_new(WENSHU_TYPE_ATTACHMENT, NULL);
    a->kind = kind;
    a->path = g_strdup(job->path);
    a->name = g_strdup(job->name);
    return a;
}

/* Text or a document, through gw_ingest_file. */
static WenshuAttachment *load_text(const struct load_job *job, WenshuAttachmentKind kind,
                                   GError **error)
{
    char *text = NULL;
    size_t len = 0;
    struct gw_err err = {{0}};
    if (!gw_ingest_file(job->path, &text, &len, &err)) {
        char *reason = reason_with_name(job->name, job->path, err.msg);
        g_set_error_literal(error, WENSHU_ATTACHMENT_ERROR, WENSHU_ATTACHMENT_ERROR_UNREADABLE,
                            reason);
        g_free(reason);
        return NULL;
    }
    WenshuAttachment *a = attachment_new(job, kind);
    a->text = g_strndup(text, len);
    free(text);
    glong n_chars = g_utf8_strlen(a->text, -1);
    char *count = group_thousands((gsize)n_chars);
    a->summary = g_strdup_printf(ngettext("%s character", "%s characters", (gulong)n_chars), count);
    g_free(count);
    return a;
}

/* An engine status as an attachment error code. */
static int error_code_for(enum eng_status status)
{
    if (status == ENG_STATUS_ERR_UNSUPPORTED)
        return WENSHU_ATTACHMENT_ERROR_UNSUPPORTED;
    if (status == ENG_STATUS_ERR_NOMEM)
        return WENSHU_ATTACHMENT_ERROR_TOO_LARGE;
    return WENSHU_ATTACHMENT_ERROR_UNREADABLE;
}

static void set_engine_error(GError **error, const struct load_job *job, enum eng_status status,
                             const struct eng_err *err)
{
    if (status == ENG_STATUS_CANCELLED) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("%s: loading was cancelled"),
                    job->name);
        return;
    }
    char *reason = reason_with_name(job->name, job->path, err->msg);
    int code = error_code_for(status);
    /* the image decoder says UNSUPPORTED for too many pixels */
    if (status == ENG_STATUS_ERR_UNSUPPORTED && has_extension(job->name, image_extensions))
        code = WENSHU_ATTACHMENT_ERROR_TOO_LARGE;
    g_set_error_literal(error, WENSHU_ATTACHMENT_ERROR, code, reason);
    g_free(reason);
}

/* An image: its size and a thumbnail. NULL and error when it does not decode. */
static WenshuAttachment *load_image(const struct load_job *job, GError **error)
{
    struct eng_image_params params = eng_image_params_default();
    struct eng_image *image = NULL;
    struct eng_err err = {{0}};
    enum eng_status status = eng_image_load(job->path, &params, &image, &err);
    if (status != ENG_STATUS_OK) {
        set_engine_error(error, job, status, &err);
        return NULL;
    }
    WenshuAttachment *a = attachment_new(job, WENSHU_ATTACHMENT_IMAGE);
    a->summary = g_strdup_printf("%d × %d", image->width, image->height);
    a->thumbnail = texture_from_rgb(image->rgb, image->width, image->height, THUMB_EDGE);
    eng_image_free(&image);
    return a;
}

/* A video: its duration and up to N_KEYFRAMES keyframes at distinct times
 * (a clip shorter than that many frames gives fewer). */
static WenshuAttachment *load_video(struct load_job *job, GError **error)
{
    struct eng_video_params params = eng_video_params_default();
    params.min_frames = N_KEYFRAMES;
    params.max_frames = N_KEYFRAMES;
    params.max_edge = KEYFRAME_EDGE;
    params.cancel = &job->cancel;
    struct eng_video *video = NULL;
    struct eng_err err = {{0}};
    enum eng_status status = eng_video_sample(job->path, &params, &video, &err);
    if (status != ENG_STATUS_OK) {
        set_engine_error(error, job, status, &err);
        return NULL;
    }
    WenshuAttachment *a = attachment_new(job, WENSHU_ATTACHMENT_VIDEO);
    a->duration = video->duration;
    a->keyframes = g_ptr_array_new_with_free_func(g_object_unref);
    a->keyframe_times = g_new(double, MAX(1, video->n_frames)); /* [n_frames] at most */
    for (int i = 0; i < video->n_frames; i++) {
        const struct eng_video_frame *f = &video->frames[i];
        guint n = a->keyframes->len;
        if (n > 0 && f->time <= a->keyframe_times[n - 1])
            continue; /* a short clip gave the same frame twice */
        a->keyframe_times[n] = f->time;
        g_ptr_array_add(a->keyframes, texture_from_rgb(f->image.rgb, f->image.width,
                                                       f->image.height, KEYFRAME_EDGE));
    }
    if (video->n_frames > 0) {
        const struct eng_image *first = &video->frames[0].image;
        a->thumbnail = texture_from_rgb(first->rgb, first->width, first->height, THUMB_EDGE);
    }
    char *length = format_duration(video->duration);
    guint n_keyframes = a->keyframes->len;
    a->summary = g_strdup_printf(ngettext("%s · %u keyframe", "%s · %u keyframes", n_keyframes),
                                 length, n_keyframes);
    g_free(length);
    eng_video_free(&video);
    return a;
}

/* The first bytes of the file say: a PDF, or text (no NUL, valid UTF-8 up
 * to a character the read may have cut). */
static void sniff(const char *path, gboolean *is_pdf, gboolean *is_text)
{
    *is_pdf = FALSE;
    *is_text = FALSE;
    FILE *f = g_fopen(path, "rb");
    if (!f)
        return;
    char head[SNIFF_BYTES]; /* [n] the file's first bytes */
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    *is_pdf = n >= 5 && memcmp(head, "%PDF-", 5) == 0;
    if (n == 0 || memchr(head, '\0', n))
        return;
    const char *end = NULL;
    if (g_utf8_validate(head, (gssize)n, &end)) {
        *is_text = TRUE;
        return;
    }
    /* a multi-byte character cut by the read's end is not a fault */
    gsize left = (gsize)(head + n - end);
    *is_text = n == sizeof head && left < 4 &&
               g_utf8_get_char_validated(end, (gssize)left) == (gunichar)-2;
}

static WenshuAttachment *load_text_checked(const struct load_job *job, WenshuAttachmentKind kind,
                                           goffset size, GError **error)
{
    if (kind == WENSHU_ATTACHMENT_TEXT && size > (goffset)GW_INGEST_MAX_BYTES) {
        g_set_error(error, WENSHU_ATTACHMENT_ERROR, WENSHU_ATTACHMENT_ERROR_TOO_LARGE,
                    _("%s: the text is larger than %u MiB; refused"), job->name,
                    (unsigned)(GW_INGEST_MAX_BYTES >> 20));
        return NULL;
    }
    return load_text(job, kind, error);
}

/* A file whose name says nothing of its kind: by its content. */
static WenshuAttachment *load_by_content(struct load_job *job, goffset size, GError **error)
{
    gboolean is_pdf, is_text;
    sniff(job->path, &is_pdf, &is_text);
    if (is_pdf)
        return load_text(job, WENSHU_ATTACHMENT_DOCUMENT, error);
    if (is_text)
        return load_text_checked(job, WENSHU_ATTACHMENT_TEXT, size, error);
    WenshuAttachment *a = load_image(job, NULL);
    if (!a)
        a = load_video(job, NULL);
    if (!a && !job->cancel)
        g_set_error(error, WENSHU_ATTACHMENT_ERROR, WENSHU_ATTACHMENT_ERROR_UNSUPPORTED,
                    _("%s: not a text, document, image or video file"), job->name);
    else if (!a)
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("%s: loading was cancelled"),
                    job->name);
    return a;
}

/* Check that path is a non-empty regular file; its size in *size. */
static gboolean check_file(const struct load_job *job, goffset *size, GError **error)
{
    GStatBuf st;
    if (g_stat(job->path, &st) != 0) {
        int saved = errno;
        g_set_error(error, WENSHU_ATTACHMENT_ERROR, WENSHU_ATTACHMENT_ERROR_UNREADABLE,
                    _("%s: cannot open: %s"), job->name, g_strerror(saved));
        return FALSE;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, WENSHU_ATTACHMENT_ERROR, WENSHU_ATTACHMENT_ERROR_UNSUPPORTED,
                    _("%s: not a regular file"), job->name);
        return FALSE;
    }
    if (st.st_size == 0) {
        g_set_error(error, WENSHU_ATTACHMENT_ERROR, WENSHU_ATTACHMENT_ERROR_UNREADABLE,
                    _("%s: the file is empty"), job->name);
        return FALSE;
    }
    *size = (goffset)st.st_size;
    return TRUE;
}

static WenshuAttachment *load_file(struct load_job *job, GError **error)
{
    goffset size = 0;
    if (!check_file(job, &size, error))
        return NULL;
    if (has_extension(job->name, text_extensions))
        return load_text_checked(job, WENSHU_ATTACHMENT_TEXT, size, error);
    if (has_extension(job->name, document_extensions))
        return load_text(job, WENSHU_ATTACHMENT_DOCUMENT, error);
    if (has_extension(job->name, image_extensions))
        return load_image(job, error);
    if (has_extension(job->name, video_extensions))
        return load_video(job, error);
    return load_by_content(job, size, error);
}

static void on_load_cancelled(GCancellable *cancellable, gpointer data)
{
    (void)cancellable;
    struct load_job *job = data;
    job->cancel = 1;
}

static void load_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
    (void)source;
    struct load_job *job = task_data;
    gulong handler = 0;
    if (cancellable)
        handler = g_cancellable_connect(cancellable, G_CALLBACK(on_load_cancelled), job, NULL);
    GError *error = NULL;
    WenshuAttachment *a = load_file(job, &error);
    if (cancellable)
        g_cancellable_disconnect(cancellable, handler);
    if (g_task_return_error_if_cancelled(task)) {
        g_clear_object(&a);
        g_clear_error(&error);
        return;
    }
    if (a)
        g_task_return_pointer(task, a, g_object_unref);
    else
        g_task_return_error(task, error);
}

/* ---- public -------------------------------------------------------------------------- */

void wenshu_attachment_load_async(GFile *file, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    g_task_set_source_tag(task, wenshu_attachment_load_async);
    char *path = g_file_get_path(file);
    char *base = g_file_get_basename(file);
    char *name = base ? g_filename_display_name(base) : g_file_get_uri(file);
    g_free(base);
    if (!path) {
        g_task_return_new_error(task, WENSHU_ATTACHMENT_ERROR, WENSHU_ATTACHMENT_ERROR_UNSUPPORTED,
                                _("%s: not a local file"), name);
        g_free(name);
        g_object_unref(task);
        return;
    }
    struct load_job *job = g_new0(struct load_job, 1);
    job->path = path;
    job->name = name;
    g_task_set_task_data(task, job, (GDestroyNotify)load_job_free);
    g_task_run_in_thread(task, load_thread);
    g_object_unref(task);
}

WenshuAttachment *wenshu_attachment_load_finish(GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
    return g_task_propagate_pointer(G_TASK(result), error);
}

WenshuAttachmentKind wenshu_attachment_get_kind(WenshuAttachment *self)
{
    return self->kind;
}

const char *wenshu_attachment_get_path(WenshuAttachment *self)
{
    return self->path;
}

const char *wenshu_attachment_get_name(WenshuAttachment *self)
{
    return self->name;
}

const char *wenshu_attachment_get_text(WenshuAttachment *self)
{
    return self->text;
}

const char *wenshu_attachment_get_summary(WenshuAttachment *self)
{
    return self->summary;
}

GdkTexture *wenshu_attachment_get_thumbnail(WenshuAttachment *self)
{
    return self->thumbnail;
}

double wenshu_attachment_get_duration(WenshuAttachment *self)
{
    return self->duration;
}

int wenshu_attachment_get_n_keyframes(WenshuAttachment *self)
{
    return self->keyframes ? (int)self->keyframes->len : 0;
}

GdkTexture *wenshu_attachment_get_keyframe(WenshuAttachment *self, int index, double *time)
{
    g_return_val_if_fail(index >= 0 && index < wenshu_attachment_get_n_keyframes(self), NULL);
    if (time)
        *time = self->keyframe_times[index];
    return g_ptr_array_index(self->keyframes, (guint)index);
}

gboolean wenshu_attachment_is_media(WenshuAttachment *self)
{
    return self->kind == WENSHU_ATTACHMENT_IMAGE || self->kind == WENSHU_ATTACHMENT_VIDEO;
}
