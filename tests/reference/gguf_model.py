"""Minimal GGUF v2/v3 reader (and writer, for self-tests) in numpy.

Written from the layout in shared/specs/models.md section 1.1 (ggml gguf.h),
independently of the engine's C reader and of tests/reference/gguf_read.py.
Only the tensor types the model reference needs are decoded: F32, F16, BF16.

Dimension order is ggml's: ne[0] is the contiguous axis.  A tensor with
ne=[ne0, ne1, ...] is returned as a numpy array of shape (..., ne1, ne0), so a
Linear weight W[out][in] stored as ne=[in, out] comes back as W itself.
"""

import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# gguf_type (KV value types) -> struct format for the scalar ones
_SCALAR = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i",
    6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d",
}
T_STRING = 8
T_ARRAY = 9

# ggml_type -> (numpy dtype, elements per block, bytes per block)
GGML_F32 = 0
GGML_F16 = 1
GGML_BF16 = 30
_TENSOR_TYPES = {GGML_F32: ("<f4", 1, 4), GGML_F16: ("<f2", 1, 2),
                 GGML_BF16: ("<u2", 1, 2)}


class GGUFError(Exception):
    pass


class _Cursor:
    def __init__(self, buf, path):
        self.buf = buf
        self.pos = 0
        self.path = path

    def take(self, n):
        if n < 0 or self.pos + n > len(self.buf):
            raise GGUFError("%s: truncated at byte %d (need %d more)"
                            % (self.path, self.pos, n))
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        n = self.unpack("<Q")
        return bytes(self.take(n)).decode("utf-8", errors="replace")

    def value(self, vtype):
        if vtype in _SCALAR:
            return self.unpack(_SCALAR[vtype])
        if vtype == T_STRING:
            return self.string()
        if vtype == T_ARRAY:
            etype = self.unpack("<i")
            count = self.unpack("<Q")
            if count > len(self.buf):
                raise GGUFError("%s: array count %d too large" % (self.path, count))
            if etype in _SCALAR and etype != 7:
                fmt = _SCALAR[etype]
                size = struct.calcsize(fmt)
                raw = self.take(size * count)
                return np.frombuffer(raw, dtype=np.dtype(fmt)).tolist()
            return [self.value(etype) for _ in range(count)]
        raise GGUFError("%s: unknown KV value type %d" % (self.path, vtype))


class TensorInfo:
    def __init__(self, name, ne, ggml_type, offset):
        self.name = name
        self.ne = ne            # ggml order, ne[0] contiguous
        self.type = ggml_type
        self.offset = offset    # relative to the data blob


class GGUFFile:
    """A parsed GGUF file: .kv (dict key -> value) and .tensors (name -> info)."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.buf = memoryview(f.read())
        cur = _Cursor(self.buf, path)
        if bytes(cur.take(4)) != GGUF_MAGIC:
            raise GGUFError("%s: not a GGUF file (bad magic)" % path)
        version = cur.unpack("<I")
        if version not in (2, 3):
            raise GGUFError("%s: unsupported GGUF version %d" % (path, version))
        n_tensors = cur.unpack("<q")
        n_kv = cur.unpack("<q")
        if n_tensors < 0 or n_kv < 0:
            raise GGUFError("%s: negative counts" % path)
        self.kv = {}
        for _ in range(n_kv):
            key = cur.string()
            vtype = cur.unpack("<i")
            self.kv[key] = cur.value(vtype)
        self.tensors = {}
        for _ in range(n_tensors):
            name = cur.string()
            n_dims = cur.unpack("<I")
            if n_dims > 4:
                raise GGUFError("%s: tensor %s has %d dims" % (path, name, n_dims))
            ne = [cur.unpack("<q") for _ in range(n_dims)]
            ttype = cur.unpack("<i")
            offset = cur.unpack("<Q")
            self.tensors[name] = TensorInfo(name, ne, ttype, offset)
        align = int(self.kv.get("general.alignment", DEFAULT_ALIGNMENT))
        if align <= 0 or align & (align - 1):
            raise GGUFError("%s: bad alignment %d" % (path, align))
        self.data_start = (cur.pos + align - 1) // align * align

    def has(self, name):
        return name in self.tensors

    def tensor(self, name):
        """Tensor `name` as float64, shape = reversed ne (row-major)."""
        if name not in self.tensors:
            raise GGUFError("%s: missing tensor %s" % (self.path, name))
        info = self.tensors[name]
        if info.type not in _TENSOR_TYPES:
            raise GGUFError("%s: tensor %s has ggml type %d; this reference reads "
                            "only F32/F16/BF16" % (self.path, name, info.type))
        dtype, _, size = _TENSOR_TYPES[info.type]
        count = int(np.prod(info.ne)) if info.ne else 1
        start = self.data_start + info.offset
        end = start + count * size
        if end > len(self.buf):
            raise GGUFError("%s: tensor %s runs past end of file" % (self.path, name))
        raw = np.frombuffer(self.buf[start:end], dtype=np.dtype(dtype))
        if info.type == GGML_BF16:
            arr = (raw.astype(np.uint32) << 16).view(np.float32)
        else:
            arr = raw
        return arr.astype(np.float64).reshape(tuple(reversed(info.ne)))


# ---------------------------------------------------------------- writer --
# Used only by the reference's self-test, to build small models without the
# engine.  Writes GGUF v3 with the default alignment.

def _pack_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _pack_value(v):
    """(gguf_type, bytes) for a Python value."""
    if isinstance(v, bool):
        return 7, struct.pack("<?", v)
    if isinstance(v, int):
        return (4, struct.pack("<I", v)) if 0 <= v < 2**32 else (11, struct.pack("<q", v))
    if isinstance(v, float):
        return 6, struct.pack("<f", v)
    if isinstance(v, str):
        return T_STRING, _pack_string(v)
    if isinstance(v, (list, tuple)):
        if v and isinstance(v[0], str):
            body = b"".join(_pack_string(s) for s in v)
            etype = T_STRING
        elif v and isinstance(v[0], float):
            body = b"".join(struct.pack("<f", x) for x in v)
            etype = 6
        else:
            body = b"".join(struct.pack("<i", int(x)) for x in v)
            etype = 5
        return T_ARRAY, struct.pack("<iQ", etype, len(v)) + body
    raise TypeError("cannot write %r" % (v,))


def write_gguf(path, kv, tensors):
    """kv: dict; tensors: list of (name, np array, ggml_type F32 or F16).

    The array's row-major shape is reversed into ne, the inverse of tensor()."""
    align = DEFAULT_ALIGNMENT
    head = bytearray(GGUF_MAGIC + struct.pack("<Iqq", 3, len(tensors), len(kv)))
    for key, val in kv.items():
        vtype, body = _pack_value(val)
        head += _pack_string(key) + struct.pack("<i", vtype) + body
    blobs = []
    offset = 0
    for name, arr, ttype in tensors:
        dtype = _TENSOR_TYPES[ttype][0]
        data = np.ascontiguousarray(arr, dtype=np.dtype(dtype)).tobytes()
        ne = list(reversed(arr.shape))
        head += _pack_string(name) + struct.pack("<I", len(ne))
        head += b"".join(struct.pack("<q", n) for n in ne)
        head += struct.pack("<iQ", ttype, offset)
        pad = (-len(data)) % align
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    head += b"\0" * ((-len(head)) % align)
    with open(path, "wb") as f:
        f.write(head)
        for b in blobs:
            f.write(b)
