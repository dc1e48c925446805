/* cmd-generate.c: the sub-commands that run a model: run, chat, tokenize,
 * logits. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* Options shared by the commands of this file. */
struct gen_options {
    const char *model_path;
    const char *prompt;
    const char *prompt_file;
    const char *system;
    const char *out_path;
    int n_predict;         /* -1 when not given */
    int n_threads;
    int n_ctx;
    bool raw;              /* no chat template */
    bool use_mmap;         /* map the model instead of reading it */
    int device;            /* eng_model_params.device */
    bool no_think;         /* Qwen3: thinking off */
    bool parse_special;    /* tokenize: special-token strings become their ids */
    struct eng_sampler_params sampler;
    struct cli_media_options media; /* --mmproj, --image, --video (run, logits) */
};

static volatile int cancel_flag;

static void on_sigint(int sig)
{
    (void)sig;
    cancel_flag = 1;
}

/* Ctrl-C stops a reply; at the chat prompt it ends the chat (no SA_RESTART,
 * so the pending read returns). */
static void catch_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

/* Parse argv (argv[0] is the sub-command). Returns false after printing why. */
static bool parse_gen_options(int argc, char **argv, struct gen_options *o)
{
    *o = (struct gen_options){.n_predict = -1, .parse_special = true,
                              .device = eng_model_params_default().device,
                              .sampler = eng_sampler_params_default()};
    cli_media_options_init(&o->media);
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool missing = false, bad = false;
        if (cli_opt(argc, argv, &i, "-m", "--model", &o->model_path, &missing) ||
            cli_opt(argc, argv, &i, "-p", "--prompt", &o->prompt, &missing) ||
            cli_opt(argc, argv, &i, "-f", "--file", &o->prompt_file, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--system", &o->system, &missing) ||
            cli_opt(argc, argv, &i, "-o", "--output", &o->out_path, &missing)) {
        } else if (cli_opt(argc, argv, &i, "-n", "--n-predict", &v, &missing)) {
            bad = !missing && !cli_parse_int(v, &o->n_predict);
        } else if (cli_opt(argc, argv, &i, "-t", "--threads", &v, &missing)) {
            bad = !missing && (!cli_parse_int(v, &o->n_threads) || o->n_threads < 0);
        } else if (cli_opt(argc, argv, &i, NULL, "--device", &v, &missing)) {
            bad = !missing && !eng_device_parse(v, &o->device);
        } else if (cli_opt(argc, argv, &i, "-c", "--ctx", &v, &missing)) {
            bad = !missing && (!cli_parse_int(v, &o->n_ctx) || o->n_ctx < 0);
        } else if (strcmp(argv[i], "--mmap") == 0) {
            o->use_mmap = true;
        } else if (strcmp(argv[i], "--raw") == 0) {
            o->raw = true;
        } else if (strcmp(argv[i], "--no-think") == 0) {
            o->no_think = true;
        } else if (strcmp(argv[i], "--no-parse-special") == 0) {
            o->parse_special = false;
        } else if (cli_sampler_opt(argc, argv, &i, &o->sampler, &bad) ||
                   cli_media_opt(argc, argv, &i, &o->media, &bad)) {
            if (bad)
                return false;
        } else {
            cli_fail("%s: unknown option %s", argv[0], argv[i]);
            return false;
        }
        if (bad)
            cli_fail("%s: bad value for %s: %s", argv[0], argv[i - 1], v);
        if (missing || bad)
            return false;
    }
    if (!o->model_path) {
        cli_fail("%s: no model given (-m MODEL.gguf)", argv[0]);
        return false;
    }
    return true;
}

static struct eng_model *load_model(const struct gen_options *o, bool vocab_only)
{
    return cli_load_model(o->model_path, o->n_threads, o->device, o->use_mmap, vocab_only);
}

static struct eng_session *new_session(struct eng_model *model, const struct gen_options *o)
{
    struct eng_session_params sp = eng_session_params_default();
    sp.n_ctx = o->n_ctx;
    sp.n_threads = o->n_threads;
    struct eng_session *session = NULL;
    struct eng_err err;
    if (eng_session_new(model, &sp, &session, &err) != ENG_STATUS_OK) {
        cli_fail("%s: %s", o->model_path, err.msg);
        return NULL;
    }
    return session;
}

/* The prompt text of -p or -f (malloc'd), or NULL after printing why. */
static char *prompt_text(const struct gen_options *o, const char *cmd, size_t *len)
{
    if (o->prompt && o->prompt_file) {
        cli_fail("%s: give -p or -f, not both", cmd);
        return NULL;
    }
    if (o->prompt_file)
        return cli_read_file(o->prompt_file, len);
    if (!o->prompt) {
        cli_fail("%s: no prompt given (-p TEXT or -f FILE)", cmd);
        return NULL;
    }
    *len = strlen(o->prompt);
    return strdup(o->prompt);
}

static bool tokenize_or_fail(struct eng_model *model, const char *text, size_t len,
                             bool parse_special, int32_t **ids, size_t *n)
{
    struct eng_err err;
    if (eng_tokenize(model, text, len, parse_special, ids, n, &err) != ENG_STATUS_OK) {
        cli_fail("%s", err.msg);
        return false;
    }
    return true;
}

int cmd_tokenize(int argc, char **argv)
{
    struct gen_options o;
    if (!parse_gen_options(argc, argv, &o))
        return 2;
    size_t len;
    char *text = prompt_text(&o, argv[0], &len);
    if (!text)
        return 2;
    struct eng_model *model = load_model(&o, true);
    int32_t *ids = NULL;
    size_t n = 0;
    int status = 1;
    if (model && tokenize_or_fail(model, text, len, o.parse_special, &ids, &n)) {
        for (size_t i = 0; i < n; i++)
            printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
        status = 0;
    }
    free(ids);
    free(text);
    eng_model_free(&model);
    return status;
}

static struct eng_model *load_model_and_media(const struct gen_options *o,
                                              struct cli_media_set *media)
{
    return cli_load_model_and_media(o->model_path, o->n_threads, o->device, o->use_mmap,
                                    &o->media, media);
}

int cmd_logits(int argc, char **argv)
{
    struct gen_options o;
    if (!parse_gen_options(argc, argv, &o))
        return 2;
    if (!o.out_path)
        return cli_fail("logits: no output given (-o OUT.npy)");
    size_t len;
    char *text = prompt_text(&o, argv[0], &len);
    if (!text)
        return 2;
    int status = 1;
    struct cli_media_set media;
    struct eng_model *model = load_model_and_media(&o, &media);
    struct eng_session *session = model ? new_session(model, &o) : NULL;
    char *marked = session ? cli_media_mark_text(text, media.n_media) : NULL;
    int32_t *gen = NULL;
    size_t n_gen = 0;
    struct eng_err err;
    if (!marked || cli_eval_with_media(model, session, marked, &media, NULL))
        goto out;
    if (eng_session_n_past(session) == 0) {
        cli_fail("logits: the prompt is empty");
        goto out;
    }
    struct eng_model_info info;
    eng_model_get_info(model, &info);
    if (cli_write_npy(o.out_path, eng_session_logits(session), (size_t)info.n_vocab, 0)) {
        cli_fail("%s: cannot write the file", o.out_path);
        goto out;
    }
    if (o.n_predict > 0) {
        struct eng_generate_params gp = eng_generate_params_default();
        gp.n_predict = o.n_predict;
        gp.sampler.temperature = 0.0f;
        gp.stop_at_end = false;
        if (eng_session_generate(session, NULL, 0, &gp, &gen, &n_gen, &err) != ENG_STATUS_OK) {
            cli_fail("%s: %s", o.model_path, err.msg);
            goto out;
        }
        for (size_t i = 0; i < n_gen; i++)
            printf(i ? " %d" : "%d", gen[i]);
        printf("\n");
    }
    status = 0;
out:
    free(gen);
    free(marked);
    free(text);
    eng_session_free(&session);
    cli_media_set_free(&media);
    eng_model_free(&model);
    return status;
}

static bool print_piece(int32_t token, const char *text, size_t len, void *user_data)
{
    (void)token;
    (void)user_data;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return true;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The prompt of msgs: the last message raw (--raw), or the rendered chat. */
static char *render_prompt(struct eng_model *model, const struct gen_options *o,
                           const struct eng_chat_message *msgs, size_t n_msgs)
{
    if (o->raw)
        return strdup(msgs[n_msgs - 1].content);
    struct eng_chat_params cp = eng_chat_params_default();
    cp.enable_thinking = !o->no_think;
    char *prompt = NULL;
    struct eng_err err;
    if (eng_chat_render(model, msgs, n_msgs, &cp, &prompt, &err) != ENG_STATUS_OK)
        cli_fail("%s", err.msg);
    return prompt;
}

/* Render the conversation (or take it raw), tokenize, and generate into
 * stdout, reusing the longest cached prefix. cached[] mirrors the KV cache. */
static int generate_turn(struct eng_model *model, struct eng_session *session,
                         const struct gen_options *o, const struct eng_chat_message *msgs,
                         size_t n_msgs, int32_t **cached, size_t *n_cached, char **reply)
{
    struct eng_err err;
    char *prompt = render_prompt(model, o, msgs, n_msgs);
    int32_t *ids = NULL;
    size_t n = 0;
    if (!prompt || !tokenize_or_fail(model, prompt, strlen(prompt), true, &ids, &n)) {
        free(prompt);
        return 1;
    }
    free(prompt);
    size_t keep = 0;
    while (keep < n && keep < *n_cached && keep + 1 < n && ids[keep] == (*cached)[keep])
        keep++;
    eng_session_truncate(session, (int)keep);

    struct eng_generate_params gp = eng_generate_params_default();
    gp.n_predict = o->n_predict >= 0 ? o->n_predict : 256;
    gp.sampler = o->sampler;
    gp.on_token = print_piece;
    gp.cancel = &cancel_flag;
    int32_t *gen = NULL;
    size_t n_gen = 0;
    double t0 = now_seconds();
    enum eng_status st = eng_session_generate(session, ids + keep, n - keep, &gp, &gen, &n_gen,
                                              &err);
    double dt = now_seconds() - t0;
    printf("\n");
    fflush(stdout);
    int status = 0;
    if (st == ENG_STATUS_CANCELLED) {
        fprintf(stderr, "[stopped]\n");
    } else if (st != ENG_STATUS_OK) {
        status = cli_fail("%s: %s", o->model_path, err.msg);
    }
    if (eng_session_n_past(session) >= eng_session_n_ctx(session))
        fprintf(stderr, "wenshu-cli: the context (%d tokens) is full\n",
                eng_session_n_ctx(session));
    fprintf(stderr, "[%zu prompt tokens (%zu cached), %zu generated, %.1f tok/s overall]\n", n,
            keep, n_gen, dt > 0 ? (double)(n - keep + n_gen) / dt : 0.0);

    /* Mirror the cache: prompt, then the generated tokens that were evaluated. */
    size_t n_past = (size_t)eng_session_n_past(session);
    int32_t *all = malloc(sizeof(int32_t) * (n + n_gen + 1));
    if (all) {
        memcpy(all, ids, sizeof(int32_t) * n);
        if (n_gen)
            memcpy(all + n, gen, sizeof(int32_t) * n_gen);
        free(*cached);
        *cached = all;
        *n_cached = n_past < n + n_gen ? n_past : n + n_gen;
    }
    if (reply) {
        size_t cap = 1, used = 0;
        for (size_t i = 0; i < n_gen; i++) {
            size_t l;
            eng_token_bytes(model, gen[i], &l);
            cap += l;
        }
        *reply = malloc(cap);
        for (size_t i = 0; *reply && i < n_gen; i++) {
            size_t l;
            const char *b = eng_token_bytes(model, gen[i], &l);
            memcpy(*reply + used, b, l);
            used += l;
        }
        if (*reply)
            (*reply)[used] = '\0';
    }
    free(gen);
    free(ids);
    return status;
}

/* One turn whose user message holds images or clips: the prompt goes in
 * piece by piece (text, media, text ...), then the reply streams to stdout. */
static int generate_with_media(struct eng_model *model, struct eng_session *session,
                               const struct gen_options *o, const struct cli_media_set *media,
                               const char *system, const char *text)
{
    char *content = cli_media_mark_text(text, media->n_media);
    struct eng_chat_message msgs[2];
    size_t n_msgs = 0;
    if (system)
        msgs[n_msgs++] = (struct eng_chat_message){"system", system};
    msgs[n_msgs++] = (struct eng_chat_message){"user", content ? content : ""};
    char *prompt = content ? render_prompt(model, o, msgs, n_msgs) : NULL;
    double t0 = now_seconds();
    int status = !prompt || cli_eval_with_media(model, session, prompt, media, &cancel_flag);
    free(prompt);
    free(content);
    if (status)
        return 1;
    int n_prompt = eng_session_n_past(session);
    double t_prompt = now_seconds() - t0;
    struct eng_generate_params gp = eng_generate_params_default();
    gp.n_predict = o->n_predict >= 0 ? o->n_predict : 256;
    gp.sampler = o->sampler;
    gp.on_token = print_piece;
    gp.cancel = &cancel_flag;
    size_t n_gen = 0;
    struct eng_err err;
    t0 = now_seconds();
    enum eng_status st = eng_session_generate(session, NULL, 0, &gp, NULL, &n_gen, &err);
    double dt = now_seconds() - t0;
    printf("\n");
    fflush(stdout);
    if (st == ENG_STATUS_CANCELLED)
        fprintf(stderr, "[stopped]\n");
    else if (st != ENG_STATUS_OK)
        status = cli_fail("%s: %s", o->model_path, err.msg);
    fprintf(stderr, "[%d prompt tokens in %.2f s, %zu generated, %.1f tok/s]\n", n_prompt,
            t_prompt, n_gen, dt > 0 ? (double)n_gen / dt : 0.0);
    return status;
}

int cmd_run(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--remote") == 0)
            return cmd_run_remote(argc, argv);
    struct gen_options o;
    if (!parse_gen_options(argc, argv, &o))
        return 2;
    size_t len;
    char *text = prompt_text(&o, argv[0], &len);
    if (!text)
        return 2;
    int status = 1;
    struct cli_media_set media;
    struct eng_model *model = load_model_and_media(&o, &media);
    struct eng_session *session = model ? new_session(model, &o) : NULL;
    if (session && media.n_media > 0) {
        catch_sigint();
        status = generate_with_media(model, session, &o, &media, o.system, text);
    } else if (session) {
        struct eng_chat_message msgs[2];
        size_t n_msgs = 0;
        if (o.system)
            msgs[n_msgs++] = (struct eng_chat_message){"system", o.system};
        msgs[n_msgs++] = (struct eng_chat_message){"user", text};
        catch_sigint();
        int32_t *cached = NULL;
        size_t n_cached = 0;
        status = generate_turn(model, session, &o, msgs, n_msgs, &cached, &n_cached, NULL);
        free(cached);
    }
    free(text);
    eng_session_free(&session);
    cli_media_set_free(&media);
    eng_model_free(&model);
    return status;
}

/* Read one line from stdin into a malloc'd string without the newline. */
static char *read_line(void)
{
    size_t cap = 256, n = 0;
    char *line = malloc(cap);
    int c;
    while (line && (c = getchar()) != EOF && c != '\n') {
        if (n + 1 >= cap) {
            char *bigger = realloc(line, cap *= 2);
            if (!bigger) {
                free(line);
                return NULL;
            }
            line = bigger;
        }
        line[n++] = (char)c;
    }
    if (!line || (n == 0 && c == EOF)) {
        free(line);
        return NULL;
    }
    line[n] = '\0';
    return line;
}

int cmd_chat(int argc, char **argv)
{
    struct gen_options o;
    if (!parse_gen_options(argc, argv, &o))
        return 2;
    struct eng_model *model = load_model(&o, false);
    struct eng_session *session = model ? new_session(model, &o) : NULL;
    if (!session) {
        eng_model_free(&model);
        return 1;
    }
    catch_sigint();
    struct eng_model_info info;
    eng_model_get_info(model, &info);
    fprintf(stderr, "%s (%s, %s template). Type a message; an empty line, Ctrl-D or Ctrl-C "
                    "quits; Ctrl-C during a reply stops it.\n",
            info.name[0] ? info.name : o.model_path, info.arch, eng_chat_family(model));
    /* The conversation: owned strings, alternating user/assistant after an optional system. */
    struct eng_chat_message *msgs = NULL;
    char **owned = NULL;
    size_t n_msgs = 0;
    int32_t *cached = NULL;
    size_t n_cached = 0;
    int status = 0;
    if (o.system) {
        msgs = malloc(sizeof *msgs);
        msgs[n_msgs++] = (struct eng_chat_message){"system", o.system};
    }
    owned = calloc(1, sizeof *owned);
    for (;;) {
        fprintf(stderr, "> ");
        char *line = read_line();
        if (!line || !line[0]) {
            free(line);
            break;
        }
        struct eng_chat_message *grown = realloc(msgs, sizeof *msgs * (n_msgs + 2));
        char **grown_owned = realloc(owned, sizeof *owned * (n_msgs + 2));
        if (!grown || !grown_owned) {
            free(line);
            msgs = grown ? grown : msgs;
            owned = grown_owned ? grown_owned : owned;
            status = cli_fail("out of memory");
            break;
        }
        msgs = grown;
        owned = grown_owned;
        owned[n_msgs] = line;
        msgs[n_msgs++] = (struct eng_chat_message){"user", line};
        cancel_flag = 0;
        char *reply = NULL;
        status = generate_turn(model, session, &o, msgs, n_msgs, &cached, &n_cached, &reply);
        if (status)
            break;
        owned[n_msgs] = reply;
        msgs[n_msgs++] = (struct eng_chat_message){"assistant", reply ? reply : ""};
    }
    for (size_t i = 0; i < n_msgs; i++)
        if (strcmp(msgs[i].role, "system") != 0)
            free(owned[i]);
    free(owned);
    free(msgs);
    free(cached);
    eng_session_free(&session);
    eng_model_free(&model);
    return status;
}
