/* cmd-frames.c: `wenshu-cli frames CLIP [--fps F] [--min-frames N]
 * [--max-frames N] [--max-edge N] [--frame-multiple M] [--cut-threshold T] [--no-cuts]
 * [--ppm-dir DIR] [--progress] [--cancel-after N] [--json]`: sample a video's frames as the
 * vision models receive them and list each frame's timestamp, size and
 * mean colour, then the scene cuts. --ppm-dir writes the frames as binary
 * PPMs (frame-0000.ppm, ...) so that tests can compare pixels;
 * --cancel-after N sets the engine's cancel flag after N frames (a test of
 * cancelling). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct frames_options {
    struct eng_video_params video;
    struct eng_scene_params scene;
    const char *path;
    const char *ppm_dir;
    bool json, cuts, progress;
    int cancel_after;       /* --cancel-after N (for tests): cancel after N frames; 0 = never */
    volatile int cancelled; /* the flag the engine polls */
};

static void print_progress(int n_done, int n_total, double time, void *user_data)
{
    fprintf(stderr, "%s: %d/%d at %.3f s\n", (const char *)user_data, n_done, n_total, time);
}

/* Sampling progress: printed with --progress; sets the cancel flag after
 * --cancel-after frames. */
static void on_frame_sampled(int n_done, int n_total, double time, void *user_data)
{
    struct frames_options *o = user_data;
    if (o->progress)
        print_progress(n_done, n_total, time, "frames");
    if (o->cancel_after > 0 && n_done >= o->cancel_after)
        o->cancelled = 1;
}

/* The mean of each channel of an RGB image. */
static void mean_rgb(const struct eng_image *image, double mean[3])
{
    double sum[3] = {0, 0, 0};
    size_t n_pixels = (size_t)image->width * image->height;
    for (size_t i = 0; i < n_pixels; i++)
        for (int c = 0; c < 3; c++)
            sum[c] += image->rgb[i * 3 + c];
    for (int c = 0; c < 3; c++)
        mean[c] = n_pixels ? sum[c] / n_pixels : 0.0;
}

/* Frame `index` as DIR/frame-NNNN.ppm. */
static int write_frame_ppm(const struct eng_image *image, const char *dir, int index)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/frame-%04d.ppm", dir, index);
    return cli_write_ppm(image, path);
}

/* s as a JSON string literal. */
static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_text(const struct frames_options *o, const struct eng_video *video,
                       const double *cuts, int n_cuts)
{
    printf("%s: %dx%d, %.3f s, %.3f fps; %d frames at %.3f fps%s\n", o->path, video->width,
           video->height, video->duration, video->fps, video->n_frames, video->sample_fps,
           video->truncated ? " (truncated: the file breaks off before the end)" : "");
    for (int i = 0; i < video->n_frames; i++) {
        const struct eng_video_frame *f = &video->frames[i];
        double mean[3];
        mean_rgb(&f->image, mean);
        printf("frame %d: t=%.3f (wanted %.3f) %dx%d mean rgb %.1f %.1f %.1f\n", i, f->time,
               f->target_time, f->image.width, f->image.height, mean[0], mean[1], mean[2]);
    }
    if (!o->cuts)
        return;
    printf("scene cuts: %d", n_cuts);
    for (int i = 0; i < n_cuts; i++)
        printf("%s%.3f", i ? " " : " at ", cuts[i]);
    putchar('\n');
}

static void print_json(const struct frames_options *o, const struct eng_video *video,
                       const double *cuts, int n_cuts)
{
    printf("{\"path\": ");
    print_json_string(o->path);
    printf(", \"width\": %d, \"height\": %d, \"duration\": %.6f, \"fps\": %.6f, "
           "\"sample_fps\": %.6f, \"truncated\": %s,\n \"frames\": [",
           video->width, video->height, video->duration, video->fps, video->sample_fps,
           video->truncated ? "true" : "false");
    for (int i = 0; i < video->n_frames; i++) {
        const struct eng_video_frame *f = &video->frames[i];
        double mean[3];
        mean_rgb(&f->image, mean);
        printf("%s\n  {\"time\": %.6f, \"target\": %.6f, \"width\": %d, \"height\": %d, "
               "\"mean_rgb\": [%.3f, %.3f, %.3f]}",
               i ? "," : "", f->time, f->target_time, f->image.width, f->image.height, mean[0],
               mean[1], mean[2]);
    }
    printf("],\n \"cuts\": ");
    if (!o->cuts) {
        printf("null}\n");
        return;
    }
    putchar('[');
    for (int i = 0; i < n_cuts; i++)
        printf("%s%.6f", i ? ", " : "", cuts[i]);
    printf("]}\n");
}

/* Parse the command line into o; returns 0, or the exit status (2) on a
 * bad argument. */
static int parse_frames_options(int argc, char **argv, struct frames_options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool missing = false, bad = false;
        float f = 0.0f;
        if (cli_opt(argc, argv, &i, NULL, "--fps", &v, &missing)) {
            bad = missing || !cli_parse_float(v, &f) || !(f > 0.0f);
            o->video.fps = f;
        } else if (cli_opt(argc, argv, &i, NULL, "--min-frames", &v, &missing)) {
            bad = missing || !cli_parse_int(v, &o->video.min_frames) || o->video.min_frames < 1;
        } else if (cli_opt(argc, argv, &i, NULL, "--max-frames", &v, &missing)) {
            bad = missing || !cli_parse_int(v, &o->video.max_frames) || o->video.max_frames < 1;
        } else if (cli_opt(argc, argv, &i, NULL, "--max-edge", &v, &missing)) {
            bad = missing || !cli_parse_int(v, &o->video.max_edge) || o->video.max_edge < 0;
        } else if (cli_opt(argc, argv, &i, NULL, "--frame-multiple", &v, &missing)) {
            bad = missing || !cli_parse_int(v, &o->video.frame_multiple) ||
                  o->video.frame_multiple < 1 || o->video.frame_multiple > 64;
        } else if (cli_opt(argc, argv, &i, NULL, "--cut-threshold", &v, &missing)) {
            bad = missing || !cli_parse_float(v, &f) || !(f >= 0.0f);
            o->scene.threshold = f;
        } else if (cli_opt(argc, argv, &i, NULL, "--cancel-after", &v, &missing)) {
            bad = missing || !cli_parse_int(v, &o->cancel_after) || o->cancel_after < 1;
        } else if (cli_opt(argc, argv, &i, NULL, "--ppm-dir", &v, &missing)) {
            bad = missing;
            o->ppm_dir = v;
        } else if (strcmp(argv[i], "--json") == 0) {
            o->json = true;
        } else if (strcmp(argv[i], "--no-cuts") == 0) {
            o->cuts = false;
        } else if (strcmp(argv[i], "--progress") == 0) {
            o->progress = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail("frames: unknown option %s", argv[i]), 2;
        } else if (!o->path) {
            o->path = argv[i];
        } else {
            return cli_fail("frames: one clip at a time (%s and %s given)", o->path, argv[i]), 2;
        }
        if (bad && !missing)
            cli_fail("bad value for %s: %s", argv[i - 1], v);
        if (bad)
            return 2;
    }
    if (!o->path)
        return cli_fail("frames: no clip given (frames CLIP [--fps F] [--min-frames N] "
                        "[--max-frames N] [--json])"),
               2;
    if (o->video.min_frames > o->video.max_frames)
        return cli_fail("frames: --min-frames %d is over --max-frames %d", o->video.min_frames,
                        o->video.max_frames),
               2;
    return 0;
}

int cmd_frames(int argc, char **argv)
{
    struct frames_options o = {.video = eng_video_params_default(),
                               .scene = eng_scene_params_default(),
                               .cuts = true};
    int bad = parse_frames_options(argc, argv, &o);
    if (bad)
        return bad;
    o.video.progress = on_frame_sampled;
    o.video.progress_user_data = &o;
    o.video.cancel = &o.cancelled;
    if (o.progress) {
        o.scene.progress = print_progress;
        o.scene.progress_user_data = "scene cuts";
    }

    struct eng_video *video = NULL;
    struct eng_err err = {{0}};
    enum eng_status status = eng_video_sample(o.path, &o.video, &video, &err);
    if (status != ENG_STATUS_OK)
        return cli_fail("%s (%s)", err.msg, eng_status_name(status));
    double *cuts = NULL;
    int n_cuts = 0;
    if (o.cuts) {
        status = eng_video_scene_cuts(o.path, &o.scene, &cuts, &n_cuts, &err);
        if (status != ENG_STATUS_OK) {
            eng_video_free(&video);
            return cli_fail("%s (%s)", err.msg, eng_status_name(status));
        }
    }
    int exit_status = 0;
    for (int i = 0; o.ppm_dir && i < video->n_frames && exit_status == 0; i++)
        exit_status = write_frame_ppm(&video->frames[i].image, o.ppm_dir, i);
    if (o.json)
        print_json(&o, video, cuts, n_cuts);
    else
        print_text(&o, video, cuts, n_cuts);
    free(cuts);
    eng_video_free(&video);
    return exit_status;
}
