/* test-gui-attach.c: the attachment bar (app/gui/wenshu-attachment-bar.c)
 * and the attachment loader (wenshu-attachment.c) in a window under Xvfb.
 *
 * The expectations come from outside the code under test: a text file's
 * bytes as written here; a .docx and a .pdf that `wenshu-cli format` makes
 * from the 公文 fixture tests/data/gongwen/clean/plain-tongzhi-wenjian.md,
 * whose lines must come back (the PDF wraps long lines, so there they are
 * compared without whitespace); a PNG whose pixels this file computes (its
 * size and mean colour); a clip the ffmpeg CLI draws, whose duration ffprobe
 * gives; a clipboard texture's own pixels. Refusals must name the file.
 * Drop and paste go through the real drop target and the display's
 * clipboard. A screenshot is left in $WENSHU_BUILD_DIR/gui-artifacts/, and
 * each kind's load time is printed (g_test_message).
 *
 * Run with G_DEBUG=fatal-warnings: any GTK warning fails the test.
 */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "gui-fixture.h"
#include "wenshu-attachment-bar.h"

#define LOAD_WAIT_MS 60000
#define GONGWEN_FIXTURE "data/gongwen/clean/plain-tongzhi-wenjian.md"

typedef struct {
    GtkWindow *window;
    WenshuAttachmentBar *bar;
    char *tmpdir;
    int n_changed;
    GPtrArray *refusals; /* [n] char *, the "refused" reasons in order */
} Fixture;

static void on_changed(WenshuAttachmentBar *bar, Fixture *f)
{
    (void)bar;
    f->n_changed++;
}

static void on_refused(WenshuAttachmentBar *bar, const char *reason, Fixture *f)
{
    (void)bar;
    g_test_message("refused: %s", reason);
    g_ptr_array_add(f->refusals, g_strdup(reason));
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    (void)data;
    f->tmpdir = g_dir_make_tmp("wenshu-attach-XXXXXX", NULL);
    g_assert_nonnull(f->tmpdir);
    f->refusals = g_ptr_array_new_with_free_func(g_free);
    f->bar = WENSHU_ATTACHMENT_BAR(wenshu_attachment_bar_new());
    g_signal_connect(f->bar, "changed", G_CALLBACK(on_changed), f);
    g_signal_connect(f->bar, "refused", G_CALLBACK(on_refused), f);
    f->window = gui_present_in_window(GTK_WIDGET(f->bar), 900, 160);
    gui_wait_until(gui_widget_drawn, f->bar, 10000, "the bar drawn");
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    if (f->window)
        gui_close_window(f->window);
    gui_remove_tree(f->tmpdir);
    g_free(f->tmpdir);
    g_ptr_array_unref(f->refusals);
}

/* ---- helpers -------------------------------------------------------------------------- */

static guint n_items(Fixture *f)
{
    return g_list_model_get_n_items(wenshu_attachment_bar_get_items(f->bar));
}

/* Item i (borrowed: the bar keeps it). */
static WenshuAttachment *item(Fixture *f, guint i)
{
    WenshuAttachment *a = g_list_model_get_item(wenshu_attachment_bar_get_items(f->bar), i);
    g_object_unref(a); /* the store holds it */
    return a;
}

static gboolean nothing_pending(gpointer data)
{
    Fixture *f = data;
    return wenshu_attachment_bar_get_n_pending(f->bar) == 0;
}

static char *tmp_path(Fixture *f, const char *name)
{
    return g_build_filename(f->tmpdir, name, NULL);
}

/* Attach path and wait for it: the new attachment (borrowed), or NULL when
 * it was refused (then the reason is the last of f->refusals). Prints the
 * load time. */
static WenshuAttachment *attach(Fixture *f, const char *path)
{
    guint before = n_items(f), refused_before = f->refusals->len;
    GFile *file = g_file_new_for_path(path);
    gint64 start = g_get_monotonic_time();
    wenshu_attachment_bar_add_file(f->bar, file);
    g_object_unref(file);
    g_assert_cmpint(wenshu_attachment_bar_get_n_pending(f->bar), ==, 1);
    g_assert_nonnull(gui_find_named(GTK_WIDGET(f->bar), "attachment-loading"));
    gui_wait_until(nothing_pending, f, LOAD_WAIT_MS, path);
    double ms = (double)(g_get_monotonic_time() - start) / 1000.0;
    g_assert_null(gui_find_named(GTK_WIDGET(f->bar), "attachment-loading"));
    char *base = g_path_get_basename(path);
    g_test_message("load %s: %.1f ms", base, ms);
    g_free(base);
    if (n_items(f) == before + 1) {
        g_assert_cmpuint(f->refusals->len, ==, refused_before);
        return item(f, before);
    }
    g_assert_cmpuint(n_items(f), ==, before);
    g_assert_cmpuint(f->refusals->len, ==, refused_before + 1);
    return NULL;
}

/* Attach path and check that it is refused with a reason naming the file. */
static void expect_refused(Fixture *f, const char *path)
{
    g_assert_null(attach(f, path));
    const char *reason = g_ptr_array_index(f->refusals, f->refusals->len - 1);
    char *base = g_path_get_basename(path);
    g_assert_true(strstr(reason, base) != NULL);
    g_assert_cmpint(strchr(reason, '\n') == NULL, ==, TRUE); /* one line */
    g_free(base);
}

static void write_file(const char *path, const char *data, gssize len)
{
    GError *error = NULL;
    g_file_set_contents(path, data, len, &error);
    g_assert_no_error(error);
}

static int count_named(GtkWidget *root, const char *name)
{
    int n = g_strcmp0(gtk_widget_get_name(root), name) == 0;
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c))
        n += count_named(c, name);
    return n;
}

static gboolean run_quiet(const char *const *argv, char **out)
{
    int status = 0;
    GError *error = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, out, NULL, &status, &error)) {
        g_test_message("%s: %s", argv[0], error->message);
        g_error_free(error);
        return FALSE;
    }
    return g_spawn_check_wait_status(status, NULL);
}

/* ---- the test pictures ------------------------------------------------------------------- */

/* The test image's colour at (x, y): smooth ramps, so a box average keeps
 * the mean. Channels in rgb[3]. */
static void pattern_rgb(int x, int y, int width, int height, guint8 rgb[3])
{
    rgb[0] = (guint8)(255 * x / (width - 1));
    rgb[1] = (guint8)(255 * y / (height - 1));
    rgb[2] = (guint8)(64 + 128 * ((x / 25 + y / 25) % 2));
}

/* Writes a width x height PNG of pattern_rgb; its mean colour in mean[3]. */
static void write_pattern_png(const char *path, int width, int height, double mean[3])
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    guint8 *data = cairo_image_surface_get_data(s); /* [height][stride] xRGB32 */
    int stride = cairo_image_surface_get_stride(s);
    double sum[3] = {0, 0, 0};
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            guint8 rgb[3];
            pattern_rgb(x, y, width, height, rgb);
            guint32 px = (guint32)rgb[0] << 16 | (guint32)rgb[1] << 8 | rgb[2];
            memcpy(data + (gsize)y * (gsize)stride + (gsize)x * 4, &px, 4);
            for (int c = 0; c < 3; c++)
                sum[c] += rgb[c];
        }
    cairo_surface_mark_dirty(s);
    g_assert_cmpint(cairo_surface_write_to_png(s, path), ==, CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(s);
    for (int c = 0; c < 3; c++)
        mean[c] = sum[c] / ((double)width * height);
}

/* A texture's pixels as 8-bit BGRA (opaque, so unpremultiplied). Caller frees. */
static guint8 *texture_bgra(GdkTexture *texture)
{
    int w = gdk_texture_get_width(texture), h = gdk_texture_get_height(texture);
    guint8 *px = g_malloc((gsize)w * (gsize)h * 4); /* [h][w][4] B G R A */
    gdk_texture_download(texture, px, (gsize)w * 4);
    return px;
}

static void texture_mean(GdkTexture *texture, double mean[3])
{
    int w = gdk_texture_get_width(texture), h = gdk_texture_get_height(texture);
    guint8 *px = texture_bgra(texture);
    double sum[3] = {0, 0, 0};
    for (gsize i = 0; i < (gsize)w * (gsize)h; i++) {
        sum[0] += px[i * 4 + 2];
        sum[1] += px[i * 4 + 1];
        sum[2] += px[i * 4 + 0];
    }
    g_free(px);
    for (int c = 0; c < 3; c++)
        mean[c] = sum[c] / ((double)w * h);
}

static void assert_same_pixels(GdkTexture *a, GdkTexture *b)
{
    int w = gdk_texture_get_width(a), h = gdk_texture_get_height(a);
    g_assert_cmpint(gdk_texture_get_width(b), ==, w);
    g_assert_cmpint(gdk_texture_get_height(b), ==, h);
    guint8 *pa = texture_bgra(a), *pb = texture_bgra(b);
    g_assert_cmpmem(pa, (gsize)w * (gsize)h * 4, pb, (gsize)w * (gsize)h * 4);
    g_free(pa);
    g_free(pb);
}

/* A 64 x 40 texture of pattern_rgb (small enough to be its own thumbnail). */
static GdkTexture *pattern_texture(void)
{
    enum { W = 64, H = 40 };
    guint8 *rgb = g_malloc(W * H * 3); /* [H][W][3] */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            pattern_rgb(x, y, W, H, rgb + (y * W + x) * 3);
    GBytes *bytes = g_bytes_new_take(rgb, W * H * 3);
    GdkTexture *t = gdk_memory_texture_new(W, H, GDK_MEMORY_R8G8B8, bytes, W * 3);
    g_bytes_unref(bytes);
    return t;
}

/* The ffmpeg clip of the brief (3 s of testsrc2 at 10 fps), or NULL
 * without ffmpeg. Caller frees. */
static char *make_clip(Fixture *f)
{
    char *path = tmp_path(f, "clip.mp4");
    const char *argv[] = {"ffmpeg",
                          "-hide_banner",
                          "-loglevel",
                          "error",
                          "-y",
                          "-f",
                          "lavfi",
                          "-i",
                          "testsrc2=size=160x120:rate=10",
                          "-t",
                          "3",
                          "-pix_fmt",
                          "yuv420p",
                          path,
                          NULL};
    if (!run_quiet(argv, NULL)) {
        g_free(path);
        return NULL;
    }
    return path;
}

/* ffprobe's duration of path in seconds (the independent reference). */
static double ffprobe_duration(const char *path)
{
    const char *argv[] = {
        "ffprobe",           "-v", "error", "-show_entries", "format=duration", "-of",
        "default=nw=1:nk=1", path, NULL};
    char *out = NULL;
    g_assert_true(run_quiet(argv, &out));
    double d = g_ascii_strtod(out, NULL);
    g_free(out);
    return d;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_text(Fixture *f, gconstpointer data)
{
    (void)data;
    static const char text[] = "关于文书的说明\nplain ASCII line\n第三行：标点，符号。\n";
    char *path = tmp_path(f, "notes.txt");
    write_file(path, text, -1);
    WenshuAttachment *a = attach(f, path);
    g_assert_nonnull(a);
    g_assert_cmpint(wenshu_attachment_get_kind(a), ==, WENSHU_ATTACHMENT_TEXT);
    g_assert_cmpstr(wenshu_attachment_get_text(a), ==, text);
    g_assert_cmpstr(wenshu_attachment_get_name(a), ==, "notes.txt");
    g_assert_cmpstr(wenshu_attachment_get_path(a), ==, path);
    g_assert_null(wenshu_attachment_get_thumbnail(a));
    g_assert_false(wenshu_attachment_is_media(a));
    char *count = g_strdup_printf("%ld characters", g_utf8_strlen(text, -1));
    g_assert_cmpstr(wenshu_attachment_get_summary(a), ==, count);
    g_free(count);
    g_assert_cmpint(f->n_changed, ==, 1);
    g_assert_cmpint(count_named(GTK_WIDGET(f->bar), "attachment-chip"), ==, 1);

    /* a text file with no extension is told by its content, and never decoded as media */
    char *readme = tmp_path(f, "README");
    write_file(readme, "Read me first.\n", -1);
    a = attach(f, readme);
    g_assert_nonnull(a);
    g_assert_cmpint(wenshu_attachment_get_kind(a), ==, WENSHU_ATTACHMENT_TEXT);
    g_assert_cmpstr(wenshu_attachment_get_text(a), ==, "Read me first.\n");
    g_free(readme);
    g_free(path);
}

/* Whether every line of the fixture (its HTML comment left out) is in text:
 * as a whole line, or (whitespace_free) within text without whitespace. */
static void assert_fixture_lines_in(const char *text, gboolean whitespace_free)
{
    char *fixture_path = g_build_filename(g_getenv("WENSHU_TESTS_DIR"), GONGWEN_FIXTURE, NULL);
    char *fixture = NULL;
    g_assert_true(g_file_get_contents(fixture_path, &fixture, NULL, NULL));
    GString *flat = g_string_new(NULL);
    for (const char *p = text; *p; p++)
        if (!g_ascii_isspace(*p))
            g_string_append_c(flat, *p);
    char **got_lines = g_strsplit(text, "\n", -1);
    char **lines = g_strsplit(fixture, "\n", -1);
    int n_checked = 0;
    for (int i = 0; lines[i]; i++) {
        const char *line = g_strstrip(lines[i]);
        if (!*line || g_str_has_prefix(line, "<!--"))
            continue;
        n_checked++;
        if (whitespace_free) {
            if (!strstr(flat->str, line))
                g_error("line %d of the fixture %s is not in the text", i + 1, line);
        } else if (!g_strv_contains((const char *const *)got_lines, line)) {
            g_error("line %d of the fixture %s is not a line of the text", i + 1, line);
        }
    }
    g_assert_cmpint(n_checked, >=, 10);
    g_strfreev(lines);
    g_strfreev(got_lines);
    g_string_free(flat, TRUE);
    g_free(fixture);
    g_free(fixture_path);
}

static void test_documents(Fixture *f, gconstpointer data)
{
    (void)data;
    char *source = g_build_filename(g_getenv("WENSHU_TESTS_DIR"), GONGWEN_FIXTURE, NULL);
    char *docx = tmp_path(f, "tongzhi.docx"), *pdf = tmp_path(f, "tongzhi.pdf");
    const char *argv[] = {g_getenv("WENSHU_CLI"), "format", source, "-o", docx, "--pdf", pdf, NULL};
    g_assert_true(run_quiet(argv, NULL));

    WenshuAttachment *a = attach(f, docx);
    g_assert_nonnull(a);
    g_assert_cmpint(wenshu_attachment_get_kind(a), ==, WENSHU_ATTACHMENT_DOCUMENT);
    assert_fixture_lines_in(wenshu_attachment_get_text(a), FALSE);

    a = attach(f, pdf);
    g_assert_nonnull(a);
    g_assert_cmpint(wenshu_attachment_get_kind(a), ==, WENSHU_ATTACHMENT_DOCUMENT);
    assert_fixture_lines_in(wenshu_attachment_get_text(a), TRUE);
    g_assert_true(g_str_has_suffix(wenshu_attachment_get_summary(a), " characters"));

    /* a .docx that is not one: refused, naming the file */
    char *fake = tmp_path(f, "fake.docx");
    write_file(fake, "not a zip at all", -1);
    expect_refused(f, fake);
    g_assert_cmpuint(n_items(f), ==, 2);
    g_free(fake);
    g_free(docx);
    g_free(pdf);
    g_free(source);
}

static void test_image(Fixture *f, gconstpointer data)
{
    (void)data;
    char *path = tmp_path(f, "photo.png");
    double want[3];
    write_pattern_png(path, 200, 120, want);
    WenshuAttachment *a = attach(f, path);
    g_assert_nonnull(a);
    g_assert_cmpint(wenshu_attachment_get_kind(a), ==, WENSHU_ATTACHMENT_IMAGE);
    g_assert_true(wenshu_attachment_is_media(a));
    g_assert_cmpstr(wenshu_attachment_get_summary(a), ==, "200 × 120");
    g_assert_null(wenshu_attachment_get_text(a));
    GdkTexture *thumb = wenshu_attachment_get_thumbnail(a);
    g_assert_nonnull(thumb);
    int tw = gdk_texture_get_width(thumb), th = gdk_texture_get_height(thumb);
    g_assert_cmpint(MAX(tw, th), <=, 96);
    g_assert_cmpint(tw, ==, 96);                      /* the longest edge fills */
    g_assert_cmpint(abs(th - 96 * 120 / 200), <=, 1); /* the aspect kept */
    double got[3];
    texture_mean(thumb, got);
    for (int c = 0; c < 3; c++) {
        g_test_message("mean channel %d: thumbnail %.2f, image %.2f", c, got[c], want[c]);
        g_assert_cmpfloat(fabs(got[c] - want[c]), <, 2.0);
    }
    g_free(path);
}

static void test_refusals(Fixture *f, gconstpointer data)
{
    (void)data;
    /* a PNG cut in half */
    char *good = tmp_path(f, "good.png");
    double mean[3];
    write_pattern_png(good, 200, 120, mean);
    char *bytes = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(good, &bytes, &len, NULL));
    char *broken = tmp_path(f, "broken.png");
    write_file(broken, bytes, (gssize)(len / 2));
    expect_refused(f, broken);

    /* binary data, NUL bytes included, under a name that says nothing */
    char *bin = tmp_path(f, "x.bin");
    char noise[4096];
    for (gsize i = 0; i < sizeof noise; i++)
        noise[i] = (char)((i * 2654435761u) >> 13);
    write_file(bin, noise, sizeof noise);
    expect_refused(f, bin);
    const char *reason = g_ptr_array_index(f->refusals, f->refusals->len - 1);
    g_assert_cmpstr(reason, ==, "x.bin: not a text, document, image or video file");

    /* binary data named .txt, invalid UTF-8, and empty files */
    char *fake_text = tmp_path(f, "data.txt");
    write_file(fake_text, noise, sizeof noise);
    expect_refused(f, fake_text);
    char *latin1 = tmp_path(f, "latin1.txt");
    write_file(latin1, "caf\xe9 cr\xe8me\n", -1);
    expect_refused(f, latin1);
    char *empty = tmp_path(f, "empty.txt"), *empty_png = tmp_path(f, "empty.png");
    write_file(empty, "", 0);
    write_file(empty_png, "", 0);
    expect_refused(f, empty);
    expect_refused(f, empty_png);
    char *missing = tmp_path(f, "missing.md");
    expect_refused(f, missing);

    g_assert_cmpuint(n_items(f), ==, 0);
    g_assert_cmpint(f->n_changed, ==, 0);
    g_assert_cmpint(count_named(GTK_WIDGET(f->bar), "attachment-chip"), ==, 0);
    g_free(missing);
    g_free(empty_png);
    g_free(empty);
    g_free(latin1);
    g_free(fake_text);
    g_free(bin);
    g_free(broken);
    g_free(bytes);
    g_free(good);
}

typedef struct {
    gboolean done;
    WenshuAttachment *attachment;
    GError *error;
} LoadResult;

static void on_loaded(GObject *source, GAsyncResult *result, gpointer data)
{
    (void)source;
    LoadResult *r = data;
    r->attachment = wenshu_attachment_load_finish(result, &r->error);
    r->done = TRUE;
}

/* Text over the 4 MiB cap: TOO_LARGE, refused, never truncated. */
static void test_too_large(Fixture *f, gconstpointer data)
{
    (void)data;
    gsize len = (4u << 20) + 1; /* one byte over the cap */
    char *big = g_malloc(len);
    memset(big, 'a', len);
    char *path = tmp_path(f, "big.txt");
    write_file(path, big, (gssize)len);
    g_free(big);
    GFile *file = g_file_new_for_path(path);
    LoadResult r = {0};
    wenshu_attachment_load_async(file, NULL, on_loaded, &r);
    gui_wait_flag(&r.done, LOAD_WAIT_MS, "the large text");
    g_assert_null(r.attachment);
    g_assert_error(r.error, WENSHU_ATTACHMENT_ERROR, WENSHU_ATTACHMENT_ERROR_TOO_LARGE);
    g_assert_true(strstr(r.error->message, "big.txt") != NULL);
    g_clear_error(&r.error);

    /* a load cancelled before it ends gives G_IO_ERROR_CANCELLED */
    GCancellable *cancellable = g_cancellable_new();
    r = (LoadResult){0};
    wenshu_attachment_load_async(file, cancellable, on_loaded, &r);
    g_cancellable_cancel(cancellable);
    gui_wait_flag(&r.done, LOAD_WAIT_MS, "the cancelled load");
    g_assert_null(r.attachment);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error(&r.error);
    g_object_unref(cancellable);
    g_object_unref(file);

    expect_refused(f, path);
    g_free(path);
}

static void test_video(Fixture *f, gconstpointer data)
{
    (void)data;
    char *clip = make_clip(f);
    if (!clip) {
        g_test_skip("ffmpeg is not installed");
        return;
    }
    double want = ffprobe_duration(clip);
    WenshuAttachment *a = attach(f, clip);
    g_assert_nonnull(a);
    g_assert_cmpint(wenshu_attachment_get_kind(a), ==, WENSHU_ATTACHMENT_VIDEO);
    g_test_message("duration: %.3f s, ffprobe %.3f s", wenshu_attachment_get_duration(a), want);
    g_assert_cmpfloat(fabs(wenshu_attachment_get_duration(a) - want), <=, 0.1 + 1e-6);
    int n = wenshu_attachment_get_n_keyframes(a);
    g_assert_cmpint(n, >=, 1);
    g_assert_cmpint(n, <=, 6);
    double last = -1;
    for (int i = 0; i < n; i++) {
        double t = 0;
        GdkTexture *frame = wenshu_attachment_get_keyframe(a, i, &t);
        g_assert_nonnull(frame);
        g_assert_cmpint(MAX(gdk_texture_get_width(frame), gdk_texture_get_height(frame)), <=, 160);
        g_assert_cmpfloat(t, >, last);
        g_assert_cmpfloat(t, <=, want);
        last = t;
    }
    GdkTexture *thumb = wenshu_attachment_get_thumbnail(a);
    g_assert_nonnull(thumb);
    g_assert_cmpint(MAX(gdk_texture_get_width(thumb), gdk_texture_get_height(thumb)), <=, 96);
    char *summary = g_strdup_printf("0:03 · %d keyframes", n);
    g_assert_cmpstr(wenshu_attachment_get_summary(a), ==, summary);
    g_free(summary);
    GtkWidget *strip = gui_find_named(GTK_WIDGET(f->bar), "keyframes");
    g_assert_nonnull(strip);
    int n_pictures = 0;
    for (GtkWidget *c = gtk_widget_get_first_child(strip); c; c = gtk_widget_get_next_sibling(c)) {
        g_assert_true(GTK_IS_PICTURE(c));
        g_assert_nonnull(gtk_widget_get_tooltip_text(c));
        n_pictures++;
    }
    g_assert_cmpint(n_pictures, ==, n);
    gui_save_screenshot(GTK_WIDGET(f->window), "attach-video", 300);

    /* under a name that says nothing, the content tells it is a video */
    char *bytes = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(clip, &bytes, &len, NULL));
    char *unnamed = tmp_path(f, "recording");
    write_file(unnamed, bytes, (gssize)len);
    a = attach(f, unnamed);
    g_assert_nonnull(a);
    g_assert_cmpint(wenshu_attachment_get_kind(a), ==, WENSHU_ATTACHMENT_VIDEO);
    g_assert_cmpint(wenshu_attachment_get_n_keyframes(a), ==, n);
    g_free(unnamed);
    g_free(bytes);
    g_free(clip);
}

static gboolean n_items_reached(gpointer data)
{
    Fixture *f = data;
    guint want = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(f->bar), "test-want"));
    return n_items(f) >= want && wenshu_attachment_bar_get_n_pending(f->bar) == 0;
}

static void wait_items(Fixture *f, guint want, const char *what)
{
    g_object_set_data(G_OBJECT(f->bar), "test-want", GUINT_TO_POINTER(want));
    gui_wait_until(n_items_reached, f, LOAD_WAIT_MS, what);
    g_assert_cmpuint(n_items(f), ==, want);
}

static GtkDropTarget *find_drop_target(GtkWidget *widget)
{
    GListModel *controllers = gtk_widget_observe_controllers(widget);
    GtkDropTarget *found = NULL;
    for (guint i = 0; i < g_list_model_get_n_items(controllers) && !found; i++) {
        GObject *c = g_list_model_get_item(controllers, i);
        if (GTK_IS_DROP_TARGET(c))
            found = GTK_DROP_TARGET(c);
        g_object_unref(c); /* the widget keeps it */
    }
    g_object_unref(controllers);
    return found;
}

static void test_drop(Fixture *f, gconstpointer data)
{
    (void)data;
    char *text = tmp_path(f, "dropped.md"), *png = tmp_path(f, "dropped.png");
    write_file(text, "# Dropped\n", -1);
    double mean[3];
    write_pattern_png(png, 50, 30, mean);
    GtkDropTarget *target = find_drop_target(GTK_WIDGET(f->bar));
    g_assert_nonnull(target);
    GSList *files = g_slist_append(NULL, g_file_new_for_path(text));
    files = g_slist_append(files, g_file_new_for_path(png));
    GdkFileList *list = gdk_file_list_new_from_list(files);
    g_slist_free_full(files, g_object_unref);
    GValue value = G_VALUE_INIT;
    g_value_init(&value, GDK_TYPE_FILE_LIST);
    g_value_take_boxed(&value, list);
    gboolean accepted = FALSE;
    g_signal_emit_by_name(target, "drop", &value, 10.0, 10.0, &accepted);
    g_value_unset(&value);
    g_assert_true(accepted);
    wait_items(f, 2, "the dropped files");
    g_assert_cmpint(count_named(GTK_WIDGET(f->bar), "attachment-chip"), ==, 2);
    /* the chips keep the items' order whichever load finished first */
    GtkWidget *chips = gui_find_named(GTK_WIDGET(f->bar), "attachment-chips");
    GtkWidget *first = gtk_widget_get_first_child(chips);
    g_assert_cmpstr(gtk_widget_get_tooltip_text(first), ==, wenshu_attachment_get_name(item(f, 0)));

    /* a drop onto a widget the owner names */
    GtkWidget *view = gtk_text_view_new();
    g_object_ref_sink(view);
    wenshu_attachment_bar_add_drop_target(f->bar, view);
    target = find_drop_target(view);
    g_assert_nonnull(target);
    GFile *one = g_file_new_for_path(text);
    g_value_init(&value, G_TYPE_FILE);
    g_value_take_object(&value, one);
    g_signal_emit_by_name(target, "drop", &value, 0.0, 0.0, &accepted);
    g_value_unset(&value);
    g_assert_true(accepted);
    wait_items(f, 3, "the file dropped on the text view");
    g_object_unref(view);
    g_free(text);
    g_free(png);
}

static gboolean n_items_or_refused(gpointer data)
{
    Fixture *f = data;
    return (n_items(f) > 0 || f->refusals->len > 0) &&
           wenshu_attachment_bar_get_n_pending(f->bar) == 0;
}

static void test_paste(Fixture *f, gconstpointer data)
{
    (void)data;
    GdkClipboard *clipboard = gtk_widget_get_clipboard(GTK_WIDGET(f->bar));

    /* an image: saved as a PNG, attached, the same pixels */
    GdkTexture *texture = pattern_texture();
    gdk_clipboard_set_texture(clipboard, texture);
    g_assert_true(wenshu_attachment_bar_paste(f->bar, clipboard));
    gui_wait_until(n_items_or_refused, f, LOAD_WAIT_MS, "the pasted image");
    g_assert_cmpuint(f->refusals->len, ==, 0);
    g_assert_cmpuint(n_items(f), ==, 1);
    WenshuAttachment *a = item(f, 0);
    g_assert_cmpint(wenshu_attachment_get_kind(a), ==, WENSHU_ATTACHMENT_IMAGE);
    g_assert_cmpstr(wenshu_attachment_get_summary(a), ==, "64 × 40");
    assert_same_pixels(wenshu_attachment_get_thumbnail(a), texture);
    GError *error = NULL;
    GdkTexture *saved = gdk_texture_new_from_filename(wenshu_attachment_get_path(a), &error);
    g_assert_no_error(error);
    assert_same_pixels(saved, texture);
    g_object_unref(saved);
    g_object_unref(texture);

    /* a list of files */
    char *t1 = tmp_path(f, "one.txt"), *t2 = tmp_path(f, "two.txt");
    write_file(t1, "one\n", -1);
    write_file(t2, "two\n", -1);
    GSList *files = g_slist_append(NULL, g_file_new_for_path(t1));
    files = g_slist_append(files, g_file_new_for_path(t2));
    GdkFileList *list = gdk_file_list_new_from_list(files);
    g_slist_free_full(files, g_object_unref);
    gdk_clipboard_set(clipboard, GDK_TYPE_FILE_LIST, list);
    g_boxed_free(GDK_TYPE_FILE_LIST, list);
    g_assert_true(wenshu_attachment_bar_paste(f->bar, clipboard));
    wait_items(f, 3, "the pasted files");
    g_assert_cmpstr(wenshu_attachment_get_text(item(f, 1)), ==, "one\n");
    g_assert_cmpstr(wenshu_attachment_get_text(item(f, 2)), ==, "two\n");

    /* plain text is left to the text view */
    gdk_clipboard_set_text(clipboard, "just words");
    g_assert_false(wenshu_attachment_bar_paste(f->bar, clipboard));
    gui_spin(100);
    g_assert_cmpuint(n_items(f), ==, 3);
    g_free(t1);
    g_free(t2);
}

static void test_accept_media(Fixture *f, gconstpointer data)
{
    (void)data;
    char *png = tmp_path(f, "chart.png"), *txt = tmp_path(f, "memo.txt");
    double mean[3];
    write_pattern_png(png, 40, 40, mean);
    write_file(txt, "memo\n", -1);
    g_assert_nonnull(attach(f, png));
    g_assert_nonnull(attach(f, txt));
    int changed = f->n_changed;

    static const char reason[] = "the model reads text only";
    wenshu_attachment_bar_set_accept_media(f->bar, FALSE, reason);
    g_assert_cmpuint(n_items(f), ==, 1);
    g_assert_cmpint(wenshu_attachment_get_kind(item(f, 0)), ==, WENSHU_ATTACHMENT_TEXT);
    g_assert_cmpuint(f->refusals->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(f->refusals, 0), ==, "chart.png: the model reads text only");
    g_assert_cmpint(f->n_changed, ==, changed + 1);
    g_assert_cmpint(count_named(GTK_WIDGET(f->bar), "attachment-chip"), ==, 1);

    /* a picture added later is refused too; text still comes in */
    g_assert_null(attach(f, png));
    g_assert_cmpstr(g_ptr_array_index(f->refusals, 1), ==, "chart.png: the model reads text only");
    g_assert_nonnull(attach(f, txt));

    wenshu_attachment_bar_set_accept_media(f->bar, TRUE, NULL);
    g_assert_nonnull(attach(f, png));
    g_assert_cmpuint(n_items(f), ==, 3);
    g_free(png);
    g_free(txt);
}

static gboolean n_items_at_most(gpointer data)
{
    Fixture *f = data;
    return n_items(f) <= GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(f->bar), "test-want"));
}

/* The remove button of the chip showing name. */
static GtkWidget *remove_button_of(Fixture *f, const char *name)
{
    GtkWidget *chips = gui_find_named(GTK_WIDGET(f->bar), "attachment-chips");
    for (GtkWidget *c = gtk_widget_get_first_child(chips); c; c = gtk_widget_get_next_sibling(c))
        if (g_strcmp0(gtk_widget_get_tooltip_text(c), name) == 0)
            return gui_find_named(c, "remove-attachment");
    return NULL;
}

static void test_remove_and_labels(Fixture *f, gconstpointer data)
{
    (void)data;
    char *a = tmp_path(f, "alpha.txt"), *b = tmp_path(f, "beta.png");
    write_file(a, "alpha\n", -1);
    double mean[3];
    write_pattern_png(b, 120, 80, mean);
    g_assert_nonnull(attach(f, a));
    g_assert_nonnull(attach(f, b));
    char *clip = make_clip(f);
    if (clip)
        g_assert_nonnull(attach(f, clip));

    /* every icon-only button has an accessible label */
    GString *bad = g_string_new(NULL);
    int n_icon_buttons = 0;
    gui_find_unlabelled(GTK_WIDGET(f->window), bad, &n_icon_buttons);
    g_assert_cmpstr(bad->str, ==, "");
    g_assert_cmpint(n_icon_buttons, ==, 1 + (int)n_items(f)); /* add + one remove a chip */
    g_string_free(bad, TRUE);
    GtkWidget *add = gui_find_named(GTK_WIDGET(f->bar), "attach-files");
    char *mismatch = gtk_test_accessible_check_property(
        GTK_ACCESSIBLE(add), GTK_ACCESSIBLE_PROPERTY_LABEL, "Attach files");
    g_assert_null(mismatch);
    GtkWidget *remove = remove_button_of(f, "alpha.txt");
    g_assert_nonnull(remove);
    mismatch = gtk_test_accessible_check_property(
        GTK_ACCESSIBLE(remove), GTK_ACCESSIBLE_PROPERTY_LABEL, "Remove alpha.txt");
    g_assert_null(mismatch);

    gui_save_screenshot(GTK_WIDGET(f->window), "attach-bar", 300);

    /* the remove button */
    guint before = n_items(f);
    int changed = f->n_changed;
    g_object_set_data(G_OBJECT(f->bar), "test-want", GUINT_TO_POINTER(before - 1));
    gtk_widget_activate(remove); /* a button emits "clicked" when its press animation ends */
    gui_wait_until(n_items_at_most, f, 5000, "the chip removed");
    g_assert_cmpuint(n_items(f), ==, before - 1);
    g_assert_cmpint(f->n_changed, ==, changed + 1);
    g_assert_null(remove_button_of(f, "alpha.txt"));
    g_assert_cmpstr(wenshu_attachment_get_name(item(f, 0)), ==, "beta.png");

    /* clear drops the rest, and a load in flight */
    GFile *file = g_file_new_for_path(a);
    wenshu_attachment_bar_add_file(f->bar, file);
    g_object_unref(file);
    wenshu_attachment_bar_clear(f->bar);
    g_assert_cmpuint(n_items(f), ==, 0);
    g_assert_cmpint(wenshu_attachment_bar_get_n_pending(f->bar), ==, 0);
    g_assert_null(gui_find_named(GTK_WIDGET(f->bar), "attachment-loading"));
    gui_spin(500); /* the cancelled load's callback comes and adds nothing */
    g_assert_cmpuint(n_items(f), ==, 0);
    g_free(clip);
    g_free(a);
    g_free(b);
}

/* Dispose: loads in flight are cancelled (their callbacks touch nothing);
 * a pasted image stays in $XDG_DATA_HOME/wenshu/pasted (the history refers
 * to it by path). */
static void test_dispose(Fixture *f, gconstpointer data)
{
    (void)data;
    GdkClipboard *clipboard = gtk_widget_get_clipboard(GTK_WIDGET(f->bar));
    GdkTexture *texture = pattern_texture();
    gdk_clipboard_set_texture(clipboard, texture);
    g_object_unref(texture);
    g_assert_true(wenshu_attachment_bar_paste(f->bar, clipboard));
    gui_wait_until(n_items_or_refused, f, LOAD_WAIT_MS, "the pasted image");
    g_assert_cmpuint(n_items(f), ==, 1);
    char *pasted = g_strdup(wenshu_attachment_get_path(item(f, 0)));
    char *paste_dir = g_path_get_dirname(pasted);
    char *want_dir = g_build_filename(g_get_user_data_dir(), "wenshu", "pasted", NULL);
    g_assert_cmpstr(paste_dir, ==, want_dir);

    char *clip = make_clip(f);
    char *text = tmp_path(f, "late.txt");
    write_file(text, "late\n", -1);
    GFile *file = g_file_new_for_path(clip ? clip : text);
    wenshu_attachment_bar_add_file(f->bar, file);
    g_object_unref(file);
    g_assert_cmpint(wenshu_attachment_bar_get_n_pending(f->bar), ==, 1);
    int changed = f->n_changed;
    guint refused = f->refusals->len;
    gui_close_window(f->window); /* disposes the bar with the load in flight */
    f->window = NULL;
    gui_spin(1000); /* the load ends meanwhile; its callback must do nothing */
    g_assert_cmpint(f->n_changed, ==, changed);
    g_assert_cmpuint(f->refusals->len, ==, refused);
    g_assert_true(g_file_test(pasted, G_FILE_TEST_IS_REGULAR));
    g_free(pasted);
    g_free(want_dir);
    g_free(text);
    g_free(clip);
    g_free(paste_dir);
}

int main(int argc, char **argv)
{
    g_setenv("LC_ALL", "C.UTF-8", TRUE); /* the English strings */
    /* pasted images go to the user's data folder: a temporary one here */
    g_autofree char *data_home = g_dir_make_tmp("wenshu-attach-data-XXXXXX", NULL);
    g_assert_nonnull(data_home);
    g_setenv("XDG_DATA_HOME", data_home, TRUE);
    gui_init(&argc, &argv, TRUE);
    g_test_add("/gui/attach/text", Fixture, NULL, fixture_setup, test_text, fixture_teardown);
    g_test_add("/gui/attach/documents", Fixture, NULL, fixture_setup, test_documents,
               fixture_teardown);
    g_test_add("/gui/attach/image", Fixture, NULL, fixture_setup, test_image, fixture_teardown);
    g_test_add("/gui/attach/refusals", Fixture, NULL, fixture_setup, test_refusals,
               fixture_teardown);
    g_test_add("/gui/attach/too-large", Fixture, NULL, fixture_setup, test_too_large,
               fixture_teardown);
    g_test_add("/gui/attach/video", Fixture, NULL, fixture_setup, test_video, fixture_teardown);
    g_test_add("/gui/attach/drop", Fixture, NULL, fixture_setup, test_drop, fixture_teardown);
    g_test_add("/gui/attach/paste", Fixture, NULL, fixture_setup, test_paste, fixture_teardown);
    g_test_add("/gui/attach/accept-media", Fixture, NULL, fixture_setup, test_accept_media,
               fixture_teardown);
    g_test_add("/gui/attach/remove-and-labels", Fixture, NULL, fixture_setup,
               test_remove_and_labels, fixture_teardown);
    g_test_add("/gui/attach/dispose", Fixture, NULL, fixture_setup, test_dispose,
               fixture_teardown);
    int status = g_test_run();
    g_autofree char *pasted_dir = g_build_filename(data_home, "wenshu", "pasted", NULL);
    g_autofree char *wenshu_dir = g_build_filename(data_home, "wenshu", NULL);
    gui_remove_tree(pasted_dir);
    g_rmdir(wenshu_dir);
    g_rmdir(data_home);
    return status;
}
