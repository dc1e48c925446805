/* gw-file.c: output files written beside their path and renamed into place
 * (gw-file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw-file.h"

char *gw_file_temp_name(const char *path)
{
    static atomic_uint counter;
    size_t n = strlen(path) + 40; /* ".tmp-" + two decimal numbers + NUL */
    char *tmp = malloc(n);
    if (tmp)
        snprintf(tmp, n, "%s.tmp-%ld-%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
    return tmp;
}

char *gw_file_temp_beside(const char *path, struct gw_err *err)
{
    char *tmp = gw_file_temp_name(path);
    if (!tmp) {
        gw_fail(err, "%s: out of memory", path);
        return NULL;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        gw_fail(err, "%s: cannot create a file beside it: %s", path, strerror(errno));
        free(tmp);
        return NULL;
    }
    close(fd);
    return tmp;
}

bool gw_file_replace(char *tmp, const char *path, bool ok, struct gw_err *err)
{
    if (ok && rename(tmp, path) != 0)
        ok = gw_fail(err, "%s: cannot replace the file: %s", path, strerror(errno));
    if (!ok)
        unlink(tmp);
    free(tmp);
    return ok;
}
