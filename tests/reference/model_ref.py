#!/usr/bin/python3
"""Float64 numpy reference for the qwen2, qwen3 and llama text decoders.

Written from the Hugging Face definitions (transformers: models/qwen2,
models/qwen3, models/llama modeling_*.py) and llama.cpp's GGUF conventions
(shared/specs/models.md sections 2.1, 2.2, 6).  It reads the GGUF file with
its own reader (gguf_model.py) and shares no code with the engine.

Two formulations live here:
  * Model.forward()          HF math on HF-ordered weights: llama Q/K rows are
                             UN-permuted back to HF order (the inverse of
                             convert_hf_to_gguf.py LlamaModel.permute) and RoPE
                             is HF's rotate_half for every arch.  This is the
                             reference the engine is compared with.
  * Model.forward_cached()   llama.cpp-style: one token at a time with a KV
                             cache, on the GGUF weights as stored, with
                             adjacent-pair RoPE (llama, NORM) or NEOX pairs
                             (qwen).  Used only by --self-test, as a second
                             derivation that checks the un-permute.

CLI:
  model_ref.py MODEL.gguf --tokens "1 2 3" [--greedy 32] [--logits-out ref.npy]
      stdout: the greedy continuation ids (space separated) when --greedy is
      given, else the final-position logits (one line) unless --logits-out.
      stderr: a one-line summary.
  model_ref.py --self-test
"""

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_model  # noqa: E402

ARCHS = ("llama", "qwen2", "qwen3")


# ------------------------------------------------------------ permutation --
def llama_permute(w, n_head):
    """convert_hf_to_gguf.py LlamaModel.permute: HF rows -> GGUF rows.

    w: (n_head*hd, ...) ; within each head, HF row j*hd/2+i -> GGUF row 2i+j."""
    hd = w.shape[0] // n_head
    return (w.reshape(n_head, 2, hd // 2, *w.shape[1:])
             .swapaxes(1, 2).reshape(w.shape))


def llama_unpermute(w, n_head):
    """Inverse of llama_permute: GGUF rows -> HF rows."""
    hd = w.shape[0] // n_head
    return (w.reshape(n_head, hd // 2, 2, *w.shape[1:])
             .swapaxes(1, 2).reshape(w.shape))


# ------------------------------------------------------------------ model --
class Config:
    def __init__(self, g):
        kv = g.kv
        self.arch = kv.get("general.architecture")
        if self.arch not in ARCHS:
            raise ValueError("%s: architecture %r not supported by the reference"
                             % (g.path, self.arch))
        a = self.arch

        def need(key):
            if a + "." + key not in kv:
                raise ValueError("%s: missing key %s.%s" % (g.path, a, key))
            return kv[a + "." + key]

        self.n_embd = int(need("embedding_length"))
        self.n_layer = int(need("block_count"))
        self.n_ff = int(need("feed_forward_length"))
        self.n_head = int(need("attention.head_count"))
        self.n_head_kv = int(kv.get(a + ".attention.head_count_kv", self.n_head))
        self.eps = float(need("attention.layer_norm_rms_epsilon"))
        self.head_dim = int(kv.get(a + ".attention.key_length",
                                   self.n_embd // self.n_head))
        self.head_dim_v = int(kv.get(a + ".attention.value_length", self.head_dim))
        self.n_rot = int(kv.get(a + ".rope.dimension_count", self.head_dim))
        self.rope_base = float(kv.get(a + ".rope.freq_base", 10000.0))
        self.n_ctx = int(kv.get(a + ".context_length", 0))
        # HF "linear" rope scaling divides positions by the factor (llama.cpp
        # freq_scale = 1/factor).  llama3 scaling arrives as rope_freqs instead.
        self.rope_pos_scale = 1.0
        stype = kv.get(a + ".rope.scaling.type", "none")
        if stype == "linear":
            self.rope_pos_scale = 1.0 / float(kv.get(a + ".rope.scaling.factor", 1.0))
        elif stype not in ("none", "llama3"):
            raise ValueError("%s: rope scaling %r not supported by the reference"
                             % (g.path, stype))
        if self.n_rot != self.head_dim:
            raise ValueError("%s: partial rotary (n_rot %d != head_dim %d) is not "
                             "part of these HF architectures" % (g.path, self.n_rot,
                                                                 self.head_dim))
        if self.n_head % self.n_head_kv:
            raise ValueError("%s: n_head %d not a multiple of n_head_kv %d"
                             % (g.path, self.n_head, self.n_head_kv))
        if self.head_dim % 2:
            raise ValueError("%s: odd head_dim %d" % (g.path, self.head_dim))


def rms_norm(x, w, eps):
    """HF *RMSNorm: x * rsqrt(mean(x^2) + eps) * weight, over the last axis."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def kv_round(x):
    """The engine's KV cache holds f16 values (llama.cpp's default cache
    type): keys after RoPE and values are rounded to binary16."""
    return x.astype(np.float16).astype(np.float64)


def rotate_half(x):
    """HF rotate_half: cat(-x2, x1) over the last axis."""
    half = x.shape[-1] // 2
    return np.concatenate((-x[..., half:], x[..., :half]), axis=-1)


class Model:
    def __init__(self, path):
        g = gguf_model.GGUFFile(path)
        self.path = path
        self.cfg = c = Config(g)
        self.tok_embd = g.tensor("token_embd.weight")      # (n_vocab, n_embd)
        self.n_vocab = self.tok_embd.shape[0]
        self._check(self.tok_embd, (self.n_vocab, c.n_embd), "token_embd.weight")
        self.output_norm = g.tensor("output_norm.weight")  # (n_embd,)
        if g.has("output.weight"):
            self.output = g.tensor("output.weight")         # (n_vocab, n_embd)
        else:
            self.output = self.tok_embd                     # tied
        self._check(self.output, (self.n_vocab, c.n_embd), "output.weight")
        # rope_freqs: (n_rot/2,) divisors of theta (llama3 scaling); else ones
        if g.has("rope_freqs.weight"):
            self.rope_freqs = g.tensor("rope_freqs.weight").reshape(-1)
            self._check(self.rope_freqs, (c.n_rot // 2,), "rope_freqs.weight")
        else:
            self.rope_freqs = np.ones(c.n_rot // 2)
        self.layers_gguf = [self._load_layer(g, i) for i in range(c.n_layer)]
        self._check_all_used(g)
        self.layers_hf = [self._to_hf(lw) for lw in self.layers_gguf]

    def _check(self, arr, shape, name):
        if tuple(arr.shape) != tuple(shape):
            raise ValueError("%s: %s has shape %s, expected %s"
                             % (self.path, name, arr.shape, shape))

    def _check_all_used(self, g):
        """Refuse files with tensors this reference would silently ignore."""
        used = {"token_embd.weight", "output_norm.weight", "output.weight",
                "rope_freqs.weight"}
        for i, lw in enumerate(self.layers_gguf):
            for name in lw:
                used.add("blk.%d.%s" % (i, name if name.endswith(".bias")
                                        else name + ".weight"))
        extra = sorted(set(g.tensors) - used)
        if extra:
            raise ValueError("%s: tensors not understood by the reference: %s"
                             % (self.path, ", ".join(extra[:8])))

    def _load_layer(self, g, i):
        """Weights of block i exactly as stored (GGUF row order)."""
        c = self.cfg
        p = "blk.%d." % i
        shapes = {
            "attn_norm": (c.n_embd,),
            "attn_q": (c.n_head * c.head_dim, c.n_embd),
            "attn_k": (c.n_head_kv * c.head_dim, c.n_embd),
            "attn_v": (c.n_head_kv * c.head_dim_v, c.n_embd),
            "attn_output": (c.n_embd, c.n_head * c.head_dim_v),
            "ffn_norm": (c.n_embd,),
            "ffn_gate": (c.n_ff, c.n_embd),
            "ffn_up": (c.n_ff, c.n_embd),
            "ffn_down": (c.n_embd, c.n_ff),
        }
        lw = {}
        for name, shape in shapes.items():
            lw[name] = g.tensor(p + name + ".weight")
            self._check(lw[name], shape, p + name + ".weight")
        for name in ("attn_q", "attn_k", "attn_v"):
            if g.has(p + name + ".bias"):
                lw[name + ".bias"] = g.tensor(p + name + ".bias").reshape(-1)
                self._check(lw[name + ".bias"], (shapes[name][0],), p + name + ".bias")
        if c.arch == "qwen2" and "attn_q.bias" not in lw:
            raise ValueError("%s: qwen2 requires q/k/v biases" % self.path)
        if c.arch == "qwen3":
            for name in ("attn_q_norm", "attn_k_norm"):
                lw[name] = g.tensor(p + name + ".weight").reshape(-1)
                self._check(lw[name], (c.head_dim,), p + name + ".weight")
        return lw

    def _to_hf(self, lw):
        """GGUF-order weights -> HF order (llama: undo LlamaModel.permute)."""
        c = self.cfg
        hf = dict(lw)
        if c.arch == "llama":
            hf["attn_q"] = llama_unpermute(lw["attn_q"], c.n_head)
            hf["attn_k"] = llama_unpermute(lw["attn_k"], c.n_head_kv)
            if "attn_q.bias" in lw:
                hf["attn_q.bias"] = llama_unpermute(lw["attn_q.bias"], c.n_head)
            if "attn_k.bias" in lw:
                hf["attn_k.bias"] = llama_unpermute(lw["attn_k.bias"], c.n_head_kv)
        return hf

    # ------------------------------------------------------ HF formulation --
    def _inv_freq(self):
        """HF: 1/base^(arange(0,d,2)/d); llama3 scaling = divide by rope_freqs."""
        d = self.cfg.n_rot
        return 1.0 / (self.cfg.rope_base ** (np.arange(0, d, 2) / d)) / self.rope_freqs

    def forward(self, tokens):
        """Logits for every position, (T, n_vocab), float64 (HF math)."""
        c = self.cfg
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.min() < 0 or tokens.max() >= self.n_vocab:
            raise ValueError("token id out of range [0, %d)" % self.n_vocab)
        T = len(tokens)
        x = self.tok_embd[tokens]                          # (T, n_embd)
        positions = np.arange(T) * c.rope_pos_scale
        freqs = np.outer(positions, self._inv_freq())      # (T, n_rot/2)
        emb = np.concatenate((freqs, freqs), axis=-1)      # (T, hd)
        cos, sin = np.cos(emb), np.sin(emb)
        mask = np.triu(np.full((T, T), -np.inf), k=1)      # (T, T) causal
        group = c.n_head // c.n_head_kv
        for lw in self.layers_hf:
            h = rms_norm(x, lw["attn_norm"], c.eps)
            q = h @ lw["attn_q"].T                         # (T, n_head*hd)
            k = h @ lw["attn_k"].T                         # (T, n_kv*hd)
            v = h @ lw["attn_v"].T                         # (T, n_kv*hd_v)
            if "attn_q.bias" in lw:
                q = q + lw["attn_q.bias"]
            if "attn_k.bias" in lw:
                k = k + lw["attn_k.bias"]
            if "attn_v.bias" in lw:
                v = v + lw["attn_v.bias"]
            q = q.reshape(T, c.n_head, c.head_dim).transpose(1, 0, 2)      # (H, T, hd)
            k = k.reshape(T, c.n_head_kv, c.head_dim).transpose(1, 0, 2)   # (KV, T, hd)
            v = v.reshape(T, c.n_head_kv, c.head_dim_v).transpose(1, 0, 2)
            if c.arch == "qwen3":
                q = rms_norm(q, lw["attn_q_norm"], c.eps)
                k = rms_norm(k, lw["attn_k_norm"], c.eps)
            q = q * cos + rotate_half(q) * sin
            k = kv_round(k * cos + rotate_half(k) * sin)
            v = kv_round(v)
            k = np.repeat(k, group, axis=0)                # repeat_kv: (H, T, hd)
            v = np.repeat(v, group, axis=0)
            s = q @ k.transpose(0, 2, 1) / np.sqrt(c.head_dim) + mask   # (H, T, T)
            s = s - s.max(axis=-1, keepdims=True)
            p = np.exp(s)
            p = p / p.sum(axis=-1, keepdims=True)
            o = (p @ v).transpose(1, 0, 2).reshape(T, c.n_head * c.head_dim_v)
            x = x + o @ lw["attn_output"].T
            h = rms_norm(x, lw["ffn_norm"], c.eps)
            x = x + (silu(h @ lw["ffn_gate"].T) * (h @ lw["ffn_up"].T)) @ lw["ffn_down"].T
        x = rms_norm(x, self.output_norm, c.eps)
        return x @ self.output.T

    def greedy(self, tokens, n):
        """n greedy ids after tokens (full re-forward per step)."""
        seq = list(tokens)
        out = []
        for _ in range(n):
            nxt = int(np.argmax(self.forward(seq)[-1]))
            out.append(nxt)
            seq.append(nxt)
        return out

    # ------------------------------------------- llama.cpp-style formulation --
    def _rope_ggml(self, x, pos):
        """ggml rope on GGUF-ordered heads x (n, hd) at position pos.

        NORM (llama): pairs (2i, 2i+1).  NEOX (qwen): pairs (i, i+n_rot/2).
        theta_i = pos * base^(-2i/n_rot) / rope_freqs[i]."""
        c = self.cfg
        out = x.copy()
        for i in range(c.n_rot // 2):
            theta = pos * c.rope_pos_scale * c.rope_base ** (-2.0 * i / c.n_rot) / self.rope_freqs[i]
            if c.arch == "llama":
                a, b = 2 * i, 2 * i + 1
            else:
                a, b = i, i + c.n_rot // 2
            x0, x1 = x[:, a], x[:, b]
            out[:, a] = x0 * np.cos(theta) - x1 * np.sin(theta)
            out[:, b] = x0 * np.sin(theta) + x1 * np.cos(theta)
        return out

    def forward_cached(self, tokens):
        """Logits for every position via a per-token loop with a KV cache."""
        c = self.cfg
        group = c.n_head // c.n_head_kv
        k_cache = [[] for _ in range(c.n_layer)]   # per layer: list of (n_kv, hd)
        v_cache = [[] for _ in range(c.n_layer)]
        logits = []
        for pos, tok in enumerate(tokens):
            x = self.tok_embd[tok].copy()          # (n_embd,)
            for il, lw in enumerate(self.layers_gguf):
                h = rms_norm(x, lw["attn_norm"], c.eps)
                q = lw["attn_q"] @ h + lw.get("attn_q.bias", 0.0)
                k = lw["attn_k"] @ h + lw.get("attn_k.bias", 0.0)
                v = lw["attn_v"] @ h + lw.get("attn_v.bias", 0.0)
                q = q.reshape(c.n_head, c.head_dim)
                k = k.reshape(c.n_head_kv, c.head_dim)
                v = v.reshape(c.n_head_kv, c.head_dim_v)
                if c.arch == "qwen3":
                    q = rms_norm(q, lw["attn_q_norm"], c.eps)
                    k = rms_norm(k, lw["attn_k_norm"], c.eps)
                q = self._rope_ggml(q, pos)
                k = kv_round(self._rope_ggml(k, pos))
                k_cache[il].append(k)
                v_cache[il].append(kv_round(v))
                o = np.zeros((c.n_head, c.head_dim_v))
                for hh in range(c.n_head):
                    kv_h = hh // group
                    scores = np.array([q[hh] @ kk[kv_h] for kk in k_cache[il]])
                    scores = scores / np.sqrt(c.head_dim)
                    w = np.exp(scores - scores.max())
                    w /= w.sum()
                    o[hh] = sum(wt * vv[kv_h] for wt, vv in zip(w, v_cache[il]))
                x = x + lw["attn_output"] @ o.reshape(-1)
                h = rms_norm(x, lw["ffn_norm"], c.eps)
                x = x + lw["ffn_down"] @ (silu(lw["ffn_gate"] @ h) * (lw["ffn_up"] @ h))
            logits.append(self.output @ rms_norm(x, self.output_norm, c.eps))
        return np.array(logits)


# -------------------------------------------------------------- self-test --
def make_random_gguf(path, arch, ttype=gguf_model.GGML_F32, seed=0, extra=()):
    """A small random model in GGUF layout (llama Q/K permuted like the converter).

    Shapes deliberately differ from the engine's synth presets."""
    rng = np.random.default_rng(seed)
    n_embd, n_layer, n_head, n_kv, n_ff, n_vocab = 48, 2, 6, 2, 80, 97
    hd = n_embd // n_head if arch != "qwen3" else 12   # qwen3: hd != n_embd/n_head
    kv = {
        "general.architecture": arch,
        "general.alignment": 32,
        arch + ".context_length": 128,
        arch + ".embedding_length": n_embd,
        arch + ".block_count": n_layer,
        arch + ".feed_forward_length": n_ff,
        arch + ".attention.head_count": n_head,
        arch + ".attention.head_count_kv": n_kv,
        arch + ".attention.layer_norm_rms_epsilon": 1e-5,
        arch + ".rope.freq_base": 500.0,
        arch + ".rope.dimension_count": hd,
    }
    if arch == "qwen3":
        kv[arch + ".attention.key_length"] = hd
        kv[arch + ".attention.value_length"] = hd

    def rnd(*shape, scale=0.3):
        return rng.standard_normal(shape) * scale

    tensors = [("token_embd.weight", rnd(n_vocab, n_embd, scale=1.0))]
    for i in range(n_layer):
        p = "blk.%d." % i
        wq, wk = rnd(n_head * hd, n_embd), rnd(n_kv * hd, n_embd)
        bq, bk = rnd(n_head * hd), rnd(n_kv * hd)
        if arch == "llama":
            wq, wk = llama_permute(wq, n_head), llama_permute(wk, n_kv)
            bq, bk = llama_permute(bq, n_head), llama_permute(bk, n_kv)
        tensors += [
            (p + "attn_norm.weight", 1.0 + rnd(n_embd, scale=0.1)),
            (p + "attn_q.weight", wq), (p + "attn_k.weight", wk),
            (p + "attn_v.weight", rnd(n_kv * hd, n_embd)),
            (p + "attn_output.weight", rnd(n_embd, n_head * hd)),
            (p + "ffn_norm.weight", 1.0 + rnd(n_embd, scale=0.1)),
            (p + "ffn_gate.weight", rnd(n_ff, n_embd)),
            (p + "ffn_up.weight", rnd(n_ff, n_embd)),
            (p + "ffn_down.weight", rnd(n_embd, n_ff)),
        ]
        if arch in ("qwen2", "llama"):   # llama: exercise permuted biases too
            tensors += [(p + "attn_q.bias", bq), (p + "attn_k.bias", bk),
                        (p + "attn_v.bias", rnd(n_kv * hd))]
        if arch == "qwen3":
            tensors += [(p + "attn_q_norm.weight", 1.0 + rnd(hd, scale=0.2)),
                        (p + "attn_k_norm.weight", 1.0 + rnd(hd, scale=0.2))]
    tensors.append(("output_norm.weight", 1.0 + rnd(n_embd, scale=0.1)))
    if arch == "llama":
        tensors.append(("output.weight", rnd(n_vocab, n_embd)))
        tensors.append(("rope_freqs.weight", 1.0 + rng.uniform(0, 8, hd // 2)))
    tensors += list(extra)
    out = []
    for name, arr, in tensors:
        t = gguf_model.GGML_F32 if (arr.ndim == 1 or name == "rope_freqs.weight") else ttype
        out.append((name, arr, t))
    gguf_model.write_gguf(path, kv, out)
    return {name: arr for name, arr in tensors}


def self_test():
    """Checks the reference against itself in ways that can fail."""
    failures = []

    def check(cond, msg):
        print(("ok    " if cond else "FAIL  ") + msg)
        if not cond:
            failures.append(msg)

    rng = np.random.default_rng(1)
    w = rng.standard_normal((4 * 8, 5))
    check(np.array_equal(llama_unpermute(llama_permute(w, 4), 4), w),
          "llama permute/unpermute round trip")
    check(not np.array_equal(llama_permute(w, 4), w), "llama permute is not identity")
    # permute moves HF row (j*hd/2 + i) to GGUF row (2i + j) within a head
    hd = 8
    pw = llama_permute(w, 4)
    check(all(np.array_equal(pw[h * hd + 2 * i + j], w[h * hd + j * hd // 2 + i])
              for h in range(4) for i in range(hd // 2) for j in range(2)),
          "llama permute row mapping 2i+j <- j*hd/2+i")

    with tempfile.TemporaryDirectory() as tmp:
        for arch in ARCHS:
            for ttype, tname in ((gguf_model.GGML_F32, "F32"), (gguf_model.GGML_F16, "F16")):
                path = os.path.join(tmp, "%s-%s.gguf" % (arch, tname))
                src = make_random_gguf(path, arch, ttype, seed=len(arch))
                m = Model(path)
                want = src["blk.1.ffn_up.weight"]
                store = np.float16 if ttype == gguf_model.GGML_F16 else np.float32
                want = want.astype(store).astype(np.float64)
                check(np.array_equal(m.layers_gguf[1]["ffn_up"], want),
                      "%s %s: reader returns the written tensor" % (arch, tname))
                toks = [int(t) for t in rng.integers(0, m.n_vocab, 23)]
                a = m.forward(toks)
                b = m.forward_cached(toks)
                err = np.max(np.abs(a - b)) / np.max(np.abs(a))
                check(err < 1e-10, "%s %s: HF forward == ggml-style cached loop "
                      "(rel err %.2e)" % (arch, tname, err))
                # causality: appending tokens leaves earlier logits unchanged
                a2 = m.forward(toks + [5, 6])
                check(np.allclose(a2[:len(toks)], a, rtol=0, atol=1e-12),
                      "%s %s: causal mask" % (arch, tname))
                # position matters (RoPE is applied): a shifted prompt differs
                a3 = m.forward([toks[1]] + toks[1:])
                check(np.max(np.abs(a3[-1] - a[-1])) > 1e-6,
                      "%s %s: output depends on earlier tokens" % (arch, tname))
                g = m.greedy(toks[:5], 6)
                seq = toks[:5] + g
                gb = [int(np.argmax(r)) for r in m.forward_cached(seq)[4:-1]]
                check(g == gb, "%s %s: greedy ids agree between formulations %s"
                      % (arch, tname, g))
        # a tensor the reference does not understand is refused, not ignored
        path = os.path.join(tmp, "qwen2-extra.gguf")
        make_random_gguf(path, "qwen2", extra=[("blk.0.ffn_up.bias", np.ones(80))])
        try:
            Model(path)
            refused = False
        except ValueError as e:
            refused = "blk.0.ffn_up.bias" in str(e)
        check(refused, "unknown tensor blk.0.ffn_up.bias is refused")
        # a wrong un-permute must be caught by the cross-check
        path = os.path.join(tmp, "llama-bad.gguf")
        make_random_gguf(path, "llama")
        m = Model(path)
        for lw in m.layers_hf:
            lw["attn_q"] = llama_permute(lw["attn_q"], m.cfg.n_head)
            lw["attn_k"] = llama_permute(lw["attn_k"], m.cfg.n_head_kv)
        toks = [3, 1, 4, 1, 5, 9, 2, 6]
        err = np.max(np.abs(m.forward(toks) - m.forward_cached(toks)))
        check(err > 1e-3, "llama: skipping the un-permute is detected (diff %.2e)" % err)
    if failures:
        print("self-test: %d failure(s)" % len(failures))
        return 1
    print("self-test: all passed")
    return 0


# -------------------------------------------------------------------- CLI --
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?", help="GGUF file (F32/F16/BF16 weights)")
    ap.add_argument("--tokens", help='prompt ids, e.g. "1 2 3"')
    ap.add_argument("--greedy", type=int, default=0, help="greedy ids to generate")
    ap.add_argument("--logits-out", help="write final-position logits (.npy, float64)")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    if not args.model or args.tokens is None:
        ap.error("MODEL and --tokens are required")
    tokens = [int(t) for t in args.tokens.split()]
    if not tokens:
        ap.error("--tokens is empty")
    m = Model(args.model)
    logits = m.forward(tokens)[-1]
    if args.logits_out:
        np.save(args.logits_out, logits)
    print("%s: n_vocab %d, %d prompt tokens, argmax %d, max|logit| %.6g"
          % (m.cfg.arch, m.n_vocab, len(tokens), int(np.argmax(logits)),
             np.max(np.abs(logits))), file=sys.stderr)
    if args.greedy > 0:
        print(" ".join(str(t) for t in m.greedy(tokens, args.greedy)))
    elif not args.logits_out:
        print(" ".join("%.9g" % v for v in logits))
    return 0


if __name__ == "__main__":
    sys.exit(main())
