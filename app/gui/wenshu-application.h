/* wenshu-application.h: the Wenshu application (cn.wenshu.Wenshu). It
 * opens the main window with the history (WENSHU_HISTORY_DB=path, else
 * $XDG_DATA_HOME/wenshu/history.db), restores a reply cut off by a crash,
 * and, with --model PATH or WENSHU_MODEL in the environment, loads that
 * model at start. Test hook: --prompt TEXT [--n-predict N] sends TEXT on
 * the chat page once that model has loaded.
 * Thread-safety: main thread only.
 */
#ifndef WENSHU_APPLICATION_H
#define WENSHU_APPLICATION_H

#include <adwaita.h>

G_BEGIN_DECLS

#define WENSHU_APPLICATION_ID "cn.wenshu.Wenshu"
#define WENSHU_TYPE_APPLICATION (wenshu_application_get_type())
G_DECLARE_FINAL_TYPE(WenshuApplication, wenshu_application, WENSHU, APPLICATION, AdwApplication)

/* Ownership: the caller owns the returned application. */
WenshuApplication *wenshu_application_new(void);

G_END_DECLS

#endif /* WENSHU_APPLICATION_H */
