/* cmd-models.c: `wenshu-cli models`: the catalogue and the models on disk.
 * list, pull NAME (resumable, Ctrl+C pauses), verify [NAME], rm NAME,
 * import PATH [--name NAME] (a GGUF file or a folder, e.g. from a USB stick)
 * and path NAME. The work is done by libwenshu-models (app/models); this
 * file parses options and prints.
 *
 * A model imported without a catalogue match is a "custom" model: its folder
 * holds custom.json ({"id", "name", "files": [{"name", "role", "size"}]}). */
#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "cli.h"
#include "cmd-models.h"
#include "download.h"

#define CUSTOM_FILE "custom.json"

struct models_opts {
    const char *catalog_path; /* --catalog, else $WENSHU_CATALOG or the default */
    WenshuMirror mirror;      /* --mirror, else by locale and time zone */
    const char *name;         /* --name (import) */
    const char *positional;   /* NAME or PATH */
    gboolean want_mmproj;     /* path --mmproj */
    gboolean want_dir;        /* path --dir */
    guint timeout_s;          /* pull --timeout: network I/O timeout, 0 = the default */
    gint64 ram_mib, vram_mib; /* recommend --ram/--vram, -1 = detect */
};

static int usage_models(void)
{
    fprintf(stderr,
            "usage: wenshu-cli models list [--catalog FILE]\n"
            "       wenshu-cli models pull NAME [--mirror huggingface|modelscope] [--timeout S]\n"
            "       wenshu-cli models verify [NAME]\n"
            "       wenshu-cli models rm NAME\n"
            "       wenshu-cli models import PATH [--name NAME]\n"
            "       wenshu-cli models path NAME [--mmproj | --dir]\n"
            "       wenshu-cli models recommend [--ram MIB] [--vram MIB]\n"
            "  every command takes --catalog FILE (default $WENSHU_CATALOG or the installed\n"
            "  catalogue); models live in $WENSHU_MODELS_DIR or ~/.local/share/wenshu/models\n");
    return 2;
}

static int fail_error(GError *error)
{
    int rc = cli_fail("%s", error->message);
    g_error_free(error);
    return rc;
}

static char *mib(guint64 bytes) { return g_format_size_full(bytes, G_FORMAT_SIZE_IEC_UNITS); }

/* ---- custom models (custom.json) --------------------------------------- */

/* Read DIR/custom.json as a catalogue-like entry (no URLs, no digests).
 * Returns NULL when the folder holds none. The caller frees it with
 * custom_free(). */
static WenshuModelEntry *custom_load(const char *id)
{
    g_autofree char *dir = wenshu_model_dir(id);
    g_autofree char *path = g_build_filename(dir, CUSTOM_FILE, NULL);
    g_autoptr(JsonParser) parser = json_parser_new();
    if (!json_parser_load_from_file(parser, path, NULL))
        return NULL;
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        return NULL;
    JsonObject *o = json_node_get_object(root);
    JsonArray *files = json_object_get_array_member(o, "files");
    if (!files)
        return NULL;
    WenshuModelEntry *e = g_new0(WenshuModelEntry, 1);
    e->id = g_strdup(id);
    e->name = g_strdup(json_object_get_string_member_with_default(o, "name", id));
    e->license = g_strdup("unknown");
    e->caps = WENSHU_CAP_TEXT;
    e->n_files = json_array_get_length(files);
    e->files = g_new0(WenshuModelFile, e->n_files);
    for (guint i = 0; i < e->n_files; i++) {
        JsonObject *f = json_array_get_object_element(files, i);
        e->files[i].name =
            g_strdup(f ? json_object_get_string_member_with_default(f, "name", "") : "");
        e->files[i].role =
            g_strdup(f ? json_object_get_string_member_with_default(f, "role", "model") : "model");
        e->files[i].size = f ? (guint64)json_object_get_int_member_with_default(f, "size", 0) : 0;
        if (strcmp(e->files[i].role, "mmproj") == 0)
            e->caps |= WENSHU_CAP_IMAGES;
    }
    return e;
}

static void custom_free(WenshuModelEntry *e)
{
    if (!e)
        return;
    for (guint i = 0; i < e->n_files; i++) {
        g_free(e->files[i].name);
        g_free(e->files[i].role);
    }
    g_free(e->files);
    g_free(e->id);
    g_free(e->name);
    g_free(e->license);
    g_free(e);
}

/* Add (or replace) one file in DIR/custom.json. */
static gboolean custom_add_file(const char *id, const char *display_name, const char *file_name,
                                const char *role, guint64 size, GError **error)
{
    WenshuModelEntry *old = custom_load(id);
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "id");
    json_builder_add_string_value(b, id);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, display_name);
    json_builder_set_member_name(b, "files");
    json_builder_begin_array(b);
    for (guint i = 0; old && i < old->n_files; i++) {
        if (strcmp(old->files[i].name, file_name) == 0)
            continue;
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, old->files[i].name);
        json_builder_set_member_name(b, "role");
        json_builder_add_string_value(b, old->files[i].role);
        json_builder_set_member_name(b, "size");
        json_builder_add_int_value(b, (gint64)old->files[i].size);
        json_builder_end_object(b);
    }
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, file_name);
    json_builder_set_member_name(b, "role");
    json_builder_add_string_value(b, role);
    json_builder_set_member_name(b, "size");
    json_builder_add_int_value(b, (gint64)size);
    json_builder_end_object(b);
    json_builder_end_array(b);
    json_builder_end_object(b);
    custom_free(old);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, TRUE);
    g_autofree char *text = json_generator_to_data(gen, NULL);
    g_autofree char *dir = wenshu_model_dir(id);
    g_autofree char *path = g_build_filename(dir, CUSTOM_FILE, NULL);
    return g_file_set_contents(path, text, -1, error);
}

/* The ids of custom models in the models folder, sorted. */
static GPtrArray *custom_ids(const WenshuCatalog *catalog)
{
    GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *root = wenshu_models_dir();
    g_autoptr(GDir) d = g_dir_open(root, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(root, name, CUSTOM_FILE, NULL);
        if (!wenshu_catalog_find(catalog, name) && g_file_test(path, G_FILE_TEST_IS_REGULAR))
            g_ptr_array_add(ids, g_strdup(name));
    }
    g_ptr_array_sort(ids, (GCompareFunc)g_strcmp0);
    return ids;
}

/* A catalogue entry or a custom model; *custom receives what to free. */
static const WenshuModelEntry *find_model(const WenshuCatalog *catalog, const char *id,
                                          WenshuModelEntry **custom)
{
    *custom = NULL;
    const WenshuModelEntry *e = wenshu_catalog_find(catalog, id);
    if (e)
        return e;
    if (!wenshu_model_id_is_valid(id))
        return NULL;
    *custom = custom_load(id);
    return *custom;
}

/* ---- state on disk ------------------------------------------------------ */

static char *file_dest(const WenshuModelEntry *e, const WenshuModelFile *f)
{
    return wenshu_model_file_path(e, f);
}

static gint64 size_of(const char *path)
{
    GStatBuf st;
    return g_stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (gint64)st.st_size : -1;
}

/* "installed", "partial 42%" or "-": newly allocated. */
static char *model_state(const WenshuModelEntry *e)
{
    WenshuModelDiskState st;
    wenshu_model_disk_state(e, &st);
    if (st.state == WENSHU_MODEL_INSTALLED || st.state == WENSHU_MODEL_VERIFIED)
        return g_strdup("installed");
    if (st.state == WENSHU_MODEL_ABSENT)
        return g_strdup("-");
    return g_strdup_printf("partial %.0f%%", st.bytes_total ? 100.0 * (double)st.bytes_on_disk /
                                                                  (double)st.bytes_total
                                                            : 0.0);
}

/* ---- list ------------------------------------------------------------- */

static void print_entry(const WenshuModelEntry *e, gboolean recommended, gboolean custom)
{
    g_autofree char *caps = wenshu_model_caps_to_string(e->caps);
    g_autofree char *size = mib(wenshu_model_entry_bytes(e));
    g_autofree char *state = model_state(e);
    g_autofree char *ram = mib(e->min_ram_bytes);
    g_autofree char *vram = mib(e->min_vram_bytes);
    printf("%s %-30s %-40s %-20s %10s  %-12s", recommended ? "*" : " ", e->id, e->name, caps, size,
           state);
    if (custom)
        printf("  custom\n");
    else
        printf("  RAM %s / VRAM %s  %s\n", ram, vram, e->license);
}

static int models_list(const WenshuCatalog *catalog)
{
    guint64 ram = 0, vram = 0;
    wenshu_detect_memory(&ram, &vram);
    const WenshuModelEntry *rec = wenshu_catalog_recommend(catalog, ram, vram);
    printf("  %-30s %-40s %-20s %10s  %-12s  %s\n", "ID", "NAME", "CAN DO", "DOWNLOAD", "STATE",
           "NEEDS");
    for (guint i = 0; i < catalog->n_models; i++)
        print_entry(&catalog->models[i], &catalog->models[i] == rec, FALSE);
    g_autoptr(GPtrArray) ids = custom_ids(catalog);
    for (guint i = 0; i < ids->len; i++) {
        WenshuModelEntry *c = custom_load(g_ptr_array_index(ids, i));
        if (c)
            print_entry(c, FALSE, TRUE);
        custom_free(c);
    }
    g_autofree char *ram_s = mib(ram);
    g_autofree char *vram_s = mib(vram);
    g_autofree char *dir = wenshu_models_dir();
    printf("\nmemory: RAM %s, GPU %s; * recommended: %s\nmodels folder: %s\n", ram_s,
           vram ? vram_s : "none", rec ? rec->id : "none fits", dir);
    return 0;
}

/* ---- pull ------------------------------------------------------------- */

/* One pull in the main loop: Ctrl+C cancels (pauses) it. */
struct pull_run {
    GMainLoop *loop;
    GCancellable *cancellable;
    const char *file_name;
    gboolean ok;
    GError *error;
    WenshuDownloadResult result;
};

static void on_progress(const WenshuDownloadProgress *p, void *user_data)
{
    const struct pull_run *run = user_data;
    char eta[32];
    wenshu_format_eta(p->seconds_left, eta, sizeof eta);
    double pct = p->total ? 100.0 * (double)p->done / (double)p->total : 0.0;
    fprintf(stderr, "\r%s  %5.1f%%  %7.1f MB/s  %s left   ", run->file_name, pct,
            p->bytes_per_second / 1e6, eta);
    fflush(stderr);
}

static gboolean on_sigint(gpointer data)
{
    struct pull_run *run = data;
    g_cancellable_cancel(run->cancellable);
    return G_SOURCE_CONTINUE;
}

static void on_pulled(GObject *source, GAsyncResult *res, gpointer data)
{
    (void)source;
    struct pull_run *run = data;
    run->ok = wenshu_download_file_finish(res, &run->result, &run->error);
    g_main_loop_quit(run->loop);
}

/* Download one file in a worker thread while the main loop watches SIGINT.
 * Returns 0, 1 on an error, 130 on Ctrl+C. */
static int pull_file(const WenshuModelEntry *e, const WenshuModelFile *f, WenshuMirror mirror,
                     guint timeout_s)
{
    g_autofree char *dest = file_dest(e, f);
    if (size_of(dest) == (gint64)f->size) {
        printf("%s: already there (%s)\n", f->name, dest);
        return 0;
    }
    struct pull_run run = {.loop = g_main_loop_new(NULL, FALSE),
                           .cancellable = g_cancellable_new(),
                           .file_name = f->name};
    WenshuDownloadParams p = wenshu_download_params_default();
    p.url = wenshu_model_file_url(f, mirror);
    p.dest = dest;
    p.expected_size = f->size;
    p.sha256 = f->sha256;
    p.progress = on_progress;
    p.user_data = &run;
    p.cancellable = run.cancellable;
    if (timeout_s)
        p.timeout_s = timeout_s;
    guint sig = g_unix_signal_add(SIGINT, on_sigint, &run);
    wenshu_download_file_async(&p, on_pulled, &run);
    g_main_loop_run(run.loop);
    g_source_remove(sig);
    fputc('\n', stderr);
    gboolean cancelled = g_error_matches(run.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    int rc = 0;
    if (!run.ok) {
        rc = cancelled ? 130 : 1;
        cli_fail("%s", run.error->message);
        g_error_free(run.error);
    } else if (run.result.verified) {
        printf("%s: verified (sha256 %s)%s\n", f->name, run.result.sha256,
               run.result.resumed_from ? ", resumed" : "");
    } else {
        printf("%s: downloaded, not verified: no published checksum; recorded sha256 %s\n", f->name,
               run.result.sha256);
    }
    g_main_loop_unref(run.loop);
    g_object_unref(run.cancellable);
    return rc;
}

static int models_pull(const WenshuCatalog *catalog, const struct models_opts *o)
{
    const WenshuModelEntry *e = wenshu_catalog_find(catalog, o->positional);
    if (!e)
        return cli_fail("models pull: no model \"%s\" in the catalogue %s (see `wenshu-cli "
                        "models list`)",
                        o->positional, catalog->path);
    g_autofree char *root = wenshu_models_dir();
    if (g_mkdir_with_parents(root, 0755) != 0)
        return cli_fail("cannot create the models folder %s: %s", root, g_strerror(errno));
    GError *error = NULL;
    if (!wenshu_check_free_space(root, wenshu_model_bytes_missing(e), &error))
        return fail_error(error);
    fprintf(stderr, "pulling %s from %s\n", e->id, wenshu_mirror_name(o->mirror));
    for (guint i = 0; i < e->n_files; i++) {
        int rc = pull_file(e, &e->files[i], o->mirror, o->timeout_s);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- verify ----------------------------------------------------------- */

/* Re-hash one installed file; returns FALSE on a mismatch or a missing file. */
static gboolean verify_file(const WenshuModelEntry *e, const WenshuModelFile *f)
{
    g_autofree char *dest = file_dest(e, f);
    if (size_of(dest) < 0) {
        printf("%s/%s: missing\n", e->id, f->name);
        return FALSE;
    }
    char hex[65], recorded[65];
    GError *error = NULL;
    if (!wenshu_sha256_file(dest, hex, NULL, &error)) {
        printf("%s/%s: %s\n", e->id, f->name, error->message);
        g_error_free(error);
        return FALSE;
    }
    gboolean have_recorded = wenshu_recorded_sha256(dest, recorded);
    if (f->sha256) {
        gboolean ok = g_ascii_strcasecmp(hex, f->sha256) == 0 &&
                      (f->size == 0 || size_of(dest) == (gint64)f->size);
        if (ok)
            printf("%s/%s: OK (sha256 %s)\n", e->id, f->name, hex);
        else
            printf("%s/%s: MISMATCH: expected sha256 %s, got %s\n", e->id, f->name, f->sha256, hex);
        return ok;
    }
    if (!have_recorded) {
        printf("%s/%s: no published checksum and none recorded; sha256 %s\n", e->id, f->name, hex);
        return TRUE;
    }
    gboolean same = strcmp(hex, recorded) == 0;
    printf("%s/%s: no published checksum; sha256 %s %s\n", e->id, f->name, hex,
           same ? "matches the one recorded at download/import"
                : "DIFFERS from the one recorded at download/import");
    if (!same)
        printf("%s/%s: MODIFIED: recorded %s, got %s\n", e->id, f->name, recorded, hex);
    return same;
}

static gboolean is_installed_somewhat(const WenshuModelEntry *e)
{
    for (guint i = 0; i < e->n_files; i++) {
        g_autofree char *dest = file_dest(e, &e->files[i]);
        if (size_of(dest) >= 0)
            return TRUE;
    }
    return FALSE;
}

static int models_verify(const WenshuCatalog *catalog, const struct models_opts *o)
{
    gboolean all_ok = TRUE;
    guint n_checked = 0;
    if (o->positional) {
        WenshuModelEntry *custom = NULL;
        const WenshuModelEntry *e = find_model(catalog, o->positional, &custom);
        if (!e)
            return cli_fail("models verify: no model \"%s\" in the catalogue or the models "
                            "folder",
                            o->positional);
        for (guint i = 0; i < e->n_files; i++)
            all_ok = verify_file(e, &e->files[i]) && all_ok;
        custom_free(custom);
        return all_ok ? 0 : 1;
    }
    for (guint m = 0; m < catalog->n_models; m++) {
        const WenshuModelEntry *e = &catalog->models[m];
        if (!is_installed_somewhat(e))
            continue;
        n_checked++;
        for (guint i = 0; i < e->n_files; i++)
            all_ok = verify_file(e, &e->files[i]) && all_ok;
    }
    g_autoptr(GPtrArray) ids = custom_ids(catalog);
    for (guint k = 0; k < ids->len; k++) {
        WenshuModelEntry *c = custom_load(g_ptr_array_index(ids, k));
        for (guint i = 0; c && i < c->n_files; i++)
            all_ok = verify_file(c, &c->files[i]) && all_ok;
        n_checked += c != NULL;
        custom_free(c);
    }
    if (n_checked == 0)
        printf("no models installed\n");
    return all_ok ? 0 : 1;
}

/* ---- rm and path ---------------------------------------------------- */

static int models_rm(const struct models_opts *o)
{
    GError *error = NULL;
    if (!wenshu_model_remove(o->positional, &error)) {
        int rc = cli_fail("models rm: %s", error->message);
        g_error_free(error);
        return rc;
    }
    g_autofree char *dir = wenshu_model_dir(o->positional);
    printf("removed %s\n", dir);
    return 0;
}

static int models_path(const WenshuCatalog *catalog, const struct models_opts *o)
{
    WenshuModelEntry *custom = NULL;
    const WenshuModelEntry *e = find_model(catalog, o->positional, &custom);
    if (!e)
        return cli_fail("models path: no model \"%s\" in the catalogue or the models folder",
                        o->positional);
    int rc = 1;
    if (o->want_dir) {
        g_autofree char *dir = wenshu_model_dir(e->id);
        printf("%s\n", dir);
        rc = 0;
    }
    for (guint i = 0; rc && i < e->n_files; i++) {
        const char *want = o->want_mmproj ? "mmproj" : "model";
        g_autofree char *dest = file_dest(e, &e->files[i]);
        if (strcmp(e->files[i].role, want) != 0)
            continue;
        if (size_of(dest) < 0)
            break;
        printf("%s\n", dest);
        rc = 0;
    }
    if (rc)
        cli_fail("models path: %s has no installed %s file (run `wenshu-cli models pull %s`)",
                 e->id, o->want_mmproj ? "mmproj" : "model", e->id);
    custom_free(custom);
    return rc;
}

/* ---- import ---------------------------------------------------------- */

/* Import src as the catalogue file it matches; 1 imported, 0 no match, -1 error. */
static int import_from_catalog(const WenshuCatalog *catalog, const char *src)
{
    const WenshuModelEntry *e = NULL;
    const WenshuModelFile *f = NULL;
    WenshuDownloadResult r;
    GError *error = NULL;
    if (!wenshu_import_catalog_match(catalog, src, NULL, &e, &f, &r, &error)) {
        cli_fail("%s", error->message);
        g_error_free(error);
        return -1;
    }
    if (!e)
        return 0;
    g_autofree char *dest = file_dest(e, f);
    if (r.verified)
        printf("%s -> %s: verified against the catalogue (%s, sha256 %s)\n", src, dest, e->id,
               r.sha256);
    else
        printf("%s -> %s: matches %s/%s by size; no published checksum, recorded sha256 %s\n", src,
               dest, e->id, f->name, r.sha256);
    return 1;
}

static gboolean is_readable_gguf(const char *path, GError **error)
{
    FILE *sink = fopen("/dev/null", "w");
    struct eng_err err = {{0}};
    enum eng_status st = eng_inspect_file(path, sink ? sink : stderr, &err);
    if (sink)
        fclose(sink);
    if (st != ENG_STATUS_OK) {
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_FORMAT,
                    "%s: not a readable GGUF model: %s", path, err.msg);
        return FALSE;
    }
    return TRUE;
}

static int import_custom(const WenshuCatalog *catalog, const char *src, const char *id)
{
    GError *error = NULL;
    if (!is_readable_gguf(src, &error))
        return fail_error(error);
    if (wenshu_catalog_find(catalog, id))
        return cli_fail("models import: %s matches no file of the catalogue model \"%s\"; "
                        "choose another --name",
                        src, id);
    g_autofree char *base = g_path_get_basename(src);
    const char *role = strstr(base, "mmproj") ? "mmproj" : "model";
    g_autofree char *dir = wenshu_model_dir(id);
    g_autofree char *dest = g_build_filename(dir, base, NULL);
    WenshuDownloadResult r;
    if (!wenshu_import_file(src, dest, NULL, NULL, &r, &error) ||
        !custom_add_file(id, id, base, role, r.size, &error))
        return fail_error(error);
    printf("%s -> %s: custom model %s (readable GGUF, sha256 %s)\n", src, dest, id, r.sha256);
    return 0;
}

/* The custom model id for an import: --name, else the folder's or file's
 * name without .gguf. */
static char *import_id(const char *path, const char *name)
{
    if (name)
        return g_strdup(name);
    g_autofree char *clean = g_canonicalize_filename(path, NULL);
    char *base = g_path_get_basename(clean);
    if (g_str_has_suffix(base, ".gguf"))
        base[strlen(base) - strlen(".gguf")] = '\0';
    return base;
}

static int models_import(const WenshuCatalog *catalog, const struct models_opts *o)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) files = wenshu_import_sources(o->positional, &error);
    if (!files)
        return fail_error(error);
    g_autofree char *id = import_id(o->positional, o->name);
    if (!wenshu_model_id_is_valid(id))
        return cli_fail("models import: \"%s\" is not a usable model name (letters, digits, "
                        "'.', '-', '_'); pass --name",
                        id);
    for (guint i = 0; i < files->len; i++) {
        const char *src = g_ptr_array_index(files, i);
        int got = import_from_catalog(catalog, src);
        if (got < 0)
            return 1;
        if (got == 0 && import_custom(catalog, src, id) != 0)
            return 1;
    }
    return 0;
}

/* ---- recommend ------------------------------------------------------- */

/* The catalogue's pick for this machine, or for --ram/--vram (MiB) when
 * given: prints the id, or says that nothing fits (exit 1). */
static int models_recommend(const WenshuCatalog *catalog, const struct models_opts *o)
{
    guint64 ram = 0, vram = 0;
    if (o->ram_mib < 0 || o->vram_mib < 0)
        wenshu_detect_memory(&ram, &vram);
    if (o->ram_mib >= 0)
        ram = (guint64)o->ram_mib * 1024 * 1024;
    if (o->vram_mib >= 0)
        vram = (guint64)o->vram_mib * 1024 * 1024;
    const WenshuModelEntry *rec = wenshu_catalog_recommend(catalog, ram, vram);
    g_autofree char *ram_s = mib(ram);
    g_autofree char *vram_s = mib(vram);
    if (!rec)
        return cli_fail("models recommend: no catalogue model fits RAM %s and GPU memory %s", ram_s,
                        vram_s);
    printf("%s\n", rec->id);
    fprintf(stderr, "for RAM %s and GPU memory %s: %s (%s)\n", ram_s, vram_s, rec->name,
            vram >= rec->min_vram_bytes ? "on the GPU" : "on the CPU");
    return 0;
}

/* ---- options and dispatch ----------------------------------------------- */

static gboolean parse_opts(int argc, char **argv, struct models_opts *o)
{
    o->mirror = wenshu_mirror_default();
    o->ram_mib = o->vram_mib = -1;
    for (int i = 2; i < argc; i++) {
        const char *v = NULL;
        bool missing = false;
        if (cli_opt(argc, argv, &i, NULL, "--catalog", &v, &missing)) {
            if (missing)
                return FALSE;
            o->catalog_path = v;
        } else if (cli_opt(argc, argv, &i, NULL, "--mirror", &v, &missing)) {
            if (missing)
                return FALSE;
            if (!wenshu_mirror_parse(v, &o->mirror)) {
                cli_fail("--mirror: \"%s\" is neither huggingface nor modelscope", v);
                return FALSE;
            }
        } else if (cli_opt(argc, argv, &i, NULL, "--name", &v, &missing)) {
            if (missing)
                return FALSE;
            o->name = v;
        } else if (cli_opt(argc, argv, &i, NULL, "--timeout", &v, &missing) ||
                   cli_opt(argc, argv, &i, NULL, "--ram", &v, &missing) ||
                   cli_opt(argc, argv, &i, NULL, "--vram", &v, &missing)) {
            int n = 0;
            if (missing)
                return FALSE;
            if (!cli_parse_int(v, &n) || n < 0) {
                cli_fail("%s: \"%s\" is not a whole number >= 0", argv[i - 1], v);
                return FALSE;
            }
            if (strcmp(argv[i - 1], "--timeout") == 0)
                o->timeout_s = (guint)n;
            else if (strcmp(argv[i - 1], "--ram") == 0)
                o->ram_mib = n;
            else
                o->vram_mib = n;
        } else if (strcmp(argv[i], "--mmproj") == 0) {
            o->want_mmproj = TRUE;
        } else if (strcmp(argv[i], "--dir") == 0) {
            o->want_dir = TRUE;
        } else if (argv[i][0] == '-' || o->positional) {
            cli_fail("models %s: unexpected argument %s", argv[1], argv[i]);
            return FALSE;
        } else {
            o->positional = argv[i];
        }
    }
    return TRUE;
}

int cmd_models(int argc, char **argv)
{
    if (argc < 2)
        return usage_models();
    const char *sub = argv[1];
    struct models_opts o = {0};
    if (!parse_opts(argc, argv, &o))
        return 2;
    gboolean needs_name = strcmp(sub, "pull") == 0 || strcmp(sub, "rm") == 0 ||
                          strcmp(sub, "import") == 0 || strcmp(sub, "path") == 0;
    if (needs_name && !o.positional)
        return usage_models();
    if (strcmp(sub, "rm") == 0)
        return models_rm(&o);
    GError *error = NULL;
    WenshuCatalog *catalog = o.catalog_path ? wenshu_catalog_load(o.catalog_path, &error)
                                            : wenshu_catalog_load_default(&error);
    if (!catalog)
        return fail_error(error);
    int rc;
    if (strcmp(sub, "list") == 0)
        rc = models_list(catalog);
    else if (strcmp(sub, "pull") == 0)
        rc = models_pull(catalog, &o);
    else if (strcmp(sub, "verify") == 0)
        rc = models_verify(catalog, &o);
    else if (strcmp(sub, "import") == 0)
        rc = models_import(catalog, &o);
    else if (strcmp(sub, "path") == 0)
        rc = models_path(catalog, &o);
    else if (strcmp(sub, "recommend") == 0)
        rc = models_recommend(catalog, &o);
    else
        rc = usage_models();
    wenshu_catalog_free(&catalog);
    return rc;
}
