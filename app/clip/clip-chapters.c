/* clip-chapters.c: the chapter files of a clip summary: SubRip (.srt),
 * WebVTT (.vtt) and a Markdown summary (see clip.h).
 *
 * Each writer checks the chapters' times, rounds them to milliseconds
 * (pulling an end back to the next start so cues never overlap), builds the
 * whole text in a GString and hands it to g_file_set_contents, which writes
 * a temporary file beside the target and renames it.
 */
#include <math.h>
#include <string.h>

#include "clip.h"

/* One chapter's cue times in whole milliseconds, start_ms < end_ms. */
struct cue_times {
    long long start_ms, end_ms;
};

static long long to_ms(double seconds) { return llround(seconds * 1000.0); }

char *clip_format_time(double seconds, char separator, char *buf, size_t size)
{
    long long ms = to_ms(MAX(seconds, 0.0));
    g_snprintf(buf, size, "%02lld:%02lld:%02lld%c%03lld", ms / 3600000, ms / 60000 % 60,
               ms / 1000 % 60, separator, ms % 1000);
    return buf;
}

/* Check the chapters and compute their cue times: ascending starts, each
 * end after its start, an end past the next start pulled back to it.
 * Returns a g_malloc'd [n] array, or NULL with error set. */
static struct cue_times *chapter_times(const struct clip_chapter *chapters, int n, const char *path,
                                       GError **error)
{
    if (n <= 0 || !chapters) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_ARG, "%s: no chapters to write", path);
        return NULL;
    }
    struct cue_times *times = g_new(struct cue_times, n); /* [n] */
    for (int i = 0; i < n; i++) {
        const struct clip_chapter *c = &chapters[i];
        bool ascending = i == 0 || to_ms(c->start) > times[i - 1].start_ms;
        if (!isfinite(c->start) || !isfinite(c->end) || c->start < 0.0 ||
            to_ms(c->end) <= to_ms(c->start) || !ascending) {
            g_set_error(error, CLIP_ERROR, CLIP_ERROR_ARG,
                        "%s: chapter %d has bad times (%.3f to %.3f s): chapters need "
                        "ascending starts and an end after the start",
                        path, i + 1, c->start, c->end);
            g_free(times);
            return NULL;
        }
        times[i] = (struct cue_times){to_ms(c->start), to_ms(c->end)};
        if (i > 0 && times[i - 1].end_ms > times[i].start_ms)
            times[i - 1].end_ms = times[i].start_ms;
    }
    return times;
}

/* Append text as one line: line breaks and tabs become spaces, runs of
 * spaces collapse, "-->" becomes "->" until none is left (it is a cue timing
 * line in SRT and WebVTT), and with escape_html & < > become entities
 * (WebVTT cue text). */
static void append_one_line(GString *out, const char *text, bool escape_html)
{
    GString *line = g_string_new(NULL);
    bool pending_space = false;
    for (const char *p = text; *p; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t' || *p == ' ') {
            pending_space = line->len > 0;
            continue;
        }
        if (pending_space)
            g_string_append_c(line, ' ');
        pending_space = false;
        g_string_append_c(line, *p);
    }
    while (g_string_replace(line, "-->", "->", 0) > 0)
        ;
    for (size_t i = 0; i < line->len; i++) {
        char ch = line->str[i];
        if (escape_html && ch == '&')
            g_string_append(out, "&amp;");
        else if (escape_html && ch == '<')
            g_string_append(out, "&lt;");
        else if (escape_html && ch == '>')
            g_string_append(out, "&gt;");
        else
            g_string_append_c(out, ch);
    }
    g_string_free(line, TRUE);
}

/* A chapter's title as one line, or "Chapter N" when it has none. */
static void append_title(GString *out, const struct clip_chapter *c, int number, bool escape_html)
{
    size_t before = out->len;
    if (c->title)
        append_one_line(out, c->title, escape_html);
    if (out->len == before)
        g_string_append_printf(out, "Chapter %d", number);
}

static gboolean write_text(const char *path, GString *text, GError **error)
{
    GError *io_error = NULL;
    gboolean ok = g_file_set_contents(path, text->str, (gssize)text->len, &io_error);
    if (!ok) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_IO, "%s: cannot write: %s", path,
                    io_error->message);
        g_error_free(io_error);
    }
    g_string_free(text, TRUE);
    return ok;
}

gboolean clip_write_srt(const char *path, const struct clip_chapter *chapters, int n,
                        GError **error)
{
    struct cue_times *times = chapter_times(chapters, n, path, error);
    if (!times)
        return FALSE;
    GString *text = g_string_new(NULL);
    for (int i = 0; i < n; i++) {
        char start[32], end[32];
        clip_format_time(times[i].start_ms / 1000.0, ',', start, sizeof start);
        clip_format_time(times[i].end_ms / 1000.0, ',', end, sizeof end);
        g_string_append_printf(text, "%d\n%s --> %s\n", i + 1, start, end);
        append_title(text, &chapters[i], i + 1, false);
        g_string_append(text, "\n\n");
    }
    g_free(times);
    return write_text(path, text, error);
}

gboolean clip_write_vtt(const char *path, const struct clip_chapter *chapters, int n,
                        GError **error)
{
    struct cue_times *times = chapter_times(chapters, n, path, error);
    if (!times)
        return FALSE;
    GString *text = g_string_new("WEBVTT\n\n");
    for (int i = 0; i < n; i++) {
        char start[32], end[32];
        clip_format_time(times[i].start_ms / 1000.0, '.', start, sizeof start);
        clip_format_time(times[i].end_ms / 1000.0, '.', end, sizeof end);
        g_string_append_printf(text, "chapter-%d\n%s --> %s\n", i + 1, start, end);
        append_title(text, &chapters[i], i + 1, true);
        g_string_append(text, "\n\n");
    }
    g_free(times);
    return write_text(path, text, error);
}

/* A summary as Markdown paragraphs: blank-line-separated paragraphs kept,
 * line breaks inside one joined, so that no line can start a heading. */
static void append_paragraphs(GString *out, const char *summary)
{
    gchar **paragraphs = g_regex_split_simple("\\n\\s*\\n", summary, 0, 0);
    for (gchar **p = paragraphs; *p; p++) {
        size_t before = out->len;
        append_one_line(out, *p, false);
        if (out->len > before)
            g_string_append(out, "\n\n");
    }
    g_strfreev(paragraphs);
}

gboolean clip_write_markdown(const char *path, const char *clip_title, const char *summary,
                             const struct clip_chapter *chapters, int n, GError **error)
{
    struct cue_times *times = chapter_times(chapters, n, path, error);
    if (!times)
        return FALSE;
    GString *text = g_string_new("# ");
    size_t before = text->len;
    if (clip_title)
        append_one_line(text, clip_title, false);
    if (text->len == before)
        g_string_append(text, "Clip summary");
    g_string_append(text, "\n\n");
    if (summary)
        append_paragraphs(text, summary);
    for (int i = 0; i < n; i++) {
        long long s = times[i].start_ms / 1000;
        g_string_append_printf(text, "## [%02lld:%02lld:%02lld] ", s / 3600, s / 60 % 60, s % 60);
        append_title(text, &chapters[i], i + 1, false);
        g_string_append(text, "\n\n");
        if (chapters[i].summary)
            append_paragraphs(text, chapters[i].summary);
    }
    g_free(times);
    return write_text(path, text, error);
}
