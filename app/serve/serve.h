/* serve.h: an OpenAI-compatible HTTP server on one loaded model
 * (`wenshu-cli serve`).
 *
 * GET /health, GET /v1/models and POST /v1/chat/completions (streamed as
 * server-sent events or not, images as data URLs). A SoupServer runs on the
 * calling thread's main loop and never blocks: each chat request waits in a
 * bounded queue for one of n_parallel worker threads, each with its own
 * eng_session on the shared, immutable model. A full queue answers 503 at
 * once. Requests are logged to stderr, one line each, without their content.
 */
#ifndef WENSHU_SERVE_H
#define WENSHU_SERVE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

struct serve_params {
    const char *host;        /* an IP address or "localhost"; default "127.0.0.1" */
    int port;                /* 0: any free port (the "listening on" line says which) */
    const char *model_path;  /* the GGUF text model */
    const char *mmproj_path; /* its vision projector, or NULL: images are refused */
    const char *api_key;     /* NULL: no key; else /v1/ needs "Authorization: Bearer KEY" */
    int n_parallel;          /* worker sessions; default 1 */
    int n_queue;             /* requests that may wait for a worker; default 16 */
    int max_tokens;          /* the most tokens one reply may have; default 4096 (the
                              * context caps it too) */
    int n_ctx;               /* each session's context; 0: the engine's default */
    int n_threads;           /* CPU threads per session; 0: the cores / n_parallel */
    int device;              /* eng_model_params.device */
    size_t max_body_bytes;   /* a larger request body gets 413; default 20 MiB */
    int max_images;          /* images per request; default 8 */
    int max_image_edge;      /* the widest and tallest image, in pixels; default 4096 */
};

struct serve_params serve_params_default(void);

/* Whether host names a loopback address ("localhost", 127.0.0.0/8, ::1).
 * Thread-safety: safe. */
bool serve_host_is_loopback(const char *host);

/* Load the model (and projector), listen on host:port, print
 * "listening on http://HOST:PORT" to stderr and serve until SIGINT or
 * SIGTERM; then finish the requests in flight and free everything.
 * Errors: FALSE with error set (a model that does not load, an address that
 * cannot be bound). Thread-safety: call from one thread, which must not run
 * another GLib main loop on the default context meanwhile. */
gboolean serve_run(const struct serve_params *params, GError **error);

#endif /* WENSHU_SERVE_H */
