#!/usr/bin/python3
"""qwen2vl M-RoPE and embedding inputs against the float64 numpy reference.

`test-mrope --dump DIR` writes the tiny qwen2vl synth model and the engine's
CPU logits for two prompts, evaluated through session_eval_input:
  text   30 token ids in batches of 8 (all position streams equal);
  image  7 text tokens, a 3x4 block of image embedding rows at M-RoPE
         positions (t = 7, h = 7 + i // 4, w = 7 + i % 4), then 6 text tokens
         from position 7 + max(3, 4) = 11; batches of 5.
tests/reference/model_ref.py (written from HF modeling_qwen2_vl.py:
apply_multimodal_rotary_pos_emb, get_rope_index) computes the same logits
from the GGUF file: Model.forward() on the ids, Model.forward_embd() on the
input rows with the (3, T) positions; the image prompt's positions are also
rebuilt here with Model.prompt_positions() and must equal the dumped ones.
F32 weights: max|diff| <= 1e-4 * max|ref|, and the argmax must agree.
"""

import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
import model_ref  # noqa: E402

TOL = 1e-4
failures = []


def compare(tag, eng, ref):
    scale = np.max(np.abs(ref))
    rel = float(np.max(np.abs(eng - ref)) / scale)
    ok = rel <= TOL and int(np.argmax(eng)) == int(np.argmax(ref))
    print("%s %-6s max|diff|/max|ref| %.2e (limit %.0e), argmax %d / ref %d"
          % ("ok  " if ok else "FAIL", tag, rel, TOL, int(np.argmax(eng)), int(np.argmax(ref))))
    if not ok:
        failures.append(tag)


def main():
    driver = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([driver, "--dump", tmp], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            print(r.stdout + r.stderr)
            return 1
        m = model_ref.Model(os.path.join(tmp, "model.gguf"))
        n_vocab, n_embd = m.n_vocab, m.cfg.n_embd

        def load(name, dtype):
            return np.fromfile(os.path.join(tmp, name), dtype=dtype)

        tokens = load("text.tokens.i32", "<i4")
        compare("text", load("text.logits.f32", "<f4").astype(np.float64),
                m.forward(tokens)[-1])

        x = load("image.x.f32", "<f4").astype(np.float64).reshape(-1, n_embd)
        pos = load("image.pos.i32", "<i4").reshape(3, -1)
        # The positions the engine was given must be HF get_rope_index's.
        n1, gh, gw = 7, 3, 4
        items = [("text", [0] * n1), ("image", x[n1:n1 + gh * gw], (gh, gw)),
                 ("text", [0] * (x.shape[0] - n1 - gh * gw))]
        _, ref_pos = m.prompt_positions(items)
        if not np.array_equal(ref_pos, pos):
            print("FAIL positions differ from get_rope_index:\n%s\n%s" % (pos, ref_pos))
            failures.append("positions")
        compare("image", load("image.logits.f32", "<f4").astype(np.float64),
                m.forward_embd(x, pos)[-1])
        if n_vocab != load("image.logits.f32", "<f4").size:
            failures.append("n_vocab")
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
