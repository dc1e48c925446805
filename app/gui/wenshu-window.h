/* wenshu-window.h: the main window: a sidebar of task kinds (公文, slides,
 * clip summary, chat) beside a stack of pages, a header bar with "Open
 * model" and the device label, an error banner and a toast overlay.
 * Actions: win.open-model, win.show-error(s), win.dismiss-error, and on a
 * saved conversation's id: win.history-rename(x), win.history-delete(x),
 * win.history-undo(x), win.history-export(x).
 * Below the task kinds, the sidebar lists the history (newest first, with
 * a search entry); selecting a row restores it into its page.
 *
 * Ownership: the window owns one WenshuRunner shared by its pages, and the
 * WenshuHistory given to wenshu_window_set_history().
 * Thread-safety: main thread only.
 */
#ifndef WENSHU_WINDOW_H
#define WENSHU_WINDOW_H

#include <adwaita.h>

#include "wenshu-history.h"
#include "wenshu-runner.h"

G_BEGIN_DECLS

#define WENSHU_TYPE_WINDOW (wenshu_window_get_type())
G_DECLARE_FINAL_TYPE(WenshuWindow, wenshu_window, WENSHU, WINDOW, AdwApplicationWindow)

/* app may be NULL (tests). */
WenshuWindow *wenshu_window_new(GtkApplication *app);

/* Load a model (and the mmproj found beside it) on the worker; n_ctx 0 =
 * 4096. Errors show in the banner. */
void wenshu_window_load_model(WenshuWindow *self, const char *path, int n_ctx);

WenshuRunner *wenshu_window_get_runner(WenshuWindow *self);
/* The chat page (a WenshuChatPage). */
GtkWidget *wenshu_window_get_chat_page(WenshuWindow *self);
/* Show the page of a task kind: "gongwen", "slides", "clip" or "chat"
 * (selected in the sidebar; on a folded window the page replaces it). */
void wenshu_window_show_page(WenshuWindow *self, const char *name);
/* The error banner's text while it shows, else NULL. Owned by the window. */
const char *wenshu_window_get_error(WenshuWindow *self);
/* Show a reason in the error banner / a short notice as a toast. */
void wenshu_window_show_error(WenshuWindow *self, const char *message);
void wenshu_window_show_toast(WenshuWindow *self, const char *message);

/* Autosave into history and list it in the sidebar. The window takes
 * ownership (NULL: none); a history set before is purged and closed. */
void wenshu_window_set_history(WenshuWindow *self, WenshuHistory *history);
/* The history (owned by the window), or NULL. */
WenshuHistory *wenshu_window_get_history(WenshuWindow *self);
/* After a crash or a kill: open the newest conversation with an unfinished
 * message (wenshu_history_find_interrupted), its reply as last saved, and
 * say so in a toast. The cut-off messages are then marked complete (their
 * text unchanged), so the next start does not restore them again.
 * Returns whether one was restored. */
gboolean wenshu_window_restore_interrupted(WenshuWindow *self);
/* Restore a saved conversation into its page (chat or 公文) and show it. */
gboolean wenshu_window_open_conversation(WenshuWindow *self, gint64 conversation,
                                         GError **error);
/* Move to the bin with an Undo toast (purged once the toast is dismissed
 * or the window closes), rename, export as Markdown to path. */
gboolean wenshu_window_delete_conversation(WenshuWindow *self, gint64 conversation,
                                           GError **error);
gboolean wenshu_window_rename_conversation(WenshuWindow *self, gint64 conversation,
                                           const char *title, GError **error);
gboolean wenshu_window_export_conversation(WenshuWindow *self, gint64 conversation,
                                           const char *path, GError **error);
/* Relist the history (the search entry's query); done by the window itself
 * after every change it makes. */
void wenshu_window_refresh_history(WenshuWindow *self);
/* The history rows (each row's conversation id is the gint64 at object data
 * "wenshu-conversation-id") and the search entry, for tests. */
GtkListBox *wenshu_window_get_history_list(WenshuWindow *self);
GtkEditable *wenshu_window_get_history_search(WenshuWindow *self);
/* Test hook (wenshu --prompt): once the next model load succeeds, send
 * prompt on the chat page with n_predict new tokens at most (< 0: until
 * the context is full). */
void wenshu_window_set_startup_prompt(WenshuWindow *self, const char *prompt, int n_predict);

G_END_DECLS

#endif /* WENSHU_WINDOW_H */
