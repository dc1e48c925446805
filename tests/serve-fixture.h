/* serve-fixture.h: the real counterpart of the remote client's tests: a
 * `wenshu-cli serve` on a free loopback port (as tests/test-serve.py starts
 * it), the fixture models `wenshu-cli synth` makes, and the reference
 * replies of `wenshu-cli run --temp 0`. WENSHU_CLI names the binary.
 * Include it once, from the test's .c file (GLib/GIO only). */
#ifndef WENSHU_TESTS_SERVE_FIXTURE_H
#define WENSHU_TESTS_SERVE_FIXTURE_H

#include <gio/gio.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    GSubprocess *proc; /* owned */
    char *log_path;    /* owned: the server's stderr */
    int port;          /* 0 until it listens */
} ServeFixture;

static inline const char *fixture_cli(void)
{
    const char *cli = g_getenv("WENSHU_CLI");
    return cli && *cli ? cli : "wenshu-cli";
}

/* Run `wenshu-cli ARGS...` (NULL-terminated) and return its stdout (g_free),
 * or NULL after printing why. */
static inline char *fixture_cli_output(const char *first, ...)
{
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (char *)fixture_cli());
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        g_ptr_array_add(argv, (char *)a);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    char *out = NULL, *err = NULL;
    int status = 0;
    GError *error = NULL;
    gboolean ok = g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                               &err, &status, &error);
    if (!ok || !g_spawn_check_wait_status(status, NULL)) {
        fprintf(stderr, "wenshu-cli %s failed: %s\n", first, error ? error->message : err);
        g_clear_pointer(&out, g_free);
    }
    g_clear_error(&error);
    g_free(err);
    g_ptr_array_free(argv, TRUE);
    return out;
}

/* The reply `wenshu-cli run --temp 0 ARGS...` prints, less its closing
 * newline (g_free), or NULL. */
#define fixture_cli_reply(...)                                                                     \
    fixture_strip_newline(fixture_cli_output("run", "--temp", "0", __VA_ARGS__, NULL))
static inline char *fixture_strip_newline(char *out)
{
    if (out && g_str_has_suffix(out, "\n"))
        out[strlen(out) - 1] = '\0';
    return out;
}

/* Start `wenshu-cli serve --port 0 ARGS...` (NULL-terminated), its stderr
 * in dir/name.log, and wait (at most 60 s) for its "listening on" line.
 * Returns FALSE (and prints the log) when it does not start. */
static inline gboolean serve_fixture_start(ServeFixture *s, const char *dir, const char *name,
                                           const char *first, ...)
{
    memset(s, 0, sizeof *s);
    s->log_path = g_strdup_printf("%s/%s.log", dir, name);
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (char *)fixture_cli());
    g_ptr_array_add(argv, "serve");
    g_ptr_array_add(argv, "--port");
    g_ptr_array_add(argv, "0");
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        g_ptr_array_add(argv, (char *)a);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    GSubprocessLauncher *launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
    g_subprocess_launcher_set_stderr_file_path(launcher, s->log_path);
    GError *error = NULL;
    s->proc = g_subprocess_launcher_spawnv(launcher, (const char *const *)argv->pdata, &error);
    g_object_unref(launcher);
    g_ptr_array_free(argv, TRUE);
    if (!s->proc) {
        fprintf(stderr, "cannot start wenshu-cli serve: %s\n", error->message);
        g_error_free(error);
        return FALSE;
    }
    const char *mark = "listening on http://127.0.0.1:";
    for (int i = 0; i < 1200 && s->port == 0; i++) {
        g_usleep(50000);
        g_autofree char *log = NULL;
        if (!g_file_get_contents(s->log_path, &log, NULL, NULL))
            continue;
        const char *at = strstr(log, mark);
        if (at)
            s->port = atoi(at + strlen(mark));
    }
    if (s->port == 0) {
        g_autofree char *log = NULL;
        g_file_get_contents(s->log_path, &log, NULL, NULL);
        fprintf(stderr, "serve did not start: %s\n", log ? log : "(no log)");
    }
    return s->port != 0;
}

/* The server's base URL (g_free). */
static inline char *serve_fixture_url(const ServeFixture *s)
{
    return g_strdup_printf("http://127.0.0.1:%d/v1", s->port);
}

static inline void serve_fixture_stop(ServeFixture *s)
{
    if (s->proc) {
        g_subprocess_send_signal(s->proc, SIGTERM);
        g_subprocess_wait(s->proc, NULL, NULL);
        g_clear_object(&s->proc);
    }
    g_clear_pointer(&s->log_path, g_free);
}

/* Write a w x h RGB PNG of seeded random pixels to path (with python3's
 * zlib, as tests/test-serve.py does). Returns FALSE on failure. */
static inline gboolean fixture_write_png(const char *path, int w, int h, int seed)
{
    g_autofree char *code =
        g_strdup_printf("import random,struct,zlib,sys\n"
                        "r=random.Random(%d);w,h=%d,%d\n"
                        "rows=b''.join(b'\\x00'+bytes(r.randrange(256) for _ in range(w*3)) for "
                        "_ in range(h))\n"
                        "c=lambda k,d: "
                        "struct.pack('>I',len(d))+k+d+struct.pack('>I',zlib.crc32(k+d)&"
                        "0xffffffff)\n"
                        "open(sys.argv[1],'wb').write(b'\\x89PNG\\r\\n\\x1a\\n'+c(b'IHDR',struct."
                        "pack('>IIBBBBB',"
                        "w,h,8,2,0,0,0))+c(b'IDAT',zlib.compress(rows))+c(b'IEND',b''))\n",
                        seed, w, h);
    const char *argv[] = {"python3", "-c", code, path, NULL};
    int status = 0;
    return g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                        &status, NULL) &&
           g_spawn_check_wait_status(status, NULL);
}

#endif
