/* json-shape.c: the byte automaton of json-shape.h.
 *
 * The text of a shape is a sequence of literals and values:
 *   open[f]  "{" or "," then "\"name\":" then "\"" + prefix (a string field)
 *            or "[" (an array field)
 *   item[f]  "\"" + prefix, the start of an array's value
 *   close    "}"
 * Between them the automaton is in a value (PH_STRING), after an array's
 * "[" (PH_ARRAY_OPEN: a value or "]"), after an array's value (PH_ARRAY_NEXT:
 * "," or "]"), or done.
 */
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "json-shape.h"

enum json_phase {
    PH_LITERAL,
    PH_STRING,
    PH_ARRAY_OPEN,
    PH_ARRAY_NEXT,
    PH_DONE,
};

enum { MAX_CHOICES = 32, DEFAULT_MAX_CHARS = 64, DEFAULT_MAX_ITEMS = 8 };

struct json_field_rt {
    struct eng_json_field def;  /* the caller's field, with defaults filled in */
    int prefix_chars;           /* code points of the prefix */
    size_t choice_len[MAX_CHOICES];
};

struct json_matcher {
    struct json_field_rt *fields; /* [n_fields] */
    int n_fields;
    char **lits;                  /* [2 * n_fields + 1]: open[f] at 2f, item[f] at 2f+1, close last */
    size_t *lit_len;              /* [2 * n_fields + 1] */
};

/* ---- building -------------------------------------------------------------------- */

static bool plain_string(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static int count_code_points(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* A malloc'd concatenation of up to four strings (NULL entries skipped). */
static char *concat4(const char *a, const char *b, const char *c, const char *d)
{
    const char *parts[4] = {a, b, c, d};
    size_t n = 1;
    for (int i = 0; i < 4; i++)
        n += parts[i] ? strlen(parts[i]) : 0;
    char *out = malloc(n);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (int i = 0; i < 4; i++) {
        if (parts[i])
            strcat(out, parts[i]);
    }
    return out;
}

static enum eng_status check_field(const struct eng_json_field *f, int index, struct eng_err *err)
{
    if (!f->name || !f->name[0] || !plain_string(f->name))
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "JSON shape: field %d has an empty name or one with '\"', '\\\\' "
                           "or a control character", index);
    if (f->kind != ENG_JSON_STRING && f->kind != ENG_JSON_STRING_ARRAY)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "JSON shape: field %s has an unknown kind",
                           f->name);
    if (f->n_choices < 0 || f->n_choices > MAX_CHOICES || (f->n_choices && !f->choices))
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "JSON shape: field %s has %d choices (at most %d)", f->name,
                           f->n_choices, MAX_CHOICES);
    for (int i = 0; i < f->n_choices; i++) {
        if (!f->choices[i] || !plain_string(f->choices[i]))
            return eng_set_err(err, ENG_STATUS_ERR_ARG,
                               "JSON shape: field %s: choice %d is NULL or has '\"', '\\\\' or "
                               "a control character", f->name, i);
    }
    if (f->prefix && (!plain_string(f->prefix) || f->n_choices))
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "JSON shape: field %s: a prefix must be plain text, and not with "
                           "choices", f->name);
    int max_chars = f->max_chars ? f->max_chars : DEFAULT_MAX_CHARS;
    int prefix_chars = f->prefix ? count_code_points(f->prefix) : 0;
    if (f->min_chars < 0 || max_chars < f->min_chars || max_chars < prefix_chars)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "JSON shape: field %s: characters %d..%d do not fit (prefix %d)",
                           f->name, f->min_chars, max_chars, prefix_chars);
    int max_items = f->max_items ? f->max_items : DEFAULT_MAX_ITEMS;
    if (f->kind == ENG_JSON_STRING_ARRAY && (f->min_items < 0 || max_items < f->min_items))
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "JSON shape: field %s: items %d..%d are out of order", f->name,
                           f->min_items, max_items);
    return ENG_STATUS_OK;
}

static bool build_literals(struct json_matcher *m)
{
    int n_lits = 2 * m->n_fields + 1;
    m->lits = calloc((size_t)n_lits, sizeof(*m->lits));
    m->lit_len = calloc((size_t)n_lits, sizeof(*m->lit_len));
    if (!m->lits || !m->lit_len)
        return false;
    for (int f = 0; f < m->n_fields; f++) {
        const struct eng_json_field *d = &m->fields[f].def;
        const char *prefix = d->prefix ? d->prefix : "";
        bool array = d->kind == ENG_JSON_STRING_ARRAY;
        char *item = concat4("\"", prefix, NULL, NULL);
        char *open = concat4(f ? ",\"" : "{\"", d->name, array ? "\":[" : "\":\"",
                             array ? NULL : prefix);
        m->lits[2 * f] = open;
        m->lits[2 * f + 1] = item;
        if (!open || !item)
            return false;
    }
    m->lits[n_lits - 1] = concat4("}", NULL, NULL, NULL);
    if (!m->lits[n_lits - 1])
        return false;
    for (int i = 0; i < n_lits; i++)
        m->lit_len[i] = strlen(m->lits[i]);
    return true;
}

enum eng_status json_matcher_new(const struct eng_json_shape *shape, struct json_matcher **out,
                                 struct eng_err *err)
{
    *out = NULL;
    if (!shape || shape->n_fields <= 0 || !shape->fields)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "JSON shape: no fields");
    for (int f = 0; f < shape->n_fields; f++) {
        enum eng_status st = check_field(&shape->fields[f], f, err);
        if (st)
            return st;
    }
    struct json_matcher *m = calloc(1, sizeof(*m));
    if (!m || !(m->fields = calloc((size_t)shape->n_fields, sizeof(*m->fields)))) {
        free(m);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    }
    m->n_fields = shape->n_fields;
    for (int f = 0; f < m->n_fields; f++) {
        struct json_field_rt *rt = &m->fields[f];
        rt->def = shape->fields[f];
        if (!rt->def.max_chars)
            rt->def.max_chars = DEFAULT_MAX_CHARS;
        if (!rt->def.max_items)
            rt->def.max_items = DEFAULT_MAX_ITEMS;
        rt->prefix_chars = rt->def.prefix ? count_code_points(rt->def.prefix) : 0;
        for (int i = 0; i < rt->def.n_choices; i++)
            rt->choice_len[i] = strlen(rt->def.choices[i]);
    }
    if (!build_literals(m)) {
        json_matcher_free(&m);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    }
    *out = m;
    return ENG_STATUS_OK;
}

void json_matcher_free(struct json_matcher **m)
{
    if (!m || !*m)
        return;
    if ((*m)->lits) {
        for (int i = 0; i < 2 * (*m)->n_fields + 1; i++)
            free((*m)->lits[i]);
    }
    free((*m)->lits);
    free((*m)->lit_len);
    free((*m)->fields);
    free(*m);
    *m = NULL;
}

/* ---- transitions -------------------------------------------------------------------- */

static int lit_open(int field)
{
    return 2 * field;
}

static int lit_item(int field)
{
    return 2 * field + 1;
}

static int lit_close(const struct json_matcher *m)
{
    return 2 * m->n_fields;
}

static void start_literal(struct json_state *st, int lit)
{
    st->phase = PH_LITERAL;
    st->lit = lit;
    st->lit_pos = 0;
}

static void start_value(const struct json_matcher *m, struct json_state *st)
{
    const struct json_field_rt *f = &m->fields[st->field];
    st->phase = PH_STRING;
    st->n_chars = f->prefix_chars;
    st->val_bytes = 0;
    st->choice_mask = f->def.n_choices == MAX_CHOICES ? 0xFFFFFFFFu
                                                       : (1u << f->def.n_choices) - 1u;
    st->utf8_need = 0;
}

static void end_field(const struct json_matcher *m, struct json_state *st)
{
    if (st->field + 1 < m->n_fields) {
        st->field++;
        start_literal(st, lit_open(st->field));
    } else {
        start_literal(st, lit_close(m));
    }
}

/* The literal just ended: enter what follows it. */
static void after_literal(const struct json_matcher *m, struct json_state *st)
{
    if (st->lit == lit_close(m)) {
        st->phase = PH_DONE;
    } else if (st->lit == lit_open(st->field) &&
               m->fields[st->field].def.kind == ENG_JSON_STRING_ARRAY) {
        st->phase = PH_ARRAY_OPEN;
        st->n_items = 0;
    } else {
        start_value(m, st);
    }
}

/* The closing quote of a value. */
static bool end_value(const struct json_matcher *m, struct json_state *st)
{
    const struct json_field_rt *f = &m->fields[st->field];
    if (st->utf8_need)
        return false;
    if (f->def.n_choices) {
        bool whole = false;
        for (int i = 0; i < f->def.n_choices; i++)
            whole |= (st->choice_mask >> i & 1u) && f->choice_len[i] == (size_t)st->val_bytes;
        if (!whole)
            return false;
    } else if (st->n_chars < f->def.min_chars) {
        return false;
    }
    if (f->def.kind == ENG_JSON_STRING_ARRAY) {
        st->n_items++;
        st->phase = PH_ARRAY_NEXT;
    } else {
        end_field(m, st);
    }
    return true;
}

/* Narrow the choices to those with byte b at the value's current position. */
static bool match_choice(const struct json_field_rt *f, struct json_state *st, unsigned char b)
{
    uint32_t mask = 0;
    for (int i = 0; i < f->def.n_choices; i++) {
        if ((st->choice_mask >> i & 1u) && f->choice_len[i] > (size_t)st->val_bytes &&
            (unsigned char)f->def.choices[i][st->val_bytes] == b)
            mask |= 1u << i;
    }
    st->choice_mask = mask;
    st->val_bytes++;
    return mask != 0;
}

/* The first byte of a character (RFC 3629's table): sets the continuation
 * bytes due and the range of the next one. False for a byte that cannot
 * start a character. */
static bool utf8_lead(struct json_state *st, unsigned char b)
{
    st->utf8_lo = 0x80;
    st->utf8_hi = 0xBF;
    if (b < 0x80)
        st->utf8_need = 0;
    else if (b >= 0xC2 && b <= 0xDF)
        st->utf8_need = 1;
    else if (b == 0xE0)
        st->utf8_need = 2, st->utf8_lo = 0xA0;
    else if (b == 0xED)
        st->utf8_need = 2, st->utf8_hi = 0x9F;
    else if (b >= 0xE1 && b <= 0xEF)
        st->utf8_need = 2;
    else if (b == 0xF0)
        st->utf8_need = 3, st->utf8_lo = 0x90;
    else if (b >= 0xF1 && b <= 0xF3)
        st->utf8_need = 3;
    else if (b == 0xF4)
        st->utf8_need = 3, st->utf8_hi = 0x8F;
    else
        return false;
    return true;
}

static bool feed_string(const struct json_matcher *m, struct json_state *st, unsigned char b)
{
    const struct json_field_rt *f = &m->fields[st->field];
    if (st->utf8_need) {
        if (b < st->utf8_lo || b > st->utf8_hi)
            return false;
        st->utf8_need--;
        st->utf8_lo = 0x80;
        st->utf8_hi = 0xBF;
    } else if (b == '"') {
        return end_value(m, st);
    } else if (b < 0x20 || b == '\\' || b == 0x7f || !utf8_lead(st, b)) {
        return false;
    } else if (!f->def.n_choices && st->n_chars >= f->def.max_chars) {
        return false;
    } else {
        st->n_chars++;
    }
    return !f->def.n_choices || match_choice(f, st, b);
}

static bool feed_byte(const struct json_matcher *m, struct json_state *st, unsigned char b)
{
    const struct json_field_rt *f = &m->fields[st->field];
    switch (st->phase) {
    case PH_LITERAL:
        if ((unsigned char)m->lits[st->lit][st->lit_pos] != b)
            return false;
        if ((size_t)++st->lit_pos == m->lit_len[st->lit])
            after_literal(m, st);
        return true;
    case PH_STRING:
        return feed_string(m, st, b);
    case PH_ARRAY_OPEN:
        if (b == ']' && f->def.min_items == 0) {
            end_field(m, st);
            return true;
        }
        if (b != '"')
            return false;
        start_literal(st, lit_item(st->field));
        st->lit_pos = 1;
        if ((size_t)st->lit_pos == m->lit_len[st->lit])
            after_literal(m, st);
        return true;
    case PH_ARRAY_NEXT:
        if (b == ']' && st->n_items >= f->def.min_items) {
            end_field(m, st);
            return true;
        }
        if (b == ',' && st->n_items < f->def.max_items) {
            start_literal(st, lit_item(st->field));
            return true;
        }
        return false;
    default:
        return false;
    }
}

struct json_state json_matcher_start(const struct json_matcher *m)
{
    (void)m;
    struct json_state st = {0};
    start_literal(&st, lit_open(0));
    return st;
}

bool json_matcher_feed(const struct json_matcher *m, struct json_state *st, const char *bytes,
                       size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!feed_byte(m, st, (unsigned char)bytes[i]))
            return false;
    }
    return true;
}

bool json_matcher_done(const struct json_state *st)
{
    return st->phase == PH_DONE;
}

/* ---- the shortest ending -------------------------------------------------------------- */

/* The shortest choice the value can still become. */
static int shortest_choice(const struct json_field_rt *f, const struct json_state *st)
{
    int best = -1;
    for (int i = 0; i < f->def.n_choices; i++) {
        if ((st->choice_mask >> i & 1u) && f->choice_len[i] >= (size_t)st->val_bytes &&
            (best < 0 || f->choice_len[i] < f->choice_len[best]))
            best = i;
    }
    return best;
}

/* The next bytes of the shortest ending from st into out[cap]; returns the count. */
static size_t next_ending_bytes(const struct json_matcher *m, const struct json_state *st,
                                char *out, size_t cap)
{
    const struct json_field_rt *f = &m->fields[st->field];
    size_t n = 0;
    switch (st->phase) {
    case PH_LITERAL:
        n = m->lit_len[st->lit] - (size_t)st->lit_pos;
        if (n > cap)
            n = cap;
        memcpy(out, m->lits[st->lit] + st->lit_pos, n);
        return n;
    case PH_STRING:
        if (f->def.n_choices) {
            int c = shortest_choice(f, st);
            if (c < 0)
                return 0;
            n = f->choice_len[c] - (size_t)st->val_bytes;
            if (n > cap)
                n = cap;
            memcpy(out, f->def.choices[c] + st->val_bytes, n);
        } else if (st->utf8_need) {
            out[n++] = (char)st->utf8_lo; /* then 0x80s: any continuation byte will do */
        } else if (st->n_chars < f->def.min_chars) {
            out[n++] = '-';
        }
        if (n == 0)
            out[n++] = '"';
        return n;
    case PH_ARRAY_OPEN:
        out[0] = f->def.min_items == 0 ? ']' : '"';
        return 1;
    case PH_ARRAY_NEXT:
        out[0] = st->n_items >= f->def.min_items ? ']' : ',';
        return 1;
    default:
        return 0;
    }
}

int json_matcher_finish_bytes(const struct json_matcher *m, const struct json_state *st,
                              char *out, size_t cap)
{
    struct json_state cur = *st;
    size_t len = 0;
    while (cur.phase != PH_DONE) {
        size_t n = next_ending_bytes(m, &cur, out + len, cap - len);
        if (n == 0 || !json_matcher_feed(m, &cur, out + len, n))
            return -1; /* cap too small (a consistent state always has an ending) */
        len += n;
    }
    return (int)len;
}
