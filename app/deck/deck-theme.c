/* deck-theme.c: the deck themes, assets/themes/<name>.json (deck.h).
 *
 * A theme gives the colours (background, title, text, accent), the
 * decoration (a band across the top, a rule under content titles), the
 * fonts of titles and body text, and the sizes. Each font is named twice:
 * by the names the PPTX carries (Latin and East Asian, standard names that
 * Office substitutes on the user's machine) and by the 公文 face it stands
 * for ("黑体", "小标宋", "仿宋", "楷体", "宋体"), which the 公文 font table
 * (gw_fonts_resolve()) turns into an installed family for the PDF. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "deck.h"
#include "gw-export.h"
#include "gw-json.h"

#ifndef WENSHU_SOURCE_ASSETS
#define WENSHU_SOURCE_ASSETS ""
#endif
#ifndef WENSHU_INSTALL_ASSETS
#define WENSHU_INSTALL_ASSETS "/usr/local/share/wenshu"
#endif

const char *deck_assets_dir(void)
{
    const char *env = getenv("WENSHU_ASSETS_DIR");
    if (env && env[0])
        return env;
    if (WENSHU_SOURCE_ASSETS[0] && g_file_test(WENSHU_SOURCE_ASSETS, G_FILE_TEST_IS_DIR))
        return WENSHU_SOURCE_ASSETS;
    return WENSHU_INSTALL_ASSETS;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The theme names in dir (*.json), sorted, comma-separated into out[size]. */
static void list_themes(const char *dir, char *out, size_t size)
{
    out[0] = '\0';
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d) {
        snprintf(out, size, "none: %s cannot be read", dir);
        return;
    }
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *entry;
    while ((entry = g_dir_read_name(d)))
        if (g_str_has_suffix(entry, ".json"))
            g_ptr_array_add(names, g_strndup(entry, strlen(entry) - 5));
    g_dir_close(d);
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", i ? ", " : "",
                 (const char *)g_ptr_array_index(names, i));
    }
    if (!out[0])
        snprintf(out, size, "none in %s", dir);
    g_ptr_array_unref(names);
}

static bool parse_color(const char *s, uint32_t *out)
{
    if (!s || s[0] != '#' || strlen(s) != 7)
        return false;
    char *end = NULL;
    unsigned long v = strtoul(s + 1, &end, 16);
    if (*end)
        return false;
    *out = (uint32_t)v;
    return true;
}

static JsonObject *member_object(JsonObject *obj, const char *key)
{
    JsonNode *n = json_object_get_member(obj, key);
    return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

static const char *member_string(JsonObject *obj, const char *key)
{
    JsonNode *n = obj ? json_object_get_member(obj, key) : NULL;
    if (!gw_json_is_string(n))
        return NULL;
    return json_node_get_string(n);
}

static bool read_color(JsonObject *colors, const char *key, const char *path, uint32_t *out,
                       struct deck_err *err)
{
    if (!parse_color(member_string(colors, key), out))
        return deck_fail(err, "%s: colors.%s: expected a colour \"#RRGGBB\"", path, key);
    return true;
}

static bool read_number(JsonObject *obj, const char *key, const char *path, double lo, double hi,
                        double *out, struct deck_err *err)
{
    JsonNode *n = obj ? json_object_get_member(obj, key) : NULL;
    GType t = n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_value_type(n) : G_TYPE_INVALID;
    if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE)
        return deck_fail(err, "%s: sizes.%s: expected a number of points", path, key);
    *out = json_node_get_double(n);
    if (!(*out >= lo && *out <= hi))
        return deck_fail(err, "%s: sizes.%s: %g pt is outside %g..%g", path, key, *out, lo, hi);
    return true;
}

static bool member_bool(JsonObject *obj, const char *key)
{
    JsonNode *n = obj ? json_object_get_member(obj, key) : NULL;
    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_BOOLEAN &&
           json_node_get_boolean(n);
}

/* The installed family for a 公文 face name; NULL for an unknown face. */
static const char *resolved_family(const struct gw_fonts *fonts, const char *face)
{
    const struct gw_font_choice *all[] = {&fonts->fangsong, &fonts->xiaobiaosong, &fonts->heiti,
                                          &fonts->kaiti, &fonts->songti};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]->face && strcmp(all[i]->face, face) == 0)
            return all[i]->family;
    return NULL;
}

static bool read_font(JsonObject *fonts_obj, const char *key, const char *path,
                      const struct gw_fonts *installed, bool have_cjk, struct deck_font *f,
                      struct deck_err *err)
{
    JsonObject *o = member_object(fonts_obj, key);
    const char *latin = member_string(o, "latin");
    const char *ea = member_string(o, "east_asian");
    const char *face = member_string(o, "face");
    if (!latin || !ea || !face)
        return deck_fail(err, "%s: fonts.%s: needs \"latin\", \"east_asian\" and \"face\"", path,
                         key);
    const char *family = have_cjk ? resolved_family(installed, face) : ea;
    if (!family)
        return deck_fail(err,
                         "%s: fonts.%s.face: \"%s\" is not one of 仿宋, 小标宋, 黑体, 楷体, 宋体",
                         path, key, face);
    if (strlen(latin) >= sizeof f->latin || strlen(ea) >= sizeof f->east_asian ||
        strchr(latin, ',') || strchr(ea, ','))
        return deck_fail(err, "%s: fonts.%s: a font name is too long or has a comma", path, key);
    snprintf(f->latin, sizeof f->latin, "%s", latin);
    snprintf(f->east_asian, sizeof f->east_asian, "%s", ea);
    snprintf(f->pango_families, sizeof f->pango_families, "%s,%s", latin, family);
    f->bold = member_bool(o, "bold");
    return true;
}

static bool read_theme(JsonObject *root, const char *path, struct deck_theme *t,
                       struct deck_err *err)
{
    JsonObject *colors = member_object(root, "colors");
    JsonObject *deco = member_object(root, "decoration");
    JsonObject *fonts = member_object(root, "fonts");
    JsonObject *sizes = member_object(root, "sizes");
    if (!colors || !fonts || !sizes)
        return deck_fail(err, "%s: needs the objects \"colors\", \"fonts\" and \"sizes\"", path);
    struct gw_fonts installed;
    struct gw_err gerr = {{0}};
    bool have_cjk = gw_fonts_resolve(&installed, &gerr);
    t->top_bar = member_bool(deco, "top_bar");
    t->title_rule = member_bool(deco, "title_rule");
    return read_color(colors, "background", path, &t->background, err) &&
           read_color(colors, "title", path, &t->title_color, err) &&
           read_color(colors, "text", path, &t->text_color, err) &&
           read_color(colors, "accent", path, &t->accent, err) &&
           read_font(fonts, "title", path, &installed, have_cjk, &t->title_font, err) &&
           read_font(fonts, "body", path, &installed, have_cjk, &t->body_font, err) &&
           read_number(sizes, "title", path, 12, 96, &t->title_pt, err) &&
           read_number(sizes, "subtitle", path, 10, 72, &t->subtitle_pt, err) &&
           read_number(sizes, "body", path, 10, 60, &t->body_pt, err);
}

static bool valid_name(const char *name)
{
    if (!name[0] || strlen(name) >= 64)
        return false;
    for (const char *p = name; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
            return false;
    return true;
}

bool deck_theme_load(const char *name, struct deck_theme *theme, struct deck_err *err)
{
    const char *assets = deck_assets_dir();
    char *dir = g_build_filename(assets, "themes", NULL);
    char *file = g_strconcat(name, ".json", NULL);
    char *path = g_build_filename(dir, file, NULL);
    g_free(file);
    bool ok = false;
    gchar *text = NULL;
    gsize len = 0;
    if (!valid_name(name) || !g_file_get_contents(path, &text, &len, NULL)) {
        char names[512];
        list_themes(dir, names, sizeof names);
        deck_fail(err, "theme \"%s\": unknown (themes in %s: %s)", name, dir, names);
        goto out_free_path;
    }
    JsonParser *parser = json_parser_new();
    GError *gerr = NULL;
    if (!json_parser_load_from_data(parser, text, (gssize)len, &gerr)) {
        deck_fail(err, "%s: not valid JSON: %s", path, gerr->message);
        g_clear_error(&gerr);
    } else if (!JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        deck_fail(err, "%s: expected a JSON object", path);
    } else {
        *theme = (struct deck_theme){0};
        snprintf(theme->name, sizeof theme->name, "%s", name);
        ok = read_theme(json_node_get_object(json_parser_get_root(parser)), path, theme, err);
    }
    g_object_unref(parser);
    g_free(text);
out_free_path:
    g_free(path);
    g_free(dir);
    return ok;
}
