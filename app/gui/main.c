/* main.c: start the Wenshu desktop app (GTK4 + libadwaita). */
#include "wenshu-application.h"

int main(int argc, char **argv)
{
    WenshuApplication *app = wenshu_application_new();
    int status = g_application_run(G_APPLICATION(app), argc, argv);
    g_object_unref(app);
    return status;
}
