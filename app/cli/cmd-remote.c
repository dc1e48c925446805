/* cmd-remote.c: `wenshu-cli run --remote URL --remote-model M` — the run
 * command sent to an OpenAI-compatible server (app/remote) instead of a
 * local model, for scripting. The reply streams to stdout as `run` prints
 * it (with a closing newline); images (--image) go as data URLs; the API
 * key is read from the environment variable --api-key-env names (never
 * from the command line, where `ps` would show it). Exit status: 0, 2 for
 * bad options, 1 for a failed request (the text so far stays printed), 130
 * after Ctrl-C.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "remote.h"

struct remote_options {
    const char *url;
    const char *model;
    const char *key_env; /* the variable holding the key, or NULL */
    const char *prompt;
    const char *system;
    int n_predict; /* -1: not given */
    int timeout_s; /* 0: the default */
    struct eng_sampler_params sampler;
    struct cli_media_options media; /* only --image items are used */
};

static volatile int remote_cancel;

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
        if (cli_opt(argc, argv, &i, NULL, "--remote", &o->url, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--remote-model", &o->model, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--api-key-env", &o->key_env, &missing) ||
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
    if (!o->model || !*o->model || !o->prompt) {
        cli_fail("%s --remote: give --remote-model NAME and -p PROMPT", argv[0]);
        return false;
    }
    if (o->key_env && !getenv(o->key_env)) {
        cli_fail("%s: --api-key-env %s: that variable is not set", argv[0], o->key_env);
        return false;
    }
    return true;
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
    WenshuRemoteEndpoint *endpoint =
        wenshu_remote_endpoint_new(o.url, o.model, o.key_env ? getenv(o.key_env) : NULL);
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
