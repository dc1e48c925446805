/* vk.h: the Vulkan runtime of the engine (private): device choice, buffers,
 * pipelines built from the SPIR-V embedded at build time, and command
 * recording with automatic barriers.
 *
 * One vk_ctx owns one logical device, one compute queue, one command buffer
 * and its fence. Work is recorded between vk_cmd_begin() and
 * vk_cmd_submit(): each vk_cmd_dispatch() binds buffer views, sets push
 * constants and dispatches. The context tracks which byte ranges the
 * dispatches since the last barrier wrote and read, and inserts a barrier
 * only before a dispatch that depends on one of them.
 *
 * Errors inside recording (a pipeline that fails to build, a descriptor
 * pool that cannot grow) are sticky: the dispatch is dropped and
 * vk_cmd_submit() returns the first error.
 *
 * Environment: WENSHU_VK_VALIDATION=1 turns on the validation layer;
 * WENSHU_VK_TUNING=gpu|cpu picks the shaders' shapes (vk_ctx_tune_for_cpu);
 * WENSHU_VULKAN_LOADER names the loader library; WENSHU_VK_MAX_BINDING,
 * WENSHU_VK_MAX_ALLOC and WENSHU_VK_MEMORY_LIMIT (bytes) shrink the device's
 * limits so tests reach the split, chunk and out-of-memory paths.
 *
 * Thread-safety: a vk_ctx is used by one thread at a time.
 */
#ifndef WENSHU_VK_H
#define WENSHU_VK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The loader is opened at run time (dlopen), so the engine starts without
 * libvulkan; only vk-ctx.c calls Vulkan functions. */
#ifndef VK_NO_PROTOTYPES
#define VK_NO_PROTOTYPES
#endif
#include <vulkan/vulkan.h>

#include "../wenshu-engine.h"

#define VK_MAX_BINDINGS 8
#define VK_MAX_PUSH_BYTES 128
#define VK_MAX_SPEC 4

/* What vk_devices_list() tells about one physical device. */
struct vk_device_desc {
    char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
    const char *type;                /* "discrete", "integrated", "virtual", "cpu", "other" */
    VkPhysicalDeviceType vk_type;
    uint32_t vendor_id, device_id;
    char driver[64];                 /* driver name and info, or "" */
    uint64_t device_local_bytes;     /* sum of the device-local heaps */
    uint64_t max_alloc_bytes;        /* maxMemoryAllocationSize */
    uint64_t max_storage_range;      /* maxStorageBufferRange */
    uint32_t max_workgroup_invocations;
    uint32_t max_shared_bytes;
    uint32_t subgroup_size;
    bool has_16bit_storage, has_8bit_storage, has_fp16;
    bool usable;                     /* has everything the shaders need */
    char why_unusable[128];          /* when !usable */
};

/* Enumerate physical devices into descs[max] (may be NULL to count).
 * Returns the number of devices, or a negative value when there is no
 * Vulkan loader or no instance (err receives why). */
int vk_devices_list(struct vk_device_desc *descs, int max, struct eng_err *err);

/* The index the automatic choice takes: a usable discrete GPU first, then
 * an integrated one, then a virtual one; software (cpu-type) devices only
 * when allow_cpu_type. -1 when none qualifies. */
int vk_device_pick(const struct vk_device_desc *descs, int n, bool allow_cpu_type);

struct vk_ctx;

/* Open device `index` (from vk_devices_list()).
 * The Khronos validation layer is enabled when the build says so
 * (-Dvulkan-validation=enabled) or WENSHU_VK_VALIDATION=1 is set.
 * Ownership: *out owns the device; free with vk_ctx_free(). */
enum eng_status vk_ctx_new(int index, struct vk_ctx **out, struct eng_err *err);
/* Wait for the device, save the pipeline cache, free everything. Accepts NULL. */
void vk_ctx_free(struct vk_ctx **ctx);

const struct vk_device_desc *vk_ctx_desc(const struct vk_ctx *ctx);
/* Messages of severity error the validation layer reported so far. */
int vk_ctx_validation_errors(const struct vk_ctx *ctx);
/* Whether the validation layer is on. */
bool vk_ctx_validation_on(const struct vk_ctx *ctx);
/* Largest range one binding may have (maxStorageBufferRange, capped so a
 * uint index in bytes never overflows). */
uint64_t vk_ctx_max_binding(const struct vk_ctx *ctx);
/* Largest single allocation (maxMemoryAllocationSize, capped likewise). */
uint64_t vk_ctx_max_alloc(const struct vk_ctx *ctx);
/* Binding offsets must be a multiple of this (minStorageBufferOffsetAlignment). */
uint64_t vk_ctx_offset_align(const struct vk_ctx *ctx);
/* Whether shaders take their software-device shapes (every invocation owns
 * whole rows, few barriers) rather than their GPU shapes: true on cpu-type
 * devices such as lavapipe. WENSHU_VK_TUNING=gpu|cpu forces either, so the
 * GPU shapes are tested on lavapipe too. */
bool vk_ctx_tune_for_cpu(const struct vk_ctx *ctx);
/* Bytes of device memory this context holds now. */
uint64_t vk_ctx_allocated_bytes(const struct vk_ctx *ctx);

/* ---- buffers ------------------------------------------------------------ */

enum vk_mem {
    VK_MEM_DEVICE, /* device-local; filled with vk_upload() */
    VK_MEM_HOST,   /* host-visible and coherent, mapped at b->mapped */
};

struct vk_buf {
    VkBuffer buffer;
    VkDeviceMemory memory;
    uint64_t size;
    void *mapped; /* VK_MEM_HOST only, else NULL */
    uint64_t id;  /* unique within the context (a freed handle may come back) */
};

/* Allocate one buffer of size bytes (<= vk_ctx_max_alloc()). Running out of
 * device memory returns ENG_STATUS_ERR_NOMEM with the sizes in err. */
enum eng_status vk_buf_new(struct vk_ctx *ctx, uint64_t size, enum vk_mem kind,
                           struct vk_buf *out, struct eng_err *err);
/* Free a buffer (waits for nothing: the caller makes sure no work uses it).
 * Accepts a zeroed buffer. */
void vk_buf_free(struct vk_ctx *ctx, struct vk_buf *b);

/* Copy n bytes host -> device buffer at offset, through a staging buffer,
 * and wait. Not inside vk_cmd_begin()/vk_cmd_submit(). */
enum eng_status vk_upload(struct vk_ctx *ctx, const struct vk_buf *dst, uint64_t offset,
                          const void *src, uint64_t n, struct eng_err *err);
/* Copy n bytes device buffer at offset -> host, and wait. */
enum eng_status vk_download(struct vk_ctx *ctx, const struct vk_buf *src, uint64_t offset,
                            void *dst, uint64_t n, struct eng_err *err);

/* A byte range of a buffer, as bound to one shader binding. The offset must
 * be a multiple of vk_ctx_offset_align() and range <= vk_ctx_max_binding(). */
struct vk_view {
    const struct vk_buf *buf;
    uint64_t offset, range;
};

static inline struct vk_view vk_view_of(const struct vk_buf *b)
{
    return (struct vk_view){.buf = b, .offset = 0, .range = b->size};
}
static inline struct vk_view vk_view_sub(const struct vk_buf *b, uint64_t offset, uint64_t range)
{
    return (struct vk_view){.buf = b, .offset = offset, .range = range};
}

/* ---- recording ---------------------------------------------------------- */

/* One compute dispatch. The shader is an embedded SPIR-V module by name
 * (see shaders/meson.build), e.g. "mul_mat_vec_q4_0". Its descriptor set 0
 * has bindings 0..n_bindings-1, all storage buffers, in the order given;
 * push constants are at most 128 bytes. spec[i] is specialization constant
 * id i (ids 0..n_spec-1, e.g. the workgroup size as local_size_x_id = 0). */
struct vk_dispatch {
    const char *shader;
    int n_bindings;
    struct vk_view bindings[VK_MAX_BINDINGS];
    bool writes[VK_MAX_BINDINGS]; /* which bindings the shader writes */
    const void *push;
    uint32_t push_size;
    uint32_t spec[VK_MAX_SPEC];
    int n_spec;
    uint32_t groups[3];           /* workgroup counts; 0 is read as 1 */
};

/* Start recording a batch of work. */
void vk_cmd_begin(struct vk_ctx *ctx);
/* Record one dispatch, with a barrier before it when it reads or writes
 * bytes that an earlier dispatch since the last barrier wrote, or writes
 * bytes one read. */
void vk_cmd_dispatch(struct vk_ctx *ctx, const struct vk_dispatch *d);
/* Record a buffer-to-buffer copy (with the same barrier rule). */
void vk_cmd_copy(struct vk_ctx *ctx, struct vk_view src, struct vk_view dst);
/* Submit what was recorded, wait for it, return the first recording error. */
enum eng_status vk_cmd_submit(struct vk_ctx *ctx, struct eng_err *err);

/* Dispatches and barriers recorded since the context was made. */
uint64_t vk_ctx_n_dispatches(const struct vk_ctx *ctx);
uint64_t vk_ctx_n_barriers(const struct vk_ctx *ctx);

/* Ceiling division, for workgroup counts. */
static inline uint32_t vk_div_up(uint64_t n, uint64_t d) { return (uint32_t)((n + d - 1) / d); }

#endif /* WENSHU_VK_H */
