/* test-history: the GUI's history database (app/gui/wenshu-history.c)
 * without GTK. Every expectation is written by hand or read back through a
 * second, raw SQLite connection: the schema and pragmas on disk, list order,
 * search (FTS5 and LIKE paths, wildcards, quotes, the bin), rename, delete,
 * undo, purge (index entries gone), Markdown export against a hand-written
 * text, files that are not ours (refused, byte-identical afterwards), a v1
 * database migrated, a child process SIGKILLed while streaming (the reply
 * restored as last saved), and the cost of one autosave (printed, not
 * asserted).
 */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wenshu-history.h"

/* Each test gets its own folder and database path. */
typedef struct {
    char *dir;     /* a fresh temporary folder */
    char *db_path; /* dir/history.db, not created */
} Fixture;

static void fixture_set_up(Fixture *f, gconstpointer data)
{
    (void)data;
    GError *error = NULL;
    f->dir = g_dir_make_tmp("wenshu-history-XXXXXX", &error);
    g_assert_no_error(error);
    f->db_path = g_build_filename(f->dir, "history.db", NULL);
}

static void remove_tree(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    if (dir != NULL) {
        const char *name;
        while ((name = g_dir_read_name(dir)) != NULL) {
            char *child = g_build_filename(path, name, NULL);
            remove_tree(child);
            g_free(child);
        }
        g_dir_close(dir);
    }
    g_remove(path);
}

static void fixture_tear_down(Fixture *f, gconstpointer data)
{
    (void)data;
    remove_tree(f->dir);
    g_free(f->dir);
    g_free(f->db_path);
}

static WenshuHistory *open_history(const char *path)
{
    GError *error = NULL;
    WenshuHistory *h = wenshu_history_open(path, &error);
    g_assert_no_error(error);
    g_assert_nonnull(h);
    return h;
}

/* ---- a raw connection, the test's independent view of the file ---- */

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                    ==, SQLITE_OK);
    return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *message = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &message);
    if (rc != SQLITE_OK)
        g_error("%s: %s", sql, message);
}

static gint64 raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
    gint64 value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}

static char *raw_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
    char *value = g_strdup((const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return value;
}

/* Asserts that list holds exactly the conversation ids expected (0-ended),
 * in that order. */
static void assert_ids(GPtrArray *list, const gint64 *expected)
{
    guint n_expected = 0;
    while (expected[n_expected] != 0)
        n_expected++;
    GString *got = g_string_new(NULL);
    for (guint i = 0; i < list->len; i++) {
        const WenshuConversation *c = g_ptr_array_index(list, i);
        g_string_append_printf(got, "%" G_GINT64_FORMAT " ", c->id);
    }
    GString *want = g_string_new(NULL);
    for (guint i = 0; i < n_expected; i++)
        g_string_append_printf(want, "%" G_GINT64_FORMAT " ", expected[i]);
    g_assert_cmpstr(got->str, ==, want->str);
    g_string_free(got, TRUE);
    g_string_free(want, TRUE);
}

static void assert_list(WenshuHistory *h, const char *query, const gint64 *expected)
{
    GError *error = NULL;
    GPtrArray *list = wenshu_history_list(h, query, &error);
    g_assert_no_error(error);
    g_assert_nonnull(list);
    if (g_test_verbose())
        g_test_message("query \"%s\": %u results", query ? query : "(null)", list->len);
    assert_ids(list, expected);
    g_ptr_array_unref(list);
}

static gint64 new_conversation(WenshuHistory *h, const char *kind, const char *title)
{
    GError *error = NULL;
    gint64 id = wenshu_history_new_conversation(h, kind, title, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpint(id, >, 0);
    return id;
}

static gint64 add_message(WenshuHistory *h, gint64 conversation, const char *role,
                          const char *content, gboolean complete)
{
    GError *error = NULL;
    gint64 id = wenshu_history_add_message(h, conversation, role, content, complete, &error);
    g_assert_no_error(error);
    g_assert_cmpint(id, >, 0);
    return id;
}

static void update_message(WenshuHistory *h, gint64 message, const char *content, gboolean complete)
{
    GError *error = NULL;
    g_assert_true(wenshu_history_update_message(h, message, content, complete, &error));
    g_assert_no_error(error);
}

/* ---- schema and pragmas ---- */

static void test_schema(Fixture *f, gconstpointer data)
{
    (void)data;
    WenshuHistory *h = open_history(f->db_path);
    g_assert_cmpstr(wenshu_history_get_path(h), ==, f->db_path);

    sqlite3 *db = raw_open(f->db_path);
    char *journal_mode = raw_text(db, "PRAGMA journal_mode");
    g_assert_cmpstr(journal_mode, ==, "wal");
    g_free(journal_mode);
    g_assert_cmpint(raw_int(db, "PRAGMA user_version"), ==, 2);
    g_assert_cmpint(raw_int(db, "PRAGMA application_id"), ==, 0x57534855); /* "WSHU" */
    g_assert_cmpint(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                " ('conversations', 'messages')"),
                    ==, 2);
    /* Debian's SQLite (3.40) has FTS5, and the index must then exist. */
    gint64 want_fts = sqlite3_compileoption_used("ENABLE_FTS5") ? 1 : 0;
    g_assert_cmpint(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'messages_fts'"),
                    ==, want_fts);
    if (!want_fts)
        g_test_message("this SQLite has no FTS5: search runs on LIKE");
    sqlite3_close(db);
    wenshu_history_close(h);

    /* Opening again migrates nothing and keeps the data. */
    h = open_history(f->db_path);
    gint64 id = new_conversation(h, "chat", "再次打开");
    wenshu_history_close(h);
    h = open_history(f->db_path);
    WenshuConversation *c = wenshu_history_get(h, id, NULL);
    g_assert_nonnull(c);
    g_assert_cmpstr(c->title, ==, "再次打开");
    wenshu_conversation_free(c);
    wenshu_history_close(h);
    wenshu_history_close(NULL);
}

static void test_default_path(void)
{
    /* G_TEST_OPTION_ISOLATE_DIRS points XDG_DATA_HOME at a fresh folder. */
    char *expected = g_build_filename(g_get_user_data_dir(), "wenshu", "history.db", NULL);
    char *folder = g_path_get_dirname(expected);
    g_assert_false(g_file_test(expected, G_FILE_TEST_EXISTS));
    WenshuHistory *h = open_history(NULL);
    g_assert_cmpstr(wenshu_history_get_path(h), ==, expected);
    g_assert_true(g_file_test(expected, G_FILE_TEST_IS_REGULAR));
    GStatBuf st;
    g_assert_cmpint(g_stat(folder, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0700);
    wenshu_history_close(h);
    g_free(folder);
    g_free(expected);
}

/* ---- conversations and messages ---- */

static void test_messages(Fixture *f, gconstpointer data)
{
    (void)data;
    GError *error = NULL;
    WenshuHistory *h = open_history(f->db_path);
    gint64 before = (gint64)time(NULL);
    gint64 id = wenshu_history_new_conversation(
        h, "gongwen", "关于开展检查的通知", "{\"kind\":\"通知\",\"agency\":\"某市政府\"}", &error);
    g_assert_no_error(error);
    gint64 m1 = add_message(h, id, "system", "你是公文写作助手。", TRUE);
    gint64 m2 = add_message(h, id, "user", "起草一份通知", TRUE);
    gint64 m3 = add_message(h, id, "assistant", "", FALSE);
    update_message(h, m3, "各单位：", FALSE);
    update_message(h, m3, "各单位：\n现将有关事项通知如下。", TRUE);

    WenshuConversation *c = wenshu_history_get(h, id, &error);
    g_assert_no_error(error);
    g_assert_cmpint(c->id, ==, id);
    g_assert_cmpstr(c->kind, ==, "gongwen");
    g_assert_cmpstr(c->title, ==, "关于开展检查的通知");
    g_assert_cmpstr(c->settings, ==, "{\"kind\":\"通知\",\"agency\":\"某市政府\"}");
    g_assert_false(c->deleted);
    g_assert_cmpint(c->created, >=, before);
    g_assert_cmpint(c->created, <=, (gint64)time(NULL));
    g_assert_cmpint(c->updated, >=, c->created);
    wenshu_conversation_free(c);

    GPtrArray *messages = wenshu_history_messages(h, id, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(messages->len, ==, 3);
    const gint64 ids[] = {m1, m2, m3};
    const char *roles[] = {"system", "user", "assistant"};
    const char *contents[] = {"你是公文写作助手。", "起草一份通知",
                              "各单位：\n现将有关事项通知如下。"};
    for (guint i = 0; i < 3; i++) {
        const WenshuMessage *m = g_ptr_array_index(messages, i);
        g_assert_cmpint(m->id, ==, ids[i]);
        g_assert_cmpstr(m->role, ==, roles[i]);
        g_assert_cmpstr(m->content, ==, contents[i]);
        g_assert_true(m->complete);
    }
    g_ptr_array_unref(messages);

    /* Settings replaced, then cleared. */
    g_assert_true(wenshu_history_set_settings(h, id, "{\"kind\":\"函\"}", &error));
    c = wenshu_history_get(h, id, NULL);
    g_assert_cmpstr(c->settings, ==, "{\"kind\":\"函\"}");
    wenshu_conversation_free(c);
    g_assert_true(wenshu_history_set_settings(h, id, NULL, &error));
    c = wenshu_history_get(h, id, NULL);
    g_assert_null(c->settings);
    wenshu_conversation_free(c);

    /* Missing ids are NOT_FOUND errors and change nothing. */
    g_assert_false(wenshu_history_update_message(h, 9999, "x", TRUE, &error));
    g_assert_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_cmpint(wenshu_history_add_message(h, 9999, "user", "x", TRUE, &error), ==, 0);
    g_assert_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(error->message, f->db_path));
    g_clear_error(&error);
    g_assert_null(wenshu_history_get(h, 9999, &error));
    g_assert_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_false(wenshu_history_rename(h, 9999, "x", &error));
    g_assert_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_NOT_FOUND);
    g_clear_error(&error);
    messages = wenshu_history_messages(h, 9999, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(messages->len, ==, 0);
    g_ptr_array_unref(messages);

    /* Nothing is half-done: the failed add left no message behind. */
    sqlite3 *db = raw_open(f->db_path);
    g_assert_cmpint(raw_int(db, "SELECT count(*) FROM messages"), ==, 3);
    g_assert_cmpint(raw_int(db, "SELECT count(*) FROM conversations"), ==, 1);
    sqlite3_close(db);
    wenshu_history_close(h);
}

/* Newest first; messages and settings move a conversation up, a rename does
 * not. */
static void test_order(Fixture *f, gconstpointer data)
{
    (void)data;
    GError *error = NULL;
    WenshuHistory *h = open_history(f->db_path);
    gint64 a = new_conversation(h, "chat", "A");
    gint64 b = new_conversation(h, "slides", "B");
    gint64 c = new_conversation(h, "clip", "C");
    const gint64 cba[] = {c, b, a, 0};
    assert_list(h, NULL, cba);

    add_message(h, a, "user", "hello", TRUE);
    const gint64 acb[] = {a, c, b, 0};
    assert_list(h, NULL, acb);

    gint64 b_reply = add_message(h, b, "assistant", "", FALSE);
    const gint64 bac[] = {b, a, c, 0};
    assert_list(h, NULL, bac);
    add_message(h, a, "user", "again", TRUE);
    const gint64 abc[] = {a, b, c, 0};
    assert_list(h, NULL, abc);
    update_message(h, b_reply, "streamed text", FALSE);
    assert_list(h, NULL, bac);

    g_assert_true(wenshu_history_rename(h, c, "C renamed", &error));
    g_assert_no_error(error);
    assert_list(h, NULL, bac);
    WenshuConversation *renamed = wenshu_history_get(h, c, NULL);
    g_assert_cmpstr(renamed->title, ==, "C renamed");
    wenshu_conversation_free(renamed);

    g_assert_true(wenshu_history_set_settings(h, c, "{}", &error));
    const gint64 cba2[] = {c, b, a, 0};
    assert_list(h, NULL, cba2);
    assert_list(h, "", cba2);
    assert_list(h, "   ", cba2);

    /* The order survives a reopen (it is stored, not kept in memory). */
    wenshu_history_close(h);
    h = open_history(f->db_path);
    assert_list(h, NULL, cba2);
    wenshu_history_close(h);
}

/* ---- search ---- */

static void test_search(Fixture *f, gconstpointer data)
{
    (void)data;
    GError *error = NULL;
    WenshuHistory *h = open_history(f->db_path);
    gint64 a = new_conversation(h, "gongwen", "关于开展安全生产检查的通知");
    add_message(h, a, "user", "请起草一份通知", TRUE);
    add_message(h, a, "assistant", "各单位：为切实做好安全生产工作，现通知如下。", TRUE);

    gint64 b = new_conversation(h, "chat", "Weekly report");
    add_message(h, b, "user", "Summarise the SALES figures for Q3 before the conference", TRUE);
    add_message(h, b, "assistant", "Sales grew 12% in Q3_2026. He said \"hello\" twice.", TRUE);

    gint64 c = new_conversation(h, "chat", "会议纪要");
    add_message(h, c, "user", "整理会议记录 (conference call)", TRUE);
    gint64 c_reply = add_message(h, c, "assistant", "第一项议题：预算调整", FALSE);

    gint64 d = new_conversation(h, "chat", "已删除的对话");
    add_message(h, d, "user", "安全生产 sales 预算调整 独一无二的内容", TRUE);
    g_assert_true(wenshu_history_delete(h, d, &error));

    const gint64 only_a[] = {a, 0}, only_b[] = {b, 0}, only_c[] = {c, 0}, none[] = {0};
    const gint64 c_b[] = {c, b, 0}, c_a[] = {c, a, 0}, c_b_a[] = {c, b, a, 0};
    assert_list(h, "安全生产", only_a);     /* title and a complete message (FTS) */
    assert_list(h, "安全生产工作", only_a); /* only in the message */
    assert_list(h, "通知", only_a);         /* two characters: LIKE */
    assert_list(h, "现通知如下", only_a);
    assert_list(h, "sales", only_b); /* case-insensitive, FTS */
    assert_list(h, "SALES FIGURES", only_b);
    assert_list(h, "q3", only_b);       /* case-insensitive, LIKE */
    assert_list(h, "weekly", only_b);   /* title */
    assert_list(h, "conference", c_b);  /* several, newest first */
    assert_list(h, "：", c_a);          /* one character, several */
    assert_list(h, "预算调整", only_c); /* still streaming: not indexed yet */
    assert_list(h, "预算", only_c);
    assert_list(h, "独一无二", none);      /* only in the bin */
    assert_list(h, "  预算调整 ", only_c); /* trimmed */
    /* Wildcards and quotes are plain characters. */
    assert_list(h, "%", only_b);
    assert_list(h, "_", only_b);
    assert_list(h, "12%", only_b);
    assert_list(h, "Q3_2026", only_b);
    assert_list(h, "Q3%2026", none);
    assert_list(h, "\\", none);
    assert_list(h, "\"hello\"", only_b);
    assert_list(h, "\"hello", only_b);
    assert_list(h, "said \"", only_b);
    assert_list(h, "hello\" AND NOT (x", none);
    assert_list(h, "NEAR(a b)", none);
    assert_list(h, "*", none);
    assert_list(h, "对话", none);
    assert_list(h, "", c_b_a);

    /* The streamed reply completes: found through the index now. Rewritten:
     * the old text is no longer found, the new one is. */
    update_message(h, c_reply, "第一项议题：预算调整", TRUE);
    assert_list(h, "预算调整", only_c);
    update_message(h, c_reply, "第一项议题：人事安排", TRUE);
    assert_list(h, "预算调整", none);
    assert_list(h, "人事安排", only_c);
    /* Back to streaming (regenerate): still found, through LIKE. */
    update_message(h, c_reply, "第一项议题：人事安排与预算", FALSE);
    assert_list(h, "人事安排与预算", only_c);

    /* A deleted conversation comes back to search on undo. */
    g_assert_true(wenshu_history_undo_delete(h, d, &error));
    const gint64 only_d[] = {d, 0};
    assert_list(h, "独一无二", only_d);
    wenshu_history_close(h);
}

/* ---- delete, undo, purge ---- */

static void test_delete_undo_purge(Fixture *f, gconstpointer data)
{
    (void)data;
    GError *error = NULL;
    WenshuHistory *h = open_history(f->db_path);
    gint64 a = new_conversation(h, "chat", "A");
    add_message(h, a, "user", "独一无二的内容", TRUE);
    add_message(h, a, "assistant", "半截回复", FALSE);
    gint64 b = new_conversation(h, "chat", "B");
    add_message(h, b, "user", "保留的内容", TRUE);
    const gint64 b_a[] = {b, a, 0}, only_b[] = {b, 0};
    g_assert_cmpint(wenshu_history_find_interrupted(h, &error), ==, a);

    g_assert_true(wenshu_history_delete(h, a, &error));
    g_assert_no_error(error);
    assert_list(h, NULL, only_b);
    WenshuConversation *binned = wenshu_history_get(h, a, &error);
    g_assert_no_error(error);
    g_assert_true(binned->deleted);
    wenshu_conversation_free(binned);
    /* A binned conversation is no interrupted run to restore. */
    g_assert_cmpint(wenshu_history_find_interrupted(h, &error), ==, 0);
    g_assert_no_error(error);
    g_assert_true(wenshu_history_delete(h, a, &error)); /* twice: no error */

    g_assert_true(wenshu_history_undo_delete(h, a, &error));
    g_assert_no_error(error);
    assert_list(h, NULL, b_a); /* back in its old place */
    g_assert_cmpint(wenshu_history_find_interrupted(h, &error), ==, a);
    GPtrArray *messages = wenshu_history_messages(h, a, &error);
    g_assert_cmpuint(messages->len, ==, 2);
    g_ptr_array_unref(messages);

    g_assert_true(wenshu_history_delete(h, a, &error));
    sqlite3 *db = raw_open(f->db_path);
    const char *count_fts =
        "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '\"独一无二\"'";
    gboolean have_fts = raw_int(db, "SELECT count(*) FROM sqlite_master"
                                    " WHERE name = 'messages_fts'") == 1;
    if (have_fts)
        g_assert_cmpint(raw_int(db, count_fts), ==, 1);
    g_assert_true(wenshu_history_purge_deleted(h, &error));
    g_assert_no_error(error);
    assert_list(h, NULL, only_b);
    g_assert_null(wenshu_history_get(h, a, &error));
    g_assert_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_false(wenshu_history_undo_delete(h, a, &error));
    g_assert_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_false(wenshu_history_delete(h, 9999, &error));
    g_assert_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_NOT_FOUND);
    g_clear_error(&error);

    /* Gone from disk: rows and index entries; B untouched. */
    char *sql =
        g_strdup_printf("SELECT count(*) FROM messages WHERE conversation = %" G_GINT64_FORMAT, a);
    g_assert_cmpint(raw_int(db, sql), ==, 0);
    g_free(sql);
    g_assert_cmpint(raw_int(db, "SELECT count(*) FROM conversations"), ==, 1);
    g_assert_cmpint(raw_int(db, "SELECT count(*) FROM messages"), ==, 1);
    if (have_fts)
        g_assert_cmpint(raw_int(db, count_fts), ==, 0);
    sqlite3_close(db);
    const gint64 none[] = {0};
    assert_list(h, "独一无二", none);
    assert_list(h, "保留的内容", only_b);
    /* Purging an empty bin is fine. */
    g_assert_true(wenshu_history_purge_deleted(h, &error));
    g_assert_no_error(error);
    wenshu_history_close(h);
}

/* ---- export ---- */

static char *read_file(const char *path)
{
    char *text = NULL;
    GError *error = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, &error));
    g_assert_no_error(error);
    return text;
}

static void test_export(Fixture *f, gconstpointer data)
{
    (void)data;
    GError *error = NULL;
    WenshuHistory *h = open_history(f->db_path);
    gint64 id = new_conversation(h, "gongwen", "关于开展安全生产检查的通知");
    add_message(h, id, "system", "你是公文写作助手。", TRUE);
    add_message(h, id, "user", "请起草一份通知。\n", TRUE);
    add_message(h, id, "assistant",
                "<think>\n先想想格式。\n</think>\n\n各单位：\n\n    缩进保留\n\n特此通知。\n\n",
                TRUE);
    add_message(h, id, "user", "再写一段", TRUE);
    add_message(h, id, "assistant", "第二段<think>x</think>正文<think>还在想", FALSE);

    /* Written by hand from the format in wenshu-history.h. */
    static const char expected[] = "# 关于开展安全生产检查的通知\n"
                                   "\n"
                                   "## 系统\n"
                                   "\n"
                                   "你是公文写作助手。\n"
                                   "\n"
                                   "## 用户\n"
                                   "\n"
                                   "请起草一份通知。\n"
                                   "\n"
                                   "## 助手\n"
                                   "\n"
                                   "各单位：\n"
                                   "\n"
                                   "    缩进保留\n"
                                   "\n"
                                   "特此通知。\n"
                                   "\n"
                                   "## 用户\n"
                                   "\n"
                                   "再写一段\n"
                                   "\n"
                                   "## 助手（未完成）\n"
                                   "\n"
                                   "第二段正文\n";
    char *path = g_build_filename(f->dir, "导出.md", NULL);
    g_assert_true(wenshu_history_export_markdown(h, id, path, &error));
    g_assert_no_error(error);
    char *text = read_file(path);
    g_assert_cmpstr(text, ==, expected);
    g_free(text);

    /* Overwrites an old export whole. */
    g_assert_true(g_file_set_contents(path, "old text that is much longer than nothing", -1, NULL));
    gint64 empty = new_conversation(h, "chat", "");
    g_assert_true(wenshu_history_export_markdown(h, empty, path, &error));
    text = read_file(path);
    g_assert_cmpstr(text, ==, "# 未命名\n");
    g_free(text);

    /* Failures name the file and leave nothing behind. */
    char *missing_dir = g_build_filename(f->dir, "no-such-folder", "out.md", NULL);
    g_assert_false(wenshu_history_export_markdown(h, id, missing_dir, &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "out.md"));
    g_clear_error(&error);
    char *unknown = g_build_filename(f->dir, "unknown.md", NULL);
    g_assert_false(wenshu_history_export_markdown(h, 9999, unknown, &error));
    g_assert_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_false(g_file_test(unknown, G_FILE_TEST_EXISTS));
    /* Only history.db (and its WAL files) and the export are in the folder. */
    GDir *dir = g_dir_open(f->dir, 0, NULL);
    const char *name;
    while ((name = g_dir_read_name(dir)) != NULL)
        g_assert_true(g_str_has_prefix(name, "history.db") || strcmp(name, "导出.md") == 0);
    g_dir_close(dir);
    g_free(unknown);
    g_free(missing_dir);
    g_free(path);
    wenshu_history_close(h);
}

/* ---- files that are not ours ---- */

/* Opening path must fail with code, the message naming the file, and the
 * file byte-identical afterwards with no WAL or journal made beside it. */
static void assert_refused(const char *path, int code, const char *reason)
{
    char *before = NULL;
    gsize n_before = 0;
    g_assert_true(g_file_get_contents(path, &before, &n_before, NULL));
    GError *error = NULL;
    WenshuHistory *h = wenshu_history_open(path, &error);
    g_assert_null(h);
    g_assert_error(error, WENSHU_HISTORY_ERROR, code);
    g_test_message("refused: %s", error->message);
    g_assert_nonnull(strstr(error->message, path));
    g_assert_nonnull(strstr(error->message, reason));
    g_assert_null(strchr(error->message, '\n'));
    g_clear_error(&error);

    char *after = NULL;
    gsize n_after = 0;
    g_assert_true(g_file_get_contents(path, &after, &n_after, NULL));
    g_assert_cmpmem(after, n_after, before, n_before);
    const char *suffixes[] = {"-wal", "-shm", "-journal"};
    for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
        char *side = g_strconcat(path, suffixes[i], NULL);
        g_assert_false(g_file_test(side, G_FILE_TEST_EXISTS));
        g_free(side);
    }
    g_free(before);
    g_free(after);
}

static void test_bad_files(Fixture *f, gconstpointer data)
{
    (void)data;
    GError *error = NULL;
    /* Plain text. */
    g_assert_true(g_file_set_contents(f->db_path, "这不是数据库 / not a database\n", -1, NULL));
    assert_refused(f->db_path, WENSHU_HISTORY_ERROR_NOT_A_DATABASE, "not an SQLite database");
    /* Shorter than SQLite's header magic. */
    g_assert_true(g_file_set_contents(f->db_path, "SQLite for", -1, NULL));
    assert_refused(f->db_path, WENSHU_HISTORY_ERROR_NOT_A_DATABASE, "not an SQLite database");
    /* The magic, then garbage: SQLite itself refuses it. */
    char garbage[4096]; /* magic + pseudo-random bytes */
    memcpy(garbage, "SQLite format 3", 16);
    guint32 state = 12345;
    for (gsize i = 16; i < sizeof garbage; i++) {
        state = state * 1103515245u + 12345u;
        garbage[i] = (char)(state >> 24);
    }
    g_assert_true(g_file_set_contents(f->db_path, garbage, sizeof garbage, NULL));
    GError *garbage_error = NULL;
    g_assert_null(wenshu_history_open(f->db_path, &garbage_error));
    g_assert_nonnull(garbage_error);
    g_assert_nonnull(strstr(garbage_error->message, f->db_path));
    g_test_message("refused: %s", garbage_error->message);
    g_clear_error(&garbage_error);
    char *after = NULL;
    gsize n_after = 0;
    g_assert_true(g_file_get_contents(f->db_path, &after, &n_after, NULL));
    g_assert_cmpmem(after, n_after, garbage, sizeof garbage);
    g_free(after);
    g_remove(f->db_path);

    /* Another program's SQLite database. */
    sqlite3 *db = raw_open(f->db_path);
    raw_exec(db, "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');");
    sqlite3_close(db);
    assert_refused(f->db_path, WENSHU_HISTORY_ERROR_NOT_A_DATABASE, "another program");
    g_remove(f->db_path);

    /* A history from a newer Wenshu. */
    WenshuHistory *h = open_history(f->db_path);
    wenshu_history_close(h);
    db = raw_open(f->db_path);
    raw_exec(db, "PRAGMA journal_mode = DELETE; PRAGMA user_version = 99");
    sqlite3_close(db);
    assert_refused(f->db_path, WENSHU_HISTORY_ERROR_TOO_NEW, "newer Wenshu");
    g_remove(f->db_path);

    /* A folder where the file should be. */
    g_assert_cmpint(g_mkdir(f->db_path, 0700), ==, 0);
    g_assert_null(wenshu_history_open(f->db_path, &error));
    g_assert_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_NOT_A_DATABASE);
    g_assert_nonnull(strstr(error->message, f->db_path));
    g_clear_error(&error);
    g_rmdir(f->db_path);

    /* A folder that cannot be written. */
    if (geteuid() != 0) {
        char *locked = g_build_filename(f->dir, "locked", NULL);
        g_assert_cmpint(g_mkdir(locked, 0500), ==, 0);
        char *inside = g_build_filename(locked, "history.db", NULL);
        g_assert_null(wenshu_history_open(inside, &error));
        g_assert_error(error, WENSHU_HISTORY_ERROR, WENSHU_HISTORY_ERROR_FAILED);
        g_assert_nonnull(strstr(error->message, inside));
        g_test_message("refused: %s", error->message);
        g_clear_error(&error);
        g_chmod(locked, 0700);
        g_free(inside);
        g_free(locked);
    }

    /* An empty file is a new database. */
    g_assert_true(g_file_set_contents(f->db_path, "", 0, NULL));
    h = open_history(f->db_path);
    new_conversation(h, "chat", "空文件");
    wenshu_history_close(h);
}

/* A version-1 file (written here from the schema as it stood) gains the
 * search index, filled with the messages it already held. */
static void test_migrate_v1(Fixture *f, gconstpointer data)
{
    (void)data;
    sqlite3 *db = raw_open(f->db_path);
    raw_exec(db, "CREATE TABLE conversations (id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
                 " title TEXT NOT NULL, settings TEXT, created INTEGER NOT NULL,"
                 " updated INTEGER NOT NULL, deleted INTEGER);"
                 "CREATE INDEX conversations_by_updated ON conversations (updated);"
                 "CREATE TABLE messages (id INTEGER PRIMARY KEY, conversation INTEGER NOT NULL"
                 " REFERENCES conversations (id) ON DELETE CASCADE, position INTEGER NOT NULL,"
                 " role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),"
                 " content TEXT NOT NULL, complete INTEGER NOT NULL CHECK (complete IN (0, 1)),"
                 " UNIQUE (conversation, position));"
                 "CREATE INDEX messages_incomplete ON messages (conversation) WHERE complete = 0;"
                 "INSERT INTO conversations VALUES (7, 'chat', '旧的对话', NULL,"
                 " 1700000000000000, 1700000001000000, NULL);"
                 "INSERT INTO messages VALUES (1, 7, 1, 'user', '迁移之前写下的消息', 1);"
                 "INSERT INTO messages VALUES (2, 7, 2, 'assistant', '没写完', 0);"
                 "PRAGMA application_id = 1465075797; PRAGMA user_version = 1;");
    sqlite3_close(db);

    WenshuHistory *h = open_history(f->db_path);
    const gint64 seven[] = {7, 0};
    assert_list(h, "迁移之前写下", seven); /* a complete message: only the index finds it */
    assert_list(h, NULL, seven);
    GError *error = NULL;
    g_assert_cmpint(wenshu_history_find_interrupted(h, &error), ==, 7);
    WenshuConversation *c = wenshu_history_get(h, 7, &error);
    g_assert_cmpint(c->created, ==, 1700000000);
    g_assert_cmpint(c->updated, ==, 1700000001);
    wenshu_conversation_free(c);
    wenshu_history_close(h);

    db = raw_open(f->db_path);
    g_assert_cmpint(raw_int(db, "PRAGMA user_version"), ==, 2);
    sqlite3_close(db);
}

/* ---- a kill while streaming ---- */

/* The text a run has streamed after n_tokens tokens: the test's own
 * reference for what the child saved. */
static char *streamed_text(gint64 n_tokens)
{
    GString *text = g_string_new("<think>短暂思考</think>");
    for (gint64 i = 1; i <= n_tokens; i++)
        g_string_append_printf(text, "第%" G_GINT64_FORMAT "句。", i);
    return g_string_free(text, FALSE);
}

/* The child: starts a conversation, streams a reply saving after every
 * token, and reports each save that returned on fd. Never returns. */
static void G_GNUC_NORETURN crash_child(const char *path, int fd)
{
    WenshuHistory *h = wenshu_history_open(path, NULL);
    if (h == NULL)
        _exit(2);
    gint64 id = wenshu_history_new_conversation(h, "chat", "崩溃测试", NULL, NULL);
    gint64 done = wenshu_history_add_message(h, id, "user", "写一首诗", TRUE, NULL);
    gint64 reply = wenshu_history_add_message(h, id, "assistant", "", FALSE, NULL);
    if (id == 0 || done == 0 || reply == 0)
        _exit(3);
    for (gint64 n_tokens = 1;; n_tokens++) {
        char *text = streamed_text(n_tokens);
        gboolean ok = wenshu_history_update_message(h, reply, text, FALSE, NULL);
        g_free(text);
        if (!ok || write(fd, &n_tokens, sizeof n_tokens) != sizeof n_tokens)
            _exit(4);
    }
}

static void test_crash(Fixture *f, gconstpointer data)
{
    (void)data;
    /* An older finished conversation, which must not be picked. */
    WenshuHistory *h = open_history(f->db_path);
    gint64 older = new_conversation(h, "chat", "早先的");
    add_message(h, older, "user", "完成的", TRUE);
    wenshu_history_close(h);

    int fds[2];
    g_assert_cmpint(pipe(fds), ==, 0);
    pid_t child = fork();
    g_assert_cmpint(child, >=, 0);
    if (child == 0) {
        close(fds[0]);
        crash_child(f->db_path, fds[1]);
    }
    close(fds[1]);

    /* Kill it mid-stream, after a few hundred saves. */
    gint64 n_acked = 0;
    while (n_acked < 300) {
        ssize_t n = read(fds[0], &n_acked, sizeof n_acked);
        g_assert_cmpint(n, ==, sizeof n_acked);
    }
    g_assert_cmpint(kill(child, SIGKILL), ==, 0);
    int status = 0;
    g_assert_cmpint(waitpid(child, &status, 0), ==, child);
    g_assert_true(WIFSIGNALED(status));
    g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);
    /* The acks still in the pipe: the last save known to have returned. */
    gint64 ack;
    while (read(fds[0], &ack, sizeof ack) == sizeof ack)
        n_acked = ack;
    close(fds[0]);
    g_test_message("killed after %" G_GINT64_FORMAT " acknowledged saves", n_acked);

    /* The child never closed: its commits are in the WAL, not the file. */
    char *wal = g_strconcat(f->db_path, "-wal", NULL);
    g_assert_true(g_file_test(wal, G_FILE_TEST_EXISTS));
    g_free(wal);

    h = open_history(f->db_path);
    GError *error = NULL;
    gint64 interrupted = wenshu_history_find_interrupted(h, &error);
    g_assert_no_error(error);
    g_assert_cmpint(interrupted, !=, 0);
    g_assert_cmpint(interrupted, !=, older);
    WenshuConversation *c = wenshu_history_get(h, interrupted, &error);
    g_assert_cmpstr(c->title, ==, "崩溃测试");
    wenshu_conversation_free(c);
    GPtrArray *messages = wenshu_history_messages(h, interrupted, &error);
    g_assert_cmpuint(messages->len, ==, 2);
    const WenshuMessage *prompt = g_ptr_array_index(messages, 0);
    const WenshuMessage *reply = g_ptr_array_index(messages, 1);
    g_assert_cmpstr(prompt->content, ==, "写一首诗");
    g_assert_true(prompt->complete);
    g_assert_cmpstr(reply->role, ==, "assistant");
    g_assert_false(reply->complete);
    /* The last acknowledged save, or the one after it (committed, killed
     * before its ack was written). */
    char *last_acked = streamed_text(n_acked);
    char *one_more = streamed_text(n_acked + 1);
    if (strcmp(reply->content, last_acked) != 0)
        g_assert_cmpstr(reply->content, ==, one_more);
    g_free(last_acked);
    g_free(one_more);

    /* The restored run goes on and completes; nothing is interrupted then. */
    update_message(h, reply->id, "完整的诗。", TRUE);
    g_assert_cmpint(wenshu_history_find_interrupted(h, &error), ==, 0);
    g_ptr_array_unref(messages);
    wenshu_history_close(h);
}

/* ---- autosave cost ---- */

static gint64 now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int compare_gint64(gconstpointer a, gconstpointer b)
{
    gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
    return (x > y) - (x < y);
}

/* Times wenshu_history_update_message on a reply growing to about 6 KB
 * (2,000 characters of Chinese), in a history of 200 conversations. Printed,
 * not asserted: timings depend on the machine. */
static void test_autosave_cost(Fixture *f, gconstpointer data)
{
    (void)data;
    enum { N_CONVERSATIONS = 200, N_SAVES = 2000 };
    WenshuHistory *h = open_history(f->db_path);
    for (int i = 0; i < N_CONVERSATIONS; i++) {
        char *title = g_strdup_printf("对话 %d", i);
        gint64 id = new_conversation(h, "chat", title);
        add_message(h, id, "user", title, TRUE);
        add_message(h, id, "assistant", "一段已经完成的回答，用来填充索引。", TRUE);
        g_free(title);
    }
    gint64 id = new_conversation(h, "chat", "计时");
    gint64 reply = add_message(h, id, "assistant", "", FALSE);

    gint64 *ns = g_new(gint64, N_SAVES); /* (N_SAVES) time of each save */
    GString *text = g_string_new(NULL);
    for (int i = 0; i < N_SAVES; i++) {
        g_string_append(text, "文"); /* one token, 3 bytes */
        gint64 start = now_ns();
        update_message(h, reply, text->str, FALSE);
        ns[i] = now_ns() - start;
    }
    gint64 total = 0;
    for (int i = 0; i < N_SAVES; i++)
        total += ns[i];
    qsort(ns, N_SAVES, sizeof ns[0], compare_gint64);
    g_test_message("update_message, %d saves, reply up to %zu bytes: mean %.1f us,"
                   " median %.1f us, p99 %.1f us, max %.1f us",
                   N_SAVES, text->len, total / 1000.0 / N_SAVES, ns[N_SAVES / 2] / 1000.0,
                   ns[N_SAVES * 99 / 100] / 1000.0, ns[N_SAVES - 1] / 1000.0);
    /* 2,000 back-to-back saves of up to 6 KB write about 55 MB of WAL. Once
     * the saves pause (as the GUI's do, 500 ms apart), the checkpointer
     * thread catches up, and the next save restarts the WAL, cut back to its
     * 8 MiB limit. Without a checkpoint in the background the file would stay
     * as large as it grew. */
    char *wal = g_strconcat(f->db_path, "-wal", NULL);
    GStatBuf st;
    g_assert_cmpint(g_stat(wal, &st), ==, 0);
    g_test_message("WAL after %d back-to-back saves: %.1f MiB", N_SAVES, st.st_size / 1048576.0);
    gint64 waited_ms = 0;
    for (; waited_ms < 10000; waited_ms += 50) {
        g_usleep(50 * 1000);
        update_message(h, reply, text->str, FALSE);
        g_assert_cmpint(g_stat(wal, &st), ==, 0);
        if (st.st_size <= 8 * 1024 * 1024 + 64 * 1024)
            break;
    }
    g_test_message("WAL back to %.1f MiB after a %" G_GINT64_FORMAT " ms pause",
                   st.st_size / 1048576.0, waited_ms + 50);
    g_assert_cmpint(st.st_size, <=, 8 * 1024 * 1024 + 64 * 1024);

    GPtrArray *messages = wenshu_history_messages(h, id, NULL);
    const WenshuMessage *saved = g_ptr_array_index(messages, 0);
    g_assert_cmpstr(saved->content, ==, text->str);
    g_assert_cmpuint(strlen(saved->content), ==, 3 * N_SAVES);
    g_ptr_array_unref(messages);
    g_string_free(text, TRUE);
    g_free(ns);
    wenshu_history_close(h);
    /* The last connection closed: checkpointed, the WAL removed. */
    g_assert_false(g_file_test(wal, G_FILE_TEST_EXISTS));
    g_free(wal);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
#define ADD(name, func) g_test_add(name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
    ADD("/history/schema", test_schema);
    g_test_add_func("/history/default-path", test_default_path);
    ADD("/history/messages", test_messages);
    ADD("/history/order", test_order);
    ADD("/history/search", test_search);
    ADD("/history/delete-undo-purge", test_delete_undo_purge);
    ADD("/history/export", test_export);
    ADD("/history/bad-files", test_bad_files);
    ADD("/history/migrate-v1", test_migrate_v1);
    ADD("/history/crash", test_crash);
    ADD("/history/autosave-cost", test_autosave_cost);
#undef ADD
    return g_test_run();
}
