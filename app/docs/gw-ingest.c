/* gw-ingest.c: reading a person's input into UTF-8 text for the parser
 * (gw-ingest.h). The kind is told by the content, not the name: a zip
 * (PK\3\4) is a .docx, read with libzip and libxml2's tree, one line per w:p;
 * %PDF is read with poppler-glib, page by page; anything else must be UTF-8
 * text. A name ending in .docx or .pdf whose content is not a zip or a PDF is
 * refused, so that a broken file is never read as text. Every refusal names
 * the file. Text over GW_INGEST_MAX_BYTES is refused, never truncated.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <poppler.h>
#include <zip.h>

#include "gw-ingest.h"

/* The largest file read at all (a .docx with images, a PDF with fonts). */
#define INGEST_MAX_FILE_BYTES (256u << 20)
/* The largest word/document.xml inflated (markup is ~10x the text). */
#define INGEST_MAX_XML_BYTES (64u << 20)

static const char W_NS[] = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
static const char W_NS_STRICT[] = "http://purl.oclc.org/ooxml/wordprocessingml/main";
static const char MC_NS[] = "http://schemas.openxmlformats.org/markup-compatibility/2006";

/* ---- a growing text buffer ------------------------------------------------------ */

struct text_buf {
    char *data; /* [cap] UTF-8, NUL-terminated when len < cap */
    size_t len;
    size_t cap;
    bool too_big; /* more than GW_INGEST_MAX_BYTES were appended */
    bool no_mem;
};

static void buf_append(struct text_buf *b, const char *s, size_t n)
{
    if (b->too_big || b->no_mem)
        return;
    if (b->len + n > GW_INGEST_MAX_BYTES) {
        b->too_big = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (!data) {
            b->no_mem = true;
            return;
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_append_str(struct text_buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

/* Hand the buffer's text to the caller, or refuse it. */
static bool buf_finish(struct text_buf *b, const char *path, char **text, size_t *len,
                       struct gw_err *err)
{
    if (b->no_mem) {
        free(b->data);
        return gw_fail(err, "%s: out of memory", path);
    }
    if (b->too_big) {
        free(b->data);
        return gw_fail(err, "%s: the text is larger than %u MiB (about a 500-page input); refused",
                       path, GW_INGEST_MAX_BYTES >> 20);
    }
    bool blank = true;
    for (size_t i = 0; i < b->len && blank; i++)
        blank = strchr(" \t\r\n\f\v", b->data[i]) != NULL;
    if (blank) {
        free(b->data);
        return gw_fail(err, "%s: the file is empty (no text)", path);
    }
    *text = b->data;
    if (len)
        *len = b->len;
    return true;
}

/* ---- the whole file ------------------------------------------------------------- */

/* Read path into *data[*n] (malloc'd, NUL-terminated), refusing files over max. */
static bool read_file(const char *path, size_t max, char **data, size_t *n, struct gw_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return gw_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return gw_fail(err, "%s: not a regular file", path);
    }
    if ((uintmax_t)st.st_size > max) {
        fclose(f);
        return gw_fail(err, "%s: the file is larger than %zu MiB (about a 500-page input); refused",
                       path, max >> 20);
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1); /* [size + 1] the file and a NUL */
    if (!buf) {
        fclose(f);
        return gw_fail(err, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, size, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed || got != size) {
        free(buf);
        return gw_fail(err, "%s: read error", path);
    }
    buf[size] = '\0';
    *data = buf;
    *n = size;
    return true;
}

static bool has_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path), m = strlen(suffix);
    return n >= m && strcasecmp(path + n - m, suffix) == 0;
}

/* ---- plain text ------------------------------------------------------------------ */

/* Check and normalise text: no NUL, valid UTF-8, no BOM, LF line ends. */
static bool ingest_text(const char *path, const char *data, size_t n, char **text, size_t *len,
                        struct gw_err *err)
{
    if (n > GW_INGEST_MAX_BYTES)
        return gw_fail(err, "%s: the text is larger than %u MiB (about a 500-page input); refused",
                       path, GW_INGEST_MAX_BYTES >> 20);
    if (memchr(data, '\0', n))
        return gw_fail(err, "%s: a binary file (it contains NUL bytes), not text", path);
    const char *end = NULL;
    if (!g_utf8_validate(data, (gssize)n, &end))
        return gw_fail(err, "%s: not UTF-8 text (invalid byte at offset %zu)", path,
                       (size_t)(end - data));
    if (n >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        n -= 3;
    }
    struct text_buf b = {0};
    buf_append(&b, "", 0);
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\r') {
            buf_append(&b, "\n", 1);
            if (i + 1 < n && data[i + 1] == '\n')
                i++;
        } else {
            buf_append(&b, &data[i], 1);
        }
    }
    return buf_finish(&b, path, text, len, err);
}

/* ---- .docx --------------------------------------------------------------------- */

static bool is_w(const xmlNode *node, const char *name)
{
    return node->type == XML_ELEMENT_NODE && node->ns &&
           (strcmp((const char *)node->ns->href, W_NS) == 0 ||
            strcmp((const char *)node->ns->href, W_NS_STRICT) == 0) &&
           strcmp((const char *)node->name, name) == 0;
}

static bool is_mc_fallback(const xmlNode *node)
{
    return node->type == XML_ELEMENT_NODE && node->ns &&
           strcmp((const char *)node->ns->href, MC_NS) == 0 &&
           strcmp((const char *)node->name, "Fallback") == 0;
}

/* Append the text of one paragraph's runs: w:t, w:tab as a tab, w:br and w:cr
 * as a line break. Paragraphs nested inside (text boxes) are left for
 * emit_paragraphs; properties (w:pPr, w:rPr: tab stops), deleted text, field
 * codes and the fallback copy of alternate content are not text. */
static void collect_runs(const xmlNode *node, struct text_buf *b)
{
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || is_w(c, "p") || is_mc_fallback(c))
            continue;
        /* properties hold tab stops (w:tabs/w:tab) and no text */
        if (is_w(c, "pPr") || is_w(c, "rPr"))
            continue;
        if (is_w(c, "t")) {
            xmlChar *s = xmlNodeGetContent(c);
            if (s)
                buf_append_str(b, (const char *)s);
            xmlFree(s);
        } else if (is_w(c, "tab")) {
            buf_append(b, "\t", 1);
        } else if (is_w(c, "br") || is_w(c, "cr")) {
            buf_append(b, "\n", 1);
        } else if (is_w(c, "noBreakHyphen")) {
            buf_append(b, "-", 1);
        } else if (!is_w(c, "delText") && !is_w(c, "instrText")) {
            collect_runs(c, b);
        }
    }
}

/* One line per w:p in document order (table cells and text boxes included). */
static void emit_paragraphs(const xmlNode *node, struct text_buf *b)
{
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || is_mc_fallback(c))
            continue;
        if (is_w(c, "p")) {
            collect_runs(c, b);
            buf_append(b, "\n", 1);
        }
        emit_paragraphs(c, b); /* nested paragraphs (text boxes), after their host */
    }
}

/* Read the inflated word/document.xml of an open archive into *xml[*n]. */
static bool read_document_xml(const char *path, zip_t *za, char **xml, size_t *n,
                              struct gw_err *err)
{
    zip_int64_t index = zip_name_locate(za, "word/document.xml", 0);
    if (index < 0)
        return gw_fail(err, "%s: a zip without word/document.xml, not a Word document", path);
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, (zip_uint64_t)index, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return gw_fail(err, "%s: cannot read word/document.xml: %s", path, zip_strerror(za));
    if (st.size > INGEST_MAX_XML_BYTES)
        return gw_fail(err,
                       "%s: word/document.xml is larger than %u MiB (about a 500-page "
                       "input); refused",
                       path, INGEST_MAX_XML_BYTES >> 20);
    char *buf = malloc((size_t)st.size + 1); /* [size + 1] the XML and a NUL */
    if (!buf)
        return gw_fail(err, "%s: out of memory", path);
    zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)index, 0);
    zip_int64_t got = zf ? zip_fread(zf, buf, st.size) : -1;
    if (zf)
        zip_fclose(zf);
    if (got < 0 || (zip_uint64_t)got != st.size) {
        free(buf);
        return gw_fail(err, "%s: cannot inflate word/document.xml (a damaged zip)", path);
    }
    buf[st.size] = '\0';
    *xml = buf;
    *n = (size_t)st.size;
    return true;
}

static bool ingest_docx(const char *path, char **text, size_t *len, struct gw_err *err)
{
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY, &zerr);
    if (!za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        gw_fail(err, "%s: not a valid zip, so not a .docx (%s)", path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return false;
    }
    char *xml = NULL;
    size_t n = 0;
    bool ok = read_document_xml(path, za, &xml, &n, err);
    zip_discard(za);
    if (!ok)
        return false;
    /* No entity expansion and no network: the file is untrusted. */
    xmlDoc *tree = xmlReadMemory(xml, (int)n, "document.xml", NULL,
                                 XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    free(xml);
    if (!tree)
        return gw_fail(err, "%s: word/document.xml is not well-formed XML", path);
    struct text_buf b = {0};
    emit_paragraphs((const xmlNode *)tree, &b);
    xmlFreeDoc(tree);
    return buf_finish(&b, path, text, len, err);
}

/* ---- .pdf ---------------------------------------------------------------------- */

static bool ingest_pdf(const char *path, char *data, size_t n, char **text, size_t *len,
                       struct gw_err *err)
{
    GError *gerr = NULL;
    GBytes *bytes = g_bytes_new_take(data, n); /* owns data from here */
    PopplerDocument *pdf = poppler_document_new_from_bytes(bytes, NULL, &gerr);
    g_bytes_unref(bytes);
    if (!pdf) {
        gw_fail(err, "%s: cannot read the PDF: %s", path, gerr ? gerr->message : "unknown");
        g_clear_error(&gerr);
        return false;
    }
    struct text_buf b = {0};
    int n_pages = poppler_document_get_n_pages(pdf);
    for (int i = 0; i < n_pages && !b.too_big && !b.no_mem; i++) {
        PopplerPage *page = poppler_document_get_page(pdf, i);
        char *page_text = page ? poppler_page_get_text(page) : NULL;
        if (page_text) {
            buf_append_str(&b, page_text);
            if (b.len && b.data[b.len - 1] != '\n')
                buf_append(&b, "\n", 1);
        }
        g_free(page_text);
        if (page)
            g_object_unref(page);
    }
    g_object_unref(pdf);
    if (!b.too_big && !b.no_mem) {
        bool blank = true;
        for (size_t i = 0; i < b.len && blank; i++)
            blank = strchr(" \t\r\n\f\v", b.data[i]) != NULL;
        if (blank) {
            free(b.data);
            return gw_fail(err, "%s: the PDF has no text layer (a scan?); nothing to read", path);
        }
    }
    return buf_finish(&b, path, text, len, err);
}

/* ---- by content ----------------------------------------------------------------- */

bool gw_ingest_file(const char *path, char **text, size_t *len, struct gw_err *err)
{
    *text = NULL;
    if (len)
        *len = 0;
    char *data = NULL;
    size_t n = 0;
    if (!read_file(path, INGEST_MAX_FILE_BYTES, &data, &n, err))
        return false;
    if (n == 0) {
        free(data);
        return gw_fail(err, "%s: the file is empty", path);
    }
    bool is_zip = n >= 4 && memcmp(data, "PK\x03\x04", 4) == 0;
    bool is_pdf = n >= 5 && memcmp(data, "%PDF-", 5) == 0;
    if (is_pdf)
        return ingest_pdf(path, data, n, text, len, err); /* takes data */
    bool ok;
    if (is_zip)
        ok = ingest_docx(path, text, len, err);
    else if (has_suffix(path, ".docx"))
        ok = gw_fail(err, "%s: not a zip, so not a .docx (Word 2007+) document", path);
    else if (has_suffix(path, ".pdf"))
        ok = gw_fail(err, "%s: not a PDF (no %%PDF- header)", path);
    else
        ok = ingest_text(path, data, n, text, len, err);
    free(data);
    return ok;
}
