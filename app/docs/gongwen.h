/* gongwen.h: the document model of an official document (公文), shared by
 * the parser, the format check, the layout and every exporter.
 *
 * The numbers of the layout are GB/T 9704-2012's (shared/specs/
 * gongwen-gbt9704.md); the fifteen kinds come from 《党政机关公文处理工作条例》
 * Art. 8. The model holds text as the author wrote it (UTF-8), after the
 * parser's punctuation normalisation; each field remembers the source line
 * it came from, so that the check can point at it.
 *
 * Ownership: a gw_doc owns every string and array in it; free it with
 * gw_doc_free(). Thread-safety: documents are plain data; functions that
 * take a const document are safe from any thread.
 */
#ifndef WENSHU_GONGWEN_H
#define WENSHU_GONGWEN_H

#include <stdbool.h>
#include <stddef.h>

/* ---- errors ------------------------------------------------------------------ */

struct gw_err {
    char msg[512]; /* one line, naming the file and the problem */
};

/* Format a reason into err (may be NULL) and return false. */
bool gw_fail(struct gw_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- kinds and formats ---------------------------------------------------------- */

enum gw_kind {
    GW_KIND_JUEYI,    /* 决议 */
    GW_KIND_JUEDING,  /* 决定 */
    GW_KIND_MINGLING, /* 命令（令） */
    GW_KIND_GONGBAO,  /* 公报 */
    GW_KIND_GONGGAO,  /* 公告 */
    GW_KIND_TONGGAO,  /* 通告 */
    GW_KIND_YIJIAN,   /* 意见 */
    GW_KIND_TONGZHI,  /* 通知 */
    GW_KIND_TONGBAO,  /* 通报 */
    GW_KIND_BAOGAO,   /* 报告 */
    GW_KIND_QINGSHI,  /* 请示 */
    GW_KIND_PIFU,     /* 批复 */
    GW_KIND_YIAN,     /* 议案 */
    GW_KIND_HAN,      /* 函 */
    GW_KIND_JIYAO,    /* 纪要 */
    GW_KIND_COUNT,
    GW_KIND_UNKNOWN = GW_KIND_COUNT,
};

/* The layout a document takes (GB/T 9704-2012 chapter 10: special formats). */
enum gw_format {
    GW_FORMAT_ORDINARY, /* 文件格式 */
    GW_FORMAT_LETTER,   /* 信函格式 */
    GW_FORMAT_ORDER,    /* 命令（令）格式 */
    GW_FORMAT_MINUTES,  /* 纪要格式 */
};

/* "通知", "命令" (for 命令（令）), ...; "" for GW_KIND_UNKNOWN. */
const char *gw_kind_name(enum gw_kind kind);
/* The kind named by text ("通知", "命令", "令", "命令（令）"...); false when none. */
bool gw_kind_parse(const char *text, enum gw_kind *kind);
/* The kind a title names by its last word ("关于…的通知" -> 通知), or UNKNOWN. */
enum gw_kind gw_kind_from_title(const char *title);
/* The format that follows from the kind: 命令 -> ORDER, 纪要 -> MINUTES, 函 ->
 * LETTER, everything else ORDINARY. */
enum gw_format gw_kind_format(enum gw_kind kind);
/* "ordinary", "letter", "order", "minutes"; and back (false when unknown). */
const char *gw_format_name(enum gw_format format);
bool gw_format_parse(const char *text, enum gw_format *format);
/* Upward documents (上行文: 请示, 报告) carry 签发人 in the header. */
bool gw_kind_is_upward(enum gw_kind kind);
/* The kind's closing formula ("妥否，请批示。" for 请示, "特此报告。", "此复。",
 * "此函。"), or NULL when the kind has none. */
const char *gw_kind_closing(enum gw_kind kind);

/* ---- the document ---------------------------------------------------------------- */

/* A piece of text and the 1-based source line it starts on (0: not from a source). */
struct gw_text {
    char *s;  /* owned UTF-8, or NULL when the document has no such element */
    int line;
};

enum gw_block_type {
    GW_BLOCK_PARA,     /* a body paragraph */
    GW_BLOCK_HEADING1, /* "一、…"  黑体 */
    GW_BLOCK_HEADING2, /* "（一）…" 楷体 */
    GW_BLOCK_HEADING3, /* "1.…"    仿宋 */
    GW_BLOCK_HEADING4, /* "（1）…"  仿宋 */
};

/* One paragraph of the body or of an attachment. A heading keeps its number
 * in text ("一、总体要求"); a heading followed by text on the same line
 * ("（一）加强领导。各单位要…") is one block with the whole line. */
struct gw_block {
    enum gw_block_type type;
    struct gw_text text;
};

/* One attachment: its name in the 附件说明 and, when the draft has it, its
 * own pages (a title and blocks after a "附件N" line). */
struct gw_attachment {
    struct gw_text name;      /* "XX安排表" (no number, no final punctuation) */
    struct gw_text title;     /* the title on the attachment page, or NULL */
    struct gw_block *blocks;  /* [n_blocks] the attachment's text, owned */
    int n_blocks;
};

struct gw_doc {
    enum gw_kind kind;
    enum gw_format format;     /* gw_kind_format(kind) unless overridden */
    bool format_overridden;    /* the draft or the user chose the format */

    /* 版头 */
    struct gw_text copy_number;    /* 份号 "000123" */
    struct gw_text secrecy;        /* 密级和保密期限 "机密★1年" */
    struct gw_text urgency;        /* 紧急程度 "特急" */
    struct gw_text *issuers;       /* [n_issuers] 发文机关, the lead one first */
    int n_issuers;
    struct gw_text issuer_mark;    /* 发文机关标志 as drawn ("XX市人民政府文件"); NULL:
                                    * the issuers' names + "文件" */
    struct gw_text doc_number;     /* 发文字号 "X政发〔2025〕3号" (令号 for 命令) */
    struct gw_text *signers;       /* [n_signers] 签发人 */
    int n_signers;

    /* 主体 */
    struct gw_text title;          /* 标题 */
    struct gw_text recipients;     /* 主送机关 as written, without the final colon */
    struct gw_block *body;         /* [n_body] 正文 */
    int n_body;
    struct gw_attachment *attachments; /* [n_attachments] 附件说明 order */
    int n_attachments;
    struct gw_text signature;      /* 落款: the issuing agency's name(s) */
    struct gw_text date;           /* 成文日期 as written, "2025年3月18日" */
    bool sealed;                   /* laid out for a seal (印章) */
    struct gw_text note;           /* 附注, without its parentheses */

    /* 纪要 */
    struct gw_text attendees;      /* 出席 */
    struct gw_text absentees;      /* 请假 */
    struct gw_text observers;      /* 列席 */

    /* 版记 */
    struct gw_text cc;             /* 抄送 (without "抄送：" and the final 。) */
    struct gw_text printer;        /* 印发机关 */
    struct gw_text print_date;     /* 印发日期 "2025年3月18日" (without 印发) */
};

/* An empty document (kind UNKNOWN, format ORDINARY); NULL when out of memory. */
struct gw_doc *gw_doc_new(void);
/* Free a document and set *doc to NULL. Accepts NULL. */
void gw_doc_free(struct gw_doc **doc);

/* Set t to a copy of the n bytes at s (replacing what it held), at line. */
bool gw_text_set(struct gw_text *t, const char *s, size_t n, int line);
/* Append a block / an issuer / a signer / an attachment (copies the text). */
bool gw_doc_add_block(struct gw_block **blocks, int *n, enum gw_block_type type, const char *s,
                      int line);
bool gw_doc_add_text(struct gw_text **list, int *n, const char *s, int line);
struct gw_attachment *gw_doc_add_attachment(struct gw_doc *doc, const char *name, int line);

/* ---- parsing (gw-parse.c) ------------------------------------------------------------ */

/* Read a draft in light Markdown conventions, or the plain text of a
 * document a person wrote (see gw-parse.c for the accepted shapes):
 * labelled header lines ("发文机关：", "发文字号：", "签发人：", "主送：",
 * "抄送：", "附注：", ...), "# 标题", heading numbers by their shape, 附件说明,
 * the signature and the date at the end. Half-width punctuation in Chinese
 * text becomes full-width. source names the input in messages.
 * Ownership: *out is the caller's. Errors: false with err naming source
 * (binary or non-UTF-8 input, an empty draft, no title). */
bool gw_parse_text(const char *text, size_t len, const char *source, struct gw_doc **out,
                   struct gw_err *err);

/* Half-width punctuation (, . : ; ? ! ( ) and quotes) next to Chinese text
 * becomes full-width (，。：；？！（）“”); ASCII runs (numbers, Latin words,
 * "1.", URLs) keep theirs. Returns a malloc'd string, NULL when out of memory. */
char *gw_fullwidth_punct(const char *text);

#endif /* WENSHU_GONGWEN_H */
