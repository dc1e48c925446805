/* cmd-image.c: `wenshu-cli image FILE... [--max-pixels N] [-o OUT.ppm]`:
 * decode images as the vision models receive them (EXIF orientation
 * applied, 8-bit RGB), print each one's size, and optionally write the
 * pixels as a binary PPM so that tests can compare them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bool parse_pixel_count(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v == 0)
        return false;
    *out = v;
    return true;
}

int cmd_image(int argc, char **argv)
{
    struct eng_image_params params = eng_image_params_default();
    const char *out_path = NULL;
    const char *files[256];
    int n_files = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool missing = false;
        if (cli_opt(argc, argv, &i, "-o", "--output", &v, &missing)) {
            if (missing)
                return 2;
            out_path = v;
        } else if (cli_opt(argc, argv, &i, NULL, "--max-pixels", &v, &missing)) {
            if (missing)
                return 2;
            if (!parse_pixel_count(v, &params.max_pixels))
                return cli_fail("bad value for --max-pixels: %s", v), 2;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail("image: unknown option %s", argv[i]), 2;
        } else if (n_files < (int)(sizeof files / sizeof files[0])) {
            files[n_files++] = argv[i];
        } else {
            return cli_fail("image: at most %zu files", sizeof files / sizeof files[0]), 2;
        }
    }
    if (n_files == 0)
        return cli_fail("image: no file given (image FILE... [--max-pixels N] [-o OUT.ppm])"), 2;
    if (out_path && n_files != 1)
        return cli_fail("image: -o takes exactly one input file"), 2;

    int n_failed = 0;
    for (int i = 0; i < n_files; i++) {
        struct eng_image *image = NULL;
        struct eng_err err = {{0}};
        enum eng_status status = eng_image_load(files[i], &params, &image, &err);
        if (status != ENG_STATUS_OK) {
            cli_fail("%s (%s)", err.msg, eng_status_name(status));
            n_failed++;
            continue;
        }
        printf("%s: %dx%d\n", files[i], image->width, image->height);
        if (out_path && cli_write_ppm(image, out_path) != 0)
            n_failed++;
        eng_image_free(&image);
    }
    return n_failed ? 1 : 0;
}
