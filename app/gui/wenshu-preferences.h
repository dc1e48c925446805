/* wenshu-preferences.h: the app's settings (GSettings schema
 * cn.wenshu.Wenshu, assets/cn.wenshu.Wenshu.gschema.xml) and the
 * Preferences window that edits them: the compute device (自动 Auto, CPU,
 * or one of the Vulkan devices eng_devices_list() finds), CPU threads, the
 * context size and the sampling defaults. The window rows are bound to the
 * settings, so a change is stored at once; the main window watches the
 * device, threads and context keys and reloads its model.
 * The helpers below read the settings the way the rest of the app uses
 * them (a device number, an eng_sampler_params) and keep the recent-models
 * list.
 *
 * Ownership: each function says; the preferences window holds a reference
 * to its GSettings.
 * Thread-safety: main thread only.
 */
#ifndef WENSHU_PREFERENCES_H
#define WENSHU_PREFERENCES_H

#include <adwaita.h>

#include "wenshu-engine.h"

G_BEGIN_DECLS

#define WENSHU_SETTINGS_SCHEMA_ID "cn.wenshu.Wenshu"
#define WENSHU_RECENT_MODELS_MAX 8 /* recent-models keeps at most this many paths */

/* The app's settings, or NULL when the schema is not installed (an
 * uninstalled build run without GSETTINGS_SCHEMA_DIR): the app then works
 * on the engine's defaults. Ownership: the caller owns the result. */
GSettings *wenshu_settings_new(void);

/* The "device" key as an ENG_DEVICE_* value for eng_model_params.device.
 * "auto" gives eng_model_params_default().device (AUTO, or what the
 * WENSHU_DEVICE environment variable says); a value eng_device_parse()
 * rejects is named in a g_message and taken as auto. */
int wenshu_settings_get_device(GSettings *settings);

/* The sampling keys over eng_sampler_params_default() (the penalties and
 * seed the schema has no key for keep their defaults). */
struct eng_sampler_params wenshu_settings_get_sampler(GSettings *settings);

/* Put path first in recent-models (dropping an earlier copy and anything
 * past WENSHU_RECENT_MODELS_MAX) and make it last-model. */
void wenshu_settings_add_recent_model(GSettings *settings, const char *path);

#define WENSHU_TYPE_PREFERENCES (wenshu_preferences_get_type())
G_DECLARE_FINAL_TYPE(WenshuPreferences, wenshu_preferences, WENSHU, PREFERENCES,
                     AdwPreferencesWindow)

/* A Preferences window over settings (a reference is taken), transient for
 * parent (may be NULL). The device list is read from eng_devices_list()
 * when the window is made. Ownership: like any GtkWindow, the window owns
 * itself; present it, and it goes when closed. */
WenshuPreferences *wenshu_preferences_new(GtkWindow *parent, GSettings *settings);

/* For tests: the device row, and the "device" value of each of its items
 * in order ("auto", "cpu", then "0", "1", … per Vulkan device). Owned by
 * the window. */
AdwComboRow *wenshu_preferences_get_device_row(WenshuPreferences *self);
const char *const *wenshu_preferences_get_device_ids(WenshuPreferences *self);
/* The spin button of a numeric key ("threads", "context-size",
 * "temperature", "top-p", "top-k", "min-p", "repeat-penalty"), or NULL. */
GtkSpinButton *wenshu_preferences_get_spin(WenshuPreferences *self, const char *key);

G_END_DECLS

#endif /* WENSHU_PREFERENCES_H */
