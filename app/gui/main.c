/* main.c: start the Wenshu desktop app (GTK4 + libadwaita) in the user's
 * language (wenshu-i18n.h). */
#include "wenshu-application.h"
#include "wenshu-i18n.h"

int main(int argc, char **argv)
{
    wenshu_i18n_init();
    WenshuApplication *app = wenshu_application_new();
    int status = g_application_run(G_APPLICATION(app), argc, argv);
    g_object_unref(app);
    return status;
}
