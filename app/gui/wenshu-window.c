/* wenshu-window.c: the main window. It owns the runner, builds the pages
 * that need it (chat, and 公文 when the gongwen page is built), switches
 * them from the sidebar, loads models through the runner on its worker, and
 * shows errors in the banner and notices as toasts. On a narrow window the
 * leaflet folds: the sidebar and the page show one at a time.
 *
 * History: the window owns the WenshuHistory its pages autosave into. The
 * sidebar lists its conversations below the task kinds, newest first,
 * filtered by the search entry; selecting one restores it into its page.
 * Each row's menu renames, exports (Markdown) or deletes it; a delete goes
 * to the bin with an Undo toast, and the bin is purged when the last such
 * toast is dismissed, or when the window goes.
 *
 * Settings (cn.wenshu.Wenshu, when its schema is installed): a load takes
 * the device, threads and context size from them, a loaded model joins
 * recent-models, and a change of device, threads or context reloads the
 * model. The primary menu holds the recent models (win.open-recent),
 * Preferences, Keyboard Shortcuts and About.
 */
#include "wenshu-window.h"

#include <glib/gi18n.h>

#include "wenshu-catalog-dialog.h"
#include "wenshu-chat-page.h"
#include "wenshu-clip-page.h"
#include "wenshu-history.h"
#include "wenshu-preferences.h"
#include "wenshu-remote-dialog.h"
#include "wenshu-remote-settings.h"
#include "wenshu-slides-page.h"
#include "wenshu-gongwen-page.h"

struct _WenshuWindow {
    AdwApplicationWindow parent_instance;

    AdwToastOverlay *toast_overlay;
    AdwLeaflet *leaflet;
    GtkWidget *sidebar;
    AdwHeaderBar *sidebar_header;
    GtkListBox *kind_list;
    GtkWidget *content;
    GtkButton *back_button;
    GtkButton *open_model_button;
    GtkLabel *device_label;
    GtkMenuButton *primary_menu_button;
    GtkRevealer *error_revealer;
    GtkLabel *error_label;
    GtkProgressBar *load_progress;
    GtkStack *page_stack;
    GtkSearchEntry *history_search;
    GtkListBox *history_list;

    WenshuRunner *runner; /* owned */
    GtkWidget *chat_page; /* owned by page_stack */
    GtkWidget *gongwen_page; /* owned by page_stack */
    guint pulse_source;   /* pulses load_progress during a load, or 0 */
    char *error_text;     /* the banner's text while it shows, or NULL */

    WenshuHistory *history;   /* owned, or NULL: nothing is saved */
    gint64 shown_id;          /* the conversation the pages show, or 0 */
    gboolean listing;         /* refilling history_list: selections are not choices */
    int n_undo_toasts;        /* delete toasts still showing; purge at 0 */
    char *startup_prompt;     /* sent once the next model load succeeds, or NULL */
    int startup_n_predict;

    GSettings *settings;      /* owned, or NULL: the schema is not installed */
    GMenu *recent_menu;       /* the primary menu's recent models, owned */
    char *loading_path;       /* the model being loaded, or NULL; owned */
    char *model_path;         /* the model loaded last, or NULL; owned */
    guint reload_source;      /* a pending reload after a settings change, or 0 */
};

#define HISTORY_ID_KEY "wenshu-conversation-id" /* a history row's gint64 id (boxed) */

G_DEFINE_TYPE(WenshuWindow, wenshu_window, ADW_TYPE_APPLICATION_WINDOW)

/* ---- errors and notices ------------------------------------------------- */

void wenshu_window_show_error(WenshuWindow *self, const char *message)
{
    g_return_if_fail(WENSHU_IS_WINDOW(self));
    g_free(self->error_text);
    self->error_text = g_strdup(message);
    gtk_label_set_label(self->error_label, message);
    gtk_revealer_set_reveal_child(self->error_revealer, TRUE);
}

static void hide_error(WenshuWindow *self)
{
    g_clear_pointer(&self->error_text, g_free);
    gtk_revealer_set_reveal_child(self->error_revealer, FALSE);
}

const char *wenshu_window_get_error(WenshuWindow *self)
{
    g_return_val_if_fail(WENSHU_IS_WINDOW(self), NULL);
    return self->error_text;
}

void wenshu_window_show_toast(WenshuWindow *self, const char *message)
{
    g_return_if_fail(WENSHU_IS_WINDOW(self));
    adw_toast_overlay_add_toast(self->toast_overlay, adw_toast_new(message));
}

/* ---- model loading ------------------------------------------------------ */

static gboolean pulse_progress(gpointer user_data)
{
    gtk_progress_bar_pulse(GTK_PROGRESS_BAR(user_data));
    return G_SOURCE_CONTINUE;
}

/* A model load's progress, with the time left once the runner can tell
 * (it pulses until the first fraction arrives). The media of a run are the
 * page's to show: a run is going then. */
static void on_runner_progress(WenshuRunner *runner, double fraction, const char *what,
                               WenshuWindow *self)
{
    if (wenshu_runner_is_running(runner))
        return;
    gboolean busy = fraction < 1.0;
    gtk_widget_set_visible(GTK_WIDGET(self->load_progress), busy);
    if (!busy) {
        g_clear_handle_id(&self->pulse_source, g_source_remove);
        return;
    }
    double left = wenshu_runner_get_seconds_left(runner);
    g_autofree char *text = left >= 0 ? g_strdup_printf(_("%s — about %.0f s left"), what, left)
                                      : g_strdup(what);
    gtk_progress_bar_set_text(self->load_progress, text);
    if (fraction > 0) {
        g_clear_handle_id(&self->pulse_source, g_source_remove);
        gtk_progress_bar_set_fraction(self->load_progress, fraction);
    } else if (!self->pulse_source) {
        self->pulse_source = g_timeout_add(100, pulse_progress, self->load_progress);
    }
}

static void update_device_label(WenshuWindow *self)
{
    /* a remote endpoint: say that text leaves this computer */
    if (wenshu_remote_mark_label(self->device_label, self->runner))
        return;
    const char *device = wenshu_runner_get_device(self->runner);
    const char *notice = wenshu_runner_get_device_notice(self->runner);
    const struct eng_model_info *info = wenshu_runner_get_info(self->runner);
    g_autofree char *text = NULL;
    if (!info)
        text = g_strdup(_("No model"));
    else if (notice[0])
        text = g_strdup_printf("%s (%s)", device,
                               /* TRANSLATORS: the device label after a fallback to the CPU */
                               _("fallback"));
    else
        text = g_strdup(device);
    gtk_label_set_label(self->device_label, text);
    gtk_widget_set_tooltip_text(GTK_WIDGET(self->device_label), notice[0] ? notice : NULL);
}

/* The test hook (wenshu --prompt): send the prompt on the chat page. */
static void send_startup_prompt(WenshuWindow *self)
{
    g_autofree char *prompt = g_steal_pointer(&self->startup_prompt);
    WenshuChatPage *chat = WENSHU_CHAT_PAGE(self->chat_page);
    wenshu_window_show_page(self, "chat");
    wenshu_chat_page_set_n_predict(chat, self->startup_n_predict);
    gtk_text_buffer_set_text(wenshu_chat_page_get_prompt_buffer(chat), prompt, -1);
    gtk_widget_activate_action(self->chat_page, "draft.send", NULL);
}

void wenshu_window_set_startup_prompt(WenshuWindow *self, const char *prompt, int n_predict)
{
    g_return_if_fail(WENSHU_IS_WINDOW(self));
    g_free(self->startup_prompt);
    self->startup_prompt = g_strdup(prompt);
    self->startup_n_predict = n_predict;
}

static void on_model_loaded(GObject *source, GAsyncResult *result, gpointer user_data)
{
    WenshuWindow *self = user_data;
    GError *error = NULL;
    if (!wenshu_runner_load_finish(WENSHU_RUNNER(source), result, &error)) {
        wenshu_window_show_error(self, error->message);
        g_error_free(error);
    } else {
        hide_error(self);
        g_free(self->model_path);
        self->model_path = g_steal_pointer(&self->loading_path);
        if (self->settings && self->model_path)
            wenshu_settings_add_recent_model(self->settings, self->model_path);
        update_device_label(self);
        const struct eng_model_info *info = wenshu_runner_get_info(self->runner);
        g_autofree char *notice = g_strdup_printf(
            /* TRANSLATORS: a toast; the model's name, then the device */
            _("Loaded %s (%s)"), info->name[0] ? info->name : info->arch, info->device);
        wenshu_window_show_toast(self, notice);
        const char *fallback = wenshu_runner_get_device_notice(self->runner);
        if (fallback[0])
            wenshu_window_show_toast(self, fallback);
    }
    g_clear_pointer(&self->loading_path, g_free); /* on success, taken as model_path */
    gtk_widget_set_sensitive(GTK_WIDGET(self->open_model_button), TRUE);
    if (self->startup_prompt && wenshu_runner_is_loaded(self->runner))
        send_startup_prompt(self);
    g_object_unref(self);
}

void wenshu_window_load_model(WenshuWindow *self, const char *path, int n_ctx)
{
    g_return_if_fail(WENSHU_IS_WINDOW(self));
    g_autofree char *mmproj = wenshu_runner_find_mmproj(path);
    hide_error(self);
    gtk_widget_set_sensitive(GTK_WIDGET(self->open_model_button), FALSE);
    int device = eng_model_params_default().device;
    int n_threads = 0;
    if (self->settings) {
        device = wenshu_settings_get_device(self->settings);
        n_threads = g_settings_get_int(self->settings, "threads");
        if (n_ctx == 0)
            n_ctx = g_settings_get_int(self->settings, "context-size");
    }
    /* 0 (all): leave one core to the main loop, so that the UI never waits */
    if (n_threads == 0)
        n_threads = MAX(1, (int)g_get_num_processors() - 1);
    g_free(self->loading_path);
    self->loading_path = g_strdup(path);
    wenshu_runner_load_async(self->runner, path, mmproj, device, n_threads, n_ctx, NULL,
                             on_model_loaded, g_object_ref(self));
}

/* ---- settings and the primary menu -------------------------------------- */

/* The settings changed: load the model again with them, unless the runner
 * is busy (then they apply at the next load). */
static gboolean reload_model(gpointer user_data)
{
    WenshuWindow *self = user_data;
    self->reload_source = 0;
    if (!self->model_path || !wenshu_runner_is_loaded(self->runner))
        return G_SOURCE_REMOVE;
    if (wenshu_runner_is_running(self->runner) || self->loading_path) {
        wenshu_window_show_toast(self, _("The new settings apply at the next model load"));
        return G_SOURCE_REMOVE;
    }
    g_autofree char *path = g_strdup(self->model_path);
    wenshu_window_load_model(self, path, 0);
    return G_SOURCE_REMOVE;
}

/* Spin buttons change a key at every step: reload once they rest. */
static void on_load_settings_changed(GSettings *settings, const char *key, WenshuWindow *self)
{
    (void)settings;
    (void)key;
    g_clear_handle_id(&self->reload_source, g_source_remove);
    if (self->model_path)
        self->reload_source = g_timeout_add(500, reload_model, self);
}

/* The recent models submenu from recent-models: one item a path, named by
 * its file name. */
static void fill_recent_menu(WenshuWindow *self)
{
    g_menu_remove_all(self->recent_menu);
    g_auto(GStrv) paths =
        self->settings ? g_settings_get_strv(self->settings, "recent-models") : NULL;
    for (int i = 0; paths && paths[i]; i++) {
        g_autofree char *name = g_path_get_basename(paths[i]);
        g_autoptr(GMenuItem) item = g_menu_item_new(name, NULL);
        g_menu_item_set_action_and_target_value(item, "win.open-recent",
                                                g_variant_new_string(paths[i]));
        g_menu_append_item(self->recent_menu, item);
    }
    if (!paths || !paths[0])
        g_menu_append(self->recent_menu, _("None"), "win.no-recent-model");
}

static void on_recent_models_changed(GSettings *settings, const char *key, WenshuWindow *self)
{
    (void)settings;
    (void)key;
    fill_recent_menu(self);
}

static void open_recent_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    wenshu_window_load_model(WENSHU_WINDOW(widget), g_variant_get_string(param, NULL), 0);
}

/* The header bar's menu: recent models, then Preferences, Keyboard
 * Shortcuts and About. */
static void setup_primary_menu(WenshuWindow *self)
{
    self->settings = wenshu_settings_new();
    self->recent_menu = g_menu_new();
    fill_recent_menu(self);
    if (self->settings) {
        g_signal_connect(self->settings, "changed::recent-models",
                         G_CALLBACK(on_recent_models_changed), self);
        static const char *const load_keys[] = {"device", "threads", "context-size"};
        for (guint i = 0; i < G_N_ELEMENTS(load_keys); i++) {
            g_autofree char *signal = g_strconcat("changed::", load_keys[i], NULL);
            g_signal_connect(self->settings, signal, G_CALLBACK(on_load_settings_changed), self);
        }
    }
    g_autoptr(GMenu) menu = g_menu_new();
    g_autoptr(GMenu) models = g_menu_new();
    g_menu_append(models, _("Get models…"), "win.get-models");
    g_menu_append_submenu(models, _("Recent models"), G_MENU_MODEL(self->recent_menu));
    g_menu_append(models, _("Remote Model…"), "win.remote-model");
    g_menu_append_section(menu, NULL, G_MENU_MODEL(models));
    g_autoptr(GMenu) app = g_menu_new();
    g_menu_append(app, _("Preferences"), "app.preferences");
    g_menu_append(app, _("Keyboard Shortcuts"), "win.show-help-overlay");
    g_menu_append(app, _("About Wenshu"), "app.about");
    g_menu_append_section(menu, NULL, G_MENU_MODEL(app));
    gtk_menu_button_set_menu_model(self->primary_menu_button, G_MENU_MODEL(menu));
    /* GTK 4.8 does not pass a menu button's label to its inner toggle, the
     * widget screen readers focus: label both */
    GtkWidget *button = GTK_WIDGET(self->primary_menu_button);
    for (GtkWidget *w = button; w; w = w == button ? gtk_widget_get_first_child(button) : NULL)
        gtk_accessible_update_property(GTK_ACCESSIBLE(w), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       _("Main menu"), -1);
}

static void on_model_chosen(GtkNativeDialog *dialog, int response, WenshuWindow *self)
{
    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
        g_autofree char *path = file ? g_file_get_path(file) : NULL;
        if (path)
            wenshu_window_load_model(self, path, 0);
        else
            wenshu_window_show_error(self, _("Open model: not a local file"));
    }
    g_object_unref(dialog);
}

/* ---- actions ------------------------------------------------------------ */

static void open_model_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    (void)param;
    WenshuWindow *self = WENSHU_WINDOW(widget);
    GtkFileChooserNative *dialog = gtk_file_chooser_native_new(
        _("Open model"), GTK_WINDOW(self), GTK_FILE_CHOOSER_ACTION_OPEN, NULL, NULL);
    GtkFileFilter *filter = gtk_file_filter_new();
    /* TRANSLATORS: the file filter for model files */
    gtk_file_filter_set_name(filter, _("GGUF models"));
    gtk_file_filter_add_pattern(filter, "*.gguf");
    gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(dialog), filter);
    g_object_unref(filter);
    g_signal_connect(dialog, "response", G_CALLBACK(on_model_chosen), self);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(dialog));
}

static void show_error_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    wenshu_window_show_error(WENSHU_WINDOW(widget), g_variant_get_string(param, NULL));
}

static void dismiss_error_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    (void)param;
    hide_error(WENSHU_WINDOW(widget));
}

/* ---- history ------------------------------------------------------------ */

static gint64 row_conversation_id(GtkListBoxRow *row)
{
    gint64 *id = row ? g_object_get_data(G_OBJECT(row), HISTORY_ID_KEY) : NULL;
    return id ? *id : 0;
}

static void show_history_error(WenshuWindow *self, GError *error)
{
    g_autofree char *message = g_strdup_printf(_("History: %s"), error->message);
    wenshu_window_show_error(self, message);
    g_error_free(error);
}

/* One history row: the title, and a menu to rename, export or delete. */
static GtkWidget *history_row_new(const WenshuConversation *c)
{
    GtkWidget *row = gtk_list_box_row_new();
    g_object_set_data_full(G_OBJECT(row), HISTORY_ID_KEY, g_memdup2(&c->id, sizeof c->id),
                           g_free);
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    GtkWidget *label = gtk_label_new(c->title[0] ? c->title : _("Untitled"));
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    gtk_label_set_ellipsize(GTK_LABEL(label), PANGO_ELLIPSIZE_END);
    gtk_widget_set_hexpand(label, TRUE);
    gtk_widget_set_tooltip_text(label, c->title);
    gtk_box_append(GTK_BOX(box), label);

    g_autoptr(GMenu) menu = g_menu_new();
    const struct {
        const char *label, *action;
    } items[] = {{N_("Rename"), "win.history-rename"},
                 {N_("Export as Markdown"), "win.history-export"},
                 {N_("Delete"), "win.history-delete"}};
    for (guint i = 0; i < G_N_ELEMENTS(items); i++) {
        g_autoptr(GMenuItem) item = g_menu_item_new(_(items[i].label), NULL);
        g_menu_item_set_action_and_target_value(item, items[i].action,
                                                g_variant_new_int64(c->id));
        g_menu_append_item(menu, item);
    }
    GtkWidget *button = gtk_menu_button_new();
    gtk_menu_button_set_icon_name(GTK_MENU_BUTTON(button), "view-more-symbolic");
    gtk_menu_button_set_menu_model(GTK_MENU_BUTTON(button), G_MENU_MODEL(menu));
    gtk_menu_button_set_has_frame(GTK_MENU_BUTTON(button), FALSE);
    gtk_widget_set_tooltip_text(button, _("More"));
    /* GTK 4.8 does not pass a menu button's label to its inner toggle, the
     * widget screen readers focus: label both */
    for (GtkWidget *w = button; w; w = w == button ? gtk_widget_get_first_child(button) : NULL)
        gtk_accessible_update_property(GTK_ACCESSIBLE(w), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       _("Conversation actions"), -1);
    gtk_box_append(GTK_BOX(box), button);
    gtk_list_box_row_set_child(GTK_LIST_BOX_ROW(row), box);
    return row;
}

void wenshu_window_refresh_history(WenshuWindow *self)
{
    g_return_if_fail(WENSHU_IS_WINDOW(self));
    self->listing = TRUE;
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(self->history_list))))
        gtk_list_box_remove(self->history_list, child);
    if (self->history) {
        const char *query = gtk_editable_get_text(GTK_EDITABLE(self->history_search));
        GError *error = NULL;
        g_autoptr(GPtrArray) list =
            wenshu_history_list(self->history, query[0] ? query : NULL, &error);
        if (!list)
            show_history_error(self, error);
        for (guint i = 0; list && i < list->len; i++) {
            const WenshuConversation *c = g_ptr_array_index(list, i);
            GtkWidget *row = history_row_new(c);
            gtk_list_box_append(self->history_list, row);
            if (c->id == self->shown_id)
                gtk_list_box_select_row(self->history_list, GTK_LIST_BOX_ROW(row));
        }
    }
    self->listing = FALSE;
}

static void on_history_search_search_changed(GtkSearchEntry *entry, WenshuWindow *self)
{
    (void)entry;
    wenshu_window_refresh_history(self);
}

/* The page of a saved conversation's kind, and whether it can show it. */
static gboolean restore_into_page(WenshuWindow *self, const WenshuConversation *c, GError **error)
{
    if (g_str_equal(c->kind, "chat")) {
        if (!wenshu_chat_page_load_conversation(WENSHU_CHAT_PAGE(self->chat_page), c->id, error))
            return FALSE;
        wenshu_window_show_page(self, "chat");
        return TRUE;
    }
    if (g_str_equal(c->kind, "gongwen")) {
        if (!wenshu_gongwen_page_load_conversation(WENSHU_GONGWEN_PAGE(self->gongwen_page),
                                                   self->history, c->id, error))
            return FALSE;
        wenshu_window_show_page(self, "gongwen");
        return TRUE;
    }
    g_set_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_FAILED,
                /* TRANSLATORS: the conversation's title, then its kind (chat, gongwen...) */
                _("%s: this version cannot open a “%s” conversation"), c->title, c->kind);
    return FALSE;
}

gboolean wenshu_window_open_conversation(WenshuWindow *self, gint64 conversation, GError **error)
{
    g_return_val_if_fail(WENSHU_IS_WINDOW(self), FALSE);
    if (!self->history) {
        g_set_error_literal(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_FAILED,
                            _("History: not open"));
        return FALSE;
    }
    g_autoptr(WenshuConversation) c = wenshu_history_get(self->history, conversation, error);
    if (!c || !restore_into_page(self, c, error))
        return FALSE;
    self->shown_id = conversation;
    wenshu_window_refresh_history(self);
    return TRUE;
}

/* Whether a page already shows the saved conversation id. */
static gboolean page_shows(WenshuWindow *self, gint64 id)
{
    if (wenshu_chat_page_get_conversation(WENSHU_CHAT_PAGE(self->chat_page)) == id)
        return TRUE;
    if (wenshu_gongwen_page_get_conversation(WENSHU_GONGWEN_PAGE(self->gongwen_page)) == id)
        return TRUE;
    return FALSE;
}

/* A row chosen: its conversation into its page, unless a page shows it
 * already (then that page comes forward). */
static void open_row(WenshuWindow *self, GtkListBoxRow *row)
{
    gint64 id = row_conversation_id(row);
    if (self->listing || !id)
        return;
    GError *error = NULL;
    if (page_shows(self, id)) {
        g_autoptr(WenshuConversation) c = wenshu_history_get(self->history, id, &error);
        if (c)
            wenshu_window_show_page(self, c->kind);
        else
            show_history_error(self, error);
        return;
    }
    if (!wenshu_window_open_conversation(self, id, &error))
        show_history_error(self, error);
}

static void on_history_list_row_selected(GtkListBox *list, GtkListBoxRow *row, WenshuWindow *self)
{
    (void)list;
    open_row(self, row);
}

static void on_history_list_row_activated(GtkListBox *list, GtkListBoxRow *row,
                                          WenshuWindow *self)
{
    (void)list;
    open_row(self, row);
    adw_leaflet_set_visible_child(self->leaflet, self->content);
}

/* A page saved a turn: list it (a new conversation comes to the top). */
static void on_page_history_changed(GtkWidget *page, WenshuWindow *self)
{
    gint64 id = 0;
    if (page == self->chat_page)
        id = wenshu_chat_page_get_conversation(WENSHU_CHAT_PAGE(page));
    else
        id = wenshu_gongwen_page_get_conversation(WENSHU_GONGWEN_PAGE(page));
    self->shown_id = id;
    wenshu_window_refresh_history(self);
}

static void purge_deleted(WenshuWindow *self)
{
    GError *error = NULL;
    if (self->history && !wenshu_history_purge_deleted(self->history, &error))
        show_history_error(self, error);
}

static void on_undo_toast_dismissed(AdwToast *toast, WenshuWindow *self)
{
    (void)toast;
    if (--self->n_undo_toasts == 0)
        purge_deleted(self);
}

gboolean wenshu_window_delete_conversation(WenshuWindow *self, gint64 conversation,
                                           GError **error)
{
    g_return_val_if_fail(WENSHU_IS_WINDOW(self), FALSE);
    g_return_val_if_fail(self->history != NULL, FALSE);
    g_autoptr(WenshuConversation) c = wenshu_history_get(self->history, conversation, error);
    if (!c || !wenshu_history_delete(self->history, conversation, error))
        return FALSE;
    wenshu_window_refresh_history(self);
    g_autofree char *text = g_strdup_printf(_("Deleted “%s”"), c->title);
    AdwToast *toast = adw_toast_new(text);
    adw_toast_set_button_label(toast, _("Undo"));
    adw_toast_set_action_name(toast, "win.history-undo");
    adw_toast_set_action_target_value(toast, g_variant_new_int64(conversation));
    self->n_undo_toasts++;
    g_signal_connect_object(toast, "dismissed", G_CALLBACK(on_undo_toast_dismissed), self, 0);
    adw_toast_overlay_add_toast(self->toast_overlay, toast);
    return TRUE;
}

gboolean wenshu_window_rename_conversation(WenshuWindow *self, gint64 conversation,
                                           const char *title, GError **error)
{
    g_return_val_if_fail(WENSHU_IS_WINDOW(self), FALSE);
    g_return_val_if_fail(self->history != NULL, FALSE);
    if (!wenshu_history_rename(self->history, conversation, title, error))
        return FALSE;
    wenshu_window_refresh_history(self);
    return TRUE;
}

gboolean wenshu_window_export_conversation(WenshuWindow *self, gint64 conversation,
                                           const char *path, GError **error)
{
    g_return_val_if_fail(WENSHU_IS_WINDOW(self), FALSE);
    g_return_val_if_fail(self->history != NULL, FALSE);
    return wenshu_history_export_markdown(self->history, conversation, path, error);
}

static void history_delete_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    WenshuWindow *self = WENSHU_WINDOW(widget);
    GError *error = NULL;
    if (self->history &&
        !wenshu_window_delete_conversation(self, g_variant_get_int64(param), &error))
        show_history_error(self, error);
}

static void history_undo_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    WenshuWindow *self = WENSHU_WINDOW(widget);
    GError *error = NULL;
    if (!self->history)
        return;
    if (!wenshu_history_undo_delete(self->history, g_variant_get_int64(param), &error))
        show_history_error(self, error);
    wenshu_window_refresh_history(self);
}

static void on_rename_response(AdwMessageDialog *dialog, const char *response, WenshuWindow *self)
{
    if (g_str_equal(response, "rename")) {
        GtkEditable *entry = GTK_EDITABLE(adw_message_dialog_get_extra_child(dialog));
        gint64 *id = g_object_get_data(G_OBJECT(dialog), HISTORY_ID_KEY);
        g_autofree char *title = g_strstrip(g_strdup(gtk_editable_get_text(entry)));
        GError *error = NULL;
        if (title[0] && !wenshu_window_rename_conversation(self, *id, title, &error))
            show_history_error(self, error);
    }
}

/* The conversation id of the history, or NULL (an error shown in the banner). */
static WenshuConversation *conversation_or_error(WenshuWindow *self, gint64 id)
{
    GError *error = NULL;
    WenshuConversation *c = self->history ? wenshu_history_get(self->history, id, &error) : NULL;
    if (!c && error)
        show_history_error(self, error);
    return c;
}

static void history_rename_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    WenshuWindow *self = WENSHU_WINDOW(widget);
    gint64 id = g_variant_get_int64(param);
    g_autoptr(WenshuConversation) c = conversation_or_error(self, id);
    if (!c)
        return;
    GtkWidget *dialog =
        adw_message_dialog_new(GTK_WINDOW(self), _("Rename"), NULL);
    GtkWidget *entry = gtk_entry_new();
    gtk_editable_set_text(GTK_EDITABLE(entry), c->title);
    gtk_entry_set_activates_default(GTK_ENTRY(entry), TRUE);
    gtk_accessible_update_property(GTK_ACCESSIBLE(entry), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                   _("Title"), -1);
    adw_message_dialog_set_extra_child(ADW_MESSAGE_DIALOG(dialog), entry);
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(dialog), "cancel", _("Cancel"),
                                     "rename", _("Rename"), NULL);
    adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(dialog), "rename");
    adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(dialog), "rename",
                                               ADW_RESPONSE_SUGGESTED);
    g_object_set_data_full(G_OBJECT(dialog), HISTORY_ID_KEY, g_memdup2(&id, sizeof id), g_free);
    g_signal_connect_object(dialog, "response", G_CALLBACK(on_rename_response), self, 0);
    gtk_window_present(GTK_WINDOW(dialog));
}

static void on_export_chosen(GtkNativeDialog *dialog, int response, WenshuWindow *self)
{
    if (response == GTK_RESPONSE_ACCEPT) {
        gint64 *id = g_object_get_data(G_OBJECT(dialog), HISTORY_ID_KEY);
        g_autoptr(GFile) file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
        g_autofree char *path = file ? g_file_get_path(file) : NULL;
        GError *error = NULL;
        if (!path) {
            wenshu_window_show_error(self, _("Export: not a local file"));
        } else if (!wenshu_window_export_conversation(self, *id, path, &error)) {
            show_history_error(self, error);
        } else {
            g_autofree char *notice = g_strdup_printf(_("Exported %s"), path);
            wenshu_window_show_toast(self, notice);
        }
    }
    g_object_unref(dialog);
}

static void history_export_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    WenshuWindow *self = WENSHU_WINDOW(widget);
    gint64 id = g_variant_get_int64(param);
    g_autoptr(WenshuConversation) c = conversation_or_error(self, id);
    if (!c)
        return;
    GtkFileChooserNative *dialog =
        gtk_file_chooser_native_new(_("Export as Markdown"), GTK_WINDOW(self),
                                    GTK_FILE_CHOOSER_ACTION_SAVE, NULL, NULL);
    g_autofree char *name = g_strdup_printf("%s.md", c->title[0] ? c->title : "wenshu");
    g_strdelimit(name, "/\\\\", '_');
    gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(dialog), name);
    g_object_set_data_full(G_OBJECT(dialog), HISTORY_ID_KEY, g_memdup2(&id, sizeof id), g_free);
    g_signal_connect(dialog, "response", G_CALLBACK(on_export_chosen), self);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(dialog));
}

void wenshu_window_set_history(WenshuWindow *self, WenshuHistory *history)
{
    g_return_if_fail(WENSHU_IS_WINDOW(self));
    purge_deleted(self);
    wenshu_chat_page_set_history(WENSHU_CHAT_PAGE(self->chat_page), history);
    wenshu_gongwen_page_set_history(WENSHU_GONGWEN_PAGE(self->gongwen_page), history);
    g_clear_pointer(&self->history, wenshu_history_close);
    self->history = history;
    self->shown_id = 0;
    wenshu_window_refresh_history(self);
}

WenshuHistory *wenshu_window_get_history(WenshuWindow *self)
{
    g_return_val_if_fail(WENSHU_IS_WINDOW(self), NULL);
    return self->history;
}

gboolean wenshu_window_restore_interrupted(WenshuWindow *self)
{
    g_return_val_if_fail(WENSHU_IS_WINDOW(self), FALSE);
    if (!self->history)
        return FALSE;
    GError *error = NULL;
    gint64 id = wenshu_history_find_interrupted(self->history, &error);
    if (error)
        show_history_error(self, error);
    if (id <= 0)
        return FALSE;
    if (!wenshu_window_open_conversation(self, id, &error)) {
        show_history_error(self, error);
        return FALSE;
    }
    /* shown once: marked complete as cut off, it is not restored at every start */
    g_autoptr(GPtrArray) messages = wenshu_history_messages(self->history, id, &error);
    for (guint i = 0; messages && i < messages->len && !error; i++) {
        const WenshuMessage *m = g_ptr_array_index(messages, i);
        if (!m->complete)
            wenshu_history_update_message(self->history, m->id, m->content, TRUE, &error);
    }
    if (error)
        show_history_error(self, error);
    wenshu_window_show_toast(self, _("Restored an unfinished draft"));
    return TRUE;
}

GtkListBox *wenshu_window_get_history_list(WenshuWindow *self)
{
    g_return_val_if_fail(WENSHU_IS_WINDOW(self), NULL);
    return self->history_list;
}

GtkEditable *wenshu_window_get_history_search(WenshuWindow *self)
{
    g_return_val_if_fail(WENSHU_IS_WINDOW(self), NULL);
    return GTK_EDITABLE(self->history_search);
}

/* ---- navigation --------------------------------------------------------- */

void wenshu_window_show_page(WenshuWindow *self, const char *name)
{
    g_return_if_fail(WENSHU_IS_WINDOW(self));
    for (int i = 0;; i++) {
        GtkListBoxRow *row = gtk_list_box_get_row_at_index(self->kind_list, i);
        if (!row)
            break;
        if (g_strcmp0(gtk_widget_get_name(GTK_WIDGET(row)), name) == 0) {
            gtk_list_box_select_row(self->kind_list, row);
            adw_leaflet_set_visible_child(self->leaflet, self->content);
            return;
        }
    }
    g_warning("no page named %s", name);
}

static void on_kind_list_row_selected(GtkListBox *list, GtkListBoxRow *row, WenshuWindow *self)
{
    (void)list;
    if (row)
        gtk_stack_set_visible_child_name(self->page_stack, gtk_widget_get_name(GTK_WIDGET(row)));
}

static void on_kind_list_row_activated(GtkListBox *list, GtkListBoxRow *row, WenshuWindow *self)
{
    (void)list;
    (void)row;
    adw_leaflet_set_visible_child(self->leaflet, self->content);
}

static void on_back_button_clicked(GtkButton *button, WenshuWindow *self)
{
    (void)button;
    adw_leaflet_set_visible_child(self->leaflet, self->sidebar);
}

static void on_leaflet_folded_changed(AdwLeaflet *leaflet, GParamSpec *pspec, WenshuWindow *self)
{
    (void)pspec;
    gboolean folded = adw_leaflet_get_folded(leaflet);
    gtk_widget_set_visible(GTK_WIDGET(self->back_button), folded);
    /* folded, the sidebar fills the window and needs the window buttons */
    adw_header_bar_set_show_end_title_buttons(self->sidebar_header, folded);
}

static gboolean on_close_request(GtkWindow *window, gpointer user_data)
{
    (void)user_data;
    WenshuWindow *self = WENSHU_WINDOW(window);
    wenshu_runner_stop(self->runner);
    purge_deleted(self); /* quitting: deletes can no longer be undone */
    return FALSE;
}

/* ---- object ------------------------------------------------------------- */

WenshuRunner *wenshu_window_get_runner(WenshuWindow *self)
{
    g_return_val_if_fail(WENSHU_IS_WINDOW(self), NULL);
    return self->runner;
}

GtkWidget *wenshu_window_get_chat_page(WenshuWindow *self)
{
    g_return_val_if_fail(WENSHU_IS_WINDOW(self), NULL);
    return self->chat_page;
}

static void wenshu_window_dispose(GObject *object)
{
    WenshuWindow *self = WENSHU_WINDOW(object);
    g_clear_handle_id(&self->pulse_source, g_source_remove);
    g_clear_handle_id(&self->reload_source, g_source_remove);
    if (self->settings)
        g_signal_handlers_disconnect_by_data(self->settings, self);
    g_clear_object(&self->settings);
    g_clear_object(&self->recent_menu);
    if (self->runner)
        g_signal_handlers_disconnect_by_data(self->runner, self);
    if (self->chat_page)
        g_signal_handlers_disconnect_by_data(self->chat_page, self);
    if (self->gongwen_page)
        g_signal_handlers_disconnect_by_data(self->gongwen_page, self);
    gtk_widget_dispose_template(GTK_WIDGET(self), WENSHU_TYPE_WINDOW);
    self->chat_page = NULL;
    self->gongwen_page = NULL;
    /* the pages are gone, so nothing borrows the history any more */
    if (self->history) {
        if (!wenshu_history_purge_deleted(self->history, NULL))
            g_message("History: the deleted conversations were not purged");
        g_clear_pointer(&self->history, wenshu_history_close);
    }
    g_clear_object(&self->runner);
    G_OBJECT_CLASS(wenshu_window_parent_class)->dispose(object);
}

static void wenshu_window_finalize(GObject *object)
{
    g_free(WENSHU_WINDOW(object)->error_text);
    g_free(WENSHU_WINDOW(object)->startup_prompt);
    g_free(WENSHU_WINDOW(object)->loading_path);
    g_free(WENSHU_WINDOW(object)->model_path);
    G_OBJECT_CLASS(wenshu_window_parent_class)->finalize(object);
}

/* Use in the catalogue: load the model (its mmproj is found beside it). */
static void on_catalog_model_chosen(WenshuCatalogDialog *dialog, const char *model_path,
                                    const char *mmproj_path, WenshuWindow *self)
{
    (void)dialog;
    (void)mmproj_path;
    wenshu_window_load_model(self, model_path, 0);
}

/* The model catalogue: downloads, imports, the recommended model. */
static void get_models_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    (void)param;
    wenshu_catalog_dialog_present(GTK_WINDOW(widget), G_CALLBACK(on_catalog_model_chosen), widget);
}

/* The remote endpoint dialog; the device label follows its changes. */
static void remote_model_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    (void)param;
    WenshuWindow *self = WENSHU_WINDOW(widget);
    WenshuRemoteDialog *dialog =
        wenshu_remote_dialog_new(GTK_WINDOW(self), self->runner, self->settings);
    g_signal_connect_object(dialog, "endpoint-changed", G_CALLBACK(update_device_label), self,
                            G_CONNECT_SWAPPED);
    gtk_window_present(GTK_WINDOW(dialog));
}

static void wenshu_window_class_init(WenshuWindowClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->dispose = wenshu_window_dispose;
    object_class->finalize = wenshu_window_finalize;

    gtk_widget_class_set_template_from_resource(widget_class,
                                                "/org/wenshu/Wenshu/ui/wenshu-window.ui");
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, toast_overlay);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, leaflet);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, sidebar);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, sidebar_header);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, kind_list);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, content);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, back_button);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, open_model_button);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, device_label);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, primary_menu_button);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, error_revealer);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, error_label);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, load_progress);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, page_stack);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, history_search);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, history_list);
    gtk_widget_class_bind_template_callback(widget_class, on_history_search_search_changed);
    gtk_widget_class_bind_template_callback(widget_class, on_history_list_row_selected);
    gtk_widget_class_bind_template_callback(widget_class, on_history_list_row_activated);
    gtk_widget_class_bind_template_callback(widget_class, on_kind_list_row_selected);
    gtk_widget_class_bind_template_callback(widget_class, on_kind_list_row_activated);
    gtk_widget_class_bind_template_callback(widget_class, on_back_button_clicked);
    gtk_widget_class_bind_template_callback(widget_class, on_leaflet_folded_changed);

    gtk_widget_class_install_action(widget_class, "win.open-model", NULL, open_model_activated);
    gtk_widget_class_install_action(widget_class, "win.remote-model", NULL,
                                    remote_model_activated);
    gtk_widget_class_install_action(widget_class, "win.get-models", NULL, get_models_activated);
    gtk_widget_class_install_action(widget_class, "win.show-error", "s", show_error_activated);
    gtk_widget_class_install_action(widget_class, "win.open-recent", "s", open_recent_activated);
    gtk_widget_class_install_action(widget_class, "win.dismiss-error", NULL,
                                    dismiss_error_activated);
    gtk_widget_class_install_action(widget_class, "win.history-rename", "x",
                                    history_rename_activated);
    gtk_widget_class_install_action(widget_class, "win.history-delete", "x",
                                    history_delete_activated);
    gtk_widget_class_install_action(widget_class, "win.history-undo", "x",
                                    history_undo_activated);
    gtk_widget_class_install_action(widget_class, "win.history-export", "x",
                                    history_export_activated);
    gtk_widget_class_add_binding_action(widget_class, GDK_KEY_o, GDK_CONTROL_MASK, "win.open-model",
                                        NULL);
}

static void wenshu_window_init(WenshuWindow *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    self->runner = wenshu_runner_new();
    g_signal_connect(self->runner, "progress", G_CALLBACK(on_runner_progress), self);
    self->gongwen_page = wenshu_gongwen_page_new(self->runner);
    gtk_stack_add_titled(self->page_stack, self->gongwen_page, "gongwen",
                         _("Official document"));
    g_signal_connect(self->gongwen_page, "history-changed", G_CALLBACK(on_page_history_changed),
                     self);
    gtk_stack_add_titled(self->page_stack, wenshu_slides_page_new(self->runner), "slides",
                         _("Slides"));
    gtk_stack_add_titled(self->page_stack, wenshu_clip_page_new(), "clip", _("Clip summary"));
    self->chat_page = wenshu_chat_page_new(self->runner);
    g_signal_connect(self->chat_page, "history-changed", G_CALLBACK(on_page_history_changed),
                     self);
    gtk_stack_add_titled(self->page_stack, self->chat_page, "chat", _("Chat"));
    g_signal_connect(self, "close-request", G_CALLBACK(on_close_request), NULL);
    wenshu_window_show_page(self, "chat");
    on_leaflet_folded_changed(self->leaflet, NULL, self);
    setup_primary_menu(self);
    if (wenshu_remote_settings_apply(self->settings, self->runner))
        update_device_label(self);
}

WenshuWindow *wenshu_window_new(GtkApplication *app)
{
    return g_object_new(WENSHU_TYPE_WINDOW, "application", app, NULL);
}
