/* ooxml.h: what the Office Open XML exports share (gw-docx.c, deck-pptx.c):
 * an XML writer into memory that remembers failure, and a zip package
 * written into a temporary file beside its target and renamed over the
 * target only when complete. Internal to libwenshu-docs and its users.
 *
 * Thread-safety: a writer or a zip is used by one thread; different ones may
 * be used at once. */
#ifndef WENSHU_OOXML_H
#define WENSHU_OOXML_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/xmlwriter.h>

#include "gongwen.h"

/* Namespaces and type prefixes both formats use. */
#define OOXML_NS_R "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
#define OOXML_NS_PKG_REL "http://schemas.openxmlformats.org/package/2006/relationships"
#define OOXML_NS_CT "http://schemas.openxmlformats.org/package/2006/content-types"
#define OOXML_NS_EXTENDED_PROPS \
    "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
#define OOXML_REL_BASE OOXML_NS_R "/" /* + "styles", "slide" ...: a relationship type */

/* ---- an XML writer that remembers failure ---- */

struct ooxml_xml {
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
    bool ok; /* false after any writer call failed; later calls do nothing */
};

/* Start a document (XML 1.0, UTF-8, standalone). Returns x->ok. */
bool ooxml_begin(struct ooxml_xml *x);

/* Close the writer; on success *data receives its text (*len bytes, not
 * NUL-terminated, malloc'd: the caller owns it). Frees the writer either way. */
bool ooxml_finish(struct ooxml_xml *x, char **data, size_t *len);

void ooxml_start(struct ooxml_xml *x, const char *name);
void ooxml_end(struct ooxml_xml *x);

/* An attribute or text; the control bytes XML 1.0 cannot carry are dropped
 * (tab kept). */
void ooxml_attr(struct ooxml_xml *x, const char *name, const char *value);
void ooxml_attr_long(struct ooxml_xml *x, const char *name, long value);
void ooxml_text(struct ooxml_xml *x, const char *s);

/* <name/> */
void ooxml_el(struct ooxml_xml *x, const char *name);
/* <name attr_name="value"/> */
void ooxml_el_attr(struct ooxml_xml *x, const char *name, const char *attr_name,
                   const char *value);

/* <name>text</name> */
void ooxml_el_text(struct ooxml_xml *x, const char *name, const char *text);

/* ---- package parts ---- */

/* <Relationship Id="id" Type="type" Target="target"/> in a .rels part. */
void ooxml_rel(struct ooxml_xml *x, const char *id, const char *type, const char *target);

/* <Default Extension="ext" .../> and <Override PartName="/name" .../> in
 * [Content_Types].xml; name is the part's path in the zip. */
void ooxml_default(struct ooxml_xml *x, const char *ext, const char *content_type);
void ooxml_override(struct ooxml_xml *x, const char *name, const char *content_type);

/* The time now as W3CDTF ("2026-01-31T08:00:00Z", 21 bytes with the NUL);
 * SOURCE_DATE_EPOCH, when set, stands for now (reproducible files). */
void ooxml_w3cdtf_now(char *out, size_t size);

/* The cp:coreProperties element of docProps/core.xml: title, creator,
 * language (NULL: none), created and modified now. */
void ooxml_core_props(struct ooxml_xml *x, const char *title, const char *creator,
                      const char *language);

/* ---- the zip ---- */

struct ooxml_zip;

/* Open a zip for path, written into a temporary file beside it.
 * Ownership: on success *out owns the open zip; end it with ooxml_zip_commit().
 * Errors: false, with err (may be NULL) naming path and the problem. */
bool ooxml_zip_open(const char *path, struct ooxml_zip **out, struct gw_err *err);

/* Add data[len] as the part name; the zip takes data (freed on failure too).
 * A failure is remembered and reported by ooxml_zip_commit(). */
void ooxml_zip_add(struct ooxml_zip *z, const char *name, char *data, size_t len);

/* When ok and every part was added, write the zip and rename it over its
 * target; else remove the temporary file. Frees *z and sets it to NULL.
 * Errors: false, with err (may be NULL) naming the target and the problem. */
bool ooxml_zip_commit(struct ooxml_zip **z, bool ok, struct gw_err *err);

#endif
