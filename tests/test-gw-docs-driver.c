/* test-gw-docs-driver.c: a small driver for the docs tests written in Python
 * (test-gw-docx.py, test-gw-ingest.py). It builds a gw_doc by hand from a
 * spec file, so that the DOCX export is tested without the parser, and it
 * runs gw_ingest_file on one input.
 *
 *   test-gw-docs-driver ingest FILE      the text on stdout; exit 2 and the
 *                                        reason on stderr when refused
 *   test-gw-docs-driver docx SPEC OUT    write OUT.docx from SPEC; exit 2 and
 *                                        the reason on stderr on failure
 *
 * SPEC has one "key<TAB>value" line per element, in any order; "\n" and "\t"
 * in a value stand for a newline and a tab. Keys: kind, format, copy_number,
 * secrecy, urgency, issuer (repeats), issuer_mark, doc_number, signer
 * (repeats), title, recipients, para, h1, h2, h3, h4 (body blocks, in order),
 * attachment (a name), att_title, att_para (the last attachment's), signature,
 * date, sealed, note, attendees, absentees, observers, cc, printer,
 * print_date.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gongwen.h"
#include "gw-export.h"
#include "gw-ingest.h"

static int run_ingest(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    struct gw_err err = {{0}};
    if (!gw_ingest_file(path, &text, &len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    if (strlen(text) != len) {
        fprintf(stderr, "%s: length %zu does not match the text's %zu\n", path, len, strlen(text));
        free(text);
        return 1;
    }
    fwrite(text, 1, len, stdout);
    free(text);
    return 0;
}

/* "\n" and "\t" escapes to the characters, in place. */
static void unescape(char *s)
{
    char *out = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '\\' && (p[1] == 'n' || p[1] == 't')) {
            *out++ = p[1] == 'n' ? '\n' : '\t';
            p++;
        } else {
            *out++ = *p;
        }
    }
    *out = '\0';
}

static bool set_field(struct gw_doc *doc, const char *key, const char *value, int line)
{
    struct {
        const char *key;
        struct gw_text *field;
    } fields[] = {
        {"copy_number", &doc->copy_number},
        {"secrecy", &doc->secrecy},
        {"urgency", &doc->urgency},
        {"issuer_mark", &doc->issuer_mark},
        {"doc_number", &doc->doc_number},
        {"title", &doc->title},
        {"recipients", &doc->recipients},
        {"signature", &doc->signature},
        {"date", &doc->date},
        {"note", &doc->note},
        {"attendees", &doc->attendees},
        {"absentees", &doc->absentees},
        {"observers", &doc->observers},
        {"cc", &doc->cc},
        {"printer", &doc->printer},
        {"print_date", &doc->print_date},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(key, fields[i].key) == 0)
            return gw_text_set(fields[i].field, value, strlen(value), line);
    static const char *const blocks[] = {"para", "h1", "h2", "h3", "h4"};
    for (int b = 0; b < 5; b++)
        if (strcmp(key, blocks[b]) == 0)
            return gw_doc_add_block(&doc->body, &doc->n_body, (enum gw_block_type)b, value, line);
    struct gw_attachment *last =
        doc->n_attachments ? &doc->attachments[doc->n_attachments - 1] : NULL;
    if (strcmp(key, "kind") == 0) {
        if (!gw_kind_parse(value, &doc->kind))
            return false;
        if (!doc->format_overridden)
            doc->format = gw_kind_format(doc->kind);
        return true;
    }
    if (strcmp(key, "format") == 0)
        return doc->format_overridden = gw_format_parse(value, &doc->format);
    if (strcmp(key, "sealed") == 0)
        return doc->sealed = true;
    if (strcmp(key, "issuer") == 0)
        return gw_doc_add_text(&doc->issuers, &doc->n_issuers, value, line);
    if (strcmp(key, "signer") == 0)
        return gw_doc_add_text(&doc->signers, &doc->n_signers, value, line);
    if (strcmp(key, "attachment") == 0)
        return gw_doc_add_attachment(doc, value, line) != NULL;
    if (strcmp(key, "att_title") == 0 && last)
        return gw_text_set(&last->title, value, strlen(value), line);
    if (strcmp(key, "att_para") == 0 && last)
        return gw_doc_add_block(&last->blocks, &last->n_blocks, GW_BLOCK_PARA, value, line);
    return false;
}

static struct gw_doc *read_spec(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return NULL;
    }
    struct gw_doc *doc = gw_doc_new();
    char line[8192];
    int n = 0;
    while (doc && fgets(line, sizeof line, f)) {
        n++;
        line[strcspn(line, "\r\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (!line[0])
            continue;
        if (!tab) {
            fprintf(stderr, "%s:%d: no tab\n", path, n);
            gw_doc_free(&doc);
            break;
        }
        *tab = '\0';
        unescape(tab + 1);
        if (!set_field(doc, line, tab + 1, n)) {
            fprintf(stderr, "%s:%d: bad key or value '%s'\n", path, n, line);
            gw_doc_free(&doc);
        }
    }
    fclose(f);
    return doc;
}

static int run_docx(const char *spec, const char *out)
{
    struct gw_doc *doc = read_spec(spec);
    if (!doc)
        return 1;
    struct gw_err err = {{0}};
    bool ok = gw_export_docx(doc, NULL, out, &err);
    gw_doc_free(&doc);
    if (!ok) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "ingest") == 0)
        return run_ingest(argv[2]);
    if (argc == 4 && strcmp(argv[1], "docx") == 0)
        return run_docx(argv[2], argv[3]);
    fprintf(stderr, "usage: %s ingest FILE | docx SPEC OUT\n", argv[0]);
    return 1;
}
