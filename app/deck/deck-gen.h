/* deck-gen.h: making a slide deck with the model: the prompts, the JSON
 * schemas the sampler enforces, and the deck put together.
 *
 * Two steps (wenshu-cli slides drives the model; this file only builds text
 * and reads it back):
 *  1. The outline: deck title, subtitle, and n slides each with a title and
 *     two to four key points (deck_outline_schema). The user may edit it (it
 *     is the deck JSON of deck.h, with "points" where the bullets go later).
 *  2. Each slide in turn: its bullets, speaker notes, and whether it wants a
 *     picture (deck_slide_schema). Every slide prompt starts with the same
 *     source text and outline, so that the model's cache of that prefix is
 *     reused from one slide to the next.
 * deck_gen_merge() then writes the deck JSON that deck_from_json() reads.
 *
 * Ownership: char * results are malloc'd and the caller's. Schemas live in
 * the caller's struct, which must not move while in use.
 */
#ifndef WENSHU_DECK_GEN_H
#define WENSHU_DECK_GEN_H

#include <stdbool.h>
#include <stddef.h>

#include "wenshu-engine.h"

#define DECK_GEN_MAX_SLIDES 30
#define DECK_GEN_SOURCE_MAX_CHARS 12000 /* of the source document in a prompt */

struct deck_gen_input {
    const char *topic;       /* what the deck is about, or NULL (the source says) */
    const char *source_name; /* the document's file name, or NULL */
    const char *source_text; /* the document's text (UTF-8), or NULL */
    int n_slides;            /* content slides, 1..DECK_GEN_MAX_SLIDES (no title slide) */
};

/* {"title":…,"subtitle":…,"slides":[{"title":…,"points":[…]}×n_slides]} */
struct deck_outline_schema {
    struct eng_schema root, title, subtitle, slides, slide, slide_title, points, point;
    struct eng_schema_property root_props[3], slide_props[2];
};
void deck_outline_schema_init(struct deck_outline_schema *s, int n_slides);

/* {"bullets":[…3-5],"notes":…,"image":true|false} */
struct deck_slide_schema {
    struct eng_schema root, bullets, bullet, notes, image;
    struct eng_schema_property props[3];
};
void deck_slide_schema_init(struct deck_slide_schema *s);

char *deck_gen_system_prompt(void);
/* Step 1's user message. */
char *deck_gen_outline_prompt(const struct deck_gen_input *in);
/* Step 2's user message for slide index (0-based) of the outline. */
char *deck_gen_slide_prompt(const struct deck_gen_input *in, const char *outline_json, int index);

/* Whether a slide's JSON (step 2's answer) has bullets, none of them empty
 * or repeated; a slide that is not sound is generated once more. */
bool deck_gen_slide_is_sound(const char *slide_json);

/* The number of slides in an outline JSON, or -1 with a reason in why[256]
 * when it does not read as an outline. */
int deck_gen_outline_slides(const char *outline_json, char *why, size_t why_size);

/* The deck JSON: the outline's title, subtitle and slide titles, with each
 * slide's bullets, notes and image slot from slide_jsons[i] (NULL: the
 * outline's points become the bullets). NULL with why[256] filled when the
 * outline or a slide does not parse. */
char *deck_gen_merge(const char *outline_json, char *const *slide_jsons, int n_slides, char *why,
                     size_t why_size);

#endif /* WENSHU_DECK_GEN_H */
