/* wenshu-remote-dialog.h: the "Remote model" window: a server's base URL,
 * model and API key; Test Connection lists the server's models (GET
 * /v1/models on a worker thread) or shows its error; Use switches the
 * runner to the endpoint and saves it (the key in the keyring, or in memory
 * with a notice when there is none); Stop Using goes back to the local
 * model. It opens filled from the settings (or the runner's endpoint).
 *
 * Signals: "endpoint-changed" (no arguments) after Use or Stop Using
 * changed the runner, so the window can update its device label
 * (wenshu_remote_mark_label).
 *
 * Ownership: like any GtkWindow, the window owns itself; it holds
 * references to the runner and the settings. Thread-safety: main thread.
 */
#ifndef WENSHU_REMOTE_DIALOG_H
#define WENSHU_REMOTE_DIALOG_H

#include <adwaita.h>

#include "wenshu-runner.h"

G_BEGIN_DECLS

#define WENSHU_TYPE_REMOTE_DIALOG (wenshu_remote_dialog_get_type())
G_DECLARE_FINAL_TYPE(WenshuRemoteDialog, wenshu_remote_dialog, WENSHU, REMOTE_DIALOG, AdwWindow)

/* A new dialog, transient for parent (may be NULL), over runner and
 * settings (may be NULL: nothing is saved). Present it. */
WenshuRemoteDialog *wenshu_remote_dialog_new(GtkWindow *parent, WenshuRunner *runner,
                                             GSettings *settings);

/* For tests: whether a Test Connection is still running. */
gboolean wenshu_remote_dialog_is_testing(WenshuRemoteDialog *self);

G_END_DECLS

#endif /* WENSHU_REMOTE_DIALOG_H */
