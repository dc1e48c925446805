/* wenshu-chat-page.h: the 对话 / Chat page: a prompt, the streaming reply,
 * a collapsed "thinking" block for reasoning models, the token count against
 * the context, and the draft.send / draft.stop / draft.regenerate /
 * draft.new actions. With a history set, every turn is autosaved while it
 * streams (see wenshu-chat-page.c), and a saved conversation can be loaded
 * back. Signal "history-changed" (no arguments): a conversation was made,
 * a message saved at the start or end of a run, or draft.new left a saved
 * conversation, so lists should refresh.
 *
 * Ownership: the page holds a reference to its runner.
 * Thread-safety: main thread only, like every widget.
 */
#ifndef WENSHU_CHAT_PAGE_H
#define WENSHU_CHAT_PAGE_H

#include <adwaita.h>

#include "wenshu-history.h"
#include "wenshu-runner.h"

G_BEGIN_DECLS

#define WENSHU_TYPE_CHAT_PAGE (wenshu_chat_page_get_type())
G_DECLARE_FINAL_TYPE(WenshuChatPage, wenshu_chat_page, WENSHU, CHAT_PAGE, AdwBin)

GtkWidget *wenshu_chat_page_new(WenshuRunner *runner);

/* The prompt the user edits (owned by the page). */
GtkTextBuffer *wenshu_chat_page_get_prompt_buffer(WenshuChatPage *self);
/* The transcript and the thinking text shown. Ownership: caller frees. */
char *wenshu_chat_page_dup_output(WenshuChatPage *self);
char *wenshu_chat_page_dup_thinking(WenshuChatPage *self);
/* Most new tokens per reply (default 512; < 0: until the context is full). */
void wenshu_chat_page_set_n_predict(WenshuChatPage *self, int n_predict);
/* Recount the prompt and history against the context (after a load). */
void wenshu_chat_page_update_token_count(WenshuChatPage *self);
/* The token count label, for tests ("N / n_ctx"). */
GtkWidget *wenshu_chat_page_get_token_label(WenshuChatPage *self);
/* Whether the IME has a preedit (pinyin being composed) in the prompt. */
gboolean wenshu_chat_page_has_preedit(WenshuChatPage *self);

/* Autosave into history (NULL: stop saving). The page borrows it: the
 * caller keeps it open until the page is disposed or another is set.
 * Setting it forgets which saved conversation the page shows. */
void wenshu_chat_page_set_history(WenshuChatPage *self, WenshuHistory *history);
/* Replace the transcript with a saved conversation (its messages, an
 * unfinished reply marked as such); the next prompt continues it. Needs a
 * history; refused (FALSE, error) while a reply is being generated. */
gboolean wenshu_chat_page_load_conversation(WenshuChatPage *self, gint64 conversation,
                                            GError **error);
/* The saved conversation the page shows or writes, or 0. */
gint64 wenshu_chat_page_get_conversation(WenshuChatPage *self);
/* The reply being streamed, else the last assistant message (without its
 * thinking), or NULL when none. Ownership: the caller frees it. */
char *wenshu_chat_page_dup_reply(WenshuChatPage *self);

G_END_DECLS

#endif /* WENSHU_CHAT_PAGE_H */
