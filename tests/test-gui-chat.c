/* test-gui-chat.c: the chat page's attachments, edit-then-continue and the
 * history's media markers, in the real window under Xvfb with
 * G_DEBUG=fatal-warnings, on the tiny fixture model (text only, real Qwen3
 * vocab) with greedy sampling.
 *
 * - A text file attached to the prompt goes into the saved user message
 *   under its header line, and the token count grows when it is attached.
 * - An image is refused by a text-only model, with the reason in the banner
 *   naming the file; no chip stays.
 * - A file dropped on the page becomes a chip.
 * - Edit-then-continue: the earlier transcript is locked, the edited reply
 *   is kept as the start of the new reply, and greedy continuation of a
 *   reply cut by the page's token limit equals the uncut greedy reply.
 * - A saved message with "[media: PATH]" comes back as a medium: resending
 *   it with a text-only model fails with the reason naming PATH; the same
 *   text typed by the user is defused and never becomes a medium.
 * - The 公文 page saves the body while it streams, as an unfinished message
 *   holding what the view showed, and completes it when drafting ends.
 * - The window's load progress shows the fraction and the step's name; at
 *   its default size the window is not folded (no page is too wide).
 * Screenshots go to gui-artifacts/.
 */
#include "gui-fixture.h"
#include "wenshu-attachment-bar.h"
#include "wenshu-chat-page.h"
#include "wenshu-gongwen-page.h"
#include "wenshu-history.h"
#include "wenshu-window.h"

#include <adwaita.h>
#include <string.h>

#define WAIT_MS 60000

static char *model_path; /* the fixture model, owned */

typedef struct {
    WenshuWindow *window;
    WenshuRunner *runner;
    WenshuChatPage *chat;
    WenshuAttachmentBar *bar;
    char *dir;     /* a temp folder for the test's files and history; owned */
    char *db_path; /* dir/history.db */
} Fixture;

static gboolean runner_idle(gpointer data) { return !wenshu_runner_is_running(data); }

static gboolean model_settled(gpointer data)
{
    Fixture *f = data;
    return wenshu_runner_is_loaded(f->runner) || wenshu_window_get_error(f->window) != NULL;
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    (void)data;
    f->dir = g_dir_make_tmp("wenshu-gui-chat-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->db_path = g_build_filename(f->dir, "history.db", NULL);
    f->window = wenshu_window_new(NULL);
    GError *error = NULL;
    WenshuHistory *history = wenshu_history_open(f->db_path, &error);
    g_assert_no_error(error);
    wenshu_window_set_history(f->window, history);
    f->runner = g_object_ref(wenshu_window_get_runner(f->window));
    f->chat = WENSHU_CHAT_PAGE(wenshu_window_get_chat_page(f->window));
    f->bar = WENSHU_ATTACHMENT_BAR(
        gui_find_descendant(GTK_WIDGET(f->chat), WENSHU_TYPE_ATTACHMENT_BAR));
    g_assert_nonnull(f->bar);
    wenshu_window_show_page(f->window, "chat");
    gtk_window_present(GTK_WINDOW(f->window));
    gui_wait_until(gui_widget_drawn, f->window, WAIT_MS, "the window to map");
    wenshu_window_load_model(f->window, model_path, 2048);
    gui_wait_until(model_settled, f, WAIT_MS, "the model to load");
    g_assert_null(wenshu_window_get_error(f->window));
    /* greedy: the same prompt gives the same reply */
    g_autoptr(GSettings) settings = g_settings_new("cn.wenshu.Wenshu");
    g_settings_set_double(settings, "temperature", 0.0);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    wenshu_runner_stop(f->runner);
    gui_wait_until(runner_idle, f->runner, WAIT_MS, "the run to end");
    gtk_window_destroy(GTK_WINDOW(f->window));
    g_object_unref(f->runner);
    gui_spin(20);
    gui_remove_tree(f->dir);
    g_free(f->db_path);
    g_free(f->dir);
}

/* ---- helpers ------------------------------------------------------------ */

static char *write_file(Fixture *f, const char *name, const void *bytes, gssize len)
{
    char *path = g_build_filename(f->dir, name, NULL);
    GError *error = NULL;
    g_file_set_contents(path, bytes, len, &error);
    g_assert_no_error(error);
    return path;
}

/* A tiny valid PNG (8x8 RGB), written by GdkPixbuf, not by the code under test. */
static char *write_png(Fixture *f, const char *name)
{
    GdkPixbuf *pixbuf = gdk_pixbuf_new(GDK_COLORSPACE_RGB, FALSE, 8, 8, 8);
    gdk_pixbuf_fill(pixbuf, 0x3366ccff);
    char *path = g_build_filename(f->dir, name, NULL);
    GError *error = NULL;
    gdk_pixbuf_save(pixbuf, path, "png", &error, NULL);
    g_assert_no_error(error);
    g_object_unref(pixbuf);
    return path;
}

static int n_attachments(Fixture *f)
{
    return (int)g_list_model_get_n_items(wenshu_attachment_bar_get_items(f->bar));
}

static gboolean bar_settled(gpointer data)
{
    Fixture *f = data;
    return wenshu_attachment_bar_get_n_pending(f->bar) == 0;
}

static void attach(Fixture *f, const char *path)
{
    g_autoptr(GFile) file = g_file_new_for_path(path);
    wenshu_attachment_bar_add_file(f->bar, file);
    gui_wait_until(bar_settled, f, WAIT_MS, "the attachment to load");
}

static int token_count(Fixture *f)
{
    const char *text = gtk_label_get_label(GTK_LABEL(wenshu_chat_page_get_token_label(f->chat)));
    return atoi(text);
}

/* Send prompt with n_predict new tokens at most and wait for the reply. */
static void send_and_wait(Fixture *f, const char *prompt, int n_predict)
{
    wenshu_chat_page_set_n_predict(f->chat, n_predict);
    gtk_text_buffer_set_text(wenshu_chat_page_get_prompt_buffer(f->chat), prompt, -1);
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->chat), "draft.send", NULL));
    gui_wait_until(runner_idle, f->runner, WAIT_MS, "the reply");
    gui_spin(20);
}

static void activate_and_wait(Fixture *f, const char *action)
{
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->chat), action, NULL));
    gui_wait_until(runner_idle, f->runner, WAIT_MS, action);
    gui_spin(20);
}

/* The saved messages of the page's conversation (role, content), in order. */
static GPtrArray *saved_messages(Fixture *f)
{
    gint64 id = wenshu_chat_page_get_conversation(f->chat);
    g_assert_cmpint(id, >, 0);
    GError *error = NULL;
    GPtrArray *messages =
        wenshu_history_messages(wenshu_window_get_history(f->window), id, &error);
    g_assert_no_error(error);
    return messages;
}

/* ---- tests -------------------------------------------------------------- */

static void test_text_attachment(Fixture *f, gconstpointer data)
{
    (void)data;
    const char *note = "会议定于十二月八日上午九时在三楼会议室举行。\n请各部门准时参加。\n";
    g_autofree char *path = write_file(f, "通知.txt", note, -1);
    int before = token_count(f);
    attach(f, path);
    g_assert_cmpint(n_attachments(f), ==, 1);
    /* the note is counted before it is sent: at least one token per 3 bytes
     * of CJK text (Qwen3's vocab merges at most a few characters) */
    g_assert_cmpint(token_count(f) - before, >=, (int)strlen(note) / 9);
    gui_save_screenshot(GTK_WIDGET(f->window), "chat-attachment-chip", 200);

    send_and_wait(f, "请概括附件。", 8);
    g_assert_cmpint(n_attachments(f), ==, 0); /* sent: the bar is empty again */
    g_autoptr(GPtrArray) messages = saved_messages(f);
    g_assert_cmpuint(messages->len, ==, 2);
    const WenshuMessage *user = g_ptr_array_index(messages, 0);
    g_assert_cmpstr(user->role, ==, "user");
    g_assert_nonnull(strstr(user->content, "通知.txt"));
    g_assert_nonnull(strstr(user->content, note));
    g_assert_true(g_str_has_suffix(user->content, "请概括附件。"));
    g_autofree char *out = wenshu_chat_page_dup_output(f->chat);
    g_assert_nonnull(strstr(out, "📎 通知.txt"));
    g_assert_null(strstr(out, "九时")); /* the transcript names it, not its text */
}

static void test_image_refused(Fixture *f, gconstpointer data)
{
    (void)data;
    g_assert_false(wenshu_runner_can_read_media(f->runner));
    g_autofree char *png = write_png(f, "photo.png");
    attach(f, png);
    g_assert_cmpint(n_attachments(f), ==, 0);
    const char *banner = wenshu_window_get_error(f->window);
    g_assert_nonnull(banner);
    g_assert_nonnull(strstr(banner, "photo.png"));
    gui_save_screenshot(GTK_WIDGET(f->window), "chat-image-refused", 200);
}

static void test_drop_on_page(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autofree char *path = write_file(f, "memo.md", "# Memo\n\nQuarterly figures.\n", -1);
    /* the page's drop target, as a drag from a file manager reaches it */
    GtkDropTarget *target = NULL;
    g_autoptr(GListModel) controllers = gtk_widget_observe_controllers(GTK_WIDGET(f->chat));
    for (guint i = 0; i < g_list_model_get_n_items(controllers) && !target; i++) {
        g_autoptr(GObject) c = g_list_model_get_item(controllers, i);
        if (GTK_IS_DROP_TARGET(c))
            target = GTK_DROP_TARGET(c);
    }
    g_assert_nonnull(target);
    g_autoptr(GFile) file = g_file_new_for_path(path);
    GSList *files = g_slist_prepend(NULL, file);
    GdkFileList *list = gdk_file_list_new_from_list(files);
    g_slist_free(files);
    GValue value = G_VALUE_INIT;
    g_value_init(&value, GDK_TYPE_FILE_LIST);
    g_value_take_boxed(&value, list);
    gboolean accepted = FALSE;
    g_signal_emit_by_name(target, "drop", &value, 10.0, 10.0, &accepted);
    g_value_unset(&value);
    g_assert_true(accepted);
    gui_wait_until(bar_settled, f, WAIT_MS, "the dropped file to load");
    g_assert_cmpint(n_attachments(f), ==, 1);
}

/* The reply of the last turn as saved. */
static char *last_saved_reply(Fixture *f)
{
    g_autoptr(GPtrArray) messages = saved_messages(f);
    const WenshuMessage *last = g_ptr_array_index(messages, messages->len - 1);
    g_assert_cmpstr(last->role, ==, "assistant");
    g_assert_true(last->complete);
    return g_strdup(last->content);
}

static void test_continue_cut_reply(Fixture *f, gconstpointer data)
{
    (void)data;
    /* the reference: the greedy reply of 24 tokens in one run */
    send_and_wait(f, "写一句话。", 24);
    g_autofree char *whole = last_saved_reply(f);
    g_assert_cmpuint(strlen(whole), >, 0);
    /* a fresh chat, cut at 10 tokens, then continued for 14 more */
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->chat), "draft.new", NULL));
    send_and_wait(f, "写一句话。", 10);
    g_autofree char *cut = last_saved_reply(f);
    g_assert_true(g_str_has_prefix(whole, cut));
    wenshu_chat_page_set_n_predict(f->chat, 14);
    activate_and_wait(f, "draft.continue");
    g_autofree char *continued = last_saved_reply(f);
    g_assert_cmpstr(continued, ==, whole);
    g_autoptr(GPtrArray) messages = saved_messages(f);
    g_assert_cmpuint(messages->len, ==, 2); /* the same reply, extended */
}

static void test_edit_then_continue(Fixture *f, gconstpointer data)
{
    (void)data;
    send_and_wait(f, "写一句话。", 8);
    g_autofree char *before = wenshu_chat_page_dup_output(f->chat);
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->chat), "draft.edit-reply", NULL));
    /* the transcript took the focus and is editable */
    GtkWidget *focus = gtk_root_get_focus(GTK_ROOT(f->window));
    g_assert_true(GTK_IS_TEXT_VIEW(focus));
    g_assert_true(gtk_text_view_get_editable(GTK_TEXT_VIEW(focus)));
    GtkTextBuffer *out = gtk_text_view_get_buffer(GTK_TEXT_VIEW(focus));
    /* the prompt above the reply is locked: an interactive insert there fails */
    GtkTextIter inside; /* GTK lets text in before a locked run's first character */
    gtk_text_buffer_get_iter_at_offset(out, &inside, 1);
    g_assert_false(gtk_text_buffer_insert_interactive(out, &inside, "X", -1, TRUE));
    /* replace the reply with the user's own start */
    const char *edited = "会议纪要：";
    GtkTextMark *mark = gtk_text_buffer_get_mark(out, "reply-start");
    g_assert_nonnull(mark);
    GtkTextIter from, end;
    gtk_text_buffer_get_iter_at_mark(out, &from, mark);
    gtk_text_buffer_get_end_iter(out, &end);
    g_assert_true(gtk_text_buffer_delete_interactive(out, &from, &end, TRUE));
    gtk_text_buffer_get_end_iter(out, &end);
    g_assert_true(gtk_text_buffer_insert_interactive(out, &end, edited, -1, TRUE));
    gui_save_screenshot(GTK_WIDGET(f->window), "chat-edit-reply", 100);
    wenshu_chat_page_set_n_predict(f->chat, 6);
    activate_and_wait(f, "draft.continue");
    g_assert_false(gtk_text_view_get_editable(GTK_TEXT_VIEW(focus)));
    g_autofree char *reply = last_saved_reply(f);
    g_assert_true(g_str_has_prefix(reply, edited));
    g_assert_cmpuint(strlen(reply), >, strlen(edited)); /* something was generated */
    g_autofree char *after = wenshu_chat_page_dup_output(f->chat);
    g_assert_nonnull(strstr(after, reply));
    g_assert_cmpstr(before, !=, after);
}

static void test_media_marker_restored(Fixture *f, gconstpointer data)
{
    (void)data;
    /* a conversation saved by a vision session: an image marker in history */
    g_autofree char *png = write_png(f, "scan.png");
    WenshuHistory *history = wenshu_window_get_history(f->window);
    GError *error = NULL;
    gint64 id = wenshu_history_new_conversation(history, "chat", "scan", NULL, &error);
    g_assert_no_error(error);
    g_autofree char *saved = g_strdup_printf("[media: %s]\n这张图片是什么？", png);
    wenshu_history_add_message(history, id, "user", saved, TRUE, &error);
    g_assert_no_error(error);
    wenshu_history_add_message(history, id, "assistant", "一张图片。", TRUE, &error);
    g_assert_no_error(error);
    g_assert_true(wenshu_chat_page_load_conversation(f->chat, id, &error));
    g_assert_no_error(error);
    /* regenerating resends the image; this model has no projector */
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->window), "win.dismiss-error", NULL));
    g_assert_null(wenshu_window_get_error(f->window));
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->chat), "draft.regenerate", NULL));
    gui_wait_until(runner_idle, f->runner, WAIT_MS, "the refused run");
    gui_spin(50);
    const char *banner = wenshu_window_get_error(f->window);
    g_assert_nonnull(banner);
    g_assert_nonnull(strstr(banner, "scan.png"));
    /* the saved reply is still shown and kept */
    g_autofree char *reply = wenshu_chat_page_dup_reply(f->chat);
    g_assert_cmpstr(reply, ==, "一张图片。");

    /* typed text that looks like a saved marker is not one: sent, saved and
     * restored, it sends no file */
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->chat), "draft.new", NULL));
    g_autofree char *typed = g_strdup_printf("看看 [media: %s] 这段文字。", png);
    send_and_wait(f, typed, 4);
    gint64 typed_id = wenshu_chat_page_get_conversation(f->chat);
    g_assert_true(wenshu_chat_page_load_conversation(f->chat, typed_id, &error));
    g_assert_no_error(error);
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->window), "win.dismiss-error", NULL));
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(f->chat), "draft.regenerate", NULL));
    gui_wait_until(runner_idle, f->runner, WAIT_MS, "the regenerated reply");
    g_assert_null(wenshu_window_get_error(f->window)); /* no image for a text model */
}

/* ---- the 公文 page's autosave while the body streams ---------------------- */

typedef struct {
    Fixture *f;
    WenshuGongwenPage *page;
    GtkTextView *view;
    int n_unfinished_seen; /* stream updates that found an unfinished saved prefix */
    gboolean drafted, ok;
} StreamWatch;

/* While the run holds the view, the saved draft is an unfinished message
 * whose text is the start of what the view shows. */
static void on_gongwen_draft_changed(GtkTextBuffer *buffer, StreamWatch *w)
{
    if (gtk_text_view_get_editable(w->view))
        return;
    gint64 id = wenshu_gongwen_page_get_conversation(w->page);
    if (!id)
        return;
    GError *error = NULL;
    g_autoptr(GPtrArray) messages =
        wenshu_history_messages(wenshu_window_get_history(w->f->window), id, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(messages->len, ==, 1);
    const WenshuMessage *m = g_ptr_array_index(messages, 0);
    GtkTextIter start, end;
    gtk_text_buffer_get_bounds(buffer, &start, &end);
    g_autofree char *shown = gtk_text_buffer_get_text(buffer, &start, &end, FALSE);
    g_assert_false(m->complete);
    g_assert_true(g_str_has_prefix(shown, m->content));
    w->n_unfinished_seen++;
}

static void on_gongwen_drafted(WenshuGongwenPage *page, gboolean ok, StreamWatch *w)
{
    (void)page;
    w->drafted = TRUE;
    w->ok = ok;
}

static gboolean is_entry_titled(GtkWidget *w, gpointer title)
{
    return ADW_IS_ENTRY_ROW(w) &&
           g_strcmp0(adw_preferences_row_get_title(ADW_PREFERENCES_ROW(w)), title) == 0;
}

static GtkWidget *find_matching(GtkWidget *root, gboolean (*match)(GtkWidget *, gpointer),
                                gpointer key)
{
    if (match(root, key))
        return root;
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *hit = find_matching(c, match, key);
        if (hit)
            return hit;
    }
    return NULL;
}

static void test_gongwen_saved_while_streaming(Fixture *f, gconstpointer data)
{
    (void)data;
    wenshu_window_show_page(f->window, "gongwen");
    WenshuGongwenPage *page =
        WENSHU_GONGWEN_PAGE(gui_find_descendant(GTK_WIDGET(f->window), WENSHU_TYPE_GONGWEN_PAGE));
    g_assert_nonnull(page);
    GtkWidget *issuer = find_matching(GTK_WIDGET(page), is_entry_titled, "Issuing agency");
    g_assert_nonnull(issuer); /* LANGUAGE=en */
    gtk_editable_set_text(GTK_EDITABLE(issuer), "临江市应急管理局");
    GtkTextView *facts = GTK_TEXT_VIEW(gui_find_named(GTK_WIDGET(page), "facts"));
    g_assert_nonnull(facts);
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(facts), "定于4月开展安全生产大检查。", -1);
    StreamWatch w = {.f = f, .page = page,
                     .view = GTK_TEXT_VIEW(gui_find_named(GTK_WIDGET(page), "draft"))};
    g_assert_nonnull(w.view);
    gulong c = g_signal_connect_after(gtk_text_view_get_buffer(w.view), "changed",
                                      G_CALLBACK(on_gongwen_draft_changed), &w);
    gulong d = g_signal_connect(page, "drafted", G_CALLBACK(on_gongwen_drafted), &w);
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(page), "gongwen.draft", NULL));
    gui_wait_flag(&w.drafted, WAIT_MS, "the 公文 draft");
    g_signal_handler_disconnect(gtk_text_view_get_buffer(w.view), c);
    g_signal_handler_disconnect(page, d);
    g_assert_true(w.ok);
    g_test_message("%d stream updates found the unfinished draft saved", w.n_unfinished_seen);
    g_assert_cmpint(w.n_unfinished_seen, >, 0);
    /* drafting ended: the saved draft is complete and is the composed text */
    GError *error = NULL;
    g_autoptr(GPtrArray) messages = wenshu_history_messages(
        wenshu_window_get_history(f->window), wenshu_gongwen_page_get_conversation(page), &error);
    g_assert_no_error(error);
    const WenshuMessage *m = g_ptr_array_index(messages, 0);
    g_assert_true(m->complete);
    g_autofree char *draft = wenshu_gongwen_page_get_draft_text(page);
    g_assert_cmpstr(m->content, ==, draft);
}

/* ---- the window's load progress ------------------------------------------- */

static void test_load_progress(Fixture *f, gconstpointer data)
{
    (void)data;
    GtkProgressBar *bar =
        GTK_PROGRESS_BAR(gui_find_descendant(GTK_WIDGET(f->window), GTK_TYPE_PROGRESS_BAR));
    /* the window's bar comes first in the tree (above the pages) */
    g_assert_nonnull(bar);
    g_signal_emit_by_name(f->runner, "progress", 0.25, "loading big.gguf");
    g_assert_true(gtk_widget_get_visible(GTK_WIDGET(bar)));
    g_assert_cmpfloat(gtk_progress_bar_get_fraction(bar), ==, 0.25);
    g_assert_nonnull(strstr(gtk_progress_bar_get_text(bar), "loading big.gguf"));
    gui_save_screenshot(GTK_WIDGET(f->window), "window-load-progress", 50);
    g_signal_emit_by_name(f->runner, "progress", 1.0, "");
    g_assert_false(gtk_widget_get_visible(GTK_WIDGET(bar)));
}

/* At its default size the window shows the sidebar beside the pages: no
 * page may be so wide that the leaflet folds (every page is in the stack,
 * so the widest sets the minimum). */
static void test_default_width_unfolded(Fixture *f, gconstpointer data)
{
    (void)data;
    AdwLeaflet *leaflet =
        ADW_LEAFLET(gui_find_descendant(GTK_WIDGET(f->window), ADW_TYPE_LEAFLET));
    g_assert_nonnull(leaflet);
    gui_spin(100);
    int width = gtk_widget_get_width(GTK_WIDGET(f->window));
    g_test_message("window %d px wide", width);
    g_assert_false(adw_leaflet_get_folded(leaflet));
}

int main(int argc, char **argv)
{
    gui_init(&argc, &argv, TRUE);
    model_path = gui_make_fixture_model(GUI_QWEN3_MODEL, TRUE);
    if (!model_path) {
        g_test_message("no Qwen3 tokenizer.json (tests/install-deps.sh --tests): skipped");
        return 77;
    }
#define ADD(name, fn) \
    g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/gui/chat/text-attachment", test_text_attachment);
    ADD("/gui/chat/image-refused", test_image_refused);
    ADD("/gui/chat/drop-on-page", test_drop_on_page);
    ADD("/gui/chat/continue-cut-reply", test_continue_cut_reply);
    ADD("/gui/chat/edit-then-continue", test_edit_then_continue);
    ADD("/gui/chat/media-marker-restored", test_media_marker_restored);
    ADD("/gui/gongwen/saved-while-streaming", test_gongwen_saved_while_streaming);
    ADD("/gui/window/load-progress", test_load_progress);
    ADD("/gui/window/default-width-unfolded", test_default_width_unfolded);
    int status = g_test_run();
    g_free(model_path);
    return status;
}
