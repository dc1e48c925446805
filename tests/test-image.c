/* test-image.c: the promises of eng_image_load that the CLI cannot show:
 * it is safe from several threads at once (FFmpeg and libpng state is per
 * call), NULL params and max_pixels 0 mean the default cap, a failure
 * leaves *out NULL and accepts a NULL err, and eng_image_free takes NULL
 * and clears the pointer.
 *
 * Usage: test-image FILE...  (tests/test-image.py passes the good and
 * broken files it made). Prints "FILE: STATUS WIDTHxHEIGHT fnv=HASH" per
 * file from one thread, then decodes every file again in N_THREADS
 * threads, N_ROUNDS times each, and fails on any difference. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wenshu-engine.h"

#define N_THREADS 4
#define N_ROUNDS 3
#define MAX_FILES 512

struct result {
    enum eng_status status;
    int width, height;
    uint64_t hash; /* FNV-1a of the RGB bytes */
};

static const char *const *g_files;
static int g_n_files;
static struct result g_expected[MAX_FILES];
static int g_failures;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static struct result decode(const char *path, const struct eng_image_params *params)
{
    struct eng_image *image = (struct eng_image *)&g_lock; /* must be reset to NULL on failure */
    struct eng_err err;
    struct result r = {.status = eng_image_load(path, params, &image, &err)};
    if (r.status != ENG_STATUS_OK) {
        if (image != NULL) {
            fprintf(stderr, "FAIL %s: *out is not NULL after a failure\n", path);
            r.status = (enum eng_status) - 1;
        }
        return r;
    }
    r.width = image->width;
    r.height = image->height;
    r.hash = fnv1a(image->rgb, (size_t)image->width * image->height * 3);
    eng_image_free(&image);
    if (image != NULL) {
        fprintf(stderr, "FAIL %s: eng_image_free left the pointer set\n", path);
        r.status = (enum eng_status) - 1;
    }
    return r;
}

static bool same_result(const struct result *a, const struct result *b)
{
    return a->status == b->status && a->width == b->width && a->height == b->height &&
           a->hash == b->hash;
}

static void *decode_all(void *arg)
{
    int thread = (int)(intptr_t)arg;
    struct eng_image_params params = eng_image_params_default();
    for (int round = 0; round < N_ROUNDS; round++) {
        for (int k = 0; k < g_n_files; k++) {
            int i = (k + thread * 7 + round) % g_n_files; /* threads on different files */
            struct result r = decode(g_files[i], &params);
            if (!same_result(&r, &g_expected[i])) {
                pthread_mutex_lock(&g_lock);
                fprintf(stderr, "FAIL thread %d round %d %s: status %d %dx%d, not %d %dx%d\n",
                        thread, round, g_files[i], r.status, r.width, r.height,
                        g_expected[i].status, g_expected[i].width, g_expected[i].height);
                g_failures++;
                pthread_mutex_unlock(&g_lock);
            }
        }
    }
    return NULL;
}

static void check(bool ok, const char *what)
{
    printf("%s  %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        g_failures++;
}

int main(int argc, char **argv)
{
    g_files = (const char *const *)argv + 1;
    g_n_files = argc - 1 < MAX_FILES ? argc - 1 : MAX_FILES;
    if (g_n_files < 1) {
        fprintf(stderr, "usage: test-image FILE...\n");
        return 2;
    }

    struct eng_image_params defaults = eng_image_params_default();
    check(defaults.max_pixels == 50000000, "the default cap is 50 megapixels");
    struct eng_image *none = NULL;
    eng_image_free(&none);
    eng_image_free(NULL);
    check(true, "eng_image_free accepts NULL and a NULL image");
    struct eng_image *image = (struct eng_image *)&g_lock;
    check(eng_image_load("/nonexistent/wenshu-test-image.png", NULL, &image, NULL) ==
                  ENG_STATUS_ERR_IO &&
              image == NULL,
          "a missing file with a NULL err: ERR_IO and *out NULL");

    struct eng_image_params zero = {.max_pixels = 0};
    for (int i = 0; i < g_n_files; i++) {
        struct result r = decode(g_files[i], &defaults);
        g_expected[i] = r;
        struct result with_null = decode(g_files[i], NULL);
        struct result with_zero = decode(g_files[i], &zero);
        if (!same_result(&with_null, &r) || !same_result(&with_zero, &r)) {
            fprintf(stderr, "FAIL %s: NULL params or max_pixels 0 differ from the default\n",
                    g_files[i]);
            g_failures++;
        }
        printf("%s: %s %dx%d fnv=%016llx\n", g_files[i], eng_status_name(r.status), r.width,
               r.height, (unsigned long long)r.hash);
    }

    pthread_t threads[N_THREADS];
    for (int t = 0; t < N_THREADS; t++)
        pthread_create(&threads[t], NULL, decode_all, (void *)(intptr_t)t);
    for (int t = 0; t < N_THREADS; t++)
        pthread_join(threads[t], NULL);
    check(g_failures == 0, "every file decodes the same in 4 threads at once");
    return g_failures ? 1 : 0;
}
