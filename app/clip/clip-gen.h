/* clip-gen.h: summarising a clip with the model: the prompts and JSON
 * schemas of the map-reduce over segments.
 *
 *  map     each segment's frames go to the vision model as one short clip
 *          (one ENG_MEDIA_MARKER), with the segment's time span; it answers
 *          {"description":…} (clip_describe_schema);
 *  reduce  the descriptions, in groups of at most CLIP_GEN_GROUP, become a
 *          title per segment and a group summary
 *          ({"summary":…,"titles":[…×n]}, clip_reduce_schema); with more than
 *          one group, the group summaries are reduced once more into the
 *          clip's summary ({"title":…,"summary":…}, clip_final_schema).
 * No step sees more than one group of text, so a long clip never overflows
 * the context.
 *
 * Ownership: char * results are malloc'd (GLib) and the caller's; free()
 * them. Schemas live in the caller's struct, which must not move while in use.
 */
#ifndef WENSHU_CLIP_GEN_H
#define WENSHU_CLIP_GEN_H

#include <stdbool.h>
#include <stddef.h>

#include "wenshu-engine.h"

#define CLIP_GEN_GROUP 12 /* segment descriptions per reduce step */

struct clip_describe_schema {
    struct eng_schema root, description;
    struct eng_schema_property props[1];
};
void clip_describe_schema_init(struct clip_describe_schema *s);

struct clip_reduce_schema {
    struct eng_schema root, summary, titles, title;
    struct eng_schema_property props[2];
};
/* n_titles: the segments in the group (exactly that many titles). */
void clip_reduce_schema_init(struct clip_reduce_schema *s, int n_titles);

struct clip_final_schema {
    struct eng_schema root, title, summary;
    struct eng_schema_property props[2];
};
void clip_final_schema_init(struct clip_final_schema *s);

char *clip_gen_system_prompt(void);
/* The map step's user message: the segment (1-based index of n) from start
 * to end seconds, one media marker for its frames. */
char *clip_gen_describe_prompt(const char *clip_name, int index, int n, double start,
                               double end);
/* The reduce step over descriptions[n] of segments starting at starts[n]. */
char *clip_gen_reduce_prompt(const char *clip_name, const char *const *descriptions,
                             const double *starts, const double *ends, int n);
/* The final step over the groups' summaries[n]. */
char *clip_gen_final_prompt(const char *clip_name, const char *const *summaries, int n);

/* Read one string member of a JSON object text; NULL when absent (malloc'd). */
char *clip_gen_json_string(const char *json, const char *member);
/* Read the string array member into out[n] (malloc'd strings); false when
 * it is not an array of n strings. */
bool clip_gen_json_strings(const char *json, const char *member, char **out, int n);

/* "mm:ss" or "h:mm:ss" into out[16]. */
void clip_gen_format_time(double seconds, char *out, size_t size);

#endif /* WENSHU_CLIP_GEN_H */
