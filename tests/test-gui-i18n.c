/* test-gui-i18n.c: the UI in the user's language, through gettext.
 *
 * The real application and window, started the way main() starts them
 * (wenshu_i18n_init() with the catalogs of the build tree, WENSHU_LOCALEDIR),
 * in the language the environment asks for. meson runs it three times:
 * LANGUAGE=zh_CN, LANGUAGE=en, and only LANG=zh_CN.UTF-8 (a locale this
 * machine need not have). WENSHU_EXPECT_LANGUAGE says which texts to
 * expect: "zh_CN" or "en". The expected texts below are written by hand
 * (the 公文 terms from GB/T 9704: 发文机关, 发文字号, 签发人, 主送机关,
 * 成文日期), never read from the catalog under test. The labels are read
 * from the widget tree: the sidebar rows, the window and page titles
 * (strings from the .ui files and from C), the device label, the 公文
 * form's rows, the primary menu, the About window and the shortcuts
 * window. A screenshot of the window goes to gui-artifacts/$WENSHU_SCREENSHOT_NAME.png.
 */
#include <adwaita.h>
#include <locale.h>
#include <string.h>

#include "gui-fixture.h"
#include "wenshu-application.h"
#include "wenshu-i18n.h"
#include "wenshu-window.h"

#define WAIT_MS 20000

/* One text the UI shows, in both languages. */
typedef struct {
    const char *zh_cn;
    const char *en;
} Text;

static gboolean expect_chinese; /* from WENSHU_EXPECT_LANGUAGE */
static GtkApplication *app;     /* the real application, registered, owned */
static WenshuWindow *window;    /* the window under test, owned by app */

static const char *expected(const Text *t)
{
    return expect_chinese ? t->zh_cn : t->en;
}

/* The label inside the sidebar row named row_name. */
static const char *sidebar_label(const char *row_name)
{
    GtkWidget *row = gui_find_named(GTK_WIDGET(window), row_name);
    g_assert_nonnull(row);
    g_assert_true(GTK_IS_LIST_BOX_ROW(row));
    GtkWidget *label = gui_find_descendant(row, GTK_TYPE_LABEL);
    g_assert_nonnull(label);
    return gtk_label_get_label(GTK_LABEL(label));
}

/* Adds to out every descendant of root (root too) that is of type. */
static void collect_of_type(GtkWidget *root, GType type, GPtrArray *out)
{
    if (G_TYPE_CHECK_INSTANCE_TYPE(root, type))
        g_ptr_array_add(out, root);
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c))
        collect_of_type(c, type, out);
}

/* Adds the label of every item of model, its sections and submenus, to out
 * (strings owned by out). */
static void collect_menu_labels(GMenuModel *model, GPtrArray *out)
{
    for (int i = 0; i < g_menu_model_get_n_items(model); i++) {
        char *label = NULL;
        if (g_menu_model_get_item_attribute(model, i, G_MENU_ATTRIBUTE_LABEL, "s", &label))
            g_ptr_array_add(out, label);
        g_autoptr(GMenuLinkIter) links = g_menu_model_iterate_item_links(model, i);
        GMenuModel *link = NULL;
        while (g_menu_link_iter_get_next(links, NULL, &link)) {
            collect_menu_labels(link, out);
            g_object_unref(link);
        }
    }
}

static gboolean strv_has(GPtrArray *strings, const char *text)
{
    for (guint i = 0; i < strings->len; i++)
        if (g_strcmp0(g_ptr_array_index(strings, i), text) == 0)
            return TRUE;
    return FALSE;
}

/* Fails naming what and the texts seen when text is not among strings. */
static void assert_has(GPtrArray *strings, const char *text, const char *what)
{
    if (strv_has(strings, text))
        return;
    GString *seen = g_string_new(NULL);
    for (guint i = 0; i < strings->len; i++)
        g_string_append_printf(seen, " “%s”", (const char *)g_ptr_array_index(strings, i));
    g_error("%s: no “%s” among%s", what, text, seen->str);
}

static GtkWidget *find_toplevel(GType type)
{
    GListModel *toplevels = gtk_window_get_toplevels();
    for (guint i = 0; i < g_list_model_get_n_items(toplevels); i++) {
        g_autoptr(GtkWidget) w = g_list_model_get_item(toplevels, i);
        if (G_TYPE_CHECK_INSTANCE_TYPE(w, type))
            return w; /* the toplevel list keeps it alive */
    }
    return NULL;
}

/* The four task kinds in the sidebar (text from wenshu-window.ui). */
static void test_sidebar(void)
{
    static const struct {
        const char *row;
        Text text;
    } rows[] = {{"gongwen", {"公文", "Official document"}},
                {"slides", {"幻灯片", "Slides"}},
                {"clip", {"视频摘要", "Clip summary"}},
                {"chat", {"对话", "Chat"}}};
    for (guint i = 0; i < G_N_ELEMENTS(rows); i++)
        g_assert_cmpstr(sidebar_label(rows[i].row), ==, expected(&rows[i].text));
    const char *name = g_getenv("WENSHU_SCREENSHOT_NAME");
    gui_save_screenshot(GTK_WIDGET(window), name && name[0] ? name : "i18n", 200);
}

/* The window's title and device label (.ui), the stack's page titles
 * (set from C with _()). */
static void test_titles(void)
{
    static const Text title = {"文书", "Wenshu"};
    static const Text no_model = {"未加载模型", "No model"};
    g_assert_cmpstr(gtk_window_get_title(GTK_WINDOW(window)), ==, expected(&title));
    g_autoptr(GPtrArray) labels = g_ptr_array_new();
    collect_of_type(GTK_WIDGET(window), GTK_TYPE_LABEL, labels);
    g_autoptr(GPtrArray) texts = g_ptr_array_new();
    for (guint i = 0; i < labels->len; i++)
        g_ptr_array_add(texts, (gpointer)gtk_label_get_label(g_ptr_array_index(labels, i)));
    assert_has(texts, expected(&no_model), "the header's labels");

    static const struct {
        const char *page;
        Text text;
    } pages[] = {{"gongwen", {"公文", "Official document"}},
                 {"slides", {"幻灯片", "Slides"}},
                 {"clip", {"视频摘要", "Clip summary"}},
                 {"chat", {"对话", "Chat"}}};
    g_autoptr(GPtrArray) stacks = g_ptr_array_new();
    collect_of_type(GTK_WIDGET(window), GTK_TYPE_STACK, stacks);
    GtkStack *page_stack = NULL;
    for (guint i = 0; i < stacks->len && !page_stack; i++)
        if (gtk_stack_get_child_by_name(g_ptr_array_index(stacks, i), "gongwen"))
            page_stack = g_ptr_array_index(stacks, i);
    g_assert_nonnull(page_stack);
    for (guint i = 0; i < G_N_ELEMENTS(pages); i++) {
        GtkWidget *child = gtk_stack_get_child_by_name(page_stack, pages[i].page);
        g_assert_nonnull(child);
        g_assert_cmpstr(gtk_stack_page_get_title(gtk_stack_get_page(page_stack, child)), ==,
                        expected(&pages[i].text));
    }
}

/* The 公文 form's rows carry the GB/T 9704 terms in Chinese. */
static void test_gongwen_form(void)
{
    static const Text rows[] = {{"文种", "Document type"},       {"发文机关", "Issuing agency"},
                                {"发文字号", "Document number"}, {"签发人", "Signer"},
                                {"主送机关", "Recipients"},      {"成文日期", "Date"}};
    g_autoptr(GPtrArray) widgets = g_ptr_array_new();
    collect_of_type(GTK_WIDGET(window), ADW_TYPE_PREFERENCES_ROW, widgets);
    g_autoptr(GPtrArray) titles = g_ptr_array_new();
    for (guint i = 0; i < widgets->len; i++)
        g_ptr_array_add(titles, (gpointer)adw_preferences_row_get_title(
                                    ADW_PREFERENCES_ROW(g_ptr_array_index(widgets, i))));
    for (guint i = 0; i < G_N_ELEMENTS(rows); i++)
        assert_has(titles, expected(&rows[i]), "the 公文 form's rows");
}

/* The primary menu (built in C) and its recent-models submenu. */
static void test_primary_menu(void)
{
    static const Text items[] = {{"最近的模型", "Recent models"},
                                 {"首选项", "Preferences"},
                                 {"键盘快捷键", "Keyboard Shortcuts"},
                                 {"关于文书", "About Wenshu"}};
    g_autoptr(GPtrArray) buttons = g_ptr_array_new();
    collect_of_type(GTK_WIDGET(window), GTK_TYPE_MENU_BUTTON, buttons);
    GMenuModel *menu = NULL;
    for (guint i = 0; i < buttons->len && !menu; i++)
        if (gtk_menu_button_get_primary(g_ptr_array_index(buttons, i)))
            menu = gtk_menu_button_get_menu_model(g_ptr_array_index(buttons, i));
    g_assert_nonnull(menu);
    g_autoptr(GPtrArray) labels = g_ptr_array_new_with_free_func(g_free);
    collect_menu_labels(menu, labels);
    for (guint i = 0; i < G_N_ELEMENTS(items); i++)
        assert_has(labels, expected(&items[i]), "the primary menu");
}

/* The About window (from C) and the shortcuts window (gtk/help-overlay.ui). */
static void test_about_and_shortcuts(void)
{
    static const Text name = {"文书", "Wenshu"};
    static const Text comments = {"离线 AI 写作台", "An offline AI drafting desk"};
    g_action_group_activate_action(G_ACTION_GROUP(app), "about", NULL);
    GtkWidget *about = find_toplevel(ADW_TYPE_ABOUT_WINDOW);
    g_assert_nonnull(about);
    gui_wait_until(gui_widget_drawn, about, WAIT_MS, "the about window to map");
    g_assert_cmpstr(adw_about_window_get_application_name(ADW_ABOUT_WINDOW(about)), ==,
                    expected(&name));
    g_assert_cmpstr(adw_about_window_get_comments(ADW_ABOUT_WINDOW(about)), ==,
                    expected(&comments));
    gtk_window_destroy(GTK_WINDOW(about));

    static const Text shortcuts[] = {{"发送", "Send"}, {"换行", "New line"}, {"退出", "Quit"}};
    GtkWidget *overlay =
        GTK_WIDGET(gtk_application_window_get_help_overlay(GTK_APPLICATION_WINDOW(window)));
    g_assert_nonnull(overlay);
    g_autoptr(GPtrArray) widgets = g_ptr_array_new();
    collect_of_type(overlay, GTK_TYPE_SHORTCUTS_SHORTCUT, widgets);
    g_autoptr(GPtrArray) titles = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < widgets->len; i++) {
        char *title = NULL;
        g_object_get(g_ptr_array_index(widgets, i), "title", &title, NULL);
        g_ptr_array_add(titles, title);
    }
    for (guint i = 0; i < G_N_ELEMENTS(shortcuts); i++)
        assert_has(titles, expected(&shortcuts[i]), "the shortcuts window");
}

int main(int argc, char **argv)
{
    gui_init(&argc, &argv, FALSE); /* the application loads its own style */
    /* after gtk_test_init(), which sets a locale of its own */
    wenshu_i18n_init();
    const char *language = g_getenv("WENSHU_EXPECT_LANGUAGE");
    if (!language || (strcmp(language, "zh_CN") != 0 && strcmp(language, "en") != 0))
        g_error("WENSHU_EXPECT_LANGUAGE must be zh_CN or en (it is “%s”)",
                language ? language : "(unset)");
    expect_chinese = strcmp(language, "zh_CN") == 0;
    g_test_message("LANGUAGE=%s LC_MESSAGES locale %s, expecting %s", g_getenv("LANGUAGE"),
                   setlocale(LC_MESSAGES, NULL), language);

    app = GTK_APPLICATION(wenshu_application_new());
    g_application_set_flags(G_APPLICATION(app), G_APPLICATION_NON_UNIQUE);
    GError *error = NULL;
    g_assert_true(g_application_register(G_APPLICATION(app), NULL, &error));
    g_assert_no_error(error);
    window = wenshu_window_new(app);
    gtk_window_present(GTK_WINDOW(window));
    gui_wait_until(gui_widget_drawn, window, WAIT_MS, "the window to map");

    g_test_add_func("/gui/i18n/sidebar", test_sidebar);
    g_test_add_func("/gui/i18n/titles", test_titles);
    g_test_add_func("/gui/i18n/gongwen-form", test_gongwen_form);
    g_test_add_func("/gui/i18n/primary-menu", test_primary_menu);
    g_test_add_func("/gui/i18n/about-and-shortcuts", test_about_and_shortcuts);
    int status = g_test_run();
    gtk_window_destroy(GTK_WINDOW(window));
    g_object_unref(app);
    return status;
}
