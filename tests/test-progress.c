/* test-progress.c: the progress callbacks of eng_model_load (bytes of
 * weights read or uploaded) and of eng_mmproj_encode_image / _video
 * (encoder layers times encoder images).
 *
 * Modes:
 *   test-progress             on the CPU: a 68 MiB GGUF file read in chunks
 *       (every byte in place); tiny synth models (F32, F16) loaded read into
 *       memory and mapped; the three tiny synth projectors on an image built
 *       in memory and on a three-frame clip built in memory.
 *   test-progress --vulkan    the same on the best Vulkan device (lavapipe in
 *       CI), and no validation-layer errors (under WENSHU_VK_VALIDATION=1);
 *       exits 77 only when there is no device.
 *   test-progress --bench MODEL [N]   times N loads of MODEL (default 5)
 *       with and without a callback (not a test).
 *
 * Every run checks that the reports never go down, that all give the same
 * total, that the last has done == total, and that the result is bitwise the
 * result without a callback. The load's total is checked against the sum of
 * the tensor sizes, which this file computes by reading the GGUF tensor
 * infos itself; the encode's total against the layer count times the
 * encoder images, counted here from the clip's frames or the media's tiles.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gguf.h"
#include "wenshu-engine.h"
#ifdef WENSHU_HAVE_VULKAN
#include "vulkan/vk.h"
#endif

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* ---- an independent reading of the GGUF tensor infos ------------------------ */

/* A bounds-checked cursor over a file held in memory. */
struct cursor {
    const unsigned char *p, *end;
    bool ok;
};

static uint64_t take_le(struct cursor *c, int n)
{
    if (!c->ok || c->end - c->p < n) {
        c->ok = false;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)c->p[i] << (8 * i);
    c->p += n;
    return v;
}

static void skip(struct cursor *c, uint64_t n)
{
    if (!c->ok || (uint64_t)(c->end - c->p) < n)
        c->ok = false;
    else
        c->p += n;
}

/* Skip one value of GGUF value type `type` (the spec's numbering). */
static void skip_value(struct cursor *c, uint32_t type)
{
    static const int scalar_bytes[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) { /* string: u64 length, bytes */
        skip(c, take_le(c, 8));
    } else if (type == 9) { /* array: u32 type, u64 count, elements */
        uint32_t elem = (uint32_t)take_le(c, 4);
        uint64_t n = take_le(c, 8);
        for (uint64_t i = 0; c->ok && i < n; i++)
            skip_value(c, elem);
    } else if (type < 13 && scalar_bytes[type]) {
        skip(c, (uint64_t)scalar_bytes[type]);
    } else {
        c->ok = false;
    }
}

/* Bytes of n elements of ggml type `type` (ggml.c type_traits: block size and
 * bytes per block), or 0 for a type this table does not know. */
static uint64_t type_bytes(uint32_t type, uint64_t n)
{
    static const struct {
        uint32_t type, block, bytes;
    } traits[] = {{0, 1, 4},     {1, 1, 2},     {2, 32, 18},   {3, 32, 20},  {6, 32, 22},
                  {7, 32, 24},   {8, 32, 34},   {10, 256, 84}, {11, 256, 110}, {12, 256, 144},
                  {13, 256, 176}, {14, 256, 210}, {30, 1, 2}};
    for (size_t i = 0; i < sizeof traits / sizeof traits[0]; i++)
        if (traits[i].type == type)
            return n / traits[i].block * traits[i].bytes;
    return 0;
}

/* The sum of the tensors' data sizes in the GGUF file at path, or 0 when the
 * file cannot be read or holds a type the table lacks. */
static uint64_t gguf_tensor_bytes(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(size > 0 ? (size_t)size : 1);
    bool read_ok = buf && fread(buf, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    uint64_t sum = 0;
    struct cursor c = {buf, buf + (read_ok ? size : 0), read_ok};
    if (take_le(&c, 4) != 0x46554747u) /* "GGUF" */
        c.ok = false;
    take_le(&c, 4); /* version */
    uint64_t n_tensors = take_le(&c, 8), n_kv = take_le(&c, 8);
    for (uint64_t i = 0; c.ok && i < n_kv; i++) {
        skip(&c, take_le(&c, 8)); /* key */
        skip_value(&c, (uint32_t)take_le(&c, 4));
    }
    for (uint64_t i = 0; c.ok && i < n_tensors; i++) {
        skip(&c, take_le(&c, 8)); /* name */
        uint32_t n_dims = (uint32_t)take_le(&c, 4);
        uint64_t n = 1;
        for (uint32_t d = 0; d < n_dims && d < 4; d++)
            n *= take_le(&c, 8);
        uint64_t bytes = type_bytes((uint32_t)take_le(&c, 4), n);
        take_le(&c, 8); /* offset */
        if (bytes == 0)
            c.ok = false;
        sum += bytes;
    }
    free(buf);
    return c.ok ? sum : 0;
}

/* ---- the progress log ------------------------------------------------------- */

/* What a callback saw: checked as the calls come. */
struct progress_log {
    int n_calls;
    uint64_t first_done, last_done, total;
    bool went_down, total_changed, done_past_total;
};

static void on_progress(uint64_t done, uint64_t total, void *user_data)
{
    struct progress_log *log = user_data;
    if (log->n_calls == 0) {
        log->first_done = done;
        log->total = total;
    } else {
        log->went_down |= done < log->last_done;
        log->total_changed |= total != log->total;
    }
    log->done_past_total |= done > total;
    log->last_done = done;
    log->n_calls++;
}

/* The rules every report sequence keeps, and its total against want_total. */
static void check_log(const struct progress_log *log, uint64_t want_total, int min_calls,
                      const char *what)
{
    printf("%s: %d calls, first %llu, last %llu of %llu (want %llu)\n", what, log->n_calls,
           (unsigned long long)log->first_done, (unsigned long long)log->last_done,
           (unsigned long long)log->total, (unsigned long long)want_total);
    CHECK(log->n_calls >= min_calls, "%s: %d calls, want at least %d", what, log->n_calls,
          min_calls);
    CHECK(!log->went_down, "%s: done went down", what);
    CHECK(!log->total_changed, "%s: the total changed between calls", what);
    CHECK(!log->done_past_total, "%s: done passed the total", what);
    CHECK(log->total == want_total, "%s: total %llu, want %llu", what,
          (unsigned long long)log->total, (unsigned long long)want_total);
    CHECK(log->last_done == log->total, "%s: the last call has done %llu of %llu", what,
          (unsigned long long)log->last_done, (unsigned long long)log->total);
}

/* ---- model loads ------------------------------------------------------------ */

static struct eng_model *load_model(const char *path, int device, bool use_mmap,
                                    struct progress_log *log)
{
    struct eng_model_params mp = eng_model_params_default();
    mp.path = path;
    mp.n_threads = 2;
    mp.device = device;
    mp.use_mmap = use_mmap;
    mp.progress = log ? on_progress : NULL;
    mp.progress_user_data = log;
    struct eng_model *m = NULL;
    struct eng_err err;
    if (eng_model_load(&mp, &m, &err) != ENG_STATUS_OK)
        CHECK(0, "load %s: %s", path, err.msg);
    return m;
}

/* The logits after a fixed prompt, copied to logits[n_vocab]. */
static bool prompt_logits(struct eng_model *m, float *logits, int n_vocab)
{
    struct eng_session_params sp = eng_session_params_default();
    sp.n_ctx = 64;
    sp.n_threads = 2;
    struct eng_session *s = NULL;
    struct eng_err err;
    const int32_t tokens[] = {1, 7, 42, 99, 3, 250, 17};
    bool ok = eng_session_new(m, &sp, &s, &err) == ENG_STATUS_OK &&
              eng_session_eval(s, tokens, sizeof tokens / sizeof tokens[0], NULL, &err) ==
                  ENG_STATUS_OK;
    CHECK(ok, "prompt: %s", err.msg);
    if (ok)
        memcpy(logits, eng_session_logits(s), sizeof(float) * (size_t)n_vocab);
    eng_session_free(&s);
    return ok;
}

/* Load path with and without a callback: the reports, and the same logits. */
static void check_model_load(const char *path, int device, bool use_mmap, uint64_t want_total,
                             const char *what)
{
    struct progress_log log = {0};
    struct eng_model *plain = load_model(path, device, use_mmap, NULL);
    struct eng_model *followed = load_model(path, device, use_mmap, &log);
    if (!plain || !followed)
        goto out_free;
    /* At least the first (0) and the last (total) report. */
    check_log(&log, want_total, 2, what);
    CHECK(log.first_done < log.total, "%s: no report before the end", what);
    struct eng_model_info info;
    eng_model_get_info(plain, &info);
    float *a = calloc((size_t)info.n_vocab, sizeof(float));
    float *b = calloc((size_t)info.n_vocab, sizeof(float));
    if (a && b && prompt_logits(plain, a, info.n_vocab) &&
        prompt_logits(followed, b, info.n_vocab))
        CHECK(memcmp(a, b, sizeof(float) * (size_t)info.n_vocab) == 0,
              "%s: the logits differ from a load without a callback", what);
    free(a);
    free(b);
out_free:
    eng_model_free(&followed);
    eng_model_free(&plain);
}

static bool synth_model(const char *path, const char *weight_type)
{
    struct eng_synth_params sp = eng_synth_params_default();
    sp.arch = "qwen2";
    sp.weight_type = weight_type;
    sp.path = path;
    struct eng_err err;
    enum eng_status st = eng_synth_write(&sp, &err);
    CHECK(st == ENG_STATUS_OK, "synth model: %s", err.msg);
    return st == ENG_STATUS_OK;
}

static void check_vulkan_load(const char *path, int device, uint64_t want_total)
{
    check_model_load(path, device, false, want_total, "vulkan load");
    /* The upload reports after each weight: more than the first and last. */
    struct progress_log log = {0};
    struct eng_model *m = load_model(path, device, true, &log);
    CHECK(log.n_calls > 3, "vulkan load: %d calls, want one per weight", log.n_calls);
    eng_model_free(&m);
}

/* F32 and F16 matrices (the F16 file has 1-D F32 tensors beside 2-D F16). */
static void check_model_loads(const char *dir, int device)
{
    const char *weight_types[] = {"F32", "F16"};
    for (int i = 0; i < (device == ENG_DEVICE_CPU ? 2 : 1); i++) {
        char path[512], what[128];
        snprintf(path, sizeof path, "%s/model-%s.gguf", dir, weight_types[i]);
        if (!synth_model(path, weight_types[i]))
            return;
        uint64_t want_total = gguf_tensor_bytes(path);
        CHECK(want_total > 0, "%s: cannot read the tensor infos", path);
        if (device == ENG_DEVICE_CPU) {
            snprintf(what, sizeof what, "cpu load of %s, read into memory", weight_types[i]);
            check_model_load(path, device, false, want_total, what);
            snprintf(what, sizeof what, "cpu load of %s, mapped", weight_types[i]);
            check_model_load(path, device, true, want_total, what);
        } else {
            check_vulkan_load(path, device, want_total);
        }
        unlink(path);
    }
}


/* Whether the kernel gives huge pages on request: only then does
 * GGUF_LOAD_HUGE_PAGES read the file (else it maps it). */
static bool huge_pages_on_request(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    char line[128] = "";
    bool on = f && fgets(line, sizeof line, f) &&
              (strstr(line, "[always]") || strstr(line, "[madvise]"));
    if (f)
        fclose(f);
    return on;
}

/* A file past several read chunks (two tensors of odd sizes, padding
 * between): reports after each chunk, and every byte arrives in place. */
static void check_chunked_read(const char *dir)
{
    enum { N_A = 1000003, N_B = 17000001 }; /* about 68 MiB in all */
    char path[512];
    snprintf(path, sizeof path, "%s/chunks.gguf", dir);
    float *a = malloc(sizeof(float) * N_A), *b = malloc(sizeof(float) * N_B);
    if (!a || !b) {
        CHECK(0, "out of memory");
        goto out_free;
    }
    for (int i = 0; i < N_A; i++)
        a[i] = (float)(i % 1009) - 0.5f;
    for (int i = 0; i < N_B; i++)
        b[i] = (float)(i % 997) * 0.25f;
    struct gguf_writer *w = gguf_writer_new();
    int64_t ne_a[1] = {N_A}, ne_b[1] = {N_B};
    gguf_writer_set_str(w, "general.architecture", "test");
    gguf_writer_add_tensor(w, "a", ENG_TYPE_F32, 1, ne_a, a);
    gguf_writer_add_tensor(w, "b", ENG_TYPE_F32, 1, ne_b, b);
    struct eng_err err;
    enum eng_status st = gguf_writer_write(w, path, &err);
    gguf_writer_free(&w);
    CHECK(st == ENG_STATUS_OK, "write %s: %s", path, err.msg);
    struct progress_log log = {0};
    struct gguf_file *f = NULL;
    if (st == ENG_STATUS_OK &&
        gguf_open_with_progress(path, GGUF_LOAD_HUGE_PAGES, on_progress, &log, &f, &err))
        CHECK(0, "open %s: %s", path, err.msg);
    if (f) {
        uint64_t want = gguf_tensor_bytes(path);
        CHECK(want == sizeof(float) * ((uint64_t)N_A + N_B), "%s: the reference reads %llu bytes",
              path, (unsigned long long)want);
        if (huge_pages_on_request()) /* 0, then after each 32 MiB chunk */
            check_log(&log, want, 4, "gguf read in chunks");
        else
            CHECK(log.n_calls == 0, "a mapped file reported %d calls", log.n_calls);
        const struct gguf_tensor *ta = gguf_find_tensor(f, "a"), *tb = gguf_find_tensor(f, "b");
        CHECK(ta && memcmp(ta->data, a, sizeof(float) * N_A) == 0, "tensor a differs");
        CHECK(tb && memcmp(tb->data, b, sizeof(float) * N_B) == 0, "tensor b differs");
    }
    gguf_close(&f);
    unlink(path);
out_free:
    free(a);
    free(b);
}

/* ---- media encodes ---------------------------------------------------------- */

/* A width x height RGB image with a smooth pattern that differs per seed. */
static struct eng_image make_image(int width, int height, int seed)
{
    struct eng_image im = {width, height, malloc((size_t)width * height * 3)};
    for (int y = 0; im.rgb && y < height; y++)
        for (int x = 0; x < width; x++) {
            unsigned char *px = im.rgb + ((size_t)y * width + x) * 3;
            px[0] = (unsigned char)(x * 255 / width);
            px[1] = (unsigned char)(y * 255 / height);
            px[2] = (unsigned char)((x + y + 40 * seed) & 255);
        }
    return im;
}

static struct eng_mmproj *load_mmproj(const char *path, int device, struct progress_log *log)
{
    struct eng_mmproj_params pp = eng_mmproj_params_default();
    pp.path = path;
    pp.n_threads = 2;
    pp.device = device;
    /* Small Qwen clip frames: 4 to 16 merged tokens. */
    pp.video_min_pixels = 28 * 28 * 4;
    pp.video_max_pixels = 28 * 28 * 16;
    pp.progress = log ? on_progress : NULL;
    pp.progress_user_data = log;
    struct eng_mmproj *mp = NULL;
    struct eng_err err;
    if (eng_mmproj_load(&pp, &mp, &err) != ENG_STATUS_OK)
        CHECK(0, "load %s: %s", path, err.msg);
    return mp;
}

static bool same_media(const struct eng_media *a, const struct eng_media *b)
{
    return a->n_tokens == b->n_tokens && a->n_embd == b->n_embd &&
           memcmp(a->embd, b->embd, sizeof(float) * (size_t)a->n_tokens * a->n_embd) == 0;
}

/* Encoder images of an encoded image: Qwen's temporal groups (an image is
 * one), Idefics3's tiles plus the global image (or the one image unsplit). */
static int64_t image_encoder_images(const struct eng_media *m, bool qwen)
{
    if (qwen)
        return m->grid_t;
    return m->n_rows * m->n_cols > 0 ? (int64_t)m->n_rows * m->n_cols + 1 : 1;
}

static void check_image(struct eng_mmproj *plain, struct eng_mmproj *followed,
                        struct progress_log *log, int n_layer, bool qwen, const char *what)
{
    struct eng_image im = make_image(150, 100, 0);
    struct eng_media *a = NULL, *b = NULL;
    struct eng_err err;
    *log = (struct progress_log){0};
    if (eng_mmproj_encode_image(plain, &im, &a, &err) != ENG_STATUS_OK ||
        eng_mmproj_encode_image(followed, &im, &b, &err) != ENG_STATUS_OK) {
        CHECK(0, "%s: encode: %s", what, err.msg);
    } else {
        int64_t images = image_encoder_images(b, qwen);
        CHECK(qwen || b->n_images == images, "%s: %d encoder images, want %lld", what,
              b->n_images, (long long)images);
        check_log(log, (uint64_t)n_layer * (uint64_t)images, n_layer, what);
        CHECK(same_media(a, b), "%s: the rows differ from an encode without a callback", what);
    }
    eng_media_free(&a);
    eng_media_free(&b);
    free(im.rgb);
}

/* A three-frame clip built in memory: Qwen encodes two frame pairs (the
 * last frame repeated), Idefics3 three images. */
static void check_clip(struct eng_mmproj *plain, struct eng_mmproj *followed,
                       struct progress_log *log, int n_layer, bool qwen, const char *what)
{
    enum { N_FRAMES = 3 };
    struct eng_video_frame frames[N_FRAMES];
    for (int i = 0; i < N_FRAMES; i++)
        frames[i] = (struct eng_video_frame){.image = make_image(96, 64, i), .time = 0.5 * i,
                                             .target_time = 0.5 * i};
    struct eng_video v = {.duration = 1.5, .fps = 2.0, .width = 96, .height = 64,
                          .sample_fps = 2.0, .frames = frames, .n_frames = N_FRAMES};
    struct eng_media *a = NULL, *b = NULL;
    struct eng_err err;
    *log = (struct progress_log){0};
    if (eng_mmproj_encode_video(plain, &v, NULL, &a, &err) != ENG_STATUS_OK ||
        eng_mmproj_encode_video(followed, &v, NULL, &b, &err) != ENG_STATUS_OK) {
        CHECK(0, "%s: encode: %s", what, err.msg);
    } else {
        int64_t passes = qwen ? (N_FRAMES + 1) / 2 : N_FRAMES;
        check_log(log, (uint64_t)n_layer * (uint64_t)passes, n_layer, what);
        CHECK(same_media(a, b), "%s: the rows differ from an encode without a callback", what);
    }
    eng_media_free(&a);
    eng_media_free(&b);
    for (int i = 0; i < N_FRAMES; i++)
        free(frames[i].image.rgb);
}

static void check_projector(const char *dir, const char *projector, int device)
{
    char path[512], what[128];
    snprintf(path, sizeof path, "%s/%s.gguf", dir, projector);
    struct eng_mmproj_synth_params sp = eng_mmproj_synth_params_default();
    sp.projector = projector;
    sp.path = path;
    struct eng_err err;
    if (eng_mmproj_synth_write(&sp, &err) != ENG_STATUS_OK) {
        CHECK(0, "synth %s: %s", projector, err.msg);
        return;
    }
    struct progress_log log = {0};
    struct eng_mmproj *plain = load_mmproj(path, device, NULL);
    struct eng_mmproj *followed = load_mmproj(path, device, &log);
    if (plain && followed) {
        struct eng_mmproj_info info;
        eng_mmproj_get_info(followed, &info);
        bool qwen = strcmp(projector, "idefics3") != 0;
        snprintf(what, sizeof what, "%s image on %s", projector, info.device);
        check_image(plain, followed, &log, info.n_layer, qwen, what);
        snprintf(what, sizeof what, "%s clip on %s", projector, info.device);
        check_clip(plain, followed, &log, info.n_layer, qwen, what);
    }
    eng_mmproj_free(&followed);
    eng_mmproj_free(&plain);
    unlink(path);
}

static void run_checks(const char *dir, int device)
{
    if (device == ENG_DEVICE_CPU)
        check_chunked_read(dir);
    check_model_loads(dir, device);
    const char *projectors[] = {"qwen2vl_merger", "qwen2.5vl_merger", "idefics3"};
    for (int i = 0; i < 3; i++)
        check_projector(dir, projectors[i], device);
}

/* ---- timing (not a test) ---------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The best of n loads of path, with or without a callback (*log: the last
 * load's reports). */
static double best_load_seconds(const char *path, int n, bool use_mmap, bool follow,
                                struct progress_log *log)
{
    double best = INFINITY;
    for (int i = 0; i < n; i++) {
        *log = (struct progress_log){0};
        double t0 = now_seconds();
        struct eng_model *m = load_model(path, eng_model_params_default().device, use_mmap,
                                         follow ? log : NULL);
        double t = now_seconds() - t0;
        best = t < best ? t : best;
        eng_model_free(&m);
    }
    return best;
}

static int run_bench(const char *path, int n)
{
    for (int use_mmap = 0; use_mmap < 2; use_mmap++) {
        /* Alternate so that neither side gets a warmer page cache. */
        struct progress_log log, unused;
        double without = best_load_seconds(path, n, use_mmap, false, &unused);
        double with = best_load_seconds(path, n, use_mmap, true, &log);
        double without2 = best_load_seconds(path, n, use_mmap, false, &unused);
        without = without2 < without ? without2 : without;
        printf("%s, %s: best of %d loads: %.3f ms without a callback, %.3f ms with (%+.1f%%, "
               "%d calls)\n",
               path, use_mmap ? "mapped" : "read into memory", n, 1e3 * without, 1e3 * with,
               100.0 * (with - without) / without, log.n_calls);
    }
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--bench") == 0)
        return run_bench(argv[2], argc >= 4 ? atoi(argv[3]) : 5);
    bool vulkan = argc == 2 && strcmp(argv[1], "--vulkan") == 0;
    if (vulkan) {
        struct eng_err err;
        int n_dev = eng_devices_list(NULL, 0, &err);
        if (n_dev <= 0) {
            printf("SKIP: no Vulkan device (%s)\n", n_dev < 0 ? err.msg : "none listed");
            return 77;
        }
    }
    char dir[] = "/tmp/wenshu-progress-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    run_checks(dir, vulkan ? ENG_DEVICE_VULKAN : ENG_DEVICE_CPU);
    rmdir(dir);
#ifdef WENSHU_HAVE_VULKAN
    /* Under WENSHU_VK_VALIDATION=1: the layer's error count (process-wide),
     * e.g. from the per-layer submits of a followed encode. */
    CHECK(vk_ctx_validation_errors(NULL) == 0, "%d Vulkan validation errors",
          vk_ctx_validation_errors(NULL));
#endif
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
