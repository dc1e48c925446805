/* wenshu-remote-settings.h: where the remote endpoint is kept, and how the
 * window shows that text leaves the machine.
 *
 * The base URL, model name and on/off switch are GSettings keys
 * (remote-base-url, remote-model, remote-enabled). The API key is never a
 * setting: it goes to the system keyring (libsecret, schema
 * "cn.wenshu.Wenshu.ApiKey", attribute "base-url"). Where no Secret Service
 * answers (a bare session, Xvfb, CI; or WENSHU_NO_KEYRING=1, which tests
 * set), the key is kept in this process's memory only, until Wenshu
 * closes, and the dialog says so.
 *
 * Ownership: each function says. Thread-safety: main thread only (the
 * keyring calls block briefly on D-Bus).
 */
#ifndef WENSHU_REMOTE_SETTINGS_H
#define WENSHU_REMOTE_SETTINGS_H

#include <gtk/gtk.h>

#include "remote.h"
#include "wenshu-runner.h"

G_BEGIN_DECLS

#define WENSHU_REMOTE_SECRET_SCHEMA "cn.wenshu.Wenshu.ApiKey"

/* Keep key (NULL or "": forget it) for base_url: in the keyring when one
 * answers, else in memory for this session. Returns TRUE when the keyring
 * holds it (or it was forgotten there), FALSE when only memory does. */
gboolean wenshu_remote_key_store(const char *base_url, const char *key);
/* The key kept for base_url (memory first, then the keyring), or NULL.
 * Ownership: the caller frees it (g_free). */
char *wenshu_remote_key_lookup(const char *base_url);
/* Whether the key for base_url is held in memory only (no keyring). */
gboolean wenshu_remote_key_in_memory_only(const char *base_url);

/* Save the endpoint's URL and model and the switch in settings, and its
 * key with wenshu_remote_key_store(). Returns what that returned. */
gboolean wenshu_remote_settings_save(GSettings *settings, const WenshuRemoteEndpoint *endpoint,
                                     gboolean enabled);
/* The saved endpoint (URL, model and its kept key), or NULL when no base
 * URL is saved. Ownership: free with wenshu_remote_endpoint_free(). */
WenshuRemoteEndpoint *wenshu_remote_settings_load(GSettings *settings);

/* At start-up: when remote-enabled is on and an endpoint is saved, switch
 * runner to it. Returns TRUE when the runner is remote afterwards. */
gboolean wenshu_remote_settings_apply(GSettings *settings, WenshuRunner *runner);

/* For the window's device label: when runner is remote, set label to
 * "Remote: HOST — text leaves this computer" with the "warning" style and a
 * tooltip naming the URL, and return TRUE; otherwise take the warning style
 * off and return FALSE (the caller writes its own text). */
gboolean wenshu_remote_mark_label(GtkLabel *label, WenshuRunner *runner);

G_END_DECLS

#endif /* WENSHU_REMOTE_SETTINGS_H */
