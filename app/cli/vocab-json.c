/* vocab-json.c: a Hugging Face tokenizer.json (+ tokenizer_config.json) read
 * into struct eng_vocab, the form the GGUF keys tokenizer.ggml.* hold.
 *
 * The mapping follows llama.cpp's converter: model.vocab gives NORMAL tokens,
 * added_tokens override them (special: CONTROL, otherwise USER_DEFINED), and
 * ids left without a token become "[PAD<id>]" UNUSED so the array is dense.
 * Merges may be "a b" strings or ["a", "b"] pairs. The pre-tokenizer id is
 * the caller's, or is recognised from the pre_tokenizer regex.
 */
#include "vocab-json.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define VOCAB_MAX_TOKENS (1 << 24)

struct vocab_json {
    struct eng_vocab vocab; /* points into the fields below */
    GStringChunk *strings;  /* every string the vocab points at */
    const char **tokens;    /* [n_tokens] */
    int32_t *types;         /* [n_tokens] */
    const char **merges;    /* [n_merges] */
};

static GQuark vocab_json_error_quark(void)
{
    return g_quark_from_static_string("wenshu-vocab-json-error");
}

static gboolean fail(GError **error, const char *path, const char *what)
{
    g_set_error(error, vocab_json_error_quark(), 1, "%s: %s", path, what);
    return FALSE;
}

static JsonObject *object_member(JsonObject *obj, const char *name)
{
    JsonNode *node = obj ? json_object_get_member(obj, name) : NULL;
    return node && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
}

static JsonArray *array_member(JsonObject *obj, const char *name)
{
    JsonNode *node = obj ? json_object_get_member(obj, name) : NULL;
    return node && JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
}

/* A string member, or the "content" of an object member (AddedToken form). */
static const char *string_or_content(JsonObject *obj, const char *name)
{
    JsonNode *node = obj ? json_object_get_member(obj, name) : NULL;
    if (node && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING)
        return json_node_get_string(node);
    JsonObject *o = object_member(obj, name);
    if (o && json_object_has_member(o, "content"))
        return json_object_get_string_member(o, "content");
    return NULL;
}

static gboolean int_node(JsonNode *node, gint64 *out)
{
    if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64)
        return FALSE;
    *out = json_node_get_int(node);
    return TRUE;
}

/* Highest id named by model.vocab and added_tokens, or -1 after an error. */
static gint64 max_token_id(JsonObject *vocab, JsonArray *added, const char *path, GError **error)
{
    gint64 max_id = -1;
    GList *members = json_object_get_members(vocab);
    for (GList *l = members; l; l = l->next) {
        gint64 id;
        if (!int_node(json_object_get_member(vocab, l->data), &id) || id < 0 ||
            id >= VOCAB_MAX_TOKENS) {
            g_list_free(members);
            fail(error, path, "model.vocab holds an id that is not an integer in range");
            return -1;
        }
        max_id = MAX(max_id, id);
    }
    g_list_free(members);
    for (guint i = 0; added && i < json_array_get_length(added); i++) {
        JsonObject *t = json_array_get_object_element(added, i);
        gint64 id;
        if (!t || !int_node(json_object_get_member(t, "id"), &id) || id < 0 ||
            id >= VOCAB_MAX_TOKENS || !string_or_content(t, "content")) {
            fail(error, path, "added_tokens holds an entry without a valid id and content");
            return -1;
        }
        max_id = MAX(max_id, id);
    }
    if (max_id < 0)
        fail(error, path, "model.vocab is empty");
    return max_id;
}

static gboolean load_tokens(struct vocab_json *vj, JsonObject *model, JsonArray *added,
                            const char *path, GError **error)
{
    JsonObject *vocab = object_member(model, "vocab");
    if (!vocab)
        return fail(error, path, "model.vocab is missing or not an object");
    gint64 max_id = max_token_id(vocab, added, path, error);
    if (max_id < 0)
        return FALSE;
    size_t n = (size_t)max_id + 1;
    vj->tokens = g_new0(const char *, n);
    vj->types = g_new0(int32_t, n);
    vj->vocab.n_tokens = n;
    GList *members = json_object_get_members(vocab);
    for (GList *l = members; l; l = l->next) {
        gint64 id = json_object_get_int_member(vocab, l->data);
        vj->tokens[id] = g_string_chunk_insert(vj->strings, l->data);
        vj->types[id] = 1; /* NORMAL */
    }
    g_list_free(members);
    for (guint i = 0; added && i < json_array_get_length(added); i++) {
        JsonObject *t = json_array_get_object_element(added, i);
        gint64 id = json_object_get_int_member(t, "id");
        gboolean special = json_object_get_boolean_member_with_default(t, "special", FALSE);
        vj->tokens[id] = g_string_chunk_insert(vj->strings, string_or_content(t, "content"));
        vj->types[id] = special ? 3 : 4; /* CONTROL : USER_DEFINED */
    }
    for (size_t id = 0; id < n; id++) {
        if (vj->tokens[id])
            continue;
        char pad[32];
        g_snprintf(pad, sizeof pad, "[PAD%zu]", id);
        vj->tokens[id] = g_string_chunk_insert(vj->strings, pad);
        vj->types[id] = 5; /* UNUSED */
    }
    return TRUE;
}

static gboolean load_merges(struct vocab_json *vj, JsonObject *model, const char *path,
                            GError **error)
{
    JsonArray *merges = array_member(model, "merges");
    if (!merges)
        return fail(error, path, "model.merges is missing or not an array");
    guint n = json_array_get_length(merges);
    vj->merges = g_new0(const char *, n ? n : 1);
    for (guint i = 0; i < n; i++) {
        JsonNode *node = json_array_get_element(merges, i);
        if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
            vj->merges[i] = g_string_chunk_insert(vj->strings, json_node_get_string(node));
            continue;
        }
        JsonArray *pair = JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
        JsonNode *a =
            pair && json_array_get_length(pair) == 2 ? json_array_get_element(pair, 0) : NULL;
        JsonNode *b =
            pair && json_array_get_length(pair) == 2 ? json_array_get_element(pair, 1) : NULL;
        if (!a || !b || json_node_get_value_type(a) != G_TYPE_STRING ||
            json_node_get_value_type(b) != G_TYPE_STRING) {
            g_autofree char *what =
                g_strdup_printf("model.merges[%u] is neither \"a b\" nor [a, b]", i);
            return fail(error, path, what);
        }
        g_autofree char *joined =
            g_strconcat(json_node_get_string(a), " ", json_node_get_string(b), NULL);
        vj->merges[i] = g_string_chunk_insert(vj->strings, joined);
    }
    vj->vocab.n_merges = n;
    return TRUE;
}

/* Recognise the pre-tokenizer from the file's pre_tokenizer section. */
static const char *guess_pre(JsonObject *root)
{
    JsonNode *node = json_object_get_member(root, "pre_tokenizer");
    if (!node || JSON_NODE_HOLDS_NULL(node))
        return NULL;
    g_autofree char *text = json_to_string(node, FALSE);
    /* json_to_string escapes backslashes: \p{N} reads \\p{N} here. */
    if (strstr(text, "[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}|"))
        return "qwen2";
    if (strstr(text, "\\\\p{N}{1,3}"))
        return "llama-bpe";
    if (strstr(text, "\"Digits\"") && strstr(text, "\"ByteLevel\""))
        return "smollm";
    if (strstr(text, "\"ByteLevel\"") && !strstr(text, "\"Split\""))
        return "gpt-2";
    return NULL;
}

static int32_t find_token(const struct vocab_json *vj, const char *text)
{
    if (!text)
        return -1;
    for (size_t i = vj->vocab.n_tokens; i-- > 0;) {
        if (strcmp(vj->tokens[i], text) == 0)
            return (int32_t)i;
    }
    return -1;
}

/* tokenizer_config.json beside path: chat template, BOS/EOS/PAD, add_bos_token. */
static gboolean load_config(struct vocab_json *vj, const char *path, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *config_path = g_build_filename(dir, "tokenizer_config.json", NULL);
    if (!g_file_test(config_path, G_FILE_TEST_EXISTS))
        return TRUE;
    g_autoptr(JsonParser) parser = json_parser_new();
    GError *local = NULL;
    if (!json_parser_load_from_file(parser, config_path, &local)) {
        g_autofree char *what = g_strdup_printf("cannot parse JSON: %s", local->message);
        g_error_free(local);
        return fail(error, config_path, what);
    }
    JsonNode *root_node = json_parser_get_root(parser);
    JsonObject *cfg = JSON_NODE_HOLDS_OBJECT(root_node) ? json_node_get_object(root_node) : NULL;
    if (!cfg)
        return fail(error, config_path, "the top level is not an object");
    const char *tmpl = string_or_content(cfg, "chat_template");
    JsonArray *tmpls = array_member(cfg, "chat_template");
    for (guint i = 0; !tmpl && tmpls && i < json_array_get_length(tmpls); i++) {
        JsonObject *t = json_array_get_object_element(tmpls, i);
        if (t &&
            g_strcmp0(json_object_get_string_member_with_default(t, "name", ""), "default") == 0)
            tmpl = json_object_get_string_member_with_default(t, "template", NULL);
    }
    if (tmpl)
        vj->vocab.chat_template = g_string_chunk_insert(vj->strings, tmpl);
    vj->vocab.bos_id = find_token(vj, string_or_content(cfg, "bos_token"));
    vj->vocab.eos_id = find_token(vj, string_or_content(cfg, "eos_token"));
    vj->vocab.pad_id = find_token(vj, string_or_content(cfg, "pad_token"));
    vj->vocab.add_bos = json_object_get_boolean_member_with_default(cfg, "add_bos_token", FALSE);
    return TRUE;
}

static gboolean load_tokenizer_json(struct vocab_json *vj, const char *path, const char *pre,
                                    GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    GError *local = NULL;
    if (!json_parser_load_from_file(parser, path, &local)) {
        g_autofree char *what = g_strdup_printf("cannot parse JSON: %s", local->message);
        g_error_free(local);
        return fail(error, path, what);
    }
    JsonNode *root_node = json_parser_get_root(parser);
    JsonObject *root = JSON_NODE_HOLDS_OBJECT(root_node) ? json_node_get_object(root_node) : NULL;
    JsonObject *model = object_member(root, "model");
    if (!model)
        return fail(error, path, "no \"model\" object (not a tokenizer.json?)");
    if (g_strcmp0(json_object_get_string_member_with_default(model, "type", "BPE"), "BPE") != 0)
        return fail(error, path, "model.type is not BPE (only byte-level BPE is supported)");
    if (!pre && !(pre = guess_pre(root)))
        return fail(error, path, "cannot recognise the pre-tokenizer; name it with --pre");
    vj->vocab.pre = g_string_chunk_insert(vj->strings, pre);
    if (!load_tokens(vj, model, array_member(root, "added_tokens"), path, error) ||
        !load_merges(vj, model, path, error))
        return FALSE;
    /* End-of-turn tokens llama.cpp also recognises by their text. */
    vj->vocab.eot_id = find_token(vj, "<|im_end|>");
    if (vj->vocab.eot_id < 0)
        vj->vocab.eot_id = find_token(vj, "<|eot_id|>");
    return TRUE;
}

gboolean vocab_json_load(const char *path, const char *pre, struct vocab_json **out, GError **error)
{
    *out = NULL;
    struct vocab_json *vj = g_new0(struct vocab_json, 1);
    vj->strings = g_string_chunk_new(1 << 20);
    vj->vocab.bos_id = vj->vocab.eos_id = vj->vocab.eot_id = vj->vocab.pad_id = -1;
    if (!load_tokenizer_json(vj, path, pre, error) || !load_config(vj, path, error)) {
        vocab_json_free(&vj);
        return FALSE;
    }
    vj->vocab.tokens = vj->tokens;
    vj->vocab.token_types = vj->types;
    vj->vocab.merges = vj->merges;
    *out = vj;
    return TRUE;
}

const struct eng_vocab *vocab_json_vocab(const struct vocab_json *vj)
{
    return &vj->vocab;
}

void vocab_json_free(struct vocab_json **vjp)
{
    if (!vjp || !*vjp)
        return;
    struct vocab_json *vj = *vjp;
    g_string_chunk_free(vj->strings);
    g_free(vj->tokens);
    g_free(vj->types);
    g_free(vj->merges);
    g_free(vj);
    *vjp = NULL;
}
