/* cli.h: shared pieces of wenshu-cli's sub-commands. */
#ifndef WENSHU_CLI_H
#define WENSHU_CLI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "remote.h"
#include "wenshu-engine.h"

/* Each sub-command: argc/argv start at the sub-command's name. Returns the
 * process exit status. */
int cmd_run(int argc, char **argv);
/* run --remote URL --remote-model M (cmd-remote.c, owner: remote): the run on an
 * OpenAI-compatible server; cmd_run hands over when --remote is given. */
int cmd_run_remote(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_vocab(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_bench_vision(int argc, char **argv);

/* Print "wenshu-cli: <msg>" to stderr and return 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Option parsing helpers: match argv[*i] against a flag taking a value.
 * On a match, *value points at the next argument and *i advances; a missing
 * value sets *missing. */
bool cli_opt(int argc, char **argv, int *i, const char *short_name, const char *long_name,
             const char **value, bool *missing);
bool cli_parse_int(const char *text, int *out);
bool cli_parse_float(const char *text, float *out);

/* Print, once per load, where the model runs when it is not on the GPU the
 * user may expect (the engine's fallback notice), to stderr. */
void cli_report_device(const struct eng_model *model);

int cmd_devices(int argc, char **argv);

/* Write an image as a binary PPM (P6, maxval 255). Returns 0, or 1 after
 * printing why. */
int cli_write_ppm(const struct eng_image *image, const char *path);
int cmd_image(int argc, char **argv);
int cmd_frames(int argc, char **argv);

/* Write n_rows x n_cols float32 values (n_cols 0: a vector of n_rows) as a
 * version 1.0 .npy file. Returns 0, or 1 when the file cannot be written. */
int cli_write_npy(const char *path, const float *v, size_t n_rows, size_t n_cols);

/* ---- progress lines (cli-media.c) ---- */

/* One line on stderr, "wenshu-cli: loading 42%" or "wenshu-cli: encoding
 * photo.png 42%", redrawn in place while stderr is a terminal and cleared
 * when the step ends. Elsewhere nothing is printed: scripts and tests read
 * stderr. */
struct cli_progress {
    char label[320];  /* "loading", "encoding NAME" */
    int last_percent; /* what the line shows; -1: nothing shown */
};
/* Whether progress lines are printed (stderr is a terminal). */
bool cli_progress_wanted(void);
/* Start a line labelled label (nothing is printed until the first report). */
void cli_progress_init(struct cli_progress *line, const char *label);
/* An eng_progress_fn on a struct cli_progress: redraws the line when its
 * percentage changes; done == total clears it. */
void cli_progress_print(uint64_t done, uint64_t total, void *user_data);
/* Clear the line if it still shows (a step that failed half way). */
void cli_progress_clear(struct cli_progress *line);

/* ---- images and clips (cli-media.c) ---- */

#define CLI_MAX_MEDIA 32

struct cli_media_item {
    const char *path;
    bool is_video;
};

/* The --mmproj, --image, --video and preprocessing flags. */
struct cli_media_options {
    const char *mmproj;
    struct cli_media_item items[CLI_MAX_MEDIA]; /* in command-line order */
    int n_items;
    struct eng_mmproj_params mmproj_params;     /* --min-pixels, --max-pixels,
                                                 * --longest-edge, --max-tiles */
    struct eng_video_params video_params;       /* --video-fps, --video-max-frames */
};
void cli_media_options_init(struct cli_media_options *o);
/* Returns true when argv[*i] was a media flag (and advances *i); sets *bad
 * on a missing or malformed value, after printing why. */
bool cli_media_opt(int argc, char **argv, int *i, struct cli_media_options *o, bool *bad);

/* One clip being decoded on a worker thread. */
struct cli_clip_job {
    const char *path;
    struct eng_video_params params;
    struct eng_video *video; /* the frames, owned by the job */
    enum eng_status status;
    struct eng_err err;
    pthread_t thread;
    bool started;
};

/* The projector and the encoded media, in command-line order. */
struct cli_media_set {
    const struct cli_media_options *options;
    struct eng_mmproj *proj;                 /* owned; NULL without --mmproj */
    struct cli_clip_job jobs[CLI_MAX_MEDIA]; /* [i] for items[i] that are clips */
    struct eng_media *media[CLI_MAX_MEDIA];  /* [n_media], owned */
    int n_media;
    struct cli_progress encode_line;         /* the projector reports here (a terminal only) */
};
/* Start decoding the clips on worker threads and load the projector; then
 * (after loading the text model) cli_media_finish() encodes every item.
 * Both return 0, or 1 after printing why (the set is then freed). */
int cli_media_start(const struct cli_media_options *o, int device, int n_threads,
                    struct cli_media_set *set);
int cli_media_finish(struct cli_media_set *set);
void cli_media_set_free(struct cli_media_set *set);
/* Print each item's token count and encode time to stderr. */
void cli_media_report(const struct cli_media_set *set, const struct cli_media_options *o);

/* text with one ENG_MEDIA_MARKER per medium in front, unless it has markers
 * already (malloc'd; NULL when out of memory). */
char *cli_media_mark_text(const char *text, int n_media);
/* Evaluate a prompt whose ENG_MEDIA_MARKERs stand for the set's media in
 * order: text pieces (special tokens parsed) and media in turn. Returns 0,
 * or 1 after printing why (naming the file of a medium that fails). */
int cli_eval_with_media(struct eng_model *model, struct eng_session *session, const char *prompt,
                        const struct cli_media_set *set, const volatile int *cancel);
/* The same for media[n_media] named names[] (for messages). */
int cli_eval_media_list(struct eng_model *model, struct eng_session *session, const char *prompt,
                        struct eng_media *const *media, const char *const *names, int n_media,
                        const volatile int *cancel);
int cmd_encode(int argc, char **argv);

/* Load a text model (printing the CPU-fallback notice); NULL after printing why. */
struct eng_model *cli_load_model(const char *path, int n_threads, int device, bool use_mmap,
                                 bool vocab_only);
/* Load the text model and, with --mmproj, encode the media while it loads
 * (clips decode on their own threads); the pair is checked and each item's
 * tokens reported. NULL after printing why (the set is then freed). */
struct eng_model *cli_load_model_and_media(const char *path, int n_threads, int device,
                                           bool use_mmap, const struct cli_media_options *mo,
                                           struct cli_media_set *media);

/* 公文 commands (cmd-docs.c). */
int cmd_check(int argc, char **argv);
int cmd_format(int argc, char **argv);
int cmd_draft(int argc, char **argv);
/* Slide decks (cmd-slides.c): load the theme, check the pictures and write
 * whichever of pptx, pdf, png (a file prefix, at dpi) is not NULL; prints
 * "slides N". Returns 0, 2 for a bad theme or picture, 1 when an output
 * cannot be written (then none of this call's outputs is left). */
int cmd_slides(int argc, char **argv);
struct deck;
int cli_export_deck(const struct deck *d, const char *theme, const char *pptx, const char *pdf,
                    const char *png, double dpi);
int cmd_clip(int argc, char **argv);
struct gw_doc;
/* Lay out doc and write whichever of docx, pdf, png (a file prefix, at dpi)
 * is not NULL; font substitutions go to stderr, "pages N" to stdout.
 * Returns 0, or 1 after printing why. */
int cli_export_gongwen(const struct gw_doc *doc, const char *docx, const char *pdf,
                       const char *png, double dpi);

/* ---- generation steps (cli-gen.c) ---- */

/* Collects streamed text (an eng_token_callback), optionally echoing it. */
struct cli_text_sink {
    char *text;  /* malloc'd, NUL-terminated; NULL until the first piece */
    size_t len, cap;
    FILE *echo;  /* NULL: silent */
};
bool cli_sink_piece(int32_t token, const char *text, size_t len, void *user_data);

/* A model and session answering one JSON turn after another; text-only
 * prompts reuse the longest cached prefix of the previous one. With remote
 * set, every turn goes to that endpoint instead (model and session NULL). */
struct cli_gen {
    const WenshuRemoteEndpoint *remote; /* not owned; NULL: the local model */
    struct eng_model *model;
    struct eng_session *session;
    struct eng_sampler_params sampler;
    const volatile int *cancel;
    int32_t *cached;   /* [n_cached] the last prompt's tokens, in the KV cache */
    size_t n_cached;
};
/* Render [system, user] (user holds one ENG_MEDIA_MARKER per medium), then
 * generate at most max_tokens: JSON that follows schema, or free text when
 * schema is NULL (stopping at the end token), echoed to echo (may be NULL).
 * Locally media[] are the encoded media and names[] their files (for
 * messages); with g->remote, media may be NULL and names[] are the image
 * files sent. Returns the malloc'd reply, or NULL after printing why. */
char *cli_gen_turn(struct cli_gen *g, const char *system, const char *user,
                   struct eng_media *const *media, const char *const *names, int n_media,
                   const struct eng_schema *schema, int max_tokens, FILE *echo);
void cli_gen_free(struct cli_gen *g); /* the cached tokens; not the model or session */

/* ---- remote endpoints for draft, slides and clip (cmd-remote.c) ---- */

/* --remote URL --remote-model M [--api-key-env VAR]: run every turn on an
 * OpenAI-compatible server instead of a local model. */
struct cli_remote_options {
    const char *url;     /* --remote: the base URL; NULL: a local model */
    const char *model;   /* --remote-model: the "model" field of requests */
    const char *key_env; /* --api-key-env: the variable holding the key, or NULL */
};
/* Returns true when argv[*i] was one of the three flags (and advances *i);
 * a missing value sets *missing after printing why. */
bool cli_remote_opt(int argc, char **argv, int *i, struct cli_remote_options *r, bool *missing);
/* Whether the remote flags given make sense together (a model name with
 * the URL, a set key variable); false after printing why, naming command. */
bool cli_remote_check(const char *command, const struct cli_remote_options *r);
/* The endpoint for checked options (the key read from the environment).
 * Ownership: free with wenshu_remote_endpoint_free(). */
WenshuRemoteEndpoint *cli_remote_endpoint_new(const struct cli_remote_options *r);
/* One streamed chat completion: msgs[n_msgs] (one ENG_MEDIA_MARKER per
 * image in their contents), image_paths[n_images] sent as data URLs, the
 * schema as response_format json_schema (NULL: free text), max_tokens,
 * the sampler's temperature, top_p and seed. The text goes to sink (and
 * its echo). Returns 0, or 1 after printing the endpoint's error (it names
 * the URL); a cancel prints "stopped". */
int cli_remote_turn(const WenshuRemoteEndpoint *endpoint, const struct eng_chat_message *msgs,
                    int n_msgs, const char *const *image_paths, int n_images,
                    const struct eng_sampler_params *sampler, const struct eng_schema *schema,
                    int max_tokens, const volatile int *cancel, struct cli_text_sink *sink);

/* A private temporary folder of PNG files, for images sent to an endpoint
 * (rendered pages, video frames). Made on the first write; removed with its
 * files by cli_temp_images_remove(). */
struct cli_temp_images {
    char *dir;   /* g_malloc'd; NULL until the first write */
    int n_files; /* files written: image-0.png .. image-(n_files-1).png */
};
/* Write image as an 8-bit RGB PNG (lossless) into the folder. Returns its
 * path (g_malloc'd, the caller frees it), or NULL after printing why. */
char *cli_temp_images_write(struct cli_temp_images *t, const struct eng_image *image);
/* Delete the files and the folder; safe to call again. */
void cli_temp_images_remove(struct cli_temp_images *t);

/* ---- scanned PDFs (cli-scan.c) ---- */

/* Whether the file starts like a PDF. */
bool cli_is_pdf(const char *path);
/* The text of a PDF without a text layer: each page (at most max_pages)
 * rendered, encoded by proj and transcribed by g's model; with g->remote
 * (proj NULL) each page goes to the endpoint as a PNG from a temporary
 * folder, removed at the end. NULL after printing why. */
char *cli_transcribe_pdf(struct cli_gen *g, struct eng_mmproj *proj, const char *path,
                         int max_pages);

/* ---- slides with the model (cli-slides-gen.c) ---- */

struct slides_gen_options {
    const char *model;        /* the text model, or NULL with remote.url */
    struct cli_remote_options remote; /* remote.url: an endpoint instead of a model */
    const char *mmproj;       /* its vision projector, for a scanned PDF input; or NULL */
    const char *input;        /* the source document (.docx, .pdf, .md, .txt), or NULL */
    const char *topic;        /* or NULL */
    const char *outline;      /* an edited outline JSON: skips the outline step; or NULL */
    const char *outline_out;  /* write the generated outline here, or NULL */
    bool outline_only;        /* stop after the outline (the deck gets its points) */
    int n_slides, n_ctx, n_threads, device;
    struct eng_sampler_params sampler;
};
/* The outline, then each slide; *deck_json is the deck JSON for
 * deck_from_json() (malloc'd). Returns 0, 1 or 2 (bad input) after printing why. */
int cli_slides_generate(const struct slides_gen_options *o, char **deck_json);

/* Read a whole file into a malloc'd buffer (NUL-terminated). NULL + message on failure. */
char *cli_read_file(const char *path, size_t *len);

/* Sampling flags shared by run, chat and bench: --temp, --top-k, --top-p,
 * --min-p, --repeat-penalty, --frequency-penalty, --presence-penalty,
 * --repeat-last-n, --seed. Returns true when argv[*i] was one of them
 * (and advances *i); sets *bad on a malformed value. */
bool cli_sampler_opt(int argc, char **argv, int *i, struct eng_sampler_params *sp, bool *bad);

#endif /* WENSHU_CLI_H */
