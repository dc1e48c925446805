/* wenshu-i18n.h: the UI's language. Every user-visible string is an
 * English msgid in the gettext domain "wenshu" (GETTEXT_PACKAGE), marked
 * with _() / N_() in the C files and translatable="yes" in the .ui files;
 * ui/po/ holds the catalogs (zh_CN). wenshu_i18n_init() follows the system
 * locale (LANGUAGE, then LC_ALL, LC_MESSAGES, LANG) and reads the compiled
 * catalogs from $WENSHU_LOCALEDIR when set (the build tree's ui/po, for
 * uninstalled runs and the tests), else from the install prefix's locale
 * folder.
 * Thread-safety: call it once from main(), before GTK starts and before
 * any other thread exists: it sets the process locale and may set
 * LANGUAGE in the environment. (A GUI test calls it right after
 * gtk_test_init(), which sets a locale of its own.) */
#ifndef WENSHU_I18N_H
#define WENSHU_I18N_H

#include <glib.h>

G_BEGIN_DECLS

/* Set the locale from the environment and bind the "wenshu" domain. When
 * the environment names a locale the C library does not have (a bare
 * system has only C and C.UTF-8), it runs in C.UTF-8 and, unless LANGUAGE
 * is set, takes the language from that locale's name (LANG=zh_CN.UTF-8
 * gives LANGUAGE=zh_CN), so the UI still follows the user's language.
 * It also keeps GTK from calling setlocale() again. */
void wenshu_i18n_init(void);

/* The language the locale name names: "zh_CN" for "zh_CN.UTF-8@latin";
 * NULL for NULL, "", "C", "C.UTF-8" and "POSIX". Ownership: the caller
 * frees the result. Thread-safety: safe. */
char *wenshu_i18n_language_of_locale(const char *locale_name);

G_END_DECLS

#endif /* WENSHU_I18N_H */
