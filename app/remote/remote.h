/* remote.h: a client for OpenAI-compatible chat servers (`wenshu-cli serve`,
 * vLLM, llama.cpp's server, hosted providers), so that a remote endpoint can
 * stand wherever a local model does.
 *
 * An endpoint is a base URL, a model name and an API key. The base URL is
 * what OpenAI clients call base_url: "https://host/v1" (the paths
 * "chat/completions" and "models" are appended); a URL whose path does not
 * end in "/v1" gets "/v1" appended ("http://127.0.0.1:8080" works).
 *
 * wenshu_remote_chat() is one blocking, streaming (SSE) chat completion for
 * a worker thread: text arrives through a callback per delta; images go as
 * image_url parts with data:<mime>;base64 URLs. The OpenAI chat API has no
 * video part, so a clip goes as up to 6 frames sampled about once a second
 * (eng_video_sample, at most 768 pixels a side), each a "Frame at m:ss:"
 * text part and a PNG image part.
 * An assistant prefix is sent as a last assistant message; OpenAI's own
 * servers answer it with a new turn instead of continuing it, while servers
 * that render a chat template (wenshu-cli serve, vLLM with
 * continue_final_message) may continue it. A schema is sent as
 * response_format json_schema (strict).
 *
 * Errors are GErrors in WENSHU_REMOTE_ERROR whose message names the URL and
 * the reason. Sampling sends only the API's standard fields (temperature,
 * top_p, seed, frequency and presence penalties, max_tokens); top_k, min_p
 * and repeat_penalty are engine extras that OpenAI servers refuse.
 *
 * Thread-safety: every function may be called from any thread; each call
 * makes its own HTTP session. An endpoint is immutable once made.
 */
#ifndef WENSHU_REMOTE_H
#define WENSHU_REMOTE_H

#include <gio/gio.h>

#include "wenshu-engine.h"

G_BEGIN_DECLS

#define WENSHU_REMOTE_ERROR (wenshu_remote_error_quark())
GQuark wenshu_remote_error_quark(void);
typedef enum {
    WENSHU_REMOTE_ERROR_URL,        /* not an http(s) URL with a host */
    WENSHU_REMOTE_ERROR_CONNECT,    /* DNS, refused, TLS: no answer at all */
    WENSHU_REMOTE_ERROR_AUTH,       /* 401 or 403: the API key was refused */
    WENSHU_REMOTE_ERROR_NOT_FOUND,  /* 404: no such model (or a wrong base URL) */
    WENSHU_REMOTE_ERROR_RATE_LIMIT, /* 429; the message gives Retry-After */
    WENSHU_REMOTE_ERROR_SERVER,     /* 5xx, or another 4xx (the server's message) */
    WENSHU_REMOTE_ERROR_TIMEOUT,    /* no byte within the timeout */
    WENSHU_REMOTE_ERROR_DROPPED,    /* the stream ended before [DONE] */
    WENSHU_REMOTE_ERROR_PROTOCOL,   /* an answer that is not the API's JSON or SSE
                                     */
    WENSHU_REMOTE_ERROR_MEDIA,      /* a media file that cannot be sent */
    WENSHU_REMOTE_ERROR_CANCELLED,  /* the caller's cancel flag or cancellable */
} WenshuRemoteError;

#define WENSHU_REMOTE_DEFAULT_TIMEOUT_S 60
#define WENSHU_REMOTE_MAX_IMAGE_BYTES (20u << 20) /* a larger image is refused */

/* Where and as whom to talk. Strings owned by the endpoint. */
typedef struct {
    char *base_url; /* as the user typed it (trimmed) */
    char *model;    /* the "model" field of requests */
    char *api_key;  /* NULL or "": no Authorization header */
    int timeout_s;  /* seconds for connecting, for the first byte of the answer
                     * and between two chunks of a stream; 0: the default (60) */
} WenshuRemoteEndpoint;

/* A new endpoint (the strings are copied; api_key may be NULL).
 * Ownership: free with wenshu_remote_endpoint_free(). */
WenshuRemoteEndpoint *wenshu_remote_endpoint_new(const char *base_url, const char *model,
                                                 const char *api_key);
WenshuRemoteEndpoint *wenshu_remote_endpoint_copy(const WenshuRemoteEndpoint *endpoint);
/* Frees *endpoint (NULL is fine), wiping the key's bytes, and sets it NULL. */
void wenshu_remote_endpoint_free(WenshuRemoteEndpoint **endpoint);

/* Check base_url (http or https, a host) and return the API root with "/v1"
 * (no trailing slash). Ownership: the caller frees it (g_free).
 * Errors: NULL with WENSHU_REMOTE_ERROR_URL naming the URL. */
char *wenshu_remote_api_root(const char *base_url, GError **error);
/* The host (and :port when given) of base_url, for labels ("remote:
 * host"); "" when it cannot be parsed. Ownership: the caller frees it. */
char *wenshu_remote_host(const char *base_url);

/* Called on the calling thread for each piece of streamed text (a delta's
 * content, len bytes of UTF-8, not NUL-terminated). Return FALSE to stop. */
typedef gboolean (*WenshuRemoteTextFn)(const char *text, gsize len, gpointer user_data);

typedef struct {
    const struct eng_chat_message *messages; /* [n_messages] */
    int n_messages;
    const char *const *media_paths; /* [n_media] images or clips, one per ENG_MEDIA_MARKER
                                     * in the messages' contents, in order */
    int n_media;
    const char *assistant_prefix;             /* may be NULL; see the file's head */
    const struct eng_sampler_params *sampler; /* NULL: the server's defaults */
    int max_tokens;                           /* <= 0: not sent */
    const struct eng_schema *schema;          /* may be NULL: free text */
    WenshuRemoteTextFn on_text;               /* may be NULL */
    gpointer user_data;
    const volatile int *cancel_flag; /* may be NULL; non-zero stops between chunks */
    GCancellable *cancellable;       /* may be NULL; cancelling it also stops a wait */
} WenshuRemoteChat;

/* Run one streamed chat completion, blocking until [DONE], an error or a
 * cancel. Text is delivered through on_text as it arrives; on any error the
 * text delivered so far stands (the caller keeps it). n_deltas (may be
 * NULL) receives the number of deltas delivered.
 * Returns TRUE at [DONE]. Errors: FALSE with a WENSHU_REMOTE_ERROR naming
 * the URL and the reason (WENSHU_REMOTE_ERROR_CANCELLED for a cancel). */
gboolean wenshu_remote_chat(const WenshuRemoteEndpoint *endpoint, const WenshuRemoteChat *chat,
                            int *n_deltas, GError **error);

/* GET <root>/models: the model ids the server offers, for "Test
 * connection". Ownership: a NULL-terminated array the caller frees with
 * g_strfreev(). Errors: NULL with a WENSHU_REMOTE_ERROR as for chat. */
char **wenshu_remote_list_models(const WenshuRemoteEndpoint *endpoint, GCancellable *cancellable,
                                 GError **error);

/* The schema as a JSON Schema object (every property required, no others),
 * the reverse of `serve`'s reading. A string's prefix becomes "pattern":
 * "^prefix", which servers may honour or ignore (`serve` ignores it: the
 * sampler there writes no prefix for a remote client); a number's
 * max_decimals has no JSON Schema word and is left out.
 * Ownership: the caller frees the text (g_free). */
char *wenshu_remote_schema_json(const struct eng_schema *schema);

G_END_DECLS

#endif /* WENSHU_REMOTE_H */
