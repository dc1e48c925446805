/* download.h: fetch one URL into a file with resume, progress, pause and a
 * SHA-256 check, and copy (import) a local file the same careful way.
 *
 * A download writes DEST.part and, beside it, DEST.part.json (the URL, the
 * expected size and SHA-256). A later call with the same expectations
 * resumes from the .part's size with "Range: bytes=N-"; a 206 appends, a
 * 200 (the server ignored Range) starts again from zero. At the end the whole
 * file is hashed; a mismatch deletes it, a match renames DEST.part to DEST
 * atomically. The hash computed is always written to DEST.sha256
 * (sha256sum format), also when the catalogue publishes none.
 *
 * What is kept on failure: a cut connection, a timeout, a write error (full
 * disk, file size limit) and a cancel (= pause) keep DEST.part and its state
 * file, so the next call resumes; a checksum or size mismatch removes both. */
#ifndef WENSHU_MODELS_DOWNLOAD_H
#define WENSHU_MODELS_DOWNLOAD_H

#include <gio/gio.h>

#include "catalog.h"

G_BEGIN_DECLS

typedef struct {
    guint64 done;            /* bytes in DEST.part so far, resumed bytes included */
    guint64 total;           /* expected size, 0 when unknown */
    double bytes_per_second; /* over this session's transfer */
    double seconds_left;     /* < 0 when unknown */
} WenshuDownloadProgress;

/* Called on the downloading thread, at most about ten times a second and
 * once at the end of the transfer. */
typedef void (*WenshuDownloadProgressFn)(const WenshuDownloadProgress *progress, void *user_data);

typedef struct {
    const char *url;                   /* http(s) URL; redirects are followed */
    const char *dest;                  /* final path; DEST.part is written beside it */
    guint64 expected_size;             /* 0: unknown (taken from the server) */
    const char *sha256;                /* expected hex digest, or NULL: none published */
    WenshuDownloadProgressFn progress; /* may be NULL */
    void *user_data;                   /* for progress */
    GCancellable *cancellable;         /* cancel = pause: DEST.part is kept; may be NULL */
    guint timeout_s;                   /* I/O timeout; 0: 30 s */
} WenshuDownloadParams;

WenshuDownloadParams wenshu_download_params_default(void);

typedef struct {
    char sha256[65];      /* the digest computed over the whole file */
    gboolean verified;    /* TRUE only when it matched a published digest */
    guint64 size;         /* final size in bytes */
    guint64 resumed_from; /* bytes kept from an earlier .part (0: fresh start) */
} WenshuDownloadResult;

/* Download params->url to params->dest (blocking). Returns TRUE when DEST is
 * complete: verified against params->sha256, or, with no published digest,
 * complete by size with result->verified FALSE. Errors name the URL or the
 * file and the problem, with the numbers (HTTP status, bytes, free space,
 * expected and actual digests); the domain is WENSHU_MODELS_ERROR, or
 * G_IO_ERROR_CANCELLED on a cancel. result may be NULL.
 * Thread-safety: safe for different dest paths; one call per dest at a time. */
gboolean wenshu_download_file(const WenshuDownloadParams *params, WenshuDownloadResult *result,
                              GError **error);

/* wenshu_download_file() on a worker thread. params' strings and cancellable
 * must stay alive until the callback; progress runs on the worker thread. */
void wenshu_download_file_async(const WenshuDownloadParams *params, GAsyncReadyCallback callback,
                                gpointer user_data);
gboolean wenshu_download_file_finish(GAsyncResult *res, WenshuDownloadResult *result,
                                     GError **error);

/* Copy src to dest through DEST.part, hashing while copying, after checking
 * the free space. With sha256 non-NULL a mismatch removes the copy and fails.
 * result may be NULL. Thread-safety: safe. */
gboolean wenshu_import_file(const char *src, const char *dest, const char *sha256,
                            GCancellable *cancellable, WenshuDownloadResult *result,
                            GError **error);

/* SHA-256 of a whole file into hex[65]. Thread-safety: safe. */
gboolean wenshu_sha256_file(const char *path, char hex[65], GCancellable *cancellable,
                            GError **error);

/* Fail with WENSHU_MODELS_ERROR_SPACE, naming the folder and the numbers,
 * when the file system holding folder has fewer than need_bytes free. */
gboolean wenshu_check_free_space(const char *folder, guint64 need_bytes, GError **error);

/* Write "HEX  NAME\n" to DEST.sha256 (the digest recorded at download or
 * import). */
gboolean wenshu_record_sha256(const char *dest, const char *hex, GError **error);

/* The recorded digest of DEST (from DEST.sha256) into hex[65]; FALSE when
 * there is none. */
gboolean wenshu_recorded_sha256(const char *dest, char hex[65]);

/* ---- models on disk ----------------------------------------------------- */

/* The path of one file of a model: wenshu_model_dir(entry->id)/file->name.
 * Newly allocated (g_free). */
char *wenshu_model_file_path(const WenshuModelEntry *entry, const WenshuModelFile *file);

typedef enum {
    WENSHU_MODEL_ABSENT,    /* nothing on disk */
    WENSHU_MODEL_PARTIAL,   /* some bytes (complete files or .part files), not all */
    WENSHU_MODEL_INSTALLED, /* every file there at its catalogue size */
    WENSHU_MODEL_VERIFIED,  /* installed, and every file's recorded digest (DEST.sha256,
                               written at download or import) equals the published one */
} WenshuModelState;

typedef struct {
    WenshuModelState state;
    guint64 bytes_on_disk; /* complete files plus the .part files kept for a resume */
    guint64 bytes_total;   /* the sum of the catalogue sizes */
    guint n_complete;      /* files present at their size (any size when the entry has none) */
} WenshuModelDiskState;

/* What of a model is on disk, from file sizes and the recorded digests (no
 * file is hashed, so it is cheap enough for a list). Thread-safety: safe. */
void wenshu_model_disk_state(const WenshuModelEntry *entry, WenshuModelDiskState *out);

/* The bytes still to download for the whole model (a usable .part counts as
 * had): what wenshu_check_free_space() should be asked for. */
guint64 wenshu_model_bytes_missing(const WenshuModelEntry *entry);

/* Cancel a paused download for good: remove DEST.part and DEST.part.json.
 * Missing files are no error. Thread-safety: safe, but not while a download
 * of dest runs. */
gboolean wenshu_download_discard(const char *dest, GError **error);

/* Remove a model's folder and the plain files in it. Errors name the folder
 * or the file ("... is not installed (no folder ...)" when there is none).
 * Thread-safety: safe, but not while a download into it runs. */
gboolean wenshu_model_remove(const char *id, GError **error);

/* ---- import --------------------------------------------------------------- */

/* The files an import of path takes: the path itself when it is a file,
 * else the .gguf files of the folder, sorted. Ownership: the caller owns
 * the array (of char *, freed with it). Errors: NULL and a message naming
 * the path (missing, or a folder without a .gguf). Thread-safety: safe. */
GPtrArray *wenshu_import_sources(const char *path, GError **error);

/* Import src as the catalogue file it is: each catalogue file of src's size
 * is tried with its SHA-256 (wenshu_import_file), the first that matches
 * wins. Returns TRUE with *entry and *file set (catalogue-owned) when src
 * was imported into that file's place; TRUE with both NULL when no
 * catalogue file matches (nothing written); FALSE on an error (disk space,
 * write, cancel). result may be NULL. Thread-safety: safe. */
gboolean wenshu_import_catalog_match(const WenshuCatalog *catalog, const char *src,
                                     GCancellable *cancellable, const WenshuModelEntry **entry,
                                     const WenshuModelFile **file, WenshuDownloadResult *result,
                                     GError **error);

/* "m:ss" or "h:mm:ss" for a time left, "--:--" when seconds < 0. */
void wenshu_format_eta(double seconds, char *out, size_t n);

G_END_DECLS

#endif /* WENSHU_MODELS_DOWNLOAD_H */
