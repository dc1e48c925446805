/* serve.c: the HTTP side of `wenshu-cli serve` and its request queue.
 *
 * The main thread runs the SoupServer. A chat request becomes a job: it is
 * admitted when fewer than n_parallel + n_queue jobs are open (else 503 at
 * once), its message is paused, and a GThreadPool of n_parallel threads runs
 * it on a free eng_session. The worker writes what the client should get
 * (SSE chunks, or one JSON body) into the job's pending buffer under the
 * job's lock and schedules at most one flush on the main context; the flush
 * appends the bytes to the message and unpauses it. A client that goes away
 * sets the job's cancel flag, which the engine polls between tokens.
 *
 * Job lifetime: a reference count; the main thread holds one until the
 * final flush, the worker one while it runs, each scheduled flush one.
 * The SoupServerMessage is touched on the main thread only.
 */
#include "serve.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "openai.h"
#include "wenshu-engine.h"

#define SERVE_ERROR (g_quark_from_static_string("wenshu-serve-error"))

struct serve_params serve_params_default(void)
{
    return (struct serve_params){
        .host = "127.0.0.1",
        .port = 8080,
        .n_parallel = 1,
        .n_queue = 16,
        .max_tokens = 4096,
        .max_body_bytes = 20u << 20,
        .max_images = 8,
        .max_image_edge = 4096,
    };
}

bool serve_host_is_loopback(const char *host)
{
    if (g_ascii_strcasecmp(host, "localhost") == 0)
        return true;
    GInetAddress *addr = g_inet_address_new_from_string(host);
    bool loopback = addr && g_inet_address_get_is_loopback(addr);
    if (addr)
        g_object_unref(addr);
    return loopback;
}

struct server {
    struct serve_params params;
    char *model_id;            /* the model file's basename, owned */
    struct eng_model *model;   /* owned, shared read-only by the workers */
    struct eng_mmproj *mmproj; /* owned, or NULL; encode under mmproj_lock */
    GMutex mmproj_lock;
    struct eng_session **sessions; /* [n_parallel] owned */
    GAsyncQueue *free_sessions;    /* the sessions no worker holds */
    GThreadPool *pool;
    SoupServer *soup;
    GMainContext *main_context;
    char *tmp_dir; /* private (0700) folder for image bytes, owned */
    struct oai_limits limits;
    int64_t created; /* Unix time the model was loaded */
    int n_open;      /* admitted jobs not yet answered (main thread only) */
    gint next_id;    /* atomic: job and temp-file numbers */
    gint stopping;   /* atomic: shutting down, stop generating */
};

struct job {
    gint refcount; /* atomic */
    struct server *server;
    GBytes *body;        /* the request body, owned */
    volatile int cancel; /* set when the client is gone */
    char id[48];         /* "chatcmpl-..." */
    /* main thread only */
    SoupServerMessage *msg;      /* a reference; NULL once the client is gone */
    SoupServerMessage *gone_msg; /* a reference to msg after its client went away, kept
                                  * to log the request when the worker is done */
    gulong finished_handler;
    bool headers_sent;
    bool closed; /* the final flush ran */
    /* written by the worker, read by the flush, under lock */
    GMutex lock;
    GString *pending; /* response bytes not yet handed to libsoup */
    bool flush_scheduled;
    bool streaming;  /* 200 with text/event-stream is under way */
    bool done;       /* nothing more will come */
    int status;      /* the final status when not streaming */
    char *body_json; /* the whole response when not streaming, owned */
    int prompt_tokens, completion_tokens;
};

static struct job *job_ref(struct job *job)
{
    g_atomic_int_inc(&job->refcount);
    return job;
}

static void job_unref(gpointer data)
{
    struct job *job = data;
    if (!g_atomic_int_dec_and_test(&job->refcount))
        return;
    g_bytes_unref(job->body);
    g_string_free(job->pending, TRUE);
    g_free(job->body_json);
    g_mutex_clear(&job->lock);
    g_free(job);
}

/* ---- logging ---------------------------------------------------------------------- */

#define QDATA_START "wenshu-serve-start"   /* gint64 * monotonic microseconds */
#define QDATA_TOKENS "wenshu-serve-tokens" /* int[2] prompt, completion tokens */
#define QDATA_JOB "wenshu-serve-job"       /* the open job: it logs the request itself */

static void on_request_started(SoupServer *soup, SoupServerMessage *msg, gpointer data);

/* One line per request: method, path, status, duration, token counts. */
static void log_request(SoupServerMessage *msg, bool aborted)
{
    const gint64 *start = g_object_get_data(G_OBJECT(msg), QDATA_START);
    const int *tokens = g_object_get_data(G_OBJECT(msg), QDATA_TOKENS);
    double ms = start ? (double)(g_get_monotonic_time() - *start) / 1000.0 : 0.0;
    GUri *uri = soup_server_message_get_uri(msg);
    const char *method = soup_server_message_get_method(msg);
    char status[16];
    if (aborted)
        g_strlcpy(status, "aborted", sizeof status);
    else
        g_snprintf(status, sizeof status, "%u", soup_server_message_get_status(msg));
    fprintf(stderr, "%s %s %s %.1f ms prompt=%d completion=%d\n", method ? method : "-",
            uri ? g_uri_get_path(uri) : "-", status, ms, tokens ? tokens[0] : 0,
            tokens ? tokens[1] : 0);
}

static void on_request_finished(SoupServer *soup, SoupServerMessage *msg, gpointer data)
{
    (void)soup;
    (void)data;
    if (!g_object_get_data(G_OBJECT(msg), QDATA_JOB))
        log_request(msg, false);
}

static void on_request_aborted(SoupServer *soup, SoupServerMessage *msg, gpointer data)
{
    (void)soup;
    (void)data;
    if (!g_object_get_data(G_OBJECT(msg), QDATA_JOB))
        log_request(msg, true);
}

/* ---- answering on the main thread ----------------------------------------------------- */

static void respond_json(SoupServerMessage *msg, int status, char *json)
{
    soup_server_message_set_status(msg, (guint)status, NULL);
    soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, json, strlen(json));
}

static void respond_error(SoupServerMessage *msg, int status, const char *param,
                          const char *message)
{
    struct oai_error err;
    oai_error_set(&err, status, param, "%s", message);
    if (status == 401)
        err.code = "invalid_api_key";
    respond_json(msg, status, oai_error_json(&err));
}

/* Count a request body as it arrives; past the limit, answer 413 and stop
 * keeping the bytes (libsoup still reads them off the socket). */
static void refuse_large_body(SoupServerMessage *msg, struct server *s)
{
    SoupMessageBody *body = soup_server_message_get_request_body(msg);
    soup_message_body_set_accumulate(body, FALSE);
    soup_message_body_truncate(body);
    if (soup_server_message_get_status(msg) == 0) {
        char text[128];
        g_snprintf(text, sizeof text, "the request body is larger than %zu bytes",
                   s->params.max_body_bytes);
        respond_error(msg, 413, NULL, text);
        soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Connection",
                                     "close");
    }
}

static void on_got_headers(SoupServerMessage *msg, gpointer data)
{
    struct server *s = data;
    SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
    if (soup_message_headers_get_encoding(h) == SOUP_ENCODING_CONTENT_LENGTH &&
        (guint64)soup_message_headers_get_content_length(h) > s->params.max_body_bytes)
        refuse_large_body(msg, s);
}

static void on_got_chunk(SoupServerMessage *msg, GBytes *chunk, gpointer data)
{
    (void)chunk;
    struct server *s = data;
    SoupMessageBody *body = soup_server_message_get_request_body(msg);
    if (body->length > (goffset)s->params.max_body_bytes)
        refuse_large_body(msg, s);
}

static void on_request_started(SoupServer *soup, SoupServerMessage *msg, gpointer data)
{
    (void)soup;
    gint64 *start = g_new(gint64, 1);
    *start = g_get_monotonic_time();
    g_object_set_data_full(G_OBJECT(msg), QDATA_START, start, g_free);
    g_signal_connect(msg, "got-headers", G_CALLBACK(on_got_headers), data);
    g_signal_connect(msg, "got-chunk", G_CALLBACK(on_got_chunk), data);
}

/* The client went away (or the response failed) before the job closed. */
static void on_job_msg_finished(SoupServerMessage *msg, gpointer data)
{
    struct job *job = data;
    g_atomic_int_set(&job->cancel, 1);
    g_signal_handler_disconnect(msg, job->finished_handler);
    job->msg = NULL;
    job->gone_msg = msg;
}

/* Attach the token counts to msg for its log line. */
static void set_tokens(SoupServerMessage *msg, int prompt_tokens, int completion_tokens)
{
    int *tokens = g_new(int, 2);
    tokens[0] = prompt_tokens;
    tokens[1] = completion_tokens;
    g_object_set_data_full(G_OBJECT(msg), QDATA_TOKENS, tokens, g_free);
    g_object_set_data(G_OBJECT(msg), QDATA_JOB, NULL);
}

/* Close a job whose worker is done: the response is complete (or the
 * client is gone); the queue slot is freed. */
static void close_job(struct job *job, int status, char *body_json, int prompt_tokens,
                      int completion_tokens)
{
    SoupServerMessage *msg = job->msg;
    job->closed = true;
    job->server->n_open--;
    if (job->gone_msg) { /* log the cancelled request with what it generated */
        set_tokens(job->gone_msg, prompt_tokens, completion_tokens);
        log_request(job->gone_msg, true);
        g_clear_object(&job->gone_msg);
    }
    if (msg) {
        set_tokens(msg, prompt_tokens, completion_tokens);
        if (job->headers_sent) {
            soup_message_body_complete(soup_server_message_get_response_body(msg));
        } else if (body_json) {
            respond_json(msg, status, body_json);
            body_json = NULL;
        } else {
            respond_error(msg, status, NULL, "the request was cancelled");
        }
        if (status == 503)
            soup_message_headers_replace(soup_server_message_get_response_headers(msg),
                                         "Retry-After", "1");
        g_signal_handler_disconnect(msg, job->finished_handler);
        soup_server_message_unpause(msg);
        job->msg = NULL;
        g_object_unref(msg);
    }
    g_free(body_json);
    job_unref(job); /* the main thread's reference */
}

/* Hand what the worker wrote to libsoup (main thread). */
static gboolean flush_job(gpointer data)
{
    struct job *job = data;
    g_mutex_lock(&job->lock);
    GString *pending = job->pending;
    job->pending = g_string_new(NULL);
    job->flush_scheduled = false;
    bool streaming = job->streaming, done = job->done;
    char *body_json = job->body_json;
    job->body_json = NULL;
    int status = job->status, n_prompt = job->prompt_tokens, n_gen = job->completion_tokens;
    g_mutex_unlock(&job->lock);

    SoupServerMessage *msg = job->msg;
    if (msg && streaming && !job->headers_sent) {
        SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
        soup_server_message_set_status(msg, 200, NULL);
        soup_message_headers_set_content_type(h, "text/event-stream", NULL);
        soup_message_headers_replace(h, "Cache-Control", "no-cache");
        soup_message_headers_set_encoding(h, SOUP_ENCODING_CHUNKED);
        /* drop each event once written instead of keeping the whole stream */
        soup_message_body_set_accumulate(soup_server_message_get_response_body(msg), FALSE);
        job->headers_sent = true;
    }
    if (msg && job->headers_sent && pending->len)
        soup_message_body_append(soup_server_message_get_response_body(msg), SOUP_MEMORY_COPY,
                                 pending->str, pending->len);
    g_string_free(pending, TRUE);
    if (done && !job->closed)
        close_job(job, status, body_json, n_prompt, n_gen);
    else if (msg)
        soup_server_message_unpause(msg);
    return G_SOURCE_REMOVE;
}

/* Worker side: schedule one flush unless one is pending. Call with the lock held. */
static void schedule_flush_locked(struct job *job)
{
    if (job->flush_scheduled)
        return;
    job->flush_scheduled = true;
    /* An idle source, not g_main_context_invoke(): that runs the flush right
     * here when no thread owns the context (during shutdown), under our lock. */
    GSource *source = g_idle_source_new();
    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, flush_job, job_ref(job), job_unref);
    g_source_attach(source, job->server->main_context);
    g_source_unref(source);
}

/* ---- the worker --------------------------------------------------------------------- */

/* Worker side: stream bytes (SSE events) to the client. */
static void job_send(struct job *job, const char *bytes, size_t len)
{
    g_mutex_lock(&job->lock);
    job->streaming = true;
    g_string_append_len(job->pending, bytes, (gssize)len);
    schedule_flush_locked(job);
    g_mutex_unlock(&job->lock);
}

/* Worker side: one "data: JSON\n\n" event; takes json. */
static void job_send_event(struct job *job, char *json)
{
    char *event = g_strdup_printf("data: %s\n\n", json);
    job_send(job, event, strlen(event));
    g_free(event);
    g_free(json);
}

/* Worker side: the job is over. body_json (taken) is the whole response
 * unless the stream has started. */
static void job_finish(struct job *job, int status, char *body_json, int prompt_tokens,
                       int completion_tokens)
{
    g_mutex_lock(&job->lock);
    job->done = true;
    job->status = status;
    g_free(job->body_json);
    job->body_json = body_json;
    job->prompt_tokens = prompt_tokens;
    job->completion_tokens = completion_tokens;
    schedule_flush_locked(job);
    g_mutex_unlock(&job->lock);
}

static void job_fail(struct job *job, const struct oai_error *err, int prompt_tokens,
                     int completion_tokens)
{
    bool streaming;
    g_mutex_lock(&job->lock);
    streaming = job->streaming;
    g_mutex_unlock(&job->lock);
    if (streaming) /* too late for a status: the error goes as an event */
        job_send_event(job, oai_error_json(err));
    job_finish(job, err->status, streaming ? NULL : oai_error_json(err), prompt_tokens,
               completion_tokens);
}

/* The reply as it is generated: stop sequences are cut, and text that may
 * be the start of one is held back from the stream until it is decided. */
struct reply {
    struct job *job;
    const struct oai_request *req;
    GString *text; /* the reply so far, a stop sequence and what follows cut off */
    size_t n_safe; /* bytes of text that no stop sequence can still start in */
    size_t n_sent; /* bytes of text streamed (<= n_safe) */
    int n_tokens;  /* tokens generated */
    bool stopped;  /* a stop sequence ended it */
};

/* Bytes at the end of text that begin some stop sequence (held back). */
static size_t stop_prefix_len(const struct reply *r, size_t from)
{
    size_t best = 0, avail = r->text->len - from;
    for (int i = 0; i < r->req->n_stop; i++) {
        size_t n_stop = strlen(r->req->stop[i]);
        for (size_t k = MIN(n_stop - 1, avail); k > best; k--)
            if (memcmp(r->text->str + r->text->len - k, r->req->stop[i], k) == 0) {
                best = k;
                break;
            }
    }
    return best;
}

/* Stream text[n_sent, upto) as one content chunk. */
static void reply_stream_upto(struct reply *r, size_t upto)
{
    if (!r->req->stream || upto <= r->n_sent)
        return;
    char *piece = g_strndup(r->text->str + r->n_sent, upto - r->n_sent);
    job_send_event(r->job, oai_chunk_json(r->job->id, r->job->server->created,
                                          r->job->server->model_id, NULL, piece, NULL));
    g_free(piece);
    r->n_sent = upto;
}

static bool on_token(int32_t token, const char *text, size_t len, void *user_data)
{
    struct reply *r = user_data;
    if (token >= 0)
        r->n_tokens++;
    size_t from = r->n_safe;
    g_string_append_len(r->text, text, (gssize)len);
    size_t cut = r->text->len;
    for (int i = 0; i < r->req->n_stop; i++) {
        const char *hit = memmem(r->text->str + from, r->text->len - from, r->req->stop[i],
                                 strlen(r->req->stop[i]));
        if (hit && (size_t)(hit - r->text->str) < cut)
            cut = (size_t)(hit - r->text->str);
    }
    if (cut < r->text->len) {
        g_string_truncate(r->text, cut);
        r->stopped = true;
        return false;
    }
    r->n_safe = r->text->len - stop_prefix_len(r, from);
    reply_stream_upto(r, r->n_safe);
    return !g_atomic_int_get(&r->job->cancel) && !g_atomic_int_get(&r->job->server->stopping);
}

/* Replace each occurrence of path in msg (an engine message) by name, so
 * that errors name the request's image, not the server's temp file. */
static void name_image_in(char *msg, size_t size, const char *path, const char *name)
{
    char *at = strstr(msg, path);
    if (!at)
        return;
    char *rest = g_strdup(at + strlen(path));
    g_snprintf(at, size - (size_t)(at - msg), "%s%s", name, rest);
    g_free(rest);
}

/* Decode image i of the request (through a private temp file: the engine
 * decodes from files) and encode it with the projector. */
static bool encode_image(struct server *s, GBytes *bytes, int i, struct eng_media **out,
                         struct oai_error *err)
{
    char name[32], *path;
    g_snprintf(name, sizeof name, "image %d", i + 1);
    path = g_strdup_printf("%s/image-%d", s->tmp_dir, g_atomic_int_add(&s->next_id, 1));
    gsize size;
    const void *data = g_bytes_get_data(bytes, &size);
    GError *error = NULL;
    if (!g_file_set_contents_full(path, data, (gssize)size, G_FILE_SET_CONTENTS_NONE, 0600,
                                  &error)) {
        oai_error_set(err, 500, NULL, "%s: cannot write a temp file: %s", name, error->message);
        g_error_free(error);
        g_free(path);
        return false;
    }
    struct eng_image_params ip = eng_image_params_default();
    ip.max_pixels = (uint64_t)s->params.max_image_edge * (uint64_t)s->params.max_image_edge;
    struct eng_image *image = NULL;
    struct eng_err eerr;
    enum eng_status st = eng_image_load(path, &ip, &image, &eerr);
    g_unlink(path);
    bool ok = false;
    if (st != ENG_STATUS_OK) {
        name_image_in(eerr.msg, sizeof eerr.msg, path, name);
        oai_error_set(err, st == ENG_STATUS_ERR_NOMEM ? 500 : 400, "messages", "%s", eerr.msg);
    } else if (image->width > s->params.max_image_edge ||
               image->height > s->params.max_image_edge) {
        oai_error_set(err, 400, "messages", "%s is %dx%d pixels; at most %d a side", name,
                      image->width, image->height, s->params.max_image_edge);
    } else {
        g_mutex_lock(&s->mmproj_lock);
        st = eng_mmproj_encode_image(s->mmproj, image, out, &eerr);
        g_mutex_unlock(&s->mmproj_lock);
        ok = st == ENG_STATUS_OK;
        if (!ok)
            oai_error_set(err, st == ENG_STATUS_ERR_ARG ? 400 : 500, "messages", "%s: %s", name,
                          eerr.msg);
    }
    eng_image_free(&image);
    g_free(path);
    return ok;
}

/* An engine status as an HTTP error: the caller's fault (400) or ours (500). */
static bool engine_error(struct oai_error *err, enum eng_status st, const struct eng_err *eerr)
{
    bool client = st == ENG_STATUS_ERR_CONTEXT || st == ENG_STATUS_ERR_ARG;
    return oai_error_set(err, client ? 400 : 500, client ? "messages" : NULL, "%s", eerr->msg);
}

/* Evaluate a prompt whose ENG_MEDIA_MARKERs stand for media[] in order:
 * text pieces (special tokens parsed) and media in turn. */
static bool eval_with_media(struct server *s, struct eng_session *session, const char *prompt,
                            struct eng_media **media, int n_media, const volatile int *cancel,
                            struct oai_error *err)
{
    size_t marker = strlen(ENG_MEDIA_MARKER);
    const char *text = prompt;
    struct eng_err eerr;
    for (int i = 0; i <= n_media; i++) {
        const char *end = i < n_media ? strstr(text, ENG_MEDIA_MARKER) : text + strlen(text);
        if (!end) /* the template dropped a message holding an image */
            return oai_error_set(err, 400, "messages", "the chat template kept %d of %d images", i,
                                 n_media);
        int32_t *ids = NULL;
        size_t n = 0;
        enum eng_status st =
            eng_tokenize(s->model, text, (size_t)(end - text), true, &ids, &n, &eerr);
        if (st == ENG_STATUS_OK && n > 0)
            st = eng_session_eval(session, ids, n, cancel, &eerr);
        free(ids);
        if (st == ENG_STATUS_OK && i < n_media)
            st = eng_session_eval_media(session, media[i], cancel, &eerr);
        if (st)
            return engine_error(err, st, &eerr);
        text = end + (i < n_media ? marker : 0);
    }
    return true;
}

/* The most new tokens: the request's (or the server's cap), within the context. */
static int n_predict_for(struct server *s, struct eng_session *session,
                         const struct oai_request *req, int n_prompt)
{
    int cap =
        req->max_tokens > 0 ? MIN(req->max_tokens, s->params.max_tokens) : s->params.max_tokens;
    int room = eng_session_n_ctx(session) - n_prompt;
    return MAX(0, MIN(cap, room));
}

/* Render, evaluate and generate one reply into r (streamed when asked). */
static bool generate_reply(struct server *s, struct eng_session *session,
                           const struct oai_request *req, struct eng_media **media, struct reply *r,
                           int *n_prompt, struct oai_error *err)
{
    struct eng_chat_message *msgs = g_new(struct eng_chat_message, req->n_messages);
    for (size_t i = 0; i < req->n_messages; i++)
        msgs[i] = (struct eng_chat_message){req->messages[i].role, req->messages[i].content};
    struct eng_chat_params cp = eng_chat_params_default();
    cp.enable_thinking = req->enable_thinking;
    char *prompt = NULL;
    struct eng_err eerr;
    enum eng_status st = eng_chat_render(s->model, msgs, req->n_messages, &cp, &prompt, &eerr);
    g_free(msgs);
    if (st)
        return engine_error(err, st, &eerr);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    eng_session_reset(session);
    bool ok = true;
    if (req->n_images > 0) {
        ok = eval_with_media(s, session, prompt, media, req->n_images, &r->job->cancel, err);
        *n_prompt = eng_session_n_past(session);
    } else if ((st = eng_tokenize(s->model, prompt, strlen(prompt), true, &ids, &n_ids, &eerr))) {
        ok = engine_error(err, st, &eerr);
    } else if (n_ids > (size_t)eng_session_n_ctx(session)) {
        ok = oai_error_set(err, 400, "messages",
                           "the prompt has %zu tokens; the context "
                           "holds %d",
                           n_ids, eng_session_n_ctx(session));
    }
    free(prompt);
    if (ok && req->n_images == 0)
        *n_prompt = (int)n_ids;
    if (!ok) {
        free(ids);
        return false;
    }
    if (req->stream)
        job_send_event(r->job,
                       oai_chunk_json(r->job->id, s->created, s->model_id, "assistant", "", NULL));
    struct eng_generate_params gp = eng_generate_params_default();
    gp.n_predict = n_predict_for(s, session, req, *n_prompt);
    gp.sampler = req->sampler;
    gp.schema = req->schema;
    gp.on_token = on_token;
    gp.user_data = r;
    gp.cancel = &r->job->cancel;
    st = eng_session_generate(session, ids, n_ids, &gp, NULL, NULL, &eerr);
    free(ids);
    if (st == ENG_STATUS_CANCELLED)
        return oai_error_set(err, 499, NULL, "the client went away");
    if (st)
        return engine_error(err, st, &eerr);
    reply_stream_upto(r, r->text->len);
    return true;
}

/* Why the reply ended: "stop" (end token or stop sequence) or "length". */
static const char *finish_reason(const struct reply *r, int n_predict)
{
    return r->stopped || r->n_tokens < n_predict ? "stop" : "length";
}

static void answer(struct server *s, struct job *job, struct eng_session *session,
                   const struct oai_request *req)
{
    struct oai_error err;
    struct eng_media *media[OAI_IMAGES_CAP] = {0};
    bool ok = true;
    if (req->n_images > 0 && !s->mmproj)
        ok = oai_error_set(&err, 400, "messages",
                           "this server has no vision projector; start "
                           "it with --mmproj to send images");
    for (int i = 0; ok && i < req->n_images; i++)
        ok = encode_image(s, req->images[i], i, &media[i], &err);
    struct reply r = {.job = job, .req = req, .text = g_string_new(NULL)};
    int n_prompt = 0;
    ok = ok && generate_reply(s, session, req, media, &r, &n_prompt, &err);
    for (int i = 0; i < req->n_images; i++)
        eng_media_free(&media[i]);
    if (!ok) {
        job_fail(job, &err, n_prompt, r.n_tokens);
    } else {
        int n_predict = n_predict_for(s, session, req, n_prompt);
        const char *reason = finish_reason(&r, n_predict);
        if (req->stream) {
            job_send_event(job,
                           oai_chunk_json(job->id, s->created, s->model_id, NULL, NULL, reason));
            if (req->include_usage)
                job_send_event(job, oai_usage_chunk_json(job->id, s->created, s->model_id, n_prompt,
                                                         r.n_tokens));
            job_send(job, "data: [DONE]\n\n", 14);
            job_finish(job, 200, NULL, n_prompt, r.n_tokens);
        } else {
            job_finish(job, 200,
                       oai_completion_json(job->id, s->created, s->model_id, r.text->str, reason,
                                           n_prompt, r.n_tokens),
                       n_prompt, r.n_tokens);
        }
    }
    g_string_free(r.text, TRUE);
}

/* GThreadPool function: one chat request on a free session. */
static void run_job(gpointer data, gpointer user_data)
{
    struct job *job = data;
    struct server *s = user_data;
    struct eng_session *session = g_async_queue_pop(s->free_sessions);
    struct oai_request req = {0};
    struct oai_error err;
    gsize len;
    const char *body = g_bytes_get_data(job->body, &len);
    if (g_atomic_int_get(&s->stopping))
        job_fail(job, (oai_error_set(&err, 503, NULL, "the server is shutting down"), &err), 0, 0);
    else if (g_atomic_int_get(&job->cancel))
        job_finish(job, 499, NULL, 0, 0);
    else if (!oai_request_parse(body ? body : "", len, &s->limits, &req, &err))
        job_fail(job, &err, 0, 0);
    else
        answer(s, job, session, &req);
    oai_request_clear(&req);
    eng_session_reset(session);
    g_async_queue_push(s->free_sessions, session);
    job_unref(job); /* the worker's reference */
}

/* ---- routing on the main thread ------------------------------------------------------ */

/* Whether the request carries the server's key (always, without one). */
static bool authorized(struct server *s, SoupServerMessage *msg)
{
    if (!s->params.api_key)
        return true;
    const char *auth =
        soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
    if (!auth || g_ascii_strncasecmp(auth, "Bearer ", 7) != 0)
        return false;
    const char *key = auth + 7, *want = s->params.api_key;
    size_t n_key = strlen(key), n_want = strlen(want);
    unsigned diff = n_key != n_want;
    for (size_t i = 0; i < n_want; i++) /* the same time for any wrong key */
        diff |= (unsigned)(want[i] ^ (i < n_key ? key[i] : 0));
    return diff == 0;
}

static void start_chat(struct server *s, SoupServerMessage *msg)
{
    if (s->n_open >= s->params.n_parallel + s->params.n_queue) {
        respond_error(msg, 503, NULL, "the server is busy: the queue is full; retry later");
        soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After",
                                     "1");
        return;
    }
    struct job *job = g_new0(struct job, 1);
    job->refcount = 2; /* the main thread's and the worker's */
    job->server = s;
    job->pending = g_string_new(NULL);
    g_mutex_init(&job->lock);
    g_snprintf(job->id, sizeof job->id, "chatcmpl-%08x%08x", g_random_int(),
               (unsigned)g_atomic_int_add(&s->next_id, 1));
    job->body = soup_message_body_flatten(soup_server_message_get_request_body(msg));
    job->msg = g_object_ref(msg);
    g_object_set_data(G_OBJECT(msg), QDATA_JOB, job);
    job->finished_handler = g_signal_connect(msg, "finished", G_CALLBACK(on_job_msg_finished), job);
    s->n_open++;
    soup_server_message_pause(msg);
    g_thread_pool_push(s->pool, job, NULL);
}

static void handle_request(SoupServer *soup, SoupServerMessage *msg, const char *path,
                           GHashTable *query, gpointer data)
{
    (void)soup;
    (void)query;
    struct server *s = data;
    const char *method = soup_server_message_get_method(msg);
    bool is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool is_post = strcmp(method, "POST") == 0;
    bool health = strcmp(path, "/health") == 0, models = strcmp(path, "/v1/models") == 0;
    bool chat = strcmp(path, "/v1/chat/completions") == 0;
    bool one_model = g_str_has_prefix(path, "/v1/models/") && strcmp(path + 11, s->model_id) == 0;
    if (one_model && is_get && authorized(s, msg)) {
        respond_json(msg, 200, oai_model_json(s->model_id, s->created));
    } else if (!health && !models && !chat && !one_model) {
        char text[160];
        g_snprintf(text, sizeof text, "no such endpoint: %.100s", path);
        respond_error(msg, 404, NULL, text);
    } else if (chat ? !is_post : !is_get) { /* /v1/models/ID with another method too */
        const char *allow = chat ? "POST" : "GET, HEAD";
        char text[160];
        g_snprintf(text, sizeof text, "%s does not take %.16s (only %s)", path, method, allow);
        respond_error(msg, 405, NULL, text);
        soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow", allow);
    } else if (health) {
        respond_json(msg, 200, g_strdup("{\"status\":\"ok\"}"));
    } else if (!authorized(s, msg)) {
        respond_error(msg, 401, NULL, "a valid API key is needed (Authorization: Bearer KEY)");
    } else if (models) {
        respond_json(msg, 200, oai_models_json(s->model_id, s->created));
    } else {
        start_chat(s, msg);
    }
}

/* ---- start and stop ------------------------------------------------------------------ */

static gboolean on_stop_signal(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_CONTINUE;
}

static gboolean engine_failed(GError **error, const char *what, const struct eng_err *eerr)
{
    g_set_error(error, SERVE_ERROR, 1, "%s%s", what, eerr->msg);
    return FALSE;
}

/* Load the model, the projector and n_parallel sessions. */
static gboolean load_engine(struct server *s, GError **error)
{
    const struct serve_params *p = &s->params;
    struct eng_model_params mp = eng_model_params_default();
    mp.path = p->model_path;
    mp.n_threads = p->n_threads;
    mp.device = p->device;
    struct eng_err eerr;
    if (eng_model_load(&mp, &s->model, &eerr))
        return engine_failed(error, "", &eerr);
    struct eng_model_info info;
    eng_model_get_info(s->model, &info);
    if (info.device_notice[0])
        fprintf(stderr, "wenshu-cli: note: %s\n", info.device_notice);
    if (p->mmproj_path) {
        struct eng_mmproj_params pp = eng_mmproj_params_default();
        pp.path = p->mmproj_path;
        pp.n_threads = p->n_threads;
        pp.device = p->device;
        if (eng_mmproj_load(&pp, &s->mmproj, &eerr) ||
            eng_mmproj_check_pair(s->mmproj, s->model, &eerr))
            return engine_failed(error, "", &eerr);
    }
    struct eng_session_params sp = eng_session_params_default();
    sp.n_ctx = p->n_ctx;
    /* without --threads, the sessions share the cores instead of each taking all */
    sp.n_threads =
        p->n_threads ? p->n_threads : MAX(1, (int)g_get_num_processors() / p->n_parallel);
    s->sessions = g_new0(struct eng_session *, (gsize)p->n_parallel);
    s->free_sessions = g_async_queue_new();
    for (int i = 0; i < p->n_parallel; i++) {
        if (eng_session_new(s->model, &sp, &s->sessions[i], &eerr))
            return engine_failed(error, "a session: ", &eerr);
        g_async_queue_push(s->free_sessions, s->sessions[i]);
    }
    return TRUE;
}

/* Bind a listening socket on params.host:port, before the model loads, so
 * that a bad or busy address fails at once. Our own socket, for a deeper
 * accept backlog than GLib's 10: a burst of clients beyond it would wait a
 * whole SYN retransmit (1 s) to connect. NULL with error set on failure. */
static GSocket *bind_socket(const struct serve_params *p, GError **error)
{
    GInetAddress *addr = g_ascii_strcasecmp(p->host, "localhost") == 0
                             ? g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4)
                             : g_inet_address_new_from_string(p->host);
    if (!addr) {
        g_set_error(error, SERVE_ERROR, 2, "--host %s: not an IP address (or localhost)", p->host);
        return NULL;
    }
    GSocketAddress *sa = g_inet_socket_address_new(addr, (guint16)p->port);
    GSocket *sock = g_socket_new(g_inet_address_get_family(addr), G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, error);
    if (sock) {
        g_socket_set_listen_backlog(sock, 128);
        if (!g_socket_bind(sock, sa, TRUE, error) || !g_socket_listen(sock, error))
            g_clear_object(&sock);
    }
    if (!sock)
        g_prefix_error(error, "%s port %d: ", p->host, p->port);
    g_object_unref(sa);
    g_object_unref(addr);
    return sock;
}

/* Serve on the bound socket and print the "listening on" line. */
static gboolean listen_on(struct server *s, GSocket *sock, GError **error)
{
    if (!soup_server_listen_socket(s->soup, sock, 0, error))
        return FALSE;
    GSocketAddress *local = g_socket_get_local_address(sock, error);
    if (!local)
        return FALSE;
    GInetAddress *addr = g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(local));
    char *text = g_inet_address_to_string(addr);
    bool v6 = g_inet_address_get_family(addr) == G_SOCKET_FAMILY_IPV6;
    fprintf(stderr, "listening on http://%s%s%s:%u\n", v6 ? "[" : "", text, v6 ? "]" : "",
            (unsigned)g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local)));
    g_free(text);
    g_object_unref(local);
    return TRUE;
}

static void server_free(struct server *s)
{
    if (s->pool) /* runs the queued jobs (they answer 503 quickly) and waits */
        g_thread_pool_free(s->pool, FALSE, TRUE);
    while (g_main_context_pending(s->main_context)) /* the last flushes */
        g_main_context_iteration(s->main_context, FALSE);
    if (s->soup) {
        soup_server_disconnect(s->soup);
        g_object_unref(s->soup);
    }
    for (int i = 0; s->sessions && i < s->params.n_parallel; i++)
        eng_session_free(&s->sessions[i]);
    g_free(s->sessions);
    if (s->free_sessions)
        g_async_queue_unref(s->free_sessions);
    eng_mmproj_free(&s->mmproj);
    eng_model_free(&s->model);
    g_mutex_clear(&s->mmproj_lock);
    if (s->tmp_dir)
        g_rmdir(s->tmp_dir);
    g_free(s->tmp_dir);
    g_free(s->model_id);
}

gboolean serve_run(const struct serve_params *params, GError **error)
{
    struct server s = {.params = *params};
    g_mutex_init(&s.mmproj_lock);
    s.params.n_parallel = MAX(1, s.params.n_parallel);
    s.params.n_queue = MAX(0, s.params.n_queue);
    s.limits = (struct oai_limits){.max_images = MIN(s.params.max_images, OAI_IMAGES_CAP),
                                   .max_image_bytes = s.params.max_body_bytes};
    s.model_id = g_path_get_basename(params->model_path);
    s.main_context = g_main_context_default();
    signal(SIGPIPE, SIG_IGN);
    GSocket *sock = bind_socket(params, error);
    gboolean ok = sock && load_engine(&s, error);
    if (ok && !(s.tmp_dir = g_dir_make_tmp("wenshu-serve-XXXXXX", error)))
        ok = FALSE;
    if (ok)
        s.pool = g_thread_pool_new(run_job, &s, s.params.n_parallel, FALSE, error);
    ok = ok && s.pool;
    if (ok) {
        s.created = g_get_real_time() / G_USEC_PER_SEC;
        s.soup = soup_server_new("server-header", "wenshu-serve ", NULL);
        g_signal_connect(s.soup, "request-started", G_CALLBACK(on_request_started), &s);
        g_signal_connect(s.soup, "request-finished", G_CALLBACK(on_request_finished), &s);
        g_signal_connect(s.soup, "request-aborted", G_CALLBACK(on_request_aborted), &s);
        soup_server_add_handler(s.soup, NULL, handle_request, &s, NULL);
        ok = listen_on(&s, sock, error);
    }
    if (sock)
        g_object_unref(sock);
    if (ok) {
        GMainLoop *loop = g_main_loop_new(s.main_context, FALSE);
        guint sigint = g_unix_signal_add(SIGINT, on_stop_signal, loop);
        guint sigterm = g_unix_signal_add(SIGTERM, on_stop_signal, loop);
        g_main_loop_run(loop);
        fprintf(stderr, "stopping\n");
        g_atomic_int_set(&s.stopping, 1);
        g_source_remove(sigint);
        g_source_remove(sigterm);
        g_main_loop_unref(loop);
    }
    server_free(&s);
    return ok;
}
