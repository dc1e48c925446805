/* wenshu-runner.c: the engine behind the GUI. A load and each generation run
 * in a GTask thread; the worker appends streamed text to a mutex-guarded
 * buffer and schedules at most one flush on the main context about 16 ms
 * later, which emits "tokens". Progress of the long steps (model load, clip
 * decoding, media encoding) goes the same way through a small queue that
 * is flushed at most ten times a second. A run with images and clips
 * decodes and encodes them on the worker (keeping the last few encodings
 * for the next run), then evaluates the prompt piece by piece with the
 * media rows between the text pieces, and generates. The worker never
 * touches a widget, and the main thread calls the engine only to count
 * tokens (tokenizing is fast and thread-safe on a loaded model). Engine
 * errors become GErrors here.
 *
 * Remote mode (wenshu_runner_set_remote): a run goes to an OpenAI-compatible
 * server (app/remote) on the same GTask worker; its text deltas take the
 * same buffered path to "tokens", and Stop also cancels the HTTP wait. A
 * local model stays loaded behind it and is used again once the endpoint is
 * cleared (or a new model is loaded).
 */
#include "wenshu-runner.h"

#include <string.h>
#include <sys/stat.h>

#define FLUSH_INTERVAL_MS 16     /* one "tokens" emission per frame at most */
#define PROGRESS_INTERVAL_MS 100 /* "progress" at most ten times a second */
#define DEFAULT_N_CTX 4096
#define ENCODE_CACHE_SIZE                                                                          \
    16                                  /* encodings kept for the next run (a chat                 \
                                         * sends all of its media every turn) */
#define ENCODE_CACHE_BYTES (512u << 20) /* ... as long as they hold less than this */
/* Clips in a chat prompt, as wenshu-cli samples them: 1 frame a second,
 * at most 32 (a 4096-token context holds about that many SmolVLM frames). */
#define CLIP_FPS 1.0
#define CLIP_MAX_FRAMES 32
/* seconds_left is estimated once a step is this far along, or this old */
#define ESTIMATE_MIN_FRACTION 0.02
#define ESTIMATE_MIN_SECONDS 0.5
/* Remote mode: the context assumed for the token warning (servers do not
 * say theirs), and the estimate of tokens from UTF-8 bytes (a CJK character
 * is 3 bytes and about one token; English is about 4 bytes a token, so
 * this errs on the high side), plus a message's template overhead. */
#define REMOTE_N_CTX 32768
#define REMOTE_BYTES_PER_TOKEN 3
#define REMOTE_TOKENS_PER_MESSAGE 4

/* One encoded file, shared (reference-counted, a GRcBox) by the encode
 * cache and the run that uses it; the key is the file's path, size and
 * modification time. */
typedef struct {
    char *path;
    goffset size;
    struct timespec mtime;
    struct eng_media *media; /* owned */
} EncodedMedia;

/* One "progress" emission waiting in the queue. */
typedef struct {
    double fraction;
    char *what;           /* owned; "" at the end of the work */
    gint64 step_start_us; /* monotonic time the step began */
    gint64 time_us;       /* monotonic time of this report */
} ProgressEvent;

struct _WenshuRunner {
    GObject parent_instance;

    GMainContext *main_context;  /* where the signals are emitted (owned ref) */
    struct eng_model *model;     /* owned; NULL before a load */
    struct eng_mmproj *mmproj;   /* owned; NULL without a projector */
    struct eng_session *session; /* owned; used by the worker during a run */
    struct eng_model_info info;  /* facts of model (strings owned by it) */
    int n_ctx;

    /* Token ids mirrored in the session's KV cache, so the next run can keep
     * the common prefix: [n_cached]. After a run with media only the tokens
     * before the first media block are mirrored. Owned; touched only by the
     * worker while a run is going, and by the main thread otherwise. */
    int32_t *cached;
    size_t n_cached;

    /* The last encodings, newest first, NULL after the last: each holds one
     * reference. Touched as cached is. */
    EncodedMedia *encodings[ENCODE_CACHE_SIZE];

    gboolean loading;
    gboolean running;
    volatile int cancel_flag; /* the engine polls it between tokens and passes */
    gint n_generated;         /* tokens of the current run (atomic) */

    GMutex lock;           /* guards pending, flush_source and the progress fields */
    GString *pending;      /* text streamed since the last "tokens" emission */
    GSource *flush_source; /* the one scheduled flush, or NULL */

    GQueue *progress_queue;   /* ProgressEvent *, oldest first */
    GSource *progress_source; /* the one scheduled progress flush, or NULL */
    gint64 last_progress_us;  /* when the queue was last flushed */
    char *step_what;          /* the current step's phrase, owned; NULL between steps */
    gint64 step_start_us;     /* when it began */
    double step_fraction;     /* the most it has reported */
    double seconds_left;      /* main thread: the estimate of the last emission */
    gboolean progress_shown;  /* main thread: the last emission had a non-empty what */

    /* Remote mode: the endpoint runs go to (owned; NULL: the local model),
     * its facts for get_info (strings owned here), and the current run's
     * cancellable (owned; NULL when idle), which Stop cancels. */
    WenshuRemoteEndpoint *remote;
    struct eng_model_info remote_info;
    char *remote_device; /* "remote: host" */
    GCancellable *remote_cancel;
};

G_DEFINE_TYPE(WenshuRunner, wenshu_runner, G_TYPE_OBJECT)

GQuark wenshu_runner_error_quark(void)
{
    return g_quark_from_static_string("wenshu-runner-error-quark");
}

enum { SIGNAL_TOKENS, SIGNAL_PROGRESS, SIGNAL_FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* ---- streaming ---------------------------------------------------------- */

/* Main thread: emit what the worker buffered since the last flush. */
static void emit_pending(WenshuRunner *self)
{
    g_mutex_lock(&self->lock);
    char *text = NULL;
    if (self->pending->len > 0) {
        text = g_strndup(self->pending->str, self->pending->len);
        g_string_truncate(self->pending, 0);
    }
    g_mutex_unlock(&self->lock);
    if (text)
        g_signal_emit(self, signals[SIGNAL_TOKENS], 0, text);
    g_free(text);
}

static gboolean on_flush_timeout(gpointer user_data)
{
    WenshuRunner *self = user_data;
    g_mutex_lock(&self->lock);
    g_clear_pointer(&self->flush_source, g_source_unref);
    g_mutex_unlock(&self->lock);
    emit_pending(self);
    return G_SOURCE_REMOVE;
}

/* Worker thread: buffer streamed text and make sure one flush is scheduled.
 * Returns false (stop) once stop was asked, so nothing generated after the
 * request reaches the view. Shared by the engine and the remote client. */
static bool append_streamed(WenshuRunner *self, const char *text, size_t len)
{
    if (g_atomic_int_get((volatile gint *)&self->cancel_flag))
        return false;
    g_atomic_int_inc(&self->n_generated);
    g_mutex_lock(&self->lock);
    g_string_append_len(self->pending, text, (gssize)len);
    if (!self->flush_source) {
        self->flush_source = g_timeout_source_new(FLUSH_INTERVAL_MS);
        g_source_set_priority(self->flush_source, G_PRIORITY_DEFAULT);
        g_source_set_callback(self->flush_source, on_flush_timeout, g_object_ref(self),
                              g_object_unref);
        g_source_attach(self->flush_source, self->main_context);
    }
    g_mutex_unlock(&self->lock);
    return true;
}

/* Worker thread: the engine's token callback. */
static bool on_engine_token(int32_t token, const char *text, size_t len, void *user_data)
{
    (void)token;
    return append_streamed(user_data, text, len);
}

/* Worker thread: the remote client's text callback (one delta). */
static gboolean on_remote_text(const char *text, gsize len, gpointer user_data)
{
    return append_streamed(user_data, text, len);
}

/* ---- progress ------------------------------------------------------------ */

static void progress_event_free(gpointer data)
{
    ProgressEvent *event = data;
    g_free(event->what);
    g_free(event);
}

/* Seconds left of event's step: the time so far scaled by the part still to
 * do, once the step is far enough along for that to mean something; < 0
 * when unknown or at the end of the work. */
static double estimate_seconds_left(const ProgressEvent *event)
{
    double elapsed = (double)(event->time_us - event->step_start_us) / G_USEC_PER_SEC;
    double fraction = event->fraction;
    if (!event->what[0] || fraction <= 0.0)
        return -1.0;
    if (fraction < ESTIMATE_MIN_FRACTION && elapsed < ESTIMATE_MIN_SECONDS)
        return -1.0;
    if (fraction >= 1.0)
        return 0.0;
    return elapsed * (1.0 - fraction) / fraction;
}

/* Main thread: emit one progress report, with its estimate set first so
 * that handlers can read it. */
static void emit_progress(WenshuRunner *self, const ProgressEvent *event)
{
    self->seconds_left = estimate_seconds_left(event);
    self->progress_shown = event->what[0] != '\0';
    g_signal_emit(self, signals[SIGNAL_PROGRESS], 0, event->fraction, event->what);
}

/* Main thread: emit every queued report, oldest first, and cancel the
 * scheduled flush. */
static void flush_progress(WenshuRunner *self)
{
    g_mutex_lock(&self->lock);
    if (self->progress_source) {
        g_source_destroy(self->progress_source);
        g_clear_pointer(&self->progress_source, g_source_unref);
    }
    GQueue *events = self->progress_queue;
    self->progress_queue = g_queue_new();
    self->last_progress_us = g_get_monotonic_time();
    g_mutex_unlock(&self->lock);
    for (GList *l = events->head; l; l = l->next)
        emit_progress(self, l->data);
    g_queue_free_full(events, progress_event_free);
}

static gboolean on_progress_timeout(gpointer user_data)
{
    WenshuRunner *self = user_data;
    g_mutex_lock(&self->lock);
    g_clear_pointer(&self->progress_source, g_source_unref);
    g_mutex_unlock(&self->lock);
    flush_progress(self);
    return G_SOURCE_REMOVE;
}

/* Any thread, with self->lock held: queue a report and make sure a flush is
 * scheduled no sooner than PROGRESS_INTERVAL_MS after the last one. A report
 * replaces the last queued one of the same step unless that one finished
 * it, so a burst of engine callbacks costs one emission. */
static void queue_progress_locked(WenshuRunner *self, double fraction, const char *what,
                                  gint64 step_start_us)
{
    gint64 now = g_get_monotonic_time();
    ProgressEvent *tail = g_queue_peek_tail(self->progress_queue);
    if (tail && tail->fraction < 1.0 && strcmp(tail->what, what) == 0) {
        tail->fraction = MAX(tail->fraction, fraction);
        tail->time_us = now;
    } else {
        ProgressEvent *event = g_new0(ProgressEvent, 1);
        *event = (ProgressEvent){.fraction = fraction,
                                 .what = g_strdup(what),
                                 .step_start_us = step_start_us,
                                 .time_us = now};
        g_queue_push_tail(self->progress_queue, event);
    }
    if (self->progress_source)
        return;
    gint64 due_us = self->last_progress_us + PROGRESS_INTERVAL_MS * 1000;
    guint delay_ms = due_us > now ? (guint)((due_us - now) / 1000) : 0;
    self->progress_source = g_timeout_source_new(delay_ms);
    g_source_set_callback(self->progress_source, on_progress_timeout, g_object_ref(self),
                          g_object_unref);
    g_source_attach(self->progress_source, self->main_context);
}

/* Worker thread: a long step begins; what (owned, taken) names it and the
 * file, as "encoding photo.png". Reports fraction 0. */
static void step_begin(WenshuRunner *self, char *what)
{
    g_mutex_lock(&self->lock);
    g_free(self->step_what);
    self->step_what = what;
    self->step_start_us = g_get_monotonic_time();
    self->step_fraction = 0.0;
    queue_progress_locked(self, 0.0, what, self->step_start_us);
    g_mutex_unlock(&self->lock);
}

/* Any thread: the current step is fraction done (ignored between steps,
 * and unless it is more than the step reported before). */
static void step_report(WenshuRunner *self, double fraction)
{
    fraction = CLAMP(fraction, 0.0, 1.0);
    g_mutex_lock(&self->lock);
    if (self->step_what && fraction > self->step_fraction) {
        self->step_fraction = fraction;
        queue_progress_locked(self, fraction, self->step_what, self->step_start_us);
    }
    g_mutex_unlock(&self->lock);
}

/* Worker thread: the current step is over (fraction 1). */
static void step_end(WenshuRunner *self)
{
    step_report(self, 1.0);
    g_mutex_lock(&self->lock);
    g_clear_pointer(&self->step_what, g_free);
    g_mutex_unlock(&self->lock);
}

/* Worker thread: the long steps of a run are over (fraction 1, what ""). */
static void steps_done(WenshuRunner *self)
{
    g_mutex_lock(&self->lock);
    queue_progress_locked(self, 1.0, "", g_get_monotonic_time());
    g_mutex_unlock(&self->lock);
}

/* Main thread, at the end of a load or a run: deliver the queued reports,
 * then the closing (1.0, "") unless it was the last one emitted. */
static void finish_progress(WenshuRunner *self)
{
    flush_progress(self);
    g_mutex_lock(&self->lock);
    g_clear_pointer(&self->step_what, g_free);
    g_mutex_unlock(&self->lock);
    if (self->progress_shown) {
        ProgressEvent last = {.fraction = 1.0, .what = ""};
        emit_progress(self, &last);
    }
    self->seconds_left = -1.0;
}

/* The engine's progress callbacks (model load, encoder passes, clip frames),
 * on the thread doing the work; user_data is the runner. */
static void on_engine_progress(uint64_t done, uint64_t total, void *user_data)
{
    if (total > 0)
        step_report(user_data, (double)done / (double)total);
}

static void on_video_progress(int n_done, int n_total, double time, void *user_data)
{
    (void)time;
    if (n_total > 0)
        step_report(user_data, (double)n_done / (double)n_total);
}

/* ---- the encode cache ---------------------------------------------------- */

static void encoded_media_clear(gpointer data)
{
    EncodedMedia *entry = data;
    g_free(entry->path);
    eng_media_free(&entry->media);
}

static void encoded_media_release(EncodedMedia *entry)
{
    if (entry)
        g_rc_box_release_full(entry, encoded_media_clear);
}

static gsize encoded_media_bytes(const EncodedMedia *entry)
{
    return (gsize)entry->media->n_tokens * (gsize)entry->media->n_embd * sizeof(float);
}

static gboolean encoded_media_matches(const EncodedMedia *entry, const char *path,
                                      const struct stat *st)
{
    return strcmp(entry->path, path) == 0 && entry->size == (goffset)st->st_size &&
           entry->mtime.tv_sec == st->st_mtim.tv_sec && entry->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Worker thread: the cached encoding of path as it is now (a new
 * reference, moved to the front), or NULL. */
static EncodedMedia *encodings_lookup(WenshuRunner *self, const char *path, const struct stat *st)
{
    for (int i = 0; i < ENCODE_CACHE_SIZE && self->encodings[i]; i++) {
        EncodedMedia *entry = self->encodings[i];
        if (!encoded_media_matches(entry, path, st))
            continue;
        memmove(self->encodings + 1, self->encodings, sizeof(EncodedMedia *) * (size_t)i);
        self->encodings[0] = entry;
        return g_rc_box_acquire(entry);
    }
    return NULL;
}

/* Worker thread: keep entry (a reference is taken) as the newest encoding;
 * the oldest go when more than ENCODE_CACHE_SIZE, or more than
 * ENCODE_CACHE_BYTES, are held (the newest always stays). */
static void encodings_remember(WenshuRunner *self, EncodedMedia *entry)
{
    encoded_media_release(self->encodings[ENCODE_CACHE_SIZE - 1]);
    memmove(self->encodings + 1, self->encodings, sizeof(EncodedMedia *) * (ENCODE_CACHE_SIZE - 1));
    self->encodings[0] = g_rc_box_acquire(entry);
    gsize bytes = encoded_media_bytes(entry);
    int n_kept = 1;
    while (n_kept < ENCODE_CACHE_SIZE && self->encodings[n_kept] &&
           bytes + encoded_media_bytes(self->encodings[n_kept]) <= ENCODE_CACHE_BYTES)
        bytes += encoded_media_bytes(self->encodings[n_kept++]);
    for (int i = n_kept; i < ENCODE_CACHE_SIZE; i++)
        g_clear_pointer(&self->encodings[i], encoded_media_release);
}

static void encodings_clear(WenshuRunner *self)
{
    for (int i = 0; i < ENCODE_CACHE_SIZE; i++)
        g_clear_pointer(&self->encodings[i], encoded_media_release);
}

/* ---- loading ------------------------------------------------------------ */

/* A load's inputs and, after the worker, its results. */
typedef struct {
    char *model_path;
    char *mmproj_path; /* may be NULL */
    int device, n_threads, n_ctx;
    struct eng_model *model;     /* result, owned until installed */
    struct eng_mmproj *mmproj;   /* result, may be NULL */
    struct eng_session *session; /* result */
} LoadJob;

static void load_job_free(gpointer data)
{
    LoadJob *job = data;
    eng_session_free(&job->session);
    eng_mmproj_free(&job->mmproj);
    eng_model_free(&job->model);
    g_free(job->model_path);
    g_free(job->mmproj_path);
    g_free(job);
}

static GError *engine_error(enum eng_status status, const struct eng_err *err)
{
    return g_error_new_literal(WENSHU_RUNNER_ERROR, (int)status,
                               err->msg[0] ? err->msg : eng_status_name(status));
}

/* An engine error about one file: "name: reason", unless the engine's
 * reason already names the file (name is the path's last part). */
static GError *file_error(enum eng_status status, const char *path, const struct eng_err *err)
{
    g_autofree char *name = g_path_get_basename(path);
    const char *reason = err->msg[0] ? err->msg : eng_status_name(status);
    if (strstr(reason, name))
        return g_error_new_literal(WENSHU_RUNNER_ERROR, (int)status, reason);
    return g_error_new(WENSHU_RUNNER_ERROR, (int)status, "%s: %s", name, reason);
}

/* "<verb> <the file's name>", owned by the caller: a step's phrase. */
static char *step_phrase(const char *verb, const char *path)
{
    g_autofree char *name = g_path_get_basename(path);
    return g_strdup_printf("%s %s", verb, name);
}

/* Worker thread: load the model, the projector and a session. The model's
 * step began on the main thread (wenshu_runner_load_async). */
static void load_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancel)
{
    (void)cancel;
    WenshuRunner *self = source;
    LoadJob *job = task_data;
    struct eng_err err = {{0}};
    struct eng_model_params mp = eng_model_params_default();
    mp.path = job->model_path;
    mp.n_threads = job->n_threads;
    mp.device = job->device;
    mp.progress = on_engine_progress;
    mp.progress_user_data = self;
    enum eng_status st = eng_model_load(&mp, &job->model, &err);
    step_end(self);
    if (st == ENG_STATUS_OK && job->mmproj_path) {
        struct eng_mmproj_params pp = eng_mmproj_params_default();
        pp.path = job->mmproj_path;
        pp.n_threads = job->n_threads;
        pp.device = job->device;
        /* called during each encode: the runner outlives its projector */
        pp.progress = on_engine_progress;
        pp.progress_user_data = self;
        step_begin(self, step_phrase("loading", job->mmproj_path));
        st = eng_mmproj_load(&pp, &job->mmproj, &err);
        step_end(self);
        if (st == ENG_STATUS_OK)
            st = eng_mmproj_check_pair(job->mmproj, job->model, &err);
    }
    if (st == ENG_STATUS_OK) {
        struct eng_session_params sp = eng_session_params_default();
        sp.n_ctx = job->n_ctx > 0 ? job->n_ctx : DEFAULT_N_CTX;
        sp.n_threads = job->n_threads;
        st = eng_session_new(job->model, &sp, &job->session, &err);
    }
    if (st != ENG_STATUS_OK) {
        g_task_return_error(task, engine_error(st, &err));
        return;
    }
    g_task_return_boolean(task, TRUE);
}

/* Main thread: the worker is done; install its model and finish the
 * caller's task. The closing progress report comes after the install, so
 * that its handlers see the new model. */
static void on_load_thread_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    WenshuRunner *self = WENSHU_RUNNER(source);
    GTask *outer = user_data;
    LoadJob *job = g_task_get_task_data(G_TASK(result));
    GError *error = NULL;
    self->loading = FALSE;
    flush_progress(self);
    if (!g_task_propagate_boolean(G_TASK(result), &error)) {
        finish_progress(self);
        g_task_return_error(outer, error);
        g_object_unref(outer);
        return;
    }
    /* the old session must go before its model, the encodings with the projector */
    eng_session_free(&self->session);
    encodings_clear(self);
    eng_mmproj_free(&self->mmproj);
    eng_model_free(&self->model);
    g_clear_pointer(&self->cached, g_free);
    self->n_cached = 0;
    self->model = g_steal_pointer(&job->model);
    self->mmproj = g_steal_pointer(&job->mmproj);
    self->session = g_steal_pointer(&job->session);
    eng_model_get_info(self->model, &self->info);
    self->n_ctx = eng_session_n_ctx(self->session);
    wenshu_remote_endpoint_free(&self->remote); /* a model opened now is the one to use */
    finish_progress(self);
    g_task_return_boolean(outer, TRUE);
    g_object_unref(outer);
}

void wenshu_runner_load_async(WenshuRunner *self, const char *model_path, const char *mmproj_path,
                              int device, int n_threads, int n_ctx, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(WENSHU_IS_RUNNER(self));
    g_return_if_fail(model_path != NULL);
    GTask *outer = g_task_new(self, cancellable, callback, user_data);
    g_task_set_source_tag(outer, wenshu_runner_load_async);
    if (self->loading || self->running) {
        g_task_return_new_error(outer, WENSHU_RUNNER_ERROR, WENSHU_RUNNER_ERROR_BUSY,
                                "%s: the model is busy (a load or a reply is running)", model_path);
        g_object_unref(outer);
        return;
    }
    LoadJob *job = g_new0(LoadJob, 1);
    job->model_path = g_strdup(model_path);
    job->mmproj_path = g_strdup(mmproj_path);
    job->device = device;
    job->n_threads = n_threads;
    job->n_ctx = n_ctx;
    self->loading = TRUE;
    /* the model's step, reported at once (the bar shows before the worker starts) */
    ProgressEvent start = {.what = step_phrase("loading", model_path),
                           .step_start_us = g_get_monotonic_time()};
    start.time_us = start.step_start_us;
    g_mutex_lock(&self->lock);
    g_free(self->step_what);
    self->step_what = g_strdup(start.what);
    self->step_start_us = start.step_start_us;
    self->step_fraction = 0.0;
    self->last_progress_us = start.time_us; /* it counts as a flush */
    g_mutex_unlock(&self->lock);
    emit_progress(self, &start);
    g_free(start.what);
    GTask *inner = g_task_new(self, cancellable, on_load_thread_done, outer);
    g_task_set_task_data(inner, job, load_job_free);
    g_task_run_in_thread(inner, load_thread);
    g_object_unref(inner);
}

gboolean wenshu_runner_load_finish(WenshuRunner *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- generating --------------------------------------------------------- */

/* A run's inputs: deep copies of the caller's request. */
typedef struct {
    struct eng_chat_message *messages; /* [n_messages]; role and content owned */
    int n_messages;
    char **media_paths; /* [n_media], owned */
    int n_media;
    char *assistant_prefix; /* owned; NULL when none */
    struct eng_sampler_params sampler;
    int n_predict;
    const struct eng_schema *schema; /* the caller's, alive until "finished" */
    WenshuRemoteEndpoint *remote;    /* owned copy; NULL: the local model */
    GCancellable *remote_cancel;     /* owned ref; NULL for a local run */
} RunJob;

static void run_job_free(gpointer data)
{
    RunJob *job = data;
    for (int i = 0; i < job->n_messages; i++) {
        g_free((char *)job->messages[i].role);
        g_free((char *)job->messages[i].content);
    }
    g_free(job->messages);
    for (int i = 0; i < job->n_media; i++)
        g_free(job->media_paths[i]);
    g_free(job->media_paths);
    g_free(job->assistant_prefix);
    wenshu_remote_endpoint_free(&job->remote);
    g_clear_object(&job->remote_cancel);
    g_free(job);
}

/* ENG_MEDIA_MARKERs in text (NULL counts none). */
static int count_markers(const char *text)
{
    int n = 0;
    for (const char *p = text ? strstr(text, ENG_MEDIA_MARKER) : NULL; p;
         p = strstr(p + strlen(ENG_MEDIA_MARKER), ENG_MEDIA_MARKER))
        n++;
    return n;
}

/* Render messages with the model's template, ending with the assistant
 * header and then prefix (NULL: none) verbatim. Returns the status; *out
 * (g_free) on success. */
static enum eng_status render_prompt(const struct eng_model *model,
                                     const struct eng_chat_message *messages, int n_messages,
                                     const char *prefix, char **out, struct eng_err *err)
{
    struct eng_chat_params cp = eng_chat_params_default();
    cp.add_generation_prompt = true;
    char *rendered = NULL; /* malloc'd by the engine */
    enum eng_status st = eng_chat_render(model, messages, (size_t)n_messages, &cp, &rendered, err);
    if (st != ENG_STATUS_OK)
        return st;
    *out = g_strconcat(rendered, prefix ? prefix : "", NULL);
    free(rendered);
    return ENG_STATUS_OK;
}

/* Render messages and tokenize. Returns the status; *ids (malloc'd, caller
 * frees) and *n on success. */
static enum eng_status render_tokens(const struct eng_model *model,
                                     const struct eng_chat_message *messages, int n_messages,
                                     int32_t **ids, size_t *n, struct eng_err *err)
{
    g_autofree char *prompt = NULL;
    enum eng_status st = render_prompt(model, messages, n_messages, NULL, &prompt, err);
    if (st != ENG_STATUS_OK)
        return st;
    return eng_tokenize(model, prompt, strlen(prompt), true, ids, n, err);
}

/* Worker thread: generate the reply from the session's state plus
 * prompt[n_prompt], streaming it through on_engine_token. *gen (malloc'd,
 * may be NULL when gen is NULL) receives the generated ids. */
static enum eng_status generate_reply(WenshuRunner *self, const RunJob *job, const int32_t *prompt,
                                      size_t n_prompt, int32_t **gen, size_t *n_gen,
                                      struct eng_err *err)
{
    struct eng_generate_params gp = eng_generate_params_default();
    gp.n_predict = job->n_predict;
    gp.sampler = job->sampler;
    gp.on_token = on_engine_token;
    gp.user_data = self;
    gp.cancel = &self->cancel_flag;
    gp.schema = job->schema;
    return eng_session_generate(self->session, prompt, n_prompt, &gp, gen, n_gen, err);
}

/* Worker thread: a run without media. Evaluate the prompt after the cached
 * prefix and stream the reply; then mirror the KV cache in self->cached. */
static enum eng_status run_text(WenshuRunner *self, const RunJob *job, const char *prompt,
                                GError **error)
{
    struct eng_err err = {{0}};
    int32_t *ids = NULL; /* the prompt's tokens: [n] */
    size_t n = 0;
    enum eng_status st = eng_tokenize(self->model, prompt, strlen(prompt), true, &ids, &n, &err);
    if (st != ENG_STATUS_OK) {
        *error = engine_error(st, &err);
        return st;
    }
    /* keep the common prefix, but evaluate at least the last prompt token */
    size_t keep = 0;
    while (keep + 1 < n && keep < self->n_cached && ids[keep] == self->cached[keep])
        keep++;
    eng_session_truncate(self->session, (int)keep);

    int32_t *gen = NULL; /* generated ids: [n_gen] */
    size_t n_gen = 0;
    st = generate_reply(self, job, ids + keep, n - keep, &gen, &n_gen, &err);

    /* mirror the cache: the prompt, then the generated tokens it holds */
    size_t n_past = (size_t)eng_session_n_past(self->session);
    int32_t *all = g_new(int32_t, n + n_gen + 1);
    memcpy(all, ids, sizeof(int32_t) * n);
    if (n_gen)
        memcpy(all + n, gen, sizeof(int32_t) * n_gen);
    g_free(self->cached);
    self->cached = all;
    self->n_cached = MIN(n_past, n + n_gen);
    free(gen);
    free(ids);
    if (st != ENG_STATUS_OK && st != ENG_STATUS_CANCELLED)
        *error = engine_error(st, &err);
    return st;
}

/* Worker thread: decode the clip at path (its frames, with progress) and
 * encode it. image_err is why eng_image_load refused the file: when the
 * content was an image's but broken, that reason is the one reported. */
static enum eng_status encode_clip(WenshuRunner *self, const char *path,
                                   const struct eng_err *image_err, struct eng_media **out,
                                   GError **error)
{
    struct eng_video_params vp = eng_video_params_default();
    vp.fps = CLIP_FPS;
    vp.max_frames = CLIP_MAX_FRAMES;
    vp.progress = on_video_progress;
    vp.progress_user_data = self;
    vp.cancel = &self->cancel_flag;
    struct eng_video *video = NULL;
    struct eng_err err = {{0}};
    step_begin(self, step_phrase("reading frames of", path));
    enum eng_status st = eng_video_sample(path, &vp, &video, &err);
    step_end(self);
    if (st == ENG_STATUS_CANCELLED)
        return st;
    if (st == ENG_STATUS_ERR_FORMAT && !strstr(image_err->msg, "not an image")) {
        *error = engine_error(ENG_STATUS_ERR_FORMAT, image_err);
        return st;
    }
    if (st != ENG_STATUS_OK) {
        *error = file_error(st, path, &err);
        return st;
    }
    step_begin(self, step_phrase("encoding", path));
    st = eng_mmproj_encode_video(self->mmproj, video, &self->cancel_flag, out, &err);
    step_end(self);
    eng_video_free(&video);
    if (st != ENG_STATUS_OK && st != ENG_STATUS_CANCELLED)
        *error = file_error(st, path, &err);
    return st;
}

/* Worker thread: decode and encode the file at path, an image or else a
 * clip (decided by eng_image_load on its content). */
static enum eng_status encode_file(WenshuRunner *self, const char *path, struct eng_media **out,
                                   GError **error)
{
    struct eng_err image_err = {{0}};
    struct eng_image *image = NULL;
    enum eng_status st = eng_image_load(path, NULL, &image, &image_err);
    if (st == ENG_STATUS_ERR_FORMAT)
        return encode_clip(self, path, &image_err, out, error);
    if (st != ENG_STATUS_OK) {
        *error = engine_error(st, &image_err); /* its reason names the file */
        return st;
    }
    struct eng_err err = {{0}};
    step_begin(self, step_phrase("encoding", path));
    st = eng_mmproj_encode_image(self->mmproj, image, out, &err);
    step_end(self);
    eng_image_free(&image);
    if (st != ENG_STATUS_OK)
        *error = file_error(st, path, &err);
    return st;
}

/* Worker thread: the encoding of path as *out (a new reference): the cached
 * one when the file is unchanged since, else decoded and encoded now (then
 * *encoded is set) and cached. */
static enum eng_status acquire_encoding(WenshuRunner *self, const char *path, EncodedMedia **out,
                                        gboolean *encoded, GError **error)
{
    struct stat st;
    gboolean have_stat = stat(path, &st) == 0;
    if (have_stat && (*out = encodings_lookup(self, path, &st)))
        return ENG_STATUS_OK;
    struct eng_media *media = NULL;
    *encoded = TRUE;
    enum eng_status status = encode_file(self, path, &media, error);
    if (status != ENG_STATUS_OK)
        return status;
    EncodedMedia *entry = g_rc_box_new0(EncodedMedia);
    entry->path = g_strdup(path);
    entry->media = media;
    if (have_stat) { /* a file that cannot be stat'ed has no key to find it by */
        entry->size = (goffset)st.st_size;
        entry->mtime = st.st_mtim;
        encodings_remember(self, entry);
    }
    *out = entry;
    return ENG_STATUS_OK;
}

/* Worker thread: the first text piece of a media prompt, ids[n] (taken).
 * The tokens the cache holds already are kept; the rest is evaluated, and
 * the piece becomes the mirror (what follows it, media rows, is not
 * mirrored: its positions are not token counts). */
static enum eng_status eval_first_piece(WenshuRunner *self, int32_t *ids, size_t n,
                                        struct eng_err *err)
{
    size_t keep = 0;
    while (keep < n && keep < self->n_cached && ids[keep] == self->cached[keep])
        keep++;
    eng_session_truncate(self->session, (int)keep);
    enum eng_status st =
        eng_session_eval(self->session, ids + keep, n - keep, &self->cancel_flag, err);
    g_free(self->cached);
    self->cached = g_new(int32_t, n + 1);
    memcpy(self->cached, ids, sizeof(int32_t) * n);
    self->n_cached = MIN(n, (size_t)eng_session_n_past(self->session));
    free(ids);
    return st;
}

/* Worker thread: evaluate prompt, whose ENG_MEDIA_MARKERs stand for
 * media[n_media] (read from paths[n_media]) in order: each text piece
 * tokenized with special tokens parsed, each media block's rows after it.
 * The last text piece is not evaluated: *tail ([*n_tail], malloc'd) gets
 * its tokens, for generation to start from. */
static enum eng_status eval_media_prompt(WenshuRunner *self, const char *prompt,
                                         EncodedMedia *const *media, char *const *paths,
                                         int n_media, int32_t **tail, size_t *n_tail,
                                         GError **error)
{
    struct eng_err err = {{0}};
    const char *text = prompt;
    for (int i = 0; i <= n_media; i++) {
        const char *end = i < n_media ? strstr(text, ENG_MEDIA_MARKER) : text + strlen(text);
        int32_t *ids = NULL; /* the text piece's tokens: [n] */
        size_t n = 0;
        enum eng_status st =
            eng_tokenize(self->model, text, (size_t)(end - text), true, &ids, &n, &err);
        if (st == ENG_STATUS_OK && i == n_media) {
            *tail = ids;
            *n_tail = n;
            return ENG_STATUS_OK;
        }
        if (st == ENG_STATUS_OK && i == 0) {
            st = eval_first_piece(self, ids, n, &err);
        } else if (st == ENG_STATUS_OK) {
            st = eng_session_eval(self->session, ids, n, &self->cancel_flag, &err);
            free(ids);
        }
        if (st == ENG_STATUS_OK) {
            st = eng_session_eval_media(self->session, media[i]->media, &self->cancel_flag, &err);
            if (st != ENG_STATUS_OK && st != ENG_STATUS_CANCELLED)
                *error = file_error(st, paths[i], &err);
        } else if (st != ENG_STATUS_CANCELLED) {
            *error = engine_error(st, &err);
        }
        if (st != ENG_STATUS_OK)
            return st;
        text = end + strlen(ENG_MEDIA_MARKER);
    }
    g_assert_not_reached();
}

/* Worker thread: a run with images and clips: get their encodings (with
 * progress, stopping between files when asked), evaluate the prompt with
 * them, and stream the reply. */
static enum eng_status run_with_media(WenshuRunner *self, const RunJob *job, const char *prompt,
                                      GError **error)
{
    int n_marks = count_markers(prompt);
    if (n_marks != job->n_media) {
        *error = g_error_new(WENSHU_RUNNER_ERROR, ENG_STATUS_ERR_ARG,
                             "the rendered prompt has %d %s markers for %d images and clips",
                             n_marks, ENG_MEDIA_MARKER, job->n_media);
        return ENG_STATUS_ERR_ARG;
    }
    EncodedMedia **media = g_new0(EncodedMedia *, job->n_media); /* [n_media], one ref each */
    gboolean encoded = FALSE;
    enum eng_status st = ENG_STATUS_OK;
    for (int i = 0; i < job->n_media && st == ENG_STATUS_OK; i++) {
        if (g_atomic_int_get((volatile gint *)&self->cancel_flag))
            st = ENG_STATUS_CANCELLED;
        else
            st = acquire_encoding(self, job->media_paths[i], &media[i], &encoded, error);
    }
    if (encoded)
        steps_done(self);
    int32_t *tail = NULL; /* the prompt's last text piece: [n_tail] */
    size_t n_tail = 0;
    if (st == ENG_STATUS_OK)
        st = eval_media_prompt(self, prompt, media, job->media_paths, job->n_media, &tail, &n_tail,
                               error);
    if (st == ENG_STATUS_OK) {
        struct eng_err err = {{0}};
        st = generate_reply(self, job, tail, n_tail, NULL, NULL, &err);
        if (st != ENG_STATUS_OK && st != ENG_STATUS_CANCELLED)
            *error = engine_error(st, &err);
    }
    free(tail);
    for (int i = 0; i < job->n_media; i++)
        encoded_media_release(media[i]);
    g_free(media);
    return st;
}

/* Worker thread: the run on the remote endpoint. Returns the status as the
 * engine's would be: OK, CANCELLED (Stop), or an error in *error (a
 * WENSHU_REMOTE_ERROR naming the URL; the text streamed so far stands). */
static enum eng_status run_remote(WenshuRunner *self, const RunJob *job, GError **error)
{
    WenshuRemoteChat chat = {.messages = job->messages,
                             .n_messages = job->n_messages,
                             .media_paths = (const char *const *)job->media_paths,
                             .n_media = job->n_media,
                             .assistant_prefix = job->assistant_prefix,
                             .sampler = &job->sampler,
                             .max_tokens = job->n_predict,
                             .schema = job->schema,
                             .on_text = on_remote_text,
                             .user_data = self,
                             .cancel_flag = &self->cancel_flag,
                             .cancellable = job->remote_cancel};
    GError *remote_error = NULL;
    if (wenshu_remote_chat(job->remote, &chat, NULL, &remote_error))
        return ENG_STATUS_OK;
    if (g_error_matches(remote_error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_CANCELLED)) {
        g_error_free(remote_error);
        return ENG_STATUS_CANCELLED;
    }
    g_propagate_error(error, remote_error);
    return ENG_STATUS_ERR_IO;
}

/* Worker thread: render the chat (and the reply's start), then run it with
 * or without media; or send it to the remote endpoint. */
static void run_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancel)
{
    (void)cancel;
    WenshuRunner *self = source;
    RunJob *job = task_data;
    if (job->remote) {
        GError *error = NULL;
        enum eng_status st = run_remote(self, job, &error);
        if (error)
            g_task_return_error(task, error);
        else
            g_task_return_boolean(task, st == ENG_STATUS_CANCELLED);
        return;
    }
    struct eng_err err = {{0}};
    GError *error = NULL;
    g_autofree char *prompt = NULL;
    enum eng_status st = render_prompt(self->model, job->messages, job->n_messages,
                                       job->assistant_prefix, &prompt, &err);
    if (st != ENG_STATUS_OK)
        error = engine_error(st, &err);
    else if (job->n_media > 0)
        st = run_with_media(self, job, prompt, &error);
    else
        st = run_text(self, job, prompt, &error);
    if (st == ENG_STATUS_OK || st == ENG_STATUS_CANCELLED) {
        g_clear_error(&error);
        g_task_return_boolean(task, st == ENG_STATUS_CANCELLED);
    } else {
        g_task_return_error(task, error);
    }
}

/* Main thread: deliver the last text and progress, then "finished". */
static void on_run_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    (void)user_data;
    WenshuRunner *self = WENSHU_RUNNER(source);
    GError *error = NULL;
    gboolean stopped = g_task_propagate_boolean(G_TASK(result), &error);
    g_mutex_lock(&self->lock);
    if (self->flush_source) {
        g_source_destroy(self->flush_source);
        g_clear_pointer(&self->flush_source, g_source_unref);
    }
    g_mutex_unlock(&self->lock);
    emit_pending(self);
    finish_progress(self);
    stopped = stopped || (!error && self->cancel_flag);
    self->running = FALSE;
    g_clear_object(&self->remote_cancel);
    g_signal_emit(self, signals[SIGNAL_FINISHED], 0, stopped, error);
    g_clear_error(&error);
}

/* The request's refusals that need no thread: no model, busy, media without
 * a projector, markers that do not match the media. */
static gboolean check_request(WenshuRunner *self, const WenshuRunRequest *request, GError **error)
{
    if (!self->model && !self->remote) {
        g_set_error_literal(error, WENSHU_RUNNER_ERROR, WENSHU_RUNNER_ERROR_NO_MODEL,
                            "no model is loaded: open a GGUF model first");
        return FALSE;
    }
    if (self->running || self->loading) {
        g_set_error_literal(error, WENSHU_RUNNER_ERROR, WENSHU_RUNNER_ERROR_BUSY,
                            "a reply is already being generated");
        return FALSE;
    }
    if (request->n_media > 0 && !self->remote && !self->mmproj) {
        g_autofree char *name = g_path_get_basename(request->media_paths[0]);
        g_set_error(error, WENSHU_RUNNER_ERROR, WENSHU_RUNNER_ERROR_NO_PROJECTOR,
                    "%s: this model cannot read images or video: open a vision model with its "
                    "mmproj file",
                    name);
        return FALSE;
    }
    if (request->n_media == 0) /* text only: a marker typed by the user is plain text */
        return TRUE;
    int n_marks = count_markers(request->assistant_prefix);
    for (int i = 0; i < request->n_messages; i++)
        n_marks += count_markers(request->messages[i].content);
    if (n_marks != request->n_media) {
        g_set_error(error, WENSHU_RUNNER_ERROR, ENG_STATUS_ERR_ARG,
                    "the messages have %d %s markers for %d images and clips", n_marks,
                    ENG_MEDIA_MARKER, request->n_media);
        return FALSE;
    }
    return TRUE;
}

/* A deep copy of request (but its schema) for the worker. */
static RunJob *run_job_new(const WenshuRunRequest *request)
{
    RunJob *job = g_new0(RunJob, 1);
    job->messages = g_new0(struct eng_chat_message, request->n_messages);
    for (int i = 0; i < request->n_messages; i++) {
        const struct eng_chat_message *m = &request->messages[i];
        job->messages[i].role = g_strdup(m->role);
        job->messages[i].content = g_strdup(m->content ? m->content : "");
    }
    job->n_messages = request->n_messages;
    job->media_paths = g_new0(char *, request->n_media + 1);
    for (int i = 0; i < request->n_media; i++)
        job->media_paths[i] = g_strdup(request->media_paths[i]);
    job->n_media = request->n_media;
    job->assistant_prefix = g_strdup(request->assistant_prefix);
    job->sampler = request->sampler ? *request->sampler : eng_sampler_params_default();
    job->n_predict = request->n_predict;
    job->schema = request->schema;
    return job;
}

gboolean wenshu_runner_start_request(WenshuRunner *self, const WenshuRunRequest *request,
                                     GError **error)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), FALSE);
    g_return_val_if_fail(request != NULL, FALSE);
    g_return_val_if_fail(request->n_messages > 0 && request->messages != NULL, FALSE);
    g_return_val_if_fail(request->n_media >= 0, FALSE);
    g_return_val_if_fail(request->n_media == 0 || request->media_paths != NULL, FALSE);
    for (int i = 0; i < request->n_media; i++)
        g_return_val_if_fail(request->media_paths[i] != NULL, FALSE);
    if (!check_request(self, request, error))
        return FALSE;

    self->running = TRUE;
    self->cancel_flag = 0;
    g_atomic_int_set(&self->n_generated, 0);
    RunJob *job = run_job_new(request);
    if (self->remote) {
        job->remote = wenshu_remote_endpoint_copy(self->remote);
        self->remote_cancel = g_cancellable_new();
        job->remote_cancel = g_object_ref(self->remote_cancel);
    }
    GTask *task = g_task_new(self, NULL, on_run_done, NULL);
    g_task_set_source_tag(task, wenshu_runner_start_request);
    g_task_set_task_data(task, job, run_job_free);
    g_task_run_in_thread(task, run_thread);
    g_object_unref(task);
    return TRUE;
}

gboolean wenshu_runner_start(WenshuRunner *self, const struct eng_chat_message *messages,
                             int n_messages, const struct eng_sampler_params *sampler,
                             int n_predict, const struct eng_schema *schema, GError **error)
{
    WenshuRunRequest request = {.messages = messages,
                                .n_messages = n_messages,
                                .sampler = sampler,
                                .n_predict = n_predict,
                                .schema = schema};
    return wenshu_runner_start_request(self, &request, error);
}

void wenshu_runner_stop(WenshuRunner *self)
{
    g_return_if_fail(WENSHU_IS_RUNNER(self));
    if (!self->running)
        return;
    g_atomic_int_set((volatile gint *)&self->cancel_flag, 1);
    if (self->remote_cancel)
        g_cancellable_cancel(self->remote_cancel); /* also ends a wait for the server */
    emit_pending(self);
}

gboolean wenshu_runner_is_running(WenshuRunner *self)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), FALSE);
    return self->running;
}

int wenshu_runner_get_n_generated(WenshuRunner *self)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), 0);
    return g_atomic_int_get(&self->n_generated);
}

/* ---- facts -------------------------------------------------------------- */

gboolean wenshu_runner_is_loaded(WenshuRunner *self)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), FALSE);
    return self->model != NULL || self->remote != NULL;
}

const struct eng_model_info *wenshu_runner_get_info(WenshuRunner *self)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), NULL);
    if (self->remote)
        return &self->remote_info;
    return self->model ? &self->info : NULL;
}

const char *wenshu_runner_get_device(WenshuRunner *self)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), "");
    if (self->remote)
        return self->remote_device;
    return self->model && self->info.device ? self->info.device : "";
}

const char *wenshu_runner_get_device_notice(WenshuRunner *self)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), "");
    if (self->remote)
        return "";
    return self->model && self->info.device_notice ? self->info.device_notice : "";
}

/* Remote mode's token count: an estimate from the UTF-8 bytes (the server's
 * tokenizer is not here). */
static int estimate_remote_tokens(const struct eng_chat_message *messages, int n_messages)
{
    gsize n_bytes = 0;
    for (int i = 0; i < n_messages; i++)
        n_bytes += messages[i].content ? strlen(messages[i].content) : 0;
    gsize n = (n_bytes + REMOTE_BYTES_PER_TOKEN - 1) / REMOTE_BYTES_PER_TOKEN +
              (gsize)MAX(n_messages, 0) * REMOTE_TOKENS_PER_MESSAGE;
    return (int)MIN(n, (gsize)G_MAXINT);
}

int wenshu_runner_count_tokens(WenshuRunner *self, const struct eng_chat_message *messages,
                               int n_messages)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), -1);
    if (self->remote)
        return estimate_remote_tokens(messages, n_messages);
    if (!self->model || n_messages <= 0)
        return -1;
    int32_t *ids = NULL;
    size_t n = 0;
    struct eng_err err;
    if (render_tokens(self->model, messages, n_messages, &ids, &n, &err) != ENG_STATUS_OK)
        return -1;
    free(ids);
    return (int)MIN(n, (size_t)G_MAXINT);
}

int wenshu_runner_n_ctx(WenshuRunner *self)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), 0);
    if (self->remote)
        return REMOTE_N_CTX;
    return self->model ? self->n_ctx : 0;
}

gboolean wenshu_runner_can_read_media(WenshuRunner *self)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), FALSE);
    if (self->remote)
        return TRUE; /* images; a clip is refused by the run, naming it */
    return self->model && self->mmproj;
}

double wenshu_runner_get_seconds_left(WenshuRunner *self)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), -1.0);
    return self->seconds_left;
}

static void set_remote_facts(WenshuRunner *self, const WenshuRemoteEndpoint *endpoint);

gboolean wenshu_runner_set_remote(WenshuRunner *self, const WenshuRemoteEndpoint *endpoint,
                                  GError **error)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), FALSE);
    if (self->running || self->loading) {
        g_set_error_literal(error, WENSHU_RUNNER_ERROR, WENSHU_RUNNER_ERROR_BUSY,
                            "the model is busy: stop the reply before switching models");
        return FALSE;
    }
    g_autofree char *root = endpoint ? wenshu_remote_api_root(endpoint->base_url, error) : NULL;
    if (endpoint && !root)
        return FALSE;
    wenshu_remote_endpoint_free(&self->remote);
    g_clear_pointer(&self->remote_device, g_free);
    memset(&self->remote_info, 0, sizeof self->remote_info);
    if (endpoint)
        set_remote_facts(self, endpoint);
    /* the pages refresh on the end of a load ("progress" 1.0, ""): the model
     * they talk to changed just as after one */
    ProgressEvent done = {.fraction = 1.0, .what = ""};
    emit_progress(self, &done);
    self->seconds_left = -1.0;
    return TRUE;
}

/* The endpoint and its facts for get_info and get_device. */
static void set_remote_facts(WenshuRunner *self, const WenshuRemoteEndpoint *endpoint)
{
    self->remote = wenshu_remote_endpoint_copy(endpoint);
    g_autofree char *host = wenshu_remote_host(endpoint->base_url);
    self->remote_device = g_strdup_printf("remote: %s", host);
    self->remote_info.arch = "remote";
    self->remote_info.name = self->remote->model;
    self->remote_info.n_ctx_train = REMOTE_N_CTX;
    self->remote_info.device = self->remote_device;
    self->remote_info.device_notice = "";
}

gboolean wenshu_runner_is_remote(WenshuRunner *self)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), FALSE);
    return self->remote != NULL;
}

const WenshuRemoteEndpoint *wenshu_runner_get_remote(WenshuRunner *self)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), NULL);
    return self->remote;
}

char *wenshu_runner_find_mmproj(const char *model_path)
{
    g_return_val_if_fail(model_path != NULL, NULL);
    g_autofree char *dir_path = g_path_get_dirname(model_path);
    g_autofree char *model_name = g_path_get_basename(model_path);
    GDir *dir = g_dir_open(dir_path, 0, NULL);
    if (!dir)
        return NULL;
    char *best = NULL; /* the first match in name order */
    const char *name;
    while ((name = g_dir_read_name(dir))) {
        if (!g_str_has_prefix(name, "mmproj") || !g_str_has_suffix(name, ".gguf") ||
            strcmp(name, model_name) == 0)
            continue;
        if (!best || strcmp(name, best) < 0) {
            g_free(best);
            best = g_strdup(name);
        }
    }
    g_dir_close(dir);
    if (!best)
        return NULL;
    char *path = g_build_filename(dir_path, best, NULL);
    g_free(best);
    return path;
}

/* ---- object ------------------------------------------------------------- */

static void wenshu_runner_finalize(GObject *object)
{
    WenshuRunner *self = WENSHU_RUNNER(object);
    eng_session_free(&self->session);
    encodings_clear(self);
    eng_mmproj_free(&self->mmproj);
    eng_model_free(&self->model);
    g_free(self->cached);
    g_string_free(self->pending, TRUE);
    g_queue_free_full(self->progress_queue, progress_event_free);
    g_free(self->step_what);
    wenshu_remote_endpoint_free(&self->remote);
    g_free(self->remote_device);
    g_mutex_clear(&self->lock);
    g_main_context_unref(self->main_context);
    G_OBJECT_CLASS(wenshu_runner_parent_class)->finalize(object);
}

static void wenshu_runner_class_init(WenshuRunnerClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    object_class->finalize = wenshu_runner_finalize;
    signals[SIGNAL_TOKENS] =
        g_signal_new("tokens", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                     G_TYPE_NONE, 1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
    signals[SIGNAL_PROGRESS] =
        g_signal_new("progress", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                     G_TYPE_NONE, 2, G_TYPE_DOUBLE, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
    signals[SIGNAL_FINISHED] =
        g_signal_new("finished", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                     G_TYPE_NONE, 2, G_TYPE_BOOLEAN, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void wenshu_runner_init(WenshuRunner *self)
{
    self->main_context = g_main_context_ref_thread_default();
    self->pending = g_string_new(NULL);
    self->progress_queue = g_queue_new();
    self->seconds_left = -1.0;
    g_mutex_init(&self->lock);
}

WenshuRunner *wenshu_runner_new(void) { return g_object_new(WENSHU_TYPE_RUNNER, NULL); }
