/* cmd-bench-vision.c: `wenshu-cli bench --mmproj PROJ.gguf [--clip CLIP]
 * [--sizes WxH,...] [--device D] [-t N] [-r R] [--json]`: the vision side's
 * speed.
 *
 *  - encode: preprocessing plus the encoder for one 448x448 and one
 *    1280x720 image (a smooth colour pattern with noise, made here; --sizes
 *    WxH,WxH,... picks others), once to warm up and then R times; the mean
 *    is reported with the token count;
 *  - clip: decoding and sampling CLIP at 2 frames a second (Qwen's
 *    default), timed the same way, with the frame count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A test picture: colour ramps with pseudo-random noise, so that no stage
 * can take a short cut on flat areas. rgb is [height][width][3], malloc'd. */
static bool make_picture(struct eng_image *image, int width, int height)
{
    image->width = width;
    image->height = height;
    image->rgb = malloc((size_t)width * height * 3);
    if (!image->rgb)
        return false;
    uint32_t state = 12345;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            state = state * 1664525u + 1013904223u;
            uint8_t *px = image->rgb + ((size_t)y * width + x) * 3;
            px[0] = (uint8_t)(x * 255 / width + (state >> 28));
            px[1] = (uint8_t)(y * 255 / height + (state >> 24 & 15));
            px[2] = (uint8_t)((x + y) * 127 / (width + height) + (state >> 20 & 31));
        }
    return true;
}

struct encode_result {
    int width, height;
    double seconds;  /* mean of the timed runs */
    int n_tokens;
};

#define MAX_SIZES 8

/* "448x448,1280x720" into sizes[]; returns the count, 0 when malformed. */
static int parse_sizes(const char *text, struct encode_result *sizes)
{
    int n = 0;
    for (const char *p = text; *p && n < MAX_SIZES; n++) {
        int w = 0, h = 0, used = 0;
        if (sscanf(p, "%dx%d%n", &w, &h, &used) != 2 || w < 1 || h < 1 || w > 8192 || h > 8192)
            return 0;
        sizes[n] = (struct encode_result){.width = w, .height = h};
        p += used;
        if (*p == ',')
            p++;
        else if (*p)
            return 0;
    }
    return n;
}

/* Encode a res->width x res->height picture 1 + reps times. */
static enum eng_status time_encode(struct eng_mmproj *proj, int reps, struct encode_result *res,
                                   struct eng_err *err)
{
    struct eng_image image;
    if (!make_picture(&image, res->width, res->height))
        return ENG_STATUS_ERR_NOMEM;
    enum eng_status st = ENG_STATUS_OK;
    double total = 0;
    for (int r = 0; r <= reps && st == ENG_STATUS_OK; r++) {
        struct eng_media *media = NULL;
        double t0 = now_seconds();
        st = eng_mmproj_encode_image(proj, &image, &media, err);
        double dt = now_seconds() - t0;
        if (st == ENG_STATUS_OK) {
            res->n_tokens = media->n_tokens;
            total += r > 0 ? dt : 0.0;
        }
        eng_media_free(&media);
    }
    free(image.rgb);
    res->seconds = reps > 0 ? total / reps : 0.0;
    return st;
}

/* Decode and sample the clip 1 + reps times at 2 frames a second. */
static enum eng_status time_clip(const char *path, int reps, double *seconds, int *n_frames,
                                 double *duration, struct eng_err *err)
{
    struct eng_video_params vp = eng_video_params_default();
    vp.fps = 2.0;
    enum eng_status st = ENG_STATUS_OK;
    double total = 0;
    for (int r = 0; r <= reps && st == ENG_STATUS_OK; r++) {
        struct eng_video *video = NULL;
        double t0 = now_seconds();
        st = eng_video_sample(path, &vp, &video, err);
        double dt = now_seconds() - t0;
        if (st == ENG_STATUS_OK) {
            *n_frames = video->n_frames;
            *duration = video->duration;
            total += r > 0 ? dt : 0.0;
        }
        eng_video_free(&video);
    }
    *seconds = reps > 0 ? total / reps : 0.0;
    return st;
}

int cmd_bench_vision(int argc, char **argv)
{
    struct eng_mmproj_params mp = eng_mmproj_params_default();
    const char *clip = NULL, *v = NULL, *size_list = "448x448,1280x720";
    int reps = 3;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        bool missing = false, bad = false;
        if (cli_opt(argc, argv, &i, NULL, "--mmproj", &mp.path, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--clip", &clip, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--sizes", &size_list, &missing)) {
        } else if (cli_opt(argc, argv, &i, NULL, "--device", &v, &missing)) {
            bad = !missing && !eng_device_parse(v, &mp.device);
        } else if (cli_opt(argc, argv, &i, "-t", "--threads", &v, &missing)) {
            bad = !missing && (!cli_parse_int(v, &mp.n_threads) || mp.n_threads < 0);
        } else if (cli_opt(argc, argv, &i, "-r", "--repetitions", &v, &missing)) {
            bad = !missing && (!cli_parse_int(v, &reps) || reps < 1);
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else {
            return cli_fail("bench: unknown option %s", argv[i]), 2;
        }
        if (bad)
            return cli_fail("bench: bad value for %s: %s", argv[i - 1], v), 2;
        if (missing)
            return 2;
    }
    struct encode_result sizes[MAX_SIZES];
    int n_sizes = parse_sizes(size_list, sizes);
    if (n_sizes == 0)
        return cli_fail("bench: bad --sizes %s (e.g. 448x448,1280x720)", size_list), 2;
    struct eng_mmproj *proj = NULL;
    struct eng_err err = {{0}};
    if (eng_mmproj_load(&mp, &proj, &err) != ENG_STATUS_OK)
        return cli_fail("%s", err.msg);
    struct eng_mmproj_info info;
    eng_mmproj_get_info(proj, &info);
    if (info.device_notice[0])
        fprintf(stderr, "wenshu-cli: note: %s\n", info.device_notice);
    double clip_seconds = 0, clip_duration = 0;
    int clip_frames = 0;
    enum eng_status st = ENG_STATUS_OK;
    for (int i = 0; i < n_sizes && st == ENG_STATUS_OK; i++)
        st = time_encode(proj, reps, &sizes[i], &err);
    if (st == ENG_STATUS_OK && clip)
        st = time_clip(clip, reps, &clip_seconds, &clip_frames, &clip_duration, &err);
    int status = 0;
    if (st != ENG_STATUS_OK) {
        status = cli_fail("%s", err.msg[0] ? err.msg : "out of memory");
    } else if (json) {
        printf("{\"projector\": \"%s\", \"device\": \"%s\", \"repetitions\": %d, "
               "\"encode\": [", info.projector, info.device, reps);
        for (int i = 0; i < n_sizes; i++)
            printf("%s{\"width\": %d, \"height\": %d, \"seconds\": %.4f, \"tokens\": %d}",
                   i ? ", " : "", sizes[i].width, sizes[i].height, sizes[i].seconds,
                   sizes[i].n_tokens);
        printf("], \"clip_s\": %.4f, \"clip_frames\": %d, \"clip_duration_s\": %.2f, "
               "\"peak_rss_bytes\": %llu, \"device_bytes\": %llu}\n",
               clip_seconds, clip_frames, clip_duration, (unsigned long long)eng_peak_rss_bytes(),
               (unsigned long long)info.device_bytes);
    } else {
        printf("projector: %s (%d layers, %d wide)\ndevice: %s\n", info.projector, info.n_layer,
               info.n_embd, info.device);
        for (int i = 0; i < n_sizes; i++)
            printf("encode %dx%d: %.3f s (%d tokens)\n", sizes[i].width, sizes[i].height,
                   sizes[i].seconds, sizes[i].n_tokens);
        if (clip)
            printf("clip decode+sample at 2 fps: %.3f s (%d frames of %.1f s)\n", clip_seconds,
                   clip_frames, clip_duration);
        printf("peak RSS: %.1f MiB\n", eng_peak_rss_bytes() / 1048576.0);
    }
    eng_mmproj_free(&proj);
    return status;
}
