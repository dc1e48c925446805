/* json-schema.c: the pushdown automaton of json-schema.h.
 *
 * Phases:
 *   VALUE_START  the first byte of a value of st->node: '"', '[', '{', 't',
 *                'f' or a digit, by the node's type
 *   LITERAL      bytes fixed by the schema: a string's prefix, an object's
 *                ,"name": or its '}', the rest of true/false; then lit_then
 *   STRING       inside a string value, up to the closing quote
 *   NUMBER       digits (and '.' and decimals); the number ends at the first
 *                byte that is none of these, which then goes to the parent
 *   ARRAY_OPEN   after '[': ']' or the first item
 *   ARRAY_NEXT   after an item: ',' or ']'
 *   DONE         the root is closed
 * Arrays and objects push a frame; a finished value pops back to its
 * container (value_done).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "json-schema.h"

enum json_phase {
    PH_VALUE_START,
    PH_LITERAL,
    PH_STRING,
    PH_NUMBER,
    PH_ARRAY_OPEN,
    PH_ARRAY_NEXT,
    PH_DONE,
};

/* What follows a literal. */
enum lit_then {
    THEN_STRING,      /* the string's text (after its prefix) */
    THEN_VALUE_START, /* a value of st->node */
    THEN_CLOSE,       /* the container closes: pop, and the value is done */
    THEN_VALUE_DONE,  /* a scalar is complete (true, false) */
};

enum { MAX_CHOICES = 32, DEFAULT_MAX_CHARS = 64, DEFAULT_MAX_ITEMS = 8, DEFAULT_DECIMALS = 2 };
#define MAX_NUMBER 1e15

/* An object node's property literals: "\"name\":" for the first, ",\"name\":" after. */
struct object_lits {
    const struct eng_schema *node;
    char **lits;      /* [n_properties] */
    int *lens;        /* [n_properties] */
};

struct json_matcher {
    const struct eng_schema *root;
    struct object_lits *objects; /* [n_objects] */
    int n_objects, cap_objects;
};

/* ---- limits of a node -------------------------------------------------------------- */

static int max_chars_of(const struct eng_schema *n)
{
    return n->max_chars ? n->max_chars : DEFAULT_MAX_CHARS;
}

static int max_items_of(const struct eng_schema *n)
{
    return n->max_items ? n->max_items : DEFAULT_MAX_ITEMS;
}

static int max_decimals_of(const struct eng_schema *n)
{
    return n->type == ENG_SCHEMA_INTEGER ? 0 : n->max_decimals ? n->max_decimals
                                                               : DEFAULT_DECIMALS;
}

static int count_code_points(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* ---- checking and compiling the schema ------------------------------------------------ */

static bool plain_string(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static enum eng_status check_string(const struct eng_schema *n, const char *where,
                                    struct eng_err *err)
{
    if (n->n_choices < 0 || n->n_choices > MAX_CHOICES || (n->n_choices && !n->choices))
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "JSON schema: %s has %d choices (at most %d)",
                           where, n->n_choices, MAX_CHOICES);
    for (int i = 0; i < n->n_choices; i++) {
        if (!n->choices[i] || !plain_string(n->choices[i]))
            return eng_set_err(err, ENG_STATUS_ERR_ARG,
                               "JSON schema: %s: choice %d is NULL or has '\"', '\\\\' or a "
                               "control character", where, i);
    }
    if (n->prefix && (!plain_string(n->prefix) || n->n_choices))
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "JSON schema: %s: a prefix must be plain text, and not with choices",
                           where);
    if (n->min_chars < 0 || max_chars_of(n) < n->min_chars ||
        max_chars_of(n) < count_code_points(n->prefix))
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "JSON schema: %s: characters %d..%d do not fit (prefix %d)", where,
                           n->min_chars, max_chars_of(n), count_code_points(n->prefix));
    return ENG_STATUS_OK;
}

static enum eng_status check_number(const struct eng_schema *n, const char *where,
                                    struct eng_err *err)
{
    if (!(n->minimum >= 0 && n->minimum <= n->maximum && n->maximum <= MAX_NUMBER) ||
        n->max_decimals < 0 || n->max_decimals > 6)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "JSON schema: %s: the range %g..%g (decimals %d) is not within "
                           "0..1e15 and in order", where, n->minimum, n->maximum,
                           n->max_decimals);
    if (floor(n->minimum) != n->minimum || floor(n->maximum) != n->maximum)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "JSON schema: %s: the range %g..%g must be whole numbers", where,
                           n->minimum, n->maximum);
    return ENG_STATUS_OK;
}

static bool add_object(struct json_matcher *m, const struct eng_schema *n)
{
    if (m->n_objects == m->cap_objects) {
        int cap = m->cap_objects ? 2 * m->cap_objects : 8;
        struct object_lits *grown = realloc(m->objects, (size_t)cap * sizeof(*grown));
        if (!grown)
            return false;
        m->objects = grown;
        m->cap_objects = cap;
    }
    struct object_lits *o = &m->objects[m->n_objects++];
    *o = (struct object_lits){.node = n};
    o->lits = calloc((size_t)n->n_properties + 1, sizeof(*o->lits));
    o->lens = calloc((size_t)n->n_properties + 1, sizeof(*o->lens));
    if (!o->lits || !o->lens)
        return false;
    for (int i = 0; i < n->n_properties; i++) {
        size_t len = strlen(n->properties[i].name) + 4; /* [,]"name": */
        o->lits[i] = malloc(len + 1);
        if (!o->lits[i])
            return false;
        snprintf(o->lits[i], len + 1, "%s\"%s\":", i ? "," : "", n->properties[i].name);
        o->lens[i] = (int)strlen(o->lits[i]);
    }
    return true;
}

/* Check node n (at depth containers deep) and its children; compile objects. */
static enum eng_status compile_node(struct json_matcher *m, const struct eng_schema *n,
                                    int depth, const char *where, struct eng_err *err)
{
    if (!n)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "JSON schema: %s is NULL", where);
    switch (n->type) {
    case ENG_SCHEMA_STRING:
        return check_string(n, where, err);
    case ENG_SCHEMA_INTEGER:
    case ENG_SCHEMA_NUMBER:
        return check_number(n, where, err);
    case ENG_SCHEMA_BOOLEAN:
        return ENG_STATUS_OK;
    case ENG_SCHEMA_ARRAY:
        if (depth >= JSON_MAX_DEPTH)
            return eng_set_err(err, ENG_STATUS_ERR_ARG, "JSON schema: %s nests deeper than %d",
                               where, JSON_MAX_DEPTH);
        if (n->min_items < 0 || max_items_of(n) < n->min_items)
            return eng_set_err(err, ENG_STATUS_ERR_ARG,
                               "JSON schema: %s: items %d..%d are out of order", where,
                               n->min_items, max_items_of(n));
        return compile_node(m, n->items, depth + 1, where, err);
    case ENG_SCHEMA_OBJECT:
        if (depth >= JSON_MAX_DEPTH)
            return eng_set_err(err, ENG_STATUS_ERR_ARG, "JSON schema: %s nests deeper than %d",
                               where, JSON_MAX_DEPTH);
        if (n->n_properties < 0 || (n->n_properties && !n->properties))
            return eng_set_err(err, ENG_STATUS_ERR_ARG, "JSON schema: %s has no properties",
                               where);
        for (int i = 0; i < n->n_properties; i++) {
            const char *name = n->properties[i].name;
            if (!name || !name[0] || !plain_string(name))
                return eng_set_err(err, ENG_STATUS_ERR_ARG,
                                   "JSON schema: %s: property %d has an empty name or one with "
                                   "'\"', '\\\\' or a control character", where, i);
            enum eng_status st = compile_node(m, n->properties[i].schema, depth + 1, name, err);
            if (st)
                return st;
        }
        return add_object(m, n) ? ENG_STATUS_OK
                                : eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    default:
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "JSON schema: %s has an unknown type",
                           where);
    }
}

enum eng_status json_matcher_new(const struct eng_schema *schema, struct json_matcher **out,
                                 struct eng_err *err)
{
    *out = NULL;
    if (!schema || (schema->type != ENG_SCHEMA_OBJECT && schema->type != ENG_SCHEMA_ARRAY))
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "JSON schema: the root must be an object or an array");
    struct json_matcher *m = calloc(1, sizeof(*m));
    if (!m)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    m->root = schema;
    enum eng_status st = compile_node(m, schema, 0, "the root", err);
    if (st) {
        json_matcher_free(&m);
        return st;
    }
    *out = m;
    return ENG_STATUS_OK;
}

void json_matcher_free(struct json_matcher **m)
{
    if (!m || !*m)
        return;
    for (int i = 0; i < (*m)->n_objects; i++) {
        struct object_lits *o = &(*m)->objects[i];
        for (int k = 0; o->lits && k < o->node->n_properties; k++)
            free(o->lits[k]);
        free(o->lits);
        free(o->lens);
    }
    free((*m)->objects);
    free(*m);
    *m = NULL;
}

static const struct object_lits *object_of(const struct json_matcher *m,
                                           const struct eng_schema *n)
{
    for (int i = 0; i < m->n_objects; i++) {
        if (m->objects[i].node == n)
            return &m->objects[i];
    }
    return NULL; /* not reached: every object node was compiled */
}

/* ---- transitions ---------------------------------------------------------------------- */

static void start_literal(struct json_state *st, const char *lit, int len, int then)
{
    st->phase = PH_LITERAL;
    st->lit = lit;
    st->lit_len = len;
    st->lit_pos = 0;
    st->lit_then = then;
}

static void start_string(struct json_state *st)
{
    const struct eng_schema *n = st->node;
    st->phase = PH_STRING;
    st->n_chars = count_code_points(n->prefix);
    st->val_bytes = 0;
    st->choice_mask = n->n_choices == MAX_CHOICES ? 0xFFFFFFFFu : (1u << n->n_choices) - 1u;
    st->utf8_need = 0;
}

static void expect_value(struct json_state *st, const struct eng_schema *n)
{
    st->phase = PH_VALUE_START;
    st->node = n;
}

/* Property i of the object on top of the stack: its literal, then its value;
 * past the last one, the closing brace. */
static void object_property(const struct json_matcher *m, struct json_state *st)
{
    struct json_frame *f = &st->stack[st->depth - 1];
    if (f->index < f->node->n_properties) {
        const struct object_lits *o = object_of(m, f->node);
        st->node = f->node->properties[f->index].schema;
        start_literal(st, o->lits[f->index], o->lens[f->index], THEN_VALUE_START);
    } else {
        start_literal(st, "}", 1, THEN_CLOSE);
    }
}

/* A value is complete: back to its container (or done at the root). */
static void value_done(const struct json_matcher *m, struct json_state *st)
{
    if (st->depth == 0) {
        st->phase = PH_DONE;
        return;
    }
    struct json_frame *f = &st->stack[st->depth - 1];
    f->index++;
    if (f->node->type == ENG_SCHEMA_ARRAY)
        st->phase = PH_ARRAY_NEXT;
    else
        object_property(m, st);
}

static void close_container(const struct json_matcher *m, struct json_state *st)
{
    st->depth--;
    value_done(m, st);
}

static void after_literal(const struct json_matcher *m, struct json_state *st)
{
    switch (st->lit_then) {
    case THEN_STRING:
        start_string(st);
        break;
    case THEN_VALUE_START:
        expect_value(st, st->node);
        break;
    case THEN_CLOSE:
        close_container(m, st);
        break;
    default:
        value_done(m, st);
        break;
    }
}

static void push(struct json_state *st, const struct eng_schema *n)
{
    st->stack[st->depth++] = (struct json_frame){.node = n, .index = 0};
}

/* ---- strings -------------------------------------------------------------------------- */

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

/* Narrow the choices to those with byte b at the value's current position. */
static bool match_choice(const struct eng_schema *n, struct json_state *st, unsigned char b)
{
    uint32_t mask = 0;
    for (int i = 0; i < n->n_choices; i++) {
        if ((st->choice_mask >> i & 1u) && strlen(n->choices[i]) > (size_t)st->val_bytes &&
            (unsigned char)n->choices[i][st->val_bytes] == b)
            mask |= 1u << i;
    }
    st->choice_mask = mask;
    st->val_bytes++;
    return mask != 0;
}

/* The closing quote: allowed when the value is whole. */
static bool end_string(const struct json_matcher *m, struct json_state *st)
{
    const struct eng_schema *n = st->node;
    if (st->utf8_need)
        return false;
    if (n->n_choices) {
        bool whole = false;
        for (int i = 0; i < n->n_choices; i++)
            whole |= (st->choice_mask >> i & 1u) && strlen(n->choices[i]) == (size_t)st->val_bytes;
        if (!whole)
            return false;
    } else if (st->n_chars < n->min_chars) {
        return false;
    }
    value_done(m, st);
    return true;
}

static bool feed_string(const struct json_matcher *m, struct json_state *st, unsigned char b)
{
    const struct eng_schema *n = st->node;
    if (st->utf8_need) {
        if (b < st->utf8_lo || b > st->utf8_hi)
            return false;
        st->utf8_need--;
        st->utf8_lo = 0x80;
        st->utf8_hi = 0xBF;
    } else if (b == '"') {
        return end_string(m, st);
    } else if (b < 0x20 || b == '\\' || b == 0x7f || !utf8_lead(st, b)) {
        return false;
    } else if (!n->n_choices && st->n_chars >= max_chars_of(n)) {
        return false;
    } else {
        st->n_chars++;
    }
    return !n->n_choices || match_choice(n, st, b);
}

/* ---- numbers -------------------------------------------------------------------------- */

/* minimum and maximum are whole numbers (checked), so I + f, with integer part
 * I and fraction 0 <= f < 1, lies in [lo, hi] exactly when lo <= I < hi, or
 * I == hi with a fraction of zeros. A '.' is therefore allowed only once
 * I >= lo; the fraction's digits are then free, or zeros when I == hi. */

/* Whether an integer part v can still end in [lo, hi]: as it is, or with
 * more digits appended (not after a leading zero). */
static bool integer_part_can_end(const struct eng_schema *n, double v)
{
    if (v > n->maximum)
        return false;
    if (v >= n->minimum)
        return true;
    if (v == 0)
        return false;
    for (double scale = 10; v * scale <= n->maximum; scale *= 10) {
        if (v * scale + scale - 1 >= n->minimum)
            return true;
    }
    return false;
}

static bool feed_digit(struct json_state *st, unsigned char b)
{
    const struct eng_schema *n = st->node;
    if (st->in_fraction) {
        if (st->n_decimals >= max_decimals_of(n) || (st->num == n->maximum && b != '0'))
            return false;
        st->n_decimals++;
        return true;
    }
    if (st->n_digits == 1 && st->num == 0)
        return false; /* no leading zeros */
    double v = st->num * 10 + (b - '0');
    if (!integer_part_can_end(n, v))
        return false;
    st->num = v;
    st->n_digits++;
    return true;
}

/* The number as written so far is a whole, valid value. */
static bool number_complete(const struct json_state *st)
{
    return st->n_digits > 0 && st->num >= st->node->minimum && st->num <= st->node->maximum &&
           !(st->in_fraction && st->n_decimals == 0);
}

/* Feed byte b in the NUMBER phase; a byte that ends the number goes on to
 * the container. */
static bool feed_byte(const struct json_matcher *m, struct json_state *st, unsigned char b);

static bool feed_number(const struct json_matcher *m, struct json_state *st, unsigned char b)
{
    const struct eng_schema *n = st->node;
    if (b >= '0' && b <= '9')
        return feed_digit(st, b);
    if (b == '.') {
        if (st->in_fraction || max_decimals_of(n) == 0 || st->n_digits == 0 ||
            st->num < n->minimum)
            return false;
        st->in_fraction = true;
        return true;
    }
    if (!number_complete(st))
        return false;
    value_done(m, st);
    return feed_byte(m, st, b);
}

/* ---- one byte ------------------------------------------------------------------------- */

static bool feed_value_start(const struct json_matcher *m, struct json_state *st,
                             unsigned char b)
{
    const struct eng_schema *n = st->node;
    switch (n->type) {
    case ENG_SCHEMA_STRING:
        if (b != '"')
            return false;
        if (n->prefix && n->prefix[0])
            start_literal(st, n->prefix, (int)strlen(n->prefix), THEN_STRING);
        else
            start_string(st);
        return true;
    case ENG_SCHEMA_BOOLEAN:
        if (b == 't')
            start_literal(st, "rue", 3, THEN_VALUE_DONE);
        else if (b == 'f')
            start_literal(st, "alse", 4, THEN_VALUE_DONE);
        else
            return false;
        return true;
    case ENG_SCHEMA_INTEGER:
    case ENG_SCHEMA_NUMBER:
        if (b < '0' || b > '9')
            return false;
        st->phase = PH_NUMBER;
        st->num = 0;
        st->n_digits = 0;
        st->n_decimals = 0;
        st->in_fraction = false;
        if (b == '0') {
            st->n_digits = 1;
            return n->minimum == 0;
        }
        return feed_digit(st, b);
    case ENG_SCHEMA_ARRAY:
        if (b != '[')
            return false;
        push(st, n);
        st->phase = PH_ARRAY_OPEN;
        return true;
    case ENG_SCHEMA_OBJECT:
        if (b != '{')
            return false;
        push(st, n);
        object_property(m, st);
        return true;
    default:
        return false;
    }
}

static bool feed_byte(const struct json_matcher *m, struct json_state *st, unsigned char b)
{
    switch (st->phase) {
    case PH_VALUE_START:
        return feed_value_start(m, st, b);
    case PH_LITERAL:
        if ((unsigned char)st->lit[st->lit_pos] != b)
            return false;
        if (++st->lit_pos == st->lit_len)
            after_literal(m, st);
        return true;
    case PH_STRING:
        return feed_string(m, st, b);
    case PH_NUMBER:
        return feed_number(m, st, b);
    case PH_ARRAY_OPEN:
        if (b == ']' && st->stack[st->depth - 1].node->min_items == 0) {
            close_container(m, st);
            return true;
        }
        expect_value(st, st->stack[st->depth - 1].node->items);
        return feed_value_start(m, st, b);
    case PH_ARRAY_NEXT: {
        const struct json_frame *f = &st->stack[st->depth - 1];
        if (b == ']' && f->index >= f->node->min_items) {
            close_container(m, st);
            return true;
        }
        if (b == ',' && f->index < max_items_of(f->node)) {
            expect_value(st, f->node->items);
            return true;
        }
        return false;
    }
    default:
        return false;
    }
}

struct json_state json_matcher_start(const struct json_matcher *m)
{
    struct json_state st;
    memset(&st, 0, sizeof st);
    expect_value(&st, m->root);
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

int json_matcher_text_room(const struct json_state *st)
{
    if (st->phase != PH_STRING || st->node->n_choices || st->utf8_need)
        return -1;
    return max_chars_of(st->node) - st->n_chars;
}

/* The same byte tests as feed_string, without a schema. */
int json_text_chars(const char *bytes, size_t n)
{
    struct json_state scratch; /* only its UTF-8 fields are used */
    memset(&scratch, 0, sizeof scratch);
    int n_chars = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)bytes[i];
        if (scratch.utf8_need) {
            if (b < scratch.utf8_lo || b > scratch.utf8_hi)
                return JSON_TEXT_NEVER;
            scratch.utf8_need--;
            scratch.utf8_lo = 0x80;
            scratch.utf8_hi = 0xBF;
        } else if (b == '"') {
            return JSON_TEXT_LEAVES;
        } else if (b < 0x20 || b == '\\' || b == 0x7f || !utf8_lead(&scratch, b)) {
            return JSON_TEXT_NEVER;
        } else {
            n_chars++;
        }
    }
    return n_chars;
}

const char *json_state_kind(const struct json_state *st)
{
    switch (st->phase) {
    case PH_STRING:
        return st->node->n_choices ? "choice" : "text";
    case PH_LITERAL:
        return "literal";
    case PH_NUMBER:
        return "number";
    case PH_DONE:
        return "done";
    default:
        return "structure";
    }
}

/* ---- the shortest ending ---------------------------------------------------------------- */

/* The shortest choice the value can still become. */
static int shortest_choice(const struct eng_schema *n, const struct json_state *st)
{
    int best = -1;
    for (int i = 0; i < n->n_choices; i++) {
        if ((st->choice_mask >> i & 1u) && strlen(n->choices[i]) >= (size_t)st->val_bytes &&
            (best < 0 || strlen(n->choices[i]) < strlen(n->choices[best])))
            best = i;
    }
    return best;
}

static size_t copy_bytes(char *out, size_t cap, const char *s, size_t n)
{
    if (n > cap)
        n = cap;
    memcpy(out, s, n);
    return n;
}

/* The digits that finish a number's integer part v (of n_digits digits) at
 * the least value >= minimum, into out; 0 when v is already enough. */
static size_t number_digits(const struct eng_schema *n, double v, int n_digits, char *out,
                            size_t cap)
{
    char text[32];
    if (n_digits == 0) {
        snprintf(text, sizeof text, "%.0f", n->minimum);
        return copy_bytes(out, cap, text, strlen(text));
    }
    if (v >= n->minimum)
        return 0;
    double scale = 10;
    for (size_t n_new = 1; v * scale <= n->maximum; n_new++, scale *= 10) {
        if (v * scale + scale - 1 >= n->minimum) {
            /* v followed by n_new digits: the least such value >= minimum */
            snprintf(text, sizeof text, "%.0f", fmax(n->minimum, v * scale));
            return copy_bytes(out, cap, text + strlen(text) - n_new, n_new);
        }
    }
    return 0; /* not reached: feed_digit keeps an ending possible */
}

static size_t next_ending_bytes(const struct json_matcher *m, const struct json_state *st,
                                char *out, size_t cap);

static size_t value_start_bytes(const struct json_matcher *m, const struct json_state *st,
                                char *out, size_t cap)
{
    (void)m;
    switch (st->node->type) {
    case ENG_SCHEMA_STRING:
        return copy_bytes(out, cap, "\"", 1);
    case ENG_SCHEMA_BOOLEAN:
        return copy_bytes(out, cap, "true", 4);
    case ENG_SCHEMA_ARRAY:
        return copy_bytes(out, cap, "[", 1);
    case ENG_SCHEMA_OBJECT:
        return copy_bytes(out, cap, "{", 1);
    default:
        return number_digits(st->node, 0, 0, out, cap);
    }
}

static size_t string_ending_bytes(const struct json_state *st, char *out, size_t cap)
{
    const struct eng_schema *n = st->node;
    size_t k = 0;
    if (n->n_choices) {
        int c = shortest_choice(n, st);
        if (c < 0)
            return 0;
        k = copy_bytes(out, cap, n->choices[c] + st->val_bytes,
                       strlen(n->choices[c]) - (size_t)st->val_bytes);
    } else if (st->utf8_need) {
        out[k++] = (char)st->utf8_lo; /* then 0x80s: any continuation byte will do */
    } else if (st->n_chars < n->min_chars) {
        out[k++] = '-';
    }
    if (k == 0)
        out[k++] = '"';
    return k;
}

static size_t number_ending_bytes(const struct json_matcher *m, const struct json_state *st,
                                  char *out, size_t cap)
{
    size_t k = st->in_fraction ? (st->n_decimals == 0 ? copy_bytes(out, cap, "0", 1) : 0)
                               : number_digits(st->node, st->num, st->n_digits, out, cap);
    if (k > 0)
        return k;
    /* complete: what follows comes from the container */
    struct json_state after = *st;
    value_done(m, &after);
    return next_ending_bytes(m, &after, out, cap);
}

static size_t next_ending_bytes(const struct json_matcher *m, const struct json_state *st,
                                char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    switch (st->phase) {
    case PH_VALUE_START:
        return value_start_bytes(m, st, out, cap);
    case PH_LITERAL:
        return copy_bytes(out, cap, st->lit + st->lit_pos, (size_t)(st->lit_len - st->lit_pos));
    case PH_STRING:
        return string_ending_bytes(st, out, cap);
    case PH_NUMBER:
        return number_ending_bytes(m, st, out, cap);
    case PH_ARRAY_OPEN: {
        const struct eng_schema *a = st->stack[st->depth - 1].node;
        if (a->min_items == 0)
            return copy_bytes(out, cap, "]", 1);
        struct json_state item = *st;
        expect_value(&item, a->items);
        return value_start_bytes(m, &item, out, cap);
    }
    case PH_ARRAY_NEXT: {
        const struct json_frame *f = &st->stack[st->depth - 1];
        return copy_bytes(out, cap, f->index >= f->node->min_items ? "]" : ",", 1);
    }
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
