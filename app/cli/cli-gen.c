/* cli-gen.c: generation steps shared by draft, slides and clip: a text sink
 * for streamed tokens, and one chat turn that answers with JSON following a
 * schema, reusing the cached prompt prefix of the previous turn, or sent to
 * a remote endpoint; and the temporary PNG files a remote turn's images
 * travel as.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cairo.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "cli.h"
#include "clip.h"

bool cli_sink_piece(int32_t token, const char *text, size_t len, void *user_data)
{
    (void)token;
    struct cli_text_sink *s = user_data;
    if (s->len + len + 1 > s->cap) {
        size_t cap = (s->cap ? s->cap * 2 : 4096) + len;
        char *grown = realloc(s->text, cap);
        if (!grown)
            return false;
        s->text = grown;
        s->cap = cap;
    }
    memcpy(s->text + s->len, text, len);
    s->len += len;
    s->text[s->len] = '\0';
    if (s->echo) {
        fwrite(text, 1, len, s->echo);
        fflush(s->echo);
    }
    return true;
}

void cli_gen_free(struct cli_gen *g)
{
    free(g->cached);
    g->cached = NULL;
    g->n_cached = 0;
}

/* Evaluate a text-only prompt after the longest cached prefix it shares. */
static int eval_cached(struct cli_gen *g, const char *prompt)
{
    int32_t *ids = NULL;
    size_t n = 0;
    struct eng_err err;
    if (eng_tokenize(g->model, prompt, strlen(prompt), true, &ids, &n, &err))
        return cli_fail("%s", err.msg);
    size_t keep = 0;
    while (keep < n && keep < g->n_cached && ids[keep] == g->cached[keep])
        keep++;
    if (keep == n && keep > 0)
        keep--; /* the last token is evaluated again for its logits */
    eng_session_truncate(g->session, (int)keep);
    enum eng_status st = eng_session_eval(g->session, ids + keep, n - keep, g->cancel, &err);
    if (st) {
        free(ids);
        cli_gen_free(g);
        eng_session_reset(g->session);
        return cli_fail("%s", err.msg);
    }
    free(g->cached);
    g->cached = ids;
    g->n_cached = n;
    return 0;
}

/* The turn on g->remote: names[n_images] are the image files. */
static char *remote_turn(struct cli_gen *g, const struct eng_chat_message *msgs,
                         const char *const *names, int n_images, const struct eng_schema *schema,
                         int max_tokens, FILE *echo)
{
    struct cli_text_sink sink = {.echo = echo};
    if (cli_remote_turn(g->remote, msgs, 2, names, n_images, &g->sampler, schema, max_tokens,
                        g->cancel, &sink)) {
        free(sink.text);
        return NULL;
    }
    return sink.text ? sink.text : strdup("");
}

char *cli_gen_turn(struct cli_gen *g, const char *system, const char *user,
                   struct eng_media *const *media, const char *const *names, int n_media,
                   const struct eng_schema *schema, int max_tokens, FILE *echo)
{
    struct eng_chat_message msgs[2] = {{"system", system}, {"user", user}};
    if (g->remote)
        return remote_turn(g, msgs, names, n_media, schema, max_tokens, echo);
    struct eng_chat_params cp = eng_chat_params_default();
    cp.enable_thinking = false;
    char *prompt = NULL;
    struct eng_err err;
    if (eng_chat_render(g->model, msgs, 2, &cp, &prompt, &err) != ENG_STATUS_OK) {
        cli_fail("%s", err.msg);
        return NULL;
    }
    int status;
    if (n_media > 0) { /* media are not cached: start afresh */
        cli_gen_free(g);
        eng_session_reset(g->session);
        status = cli_eval_media_list(g->model, g->session, prompt, media, names, n_media,
                                     g->cancel);
    } else {
        status = eval_cached(g, prompt);
    }
    free(prompt);
    if (status)
        return NULL;
    struct cli_text_sink sink = {.echo = echo};
    struct eng_generate_params gp = eng_generate_params_default();
    gp.n_predict = max_tokens;
    gp.sampler = g->sampler;
    gp.on_token = cli_sink_piece;
    gp.user_data = &sink;
    gp.cancel = g->cancel;
    gp.schema = schema;
    enum eng_status st = eng_session_generate(g->session, NULL, 0, &gp, NULL, NULL, &err);
    /* the generated tokens are not mirrored in cached[]: the next prompt's
     * common prefix ends before them, and truncation drops them */
    if (st) {
        free(sink.text);
        if (st == ENG_STATUS_CANCELLED)
            cli_fail("stopped");
        else
            cli_fail("%s", err.msg);
        return NULL;
    }
    return sink.text ? sink.text : strdup("");
}

/* ---- temporary PNG files ----------------------------------------------------------------- */

char *cli_temp_images_write(struct cli_temp_images *t, const struct eng_image *image)
{
    GError *error = NULL;
    if (!t->dir && !(t->dir = g_dir_make_tmp("wenshu-images-XXXXXX", &error))) {
        cli_fail("cannot make a temporary folder for the images: %s", error->message);
        g_error_free(error);
        return NULL;
    }
    char name[32];
    snprintf(name, sizeof name, "image-%d.png", t->n_files);
    char *path = g_build_filename(t->dir, name, NULL);
    cairo_surface_t *surface = clip_image_surface(image);
    /* cairo writes an RGB24 surface as an 8-bit RGB PNG: the pixels round-trip */
    cairo_status_t st =
        surface ? cairo_surface_write_to_png(surface, path) : CAIRO_STATUS_NO_MEMORY;
    cairo_surface_destroy(surface);
    t->n_files++; /* counted even on failure: a half-written file is removed too */
    if (st != CAIRO_STATUS_SUCCESS) {
        cli_fail("%s: cannot write the image: %s", path, cairo_status_to_string(st));
        g_free(path);
        return NULL;
    }
    return path;
}

void cli_temp_images_remove(struct cli_temp_images *t)
{
    for (int i = 0; t->dir && i < t->n_files; i++) {
        char name[32];
        snprintf(name, sizeof name, "image-%d.png", i);
        char *path = g_build_filename(t->dir, name, NULL);
        if (g_unlink(path) != 0 && errno != ENOENT)
            fprintf(stderr, "wenshu-cli: %s: cannot remove: %s\n", path, g_strerror(errno));
        g_free(path);
    }
    if (t->dir && g_rmdir(t->dir) != 0)
        fprintf(stderr, "wenshu-cli: %s: cannot remove: %s\n", t->dir, g_strerror(errno));
    g_free(t->dir);
    t->dir = NULL;
    t->n_files = 0;
}
