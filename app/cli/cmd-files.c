/* cmd-files.c: the sub-commands that read and write model files: inspect,
 * synth, quantize, vocab. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vocab-json.h"

int cmd_inspect(int argc, char **argv)
{
    if (argc != 2)
        return cli_fail("usage: wenshu-cli inspect MODEL.gguf"), 2;
    struct eng_err err;
    if (eng_inspect_file(argv[1], stdout, &err) != ENG_STATUS_OK)
        return cli_fail("%s", err.msg);
    return 0;
}

/* Load a tokenizer.json, printing why on failure. */
static struct vocab_json *load_vocab_json(const char *path, const char *pre)
{
    struct vocab_json *vj = NULL;
    GError *error = NULL;
    if (!vocab_json_load(path, pre, &vj, &error)) {
        cli_fail("%s", error->message);
        g_error_free(error);
        return NULL;
    }
    return vj;
}

/* synth --mmproj TYPE [--preset P] [--text-embd N]: a vision projector file
 * (the tiny preset for TYPE unless --preset names a real shape). */
static int synth_mmproj(const struct eng_synth_params *p, const char *type,
                        const char *text_embd)
{
    struct eng_mmproj_synth_params mp = eng_mmproj_synth_params_default();
    mp.projector = type;
    mp.preset = p->preset;
    mp.seed = p->seed;
    mp.path = p->path;
    if (text_embd && (!cli_parse_int(text_embd, &mp.n_embd_text) || mp.n_embd_text <= 0))
        return cli_fail("synth: bad text width %s", text_embd), 2;
    struct eng_err err;
    if (eng_mmproj_synth_write(&mp, &err) != ENG_STATUS_OK)
        return cli_fail("%s", err.msg);
    return 0;
}

int cmd_synth(int argc, char **argv)
{
    struct eng_synth_params p = eng_synth_params_default();
    const char *vocab_path = NULL, *seed_text = NULL, *mmproj = NULL, *text_embd = NULL;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        if (!(cli_opt(argc, argv, &i, NULL, "--arch", &p.arch, &missing) ||
              cli_opt(argc, argv, &i, NULL, "--mmproj", &mmproj, &missing) ||
              cli_opt(argc, argv, &i, NULL, "--text-embd", &text_embd, &missing) ||
              cli_opt(argc, argv, &i, NULL, "--preset", &p.preset, &missing) ||
              cli_opt(argc, argv, &i, NULL, "--vocab", &vocab_path, &missing) ||
              cli_opt(argc, argv, &i, NULL, "--type", &p.weight_type, &missing) ||
              cli_opt(argc, argv, &i, NULL, "--seed", &seed_text, &missing) ||
              cli_opt(argc, argv, &i, "-o", "--output", &p.path, &missing)))
            return cli_fail("synth: unknown option %s", argv[i]), 2;
        if (missing)
            return 2;
    }
    if (!p.path)
        return cli_fail("synth: no output given (-o OUT.gguf)"), 2;
    int seed;
    if (seed_text) {
        if (!cli_parse_int(seed_text, &seed) || seed < 0)
            return cli_fail("synth: bad seed %s", seed_text), 2;
        p.seed = (uint64_t)seed;
    }
    if ((mmproj || text_embd) && (p.arch || vocab_path || strcmp(p.weight_type, "F32") != 0))
        return cli_fail("synth: --mmproj writes F32 projectors and takes no --arch, --vocab "
                        "or --type"), 2;
    if (mmproj || text_embd)
        return synth_mmproj(&p, mmproj, text_embd);
    struct vocab_json *vj = NULL;
    if (vocab_path) {
        const char *pre = p.arch && strcmp(p.arch, "llama") == 0 ? "llama-bpe" : NULL;
        if (!(vj = load_vocab_json(vocab_path, pre)))
            return 1;
        p.vocab = vocab_json_vocab(vj);
    }
    struct eng_err err;
    int status = 0;
    if (eng_synth_write(&p, &err) != ENG_STATUS_OK)
        status = cli_fail("%s", err.msg);
    vocab_json_free(&vj);
    return status;
}

int cmd_quantize(int argc, char **argv)
{
    const char *pos[3] = {NULL, NULL, NULL};
    int n_pos = 0, n_threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool missing = false;
        if (cli_opt(argc, argv, &i, "-t", "--threads", &v, &missing)) {
            if (missing || !cli_parse_int(v, &n_threads) || n_threads < 0)
                return cli_fail("quantize: bad thread count"), 2;
        } else if (n_pos < 3) {
            pos[n_pos++] = argv[i];
        } else {
            return cli_fail("quantize: unexpected argument %s", argv[i]), 2;
        }
    }
    if (n_pos != 3)
        return cli_fail("usage: wenshu-cli quantize IN.gguf OUT.gguf TYPE "
                        "(Q8_0, Q4_0, Q4_K, Q6_K, ...)"), 2;
    struct eng_err err;
    if (eng_quantize_file(pos[0], pos[1], pos[2], n_threads, &err) != ENG_STATUS_OK)
        return cli_fail("%s", err.msg);
    return 0;
}

int cmd_vocab(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *pre = NULL;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        if (cli_opt(argc, argv, &i, "-o", "--output", &out, &missing) ||
            cli_opt(argc, argv, &i, NULL, "--pre", &pre, &missing)) {
            if (missing)
                return 2;
        } else if (!in) {
            in = argv[i];
        } else {
            return cli_fail("vocab: unexpected argument %s", argv[i]), 2;
        }
    }
    if (!in || !out)
        return cli_fail("usage: wenshu-cli vocab tokenizer.json [--pre NAME] -o OUT.gguf"), 2;
    struct vocab_json *vj = load_vocab_json(in, pre);
    if (!vj)
        return 1;
    struct eng_err err;
    int status = 0;
    if (eng_vocab_write(vocab_json_vocab(vj), out, &err) != ENG_STATUS_OK)
        status = cli_fail("%s", err.msg);
    vocab_json_free(&vj);
    return status;
}
