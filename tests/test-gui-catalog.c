/* test-gui-catalog.c: the "Get models" window (app/gui/wenshu-catalog-dialog.c)
 * under Xvfb against a loopback HTTP server this test runs itself.
 *
 * The server (a GThreadedSocketService on its own thread, one blocking
 * thread per connection) serves seeded random blobs under /hf/MODE/FILE and
 * /ms/MODE/FILE (the two mirrors), MODE being "f" (at once), "slow" (64 KiB
 * every 25 ms, so a pause can land mid-file) or "corrupt" (one byte
 * flipped). It honours "Range: bytes=N-" with a 206 and records every
 * request's path and Range header.
 *
 * The expectations come from outside the code under test: the digests are
 * GChecksum's over the blobs made here; the recommended model is computed
 * here from the catalogue's numbers by the documented rule, and must equal
 * what `wenshu-cli models recommend` answers for the same catalogue and
 * memory; the paused percentage is the .part's size over the model's size.
 * Also: Use's "model-chosen" paths, Remove after its confirmation, Cancel,
 * a checksum error and a disk-space refusal in the row, a folder import,
 * the window's single hide-on-close instance whose download goes on, and
 * the main loop's longest gap while a download runs (printed, < 250 ms).
 * Screenshots: $WENSHU_BUILD_DIR/gui-artifacts/catalog.png and
 * catalog-paused.png.
 *
 * Run with G_DEBUG=fatal-warnings: any GTK warning fails the test.
 */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>

#include "gui-fixture.h"
#include "wenshu-catalog-dialog.h"

#define WAIT_MS 30000
#define SLOW_CHUNK (64 * 1024)
#define SLOW_PAUSE_US 25000
#define MIB ((guint64)1024 * 1024)

/* ---- the fixture blobs and catalogue ------------------------------------ */

typedef struct {
    const char *model_id; /* the catalogue model it belongs to */
    const char *file;     /* the served and installed file name */
    const char *role;     /* "model" or "mmproj" */
    const char *mode;     /* how the server serves it: "f", "slow", "corrupt" */
    guint64 size;         /* bytes */
    guint8 *data;         /* [size] seeded random bytes (NULL for the huge one) */
    char sha256[65];      /* GChecksum over data */
} Blob;

static Blob blobs[] = {
    {"fx-small", "fx-small.gguf", "model", "f", 256 * 1024, NULL, ""},
    {"fx-slow", "fx-slow.gguf", "model", "slow", 8 * MIB, NULL, ""},
    {"fx-vision", "fx-vision.gguf", "model", "slow", 1 * MIB, NULL, ""},
    {"fx-vision", "fx-vision-mmproj.gguf", "mmproj", "slow", 512 * 1024, NULL, ""},
    {"fx-cancel", "fx-cancel.gguf", "model", "slow", 2 * MIB, NULL, ""},
    {"fx-corrupt", "fx-corrupt.gguf", "model", "corrupt", 512 * 1024, NULL, ""},
    {"fx-big", "fx-big.gguf", "model", "f", 100000000000000000ull, NULL, ""},
};

typedef struct {
    const char *id;
    const char *caps; /* JSON array body */
    guint64 min_ram_mb, min_vram_mb;
} Model;

/* In catalogue order; the numbers make the recommendation differ from the
 * first entry for both memory cases below. */
static const Model models[] = {
    {"fx-small", "\"text\"", 100, 80},
    {"fx-slow", "\"text\", \"reasoning\"", 3000, 2500},
    {"fx-vision", "\"text\", \"images\", \"video\"", 1500, 1200},
    {"fx-cancel", "\"text\"", 2500, 5000},
    {"fx-corrupt", "\"text\"", 200, 150},
    {"fx-big", "\"text\"", 10000000, 10000000},
};

static char *tmp_root;     /* the test's temp folder */
static char *catalog_path; /* tmp_root/catalog.json */
static char *models_root;  /* tmp_root/models ($WENSHU_MODELS_DIR) */
static guint16 server_port;

static GMutex log_lock;
static GPtrArray *request_log; /* [n] char * "PATH RANGE" (RANGE "-" when none); log_lock */

static void make_blobs(void)
{
    GRand *rand = g_rand_new_with_seed(20261206);
    for (size_t i = 0; i < G_N_ELEMENTS(blobs); i++) {
        Blob *b = &blobs[i];
        if (b->size > 64 * MIB)
            continue; /* fx-big: only its size matters (the disk-space check) */
        b->data = g_malloc(b->size);
        for (guint64 k = 0; k < b->size; k++)
            b->data[k] = (guint8)g_rand_int_range(rand, 0, 256);
        GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
        g_checksum_update(sum, b->data, (gssize)b->size);
        g_strlcpy(b->sha256, g_checksum_get_string(sum), sizeof b->sha256);
        g_checksum_free(sum);
    }
    g_rand_free(rand);
    /* fx-big publishes a digest of nothing: it never downloads */
    g_strlcpy(blobs[G_N_ELEMENTS(blobs) - 1].sha256,
              "0000000000000000000000000000000000000000000000000000000000000000", 65);
}

static void write_catalog(void)
{
    GString *json = g_string_new("{\"version\": 1, \"models\": [\n");
    for (size_t m = 0; m < G_N_ELEMENTS(models); m++) {
        const Model *mo = &models[m];
        g_string_append_printf(
            json,
            "%s{\"id\": \"%s\", \"name\": \"Fixture %s\", \"license\": \"test\", "
            "\"capabilities\": [%s], \"min_ram_mb\": %" G_GUINT64_FORMAT
            ", \"min_vram_mb\": %" G_GUINT64_FORMAT ", \"files\": [",
            m ? ",\n" : "", mo->id, mo->id, mo->caps, mo->min_ram_mb, mo->min_vram_mb);
        gboolean first = TRUE;
        for (size_t i = 0; i < G_N_ELEMENTS(blobs); i++) {
            const Blob *b = &blobs[i];
            if (strcmp(b->model_id, mo->id) != 0)
                continue;
            g_string_append_printf(
                json,
                "%s{\"name\": \"%s\", \"role\": \"%s\", \"size\": %" G_GUINT64_FORMAT
                ", \"sha256\": \"%s\", \"sources\": {\"huggingface\": "
                "\"http://127.0.0.1:%u/hf/%s/%s\", \"modelscope\": "
                "\"http://127.0.0.1:%u/ms/%s/%s\"}}",
                first ? "" : ", ", b->file, b->role, b->size, b->sha256, server_port, b->mode,
                b->file, server_port, b->mode, b->file);
            first = FALSE;
        }
        g_string_append(json, "]}");
    }
    g_string_append(json, "\n]}\n");
    g_assert_true(g_file_set_contents(catalog_path, json->str, -1, NULL));
    g_string_free(json, TRUE);
}

/* ---- the server --------------------------------------------------------- */

static const Blob *blob_named(const char *file)
{
    for (size_t i = 0; i < G_N_ELEMENTS(blobs); i++)
        if (blobs[i].data && strcmp(blobs[i].file, file) == 0)
            return &blobs[i];
    return NULL;
}

static void log_request(const char *path, const char *range)
{
    g_mutex_lock(&log_lock);
    g_ptr_array_add(request_log, g_strdup_printf("%s %s", path, range ? range : "-"));
    g_mutex_unlock(&log_lock);
}

static gboolean logged(const char *entry)
{
    g_mutex_lock(&log_lock);
    gboolean found = FALSE;
    for (guint i = 0; i < request_log->len; i++)
        found = found || strcmp(g_ptr_array_index(request_log, i), entry) == 0;
    g_mutex_unlock(&log_lock);
    return found;
}

static guint logged_with_prefix(const char *prefix)
{
    g_mutex_lock(&log_lock);
    guint n = 0;
    for (guint i = 0; i < request_log->len; i++)
        n += g_str_has_prefix(g_ptr_array_index(request_log, i), prefix);
    g_mutex_unlock(&log_lock);
    return n;
}

static void send_text(GOutputStream *out, const char *head)
{
    g_output_stream_write_all(out, head, strlen(head), NULL, NULL, NULL);
}

/* Send blob b from byte start; slow mode in chunks with pauses, corrupt
 * mode with one byte flipped. Stops when the client hangs up. */
static void send_body(GOutputStream *out, const Blob *b, const char *mode, guint64 start)
{
    guint64 flip_at = b->size / 2;
    guint8 *chunk = g_malloc(SLOW_CHUNK); /* [SLOW_CHUNK] bytes being sent */
    for (guint64 pos = start; pos < b->size;) {
        gsize n = (gsize)MIN((guint64)SLOW_CHUNK, b->size - pos);
        memcpy(chunk, b->data + pos, n);
        if (strcmp(mode, "corrupt") == 0 && flip_at >= pos && flip_at < pos + n)
            chunk[flip_at - pos] ^= 0x5a;
        if (!g_output_stream_write_all(out, chunk, n, NULL, NULL, NULL))
            break;
        pos += n;
        if (strcmp(mode, "slow") == 0)
            g_usleep(SLOW_PAUSE_US);
    }
    g_free(chunk);
}

/* One connection (on a service thread): one request, then close. */
static gboolean on_connection(GThreadedSocketService *service, GSocketConnection *connection,
                              GObject *source, gpointer data)
{
    (void)service;
    (void)source;
    (void)data;
    GDataInputStream *in =
        g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(connection)));
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(connection));
    char *request = g_data_input_stream_read_line(in, NULL, NULL, NULL);
    char *range = NULL;
    for (;;) {
        char *line = g_data_input_stream_read_line(in, NULL, NULL, NULL);
        if (!line || line[0] == '\0' || line[0] == '\r') {
            g_free(line);
            break;
        }
        g_strchomp(line);
        if (g_ascii_strncasecmp(line, "Range:", 6) == 0 && !range)
            range = g_strdup(g_strstrip(line + 6));
        g_free(line);
    }
    char **words = request ? g_strsplit(request, " ", 3) : NULL;
    const char *path = words && words[0] && words[1] ? words[1] : "";
    log_request(path, range);
    char **parts = g_strsplit(path, "/", 0); /* "", "hf"|"ms", MODE, FILE */
    const Blob *b = g_strv_length(parts) == 4 ? blob_named(parts[3]) : NULL;
    guint64 start = 0;
    if (range && g_str_has_prefix(range, "bytes="))
        start = g_ascii_strtoull(range + 6, NULL, 10);
    if (!b) {
        send_text(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    } else if (start >= b->size) {
        g_autofree char *head = g_strdup_printf(
            "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */%" G_GUINT64_FORMAT
            "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            b->size);
        send_text(out, head);
    } else {
        g_autofree char *content_range =
            start ? g_strdup_printf("Content-Range: bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
                                    "/%" G_GUINT64_FORMAT "\r\n",
                                    start, b->size - 1, b->size)
                  : g_strdup("");
        g_autofree char *head = g_strdup_printf(
            "HTTP/1.1 %s\r\n%sContent-Length: %" G_GUINT64_FORMAT
            "\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
            start ? "206 Partial Content" : "200 OK", content_range, b->size - start);
        send_text(out, head);
        send_body(out, b, parts[2], start);
    }
    g_io_stream_close(G_IO_STREAM(connection), NULL, NULL);
    g_strfreev(parts);
    g_strfreev(words);
    g_free(range);
    g_free(request);
    g_object_unref(in);
    return TRUE;
}

static GMutex start_lock;
static GCond start_cond;

/* The server thread: the service's accept source runs in this thread's
 * own main context, so the test's main loop waits never block it. */
static gpointer server_thread(gpointer data)
{
    (void)data;
    GMainContext *context = g_main_context_new();
    g_main_context_push_thread_default(context);
    GSocketService *service = g_threaded_socket_service_new(8);
    GInetAddress *loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    GSocketAddress *address = g_inet_socket_address_new(loopback, 0);
    GSocketAddress *effective = NULL;
    g_assert_true(g_socket_listener_add_address(G_SOCKET_LISTENER(service), address,
                                                G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                                &effective, NULL));
    g_signal_connect(service, "run", G_CALLBACK(on_connection), NULL);
    g_socket_service_start(service);
    g_mutex_lock(&start_lock);
    server_port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective));
    g_cond_signal(&start_cond);
    g_mutex_unlock(&start_lock);
    for (;;)
        g_main_context_iteration(context, TRUE); /* lives as long as the process */
    return NULL;
}

static void start_server(void)
{
    request_log = g_ptr_array_new_with_free_func(g_free);
    g_mutex_lock(&start_lock);
    g_thread_unref(g_thread_new("catalog-server", server_thread, NULL));
    while (server_port == 0)
        g_cond_wait(&start_cond, &start_lock);
    g_mutex_unlock(&start_lock);
}

/* ---- helpers -------------------------------------------------------------- */

static const Blob *blob_of(const char *model_id, const char *role)
{
    for (size_t i = 0; i < G_N_ELEMENTS(blobs); i++)
        if (strcmp(blobs[i].model_id, model_id) == 0 && strcmp(blobs[i].role, role) == 0)
            return &blobs[i];
    g_assert_not_reached();
}

static char *installed_path(const Blob *b)
{
    return g_build_filename(models_root, b->model_id, b->file, NULL);
}

/* The SHA-256 of a file by GChecksum, or NULL when it cannot be read. */
static char *sha256_of(const char *path)
{
    g_autofree char *data = NULL;
    gsize n = 0;
    if (!g_file_get_contents(path, &data, &n, NULL))
        return NULL;
    return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, n);
}

static gint64 size_of(const char *path)
{
    GStatBuf st;
    return g_stat(path, &st) == 0 ? (gint64)st.st_size : -1;
}

static WenshuCatalogDialog *open_dialog(guint64 ram_mib, guint64 vram_mib)
{
    WenshuCatalogDialog *d =
        wenshu_catalog_dialog_new_for_memory(NULL, ram_mib * MIB, vram_mib * MIB);
    gtk_window_present(GTK_WINDOW(d));
    gui_wait_until(gui_widget_drawn, d, 10000, "the catalogue window drawn");
    return d;
}

static GtkWidget *row_of(WenshuCatalogDialog *d, const char *id)
{
    GtkWidget *list = gui_find_named(GTK_WIDGET(d), "models");
    g_assert_nonnull(list);
    GtkWidget *row = gui_find_named(list, id);
    g_assert_nonnull(row);
    return row;
}

static GtkWidget *part_of(WenshuCatalogDialog *d, const char *id, const char *name)
{
    GtkWidget *w = gui_find_named(row_of(d, id), name);
    g_assert_nonnull(w);
    return w;
}

static const char *state_text(WenshuCatalogDialog *d, const char *id)
{
    return gtk_label_get_text(GTK_LABEL(part_of(d, id, "state")));
}

/* Press a row's button as a user would: it must be shown and sensitive.
 * (GTK shows the press and emits "clicked" a moment later.) */
static void press(WenshuCatalogDialog *d, const char *id, const char *button)
{
    GtkWidget *b = part_of(d, id, button);
    g_assert_true(gtk_widget_is_visible(b));
    g_assert_true(gtk_widget_is_sensitive(b));
    gtk_widget_activate(b);
}

typedef struct {
    WenshuCatalogDialog *dialog;
    const char *id;
    const char *prefix;
} StateWait;

static gboolean state_has_prefix(gpointer data)
{
    StateWait *w = data;
    return g_str_has_prefix(state_text(w->dialog, w->id), w->prefix);
}

static void wait_state(WenshuCatalogDialog *d, const char *id, const char *prefix)
{
    StateWait w = {d, id, prefix};
    g_autofree char *what = g_strdup_printf("%s's state to start with \"%s\"", id, prefix);
    gui_wait_until(state_has_prefix, &w, WAIT_MS, what);
}

/* The documented rule (catalog.h), from the catalogue's numbers here: the
 * largest model (by download size) whose min VRAM fits, else whose min RAM
 * fits; the GPU pick wins unless the CPU pick is larger. */
static const char *expected_pick(guint64 ram_mib, guint64 vram_mib)
{
    const Model *best[2] = {NULL, NULL}; /* [0] by VRAM, [1] by RAM */
    guint64 best_size[2] = {0, 0};
    for (int by_ram = 0; by_ram < 2; by_ram++) {
        guint64 avail = by_ram ? ram_mib : vram_mib;
        for (size_t m = 0; avail && m < G_N_ELEMENTS(models); m++) {
            guint64 need = by_ram ? models[m].min_ram_mb : models[m].min_vram_mb;
            guint64 size = 0;
            for (size_t i = 0; i < G_N_ELEMENTS(blobs); i++)
                if (strcmp(blobs[i].model_id, models[m].id) == 0)
                    size += blobs[i].size;
            if (need <= avail && (!best[by_ram] || size > best_size[by_ram])) {
                best[by_ram] = &models[m];
                best_size[by_ram] = size;
            }
        }
    }
    if (best[0] && (!best[1] || best_size[0] >= best_size[1]))
        return best[0]->id;
    return best[1] ? best[1]->id : NULL;
}

static char *cli_recommend(guint64 ram_mib, guint64 vram_mib)
{
    const char *cli = g_getenv("WENSHU_CLI");
    g_assert_nonnull(cli);
    g_autofree char *ram = g_strdup_printf("%" G_GUINT64_FORMAT, ram_mib);
    g_autofree char *vram = g_strdup_printf("%" G_GUINT64_FORMAT, vram_mib);
    const char *argv[] = {cli,     "models", "recommend", "--catalog", catalog_path,
                          "--ram", ram,      "--vram",    vram,        NULL};
    char *out = NULL;
    int status = 0;
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                               &out, NULL, &status, NULL));
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    return g_strstrip(out);
}

/* ---- the tests ------------------------------------------------------------ */

/* Append "TEXT|" for every label under root, in tree order. */
static void collect_labels(GtkWidget *root, GString *out)
{
    if (GTK_IS_LABEL(root) && *gtk_label_get_text(GTK_LABEL(root)))
        g_string_append_printf(out, "%s|", gtk_label_get_text(GTK_LABEL(root)));
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c))
        collect_labels(c, out);
}

static void check_order(guint64 ram_mib, guint64 vram_mib)
{
    const char *want = expected_pick(ram_mib, vram_mib);
    g_autofree char *cli = cli_recommend(ram_mib, vram_mib);
    g_test_message("RAM %" G_GUINT64_FORMAT " MiB, VRAM %" G_GUINT64_FORMAT
                   " MiB: expected %s, the CLI says %s",
                   ram_mib, vram_mib, want, cli);
    g_assert_cmpstr(want, !=, models[0].id); /* so that "first" means something */
    g_assert_cmpstr(cli, ==, want);
    WenshuCatalogDialog *d = open_dialog(ram_mib, vram_mib);
    g_assert_cmpstr(wenshu_catalog_dialog_get_recommended(d), ==, want);
    GtkListBox *list = GTK_LIST_BOX(gui_find_named(GTK_WIDGET(d), "models"));
    /* the recommended first, then the others in catalogue order */
    GtkListBoxRow *first = gtk_list_box_get_row_at_index(list, 0);
    g_assert_cmpstr(gtk_widget_get_name(GTK_WIDGET(first)), ==, want);
    GtkWidget *mark = gui_find_named(GTK_WIDGET(first), "recommended");
    g_assert_true(mark && gtk_widget_is_visible(mark));
    g_assert_cmpstr(gtk_label_get_text(GTK_LABEL(mark)), ==, "Recommended for this computer");
    int index = 1;
    for (size_t m = 0; m < G_N_ELEMENTS(models); m++) {
        if (strcmp(models[m].id, want) == 0)
            continue;
        GtkListBoxRow *row = gtk_list_box_get_row_at_index(list, index++);
        g_assert_nonnull(row);
        g_assert_cmpstr(gtk_widget_get_name(GTK_WIDGET(row)), ==, models[m].id);
        g_assert_null(gui_find_named(GTK_WIDGET(row), "recommended"));
        g_assert_cmpstr(state_text(d, models[m].id), ==, "Not downloaded");
        g_assert_true(gtk_widget_is_visible(part_of(d, models[m].id, "download")));
    }
    g_assert_null(gtk_list_box_get_row_at_index(list, index));
    gui_close_window(GTK_WINDOW(d));
}

static void test_list(void)
{
    check_order(2048, 0);   /* on the CPU: the largest that fits 2 GiB of RAM */
    check_order(512, 4096); /* on a GPU: the largest that fits 4 GiB of VRAM */

    WenshuCatalogDialog *d = open_dialog(2048, 0);
    /* TZ=Asia/Shanghai (set in main) and the setting "auto": ModelScope */
    AdwComboRow *mirror = ADW_COMBO_ROW(gui_find_named(GTK_WIDGET(d), "mirror"));
    g_assert_cmpuint(adw_combo_row_get_selected(mirror), ==, 1);
    GSettings *settings = g_settings_new("cn.wenshu.Wenshu");
    g_autofree char *stored = g_settings_get_string(settings, "download-mirror");
    g_assert_cmpstr(stored, ==, "auto");
    /* the capability tags and the size line of the vision model */
    GString *texts = g_string_new("|");
    collect_labels(row_of(d, "fx-vision"), texts);
    g_test_message("fx-vision row: %s", texts->str);
    g_assert_nonnull(strstr(texts->str, "|Fixture fx-vision|text|images|video|"));
    g_assert_null(strstr(texts->str, "|reasoning|"));
    /* 1 MiB + 512 KiB = 1572864 bytes; 1500 MiB and 1200 MiB (in SI units,
     * a no-break space before the unit) */
    g_assert_nonnull(strstr(texts->str, "|1.6\u00a0MB download · needs 1.6\u00a0GB of memory, "
                                        "or 1.3\u00a0GB of GPU memory|"));
    g_string_free(texts, TRUE);
    gui_save_screenshot(GTK_WIDGET(d), "catalog", 300);
    GString *bad = g_string_new(NULL);
    int n_icon_buttons = 0;
    gui_find_unlabelled(GTK_WIDGET(d), bad, &n_icon_buttons);
    g_test_message("%d icon-only buttons", n_icon_buttons);
    g_assert_cmpstr(bad->str, ==, "");
    g_string_free(bad, TRUE);
    g_object_unref(settings);
    gui_close_window(GTK_WINDOW(d));
}

static GtkWidget *find_button_labelled(GtkWidget *root, const char *label)
{
    if (GTK_IS_BUTTON(root) && g_strcmp0(gtk_button_get_label(GTK_BUTTON(root)), label) == 0)
        return root;
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *found = find_button_labelled(c, label);
        if (found)
            return found;
    }
    return NULL;
}

static AdwMessageDialog *find_message_dialog(void)
{
    GListModel *toplevels = gtk_window_get_toplevels();
    AdwMessageDialog *found = NULL;
    for (guint i = 0; i < g_list_model_get_n_items(toplevels) && !found; i++) {
        GObject *w = g_list_model_get_item(toplevels, i);
        if (ADW_IS_MESSAGE_DIALOG(w) && gtk_widget_get_visible(GTK_WIDGET(w)))
            found = ADW_MESSAGE_DIALOG(w);
        g_object_unref(w);
    }
    return found;
}

static gboolean message_dialog_shown(gpointer data)
{
    (void)data;
    return find_message_dialog() != NULL;
}

typedef struct {
    GArray *fractions; /* [n] double, every fraction the bar showed */
    gboolean saw_speed;
} ProgressLog;

static void on_fraction(GtkProgressBar *bar, GParamSpec *pspec, ProgressLog *log)
{
    (void)pspec;
    double f = gtk_progress_bar_get_fraction(bar);
    g_array_append_val(log->fractions, f);
    const char *text = gtk_progress_bar_get_text(bar);
    log->saw_speed = log->saw_speed || (text && strstr(text, "MB/s") && strstr(text, "left"));
}

typedef struct {
    char *model_path;
    char *mmproj_path;
    int n_calls;
} Chosen;

static void on_model_chosen(WenshuCatalogDialog *d, const char *model, const char *mmproj,
                            Chosen *c)
{
    (void)d;
    g_free(c->model_path);
    g_free(c->mmproj_path);
    c->model_path = g_strdup(model);
    c->mmproj_path = g_strdup(mmproj);
    c->n_calls++;
}

static gboolean chosen_once(gpointer data) { return ((Chosen *)data)->n_calls > 0; }

/* Download the vision model (model + mmproj) from the mirror picked here,
 * watch the progress, use it, then remove it. */
static void test_download_use_remove(void)
{
    WenshuCatalogDialog *d = open_dialog(2048, 0);
    AdwComboRow *mirror = ADW_COMBO_ROW(gui_find_named(GTK_WIDGET(d), "mirror"));
    adw_combo_row_set_selected(mirror, 0); /* Hugging Face */
    GSettings *settings = g_settings_new("cn.wenshu.Wenshu");
    g_autofree char *stored = g_settings_get_string(settings, "download-mirror");
    g_assert_cmpstr(stored, ==, "huggingface");
    g_object_unref(settings);

    ProgressLog log = {g_array_new(FALSE, FALSE, sizeof(double)), FALSE};
    GtkWidget *bar = part_of(d, "fx-vision", "progress");
    gulong watch = g_signal_connect(bar, "notify::fraction", G_CALLBACK(on_fraction), &log);
    press(d, "fx-vision", "download");
    wait_state(d, "fx-vision", "Installed and verified");
    g_test_message("%u progress updates", log.fractions->len);
    g_assert_cmpuint(log.fractions->len, >=, 3);
    for (guint i = 1; i < log.fractions->len; i++)
        g_assert_cmpfloat(g_array_index(log.fractions, double, i), >=,
                          g_array_index(log.fractions, double, i - 1));
    g_assert_cmpfloat(g_array_index(log.fractions, double, 0), <, 1.0);
    g_assert_cmpfloat(g_array_index(log.fractions, double, log.fractions->len - 1), ==, 1.0);
    g_assert_true(log.saw_speed);
    g_signal_handler_disconnect(bar, watch);
    g_array_unref(log.fractions);
    g_assert_false(gtk_widget_is_visible(part_of(d, "fx-vision", "error")));
    const Blob *model = blob_of("fx-vision", "model");
    const Blob *mmproj = blob_of("fx-vision", "mmproj");
    g_autofree char *model_path = installed_path(model);
    g_autofree char *mmproj_path = installed_path(mmproj);
    g_autofree char *model_sha = sha256_of(model_path);
    g_autofree char *mmproj_sha = sha256_of(mmproj_path);
    g_assert_cmpstr(model_sha, ==, model->sha256);
    g_assert_cmpstr(mmproj_sha, ==, mmproj->sha256);
    g_assert_cmpuint(logged_with_prefix("/hf/slow/fx-vision"), ==, 2);
    g_assert_cmpuint(logged_with_prefix("/ms/"), ==, 0);

    Chosen chosen = {NULL, NULL, 0};
    g_signal_connect(d, "model-chosen", G_CALLBACK(on_model_chosen), &chosen);
    press(d, "fx-vision", "use");
    gui_wait_until(chosen_once, &chosen, 10000, "model-chosen");
    gui_spin(300);
    g_assert_cmpint(chosen.n_calls, ==, 1);
    g_assert_cmpstr(chosen.model_path, ==, model_path);
    g_assert_cmpstr(chosen.mmproj_path, ==, mmproj_path);
    g_free(chosen.model_path);
    g_free(chosen.mmproj_path);

    press(d, "fx-vision", "remove");
    gui_wait_until(message_dialog_shown, NULL, 10000, "the remove confirmation");
    AdwMessageDialog *confirm = find_message_dialog();
    g_assert_true(g_file_test(model_path, G_FILE_TEST_EXISTS)); /* nothing before the answer */
    GtkWidget *remove = find_button_labelled(GTK_WIDGET(confirm), "_Remove");
    g_assert_nonnull(remove);
    gtk_widget_activate(remove);
    wait_state(d, "fx-vision", "Not downloaded");
    g_assert_false(g_file_test(model_path, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(mmproj_path, G_FILE_TEST_EXISTS));
    g_autofree char *dir = g_build_filename(models_root, "fx-vision", NULL);
    g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
    gui_close_window(GTK_WINDOW(d));
}

static gboolean fraction_above(gpointer data)
{
    GtkProgressBar *bar = data;
    return gtk_progress_bar_get_fraction(bar) > 0.15;
}

/* The longest wait between two ticks of a 10 ms main-loop timer. */
typedef struct {
    gint64 last_us;
    gint64 max_gap_us;
} GapWatch;

static gboolean on_tick(gpointer data)
{
    GapWatch *g = data;
    gint64 now = g_get_monotonic_time();
    if (g->last_us)
        g->max_gap_us = MAX(g->max_gap_us, now - g->last_us);
    g->last_us = now;
    return G_SOURCE_CONTINUE;
}

/* Pause mid-file, reopen the window, resume: the .part is continued with
 * a Range request and the file verifies. */
static void test_pause_resume(void)
{
    const Blob *b = blob_of("fx-slow", "model");
    g_autofree char *dest = installed_path(b);
    g_autofree char *part = g_strconcat(dest, ".part", NULL);
    g_autofree char *state = g_strconcat(dest, ".part.json", NULL);

    WenshuCatalogDialog *d = open_dialog(2048, 0);
    press(d, "fx-slow", "download");
    gui_wait_until(fraction_above, part_of(d, "fx-slow", "progress"), WAIT_MS, "fx-slow past 15%");
    press(d, "fx-slow", "pause");
    wait_state(d, "fx-slow", "Paused at ");
    gint64 kept = size_of(part);
    g_test_message("paused with %" G_GINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes", kept,
                   b->size);
    g_assert_cmpint(kept, >, 0);
    g_assert_cmpint(kept, <, (gint64)b->size);
    g_assert_true(g_file_test(state, G_FILE_TEST_IS_REGULAR));
    g_assert_false(g_file_test(dest, G_FILE_TEST_EXISTS));
    gui_close_window(GTK_WINDOW(d));

    /* a new window finds the paused download on disk */
    d = open_dialog(2048, 0);
    int percent = (int)(100.0 * (double)kept / (double)b->size);
    g_autofree char *want = g_strdup_printf("Paused at %d%% — Resume", percent);
    g_assert_cmpstr(state_text(d, "fx-slow"), ==, want);
    g_assert_true(gtk_widget_is_visible(part_of(d, "fx-slow", "progress")));
    g_assert_false(gtk_widget_is_visible(part_of(d, "fx-slow", "download")));
    gui_save_screenshot(GTK_WIDGET(d), "catalog-paused", 200);
    GapWatch gaps = {0, 0};
    guint tick = g_timeout_add(10, on_tick, &gaps);
    press(d, "fx-slow", "resume");
    wait_state(d, "fx-slow", "Installed and verified");
    g_source_remove(tick);
    /* the transfer and the final SHA-256 run on a worker thread */
    g_test_message("longest main-loop gap while resuming: %.1f ms", (double)gaps.max_gap_us / 1e3);
    g_assert_cmpint(gaps.max_gap_us, <, 250000);
    g_autofree char *sha = sha256_of(dest);
    g_assert_cmpstr(sha, ==, b->sha256);
    g_assert_false(g_file_test(part, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(state, G_FILE_TEST_EXISTS));
    g_autofree char *range_request =
        g_strdup_printf("/hf/slow/fx-slow.gguf bytes=%" G_GINT64_FORMAT "-", kept);
    g_assert_true(logged(range_request));
    gui_close_window(GTK_WINDOW(d));
}

/* Cancel mid-download deletes the .part. */
static void test_cancel(void)
{
    const Blob *b = blob_of("fx-cancel", "model");
    g_autofree char *dest = installed_path(b);
    g_autofree char *part = g_strconcat(dest, ".part", NULL);
    WenshuCatalogDialog *d = open_dialog(2048, 0);
    press(d, "fx-cancel", "download");
    gui_wait_until(fraction_above, part_of(d, "fx-cancel", "progress"), WAIT_MS,
                   "fx-cancel past 15%");
    press(d, "fx-cancel", "cancel");
    wait_state(d, "fx-cancel", "Not downloaded");
    g_assert_false(g_file_test(part, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(dest, G_FILE_TEST_EXISTS));
    g_assert_true(gtk_widget_is_visible(part_of(d, "fx-cancel", "download")));
    gui_close_window(GTK_WINDOW(d));
}

/* The window's entry point: one dialog per parent; closing it hides it and
 * its download goes on; it goes with the parent. */
static void test_present(void)
{
    const Blob *b = blob_of("fx-cancel", "model");
    g_autofree char *dest = installed_path(b);
    GtkWidget *parent = gtk_window_new();
    gtk_window_present(GTK_WINDOW(parent));
    Chosen chosen = {NULL, NULL, 0};
    WenshuCatalogDialog *d =
        wenshu_catalog_dialog_present(GTK_WINDOW(parent), G_CALLBACK(on_model_chosen), NULL);
    g_signal_handlers_disconnect_by_func(d, on_model_chosen, NULL);
    g_signal_connect(d, "model-chosen", G_CALLBACK(on_model_chosen), &chosen);
    gui_wait_until(gui_widget_drawn, d, 10000, "the presented catalogue drawn");
    g_assert_true(wenshu_catalog_dialog_present(GTK_WINDOW(parent), NULL, NULL) == d);
    GObject *alive = G_OBJECT(d);
    g_object_add_weak_pointer(alive, (gpointer *)&alive);
    press(d, "fx-cancel", "download");
    gui_wait_until(fraction_above, part_of(d, "fx-cancel", "progress"), WAIT_MS,
                   "fx-cancel past 15%");
    gtk_window_close(GTK_WINDOW(d));
    gui_spin(100);
    g_assert_nonnull(alive);
    g_assert_false(gtk_widget_get_visible(GTK_WIDGET(d)));
    wait_state(d, "fx-cancel", "Installed and verified");
    g_autofree char *sha = sha256_of(dest);
    g_assert_cmpstr(sha, ==, b->sha256);
    g_assert_true(wenshu_catalog_dialog_present(GTK_WINDOW(parent), NULL, NULL) == d);
    press(d, "fx-cancel", "use");
    gui_wait_until(chosen_once, &chosen, 10000, "model-chosen");
    g_assert_cmpstr(chosen.model_path, ==, dest);
    g_assert_null(chosen.mmproj_path);
    g_free(chosen.model_path);
    gui_close_window(GTK_WINDOW(parent));
    g_assert_null(alive);
}

static gboolean widget_shown(gpointer data) { return gtk_widget_is_visible(GTK_WIDGET(data)); }

/* A corrupt download shows the checksum error and leaves no file; a model
 * larger than the disk is refused before anything is written. */
static void test_errors(void)
{
    const Blob *b = blob_of("fx-corrupt", "model");
    g_autofree char *dest = installed_path(b);
    g_autofree char *part = g_strconcat(dest, ".part", NULL);
    WenshuCatalogDialog *d = open_dialog(2048, 0);
    press(d, "fx-corrupt", "download");
    GtkWidget *error = part_of(d, "fx-corrupt", "error");
    gui_wait_until(widget_shown, error, WAIT_MS, "fx-corrupt's error");
    const char *message = gtk_label_get_text(GTK_LABEL(error));
    g_test_message("corrupt: %s", message);
    g_assert_nonnull(strstr(message, "SHA-256 mismatch"));
    g_assert_nonnull(strstr(message, b->file));
    g_assert_nonnull(strstr(message, b->sha256));
    wait_state(d, "fx-corrupt", "Not downloaded");
    g_assert_false(g_file_test(dest, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(part, G_FILE_TEST_EXISTS));

    guint n_before = logged_with_prefix("/hf/f/fx-big");
    press(d, "fx-big", "download");
    error = part_of(d, "fx-big", "error");
    gui_wait_until(widget_shown, error, 10000, "fx-big's error");
    message = gtk_label_get_text(GTK_LABEL(error));
    g_test_message("too big: %s", message);
    g_assert_nonnull(strstr(message, "not enough free space"));
    g_assert_cmpstr(state_text(d, "fx-big"), ==, "Not downloaded");
    g_assert_cmpuint(logged_with_prefix("/hf/f/fx-big"), ==, n_before);
    g_assert_true(gtk_widget_is_visible(part_of(d, "fx-big", "download")));
    gui_close_window(GTK_WINDOW(d));
}

static gboolean import_finished(gpointer data)
{
    const char *text = gtk_label_get_text(GTK_LABEL(data));
    return gtk_widget_is_visible(GTK_WIDGET(data)) && *text && !g_str_has_prefix(text, "Importing");
}

/* A folder from a "USB stick": one catalogue file (verified), one unknown. */
static void test_import(void)
{
    const Blob *b = blob_of("fx-small", "model");
    g_autofree char *usb = g_build_filename(tmp_root, "usb", NULL);
    g_assert_cmpint(g_mkdir_with_parents(usb, 0755), ==, 0);
    g_autofree char *copy = g_build_filename(usb, "from-usb.gguf", NULL);
    g_assert_true(g_file_set_contents(copy, (const char *)b->data, (gssize)b->size, NULL));
    g_autofree char *other = g_build_filename(usb, "unknown.gguf", NULL);
    g_assert_true(g_file_set_contents(other, "GGUF not in the catalogue", -1, NULL));

    WenshuCatalogDialog *d = open_dialog(2048, 0);
    GtkWidget *result = gui_find_named(GTK_WIDGET(d), "import-result");
    g_assert_nonnull(result);
    wenshu_catalog_dialog_import(d, usb);
    gui_wait_until(import_finished, result, WAIT_MS, "the import");
    const char *text = gtk_label_get_text(GTK_LABEL(result));
    g_test_message("import: %s", text);
    g_assert_nonnull(
        strstr(text, "from-usb.gguf: imported into Fixture fx-small, SHA-256 verified"));
    g_assert_nonnull(strstr(text, "unknown.gguf: matches no file of the catalogue"));
    g_autofree char *dest = installed_path(b);
    g_autofree char *sha = sha256_of(dest);
    g_assert_cmpstr(sha, ==, b->sha256);
    g_assert_cmpstr(state_text(d, "fx-small"), ==, "Installed and verified");
    g_assert_true(gtk_widget_is_visible(part_of(d, "fx-small", "use")));

    /* a single file that is not there: the error names it */
    g_autofree char *missing = g_build_filename(usb, "gone.gguf", NULL);
    wenshu_catalog_dialog_import(d, missing);
    gui_wait_until(import_finished, result, WAIT_MS, "the second import");
    text = gtk_label_get_text(GTK_LABEL(result));
    g_assert_nonnull(strstr(text, missing));
    g_assert_true(gtk_widget_has_css_class(result, "error"));
    gui_close_window(GTK_WINDOW(d));
}

int main(int argc, char **argv)
{
    /* before any thread: the mirror rule's input and the folders */
    g_setenv("TZ", "Asia/Shanghai", TRUE);
    tmp_root = g_dir_make_tmp("wenshu-catalog-XXXXXX", NULL);
    g_assert_nonnull(tmp_root);
    catalog_path = g_build_filename(tmp_root, "catalog.json", NULL);
    models_root = g_build_filename(tmp_root, "models", NULL);
    g_autofree char *data_home = g_build_filename(tmp_root, "data", NULL);
    g_setenv("WENSHU_CATALOG", catalog_path, TRUE);
    g_setenv("WENSHU_MODELS_DIR", models_root, TRUE);
    g_setenv("XDG_DATA_HOME", data_home, TRUE);
    make_blobs();
    gui_init(&argc, &argv, TRUE);
    start_server();
    write_catalog();
    g_test_add_func("/gui/catalog/list", test_list);
    g_test_add_func("/gui/catalog/download-use-remove", test_download_use_remove);
    g_test_add_func("/gui/catalog/pause-resume", test_pause_resume);
    g_test_add_func("/gui/catalog/cancel", test_cancel);
    g_test_add_func("/gui/catalog/present", test_present);
    g_test_add_func("/gui/catalog/errors", test_errors);
    g_test_add_func("/gui/catalog/import", test_import);
    int rc = g_test_run();
    const char *rm[] = {"rm", "-rf", tmp_root, NULL};
    if (rc == 0)
        g_spawn_sync(NULL, (char **)rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                     NULL);
    return rc;
}
