"""quant_ref.py: numpy dequantizers for ggml block formats.

Written from the published formulas (shared/specs/models.md 1.2-1.3,
ggml/src/ggml-common.h and ggml-quants.c dequantize_row_*), independently of
the C code under test. Every function takes the raw bytes of whole blocks
(numpy uint8, length a multiple of the block size) and returns
(values, magnitude), both float arrays of the element count:
  values    -- the dequantized elements, computed in float32 in the order of
               ggml's C code (so an exact C port matches to the last bit);
  magnitude -- |scale * q| + |offset| per element in float64, the size of the
               terms a dot product sums before any cancellation (used for
               error bounds).
"""
import numpy as np

KVALUES_IQ4NL = np.array([-127, -104, -83, -65, -49, -35, -22, -10,
                          1, 13, 25, 38, 53, 69, 89, 113], dtype=np.int32)

# type id -> (name, elements per block, bytes per block)
TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 30: ("BF16", 1, 2),
    2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292), 20: ("IQ4_NL", 32, 18),
}

f32 = np.float32


def _blocks(raw, size):
    raw = np.asarray(raw, dtype=np.uint8)
    assert raw.size % size == 0, "not a whole number of blocks"
    return raw.reshape(-1, size)


def _half(b, off):
    """Column of IEEE halves at byte offset off of each block -> float32."""
    return b[:, off:off + 2].copy().view(np.float16)[:, 0].astype(f32)


def _q4_nibbles(qs):
    """qs[nb,16] -> unsigned 4-bit values [nb,32]: low nibbles, then high."""
    return np.concatenate([qs & 0xF, qs >> 4], axis=1).astype(np.int32)


def _high_bits_32(qh4):
    """qh[nb,4] little-endian u32 -> bit j for element j, [nb,32] in {0,1}."""
    u = qh4.copy().view("<u4")[:, 0].astype(np.uint64)
    return ((u[:, None] >> np.arange(32, dtype=np.uint64)) & 1).astype(np.int32)


def deq_f32(raw):
    v = np.asarray(raw, np.uint8).view("<f4").astype(f32)
    return v, np.abs(v.astype(np.float64))


def deq_f16(raw):
    v = np.asarray(raw, np.uint8).view("<f2").astype(f32)
    return v, np.abs(v.astype(np.float64))


def deq_bf16(raw):
    u = np.asarray(raw, np.uint8).view("<u2").astype(np.uint32) << 16
    v = u.view(f32)
    return v, np.abs(v.astype(np.float64))


def _sym(d, q):
    """y = q * d (float32), magnitude |y|."""
    v = (q.astype(f32) * d[:, None]).astype(f32)
    return v.ravel(), np.abs(v.astype(np.float64)).ravel()


def _affine(d, m, q):
    """y = q * d + m (float32), magnitude |q d| + |m|."""
    qd = (q.astype(f32) * d[:, None]).astype(f32)
    v = (qd + m[:, None]).astype(f32)
    mag = np.abs(qd.astype(np.float64)) + np.abs(m.astype(np.float64))[:, None]
    return v.ravel(), mag.ravel()


def deq_q4_0(raw):
    b = _blocks(raw, 18)
    return _sym(_half(b, 0), _q4_nibbles(b[:, 2:18]) - 8)


def deq_q4_1(raw):
    b = _blocks(raw, 20)
    return _affine(_half(b, 0), _half(b, 2), _q4_nibbles(b[:, 4:20]))


def deq_q5_0(raw):
    b = _blocks(raw, 22)
    q = _q4_nibbles(b[:, 6:22]) | (_high_bits_32(b[:, 2:6]) << 4)
    return _sym(_half(b, 0), q - 16)


def deq_q5_1(raw):
    b = _blocks(raw, 24)
    q = _q4_nibbles(b[:, 8:24]) | (_high_bits_32(b[:, 4:8]) << 4)
    return _affine(_half(b, 0), _half(b, 2), q)


def deq_q8_0(raw):
    b = _blocks(raw, 34)
    return _sym(_half(b, 0), b[:, 2:34].view(np.int8).astype(np.int32))


def deq_q8_1(raw):
    b = _blocks(raw, 36)
    return _sym(_half(b, 0), b[:, 4:36].view(np.int8).astype(np.int32))


def deq_iq4_nl(raw):
    b = _blocks(raw, 18)
    return _sym(_half(b, 0), KVALUES_IQ4NL[_q4_nibbles(b[:, 2:18])])


def deq_q8_k(raw):
    b = _blocks(raw, 292)
    d = b[:, 0:4].copy().view("<f4")[:, 0].astype(f32)
    return _sym(d, b[:, 4:260].view(np.int8).astype(np.int32))


def _scale_min_k4(s):
    """scales[nb,12] -> (sc[nb,8], m[nb,8]) 6-bit values (get_scale_min_k4)."""
    s = s.astype(np.int32)
    sc = np.zeros((s.shape[0], 8), np.int32)
    m = np.zeros_like(sc)
    for j in range(8):
        if j < 4:
            sc[:, j] = s[:, j] & 63
            m[:, j] = s[:, j + 4] & 63
        else:
            sc[:, j] = (s[:, j + 4] & 0xF) | ((s[:, j - 4] >> 6) << 4)
            m[:, j] = (s[:, j + 4] >> 4) | ((s[:, j] >> 6) << 4)
    return sc, m


def _k_affine(d, dmin, sc, m, q):
    """Q4_K/Q5_K: y = (d*sc) * q - (dmin*m) per 32-element sub-block."""
    nb = d.size
    d1 = (d[:, None] * sc.astype(f32)).astype(f32)        # [nb,8]
    m1 = (dmin[:, None] * m.astype(f32)).astype(f32)      # [nb,8]
    q = q.reshape(nb, 8, 32).astype(f32)
    qd = (d1[:, :, None] * q).astype(f32)
    v = (qd - m1[:, :, None]).astype(f32)
    mag = np.abs(qd.astype(np.float64)) + np.abs(m1.astype(np.float64))[:, :, None]
    return v.ravel(), mag.ravel()


def _k4_quants(qs):
    """qs[nb,128] -> [nb,256]: per 64-chunk c, 32 low nibbles then 32 high."""
    nb = qs.shape[0]
    q = qs.reshape(nb, 4, 32).astype(np.int32)
    return np.stack([q & 0xF, q >> 4], axis=2).reshape(nb, 256)


def deq_q4_k(raw):
    b = _blocks(raw, 144)
    sc, m = _scale_min_k4(b[:, 4:16])
    return _k_affine(_half(b, 0), _half(b, 2), sc, m, _k4_quants(b[:, 16:144]))


def deq_q5_k(raw):
    b = _blocks(raw, 176)
    sc, m = _scale_min_k4(b[:, 4:16])
    q = _k4_quants(b[:, 48:176]).reshape(-1, 8, 32)
    qh = b[:, 16:48].astype(np.int32)                     # [nb,32]
    for j in range(8):                                    # sub-block j uses bit j of qh[l]
        q[:, j, :] += ((qh >> j) & 1) * 16
    return _k_affine(_half(b, 0), _half(b, 2), sc, m, q.reshape(-1, 256))


def deq_q6_k(raw):
    b = _blocks(raw, 210)
    nb = b.shape[0]
    ql = b[:, 0:128].astype(np.int32)
    qh = b[:, 128:192].astype(np.int32)
    sc = b[:, 192:208].view(np.int8).astype(np.int32)
    d = _half(b, 208)
    q = np.zeros((nb, 256), np.int32)
    scale = np.zeros((nb, 256), np.int32)
    for h in range(2):                                    # two 128-element halves
        L = ql[:, 64 * h:64 * h + 64]
        H = qh[:, 32 * h:32 * h + 32]
        S = sc[:, 8 * h:8 * h + 8]
        base = 128 * h
        parts = [(L[:, 0:32] & 0xF, H & 3, 0), (L[:, 32:64] & 0xF, (H >> 2) & 3, 2),
                 (L[:, 0:32] >> 4, (H >> 4) & 3, 4), (L[:, 32:64] >> 4, (H >> 6) & 3, 6)]
        for k, (lo, hi, s0) in enumerate(parts):
            q[:, base + 32 * k:base + 32 * k + 32] = (lo | (hi << 4)) - 32
            for l in range(32):
                scale[:, base + 32 * k + l] = S[:, s0 + l // 16]
    # C order: (d * sc) * q, each product rounded to float32
    ds = (d[:, None] * scale.astype(f32)).astype(f32)
    v = (ds * q.astype(f32)).astype(f32)
    return v.ravel(), np.abs(v.astype(np.float64)).ravel()


DEQUANT = {0: deq_f32, 1: deq_f16, 30: deq_bf16, 2: deq_q4_0, 3: deq_q4_1,
           6: deq_q5_0, 7: deq_q5_1, 8: deq_q8_0, 9: deq_q8_1, 12: deq_q4_k,
           13: deq_q5_k, 14: deq_q6_k, 15: deq_q8_k, 20: deq_iq4_nl}


def row_size(type_id, n):
    _, blck, size = TYPES[type_id]
    assert n % blck == 0
    return n // blck * size


def dequantize(type_id, raw):
    return DEQUANT[type_id](raw)


def f32_to_bf16_ref(x):
    """float32 -> bf16 bits, round to nearest even by comparing the two
    neighbouring bf16 values exactly in float64 (2^128 stands in for the
    overflow to inf). NaN -> None (any quiet NaN is acceptable)."""
    out = []
    for v in np.asarray(x, f32):
        if np.isnan(v):
            out.append(None)
            continue
        u = int(np.array(v, f32).view(np.uint32))
        sign, mag = u & 0x80000000, u & 0x7FFFFFFF
        if mag >= 0x7F800000:
            out.append((sign | mag) >> 16)
            continue
        lo = mag >> 16

        def val(t):
            if t >= 0x7F80:
                return 2.0 ** 128
            return float(np.array(t << 16, np.uint32).view(f32))
        a = abs(float(v))
        dlo, dhi = a - val(lo), val(lo + 1) - a
        t = lo if dlo < dhi or (dlo == dhi and lo % 2 == 0) else lo + 1
        out.append((sign >> 16) | t)
    return out
