/* clip-gen.c: prompts, schemas and JSON reading of clip-gen.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "clip-gen.h"

/* ---- schemas ------------------------------------------------------------------------------ */

void clip_describe_schema_init(struct clip_describe_schema *s)
{
    memset(s, 0, sizeof *s);
    s->description =
        (struct eng_schema){.type = ENG_SCHEMA_STRING, .min_chars = 4, .max_chars = 160};
    s->props[0] = (struct eng_schema_property){"description", &s->description};
    s->root =
        (struct eng_schema){.type = ENG_SCHEMA_OBJECT, .properties = s->props, .n_properties = 1};
}

void clip_reduce_schema_init(struct clip_reduce_schema *s, int n_titles)
{
    memset(s, 0, sizeof *s);
    s->summary = (struct eng_schema){.type = ENG_SCHEMA_STRING, .min_chars = 4, .max_chars = 300};
    s->title = (struct eng_schema){.type = ENG_SCHEMA_STRING, .min_chars = 2, .max_chars = 20};
    s->titles = (struct eng_schema){
        .type = ENG_SCHEMA_ARRAY, .items = &s->title, .min_items = n_titles, .max_items = n_titles};
    s->props[0] = (struct eng_schema_property){"summary", &s->summary};
    s->props[1] = (struct eng_schema_property){"titles", &s->titles};
    s->root =
        (struct eng_schema){.type = ENG_SCHEMA_OBJECT, .properties = s->props, .n_properties = 2};
}

void clip_final_schema_init(struct clip_final_schema *s)
{
    memset(s, 0, sizeof *s);
    s->title = (struct eng_schema){.type = ENG_SCHEMA_STRING, .min_chars = 2, .max_chars = 30};
    s->summary = (struct eng_schema){.type = ENG_SCHEMA_STRING, .min_chars = 4, .max_chars = 400};
    s->props[0] = (struct eng_schema_property){"title", &s->title};
    s->props[1] = (struct eng_schema_property){"summary", &s->summary};
    s->root =
        (struct eng_schema){.type = ENG_SCHEMA_OBJECT, .properties = s->props, .n_properties = 2};
}

/* ---- prompts -------------------------------------------------------------------------------- */

void clip_gen_format_time(double seconds, char *out, size_t size)
{
    long t = seconds > 0 ? (long)floor(seconds) : 0;
    if (t >= 3600)
        snprintf(out, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, size, "%02ld:%02ld", t / 60, t % 60);
}

char *clip_gen_system_prompt(void)
{
    return g_strdup("你是视频内容整理员。你只根据看到的画面和给出的文字如实描述，不猜测画面之外的"
                    "人物身份、机构和数字；语言简洁、书面化。只按要求输出JSON。");
}

char *clip_gen_describe_prompt(const char *clip_name, int index, int n, double start, double end)
{
    char a[16], b[16];
    clip_gen_format_time(start, a, sizeof a);
    clip_gen_format_time(end, b, sizeof b);
    return g_strdup_printf("视频《%s》第%d段（共%d段，%s–%s）的画面：%s\n"
                           "请用一两句话描述这一段发生了什么（场景、人物动作、画面上的文字）。\n"
                           "只输出JSON：{\"description\":\"…\"}",
                           clip_name, index, n, a, b, ENG_MEDIA_MARKER);
}

char *clip_gen_reduce_prompt(const char *clip_name, const char *const *descriptions,
                             const double *starts, const double *ends, int n)
{
    GString *p = g_string_new(NULL);
    g_string_append_printf(p, "视频《%s》中连续%d段的描述：\n", clip_name, n);
    for (int i = 0; i < n; i++) {
        char a[16], b[16];
        clip_gen_format_time(starts[i], a, sizeof a);
        clip_gen_format_time(ends[i], b, sizeof b);
        g_string_append_printf(p, "%d. [%s–%s] %s\n", i + 1, a, b, descriptions[i]);
    }
    g_string_append_printf(
        p,
        "\n请写这部分内容的概要（不超过300字），并按顺序给每段起一个章节标题"
        "（2至20字，共%d个）。\n只输出JSON：{\"summary\":\"…\",\"titles\":[\"…\"]}",
        n);
    return g_string_free(p, FALSE);
}

char *clip_gen_final_prompt(const char *clip_name, const char *const *summaries, int n)
{
    GString *p = g_string_new(NULL);
    g_string_append_printf(p, "视频《%s》各部分的概要：\n", clip_name);
    for (int i = 0; i < n; i++)
        g_string_append_printf(p, "第%d部分：%s\n", i + 1, summaries[i]);
    g_string_append(p, "\n请给整个视频起一个标题（不超过30字），并写全片摘要（不超过400字）。\n"
                       "只输出JSON：{\"title\":\"…\",\"summary\":\"…\"}");
    return g_string_free(p, FALSE);
}

/* ---- reading the answers ----------------------------------------------------------------------
 */

static JsonObject *parse_object(const char *json, JsonParser **parser)
{
    *parser = json_parser_new();
    if (!json || !json_parser_load_from_data(*parser, json, -1, NULL))
        return NULL;
    JsonNode *root = json_parser_get_root(*parser);
    return root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
}

char *clip_gen_json_string(const char *json, const char *member)
{
    JsonParser *parser = NULL;
    JsonObject *o = parse_object(json, &parser);
    JsonNode *n = o ? json_object_get_member(o, member) : NULL;
    char *out = n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
                    ? strdup(json_node_get_string(n))
                    : NULL;
    g_object_unref(parser);
    return out;
}

bool clip_gen_json_strings(const char *json, const char *member, char **out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    JsonParser *parser = NULL;
    JsonObject *o = parse_object(json, &parser);
    JsonNode *node = o ? json_object_get_member(o, member) : NULL;
    JsonArray *a = node && JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
    bool ok = a && (int)json_array_get_length(a) == n;
    for (int i = 0; ok && i < n; i++) {
        JsonNode *e = json_array_get_element(a, (guint)i);
        ok = JSON_NODE_HOLDS_VALUE(e) && json_node_get_value_type(e) == G_TYPE_STRING;
        out[i] = ok ? strdup(json_node_get_string(e)) : NULL;
    }
    if (!ok) {
        for (int i = 0; i < n; i++) {
            free(out[i]);
            out[i] = NULL;
        }
    }
    g_object_unref(parser);
    return ok;
}
