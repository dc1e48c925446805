/* test-gui-clip.c: the 视频摘要 page summarising with the model, against
 * `wenshu-cli clip` as the reference.
 *
 * Fixtures (made once, by `$WENSHU_CLI synth` and ffmpeg): the tiny qwen2vl
 * text model and its synthetic qwen2vl_merger projector, and a clip of
 * three solid colour scenes (red 0-8 s, green 8-17 s, blue 17-24 s) with a
 * white box in the top left corner (so that a flipped frame differs). The
 * reference is `wenshu-cli clip CLIP -m M --mmproj P -o cli.md --srt --vtt`
 * with greedy sampling on the CPU with 2 threads, the same as the page's
 * runner (the Preferences' temperature set to 0 in the memory backend).
 * Checked: Summarise titles every chapter and the page's Markdown, SRT and
 * WebVTT exports equal the CLI's byte for byte (titles, summaries, the
 * overall summary); the progress names "Chapter N of 3"; Stop halts the
 * summary with "Stopped"; a text-only model is refused with the reason and
 * the scene-cut chapters stay; a context too small for a chapter's frames
 * ends the summary with the runner's reason in the status line; closing
 * the page during a run stops it without a crash.
 * Screenshot: gui-artifacts/gui-clip-summary.png.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "gui-fixture.h"
#include "wenshu-clip-page.h"
#include "wenshu-preferences.h"
#include "wenshu-window.h"

#define WAIT_MS (300 * 1000)

static char *tmp_dir;     /* owned */
static char *model_path;  /* owned: the qwen2vl text model */
static char *mmproj_path; /* owned: its projector */
static char *video_path;  /* owned: the three-scene clip */

/* ---- fixtures
 * ---------------------------------------------------------------------------
 */

/* Run argv (NULL-terminated); g_error unless it exits 0. */
static void run_command(const char *const *argv)
{
    char *err = NULL;
    int status = 0;
    GError *error = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, &err,
                      &status, &error) ||
        !g_spawn_check_wait_status(status, &error))
        g_error("%s %s: %s\n%s", argv[0], argv[1], error->message, err ? err : "");
    g_free(err);
}

static void make_fixtures(void)
{
    const char *cli = g_getenv("WENSHU_CLI");
    if (!cli)
        g_error("WENSHU_CLI must be set (meson test)");
    GError *error = NULL;
    tmp_dir = g_dir_make_tmp("test-gui-clip-XXXXXX", &error);
    g_assert_no_error(error);
    model_path = g_build_filename(tmp_dir, "vision-text.gguf", NULL);
    mmproj_path = g_build_filename(tmp_dir, "mmproj-qwen2vl.gguf", NULL);
    const char *synth[] = {cli,    "synth", "--arch",   "qwen2vl", "--preset",
                           "tiny", "-o",    model_path, NULL};
    run_command(synth);
    const char *synth_proj[] = {cli,  "synth",     "--mmproj", "qwen2vl_merger",
                                "-o", mmproj_path, NULL};
    run_command(synth_proj);
    /* the corner box: a frame written upside down would differ */
    video_path = gui_make_scenes_clip(tmp_dir, "scenes.mp4", TRUE);
    if (!video_path)
        g_error("the ffmpeg CLI is needed (tests/install-deps.sh --tests)");
}

/* The reference: `wenshu-cli clip` writes dir/cli.md, cli.srt, cli.vtt. */
static void run_cli_reference(const char *dir)
{
    g_autofree char *md = g_build_filename(dir, "cli.md", NULL);
    g_autofree char *srt = g_build_filename(dir, "cli.srt", NULL);
    g_autofree char *vtt = g_build_filename(dir, "cli.vtt", NULL);
    const char *argv[] = {g_getenv("WENSHU_CLI"),
                          "clip",
                          video_path,
                          "-m",
                          model_path,
                          "--mmproj",
                          mmproj_path,
                          "-o",
                          md,
                          "--srt",
                          srt,
                          "--vtt",
                          vtt,
                          "--temp",
                          "0",
                          "--device",
                          "cpu",
                          "-t",
                          "2",
                          "-c",
                          "4096",
                          NULL};
    gint64 t0 = g_get_monotonic_time();
    run_command(argv);
    g_test_message("wenshu-cli clip: %.2f s", (g_get_monotonic_time() - t0) / 1e6);
}

typedef struct {
    GtkWindow *window;
    GtkWidget *page;
    WenshuRunner *runner;
    char *dir; /* this test's outputs */
} Fixture;

typedef struct {
    gboolean done, value;
} BoolWait;

static void on_bool_signal(GtkWidget *page, gboolean value, BoolWait *wait)
{
    (void)page;
    wait->done = TRUE;
    wait->value = value;
}

static void on_loaded(GObject *source, GAsyncResult *result, gpointer user_data)
{
    GError *error = NULL;
    g_assert_true(wenshu_runner_load_finish(WENSHU_RUNNER(source), result, &error));
    g_assert_no_error(error);
    *(gboolean *)user_data = TRUE;
}

/* Load the fixture model (with its projector when with_mmproj) on the CPU. */
static void load_model(Fixture *f, gboolean with_mmproj, int n_ctx)
{
    gboolean loaded = FALSE;
    wenshu_runner_load_async(f->runner, model_path, with_mmproj ? mmproj_path : NULL,
                             ENG_DEVICE_CPU, 2, n_ctx, NULL, on_loaded, &loaded);
    gui_wait_flag(&loaded, WAIT_MS, "the model to load");
    g_assert_true(wenshu_runner_can_read_media(f->runner) == with_mmproj);
}

static GtkWidget *named(Fixture *f, const char *name)
{
    GtkWidget *w = gui_find_named(f->page, name);
    g_assert_nonnull(w);
    return w;
}

static const char *status_text(Fixture *f)
{
    return gtk_label_get_text(GTK_LABEL(named(f, "status")));
}

static void open_video(Fixture *f)
{
    BoolWait wait = {0};
    gulong id = g_signal_connect(f->page, "analysed", G_CALLBACK(on_bool_signal), &wait);
    GError *error = NULL;
    g_assert_true(wenshu_clip_page_open(WENSHU_CLIP_PAGE(f->page), video_path, &error));
    g_assert_no_error(error);
    gui_wait_flag(&wait.done, WAIT_MS, "analysed");
    g_signal_handler_disconnect(f->page, id);
    g_assert_true(wait.value);
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    (void)data;
    GError *error = NULL;
    f->dir = g_dir_make_tmp("test-gui-clip-run-XXXXXX", &error);
    g_assert_no_error(error);
    f->runner = wenshu_runner_new();
    f->page = wenshu_clip_page_new();
    wenshu_clip_page_set_runner(WENSHU_CLIP_PAGE(f->page), f->runner);
    f->window = gui_present_in_window(f->page, 1280, 800);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    if (f->window)
        gui_close_window(f->window);
    g_clear_object(&f->runner);
    gui_remove_tree(f->dir);
    g_free(f->dir);
}

static char *read_file(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    char *text = NULL;
    GError *error = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, &error));
    g_assert_no_error(error);
    return text;
}

/* ---- the tests
 * ----------------------------------------------------------------------------
 */

/* Polled during a summary: every progress text seen, once each. */
static gboolean record_progress(gpointer data)
{
    void **pair = data;
    GtkProgressBar *bar = pair[0];
    GPtrArray *seen = pair[1];
    const char *text = gtk_progress_bar_get_text(bar);
    if (text && text[0] &&
        (seen->len == 0 || !g_str_equal(g_ptr_array_index(seen, seen->len - 1), text)))
        g_ptr_array_add(seen, g_strdup(text));
    return G_SOURCE_CONTINUE;
}

static gboolean seen_prefix(GPtrArray *seen, const char *prefix)
{
    for (guint i = 0; i < seen->len; i++)
        if (g_str_has_prefix(g_ptr_array_index(seen, i), prefix))
            return TRUE;
    return FALSE;
}

static void test_summary_equals_cli(Fixture *f, gconstpointer data)
{
    (void)data;
    run_cli_reference(f->dir);
    load_model(f, TRUE, 4096);
    open_video(f);
    int n = 0;
    wenshu_clip_page_get_chapters(WENSHU_CLIP_PAGE(f->page), &n);
    g_assert_cmpint(n, ==, 3);
    g_assert_true(gtk_widget_is_sensitive(named(f, "summarise")));
    g_assert_false(gtk_widget_is_sensitive(named(f, "stop")));

    GPtrArray *seen = g_ptr_array_new_with_free_func(g_free); /* progress texts */
    void *pair[2] = {named(f, "progress"), seen};
    guint poll = g_timeout_add(10, record_progress, pair);
    BoolWait wait = {0};
    gulong id = g_signal_connect(f->page, "summarised", G_CALLBACK(on_bool_signal), &wait);
    gint64 t0 = g_get_monotonic_time();
    g_assert_true(gtk_widget_activate_action(f->page, "clip.summarise", NULL));
    g_assert_true(gtk_widget_is_sensitive(named(f, "stop")));
    g_assert_false(gtk_widget_is_sensitive(named(f, "summarise")));
    gui_wait_flag(&wait.done, WAIT_MS, "summarised");
    g_test_message("the page's summary: %.2f s", (g_get_monotonic_time() - t0) / 1e6);
    g_source_remove(poll);
    g_signal_handler_disconnect(f->page, id);
    g_assert_true(wait.value);
    for (guint i = 0; i < seen->len; i++)
        g_test_message("progress: %s", (const char *)g_ptr_array_index(seen, i));
    g_assert_true(seen_prefix(seen, "Chapter 1 of 3"));
    g_assert_true(seen_prefix(seen, "Chapter 3 of 3"));
    g_ptr_array_unref(seen);

    const struct clip_chapter *chapters =
        wenshu_clip_page_get_chapters(WENSHU_CLIP_PAGE(f->page), &n);
    g_assert_cmpint(n, ==, 3);
    for (int i = 0; i < n; i++) {
        g_assert_nonnull(chapters[i].title);
        g_assert_cmpstr(chapters[i].title, !=, "");
        g_assert_nonnull(chapters[i].summary);
    }
    const char *summary = wenshu_clip_page_get_summary(WENSHU_CLIP_PAGE(f->page));
    g_assert_nonnull(summary);
    GtkTextBuffer *buffer = gtk_text_view_get_buffer(GTK_TEXT_VIEW(named(f, "summary")));
    GtkTextIter a, b;
    gtk_text_buffer_get_bounds(buffer, &a, &b);
    g_autofree char *shown = gtk_text_buffer_get_text(buffer, &a, &b, FALSE);
    g_assert_cmpstr(shown, ==, summary);

    g_autofree char *md = g_build_filename(f->dir, "page.md", NULL);
    g_autofree char *srt = g_build_filename(f->dir, "page.srt", NULL);
    g_autofree char *vtt = g_build_filename(f->dir, "page.vtt", NULL);
    GError *error = NULL;
    g_assert_true(wenshu_clip_page_export(WENSHU_CLIP_PAGE(f->page), srt, vtt, md, NULL, &error));
    g_assert_no_error(error);
    const char *pairs[3][2] = {
        {"cli.md", "page.md"}, {"cli.srt", "page.srt"}, {"cli.vtt", "page.vtt"}};
    for (int i = 0; i < 3; i++) {
        g_autofree char *want = read_file(f->dir, pairs[i][0]);
        g_autofree char *got = read_file(f->dir, pairs[i][1]);
        g_test_message("%s:\n%s", pairs[i][0], want);
        g_assert_cmpstr(got, ==, want);
    }
    g_autofree char *want_md = read_file(f->dir, "cli.md");
    g_assert_nonnull(strstr(want_md, summary));
    gui_save_screenshot(GTK_WIDGET(f->window), "gui-clip-summary", 300);
}

static void on_first_tokens(WenshuRunner *runner, const char *text, GtkWidget *page)
{
    (void)runner;
    (void)text;
    gtk_widget_activate_action(page, "clip.stop", NULL);
}

static void test_stop(Fixture *f, gconstpointer data)
{
    (void)data;
    load_model(f, TRUE, 4096);
    open_video(f);
    BoolWait wait = {0};
    gulong id = g_signal_connect(f->page, "summarised", G_CALLBACK(on_bool_signal), &wait);
    gulong tok = g_signal_connect(f->runner, "tokens", G_CALLBACK(on_first_tokens), f->page);
    g_assert_true(gtk_widget_activate_action(f->page, "clip.summarise", NULL));
    gui_wait_flag(&wait.done, WAIT_MS, "summarised after Stop");
    g_signal_handler_disconnect(f->runner, tok);
    g_signal_handler_disconnect(f->page, id);
    g_assert_false(wait.value);
    g_assert_cmpstr(status_text(f), ==, "Stopped");
    g_assert_false(wenshu_runner_is_running(f->runner));
    g_assert_null(wenshu_clip_page_get_summary(WENSHU_CLIP_PAGE(f->page)));
    int n = 0;
    const struct clip_chapter *chapters =
        wenshu_clip_page_get_chapters(WENSHU_CLIP_PAGE(f->page), &n);
    g_assert_cmpint(n, ==, 3);
    g_assert_null(chapters[0].summary); /* stopped inside the first chapter's description */
    g_assert_cmpstr(chapters[0].title, ==, "00:00");
    g_assert_true(gtk_widget_is_sensitive(named(f, "summarise")));
    g_assert_false(gtk_widget_is_sensitive(named(f, "stop")));
}

static gboolean runner_idle(gpointer runner)
{
    return !wenshu_runner_is_running(runner);
}

/* The page goes while its run goes on: the run stops, and the job (whose
 * schema the runner reads) lives until the run has finished. */
static void test_close_while_running(Fixture *f, gconstpointer data)
{
    (void)data;
    load_model(f, TRUE, 4096);
    open_video(f);
    g_assert_true(gtk_widget_activate_action(f->page, "clip.summarise", NULL));
    g_assert_true(wenshu_runner_is_running(f->runner));
    gui_close_window(f->window);
    f->window = NULL;
    gui_wait_until(runner_idle, f->runner, WAIT_MS, "the run to end after the page went");
}

static void test_text_only_model(Fixture *f, gconstpointer data)
{
    (void)data;
    load_model(f, FALSE, 4096);
    open_video(f);
    GError *error = NULL;
    g_assert_false(wenshu_clip_page_summarise(WENSHU_CLIP_PAGE(f->page), &error));
    g_assert_error(error, WENSHU_RUNNER_ERROR, WENSHU_RUNNER_ERROR_NO_PROJECTOR);
    g_clear_error(&error);
    g_assert_true(gtk_widget_activate_action(f->page, "clip.summarise", NULL));
    g_assert_nonnull(strstr(status_text(f), "vision model"));
    g_assert_false(wenshu_runner_is_running(f->runner));
    int n = 0;
    const struct clip_chapter *chapters =
        wenshu_clip_page_get_chapters(WENSHU_CLIP_PAGE(f->page), &n);
    const char *scene_titles[3] = {"00:00", "00:08", "00:17"};
    g_assert_cmpint(n, ==, 3);
    for (int i = 0; i < n; i++)
        g_assert_cmpstr(chapters[i].title, ==, scene_titles[i]);
}

static void test_context_too_small(Fixture *f, gconstpointer data)
{
    (void)data;
    load_model(f, TRUE, 256);
    open_video(f);
    BoolWait wait = {0};
    gulong id = g_signal_connect(f->page, "summarised", G_CALLBACK(on_bool_signal), &wait);
    g_assert_true(gtk_widget_activate_action(f->page, "clip.summarise", NULL));
    gui_wait_flag(&wait.done, WAIT_MS, "summarised with a small context");
    g_signal_handler_disconnect(f->page, id);
    g_assert_false(wait.value);
    g_test_message("status: %s", status_text(f));
    g_assert_nonnull(strstr(status_text(f), "context"));
    g_assert_true(gtk_widget_has_css_class(named(f, "status"), "error"));
}

/* In the app's window the page summarises with the window's runner. */
static void test_window_runner(void)
{
    WenshuWindow *window = wenshu_window_new(NULL);
    Fixture f = {.window = GTK_WINDOW(window)};
    f.page = gui_find_descendant(GTK_WIDGET(window), WENSHU_TYPE_CLIP_PAGE);
    g_assert_nonnull(f.page);
    f.runner = g_object_ref(wenshu_window_get_runner(window));
    wenshu_window_show_page(window, "clip");
    gtk_window_present(GTK_WINDOW(window));
    gui_wait_until(gui_widget_drawn, window, WAIT_MS, "the window to map");
    load_model(&f, TRUE, 4096);
    open_video(&f);
    g_assert_true(gtk_widget_is_sensitive(named(&f, "summarise")));
    BoolWait wait = {0};
    gulong id = g_signal_connect(f.page, "summarised", G_CALLBACK(on_bool_signal), &wait);
    g_assert_true(gtk_widget_activate_action(f.page, "clip.summarise", NULL));
    gui_wait_flag(&wait.done, WAIT_MS, "summarised in the window");
    g_signal_handler_disconnect(f.page, id);
    g_assert_true(wait.value);
    gui_close_window(GTK_WINDOW(window));
    g_object_unref(f.runner);
}

int main(int argc, char **argv)
{
    g_setenv("GSETTINGS_BACKEND", "memory", FALSE);
    g_setenv("GTK_A11Y", "test", FALSE); /* no AT-SPI bus under Xvfb */
    gui_init(&argc, &argv, FALSE);
    /* greedy, as the reference: the page samples with the Preferences */
    g_autoptr(GSettings) settings = wenshu_settings_new();
    if (!settings)
        g_error("the settings schema is not installed: set GSETTINGS_SCHEMA_DIR");
    g_settings_set_double(settings, "temperature", 0.0);
    make_fixtures();
    g_test_add("/gui/clip/summary-equals-cli", Fixture, NULL, fixture_setup,
               test_summary_equals_cli, fixture_teardown);
    g_test_add("/gui/clip/stop", Fixture, NULL, fixture_setup, test_stop, fixture_teardown);
    g_test_add("/gui/clip/close-while-running", Fixture, NULL, fixture_setup,
               test_close_while_running, fixture_teardown);
    g_test_add("/gui/clip/text-only-model", Fixture, NULL, fixture_setup, test_text_only_model,
               fixture_teardown);
    g_test_add("/gui/clip/context-too-small", Fixture, NULL, fixture_setup, test_context_too_small,
               fixture_teardown);
    g_test_add_func("/gui/clip/window-runner", test_window_runner);
    int status = g_test_run();
    gui_remove_tree(tmp_dir);
    g_free(tmp_dir);
    g_free(model_path);
    g_free(mmproj_path);
    g_free(video_path);
    return status;
}
