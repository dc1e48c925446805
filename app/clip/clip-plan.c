/* clip-plan.c: segments of a clip from its scene cuts, the sampled frames
 * each segment holds, and one keyframe per segment (see clip.h).
 *
 * A segment list is a list of boundaries: 0, the kept cuts, the duration.
 * Merging a short segment drops one boundary; splitting a long one inserts
 * evenly spaced ones.
 */
#include <math.h>
#include <stdlib.h>

#include "clip.h"

#define DEFAULT_MIN_SECONDS 5.0
#define DEFAULT_MAX_SECONDS 120.0
#define DEFAULT_UNCUT_SECONDS 60.0

G_DEFINE_QUARK(wenshu - clip - error - quark, clip_error)

struct clip_plan_params clip_plan_params_default(void)
{
    return (struct clip_plan_params){.min_seconds = DEFAULT_MIN_SECONDS,
                                     .max_seconds = DEFAULT_MAX_SECONDS,
                                     .uncut_seconds = DEFAULT_UNCUT_SECONDS};
}

/* A cut inside the clip and its strength (0 when unknown). */
struct cut {
    double time;
    double strength;
};

static int compare_cuts(const void *a, const void *b)
{
    double ta = ((const struct cut *)a)->time, tb = ((const struct cut *)b)->time;
    return (ta > tb) - (ta < tb);
}

/* The cuts strictly inside (0, duration), sorted, duplicates dropped.
 * Returns a g_malloc'd [*n_kept] array (NULL when none). */
static struct cut *cuts_inside(double duration, const double *cuts, const double *strengths,
                               int n_cuts, int *n_kept)
{
    struct cut *kept = n_cuts > 0 ? g_new(struct cut, n_cuts) : NULL; /* [n_cuts] */
    int n = 0;
    for (int i = 0; i < n_cuts; i++)
        if (isfinite(cuts[i]) && cuts[i] > 0.0 && cuts[i] < duration)
            kept[n++] = (struct cut){cuts[i], strengths ? strengths[i] : 0.0};
    if (n > 1)
        qsort(kept, n, sizeof *kept, compare_cuts);
    int n_unique = 0;
    for (int i = 0; i < n; i++)
        if (n_unique == 0 || kept[i].time > kept[n_unique - 1].time)
            kept[n_unique++] = kept[i];
    *n_kept = n_unique;
    return kept;
}

/* Start and end of segment s, where the boundaries are 0, cuts[0..n), duration. */
static double segment_start(const struct cut *cuts, int s)
{
    return s == 0 ? 0.0 : cuts[s - 1].time;
}

static double segment_end(const struct cut *cuts, int n_cuts, int s, double duration)
{
    return s == n_cuts ? duration : cuts[s].time;
}

/* The index of the cut to drop so that the short segment s merges into a
 * neighbour: its start cut is s - 1, its end cut s. */
static int cut_to_drop(const struct cut *cuts, int n_cuts, int s, bool have_strengths)
{
    if (s == 0)
        return 0; /* the first segment has no start cut */
    if (s == n_cuts)
        return n_cuts - 1; /* the last has no end cut */
    if (have_strengths && cuts[s].strength > cuts[s - 1].strength)
        return s - 1; /* keep the stronger end cut */
    return s;         /* keep the start cut: the stronger, or the earlier */
}

/* Merge the shortest segment under min_seconds until there is none (or one
 * segment is left). Updates *n_cuts. */
static void merge_short_segments(struct cut *cuts, int *n_cuts, double duration, double min_seconds,
                                 bool have_strengths)
{
    while (*n_cuts > 0) {
        int shortest = -1;
        double shortest_len = min_seconds;
        for (int s = 0; s <= *n_cuts; s++) {
            double len = segment_end(cuts, *n_cuts, s, duration) - segment_start(cuts, s);
            if (len < shortest_len) {
                shortest_len = len;
                shortest = s;
            }
        }
        if (shortest < 0)
            return;
        int drop = cut_to_drop(cuts, *n_cuts, shortest, have_strengths);
        for (int i = drop; i + 1 < *n_cuts; i++)
            cuts[i] = cuts[i + 1];
        (*n_cuts)--;
    }
}

/* How many equal parts a stretch of len seconds splits into. */
static int parts_for(double len, double max_seconds)
{
    return len > max_seconds ? (int)ceil(len / max_seconds) : 1;
}

gboolean clip_plan_segments(double duration, const double *cuts, int n_cuts,
                            const struct clip_plan_params *params, struct clip_segment **out,
                            int *n_out, GError **error)
{
    struct clip_plan_params p = params ? *params : clip_plan_params_default();
    *out = NULL;
    *n_out = 0;
    if (!(duration > 0.0) || !isfinite(duration)) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_ARG,
                    "the clip has no duration (%g s): nothing to segment", duration);
        return FALSE;
    }
    if (!(p.min_seconds >= 0.0) || !(p.max_seconds > 0.0) || !(p.uncut_seconds > 0.0) ||
        p.min_seconds > p.max_seconds || n_cuts < 0 || (n_cuts > 0 && !cuts)) {
        g_set_error(error, CLIP_ERROR, CLIP_ERROR_ARG,
                    "bad segment parameters: min %g s, max %g s, uncut %g s, %d cuts",
                    p.min_seconds, p.max_seconds, p.uncut_seconds, n_cuts);
        return FALSE;
    }
    int n_kept = 0;
    struct cut *kept = cuts_inside(duration, cuts, p.cut_strengths, n_cuts, &n_kept);
    merge_short_segments(kept, &n_kept, duration, p.min_seconds, p.cut_strengths != NULL);

    /* Count the parts first, then fill. */
    int n_segments = 0;
    if (n_kept == 0) {
        double uncut = MIN(p.uncut_seconds, p.max_seconds);
        n_segments = MAX(1, (int)lround(duration / uncut));
        n_segments = MAX(n_segments, parts_for(duration, p.max_seconds));
    } else {
        for (int s = 0; s <= n_kept; s++)
            n_segments += parts_for(segment_end(kept, n_kept, s, duration) - segment_start(kept, s),
                                    p.max_seconds);
    }
    struct clip_segment *segments = g_new0(struct clip_segment, n_segments); /* [n_segments] */
    int k = 0;
    for (int s = 0; s <= n_kept; s++) {
        double start = segment_start(kept, s), end = segment_end(kept, n_kept, s, duration);
        int parts = n_kept == 0 ? n_segments : parts_for(end - start, p.max_seconds);
        for (int i = 0; i < parts; i++) {
            segments[k].start = start + (end - start) * i / parts;
            segments[k].end = i + 1 == parts ? end : start + (end - start) * (i + 1) / parts;
            k++;
        }
    }
    g_assert(k == n_segments);
    g_free(kept);
    *out = segments;
    *n_out = n_segments;
    return TRUE;
}

gboolean clip_assign_frames(struct clip_segment *segments, int n_segments,
                            const double *frame_times, int n_frames, GError **error)
{
    g_assert(n_segments > 0 && n_frames >= 0);
    for (int i = 1; i < n_frames; i++) {
        if (!(frame_times[i] >= frame_times[i - 1])) {
            g_set_error(error, CLIP_ERROR, CLIP_ERROR_ARG,
                        "frame times are not ascending: frame %d at %g s after %g s", i,
                        frame_times[i], frame_times[i - 1]);
            return FALSE;
        }
    }
    int frame = 0;
    for (int s = 0; s < n_segments; s++) {
        bool last = s + 1 == n_segments;
        segments[s].first_frame = frame;
        while (frame < n_frames && (last || frame_times[frame] < segments[s].end))
            frame++;
        segments[s].n_frames = frame - segments[s].first_frame;
    }
    return TRUE;
}

void clip_pick_keyframes(const struct clip_segment *segments, int n_segments,
                         const double *frame_times, int n_frames, int *keyframes)
{
    g_assert(n_frames > 0);
    for (int s = 0; s < n_segments; s++) {
        double middle = 0.5 * (segments[s].start + segments[s].end);
        int best = 0;
        for (int i = 1; i < n_frames; i++)
            if (fabs(frame_times[i] - middle) < fabs(frame_times[best] - middle))
                best = i;
        keyframes[s] = best;
    }
}

int clip_segment_frames(const struct eng_video *video, const struct clip_segment *segment,
                        int keyframe, int max_frames, struct eng_video_frame *out)
{
    if (segment->n_frames == 0) {
        out[0] = video->frames[keyframe];
        return 1;
    }
    int n = segment->n_frames < max_frames ? segment->n_frames : max_frames;
    for (int i = 0; i < n; i++)
        out[i] = video->frames[segment->first_frame + (int)((double)i * segment->n_frames / n)];
    return n;
}
