#!/usr/bin/env python3
"""End-to-end checks of wenshu-cli on bad input and on its promises.

Each bad-input case must exit non-zero with a message that names the file
and the problem, never crash (a signal exit fails the test). Broken models
are built from a synth tiny model with the independent numpy GGUF writer in
tests/reference/gguf_model.py, so the engine's own writer is not trusted here.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
try:
    import numpy as np  # noqa: F401
    import gguf_model
except ImportError:
    print("numpy missing: skip")
    sys.exit(77)

CLI = os.environ.get("WENSHU_CLI")
failures = []


def run(*args, stdin=None):
    p = subprocess.run([CLI, *args], input=stdin, capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check(name, cond, detail=""):
    print(("ok    " if cond else "FAIL  ") + name + ("" if cond else ": " + detail))
    if not cond:
        failures.append(name)


def expect_error(name, args, *needles):
    rc, out, err = run(*args)
    crashed = rc < 0 or rc >= 128 or "Sanitizer" in err or "runtime error" in err
    missing = [n for n in needles if n not in err]
    check(name, rc != 0 and not crashed and not missing,
          "rc=%d, missing %r in stderr: %s" % (rc, missing, err.strip()[:300]))


def rewrite(src, dst, drop=(), kv_changes=None, reshape=None):
    """Copy a F32/F16 GGUF through the numpy writer with edits."""
    g = gguf_model.GGUFFile(src)
    kv = dict(g.kv)
    kv.update(kv_changes or {})
    tensors = []
    for name, info in g.tensors.items():
        if name in drop:
            continue
        arr = g.tensor(name)
        if reshape and name in reshape:
            arr = arr.reshape(-1)[: int(np.prod(reshape[name]))].reshape(reshape[name])
        tensors.append((name, arr, info.type))
    gguf_model.write_gguf(dst, kv, tensors)


def main():
    if not CLI:
        print("WENSHU_CLI not set")
        return 1
    tmp = tempfile.mkdtemp(prefix="wenshu-cli-test-")
    good = os.path.join(tmp, "tiny.gguf")
    rc, _, err = run("synth", "--arch", "qwen2", "--preset", "tiny", "-o", good)
    check("synth tiny", rc == 0, err)
    data = open(good, "rb").read()

    # Truncated files, wrong magic.
    for frac in (0.001, 0.01, 0.3, 0.9, 0.999):
        cut = os.path.join(tmp, "cut-%g.gguf" % frac)
        open(cut, "wb").write(data[: int(len(data) * frac)])
        expect_error("run on a file truncated at %g" % frac,
                     ["run", "-m", cut, "-p", "hi", "-n", "2"], cut)
        expect_error("inspect a file truncated at %g" % frac, ["inspect", cut], cut)
    bad_magic = os.path.join(tmp, "magic.gguf")
    open(bad_magic, "wb").write(b"GGUX" + data[4:])
    expect_error("wrong magic", ["run", "-m", bad_magic, "-p", "hi"], bad_magic)
    expect_error("missing file", ["run", "-m", os.path.join(tmp, "nope.gguf"), "-p", "x"],
                 "nope.gguf")

    # Structurally valid files with bad contents.
    arch = os.path.join(tmp, "arch.gguf")
    rewrite(good, arch, kv_changes={"general.architecture": "mamba"})
    expect_error("unknown architecture", ["run", "-m", arch, "-p", "hi"], arch, "mamba")
    missing = os.path.join(tmp, "missing.gguf")
    rewrite(good, missing, drop=("blk.1.attn_q.weight",))
    expect_error("missing tensor", ["run", "-m", missing, "-p", "hi"], missing,
                 "blk.1.attn_q.weight")
    shaped = os.path.join(tmp, "shape.gguf")
    rewrite(good, shaped, reshape={"blk.0.ffn_up.weight": (64, 64)})
    expect_error("mis-shaped tensor", ["run", "-m", shaped, "-p", "hi"], shaped,
                 "blk.0.ffn_up.weight")
    nohp = os.path.join(tmp, "nohp.gguf")
    g = gguf_model.GGUFFile(good)
    kv = {k: v for k, v in g.kv.items() if k != "qwen2.block_count"}
    gguf_model.write_gguf(nohp, kv, [(n, g.tensor(n), i.type) for n, i in g.tensors.items()])
    expect_error("missing hyper-parameter", ["run", "-m", nohp, "-p", "hi"], nohp,
                 "qwen2.block_count")

    # Requests the engine must refuse rather than truncate.
    long_prompt = "the " * 80
    expect_error("prompt longer than the context (run)",
                 ["run", "-m", good, "--ctx", "32", "--raw", "-p", long_prompt, "-n", "4"],
                 "context")
    expect_error("prompt longer than the context (logits)",
                 ["logits", "-m", good, "--ctx", "32", "-p", long_prompt, "-o",
                  os.path.join(tmp, "x.npy")], "context")
    expect_error("unknown quant type", ["quantize", good, os.path.join(tmp, "q.gguf"), "Q9_9"],
                 "Q9_9")
    expect_error("bad option", ["run", "-m", good, "--frobnicate"], "--frobnicate")
    expect_error("bad number", ["run", "-m", good, "-p", "x", "-n", "many"], "many")

    # Seeds make sampling repeatable; different seeds differ.
    def sample(seed):
        rc, out, err = run("run", "-m", good, "--raw", "-p", "Hello the world", "-n", "24",
                           "--temp", "1.5", "--top-k", "0", "--top-p", "1", "--min-p", "0",
                           "--seed", str(seed))
        return rc, out
    a, b, c = sample(7), sample(7), sample(8)
    check("same seed, same text", a[0] == 0 and a == b, "%r vs %r" % (a, b))
    check("different seed, different text", c[0] == 0 and a[1] != c[1], "%r vs %r" % (a, c))

    # bench --json has the promised keys.
    rc, out, err = run("bench", "-m", good, "-t", "2", "-p", "8", "-n", "4", "-r", "1", "--json")
    import json
    try:
        obj = json.loads(out)
        keys_ok = all(k in obj and obj[k] > 0 for k in ("pp_tps", "tg_tps", "peak_rss_bytes"))
    except ValueError:
        keys_ok = False
    check("bench --json", rc == 0 and keys_ok, out + err)

    # inspect lists tensors with types.
    rc, out, err = run("inspect", good)
    check("inspect", rc == 0 and "blk.0.attn_q.weight" in out and "F32" in out, err)

    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
