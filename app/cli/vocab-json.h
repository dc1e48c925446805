/* vocab-json.h: reading a Hugging Face tokenizer.json (and the
 * tokenizer_config.json beside it, when present) into GGUF vocab form.
 *
 * (Interface fixed by the lead: cmd-files.c calls exactly these three
 * functions. The implementation is in vocab-json.c.)
 *
 * Thread-safety: functions are safe from any thread; a loaded vocab is
 * immutable.
 */
#ifndef WENSHU_VOCAB_JSON_H
#define WENSHU_VOCAB_JSON_H

#include <glib.h>

#include "wenshu-engine.h"

struct vocab_json;

/* Load path (a tokenizer.json). pre: the GGUF pre-tokenizer id to record, or
 * NULL to guess it from the file ("qwen2" for Qwen vocabularies).
 * Ownership: on success *out is owned by the caller; free with vocab_json_free().
 * Errors: FALSE with *error naming the file and the problem. */
gboolean vocab_json_load(const char *path, const char *pre, struct vocab_json **out,
                         GError **error);

/* The vocab in engine form; valid while the vocab_json lives. */
const struct eng_vocab *vocab_json_vocab(const struct vocab_json *vj);

void vocab_json_free(struct vocab_json **vj);

#endif /* WENSHU_VOCAB_JSON_H */
