/* deck-gen.c: prompts, schemas and the merge of deck-gen.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "deck-gen.h"
#include "gw-json.h"

/* ---- schemas ------------------------------------------------------------------------------ */

void deck_outline_schema_init(struct deck_outline_schema *s, int n_slides)
{
    memset(s, 0, sizeof *s);
    if (n_slides < 1)
        n_slides = 1;
    if (n_slides > DECK_GEN_MAX_SLIDES)
        n_slides = DECK_GEN_MAX_SLIDES;
    s->title = (struct eng_schema){.type = ENG_SCHEMA_STRING, .min_chars = 2, .max_chars = 30};
    s->subtitle = (struct eng_schema){.type = ENG_SCHEMA_STRING, .max_chars = 40};
    s->slide_title =
        (struct eng_schema){.type = ENG_SCHEMA_STRING, .min_chars = 2, .max_chars = 24};
    s->point = (struct eng_schema){.type = ENG_SCHEMA_STRING, .min_chars = 2, .max_chars = 30};
    s->points = (struct eng_schema){
        .type = ENG_SCHEMA_ARRAY, .items = &s->point, .min_items = 2, .max_items = 4};
    s->slide_props[0] = (struct eng_schema_property){"title", &s->slide_title};
    s->slide_props[1] = (struct eng_schema_property){"points", &s->points};
    s->slide = (struct eng_schema){
        .type = ENG_SCHEMA_OBJECT, .properties = s->slide_props, .n_properties = 2};
    s->slides = (struct eng_schema){
        .type = ENG_SCHEMA_ARRAY, .items = &s->slide, .min_items = n_slides, .max_items = n_slides};
    s->root_props[0] = (struct eng_schema_property){"title", &s->title};
    s->root_props[1] = (struct eng_schema_property){"subtitle", &s->subtitle};
    s->root_props[2] = (struct eng_schema_property){"slides", &s->slides};
    s->root = (struct eng_schema){
        .type = ENG_SCHEMA_OBJECT, .properties = s->root_props, .n_properties = 3};
}

void deck_slide_schema_init(struct deck_slide_schema *s)
{
    memset(s, 0, sizeof *s);
    s->bullet = (struct eng_schema){.type = ENG_SCHEMA_STRING, .min_chars = 4, .max_chars = 40};
    s->bullets = (struct eng_schema){
        .type = ENG_SCHEMA_ARRAY, .items = &s->bullet, .min_items = 3, .max_items = 5};
    s->notes = (struct eng_schema){.type = ENG_SCHEMA_STRING, .min_chars = 10, .max_chars = 200};
    s->image = (struct eng_schema){.type = ENG_SCHEMA_BOOLEAN};
    s->props[0] = (struct eng_schema_property){"bullets", &s->bullets};
    s->props[1] = (struct eng_schema_property){"notes", &s->notes};
    s->props[2] = (struct eng_schema_property){"image", &s->image};
    s->root =
        (struct eng_schema){.type = ENG_SCHEMA_OBJECT, .properties = s->props, .n_properties = 3};
}

/* ---- prompts -------------------------------------------------------------------------------- */

char *deck_gen_system_prompt(void)
{
    return g_strdup("你是一名擅长制作汇报演示文稿的文字秘书。你根据用户提供的材料提炼要点，"
                    "语言准确、简洁、书面化，不编造材料中没有的数字、机构和事实。"
                    "每条要点独立成句、不超过一行，不加编号和标点堆砌。只按要求输出JSON。");
}

/* The source document, cut to DECK_GEN_SOURCE_MAX_CHARS characters. */
static void append_source(GString *p, const struct deck_gen_input *in)
{
    if (in->topic && in->topic[0])
        g_string_append_printf(p, "演示主题：%s\n", in->topic);
    if (!in->source_text || !in->source_text[0])
        return;
    g_string_append_printf(p, "\n【材料：%s】\n", in->source_name ? in->source_name : "文档");
    const char *text = in->source_text;
    glong n_chars = g_utf8_strlen(text, -1);
    if (n_chars > DECK_GEN_SOURCE_MAX_CHARS) {
        const char *cut = g_utf8_offset_to_pointer(text, DECK_GEN_SOURCE_MAX_CHARS);
        g_string_append_len(p, text, cut - text);
        g_string_append(p, "\n（以下略）\n");
    } else {
        g_string_append(p, text);
        g_string_append_c(p, '\n');
    }
}

char *deck_gen_outline_prompt(const struct deck_gen_input *in)
{
    GString *p = g_string_new(NULL);
    append_source(p, in);
    g_string_append_printf(
        p,
        "\n请为上述内容设计一份演示文稿的提纲：一个总标题（不超过30字）、一个副标题"
        "（如汇报单位或日期，可为空），以及%d页内容页。每页给出标题（不超过24字）和"
        "2至4条要点，页与页之间按逻辑递进，不重复。\n"
        "只输出JSON：{\"title\":\"…\",\"subtitle\":\"…\",\"slides\":[{\"title\":\"…\","
        "\"points\":[\"…\",\"…\"]}]}\n",
        in->n_slides);
    return g_string_free(p, FALSE);
}

char *deck_gen_slide_prompt(const struct deck_gen_input *in, const char *outline_json, int index)
{
    GString *p = g_string_new(NULL);
    append_source(p, in);
    g_string_append_printf(p, "\n演示文稿提纲（JSON）：\n%s\n", outline_json);
    g_string_append_printf(
        p,
        "\n现在写第%d页内容页：围绕这一页的标题和要点，写3至5条要点（每条4至40字），"
        "一段演讲者备注（10至200字，说明讲什么、怎么讲），并判断这一页是否需要配图。\n"
        "只输出JSON：{\"bullets\":[\"…\"],\"notes\":\"…\",\"image\":false}\n",
        index + 1);
    return g_string_free(p, FALSE);
}

/* ---- reading the outline ----------------------------------------------------------------------
 */

static void set_why(char *why, size_t size, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void set_why(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
}

/* Parse text as a JSON object; NULL with why set. The caller unrefs the parser. */
static JsonObject *parse_object(const char *text, JsonParser **parser, const char *what, char *why,
                                size_t size)
{
    GError *error = NULL;
    *parser = json_parser_new();
    if (!json_parser_load_from_data(*parser, text, -1, &error)) {
        set_why(why, size, "%s is not JSON: %s", what, error->message);
        g_error_free(error);
        return NULL;
    }
    JsonNode *root = json_parser_get_root(*parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        set_why(why, size, "%s is not a JSON object", what);
        return NULL;
    }
    return json_node_get_object(root);
}

static JsonArray *slides_of(JsonObject *outline, char *why, size_t size)
{
    JsonNode *slides = json_object_get_member(outline, "slides");
    if (!slides || !JSON_NODE_HOLDS_ARRAY(slides)) {
        set_why(why, size, "the outline has no \"slides\" list");
        return NULL;
    }
    return json_node_get_array(slides);
}

int deck_gen_outline_slides(const char *outline_json, char *why, size_t why_size)
{
    JsonParser *parser = NULL;
    JsonObject *o = parse_object(outline_json, &parser, "the outline", why, why_size);
    JsonArray *slides = o ? slides_of(o, why, why_size) : NULL;
    int n = slides ? (int)json_array_get_length(slides) : -1;
    if (n == 0) {
        set_why(why, why_size, "the outline has no slides");
        n = -1;
    }
    g_object_unref(parser);
    return n;
}

bool deck_gen_slide_is_sound(const char *slide_json)
{
    char why[256];
    JsonParser *parser = NULL;
    JsonObject *o = parse_object(slide_json, &parser, "the slide", why, sizeof why);
    JsonNode *n = o ? json_object_get_member(o, "bullets") : NULL;
    JsonArray *a = n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
    guint len = a ? json_array_get_length(a) : 0;
    bool sound = len > 0;
    for (guint i = 0; sound && i < len; i++) {
        JsonNode *e = json_array_get_element(a, i);
        const char *text = gw_json_is_string(e) ? json_node_get_string(e) : NULL;
        char *trimmed = text ? g_strstrip(g_strdup(text)) : NULL;
        sound = trimmed && trimmed[0] != '\0';
        g_free(trimmed);
        for (guint j = 0; sound && j < i; j++)
            sound = g_strcmp0(text, json_node_get_string(json_array_get_element(a, j))) != 0;
    }
    g_object_unref(parser);
    return sound;
}

/* ---- the merge ----------------------------------------------------------------------------------
 */

static const char *string_member(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);
    return gw_json_is_string(n) ? json_node_get_string(n) : NULL;
}

/* Copy the strings of array member name of from into builder as "bullets". */
static void add_string_list(JsonBuilder *b, JsonObject *from, const char *name)
{
    json_builder_set_member_name(b, "bullets");
    json_builder_begin_array(b);
    JsonNode *n = from ? json_object_get_member(from, name) : NULL;
    JsonArray *a = n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
    for (guint i = 0; a && i < json_array_get_length(a); i++) {
        JsonNode *item = json_array_get_element(a, i);
        if (gw_json_is_string(item))
            json_builder_add_string_value(b, json_node_get_string(item));
    }
    json_builder_end_array(b);
}

/* One slide: title from the outline; bullets, notes, image from the slide JSON. */
static bool add_slide(JsonBuilder *b, JsonObject *outline_slide, const char *slide_json, int index,
                      char *why, size_t size)
{
    JsonParser *parser = NULL;
    JsonObject *content = NULL;
    if (slide_json) {
        char what[32];
        snprintf(what, sizeof what, "slide %d", index + 1);
        content = parse_object(slide_json, &parser, what, why, size);
        if (!content) {
            g_object_unref(parser);
            return false;
        }
    }
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "title");
    const char *title = string_member(outline_slide, "title");
    json_builder_add_string_value(b, title ? title : "");
    if (content)
        add_string_list(b, content, "bullets");
    else if (json_object_has_member(outline_slide, "bullets"))
        add_string_list(b, outline_slide, "bullets");
    else
        add_string_list(b, outline_slide, "points");
    const char *notes = content ? string_member(content, "notes") : NULL;
    json_builder_set_member_name(b, "notes");
    json_builder_add_string_value(b, notes ? notes : "");
    json_builder_set_member_name(b, "image");
    JsonNode *image = content ? json_object_get_member(content, "image") : NULL;
    json_builder_add_boolean_value(b, image && JSON_NODE_HOLDS_VALUE(image) &&
                                          json_node_get_value_type(image) == G_TYPE_BOOLEAN &&
                                          json_node_get_boolean(image));
    json_builder_end_object(b);
    if (parser)
        g_object_unref(parser);
    return true;
}

char *deck_gen_merge(const char *outline_json, char *const *slide_jsons, int n_slides, char *why,
                     size_t why_size)
{
    JsonParser *parser = NULL;
    JsonObject *outline = parse_object(outline_json, &parser, "the outline", why, why_size);
    JsonArray *slides = outline ? slides_of(outline, why, why_size) : NULL;
    if (!slides || (int)json_array_get_length(slides) != n_slides) {
        if (slides)
            set_why(why, why_size, "the outline has %u slides, not %d",
                    json_array_get_length(slides), n_slides);
        g_object_unref(parser);
        return NULL;
    }
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "title");
    const char *title = string_member(outline, "title");
    json_builder_add_string_value(b, title ? title : "");
    json_builder_set_member_name(b, "subtitle");
    const char *subtitle = string_member(outline, "subtitle");
    json_builder_add_string_value(b, subtitle ? subtitle : "");
    json_builder_set_member_name(b, "slides");
    json_builder_begin_array(b);
    bool ok = true;
    for (int i = 0; ok && i < n_slides; i++) {
        JsonNode *node = json_array_get_element(slides, (guint)i);
        if (!JSON_NODE_HOLDS_OBJECT(node)) {
            set_why(why, why_size, "outline slide %d is not an object", i + 1);
            ok = false;
        } else {
            ok = add_slide(b, json_node_get_object(node), slide_jsons ? slide_jsons[i] : NULL, i,
                           why, why_size);
        }
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    char *out = NULL;
    if (ok) {
        JsonGenerator *gen = json_generator_new();
        JsonNode *root = json_builder_get_root(b);
        json_generator_set_root(gen, root);
        json_generator_set_pretty(gen, TRUE);
        gchar *text = json_generator_to_data(gen, NULL);
        out = strdup(text);
        g_free(text);
        json_node_unref(root);
        g_object_unref(gen);
    }
    g_object_unref(b);
    g_object_unref(parser);
    return out;
}
