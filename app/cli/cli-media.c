/* cli-media.c: images and clips on the command line: the --mmproj, --image
 * and --video flags of run and logits, the media they make, and the
 * `encode` sub-command.
 *
 * Clips are decoded on worker threads of their own (one per clip) while the
 * models load, with their progress on stderr; the encoder then runs on the
 * projector's device. Media are kept in command-line order, and each one
 * takes the place of one ENG_MEDIA_MARKER in the prompt (markers are added
 * in front of the text when it has none).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* ---- progress lines ------------------------------------------------------------- */

bool cli_progress_wanted(void)
{
    return isatty(STDERR_FILENO) == 1;
}

void cli_progress_init(struct cli_progress *line, const char *label)
{
    snprintf(line->label, sizeof line->label, "%s", label);
    line->last_percent = -1;
}

void cli_progress_print(uint64_t done, uint64_t total, void *user_data)
{
    struct cli_progress *line = user_data;
    int percent = done >= total ? 100 : (int)((double)done * 100.0 / (double)total);
    if (percent == line->last_percent)
        return;
    if (percent == 100) {
        cli_progress_clear(line);
        line->last_percent = 100;
        return;
    }
    /* \r and "erase to the end of the line": the line is redrawn in place. */
    fprintf(stderr, "\r\033[Kwenshu-cli: %s %d%%", line->label, percent);
    line->last_percent = percent;
}

void cli_progress_clear(struct cli_progress *line)
{
    if (line->last_percent >= 0 && line->last_percent < 100)
        fputs("\r\033[K", stderr);
    line->last_percent = -1;
}

bool cli_media_opt(int argc, char **argv, int *i, struct cli_media_options *o, bool *bad)
{
    const char *v = NULL;
    bool missing = false;
    int n;
    if (cli_opt(argc, argv, i, NULL, "--mmproj", &o->mmproj, &missing)) {
    } else if (cli_opt(argc, argv, i, NULL, "--image", &v, &missing) ||
               cli_opt(argc, argv, i, NULL, "--video", &v, &missing)) {
        if (!missing && o->n_items >= CLI_MAX_MEDIA) {
            cli_fail("%s: at most %d images and clips", argv[0], CLI_MAX_MEDIA);
            *bad = true;
            return true;
        }
        if (!missing)
            o->items[o->n_items++] = (struct cli_media_item){
                .path = v, .is_video = strcmp(argv[*i - 1], "--video") == 0};
    } else if (cli_opt(argc, argv, i, NULL, "--min-pixels", &v, &missing)) {
        *bad = !missing && (!cli_parse_int(v, &n) || n <= 0);
        o->mmproj_params.min_pixels = n;
    } else if (cli_opt(argc, argv, i, NULL, "--max-pixels", &v, &missing)) {
        *bad = !missing && (!cli_parse_int(v, &n) || n <= 0);
        o->mmproj_params.max_pixels = n;
    } else if (cli_opt(argc, argv, i, NULL, "--longest-edge", &v, &missing)) {
        *bad = !missing && (!cli_parse_int(v, &n) || n <= 0);
        o->mmproj_params.longest_edge = n;
    } else if (cli_opt(argc, argv, i, NULL, "--max-tiles", &v, &missing)) {
        *bad = !missing && !cli_parse_int(v, &o->mmproj_params.max_tiles);
    } else if (cli_opt(argc, argv, i, NULL, "--video-fps", &v, &missing)) {
        float fps = 0;
        *bad = !missing && (!cli_parse_float(v, &fps) || !(fps > 0));
        o->video_params.fps = fps;
    } else if (cli_opt(argc, argv, i, NULL, "--video-max-frames", &v, &missing)) {
        *bad = !missing && (!cli_parse_int(v, &o->video_params.max_frames) ||
                            o->video_params.max_frames < 1);
    } else {
        return false;
    }
    if (missing)
        *bad = true;
    else if (*bad)
        cli_fail("%s: bad value for %s: %s", argv[0], argv[*i - 1], v);
    return true;
}

void cli_media_options_init(struct cli_media_options *o)
{
    *o = (struct cli_media_options){.mmproj_params = eng_mmproj_params_default(),
                                    .video_params = eng_video_params_default()};
    /* A clip in one prompt: 1 frame a second, 32 at most (a 4096-token
     * context holds about that many SmolVLM frames). */
    o->video_params.fps = 1.0;
    o->video_params.max_frames = 32;
}

/* ---- decoding clips on worker threads ------------------------------------------ */

static void print_clip_progress(int n_done, int n_total, double time, void *user_data)
{
    fprintf(stderr, "\rwenshu-cli: %s: frame %d of %d (%.1f s)%s", (const char *)user_data,
            n_done, n_total, time, n_done == n_total ? "\n" : "");
}

static void *decode_clip(void *arg)
{
    struct cli_clip_job *job = arg;
    job->status = eng_video_sample(job->path, &job->params, &job->video, &job->err);
    return NULL;
}

/* ---- the media set -------------------------------------------------------------- */

int cli_media_start(const struct cli_media_options *o, int device, int n_threads,
                    struct cli_media_set *set)
{
    memset(set, 0, sizeof *set);
    set->options = o;
    if (o->n_items > 0 && !o->mmproj)
        return cli_fail("an image or clip needs a vision projector (--mmproj PROJ.gguf)");
    if (!o->mmproj)
        return 0;
    for (int i = 0; i < o->n_items; i++) {
        struct cli_clip_job *job = &set->jobs[i];
        if (!o->items[i].is_video)
            continue;
        job->path = o->items[i].path;
        job->params = o->video_params;
        job->params.progress = print_clip_progress;
        job->params.progress_user_data = (void *)job->path;
        job->started = pthread_create(&job->thread, NULL, decode_clip, job) == 0;
        if (!job->started)
            decode_clip(job);
    }
    struct eng_mmproj_params mp = o->mmproj_params;
    mp.path = o->mmproj;
    mp.device = device;
    mp.n_threads = n_threads;
    cli_progress_init(&set->encode_line, "encoding");
    if (cli_progress_wanted()) {
        mp.progress = cli_progress_print;
        mp.progress_user_data = &set->encode_line;
    }
    struct eng_err err;
    if (eng_mmproj_load(&mp, &set->proj, &err) != ENG_STATUS_OK) {
        cli_fail("%s", err.msg);
        cli_media_set_free(set);
        return 1;
    }
    struct eng_mmproj_info info;
    eng_mmproj_get_info(set->proj, &info);
    if (info.device_notice[0])
        fprintf(stderr, "wenshu-cli: note: %s\n", info.device_notice);
    return 0;
}

/* Decode and encode one image; err names the file on failure. */
static enum eng_status encode_image_file(struct eng_mmproj *proj, const char *path,
                                         struct eng_media **out, struct eng_err *err)
{
    struct eng_image *image = NULL;
    enum eng_status st = eng_image_load(path, NULL, &image, err);
    if (st == ENG_STATUS_OK && (st = eng_mmproj_encode_image(proj, image, out, err)))
        snprintf(err->msg + strlen(err->msg), sizeof err->msg - strlen(err->msg), " (%s)", path);
    eng_image_free(&image);
    return st;
}

/* Encode item i: an image file, or the clip its job decoded, with the
 * encode's progress line on a terminal. */
static int encode_item(struct cli_media_set *set, int i, struct eng_media **out)
{
    struct cli_clip_job *job = &set->jobs[i];
    const char *path = set->options->items[i].path;
    if (set->options->items[i].is_video && job->status != ENG_STATUS_OK)
        return cli_fail("%s", job->err.msg);
    char label[sizeof set->encode_line.label];
    snprintf(label, sizeof label, "encoding %s", path);
    cli_progress_init(&set->encode_line, label);
    struct eng_err err;
    enum eng_status st = set->options->items[i].is_video
                             ? eng_mmproj_encode_video(set->proj, job->video, NULL, out, &err)
                             : encode_image_file(set->proj, path, out, &err);
    cli_progress_clear(&set->encode_line);
    if (st == ENG_STATUS_OK)
        return 0;
    return set->options->items[i].is_video ? cli_fail("%s: %s", path, err.msg)
                                           : cli_fail("%s", err.msg);
}

int cli_media_finish(struct cli_media_set *set)
{
    int status = 0;
    for (int i = 0; set->proj && i < set->options->n_items; i++) {
        struct cli_clip_job *job = &set->jobs[i];
        if (job->started)
            pthread_join(job->thread, NULL);
        job->started = false;
        if (!status && !(status = encode_item(set, i, &set->media[set->n_media])))
            set->n_media++;
        eng_video_free(&job->video);
    }
    if (status)
        cli_media_set_free(set);
    return status;
}

void cli_media_set_free(struct cli_media_set *set)
{
    for (int i = 0; set->options && i < set->options->n_items; i++) {
        if (set->jobs[i].started)
            pthread_join(set->jobs[i].thread, NULL);
        set->jobs[i].started = false;
        eng_video_free(&set->jobs[i].video);
    }
    for (int i = 0; i < set->n_media; i++)
        eng_media_free(&set->media[i]);
    set->n_media = 0;
    eng_mmproj_free(&set->proj);
}

void cli_media_report(const struct cli_media_set *set, const struct cli_media_options *o)
{
    for (int i = 0; i < set->n_media; i++) {
        const struct eng_media *m = set->media[i];
        fprintf(stderr, "[%s: %d tokens, encoded in %.2f s]\n", o->items[i].path, m->n_tokens,
                m->encode_seconds);
    }
}

/* ---- prompts with media ----------------------------------------------------------- */

char *cli_media_mark_text(const char *text, int n_media)
{
    size_t marker = strlen(ENG_MEDIA_MARKER), len = strlen(text);
    if (n_media == 0 || strstr(text, ENG_MEDIA_MARKER))
        return strdup(text);
    char *out = malloc(marker * (size_t)n_media + len + 1);
    if (!out)
        return NULL;
    for (int i = 0; i < n_media; i++)
        memcpy(out + marker * (size_t)i, ENG_MEDIA_MARKER, marker);
    memcpy(out + marker * (size_t)n_media, text, len + 1);
    return out;
}

int cli_eval_media_list(struct eng_model *model, struct eng_session *session, const char *prompt,
                        struct eng_media *const *media, const char *const *names, int n_media,
                        const volatile int *cancel)
{
    size_t marker = strlen(ENG_MEDIA_MARKER);
    int n_marks = 0;
    for (const char *p = strstr(prompt, ENG_MEDIA_MARKER); p; p = strstr(p + marker,
                                                                          ENG_MEDIA_MARKER))
        n_marks++;
    if (n_marks != n_media)
        return cli_fail("the prompt has %d %s markers for %d images and clips", n_marks,
                        ENG_MEDIA_MARKER, n_media);
    struct eng_err err;
    const char *text = prompt;
    for (int i = 0; i <= n_media; i++) {
        const char *end = i < n_media ? strstr(text, ENG_MEDIA_MARKER) : text + strlen(text);
        int32_t *ids = NULL;
        size_t n = 0;
        enum eng_status st = eng_tokenize(model, text, (size_t)(end - text), true, &ids, &n, &err);
        if (st == ENG_STATUS_OK)
            st = eng_session_eval(session, ids, n, cancel, &err);
        free(ids);
        if (st)
            return cli_fail("%s", err.msg);
        if (i < n_media && eng_session_eval_media(session, media[i], cancel, &err))
            return cli_fail("%s: %s", names[i], err.msg);
        text = end + marker;
    }
    return 0;
}

int cli_eval_with_media(struct eng_model *model, struct eng_session *session, const char *prompt,
                        const struct cli_media_set *set, const volatile int *cancel)
{
    const char *names[CLI_MAX_MEDIA];
    for (int i = 0; i < set->n_media; i++)
        names[i] = set->options->items[i].path;
    return cli_eval_media_list(model, session, prompt, set->media, names, set->n_media, cancel);
}

/* ---- wenshu-cli encode ------------------------------------------------------------ */

int cmd_encode(int argc, char **argv)
{
    struct cli_media_options o;
    cli_media_options_init(&o);
    const char *out_path = NULL, *v = NULL;
    int device = eng_model_params_default().device, n_threads = 0;
    for (int i = 1; i < argc; i++) {
        bool missing = false, bad = false;
        if (cli_media_opt(argc, argv, &i, &o, &bad)) {
        } else if (cli_opt(argc, argv, &i, "-o", "--output", &out_path, &missing)) {
        } else if (cli_opt(argc, argv, &i, NULL, "--device", &v, &missing)) {
            bad = !missing && !eng_device_parse(v, &device);
        } else if (cli_opt(argc, argv, &i, "-t", "--threads", &v, &missing)) {
            bad = !missing && (!cli_parse_int(v, &n_threads) || n_threads < 0);
        } else {
            return cli_fail("encode: unknown option %s", argv[i]);
        }
        if (missing || bad)
            return missing ? 2 : cli_fail("encode: bad value for %s", argv[i - 1]) + 1;
    }
    if (!o.mmproj || o.n_items != 1)
        return cli_fail("encode: give --mmproj PROJ.gguf and one --image or --video");
    struct cli_media_set set;
    if (cli_media_start(&o, device, n_threads, &set) || cli_media_finish(&set))
        return 1;
    const struct eng_media *m = set.media[0];
    int status = 0;
    if (out_path && cli_write_npy(out_path, m->embd, (size_t)m->n_tokens, (size_t)m->n_embd))
        status = cli_fail("%s: cannot write the file", out_path);
    struct eng_mmproj_info info;
    eng_mmproj_get_info(set.proj, &info);
    printf("tokens %d embd %d grid %d %d %d tiles %d %d images %d\n", m->n_tokens, m->n_embd,
           m->grid_t, m->grid_h, m->grid_w, m->n_rows, m->n_cols, m->n_images);
    fprintf(stderr, "[%s on %s: %.3f s]\n", info.projector, info.device, m->encode_seconds);
    cli_media_set_free(&set);
    return status;
}

/* ---- loading the text model next to the media ---------------------------------------- */

struct eng_model *cli_load_model(const char *path, int n_threads, int device, bool use_mmap,
                                 bool vocab_only)
{
    struct eng_model_params mp = eng_model_params_default();
    mp.path = path;
    mp.n_threads = n_threads;
    mp.vocab_only = vocab_only;
    mp.use_mmap = use_mmap;
    mp.device = device;
    struct cli_progress line;
    cli_progress_init(&line, "loading");
    if (cli_progress_wanted() && !vocab_only) {
        mp.progress = cli_progress_print;
        mp.progress_user_data = &line;
    }
    struct eng_model *model = NULL;
    struct eng_err err;
    enum eng_status st = eng_model_load(&mp, &model, &err);
    cli_progress_clear(&line);
    if (st != ENG_STATUS_OK) {
        cli_fail("%s", err.msg);
        return NULL;
    }
    if (!vocab_only)
        cli_report_device(model);
    return model;
}

struct eng_model *cli_load_model_and_media(const char *path, int n_threads, int device,
                                           bool use_mmap, const struct cli_media_options *mo,
                                           struct cli_media_set *media)
{
    if (cli_media_start(mo, device, n_threads, media))
        return NULL;
    struct eng_model *model = cli_load_model(path, n_threads, device, use_mmap, false);
    struct eng_err err;
    int status = model ? cli_media_finish(media) : 1;
    if (!status && media->proj && eng_mmproj_check_pair(media->proj, model, &err)) {
        cli_fail("%s", err.msg);
        status = 1;
    }
    if (status) {
        cli_media_set_free(media);
        eng_model_free(&model);
        return NULL;
    }
    if (media->n_media)
        cli_media_report(media, mo);
    return model;
}
