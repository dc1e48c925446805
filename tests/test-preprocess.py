#!/usr/bin/python3
"""test-preprocess.py: the engine's image preprocessing against the numpy + PIL
reference (tests/reference/preprocess_ref.py, written from the HF processors).

For images of many sizes and aspect ratios (1x1, under the Qwen factor, under
min_pixels, over max_pixels, 3000x200, portrait and landscape, sizes that
need no resize or resize one axis only) it writes a binary PPM, runs
`test-preprocess` (the C driver) and the reference, and checks:
  - Qwen: the grid (t, h, w), the resized size and the token count are equal;
    Idefics3/SmolVLM: the tile rows, cols, image count, token count equal;
  - the 8-bit resized images (before rescale) are equal sample for sample;
  - pixel_values: bit-identical (max |diff| = 0). numpy's float32 rescale
    and normalize are exact IEEE operations the C code repeats, so any
    difference is a bug; 1e-6 would let a 1-ulp slip (normalising in double)
    pass unseen.
Inputs HF refuses (aspect ratio over 200 for Qwen) must be refused by both;
a zero-sized image must be refused by the engine.
Negative controls: the engine run with the wrong filter (bilinear for
Qwen's bicubic, bicubic for SmolVLM's lanczos), and a swapped pair of patch
rows, must be reported as mismatches, so the comparison can fail.
Prints one line per case; exit 0 pass, 1 fail.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
import preprocess_ref as ref  # noqa: E402

PIXEL_TOL = 0.0


def make_image(width, height, seed):
    """Smooth gradients, a hard-edged checkerboard (0/255, so the filters'
    overshoot hits the clipping) and a block of noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    img = np.empty((height, width, 3), dtype=np.float64)
    img[..., 0] = 255 * x / max(width - 1, 1)
    img[..., 1] = 255 * y / max(height - 1, 1)
    img[..., 2] = 127.5 + 127.5 * np.sin(x * 0.05 + y * 0.08)
    cell = max(1, min(width, height) // 9)
    board = ((x // cell + y // cell) % 2 == 0) & (x < width // 2)
    img[board] = [255, 255, 255]
    img[(~board) & (x < width // 2) & (y < height // 2)] = [0, 0, 0]
    noisy = (x >= width // 2) & (y >= height // 2)
    img[noisy] = rng.integers(0, 256, size=(int(noisy.sum()), 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def write_ppm(path, img):
    h, w = img.shape[:2]
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h))
        f.write(img.tobytes())


def load_npy(path):
    return np.load(path, allow_pickle=False)


def parse_fields(line):
    out = {}
    for tok in line.split()[1:]:
        k, v = tok.split("=")
        out[k] = v
    return out


class Runner:
    def __init__(self, driver, tmp):
        self.driver = driver
        self.tmp = tmp
        self.n = 0
        self.failures = []

    def files(self, imgs):
        self.n += 1
        case_dir = os.path.join(self.tmp, "case%03d" % self.n)
        os.makedirs(case_dir)
        paths = []
        for i, img in enumerate(imgs):
            p = os.path.join(case_dir, "in%d.ppm" % i)
            write_ppm(p, img)
            paths.append(p)
        return case_dir, paths

    def run(self, family, case_dir, paths, args):
        cmd = [self.driver, family, case_dir] + paths + args
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def fail(self, name, why):
        self.failures.append("%s: %s" % (name, why))
        print("FAIL %s: %s" % (name, why))


def compare_arrays(c_arr, r_arr):
    """(same shape, max |diff|, number of differing elements)."""
    if c_arr.shape != r_arr.shape:
        return False, float("inf"), -1
    diff = np.abs(c_arr.astype(np.float64) - r_arr.astype(np.float64))
    return True, float(diff.max()) if diff.size else 0.0, int((diff != 0).sum())


def qwen_case(rn, name, imgs, opts=None, c_filter=None, expect_mismatch=False):
    """Run one Qwen case; return True when the engine matched the reference."""
    opts = dict(opts or {})
    case_dir, paths = rn.files(imgs)
    args = []
    for k, v in opts.items():
        if k in ("image_mean", "image_std"):
            args += ["--" + k.split("_")[1], ",".join(repr(float(x)) for x in v)]
        else:
            args += ["--" + k.replace("_", "-"), str(v)]
    if c_filter:
        args += ["--filter", c_filter]
    kw = {k: v for k, v in opts.items() if k != "patch"}
    if "patch" in opts:
        kw["patch_size"] = opts["patch"]
    if "merge" in opts:
        kw["merge_size"] = kw.pop("merge")
    if "temporal" in opts:
        kw["temporal_patch_size"] = kw.pop("temporal")
    size = "x".join("%dx%d" % (im.shape[1], im.shape[0]) for im in imgs)
    try:
        r_pix, r_grid, r_res8 = ref.qwen_preprocess(list(imgs), **kw)
    except ValueError as e:
        res = rn.run("qwen", case_dir, paths, args)
        ok = res.returncode == 2 and res.stderr.startswith("error:")
        print("qwen %-28s %-12s refused by HF (%s); engine: %s" %
              (name, size, str(e)[:40], res.stderr.strip()[:90] if ok else "NOT REFUSED"))
        if not ok:
            rn.fail(name, "engine accepted what HF refuses (rc %d)" % res.returncode)
        return ok
    res = rn.run("qwen", case_dir, paths, args)
    if res.returncode != 0:
        rn.fail(name, "driver failed rc %d: %s" % (res.returncode, res.stderr.strip()))
        return False
    f = parse_fields(res.stdout.strip())
    c_grid = (int(f["grid_t"]), int(f["grid_h"]), int(f["grid_w"]))
    merge = kw.get("merge_size", 2)
    r_tokens = ref.qwen_n_tokens(r_grid, merge)
    c_pix = load_npy(os.path.join(case_dir, "pixels.npy"))
    c_res8 = load_npy(os.path.join(case_dir, "resized.npy"))
    same8, _, n_diff8 = compare_arrays(c_res8, r_res8)
    samep, maxd, n_diffp = compare_arrays(c_pix, r_pix)
    match = (c_grid == tuple(r_grid) and int(f["tokens"]) == r_tokens and same8 and samep
             and n_diff8 == 0 and maxd <= PIXEL_TOL)
    print("qwen %-28s %-12s grid %s/%s tokens %s/%d resized %s  8-bit differing %d/%d  "
          "max|diff| %.3g (%d differ)%s" %
          (name, size, c_grid, tuple(r_grid), f["tokens"], r_tokens, f["resized"],
           n_diff8, r_res8.size, maxd, n_diffp, "  [negative control]" if expect_mismatch else ""))
    if expect_mismatch:
        if match:
            rn.fail(name, "negative control: a wrong filter went unnoticed")
        return match
    if not match:
        rn.fail(name, "mismatch")
        return False
    # Negative control on the layout: two different rows swapped must fail.
    if c_pix.shape[0] >= 2 and not np.array_equal(c_pix[0], c_pix[1]):
        swapped = c_pix.copy()
        swapped[[0, 1]] = swapped[[1, 0]]
        if compare_arrays(swapped, r_pix)[1] <= PIXEL_TOL:
            rn.fail(name, "negative control: swapped patch rows went unnoticed")
    return True


def idefics3_case(rn, name, img, opts=None, c_filter=None, expect_mismatch=False, seq_len=64):
    opts = dict(opts or {})
    case_dir, paths = rn.files([img])
    args = ["--seq-len", str(seq_len)]
    kw = {}
    for k, v in opts.items():
        if k == "no_split":
            args.append("--no-split")
            kw["do_image_splitting"] = False
        elif k in ("image_mean", "image_std"):
            args += ["--" + k.split("_")[1], ",".join(repr(float(x)) for x in v)]
            kw[k] = v
        else:
            args += ["--" + k.replace("_", "-"), str(v)]
            kw[{"tile": "tile_size", "max_edge": "max_image_size"}.get(k, k)] = v
    if c_filter:
        args += ["--filter", c_filter]
    size = "%dx%d" % (img.shape[1], img.shape[0])
    r_pix, r_rows, r_cols, r_tiles8, r_edge = ref.idefics3_preprocess(img, **kw)
    res = rn.run("idefics3", case_dir, paths, args)
    if res.returncode != 0:
        rn.fail(name, "driver failed rc %d: %s" % (res.returncode, res.stderr.strip()))
        return False
    f = parse_fields(res.stdout.strip())
    r_tokens = ref.idefics3_n_tokens(r_rows, r_cols, seq_len)
    c_pix = load_npy(os.path.join(case_dir, "pixels.npy"))
    c_tiles8 = load_npy(os.path.join(case_dir, "tiles.npy"))
    same8, _, n_diff8 = compare_arrays(c_tiles8, r_tiles8)
    samep, maxd, n_diffp = compare_arrays(c_pix, r_pix)
    match = (int(f["rows"]) == r_rows and int(f["cols"]) == r_cols and
             int(f["n_images"]) == r_pix.shape[0] and int(f["tokens"]) == r_tokens and
             int(f["longest_edge"]) == r_edge and same8 and samep and n_diff8 == 0 and
             maxd <= PIXEL_TOL)
    print("idefics3 %-24s %-10s rows x cols %sx%s/%dx%d images %s/%d tokens %s/%d edge %s "
          "split %s  8-bit differing %d/%d  max|diff| %.3g (%d differ)%s" %
          (name, size, f["rows"], f["cols"], r_rows, r_cols, f["n_images"], r_pix.shape[0],
           f["tokens"], r_tokens, f["longest_edge"], f["split"], n_diff8, r_tiles8.size, maxd,
           n_diffp, "  [negative control]" if expect_mismatch else ""))
    if expect_mismatch:
        if match:
            rn.fail(name, "negative control: a wrong filter went unnoticed")
        return match
    if not match:
        rn.fail(name, "mismatch")
    return match


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    a = ap.parse_args()

    sizes = [(37, 23), (448, 448), (1280, 720), (720, 1280), (3000, 200), (200, 3000),
             (50, 50), (4000, 3000), (1, 1), (27, 29), (448, 300), (300, 448), (200, 1),
             (513, 511)]
    imgs = {s: make_image(s[0], s[1], seed=i) for i, s in enumerate(sizes)}

    with tempfile.TemporaryDirectory(prefix="wenshu-preprocess-") as tmp:
        rn = Runner(a.driver, tmp)

        # ---- Qwen2-VL / Qwen2.5-VL ----
        for s in sizes:
            qwen_case(rn, "default", [imgs[s]])
        # Sides at an exact half of the factor (70 / 28 = 2.5, 126 / 28 = 4.5):
        # Python's round() goes to even, so 56 and 112.
        qwen_case(rn, "round half to even", [make_image(70, 126, 9)])
        # Over max_pixels with a side that floors to 0 patches: max(factor, ...).
        qwen_case(rn, "floor to one factor", [make_image(6000, 40, 10)],
                  {"min_pixels": 28 * 28, "max_pixels": 4 * 28 * 28})
        qwen_case(rn, "aspect 201 (refused)", [make_image(201, 1, 7)])
        qwen_case(rn, "aspect 300 (refused)", [make_image(3, 900, 8)])
        qwen_case(rn, "budget 4..256 tokens", [imgs[(1280, 720)]],
                  {"min_pixels": 4 * 28 * 28, "max_pixels": 256 * 28 * 28})
        qwen_case(rn, "min_pixels 512 tokens", [imgs[(37, 23)]],
                  {"min_pixels": 512 * 28 * 28, "max_pixels": 1024 * 28 * 28})
        qwen_case(rn, "mean/std of a file", [imgs[(448, 300)]],
                  {"image_mean": [0.5, 0.25, 0.125], "image_std": [0.3, 0.7, 0.2]})
        qwen_case(rn, "frame pair", [make_image(640, 360, 11), make_image(640, 360, 12)])
        qwen_case(rn, "frame pair, sizes differ", [make_image(640, 360, 13),
                                                   make_image(500, 420, 14)])
        qwen_case(rn, "wrong filter (bilinear)", [imgs[(1280, 720)]], c_filter="bilinear",
                  expect_mismatch=True)
        qwen_case(rn, "wrong filter (lanczos)", [imgs[(37, 23)]], c_filter="lanczos",
                  expect_mismatch=True)

        # zero-sized image: the engine must refuse it clearly.
        case_dir, paths = rn.files([np.zeros((5, 0, 3), dtype=np.uint8)])
        for fam in ("qwen", "idefics3"):
            res = rn.run(fam, case_dir, paths, [])
            ok = res.returncode == 2 and res.stderr.startswith("error:")
            print("%s zero-sized 0x5: %s" % (fam, res.stderr.strip() if ok else "NOT REFUSED"))
            if not ok:
                rn.fail(fam + " zero-sized", "not refused (rc %d)" % res.returncode)

        # ---- Idefics3 / SmolVLM ----
        for s in sizes:
            idefics3_case(rn, "smolvlm 2048/512", imgs[s])
        idefics3_case(rn, "idefics3 1456/364", imgs[(1280, 720)],
                      {"longest_edge": 4 * 364, "tile": 364, "max_edge": 1820})
        idefics3_case(rn, "smolvlm2 1536/384", imgs[(720, 1280)],
                      {"longest_edge": 1536, "tile": 384})
        idefics3_case(rn, "smolvlm2 1536/384", imgs[(37, 23)],
                      {"longest_edge": 1536, "tile": 384})
        idefics3_case(rn, "max_tiles 6", imgs[(4000, 3000)], {"max_tiles": 6})
        idefics3_case(rn, "max_tiles 2", imgs[(3000, 200)], {"max_tiles": 2})
        idefics3_case(rn, "max_tiles 0", imgs[(1280, 720)], {"max_tiles": 0})
        idefics3_case(rn, "no split (video frame)", imgs[(1280, 720)], {"no_split": True})
        idefics3_case(rn, "mean/std of a file", imgs[(513, 511)],
                      {"image_mean": [0.48145466, 0.4578275, 0.40821073],
                       "image_std": [0.26862954, 0.26130258, 0.27577711]})
        idefics3_case(rn, "wrong filter (bicubic)", imgs[(1280, 720)], c_filter="bicubic",
                      expect_mismatch=True)

    if rn.failures:
        print("\n%d failure(s):" % len(rn.failures))
        for f in rn.failures:
            print("  " + f)
        return 1
    print("\nall preprocessing cases match the reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
