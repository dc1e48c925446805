/* wenshu-layout-lock.h: one lock for the document and deck layout calls
 * (gw_export_*, deck_theme_load, deck_export_*): they resolve fonts through
 * fontconfig and lay text out with pango, and the pages run them both in
 * their preview threads and on the main thread (exports). Holding this lock
 * around each such call keeps two of them from sharing font machinery at
 * once, whichever pages they come from.
 * Thread-safety: safe; it is the point. Ownership: a static mutex, never freed. */
#ifndef WENSHU_LAYOUT_LOCK_H
#define WENSHU_LAYOUT_LOCK_H

#include <glib.h>

G_BEGIN_DECLS

/* The shared layout mutex (lock and unlock with g_mutex_lock/unlock). */
GMutex *wenshu_layout_lock(void);

G_END_DECLS

#endif /* WENSHU_LAYOUT_LOCK_H */
