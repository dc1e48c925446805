/* vk-ctx.c: the Vulkan runtime: loader, device choice, memory, pipelines,
 * descriptor sets and command recording (see vk.h). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine-internal.h"
#include "vk-shaders.h"
#include "vk.h"

/* ---- loader --------------------------------------------------------------- */

/* Every Vulkan function the engine calls, loaded through vkGetInstanceProcAddr
 * (device functions too: the loader's trampolines dispatch on the handle). */
#define VK_GLOBAL_FUNCS(X)                                                                 \
    X(vkCreateInstance)                                                                    \
    X(vkEnumerateInstanceLayerProperties)
#define VK_INSTANCE_FUNCS(X)                                                               \
    X(vkDestroyInstance)                                                                   \
    X(vkEnumeratePhysicalDevices)                                                          \
    X(vkGetPhysicalDeviceProperties)                                                       \
    X(vkGetPhysicalDeviceProperties2)                                                      \
    X(vkGetPhysicalDeviceFeatures2)                                                        \
    X(vkGetPhysicalDeviceMemoryProperties)                                                 \
    X(vkGetPhysicalDeviceQueueFamilyProperties)                                            \
    X(vkCreateDevice)                                                                      \
    X(vkDestroyDevice)                                                                     \
    X(vkGetDeviceQueue)                                                                    \
    X(vkCreateBuffer)                                                                      \
    X(vkDestroyBuffer)                                                                     \
    X(vkGetBufferMemoryRequirements)                                                       \
    X(vkAllocateMemory)                                                                    \
    X(vkFreeMemory)                                                                        \
    X(vkBindBufferMemory)                                                                  \
    X(vkMapMemory)                                                                         \
    X(vkCreateShaderModule)                                                                \
    X(vkDestroyShaderModule)                                                               \
    X(vkCreatePipelineCache)                                                               \
    X(vkGetPipelineCacheData)                                                              \
    X(vkDestroyPipelineCache)                                                              \
    X(vkCreateDescriptorSetLayout)                                                         \
    X(vkDestroyDescriptorSetLayout)                                                        \
    X(vkCreatePipelineLayout)                                                              \
    X(vkDestroyPipelineLayout)                                                             \
    X(vkCreateComputePipelines)                                                            \
    X(vkDestroyPipeline)                                                                   \
    X(vkCreateDescriptorPool)                                                              \
    X(vkDestroyDescriptorPool)                                                             \
    X(vkResetDescriptorPool)                                                               \
    X(vkAllocateDescriptorSets)                                                            \
    X(vkUpdateDescriptorSets)                                                              \
    X(vkCreateCommandPool)                                                                 \
    X(vkDestroyCommandPool)                                                                \
    X(vkResetCommandPool)                                                                  \
    X(vkAllocateCommandBuffers)                                                            \
    X(vkBeginCommandBuffer)                                                                \
    X(vkEndCommandBuffer)                                                                  \
    X(vkCmdBindPipeline)                                                                   \
    X(vkCmdBindDescriptorSets)                                                             \
    X(vkCmdPushConstants)                                                                  \
    X(vkCmdDispatch)                                                                       \
    X(vkCmdPipelineBarrier)                                                                \
    X(vkCmdCopyBuffer)                                                                     \
    X(vkCreateFence)                                                                       \
    X(vkDestroyFence)                                                                      \
    X(vkResetFences)                                                                       \
    X(vkWaitForFences)                                                                     \
    X(vkQueueSubmit)                                                                       \
    X(vkDeviceWaitIdle)

#define VK_DECLARE(name) PFN_##name name;
static struct {
    void *lib;
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
    VK_GLOBAL_FUNCS(VK_DECLARE)
    VK_INSTANCE_FUNCS(VK_DECLARE)
    PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT;
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    bool validation;
    int n_validation_errors; /* written by the debug callback */
    char error[256];         /* why there is no instance, when instance is NULL */
} vkl;
#undef VK_DECLARE

static pthread_once_t vkl_once = PTHREAD_ONCE_INIT;

/* The name of a VkResult, for messages. */
static const char *vk_result_name(VkResult r)
{
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default: return "VkResult error";
    }
}

/* The one checking macro: on failure, record the VkResult name, the call and
 * file:line in err with status st, and jump to the function's `fail` label. */
#define VK_CHECK(call, st)                                                                 \
    do {                                                                                   \
        VkResult vk_check_r_ = (call);                                                     \
        if (vk_check_r_ != VK_SUCCESS) {                                                   \
            status = eng_set_err(err, (st), "Vulkan: %s failed with %s (%s:%d)", #call,    \
                                 vk_result_name(vk_check_r_), __FILE__, __LINE__);         \
            goto fail;                                                                     \
        }                                                                                  \
    } while (0)

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT type,
    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user_data)
{
    (void)type;
    (void)user_data;
    if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
        __atomic_add_fetch(&vkl.n_validation_errors, 1, __ATOMIC_RELAXED);
        fprintf(stderr, "wenshu: Vulkan validation error: %s\n", data->pMessage);
    } else if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        fprintf(stderr, "wenshu: Vulkan validation warning: %s\n", data->pMessage);
    }
    return VK_FALSE;
}

static bool validation_wanted(void)
{
    const char *env = getenv("WENSHU_VK_VALIDATION");
    if (env && *env)
        return strcmp(env, "0") != 0;
#ifdef WENSHU_VK_VALIDATION_DEFAULT
    return true;
#else
    return false;
#endif
}

static bool have_validation_layer(void)
{
    uint32_t n = 0;
    if (vkl.vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkLayerProperties *layers = calloc(n, sizeof *layers);
    bool found = false;
    if (layers && vkl.vkEnumerateInstanceLayerProperties(&n, layers) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(layers[i].layerName, "VK_LAYER_KHRONOS_validation") == 0;
    free(layers);
    return found;
}

/* Open the loader and make the process-wide instance (once). */
static void vkl_init(void)
{
    /* WENSHU_VULKAN_LOADER names another loader (tests use a missing one). */
    const char *names[] = {getenv("WENSHU_VULKAN_LOADER"), "libvulkan.so.1", "libvulkan.so"};
    bool forced = names[0] && *names[0];
    for (size_t i = forced ? 0 : 1; i < (forced ? 1 : 3) && !vkl.lib; i++)
        vkl.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!vkl.lib) {
        snprintf(vkl.error, sizeof vkl.error, "no Vulkan loader (libvulkan.so.1) is installed");
        return;
    }
    vkl.vkGetInstanceProcAddr =
        (PFN_vkGetInstanceProcAddr)(uintptr_t)dlsym(vkl.lib, "vkGetInstanceProcAddr");
    if (!vkl.vkGetInstanceProcAddr) {
        snprintf(vkl.error, sizeof vkl.error, "the Vulkan loader lacks vkGetInstanceProcAddr");
        return;
    }
#define VK_LOAD_GLOBAL(name) vkl.name = (PFN_##name)vkl.vkGetInstanceProcAddr(NULL, #name);
    VK_GLOBAL_FUNCS(VK_LOAD_GLOBAL)
#undef VK_LOAD_GLOBAL

    vkl.validation = validation_wanted();
    if (vkl.validation && !have_validation_layer()) {
        fprintf(stderr, "wenshu: the Vulkan validation layer was asked for but is not "
                        "installed (Debian: vulkan-validationlayers)\n");
        vkl.validation = false;
    }
    const char *layers[] = {"VK_LAYER_KHRONOS_validation"};
    const char *exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "wenshu", .pEngineName = "wenshu-engine",
                             .apiVersion = VK_API_VERSION_1_2};
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                               .pApplicationInfo = &app,
                               .enabledLayerCount = vkl.validation ? 1 : 0,
                               .ppEnabledLayerNames = layers,
                               .enabledExtensionCount = vkl.validation ? 1 : 0,
                               .ppEnabledExtensionNames = exts};
    VkResult r = vkl.vkCreateInstance(&ci, NULL, &vkl.instance);
    if (r != VK_SUCCESS) {
        snprintf(vkl.error, sizeof vkl.error, "vkCreateInstance failed with %s",
                 vk_result_name(r));
        vkl.instance = VK_NULL_HANDLE;
        return;
    }
#define VK_LOAD_INSTANCE(name) vkl.name = (PFN_##name)vkl.vkGetInstanceProcAddr(vkl.instance, #name);
    VK_INSTANCE_FUNCS(VK_LOAD_INSTANCE)
#undef VK_LOAD_INSTANCE
    if (vkl.validation) {
        vkl.vkCreateDebugUtilsMessengerEXT = (PFN_vkCreateDebugUtilsMessengerEXT)
            vkl.vkGetInstanceProcAddr(vkl.instance, "vkCreateDebugUtilsMessengerEXT");
        VkDebugUtilsMessengerCreateInfoEXT mi = {
            .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
            .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
            .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
            .pfnUserCallback = on_validation_message};
        if (!vkl.vkCreateDebugUtilsMessengerEXT ||
            vkl.vkCreateDebugUtilsMessengerEXT(vkl.instance, &mi, NULL, &vkl.messenger))
            fprintf(stderr, "wenshu: could not attach to the Vulkan validation layer\n");
    }
}

/* The instance, or NULL with the reason in err. */
static VkInstance vkl_instance(struct eng_err *err)
{
    pthread_once(&vkl_once, vkl_init);
    if (!vkl.instance)
        eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED, "Vulkan: %s", vkl.error);
    return vkl.instance;
}

/* ---- devices -------------------------------------------------------------- */

static const char *device_type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

static void describe_device(VkPhysicalDevice pd, struct vk_device_desc *d)
{
    memset(d, 0, sizeof *d);
    VkPhysicalDeviceDriverProperties driver = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties subgroup = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, .pNext = &driver};
    VkPhysicalDeviceMaintenance3Properties maint3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES, .pNext = &subgroup};
    VkPhysicalDeviceProperties2 props = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                         .pNext = &maint3};
    vkl.vkGetPhysicalDeviceProperties2(pd, &props);
    const VkPhysicalDeviceProperties *p = &props.properties;
    snprintf(d->name, sizeof d->name, "%s", p->deviceName);
    d->vk_type = p->deviceType;
    d->type = device_type_name(p->deviceType);
    d->vendor_id = p->vendorID;
    d->device_id = p->deviceID;
    snprintf(d->driver, sizeof d->driver, "%.24s %.32s", driver.driverName, driver.driverInfo);
    d->max_alloc_bytes = maint3.maxMemoryAllocationSize;
    d->max_storage_range = p->limits.maxStorageBufferRange;
    d->max_workgroup_invocations = p->limits.maxComputeWorkGroupInvocations;
    d->max_shared_bytes = p->limits.maxComputeSharedMemorySize;
    d->subgroup_size = subgroup.subgroupSize;

    VkPhysicalDeviceMemoryProperties mem;
    vkl.vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    for (uint32_t i = 0; i < mem.memoryHeapCount; i++)
        if (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            d->device_local_bytes += mem.memoryHeaps[i].size;

    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan11Features f11 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, .pNext = &f12};
    VkPhysicalDeviceFeatures2 feats = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                       .pNext = &f11};
    bool api_12 = VK_API_VERSION_MINOR(p->apiVersion) >= 2 || VK_API_VERSION_MAJOR(p->apiVersion) > 1;
    if (api_12)
        vkl.vkGetPhysicalDeviceFeatures2(pd, &feats);
    d->has_16bit_storage = f11.storageBuffer16BitAccess;
    d->has_8bit_storage = f12.storageBuffer8BitAccess;
    d->has_fp16 = f12.shaderFloat16;
    d->usable = api_12 && d->has_16bit_storage && d->has_8bit_storage;
    if (!api_12)
        snprintf(d->why_unusable, sizeof d->why_unusable, "needs Vulkan 1.2 (device has 1.%u)",
                 VK_API_VERSION_MINOR(p->apiVersion));
    else if (!d->usable)
        snprintf(d->why_unusable, sizeof d->why_unusable,
                 "lacks 8- or 16-bit storage buffer access");
}

/* The physical devices; *n receives the count. The array is malloc'd. */
static VkPhysicalDevice *physical_devices(uint32_t *n, struct eng_err *err)
{
    *n = 0;
    if (!vkl_instance(err))
        return NULL;
    if (vkl.vkEnumeratePhysicalDevices(vkl.instance, n, NULL) != VK_SUCCESS || *n == 0) {
        *n = 0;
        return NULL;
    }
    VkPhysicalDevice *pds = calloc(*n, sizeof *pds);
    if (!pds || vkl.vkEnumeratePhysicalDevices(vkl.instance, n, pds) < 0) {
        free(pds);
        *n = 0;
        return NULL;
    }
    return pds;
}

int vk_devices_list(struct vk_device_desc *descs, int max, struct eng_err *err)
{
    if (!vkl_instance(err))
        return -1;
    uint32_t n = 0;
    VkPhysicalDevice *pds = physical_devices(&n, err);
    for (uint32_t i = 0; descs && i < n && (int)i < max; i++)
        describe_device(pds[i], &descs[i]);
    free(pds);
    return (int)n;
}

int vk_device_pick(const struct vk_device_desc *descs, int n, bool allow_cpu_type)
{
    const VkPhysicalDeviceType order[] = {
        VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU,
        VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU, VK_PHYSICAL_DEVICE_TYPE_OTHER,
        VK_PHYSICAL_DEVICE_TYPE_CPU};
    int n_order = allow_cpu_type ? 5 : 4;
    for (int k = 0; k < n_order; k++)
        for (int i = 0; i < n; i++)
            if (descs[i].usable && descs[i].vk_type == order[k])
                return i;
    return -1;
}

/* ---- context -------------------------------------------------------------- */

struct vk_pipeline {
    char key[96];  /* shader name and specialization constants */
    VkPipeline pipeline;
    int n_bindings;
};

struct vk_set_entry {
    uint64_t hash;
    int n_bindings;
    uint64_t buf_ids[VK_MAX_BINDINGS], offsets[VK_MAX_BINDINGS], ranges[VK_MAX_BINDINGS];
    VkDescriptorSet set;
};

/* A byte range touched by a dispatch since the last barrier. */
struct vk_range {
    VkBuffer buffer;
    uint64_t begin, end;
};

#define VK_PIPELINE_SLOTS 512     /* open addressing; power of two */
#define VK_SET_SLOTS 8192         /* power of two; reset when 3/4 full */
#define VK_SETS_PER_POOL 1024
#define VK_MAX_POOLS 16
#define VK_MAX_RANGES 64
#define VK_STAGING_BYTES (32u << 20)

struct vk_ctx {
    struct vk_device_desc desc;
    VkPhysicalDevice physical;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    VkPhysicalDeviceMemoryProperties mem_props;
    uint64_t offset_align, max_binding, max_alloc, allocated;
    uint64_t next_buf_id;
    uint64_t memory_limit;              /* 0, or a test's cap on `allocated` */

    VkPipelineCache pipeline_cache;
    char cache_path[512];
    bool cache_dirty;
    VkDescriptorSetLayout set_layouts[VK_MAX_BINDINGS + 1]; /* by binding count; [0] unused */
    VkPipelineLayout pipeline_layouts[VK_MAX_BINDINGS + 1];
    struct vk_pipeline *pipelines;       /* [VK_PIPELINE_SLOTS] */

    VkDescriptorPool pools[VK_MAX_POOLS];
    int n_pools, n_sets_in_last_pool, n_sets;
    struct vk_set_entry *sets;           /* [VK_SET_SLOTS] */

    VkCommandPool cmd_pool;
    VkCommandBuffer cmd;
    VkFence fence;
    bool recording;
    enum eng_status record_status;       /* the first error while recording */
    struct eng_err record_err;

    struct vk_range written[VK_MAX_RANGES], read[VK_MAX_RANGES];
    int n_written, n_read;
    uint64_t n_dispatches, n_barriers;

    struct vk_buf staging;               /* host-visible, VK_STAGING_BYTES */
};

const struct vk_device_desc *vk_ctx_desc(const struct vk_ctx *ctx) { return &ctx->desc; }
int vk_ctx_validation_errors(const struct vk_ctx *ctx)
{
    (void)ctx;
    return __atomic_load_n(&vkl.n_validation_errors, __ATOMIC_RELAXED);
}
bool vk_ctx_validation_on(const struct vk_ctx *ctx) { (void)ctx; return vkl.validation; }
uint64_t vk_ctx_max_binding(const struct vk_ctx *ctx) { return ctx->max_binding; }
uint64_t vk_ctx_max_alloc(const struct vk_ctx *ctx) { return ctx->max_alloc; }
uint64_t vk_ctx_offset_align(const struct vk_ctx *ctx) { return ctx->offset_align; }
uint64_t vk_ctx_allocated_bytes(const struct vk_ctx *ctx) { return ctx->allocated; }

bool vk_ctx_tune_for_cpu(const struct vk_ctx *ctx)
{
    const char *forced = getenv("WENSHU_VK_TUNING");
    if (forced && strcmp(forced, "gpu") == 0)
        return false;
    if (forced && strcmp(forced, "cpu") == 0)
        return true;
    return ctx->desc.vk_type == VK_PHYSICAL_DEVICE_TYPE_CPU;
}
uint64_t vk_ctx_n_dispatches(const struct vk_ctx *ctx) { return ctx->n_dispatches; }
uint64_t vk_ctx_n_barriers(const struct vk_ctx *ctx) { return ctx->n_barriers; }

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* A positive byte count from the environment, or 0. */
static uint64_t env_bytes(const char *name)
{
    const char *v = getenv(name);
    char *end = NULL;
    unsigned long long n = v && *v ? strtoull(v, &end, 10) : 0;
    return end && *end == 0 ? (uint64_t)n : 0;
}

/* Smaller limits than the device's, so that tests reach the paths a large
 * model takes on a small device: WENSHU_VK_MAX_BINDING (bytes per binding,
 * rounded down to the offset alignment), WENSHU_VK_MAX_ALLOC (bytes per
 * allocation) and WENSHU_VK_MEMORY_LIMIT (bytes in all, beyond which
 * allocations fail as if the device were full). */
static void apply_test_limits(struct vk_ctx *ctx)
{
    uint64_t binding = env_bytes("WENSHU_VK_MAX_BINDING");
    if (binding >= ctx->offset_align)
        ctx->max_binding = min_u64(ctx->max_binding, binding / ctx->offset_align * ctx->offset_align);
    uint64_t alloc = env_bytes("WENSHU_VK_MAX_ALLOC");
    if (alloc >= ctx->offset_align)
        ctx->max_alloc = min_u64(ctx->max_alloc, alloc);
    ctx->memory_limit = env_bytes("WENSHU_VK_MEMORY_LIMIT");
}

/* Where the pipeline cache of this device lives:
 * $XDG_CACHE_HOME/wenshu or ~/.cache/wenshu, per vendor and device id. */
static void pipeline_cache_path(struct vk_ctx *ctx)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[400];
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/wenshu", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.cache/wenshu", home);
    else
        return;
    snprintf(ctx->cache_path, sizeof ctx->cache_path, "%s/vulkan-pipelines-%04x-%04x.bin", dir,
             ctx->desc.vendor_id, ctx->desc.device_id);
}

/* The cache file's bytes, or NULL; *n receives the size. */
static void *read_cache_file(const char *path, size_t *n)
{
    *n = 0;
    FILE *f = path[0] ? fopen(path, "rb") : NULL;
    if (!f)
        return NULL;
    void *data = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size > 0 && size < (64l << 20) && fseek(f, 0, SEEK_SET) == 0) {
            data = malloc((size_t)size);
            if (data && fread(data, 1, (size_t)size, f) == (size_t)size)
                *n = (size_t)size;
        }
    }
    fclose(f);
    if (*n == 0) {
        free(data);
        return NULL;
    }
    return data;
}

static void make_dirs(const char *path)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        mkdir(tmp, 0755);
        *p = '/';
    }
}

/* Write the pipeline cache back (a temporary file, then a rename), if new
 * pipelines were built. Failure only costs build time next run. */
static void save_pipeline_cache(struct vk_ctx *ctx)
{
    if (!ctx->cache_dirty || !ctx->cache_path[0] || !ctx->pipeline_cache)
        return;
    size_t n = 0;
    if (vkl.vkGetPipelineCacheData(ctx->device, ctx->pipeline_cache, &n, NULL) || n == 0)
        return;
    void *data = malloc(n);
    if (data && vkl.vkGetPipelineCacheData(ctx->device, ctx->pipeline_cache, &n, data) == 0) {
        make_dirs(ctx->cache_path);
        char tmp[600];
        snprintf(tmp, sizeof tmp, "%s.%d.tmp", ctx->cache_path, (int)getpid());
        FILE *f = fopen(tmp, "wb");
        bool ok = f && fwrite(data, 1, n, f) == n;
        if (f)
            ok = (fclose(f) == 0) && ok;
        if (!ok || rename(tmp, ctx->cache_path) != 0)
            unlink(tmp);
    }
    free(data);
}

static enum eng_status create_pipeline_cache(struct vk_ctx *ctx, struct eng_err *err)
{
    enum eng_status status = ENG_STATUS_OK;
    pipeline_cache_path(ctx);
    size_t n = 0;
    void *data = read_cache_file(ctx->cache_path, &n);
    VkPipelineCacheCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                    .initialDataSize = n, .pInitialData = data};
    /* A cache from another driver version is ignored by the driver; a
     * corrupt one may be refused, so retry empty. */
    if (vkl.vkCreatePipelineCache(ctx->device, &ci, NULL, &ctx->pipeline_cache) != VK_SUCCESS) {
        ci.initialDataSize = 0;
        ci.pInitialData = NULL;
        VK_CHECK(vkl.vkCreatePipelineCache(ctx->device, &ci, NULL, &ctx->pipeline_cache),
                 ENG_STATUS_ERR_UNSUPPORTED);
    }
fail:
    free(data);
    return status;
}

/* One descriptor set layout and pipeline layout per binding count; every
 * layout has the full 128-byte push constant range. */
static enum eng_status create_layouts(struct vk_ctx *ctx, struct eng_err *err)
{
    enum eng_status status = ENG_STATUS_OK;
    for (int n = 1; n <= VK_MAX_BINDINGS; n++) {
        VkDescriptorSetLayoutBinding b[VK_MAX_BINDINGS];
        for (int i = 0; i < n; i++)
            b[i] = (VkDescriptorSetLayoutBinding){
                .binding = (uint32_t)i, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                .descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
        VkDescriptorSetLayoutCreateInfo li = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
            .bindingCount = (uint32_t)n, .pBindings = b};
        VK_CHECK(vkl.vkCreateDescriptorSetLayout(ctx->device, &li, NULL, &ctx->set_layouts[n]),
                 ENG_STATUS_ERR_UNSUPPORTED);
        VkPushConstantRange push = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
                                    .offset = 0, .size = VK_MAX_PUSH_BYTES};
        VkPipelineLayoutCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                         .setLayoutCount = 1, .pSetLayouts = &ctx->set_layouts[n],
                                         .pushConstantRangeCount = 1,
                                         .pPushConstantRanges = &push};
        VK_CHECK(vkl.vkCreatePipelineLayout(ctx->device, &pi, NULL, &ctx->pipeline_layouts[n]),
                 ENG_STATUS_ERR_UNSUPPORTED);
    }
fail:
    return status;
}

static int find_compute_queue(VkPhysicalDevice pd)
{
    uint32_t n = 0;
    vkl.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    VkQueueFamilyProperties fams[16];
    if (n > 16)
        n = 16;
    vkl.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, fams);
    /* A compute family without graphics is often the faster async queue. */
    for (uint32_t i = 0; i < n; i++)
        if ((fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT) &&
            !(fams[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
            return (int)i;
    for (uint32_t i = 0; i < n; i++)
        if (fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
            return (int)i;
    return -1;
}

static enum eng_status create_device(struct vk_ctx *ctx, struct eng_err *err)
{
    enum eng_status status = ENG_STATUS_OK;
    int family = find_compute_queue(ctx->physical);
    if (family < 0)
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED, "Vulkan device %s has no compute queue",
                           ctx->desc.name);
    ctx->queue_family = (uint32_t)family;
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                  .queueFamilyIndex = ctx->queue_family, .queueCount = 1,
                                  .pQueuePriorities = &priority};
    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
        .storageBuffer8BitAccess = VK_TRUE, .shaderFloat16 = ctx->desc.has_fp16};
    VkPhysicalDeviceVulkan11Features f11 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, .pNext = &f12,
        .storageBuffer16BitAccess = VK_TRUE};
    VkDeviceCreateInfo di = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .pNext = &f11,
                             .queueCreateInfoCount = 1, .pQueueCreateInfos = &qi};
    VK_CHECK(vkl.vkCreateDevice(ctx->physical, &di, NULL, &ctx->device),
             ENG_STATUS_ERR_UNSUPPORTED);
    vkl.vkGetDeviceQueue(ctx->device, ctx->queue_family, 0, &ctx->queue);
fail:
    return status;
}

static enum eng_status create_command_objects(struct vk_ctx *ctx, struct eng_err *err)
{
    enum eng_status status = ENG_STATUS_OK;
    VkCommandPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                  .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
                                  .queueFamilyIndex = ctx->queue_family};
    VK_CHECK(vkl.vkCreateCommandPool(ctx->device, &pi, NULL, &ctx->cmd_pool),
             ENG_STATUS_ERR_UNSUPPORTED);
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = ctx->cmd_pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    VK_CHECK(vkl.vkAllocateCommandBuffers(ctx->device, &ai, &ctx->cmd), ENG_STATUS_ERR_UNSUPPORTED);
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VK_CHECK(vkl.vkCreateFence(ctx->device, &fi, NULL, &ctx->fence), ENG_STATUS_ERR_UNSUPPORTED);
fail:
    return status;
}

enum eng_status vk_ctx_new(int index, struct vk_ctx **out, struct eng_err *err)
{
    *out = NULL;
    uint32_t n = 0;
    VkPhysicalDevice *pds = physical_devices(&n, err);
    if (!vkl.instance)
        return ENG_STATUS_ERR_UNSUPPORTED;
    if (index < 0 || (uint32_t)index >= n) {
        free(pds);
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "Vulkan device %d does not exist (%u found)",
                           index, n);
    }
    struct vk_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        free(pds);
        return eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
    }
    ctx->physical = pds[index];
    free(pds);
    describe_device(ctx->physical, &ctx->desc);
    enum eng_status status = ENG_STATUS_OK;
    if (!ctx->desc.usable) {
        status = eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED, "Vulkan device %d (%s) %s", index,
                             ctx->desc.name, ctx->desc.why_unusable);
        goto fail;
    }
    VkPhysicalDeviceProperties props;
    vkl.vkGetPhysicalDeviceProperties(ctx->physical, &props);
    vkl.vkGetPhysicalDeviceMemoryProperties(ctx->physical, &ctx->mem_props);
    ctx->offset_align = props.limits.minStorageBufferOffsetAlignment;
    if (ctx->offset_align < 16)
        ctx->offset_align = 16;
    /* Keep byte indices within 32 bits in shaders, whatever the device says. */
    ctx->max_binding = min_u64(ctx->desc.max_storage_range, 0xffffffffull & ~0xffull);
    ctx->max_alloc = min_u64(ctx->desc.max_alloc_bytes ? ctx->desc.max_alloc_bytes : (1ull << 30),
                             1ull << 32);
    apply_test_limits(ctx);
    ctx->pipelines = calloc(VK_PIPELINE_SLOTS, sizeof *ctx->pipelines);
    ctx->sets = calloc(VK_SET_SLOTS, sizeof *ctx->sets);
    if (!ctx->pipelines || !ctx->sets) {
        status = eng_set_err(err, ENG_STATUS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((status = create_device(ctx, err)) || (status = create_pipeline_cache(ctx, err)) ||
        (status = create_layouts(ctx, err)) || (status = create_command_objects(ctx, err)) ||
        (status = vk_buf_new(ctx, min_u64(VK_STAGING_BYTES, ctx->max_alloc), VK_MEM_HOST,
                             &ctx->staging, err)))
        goto fail;
    *out = ctx;
    return ENG_STATUS_OK;
fail:
    vk_ctx_free(&ctx);
    return status;
}

void vk_ctx_free(struct vk_ctx **pctx)
{
    struct vk_ctx *ctx = pctx ? *pctx : NULL;
    if (!ctx)
        return;
    if (ctx->device) {
        vkl.vkDeviceWaitIdle(ctx->device);
        save_pipeline_cache(ctx);
        vk_buf_free(ctx, &ctx->staging);
        for (int i = 0; ctx->pipelines && i < VK_PIPELINE_SLOTS; i++)
            if (ctx->pipelines[i].pipeline)
                vkl.vkDestroyPipeline(ctx->device, ctx->pipelines[i].pipeline, NULL);
        for (int i = 0; i < ctx->n_pools; i++)
            vkl.vkDestroyDescriptorPool(ctx->device, ctx->pools[i], NULL);
        for (int n = 1; n <= VK_MAX_BINDINGS; n++) {
            if (ctx->pipeline_layouts[n])
                vkl.vkDestroyPipelineLayout(ctx->device, ctx->pipeline_layouts[n], NULL);
            if (ctx->set_layouts[n])
                vkl.vkDestroyDescriptorSetLayout(ctx->device, ctx->set_layouts[n], NULL);
        }
        if (ctx->pipeline_cache)
            vkl.vkDestroyPipelineCache(ctx->device, ctx->pipeline_cache, NULL);
        if (ctx->fence)
            vkl.vkDestroyFence(ctx->device, ctx->fence, NULL);
        if (ctx->cmd_pool)
            vkl.vkDestroyCommandPool(ctx->device, ctx->cmd_pool, NULL);
        vkl.vkDestroyDevice(ctx->device, NULL);
    }
    free(ctx->pipelines);
    free(ctx->sets);
    free(ctx);
    *pctx = NULL;
}

/* ---- buffers -------------------------------------------------------------- */

/* A memory type allowed by type_bits with all of `want` (and, among those,
 * one with `prefer` too), or -1. */
static int pick_memory_type(const struct vk_ctx *ctx, uint32_t type_bits,
                            VkMemoryPropertyFlags want, VkMemoryPropertyFlags prefer)
{
    int fallback = -1;
    for (uint32_t i = 0; i < ctx->mem_props.memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = ctx->mem_props.memoryTypes[i].propertyFlags;
        if (!(type_bits & (1u << i)) || (f & want) != want)
            continue;
        if ((f & prefer) == prefer)
            return (int)i;
        if (fallback < 0)
            fallback = (int)i;
    }
    return fallback;
}

enum eng_status vk_buf_new(struct vk_ctx *ctx, uint64_t size, enum vk_mem kind,
                           struct vk_buf *out, struct eng_err *err)
{
    enum eng_status status = ENG_STATUS_OK;
    memset(out, 0, sizeof *out);
    if (size == 0)
        size = 16;
    if (size > ctx->max_alloc)
        return eng_set_err(err, ENG_STATUS_ERR_ARG,
                           "Vulkan: a %.1f MiB buffer exceeds the device's %.1f MiB allocation "
                           "limit", size / 1048576.0, ctx->max_alloc / 1048576.0);
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size,
                             .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                                      VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                      VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                             .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VK_CHECK(vkl.vkCreateBuffer(ctx->device, &bi, NULL, &out->buffer), ENG_STATUS_ERR_NOMEM);
    VkMemoryRequirements req;
    vkl.vkGetBufferMemoryRequirements(ctx->device, out->buffer, &req);
    int type = kind == VK_MEM_DEVICE
                   ? pick_memory_type(ctx, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0)
                   : pick_memory_type(ctx, req.memoryTypeBits,
                                      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                          VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                                      VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (type < 0 && kind == VK_MEM_DEVICE)
        type = pick_memory_type(ctx, req.memoryTypeBits, 0, 0);
    if (type < 0) {
        status = eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED,
                             "Vulkan device %s has no suitable memory type", ctx->desc.name);
        goto fail;
    }
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                               .allocationSize = req.size, .memoryTypeIndex = (uint32_t)type};
    VkResult r = ctx->memory_limit && ctx->allocated + req.size > ctx->memory_limit
                     ? VK_ERROR_OUT_OF_DEVICE_MEMORY
                     : vkl.vkAllocateMemory(ctx->device, &ai, NULL, &out->memory);
    if (r != VK_SUCCESS) {
        status = eng_set_err(err, ENG_STATUS_ERR_NOMEM,
                             "out of device memory: %.1f MiB more were asked for with %.1f MiB "
                             "in use (%s)",
                             req.size / 1048576.0, ctx->allocated / 1048576.0, vk_result_name(r));
        out->memory = VK_NULL_HANDLE;
        goto fail;
    }
    VK_CHECK(vkl.vkBindBufferMemory(ctx->device, out->buffer, out->memory, 0),
             ENG_STATUS_ERR_NOMEM);
    if (kind == VK_MEM_HOST)
        VK_CHECK(vkl.vkMapMemory(ctx->device, out->memory, 0, VK_WHOLE_SIZE, 0, &out->mapped),
                 ENG_STATUS_ERR_NOMEM);
    out->size = size;
    out->id = ++ctx->next_buf_id;
    ctx->allocated += req.size;
    return ENG_STATUS_OK;
fail:
    if (out->memory)
        vkl.vkFreeMemory(ctx->device, out->memory, NULL);
    if (out->buffer)
        vkl.vkDestroyBuffer(ctx->device, out->buffer, NULL);
    memset(out, 0, sizeof *out);
    return status;
}

void vk_buf_free(struct vk_ctx *ctx, struct vk_buf *b)
{
    if (!b || !b->buffer)
        return;
    VkMemoryRequirements req;
    vkl.vkGetBufferMemoryRequirements(ctx->device, b->buffer, &req);
    ctx->allocated -= req.size < ctx->allocated ? req.size : ctx->allocated;
    vkl.vkDestroyBuffer(ctx->device, b->buffer, NULL);
    vkl.vkFreeMemory(ctx->device, b->memory, NULL); /* unmaps too */
    memset(b, 0, sizeof *b);
}

/* Copy n bytes between the staging buffer and `dev` at offset, in chunks. */
static enum eng_status staged_copy(struct vk_ctx *ctx, const struct vk_buf *dev, uint64_t offset,
                                   void *host, uint64_t n, bool to_device, struct eng_err *err)
{
    ENG_ASSERT(!ctx->recording);
    if (offset > dev->size || n > dev->size - offset)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "Vulkan: copy of %llu bytes at %llu "
                           "exceeds a %llu-byte buffer", (unsigned long long)n,
                           (unsigned long long)offset, (unsigned long long)dev->size);
    for (uint64_t done = 0; done < n;) {
        uint64_t chunk = min_u64(n - done, ctx->staging.size);
        struct vk_view staged = vk_view_sub(&ctx->staging, 0, chunk);
        struct vk_view device = vk_view_sub(dev, offset + done, chunk);
        if (to_device)
            memcpy(ctx->staging.mapped, (const uint8_t *)host + done, chunk);
        vk_cmd_begin(ctx);
        vk_cmd_copy(ctx, to_device ? staged : device, to_device ? device : staged);
        enum eng_status st = vk_cmd_submit(ctx, err);
        if (st)
            return st;
        if (!to_device)
            memcpy((uint8_t *)host + done, ctx->staging.mapped, chunk);
        done += chunk;
    }
    return ENG_STATUS_OK;
}

enum eng_status vk_upload(struct vk_ctx *ctx, const struct vk_buf *dst, uint64_t offset,
                          const void *src, uint64_t n, struct eng_err *err)
{
    return staged_copy(ctx, dst, offset, (void *)(uintptr_t)src, n, true, err);
}

enum eng_status vk_download(struct vk_ctx *ctx, const struct vk_buf *src, uint64_t offset,
                            void *dst, uint64_t n, struct eng_err *err)
{
    return staged_copy(ctx, src, offset, dst, n, false, err);
}

/* ---- pipelines ------------------------------------------------------------ */

static const struct vk_shader_blob *find_shader(const char *name)
{
    int lo = 0, hi = vk_n_shader_blobs - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(name, vk_shader_blobs[mid].name);
        if (c == 0)
            return &vk_shader_blobs[mid];
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Record the first error of a recording batch. */
static void record_error(struct vk_ctx *ctx, enum eng_status st, const struct eng_err *err)
{
    if (ctx->record_status == ENG_STATUS_OK) {
        ctx->record_status = st;
        ctx->record_err = *err;
    }
}

static VkPipeline build_pipeline(struct vk_ctx *ctx, const struct vk_dispatch *d,
                                 struct eng_err *err)
{
    enum eng_status status = ENG_STATUS_OK;
    VkShaderModule module = VK_NULL_HANDLE;
    VkPipeline pipeline = VK_NULL_HANDLE;
    const struct vk_shader_blob *blob = find_shader(d->shader);
    if (!blob) {
        eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED, "Vulkan: no shader named %s", d->shader);
        return VK_NULL_HANDLE;
    }
    VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                   .codeSize = blob->size, .pCode = blob->code};
    VK_CHECK(vkl.vkCreateShaderModule(ctx->device, &mi, NULL, &module),
             ENG_STATUS_ERR_UNSUPPORTED);
    VkSpecializationMapEntry entries[VK_MAX_SPEC];
    for (int i = 0; i < d->n_spec; i++)
        entries[i] = (VkSpecializationMapEntry){.constantID = (uint32_t)i,
                                                .offset = (uint32_t)(i * sizeof(uint32_t)),
                                                .size = sizeof(uint32_t)};
    VkSpecializationInfo spec = {.mapEntryCount = (uint32_t)d->n_spec, .pMapEntries = entries,
                                 .dataSize = d->n_spec * sizeof(uint32_t), .pData = d->spec};
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = module, .pName = "main",
                  .pSpecializationInfo = d->n_spec ? &spec : NULL},
        .layout = ctx->pipeline_layouts[d->n_bindings]};
    VK_CHECK(vkl.vkCreateComputePipelines(ctx->device, ctx->pipeline_cache, 1, &ci, NULL,
                                          &pipeline),
             ENG_STATUS_ERR_UNSUPPORTED);
    ctx->cache_dirty = true;
fail:
    (void)status;
    if (module)
        vkl.vkDestroyShaderModule(ctx->device, module, NULL);
    return pipeline;
}

/* The pipeline for a dispatch's shader and constants, built on first use. */
static VkPipeline get_pipeline(struct vk_ctx *ctx, const struct vk_dispatch *d,
                               struct eng_err *err)
{
    char key[96];
    int len = snprintf(key, sizeof key, "%s", d->shader);
    for (int i = 0; i < d->n_spec && len < (int)sizeof key; i++)
        len += snprintf(key + len, sizeof key - (size_t)len, "/%u", d->spec[i]);
    ENG_ASSERT(len < (int)sizeof key);
    uint64_t h = eng_hash_bytes(key, (size_t)len);
    for (uint32_t probe = 0; probe < VK_PIPELINE_SLOTS; probe++) {
        struct vk_pipeline *p = &ctx->pipelines[(h + probe) & (VK_PIPELINE_SLOTS - 1)];
        if (p->pipeline && strcmp(p->key, key) == 0) {
            ENG_ASSERT(p->n_bindings == d->n_bindings);
            return p->pipeline;
        }
        if (!p->pipeline) {
            p->pipeline = build_pipeline(ctx, d, err);
            if (p->pipeline) {
                memcpy(p->key, key, (size_t)len + 1);
                p->n_bindings = d->n_bindings;
            }
            return p->pipeline;
        }
    }
    eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED, "Vulkan: too many pipelines");
    return VK_NULL_HANDLE;
}

/* ---- descriptor sets ------------------------------------------------------ */

/* Sets are keyed by buffer ids, never by VkBuffer handles: a driver may hand
 * out a freed buffer's handle again, and a set cached for the old buffer
 * would then bind freed memory. */

static uint64_t hash_bindings(const struct vk_dispatch *d)
{
    uint64_t key[3 * VK_MAX_BINDINGS + 1];
    key[0] = (uint64_t)d->n_bindings;
    for (int i = 0; i < d->n_bindings; i++) {
        key[1 + 3 * i] = d->bindings[i].buf->id;
        key[2 + 3 * i] = d->bindings[i].offset;
        key[3 + 3 * i] = d->bindings[i].range;
    }
    return eng_hash_bytes((const char *)key, sizeof(uint64_t) * (1 + 3 * (size_t)d->n_bindings));
}

static bool same_bindings(const struct vk_set_entry *e, const struct vk_dispatch *d)
{
    if (e->n_bindings != d->n_bindings)
        return false;
    for (int i = 0; i < d->n_bindings; i++)
        if (e->buf_ids[i] != d->bindings[i].buf->id || e->offsets[i] != d->bindings[i].offset ||
            e->ranges[i] != d->bindings[i].range)
            return false;
    return true;
}

/* Forget every cached set and reset the pools (only between batches). */
static void reset_descriptor_sets(struct vk_ctx *ctx)
{
    for (int i = 0; i < ctx->n_pools; i++)
        vkl.vkResetDescriptorPool(ctx->device, ctx->pools[i], 0);
    memset(ctx->sets, 0, sizeof *ctx->sets * VK_SET_SLOTS);
    ctx->n_sets = 0;
    ctx->n_sets_in_last_pool = ctx->n_pools ? 0 : VK_SETS_PER_POOL;
    if (ctx->n_pools > 1) { /* keep the first pool only */
        for (int i = 1; i < ctx->n_pools; i++)
            vkl.vkDestroyDescriptorPool(ctx->device, ctx->pools[i], NULL);
        ctx->n_pools = 1;
    }
}

static VkDescriptorSet allocate_set(struct vk_ctx *ctx, int n_bindings, struct eng_err *err)
{
    enum eng_status status = ENG_STATUS_OK;
    VkDescriptorSet set = VK_NULL_HANDLE;
    if (ctx->n_pools == 0 || ctx->n_sets_in_last_pool == VK_SETS_PER_POOL) {
        if (ctx->n_pools == VK_MAX_POOLS) {
            eng_set_err(err, ENG_STATUS_ERR_NOMEM, "Vulkan: out of descriptor pools");
            return VK_NULL_HANDLE;
        }
        VkDescriptorPoolSize size = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                     .descriptorCount = VK_SETS_PER_POOL * VK_MAX_BINDINGS};
        VkDescriptorPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                         .maxSets = VK_SETS_PER_POOL, .poolSizeCount = 1,
                                         .pPoolSizes = &size};
        VK_CHECK(vkl.vkCreateDescriptorPool(ctx->device, &pi, NULL, &ctx->pools[ctx->n_pools]),
                 ENG_STATUS_ERR_NOMEM);
        ctx->n_pools++;
        ctx->n_sets_in_last_pool = 0;
    }
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = ctx->pools[ctx->n_pools - 1],
                                      .descriptorSetCount = 1,
                                      .pSetLayouts = &ctx->set_layouts[n_bindings]};
    VK_CHECK(vkl.vkAllocateDescriptorSets(ctx->device, &ai, &set), ENG_STATUS_ERR_NOMEM);
    ctx->n_sets_in_last_pool++;
fail:
    (void)status;
    return set;
}

/* The descriptor set for a dispatch's bindings: cached, since a forward pass
 * binds the same views token after token. */
static VkDescriptorSet get_descriptor_set(struct vk_ctx *ctx, const struct vk_dispatch *d,
                                          struct eng_err *err)
{
    uint64_t h = hash_bindings(d);
    struct vk_set_entry *e = NULL;
    for (uint32_t probe = 0; probe < VK_SET_SLOTS; probe++) {
        e = &ctx->sets[(h + probe) & (VK_SET_SLOTS - 1)];
        if (!e->set)
            break;
        if (e->hash == h && same_bindings(e, d))
            return e->set;
    }
    VkDescriptorSet set = allocate_set(ctx, d->n_bindings, err);
    if (!set)
        return VK_NULL_HANDLE;
    VkDescriptorBufferInfo infos[VK_MAX_BINDINGS];
    VkWriteDescriptorSet writes[VK_MAX_BINDINGS];
    for (int i = 0; i < d->n_bindings; i++) {
        infos[i] = (VkDescriptorBufferInfo){.buffer = d->bindings[i].buf->buffer,
                                            .offset = d->bindings[i].offset,
                                            .range = d->bindings[i].range};
        writes[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                           .dstSet = set, .dstBinding = (uint32_t)i,
                                           .descriptorCount = 1,
                                           .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                           .pBufferInfo = &infos[i]};
    }
    vkl.vkUpdateDescriptorSets(ctx->device, (uint32_t)d->n_bindings, writes, 0, NULL);
    *e = (struct vk_set_entry){.hash = h, .n_bindings = d->n_bindings, .set = set};
    for (int i = 0; i < d->n_bindings; i++) {
        e->buf_ids[i] = d->bindings[i].buf->id;
        e->offsets[i] = d->bindings[i].offset;
        e->ranges[i] = d->bindings[i].range;
    }
    ctx->n_sets++;
    return set;
}

/* ---- recording ------------------------------------------------------------ */

void vk_cmd_begin(struct vk_ctx *ctx)
{
    ENG_ASSERT(!ctx->recording);
    /* Cached sets are only reset between batches, when none is in use. */
    if (ctx->n_sets > VK_SET_SLOTS / 4 * 3 ||
        (ctx->n_pools == VK_MAX_POOLS && ctx->n_sets_in_last_pool > VK_SETS_PER_POOL / 2))
        reset_descriptor_sets(ctx);
    vkl.vkResetCommandPool(ctx->device, ctx->cmd_pool, 0);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VkResult r = vkl.vkBeginCommandBuffer(ctx->cmd, &bi);
    ctx->recording = true;
    ctx->record_status = ENG_STATUS_OK;
    ctx->n_written = ctx->n_read = 0;
    if (r != VK_SUCCESS) {
        struct eng_err e;
        eng_set_err(&e, ENG_STATUS_ERR_UNSUPPORTED, "Vulkan: vkBeginCommandBuffer failed with %s",
                    vk_result_name(r));
        record_error(ctx, ENG_STATUS_ERR_UNSUPPORTED, &e);
    }
}

static bool overlaps(const struct vk_range *list, int n, const struct vk_range *r)
{
    for (int i = 0; i < n; i++)
        if (list[i].buffer == r->buffer && list[i].begin < r->end && r->begin < list[i].end)
            return true;
    return false;
}

/* Add r to a list, merging with a range of the same buffer that touches it. */
static bool remember_range(struct vk_range *list, int *n, const struct vk_range *r)
{
    for (int i = 0; i < *n; i++) {
        if (list[i].buffer == r->buffer && list[i].begin <= r->end && r->begin <= list[i].end) {
            list[i].begin = list[i].begin < r->begin ? list[i].begin : r->begin;
            list[i].end = list[i].end > r->end ? list[i].end : r->end;
            return true;
        }
    }
    if (*n == VK_MAX_RANGES)
        return false;
    list[(*n)++] = *r;
    return true;
}

/* Make earlier shader and transfer writes visible to, and earlier reads
 * finished before, everything recorded after this point. */
static void record_barrier(struct vk_ctx *ctx)
{
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                           VK_ACCESS_TRANSFER_READ_BIT |
                                           VK_ACCESS_TRANSFER_WRITE_BIT};
    VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    vkl.vkCmdPipelineBarrier(ctx->cmd, stages, stages, 0, 1, &mb, 0, NULL, 0, NULL);
    ctx->n_written = ctx->n_read = 0;
    ctx->n_barriers++;
}

/* Insert a barrier if this access conflicts with the ones since the last
 * barrier (read after write, write after write, write after read), then
 * remember the access. */
static void track_accesses(struct vk_ctx *ctx, const struct vk_view *views, const bool *writes,
                           int n)
{
    bool need = false;
    for (int i = 0; i < n && !need; i++) {
        struct vk_range r = {views[i].buf->buffer, views[i].offset,
                             views[i].offset + views[i].range};
        need = overlaps(ctx->written, ctx->n_written, &r) ||
               (writes[i] && overlaps(ctx->read, ctx->n_read, &r));
    }
    if (need)
        record_barrier(ctx);
    for (int i = 0; i < n; i++) {
        struct vk_range r = {views[i].buf->buffer, views[i].offset,
                             views[i].offset + views[i].range};
        bool kept = writes[i] ? remember_range(ctx->written, &ctx->n_written, &r)
                              : remember_range(ctx->read, &ctx->n_read, &r);
        if (!kept) { /* the lists are full: a barrier empties them */
            record_barrier(ctx);
            i = -1;
        }
    }
}

static bool view_ok(const struct vk_ctx *ctx, const struct vk_view *v)
{
    return v->buf && v->buf->buffer && v->offset % ctx->offset_align == 0 && v->range > 0 &&
           v->range <= ctx->max_binding && v->offset + v->range <= v->buf->size;
}

void vk_cmd_dispatch(struct vk_ctx *ctx, const struct vk_dispatch *d)
{
    ENG_ASSERT(ctx->recording);
    ENG_ASSERT(d->n_bindings >= 1 && d->n_bindings <= VK_MAX_BINDINGS);
    ENG_ASSERT(d->push_size <= VK_MAX_PUSH_BYTES && d->n_spec <= VK_MAX_SPEC);
    for (int i = 0; i < d->n_bindings; i++)
        ENG_ASSERT(view_ok(ctx, &d->bindings[i]));
    if (ctx->record_status)
        return;
    struct eng_err err;
    VkPipeline pipeline = get_pipeline(ctx, d, &err);
    VkDescriptorSet set = pipeline ? get_descriptor_set(ctx, d, &err) : VK_NULL_HANDLE;
    if (!pipeline || !set) {
        record_error(ctx, ENG_STATUS_ERR_UNSUPPORTED, &err);
        return;
    }
    track_accesses(ctx, d->bindings, d->writes, d->n_bindings);
    VkPipelineLayout layout = ctx->pipeline_layouts[d->n_bindings];
    vkl.vkCmdBindPipeline(ctx->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    vkl.vkCmdBindDescriptorSets(ctx->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, 1, &set, 0,
                                NULL);
    if (d->push_size)
        vkl.vkCmdPushConstants(ctx->cmd, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, d->push_size,
                               d->push);
    vkl.vkCmdDispatch(ctx->cmd, d->groups[0] ? d->groups[0] : 1, d->groups[1] ? d->groups[1] : 1,
                      d->groups[2] ? d->groups[2] : 1);
    ctx->n_dispatches++;
}

void vk_cmd_copy(struct vk_ctx *ctx, struct vk_view src, struct vk_view dst)
{
    ENG_ASSERT(ctx->recording);
    ENG_ASSERT(src.range == dst.range && src.offset + src.range <= src.buf->size &&
               dst.offset + dst.range <= dst.buf->size);
    if (ctx->record_status)
        return;
    struct vk_view views[2] = {src, dst};
    bool writes[2] = {false, true};
    track_accesses(ctx, views, writes, 2);
    VkBufferCopy region = {.srcOffset = src.offset, .dstOffset = dst.offset, .size = src.range};
    vkl.vkCmdCopyBuffer(ctx->cmd, src.buf->buffer, dst.buf->buffer, 1, &region);
}

enum eng_status vk_cmd_submit(struct vk_ctx *ctx, struct eng_err *err)
{
    enum eng_status status = ENG_STATUS_OK;
    ENG_ASSERT(ctx->recording);
    ctx->recording = false;
    /* Make the device's writes visible to the host's reads after the wait. */
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    vkl.vkCmdPipelineBarrier(ctx->cmd,
                             VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                             VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    VK_CHECK(vkl.vkEndCommandBuffer(ctx->cmd), ENG_STATUS_ERR_UNSUPPORTED);
    if (ctx->record_status) {
        if (err)
            *err = ctx->record_err;
        return ctx->record_status;
    }
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                       .pCommandBuffers = &ctx->cmd};
    VK_CHECK(vkl.vkResetFences(ctx->device, 1, &ctx->fence), ENG_STATUS_ERR_UNSUPPORTED);
    VK_CHECK(vkl.vkQueueSubmit(ctx->queue, 1, &si, ctx->fence), ENG_STATUS_ERR_UNSUPPORTED);
    VK_CHECK(vkl.vkWaitForFences(ctx->device, 1, &ctx->fence, VK_TRUE, UINT64_MAX),
             ENG_STATUS_ERR_UNSUPPORTED);
fail:
    return status;
}
