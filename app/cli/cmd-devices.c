/* cmd-devices.c: `wenshu-cli devices`: the Vulkan devices, their limits,
 * and which one `--device auto` takes. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define MAX_LISTED 16

static void print_device_json(int i, const struct eng_device_info *d, bool last)
{
    printf("  {\"index\": %d, \"name\": \"%s\", \"type\": \"%s\", \"driver\": \"%s\", "
           "\"memory_bytes\": %llu, \"max_alloc_bytes\": %llu, \"max_binding_bytes\": %llu, "
           "\"max_workgroup_invocations\": %u, \"max_shared_bytes\": %u, \"subgroup_size\": %u, "
           "\"usable\": %s}%s\n",
           i, d->name, d->type, d->driver, (unsigned long long)d->memory_bytes,
           (unsigned long long)d->max_alloc_bytes, (unsigned long long)d->max_binding_bytes,
           d->max_workgroup_invocations, d->max_shared_bytes, d->subgroup_size,
           d->usable ? "true" : "false", last ? "" : ",");
}

static void print_device_text(int i, const struct eng_device_info *d)
{
    printf("%d: %s (%s)\n", i, d->name, d->type);
    printf("   driver %s, vendor 0x%04x device 0x%04x\n", d->driver, d->vendor_id, d->device_id);
    printf("   memory %.0f MiB, allocation %.0f MiB, binding %.0f MiB\n",
           d->memory_bytes / 1048576.0, d->max_alloc_bytes / 1048576.0,
           d->max_binding_bytes / 1048576.0);
    printf("   workgroup %u invocations, %u KiB shared, subgroup %u\n",
           d->max_workgroup_invocations, d->max_shared_bytes / 1024, d->subgroup_size);
    if (!d->usable)
        printf("   not usable: %s\n", d->why_unusable);
}

int cmd_devices(int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else
            return cli_fail("devices: unknown option %s", argv[i]), 2;
    }
    struct eng_device_info devs[MAX_LISTED];
    struct eng_err err = {{0}};
    int n = eng_devices_list(devs, MAX_LISTED, &err);
    int shown = n > MAX_LISTED ? MAX_LISTED : n;
    int pick = -1;
    for (int i = 0; i < shown; i++)
        if (devs[i].auto_choice)
            pick = i;
    if (json) { /* "auto": the index --device auto takes, -1 for the CPU */
        printf("{\"vulkan\": %s, \"auto\": %d, \"devices\": [\n", n < 0 ? "false" : "true",
               pick);
        for (int i = 0; i < shown; i++)
            print_device_json(i, &devs[i], i == shown - 1);
        printf("]}\n");
        return 0;
    }
    if (n < 0)
        printf("no Vulkan: %s\n", err.msg);
    else if (n == 0)
        printf("no Vulkan devices found\n");
    for (int i = 0; i < shown; i++)
        print_device_text(i, &devs[i]);
    if (pick >= 0)
        printf("--device auto runs on %d: %s\n", pick, devs[pick].name);
    else
        printf("--device auto runs on the CPU (no Vulkan GPU; --device N or --device vulkan "
               "forces a listed device)\n");
    return 0;
}
