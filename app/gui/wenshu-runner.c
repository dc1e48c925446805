/* wenshu-runner.c: the engine behind the GUI. A load and each generation run
 * in a GTask thread; the worker appends streamed text to a mutex-guarded
 * buffer and schedules at most one flush on the main context about 16 ms
 * later, which emits "tokens". The worker never touches a widget, and the
 * main thread calls the engine only to count tokens (tokenizing is fast and
 * thread-safe on a loaded model). Engine errors become GErrors here.
 */
#include "wenshu-runner.h"

#include <string.h>

#define FLUSH_INTERVAL_MS 16 /* one "tokens" emission per frame at most */
#define DEFAULT_N_CTX 4096

struct _WenshuRunner {
    GObject parent_instance;

    GMainContext *main_context;  /* where the signals are emitted (owned ref) */
    struct eng_model *model;     /* owned; NULL before a load */
    struct eng_mmproj *mmproj;   /* owned; NULL without a projector */
    struct eng_session *session; /* owned; used by the worker during a run */
    struct eng_model_info info;  /* facts of model (strings owned by it) */
    int n_ctx;

    /* Token ids mirrored in the session's KV cache, so the next run can keep
     * the common prefix: [n_cached]. Owned; touched only by the worker
     * while a run is going, and by the main thread otherwise. */
    int32_t *cached;
    size_t n_cached;

    gboolean loading;
    gboolean running;
    volatile int cancel_flag; /* the engine polls it between tokens */
    gint n_generated;         /* tokens of the current run (atomic) */

    GMutex lock;           /* guards pending and flush_source */
    GString *pending;      /* text streamed since the last "tokens" emission */
    GSource *flush_source; /* the one scheduled flush, or NULL */
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

/* Worker thread: the engine's token callback. Buffers the text and makes
 * sure one flush is scheduled. Returns false (stop) once stop was asked, so
 * nothing generated after the request reaches the view. */
static bool on_engine_token(int32_t token, const char *text, size_t len, void *user_data)
{
    (void)token;
    WenshuRunner *self = user_data;
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

/* Worker thread: load the model, the projector and a session. */
static void load_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancel)
{
    (void)source;
    (void)cancel;
    LoadJob *job = task_data;
    struct eng_err err = {{0}};
    struct eng_model_params mp = eng_model_params_default();
    mp.path = job->model_path;
    mp.n_threads = job->n_threads;
    mp.device = job->device;
    enum eng_status st = eng_model_load(&mp, &job->model, &err);
    if (st == ENG_STATUS_OK && job->mmproj_path) {
        struct eng_mmproj_params pp = eng_mmproj_params_default();
        pp.path = job->mmproj_path;
        pp.n_threads = job->n_threads;
        pp.device = job->device;
        st = eng_mmproj_load(&pp, &job->mmproj, &err);
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
 * caller's task. */
static void on_load_thread_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    WenshuRunner *self = WENSHU_RUNNER(source);
    GTask *outer = user_data;
    LoadJob *job = g_task_get_task_data(G_TASK(result));
    GError *error = NULL;
    self->loading = FALSE;
    if (!g_task_propagate_boolean(G_TASK(result), &error)) {
        g_signal_emit(self, signals[SIGNAL_PROGRESS], 0, 1.0, "");
        g_task_return_error(outer, error);
        g_object_unref(outer);
        return;
    }
    /* the old session must go before its model */
    eng_session_free(&self->session);
    eng_mmproj_free(&self->mmproj);
    eng_model_free(&self->model);
    g_clear_pointer(&self->cached, g_free);
    self->n_cached = 0;
    self->model = g_steal_pointer(&job->model);
    self->mmproj = g_steal_pointer(&job->mmproj);
    self->session = g_steal_pointer(&job->session);
    eng_model_get_info(self->model, &self->info);
    self->n_ctx = eng_session_n_ctx(self->session);
    g_signal_emit(self, signals[SIGNAL_PROGRESS], 0, 1.0, "");
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
    g_signal_emit(self, signals[SIGNAL_PROGRESS], 0, 0.0, "loading the model");
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

/* A run's inputs: deep copies of the caller's messages. */
typedef struct {
    struct eng_chat_message *messages; /* [n_messages]; role and content owned */
    int n_messages;
    struct eng_sampler_params sampler;
    int n_predict;
    const struct eng_schema *schema; /* the caller's, alive until "finished" */
} RunJob;

static void run_job_free(gpointer data)
{
    RunJob *job = data;
    for (int i = 0; i < job->n_messages; i++) {
        g_free((char *)job->messages[i].role);
        g_free((char *)job->messages[i].content);
    }
    g_free(job->messages);
    g_free(job);
}

/* Render messages with the model's template and tokenize. Returns the
 * status; *ids (malloc'd, caller frees) and *n on success. */
static enum eng_status render_tokens(const struct eng_model *model,
                                     const struct eng_chat_message *messages, int n_messages,
                                     int32_t **ids, size_t *n, struct eng_err *err)
{
    struct eng_chat_params cp = eng_chat_params_default();
    cp.add_generation_prompt = true;
    char *prompt = NULL;
    enum eng_status st = eng_chat_render(model, messages, (size_t)n_messages, &cp, &prompt, err);
    if (st != ENG_STATUS_OK)
        return st;
    st = eng_tokenize(model, prompt, strlen(prompt), true, ids, n, err);
    free(prompt);
    return st;
}

/* Worker thread: evaluate the prompt after the cached prefix and stream the
 * reply; then mirror the KV cache in self->cached. */
static void run_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancel)
{
    (void)cancel;
    WenshuRunner *self = source;
    RunJob *job = task_data;
    struct eng_err err = {{0}};
    int32_t *ids = NULL; /* the rendered prompt's tokens: [n] */
    size_t n = 0;
    enum eng_status st = render_tokens(self->model, job->messages, job->n_messages, &ids, &n, &err);
    if (st != ENG_STATUS_OK) {
        g_task_return_error(task, engine_error(st, &err));
        return;
    }
    /* keep the common prefix, but evaluate at least the last prompt token */
    size_t keep = 0;
    while (keep + 1 < n && keep < self->n_cached && ids[keep] == self->cached[keep])
        keep++;
    eng_session_truncate(self->session, (int)keep);

    struct eng_generate_params gp = eng_generate_params_default();
    gp.n_predict = job->n_predict;
    gp.sampler = job->sampler;
    gp.on_token = on_engine_token;
    gp.user_data = self;
    gp.cancel = &self->cancel_flag;
    gp.schema = job->schema;
    int32_t *gen = NULL; /* generated ids: [n_gen] */
    size_t n_gen = 0;
    st = eng_session_generate(self->session, ids + keep, n - keep, &gp, &gen, &n_gen, &err);

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

    if (st == ENG_STATUS_OK || st == ENG_STATUS_CANCELLED)
        g_task_return_boolean(task, st == ENG_STATUS_CANCELLED);
    else
        g_task_return_error(task, engine_error(st, &err));
}

/* Main thread: deliver the last text, then "finished". */
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
    stopped = stopped || (!error && self->cancel_flag);
    self->running = FALSE;
    g_signal_emit(self, signals[SIGNAL_FINISHED], 0, stopped, error);
    g_clear_error(&error);
}

gboolean wenshu_runner_start(WenshuRunner *self, const struct eng_chat_message *messages,
                             int n_messages, const struct eng_sampler_params *sampler,
                             int n_predict, const struct eng_schema *schema, GError **error)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), FALSE);
    g_return_val_if_fail(n_messages > 0 && messages != NULL, FALSE);
    if (!self->model) {
        g_set_error_literal(error, WENSHU_RUNNER_ERROR, WENSHU_RUNNER_ERROR_NO_MODEL,
                            "no model is loaded: open a GGUF model first");
        return FALSE;
    }
    if (self->running || self->loading) {
        g_set_error_literal(error, WENSHU_RUNNER_ERROR, WENSHU_RUNNER_ERROR_BUSY,
                            "a reply is already being generated");
        return FALSE;
    }
    RunJob *job = g_new0(RunJob, 1);
    job->messages = g_new0(struct eng_chat_message, n_messages);
    for (int i = 0; i < n_messages; i++) {
        job->messages[i].role = g_strdup(messages[i].role);
        job->messages[i].content = g_strdup(messages[i].content ? messages[i].content : "");
    }
    job->n_messages = n_messages;
    job->sampler = sampler ? *sampler : eng_sampler_params_default();
    job->n_predict = n_predict;
    job->schema = schema;

    self->running = TRUE;
    self->cancel_flag = 0;
    g_atomic_int_set(&self->n_generated, 0);
    GTask *task = g_task_new(self, NULL, on_run_done, NULL);
    g_task_set_source_tag(task, wenshu_runner_start);
    g_task_set_task_data(task, job, run_job_free);
    g_task_run_in_thread(task, run_thread);
    g_object_unref(task);
    return TRUE;
}

void wenshu_runner_stop(WenshuRunner *self)
{
    g_return_if_fail(WENSHU_IS_RUNNER(self));
    if (!self->running)
        return;
    g_atomic_int_set((volatile gint *)&self->cancel_flag, 1);
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
    return self->model != NULL;
}

const struct eng_model_info *wenshu_runner_get_info(WenshuRunner *self)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), NULL);
    return self->model ? &self->info : NULL;
}

const char *wenshu_runner_get_device(WenshuRunner *self)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), "");
    return self->model && self->info.device ? self->info.device : "";
}

const char *wenshu_runner_get_device_notice(WenshuRunner *self)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), "");
    return self->model && self->info.device_notice ? self->info.device_notice : "";
}

int wenshu_runner_count_tokens(WenshuRunner *self, const struct eng_chat_message *messages,
                               int n_messages)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(self), -1);
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
    return self->model ? self->n_ctx : 0;
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
    eng_mmproj_free(&self->mmproj);
    eng_model_free(&self->model);
    g_free(self->cached);
    g_string_free(self->pending, TRUE);
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
    g_mutex_init(&self->lock);
}

WenshuRunner *wenshu_runner_new(void) { return g_object_new(WENSHU_TYPE_RUNNER, NULL); }
