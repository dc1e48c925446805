/* main.c: wenshu-cli, the headless front end. Sub-commands live in
 * cmd-generate.c (run, chat, tokenize, logits), cmd-files.c (inspect,
 * synth, quantize, vocab) and cmd-bench.c (bench). */
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd-models.h"
#include "cmd-serve.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
};

static const struct command commands[] = {
    {"run", cmd_run, "run -m MODEL -p PROMPT [--system TEXT] [-n N] [--raw] [media flags] "
                     "[sampling flags]\n"
                     "  run --remote URL --remote-model M [--api-key-env VAR] [--timeout S] "
                     "-p PROMPT [--system TEXT] [-n N] [--image F] [sampling flags]"},
    {"chat", cmd_chat, "chat -m MODEL [--system TEXT] [--no-think] [sampling flags]"},
    {"tokenize", cmd_tokenize, "tokenize -m MODEL (-p TEXT | -f FILE) [--special]"},
    {"logits", cmd_logits, "logits -m MODEL -p TEXT -o OUT.npy [-n N] [--ctx N] [media flags]"},
    {"encode", cmd_encode, "encode --mmproj PROJ (--image IMG | --video CLIP) [-o EMBD.npy] "
                           "[--device D]   run the vision encoder alone"},
    {"inspect", cmd_inspect, "inspect MODEL"},
    {"synth", cmd_synth,
     "synth [--arch ARCH] --preset tiny|small|qwen2.5-0.5b|qwen2.5-1.5b|qwen3-0.6b "
     "[--vocab tokenizer.json] [--type F32|F16] [--seed N] -o OUT\n"
     "  synth --mmproj qwen2vl_merger|qwen2.5vl_merger|idefics3 [--preset P] [--text-embd N] "
     "[--seed N] -o OUT"},
    {"quantize", cmd_quantize, "quantize IN.gguf OUT.gguf TYPE [-t THREADS]"},
    {"vocab", cmd_vocab, "vocab tokenizer.json [--pre NAME] -o OUT.gguf"},
    {"bench", cmd_bench, "bench -m MODEL [-t THREADS] [-p 64] [-n 32] [-d DEPTH] [-r REPS] [--mmap] [--device D] [--json]"},
    {"bench", cmd_bench, "bench --mmproj PROJ [--clip CLIP] [-t THREADS] [-r REPS] [--device D] [--json]"},
    {"check", cmd_check, "check DRAFT [--json]   the 公文 format check (exit 1 on errors)"},
    {"format", cmd_format, "format DRAFT [-o OUT.docx] [--pdf OUT.pdf] [--png PREFIX] [--dpi N] "
                           "[--kind K] [--format ordinary|letter|order|minutes] [--sealed]"},
    {"clip", cmd_clip, "clip VIDEO [-m MODEL --mmproj PROJ] [-o summary.md] [--srt F] [--vtt F] "
                       "[--sheet F.png] [--highlights F --chapters 1,3] [--fps 1] [--timings] "
                       "[--remote URL --remote-model M [--api-key-env VAR]]"},
    {"slides", cmd_slides, "slides --outline OUTLINE.json [--theme plain|red|dark] [-o OUT.pptx] "
                           "[--pdf OUT.pdf] [--png PREFIX] [--dpi N]; with -m MODEL or --remote URL "
                           "--remote-model M: --input F or --topic T writes the outline"},
    {"draft", cmd_draft, "draft -m MODEL --kind 通知 --issuer 机关 --facts NOTES [--attach F]... "
                         "[--mmproj P --image I]... [--to 主送] [--number 字号] [--signer 签发人] "
                         "[--date 日期] [--contact 附注] [-o OUT.docx] [--pdf OUT.pdf] "
                         "[--md DRAFT.md] [--sealed] [-n N] [-c CTX]; --remote URL --remote-model M "
                         "[--api-key-env VAR] instead of -m"},
    {"devices", cmd_devices, "devices [--json]   list Vulkan devices and the automatic choice"},
    {"image", cmd_image,
     "image FILE... [--max-pixels N] [-o OUT.ppm]   decode images (size; pixels as PPM)"},
    {"frames", cmd_frames,
     "frames CLIP [--fps F] [--min-frames N] [--max-frames N] [--max-edge N] [--json]   sampled frames and scene cuts"},
    {"models", cmd_models,
     "models list|pull NAME [--mirror M]|verify [NAME]|rm NAME|import PATH [--name N]|path NAME"
     "   the model catalogue and downloads"},
    {"serve", cmd_serve,
     "serve -m MODEL [--mmproj P] [--host 127.0.0.1] [--port 8080] [--api-key KEY] "
     "[--parallel N] [--queue N] [--max-tokens N] [--max-body BYTES] [--ctx N] [-t N] "
     "[--device D]   an OpenAI-compatible server"},
};

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wenshu-cli: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

bool cli_opt(int argc, char **argv, int *i, const char *short_name, const char *long_name,
             const char **value, bool *missing)
{
    const char *a = argv[*i];
    if (!((short_name && strcmp(a, short_name) == 0) || (long_name && strcmp(a, long_name) == 0)))
        return false;
    if (*i + 1 >= argc) {
        *missing = true;
        cli_fail("option %s needs a value", a);
        return true;
    }
    *value = argv[++*i];
    return true;
}

bool cli_parse_int(const char *text, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < -2147483647L || v > 2147483647L)
        return false;
    *out = (int)v;
    return true;
}

bool cli_parse_float(const char *text, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(text, &end);
    if (errno || end == text || *end)
        return false;
    *out = v;
    return true;
}

char *cli_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_fail("%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
        if (n == cap) {
            char *bigger = realloc(buf, cap * 2 + 1);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    bool failed = ferror(f);
    fclose(f);
    if (!buf || failed) {
        free(buf);
        cli_fail("%s: cannot read the file", path);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

bool cli_sampler_opt(int argc, char **argv, int *i, struct eng_sampler_params *sp, bool *bad)
{
    const char *v = NULL;
    bool missing = false;
    int iv;
    if (cli_opt(argc, argv, i, NULL, "--temp", &v, &missing))
        *bad = missing || !cli_parse_float(v, &sp->temperature);
    else if (cli_opt(argc, argv, i, NULL, "--top-k", &v, &missing))
        *bad = missing || !cli_parse_int(v, &sp->top_k);
    else if (cli_opt(argc, argv, i, NULL, "--top-p", &v, &missing))
        *bad = missing || !cli_parse_float(v, &sp->top_p);
    else if (cli_opt(argc, argv, i, NULL, "--min-p", &v, &missing))
        *bad = missing || !cli_parse_float(v, &sp->min_p);
    else if (cli_opt(argc, argv, i, NULL, "--repeat-penalty", &v, &missing))
        *bad = missing || !cli_parse_float(v, &sp->repeat_penalty);
    else if (cli_opt(argc, argv, i, NULL, "--frequency-penalty", &v, &missing))
        *bad = missing || !cli_parse_float(v, &sp->frequency_penalty);
    else if (cli_opt(argc, argv, i, NULL, "--presence-penalty", &v, &missing))
        *bad = missing || !cli_parse_float(v, &sp->presence_penalty);
    else if (cli_opt(argc, argv, i, NULL, "--repeat-last-n", &v, &missing))
        *bad = missing || !cli_parse_int(v, &sp->penalty_last_n);
    else if (cli_opt(argc, argv, i, NULL, "--seed", &v, &missing)) {
        *bad = missing || !cli_parse_int(v, &iv) || iv < 0;
        if (!*bad)
            sp->seed = (uint64_t)iv;
    } else
        return false;
    if (*bad && !missing)
        cli_fail("bad value for %s: %s", argv[*i - 1], v);
    return true;
}

int cli_write_ppm(const struct eng_image *image, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return cli_fail("%s: %s", path, strerror(errno));
    fprintf(f, "P6\n%d %d\n255\n", image->width, image->height);
    size_t n_bytes = (size_t)image->width * image->height * 3;
    bool ok = fwrite(image->rgb, 1, n_bytes, f) == n_bytes;
    ok = fclose(f) == 0 && ok;
    return ok ? 0 : cli_fail("%s: cannot write the image", path);
}

int cli_write_npy(const char *path, const float *v, size_t n_rows, size_t n_cols)
{
    char shape[64], header[160];
    if (n_cols)
        snprintf(shape, sizeof shape, "(%zu, %zu)", n_rows, n_cols);
    else
        snprintf(shape, sizeof shape, "(%zu,)", n_rows);
    int len = snprintf(header, sizeof header,
                       "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape);
    /* magic(6) + version(2) + header_len(2) + header, padded to 64 with '\n' last */
    int total = ((10 + len + 1) + 63) / 64 * 64;
    int header_len = total - 10;
    while (len < header_len - 1)
        header[len++] = ' ';
    header[len++] = '\n';
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    size_t n = n_rows * (n_cols ? n_cols : 1);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             (unsigned char)(header_len & 0xFF), (unsigned char)(header_len >> 8)};
    bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(header, 1, (size_t)len, f) == (size_t)len &&
              fwrite(v, sizeof(float), n, f) == n;
    return fclose(f) == 0 && ok ? 0 : 1;
}

void cli_report_device(const struct eng_model *model)
{
    struct eng_model_info info;
    eng_model_get_info(model, &info);
    if (info.device_notice[0])
        fprintf(stderr, "wenshu-cli: note: %s\n", info.device_notice);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: wenshu-cli COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %s\n", commands[i].help);
    fprintf(out, "\nrun, chat, logits, bench: --mmap maps the model instead of reading it "
                 "into huge pages;\n  --device auto|cpu|vulkan|N picks where it runs (auto: a "
                 "Vulkan GPU, else the CPU)\n");
    fprintf(out, "\nmedia flags (run, logits, encode): --mmproj PROJ.gguf, then --image IMG and "
                 "--video CLIP\n  (repeatable, in prompt order; each takes the place of one %s "
                 "in the prompt,\n  or goes before the text), --min-pixels N --max-pixels N "
                 "(Qwen), --longest-edge N\n  --max-tiles N (SmolVLM), --video-fps F "
                 "--video-max-frames N\n", ENG_MEDIA_MARKER);
    fprintf(out, "\nsampling flags: --temp T --top-k K --top-p P --min-p P --repeat-penalty R\n"
                 "  --frequency-penalty F --presence-penalty P --repeat-last-n N --seed S\n");
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    cli_fail("unknown command \"%s\"", argv[1]);
    usage(stderr);
    return 2;
}
