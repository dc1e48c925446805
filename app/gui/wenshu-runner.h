/* wenshu-runner.h: the GUI's link to the engine: one loaded model (and its
 * projector) and one session, driven on a worker thread, with every result
 * delivered on the GTK main loop.
 *
 * Threads: the engine never calls into GTK. Work runs in a GTask thread;
 * tokens are collected there and handed to the main loop coalesced (at most
 * one "tokens" emission per frame, about 16 ms), so a model streaming
 * hundreds of tokens a second never stalls the UI. Stop sets the engine's
 * cancel flag, which it checks between tokens, prompt batches, clip frames
 * and a clip's encoder passes (an image's encoding runs to its end).
 *
 * Signals (all on the main loop):
 *   "tokens" (const char *text)        new text since the last emission
 *   "progress" (double fraction, const char *what)   model load, media
 *        decoding and encoding: what names the step and its file
 *        ("loading model.gguf", "reading frames of clip.mp4", "encoding
 *        photo.png"), fraction goes from 0 to 1.0 within each step; at
 *        most about ten a second; fraction 1.0 and what "" when a load or
 *        a run's media are done
 *   "finished" (gboolean stopped, const GError *error) the end of one run
 *
 * Ownership: WenshuRunner is a GObject (G_DECLARE_FINAL_TYPE); it owns the
 * model, the projector and the session. A run in progress holds a reference
 * to the runner until it finishes.
 * Thread-safety: every function is for the main thread.
 */
#ifndef WENSHU_RUNNER_H
#define WENSHU_RUNNER_H

#include <gio/gio.h>

#include "remote.h"
#include "wenshu-engine.h"

G_BEGIN_DECLS

/* Errors: WENSHU_RUNNER_ERROR with an enum eng_status as the code for engine
 * failures (the message names the file), or one of these. */
#define WENSHU_RUNNER_ERROR (wenshu_runner_error_quark())
GQuark wenshu_runner_error_quark(void);
enum {
    WENSHU_RUNNER_ERROR_BUSY = 100,         /* a load or a run is already going */
    WENSHU_RUNNER_ERROR_NO_MODEL = 101,     /* no model is loaded */
    WENSHU_RUNNER_ERROR_NO_PROJECTOR = 102, /* media given, but the model has no mmproj */
};

#define WENSHU_TYPE_RUNNER (wenshu_runner_get_type())
G_DECLARE_FINAL_TYPE(WenshuRunner, wenshu_runner, WENSHU, RUNNER, GObject)

WenshuRunner *wenshu_runner_new(void);

/* Load a GGUF text model (and mmproj_path when not NULL) on a worker thread.
 * device is an ENG_DEVICE_* value; n_threads 0 = all; n_ctx 0 = 4096.
 * Finish with wenshu_runner_load_finish(); errors name the file. */
void wenshu_runner_load_async(WenshuRunner *self, const char *model_path, const char *mmproj_path,
                              int device, int n_threads, int n_ctx, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
gboolean wenshu_runner_load_finish(WenshuRunner *self, GAsyncResult *result, GError **error);

gboolean wenshu_runner_is_loaded(WenshuRunner *self);
/* The loaded model's facts (NULL before a load). */
const struct eng_model_info *wenshu_runner_get_info(WenshuRunner *self);
/* "CPU" or the Vulkan device's name ("" before a load), and the fallback
 * notice ("" when none). Owned by the runner, valid until the next load. */
const char *wenshu_runner_get_device(WenshuRunner *self);
const char *wenshu_runner_get_device_notice(WenshuRunner *self);
/* The projector file that goes with model_path: a file in the same folder
 * whose name starts with "mmproj" and ends in ".gguf" (the first in name
 * order), or NULL. Ownership: the caller frees the result (g_free).
 * Thread-safety: safe (reads the folder). */
char *wenshu_runner_find_mmproj(const char *model_path);

/* Start generating a reply to a chat (messages[n], rendered with the model's
 * template; the session's cached prefix is reused). With schema not NULL
 * the reply is JSON the sampler enforces. Emits "tokens" as text streams,
 * then "finished". Only one run at a time: returns FALSE (and sets error)
 * while one is going. The messages are copied; schema must stay alive until
 * "finished". */
gboolean wenshu_runner_start(WenshuRunner *self, const struct eng_chat_message *messages,
                             int n_messages, const struct eng_sampler_params *sampler,
                             int n_predict, const struct eng_schema *schema, GError **error);
/* A run with everything: media and a reply to continue.
 * media_paths[n_media] are images and clips (decided by the file's content:
 * eng_image_load first, then eng_video_sample) that stand, in order, for
 * the ENG_MEDIA_MARKERs the caller put in the messages' contents; the count
 * must match (with no media, a marker in the text is plain text: the caller
 * should take markers out of text the user typed or attached). They need a projector
 * (wenshu_runner_can_read_media): without one the run is refused with
 * WENSHU_RUNNER_ERROR_NO_PROJECTOR naming the file. Each is decoded and encoded on the worker
 * ("progress" with "what" naming the file; wenshu_runner_get_seconds_left estimates the rest); an
 * encoding is kept for the next run of the same unchanged file.
 * assistant_prefix (may be NULL): the start of the reply, as edited by the
 * user; the prompt ends with it after the assistant header and generation
 * continues it (edit-then-continue). Only the new text is streamed.
 * Every field is copied except schema, which must live until "finished". */
typedef struct {
    const struct eng_chat_message *messages; /* [n_messages] */
    int n_messages;
    const char *const *media_paths; /* [n_media], may be NULL when 0 */
    int n_media;
    const char *assistant_prefix;             /* may be NULL */
    const struct eng_sampler_params *sampler; /* NULL: the engine's defaults */
    int n_predict;
    const struct eng_schema *schema; /* may be NULL */
} WenshuRunRequest;
gboolean wenshu_runner_start_request(WenshuRunner *self, const WenshuRunRequest *request,
                                     GError **error);
/* Whether the loaded model has a projector, so it can read images and clips. */
gboolean wenshu_runner_can_read_media(WenshuRunner *self);
/* Seconds left of the current long step (model load, media decoding or
 * encoding), estimated from its progress so far; < 0 when unknown or idle.
 * Read it in a "progress" handler. */
double wenshu_runner_get_seconds_left(WenshuRunner *self);

/* Ask the running generation to stop after the current token. The text
 * streamed so far is emitted ("tokens") before this returns, so whatever
 * arrives later was generated after the request. No-op when idle. */
void wenshu_runner_stop(WenshuRunner *self);
/* Tokens generated by the current (or last) run so far. Thread-safety:
 * main thread; the count is updated atomically by the worker. */
int wenshu_runner_get_n_generated(WenshuRunner *self);
gboolean wenshu_runner_is_running(WenshuRunner *self);

/* Tokens of a rendered chat (for the context warning); -1 before a load. */
int wenshu_runner_count_tokens(WenshuRunner *self, const struct eng_chat_message *messages,
                               int n_messages);
int wenshu_runner_n_ctx(WenshuRunner *self);

/* Remote mode: with endpoint not NULL, every run goes to that OpenAI-
 * compatible server (app/remote) instead of the local model, which stays
 * loaded and is used again after wenshu_runner_set_remote(self, NULL) (a
 * successful load also ends remote mode). While remote: is_loaded is TRUE;
 * get_info gives arch "remote", name = the endpoint's model, device
 * "remote: HOST[:PORT]" (get_device too), n_ctx 32768 (assumed: servers do
 * not say theirs); count_tokens is an estimate from the text's bytes;
 * can_read_media is TRUE (images go as data URLs; a clip fails the run with
 * "remote models take images, not video" naming it). Runs stream "tokens"
 * (one emission per server delta, coalesced as for the engine) and finish
 * with a WENSHU_REMOTE_ERROR naming the URL on failure (401, 429 with its
 * Retry-After, a timeout, a dropped stream: the text streamed so far was
 * emitted before "finished"). Stop also cancels a wait for the server.
 * On a change it emits "progress" (1.0, "") as at the end of a load, so
 * the pages refresh what depends on the model.
 * Ownership: the endpoint is copied. Errors: FALSE with
 * WENSHU_RUNNER_ERROR_BUSY while a load or run goes on, or
 * WENSHU_REMOTE_ERROR_URL for a base URL that is not http(s). */
gboolean wenshu_runner_set_remote(WenshuRunner *self, const WenshuRemoteEndpoint *endpoint,
                                  GError **error);
gboolean wenshu_runner_is_remote(WenshuRunner *self);
/* The endpoint in use (owned by the runner, valid until the next
 * set_remote or load), or NULL. */
const WenshuRemoteEndpoint *wenshu_runner_get_remote(WenshuRunner *self);

G_END_DECLS

#endif /* WENSHU_RUNNER_H */
