/* cmd-serve.c: `wenshu-cli serve`: parse the flags into serve_params, refuse
 * a non-loopback address without an API key, and run the server (serve.h)
 * until SIGINT or SIGTERM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd-serve.h"
#include "serve.h"

/* A whole number in [lo, hi] into *out; false after printing why. */
static bool parse_range(const char *flag, const char *text, int lo, int hi, int *out)
{
    int v;
    if (!cli_parse_int(text, &v) || v < lo || v > hi) {
        cli_fail("serve: %s takes a whole number from %d to %d, not \"%s\"", flag, lo, hi, text);
        return false;
    }
    *out = v;
    return true;
}

static void serve_usage(void)
{
    printf("usage: wenshu-cli serve -m MODEL.gguf [options]\n"
           "  an OpenAI-compatible server: GET /health, GET /v1/models,\n"
           "  POST /v1/chat/completions (stream or not; images as data: URLs)\n\n"
           "  --mmproj P.gguf    the vision projector (to accept images)\n"
           "  --host ADDR        default 127.0.0.1; another than loopback needs --api-key\n"
           "  --port N           default 8080; 0 picks a free port\n"
           "  --api-key KEY      /v1/ requires \"Authorization: Bearer KEY\"\n"
           "  --parallel N       requests generated at once, one session each (1)\n"
           "  --queue N          requests that may wait; more get 503 (16)\n"
           "  --max-tokens N     the longest reply (4096; the context caps it too)\n"
           "  --max-body BYTES   a larger request gets 413 (20 MiB)\n"
           "  --max-images N     images per request (8; each at most 4096 pixels a side)\n"
           "  -c, --ctx N        context per session (0: the engine's default)\n"
           "  -t, --threads N    CPU threads per session (0: the cores / --parallel)\n"
           "  --device D         auto, cpu, vulkan or a Vulkan device index\n");
}

/* Parse argv into p; false after printing why. */
static bool parse_serve_options(int argc, char **argv, struct serve_params *p)
{
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool missing = false, ok = true;
        int n;
        if (cli_opt(argc, argv, &i, "-m", "--model", &p->model_path, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--mmproj", &p->mmproj_path, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--host", &p->host, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--api-key", &p->api_key, &missing)) {
        } else if (cli_opt(argc, argv, &i, NULL, "--port", &v, &missing)) {
            ok = missing || parse_range("--port", v, 0, 65535, &p->port);
        } else if (cli_opt(argc, argv, &i, NULL, "--parallel", &v, &missing)) {
            ok = missing || parse_range("--parallel", v, 1, 64, &p->n_parallel);
        } else if (cli_opt(argc, argv, &i, NULL, "--queue", &v, &missing)) {
            ok = missing || parse_range("--queue", v, 0, 4096, &p->n_queue);
        } else if (cli_opt(argc, argv, &i, NULL, "--max-tokens", &v, &missing)) {
            ok = missing || parse_range("--max-tokens", v, 1, 1 << 20, &p->max_tokens);
        } else if (cli_opt(argc, argv, &i, NULL, "--max-body", &v, &missing)) {
            ok = missing || parse_range("--max-body", v, 1024, 1 << 30, &n);
            p->max_body_bytes = ok && !missing ? (size_t)n : p->max_body_bytes;
        } else if (cli_opt(argc, argv, &i, NULL, "--max-images", &v, &missing)) {
            ok = missing || parse_range("--max-images", v, 0, 32, &p->max_images);
        } else if (cli_opt(argc, argv, &i, "-c", "--ctx", &v, &missing)) {
            ok = missing || parse_range("--ctx", v, 0, 1 << 20, &p->n_ctx);
        } else if (cli_opt(argc, argv, &i, "-t", "--threads", &v, &missing)) {
            ok = missing || parse_range("--threads", v, 0, 1024, &p->n_threads);
        } else if (cli_opt(argc, argv, &i, NULL, "--device", &v, &missing)) {
            ok = missing || eng_device_parse(v, &p->device);
            if (!ok)
                cli_fail("serve: --device takes auto, cpu, vulkan or an index, not \"%s\"", v);
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            serve_usage();
            exit(0);
        } else {
            cli_fail("serve: unknown option %s", argv[i]);
            return false;
        }
        if (missing || !ok)
            return false;
    }
    if (!p->model_path) {
        cli_fail("serve: no model given (-m MODEL.gguf)");
        return false;
    }
    return true;
}

int cmd_serve(int argc, char **argv)
{
    struct serve_params p = serve_params_default();
    p.device = eng_model_params_default().device;
    if (!parse_serve_options(argc, argv, &p))
        return 2;
    if (p.api_key && !p.api_key[0]) {
        cli_fail("serve: --api-key must not be empty");
        return 2;
    }
    if (!serve_host_is_loopback(p.host) && !p.api_key) {
        cli_fail("serve: refusing to listen on %s without --api-key: anyone who can reach it "
                 "could use the model (use 127.0.0.1, or set a key)",
                 p.host);
        return 2;
    }
    GError *error = NULL;
    if (!serve_run(&p, &error)) {
        cli_fail("serve: %s", error->message);
        g_error_free(error);
        return 1;
    }
    return 0;
}
