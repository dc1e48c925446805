/* wenshu-i18n.c: see wenshu-i18n.h. The catalog folder comes from meson
 * (WENSHU_LOCALEDIR: prefix/localedir); the build tree's folder
 * (build/ui/po, laid out as <lang>/LC_MESSAGES/wenshu.mo) is reached
 * through the WENSHU_LOCALEDIR environment variable. */
#include <glib/gi18n.h>
#include <gtk/gtk.h>
#include <locale.h>
#include <string.h>

#include "wenshu-i18n.h"

char *wenshu_i18n_language_of_locale(const char *locale_name)
{
    if (!locale_name || !locale_name[0])
        return NULL;
    /* "ll_CC.codeset@modifier": the language is what comes before '.' or '@' */
    size_t len = strcspn(locale_name, ".@");
    gboolean is_c = len == 1 && locale_name[0] == 'C';
    gboolean is_posix = len == 5 && strncmp(locale_name, "POSIX", 5) == 0;
    if (len == 0 || is_c || is_posix)
        return NULL;
    return g_strndup(locale_name, len);
}

/* The environment variable that decides LC_MESSAGES, in POSIX order, or
 * NULL when none is set. */
static const char *messages_locale_name(void)
{
    static const char *const names[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        const char *value = g_getenv(names[i]);
        if (value && value[0])
            return value;
    }
    return NULL;
}

/* The environment names a locale that is not installed: run in C.UTF-8
 * (glibc honours LANGUAGE there, not in plain "C") and let LANGUAGE carry
 * the locale's language unless the user set LANGUAGE already. */
static void fall_back_to_c_utf8(void)
{
    setlocale(LC_ALL, "C.UTF-8");
    const char *language = g_getenv("LANGUAGE");
    g_autofree char *from_locale = wenshu_i18n_language_of_locale(messages_locale_name());
    if ((!language || !language[0]) && from_locale)
        g_setenv("LANGUAGE", from_locale, TRUE);
}

void wenshu_i18n_init(void)
{
    if (!setlocale(LC_ALL, ""))
        fall_back_to_c_utf8();
    /* the locale is set: GTK's own setlocale(LC_ALL, "") would warn (fatal
     * under G_DEBUG=fatal-warnings) for a locale that is not installed.
     * A test calls this after gtk_test_init(), which has GTK started. */
    if (!gtk_is_initialized())
        gtk_disable_setlocale();
    const char *dir = g_getenv("WENSHU_LOCALEDIR");
    bindtextdomain(GETTEXT_PACKAGE, dir && dir[0] ? dir : WENSHU_LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    textdomain(GETTEXT_PACKAGE);
}
