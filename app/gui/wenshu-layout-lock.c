/* wenshu-layout-lock.c: the shared layout mutex (see wenshu-layout-lock.h). */
#include "wenshu-layout-lock.h"

static GMutex layout_lock; /* a static GMutex needs no init */

GMutex *wenshu_layout_lock(void) { return &layout_lock; }
