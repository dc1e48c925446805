/* wenshu-remote-dialog.c: the "Remote model" window (see the header). Test
 * Connection runs wenshu_remote_list_models() in a GTask thread and shows
 * the model ids or the error; Use and Stop Using switch the runner on the
 * main thread and save the endpoint through wenshu-remote-settings.
 */
#include "wenshu-remote-dialog.h"

#include <glib/gi18n.h>
#include <string.h>

#include "wenshu-remote-settings.h"

#define MODELS_SHOWN                                                                               \
    8 /* model ids listed after a test; the rest are counted                                       \
       */

struct _WenshuRemoteDialog {
    AdwWindow parent_instance;

    WenshuRunner *runner;      /* owned ref */
    GSettings *settings;       /* owned ref, may be NULL */
    GCancellable *test_cancel; /* owned; the running test's, NULL when none */

    GtkEntry *url_entry;
    GtkEntry *model_entry;
    GtkPasswordEntry *key_entry;
    GtkButton *test_button;
    GtkSpinner *test_spinner;
    GtkLabel *status_label;
    GtkLabel *keyring_label;
    GtkButton *stop_button;
    GtkButton *use_button;
};

G_DEFINE_TYPE(WenshuRemoteDialog, wenshu_remote_dialog, ADW_TYPE_WINDOW)

enum { SIGNAL_ENDPOINT_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* The status line: text, styled as an error when is_error. */
static void show_status(WenshuRemoteDialog *self, const char *text, gboolean is_error)
{
    gtk_label_set_label(self->status_label, text);
    if (is_error)
        gtk_widget_add_css_class(GTK_WIDGET(self->status_label), "error");
    else
        gtk_widget_remove_css_class(GTK_WIDGET(self->status_label), "error");
}

/* The endpoint the fields describe (owned by the caller). */
static WenshuRemoteEndpoint *fields_endpoint(WenshuRemoteDialog *self)
{
    return wenshu_remote_endpoint_new(gtk_editable_get_text(GTK_EDITABLE(self->url_entry)),
                                      gtk_editable_get_text(GTK_EDITABLE(self->model_entry)),
                                      gtk_editable_get_text(GTK_EDITABLE(self->key_entry)));
}

/* ---- Test Connection
 * -------------------------------------------------------------------- */

static void endpoint_free_data(gpointer data)
{
    WenshuRemoteEndpoint *endpoint = data;
    wenshu_remote_endpoint_free(&endpoint);
}

static void list_models_thread(GTask *task, gpointer source, gpointer task_data,
                               GCancellable *cancellable)
{
    (void)source;
    GError *error = NULL;
    char **ids = wenshu_remote_list_models(task_data, cancellable, &error);
    if (ids)
        g_task_return_pointer(task, ids, (GDestroyNotify)g_strfreev);
    else
        g_task_return_error(task, error);
}

/* "Connected: N models: a, b, c" (g_free). */
static char *models_summary(char **ids)
{
    guint n = g_strv_length(ids);
    GString *list = g_string_new(NULL);
    for (guint i = 0; i < n && i < MODELS_SHOWN; i++)
        g_string_append_printf(list, "%s%s", i ? ", " : "", ids[i]);
    if (n > MODELS_SHOWN)
        g_string_append_printf(list, _(" and %u more"), n - MODELS_SHOWN);
    char *text = g_strdup_printf(
        g_dngettext(GETTEXT_PACKAGE, "Connected: %u model: %s", "Connected: %u models: %s", n), n,
        list->str);
    g_string_free(list, TRUE);
    return text;
}

static void on_models_listed(GObject *source, GAsyncResult *result, gpointer user_data)
{
    (void)user_data;
    WenshuRemoteDialog *self = WENSHU_REMOTE_DIALOG(source);
    GError *error = NULL;
    char **ids = g_task_propagate_pointer(G_TASK(result), &error);
    if (g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(result)))) {
        g_strfreev(ids); /* the window is closing */
        g_clear_error(&error);
        return;
    }
    g_clear_object(&self->test_cancel);
    gtk_spinner_stop(self->test_spinner);
    gtk_widget_set_sensitive(GTK_WIDGET(self->test_button), TRUE);
    if (!ids) {
        show_status(self, error->message, TRUE);
        g_error_free(error);
        return;
    }
    g_autofree char *summary = models_summary(ids);
    show_status(self, summary, FALSE);
    const char *model = gtk_editable_get_text(GTK_EDITABLE(self->model_entry));
    if (!model[0] && ids[0])
        gtk_editable_set_text(GTK_EDITABLE(self->model_entry), ids[0]);
    g_strfreev(ids);
}

static void on_test_button_clicked(GtkButton *button, WenshuRemoteDialog *self)
{
    (void)button;
    if (self->test_cancel)
        return;
    WenshuRemoteEndpoint *endpoint = fields_endpoint(self);
    GError *error = NULL;
    g_autofree char *root = wenshu_remote_api_root(endpoint->base_url, &error);
    if (!root) {
        show_status(self, error->message, TRUE);
        g_error_free(error);
        wenshu_remote_endpoint_free(&endpoint);
        return;
    }
    self->test_cancel = g_cancellable_new();
    gtk_spinner_start(self->test_spinner);
    gtk_widget_set_sensitive(GTK_WIDGET(self->test_button), FALSE);
    g_autofree char *asking = g_strdup_printf(_("Asking %s for its models…"), root);
    show_status(self, asking, FALSE);
    GTask *task = g_task_new(self, self->test_cancel, on_models_listed, NULL);
    g_task_set_task_data(task, endpoint, endpoint_free_data);
    g_task_run_in_thread(task, list_models_thread);
    g_object_unref(task);
}

/* ---- Use / Stop Using
 * ---------------------------------------------------------------------- */

static void update_buttons(WenshuRemoteDialog *self)
{
    gtk_widget_set_sensitive(GTK_WIDGET(self->stop_button), wenshu_runner_is_remote(self->runner));
}

static void on_use_button_clicked(GtkButton *button, WenshuRemoteDialog *self)
{
    (void)button;
    WenshuRemoteEndpoint *endpoint = fields_endpoint(self);
    GError *error = NULL;
    if (!endpoint->model[0]) {
        show_status(self, _("Give the model's name (Test Connection lists the server's models)."),
                    TRUE);
    } else if (!wenshu_runner_set_remote(self->runner, endpoint, &error)) {
        show_status(self, error->message, TRUE);
        g_error_free(error);
    } else {
        gboolean in_keyring = wenshu_remote_settings_save(self->settings, endpoint, TRUE);
        gboolean memory_only = endpoint->api_key && !in_keyring;
        gtk_widget_set_visible(GTK_WIDGET(self->keyring_label), memory_only);
        g_autofree char *using =
            g_strdup_printf(_("Using %s at %s."), endpoint->model, endpoint->base_url);
        show_status(self, using, FALSE);
        update_buttons(self);
        g_signal_emit(self, signals[SIGNAL_ENDPOINT_CHANGED], 0);
        if (!memory_only) /* else stay open: the notice must be read */
            gtk_window_close(GTK_WINDOW(self));
    }
    wenshu_remote_endpoint_free(&endpoint);
}

static void on_stop_button_clicked(GtkButton *button, WenshuRemoteDialog *self)
{
    (void)button;
    GError *error = NULL;
    if (!wenshu_runner_set_remote(self->runner, NULL, &error)) {
        show_status(self, error->message, TRUE);
        g_error_free(error);
        return;
    }
    if (self->settings)
        g_settings_set_boolean(self->settings, "remote-enabled", FALSE);
    show_status(self,
                wenshu_runner_is_loaded(self->runner)
                    ? _("Using the local model: nothing leaves this computer.")
                    : _("Not using a remote model. Open a local model to go on."),
                FALSE);
    update_buttons(self);
    g_signal_emit(self, signals[SIGNAL_ENDPOINT_CHANGED], 0);
}

/* ---- object
 * ------------------------------------------------------------------------------
 */

/* Fill the fields from the runner's endpoint, else the saved one. */
static void fill_fields(WenshuRemoteDialog *self)
{
    const WenshuRemoteEndpoint *in_use = wenshu_runner_get_remote(self->runner);
    WenshuRemoteEndpoint *endpoint =
        in_use ? wenshu_remote_endpoint_copy(in_use) : wenshu_remote_settings_load(self->settings);
    if (!endpoint)
        return;
    gtk_editable_set_text(GTK_EDITABLE(self->url_entry), endpoint->base_url);
    gtk_editable_set_text(GTK_EDITABLE(self->model_entry), endpoint->model);
    gtk_editable_set_text(GTK_EDITABLE(self->key_entry),
                          endpoint->api_key ? endpoint->api_key : "");
    gtk_widget_set_visible(GTK_WIDGET(self->keyring_label),
                           wenshu_remote_key_in_memory_only(endpoint->base_url));
    wenshu_remote_endpoint_free(&endpoint);
}

WenshuRemoteDialog *wenshu_remote_dialog_new(GtkWindow *parent, WenshuRunner *runner,
                                             GSettings *settings)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(runner), NULL);
    WenshuRemoteDialog *self = g_object_new(WENSHU_TYPE_REMOTE_DIALOG, NULL);
    if (parent)
        gtk_window_set_transient_for(GTK_WINDOW(self), parent);
    self->runner = g_object_ref(runner);
    self->settings = settings ? g_object_ref(settings) : NULL;
    fill_fields(self);
    update_buttons(self);
    if (wenshu_runner_is_remote(runner))
        show_status(self, _("A remote model is in use."), FALSE);
    return self;
}

gboolean wenshu_remote_dialog_is_testing(WenshuRemoteDialog *self)
{
    g_return_val_if_fail(WENSHU_IS_REMOTE_DIALOG(self), FALSE);
    return self->test_cancel != NULL;
}

static void wenshu_remote_dialog_dispose(GObject *object)
{
    WenshuRemoteDialog *self = WENSHU_REMOTE_DIALOG(object);
    if (self->test_cancel)
        g_cancellable_cancel(self->test_cancel);
    g_clear_object(&self->test_cancel);
    g_clear_object(&self->runner);
    g_clear_object(&self->settings);
    gtk_widget_dispose_template(GTK_WIDGET(self), WENSHU_TYPE_REMOTE_DIALOG);
    G_OBJECT_CLASS(wenshu_remote_dialog_parent_class)->dispose(object);
}

static void wenshu_remote_dialog_class_init(WenshuRemoteDialogClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->dispose = wenshu_remote_dialog_dispose;
    signals[SIGNAL_ENDPOINT_CHANGED] =
        g_signal_new("endpoint-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 0);
    gtk_widget_class_set_template_from_resource(widget_class,
                                                "/org/wenshu/Wenshu/ui/wenshu-remote-dialog.ui");
    gtk_widget_class_bind_template_child(widget_class, WenshuRemoteDialog, url_entry);
    gtk_widget_class_bind_template_child(widget_class, WenshuRemoteDialog, model_entry);
    gtk_widget_class_bind_template_child(widget_class, WenshuRemoteDialog, key_entry);
    gtk_widget_class_bind_template_child(widget_class, WenshuRemoteDialog, test_button);
    gtk_widget_class_bind_template_child(widget_class, WenshuRemoteDialog, test_spinner);
    gtk_widget_class_bind_template_child(widget_class, WenshuRemoteDialog, status_label);
    gtk_widget_class_bind_template_child(widget_class, WenshuRemoteDialog, keyring_label);
    gtk_widget_class_bind_template_child(widget_class, WenshuRemoteDialog, stop_button);
    gtk_widget_class_bind_template_child(widget_class, WenshuRemoteDialog, use_button);
    gtk_widget_class_bind_template_callback(widget_class, on_test_button_clicked);
    gtk_widget_class_bind_template_callback(widget_class, on_use_button_clicked);
    gtk_widget_class_bind_template_callback(widget_class, on_stop_button_clicked);
}

static void wenshu_remote_dialog_init(WenshuRemoteDialog *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
}
