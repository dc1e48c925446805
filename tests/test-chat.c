/* test-chat.c: chat template rendering and detection.
 *
 * Without arguments it runs the checks whose expected values come straight
 * from the published templates (fallback by arch, argument errors, the
 * default-system rules) and chat_end_tokens() on a small vocab read back
 * through the real GGUF writer, reader and tokenizer. With --serve it becomes the driver that
 * tests/reference/chat_ref.py feeds: the real Jinja templates are rendered
 * there with jinja2 and compared byte for byte with chat_render().
 *
 * Driver protocol (stdin, binary safe; lengths are byte counts):
 *   X <template-file|-> <arch>\n           -> "F <enum> <family-name>\n"
 *   T <template-file|-> <arch>\n           starts a case (family from chat_detect)
 *   G <add_generation_prompt 0|1> <enable_thinking 0|1>\n
 *   D -\n  or  D <len>\n<bytes>\n          default_system (NULL or text)
 *   M <role> <len>\n<bytes>\n              one message (repeatable)
 *   E\n                                    -> "R <enum> <status> <len>\n<bytes>\n"
 * Template files are looked up in the directory given after --serve.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat.h"
#include "gguf.h"
#include "check.h"

static const char *enum_name(enum chat_family f)
{
    switch (f) {
    case CHAT_FAMILY_CHATML: return "CHATML";
    case CHAT_FAMILY_QWEN3: return "QWEN3";
    case CHAT_FAMILY_LLAMA3: return "LLAMA3";
    case CHAT_FAMILY_DEEPSEEK_R1: return "DEEPSEEK_R1";
    case CHAT_FAMILY_SMOLVLM: return "SMOLVLM";
    case CHAT_FAMILY_QWEN25: return "QWEN25";
    case CHAT_FAMILY_LLAMA31: return "LLAMA31";
    }
    return "?";
}

/* ---- standalone checks ---------------------------------------------------- */

static char *render(enum chat_family f, const struct eng_chat_message *m, size_t n, bool gen,
                    bool think, const char *def, enum eng_status *st)
{
    struct eng_chat_params p = {gen, think, def};
    char *out = NULL;
    struct eng_err err = {{0}};
    *st = chat_render(f, m, n, &p, &out, &err);
    return out;
}

static void check_expect(enum chat_family f, const struct eng_chat_message *m, size_t n,
                         bool gen, bool think, const char *def, const char *want)
{
    enum eng_status st;
    char *got = render(f, m, n, gen, think, def, &st);
    CHECK(st == ENG_STATUS_OK && got && strcmp(got, want) == 0,
          "%s: got\n[%s]\nwant\n[%s]", enum_name(f), got ? got : "(null)", want);
    free(got);
}

static void test_fallback(void)
{
    CHECK(chat_detect(NULL, 0, "llama") == CHAT_FAMILY_LLAMA3, "llama fallback");
    CHECK(chat_detect(NULL, 0, "qwen3") == CHAT_FAMILY_QWEN3, "qwen3 fallback");
    CHECK(chat_detect(NULL, 0, "qwen2") == CHAT_FAMILY_CHATML, "qwen2 fallback");
    CHECK(chat_detect("{{ messages }}", 14, NULL) == CHAT_FAMILY_CHATML, "unknown fallback");
    /* the length bounds the search: the marker lies past it */
    const char *t = "xx<|start_header_id|>";
    CHECK(chat_detect(t, 2, "qwen2") == CHAT_FAMILY_CHATML, "length bound");
    CHECK(chat_detect(t, strlen(t), "qwen2") == CHAT_FAMILY_LLAMA3, "llama3 marker");
    CHECK(strcmp(chat_family_name(CHAT_FAMILY_QWEN25), "chatml") == 0, "qwen25 name");
    CHECK(strcmp(chat_family_name(CHAT_FAMILY_LLAMA31), "llama3") == 0, "llama31 name");
    CHECK(strcmp(chat_family_name(CHAT_FAMILY_DEEPSEEK_R1), "deepseek-r1") == 0, "r1 name");
    CHECK(strcmp(chat_family_name(CHAT_FAMILY_SMOLVLM), "smolvlm") == 0, "smolvlm name");
}

static void test_errors(void)
{
    struct eng_chat_message bad[] = {{"user", "hi"}, {"tool", "x"}};
    enum eng_status st;
    char *out = render(CHAT_FAMILY_QWEN3, bad, 2, true, true, NULL, &st);
    CHECK(st == ENG_STATUS_ERR_ARG && out == NULL, "unknown role must be refused");
    struct eng_chat_message null_role[] = {{NULL, "hi"}};
    out = render(CHAT_FAMILY_CHATML, null_role, 1, true, true, NULL, &st);
    CHECK(st == ENG_STATUS_ERR_ARG && out == NULL, "NULL role must be refused");
}

/* Expected strings written out from the templates' text (spec section 3). */
static void test_defaults(void)
{
    struct eng_chat_message u[] = {{"user", "hi"}};
    check_expect(CHAT_FAMILY_QWEN25, u, 1, true, true, NULL,
                 "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
                 "assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    check_expect(CHAT_FAMILY_QWEN25, u, 1, true, true, "",
                 "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    check_expect(CHAT_FAMILY_CHATML, u, 1, false, true, "Be brief.",
                 "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n");
    check_expect(CHAT_FAMILY_QWEN3, u, 1, true, false, NULL,
                 "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
    check_expect(CHAT_FAMILY_DEEPSEEK_R1, u, 1, true, true, NULL,
                 "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
                 "<\xef\xbd\x9cUser\xef\xbd\x9c>hi"
                 "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c><think>\n");
    struct eng_chat_message img[] = {{"user", "<image>Describe."}};
    check_expect(CHAT_FAMILY_SMOLVLM, img, 1, true, true, NULL,
                 "<|im_start|>User:<image>Describe.<end_of_utterance>\nAssistant:");
    /* The engine's media marker stands for an image: the same ":" rule. */
    struct eng_chat_message marked[] = {{"user", ENG_MEDIA_MARKER "Describe."}};
    check_expect(CHAT_FAMILY_SMOLVLM, marked, 1, true, true, NULL,
                 "<|im_start|>User:" ENG_MEDIA_MARKER "Describe.<end_of_utterance>\nAssistant:");
    /* no messages: only the generation prompt */
    check_expect(CHAT_FAMILY_QWEN25, NULL, 0, true, true, NULL, "<|im_start|>assistant\n");
}

/* GPT-2's bytes_to_unicode: printable bytes stand for themselves, the
 * other 68 map to U+0100 + k in byte order. Writes the UTF-8 symbol. */
static void byte_symbol(unsigned b, char out[4])
{
    unsigned k = 0, cp = b;
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    if (!printable) {
        for (unsigned i = 0; i < b; i++)
            k += !((i >= 33 && i <= 126) || (i >= 161 && i <= 172) || i >= 174);
        cp = 256 + k;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = '\0';
    } else {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        out[2] = '\0';
    }
}

/* A vocab of the 256 byte symbols and every family's end token at known ids
 * (256 + i), written as GGUF and read back by the real tokenizer. */
static void test_end_tokens(void)
{
    static const char *const specials[] = {
        "<|im_end|>",            /* 256 */
        "<|endoftext|>",         /* 257 */
        "<|eot_id|>",            /* 258 */
        "<|eom_id|>",            /* 259 */
        "<|end_of_text|>",       /* 260 */
        /* "<｜end▁of▁sentence｜>" in escapes (one string, split for the hex) */
        ("<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"), /* 261 */
        "<end_of_utterance>",    /* 262 */
        "<|im_start|>",          /* 263 */
    };
    enum { N_BYTES = 256, N_SPECIALS = sizeof(specials) / sizeof(specials[0]) };
    char symbols[N_BYTES][4];
    const char *tokens[N_BYTES + N_SPECIALS];
    int32_t types[N_BYTES + N_SPECIALS];
    for (int i = 0; i < N_BYTES; i++) {
        byte_symbol((unsigned)i, symbols[i]);
        tokens[i] = symbols[i];
        types[i] = 1;
    }
    for (int i = 0; i < N_SPECIALS; i++) {
        tokens[N_BYTES + i] = specials[i];
        types[N_BYTES + i] = 3;
    }
    struct eng_vocab v = {
        .pre = "qwen2", .tokens = tokens, .token_types = types,
        .n_tokens = N_BYTES + N_SPECIALS, .merges = NULL, .n_merges = 0,
        .bos_id = 263, .eos_id = 256, .eot_id = -1, .pad_id = -1, .add_bos = false,
    };
    char path[] = "/tmp/wenshu-test-chat-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0)
        return;
    close(fd);
    struct eng_err err = {{0}};
    struct gguf_file *f = NULL;
    struct tokenizer *tok = NULL;
    enum eng_status st = eng_vocab_write(&v, path, &err);
    if (st == ENG_STATUS_OK)
        st = gguf_open(path, &f, &err);
    if (st == ENG_STATUS_OK)
        st = tokenizer_from_gguf(f, &tok, &err);
    CHECK(st == ENG_STATUS_OK, "vocab round trip: %s", err.msg);
    if (st == ENG_STATUS_OK) {
        struct {
            enum chat_family family;
            int32_t want[4];
            size_t n;
        } cases[] = {
            {CHAT_FAMILY_QWEN3, {256, 257}, 2}, /* eos 256 is already listed */
            {CHAT_FAMILY_QWEN25, {256, 257}, 2},
            {CHAT_FAMILY_LLAMA31, {258, 259, 260, 256}, 4},
            {CHAT_FAMILY_DEEPSEEK_R1, {261, 256}, 2},
            {CHAT_FAMILY_SMOLVLM, {262, 256}, 2},
        };
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            int32_t ids[8];
            size_t n = chat_end_tokens(cases[c].family, tok, ids, 8);
            bool same = n == cases[c].n;
            for (size_t i = 0; same && i < n; i++)
                same = ids[i] == cases[c].want[i];
            CHECK(same, "end tokens of %s: got %zu ids", enum_name(cases[c].family), n);
        }
        int32_t one[1];
        CHECK(chat_end_tokens(CHAT_FAMILY_LLAMA3, tok, one, 1) == 1 && one[0] == 258,
              "capacity must bound the count");
    }
    tokenizer_free(&tok);
    gguf_close(&f);
    unlink(path);
}

static int run_checks(void)
{
    test_fallback();
    test_errors();
    test_defaults();
    test_end_tokens();
    if (n_fail)
        fprintf(stderr, "%d check(s) failed\n", n_fail);
    else
        printf("test-chat: all checks passed\n");
    return n_fail ? 1 : 0;
}

/* ---- driver for chat_ref.py ------------------------------------------------- */

/* Read the whole file dir/name; NULL when name is "-" or unreadable. */
static char *read_template(const char *dir, const char *name, size_t *len)
{
    *len = 0;
    if (strcmp(name, "-") == 0)
        return NULL;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "test-chat: cannot open %s\n", path);
        exit(2);
    }
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n + 4096 > cap) {
            cap = (n + 4096) * 2;
            buf = realloc(buf, cap);
            if (!buf)
                exit(2);
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

/* Read exactly n bytes plus the trailing newline into a new NUL-terminated string. */
static char *read_blob(size_t n)
{
    char *s = malloc(n + 1);
    if (!s || fread(s, 1, n, stdin) != n || fgetc(stdin) != '\n') {
        fprintf(stderr, "test-chat: short blob\n");
        exit(2);
    }
    s[n] = '\0';
    return s;
}

struct pending {
    enum chat_family family;
    struct eng_chat_params params;
    char *default_system;                /* owned; NULL when absent */
    struct eng_chat_message msgs[64];    /* roles and contents owned */
    size_t n_msgs;
};

static void pending_clear(struct pending *c)
{
    free(c->default_system);
    for (size_t i = 0; i < c->n_msgs; i++) {
        free((char *)c->msgs[i].role);
        free((char *)c->msgs[i].content);
    }
    memset(c, 0, sizeof(*c));
}

static enum chat_family detect_file(const char *dir, const char *name, const char *arch)
{
    size_t len;
    char *text = read_template(dir, name, &len);
    enum chat_family f = chat_detect(text, len, strcmp(arch, "-") == 0 ? NULL : arch);
    free(text);
    return f;
}

static void emit_render(struct pending *c)
{
    char *out = NULL;
    struct eng_err err = {{0}};
    c->params.default_system = c->default_system;
    enum eng_status st = chat_render(c->family, c->msgs, c->n_msgs, &c->params, &out, &err);
    size_t n = out ? strlen(out) : 0;
    printf("R %s %d %zu\n", enum_name(c->family), (int)st, n);
    fwrite(out ? out : "", 1, n, stdout);
    putchar('\n');
    fflush(stdout);
    free(out);
}

static int serve(const char *dir)
{
    struct pending c;
    memset(&c, 0, sizeof(c));
    char line[1024], a[512], b[512];
    while (fgets(line, sizeof(line), stdin)) {
        size_t n;
        int x, y;
        if (sscanf(line, "X %511s %511s", a, b) == 2) {
            enum chat_family f = detect_file(dir, a, b);
            printf("F %s %s\n", enum_name(f), chat_family_name(f));
            fflush(stdout);
        } else if (sscanf(line, "T %511s %511s", a, b) == 2) {
            pending_clear(&c);
            c.family = detect_file(dir, a, b);
        } else if (sscanf(line, "G %d %d", &x, &y) == 2) {
            c.params.add_generation_prompt = x != 0;
            c.params.enable_thinking = y != 0;
        } else if (strcmp(line, "D -\n") == 0) {
            free(c.default_system);
            c.default_system = NULL;
        } else if (sscanf(line, "D %zu", &n) == 1) {
            free(c.default_system);
            c.default_system = read_blob(n);
        } else if (sscanf(line, "M %511s %zu", a, &n) == 2) {
            if (c.n_msgs == sizeof(c.msgs) / sizeof(c.msgs[0]))
                return 2;
            c.msgs[c.n_msgs].role = strdup(a);
            c.msgs[c.n_msgs].content = read_blob(n);
            c.n_msgs++;
        } else if (strcmp(line, "E\n") == 0) {
            emit_render(&c);
        } else {
            fprintf(stderr, "test-chat: bad line: %s", line);
            return 2;
        }
    }
    pending_clear(&c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--serve") == 0)
        return serve(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: test-chat [--serve TEMPLATE_DIR]\n");
        return 2;
    }
    return run_checks();
}
