/* media-prompt.c: an encoded image or clip evaluated in a session, wrapped in
 * the tokens its family's processor puts around it (eng_session_eval_media).
 *
 * The wrapper is assembled first as a list of pieces (token ids, or a block
 * of embedding rows with their positions), so that the whole of it is checked
 * against the context before anything is evaluated. Text between special
 * tokens is tokenized in one run, as the Hugging Face processor tokenizes the
 * expanded prompt (two adjacent "\n" become the "\n\n" token where the vocab
 * has one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "model.h"

/* One piece of the wrapped media: token ids, or embedding rows. */
struct piece {
    int32_t *tokens;    /* [n] owned, or NULL for rows */
    const float *embd;  /* [n][n_embd] rows of the media (not owned) */
    int32_t *pos;       /* rows: [4][n] positions relative to the piece's start, owned, or
                         * NULL for plain 1-D positions */
    int n;
    int pos_advance;    /* rows with pos: how far the next text position moves */
};

struct media_prompt {
    const struct eng_model *model;
    struct piece *pieces; /* [n_pieces], owned */
    int n_pieces, cap;
    char pending[512];    /* text not yet tokenized */
    size_t n_pending;
    int64_t n_total;      /* tokens and rows of all pieces */
};

static enum eng_status grow(struct media_prompt *mp, struct eng_err *err)
{
    if (mp->n_pieces < mp->cap)
        return ENG_STATUS_OK;
    int cap = mp->cap ? 2 * mp->cap : 16;
    struct piece *p = realloc(mp->pieces, sizeof *p * (size_t)cap);
    if (!p)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    mp->pieces = p;
    mp->cap = cap;
    return ENG_STATUS_OK;
}

/* Append token ids (copied) as a piece of their own. */
static enum eng_status add_tokens(struct media_prompt *mp, const int32_t *ids, size_t n,
                                  struct eng_err *err)
{
    if (n == 0)
        return ENG_STATUS_OK;
    enum eng_status st = grow(mp, err);
    if (st)
        return st;
    int32_t *copy = malloc(sizeof(int32_t) * n);
    if (!copy)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    memcpy(copy, ids, sizeof(int32_t) * n);
    mp->pieces[mp->n_pieces++] = (struct piece){.tokens = copy, .n = (int)n};
    mp->n_total += (int64_t)n;
    return ENG_STATUS_OK;
}

/* Tokenize the pending text into a piece. */
static enum eng_status flush_text(struct media_prompt *mp, struct eng_err *err)
{
    if (mp->n_pending == 0)
        return ENG_STATUS_OK;
    int32_t *ids = NULL;
    size_t n = 0;
    enum eng_status st = eng_tokenize(mp->model, mp->pending, mp->n_pending, false, &ids, &n,
                                      err);
    mp->n_pending = 0;
    if (st == ENG_STATUS_OK)
        st = add_tokens(mp, ids, n, err);
    free(ids);
    return st;
}

/* Queue plain text (tokenized with the text that follows it). */
static enum eng_status add_text(struct media_prompt *mp, const char *text, struct eng_err *err)
{
    size_t len = strlen(text);
    if (mp->n_pending + len > sizeof mp->pending) {
        enum eng_status st = flush_text(mp, err);
        if (st)
            return st;
        if (len > sizeof mp->pending)
            return eng_set_err(err, ENG_STATUS_ERR_ARG, "media prompt text too long");
    }
    memcpy(mp->pending + mp->n_pending, text, len);
    mp->n_pending += len;
    return ENG_STATUS_OK;
}

/* Append a special token, looked up by its text in the vocab. */
static enum eng_status add_special(struct media_prompt *mp, const char *text, struct eng_err *err)
{
    enum eng_status st = flush_text(mp, err);
    if (st)
        return st;
    int32_t id = tokenizer_find(mp->model->tok, text);
    if (id < 0)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "%s: the vocab has no %s token, which the vision projector's prompt "
                           "needs", mp->model->gguf ? mp->model->gguf->path : "the model", text);
    return add_tokens(mp, &id, 1, err);
}

/* Append n embedding rows; pos ([4][n], relative, taken over) may be NULL. */
static enum eng_status add_rows(struct media_prompt *mp, const float *embd, int n, int32_t *pos,
                                int pos_advance, struct eng_err *err)
{
    enum eng_status st = flush_text(mp, err);
    if (st == ENG_STATUS_OK)
        st = grow(mp, err);
    if (st) {
        free(pos);
        return st;
    }
    mp->pieces[mp->n_pieces++] = (struct piece){
        .embd = embd, .pos = pos, .n = n, .pos_advance = pos_advance};
    mp->n_total += n;
    return ENG_STATUS_OK;
}

static void media_prompt_free(struct media_prompt *mp)
{
    for (int i = 0; i < mp->n_pieces; i++) {
        free(mp->pieces[i].tokens);
        free(mp->pieces[i].pos);
    }
    free(mp->pieces);
}

/* ---- Qwen2-VL / Qwen2.5-VL ------------------------------------------------------ */

/* M-RoPE positions of the media rows, relative to the first (HF
 * get_rope_index): row (g, y, x) gets t = time index of group g, h = y,
 * w = x; returns [4][n] (the 4th stream = t) and the advance of the next
 * text position: 1 + the largest of them. */
static int32_t *qwen_positions(const struct eng_media *m, int *advance)
{
    size_t n = (size_t)m->n_tokens;
    int32_t *pos = malloc(sizeof(int32_t) * 4 * n);
    if (!pos)
        return NULL;
    bool qwen25 = strcmp(m->projector, "qwen2.5vl_merger") == 0;
    int max_pos = 0;
    size_t i = 0;
    for (int g = 0; g < m->grid_t; g++) {
        /* Qwen2.5-VL: (g * second_per_grid_t * tokens_per_second).long() */
        int t = m->is_video && qwen25 ? (int)((double)g * m->seconds_per_group * 2.0) : g;
        for (int y = 0; y < m->grid_h; y++)
            for (int x = 0; x < m->grid_w; x++, i++) {
                pos[i] = t;
                pos[n + i] = y;
                pos[2 * n + i] = x;
                pos[3 * n + i] = t;
                int top = t > y ? t : y;
                top = top > x ? top : x;
                max_pos = max_pos > top ? max_pos : top;
            }
    }
    *advance = max_pos + 1;
    return pos;
}

static enum eng_status build_qwen(struct media_prompt *mp, const struct eng_media *m,
                                  struct eng_err *err)
{
    if (!mp->model->rope_mrope)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "a %s image needs a qwen2vl text model (M-RoPE); this one is %s",
                           m->projector, mp->model->arch_name);
    if ((int64_t)m->grid_t * m->grid_h * m->grid_w != m->n_tokens)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "media grid %dx%dx%d does not match its %d "
                           "rows", m->grid_t, m->grid_h, m->grid_w, m->n_tokens);
    int advance = 0;
    int32_t *pos = qwen_positions(m, &advance);
    if (!pos)
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    enum eng_status st;
    if ((st = add_special(mp, "<|vision_start|>", err))) {
        free(pos);
        return st;
    }
    if ((st = add_rows(mp, m->embd, m->n_tokens, pos, advance, err)))
        return st;
    return add_special(mp, "<|vision_end|>", err);
}

/* ---- SmolVLM (Idefics3) --------------------------------------------------------- */

/* The rows of encoder image i. */
static const float *image_rows(const struct eng_media *m, int i)
{
    return m->embd + (size_t)i * m->tokens_per_image * m->n_embd;
}

/* "<fake_token_around_image><global-img>" rows "<fake_token_around_image>" */
static enum eng_status add_global_image(struct media_prompt *mp, const struct eng_media *m,
                                        int i, struct eng_err *err)
{
    enum eng_status st;
    if ((st = add_special(mp, "<fake_token_around_image>", err)) ||
        (st = add_special(mp, "<global-img>", err)) ||
        (st = add_rows(mp, image_rows(m, i), m->tokens_per_image, NULL, 0, err)))
        return st;
    return add_special(mp, "<fake_token_around_image>", err);
}

static enum eng_status build_smolvlm_image(struct media_prompt *mp, const struct eng_media *m,
                                           struct eng_err *err)
{
    enum eng_status st = ENG_STATUS_OK;
    for (int r = 0; r < m->n_rows && !st; r++) {
        for (int c = 0; c < m->n_cols && !st; c++) {
            char tile[48];
            snprintf(tile, sizeof tile, "<row_%d_col_%d>", r + 1, c + 1);
            if ((st = add_special(mp, "<fake_token_around_image>", err)) ||
                (st = add_special(mp, tile, err)))
                break;
            st = add_rows(mp, image_rows(m, r * m->n_cols + c), m->tokens_per_image, NULL, 0,
                          err);
        }
        if (!st)
            st = add_text(mp, "\n", err);
    }
    if (!st && m->n_rows > 0)
        st = add_text(mp, "\n", err);
    return st ? st : add_global_image(mp, m, m->n_images - 1, err);
}

/* English number words as num2words writes them ("sixty-four", "one hundred
 * and two"), for 0 <= n < 1000000. */
static void number_words(int n, char *out, size_t size)
{
    static const char *const ones[] = {
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen"};
    static const char *const tens[] = {"", "", "twenty", "thirty", "forty", "fifty", "sixty",
                                       "seventy", "eighty", "ninety"};
    if (n >= 1000) {
        char high[96], low[96];
        number_words(n / 1000, high, sizeof high);
        if (n % 1000 == 0) {
            snprintf(out, size, "%s thousand", high);
            return;
        }
        number_words(n % 1000, low, sizeof low);
        snprintf(out, size, "%.60s thousand%s%.60s", high, n % 1000 < 100 ? " and " : ", ", low);
    } else if (n >= 100) {
        char low[48];
        number_words(n % 100, low, sizeof low);
        if (n % 100 == 0)
            snprintf(out, size, "%s hundred", ones[n / 100]);
        else
            snprintf(out, size, "%s hundred and %.40s", ones[n / 100], low);
    } else if (n >= 20) {
        if (n % 10 == 0)
            snprintf(out, size, "%s", tens[n / 10]);
        else
            snprintf(out, size, "%s-%s", tens[n / 10], ones[n % 10]);
    } else {
        snprintf(out, size, "%s", ones[n]);
    }
}

/* SmolVLM2's video prompt (HF video_processing_smolvlm.py): the intro with
 * the frame count in words and the duration as H:MM:SS, each frame after
 * "\nFrame from mm:ss:", then "\n\n". */
static enum eng_status build_smolvlm_video(struct media_prompt *mp, const struct eng_media *m,
                                           double duration, struct eng_err *err)
{
    char words[192], intro[384];
    number_words(m->n_images, words, sizeof words);
    int secs = duration > 0 ? (int)duration : 0;
    snprintf(intro, sizeof intro,
             "You are provided the following series of %s frames from a %d:%02d:%02d [H:MM:SS] "
             "video.\n", words, secs / 3600, secs / 60 % 60, secs % 60);
    enum eng_status st = add_text(mp, intro, err);
    for (int f = 0; f < m->n_images && !st; f++) {
        double t = m->frame_times && f < m->n_frames ? m->frame_times[f] : 0.0;
        int ts = t > 0 ? (int)t : 0;
        char stamp[48];
        snprintf(stamp, sizeof stamp, "\nFrame from %02d:%02d:", ts / 60, ts % 60);
        if (!(st = add_text(mp, stamp, err)))
            st = add_global_image(mp, m, f, err);
    }
    return st ? st : add_text(mp, "\n\n", err);
}

/* ---- evaluation ------------------------------------------------------------------ */

static enum eng_status build(struct media_prompt *mp, const struct eng_media *m,
                             struct eng_err *err)
{
    if (strncmp(m->projector, "qwen", 4) == 0)
        return build_qwen(mp, m, err);
    if (mp->model->arch != MODEL_ARCH_LLAMA)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT, "an %s image needs a llama (SmolVLM) text "
                           "model; this one is %s", m->projector, mp->model->arch_name);
    if (m->tokens_per_image <= 0 || (int64_t)m->n_images * m->tokens_per_image != m->n_tokens)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "media of %d images x %d rows does not match "
                           "its %d rows", m->n_images, m->tokens_per_image, m->n_tokens);
    enum eng_status st;
    if (m->is_video) {
        st = build_smolvlm_video(mp, m, m->duration, err);
    } else {
        st = build_smolvlm_image(mp, m, err);
    }
    return st ? st : flush_text(mp, err);
}

static enum eng_status eval_piece(struct eng_session *s, const struct piece *p,
                                  const volatile int *cancel, struct eng_err *err)
{
    struct session_input in = {.tokens = p->tokens, .embd = p->tokens ? NULL : p->embd,
                               .n = p->n, .pos = NULL, .pos_advance = p->n};
    int32_t *abs_pos = NULL;
    if (p->pos) {
        /* Relative positions become absolute from the next text position. */
        size_t n4 = 4 * (size_t)p->n;
        abs_pos = malloc(sizeof(int32_t) * n4);
        if (!abs_pos)
            return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
        int p0 = session_next_pos(s);
        for (size_t i = 0; i < n4; i++)
            abs_pos[i] = p0 + p->pos[i];
        in.pos = abs_pos;
        in.pos_advance = p->pos_advance;
    }
    enum eng_status st = session_eval_input(s, &in, cancel, err);
    free(abs_pos);
    return st;
}

enum eng_status eng_session_eval_media(struct eng_session *s, const struct eng_media *media,
                                       const volatile int *cancel, struct eng_err *err)
{
    const struct eng_model *model = session_model(s);
    if (!media || !media->embd || media->n_tokens <= 0)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "no encoded media to evaluate");
    if (media->n_embd != model->n_embd)
        return eng_set_err(err, ENG_STATUS_ERR_FORMAT,
                           "the media rows are %d wide but the text model's embedding width is "
                           "%d (a projector for another model)", media->n_embd, model->n_embd);
    struct media_prompt mp = {.model = model};
    enum eng_status st = build(&mp, media, err);
    int n_free = eng_session_n_ctx(s) - eng_session_n_past(s);
    if (st == ENG_STATUS_OK && mp.n_total > n_free)
        st = eng_set_err(err, ENG_STATUS_ERR_CONTEXT,
                         "the %s of %lld tokens does not fit the context: %d of %d tokens are "
                         "used, %d are free", media->is_video ? "clip" : "image",
                         (long long)mp.n_total, eng_session_n_past(s), eng_session_n_ctx(s),
                         n_free);
    for (int i = 0; st == ENG_STATUS_OK && i < mp.n_pieces; i++)
        st = eval_piece(s, &mp.pieces[i], cancel, err);
    media_prompt_free(&mp);
    return st;
}
