/* clip.h: libwenshu-clip, the parts of a clip summary that need no model.
 *
 * The pipeline: the engine samples frames and finds scene cuts
 * (eng_video_sample, eng_video_scene_cuts); clip_plan_segments turns the
 * cuts into chapters of a sensible length; clip_assign_frames tells which
 * sampled frames each segment holds (the model's batches) and
 * clip_pick_keyframes one representative frame per segment. The model
 * (elsewhere) gives each chapter a title and a summary; then the writers
 * here make the SRT and WebVTT chapter files and the Markdown summary,
 * clip_contact_sheet draws the keyframes into a PNG, and
 * clip_cut_highlights copies chosen chapters into a new file with no
 * re-encode.
 *
 * All times are seconds from the start of the video stream, as the engine's
 * frame times and cuts are.
 *
 * Thread-safety: every function is safe to call from any thread; none keeps
 * state between calls.
 */
#ifndef WENSHU_CLIP_H
#define WENSHU_CLIP_H

#include <cairo.h>
#include <glib.h>
#include <stdbool.h>

#include "wenshu-engine.h"

G_BEGIN_DECLS

#define CLIP_ERROR (clip_error_quark())
GQuark clip_error_quark(void);

enum clip_error {
    CLIP_ERROR_ARG,    /* a bad argument: no chapters, times out of order */
    CLIP_ERROR_IO,     /* cannot read or write a file */
    CLIP_ERROR_FORMAT, /* a file that is not a usable video */
};

/* ---- segments ----------------------------------------------------------- */

struct clip_plan_params {
    double min_seconds;          /* a shorter segment merges into a neighbour; default 5 */
    double max_seconds;          /* a longer one splits into equal parts; default 120 */
    double uncut_seconds;        /* a clip with no cuts at all splits into parts of about this
                                  * length (never above max_seconds); default 60 */
    const double *cut_strengths; /* [n_cuts] how different the frames at each cut are, or
                                  * NULL when unknown (the engine does not report it) */
};
struct clip_plan_params clip_plan_params_default(void);

/* One segment of a clip: a chapter, and the model's unit of work. */
struct clip_segment {
    double start, end; /* seconds, start < end */
    int first_frame;   /* index of its first sampled frame (clip_assign_frames) */
    int n_frames;      /* how many sampled frames fall in it; may be 0 when sampling is sparse */
};

/* Cut [0, duration) into segments that start at scene cuts:
 *  1. the cuts inside (0, duration), sorted, make the first boundaries;
 *  2. while a segment is shorter than min_seconds (and there are two or
 *     more), the shortest one merges into a neighbour by dropping one of its
 *     two boundary cuts: the weaker by cut_strengths, or without strengths
 *     the later one (so the earlier cut starts the chapter); the first
 *     segment can only lose its end, the last only its start;
 *  3. a segment longer than max_seconds splits into ceil(len / max_seconds)
 *     equal parts; with no cuts at all the clip splits into
 *     max(1, round(duration / uncut_seconds)) equal parts, then as above.
 * Segments cover [0, duration) with no gap; first_frame and n_frames are 0.
 * Ownership: on success *out is g_malloc'd ([*n_out]); g_free() it.
 * Errors: FALSE with CLIP_ERROR_ARG for duration <= 0 or bad params. */
gboolean clip_plan_segments(double duration, const double *cuts, int n_cuts,
                            const struct clip_plan_params *params, struct clip_segment **out,
                            int *n_out, GError **error);

/* Fill each segment's first_frame and n_frames from the sampled frame times
 * (ascending): frame i belongs to the segment with start <= t < end; a
 * frame before the first segment counts to the first, one at or after the
 * last end to the last. Frames of one segment are consecutive.
 * Errors: FALSE with CLIP_ERROR_ARG when frame_times is not ascending. */
gboolean clip_assign_frames(struct clip_segment *segments, int n_segments,
                            const double *frame_times, int n_frames, GError **error);

/* One representative frame per segment: the sampled frame nearest the
 * segment's middle (ties to the earlier), searched over all frames so that
 * a segment with no frame of its own still gets its nearest neighbour.
 * keyframes: [n_segments] frame indices, filled; n_frames must be > 0. */
void clip_pick_keyframes(const struct clip_segment *segments, int n_segments,
                         const double *frame_times, int n_frames, int *keyframes);

/* The frames the model sees for one segment (wenshu-cli clip and the
 * desktop page send them as one short clip): up to max_frames of the
 * segment's frames, spread evenly, or its keyframe when it holds no sampled
 * frame. out: [max_frames] (at least 1) shallow copies whose pixels stay
 * the video's. Returns how many were written. Thread-safety: safe (it only
 * reads its arguments). */
int clip_segment_frames(const struct eng_video *video, const struct clip_segment *segment,
                        int keyframe, int max_frames, struct eng_video_frame *out);

/* ---- chapters and their files ------------------------------------------- */

struct clip_chapter {
    double start, end; /* seconds */
    char *title;       /* one line; may be NULL (written as "Chapter N") */
    char *summary;     /* may be NULL */
};

/* Write the chapters as SubRip cues ("1\n00:00:07,000 --> 00:00:15,000\ntitle\n\n"),
 * as a WebVTT file ("WEBVTT" header; cues "HH:MM:SS.mmm --> HH:MM:SS.mmm"),
 * or as a Markdown summary ("# clip title", the overall summary, then per
 * chapter "## [HH:MM:SS] title" and its summary).
 * Times are rounded to milliseconds; chapters must have ascending starts
 * (start >= 0, end > start); an end past the next start is pulled back to
 * it, so cues never overlap. Titles become one line (newlines to spaces,
 * "-->" to "->"); WebVTT escapes & < >. Each file is written to a temporary
 * file beside it and renamed, so a failure leaves no half-written file.
 * Ownership: the caller keeps the chapters. Errors: FALSE with
 * CLIP_ERROR_ARG (no chapters, bad times) or CLIP_ERROR_IO naming the file. */
gboolean clip_write_srt(const char *path, const struct clip_chapter *chapters, int n,
                        GError **error);
gboolean clip_write_vtt(const char *path, const struct clip_chapter *chapters, int n,
                        GError **error);
gboolean clip_write_markdown(const char *path, const char *clip_title, const char *summary,
                             const struct clip_chapter *chapters, int n, GError **error);

/* "HH:MM:SS,mmm" (SRT, separator ',') or "HH:MM:SS.mmm" (WebVTT, '.') for a
 * time rounded to milliseconds; hours grow past two digits when needed.
 * buf: at least 32 bytes. Returns buf. */
char *clip_format_time(double seconds, char separator, char *buf, size_t size);

/* ---- contact sheet ------------------------------------------------------ */

struct clip_sheet_params {
    int cols;         /* tiles a row; default 4 */
    int thumb_width;  /* pixels; default 240 */
    int margin;       /* pixels around and between tiles; default 8 */
    int label_height; /* pixels of the timestamp band under each thumbnail; default 22 */
};
struct clip_sheet_params clip_sheet_params_default(void);

/* Draw frames frame_indices[0..n) of a sampled video as a grid of
 * thumbnails with their timestamps ("HH:MM:SS.s") under each, and write it
 * as an 8-bit RGB PNG through libpng (temporary file, then rename).
 * The size (all integers):
 *   thumb_height = max(1, round(thumb_width * frame height / frame width))
 *     of the first frame (every sampled frame has the same size; another
 *     size is scaled to fit, aspect kept, centred);
 *   cols_used = min(cols, n), rows = ceil(n / cols)
 *   width  = margin + cols_used * (thumb_width + margin)
 *   height = margin + rows * (thumb_height + label_height + margin)
 * Tile k sits at column k % cols, row k / cols: its thumbnail's top-left
 * corner is (margin + col * (thumb_width + margin),
 *            margin + row * (thumb_height + label_height + margin)).
 * The background is white (255, 255, 255).
 * Ownership: the caller keeps the video. Errors: FALSE with CLIP_ERROR_ARG
 * (no frames, bad params, an index out of range) or CLIP_ERROR_IO naming
 * the file. */
gboolean clip_contact_sheet(const struct eng_video *video, const int *frame_indices, int n,
                            const struct clip_sheet_params *params, const char *path,
                            GError **error);

/* ---- highlights --------------------------------------------------------- */

/* Copy the time ranges of the chosen chapters, in order, from src into a
 * new file dst (its container guessed from dst's name), by stream copy: no
 * decode, no re-encode. The best video stream and the best audio stream
 * (if any) are kept, with the source's codec parameters. Each range starts
 * at the video keyframe at or before its start (so it may begin a little
 * early) and ends before the first video frame at or after its end; the
 * ranges follow one another with continuous timestamps. Chapters must have
 * ascending, non-overlapping ranges. Written to a temporary file beside
 * dst and renamed.
 * Weak point: an end that is not at a keyframe may leave the last
 * B-frames referring to a dropped frame (they decode with errors).
 * Errors: FALSE with CLIP_ERROR_FORMAT (not a media file, no video stream,
 * a range with no frames), CLIP_ERROR_IO, CLIP_ERROR_ARG; the message
 * names the file. */
gboolean clip_cut_highlights(const char *src, const struct clip_chapter *chosen, int n,
                             const char *dst, GError **error);

/* An RGB frame as a cairo RGB24 surface (a copy; cairo writes it to PNG as
 * 8-bit RGB, so the pixels round-trip); NULL when cairo fails.
 * Ownership: the caller destroys it. Thread-safety: safe. */
cairo_surface_t *clip_image_surface(const struct eng_image *image);

G_END_DECLS

#endif
