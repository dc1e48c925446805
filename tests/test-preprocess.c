/* test-preprocess: a driver for tests/test-preprocess.py. It runs the
 * engine's image preprocessing on binary PPM files and writes what it made as
 * .npy files, for the numpy + PIL reference to compare.
 *
 *   test-preprocess qwen OUT_DIR A.ppm [B.ppm] [options]
 *     one image, or a frame pair when B is given. Writes
 *     OUT_DIR/pixels.npy  float32 [grid_t*grid_h*grid_w][patch_dim]
 *     OUT_DIR/resized.npy uint8   [n_frames][h][w][3], the 8-bit resize
 *     and prints "qwen grid_t=T grid_h=H grid_w=W resized=WxH tokens=N".
 *     options: --min-pixels N --max-pixels N --patch N --merge N --temporal N
 *
 *   test-preprocess idefics3 OUT_DIR A.ppm [options]
 *     writes OUT_DIR/pixels.npy float32 [n][3][S][S] and
 *     OUT_DIR/tiles.npy uint8 [n][S][S][3] (before rescale), and prints
 *     "idefics3 rows=R cols=C n_images=N resized=WxH split=WxH
 *      longest_edge=L tokens=T".
 *     options: --longest-edge N --tile N --max-edge N --max-tiles N
 *              --no-split --seq-len N
 *
 *   both: --filter bilinear|bicubic|lanczos  --mean a,b,c  --std a,b,c
 *
 * A refused input prints "error: <status>: <reason>" on stderr and exits 2;
 * bad usage exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/preprocess.h"
#include "media/resample.h"
#include "wenshu-engine.h"

static void die_usage(const char *why)
{
    fprintf(stderr, "test-preprocess: %s\n", why);
    exit(1);
}

/* Read a binary PPM (P6, maxval 255) into a new eng_image. Sizes of 0 are
 * passed through (rgb = NULL) so that the engine's refusal can be tested. */
static struct eng_image *read_ppm(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "test-preprocess: cannot open %s: %s\n", path, strerror(errno));
        exit(1);
    }
    int w = -1, h = -1, maxval = -1;
    if (fscanf(f, "P6 %d %d %d", &w, &h, &maxval) != 3 || w < 0 || h < 0 || maxval != 255 ||
        fgetc(f) == EOF) {
        fprintf(stderr, "test-preprocess: %s is not a P6 PPM with maxval 255\n", path);
        exit(1);
    }
    struct eng_image *im = calloc(1, sizeof(*im));
    if (!im)
        die_usage("out of memory");
    im->width = w;
    im->height = h;
    size_t n = (size_t)w * h * 3;
    if (n > 0) {
        im->rgb = malloc(n);
        if (!im->rgb || fread(im->rgb, 1, n, f) != n) {
            fprintf(stderr, "test-preprocess: %s is truncated\n", path);
            exit(1);
        }
    }
    fclose(f);
    return im;
}

static void free_image(struct eng_image *im)
{
    if (im)
        free(im->rgb);
    free(im);
}

/* Write a C-order .npy (format 1.0) of dtype descr ("<f4" or "|u1"). */
static void write_npy(const char *dir, const char *name, const char *descr, const int *shape,
                      int ndim, const void *data, size_t elem_size)
{
    char path[4096], dims[256] = "", header[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        size_t len = strlen(dims);
        snprintf(dims + len, sizeof(dims) - len, "%d, ", shape[i]);
        count *= (size_t)shape[i];
    }
    int hlen = snprintf(header, sizeof(header),
                        "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, dims);
    /* magic (6) + version (2) + length (2) + header + padding + '\n' = k * 64 */
    int total = 10 + hlen + 1;
    int pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "test-preprocess: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    unsigned short header_len = (unsigned short)(hlen + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(header_len & 0xff, f);
    fputc(header_len >> 8, f);
    fwrite(header, 1, (size_t)hlen, f);
    for (int i = 0; i < pad; i++)
        fputc(' ', f);
    fputc('\n', f);
    if (fwrite(data, elem_size, count, f) != count || fclose(f) != 0) {
        fprintf(stderr, "test-preprocess: short write to %s\n", path);
        exit(1);
    }
}

static int parse_int(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0')
        die_usage("expected an integer");
    return (int)v;
}

static void parse_triple(const char *s, float out[3])
{
    char *end;
    for (int i = 0; i < 3; i++) {
        double v = strtod(s, &end);
        if (end == s || (i < 2 && *end != ',') || (i == 2 && *end != '\0'))
            die_usage("expected three comma-separated numbers");
        out[i] = (float)v; /* double -> float, as numpy's float32 array does */
        s = end + 1;
    }
}

static enum resample_filter parse_filter(const char *s)
{
    if (strcmp(s, "bilinear") == 0)
        return RESAMPLE_BILINEAR;
    if (strcmp(s, "bicubic") == 0)
        return RESAMPLE_BICUBIC;
    if (strcmp(s, "lanczos") == 0)
        return RESAMPLE_LANCZOS;
    die_usage("unknown filter");
    return RESAMPLE_BICUBIC;
}

static int refuse(enum eng_status st, const struct eng_err *err)
{
    fprintf(stderr, "error: %s: %s\n", eng_status_name(st), err->msg);
    return 2;
}

static int run_qwen(const char *out_dir, struct eng_image **frames, int n_frames, int argc,
                    char **argv)
{
    struct qwen_preprocess_params p = qwen_preprocess_params_default();
    for (int i = 0; i < argc; i++) {
        const char *opt = argv[i];
        if (i + 1 >= argc)
            die_usage("an option lacks its value");
        const char *val = argv[++i];
        if (strcmp(opt, "--min-pixels") == 0)
            p.min_pixels = parse_int(val);
        else if (strcmp(opt, "--max-pixels") == 0)
            p.max_pixels = parse_int(val);
        else if (strcmp(opt, "--patch") == 0)
            p.patch_size = parse_int(val);
        else if (strcmp(opt, "--merge") == 0)
            p.merge_size = parse_int(val);
        else if (strcmp(opt, "--temporal") == 0)
            p.temporal_patch_size = parse_int(val);
        else if (strcmp(opt, "--filter") == 0)
            p.resample = parse_filter(val);
        else if (strcmp(opt, "--mean") == 0)
            parse_triple(val, p.image_mean);
        else if (strcmp(opt, "--std") == 0)
            parse_triple(val, p.image_std);
        else
            die_usage("unknown qwen option");
    }

    struct eng_err err = {{0}};
    struct qwen_pixels *px = NULL;
    enum eng_status st =
        qwen_preprocess_frames((const struct eng_image *const *)frames, n_frames, &p, &px, &err);
    if (st != ENG_STATUS_OK)
        return refuse(st, &err);

    /* The 8-bit resize on its own, through the lower-level calls. */
    int rh, rw;
    st = qwen_smart_resize(frames[0]->height, frames[0]->width, &p, &rh, &rw, &err);
    if (st != ENG_STATUS_OK)
        return refuse(st, &err);
    size_t frame_bytes = (size_t)rh * rw * 3;
    uint8_t *resized = malloc(frame_bytes * n_frames); /* [n_frames][rh][rw][3] */
    if (!resized)
        die_usage("out of memory");
    for (int f = 0; f < n_frames; f++) {
        st = resample_rgb8(frames[f]->rgb, frames[f]->width, frames[f]->height,
                           resized + f * frame_bytes, rw, rh, p.resample, &err);
        if (st != ENG_STATUS_OK)
            return refuse(st, &err);
    }

    int n_rows = px->grid_t * px->grid_h * px->grid_w;
    int pix_shape[2] = {n_rows, px->patch_dim};
    write_npy(out_dir, "pixels.npy", "<f4", pix_shape, 2, px->values, sizeof(float));
    int rs_shape[4] = {n_frames, rh, rw, 3};
    write_npy(out_dir, "resized.npy", "|u1", rs_shape, 4, resized, 1);
    printf("qwen grid_t=%d grid_h=%d grid_w=%d resized=%dx%d tokens=%lld\n", px->grid_t,
           px->grid_h, px->grid_w, rw, rh, (long long)qwen_pixels_n_tokens(px));
    free(resized);
    qwen_pixels_free(&px);
    return 0;
}

static int run_idefics3(const char *out_dir, struct eng_image *image, int argc, char **argv)
{
    struct idefics3_preprocess_params p = idefics3_preprocess_params_default();
    int seq_len = 64;
    for (int i = 0; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--no-split") == 0) {
            p.do_image_splitting = false;
            continue;
        }
        if (i + 1 >= argc)
            die_usage("an option lacks its value");
        const char *val = argv[++i];
        if (strcmp(opt, "--longest-edge") == 0)
            p.longest_edge = parse_int(val);
        else if (strcmp(opt, "--tile") == 0)
            p.tile_size = parse_int(val);
        else if (strcmp(opt, "--max-edge") == 0)
            p.max_edge = parse_int(val);
        else if (strcmp(opt, "--max-tiles") == 0)
            p.max_tiles = parse_int(val);
        else if (strcmp(opt, "--seq-len") == 0)
            seq_len = parse_int(val);
        else if (strcmp(opt, "--filter") == 0)
            p.resample = parse_filter(val);
        else if (strcmp(opt, "--mean") == 0)
            parse_triple(val, p.image_mean);
        else if (strcmp(opt, "--std") == 0)
            parse_triple(val, p.image_std);
        else
            die_usage("unknown idefics3 option");
    }

    struct eng_err err = {{0}};
    struct idefics3_pixels *px = NULL;
    enum eng_status st = idefics3_preprocess_image(image, &p, &px, &err);
    if (st != ENG_STATUS_OK)
        return refuse(st, &err);
    struct idefics3_layout l;
    uint8_t *tiles = NULL; /* [n_images][S][S][3] */
    st = idefics3_preprocess_rgb8(image, &p, &l, &tiles, &err);
    if (st != ENG_STATUS_OK)
        return refuse(st, &err);
    if (l.n_images != px->n_images || l.n_rows != px->n_rows || l.n_cols != px->n_cols) {
        fprintf(stderr, "test-preprocess: layout and pixels disagree\n");
        return 1;
    }

    int S = px->size;
    int pix_shape[4] = {px->n_images, 3, S, S};
    write_npy(out_dir, "pixels.npy", "<f4", pix_shape, 4, px->values, sizeof(float));
    int tile_shape[4] = {px->n_images, S, S, 3};
    write_npy(out_dir, "tiles.npy", "|u1", tile_shape, 4, tiles, 1);
    printf("idefics3 rows=%d cols=%d n_images=%d resized=%dx%d split=%dx%d longest_edge=%d "
           "tokens=%lld\n",
           px->n_rows, px->n_cols, px->n_images, l.resized_w, l.resized_h, l.split_w, l.split_h,
           l.longest_edge, (long long)idefics3_pixels_n_tokens(px, seq_len));
    free(tiles);
    idefics3_pixels_free(&px);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        die_usage("usage: test-preprocess qwen|idefics3 OUT_DIR IMAGE.ppm [IMAGE2.ppm] [options]");
    const char *family = argv[1], *out_dir = argv[2];
    struct eng_image *frames[2] = {read_ppm(argv[3]), NULL};
    int n_frames = 1, first_opt = 4;
    if (argc > 4 && strncmp(argv[4], "--", 2) != 0) {
        frames[1] = read_ppm(argv[4]);
        n_frames = 2;
        first_opt = 5;
    }
    int rc;
    if (strcmp(family, "qwen") == 0)
        rc = run_qwen(out_dir, frames, n_frames, argc - first_opt, argv + first_opt);
    else if (strcmp(family, "idefics3") == 0 && n_frames == 1)
        rc = run_idefics3(out_dir, frames[0], argc - first_opt, argv + first_opt);
    else
        die_usage("unknown family, or two images for idefics3");
    free_image(frames[0]);
    free_image(frames[1]);
    return rc;
}
