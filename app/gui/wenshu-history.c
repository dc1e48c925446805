/* wenshu-history.c: the GUI's history of conversations and drafts, one
 * SQLite database in WAL mode. Every change is a short transaction made with
 * cached, parameterised statements, so the autosave during streaming (one
 * message row and its conversation's timestamp) costs tens of microseconds
 * and a killed process keeps every save that returned. The schema grows by
 * numbered migrations recorded in PRAGMA user_version; PRAGMA application_id
 * marks the file as ours, so another program's database is never written.
 * Message text is searched through an FTS5 trigram index (substring search
 * that works for Chinese, which has no spaces between words); see
 * wenshu-history.h for the API and its rules.
 */
#include "wenshu-history.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

/* "WSHU": PRAGMA application_id of a Wenshu history database. */
#define HISTORY_APPLICATION_ID 0x57534855
/* The schema this build writes; migrations[i] takes version i to i + 1. */
#define HISTORY_SCHEMA_VERSION 2
/* A trigram index cannot match fewer than three characters; shorter queries
 * fall back to LIKE over the messages. */
#define HISTORY_FTS_MIN_CHARS 3

/* Version 1: conversations and their messages. Times are unix microseconds;
 * "updated" is strictly increasing over all rows (see touch below), so
 * ordering by it is total. "deleted" is NULL while live, else the time it
 * went to the bin. */
static const char schema_v1[] =
    "CREATE TABLE conversations ("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  title TEXT NOT NULL,"
    "  settings TEXT,"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  deleted INTEGER);"
    "CREATE INDEX conversations_by_updated ON conversations (updated);"
    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY,"
    "  conversation INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,"
    "  position INTEGER NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),"
    "  content TEXT NOT NULL,"
    "  complete INTEGER NOT NULL CHECK (complete IN (0, 1)),"
    "  UNIQUE (conversation, position));"
    "CREATE INDEX messages_incomplete ON messages (conversation) WHERE complete = 0;";

/* Version 2: a contentless FTS5 trigram index of complete messages (rowid =
 * messages.id). A message being streamed is indexed once, when it completes,
 * so the autosave never rewrites the index. Applied only where SQLite has
 * FTS5; without it, version 2 adds nothing and search uses LIKE. */
static const char schema_v2_fts[] =
    "CREATE VIRTUAL TABLE messages_fts USING fts5 (content, tokenize = 'trigram', content = '');"
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.complete BEGIN"
    "  INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);"
    "END;"
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.complete BEGIN"
    "  INSERT INTO messages_fts (messages_fts, rowid, content)"
    "    VALUES ('delete', old.id, old.content);"
    "END;"
    /* One trigger, so the old entry goes before the new one comes. */
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, complete ON messages"
    "  WHEN old.complete OR new.complete BEGIN"
    "  INSERT INTO messages_fts (messages_fts, rowid, content)"
    "    SELECT 'delete', old.id, old.content WHERE old.complete;"
    "  INSERT INTO messages_fts (rowid, content) SELECT new.id, new.content WHERE new.complete;"
    "END;"
    "INSERT INTO messages_fts (rowid, content) SELECT id, content FROM messages WHERE complete;";

enum history_stmt {
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_NEW_CONVERSATION,
    STMT_TOUCH,
    STMT_TOUCH_BY_MESSAGE,
    STMT_ADD_MESSAGE,
    STMT_UPDATE_MESSAGE,
    STMT_RENAME,
    STMT_SET_SETTINGS,
    STMT_DELETE,
    STMT_UNDO_DELETE,
    STMT_PURGE_MESSAGES,
    STMT_PURGE_CONVERSATIONS,
    STMT_GET,
    STMT_MESSAGES,
    STMT_FIND_INTERRUPTED,
    STMT_LIST_ALL,
    STMT_LIST_LIKE,
    STMT_LIST_FTS,
    N_HISTORY_STMTS
};

#define CONVERSATION_COLUMNS "c.id, c.kind, c.title, c.settings, c.created, c.updated, c.deleted"
/* Bumps "updated" to now, or past the newest row when the clock is behind
 * or two saves share a microsecond. ?2 = now. */
#define NEXT_UPDATED "max(?2, coalesce((SELECT max(updated) FROM conversations), 0) + 1)"

static const char *const stmt_sql[N_HISTORY_STMTS] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_NEW_CONVERSATION] = "INSERT INTO conversations (kind, title, settings, created, updated)"
                              " VALUES (?1, ?3, ?4, ?2, " NEXT_UPDATED ")",
    [STMT_TOUCH] = "UPDATE conversations SET updated = " NEXT_UPDATED " WHERE id = ?1",
    [STMT_TOUCH_BY_MESSAGE] = "UPDATE conversations SET updated = " NEXT_UPDATED
                              " WHERE id = (SELECT conversation FROM messages WHERE id = ?1)",
    [STMT_ADD_MESSAGE] =
        "INSERT INTO messages (conversation, position, role, content, complete) VALUES (?1,"
        " (SELECT coalesce(max(position), 0) + 1 FROM messages WHERE conversation = ?1),"
        " ?2, ?3, ?4)",
    [STMT_UPDATE_MESSAGE] = "UPDATE messages SET content = ?2, complete = ?3 WHERE id = ?1",
    [STMT_RENAME] = "UPDATE conversations SET title = ?3 WHERE id = ?1",
    [STMT_SET_SETTINGS] =
        "UPDATE conversations SET settings = ?3, updated = " NEXT_UPDATED " WHERE id = ?1",
    [STMT_DELETE] = "UPDATE conversations SET deleted = ?2 WHERE id = ?1",
    [STMT_UNDO_DELETE] = "UPDATE conversations SET deleted = NULL WHERE id = ?1",
    [STMT_PURGE_MESSAGES] = "DELETE FROM messages WHERE conversation IN"
                            " (SELECT id FROM conversations WHERE deleted IS NOT NULL)",
    [STMT_PURGE_CONVERSATIONS] = "DELETE FROM conversations WHERE deleted IS NOT NULL",
    [STMT_GET] = "SELECT " CONVERSATION_COLUMNS " FROM conversations c WHERE c.id = ?1",
    [STMT_MESSAGES] = "SELECT id, role, content, complete FROM messages"
                      " WHERE conversation = ?1 ORDER BY position",
    [STMT_FIND_INTERRUPTED] =
        "SELECT c.id FROM conversations c WHERE c.deleted IS NULL AND EXISTS"
        " (SELECT 1 FROM messages m WHERE m.conversation = c.id AND m.complete = 0)"
        " ORDER BY c.updated DESC, c.id DESC LIMIT 1",
    [STMT_LIST_ALL] = "SELECT " CONVERSATION_COLUMNS " FROM conversations c"
                      " WHERE c.deleted IS NULL ORDER BY c.updated DESC, c.id DESC",
    /* ?1 = LIKE pattern, '\' escapes. */
    [STMT_LIST_LIKE] = "SELECT " CONVERSATION_COLUMNS " FROM conversations c"
                       " WHERE c.deleted IS NULL AND (c.title LIKE ?1 ESCAPE '\\'"
                       " OR c.id IN (SELECT conversation FROM messages"
                       "             WHERE content LIKE ?1 ESCAPE '\\'))"
                       " ORDER BY c.updated DESC, c.id DESC",
    /* ?1 = LIKE pattern for titles and messages still streaming (not yet
     * indexed), ?2 = FTS5 phrase for complete messages. */
    [STMT_LIST_FTS] = "SELECT " CONVERSATION_COLUMNS " FROM conversations c"
                      " WHERE c.deleted IS NULL AND (c.title LIKE ?1 ESCAPE '\\'"
                      " OR c.id IN (SELECT m.conversation FROM messages_fts f"
                      "             JOIN messages m ON m.id = f.rowid WHERE messages_fts MATCH ?2)"
                      " OR c.id IN (SELECT conversation FROM messages"
                      "             WHERE complete = 0 AND content LIKE ?1 ESCAPE '\\'))"
                      " ORDER BY c.updated DESC, c.id DESC",
};

/* Pages in the WAL after which the checkpointer copies it back into the
 * database (SQLite's own default for wal_autocheckpoint). */
#define HISTORY_CHECKPOINT_PAGES 1000
/* The backstop: a WAL this long (writes so fast that the checkpointer never
 * catches up; it can restart the WAL only after copying all of it) is
 * checkpointed on the writing thread, as SQLite would. */
#define HISTORY_CHECKPOINT_BACKSTOP_PAGES (8 * HISTORY_CHECKPOINT_PAGES)
/* The WAL file is cut back to this size when it restarts. */
#define HISTORY_WAL_SIZE_LIMIT (8 * 1024 * 1024)

struct _WenshuHistory {
    sqlite3 *db;
    char *path;                           /* the database file, owned */
    gboolean have_fts;                    /* messages_fts exists */
    sqlite3_stmt *stmts[N_HISTORY_STMTS]; /* prepared on first use, else NULL */

    /* The checkpointer: a thread with its own connection that copies the WAL
     * into the database when it grows past HISTORY_CHECKPOINT_PAGES. It does
     * the fsyncs, which take milliseconds (more on slow disks), so that the
     * autosave on the GUI thread never waits for one. Started on first need. */
    GThread *checkpointer;
    /* pthread rather than GMutex/GCond: GLib's are bare futexes on Linux,
     * which ThreadSanitizer cannot follow. */
    pthread_mutex_t checkpoint_lock; /* guards the two flags below */
    pthread_cond_t checkpoint_wake;
    gboolean checkpoint_wanted;
    gboolean checkpoint_stopping;
};

GQuark wenshu_history_error_quark(void)
{
    return g_quark_from_static_string("wenshu-history-error-quark");
}

/* Sets error from the connection's last SQLite message: "<file>: <what>: <why>".
 * Returns FALSE, for tail calls. */
static gboolean set_sqlite_error(WenshuHistory *h, GError **error, const char *what)
{
    int code = sqlite3_errcode(h->db) & 0xff;
    WenshuHistoryError kind =
        code == SQLITE_NOTADB ? WENSHU_HISTORY_ERROR_NOT_A_DATABASE : WENSHU_HISTORY_ERROR_FAILED;
    g_set_error(error, WENSHU_HISTORY_ERROR, kind, "%s: %s: %s", h->path, what,
                sqlite3_errmsg(h->db));
    return FALSE;
}

static gboolean set_not_found(WenshuHistory *h, GError **error, const char *what, gint64 id)
{
    g_set_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_NOT_FOUND,
                "%s: no %s with id %" G_GINT64_FORMAT, h->path, what, id);
    return FALSE;
}

/* The cached statement, reset and with its bindings cleared; NULL on error.
 * The statement stays owned by h. */
static sqlite3_stmt *history_stmt(WenshuHistory *h, enum history_stmt which, GError **error)
{
    sqlite3_stmt *stmt = h->stmts[which];
    if (stmt == NULL) {
        if (sqlite3_prepare_v3(h->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT, &stmt,
                               NULL) != SQLITE_OK) {
            set_sqlite_error(h, error, "preparing a statement");
            return NULL;
        }
        h->stmts[which] = stmt;
    }
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return stmt;
}

/* Steps a statement that returns no rows and resets it. */
static gboolean step_done(WenshuHistory *h, sqlite3_stmt *stmt, const char *what, GError **error)
{
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE) {
        set_sqlite_error(h, error, what);
        sqlite3_reset(stmt);
        return FALSE;
    }
    sqlite3_reset(stmt);
    return TRUE;
}

/* Runs one of the argument-less cached statements (BEGIN, COMMIT, ROLLBACK). */
static gboolean run_plain(WenshuHistory *h, enum history_stmt which, GError **error)
{
    sqlite3_stmt *stmt = history_stmt(h, which, error);
    return stmt != NULL && step_done(h, stmt, stmt_sql[which], error);
}

/* Ends a failed transaction; the first error is the one reported. */
static void rollback(WenshuHistory *h)
{
    if (!sqlite3_get_autocommit(h->db))
        run_plain(h, STMT_ROLLBACK, NULL);
}

/* Sets conversation id's "updated" to now (strictly past every other row).
 * Returns FALSE with NOT_FOUND when there is no such conversation. */
static gboolean touch_conversation(WenshuHistory *h, enum history_stmt which, gint64 id,
                                   const char *what, GError **error)
{
    sqlite3_stmt *stmt = history_stmt(h, which, error);
    if (stmt == NULL)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, g_get_real_time());
    if (!step_done(h, stmt, "saving the time of a change", error))
        return FALSE;
    if (sqlite3_changes(h->db) == 0)
        return set_not_found(h, error, what, id);
    return TRUE;
}

/* ---- the checkpointer ---- */

/* The checkpointer's connection, opened and read once (a new connection
 * learns from the header that the file is in WAL mode; until then a
 * checkpoint does nothing). NULL on failure (busy through WAL recovery by
 * another process, say): the next wake tries again. */
static sqlite3 *open_checkpoint_connection(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000); /* a background thread may wait */
        if (sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) == SQLITE_OK)
            return db;
    }
    g_debug("%s: checkpoint connection: %s", path,
            db != NULL ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return NULL;
}

/* The checkpointer thread: waits to be woken, then runs a PASSIVE checkpoint
 * (it never blocks a writer; what it cannot copy now waits for the next one).
 * A failure only leaves the WAL longer until the next try. */
static gpointer checkpointer_main(gpointer data)
{
    WenshuHistory *h = data;
    sqlite3 *db = NULL; /* owned by this thread */
    pthread_mutex_lock(&h->checkpoint_lock);
    for (;;) {
        while (!h->checkpoint_wanted && !h->checkpoint_stopping)
            pthread_cond_wait(&h->checkpoint_wake, &h->checkpoint_lock);
        if (h->checkpoint_stopping)
            break;
        h->checkpoint_wanted = FALSE;
        pthread_mutex_unlock(&h->checkpoint_lock);
        if (db == NULL)
            db = open_checkpoint_connection(h->path);
        if (db != NULL)
            sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&h->checkpoint_lock);
    }
    pthread_mutex_unlock(&h->checkpoint_lock);
    sqlite3_close(db);
    return NULL;
}

/* SQLite's WAL hook, on the writing thread after each commit: wakes the
 * checkpointer once the WAL holds n_pages >= HISTORY_CHECKPOINT_PAGES. This
 * replaces SQLite's automatic checkpoint, which would run (and fsync) here. */
static int on_wal_commit(void *data, sqlite3 *db, const char *schema, int n_pages)
{
    WenshuHistory *h = data;
    (void)schema;
    if (n_pages < HISTORY_CHECKPOINT_PAGES)
        return SQLITE_OK;
    if (n_pages >= HISTORY_CHECKPOINT_BACKSTOP_PAGES) {
        /* SQLITE_BUSY when the checkpointer is at it: the next commit retries. */
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
    }
    if (h->checkpointer == NULL) {
        h->checkpointer = g_thread_try_new("wenshu-history-checkpoint", checkpointer_main, h, NULL);
        if (h->checkpointer == NULL) { /* no thread: checkpoint here, as SQLite would */
            sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
            return SQLITE_OK;
        }
    }
    pthread_mutex_lock(&h->checkpoint_lock);
    h->checkpoint_wanted = TRUE;
    pthread_cond_signal(&h->checkpoint_wake);
    pthread_mutex_unlock(&h->checkpoint_lock);
    return SQLITE_OK;
}

static void stop_checkpointer(WenshuHistory *h)
{
    if (h->checkpointer == NULL)
        return;
    pthread_mutex_lock(&h->checkpoint_lock);
    h->checkpoint_stopping = TRUE;
    pthread_cond_signal(&h->checkpoint_wake);
    pthread_mutex_unlock(&h->checkpoint_lock);
    g_thread_join(h->checkpointer);
    h->checkpointer = NULL;
}

/* ---- opening: file checks, pragmas, migrations ---- */

/* Refuses a file that exists, is not empty and does not start with SQLite's
 * 16-byte magic; SQLite itself is never let near it. An empty file is a new
 * database to SQLite and is fine. */
static gboolean check_file_is_sqlite(const char *path, GError **error)
{
    static const char magic[16] = "SQLite format 3"; /* with its NUL: 16 bytes */
    GStatBuf st;
    if (g_stat(path, &st) != 0) {
        if (errno == ENOENT)
            return TRUE;
        g_set_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_FAILED, "%s: %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_NOT_A_DATABASE,
                    "%s: not a regular file, so not a Wenshu history database", path);
        return FALSE;
    }
    if (st.st_size == 0)
        return TRUE;

    FILE *file = g_fopen(path, "rb");
    if (file == NULL) {
        g_set_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_FAILED, "%s: %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    char head[16]; /* the file's first 16 bytes */
    size_t n_read = fread(head, 1, sizeof head, file);
    fclose(file);
    if (n_read != sizeof head || memcmp(head, magic, sizeof magic) != 0) {
        g_set_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_NOT_A_DATABASE,
                    "%s: not an SQLite database, so not a Wenshu history (left untouched)", path);
        return FALSE;
    }
    return TRUE;
}

/* Reads one integer from a query with one row (a PRAGMA, a count). */
static gboolean query_int(WenshuHistory *h, const char *sql, gint64 *out, GError **error)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(h->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return set_sqlite_error(h, error, "reading the database header");
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(stmt, 0);
    else
        set_sqlite_error(h, error, "reading the database header");
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW;
}

static gboolean exec_sql(WenshuHistory *h, const char *sql, const char *what, GError **error)
{
    if (sqlite3_exec(h->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return set_sqlite_error(h, error, what);
    return TRUE;
}

/* Says whether the file is ours (or blank), and at which schema version.
 * Another program's database and a newer schema are refused. */
static gboolean check_owner(WenshuHistory *h, gint64 *version, GError **error)
{
    gint64 application_id = 0, n_schema_objects = 0;
    if (!query_int(h, "PRAGMA application_id", &application_id, error) ||
        !query_int(h, "PRAGMA user_version", version, error) ||
        !query_int(h, "SELECT count(*) FROM sqlite_master", &n_schema_objects, error))
        return FALSE;
    gboolean blank = application_id == 0 && *version == 0 && n_schema_objects == 0;
    if (application_id != HISTORY_APPLICATION_ID && !blank) {
        g_set_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_NOT_A_DATABASE,
                    "%s: an SQLite database of another program (application_id %#" G_GINT64_MODIFIER
                    "x), not a Wenshu history (left untouched)",
                    h->path, application_id);
        return FALSE;
    }
    if (*version > HISTORY_SCHEMA_VERSION) {
        g_set_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_TOO_NEW,
                    "%s: written by a newer Wenshu (schema %" G_GINT64_FORMAT
                    ", this one knows up to %d); left untouched",
                    h->path, *version, HISTORY_SCHEMA_VERSION);
        return FALSE;
    }
    return TRUE;
}

static gboolean migrate_to_v1(WenshuHistory *h, GError **error)
{
    return exec_sql(h, schema_v1, "creating the schema (version 1)", error);
}

static gboolean migrate_to_v2(WenshuHistory *h, GError **error)
{
    if (!sqlite3_compileoption_used("ENABLE_FTS5"))
        return TRUE; /* no FTS5 in this SQLite: search stays on LIKE */
    return exec_sql(h, schema_v2_fts, "adding the search index (version 2)", error);
}

typedef gboolean (*history_migration)(WenshuHistory *h, GError **error);
/* migrations[v] takes the schema from version v to v + 1. */
static const history_migration migrations[HISTORY_SCHEMA_VERSION] = {migrate_to_v1, migrate_to_v2};

/* Brings the schema from version (as check_owner read it) to
 * HISTORY_SCHEMA_VERSION in one transaction, so a crash mid-way leaves the old
 * version whole. The version is read again under the write lock, in case
 * another process migrated first. */
static gboolean migrate(WenshuHistory *h, gint64 version, GError **error)
{
    if (version == HISTORY_SCHEMA_VERSION)
        return TRUE;
    if (!run_plain(h, STMT_BEGIN, error))
        return FALSE;
    if (!check_owner(h, &version, error))
        goto out_rollback;
    for (gint64 v = version; v < HISTORY_SCHEMA_VERSION; v++)
        if (!migrations[v](h, error))
            goto out_rollback;
    char *pragmas = g_strdup_printf("PRAGMA application_id = %d; PRAGMA user_version = %d",
                                    HISTORY_APPLICATION_ID, HISTORY_SCHEMA_VERSION);
    gboolean ok = exec_sql(h, pragmas, "recording the schema version", error);
    g_free(pragmas);
    if (!ok || !run_plain(h, STMT_COMMIT, error))
        goto out_rollback;
    return TRUE;

out_rollback:
    rollback(h);
    return FALSE;
}

/* Sets the connection up: WAL (readers never block the autosave, and a kill
 * loses no committed transaction), synchronous=NORMAL (no fsync per commit;
 * only a power cut can drop the last commits), foreign keys, a WAL file cut
 * back when it restarts, checkpoints on the checkpointer thread, and a wait
 * instead of an instant "database is locked" if a second process holds it. */
static gboolean configure_connection(WenshuHistory *h, GError **error)
{
    sqlite3_extended_result_codes(h->db, 1);
    sqlite3_busy_timeout(h->db, 5000);
    sqlite3_wal_hook(h->db, on_wal_commit, h);
    char *pragmas = g_strdup_printf("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                                    " PRAGMA foreign_keys = ON; PRAGMA journal_size_limit = %d",
                                    HISTORY_WAL_SIZE_LIMIT);
    gboolean ok = exec_sql(h, pragmas, "setting up the connection", error);
    g_free(pragmas);
    return ok;
}

/* $XDG_DATA_HOME/wenshu/history.db, its folder created private. */
static char *default_path(GError **error)
{
    char *dir = g_build_filename(g_get_user_data_dir(), "wenshu", NULL);
    if (g_mkdir_with_parents(dir, 0700) != 0) {
        int saved_errno = errno;
        g_set_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_FAILED,
                    "%s: cannot create the folder: %s", dir, g_strerror(saved_errno));
        g_free(dir);
        return NULL;
    }
    char *path = g_build_filename(dir, "history.db", NULL);
    g_free(dir);
    return path;
}

WenshuHistory *wenshu_history_open(const char *path, GError **error)
{
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);
    char *resolved = path != NULL ? g_strdup(path) : default_path(error);
    if (resolved == NULL)
        return NULL;
    if (!check_file_is_sqlite(resolved, error)) {
        g_free(resolved);
        return NULL;
    }

    WenshuHistory *h = g_new0(WenshuHistory, 1);
    h->path = resolved;
    pthread_mutex_init(&h->checkpoint_lock, NULL);
    pthread_cond_init(&h->checkpoint_wake, NULL);
    int rc = sqlite3_open_v2(h->path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        if (h->db != NULL)
            set_sqlite_error(h, error, "opening");
        else
            g_set_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_FAILED,
                        "%s: opening: out of memory", h->path);
        wenshu_history_close(h);
        return NULL;
    }
    /* The owner check runs before any pragma that writes (journal_mode=WAL
     * rewrites the header), so a foreign database stays byte-identical. */
    gint64 version = 0;
    if (!check_owner(h, &version, error) || !configure_connection(h, error) ||
        !migrate(h, version, error)) {
        wenshu_history_close(h);
        return NULL;
    }
    gint64 n_fts = 0;
    if (!query_int(h,
                   "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                   " AND name = 'messages_fts'",
                   &n_fts, error)) {
        wenshu_history_close(h);
        return NULL;
    }
    h->have_fts = n_fts > 0;
    return h;
}

void wenshu_history_close(WenshuHistory *h)
{
    if (h == NULL)
        return;
    stop_checkpointer(h);
    for (int i = 0; i < N_HISTORY_STMTS; i++)
        sqlite3_finalize(h->stmts[i]);
    if (h->db != NULL) {
        if (sqlite3_get_autocommit(h->db) && sqlite3_db_readonly(h->db, "main") == 0)
            sqlite3_exec(h->db, "PRAGMA optimize", NULL, NULL, NULL);
        sqlite3_close(h->db); /* the last connection: checkpoints, removes the WAL */
    }
    pthread_mutex_destroy(&h->checkpoint_lock);
    pthread_cond_destroy(&h->checkpoint_wake);
    g_free(h->path);
    g_free(h);
}

const char *wenshu_history_get_path(WenshuHistory *h)
{
    g_return_val_if_fail(h != NULL, NULL);
    return h->path;
}

/* ---- records ---- */

void wenshu_conversation_free(WenshuConversation *c)
{
    if (c == NULL)
        return;
    g_free(c->kind);
    g_free(c->title);
    g_free(c->settings);
    g_free(c);
}

void wenshu_message_free(WenshuMessage *m)
{
    if (m == NULL)
        return;
    g_free(m->role);
    g_free(m->content);
    g_free(m);
}

/* A text column as a new string; NULL for SQL NULL. */
static char *column_strdup(sqlite3_stmt *stmt, int column)
{
    const unsigned char *text = sqlite3_column_text(stmt, column);
    return text != NULL ? g_strdup((const char *)text) : NULL;
}

/* The current row of a CONVERSATION_COLUMNS query. */
static WenshuConversation *conversation_from_row(sqlite3_stmt *stmt)
{
    WenshuConversation *c = g_new0(WenshuConversation, 1);
    c->id = sqlite3_column_int64(stmt, 0);
    c->kind = column_strdup(stmt, 1);
    c->title = column_strdup(stmt, 2);
    c->settings = column_strdup(stmt, 3);
    c->created = sqlite3_column_int64(stmt, 4) / G_USEC_PER_SEC;
    c->updated = sqlite3_column_int64(stmt, 5) / G_USEC_PER_SEC;
    c->deleted = sqlite3_column_type(stmt, 6) != SQLITE_NULL;
    return c;
}

static gboolean valid_role(const char *role)
{
    return role != NULL && (strcmp(role, "system") == 0 || strcmp(role, "user") == 0 ||
                            strcmp(role, "assistant") == 0);
}

/* ---- changes ---- */

gint64 wenshu_history_new_conversation(WenshuHistory *h, const char *kind, const char *title,
                                       const char *settings, GError **error)
{
    g_return_val_if_fail(h != NULL && kind != NULL && title != NULL, 0);
    sqlite3_stmt *stmt = history_stmt(h, STMT_NEW_CONVERSATION, error);
    if (stmt == NULL)
        return 0;
    sqlite3_bind_text(stmt, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, g_get_real_time());
    sqlite3_bind_text(stmt, 3, title, -1, SQLITE_STATIC);
    if (settings != NULL)
        sqlite3_bind_text(stmt, 4, settings, -1, SQLITE_STATIC);
    if (!step_done(h, stmt, "saving a new conversation", error))
        return 0;
    return sqlite3_last_insert_rowid(h->db);
}

gint64 wenshu_history_add_message(WenshuHistory *h, gint64 conversation, const char *role,
                                  const char *content, gboolean complete, GError **error)
{
    g_return_val_if_fail(h != NULL && valid_role(role) && content != NULL, 0);
    if (!run_plain(h, STMT_BEGIN, error))
        return 0;
    if (!touch_conversation(h, STMT_TOUCH, conversation, "conversation", error))
        goto out_rollback;
    sqlite3_stmt *stmt = history_stmt(h, STMT_ADD_MESSAGE, error);
    if (stmt == NULL)
        goto out_rollback;
    sqlite3_bind_int64(stmt, 1, conversation);
    sqlite3_bind_text(stmt, 2, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, content, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 4, complete ? 1 : 0);
    if (!step_done(h, stmt, "saving a message", error))
        goto out_rollback;
    gint64 id = sqlite3_last_insert_rowid(h->db);
    if (!run_plain(h, STMT_COMMIT, error))
        goto out_rollback;
    return id;

out_rollback:
    rollback(h);
    return 0;
}

gboolean wenshu_history_update_message(WenshuHistory *h, gint64 message, const char *content,
                                       gboolean complete, GError **error)
{
    g_return_val_if_fail(h != NULL && content != NULL, FALSE);
    if (!run_plain(h, STMT_BEGIN, error))
        return FALSE;
    sqlite3_stmt *stmt = history_stmt(h, STMT_UPDATE_MESSAGE, error);
    if (stmt == NULL)
        goto out_rollback;
    sqlite3_bind_int64(stmt, 1, message);
    sqlite3_bind_text(stmt, 2, content, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 3, complete ? 1 : 0);
    if (!step_done(h, stmt, "saving a message", error))
        goto out_rollback;
    if (sqlite3_changes(h->db) == 0) {
        set_not_found(h, error, "message", message);
        goto out_rollback;
    }
    if (!touch_conversation(h, STMT_TOUCH_BY_MESSAGE, message, "conversation of message", error) ||
        !run_plain(h, STMT_COMMIT, error))
        goto out_rollback;
    return TRUE;

out_rollback:
    rollback(h);
    return FALSE;
}

/* Runs one UPDATE of conversation id. The statements share one layout:
 * ?1 = id, ?2 = now (where used), ?3 = text (where used; may be NULL).
 * Returns FALSE with NOT_FOUND when no row changed. */
static gboolean update_conversation(WenshuHistory *h, enum history_stmt which, gint64 id,
                                    const char *text, const char *what, GError **error)
{
    sqlite3_stmt *stmt = history_stmt(h, which, error);
    if (stmt == NULL)
        return FALSE;
    int n_params = sqlite3_bind_parameter_count(stmt);
    sqlite3_bind_int64(stmt, 1, id);
    if (n_params >= 2)
        sqlite3_bind_int64(stmt, 2, g_get_real_time());
    if (n_params >= 3 && text != NULL)
        sqlite3_bind_text(stmt, 3, text, -1, SQLITE_STATIC);
    if (!step_done(h, stmt, what, error))
        return FALSE;
    if (sqlite3_changes(h->db) == 0)
        return set_not_found(h, error, "conversation", id);
    return TRUE;
}

gboolean wenshu_history_rename(WenshuHistory *h, gint64 conversation, const char *title,
                               GError **error)
{
    g_return_val_if_fail(h != NULL && title != NULL, FALSE);
    return update_conversation(h, STMT_RENAME, conversation, title, "renaming", error);
}

gboolean wenshu_history_set_settings(WenshuHistory *h, gint64 conversation, const char *settings,
                                     GError **error)
{
    g_return_val_if_fail(h != NULL, FALSE);
    return update_conversation(h, STMT_SET_SETTINGS, conversation, settings, "saving settings",
                               error);
}

gboolean wenshu_history_delete(WenshuHistory *h, gint64 conversation, GError **error)
{
    g_return_val_if_fail(h != NULL, FALSE);
    WenshuConversation *c = wenshu_history_get(h, conversation, error);
    if (c == NULL)
        return FALSE;
    /* Deleting what is already in the bin keeps its first deletion time. */
    gboolean ok = c->deleted || update_conversation(h, STMT_DELETE, conversation, NULL,
                                                    "moving to the bin", error);
    wenshu_conversation_free(c);
    return ok;
}

gboolean wenshu_history_undo_delete(WenshuHistory *h, gint64 conversation, GError **error)
{
    g_return_val_if_fail(h != NULL, FALSE);
    return update_conversation(h, STMT_UNDO_DELETE, conversation, NULL, "restoring from the bin",
                               error);
}

gboolean wenshu_history_purge_deleted(WenshuHistory *h, GError **error)
{
    g_return_val_if_fail(h != NULL, FALSE);
    if (!run_plain(h, STMT_BEGIN, error))
        return FALSE;
    /* Messages first, by statement, so the search index triggers see them. */
    sqlite3_stmt *stmt = history_stmt(h, STMT_PURGE_MESSAGES, error);
    if (stmt == NULL || !step_done(h, stmt, "emptying the bin", error))
        goto out_rollback;
    stmt = history_stmt(h, STMT_PURGE_CONVERSATIONS, error);
    if (stmt == NULL || !step_done(h, stmt, "emptying the bin", error) ||
        !run_plain(h, STMT_COMMIT, error))
        goto out_rollback;
    return TRUE;

out_rollback:
    rollback(h);
    return FALSE;
}

/* ---- queries ---- */

/* Collects every row of a CONVERSATION_COLUMNS statement (already bound). */
static GPtrArray *collect_conversations(WenshuHistory *h, sqlite3_stmt *stmt, GError **error)
{
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)wenshu_conversation_free);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        g_ptr_array_add(list, conversation_from_row(stmt));
    if (rc != SQLITE_DONE) {
        set_sqlite_error(h, error, "reading the history");
        g_ptr_array_unref(list);
        list = NULL;
    }
    sqlite3_reset(stmt);
    return list;
}

/* "%query%" with LIKE's wildcards and the escape itself escaped by '\'. */
static char *like_pattern(const char *query)
{
    GString *pattern = g_string_new("%");
    for (const char *p = query; *p != '\0'; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            g_string_append_c(pattern, '\\');
        g_string_append_c(pattern, *p);
    }
    g_string_append_c(pattern, '%');
    return g_string_free(pattern, FALSE);
}

/* The query as one FTS5 phrase: in double quotes, inner quotes doubled, so
 * no character of it is FTS5 syntax. */
static char *fts_phrase(const char *query)
{
    GString *phrase = g_string_new("\"");
    for (const char *p = query; *p != '\0'; p++) {
        if (*p == '"')
            g_string_append_c(phrase, '"');
        g_string_append_c(phrase, *p);
    }
    g_string_append_c(phrase, '"');
    return g_string_free(phrase, FALSE);
}

GPtrArray *wenshu_history_list(WenshuHistory *h, const char *query, GError **error)
{
    g_return_val_if_fail(h != NULL, NULL);
    char *trimmed = g_strstrip(g_strdup(query != NULL ? query : ""));
    sqlite3_stmt *stmt;
    char *pattern = NULL, *phrase = NULL;
    if (trimmed[0] == '\0') {
        stmt = history_stmt(h, STMT_LIST_ALL, error);
    } else if (h->have_fts && g_utf8_strlen(trimmed, -1) >= HISTORY_FTS_MIN_CHARS) {
        stmt = history_stmt(h, STMT_LIST_FTS, error);
        pattern = like_pattern(trimmed);
        phrase = fts_phrase(trimmed);
        if (stmt != NULL) {
            sqlite3_bind_text(stmt, 1, pattern, -1, SQLITE_STATIC);
            sqlite3_bind_text(stmt, 2, phrase, -1, SQLITE_STATIC);
        }
    } else {
        stmt = history_stmt(h, STMT_LIST_LIKE, error);
        pattern = like_pattern(trimmed);
        if (stmt != NULL)
            sqlite3_bind_text(stmt, 1, pattern, -1, SQLITE_STATIC);
    }
    GPtrArray *list = stmt != NULL ? collect_conversations(h, stmt, error) : NULL;
    if (stmt != NULL)
        sqlite3_clear_bindings(stmt); /* the pattern is freed below */
    g_free(pattern);
    g_free(phrase);
    g_free(trimmed);
    return list;
}

GPtrArray *wenshu_history_messages(WenshuHistory *h, gint64 conversation, GError **error)
{
    g_return_val_if_fail(h != NULL, NULL);
    sqlite3_stmt *stmt = history_stmt(h, STMT_MESSAGES, error);
    if (stmt == NULL)
        return NULL;
    sqlite3_bind_int64(stmt, 1, conversation);
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)wenshu_message_free);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        WenshuMessage *m = g_new0(WenshuMessage, 1);
        m->id = sqlite3_column_int64(stmt, 0);
        m->role = column_strdup(stmt, 1);
        m->content = column_strdup(stmt, 2);
        m->complete = sqlite3_column_int(stmt, 3) != 0;
        g_ptr_array_add(list, m);
    }
    if (rc != SQLITE_DONE) {
        set_sqlite_error(h, error, "reading messages");
        g_clear_pointer(&list, g_ptr_array_unref);
    }
    sqlite3_reset(stmt);
    return list;
}

WenshuConversation *wenshu_history_get(WenshuHistory *h, gint64 conversation, GError **error)
{
    g_return_val_if_fail(h != NULL, NULL);
    sqlite3_stmt *stmt = history_stmt(h, STMT_GET, error);
    if (stmt == NULL)
        return NULL;
    sqlite3_bind_int64(stmt, 1, conversation);
    WenshuConversation *c = NULL;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        c = conversation_from_row(stmt);
    else if (rc == SQLITE_DONE)
        set_not_found(h, error, "conversation", conversation);
    else
        set_sqlite_error(h, error, "reading a conversation");
    sqlite3_reset(stmt);
    return c;
}

gint64 wenshu_history_find_interrupted(WenshuHistory *h, GError **error)
{
    g_return_val_if_fail(h != NULL, 0);
    sqlite3_stmt *stmt = history_stmt(h, STMT_FIND_INTERRUPTED, error);
    if (stmt == NULL)
        return 0;
    gint64 id = 0;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        id = sqlite3_column_int64(stmt, 0);
    else if (rc != SQLITE_DONE)
        set_sqlite_error(h, error, "looking for an interrupted run");
    sqlite3_reset(stmt);
    return id;
}

/* ---- export ---- */

/* Appends text without its <think>…</think> spans; an unclosed <think> (a
 * run cut off while reasoning) drops the rest. */
static void append_without_thinking(GString *out, const char *text)
{
    const char *p = text;
    const char *open;
    while ((open = strstr(p, "<think>")) != NULL) {
        g_string_append_len(out, p, open - p);
        const char *close = strstr(open, "</think>");
        if (close == NULL)
            return;
        p = close + strlen("</think>");
    }
    g_string_append(out, p);
}

/* Appends a message body: leading blank lines and trailing white space
 * dropped (indentation of the first line kept, for code). */
static void append_body(GString *out, const WenshuMessage *m)
{
    GString *body = g_string_new(NULL);
    if (strcmp(m->role, "assistant") == 0)
        append_without_thinking(body, m->content);
    else
        g_string_append(body, m->content);
    gsize start = 0;
    for (gsize i = 0; i < body->len && g_ascii_isspace(body->str[i]); i++)
        if (body->str[i] == '\n')
            start = i + 1;
    gsize end = body->len;
    while (end > start && g_ascii_isspace(body->str[end - 1]))
        end--;
    g_string_append_len(out, body->str + start, end - start);
    g_string_free(body, TRUE);
}

static const char *role_heading(const char *role)
{
    if (strcmp(role, "user") == 0)
        return "用户";
    if (strcmp(role, "assistant") == 0)
        return "助手";
    return "系统";
}

/* The Markdown text of a conversation; see wenshu-history.h. */
static char *conversation_markdown(const WenshuConversation *c, GPtrArray *messages)
{
    GString *out = g_string_new("# ");
    char *title = g_strdup(c->title[0] != '\0' ? c->title : "未命名");
    g_strdelimit(title, "\r\n", ' ');
    g_string_append(out, title);
    g_string_append_c(out, '\n');
    g_free(title);
    for (guint i = 0; i < messages->len; i++) {
        const WenshuMessage *m = g_ptr_array_index(messages, i);
        g_string_append_printf(out, "\n## %s%s\n\n", role_heading(m->role),
                               m->complete ? "" : "（未完成）");
        gsize before = out->len;
        append_body(out, m);
        if (out->len > before)
            g_string_append_c(out, '\n');
    }
    return g_string_free(out, FALSE);
}

gboolean wenshu_history_export_markdown(WenshuHistory *h, gint64 conversation, const char *path,
                                        GError **error)
{
    g_return_val_if_fail(h != NULL && path != NULL, FALSE);
    WenshuConversation *c = wenshu_history_get(h, conversation, error);
    if (c == NULL)
        return FALSE;
    GPtrArray *messages = wenshu_history_messages(h, conversation, error);
    if (messages == NULL) {
        wenshu_conversation_free(c);
        return FALSE;
    }
    char *markdown = conversation_markdown(c, messages);
    /* A temporary file beside path, renamed over it: never half written.
     * GLib's error names the file. */
    gboolean ok =
        g_file_set_contents_full(path, markdown, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
    g_free(markdown);
    g_ptr_array_unref(messages);
    wenshu_conversation_free(c);
    return ok;
}
