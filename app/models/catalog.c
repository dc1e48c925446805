/* catalog.c: reads assets/models.json (json-glib) into WenshuCatalog,
 * checks every field the downloader relies on, and answers the small
 * questions around it: where models live, which mirror to use, which model
 * fits this machine. */
#include "catalog.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "wenshu-engine.h"

#define MIB ((guint64)1024 * 1024)
#define MAX_DEVICES 16

G_DEFINE_QUARK(wenshu - models - error - quark, wenshu_models_error)

static gboolean is_sha256_hex(const char *s)
{
    if (strlen(s) != 64)
        return FALSE;
    for (const char *p = s; *p; p++)
        if (!g_ascii_isxdigit(*p) || g_ascii_isupper(*p))
            return FALSE;
    return TRUE;
}

gboolean wenshu_model_id_is_valid(const char *id)
{
    if (!id || !*id || id[0] == '.' || strlen(id) > 128)
        return FALSE;
    for (const char *p = id; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '.' && *p != '-' && *p != '_')
            return FALSE;
    return TRUE;
}

static gboolean fail(GError **error, const char *path, const char *where, const char *problem)
{
    g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_CATALOG, "%s: %s: %s", path, where,
                problem);
    return FALSE;
}

/* A required string member, or NULL after setting error. */
static const char *member_string(JsonObject *o, const char *name, const char *path,
                                 const char *where, GError **error)
{
    JsonNode *n = json_object_get_member(o, name);
    if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING ||
        !*json_node_get_string(n)) {
        char *problem = g_strdup_printf("\"%s\" must be a non-empty string", name);
        fail(error, path, where, problem);
        g_free(problem);
        return NULL;
    }
    return json_node_get_string(n);
}

/* A required positive integer member; 0 after setting error. */
static gint64 member_positive(JsonObject *o, const char *name, const char *path, const char *where,
                              GError **error)
{
    JsonNode *n = json_object_get_member(o, name);
    if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64 ||
        json_node_get_int(n) <= 0) {
        char *problem = g_strdup_printf("\"%s\" must be a positive integer", name);
        fail(error, path, where, problem);
        g_free(problem);
        return 0;
    }
    return json_node_get_int(n);
}

static char *dup_https(JsonObject *sources, const char *name, const char *path, const char *where,
                       GError **error)
{
    const char *url = member_string(sources, name, path, where, error);
    if (!url)
        return NULL;
    /* http:// only for loopback test servers */
    if (!g_str_has_prefix(url, "https://") && !g_str_has_prefix(url, "http://127.0.0.1") &&
        !g_str_has_prefix(url, "http://localhost")) {
        char *problem = g_strdup_printf("source \"%s\" is not an https URL: %s", name, url);
        fail(error, path, where, problem);
        g_free(problem);
        return NULL;
    }
    return g_strdup(url);
}

static gboolean parse_file(JsonObject *o, WenshuModelFile *f, const char *path, const char *where,
                           GError **error)
{
    const char *name = member_string(o, "name", path, where, error);
    if (!name)
        return FALSE;
    if (strchr(name, '/') || name[0] == '.')
        return fail(error, path, where, "a file name may not hold '/' or start with '.'");
    f->name = g_strdup(name);
    const char *role = member_string(o, "role", path, where, error);
    if (!role)
        return FALSE;
    if (strcmp(role, "model") != 0 && strcmp(role, "mmproj") != 0)
        return fail(error, path, where, "\"role\" must be \"model\" or \"mmproj\"");
    f->role = g_strdup(role);
    f->size = (guint64)member_positive(o, "size", path, where, error);
    if (!f->size)
        return FALSE;
    JsonNode *sha = json_object_get_member(o, "sha256");
    if (!sha)
        return fail(error, path, where, "\"sha256\" is missing (use null when none is published)");
    if (!JSON_NODE_HOLDS_NULL(sha)) {
        const char *hex =
            JSON_NODE_HOLDS_VALUE(sha) && json_node_get_value_type(sha) == G_TYPE_STRING
                ? json_node_get_string(sha)
                : "";
        if (!is_sha256_hex(hex))
            return fail(error, path, where, "\"sha256\" must be null or 64 lower-case hex digits");
        f->sha256 = g_strdup(hex);
    }
    JsonNode *sources = json_object_get_member(o, "sources");
    if (!sources || !JSON_NODE_HOLDS_OBJECT(sources))
        return fail(error, path, where, "\"sources\" must be an object");
    JsonObject *so = json_node_get_object(sources);
    f->url_huggingface = dup_https(so, "huggingface", path, where, error);
    if (!f->url_huggingface)
        return FALSE;
    f->url_modelscope = dup_https(so, "modelscope", path, where, error);
    return f->url_modelscope != NULL;
}

static gboolean parse_caps(JsonObject *o, guint *caps, const char *path, const char *where,
                           GError **error)
{
    static const struct {
        const char *name;
        guint bit;
    } names[] = {{"text", WENSHU_CAP_TEXT},
                 {"images", WENSHU_CAP_IMAGES},
                 {"video", WENSHU_CAP_VIDEO},
                 {"reasoning", WENSHU_CAP_REASONING}};
    JsonNode *n = json_object_get_member(o, "capabilities");
    if (!n || !JSON_NODE_HOLDS_ARRAY(n))
        return fail(error, path, where, "\"capabilities\" must be an array");
    JsonArray *a = json_node_get_array(n);
    *caps = 0;
    for (guint i = 0; i < json_array_get_length(a); i++) {
        const char *c = json_array_get_string_element(a, i);
        guint bit = 0;
        for (size_t k = 0; c && k < G_N_ELEMENTS(names); k++)
            if (strcmp(c, names[k].name) == 0)
                bit = names[k].bit;
        if (!bit)
            return fail(error, path, where,
                        "a capability must be \"text\", \"images\", \"video\" or \"reasoning\"");
        *caps |= bit;
    }
    return TRUE;
}

static gboolean parse_entry(JsonObject *o, WenshuModelEntry *e, const char *path, guint index,
                            GError **error)
{
    char where[160];
    snprintf(where, sizeof where, "model %u", index);
    const char *id = member_string(o, "id", path, where, error);
    if (!id)
        return FALSE;
    if (!wenshu_model_id_is_valid(id))
        return fail(error, path, where, "\"id\" may hold only letters, digits, '.', '-', '_'");
    e->id = g_strdup(id);
    snprintf(where, sizeof where, "model \"%s\"", id);
    const char *name = member_string(o, "name", path, where, error);
    const char *license = name ? member_string(o, "license", path, where, error) : NULL;
    if (!license)
        return FALSE;
    e->name = g_strdup(name);
    e->license = g_strdup(license);
    if (!parse_caps(o, &e->caps, path, where, error))
        return FALSE;
    gint64 ram_mb = member_positive(o, "min_ram_mb", path, where, error);
    gint64 vram_mb = ram_mb ? member_positive(o, "min_vram_mb", path, where, error) : 0;
    if (!vram_mb)
        return FALSE;
    e->min_ram_bytes = (guint64)ram_mb * MIB;
    e->min_vram_bytes = (guint64)vram_mb * MIB;
    JsonNode *files = json_object_get_member(o, "files");
    if (!files || !JSON_NODE_HOLDS_ARRAY(files) ||
        json_array_get_length(json_node_get_array(files)) == 0)
        return fail(error, path, where, "\"files\" must be a non-empty array");
    JsonArray *fa = json_node_get_array(files);
    e->n_files = json_array_get_length(fa);
    e->files = g_new0(WenshuModelFile, e->n_files);
    guint n_model_role = 0;
    for (guint i = 0; i < e->n_files; i++) {
        JsonNode *fn = json_array_get_element(fa, i);
        if (!JSON_NODE_HOLDS_OBJECT(fn))
            return fail(error, path, where, "each file must be an object");
        if (!parse_file(json_node_get_object(fn), &e->files[i], path, where, error))
            return FALSE;
        n_model_role += strcmp(e->files[i].role, "model") == 0;
    }
    if (n_model_role != 1)
        return fail(error, path, where, "exactly one file must have the role \"model\"");
    return TRUE;
}

static void entry_clear(WenshuModelEntry *e)
{
    for (guint i = 0; e->files && i < e->n_files; i++) {
        WenshuModelFile *f = &e->files[i];
        g_free(f->name);
        g_free(f->role);
        g_free(f->sha256);
        g_free(f->url_huggingface);
        g_free(f->url_modelscope);
    }
    g_free(e->files);
    g_free(e->id);
    g_free(e->name);
    g_free(e->license);
}

void wenshu_catalog_free(WenshuCatalog **catalog)
{
    if (!catalog || !*catalog)
        return;
    WenshuCatalog *c = *catalog;
    for (guint i = 0; i < c->n_models; i++)
        entry_clear(&c->models[i]);
    g_free(c->models);
    g_free(c->path);
    g_free(c);
    *catalog = NULL;
}

WenshuCatalog *wenshu_catalog_load(const char *path, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    GError *parse_error = NULL;
    if (!json_parser_load_from_file(parser, path, &parse_error)) {
        g_set_error(error, WENSHU_MODELS_ERROR, WENSHU_MODELS_ERROR_CATALOG, "%s: %s", path,
                    parse_error->message);
        g_error_free(parse_error);
        return NULL;
    }
    JsonNode *root = json_parser_get_root(parser);
    JsonNode *models = root && JSON_NODE_HOLDS_OBJECT(root)
                           ? json_object_get_member(json_node_get_object(root), "models")
                           : NULL;
    if (!models || !JSON_NODE_HOLDS_ARRAY(models)) {
        fail(error, path, "top level", "expected an object with a \"models\" array");
        return NULL;
    }
    JsonArray *a = json_node_get_array(models);
    WenshuCatalog *c = g_new0(WenshuCatalog, 1);
    c->path = g_strdup(path);
    c->n_models = json_array_get_length(a);
    c->models = g_new0(WenshuModelEntry, c->n_models);
    for (guint i = 0; i < c->n_models; i++) {
        JsonNode *n = json_array_get_element(a, i);
        gboolean ok = JSON_NODE_HOLDS_OBJECT(n)
                          ? parse_entry(json_node_get_object(n), &c->models[i], path, i, error)
                          : fail(error, path, "models", "each model must be an object");
        for (guint k = 0; ok && k < i; k++)
            if (strcmp(c->models[k].id, c->models[i].id) == 0)
                ok = fail(error, path, c->models[i].id, "the id appears twice");
        if (!ok) {
            wenshu_catalog_free(&c);
            return NULL;
        }
    }
    return c;
}

WenshuCatalog *wenshu_catalog_load_default(GError **error)
{
    const char *env = g_getenv("WENSHU_CATALOG");
    if (env && *env)
        return wenshu_catalog_load(env, error);
    if (g_file_test(WENSHU_CATALOG_INSTALLED, G_FILE_TEST_IS_REGULAR))
        return wenshu_catalog_load(WENSHU_CATALOG_INSTALLED, error);
    return wenshu_catalog_load(WENSHU_CATALOG_SOURCE, error);
}

const WenshuModelEntry *wenshu_catalog_find(const WenshuCatalog *catalog, const char *id)
{
    for (guint i = 0; catalog && id && i < catalog->n_models; i++)
        if (strcmp(catalog->models[i].id, id) == 0)
            return &catalog->models[i];
    return NULL;
}

guint64 wenshu_model_entry_bytes(const WenshuModelEntry *entry)
{
    guint64 total = 0;
    for (guint i = 0; i < entry->n_files; i++)
        total += entry->files[i].size;
    return total;
}

char *wenshu_model_caps_to_string(guint caps)
{
    GString *s = g_string_new(NULL);
    const char *names[] = {"text", "images", "video", "reasoning"};
    for (guint i = 0; i < G_N_ELEMENTS(names); i++)
        if (caps & (1u << i))
            g_string_append_printf(s, "%s%s", s->len ? ", " : "", names[i]);
    return g_string_free(s, FALSE);
}

const char *wenshu_model_file_url(const WenshuModelFile *file, WenshuMirror mirror)
{
    return mirror == WENSHU_MIRROR_MODELSCOPE ? file->url_modelscope : file->url_huggingface;
}

gboolean wenshu_mirror_parse(const char *text, WenshuMirror *mirror)
{
    if (!text)
        return FALSE;
    if (strcmp(text, "huggingface") == 0 || strcmp(text, "hf") == 0)
        *mirror = WENSHU_MIRROR_HUGGINGFACE;
    else if (strcmp(text, "modelscope") == 0 || strcmp(text, "ms") == 0)
        *mirror = WENSHU_MIRROR_MODELSCOPE;
    else
        return FALSE;
    return TRUE;
}

const char *wenshu_mirror_name(WenshuMirror mirror)
{
    return mirror == WENSHU_MIRROR_MODELSCOPE ? "modelscope" : "huggingface";
}

static gboolean is_mainland_zone(const char *tz)
{
    static const char *zones[] = {"Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking",
                                  "Asia/Harbin",   "Asia/Urumqi",    "PRC"};
    if (!tz)
        return FALSE;
    if (tz[0] == ':')
        tz++;
    for (size_t i = 0; i < G_N_ELEMENTS(zones); i++)
        if (g_str_has_suffix(tz, zones[i]))
            return TRUE;
    return FALSE;
}

WenshuMirror wenshu_mirror_default(void)
{
    const char *locale_vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    for (size_t i = 0; i < G_N_ELEMENTS(locale_vars); i++) {
        const char *v = g_getenv(locale_vars[i]);
        if (v && *v) {
            if (g_str_has_prefix(v, "zh_CN"))
                return WENSHU_MIRROR_MODELSCOPE;
            break; /* the first set variable decides the locale */
        }
    }
    const char *tz = g_getenv("TZ");
    if (tz && *tz)
        return is_mainland_zone(tz) ? WENSHU_MIRROR_MODELSCOPE : WENSHU_MIRROR_HUGGINGFACE;
    g_autofree char *zone_file = NULL;
    if (g_file_get_contents("/etc/timezone", &zone_file, NULL, NULL))
        return is_mainland_zone(g_strstrip(zone_file)) ? WENSHU_MIRROR_MODELSCOPE
                                                       : WENSHU_MIRROR_HUGGINGFACE;
    g_autofree char *link = g_file_read_link("/etc/localtime", NULL);
    return is_mainland_zone(link) ? WENSHU_MIRROR_MODELSCOPE : WENSHU_MIRROR_HUGGINGFACE;
}

char *wenshu_models_dir(void)
{
    const char *env = g_getenv("WENSHU_MODELS_DIR");
    if (env && *env)
        return g_strdup(env);
    return g_build_filename(g_get_user_data_dir(), "wenshu", "models", NULL);
}

char *wenshu_model_dir(const char *id)
{
    g_autofree char *root = wenshu_models_dir();
    return g_build_filename(root, id, NULL);
}

static guint64 read_meminfo_total(void)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents("/proc/meminfo", &text, NULL, NULL))
        return 0;
    const char *line = strstr(text, "MemTotal:");
    if (!line)
        return 0;
    guint64 kib = g_ascii_strtoull(line + strlen("MemTotal:"), NULL, 10);
    return kib * 1024;
}

void wenshu_detect_memory(guint64 *ram_bytes, guint64 *vram_bytes)
{
    *ram_bytes = read_meminfo_total();
    *vram_bytes = 0;
    struct eng_device_info devs[MAX_DEVICES];
    struct eng_err err = {{0}};
    int n = eng_devices_list(devs, MAX_DEVICES, &err);
    for (int i = 0; i < n && i < MAX_DEVICES; i++) {
        /* a CPU rasterizer's "device memory" is system RAM: not a GPU */
        if (devs[i].usable && strcmp(devs[i].type, "cpu") != 0 &&
            devs[i].memory_bytes > *vram_bytes)
            *vram_bytes = devs[i].memory_bytes;
    }
}

static const WenshuModelEntry *largest_fitting(const WenshuCatalog *c, guint64 avail,
                                               gboolean by_vram)
{
    const WenshuModelEntry *best = NULL;
    for (guint i = 0; avail && i < c->n_models; i++) {
        const WenshuModelEntry *e = &c->models[i];
        guint64 need = by_vram ? e->min_vram_bytes : e->min_ram_bytes;
        if (need <= avail &&
            (!best || wenshu_model_entry_bytes(e) > wenshu_model_entry_bytes(best)))
            best = e;
    }
    return best;
}

const WenshuModelEntry *wenshu_catalog_recommend(const WenshuCatalog *catalog, guint64 ram_bytes,
                                                 guint64 vram_bytes)
{
    if (!catalog)
        return NULL;
    const WenshuModelEntry *on_gpu = largest_fitting(catalog, vram_bytes, TRUE);
    const WenshuModelEntry *on_cpu = largest_fitting(catalog, ram_bytes, FALSE);
    if (on_gpu && (!on_cpu || wenshu_model_entry_bytes(on_gpu) >= wenshu_model_entry_bytes(on_cpu)))
        return on_gpu;
    return on_cpu;
}
