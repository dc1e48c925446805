/* device.c: where a model runs. Lists Vulkan devices for front ends, picks
 * one for eng_model_load(), and falls back to the CPU with a notice when
 * ENG_DEVICE_AUTO finds no GPU that can hold the model. Apart from
 * session.c's hand-over to vk-model.c, the one file that knows whether the
 * build has the Vulkan backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "model.h"
#ifdef WENSHU_HAVE_VULKAN
#include "vulkan/vk-model.h"
#include "vulkan/vk.h"
#endif

#define MAX_DEVICES 16

bool eng_device_parse(const char *text, int *device)
{
    char *end = NULL;
    if (strcmp(text, "auto") == 0)
        *device = ENG_DEVICE_AUTO;
    else if (strcmp(text, "cpu") == 0)
        *device = ENG_DEVICE_CPU;
    else if (strcmp(text, "vulkan") == 0 || strcmp(text, "gpu") == 0)
        *device = ENG_DEVICE_VULKAN;
    else {
        long index = strtol(text, &end, 10);
        if (end == text || *end || index < 0 || index >= MAX_DEVICES)
            return false;
        *device = ENG_DEVICE_INDEX((int)index);
    }
    return true;
}

#ifdef WENSHU_HAVE_VULKAN
static void copy_info(const struct vk_device_desc *d, struct eng_device_info *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->name, sizeof o->name, "%.255s", d->name);
    snprintf(o->type, sizeof o->type, "%s", d->type);
    snprintf(o->driver, sizeof o->driver, "%s", d->driver);
    o->vendor_id = d->vendor_id;
    o->device_id = d->device_id;
    o->memory_bytes = d->device_local_bytes;
    o->max_alloc_bytes = d->max_alloc_bytes;
    o->max_binding_bytes = d->max_storage_range;
    o->max_workgroup_invocations = d->max_workgroup_invocations;
    o->max_shared_bytes = d->max_shared_bytes;
    o->subgroup_size = d->subgroup_size;
    o->usable = d->usable;
    snprintf(o->why_unusable, sizeof o->why_unusable, "%s", d->why_unusable);
}

int eng_devices_list(struct eng_device_info *out, int max, struct eng_err *err)
{
    struct vk_device_desc descs[MAX_DEVICES];
    int n = vk_devices_list(descs, MAX_DEVICES, err);
    int n_known = n < MAX_DEVICES ? n : MAX_DEVICES;
    int pick = n_known > 0 ? vk_device_pick(descs, n_known, false) : -1;
    for (int i = 0; out && i < n_known && i < max; i++) {
        copy_info(&descs[i], &out[i]);
        out[i].auto_choice = i == pick;
    }
    return n;
}

/* Fall back to the CPU (AUTO) with the reason in notice[notice_size], or
 * fail (a device asked for by name). */
static enum eng_status no_gpu(char *notice, size_t notice_size, int device, enum eng_status st,
                              const char *why, struct eng_err *err)
{
    if (device != ENG_DEVICE_AUTO)
        return eng_set_err(err, st, "%s", why);
    snprintf(notice, notice_size, "%.480s; running on the CPU", why);
    return ENG_STATUS_OK;
}

enum eng_status device_choose(struct eng_model *m, int device, int *index,
                              struct eng_err *err)
{
    return device_choose_index(device, index, m->device_notice, sizeof m->device_notice, err);
}

enum eng_status device_choose_index(int device, int *index, char *notice, size_t notice_size,
                                    struct eng_err *err)
{
    *index = -1;
    if (device == ENG_DEVICE_CPU)
        return ENG_STATUS_OK;
    struct eng_err e = {{0}};
    struct vk_device_desc descs[MAX_DEVICES];
    int n = vk_devices_list(descs, MAX_DEVICES, &e);
    if (n < 0)
        return no_gpu(notice, notice_size, device, ENG_STATUS_ERR_UNSUPPORTED, e.msg, err);
    if (n > MAX_DEVICES)
        n = MAX_DEVICES;
    int pick = device > 0 ? device - 1 : vk_device_pick(descs, n, device == ENG_DEVICE_VULKAN);
    if (pick >= n)
        return eng_set_err(err, ENG_STATUS_ERR_ARG, "Vulkan device %d does not exist (%d found)",
                           pick, n);
    if (pick < 0) {
        int n_cpu = 0;
        for (int i = 0; i < n; i++)
            n_cpu += descs[i].vk_type == VK_PHYSICAL_DEVICE_TYPE_CPU;
        char why[256];
        if (n_cpu && device == ENG_DEVICE_AUTO)
            snprintf(why, sizeof why, "no Vulkan GPU found (%d software device%s skipped: "
                     "--device vulkan uses %s)", n_cpu, n_cpu > 1 ? "s" : "",
                     n_cpu > 1 ? "them" : "it");
        else
            snprintf(why, sizeof why, "no usable Vulkan device found (%d listed)", n);
        return no_gpu(notice, notice_size, device, ENG_STATUS_ERR_UNSUPPORTED, why, err);
    }
    *index = pick;
    return ENG_STATUS_OK;
}

enum eng_status device_upload(struct eng_model *m, int device, int index,
                              eng_progress_fn progress, void *progress_user_data,
                              struct eng_err *err)
{
    struct eng_err e = {{0}};
    enum eng_status st = vk_model_new(m, index, progress, progress_user_data, &m->gpu, &e);
    if (st) {
        char why[1200];
        snprintf(why, sizeof why, "%s: Vulkan device %d: %s", m->gguf->path, index, e.msg);
        return no_gpu(m->device_notice, sizeof m->device_notice, device, st, why, err);
    }
    snprintf(m->device_name, sizeof m->device_name, "%s", vk_model_device_name(m->gpu));
    m->device_bytes = vk_model_device_bytes(m->gpu);
    /* The CPU no longer reads the weights: let their pages go. */
    gguf_drop_resident_data(m->gguf);
    return ENG_STATUS_OK;
}

void device_detach(struct eng_model *m)
{
    vk_model_free(&m->gpu);
}
#else /* no Vulkan in this build */
int eng_devices_list(struct eng_device_info *out, int max, struct eng_err *err)
{
    (void)out;
    (void)max;
    eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED, "this build has no Vulkan backend");
    return -1;
}

enum eng_status device_choose_index(int device, int *index, char *notice, size_t notice_size,
                                    struct eng_err *err)
{
    *index = -1;
    if (device == ENG_DEVICE_CPU)
        return ENG_STATUS_OK;
    if (device != ENG_DEVICE_AUTO)
        return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED, "this build has no Vulkan backend");
    snprintf(notice, notice_size, "this build has no Vulkan backend; running on the CPU");
    return ENG_STATUS_OK;
}

enum eng_status device_choose(struct eng_model *m, int device, int *index,
                              struct eng_err *err)
{
    return device_choose_index(device, index, m->device_notice, sizeof m->device_notice, err);
}

enum eng_status device_upload(struct eng_model *m, int device, int index,
                              eng_progress_fn progress, void *progress_user_data,
                              struct eng_err *err)
{
    (void)m;
    (void)device;
    (void)index;
    (void)progress;
    (void)progress_user_data;
    return eng_set_err(err, ENG_STATUS_ERR_UNSUPPORTED, "this build has no Vulkan backend");
}

void device_detach(struct eng_model *m)
{
    (void)m;
}
#endif
