/* test-gui-remote.c: remote models in the GUI, against `wenshu-cli serve`
 * on the tiny fixture model, under Xvfb.
 *   - the runner in remote mode: loaded, "remote: 127.0.0.1:PORT", media
 *     readable, a token estimate; a chat streams exactly `wenshu-cli run
 *     --temp 0`'s reply through "tokens"; Stop ends a run; a closed port
 *     finishes with the refusal naming the URL; clearing the endpoint goes
 *     back to "no model";
 *   - the dialog: Test Connection lists tiny.gguf (and fills the model), a
 *     closed port shows its error; Use switches the runner, saves URL and
 *     model in GSettings but the key nowhere in the settings, keeps it in
 *     memory (no keyring: WENSHU_NO_KEYRING=1, or libsecret with no D-Bus
 *     session in the second meson case) and shows the notice; the
 *     device label's mark; Stop Using; accessible labels; a screenshot.
 */
#include <adwaita.h>

#include "check.h"
#include "gui-fixture.h"
#include "serve-fixture.h"
#include "wenshu-chat-page.h"
#include "wenshu-remote-dialog.h"
#include "wenshu-remote-settings.h"

typedef struct {
    GString *text;
    gboolean finished;
    gboolean stopped;
    char *error; /* the finished error's message, or NULL */
    gboolean stop_on_first;
    WenshuRunner *runner;
} RunState;

static void on_tokens(WenshuRunner *runner, const char *text, RunState *st)
{
    g_string_append(st->text, text);
    if (st->stop_on_first)
        wenshu_runner_stop(runner);
}

static void on_finished(WenshuRunner *runner, gboolean stopped, const GError *error, RunState *st)
{
    (void)runner;
    st->finished = TRUE;
    st->stopped = stopped;
    st->error = error ? g_strdup(error->message) : NULL;
}

/* Run one user message through the runner; the state holds the outcome. */
static void run_chat(WenshuRunner *runner, const char *text, int n_predict, RunState *st)
{
    st->text = g_string_new(NULL);
    st->finished = FALSE;
    gulong h1 = g_signal_connect(runner, "tokens", G_CALLBACK(on_tokens), st);
    gulong h2 = g_signal_connect(runner, "finished", G_CALLBACK(on_finished), st);
    struct eng_chat_message msg = {"user", text};
    struct eng_sampler_params sp = eng_sampler_params_default();
    sp.temperature = 0;
    GError *error = NULL;
    gboolean started = wenshu_runner_start(runner, &msg, 1, &sp, n_predict, NULL, &error);
    CHECK(started, "the run starts (%s)", error ? error->message : "");
    g_clear_error(&error);
    if (started)
        gui_wait_flag(&st->finished, 60000, "the remote run to finish");
    g_signal_handler_disconnect(runner, h1);
    g_signal_handler_disconnect(runner, h2);
}

/* "progress" as count_load_end(counter, fraction, what) (swapped). */
static void count_load_end(int *counter, double fraction, const char *what)
{
    if (fraction >= 1.0 && what[0] == '\0')
        (*counter)++;
}

static char *closed_port_url(void)
{
    GSocketListener *l = g_socket_listener_new();
    guint16 port = g_socket_listener_add_any_inet_port(l, NULL, NULL);
    g_socket_listener_close(l);
    g_object_unref(l);
    return g_strdup_printf("http://127.0.0.1:%u/v1", port);
}

static void check_runner(const ServeFixture *srv, const char *model)
{
    WenshuRunner *runner = wenshu_runner_new();
    CHECK(!wenshu_runner_is_loaded(runner), "no model at first");
    g_autofree char *base = serve_fixture_url(srv);
    WenshuRemoteEndpoint *ep = wenshu_remote_endpoint_new(base, "tiny.gguf", NULL);
    GError *error = NULL;
    int n_done = 0;
    gulong progress_handler =
        g_signal_connect_swapped(runner, "progress", G_CALLBACK(count_load_end), &n_done);
    CHECK(wenshu_runner_set_remote(runner, ep, &error), "set_remote (%s)",
          error ? error->message : "");
    g_clear_error(&error);
    g_signal_handler_disconnect(runner, progress_handler);
    CHECK_INT(n_done, 1);
    g_autofree char *device = g_strdup_printf("remote: 127.0.0.1:%d", srv->port);
    CHECK(wenshu_runner_is_loaded(runner) && wenshu_runner_is_remote(runner),
          "remote: loaded and remote");
    CHECK_STR(wenshu_runner_get_device(runner), device);
    const struct eng_model_info *info = wenshu_runner_get_info(runner);
    CHECK(info && str_eq(info->name, "tiny.gguf") && str_eq(info->device, device),
          "get_info names the model and the device");
    CHECK(wenshu_runner_can_read_media(runner), "remote: images can be sent");
    struct eng_chat_message msg = {"user", "写一份通知, please"}; /* 23 bytes */
    int estimate = wenshu_runner_count_tokens(runner, &msg, 1);
    CHECK(estimate == 8 + 4, "a token estimate: 23 bytes / 3, rounded up, + 4 (%d)", estimate);

    g_autofree char *want = fixture_cli_reply("-m", model, "-p", "Hello there", "-n", "16");
    RunState st = {0};
    run_chat(runner, "Hello there", 16, &st);
    CHECK(!st.stopped && !st.error, "the remote run ends cleanly (%s)", st.error);
    CHECK(want && *want, "the CLI gives a reply");
    CHECK_STR(st.text->str, want);
    printf("ok   runner, remote: %s\n", st.text->str);
    g_string_free(st.text, TRUE);
    g_free(st.error);

    /* Stop while the server is silent (a listener that never accepts: the
     * kernel takes the connection, nobody answers): the run ends at once,
     * stopped, not after the 60 s timeout */
    GSocketListener *mute = g_socket_listener_new();
    guint16 mute_port = g_socket_listener_add_any_inet_port(mute, NULL, NULL);
    g_autofree char *mute_url = g_strdup_printf("http://127.0.0.1:%u/v1", mute_port);
    WenshuRemoteEndpoint *silent = wenshu_remote_endpoint_new(mute_url, "m", NULL);
    CHECK(wenshu_runner_set_remote(runner, silent, NULL), "set_remote to a silent server");
    RunState stop = {0};
    stop.text = g_string_new(NULL);
    g_signal_connect(runner, "finished", G_CALLBACK(on_finished), &stop);
    GError *start_error = NULL;
    CHECK(wenshu_runner_start(runner, &msg, 1, NULL, 8, NULL, &start_error), "a silent run starts");
    g_clear_error(&start_error);
    gui_spin(300);
    CHECK(!stop.finished && wenshu_runner_is_running(runner), "the silent run waits");
    gint64 t0 = g_get_monotonic_time();
    wenshu_runner_stop(runner);
    gui_wait_flag(&stop.finished, 5000, "the stopped run to finish");
    double secs = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    CHECK(stop.stopped && !stop.error && secs < 1.0, "Stop during a wait: stopped in %.2f s (%s)",
          secs, stop.error);
    printf("ok   Stop while the server is silent: %.3f s\n", secs);
    g_signal_handlers_disconnect_by_data(runner, &stop);
    g_string_free(stop.text, TRUE);
    g_free(stop.error);
    CHECK(!wenshu_runner_is_running(runner), "not running after Stop");
    g_socket_listener_close(mute);
    g_object_unref(mute);
    wenshu_remote_endpoint_free(&silent);

    /* a closed port: the refusal naming the URL, through "finished" */
    g_autofree char *closed = closed_port_url();
    WenshuRemoteEndpoint *dead = wenshu_remote_endpoint_new(closed, "m", NULL);
    CHECK(wenshu_runner_set_remote(runner, dead, NULL), "set_remote to a closed port");
    RunState bad = {0};
    run_chat(runner, "Hello", 4, &bad);
    CHECK(bad.error && strstr(bad.error, "refused") && strstr(bad.error, closed),
          "a closed port: the error names it (%s)", bad.error);
    g_string_free(bad.text, TRUE);
    g_free(bad.error);
    WenshuRemoteEndpoint *not_url = wenshu_remote_endpoint_new("nonsense", "m", NULL);
    CHECK(!wenshu_runner_set_remote(runner, not_url, &error) && error &&
              strstr(error->message, "nonsense"),
          "set_remote refuses a bad URL naming it");
    g_clear_error(&error);

    CHECK(wenshu_runner_set_remote(runner, NULL, NULL), "set_remote(NULL)");
    CHECK(!wenshu_runner_is_loaded(runner) && !wenshu_runner_is_remote(runner) &&
              !wenshu_runner_get_info(runner) && str_eq(wenshu_runner_get_device(runner), ""),
          "no endpoint: back to no model");
    wenshu_remote_endpoint_free(&not_url);
    wenshu_remote_endpoint_free(&dead);
    wenshu_remote_endpoint_free(&ep);
    g_object_unref(runner);
}

static gboolean runner_idle(gpointer runner) { return !wenshu_runner_is_running(runner); }

/* The chat page's reply to prompt (greedy, 16 tokens) on runner (g_free). */
static char *page_reply(WenshuRunner *runner, const char *prompt)
{
    GtkWidget *page = wenshu_chat_page_new(runner);
    GtkWindow *window = gui_present_in_window(page, 800, 600);
    wenshu_chat_page_set_n_predict(WENSHU_CHAT_PAGE(page), 16);
    gtk_text_buffer_set_text(wenshu_chat_page_get_prompt_buffer(WENSHU_CHAT_PAGE(page)), prompt,
                             -1);
    gboolean sent = gtk_widget_activate_action(page, "draft.send", NULL);
    CHECK(sent && wenshu_runner_is_running(runner), "the chat page sends");
    gui_wait_until(runner_idle, runner, 60000, "the chat page's reply");
    gui_spin(50);
    char *reply = wenshu_chat_page_dup_reply(WENSHU_CHAT_PAGE(page));
    gui_close_window(window);
    return reply;
}

/* The chat page works on a remote endpoint as on a local model: the same
 * model through the engine here and through `serve` gives the same reply. */
static void check_chat_page(const ServeFixture *srv, const char *model)
{
    GSettings *settings = g_settings_new("cn.wenshu.Wenshu");
    g_settings_set_double(settings, "temperature", 0.0);
    WenshuRunner *local = wenshu_runner_new();
    gui_load_model_cpu(local, model, 60000);
    g_autofree char *want = page_reply(local, "Hello there");
    g_object_unref(local);
    WenshuRunner *remote = wenshu_runner_new();
    g_autofree char *base = serve_fixture_url(srv);
    WenshuRemoteEndpoint *ep = wenshu_remote_endpoint_new(base, "tiny.gguf", NULL);
    CHECK(wenshu_runner_set_remote(remote, ep, NULL), "set_remote for the page");
    g_autofree char *got = page_reply(remote, "Hello there");
    CHECK(want && *want, "the chat page replies on the local model");
    CHECK_STR(got, want);
    printf("ok   chat page, remote = local: %s\n", got ? got : "(null)");
    wenshu_remote_endpoint_free(&ep);
    g_object_unref(remote);
    g_settings_reset(settings, "temperature");
    g_object_unref(settings);
}

static gboolean test_done(gpointer dialog) { return !wenshu_remote_dialog_is_testing(dialog); }

static void set_entry(GtkWidget *root, const char *name, const char *text)
{
    GtkWidget *entry = gui_find_named(root, name);
    CHECK(entry != NULL, "the dialog has the %s entry", name);
    if (entry)
        gtk_editable_set_text(GTK_EDITABLE(entry), text);
}

static void click(GtkWidget *root, const char *name)
{
    GtkWidget *button = gui_find_named(root, name);
    CHECK(button != NULL, "the dialog has the %s button", name);
    if (button)
        g_signal_emit_by_name(button, "clicked");
}

static const char *label_text(GtkWidget *root, const char *name)
{
    GtkWidget *label = gui_find_named(root, name);
    return label ? gtk_label_get_label(GTK_LABEL(label)) : "";
}

/* No value of settings' schema holds text. */
static gboolean settings_free_of(GSettings *settings, const char *text)
{
    g_autoptr(GSettingsSchema) schema = NULL;
    g_object_get(settings, "settings-schema", &schema, NULL);
    g_auto(GStrv) keys = g_settings_schema_list_keys(schema);
    for (int i = 0; keys[i]; i++) {
        g_autoptr(GVariant) value = g_settings_get_value(settings, keys[i]);
        g_autofree char *printed = g_variant_print(value, FALSE);
        if (strstr(printed, text))
            return FALSE;
    }
    return TRUE;
}

static void check_dialog(const ServeFixture *srv)
{
    GSettings *settings = g_settings_new("cn.wenshu.Wenshu");
    WenshuRunner *runner = wenshu_runner_new();
    WenshuRemoteDialog *dialog = wenshu_remote_dialog_new(NULL, runner, settings);
    GtkWidget *root = GTK_WIDGET(dialog);
    gtk_window_present(GTK_WINDOW(dialog));
    gui_wait_until(gui_widget_drawn, dialog, 10000, "the dialog to show");

    /* a closed port first: its error */
    g_autofree char *closed = closed_port_url();
    set_entry(root, "url", closed);
    click(root, "test-connection");
    gui_wait_until(test_done, dialog, 20000, "the failed test");
    GtkWidget *status = gui_find_named(root, "status");
    CHECK(strstr(label_text(root, "status"), "refused") &&
              gtk_widget_has_css_class(status, "error"),
          "Test Connection, closed port: the error (%s)", label_text(root, "status"));

    g_autofree char *base = serve_fixture_url(srv);
    set_entry(root, "url", base);
    set_entry(root, "key", "sk-session-only");
    click(root, "test-connection");
    gui_wait_until(test_done, dialog, 20000, "the test against serve");
    CHECK(strstr(label_text(root, "status"), "tiny.gguf") &&
              !gtk_widget_has_css_class(status, "error"),
          "Test Connection lists tiny.gguf (%s)", label_text(root, "status"));
    CHECK_STR(gtk_editable_get_text(GTK_EDITABLE(gui_find_named(root, "model"))), "tiny.gguf");
    GString *bad = g_string_new(NULL);
    int n_icon = 0;
    gui_find_unlabelled(root, bad, &n_icon);
    CHECK(bad->len == 0, "every icon-only button is labelled:%s", bad->str);
    g_string_free(bad, TRUE);
    CHECK(gtk_accessible_get_accessible_role(GTK_ACCESSIBLE(gui_find_named(root, "key"))) ==
              GTK_ACCESSIBLE_ROLE_TEXT_BOX,
          "the key entry is a text box");

    click(root, "use");
    gui_spin(100);
    CHECK(wenshu_runner_is_remote(runner), "Use: the runner is remote");
    GtkWidget *notice = gui_find_named(root, "keyring-notice");
    CHECK(notice && gtk_widget_get_visible(notice) &&
              strstr(gtk_label_get_label(GTK_LABEL(notice)), "kept until Wenshu closes"),
          "no keyring: the notice shows");
    g_autofree char *saved_url = g_settings_get_string(settings, "remote-base-url");
    g_autofree char *saved_model = g_settings_get_string(settings, "remote-model");
    CHECK(str_eq(saved_url, base) && str_eq(saved_model, "tiny.gguf") &&
              g_settings_get_boolean(settings, "remote-enabled"),
          "Use: URL, model and the switch saved");
    CHECK(settings_free_of(settings, "sk-session-only"), "the key is in no setting");
    g_autofree char *kept = wenshu_remote_key_lookup(base);
    CHECK(str_eq(kept, "sk-session-only") && wenshu_remote_key_in_memory_only(base),
          "the key is kept in memory");
    const WenshuRemoteEndpoint *in_use = wenshu_runner_get_remote(runner);
    CHECK(in_use && str_eq(in_use->api_key, "sk-session-only"), "the runner has the key");
    gui_save_screenshot(root, "remote-dialog", 200);

    /* the device label's mark */
    GtkWidget *label = gtk_label_new("CPU");
    g_object_ref_sink(label);
    CHECK(wenshu_remote_mark_label(GTK_LABEL(label), runner) &&
              strstr(gtk_label_get_label(GTK_LABEL(label)), "text leaves this computer") &&
              gtk_widget_has_css_class(label, "warning"),
          "the mark: %s", gtk_label_get_label(GTK_LABEL(label)));

    /* a new runner at start-up takes the saved endpoint, key included */
    WenshuRunner *next = wenshu_runner_new();
    CHECK(wenshu_remote_settings_apply(settings, next) && wenshu_runner_get_remote(next) &&
              str_eq(wenshu_runner_get_remote(next)->api_key, "sk-session-only"),
          "apply: a new runner goes remote with the kept key");
    g_object_unref(next);

    click(root, "stop-using");
    gui_spin(50);
    CHECK(!wenshu_runner_is_remote(runner) && !g_settings_get_boolean(settings, "remote-enabled"),
          "Stop Using: local again, the switch off");
    CHECK(!wenshu_remote_mark_label(GTK_LABEL(label), runner) &&
              !gtk_widget_has_css_class(label, "warning"),
          "the mark goes with it");
    g_object_unref(label);
    gtk_window_destroy(GTK_WINDOW(dialog));
    gui_spin(50);
    g_object_unref(runner);
    g_object_unref(settings);
}

int main(int argc, char **argv)
{
    gui_init(&argc, &argv, TRUE);
    g_setenv("WENSHU_NO_KEYRING", "1", FALSE); /* meson may ask for the real libsecret path */
    g_autofree char *dir = g_dir_make_tmp("wenshu-gui-remote-XXXXXX", NULL);
    g_autofree char *model = g_build_filename(dir, "tiny.gguf", NULL);
    g_free(fixture_cli_output("synth", "--arch", "qwen2", "--preset", "tiny", "-o", model, NULL));
    ServeFixture srv;
    if (!serve_fixture_start(&srv, dir, "serve", "-m", model, NULL)) {
        fprintf(stderr, "FAIL: wenshu-cli serve did not start\n");
        return 1;
    }
    check_runner(&srv, model);
    check_chat_page(&srv, model);
    check_dialog(&srv);
    serve_fixture_stop(&srv);
    g_autofree char *rm = g_strdup_printf("rm -rf '%s'", dir);
    if (system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    if (n_fail)
        fprintf(stderr, "%d failures\n", n_fail);
    else
        printf("all gui remote checks passed\n");
    return n_fail ? 1 : 0;
}
