#!/usr/bin/env python3
"""Quantized models end to end: the logits of a quantized model stay close
to those of its F32 original, for every type `quantize` writes.

The F32 model's logits are checked against the numpy reference elsewhere
(test-model-ref.py); here the reference is that F32 run. The bound per type
comes from the format's precision (Q8_0 ~0.5% relative per weight, 4-bit
types ~7%) through a 2-layer model; each was measured, then set with margin.
This exercises mixed files too: the tied output becomes Q6_K in 4- and 5-bit
files, and the K types need Q8_K activations while Q8_0 needs Q8_0.
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("numpy missing: skip")
    sys.exit(77)

CLI = os.environ["WENSHU_CLI"]
PROMPT = "The clerk drafted the notice, and the office approved it."
# type -> max |diff| / max |ref| allowed: about 1.5x what was measured
# (F16 0.0008, BF16 0.007, Q8_0 0.026, Q6_K 0.043, Q5_x 0.083-0.089,
# Q4_x 0.16-0.19, IQ4_NL 0.14). Activations are quantized too (Q8_0/Q8_K),
# which sets the floor of the 8-bit types. A broken kernel or a wrong
# activation type gives errors of order 1.
BOUNDS = {"F16": 0.002, "BF16": 0.015, "Q8_0": 0.04, "Q6_K": 0.07, "Q5_K": 0.13, "Q5_0": 0.13,
          "Q5_1": 0.13, "Q4_K": 0.28, "Q4_0": 0.28, "Q4_1": 0.28, "IQ4_NL": 0.21}


def run(*args):
    p = subprocess.run([CLI, *args], capture_output=True, timeout=120)
    if p.returncode != 0:
        raise SystemExit("FAIL: %s: %s" % (" ".join(args), p.stderr.decode()))
    return p.stdout.decode()


def logits(model, out):
    run("logits", "-m", model, "-p", PROMPT, "-o", out)
    return np.load(out).astype(np.float64)


def main():
    tmp = tempfile.mkdtemp(prefix="wenshu-quantized-")
    f32 = os.path.join(tmp, "small-f32.gguf")
    run("synth", "--preset", "small", "-o", f32)
    ref = logits(f32, os.path.join(tmp, "ref.npy"))
    failures = 0
    for qtype, bound in BOUNDS.items():
        path = os.path.join(tmp, "small-%s.gguf" % qtype)
        run("quantize", f32, path, qtype)
        got = logits(path, os.path.join(tmp, "%s.npy" % qtype))
        ratio = np.max(np.abs(got - ref)) / np.max(np.abs(ref))
        cosine = got @ ref / (np.linalg.norm(got) * np.linalg.norm(ref))
        ok = ratio <= bound and np.argmax(got) == np.argmax(ref) and cosine > 0.95
        failures += not ok
        print("%s %-6s max|diff|/max|ref| %.4f (bound %.3f), cosine %.5f, argmax %d vs %d" % (
            "ok  " if ok else "FAIL", qtype, ratio, bound, cosine, np.argmax(got),
            np.argmax(ref)))
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
