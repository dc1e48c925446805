"""Independent GGUF check of the engine's writer and reader (numpy).

Written from the layout in shared/specs/models.md section 1.1 (GGUF v2/v3,
little-endian), not from the engine's C code. It knows the shared sample that
tests/test-gguf.c describes (keys, tensor shapes, types and data formulas) and:

1. runs `test-gguf --write-sample X` (the engine's writer) and parses X here,
   checking every key, every tensor's shape, type, offset and data bytes, the
   zero padding, and that the file ends where the last padded tensor ends;
2. writes the same sample here as a GGUF v2 file with alignment 64, other key
   and tensor orders and an extra key, and runs `test-gguf --read-sample Y`
   (the engine's reader) on it.

Usage: gguf_read.py PATH/TO/test-gguf        (exit 0 pass, 1 fail)
"""

import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# KV value type ids -> struct formats (scalars)
T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL = range(8)
T_STR, T_ARR, T_U64, T_I64, T_F64 = 8, 9, 10, 11, 12
SCALAR_FMT = {T_U8: "<B", T_I8: "<b", T_U16: "<H", T_I16: "<h", T_U32: "<I",
              T_I32: "<i", T_F32: "<f", T_BOOL: "<B", T_U64: "<Q", T_I64: "<q",
              T_F64: "<d"}

# ggml type id -> (name, elements per block, bytes per block); only what the sample uses
GGML_TYPES = {0: ("F32", 1, 4), 1: ("F16", 1, 2), 8: ("Q8_0", 32, 34)}


class Cursor:
    def __init__(self, buf):
        self.buf = buf
        self.pos = 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.buf):
            raise ValueError(f"truncated at byte {len(self.buf)} (need {n} at {self.pos})")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        return self.take(self.unpack("<Q"))  # raw bytes (UTF-8 expected)


def read_value(cur, vtype):
    if vtype == T_STR:
        return cur.string()
    if vtype in SCALAR_FMT:
        return cur.unpack(SCALAR_FMT[vtype])
    raise ValueError(f"bad value type {vtype}")


def parse(buf):
    """Returns (version, kvs: list of (key, type, value), tensors: list of dict, data_start)."""
    cur = Cursor(buf)
    if cur.take(4) != MAGIC:
        raise ValueError("bad magic")
    version = cur.unpack("<I")
    if version not in (2, 3):
        raise ValueError(f"version {version}")
    n_tensors = cur.unpack("<q")
    n_kv = cur.unpack("<q")
    kvs = []
    for _ in range(n_kv):
        key = cur.string()
        vtype = cur.unpack("<i")
        if vtype == T_ARR:
            etype = cur.unpack("<i")
            count = cur.unpack("<Q")
            value = (etype, [read_value(cur, etype) for _ in range(count)])
        else:
            value = read_value(cur, vtype)
        kvs.append((key, vtype, value))
    alignment = DEFAULT_ALIGNMENT
    for key, vtype, value in kvs:
        if key == b"general.alignment":
            assert vtype == T_U32, "general.alignment must be u32"
            alignment = value
    tensors = []
    for _ in range(n_tensors):
        name = cur.string()
        n_dims = cur.unpack("<I")
        ne = [cur.unpack("<q") for _ in range(n_dims)]
        ttype = cur.unpack("<i")
        offset = cur.unpack("<Q")
        tname, blck, tsize = GGML_TYPES[ttype]
        assert ne[0] % blck == 0
        rows = int(np.prod(ne[1:], dtype=np.int64)) if n_dims > 1 else 1
        n_bytes = ne[0] // blck * tsize * rows
        tensors.append(dict(name=name, ne=ne, type=tname, offset=offset, n_bytes=n_bytes))
    infos_end = cur.pos
    data_start = (infos_end + alignment - 1) // alignment * alignment
    assert buf[infos_end:data_start] == b"\0" * (data_start - infos_end), "padding not zero"
    for t in tensors:
        start = data_start + t["offset"]
        assert start + t["n_bytes"] <= len(buf), f"tensor {t['name']} past end"
        t["data"] = bytes(buf[start:start + t["n_bytes"]])
    return version, alignment, kvs, tensors, data_start


# ---- the shared sample (see tests/test-gguf.c) ------------------------------

def f32_bits(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


SAMPLE_KVS = [
    (b"general.architecture", T_STR, b"wenshu-test"),
    (b"general.name", T_STR, "样例 model\n".encode()),
    (b"test.u32", T_U32, 4294967295),
    (b"test.i32", T_I32, -123456),
    (b"test.f32", T_F32, 0.15625),
    (b"test.bool", T_BOOL, 1),
    (b"test.arr_i32", T_ARR, (T_I32, [-1, 0, 1, 2147483647])),
    (b"test.arr_f32", T_ARR, (T_F32, [0.5, -2.25, f32_bits(1e-3)])),
    (b"test.tokens", T_ARR, (T_STR, [b"<|im_start|>", b"", "Ġhello".encode(), "中文".encode()])),
]


def sample_tensors():
    """name -> (type, ne, data bytes), from the formulas in test-gguf.c."""
    a = ((np.arange(15) - 7) * 0.25).astype("<f4").tobytes()
    b = np.array([-1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5], dtype="<f2").tobytes()
    c = ((np.arange(136) * 37 + 11) & 255).astype(np.uint8).tobytes()
    d = np.arange(12, dtype="<f4").tobytes()
    return {
        b"a.weight": ("F32", [5, 3], a),
        b"b.weight": ("F16", [8], b),
        b"c.weight": ("Q8_0", [64, 2], c),
        b"d.weight": ("F32", [2, 1, 3, 2], d),
    }


def check_writer_output(path):
    buf = open(path, "rb").read()
    version, alignment, kvs, tensors, data_start = parse(buf)
    errors = []

    def expect(cond, what):
        if not cond:
            errors.append(what)

    expect(version == 3, f"version {version}")
    expect(alignment == 32, f"alignment {alignment}")
    expect(kvs == SAMPLE_KVS, f"keys differ:\n  got  {kvs}\n  want {SAMPLE_KVS}")
    want = sample_tensors()
    expect([t["name"] for t in tensors] == list(want), "tensor names/order")
    expected_offset = 0
    for t in tensors:
        ttype, ne, data = want.get(t["name"], (None, None, None))
        expect(t["type"] == ttype, f"{t['name']}: type {t['type']}")
        expect(t["ne"] == ne, f"{t['name']}: ne {t['ne']}")
        expect(t["data"] == data, f"{t['name']}: data differs")
        expect(t["offset"] == expected_offset, f"{t['name']}: offset {t['offset']}")
        padded = (t["n_bytes"] + alignment - 1) // alignment * alignment
        pad = buf[data_start + t["offset"] + t["n_bytes"]:data_start + t["offset"] + padded]
        expect(pad == b"\0" * (padded - t["n_bytes"]), f"{t['name']}: padding not zero")
        expected_offset += padded
    expect(len(buf) == data_start + expected_offset, f"file size {len(buf)}")
    return errors


# ---- an independent writer for the reverse check -----------------------------

def enc_str(b):
    return struct.pack("<Q", len(b)) + b


def enc_value(vtype, value):
    if vtype == T_STR:
        return enc_str(value)
    if vtype == T_ARR:
        etype, items = value
        return struct.pack("<iQ", etype, len(items)) + b"".join(enc_value(etype, v) for v in items)
    return struct.pack(SCALAR_FMT[vtype], value)


def write_python_sample(path, alignment=64):
    kvs = list(reversed(SAMPLE_KVS)) + [
        (b"general.alignment", T_U32, alignment),
        (b"py.extra", T_F64, 3.25),
    ]
    tensors = sample_tensors()
    order = [b"d.weight", b"c.weight", b"a.weight", b"b.weight"]
    out = bytearray(MAGIC + struct.pack("<Iqq", 2, len(order), len(kvs)))
    for key, vtype, value in kvs:
        out += enc_str(key) + struct.pack("<i", vtype) + enc_value(vtype, value)
    type_ids = {"F32": 0, "F16": 1, "Q8_0": 8}
    offset, blob = 0, bytearray()
    for name in order:
        ttype, ne, data = tensors[name]
        out += enc_str(name) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}q", *ne)
        out += struct.pack("<iQ", type_ids[ttype], offset)
        padded = (len(data) + alignment - 1) // alignment * alignment
        blob += data + b"\0" * (padded - len(data))
        offset += padded
    out += b"\0" * ((-len(out)) % alignment)
    out += blob
    with open(path, "wb") as f:
        f.write(out)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    exe = sys.argv[1]
    failed = False
    with tempfile.TemporaryDirectory(prefix="gguf-read-") as tmp:
        c_path = os.path.join(tmp, "c-writer.gguf")
        subprocess.run([exe, "--write-sample", c_path], check=True)
        errors = check_writer_output(c_path)
        for e in errors:
            print("writer output:", e)
        failed |= bool(errors)
        # The parser itself must agree with a file written from the spec here.
        py_path = os.path.join(tmp, "py-writer.gguf")
        write_python_sample(py_path)
        _, alignment, kvs, tensors, _ = parse(open(py_path, "rb").read())
        assert alignment == 64 and len(kvs) == len(SAMPLE_KVS) + 2 and len(tensors) == 4
        r = subprocess.run([exe, "--read-sample", py_path])
        if r.returncode != 0:
            print("engine reader rejected or misread the Python-written v2 sample")
            failed = True
    print("gguf_read.py:", "FAIL" if failed else "writer output and reader agree with the spec")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
