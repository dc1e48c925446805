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

#include "gui-fixture.h"
#include "wenshu-application.h"
#include "wenshu-chat-page.h"
#include "wenshu-gongwen-page.h"
#include "wenshu-history.h"
#include "wenshu-window.h"

#define WAIT_MS 60000 /* the longest any step may take */
#define RESTORED_TOAST "Restored an unfinished draft" /* LANGUAGE=en */

static char *model_path;   /* the fixture model, or NULL without the vocab; owned */

typedef struct {
    char *dir;     /* a temp folder holding the database; owned */
    char *db_path; /* dir/history.db; owned */
    WenshuWindow *window;
    gint64 ids[3]; /* the conversations fill_history() made, oldest first */
} Fixture;

/* ---- helpers ------------------------------------------------------------ */

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
    gui_wait_until(rows_wanted, &r, 5000, what);
}

static void open_window(Fixture *f)
{
    GError *error = NULL;
    WenshuHistory *history = wenshu_history_open(f->db_path, &error);
    g_assert_no_error(error);
    f->window = wenshu_window_new(NULL);
    wenshu_window_set_history(f->window, history);
    gtk_window_present(GTK_WINDOW(f->window));
    gui_wait_until(gui_widget_drawn, f->window, WAIT_MS, "the window to map");
}

static void close_window(Fixture *f)
{
    if (!f->window)
        return;
    gtk_window_destroy(GTK_WINDOW(f->window));
    f->window = NULL;
    gui_spin(20);
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

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    close_window(f);
    gui_remove_tree(f->dir);
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
    gui_save_screenshot(GTK_WIDGET(f->window), "history-list", 300);
}

static void undo_delete(WenshuWindow *window, gint64 id)
{
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(window), "win.history-undo", "x", id));
}

/* Each row's menu button is icon-only and labelled for screen readers. */
static void test_rows_labelled(Fixture *f, gconstpointer data)
{
    (void)data;
    /* the shared check sees GTK 4.8's menu button (its image in a box) */
    int n_icon = 0;
    GString *bad = g_string_new(NULL);
    gui_find_unlabelled(GTK_WIDGET(wenshu_window_get_history_list(f->window)), bad, &n_icon);
    g_assert_cmpint(n_icon, >=, 3); /* one per row at least */
    if (bad->len)
        g_error("icon-only buttons without an accessible label:%s", bad->str);
    g_string_free(bad, TRUE);
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
    gui_spin(300);
    g_assert_true(has_label(GTK_WIDGET(f->window), "Deleted “会议通知”"));
    gui_save_screenshot(GTK_WIDGET(f->window), "history-deleted", 300);
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
    gui_spin(50);
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
    gui_save_screenshot(GTK_WIDGET(f->window), "history-gongwen", 300);

    /* an edit: saved into the same message once the user pauses */
    const char *edited = "关于开展汛前安全检查的通知\n\n各区人民政府：\n";
    wenshu_gongwen_page_set_draft_text(WENSHU_GONGWEN_PAGE(page), edited);
    gui_spin(1500); /* the debounce is 1 s */
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
    gui_wait_until(gui_widget_drawn, f->window, WAIT_MS, "the window to map");

    WenshuChatPage *chat = WENSHU_CHAT_PAGE(wenshu_window_get_chat_page(f->window));
    g_assert_cmpint(wenshu_chat_page_get_conversation(chat), ==, saved.conversation);
    g_autofree char *reply = wenshu_chat_page_dup_reply(chat);
    g_assert_cmpstr(reply, ==, saved.content);
    g_autofree char *out = wenshu_chat_page_dup_output(chat);
    g_assert_nonnull(strstr(out, prompt));
    g_assert_nonnull(strstr(out, "[unfinished]")); /* LANGUAGE=en */
    gui_spin(300);
    /* the transcript shows though no model is loaded in this window: the
     * welcome page (an AdwStatusPage) is not on screen */
    GtkWidget *welcome = gui_find_descendant(GTK_WIDGET(chat), ADW_TYPE_STATUS_PAGE);
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
    gui_save_screenshot(GTK_WIDGET(f->window), "history-restored", 300);

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

#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)

int main(int argc, char **argv)
{
    gui_init(&argc, &argv, TRUE);
    model_path = gui_make_fixture_model(GUI_QWEN3_MODEL, TRUE);

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
    return status;
}
