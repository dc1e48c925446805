/* openai.c: parsing chat-completions requests and writing the responses,
 * chunks and error objects of the OpenAI API (see openai.h).
 *
 * Field names follow https://platform.openai.com/docs/api-reference/chat.
 * Every field is checked for its type and range; a field the server does
 * not implement is refused with 400 rather than silently ignored when
 * ignoring it would change the answer (n > 1, tools, logprobs, the
 * json_object mode, schema keywords the engine cannot honour). A
 * response_format json_schema becomes the engine's eng_schema (constrained
 * decoding). Unknown fields are ignored, as OpenAI-compatible servers do.
 */
#include "openai.h"

#include <json-glib/json-glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool oai_error_set(struct oai_error *err, int status, const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->status = status;
    err->param = param;
    err->type = status == 401   ? "authentication_error"
                : status >= 500 ? "server_error"
                                : "invalid_request_error";
    err->code = NULL;
    return false;
}

/* ---- reading ---------------------------------------------------------------------- */

/* Whether body nests arrays and objects at most OAI_MAX_JSON_DEPTH deep.
 * json-glib's parser recurses once per level, so a body of 20 MiB of '['
 * would overflow a worker's stack; this scan refuses it first. */
static bool json_depth_ok(const char *body, size_t len)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > OAI_MAX_JSON_DEPTH)
                return false;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return true;
}

/* The member's node, or NULL when it is absent or JSON null. */
static JsonNode *member(JsonObject *obj, const char *name)
{
    JsonNode *node = json_object_get_member(obj, name);
    return node && !JSON_NODE_HOLDS_NULL(node) ? node : NULL;
}

static bool is_string(JsonNode *node)
{
    return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING;
}

static bool is_number(JsonNode *node)
{
    if (!JSON_NODE_HOLDS_VALUE(node))
        return false;
    GType t = json_node_get_value_type(node);
    return t == G_TYPE_INT64 || t == G_TYPE_DOUBLE;
}

static bool is_integer(JsonNode *node)
{
    return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_INT64;
}

static bool is_bool(JsonNode *node)
{
    return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_BOOLEAN;
}

/* A number field within [lo, hi] into *out; absent leaves *out. */
static bool read_number(JsonObject *obj, const char *name, double lo, double hi, float *out,
                        struct oai_error *err)
{
    JsonNode *node = member(obj, name);
    if (!node)
        return true;
    if (!is_number(node))
        return oai_error_set(err, 400, name, "'%s' must be a number", name);
    double v = json_node_get_double(node);
    if (!(v >= lo && v <= hi))
        return oai_error_set(err, 400, name, "'%s' must be between %g and %g", name, lo, hi);
    *out = (float)v;
    return true;
}

/* An integer field within [lo, hi] into *out; absent leaves *out. */
static bool read_integer(JsonObject *obj, const char *name, int64_t lo, int64_t hi, int64_t *out,
                         struct oai_error *err)
{
    JsonNode *node = member(obj, name);
    if (!node)
        return true;
    if (!is_integer(node))
        return oai_error_set(err, 400, name, "'%s' must be an integer", name);
    int64_t v = json_node_get_int(node);
    if (v < lo || v > hi)
        return oai_error_set(err, 400, name,
                             "'%s' must be between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT,
                             name, lo, hi);
    *out = v;
    return true;
}

static bool read_bool(JsonObject *obj, const char *name, bool *out, struct oai_error *err)
{
    JsonNode *node = member(obj, name);
    if (!node)
        return true;
    if (!is_bool(node))
        return oai_error_set(err, 400, name, "'%s' must be a boolean", name);
    *out = json_node_get_boolean(node);
    return true;
}

static int base64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

GBytes *oai_base64_decode_strict(const char *text, size_t len)
{
    if (len == 0 || len % 4 != 0)
        return NULL;
    size_t n_pad = text[len - 1] == '=' ? (text[len - 2] == '=' ? 2 : 1) : 0;
    guint8 *out = g_malloc(len / 4 * 3); /* [len / 4 * 3] decoded bytes, n_pad unused */
    size_t n_out = 0;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t quad = 0;
        for (size_t k = 0; k < 4; k++) {
            bool padding = i + k >= len - n_pad;
            int v = padding ? 0 : base64_value(text[i + k]);
            if (v < 0 || (padding && text[i + k] != '=')) {
                g_free(out);
                return NULL;
            }
            quad = quad << 6 | (uint32_t)v;
        }
        out[n_out++] = (guint8)(quad >> 16);
        out[n_out++] = (guint8)(quad >> 8);
        out[n_out++] = (guint8)quad;
    }
    return g_bytes_new_take(out, n_out - n_pad);
}

/* Decode an image part's "data:<type>;base64,<payload>" URL into r->images. */
static bool read_image_url(const char *url, const struct oai_limits *limits, struct oai_request *r,
                           struct oai_error *err)
{
    const char *param = "messages";
    if (r->n_images >= limits->max_images || r->n_images >= OAI_IMAGES_CAP)
        return oai_error_set(err, 400, param, "too many images: at most %d a request",
                             limits->max_images);
    if (strncmp(url, "data:", 5) != 0)
        return oai_error_set(err, 400, param,
                             "image_url.url must be a data: URL (this server "
                             "fetches nothing from the network)");
    const char *comma = strchr(url, ',');
    if (!comma)
        return oai_error_set(err, 400, param, "image_url.url: a data: URL needs a ','");
    size_t head = (size_t)(comma - url);
    if (head < 12 || strncmp(comma - 7, ";base64", 7) != 0)
        return oai_error_set(err, 400, param, "image_url.url: the data: URL must be base64");
    size_t n_text = strlen(comma + 1);
    if (n_text / 4 * 3 > limits->max_image_bytes + 2)
        return oai_error_set(err, 400, param, "image %d is larger than %zu bytes", r->n_images + 1,
                             limits->max_image_bytes);
    GBytes *bytes = oai_base64_decode_strict(comma + 1, n_text);
    if (!bytes)
        return oai_error_set(err, 400, param, "image %d: invalid base64 in the data: URL",
                             r->n_images + 1);
    if (g_bytes_get_size(bytes) == 0) {
        g_bytes_unref(bytes);
        return oai_error_set(err, 400, param, "image %d is empty", r->n_images + 1);
    }
    r->images[r->n_images++] = bytes;
    return true;
}

/* Append text to content, refusing the engine's media marker, which only
 * image parts may place. */
static bool append_text(GString *content, const char *text, struct oai_error *err)
{
    if (strstr(text, ENG_MEDIA_MARKER))
        return oai_error_set(err, 400, "messages", "message text may not contain %s",
                             ENG_MEDIA_MARKER);
    g_string_append(content, text);
    return true;
}

/* One part of an array content: {"type":"text","text":...} or
 * {"type":"image_url","image_url":{"url":...}} (a bare string url is taken too). */
static bool read_part(JsonNode *node, bool images_allowed, const struct oai_limits *limits,
                      struct oai_request *r, GString *content, struct oai_error *err)
{
    const char *param = "messages";
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return oai_error_set(err, 400, param, "a content part must be an object");
    JsonObject *part = json_node_get_object(node);
    JsonNode *type = member(part, "type");
    if (!type || !is_string(type))
        return oai_error_set(err, 400, param, "a content part needs a string 'type'");
    const char *kind = json_node_get_string(type);
    if (strcmp(kind, "text") == 0) {
        JsonNode *text = member(part, "text");
        if (!text || !is_string(text))
            return oai_error_set(err, 400, param, "a text part needs a string 'text'");
        return append_text(content, json_node_get_string(text), err);
    }
    if (strcmp(kind, "image_url") != 0)
        return oai_error_set(err, 400, param, "content part type '%s' is not supported", kind);
    if (!images_allowed)
        return oai_error_set(err, 400, param, "only user messages may hold images");
    JsonNode *image = member(part, "image_url");
    JsonNode *url = NULL;
    if (image && JSON_NODE_HOLDS_OBJECT(image))
        url = member(json_node_get_object(image), "url");
    else if (image && is_string(image))
        url = image;
    if (!url || !is_string(url))
        return oai_error_set(err, 400, param, "an image_url part needs image_url.url");
    if (!read_image_url(json_node_get_string(url), limits, r, err))
        return false;
    g_string_append(content, ENG_MEDIA_MARKER);
    return true;
}

/* The role the engine knows for an API role, or NULL. */
static const char *engine_role(const char *role)
{
    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
        return "system";
    if (strcmp(role, "user") == 0)
        return "user";
    if (strcmp(role, "assistant") == 0)
        return "assistant";
    return NULL;
}

static bool read_message(JsonNode *node, const struct oai_limits *limits, struct oai_request *r,
                         struct oai_message *out, struct oai_error *err)
{
    const char *param = "messages";
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return oai_error_set(err, 400, param, "each message must be an object");
    JsonObject *obj = json_node_get_object(node);
    JsonNode *role_node = member(obj, "role");
    if (!role_node || !is_string(role_node))
        return oai_error_set(err, 400, param, "each message needs a string 'role'");
    const char *role = engine_role(json_node_get_string(role_node));
    if (!role)
        return oai_error_set(err, 400, param,
                             "unknown role '%s' (system, developer, user or "
                             "assistant)",
                             json_node_get_string(role_node));
    bool is_user = strcmp(role, "user") == 0;
    JsonNode *content = member(obj, "content");
    GString *text = g_string_new(NULL);
    bool ok = true;
    if (!content) {
        if (strcmp(role, "assistant") != 0)
            ok = oai_error_set(err, 400, param, "a %s message needs 'content'", role);
    } else if (is_string(content)) {
        ok = append_text(text, json_node_get_string(content), err);
    } else if (JSON_NODE_HOLDS_ARRAY(content)) {
        JsonArray *parts = json_node_get_array(content);
        for (guint i = 0; ok && i < json_array_get_length(parts); i++)
            ok = read_part(json_array_get_element(parts, i), is_user, limits, r, text, err);
    } else {
        ok = oai_error_set(err, 400, param, "'content' must be a string or an array of parts");
    }
    if (!ok) {
        g_string_free(text, TRUE);
        return false;
    }
    out->role = g_strdup(role);
    out->content = g_string_free(text, FALSE);
    return true;
}

static bool read_messages(JsonObject *root, const struct oai_limits *limits, struct oai_request *r,
                          struct oai_error *err)
{
    JsonNode *node = member(root, "messages");
    if (!node)
        return oai_error_set(err, 400, "messages", "'messages' is required");
    if (!JSON_NODE_HOLDS_ARRAY(node))
        return oai_error_set(err, 400, "messages", "'messages' must be an array");
    JsonArray *arr = json_node_get_array(node);
    guint n = json_array_get_length(arr);
    if (n == 0)
        return oai_error_set(err, 400, "messages", "'messages' must not be empty");
    if (n > OAI_MAX_MESSAGES)
        return oai_error_set(err, 400, "messages", "at most %d messages", OAI_MAX_MESSAGES);
    r->messages = g_new0(struct oai_message, n);
    for (guint i = 0; i < n; i++) {
        if (!read_message(json_array_get_element(arr, i), limits, r, &r->messages[i], err))
            return false;
        r->n_messages++;
    }
    return true;
}

static bool read_stop(JsonObject *root, struct oai_request *r, struct oai_error *err)
{
    JsonNode *node = member(root, "stop");
    if (!node)
        return true;
    if (is_string(node)) {
        if (json_node_get_string(node)[0])
            r->stop[r->n_stop++] = g_strdup(json_node_get_string(node));
        return true;
    }
    if (!JSON_NODE_HOLDS_ARRAY(node))
        return oai_error_set(err, 400, "stop", "'stop' must be a string or an array of strings");
    JsonArray *arr = json_node_get_array(node);
    if (json_array_get_length(arr) > OAI_MAX_STOP)
        return oai_error_set(err, 400, "stop", "at most %d stop sequences", OAI_MAX_STOP);
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonNode *s = json_array_get_element(arr, i);
        if (!is_string(s))
            return oai_error_set(err, 400, "stop", "'stop' must hold strings");
        if (json_node_get_string(s)[0])
            r->stop[r->n_stop++] = g_strdup(json_node_get_string(s));
    }
    return true;
}

/* Sampling fields: OpenAI's, plus top_k, min_p and repeat_penalty (as
 * llama.cpp's server takes them). */
static bool read_sampling(JsonObject *root, struct oai_request *r, struct oai_error *err)
{
    struct eng_sampler_params *sp = &r->sampler;
    int64_t top_k = sp->top_k, seed = (int64_t)sp->seed;
    bool ok = read_number(root, "temperature", 0, 2, &sp->temperature, err) &&
              read_number(root, "top_p", 0, 1, &sp->top_p, err) &&
              read_number(root, "min_p", 0, 1, &sp->min_p, err) &&
              read_number(root, "frequency_penalty", -2, 2, &sp->frequency_penalty, err) &&
              read_number(root, "presence_penalty", -2, 2, &sp->presence_penalty, err) &&
              read_number(root, "repeat_penalty", 0, 10, &sp->repeat_penalty, err) &&
              read_integer(root, "top_k", 0, 1 << 20, &top_k, err) &&
              read_integer(root, "seed", G_MININT64, G_MAXINT64, &seed, err);
    sp->top_k = (int)top_k;
    sp->seed = (uint64_t)seed;
    return ok;
}

/* Fields that would change the answer and are not implemented. */
static bool refuse_unsupported(JsonObject *root, struct oai_error *err)
{
    int64_t n = 1;
    if (!read_integer(root, "n", 1, 128, &n, err))
        return false;
    if (n != 1)
        return oai_error_set(err, 400, "n", "only n=1 is supported");
    bool logprobs = false;
    if (!read_bool(root, "logprobs", &logprobs, err))
        return false;
    if (logprobs)
        return oai_error_set(err, 400, "logprobs", "logprobs are not supported");
    JsonNode *tools = member(root, "tools");
    if (tools &&
        (!JSON_NODE_HOLDS_ARRAY(tools) || json_array_get_length(json_node_get_array(tools))))
        return oai_error_set(err, 400, "tools", "tools are not supported");
    return true;
}

/* ---- response_format: a JSON schema as the engine's eng_schema -------------------- */

#define SCHEMA_PARAM "response_format"
#define SCHEMA_MAX_PROPERTIES 64
#define SCHEMA_MAX_CHARS 4096

/* Zeroed memory owned by mem (freed with it). */
static void *schema_alloc(GPtrArray *mem, size_t size)
{
    void *p = g_malloc0(size);
    g_ptr_array_add(mem, p);
    return p;
}

/* Whether text can be a key or choice of the engine's compact JSON: no
 * quote, backslash or control character. */
static bool schema_plain_text(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p == '"' || *p == '\\' || *p < 0x20)
            return false;
    return true;
}

/* An integer keyword within [lo, hi] into *out (absent leaves it). */
static bool schema_int(JsonObject *obj, const char *name, int lo, int hi, int *out,
                       struct oai_error *err)
{
    int64_t v = *out;
    JsonNode *node = member(obj, name);
    if (node && (!is_integer(node) || json_node_get_int(node) < lo || json_node_get_int(node) > hi))
        return oai_error_set(err, 400, SCHEMA_PARAM,
                             "schema: '%s' must be an integer from %d to %d", name, lo, hi);
    if (node)
        v = json_node_get_int(node);
    *out = (int)v;
    return true;
}

static struct eng_schema *read_schema(JsonNode *node, GPtrArray *mem, int depth,
                                      struct oai_error *err);

static bool read_schema_string(JsonObject *obj, struct eng_schema *out, GPtrArray *mem,
                               struct oai_error *err)
{
    JsonNode *choices = member(obj, "enum");
    if (choices) {
        JsonArray *arr = JSON_NODE_HOLDS_ARRAY(choices) ? json_node_get_array(choices) : NULL;
        guint n = arr ? json_array_get_length(arr) : 0;
        if (n < 1 || n > 32)
            return oai_error_set(err, 400, SCHEMA_PARAM, "schema: 'enum' needs 1 to 32 strings");
        const char **texts = schema_alloc(mem, sizeof(char *) * n);
        for (guint i = 0; i < n; i++) {
            JsonNode *c = json_array_get_element(arr, i);
            if (!is_string(c) || !schema_plain_text(json_node_get_string(c)))
                return oai_error_set(err, 400, SCHEMA_PARAM,
                                     "schema: 'enum' values must be "
                                     "strings without quotes, backslashes or control characters");
            texts[i] = json_node_get_string(c); /* the parser's tree lives as long as mem */
        }
        out->choices = texts;
        out->n_choices = (int)n;
        return true;
    }
    out->max_chars = 64;
    return schema_int(obj, "minLength", 0, SCHEMA_MAX_CHARS, &out->min_chars, err) &&
           schema_int(obj, "maxLength", 1, SCHEMA_MAX_CHARS, &out->max_chars, err) &&
           (out->min_chars <= out->max_chars ||
            oai_error_set(err, 400, SCHEMA_PARAM, "schema: minLength exceeds maxLength"));
}

static bool read_schema_number(JsonObject *obj, struct eng_schema *out, struct oai_error *err)
{
    out->minimum = 0;
    out->maximum = 1e15;
    const char *names[2] = {"minimum", "maximum"};
    double *values[2] = {&out->minimum, &out->maximum};
    for (int i = 0; i < 2; i++) {
        JsonNode *node = member(obj, names[i]);
        if (node && !is_number(node))
            return oai_error_set(err, 400, SCHEMA_PARAM, "schema: '%s' must be a number", names[i]);
        if (node)
            *values[i] = json_node_get_double(node);
    }
    if (!(out->minimum >= 0 && out->minimum <= out->maximum && out->maximum <= 1e15))
        return oai_error_set(err, 400, SCHEMA_PARAM,
                             "schema: numbers must lie within "
                             "0 <= minimum <= maximum <= 1e15");
    return true;
}

static bool read_schema_array(JsonObject *obj, struct eng_schema *out, GPtrArray *mem, int depth,
                              struct oai_error *err)
{
    JsonNode *items = member(obj, "items");
    if (!items)
        return oai_error_set(err, 400, SCHEMA_PARAM, "schema: an array needs 'items'");
    out->max_items = 8;
    return (out->items = read_schema(items, mem, depth + 1, err)) &&
           schema_int(obj, "minItems", 0, 256, &out->min_items, err) &&
           schema_int(obj, "maxItems", 1, 256, &out->max_items, err) &&
           (out->min_items <= out->max_items ||
            oai_error_set(err, 400, SCHEMA_PARAM, "schema: minItems exceeds maxItems"));
}

static bool read_schema_object(JsonObject *obj, struct eng_schema *out, GPtrArray *mem, int depth,
                               struct oai_error *err)
{
    JsonNode *props = member(obj, "properties");
    if (!props || !JSON_NODE_HOLDS_OBJECT(props))
        return oai_error_set(err, 400, SCHEMA_PARAM, "schema: an object needs 'properties'");
    JsonObject *p = json_node_get_object(props);
    GList *names = json_object_get_members(p); /* in the document's order */
    guint n = g_list_length(names);
    bool ok = n >= 1 && n <= SCHEMA_MAX_PROPERTIES;
    if (!ok)
        oai_error_set(err, 400, SCHEMA_PARAM, "schema: an object needs 1 to %d properties",
                      SCHEMA_MAX_PROPERTIES);
    struct eng_schema_property *list =
        schema_alloc(mem, sizeof(struct eng_schema_property) * MAX(n, 1));
    int i = 0;
    for (GList *l = names; ok && l; l = l->next, i++) {
        list[i].name = l->data;
        ok = schema_plain_text(l->data) ||
             oai_error_set(err, 400, SCHEMA_PARAM,
                           "schema: property names may not hold "
                           "quotes, backslashes or control characters");
        ok = ok && (list[i].schema =
                        read_schema(json_object_get_member(p, l->data), mem, depth + 1, err));
    }
    g_list_free(names);
    out->properties = list;
    out->n_properties = (int)n;
    return ok;
}

/* One schema node: type string (with enum, minLength, maxLength), integer
 * or number (minimum, maximum), boolean, array (items, minItems, maxItems)
 * or object (properties, all of them required, in order). */
static struct eng_schema *read_schema(JsonNode *node, GPtrArray *mem, int depth,
                                      struct oai_error *err)
{
    if (!node || !JSON_NODE_HOLDS_OBJECT(node)) {
        oai_error_set(err, 400, SCHEMA_PARAM, "schema: each schema must be an object");
        return NULL;
    }
    JsonObject *obj = json_node_get_object(node);
    JsonNode *type_node = member(obj, "type");
    const char *type = type_node && is_string(type_node) ? json_node_get_string(type_node) : "";
    struct eng_schema *out = schema_alloc(mem, sizeof *out);
    bool container = strcmp(type, "array") == 0 || strcmp(type, "object") == 0;
    bool ok;
    if (container && depth >= 8)
        ok = oai_error_set(err, 400, SCHEMA_PARAM, "schema: at most 8 levels of nesting");
    else if (strcmp(type, "string") == 0)
        ok = (out->type = ENG_SCHEMA_STRING, read_schema_string(obj, out, mem, err));
    else if (strcmp(type, "integer") == 0 || strcmp(type, "number") == 0)
        ok = (out->type = type[0] == 'i' ? ENG_SCHEMA_INTEGER : ENG_SCHEMA_NUMBER,
              read_schema_number(obj, out, err));
    else if (strcmp(type, "boolean") == 0)
        ok = (out->type = ENG_SCHEMA_BOOLEAN, true);
    else if (strcmp(type, "array") == 0)
        ok = (out->type = ENG_SCHEMA_ARRAY, read_schema_array(obj, out, mem, depth, err));
    else if (strcmp(type, "object") == 0)
        ok = (out->type = ENG_SCHEMA_OBJECT, read_schema_object(obj, out, mem, depth, err));
    else
        ok = oai_error_set(err, 400, SCHEMA_PARAM,
                           "schema: type '%s' is not supported (string, "
                           "integer, number, boolean, array or object)",
                           type);
    return ok ? out : NULL;
}

/* response_format: "text", or "json_schema" with json_schema.schema, whose
 * root must be an object or an array. The request keeps a reference to the
 * parsed body (r->schema_doc), which holds the strings the schema points at. */
static bool read_response_format(JsonNode *doc, struct oai_request *r, struct oai_error *err)
{
    JsonNode *format = member(json_node_get_object(doc), "response_format");
    if (!format)
        return true;
    JsonNode *type =
        JSON_NODE_HOLDS_OBJECT(format) ? member(json_node_get_object(format), "type") : NULL;
    if (!type || !is_string(type))
        return oai_error_set(err, 400, SCHEMA_PARAM, "'response_format' needs a 'type'");
    const char *kind = json_node_get_string(type);
    if (strcmp(kind, "text") == 0)
        return true;
    if (strcmp(kind, "json_schema") != 0)
        return oai_error_set(err, 400, SCHEMA_PARAM,
                             "response_format '%s' is not supported "
                             "(text or json_schema)",
                             kind);
    JsonNode *spec = member(json_node_get_object(format), "json_schema");
    JsonNode *schema =
        spec && JSON_NODE_HOLDS_OBJECT(spec) ? member(json_node_get_object(spec), "schema") : NULL;
    if (!schema)
        return oai_error_set(err, 400, SCHEMA_PARAM, "json_schema needs a 'schema' object");
    r->schema_mem = g_ptr_array_new_with_free_func(g_free);
    r->schema_doc = json_node_ref(doc);
    r->schema = read_schema(schema, r->schema_mem, 0, err);
    if (r->schema && r->schema->type != ENG_SCHEMA_OBJECT && r->schema->type != ENG_SCHEMA_ARRAY)
        return oai_error_set(err, 400, SCHEMA_PARAM,
                             "the schema's root must be an object or "
                             "an array");
    return r->schema != NULL;
}

static bool read_options(JsonObject *root, struct oai_request *r, struct oai_error *err)
{
    JsonNode *model = member(root, "model");
    if (model && !is_string(model))
        return oai_error_set(err, 400, "model", "'model' must be a string");
    if (!read_bool(root, "stream", &r->stream, err))
        return false;
    JsonNode *so = member(root, "stream_options");
    if (so && !JSON_NODE_HOLDS_OBJECT(so))
        return oai_error_set(err, 400, "stream_options", "'stream_options' must be an object");
    if (so && !read_bool(json_node_get_object(so), "include_usage", &r->include_usage, err))
        return false;
    JsonNode *kwargs = member(root, "chat_template_kwargs");
    if (kwargs && !JSON_NODE_HOLDS_OBJECT(kwargs))
        return oai_error_set(err, 400, "chat_template_kwargs",
                             "'chat_template_kwargs' must be "
                             "an object");
    if (kwargs &&
        !read_bool(json_node_get_object(kwargs), "enable_thinking", &r->enable_thinking, err))
        return false;
    int64_t max_tokens = -1;
    if (!read_integer(root, "max_tokens", 1, G_MAXINT32, &max_tokens, err) ||
        !read_integer(root, "max_completion_tokens", 1, G_MAXINT32, &max_tokens, err))
        return false;
    r->max_tokens = (int)max_tokens;
    return refuse_unsupported(root, err) && read_sampling(root, r, err) && read_stop(root, r, err);
}

bool oai_request_parse(const char *body, size_t len, const struct oai_limits *limits,
                       struct oai_request *out, struct oai_error *err)
{
    memset(out, 0, sizeof *out);
    out->max_tokens = -1;
    out->enable_thinking = true;
    out->sampler = eng_sampler_params_default();
    if (!json_depth_ok(body, len))
        return oai_error_set(err, 400, NULL, "the JSON body nests deeper than %d levels",
                             OAI_MAX_JSON_DEPTH);
    JsonParser *parser = json_parser_new_immutable();
    GError *error = NULL;
    bool ok = json_parser_load_from_data(parser, body, (gssize)len, &error);
    JsonNode *root = ok ? json_parser_get_root(parser) : NULL;
    if (!ok)
        oai_error_set(err, 400, NULL, "the body is not valid JSON: %s", error->message);
    else if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        ok = oai_error_set(err, 400, NULL, "the body must be a JSON object");
    else
        ok = read_options(json_node_get_object(root), out, err) &&
             read_response_format(root, out, err) &&
             read_messages(json_node_get_object(root), limits, out, err);
    g_clear_error(&error);
    g_object_unref(parser);
    return ok;
}

void oai_request_clear(struct oai_request *r)
{
    for (size_t i = 0; i < r->n_messages; i++) {
        g_free(r->messages[i].role);
        g_free(r->messages[i].content);
    }
    g_free(r->messages);
    for (int i = 0; i < r->n_images; i++)
        g_bytes_unref(r->images[i]);
    for (int i = 0; i < r->n_stop; i++)
        g_free(r->stop[i]);
    if (r->schema_mem)
        g_ptr_array_unref(r->schema_mem);
    if (r->schema_doc)
        json_node_unref(r->schema_doc);
    memset(r, 0, sizeof *r);
}

/* ---- writing ---------------------------------------------------------------------- */

/* The builder's value as compact JSON; consumes the builder. */
static char *finish_json(JsonBuilder *b)
{
    JsonNode *root = json_builder_get_root(b);
    JsonGenerator *gen = json_generator_new();
    json_generator_set_root(gen, root);
    char *text = json_generator_to_data(gen, NULL);
    g_object_unref(gen);
    json_node_unref(root);
    g_object_unref(b);
    return text;
}

static void add_string_or_null(JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name(b, name);
    if (value)
        json_builder_add_string_value(b, value);
    else
        json_builder_add_null_value(b);
}

char *oai_error_json(const struct oai_error *err)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "error");
    json_builder_begin_object(b);
    add_string_or_null(b, "message", err->message);
    add_string_or_null(b, "type", err->type ? err->type : "invalid_request_error");
    add_string_or_null(b, "param", err->param);
    add_string_or_null(b, "code", err->code);
    json_builder_end_object(b);
    json_builder_end_object(b);
    return finish_json(b);
}

/* One model object: id, object, created, owned_by. */
static void add_model(JsonBuilder *b, const char *model_id, int64_t created)
{
    json_builder_begin_object(b);
    add_string_or_null(b, "id", model_id);
    add_string_or_null(b, "object", "model");
    json_builder_set_member_name(b, "created");
    json_builder_add_int_value(b, created);
    add_string_or_null(b, "owned_by", "wenshu");
    json_builder_end_object(b);
}

char *oai_models_json(const char *model_id, int64_t created)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    add_string_or_null(b, "object", "list");
    json_builder_set_member_name(b, "data");
    json_builder_begin_array(b);
    add_model(b, model_id, created);
    json_builder_end_array(b);
    json_builder_end_object(b);
    return finish_json(b);
}

char *oai_model_json(const char *model_id, int64_t created)
{
    JsonBuilder *b = json_builder_new();
    add_model(b, model_id, created);
    return finish_json(b);
}

/* "id", "object", "created", "model" of a completion or chunk. */
static void add_head(JsonBuilder *b, const char *id, const char *object, int64_t created,
                     const char *model)
{
    add_string_or_null(b, "id", id);
    add_string_or_null(b, "object", object);
    json_builder_set_member_name(b, "created");
    json_builder_add_int_value(b, created);
    add_string_or_null(b, "model", model);
}

static void add_usage(JsonBuilder *b, int prompt_tokens, int completion_tokens)
{
    json_builder_set_member_name(b, "usage");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "prompt_tokens");
    json_builder_add_int_value(b, prompt_tokens);
    json_builder_set_member_name(b, "completion_tokens");
    json_builder_add_int_value(b, completion_tokens);
    json_builder_set_member_name(b, "total_tokens");
    json_builder_add_int_value(b, prompt_tokens + completion_tokens);
    json_builder_end_object(b);
}

char *oai_completion_json(const char *id, int64_t created, const char *model, const char *text,
                          const char *finish_reason, int prompt_tokens, int completion_tokens)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    add_head(b, id, "chat.completion", created, model);
    json_builder_set_member_name(b, "choices");
    json_builder_begin_array(b);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "index");
    json_builder_add_int_value(b, 0);
    json_builder_set_member_name(b, "message");
    json_builder_begin_object(b);
    add_string_or_null(b, "role", "assistant");
    add_string_or_null(b, "content", text);
    json_builder_end_object(b);
    add_string_or_null(b, "logprobs", NULL);
    add_string_or_null(b, "finish_reason", finish_reason);
    json_builder_end_object(b);
    json_builder_end_array(b);
    add_usage(b, prompt_tokens, completion_tokens);
    json_builder_end_object(b);
    return finish_json(b);
}

char *oai_chunk_json(const char *id, int64_t created, const char *model, const char *role,
                     const char *content, const char *finish_reason)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    add_head(b, id, "chat.completion.chunk", created, model);
    json_builder_set_member_name(b, "choices");
    json_builder_begin_array(b);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "index");
    json_builder_add_int_value(b, 0);
    json_builder_set_member_name(b, "delta");
    json_builder_begin_object(b);
    if (role)
        add_string_or_null(b, "role", role);
    if (content)
        add_string_or_null(b, "content", content);
    json_builder_end_object(b);
    add_string_or_null(b, "logprobs", NULL);
    add_string_or_null(b, "finish_reason", finish_reason);
    json_builder_end_object(b);
    json_builder_end_array(b);
    json_builder_end_object(b);
    return finish_json(b);
}

char *oai_usage_chunk_json(const char *id, int64_t created, const char *model, int prompt_tokens,
                           int completion_tokens)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    add_head(b, id, "chat.completion.chunk", created, model);
    json_builder_set_member_name(b, "choices");
    json_builder_begin_array(b);
    json_builder_end_array(b);
    add_usage(b, prompt_tokens, completion_tokens);
    json_builder_end_object(b);
    return finish_json(b);
}
