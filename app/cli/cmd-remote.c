/* cmd-remote.c: `wenshu-cli run --remote URL --remote-model M` — the run
 * command sent to an OpenAI-compatible server (app/remote) instead of a
 * local model, for scripting. The reply streams to stdout as `run` prints
 * it (with a closing newline); images (--image) go as data URLs; the API
 * key is read from the environment variable --api-key-env names (never
 * from the command line, where `ps` would show it). Exit status: 0, 2 for
 * bad options, 1 for a failed request (the text so far stays printed), 130
 * after Ctrl-C.
 *
 * The same three flags serve draft, slides and clip: cli_remote_opt()
 * parses them, cli_remote_turn() runs one of their turns on the endpoint.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "remote.h"

struct remote_options {
    struct cli_remote_options remote;
    const char *prompt;
    const char *system;
    int n_predict; /* -1: not given */
    int timeout_s; /* 0: the default */
    struct eng_sampler_params sampler;
    struct cli_media_options media; /* only --image items are used */
};

static volatile int remote_cancel;

bool cli_remote_opt(int argc, char **argv, int *i, struct cli_remote_options *r, bool *missing)
{
    return cli_opt(argc, argv, i, NULL, "--remote", &r->url, missing) ||
           cli_opt(argc, argv, i, NULL, "--remote-model", &r->model, missing) ||
           cli_opt(argc, argv, i, NULL, "--api-key-env", &r->key_env, missing);
}

bool cli_remote_check(const char *command, const struct cli_remote_options *r)
{
    if (!r->url && (r->model || r->key_env)) {
        cli_fail("%s: --remote-model and --api-key-env need --remote URL", command);
        return false;
    }
    if (r->url && (!r->model || !*r->model)) {
        cli_fail("%s --remote %s: give --remote-model NAME", command, r->url);
        return false;
    }
    if (r->key_env && !getenv(r->key_env)) {
        cli_fail("%s: --api-key-env %s: that variable is not set", command, r->key_env);
        return false;
    }
    return true;
}

WenshuRemoteEndpoint *cli_remote_endpoint_new(const struct cli_remote_options *r)
{
    return wenshu_remote_endpoint_new(r->url, r->model, r->key_env ? getenv(r->key_env) : NULL);
}

/* A WenshuRemoteTextFn feeding a struct cli_text_sink. */
static gboolean sink_delta(const char *text, gsize len, gpointer user_data)
{
    return cli_sink_piece(-1, text, len, user_data);
}

int cli_remote_turn(const WenshuRemoteEndpoint *endpoint, const struct eng_chat_message *msgs,
                    int n_msgs, const char *const *image_paths, int n_images,
                    const struct eng_sampler_params *sampler, const struct eng_schema *schema,
                    int max_tokens, const volatile int *cancel, struct cli_text_sink *sink)
{
    WenshuRemoteChat chat = {.messages = msgs,
                             .n_messages = n_msgs,
                             .media_paths = image_paths,
                             .n_media = n_images,
                             .sampler = sampler,
                             .max_tokens = max_tokens,
                             .schema = schema,
                             .on_text = sink_delta,
                             .user_data = sink,
                             .cancel_flag = cancel};
    GError *error = NULL;
    if (wenshu_remote_chat(endpoint, &chat, NULL, &error))
        return 0;
    if (sink->echo) /* the error on a line of its own */
        fputc('\n', sink->echo);
    int status = g_error_matches(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_CANCELLED)
                     ? cli_fail("stopped")
                     : cli_fail("%s", error->message);
    g_error_free(error);
    return status;
}

static void on_remote_sigint(int sig)
{
    (void)sig;
    remote_cancel = 1;
}

static bool parse_remote_options(int argc, char **argv, struct remote_options *o)
{
    *o = (struct remote_options){.n_predict = -1, .sampler = eng_sampler_params_default()};
    cli_media_options_init(&o->media);
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool missing = false, bad = false;
        if (cli_remote_opt(argc, argv, &i, &o->remote, &missing) ||
            cli_opt(argc, argv, &i, "-p", "--prompt", &o->prompt, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--system", &o->system, &missing)) {
        } else if (cli_opt(argc, argv, &i, "-n", "--n-predict", &v, &missing)) {
            bad = !missing && !cli_parse_int(v, &o->n_predict);
        } else if (cli_opt(argc, argv, &i, NULL, "--timeout", &v, &missing)) {
            bad = !missing && (!cli_parse_int(v, &o->timeout_s) || o->timeout_s <= 0);
        } else if (cli_sampler_opt(argc, argv, &i, &o->sampler, &bad) ||
                   cli_media_opt(argc, argv, &i, &o->media, &bad)) {
            if (bad)
                return false;
        } else {
            cli_fail("%s --remote: unknown or local-only option %s", argv[0], argv[i]);
            return false;
        }
        if (bad)
            cli_fail("%s: bad value for %s: %s", argv[0], argv[i - 1], v);
        if (missing || bad)
            return false;
    }
    if (!o->prompt) {
        cli_fail("%s --remote: give --remote-model NAME and -p PROMPT", argv[0]);
        return false;
    }
    return cli_remote_check(argv[0], &o->remote);
}

static gboolean print_delta(const char *text, gsize len, gpointer user_data)
{
    (void)user_data;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return TRUE;
}

int cmd_run_remote(int argc, char **argv)
{
    struct remote_options o;
    if (!parse_remote_options(argc, argv, &o))
        return 2;
    const char *paths[CLI_MAX_MEDIA]; /* [n_media] the --image and --video files,
                                         in order */
    for (int i = 0; i < o.media.n_items; i++)
        paths[i] = o.media.items[i].path; /* a clip is refused by the client, naming it */
    char *text = cli_media_mark_text(o.prompt, o.media.n_items);
    if (!text)
        return 1;
    struct eng_chat_message msgs[2];
    int n_msgs = 0;
    if (o.system)
        msgs[n_msgs++] = (struct eng_chat_message){"system", o.system};
    msgs[n_msgs++] = (struct eng_chat_message){"user", text};
    WenshuRemoteEndpoint *endpoint = cli_remote_endpoint_new(&o.remote);
    if (o.timeout_s > 0)
        endpoint->timeout_s = o.timeout_s;
    WenshuRemoteChat chat = {.messages = msgs,
                             .n_messages = n_msgs,
                             .media_paths = paths,
                             .n_media = o.media.n_items,
                             .sampler = &o.sampler,
                             .max_tokens = o.n_predict,
                             .on_text = print_delta,
                             .cancel_flag = &remote_cancel};
    signal(SIGINT, on_remote_sigint);
    GError *error = NULL;
    int n_deltas = 0;
    gboolean ok = wenshu_remote_chat(endpoint, &chat, &n_deltas, &error);
    int status = 0;
    if (!ok && g_error_matches(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_CANCELLED)) {
        status = 130;
    } else if (!ok) {
        fflush(stdout);
        if (n_deltas > 0)
            fputc('\n', stdout);
        cli_fail("%s", error->message);
        status = 1;
    }
    if (ok)
        fputc('\n', stdout);
    g_clear_error(&error);
    wenshu_remote_endpoint_free(&endpoint);
    free(text);
    return status;
}
