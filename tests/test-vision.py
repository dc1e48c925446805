#!/usr/bin/python3
"""test-vision.py: the engine's vision encoders and image prompts, end to end,
against the independent numpy references (tests/reference/vision_ref.py for
the encoders, model_ref.py for the text model, preprocess_ref.py for the
image processors).

For each tiny projector (wenshu-cli synth --mmproj qwen2vl_merger,
qwen2.5vl_merger, idefics3, F32) and several PNG sizes and aspect ratios
(Qwen: grids of one to several 2.5-VL attention windows, min/max pixels that
up- and down-scale; Idefics3: unsplit images and 2x2, 2x1 and 1x3 tile grids):
  1. `wenshu-cli encode` prints `tokens N embd D grid T H W tiles R C images K`;
     N, the grid, the tile grid and K must equal preprocess_ref's;
  2. its embeddings (.npy) must match vision_ref on preprocess_ref's pixels:
     max|diff| <= tol * max|ref|;
  3. `wenshu-cli logits` on the tiny text model of the family (qwen2vl or
     llama) with a prompt holding the image gives the last-position logits;
     model_ref.forward_items computes them from the text pieces' ids
     (`wenshu-cli tokenize`, special tokens parsed), the special tokens looked up by string
     in the GGUF vocab, vision_ref's embeddings and HF's positions
     (qwen2vl: get_rope_index M-RoPE; llama: 1-D); same bound.
tol = 1e-4 on the CPU; with --device vulkan every command gets
`--device vulkan` and tol = 1e-3.
With --device vulkan the encoder must report a Vulkan device (not "CPU").
Negative controls (each must EXCEED the bound, so the comparison can fail):
the Qwen2.5 reference without windows, the Qwen logits with the image grid
transposed (h and w M-RoPE streams swapped), the Idefics3 tiles in reverse,
the SmolVLM tiled prompt without its "\n" pieces.
The references' own self-tests run first.
Exit 0 pass, 1 fail, 77 when --device vulkan finds no Vulkan device at all.
"""

import argparse
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    from PIL import Image
except ImportError:
    print("SKIP: numpy or PIL is missing (use Debian's /usr/bin/python3)")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
import gguf_model  # noqa: E402
import model_ref  # noqa: E402
import preprocess_ref  # noqa: E402
import vision_ref  # noqa: E402

MARKER = "<__media__>"
TOL = {"cpu": 1e-4, "vulkan": 1e-3}

# (name, width, height, encode options, prompt)
QWEN_CASES = [
    ("60x90", 60, 90, {"min_pixels": 3136, "max_pixels": 50176}, "Look:" + MARKER + " what?"),
    ("200x120", 200, 120, {"min_pixels": 3136, "max_pixels": 50176}, "Describe it."),
    ("33x400", 33, 400, {"min_pixels": 3136, "max_pixels": 50176}, "A" + MARKER + "B"),
    ("300x260 down", 300, 260, {"min_pixels": 3136, "max_pixels": 30000}, MARKER + " ok"),
    ("20x30 up", 20, 30, {"min_pixels": 6272, "max_pixels": 50176}, "Hi " + MARKER + " there"),
]
# idefics3 tiny: 64 px tiles, 16 px patches, shuffle 2 -> 4 tokens per image
IDEFICS3_CASES = [
    ("64x64 unsplit", 64, 64, {"longest_edge": 64}, "Look:" + MARKER + " what?"),
    ("50x30 unsplit", 50, 30, {"longest_edge": 64}, "Describe it."),
    ("200x120 2x2", 200, 120, {"longest_edge": 128}, "A" + MARKER + "B"),
    ("40x150 2x1", 40, 150, {}, MARKER + " ok"),       # the file's longest edge (128)
    ("300x90 1x3", 300, 90, {"longest_edge": 192}, "Hi " + MARKER + " there"),
]

failures = []


def fail(msg):
    print("FAIL  " + msg)
    failures.append(msg)


def run(cmd, timeout=120):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", "timed out after %ds" % timeout)


def run_ok(cmd, what):
    r = run(cmd)
    if r.returncode != 0:
        fail("%s: `%s` exited %d: %s" % (what, " ".join(cmd), r.returncode,
                                          r.stderr.strip()[-600:]))
        return None
    return r


def make_image(width, height, seed):
    """Gradients, a sine pattern and noise, so resizes and tiles all differ."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    img = np.empty((height, width, 3))
    img[..., 0] = 255 * x / max(width - 1, 1)
    img[..., 1] = 255 * y / max(height - 1, 1)
    img[..., 2] = 127.5 + 127.5 * np.sin(x * 0.21 + y * 0.13)
    img += rng.normal(0, 25, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def rel_err(got, ref):
    """max|got - ref| / max|ref|, or inf on a shape mismatch."""
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        return float("inf")
    return float(np.max(np.abs(got - ref)) / max(np.max(np.abs(ref)), 1e-30))


def parse_encode_line(text):
    """`tokens N embd D grid T H W tiles R C images K` -> dict of ints."""
    for line in text.splitlines():
        f = line.split()
        if len(f) == 13 and f[0] == "tokens" and f[2] == "embd" and f[4] == "grid" \
                and f[8] == "tiles" and f[11] == "images":
            return {"tokens": int(f[1]), "embd": int(f[3]),
                    "grid": tuple(int(v) for v in f[5:8]),
                    "tiles": (int(f[9]), int(f[10])), "images": int(f[12])}
    return None


class Cli:
    def __init__(self, exe, device):
        self.exe = exe
        self.device = device
        self.device_args = ["--device", device] if device == "vulkan" else []
        self.token_cache = {}

    def check_encoder_device(self, stderr, what):
        """encode reports `[PROJECTOR on DEVICE: T s]` on stderr; with
        --device vulkan the encoder must not have stayed on the CPU, or the
        Vulkan comparison would be the CPU's again."""
        m = re.search(r"\[(\S+) on (.+): [0-9.]+ s\]", stderr)
        if not m:
            fail("%s: encode did not say which device ran the encoder: %r"
                 % (what, stderr.strip()[-300:]))
            return None
        if self.device == "vulkan" and m.group(2) == "CPU":
            fail("%s: --device vulkan, but the encoder ran on the CPU" % what)
        return m.group(2)

    def encode_args(self, opts):
        args = []
        for key, value in opts.items():
            args += ["--" + key.replace("_", "-"), str(value)]
        return args

    def tokenize(self, model, text):
        """Ids of text (special tokens parsed), as the engine tokenizes it."""
        key = (model, text)
        if key not in self.token_cache:
            if text == "":
                self.token_cache[key] = []
            else:
                r = run_ok([self.exe, "tokenize", "-m", model, "-p", text],
                           "tokenize %r" % text)
                lines = [ln for ln in (r.stdout if r else "").splitlines() if ln.strip()]
                self.token_cache[key] = [int(t) for t in lines[-1].split()] if lines else None
        return self.token_cache[key]


class Vocab:
    """Special-token ids looked up by string in the GGUF vocab."""

    def __init__(self, path):
        tokens = gguf_model.GGUFFile(path).kv["tokenizer.ggml.tokens"]
        self.ids = {t: i for i, t in enumerate(tokens)}
        self.path = path

    def id(self, text):
        if text not in self.ids:
            raise KeyError("%s: no %s token in the vocab" % (self.path, text))
        return self.ids[text]


def split_prompt(prompt):
    """(text before the image, text after); no marker: the image comes first."""
    if MARKER in prompt:
        before, after = prompt.split(MARKER, 1)
        return before, after
    return "", prompt


# ------------------------------------------------------------------- Qwen --
def qwen_reference(pj, img, opts):
    px, grid, _ = preprocess_ref.qwen_preprocess(
        [img], min_pixels=opts["min_pixels"], max_pixels=opts["max_pixels"],
        patch_size=pj.patch_size, merge_size=pj.merge)
    return px, grid, vision_ref.encode_qwen(pj, px, grid)


def qwen_items(cli, vocab, text_path, prompt, embd, merged_hw):
    before, after = split_prompt(prompt)
    ids_before, ids_after = cli.tokenize(text_path, before), cli.tokenize(text_path, after)
    if ids_before is None or ids_after is None:
        return None
    return [("text", ids_before + [vocab.id("<|vision_start|>")]),
            ("image", embd, merged_hw),
            ("text", [vocab.id("<|vision_end|>")] + ids_after)]


def qwen_case(cli, tmp, ptype, proj_path, pj, text, case, tol, stats):
    name, width, height, opts, prompt = case
    img = make_image(width, height, seed=width * 1000 + height)
    png = os.path.join(tmp, "q-%dx%d.png" % (width, height))
    Image.fromarray(img).save(png)
    out = os.path.join(tmp, "embd.npy")
    t0 = time.time()
    r = run_ok([cli.exe, "encode", "--mmproj", proj_path, "--image", png, "-o", out]
               + cli.encode_args(opts) + cli.device_args, "%s %s encode" % (ptype, name))
    t_engine = time.time() - t0
    if not r:
        return
    info = parse_encode_line(r.stdout)
    cli.check_encoder_device(r.stderr, "%s %s" % (ptype, name))
    px, grid, ref = qwen_reference(pj, img, opts)
    m = pj.merge
    want_grid = (grid[0], grid[1] // m, grid[2] // m)
    want = {"tokens": preprocess_ref.qwen_n_tokens(grid, m), "embd": pj.projection_dim,
            "grid": want_grid, "tiles": (0, 0), "images": 1}
    if info != want:
        fail("%s %s: encode printed %s, preprocess_ref gives %s" % (ptype, name, info, want))
        return
    got = np.load(out)
    err = rel_err(got, ref)
    stats.append(err)
    line = "%-17s %-13s grid %-12s tokens %3d  embd rel err %.2e" % (
        ptype, name, want_grid, want["tokens"], err)
    if not err <= tol:
        fail("%s %s: embeddings differ from vision_ref: %.3e > %.0e" % (ptype, name, err, tol))
    if ptype == "qwen2.5vl_merger" and max(want_grid[1:]) > pj.window_size // pj.patch_size // m:
        saved = pj.n_wa_pattern
        pj.n_wa_pattern = 1                      # every layer full attention
        nc = rel_err(got, vision_ref.encode_qwen(pj, px, grid))
        pj.n_wa_pattern = saved
        line += "  [no-window control %.1e]" % nc
        if nc <= tol:
            fail("%s %s: negative control: the reference without windows also matches "
                 "(%.2e)" % (ptype, name, nc))
    # logits of a prompt with the image
    text_path, vocab, model = text
    lout = os.path.join(tmp, "logits.npy")
    t0 = time.time()
    r = run_ok([cli.exe, "logits", "-m", text_path, "--mmproj", proj_path, "--image", png,
                "-p", prompt, "-o", lout] + cli.encode_args(opts) + cli.device_args,
               "%s %s logits" % (ptype, name))
    t_engine += time.time() - t0
    items = qwen_items(cli, vocab, text_path, prompt, ref, want_grid[1:])
    if not r or items is None:
        return
    eng = np.load(lout)
    want_logits = model.forward_items(items)
    lerr = rel_err(eng, want_logits)
    stats.append(lerr)
    line += "  logits rel err %.2e  (engine %.2f s)" % (lerr, t_engine)
    if want_grid[1] != want_grid[2]:
        items_t = qwen_items(cli, vocab, text_path, prompt, ref, want_grid[1:][::-1])
        nc = rel_err(eng, model.forward_items(items_t))
        line += "  [transposed-grid control %.1e]" % nc
        if nc <= tol:
            fail("%s %s: negative control: logits with the grid transposed also match "
                 "(%.2e)" % (ptype, name, nc))
    print(line)
    if not lerr <= tol:
        fail("%s %s: logits differ from model_ref: %.3e > %.0e" % (ptype, name, lerr, tol))


# --------------------------------------------------------------- Idefics3 --
def smolvlm_items(cli, vocab, text_path, prompt, embd, rows, cols, per_image, newline="\n"):
    """The SmolVLM image prompt (HF processing_smolvlm _prompt_split_image):
    tiles row by row, "\\n" after each row, "\\n" + the global image.
    (newline="" only for the negative control.)"""
    before, after = split_prompt(prompt)
    fake, glob = vocab.id("<fake_token_around_image>"), vocab.id("<global-img>")
    items = [("text", cli.tokenize(text_path, before))]
    pending = ""
    for r in range(rows):
        for c in range(cols):
            i = r * cols + c
            ids = cli.tokenize(text_path, pending) if pending else []
            pending = ""
            if ids is None:
                return None
            items.append(("text", ids + [fake, vocab.id("<row_%d_col_%d>" % (r + 1, c + 1))]))
            items.append(("image", embd[i * per_image:(i + 1) * per_image], (0, 0)))
        pending += newline
    if rows > 0:
        pending += newline
    ids = cli.tokenize(text_path, pending) if pending else []
    if ids is None:
        return None
    items.append(("text", ids + [fake, glob]))
    items.append(("image", embd[rows * cols * per_image:], (0, 0)))
    ids_after = cli.tokenize(text_path, after)
    if ids_after is None or any(it[0] == "text" and it[1] is None for it in items):
        return None
    items.append(("text", [fake] + ids_after))
    return items


def idefics3_case(cli, tmp, proj_path, pj, text, case, tol, stats):
    name, width, height, opts, prompt = case
    img = make_image(width, height, seed=width * 1000 + height + 7)
    png = os.path.join(tmp, "i-%dx%d.png" % (width, height))
    Image.fromarray(img).save(png)
    out = os.path.join(tmp, "embd.npy")
    t0 = time.time()
    r = run_ok([cli.exe, "encode", "--mmproj", proj_path, "--image", png, "-o", out]
               + cli.encode_args(opts) + cli.device_args, "idefics3 %s encode" % name)
    t_engine = time.time() - t0
    if not r:
        return
    info = parse_encode_line(r.stdout)
    cli.check_encoder_device(r.stderr, "idefics3 %s" % name)
    edge = opts.get("longest_edge", pj.preproc_image_size)
    px, rows, cols, _, _ = preprocess_ref.idefics3_preprocess(img, longest_edge=edge,
                                                              tile_size=pj.image_size)
    per_image = vision_ref.idefics3_tokens_per_image(pj)
    want = {"tokens": preprocess_ref.idefics3_n_tokens(rows, cols, per_image),
            "embd": pj.projection_dim, "grid": (0, 0, 0), "tiles": (rows, cols),
            "images": px.shape[0]}
    if info != want:
        fail("idefics3 %s: encode printed %s, preprocess_ref gives %s" % (name, info, want))
        return
    ref = vision_ref.encode_idefics3(pj, px)
    got = np.load(out)
    err = rel_err(got, ref)
    stats.append(err)
    line = "%-17s %-13s tiles %dx%d images %d tokens %3d  embd rel err %.2e" % (
        "idefics3", name, rows, cols, px.shape[0], want["tokens"], err)
    if not err <= tol:
        fail("idefics3 %s: embeddings differ from vision_ref: %.3e > %.0e" % (name, err, tol))
    if px.shape[0] > 1:
        nc = rel_err(got, vision_ref.encode_idefics3(pj, px[::-1]))
        line += "  [reversed-tiles control %.1e]" % nc
        if nc <= tol:
            fail("idefics3 %s: negative control: tiles in reverse also match (%.2e)"
                 % (name, nc))
    text_path, vocab, model = text
    lout = os.path.join(tmp, "logits.npy")
    t0 = time.time()
    r = run_ok([cli.exe, "logits", "-m", text_path, "--mmproj", proj_path, "--image", png,
                "-p", prompt, "-o", lout] + cli.encode_args(opts) + cli.device_args,
               "idefics3 %s logits" % name)
    t_engine += time.time() - t0
    items = smolvlm_items(cli, vocab, text_path, prompt, ref, rows, cols, per_image)
    if not r or items is None:
        return
    eng = np.load(lout)
    lerr = rel_err(eng, model.forward_items(items))
    stats.append(lerr)
    line += "  logits rel err %.2e  (engine %.2f s)" % (lerr, t_engine)
    if rows > 0:
        items_nl = smolvlm_items(cli, vocab, text_path, prompt, ref, rows, cols, per_image,
                                 newline="")
        nc = rel_err(eng, model.forward_items(items_nl))
        line += "  [no-newlines control %.1e]" % nc
        if nc <= tol:
            fail("idefics3 %s: negative control: the prompt without its row newlines also "
                 "matches (%.2e)" % (name, nc))
    print(line)
    if not lerr <= tol:
        fail("idefics3 %s: logits differ from model_ref: %.3e > %.0e" % (name, lerr, tol))


# ------------------------------------------------------------------- main --
def vulkan_available(exe):
    """True with a usable device; 77 exit when there is none at all."""
    r = run([exe, "devices", "--json"])
    try:
        devices = json.loads(r.stdout)["devices"]
    except (ValueError, KeyError):
        devices = []
    if not devices:
        print("SKIP: no Vulkan device (%s)" % (r.stderr.strip() or r.stdout.strip())[:200])
        sys.exit(77)
    usable = [d for d in devices if d.get("usable")]
    if not usable:
        fail("Vulkan devices exist but none is usable: %s" % devices)
        return False
    print("Vulkan: %s" % ", ".join(d["name"] for d in usable))
    return True


def self_tests():
    for mod in (vision_ref, model_ref):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = mod.self_test()
        if rc != 0:
            print(buf.getvalue())
            fail("%s --self-test failed" % mod.__name__)
        else:
            n_ok = sum(ln.startswith("ok") for ln in buf.getvalue().splitlines())
            print("%s --self-test: %d checks passed" % (mod.__name__, n_ok))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", choices=("cpu", "vulkan"), default="cpu")
    args = ap.parse_args()
    exe = os.environ.get("WENSHU_CLI")
    if not exe:
        print("FAIL: WENSHU_CLI is not set")
        return 1
    tol = TOL[args.device]
    if args.device == "vulkan" and not vulkan_available(exe):
        return 1
    self_tests()
    cli = Cli(exe, args.device)
    t_start = time.time()
    stats = []
    with tempfile.TemporaryDirectory(prefix="wenshu-vision-") as tmp:
        texts = {}
        for arch in ("qwen2vl", "llama"):
            path = os.path.join(tmp, "text-%s.gguf" % arch)
            if not run_ok([exe, "synth", "--arch", arch, "--preset", "tiny", "-o", path],
                          "synth %s" % arch):
                continue
            model = model_ref.Model(path)
            texts[arch] = (path, Vocab(path), model)
        for ptype in vision_ref.TYPES:
            arch = "llama" if ptype == "idefics3" else "qwen2vl"
            if arch not in texts:
                continue
            proj = os.path.join(tmp, "%s.gguf" % ptype)
            if not run_ok([exe, "synth", "--mmproj", ptype, "--text-embd",
                           str(texts[arch][2].cfg.n_embd), "-o", proj], "synth " + ptype):
                continue
            pj = vision_ref.Projector(proj)
            for case in (IDEFICS3_CASES if ptype == "idefics3" else QWEN_CASES):
                try:
                    if ptype == "idefics3":
                        idefics3_case(cli, tmp, proj, pj, texts[arch], case, tol, stats)
                    else:
                        qwen_case(cli, tmp, ptype, proj, pj, texts[arch], case, tol, stats)
                except (ValueError, KeyError) as e:
                    fail("%s %s: %s" % (ptype, case[0], e))
    if stats:
        print("device %s: %d comparisons, worst rel err %.2e (bound %.0e), %.1f s"
              % (args.device, len(stats), max(stats), tol, time.time() - t_start))
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("all vision checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
