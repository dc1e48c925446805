/* test-gui-pages.c: the 幻灯片 and 视频摘要 pages in a real window under Xvfb.
 *
 * The expectations come from outside the pages: the slide count from the
 * hand-written outline in this file, checked against the PPTX's zip listing
 * (libzip) and the PDF's pages (poppler); the outline the tiny synth model
 * writes, parsed with json-glib; the chapters of a video ffmpeg draws here
 * from solid colour scenes of known lengths (red 0-8 s, green 8-17 s, blue
 * 17-24 s), and the SRT read back with a regular expression. PNG
 * screenshots are left in $WENSHU_BUILD_DIR/gui-artifacts/.
 *
 * Run with G_DEBUG=fatal-warnings: any GTK warning fails the test.
 */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <poppler.h>
#include <string.h>
#include <zip.h>

#include "gui-fixture.h"
#include "wenshu-clip-page.h"
#include "wenshu-runner.h"
#include "wenshu-slides-page.h"

#define WAIT_SECONDS 60
#define MODEL_WAIT_SECONDS 280

typedef struct {
    GtkWindow *window;
    WenshuRunner *runner;
    GtkWidget *page;
    char *tmpdir;
} Fixture;

/* Four content slides: the title slide makes five pages. */
static const char outline_deck[] =
    "{\"title\": \"安全生产大检查\", \"subtitle\": \"临江市应急管理局\",\n"
    " \"slides\": [\n"
    "  {\"title\": \"背景\", \"bullets\": [\"去年事故起数下降\", \"隐患仍然集中\"]},\n"
    "  {\"title\": \"范围\", \"bullets\": [\"危险化学品\", \"建筑施工\", "
    "{\"text\": \"老旧小区燃气\", \"level\": 1}]},\n"
    "  {\"title\": \"步骤\", \"bullets\": [\"自查\", \"督查\", \"整改\"], \"notes\": "
    "\"按月推进\"},\n"
    "  {\"title\": \"要求\", \"bullets\": [\"5月10日前报送\"], \"image\": true}\n"
    " ]}\n";
#define OUTLINE_DECK_SLIDES 4

/* The model's outline form: "points" where the bullets go later. */
static const char outline_points[] =
    "{\"title\": \"Quarterly review\", \"subtitle\": null, \"slides\": [\n"
    "  {\"title\": \"Results\", \"points\": [\"Revenue up\", \"Costs flat\"]},\n"
    "  {\"title\": \"Next\", \"points\": [\"Hire two\", \"Ship v2\"]}]}\n";
#define OUTLINE_POINTS_SLIDES 2

/* ---- helpers -------------------------------------------------------------------------- */

typedef struct {
    gboolean done;
    int value;
} IntWait;

static void on_int_signal(GtkWidget *page, int value, IntWait *wait)
{
    (void)page;
    wait->done = TRUE;
    wait->value = value;
}

static GtkWidget *named(Fixture *f, const char *name)
{
    GtkWidget *w = gui_find_named(f->page, name);
    g_assert_nonnull(w);
    return w;
}

static int n_children(GtkWidget *w)
{
    int n = 0;
    for (GtkWidget *c = gtk_widget_get_first_child(w); c; c = gtk_widget_get_next_sibling(c))
        n++;
    return n;
}

/* Slides in a PPTX: the zip entries named ppt/slides/slide<N>.xml. */
static int pptx_slides(const char *path)
{
    int zerr = 0;
    zip_t *zip = zip_open(path, ZIP_RDONLY, &zerr);
    g_assert_nonnull(zip);
    GRegex *re = g_regex_new("^ppt/slides/slide[0-9]+\\.xml$", 0, 0, NULL);
    int n = 0;
    for (zip_int64_t i = 0; i < zip_get_num_entries(zip, 0); i++)
        if (g_regex_match(re, zip_get_name(zip, (zip_uint64_t)i, 0), 0, NULL))
            n++;
    g_regex_unref(re);
    zip_close(zip);
    return n;
}

/* Each thumbnail against poppler's render of the exported PDF: close to
 * its own page, and clearly closer to it than to the next page. */
static void compare_thumbnails_with_pdf(GtkWidget *thumbs, const char *pdf_path)
{
    PopplerDocument *doc = NULL;
    int n = gui_pdf_pages(pdf_path, &doc);
    int i = 0;
    for (GtkWidget *c = gtk_widget_get_first_child(thumbs); c; c = gtk_widget_get_next_sibling(c)) {
        GdkTexture *thumb = GDK_TEXTURE(gtk_picture_get_paintable(GTK_PICTURE(c)));
        int w = gdk_texture_get_width(thumb), h = gdk_texture_get_height(thumb);
        cairo_surface_t *own = gui_render_pdf_page(doc, i, w, h);
        cairo_surface_t *next = gui_render_pdf_page(doc, (i + 1) % n, w, h);
        double d_own = gui_block_mean_diff(thumb, own, 8);
        double d_next = gui_block_mean_diff(thumb, next, 8);
        g_test_message("thumbnail %d: |thumb - pdf page| = %.3f, |thumb - next page| = %.3f", i + 1,
                       d_own, d_next);
        g_assert_cmpfloat(d_own, <, 0.6); /* measured 0.07-0.33 */
        g_assert_cmpfloat(d_own * 3, <, d_next);
        cairo_surface_destroy(own);
        cairo_surface_destroy(next);
        i++;
    }
    g_assert_cmpint(i, ==, n);
    g_object_unref(doc);
}

/* ---- fixture --------------------------------------------------------------------------- */

static void fixture_setup(Fixture *f, gconstpointer data)
{
    GError *error = NULL;
    f->tmpdir = g_dir_make_tmp("wenshu-gui-pages-XXXXXX", &error);
    g_assert_no_error(error);
    f->runner = wenshu_runner_new();
    f->page =
        g_str_equal(data, "slides") ? wenshu_slides_page_new(f->runner) : wenshu_clip_page_new();
    f->window = gui_present_in_window(f->page, 1280, 800);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    gui_close_window(f->window);
    g_clear_object(&f->runner);
    gui_remove_tree(f->tmpdir);
    g_free(f->tmpdir);
}

/* ---- slides ----------------------------------------------------------------------------- */

static int set_outline_and_wait(Fixture *f, const char *json)
{
    IntWait wait = {0};
    gulong id = g_signal_connect(f->page, "preview-ready", G_CALLBACK(on_int_signal), &wait);
    wenshu_slides_page_set_outline_text(WENSHU_SLIDES_PAGE(f->page), json);
    gui_wait_flag(&wait.done, WAIT_SECONDS * 1000, "preview-ready");
    g_signal_handler_disconnect(f->page, id);
    return wait.value;
}

static void export_and_count(Fixture *f, const char *stem, int expected_pages)
{
    char *pptx = g_strdup_printf("%s/%s.pptx", f->tmpdir, stem);
    char *pdf = g_strdup_printf("%s/%s.pdf", f->tmpdir, stem);
    GError *error = NULL;
    g_assert_true(wenshu_slides_page_export(WENSHU_SLIDES_PAGE(f->page), pptx, pdf, &error));
    g_assert_no_error(error);
    g_assert_cmpint(pptx_slides(pptx), ==, expected_pages);
    g_assert_cmpint(gui_pdf_pages(pdf, NULL), ==, expected_pages);
    g_free(pptx);
    g_free(pdf);
}

static void test_slides_thumbnails_export(Fixture *f, gconstpointer data)
{
    (void)data;
    GtkWidget *thumbs = named(f, "thumbnails");
    /* the deck form: a title slide and each slide */
    g_assert_cmpint(set_outline_and_wait(f, outline_deck), ==, OUTLINE_DECK_SLIDES + 1);
    g_assert_cmpint(n_children(thumbs), ==, OUTLINE_DECK_SLIDES + 1);
    GtkWidget *first = gtk_widget_get_first_child(thumbs);
    GdkPaintable *thumb = gtk_picture_get_paintable(GTK_PICTURE(first));
    g_assert_cmpint(gdk_paintable_get_intrinsic_width(thumb), ==, 640); /* 48 dpi of 960 x 540 pt */
    g_assert_cmpint(gdk_paintable_get_intrinsic_height(thumb), ==, 360);
    gui_save_screenshot(GTK_WIDGET(f->window), "gui-pages-slides", 300);
    export_and_count(f, "deck", OUTLINE_DECK_SLIDES + 1);
    char *pdf = g_build_filename(f->tmpdir, "deck.pdf", NULL);
    compare_thumbnails_with_pdf(thumbs, pdf);
    g_free(pdf);

    /* the dark theme exports the same pages */
    gtk_drop_down_set_selected(GTK_DROP_DOWN(named(f, "theme")), 2);
    export_and_count(f, "deck-dark", OUTLINE_DECK_SLIDES + 1);

    /* the model's outline form: points stand in for bullets */
    g_assert_cmpint(set_outline_and_wait(f, outline_points), ==, OUTLINE_POINTS_SLIDES + 1);
    g_assert_cmpint(n_children(thumbs), ==, OUTLINE_POINTS_SLIDES + 1);
    export_and_count(f, "points", OUTLINE_POINTS_SLIDES + 1);

    /* broken JSON: no thumbnails, a reason, and no file at the target */
    g_assert_cmpint(set_outline_and_wait(f, "{\"title\": \"x\", \"slides\": [{\"title\":"), ==, 0);
    g_assert_cmpint(n_children(thumbs), ==, 0);
    g_assert_cmpstr(gtk_label_get_text(GTK_LABEL(named(f, "status"))), !=, "");
    char *pptx = g_build_filename(f->tmpdir, "broken.pptx", NULL);
    GError *error = NULL;
    g_assert_false(wenshu_slides_page_export(WENSHU_SLIDES_PAGE(f->page), pptx, NULL, &error));
    g_assert_nonnull(error);
    g_test_message("broken outline: %s", error->message);
    g_assert_false(g_file_test(pptx, G_FILE_TEST_EXISTS));
    g_clear_error(&error);
    g_free(pptx);
}

static void test_slides_source(Fixture *f, gconstpointer data)
{
    (void)data;
    char *path = g_build_filename(f->tmpdir, "notes.md", NULL);
    g_assert_true(g_file_set_contents(path, "# 会议纪要\n\n检查分三步。\n", -1, NULL));
    GError *error = NULL;
    g_assert_true(wenshu_slides_page_set_source(WENSHU_SLIDES_PAGE(f->page), path, &error));
    g_assert_no_error(error);
    g_assert_nonnull(strstr(gtk_label_get_text(GTK_LABEL(named(f, "source"))), "notes.md"));
    char *missing = g_build_filename(f->tmpdir, "missing.docx", NULL);
    g_assert_false(wenshu_slides_page_set_source(WENSHU_SLIDES_PAGE(f->page), missing, &error));
    g_assert_nonnull(strstr(error->message, "missing.docx"));
    g_clear_error(&error);
    g_free(missing);
    g_free(path);
}

/* ---- slides with the tiny model ------------------------------------------------------- */

typedef struct {
    gboolean done, ok;
    GString *streamed;
} OutlineWait;

static void on_outlined(GtkWidget *page, gboolean ok, OutlineWait *wait)
{
    (void)page;
    wait->done = TRUE;
    wait->ok = ok;
}

static void on_tokens(WenshuRunner *runner, const char *text, OutlineWait *wait)
{
    (void)runner;
    if (text)
        g_string_append(wait->streamed, text);
}

static guint json_slides(const char *json)
{
    JsonParser *parser = json_parser_new();
    GError *error = NULL;
    g_assert_true(json_parser_load_from_data(parser, json, -1, &error));
    g_assert_no_error(error);
    JsonObject *root = json_node_get_object(json_parser_get_root(parser));
    g_assert_nonnull(root);
    g_assert_true(json_object_has_member(root, "title"));
    guint n = json_array_get_length(json_object_get_array_member(root, "slides"));
    g_object_unref(parser);
    return n;
}

static void test_slides_outline_with_model(Fixture *f, gconstpointer data)
{
    (void)data;
    char *model = gui_make_fixture_model(GUI_QWEN3_MODEL, TRUE);
    if (!model) {
        g_test_skip("no Qwen3 tokenizer under tests/reference/node_modules");
        return;
    }
    g_assert_false(gtk_widget_activate_action(f->page, "slides.outline", NULL) &&
                   wenshu_runner_is_running(f->runner)); /* no model yet */
    gui_load_model_cpu(f->runner, model, MODEL_WAIT_SECONDS * 1000);

    const int n_slides = 3;
    gtk_editable_set_text(GTK_EDITABLE(named(f, "topic")), "安全生产大检查");
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(named(f, "count")), n_slides);
    OutlineWait wait = {.streamed = g_string_new(NULL)};
    gulong o = g_signal_connect(f->page, "outlined", G_CALLBACK(on_outlined), &wait);
    gulong t = g_signal_connect(f->runner, "tokens", G_CALLBACK(on_tokens), &wait);
    g_assert_true(gtk_widget_activate_action(f->page, "slides.outline", NULL));
    g_assert_true(wenshu_runner_is_running(f->runner));
    gui_wait_flag(&wait.done, MODEL_WAIT_SECONDS * 1000, "the outline");
    g_test_message("outline: %s", wait.streamed->str);
    g_assert_true(wait.ok);
    /* what the model streamed, and what the view now holds, parse with n slides */
    g_assert_cmpuint(json_slides(wait.streamed->str), ==, (guint)n_slides);
    char *view = wenshu_slides_page_get_outline_text(WENSHU_SLIDES_PAGE(f->page));
    g_assert_cmpuint(json_slides(view), ==, (guint)n_slides);
    g_free(view);

    /* the slides step: one turn a slide, the bar counts them, the deck renders */
    OutlineWait generated = {.streamed = g_string_new(NULL)};
    gulong g = g_signal_connect(f->page, "generated", G_CALLBACK(on_outlined), &generated);
    g_assert_true(gtk_widget_activate_action(f->page, "slides.generate", NULL));
    gui_wait_flag(&generated.done, MODEL_WAIT_SECONDS * 1000, "the slides");
    g_assert_true(generated.ok);
    char *bar = g_strdup_printf("%d / %d", n_slides, n_slides);
    g_assert_cmpstr(gtk_progress_bar_get_text(GTK_PROGRESS_BAR(named(f, "progress"))), ==, bar);
    g_free(bar);
    view = wenshu_slides_page_get_outline_text(WENSHU_SLIDES_PAGE(f->page));
    g_test_message("deck: %s", view);
    g_assert_cmpuint(json_slides(view), ==, (guint)n_slides);
    g_assert_nonnull(strstr(view, "\"bullets\""));
    g_assert_cmpint(set_outline_and_wait(f, view), ==, n_slides + 1);
    g_free(view);
    gui_save_screenshot(GTK_WIDGET(f->window), "gui-pages-slides-model", 300);

    /* Stop: the run ends as not generated, and Slides comes back */
    OutlineWait stopped = {.streamed = g_string_new(NULL)};
    gulong st = g_signal_connect(f->page, "generated", G_CALLBACK(on_outlined), &stopped);
    g_assert_true(gtk_widget_activate_action(f->page, "slides.generate", NULL));
    g_assert_true(gtk_widget_activate_action(f->page, "slides.stop", NULL));
    gui_wait_flag(&stopped.done, WAIT_SECONDS * 1000, "the stopped slides");
    g_assert_false(stopped.ok);
    g_assert_false(wenshu_runner_is_running(f->runner));
    g_signal_handler_disconnect(f->page, st);
    g_string_free(stopped.streamed, TRUE);
    g_signal_handler_disconnect(f->page, g);
    g_string_free(generated.streamed, TRUE);
    g_signal_handler_disconnect(f->page, o);
    g_signal_handler_disconnect(f->runner, t);
    g_string_free(wait.streamed, TRUE);
    g_free(model);
}

/* ---- clip ------------------------------------------------------------------------------ */

/* Solid colour scenes: red 0-8 s, green 8-17 s, blue 17-24 s. */
static char *make_video(Fixture *f)
{
    return gui_make_scenes_clip(f->tmpdir, "scenes.mp4", FALSE);
}

static gboolean open_and_wait(Fixture *f, const char *path)
{
    IntWait wait = {0};
    gulong id = g_signal_connect(f->page, "analysed", G_CALLBACK(on_int_signal), &wait);
    GError *error = NULL;
    g_assert_true(wenshu_clip_page_open(WENSHU_CLIP_PAGE(f->page), path, &error));
    g_assert_no_error(error);
    gui_wait_flag(&wait.done, WAIT_SECONDS * 1000, "analysed");
    g_signal_handler_disconnect(f->page, id);
    return wait.value;
}

/* SRT cue start times, read with a regular expression; -1 entries past n. */
static int srt_starts(const char *path, double *starts, int max)
{
    char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    GRegex *re = g_regex_new("^\\d+\\n(\\d\\d):(\\d\\d):(\\d\\d),(\\d\\d\\d) --> "
                             "\\d\\d:\\d\\d:\\d\\d,\\d\\d\\d\\n.+\\n",
                             G_REGEX_MULTILINE, 0, NULL);
    GMatchInfo *m = NULL;
    int n = 0;
    g_regex_match(re, text, 0, &m);
    while (g_match_info_matches(m) && n < max) {
        double t = 0;
        const double scale[4] = {3600, 60, 1, 0.001};
        for (int k = 0; k < 4; k++) {
            char *field = g_match_info_fetch(m, k + 1);
            t += scale[k] * g_ascii_strtod(field, NULL);
            g_free(field);
        }
        starts[n++] = t;
        g_match_info_next(m, NULL);
    }
    g_match_info_free(m);
    g_regex_unref(re);
    g_free(text);
    return n;
}

static void test_clip_chapters(Fixture *f, gconstpointer data)
{
    (void)data;
    char *video = make_video(f);
    if (!video) {
        g_test_skip("ffmpeg is not installed");
        return;
    }
    g_assert_true(open_and_wait(f, video));
    const double expected[3] = {0, 8, 17};
    int n = 0;
    const struct clip_chapter *chapters =
        wenshu_clip_page_get_chapters(WENSHU_CLIP_PAGE(f->page), &n);
    g_assert_cmpint(n, ==, 3);
    for (int i = 0; i < 3; i++) {
        g_test_message("chapter %d: %.2f-%.2f %s", i, chapters[i].start, chapters[i].end,
                       chapters[i].title);
        g_assert_cmpfloat(fabs(chapters[i].start - expected[i]), <=, 0.5);
    }
    g_assert_cmpfloat(fabs(chapters[2].end - 24.0), <=, 0.5);
    g_assert_cmpint(n_children(named(f, "timeline")), ==, 3);
    g_assert_cmpfloat(gtk_progress_bar_get_fraction(GTK_PROGRESS_BAR(named(f, "progress"))), ==,
                      1.0);
    gui_save_screenshot(GTK_WIDGET(f->window), "gui-pages-clip", 300);

    char *srt = g_build_filename(f->tmpdir, "chapters.srt", NULL);
    char *vtt = g_build_filename(f->tmpdir, "chapters.vtt", NULL);
    char *md = g_build_filename(f->tmpdir, "summary.md", NULL);
    char *sheet = g_build_filename(f->tmpdir, "sheet.png", NULL);
    GError *error = NULL;
    g_assert_true(wenshu_clip_page_export(WENSHU_CLIP_PAGE(f->page), srt, vtt, md, sheet, &error));
    g_assert_no_error(error);
    double starts[8];
    g_assert_cmpint(srt_starts(srt, starts, 8), ==, 3);
    for (int i = 0; i < 3; i++)
        g_assert_cmpfloat(fabs(starts[i] - expected[i]), <=, 0.5);
    char *text = NULL;
    g_assert_true(g_file_get_contents(vtt, &text, NULL, NULL));
    g_assert_true(g_str_has_prefix(text, "WEBVTT"));
    g_free(text);
    g_assert_true(g_file_get_contents(md, &text, NULL, NULL));
    g_assert_nonnull(strstr(text, "## [00:00:08]"));
    g_free(text);
    /* the sheet: three 240 px tiles with 8 px margins in one row (clip.h) */
    GdkTexture *png = gdk_texture_new_from_filename(sheet, &error);
    g_assert_no_error(error);
    g_assert_cmpint(gdk_texture_get_width(png), ==, 8 + 3 * (240 + 8));
    g_object_unref(png);
    g_free(srt);
    g_free(vtt);
    g_free(md);
    g_free(sheet);

    /* a file that is not a video: a reason naming it, no chapters */
    char *bad = g_build_filename(f->tmpdir, "not-a-video.mp4", NULL);
    g_assert_true(g_file_set_contents(bad, "hello", -1, NULL));
    g_assert_false(open_and_wait(f, bad));
    g_assert_nonnull(strstr(gtk_label_get_text(GTK_LABEL(named(f, "status"))), "not-a-video"));
    wenshu_clip_page_get_chapters(WENSHU_CLIP_PAGE(f->page), &n);
    g_assert_cmpint(n, ==, 0);
    g_assert_false(
        wenshu_clip_page_export(WENSHU_CLIP_PAGE(f->page), srt, NULL, NULL, NULL, &error));
    g_clear_error(&error);
    g_free(bad);
    g_free(video);
}

int main(int argc, char **argv)
{
    g_setenv("GSETTINGS_BACKEND", "memory", FALSE);
    g_setenv("GTK_A11Y", "test", FALSE); /* no AT-SPI bus under Xvfb */
    gui_init(&argc, &argv, FALSE);
    g_test_add("/gui/pages/slides-thumbnails-export", Fixture, "slides", fixture_setup,
               test_slides_thumbnails_export, fixture_teardown);
    g_test_add("/gui/pages/slides-source", Fixture, "slides", fixture_setup, test_slides_source,
               fixture_teardown);
    g_test_add("/gui/pages/slides-outline-with-model", Fixture, "slides", fixture_setup,
               test_slides_outline_with_model, fixture_teardown);
    g_test_add("/gui/pages/clip-chapters", Fixture, "clip", fixture_setup, test_clip_chapters,
               fixture_teardown);
    return g_test_run();
}
