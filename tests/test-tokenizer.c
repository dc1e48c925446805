/* test-tokenizer.c: a driver that exposes the tokenizer to the reference
 * scripts in tests/tokenizer/, which compare its output with Hugging Face's
 * tokenizer and with JavaScript regexes and String.prototype.normalize in
 * node. It prints; the scripts judge. The `selftest` mode checks properties
 * that need no reference (round trips, parse_special off, stream chunking).
 *
 *   test-tokenizer ids VOCAB.gguf FILE      ids of each line ('\n'-separated), one line each
 *   test-tokenizer whole VOCAB.gguf FILE    ids of the whole file as one input, one line
 *   test-tokenizer split PRE FILE           pre-token lengths (code points) of each line
 *   test-tokenizer nfc FILE                 NFC of each line (after U+FFFD substitution)
 *   test-tokenizer stream FILE              each line decoded through utf8_stream in
 *                                           chunks of 1, 2, 3, ... bytes, one output line per
 *                                           chunk size 1..7
 *   test-tokenizer selftest VOCAB.gguf FILE properties; exit 1 on a failure
 *   test-tokenizer bench VOCAB.gguf FILE    time to tokenize every line (printed to stderr)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gguf.h"
#include "tokenizer.h"
#include "unicode.h"

/* A whole file in memory. */
struct text_file {
    char *data; /* [size + 1], NUL-terminated */
    size_t size;
};

static bool read_file(const char *path, struct text_file *f)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "test-tokenizer: cannot open %s\n", path);
        return false;
    }
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->data = malloc((size_t)size + 1);
    f->size = f->data ? fread(f->data, 1, (size_t)size, fp) : 0;
    fclose(fp);
    if (!f->data || f->size != (size_t)size) {
        fprintf(stderr, "test-tokenizer: cannot read %s\n", path);
        return false;
    }
    f->data[f->size] = '\0';
    return true;
}

/* Call fn on each '\n'-separated line (without the '\n'); a final empty line
 * after a trailing '\n' is not visited. */
typedef bool (*line_fn)(const char *line, size_t len, void *user_data);

static bool for_each_line(const struct text_file *f, line_fn fn, void *user_data)
{
    size_t start = 0;
    while (start < f->size) {
        const char *nl = memchr(f->data + start, '\n', f->size - start);
        size_t end = nl ? (size_t)(nl - f->data) : f->size;
        if (!fn(f->data + start, end - start, user_data))
            return false;
        start = end + 1;
    }
    return true;
}

static struct tokenizer *open_tokenizer(const char *path)
{
    struct gguf_file *gf = NULL;
    struct tokenizer *tok = NULL;
    struct eng_err err = {{0}};
    if (gguf_open(path, &gf, &err) != ENG_STATUS_OK ||
        tokenizer_from_gguf(gf, &tok, &err) != ENG_STATUS_OK)
        fprintf(stderr, "test-tokenizer: %s\n", err.msg);
    gguf_close(&gf);
    return tok;
}

static void print_ids(const int32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf(i ? " %d" : "%d", ids[i]);
    printf("\n");
}

/* ---- ids / whole -------------------------------------------------------- */

static bool line_ids(const char *line, size_t len, void *user_data)
{
    const struct tokenizer *tok = user_data;
    int32_t *ids = NULL;
    size_t n = 0;
    struct eng_err err;
    if (tokenizer_encode(tok, line, len, true, &ids, &n, &err) != ENG_STATUS_OK) {
        fprintf(stderr, "test-tokenizer: %s\n", err.msg);
        return false;
    }
    print_ids(ids, n);
    free(ids);
    return true;
}

static int mode_ids(const char *vocab, const struct text_file *f, bool whole)
{
    struct tokenizer *tok = open_tokenizer(vocab);
    if (!tok)
        return 1;
    bool ok = whole ? line_ids(f->data, f->size, tok) : for_each_line(f, line_ids, tok);
    tokenizer_free(&tok);
    return ok ? 0 : 1;
}

/* ---- split / nfc -------------------------------------------------------- */

/* The code points of a line, decoded the WHATWG way. *n receives the count. */
static uint32_t *decode_line(const char *line, size_t len, size_t *n)
{
    uint32_t *cps = malloc((len + 1) * sizeof *cps);
    *n = 0;
    for (size_t i = 0; cps && i < len;) {
        size_t used;
        cps[(*n)++] = unicode_decode_utf8((const uint8_t *)line + i, len - i, &used);
        i += used;
    }
    return cps;
}

static bool line_split(const char *line, size_t len, void *user_data)
{
    const enum unicode_pre *pre = user_data;
    size_t n;
    uint32_t *cps = decode_line(line, len, &n);
    uint8_t *classes = malloc(n + 1);
    size_t *ends = malloc((n + 1) * sizeof *ends);
    if (!cps || !classes || !ends)
        return false;
    size_t n_pieces = unicode_pretokenize(*pre, cps, n, classes, ends);
    for (size_t p = 0, start = 0; p < n_pieces; start = ends[p++])
        printf(p ? " %zu" : "%zu", ends[p] - start);
    printf("\n");
    free(cps);
    free(classes);
    free(ends);
    return true;
}

static bool line_nfc(const char *line, size_t len, void *user_data)
{
    (void)user_data;
    size_t n;
    uint32_t *cps = decode_line(line, len, &n);
    uint32_t *norm = malloc((4 * n + 1) * sizeof *norm);
    if (!cps || !norm)
        return false;
    size_t m = unicode_nfc(cps, n, norm);
    for (size_t i = 0; i < m; i++) {
        uint8_t buf[4];
        fwrite(buf, 1, unicode_encode_utf8(norm[i], buf), stdout);
    }
    printf("\n");
    free(cps);
    free(norm);
    return true;
}

static int mode_split(const char *pre_name, const struct text_file *f)
{
    static const struct {
        const char *name;
        enum unicode_pre pre;
    } pres[] = {{"gpt-2", UNICODE_PRE_GPT2},
                {"smollm", UNICODE_PRE_SMOLLM},
                {"qwen2", UNICODE_PRE_QWEN2},
                {"llama-bpe", UNICODE_PRE_LLAMA3}};
    for (size_t i = 0; i < sizeof pres / sizeof pres[0]; i++) {
        if (strcmp(pres[i].name, pre_name) == 0) {
            enum unicode_pre pre = pres[i].pre;
            return for_each_line(f, line_split, &pre) ? 0 : 1;
        }
    }
    fprintf(stderr, "test-tokenizer: unknown pre-tokenizer %s\n", pre_name);
    return 2;
}

/* ---- stream ------------------------------------------------------------- */

static bool line_stream(const char *line, size_t len, void *user_data)
{
    (void)user_data;
    char *out = malloc(3 * len + 16);
    if (!out)
        return false;
    for (size_t chunk = 1; chunk <= 7; chunk++) {
        struct utf8_stream s = {{0}, 0};
        size_t k = 0;
        for (size_t i = 0; i < len; i += chunk) {
            size_t n = len - i < chunk ? len - i : chunk;
            k += utf8_stream_push(&s, line + i, n, out + k, 3 * n + 12);
        }
        k += utf8_stream_flush(&s, out + k, 12);
        fwrite(out, 1, k, stdout);
        printf("\n");
    }
    free(out);
    return true;
}

/* ---- selftest ----------------------------------------------------------- */

struct selftest {
    const struct tokenizer *tok;
    size_t n_lines, n_failed;
};

/* The WHATWG-decoded, re-encoded form of a line: what the tokenizer sees. */
static char *sanitized(const char *line, size_t len, size_t *out_len)
{
    char *out = malloc(3 * len + 1);
    size_t k = 0;
    for (size_t i = 0; out && i < len;) {
        size_t used;
        uint32_t cp = unicode_decode_utf8((const uint8_t *)line + i, len - i, &used);
        k += unicode_encode_utf8(cp, (uint8_t *)out + k);
        i += used;
    }
    *out_len = k;
    return out;
}

/* Concatenated token bytes of ids. */
static char *detokenize(const struct tokenizer *tok, const int32_t *ids, size_t n, size_t *out_len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        tokenizer_token_bytes(tok, ids[i], &len);
        total += len;
    }
    char *out = malloc(total + 1);
    size_t k = 0;
    for (size_t i = 0; out && i < n; i++) {
        size_t len;
        const char *b = tokenizer_token_bytes(tok, ids[i], &len);
        memcpy(out + k, b, len);
        k += len;
    }
    *out_len = k;
    return out;
}

static bool check(struct selftest *t, bool ok, const char *what, const char *line, size_t len)
{
    if (!ok) {
        t->n_failed++;
        fprintf(stderr, "FAIL %s on line %zu: %.*s\n", what, t->n_lines, (int)len, line);
    }
    return ok;
}

/* With parse_special off, no special id appears and the bytes round-trip
 * (lines that NFC leaves unchanged; the corpus keeps to those except where noted). */
static bool line_selftest(const char *line, size_t len, void *user_data)
{
    struct selftest *t = user_data;
    t->n_lines++;
    size_t clean_len;
    char *clean = sanitized(line, len, &clean_len);
    for (int special = 0; special <= 1; special++) {
        int32_t *ids = NULL;
        size_t n = 0;
        struct eng_err err;
        if (!check(t, tokenizer_encode(t->tok, line, len, special, &ids, &n, &err) == 0, "encode",
                   line, len))
            continue;
        bool plain = true;
        for (size_t i = 0; i < n; i++)
            plain &= tokenizer_token_type(t->tok, ids[i]) == TOK_TYPE_NORMAL;
        if (!special)
            check(t, plain, "special id with parse_special off", line, len);
        size_t dec_len;
        char *dec = detokenize(t->tok, ids, n, &dec_len);
        size_t nfc_n;
        uint32_t *cps = decode_line(clean, clean_len, &nfc_n);
        bool nfc_stable = !unicode_nfc_may_change(cps, nfc_n);
        if (nfc_stable || strcmp(tokenizer_pre_name(t->tok), "qwen2") != 0)
            check(t, dec_len == clean_len && memcmp(dec, clean, dec_len) == 0, "round trip", line,
                  len);
        free(cps);
        free(dec);
        free(ids);
    }
    free(clean);
    return true;
}

/* Every push of a line, in chunks of 1..7 bytes, emits well-formed UTF-8. */
static void stream_pushes_whole_chars(struct selftest *t, const char *line, size_t len)
{
    char out[3 * 7 + 12];
    for (size_t chunk = 1; chunk <= 7; chunk++) {
        struct utf8_stream s = {{0}, 0};
        for (size_t i = 0; i < len; i += chunk) {
            size_t n = len - i < chunk ? len - i : chunk;
            size_t k = utf8_stream_push(&s, line + i, n, out, sizeof out);
            if (!check(t, unicode_utf8_valid((const uint8_t *)out, k) && s.n_pending <= 3,
                       "utf8_stream push emits whole characters", line, len))
                return;
        }
    }
}

static bool line_stream_check(const char *line, size_t len, void *user_data)
{
    stream_pushes_whole_chars(user_data, line, len);
    return true;
}

/* A vocab GGUF of the 256 byte tokens with the given model and pre ids,
 * built with the engine's writer; returns the status of loading it. */
static enum eng_status load_small_vocab(const char *model, const char *pre, int drop_byte,
                                        struct eng_err *err)
{
    char strs[256][8];
    const char *tokens[256];
    size_t n = 0;
    for (int b = 0; b < 256; b++) {
        if (b == drop_byte)
            continue;
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        int k = 0;
        for (int i = 0; i < b; i++)
            k += !((i >= 33 && i <= 126) || (i >= 161 && i <= 172) || i >= 174);
        uint8_t utf8[4];
        size_t m = unicode_encode_utf8(printable ? (uint32_t)b : 256u + (uint32_t)k, utf8);
        memcpy(strs[n], utf8, m);
        strs[n][m] = '\0';
        tokens[n] = strs[n];
        n++;
    }
    char path[] = "/tmp/test-tokenizer-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return ENG_STATUS_ERR_IO;
    close(fd);
    struct gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "tokenizer.ggml.model", model);
    gguf_writer_set_str(w, "tokenizer.ggml.pre", pre);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tokens, n);
    struct gguf_file *f = NULL;
    struct tokenizer *tok = NULL;
    enum eng_status st = gguf_writer_write(w, path, err);
    if (st == ENG_STATUS_OK)
        st = gguf_open(path, &f, err);
    if (st == ENG_STATUS_OK)
        st = tokenizer_from_gguf(f, &tok, err);
    tokenizer_free(&tok);
    gguf_close(&f);
    gguf_writer_free(&w);
    unlink(path);
    return st;
}

/* Refusals: an unknown pre id or model, a vocab without every byte token. */
static void check_refusals(struct selftest *t)
{
    struct eng_err err = {{0}};
    enum eng_status st = load_small_vocab("gpt2", "no-such-pre", -1, &err);
    check(t, st == ENG_STATUS_ERR_UNSUPPORTED && strstr(err.msg, "no-such-pre"),
          "unknown pre refused, named", err.msg, strlen(err.msg));
    st = load_small_vocab("llama", "gpt-2", -1, &err);
    check(t, st == ENG_STATUS_ERR_UNSUPPORTED && strstr(err.msg, "llama"), "SPM model refused",
          err.msg, strlen(err.msg));
    st = load_small_vocab("gpt2", "gpt-2", 'x', &err);
    check(t, st == ENG_STATUS_ERR_FORMAT, "missing byte token refused", err.msg, strlen(err.msg));
    st = load_small_vocab("gpt2", "smollm", -1, &err);
    check(t, st == ENG_STATUS_OK, "byte-only vocab loads", err.msg, strlen(err.msg));
}

static int mode_selftest(const char *vocab, const struct text_file *f)
{
    struct tokenizer *tok = open_tokenizer(vocab);
    if (!tok)
        return 1;
    struct selftest t = {tok, 0, 0};
    for_each_line(f, line_selftest, &t);
    for_each_line(f, line_stream_check, &t);
    check_refusals(&t);
    /* Queries named by the header. */
    int32_t im_end = tokenizer_find(tok, "<|im_end|>");
    if (im_end < 0 || tokenizer_token_type(tok, im_end) != TOK_TYPE_CONTROL ||
        strcmp(tokenizer_token_text(tok, im_end), "<|im_end|>") != 0 ||
        tokenizer_token_bytes(tok, tokenizer_n_vocab(tok), NULL) != NULL) {
        fprintf(stderr, "FAIL vocab queries\n");
        t.n_failed++;
    }
    fprintf(stderr, "selftest: %zu lines, %zu failures\n", t.n_lines, t.n_failed);
    tokenizer_free(&tok);
    return t.n_failed ? 1 : 0;
}

/* ---- bench -------------------------------------------------------------- */

struct bench {
    const struct tokenizer *tok;
    size_t n_tokens;
};

static bool line_bench(const char *line, size_t len, void *user_data)
{
    struct bench *b = user_data;
    int32_t *ids = NULL;
    size_t n = 0;
    struct eng_err err;
    if (tokenizer_encode(b->tok, line, len, true, &ids, &n, &err) != ENG_STATUS_OK)
        return false;
    b->n_tokens += n;
    free(ids);
    return true;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int mode_bench(const char *vocab, const struct text_file *f)
{
    double t0 = now_s();
    struct tokenizer *tok = open_tokenizer(vocab);
    if (!tok)
        return 1;
    double t1 = now_s();
    struct bench b = {tok, 0};
    bool ok = for_each_line(f, line_bench, &b);
    double t2 = now_s();
    fprintf(stderr, "bench: load %.3f s; %zu bytes -> %zu tokens in %.3f s (%.1f MB/s)\n", t1 - t0,
            f->size, b.n_tokens, t2 - t1, (double)f->size / (t2 - t1) / 1e6);
    tokenizer_free(&tok);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: see the head of tests/test-tokenizer.c\n");
        return 2;
    }
    const char *mode = argv[1];
    struct text_file f = {0};
    if (!read_file(argv[argc - 1], &f))
        return 1;
    int rc = 2;
    if (strcmp(mode, "ids") == 0 && argc == 4)
        rc = mode_ids(argv[2], &f, false);
    else if (strcmp(mode, "whole") == 0 && argc == 4)
        rc = mode_ids(argv[2], &f, true);
    else if (strcmp(mode, "split") == 0 && argc == 4)
        rc = mode_split(argv[2], &f);
    else if (strcmp(mode, "nfc") == 0 && argc == 3)
        rc = for_each_line(&f, line_nfc, NULL) ? 0 : 1;
    else if (strcmp(mode, "stream") == 0 && argc == 3)
        rc = for_each_line(&f, line_stream, NULL) ? 0 : 1;
    else if (strcmp(mode, "selftest") == 0 && argc == 4)
        rc = mode_selftest(argv[2], &f);
    else if (strcmp(mode, "bench") == 0 && argc == 4)
        rc = mode_bench(argv[2], &f);
    else
        fprintf(stderr, "test-tokenizer: bad arguments for mode %s\n", mode);
    free(f.data);
    fflush(stdout);
    return rc;
}
