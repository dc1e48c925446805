/* wenshu-window.c: the main window. It owns the runner, builds the pages
 * that need it (chat, and 公文 when the gongwen page is built), switches
 * them from the sidebar, loads models through the runner on its worker, and
 * shows errors in the banner and notices as toasts. On a narrow window the
 * leaflet folds: the sidebar and the page show one at a time.
 */
#include "wenshu-window.h"

#include "wenshu-chat-page.h"
#ifdef WENSHU_HAVE_GONGWEN_PAGE
#include "wenshu-gongwen-page.h"
#endif

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
    GtkRevealer *error_revealer;
    GtkLabel *error_label;
    GtkProgressBar *load_progress;
    GtkStack *page_stack;

    WenshuRunner *runner; /* owned */
    GtkWidget *chat_page; /* owned by page_stack */
    guint pulse_source;   /* pulses load_progress during a load, or 0 */
    char *error_text;     /* the banner's text while it shows, or NULL */
};

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

static void on_runner_progress(WenshuRunner *runner, double fraction, const char *what,
                               WenshuWindow *self)
{
    (void)runner;
    gboolean busy = fraction < 1.0;
    gtk_widget_set_visible(GTK_WIDGET(self->load_progress), busy);
    gtk_progress_bar_set_text(self->load_progress, what);
    if (busy && !self->pulse_source)
        self->pulse_source = g_timeout_add(100, pulse_progress, self->load_progress);
    else if (!busy)
        g_clear_handle_id(&self->pulse_source, g_source_remove);
}

static void update_device_label(WenshuWindow *self)
{
    const char *device = wenshu_runner_get_device(self->runner);
    const char *notice = wenshu_runner_get_device_notice(self->runner);
    const struct eng_model_info *info = wenshu_runner_get_info(self->runner);
    g_autofree char *text = NULL;
    if (!info)
        text = g_strdup("未加载模型 No model");
    else if (notice[0])
        text = g_strdup_printf("%s (%s)", device, "回退 fallback");
    else
        text = g_strdup(device);
    gtk_label_set_label(self->device_label, text);
    gtk_widget_set_tooltip_text(GTK_WIDGET(self->device_label), notice[0] ? notice : NULL);
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
        update_device_label(self);
        const struct eng_model_info *info = wenshu_runner_get_info(self->runner);
        g_autofree char *notice = g_strdup_printf(
            "已加载 Loaded %s (%s)", info->name[0] ? info->name : info->arch, info->device);
        wenshu_window_show_toast(self, notice);
        const char *fallback = wenshu_runner_get_device_notice(self->runner);
        if (fallback[0])
            wenshu_window_show_toast(self, fallback);
    }
    gtk_widget_set_sensitive(GTK_WIDGET(self->open_model_button), TRUE);
    g_object_unref(self);
}

void wenshu_window_load_model(WenshuWindow *self, const char *path, int n_ctx)
{
    g_return_if_fail(WENSHU_IS_WINDOW(self));
    g_autofree char *mmproj = wenshu_runner_find_mmproj(path);
    hide_error(self);
    gtk_widget_set_sensitive(GTK_WIDGET(self->open_model_button), FALSE);
    /* leave one core to the main loop, so that the UI never waits for compute */
    int n_threads = MAX(1, (int)g_get_num_processors() - 1);
    wenshu_runner_load_async(self->runner, path, mmproj, eng_model_params_default().device,
                             n_threads, n_ctx, NULL, on_model_loaded, g_object_ref(self));
}

static void on_model_chosen(GtkNativeDialog *dialog, int response, WenshuWindow *self)
{
    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
        g_autofree char *path = file ? g_file_get_path(file) : NULL;
        if (path)
            wenshu_window_load_model(self, path, 0);
        else
            wenshu_window_show_error(self, "打开模型 Open model: not a local file");
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
        "打开模型 Open model", GTK_WINDOW(self), GTK_FILE_CHOOSER_ACTION_OPEN, NULL, NULL);
    GtkFileFilter *filter = gtk_file_filter_new();
    gtk_file_filter_set_name(filter, "GGUF");
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
    wenshu_runner_stop(WENSHU_WINDOW(window)->runner);
    return FALSE;
}

/* ---- object ------------------------------------------------------------- */

static GtkWidget *gongwen_page_new(WenshuRunner *runner)
{
#ifdef WENSHU_HAVE_GONGWEN_PAGE
    return wenshu_gongwen_page_new(runner);
#else
    (void)runner;
    GtkWidget *page = adw_status_page_new();
    adw_status_page_set_icon_name(ADW_STATUS_PAGE(page), "x-office-document-symbolic");
    adw_status_page_set_title(ADW_STATUS_PAGE(page), "公文 Official document");
    adw_status_page_set_description(ADW_STATUS_PAGE(page),
                                    "即将推出；现在可用 wenshu-cli draft。"
                                    "Coming next; use wenshu-cli draft for now.");
    return page;
#endif
}

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
    if (self->runner)
        g_signal_handlers_disconnect_by_data(self->runner, self);
    gtk_widget_dispose_template(GTK_WIDGET(self), WENSHU_TYPE_WINDOW);
    g_clear_object(&self->runner);
    G_OBJECT_CLASS(wenshu_window_parent_class)->dispose(object);
}

static void wenshu_window_finalize(GObject *object)
{
    g_free(WENSHU_WINDOW(object)->error_text);
    G_OBJECT_CLASS(wenshu_window_parent_class)->finalize(object);
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
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, error_revealer);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, error_label);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, load_progress);
    gtk_widget_class_bind_template_child(widget_class, WenshuWindow, page_stack);
    gtk_widget_class_bind_template_callback(widget_class, on_kind_list_row_selected);
    gtk_widget_class_bind_template_callback(widget_class, on_kind_list_row_activated);
    gtk_widget_class_bind_template_callback(widget_class, on_back_button_clicked);
    gtk_widget_class_bind_template_callback(widget_class, on_leaflet_folded_changed);

    gtk_widget_class_install_action(widget_class, "win.open-model", NULL, open_model_activated);
    gtk_widget_class_install_action(widget_class, "win.show-error", "s", show_error_activated);
    gtk_widget_class_install_action(widget_class, "win.dismiss-error", NULL,
                                    dismiss_error_activated);
    gtk_widget_class_add_binding_action(widget_class, GDK_KEY_o, GDK_CONTROL_MASK, "win.open-model",
                                        NULL);
}

static void wenshu_window_init(WenshuWindow *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    self->runner = wenshu_runner_new();
    g_signal_connect(self->runner, "progress", G_CALLBACK(on_runner_progress), self);
    gtk_stack_add_titled(self->page_stack, gongwen_page_new(self->runner), "gongwen",
                         "公文 Official document");
    self->chat_page = wenshu_chat_page_new(self->runner);
    gtk_stack_add_titled(self->page_stack, self->chat_page, "chat", "对话 Chat");
    g_signal_connect(self, "close-request", G_CALLBACK(on_close_request), NULL);
    wenshu_window_show_page(self, "chat");
    on_leaflet_folded_changed(self->leaflet, NULL, self);
}

WenshuWindow *wenshu_window_new(GtkApplication *app)
{
    return g_object_new(WENSHU_TYPE_WINDOW, "application", app, NULL);
}
