/* wenshu-application.c: the application object. It parses --model, opens
 * one window per activation (the first, presented again later), gives it
 * the history database (WENSHU_HISTORY_DB, else the XDG data dir), restores
 * a reply a crash cut off, and loads the model named by --model or
 * WENSHU_MODEL into it. --prompt (with --n-predict) is a test hook: it
 * sends one chat prompt once that model has loaded. AdwApplication loads
 * style.css from the resource base path by itself. app.preferences opens
 * the Preferences window (when the settings schema is installed) and
 * app.about the About window.
 */
#include "wenshu-application.h"

#include <glib/gi18n.h>

#include "wenshu-preferences.h"
#include "wenshu-window.h"

struct _WenshuApplication {
    AdwApplication parent_instance;
    char *model_path; /* from --model or WENSHU_MODEL, or NULL; owned */
    char *prompt;     /* from --prompt, or NULL; owned */
    int n_predict;    /* from --n-predict; default 512 */
};

G_DEFINE_TYPE(WenshuApplication, wenshu_application, ADW_TYPE_APPLICATION)

static int wenshu_application_handle_local_options(GApplication *app, GVariantDict *options)
{
    WenshuApplication *self = WENSHU_APPLICATION(app);
    const char *path = NULL;
    if (g_variant_dict_lookup(options, "model", "^&ay", &path) && path[0]) {
        g_free(self->model_path);
        self->model_path = g_canonicalize_filename(path, NULL);
    }
    const char *prompt = NULL;
    if (g_variant_dict_lookup(options, "prompt", "&s", &prompt) && prompt[0]) {
        g_free(self->prompt);
        self->prompt = g_strdup(prompt);
    }
    g_variant_dict_lookup(options, "n-predict", "i", &self->n_predict);
    return -1; /* go on: register and activate */
}

/* The history database (WENSHU_HISTORY_DB names another file, for tests),
 * and the reply a crash cut off, if any. A history that cannot be opened
 * is named in the banner; the app then works without saving. */
static void open_history(WenshuWindow *window)
{
    const char *path = g_getenv("WENSHU_HISTORY_DB");
    GError *error = NULL;
    WenshuHistory *history = wenshu_history_open(path && path[0] ? path : NULL, &error);
    if (!history) {
        g_autofree char *message = g_strdup_printf(_("History: %s"), error->message);
        wenshu_window_show_error(window, message);
        g_error_free(error);
        return;
    }
    wenshu_window_set_history(window, history);
    wenshu_window_restore_interrupted(window);
}

static void wenshu_application_activate(GApplication *app)
{
    WenshuApplication *self = WENSHU_APPLICATION(app);
    GtkWindow *window = gtk_application_get_active_window(GTK_APPLICATION(app));
    gboolean fresh = window == NULL;
    if (fresh)
        window = GTK_WINDOW(wenshu_window_new(GTK_APPLICATION(app)));
    gtk_window_present(window);
    if (!fresh)
        return;
    open_history(WENSHU_WINDOW(window));
    const char *model = self->model_path ? self->model_path : g_getenv("WENSHU_MODEL");
    if (model && model[0]) {
        if (self->prompt)
            wenshu_window_set_startup_prompt(WENSHU_WINDOW(window), self->prompt,
                                             self->n_predict);
        wenshu_window_load_model(WENSHU_WINDOW(window), model, 0);
    }
}

static void quit_activated(GSimpleAction *action, GVariant *param, gpointer app)
{
    (void)action;
    (void)param;
    g_application_quit(G_APPLICATION(app));
}

static void preferences_activated(GSimpleAction *action, GVariant *param, gpointer app)
{
    (void)action;
    (void)param;
    GtkWindow *parent = gtk_application_get_active_window(GTK_APPLICATION(app));
    g_autoptr(GSettings) settings = wenshu_settings_new();
    if (!settings) {
        g_autofree char *reason = g_strdup_printf(
            /* TRANSLATORS: the schema's id; GSETTINGS_SCHEMA_DIR is an environment variable */
            _("Preferences: the settings schema %s is not installed (set GSETTINGS_SCHEMA_DIR "
              "for a build folder)"),
            WENSHU_SETTINGS_SCHEMA_ID);
        if (WENSHU_IS_WINDOW(parent))
            wenshu_window_show_error(WENSHU_WINDOW(parent), reason);
        else
            g_message("%s", reason);
        return;
    }
    gtk_window_present(GTK_WINDOW(wenshu_preferences_new(parent, settings)));
}

static void about_activated(GSimpleAction *action, GVariant *param, gpointer app)
{
    (void)action;
    (void)param;
    GtkWindow *parent = gtk_application_get_active_window(GTK_APPLICATION(app));
    const char *developers[] = {_("Wenshu contributors"), NULL};
    GtkWidget *about = g_object_new(
        ADW_TYPE_ABOUT_WINDOW, "transient-for", parent, "modal", TRUE, "application-name",
        /* TRANSLATORS: the application's name */
        _("Wenshu"), "application-icon", WENSHU_APPLICATION_ID, "version", WENSHU_VERSION,
        "comments", _("An offline AI drafting desk"), "developers", developers,
        "license-type", GTK_LICENSE_APACHE_2_0,
        /* TRANSLATORS: your names, one a line, as the About window credits them */
        "translator-credits", _("translator-credits"), NULL);
    gtk_window_present(GTK_WINDOW(about));
}

static void wenshu_application_startup(GApplication *app)
{
    G_APPLICATION_CLASS(wenshu_application_parent_class)->startup(app);
    static const GActionEntry entries[] = {{.name = "quit", .activate = quit_activated},
                                           {.name = "preferences", .activate = preferences_activated},
                                           {.name = "about", .activate = about_activated}};
    g_action_map_add_action_entries(G_ACTION_MAP(app), entries, G_N_ELEMENTS(entries), app);
    static const char *const quit_accels[] = {"<Control>q", NULL};
    gtk_application_set_accels_for_action(GTK_APPLICATION(app), "app.quit", quit_accels);
    static const char *const preferences_accels[] = {"<Control>comma", NULL};
    gtk_application_set_accels_for_action(GTK_APPLICATION(app), "app.preferences",
                                          preferences_accels);
}

static void wenshu_application_finalize(GObject *object)
{
    g_free(WENSHU_APPLICATION(object)->model_path);
    g_free(WENSHU_APPLICATION(object)->prompt);
    G_OBJECT_CLASS(wenshu_application_parent_class)->finalize(object);
}

static void wenshu_application_class_init(WenshuApplicationClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = wenshu_application_finalize;
    GApplicationClass *app_class = G_APPLICATION_CLASS(klass);
    app_class->handle_local_options = wenshu_application_handle_local_options;
    app_class->activate = wenshu_application_activate;
    app_class->startup = wenshu_application_startup;
}

static void wenshu_application_init(WenshuApplication *self)
{
    static const GOptionEntry options[] = {
        {"model", 'm', 0, G_OPTION_ARG_FILENAME, NULL, N_("A GGUF model to load at start"),
         N_("PATH")},
        {"prompt", 0, 0, G_OPTION_ARG_STRING, NULL,
         N_("Send this chat prompt once the model has loaded (a test hook)"), N_("TEXT")},
        {"n-predict", 0, 0, G_OPTION_ARG_INT, NULL,
         N_("Most new tokens for --prompt (default 512; -1: until the context is full)"), "N"},
        {NULL},
    };
    self->n_predict = 512;
    g_application_add_main_option_entries(G_APPLICATION(self), options);
}

WenshuApplication *wenshu_application_new(void)
{
    return g_object_new(WENSHU_TYPE_APPLICATION, "application-id", WENSHU_APPLICATION_ID, "flags",
                        G_APPLICATION_DEFAULT_FLAGS, "resource-base-path", "/org/wenshu/Wenshu",
                        NULL);
}
