/* wenshu-clip-page.h: the 视频摘要 workspace of the desktop app: choose a
 * video; a GTask thread finds its scene cuts and samples frames
 * (eng_video_scene_cuts, eng_video_sample at 1 fps, longest edge 448), with
 * a progress bar; the cuts become chapters (clip_plan_segments,
 * clip_assign_frames, clip_pick_keyframes), shown as a timeline: a strip of
 * keyframe thumbnails, each with its chapter's start time. Exports: SRT,
 * WebVTT, Markdown and a contact sheet (app/clip).
 *
 * Chapters are first titled by their time. Summarise (clip.summarise) runs
 * wenshu-cli clip's map-reduce (app/cli/cmd-clip.c, prompts and schemas
 * from clip-gen.h) through the window's WenshuRunner: each chapter's frames
 * (clip_segment_frames) are written as a short lossless clip into a temp
 * folder the page owns and described by the vision model; groups of
 * descriptions become titles and a summary, then (with more than one
 * group) one overall summary. Titles and summaries fill the chapter list as
 * they come; the exports use them. A text-only model is refused with the
 * reason (the chapters stay). Stop: clip.stop.
 *
 * Actions (on the page): clip.open, clip.summarise, clip.stop,
 * clip.export-srt, clip.export-vtt, clip.export-md, clip.export-sheet.
 * Signals (main loop): "analysed" (gboolean ok)  a video was read (or failed)
 *                      "summarised" (gboolean ok)  a summary ended: TRUE when
 *                      every step answered, FALSE on stop or error (the
 *                      status line says which)
 *
 * Ownership: the page owns the sampled video and the chapters.
 * Thread-safety: main loop only; the decode thread touches no widget.
 */
#ifndef WENSHU_CLIP_PAGE_H
#define WENSHU_CLIP_PAGE_H

#include <adwaita.h>

#include "clip.h"
#include "wenshu-runner.h"

G_BEGIN_DECLS

#define WENSHU_TYPE_CLIP_PAGE (wenshu_clip_page_get_type())
G_DECLARE_FINAL_TYPE(WenshuClipPage, wenshu_clip_page, WENSHU, CLIP_PAGE, AdwBin)

GtkWidget *wenshu_clip_page_new(void);

/* The runner Summarise uses (a reference is taken; NULL drops it). Without
 * one set, the page takes its window's (wenshu_window_get_runner) when it
 * is put in a WenshuWindow. */
void wenshu_clip_page_set_runner(WenshuClipPage *self, WenshuRunner *runner);

/* Start the model's summary of the video read last (as clip.summarise).
 * Refused (FALSE, error naming the reason) without a video, without a
 * model, with a model that cannot read video, or while the runner is busy.
 * "summarised" follows. */
gboolean wenshu_clip_page_summarise(WenshuClipPage *self, GError **error);

/* The overall summary of the last finished Summarise, or NULL. Owned by
 * the page. */
const char *wenshu_clip_page_get_summary(WenshuClipPage *self);

/* Start reading a video (the previous one is dropped); "analysed" follows.
 * Refused (FALSE, error) while another is being read. */
gboolean wenshu_clip_page_open(WenshuClipPage *self, const char *path, GError **error);

/* The chapters of the video read last ([*n_chapters]; NULL and 0 before
 * one). Ownership: the page's, valid until the next open. */
const struct clip_chapter *wenshu_clip_page_get_chapters(WenshuClipPage *self, int *n_chapters);

/* Write the chapters: SRT, WebVTT, Markdown and the keyframe contact sheet
 * (PNG), each where its path is not NULL. Errors: FALSE with error
 * (CLIP_ERROR, or G_IO_ERROR when no video was read) naming the file. */
gboolean wenshu_clip_page_export(WenshuClipPage *self, const char *srt, const char *vtt,
                                 const char *markdown, const char *sheet, GError **error);

G_END_DECLS

#endif /* WENSHU_CLIP_PAGE_H */
