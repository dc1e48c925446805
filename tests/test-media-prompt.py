#!/usr/bin/python3
"""Media in a prompt, end to end: clips and several images wrapped and
positioned as the Hugging Face processors do, and the errors for inputs that
do not fit.

The engine's first-token logits (`wenshu-cli logits --video/--image`) are
compared with the numpy references: the frames come from `wenshu-cli frames
--ppm-dir` (checked against ffmpeg by test-video.py), preprocessing from
preprocess_ref.py, the encoders from vision_ref.py and the text model from
model_ref.py. The prompt around the rows is built here, independently of
the engine, from the processors' definitions:

  Qwen2-VL (processing_qwen2_vl.py, get_rope_index): <|vision_start|> rows
    <|vision_end|>; a clip's frames go in temporal pairs; row (g, y, x) of a
    block that starts at text position p0 has t = p0 + g, h = p0 + y,
    w = p0 + x, and the text after it starts at 1 + the largest of them.
  SmolVLM2 (video_processing_smolvlm.py, processing_smolvlm.py): "You are
    provided the following series of {num2words(n)} frames from a {H:MM:SS}
    [H:MM:SS] video.\\n", then per frame "\\nFrame from {mm:ss}:" +
    "<fake_token_around_image><global-img>" rows "<fake_token_around_image>",
    then "\\n\\n"; 1-D positions.

Text pieces are tokenized with `wenshu-cli tokenize` (the tokenizer is checked
against Hugging Face's elsewhere). Tolerance: max|diff| <= 1e-4 * max|ref|.
usage: test-media-prompt.py [--device cpu|vulkan]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
import gguf_model  # noqa: E402
import model_ref  # noqa: E402
import preprocess_ref  # noqa: E402
import vision_ref  # noqa: E402

CLI = os.environ.get("WENSHU_CLI", "wenshu-cli")
failures = []


def run(args, expect_ok=True):
    p = subprocess.run([CLI] + args, capture_output=True, text=True)
    if expect_ok and p.returncode != 0:
        raise RuntimeError("wenshu-cli %s failed (%d): %s" % (" ".join(args), p.returncode,
                                                             p.stderr))
    return p


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        failures.append(msg)


def tokenize(model, text):
    out = run(["tokenize", "-m", model, "-p", text]).stdout.split()
    return [int(t) for t in out]


def vocab_id(model, text):
    g = gguf_model.GGUFFile(model)
    tokens = g.kv["tokenizer.ggml.tokens"]
    return tokens.index(text)


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    parts = data.split(b"\n", 3)
    width, height = (int(v) for v in parts[1].split())
    return np.frombuffer(parts[3], dtype=np.uint8).reshape(height, width, 3)


def sampled_frames(clip, tmp, fps, max_frames):
    """The frames wenshu-cli samples for fps/max_frames, as uint8 arrays."""
    d = tempfile.mkdtemp(dir=tmp)
    out = run(["frames", clip, "--fps", str(fps), "--max-frames", str(max_frames),
               "--no-cuts", "--ppm-dir", d, "--json"]).stdout
    info = json.loads(out)
    frames = [read_ppm(os.path.join(d, "frame-%04d.ppm" % i))
              for i in range(len(info["frames"]))]
    return frames, [f["time"] for f in info["frames"]], info["duration"]


def compare(name, got, want, tol):
    err = float(np.max(np.abs(got - want))) / float(np.max(np.abs(want)))
    check(err <= tol, "%s: max|diff| / max|ref| = %.2e (limit %.0e)" % (name, err, tol))


def engine_logits(tmp, args):
    out = os.path.join(tmp, "logits.npy")
    run(["logits", "-o", out] + args)
    return np.load(out).astype(np.float64)


def embed_ids(model, ids):
    return model.tok_embd[np.asarray(ids, dtype=np.int64)]


# ---- Qwen2-VL: a clip in frame pairs, and two images in one prompt ------------------

def qwen_block_positions(p0, grid_t, gh, gw):
    """(3, n) positions of a Qwen vision block at p0, and the next text position."""
    t, h, w = np.meshgrid(np.arange(grid_t), np.arange(gh), np.arange(gw), indexing="ij")
    pos = np.stack([t.ravel(), h.ravel(), w.ravel()]) + p0
    return pos, int(pos.max()) + 1


def qwen_sequence(text_model, model, pieces):
    """pieces: ("text", str) or ("vision", embd, (grid_t, gh, gw)); returns x, positions."""
    rows, pos, p = [], [], 0
    start, end = vocab_id(model, "<|vision_start|>"), vocab_id(model, "<|vision_end|>")
    for piece in pieces:
        if piece[0] == "text":
            ids = tokenize(model, piece[1]) if piece[1] else []
            groups = [ids]
        else:
            groups = [[start], None, [end]]
        for ids in groups:
            if ids is None:
                embd, (grid_t, gh, gw) = piece[1], piece[2]
                block, p = qwen_block_positions(p, grid_t, gh, gw)
                rows.append(embd)
                pos.append(block)
            elif ids:
                rows.append(embed_ids(text_model, ids))
                pos.append(np.tile(np.arange(p, p + len(ids)), (3, 1)))
                p += len(ids)
    return np.concatenate(rows), np.concatenate(pos, axis=1)


def qwen_checks(tmp, device, tol):
    text = os.path.join(tmp, "qwen-text.gguf")
    proj = os.path.join(tmp, "qwen-proj.gguf")
    run(["synth", "--arch", "qwen2vl", "--preset", "tiny", "-o", text])
    run(["synth", "--mmproj", "qwen2vl_merger", "-o", proj])
    tm = model_ref.Model(text)
    mean, std = preprocess_ref.OPENAI_CLIP_MEAN, preprocess_ref.OPENAI_CLIP_STD

    # A clip of 5 sampled frames: two pairs and a last frame repeated.
    clip = os.path.join(tmp, "clip.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=64x48:rate=10:duration=2.5", "-pix_fmt", "yuv420p", clip],
                   check=True)
    frames, _, _ = sampled_frames(clip, tmp, 2, 5)
    check(len(frames) == 5, "the clip gives 5 frames (got %d)" % len(frames))
    pixels, grid, _ = preprocess_ref.qwen_preprocess(
        frames, min_pixels=128 * 28 * 28, max_pixels=768 * 28 * 28, image_mean=mean,
        image_std=std)
    embd = vision_ref.encode_qwen(proj, pixels, grid)
    merged = (grid[0], grid[1] // 2, grid[2] // 2)
    x, pos = qwen_sequence(tm, text, [("text", "Clip:"), ("vision", embd, merged),
                                       ("text", " what happens?")])
    want = tm.forward_embd(x, pos)[-1]
    got = engine_logits(tmp, ["-m", text, "--mmproj", proj, "--video", clip, "--video-fps", "2",
                              "--video-max-frames", "5", "--device", device, "--ctx", "1024",
                              "-p", "Clip:<__media__> what happens?"])
    compare("qwen2-vl clip of 5 frames (grid %s): first-token logits" % (merged,), got, want, tol)

    # Two images in one prompt: positions run on after each block.
    rng = np.random.RandomState(7)
    images, pieces, args = [], [("text", "A:")], []
    for i, (h, w) in enumerate([(60, 90), (120, 40)]):
        a = (rng.rand(h, w, 3) * 255).astype(np.uint8)
        path = os.path.join(tmp, "img%d.png" % i)
        Image.fromarray(a).save(path)
        images.append(a)
        px, g, _ = preprocess_ref.qwen_preprocess([a], image_mean=mean, image_std=std)
        pieces.append(("vision", vision_ref.encode_qwen(proj, px, g),
                       (g[0], g[1] // 2, g[2] // 2)))
        pieces.append(("text", " and B:" if i == 0 else " same?"))
        args += ["--image", path]
    x, pos = qwen_sequence(tm, text, pieces)
    want = tm.forward_embd(x, pos)[-1]
    got = engine_logits(tmp, ["-m", text, "--mmproj", proj, "--device", device,
                              "-p", "A:<__media__> and B:<__media__> same?"] + args)
    compare("qwen2-vl two images in one prompt: first-token logits", got, want, tol)
    return text, proj


# ---- SmolVLM2: a clip with its frame prompt --------------------------------------------

def number_words(n):
    """num2words(n) for n < 1000 (English, "and" after the hundreds)."""
    ones = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen").split()
    tens = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
    if n >= 100:
        rest = n % 100
        return ones[n // 100] + " hundred" + ("" if rest == 0 else " and " + number_words(rest))
    if n >= 20:
        return tens[n // 10] + ("" if n % 10 == 0 else "-" + ones[n % 10])
    return ones[n]


def smolvlm_checks(tmp, device, tol):
    text = os.path.join(tmp, "smol-text.gguf")
    proj = os.path.join(tmp, "smol-proj.gguf")
    run(["synth", "--arch", "llama", "--preset", "tiny", "-o", text])
    run(["synth", "--mmproj", "idefics3", "-o", proj])
    tm = model_ref.Model(text)
    pj = vision_ref.Projector(proj)
    tile = pj.image_size
    clip = os.path.join(tmp, "smol-clip.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=80x60:rate=10:duration=3", "-pix_fmt", "yuv420p", clip],
                   check=True)
    frames, times, duration = sampled_frames(clip, tmp, 1, 32)
    secs = int(duration)
    prompt = ("You are provided the following series of %s frames from a %d:%02d:%02d [H:MM:SS] "
              "video.\n" % (number_words(len(frames)), secs // 3600, secs // 60 % 60, secs % 60))
    fake, glob = vocab_id(text, "<fake_token_around_image>"), vocab_id(text, "<global-img>")
    ids_before = tokenize(text, "Look:")
    rows = [embed_ids(tm, ids_before)]
    pending = prompt
    for frame, t in zip(frames, times):
        pending += "\nFrame from %02d:%02d:" % (int(t) // 60, int(t) % 60)
        rows.append(embed_ids(tm, tokenize(text, pending) + [fake, glob]))
        pending = ""
        px, _, _, _, _ = preprocess_ref.idefics3_preprocess(
            frame, longest_edge=tile, tile_size=tile, do_image_splitting=False)
        rows.append(vision_ref.encode_idefics3(proj, px))
        rows.append(embed_ids(tm, [fake]))
    rows.append(embed_ids(tm, tokenize(text, "\n\n" + " Summary?")))
    x = np.concatenate(rows)
    want = tm.forward_embd(x, np.arange(len(x)))[-1]
    got = engine_logits(tmp, ["-m", text, "--mmproj", proj, "--video", clip, "--device", device,
                              "-p", "Look:<__media__> Summary?"])
    compare("smolvlm2 clip of %d frames with its frame prompt: first-token logits"
            % len(frames), got, want, tol)
    return text, proj


# ---- quantized projectors -------------------------------------------------------------------

def quantized_checks(tmp, projs, device):
    """F16 and Q8_0 copies of each projector (wenshu-cli quantize) encode close
    to the F32 reference: F16 within 1e-2, Q8_0 within 6e-2 of max|ref| (the
    activations are rounded to 8 bits for Q8_0 products, as llama.cpp does)."""
    img = os.path.join(tmp, "img0.png")
    for proj in projs:
        pj = vision_ref.Projector(proj)
        image = np.asarray(Image.open(img).convert("RGB"))
        if pj.qwen:
            px, g, _ = preprocess_ref.qwen_preprocess([image])
            want = vision_ref.encode_qwen(proj, px, g)
        else:
            px = preprocess_ref.idefics3_preprocess(image, longest_edge=pj.preproc_image_size,
                                                    tile_size=pj.image_size)[0]
            want = vision_ref.encode_idefics3(proj, px)
        for qtype, tol in (("F16", 1e-2), ("Q8_0", 6e-2)):
            qproj = proj.replace(".gguf", "-%s.gguf" % qtype)
            run(["quantize", proj, qproj, qtype])
            out = os.path.join(tmp, "q.npy")
            run(["encode", "--mmproj", qproj, "--image", img, "--device", device, "-o", out])
            compare("%s projector as %s" % (pj.type, qtype), np.load(out).astype(np.float64),
                    want, tol)


# ---- inputs that do not fit ---------------------------------------------------------------

def error_checks(tmp, qwen, smol, device):
    qtext, qproj = qwen
    stext, sproj = smol
    img = os.path.join(tmp, "img0.png")

    def fails(args, *needles):
        p = run(args, expect_ok=False)
        msg = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
        ok = p.returncode != 0 and all(n in msg for n in needles) and "Traceback" not in p.stderr
        check(ok, "refused with a clear message: %s -> %r" % (" ".join(args[:1] + args[-2:]), msg))

    out = os.path.join(tmp, "x.npy")
    base = ["logits", "-o", out, "--device", device]
    fails(base + ["-m", stext, "--mmproj", qproj, "--image", img, "-p", "x"],
          qproj, stext, "do not belong together")
    fails(base + ["-m", qtext, "--mmproj", sproj, "--image", img, "-p", "x"],
          sproj, qtext, "do not belong together")
    fails(base + ["-m", qtext, "--image", img, "-p", "x"], "--mmproj")
    fails(base + ["-m", qtext, "--mmproj", qproj, "--image", img, "--ctx", "5", "-p", "x"],
          img, "does not fit the context")
    fails(base + ["-m", qtext, "--mmproj", qproj, "--image", img, "-p",
                  "<__media__> and <__media__>"], "markers")
    broken = os.path.join(tmp, "broken.png")
    with open(img, "rb") as f:
        data = f.read()
    with open(broken, "wb") as f:
        f.write(data[:len(data) // 2])
    fails(base + ["-m", qtext, "--mmproj", qproj, "--image", broken, "-p", "x"], broken)
    fails(base + ["-m", qtext, "--mmproj", qproj, "--video", img, "-p", "x"], img)
    fails(["encode", "--mmproj", qtext, "--image", img], qtext)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    tol = 1e-4 if args.device == "cpu" else 1e-3
    if args.device != "cpu":
        p = run(["devices", "--json"], expect_ok=False)
        devices = json.loads(p.stdout)["devices"] if p.returncode == 0 else []
        if not devices:
            print("no Vulkan device: skipped")
            return 77
    with tempfile.TemporaryDirectory() as tmp:
        qwen = qwen_checks(tmp, args.device, tol)
        smol = smolvlm_checks(tmp, args.device, tol)
        error_checks(tmp, qwen, smol, args.device)
        quantized_checks(tmp, [qwen[1], smol[1]], args.device)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
