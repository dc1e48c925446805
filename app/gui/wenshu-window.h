/* wenshu-window.h: the main window: a sidebar of task kinds (公文, slides,
 * clip summary, chat) beside a stack of pages, a header bar with "Open
 * model" and the device label, an error banner and a toast overlay.
 * Actions: win.open-model, win.show-error(s), win.dismiss-error.
 *
 * Ownership: the window owns one WenshuRunner shared by its pages.
 * Thread-safety: main thread only.
 */
#ifndef WENSHU_WINDOW_H
#define WENSHU_WINDOW_H

#include <adwaita.h>

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

G_END_DECLS

#endif /* WENSHU_WINDOW_H */
