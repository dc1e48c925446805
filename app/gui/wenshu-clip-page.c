/* wenshu-clip-page.c: the 视频摘要 page (see wenshu-clip-page.h).
 *
 * Reading a video follows wenshu-cli clip (app/cli/cmd-clip.c): scene cuts,
 * then frames sampled at 1 fps with the longest edge at most 448, then the
 * segment plan. All of that runs in one GTask thread; its progress goes
 * through an atomic the main loop polls (a 100 ms timer drives the bar), so
 * the worker never touches a widget. The result (the sampled video, the
 * segments and their keyframes) then belongs to the page, which draws the
 * timeline from the keyframes' RGB as memory textures.
 *
 * Summarise follows cmd-clip.c's summarise() step for step, one runner run
 * a step, each started from the previous one's "finished": the same frames
 * per chapter (clip_segment_frames, at most FRAMES_PER_SEGMENT), the same
 * prompts, schemas and token limits (clip-gen.h), the same order. The
 * runner reads media from files, so each chapter's frames are written as
 * an uncompressed AVI (lossless: the runner decodes the same RGB the CLI
 * encodes from memory). The sub-clip is at most FRAMES_PER_SEGMENT frames
 * of at most 448 x 448, so writing it on the main loop takes about a
 * millisecond; the decoding and encoding run on the runner's worker.
 */
#include "wenshu-clip-page.h"
#include "clip-gen.h"
#include "wenshu-page-util.h"
#include "wenshu-preferences.h"
#include "wenshu-window.h"

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
/* as wenshu-cli clip (cmd-clip.c): --frames-per-segment's default and the
 * token limits of its describe and final steps */
#define FRAMES_PER_SEGMENT 4
#define DESCRIBE_N_PREDICT 400
#define FINAL_N_PREDICT 700
/* the runner samples a clip file at 1 fps and at least this many frames */
#define SUBCLIP_MIN_FRAMES 4

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
    GtkListBox *chapters_list;
    GtkTextView *summary_view;

    struct decode_job *job;      /* the read in flight (borrowed), or NULL */
    GCancellable *decode_cancel; /* the read in flight, or NULL */
    guint progress_source;
    gint64 started_us; /* monotonic time the read began, for the time left */
    char *video_path;
    struct analysis *analysis;     /* the video read last, or NULL */
    struct clip_chapter *chapters; /* [n_chapters] titles g_malloc'd */
    int n_chapters;
    GtkFileChooserNative *chooser;
    WenshuRunner *runner;        /* a reference, or NULL */
    struct summary_job *summary; /* the Summarise in flight (owned), or NULL */
    char *clip_title;            /* the model's title of the clip (final step), or NULL */
    char *clip_summary;          /* the model's overall summary, or NULL */
};

G_DEFINE_FINAL_TYPE(WenshuClipPage, wenshu_clip_page, ADW_TYPE_BIN)

enum { SIGNAL_ANALYSED, SIGNAL_SUMMARISED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void update_actions(WenshuClipPage *self)
{
    gboolean have = self->n_chapters > 0 && !self->job;
    gboolean model_free = self->runner && wenshu_runner_is_loaded(self->runner) &&
                          !wenshu_runner_is_running(self->runner);
    GtkWidget *w = GTK_WIDGET(self);
    gtk_widget_action_set_enabled(w, "clip.open", self->job == NULL && self->summary == NULL);
    gtk_widget_action_set_enabled(w, "clip.summarise", have && model_free && !self->summary);
    gtk_widget_action_set_enabled(w, "clip.stop", self->summary != NULL);
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
    for (int i = 0; i < self->n_chapters; i++) {
        g_free(self->chapters[i].title);
        g_free(self->chapters[i].summary);
    }
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
        vp.min_frames = 2; /* as wenshu-cli clip */
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
    gtk_label_set_ellipsize(GTK_LABEL(label), PANGO_ELLIPSIZE_MIDDLE);
    gtk_label_set_max_width_chars(GTK_LABEL(label), 24);
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

/* The chapter list: per chapter its time, title and (after the model's
 * map step) its summary. */
static void show_chapter_list(WenshuClipPage *self)
{
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(self->chapters_list))))
        gtk_list_box_remove(self->chapters_list, child);
    for (int i = 0; i < self->n_chapters; i++) {
        const struct clip_chapter *c = &self->chapters[i];
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
        char *start = short_time(c->start);
        char *heading = g_strdup_printf("%s  %s", start, c->title ? c->title : "");
        GtkWidget *title = gtk_label_new(heading);
        gtk_widget_add_css_class(title, "heading");
        gtk_label_set_xalign(GTK_LABEL(title), 0);
        gtk_label_set_wrap(GTK_LABEL(title), TRUE);
        gtk_label_set_wrap_mode(GTK_LABEL(title), PANGO_WRAP_WORD_CHAR);
        gtk_box_append(GTK_BOX(box), title);
        if (c->summary) {
            GtkWidget *summary = gtk_label_new(c->summary);
            gtk_label_set_xalign(GTK_LABEL(summary), 0);
            gtk_label_set_wrap(GTK_LABEL(summary), TRUE);
            gtk_label_set_wrap_mode(GTK_LABEL(summary), PANGO_WRAP_WORD_CHAR);
            gtk_widget_add_css_class(summary, "dim-label");
            gtk_box_append(GTK_BOX(box), summary);
        }
        gtk_list_box_append(self->chapters_list, box);
        g_free(heading);
        g_free(start);
    }
}

static void show_chapters(WenshuClipPage *self)
{
    show_timeline(self);
    show_chapter_list(self);
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

/* ---- the sub-clip the model reads -------------------------------------------------------- */

/* Little-endian fields of a RIFF file, appended to out. */
static void put_u32(GByteArray *out, guint32 v)
{
    guint8 b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};
    g_byte_array_append(out, b, 4);
}

static void put_u16(GByteArray *out, guint16 v)
{
    guint8 b[2] = {v & 0xff, (v >> 8) & 0xff};
    g_byte_array_append(out, b, 2);
}

static void put_fourcc(GByteArray *out, const char *fourcc)
{
    g_byte_array_append(out, (const guint8 *)fourcc, 4);
}

/* Write frames[n] (same size, RGB) as an uncompressed AVI at 1 frame a
 * second: BGR24 bottom-up rows padded to 4 bytes, which FFmpeg decodes back
 * to the same RGB, so the runner's clip path (eng_video_sample at 1 fps,
 * then eng_mmproj_encode_video) sees the pixels wenshu-cli clip encodes
 * from memory. Fewer than SUBCLIP_MIN_FRAMES frames are padded with the
 * last one (the runner samples at least that many). The file is written
 * whole or not at all (g_file_set_contents). */
static gboolean write_subclip(const char *path, const struct eng_video_frame *frames, int n,
                              GError **error)
{
    int w = frames[0].image.width, h = frames[0].image.height;
    int n_out = MAX(n, SUBCLIP_MIN_FRAMES);
    guint32 stride = ((guint32)w * 3 + 3) & ~3u;
    guint32 frame_bytes = stride * (guint32)h;
    guint32 movi_bytes = 4 + (guint32)n_out * (8 + frame_bytes);
    guint32 hdrl_bytes = 4 + (8 + 56) + (8 + 4 + (8 + 56) + (8 + 40));
    guint32 idx_bytes = 16 * (guint32)n_out;
    GByteArray *out = g_byte_array_sized_new(12 + 8 + hdrl_bytes + 8 + movi_bytes + 8 + idx_bytes);
    put_fourcc(out, "RIFF");
    put_u32(out, 4 + 8 + hdrl_bytes + 8 + movi_bytes + 8 + idx_bytes);
    put_fourcc(out, "AVI ");
    put_fourcc(out, "LIST");
    put_u32(out, hdrl_bytes);
    put_fourcc(out, "hdrl");
    put_fourcc(out, "avih");
    put_u32(out, 56);
    guint32 avih[14] = {1000000,
                        frame_bytes,
                        0,
                        0x10 /* AVIF_HASINDEX */,
                        (guint32)n_out,
                        0,
                        1,
                        frame_bytes,
                        (guint32)w,
                        (guint32)h,
                        0,
                        0,
                        0,
                        0};
    for (int i = 0; i < 14; i++)
        put_u32(out, avih[i]);
    put_fourcc(out, "LIST");
    put_u32(out, 4 + (8 + 56) + (8 + 40));
    put_fourcc(out, "strl");
    put_fourcc(out, "strh");
    put_u32(out, 56);
    put_fourcc(out, "vids");
    put_u32(out, 0); /* handler: none (BI_RGB) */
    guint32 strh[10] = {0,
                        0,
                        0,
                        1 /* scale */,
                        1 /* rate: 1 frame a second */,
                        0,
                        (guint32)n_out,
                        frame_bytes,
                        0xffffffffu,
                        0};
    for (int i = 0; i < 10; i++)
        put_u32(out, strh[i]);
    put_u16(out, 0), put_u16(out, 0), put_u16(out, (guint16)w), put_u16(out, (guint16)h);
    put_fourcc(out, "strf");
    put_u32(out, 40);
    guint32 bih[10] = {
        40, (guint32)w, (guint32)h, 1 | (24u << 16) /* planes, bits */, 0, frame_bytes, 0, 0, 0, 0};
    for (int i = 0; i < 10; i++)
        put_u32(out, bih[i]);
    put_fourcc(out, "LIST");
    put_u32(out, movi_bytes);
    put_fourcc(out, "movi");
    guint8 *row = g_malloc0(stride); /* [stride] one BGR row and its padding */
    for (int f = 0; f < n_out; f++) {
        const struct eng_image *im = &frames[MIN(f, n - 1)].image;
        put_fourcc(out, "00db");
        put_u32(out, frame_bytes);
        for (int y = h - 1; y >= 0; y--) {                            /* bottom-up */
            const uint8_t *src = im->rgb + (size_t)y * (size_t)w * 3; /* [w][3] RGB */
            for (int x = 0; x < w; x++) {
                row[3 * x] = src[3 * x + 2];
                row[3 * x + 1] = src[3 * x + 1];
                row[3 * x + 2] = src[3 * x];
            }
            g_byte_array_append(out, row, stride);
        }
    }
    g_free(row);
    put_fourcc(out, "idx1");
    put_u32(out, idx_bytes);
    for (int f = 0; f < n_out; f++) {
        put_fourcc(out, "00db");
        put_u32(out, 0x10);                               /* AVIIF_KEYFRAME */
        put_u32(out, 4 + (guint32)f * (8 + frame_bytes)); /* from the "movi" fourcc */
        put_u32(out, frame_bytes);
    }
    gboolean ok = g_file_set_contents(path, (const char *)out->data, out->len, error);
    g_byte_array_unref(out);
    return ok;
}

/* ---- summarising with the model ---------------------------------------------------------- */

/* One Summarise: wenshu-cli clip's summarise() as a chain of runner runs.
 * Steps 0..n-1 describe the chapters (map), then one step per group of
 * CLIP_GEN_GROUP (reduce), then, with more than one group, the final
 * reduce. Owned by the page while it goes. */
struct summary_job {
    char *temp_dir;         /* the sub-clips; removed with the job */
    char *clip_name;        /* the video's base name, for the prompts */
    int n;                  /* chapters */
    int n_groups;           /* ceil(n / CLIP_GEN_GROUP) */
    int step;               /* the run in flight */
    char **descriptions;    /* [n] malloc'd, from the map */
    char **group_summaries; /* [n_groups] malloc'd, from the reduce */
    GString *reply;         /* the run's streamed JSON */
    gint64 started_us;      /* monotonic time of the first step */
    gint64 step_started_us; /* of the step in flight */
    /* the schema of the run in flight: it must live until "finished" */
    struct clip_describe_schema describe_schema;
    struct clip_reduce_schema reduce_schema;
    struct clip_final_schema final_schema;
};

static void summary_job_free(struct summary_job *job)
{
    if (!job)
        return;
    if (job->temp_dir)
        wenshu_remove_dir(job->temp_dir);
    g_free(job->temp_dir);
    g_free(job->clip_name);
    for (int i = 0; job->descriptions && i < job->n; i++)
        free(job->descriptions[i]);
    for (int i = 0; job->group_summaries && i < job->n_groups; i++)
        free(job->group_summaries[i]);
    g_free(job->descriptions);
    g_free(job->group_summaries);
    if (job->reply)
        g_string_free(job->reply, TRUE);
    g_free(job);
}

static int summary_n_steps(const struct summary_job *job)
{
    return job->n + job->n_groups + (job->n_groups > 1 ? 1 : 0);
}

/* The sampling of the Preferences (the engine's defaults without a schema). */
static struct eng_sampler_params page_sampler(void)
{
    g_autoptr(GSettings) settings = wenshu_settings_new(); /* NULL: no schema installed */
    return settings ? wenshu_settings_get_sampler(settings) : eng_sampler_params_default();
}

/* Start one run of system + user (+ one clip), with schema. */
static gboolean start_run(WenshuClipPage *self, char *system, char *user, const char *media_path,
                          const struct eng_schema *schema, int n_predict, GError **error)
{
    struct eng_chat_message msgs[2] = {{"system", system}, {"user", user}};
    struct eng_sampler_params sampler = page_sampler();
    const char *paths[1] = {media_path};
    WenshuRunRequest request = {.messages = msgs,
                                .n_messages = 2,
                                .media_paths = media_path ? paths : NULL,
                                .n_media = media_path ? 1 : 0,
                                .sampler = &sampler,
                                .n_predict = n_predict,
                                .schema = schema};
    g_string_truncate(self->summary->reply, 0);
    self->summary->step_started_us = g_get_monotonic_time();
    gboolean ok = wenshu_runner_start_request(self->runner, &request, error);
    free(system);
    free(user);
    return ok;
}

/* Map: chapter s's frames as a sub-clip, described by the vision model. */
static gboolean start_describe(WenshuClipPage *self, int s, GError **error)
{
    struct summary_job *job = self->summary;
    const struct analysis *a = self->analysis;
    struct eng_video_frame frames[FRAMES_PER_SEGMENT]; /* shallow: pixels stay the video's */
    int n =
        clip_segment_frames(a->video, &a->segments[s], a->keyframes[s], FRAMES_PER_SEGMENT, frames);
    char *name = g_strdup_printf("chapter-%03d.avi", s + 1);
    char *path = g_build_filename(job->temp_dir, name, NULL);
    g_free(name);
    gboolean ok = write_subclip(path, frames, n, error);
    if (ok) {
        clip_describe_schema_init(&job->describe_schema);
        ok = start_run(self, clip_gen_system_prompt(),
                       clip_gen_describe_prompt(job->clip_name, s + 1, job->n, a->segments[s].start,
                                                a->segments[s].end),
                       path, &job->describe_schema.root, DESCRIBE_N_PREDICT, error);
    }
    g_free(path);
    return ok;
}

/* Reduce: the titles and summary of group g. */
static gboolean start_reduce(WenshuClipPage *self, int g, GError **error)
{
    struct summary_job *job = self->summary;
    int first = g * CLIP_GEN_GROUP, count = MIN(job->n - first, CLIP_GEN_GROUP);
    double starts[CLIP_GEN_GROUP], ends[CLIP_GEN_GROUP];
    for (int i = 0; i < count; i++) {
        starts[i] = self->analysis->segments[first + i].start;
        ends[i] = self->analysis->segments[first + i].end;
    }
    clip_reduce_schema_init(&job->reduce_schema, count);
    return start_run(self, clip_gen_system_prompt(),
                     clip_gen_reduce_prompt(job->clip_name,
                                            (const char *const *)job->descriptions + first, starts,
                                            ends, count),
                     NULL, &job->reduce_schema.root, 120 + 40 * count + 400, error);
}

static gboolean start_final(WenshuClipPage *self, GError **error)
{
    struct summary_job *job = self->summary;
    clip_final_schema_init(&job->final_schema);
    return start_run(self, clip_gen_system_prompt(),
                     clip_gen_final_prompt(
                         job->clip_name, (const char *const *)job->group_summaries, job->n_groups),
                     NULL, &job->final_schema.root, FINAL_N_PREDICT, error);
}

static gboolean start_step(WenshuClipPage *self, GError **error)
{
    struct summary_job *job = self->summary;
    if (job->step < job->n)
        return start_describe(self, job->step, error);
    if (job->step < job->n + job->n_groups)
        return start_reduce(self, job->step - job->n, error);
    return start_final(self, error);
}

/* Take the finished step's answer into the job and the chapters. FALSE with
 * error when the JSON lacks what the schema promised. */
static gboolean take_answer(WenshuClipPage *self, GError **error)
{
    struct summary_job *job = self->summary;
    const char *json = job->reply->str;
    if (job->step < job->n) {
        int s = job->step;
        if (!(job->descriptions[s] = clip_gen_json_string(json, "description"))) {
            g_set_error(error, CLIP_ERROR, CLIP_ERROR_FORMAT,
                        _("Chapter %d: the answer has no description: %s"), s + 1, json);
            return FALSE;
        }
        g_free(self->chapters[s].summary);
        self->chapters[s].summary = g_strdup(job->descriptions[s]);
        return TRUE;
    }
    if (job->step < job->n + job->n_groups) {
        int g = job->step - job->n;
        int first = g * CLIP_GEN_GROUP, count = MIN(job->n - first, CLIP_GEN_GROUP);
        char *titles[CLIP_GEN_GROUP]; /* [count] malloc'd, taken below */
        if (!(job->group_summaries[g] = clip_gen_json_string(json, "summary")) ||
            !clip_gen_json_strings(json, "titles", titles, count)) {
            g_set_error(error, CLIP_ERROR, CLIP_ERROR_FORMAT,
                        _("The chapter titles do not read back: %s"), json);
            return FALSE;
        }
        for (int i = 0; i < count; i++) {
            g_free(self->chapters[first + i].title);
            self->chapters[first + i].title = g_strdup(titles[i]);
            free(titles[i]);
        }
        if (job->n_groups == 1) /* as the CLI: the group's summary is the clip's */
            self->clip_summary = g_strdup(job->group_summaries[0]);
        return TRUE;
    }
    char *title = clip_gen_json_string(json, "title");
    char *summary = clip_gen_json_string(json, "summary");
    gboolean ok = title && summary;
    if (ok) {
        self->clip_title = g_strdup(title);
        self->clip_summary = g_strdup(summary);
    } else {
        g_set_error_literal(error, CLIP_ERROR, CLIP_ERROR_FORMAT,
                            _("The clip summary does not read back"));
    }
    free(title);
    free(summary);
    return ok;
}

/* The end of a Summarise: the job goes, the status says how it ended. */
static void end_summary(WenshuClipPage *self, gboolean ok, const char *message)
{
    g_clear_pointer(&self->summary, summary_job_free);
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->summary_view),
                             self->clip_summary ? self->clip_summary : "", -1);
    gtk_progress_bar_set_fraction(self->progress_bar, ok ? 1.0 : 0.0);
    gtk_progress_bar_set_text(self->progress_bar, ok ? "100%" : "");
    wenshu_status_set(self->status_label, !ok, message);
    update_actions(self);
    g_signal_emit(self, signals[SIGNAL_SUMMARISED], 0, ok);
}

static void on_runner_tokens(WenshuRunner *runner, const char *text, WenshuClipPage *self)
{
    (void)runner;
    if (self->summary)
        g_string_append(self->summary->reply, text);
    else
        update_actions(self); /* another page's run: Summarise waits */
}

/* "Chapter 2 of 5 · about 40 s left": the runner's estimate for the step in
 * flight (decoding and encoding) plus the pace of the steps done. */
static void show_summary_progress(WenshuClipPage *self, double step_fraction)
{
    struct summary_job *job = self->summary;
    int n_steps = summary_n_steps(job);
    double f = (job->step + CLAMP(step_fraction, 0.0, 1.0)) / n_steps;
    double runner_left = wenshu_runner_get_seconds_left(self->runner);
    double elapsed = (job->step_started_us - job->started_us) / 1e6;
    double left = job->step > 0 ? elapsed / job->step * (n_steps - job->step - 1) : -1;
    if (runner_left >= 0)
        left = MAX(left, 0) + runner_left;
    char *what = job->step < job->n
                     /* TRANSLATORS: the chapter being described, of all the chapters */
                     ? g_strdup_printf(_("Chapter %d of %d"), job->step + 1, job->n)
                     : g_strdup(_("Titles and summary"));
    char *text = left >= 0 ? /* TRANSLATORS: the step, then the seconds left */
                     g_strdup_printf(_("%s · about %.0f s left"), what, ceil(left))
                           : g_strdup(what);
    gtk_progress_bar_set_fraction(self->progress_bar, f);
    gtk_progress_bar_set_text(self->progress_bar, text);
    g_free(text);
    g_free(what);
}

static void on_runner_progress(WenshuRunner *runner, double fraction, const char *what,
                               WenshuClipPage *self)
{
    (void)runner;
    (void)what;
    if (self->summary)
        show_summary_progress(self, fraction >= 1.0 ? 0.5 : fraction * 0.5);
    else
        update_actions(self); /* a load ended: Summarise may now be possible */
}

static void on_runner_finished(WenshuRunner *runner, gboolean stopped, const GError *error,
                               WenshuClipPage *self)
{
    (void)runner;
    if (!self->summary) {
        update_actions(self); /* another page's run ended */
        return;
    }
    if (error || stopped) {
        end_summary(self, FALSE, error ? error->message : _("Stopped"));
        return;
    }
    GError *step_error = NULL;
    gboolean ok = take_answer(self, &step_error);
    show_chapters(self);
    if (ok && ++self->summary->step < summary_n_steps(self->summary)) {
        show_summary_progress(self, 0.0);
        ok = start_step(self, &step_error);
        if (ok)
            return;
    }
    if (!ok) {
        end_summary(self, FALSE, step_error->message);
        g_error_free(step_error);
        return;
    }
    char *msg = g_strdup_printf(_("Summarised %d chapters"), self->n_chapters);
    end_summary(self, TRUE, msg);
    g_free(msg);
}

static void clear_summary(WenshuClipPage *self)
{
    g_clear_pointer(&self->clip_title, g_free);
    g_clear_pointer(&self->clip_summary, g_free);
    if (self->summary_view)
        gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->summary_view), "", -1);
}

gboolean wenshu_clip_page_summarise(WenshuClipPage *self, GError **error)
{
    g_return_val_if_fail(WENSHU_IS_CLIP_PAGE(self), FALSE);
    if (!self->analysis || self->n_chapters == 0 || self->job) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED, _("No video read yet"));
        return FALSE;
    }
    if (!self->runner || !wenshu_runner_is_loaded(self->runner)) {
        g_set_error_literal(error, WENSHU_RUNNER_ERROR, WENSHU_RUNNER_ERROR_NO_MODEL,
                            _("No model is loaded: open a vision model (with its mmproj) first"));
        return FALSE;
    }
    if (!wenshu_runner_can_read_media(self->runner)) {
        g_set_error_literal(error, WENSHU_RUNNER_ERROR, WENSHU_RUNNER_ERROR_NO_PROJECTOR,
                            _("This model cannot read video: a summary needs a vision model "
                              "with its mmproj file; the chapters stay cut by scene"));
        return FALSE;
    }
    if (self->summary || wenshu_runner_is_running(self->runner)) {
        g_set_error_literal(error, WENSHU_RUNNER_ERROR, WENSHU_RUNNER_ERROR_BUSY,
                            _("The model is busy: wait for it or stop it"));
        return FALSE;
    }
    char *dir = g_dir_make_tmp("wenshu-clip-XXXXXX", error);
    if (!dir)
        return FALSE;
    clear_summary(self);
    make_chapters(self); /* a fresh start: scene-cut titles, no summaries */
    struct summary_job *job = g_new0(struct summary_job, 1);
    job->temp_dir = dir;
    job->clip_name = g_path_get_basename(self->video_path);
    job->n = self->n_chapters;
    job->n_groups = (job->n + CLIP_GEN_GROUP - 1) / CLIP_GEN_GROUP;
    job->descriptions = g_new0(char *, job->n);
    job->group_summaries = g_new0(char *, job->n_groups);
    job->reply = g_string_new(NULL);
    job->started_us = g_get_monotonic_time();
    self->summary = job;
    if (!start_step(self, error)) {
        g_clear_pointer(&self->summary, summary_job_free);
        return FALSE;
    }
    show_chapters(self);
    show_summary_progress(self, 0.0);
    wenshu_status_set(self->status_label, FALSE, _("Summarising with the model…"));
    update_actions(self);
    return TRUE;
}

const char *wenshu_clip_page_get_summary(WenshuClipPage *self)
{
    g_return_val_if_fail(WENSHU_IS_CLIP_PAGE(self), NULL);
    return self->clip_summary;
}

/* "finished" of a run whose page has gone: the job (its schema) lived
 * until now, as the runner requires. */
static void on_orphan_finished(WenshuRunner *runner, gboolean stopped, const GError *error,
                               struct summary_job *job)
{
    (void)stopped;
    (void)error;
    g_signal_handlers_disconnect_by_data(runner, job);
    summary_job_free(job);
}

/* Stop the Summarise in flight and let go of it: the job is freed when the
 * runner's run finishes (its schema must live until then). */
static void abandon_summary(WenshuClipPage *self)
{
    struct summary_job *job = g_steal_pointer(&self->summary);
    if (!job)
        return;
    if (!self->runner || !wenshu_runner_is_running(self->runner)) {
        summary_job_free(job);
        return;
    }
    g_signal_connect(self->runner, "finished", G_CALLBACK(on_orphan_finished), job);
    wenshu_runner_stop(self->runner);
}

static void disconnect_runner(WenshuClipPage *self)
{
    if (!self->runner)
        return;
    g_signal_handlers_disconnect_by_data(self->runner, self);
    g_clear_object(&self->runner);
}

void wenshu_clip_page_set_runner(WenshuClipPage *self, WenshuRunner *runner)
{
    g_return_if_fail(WENSHU_IS_CLIP_PAGE(self));
    if (runner == self->runner)
        return;
    abandon_summary(self);
    disconnect_runner(self);
    if (runner) {
        self->runner = g_object_ref(runner);
        g_signal_connect(runner, "tokens", G_CALLBACK(on_runner_tokens), self);
        g_signal_connect(runner, "progress", G_CALLBACK(on_runner_progress), self);
        g_signal_connect(runner, "finished", G_CALLBACK(on_runner_finished), self);
    }
    update_actions(self);
}

/* Put in a window with no runner set: take the window's. */
static void on_root_changed(WenshuClipPage *self)
{
    GtkRoot *root = gtk_widget_get_root(GTK_WIDGET(self));
    if (!self->runner && WENSHU_IS_WINDOW(root))
        wenshu_clip_page_set_runner(self, wenshu_window_get_runner(WENSHU_WINDOW(root)));
}

static void summarise_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)param;
    WenshuClipPage *self = WENSHU_CLIP_PAGE(widget);
    if (g_str_equal(action, "clip.stop")) {
        if (self->summary)
            wenshu_runner_stop(self->runner);
        return;
    }
    GError *error = NULL;
    if (!wenshu_clip_page_summarise(self, &error)) {
        wenshu_status_set(self->status_label, TRUE, error->message);
        g_error_free(error);
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
        show_chapters(self);
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
    if (self->summary) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_BUSY,
                            _("The model is summarising this video: stop it first"));
        return FALSE;
    }
    clear_chapters(self);
    clear_summary(self);
    g_clear_pointer(&self->analysis, analysis_free);
    show_chapters(self);
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
    char *title =
        self->clip_title ? g_strdup(self->clip_title) : g_path_get_basename(self->video_path);
    struct clip_sheet_params sheet_params = clip_sheet_params_default();
    gboolean ok =
        (!srt || clip_write_srt(srt, self->chapters, self->n_chapters, error)) &&
        (!vtt || clip_write_vtt(vtt, self->chapters, self->n_chapters, error)) &&
        (!markdown || clip_write_markdown(markdown, title, self->clip_summary, self->chapters,
                                          self->n_chapters, error)) &&
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
    g_signal_connect(self, "notify::root", G_CALLBACK(on_root_changed), NULL);
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
    abandon_summary(self);
    disconnect_runner(self);
    clear_summary(self);
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

    signals[SIGNAL_SUMMARISED] =
        g_signal_new("summarised", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                     G_TYPE_NONE, 1, G_TYPE_BOOLEAN);

    gtk_widget_class_set_template_from_resource(widget_class, WENSHU_CLIP_PAGE_UI);
    gtk_widget_class_bind_template_child(widget_class, WenshuClipPage, file_label);
    gtk_widget_class_bind_template_child(widget_class, WenshuClipPage, progress_bar);
    gtk_widget_class_bind_template_child(widget_class, WenshuClipPage, status_label);
    gtk_widget_class_bind_template_child(widget_class, WenshuClipPage, timeline_box);
    gtk_widget_class_bind_template_child(widget_class, WenshuClipPage, chapters_list);
    gtk_widget_class_bind_template_child(widget_class, WenshuClipPage, summary_view);

    gtk_widget_class_install_action(widget_class, "clip.open", NULL, chooser_activated);
    gtk_widget_class_install_action(widget_class, "clip.summarise", NULL, summarise_activated);
    gtk_widget_class_install_action(widget_class, "clip.stop", NULL, summarise_activated);
    gtk_widget_class_install_action(widget_class, "clip.export-srt", NULL, chooser_activated);
    gtk_widget_class_install_action(widget_class, "clip.export-vtt", NULL, chooser_activated);
    gtk_widget_class_install_action(widget_class, "clip.export-md", NULL, chooser_activated);
    gtk_widget_class_install_action(widget_class, "clip.export-sheet", NULL, chooser_activated);
}

GtkWidget *wenshu_clip_page_new(void) { return g_object_new(WENSHU_TYPE_CLIP_PAGE, NULL); }
