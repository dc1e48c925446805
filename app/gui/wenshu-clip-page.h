/* wenshu-clip-page.h: the 视频摘要 workspace of the desktop app: choose a
 * video; a GTask thread finds its scene cuts and samples frames
 * (eng_video_scene_cuts, eng_video_sample at 1 fps, longest edge 448), with
 * a progress bar; the cuts become chapters (clip_plan_segments,
 * clip_assign_frames, clip_pick_keyframes), shown as a timeline: a strip of
 * keyframe thumbnails, each with its chapter's start time. Exports: SRT,
 * WebVTT, Markdown and a contact sheet (app/clip).
 *
 * Chapters are titled by their time: the model's map-reduce over the frames
 * needs a runner that takes media, which WenshuRunner does not (text chats
 * only), so the page needs no model.
 *
 * Actions (on the page): clip.open, clip.export-srt, clip.export-vtt,
 * clip.export-md, clip.export-sheet.
 * Signals (main loop): "analysed" (gboolean ok)  a video was read (or failed)
 *
 * Ownership: the page owns the sampled video and the chapters.
 * Thread-safety: main loop only; the decode thread touches no widget.
 */
#ifndef WENSHU_CLIP_PAGE_H
#define WENSHU_CLIP_PAGE_H

#include <adwaita.h>

#include "clip.h"

G_BEGIN_DECLS

#define WENSHU_TYPE_CLIP_PAGE (wenshu_clip_page_get_type())
G_DECLARE_FINAL_TYPE(WenshuClipPage, wenshu_clip_page, WENSHU, CLIP_PAGE, AdwBin)

GtkWidget *wenshu_clip_page_new(void);

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
