/* deck.c: the deck model and its outline JSON (deck.h), read and written
 * with json-glib. Every refusal names the source and the key, so that a user
 * who edited the outline by hand can find the mistake. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "deck.h"
#include "gw-json.h"
#include "wenshu-engine.h"

bool deck_fail(struct deck_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* A string member copied into *out (malloc'd). A missing or null member is
 * an error when required, else leaves *out NULL. max_chars limits code points. */
static bool read_string(JsonObject *obj, const char *key, const char *where, bool required,
                        int max_chars, const char *source, char **out, struct deck_err *err)
{
    *out = NULL;
    JsonNode *node = json_object_get_member(obj, key);
    if (!node || JSON_NODE_HOLDS_NULL(node)) {
        if (required)
            return deck_fail(err, "%s: %s%s: missing (a string is required)", source, where, key);
        return true;
    }
    if (!gw_json_is_string(node))
        return deck_fail(err, "%s: %s%s: expected a string, got %s", source, where, key,
                         gw_json_kind_words(node));
    const char *s = json_node_get_string(node);
    if (g_utf8_strlen(s, -1) > max_chars)
        return deck_fail(err, "%s: %s%s: longer than %d characters", source, where, key, max_chars);
    *out = strdup(s);
    return *out != NULL || deck_fail(err, "%s: out of memory", source);
}

/* One bullet: "text" or {"text": "…", "level": N}. */
static bool read_bullet(JsonNode *node, const char *where, int index, const char *source,
                        char **text, int *level, struct deck_err *err)
{
    *level = 0;
    if (gw_json_is_string(node)) {
        const char *s = json_node_get_string(node);
        if (g_utf8_strlen(s, -1) > DECK_MAX_BULLET_CHARS)
            return deck_fail(err, "%s: %sbullets[%d]: longer than %d characters", source, where,
                             index, DECK_MAX_BULLET_CHARS);
        *text = strdup(s);
        return *text != NULL || deck_fail(err, "%s: out of memory", source);
    }
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return deck_fail(err, "%s: %sbullets[%d]: expected a string or an object, got %s", source,
                         where, index, gw_json_kind_words(node));
    JsonObject *obj = json_node_get_object(node);
    char item[96];
    snprintf(item, sizeof item, "%sbullets[%d].", where, index);
    if (!read_string(obj, "text", item, true, DECK_MAX_BULLET_CHARS, source, text, err))
        return false;
    JsonNode *lv = json_object_get_member(obj, "level");
    if (!lv || JSON_NODE_HOLDS_NULL(lv))
        return true;
    if (!JSON_NODE_HOLDS_VALUE(lv) || json_node_get_value_type(lv) != G_TYPE_INT64 ||
        json_node_get_int(lv) < 0 || json_node_get_int(lv) > DECK_MAX_LEVEL) {
        free(*text);
        *text = NULL;
        return deck_fail(err, "%s: %slevel: expected an integer 0..%d", source, item,
                         DECK_MAX_LEVEL);
    }
    *level = (int)json_node_get_int(lv);
    return true;
}

static bool read_bullets(JsonObject *obj, const char *where, const char *source,
                         struct deck_slide *s, struct deck_err *err)
{
    JsonNode *node = json_object_get_member(obj, "bullets");
    if (!node || JSON_NODE_HOLDS_NULL(node))
        return deck_fail(err, "%s: %sbullets: missing (an array of strings is required)", source,
                         where);
    if (!JSON_NODE_HOLDS_ARRAY(node))
        return deck_fail(err, "%s: %sbullets: expected an array, got %s", source, where,
                         gw_json_kind_words(node));
    JsonArray *arr = json_node_get_array(node);
    int n = (int)json_array_get_length(arr);
    if (n > DECK_MAX_BULLETS)
        return deck_fail(err, "%s: %sbullets: %d bullets, at most %d fit a slide", source, where, n,
                         DECK_MAX_BULLETS);
    s->bullets = calloc((size_t)n + 1, sizeof *s->bullets);
    s->bullet_levels = calloc((size_t)n + 1, sizeof *s->bullet_levels);
    if (!s->bullets || !s->bullet_levels)
        return deck_fail(err, "%s: out of memory", source);
    for (int i = 0; i < n; i++) {
        if (!read_bullet(json_array_get_element(arr, (guint)i), where, i, source, &s->bullets[i],
                         &s->bullet_levels[i], err))
            return false;
        s->n_bullets = i + 1;
    }
    return true;
}

/* "image": false/true (a slot) or a path string. */
static bool read_image(JsonObject *obj, const char *where, const char *source, struct deck_slide *s,
                       struct deck_err *err)
{
    JsonNode *node = json_object_get_member(obj, "image");
    if (!node || JSON_NODE_HOLDS_NULL(node))
        return true;
    if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_BOOLEAN) {
        s->image_slot = json_node_get_boolean(node);
        return true;
    }
    if (!gw_json_is_string(node))
        return deck_fail(err, "%s: %simage: expected a boolean or a file path, got %s", source,
                         where, gw_json_kind_words(node));
    const char *path = json_node_get_string(node);
    if (!path[0])
        return true; /* "" reads as no image */
    s->image = strdup(path);
    s->image_slot = true;
    return s->image != NULL || deck_fail(err, "%s: out of memory", source);
}

static bool read_slide(JsonNode *node, int index, const char *source, struct deck_slide *s,
                       struct deck_err *err)
{
    char where[48];
    snprintf(where, sizeof where, "slides[%d].", index);
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return deck_fail(err, "%s: slides[%d]: expected an object, got %s", source, index,
                         gw_json_kind_words(node));
    JsonObject *obj = json_node_get_object(node);
    return read_string(obj, "title", where, true, DECK_MAX_TITLE_CHARS, source, &s->title, err) &&
           read_bullets(obj, where, source, s, err) &&
           read_string(obj, "notes", where, false, DECK_MAX_NOTES_CHARS, source, &s->notes, err) &&
           read_image(obj, where, source, s, err);
}

static bool read_deck(JsonNode *root, const char *source, struct deck *d, struct deck_err *err)
{
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        return deck_fail(err, "%s: expected a JSON object at the top, got %s", source,
                         root ? gw_json_kind_words(root) : "nothing");
    JsonObject *obj = json_node_get_object(root);
    if (!read_string(obj, "title", "", true, DECK_MAX_TITLE_CHARS, source, &d->title, err) ||
        !read_string(obj, "subtitle", "", false, DECK_MAX_TITLE_CHARS, source, &d->subtitle, err))
        return false;
    JsonNode *slides = json_object_get_member(obj, "slides");
    if (!slides || JSON_NODE_HOLDS_NULL(slides))
        return deck_fail(err, "%s: slides: missing (an array of slides is required)", source);
    if (!JSON_NODE_HOLDS_ARRAY(slides))
        return deck_fail(err, "%s: slides: expected an array, got %s", source,
                         gw_json_kind_words(slides));
    JsonArray *arr = json_node_get_array(slides);
    int n = (int)json_array_get_length(arr);
    if (n == 0)
        return deck_fail(err, "%s: slides: the list is empty (a deck needs at least one slide)",
                         source);
    if (n > DECK_MAX_SLIDES)
        return deck_fail(err, "%s: slides: %d slides, at most %d", source, n, DECK_MAX_SLIDES);
    d->slides = calloc((size_t)n, sizeof *d->slides);
    if (!d->slides)
        return deck_fail(err, "%s: out of memory", source);
    for (int i = 0; i < n; i++) {
        d->n_slides = i + 1; /* so that deck_free() frees what was read */
        if (!read_slide(json_array_get_element(arr, (guint)i), i, source, &d->slides[i], err))
            return false;
    }
    return true;
}

bool deck_from_json(const char *text, size_t len, const char *source, struct deck **out,
                    struct deck_err *err)
{
    *out = NULL;
    if (len > (size_t)G_MAXSSIZE)
        return deck_fail(err, "%s: too large", source);
    if (!g_utf8_validate(text, (gssize)len, NULL))
        return deck_fail(err, "%s: not valid UTF-8 text", source);
    JsonParser *parser = json_parser_new();
    GError *gerr = NULL;
    if (!json_parser_load_from_data(parser, text, (gssize)len, &gerr)) {
        deck_fail(err, "%s: not valid JSON: %s", source, gerr ? gerr->message : "?");
        g_clear_error(&gerr);
        g_object_unref(parser);
        return false;
    }
    struct deck *d = calloc(1, sizeof *d);
    bool ok = d ? read_deck(json_parser_get_root(parser), source, d, err)
                : deck_fail(err, "%s: out of memory", source);
    g_object_unref(parser);
    if (!ok) {
        deck_free(&d);
        return false;
    }
    *out = d;
    return true;
}

/* ---- writing ---- */

static void add_slide_json(JsonBuilder *b, const struct deck_slide *s)
{
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "title");
    json_builder_add_string_value(b, s->title);
    json_builder_set_member_name(b, "bullets");
    json_builder_begin_array(b);
    for (int i = 0; i < s->n_bullets; i++) {
        if (s->bullet_levels[i] == 0) {
            json_builder_add_string_value(b, s->bullets[i]);
            continue;
        }
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "text");
        json_builder_add_string_value(b, s->bullets[i]);
        json_builder_set_member_name(b, "level");
        json_builder_add_int_value(b, s->bullet_levels[i]);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "notes");
    if (s->notes)
        json_builder_add_string_value(b, s->notes);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "image");
    if (s->image)
        json_builder_add_string_value(b, s->image);
    else
        json_builder_add_boolean_value(b, s->image_slot);
    json_builder_end_object(b);
}

char *deck_to_json(const struct deck *deck)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "title");
    json_builder_add_string_value(b, deck->title);
    json_builder_set_member_name(b, "subtitle");
    if (deck->subtitle)
        json_builder_add_string_value(b, deck->subtitle);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "slides");
    json_builder_begin_array(b);
    for (int i = 0; i < deck->n_slides; i++)
        add_slide_json(b, &deck->slides[i]);
    json_builder_end_array(b);
    json_builder_end_object(b);
    JsonNode *root = json_builder_get_root(b);
    JsonGenerator *gen = json_generator_new();
    json_generator_set_pretty(gen, TRUE);
    json_generator_set_root(gen, root);
    gchar *text = json_generator_to_data(gen, NULL);
    char *out = text ? strdup(text) : NULL;
    g_free(text);
    g_object_unref(gen);
    json_node_unref(root);
    g_object_unref(b);
    return out;
}

/* ---- images ---- */

bool deck_resolve_images(struct deck *deck, const char *base_dir, struct deck_err *err)
{
    if (!base_dir || !base_dir[0] || strcmp(base_dir, ".") == 0)
        return true;
    for (int i = 0; i < deck->n_slides; i++) {
        struct deck_slide *s = &deck->slides[i];
        if (!s->image || s->image[0] == '/')
            continue;
        size_t n = strlen(base_dir) + strlen(s->image) + 2;
        char *full = malloc(n);
        if (!full)
            return deck_fail(err, "%s: out of memory", s->image);
        snprintf(full, n, "%s/%s", base_dir, s->image);
        free(s->image);
        s->image = full;
    }
    return true;
}

bool deck_check_images(const struct deck *deck, struct deck_err *err)
{
    for (int i = 0; i < deck->n_slides; i++) {
        const char *path = deck->slides[i].image;
        if (!path)
            continue;
        FILE *f = fopen(path, "rb");
        if (!f)
            return deck_fail(err, "%s: slide %d's image cannot be opened: %s", path, i + 1,
                             strerror(errno));
        unsigned char magic[8] = {0};
        size_t got = fread(magic, 1, sizeof magic, f);
        fclose(f);
        bool png = got == 8 && memcmp(magic, "\x89PNG\r\n\x1a\n", 8) == 0;
        bool jpeg = got >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF;
        if (!png && !jpeg)
            return deck_fail(err, "%s: slide %d's image is neither PNG nor JPEG", path, i + 1);
        struct eng_image *img = NULL;
        struct eng_err eerr = {{0}};
        struct eng_image_params ip = eng_image_params_default();
        if (eng_image_load(path, &ip, &img, &eerr) != ENG_STATUS_OK)
            return deck_fail(err, "%s: slide %d's image: %s", path, i + 1, eerr.msg);
        eng_image_free(&img);
    }
    return true;
}

int deck_page_count(const struct deck *deck)
{
    return deck->n_slides + 1;
}

static void slide_free(struct deck_slide *s)
{
    for (int i = 0; s->bullets && i < s->n_bullets; i++)
        free(s->bullets[i]);
    free(s->bullets);
    free(s->bullet_levels);
    free(s->title);
    free(s->notes);
    free(s->image);
}

void deck_free(struct deck **deck)
{
    if (!deck || !*deck)
        return;
    struct deck *d = *deck;
    for (int i = 0; i < d->n_slides; i++)
        slide_free(&d->slides[i]);
    free(d->slides);
    free(d->title);
    free(d->subtitle);
    free(d);
    *deck = NULL;
}
