/* cmd-clip.c: `wenshu-cli clip`: a clip summary with timestamped chapters.
 *
 *   wenshu-cli clip VIDEO [-m MODEL.gguf --mmproj PROJ.gguf] [-o summary.md]
 *       [--srt chapters.srt] [--vtt chapters.vtt] [--sheet sheet.png]
 *       [--highlights cut.mp4 --chapters 1,3] [--fps 1] [--max-frames 256]
 *       [--frames-per-segment 4] [--min-chapter 5] [--max-chapter 120]
 *       [-c CTX] [-t N] [--device D] [--temp ...] [--timings]
 *       [--remote URL --remote-model M [--api-key-env VAR]]
 *
 * Pipeline: scene cuts and sampled frames from the engine (decode);
 * segments from the cuts (libwenshu-clip); with a model, each segment's
 * frames go to the vision model as one short clip and get a description
 * (encode + generate: the map), then groups of descriptions become chapter
 * titles and summaries, and the groups one clip summary (the reduce,
 * clip-gen.h). Without a model the chapters are titled by their times.
 * --timings prints the wall time of decode, encode and generate as JSON.
 *
 * With --remote (instead of -m and --mmproj, which are refused with it) the
 * turns go to an OpenAI-compatible endpoint: a segment's frames are written
 * as PNG files into a private temporary folder (removed at the end) and
 * sent as images, one ENG_MEDIA_MARKER each, since the chat API has no
 * video part. "encode" then times the PNG writing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "cli.h"
#include "clip-gen.h"
#include "clip.h"

struct clip_options {
    const char *video, *model, *mmproj;
    const char *md, *srt, *vtt, *sheet, *highlights, *chapters;
    double fps, min_chapter, max_chapter;
    int max_frames, frames_per_segment, n_ctx, n_threads, device;
    bool timings;
    struct eng_sampler_params sampler;
    struct cli_remote_options remote; /* remote.url: an endpoint instead of -m/--mmproj */
};

struct clip_timings {
    double decode, encode, generate;
};

static volatile int cancel_flag;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- options ------------------------------------------------------------------------------ */

static bool parse_number_option(int argc, char **argv, int *i, struct clip_options *o,
                                bool *bad, bool *missing)
{
    const char *v = NULL;
    float f = 0;
    if (cli_opt(argc, argv, i, NULL, "--fps", &v, missing)) {
        *bad = !*missing && (!cli_parse_float(v, &f) || f <= 0 || f > 30);
        o->fps = f;
    } else if (cli_opt(argc, argv, i, NULL, "--min-chapter", &v, missing)) {
        *bad = !*missing && (!cli_parse_float(v, &f) || f < 0);
        o->min_chapter = f;
    } else if (cli_opt(argc, argv, i, NULL, "--max-chapter", &v, missing)) {
        *bad = !*missing && (!cli_parse_float(v, &f) || f < 1);
        o->max_chapter = f;
    } else if (cli_opt(argc, argv, i, NULL, "--max-frames", &v, missing)) {
        *bad = !*missing && (!cli_parse_int(v, &o->max_frames) || o->max_frames < 1);
    } else if (cli_opt(argc, argv, i, NULL, "--frames-per-segment", &v, missing)) {
        *bad = !*missing && (!cli_parse_int(v, &o->frames_per_segment) ||
                             o->frames_per_segment < 1 || o->frames_per_segment > 16);
    } else if (cli_opt(argc, argv, i, "-c", "--ctx", &v, missing)) {
        *bad = !*missing && (!cli_parse_int(v, &o->n_ctx) || o->n_ctx < 256);
    } else if (cli_opt(argc, argv, i, "-t", "--threads", &v, missing)) {
        *bad = !*missing && (!cli_parse_int(v, &o->n_threads) || o->n_threads < 0);
    } else if (cli_opt(argc, argv, i, NULL, "--device", &v, missing)) {
        *bad = !*missing && !eng_device_parse(v, &o->device);
    } else {
        return false;
    }
    if (*bad)
        cli_fail("clip: bad value for %s: %s", argv[*i - 1], v);
    return true;
}

static bool parse_clip_options(int argc, char **argv, struct clip_options *o)
{
    *o = (struct clip_options){.fps = 1.0, .min_chapter = 5, .max_chapter = 120,
                               .max_frames = 256, .frames_per_segment = 4, .n_ctx = 4096,
                               .device = eng_model_params_default().device,
                               .sampler = eng_sampler_params_default()};
    for (int i = 1; i < argc; i++) {
        bool missing = false, bad = false;
        if (cli_remote_opt(argc, argv, &i, &o->remote, &missing) ||
            cli_opt(argc, argv, &i, "-m", "--model", &o->model, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--mmproj", &o->mmproj, &missing) ||
            cli_opt(argc, argv, &i, "-o", "--output", &o->md, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--srt", &o->srt, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--vtt", &o->vtt, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--sheet", &o->sheet, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--highlights", &o->highlights, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--chapters", &o->chapters, &missing) ||
            parse_number_option(argc, argv, &i, o, &bad, &missing) ||
            cli_sampler_opt(argc, argv, &i, &o->sampler, &bad)) {
        } else if (strcmp(argv[i], "--timings") == 0) {
            o->timings = true;
        } else if (argv[i][0] == '-' || o->video) {
            cli_fail("clip: unexpected argument %s", argv[i]);
            return false;
        } else {
            o->video = argv[i];
        }
        if (missing || bad)
            return false;
    }
    if (!cli_remote_check("clip", &o->remote))
        return false;
    const char *why = !o->video ? "no video given (clip VIDEO.mp4 ...)"
                      : o->remote.url && (o->model || o->mmproj)
                          ? "--remote replaces the local model: give neither -m nor --mmproj "
                            "(the frames go to the endpoint as images)"
                      : !o->md && !o->srt && !o->vtt && !o->sheet && !o->highlights
                          ? "no output given (-o summary.md, --srt, --vtt, --sheet or --highlights)"
                      : (o->model != NULL) != (o->mmproj != NULL)
                          ? "a summary needs both the model (-m) and its projector (--mmproj)"
                      : (o->highlights != NULL) != (o->chapters != NULL)
                          ? "--highlights needs --chapters N,M,... (and the other way round)"
                          : NULL;
    if (why) {
        cli_fail("clip: %s", why);
        return false;
    }
    return true;
}

/* ---- decoding --------------------------------------------------------------------------- */

static void print_progress(int n_done, int n_total, double time, void *user_data)
{
    fprintf(stderr, "\rwenshu-cli: %s %d/%d (%.0f s)   ", (const char *)user_data, n_done,
            n_total, time);
}

/* Scene cuts and sampled frames. Returns 0, or 1 after printing why. */
static int decode(const struct clip_options *o, struct eng_video **video, double **cuts,
                  int *n_cuts)
{
    struct eng_err err;
    struct eng_scene_params sp = eng_scene_params_default();
    sp.progress = print_progress;
    sp.progress_user_data = "scene cuts";
    sp.cancel = &cancel_flag;
    if (eng_video_scene_cuts(o->video, &sp, cuts, n_cuts, &err) != ENG_STATUS_OK)
        return cli_fail("%s", err.msg);
    struct eng_video_params vp = eng_video_params_default();
    vp.fps = o->fps;
    vp.min_frames = 2;
    vp.max_frames = o->max_frames;
    vp.max_edge = 448; /* the encoders downscale further; this bounds the memory */
    vp.progress = print_progress;
    vp.progress_user_data = "frames";
    vp.cancel = &cancel_flag;
    if (eng_video_sample(o->video, &vp, video, &err) != ENG_STATUS_OK)
        return cli_fail("%s", err.msg);
    fprintf(stderr, "\rwenshu-cli: %s: %.1f s, %d frames, %d scene cuts          \n", o->video,
            (*video)->duration, (*video)->n_frames, *n_cuts);
    return 0;
}

/* Segments from the cuts, the frames each holds, and each one's keyframe
 * (the contact sheet's, and the model's for a segment without frames). */
static int plan(const struct clip_options *o, const struct eng_video *video, const double *cuts,
                int n_cuts, struct clip_segment **segments, int *n_segments, int **keyframes)
{
    struct clip_plan_params pp = clip_plan_params_default();
    pp.min_seconds = o->min_chapter;
    pp.max_seconds = o->max_chapter;
    if (pp.uncut_seconds > pp.max_seconds)
        pp.uncut_seconds = pp.max_seconds;
    double *times = malloc(sizeof(double) * (size_t)video->n_frames); /* [n_frames] */
    if (!times)
        return cli_fail("out of memory");
    for (int i = 0; i < video->n_frames; i++)
        times[i] = video->frames[i].time;
    GError *error = NULL;
    bool ok = clip_plan_segments(video->duration, cuts, n_cuts, &pp, segments, n_segments,
                                 &error) &&
              clip_assign_frames(*segments, *n_segments, times, video->n_frames, &error);
    if (ok && (*keyframes = malloc(sizeof(int) * (size_t)*n_segments)))
        clip_pick_keyframes(*segments, *n_segments, times, video->n_frames, *keyframes);
    free(times);
    if (!ok) {
        cli_fail("%s: %s", o->video, error->message);
        g_error_free(error);
        return 1;
    }
    return *keyframes ? 0 : cli_fail("out of memory");
}

/* ---- the model: map and reduce ------------------------------------------------------------ */

struct clip_run {
    const struct clip_options *o;
    const struct eng_video *video;
    const struct clip_segment *segments;
    int n_segments;
    struct cli_gen gen;
    struct eng_mmproj *proj;
    WenshuRemoteEndpoint *remote; /* owned; NULL: the local model and proj */
    struct cli_temp_images images; /* the frames sent to remote */
    const int *keyframes;     /* [n_segments] each segment's representative frame */
    const char *name;          /* the video's base name, for prompts */
    struct clip_timings t;
};

/* The segment's frames as a short clip (clip_segment_frames). */
static int segment_frames(const struct clip_run *r, int s, struct eng_video_frame *out)
{
    return clip_segment_frames(r->video, &r->segments[s], r->keyframes[s],
                               r->o->frames_per_segment, out);
}

/* Write frames[n] as PNG files for the endpoint; paths[n] (g_malloc'd)
 * receive their names. Returns 0, or 1 after printing why. */
static int write_frames(struct clip_run *r, const struct eng_video_frame *frames, int n,
                        char **paths)
{
    for (int i = 0; i < n; i++)
        if (!(paths[i] = cli_temp_images_write(&r->images, &frames[i].image)))
            return 1;
    return 0;
}

/* The describe prompt's one marker (the clip) repeated n times, one per
 * frame sent as an image. malloc'd; NULL when out of memory. */
static char *one_marker_per_frame(const char *user, int n)
{
    const char *at = strstr(user, ENG_MEDIA_MARKER);
    if (!at)
        return strdup(user);
    GString *out = g_string_new_len(user, at - user);
    for (int i = 0; i < n; i++)
        g_string_append(out, ENG_MEDIA_MARKER);
    g_string_append(out, at + strlen(ENG_MEDIA_MARKER));
    char *text = strdup(out->str);
    g_string_free(out, TRUE);
    return text;
}

/* The segment's frames as one encoded clip (local), or as PNG files in
 * paths[*n_media] (remote). Returns 0, or 1 after printing why. */
static int segment_media(struct clip_run *r, int s, struct eng_media **media, char **paths,
                         int *n_media)
{
    struct eng_video_frame frames[16];
    int n = segment_frames(r, s, frames);
    double t0 = now_seconds();
    if (r->remote) {
        *n_media = n;
        int status = write_frames(r, frames, n, paths);
        r->t.encode += now_seconds() - t0;
        return status;
    }
    struct eng_video sub = *r->video;
    sub.frames = frames;
    sub.n_frames = n;
    sub.duration = r->segments[s].end - r->segments[s].start;
    struct eng_err err;
    enum eng_status st = eng_mmproj_encode_video(r->proj, &sub, &cancel_flag, media, &err);
    r->t.encode += now_seconds() - t0;
    *n_media = 1;
    if (st)
        return cli_fail("%s: segment %d: %s", r->o->video, s + 1, err.msg);
    return 0;
}

/* One segment's description (map). NULL after printing why. */
static char *describe_segment(struct clip_run *r, int s)
{
    struct eng_media *media = NULL;
    char *paths[16] = {0}; /* [n_media] the frames' files, remote only */
    int n_media = 0;
    if (segment_media(r, s, &media, paths, &n_media)) {
        for (int i = 0; i < 16; i++)
            g_free(paths[i]);
        return NULL;
    }
    char *system = clip_gen_system_prompt();
    char *user = clip_gen_describe_prompt(r->name, s + 1, r->n_segments, r->segments[s].start,
                                          r->segments[s].end);
    if (r->remote && user) {
        char *marked = one_marker_per_frame(user, n_media);
        free(user);
        user = marked;
    }
    struct clip_describe_schema schema;
    clip_describe_schema_init(&schema);
    const char *video_name[1] = {r->o->video};
    const char *const *names = r->remote ? (const char *const *)paths : video_name;
    double t0 = now_seconds();
    char *json = system && user ? cli_gen_turn(&r->gen, system, user, &media, names, n_media,
                                               &schema.root, 400, NULL)
                                : NULL;
    if (!system || !user)
        cli_fail("out of memory");
    for (int i = 0; i < 16; i++)
        g_free(paths[i]);
    r->t.generate += now_seconds() - t0;
    char *description = json ? clip_gen_json_string(json, "description") : NULL;
    if (json && !description)
        cli_fail("segment %d: the answer has no description: %s", s + 1, json);
    free(json);
    free(system);
    free(user);
    eng_media_free(&media);
    return description;
}

/* Titles and a summary for segments [first, first + n) (reduce). */
static int reduce_group(struct clip_run *r, int first, int n, char *const *descriptions,
                        struct clip_chapter *chapters, char **summary)
{
    double starts[CLIP_GEN_GROUP], ends[CLIP_GEN_GROUP];
    for (int i = 0; i < n; i++) {
        starts[i] = r->segments[first + i].start;
        ends[i] = r->segments[first + i].end;
    }
    char *system = clip_gen_system_prompt();
    char *user = clip_gen_reduce_prompt(r->name, (const char *const *)descriptions + first,
                                        starts, ends, n);
    struct clip_reduce_schema schema;
    clip_reduce_schema_init(&schema, n);
    double t0 = now_seconds();
    char *json = cli_gen_turn(&r->gen, system, user, NULL, NULL, 0, &schema.root,
                              120 + 40 * n + 400, NULL);
    r->t.generate += now_seconds() - t0;
    char *titles[CLIP_GEN_GROUP];
    int status = 1;
    if (json && clip_gen_json_strings(json, "titles", titles, n) &&
        (*summary = clip_gen_json_string(json, "summary"))) {
        for (int i = 0; i < n; i++)
            chapters[first + i].title = titles[i];
        status = 0;
    } else if (json) {
        cli_fail("the chapter titles do not read back: %s", json);
    }
    free(json);
    free(system);
    free(user);
    return status;
}

/* The clip's title and summary from the groups' summaries. */
static int reduce_final(struct clip_run *r, char *const *summaries, int n, char **title,
                        char **summary)
{
    char *system = clip_gen_system_prompt();
    char *user = clip_gen_final_prompt(r->name, (const char *const *)summaries, n);
    struct clip_final_schema schema;
    clip_final_schema_init(&schema);
    double t0 = now_seconds();
    char *json = cli_gen_turn(&r->gen, system, user, NULL, NULL, 0, &schema.root, 700, NULL);
    r->t.generate += now_seconds() - t0;
    *title = json ? clip_gen_json_string(json, "title") : NULL;
    *summary = json ? clip_gen_json_string(json, "summary") : NULL;
    free(json);
    free(system);
    free(user);
    return *title && *summary ? 0 : cli_fail("the clip summary does not read back");
}

/* Map and reduce; fills chapter titles and summaries, *title and *summary. */
static int summarise(struct clip_run *r, struct clip_chapter *chapters, char **title,
                     char **summary)
{
    int n = r->n_segments, status = 0;
    char **descriptions = calloc((size_t)n, sizeof(char *)); /* [n] */
    int n_groups = (n + CLIP_GEN_GROUP - 1) / CLIP_GEN_GROUP;
    char **group_summaries = calloc((size_t)n_groups, sizeof(char *)); /* [n_groups] */
    if (!descriptions || !group_summaries)
        status = cli_fail("out of memory");
    for (int s = 0; !status && s < n; s++) {
        fprintf(stderr, "\rwenshu-cli: describing segment %d of %d   ", s + 1, n);
        if (!(descriptions[s] = describe_segment(r, s)))
            status = 1;
        else
            chapters[s].summary = strdup(descriptions[s]);
    }
    fprintf(stderr, "\n");
    for (int g = 0; !status && g < n_groups; g++) {
        int first = g * CLIP_GEN_GROUP;
        int count = n - first < CLIP_GEN_GROUP ? n - first : CLIP_GEN_GROUP;
        status = reduce_group(r, first, count, descriptions, chapters, &group_summaries[g]);
    }
    if (!status && n_groups == 1) {
        *summary = group_summaries[0];
        group_summaries[0] = NULL;
        *title = NULL;
    } else if (!status) {
        status = reduce_final(r, group_summaries, n_groups, title, summary);
    }
    for (int s = 0; descriptions && s < n; s++)
        free(descriptions[s]);
    for (int g = 0; group_summaries && g < n_groups; g++)
        free(group_summaries[g]);
    free(descriptions);
    free(group_summaries);
    return status;
}

/* ---- outputs ------------------------------------------------------------------------------ */

/* "1,3" into 0-based indices of n chapters; false after printing why. */
static bool parse_chapter_list(const char *text, int n, int *out, int *n_out)
{
    *n_out = 0;
    for (const char *p = text; *p;) {
        char *end = NULL;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > n || (*n_out > 0 && v - 1 <= out[*n_out - 1])) {
            cli_fail("clip: --chapters %s: want ascending chapter numbers 1..%d", text, n);
            return false;
        }
        out[(*n_out)++] = (int)v - 1;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') {
            cli_fail("clip: --chapters %s: want numbers separated by commas", text);
            return false;
        }
    }
    return *n_out > 0;
}

static int write_outputs(const struct clip_options *o, const struct eng_video *video,
                         const int *keyframes, const struct clip_chapter *chapters, int n,
                         const char *title, const char *summary)
{
    GError *error = NULL;
    bool ok = (!o->md || clip_write_markdown(o->md, title, summary, chapters, n, &error)) &&
              (!o->srt || clip_write_srt(o->srt, chapters, n, &error)) &&
              (!o->vtt || clip_write_vtt(o->vtt, chapters, n, &error));
    if (ok && o->sheet) {
        struct clip_sheet_params sp = clip_sheet_params_default();
        ok = clip_contact_sheet(video, keyframes, n, &sp, o->sheet, &error);
    }
    if (ok && o->highlights) {
        int chosen[256], n_chosen = 0;
        if (n > 256 || !parse_chapter_list(o->chapters, n, chosen, &n_chosen))
            return 2;
        struct clip_chapter picked[256];
        for (int i = 0; i < n_chosen; i++)
            picked[i] = chapters[chosen[i]];
        ok = clip_cut_highlights(o->video, picked, n_chosen, o->highlights, &error);
    }
    if (!ok) {
        int status = cli_fail("%s", error ? error->message : "out of memory");
        if (error)
            g_error_free(error);
        return status;
    }
    return 0;
}

/* ---- the command -------------------------------------------------------------------------- */

static int load_models(struct clip_run *r)
{
    const struct clip_options *o = r->o;
    if (o->remote.url) {
        r->remote = cli_remote_endpoint_new(&o->remote);
        r->gen.remote = r->remote;
        r->gen.sampler = o->sampler;
        r->gen.cancel = &cancel_flag;
        return 0;
    }
    struct eng_mmproj_params pp = eng_mmproj_params_default();
    pp.path = o->mmproj;
    pp.n_threads = o->n_threads;
    pp.device = o->device;
    struct eng_err err;
    if (eng_mmproj_load(&pp, &r->proj, &err) != ENG_STATUS_OK)
        return cli_fail("%s", err.msg);
    r->gen.model = cli_load_model(o->model, o->n_threads, o->device, false, false);
    if (!r->gen.model)
        return 1;
    if (eng_mmproj_check_pair(r->proj, r->gen.model, &err))
        return cli_fail("%s", err.msg);
    struct eng_session_params sp = eng_session_params_default();
    sp.n_ctx = o->n_ctx;
    sp.n_threads = o->n_threads;
    if (eng_session_new(r->gen.model, &sp, &r->gen.session, &err) != ENG_STATUS_OK)
        return cli_fail("%s: %s", o->model, err.msg);
    r->gen.sampler = o->sampler;
    r->gen.cancel = &cancel_flag;
    return 0;
}

static void untitled_chapters(struct clip_chapter *chapters, int n)
{
    for (int i = 0; i < n; i++) {
        char a[16];
        clip_gen_format_time(chapters[i].start, a, sizeof a);
        chapters[i].title = g_strdup_printf("片段 %d（%s）", i + 1, a);
    }
}

int cmd_clip(int argc, char **argv)
{
    struct clip_options o;
    if (!parse_clip_options(argc, argv, &o))
        return 2;
    struct clip_run r = {.o = &o};
    char *base = g_path_get_basename(o.video);
    r.name = base;
    struct eng_video *video = NULL;
    double *cuts = NULL;
    int n_cuts = 0, n = 0;
    struct clip_segment *segments = NULL;
    struct clip_chapter *chapters = NULL;
    char *title = NULL, *summary = NULL;
    double t0 = now_seconds();
    int status = decode(&o, &video, &cuts, &n_cuts);
    r.t.decode = now_seconds() - t0;
    int *keyframes = NULL; /* [n] */
    if (!status)
        status = plan(&o, video, cuts, n_cuts, &segments, &n, &keyframes);
    if (!status && !(chapters = calloc((size_t)n, sizeof(*chapters))))
        status = cli_fail("out of memory");
    for (int i = 0; !status && i < n; i++) {
        chapters[i].start = segments[i].start;
        chapters[i].end = segments[i].end;
    }
    r.video = video;
    r.segments = segments;
    r.n_segments = n;
    r.keyframes = keyframes;
    if (!status && (o.model || o.remote.url))
        status = load_models(&r) || summarise(&r, chapters, &title, &summary);
    else if (!status)
        untitled_chapters(chapters, n);
    if (!status)
        status = write_outputs(&o, video, keyframes, chapters, n, title ? title : base, summary);
    if (!status)
        printf("chapters %d\n", n);
    if (o.timings)
        printf("{\"decode_s\": %.3f, \"encode_s\": %.3f, \"generate_s\": %.3f, "
               "\"segments\": %d, \"frames\": %d}\n",
               r.t.decode, r.t.encode, r.t.generate, n, video ? video->n_frames : 0);
    for (int i = 0; chapters && i < n; i++) {
        free(chapters[i].title);
        free(chapters[i].summary);
    }
    free(chapters);
    free(keyframes);
    g_free(segments);
    free(cuts);
    free(title);
    free(summary);
    cli_gen_free(&r.gen);
    eng_session_free(&r.gen.session);
    eng_model_free(&r.gen.model);
    eng_mmproj_free(&r.proj);
    wenshu_remote_endpoint_free(&r.remote);
    cli_temp_images_remove(&r.images);
    eng_video_free(&video);
    g_free(base);
    return status;
}
