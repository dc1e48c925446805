/* sampler.h: choosing the next token from logits (private to the engine).
 *
 * Order of operations (as llama.cpp's default chain): penalties
 * (repetition, frequency, presence over the last penalty_last_n tokens), then
 * greedy when temperature <= 0; otherwise top-k, top-p, min-p, temperature,
 * softmax and a draw from a seeded xoshiro256** generator. The same seed and
 * the same logits give the same token on every machine.
 *
 * Thread-safety: a sampler is used by one thread at a time.
 */
#ifndef WENSHU_SAMPLER_H
#define WENSHU_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "wenshu-engine.h"

struct sampler;

/* Ownership: the caller owns *out; free with sampler_free(). NULL on OOM. */
struct sampler *sampler_new(const struct eng_sampler_params *params, int n_vocab);
void sampler_free(struct sampler **s);

/* Record a token as seen (prompt or generated) for the penalties. */
void sampler_accept(struct sampler *s, int32_t token);

/* Pick a token from logits[n_vocab]. logits is not modified. */
int32_t sampler_sample(struct sampler *s, const float *logits);

#endif /* WENSHU_SAMPLER_H */
