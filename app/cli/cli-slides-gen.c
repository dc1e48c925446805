/* cli-slides-gen.c: the model's part of `wenshu-cli slides`: the outline,
 * then the slides one at a time (deck-gen.h), with progress on stderr.
 *
 * A scanned PDF input (no text layer) is transcribed page by page by the
 * vision model when --mmproj is given (cli-scan.c). With --remote every
 * turn goes to the endpoint instead, a scanned PDF's pages as images.
 * The outline is written to --outline-out when asked (to edit and pass back
 * with --outline); --outline-only stops there. A given outline skips the
 * outline step. Each slide's JSON is checked as it comes: a slide whose
 * bullets came back empty or repeated is generated once more on its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "cli.h"
#include "deck-gen.h"
#include "gw-ingest.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static volatile int cancel_flag; /* never set: a Ctrl-C ends the process */

static char *read_text(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    struct gw_err err = {{0}};
    if (!gw_ingest_file(path, &text, &len, &err)) {
        cli_fail("%s", err.msg);
        return NULL;
    }
    return text;
}

/* The source document's text; a scanned PDF is read by the vision model
 * when there is one. NULL after printing why. */
static char *read_source(const struct slides_gen_options *o, struct cli_gen *g,
                         struct eng_mmproj *proj)
{
    if ((!proj && !g->remote) || !cli_is_pdf(o->input)) {
        char *text = read_text(o->input);
        if (!text && cli_is_pdf(o->input))
            fprintf(stderr, "wenshu-cli: to read a scanned PDF, give the model's vision "
                            "projector (--mmproj) or a remote endpoint (--remote)\n");
        return text;
    }
    char *text = NULL;
    size_t len = 0;
    struct gw_err err = {{0}};
    if (gw_ingest_file(o->input, &text, &len, &err))
        return text;
    return cli_transcribe_pdf(g, proj, o->input, 20);
}

static int open_projector(const struct slides_gen_options *o, struct cli_gen *g,
                          struct eng_mmproj **proj)
{
    struct eng_mmproj_params pp = eng_mmproj_params_default();
    pp.path = o->mmproj;
    pp.n_threads = o->n_threads;
    pp.device = o->device;
    struct eng_err err;
    if (eng_mmproj_load(&pp, proj, &err) != ENG_STATUS_OK ||
        eng_mmproj_check_pair(*proj, g->model, &err) != ENG_STATUS_OK)
        return cli_fail("%s", err.msg);
    return 0;
}

/* The local model and its session, or the endpoint (*endpoint owned by the caller). */
static int open_model(const struct slides_gen_options *o, struct cli_gen *g,
                      WenshuRemoteEndpoint **endpoint)
{
    g->sampler = o->sampler;
    g->cancel = &cancel_flag;
    if (o->remote.url) {
        *endpoint = cli_remote_endpoint_new(&o->remote);
        g->remote = *endpoint;
        return 0;
    }
    g->model = cli_load_model(o->model, o->n_threads, o->device, false, false);
    if (!g->model)
        return 1;
    struct eng_session_params sp = eng_session_params_default();
    sp.n_ctx = o->n_ctx;
    sp.n_threads = o->n_threads;
    struct eng_err err;
    if (eng_session_new(g->model, &sp, &g->session, &err) != ENG_STATUS_OK)
        return cli_fail("%s: %s", o->model, err.msg);
    return 0;
}

static int make_outline(const struct slides_gen_options *o, struct cli_gen *g,
                        const struct deck_gen_input *in, char **outline)
{
    char *system = deck_gen_system_prompt();
    char *user = deck_gen_outline_prompt(in);
    struct deck_outline_schema schema;
    deck_outline_schema_init(&schema, in->n_slides);
    fprintf(stderr, "wenshu-cli: 提纲：");
    *outline = cli_gen_turn(g, system, user, NULL, NULL, 0, &schema.root,
                            200 + 120 * in->n_slides, stderr);
    fprintf(stderr, "\n");
    free(system);
    free(user);
    if (!*outline)
        return 1;
    /* in the deck format (points become bullets), so that the saved outline
     * reads back with or without a model */
    char why[256];
    char *deck = deck_gen_merge(*outline, NULL, in->n_slides, why, sizeof why);
    free(*outline);
    *outline = deck;
    if (!deck)
        return cli_fail("the outline does not read back: %s", why);
    GError *error = NULL;
    if (o->outline_out && !g_file_set_contents(o->outline_out, *outline, -1, &error)) {
        cli_fail("%s: cannot write the outline: %s", o->outline_out, error->message);
        g_error_free(error);
        return 1;
    }
    return 0;
}

/* t_start: when the work began (after the model loaded), for the progress lines. */
static int make_slides(struct cli_gen *g, const struct deck_gen_input *in, const char *outline,
                       char **slides, int n, double t_start)
{
    char *system = deck_gen_system_prompt();
    struct deck_slide_schema schema;
    deck_slide_schema_init(&schema);
    int status = 0;
    for (int i = 0; !status && i < n; i++) {
        char *user = deck_gen_slide_prompt(in, outline, i);
        for (int attempt = 0; attempt < 2 && !status; attempt++) {
            free(slides[i]);
            slides[i] = cli_gen_turn(g, system, user, NULL, NULL, 0, &schema.root, 600, NULL);
            if (!slides[i])
                status = 1;
            else if (deck_gen_slide_is_sound(slides[i]))
                break;
        }
        free(user);
        if (!status)
            fprintf(stderr, "wenshu-cli: slide %d of %d done (%.1f s)%s\n", i + 1, n,
                    now_seconds() - t_start, i == 0 ? " — the first slide" : "");
    }
    free(system);
    return status;
}

int cli_slides_generate(const struct slides_gen_options *o, char **deck_json)
{
    *deck_json = NULL;
    struct deck_gen_input in = {.topic = o->topic, .n_slides = o->n_slides};
    char *source = NULL, *outline = NULL, *base = NULL;
    struct cli_gen g = {0};
    struct eng_mmproj *proj = NULL;
    WenshuRemoteEndpoint *endpoint = NULL;
    int status = open_model(o, &g, &endpoint);
    double t0 = now_seconds(); /* the work's start, the model loaded */
    if (!status && o->mmproj)
        status = open_projector(o, &g, &proj);
    if (!status && o->input && !(source = read_source(o, &g, proj)))
        status = 2;
    if (!status && o->input) {
        base = g_path_get_basename(o->input);
        in.source_name = base;
        in.source_text = source;
    }
    if (!status && o->outline && !(outline = read_text(o->outline)))
        status = 2;
    char why[256];
    if (outline) {
        in.n_slides = deck_gen_outline_slides(outline, why, sizeof why);
        if (in.n_slides < 0)
            status = cli_fail("%s: %s", o->outline, why) + 1;
        else if (in.n_slides > DECK_GEN_MAX_SLIDES)
            status = cli_fail("%s: %d slides, at most %d", o->outline, in.n_slides,
                              DECK_GEN_MAX_SLIDES) + 1;
    }
    if (!status && !outline)
        status = make_outline(o, &g, &in, &outline);
    char **slides = NULL;
    if (!status && !o->outline_only) {
        slides = calloc((size_t)in.n_slides, sizeof(char *)); /* [n_slides] */
        status = slides ? make_slides(&g, &in, outline, slides, in.n_slides, t0)
                        : cli_fail("out of memory");
    }
    if (!status) {
        *deck_json = deck_gen_merge(outline, o->outline_only ? NULL : slides, in.n_slides, why,
                                    sizeof why);
        if (!*deck_json)
            status = cli_fail("the deck does not read back: %s", why);
        fprintf(stderr, "wenshu-cli: %d slides in %.1f s\n", in.n_slides, now_seconds() - t0);
    }
    for (int i = 0; slides && i < in.n_slides; i++)
        free(slides[i]);
    free(slides);
    free(outline);
    free(source);
    g_free(base);
    cli_gen_free(&g);
    eng_mmproj_free(&proj);
    eng_session_free(&g.session);
    eng_model_free(&g.model);
    wenshu_remote_endpoint_free(&endpoint);
    return status;
}
