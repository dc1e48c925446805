/* wenshu-slides-page.c: the 幻灯片 page (see wenshu-slides-page.h).
 *
 * Generation follows wenshu-cli slides (app/cli/cli-slides-gen.c) step for
 * step, but through the runner's signals: the outline turn (its JSON streams
 * into the view; deck_gen_merge() then turns its points into bullets so the
 * view holds a deck), then one turn a slide (each answer kept; an unsound
 * slide is asked once more), then deck_gen_merge() writes the deck JSON back
 * into the view. Every change of the view restarts a timer; when it fires a
 * GTask thread reads the JSON and draws thumbnails with deck_export_png into
 * a temporary directory, loaded back as textures, so that the thumbnails
 * come from the same drawing code as the PDF export.
 */
#include "wenshu-slides-page.h"
#include "wenshu-page-util.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#include "deck-gen.h"
#include "deck.h"
#include "gw-ingest.h"
#include "wenshu-layout-lock.h"

#define WENSHU_SLIDES_PAGE_UI "/org/wenshu/Wenshu/ui/wenshu-slides-page.ui"
#define PREVIEW_DELAY_MS 400
#define PREVIEW_DPI 48.0 /* 640 x 360 thumbnails, drawn smaller */
#define SLIDE_N_PREDICT 600
#define SLIDE_ATTEMPTS 2

static const char *const theme_names[] = {"plain", "red", "dark"};

enum { STEP_OUTLINE, STEP_SLIDE };

/* One generation run: the outline turn or the slide turns. */
struct gen_job {
    int step;
    struct deck_gen_input input; /* borrows the page's topic and source */
    char *topic;
    char *system;
    char *user;      /* the current turn's user message */
    char *outline;   /* STEP_SLIDE: the outline the slides follow */
    GString *answer; /* the current turn's streamed JSON */
    char **slides;   /* [n_slides] each slide's JSON, or NULL */
    int n_slides;
    int index; /* STEP_SLIDE: the slide being written */
    int attempt;
    struct deck_outline_schema outline_schema;
    struct deck_slide_schema slide_schema;
};

struct _WenshuSlidesPage {
    AdwBin parent_instance;

    /* template children */
    GtkEntry *topic_entry;
    GtkLabel *source_label;
    GtkSpinButton *count_spin;
    GtkDropDown *theme_dropdown;
    GtkTextView *outline_view;
    GtkProgressBar *progress_bar;
    GtkLabel *status_label;
    GtkBox *thumbs_box;

    WenshuRunner *runner;
    struct gen_job *job;
    char *source_name; /* the source document's file name, or NULL */
    char *source_text; /* its text (malloc'd by gw_ingest_file), or NULL */
    guint preview_source;
    GCancellable *preview_cancel; /* the render in flight, or NULL */
    gboolean preview_dirty;
    GtkFileChooserNative *chooser;
};

G_DEFINE_FINAL_TYPE(WenshuSlidesPage, wenshu_slides_page, ADW_TYPE_BIN)

enum { PROP_0, PROP_RUNNER, N_PROPS };
static GParamSpec *props[N_PROPS];
enum { SIGNAL_OUTLINED, SIGNAL_GENERATED, SIGNAL_PREVIEW_READY, N_SIGNALS };
static guint signals[N_SIGNALS];

static const char *selected_theme(WenshuSlidesPage *self)
{
    guint item = gtk_drop_down_get_selected(self->theme_dropdown);
    return theme_names[item < G_N_ELEMENTS(theme_names) ? item : 0];
}

static void update_actions(WenshuSlidesPage *self)
{
    gboolean loaded = self->runner && wenshu_runner_is_loaded(self->runner);
    gboolean idle = !self->job && !(self->runner && wenshu_runner_is_running(self->runner));
    GtkWidget *w = GTK_WIDGET(self);
    gtk_widget_action_set_enabled(w, "slides.outline", loaded && idle);
    gtk_widget_action_set_enabled(w, "slides.generate", loaded && idle);
    gtk_widget_action_set_enabled(w, "slides.stop", self->job != NULL);
}

/* ---- the deck from the view ------------------------------------------------------------ */

/* The deck the JSON describes: a deck JSON as is, or an outline whose
 * points become bullets. Thread-safety: safe (no widget, no shared state).
 * Errors: FALSE with a one-line reason. */
static gboolean deck_from_text(const char *text, struct deck **deck, GError **error)
{
    struct deck_err err = {{0}};
    /* TRANSLATORS: names the outline editor's text in parse errors ("outline: ...") */
    if (deck_from_json(text, strlen(text), _("outline"), deck, &err))
        return TRUE;
    char why[256] = "";
    int n = deck_gen_outline_slides(text, why, sizeof why);
    if (n <= 0 || n > DECK_MAX_SLIDES) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s", err.msg);
        return FALSE;
    }
    char **no_slides = g_new0(char *, n); /* [n] all NULL: the points are the bullets */
    char *merged = deck_gen_merge(text, no_slides, n, why, sizeof why);
    g_free(no_slides);
    gboolean ok = merged && deck_from_json(merged, strlen(merged), _("outline"), deck, &err);
    if (!ok)
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Outline: %s"),
                    merged ? err.msg : why);
    free(merged);
    return ok;
}

static gboolean load_theme(const char *name, struct deck_theme *theme, GError **error)
{
    struct deck_err err = {{0}};
    if (deck_theme_load(name, theme, &err))
        return TRUE;
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, err.msg);
    return FALSE;
}

/* ---- thumbnails ------------------------------------------------------------------------- */

struct render_input {
    char *text;  /* the view's JSON */
    char *theme; /* a theme name */
};

static void render_input_free(struct render_input *in)
{
    g_free(in->text);
    g_free(in->theme);
    g_free(in);
}

/* Runs in a worker thread: the deck's slides as PNGs in a fresh temporary
 * directory, loaded as textures, the files deleted. Returns a GPtrArray of
 * GdkTexture (the title slide first), or NULL with error. */
static GPtrArray *render_thumbnails(const struct render_input *in, GError **error)
{
    struct deck *deck = NULL;
    if (!deck_from_text(in->text, &deck, error))
        return NULL;
    char *dir = g_dir_make_tmp("wenshu-slides-XXXXXX", error);
    if (!dir) {
        deck_free(&deck);
        return NULL;
    }
    char *prefix = g_build_filename(dir, "slide", NULL);
    struct deck_theme theme;
    struct deck_err err = {{0}};
    GPtrArray *pages = NULL;
    g_mutex_lock(wenshu_layout_lock()); /* see wenshu-layout-lock.h */
    gboolean rendered = load_theme(in->theme, &theme, error);
    if (rendered && !deck_export_png(deck, &theme, prefix, PREVIEW_DPI, &err)) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, err.msg);
        rendered = FALSE;
    }
    g_mutex_unlock(wenshu_layout_lock());
    if (rendered)
        pages = g_ptr_array_new_with_free_func(g_object_unref);
    for (int i = 0; pages && i < deck_page_count(deck); i++) {
        char *path = g_strdup_printf("%s-%d.png", prefix, i + 1);
        GdkTexture *texture = gdk_texture_new_from_filename(path, error);
        if (texture)
            g_ptr_array_add(pages, texture);
        else
            g_clear_pointer(&pages, g_ptr_array_unref);
        g_free(path);
    }
    wenshu_remove_dir(dir);
    g_free(prefix);
    g_free(dir);
    deck_free(&deck);
    return pages;
}

static void preview_thread(GTask *task, gpointer source, gpointer task_data,
                           GCancellable *cancellable)
{
    (void)source;
    (void)cancellable;
    GError *error = NULL;
    GPtrArray *pages = render_thumbnails(task_data, &error);
    if (pages)
        g_task_return_pointer(task, pages, (GDestroyNotify)g_ptr_array_unref);
    else
        g_task_return_error(task, error);
}

static void start_preview(WenshuSlidesPage *self);

static void show_thumbnails(WenshuSlidesPage *self, GPtrArray *pages)
{
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(self->thumbs_box))))
        gtk_box_remove(self->thumbs_box, child);
    for (guint i = 0; pages && i < pages->len; i++) {
        GtkWidget *picture = gtk_picture_new_for_paintable(g_ptr_array_index(pages, i));
        gtk_picture_set_can_shrink(GTK_PICTURE(picture), TRUE);
        /* only as wide as the slide drawn, so the card's frame fits the slide */
        gtk_widget_set_halign(picture, GTK_ALIGN_CENTER);
        gtk_widget_add_css_class(picture, "card");
        char *name = /* TRANSLATORS: a slide thumbnail's accessible name */
            g_strdup_printf(_("Slide %u"), i + 1);
        gtk_accessible_update_property(GTK_ACCESSIBLE(picture), GTK_ACCESSIBLE_PROPERTY_LABEL, name,
                                       -1);
        g_free(name);
        gtk_box_append(self->thumbs_box, picture);
    }
}

static void on_preview_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    (void)user_data;
    WenshuSlidesPage *self = WENSHU_SLIDES_PAGE(source);
    GError *error = NULL;
    GPtrArray *pages = g_task_propagate_pointer(G_TASK(result), &error);
    gboolean cancelled = g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(result)));
    if (!cancelled) {
        g_clear_object(&self->preview_cancel);
        show_thumbnails(self, pages);
        if (error && !self->job)
            wenshu_status_set(self->status_label, TRUE, error->message);
        if (self->preview_dirty)
            start_preview(self);
        else
            g_signal_emit(self, signals[SIGNAL_PREVIEW_READY], 0, pages ? (int)pages->len : 0);
    }
    if (pages)
        g_ptr_array_unref(pages);
    g_clear_error(&error);
}

static void start_preview(WenshuSlidesPage *self)
{
    if (self->preview_cancel) { /* one render at a time: redo when it ends */
        self->preview_dirty = TRUE;
        return;
    }
    self->preview_dirty = FALSE;
    struct render_input *in = g_new0(struct render_input, 1);
    in->text = wenshu_buffer_text(gtk_text_view_get_buffer(self->outline_view));
    in->theme = g_strdup(selected_theme(self));
    self->preview_cancel = g_cancellable_new();
    GTask *task = g_task_new(self, self->preview_cancel, on_preview_done, NULL);
    g_task_set_source_tag(task, start_preview);
    g_task_set_task_data(task, in, (GDestroyNotify)render_input_free);
    g_task_run_in_thread(task, preview_thread);
    g_object_unref(task);
}

static gboolean on_preview_timeout(gpointer user_data)
{
    WenshuSlidesPage *self = user_data;
    self->preview_source = 0;
    start_preview(self);
    return G_SOURCE_REMOVE;
}

static void schedule_preview(WenshuSlidesPage *self)
{
    if (self->job && self->job->step == STEP_OUTLINE)
        return; /* the outline is streaming: it is drawn when it is whole */
    g_clear_handle_id(&self->preview_source, g_source_remove);
    self->preview_source = g_timeout_add(PREVIEW_DELAY_MS, on_preview_timeout, self);
}

static void on_outline_changed(GtkTextBuffer *buffer, WenshuSlidesPage *self)
{
    (void)buffer;
    schedule_preview(self);
}

/* ---- generation ------------------------------------------------------------------------- */

static void gen_job_free(struct gen_job *job)
{
    if (!job)
        return;
    g_free(job->topic);
    free(job->system);
    free(job->user);
    free(job->outline);
    for (int i = 0; job->slides && i < job->n_slides; i++)
        free(job->slides[i]);
    g_free(job->slides);
    g_string_free(job->answer, TRUE);
    g_free(job);
}

static struct gen_job *job_new(WenshuSlidesPage *self, int step)
{
    struct gen_job *job = g_new0(struct gen_job, 1);
    job->step = step;
    job->answer = g_string_new(NULL);
    job->topic = g_strstrip(g_strdup(gtk_editable_get_text(GTK_EDITABLE(self->topic_entry))));
    job->input.topic = *job->topic ? job->topic : NULL;
    job->input.source_name = self->source_name;
    job->input.source_text = self->source_text;
    job->input.n_slides = gtk_spin_button_get_value_as_int(self->count_spin);
    job->system = deck_gen_system_prompt();
    return job;
}

static void end_job(WenshuSlidesPage *self, gboolean ok, gboolean is_error, const char *status)
{
    int step = self->job ? self->job->step : STEP_OUTLINE;
    g_clear_pointer(&self->job, gen_job_free);
    wenshu_status_set(self->status_label, is_error, status);
    gtk_text_view_set_editable(self->outline_view, TRUE);
    update_actions(self);
    schedule_preview(self);
    g_signal_emit(self, signals[step == STEP_OUTLINE ? SIGNAL_OUTLINED : SIGNAL_GENERATED], 0, ok);
}

static void set_progress(WenshuSlidesPage *self, int done, int total)
{
    char *text = g_strdup_printf("%d / %d", done, total);
    gtk_progress_bar_set_text(self->progress_bar, text);
    gtk_progress_bar_set_fraction(self->progress_bar, total > 0 ? (double)done / total : 0.0);
    g_free(text);
}

/* Start the current turn of the job (the outline, or slide job->index). */
static gboolean start_turn(WenshuSlidesPage *self, GError **error)
{
    struct gen_job *job = self->job;
    const struct eng_schema *schema;
    int n_predict;
    free(job->user);
    g_string_truncate(job->answer, 0);
    if (job->step == STEP_OUTLINE) {
        job->user = deck_gen_outline_prompt(&job->input);
        deck_outline_schema_init(&job->outline_schema, job->input.n_slides);
        schema = &job->outline_schema.root;
        n_predict = 200 + 120 * job->input.n_slides; /* as wenshu-cli slides */
    } else {
        job->user = deck_gen_slide_prompt(&job->input, job->outline, job->index);
        deck_slide_schema_init(&job->slide_schema);
        schema = &job->slide_schema.root;
        n_predict = SLIDE_N_PREDICT;
    }
    if (!job->system || !job->user) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Out of memory"));
        return FALSE;
    }
    struct eng_chat_message msgs[2] = {{"system", job->system}, {"user", job->user}};
    struct eng_sampler_params sampler = eng_sampler_params_default();
    return wenshu_runner_start(self->runner, msgs, 2, &sampler, n_predict, schema, error);
}

static void on_runner_tokens(WenshuRunner *runner, const char *text, WenshuSlidesPage *self)
{
    (void)runner;
    if (!self->job) {
        update_actions(self);
        return;
    }
    if (!text)
        return;
    g_string_append(self->job->answer, text);
    if (self->job->step == STEP_OUTLINE) {
        GtkTextBuffer *buffer = gtk_text_view_get_buffer(self->outline_view);
        GtkTextIter end;
        gtk_text_buffer_get_end_iter(buffer, &end);
        gtk_text_buffer_insert(buffer, &end, text, -1);
    }
}

/* The outline's JSON is in: check it and show it as a deck. */
static void outline_finished(WenshuSlidesPage *self)
{
    char why[256] = "";
    const char *json = self->job->answer->str;
    int n = deck_gen_outline_slides(json, why, sizeof why);
    char *deck = n > 0 ? deck_gen_merge(json, NULL, n, why, sizeof why) : NULL;
    if (!deck) {
        char *msg = g_strdup_printf(_("The outline the model gave cannot be parsed: %s"), why);
        end_job(self, FALSE, TRUE, msg);
        g_free(msg);
        return;
    }
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->outline_view), deck, -1);
    free(deck);
    char *msg = g_strdup_printf(
        /* TRANSLATORS: %d is the number of slides */
        ngettext("Outline ready (%d slide); edit it, then generate the slides",
                 "Outline ready (%d slides); edit it, then generate the slides", n),
        n);
    end_job(self, TRUE, FALSE, msg);
    g_free(msg);
}

/* A slide's JSON is in: keep it, then the next slide or the merged deck. */
static void slide_finished(WenshuSlidesPage *self)
{
    struct gen_job *job = self->job;
    gboolean sound = deck_gen_slide_is_sound(job->answer->str);
    if (!sound && ++job->attempt < SLIDE_ATTEMPTS) {
        GError *error = NULL;
        if (!start_turn(self, &error)) {
            end_job(self, FALSE, TRUE, error->message);
            g_error_free(error);
        }
        return;
    }
    /* an unsound second answer is dropped: the outline's points stand in */
    job->slides[job->index] = sound ? g_strdup(job->answer->str) : NULL;
    job->index++;
    job->attempt = 0;
    set_progress(self, job->index, job->n_slides);
    if (job->index < job->n_slides) {
        GError *error = NULL;
        if (!start_turn(self, &error)) {
            end_job(self, FALSE, TRUE, error->message);
            g_error_free(error);
        }
        return;
    }
    char why[256] = "";
    char *deck = deck_gen_merge(job->outline, job->slides, job->n_slides, why, sizeof why);
    if (!deck) {
        char *msg = g_strdup_printf(_("The slides cannot be merged: %s"), why);
        end_job(self, FALSE, TRUE, msg);
        g_free(msg);
        return;
    }
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->outline_view), deck, -1);
    free(deck);
    end_job(self, TRUE, FALSE, _("Slides ready; export them as PPTX or PDF"));
}

static void on_runner_finished(WenshuRunner *runner, gboolean stopped, const GError *error,
                               WenshuSlidesPage *self)
{
    (void)runner;
    if (!self->job) {
        update_actions(self);
        return;
    }
    if (error)
        end_job(self, FALSE, TRUE, error->message);
    else if (stopped)
        end_job(self, FALSE, FALSE, _("Stopped"));
    else if (self->job->step == STEP_OUTLINE)
        outline_finished(self);
    else
        slide_finished(self);
}

static void on_runner_state(WenshuSlidesPage *self) { update_actions(self); }

static gboolean can_generate(WenshuSlidesPage *self)
{
    if (self->job)
        return FALSE;
    if (!self->runner || !wenshu_runner_is_loaded(self->runner)) {
        wenshu_status_set(self->status_label, TRUE, _("No model loaded yet"));
        update_actions(self);
        return FALSE;
    }
    return TRUE;
}

static void begin_job(WenshuSlidesPage *self, struct gen_job *job, const char *status)
{
    self->job = job;
    GError *error = NULL;
    if (!start_turn(self, &error)) {
        end_job(self, FALSE, TRUE, error->message);
        g_error_free(error);
        return;
    }
    wenshu_status_set(self->status_label, FALSE, status);
    gtk_text_view_set_editable(self->outline_view, FALSE);
    update_actions(self);
}

static void outline_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    (void)param;
    WenshuSlidesPage *self = WENSHU_SLIDES_PAGE(widget);
    if (!can_generate(self))
        return;
    struct gen_job *job = job_new(self, STEP_OUTLINE);
    if (!job->input.topic && !job->input.source_text) {
        gen_job_free(job);
        wenshu_status_set(self->status_label, TRUE,
                          _("Fill in a topic or choose a source document"));
        return;
    }
    g_clear_handle_id(&self->preview_source, g_source_remove);
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->outline_view), "", -1);
    begin_job(self, job, _("Generating the outline…"));
}

static void generate_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    (void)param;
    WenshuSlidesPage *self = WENSHU_SLIDES_PAGE(widget);
    if (!can_generate(self))
        return;
    struct gen_job *job = job_new(self, STEP_SLIDE);
    job->outline = wenshu_buffer_text(gtk_text_view_get_buffer(self->outline_view));
    char why[256] = "";
    int n = deck_gen_outline_slides(job->outline, why, sizeof why);
    if (n <= 0 || n > DECK_GEN_MAX_SLIDES) {
        char *msg = n > DECK_GEN_MAX_SLIDES
                        ? g_strdup_printf(_("The outline has %d slides; at most %d"), n,
                                          DECK_GEN_MAX_SLIDES)
                        : g_strdup_printf(_("The outline cannot be parsed: %s"), why);
        wenshu_status_set(self->status_label, TRUE, msg);
        g_free(msg);
        gen_job_free(job);
        return;
    }
    job->input.n_slides = n;
    job->n_slides = n;
    job->slides = g_new0(char *, n);
    set_progress(self, 0, n);
    begin_job(self, job, _("Generating the slides one by one…"));
}

static void stop_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    (void)param;
    WenshuSlidesPage *self = WENSHU_SLIDES_PAGE(widget);
    if (self->job && self->runner)
        wenshu_runner_stop(self->runner);
}

/* ---- source document -------------------------------------------------------------------- */

gboolean wenshu_slides_page_set_source(WenshuSlidesPage *self, const char *path, GError **error)
{
    g_return_val_if_fail(WENSHU_IS_SLIDES_PAGE(self), FALSE);
    char *text = NULL;
    size_t len = 0;
    struct gw_err err = {{0}};
    if (!gw_ingest_file(path, &text, &len, &err)) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, err.msg);
        return FALSE;
    }
    free(self->source_text);
    self->source_text = text;
    g_free(self->source_name);
    self->source_name = g_path_get_basename(path);
    char *label = /* TRANSLATORS: the source file's name and its size */
        g_strdup_printf(_("%s (%zu bytes)"), self->source_name, len);
    gtk_label_set_text(self->source_label, label);
    g_free(label);
    return TRUE;
}

/* ---- export ------------------------------------------------------------------------------ */

gboolean wenshu_slides_page_export(WenshuSlidesPage *self, const char *pptx, const char *pdf,
                                   GError **error)
{
    g_return_val_if_fail(WENSHU_IS_SLIDES_PAGE(self), FALSE);
    char *text = wenshu_buffer_text(gtk_text_view_get_buffer(self->outline_view));
    struct deck *deck = NULL;
    gboolean ok = deck_from_text(text, &deck, error);
    g_free(text);
    if (!ok)
        return FALSE;
    struct deck_theme theme;
    struct deck_err err = {{0}};
    g_mutex_lock(wenshu_layout_lock()); /* see wenshu-layout-lock.h */
    ok = load_theme(selected_theme(self), &theme, error);
    if (ok && ((pptx && !deck_export_pptx(deck, &theme, pptx, &err)) ||
               (pdf && !deck_export_pdf(deck, &theme, pdf, &err)))) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, err.msg);
        ok = FALSE;
    }
    g_mutex_unlock(wenshu_layout_lock());
    deck_free(&deck);
    return ok;
}

static void on_save_response(GtkNativeDialog *dialog, int response, WenshuSlidesPage *self)
{
    gboolean as_pdf = GPOINTER_TO_INT(g_object_get_data(G_OBJECT(dialog), "wenshu-pdf"));
    gboolean open_source =
        GPOINTER_TO_INT(g_object_get_data(G_OBJECT(dialog), "wenshu-open-source"));
    GFile *file = response == GTK_RESPONSE_ACCEPT
                      ? gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog))
                      : NULL;
    char *path = file ? g_file_get_path(file) : NULL;
    if (path) {
        GError *error = NULL;
        gboolean ok = open_source ? wenshu_slides_page_set_source(self, path, &error)
                                  : wenshu_slides_page_export(self, as_pdf ? NULL : path,
                                                              as_pdf ? path : NULL, &error);
        if (ok) {
            char *msg = g_strdup_printf(open_source ? _("Read %s") : _("Exported %s"), path);
            wenshu_status_set(self->status_label, FALSE, msg);
            g_free(msg);
        } else {
            wenshu_status_set(self->status_label, TRUE, error->message);
            g_error_free(error);
        }
    }
    g_free(path);
    g_clear_object(&file);
    g_clear_object(&self->chooser);
}

static void show_chooser(WenshuSlidesPage *self, const char *title, GtkFileChooserAction mode,
                         const char *name, gboolean as_pdf)
{
    GtkRoot *root = gtk_widget_get_root(GTK_WIDGET(self));
    self->chooser = gtk_file_chooser_native_new(
        title, GTK_IS_WINDOW(root) ? GTK_WINDOW(root) : NULL, mode, NULL, NULL);
    gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(self->chooser), TRUE);
    if (name)
        gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(self->chooser), name);
    if (mode == GTK_FILE_CHOOSER_ACTION_OPEN) {
        GtkFileFilter *filter = gtk_file_filter_new();
        gtk_file_filter_set_name(filter, _("Documents (.docx .pdf .md .txt)"));
        const char *suffixes[] = {"docx", "pdf", "md", "txt"};
        for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++)
            gtk_file_filter_add_suffix(filter, suffixes[i]);
        gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(self->chooser), filter);
        g_object_unref(filter);
    }
    g_object_set_data(G_OBJECT(self->chooser), "wenshu-pdf", GINT_TO_POINTER(as_pdf));
    g_object_set_data(G_OBJECT(self->chooser), "wenshu-open-source",
                      GINT_TO_POINTER(mode == GTK_FILE_CHOOSER_ACTION_OPEN));
    g_signal_connect(self->chooser, "response", G_CALLBACK(on_save_response), self);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(self->chooser));
}

static void export_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)param;
    WenshuSlidesPage *self = WENSHU_SLIDES_PAGE(widget);
    if (self->chooser)
        return;
    gboolean as_pdf = g_str_equal(action, "slides.export-pdf");
    show_chooser(self, as_pdf ? _("Export PDF") : _("Export PPTX"), GTK_FILE_CHOOSER_ACTION_SAVE,
                 /* TRANSLATORS: default file names */
                 as_pdf ? _("slides.pdf") : _("slides.pptx"), as_pdf);
}

static void open_source_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    (void)param;
    WenshuSlidesPage *self = WENSHU_SLIDES_PAGE(widget);
    if (!self->chooser)
        show_chooser(self, _("Choose a source document"), GTK_FILE_CHOOSER_ACTION_OPEN, NULL,
                     FALSE);
}

/* ---- the outline text -------------------------------------------------------------------- */

void wenshu_slides_page_set_outline_text(WenshuSlidesPage *self, const char *json)
{
    g_return_if_fail(WENSHU_IS_SLIDES_PAGE(self));
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->outline_view), json ? json : "", -1);
}

char *wenshu_slides_page_get_outline_text(WenshuSlidesPage *self)
{
    g_return_val_if_fail(WENSHU_IS_SLIDES_PAGE(self), NULL);
    return wenshu_buffer_text(gtk_text_view_get_buffer(self->outline_view));
}

/* ---- the object -------------------------------------------------------------------------- */

/* GtkSpinButton's own - and + buttons are icons with no accessible name:
 * give them one, for screen readers. */
static void label_spin_buttons(GtkSpinButton *spin)
{
    for (GtkWidget *c = gtk_widget_get_first_child(GTK_WIDGET(spin)); c;
         c = gtk_widget_get_next_sibling(c)) {
        const char *icon = GTK_IS_BUTTON(c) ? gtk_button_get_icon_name(GTK_BUTTON(c)) : NULL;
        if (g_strcmp0(icon, "value-decrease-symbolic") == 0)
            gtk_accessible_update_property(GTK_ACCESSIBLE(c), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                           _("Fewer slides"), -1);
        else if (g_strcmp0(icon, "value-increase-symbolic") == 0)
            gtk_accessible_update_property(GTK_ACCESSIBLE(c), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                           _("More slides"), -1);
    }
}

static void wenshu_slides_page_init(WenshuSlidesPage *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    label_spin_buttons(self->count_spin);
    g_signal_connect(gtk_text_view_get_buffer(self->outline_view), "changed",
                     G_CALLBACK(on_outline_changed), self);
    g_signal_connect_swapped(self->theme_dropdown, "notify::selected", G_CALLBACK(schedule_preview),
                             self);
    set_progress(self, 0, gtk_spin_button_get_value_as_int(self->count_spin));
    update_actions(self);
}

static void wenshu_slides_page_constructed(GObject *object)
{
    WenshuSlidesPage *self = WENSHU_SLIDES_PAGE(object);
    G_OBJECT_CLASS(wenshu_slides_page_parent_class)->constructed(object);
    if (self->runner) {
        g_signal_connect(self->runner, "tokens", G_CALLBACK(on_runner_tokens), self);
        g_signal_connect(self->runner, "finished", G_CALLBACK(on_runner_finished), self);
        g_signal_connect_swapped(self->runner, "notify", G_CALLBACK(on_runner_state), self);
        g_signal_connect_swapped(self->runner, "progress", G_CALLBACK(on_runner_state), self);
    }
    g_signal_connect_swapped(self, "map", G_CALLBACK(on_runner_state), self);
    update_actions(self);
}

static void wenshu_slides_page_dispose(GObject *object)
{
    WenshuSlidesPage *self = WENSHU_SLIDES_PAGE(object);
    if (self->runner) {
        if (self->job)
            wenshu_runner_stop(self->runner);
        g_signal_handlers_disconnect_by_data(self->runner, self);
        g_clear_object(&self->runner);
    }
    g_clear_pointer(&self->job, gen_job_free);
    g_clear_handle_id(&self->preview_source, g_source_remove);
    if (self->preview_cancel)
        g_cancellable_cancel(self->preview_cancel);
    g_clear_object(&self->preview_cancel);
    if (self->chooser)
        gtk_native_dialog_destroy(GTK_NATIVE_DIALOG(self->chooser));
    g_clear_object(&self->chooser);
    if (self->outline_view)
        g_signal_handlers_disconnect_by_data(gtk_text_view_get_buffer(self->outline_view), self);
    if (self->theme_dropdown)
        g_signal_handlers_disconnect_by_data(self->theme_dropdown, self);
    g_clear_pointer(&self->source_text, free);
    g_clear_pointer(&self->source_name, g_free);
    gtk_widget_dispose_template(GTK_WIDGET(self), WENSHU_TYPE_SLIDES_PAGE);
    G_OBJECT_CLASS(wenshu_slides_page_parent_class)->dispose(object);
}

static void wenshu_slides_page_set_property(GObject *object, guint id, const GValue *value,
                                            GParamSpec *pspec)
{
    WenshuSlidesPage *self = WENSHU_SLIDES_PAGE(object);
    if (id == PROP_RUNNER)
        self->runner = g_value_dup_object(value);
    else
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
}

static void wenshu_slides_page_get_property(GObject *object, guint id, GValue *value,
                                            GParamSpec *pspec)
{
    WenshuSlidesPage *self = WENSHU_SLIDES_PAGE(object);
    if (id == PROP_RUNNER)
        g_value_set_object(value, self->runner);
    else
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
}

static void wenshu_slides_page_class_init(WenshuSlidesPageClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->constructed = wenshu_slides_page_constructed;
    object_class->dispose = wenshu_slides_page_dispose;
    object_class->set_property = wenshu_slides_page_set_property;
    object_class->get_property = wenshu_slides_page_get_property;

    props[PROP_RUNNER] =
        g_param_spec_object("runner", NULL, NULL, WENSHU_TYPE_RUNNER,
                            G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, props);

    signals[SIGNAL_OUTLINED] = g_signal_new("outlined", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                            0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
    signals[SIGNAL_GENERATED] =
        g_signal_new("generated", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                     G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
    signals[SIGNAL_PREVIEW_READY] =
        g_signal_new("preview-ready", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 1, G_TYPE_INT);

    gtk_widget_class_set_template_from_resource(widget_class, WENSHU_SLIDES_PAGE_UI);
    gtk_widget_class_bind_template_child(widget_class, WenshuSlidesPage, topic_entry);
    gtk_widget_class_bind_template_child(widget_class, WenshuSlidesPage, source_label);
    gtk_widget_class_bind_template_child(widget_class, WenshuSlidesPage, count_spin);
    gtk_widget_class_bind_template_child(widget_class, WenshuSlidesPage, theme_dropdown);
    gtk_widget_class_bind_template_child(widget_class, WenshuSlidesPage, outline_view);
    gtk_widget_class_bind_template_child(widget_class, WenshuSlidesPage, progress_bar);
    gtk_widget_class_bind_template_child(widget_class, WenshuSlidesPage, status_label);
    gtk_widget_class_bind_template_child(widget_class, WenshuSlidesPage, thumbs_box);

    gtk_widget_class_install_action(widget_class, "slides.outline", NULL, outline_activated);
    gtk_widget_class_install_action(widget_class, "slides.generate", NULL, generate_activated);
    gtk_widget_class_install_action(widget_class, "slides.stop", NULL, stop_activated);
    gtk_widget_class_install_action(widget_class, "slides.open-source", NULL,
                                    open_source_activated);
    gtk_widget_class_install_action(widget_class, "slides.export-pptx", NULL, export_activated);
    gtk_widget_class_install_action(widget_class, "slides.export-pdf", NULL, export_activated);
}

GtkWidget *wenshu_slides_page_new(WenshuRunner *runner)
{
    g_return_val_if_fail(runner == NULL || WENSHU_IS_RUNNER(runner), NULL);
    return g_object_new(WENSHU_TYPE_SLIDES_PAGE, "runner", runner, NULL);
}
