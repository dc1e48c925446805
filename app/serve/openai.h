/* openai.h: the OpenAI chat-completions wire format for `wenshu-cli serve`.
 *
 * oai_request_parse() turns a request body into checked fields (messages
 * with one ENG_MEDIA_MARKER in place of each image, the decoded image bytes,
 * sampling and stop settings, a response_format json_schema as an
 * eng_schema) or an OpenAI-style error with its HTTP status.
 * The oai_*_json() writers build the response objects, chunks and errors
 * with the API's exact field names. No engine calls and no I/O happen here,
 * so every rule can be tested through the server with plain HTTP.
 *
 * Thread-safety: all functions are safe to call from any thread; a request
 * is owned by one thread at a time.
 */
#ifndef WENSHU_OPENAI_H
#define WENSHU_OPENAI_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "wenshu-engine.h"

#define OAI_MAX_STOP 4 /* the API's limit on stop sequences */
#define OAI_MAX_MESSAGES 4096
#define OAI_MAX_JSON_DEPTH 32 /* deeper nesting is refused before parsing */
#define OAI_IMAGES_CAP 32     /* the most images oai_limits.max_images may allow */

/* What a request may hold, set by the server's options. */
struct oai_limits {
    int max_images;         /* images per request */
    size_t max_image_bytes; /* decoded bytes of one image */
};

/* One chat message. role is "system", "user" or "assistant" ("developer"
 * becomes "system"). content is UTF-8 with one ENG_MEDIA_MARKER where each
 * image part stood, the parts joined without a separator. */
struct oai_message {
    char *role;    /* owned */
    char *content; /* owned */
};

/* A checked chat-completions request. */
struct oai_request {
    struct oai_message *messages; /* [n_messages], owned */
    size_t n_messages;
    GBytes *images[OAI_IMAGES_CAP]; /* [n_images] decoded data-URL payloads, in prompt order */
    int n_images;
    bool stream;
    bool include_usage;                /* stream_options.include_usage */
    bool enable_thinking;              /* chat_template_kwargs.enable_thinking; default true */
    int max_tokens;                    /* max_tokens or max_completion_tokens; -1: not given */
    struct eng_sampler_params sampler; /* the engine's defaults, then the request's fields */
    const struct eng_schema *schema;   /* response_format json_schema, or NULL: free text */
    GPtrArray *schema_mem;             /* the schema's nodes (g_free), owned */
    struct _JsonNode *schema_doc;      /* a reference to the parsed body, whose strings
                                        * the schema points at */
    char *stop[OAI_MAX_STOP];          /* [n_stop] owned, non-empty */
    int n_stop;
};

/* An error to answer with: the HTTP status and the OpenAI error object's
 * fields (param and code may be NULL; they are static strings). */
struct oai_error {
    int status;
    char message[512];
    const char *type;  /* "invalid_request_error", "authentication_error", ... */
    const char *param; /* the field at fault, e.g. "messages" */
    const char *code;  /* e.g. "invalid_api_key"; NULL: JSON null */
};

/* Fill err and return false (for one-line returns). */
bool oai_error_set(struct oai_error *err, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Parse and check a request body of len bytes (not NUL-terminated).
 * Ownership: on success *out owns its strings and bytes; free them with
 * oai_request_clear() (also safe after a failure).
 * Errors: false with err filled (status 400). Thread-safety: safe. */
bool oai_request_parse(const char *body, size_t len, const struct oai_limits *limits,
                       struct oai_request *out, struct oai_error *err);
void oai_request_clear(struct oai_request *r);

/* The writers return a malloc'd (g_free) compact JSON text. */
char *oai_error_json(const struct oai_error *err);
char *oai_models_json(const char *model_id, int64_t created); /* the list */
char *oai_model_json(const char *model_id, int64_t created);  /* one model */
/* A "chat.completion" with one choice and its usage. */
char *oai_completion_json(const char *id, int64_t created, const char *model, const char *text,
                          const char *finish_reason, int prompt_tokens, int completion_tokens);
/* A "chat.completion.chunk": delta holds role when role is not NULL and
 * content when content is not NULL; finish_reason NULL is JSON null. */
char *oai_chunk_json(const char *id, int64_t created, const char *model, const char *role,
                     const char *content, const char *finish_reason);
/* The last chunk of a stream with stream_options.include_usage: no choices. */
char *oai_usage_chunk_json(const char *id, int64_t created, const char *model, int prompt_tokens,
                           int completion_tokens);

/* Decode standard base64 (RFC 4648 alphabet, '=' padding, length a
 * multiple of 4, nothing else). NULL when text is not such base64.
 * Ownership: the caller owns the returned bytes. */
GBytes *oai_base64_decode_strict(const char *text, size_t len);

#endif /* WENSHU_OPENAI_H */
