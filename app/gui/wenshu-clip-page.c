/* wenshu-clip-page.c: the 视频摘要 page (see wenshu-clip-page.h).
 *
 * Reading a video follows wenshu-cli clip (app/cli/cmd-clip.c): scene cuts,
 * then frames sampled at 1 fps with the longest edge at most 448, then the
 * segment plan. All of that runs in one GTask thread; its progress goes
 * through an atomic the main loop polls (a 100 ms timer drives the bar), so
 * the worker never touches a widget. The result (the sampled video, the
 * segments and their keyframes) then belongs to the page, which draws the
 * timeline from the keyframes' RGB as memory textures.
 */
#include "wenshu-clip-page.h"
#include "wenshu-page-util.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#define WENSHU_CLIP_PAGE_UI "/org/wenshu/Wenshu/ui/wenshu-clip-page.ui"
#define SAMPLE_FPS 1.0
#define SAMPLE_MAX_FRAMES 256
#define SAMPLE_MAX_EDGE 448 /* as wenshu-cli clip: bounds the memory */
#define CUTS_SHARE 0.4      /* of the progress bar: the scene cuts; the rest is sampling */
#define PROGRESS_POLL_MS 100
#define THUMB_WIDTH 192

/* What the decode thread shares with the page while it runs. Owned by the
 * task (its task data); the page borrows it until the task is done. */
struct decode_job {
    char *path;
    gint progress_permille; /* atomic: 0..1000, written by the worker */
    volatile int cancel;    /* set by the page, polled by the engine */
};

/* What the decode thread gives back. */
struct analysis {
    struct eng_video *video;
    struct clip_segment *segments; /* [n_segments] g_malloc'd */
    int n_segments;
    int *keyframes; /* [n_segments] frame indices, g_malloc'd */
};

struct _WenshuClipPage {
    AdwBin parent_instance;

    /* template children */
    GtkLabel *file_label;
    GtkProgressBar *progress_bar;
    GtkLabel *status_label;
    GtkBox *timeline_box;

    struct decode_job *job;      /* the read in flight (borrowed), or NULL */
    GCancellable *decode_cancel; /* the read in flight, or NULL */
    guint progress_source;
    gint64 started_us; /* monotonic time the read began, for the time left */
    char *video_path;
    struct analysis *analysis;     /* the video read last, or NULL */
    struct clip_chapter *chapters; /* [n_chapters] titles g_malloc'd */
    int n_chapters;
    GtkFileChooserNative *chooser;
};

G_DEFINE_FINAL_TYPE(WenshuClipPage, wenshu_clip_page, ADW_TYPE_BIN)

enum { SIGNAL_ANALYSED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void update_actions(WenshuClipPage *self)
{
    gboolean have = self->n_chapters > 0 && !self->job;
    GtkWidget *w = GTK_WIDGET(self);
    gtk_widget_action_set_enabled(w, "clip.open", self->job == NULL);
    gtk_widget_action_set_enabled(w, "clip.export-srt", have);
    gtk_widget_action_set_enabled(w, "clip.export-vtt", have);
    gtk_widget_action_set_enabled(w, "clip.export-md", have);
    gtk_widget_action_set_enabled(w, "clip.export-sheet", have);
}

static void analysis_free(struct analysis *a)
{
    if (!a)
        return;
    eng_video_free(&a->video);
    g_free(a->segments);
    g_free(a->keyframes);
    g_free(a);
}

static void decode_job_free(struct decode_job *job)
{
    g_free(job->path);
    g_free(job);
}

static void clear_chapters(WenshuClipPage *self)
{
    for (int i = 0; i < self->n_chapters; i++)
        g_free(self->chapters[i].title);
    g_clear_pointer(&self->chapters, g_free);
    self->n_chapters = 0;
}

/* ---- the decode thread ------------------------------------------------------------------ */

static void on_cuts_progress(int n_done, int n_total, double time, void *user_data)
{
    (void)time;
    struct decode_job *job = user_data;
    double f = n_total > 0 ? MIN(1.0, (double)n_done / n_total) : 0.0;
    g_atomic_int_set(&job->progress_permille, (int)(1000 * CUTS_SHARE * f));
}

static void on_sample_progress(int n_done, int n_total, double time, void *user_data)
{
    (void)time;
    struct decode_job *job = user_data;
    double f = n_total > 0 ? MIN(1.0, (double)n_done / n_total) : 0.0;
    g_atomic_int_set(&job->progress_permille, (int)(1000 * (CUTS_SHARE + (1 - CUTS_SHARE) * f)));
}

/* Runs in the worker: cuts, frames, segments, keyframes. NULL with error
 * (CLIP_ERROR_FORMAT naming the file, or G_IO_ERROR_CANCELLED). */
static struct analysis *analyse_video(struct decode_job *job, GError **error)
{
    struct eng_err err = {{0}};
    struct eng_scene_params sp = eng_scene_params_default();
    sp.progress = on_cuts_progress;
    sp.progress_user_data = job;
    sp.cancel = &job->cancel;
    double *cuts = NULL; /* [n_cuts] seconds, malloc'd by the engine */
    int n_cuts = 0;
    enum eng_status st = eng_video_scene_cuts(job->path, &sp, &cuts, &n_cuts, &err);
    struct analysis *a = g_new0(struct analysis, 1);
    if (st == ENG_STATUS_OK) {
        struct eng_video_params vp = eng_video_params_default();
        vp.fps = SAMPLE_FPS;
        vp.max_frames = SAMPLE_MAX_FRAMES;
        vp.max_edge = SAMPLE_MAX_EDGE;
        vp.progress = on_sample_progress;
        vp.progress_user_data = job;
        vp.cancel = &job->cancel;
        st = eng_video_sample(job->path, &vp, &a->video, &err);
    }
    if (st != ENG_STATUS_OK) {
        if (st == ENG_STATUS_CANCELLED)
            g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Cancelled"));
        else
            g_set_error_literal(error, CLIP_ERROR, CLIP_ERROR_FORMAT, err.msg);
        free(cuts);
        analysis_free(a);
        return NULL;
    }
    /* frame_times: [n_frames] seconds of the sampled frames */
    double *frame_times = g_new(double, a->video->n_frames);
    for (int i = 0; i < a->video->n_frames; i++)
        frame_times[i] = a->video->frames[i].time;
    struct clip_plan_params pp = clip_plan_params_default();
    gboolean ok =
        clip_plan_segments(a->video->duration, cuts, n_cuts, &pp, &a->segments, &a->n_segments,
                           error) &&
        clip_assign_frames(a->segments, a->n_segments, frame_times, a->video->n_frames, error);
    if (ok) {
        a->keyframes = g_new(int, a->n_segments);
        clip_pick_keyframes(a->segments, a->n_segments, frame_times, a->video->n_frames,
                            a->keyframes);
    }
    g_free(frame_times);
    free(cuts);
    if (!ok)
        g_clear_pointer(&a, analysis_free);
    return a;
}

static void decode_thread(GTask *task, gpointer source, gpointer task_data,
                          GCancellable *cancellable)
{
    (void)source;
    (void)cancellable;
    GError *error = NULL;
    struct analysis *a = analyse_video(task_data, &error);
    if (a)
        g_task_return_pointer(task, a, (GDestroyNotify)analysis_free);
    else
        g_task_return_error(task, error);
}

/* ---- the timeline ----------------------------------------------------------------------- */

/* "HH:MM:SS" (or "MM:SS" under an hour) of a time, rounded down to seconds. */
static char *short_time(double seconds)
{
    long s = (long)floor(seconds + 1e-6);
    if (s >= 3600)
        return g_strdup_printf("%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    return g_strdup_printf("%02ld:%02ld", s / 60, s % 60);
}

/* A frame's RGB as a texture (copied, so the video may go). */
static GdkTexture *frame_texture(const struct eng_video_frame *frame)
{
    const struct eng_image *im = &frame->image;
    gsize stride = (gsize)im->width * 3;
    GBytes *bytes = g_bytes_new(im->rgb, stride * (gsize)im->height); /* [height][width][3] */
    GdkTexture *texture =
        gdk_memory_texture_new(im->width, im->height, GDK_MEMORY_R8G8B8, bytes, stride);
    g_bytes_unref(bytes);
    return texture;
}

static GtkWidget *chapter_tile(const struct eng_video_frame *keyframe,
                               const struct clip_chapter *chapter)
{
    GtkWidget *tile = gtk_box_new(GTK_ORIENTATION_VERTICAL, 4);
    GdkTexture *texture = frame_texture(keyframe);
    GtkWidget *picture = gtk_picture_new_for_paintable(GDK_PAINTABLE(texture));
    g_object_unref(texture);
    gtk_picture_set_can_shrink(GTK_PICTURE(picture), TRUE);
    int height = keyframe->image.width > 0
                     ? THUMB_WIDTH * keyframe->image.height / keyframe->image.width
                     : THUMB_WIDTH * 9 / 16;
    gtk_widget_set_size_request(picture, THUMB_WIDTH, MAX(1, height));
    gtk_widget_add_css_class(picture, "card");
    gtk_accessible_update_property(GTK_ACCESSIBLE(picture), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                   chapter->title, -1);
    char *end = short_time(chapter->end);
    char *text = g_strdup_printf("%s – %s", chapter->title, end);
    GtkWidget *label = gtk_label_new(text);
    gtk_widget_add_css_class(label, "caption");
    g_free(text);
    g_free(end);
    gtk_box_append(GTK_BOX(tile), picture);
    gtk_box_append(GTK_BOX(tile), label);
    return tile;
}

static void show_timeline(WenshuClipPage *self)
{
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(self->timeline_box))))
        gtk_box_remove(self->timeline_box, child);
    for (int i = 0; self->analysis && i < self->n_chapters; i++) {
        const struct eng_video_frame *key =
            &self->analysis->video->frames[self->analysis->keyframes[i]];
        gtk_box_append(self->timeline_box, chapter_tile(key, &self->chapters[i]));
    }
}

/* Chapters from the segments, titled by their start time. */
static void make_chapters(WenshuClipPage *self)
{
    clear_chapters(self);
    const struct analysis *a = self->analysis;
    self->chapters = g_new0(struct clip_chapter, a->n_segments);
    self->n_chapters = a->n_segments;
    for (int i = 0; i < a->n_segments; i++) {
        self->chapters[i].start = a->segments[i].start;
        self->chapters[i].end = a->segments[i].end;
        self->chapters[i].title = short_time(a->segments[i].start);
    }
}

/* ---- reading a video -------------------------------------------------------------------- */

/* The bar follows the worker's atomic progress, with the time left
 * estimated from the pace so far once there is some (5 %). */
static gboolean on_progress_poll(gpointer user_data)
{
    WenshuClipPage *self = user_data;
    if (!self->job)
        return G_SOURCE_CONTINUE;
    double f = g_atomic_int_get(&self->job->progress_permille) / 1000.0;
    double elapsed = (g_get_monotonic_time() - self->started_us) / 1e6;
    double seconds_left = f > 0 ? ceil(elapsed * (1 - f) / f) : 0;
    char *text = f >= 0.05
                     /* TRANSLATORS: the progress in percent, then the seconds left */
                     ? g_strdup_printf(_("%.0f%% · about %.0f s left"), 100 * f, seconds_left)
                     : g_strdup_printf("%.0f%%", 100 * f);
    gtk_progress_bar_set_fraction(self->progress_bar, f);
    gtk_progress_bar_set_text(self->progress_bar, text);
    g_free(text);
    return G_SOURCE_CONTINUE;
}

static void on_decode_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    (void)user_data;
    WenshuClipPage *self = WENSHU_CLIP_PAGE(source);
    GError *error = NULL;
    struct analysis *a = g_task_propagate_pointer(G_TASK(result), &error);
    gboolean cancelled = g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(result)));
    if (cancelled) { /* the page is going: its widgets are gone */
        analysis_free(a);
        g_clear_error(&error);
        return;
    }
    self->job = NULL;
    g_clear_object(&self->decode_cancel);
    g_clear_handle_id(&self->progress_source, g_source_remove);
    if (a) {
        self->analysis = a;
        make_chapters(self);
        show_timeline(self);
        gtk_progress_bar_set_fraction(self->progress_bar, 1.0);
        gtk_progress_bar_set_text(self->progress_bar, "100%");
        char *msg = /* TRANSLATORS: chapters, frames read, the video's length in seconds */
            g_strdup_printf(_("Chapters: %d, frames: %d (%.1f s)"), self->n_chapters,
                                    a->video->n_frames, a->video->duration);
        wenshu_status_set(self->status_label, FALSE, msg);
        g_free(msg);
    } else {
        gtk_progress_bar_set_fraction(self->progress_bar, 0.0);
        gtk_progress_bar_set_text(self->progress_bar, "");
        wenshu_status_set(self->status_label, TRUE, error->message);
    }
    update_actions(self);
    g_signal_emit(self, signals[SIGNAL_ANALYSED], 0, a != NULL);
    g_clear_error(&error);
}

gboolean wenshu_clip_page_open(WenshuClipPage *self, const char *path, GError **error)
{
    g_return_val_if_fail(WENSHU_IS_CLIP_PAGE(self), FALSE);
    if (self->job) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_BUSY, _("Another video is being read"));
        return FALSE;
    }
    clear_chapters(self);
    g_clear_pointer(&self->analysis, analysis_free);
    show_timeline(self);
    g_free(self->video_path);
    self->video_path = g_strdup(path);
    char *name = g_path_get_basename(path);
    gtk_label_set_text(self->file_label, name);
    g_free(name);
    wenshu_status_set(self->status_label, FALSE, _("Finding the scene cuts and taking frames…"));
    gtk_progress_bar_set_fraction(self->progress_bar, 0.0);

    struct decode_job *job = g_new0(struct decode_job, 1);
    job->path = g_strdup(path);
    self->job = job;
    self->decode_cancel = g_cancellable_new();
    GTask *task = g_task_new(self, self->decode_cancel, on_decode_done, NULL);
    g_task_set_source_tag(task, wenshu_clip_page_open);
    g_task_set_task_data(task, job, (GDestroyNotify)decode_job_free);
    g_task_run_in_thread(task, decode_thread);
    g_object_unref(task);
    self->started_us = g_get_monotonic_time();
    self->progress_source = g_timeout_add(PROGRESS_POLL_MS, on_progress_poll, self);
    update_actions(self);
    return TRUE;
}

const struct clip_chapter *wenshu_clip_page_get_chapters(WenshuClipPage *self, int *n_chapters)
{
    g_return_val_if_fail(WENSHU_IS_CLIP_PAGE(self), NULL);
    *n_chapters = self->n_chapters;
    return self->chapters;
}

/* ---- export ------------------------------------------------------------------------------ */

gboolean wenshu_clip_page_export(WenshuClipPage *self, const char *srt, const char *vtt,
                                 const char *markdown, const char *sheet, GError **error)
{
    g_return_val_if_fail(WENSHU_IS_CLIP_PAGE(self), FALSE);
    if (!self->analysis || self->n_chapters == 0) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED, _("No video read yet"));
        return FALSE;
    }
    char *title = g_path_get_basename(self->video_path);
    struct clip_sheet_params sheet_params = clip_sheet_params_default();
    gboolean ok =
        (!srt || clip_write_srt(srt, self->chapters, self->n_chapters, error)) &&
        (!vtt || clip_write_vtt(vtt, self->chapters, self->n_chapters, error)) &&
        (!markdown ||
         clip_write_markdown(markdown, title, NULL, self->chapters, self->n_chapters, error)) &&
        (!sheet || clip_contact_sheet(self->analysis->video, self->analysis->keyframes,
                                      self->analysis->n_segments, &sheet_params, sheet, error));
    g_free(title);
    return ok;
}

static void on_chooser_response(GtkNativeDialog *dialog, int response, WenshuClipPage *self)
{
    const char *kind = g_object_get_data(G_OBJECT(dialog), "wenshu-kind");
    GFile *file = response == GTK_RESPONSE_ACCEPT
                      ? gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog))
                      : NULL;
    char *path = file ? g_file_get_path(file) : NULL;
    if (path) {
        GError *error = NULL;
        gboolean ok;
        if (g_str_equal(kind, "open"))
            ok = wenshu_clip_page_open(self, path, &error);
        else
            ok = wenshu_clip_page_export(self, g_str_equal(kind, "srt") ? path : NULL,
                                         g_str_equal(kind, "vtt") ? path : NULL,
                                         g_str_equal(kind, "md") ? path : NULL,
                                         g_str_equal(kind, "sheet") ? path : NULL, &error);
        if (!ok) {
            wenshu_status_set(self->status_label, TRUE, error->message);
            g_error_free(error);
        } else if (!g_str_equal(kind, "open")) {
            char *msg = g_strdup_printf(_("Exported %s"), path);
            wenshu_status_set(self->status_label, FALSE, msg);
            g_free(msg);
        }
    }
    g_free(path);
    g_clear_object(&file);
    g_clear_object(&self->chooser);
}

static void show_chooser(WenshuClipPage *self, const char *kind, const char *title,
                         const char *name)
{
    if (self->chooser)
        return;
    gboolean open = g_str_equal(kind, "open");
    GtkRoot *root = gtk_widget_get_root(GTK_WIDGET(self));
    self->chooser = gtk_file_chooser_native_new(
        title, GTK_IS_WINDOW(root) ? GTK_WINDOW(root) : NULL,
        open ? GTK_FILE_CHOOSER_ACTION_OPEN : GTK_FILE_CHOOSER_ACTION_SAVE, NULL, NULL);
    gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(self->chooser), TRUE);
    if (name)
        gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(self->chooser), name);
    if (open) {
        GtkFileFilter *filter = gtk_file_filter_new();
        gtk_file_filter_set_name(filter, _("Videos"));
        gtk_file_filter_add_mime_type(filter, "video/*");
        gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(self->chooser), filter);
        g_object_unref(filter);
    }
    g_object_set_data(G_OBJECT(self->chooser), "wenshu-kind", (gpointer)kind);
    g_signal_connect(self->chooser, "response", G_CALLBACK(on_chooser_response), self);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(self->chooser));
}

static void chooser_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)param;
    WenshuClipPage *self = WENSHU_CLIP_PAGE(widget);
    if (g_str_equal(action, "clip.open"))
        show_chooser(self, "open", _("Choose a video"), NULL);
    else if (g_str_equal(action, "clip.export-srt"))
        show_chooser(self, "srt", _("Export SRT chapters"), "chapters.srt");
    else if (g_str_equal(action, "clip.export-vtt"))
        show_chooser(self, "vtt", _("Export WebVTT chapters"), "chapters.vtt");
    else if (g_str_equal(action, "clip.export-md"))
        show_chooser(self, "md", _("Export Markdown summary"), "summary.md");
    else
        show_chooser(self, "sheet", _("Export keyframe contact sheet"), "contact-sheet.png");
}

/* ---- the object -------------------------------------------------------------------------- */

static void wenshu_clip_page_init(WenshuClipPage *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    update_actions(self);
}

static void wenshu_clip_page_dispose(GObject *object)
{
    WenshuClipPage *self = WENSHU_CLIP_PAGE(object);
    if (self->job)
        self->job->cancel = 1; /* the engine stops at its next frame */
    self->job = NULL;
    if (self->decode_cancel)
        g_cancellable_cancel(self->decode_cancel);
    g_clear_object(&self->decode_cancel);
    g_clear_handle_id(&self->progress_source, g_source_remove);
    if (self->chooser)
        gtk_native_dialog_destroy(GTK_NATIVE_DIALOG(self->chooser));
    g_clear_object(&self->chooser);
    clear_chapters(self);
    g_clear_pointer(&self->analysis, analysis_free);
    g_clear_pointer(&self->video_path, g_free);
    gtk_widget_dispose_template(GTK_WIDGET(self), WENSHU_TYPE_CLIP_PAGE);
    G_OBJECT_CLASS(wenshu_clip_page_parent_class)->dispose(object);
}

static void wenshu_clip_page_class_init(WenshuClipPageClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->dispose = wenshu_clip_page_dispose;

    signals[SIGNAL_ANALYSED] = g_signal_new("analysed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                            0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);

    gtk_widget_class_set_template_from_resource(widget_class, WENSHU_CLIP_PAGE_UI);
    gtk_widget_class_bind_template_child(widget_class, WenshuClipPage, file_label);
    gtk_widget_class_bind_template_child(widget_class, WenshuClipPage, progress_bar);
    gtk_widget_class_bind_template_child(widget_class, WenshuClipPage, status_label);
    gtk_widget_class_bind_template_child(widget_class, WenshuClipPage, timeline_box);

    gtk_widget_class_install_action(widget_class, "clip.open", NULL, chooser_activated);
    gtk_widget_class_install_action(widget_class, "clip.export-srt", NULL, chooser_activated);
    gtk_widget_class_install_action(widget_class, "clip.export-vtt", NULL, chooser_activated);
    gtk_widget_class_install_action(widget_class, "clip.export-md", NULL, chooser_activated);
    gtk_widget_class_install_action(widget_class, "clip.export-sheet", NULL, chooser_activated);
}

GtkWidget *wenshu_clip_page_new(void) { return g_object_new(WENSHU_TYPE_CLIP_PAGE, NULL); }
