/* wenshu-page-util.c: see wenshu-page-util.h. */
#include <glib/gstdio.h>

#include "wenshu-page-util.h"

void wenshu_status_set(GtkLabel *label, gboolean is_error, const char *text)
{
    gtk_label_set_text(label, text);
    if (is_error)
        gtk_widget_add_css_class(GTK_WIDGET(label), "error");
    else
        gtk_widget_remove_css_class(GTK_WIDGET(label), "error");
}

char *wenshu_buffer_text(GtkTextBuffer *buffer)
{
    GtkTextIter start, end;
    gtk_text_buffer_get_bounds(buffer, &start, &end);
    return gtk_text_buffer_get_text(buffer, &start, &end, FALSE);
}

void wenshu_remove_dir(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        char *path = g_build_filename(dir, name, NULL);
        g_unlink(path);
        g_free(path);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(dir);
}
