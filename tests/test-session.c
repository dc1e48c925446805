/* test-session.c: the session API on synth tiny models (qwen2, qwen3, llama).
 *
 * Checks what the numpy reference test cannot see from outside:
 *  - batched prefill gives the same logits as feeding tokens one at a time,
 *    and as batches of other sizes (the batch split must not matter);
 *  - truncating the cache and re-feeding gives the logits of a fresh run;
 *  - generation streams the generated tokens' bytes as whole characters
 *    (checked against a reference WHATWG decoding of all bytes at once), stops
 *    when the callback says so, and is cancelled between tokens;
 *  - an input that does not fit the context is refused without evaluating.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wenshu-engine.h"

static int failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                    \
            printf(__VA_ARGS__);                                                           \
            printf("\n");                                                                  \
            failures++;                                                                    \
        }                                                                                  \
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

static struct eng_session *new_session(struct eng_model *m, int n_ctx, int n_batch)
{
    struct eng_session_params sp = eng_session_params_default();
    sp.n_ctx = n_ctx;
    sp.n_batch = n_batch;
    sp.n_threads = 2;
    struct eng_session *s = NULL;
    struct eng_err err;
    if (eng_session_new(m, &sp, &s, &err) != ENG_STATUS_OK)
        printf("session: %s\n", err.msg);
    return s;
}

/* Logits after feeding tokens[0..n) in batches of `batch`. Caller frees. */
static float *logits_with_batches(struct eng_model *m, const int32_t *tokens, int n, int batch,
                                  int n_vocab)
{
    struct eng_session *s = new_session(m, 128, batch);
    float *out = malloc(sizeof(float) * (size_t)n_vocab);
    struct eng_err err;
    for (int i = 0; s && i < n; i += batch) {
        int k = n - i < batch ? n - i : batch;
        if (eng_session_eval(s, tokens + i, (size_t)k, NULL, &err) != ENG_STATUS_OK)
            printf("eval: %s\n", err.msg);
    }
    if (s)
        memcpy(out, eng_session_logits(s), sizeof(float) * (size_t)n_vocab);
    eng_session_free(&s);
    return out;
}

/* Reference UTF-8 decoding, written from the WHATWG Encoding standard (as
 * node's Buffer.toString does): valid sequences are copied, and each maximal
 * subpart of an invalid one becomes U+FFFD. Returns the bytes written to out
 * (capacity 3 * len). Independent of engine/tokenizer.c's decoder. */
static size_t whatwg_decode(const char *in, size_t len, char *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, n = 0;
    while (i < len) {
        unsigned char b = s[i];
        int need = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (b < 0x80) {
            out[n++] = (char)b;
            i++;
            continue;
        } else if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            lo = b == 0xE0 ? 0xA0 : 0x80;
            hi = b == 0xED ? 0x9F : 0xBF;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            lo = b == 0xF0 ? 0x90 : 0x80;
            hi = b == 0xF4 ? 0x8F : 0xBF;
        }
        size_t j = i + 1;
        int got = 0;
        while (need > 0 && got < need && j < len && s[j] >= lo && s[j] <= hi) {
            lo = 0x80;
            hi = 0xBF;
            got++;
            j++;
        }
        if (need > 0 && got == need) {
            memcpy(out + n, s + i, j - i);
            n += j - i;
        } else {
            memcpy(out + n, "\xEF\xBF\xBD", 3); /* U+FFFD */
            n += 3;
        }
        i = need > 0 ? j : i + 1;
    }
    return n;
}

struct stream_state {
    char text[4096];
    size_t len;
    int n_calls;
    int stop_after;        /* callback returns false after this many calls */
    volatile int *cancel;  /* set after cancel_after calls */
    int cancel_after;
};

static bool on_token(int32_t token, const char *text, size_t len, void *user_data)
{
    (void)token;
    struct stream_state *st = user_data;
    if (st->len + len < sizeof st->text) {
        memcpy(st->text + st->len, text, len);
        st->len += len;
    }
    st->n_calls++;
    if (st->cancel && st->n_calls == st->cancel_after)
        *st->cancel = 1;
    return st->stop_after <= 0 || st->n_calls < st->stop_after;
}

static void test_arch(const char *arch, const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/session-%s.gguf", dir, arch);
    struct eng_synth_params sp = eng_synth_params_default();
    sp.arch = arch;
    sp.path = path;
    struct eng_err err;
    if (eng_synth_write(&sp, &err) != ENG_STATUS_OK) {
        CHECK(0, "synth %s: %s", arch, err.msg);
        return;
    }
    struct eng_model_params mp = eng_model_params_default();
    mp.path = path;
    mp.n_threads = 2;
    struct eng_model *m = NULL;
    if (eng_model_load(&mp, &m, &err) != ENG_STATUS_OK) {
        CHECK(0, "load %s: %s", arch, err.msg);
        return;
    }
    struct eng_model_info info;
    eng_model_get_info(m, &info);
    const int n_vocab = info.n_vocab;

    /* 1. Batch split does not matter. */
    int32_t tokens[50];
    for (int i = 0; i < 50; i++)
        tokens[i] = (int32_t)((i * 37 + 11) % 256);
    float *one = logits_with_batches(m, tokens, 50, 1, n_vocab);
    float *all = logits_with_batches(m, tokens, 50, 50, n_vocab);
    float *odd = logits_with_batches(m, tokens, 50, 7, n_vocab);
    CHECK(rel_diff(all, one, n_vocab) < 1e-5, "%s: batch 50 vs 1: %g", arch,
          rel_diff(all, one, n_vocab));
    CHECK(rel_diff(odd, one, n_vocab) < 1e-5, "%s: batch 7 vs 1: %g", arch,
          rel_diff(odd, one, n_vocab));

    /* 2. Truncate and re-feed equals a fresh run. */
    struct eng_session *s = new_session(m, 128, 16);
    int32_t other[20];
    for (int i = 0; i < 20; i++)
        other[i] = (int32_t)((i * 91 + 5) % 256);
    eng_session_eval(s, tokens, 30, NULL, &err);
    eng_session_eval(s, other, 20, NULL, &err);
    eng_session_truncate(s, 30);
    CHECK(eng_session_n_past(s) == 30, "%s: n_past after truncate %d", arch,
          eng_session_n_past(s));
    eng_session_eval(s, tokens + 30, 20, NULL, &err);
    CHECK(rel_diff(eng_session_logits(s), one, n_vocab) < 1e-5,
          "%s: truncate and re-feed: %g", arch, rel_diff(eng_session_logits(s), one, n_vocab));

    /* 3. Streaming: text equals the tokens' bytes; stop and cancel. */
    eng_session_reset(s);
    struct stream_state st = {0};
    struct eng_generate_params gp = eng_generate_params_default();
    gp.n_predict = 12;
    gp.sampler.temperature = 0;
    gp.stop_at_end = false;
    gp.on_token = on_token;
    gp.user_data = &st;
    int32_t *gen = NULL;
    size_t n_gen = 0;
    enum eng_status status = eng_session_generate(s, tokens, 10, &gp, &gen, &n_gen, &err);
    CHECK(status == ENG_STATUS_OK && n_gen == 12, "%s: generate: %d, %zu tokens", arch,
          (int)status, n_gen);
    char expect[4096];
    size_t expect_len = 0;
    for (size_t i = 0; i < n_gen; i++) {
        size_t l;
        const char *b = eng_token_bytes(m, gen[i], &l);
        memcpy(expect + expect_len, b, l);
        expect_len += l;
    }
    /* The stream must equal the whole byte string decoded at once, with
     * invalid UTF-8 replaced as the WHATWG decoder does (reference below). */
    char decoded[3 * sizeof expect];
    size_t decoded_len = whatwg_decode(expect, expect_len, decoded);
    CHECK(st.len == decoded_len && memcmp(st.text, decoded, decoded_len) == 0,
          "%s: streamed text (%zu bytes) differs from the decoded tokens (%zu bytes)", arch,
          st.len, decoded_len);
    CHECK(eng_session_n_past(s) == 10 + 11, "%s: n_past after generate %d", arch,
          eng_session_n_past(s));
    free(gen);

    eng_session_reset(s);
    st = (struct stream_state){.stop_after = 3};
    status = eng_session_generate(s, tokens, 10, &gp, &gen, &n_gen, &err);
    CHECK(status == ENG_STATUS_OK && n_gen == 3, "%s: callback stop: %d, %zu tokens", arch,
          (int)status, n_gen);
    free(gen);

    eng_session_reset(s);
    volatile int cancel = 0;
    st = (struct stream_state){.cancel = &cancel, .cancel_after = 4};
    gp.cancel = &cancel;
    status = eng_session_generate(s, tokens, 10, &gp, &gen, &n_gen, &err);
    CHECK(status == ENG_STATUS_CANCELLED && n_gen == 4, "%s: cancel: %d, %zu tokens", arch,
          (int)status, n_gen);
    free(gen);
    eng_session_free(&s);

    /* 4. Too long for the context: refused, nothing evaluated. */
    s = new_session(m, 32, 16);
    eng_session_eval(s, tokens, 20, NULL, &err);
    status = eng_session_eval(s, tokens, 20, NULL, &err);
    CHECK(status == ENG_STATUS_ERR_CONTEXT && eng_session_n_past(s) == 20,
          "%s: overflow: status %d, n_past %d", arch, (int)status, eng_session_n_past(s));
    CHECK(strstr(err.msg, "context") != NULL, "%s: overflow message: %s", arch, err.msg);
    eng_session_free(&s);

    free(one);
    free(all);
    free(odd);
    eng_model_free(&m);
    unlink(path);
}

int main(void)
{
    char dir[] = "/tmp/wenshu-session-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    test_arch("qwen2", dir);
    test_arch("qwen3", dir);
    test_arch("llama", dir);
    rmdir(dir);
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
