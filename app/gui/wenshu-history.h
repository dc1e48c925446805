/* wenshu-history.h: conversations and drafts kept in SQLite (WAL mode)
 * under the XDG data dir ($XDG_DATA_HOME/wenshu/history.db), autosaved
 * while tokens stream, so that a crash or a kill loses at most the last
 * save interval (the GUI saves at least every 500 ms during a run).
 *
 * A conversation has a kind ("chat", "gongwen", "slides", "clip"), a title,
 * timestamps, a small JSON blob of settings (the 公文 form, for example),
 * and messages in order (role, content). The reply being generated is a
 * message too, updated in place (wenshu_history_update_message) and marked
 * complete when the run ends; after a crash it is restored as it was.
 *
 * Thread-safety: one WenshuHistory per thread (SQLite connection rules);
 * the GUI uses it on the main loop only. Once the WAL grows past 1000 pages,
 * a WenshuHistory starts a private thread (with its own connection) that
 * checkpoints it, so those fsyncs never run on the caller's thread; close
 * joins that thread.
 * Errors: GError in domain WENSHU_HISTORY_ERROR naming the file and the
 * SQLite message. A file at the path that is not a Wenshu history (not
 * SQLite, another program's database, a newer schema) is refused and left
 * untouched.
 * Ordering: "updated" moves when messages or settings change (not on a
 * rename), and is strictly increasing, so the list order is stable.
 * Search: message text is indexed by FTS5 (trigram) once a message is
 * complete; queries under three characters, titles and the message being
 * streamed are matched with LIKE. Matching is case-insensitive for ASCII.
 */
#ifndef WENSHU_HISTORY_H
#define WENSHU_HISTORY_H

#include <glib.h>

G_BEGIN_DECLS

#define WENSHU_HISTORY_ERROR (wenshu_history_error_quark())
GQuark wenshu_history_error_quark(void);

typedef enum {
    WENSHU_HISTORY_ERROR_FAILED,         /* SQLite failed (I/O, full disk, locked) */
    WENSHU_HISTORY_ERROR_NOT_A_DATABASE, /* the file is not a Wenshu history */
    WENSHU_HISTORY_ERROR_TOO_NEW,        /* schema from a newer Wenshu */
    WENSHU_HISTORY_ERROR_NOT_FOUND,      /* no such conversation or message */
} WenshuHistoryError;

typedef struct _WenshuHistory WenshuHistory;

/* Open (creating) the database at path; NULL path = the XDG default
 * ($XDG_DATA_HOME/wenshu/history.db, the folder made 0700). The schema is
 * created or migrated (user_version).
 * Ownership: the caller owns the result; free it with wenshu_history_close(),
 * which accepts NULL. Every returned struct and array is the caller's. */
WenshuHistory *wenshu_history_open(const char *path, GError **error);
void wenshu_history_close(WenshuHistory *h);
/* The file this history lives in (owned by h). */
const char *wenshu_history_get_path(WenshuHistory *h);

typedef struct {
    gint64 id;
    char *kind; /* "chat", "gongwen", "slides", "clip" */
    char *title;
    char *settings; /* JSON text, may be NULL */
    gint64 created; /* unix seconds */
    gint64 updated;
    gboolean deleted; /* in the bin, until purged (undo) */
} WenshuConversation;
void wenshu_conversation_free(WenshuConversation *c);

typedef struct {
    gint64 id;
    char *role; /* "system", "user", "assistant" */
    char *content;
    gboolean complete; /* FALSE while streaming, or when a run was cut off */
} WenshuMessage;
void wenshu_message_free(WenshuMessage *m);

gint64 wenshu_history_new_conversation(WenshuHistory *h, const char *kind, const char *title,
                                       const char *settings, GError **error);
gint64 wenshu_history_add_message(WenshuHistory *h, gint64 conversation, const char *role,
                                  const char *content, gboolean complete, GError **error);
/* The autosave: replaces a message's text (and completeness) in one
 * transaction, and moves its conversation to the top. Costs tens of
 * microseconds (tests/test-history.c prints it). */
gboolean wenshu_history_update_message(WenshuHistory *h, gint64 message, const char *content,
                                       gboolean complete, GError **error);
gboolean wenshu_history_rename(WenshuHistory *h, gint64 conversation, const char *title,
                               GError **error);
gboolean wenshu_history_set_settings(WenshuHistory *h, gint64 conversation, const char *settings,
                                     GError **error);
/* Delete moves to the bin; undo brings it back; purge removes for good. */
gboolean wenshu_history_delete(WenshuHistory *h, gint64 conversation, GError **error);
gboolean wenshu_history_undo_delete(WenshuHistory *h, gint64 conversation, GError **error);
gboolean wenshu_history_purge_deleted(WenshuHistory *h, GError **error);

/* Conversations, newest first, not deleted; query (may be NULL) matches
 * titles and message text (SQLite FTS5 or LIKE). Returns a GPtrArray of
 * WenshuConversation* (free func set). */
GPtrArray *wenshu_history_list(WenshuHistory *h, const char *query, GError **error);
/* Messages of a conversation in order: GPtrArray of WenshuMessage*. */
GPtrArray *wenshu_history_messages(WenshuHistory *h, gint64 conversation, GError **error);
WenshuConversation *wenshu_history_get(WenshuHistory *h, gint64 conversation, GError **error);
/* The newest conversation with an incomplete message (after a crash), or 0. */
gint64 wenshu_history_find_interrupted(WenshuHistory *h, GError **error);

/* The conversation as Markdown ("# title", then "## 用户"/"## 助手"/"## 系统"
 * sections, "（未完成）" after the heading of a cut-off message), written to
 * path via a temporary file and rename. <think>…</think> spans (the model's
 * reasoning) are left out. */
gboolean wenshu_history_export_markdown(WenshuHistory *h, gint64 conversation, const char *path,
                                        GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(WenshuHistory, wenshu_history_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WenshuConversation, wenshu_conversation_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WenshuMessage, wenshu_message_free)

G_END_DECLS

#endif /* WENSHU_HISTORY_H */
