/* wenshu-gongwen-page.c: the 公文 page (see wenshu-gongwen-page.h).
 *
 * Drafting follows wenshu-cli draft (app/cli/cmd-draft.c) step for step, but
 * through the runner's signals instead of a blocking loop: the header JSON
 * ("tokens" collected, "finished" parses it), then the body ("tokens" stream
 * into the draft view), then gw_draft_compose() replaces the streamed body
 * with the whole draft. Every change to the draft text restarts two timers:
 * the format check (gw_parse_text + gw_check, fast, on the main loop) and
 * the preview (gw_export_png into a temporary directory, in a GTask thread,
 * loaded back as textures), so that the preview comes from the same layout
 * and drawing code (gw-layout.c, gw-pdf.c) as the PDF export.
 *
 * With a history (wenshu_gongwen_page_set_history) the page saves a "gongwen"
 * conversation: the form as JSON settings (json-glib; keys kind, issuer,
 * doc_number, signers, recipients, date, contact, notes) and the draft text
 * as one assistant message. It saves when a drafting run ends and,
 * debounced by AUTOSAVE_DELAY_MS, after edits; each Draft starts a new
 * conversation. While the body streams, the text so far is saved at most
 * every STREAM_SAVE_MS as an unfinished message (on the first tokens, then
 * as they come), so a crash or a kill loses at most that much and the
 * window restores the draft at the next start.
 * wenshu_gongwen_page_load_conversation() puts one back.
 */
#include "wenshu-gongwen-page.h"
#include "wenshu-page-util.h"
#include "wenshu-layout-lock.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "gongwen.h"
#include "gw-check.h"
#include "gw-draft.h"
#include "gw-export.h"

#define WENSHU_GONGWEN_PAGE_UI "/org/wenshu/Wenshu/ui/wenshu-gongwen-page.ui"
#define CHECK_DELAY_MS 300
#define PREVIEW_DELAY_MS 500
#define PREVIEW_DPI 96.0
#define PREVIEW_PAGE_HEIGHT 420 /* px a page takes in the preview column */
#define HEADER_N_PREDICT 600
#define BODY_N_PREDICT 1500
#define AUTOSAVE_DELAY_MS 1000 /* the quiet time after an edit before it is saved */
#define STREAM_SAVE_MS 500     /* the longest a streaming body stays unsaved */
#define TITLE_CHARS 20         /* a saved draft's title: kind and issuer, cut */

enum draft_step {
    DRAFT_STEP_HEADER, /* the header JSON streams into job->json */
    DRAFT_STEP_BODY,   /* the body streams into job->body and the draft view */
};

/* One drafting run. Heap-allocated because schema must not move while the
 * runner uses it; facts' strings point into the owned copies below. */
struct draft_job {
    enum draft_step step;
    char *issuer, *doc_number, *signers, *recipients, *date, *contact, *notes; /* g_free */
    struct gw_draft_facts facts;
    struct gw_draft_schema schema;
    char *system, *user_header, *user_body; /* the prompts (free()), alive for the run */
    GString *json;                          /* step 1's reply */
    GString *body;                          /* step 2's reply */
    struct gw_draft_header header;
};

struct _WenshuGongwenPage {
    AdwBin parent_instance;

    WenshuRunner *runner; /* owned reference, may be NULL: drafting stays off */
    struct draft_job *job; /* the run in progress, or NULL */

    /* the kinds offered: kinds[i] is the combo row's item i */
    enum gw_kind kinds[GW_KIND_COUNT];
    int n_kinds;

    guint check_source;   /* the pending debounced check, 0 when none */
    guint preview_source; /* the pending debounced preview, 0 when none */
    GCancellable *preview_cancel; /* the preview render in flight, or NULL */
    gboolean preview_dirty;       /* the text changed while a render ran */
    GtkFileChooserNative *chooser; /* the open export dialog, or NULL */

    WenshuHistory *history;  /* borrowed from the window, or NULL: nothing is saved */
    gint64 conversation_id;  /* the saved draft shown, or 0 */
    gint64 draft_message_id; /* its draft text message, or 0 */
    guint autosave_source;   /* the pending debounced save, or 0 */
    gint64 stream_saved_at;  /* monotonic µs of the last save while the body
                              * streams; 0: not saved since it began */
    gboolean restoring;      /* filling the form from the history: not an edit */

    /* template children */
    AdwComboRow *kind_row;
    AdwEntryRow *issuer_row, *number_row, *signer_row, *recipients_row, *date_row, *contact_row;
    GtkTextView *facts_view;
    GtkLabel *status_label;
    GtkTextView *draft_view;
    GtkListBox *issues_list;
    GtkBox *preview_box;
};

G_DEFINE_FINAL_TYPE(WenshuGongwenPage, wenshu_gongwen_page, ADW_TYPE_BIN)

enum { PROP_0, PROP_RUNNER, N_PROPS };
static GParamSpec *props[N_PROPS];

enum { SIGNAL_CHECKED, SIGNAL_PREVIEW_READY, SIGNAL_DRAFTED, SIGNAL_HISTORY_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* ---- small helpers ------------------------------------------------------------------ */

/* The entry's text without surrounding spaces, or NULL when empty. */
static char *entry_value(AdwEntryRow *row)
{
    char *text = g_strstrip(g_strdup(gtk_editable_get_text(GTK_EDITABLE(row))));
    if (*text == '\0')
        g_clear_pointer(&text, g_free);
    return text;
}

/* "2025年3月18日" for today. Caller frees. */
static char *today_text(void)
{
    GDateTime *now = g_date_time_new_now_local();
    char *text = g_strdup_printf("%d年%d月%d日", g_date_time_get_year(now),
                                 g_date_time_get_month(now), g_date_time_get_day_of_month(now));
    g_date_time_unref(now);
    return text;
}

static void update_actions(WenshuGongwenPage *self)
{
    gboolean loaded = self->runner && wenshu_runner_is_loaded(self->runner);
    gboolean busy = self->runner && wenshu_runner_is_running(self->runner);
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "gongwen.draft",
                                  loaded && !busy && self->job == NULL);
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "gongwen.stop", self->job != NULL);
}

/* ---- the format check ---------------------------------------------------------------- */

static GtkWidget *issue_label(const char *text, const char *css_class, gboolean wrap)
{
    GtkWidget *label = gtk_label_new(text);
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    gtk_label_set_wrap(GTK_LABEL(label), wrap);
    gtk_label_set_wrap_mode(GTK_LABEL(label), PANGO_WRAP_WORD_CHAR);
    if (css_class)
        gtk_widget_add_css_class(label, css_class);
    return label;
}

/* One row of the list: severity, 第N行, message and fix. The row carries
 * "wenshu-line" (the 1-based line, 0: the whole draft) and "wenshu-rule". */
static GtkWidget *issue_row_new(const char *severity, gboolean is_error, int line,
                                const char *rule, const char *message, const char *fix)
{
    GtkWidget *row = gtk_list_box_row_new();
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
    gtk_widget_set_margin_start(box, 12);
    gtk_widget_set_margin_end(box, 12);
    gtk_widget_set_margin_top(box, 6);
    gtk_widget_set_margin_bottom(box, 6);
    GtkWidget *sev = issue_label(severity, is_error ? "error" : "warning", FALSE);
    gtk_widget_set_valign(sev, GTK_ALIGN_START);
    gtk_box_append(GTK_BOX(box), sev);
    char *where = line > 0 ? g_strdup_printf(_("Line %d"), line)
                           /* TRANSLATORS: an issue that concerns no single line */
                           : g_strdup(_("Whole text"));
    GtkWidget *line_label = issue_label(where, "numeric", FALSE);
    gtk_widget_set_valign(line_label, GTK_ALIGN_START);
    gtk_box_append(GTK_BOX(box), line_label);
    g_free(where);
    GtkWidget *texts = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
    gtk_widget_set_hexpand(texts, TRUE);
    gtk_box_append(GTK_BOX(texts), issue_label(message, NULL, TRUE));
    if (fix && *fix) {
        char *advice = /* TRANSLATORS: how to fix a format issue */
            g_strdup_printf(_("Suggestion: %s"), fix);
        gtk_box_append(GTK_BOX(texts), issue_label(advice, "dim-label", TRUE));
        g_free(advice);
    }
    gtk_box_append(GTK_BOX(box), texts);
    gtk_list_box_row_set_child(GTK_LIST_BOX_ROW(row), box);
    gtk_list_box_row_set_activatable(GTK_LIST_BOX_ROW(row), line > 0);
    g_object_set_data(G_OBJECT(row), "wenshu-line", GINT_TO_POINTER(line));
    g_object_set_data_full(G_OBJECT(row), "wenshu-rule", g_strdup(rule), g_free);
    return row;
}

static void clear_issues(WenshuGongwenPage *self)
{
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(self->issues_list))))
        gtk_list_box_remove(self->issues_list, child);
}

/* Parse and check the draft; fill the list. Returns the number of issues,
 * -1 when the draft does not parse. */
static int run_check(WenshuGongwenPage *self)
{
    clear_issues(self);
    char *text = wenshu_buffer_text(gtk_text_view_get_buffer(self->draft_view));
    size_t len = strlen(text);
    if (len == 0) {
        g_free(text);
        return 0;
    }
    struct gw_doc *doc = NULL;
    struct gw_err err = {{0}};
    /* TRANSLATORS: names the draft editor's text in parse errors ("draft: ...") */
    if (!gw_parse_text(text, len, _("draft"), &doc, &err)) {
        gtk_list_box_append(
            self->issues_list,
            issue_row_new(gw_severity_name(GW_SEVERITY_ERROR), TRUE, 0, "parse", err.msg,
                          /* TRANSLATORS: the draft's syntax: keep “# 标题” and “发文机关：” */
                          _("Write the draft as “# 标题” (title), “发文机关：” (issuing agency) "
                            "and the like")));
        g_free(text);
        return -1;
    }
    struct gw_issue *issues = NULL;
    int n_issues = 0;
    if (!gw_check(doc, text, len, &issues, &n_issues, &err))
        n_issues = 0; /* out of memory: show nothing rather than half a list */
    for (int i = 0; i < n_issues; i++) {
        const struct gw_issue *is = &issues[i];
        gtk_list_box_append(self->issues_list,
                            issue_row_new(gw_severity_name(is->severity),
                                          is->severity == GW_SEVERITY_ERROR, is->line, is->rule,
                                          is->message, is->fix));
    }
    free(issues);
    gw_doc_free(&doc);
    g_free(text);
    return n_issues;
}

static gboolean on_check_timeout(gpointer user_data)
{
    WenshuGongwenPage *self = user_data;
    self->check_source = 0;
    int n = run_check(self);
    g_signal_emit(self, signals[SIGNAL_CHECKED], 0, n);
    return G_SOURCE_REMOVE;
}

/* Move the cursor to the start of line (1-based) and scroll it into view. */
static void go_to_line(WenshuGongwenPage *self, int line)
{
    GtkTextBuffer *buffer = gtk_text_view_get_buffer(self->draft_view);
    GtkTextIter iter;
    gtk_text_buffer_get_iter_at_line(buffer, &iter, line - 1);
    gtk_text_buffer_place_cursor(buffer, &iter);
    gtk_text_view_scroll_to_mark(self->draft_view, gtk_text_buffer_get_insert(buffer), 0.1, TRUE,
                                 0.0, 0.3);
    gtk_widget_grab_focus(GTK_WIDGET(self->draft_view));
}

static void on_issues_list_row_activated(GtkListBox *list, GtkListBoxRow *row,
                                         WenshuGongwenPage *self)
{
    (void)list;
    int line = GPOINTER_TO_INT(g_object_get_data(G_OBJECT(row), "wenshu-line"));
    if (line > 0)
        go_to_line(self, line);
}

/* ---- the preview ------------------------------------------------------------------------ */

/* Runs in a worker thread: lay the draft out, write the pages as PNGs in a
 * fresh temporary directory, load them as textures, delete the files.
 * Returns a GPtrArray of GdkTexture (one a page), or an error. */
static GPtrArray *render_preview_pages(const char *text, GError **error)
{
    struct gw_doc *doc = NULL;
    struct gw_err err = {{0}};
    if (!gw_parse_text(text, strlen(text), _("draft"), &doc, &err)) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, err.msg);
        return NULL;
    }
    char *dir = g_dir_make_tmp("wenshu-preview-XXXXXX", error);
    if (!dir) {
        gw_doc_free(&doc);
        return NULL;
    }
    char *prefix = g_build_filename(dir, "page", NULL);
    int n_pages = 0;
    GPtrArray *pages = NULL;
    g_mutex_lock(wenshu_layout_lock()); /* the preview thread and exports */
    gboolean rendered = gw_export_png(doc, NULL, prefix, PREVIEW_DPI, &n_pages, &err);
    g_mutex_unlock(wenshu_layout_lock());
    if (!rendered)
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, err.msg);
    else
        pages = g_ptr_array_new_with_free_func(g_object_unref);
    for (int i = 0; pages && i < n_pages; i++) {
        char *path = g_strdup_printf("%s-%d.png", prefix, i + 1);
        GdkTexture *texture = gdk_texture_new_from_filename(path, error);
        if (texture)
            g_ptr_array_add(pages, texture);
        else
            g_clear_pointer(&pages, g_ptr_array_unref);
        g_free(path);
    }
    wenshu_remove_dir(dir); /* whatever the export left, a failed one included */
    g_free(prefix);
    g_free(dir);
    gw_doc_free(&doc);
    return pages;
}

static void preview_thread(GTask *task, gpointer source, gpointer task_data,
                           GCancellable *cancellable)
{
    (void)source;
    (void)cancellable;
    GError *error = NULL;
    GPtrArray *pages = render_preview_pages(task_data, &error);
    if (pages)
        g_task_return_pointer(task, pages, (GDestroyNotify)g_ptr_array_unref);
    else
        g_task_return_error(task, error);
}

static void start_preview(WenshuGongwenPage *self);

static void show_preview_pages(WenshuGongwenPage *self, GPtrArray *pages)
{
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(self->preview_box))))
        gtk_box_remove(self->preview_box, child);
    for (guint i = 0; pages && i < pages->len; i++) {
        GtkWidget *picture = gtk_picture_new_for_paintable(g_ptr_array_index(pages, i));
        gtk_picture_set_can_shrink(GTK_PICTURE(picture), TRUE);
        gtk_picture_set_content_fit(GTK_PICTURE(picture), GTK_CONTENT_FIT_CONTAIN);
        /* the scroller gives a shrinkable picture only its minimum: ask for a
         * page's height at about a third of the texture's size */
        gtk_widget_set_size_request(picture, -1, PREVIEW_PAGE_HEIGHT);
        gtk_widget_add_css_class(picture, "card");
        char *name = /* TRANSLATORS: a preview page's accessible name */
            g_strdup_printf(_("Page %u"), i + 1);
        gtk_accessible_update_property(GTK_ACCESSIBLE(picture), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       name, -1);
        g_free(name);
        gtk_box_append(self->preview_box, picture);
    }
}

static void on_preview_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    (void)user_data;
    WenshuGongwenPage *self = WENSHU_GONGWEN_PAGE(source);
    GError *error = NULL;
    GPtrArray *pages = g_task_propagate_pointer(G_TASK(result), &error);
    /* a page disposed during the render cancelled it: its widgets are gone */
    gboolean cancelled = g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(result)));
    if (!cancelled) {
        g_clear_object(&self->preview_cancel);
        /* a draft that does not parse keeps the last good pages; the check says why */
        if (pages)
            show_preview_pages(self, pages);
        if (self->preview_dirty) /* the text changed meanwhile: these pages are stale */
            start_preview(self);
        else
            g_signal_emit(self, signals[SIGNAL_PREVIEW_READY], 0, pages ? (int)pages->len : 0);
    }
    if (pages)
        g_ptr_array_unref(pages);
    g_clear_error(&error);
}

static void start_preview(WenshuGongwenPage *self)
{
    if (self->preview_cancel) { /* one render at a time: redo when it ends */
        self->preview_dirty = TRUE;
        return;
    }
    self->preview_dirty = FALSE;
    char *text = wenshu_buffer_text(gtk_text_view_get_buffer(self->draft_view));
    if (*text == '\0') {
        g_free(text);
        show_preview_pages(self, NULL);
        g_signal_emit(self, signals[SIGNAL_PREVIEW_READY], 0, 0);
        return;
    }
    self->preview_cancel = g_cancellable_new();
    GTask *task = g_task_new(self, self->preview_cancel, on_preview_done, NULL);
    g_task_set_source_tag(task, start_preview);
    g_task_set_task_data(task, text, g_free);
    g_task_run_in_thread(task, preview_thread);
    g_object_unref(task);
}

static gboolean on_preview_timeout(gpointer user_data)
{
    WenshuGongwenPage *self = user_data;
    self->preview_source = 0;
    start_preview(self);
    return G_SOURCE_REMOVE;
}

static void schedule_autosave(WenshuGongwenPage *self);

static void on_draft_buffer_changed(GtkTextBuffer *buffer, WenshuGongwenPage *self)
{
    (void)buffer;
    if (self->job) /* a raw body streaming in: check and lay out the composed draft */
        return;
    g_clear_handle_id(&self->check_source, g_source_remove);
    g_clear_handle_id(&self->preview_source, g_source_remove);
    self->check_source = g_timeout_add(CHECK_DELAY_MS, on_check_timeout, self);
    self->preview_source = g_timeout_add(PREVIEW_DELAY_MS, on_preview_timeout, self);
    schedule_autosave(self);
}

/* ---- autosave into the history ----------------------------------------------------------- */

/* The form's entry rows with their JSON keys, in the order saved. */
static const struct {
    const char *key;
    gsize offset; /* of the AdwEntryRow * in WenshuGongwenPage */
} form_entries[] = {
    {"issuer", G_STRUCT_OFFSET(WenshuGongwenPage, issuer_row)},
    {"doc_number", G_STRUCT_OFFSET(WenshuGongwenPage, number_row)},
    {"signers", G_STRUCT_OFFSET(WenshuGongwenPage, signer_row)},
    {"recipients", G_STRUCT_OFFSET(WenshuGongwenPage, recipients_row)},
    {"date", G_STRUCT_OFFSET(WenshuGongwenPage, date_row)},
    {"contact", G_STRUCT_OFFSET(WenshuGongwenPage, contact_row)},
};

static GtkEditable *form_entry(WenshuGongwenPage *self, guint i)
{
    return GTK_EDITABLE(G_STRUCT_MEMBER(AdwEntryRow *, self, form_entries[i].offset));
}

static const char *selected_kind_name(WenshuGongwenPage *self)
{
    guint item = adw_combo_row_get_selected(self->kind_row);
    return item < (guint)self->n_kinds ? gw_kind_name(self->kinds[item]) : "";
}

/* The form as JSON text. Ownership: the caller frees it. */
static char *form_to_json(WenshuGongwenPage *self)
{
    g_autoptr(JsonBuilder) builder = json_builder_new();
    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "kind");
    json_builder_add_string_value(builder, selected_kind_name(self));
    for (guint i = 0; i < G_N_ELEMENTS(form_entries); i++) {
        json_builder_set_member_name(builder, form_entries[i].key);
        json_builder_add_string_value(builder, gtk_editable_get_text(form_entry(self, i)));
    }
    g_autofree char *notes = wenshu_buffer_text(gtk_text_view_get_buffer(self->facts_view));
    json_builder_set_member_name(builder, "notes");
    json_builder_add_string_value(builder, notes);
    json_builder_end_object(builder);
    g_autoptr(JsonNode) root = json_builder_get_root(builder);
    return json_to_string(root, FALSE);
}

/* Fill the form from form_to_json()'s text; keys missing or not strings
 * leave their field as it is. FALSE (error names the conversation) when the
 * text is not a JSON object. */
static gboolean form_from_json(WenshuGongwenPage *self, const char *json, const char *title,
                               GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    GError *parse_error = NULL;
    if (!json_parser_load_from_data(parser, json, -1, &parse_error) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        g_set_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_FAILED,
                    /* TRANSLATORS: the conversation's title; ": " and a reason, or nothing */
                    _("%s: the saved official document form is not a JSON object%s%s"), title,
                    parse_error ? ": " : "", parse_error ? parse_error->message : "");
        g_clear_error(&parse_error);
        return FALSE;
    }
    JsonObject *form = json_node_get_object(json_parser_get_root(parser));
    const char *kind = json_object_get_string_member_with_default(form, "kind", "");
    for (int i = 0; i < self->n_kinds; i++)
        if (g_str_equal(kind, gw_kind_name(self->kinds[i])))
            adw_combo_row_set_selected(self->kind_row, (guint)i);
    for (guint i = 0; i < G_N_ELEMENTS(form_entries); i++) {
        const char *value =
            json_object_get_string_member_with_default(form, form_entries[i].key, NULL);
        if (value)
            gtk_editable_set_text(form_entry(self, i), value);
    }
    const char *notes = json_object_get_string_member_with_default(form, "notes", NULL);
    if (notes)
        gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->facts_view), notes, -1);
    return TRUE;
}

/* "通知 · 某某市人民政府", cut to TITLE_CHARS. Ownership: the caller frees it. */
static char *draft_title(WenshuGongwenPage *self)
{
    g_autofree char *issuer = entry_value(self->issuer_row);
    g_autofree char *full = g_strdup_printf("%s%s%s", selected_kind_name(self),
                                            issuer ? " · " : "", issuer ? issuer : "");
    if (g_utf8_strlen(full, -1) <= TITLE_CHARS)
        return g_steal_pointer(&full);
    g_autofree char *cut = g_utf8_substring(full, 0, TITLE_CHARS);
    return g_strconcat(cut, "…", NULL);
}

/* Save the form and the draft now: a new conversation the first time
 * (once there is a draft text), an update after; complete FALSE while the
 * body is still streaming. A failure shows in the window's banner and ends
 * saving for this page. */
static void save_draft(WenshuGongwenPage *self, gboolean complete)
{
    g_clear_handle_id(&self->autosave_source, g_source_remove);
    if (!self->history)
        return;
    g_autofree char *text = wenshu_gongwen_page_get_draft_text(self);
    if (!self->conversation_id && !text[0])
        return;
    g_autofree char *settings = form_to_json(self);
    GError *error = NULL;
    if (!self->conversation_id) {
        g_autofree char *title = draft_title(self);
        self->conversation_id =
            wenshu_history_new_conversation(self->history, "gongwen", title, settings, &error);
        self->draft_message_id = 0;
    } else if (!wenshu_history_set_settings(self->history, self->conversation_id, settings,
                                            &error)) {
        goto out_failed;
    }
    if (!self->conversation_id)
        goto out_failed;
    if (!self->draft_message_id)
        self->draft_message_id = wenshu_history_add_message(
            self->history, self->conversation_id, "assistant", text, complete, &error);
    else if (!wenshu_history_update_message(self->history, self->draft_message_id, text,
                                            complete, &error))
        goto out_failed;
    if (!self->draft_message_id)
        goto out_failed;
    g_signal_emit(self, signals[SIGNAL_HISTORY_CHANGED], 0);
    return;
out_failed : {
    g_autofree char *message = g_strdup_printf(_("History: %s"), error->message);
    g_error_free(error);
    self->history = NULL;
    if (!gtk_widget_activate_action(GTK_WIDGET(self), "win.show-error", "s", message))
        g_message("%s", message);
}
}

static void save_to_history(WenshuGongwenPage *self)
{
    save_draft(self, TRUE);
}

/* The body is streaming: save it unfinished on its first tokens, then at
 * most every STREAM_SAVE_MS. */
static void save_streamed_body(WenshuGongwenPage *self)
{
    gint64 now = g_get_monotonic_time();
    if (self->stream_saved_at && now - self->stream_saved_at < STREAM_SAVE_MS * 1000)
        return;
    self->stream_saved_at = now;
    save_draft(self, FALSE);
}

static gboolean on_autosave_timeout(gpointer user_data)
{
    WenshuGongwenPage *self = user_data;
    self->autosave_source = 0;
    save_to_history(self);
    return G_SOURCE_REMOVE;
}

/* An edit to the form or the draft: save once the user pauses. */
static void schedule_autosave(WenshuGongwenPage *self)
{
    if (!self->history || self->restoring || self->job)
        return;
    g_clear_handle_id(&self->autosave_source, g_source_remove);
    self->autosave_source = g_timeout_add(AUTOSAVE_DELAY_MS, on_autosave_timeout, self);
}

static void on_form_changed(WenshuGongwenPage *self)
{
    schedule_autosave(self);
}

void wenshu_gongwen_page_set_history(WenshuGongwenPage *self, WenshuHistory *history)
{
    g_return_if_fail(WENSHU_IS_GONGWEN_PAGE(self));
    g_clear_handle_id(&self->autosave_source, g_source_remove);
    self->history = history;
    self->conversation_id = 0;
    self->draft_message_id = 0;
}

gint64 wenshu_gongwen_page_get_conversation(WenshuGongwenPage *self)
{
    g_return_val_if_fail(WENSHU_IS_GONGWEN_PAGE(self), 0);
    return self->conversation_id;
}

gboolean wenshu_gongwen_page_load_conversation(WenshuGongwenPage *self, WenshuHistory *history,
                                               gint64 conversation, GError **error)
{
    g_return_val_if_fail(WENSHU_IS_GONGWEN_PAGE(self), FALSE);
    if (self->job) {
        g_set_error_literal(error, WENSHU_RUNNER_ERROR, WENSHU_RUNNER_ERROR_BUSY,
                            _("Official document: a draft is being generated; stop it first"));
        return FALSE;
    }
    g_autoptr(WenshuConversation) c = wenshu_history_get(history, conversation, error);
    if (!c)
        return FALSE;
    g_autoptr(GPtrArray) messages = wenshu_history_messages(history, conversation, error);
    if (!messages)
        return FALSE;
    if (self->autosave_source) /* the edits shown so far go to their own conversation */
        save_to_history(self);
    self->restoring = TRUE;
    gboolean ok = !c->settings || form_from_json(self, c->settings, c->title, error);
    const WenshuMessage *draft = NULL;
    for (guint i = 0; i < messages->len; i++) {
        const WenshuMessage *m = g_ptr_array_index(messages, i);
        if (g_str_equal(m->role, "assistant"))
            draft = m;
    }
    if (ok)
        wenshu_gongwen_page_set_draft_text(self, draft ? draft->content : "");
    self->restoring = FALSE;
    if (!ok)
        return FALSE;
    self->conversation_id = conversation;
    self->draft_message_id = draft ? draft->id : 0;
    return TRUE;
}

/* ---- drafting ---------------------------------------------------------------------------- */

static void draft_job_free(struct draft_job *job)
{
    if (!job)
        return;
    g_free(job->issuer);
    g_free(job->doc_number);
    g_free(job->signers);
    g_free(job->recipients);
    g_free(job->date);
    g_free(job->contact);
    g_free(job->notes);
    free(job->system);
    free(job->user_header);
    free(job->user_body);
    g_string_free(job->json, TRUE);
    g_string_free(job->body, TRUE);
    gw_draft_header_clear(&job->header);
    g_free(job);
}

/* A job from the form; NULL (and the status says why) when the form lacks
 * something the draft needs. */
static struct draft_job *job_from_form(WenshuGongwenPage *self)
{
    guint item = adw_combo_row_get_selected(self->kind_row);
    if (item >= (guint)self->n_kinds) {
        wenshu_status_set(self->status_label, TRUE, _("Choose a document type"));
        return NULL;
    }
    struct draft_job *job = g_new0(struct draft_job, 1);
    job->json = g_string_new(NULL);
    job->body = g_string_new(NULL);
    job->issuer = entry_value(self->issuer_row);
    job->doc_number = entry_value(self->number_row);
    job->signers = entry_value(self->signer_row);
    job->recipients = entry_value(self->recipients_row);
    job->date = entry_value(self->date_row);
    job->contact = entry_value(self->contact_row);
    job->notes = g_strstrip(wenshu_buffer_text(gtk_text_view_get_buffer(self->facts_view)));
    if (!job->date)
        job->date = today_text();
    const char *missing = !job->issuer  ? _("Fill in the issuing agency")
                          : !*job->notes ? _("Fill in the facts and key points")
                                         : NULL;
    if (missing) {
        wenshu_status_set(self->status_label, TRUE, missing);
        draft_job_free(job);
        return NULL;
    }
    job->facts = (struct gw_draft_facts){
        .kind = self->kinds[item], .issuer = job->issuer, .doc_number = job->doc_number,
        .signers = job->signers, .recipients = job->recipients, .date = job->date,
        .contact = job->contact, .notes = job->notes};
    gw_draft_header_schema(job->facts.kind, &job->schema);
    job->system = gw_draft_system_prompt(&job->facts);
    job->user_header = gw_draft_header_prompt(&job->facts);
    if (!job->system || !job->user_header) {
        wenshu_status_set(self->status_label, TRUE, _("Out of memory"));
        draft_job_free(job);
        return NULL;
    }
    return job;
}

/* End the run: report, drop the job, re-enable the actions. */
static void end_draft(WenshuGongwenPage *self, gboolean ok, gboolean is_error, const char *status)
{
    wenshu_status_set(self->status_label, is_error, status);
    g_clear_pointer(&self->job, draft_job_free);
    gtk_text_view_set_editable(self->draft_view, TRUE);
    update_actions(self);
    save_to_history(self); /* what was drafted, even when stopped */
    g_signal_emit(self, signals[SIGNAL_DRAFTED], 0, ok);
}

static gboolean start_body(WenshuGongwenPage *self, GError **error)
{
    struct draft_job *job = self->job;
    job->user_body = gw_draft_body_prompt(&job->facts, &job->header);
    if (!job->user_body) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Out of memory"));
        return FALSE;
    }
    struct eng_chat_message msgs[4] = {{"system", job->system},
                                       {"user", job->user_header},
                                       {"assistant", job->json->str},
                                       {"user", job->user_body}};
    struct eng_sampler_params sampler = eng_sampler_params_default();
    job->step = DRAFT_STEP_BODY;
    self->stream_saved_at = 0;
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->draft_view), "", -1);
    return wenshu_runner_start(self->runner, msgs, 4, &sampler, BODY_N_PREDICT, NULL, error);
}

static void on_runner_tokens(WenshuRunner *runner, const char *text, WenshuGongwenPage *self)
{
    (void)runner;
    if (!self->job) {
        update_actions(self); /* another page's run is streaming: Draft waits */
        return;
    }
    if (!text)
        return;
    if (self->job->step == DRAFT_STEP_HEADER) {
        g_string_append(self->job->json, text);
        return;
    }
    g_string_append(self->job->body, text);
    GtkTextBuffer *buffer = gtk_text_view_get_buffer(self->draft_view);
    GtkTextIter end;
    gtk_text_buffer_get_end_iter(buffer, &end);
    gtk_text_buffer_insert(buffer, &end, text, -1);
    save_streamed_body(self);
}

/* The header's JSON is in: parse it and start the body. */
static void header_finished(WenshuGongwenPage *self)
{
    struct gw_err err = {{0}};
    GError *error = NULL;
    struct draft_job *job = self->job;
    if (!gw_draft_header_parse(job->json->str, job->json->len, &job->header, &err)) {
        char *msg = g_strdup_printf(_("The header the model gave cannot be parsed: %s"), err.msg);
        end_draft(self, FALSE, TRUE, msg);
        g_free(msg);
        return;
    }
    wenshu_status_set(self->status_label, FALSE, _("Writing the body…"));
    if (!start_body(self, &error)) {
        end_draft(self, FALSE, TRUE, error->message);
        g_error_free(error);
    }
}

/* The body is in: compose the whole draft and put it in the editor. */
static void body_finished(WenshuGongwenPage *self)
{
    struct draft_job *job = self->job;
    char *markdown = gw_draft_compose(&job->facts, &job->header, job->body->str);
    if (!markdown) {
        end_draft(self, FALSE, TRUE, _("Out of memory"));
        return;
    }
    g_clear_pointer(&self->job, draft_job_free); /* so that the text change is checked */
    gtk_text_view_set_editable(self->draft_view, TRUE);
    wenshu_gongwen_page_set_draft_text(self, markdown);
    free(markdown);
    end_draft(self, TRUE, FALSE, _("Draft done; edit it in the draft"));
}

static void on_runner_finished(WenshuRunner *runner, gboolean stopped, const GError *error,
                               WenshuGongwenPage *self)
{
    (void)runner;
    if (!self->job) {
        update_actions(self); /* another page's run ended */
        return;
    }
    if (error) {
        end_draft(self, FALSE, TRUE, error->message);
    } else if (stopped) {
        /* keep what streamed, and check it as it stands */
        end_draft(self, FALSE, FALSE, _("Stopped; what was generated stays in the draft"));
        on_draft_buffer_changed(NULL, self);
    } else if (self->job->step == DRAFT_STEP_HEADER) {
        header_finished(self);
    } else {
        body_finished(self);
    }
}

static void on_runner_state(WenshuGongwenPage *self)
{
    update_actions(self);
}

static void draft_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    (void)param;
    WenshuGongwenPage *self = WENSHU_GONGWEN_PAGE(widget);
    if (self->job)
        return;
    if (!self->runner || !wenshu_runner_is_loaded(self->runner)) {
        wenshu_status_set(self->status_label, TRUE, _("No model loaded yet"));
        update_actions(self);
        return;
    }
    struct draft_job *job = job_from_form(self);
    if (!job)
        return;
    /* a new draft is a new saved conversation; pending edits go to the old one */
    if (self->autosave_source)
        save_to_history(self);
    self->conversation_id = 0;
    self->draft_message_id = 0;
    self->job = job;
    struct eng_chat_message msgs[2] = {{"system", job->system}, {"user", job->user_header}};
    struct eng_sampler_params sampler = eng_sampler_params_default();
    GError *error = NULL;
    if (!wenshu_runner_start(self->runner, msgs, 2, &sampler, HEADER_N_PREDICT,
                             &job->schema.root, &error)) {
        end_draft(self, FALSE, TRUE, error->message);
        g_error_free(error);
        return;
    }
    wenshu_status_set(self->status_label, FALSE, _("Drafting the header…"));
    gtk_text_view_set_editable(self->draft_view, FALSE); /* the body streams in at its end */
    update_actions(self);
}

static void stop_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    (void)param;
    WenshuGongwenPage *self = WENSHU_GONGWEN_PAGE(widget);
    if (self->job && self->runner)
        wenshu_runner_stop(self->runner);
}

/* ---- export ------------------------------------------------------------------------------- */

gboolean wenshu_gongwen_page_export(WenshuGongwenPage *self, const char *docx, const char *pdf,
                                    GError **error)
{
    g_return_val_if_fail(WENSHU_IS_GONGWEN_PAGE(self), FALSE);
    char *text = wenshu_gongwen_page_get_draft_text(self);
    struct gw_doc *doc = NULL;
    struct gw_err err = {{0}};
    const char *target = docx ? docx : pdf ? pdf : _("draft");
    g_mutex_lock(wenshu_layout_lock()); /* the preview thread and exports */
    gboolean ok = gw_parse_text(text, strlen(text), target, &doc, &err) &&
                  (!docx || gw_export_docx(doc, NULL, docx, &err)) &&
                  (!pdf || gw_export_pdf(doc, NULL, pdf, NULL, &err));
    g_mutex_unlock(wenshu_layout_lock());
    if (!ok)
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, err.msg);
    gw_doc_free(&doc);
    g_free(text);
    return ok;
}

static void on_chooser_response(GtkNativeDialog *dialog, int response, WenshuGongwenPage *self)
{
    gboolean as_pdf = GPOINTER_TO_INT(g_object_get_data(G_OBJECT(dialog), "wenshu-pdf"));
    GFile *file = response == GTK_RESPONSE_ACCEPT
                      ? gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog))
                      : NULL;
    char *path = file ? g_file_get_path(file) : NULL;
    if (path) {
        GError *error = NULL;
        if (wenshu_gongwen_page_export(self, as_pdf ? NULL : path, as_pdf ? path : NULL,
                                       &error)) {
            char *msg = g_strdup_printf(_("Exported %s"), path);
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

static void export_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)param;
    WenshuGongwenPage *self = WENSHU_GONGWEN_PAGE(widget);
    if (self->chooser)
        return;
    gboolean as_pdf = g_str_equal(action, "gongwen.export-pdf");
    GtkRoot *root = gtk_widget_get_root(widget);
    self->chooser = gtk_file_chooser_native_new(as_pdf ? _("Export PDF") : _("Export DOCX"),
                                                GTK_IS_WINDOW(root) ? GTK_WINDOW(root) : NULL,
                                                GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"),
                                                _("_Cancel"));
    gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(self->chooser), TRUE);
    gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(self->chooser),
                                      /* TRANSLATORS: default file names */
                                      as_pdf ? _("document.pdf") : _("document.docx"));
    g_object_set_data(G_OBJECT(self->chooser), "wenshu-pdf", GINT_TO_POINTER(as_pdf));
    g_signal_connect(self->chooser, "response", G_CALLBACK(on_chooser_response), self);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(self->chooser));
}

/* ---- the draft text ------------------------------------------------------------------------ */

void wenshu_gongwen_page_set_draft_text(WenshuGongwenPage *self, const char *text)
{
    g_return_if_fail(WENSHU_IS_GONGWEN_PAGE(self));
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->draft_view), text ? text : "", -1);
}

char *wenshu_gongwen_page_get_draft_text(WenshuGongwenPage *self)
{
    g_return_val_if_fail(WENSHU_IS_GONGWEN_PAGE(self), NULL);
    return wenshu_buffer_text(gtk_text_view_get_buffer(self->draft_view));
}

/* ---- the object ---------------------------------------------------------------------------- */

static void fill_kinds(WenshuGongwenPage *self)
{
    GtkStringList *names = gtk_string_list_new(NULL);
    guint default_item = 0;
    for (int k = 0; k < GW_KIND_COUNT; k++) {
        if (!gw_recipe_for((enum gw_kind)k))
            continue;
        if (k == GW_KIND_TONGZHI)
            default_item = (guint)self->n_kinds;
        self->kinds[self->n_kinds++] = (enum gw_kind)k;
        gtk_string_list_append(names, gw_kind_name((enum gw_kind)k));
    }
    adw_combo_row_set_model(self->kind_row, G_LIST_MODEL(names));
    adw_combo_row_set_selected(self->kind_row, default_item);
    g_object_unref(names);
}

static void wenshu_gongwen_page_init(WenshuGongwenPage *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    fill_kinds(self);
    char *today = today_text();
    gtk_editable_set_text(GTK_EDITABLE(self->date_row), today);
    g_free(today);
    g_signal_connect(gtk_text_view_get_buffer(self->draft_view), "changed",
                     G_CALLBACK(on_draft_buffer_changed), self);
    for (guint i = 0; i < G_N_ELEMENTS(form_entries); i++)
        g_signal_connect_swapped(form_entry(self, i), "changed", G_CALLBACK(on_form_changed),
                                 self);
    g_signal_connect_swapped(gtk_text_view_get_buffer(self->facts_view), "changed",
                             G_CALLBACK(on_form_changed), self);
    g_signal_connect_swapped(self->kind_row, "notify::selected", G_CALLBACK(on_form_changed),
                             self);
    update_actions(self);
}

static void wenshu_gongwen_page_constructed(GObject *object)
{
    WenshuGongwenPage *self = WENSHU_GONGWEN_PAGE(object);
    G_OBJECT_CLASS(wenshu_gongwen_page_parent_class)->constructed(object);
    if (self->runner) {
        g_signal_connect(self->runner, "tokens", G_CALLBACK(on_runner_tokens), self);
        g_signal_connect(self->runner, "finished", G_CALLBACK(on_runner_finished), self);
        /* a load or another page's run changes what Draft may do */
        g_signal_connect_swapped(self->runner, "notify", G_CALLBACK(on_runner_state), self);
        g_signal_connect_swapped(self->runner, "progress", G_CALLBACK(on_runner_state), self);
    }
    g_signal_connect_swapped(self, "map", G_CALLBACK(on_runner_state), self);
    update_actions(self);
}

static void wenshu_gongwen_page_dispose(GObject *object)
{
    WenshuGongwenPage *self = WENSHU_GONGWEN_PAGE(object);
    if (self->runner) {
        if (self->job)
            wenshu_runner_stop(self->runner);
        g_signal_handlers_disconnect_by_data(self->runner, self);
        g_clear_object(&self->runner);
    }
    g_clear_pointer(&self->job, draft_job_free);
    g_clear_handle_id(&self->check_source, g_source_remove);
    g_clear_handle_id(&self->preview_source, g_source_remove);
    if (self->autosave_source) /* the last edits, before the history goes */
        save_to_history(self);
    self->history = NULL;
    if (self->preview_cancel)
        g_cancellable_cancel(self->preview_cancel);
    g_clear_object(&self->preview_cancel);
    if (self->chooser)
        gtk_native_dialog_destroy(GTK_NATIVE_DIALOG(self->chooser));
    g_clear_object(&self->chooser);
    if (self->draft_view) /* the buffer may outlive the view for a moment */
        g_signal_handlers_disconnect_by_data(gtk_text_view_get_buffer(self->draft_view), self);
    if (self->facts_view)
        g_signal_handlers_disconnect_by_data(gtk_text_view_get_buffer(self->facts_view), self);
    gtk_widget_dispose_template(GTK_WIDGET(self), WENSHU_TYPE_GONGWEN_PAGE);
    G_OBJECT_CLASS(wenshu_gongwen_page_parent_class)->dispose(object);
}

static void wenshu_gongwen_page_set_property(GObject *object, guint id, const GValue *value,
                                             GParamSpec *pspec)
{
    WenshuGongwenPage *self = WENSHU_GONGWEN_PAGE(object);
    if (id == PROP_RUNNER)
        self->runner = g_value_dup_object(value);
    else
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
}

static void wenshu_gongwen_page_get_property(GObject *object, guint id, GValue *value,
                                             GParamSpec *pspec)
{
    WenshuGongwenPage *self = WENSHU_GONGWEN_PAGE(object);
    if (id == PROP_RUNNER)
        g_value_set_object(value, self->runner);
    else
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
}

static void wenshu_gongwen_page_class_init(WenshuGongwenPageClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->constructed = wenshu_gongwen_page_constructed;
    object_class->dispose = wenshu_gongwen_page_dispose;
    object_class->set_property = wenshu_gongwen_page_set_property;
    object_class->get_property = wenshu_gongwen_page_get_property;

    props[PROP_RUNNER] = g_param_spec_object("runner", NULL, NULL, WENSHU_TYPE_RUNNER,
                                             G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                                                 G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, props);

    signals[SIGNAL_CHECKED] = g_signal_new("checked", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);
    signals[SIGNAL_PREVIEW_READY] =
        g_signal_new("preview-ready", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 1, G_TYPE_INT);
    signals[SIGNAL_DRAFTED] = g_signal_new("drafted", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
    signals[SIGNAL_HISTORY_CHANGED] =
        g_signal_new("history-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 0);

    gtk_widget_class_set_template_from_resource(widget_class, WENSHU_GONGWEN_PAGE_UI);
    gtk_widget_class_bind_template_child(widget_class, WenshuGongwenPage, kind_row);
    gtk_widget_class_bind_template_child(widget_class, WenshuGongwenPage, issuer_row);
    gtk_widget_class_bind_template_child(widget_class, WenshuGongwenPage, number_row);
    gtk_widget_class_bind_template_child(widget_class, WenshuGongwenPage, signer_row);
    gtk_widget_class_bind_template_child(widget_class, WenshuGongwenPage, recipients_row);
    gtk_widget_class_bind_template_child(widget_class, WenshuGongwenPage, date_row);
    gtk_widget_class_bind_template_child(widget_class, WenshuGongwenPage, contact_row);
    gtk_widget_class_bind_template_child(widget_class, WenshuGongwenPage, facts_view);
    gtk_widget_class_bind_template_child(widget_class, WenshuGongwenPage, status_label);
    gtk_widget_class_bind_template_child(widget_class, WenshuGongwenPage, draft_view);
    gtk_widget_class_bind_template_child(widget_class, WenshuGongwenPage, issues_list);
    gtk_widget_class_bind_template_child(widget_class, WenshuGongwenPage, preview_box);
    gtk_widget_class_bind_template_callback(widget_class, on_issues_list_row_activated);

    gtk_widget_class_install_action(widget_class, "gongwen.draft", NULL, draft_activated);
    gtk_widget_class_install_action(widget_class, "gongwen.stop", NULL, stop_activated);
    gtk_widget_class_install_action(widget_class, "gongwen.export-docx", NULL, export_activated);
    gtk_widget_class_install_action(widget_class, "gongwen.export-pdf", NULL, export_activated);
}

GtkWidget *wenshu_gongwen_page_new(WenshuRunner *runner)
{
    g_return_val_if_fail(runner == NULL || WENSHU_IS_RUNNER(runner), NULL);
    return g_object_new(WENSHU_TYPE_GONGWEN_PAGE, "runner", runner, NULL);
}
