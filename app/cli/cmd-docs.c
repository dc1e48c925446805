/* cmd-docs.c: the 公文 commands that need no model.
 *
 *   wenshu-cli check DRAFT [--json]
 *       the format check: one line per breach (第N行 [错误|提示] rule: message；
 *       建议：fix), or JSON; exit 1 when an error was found, 0 when none, 2 on
 *       bad input.
 *   wenshu-cli format DRAFT [-o OUT.docx] [--pdf OUT.pdf] [--png PREFIX] [--dpi N]
 *       [--kind K] [--format ordinary|letter|order|minutes] [--sealed]
 *       lay the draft out to GB/T 9704-2012 and export it; font substitutions
 *       go to stderr, "pages N" to stdout.
 *
 * DRAFT is a .md/.txt draft, a .docx or a .pdf (gw-ingest.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gongwen.h"
#include "gw-check.h"
#include "gw-export.h"
#include "gw-ingest.h"

/* Read and parse path; NULL after printing why. *source keeps the text
 * (malloc'd) for the checks that read it. */
static struct gw_doc *load_draft(const char *path, char **source, size_t *len)
{
    struct gw_err err = {{0}};
    struct gw_doc *doc = NULL;
    if (!gw_ingest_file(path, source, len, &err) ||
        !gw_parse_text(*source, *len, path, &doc, &err)) {
        free(*source);
        *source = NULL;
        cli_fail("%s", err.msg);
        return NULL;
    }
    return doc;
}

/* s as a JSON string literal on stdout. */
static void json_string(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_issues_json(const char *path, const struct gw_doc *doc,
                              const struct gw_issue *issues, int n)
{
    printf("{\"file\": ");
    json_string(path);
    printf(", \"kind\": ");
    json_string(gw_kind_name(doc->kind));
    printf(", \"issues\": [");
    for (int i = 0; i < n; i++) {
        const struct gw_issue *is = &issues[i];
        printf("%s\n  {\"line\": %d, \"severity\": \"%s\", \"rule\": ", i ? "," : "", is->line,
               is->severity == GW_SEVERITY_ERROR ? "error" : "warning");
        json_string(is->rule);
        printf(", \"message\": ");
        json_string(is->message);
        printf(", \"fix\": ");
        json_string(is->fix);
        printf("}");
    }
    printf("]}\n");
}

int cmd_check(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (argv[i][0] == '-' || path)
            return cli_fail("check: unexpected argument %s", argv[i]) + 1;
        else
            path = argv[i];
    }
    if (!path)
        return cli_fail("check: no draft given (check DRAFT.md|.docx|.txt)") + 1;
    char *source = NULL;
    size_t len = 0;
    struct gw_doc *doc = load_draft(path, &source, &len);
    if (!doc)
        return 2;
    struct gw_issue *issues = NULL;
    int n = 0, n_errors = 0;
    struct gw_err err = {{0}};
    int status = 0;
    if (!gw_check(doc, source, len, &issues, &n, &err)) {
        status = cli_fail("%s: %s", path, err.msg) + 1;
    } else {
        for (int i = 0; i < n; i++)
            n_errors += issues[i].severity == GW_SEVERITY_ERROR;
        if (json) {
            print_issues_json(path, doc, issues, n);
        } else {
            for (int i = 0; i < n; i++)
                printf("第%d行 [%s] %s: %s；建议：%s\n", issues[i].line,
                       gw_severity_name(issues[i].severity), issues[i].rule, issues[i].message,
                       issues[i].fix);
            printf("%s: %d 处错误，%d 处提示\n", path, n_errors, n - n_errors);
        }
        status = n_errors > 0;
    }
    free(issues);
    free(source);
    gw_doc_free(&doc);
    return status;
}

struct format_options {
    const char *path, *docx, *pdf, *png;
    double dpi;
    const char *kind, *format;
    bool sealed;
};

static bool parse_format_options(int argc, char **argv, struct format_options *o)
{
    *o = (struct format_options){.dpi = 96};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool missing = false;
        if (cli_opt(argc, argv, &i, "-o", "--output", &o->docx, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--pdf", &o->pdf, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--png", &o->png, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--kind", &o->kind, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--format", &o->format, &missing)) {
        } else if (cli_opt(argc, argv, &i, NULL, "--dpi", &v, &missing)) {
            float dpi = 0;
            if (!missing && (!cli_parse_float(v, &dpi) || dpi < 10 || dpi > 1200)) {
                cli_fail("format: bad value for --dpi: %s", v);
                return false;
            }
            o->dpi = dpi;
        } else if (strcmp(argv[i], "--sealed") == 0) {
            o->sealed = true;
        } else if (argv[i][0] == '-' || o->path) {
            cli_fail("format: unexpected argument %s", argv[i]);
            return false;
        } else {
            o->path = argv[i];
        }
        if (missing)
            return false;
    }
    if (!o->path) {
        cli_fail("format: no draft given (format DRAFT [-o OUT.docx] [--pdf OUT.pdf])");
        return false;
    }
    if (!o->docx && !o->pdf && !o->png) {
        cli_fail("format: no output given (-o OUT.docx, --pdf OUT.pdf or --png PREFIX)");
        return false;
    }
    return true;
}

/* Apply --kind, --format and --sealed to the parsed document. */
static bool apply_overrides(struct gw_doc *doc, const struct format_options *o)
{
    if (o->kind) {
        if (!gw_kind_parse(o->kind, &doc->kind))
            return cli_fail("format: unknown kind %s (通知, 请示, 报告, 函, 纪要, ...)", o->kind),
                   false;
        if (!doc->format_overridden)
            doc->format = gw_kind_format(doc->kind);
    }
    if (o->format) {
        if (!gw_format_parse(o->format, &doc->format))
            return cli_fail("format: unknown format %s (ordinary, letter, order, minutes)",
                            o->format),
                   false;
        doc->format_overridden = true;
    }
    doc->sealed = doc->sealed || o->sealed;
    return true;
}

int cli_export_gongwen(const struct gw_doc *doc, const char *docx, const char *pdf,
                       const char *png, double dpi)
{
    struct gw_fonts fonts;
    struct gw_err err = {{0}};
    int n_pages = 0;
    if (!gw_fonts_resolve(&fonts, &err))
        return cli_fail("%s", err.msg);
    char notes[2048];
    gw_fonts_describe(&fonts, notes, sizeof notes);
    if (notes[0])
        fprintf(stderr, "wenshu-cli: 字体替换：\n%s", notes);
    struct gw_export_opts eo = {.fonts = &fonts};
    if ((pdf && !gw_export_pdf(doc, &eo, pdf, &n_pages, &err)) ||
        (png && !gw_export_png(doc, &eo, png, dpi, &n_pages, &err)) ||
        (docx && !gw_export_docx(doc, &eo, docx, &err)))
        return cli_fail("%s", err.msg);
    if (n_pages > 0)
        printf("pages %d\n", n_pages);
    return 0;
}

int cmd_format(int argc, char **argv)
{
    struct format_options o;
    if (!parse_format_options(argc, argv, &o))
        return 2;
    char *source = NULL;
    size_t len = 0;
    struct gw_doc *doc = load_draft(o.path, &source, &len);
    free(source);
    if (!doc)
        return 2;
    int status = apply_overrides(doc, &o) ? cli_export_gongwen(doc, o.docx, o.pdf, o.png, o.dpi)
                                          : 2;
    gw_doc_free(&doc);
    return status;
}
