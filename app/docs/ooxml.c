/* ooxml.c: the XML writer and the zip package of the Office Open XML
 * exports (ooxml.h). Parts are written with libxml2's xmlTextWriter into
 * memory and zipped with libzip into a temporary file beside the target. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zip.h>

#include "gw-file.h"
#include "ooxml.h"

/* ---- the XML writer ---- */

bool ooxml_begin(struct ooxml_xml *x)
{
    x->buf = xmlBufferCreate();
    x->w = x->buf ? xmlNewTextWriterMemory(x->buf, 0) : NULL;
    x->ok = x->w != NULL;
    if (x->ok)
        x->ok = xmlTextWriterStartDocument(x->w, "1.0", "UTF-8", "yes") >= 0;
    return x->ok;
}

bool ooxml_finish(struct ooxml_xml *x, char **data, size_t *len)
{
    if (x->ok)
        x->ok = xmlTextWriterEndDocument(x->w) >= 0;
    if (x->w)
        xmlFreeTextWriter(x->w); /* flushes into buf */
    x->w = NULL;
    bool ok = x->ok && x->buf;
    if (ok) {
        size_t n = (size_t)xmlBufferLength(x->buf);
        *data = malloc(n ? n : 1);
        ok = *data != NULL;
        if (ok) {
            memcpy(*data, xmlBufferContent(x->buf), n);
            *len = n;
        }
    }
    if (x->buf)
        xmlBufferFree(x->buf);
    x->buf = NULL;
    return ok;
}

void ooxml_start(struct ooxml_xml *x, const char *name)
{
    if (x->ok)
        x->ok = xmlTextWriterStartElement(x->w, BAD_CAST name) >= 0;
}

void ooxml_end(struct ooxml_xml *x)
{
    if (x->ok)
        x->ok = xmlTextWriterEndElement(x->w) >= 0;
}

/* A copy of s without the control bytes XML 1.0 cannot carry (tab kept);
 * malloc'd, NULL when out of memory. */
static char *xml_clean(const char *s)
{
    char *clean = strdup(s);
    if (!clean)
        return NULL;
    char *o = clean;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p >= 0x20 || *p == '\t')
            *o++ = *p;
    *o = '\0';
    return clean;
}

void ooxml_attr(struct ooxml_xml *x, const char *name, const char *value)
{
    char *clean = x->ok ? xml_clean(value) : NULL;
    if (x->ok)
        x->ok = clean && xmlTextWriterWriteAttribute(x->w, BAD_CAST name, BAD_CAST clean) >= 0;
    free(clean);
}

void ooxml_attr_long(struct ooxml_xml *x, const char *name, long value)
{
    char s[32];
    snprintf(s, sizeof s, "%ld", value);
    ooxml_attr(x, name, s);
}

void ooxml_text(struct ooxml_xml *x, const char *s)
{
    char *clean = x->ok ? xml_clean(s) : NULL;
    if (x->ok)
        x->ok = clean && xmlTextWriterWriteString(x->w, BAD_CAST clean) >= 0;
    free(clean);
}

void ooxml_el(struct ooxml_xml *x, const char *name)
{
    ooxml_start(x, name);
    ooxml_end(x);
}

void ooxml_el_attr(struct ooxml_xml *x, const char *name, const char *attr_name,
                   const char *value)
{
    ooxml_start(x, name);
    ooxml_attr(x, attr_name, value);
    ooxml_end(x);
}

void ooxml_el_text(struct ooxml_xml *x, const char *name, const char *text)
{
    ooxml_start(x, name);
    ooxml_text(x, text);
    ooxml_end(x);
}

/* ---- package parts ---- */

void ooxml_rel(struct ooxml_xml *x, const char *id, const char *type, const char *target)
{
    ooxml_start(x, "Relationship");
    ooxml_attr(x, "Id", id);
    ooxml_attr(x, "Type", type);
    ooxml_attr(x, "Target", target);
    ooxml_end(x);
}

void ooxml_default(struct ooxml_xml *x, const char *ext, const char *content_type)
{
    ooxml_start(x, "Default");
    ooxml_attr(x, "Extension", ext);
    ooxml_attr(x, "ContentType", content_type);
    ooxml_end(x);
}

void ooxml_override(struct ooxml_xml *x, const char *name, const char *content_type)
{
    char part_name[256]; /* "/" + name */
    snprintf(part_name, sizeof part_name, "/%s", name);
    ooxml_start(x, "Override");
    ooxml_attr(x, "PartName", part_name);
    ooxml_attr(x, "ContentType", content_type);
    ooxml_end(x);
}

void ooxml_w3cdtf_now(char *out, size_t size)
{
    const char *epoch = getenv("SOURCE_DATE_EPOCH");
    time_t t = epoch ? (time_t)strtoll(epoch, NULL, 10) : time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void ooxml_core_props(struct ooxml_xml *x, const char *title, const char *creator,
                      const char *language)
{
    char now[32];
    ooxml_w3cdtf_now(now, sizeof now);
    ooxml_start(x, "cp:coreProperties");
    ooxml_attr(x, "xmlns:cp",
               "http://schemas.openxmlformats.org/package/2006/metadata/core-properties");
    ooxml_attr(x, "xmlns:dc", "http://purl.org/dc/elements/1.1/");
    ooxml_attr(x, "xmlns:dcterms", "http://purl.org/dc/terms/");
    ooxml_attr(x, "xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance");
    ooxml_el_text(x, "dc:title", title);
    ooxml_el_text(x, "dc:creator", creator);
    if (language)
        ooxml_el_text(x, "dc:language", language);
    const char *stamps[] = {"dcterms:created", "dcterms:modified"};
    for (int i = 0; i < 2; i++) {
        ooxml_start(x, stamps[i]);
        ooxml_attr(x, "xsi:type", "dcterms:W3CDTF");
        ooxml_text(x, now);
        ooxml_end(x);
    }
    ooxml_end(x);
}

/* ---- the zip ---- */

struct ooxml_zip {
    zip_t *za;
    char *tmp;        /* the temporary file beside path, malloc'd */
    const char *path; /* the target, borrowed from the caller */
    bool ok;          /* false after a part could not be added */
};

bool ooxml_zip_open(const char *path, struct ooxml_zip **out, struct gw_err *err)
{
    struct ooxml_zip *z = calloc(1, sizeof *z);
    char *tmp = z ? gw_file_temp_name(path) : NULL;
    if (!tmp) {
        free(z);
        return gw_fail(err, "%s: out of memory", path);
    }
    int zerr = 0;
    z->za = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!z->za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        gw_fail(err, "%s: cannot create the file: %s", path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        free(tmp);
        free(z);
        return false;
    }
    z->tmp = tmp;
    z->path = path;
    z->ok = true;
    *out = z;
    return true;
}

void ooxml_zip_add(struct ooxml_zip *z, const char *name, char *data, size_t len)
{
    zip_source_t *src = z->ok ? zip_source_buffer(z->za, data, len, 1) : NULL;
    if (!src) {
        free(data);
        z->ok = false;
        return;
    }
    if (zip_file_add(z->za, name, src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE) < 0) {
        zip_source_free(src); /* frees data */
        z->ok = false;
    }
}

bool ooxml_zip_commit(struct ooxml_zip **zp, bool ok, struct gw_err *err)
{
    struct ooxml_zip *z = *zp;
    *zp = NULL;
    if (ok && !z->ok)
        ok = gw_fail(err, "%s: cannot add to the zip: %s", z->path, zip_strerror(z->za));
    if (ok && zip_close(z->za) != 0)
        ok = gw_fail(err, "%s: cannot write the file: %s", z->path, zip_strerror(z->za));
    if (!ok)
        zip_discard(z->za); /* writes nothing */
    ok = gw_file_replace(z->tmp, z->path, ok, err);
    free(z);
    return ok;
}
