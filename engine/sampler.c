/* sampler.c: choosing the next token from logits.
 *
 * The chain follows llama.cpp's default order: penalties, then greedy
 * (temperature <= 0) or top-k -> top-p -> min-p -> temperature -> softmax ->
 * draw. Top-p and min-p see the untempered probabilities, as in llama.cpp.
 * Definitions:
 *  - repeat penalty: a seen token's logit is divided by the penalty when
 *    positive, multiplied when <= 0; then count * frequency_penalty and
 *    presence_penalty (once) are subtracted. "Seen" means in the last
 *    penalty_last_n accepted tokens (<= 0: no penalties).
 *  - top-k keeps the k highest logits; top-p the shortest prefix of the
 *    sorted candidates whose probability mass reaches top_p (normalized over
 *    the candidates top-k left, or the whole vocab without top-k); min-p the
 *    candidates with p >= min_p * p_max. Ties in logit are ordered by lower
 *    id first, so every set is well defined; greedy picks the lowest id among
 *    equal maxima.
 *  - the draw walks the candidates in (logit desc, id asc) order after
 *    top-k, in id order otherwise, with u in [0, 1) from xoshiro256**
 *    seeded by splitmix64(seed).
 *
 * Cost at n_vocab 151936: a copy of the logits, then a heap selection for
 * top-k, or a threshold pre-filter (min-p, or a widening band below the max
 * logit for top-p) whose top-p edge is found by bucketing the logits, so that
 * only top-k's k candidates or one bucket are ever sorted, never the vocab.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "sampler.h"

struct cand {
    int32_t id;
    float logit;
};

struct sampler {
    struct eng_sampler_params params;
    int n_vocab;
    uint64_t rng[4];     /* xoshiro256** state */
    int32_t *ring;       /* [penalty_last_n] the last accepted tokens, oldest at ring_head */
    int ring_len;        /* tokens held (<= penalty_last_n) */
    int ring_head;
    int32_t *counts;     /* [n_vocab] occurrences of each token in the ring */
    float *work;         /* [n_vocab] logits after the penalties */
    struct cand *cands;  /* [n_vocab] candidates, best first once sorted */
    double *probs;       /* [n_vocab] unnormalized probabilities of the candidates */
    struct cand *scratch; /* [n_vocab] the tokens of top-p's edge bucket */
};

/* ---- random numbers --------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t xoshiro_next(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* A uniform double in [0, 1) from the top 53 bits. */
static double rng_uniform(uint64_t s[4])
{
    return (double)(xoshiro_next(s) >> 11) * 0x1.0p-53;
}

/* ---- life cycle ------------------------------------------------------------- */

struct sampler *sampler_new(const struct eng_sampler_params *params, int n_vocab)
{
    ENG_ASSERT(params && n_vocab > 0);
    struct sampler *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->params = *params;
    s->n_vocab = n_vocab;
    uint64_t x = params->seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&x);
    int last_n = params->penalty_last_n > 0 ? params->penalty_last_n : 0;
    s->params.penalty_last_n = last_n;
    s->ring = malloc((size_t)(last_n ? last_n : 1) * sizeof(*s->ring));
    s->counts = calloc((size_t)n_vocab, sizeof(*s->counts));
    s->work = malloc((size_t)n_vocab * sizeof(*s->work));
    s->cands = malloc((size_t)n_vocab * sizeof(*s->cands));
    s->probs = malloc((size_t)n_vocab * sizeof(*s->probs));
    s->scratch = malloc((size_t)n_vocab * sizeof(*s->scratch));
    if (!s->ring || !s->counts || !s->work || !s->cands || !s->probs || !s->scratch)
        sampler_free(&s);
    return s;
}

void sampler_free(struct sampler **s)
{
    if (!s || !*s)
        return;
    free((*s)->ring);
    free((*s)->counts);
    free((*s)->work);
    free((*s)->cands);
    free((*s)->probs);
    free((*s)->scratch);
    free(*s);
    *s = NULL;
}

void sampler_accept(struct sampler *s, int32_t token)
{
    int last_n = s->params.penalty_last_n;
    if (last_n == 0 || token < 0 || token >= s->n_vocab)
        return;
    if (s->ring_len == last_n) {
        s->counts[s->ring[s->ring_head]]--;
        s->ring[s->ring_head] = token;
        s->ring_head = (s->ring_head + 1) % last_n;
    } else {
        s->ring[(s->ring_head + s->ring_len) % last_n] = token;
        s->ring_len++;
    }
    s->counts[token]++;
}

/* ---- penalties --------------------------------------------------------------- */

/* The largest of w[n], with eight running maxima so that the loop is not
 * one long dependency chain (and vectorizes). */
static float max_of(const float *w, int n)
{
    float lanes[8];
    for (int j = 0; j < 8; j++)
        lanes[j] = -INFINITY;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int j = 0; j < 8; j++)
            lanes[j] = w[i + j] > lanes[j] ? w[i + j] : lanes[j];
    }
    for (; i < n; i++)
        lanes[0] = w[i] > lanes[0] ? w[i] : lanes[0];
    float max = lanes[0];
    for (int j = 1; j < 8; j++)
        max = lanes[j] > max ? lanes[j] : max;
    return max;
}

/* The lowest id whose value is max (which occurs in w). */
static int32_t first_index_of(const float *w, int n, float max)
{
    for (int i = 0; i < n; i++) {
        if (w[i] == max)
            return i;
    }
    return 0;
}

/* Copy logits into s->work (NaN read as -inf) and apply the penalties once
 * per distinct token in the ring. Returns the largest penalized logit. */
static float load_logits(struct sampler *s, const float *logits)
{
    const struct eng_sampler_params *p = &s->params;
    float *w = s->work;
    for (int i = 0; i < s->n_vocab; i++)
        w[i] = isnan(logits[i]) ? -INFINITY : logits[i];
    bool active = p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f ||
                  p->presence_penalty != 0.0f;
    if (active) {
        /* a token's count is negated once applied, and restored below */
        for (int k = 0; k < s->ring_len; k++) {
            int32_t t = s->ring[k];
            int32_t count = s->counts[t];
            if (count <= 0)
                continue;
            if (w[t] <= 0.0f)
                w[t] *= p->repeat_penalty;
            else
                w[t] /= p->repeat_penalty;
            w[t] -= (float)count * p->frequency_penalty + p->presence_penalty;
            s->counts[t] = -count;
        }
        for (int k = 0; k < s->ring_len; k++) {
            int32_t t = s->ring[k];
            if (s->counts[t] < 0)
                s->counts[t] = -s->counts[t];
        }
    }
    return max_of(w, s->n_vocab);
}

/* ---- candidate sets ------------------------------------------------------------ */

/* Whether a ranks before b: higher logit, then lower id. */
static bool cand_better(struct cand a, struct cand b)
{
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

static int cand_cmp(const void *pa, const void *pb)
{
    struct cand a = *(const struct cand *)pa, b = *(const struct cand *)pb;
    return cand_better(a, b) ? -1 : cand_better(b, a) ? 1 : 0;
}

/* Restore the heap below index i; the root is the worst candidate. */
static void heap_sift_down(struct cand *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, worst = i;
        if (l < n && cand_better(h[worst], h[l]))
            worst = l;
        if (r < n && cand_better(h[worst], h[r]))
            worst = r;
        if (worst == i)
            return;
        struct cand t = h[i];
        h[i] = h[worst];
        h[worst] = t;
        i = worst;
    }
}

/* The k best of w[n] into c[0..k), sorted best first. */
static int select_top_k(const float *w, int n, int k, struct cand *c)
{
    for (int i = 0; i < k; i++)
        c[i] = (struct cand){i, w[i]};
    for (int i = k / 2 - 1; i >= 0; i--)
        heap_sift_down(c, k, i);
    for (int i = k; i < n; i++) {
        if (w[i] > c[0].logit) { /* equal logits lose: their ids are higher */
            c[0] = (struct cand){i, w[i]};
            heap_sift_down(c, k, 0);
        }
    }
    qsort(c, (size_t)k, sizeof(*c), cand_cmp);
    return k;
}

/* Every token with w >= threshold into c, in id order. */
static int select_above(const float *w, int n, float threshold, struct cand *c)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (w[i] >= threshold)
            c[m++] = (struct cand){i, w[i]};
    }
    return m;
}

/* The length of the shortest prefix of the sorted c[m] whose mass reaches
 * top_p, where z = sum of exp(logit - max) over the set top-p normalizes by. */
static int top_p_cut(const struct cand *c, int m, float max, double z, float top_p)
{
    double target = (double)top_p * z, cum = 0.0;
    for (int i = 0; i < m; i++) {
        cum += expf(c[i].logit - max);
        if (cum >= target)
            return i + 1;
    }
    return m;
}

enum { N_BUCKETS = 1024 };

/* The bucket of a logit in [lo, max]: 0 holds the largest. */
static int bucket_of(float logit, float max, float scale)
{
    int b = (int)((max - logit) * scale);
    return b < 0 ? 0 : b >= N_BUCKETS ? N_BUCKETS - 1 : b;
}

/* Top-p on c[m] in id order without sorting it: bucket the logits, find the
 * bucket where the mass (in rank order) reaches top_p * z, and sort only that
 * bucket's tokens to find the last one kept. Keeps c in id order and returns
 * the new count; *reached is false when all of c holds less than the target. */
static int top_p_unsorted(struct sampler *s, struct cand *c, int m, float max, double z,
                          float top_p, bool *reached)
{
    double target = (double)top_p * z, total = 0.0;
    float lo = max;
    for (int i = 0; i < m; i++) {
        total += expf(c[i].logit - max);
        lo = c[i].logit < lo ? c[i].logit : lo;
    }
    *reached = total >= target;
    if (!*reached)
        return m;
    double mass[N_BUCKETS] = {0}; /* [N_BUCKETS] exp mass per bucket */
    float scale = max > lo ? (float)(N_BUCKETS - 1) / (max - lo) : 0.0f;
    for (int i = 0; i < m; i++)
        mass[bucket_of(c[i].logit, max, scale)] += expf(c[i].logit - max);
    int edge = 0;
    double before = 0.0; /* mass of the buckets above edge */
    while (edge < N_BUCKETS - 1 && before + mass[edge] < target)
        before += mass[edge++];
    int n_edge = 0; /* scratch: [n_edge] the edge bucket's tokens, sorted */
    for (int i = 0; i < m; i++) {
        if (bucket_of(c[i].logit, max, scale) == edge)
            s->scratch[n_edge++] = c[i];
    }
    if (n_edge == 0) /* rounding left the target in an empty last bucket */
        return m;
    qsort(s->scratch, (size_t)n_edge, sizeof(*s->scratch), cand_cmp);
    struct cand last = s->scratch[n_edge - 1];
    for (int i = 0; i < n_edge; i++) {
        before += expf(s->scratch[i].logit - max);
        if (before >= target) {
            last = s->scratch[i];
            break;
        }
    }
    int kept = 0;
    for (int i = 0; i < m; i++) {
        if (!cand_better(last, c[i]))
            c[kept++] = c[i];
    }
    return kept;
}

/* The candidates when top-k is off, in id order: min-p's threshold bounds
 * the set; top-p is found inside a band below the max logit that widens
 * until its mass reaches top_p, so that only the band is visited twice. */
static int select_without_top_k(struct sampler *s, float max)
{
    const struct eng_sampler_params *p = &s->params;
    const float *w = s->work;
    float min_p_logit = p->min_p > 0.0f ? max + logf(p->min_p) : -INFINITY;
    min_p_logit = min_p_logit < max ? min_p_logit : max; /* min_p > 1 keeps the best */
    if (p->top_p >= 1.0f)
        return select_above(w, s->n_vocab, min_p_logit, s->cands);
    double z = 0.0;
    float lowest = max;
    for (int i = 0; i < s->n_vocab; i++) {
        z += expf(w[i] - max);
        lowest = w[i] < lowest && w[i] > -INFINITY ? w[i] : lowest;
    }
    for (float band = 16.0f;; band *= 4.0f) {
        /* all: the band already reaches the lowest finite logit or min-p's threshold */
        bool all = max - band <= lowest || max - band <= min_p_logit;
        float threshold = all ? min_p_logit : max - band;
        int m = select_above(w, s->n_vocab, threshold, s->cands);
        bool reached;
        int cut = top_p_unsorted(s, s->cands, m, max, z, p->top_p, &reached);
        if (reached || all)
            return cut;
    }
}

/* ---- sampling ------------------------------------------------------------------ */

/* Draw from exp((logit - max) / T) over c[m], walking in order. */
static int32_t draw(struct sampler *s, const struct cand *c, int m, float max, float temperature)
{
    double *prob = s->probs;
    double sum = 0.0;
    for (int i = 0; i < m; i++) {
        prob[i] = expf((c[i].logit - max) / temperature);
        sum += prob[i];
    }
    double target = rng_uniform(s->rng) * sum, cum = 0.0;
    for (int i = 0; i < m; i++) {
        cum += prob[i];
        if (cum > target)
            return c[i].id;
    }
    return c[m - 1].id;
}

/* Draw from the whole vocab in id order (no filter is on). */
static int32_t draw_all(struct sampler *s, float max, float temperature)
{
    float *w = s->work;
    double sum = 0.0;
    for (int i = 0; i < s->n_vocab; i++) {
        w[i] = expf((w[i] - max) / temperature);
        sum += w[i];
    }
    double target = rng_uniform(s->rng) * sum, cum = 0.0;
    int32_t last = 0;
    for (int i = 0; i < s->n_vocab; i++) {
        cum += w[i];
        if (w[i] > 0.0f)
            last = i;
        if (cum > target && w[i] > 0.0f)
            return i;
    }
    return last;
}

int32_t sampler_sample(struct sampler *s, const float *logits)
{
    const struct eng_sampler_params *p = &s->params;
    int n = s->n_vocab;
    float max = load_logits(s, logits);
    if (p->temperature <= 0.0f || isinf(max))
        return first_index_of(s->work, n, max);

    bool top_k = p->top_k > 0 && p->top_k < n;
    if (!top_k && p->top_p >= 1.0f && p->min_p <= 0.0f)
        return draw_all(s, max, p->temperature);

    int m;
    if (top_k) {
        m = select_top_k(s->work, n, p->top_k, s->cands);
        if (p->top_p < 1.0f) {
            double z = 0.0;
            for (int i = 0; i < m; i++)
                z += expf(s->cands[i].logit - max);
            m = top_p_cut(s->cands, m, max, z, p->top_p);
        }
        if (p->min_p > 0.0f) {
            float min_p_logit = max + logf(p->min_p);
            int keep = 1;
            while (keep < m && s->cands[keep].logit >= min_p_logit)
                keep++;
            m = keep;
        }
    } else {
        m = select_without_top_k(s, max);
    }
    if (m < 1)
        m = 1;
    return draw(s, s->cands, m, max, p->temperature);
}
