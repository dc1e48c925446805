/* cli.h: shared pieces of wenshu-cli's sub-commands. */
#ifndef WENSHU_CLI_H
#define WENSHU_CLI_H

#include <stdbool.h>

#include "wenshu-engine.h"

/* Each sub-command: argc/argv start at the sub-command's name. Returns the
 * process exit status. */
int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_vocab(int argc, char **argv);
int cmd_bench(int argc, char **argv);

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

/* Read a whole file into a malloc'd buffer (NUL-terminated). NULL + message on failure. */
char *cli_read_file(const char *path, size_t *len);

/* Sampling flags shared by run, chat and bench: --temp, --top-k, --top-p,
 * --min-p, --repeat-penalty, --frequency-penalty, --presence-penalty,
 * --repeat-last-n, --seed. Returns true when argv[*i] was one of them
 * (and advances *i); sets *bad on a malformed value. */
bool cli_sampler_opt(int argc, char **argv, int *i, struct eng_sampler_params *sp, bool *bad);

#endif /* WENSHU_CLI_H */
