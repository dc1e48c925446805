/* test-mrope.c: the text decoder's multimodal inputs (session_eval_input):
 * embedding rows in place of token ids, explicit positions, and qwen2vl's
 * M-RoPE, on synth tiny models.
 *
 * Modes:
 *   test-mrope                CPU checks that need no reference:
 *     - qwen2vl with text only equals qwen2 with the same weights (all four
 *       position streams equal: M-RoPE is plain NEOX RoPE);
 *     - feeding the token-embedding rows of tokens as `embd` gives the logits
 *       of feeding the tokens (qwen2vl and llama);
 *     - explicit positions equal to the sequential ones change nothing;
 *     - an image block (grid gh x gw at p0: t = p0, h = p0 + i / gw,
 *       w = p0 + i % gw; the text goes on at p0 + max(gh, gw)) gives the
 *       same logits in any batch split, the next position counter follows,
 *       and truncating the cache inside or after the block restores it;
 *     - plain-RoPE models refuse non-sequential positions; inputs that do
 *       not fit the context are refused before any work;
 *     - a qwen2vl file with missing or invalid rope.dimension_sections is
 *       refused with a message naming the key;
 *     - the vision tokens of the small vocabs (Qwen2-VL's for qwen2vl,
 *       SmolVLM's for llama) are single special tokens with parse_special.
 *   test-mrope --dump DIR     writes the tiny qwen2vl model and, for a text
 *       prompt and a text + image + text prompt, the input rows, the
 *       positions and the CPU logits, for tests/test-mrope.py to compare
 *       with the float64 numpy reference (tests/reference/model_ref.py).
 *   test-mrope --vulkan       the image prompt on the best Vulkan device
 *       (lavapipe in CI) against the CPU: logits within 1e-3 * max|cpu|, and
 *       embd rows equal to tokens there too; no validation-layer errors
 *       (under WENSHU_VK_VALIDATION=1). Exits 77 only without a device.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "model.h"
#include "quant.h"
#include "wenshu-engine.h"
#ifdef WENSHU_HAVE_VULKAN
#include "vulkan/vk.h"
#endif

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* max |a - b| / max |b| over n values. */
static double rel_diff(const float *a, const float *b, int n)
{
    double max_diff = 0, max_ref = 1e-30;
    for (int i = 0; i < n; i++) {
        max_diff = fmax(max_diff, fabs((double)a[i] - b[i]));
        max_ref = fmax(max_ref, fabs((double)b[i]));
    }
    return max_diff / max_ref;
}

static uint64_t rng_state = 12345;

/* Uniform in [-1, 1) (splitmix64). */
static float rng_uniform(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

/* Write a tiny synth model of arch to path (vocab: the arch's own, or the
 * given one). */
static bool synth(const char *arch, const struct eng_vocab *vocab, const char *path)
{
    struct eng_synth_params sp = eng_synth_params_default();
    sp.arch = arch;
    sp.vocab = vocab;
    sp.path = path;
    struct eng_err err;
    if (eng_synth_write(&sp, &err) != ENG_STATUS_OK) {
        CHECK(0, "synth %s: %s", arch, err.msg);
        return false;
    }
    return true;
}

static struct eng_model *load(const char *path, int device)
{
    struct eng_model_params mp = eng_model_params_default();
    mp.path = path;
    mp.n_threads = 2;
    mp.device = device;
    struct eng_model *m = NULL;
    struct eng_err err;
    if (eng_model_load(&mp, &m, &err) != ENG_STATUS_OK)
        CHECK(0, "load %s: %s", path, err.msg);
    return m;
}

static struct eng_session *new_session(struct eng_model *m, int n_ctx, int n_batch)
{
    struct eng_session_params sp = eng_session_params_default();
    sp.n_ctx = n_ctx;
    sp.n_batch = n_batch;
    sp.n_threads = 2;
    struct eng_session *s = NULL;
    struct eng_err err;
    if (eng_session_new(m, &sp, &s, &err) != ENG_STATUS_OK)
        CHECK(0, "session: %s", err.msg);
    return s;
}

static bool eval(struct eng_session *s, const struct session_input *in, const char *what)
{
    struct eng_err err;
    enum eng_status st = session_eval_input(s, in, NULL, &err);
    CHECK(st == ENG_STATUS_OK, "%s: %s", what, err.msg);
    return st == ENG_STATUS_OK;
}

/* The token-embedding rows of tokens[n]: out[n][n_embd]. */
static void token_rows(const struct eng_model *m, const int32_t *tokens, int n, float *out)
{
    const struct cpu_matrix *e = &m->token_embd;
    for (int i = 0; i < n; i++)
        quant_dequantize_row(e->type, e->data + (size_t)tokens[i] * e->row_bytes,
                             out + (size_t)i * m->n_embd, m->n_embd);
}

/* ---- the test prompt: text, an image block, text --------------------------- */

enum { N_TEXT1 = 7, GRID_H = 3, GRID_W = 4, N_IMAGE = GRID_H * GRID_W, N_TEXT2 = 6 };
enum { N_PROMPT = N_TEXT1 + N_IMAGE + N_TEXT2 };

struct prompt {
    int32_t text1[N_TEXT1], text2[N_TEXT2];
    float *image;                   /* [N_IMAGE][n_embd] */
    int32_t image_pos[4 * N_IMAGE]; /* [4][N_IMAGE] */
    int n_embd;
};

/* Image rows on the scale of the token embeddings (synth: uniform * 0.1). */
static void prompt_init(struct prompt *p, int n_embd)
{
    p->n_embd = n_embd;
    for (int i = 0; i < N_TEXT1; i++)
        p->text1[i] = (int32_t)((i * 37 + 11) % 256);
    for (int i = 0; i < N_TEXT2; i++)
        p->text2[i] = (int32_t)((i * 53 + 7) % 256);
    p->image = malloc(sizeof(float) * N_IMAGE * (size_t)n_embd);
    for (int i = 0; i < N_IMAGE * n_embd; i++)
        p->image[i] = 0.1f * rng_uniform();
    /* Qwen2-VL positions of a gh x gw block at p0 = N_TEXT1 (HF get_rope_index). */
    for (int i = 0; i < N_IMAGE; i++) {
        p->image_pos[i] = N_TEXT1;
        p->image_pos[N_IMAGE + i] = N_TEXT1 + i / GRID_W;
        p->image_pos[2 * N_IMAGE + i] = N_TEXT1 + i % GRID_W;
        p->image_pos[3 * N_IMAGE + i] = 0;
    }
}

static struct session_input image_input(const struct prompt *p)
{
    return (struct session_input){.embd = p->image,
                                  .n = N_IMAGE,
                                  .pos = p->image_pos,
                                  .pos_advance = GRID_H > GRID_W ? GRID_H : GRID_W};
}

/* Evaluate the prompt in a fresh session with n_batch; the logits go to
 * out[n_vocab]. */
static void run_prompt(struct eng_model *m, const struct prompt *p, int n_batch, float *out)
{
    struct eng_session *s = new_session(m, 64, n_batch);
    if (!s)
        return;
    struct session_input t1 = {.tokens = p->text1, .n = N_TEXT1};
    struct session_input im = image_input(p);
    struct session_input t2 = {.tokens = p->text2, .n = N_TEXT2};
    if (eval(s, &t1, "text1") && eval(s, &im, "image") && eval(s, &t2, "text2"))
        memcpy(out, eng_session_logits(s), sizeof(float) * (size_t)m->n_vocab);
    eng_session_free(&s);
}

/* ---- CPU checks ------------------------------------------------------------------ */

/* A vocab for two archs alike, so their synth weights are the same stream:
 * the 256 byte symbols of GPT-2's bytes_to_unicode (printable bytes stand
 * for themselves, the others are U+0100 + k in byte order). */
struct test_vocab {
    char text[256][4];
    const char *tokens[256];
    int32_t types[256];
    struct eng_vocab vocab;
};

static void test_vocab_init(struct test_vocab *tv)
{
    memset(tv, 0, sizeof *tv);
    unsigned k = 0;
    for (unsigned b = 0; b < 256; b++) {
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        unsigned cp = printable ? b : 256 + k++;
        char *t = tv->text[b];
        if (cp < 0x80) {
            t[0] = (char)cp;
        } else {
            t[0] = (char)(0xC0 | (cp >> 6));
            t[1] = (char)(0x80 | (cp & 0x3F));
        }
        tv->tokens[b] = t;
        tv->types[b] = 1;
    }
    tv->vocab = (struct eng_vocab){.tokens = tv->tokens,
                                   .token_types = tv->types,
                                   .n_tokens = 256,
                                   .pre = "qwen2",
                                   .bos_id = -1,
                                   .eos_id = -1,
                                   .eot_id = -1,
                                   .pad_id = -1};
}

/* qwen2vl with text only = qwen2 on the same weights. */
static void check_text_equals_qwen2(const char *dir)
{
    struct test_vocab tv;
    test_vocab_init(&tv);
    char p2[512], pvl[512];
    snprintf(p2, sizeof p2, "%s/same-qwen2.gguf", dir);
    snprintf(pvl, sizeof pvl, "%s/same-qwen2vl.gguf", dir);
    if (!synth("qwen2", &tv.vocab, p2) || !synth("qwen2vl", &tv.vocab, pvl))
        return;
    struct eng_model *m2 = load(p2, ENG_DEVICE_CPU), *mvl = load(pvl, ENG_DEVICE_CPU);
    if (m2 && mvl) {
        CHECK(mvl->rope_mrope && !m2->rope_mrope, "rope_mrope flags");
        int32_t tokens[40];
        for (int i = 0; i < 40; i++)
            tokens[i] = (int32_t)((i * 29 + 3) % 256);
        float *l2 = malloc(sizeof(float) * (size_t)m2->n_vocab);
        struct eng_session *s2 = new_session(m2, 64, 16), *svl = new_session(mvl, 64, 16);
        struct eng_err err;
        if (s2 && svl && eng_session_eval(s2, tokens, 40, NULL, &err) == ENG_STATUS_OK &&
            eng_session_eval(svl, tokens, 40, NULL, &err) == ENG_STATUS_OK) {
            memcpy(l2, eng_session_logits(s2), sizeof(float) * (size_t)m2->n_vocab);
            double d = rel_diff(eng_session_logits(svl), l2, m2->n_vocab);
            printf("qwen2vl text vs qwen2, same weights: %.3g\n", d);
            CHECK(d == 0.0, "qwen2vl text-only differs from qwen2: %g", d);
        } else {
            CHECK(0, "eval: %s", err.msg);
        }
        eng_session_free(&s2);
        eng_session_free(&svl);
        free(l2);
    }
    eng_model_free(&m2);
    eng_model_free(&mvl);
    unlink(p2);
    unlink(pvl);
}

/* Token rows as embd equal the tokens; explicit sequential positions equal
 * none. On any device. */
static void check_embd_and_positions(struct eng_model *m, const char *tag)
{
    enum { N = 20 };
    int32_t tokens[N];
    for (int i = 0; i < N; i++)
        tokens[i] = (int32_t)((i * 41 + 17) % 256);
    float *rows = malloc(sizeof(float) * N * (size_t)m->n_embd);
    float *ref = malloc(sizeof(float) * (size_t)m->n_vocab);
    int32_t pos[4 * N];
    token_rows(m, tokens, N, rows);
    struct eng_session *s = new_session(m, 64, 8);
    if (!s)
        goto out;
    /* 3 tokens first, so positions start past 0. */
    struct session_input head = {.tokens = tokens, .n = 3};
    struct session_input by_ids = {.tokens = tokens + 3, .n = N - 3};
    if (!eval(s, &head, "head") || !eval(s, &by_ids, "ids"))
        goto out;
    memcpy(ref, eng_session_logits(s), sizeof(float) * (size_t)m->n_vocab);

    eng_session_truncate(s, 3);
    struct session_input by_rows = {.embd = rows + 3 * (size_t)m->n_embd, .n = N - 3};
    if (eval(s, &by_rows, "rows")) {
        double d = rel_diff(eng_session_logits(s), ref, m->n_vocab);
        printf("%s: embd rows vs token ids: %.3g\n", tag, d);
        CHECK(d < 1e-6, "%s: embd rows differ from token ids: %g", tag, d);
    }
    CHECK(session_next_pos(s) == N, "%s: next pos %d after %d rows", tag, session_next_pos(s), N);

    eng_session_truncate(s, 3);
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < N - 3; i++)
            pos[k * (N - 3) + i] = 3 + i;
    struct session_input explicit_pos = {
        .tokens = tokens + 3, .n = N - 3, .pos = pos, .pos_advance = N - 3};
    if (eval(s, &explicit_pos, "explicit positions")) {
        double d = rel_diff(eng_session_logits(s), ref, m->n_vocab);
        printf("%s: explicit sequential positions vs none: %.3g\n", tag, d);
        CHECK(d < 1e-6, "%s: explicit sequential positions differ: %g", tag, d);
    }
out:
    eng_session_free(&s);
    free(rows);
    free(ref);
}

/* The image prompt: batch splits, the next position, truncation. */
static void check_image_prompt(struct eng_model *m)
{
    struct prompt p;
    prompt_init(&p, m->n_embd);
    int n_vocab = m->n_vocab;
    float *whole = calloc((size_t)n_vocab, sizeof(float));
    float *split = calloc((size_t)n_vocab, sizeof(float));
    float *ones = calloc((size_t)n_vocab, sizeof(float));
    run_prompt(m, &p, 64, whole);
    run_prompt(m, &p, 5, split);
    run_prompt(m, &p, 1, ones);
    printf("qwen2vl image prompt: batch 5 vs 64: %.3g, batch 1 vs 64: %.3g\n",
           rel_diff(split, whole, n_vocab), rel_diff(ones, whole, n_vocab));
    CHECK(rel_diff(split, whole, n_vocab) < 1e-5, "image prompt, batch 5 vs 64");
    CHECK(rel_diff(ones, whole, n_vocab) < 1e-5, "image prompt, batch 1 vs 64");

    /* The same positions given row by row as explicit text-like inputs. */
    struct eng_session *s = new_session(m, 64, 16);
    if (!s)
        goto out;
    struct session_input t1 = {.tokens = p.text1, .n = N_TEXT1};
    struct session_input im = image_input(&p);
    struct session_input t2 = {.tokens = p.text2, .n = N_TEXT2};
    int advance = im.pos_advance;
    eval(s, &t1, "text1");
    CHECK(session_next_pos(s) == N_TEXT1, "next pos after text %d", session_next_pos(s));
    eval(s, &im, "image");
    CHECK(session_next_pos(s) == N_TEXT1 + advance, "next pos after image %d, want %d",
          session_next_pos(s), N_TEXT1 + advance);
    CHECK(eng_session_n_past(s) == N_TEXT1 + N_IMAGE, "n_past after image %d",
          eng_session_n_past(s));
    eval(s, &t2, "text2");
    CHECK(session_next_pos(s) == N_TEXT1 + advance + N_TEXT2, "next pos after text2 %d",
          session_next_pos(s));
    CHECK(rel_diff(eng_session_logits(s), whole, n_vocab) < 1e-5, "image prompt, batch 16");

    /* Truncate after the image and re-feed: the counter comes back. */
    eng_session_truncate(s, N_TEXT1 + N_IMAGE);
    CHECK(session_next_pos(s) == N_TEXT1 + advance, "next pos after truncate %d",
          session_next_pos(s));
    eval(s, &t2, "text2 again");
    CHECK(rel_diff(eng_session_logits(s), whole, n_vocab) < 1e-5,
          "truncate after the image and re-feed: %g",
          rel_diff(eng_session_logits(s), whole, n_vocab));
    /* Truncate inside the image: text goes on past the largest position so
     * far (row 5 of a 4-wide grid: h = p0 + 1, w = p0 + 1). */
    eng_session_truncate(s, N_TEXT1 + 6);
    CHECK(session_next_pos(s) == N_TEXT1 + 2, "next pos after a cut inside the image %d",
          session_next_pos(s));
    /* Truncate into the text: positions are the rows again. */
    eng_session_truncate(s, 4);
    CHECK(session_next_pos(s) == 4, "next pos after truncate to 4: %d", session_next_pos(s));
    eng_session_reset(s);
    CHECK(session_next_pos(s) == 0, "next pos after reset %d", session_next_pos(s));

    /* Too long: refused before any work. */
    eval(s, &t1, "text1");
    struct eng_err err;
    float *big = calloc(60 * (size_t)m->n_embd, sizeof(float));
    struct session_input too_long = {.embd = big, .n = 60};
    enum eng_status st = session_eval_input(s, &too_long, NULL, &err);
    CHECK(st == ENG_STATUS_ERR_CONTEXT && eng_session_n_past(s) == N_TEXT1 &&
              session_next_pos(s) == N_TEXT1,
          "overflow: status %d, n_past %d", (int)st, eng_session_n_past(s));
    free(big);
out:
    eng_session_free(&s);
    free(p.image);
    free(whole);
    free(split);
    free(ones);
}

/* A plain-RoPE model takes sequential positions only. */
static void check_plain_refuses(struct eng_model *m)
{
    struct eng_session *s = new_session(m, 32, 8);
    if (!s)
        return;
    int32_t tokens[4] = {1, 2, 3, 4};
    int32_t pos[16] = {0, 1, 2, 3, 0, 1, 1, 1, 0, 1, 2, 3, 0, 1, 2, 3};
    struct session_input in = {.tokens = tokens, .n = 4, .pos = pos, .pos_advance = 4};
    struct eng_err err;
    /* Row 0 (the only stream plain RoPE reads) is sequential: taken. */
    CHECK(session_eval_input(s, &in, NULL, &err) == ENG_STATUS_OK, "llama sequential: %s", err.msg);
    in.pos = pos + 4; /* row 0 now 0, 1, 1, 1 at next pos 4 */
    enum eng_status st = session_eval_input(s, &in, NULL, &err);
    CHECK(st == ENG_STATUS_ERR_ARG && eng_session_n_past(s) == 4,
          "llama with non-sequential positions: status %d", (int)st);
    eng_session_free(&s);
}

/* Rewrite src's tensors and KV pairs to path, with edit() applied to the
 * KV pairs. */
static bool rewrite(const char *src, const char *path, void (*edit)(struct gguf_writer *w))
{
    struct gguf_file *f = NULL;
    struct eng_err err;
    if (gguf_open(src, &f, &err) != ENG_STATUS_OK) {
        CHECK(0, "open %s: %s", src, err.msg);
        return false;
    }
    struct gguf_writer *w = gguf_writer_new();
    gguf_writer_copy_kv(w, f);
    edit(w);
    char names[64][96];
    for (uint64_t i = 0; i < f->n_tensors && i < 64; i++) {
        const struct gguf_tensor *t = &f->tensors[i];
        snprintf(names[i], sizeof names[i], "%.*s", (int)t->name.len, t->name.data);
        gguf_writer_add_tensor(w, names[i], t->type, t->n_dims, t->ne, t->data);
    }
    bool ok = f->n_tensors <= 64 && gguf_writer_write(w, path, &err) == ENG_STATUS_OK;
    CHECK(ok, "rewrite %s", path);
    gguf_writer_free(&w);
    gguf_close(&f);
    return ok;
}

static void sections_too_wide(struct gguf_writer *w)
{
    int32_t sec[4] = {4, 4, 4, 0}; /* 12 pairs; a 16-dim head has 8 */
    gguf_writer_set_arr_i32(w, "qwen2vl.rope.dimension_sections", sec, 4);
}

static void sections_three(struct gguf_writer *w)
{
    int32_t sec[3] = {2, 3, 3};
    gguf_writer_set_arr_i32(w, "qwen2vl.rope.dimension_sections", sec, 3);
}

static void sections_negative(struct gguf_writer *w)
{
    int32_t sec[4] = {-1, 3, 3, 0};
    gguf_writer_set_arr_i32(w, "qwen2vl.rope.dimension_sections", sec, 4);
}

/* A qwen2 file relabelled qwen2vl: every key but the sections. */
static void qwen2_as_qwen2vl(struct gguf_writer *w)
{
    gguf_writer_set_str(w, "general.architecture", "qwen2vl");
    gguf_writer_set_u32(w, "qwen2vl.context_length", 256);
    gguf_writer_set_u32(w, "qwen2vl.embedding_length", 64);
    gguf_writer_set_u32(w, "qwen2vl.block_count", 2);
    gguf_writer_set_u32(w, "qwen2vl.feed_forward_length", 128);
    gguf_writer_set_u32(w, "qwen2vl.attention.head_count", 4);
    gguf_writer_set_u32(w, "qwen2vl.attention.head_count_kv", 2);
    gguf_writer_set_f32(w, "qwen2vl.rope.freq_base", 1000000.0f);
}

static void check_refusals(const char *dir)
{
    char vl[512], q2[512], bad[512];
    snprintf(vl, sizeof vl, "%s/refuse-qwen2vl.gguf", dir);
    snprintf(q2, sizeof q2, "%s/refuse-qwen2.gguf", dir);
    snprintf(bad, sizeof bad, "%s/refuse-bad.gguf", dir);
    if (!synth("qwen2vl", NULL, vl) || !synth("qwen2", NULL, q2))
        return;
    struct {
        const char *src;
        void (*edit)(struct gguf_writer *w);
        const char *want; /* in the message */
    } cases[] = {
        {vl, sections_too_wide, "cover 12 pairs"},
        {vl, sections_three, "array of 4"},
        {vl, sections_negative, "invalid section -1"},
        {q2, qwen2_as_qwen2vl, "missing key qwen2vl.rope.dimension_sections"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!rewrite(cases[i].src, bad, cases[i].edit))
            continue;
        struct eng_model_params mp = eng_model_params_default();
        mp.path = bad;
        mp.device = ENG_DEVICE_CPU;
        struct eng_model *m = NULL;
        struct eng_err err = {0};
        enum eng_status st = eng_model_load(&mp, &m, &err);
        printf("refused: %s\n", err.msg);
        CHECK(st == ENG_STATUS_ERR_FORMAT && strstr(err.msg, cases[i].want),
              "case %zu: status %d, message \"%s\"", i, (int)st, err.msg);
        eng_model_free(&m);
        unlink(bad);
    }
    /* The well-formed original loads (so the refusals are the edits'). */
    struct eng_model *m = load(vl, ENG_DEVICE_CPU);
    CHECK(m && m->rope_sections[0] == 2 && m->rope_sections[1] == 3 && m->rope_sections[2] == 3 &&
              m->rope_sections[3] == 0,
          "tiny qwen2vl sections");
    struct eng_model_info info;
    if (m) {
        eng_model_get_info(m, &info);
        CHECK(strcmp(info.arch, "qwen2vl") == 0, "info arch %s", info.arch);
        CHECK(m->chat == CHAT_FAMILY_CHATML, "qwen2vl chat family %s", eng_chat_family(m));
    }
    eng_model_free(&m);
    unlink(vl);
    unlink(q2);
}

/* Each string is one token with parse_special, several without. */
static void check_special(struct eng_model *m, const char *const *texts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int32_t *ids = NULL, *plain = NULL;
        size_t n_ids = 0, n_plain = 0;
        struct eng_err err;
        eng_tokenize(m, texts[i], strlen(texts[i]), true, &ids, &n_ids, &err);
        eng_tokenize(m, texts[i], strlen(texts[i]), false, &plain, &n_plain, &err);
        CHECK(n_ids == 1 && n_plain > 1, "%s: %zu tokens special, %zu plain", texts[i], n_ids,
              n_plain);
        free(ids);
        free(plain);
    }
}

static void check_vocab(const char *dir)
{
    static const char *const qwen[] = {"<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
                                       "<|image_pad|>",    "<|video_pad|>",  "<|im_end|>"};
    static const char *const smol[] = {"<fake_token_around_image>",
                                       "<global-img>",
                                       "<image>",
                                       "<end_of_utterance>",
                                       "<row_1_col_1>",
                                       "<row_3_col_5>",
                                       "<row_6_col_6>",
                                       "<|eot_id|>"};
    char path[512];
    snprintf(path, sizeof path, "%s/vocab-qwen2vl.gguf", dir);
    if (synth("qwen2vl", NULL, path)) {
        struct eng_model *m = load(path, ENG_DEVICE_CPU);
        if (m)
            check_special(m, qwen, sizeof qwen / sizeof qwen[0]);
        eng_model_free(&m);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/vocab-llama.gguf", dir);
    if (synth("llama", NULL, path)) {
        struct eng_model *m = load(path, ENG_DEVICE_CPU);
        if (m) {
            check_special(m, smol, sizeof smol / sizeof smol[0]);
            /* A SmolVLM tile prompt: 3 + 2 specials around text. */
            const char *text = "<fake_token_around_image><row_2_col_4><image>\n<image>";
            int32_t *ids = NULL;
            size_t n_ids = 0;
            struct eng_err err;
            eng_tokenize(m, text, strlen(text), true, &ids, &n_ids, &err);
            CHECK(n_ids == 5, "tile prompt: %zu tokens", n_ids);
            free(ids);
        }
        eng_model_free(&m);
        unlink(path);
    }
}

static int run_cpu(const char *dir)
{
    check_refusals(dir);
    check_vocab(dir);
    char path[512];
    check_text_equals_qwen2(dir);
    snprintf(path, sizeof path, "%s/qwen2vl.gguf", dir);
    if (synth("qwen2vl", NULL, path)) {
        struct eng_model *m = load(path, ENG_DEVICE_CPU);
        if (m) {
            check_embd_and_positions(m, "qwen2vl cpu");
            check_image_prompt(m);
        }
        eng_model_free(&m);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/llama.gguf", dir);
    if (synth("llama", NULL, path)) {
        struct eng_model *m = load(path, ENG_DEVICE_CPU);
        if (m) {
            check_embd_and_positions(m, "llama cpu");
            check_plain_refuses(m);
        }
        eng_model_free(&m);
        unlink(path);
    }
    return failures;
}

/* ---- dumps for the numpy reference ------------------------------------------ */

static bool write_file(const char *dir, const char *name, const void *data, size_t bytes)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(data, 1, bytes, f) == bytes;
    if (f)
        ok = fclose(f) == 0 && ok;
    CHECK(ok, "cannot write %s", path);
    return ok;
}

/* model.gguf; text.tokens.i32 [n] and text.logits.f32; image.x.f32
 * [N_PROMPT][n_embd], image.pos.i32 [3][N_PROMPT] and image.logits.f32. */
static int run_dump(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    if (!synth("qwen2vl", NULL, path))
        return 1;
    struct eng_model *m = load(path, ENG_DEVICE_CPU);
    if (!m)
        return 1;
    size_t n_embd = (size_t)m->n_embd, n_vocab = (size_t)m->n_vocab;
    struct prompt p;
    prompt_init(&p, m->n_embd);

    /* Text only: 30 tokens in batches of 8. */
    int32_t tokens[30];
    for (int i = 0; i < 30; i++)
        tokens[i] = (int32_t)((i * 67 + 13) % (int)n_vocab);
    struct eng_session *s = new_session(m, 64, 8);
    struct eng_err err;
    if (s && eng_session_eval(s, tokens, 30, NULL, &err) == ENG_STATUS_OK) {
        write_file(dir, "text.tokens.i32", tokens, sizeof tokens);
        write_file(dir, "text.logits.f32", eng_session_logits(s), sizeof(float) * n_vocab);
    }
    eng_session_free(&s);

    /* Text, image, text in batches of 5 (the image spans three). */
    float *logits = calloc(n_vocab, sizeof(float));
    float *x = malloc(sizeof(float) * N_PROMPT * n_embd);
    int32_t pos[3 * N_PROMPT];
    run_prompt(m, &p, 5, logits);
    token_rows(m, p.text1, N_TEXT1, x);
    memcpy(x + N_TEXT1 * n_embd, p.image, sizeof(float) * N_IMAGE * n_embd);
    token_rows(m, p.text2, N_TEXT2, x + (N_TEXT1 + N_IMAGE) * n_embd);
    int after = N_TEXT1 + (GRID_H > GRID_W ? GRID_H : GRID_W);
    for (int k = 0; k < 3; k++) {
        int32_t *row = pos + k * N_PROMPT;
        for (int i = 0; i < N_TEXT1; i++)
            row[i] = i;
        for (int i = 0; i < N_IMAGE; i++)
            row[N_TEXT1 + i] = p.image_pos[k * N_IMAGE + i];
        for (int i = 0; i < N_TEXT2; i++)
            row[N_TEXT1 + N_IMAGE + i] = after + i;
    }
    write_file(dir, "image.x.f32", x, sizeof(float) * N_PROMPT * n_embd);
    write_file(dir, "image.pos.i32", pos, sizeof pos);
    write_file(dir, "image.logits.f32", logits, sizeof(float) * n_vocab);
    free(x);
    free(logits);
    free(p.image);
    eng_model_free(&m);
    return failures;
}

/* ---- Vulkan against the CPU ------------------------------------------------- */

static int run_vulkan(const char *dir)
{
    struct eng_err err;
    int n_dev = eng_devices_list(NULL, 0, &err);
    if (n_dev <= 0) {
        printf("SKIP: no Vulkan device (%s)\n", n_dev < 0 ? err.msg : "none listed");
        return 77;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/qwen2vl-vk.gguf", dir);
    if (!synth("qwen2vl", NULL, path))
        return 1;
    struct eng_model *cpu = load(path, ENG_DEVICE_CPU);
    struct eng_model *gpu = load(path, ENG_DEVICE_VULKAN);
    if (cpu && gpu) {
        struct eng_model_info info;
        eng_model_get_info(gpu, &info);
        printf("device: %s\n", info.device);
        struct prompt p;
        prompt_init(&p, cpu->n_embd);
        int n_vocab = cpu->n_vocab;
        float *lc = calloc((size_t)n_vocab, sizeof(float));
        float *lg = calloc((size_t)n_vocab, sizeof(float));
        float *lg1 = calloc((size_t)n_vocab, sizeof(float));
        run_prompt(cpu, &p, 64, lc);
        run_prompt(gpu, &p, 64, lg);
        run_prompt(gpu, &p, 5, lg1);
        printf("qwen2vl image prompt, vulkan vs cpu: batch 64 %.3g, batch 5 %.3g\n",
               rel_diff(lg, lc, n_vocab), rel_diff(lg1, lc, n_vocab));
        CHECK(rel_diff(lg, lc, n_vocab) < 1e-3, "vulkan vs cpu, batch 64: %g",
              rel_diff(lg, lc, n_vocab));
        CHECK(rel_diff(lg1, lc, n_vocab) < 1e-3, "vulkan vs cpu, batch 5: %g",
              rel_diff(lg1, lc, n_vocab));
        check_embd_and_positions(gpu, "qwen2vl vulkan");
        free(lc);
        free(lg);
        free(lg1);
        free(p.image);
    }
    eng_model_free(&gpu);
    eng_model_free(&cpu);
    unlink(path);
#ifdef WENSHU_HAVE_VULKAN
    /* Under WENSHU_VK_VALIDATION=1: the layer's error count (process-wide). */
    CHECK(vk_ctx_validation_errors(NULL) == 0, "%d Vulkan validation errors",
          vk_ctx_validation_errors(NULL));
#endif
    return failures;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--dump") == 0) {
        int r = run_dump(argv[2]);
        printf("%d failure(s)\n", failures);
        return r ? 1 : 0;
    }
    char dir[] = "/tmp/wenshu-mrope-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    int r = argc == 2 && strcmp(argv[1], "--vulkan") == 0 ? run_vulkan(dir) : run_cpu(dir);
    rmdir(dir);
    if (r == 77)
        return 77;
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
