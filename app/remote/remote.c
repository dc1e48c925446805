/* remote.c: the OpenAI-compatible chat client (see remote.h). A request is
 * built with json-glib, sent with a blocking libsoup3 session made for the
 * call (the worker thread's own), and its SSE answer is read line by line:
 * each "data: {chunk}" hands choices[0].delta.content to the caller, "data:
 * [DONE]" ends it. HTTP and transport failures become one-line GErrors that
 * name the URL. The session's I/O timeout bounds the connect, the wait for
 * the answer and every wait between chunks.
 */
#include "remote.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>

#include "clip.h"

#define ERROR_BODY_MAX (64u << 10) /* bytes of an error answer read for its message */
#define MODELS_BODY_MAX (4u << 20) /* bytes of a /models answer */
#define SERVER_MESSAGE_MAX 300     /* characters of a server's message quoted */
#define VIDEO_FRAMES 6             /* frames a clip becomes for a chat API (no video parts) */
#define VIDEO_MAX_EDGE 768         /* their longest side, pixels */
#define SNIFF_BYTES 4096           /* bytes read to tell a video from an image */

GQuark wenshu_remote_error_quark(void)
{
    return g_quark_from_static_string("wenshu-remote-error-quark");
}

/* ---- endpoints
 * ---------------------------------------------------------------------- */

WenshuRemoteEndpoint *wenshu_remote_endpoint_new(const char *base_url, const char *model,
                                                 const char *api_key)
{
    WenshuRemoteEndpoint *e = g_new0(WenshuRemoteEndpoint, 1);
    e->base_url = g_strstrip(g_strdup(base_url ? base_url : ""));
    e->model = g_strstrip(g_strdup(model ? model : ""));
    e->api_key = api_key && *api_key ? g_strdup(api_key) : NULL;
    e->timeout_s = WENSHU_REMOTE_DEFAULT_TIMEOUT_S;
    return e;
}

WenshuRemoteEndpoint *wenshu_remote_endpoint_copy(const WenshuRemoteEndpoint *endpoint)
{
    g_return_val_if_fail(endpoint != NULL, NULL);
    WenshuRemoteEndpoint *e =
        wenshu_remote_endpoint_new(endpoint->base_url, endpoint->model, endpoint->api_key);
    e->timeout_s = endpoint->timeout_s;
    return e;
}

void wenshu_remote_endpoint_free(WenshuRemoteEndpoint **endpoint)
{
    if (!endpoint || !*endpoint)
        return;
    WenshuRemoteEndpoint *e = *endpoint;
    if (e->api_key)
        memset(e->api_key, 0, strlen(e->api_key)); /* do not leave the key in freed memory */
    g_free(e->api_key);
    g_free(e->base_url);
    g_free(e->model);
    g_free(e);
    *endpoint = NULL;
}

char *wenshu_remote_api_root(const char *base_url, GError **error)
{
    g_autofree char *url = g_strstrip(g_strdup(base_url ? base_url : ""));
    g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
    const char *scheme = uri ? g_uri_get_scheme(uri) : NULL;
    const char *host = uri ? g_uri_get_host(uri) : NULL;
    if (!uri || !scheme ||
        (g_ascii_strcasecmp(scheme, "http") != 0 && g_ascii_strcasecmp(scheme, "https") != 0) ||
        !host || !*host) {
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_URL,
                    "'%s' is not a server address: give an http:// or https:// URL such as "
                    "http://127.0.0.1:8080/v1",
                    url);
        return NULL;
    }
    gsize len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
        url[--len] = '\0';
    if (g_str_has_suffix(url, "/v1"))
        return g_strdup(url);
    return g_strconcat(url, "/v1", NULL);
}

char *wenshu_remote_host(const char *base_url)
{
    g_autoptr(GUri) uri = g_uri_parse(base_url ? base_url : "", G_URI_FLAGS_NONE, NULL);
    if (!uri || !g_uri_get_host(uri))
        return g_strdup("");
    if (g_uri_get_port(uri) > 0)
        return g_strdup_printf("%s:%d", g_uri_get_host(uri), g_uri_get_port(uri));
    return g_strdup(g_uri_get_host(uri));
}

/* ---- the request's JSON
 * ------------------------------------------------------------- */

static void add_schema(JsonBuilder *b, const struct eng_schema *s);

static void add_schema_string(JsonBuilder *b, const struct eng_schema *s)
{
    json_builder_set_member_name(b, "type");
    json_builder_add_string_value(b, "string");
    if (s->choices) {
        json_builder_set_member_name(b, "enum");
        json_builder_begin_array(b);
        for (int i = 0; i < s->n_choices; i++)
            json_builder_add_string_value(b, s->choices[i]);
        json_builder_end_array(b);
        return;
    }
    if (s->prefix && *s->prefix) {
        GString *pattern = g_string_new("^"); /* the prefix, regex characters escaped */
        for (const char *p = s->prefix; *p; p++) {
            if (strchr(".^$*+?()[]{}|\\/", *p))
                g_string_append_c(pattern, '\\');
            g_string_append_c(pattern, *p);
        }
        json_builder_set_member_name(b, "pattern");
        json_builder_add_string_value(b, pattern->str);
        g_string_free(pattern, TRUE);
    }
    json_builder_set_member_name(b, "minLength");
    json_builder_add_int_value(b, s->min_chars);
    json_builder_set_member_name(b, "maxLength");
    json_builder_add_int_value(b, s->max_chars > 0 ? s->max_chars : 64);
}

static void add_schema_object(JsonBuilder *b, const struct eng_schema *s)
{
    json_builder_set_member_name(b, "type");
    json_builder_add_string_value(b, "object");
    json_builder_set_member_name(b, "properties");
    json_builder_begin_object(b);
    for (int i = 0; i < s->n_properties; i++) {
        json_builder_set_member_name(b, s->properties[i].name);
        add_schema(b, s->properties[i].schema);
    }
    json_builder_end_object(b);
    json_builder_set_member_name(b, "required");
    json_builder_begin_array(b);
    for (int i = 0; i < s->n_properties; i++)
        json_builder_add_string_value(b, s->properties[i].name);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "additionalProperties");
    json_builder_add_boolean_value(b, FALSE);
}

/* minimum or maximum: an integer for an integer schema (within 0..1e15,
 * exact in a gint64), else a number. */
static void add_bound(JsonBuilder *b, const char *name, enum eng_schema_type type, double value)
{
    json_builder_set_member_name(b, name);
    if (type == ENG_SCHEMA_INTEGER)
        json_builder_add_int_value(b, (gint64)value);
    else
        json_builder_add_double_value(b, value);
}

/* One schema node as a JSON Schema object, the engine's defaults written out
 * (max_chars 0 is 64, max_items 0 is 8). */
static void add_schema(JsonBuilder *b, const struct eng_schema *s)
{
    json_builder_begin_object(b);
    switch (s->type) {
    case ENG_SCHEMA_STRING:
        add_schema_string(b, s);
        break;
    case ENG_SCHEMA_INTEGER:
    case ENG_SCHEMA_NUMBER:
        json_builder_set_member_name(b, "type");
        json_builder_add_string_value(b, s->type == ENG_SCHEMA_INTEGER ? "integer" : "number");
        add_bound(b, "minimum", s->type, s->minimum);
        add_bound(b, "maximum", s->type, s->maximum);
        break;
    case ENG_SCHEMA_BOOLEAN:
        json_builder_set_member_name(b, "type");
        json_builder_add_string_value(b, "boolean");
        break;
    case ENG_SCHEMA_ARRAY:
        json_builder_set_member_name(b, "type");
        json_builder_add_string_value(b, "array");
        json_builder_set_member_name(b, "items");
        add_schema(b, s->items);
        json_builder_set_member_name(b, "minItems");
        json_builder_add_int_value(b, s->min_items);
        json_builder_set_member_name(b, "maxItems");
        json_builder_add_int_value(b, s->max_items > 0 ? s->max_items : 8);
        break;
    case ENG_SCHEMA_OBJECT:
        add_schema_object(b, s);
        break;
    }
    json_builder_end_object(b);
}

/* The builder's value as compact JSON text (g_free); consumes the builder. */
static char *builder_to_text(JsonBuilder *b)
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

char *wenshu_remote_schema_json(const struct eng_schema *schema)
{
    g_return_val_if_fail(schema != NULL, NULL);
    JsonBuilder *b = json_builder_new();
    add_schema(b, schema);
    return builder_to_text(b);
}

/* An image file as a data: URL (g_free). Video and anything else that is not
 * an image are refused with an error naming the file. */
static char *image_data_url(const char *path, GError **error)
{
    g_autofree char *name = g_path_get_basename(path);
    g_autofree char *data = NULL; /* the file's bytes: [len] */
    gsize len = 0;
    GError *read_error = NULL;
    if (!g_file_get_contents(path, &data, &len, &read_error)) {
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_MEDIA, "%s: %s", name,
                    read_error->message);
        g_error_free(read_error);
        return NULL;
    }
    if (len > WENSHU_REMOTE_MAX_IMAGE_BYTES) {
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_MEDIA,
                    "%s: the image is larger than %u MB, too large to send", name,
                    WENSHU_REMOTE_MAX_IMAGE_BYTES >> 20);
        return NULL;
    }
    g_autofree char *type = g_content_type_guess(NULL, (const guchar *)data, len, NULL);
    g_autofree char *mime = g_content_type_get_mime_type(type);
    if (mime && g_str_has_prefix(mime, "video/")) {
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_MEDIA,
                    "%s: remote models take images, not video", name);
        return NULL;
    }
    if (!mime || !g_str_has_prefix(mime, "image/")) {
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_MEDIA,
                    "%s: not an image (%s): remote models take images only", name,
                    mime ? mime : "unknown content");
        return NULL;
    }
    g_autofree char *b64 = g_base64_encode((const guchar *)data, len);
    return g_strdup_printf("data:%s;base64,%s", mime, b64);
}

/* Whether the file's first bytes (and name) say it is a video. */
static gboolean is_video_file(const char *path)
{
    guchar head[SNIFF_BYTES];
    size_t n = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        n = fread(head, 1, sizeof head, f);
        fclose(f);
    }
    g_autofree char *type = g_content_type_guess(path, n ? head : NULL, n, NULL);
    g_autofree char *mime = g_content_type_get_mime_type(type);
    return mime && g_str_has_prefix(mime, "video/");
}

static cairo_status_t append_png_bytes(void *closure, const unsigned char *data,
                                       unsigned int length)
{
    g_byte_array_append(closure, data, length);
    return CAIRO_STATUS_SUCCESS;
}

/* An RGB frame as a PNG data: URL (lossless; g_free), or NULL. */
static char *frame_data_url(const struct eng_image *image)
{
    cairo_surface_t *surface = clip_image_surface(image);
    if (!surface)
        return NULL;
    GByteArray *png = g_byte_array_new();
    cairo_status_t st = cairo_surface_write_to_png_stream(surface, append_png_bytes, png);
    cairo_surface_destroy(surface);
    char *url = NULL;
    if (st == CAIRO_STATUS_SUCCESS) {
        g_autofree char *b64 = g_base64_encode(png->data, png->len);
        url = g_strdup_printf("data:image/png;base64,%s", b64);
    }
    g_byte_array_unref(png);
    return url;
}

static void add_text_part(JsonBuilder *b, const char *text)
{
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "type");
    json_builder_add_string_value(b, "text");
    json_builder_set_member_name(b, "text");
    json_builder_add_string_value(b, text);
    json_builder_end_object(b);
}

static void add_image_part(JsonBuilder *b, const char *url)
{
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "type");
    json_builder_add_string_value(b, "image_url");
    json_builder_set_member_name(b, "image_url");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "url");
    json_builder_add_string_value(b, url);
    json_builder_end_object(b);
    json_builder_end_object(b);
}

/* A clip as a chat API takes it (it has no video parts): VIDEO_FRAMES
 * frames sampled evenly over it, each a text part "Frame at m:ss:" and a
 * PNG image part. Errors name the file. */
static gboolean add_video_parts(JsonBuilder *b, const char *path, GError **error)
{
    struct eng_video_params params = eng_video_params_default();
    params.min_frames = 1;
    params.max_frames = VIDEO_FRAMES;
    params.fps = 1.0;
    params.max_edge = VIDEO_MAX_EDGE;
    struct eng_video *video = NULL;
    struct eng_err err = {{0}};
    if (eng_video_sample(path, &params, &video, &err) != ENG_STATUS_OK) {
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_MEDIA, "%s", err.msg);
        return FALSE;
    }
    gboolean ok = TRUE;
    for (int i = 0; i < video->n_frames; i++) {
        const struct eng_video_frame *frame = &video->frames[i];
        g_autofree char *url = frame_data_url(&frame->image);
        if (!url) {
            g_autofree char *name = g_path_get_basename(path);
            g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_MEDIA,
                        "%s: cannot encode frame %d as PNG", name, i + 1);
            ok = FALSE;
            break;
        }
        int seconds = (int)(frame->time + 0.5);
        g_autofree char *stamp = g_strdup_printf("Frame at %d:%02d:", seconds / 60, seconds % 60);
        add_text_part(b, stamp);
        add_image_part(b, url);
    }
    eng_video_free(&video);
    return ok;
}

/* ENG_MEDIA_MARKERs in text. */
static int count_markers(const char *text)
{
    int n = 0;
    for (const char *p = strstr(text, ENG_MEDIA_MARKER); p;
         p = strstr(p + strlen(ENG_MEDIA_MARKER), ENG_MEDIA_MARKER))
        n++;
    return n;
}

/* A message's content: a string, or, with markers, an array of text and
 * image_url parts in order; *next_media counts the media used. */
static gboolean add_content(JsonBuilder *b, const char *content, const WenshuRemoteChat *chat,
                            int *next_media, GError **error)
{
    json_builder_set_member_name(b, "content");
    if (chat->n_media == 0 || count_markers(content) == 0) {
        json_builder_add_string_value(b, content);
        return TRUE;
    }
    json_builder_begin_array(b);
    const char *piece = content;
    for (;;) {
        const char *mark = strstr(piece, ENG_MEDIA_MARKER);
        gsize n = mark ? (gsize)(mark - piece) : strlen(piece);
        if (n > 0) {
            g_autofree char *text = g_strndup(piece, n);
            add_text_part(b, text);
        }
        if (!mark)
            break;
        const char *path = chat->media_paths[(*next_media)++];
        if (is_video_file(path)) {
            if (!add_video_parts(b, path, error))
                return FALSE;
        } else {
            g_autofree char *url = image_data_url(path, error);
            if (!url)
                return FALSE;
            add_image_part(b, url);
        }
        piece = mark + strlen(ENG_MEDIA_MARKER);
    }
    json_builder_end_array(b);
    return TRUE;
}

static gboolean add_messages(JsonBuilder *b, const WenshuRemoteChat *chat, GError **error)
{
    int n_marks = 0;
    for (int i = 0; i < chat->n_messages; i++)
        n_marks += count_markers(chat->messages[i].content ? chat->messages[i].content : "");
    if (chat->n_media > 0 && n_marks != chat->n_media) {
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_MEDIA,
                    "the messages have %d %s markers for %d images", n_marks, ENG_MEDIA_MARKER,
                    chat->n_media);
        return FALSE;
    }
    int next_media = 0;
    json_builder_set_member_name(b, "messages");
    json_builder_begin_array(b);
    for (int i = 0; i < chat->n_messages; i++) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "role");
        json_builder_add_string_value(b, chat->messages[i].role);
        const char *content = chat->messages[i].content ? chat->messages[i].content : "";
        if (!add_content(b, content, chat, &next_media, error))
            return FALSE;
        json_builder_end_object(b);
    }
    if (chat->assistant_prefix && *chat->assistant_prefix) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "role");
        json_builder_add_string_value(b, "assistant");
        json_builder_set_member_name(b, "content");
        json_builder_add_string_value(b, chat->assistant_prefix);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    return TRUE;
}

/* The standard sampling fields of sp (see remote.h for those left out). */
static void add_sampling(JsonBuilder *b, const struct eng_sampler_params *sp)
{
    json_builder_set_member_name(b, "temperature");
    json_builder_add_double_value(b, CLAMP(sp->temperature, 0.0, 2.0));
    if (sp->top_p > 0 && sp->top_p < 1) {
        json_builder_set_member_name(b, "top_p");
        json_builder_add_double_value(b, sp->top_p);
    }
    if (sp->frequency_penalty != 0) {
        json_builder_set_member_name(b, "frequency_penalty");
        json_builder_add_double_value(b, CLAMP(sp->frequency_penalty, -2.0, 2.0));
    }
    if (sp->presence_penalty != 0) {
        json_builder_set_member_name(b, "presence_penalty");
        json_builder_add_double_value(b, CLAMP(sp->presence_penalty, -2.0, 2.0));
    }
    json_builder_set_member_name(b, "seed");
    json_builder_add_int_value(b, (gint64)(sp->seed & G_MAXINT64));
}

static void add_response_format(JsonBuilder *b, const struct eng_schema *schema)
{
    json_builder_set_member_name(b, "response_format");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "type");
    json_builder_add_string_value(b, "json_schema");
    json_builder_set_member_name(b, "json_schema");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, "reply");
    json_builder_set_member_name(b, "strict");
    json_builder_add_boolean_value(b, TRUE);
    json_builder_set_member_name(b, "schema");
    add_schema(b, schema);
    json_builder_end_object(b);
    json_builder_end_object(b);
}

/* The chat-completions body (g_free), or NULL with an error (media). */
static char *chat_body(const WenshuRemoteEndpoint *endpoint, const WenshuRemoteChat *chat,
                       GError **error)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "model");
    json_builder_add_string_value(b, endpoint->model);
    json_builder_set_member_name(b, "stream");
    json_builder_add_boolean_value(b, TRUE);
    if (!add_messages(b, chat, error)) {
        g_object_unref(b);
        return NULL;
    }
    if (chat->sampler)
        add_sampling(b, chat->sampler);
    if (chat->max_tokens > 0) {
        json_builder_set_member_name(b, "max_tokens");
        json_builder_add_int_value(b, chat->max_tokens);
    }
    if (chat->schema)
        add_response_format(b, chat->schema);
    json_builder_end_object(b);
    return builder_to_text(b);
}

/* ---- HTTP
 * -----------------------------------------------------------------------------
 */

static int endpoint_timeout(const WenshuRemoteEndpoint *endpoint)
{
    return endpoint->timeout_s > 0 ? endpoint->timeout_s : WENSHU_REMOTE_DEFAULT_TIMEOUT_S;
}

static SoupSession *session_new(const WenshuRemoteEndpoint *endpoint)
{
    return soup_session_new_with_options("timeout", (guint)endpoint_timeout(endpoint), "user-agent",
                                         "wenshu", NULL);
}

/* A message for url with the key's Authorization header. */
static SoupMessage *message_new(const WenshuRemoteEndpoint *endpoint, const char *method,
                                const char *url, GError **error)
{
    SoupMessage *msg = soup_message_new(method, url);
    if (!msg) {
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_URL,
                    "'%s' is not a valid server address", url);
        return NULL;
    }
    if (endpoint->api_key && *endpoint->api_key) {
        g_autofree char *value = g_strconcat("Bearer ", endpoint->api_key, NULL);
        soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization", value);
    }
    return msg;
}

/* A transport failure (no HTTP answer, or a read that failed) as our error,
 * naming url. */
static void set_transport_error(GError **error, const GError *cause, const char *url, int timeout_s,
                                const char *when)
{
    if (g_error_matches(cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_CANCELLED, "%s: stopped", url);
    else if (g_error_matches(cause, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_TIMEOUT,
                    "%s: timed out: no answer within %d s %s", url, timeout_s, when);
    else if (cause->domain == G_RESOLVER_ERROR)
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_CONNECT,
                    "%s: cannot find the server: %s", url, cause->message);
    else if (g_error_matches(cause, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_CONNECT,
                    "%s: the connection was refused (is the server running?)", url);
    else
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_CONNECT,
                    "%s: cannot reach the server: %s", url, cause->message);
}

/* Up to max bytes of in (the rest is left unread). NULL on a read error. */
static GBytes *read_body(GInputStream *in, gsize max, GCancellable *cancellable, GError **error)
{
    GByteArray *all = g_byte_array_new();
    guint8 buf[16384]; /* one read: [sizeof buf] */
    while (all->len < max) {
        gssize n =
            g_input_stream_read(in, buf, MIN(sizeof buf, max - all->len), cancellable, error);
        if (n < 0) {
            g_byte_array_unref(all);
            return NULL;
        }
        if (n == 0)
            break;
        g_byte_array_append(all, buf, (guint)n);
    }
    return g_byte_array_free_to_bytes(all);
}

/* text's first SERVER_MESSAGE_MAX characters on one line (g_free). */
static char *one_line(const char *text)
{
    /* g_utf8_substring reads past the end when asked for more than there is */
    char *line = g_utf8_substring(text, 0, MIN(g_utf8_strlen(text, -1), SERVER_MESSAGE_MAX));
    g_strdelimit(g_strstrip(line), "\r\n\t", ' ');
    return line;
}

/* The message of an OpenAI error object ({"error": {"message": ...}} or
 * {"error": "..."}) in body, else the body's start when it is UTF-8 text;
 * "" when neither. Ownership: the caller frees it. */
static char *server_message(GBytes *body)
{
    gsize len = 0;
    const char *data = body ? g_bytes_get_data(body, &len) : NULL;
    if (!data || len == 0)
        return g_strdup("");
    g_autoptr(JsonParser) parser = json_parser_new();
    if (json_parser_load_from_data(parser, data, (gssize)len, NULL)) {
        JsonNode *root = json_parser_get_root(parser);
        JsonObject *obj = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
        JsonNode *err = obj ? json_object_get_member(obj, "error") : NULL;
        if (err && JSON_NODE_HOLDS_OBJECT(err)) {
            JsonNode *m = json_object_get_member(json_node_get_object(err), "message");
            if (m && JSON_NODE_HOLDS_VALUE(m) && json_node_get_value_type(m) == G_TYPE_STRING)
                return one_line(json_node_get_string(m));
        }
        if (err && JSON_NODE_HOLDS_VALUE(err) && json_node_get_value_type(err) == G_TYPE_STRING)
            return one_line(json_node_get_string(err));
    }
    if (!g_utf8_validate(data, (gssize)len, NULL))
        return g_strdup("");
    g_autofree char *text = g_strndup(data, len);
    return one_line(g_strstrip(text));
}

/* A non-200 answer as our error, naming url and quoting the server. */
static void set_http_error(GError **error, SoupMessage *msg, GBytes *body, const char *url,
                           const char *model)
{
    guint status = soup_message_get_status(msg);
    g_autofree char *said = server_message(body);
    g_autofree char *quote = *said ? g_strdup_printf(" (the server said: %s)", said) : g_strdup("");
    if (status == 401 || status == 403) {
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_AUTH,
                    "%s: the API key was refused (HTTP %u)%s", url, status, quote);
    } else if (status == 404) {
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_NOT_FOUND,
                    "%s: not found (HTTP 404): no model '%s' there, or a wrong base URL%s", url,
                    model, quote);
    } else if (status == 429) {
        const char *after =
            soup_message_headers_get_one(soup_message_get_response_headers(msg), "Retry-After");
        g_autofree char *when = after ? g_strdup_printf("; retry after %s%s", after,
                                                        g_ascii_isdigit(after[0]) ? " seconds" : "")
                                      : g_strdup("; retry later");
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_RATE_LIMIT,
                    "%s: too many requests (HTTP 429)%s%s", url, when, quote);
    } else {
        const char *phrase = soup_message_get_reason_phrase(msg);
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_SERVER,
                    "%s: the server answered HTTP %u %s%s", url, status, phrase ? phrase : "",
                    quote);
    }
}

/* Send msg; on HTTP 200 return the body stream. Otherwise NULL with our error.
 */
static GInputStream *send_checked(SoupSession *session, SoupMessage *msg,
                                  const WenshuRemoteEndpoint *endpoint, const char *url,
                                  GCancellable *cancellable, GError **error)
{
    GError *cause = NULL;
    GInputStream *in = soup_session_send(session, msg, cancellable, &cause);
    if (!in) {
        set_transport_error(error, cause, url, endpoint_timeout(endpoint), "to connect and reply");
        g_error_free(cause);
        return NULL;
    }
    if (soup_message_get_status(msg) == SOUP_STATUS_OK)
        return in;
    GBytes *body = read_body(in, ERROR_BODY_MAX, cancellable, NULL);
    set_http_error(error, msg, body, url, endpoint->model);
    if (body)
        g_bytes_unref(body);
    g_object_unref(in);
    return NULL;
}

/* ---- chat
 * -----------------------------------------------------------------------------
 */

/* How one SSE line went. */
typedef enum { LINE_MORE, LINE_DONE, LINE_STOP, LINE_ERROR } LineResult;

/* One "data:" payload: a chunk (its delta goes to the caller), an error
 * object, or [DONE]. */
static LineResult handle_data(const char *payload, const WenshuRemoteChat *chat, const char *url,
                              int *n_deltas, GError **error)
{
    if (strcmp(payload, "[DONE]") == 0)
        return LINE_DONE;
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonNode *root =
        json_parser_load_from_data(parser, payload, -1, NULL) ? json_parser_get_root(parser) : NULL;
    JsonObject *obj = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
    if (!obj) {
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_PROTOCOL,
                    "%s: the stream holds something that is not a JSON chunk", url);
        return LINE_ERROR;
    }
    if (json_object_has_member(obj, "error")) {
        g_autoptr(GBytes) body = g_bytes_new(payload, strlen(payload));
        g_autofree char *said = server_message(body);
        g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_SERVER,
                    "%s: the server stopped the reply with an error: %s", url, said);
        return LINE_ERROR;
    }
    JsonNode *choices = json_object_get_member(obj, "choices");
    JsonArray *list =
        choices && JSON_NODE_HOLDS_ARRAY(choices) ? json_node_get_array(choices) : NULL;
    JsonNode *first =
        list && json_array_get_length(list) > 0 ? json_array_get_element(list, 0) : NULL;
    JsonNode *delta_node = first && JSON_NODE_HOLDS_OBJECT(first)
                               ? json_object_get_member(json_node_get_object(first), "delta")
                               : NULL;
    JsonObject *delta =
        delta_node && JSON_NODE_HOLDS_OBJECT(delta_node) ? json_node_get_object(delta_node) : NULL;
    JsonNode *content = delta ? json_object_get_member(delta, "content") : NULL;
    if (!content || !JSON_NODE_HOLDS_VALUE(content) ||
        json_node_get_value_type(content) != G_TYPE_STRING)
        return LINE_MORE; /* the role chunk, a finish chunk, the usage chunk */
    const char *text = json_node_get_string(content);
    if (!*text)
        return LINE_MORE;
    (*n_deltas)++;
    if (chat->on_text && !chat->on_text(text, strlen(text), chat->user_data))
        return LINE_STOP;
    return LINE_MORE;
}

static gboolean cancel_asked(const WenshuRemoteChat *chat)
{
    return (chat->cancel_flag && g_atomic_int_get((const volatile gint *)chat->cancel_flag)) ||
           g_cancellable_is_cancelled(chat->cancellable);
}

/* Read the SSE stream until [DONE]. */
static gboolean read_stream(GInputStream *in, const WenshuRemoteChat *chat,
                            const WenshuRemoteEndpoint *endpoint, const char *url, int *n_deltas,
                            GError **error)
{
    g_autoptr(GDataInputStream) lines = g_data_input_stream_new(in);
    g_data_input_stream_set_newline_type(lines, G_DATA_STREAM_NEWLINE_TYPE_ANY);
    for (;;) {
        if (cancel_asked(chat)) {
            g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_CANCELLED, "%s: stopped",
                        url);
            return FALSE;
        }
        GError *cause = NULL;
        gsize len = 0;
        g_autofree char *line =
            g_data_input_stream_read_line(lines, &len, chat->cancellable, &cause);
        if (!line && cause &&
            (g_error_matches(cause, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
             g_error_matches(cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))) {
            set_transport_error(error, cause, url, endpoint_timeout(endpoint),
                                "between two pieces of the reply (the text so far is kept)");
            g_error_free(cause);
            return FALSE;
        }
        if (!line) {
            g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_DROPPED,
                        "%s: the stream dropped before the reply was complete (after %d "
                        "pieces; the text so far is kept)%s%s",
                        url, *n_deltas, cause ? ": " : "", cause ? cause->message : "");
            g_clear_error(&cause);
            return FALSE;
        }
        if (!g_str_has_prefix(line, "data:"))
            continue; /* blank separators, ": comments", event: and id: fields */
        const char *payload = line + 5;
        if (*payload == ' ')
            payload++;
        switch (handle_data(payload, chat, url, n_deltas, error)) {
        case LINE_MORE:
            break;
        case LINE_DONE:
            return TRUE;
        case LINE_STOP:
            g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_CANCELLED, "%s: stopped",
                        url);
            return FALSE;
        case LINE_ERROR:
            return FALSE;
        }
    }
}

gboolean wenshu_remote_chat(const WenshuRemoteEndpoint *endpoint, const WenshuRemoteChat *chat,
                            int *n_deltas, GError **error)
{
    g_return_val_if_fail(endpoint != NULL && chat != NULL, FALSE);
    g_return_val_if_fail(chat->n_messages > 0 && chat->messages != NULL, FALSE);
    int n_delivered = 0;
    if (n_deltas)
        *n_deltas = 0;
    g_autofree char *root = wenshu_remote_api_root(endpoint->base_url, error);
    if (!root)
        return FALSE;
    g_autofree char *url = g_strconcat(root, "/chat/completions", NULL);
    g_autofree char *body = chat_body(endpoint, chat, error);
    if (!body)
        return FALSE;
    SoupMessage *msg = message_new(endpoint, "POST", url, error);
    if (!msg)
        return FALSE;
    gsize body_len = strlen(body);
    g_autoptr(GBytes) bytes = g_bytes_new_take(g_steal_pointer(&body), body_len);
    soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
    soup_message_headers_replace(soup_message_get_request_headers(msg), "Accept",
                                 "text/event-stream");
    SoupSession *session = session_new(endpoint);
    gboolean ok = FALSE;
    GInputStream *in = send_checked(session, msg, endpoint, url, chat->cancellable, error);
    if (in) {
        ok = read_stream(in, chat, endpoint, url, &n_delivered, error);
        g_input_stream_close(in, NULL, NULL);
        g_object_unref(in);
    }
    if (n_deltas)
        *n_deltas = n_delivered;
    g_object_unref(msg);
    g_object_unref(session);
    return ok;
}

/* ---- models
 * ---------------------------------------------------------------------------
 */

/* The ids of a /models answer's data[]; NULL when it is not such a list. */
static char **parse_model_ids(GBytes *body)
{
    gsize len = 0;
    const char *data = g_bytes_get_data(body, &len);
    g_autoptr(JsonParser) parser = json_parser_new();
    if (!data || !json_parser_load_from_data(parser, data, (gssize)len, NULL))
        return NULL;
    JsonNode *root = json_parser_get_root(parser);
    JsonObject *obj = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
    JsonNode *list = obj ? json_object_get_member(obj, "data") : NULL;
    if (!list || !JSON_NODE_HOLDS_ARRAY(list))
        return NULL;
    JsonArray *arr = json_node_get_array(list);
    GPtrArray *ids = g_ptr_array_new();
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonNode *item = json_array_get_element(arr, i);
        JsonObject *m = JSON_NODE_HOLDS_OBJECT(item) ? json_node_get_object(item) : NULL;
        JsonNode *id_node = m ? json_object_get_member(m, "id") : NULL;
        const char *id = id_node && JSON_NODE_HOLDS_VALUE(id_node) &&
                                 json_node_get_value_type(id_node) == G_TYPE_STRING
                             ? json_node_get_string(id_node)
                             : NULL;
        if (id)
            g_ptr_array_add(ids, g_strdup(id));
    }
    g_ptr_array_add(ids, NULL);
    return (char **)g_ptr_array_free(ids, FALSE);
}

char **wenshu_remote_list_models(const WenshuRemoteEndpoint *endpoint, GCancellable *cancellable,
                                 GError **error)
{
    g_return_val_if_fail(endpoint != NULL, NULL);
    g_autofree char *root = wenshu_remote_api_root(endpoint->base_url, error);
    if (!root)
        return NULL;
    g_autofree char *url = g_strconcat(root, "/models", NULL);
    SoupMessage *msg = message_new(endpoint, "GET", url, error);
    if (!msg)
        return NULL;
    SoupSession *session = session_new(endpoint);
    char **ids = NULL;
    GInputStream *in = send_checked(session, msg, endpoint, url, cancellable, error);
    if (in) {
        GError *cause = NULL;
        GBytes *body = read_body(in, MODELS_BODY_MAX, cancellable, &cause);
        if (!body) {
            set_transport_error(error, cause, url, endpoint_timeout(endpoint), "for the list");
            g_error_free(cause);
        } else if (!(ids = parse_model_ids(body))) {
            g_set_error(error, WENSHU_REMOTE_ERROR, WENSHU_REMOTE_ERROR_PROTOCOL,
                        "%s: the answer is not a list of models", url);
        }
        if (body)
            g_bytes_unref(body);
        g_object_unref(in);
    }
    g_object_unref(msg);
    g_object_unref(session);
    return ids;
}
