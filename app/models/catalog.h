/* catalog.h: the model catalogue (assets/models.json, schema in
 * assets/models.md), where downloaded models live on disk, the download
 * mirror and the model recommended for this machine's memory.
 *
 * The catalogue is read once into plain structs; nothing here touches the
 * network. download.h fetches the files, the CLI (app/cli/cmd-models.c) and
 * later the GUI drive both. */
#ifndef WENSHU_MODELS_CATALOG_H
#define WENSHU_MODELS_CATALOG_H

#include <glib.h>

G_BEGIN_DECLS

#define WENSHU_MODELS_ERROR (wenshu_models_error_quark())
GQuark wenshu_models_error_quark(void);

typedef enum {
    WENSHU_MODELS_ERROR_CATALOG,  /* the catalogue file is missing or malformed */
    WENSHU_MODELS_ERROR_UNKNOWN,  /* no such model id */
    WENSHU_MODELS_ERROR_HTTP,     /* the server answered an error status */
    WENSHU_MODELS_ERROR_NETWORK,  /* connection failed, cut or timed out */
    WENSHU_MODELS_ERROR_SPACE,    /* not enough free disk space */
    WENSHU_MODELS_ERROR_WRITE,    /* writing the file failed (ENOSPC, EFBIG, ...) */
    WENSHU_MODELS_ERROR_CHECKSUM, /* SHA-256 or size does not match the catalogue */
    WENSHU_MODELS_ERROR_FORMAT,   /* an imported file is not a readable GGUF */
} WenshuModelsError;

/* What a model can do; a bit set. */
typedef enum {
    WENSHU_CAP_TEXT = 1 << 0,
    WENSHU_CAP_IMAGES = 1 << 1,
    WENSHU_CAP_VIDEO = 1 << 2,
    WENSHU_CAP_REASONING = 1 << 3,
} WenshuModelCaps;

typedef enum {
    WENSHU_MIRROR_HUGGINGFACE,
    WENSHU_MIRROR_MODELSCOPE,
} WenshuMirror;

/* One file of a model. */
typedef struct {
    char *name;            /* file name inside the model's folder */
    char *role;            /* "model" or "mmproj" */
    guint64 size;          /* exact size in bytes */
    char *sha256;          /* 64 lower-case hex digits, or NULL: none published */
    char *url_huggingface; /* https URL */
    char *url_modelscope;  /* https URL */
} WenshuModelFile;

/* One catalogue entry. */
typedef struct {
    char *id;   /* folder name under the models dir, e.g. "qwen2.5-vl-3b" */
    char *name; /* display name */
    char *license;
    guint caps;             /* WenshuModelCaps bits */
    guint64 min_ram_bytes;  /* recommended minimum RAM to run it on the CPU */
    guint64 min_vram_bytes; /* recommended minimum GPU memory to run it on a GPU */
    WenshuModelFile *files; /* [n_files] */
    guint n_files;
} WenshuModelEntry;

typedef struct {
    char *path;               /* the file it was read from */
    WenshuModelEntry *models; /* [n_models], in catalogue order (smallest first) */
    guint n_models;
} WenshuCatalog;

/* Read a catalogue file. Ownership: the caller owns the result; free it with
 * wenshu_catalog_free(). Errors: NULL and a one-line error that names the
 * file and the problem (a missing field, a bad hash, a non-https URL).
 * Thread-safety: safe. */
WenshuCatalog *wenshu_catalog_load(const char *path, GError **error);

/* The catalogue to use: $WENSHU_CATALOG, else the installed one
 * (datadir/wenshu/models.json), else the source tree's assets/models.json.
 * Ownership and errors as wenshu_catalog_load(). Thread-safety: safe. */
WenshuCatalog *wenshu_catalog_load_default(GError **error);

/* Free a catalogue; accepts NULL and sets *catalog to NULL. */
void wenshu_catalog_free(WenshuCatalog **catalog);

/* The entry with this id, or NULL. The catalogue keeps ownership. */
const WenshuModelEntry *wenshu_catalog_find(const WenshuCatalog *catalog, const char *id);

/* The sum of an entry's file sizes. */
guint64 wenshu_model_entry_bytes(const WenshuModelEntry *entry);

/* "text, images, reasoning": a newly allocated string (g_free). */
char *wenshu_model_caps_to_string(guint caps);

/* The URL of a file on a mirror. The catalogue keeps ownership. */
const char *wenshu_model_file_url(const WenshuModelFile *file, WenshuMirror mirror);

/* Parse "huggingface"/"hf" or "modelscope"/"ms". */
gboolean wenshu_mirror_parse(const char *text, WenshuMirror *mirror);
const char *wenshu_mirror_name(WenshuMirror mirror);

/* The default mirror: ModelScope when LANG/LC_ALL/LC_MESSAGES is zh_CN or
 * TZ (or /etc/timezone) is a mainland China zone (Asia/Shanghai, Chongqing,
 * Harbin, Urumqi), else Hugging Face. Thread-safety: safe. */
WenshuMirror wenshu_mirror_default(void);

/* The folder holding all models: $WENSHU_MODELS_DIR, else
 * g_get_user_data_dir()/wenshu/models. Newly allocated (g_free). */
char *wenshu_models_dir(void);

/* The folder of one model: wenshu_models_dir()/id. Newly allocated. */
char *wenshu_model_dir(const char *id);

/* Whether id is usable as a folder name (letters, digits, '.', '-', '_';
 * not starting with '.'). */
gboolean wenshu_model_id_is_valid(const char *id);

/* The machine's memory: RAM (MemTotal of /proc/meminfo) and the largest
 * usable Vulkan device's memory (0 when there is none). Thread-safety: safe. */
void wenshu_detect_memory(guint64 *ram_bytes, guint64 *vram_bytes);

/* The best catalogue model for this memory: the largest (by download size)
 * whose min_vram fits vram_bytes, else the largest whose min_ram fits
 * ram_bytes; among equal sizes the earlier entry. NULL when nothing fits.
 * The catalogue keeps ownership. Thread-safety: safe. */
const WenshuModelEntry *wenshu_catalog_recommend(const WenshuCatalog *catalog, guint64 ram_bytes,
                                                 guint64 vram_bytes);

G_END_DECLS

#endif /* WENSHU_MODELS_CATALOG_H */
