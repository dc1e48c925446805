/* clip-driver.c: a small command line over libwenshu-clip for the `clip`
 * test suite (tests/test-clip.py), until wenshu-cli has its own command.
 *
 *   clip-driver analyse VIDEO [--fps F] [--max-frames N] [--max-edge N] [--min S]
 *                             [--max S] [--sheet OUT.png] [--cols N] [--thumb-width W]
 *     samples frames and scene cuts through the engine, plans segments,
 *     assigns frames, picks a keyframe per segment, optionally draws the
 *     contact sheet of those keyframes, and prints it all as JSON with the
 *     sampling and cut-detection wall times.
 *   clip-driver chapters [--srt F] [--vtt F] [--md F] [--title T] [--summary S]
 *                        START END TITLE SUMMARY [START END TITLE SUMMARY ...]
 *   clip-driver highlights SRC DST START END [START END ...]
 *
 * Errors go to stderr as one line; the exit status is then 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"

struct analyse_options {
    const char *path, *sheet_path;
    struct eng_video_params video;
    struct clip_plan_params plan;
    struct clip_sheet_params sheet;
};

static int fail(const char *message)
{
    fprintf(stderr, "clip-driver: %s\n", message);
    return 1;
}

static int fail_gerror(GError *error)
{
    int rc = fail(error->message);
    g_error_free(error);
    return rc;
}

/* Parse the analyse options; returns FALSE on a bad one. */
static gboolean parse_analyse(int argc, char **argv, struct analyse_options *o)
{
    o->video = eng_video_params_default();
    o->plan = clip_plan_params_default();
    o->sheet = clip_sheet_params_default();
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (arg[0] != '-') {
            o->path = arg;
            continue;
        }
        if (!value)
            return FALSE;
        i++;
        if (strcmp(arg, "--fps") == 0)
            o->video.fps = atof(value);
        else if (strcmp(arg, "--max-frames") == 0)
            o->video.max_frames = atoi(value);
        else if (strcmp(arg, "--max-edge") == 0)
            o->video.max_edge = atoi(value);
        else if (strcmp(arg, "--min") == 0)
            o->plan.min_seconds = atof(value);
        else if (strcmp(arg, "--max") == 0)
            o->plan.max_seconds = atof(value);
        else if (strcmp(arg, "--sheet") == 0)
            o->sheet_path = value;
        else if (strcmp(arg, "--cols") == 0)
            o->sheet.cols = atoi(value);
        else if (strcmp(arg, "--thumb-width") == 0)
            o->sheet.thumb_width = atoi(value);
        else
            return FALSE;
    }
    return o->path != NULL;
}

static void print_json(const struct eng_video *video, const double *cuts, int n_cuts,
                       const struct clip_segment *segments, int n_segments, const int *keyframes,
                       double sample_s, double cuts_s, const struct analyse_options *o)
{
    printf("{\"duration\": %.6f, \"width\": %d, \"height\": %d, \"n_frames\": %d,\n",
           video->duration, video->width, video->height, video->n_frames);
    printf(" \"sample_seconds\": %.4f, \"cuts_seconds\": %.4f,\n", sample_s, cuts_s);
    printf(" \"frame_times\": [");
    for (int i = 0; i < video->n_frames; i++)
        printf("%s%.6f", i ? ", " : "", video->frames[i].time);
    printf("],\n \"cuts\": [");
    for (int i = 0; i < n_cuts; i++)
        printf("%s%.6f", i ? ", " : "", cuts[i]);
    printf("],\n \"segments\": [");
    for (int s = 0; s < n_segments; s++)
        printf("%s\n  {\"start\": %.6f, \"end\": %.6f, \"first_frame\": %d, \"n_frames\": %d, "
               "\"keyframe\": %d, \"keyframe_time\": %.6f}",
               s ? "," : "", segments[s].start, segments[s].end, segments[s].first_frame,
               segments[s].n_frames, keyframes[s], video->frames[keyframes[s]].time);
    printf("],\n \"sheet\": {\"cols\": %d, \"thumb_width\": %d, \"margin\": %d, "
           "\"label_height\": %d, \"tiles\": %d}}\n",
           o->sheet.cols, o->sheet.thumb_width, o->sheet.margin, o->sheet.label_height, n_segments);
}

static int run_analyse(int argc, char **argv)
{
    struct analyse_options o = {0};
    if (!parse_analyse(argc, argv, &o))
        return fail("usage: clip-driver analyse VIDEO [--fps F] [--max-frames N] "
                    "[--max-edge N] [--min S] [--max S] [--sheet OUT.png] [--cols N] "
                    "[--thumb-width W]");
    struct eng_err err = {{0}};
    struct eng_video *video = NULL;
    gint64 t0 = g_get_monotonic_time();
    if (eng_video_sample(o.path, &o.video, &video, &err) != ENG_STATUS_OK)
        return fail(err.msg);
    gint64 t1 = g_get_monotonic_time();
    struct eng_scene_params scene = eng_scene_params_default();
    double *cuts = NULL;
    int n_cuts = 0;
    if (eng_video_scene_cuts(o.path, &scene, &cuts, &n_cuts, &err) != ENG_STATUS_OK) {
        eng_video_free(&video);
        return fail(err.msg);
    }
    gint64 t2 = g_get_monotonic_time();

    int rc = 0;
    GError *error = NULL;
    struct clip_segment *segments = NULL;
    int n_segments = 0;
    double *frame_times = g_new(double, video->n_frames); /* [n_frames] */
    for (int i = 0; i < video->n_frames; i++)
        frame_times[i] = video->frames[i].time;
    int *keyframes = NULL;
    if (!clip_plan_segments(video->duration, cuts, n_cuts, &o.plan, &segments, &n_segments,
                            &error) ||
        !clip_assign_frames(segments, n_segments, frame_times, video->n_frames, &error)) {
        rc = fail_gerror(error);
        goto out_free;
    }
    keyframes = g_new(int, n_segments); /* [n_segments] */
    clip_pick_keyframes(segments, n_segments, frame_times, video->n_frames, keyframes);
    if (o.sheet_path &&
        !clip_contact_sheet(video, keyframes, n_segments, &o.sheet, o.sheet_path, &error)) {
        rc = fail_gerror(error);
        goto out_free;
    }
    print_json(video, cuts, n_cuts, segments, n_segments, keyframes, (t1 - t0) / 1e6,
               (t2 - t1) / 1e6, &o);
out_free:
    g_free(keyframes);
    g_free(segments);
    g_free(frame_times);
    free(cuts);
    eng_video_free(&video);
    return rc;
}

static int run_chapters(int argc, char **argv)
{
    const char *srt = NULL, *vtt = NULL, *md = NULL, *title = NULL, *summary = NULL;
    int i = 0;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        const char **slot = strcmp(argv[i], "--srt") == 0       ? &srt
                            : strcmp(argv[i], "--vtt") == 0     ? &vtt
                            : strcmp(argv[i], "--md") == 0      ? &md
                            : strcmp(argv[i], "--title") == 0   ? &title
                            : strcmp(argv[i], "--summary") == 0 ? &summary
                                                                : NULL;
        if (!slot)
            return fail("chapters: unknown option");
        *slot = argv[i + 1];
    }
    if ((argc - i) % 4 != 0)
        return fail("chapters: give START END TITLE SUMMARY per chapter");
    int n = (argc - i) / 4;
    struct clip_chapter *chapters = g_new0(struct clip_chapter, MAX(n, 1)); /* [n] */
    for (int c = 0; c < n; c++) {
        char **fields = argv + i + 4 * c;
        chapters[c] = (struct clip_chapter){atof(fields[0]), atof(fields[1]), fields[2], fields[3]};
    }
    GError *error = NULL;
    gboolean ok = (!srt || clip_write_srt(srt, chapters, n, &error)) &&
                  (!vtt || clip_write_vtt(vtt, chapters, n, &error)) &&
                  (!md || clip_write_markdown(md, title, summary, chapters, n, &error));
    g_free(chapters);
    return ok ? 0 : fail_gerror(error);
}

static int run_highlights(int argc, char **argv)
{
    if (argc < 2 || (argc - 2) % 2 != 0)
        return fail("usage: clip-driver highlights SRC DST START END [START END ...]");
    int n = (argc - 2) / 2;
    struct clip_chapter *chosen = g_new0(struct clip_chapter, MAX(n, 1)); /* [n] */
    for (int c = 0; c < n; c++)
        chosen[c] = (struct clip_chapter){atof(argv[2 + 2 * c]), atof(argv[3 + 2 * c]), NULL, NULL};
    GError *error = NULL;
    gboolean ok = clip_cut_highlights(argv[0], chosen, n, argv[1], &error);
    g_free(chosen);
    return ok ? 0 : fail_gerror(error);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fail("usage: clip-driver analyse|chapters|highlights ...");
    if (strcmp(argv[1], "analyse") == 0)
        return run_analyse(argc - 2, argv + 2);
    if (strcmp(argv[1], "chapters") == 0)
        return run_chapters(argc - 2, argv + 2);
    if (strcmp(argv[1], "highlights") == 0)
        return run_highlights(argc - 2, argv + 2);
    return fail("unknown command (analyse, chapters, highlights)");
}
