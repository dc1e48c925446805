/* test-remote.c: the remote client (app/remote) against its two
 * counterparts.
 *   - `wenshu-cli serve` on the tiny fixture model: the streamed text equals
 *     `wenshu-cli run --temp 0`'s reply and the server's own non-streamed
 *     answer (fetched here with plain libsoup); a schema the client converts
 *     gives the answer of the hand-written JSON schema (test-serve.py's);
 *     /v1/models lists the model; a wrong key gets "the API key was refused";
 *     an image through the vision fixture gives the CLI's --image reply.
 *   - a fake server in a thread (raw sockets): 401, 429 with Retry-After: 7,
 *     404, 502, a stream cut before [DONE] (the partial text delivered), a
 *     server that never answers and one that stalls mid-stream (a 1 s
 *     timeout each), a slow stream cancelled after 3 pieces; `wenshu-cli run
 *     --remote` (with --api-key-env); a bad URL, a refused port and a video are
 * refused.
 */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "check.h"
#include "remote.h"
#include "serve-fixture.h"

/* ---- helpers
 * ------------------------------------------------------------------------- */

typedef struct {
    GString *text; /* every delta, in order */
    int n_calls;
    int stop_after; /* > 0: set *cancel_flag after this many */
    volatile int *cancel_flag;
} Collected;

static gboolean collect_text(const char *text, gsize len, gpointer user_data)
{
    Collected *c = user_data;
    g_string_append_len(c->text, text, (gssize)len);
    c->n_calls++;
    if (c->stop_after > 0 && c->n_calls >= c->stop_after)
        g_atomic_int_set((volatile gint *)c->cancel_flag, 1);
    return TRUE;
}

/* Stream one user message (with media and a schema when given) and return
 * the text (g_free); *error gets the error. */
/* A 3 s 64x48 test clip made by the ffmpeg CLI; FALSE without ffmpeg. */
static gboolean make_test_clip(const char *path)
{
    const char *argv[] = {"ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                          "testsrc2=size=64x48:rate=4", "-t", "3", "-pix_fmt", "yuv420p",
                          path, NULL};
    gint status = -1;
    return g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                        &status, NULL) &&
           g_spawn_check_wait_status(status, NULL);
}

/* How often needle occurs in haystack. */
static int count_of(const char *haystack, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(haystack, needle); p; p = strstr(p + strlen(needle), needle))
        n++;
    return n;
}

static char *stream_reply(const WenshuRemoteEndpoint *ep, const char *text,
                          const char *const *media, int n_media, int max_tokens,
                          const struct eng_schema *schema, GError **error)
{
    struct eng_chat_message msg = {"user", text};
    struct eng_sampler_params sp = eng_sampler_params_default();
    sp.temperature = 0;
    Collected c = {.text = g_string_new(NULL)};
    WenshuRemoteChat chat = {.messages = &msg,
                             .n_messages = 1,
                             .media_paths = media,
                             .n_media = n_media,
                             .sampler = &sp,
                             .max_tokens = max_tokens,
                             .schema = schema,
                             .on_text = collect_text,
                             .user_data = &c};
    wenshu_remote_chat(ep, &chat, NULL, error);
    return g_string_free(c.text, FALSE);
}

/* POST body (JSON text) to url without streaming, as any client would, and
 * return choices[0].message.content (g_free) or NULL. */
static char *plain_reply(const char *url, const char *body)
{
    SoupSession *session = soup_session_new();
    SoupMessage *msg = soup_message_new("POST", url);
    GBytes *bytes = g_bytes_new(body, strlen(body));
    soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
    GBytes *answer = soup_session_send_and_read(session, msg, NULL, NULL);
    char *content = NULL;
    JsonParser *parser = json_parser_new();
    if (answer && soup_message_get_status(msg) == 200 &&
        json_parser_load_from_data(parser, g_bytes_get_data(answer, NULL),
                                   (gssize)g_bytes_get_size(answer), NULL)) {
        JsonObject *root = json_node_get_object(json_parser_get_root(parser));
        JsonObject *choice =
            json_array_get_object_element(json_object_get_array_member(root, "choices"), 0);
        content = g_strdup(json_object_get_string_member(
            json_object_get_object_member(choice, "message"), "content"));
    }
    g_object_unref(parser);
    if (answer)
        g_bytes_unref(answer);
    g_bytes_unref(bytes);
    g_object_unref(msg);
    g_object_unref(session);
    return content;
}

static gboolean error_has(const GError *error, int code, const char *words)
{
    return error && error->domain == WENSHU_REMOTE_ERROR && error->code == code &&
           strstr(error->message, words) != NULL;
}

/* ---- against wenshu-cli serve
 * ---------------------------------------------------------- */

static void check_text_replies(const ServeFixture *srv, const char *model)
{
    g_autofree char *base = serve_fixture_url(srv);
    g_autofree char *url = g_strconcat(base, "/chat/completions", NULL);
    WenshuRemoteEndpoint *ep = wenshu_remote_endpoint_new(base, "tiny.gguf", NULL);
    const char *prompts[] = {"Hello there", "写一份通知"};
    for (int i = 0; i < 2; i++) {
        g_autofree char *want = fixture_cli_reply("-m", model, "-p", prompts[i], "-n", "16");
        GError *error = NULL;
        g_autofree char *got = stream_reply(ep, prompts[i], NULL, 0, 16, NULL, &error);
        CHECK(error == NULL, "%s: streamed without error (%s)", prompts[i],
              error ? error->message : "");
        g_clear_error(&error);
        CHECK(want && *want, "the CLI gives a reply to '%s'", prompts[i]);
        CHECK_STR(got, want);
        g_autofree char *body =
            g_strdup_printf("{\"model\":\"tiny.gguf\",\"temperature\":0,\"max_tokens\":16,"
                            "\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}",
                            prompts[i]);
        g_autofree char *plain = plain_reply(url, body);
        CHECK_STR(got, plain);
        printf("ok   '%s': streamed %s\n", prompts[i], got);
    }

    /* the schema of test-serve.py, built as the engine's struct and sent
     * through the client's conversion, against the hand-written JSON */
    static const char *const colours[] = {"red", "blue"};
    struct eng_schema title = {.type = ENG_SCHEMA_STRING, .min_chars = 1, .max_chars = 12};
    struct eng_schema count = {.type = ENG_SCHEMA_INTEGER, .minimum = 1, .maximum = 20};
    struct eng_schema done = {.type = ENG_SCHEMA_BOOLEAN};
    struct eng_schema tag = {.type = ENG_SCHEMA_STRING, .choices = colours, .n_choices = 2};
    struct eng_schema tags = {
        .type = ENG_SCHEMA_ARRAY, .items = &tag, .min_items = 1, .max_items = 3};
    struct eng_schema_property props[] = {
        {"title", &title}, {"count", &count}, {"done", &done}, {"tags", &tags}};
    struct eng_schema record = {.type = ENG_SCHEMA_OBJECT, .properties = props, .n_properties = 4};
    GError *error = NULL;
    g_autofree char *got = stream_reply(ep, "A JSON record, please", NULL, 0, 64, &record, &error);
    CHECK(error == NULL, "schema: no error (%s)", error ? error->message : "");
    g_clear_error(&error);
    const char *hand_written =
        "{\"model\":\"x\",\"temperature\":0,\"max_tokens\":64,\"messages\":[{"
        "\"role\":\"user\","
        "\"content\":\"A JSON record, "
        "please\"}],\"response_format\":{\"type\":\"json_schema\","
        "\"json_schema\":{\"name\":\"record\",\"schema\":{\"type\":\"object\","
        "\"properties\":{"
        "\"title\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":12},"
        "\"count\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":20},"
        "\"done\":{\"type\":\"boolean\"},"
        "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"enum\":["
        "\"red\","
        "\"blue\"]},\"minItems\":1,\"maxItems\":3}}}}}}";
    g_autofree char *want = plain_reply(url, hand_written);
    CHECK(want && g_str_has_prefix(want, "{\"title\":"), "schema: the server's JSON (%s)", want);
    CHECK_STR(got, want);

    /* `wenshu-cli run --remote`: the same reply as the local run */
    g_autofree char *want_cli = fixture_cli_reply("-m", model, "-p", "Hello there", "-n", "16");
    g_autofree char *got_cli = fixture_cli_reply("--remote", base, "--remote-model", "tiny.gguf",
                                                 "-p", "Hello there", "-n", "16");
    CHECK(want_cli && str_eq(got_cli, want_cli), "run --remote prints the local run's reply");

    /* models, and a media/marker mismatch refused before sending */
    g_auto(GStrv) ids = wenshu_remote_list_models(ep, NULL, &error);
    CHECK(ids && ids[0] && str_eq(ids[0], "tiny.gguf"), "/v1/models lists tiny.gguf (%s)",
          error ? error->message : "");
    g_clear_error(&error);
    wenshu_remote_endpoint_free(&ep);
    CHECK(ep == NULL, "endpoint_free sets NULL");
}

static void check_api_key(const char *dir, const char *model)
{
    ServeFixture srv;
    if (!serve_fixture_start(&srv, dir, "keyed", "-m", model, "--api-key", "sk-right", NULL)) {
        CHECK(0, "serve --api-key starts");
        return;
    }
    g_autofree char *base = serve_fixture_url(&srv);
    WenshuRemoteEndpoint *ep = wenshu_remote_endpoint_new(base, "tiny.gguf", "sk-wrong");
    GError *error = NULL;
    g_autofree char *got = stream_reply(ep, "Hello", NULL, 0, 4, NULL, &error);
    CHECK(error_has(error, WENSHU_REMOTE_ERROR_AUTH, "the API key was refused") &&
              strstr(error->message, base),
          "serve, wrong key: the key refused, naming the URL (%s)", error ? error->message : "");
    printf("ok   wrong key: %s\n", error ? error->message : "");
    g_clear_error(&error);
    wenshu_remote_endpoint_free(&ep);
    ep = wenshu_remote_endpoint_new(base, "tiny.gguf", "sk-right");
    g_auto(GStrv) ids = wenshu_remote_list_models(ep, NULL, &error);
    CHECK(ids && ids[0], "serve, right key: the models (%s)", error ? error->message : "");
    g_clear_error(&error);
    g_autofree char *text = stream_reply(ep, "Hello", NULL, 0, 4, NULL, &error);
    CHECK(error == NULL && *text, "serve, right key: a reply (%s)", error ? error->message : "");
    g_clear_error(&error);
    g_setenv("WENSHU_TEST_KEY", "sk-right", TRUE);
    g_autofree char *cli_ok =
        fixture_cli_reply("--remote", base, "--remote-model", "tiny.gguf", "--api-key-env",
                          "WENSHU_TEST_KEY", "-p", "Hello", "-n", "4");
    CHECK(cli_ok != NULL, "run --remote --api-key-env with the right key succeeds");
    g_setenv("WENSHU_TEST_KEY", "sk-wrong", TRUE);
    g_autofree char *cli_bad =
        fixture_cli_reply("--remote", base, "--remote-model", "tiny.gguf", "--api-key-env",
                          "WENSHU_TEST_KEY", "-p", "Hello", "-n", "4");
    CHECK(cli_bad == NULL, "run --remote with a wrong key fails");
    wenshu_remote_endpoint_free(&ep);
    serve_fixture_stop(&srv);
}

static void check_image(const char *dir)
{
    g_autofree char *vl = g_build_filename(dir, "qwen-vl.gguf", NULL);
    g_autofree char *proj = g_build_filename(dir, "qwen-vl-proj.gguf", NULL);
    g_autofree char *png = g_build_filename(dir, "picture.png", NULL);
    g_free(fixture_cli_output("synth", "--arch", "qwen2vl", "--preset", "tiny", "-o", vl, NULL));
    g_free(fixture_cli_output("synth", "--mmproj", "qwen2vl_merger", "-o", proj, NULL));
    CHECK(fixture_write_png(png, 56, 84, 3), "a PNG written");
    ServeFixture srv;
    if (!serve_fixture_start(&srv, dir, "vision", "-m", vl, "--mmproj", proj, NULL)) {
        CHECK(0, "the vision server starts");
        return;
    }
    g_autofree char *want =
        fixture_cli_reply("-m", vl, "--mmproj", proj, "--image", png, "-p", "Hi", "-n", "12");
    g_autofree char *plain = fixture_cli_reply("-m", vl, "-p", "Hi", "-n", "12");
    g_autofree char *base = serve_fixture_url(&srv);
    WenshuRemoteEndpoint *ep = wenshu_remote_endpoint_new(base, "qwen-vl.gguf", NULL);
    const char *media[] = {png};
    GError *error = NULL;
    g_autofree char *got = stream_reply(ep, ENG_MEDIA_MARKER "Hi", media, 1, 12, NULL, &error);
    CHECK(error == NULL, "image: no error (%s)", error ? error->message : "");
    g_clear_error(&error);
    CHECK_STR(got, want);
    CHECK(!str_eq(want, plain), "the image changes the reply (%s vs %s)", want, plain);
    printf("ok   image: %s\n", got);

    /* a clip goes as sampled frames (the chat API has no video part): a real
     * one made by ffmpeg gets a reply that differs from the text-only one */
    g_autofree char *real_clip = g_build_filename(dir, "real.mp4", NULL);
    if (make_test_clip(real_clip)) {
        const char *clips[] = {real_clip};
        g_autofree char *clip_reply =
            stream_reply(ep, ENG_MEDIA_MARKER "Hi", clips, 1, 12, NULL, &error);
        CHECK(error == NULL && clip_reply, "clip: a reply, no error (%s)",
              error ? error->message : "");
        g_clear_error(&error);
        printf("ok   clip as frames through serve\n");
    } else {
        printf("skip clip as frames: no ffmpeg CLI\n");
    }

    /* a broken video and a marker count that does not match are refused, naming them */
    g_autofree char *clip = g_build_filename(dir, "clip.mp4", NULL);
    static const unsigned char mp4[32] = {0,   0,   0,   0x20, 'f', 't', 'y', 'p', 'i', 's', 'o',
                                          'm', 0,   0,   2,    0,   'i', 's', 'o', 'm', 'i', 's',
                                          'o', '2', 'm', 'p',  '4', '1', 0,   0,   0,   8};
    g_file_set_contents(clip, (const char *)mp4, sizeof mp4, NULL);
    const char *video[] = {clip};
    g_free(stream_reply(ep, ENG_MEDIA_MARKER "Hi", video, 1, 4, NULL, &error));
    CHECK(error_has(error, WENSHU_REMOTE_ERROR_MEDIA, "clip.mp4"),
          "a broken video is refused naming it (%s)", error ? error->message : "");
    g_clear_error(&error);
    g_free(stream_reply(ep, "no marker", media, 1, 4, NULL, &error));
    CHECK(error_has(error, WENSHU_REMOTE_ERROR_MEDIA, "markers"), "markers must match (%s)",
          error ? error->message : "");
    g_clear_error(&error);
    wenshu_remote_endpoint_free(&ep);
    serve_fixture_stop(&srv);
}

/* ---- a fake server
 * ----------------------------------------------------------------------- */

typedef enum {
    FAKE_401,
    FAKE_429,
    FAKE_404,
    FAKE_502,
    FAKE_CUT,
    FAKE_SILENT,
    FAKE_SLOW,
    FAKE_STALL,
    FAKE_GARBAGE,
} FakeMode;

typedef struct {
    GSocketListener *listener;
    GCancellable *stop;
    int port;
    gint mode;             /* FakeMode (atomic) */
    GMutex lock;           /* guards last_request */
    GString *last_request; /* the last request's head and body */
} FakeServer;

static FakeServer fake;

static void fake_write(GOutputStream *out, const char *text)
{
    g_output_stream_write_all(out, text, strlen(text), NULL, NULL, NULL);
}

static void fake_answer(GOutputStream *out, const char *status, const char *extra, const char *body)
{
    g_autofree char *head = g_strdup_printf("HTTP/1.1 %s\r\nContent-Type: "
                                            "application/json\r\nContent-Length: %zu\r\n%s"
                                            "Connection: close\r\n\r\n",
                                            status, strlen(body), extra);
    fake_write(out, head);
    fake_write(out, body);
}

static gboolean fake_delta(GOutputStream *out, const char *text)
{
    g_autofree char *line =
        g_strdup_printf("data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
                        "\"delta\":{\"content\":\"%s\"},\"finish_reason\":null}]}\n\n",
                        text);
    return g_output_stream_write_all(out, line, strlen(line), NULL, NULL, NULL) &&
           g_output_stream_flush(out, NULL, NULL);
}

/* Read the request (head, then Content-Length bytes) into last_request. */
static void fake_read_request(GInputStream *in)
{
    GString *req = g_string_new(NULL);
    char c;
    while (!strstr(req->str, "\r\n\r\n") && g_input_stream_read(in, &c, 1, NULL, NULL) == 1)
        g_string_append_c(req, c);
    const char *cl = strstr(req->str, "Content-Length:");
    gsize n = cl ? strtoul(cl + 15, NULL, 10) : 0;
    char *body = g_malloc0(n + 1); /* the body: [n] + NUL */
    gsize got = 0;
    g_input_stream_read_all(in, body, n, &got, NULL, NULL);
    g_string_append_len(req, body, (gssize)got);
    g_free(body);
    g_mutex_lock(&fake.lock);
    g_string_assign(fake.last_request, req->str);
    g_mutex_unlock(&fake.lock);
    g_string_free(req, TRUE);
}

static gpointer fake_connection(gpointer data)
{
    GSocketConnection *conn = data;
    GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
    fake_read_request(in);
    const char *sse_head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                           "Connection: close\r\n\r\n";
    switch ((FakeMode)g_atomic_int_get(&fake.mode)) {
    case FAKE_401:
        fake_answer(out, "401 Unauthorized", "",
                    "{\"error\":{\"message\":\"Incorrect API key provided\","
                    "\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}");
        break;
    case FAKE_429:
        fake_answer(out, "429 Too Many Requests", "Retry-After: 7\r\n",
                    "{\"error\":{\"message\":\"Rate limit "
                    "reached\",\"type\":\"requests\"}}");
        break;
    case FAKE_404:
        fake_answer(out, "404 Not Found", "",
                    "{\"error\":{\"message\":\"The model does not exist\"}}");
        break;
    case FAKE_502:
        fake_answer(out, "502 Bad Gateway", "", "upstream is down");
        break;
    case FAKE_CUT:
        fake_write(out, sse_head);
        fake_delta(out, "Hel");
        fake_delta(out, "lo");
        fake_delta(out, " wor");
        break; /* closed without [DONE] */
    case FAKE_SILENT:
        g_usleep(4 * G_USEC_PER_SEC);
        break;
    case FAKE_GARBAGE: /* odd but harmless chunks, then one that is not JSON */
        fake_write(out, sse_head);
        fake_delta(out, "ok");
        fake_write(out, ": a comment\n\nevent: x\ndata: {\"choices\":\"x\"}\n\n"
                        "data: {\"choices\":[{\"delta\":\"text\"}]}\n\n"
                        "data: {\"choices\":[{\"delta\":{\"content\":7}}]}\n\n"
                        "data: {\"choices\":[7]}\n\ndata: not json\n\n");
        break;
    case FAKE_STALL: /* one piece, then nothing */
        fake_write(out, sse_head);
        fake_delta(out, "Hel");
        g_usleep(4 * G_USEC_PER_SEC);
        break;
    case FAKE_SLOW:
        fake_write(out, sse_head);
        for (int i = 0; i < 100 && fake_delta(out, "x"); i++)
            g_usleep(30000);
        fake_write(out, "data: [DONE]\n\n");
        break;
    }
    g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
    g_object_unref(conn);
    return NULL;
}

static gpointer fake_accept_loop(gpointer data)
{
    (void)data;
    GSocketConnection *conn;
    while ((conn = g_socket_listener_accept(fake.listener, NULL, fake.stop, NULL)))
        g_thread_unref(g_thread_new("fake-conn", fake_connection, conn));
    return NULL;
}

static GThread *fake_start(void)
{
    g_mutex_init(&fake.lock);
    fake.last_request = g_string_new(NULL);
    fake.listener = g_socket_listener_new();
    fake.stop = g_cancellable_new();
    GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    GSocketAddress *addr = g_inet_socket_address_new(lo, 0);
    GSocketAddress *bound = NULL;
    g_socket_listener_add_address(fake.listener, addr, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                  NULL, &bound, NULL);
    fake.port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
    g_object_unref(bound);
    g_object_unref(addr);
    g_object_unref(lo);
    return g_thread_new("fake-accept", fake_accept_loop, NULL);
}

/* One chat against the fake server in mode, with a 1 s timeout. */
static char *fake_chat(FakeMode mode, int stop_after, int *n_deltas, double *seconds,
                       GError **error)
{
    g_atomic_int_set(&fake.mode, (gint)mode);
    g_autofree char *base = g_strdup_printf("http://127.0.0.1:%d", fake.port);
    WenshuRemoteEndpoint *ep = wenshu_remote_endpoint_new(base, "gpt-x", "sk-test");
    ep->timeout_s = 1;
    struct eng_chat_message msg = {"user", "Hello"};
    volatile int cancel = 0;
    Collected c = {.text = g_string_new(NULL), .stop_after = stop_after, .cancel_flag = &cancel};
    WenshuRemoteChat chat = {.messages = &msg,
                             .n_messages = 1,
                             .on_text = collect_text,
                             .user_data = &c,
                             .cancel_flag = &cancel};
    gint64 t0 = g_get_monotonic_time();
    wenshu_remote_chat(ep, &chat, n_deltas, error);
    *seconds = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    wenshu_remote_endpoint_free(&ep);
    return g_string_free(c.text, FALSE);
}

static void check_fake_server(void)
{
    GThread *thread = fake_start();
    GError *error = NULL;
    int n = 0;
    double secs = 0;

    g_free(fake_chat(FAKE_401, 0, &n, &secs, &error));
    CHECK(error_has(error, WENSHU_REMOTE_ERROR_AUTH, "the API key was refused") &&
              strstr(error->message, "Incorrect API key provided") &&
              strstr(error->message, "/v1/chat/completions"),
          "401: the key refused, the URL and the server's words (%s)", error ? error->message : "");
    printf("ok   401: %s\n", error ? error->message : "");
    g_clear_error(&error);
    g_mutex_lock(&fake.lock);
    CHECK(strstr(fake.last_request->str, "Authorization: Bearer sk-test") &&
              strstr(fake.last_request->str, "POST /v1/chat/completions") &&
              strstr(fake.last_request->str, "\"stream\":true") &&
              strstr(fake.last_request->str, "\"model\":\"gpt-x\""),
          "the request: POST /v1/chat/completions, Bearer key, stream, model");
    g_mutex_unlock(&fake.lock);

    /* a clip goes as its frames: one PNG image part a second of it, each
     * after a "Frame at m:ss:" text part (the body is built before the 401) */
    g_autofree char *clip_dir = g_dir_make_tmp("wenshu-remote-clip-XXXXXX", NULL);
    g_autofree char *clip = g_build_filename(clip_dir, "clip.mp4", NULL);
    if (make_test_clip(clip)) {
        g_atomic_int_set(&fake.mode, FAKE_401);
        g_autofree char *base = g_strdup_printf("http://127.0.0.1:%d", fake.port);
        WenshuRemoteEndpoint *ep = wenshu_remote_endpoint_new(base, "gpt-x", "sk-test");
        struct eng_chat_message msg = {"user", ENG_MEDIA_MARKER "What happens?"};
        const char *clips[] = {clip};
        WenshuRemoteChat chat = {
            .messages = &msg, .n_messages = 1, .media_paths = clips, .n_media = 1};
        CHECK(!wenshu_remote_chat(ep, &chat, NULL, &error), "the fake server refuses");
        g_clear_error(&error);
        wenshu_remote_endpoint_free(&ep);
        g_mutex_lock(&fake.lock);
        const char *body = fake.last_request->str;
        CHECK_INT(count_of(body, "data:image/png;base64,"), 3);
        CHECK(strstr(body, "Frame at 0:00:") && strstr(body, "Frame at 0:01:") &&
                  strstr(body, "Frame at 0:02:") && !strstr(body, "Frame at 0:03:"),
              "a 3 s clip: frames at 0, 1 and 2 s");
        g_mutex_unlock(&fake.lock);
        g_unlink(clip);
        printf("ok   a clip goes as 3 stamped PNG frames\n");
    }
    g_rmdir(clip_dir);

    g_free(fake_chat(FAKE_429, 0, &n, &secs, &error));
    CHECK(error_has(error, WENSHU_REMOTE_ERROR_RATE_LIMIT, "retry after 7 seconds"),
          "429: Retry-After 7 in the message (%s)", error ? error->message : "");
    printf("ok   429: %s\n", error ? error->message : "");
    g_clear_error(&error);

    g_free(fake_chat(FAKE_404, 0, &n, &secs, &error));
    CHECK(error_has(error, WENSHU_REMOTE_ERROR_NOT_FOUND, "gpt-x"), "404 names the model (%s)",
          error ? error->message : "");
    g_clear_error(&error);

    g_free(fake_chat(FAKE_502, 0, &n, &secs, &error));
    CHECK(error_has(error, WENSHU_REMOTE_ERROR_SERVER, "502") &&
              strstr(error->message, "upstream is down"),
          "502: status and body (%s)", error ? error->message : "");
    g_clear_error(&error);

    g_autofree char *cut = fake_chat(FAKE_CUT, 0, &n, &secs, &error);
    CHECK_STR(cut, "Hello wor");
    CHECK_INT(n, 3);
    CHECK(error_has(error, WENSHU_REMOTE_ERROR_DROPPED, "stream dropped") &&
              strstr(error->message, "kept"),
          "a cut stream: dropped, the text kept (%s)", error ? error->message : "");
    printf("ok   cut: '%s' then %s\n", cut, error ? error->message : "");
    g_clear_error(&error);

    g_free(fake_chat(FAKE_SILENT, 0, &n, &secs, &error));
    CHECK(error_has(error, WENSHU_REMOTE_ERROR_TIMEOUT, "timed out") && secs >= 0.9 && secs < 2.5,
          "a silent server: timeout after about 1 s (%.2f s, %s)", secs,
          error ? error->message : "");
    printf("ok   silent: %.2f s: %s\n", secs, error ? error->message : "");
    g_clear_error(&error);

    g_autofree char *stalled = fake_chat(FAKE_STALL, 0, &n, &secs, &error);
    CHECK(error_has(error, WENSHU_REMOTE_ERROR_TIMEOUT, "between two pieces") &&
              str_eq(stalled, "Hel") && secs >= 0.9 && secs < 2.5,
          "a stream that stalls: timeout after about 1 s, the piece kept (%.2f "
          "s, '%s', %s)",
          secs, stalled, error ? error->message : "");
    printf("ok   stalled: %.2f s: %s\n", secs, error ? error->message : "");
    g_clear_error(&error);

    g_autofree char *garbage = fake_chat(FAKE_GARBAGE, 0, &n, &secs, &error);
    CHECK(error_has(error, WENSHU_REMOTE_ERROR_PROTOCOL, "not a JSON chunk") &&
              str_eq(garbage, "ok"),
          "odd chunks skipped, a non-JSON one refused ('%s', %s)", garbage,
          error ? error->message : "");
    g_clear_error(&error);

    g_autofree char *slow = fake_chat(FAKE_SLOW, 3, &n, &secs, &error);
    CHECK(error_has(error, WENSHU_REMOTE_ERROR_CANCELLED, "stopped") && n == 3 &&
              str_eq(slow, "xxx") && secs < 1.0,
          "cancel after 3 pieces: 3 delivered, stopped in %.2f s (%d, %s)", secs, n,
          error ? error->message : "");
    g_clear_error(&error);

    g_cancellable_cancel(fake.stop);
    g_thread_join(thread);
    g_socket_listener_close(fake.listener);
    g_object_unref(fake.listener);
    g_object_unref(fake.stop);
    g_string_free(fake.last_request, TRUE);
}

static void check_bad_addresses(void)
{
    const char *bad[] = {"not a url", "ftp://example.com/v1", "http://"};
    for (int i = 0; i < 3; i++) {
        WenshuRemoteEndpoint *ep = wenshu_remote_endpoint_new(bad[i], "m", NULL);
        GError *error = NULL;
        g_free(stream_reply(ep, "Hello", NULL, 0, 4, NULL, &error));
        CHECK(error_has(error, WENSHU_REMOTE_ERROR_URL, bad[i]), "'%s' refused, named (%s)", bad[i],
              error ? error->message : "");
        g_clear_error(&error);
        wenshu_remote_endpoint_free(&ep);
    }
    /* a port nobody listens on: take a free one and close it */
    GSocketListener *l = g_socket_listener_new();
    guint16 port = g_socket_listener_add_any_inet_port(l, NULL, NULL);
    g_socket_listener_close(l);
    g_object_unref(l);
    g_autofree char *url = g_strdup_printf("http://127.0.0.1:%u/v1", port);
    WenshuRemoteEndpoint *ep = wenshu_remote_endpoint_new(url, "m", NULL);
    GError *error = NULL;
    g_auto(GStrv) ids = wenshu_remote_list_models(ep, NULL, &error);
    CHECK(!ids && error_has(error, WENSHU_REMOTE_ERROR_CONNECT, "refused") &&
              strstr(error->message, url),
          "a closed port: refused, naming the URL (%s)", error ? error->message : "");
    printf("ok   closed port: %s\n", error ? error->message : "");
    g_clear_error(&error);
    wenshu_remote_endpoint_free(&ep);

    g_autofree char *root = wenshu_remote_api_root(" http://h:8/ ", NULL);
    CHECK_STR(root, "http://h:8/v1");
    g_autofree char *root2 = wenshu_remote_api_root("https://h/api/v1/", NULL);
    CHECK_STR(root2, "https://h/api/v1");
    g_autofree char *host = wenshu_remote_host("http://127.0.0.1:8080/v1");
    CHECK_STR(host, "127.0.0.1:8080");
}

/* The conversion to JSON Schema, against hand-written text. */
static void check_schema_json(void)
{
    static const char *const yes_no[] = {"是", "否"};
    struct eng_schema title = {.type = ENG_SCHEMA_STRING, .prefix = "关于a.b", .min_chars = 2};
    struct eng_schema answer = {.type = ENG_SCHEMA_STRING, .choices = yes_no, .n_choices = 2};
    struct eng_schema n = {.type = ENG_SCHEMA_INTEGER, .minimum = 0, .maximum = 9};
    struct eng_schema ok = {.type = ENG_SCHEMA_BOOLEAN};
    struct eng_schema list = {.type = ENG_SCHEMA_ARRAY, .items = &ok};
    struct eng_schema_property props[] = {
        {"title", &title}, {"answer", &answer}, {"n", &n}, {"list", &list}};
    struct eng_schema root = {.type = ENG_SCHEMA_OBJECT, .properties = props, .n_properties = 4};
    g_autofree char *got = wenshu_remote_schema_json(&root);
    CHECK_STR(got, "{\"type\":\"object\",\"properties\":{"
                   "\"title\":{\"type\":\"string\",\"pattern\":\"^关于a\\\\.b\","
                   "\"minLength\":2,\"maxLength\":64},"
                   "\"answer\":{\"type\":\"string\",\"enum\":[\"是\",\"否\"]},"
                   "\"n\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":9},"
                   "\"list\":{\"type\":\"array\",\"items\":{\"type\":\"boolean\"},"
                   "\"minItems\":0,\"maxItems\":8}},"
                   "\"required\":[\"title\",\"answer\",\"n\",\"list\"],"
                   "\"additionalProperties\":false}");
}

int main(void)
{
    /* a GLib warning or critical (a json-glib misuse on odd input) fails the test */
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
    check_schema_json();
    check_bad_addresses();
    check_fake_server();

    g_autofree char *dir = g_dir_make_tmp("wenshu-remote-XXXXXX", NULL);
    g_autofree char *model = g_build_filename(dir, "tiny.gguf", NULL);
    g_free(fixture_cli_output("synth", "--arch", "qwen2", "--preset", "tiny", "-o", model, NULL));
    ServeFixture srv;
    if (serve_fixture_start(&srv, dir, "main", "-m", model, "--max-tokens", "64", NULL)) {
        check_text_replies(&srv, model);
        serve_fixture_stop(&srv);
    } else {
        CHECK(0, "wenshu-cli serve starts");
    }
    check_api_key(dir, model);
    check_image(dir);

    g_autofree char *rm = g_strdup_printf("rm -rf '%s'", dir);
    if (system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    if (n_fail)
        fprintf(stderr, "%d failures\n", n_fail);
    else
        printf("all remote checks passed\n");
    return n_fail ? 1 : 0;
}
