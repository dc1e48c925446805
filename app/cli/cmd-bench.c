/* cmd-bench.c: `wenshu-cli bench`, prompt (pp) and generation (tg) speed
 * measured as llama-bench does: pp = one batch of P tokens from an empty
 * cache; tg = N single-token steps from an empty cache. Each test runs once
 * to warm up, then R times; the mean is reported. With -d D, tg runs after D
 * tokens of context (as llama-bench -d). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Seconds for one prompt batch of n_prompt tokens. */
static double time_prompt(struct eng_session *s, const int32_t *tokens, int n_prompt,
                          struct eng_err *err, bool *ok)
{
    eng_session_reset(s);
    double t0 = now_seconds();
    *ok = *ok && eng_session_eval(s, tokens, (size_t)n_prompt, NULL, err) == ENG_STATUS_OK;
    return now_seconds() - t0;
}

/* Seconds for n_gen single-token steps after `depth` tokens of context. */
static double time_generate(struct eng_session *s, const int32_t *tokens, int depth, int n_gen,
                            struct eng_err *err, bool *ok)
{
    eng_session_reset(s);
    if (depth > 0)
        *ok = *ok && eng_session_eval(s, tokens, (size_t)depth, NULL, err) == ENG_STATUS_OK;
    tokens += depth;
    double t0 = now_seconds();
    for (int i = 0; i < n_gen && *ok; i++)
        *ok = eng_session_eval(s, &tokens[i], 1, NULL, err) == ENG_STATUS_OK;
    return now_seconds() - t0;
}

int cmd_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--mmproj") == 0)
            return cmd_bench_vision(argc, argv);
    const char *model_path = NULL;
    int n_threads = 0, n_prompt = 64, n_gen = 32, reps = 3, depth = 0;
    int device = eng_model_params_default().device;
    bool json = false, use_mmap = false;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool missing = false, bad = false;
        if (cli_opt(argc, argv, &i, "-m", "--model", &model_path, &missing)) {
        } else if (cli_opt(argc, argv, &i, "-t", "--threads", &v, &missing)) {
            bad = !missing && (!cli_parse_int(v, &n_threads) || n_threads < 0);
        } else if (cli_opt(argc, argv, &i, "-p", "--n-prompt", &v, &missing)) {
            bad = !missing && (!cli_parse_int(v, &n_prompt) || n_prompt < 0);
        } else if (cli_opt(argc, argv, &i, "-n", "--n-gen", &v, &missing)) {
            bad = !missing && (!cli_parse_int(v, &n_gen) || n_gen < 0);
        } else if (cli_opt(argc, argv, &i, "-d", "--depth", &v, &missing)) {
            bad = !missing && (!cli_parse_int(v, &depth) || depth < 0);
        } else if (cli_opt(argc, argv, &i, NULL, "--device", &v, &missing)) {
            bad = !missing && !eng_device_parse(v, &device);
        } else if (cli_opt(argc, argv, &i, "-r", "--repetitions", &v, &missing)) {
            bad = !missing && (!cli_parse_int(v, &reps) || reps < 1);
        } else if (strcmp(argv[i], "--mmap") == 0) {
            use_mmap = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else {
            return cli_fail("bench: unknown option %s", argv[i]), 2;
        }
        if (bad)
            return cli_fail("bench: bad value for %s: %s", argv[i - 1], v), 2;
        if (missing)
            return 2;
    }
    if (!model_path)
        return cli_fail("bench: no model given (-m MODEL.gguf)"), 2;

    struct eng_model_params mp = eng_model_params_default();
    mp.path = model_path;
    mp.n_threads = n_threads;
    mp.use_mmap = use_mmap;
    mp.device = device;
    struct eng_model *model = NULL;
    struct eng_session *session = NULL;
    struct eng_err err;
    if (eng_model_load(&mp, &model, &err) != ENG_STATUS_OK)
        return cli_fail("%s", err.msg);
    cli_report_device(model);
    struct eng_model_info info;
    eng_model_get_info(model, &info);
    struct eng_session_params sp = eng_session_params_default();
    sp.n_ctx = (n_prompt > depth + n_gen ? n_prompt : depth + n_gen) + 1;
    sp.n_batch = n_prompt > 0 ? n_prompt : 256;
    sp.n_threads = n_threads;
    if (eng_session_new(model, &sp, &session, &err) != ENG_STATUS_OK) {
        eng_model_free(&model);
        return cli_fail("%s: %s", model_path, err.msg);
    }
    /* Token ids spread over the vocab, as llama-bench's random prompt. */
    int n_tokens = n_prompt > depth + n_gen ? n_prompt : depth + n_gen;
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)(n_tokens + 1));
    for (int i = 0; tokens && i < n_tokens; i++)
        tokens[i] = (int32_t)(((uint64_t)i * 2654435761u + 17) % (uint64_t)info.n_vocab);

    bool ok = tokens != NULL;
    double pp_time = 0, tg_time = 0;
    if (n_prompt > 0) {
        time_prompt(session, tokens, n_prompt, &err, &ok);
        for (int r = 0; r < reps && ok; r++)
            pp_time += time_prompt(session, tokens, n_prompt, &err, &ok);
    }
    struct eng_session_stats before, after;
    if (n_gen > 0) {
        time_generate(session, tokens, depth, n_gen, &err, &ok);
        eng_session_get_stats(session, &before);
        for (int r = 0; r < reps && ok; r++)
            tg_time += time_generate(session, tokens, depth, n_gen, &err, &ok);
        eng_session_get_stats(session, &after);
    } else {
        eng_session_get_stats(session, &before);
        after = before;
    }
    /* Per decode step, i.e. per forward pass of the timed generation (a
     * depth prefill is one more pass of the same graph). */
    uint64_t n_forwards = after.n_forwards - before.n_forwards;
    double dispatches_per_token = 0, graph_ops_per_token = 0, barriers_per_token = 0;
    if (n_forwards > 0) {
        barriers_per_token = (double)(after.n_barriers - before.n_barriers) / n_forwards;
        dispatches_per_token = (double)(after.n_dispatches - before.n_dispatches) / n_forwards;
        graph_ops_per_token = (double)(after.n_graph_ops - before.n_graph_ops) / n_forwards;
    }
    unsigned long long device_bytes =
        (unsigned long long)(info.device_bytes + after.device_bytes);
    int status = 0;
    if (!ok) {
        status = cli_fail("%s: %s", model_path, tokens ? err.msg : "out of memory");
    } else {
        double pp_tps = pp_time > 0 ? n_prompt * reps / pp_time : 0;
        double tg_tps = tg_time > 0 ? n_gen * reps / tg_time : 0;
        /* The engine's default is one thread per online CPU. */
        int threads_used = n_threads > 0 ? n_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
        unsigned long long rss = (unsigned long long)eng_peak_rss_bytes();
        if (json) {
            printf("{\"model\": \"%s\", \"weight_bytes\": %llu, \"device\": \"%s\", "
                   "\"threads\": %d, \"n_prompt\": %d, "
                   "\"n_gen\": %d, \"depth\": %d, \"repetitions\": %d, \"pp_tps\": %.3f, \"tg_tps\": %.3f, "
                   "\"peak_rss_bytes\": %llu, \"device_bytes\": %llu, "
                   "\"dispatches_per_token\": %.1f, \"barriers_per_token\": %.1f, "
                   "\"graph_ops_per_token\": %.1f}\n",
                   info.name, (unsigned long long)info.weight_bytes, info.device, threads_used,
                   n_prompt, n_gen, depth, reps, pp_tps, tg_tps, rss, device_bytes,
                   dispatches_per_token, barriers_per_token, graph_ops_per_token);
        } else {
            printf("model: %s (%s, %.1f MiB of weights)\n", info.name, info.arch,
                   info.weight_bytes / 1048576.0);
            printf("device: %s\n", info.device);
            printf("pp%d: %.2f tok/s\ntg%d (after %d tokens): %.2f tok/s\npeak RSS: %.1f MiB\n",
                   n_prompt, pp_tps, n_gen, depth, tg_tps, rss / 1048576.0);
            if (info.device_bytes)
                printf("device memory: %.1f MiB (weights %.1f MiB)\n"
                       "decode: %.1f dispatches and %.1f barriers per token for %.1f "
                       "graph ops\n",
                       device_bytes / 1048576.0, info.device_bytes / 1048576.0,
                       dispatches_per_token, barriers_per_token, graph_ops_per_token);
        }
    }
    free(tokens);
    eng_session_free(&session);
    eng_model_free(&model);
    return status;
}
