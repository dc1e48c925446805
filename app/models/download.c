/* download.c: one file over HTTP(S) with libsoup3 into DEST.part, resumed
 * with Range requests, checked by size and SHA-256 at the end, renamed into
 * place; and the same for a local copy (import). See download.h for what is
 * kept when something fails. */
#include "download.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_BYTES (256 * 1024)          /* one read from the network or a file */
#define PROGRESS_INTERVAL_US (100 * 1000) /* at most ten progress calls a second */
#define DEFAULT_TIMEOUT_S 30

WenshuDownloadParams wenshu_download_params_default(void)
{
    WenshuDownloadParams p = {0};
    p.timeout_s = DEFAULT_TIMEOUT_S;
    return p;
}

/* ---- small file helpers ---------------------------------------------- */

/* Size of a regular file, or -1 when it does not exist. */
static gint64 file_size(const char *path)
{
    GStatBuf st;
    if (g_stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    return (gint64)st.st_size;
}

static char *human_size(guint64 bytes)
{
    return g_format_size_full(bytes, G_FORMAT_SIZE_IEC_UNITS);
}

static gboolean write_all(int fd, const guint8 *buf, gsize n, int *err)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            *err = errno;
            return FALSE;
        }
        buf += w;
        n -= (gsize)w;
    }
    return TRUE;
}

gboolean wenshu_check_free_space(const char *folder, guint64 need_bytes, GError **error)
{
    g_autoptr(GFile) dir = g_file_new_for_path(folder);
    GError *e = NULL;
    g_autoptr(GFileInfo) info =
        g_file_query_filesystem_info(dir, G_FILE_ATTRIBUTE_FILESYSTEM_FREE, NULL, &e);
    if (!info) {
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_SPACE,
                    "%s: cannot tell the free space: %s", folder, e->message);
        g_error_free(e);
        return FALSE;
    }
    guint64 free_bytes = g_file_info_get_attribute_uint64(info, G_FILE_ATTRIBUTE_FILESYSTEM_FREE);
    if (free_bytes >= need_bytes)
        return TRUE;
    g_autofree char *need = human_size(need_bytes);
    g_autofree char *have = human_size(free_bytes);
    g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_SPACE,
                "not enough free space in %s: needs %s (%" G_GUINT64_FORMAT " bytes), "
                "%s (%" G_GUINT64_FORMAT " bytes) free; nothing was written",
                folder, need, need_bytes, have, free_bytes);
    return FALSE;
}

gboolean wenshu_sha256_file(const char *path, char hex[65], GCancellable *cancellable,
                            GError **error)
{
    int fd = g_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        int err = errno;
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_WRITE, "%s: %s", path,
                    g_strerror(err));
        return FALSE;
    }
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    guint8 *buf = g_malloc(CHUNK_BYTES * 4); /* [CHUNK_BYTES * 4] bytes of the file */
    gboolean ok = TRUE;
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK_BYTES * 4);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_WRITE,
                        "%s: cannot read: %s", path, g_strerror(err));
            ok = FALSE;
            break;
        }
        if (n == 0)
            break;
        g_checksum_update(sum, buf, (gssize)n);
        if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
            ok = FALSE;
            break;
        }
    }
    g_free(buf);
    close(fd);
    if (ok)
        g_strlcpy(hex, g_checksum_get_string(sum), 65);
    return ok;
}

gboolean wenshu_record_sha256(const char *dest, const char *hex, GError **error)
{
    g_autofree char *path = g_strconcat(dest, ".sha256", NULL);
    g_autofree char *base = g_path_get_basename(dest);
    g_autofree char *line = g_strdup_printf("%s  %s\n", hex, base);
    return g_file_set_contents(path, line, -1, error);
}

gboolean wenshu_recorded_sha256(const char *dest, char hex[65])
{
    g_autofree char *path = g_strconcat(dest, ".sha256", NULL);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL) || strlen(text) < 64)
        return FALSE;
    for (int i = 0; i < 64; i++)
        if (!g_ascii_isxdigit(text[i]))
            return FALSE;
    memcpy(hex, text, 64);
    hex[64] = '\0';
    return TRUE;
}

/* ---- the state file beside DEST.part ---------------------------------- */

static gboolean write_state(const char *state_path, const WenshuDownloadParams *p, GError **error)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "url");
    json_builder_add_string_value(b, p->url);
    json_builder_set_member_name(b, "size");
    json_builder_add_int_value(b, (gint64)p->expected_size);
    json_builder_set_member_name(b, "sha256");
    if (p->sha256)
        json_builder_add_string_value(b, p->sha256);
    else
        json_builder_add_null_value(b);
    json_builder_end_object(b);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    g_autofree char *text = json_generator_to_data(gen, NULL);
    GError *e = NULL;
    if (!g_file_set_contents(state_path, text, -1, &e)) {
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_WRITE, "%s", e->message);
        g_error_free(e);
        return FALSE;
    }
    return TRUE;
}

/* Whether the state file describes the same download: the same size and
 * digest (any mirror), or with no digest the same URL. */
static gboolean state_matches(const char *state_path, const WenshuDownloadParams *p)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    if (!json_parser_load_from_file(parser, state_path, NULL))
        return FALSE;
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        return FALSE;
    JsonObject *o = json_node_get_object(root);
    const char *url = json_object_get_string_member_with_default(o, "url", "");
    gint64 size = json_object_get_int_member_with_default(o, "size", -1);
    const char *sha = json_object_get_string_member_with_default(o, "sha256", NULL);
    if (size != (gint64)p->expected_size)
        return FALSE;
    if (p->sha256)
        return sha && strcmp(sha, p->sha256) == 0;
    return strcmp(url, p->url) == 0;
}

static void remove_part(const char *part_path, const char *state_path)
{
    g_unlink(part_path);
    g_unlink(state_path);
}

/* ---- the transfer ------------------------------------------------------ */

/* One download in progress: the request's outcome and the counters. */
struct transfer {
    const WenshuDownloadParams *p;
    const char *part_path;
    const char *state_path;
    guint64 offset;       /* bytes already in DEST.part when the request went out */
    guint64 done;         /* bytes in DEST.part now */
    guint64 total;        /* expected final size, 0 when unknown */
    gint64 t_start_us;    /* monotonic time of the first byte asked for */
    gint64 t_progress_us; /* last progress call */
    gboolean restart;     /* the server cannot continue this .part: start again from 0 */
};

static void report_progress(struct transfer *t, gboolean force)
{
    if (!t->p->progress)
        return;
    gint64 now = g_get_monotonic_time();
    if (!force && now - t->t_progress_us < PROGRESS_INTERVAL_US)
        return;
    t->t_progress_us = now;
    double elapsed = (double)(now - t->t_start_us) / 1e6;
    WenshuDownloadProgress pr = {.done = t->done, .total = t->total, .seconds_left = -1};
    if (elapsed > 0.05)
        pr.bytes_per_second = (double)(t->done - t->offset) / elapsed;
    if (pr.bytes_per_second > 0 && t->total >= t->done)
        pr.seconds_left = (double)(t->total - t->done) / pr.bytes_per_second;
    t->p->progress(&pr, t->p->user_data);
}

static gboolean fail_kept(GError **error, struct transfer *t, int code, const char *what)
{
    g_autofree char *done = human_size(t->done);
    g_autofree char *total = t->total ? human_size(t->total) : g_strdup("?");
    g_set_error(error, WENSHU_MODELS_ERROR, code,
                "%s after %s of %s; %s kept, run the same download again to resume", what, done,
                total, t->part_path);
    return FALSE;
}

/* Check the response status; may reset t->offset to 0 when the server
 * ignored Range. */
static gboolean check_status(struct transfer *t, SoupMessage *msg, GError **error)
{
    guint status = soup_message_get_status(msg);
    SoupMessageHeaders *h = soup_message_get_response_headers(msg);
    if (status == SOUP_STATUS_PARTIAL_CONTENT && t->offset > 0) {
        goffset start = -1, end = -1, whole = -1;
        if (!soup_message_headers_get_content_range(h, &start, &end, &whole) ||
            start != (goffset)t->offset) {
            t->restart = TRUE;
            g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_NETWORK,
                        "%s: asked for bytes from %" G_GUINT64_FORMAT
                        " but the server answered another range (%" G_GINT64_FORMAT ")",
                        t->p->url, t->offset, (gint64)start);
            return FALSE;
        }
        return TRUE;
    }
    if (status == SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE && t->offset > 0) {
        t->restart = TRUE; /* the .part is as long as the server's file or longer */
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_HTTP,
                    "HTTP 416 for %s: the server cannot continue from byte %" G_GUINT64_FORMAT,
                    t->p->url, t->offset);
        return FALSE;
    }
    if (status == SOUP_STATUS_OK) {
        t->offset = 0; /* no Range asked, or the server ignored it: start again */
        return TRUE;
    }
    const char *reason = soup_message_get_reason_phrase(msg);
    g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_HTTP, "HTTP %u %s for %s", status,
                reason && *reason ? reason : soup_status_get_phrase(status), t->p->url);
    return FALSE;
}

/* The size the server announces must match the catalogue's. */
static gboolean check_length(struct transfer *t, SoupMessage *msg, GError **error)
{
    goffset length =
        soup_message_headers_get_content_length(soup_message_get_response_headers(msg));
    if (!t->p->expected_size) {
        t->total = length > 0 ? t->offset + (guint64)length : 0;
        return TRUE;
    }
    t->total = t->p->expected_size;
    if (length > 0 && t->offset + (guint64)length != t->total) {
        remove_part(t->part_path, t->state_path);
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_CHECKSUM,
                    "%s: the server offers %" G_GUINT64_FORMAT
                    " bytes, the catalogue expects %" G_GUINT64_FORMAT "; nothing kept",
                    t->p->url, t->offset + (guint64)length, t->total);
        return FALSE;
    }
    return TRUE;
}

/* Read the body into DEST.part (appending after t->offset bytes). */
static gboolean receive_body(struct transfer *t, GInputStream *in, GError **error)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (t->offset ? O_APPEND : O_TRUNC);
    int fd = g_open(t->part_path, flags, 0644);
    if (fd < 0) {
        int err = errno;
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_WRITE, "cannot write %s: %s",
                    t->part_path, g_strerror(err));
        return FALSE;
    }
    t->done = t->offset;
    guint8 *buf = g_malloc(CHUNK_BYTES); /* [CHUNK_BYTES] bytes of the body */
    gboolean ok = TRUE;
    for (;;) {
        GError *e = NULL;
        gssize n = g_input_stream_read(in, buf, CHUNK_BYTES, t->p->cancellable, &e);
        if (n < 0 && g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            g_autofree char *done = human_size(t->done);
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                        "paused: %s kept (%s); run the same download again to resume", t->part_path,
                        done);
            g_error_free(e);
            ok = FALSE;
            break;
        }
        if (n < 0) {
            g_autofree char *what =
                g_strdup_printf("the download of %s broke (%s)", t->p->url, e->message);
            g_error_free(e);
            ok = fail_kept(error, t, WENSHU_MODELS_ERROR_NETWORK, what);
            break;
        }
        if (n == 0) {
            if (t->total && t->done < t->total) {
                g_autofree char *what =
                    g_strdup_printf("the server closed the connection to %s", t->p->url);
                ok = fail_kept(error, t, WENSHU_MODELS_ERROR_NETWORK, what);
            }
            break;
        }
        int err = 0;
        if (!write_all(fd, buf, (gsize)n, &err)) {
            t->done = (guint64)MAX(file_size(t->part_path), 0);
            g_autofree char *what =
                g_strdup_printf("cannot write %s: %s", t->part_path, g_strerror(err));
            ok = fail_kept(error, t, WENSHU_MODELS_ERROR_WRITE, what);
            break;
        }
        t->done += (guint64)n;
        if (t->total && t->done > t->total) {
            remove_part(t->part_path, t->state_path);
            g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_CHECKSUM,
                        "%s: the server sent more than the %" G_GUINT64_FORMAT
                        " bytes expected; nothing kept",
                        t->p->url, t->total);
            ok = FALSE;
            break;
        }
        report_progress(t, FALSE);
    }
    g_free(buf);
    if (fsync(fd) != 0 && ok) {
        int err = errno;
        ok = fail_kept(error, t, WENSHU_MODELS_ERROR_WRITE, g_strerror(err));
    }
    if (close(fd) != 0 && ok) {
        int err = errno;
        g_autofree char *what =
            g_strdup_printf("cannot write %s: %s", t->part_path, g_strerror(err));
        ok = fail_kept(error, t, WENSHU_MODELS_ERROR_WRITE, what);
    }
    if (ok)
        report_progress(t, TRUE);
    return ok;
}

static gboolean fetch(struct transfer *t, GError **error)
{
    const WenshuDownloadParams *p = t->p;
    g_autoptr(SoupSession) session =
        soup_session_new_with_options("timeout", p->timeout_s ? p->timeout_s : DEFAULT_TIMEOUT_S,
                                      "user-agent", "wenshu/" WENSHU_VERSION, NULL);
    g_autoptr(SoupMessage) msg = soup_message_new("GET", p->url);
    if (!msg) {
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_NETWORK, "not a valid URL: %s",
                    p->url);
        return FALSE;
    }
    if (t->offset > 0) {
        g_autofree char *range = g_strdup_printf("bytes=%" G_GUINT64_FORMAT "-", t->offset);
        soup_message_headers_replace(soup_message_get_request_headers(msg), "Range", range);
    }
    t->t_start_us = g_get_monotonic_time();
    GError *e = NULL;
    g_autoptr(GInputStream) in = soup_session_send(session, msg, p->cancellable, &e);
    if (!in) {
        if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_propagate_error(error, e);
        else {
            g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_NETWORK,
                        "cannot download %s: %s", p->url, e->message);
            g_error_free(e);
        }
        return FALSE;
    }
    gboolean ok =
        check_status(t, msg, error) && check_length(t, msg, error) && receive_body(t, in, error);
    g_input_stream_close(in, NULL, NULL);
    return ok;
}

/* The whole of DEST.part is there: check its size and digest, record the
 * digest and rename it into place. */
static gboolean finish(const WenshuDownloadParams *p, const char *part_path, const char *state_path,
                       WenshuDownloadResult *result, GError **error)
{
    gint64 size = file_size(part_path);
    if (size < 0 || (p->expected_size && (guint64)size != p->expected_size)) {
        remove_part(part_path, state_path);
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_CHECKSUM,
                    "%s: size mismatch: expected %" G_GUINT64_FORMAT " bytes, got %" G_GINT64_FORMAT
                    "; the file was removed",
                    p->dest, p->expected_size, size);
        return FALSE;
    }
    char hex[65];
    GError *hash_error = NULL;
    if (!wenshu_sha256_file(part_path, hex, p->cancellable, &hash_error)) {
        if (g_error_matches(hash_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                        "paused while checking: %s kept (complete); run the same download again "
                        "to check it",
                        part_path);
        else
            g_propagate_error(error, g_steal_pointer(&hash_error));
        g_clear_error(&hash_error);
        return FALSE;
    }
    if (p->sha256 && g_ascii_strcasecmp(hex, p->sha256) != 0) {
        remove_part(part_path, state_path);
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_CHECKSUM,
                    "%s: SHA-256 mismatch: expected %s, got %s; the file was removed", p->dest,
                    p->sha256, hex);
        return FALSE;
    }
    if (!wenshu_record_sha256(p->dest, hex, error))
        return FALSE;
    if (g_rename(part_path, p->dest) != 0) {
        int err = errno;
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_WRITE,
                    "cannot rename %s to %s: %s", part_path, p->dest, g_strerror(err));
        return FALSE;
    }
    g_unlink(state_path);
    if (result) {
        g_strlcpy(result->sha256, hex, sizeof result->sha256);
        result->verified = p->sha256 != NULL;
        result->size = (guint64)size;
    }
    return TRUE;
}

static gboolean make_parent(const char *path, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        int err = errno;
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_WRITE,
                    "cannot create the folder %s: %s", dir, g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

gboolean wenshu_download_file(const WenshuDownloadParams *p, WenshuDownloadResult *result,
                              GError **error)
{
    g_return_val_if_fail(p && p->url && p->dest, FALSE);
    if (result)
        memset(result, 0, sizeof *result);
    if (!make_parent(p->dest, error))
        return FALSE;
    g_autofree char *part_path = g_strconcat(p->dest, ".part", NULL);
    g_autofree char *state_path = g_strconcat(p->dest, ".part.json", NULL);
    struct transfer t = {.p = p, .part_path = part_path, .state_path = state_path};
    gint64 have = file_size(part_path);
    if (have > 0 && state_matches(state_path, p) &&
        (!p->expected_size || (guint64)have <= p->expected_size))
        t.offset = (guint64)have;
    else
        remove_part(part_path, state_path); /* another file's or an unknown .part */
    guint64 resumed_from = t.offset;
    if (!p->expected_size || t.offset < p->expected_size) {
        g_autofree char *dir = g_path_get_dirname(p->dest);
        if (p->expected_size && !wenshu_check_free_space(dir, p->expected_size - t.offset, error))
            return FALSE;
        if (!write_state(state_path, p, error))
            return FALSE;
        GError *fetch_error = NULL;
        gboolean fetched = fetch(&t, &fetch_error);
        if (!fetched && t.restart) {
            /* the .part does not fit what the server has now: one fresh try */
            g_clear_error(&fetch_error);
            remove_part(part_path, state_path);
            t.offset = 0;
            t.restart = FALSE;
            fetched = write_state(state_path, p, &fetch_error) && fetch(&t, &fetch_error);
        }
        if (!fetched) {
            g_propagate_error(error, fetch_error);
            return FALSE;
        }
        if (t.offset == 0)
            resumed_from = 0; /* the server ignored Range */
    }
    if (!finish(p, part_path, state_path, result, error))
        return FALSE;
    if (result)
        result->resumed_from = resumed_from;
    return TRUE;
}

/* ---- on a worker thread ------------------------------------------------ */

/* A deep copy of the params for the worker, with the task's result. */
struct download_job {
    WenshuDownloadParams params;
    char *url, *dest, *sha256;
    WenshuDownloadResult result;
};

static void download_job_free(gpointer data)
{
    struct download_job *job = data;
    g_free(job->url);
    g_free(job->dest);
    g_free(job->sha256);
    g_clear_object(&job->params.cancellable);
    g_free(job);
}

static void download_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
    (void)source;
    (void)cancel;
    struct download_job *job = data;
    GError *error = NULL;
    if (wenshu_download_file(&job->params, &job->result, &error))
        g_task_return_boolean(task, TRUE);
    else
        g_task_return_error(task, error);
}

void wenshu_download_file_async(const WenshuDownloadParams *params, GAsyncReadyCallback callback,
                                gpointer user_data)
{
    struct download_job *job = g_new0(struct download_job, 1);
    job->params = *params;
    job->url = g_strdup(params->url);
    job->dest = g_strdup(params->dest);
    job->sha256 = g_strdup(params->sha256);
    job->params.url = job->url;
    job->params.dest = job->dest;
    job->params.sha256 = job->sha256;
    if (params->cancellable)
        g_object_ref(params->cancellable);
    g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
    g_task_set_task_data(task, job, download_job_free);
    g_task_set_return_on_cancel(task, FALSE);
    g_task_run_in_thread(task, download_thread);
}

gboolean wenshu_download_file_finish(GAsyncResult *res, WenshuDownloadResult *result,
                                     GError **error)
{
    GTask *task = G_TASK(res);
    struct download_job *job = g_task_get_task_data(task);
    if (result)
        *result = job->result;
    return g_task_propagate_boolean(task, error);
}

/* ---- import: a local copy -------------------------------------------- */

/* Copy src_fd to DEST.part, hashing on the way. */
static gboolean copy_hashing(int src_fd, const char *src, const char *part_path, char hex[65],
                             GCancellable *cancellable, GError **error)
{
    int fd = g_open(part_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = errno;
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_WRITE, "cannot write %s: %s",
                    part_path, g_strerror(err));
        return FALSE;
    }
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    guint8 *buf = g_malloc(CHUNK_BYTES * 4); /* [CHUNK_BYTES * 4] bytes being copied */
    gboolean ok = TRUE;
    for (;;) {
        ssize_t n = read(src_fd, buf, CHUNK_BYTES * 4);
        if (n < 0 && errno == EINTR)
            continue;
        int err = errno;
        if (n < 0) {
            g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_WRITE,
                        "%s: cannot read: %s", src, g_strerror(err));
            ok = FALSE;
        } else if (n > 0 && !write_all(fd, buf, (gsize)n, &err)) {
            g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_WRITE,
                        "cannot write %s: %s; the partial copy was removed", part_path,
                        g_strerror(err));
            ok = FALSE;
        } else if (n > 0) {
            g_checksum_update(sum, buf, (gssize)n);
            ok = !g_cancellable_set_error_if_cancelled(cancellable, error);
        }
        if (!ok || n == 0)
            break;
    }
    g_free(buf);
    if (ok && (fsync(fd) != 0 || close(fd) != 0)) {
        int err = errno;
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_WRITE, "cannot write %s: %s",
                    part_path, g_strerror(err));
        ok = FALSE;
    } else if (!ok) {
        close(fd);
    }
    if (ok)
        g_strlcpy(hex, g_checksum_get_string(sum), 65);
    return ok;
}

gboolean wenshu_import_file(const char *src, const char *dest, const char *sha256,
                            GCancellable *cancellable, WenshuDownloadResult *result, GError **error)
{
    if (result)
        memset(result, 0, sizeof *result);
    gint64 size = file_size(src);
    if (size < 0) {
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_FORMAT,
                    "%s: not a readable file", src);
        return FALSE;
    }
    if (!make_parent(dest, error))
        return FALSE;
    g_autofree char *dir = g_path_get_dirname(dest);
    if (!wenshu_check_free_space(dir, (guint64)size, error))
        return FALSE;
    int src_fd = g_open(src, O_RDONLY | O_CLOEXEC, 0);
    if (src_fd < 0) {
        int err = errno;
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_FORMAT, "%s: %s", src,
                    g_strerror(err));
        return FALSE;
    }
    g_autofree char *part_path = g_strconcat(dest, ".part", NULL);
    char hex[65];
    gboolean ok = copy_hashing(src_fd, src, part_path, hex, cancellable, error);
    close(src_fd);
    if (ok && sha256 && g_ascii_strcasecmp(hex, sha256) != 0) {
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_CHECKSUM,
                    "%s: SHA-256 mismatch: expected %s, got %s; the copy was removed", src, sha256,
                    hex);
        ok = FALSE;
    }
    ok = ok && wenshu_record_sha256(dest, hex, error);
    if (ok && g_rename(part_path, dest) != 0) {
        int err = errno;
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_WRITE,
                    "cannot rename %s to %s: %s", part_path, dest, g_strerror(err));
        ok = FALSE;
    }
    if (!ok) {
        g_unlink(part_path);
        return FALSE;
    }
    if (result) {
        g_strlcpy(result->sha256, hex, sizeof result->sha256);
        result->verified = sha256 != NULL;
        result->size = (guint64)size;
    }
    return TRUE;
}

/* ---- models on disk ------------------------------------------------------ */

char *wenshu_model_file_path(const WenshuModelEntry *entry, const WenshuModelFile *file)
{
    g_autofree char *dir = wenshu_model_dir(entry->id);
    return g_build_filename(dir, file->name, NULL);
}

/* Whether DEST holds the whole file: its catalogue size, or any size when
 * the entry gives none (a custom model). */
static gboolean file_complete(const WenshuModelFile *f, const char *dest)
{
    gint64 size = file_size(dest);
    return size >= 0 && (f->size == 0 || (guint64)size == f->size);
}

/* Whether the digest recorded beside DEST equals the published one. */
static gboolean file_verified(const WenshuModelFile *f, const char *dest)
{
    char recorded[65];
    return f->sha256 && wenshu_recorded_sha256(dest, recorded) &&
           g_ascii_strcasecmp(recorded, f->sha256) == 0;
}

void wenshu_model_disk_state(const WenshuModelEntry *entry, WenshuModelDiskState *out)
{
    memset(out, 0, sizeof *out);
    guint n_verified = 0;
    for (guint i = 0; i < entry->n_files; i++) {
        const WenshuModelFile *f = &entry->files[i];
        g_autofree char *dest = wenshu_model_file_path(entry, f);
        g_autofree char *part = g_strconcat(dest, ".part", NULL);
        out->bytes_total += f->size;
        if (file_complete(f, dest)) {
            out->n_complete++;
            out->bytes_on_disk += f->size ? f->size : (guint64)file_size(dest);
            n_verified += file_verified(f, dest);
        } else if (file_size(part) > 0) {
            out->bytes_on_disk += (guint64)file_size(part);
        }
    }
    if (out->n_complete == entry->n_files)
        out->state = n_verified == entry->n_files ? WENSHU_MODEL_VERIFIED : WENSHU_MODEL_INSTALLED;
    else if (out->bytes_on_disk > 0)
        out->state = WENSHU_MODEL_PARTIAL;
    else
        out->state = WENSHU_MODEL_ABSENT;
}

guint64 wenshu_model_bytes_missing(const WenshuModelEntry *entry)
{
    guint64 missing = 0;
    for (guint i = 0; i < entry->n_files; i++) {
        const WenshuModelFile *f = &entry->files[i];
        g_autofree char *dest = wenshu_model_file_path(entry, f);
        g_autofree char *part = g_strconcat(dest, ".part", NULL);
        if (file_size(dest) == (gint64)f->size)
            continue;
        gint64 have = file_size(part);
        guint64 kept = have > 0 && (guint64)have <= f->size ? (guint64)have : 0;
        missing += f->size - kept;
    }
    return missing;
}

/* Remove path unless it is already gone. */
static gboolean unlink_if_there(const char *path, GError **error)
{
    if (g_unlink(path) == 0 || errno == ENOENT)
        return TRUE;
    int err = errno;
    g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_WRITE, "cannot remove %s: %s", path,
                g_strerror(err));
    return FALSE;
}

gboolean wenshu_download_discard(const char *dest, GError **error)
{
    g_autofree char *part_path = g_strconcat(dest, ".part", NULL);
    g_autofree char *state_path = g_strconcat(dest, ".part.json", NULL);
    return unlink_if_there(part_path, error) && unlink_if_there(state_path, error);
}

gboolean wenshu_model_remove(const char *id, GError **error)
{
    if (!wenshu_model_id_is_valid(id)) {
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_UNKNOWN,
                    "\"%s\" is not a model name", id);
        return FALSE;
    }
    g_autofree char *dir = wenshu_model_dir(id);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    if (!d) {
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_UNKNOWN,
                    "%s is not installed (no folder %s)", id, dir);
        return FALSE;
    }
    const char *name;
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if (!unlink_if_there(path, error))
            return FALSE;
    }
    if (g_rmdir(dir) != 0) {
        int err = errno;
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_WRITE, "cannot remove %s: %s",
                    dir, g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

/* ---- import: which files, and which catalogue file they are ------------- */

GPtrArray *wenshu_import_sources(const char *path, GError **error)
{
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
        if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_FORMAT,
                        "%s: no such file or folder", path);
            g_ptr_array_unref(files);
            return NULL;
        }
        g_ptr_array_add(files, g_strdup(path));
        return files;
    }
    g_autoptr(GDir) d = g_dir_open(path, 0, error);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *full = g_build_filename(path, name, NULL);
        if (g_str_has_suffix(name, ".gguf") && g_file_test(full, G_FILE_TEST_IS_REGULAR))
            g_ptr_array_add(files, g_steal_pointer(&full));
    }
    g_ptr_array_sort(files, (GCompareFunc)g_strcmp0);
    if (files->len == 0) {
        if (d)
            g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_FORMAT,
                        "%s: the folder holds no .gguf file", path);
        g_ptr_array_unref(files);
        return NULL;
    }
    return files;
}

gboolean wenshu_import_catalog_match(const WenshuCatalog *catalog, const char *src,
                                     GCancellable *cancellable, const WenshuModelEntry **entry,
                                     const WenshuModelFile **file, WenshuDownloadResult *result,
                                     GError **error)
{
    *entry = NULL;
    *file = NULL;
    gint64 size = file_size(src);
    for (guint m = 0; size > 0 && m < catalog->n_models; m++) {
        const WenshuModelEntry *e = &catalog->models[m];
        for (guint i = 0; i < e->n_files; i++) {
            const WenshuModelFile *f = &e->files[i];
            if (f->size != (guint64)size)
                continue;
            g_autofree char *dest = wenshu_model_file_path(e, f);
            GError *import_error = NULL;
            if (wenshu_import_file(src, dest, f->sha256, cancellable, result, &import_error)) {
                *entry = e;
                *file = f;
                return TRUE;
            }
            if (!g_error_matches(import_error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_CHECKSUM)) {
                g_propagate_error(error, import_error);
                return FALSE;
            }
            g_error_free(import_error); /* same size, other bytes: try further */
        }
    }
    return TRUE;
}

void wenshu_format_eta(double seconds, char *out, size_t n)
{
    if (seconds < 0)
        snprintf(out, n, "--:--");
    else if (seconds >= 3600)
        snprintf(out, n, "%d:%02d:%02d", (int)seconds / 3600, ((int)seconds / 60) % 60,
                 (int)seconds % 60);
    else
        snprintf(out, n, "%d:%02d", (int)seconds / 60, (int)seconds % 60);
}
