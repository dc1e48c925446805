/* test-vk-ctx: the Vulkan runtime on the first usable device (lavapipe in
 * CI): device listing and choice, uploads and downloads larger than the
 * staging buffer, allocation limits, barrier placement, and the pipeline
 * cache file. Exits 77 only when there is no Vulkan device at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vk-test.h"
#include "vulkan/vk-ops.h"
#include "vulkan/vk.h"

static int n_failed;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            n_failed++;                                                                    \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                           \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
        }                                                                                  \
    } while (0)

static void test_pick_order(void)
{
    struct vk_device_desc d[4] = {0};
    d[0].vk_type = VK_PHYSICAL_DEVICE_TYPE_CPU;
    d[1].vk_type = VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
    d[2].vk_type = VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
    d[3].vk_type = VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
    for (int i = 0; i < 4; i++)
        d[i].usable = true;
    d[2].usable = false;
    CHECK(vk_device_pick(d, 4, false) == 3, "discrete first, skipping an unusable one");
    d[3].usable = false;
    CHECK(vk_device_pick(d, 4, false) == 1, "then integrated");
    d[1].usable = false;
    CHECK(vk_device_pick(d, 4, false) == -1, "a cpu-type device only when allowed");
    CHECK(vk_device_pick(d, 4, true) == 0, "a cpu-type device when allowed");
}

/* Round trip of n bytes through a device-local buffer. */
static void test_round_trip(struct vk_ctx *ctx, uint64_t n)
{
    struct eng_err err = {0};
    struct vk_buf buf;
    uint8_t *src = malloc(n), *dst = calloc(1, n);
    for (uint64_t i = 0; i < n; i++)
        src[i] = (uint8_t)(i * 2654435761u >> 13);
    enum eng_status st = vk_buf_new(ctx, n + 64, VK_MEM_DEVICE, &buf, &err);
    CHECK(st == ENG_STATUS_OK, "vk_buf_new: %s", err.msg);
    if (st == ENG_STATUS_OK) {
        CHECK(vk_upload(ctx, &buf, 64, src, n, &err) == ENG_STATUS_OK, "upload: %s", err.msg);
        CHECK(vk_download(ctx, &buf, 64, dst, n, &err) == ENG_STATUS_OK, "download: %s", err.msg);
        CHECK(memcmp(src, dst, n) == 0, "round trip of %llu bytes differs", (unsigned long long)n);
        CHECK(vk_upload(ctx, &buf, 65, src, n, &err) == ENG_STATUS_ERR_ARG,
              "an upload past the end is refused");
        CHECK(strstr(err.msg, "exceeds") != NULL, "and says why: %s", err.msg);
        vk_buf_free(ctx, &buf);
    }
    free(src);
    free(dst);
}

static void test_limits(struct vk_ctx *ctx)
{
    struct eng_err err = {0};
    struct vk_buf buf;
    uint64_t too_big = vk_ctx_max_alloc(ctx) + 1;
    CHECK(vk_buf_new(ctx, too_big, VK_MEM_DEVICE, &buf, &err) == ENG_STATUS_ERR_ARG,
          "an allocation over maxMemoryAllocationSize is refused");
    CHECK(strstr(err.msg, "allocation limit") != NULL, "with a reason: %s", err.msg);
    CHECK(vk_ctx_max_binding(ctx) <= vk_ctx_desc(ctx)->max_storage_range, "binding limit");
    CHECK(vk_ctx_offset_align(ctx) >= 16, "offset alignment");
}

/* Barriers only between dependent work: copies stand in for dispatches. */
static void test_barriers(struct vk_ctx *ctx)
{
    struct eng_err err = {0};
    struct vk_buf b[4];
    for (int i = 0; i < 4; i++)
        vk_buf_new(ctx, 4096, VK_MEM_DEVICE, &b[i], &err);
    float ones[1024];
    for (int i = 0; i < 1024; i++)
        ones[i] = (float)i;
    vk_upload(ctx, &b[0], 0, ones, sizeof ones, &err);

    uint64_t before = vk_ctx_n_barriers(ctx);
    vk_cmd_begin(ctx);
    vk_cmd_copy(ctx, vk_view_sub(&b[0], 0, 1024), vk_view_sub(&b[1], 0, 1024));
    vk_cmd_copy(ctx, vk_view_sub(&b[0], 1024, 1024), vk_view_sub(&b[1], 1024, 1024));
    CHECK(vk_ctx_n_barriers(ctx) == before, "disjoint writes need no barrier");
    vk_cmd_copy(ctx, vk_view_sub(&b[0], 0, 2048), vk_view_sub(&b[2], 0, 2048));
    CHECK(vk_ctx_n_barriers(ctx) == before, "two reads of one range need no barrier");
    vk_cmd_copy(ctx, vk_view_sub(&b[1], 512, 1024), vk_view_sub(&b[3], 0, 1024));
    CHECK(vk_ctx_n_barriers(ctx) == before + 1, "reading a written range needs one");
    vk_cmd_copy(ctx, vk_view_sub(&b[2], 2048, 1024), vk_view_sub(&b[1], 2048, 1024));
    CHECK(vk_ctx_n_barriers(ctx) == before + 1, "an unrelated write after it needs none");
    vk_cmd_copy(ctx, vk_view_sub(&b[2], 0, 1024), vk_view_sub(&b[3], 0, 1024));
    CHECK(vk_ctx_n_barriers(ctx) == before + 2, "writing what was written needs one");
    CHECK(vk_cmd_submit(ctx, &err) == ENG_STATUS_OK, "submit: %s", err.msg);

    float got[256];
    vk_download(ctx, &b[3], 0, got, sizeof got, &err);
    int bad = 0;
    for (int i = 0; i < 256; i++)
        bad += got[i] != (float)i;
    CHECK(bad == 0, "the chain of copies arrives intact (%d wrong)", bad);
    for (int i = 0; i < 4; i++)
        vk_buf_free(ctx, &b[i]);
}

/* Buffers freed and made again get handles a driver may reuse; a cached
 * descriptor set must never bind the old buffer's memory. */
static void test_reused_handles(struct vk_ctx *ctx)
{
    struct eng_err err = {0};
    float in[64], out[64];
    int bad_rounds = 0;
    for (int round = 0; round < 6; round++) {
        struct vk_buf a, b;
        vk_buf_new(ctx, 256, VK_MEM_DEVICE, &a, &err);
        vk_buf_new(ctx, 256, VK_MEM_DEVICE, &b, &err);
        for (int i = 0; i < 64; i++)
            in[i] = (float)(i + 100 * round);
        vk_upload(ctx, &a, 0, in, sizeof in, &err);
        vk_cmd_begin(ctx);
        vk_op_scale(ctx, vk_view_of(&a), vk_view_of(&b), 64, 2.0f);
        CHECK(vk_cmd_submit(ctx, &err) == ENG_STATUS_OK, "submit: %s", err.msg);
        vk_download(ctx, &b, 0, out, sizeof out, &err);
        bad_rounds += out[5] != 2.0f * (float)(5 + 100 * round);
        vk_buf_free(ctx, &b);
        vk_buf_free(ctx, &a);
    }
    CHECK(bad_rounds == 0, "%d of 6 rounds on re-made buffers read stale bindings", bad_rounds);
}

/* The pipeline cache directory of this run, made by main(). */
static char cache_dir[] = "/tmp/wenshu-vk-cache-XXXXXX";

/* At exit, also an early one (the skip): remove the cache directory if it
 * is empty, as the end of main() leaves it. */
static void remove_cache_dir(void) { rmdir(cache_dir); }

int main(void)
{
    test_pick_order();
    /* The context takes its pipeline cache path from XDG_CACHE_HOME when it
     * is made, so the fresh cache directory comes first. */
    CHECK(mkdtemp(cache_dir) != NULL, "mkdtemp");
    atexit(remove_cache_dir);
    setenv("XDG_CACHE_HOME", cache_dir, 1);
    /* Mesa keeps its own shader cache under XDG_CACHE_HOME too: not here. */
    setenv("MESA_SHADER_CACHE_DISABLE", "true", 1);
    struct vkt_device dev;
    vkt_open_device(&dev);
    struct vk_ctx *ctx = dev.ctx;
    const struct vk_device_desc *descs = dev.descs;
    for (int i = 0; i < dev.n_listed; i++)
        printf("device %d: %s (%s), %.0f MiB, binding %.0f MiB, alloc %.0f MiB, usable %d\n", i,
               descs[i].name, descs[i].type, descs[i].device_local_bytes / 1048576.0,
               descs[i].max_storage_range / 1048576.0, descs[i].max_alloc_bytes / 1048576.0,
               descs[i].usable);
    struct eng_err err = {0};
    CHECK(vk_ctx_new(dev.n_devices + 3, &(struct vk_ctx *){NULL}, &err) == ENG_STATUS_ERR_ARG,
          "a device index out of range is refused");
    printf("validation layer: %s\n", vk_ctx_validation_on(ctx) ? "on" : "off");
    test_round_trip(ctx, 1000);
    test_round_trip(ctx, (40u << 20) + 12); /* more than the 32 MiB staging buffer */
    test_limits(ctx);
    test_barriers(ctx);
    test_reused_handles(ctx);

    /* One dispatch makes a pipeline; freeing the context saves the cache. */
    struct vk_buf a, b;
    vk_buf_new(ctx, 256, VK_MEM_DEVICE, &a, &err);
    vk_buf_new(ctx, 256, VK_MEM_DEVICE, &b, &err);
    uint32_t push[4] = {0};
    vk_cmd_begin(ctx);
    vk_cmd_dispatch(ctx, &(struct vk_dispatch){.shader = "no_such_shader", .n_bindings = 2,
                                               .bindings = {vk_view_of(&a), vk_view_of(&b)},
                                               .writes = {false, true}, .push = push,
                                               .push_size = sizeof push});
    CHECK(vk_cmd_submit(ctx, &err) == ENG_STATUS_ERR_UNSUPPORTED &&
              strstr(err.msg, "no_such_shader"),
          "an unknown shader is a clear error: %s", err.msg);
    vk_buf_free(ctx, &a);
    vk_buf_free(ctx, &b);
    CHECK(vk_ctx_allocated_bytes(ctx) >= (32u << 20), "the staging buffer is counted");
    CHECK(vk_ctx_validation_errors(ctx) == 0, "no validation errors (%d)",
          vk_ctx_validation_errors(ctx));
    const struct vk_device_desc *desc = vk_ctx_desc(ctx);
    char cache_file[512];
    snprintf(cache_file, sizeof cache_file, "%s/wenshu/vulkan-pipelines-%04x-%04x.bin", cache_dir,
             desc->vendor_id, desc->device_id);
    vk_ctx_free(&ctx);
    vk_ctx_free(&ctx); /* NULL is fine */
    struct stat cache_stat;
    CHECK(stat(cache_file, &cache_stat) == 0 && cache_stat.st_size > 0,
          "the pipeline cache was saved to %s", cache_file);
    /* A context made later starts from that file; a corrupt one is ignored. */
    FILE *f = fopen(cache_file, "r+b");
    if (f) {
        fputs("garbage", f);
        fclose(f);
    }
    CHECK(vk_ctx_new(dev.index, &ctx, &err) == ENG_STATUS_OK,
          "a corrupt pipeline cache is ignored: %s", err.msg);
    vk_ctx_free(&ctx);
    unlink(cache_file);
    char cache_sub[300];
    snprintf(cache_sub, sizeof cache_sub, "%s/wenshu", cache_dir);
    rmdir(cache_sub);
    rmdir(cache_dir);

    if (n_failed) {
        printf("%d check(s) failed\n", n_failed);
        return 1;
    }
    printf("all vk-ctx checks passed\n");
    return 0;
}
