/* wenshu-catalog-dialog.c: the "Get models" window over libwenshu-models.
 *
 * The template (ui/wenshu-catalog-dialog.ui) holds the header's import
 * buttons, the memory line, the mirror row, the model list and the import
 * outcome; this file makes one row per catalogue model (the recommended one
 * first) and drives the library: wenshu_download_file_async() for each file
 * of a model in turn, wenshu_download_discard() for Cancel,
 * wenshu_import_catalog_match() on a worker thread for imports,
 * wenshu_model_remove() after a confirmation. A row's state is read from
 * disk (wenshu_model_disk_state) whenever nothing runs in it, so a download
 * paused in an earlier session shows as "Paused at NN%" with Resume.
 *
 * Threads: progress arrives on the download's worker thread; it is stored
 * under the row's lock and at most one idle callback per row is pending to
 * show it, so the main loop sees at most one update per row per idle. Every
 * job and pending idle holds a reference to the dialog, so the catalogue
 * and the rows outlive them; once the dialog is disposed they touch no
 * widget.
 *
 * Widget names (for the tests): "models" (the list), each row by its model
 * id, and inside a row "state", "progress", "error", "recommended" and the
 * buttons "download", "pause", "resume", "cancel", "use", "remove".
 */
#include "wenshu-catalog-dialog.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "catalog.h"
#include "download.h"
#include "wenshu-preferences.h"

#define MIRROR_KEY "download-mirror"

typedef enum {
    ROW_IDLE,        /* nothing runs: the state comes from disk */
    ROW_DOWNLOADING, /* a file of the model is being downloaded */
    ROW_STOPPING,    /* paused or cancelled, waiting for the worker to stop */
} RowActivity;

/* One model's row and its download. Owned by the dialog (rows array). */
typedef struct {
    WenshuCatalogDialog *dialog;   /* not a reference: the dialog owns the row */
    const WenshuModelEntry *entry; /* owned by the dialog's catalogue */
    GtkWidget *widget;             /* the GtkListBoxRow, owned by the list */
    GtkLabel *state_label;
    GtkLabel *error_label;
    GtkProgressBar *progress;
    GtkWidget *download_button, *pause_button, *resume_button, *cancel_button, *use_button,
        *remove_button;
    RowActivity activity;
    GCancellable *cancellable; /* of the running download, else NULL */
    guint file_index;          /* the file being downloaded (index into entry->files) */
    guint64 bytes_before;      /* catalogue bytes of the files before file_index */
    gboolean discard_on_stop;  /* Cancel pressed while running: delete the .part files */
    GMutex lock;               /* guards latest and idle_pending (worker writes, main reads) */
    WenshuDownloadProgress latest;
    gboolean idle_pending; /* a show_progress idle is scheduled */
} CatalogRow;

struct _WenshuCatalogDialog {
    AdwWindow parent_instance;

    GtkLabel *memory_label;
    AdwComboRow *mirror_row;
    GtkLabel *catalog_error_label;
    GtkListBox *model_list;
    GtkLabel *import_label;
    GtkWidget *import_file_button;
    GtkWidget *import_folder_button;

    GSettings *settings;    /* NULL when the schema is not installed */
    WenshuCatalog *catalog; /* NULL when it could not be read */
    const WenshuModelEntry *recommended;
    GPtrArray *rows;                  /* [n_models] CatalogRow *, in display order */
    GCancellable *import_cancellable; /* of the running import, else NULL */
    gboolean disposed;
};

enum { SIGNAL_MODEL_CHOSEN, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE(WenshuCatalogDialog, wenshu_catalog_dialog, ADW_TYPE_WINDOW)

static void start_next_file(CatalogRow *row);

/* ---- rows: state on screen ---------------------------------------------- */

static void row_free(gpointer data)
{
    CatalogRow *row = data;
    g_clear_object(&row->cancellable);
    g_mutex_clear(&row->lock);
    g_free(row);
}

static int percent_of(guint64 part, guint64 whole)
{
    return whole ? (int)(100.0 * (double)part / (double)whole) : 0;
}

static void show_buttons(CatalogRow *row, WenshuModelState state)
{
    gboolean idle = row->activity == ROW_IDLE;
    gboolean installed = state == WENSHU_MODEL_INSTALLED || state == WENSHU_MODEL_VERIFIED;
    gtk_widget_set_visible(row->download_button, idle && state == WENSHU_MODEL_ABSENT);
    gtk_widget_set_visible(row->resume_button, idle && state == WENSHU_MODEL_PARTIAL);
    gtk_widget_set_visible(row->pause_button, row->activity == ROW_DOWNLOADING);
    gtk_widget_set_visible(row->cancel_button, row->activity == ROW_DOWNLOADING ||
                                                   (idle && state == WENSHU_MODEL_PARTIAL));
    gtk_widget_set_visible(row->use_button, idle && installed);
    gtk_widget_set_visible(row->remove_button, idle && installed);
}

/* Show what is on disk (when nothing runs in the row). */
static void row_refresh(CatalogRow *row)
{
    WenshuModelDiskState st;
    wenshu_model_disk_state(row->entry, &st);
    show_buttons(row, st.state);
    if (row->activity != ROW_IDLE)
        return;
    int percent = percent_of(st.bytes_on_disk, st.bytes_total);
    g_autofree char *text = NULL;
    switch (st.state) {
    case WENSHU_MODEL_ABSENT:
        text = g_strdup(_("Not downloaded"));
        break;
    case WENSHU_MODEL_PARTIAL:
        /* Translators: a download stopped earlier; %d is a percentage */
        text = g_strdup_printf(_("Paused at %d%% — Resume"), percent);
        break;
    case WENSHU_MODEL_INSTALLED:
        text = g_strdup(_("Installed (no published checksum to verify)"));
        break;
    case WENSHU_MODEL_VERIFIED:
        text = g_strdup(_("Installed and verified"));
        break;
    }
    gtk_label_set_text(row->state_label, text);
    gtk_widget_set_visible(GTK_WIDGET(row->progress), st.state == WENSHU_MODEL_PARTIAL);
    gtk_progress_bar_set_fraction(row->progress, (double)percent / 100.0);
    g_autofree char *bar_text = g_strdup_printf("%d%%", percent);
    gtk_progress_bar_set_text(row->progress, bar_text);
}

static void row_show_error(CatalogRow *row, const char *message)
{
    gtk_label_set_text(row->error_label, message ? message : "");
    gtk_widget_set_visible(GTK_WIDGET(row->error_label), message != NULL);
}

/* ---- rows: downloads ------------------------------------------------------ */

/* Main loop: show the latest progress the worker stored. */
static gboolean show_progress(gpointer data)
{
    CatalogRow *row = data;
    WenshuCatalogDialog *self = row->dialog;
    g_mutex_lock(&row->lock);
    WenshuDownloadProgress p = row->latest;
    row->idle_pending = FALSE;
    g_mutex_unlock(&row->lock);
    if (!self->disposed && row->activity == ROW_DOWNLOADING) {
        guint64 total = wenshu_model_entry_bytes(row->entry);
        guint64 done = row->bytes_before + p.done;
        int percent = percent_of(done, total);
        char eta[32];
        wenshu_format_eta(p.seconds_left, eta, sizeof eta);
        /* Translators: download progress: percent, speed in MB/s, time left (m:ss) */
        g_autofree char *text = g_strdup_printf(_("%d%% · %.1f MB/s · %s left"), percent,
                                                p.bytes_per_second / 1e6, eta);
        gtk_progress_bar_set_fraction(row->progress, total ? (double)done / (double)total : 0.0);
        gtk_progress_bar_set_text(row->progress, text);
    }
    g_object_unref(self);
    return G_SOURCE_REMOVE;
}

/* Worker thread: keep the newest progress, and schedule one idle to show it
 * unless one is pending already. */
static void on_download_progress(const WenshuDownloadProgress *progress, void *user_data)
{
    CatalogRow *row = user_data;
    g_mutex_lock(&row->lock);
    row->latest = *progress;
    gboolean schedule = !row->idle_pending;
    row->idle_pending = TRUE;
    g_mutex_unlock(&row->lock);
    if (schedule) {
        g_object_ref(row->dialog);
        g_idle_add(show_progress, row);
    }
}

static WenshuMirror dialog_mirror(WenshuCatalogDialog *self)
{
    return adw_combo_row_get_selected(self->mirror_row) == 1 ? WENSHU_MIRROR_MODELSCOPE
                                                             : WENSHU_MIRROR_HUGGINGFACE;
}

/* Delete the .part files of every file of the model (Cancel). */
static void discard_parts(CatalogRow *row)
{
    for (guint i = 0; i < row->entry->n_files; i++) {
        g_autofree char *dest = wenshu_model_file_path(row->entry, &row->entry->files[i]);
        GError *error = NULL;
        if (!wenshu_download_discard(dest, &error)) {
            row_show_error(row, error->message);
            g_error_free(error);
        }
    }
}

static void row_stopped(CatalogRow *row)
{
    row->activity = ROW_IDLE;
    g_clear_object(&row->cancellable);
    if (row->discard_on_stop)
        discard_parts(row);
    row->discard_on_stop = FALSE;
    row_refresh(row);
}

static void on_file_downloaded(GObject *source, GAsyncResult *res, gpointer data)
{
    (void)source;
    CatalogRow *row = data;
    WenshuCatalogDialog *self = row->dialog;
    GError *error = NULL;
    gboolean ok = wenshu_download_file_finish(res, NULL, &error);
    if (self->disposed) {
        g_clear_error(&error);
        g_object_unref(self);
        return;
    }
    if (ok && row->activity == ROW_DOWNLOADING) {
        row->bytes_before += row->entry->files[row->file_index].size;
        row->file_index++;
        start_next_file(row);
    } else {
        gboolean cancelled = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        if (error && !cancelled)
            row_show_error(row, error->message);
        row_stopped(row);
    }
    g_clear_error(&error);
    g_object_unref(self);
}

/* Download row->file_index or the next file not on disk yet; when none is
 * left the model is complete. */
static void start_next_file(CatalogRow *row)
{
    const WenshuModelEntry *e = row->entry;
    while (row->file_index < e->n_files) {
        const WenshuModelFile *f = &e->files[row->file_index];
        g_autofree char *dest = wenshu_model_file_path(e, f);
        GStatBuf st;
        if (g_stat(dest, &st) != 0 || (guint64)st.st_size != f->size)
            break;
        row->bytes_before += f->size;
        row->file_index++;
    }
    if (row->file_index == e->n_files) {
        row_stopped(row);
        return;
    }
    const WenshuModelFile *f = &e->files[row->file_index];
    g_autofree char *dest = wenshu_model_file_path(e, f);
    WenshuDownloadParams p = wenshu_download_params_default();
    p.url = wenshu_model_file_url(f, dialog_mirror(row->dialog));
    p.dest = dest;
    p.expected_size = f->size;
    p.sha256 = f->sha256;
    p.progress = on_download_progress;
    p.user_data = row;
    p.cancellable = row->cancellable;
    /* Translators: %u of %u files; %s is the file's name */
    g_autofree char *text = g_strdup_printf(_("Downloading file %u of %u: %s"), row->file_index + 1,
                                            e->n_files, f->name);
    gtk_label_set_text(row->state_label, text);
    g_object_ref(row->dialog); /* for the job: the row and the catalogue stay alive */
    wenshu_download_file_async(&p, on_file_downloaded, row);
}

/* Download or Resume: check the free space, then fetch the files in turn. */
static void row_start_download(CatalogRow *row)
{
    row_show_error(row, NULL);
    g_autofree char *root = wenshu_models_dir();
    GError *error = NULL;
    if (g_mkdir_with_parents(root, 0755) != 0) {
        g_autofree char *message =
            g_strdup_printf(_("Cannot create the models folder %s: %s"), root, g_strerror(errno));
        row_show_error(row, message);
        return;
    }
    if (!wenshu_check_free_space(root, wenshu_model_bytes_missing(row->entry), &error)) {
        row_show_error(row, error->message);
        g_error_free(error);
        return;
    }
    row->activity = ROW_DOWNLOADING;
    row->cancellable = g_cancellable_new();
    row->file_index = 0;
    row->bytes_before = 0;
    row->discard_on_stop = FALSE;
    gtk_widget_set_visible(GTK_WIDGET(row->progress), TRUE);
    show_buttons(row, WENSHU_MODEL_PARTIAL);
    start_next_file(row);
}

static void on_download_clicked(GtkButton *button, CatalogRow *row)
{
    (void)button;
    if (row->activity == ROW_IDLE)
        row_start_download(row);
}

static void on_pause_clicked(GtkButton *button, CatalogRow *row)
{
    (void)button;
    if (row->activity != ROW_DOWNLOADING)
        return;
    row->activity = ROW_STOPPING;
    gtk_label_set_text(row->state_label, _("Pausing…"));
    show_buttons(row, WENSHU_MODEL_PARTIAL);
    g_cancellable_cancel(row->cancellable);
}

static void on_cancel_clicked(GtkButton *button, CatalogRow *row)
{
    (void)button;
    if (row->activity == ROW_DOWNLOADING) {
        row->activity = ROW_STOPPING;
        row->discard_on_stop = TRUE;
        gtk_label_set_text(row->state_label, _("Cancelling…"));
        show_buttons(row, WENSHU_MODEL_PARTIAL);
        g_cancellable_cancel(row->cancellable);
    } else if (row->activity == ROW_IDLE) {
        row_show_error(row, NULL);
        discard_parts(row);
        row_refresh(row);
    }
}

/* ---- rows: use and remove ---------------------------------------------- */

static void on_use_clicked(GtkButton *button, CatalogRow *row)
{
    (void)button;
    g_autofree char *model_path = NULL;
    g_autofree char *mmproj_path = NULL;
    for (guint i = 0; i < row->entry->n_files; i++) {
        const WenshuModelFile *f = &row->entry->files[i];
        char **slot = g_str_equal(f->role, "mmproj") ? &mmproj_path : &model_path;
        if (!*slot)
            *slot = wenshu_model_file_path(row->entry, f);
    }
    g_signal_emit(row->dialog, signals[SIGNAL_MODEL_CHOSEN], 0, model_path, mmproj_path);
}

static void on_remove_response(AdwMessageDialog *message, const char *response,
                               WenshuCatalogDialog *self)
{
    CatalogRow *row = g_object_get_data(G_OBJECT(message), "catalog-row");
    if (self->disposed || !g_str_equal(response, "remove") || row->activity != ROW_IDLE)
        return;
    GError *error = NULL;
    row_show_error(row, NULL);
    if (!wenshu_model_remove(row->entry->id, &error)) {
        row_show_error(row, error->message);
        g_error_free(error);
    }
    row_refresh(row);
}

static void on_remove_clicked(GtkButton *button, CatalogRow *row)
{
    (void)button;
    g_autofree char *body = g_strdup_printf(
        /* Translators: %s is a model's name */
        _("The files of %s will be deleted from this computer. You can download it again later."),
        row->entry->name);
    GtkWidget *message =
        adw_message_dialog_new(GTK_WINDOW(row->dialog), _("Remove this model?"), body);
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(message), "cancel", _("_Cancel"), "remove",
                                     _("_Remove"), NULL);
    adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(message), "remove",
                                               ADW_RESPONSE_DESTRUCTIVE);
    adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(message), "cancel");
    adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(message), "cancel");
    gtk_window_set_destroy_with_parent(GTK_WINDOW(message), TRUE);
    g_object_set_data(G_OBJECT(message), "catalog-row", row);
    g_signal_connect_object(message, "response", G_CALLBACK(on_remove_response), row->dialog, 0);
    gtk_window_present(GTK_WINDOW(message));
}

/* ---- rows: building ------------------------------------------------------ */

static GtkWidget *small_tag(const char *text, const char *style)
{
    GtkWidget *label = gtk_label_new(text);
    gtk_widget_add_css_class(label, "caption-heading");
    gtk_widget_add_css_class(label, style);
    return label;
}

static GtkWidget *row_button(CatalogRow *row, const char *name, const char *label,
                             GCallback clicked, const char *style)
{
    GtkWidget *button = gtk_button_new_with_mnemonic(label);
    gtk_widget_set_name(button, name);
    gtk_widget_set_valign(button, GTK_ALIGN_CENTER);
    if (style)
        gtk_widget_add_css_class(button, style);
    g_signal_connect(button, "clicked", clicked, row);
    return button;
}

/* The title line: the name, the capability tags and, for the recommended
 * model, the mark. */
static GtkWidget *title_line(const WenshuModelEntry *e, gboolean recommended)
{
    static const struct {
        guint cap;
        const char *label;
    } caps[] = {{WENSHU_CAP_TEXT, N_("text")},
                {WENSHU_CAP_IMAGES, N_("images")},
                {WENSHU_CAP_VIDEO, N_("video")},
                {WENSHU_CAP_REASONING, N_("reasoning")}};
    GtkWidget *line = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    GtkWidget *name = gtk_label_new(e->name);
    gtk_label_set_xalign(GTK_LABEL(name), 0);
    gtk_label_set_wrap(GTK_LABEL(name), TRUE);
    gtk_widget_add_css_class(name, "heading");
    gtk_box_append(GTK_BOX(line), name);
    for (size_t i = 0; i < G_N_ELEMENTS(caps); i++)
        if (e->caps & caps[i].cap)
            gtk_box_append(GTK_BOX(line), small_tag(_(caps[i].label), "dim-label"));
    if (recommended) {
        GtkWidget *mark = small_tag(_("Recommended for this computer"), "accent");
        gtk_widget_set_name(mark, "recommended");
        gtk_box_append(GTK_BOX(line), mark);
    }
    return line;
}

/* "2.1 GB · needs 4.3 GB of memory, or 3.2 GB on a graphics card" */
static GtkWidget *info_line(const WenshuModelEntry *e)
{
    g_autofree char *size = g_format_size(wenshu_model_entry_bytes(e));
    g_autofree char *ram = g_format_size(e->min_ram_bytes);
    g_autofree char *vram = g_format_size(e->min_vram_bytes);
    g_autofree char *text = g_strdup_printf(
        /* Translators: download size · minimum RAM · minimum GPU memory */
        _("%s download · needs %s of memory, or %s of GPU memory"), size, ram, vram);
    GtkWidget *label = gtk_label_new(text);
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    gtk_label_set_wrap(GTK_LABEL(label), TRUE);
    gtk_widget_add_css_class(label, "dim-label");
    gtk_widget_add_css_class(label, "caption");
    return label;
}

static GtkLabel *wrapping_label(const char *name, const char *style)
{
    GtkWidget *label = gtk_label_new(NULL);
    gtk_widget_set_name(label, name);
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    gtk_label_set_wrap(GTK_LABEL(label), TRUE);
    gtk_label_set_wrap_mode(GTK_LABEL(label), PANGO_WRAP_WORD_CHAR);
    if (style)
        gtk_widget_add_css_class(label, style);
    return GTK_LABEL(label);
}

static CatalogRow *row_new(WenshuCatalogDialog *self, const WenshuModelEntry *e,
                           gboolean recommended)
{
    CatalogRow *row = g_new0(CatalogRow, 1);
    row->dialog = self;
    row->entry = e;
    g_mutex_init(&row->lock);

    GtkWidget *text = gtk_box_new(GTK_ORIENTATION_VERTICAL, 4);
    gtk_widget_set_hexpand(text, TRUE);
    gtk_box_append(GTK_BOX(text), title_line(e, recommended));
    gtk_box_append(GTK_BOX(text), info_line(e));
    row->state_label = wrapping_label("state", NULL);
    gtk_box_append(GTK_BOX(text), GTK_WIDGET(row->state_label));
    row->progress = GTK_PROGRESS_BAR(gtk_progress_bar_new());
    gtk_widget_set_name(GTK_WIDGET(row->progress), "progress");
    gtk_progress_bar_set_show_text(row->progress, TRUE);
    gtk_box_append(GTK_BOX(text), GTK_WIDGET(row->progress));
    row->error_label = wrapping_label("error", "error");
    gtk_label_set_selectable(row->error_label, TRUE);
    gtk_widget_set_visible(GTK_WIDGET(row->error_label), FALSE);
    gtk_box_append(GTK_BOX(text), GTK_WIDGET(row->error_label));

    GtkWidget *buttons = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    gtk_widget_set_valign(buttons, GTK_ALIGN_CENTER);
    row->download_button = row_button(row, "download", _("_Download"),
                                      G_CALLBACK(on_download_clicked), "suggested-action");
    row->resume_button =
        row_button(row, "resume", _("_Resume"), G_CALLBACK(on_download_clicked), NULL);
    row->pause_button = row_button(row, "pause", _("_Pause"), G_CALLBACK(on_pause_clicked), NULL);
    row->cancel_button =
        row_button(row, "cancel", _("_Cancel"), G_CALLBACK(on_cancel_clicked), NULL);
    row->use_button =
        row_button(row, "use", _("_Use"), G_CALLBACK(on_use_clicked), "suggested-action");
    row->remove_button = row_button(row, "remove", _("Re_move"), G_CALLBACK(on_remove_clicked),
                                    "destructive-action");
    GtkWidget *all[] = {row->download_button, row->resume_button, row->pause_button,
                        row->cancel_button,   row->use_button,    row->remove_button};
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++)
        gtk_box_append(GTK_BOX(buttons), all[i]);

    GtkWidget *line = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
    gtk_widget_set_margin_top(line, 10);
    gtk_widget_set_margin_bottom(line, 10);
    gtk_widget_set_margin_start(line, 12);
    gtk_widget_set_margin_end(line, 12);
    gtk_box_append(GTK_BOX(line), text);
    gtk_box_append(GTK_BOX(line), buttons);
    row->widget = gtk_list_box_row_new();
    gtk_widget_set_name(row->widget, e->id);
    gtk_list_box_row_set_activatable(GTK_LIST_BOX_ROW(row->widget), FALSE);
    gtk_list_box_row_set_child(GTK_LIST_BOX_ROW(row->widget), line);
    row_refresh(row);
    return row;
}

/* ---- the catalogue ----------------------------------------------------- */

static void show_memory(WenshuCatalogDialog *self, guint64 ram_bytes, guint64 vram_bytes)
{
    g_autofree char *ram = g_format_size(ram_bytes);
    g_autofree char *vram = g_format_size(vram_bytes);
    g_autofree char *text =
        vram_bytes ? g_strdup_printf(_("This computer: %s of memory, %s of GPU memory."), ram, vram)
                   : g_strdup_printf(_("This computer: %s of memory, no usable GPU."), ram);
    gtk_label_set_text(self->memory_label, text);
}

/* Read the catalogue and make the rows: the recommended model first, the
 * others in catalogue order. */
static void populate(WenshuCatalogDialog *self, guint64 ram_bytes, guint64 vram_bytes)
{
    show_memory(self, ram_bytes, vram_bytes);
    GError *error = NULL;
    self->catalog = wenshu_catalog_load_default(&error);
    if (!self->catalog) {
        gtk_label_set_text(self->catalog_error_label, error->message);
        gtk_widget_set_visible(GTK_WIDGET(self->catalog_error_label), TRUE);
        g_error_free(error);
        return;
    }
    self->recommended = wenshu_catalog_recommend(self->catalog, ram_bytes, vram_bytes);
    if (self->recommended)
        g_ptr_array_add(self->rows, row_new(self, self->recommended, TRUE));
    for (guint i = 0; i < self->catalog->n_models; i++) {
        const WenshuModelEntry *e = &self->catalog->models[i];
        if (e != self->recommended)
            g_ptr_array_add(self->rows, row_new(self, e, FALSE));
    }
    for (guint i = 0; i < self->rows->len; i++) {
        CatalogRow *row = g_ptr_array_index(self->rows, i);
        gtk_list_box_append(self->model_list, row->widget);
    }
}

/* ---- the mirror ------------------------------------------------------- */

static void on_mirror_selected(AdwComboRow *combo, GParamSpec *pspec, WenshuCatalogDialog *self)
{
    (void)combo;
    (void)pspec;
    if (self->settings)
        g_settings_set_string(self->settings, MIRROR_KEY, wenshu_mirror_name(dialog_mirror(self)));
}

/* The stored mirror, or the library's default for "auto". */
static void setup_mirror(WenshuCatalogDialog *self)
{
    WenshuMirror mirror = wenshu_mirror_default();
    if (self->settings) {
        g_autofree char *stored = g_settings_get_string(self->settings, MIRROR_KEY);
        if (!g_str_equal(stored, "auto") && !wenshu_mirror_parse(stored, &mirror))
            mirror = wenshu_mirror_default();
    }
    adw_combo_row_set_selected(self->mirror_row, mirror == WENSHU_MIRROR_MODELSCOPE ? 1 : 0);
    g_signal_connect(self->mirror_row, "notify::selected", G_CALLBACK(on_mirror_selected), self);
}

/* ---- import ------------------------------------------------------------ */

/* One import on a worker thread: what it was given and what it found. */
typedef struct {
    char *path;
    const WenshuCatalog *catalog; /* the dialog's (the task holds the dialog) */
    GString *report;              /* one line per file */
    gboolean any_failed;
} ImportJob;

static void import_job_free(gpointer data)
{
    ImportJob *job = data;
    g_free(job->path);
    g_string_free(job->report, TRUE);
    g_free(job);
}

static void import_one(ImportJob *job, const char *src, GCancellable *cancellable)
{
    const WenshuModelEntry *e = NULL;
    const WenshuModelFile *f = NULL;
    WenshuDownloadResult result;
    GError *error = NULL;
    g_autofree char *base = g_path_get_basename(src);
    if (job->report->len)
        g_string_append_c(job->report, '\n');
    if (!wenshu_import_catalog_match(job->catalog, src, cancellable, &e, &f, &result, &error)) {
        g_string_append(job->report, error->message);
        g_error_free(error);
        job->any_failed = TRUE;
    } else if (!e) {
        /* Translators: %s is a file name */
        g_string_append_printf(job->report,
                               _("%s: matches no file of the catalogue (size or SHA-256); "
                                 "import it with `wenshu-cli models import` as a custom model"),
                               src);
        job->any_failed = TRUE;
    } else {
        g_string_append_printf(job->report,
                               result.verified
                                   /* Translators: file name, model name */
                                   ? _("%s: imported into %s, SHA-256 verified")
                                   : _("%s: imported into %s (no published checksum)"),
                               base, e->name);
    }
}

static void import_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    (void)source;
    ImportJob *job = data;
    GError *error = NULL;
    g_autoptr(GPtrArray) files = wenshu_import_sources(job->path, &error);
    if (!files) {
        g_string_append(job->report, error->message);
        g_error_free(error);
        job->any_failed = TRUE;
    }
    for (guint i = 0; files && i < files->len; i++)
        import_one(job, g_ptr_array_index(files, i), cancellable);
    g_task_return_boolean(task, TRUE);
}

/* While an import runs, the rows that download nothing and the import
 * buttons are insensitive: the import may write into any model's folder. */
static void set_importing(WenshuCatalogDialog *self, gboolean importing)
{
    gtk_widget_set_sensitive(self->import_file_button, !importing);
    gtk_widget_set_sensitive(self->import_folder_button, !importing);
    for (guint i = 0; i < self->rows->len; i++) {
        CatalogRow *row = g_ptr_array_index(self->rows, i);
        if (row->activity == ROW_IDLE)
            gtk_widget_set_sensitive(row->widget, !importing);
    }
}

static void on_import_done(GObject *source, GAsyncResult *res, gpointer data)
{
    (void)data;
    WenshuCatalogDialog *self = WENSHU_CATALOG_DIALOG(source);
    ImportJob *job = g_task_get_task_data(G_TASK(res));
    g_task_propagate_boolean(G_TASK(res), NULL);
    g_clear_object(&self->import_cancellable);
    if (self->disposed)
        return;
    set_importing(self, FALSE);
    gtk_label_set_text(self->import_label, job->report->str);
    if (job->any_failed)
        gtk_widget_add_css_class(GTK_WIDGET(self->import_label), "error");
    else
        gtk_widget_remove_css_class(GTK_WIDGET(self->import_label), "error");
    for (guint i = 0; i < self->rows->len; i++) {
        CatalogRow *row = g_ptr_array_index(self->rows, i);
        if (row->activity == ROW_IDLE)
            row_refresh(row);
    }
}

void wenshu_catalog_dialog_import(WenshuCatalogDialog *self, const char *path)
{
    g_return_if_fail(WENSHU_IS_CATALOG_DIALOG(self) && path);
    if (self->import_cancellable)
        return; /* one import at a time: the import buttons are insensitive meanwhile */
    gtk_widget_set_visible(GTK_WIDGET(self->import_label), TRUE);
    gtk_widget_remove_css_class(GTK_WIDGET(self->import_label), "error");
    if (!self->catalog) {
        gtk_label_set_text(self->import_label, _("No catalogue to match the import against."));
        gtk_widget_add_css_class(GTK_WIDGET(self->import_label), "error");
        return;
    }
    /* Translators: %s is a file or folder */
    g_autofree char *text = g_strdup_printf(_("Importing %s…"), path);
    gtk_label_set_text(self->import_label, text);
    set_importing(self, TRUE);
    ImportJob *job = g_new0(ImportJob, 1);
    job->path = g_strdup(path);
    job->catalog = self->catalog;
    job->report = g_string_new(NULL);
    self->import_cancellable = g_cancellable_new();
    GTask *task = g_task_new(self, self->import_cancellable, on_import_done, NULL);
    g_task_set_task_data(task, job, import_job_free);
    g_task_run_in_thread(task, import_thread);
    g_object_unref(task);
}

static void on_chooser_response(GtkNativeDialog *chooser, int response, WenshuCatalogDialog *self)
{
    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(chooser));
        g_autofree char *path = file ? g_file_get_path(file) : NULL;
        if (path)
            wenshu_catalog_dialog_import(self, path);
    }
    g_object_unref(chooser);
}

static void open_chooser(WenshuCatalogDialog *self, GtkFileChooserAction action, const char *title)
{
    GtkFileChooserNative *chooser =
        gtk_file_chooser_native_new(title, GTK_WINDOW(self), action, _("_Import"), _("_Cancel"));
    gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(chooser), TRUE);
    if (action == GTK_FILE_CHOOSER_ACTION_OPEN) {
        GtkFileFilter *filter = gtk_file_filter_new();
        gtk_file_filter_set_name(filter, _("GGUF models"));
        gtk_file_filter_add_pattern(filter, "*.gguf");
        gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(chooser), filter);
        g_object_unref(filter);
    }
    g_signal_connect_object(chooser, "response", G_CALLBACK(on_chooser_response), self, 0);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(chooser));
}

static void on_import_file_button_clicked(GtkButton *button, WenshuCatalogDialog *self)
{
    (void)button;
    open_chooser(self, GTK_FILE_CHOOSER_ACTION_OPEN, _("Import a Model File"));
}

static void on_import_folder_button_clicked(GtkButton *button, WenshuCatalogDialog *self)
{
    (void)button;
    open_chooser(self, GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("Import a Folder of Models"));
}

/* ---- the object -------------------------------------------------------- */

static void wenshu_catalog_dialog_dispose(GObject *object)
{
    WenshuCatalogDialog *self = WENSHU_CATALOG_DIALOG(object);
    if (!self->disposed) {
        self->disposed = TRUE;
        /* a closed window pauses its downloads: the .part files stay */
        for (guint i = 0; i < self->rows->len; i++) {
            CatalogRow *row = g_ptr_array_index(self->rows, i);
            if (row->cancellable)
                g_cancellable_cancel(row->cancellable);
        }
        if (self->import_cancellable)
            g_cancellable_cancel(self->import_cancellable); /* the partial copy is removed */
    }
    gtk_widget_dispose_template(GTK_WIDGET(self), WENSHU_TYPE_CATALOG_DIALOG);
    G_OBJECT_CLASS(wenshu_catalog_dialog_parent_class)->dispose(object);
}

static void wenshu_catalog_dialog_finalize(GObject *object)
{
    WenshuCatalogDialog *self = WENSHU_CATALOG_DIALOG(object);
    g_ptr_array_unref(self->rows);
    wenshu_catalog_free(&self->catalog);
    g_clear_object(&self->settings);
    G_OBJECT_CLASS(wenshu_catalog_dialog_parent_class)->finalize(object);
}

static void wenshu_catalog_dialog_class_init(WenshuCatalogDialogClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->dispose = wenshu_catalog_dialog_dispose;
    object_class->finalize = wenshu_catalog_dialog_finalize;

    signals[SIGNAL_MODEL_CHOSEN] =
        g_signal_new("model-chosen", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);

    gtk_widget_class_set_template_from_resource(widget_class,
                                                "/org/wenshu/Wenshu/ui/wenshu-catalog-dialog.ui");
    gtk_widget_class_bind_template_child(widget_class, WenshuCatalogDialog, memory_label);
    gtk_widget_class_bind_template_child(widget_class, WenshuCatalogDialog, mirror_row);
    gtk_widget_class_bind_template_child(widget_class, WenshuCatalogDialog, catalog_error_label);
    gtk_widget_class_bind_template_child(widget_class, WenshuCatalogDialog, model_list);
    gtk_widget_class_bind_template_child(widget_class, WenshuCatalogDialog, import_label);
    gtk_widget_class_bind_template_child(widget_class, WenshuCatalogDialog, import_file_button);
    gtk_widget_class_bind_template_child(widget_class, WenshuCatalogDialog, import_folder_button);
    gtk_widget_class_bind_template_callback(widget_class, on_import_file_button_clicked);
    gtk_widget_class_bind_template_callback(widget_class, on_import_folder_button_clicked);
}

static void wenshu_catalog_dialog_init(WenshuCatalogDialog *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    self->rows = g_ptr_array_new_with_free_func(row_free);
    self->settings = wenshu_settings_new();
    setup_mirror(self);
}

WenshuCatalogDialog *wenshu_catalog_dialog_new_for_memory(GtkWindow *parent, guint64 ram_bytes,
                                                          guint64 vram_bytes)
{
    WenshuCatalogDialog *self = g_object_new(WENSHU_TYPE_CATALOG_DIALOG, NULL);
    if (parent)
        gtk_window_set_transient_for(GTK_WINDOW(self), parent);
    populate(self, ram_bytes, vram_bytes);
    return self;
}

WenshuCatalogDialog *wenshu_catalog_dialog_new(GtkWindow *parent)
{
    guint64 ram_bytes = 0, vram_bytes = 0;
    wenshu_detect_memory(&ram_bytes, &vram_bytes);
    return wenshu_catalog_dialog_new_for_memory(parent, ram_bytes, vram_bytes);
}

#define INSTANCE_KEY "wenshu-catalog-dialog"

/* The parent forgets its dialog when the dialog is destroyed (a running
 * download may keep the object itself a while longer). */
static void forget_instance(GtkWidget *dialog, GtkWindow *parent)
{
    if (g_object_get_data(G_OBJECT(parent), INSTANCE_KEY) == dialog)
        g_object_set_data(G_OBJECT(parent), INSTANCE_KEY, NULL);
}

WenshuCatalogDialog *wenshu_catalog_dialog_present(GtkWindow *parent, GCallback model_chosen,
                                                   gpointer user_data)
{
    g_return_val_if_fail(GTK_IS_WINDOW(parent), NULL);
    WenshuCatalogDialog *self = g_object_get_data(G_OBJECT(parent), INSTANCE_KEY);
    if (!self) {
        self = wenshu_catalog_dialog_new(parent);
        /* closing only hides it, so its downloads go on; it goes with the parent */
        gtk_window_set_hide_on_close(GTK_WINDOW(self), TRUE);
        gtk_window_set_destroy_with_parent(GTK_WINDOW(self), TRUE);
        g_object_set_data(G_OBJECT(parent), INSTANCE_KEY, self);
        g_signal_connect_object(self, "destroy", G_CALLBACK(forget_instance), parent, 0);
        if (model_chosen && user_data)
            g_signal_connect_object(self, "model-chosen", model_chosen, user_data, 0);
        else if (model_chosen)
            g_signal_connect(self, "model-chosen", model_chosen, NULL);
    }
    gtk_window_present(GTK_WINDOW(self));
    return self;
}

const char *wenshu_catalog_dialog_get_recommended(WenshuCatalogDialog *self)
{
    g_return_val_if_fail(WENSHU_IS_CATALOG_DIALOG(self), NULL);
    return self->recommended ? self->recommended->id : NULL;
}
