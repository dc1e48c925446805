#!/usr/bin/python3
"""Model level check of the Vulkan backend against the CPU backend.

For each architecture (qwen2, qwen3, llama) a tiny synth model with F32
weights, and the small qwen2 preset with F16 weights, run through
`wenshu-cli logits` twice, with --device cpu and --device vulkan (the best
Vulkan device, lavapipe in CI):
  - last-position logits: max|vk - cpu| <= 1e-3 * max|cpu| (prompts of 1,
    ~10 and ~50 tokens, so both the matrix-vector and the tiled product run);
  - 32 greedy ids identical (the decode path: one token per forward).
Every weight type the shaders read also runs end to end: the small qwen2
model is requantized to each type and the Vulkan logits must stay within
3e-2 * max|cpu| of the CPU's on the same file (the CPU quantizes activations
to 8 bits for those types; the shaders keep them f32, so the bound is wider),
and the Vulkan top-1 id must be a CPU top-1 up to that bound (a near-tie may
flip between the two).
One case runs with the Khronos validation layer (WENSHU_VK_VALIDATION=1),
which must report no error.
Small-device paths: with WENSHU_VK_MAX_BINDING=128 KiB and
WENSHU_VK_MAX_ALLOC=256 KiB the larger matrices are split over several
bindings, the weights over many allocations, and a prompt over several
batches, and the logits must still match; with
WENSHU_VK_MEMORY_LIMIT the load (or the KV cache) fails with a message that
names the device and the sizes, and --device auto falls back to the CPU
with a notice when there is no loader or no GPU.
Exit 0 pass, 1 fail, 77 when there is no Vulkan device at all.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CLI = os.environ["WENSHU_CLI"]
PROMPTS = ["A", "Hello, wor", "The quick brown fox jumps over the lazy dog, twice and again."]
N_GREEDY = 32
TOL_FLOAT = 1e-3
TOL_QUANT = 3e-2
QUANT_TYPES = ["F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K",
               "IQ4_NL"]

failures = []


def run(args, env=None, timeout=600, check=True):
    r = subprocess.run([CLI] + args, capture_output=True, text=True, timeout=timeout,
                       env=env)
    if check and r.returncode != 0:
        raise RuntimeError("`wenshu-cli %s` exited %d: %s" % (" ".join(args), r.returncode,
                                                             r.stderr.strip()[-600:]))
    return r


def logits(path, device, prompt, out, n_greedy, env=None):
    r = run(["logits", "-m", path, "--device", device, "-p", prompt, "-o", out,
             "-n", str(n_greedy)], env=env)
    ids = [int(t) for t in r.stdout.split()] if n_greedy else []
    return np.load(out).astype(np.float64), ids, r.stderr


def compare(tag, path, prompt, tol, n_greedy, tmp, env=None):
    cpu, cpu_ids, _ = logits(path, "cpu", prompt, os.path.join(tmp, "cpu.npy"), n_greedy)
    vk, vk_ids, err = logits(path, "vulkan", prompt, os.path.join(tmp, "vk.npy"), n_greedy,
                             env)
    scale = np.max(np.abs(cpu))
    rel = float(np.max(np.abs(vk - cpu)) / scale)
    top1_ok = cpu[int(np.argmax(vk))] >= cpu.max() - tol * scale
    ok = rel <= tol and vk_ids == cpu_ids and top1_ok
    print("%s %-34s prompt %2d chars: max|diff|/max|logit| %.2e (limit %.0e), greedy %s" %
          ("ok  " if ok else "FAIL", tag, len(prompt), rel, tol,
           "same %d ids" % len(cpu_ids) if vk_ids == cpu_ids else
           "DIFFER\n      cpu %s\n      vk  %s" % (cpu_ids, vk_ids)))
    if not ok:
        failures.append("%s %r" % (tag, prompt))
    return err


def expect(tag, cond, detail):
    print("%s %s%s" % ("ok  " if cond else "FAIL", tag, "" if cond else "\n      " + detail))
    if not cond:
        failures.append(tag)


def check_fallbacks(path, small, usable, tmp):
    out = os.path.join(tmp, "fallback.npy")
    args = ["logits", "-m", path, "-p", "Hi", "-o", out]
    no_loader = dict(os.environ, WENSHU_VULKAN_LOADER="/nonexistent/libvulkan.so.1")
    r = run(args + ["--device", "auto"], no_loader, check=False)
    expect("no loader, --device auto: CPU with a notice", r.returncode == 0 and
           "no Vulkan loader" in r.stderr and "running on the CPU" in r.stderr, r.stderr)
    r = run(args + ["--device", "vulkan"], no_loader, check=False)
    expect("no loader, --device vulkan: a clear error", r.returncode != 0 and
           "no Vulkan loader" in r.stderr, r.stderr)
    r = run(args + ["--device", "auto"], check=False)
    gpus = [d for d in usable if d["type"] != "cpu"]
    if not gpus:
        expect("no GPU, --device auto: CPU with a notice", r.returncode == 0 and
               "no Vulkan GPU found" in r.stderr and "running on the CPU" in r.stderr, r.stderr)
    r = run(args + ["--device", "9"], check=False)
    expect("--device 9: a clear error", r.returncode != 0 and "does not exist" in r.stderr,
           r.stderr)
    # The small model: 4.8 MiB of weights, after the 32 MiB staging buffer.
    args = ["logits", "-m", small, "-p", "Hi", "-o", out, "--device", "vulkan"]
    full = dict(os.environ, WENSHU_VK_MEMORY_LIMIT="%d" % (33 << 20))
    r = run(args, full, check=False)
    expect("device memory too small for the weights: a clear error", r.returncode != 0 and
           small in r.stderr and "out of device memory" in r.stderr and "MiB" in r.stderr,
           r.stderr)
    cache = dict(os.environ, WENSHU_VK_MEMORY_LIMIT="%d" % (37 << 20))
    r = run(args + ["--ctx", "512"], cache, check=False)
    expect("no room for the KV cache: a clear error", r.returncode != 0 and
           "KV cache" in r.stderr and "out of device memory" in r.stderr, r.stderr)


def main():
    devices = json.loads(run(["devices", "--json"]).stdout)
    if not devices["devices"]:
        print("SKIP: no Vulkan device")
        return 77
    usable = [d for d in devices["devices"] if d["usable"]]
    if not usable:
        print("FAIL: Vulkan devices exist but none is usable: %s" % devices["devices"])
        return 1
    print("Vulkan devices: %s" % ", ".join("%s (%s)" % (d["name"], d["type"]) for d in usable))
    tmp = tempfile.mkdtemp(prefix="wenshu-vk-model-")
    models = []
    for arch in ("qwen2", "qwen3", "llama"):
        path = os.path.join(tmp, arch + ".gguf")
        run(["synth", "--arch", arch, "--preset", "tiny", "-o", path])
        models.append(("%s tiny F32" % arch, path))
    small = os.path.join(tmp, "small-f32.gguf")
    run(["synth", "--arch", "qwen2", "--preset", "small", "-o", small])
    small16 = os.path.join(tmp, "small-f16.gguf")
    run(["synth", "--arch", "qwen2", "--preset", "small", "--type", "F16", "-o", small16])
    models.append(("qwen2 small F16", small16))

    for tag, path in models:
        for prompt in PROMPTS:
            compare(tag, path, prompt, TOL_FLOAT, N_GREEDY, tmp)

    for qtype in QUANT_TYPES:
        path = os.path.join(tmp, "small-%s.gguf" % qtype)
        run(["quantize", small, path, qtype])
        compare("qwen2 small %s" % qtype, path, PROMPTS[2], TOL_QUANT, 0, tmp)

    small_device = dict(os.environ, WENSHU_VK_MAX_BINDING="131072",
                        WENSHU_VK_MAX_ALLOC="262144")
    compare("qwen2 small F32, 128 KiB bindings", small, PROMPTS[2], TOL_FLOAT, N_GREEDY, tmp,
            small_device)
    check_fallbacks(models[0][1], small, usable, tmp)

    env = dict(os.environ, WENSHU_VK_VALIDATION="1")
    err = compare("llama tiny F32 (validation on)", models[2][1], PROMPTS[2], TOL_FLOAT, 8, tmp,
                  env)
    n_errors = err.count("Vulkan validation error")
    layer_missing = "validation layer was asked for but is not installed" in err
    print("%s validation layer: %s" % (
        "FAIL" if n_errors or layer_missing else "ok  ",
        "not installed" if layer_missing else "%d errors" % n_errors))
    if n_errors or layer_missing:
        print(err[-2000:])
        failures.append("validation")

    if failures:
        print("%d case(s) failed" % len(failures))
        return 1
    print("all Vulkan model checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
