#!/usr/bin/python3
"""vision_ref.py: float64 numpy reference for the vision encoders and projectors.

Written from the Hugging Face definitions, independently of the engine:
  qwen2vl_merger    transformers models/qwen2_vl/modeling_qwen2_vl.py
                    (Qwen2VisionTransformerPretrainedModel: PatchEmbed Conv3d,
                    VisionRotaryEmbedding + rot_pos_emb, Qwen2VLVisionBlock with
                    LayerNorm and a quick-GELU MLP, PatchMerger).
  qwen2.5vl_merger  models/qwen2_5_vl/modeling_qwen2_5_vl.py (RMSNorm, gated
                    SiLU MLP with biases, get_window_index windows, full
                    attention in the fullatt_block_indexes layers, merger ln_q
                    RMSNorm, reverse of the window order after the merger).
  idefics3          models/idefics3/modeling_idefics3.py (SigLIP-style
                    Idefics3VisionEmbeddings / encoder / post_layernorm,
                    Idefics3Connector.pixel_shuffle + modality_projection).
The GGUF file is read with gguf_model.py, in the tensor names and key set of
llama.cpp's converter (shared/specs/models.md 2.3).  ggml ne is reversed into
numpy shapes: a Linear weight ne [in, out] is W[out][in].

API:
  encode_qwen(mmproj, pixel_values, grid_thw) -> [t*h*w/m^2][projection_dim]
  encode_idefics3(mmproj, images)             -> [n*tokens_per_image][projection_dim]
  (mmproj: a path or a Projector)

CLI:
  vision_ref.py --self-test      internal consistency, needs no engine
"""

import argparse
import math
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_model  # noqa: E402

TYPES = ("qwen2vl_merger", "qwen2.5vl_merger", "idefics3")
DEFAULT_WINDOW_SIZE = 112   # Qwen2.5-VL vision_config.window_size


# ------------------------------------------------------------ activations --
def layer_norm(x, w, b, eps):
    """nn.LayerNorm over the last axis (biased variance)."""
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    """Qwen2RMSNorm: x * rsqrt(mean(x^2) + eps) * weight."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def quick_gelu(x):
    """ACT2FN['quick_gelu']: x * sigmoid(1.702 x)."""
    return x / (1.0 + np.exp(-1.702 * x))


def gelu_erf(x):
    """nn.GELU(): 0.5 x (1 + erf(x / sqrt 2))."""
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def gelu_tanh(x):
    """ACT2FN['gelu_pytorch_tanh']."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate((-x[..., half:], x[..., :half]), axis=-1)


# -------------------------------------------------------------- projector --
class Projector:
    """The weights and hyper-parameters of one mmproj file, as float64."""

    def __init__(self, path):
        g = gguf_model.GGUFFile(path)
        kv = g.kv
        self.path = path
        if kv.get("general.architecture") != "clip":
            raise ValueError("%s: not an mmproj file" % path)
        self.type = kv.get("clip.projector_type", kv.get("clip.vision.projector_type"))
        if self.type not in TYPES:
            raise ValueError("%s: projector type %r not supported" % (path, self.type))

        def need(key):
            if key not in kv:
                raise ValueError("%s: missing key %s" % (path, key))
            return kv[key]

        self.n_embd = int(need("clip.vision.embedding_length"))
        self.n_head = int(need("clip.vision.attention.head_count"))
        self.n_layer = int(need("clip.vision.block_count"))
        self.eps = float(need("clip.vision.attention.layer_norm_epsilon"))
        self.patch_size = int(need("clip.vision.patch_size"))
        self.image_size = int(need("clip.vision.image_size"))
        self.projection_dim = int(need("clip.vision.projection_dim"))
        self.head_dim = self.n_embd // self.n_head
        self.qwen = self.type != "idefics3"
        if self.qwen:
            self.merge = int(kv.get("clip.vision.spatial_merge_size", 2))
            self.window_size = int(kv.get("clip.vision.window_size", DEFAULT_WINDOW_SIZE))
            self.n_wa_pattern = int(kv.get("clip.vision.n_wa_pattern", 0))
        else:
            self.merge = int(need("clip.vision.projector.scale_factor"))
            # HF size.longest_edge; 0 when the file does not say
            self.preproc_image_size = int(kv.get("clip.vision.preproc_image_size", 0))
        self.tensors = {}
        self._load(g)
        unused = sorted(set(g.tensors) - set(self.tensors))
        if unused:
            raise ValueError("%s: tensors not understood by the reference: %s"
                             % (path, ", ".join(unused[:8])))

    def t(self, name):
        return self.tensors[name]

    def _get(self, g, name, shape):
        """Load tensor `name`, checking its numpy shape."""
        arr = g.tensor(name)
        if arr.ndim > 1 and arr.shape[0] == 1 and len(shape) == 1:
            arr = arr.reshape(-1)
        if tuple(arr.shape) != tuple(shape):
            raise ValueError("%s: %s has shape %s, expected %s"
                             % (self.path, name, arr.shape, shape))
        self.tensors[name] = arr
        return arr

    def _load(self, g):
        e, ps = self.n_embd, self.patch_size
        # n_ff from the tensors (qwen2vl_merger writes the wrong metadata)
        self.n_ff = g.tensor("v.blk.0.ffn_up.weight").shape[0]
        ff = self.n_ff
        self._get(g, "v.patch_embd.weight", (e, 3, ps, ps))      # torch Conv2d layout
        if self.qwen:
            self._get(g, "v.patch_embd.weight.1", (e, 3, ps, ps))
        else:
            side = self.image_size // ps
            self.n_pos = side * side
            self._get(g, "v.patch_embd.bias", (e,))
            self._get(g, "v.position_embd.weight", (self.n_pos, e))
        layer_norm_bias = self.type != "qwen2.5vl_merger"
        for il in range(self.n_layer):
            p = "v.blk.%d." % il
            for n in ("ln1", "ln2"):
                self._get(g, p + n + ".weight", (e,))
                if layer_norm_bias:
                    self._get(g, p + n + ".bias", (e,))
            for n in ("attn_q", "attn_k", "attn_v", "attn_out"):
                self._get(g, p + n + ".weight", (e, e))
                self._get(g, p + n + ".bias", (e,))
            ffn = [("ffn_up", (ff, e)), ("ffn_down", (e, ff))]
            if self.type == "qwen2.5vl_merger":
                ffn.append(("ffn_gate", (ff, e)))
            for n, shape in ffn:
                self._get(g, p + n + ".weight", shape)
                self._get(g, p + n + ".bias", (shape[0],))
        self._get(g, "v.post_ln.weight", (e,))
        if layer_norm_bias:
            self._get(g, "v.post_ln.bias", (e,))
        merged = e * self.merge * self.merge
        if self.qwen:
            self._get(g, "mm.0.weight", (merged, merged))
            self._get(g, "mm.0.bias", (merged,))
            self._get(g, "mm.2.weight", (self.projection_dim, merged))
            self._get(g, "mm.2.bias", (self.projection_dim,))
        else:
            self._get(g, "mm.model.fc.weight", (self.projection_dim, merged))

    # ---------------------------------------------------------- pieces --
    def norm(self, x, name):
        """ln1 / ln2 / post_ln: LayerNorm, or RMSNorm for qwen2.5vl."""
        if self.type == "qwen2.5vl_merger":
            return rms_norm(x, self.t(name + ".weight"), self.eps)
        return layer_norm(x, self.t(name + ".weight"), self.t(name + ".bias"), self.eps)

    def mlp(self, x, il):
        p = "v.blk.%d." % il

        def lin(n, v):
            return v @ self.t(p + n + ".weight").T + self.t(p + n + ".bias")
        if self.type == "qwen2.5vl_merger":
            return lin("ffn_down", silu(lin("ffn_gate", x)) * lin("ffn_up", x))
        act = quick_gelu if self.type == "qwen2vl_merger" else gelu_tanh
        return lin("ffn_down", act(lin("ffn_up", x)))

    def qkv(self, x, il):
        """q, k, v: [n_head][N][head_dim] each."""
        p = "v.blk.%d." % il
        n = x.shape[0]
        out = []
        for name in ("attn_q", "attn_k", "attn_v"):
            y = x @ self.t(p + name + ".weight").T + self.t(p + name + ".bias")   # [N][E]
            out.append(y.reshape(n, self.n_head, self.head_dim).transpose(1, 0, 2))
        return out

    def attn_out(self, o, il):
        """o: [n_head][N][head_dim] -> [N][E] through attn_out."""
        p = "v.blk.%d." % il
        o = o.transpose(1, 0, 2).reshape(o.shape[1], self.n_embd)
        return o @ self.t(p + "attn_out.weight").T + self.t(p + "attn_out.bias")


def _projector(mmproj):
    return mmproj if isinstance(mmproj, Projector) else Projector(mmproj)


def softmax_attention(q, k, v, mask=None):
    """q, k, v: [H][n][hd]; mask: None or [n][n] bool (True = may attend)."""
    s = q @ k.transpose(0, 2, 1) / math.sqrt(q.shape[-1])       # [H][n][n]
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    s = s - s.max(axis=-1, keepdims=True)
    p = np.exp(s)
    p = p / p.sum(axis=-1, keepdims=True)
    return p @ v


def segment_attention(q, k, v, cu_seqlens):
    """Attention inside each [cu[i], cu[i+1]) segment (HF cu_seqlens)."""
    out = np.zeros_like(q)
    for a, b in zip(cu_seqlens[:-1], cu_seqlens[1:]):
        if b > a:
            out[:, a:b] = softmax_attention(q[:, a:b], k[:, a:b], v[:, a:b])
    return out


# ------------------------------------------------------------------- Qwen --
def qwen_patch_embed(pj, pixel_values):
    """PatchEmbed: Conv3d (2, ps, ps), no bias, on [N][3*2*ps*ps] in
    (c, t, y, x) order; the GGUF holds the two temporal slices separately."""
    ps = pj.patch_size
    n = pixel_values.shape[0]
    px = np.asarray(pixel_values, dtype=np.float64).reshape(n, 3, 2, ps, ps)
    out = np.zeros((n, pj.n_embd))                                  # [N][E]
    for t, name in enumerate(("v.patch_embd.weight", "v.patch_embd.weight.1")):
        w = pj.t(name).reshape(pj.n_embd, 3 * ps * ps)              # [E][3*ps*ps]
        out += px[:, :, t].reshape(n, 3 * ps * ps) @ w.T
    return out


def qwen_rot_pos_ids(grid_thw, merge):
    """HF rot_pos_emb's pos_ids: [N][2] (row, col) in the patch order."""
    ids = []
    for t, h, w in grid_thw:
        hpos = np.repeat(np.arange(h)[:, None], w, axis=1)
        wpos = np.repeat(np.arange(w)[None, :], h, axis=0)
        hpos = hpos.reshape(h // merge, merge, w // merge, merge).transpose(0, 2, 1, 3).reshape(-1)
        wpos = wpos.reshape(h // merge, merge, w // merge, merge).transpose(0, 2, 1, 3).reshape(-1)
        ids.append(np.tile(np.stack([hpos, wpos], axis=-1), (t, 1)))
    return np.concatenate(ids, axis=0)


def qwen_rotary_freqs(pj, pos_ids):
    """VisionRotaryEmbedding(head_dim/2, theta 10000) indexed by pos_ids and
    flattened: [N][head_dim/2] = (row freqs | col freqs)."""
    dim = pj.head_dim // 2
    inv_freq = 1.0 / (10000.0 ** (np.arange(0, dim, 2) / dim))      # [hd/4]
    return np.concatenate([np.outer(pos_ids[:, 0], inv_freq),
                           np.outer(pos_ids[:, 1], inv_freq)], axis=-1)


def qwen_window_index(grid_thw, merge, window_size, patch_size):
    """HF Qwen2_5_VisionTransformerPretrainedModel.get_window_index.

    Returns (window_index over merge units, cu_window_seqlens over patches,
    with repeated entries removed as HF's unique_consecutive does)."""
    vmws = window_size // merge // patch_size
    unit = merge * merge
    window_index, cu = [], [0]
    base = 0
    for t, h, w in grid_thw:
        gh, gw = h // merge, w // merge
        index = np.arange(t * gh * gw).reshape(t, gh, gw)
        pad_h = vmws - gh % vmws
        pad_w = vmws - gw % vmws
        nwh, nww = (gh + pad_h) // vmws, (gw + pad_w) // vmws
        padded = np.full((t, gh + pad_h, gw + pad_w), -100, dtype=np.int64)
        padded[:, :gh, :gw] = index
        padded = padded.reshape(t, nwh, vmws, nww, vmws).transpose(0, 1, 3, 2, 4)
        padded = padded.reshape(t, nwh * nww, vmws, vmws)
        seqlens = (padded != -100).sum(axis=(2, 3)).reshape(-1)
        flat = padded.reshape(-1)
        window_index.append(flat[flat != -100] + base)
        cu.extend((np.cumsum(seqlens) * unit + cu[-1]).tolist())
        base += t * gh * gw
    cu_unique = [cu[0]] + [b for a, b in zip(cu[:-1], cu[1:]) if b != a]
    return np.concatenate(window_index), cu_unique


def qwen_cu_seqlens(grid_thw):
    """Frame boundaries: repeat_interleave(h*w, t).cumsum, with a leading 0."""
    lens = [h * w for t, h, w in grid_thw for _ in range(t)]
    return [0] + np.cumsum(lens).tolist()


def qwen_full_attention(pj, il):
    """qwen2vl: every layer; qwen2.5vl: (il + 1) % n_wa_pattern == 0."""
    if pj.type != "qwen2.5vl_merger" or pj.n_wa_pattern == 0:
        return True
    return (il + 1) % pj.n_wa_pattern == 0


def qwen_merger(pj, x):
    """PatchMerger: ln_q (post_ln), view [N/m^2][E*m^2], mm.0, GELU (erf), mm.2."""
    x = pj.norm(x, "v.post_ln")
    x = x.reshape(-1, pj.n_embd * pj.merge * pj.merge)
    x = gelu_erf(x @ pj.t("mm.0.weight").T + pj.t("mm.0.bias"))
    return x @ pj.t("mm.2.weight").T + pj.t("mm.2.bias")


def encode_qwen(mmproj, pixel_values, grid_thw):
    """HF vision forward; returns [t*h*w/m^2][projection_dim] float64.

    grid_thw: one (t, h, w) or a list of them (in patches)."""
    pj = _projector(mmproj)
    if not pj.qwen:
        raise ValueError("%s: not a Qwen projector" % pj.path)
    grid = [tuple(int(v) for v in grid_thw)] if np.ndim(grid_thw) == 1 else \
        [tuple(int(v) for v in g) for g in grid_thw]
    n = sum(t * h * w for t, h, w in grid)
    m = pj.merge
    unit = m * m
    if tuple(np.shape(pixel_values)) != (n, 3 * 2 * pj.patch_size ** 2):
        raise ValueError("pixel_values shape %s does not fit grid %s"
                         % (np.shape(pixel_values), grid))
    if any(h % m or w % m for _, h, w in grid):
        raise ValueError("grid %s not a multiple of the merge size %d" % (grid, m))
    x = qwen_patch_embed(pj, pixel_values)                          # [N][E]
    freqs = qwen_rotary_freqs(pj, qwen_rot_pos_ids(grid, m))        # [N][hd/2]
    windowed = pj.type == "qwen2.5vl_merger"
    if windowed:
        window_index, cu_window = qwen_window_index(grid, m, pj.window_size, pj.patch_size)
        x = x.reshape(n // unit, unit, -1)[window_index].reshape(n, -1)
        freqs = freqs.reshape(n // unit, unit, -1)[window_index].reshape(n, -1)
    emb = np.concatenate([freqs, freqs], axis=-1)                   # [N][hd]
    cos, sin = np.cos(emb), np.sin(emb)
    cu_full = qwen_cu_seqlens(grid)
    for il in range(pj.n_layer):
        cu = cu_full if (not windowed or qwen_full_attention(pj, il)) else cu_window
        h = pj.norm(x, "v.blk.%d.ln1" % il)
        q, k, v = pj.qkv(h, il)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        x = x + pj.attn_out(segment_attention(q, k, v, cu), il)
        x = x + pj.mlp(pj.norm(x, "v.blk.%d.ln2" % il), il)
    y = qwen_merger(pj, x)                                          # [N/m^2][proj]
    if windowed:
        y = y[np.argsort(window_index)]
    return y


# --------------------------------------------------------------- Idefics3 --
def idefics3_position_ids(n_side):
    """Idefics3VisionEmbeddings position ids for a full (unpadded) image:
    bucketize of the fractional patch coordinates, as float32 like torch."""
    step = 1.0 / n_side
    frac = (np.arange(n_side) * step).astype(np.float32)            # arange(0, 1-1e-6, step)
    bounds = (step + np.arange(n_side - 1) * step).astype(np.float32)  # arange(step, 1, step)
    bh = np.searchsorted(bounds, frac, side="right")
    return (bh[:, None] * n_side + bh[None, :]).reshape(-1)


def pixel_shuffle(x, s):
    """Idefics3Connector.pixel_shuffle on one image x [seq][C]."""
    seq, c = x.shape
    side = int(round(math.sqrt(seq)))
    x = x.reshape(side, side // s, c * s)
    x = x.transpose(1, 0, 2)
    x = x.reshape(side // s, side // s, c * s * s)
    x = x.transpose(1, 0, 2)
    return x.reshape(seq // (s * s), c * s * s)


def idefics3_embed(pj, image):
    """Patch conv (stride = kernel = ps) with bias, plus position embeddings.
    image: [3][S][S] -> [n_pos][E]."""
    ps = pj.patch_size
    side = image.shape[1] // ps
    patches = image.reshape(3, side, ps, side, ps).transpose(1, 3, 0, 2, 4)
    patches = patches.reshape(side * side, 3 * ps * ps)            # [n][3*ps*ps] (c, y, x)
    w = pj.t("v.patch_embd.weight").reshape(pj.n_embd, -1)         # [E][3*ps*ps]
    x = patches @ w.T + pj.t("v.patch_embd.bias")
    return x + pj.t("v.position_embd.weight")[idefics3_position_ids(side)]


def encode_idefics3(mmproj, images):
    """images [n][3][S][S] -> [n * tokens_per_image][projection_dim] float64."""
    pj = _projector(mmproj)
    if pj.type != "idefics3":
        raise ValueError("%s: not an idefics3 projector" % pj.path)
    images = np.asarray(images, dtype=np.float64)
    size = pj.image_size
    if images.ndim != 4 or images.shape[1:] != (3, size, size):
        raise ValueError("images shape %s, expected [n][3][%d][%d]" % (images.shape, size, size))
    out = []
    for image in images:
        x = idefics3_embed(pj, image)                               # [n_pos][E]
        for il in range(pj.n_layer):
            q, k, v = pj.qkv(pj.norm(x, "v.blk.%d.ln1" % il), il)
            x = x + pj.attn_out(softmax_attention(q, k, v), il)
            x = x + pj.mlp(pj.norm(x, "v.blk.%d.ln2" % il), il)
        x = pj.norm(x, "v.post_ln")
        x = pixel_shuffle(x, pj.merge)                              # [n_pos/s^2][E*s^2]
        out.append(x @ pj.t("mm.model.fc.weight").T)
    return np.concatenate(out, axis=0)


def idefics3_tokens_per_image(pj):
    return (pj.image_size // pj.patch_size) ** 2 // (pj.merge * pj.merge)


# ----------------------------------------------------- second derivations --
# Used by --self-test only: the same models computed another way.

def qwen_patch_coords(grid_thw, merge):
    """(frame, row, col) of each patch from the flatten formula of the image
    processor (transpose 0,3,6,4,7,...): patch n of a frame lies in merge
    block n // m^2, raster over (h/m, w/m), and at (dy, dx) = divmod(n % m^2, m)."""
    out = []
    frame = 0
    for t, h, w in grid_thw:
        for tt in range(t):
            for n in range(h * w):
                blk, inner = divmod(n, merge * merge)
                by, bx = divmod(blk, w // merge)
                dy, dx = divmod(inner, merge)
                out.append((frame + tt, by * merge + dy, bx * merge + dx))
        frame += t
    return np.array(out)


def rope_pairs(x, rows, cols):
    """Vision RoPE as explicit pair rotations (i, i + hd/2), i < hd/4 by the
    row, hd/4 <= i < hd/2 by the column; x: [H][N][hd]."""
    hd = x.shape[-1]
    quarter = hd // 4
    out = x.copy()
    for i in range(hd // 2):
        j = i % quarter
        pos = rows if i < quarter else cols
        theta = pos * 10000.0 ** (-2.0 * j / (hd // 2))
        a, b = x[..., i], x[..., i + hd // 2]
        out[..., i] = a * np.cos(theta) - b * np.sin(theta)
        out[..., i + hd // 2] = a * np.sin(theta) + b * np.cos(theta)
    return out


def encode_qwen_masked(pj, frames, grid_thw):
    """Qwen encoder in the original patch order with explicit masks: same
    frame for full layers, same frame and window of window_size px for the
    others; patches from the normalized frames [T][3][H][W] by a strided conv."""
    m, ps = pj.merge, pj.patch_size
    t, h, w = grid_thw
    coords = qwen_patch_coords([grid_thw], m)
    x = np.zeros((len(coords), pj.n_embd))
    for i, (f, r, c) in enumerate(coords):
        for slice_t, name in enumerate(("v.patch_embd.weight", "v.patch_embd.weight.1")):
            patch = frames[2 * f + slice_t, :, r * ps:(r + 1) * ps, c * ps:(c + 1) * ps]
            x[i] += np.tensordot(pj.t(name), patch, axes=([1, 2, 3], [0, 1, 2]))
    frame_id = coords[:, 0]
    wpatch = pj.window_size // ps        # window side in patches
    win_id = (frame_id * 100000 + (coords[:, 1] // wpatch) * 1000 + coords[:, 2] // wpatch)
    full_mask = frame_id[:, None] == frame_id[None, :]
    win_mask = win_id[:, None] == win_id[None, :]
    for il in range(pj.n_layer):
        windowed = pj.type == "qwen2.5vl_merger" and not qwen_full_attention(pj, il)
        q, k, v = pj.qkv(pj.norm(x, "v.blk.%d.ln1" % il), il)
        q = rope_pairs(q, coords[:, 1], coords[:, 2])
        k = rope_pairs(k, coords[:, 1], coords[:, 2])
        o = softmax_attention(q, k, v, win_mask if windowed else full_mask)
        x = x + pj.attn_out(o, il)
        x = x + pj.mlp(pj.norm(x, "v.blk.%d.ln2" % il), il)
    return qwen_merger(pj, x)


def pixel_shuffle_explicit(x, s):
    """out[i*(W/s)+j][(a*s+b)*C + c] = x[(i*s+a)*W + j*s+b][c]."""
    seq, c = x.shape
    side = int(round(math.sqrt(seq)))
    out = np.zeros((seq // (s * s), c * s * s))
    for i in range(side // s):
        for j in range(side // s):
            for a in range(s):
                for b in range(s):
                    out[i * (side // s) + j, (a * s + b) * c:(a * s + b + 1) * c] = \
                        x[(i * s + a) * side + j * s + b]
    return out


# -------------------------------------------------------------- self-test --
def make_random_mmproj(path, ptype, seed=0, n_embd=24, n_head=2, n_ff=40, n_layer=3,
                       patch_size=4, image_size=24, merge=2, window_size=16,
                       n_wa_pattern=3, projection_dim=20):
    """A small random projector in the converter's layout (no engine needed).
    Shapes differ from the engine's synth presets on purpose."""
    rng = np.random.default_rng(seed)
    e, ps = n_embd, patch_size

    def rnd(*shape, scale=None):
        scale = 1.0 / math.sqrt(shape[-1]) if scale is None else scale
        return rng.standard_normal(shape) * scale

    kv = {
        "general.architecture": "clip",
        "clip.has_vision_encoder": True,
        "clip.projector_type": ptype,
        "clip.vision.embedding_length": e,
        "clip.vision.feed_forward_length": 7,      # deliberately wrong: n_ff is from tensors
        "clip.vision.block_count": n_layer,
        "clip.vision.attention.head_count": n_head,
        "clip.vision.attention.layer_norm_epsilon": 1e-5,
        "clip.vision.patch_size": ps,
        "clip.vision.image_size": image_size,
        "clip.vision.projection_dim": projection_dim,
    }
    t = [("v.patch_embd.weight", rnd(e, 3, ps, ps, scale=0.2))]
    if ptype == "idefics3":
        kv["clip.vision.projector.scale_factor"] = merge
        side = image_size // ps
        t += [("v.patch_embd.bias", rnd(e, scale=0.1)),
              ("v.position_embd.weight", rnd(side * side, e, scale=0.5))]
    else:
        kv["clip.vision.window_size"] = window_size
        t.append(("v.patch_embd.weight.1", rnd(e, 3, ps, ps, scale=0.2)))
        if ptype == "qwen2.5vl_merger":
            kv["clip.vision.n_wa_pattern"] = n_wa_pattern
    lnb = ptype != "qwen2.5vl_merger"
    for il in range(n_layer):
        p = "v.blk.%d." % il
        for n in ("ln1", "ln2"):
            t.append((p + n + ".weight", 1.0 + rnd(e, scale=0.2)))
            if lnb:
                t.append((p + n + ".bias", rnd(e, scale=0.1)))
        for n in ("attn_q", "attn_k", "attn_v", "attn_out"):
            t += [(p + n + ".weight", rnd(e, e)), (p + n + ".bias", rnd(e, scale=0.1))]
        ffn = [("ffn_up", n_ff, e), ("ffn_down", e, n_ff)]
        if ptype == "qwen2.5vl_merger":
            ffn.append(("ffn_gate", n_ff, e))
        for n, o, i in ffn:
            t += [(p + n + ".weight", rnd(o, i)), (p + n + ".bias", rnd(o, scale=0.1))]
    t.append(("v.post_ln.weight", 1.0 + rnd(e, scale=0.2)))
    if lnb:
        t.append(("v.post_ln.bias", rnd(e, scale=0.1)))
    merged = e * merge * merge
    if ptype == "idefics3":
        t.append(("mm.model.fc.weight", rnd(projection_dim, merged)))
    else:
        t += [("mm.0.weight", rnd(merged, merged)), ("mm.0.bias", rnd(merged, scale=0.1)),
              ("mm.2.weight", rnd(projection_dim, merged)),
              ("mm.2.bias", rnd(projection_dim, scale=0.1))]
    gguf_model.write_gguf(path, kv, [(n, a, gguf_model.GGML_F32) for n, a in t])


def self_test():
    import preprocess_ref
    failures = []

    def check(cond, msg):
        print(("ok    " if cond else "FAIL  ") + msg)
        if not cond:
            failures.append(msg)

    def rel(a, b):
        return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))

    rng = np.random.default_rng(3)
    # pixel shuffle: HF view/permute chain == explicit index formula
    for side, s, c in ((4, 2, 3), (8, 4, 5), (6, 3, 2)):
        x = rng.standard_normal((side * side, c))
        check(np.array_equal(pixel_shuffle(x, s), pixel_shuffle_explicit(x, s)),
              "pixel_shuffle side %d s %d == explicit index formula" % (side, s))
    # idefics3 bucketized position ids are arange for full images
    for side in (4, 32, 7, 27):
        check(np.array_equal(idefics3_position_ids(side), np.arange(side * side)),
              "idefics3 position ids for %dx%d patches are arange" % (side, side))
    # HF rot_pos_emb ids == (row, col) from the flatten formula
    grid = [(2, 6, 4), (1, 4, 8)]
    c = qwen_patch_coords(grid, 2)
    check(np.array_equal(qwen_rot_pos_ids(grid, 2), c[:, 1:]),
          "rot_pos_emb (hpos, wpos) == flatten-order patch coordinates")
    # window index: a permutation; each window a square of whole merge units
    wi, cu = qwen_window_index([(1, 10, 14)], 2, 16, 4)   # 5x7 units, windows 2x2 units
    check(np.array_equal(np.sort(wi), np.arange(35)), "window_index is a permutation")
    check(cu[-1] == 140 and len(cu) - 1 == 3 * 4, "cu_window_seqlens: 12 windows over "
          "140 patches (got %d, %d)" % (len(cu) - 1, cu[-1]))
    # GELU variants against known values
    check(abs(gelu_erf(np.array([1.0]))[0] - 0.8413447460685429) < 1e-15, "GELU(erf)(1)")
    check(abs(gelu_tanh(np.array([1.0]))[0] - 0.8411919906082768) < 1e-12, "GELU(tanh)(1)")

    with tempfile.TemporaryDirectory() as tmp:
        # Qwen: HF reorder + cu_seqlens vs original order + explicit masks,
        # from frames through preprocess_ref (checks the (c, t, y, x) patch layout)
        for ptype in ("qwen2vl_merger", "qwen2.5vl_merger"):
            path = os.path.join(tmp, ptype + ".gguf")
            make_random_mmproj(path, ptype, seed=len(ptype))
            pj = Projector(path)
            check(pj.n_ff == 40, "%s: n_ff from the tensors, not the metadata" % ptype)
            for (h0, w0), n_frames in (((40, 56), 1), ((31, 73), 2), ((64, 24), 3)):
                frames = [rng.integers(0, 256, (h0, w0, 3), dtype=np.uint8)
                          for _ in range(n_frames)]
                px, grid, resized = preprocess_ref.qwen_preprocess(
                    frames, min_pixels=8 * 8, max_pixels=48 * 64, patch_size=4)
                norm = [preprocess_ref.normalize(preprocess_ref.rescale(f),
                                                 preprocess_ref.OPENAI_CLIP_MEAN,
                                                 preprocess_ref.OPENAI_CLIP_STD)
                        .transpose(2, 0, 1) for f in resized]
                while len(norm) % 2:
                    norm.append(norm[-1])
                a = encode_qwen(pj, px, grid)
                b = encode_qwen_masked(pj, np.array(norm, dtype=np.float64), grid)
                check(a.shape == (preprocess_ref.qwen_n_tokens(grid), 20) and
                      rel(a, b) < 1e-12, "%s grid %s: HF order == masked explicit order "
                      "(rel %.1e)" % (ptype, grid, rel(a, b)))
            if ptype == "qwen2.5vl_merger":
                # windows must matter: a grid larger than one window differs
                # from the all-full-attention model
                frames = [rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)]
                px, grid, _ = preprocess_ref.qwen_preprocess(frames, min_pixels=64,
                                                             max_pixels=48 * 64, patch_size=4)
                a = encode_qwen(pj, px, grid)
                pj.n_wa_pattern = 1
                b = encode_qwen(pj, px, grid)
                pj.n_wa_pattern = 3
                check(rel(a, b) > 1e-3, "qwen2.5vl: windowed layers change the output "
                      "(rel %.1e)" % rel(a, b))
            # temporal groups do not attend to each other: changing frame 2
            # leaves group 0's tokens unchanged
            frames = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(4)]
            px1, grid, _ = preprocess_ref.qwen_preprocess(frames, min_pixels=64,
                                                          max_pixels=32 * 32, patch_size=4)
            frames[2] = 255 - frames[2]
            px2, _, _ = preprocess_ref.qwen_preprocess(frames, min_pixels=64,
                                                       max_pixels=32 * 32, patch_size=4)
            a, b = encode_qwen(pj, px1, grid), encode_qwen(pj, px2, grid)
            half = a.shape[0] // 2
            check(np.array_equal(a[:half], b[:half]) and rel(a[half:], b[half:]) > 1e-3,
                  "%s: attention stays inside temporal groups" % ptype)
        # Idefics3: HF pixel shuffle vs the explicit formula, strided-conv
        # patches vs a per-patch loop
        path = os.path.join(tmp, "idefics3.gguf")
        make_random_mmproj(path, "idefics3", seed=9, patch_size=4, image_size=24, merge=3)
        pj = Projector(path)
        images = rng.standard_normal((2, 3, 24, 24))
        a = encode_idefics3(pj, images)
        ok = True
        rows = []
        for image in images:
            x = np.zeros((36, pj.n_embd))
            for r in range(6):
                for col in range(6):
                    patch = image[:, r * 4:(r + 1) * 4, col * 4:(col + 1) * 4]
                    x[r * 6 + col] = (np.tensordot(pj.t("v.patch_embd.weight"), patch,
                                                   axes=([1, 2, 3], [0, 1, 2]))
                                      + pj.t("v.patch_embd.bias")
                                      + pj.t("v.position_embd.weight")[r * 6 + col])
            ok = ok and rel(idefics3_embed(pj, image), x) < 1e-12
            for il in range(pj.n_layer):
                q, k, v = pj.qkv(pj.norm(x, "v.blk.%d.ln1" % il), il)
                o = np.zeros_like(q)
                for hh in range(pj.n_head):     # per-row softmax loop
                    for i in range(36):
                        s = q[hh, i] @ k[hh].T / math.sqrt(pj.head_dim)
                        p = np.exp(s - s.max())
                        o[hh, i] = (p / p.sum()) @ v[hh]
                x = x + pj.attn_out(o, il)
                x = x + pj.mlp(pj.norm(x, "v.blk.%d.ln2" % il), il)
            x = pixel_shuffle_explicit(pj.norm(x, "v.post_ln"), 3)
            rows.append(x @ pj.t("mm.model.fc.weight").T)
        b = np.concatenate(rows)
        check(ok, "idefics3: strided patch conv == per-patch loop")
        check(a.shape == (8, 20) and rel(a, b) < 1e-12,
              "idefics3: encoder == loop formulation (rel %.1e)" % rel(a, b))
        # a tensor the reference does not know is refused
        bad = os.path.join(tmp, "bad.gguf")
        g = gguf_model.GGUFFile(path)
        tensors = [(n, g.tensor(n), gguf_model.GGML_F32) for n in g.tensors]
        tensors.append(("v.pre_ln.weight", np.ones(24), gguf_model.GGML_F32))
        gguf_model.write_gguf(bad, g.kv, tensors)
        try:
            Projector(bad)
            refused = False
        except ValueError as err:
            refused = "v.pre_ln.weight" in str(err)
        check(refused, "unknown tensor v.pre_ln.weight is refused")
    if failures:
        print("self-test: %d failure(s)" % len(failures))
        return 1
    print("self-test: all passed")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    ap.error("nothing to do (use --self-test, or import the module)")
    return 2


if __name__ == "__main__":
    sys.exit(main())
