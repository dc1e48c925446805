/* test-gui-gongwen.c: the 公文 page in a real window under Xvfb.
 *
 * The expectations come from outside the page: the format check's findings
 * from the first line of each hand-written draft in data/gongwen/faulty
 * ("<!-- expect: rule ... -->") and the silence of data/gongwen/clean; the
 * line an issue points at from the draft file itself; the exported PDF's
 * page count from `wenshu-cli format` of the same draft; the preview from
 * poppler's rendering of the exported PDF; and the DOCX from libzip. The
 * export action goes through the real file chooser. With the tiny synth
 * model (the real Qwen3 vocab) the page drafts end to end through the
 * runner, streaming into the view, and Stop ends a run. PNG screenshots of
 * the window are left in $WENSHU_BUILD_DIR/gui-artifacts/.
 *
 * Run with G_DEBUG=fatal-warnings: any GTK warning fails the test.
 */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <math.h>
#include <poppler.h>
#include <string.h>
#include <zip.h>

#include "gui-fixture.h"
#include "wenshu-gongwen-page.h"
#include "wenshu-runner.h"

#define WAIT_SECONDS 60
#define MODEL_WAIT_SECONDS 280

typedef struct {
    GtkWindow *window;
    WenshuRunner *runner;
    WenshuGongwenPage *page;
    char *tmpdir;
} Fixture;

/* ---- helpers -------------------------------------------------------------------------- */

static const char *tests_dir(void)
{
    const char *dir = g_getenv("WENSHU_TESTS_DIR");
    g_assert_nonnull(dir);
    return dir;
}

static char *data_path(const char *sub, const char *name)
{
    return g_build_filename(tests_dir(), "data", "gongwen", sub, name, NULL);
}

static char *read_text(const char *path)
{
    char *text = NULL;
    GError *error = NULL;
    g_file_get_contents(path, &text, NULL, &error);
    g_assert_no_error(error);
    return text;
}

/* An int-carrying signal of the page ("checked", "preview-ready"). */
typedef struct {
    gboolean done;
    int value;
} IntWait;

static void on_int_signal(WenshuGongwenPage *page, int value, IntWait *wait)
{
    (void)page;
    wait->done = TRUE;
    wait->value = value;
}

/* Set the draft and wait for the signal that follows it. */
static int set_and_wait(Fixture *f, const char *text, const char *signal)
{
    IntWait wait = {0};
    gulong id = g_signal_connect(f->page, signal, G_CALLBACK(on_int_signal), &wait);
    wenshu_gongwen_page_set_draft_text(f->page, text);
    gui_wait_flag(&wait.done, WAIT_SECONDS * 1000, signal);
    g_signal_handler_disconnect(f->page, id);
    return wait.value;
}

static GtkWidget *named(Fixture *f, const char *name)
{
    GtkWidget *w = gui_find_named(GTK_WIDGET(f->page), name);
    g_assert_nonnull(w);
    return w;
}

/* The rule ids of the rows in the issue list (borrowed strings). */
static GPtrArray *shown_rules(Fixture *f)
{
    GPtrArray *rules = g_ptr_array_new();
    GtkWidget *list = named(f, "issues");
    for (GtkWidget *row = gtk_widget_get_first_child(list); row;
         row = gtk_widget_get_next_sibling(row))
        g_ptr_array_add(rules, g_object_get_data(G_OBJECT(row), "wenshu-rule"));
    return rules;
}

static gboolean has_rule(GPtrArray *rules, const char *rule)
{
    for (guint i = 0; i < rules->len; i++)
        if (g_strcmp0(g_ptr_array_index(rules, i), rule) == 0)
            return TRUE;
    return FALSE;
}

/* The rule ids a faulty draft's first line promises; NULL-terminated. */
static char **expected_rules(const char *text)
{
    GRegex *expect = g_regex_new("<!--\\s*expect:([^>]*)-->", 0, 0, NULL);
    GMatchInfo *match = NULL;
    g_assert_true(g_regex_match(expect, text, 0, &match));
    char *list = g_match_info_fetch(match, 1);
    char **rules = g_regex_split_simple("\\s+", g_strstrip(list), 0, 0);
    g_free(list);
    g_match_info_free(match);
    g_regex_unref(expect);
    return rules;
}

static int cursor_line(GtkTextView *view)
{
    GtkTextBuffer *buffer = gtk_text_view_get_buffer(view);
    GtkTextIter cursor;
    gtk_text_buffer_get_iter_at_mark(buffer, &cursor, gtk_text_buffer_get_insert(buffer));
    return gtk_text_iter_get_line(&cursor) + 1;
}

/* ---- fixture --------------------------------------------------------------------------- */

static void fixture_setup(Fixture *f, gconstpointer data)
{
    (void)data;
    GError *error = NULL;
    f->tmpdir = g_dir_make_tmp("wenshu-gui-gongwen-XXXXXX", &error);
    g_assert_no_error(error);
    f->runner = wenshu_runner_new();
    f->page = WENSHU_GONGWEN_PAGE(wenshu_gongwen_page_new(f->runner));
    f->window = gui_present_in_window(GTK_WIDGET(f->page), 1400, 900);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    gui_close_window(f->window);
    g_clear_object(&f->runner);
    gui_remove_tree(f->tmpdir);
    g_free(f->tmpdir);
}

/* ---- the format check ------------------------------------------------------------------- */

static void test_check_clean(Fixture *f, gconstpointer data)
{
    (void)data;
    char *dir = g_build_filename(tests_dir(), "data", "gongwen", "clean", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    g_assert_nonnull(d);
    int n_files = 0;
    const char *name;
    while ((name = g_dir_read_name(d))) {
        if (!g_str_has_suffix(name, ".md"))
            continue;
        char *text = read_text(data_path("clean", name));
        int n = set_and_wait(f, text, "checked");
        if (n != 0)
            g_error("%s: the page shows %d issues for a clean draft", name, n);
        GPtrArray *rules = shown_rules(f);
        g_assert_cmpuint(rules->len, ==, 0);
        g_ptr_array_unref(rules);
        g_free(text);
        n_files++;
    }
    g_dir_close(d);
    g_free(dir);
    g_assert_cmpint(n_files, >=, 10);
}

static void test_check_faulty(Fixture *f, gconstpointer data)
{
    (void)data;
    char *dir = g_build_filename(tests_dir(), "data", "gongwen", "faulty", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    g_assert_nonnull(d);
    int n_files = 0;
    const char *name;
    while ((name = g_dir_read_name(d))) {
        if (!g_str_has_suffix(name, ".md"))
            continue;
        char *text = read_text(data_path("faulty", name));
        char **expected = expected_rules(text);
        int n = set_and_wait(f, text, "checked");
        GPtrArray *rules = shown_rules(f);
        g_assert_cmpint(n, ==, (int)rules->len);
        for (char **rule = expected; *rule; rule++)
            if (!has_rule(rules, *rule))
                g_error("%s: the page does not show the expected issue %s", name, *rule);
        g_ptr_array_unref(rules);
        g_strfreev(expected);
        g_free(text);
        n_files++;
    }
    g_dir_close(d);
    g_free(dir);
    g_assert_cmpint(n_files, >=, 40);
}

static void on_checked_count(WenshuGongwenPage *page, int n_issues, int *n_checks)
{
    (void)page;
    (void)n_issues;
    (*n_checks)++;
}

/* Typing fast checks once, after the last change, and shows that text's issues. */
static void test_check_debounce(Fixture *f, gconstpointer data)
{
    (void)data;
    char *faulty = read_text(data_path("faulty", "date-dots.md"));
    char *other = read_text(data_path("faulty", "title-period.md"));
    int n_checks = 0;
    gulong id = g_signal_connect(f->page, "checked", G_CALLBACK(on_checked_count), &n_checks);
    wenshu_gongwen_page_set_draft_text(f->page, other);
    wenshu_gongwen_page_set_draft_text(f->page, faulty);
    wenshu_gongwen_page_set_draft_text(f->page, other);
    wenshu_gongwen_page_set_draft_text(f->page, faulty);
    gui_spin(900); /* three debounce periods */
    g_assert_cmpint(n_checks, ==, 1);
    GPtrArray *rules = shown_rules(f);
    g_assert_true(has_rule(rules, "date-format"));
    g_ptr_array_unref(rules);
    g_signal_handler_disconnect(f->page, id);
    g_free(faulty);
    g_free(other);
}

/* The 1-based line of text that contains needle; 0 when none. */
static int line_containing(const char *text, const char *needle)
{
    char **lines = g_strsplit(text, "\n", -1);
    int hit = 0;
    for (int i = 0; lines[i] && !hit; i++)
        if (strstr(lines[i], needle))
            hit = i + 1;
    g_strfreev(lines);
    return hit;
}

static void test_issue_click(Fixture *f, gconstpointer data)
{
    (void)data;
    /* a long draft so that the faulty date falls below the view's first screen */
    char *clean = read_text(data_path("faulty", "date-dots.md"));
    GString *text = g_string_new(NULL);
    int split = line_containing(clean, "一、");
    char **lines = g_strsplit(clean, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        if (i + 1 == split)
            for (int k = 0; k < 60; k++)
                g_string_append(text, "审计期间各部门应当如实提供资料，积极配合审计组开展工作。\n");
        g_string_append(text, lines[i]);
        if (lines[i + 1])
            g_string_append_c(text, '\n');
    }
    g_strfreev(lines);
    int date_line = line_containing(text->str, "2025.3.18");
    g_assert_cmpint(date_line, >, 60);

    int n = set_and_wait(f, text->str, "checked");
    g_assert_cmpint(n, >=, 1);
    GtkWidget *list = named(f, "issues");
    GtkWidget *target = NULL;
    for (GtkWidget *row = gtk_widget_get_first_child(list); row;
         row = gtk_widget_get_next_sibling(row))
        if (g_strcmp0(g_object_get_data(G_OBJECT(row), "wenshu-rule"), "date-format") == 0)
            target = row;
    g_assert_nonnull(target);
    GtkTextView *draft = GTK_TEXT_VIEW(named(f, "draft"));
    GtkTextBuffer *buffer = gtk_text_view_get_buffer(draft);
    GtkTextIter start;
    gtk_text_buffer_get_start_iter(buffer, &start);
    gtk_text_buffer_place_cursor(buffer, &start);
    g_assert_cmpint(cursor_line(draft), ==, 1);
    gtk_widget_activate(target); /* a click on an activatable row */
    g_assert_cmpint(cursor_line(draft), ==, date_line);

    /* the view scrolls to it: after a few frames the cursor is on screen */
    gboolean visible = FALSE;
    for (int frame = 0; frame < 100 && !visible; frame++) {
        gui_spin(20);
        GdkRectangle rect, cursor;
        GtkTextIter iter;
        gtk_text_view_get_visible_rect(draft, &rect);
        gtk_text_buffer_get_iter_at_mark(buffer, &iter, gtk_text_buffer_get_insert(buffer));
        gtk_text_view_get_iter_location(draft, &iter, &cursor);
        visible = rect.height > 0 && cursor.y >= rect.y &&
                  cursor.y + cursor.height <= rect.y + rect.height;
        if (visible)
            g_assert_cmpint(rect.y, >, 0); /* it did scroll down to it */
    }
    g_assert_true(visible);
    gui_save_screenshot(GTK_WIDGET(f->window), "gui-gongwen-issue-click", 200);
    g_string_free(text, TRUE);
    g_free(clean);
}

/* ---- export and preview ------------------------------------------------------------------ */

static int cli_pdf_pages(Fixture *f, const char *draft_path)
{
    const char *cli = g_getenv("WENSHU_CLI");
    g_assert_nonnull(cli);
    char *pdf = g_build_filename(f->tmpdir, "cli.pdf", NULL);
    const char *argv[] = {cli, "format", draft_path, "--pdf", pdf, NULL};
    int status = 0;
    char *err = NULL;
    GError *error = NULL;
    g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
                 &status, &error);
    g_assert_no_error(error);
    if (!g_spawn_check_wait_status(status, NULL))
        g_error("wenshu-cli format %s failed: %s", draft_path, err);
    int n = gui_pdf_pages(pdf, NULL);
    g_free(err);
    g_free(pdf);
    return n;
}

static void test_export(Fixture *f, gconstpointer data)
{
    (void)data;
    char *draft_path = data_path("layout", "tongzhi.md");
    char *text = read_text(draft_path);
    set_and_wait(f, text, "checked");
    char *docx = g_build_filename(f->tmpdir, "out.docx", NULL);
    char *pdf = g_build_filename(f->tmpdir, "out.pdf", NULL);
    GError *error = NULL;
    g_assert_true(wenshu_gongwen_page_export(f->page, docx, pdf, &error));
    g_assert_no_error(error);

    int zerr = 0;
    zip_t *zip = zip_open(docx, ZIP_RDONLY, &zerr);
    g_assert_nonnull(zip);
    zip_stat_t st;
    g_assert_cmpint(zip_stat(zip, "word/document.xml", 0, &st), ==, 0);
    zip_file_t *zf = zip_fopen(zip, "word/document.xml", 0);
    char *xml = g_malloc0(st.size + 1); /* [st.size] + NUL */
    g_assert_cmpint(zip_fread(zf, xml, st.size), ==, (zip_int64_t)st.size);
    zip_fclose(zf);
    zip_close(zip);
    g_assert_nonnull(strstr(xml, "XX市人民政府"));
    g_assert_nonnull(strstr(xml, "安全生产大检查"));
    g_free(xml);

    PopplerDocument *doc = NULL;
    int n_pages = gui_pdf_pages(pdf, &doc);
    g_assert_cmpint(n_pages, ==, cli_pdf_pages(f, draft_path));
    PopplerPage *first = poppler_document_get_page(doc, 0);
    char *page1 = poppler_page_get_text(first);
    g_assert_nonnull(strstr(page1, "XX市人民政府"));
    g_free(page1);
    g_object_unref(first);
    g_object_unref(doc);

    /* a draft that does not parse is refused, and nothing is left at the paths */
    char *bad_docx = g_build_filename(f->tmpdir, "bad.docx", NULL);
    g_assert_cmpint(set_and_wait(f, "只有一行，没有标题", "checked"), ==, -1);
    GPtrArray *rules = shown_rules(f); /* the parser's reason shows as the one issue */
    g_assert_cmpuint(rules->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(rules, 0), ==, "parse");
    g_ptr_array_unref(rules);
    g_assert_false(wenshu_gongwen_page_export(f->page, bad_docx, NULL, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "bad.docx"));
    g_clear_error(&error);
    g_assert_false(g_file_test(bad_docx, G_FILE_TEST_EXISTS));
    g_free(bad_docx);
    g_free(docx);
    g_free(pdf);
    g_free(text);
    g_free(draft_path);
}

/* The file chooser dialog the export action opened, or NULL. */
static GtkWidget *find_file_chooser(void)
{
    GListModel *toplevels = gtk_window_get_toplevels();
    GtkWidget *hit = NULL;
    for (guint i = 0; i < g_list_model_get_n_items(toplevels) && !hit; i++) {
        GtkWidget *w = g_list_model_get_item(toplevels, i);
        if (GTK_IS_FILE_CHOOSER_DIALOG(w) && gtk_widget_get_visible(w))
            hit = w;
        g_object_unref(w);
    }
    return hit;
}

static gboolean keep_turning(gpointer user_data)
{
    (void)user_data;
    return G_SOURCE_CONTINUE;
}

/* The export action, as a user does it: the chooser opens, a name is given,
 * Export is pressed; the PDF appears and the status says where. */
static void test_export_action(Fixture *f, gconstpointer data)
{
    (void)data;
    char *draft_path = data_path("layout", "qingshi.md");
    char *text = read_text(draft_path);
    set_and_wait(f, text, "checked");
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->page), "gongwen.export-pdf", NULL));
    guint tick = g_timeout_add(20, keep_turning, NULL); /* wake the loop while polling */
    GtkWidget *dialog = NULL;
    gint64 deadline = g_get_monotonic_time() + WAIT_SECONDS * G_USEC_PER_SEC;
    while (!(dialog = find_file_chooser()) && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, TRUE);
    g_assert_nonnull(dialog);
    GtkFileChooser *chooser = GTK_FILE_CHOOSER(dialog);
    g_assert_cmpint(gtk_file_chooser_get_action(chooser), ==, GTK_FILE_CHOOSER_ACTION_SAVE);
    /* the chooser loads its first folder, then the one given, before it
     * accepts a name in it */
    for (int step = 0; step < 2; step++) {
        gui_spin(500);
        if (step == 0) {
            GFile *folder = g_file_new_for_path(f->tmpdir);
            GError *error = NULL;
            g_assert_true(gtk_file_chooser_set_current_folder(chooser, folder, &error));
            g_assert_no_error(error);
            g_object_unref(folder);
        }
    }
    gtk_file_chooser_set_current_name(chooser, "请示.pdf");
    GtkWidget *accept = gtk_dialog_get_widget_for_response(GTK_DIALOG(dialog),
                                                           GTK_RESPONSE_ACCEPT);
    g_assert_nonnull(accept);
    gtk_widget_activate(accept); /* the user presses 导出 */
    char *pdf = g_build_filename(f->tmpdir, "请示.pdf", NULL);
    GtkLabel *status = GTK_LABEL(named(f, "status"));
    while (!strstr(gtk_label_get_text(status), pdf) && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, TRUE);
    g_source_remove(tick);
    g_assert_nonnull(strstr(gtk_label_get_text(status), pdf));
    g_assert_false(gtk_widget_has_css_class(GTK_WIDGET(status), "error"));
    g_assert_cmpint(gui_pdf_pages(pdf, NULL), ==, cli_pdf_pages(f, draft_path));
    g_free(pdf);
    g_free(text);
    g_free(draft_path);
}

static cairo_surface_t *white_surface(int w, int h)
{
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(surface);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_destroy(cr);
    return surface;
}

static void test_preview(Fixture *f, gconstpointer data)
{
    (void)data;
    char *text = read_text(data_path("layout", "tongzhi.md"));
    gint64 t0 = g_get_monotonic_time();
    int n_shown = set_and_wait(f, text, "preview-ready");
    g_test_message("preview of tongzhi.md: %d pages in %.0f ms (including the 500 ms debounce)",
                   n_shown, (g_get_monotonic_time() - t0) / 1000.0);
    char *pdf = g_build_filename(f->tmpdir, "preview.pdf", NULL);
    GError *error = NULL;
    g_assert_true(wenshu_gongwen_page_export(f->page, NULL, pdf, &error));
    PopplerDocument *doc = NULL;
    int n_pages = gui_pdf_pages(pdf, &doc);
    g_assert_cmpint(n_shown, ==, n_pages);

    GtkWidget *box = named(f, "preview");
    int index = 0;
    for (GtkWidget *pic = gtk_widget_get_first_child(box); pic;
         pic = gtk_widget_get_next_sibling(pic), index++) {
        g_assert_true(GTK_IS_PICTURE(pic));
        GdkTexture *texture = GDK_TEXTURE(gtk_picture_get_paintable(GTK_PICTURE(pic)));
        int w = gdk_texture_get_width(texture), h = gdk_texture_get_height(texture);
        cairo_surface_t *ref = gui_render_pdf_page(doc, index, w, h);
        cairo_surface_t *white = white_surface(w, h);
        double pixel_diff = gui_block_mean_diff(texture, ref, 1);
        double diff = gui_block_mean_diff(texture, ref, 8);
        double ink = gui_block_mean_diff(texture, white, 8); /* how much the page holds at all */
        g_test_message("page %d (%dx%d): mean |preview - PDF| = %.3f per pixel, %.3f in 8x8 "
                       "blocks; |preview - white| = %.3f",
                       index + 1, w, h, pixel_diff, diff, ink);
        /* measured on tongzhi.md: 0.80 in blocks for the same page; a 3 px
         * (1 mm) shift of the whole page gives 1.9, another page 9+ */
        g_assert_cmpfloat(diff, <, 1.3);
        if (index == 0) { /* the page with the 版头 holds plenty to compare */
            g_assert_cmpfloat(ink, >, 1.0);
            g_assert_cmpfloat(diff, <, 0.2 * ink);
        }
        cairo_surface_destroy(ref);
        cairo_surface_destroy(white);
    }
    g_assert_cmpint(index, ==, n_pages);
    gui_save_screenshot(GTK_WIDGET(f->window), "gui-gongwen-page", 200);

    /* an edit re-renders: a draft with an attachment page has more pages */
    char *longer = read_text(data_path("layout", "baogao.md"));
    int n_longer = set_and_wait(f, longer, "preview-ready");
    g_assert_true(wenshu_gongwen_page_export(f->page, NULL, pdf, &error));
    g_assert_cmpint(n_longer, ==, gui_pdf_pages(pdf, NULL));
    g_free(longer);
    g_object_unref(doc);
    g_free(pdf);
    g_free(text);
}

/* ---- drafting with the tiny model -------------------------------------------------------- */

typedef struct {
    gboolean done, ok;
    int n_token_signals;
    int streamed_chars; /* the most the draft view held while the body streamed */
} DraftWait;

/* While the run holds the view (read-only), its text is the streamed body. */
static void on_draft_changed(GtkTextBuffer *buffer, DraftWait *wait)
{
    GtkTextView *view = g_object_get_data(G_OBJECT(buffer), "test-view");
    if (!gtk_text_view_get_editable(view))
        wait->streamed_chars = MAX(wait->streamed_chars, gtk_text_buffer_get_char_count(buffer));
}

static void on_drafted(WenshuGongwenPage *page, gboolean ok, DraftWait *wait)
{
    (void)page;
    wait->done = TRUE;
    wait->ok = ok;
}

static void on_tokens(WenshuRunner *runner, const char *text, DraftWait *wait)
{
    (void)runner;
    (void)text;
    wait->n_token_signals++;
}

/* The first widget under root (depth first) that matches. */
typedef gboolean (*WidgetMatch)(GtkWidget *widget, const char *key);

static GtkWidget *find_widget(GtkWidget *root, WidgetMatch match, const char *key)
{
    if (match(root, key))
        return root;
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *hit = find_widget(c, match, key);
        if (hit)
            return hit;
    }
    return NULL;
}

static gboolean is_entry_titled(GtkWidget *w, const char *title)
{
    return ADW_IS_ENTRY_ROW(w) &&
           g_strcmp0(adw_preferences_row_get_title(ADW_PREFERENCES_ROW(w)), title) == 0;
}

static gboolean is_button_for(GtkWidget *w, const char *action)
{
    return GTK_IS_BUTTON(w) &&
           g_strcmp0(gtk_actionable_get_action_name(GTK_ACTIONABLE(w)), action) == 0;
}

/* Type into the form's entry row with this visible title. */
static void set_entry(Fixture *f, const char *title, const char *value)
{
    GtkWidget *row = find_widget(GTK_WIDGET(f->page), is_entry_titled, title);
    g_assert_nonnull(row);
    gtk_editable_set_text(GTK_EDITABLE(row), value);
}

/* Whether the button wired to the action can be clicked (it mirrors the
 * action's enabled state). */
static gboolean action_enabled(Fixture *f, const char *action)
{
    GtkWidget *button = find_widget(GTK_WIDGET(f->page), is_button_for, action);
    g_assert_nonnull(button);
    return gtk_widget_get_sensitive(button);
}

static void test_draft_with_model(Fixture *f, gconstpointer data)
{
    (void)data;
    char *model = gui_make_fixture_model(GUI_QWEN3_MODEL, TRUE);
    if (!model) {
        g_test_skip("no Qwen3 tokenizer under tests/reference/node_modules");
        return;
    }
    g_assert_false(action_enabled(f, "gongwen.draft")); /* no model yet */
    gui_load_model_cpu(f->runner, model, MODEL_WAIT_SECONDS * 1000);
    g_assert_true(action_enabled(f, "gongwen.draft"));
    g_assert_false(action_enabled(f, "gongwen.stop"));

    set_entry(f, "Issuing agency", "临江市应急管理局"); /* 发文机关; LANGUAGE=en */
    set_entry(f, "Date", "2025年3月18日"); /* 成文日期 */
    GtkTextView *facts = GTK_TEXT_VIEW(named(f, "facts"));
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(facts),
                             "定于2025年4月在全市开展安全生产大检查。各区于5月10日前报送情况。", -1);

    DraftWait wait = {0};
    gulong d = g_signal_connect(f->page, "drafted", G_CALLBACK(on_drafted), &wait);
    gulong t = g_signal_connect(f->runner, "tokens", G_CALLBACK(on_tokens), &wait);
    GtkTextView *view = GTK_TEXT_VIEW(named(f, "draft"));
    g_object_set_data(G_OBJECT(gtk_text_view_get_buffer(view)), "test-view", view);
    gulong c = g_signal_connect(gtk_text_view_get_buffer(view), "changed",
                                G_CALLBACK(on_draft_changed), &wait);
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->page), "gongwen.draft", NULL));
    g_assert_false(action_enabled(f, "gongwen.draft"));
    g_assert_true(action_enabled(f, "gongwen.stop"));
    g_assert_false(gtk_text_view_get_editable(view)); /* the body streams into it */
    gui_wait_flag(&wait.done, MODEL_WAIT_SECONDS * 1000, "the draft");
    g_assert_true(wait.ok);
    g_assert_cmpint(wait.n_token_signals, >, 1);
    g_assert_cmpint(wait.streamed_chars, >, 0); /* the body showed while it streamed */
    g_assert_true(gtk_text_view_get_editable(view));
    g_signal_handler_disconnect(gtk_text_view_get_buffer(view), c);
    g_assert_true(action_enabled(f, "gongwen.draft"));

    /* the composed draft: the form's facts in the places gw_draft_compose
     * promises, a title line naming the kind */
    char *draft = wenshu_gongwen_page_get_draft_text(f->page);
    g_test_message("drafted %zu bytes with %d token emissions; %d characters streamed into the "
                   "view", strlen(draft), wait.n_token_signals, wait.streamed_chars);
    g_assert_nonnull(strstr(draft, "临江市应急管理局"));
    g_assert_nonnull(strstr(draft, "2025年3月18日"));
    GRegex *title = g_regex_new("^# .*通知$", G_REGEX_MULTILINE, 0, NULL);
    g_assert_true(g_regex_match(title, draft, 0, NULL));
    g_regex_unref(title);
    /* and the page checks and lays it out like any text */
    IntWait preview = {0};
    gulong p = g_signal_connect(f->page, "preview-ready", G_CALLBACK(on_int_signal), &preview);
    gui_wait_flag(&preview.done, WAIT_SECONDS * 1000, "the preview of the draft");
    g_assert_cmpint(preview.value, >=, 1);
    g_signal_handler_disconnect(f->page, p);
    gui_save_screenshot(GTK_WIDGET(f->window), "gui-gongwen-drafted", 200);

    /* Stop: the run ends as stopped, and Draft comes back */
    wait = (DraftWait){0};
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->page), "gongwen.draft", NULL));
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->page), "gongwen.stop", NULL));
    gui_wait_flag(&wait.done, WAIT_SECONDS * 1000, "the stopped draft");
    g_assert_false(wait.ok);
    g_assert_true(action_enabled(f, "gongwen.draft"));
    g_assert_false(action_enabled(f, "gongwen.stop"));

    g_signal_handler_disconnect(f->page, d);
    g_signal_handler_disconnect(f->runner, t);
    g_free(draft);
    g_free(model);
}

int main(int argc, char **argv)
{
    g_setenv("GSETTINGS_BACKEND", "memory", FALSE);
    g_setenv("GTK_A11Y", "test", FALSE); /* no AT-SPI bus under Xvfb */
    gui_init(&argc, &argv, FALSE);
    g_test_add("/gui/gongwen/check-clean", Fixture, NULL, fixture_setup, test_check_clean,
               fixture_teardown);
    g_test_add("/gui/gongwen/check-faulty", Fixture, NULL, fixture_setup, test_check_faulty,
               fixture_teardown);
    g_test_add("/gui/gongwen/check-debounce", Fixture, NULL, fixture_setup, test_check_debounce,
               fixture_teardown);
    g_test_add("/gui/gongwen/issue-click", Fixture, NULL, fixture_setup, test_issue_click,
               fixture_teardown);
    g_test_add("/gui/gongwen/export", Fixture, NULL, fixture_setup, test_export,
               fixture_teardown);
    g_test_add("/gui/gongwen/export-action", Fixture, NULL, fixture_setup, test_export_action,
               fixture_teardown);
    g_test_add("/gui/gongwen/preview", Fixture, NULL, fixture_setup, test_preview,
               fixture_teardown);
    g_test_add("/gui/gongwen/draft-with-model", Fixture, NULL, fixture_setup,
               test_draft_with_model, fixture_teardown);
    return g_test_run();
}
