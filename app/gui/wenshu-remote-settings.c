/* wenshu-remote-settings.c: the remote endpoint in GSettings, its key in the
 * keyring (libsecret) or, without one, in this process's memory; and the
 * device label's "text leaves this computer" mark. See the header.
 */
#include "wenshu-remote-settings.h"

#include <glib/gi18n.h>
#include <libsecret/secret.h>
#include <string.h>

static const SecretSchema *key_schema(void)
{
    static const SecretSchema schema = {
        .name = WENSHU_REMOTE_SECRET_SCHEMA,
        .flags = SECRET_SCHEMA_NONE,
        .attributes = {{"base-url", SECRET_SCHEMA_ATTRIBUTE_STRING}, {NULL, 0}},
    };
    return &schema;
}

/* Keys held for this session only (no keyring): base URL -> key, both
 * owned; NULL until the first. The values are wiped when replaced. */
static GHashTable *memory_keys;

static void wipe_free(gpointer data)
{
    char *key = data;
    if (key)
        memset(key, 0, strlen(key));
    g_free(key);
}

static GHashTable *session_keys(void)
{
    if (!memory_keys)
        memory_keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, wipe_free);
    return memory_keys;
}

static gboolean keyring_allowed(void)
{
    const char *off = g_getenv("WENSHU_NO_KEYRING");
    return !(off && *off && strcmp(off, "0") != 0);
}

gboolean wenshu_remote_key_store(const char *base_url, const char *key)
{
    g_return_val_if_fail(base_url != NULL, FALSE);
    gboolean in_keyring = FALSE;
    GError *error = NULL;
    if (keyring_allowed() && key && *key) {
        g_autofree char *label = g_strdup_printf(_("Wenshu API key for %s"), base_url);
        in_keyring = secret_password_store_sync(key_schema(), SECRET_COLLECTION_DEFAULT, label, key,
                                                NULL, &error, "base-url", base_url, NULL);
    } else if (keyring_allowed()) {
        secret_password_clear_sync(key_schema(), NULL, &error, "base-url", base_url, NULL);
        in_keyring = error == NULL;
    }
    if (error)
        g_debug("keyring: %s", error->message); /* the dialog tells the user */
    g_clear_error(&error);
    if (in_keyring || !key || !*key) {
        g_hash_table_remove(session_keys(), base_url);
        return in_keyring;
    }
    g_hash_table_replace(session_keys(), g_strdup(base_url), g_strdup(key));
    return FALSE;
}

char *wenshu_remote_key_lookup(const char *base_url)
{
    g_return_val_if_fail(base_url != NULL, NULL);
    const char *kept = g_hash_table_lookup(session_keys(), base_url);
    if (kept)
        return g_strdup(kept);
    if (!keyring_allowed())
        return NULL;
    GError *error = NULL;
    char *secret =
        secret_password_lookup_sync(key_schema(), NULL, &error, "base-url", base_url, NULL);
    if (error)
        g_debug("keyring: %s", error->message);
    g_clear_error(&error);
    char *key = g_strdup(secret);
    secret_password_free(secret);
    return key;
}

gboolean wenshu_remote_key_in_memory_only(const char *base_url)
{
    return base_url && g_hash_table_contains(session_keys(), base_url);
}

gboolean wenshu_remote_settings_save(GSettings *settings, const WenshuRemoteEndpoint *endpoint,
                                     gboolean enabled)
{
    g_return_val_if_fail(endpoint != NULL, FALSE);
    if (settings) {
        g_settings_set_string(settings, "remote-base-url", endpoint->base_url);
        g_settings_set_string(settings, "remote-model", endpoint->model);
        g_settings_set_boolean(settings, "remote-enabled", enabled);
    }
    return wenshu_remote_key_store(endpoint->base_url, endpoint->api_key);
}

WenshuRemoteEndpoint *wenshu_remote_settings_load(GSettings *settings)
{
    if (!settings)
        return NULL;
    g_autofree char *url = g_settings_get_string(settings, "remote-base-url");
    g_autofree char *model = g_settings_get_string(settings, "remote-model");
    if (!*g_strstrip(url))
        return NULL;
    g_autofree char *key = wenshu_remote_key_lookup(url);
    WenshuRemoteEndpoint *endpoint = wenshu_remote_endpoint_new(url, model, key);
    if (key)
        memset(key, 0, strlen(key));
    return endpoint;
}

gboolean wenshu_remote_settings_apply(GSettings *settings, WenshuRunner *runner)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(runner), FALSE);
    if (!settings || !g_settings_get_boolean(settings, "remote-enabled"))
        return wenshu_runner_is_remote(runner);
    WenshuRemoteEndpoint *endpoint = wenshu_remote_settings_load(settings);
    if (endpoint && !wenshu_runner_set_remote(runner, endpoint, NULL))
        g_settings_set_boolean(settings, "remote-enabled", FALSE); /* a URL no longer valid */
    wenshu_remote_endpoint_free(&endpoint);
    return wenshu_runner_is_remote(runner);
}

gboolean wenshu_remote_mark_label(GtkLabel *label, WenshuRunner *runner)
{
    g_return_val_if_fail(GTK_IS_LABEL(label), FALSE);
    g_return_val_if_fail(WENSHU_IS_RUNNER(runner), FALSE);
    const WenshuRemoteEndpoint *endpoint = wenshu_runner_get_remote(runner);
    if (!endpoint) {
        gtk_widget_remove_css_class(GTK_WIDGET(label), "warning");
        return FALSE;
    }
    g_autofree char *host = wenshu_remote_host(endpoint->base_url);
    g_autofree char *text =
        /* TRANSLATORS: the device label in remote mode; %s is the server's host
         */
        g_strdup_printf(_("Remote: %s — text leaves this computer"), host);
    g_autofree char *tip =
        g_strdup_printf(_("Prompts, attachments and drafts are sent to %s (model %s)"),
                        endpoint->base_url, endpoint->model);
    gtk_label_set_label(label, text);
    gtk_widget_set_tooltip_text(GTK_WIDGET(label), tip);
    gtk_widget_add_css_class(GTK_WIDGET(label), "warning");
    return TRUE;
}
