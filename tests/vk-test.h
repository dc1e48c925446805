/* vk-test.h: helpers the Vulkan tests share (test-vk-ctx, test-vk-matmul,
 * test-vk-ops): opening the device, a seeded random generator, allocation,
 * device buffers, timing and the NMSE measure. Test code only: every
 * function is static inline, so a test that leaves one unused does not
 * warn. Failures here print "FATAL: ..." and exit(1). */
#ifndef WENSHU_TESTS_VK_TEST_H
#define WENSHU_TESTS_VK_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vulkan/vk.h"

/* At most this many devices are listed. */
#define VKT_MAX_DEVICES 8

/* Print what failed and why (err may be NULL), then exit(1). */
static inline void vkt_die(const char *what, const struct eng_err *err)
{
    printf("FATAL: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

/* calloc that never returns NULL (dies instead); n = 0 still allocates. */
static inline void *vkt_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        vkt_die("out of memory", NULL);
    return p;
}

/* ---- random numbers ------------------------------------------------------------ */

/* The next 64 random bits of the splitmix64 sequence that *state seeds. */
static inline uint64_t vkt_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi), from 24 random bits. */
static inline float vkt_rand_uniform(uint64_t *state, float lo, float hi)
{
    return lo + (hi - lo) * (float)((vkt_rng_next(state) >> 40) * (1.0 / 16777216.0));
}

/* v[0..n) uniform in [lo, hi). */
static inline void vkt_fill_uniform(uint64_t *state, float *v, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        v[i] = vkt_rand_uniform(state, lo, hi);
}

/* ---- measures ------------------------------------------------------------------ */

/* NMSE of got against ref over n values: sum((got - ref)^2) / sum(ref^2),
 * or the plain squared error when ref is all zeros. */
static inline double vkt_nmse(const float *got, const double *ref, size_t n)
{
    double err = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - ref[i];
        err += d * d;
        norm += ref[i] * ref[i];
    }
    return norm > 0 ? err / norm : err;
}

/* A monotonic clock in seconds, for timings. */
static inline double vkt_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- device and buffers --------------------------------------------------------- */

/* The device a test runs on, as vkt_open_device() found and opened it. */
struct vkt_device {
    struct vk_device_desc descs[VKT_MAX_DEVICES]; /* [n_listed] from vk_devices_list() */
    int n_devices;                                /* devices present (may exceed n_listed) */
    int n_listed;                                 /* min(n_devices, VKT_MAX_DEVICES) */
    int index;                                    /* the one picked: descs[index] */
    struct vk_ctx *ctx;                           /* its context; free with vk_ctx_free() */
};

/* List the devices, pick one with vk_device_pick(descs, n, true) (software
 * devices allowed, so lavapipe in CI), open its context into dev->ctx and
 * print "device: <name> (<type>)". Exits 77 with "SKIP: no Vulkan device"
 * only when there is none at all; exits 1 when devices exist but none is
 * usable, or when the context cannot be made. */
static inline void vkt_open_device(struct vkt_device *dev)
{
    struct eng_err err = {0};
    *dev = (struct vkt_device){0};
    dev->n_devices = vk_devices_list(dev->descs, VKT_MAX_DEVICES, &err);
    if (dev->n_devices <= 0) {
        printf("SKIP: no Vulkan device (%s)\n", dev->n_devices < 0 ? err.msg : "none found");
        exit(77);
    }
    dev->n_listed = dev->n_devices < VKT_MAX_DEVICES ? dev->n_devices : VKT_MAX_DEVICES;
    dev->index = vk_device_pick(dev->descs, dev->n_listed, true);
    if (dev->index < 0) {
        printf("FAIL: %d Vulkan device(s), none usable (%s)\n", dev->n_devices,
               dev->descs[0].why_unusable);
        exit(1);
    }
    if (vk_ctx_new(dev->index, &dev->ctx, &err) != ENG_STATUS_OK)
        vkt_die("vk_ctx_new", &err);
    printf("device: %s (%s)\n", dev->descs[dev->index].name, dev->descs[dev->index].type);
}

/* A device-local buffer of bytes rounded up to 16 (views may round their
 * range up to 16), its first bytes filled from data, or zeros when data is
 * NULL. Free with vk_buf_free(). */
static inline struct vk_buf vkt_buf_upload(struct vk_ctx *ctx, const void *data, uint64_t bytes)
{
    struct eng_err err = {0};
    struct vk_buf b;
    if (vk_buf_new(ctx, (bytes + 15) / 16 * 16, VK_MEM_DEVICE, &b, &err) != ENG_STATUS_OK)
        vkt_die("vk_buf_new", &err);
    void *zeros = NULL;
    if (!data)
        data = zeros = vkt_xcalloc(bytes, 1);
    if (vk_upload(ctx, &b, 0, data, bytes, &err) != ENG_STATUS_OK)
        vkt_die("vk_upload", &err);
    free(zeros);
    return b;
}

/* Copy the first bytes of b to dst. */
static inline void vkt_download(struct vk_ctx *ctx, const struct vk_buf *b, void *dst,
                                uint64_t bytes)
{
    struct eng_err err = {0};
    if (vk_download(ctx, b, 0, dst, bytes, &err) != ENG_STATUS_OK)
        vkt_die("vk_download", &err);
}

/* Submit the recorded commands and wait for them. */
static inline void vkt_submit(struct vk_ctx *ctx)
{
    struct eng_err err = {0};
    if (vk_cmd_submit(ctx, &err) != ENG_STATUS_OK)
        vkt_die("vk_cmd_submit", &err);
}

#endif
