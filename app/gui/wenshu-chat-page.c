/* wenshu-chat-page.c: the 对话 / Chat page. It keeps the conversation as
 * role/content pairs, sends it to the runner, and appends each coalesced
 * "tokens" emission at the end of the transcript. Text between <think> and
 * </think> goes to the collapsed thinking block instead, and is left out of
 * the message kept for the next turn; draft.new forgets the conversation.
 * Enter inserts a newline; Ctrl+Enter sends unless an input method is
 * composing (preedit); Esc stops.
 *
 * Attachments (the bar above the prompt) go into the user message when it is
 * sent: a text or document as its text under a header line, an image or a
 * clip as an ENG_MEDIA_MARKER whose file the message keeps (every turn
 * re-sends the conversation's media; the runner reuses their encodings).
 * The history stores a marker as "[media: PATH]" (MEDIA_SAVED_OPEN ... "]").
 *
 * Edit-then-continue: draft.edit-reply makes the last reply editable in the
 * transcript (the text before it stays read-only); draft.continue takes the
 * reply as it stands, edited or cut short by Stop, and generates onwards
 * from its end.
 *
 * With a history (wenshu_chat_page_set_history) every turn is autosaved: the
 * first prompt creates a conversation, each prompt is a complete message,
 * and the reply is a message saved every AUTOSAVE_MS while it streams
 * (complete = FALSE) and completed when the run ends, so a kill loses at
 * most the last interval. "history-changed" tells the window to relist.
 */
#include "wenshu-chat-page.h"
#include "wenshu-attachment-bar.h"
#include "wenshu-page-util.h"
#include "wenshu-preferences.h"

#include <glib/gi18n.h>
#include <string.h>

#define CONTEXT_WARNING_FRACTION 0.9
#define THINK_OPEN "<think>"
#define THINK_CLOSE "</think>"
#define AUTOSAVE_MS 500   /* the longest a streamed reply stays unsaved */
#define TITLE_CHARS 20    /* a new conversation's title: its first prompt, cut */
#define MEDIA_SAVED_OPEN "[media: " /* a marker in the history: "[media: PATH]" */

typedef struct {
    char *role;    /* "user" or "assistant" */
    char *content; /* UTF-8; an assistant message without its thinking; a
                    * user message's images and clips are ENG_MEDIA_MARKERs */
    char **media;  /* the files of content's markers, in order (NULL-terminated),
                    * or NULL when it has none */
} ChatMessage;

struct _WenshuChatPage {
    AdwBin parent_instance;

    GtkExpander *thinking_expander;
    GtkTextView *thinking_view;
    GtkStack *output_stack; /* "welcome" before a model is loaded, then "transcript" */
    GtkScrolledWindow *output_scroller;
    GtkTextView *output_view;
    GtkTextView *prompt_view;
    GtkLabel *token_label;
    GtkButton *stop_button;
    GtkButton *regenerate_button;
    GtkButton *send_button;
    WenshuAttachmentBar *attachment_bar;
    GtkProgressBar *media_progress; /* decoding and encoding of this page's media */

    WenshuRunner *runner; /* owned ref */
    gulong tokens_handler, finished_handler, progress_handler;
    GArray *messages;         /* of ChatMessage, owned, the turns so far */
    gboolean own_run;         /* the runner's current run is this page's */
    gboolean in_think;        /* the stream is inside <think>...</think> */
    GString *carry;           /* streamed text held back: a possible partial tag */
    GString *reply;           /* the reply being streamed, thinking left out */
    GtkTextMark *reply_start; /* where the current reply begins in the transcript */
    gboolean has_preedit;
    gboolean editing_reply; /* the last reply is editable in the transcript */
    int n_predict;
    int attachment_tokens; /* what the attachments add to the next message, counted
                            * when they or the model change (not per keystroke) */

    WenshuHistory *history; /* borrowed from the window, or NULL: no autosave */
    gint64 conversation_id; /* this chat in the history, or 0 before its first turn */
    gint64 reply_id;        /* the last assistant message in the history, or 0 */
    gsize saved_len;        /* bytes of reply saved by the last autosave */
    guint autosave_source;  /* the AUTOSAVE_MS timer during a run, or 0 */
};

enum { SIGNAL_HISTORY_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE(WenshuChatPage, wenshu_chat_page, ADW_TYPE_BIN)

static void chat_message_clear(gpointer data)
{
    ChatMessage *m = data;
    g_free(m->role);
    g_free(m->content);
    g_strfreev(m->media);
}

/* Append a message; media (may be NULL) are copied. */
static void append_message_with_media(WenshuChatPage *self, const char *role,
                                      const char *content, char *const *media)
{
    ChatMessage m = {g_strdup(role), g_strdup(content),
                     media && media[0] ? g_strdupv((char **)media) : NULL};
    g_array_append_val(self->messages, m);
}

static void append_message(WenshuChatPage *self, const char *role, const char *content)
{
    append_message_with_media(self, role, content, NULL);
}

/* ---- media markers in the history --------------------------------------- */

/* content with its i-th ENG_MEDIA_MARKER written as "[media: media[i]]".
 * Ownership: the caller frees the result. */
static char *content_for_history(const char *content, char *const *media)
{
    GString *out = g_string_new(NULL);
    size_t marker_len = strlen(ENG_MEDIA_MARKER);
    const char *text = content;
    for (int i = 0; media && media[i]; i++) {
        const char *hit = strstr(text, ENG_MEDIA_MARKER);
        if (!hit)
            break;
        g_string_append_len(out, text, hit - text);
        g_string_append_printf(out, MEDIA_SAVED_OPEN "%s]", media[i]);
        text = hit + marker_len;
    }
    g_string_append(out, text);
    return g_string_free(out, FALSE);
}

/* The reverse: saved text's "[media: PATH]"s become markers; *media gets
 * their paths (NULL when none). Ownership: the caller frees both. */
static char *content_from_history(const char *saved, char ***media)
{
    GString *out = g_string_new(NULL);
    GPtrArray *paths = g_ptr_array_new();
    const char *text = saved;
    const char *hit;
    while ((hit = strstr(text, MEDIA_SAVED_OPEN))) {
        const char *path = hit + strlen(MEDIA_SAVED_OPEN);
        const char *close = strchr(path, ']');
        if (!close || memchr(path, '\n', (size_t)(close - path)))
            break;
        g_string_append_len(out, text, hit - text);
        g_string_append(out, ENG_MEDIA_MARKER);
        g_ptr_array_add(paths, g_strndup(path, (gsize)(close - path)));
        text = close + 1;
    }
    g_string_append(out, text);
    g_ptr_array_add(paths, NULL);
    *media = paths->len > 1 ? (char **)g_ptr_array_free(paths, FALSE) : NULL;
    if (!*media)
        g_ptr_array_free(paths, TRUE);
    return g_string_free(out, FALSE);
}

/* The conversation as engine messages, plus extra_user when not NULL.
 * Ownership: the array is the caller's (g_free); strings stay the page's. */
static struct eng_chat_message *engine_messages(WenshuChatPage *self, const char *extra_user,
                                                int *n_out)
{
    int n = (int)self->messages->len + (extra_user ? 1 : 0);
    struct eng_chat_message *msgs = g_new0(struct eng_chat_message, MAX(n, 1));
    for (guint i = 0; i < self->messages->len; i++) {
        ChatMessage *m = &g_array_index(self->messages, ChatMessage, i);
        msgs[i] = (struct eng_chat_message){m->role, m->content};
    }
    if (extra_user)
        msgs[n - 1] = (struct eng_chat_message){"user", extra_user};
    *n_out = n;
    return msgs;
}

/* The files of every marker in the conversation, in order.
 * Ownership: the array is the caller's (g_free); the strings stay the page's. */
static const char **conversation_media(WenshuChatPage *self, int *n_out)
{
    GPtrArray *paths = g_ptr_array_new();
    for (guint i = 0; i < self->messages->len; i++) {
        ChatMessage *m = &g_array_index(self->messages, ChatMessage, i);
        for (int k = 0; m->media && m->media[k]; k++)
            g_ptr_array_add(paths, m->media[k]);
    }
    *n_out = (int)paths->len;
    g_ptr_array_add(paths, NULL);
    return (const char **)g_ptr_array_free(paths, FALSE);
}

static void show_error(WenshuChatPage *self, const char *message)
{
    /* the window shows it in its banner; without a window it is logged */
    if (!gtk_widget_activate_action(GTK_WIDGET(self), "win.show-error", "s", message))
        g_message("%s", message);
}

/* ---- state -------------------------------------------------------------- */

static void count_attachment_tokens(WenshuChatPage *self);

static gboolean last_is_assistant(WenshuChatPage *self)
{
    guint n = self->messages->len;
    return n > 0 &&
           strcmp(g_array_index(self->messages, ChatMessage, n - 1).role, "assistant") == 0;
}

/* The actions enabled and the welcome page shown as the runner's state says. */
static void update_state(WenshuChatPage *self)
{
    gboolean loaded = wenshu_runner_is_loaded(self->runner);
    gboolean running = wenshu_runner_is_running(self->runner);
    /* first start: explain how to get a model instead of an empty transcript;
     * a conversation restored from the history shows even before a load */
    gboolean has_transcript = loaded || self->messages->len > 0;
    gtk_stack_set_visible_child_name(self->output_stack, has_transcript ? "transcript" : "welcome");
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "draft.send", loaded && !running);
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "draft.stop", self->own_run && running);
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "draft.regenerate",
                                  loaded && !running && last_is_assistant(self));
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "draft.new",
                                  !running && self->messages->len > 0);
    gboolean can_continue = loaded && !running && last_is_assistant(self);
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "draft.edit-reply",
                                  !running && last_is_assistant(self));
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "draft.continue", can_continue);
}

void wenshu_chat_page_update_token_count(WenshuChatPage *self)
{
    g_return_if_fail(WENSHU_IS_CHAT_PAGE(self));
    GtkWidget *label = GTK_WIDGET(self->token_label);
    int n_ctx = wenshu_runner_n_ctx(self->runner);
    g_autofree char *prompt = wenshu_buffer_text(gtk_text_view_get_buffer(self->prompt_view));
    gboolean has_next = prompt[0] || self->attachment_tokens > 0;
    int n_msgs = 0;
    g_autofree struct eng_chat_message *msgs =
        engine_messages(self, has_next ? prompt : NULL, &n_msgs);
    int n_tokens = n_msgs > 0 ? wenshu_runner_count_tokens(self->runner, msgs, n_msgs) : 0;
    if (n_tokens > 0 && has_next)
        n_tokens += self->attachment_tokens;
    g_autofree char *text = g_strdup_printf("%d / %d", MAX(n_tokens, 0), n_ctx);
    gtk_label_set_label(self->token_label, text);
    gboolean near_full = n_ctx > 0 && n_tokens > CONTEXT_WARNING_FRACTION * n_ctx;
    if (near_full) {
        gtk_widget_add_css_class(label, "warning");
        gtk_widget_remove_css_class(label, "dim-label");
    } else {
        gtk_widget_remove_css_class(label, "warning");
        gtk_widget_add_css_class(label, "dim-label");
    }
    update_state(self);
}

/* ---- autosave ----------------------------------------------------------- */

/* A history failure is shown once and ends autosaving for this page: the
 * chat goes on, unsaved, rather than repeating the banner every 500 ms. */
static void history_failed(WenshuChatPage *self, GError *error)
{
    g_autofree char *message = g_strdup_printf(_("History: %s"), error->message);
    show_error(self, message);
    g_error_free(error);
    self->history = NULL;
    g_clear_handle_id(&self->autosave_source, g_source_remove);
}

/* The first prompt, on one line, cut to TITLE_CHARS characters. Ownership:
 * the caller frees the result. */
static char *title_from_prompt(const char *prompt)
{
    g_autofree char *one_line = g_strdup(prompt);
    g_strdelimit(one_line, "\r\n\t", ' ');
    g_strstrip(one_line);
    if (g_utf8_strlen(one_line, -1) <= TITLE_CHARS)
        return g_steal_pointer(&one_line);
    g_autofree char *cut = g_utf8_substring(one_line, 0, TITLE_CHARS);
    return g_strconcat(cut, "…", NULL);
}

/* Save the reply as it stands; complete marks the end of the run. */
static void save_reply(WenshuChatPage *self, gboolean complete)
{
    if (!self->history || !self->reply_id)
        return;
    GError *error = NULL;
    if (!wenshu_history_update_message(self->history, self->reply_id, self->reply->str, complete,
                                       &error)) {
        history_failed(self, error);
        return;
    }
    self->saved_len = self->reply->len;
}

static gboolean on_autosave_tick(gpointer user_data)
{
    WenshuChatPage *self = user_data;
    if (self->reply->len != self->saved_len)
        save_reply(self, FALSE);
    return G_SOURCE_CONTINUE;
}

/* A new turn: the conversation (made on the first prompt), the prompt,
 * and the empty reply about to stream. prompt NULL: a regenerate, which
 * reuses the last reply's message. */
static void save_turn_start(WenshuChatPage *self, const char *prompt, char *const *media)
{
    if (!self->history)
        return;
    GError *error = NULL;
    if (prompt && !self->conversation_id) {
        g_autofree char *title = title_from_prompt(prompt);
        self->conversation_id =
            wenshu_history_new_conversation(self->history, "chat", title, NULL, &error);
        if (!self->conversation_id)
            goto out_failed;
    }
    if (!self->conversation_id)
        return;
    if (prompt || !self->reply_id) {
        g_autofree char *saved = prompt ? content_for_history(prompt, media) : NULL;
        if (prompt && !wenshu_history_add_message(self->history, self->conversation_id, "user",
                                                  saved, TRUE, &error))
            goto out_failed;
        self->reply_id = wenshu_history_add_message(self->history, self->conversation_id,
                                                    "assistant", "", FALSE, &error);
        if (!self->reply_id)
            goto out_failed;
    } else if (!wenshu_history_update_message(self->history, self->reply_id, self->reply->str,
                                              FALSE, &error)) {
        goto out_failed;
    }
    self->saved_len = self->reply->len;
    g_clear_handle_id(&self->autosave_source, g_source_remove);
    self->autosave_source = g_timeout_add(AUTOSAVE_MS, on_autosave_tick, self);
    g_signal_emit(self, signals[SIGNAL_HISTORY_CHANGED], 0);
    return;
out_failed:
    history_failed(self, error);
}

/* ---- streaming ---------------------------------------------------------- */

static void append_to_view(GtkTextView *view, const char *text, gssize len)
{
    GtkTextBuffer *buffer = gtk_text_view_get_buffer(view);
    GtkTextIter end;
    gtk_text_buffer_get_end_iter(buffer, &end);
    gtk_text_buffer_insert(buffer, &end, text, (int)len);
}

/* Send len bytes of the stream to the transcript or the thinking block. */
static void route_piece(WenshuChatPage *self, const char *text, gsize len)
{
    if (len == 0)
        return;
    if (self->in_think) {
        append_to_view(self->thinking_view, text, (gssize)len);
        gtk_widget_set_visible(GTK_WIDGET(self->thinking_expander), TRUE);
    } else {
        append_to_view(self->output_view, text, (gssize)len);
        g_string_append_len(self->reply, text, (gssize)len);
    }
}

/* The length of the longest end of s that begins tag (a tag cut in two). */
static gsize partial_tag_length(const GString *s, const char *tag)
{
    gsize tag_len = strlen(tag);
    for (gsize n = MIN(s->len, tag_len - 1); n > 0; n--)
        if (memcmp(s->str + s->len - n, tag, n) == 0)
            return n;
    return 0;
}

/* Split streamed text at <think> and </think>; a tag cut between two
 * emissions is held back in carry until the next one. */
static void route_stream(WenshuChatPage *self, const char *text)
{
    g_string_append(self->carry, text);
    for (;;) {
        const char *tag = self->in_think ? THINK_CLOSE : THINK_OPEN;
        const char *hit = strstr(self->carry->str, tag);
        if (hit) {
            gsize before = (gsize)(hit - self->carry->str);
            route_piece(self, self->carry->str, before);
            g_string_erase(self->carry, 0, (gssize)(before + strlen(tag)));
            self->in_think = !self->in_think;
            continue;
        }
        gsize keep = partial_tag_length(self->carry, tag);
        route_piece(self, self->carry->str, self->carry->len - keep);
        g_string_erase(self->carry, 0, (gssize)(self->carry->len - keep));
        return;
    }
}

static void scroll_to_end(WenshuChatPage *self)
{
    GtkTextBuffer *buffer = gtk_text_view_get_buffer(self->output_view);
    gtk_text_view_scroll_mark_onscreen(self->output_view, gtk_text_buffer_get_insert(buffer));
    GtkTextIter end;
    gtk_text_buffer_get_end_iter(buffer, &end);
    gtk_text_buffer_place_cursor(buffer, &end);
}

static void on_runner_tokens(WenshuRunner *runner, const char *text, gpointer user_data)
{
    (void)runner;
    WenshuChatPage *self = user_data;
    if (!self->own_run)
        return;
    route_stream(self, text);
    scroll_to_end(self);
}

/* Leave reply editing: the transcript is read-only again. */
static void end_reply_editing(WenshuChatPage *self)
{
    if (!self->editing_reply)
        return;
    self->editing_reply = FALSE;
    GtkTextBuffer *out = gtk_text_view_get_buffer(self->output_view);
    GtkTextIter start, end;
    gtk_text_buffer_get_bounds(out, &start, &end);
    gtk_text_buffer_remove_tag_by_name(out, "locked", &start, &end);
    gtk_text_view_set_editable(self->output_view, FALSE);
    gtk_text_view_set_cursor_visible(self->output_view, FALSE);
}

/* Show text as the last reply: the transcript from reply_start on. */
static void replace_reply_text(WenshuChatPage *self, const char *text)
{
    GtkTextBuffer *out = gtk_text_view_get_buffer(self->output_view);
    GtkTextIter from, end;
    gtk_text_buffer_get_iter_at_mark(out, &from, self->reply_start);
    gtk_text_buffer_get_end_iter(out, &end);
    gtk_text_buffer_delete(out, &from, &end);
    gtk_text_buffer_insert(out, &from, text, -1);
}

/* The last reply as it stands in the transcript (edited or not), and the
 * message it came from dropped: what draft.continue extends. Ownership:
 * the caller frees the result. */
static char *take_last_reply(WenshuChatPage *self)
{
    char *text;
    if (self->editing_reply) {
        GtkTextBuffer *out = gtk_text_view_get_buffer(self->output_view);
        GtkTextIter from, end;
        gtk_text_buffer_get_iter_at_mark(out, &from, self->reply_start);
        gtk_text_buffer_get_end_iter(out, &end);
        text = gtk_text_buffer_get_text(out, &from, &end, FALSE);
    } else {
        ChatMessage *last = &g_array_index(self->messages, ChatMessage, self->messages->len - 1);
        text = g_strdup(last->content);
    }
    g_array_remove_index(self->messages, self->messages->len - 1);
    end_reply_editing(self);
    return text;
}

static void on_runner_finished(WenshuRunner *runner, gboolean stopped, const GError *error,
                               gpointer user_data)
{
    (void)runner;
    WenshuChatPage *self = user_data;
    if (!self->own_run) {
        update_state(self);
        return;
    }
    self->own_run = FALSE;
    gtk_widget_set_visible(GTK_WIDGET(self->media_progress), FALSE);
    route_piece(self, self->carry->str, self->carry->len); /* a tag that never completed */
    g_string_truncate(self->carry, 0);
    append_message(self, "assistant", self->reply->str);
    g_clear_handle_id(&self->autosave_source, g_source_remove);
    if (self->history && self->reply_id) {
        save_reply(self, TRUE);
        g_signal_emit(self, signals[SIGNAL_HISTORY_CHANGED], 0);
    }
    if (stopped) {
        append_to_view(self->output_view, "\n", -1);
        append_to_view(self->output_view, _("[stopped]"), -1);
    }
    append_to_view(self->output_view, "\n", -1);
    if (error)
        show_error(self, error->message);
    wenshu_chat_page_update_token_count(self);
}

/* A load ended: the context and the model changed, and with them whether
 * images and clips can be read. */
static void update_media_acceptance(WenshuChatPage *self)
{
    gboolean accept = !wenshu_runner_is_loaded(self->runner) ||
                      wenshu_runner_can_read_media(self->runner);
    wenshu_attachment_bar_set_accept_media(
        self->attachment_bar, accept,
        _("this model cannot read images or video; open a vision model with its mmproj file"));
}

static void on_runner_progress(WenshuRunner *runner, double fraction, const char *what,
                               gpointer user_data)
{
    WenshuChatPage *self = user_data;
    if (self->own_run) { /* this page's media being decoded and encoded */
        gboolean busy = fraction < 1.0;
        gtk_widget_set_visible(GTK_WIDGET(self->media_progress), busy);
        if (!busy)
            return;
        double left = wenshu_runner_get_seconds_left(runner);
        g_autofree char *text = left >= 0 ? g_strdup_printf(_("%s — about %.0f s left"), what,
                                                            left)
                                          : g_strdup(what);
        gtk_progress_bar_set_fraction(self->media_progress, CLAMP(fraction, 0.0, 1.0));
        gtk_progress_bar_set_text(self->media_progress, text);
        return;
    }
    if (fraction >= 1.0) {
        count_attachment_tokens(self);
        wenshu_chat_page_update_token_count(self);
        update_media_acceptance(self);
    }
}

/* ---- actions ------------------------------------------------------------ */

/* Start the runner on the conversation as it stands; the reply streams in
 * at the end of the transcript, after prefix (the start of the reply, kept
 * and extended; NULL for a new reply). */
static gboolean start_reply(WenshuChatPage *self, const char *prefix)
{
    int n_msgs = 0, n_media = 0;
    g_autofree struct eng_chat_message *msgs = engine_messages(self, NULL, &n_msgs);
    g_autofree const char **media = conversation_media(self, &n_media);
    g_autoptr(GSettings) settings = wenshu_settings_new(); /* NULL: no schema installed */
    struct eng_sampler_params sampler =
        settings ? wenshu_settings_get_sampler(settings) : eng_sampler_params_default();
    GError *error = NULL;
    self->in_think = FALSE;
    g_string_truncate(self->carry, 0);
    g_string_assign(self->reply, prefix ? prefix : "");
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->thinking_view), "", 0);
    gtk_widget_set_visible(GTK_WIDGET(self->thinking_expander), FALSE);
    GtkTextBuffer *out = gtk_text_view_get_buffer(self->output_view);
    GtkTextIter end;
    gtk_text_buffer_get_end_iter(out, &end);
    if (!prefix)
        gtk_text_buffer_move_mark(out, self->reply_start, &end);
    WenshuRunRequest request = {
        .messages = msgs, .n_messages = n_msgs, .media_paths = media, .n_media = n_media,
        .assistant_prefix = prefix, .sampler = &sampler, .n_predict = self->n_predict};
    self->own_run = TRUE;
    if (!wenshu_runner_start_request(self->runner, &request, &error)) {
        self->own_run = FALSE;
        show_error(self, error->message);
        g_error_free(error);
        return FALSE;
    }
    update_state(self);
    return TRUE;
}

/* Append text with every occurrence of marker written as defused. */
static void append_defused(GString *out, const char *text, const char *marker,
                           const char *defused)
{
    size_t marker_len = strlen(marker);
    const char *hit;
    while ((hit = strstr(text, marker))) {
        g_string_append_len(out, text, hit - text);
        g_string_append(out, defused);
        text = hit + marker_len;
    }
    g_string_append(out, text);
}

/* Append text the user typed or attached, with what would stand for a
 * medium defused: "<__media__>" (a marker now) becomes "<_media_>", and
 * "[media: " (a marker once saved and restored, which would send that file)
 * becomes "[media : ". */
static void append_user_text(GString *out, const char *text)
{
    GString *no_markers = g_string_new(NULL);
    append_defused(no_markers, text, ENG_MEDIA_MARKER, "<_media_>");
    append_defused(out, no_markers->str, MEDIA_SAVED_OPEN, "[media : ");
    g_string_free(no_markers, TRUE);
}

/* The user message: each attached image or clip as a marker, each text or
 * document as its text under a header line, then the prompt. *media gets
 * the markers' files (NULL when none). Ownership: the caller frees both. */
static char *compose_user_message(WenshuChatPage *self, const char *prompt, char ***media)
{
    GListModel *items = wenshu_attachment_bar_get_items(self->attachment_bar);
    GString *content = g_string_new(NULL);
    GPtrArray *paths = g_ptr_array_new();
    for (guint i = 0; i < g_list_model_get_n_items(items); i++) {
        g_autoptr(WenshuAttachment) a = g_list_model_get_item(items, i);
        if (wenshu_attachment_is_media(a)) {
            g_string_append(content, ENG_MEDIA_MARKER "\n");
            g_ptr_array_add(paths, g_strdup(wenshu_attachment_get_path(a)));
        } else {
            /* TRANSLATORS: the header line above an attached file's text */
            g_string_append_printf(content, _("[Attached file: %s]"),
                                   wenshu_attachment_get_name(a));
            g_string_append_c(content, '\n');
            append_user_text(content, wenshu_attachment_get_text(a));
            g_string_append(content, "\n\n");
        }
    }
    append_user_text(content, prompt);
    g_ptr_array_add(paths, NULL);
    *media = (char **)g_ptr_array_free(paths, FALSE);
    if (!(*media)[0])
        g_clear_pointer(media, g_strfreev);
    return g_string_free(content, FALSE);
}

/* Show the prompt in the transcript, with the names of its attachments. */
static void show_prompt(WenshuChatPage *self, const char *prompt)
{
    GtkTextBuffer *out = gtk_text_view_get_buffer(self->output_view);
    GtkTextIter end;
    gtk_text_buffer_get_end_iter(out, &end);
    if (gtk_text_buffer_get_char_count(out) > 0)
        gtk_text_buffer_insert(out, &end, "\n", -1);
    gtk_text_buffer_insert_with_tags_by_name(out, &end, prompt, -1, "user", NULL);
    GListModel *items = wenshu_attachment_bar_get_items(self->attachment_bar);
    for (guint i = 0; i < g_list_model_get_n_items(items); i++) {
        g_autoptr(WenshuAttachment) a = g_list_model_get_item(items, i);
        g_autofree char *line = g_strdup_printf("\n📎 %s", wenshu_attachment_get_name(a));
        gtk_text_buffer_insert_with_tags_by_name(out, &end, line, -1, "attachment", NULL);
    }
    gtk_text_buffer_insert(out, &end, "\n\n", -1);
}

/* An edited reply kept as the last message when the user moves on. */
static void commit_reply_edit(WenshuChatPage *self)
{
    if (!self->editing_reply)
        return;
    g_autofree char *text = take_last_reply(self);
    append_message(self, "assistant", text);
    if (self->history && self->reply_id) {
        g_string_assign(self->reply, text);
        save_reply(self, TRUE);
    }
}

static void send_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    (void)param;
    WenshuChatPage *self = WENSHU_CHAT_PAGE(widget);
    if (self->has_preedit || wenshu_runner_is_running(self->runner))
        return;
    if (wenshu_attachment_bar_get_n_pending(self->attachment_bar) > 0) {
        show_error(self, _("Attachments are still being read; send again when they show"));
        return;
    }
    GtkTextBuffer *prompt_buffer = gtk_text_view_get_buffer(self->prompt_view);
    g_autofree char *prompt = wenshu_buffer_text(prompt_buffer);
    if (g_strstrip(prompt)[0] == '\0')
        return;
    commit_reply_edit(self);
    g_auto(GStrv) media = NULL;
    g_autofree char *content = compose_user_message(self, prompt, &media);
    append_message_with_media(self, "user", content, media);
    show_prompt(self, prompt);
    if (start_reply(self, NULL)) {
        gtk_text_buffer_set_text(prompt_buffer, "", 0);
        wenshu_attachment_bar_clear(self->attachment_bar);
        save_turn_start(self, content, media);
    } else {
        g_array_remove_index(self->messages, self->messages->len - 1);
    }
}

static void stop_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    (void)param;
    WenshuChatPage *self = WENSHU_CHAT_PAGE(widget);
    if (self->own_run)
        wenshu_runner_stop(self->runner);
}

/* Drop the last reply (from the transcript too) and generate it again. */
static void regenerate_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    (void)param;
    WenshuChatPage *self = WENSHU_CHAT_PAGE(widget);
    if (wenshu_runner_is_running(self->runner) || !last_is_assistant(self))
        return;
    g_autofree char *old_reply = take_last_reply(self);
    replace_reply_text(self, "");
    if (start_reply(self, NULL)) {
        save_turn_start(self, NULL, NULL);
    } else { /* the old reply stays */
        replace_reply_text(self, old_reply);
        append_to_view(self->output_view, "\n", -1);
        append_message(self, "assistant", old_reply);
        update_state(self);
    }
}

/* Make the last reply editable in place; the text before it is locked. */
static void edit_reply_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    (void)param;
    WenshuChatPage *self = WENSHU_CHAT_PAGE(widget);
    if (self->editing_reply || wenshu_runner_is_running(self->runner) || !last_is_assistant(self))
        return;
    ChatMessage *last = &g_array_index(self->messages, ChatMessage, self->messages->len - 1);
    replace_reply_text(self, last->content); /* without the [stopped] note */
    GtkTextBuffer *out = gtk_text_view_get_buffer(self->output_view);
    GtkTextIter start, reply;
    gtk_text_buffer_get_start_iter(out, &start);
    gtk_text_buffer_get_iter_at_mark(out, &reply, self->reply_start);
    gtk_text_buffer_apply_tag_by_name(out, "locked", &start, &reply);
    self->editing_reply = TRUE;
    gtk_text_view_set_editable(self->output_view, TRUE);
    gtk_text_view_set_cursor_visible(self->output_view, TRUE);
    GtkTextIter end;
    gtk_text_buffer_get_end_iter(out, &end);
    gtk_text_buffer_place_cursor(out, &end);
    gtk_widget_grab_focus(GTK_WIDGET(self->output_view));
}

/* Generate onwards from the end of the last reply, edited or not. */
static void continue_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    (void)param;
    WenshuChatPage *self = WENSHU_CHAT_PAGE(widget);
    if (wenshu_runner_is_running(self->runner) || !last_is_assistant(self))
        return;
    g_autofree char *prefix = take_last_reply(self);
    replace_reply_text(self, prefix);
    if (start_reply(self, prefix)) {
        save_turn_start(self, NULL, NULL);
    } else { /* the reply stays as it was */
        append_to_view(self->output_view, "\n", -1);
        append_message(self, "assistant", prefix);
        update_state(self);
    }
}

/* Empty the transcript and forget the conversation (in memory only). */
static void clear_conversation(WenshuChatPage *self)
{
    end_reply_editing(self);
    self->conversation_id = 0;
    self->reply_id = 0;
    g_string_truncate(self->reply, 0);
    g_array_set_size(self->messages, 0);
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->output_view), "", 0);
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->thinking_view), "", 0);
    gtk_widget_set_visible(GTK_WIDGET(self->thinking_expander), FALSE);
    wenshu_chat_page_update_token_count(self);
}

/* Forget the conversation: the next prompt starts a new chat. */
static void new_activated(GtkWidget *widget, const char *action, GVariant *param)
{
    (void)action;
    (void)param;
    WenshuChatPage *self = WENSHU_CHAT_PAGE(widget);
    if (wenshu_runner_is_running(self->runner))
        return;
    gboolean was_saved = self->conversation_id != 0;
    clear_conversation(self);
    if (was_saved) /* the window's list no longer marks it as shown */
        g_signal_emit(self, signals[SIGNAL_HISTORY_CHANGED], 0);
}

/* ---- input -------------------------------------------------------------- */

static void on_prompt_view_preedit_changed(GtkTextView *view, const char *preedit,
                                           WenshuChatPage *self)
{
    (void)view;
    self->has_preedit = preedit && preedit[0];
}

/* Capture phase, before the input method sees the key: Ctrl+Enter sends
 * and Esc stops. Plain Enter is left to the text view (a newline, or the
 * IME's commit during preedit). */
static gboolean on_prompt_key_pressed(GtkEventControllerKey *controller, guint keyval,
                                      guint keycode, GdkModifierType state, WenshuChatPage *self)
{
    (void)controller;
    (void)keycode;
    gboolean enter =
        keyval == GDK_KEY_Return || keyval == GDK_KEY_KP_Enter || keyval == GDK_KEY_ISO_Enter;
    if (enter && (state & GDK_CONTROL_MASK) && !self->has_preedit) {
        /* consumed even while sending is disabled: never a stray newline */
        gtk_widget_activate_action(GTK_WIDGET(self), "draft.send", NULL);
        return TRUE;
    }
    if (keyval == GDK_KEY_Escape && !self->has_preedit && self->own_run)
        return gtk_widget_activate_action(GTK_WIDGET(self), "draft.stop", NULL);
    return FALSE;
}

/* Paste (Ctrl+V or the menu): files or an image on the clipboard become
 * attachments; text is left to the text view. */
static void on_prompt_paste(GtkTextView *view, WenshuChatPage *self)
{
    if (wenshu_attachment_bar_paste(self->attachment_bar, gtk_widget_get_clipboard(GTK_WIDGET(view))))
        g_signal_stop_emission_by_name(view, "paste-clipboard");
}

static void on_attachment_refused(WenshuAttachmentBar *bar, const char *reason,
                                  WenshuChatPage *self)
{
    (void)bar;
    show_error(self, reason);
}

/* Count what the attachments add to a user message: the message with them
 * less the message without (images and clips count as their markers only:
 * their rows are known once encoded). */
static void count_attachment_tokens(WenshuChatPage *self)
{
    g_auto(GStrv) media = NULL;
    g_autofree char *block = compose_user_message(self, "", &media);
    self->attachment_tokens = 0;
    if (!block[0])
        return;
    struct eng_chat_message with = {"user", block}, without = {"user", ""};
    int n_with = wenshu_runner_count_tokens(self->runner, &with, 1);
    int n_without = wenshu_runner_count_tokens(self->runner, &without, 1);
    if (n_with >= 0 && n_without >= 0)
        self->attachment_tokens = MAX(n_with - n_without, 0);
}

static void on_attachments_changed(WenshuAttachmentBar *bar, WenshuChatPage *self)
{
    (void)bar;
    count_attachment_tokens(self);
    wenshu_chat_page_update_token_count(self);
}

static void on_prompt_changed(GtkTextBuffer *buffer, WenshuChatPage *self)
{
    (void)buffer;
    wenshu_chat_page_update_token_count(self);
}

/* ---- public ------------------------------------------------------------- */

GtkTextBuffer *wenshu_chat_page_get_prompt_buffer(WenshuChatPage *self)
{
    g_return_val_if_fail(WENSHU_IS_CHAT_PAGE(self), NULL);
    return gtk_text_view_get_buffer(self->prompt_view);
}

char *wenshu_chat_page_dup_output(WenshuChatPage *self)
{
    g_return_val_if_fail(WENSHU_IS_CHAT_PAGE(self), NULL);
    return wenshu_buffer_text(gtk_text_view_get_buffer(self->output_view));
}

char *wenshu_chat_page_dup_thinking(WenshuChatPage *self)
{
    g_return_val_if_fail(WENSHU_IS_CHAT_PAGE(self), NULL);
    return wenshu_buffer_text(gtk_text_view_get_buffer(self->thinking_view));
}

void wenshu_chat_page_set_n_predict(WenshuChatPage *self, int n_predict)
{
    g_return_if_fail(WENSHU_IS_CHAT_PAGE(self));
    self->n_predict = n_predict;
}

GtkWidget *wenshu_chat_page_get_token_label(WenshuChatPage *self)
{
    g_return_val_if_fail(WENSHU_IS_CHAT_PAGE(self), NULL);
    return GTK_WIDGET(self->token_label);
}

gboolean wenshu_chat_page_has_preedit(WenshuChatPage *self)
{
    g_return_val_if_fail(WENSHU_IS_CHAT_PAGE(self), FALSE);
    return self->has_preedit;
}

void wenshu_chat_page_set_history(WenshuChatPage *self, WenshuHistory *history)
{
    g_return_if_fail(WENSHU_IS_CHAT_PAGE(self));
    self->history = history;
    self->conversation_id = 0;
    self->reply_id = 0;
}

gint64 wenshu_chat_page_get_conversation(WenshuChatPage *self)
{
    g_return_val_if_fail(WENSHU_IS_CHAT_PAGE(self), 0);
    return self->conversation_id;
}

char *wenshu_chat_page_dup_reply(WenshuChatPage *self)
{
    g_return_val_if_fail(WENSHU_IS_CHAT_PAGE(self), NULL);
    if (self->own_run)
        return g_strdup(self->reply->str);
    for (guint i = self->messages->len; i > 0; i--) {
        ChatMessage *m = &g_array_index(self->messages, ChatMessage, i - 1);
        if (strcmp(m->role, "assistant") == 0)
            return g_strdup(m->content);
    }
    return NULL;
}

/* Append one restored message to the transcript as send and the stream
 * would have shown it: prompts in bold, replies after a blank line. */
static void show_restored_message(WenshuChatPage *self, const WenshuMessage *m)
{
    GtkTextBuffer *out = gtk_text_view_get_buffer(self->output_view);
    GtkTextIter end;
    gtk_text_buffer_get_end_iter(out, &end);
    if (strcmp(m->role, "user") == 0) {
        if (gtk_text_buffer_get_char_count(out) > 0)
            gtk_text_buffer_insert(out, &end, "\n", -1);
        gtk_text_buffer_insert_with_tags_by_name(out, &end, m->content, -1, "user", NULL);
        gtk_text_buffer_insert(out, &end, "\n\n", -1);
    } else if (strcmp(m->role, "assistant") == 0) {
        gtk_text_buffer_move_mark(out, self->reply_start, &end);
        gtk_text_buffer_insert(out, &end, m->content, -1);
        if (!m->complete) {
            gtk_text_buffer_insert(out, &end, "\n", -1);
            gtk_text_buffer_insert(out, &end, _("[unfinished]"), -1);
        }
        gtk_text_buffer_insert(out, &end, "\n", -1);
    }
}

gboolean wenshu_chat_page_load_conversation(WenshuChatPage *self, gint64 conversation,
                                            GError **error)
{
    g_return_val_if_fail(WENSHU_IS_CHAT_PAGE(self), FALSE);
    g_return_val_if_fail(self->history != NULL, FALSE);
    if (wenshu_runner_is_running(self->runner)) {
        g_set_error_literal(error, WENSHU_RUNNER_ERROR, WENSHU_RUNNER_ERROR_BUSY,
                            _("Chat: a reply is being generated; stop it first"));
        return FALSE;
    }
    g_autoptr(GPtrArray) messages = wenshu_history_messages(self->history, conversation, error);
    if (!messages)
        return FALSE;
    clear_conversation(self);
    for (guint i = 0; i < messages->len; i++) {
        const WenshuMessage *m = g_ptr_array_index(messages, i);
        g_auto(GStrv) media = NULL;
        g_autofree char *content = content_from_history(m->content, &media);
        append_message_with_media(self, m->role, content, media);
        show_restored_message(self, m);
        if (strcmp(m->role, "assistant") == 0)
            self->reply_id = m->id;
    }
    self->conversation_id = conversation;
    wenshu_chat_page_update_token_count(self);
    return TRUE;
}

/* ---- object ------------------------------------------------------------- */

static void wenshu_chat_page_dispose(GObject *object)
{
    WenshuChatPage *self = WENSHU_CHAT_PAGE(object);
    g_clear_handle_id(&self->autosave_source, g_source_remove);
    if (self->own_run) /* closed mid-run: the reply ends here, it was not lost */
        save_reply(self, TRUE);
    self->history = NULL;
    if (self->runner) {
        if (self->own_run)
            wenshu_runner_stop(self->runner);
        g_clear_signal_handler(&self->tokens_handler, self->runner);
        g_clear_signal_handler(&self->finished_handler, self->runner);
        g_clear_signal_handler(&self->progress_handler, self->runner);
        g_clear_object(&self->runner);
    }
    gtk_widget_dispose_template(GTK_WIDGET(self), WENSHU_TYPE_CHAT_PAGE);
    G_OBJECT_CLASS(wenshu_chat_page_parent_class)->dispose(object);
}

static void wenshu_chat_page_finalize(GObject *object)
{
    WenshuChatPage *self = WENSHU_CHAT_PAGE(object);
    g_array_unref(self->messages);
    g_string_free(self->carry, TRUE);
    g_string_free(self->reply, TRUE);
    G_OBJECT_CLASS(wenshu_chat_page_parent_class)->finalize(object);
}

static void wenshu_chat_page_class_init(WenshuChatPageClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->dispose = wenshu_chat_page_dispose;
    object_class->finalize = wenshu_chat_page_finalize;

    g_type_ensure(WENSHU_TYPE_ATTACHMENT_BAR);
    gtk_widget_class_set_template_from_resource(widget_class,
                                                "/org/wenshu/Wenshu/ui/wenshu-chat-page.ui");
    gtk_widget_class_bind_template_child(widget_class, WenshuChatPage, thinking_expander);
    gtk_widget_class_bind_template_child(widget_class, WenshuChatPage, thinking_view);
    gtk_widget_class_bind_template_child(widget_class, WenshuChatPage, output_stack);
    gtk_widget_class_bind_template_child(widget_class, WenshuChatPage, output_scroller);
    gtk_widget_class_bind_template_child(widget_class, WenshuChatPage, output_view);
    gtk_widget_class_bind_template_child(widget_class, WenshuChatPage, prompt_view);
    gtk_widget_class_bind_template_child(widget_class, WenshuChatPage, token_label);
    gtk_widget_class_bind_template_child(widget_class, WenshuChatPage, stop_button);
    gtk_widget_class_bind_template_child(widget_class, WenshuChatPage, regenerate_button);
    gtk_widget_class_bind_template_child(widget_class, WenshuChatPage, send_button);
    gtk_widget_class_bind_template_child(widget_class, WenshuChatPage, attachment_bar);
    gtk_widget_class_bind_template_child(widget_class, WenshuChatPage, media_progress);
    gtk_widget_class_bind_template_callback(widget_class, on_prompt_view_preedit_changed);
    gtk_widget_class_bind_template_callback(widget_class, on_prompt_key_pressed);
    gtk_widget_class_bind_template_callback(widget_class, on_prompt_paste);

    gtk_widget_class_install_action(widget_class, "draft.send", NULL, send_activated);
    gtk_widget_class_install_action(widget_class, "draft.stop", NULL, stop_activated);
    gtk_widget_class_install_action(widget_class, "draft.regenerate", NULL, regenerate_activated);
    gtk_widget_class_install_action(widget_class, "draft.new", NULL, new_activated);
    gtk_widget_class_install_action(widget_class, "draft.edit-reply", NULL, edit_reply_activated);
    gtk_widget_class_install_action(widget_class, "draft.continue", NULL, continue_activated);
    /* Esc stops wherever the focus is on the page */
    gtk_widget_class_add_binding_action(widget_class, GDK_KEY_Escape, 0, "draft.stop", NULL);

    signals[SIGNAL_HISTORY_CHANGED] =
        g_signal_new("history-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                     NULL, NULL, G_TYPE_NONE, 0);
}

static void wenshu_chat_page_init(WenshuChatPage *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    self->messages = g_array_new(FALSE, TRUE, sizeof(ChatMessage));
    g_array_set_clear_func(self->messages, chat_message_clear);
    self->carry = g_string_new(NULL);
    self->reply = g_string_new(NULL);
    self->n_predict = 512;
    GtkTextBuffer *out = gtk_text_view_get_buffer(self->output_view);
    gtk_text_buffer_create_tag(out, "user", "weight", PANGO_WEIGHT_BOLD, NULL);
    gtk_text_buffer_create_tag(out, "attachment", "style", PANGO_STYLE_ITALIC, NULL);
    gtk_text_buffer_create_tag(out, "locked", "editable", FALSE, NULL);
    GtkTextIter end;
    gtk_text_buffer_get_end_iter(out, &end);
    self->reply_start = gtk_text_buffer_create_mark(out, "reply-start", &end, TRUE);
    g_signal_connect(gtk_text_view_get_buffer(self->prompt_view), "changed",
                     G_CALLBACK(on_prompt_changed), self);
    g_signal_connect(self->attachment_bar, "refused", G_CALLBACK(on_attachment_refused), self);
    g_signal_connect(self->attachment_bar, "changed", G_CALLBACK(on_attachments_changed), self);
    wenshu_attachment_bar_add_drop_target(self->attachment_bar, GTK_WIDGET(self));
}

GtkWidget *wenshu_chat_page_new(WenshuRunner *runner)
{
    g_return_val_if_fail(WENSHU_IS_RUNNER(runner), NULL);
    WenshuChatPage *self = g_object_new(WENSHU_TYPE_CHAT_PAGE, NULL);
    self->runner = g_object_ref(runner);
    self->tokens_handler = g_signal_connect(runner, "tokens", G_CALLBACK(on_runner_tokens), self);
    self->finished_handler =
        g_signal_connect(runner, "finished", G_CALLBACK(on_runner_finished), self);
    self->progress_handler =
        g_signal_connect(runner, "progress", G_CALLBACK(on_runner_progress), self);
    wenshu_chat_page_update_token_count(self);
    update_media_acceptance(self);
    return GTK_WIDGET(self);
}
