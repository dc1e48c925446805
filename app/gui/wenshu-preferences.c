/* wenshu-preferences.c: the app's settings and the Preferences window.
 * The settings are GSettings (cn.wenshu.Wenshu); this file turns them into
 * what the engine takes (a device number, eng_sampler_params) and keeps
 * the recent-models list. The window (ui/wenshu-preferences.ui) binds each
 * numeric row's spin button to its key with g_settings_bind, and maps the
 * device row's items to the "device" key's text by hand: "auto", "cpu",
 * then the Vulkan device indices of eng_devices_list().
 */
#include "wenshu-preferences.h"

#include <glib/gi18n.h>
#include <string.h>

/* ---- settings ----------------------------------------------------------- */

GSettings *wenshu_settings_new(void)
{
    GSettingsSchemaSource *source = g_settings_schema_source_get_default();
    g_autoptr(GSettingsSchema) schema =
        source ? g_settings_schema_source_lookup(source, WENSHU_SETTINGS_SCHEMA_ID, TRUE) : NULL;
    if (!schema)
        return NULL;
    return g_settings_new_full(schema, NULL, NULL);
}

int wenshu_settings_get_device(GSettings *settings)
{
    int fallback = eng_model_params_default().device;
    g_autofree char *text = g_settings_get_string(settings, "device");
    int device = fallback;
    if (g_str_equal(text, "auto"))
        return fallback;
    if (!eng_device_parse(text, &device)) {
        g_message("Settings: device \"%s\" is not auto, cpu or a device index; using auto",
                  text);
        return fallback;
    }
    return device;
}

struct eng_sampler_params wenshu_settings_get_sampler(GSettings *settings)
{
    struct eng_sampler_params sampler = eng_sampler_params_default();
    sampler.temperature = (float)g_settings_get_double(settings, "temperature");
    sampler.top_p = (float)g_settings_get_double(settings, "top-p");
    sampler.top_k = g_settings_get_int(settings, "top-k");
    sampler.min_p = (float)g_settings_get_double(settings, "min-p");
    sampler.repeat_penalty = (float)g_settings_get_double(settings, "repeat-penalty");
    return sampler;
}

void wenshu_settings_add_recent_model(GSettings *settings, const char *path)
{
    g_return_if_fail(G_IS_SETTINGS(settings));
    g_return_if_fail(path && path[0]);
    g_auto(GStrv) old = g_settings_get_strv(settings, "recent-models");
    /* recent: [WENSHU_RECENT_MODELS_MAX + 1] borrowed paths, NULL-terminated */
    const char *recent[WENSHU_RECENT_MODELS_MAX + 1] = {path};
    int n = 1;
    for (int i = 0; old[i] && n < WENSHU_RECENT_MODELS_MAX; i++)
        if (!g_str_equal(old[i], path))
            recent[n++] = old[i];
    recent[n] = NULL;
    g_settings_set_strv(settings, "recent-models", recent);
    g_settings_set_string(settings, "last-model", path);
}

/* ---- the window --------------------------------------------------------- */

struct _WenshuPreferences {
    AdwPreferencesWindow parent_instance;

    AdwComboRow *device_row;
    GtkSpinButton *threads_spin;
    GtkSpinButton *context_size_spin;
    GtkSpinButton *temperature_spin;
    GtkSpinButton *top_p_spin;
    GtkSpinButton *top_k_spin;
    GtkSpinButton *min_p_spin;
    GtkSpinButton *repeat_penalty_spin;

    GSettings *settings; /* owned ref */
    GStrv device_ids;    /* the "device" text of each device_row item, owned */
    gboolean syncing;    /* device_row is being set from the settings */
};

G_DEFINE_TYPE(WenshuPreferences, wenshu_preferences, ADW_TYPE_PREFERENCES_WINDOW)

GtkSpinButton *wenshu_preferences_get_spin(WenshuPreferences *self, const char *key)
{
    g_return_val_if_fail(WENSHU_IS_PREFERENCES(self), NULL);
    const struct {
        const char *key;
        GtkSpinButton *spin;
    } spins[] = {
        {"threads", self->threads_spin},         {"context-size", self->context_size_spin},
        {"temperature", self->temperature_spin}, {"top-p", self->top_p_spin},
        {"top-k", self->top_k_spin},             {"min-p", self->min_p_spin},
        {"repeat-penalty", self->repeat_penalty_spin},
    };
    for (guint i = 0; i < G_N_ELEMENTS(spins); i++)
        if (g_str_equal(spins[i].key, key))
            return spins[i].spin;
    return NULL;
}

/* The device row's items: 自动 Auto, CPU, then every Vulkan device (an
 * unusable one says why). Fills self->device_ids to match. */
static void fill_devices(WenshuPreferences *self)
{
    GtkStringList *labels = gtk_string_list_new(NULL);
    GStrvBuilder *ids = g_strv_builder_new();
    /* TRANSLATORS: the device row's first choice: pick the device by itself */
    gtk_string_list_append(labels, _("Auto"));
    g_strv_builder_add(ids, "auto");
    gtk_string_list_append(labels, "CPU");
    g_strv_builder_add(ids, "cpu");

    struct eng_err err = {0};
    int n_devices = eng_devices_list(NULL, 0, &err);
    /* devices: [n_devices] */
    struct eng_device_info *devices = n_devices > 0 ? g_new0(struct eng_device_info, n_devices)
                                                    : NULL;
    if (devices)
        n_devices = eng_devices_list(devices, n_devices, &err);
    for (int i = 0; i < n_devices; i++) {
        g_autofree char *label =
            devices[i].usable
                ? g_strdup_printf("%s (Vulkan %d)", devices[i].name, i)
                /* TRANSLATORS: a GPU's name, its index, and why it cannot be used */
                : g_strdup_printf(_("%s (Vulkan %d; unusable: %s)"), devices[i].name, i,
                                  devices[i].why_unusable);
        g_autofree char *id = g_strdup_printf("%d", i);
        gtk_string_list_append(labels, label);
        g_strv_builder_add(ids, id);
    }
    g_free(devices);
    self->device_ids = g_strv_builder_end(ids);
    g_strv_builder_unref(ids);
    self->syncing = TRUE; /* a new model resets the selection: not the user's choice */
    adw_combo_row_set_model(self->device_row, G_LIST_MODEL(labels));
    self->syncing = FALSE;
    g_object_unref(labels);
}

/* Select the device row's item for the "device" key; an index no device
 * has (a GPU since removed) shows as Auto, which is what the engine
 * cannot honour either. */
static void sync_device_row(WenshuPreferences *self)
{
    g_autofree char *device = g_settings_get_string(self->settings, "device");
    guint selected = 0;
    for (guint i = 0; self->device_ids[i]; i++)
        if (g_str_equal(self->device_ids[i], device))
            selected = i;
    self->syncing = TRUE;
    adw_combo_row_set_selected(self->device_row, selected);
    self->syncing = FALSE;
}

static void on_device_changed(GSettings *settings, const char *key, WenshuPreferences *self)
{
    (void)settings;
    (void)key;
    sync_device_row(self);
}

static void on_device_row_notify_selected(AdwComboRow *row, GParamSpec *pspec,
                                          WenshuPreferences *self)
{
    (void)pspec;
    guint selected = adw_combo_row_get_selected(row);
    if (self->syncing || !self->settings || !self->device_ids ||
        selected >= g_strv_length(self->device_ids))
        return;
    g_autofree char *old = g_settings_get_string(self->settings, "device");
    if (!g_str_equal(old, self->device_ids[selected]))
        g_settings_set_string(self->settings, "device", self->device_ids[selected]);
}

/* GTK 4.8's spin button leaves its − and + buttons without an accessible
 * label: name them after the row ("Increase Threads"). */
static void label_spin_steppers(GtkSpinButton *spin)
{
    GtkWidget *row = gtk_widget_get_ancestor(GTK_WIDGET(spin), ADW_TYPE_PREFERENCES_ROW);
    const char *title = row ? adw_preferences_row_get_title(ADW_PREFERENCES_ROW(row)) : "";
    for (GtkWidget *c = gtk_widget_get_first_child(GTK_WIDGET(spin)); c;
         c = gtk_widget_get_next_sibling(c)) {
        const char *icon = GTK_IS_BUTTON(c) ? gtk_button_get_icon_name(GTK_BUTTON(c)) : NULL;
        const char *format = NULL; /* a printf format taking the row's title */
        if (g_strcmp0(icon, "value-increase-symbolic") == 0)
            /* TRANSLATORS: a spin button's + button; the row's title, e.g. "Threads" */
            format = _("Increase %s");
        else if (g_strcmp0(icon, "value-decrease-symbolic") == 0)
            /* TRANSLATORS: a spin button's − button; the row's title, e.g. "Threads" */
            format = _("Decrease %s");
        if (!format)
            continue;
        g_autofree char *label = g_strdup_printf(format, title);
        gtk_accessible_update_property(GTK_ACCESSIBLE(c), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
    }
}

static void bind_spins(WenshuPreferences *self)
{
    static const char *const keys[] = {"threads", "context-size", "temperature", "top-p",
                                       "top-k",   "min-p",        "repeat-penalty"};
    for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
        GtkSpinButton *spin = wenshu_preferences_get_spin(self, keys[i]);
        label_spin_steppers(spin);
        GtkAdjustment *adjustment = gtk_spin_button_get_adjustment(spin);
        g_settings_bind(self->settings, keys[i], adjustment, "value", G_SETTINGS_BIND_DEFAULT);
    }
}

WenshuPreferences *wenshu_preferences_new(GtkWindow *parent, GSettings *settings)
{
    g_return_val_if_fail(G_IS_SETTINGS(settings), NULL);
    WenshuPreferences *self =
        g_object_new(WENSHU_TYPE_PREFERENCES, "transient-for", parent, NULL);
    self->settings = g_object_ref(settings);
    fill_devices(self);
    sync_device_row(self);
    g_signal_connect_object(settings, "changed::device", G_CALLBACK(on_device_changed), self, 0);
    bind_spins(self);
    return self;
}

AdwComboRow *wenshu_preferences_get_device_row(WenshuPreferences *self)
{
    g_return_val_if_fail(WENSHU_IS_PREFERENCES(self), NULL);
    return self->device_row;
}

const char *const *wenshu_preferences_get_device_ids(WenshuPreferences *self)
{
    g_return_val_if_fail(WENSHU_IS_PREFERENCES(self), NULL);
    return (const char *const *)self->device_ids;
}

static void wenshu_preferences_dispose(GObject *object)
{
    WenshuPreferences *self = WENSHU_PREFERENCES(object);
    gtk_widget_dispose_template(GTK_WIDGET(self), WENSHU_TYPE_PREFERENCES);
    g_clear_object(&self->settings);
    G_OBJECT_CLASS(wenshu_preferences_parent_class)->dispose(object);
}

static void wenshu_preferences_finalize(GObject *object)
{
    g_strfreev(WENSHU_PREFERENCES(object)->device_ids);
    G_OBJECT_CLASS(wenshu_preferences_parent_class)->finalize(object);
}

static void wenshu_preferences_class_init(WenshuPreferencesClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->dispose = wenshu_preferences_dispose;
    object_class->finalize = wenshu_preferences_finalize;
    gtk_widget_class_set_template_from_resource(widget_class,
                                                "/org/wenshu/Wenshu/ui/wenshu-preferences.ui");
    gtk_widget_class_bind_template_child(widget_class, WenshuPreferences, device_row);
    gtk_widget_class_bind_template_child(widget_class, WenshuPreferences, threads_spin);
    gtk_widget_class_bind_template_child(widget_class, WenshuPreferences, context_size_spin);
    gtk_widget_class_bind_template_child(widget_class, WenshuPreferences, temperature_spin);
    gtk_widget_class_bind_template_child(widget_class, WenshuPreferences, top_p_spin);
    gtk_widget_class_bind_template_child(widget_class, WenshuPreferences, top_k_spin);
    gtk_widget_class_bind_template_child(widget_class, WenshuPreferences, min_p_spin);
    gtk_widget_class_bind_template_child(widget_class, WenshuPreferences, repeat_penalty_spin);
    gtk_widget_class_bind_template_callback(widget_class, on_device_row_notify_selected);
}

static void wenshu_preferences_init(WenshuPreferences *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
}
