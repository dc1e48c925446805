/* test-gui-prefs: the settings, the Preferences window and the primary menu
 * (app/gui/wenshu-preferences.c, the menu in wenshu-window.c), under Xvfb
 * with G_DEBUG=fatal-warnings, GSETTINGS_BACKEND=memory and
 * GSETTINGS_SCHEMA_DIR at the build's compiled schema.
 *
 * What it checks: the window's rows show the settings and write them back;
 * the device list holds Auto, CPU and each Vulkan device; a model load
 * takes the device and context from the settings, joins recent-models
 * (newest first, no duplicates, at most 8) and its menu, and a context
 * change reloads it; the shortcuts, preferences and about windows open
 * from their actions; every icon-only button of the preferences and the
 * menu has an accessible label. Screenshots go to
 * $WENSHU_BUILD_DIR/gui-artifacts/prefs-*.png.
 * The model is the tiny synth qwen2 (byte vocab), written by `wenshu-cli
 * synth` into the build folder.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "gui-fixture.h"
#include "wenshu-application.h"
#include "wenshu-preferences.h"
#include "wenshu-runner.h"
#include "wenshu-window.h"

#define WAIT_MS 60000 /* the longest any step may take */

static char *model_path;   /* the fixture model, owned */
static GtkApplication *app; /* the real application, registered, owned */

/* ---- helpers ------------------------------------------------------------ */

/* Every key back at its default (the memory backend lives for the process). */
static GSettings *fresh_settings(void)
{
    GSettings *settings = wenshu_settings_new();
    g_assert_nonnull(settings); /* GSETTINGS_SCHEMA_DIR names the compiled schema */
    g_autoptr(GSettingsSchema) schema = NULL;
    g_object_get(settings, "settings-schema", &schema, NULL);
    g_auto(GStrv) keys = g_settings_schema_list_keys(schema);
    for (int i = 0; keys[i]; i++)
        g_settings_reset(settings, keys[i]);
    return settings;
}

/* The first toplevel of type, or NULL. */
static GtkWidget *find_toplevel(GType type)
{
    GListModel *toplevels = gtk_window_get_toplevels();
    for (guint i = 0; i < g_list_model_get_n_items(toplevels); i++) {
        g_autoptr(GtkWidget) w = g_list_model_get_item(toplevels, i);
        if (G_TYPE_CHECK_INSTANCE_TYPE(w, type))
            return w; /* the toplevel list keeps it alive */
    }
    return NULL;
}

/* Whether model (a menu) has an item, in any section or submenu, whose
 * attribute attr is the string value. */
static gboolean menu_has(GMenuModel *model, const char *attr, const char *value)
{
    for (int i = 0; i < g_menu_model_get_n_items(model); i++) {
        g_autoptr(GVariant) v =
            g_menu_model_get_item_attribute_value(model, i, attr, G_VARIANT_TYPE_STRING);
        if (v && g_str_equal(g_variant_get_string(v, NULL), value))
            return TRUE;
        static const char *const links[] = {G_MENU_LINK_SECTION, G_MENU_LINK_SUBMENU};
        for (guint l = 0; l < G_N_ELEMENTS(links); l++) {
            g_autoptr(GMenuModel) sub = g_menu_model_get_item_link(model, i, links[l]);
            if (sub && menu_has(sub, attr, value))
                return TRUE;
        }
    }
    return FALSE;
}

/* The window's primary menu button: the menu button whose menu has
 * app.preferences. */
static GtkMenuButton *find_primary_menu(GtkWidget *root)
{
    if (GTK_IS_MENU_BUTTON(root)) {
        GMenuModel *model = gtk_menu_button_get_menu_model(GTK_MENU_BUTTON(root));
        if (model && menu_has(model, G_MENU_ATTRIBUTE_ACTION, "app.preferences"))
            return GTK_MENU_BUTTON(root);
    }
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c)) {
        GtkMenuButton *hit = find_primary_menu(c);
        if (hit)
            return hit;
    }
    return NULL;
}

/* The recent models item targets in the menu, in order, as a string
 * "a|b|c" (the submenu named 最近的模型). */
static void collect_targets(GMenuModel *model, GString *out)
{
    for (int i = 0; i < g_menu_model_get_n_items(model); i++) {
        g_autoptr(GVariant) action = g_menu_model_get_item_attribute_value(
            model, i, G_MENU_ATTRIBUTE_ACTION, G_VARIANT_TYPE_STRING);
        g_autoptr(GVariant) target = g_menu_model_get_item_attribute_value(
            model, i, G_MENU_ATTRIBUTE_TARGET, G_VARIANT_TYPE_STRING);
        if (action && target && g_str_equal(g_variant_get_string(action, NULL), "win.open-recent"))
            g_string_append_printf(out, "%s%s", out->len ? "|" : "",
                                   g_variant_get_string(target, NULL));
        static const char *const links[] = {G_MENU_LINK_SECTION, G_MENU_LINK_SUBMENU};
        for (guint l = 0; l < G_N_ELEMENTS(links); l++) {
            g_autoptr(GMenuModel) sub = g_menu_model_get_item_link(model, i, links[l]);
            if (sub)
                collect_targets(sub, out);
        }
    }
}

static WenshuWindow *open_window(void)
{
    WenshuWindow *window = wenshu_window_new(app);
    gtk_window_present(GTK_WINDOW(window));
    gui_wait_until(gui_widget_drawn, window, WAIT_MS, "the window to map");
    return window;
}

typedef struct {
    WenshuWindow *window;
    GSettings *settings;
    const char *path;
} LoadWait;

/* The load of path ended: it failed, or it became last-model (the runner
 * stays loaded with the old model while a new one loads). */
static gboolean load_done(gpointer data)
{
    LoadWait *w = data;
    if (wenshu_window_get_error(w->window))
        return TRUE;
    g_autofree char *last = g_settings_get_string(w->settings, "last-model");
    return wenshu_runner_is_loaded(wenshu_window_get_runner(w->window)) &&
           g_str_equal(last, w->path);
}

/* Wait for the load of path that was just started in window. */
static void wait_loaded(WenshuWindow *window, GSettings *settings, const char *path)
{
    LoadWait w = {window, settings, path};
    gui_wait_until(load_done, &w, WAIT_MS, "the model to load");
    g_assert_null(wenshu_window_get_error(window));
}

/* ---- tests -------------------------------------------------------------- */

/* recent-models: newest first, no duplicates, at most 8; last-model. The
 * expected lists are written out by hand. */
static void test_recent_models(void)
{
    g_autoptr(GSettings) settings = fresh_settings();
    wenshu_settings_add_recent_model(settings, "/m/a.gguf");
    wenshu_settings_add_recent_model(settings, "/m/b.gguf");
    wenshu_settings_add_recent_model(settings, "/m/a.gguf");
    g_auto(GStrv) two = g_settings_get_strv(settings, "recent-models");
    const char *const want_two[] = {"/m/a.gguf", "/m/b.gguf", NULL};
    g_assert_cmpstrv(two, want_two);
    g_autofree char *last = g_settings_get_string(settings, "last-model");
    g_assert_cmpstr(last, ==, "/m/a.gguf");

    for (int i = 0; i < 10; i++) {
        g_autofree char *path = g_strdup_printf("/m/%d.gguf", i);
        wenshu_settings_add_recent_model(settings, path);
    }
    g_auto(GStrv) full = g_settings_get_strv(settings, "recent-models");
    const char *const want_full[] = {"/m/9.gguf", "/m/8.gguf", "/m/7.gguf", "/m/6.gguf",
                                     "/m/5.gguf", "/m/4.gguf", "/m/3.gguf", "/m/2.gguf", NULL};
    g_assert_cmpstrv(full, want_full);
    /* an old one again: to the front, the rest shift, still 8 */
    wenshu_settings_add_recent_model(settings, "/m/4.gguf");
    g_auto(GStrv) moved = g_settings_get_strv(settings, "recent-models");
    const char *const want_moved[] = {"/m/4.gguf", "/m/9.gguf", "/m/8.gguf", "/m/7.gguf",
                                      "/m/6.gguf", "/m/5.gguf", "/m/3.gguf", "/m/2.gguf", NULL};
    g_assert_cmpstrv(moved, want_moved);
}

/* The device and sampler keys as the engine takes them. */
static void test_settings_to_engine(void)
{
    g_autoptr(GSettings) settings = fresh_settings();
    g_assert_cmpint(wenshu_settings_get_device(settings), ==, eng_model_params_default().device);
    g_settings_set_string(settings, "device", "cpu");
    g_assert_cmpint(wenshu_settings_get_device(settings), ==, ENG_DEVICE_CPU);
    g_settings_set_string(settings, "device", "2");
    g_assert_cmpint(wenshu_settings_get_device(settings), ==, ENG_DEVICE_INDEX(2));
    g_settings_set_string(settings, "device", "bogus");
    g_assert_cmpint(wenshu_settings_get_device(settings), ==, eng_model_params_default().device);

    /* the schema's defaults are the engine's */
    struct eng_sampler_params def = eng_sampler_params_default();
    struct eng_sampler_params got = wenshu_settings_get_sampler(settings);
    g_assert_cmpfloat_with_epsilon(got.temperature, def.temperature, 1e-6);
    g_assert_cmpfloat_with_epsilon(got.top_p, def.top_p, 1e-6);
    g_assert_cmpint(got.top_k, ==, def.top_k);
    g_assert_cmpfloat_with_epsilon(got.min_p, def.min_p, 1e-6);
    g_assert_cmpfloat_with_epsilon(got.repeat_penalty, def.repeat_penalty, 1e-6);

    g_settings_set_double(settings, "temperature", 0.25);
    g_settings_set_double(settings, "top-p", 0.5);
    g_settings_set_int(settings, "top-k", 7);
    g_settings_set_double(settings, "min-p", 0.125);
    g_settings_set_double(settings, "repeat-penalty", 1.5);
    got = wenshu_settings_get_sampler(settings);
    g_assert_cmpfloat_with_epsilon(got.temperature, 0.25, 1e-6);
    g_assert_cmpfloat_with_epsilon(got.top_p, 0.5, 1e-6);
    g_assert_cmpint(got.top_k, ==, 7);
    g_assert_cmpfloat_with_epsilon(got.min_p, 0.125, 1e-6);
    g_assert_cmpfloat_with_epsilon(got.repeat_penalty, 1.5, 1e-6);
    g_assert_cmpint(got.penalty_last_n, ==, def.penalty_last_n);
}

static const char *combo_label(AdwComboRow *row, guint i)
{
    GListModel *model = adw_combo_row_get_model(row);
    g_autoptr(GtkStringObject) item = g_list_model_get_item(model, i);
    return item ? gtk_string_object_get_string(item) : NULL; /* the list keeps the item */
}

/* The rows show the settings, and editing them changes the settings. */
static void test_preferences_window(void)
{
    g_autoptr(GSettings) settings = fresh_settings();
    g_settings_set_int(settings, "threads", 3);
    g_settings_set_int(settings, "context-size", 2048);
    g_settings_set_double(settings, "temperature", 0.3);
    g_settings_set_int(settings, "top-k", 20);
    g_settings_set_string(settings, "device", "cpu");
    WenshuPreferences *prefs = wenshu_preferences_new(NULL, settings);
    gtk_window_present(GTK_WINDOW(prefs));
    gui_wait_until(gui_widget_drawn, prefs, WAIT_MS, "the preferences to map");

    g_assert_cmpint(gtk_spin_button_get_value_as_int(wenshu_preferences_get_spin(prefs, "threads")),
                    ==, 3);
    g_assert_cmpint(
        gtk_spin_button_get_value_as_int(wenshu_preferences_get_spin(prefs, "context-size")), ==,
        2048);
    g_assert_cmpfloat_with_epsilon(
        gtk_spin_button_get_value(wenshu_preferences_get_spin(prefs, "temperature")), 0.3, 1e-9);
    g_assert_cmpint(gtk_spin_button_get_value_as_int(wenshu_preferences_get_spin(prefs, "top-k")),
                    ==, 20);
    AdwComboRow *device = wenshu_preferences_get_device_row(prefs);
    g_assert_cmpstr(combo_label(device, adw_combo_row_get_selected(device)), ==, "CPU");
    gui_save_screenshot(GTK_WIDGET(prefs), "prefs-window", 150);

    /* the rows write the settings */
    gtk_spin_button_set_value(wenshu_preferences_get_spin(prefs, "threads"), 5);
    gtk_spin_button_set_value(wenshu_preferences_get_spin(prefs, "context-size"), 8192);
    gtk_spin_button_set_value(wenshu_preferences_get_spin(prefs, "min-p"), 0.2);
    g_assert_cmpint(g_settings_get_int(settings, "threads"), ==, 5);
    g_assert_cmpint(g_settings_get_int(settings, "context-size"), ==, 8192);
    g_assert_cmpfloat_with_epsilon(g_settings_get_double(settings, "min-p"), 0.2, 1e-9);
    adw_combo_row_set_selected(device, 0);
    g_autofree char *auto_text = g_settings_get_string(settings, "device");
    g_assert_cmpstr(auto_text, ==, "auto");
    /* and follow them */
    g_settings_set_int(settings, "threads", 2);
    g_assert_cmpint(gtk_spin_button_get_value_as_int(wenshu_preferences_get_spin(prefs, "threads")),
                    ==, 2);
    g_settings_set_string(settings, "device", "cpu");
    g_assert_cmpuint(adw_combo_row_get_selected(device), ==, 1);
    gtk_window_destroy(GTK_WINDOW(prefs));
}

/* Auto, CPU, then one item per Vulkan device the engine lists (lavapipe's
 * llvmpipe on CI). */
static void test_device_list(void)
{
    g_autoptr(GSettings) settings = fresh_settings();
    WenshuPreferences *prefs = wenshu_preferences_new(NULL, settings);
    g_object_ref_sink(prefs);
    AdwComboRow *row = wenshu_preferences_get_device_row(prefs);
    const char *const *ids = wenshu_preferences_get_device_ids(prefs);
    g_assert_cmpstr(ids[0], ==, "auto");
    g_assert_cmpstr(ids[1], ==, "cpu");
    g_assert_cmpstr(combo_label(row, 0), ==, "Auto"); /* the tests run with LANGUAGE=en */
    g_assert_cmpstr(combo_label(row, 1), ==, "CPU");

    struct eng_err err = {0};
    struct eng_device_info devices[16];
    int n = eng_devices_list(devices, G_N_ELEMENTS(devices), &err);
    if (n < 0) {
        g_test_message("no Vulkan (%s): only Auto and CPU", err.msg);
        n = 0;
    }
    g_assert_cmpuint(g_strv_length((char **)ids), ==, 2 + (guint)n);
    g_assert_cmpuint(g_list_model_get_n_items(adw_combo_row_get_model(row)), ==, 2 + (guint)n);
    gboolean lavapipe = FALSE;
    for (int i = 0; i < n; i++) {
        g_autofree char *id = g_strdup_printf("%d", i);
        g_assert_cmpstr(ids[2 + i], ==, id);
        g_assert_nonnull(strstr(combo_label(row, 2 + i), devices[i].name));
        lavapipe |= strstr(devices[i].name, "llvmpipe") != NULL;
    }
    g_test_message("%d Vulkan device(s)%s", n, lavapipe ? ", lavapipe among them" : "");
    /* choosing a Vulkan device stores its index */
    if (n > 0) {
        adw_combo_row_set_selected(row, 2);
        g_autofree char *device = g_settings_get_string(settings, "device");
        g_assert_cmpstr(device, ==, "0");
    }
    gtk_window_destroy(GTK_WINDOW(prefs));
    g_object_unref(prefs);
}

static gboolean n_ctx_is(gpointer data)
{
    WenshuWindow *window = data;
    WenshuRunner *runner = wenshu_window_get_runner(window);
    int want = GPOINTER_TO_INT(g_object_get_data(G_OBJECT(window), "want-n-ctx"));
    return wenshu_runner_is_loaded(runner) && wenshu_runner_n_ctx(runner) == want;
}

static gboolean device_is(gpointer data)
{
    WenshuWindow *window = data;
    WenshuRunner *runner = wenshu_window_get_runner(window);
    const char *want = g_object_get_data(G_OBJECT(window), "want-device");
    return wenshu_runner_is_loaded(runner) && g_str_equal(wenshu_runner_get_device(runner), want);
}

/* A load takes the settings' device and context, joins recent-models and
 * the menu; win.open-recent loads; a context or device change reloads. */
static void test_load_uses_settings(void)
{
    g_autoptr(GSettings) settings = fresh_settings();
    g_settings_set_string(settings, "device", "cpu");
    g_settings_set_int(settings, "context-size", 512);
    g_settings_set_int(settings, "threads", 1);
    WenshuWindow *window = open_window();
    WenshuRunner *runner = wenshu_window_get_runner(window);
    GtkMenuButton *menu = find_primary_menu(GTK_WIDGET(window));
    g_assert_nonnull(menu);

    /* a second model: the same file under another name */
    g_autofree char *other =
        g_build_filename(gui_artifact_dir(), "..", "gui-prefs-other.gguf", NULL);
    g_autofree char *bytes = NULL;
    gsize size = 0;
    g_assert_true(g_file_get_contents(model_path, &bytes, &size, NULL));
    g_assert_true(g_file_set_contents(other, bytes, (gssize)size, NULL));

    wenshu_window_load_model(window, model_path, 0);
    wait_loaded(window, settings, model_path);
    g_assert_cmpstr(wenshu_runner_get_device(runner), ==, "CPU");
    g_assert_cmpint(wenshu_runner_n_ctx(runner), ==, 512);
    wenshu_window_load_model(window, other, 0);
    wait_loaded(window, settings, other);
    g_auto(GStrv) recent = g_settings_get_strv(settings, "recent-models");
    const char *const want[] = {other, model_path, NULL};
    g_assert_cmpstrv(recent, want);
    g_autofree char *last = g_settings_get_string(settings, "last-model");
    g_assert_cmpstr(last, ==, other);
    GString *targets = g_string_new(NULL);
    collect_targets(gtk_menu_button_get_menu_model(menu), targets);
    g_autofree char *want_targets = g_strjoin("|", other, model_path, NULL);
    g_assert_cmpstr(targets->str, ==, want_targets);
    g_string_free(targets, TRUE);

    /* the first one again, from the menu's action: to the front, once */
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(window), "win.open-recent", "s",
                                             model_path));
    wait_loaded(window, settings, model_path);
    g_auto(GStrv) again = g_settings_get_strv(settings, "recent-models");
    const char *const want_again[] = {model_path, other, NULL};
    g_assert_cmpstrv(again, want_again);

    /* a new context size reloads the model with it */
    g_object_set_data(G_OBJECT(window), "want-n-ctx", GINT_TO_POINTER(1024));
    g_settings_set_int(settings, "context-size", 1024);
    gui_wait_until(n_ctx_is, window, WAIT_MS, "the reload with the new context");
    g_assert_null(wenshu_window_get_error(window));

    /* a Vulkan device chosen (lavapipe on CI) reloads the model onto it */
    struct eng_err err = {0};
    struct eng_device_info device;
    if (eng_devices_list(&device, 1, &err) >= 1 && device.usable) {
        g_object_set_data_full(G_OBJECT(window), "want-device", g_strdup(device.name), g_free);
        g_settings_set_string(settings, "device", "0");
        gui_wait_until(device_is, window, WAIT_MS, "the reload on Vulkan device 0");
        g_assert_null(wenshu_window_get_error(window));
        g_assert_cmpint(wenshu_runner_n_ctx(runner), ==, 1024);
    } else {
        g_test_message("no usable Vulkan device: the device reload is not checked");
    }

    gtk_menu_button_popup(menu);
    gui_spin(300);
    GtkPopover *popover = gtk_menu_button_get_popover(menu);
    g_assert_nonnull(popover);
    g_assert_true(gtk_widget_get_mapped(GTK_WIDGET(popover)));
    gui_save_screenshot(GTK_WIDGET(window), "prefs-menu", 150);
    gui_save_screenshot(GTK_WIDGET(popover), "prefs-menu-popover", 150);
    gtk_menu_button_popdown(menu);
    gtk_window_destroy(GTK_WINDOW(window));
    g_unlink(other);
}

/* The shortcuts window, the preferences and the about window open from
 * their actions. */
static void test_menu_actions(void)
{
    g_autoptr(GSettings) settings = fresh_settings();
    WenshuWindow *window = open_window();
    /* the application window builds it (from gtk/help-overlay.ui) hidden */
    GtkWidget *shortcuts =
        GTK_WIDGET(gtk_application_window_get_help_overlay(GTK_APPLICATION_WINDOW(window)));
    g_assert_nonnull(shortcuts);
    g_assert_false(gtk_widget_get_visible(shortcuts));
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(window), "win.show-help-overlay", NULL));
    g_assert_true(gtk_widget_get_visible(shortcuts));
    gui_wait_until(gui_widget_drawn, shortcuts, WAIT_MS, "the shortcuts window to map");
    gui_save_screenshot(shortcuts, "prefs-shortcuts", 150);
    gtk_widget_set_visible(shortcuts, FALSE);

    g_action_group_activate_action(G_ACTION_GROUP(app), "preferences", NULL);
    GtkWidget *prefs = find_toplevel(WENSHU_TYPE_PREFERENCES);
    g_assert_nonnull(prefs);
    g_assert_true(gtk_window_get_transient_for(GTK_WINDOW(prefs)) == GTK_WINDOW(window));
    gui_wait_until(gui_widget_drawn, prefs, WAIT_MS, "the preferences to map");
    gtk_window_destroy(GTK_WINDOW(prefs));

    g_action_group_activate_action(G_ACTION_GROUP(app), "about", NULL);
    GtkWidget *about = find_toplevel(ADW_TYPE_ABOUT_WINDOW);
    g_assert_nonnull(about);
    gui_wait_until(gui_widget_drawn, about, WAIT_MS, "the about window to map");
    g_assert_cmpstr(adw_about_window_get_application_name(ADW_ABOUT_WINDOW(about)), ==,
                    "Wenshu");
    gui_save_screenshot(about, "prefs-about", 150);
    gtk_window_destroy(GTK_WINDOW(about));
    gtk_window_destroy(GTK_WINDOW(window));
}

/* Every icon-only button of the preferences and of the open menu has an
 * accessible label. */
static void test_icon_buttons_labelled(void)
{
    g_autoptr(GSettings) settings = fresh_settings();
    /* the checker itself catches a bare icon button and a bare menu button */
    GtkWidget *bare = gtk_button_new_from_icon_name("edit-delete-symbolic");
    GtkWidget *bare_menu = gtk_menu_button_new();
    gtk_menu_button_set_icon_name(GTK_MENU_BUTTON(bare_menu), "open-menu-symbolic");
    g_object_ref_sink(bare);
    g_object_ref_sink(bare_menu);
    GString *bad = g_string_new(NULL);
    int n_icon_buttons = 0;
    gui_find_unlabelled(bare, bad, &n_icon_buttons);
    gui_find_unlabelled(bare_menu, bad, &n_icon_buttons);
    g_assert_cmpint(n_icon_buttons, ==, 2);
    g_assert_nonnull(strstr(bad->str, "GtkToggleButton"));
    g_object_unref(bare);
    g_object_unref(bare_menu);
    g_string_truncate(bad, 0);

    WenshuPreferences *prefs = wenshu_preferences_new(NULL, settings);
    gtk_window_present(GTK_WINDOW(prefs));
    gui_wait_until(gui_widget_drawn, prefs, WAIT_MS, "the preferences to map");
    n_icon_buttons = 0;
    gui_find_unlabelled(GTK_WIDGET(prefs), bad, &n_icon_buttons);
    g_test_message("preferences: %d icon-only buttons", n_icon_buttons);
    gtk_window_destroy(GTK_WINDOW(prefs));

    WenshuWindow *window = open_window();
    GtkMenuButton *menu = find_primary_menu(GTK_WIDGET(window));
    g_assert_nonnull(menu);
    int n_menu = 0;
    gui_find_unlabelled(GTK_WIDGET(menu), bad, &n_menu);
    g_assert_cmpint(n_menu, >=, 1); /* the menu button itself */
    gtk_menu_button_popup(menu);
    gui_spin(300);
    gui_find_unlabelled(GTK_WIDGET(gtk_menu_button_get_popover(menu)), bad, &n_menu);
    g_test_message("menu: %d icon-only buttons", n_menu);
    gtk_menu_button_popdown(menu);
    gtk_window_destroy(GTK_WINDOW(window));
    if (bad->len)
        g_error("icon-only buttons without an accessible label:%s", bad->str);
    g_string_free(bad, TRUE);
}

int main(int argc, char **argv)
{
    gui_init(&argc, &argv, FALSE);
    model_path = gui_make_fixture_model("gui-prefs-tiny.gguf", FALSE);
    /* the real application (its actions, style and shortcuts window), not run */
    app = GTK_APPLICATION(wenshu_application_new());
    g_application_set_flags(G_APPLICATION(app), G_APPLICATION_NON_UNIQUE);
    GError *error = NULL;
    g_assert_true(g_application_register(G_APPLICATION(app), NULL, &error));
    g_assert_no_error(error);

    g_test_add_func("/gui/prefs/recent-models", test_recent_models);
    g_test_add_func("/gui/prefs/settings-to-engine", test_settings_to_engine);
    g_test_add_func("/gui/prefs/window", test_preferences_window);
    g_test_add_func("/gui/prefs/device-list", test_device_list);
    g_test_add_func("/gui/prefs/load-uses-settings", test_load_uses_settings);
    g_test_add_func("/gui/prefs/menu-actions", test_menu_actions);
    g_test_add_func("/gui/prefs/icon-buttons", test_icon_buttons_labelled);
    int status = g_test_run();
    g_object_unref(app);
    g_free(model_path);
    return status;
}
