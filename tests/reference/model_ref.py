#!/usr/bin/python3
"""Float64 numpy reference for the qwen2, qwen2vl, qwen3 and llama text decoders.

Written from the Hugging Face definitions (transformers: models/qwen2,
models/qwen3, models/llama modeling_*.py; models/qwen2_vl modeling_qwen2_vl.py
for qwen2vl: Qwen2 blocks with M-RoPE, apply_multimodal_rotary_pos_emb and
get_rope_index) and llama.cpp's GGUF conventions (shared/specs/models.md
sections 2.1, 2.2, 2.5, 6).  It reads the GGUF file with its own reader
(gguf_model.py) and shares no code with the engine.

Two formulations live here:
  * Model.forward()          HF math on HF-ordered weights: llama Q/K rows are
                             UN-permuted back to HF order (the inverse of
                             convert_hf_to_gguf.py LlamaModel.permute) and RoPE
                             is HF's rotate_half for every arch.  This is the
                             reference the engine is compared with.
  * Model.forward_cached()   llama.cpp-style: one token at a time with a KV
                             cache, on the GGUF weights as stored, with
                             adjacent-pair RoPE (llama, NORM) or NEOX pairs
                             (qwen), M-RoPE as per-pair stream choice
                             (ggml_mrope_cache_init).  Used only by
                             --self-test, as a second derivation that checks
                             the un-permute and the M-RoPE sections.
  Model.forward_items()      a prompt of token ids and image embedding blocks
                             (qwen2vl: M-RoPE positions as HF get_rope_index;
                             llama: plain 1-D positions); last-position logits.

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

ARCHS = ("llama", "qwen2", "qwen2vl", "qwen3")


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
        # qwen2vl M-RoPE: pairs per position stream (t, h, w, extra)
        self.mrope_sections = None
        if a == "qwen2vl":
            sec = [int(v) for v in need("rope.dimension_sections")]
            if len(sec) != 4 or min(sec) < 0 or sec[3] != 0 or sum(sec) != self.n_rot // 2:
                raise ValueError("%s: qwen2vl.rope.dimension_sections %s: expected 3 "
                                 "sections summing to n_rot/2 = %d and a 4th of 0 (HF "
                                 "mrope_section)" % (g.path, sec, self.n_rot // 2))
            self.mrope_sections = sec[:3]


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
        if c.arch in ("qwen2", "qwen2vl") and "attn_q.bias" not in lw:
            raise ValueError("%s: %s requires q/k/v biases" % (self.path, c.arch))
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

    def _check_tokens(self, tokens):
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.n_vocab):
            raise ValueError("token id out of range [0, %d)" % self.n_vocab)
        return tokens

    def forward(self, tokens):
        """Logits for every position, (T, n_vocab), float64 (HF math)."""
        tokens = self._check_tokens(tokens)
        return self.forward_embd(self.tok_embd[tokens], np.arange(len(tokens)))

    def _cos_sin(self, positions):
        """cos, sin (T, hd).  positions: (T,) or, for qwen2vl, (3, T) t/h/w.

        qwen2vl follows HF apply_multimodal_rotary_pos_emb: cos/sin are built
        per stream, split into chunks mrope_section * 2 along hd, and chunk i
        is taken from stream i % 3."""
        c = self.cfg
        pos = np.asarray(positions, dtype=np.float64) * c.rope_pos_scale
        if pos.ndim == 1:
            pos = np.stack([pos, pos, pos])                # (3, T)
        freqs = pos[:, :, None] * self._inv_freq()         # (3, T, n_rot/2)
        emb = np.concatenate((freqs, freqs), axis=-1)      # (3, T, hd)
        cos, sin = np.cos(emb), np.sin(emb)
        if c.mrope_sections is None:
            if not (np.array_equal(pos[0], pos[1]) and np.array_equal(pos[0], pos[2])):
                raise ValueError("%s: multi-stream positions need M-RoPE (qwen2vl)" % c.arch)
            return cos[0], sin[0]
        bounds = np.cumsum(c.mrope_sections * 2)[:-1]
        pick = [(i % 3, chunk) for i, chunk in enumerate(np.split(np.arange(c.head_dim), bounds))]
        cos = np.concatenate([cos[s][:, idx] for s, idx in pick], axis=-1)
        sin = np.concatenate([sin[s][:, idx] for s, idx in pick], axis=-1)
        return cos, sin

    def forward_embd(self, x, positions):
        """Logits (T, n_vocab) for input embeddings x (T, n_embd) at
        positions (T,) or (3, T) (qwen2vl t/h/w streams)."""
        c = self.cfg
        x = np.asarray(x, dtype=np.float64)
        T = x.shape[0]
        if x.shape != (T, c.n_embd):
            raise ValueError("embeddings shape %s, expected (T, %d)" % (x.shape, c.n_embd))
        cos, sin = self._cos_sin(positions)
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

    def prompt_positions(self, items):
        """Input embeddings (T, n_embd) and positions for a prompt of items.

        items: a list of ("text", ids) and ("image", embd (n, n_embd), (gh, gw))
        with gh * gw == n (the merged grid; ignored for 1-D archs).
        qwen2vl (HF get_rope_index): text runs on from p; an image block
        starting at p0 gives token i t=p0, h=p0+i//gw, w=p0+i%gw, and the next
        text starts at p0+max(gh, gw).  Other archs: positions 0..T-1.
        Returns (x, positions (T,) or (3, T))."""
        c = self.cfg
        rows, pos = [], []
        p = 0
        for item in items:
            if item[0] == "text":
                ids = self._check_tokens(item[1])
                rows.append(self.tok_embd[ids])
                pos += [(p + i,) * 3 for i in range(len(ids))]
                p += len(ids)
            elif item[0] == "image":
                embd = np.asarray(item[1], dtype=np.float64)
                gh, gw = item[2]
                if embd.ndim != 2 or embd.shape[1] != c.n_embd:
                    raise ValueError("image embeddings shape %s, expected (n, %d)"
                                     % (embd.shape, c.n_embd))
                rows.append(embd)
                if c.mrope_sections is None:
                    pos += [(p + i,) * 3 for i in range(len(embd))]
                    p += len(embd)
                else:
                    if gh * gw != len(embd):
                        raise ValueError("image grid %dx%d != %d rows" % (gh, gw, len(embd)))
                    pos += [(p, p + i // gw, p + i % gw) for i in range(len(embd))]
                    p += max(gh, gw)
            else:
                raise ValueError("unknown prompt item %r" % (item[0],))
        x = np.concatenate(rows, axis=0)
        positions = np.array(pos, dtype=np.int64).T            # (3, T)
        if c.mrope_sections is None:
            positions = positions[0]
        return x, positions

    def forward_items(self, items):
        """Last-position logits (n_vocab,) for a prompt of text and images."""
        x, positions = self.prompt_positions(items)
        return self.forward_embd(x, positions)[-1]

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
        theta_i = p * base^(-2i/n_rot) / rope_freqs[i], where p = pos, or for
        M-RoPE (pos = (t, h, w)) the stream of pair i's section: t for
        i < s0, h for i < s0+s1, w for i < s0+s1+s2."""
        c = self.cfg
        out = x.copy()
        streams = np.broadcast_to(np.asarray(pos, dtype=np.float64), (3,))
        for i in range(c.n_rot // 2):
            if c.mrope_sections is None:
                p = streams[0]
            else:
                s0, s1, _ = c.mrope_sections
                p = streams[0] if i < s0 else streams[1] if i < s0 + s1 else streams[2]
            theta = p * c.rope_pos_scale * c.rope_base ** (-2.0 * i / c.n_rot) / self.rope_freqs[i]
            if c.arch == "llama":
                a, b = 2 * i, 2 * i + 1
            else:
                a, b = i, i + c.n_rot // 2
            x0, x1 = x[:, a], x[:, b]
            out[:, a] = x0 * np.cos(theta) - x1 * np.sin(theta)
            out[:, b] = x0 * np.sin(theta) + x1 * np.cos(theta)
        return out

    def forward_cached(self, tokens, embd=None, positions=None):
        """Logits for every position via a per-token loop with a KV cache.

        With embd (T, n_embd) and positions (a list of T ints or (t, h, w)
        triples) the inputs are those rows instead of the token embeddings."""
        c = self.cfg
        group = c.n_head // c.n_head_kv
        k_cache = [[] for _ in range(c.n_layer)]   # per layer: list of (n_kv, hd)
        v_cache = [[] for _ in range(c.n_layer)]
        logits = []
        if embd is None:
            embd = self.tok_embd[np.asarray(tokens, dtype=np.int64)]
            positions = range(len(tokens))
        for pos, row in zip(positions, embd):
            x = np.array(row, dtype=np.float64)    # (n_embd,)
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
def make_random_gguf(path, arch, ttype=gguf_model.GGML_F32, seed=0, extra=(),
                     sections=(1, 2, 1, 0)):
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
    if arch == "qwen2vl":
        kv[arch + ".rope.dimension_sections"] = list(sections)

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
        if arch in ("qwen2", "qwen2vl", "llama"):   # llama: exercise permuted biases too
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


def mrope_positions(items):
    """mtmd MTMD_POS_TYPE_MROPE positions written out per token (spec 2.5):
    text at p gets (p, p, p); image chunk at p0 with nx columns, ny rows:
    token i -> (p0, p0 + i / nx, p0 + i % nx), next text at p0 + max(nx, ny)."""
    out, p = [], 0
    for item in items:
        if item[0] == "text":
            for _ in item[1]:
                out.append((p, p, p))
                p += 1
        else:
            ny, nx = item[2]
            for i in range(len(item[1])):
                out.append((p, p + i // nx, p + i % nx))
            p += max(nx, ny)
    return out


def mrope_checks(tmp, rng, check):
    """qwen2vl M-RoPE and the prompt-items forward, checked two ways."""
    path_vl = os.path.join(tmp, "vl.gguf")
    path_q2 = os.path.join(tmp, "vl-as-qwen2.gguf")
    make_random_gguf(path_vl, "qwen2vl", seed=11)
    make_random_gguf(path_q2, "qwen2", seed=11)
    vl, q2 = Model(path_vl), Model(path_q2)
    toks = [int(t) for t in rng.integers(0, vl.n_vocab, 9)]
    err = np.max(np.abs(vl.forward(toks) - q2.forward(toks)))
    check(err < 1e-12, "qwen2vl text-only == qwen2 with the same weights (diff %.1e)" % err)
    for grid in ((2, 3), (4, 1), (1, 5)):
        embd = rng.standard_normal((grid[0] * grid[1], vl.cfg.n_embd))
        items = [("text", toks[:4]), ("image", embd, grid), ("text", toks[4:])]
        a = vl.forward_items(items)
        x, _ = vl.prompt_positions(items)
        b = vl.forward_cached(None, embd=x, positions=mrope_positions(items))[-1]
        e = np.max(np.abs(a - b)) / np.max(np.abs(a))
        check(e < 1e-10, "qwen2vl image grid %dx%d: HF mrope_section chunks == per-pair "
              "streams with mtmd positions (rel %.1e)" % (grid[0], grid[1], e))
        _, pos = vl.prompt_positions(items)
        check(pos.shape == (3, len(x)) and pos[0, -1] == 4 + max(grid) + len(toks) - 5,
              "qwen2vl grid %dx%d: text after the image at p0 + max(gh, gw)" % grid)
    # the streams matter: h and w swapped (grid transposed) changes the logits
    embd = rng.standard_normal((6, vl.cfg.n_embd))
    a = vl.forward_items([("text", toks[:3]), ("image", embd, (2, 3)), ("text", toks[3:])])
    b = vl.forward_items([("text", toks[:3]), ("image", embd, (3, 2)), ("text", toks[3:])])
    check(np.max(np.abs(a - b)) > 1e-6, "qwen2vl: the image grid changes the logits")
    # llama: images take plain 1-D positions
    path_ll = os.path.join(tmp, "ll-items.gguf")
    make_random_gguf(path_ll, "llama", seed=12)
    ll = Model(path_ll)
    embd = rng.standard_normal((5, ll.cfg.n_embd))
    items = [("text", toks[:2]), ("image", embd, (0, 0)), ("text", toks[2:])]
    x, pos = ll.prompt_positions(items)
    a = ll.forward_items(items)
    b = ll.forward_cached(None, embd=x, positions=range(len(x)))[-1]
    check(pos.ndim == 1 and np.max(np.abs(a - b)) / np.max(np.abs(a)) < 1e-10,
          "llama prompt with an image block: 1-D positions, both formulations agree")
    # sections that do not cover head_dim/2 are refused
    bad = os.path.join(tmp, "vl-bad.gguf")
    make_random_gguf(bad, "qwen2vl", sections=(1, 1, 1, 0))
    try:
        Model(bad)
        refused = False
    except ValueError as e:
        refused = "dimension_sections" in str(e)
    check(refused, "qwen2vl sections not summing to head_dim/2 are refused")


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
        mrope_checks(tmp, rng, check)
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
