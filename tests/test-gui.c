/* test-gui.c: the desktop app's window, chat page and runner, driven for
 * real under Xvfb with G_DEBUG=fatal-warnings (any GTK warning fails).
 *
 * The model is the tiny synth qwen2 with the real Qwen3 vocab, written once
 * by `$WENSHU_CLI synth` into $WENSHU_BUILD_DIR. What the tests check comes
 * from outside the code under test: the window's size from GTK, the PNG
 * read back by GdkTexture, the streamed text against the runner's own
 * emissions as a listener sees them, the stop against the worker's token
 * count, main-loop lateness against the monotonic clock, and the
 * accessible label from GTK's test AT context. Screenshots are saved in
 * $WENSHU_BUILD_DIR/gui-artifacts/.
 */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>
#include <time.h>

#include "gui-fixture.h"
#include "wenshu-application.h"
#include "wenshu-chat-page.h"
#include "wenshu-runner.h"
#include "wenshu-window.h"

#define WAIT_MS 60000     /* the longest any step may take */
#define STALL_LIMIT_MS 50 /* issue 7: the main loop never stalls longer */
#define MEASURE_MS 2000   /* how long the stall test streams */

static char *model_path;   /* the fixture model, owned */

typedef struct {
    WenshuWindow *window;
    WenshuRunner *runner;
    WenshuChatPage *chat;
} Fixture;

/* ---- helpers ------------------------------------------------------------ */

static void fixture_setup(Fixture *f, gconstpointer data)
{
    (void)data;
    f->window = wenshu_window_new(NULL);
    f->runner = g_object_ref(wenshu_window_get_runner(f->window));
    f->chat = WENSHU_CHAT_PAGE(wenshu_window_get_chat_page(f->window));
    gtk_window_present(GTK_WINDOW(f->window));
    gui_wait_until(gui_widget_drawn, f->window, WAIT_MS, "the window to map");
}

static gboolean runner_idle(gpointer data) { return !wenshu_runner_is_running(data); }

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    wenshu_runner_stop(f->runner);
    gui_wait_until(runner_idle, f->runner, WAIT_MS, "the run to end");
    gtk_window_destroy(GTK_WINDOW(f->window));
    g_object_unref(f->runner);
    gui_spin(20);
}

static gboolean model_settled(gpointer data)
{
    Fixture *f = data;
    return wenshu_runner_is_loaded(f->runner) || wenshu_window_get_error(f->window) != NULL;
}

static void load_fixture_model(Fixture *f, int n_ctx)
{
    wenshu_window_load_model(f->window, model_path, n_ctx);
    gui_wait_until(model_settled, f, WAIT_MS, "the model to load");
    g_assert_null(wenshu_window_get_error(f->window));
    g_assert_true(wenshu_runner_is_loaded(f->runner));
    g_assert_cmpint(wenshu_runner_n_ctx(f->runner), ==, n_ctx);
}

/* What a listener on the runner sees of one run. */
typedef struct {
    GString *streamed; /* every "tokens" text, concatenated */
    int n_emissions;
    int n_growing;     /* emissions after which the transcript was longer */
    glong last_length; /* the transcript's length in characters */
    gboolean finished, stopped;
    gboolean stop_asked;
    GString *after_stop; /* text emitted after wenshu_runner_stop() returned */
    WenshuChatPage *chat;
} Listener;

/* Connected after the page's own handler, so the transcript already holds
 * the emission when this runs. */
static void on_tokens(WenshuRunner *runner, const char *text, Listener *l)
{
    (void)runner;
    g_string_append(l->streamed, text);
    l->n_emissions++;
    if (l->stop_asked)
        g_string_append(l->after_stop, text);
    g_autofree char *out = wenshu_chat_page_dup_output(l->chat);
    glong length = g_utf8_strlen(out, -1);
    if (length > l->last_length)
        l->n_growing++;
    l->last_length = length;
}

static void on_finished(WenshuRunner *runner, gboolean stopped, const GError *error, Listener *l)
{
    (void)runner;
    g_assert_no_error((GError *)error);
    l->finished = TRUE;
    l->stopped = stopped;
}

static void listener_attach(Listener *l, Fixture *f)
{
    *l = (Listener){
        .streamed = g_string_new(NULL), .after_stop = g_string_new(NULL), .chat = f->chat};
    g_signal_connect_after(f->runner, "tokens", G_CALLBACK(on_tokens), l);
    g_signal_connect_after(f->runner, "finished", G_CALLBACK(on_finished), l);
}

static void listener_detach(Listener *l, Fixture *f)
{
    g_signal_handlers_disconnect_by_data(f->runner, l);
    g_string_free(l->streamed, TRUE);
    g_string_free(l->after_stop, TRUE);
}

static gboolean listener_finished(gpointer data) { return ((Listener *)data)->finished; }

static gboolean listener_has_tokens(gpointer data) { return ((Listener *)data)->n_emissions > 0; }

static void send_prompt(Fixture *f, const char *prompt)
{
    gtk_text_buffer_set_text(wenshu_chat_page_get_prompt_buffer(f->chat), prompt, -1);
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->chat), "draft.send", NULL));
    g_assert_true(wenshu_runner_is_running(f->runner));
}

/* ---- tests -------------------------------------------------------------- */

/* The window opens with its four task kinds, switches pages, and folds
 * into one column when narrow. */
static void test_window_opens(Fixture *f, gconstpointer data)
{
    (void)data;
    GtkWidget *window = GTK_WIDGET(f->window);
    g_assert_true(gtk_widget_get_visible(window));
    g_assert_false(wenshu_runner_is_loaded(f->runner));
    const char *pages[] = {"gongwen", "slides", "clip", "chat"};
    GtkWidget *stack = gtk_widget_get_parent(GTK_WIDGET(f->chat));
    g_assert_true(GTK_IS_STACK(stack));
    for (guint i = 0; i < G_N_ELEMENTS(pages); i++) {
        wenshu_window_show_page(f->window, pages[i]);
        g_assert_cmpstr(gtk_stack_get_visible_child_name(GTK_STACK(stack)), ==, pages[i]);
    }
    /* nothing loaded: sending does nothing and says nothing */
    g_assert_false(gtk_widget_activate_action(GTK_WIDGET(f->chat), "draft.send", NULL) &&
                   wenshu_runner_is_running(f->runner));
    gui_spin(300); /* let the crossfade end */
    /* first start: the chat page explains how to get a model */
    GtkWidget *welcome = gui_find_descendant(GTK_WIDGET(f->chat), ADW_TYPE_STATUS_PAGE);
    g_assert_nonnull(welcome);
    g_assert_true(gtk_widget_get_mapped(welcome));
    gui_save_screenshot(window, "window", 100);
}

static void test_window_narrow(Fixture *f, gconstpointer data)
{
    (void)data;
    gtk_window_set_default_size(GTK_WINDOW(f->window), 380, 600);
    gui_spin(300);
    GtkWidget *child = GTK_WIDGET(f->chat);
    AdwLeaflet *leaflet = NULL;
    for (GtkWidget *w = child; w && !leaflet; w = gtk_widget_get_parent(w))
        if (ADW_IS_LEAFLET(w))
            leaflet = ADW_LEAFLET(w);
    g_assert_nonnull(leaflet);
    g_assert_true(adw_leaflet_get_folded(leaflet));
    /* one column: the page replaces the sidebar, and Back brings it back */
    wenshu_window_show_page(f->window, "chat");
    gui_spin(400);
    GtkWidget *content = adw_leaflet_get_visible_child(leaflet);
    g_assert_true(gtk_widget_is_ancestor(child, content));
    gui_save_screenshot(GTK_WIDGET(f->window), "window-narrow", 100);
    g_assert_true(adw_leaflet_navigate(leaflet, ADW_NAVIGATION_DIRECTION_BACK));
    gui_spin(400);
    g_assert_false(gtk_widget_is_ancestor(child, adw_leaflet_get_visible_child(leaflet)));
    gui_save_screenshot(GTK_WIDGET(f->window), "window-narrow-sidebar", 100);
}

/* A corrupt model file shows the banner with a reason naming the file. */
static void test_corrupt_model(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autofree char *dir = g_dir_make_tmp("wenshu-gui-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "broken.gguf", NULL);
    /* a GGUF magic and version, then a tensor count far beyond the file */
    static const guchar bytes[] = {'G',  'G',  'U',  'F',  3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0, 0,    0,    0,    0};
    g_assert_true(g_file_set_contents(path, (const char *)bytes, sizeof bytes, NULL));
    wenshu_window_load_model(f->window, path, 0);
    gui_wait_until(model_settled, f, WAIT_MS, "the load to fail");
    const char *reason = wenshu_window_get_error(f->window);
    g_assert_nonnull(reason);
    g_assert_nonnull(strstr(reason, "broken.gguf"));
    g_assert_false(wenshu_runner_is_loaded(f->runner));
    gui_spin(300); /* the banner's reveal animation */
    gui_save_screenshot(GTK_WIDGET(f->window), "corrupt-model", 100);

    /* a missing file too; then dismissing clears the banner */
    g_autofree char *missing = g_build_filename(dir, "absent.gguf", NULL);
    wenshu_window_load_model(f->window, missing, 0);
    g_assert_null(wenshu_window_get_error(f->window));
    gui_wait_until(model_settled, f, WAIT_MS, "the load to fail");
    g_assert_nonnull(strstr(wenshu_window_get_error(f->window), "absent.gguf"));
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->window), "win.dismiss-error", NULL));
    g_assert_null(wenshu_window_get_error(f->window));
    g_unlink(path);
    g_rmdir(dir);
}

/* Tokens stream into the transcript over several main-loop iterations. */
static void test_chat_streams(Fixture *f, gconstpointer data)
{
    (void)data;
    GtkWidget *welcome = gui_find_descendant(GTK_WIDGET(f->chat), ADW_TYPE_STATUS_PAGE);
    load_fixture_model(f, 512);
    gui_spin(300); /* the crossfade to the transcript */
    g_assert_false(gtk_widget_get_mapped(welcome));
    const char *prompt = "请写一段关于春天的短文。";
    wenshu_chat_page_set_n_predict(f->chat, 64);
    Listener l;
    listener_attach(&l, f);
    send_prompt(f, prompt);
    /* the prompt is cleared and shown in the transcript */
    GtkTextBuffer *prompt_buffer = wenshu_chat_page_get_prompt_buffer(f->chat);
    g_assert_cmpint(gtk_text_buffer_get_char_count(prompt_buffer), ==, 0);
    gui_wait_until(listener_finished, &l, WAIT_MS, "the reply");
    g_assert_false(l.stopped);
    int n_generated = wenshu_runner_get_n_generated(f->runner);
    g_test_message("%d tokens in %d emissions", n_generated, l.n_emissions);
    g_assert_cmpint(n_generated, >, 0);
    g_assert_cmpint(n_generated, <=, 64);
    g_assert_cmpint(l.n_emissions, >=, 2);
    g_assert_cmpint(l.n_growing, >=, 2);
    /* the transcript: the prompt, then exactly what streamed (no thinking
     * tags are expected from a qwen2 chatml model... unless sampled, so
     * strip them from the expectation the same way a reader would) */
    g_autofree char *out = wenshu_chat_page_dup_output(f->chat);
    g_assert_true(g_str_has_prefix(out, prompt));
    g_autofree char *thinking = wenshu_chat_page_dup_thinking(f->chat);
    if (!strstr(l.streamed->str, "<think>"))
        g_assert_nonnull(strstr(out, l.streamed->str));
    else
        g_test_message("the reply had a <think> block: %zu bytes", strlen(thinking));
    /* Regenerate replaces the reply */
    Listener again;
    listener_attach(&again, f);
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->chat), "draft.regenerate", NULL));
    gui_wait_until(listener_finished, &again, WAIT_MS, "the regenerated reply");
    g_autofree char *out2 = wenshu_chat_page_dup_output(f->chat);
    g_assert_true(g_str_has_prefix(out2, prompt));
    if (!strstr(again.streamed->str, "<think>"))
        g_assert_true(g_str_has_suffix(g_strchomp(out2), g_strchomp(again.streamed->str)) ||
                      again.streamed->len == 0);
    gui_save_screenshot(GTK_WIDGET(f->window), "chat-streamed", 100);
    /* New chat: the transcript and the count start over */
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->chat), "draft.new", NULL));
    g_autofree char *cleared = wenshu_chat_page_dup_output(f->chat);
    g_assert_cmpstr(cleared, ==, "");
    g_assert_true(g_str_has_prefix(
        gtk_label_get_label(GTK_LABEL(wenshu_chat_page_get_token_label(f->chat))), "0 / 512"));
    listener_detach(&again, f);
    listener_detach(&l, f);
}

/* Stop halts generation within one token of the request. */
static void test_chat_stop(Fixture *f, gconstpointer data)
{
    (void)data;
    load_fixture_model(f, 4096);
    wenshu_chat_page_set_n_predict(f->chat, -1); /* until the context is full */
    Listener l;
    listener_attach(&l, f);
    send_prompt(f, "写一篇很长的报告。");
    gui_wait_until(listener_has_tokens, &l, WAIT_MS, "the first tokens");
    g_assert_false(l.finished);
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->chat), "draft.stop", NULL));
    int n_at_stop = wenshu_runner_get_n_generated(f->runner);
    l.stop_asked = TRUE;
    gint64 t_stop = g_get_monotonic_time();
    gui_wait_until(listener_finished, &l, WAIT_MS, "the stop");
    double stop_ms = (double)(g_get_monotonic_time() - t_stop) / 1000.0;
    int n_final = wenshu_runner_get_n_generated(f->runner);
    g_test_message("stopped at %d tokens, %d at the end, %.1f ms to finish, %zu bytes after",
                   n_at_stop, n_final, stop_ms, l.after_stop->len);
    g_assert_true(l.stopped);
    g_assert_cmpint(n_final - n_at_stop, <=, 1);
    g_assert_cmpint(n_final, <, 4096 - 64);
    g_autofree char *out = wenshu_chat_page_dup_output(f->chat);
    g_assert_nonnull(strstr(out, "[stopped]")); /* LANGUAGE=en */
    /* the page is ready again */
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->chat), "draft.regenerate", NULL));
    wenshu_runner_stop(f->runner);
    listener_detach(&l, f);
}

/* Text between <think> and </think> goes to the collapsed thinking block,
 * even when the tags are cut between emissions. The emissions are the
 * runner's signal, raised by the test after the stop delivered the model's
 * own text, with no main-loop turn in between. */
static void test_thinking_block(Fixture *f, gconstpointer data)
{
    (void)data;
    load_fixture_model(f, 1024);
    wenshu_chat_page_set_n_predict(f->chat, -1);
    Listener l;
    listener_attach(&l, f);
    send_prompt(f, "想一想再回答。");
    gui_wait_until(listener_has_tokens, &l, WAIT_MS, "the first tokens");
    wenshu_runner_stop(f->runner);
    g_autofree char *before = wenshu_chat_page_dup_output(f->chat);
    g_autofree char *model_text = g_strdup(l.streamed->str); /* the model's own stream */
    const char *pieces[] = {"<thi", "nk>先想", "一想</th", "ink>答案", "<", "b>"};
    for (guint i = 0; i < G_N_ELEMENTS(pieces); i++)
        g_signal_emit_by_name(f->runner, "tokens", pieces[i]);
    gui_wait_until(listener_finished, &l, WAIT_MS, "the stop");
    g_autofree char *after = wenshu_chat_page_dup_output(f->chat);
    g_autofree char *thinking = wenshu_chat_page_dup_thinking(f->chat);
    /* a random model that wrote a tag itself would change the split */
    if (!strstr(model_text, "think>"))
        g_assert_cmpstr(thinking, ==, "先想一想");
    else
        g_test_message("the model wrote a think tag itself: only the transcript is checked");
    g_assert_true(g_str_has_prefix(after, before));
    g_assert_cmpstr(after + strlen(before), ==, "答案<b>\n[stopped]\n");
    listener_detach(&l, f);
}

/* The token count turns to a warning past 90% of the context. */
static void test_token_warning(Fixture *f, gconstpointer data)
{
    (void)data;
    load_fixture_model(f, 256);
    GtkWidget *label = wenshu_chat_page_get_token_label(f->chat);
    GtkTextBuffer *prompt = wenshu_chat_page_get_prompt_buffer(f->chat);
    gtk_text_buffer_set_text(prompt, "你好", -1);
    int n_tokens = 0, n_ctx = 0;
    g_assert_cmpint(sscanf(gtk_label_get_label(GTK_LABEL(label)), "%d / %d", &n_tokens, &n_ctx), ==,
                    2);
    g_assert_cmpint(n_ctx, ==, 256);
    g_assert_cmpint(n_tokens, >, 1);
    g_assert_cmpint(n_tokens, <, 100);
    g_assert_false(gtk_widget_has_css_class(label, "warning"));
    /* 300 distinct words: more tokens than the context holds */
    GString *long_prompt = g_string_new(NULL);
    for (int i = 0; i < 300; i++)
        g_string_append_printf(long_prompt, "word%d ", i);
    gtk_text_buffer_set_text(prompt, long_prompt->str, -1);
    g_string_free(long_prompt, TRUE);
    g_assert_cmpint(sscanf(gtk_label_get_label(GTK_LABEL(label)), "%d / %d", &n_tokens, &n_ctx), ==,
                    2);
    g_assert_cmpint(n_tokens, >, 256 * 9 / 10);
    g_assert_true(gtk_widget_has_css_class(label, "warning"));
    gui_save_screenshot(GTK_WIDGET(f->window), "token-warning", 100);
}

/* The text view under root that shows buffer, or NULL. */
static GtkWidget *find_text_view_of(GtkWidget *root, GtkTextBuffer *buffer)
{
    if (GTK_IS_TEXT_VIEW(root) && gtk_text_view_get_buffer(GTK_TEXT_VIEW(root)) == buffer)
        return root;
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *hit = find_text_view_of(c, buffer);
        if (hit)
            return hit;
    }
    return NULL;
}

/* The prompt's capture-phase key controller (it runs before the IME). */
static GtkEventController *prompt_key_controller(GtkWidget *view)
{
    GListModel *controllers = gtk_widget_observe_controllers(view);
    GtkEventController *found = NULL;
    for (guint i = 0; i < g_list_model_get_n_items(controllers) && !found; i++) {
        GtkEventController *c = g_list_model_get_item(controllers, i);
        if (GTK_IS_EVENT_CONTROLLER_KEY(c) &&
            gtk_event_controller_get_propagation_phase(c) == GTK_PHASE_CAPTURE)
            found = c;
        g_object_unref(c);
    }
    g_object_unref(controllers);
    return found;
}

static gboolean press_key(GtkEventController *keys, guint keyval, GdkModifierType state)
{
    gboolean handled = FALSE;
    g_signal_emit_by_name(keys, "key-pressed", keyval, 0, state, &handled);
    return handled;
}

/* Enter is a newline, Ctrl+Enter sends, Esc stops; and nothing sends while
 * an input method composes (preedit), so Enter in pinyin is safe. */
static void test_keys_and_preedit(Fixture *f, gconstpointer data)
{
    (void)data;
    load_fixture_model(f, 512);
    wenshu_chat_page_set_n_predict(f->chat, 4);
    GtkTextBuffer *buffer = wenshu_chat_page_get_prompt_buffer(f->chat);
    GtkWidget *view = find_text_view_of(GTK_WIDGET(f->chat), buffer);
    g_assert_nonnull(view);
    GtkEventController *keys = prompt_key_controller(view);
    g_assert_nonnull(keys);
    gtk_text_buffer_set_text(buffer, "你好", -1);

    /* plain Enter is left to the text view (a newline), never a send */
    g_assert_false(press_key(keys, GDK_KEY_Return, 0));
    g_assert_false(wenshu_runner_is_running(f->runner));
    /* during pinyin preedit neither Ctrl+Enter nor the action sends */
    g_signal_emit_by_name(view, "preedit-changed", "ni");
    g_assert_true(wenshu_chat_page_has_preedit(f->chat));
    g_assert_false(press_key(keys, GDK_KEY_Return, GDK_CONTROL_MASK));
    gtk_widget_activate_action(GTK_WIDGET(f->chat), "draft.send", NULL);
    g_assert_false(wenshu_runner_is_running(f->runner));
    g_assert_cmpint(gtk_text_buffer_get_char_count(buffer), ==, 2);
    /* composed: Ctrl+Enter sends, Esc stops */
    g_signal_emit_by_name(view, "preedit-changed", "");
    Listener l;
    listener_attach(&l, f);
    wenshu_chat_page_set_n_predict(f->chat, -1);
    g_assert_true(press_key(keys, GDK_KEY_Return, GDK_CONTROL_MASK));
    g_assert_true(wenshu_runner_is_running(f->runner));
    g_assert_cmpint(gtk_text_buffer_get_char_count(buffer), ==, 0);
    g_assert_true(press_key(keys, GDK_KEY_Escape, 0));
    gui_wait_until(listener_finished, &l, WAIT_MS, "the stop");
    g_assert_true(l.stopped);
    listener_detach(&l, f);
}

/* The main loop keeps running while a model streams: the longest gap
 * between frame-clock ticks, and the lateness of a 5 ms timer. Both are wall
 * clock, so on a machine with more runnable threads than cores they also
 * measure the scheduler; the main thread's own CPU time between two ticks
 * is what the app controls, and it is held to the limit always. */
static gint64 thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (gint64)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Whether runnable threads outnumber the cores (the 1-minute load). */
static gboolean machine_overloaded(double *load)
{
    g_autofree char *text = NULL;
    *load = 0;
    if (!g_file_get_contents("/proc/loadavg", &text, NULL, NULL))
        return FALSE;
    *load = g_ascii_strtod(text, NULL);
    return *load > g_get_num_processors();
}

typedef struct {
    gint64 last_tick;     /* monotonic µs, 0 before the first */
    gint64 last_tick_cpu; /* the main thread's CPU time then, µs */
    gint64 max_tick_cpu;  /* the most CPU the main thread used between two ticks */
    gint64 max_tick_gap;
    int n_ticks;
    gint64 timer_due; /* when the 5 ms timer should fire next */
    gint64 max_timer_late;
    int n_timer;
} StallProbe;

static gboolean on_probe_tick(GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
    (void)widget;
    (void)clock;
    StallProbe *p = data;
    gint64 now = g_get_monotonic_time(), cpu = thread_cpu_us();
    if (p->last_tick) {
        p->max_tick_gap = MAX(p->max_tick_gap, now - p->last_tick);
        p->max_tick_cpu = MAX(p->max_tick_cpu, cpu - p->last_tick_cpu);
    }
    p->last_tick = now;
    p->last_tick_cpu = cpu;
    p->n_ticks++;
    return G_SOURCE_CONTINUE;
}

static gboolean on_probe_timer(gpointer data)
{
    StallProbe *p = data;
    gint64 now = g_get_monotonic_time();
    if (p->timer_due)
        p->max_timer_late = MAX(p->max_timer_late, now - p->timer_due);
    p->timer_due = now + 5000;
    p->n_timer++;
    return G_SOURCE_CONTINUE;
}

static void test_no_stall(Fixture *f, gconstpointer data)
{
    (void)data;
    load_fixture_model(f, 4096);
    wenshu_chat_page_set_n_predict(f->chat, -1);
    Listener l;
    listener_attach(&l, f);
    send_prompt(f, "请写一篇很长的文章。");
    gui_wait_until(listener_has_tokens, &l, WAIT_MS, "the first tokens");
    StallProbe probe = {0};
    guint tick = gtk_widget_add_tick_callback(GTK_WIDGET(f->window), on_probe_tick, &probe, NULL);
    guint timer = g_timeout_add(5, on_probe_timer, &probe);
    int n_before = wenshu_runner_get_n_generated(f->runner);
    gui_spin(MEASURE_MS);
    int n_during = wenshu_runner_get_n_generated(f->runner) - n_before;
    gboolean still_running = !l.finished;
    g_source_remove(timer);
    gtk_widget_remove_tick_callback(GTK_WIDGET(f->window), tick);
    double rate = n_during * 1000.0 / MEASURE_MS;
    double load;
    gboolean overloaded = machine_overloaded(&load);
    g_test_message("%.0f tokens/s; %d ticks, longest gap %.1f ms (main thread busy %.1f ms of "
                   "it at most); %d 5-ms timer runs, latest by %.1f ms; load %.1f on %u cores",
                   rate, probe.n_ticks, probe.max_tick_gap / 1000.0, probe.max_tick_cpu / 1000.0,
                   probe.n_timer, probe.max_timer_late / 1000.0, load, g_get_num_processors());
    g_assert_true(still_running);
    g_assert_cmpint(probe.n_ticks, >=, 2);
    g_assert_cmpint(probe.max_tick_cpu, <, STALL_LIMIT_MS * 1000);
    if (overloaded) {
        g_test_message("the wall-clock bounds are not checked: the machine is overloaded");
    } else {
        g_assert_cmpfloat(rate, >=, 100.0);
        g_assert_cmpint(probe.n_ticks, >=, MEASURE_MS / 50);
        g_assert_cmpint(probe.max_tick_gap, <, STALL_LIMIT_MS * 1000);
        g_assert_cmpint(probe.max_timer_late, <, STALL_LIMIT_MS * 1000);
    }
    wenshu_runner_stop(f->runner);
    gui_wait_until(listener_finished, &l, WAIT_MS, "the stop");
    listener_detach(&l, f);
}

static void test_icon_buttons_labelled(Fixture *f, gconstpointer data)
{
    (void)data;
    /* the checker itself: a bare icon button is caught, a labelled one not */
    GtkWidget *bare = gtk_button_new_from_icon_name("edit-delete-symbolic");
    g_object_ref_sink(bare);
    GString *bad = g_string_new(NULL);
    int n_icon_buttons = 0;
    gui_find_unlabelled(bare, bad, &n_icon_buttons);
    g_assert_cmpint(n_icon_buttons, ==, 1);
    g_assert_cmpuint(bad->len, >, 0);
    gtk_accessible_update_property(GTK_ACCESSIBLE(bare), GTK_ACCESSIBLE_PROPERTY_LABEL, "Delete",
                                   -1);
    g_string_truncate(bad, 0);
    gui_find_unlabelled(bare, bad, &n_icon_buttons);
    g_assert_cmpuint(bad->len, ==, 0);
    g_object_unref(bare);

    /* every page of the window, the hidden ones included, and a toast */
    wenshu_window_show_toast(f->window, "notice");
    gui_spin(100);
    n_icon_buttons = 0;
    gui_find_unlabelled(GTK_WIDGET(f->window), bad, &n_icon_buttons);
    g_test_message("%d icon-only buttons", n_icon_buttons);
    g_assert_cmpint(n_icon_buttons, >=, 3); /* stop, regenerate, dismiss at least */
    if (bad->len)
        g_error("icon-only buttons without an accessible label:%s", bad->str);
    g_string_free(bad, TRUE);
}

/* The application: `wenshu --model PATH` opens the window and loads it. */
typedef struct {
    GApplication *app;
    gboolean loaded;
    int n_polls;
} AppProbe;

static gboolean poll_app(gpointer data)
{
    AppProbe *p = data;
    GtkWindow *window = gtk_application_get_active_window(GTK_APPLICATION(p->app));
    if (window && wenshu_runner_is_loaded(wenshu_window_get_runner(WENSHU_WINDOW(window)))) {
        p->loaded = TRUE;
        gui_save_screenshot(GTK_WIDGET(window), "app-model-option", 100);
        gtk_window_destroy(window); /* the last window: the application quits */
        return G_SOURCE_REMOVE;
    }
    if (++p->n_polls > WAIT_MS / 50) {
        g_application_quit(p->app);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void test_app_model_option(void)
{
    /* the app opens its history: a throwaway one, not the user's */
    g_autofree char *dir = g_dir_make_tmp("wenshu-gui-app-XXXXXX", NULL);
    g_autofree char *db = g_build_filename(dir, "history.db", NULL);
    g_setenv("WENSHU_HISTORY_DB", db, TRUE);
    WenshuApplication *app = wenshu_application_new();
    g_application_set_flags(G_APPLICATION(app), G_APPLICATION_NON_UNIQUE);
    AppProbe probe = {.app = G_APPLICATION(app)};
    g_timeout_add(50, poll_app, &probe);
    char *argv[] = {"wenshu", "--model", model_path, NULL};
    int status = g_application_run(G_APPLICATION(app), 3, argv);
    g_assert_cmpint(status, ==, 0);
    g_assert_true(probe.loaded);
    g_object_unref(app);
    g_unsetenv("WENSHU_HISTORY_DB");
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
        g_autofree char *p = g_strconcat(db, suffixes[i], NULL);
        g_unlink(p);
    }
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void test_find_mmproj(void)
{
    g_autofree char *dir = g_dir_make_tmp("wenshu-mmproj-XXXXXX", NULL);
    g_autofree char *model = g_build_filename(dir, "Qwen2-VL-2B-Q4_K_M.gguf", NULL);
    g_assert_true(g_file_set_contents(model, "", 0, NULL));
    g_assert_null(wenshu_runner_find_mmproj(model));
    const char *names[] = {"mmproj-b.gguf", "mmproj-a.gguf", "mmproj.txt", "other.gguf"};
    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *p = g_build_filename(dir, names[i], NULL);
        g_assert_true(g_file_set_contents(p, "", 0, NULL));
    }
    g_autofree char *found = wenshu_runner_find_mmproj(model);
    g_autofree char *want = g_build_filename(dir, "mmproj-a.gguf", NULL);
    g_assert_cmpstr(found, ==, want);
    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *p = g_build_filename(dir, names[i], NULL);
        g_unlink(p);
    }
    g_unlink(model);
    g_rmdir(dir);
}

/* ---- main --------------------------------------------------------------- */

#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)

int main(int argc, char **argv)
{
    gui_init(&argc, &argv, TRUE); /* with the app's styles, as AdwApplication does */
    model_path = gui_make_fixture_model(GUI_QWEN3_MODEL, TRUE);

    g_test_add_func("/gui/runner/find-mmproj", test_find_mmproj);
    ADD("/gui/window/opens", test_window_opens);
    ADD("/gui/window/narrow", test_window_narrow);
    ADD("/gui/window/corrupt-model", test_corrupt_model);
    ADD("/gui/a11y/icon-buttons", test_icon_buttons_labelled);
    if (model_path) {
        g_test_add_func("/gui/app/model-option", test_app_model_option);
        ADD("/gui/chat/streams", test_chat_streams);
        ADD("/gui/chat/stop", test_chat_stop);
        ADD("/gui/chat/token-warning", test_token_warning);
        ADD("/gui/chat/thinking-block", test_thinking_block);
        ADD("/gui/chat/keys-and-preedit", test_keys_and_preedit);
        ADD("/gui/chat/no-stall", test_no_stall);
    } else {
        g_test_message("no Qwen3 tokenizer.json (tests/install-deps.sh --tests): model tests "
                       "skipped");
    }
    int status = g_test_run();
    g_free(model_path);
    return status;
}
