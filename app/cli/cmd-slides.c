/* cmd-slides.c: `wenshu-cli slides`, a slide deck (app/deck): PPTX, PDF and
 * PNG thumbnails in a theme, from an outline JSON file or made by the model.
 *
 *   wenshu-cli slides --outline outline.json [--theme plain|red|dark]
 *                     [-o deck.pptx] [--pdf deck.pdf] [--png PREFIX] [--dpi N]
 *   wenshu-cli slides -m MODEL.gguf [--mmproj P.gguf] [--input doc.docx|.pdf|.md|.txt] [--topic T]
 *                     [--slides 8] [--outline edited.json] [--outline-out outline.json]
 *                     [--outline-only] [-c CTX] [-t N] [--device D] [--temp ...] ...
 *   wenshu-cli slides --remote URL --remote-model M [--api-key-env VAR] [--input ...] ...
 *                     (every turn on an OpenAI-compatible endpoint; no -m, no --mmproj:
 *                     a scanned PDF's pages go to the endpoint as images)
 *
 * With a model the outline comes first (saved with --outline-out, to edit
 * and pass back with --outline), then each slide (cli-slides-gen.c).
 *
 * prints "slides N" (N counts the title slide). Exit status: 0, 2 for bad
 * input (options, outline, theme, pictures), 1 when an output cannot be
 * written; on any failure nothing is left at the output paths. The options
 * are parsed in one place (parse_slides_options) so that the model-driven
 * inputs (--input, --topic, --slides, -m) can join them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "cli.h"
#include "deck-gen.h"
#include "deck.h"

struct slides_options {
    const char *outline; /* the outline JSON file */
    const char *theme;   /* a theme name, "plain" by default */
    const char *pptx, *pdf, *png;
    double dpi;
    struct slides_gen_options gen; /* the model's inputs (gen.model and
                                    * gen.remote.url NULL: none) */
};

/* The model's options; true when argv[*i] was one (and *i advanced). */
static bool parse_model_option(int argc, char **argv, int *i, struct slides_gen_options *g,
                               bool *bad, bool *missing)
{
    const char *v = NULL;
    if (cli_remote_opt(argc, argv, i, &g->remote, missing) ||
        cli_opt(argc, argv, i, "-m", "--model", &g->model, missing) ||
        cli_opt(argc, argv, i, NULL, "--mmproj", &g->mmproj, missing) ||
        cli_opt(argc, argv, i, NULL, "--input", &g->input, missing) ||
        cli_opt(argc, argv, i, NULL, "--topic", &g->topic, missing) ||
        cli_opt(argc, argv, i, NULL, "--outline-out", &g->outline_out, missing)) {
        return true;
    }
    if (strcmp(argv[*i], "--outline-only") == 0) {
        g->outline_only = true;
        return true;
    }
    if (cli_opt(argc, argv, i, NULL, "--slides", &v, missing))
        *bad = !*missing && (!cli_parse_int(v, &g->n_slides) || g->n_slides < 1 ||
                             g->n_slides > DECK_GEN_MAX_SLIDES);
    else if (cli_opt(argc, argv, i, "-c", "--ctx", &v, missing))
        *bad = !*missing && (!cli_parse_int(v, &g->n_ctx) || g->n_ctx < 512);
    else if (cli_opt(argc, argv, i, "-t", "--threads", &v, missing))
        *bad = !*missing && (!cli_parse_int(v, &g->n_threads) || g->n_threads < 0);
    else if (cli_opt(argc, argv, i, NULL, "--device", &v, missing))
        *bad = !*missing && !eng_device_parse(v, &g->device);
    else if (!cli_sampler_opt(argc, argv, i, &g->sampler, bad))
        return false;
    if (*bad && v)
        cli_fail("slides: bad value for %s: %s", argv[*i - 1], v);
    return true;
}

static bool parse_slides_options(int argc, char **argv, struct slides_options *o)
{
    *o = (struct slides_options){.theme = "plain", .dpi = 96};
    o->gen = (struct slides_gen_options){.n_slides = 8, .n_ctx = 8192,
                                         .device = eng_model_params_default().device,
                                         .sampler = eng_sampler_params_default()};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool missing = false, bad = false;
        if (parse_model_option(argc, argv, &i, &o->gen, &bad, &missing)) {
            if (bad)
                return false;
        } else if (cli_opt(argc, argv, &i, NULL, "--outline", &o->outline, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--theme", &o->theme, &missing) ||
            cli_opt(argc, argv, &i, "-o", "--output", &o->pptx, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--pdf", &o->pdf, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--png", &o->png, &missing)) {
        } else if (cli_opt(argc, argv, &i, NULL, "--dpi", &v, &missing)) {
            float dpi = 0;
            if (!missing && (!cli_parse_float(v, &dpi) || dpi < 10 || dpi > 600)) {
                cli_fail("slides: bad value for --dpi: %s (10..600)", v);
                return false;
            }
            o->dpi = dpi;
        } else {
            cli_fail("slides: unexpected argument %s", argv[i]);
            return false;
        }
        if (missing)
            return false;
    }
    o->gen.outline = o->outline;
    if (!cli_remote_check("slides", &o->gen.remote))
        return false;
    bool generator = o->gen.model || o->gen.remote.url; /* a local model or an endpoint */
    const char *why = o->gen.remote.url && (o->gen.model || o->gen.mmproj)
                          ? "--remote replaces the local model: give neither -m nor --mmproj"
                      : !generator && !o->outline
                          ? "no input given (--outline outline.json, or -m MODEL with --input "
                            "or --topic)"
                      : !generator && (o->gen.input || o->gen.topic || o->gen.outline_out)
                          ? "--input, --topic and --outline-out need a model (-m MODEL.gguf "
                            "or --remote URL)"
                      : generator && !o->outline && !o->gen.input && !o->gen.topic
                          ? "the model needs something to work from (--input, --topic or "
                            "--outline)"
                      : o->gen.outline_only && !o->gen.outline_out
                          ? "--outline-only needs --outline-out outline.json"
                          : NULL;
    if (why) {
        cli_fail("slides: %s", why);
        return false;
    }
    if (!o->pptx && !o->pdf && !o->png && !o->gen.outline_only) {
        cli_fail("slides: no output given (-o deck.pptx, --pdf deck.pdf or --png PREFIX)");
        return false;
    }
    return true;
}

/* Read and check the outline; relative picture paths are taken from the
 * outline's folder. NULL after printing why. */
static struct deck *load_outline(const char *path)
{
    size_t len = 0;
    char *text = cli_read_file(path, &len);
    if (!text)
        return NULL;
    struct deck *d = NULL;
    struct deck_err err = {{0}};
    bool ok = deck_from_json(text, len, path, &d, &err);
    free(text);
    if (ok) {
        char *dir = g_path_get_dirname(path);
        ok = deck_resolve_images(d, dir, &err);
        g_free(dir);
    }
    if (!ok) {
        cli_fail("%s", err.msg);
        deck_free(&d);
    }
    return d;
}

int cli_export_deck(const struct deck *d, const char *theme_name, const char *pptx, const char *pdf,
                    const char *png, double dpi)
{
    struct deck_theme theme;
    struct deck_err err = {{0}};
    if (!deck_theme_load(theme_name, &theme, &err) || !deck_check_images(d, &err)) {
        cli_fail("%s", err.msg);
        return 2;
    }
    /* Each output is complete or absent; a later failure removes the earlier
     * outputs of this run, so that no partial set is left either. */
    bool pptx_done = false, pdf_done = false;
    bool ok = (!pptx || (pptx_done = deck_export_pptx(d, &theme, pptx, &err))) &&
              (!pdf || (pdf_done = deck_export_pdf(d, &theme, pdf, &err))) &&
              (!png || deck_export_png(d, &theme, png, dpi, &err));
    if (!ok) {
        if (pptx_done)
            unlink(pptx);
        if (pdf_done)
            unlink(pdf);
        return cli_fail("%s", err.msg);
    }
    printf("slides %d\n", deck_page_count(d));
    return 0;
}

/* The deck the model made (its JSON read as an outline); NULL after printing why. */
static struct deck *generate_deck(const struct slides_options *o, int *status)
{
    char *json = NULL;
    *status = cli_slides_generate(&o->gen, &json);
    if (*status)
        return NULL;
    struct deck *d = NULL;
    struct deck_err err = {{0}};
    if (!deck_from_json(json, strlen(json), "(the model's deck)", &d, &err)) {
        *status = cli_fail("%s", err.msg);
        deck_free(&d);
    }
    free(json);
    return d;
}

int cmd_slides(int argc, char **argv)
{
    struct slides_options o;
    if (!parse_slides_options(argc, argv, &o))
        return 2;
    int status = 2;
    bool generated = o.gen.model || o.gen.remote.url;
    struct deck *d = generated ? generate_deck(&o, &status) : load_outline(o.outline);
    if (!d)
        return status;
    if (o.gen.outline_only && !o.pptx && !o.pdf && !o.png) {
        deck_free(&d);
        return 0;
    }
    status = cli_export_deck(d, o.theme, o.pptx, o.pdf, o.png, o.dpi);
    deck_free(&d);
    return status;
}
