/* gui-fixture.h: helpers shared by the desktop app's tests (tests/test-gui*.c),
 * all run under Xvfb with G_DEBUG=fatal-warnings.
 *
 * Main-loop waits that fail the test on a timeout, PNG screenshots into
 * $WENSHU_BUILD_DIR/gui-artifacts/ (read back and checked), widget-tree
 * searches, the accessible-label check of icon-only buttons, the tiny
 * fixture model written by `$WENSHU_CLI synth`, a model load through the
 * runner, and the PDF comparisons of the 公文 and slides pages.
 * Every failure is a g_error or a g_assert: a helper never returns a
 * half-checked result.
 */
#ifndef WENSHU_GUI_FIXTURE_H
#define WENSHU_GUI_FIXTURE_H

#include <gtk/gtk.h>
#include <poppler.h>

#include "wenshu-runner.h"

/* ---- the main loop ------------------------------------------------------- */

typedef gboolean (*GuiCondition)(gpointer data);

/* Run the main loop until cond(data) holds; g_error after ms naming what. */
void gui_wait_until(GuiCondition cond, gpointer data, int ms, const char *what);

/* Run the main loop until *done; g_error after ms naming what. */
void gui_wait_flag(const gboolean *done, int ms, const char *what);

/* Run the main loop for ms. */
void gui_spin(int ms);

/* A GuiCondition: the widget is mapped and has a width. */
gboolean gui_widget_drawn(gpointer widget);

/* ---- start-up ----------------------------------------------------------- */

/* gtk_test_init and adw_init; with app_style, the app's own stylesheet
 * too (the style.css resource on the default display). */
void gui_init(int *argc, char ***argv, gboolean app_style);

/* ---- windows ------------------------------------------------------------ */

/* A new toplevel of width x height holding child, presented; it is owned
 * by GTK's toplevel list until gui_close_window. */
GtkWindow *gui_present_in_window(GtkWidget *child, int width, int height);

/* Destroys window and runs the main loop until nothing is pending. */
void gui_close_window(GtkWindow *window);

/* ---- screenshots --------------------------------------------------------- */

/* $WENSHU_BUILD_DIR/gui-artifacts (./gui-artifacts without it), created on
 * the first call; owned by the module. */
const char *gui_artifact_dir(void);

/* Spin settle_ms (so the widgets have drawn their last state), render
 * widget into <artifact dir>/<name>.png, then read the file back and check
 * its size and that it is not one flat colour. */
void gui_save_screenshot(GtkWidget *widget, const char *name, int settle_ms);

/* ---- the widget tree ----------------------------------------------------- */

/* The first widget under root (root included) named name, or NULL. */
GtkWidget *gui_find_named(GtkWidget *root, const char *name);

/* The first widget under root (root included) of type, or NULL. */
GtkWidget *gui_find_descendant(GtkWidget *root, GType type);

/* A button that shows an icon and no text: an icon name, or a child that is
 * an image or a box of only visible images (GTK 4.8's menu button puts its
 * icon and a hidden arrow into a box in its inner toggle button). */
gboolean gui_is_icon_only_button(GtkWidget *w);

/* A non-empty accessible LABEL property (GTK_A11Y=test). */
gboolean gui_has_accessible_label(GtkWidget *w);

/* Appends " Type(icon name, in ParentType)" to bad for each visible
 * icon-only button under root without an accessible label; counts the
 * visible icon-only buttons in *n_icon_buttons. Buttons hidden by their own
 * flag are skipped. libadwaita 1.2's toast close button (only a tooltip, a
 * library defect) is reported with g_test_message and not counted. */
void gui_find_unlabelled(GtkWidget *root, GString *bad, int *n_icon_buttons);

/* ---- files --------------------------------------------------------------- */

/* Removes the files in dir, then dir (one level, as the tests' temp dirs). */
void gui_remove_tree(const char *dir);

/* ---- the fixture model --------------------------------------------------- */

/* The fixture model's file name with the real Qwen3 vocab, shared by the
 * tests so it is written once per build folder. */
#define GUI_QWEN3_MODEL "gui-tiny-qwen3vocab.gguf"

/* The tiny synth qwen2 model, written once per build folder by
 * `$WENSHU_CLI synth` into $WENSHU_BUILD_DIR/file_name (through a
 * per-process temp file and a rename, so parallel tests agree). With
 * qwen3_vocab it carries the real Qwen3 vocab from tests/reference; NULL
 * when that tokenizer.json is not installed. Without, the byte vocab.
 * g_error when the meson test environment is missing. Caller frees. */
char *gui_make_fixture_model(const char *file_name, gboolean qwen3_vocab);

/* Loads path into runner on the CPU (2 threads, 4096 context), spinning
 * the main loop until it is loaded; fails on an error or after ms. */
void gui_load_model_cpu(WenshuRunner *runner, const char *path, int ms);

/* ---- the scenes clip ------------------------------------------------------ */
/* dir/name: a 24 s 320x180 MPEG-4 clip of three solid colour scenes (red
 * 0-8 s, green 8-17 s, blue 17-24 s) made by the ffmpeg CLI; with
 * corner_box a white box in the top-left corner of every frame (so that a
 * flipped frame differs). NULL (after a g_test_message) without ffmpeg;
 * g_error when ffmpeg fails. Caller frees. */
char *gui_make_scenes_clip(const char *dir, const char *name, gboolean corner_box);

/* ---- PDF comparisons ----------------------------------------------------- */

/* Pages of the PDF at path; when out is not NULL the document is returned
 * there (caller unrefs). */
int gui_pdf_pages(const char *path, PopplerDocument **out);

/* Page index of doc rasterised by poppler at w x h on white (RGB24). */
cairo_surface_t *gui_render_pdf_page(PopplerDocument *doc, int index, int w, int h);

/* Mean absolute difference per channel (0..255) between a texture and an
 * RGB24 cairo surface of the same size, after averaging block x block
 * squares (the PDF's glyphs reach poppler unhinted, so single pixels on
 * glyph edges differ; blocks average that noise out). */
double gui_block_mean_diff(GdkTexture *texture, cairo_surface_t *surface, int block);

#endif
