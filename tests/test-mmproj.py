"""mmproj fixtures and loader: tests/meson.build, suite 'engine'.

1. `wenshu-cli synth --mmproj TYPE --text-embd 64` writes the three tiny
   projector files. An independent GGUF parser here (written from the GGUF
   v3 layout, not from the engine) reads them back, and every key (name,
   type, value) and every tensor (name, shape, type) is compared with a table
   written from llama.cpp's converter (convert_hf_to_gguf.py: MmprojModel,
   Qwen2VLVisionModel, SmolVLMModel) and clip.cpp's load_hparams() and
   load_tensors(). The key set and the tensor set must match exactly.
2. mmproj-probe loads each with the engine and the parsed hyper-parameters
   are compared with the table (n_ff from the tensors, not the metadata).
3. Refusals: files rewritten here with one thing wrong (architecture,
   projector type, a missing key or tensor, a bad shape or count, a
   projection_dim that disagrees with the tensors, truncation) must fail with
   a message naming the file and the fault; a projector paired with a text
   model of another width must be refused naming both files.
4. Files the engine must still accept: old surgery files (feed_forward_length
   0) and files with ffn_up/ffn_down swapped (they are swapped back).

Usage: test-mmproj.py --probe PATH/TO/mmproj-probe   (WENSHU_CLI in the env)
"""

import argparse
import os
import struct
import subprocess
import sys
import tempfile

# GGUF value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
          BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}
GGML_F32 = 0
ALIGN = 32

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)
    return cond


# ---------------------------------------------------------------- GGUF I/O --

class Reader:
    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def take(self, n):
        if self.pos + n > len(self.buf):
            raise ValueError("truncated")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def un(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        return self.take(self.un("<Q")).decode("utf-8")

    def value(self, vtype):
        if vtype == STR:
            return self.string()
        return self.un(SCALAR[vtype])


def read_gguf(path):
    """(kvs: {key: (type, elem_type, value)}, tensors: {name: (ne, type, bytes)}, order)."""
    buf = open(path, "rb").read()
    r = Reader(buf)
    assert r.take(4) == b"GGUF", "magic"
    version = r.un("<I")
    assert version == 3, "version %d" % version
    n_tensors, n_kv = r.un("<q"), r.un("<q")
    kvs = {}
    for _ in range(n_kv):
        key = r.string()
        vtype = r.un("<i")
        if vtype == ARR:
            etype, count = r.un("<i"), r.un("<Q")
            kvs[key] = (ARR, etype, [r.value(etype) for _ in range(count)])
        else:
            kvs[key] = (vtype, None, r.value(vtype))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        n_dims = r.un("<I")
        ne = [r.un("<q") for _ in range(n_dims)]
        ttype, offset = r.un("<i"), r.un("<Q")
        infos.append((name, ne, ttype, offset))
    data_start = (r.pos + ALIGN - 1) // ALIGN * ALIGN
    tensors = {}
    for name, ne, ttype, offset in infos:
        assert ttype == GGML_F32, "%s: type %d" % (name, ttype)
        n = 1
        for d in ne:
            n *= d
        start = data_start + offset
        assert start + 4 * n <= len(buf), "%s past the end" % name
        tensors[name] = (ne, ttype, buf[start:start + 4 * n])
    return kvs, tensors


def pack_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def pack_value(vtype, v):
    return pack_str(v) if vtype == STR else struct.pack(SCALAR[vtype], v)


def write_gguf(path, kvs, tensors):
    """The inverse of read_gguf (F32 tensors only)."""
    head = bytearray(b"GGUF" + struct.pack("<Iqq", 3, len(tensors), len(kvs)))
    for key, (vtype, etype, value) in kvs.items():
        head += pack_str(key) + struct.pack("<i", vtype)
        if vtype == ARR:
            head += struct.pack("<iQ", etype, len(value))
            head += b"".join(pack_value(etype, x) for x in value)
        else:
            head += pack_value(vtype, value)
    body = bytearray()
    for name, (ne, ttype, data) in tensors.items():
        head += pack_str(name) + struct.pack("<I", len(ne))
        head += b"".join(struct.pack("<q", d) for d in ne)
        head += struct.pack("<iQ", ttype, len(body))
        body += data + b"\0" * ((-len(data)) % ALIGN)
    head += b"\0" * ((-len(head)) % ALIGN)
    with open(path, "wb") as f:
        f.write(head + body)


# ----------------------------------------------- the expected layout -------
# The tiny shapes (engine/synth-mmproj.c) restated here, and the layout that
# llama.cpp's converter gives them.

TEXT_EMBD = 64
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

TINY = {
    "qwen2vl_merger": dict(n_embd=32, n_head=4, n_ff=128, n_layer=2, patch=14, image=560,
                           merge=2, wa=0, preproc=0, layer_norm=True, gated=False),
    "qwen2.5vl_merger": dict(n_embd=32, n_head=4, n_ff=48, n_layer=4, patch=14, image=560,
                             merge=2, wa=2, preproc=0, layer_norm=False, gated=True),
    "idefics3": dict(n_embd=32, n_head=4, n_ff=64, n_layer=2, patch=16, image=64,
                     merge=2, wa=0, preproc=128, layer_norm=True, gated=False),
}


def expected_keys(ptype, sh):
    qwen = ptype != "idefics3"
    keys = {
        "general.architecture": (STR, "clip"),
        "general.type": (STR, "mmproj"),
        "general.name": (STR, None),
        "general.file_type": (U32, 0),
        "general.quantization_version": (U32, 2),
        "clip.has_vision_encoder": (BOOL, 1),
        "clip.projector_type": (STR, ptype),
        "clip.vision.projection_dim": (U32, TEXT_EMBD),
        "clip.vision.image_size": (U32, sh["image"]),
        "clip.vision.patch_size": (U32, sh["patch"]),
        "clip.vision.embedding_length": (U32, sh["n_embd"]),
        # Qwen2VLVisionModel copies vision_config.hidden_size (the text
        # width) into intermediate_size: the converter's known wrong n_ff.
        "clip.vision.feed_forward_length":
            (U32, TEXT_EMBD if ptype == "qwen2vl_merger" else sh["n_ff"]),
        "clip.vision.block_count": (U32, sh["n_layer"]),
        "clip.vision.attention.head_count": (U32, sh["n_head"]),
        "clip.vision.attention.layer_norm_epsilon": (F32, 1e-6),
        "clip.vision.image_mean": ((ARR, F32), CLIP_MEAN if qwen else [0.5] * 3),
        "clip.vision.image_std": ((ARR, F32), CLIP_STD if qwen else [0.5] * 3),
    }
    if ptype == "qwen2.5vl_merger":
        keys["clip.use_silu"] = (BOOL, 1)
        keys["clip.vision.n_wa_pattern"] = (U32, sh["wa"])
    if ptype == "idefics3":
        keys["clip.use_gelu"] = (BOOL, 1)
        keys["clip.vision.projector.scale_factor"] = (U32, sh["merge"])
        keys["clip.vision.preproc_image_size"] = (U32, sh["preproc"])
    return keys


def expected_tensors(ptype, sh):
    e, f, p = sh["n_embd"], sh["n_ff"], sh["patch"]
    t = {"v.patch_embd.weight": [p, p, 3, e]}
    if ptype == "idefics3":
        side = sh["image"] // p
        t["v.patch_embd.bias"] = [e]
        t["v.position_embd.weight"] = [e, side * side]
    else:
        t["v.patch_embd.weight.1"] = [p, p, 3, e]
    for il in range(sh["n_layer"]):
        b = "v.blk.%d." % il
        for norm in ("ln1", "ln2"):
            t[b + norm + ".weight"] = [e]
            if sh["layer_norm"]:
                t[b + norm + ".bias"] = [e]
        for proj in ("attn_q", "attn_k", "attn_v", "attn_out"):
            t[b + proj + ".weight"] = [e, e]
            t[b + proj + ".bias"] = [e]
        if sh["gated"]:
            t[b + "ffn_gate.weight"] = [e, f]
            t[b + "ffn_gate.bias"] = [f]
        t[b + "ffn_up.weight"] = [e, f]
        t[b + "ffn_up.bias"] = [f]
        t[b + "ffn_down.weight"] = [f, e]
        t[b + "ffn_down.bias"] = [e]
    t["v.post_ln.weight"] = [e]
    if sh["layer_norm"]:
        t["v.post_ln.bias"] = [e]
    merged = e * sh["merge"] ** 2
    if ptype == "idefics3":
        t["mm.model.fc.weight"] = [merged, TEXT_EMBD]
    else:
        t["mm.0.weight"] = [merged, merged]
        t["mm.0.bias"] = [merged]
        t["mm.2.weight"] = [merged, TEXT_EMBD]
        t["mm.2.bias"] = [TEXT_EMBD]
    return t


def expected_probe(ptype, sh):
    e = sh["n_embd"]
    full = [il for il in range(sh["n_layer"]) if sh["wa"] == 0 or (il + 1) % sh["wa"] == 0]
    side = sh["image"] // sh["patch"]
    return {
        "projector": ptype, "type": ptype,
        "n_embd": str(e), "n_head": str(sh["n_head"]), "head_dim": str(e // sh["n_head"]),
        "n_layer": str(sh["n_layer"]), "n_ff": str(sh["n_ff"]),
        "n_ff_metadata": str(TEXT_EMBD if ptype == "qwen2vl_merger" else sh["n_ff"]),
        "projection_dim": str(TEXT_EMBD), "image_size": str(sh["image"]),
        "patch_size": str(sh["patch"]),
        "norm": "layer" if sh["layer_norm"] else "rms",
        "ffn_op": {"qwen2vl_merger": "gelu_quick", "qwen2.5vl_merger": "silu",
                   "idefics3": "gelu"}[ptype],
        "ffn_swapped": "0", "merge_size": str(sh["merge"]), "n_wa_pattern": str(sh["wa"]),
        "preproc_image_size": str(sh["preproc"]),
        "n_pos": str(side * side if ptype == "idefics3" else 0),
        "has_patch_embd_1": "0" if ptype == "idefics3" else "1",
        "has_patch_bias": "1" if ptype == "idefics3" else "0",
        "has_position_embd": "1" if ptype == "idefics3" else "0",
        "has_post_ln_bias": "1" if sh["layer_norm"] else "0",
        "has_merger": "0" if ptype == "idefics3" else "1",
        "has_fc": "1" if ptype == "idefics3" else "0",
        "patch_embd_matrix": "%d %d" % (3 * sh["patch"] ** 2, e),
        "full_attention_layers": " ".join(str(i) for i in full),
        "n_gated_layers": str(sh["n_layer"] if sh["gated"] else 0),
        "n_norm_bias_layers": str(sh["n_layer"] if sh["layer_norm"] else 0),
        "ffn_up_shape": "%d %d" % (e, sh["n_ff"]),
        "ffn_down_shape": "%d %d" % (sh["n_ff"], e),
    }


# ------------------------------------------------------------------ runs ----

def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def probe(probe_exe, *paths):
    r = run([probe_exe, *paths])
    values = {}
    for line in r.stdout.splitlines():
        key, _, value = line.partition(" ")
        values[key] = value
    return r.returncode, values, r.stderr.strip()


def synth(cli, out, *args):
    r = run([cli, "synth", *args, "-o", out])
    if not check(r.returncode == 0, "synth %s: %s" % (" ".join(args), r.stderr.strip())):
        sys.exit(1)


def close(a, b):
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def check_layout(path, ptype, sh):
    kvs, tensors = read_gguf(path)
    want_keys = expected_keys(ptype, sh)
    check(set(kvs) == set(want_keys), "%s: key set differs: extra %s, missing %s" % (
        ptype, sorted(set(kvs) - set(want_keys)), sorted(set(want_keys) - set(kvs))))
    for key, (want_type, want_value) in want_keys.items():
        if key not in kvs:
            continue
        vtype, etype, value = kvs[key]
        got_type = (vtype, etype) if vtype == ARR else vtype
        check(got_type == want_type, "%s: %s has type %s, expected %s" % (
            ptype, key, got_type, want_type))
        if want_value is None:
            continue
        if isinstance(want_value, list):
            ok = len(value) == len(want_value) and all(
                close(a, b) for a, b in zip(value, want_value))
        elif isinstance(want_value, float):
            ok = close(value, want_value)
        else:
            ok = value == want_value
        check(ok, "%s: %s = %r, expected %r" % (ptype, key, value, want_value))
    want_tensors = expected_tensors(ptype, sh)
    check(set(tensors) == set(want_tensors), "%s: tensor set differs: extra %s, missing %s" % (
        ptype, sorted(set(tensors) - set(want_tensors)),
        sorted(set(want_tensors) - set(tensors))))
    for name, ne in want_tensors.items():
        if name in tensors:
            check(tensors[name][0] == ne, "%s: %s has shape %s, expected %s" % (
                ptype, name, tensors[name][0], ne))
    print("layout %-17s %d keys, %d tensors checked" % (ptype, len(want_keys),
                                                        len(want_tensors)))
    return kvs, tensors


def check_probe(probe_exe, path, ptype, sh):
    rc, got, err = probe(probe_exe, path)
    if not check(rc == 0, "%s: the engine refused the fixture: %s" % (ptype, err)):
        return
    for key, want in expected_probe(ptype, sh).items():
        check(got.get(key) == want, "%s: engine parsed %s = %r, expected %r" % (
            ptype, key, got.get(key), want))
    mean = [float(x) for x in got.get("image_mean", "0 0 0").split()]
    want_mean = CLIP_MEAN if ptype != "idefics3" else [0.5] * 3
    check(all(close(a, b) for a, b in zip(mean, want_mean)), "%s: image_mean %s" % (
        ptype, mean))
    check(close(float(got.get("eps", "0")), 1e-6), "%s: eps %s" % (ptype, got.get("eps")))
    print("engine %-17s n_ff %s (metadata %s), full-attention layers [%s]" % (
        ptype, got.get("n_ff"), got.get("n_ff_metadata"), got.get("full_attention_layers")))


def expect_refusal(probe_exe, path, what, *needles, text=None):
    args = [path] + ([text] if text else [])
    rc, _, err = probe(probe_exe, *args)
    ok = rc == 1 and all(n in err for n in needles)
    check(ok, "%s: expected a refusal containing %s, got rc %d: %r" % (what, needles, rc, err))
    if ok:
        print("refused %-40s %s" % (what, err))


def mutate(src, dst, edit):
    kvs, tensors = read_gguf(src)
    edit(kvs, tensors)
    write_gguf(dst, kvs, tensors)
    return dst


def refusal_cases(probe_exe, tmp, fixtures):
    q2, q25, idf = fixtures["qwen2vl_merger"], fixtures["qwen2.5vl_merger"], \
        fixtures["idefics3"]
    n = [0]

    def case(src, what, edit, *needles):
        n[0] += 1
        path = mutate(src, os.path.join(tmp, "bad%02d.gguf" % n[0]), edit)
        expect_refusal(probe_exe, path, what, path, *needles)

    def set_key(key, vtype, value):
        def edit(kvs, tensors):
            kvs[key] = (vtype, None, value)
        return edit

    def drop_key(key):
        return lambda kvs, tensors: kvs.pop(key)

    def drop_tensor(name):
        return lambda kvs, tensors: tensors.pop(name)

    case(q2, "unknown projector type", set_key("clip.projector_type", STR, "qwen9vl_merger"),
         "unsupported projector type \"qwen9vl_merger\"")
    case(q2, "projector type of another family", set_key("clip.projector_type", STR, "mlp"),
         "unsupported projector type \"mlp\"")
    case(q2, "text architecture", set_key("general.architecture", STR, "qwen2"),
         "not an mmproj file")
    case(q2, "no vision encoder", set_key("clip.has_vision_encoder", BOOL, 0),
         "clip.has_vision_encoder")
    case(q2, "missing projector type", drop_key("clip.projector_type"),
         "missing key clip.projector_type")
    case(q2, "missing embedding_length", drop_key("clip.vision.embedding_length"),
         "missing key clip.vision.embedding_length")
    case(q25, "qwen2.5 without n_wa_pattern", drop_key("clip.vision.n_wa_pattern"),
         "missing key clip.vision.n_wa_pattern")
    case(q2, "missing image_mean", drop_key("clip.vision.image_mean"),
         "missing key clip.vision.image_mean")
    case(q2, "image_std of 2 values",
         lambda kvs, t: kvs.__setitem__("clip.vision.image_std", (ARR, F32, [0.5, 0.5])),
         "clip.vision.image_std", "array of 3 f32")
    case(q2, "projection_dim against mm.2", set_key("clip.vision.projection_dim", U32, 65),
         "projection_dim is 65", "mm.2.weight outputs 64")
    case(idf, "projection_dim against mm.model.fc",
         set_key("clip.vision.projection_dim", U32, 96), "mm.model.fc.weight outputs 64")
    case(q2, "head_count not dividing the width",
         set_key("clip.vision.attention.head_count", U32, 5), "not a multiple of head_count 5")
    case(q2, "block_count short of the file", set_key("clip.vision.block_count", U32, 1),
         "block_count is 1", "v.blk.1.attn_out.weight")
    case(q2, "block_count past the file", set_key("clip.vision.block_count", U32, 3),
         "missing tensor v.blk.2.")
    case(q2, "missing attention tensor", drop_tensor("v.blk.1.attn_k.weight"),
         "missing tensor v.blk.1.attn_k.weight")
    case(q2, "missing second patch slice", drop_tensor("v.patch_embd.weight.1"),
         "missing tensor v.patch_embd.weight.1")
    case(q2, "missing merger bias", drop_tensor("mm.0.bias"), "missing tensor mm.0.bias")
    case(q25, "missing gate", drop_tensor("v.blk.3.ffn_gate.weight"),
         "missing tensor v.blk.3.ffn_gate.weight")
    case(idf, "missing connector", drop_tensor("mm.model.fc.weight"),
         "missing tensor mm.model.fc.weight")
    case(idf, "missing position table", drop_tensor("v.position_embd.weight"),
         "missing tensor v.position_embd.weight")
    case(q2, "missing LayerNorm bias", drop_tensor("v.blk.0.ln2.bias"),
         "missing tensor v.blk.0.ln2.bias")

    def shrink(name, ne):
        def edit(kvs, tensors):
            count = 1
            for d in ne:
                count *= d
            tensors[name] = (ne, GGML_F32, tensors[name][2][:4 * count])
        return edit

    case(q2, "attention matrix of the wrong shape", shrink("v.blk.1.attn_q.weight", [32, 31]),
         "v.blk.1.attn_q.weight has shape [32, 31], expected [32, 32]")
    case(q2, "patch kernel of the wrong size", shrink("v.patch_embd.weight", [7, 14, 3, 32]),
         "v.patch_embd.weight has shape [7, 14, 3, 32]")
    case(q2, "ffn_down of another n_ff", shrink("v.blk.1.ffn_down.weight", [64, 32]),
         "v.blk.1.ffn_down.weight has shape [64, 32], expected [128, 32]")
    case(idf, "connector not n_embd * s^2 wide", shrink("mm.model.fc.weight", [96, 64]),
         "mm.model.fc.weight has shape [96, 64], expected [128, 64]")

    def both_activations(kvs, tensors):
        kvs["clip.use_gelu"] = (BOOL, None, 1)
        kvs["clip.use_silu"] = (BOOL, None, 1)

    case(q2, "both use_gelu and use_silu", both_activations, "both clip.use_gelu")
    case(q2, "absurd patch_size", set_key("clip.vision.patch_size", U32, 100000),
         "clip.vision.patch_size has an invalid value 100000")
    case(q2, "absurd merge size", set_key("clip.vision.spatial_merge_size", U32, 4096),
         "spatial_merge_size 4096 is too large")
    case(idf, "scale_factor not dividing the grid",
         set_key("clip.vision.projector.scale_factor", U32, 3), "cannot be shuffled by "
         "scale_factor 3")
    case(q2, "embedding_length as a string", set_key("clip.vision.embedding_length", STR, "32"),
         "clip.vision.embedding_length is a str")

    # Truncations: inside the header, and inside the tensor data.
    size = os.path.getsize(q2)
    data = open(q2, "rb").read()
    for cut in (100, size // 2, size - 1):
        path = os.path.join(tmp, "trunc%d.gguf" % cut)
        with open(path, "wb") as f:
            f.write(data[:cut])
        expect_refusal(probe_exe, path, "truncated at %d of %d bytes" % (cut, size), path)
    path = os.path.join(tmp, "empty.gguf")
    open(path, "wb").close()
    expect_refusal(probe_exe, path, "empty file", path)
    expect_refusal(probe_exe, os.path.join(tmp, "absent.gguf"), "missing file", "absent.gguf")


def accepted_variants(probe_exe, tmp, fixtures):
    q2 = fixtures["qwen2vl_merger"]
    sh = TINY["qwen2vl_merger"]

    # Old surgery files write feed_forward_length 0: n_ff still comes from tensors.
    path = mutate(q2, os.path.join(tmp, "ff0.gguf"), lambda kvs, t: kvs.__setitem__(
        "clip.vision.feed_forward_length", (U32, None, 0)))
    rc, got, err = probe(probe_exe, path)
    check(rc == 0 and got.get("n_ff") == str(sh["n_ff"]) and got.get("n_ff_metadata") == "0",
          "feed_forward_length 0: rc %d n_ff %s %s" % (rc, got.get("n_ff"), err))
    print("accepted feed_forward_length 0: n_ff %s from the tensors" % got.get("n_ff"))

    # clip.cpp reads the Idefics3 scale_factor as optional: without it the
    # shuffle factor comes from mm.model.fc's width (n_embd * s^2).
    path = mutate(fixtures["idefics3"], os.path.join(tmp, "nos.gguf"),
                  lambda kvs, t: kvs.pop("clip.vision.projector.scale_factor"))
    rc, got, err = probe(probe_exe, path)
    check(rc == 0 and got.get("merge_size") == "2", "idefics3 without scale_factor: rc %d "
          "merge %s %s" % (rc, got.get("merge_size"), err))
    print("accepted idefics3 without scale_factor: %s from mm.model.fc" % got.get("merge_size"))

    # ffn_up and ffn_down swapped by name (weights and biases), in every layer.
    _, tensors = read_gguf(q2)
    up_bias0 = struct.unpack("<f", tensors["v.blk.0.ffn_up.bias"][2][:4])[0]

    def swap(kvs, tensors):
        renamed = {}
        for name, value in tensors.items():
            if ".ffn_up." in name:
                name = name.replace(".ffn_up.", ".ffn_down.")
            elif ".ffn_down." in name:
                name = name.replace(".ffn_down.", ".ffn_up.")
            renamed[name] = value
        tensors.clear()
        tensors.update(renamed)

    for ptype in TINY:
        sh = TINY[ptype]
        path = mutate(fixtures[ptype], os.path.join(tmp, "swapped-%s.gguf" % ptype), swap)
        rc, got, err = probe(probe_exe, path)
        ok = (rc == 0 and got.get("ffn_swapped") == "1" and got.get("n_ff") == str(sh["n_ff"])
              and got.get("ffn_up_shape") == "%d %d" % (sh["n_embd"], sh["n_ff"])
              and got.get("ffn_down_shape") == "%d %d" % (sh["n_ff"], sh["n_embd"]))
        if ptype == "qwen2vl_merger":
            ok = ok and close(float(got.get("ffn_up_b0", "nan")), up_bias0)
        check(ok, "%s swapped ffn: rc %d, got %s %s" % (ptype, rc, got, err))
        print("accepted %-17s with ffn_up/ffn_down swapped: swapped back (n_ff %s)" % (
            ptype, got.get("n_ff")))
    # The fixture itself is not taken as swapped.
    rc, got, _ = probe(probe_exe, q2)
    check(got.get("ffn_swapped") == "0" and close(float(got.get("ffn_up_b0", "nan")), up_bias0),
          "unswapped fixture bound the wrong up projection")


def pair_cases(cli, probe_exe, tmp, fixtures):
    text64 = os.path.join(tmp, "text-tiny.gguf")     # n_embd 64
    text256 = os.path.join(tmp, "text-small.gguf")   # n_embd 256
    synth(cli, text64, "--arch", "qwen2", "--preset", "tiny")
    synth(cli, text256, "--arch", "qwen2", "--preset", "small")
    for ptype, path in fixtures.items():
        rc, got, err = probe(probe_exe, path, text64)
        check(rc == 0 and got.get("pair") == "ok", "%s + 64-wide text: %s" % (ptype, err))
        expect_refusal(probe_exe, path, "%s + 256-wide text" % ptype, path, text256,
                       "outputs 64-wide", "embedding width is 256", text=text256)
    wide = os.path.join(tmp, "proj-96.gguf")
    synth(cli, wide, "--mmproj", "idefics3", "--text-embd", "96")
    rc, got, _ = probe(probe_exe, wide)
    check(rc == 0 and got.get("projection_dim") == "96", "--text-embd 96: %s" % got)
    expect_refusal(probe_exe, wide, "96-wide projector + 64-wide text", wide, text64,
                   "outputs 96-wide", "embedding width is 64", text=text64)


def synth_cases(cli, tmp):
    """Determinism, seeds and the CLI's own refusals."""
    a, b, c = (os.path.join(tmp, n) for n in ("s1.gguf", "s2.gguf", "s3.gguf"))
    synth(cli, a, "--mmproj", "qwen2.5vl_merger", "--text-embd", "64", "--seed", "7")
    synth(cli, b, "--mmproj", "qwen2.5vl_merger", "--text-embd", "64", "--seed", "7")
    synth(cli, c, "--mmproj", "qwen2.5vl_merger", "--text-embd", "64", "--seed", "8")
    da, db, dc = (open(p, "rb").read() for p in (a, b, c))
    check(da == db, "same seed, different files")
    check(len(da) == len(dc) and da != dc, "another seed gave the same weights")
    r = run([cli, "synth", "--mmproj", "llava", "-o", os.path.join(tmp, "x.gguf")])
    check(r.returncode != 0 and "llava" in r.stderr, "synth of an unknown projector: %r" % (
        r.stderr,))
    r = run([cli, "synth", "--mmproj", "idefics3", "--text-embd", "0", "-o",
             os.path.join(tmp, "x.gguf")])
    check(r.returncode != 0, "synth accepted --text-embd 0")
    for bad in (["--mmproj", "idefics3", "--type", "F16"], ["--mmproj", "idefics3", "--arch",
                "qwen2"], ["--text-embd", "64"], ["--mmproj", "idefics3", "--preset", "small"],
                ["--mmproj", "idefics3", "--preset", "qwen2-vl-2b"]):
        r = run([cli, "synth", *bad, "-o", os.path.join(tmp, "x.gguf")])
        check(r.returncode != 0 and r.stderr.strip(), "synth accepted %s" % " ".join(bad))
    print("synth deterministic per seed; unknown projector, bad width, bad option mixes refused")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", required=True)
    args = ap.parse_args()
    cli = os.environ.get("WENSHU_CLI")
    if not cli:
        print("WENSHU_CLI is not set")
        return 1
    with tempfile.TemporaryDirectory(prefix="wenshu-mmproj-") as tmp:
        fixtures = {}
        for ptype, sh in TINY.items():
            path = os.path.join(tmp, "%s.gguf" % ptype)
            synth(cli, path, "--mmproj", ptype, "--text-embd", str(TEXT_EMBD))
            check_layout(path, ptype, sh)
            check_probe(args.probe, path, ptype, sh)
            fixtures[ptype] = path
        refusal_cases(args.probe, tmp, fixtures)
        accepted_variants(args.probe, tmp, fixtures)
        pair_cases(cli, args.probe, tmp, fixtures)
        synth_cases(cli, tmp)
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        return 1
    print("all mmproj checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
