/* chat.h: chat templates per model family (private to the engine).
 *
 * The template is recognised from the text of tokenizer.chat_template by
 * marker strings; the Jinja code itself is never executed. Each family has a
 * fixed renderer written from its published template, and a set of end
 * tokens (looked up by string in the vocab) that stop generation.
 *
 * Thread-safety: pure functions; safe from any thread.
 */
#ifndef WENSHU_CHAT_H
#define WENSHU_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"
#include "wenshu-engine.h"

/* Two families come in two variants that differ only in injected text; a
 * variant has its family's name (chat_family_name). */
enum chat_family {
    CHAT_FAMILY_CHATML,      /* Qwen2 / Qwen2-VL / Qwen2.5-VL: ChatML, default system
                              * "You are a helpful assistant." */
    CHAT_FAMILY_QWEN3,       /* ChatML with <think> handling */
    CHAT_FAMILY_LLAMA3,      /* Llama 3: no system preamble */
    CHAT_FAMILY_DEEPSEEK_R1, /* DeepSeek-R1-Distill-Qwen */
    CHAT_FAMILY_SMOLVLM,
    CHAT_FAMILY_QWEN25,      /* Qwen2.5: ChatML, default system "You are Qwen, ..." */
    CHAT_FAMILY_LLAMA31,     /* Llama 3.1 / 3.2 / 3.3: "Cutting Knowledge Date" preamble */
};

/* Recognise the family from the template text (may be NULL) and the
 * architecture name. Unknown templates fall back by architecture: llama ->
 * llama3, qwen3 -> qwen3, otherwise chatml. */
enum chat_family chat_detect(const char *template_text, size_t template_len, const char *arch);

const char *chat_family_name(enum chat_family family);

/* Render the conversation. default_system: the family's default system text
 * is used when NULL and the family has one (Qwen2.5: "You are Qwen, created by
 * Alibaba Cloud. You are a helpful assistant."); "" means none.
 * Ownership: *out is malloc'd and owned by the caller. */
enum eng_status chat_render(enum chat_family family, const struct eng_chat_message *msgs,
                            size_t n_msgs, const struct eng_chat_params *params, char **out,
                            struct eng_err *err);

/* Fill ids (capacity max_ids) with the family's end-of-turn token ids found
 * in the vocab, plus the tokenizer's EOS/EOT. Returns the count. */
size_t chat_end_tokens(enum chat_family family, const struct tokenizer *tok, int32_t *ids,
                       size_t max_ids);

#endif /* WENSHU_CHAT_H */
