#!/usr/bin/python3
"""check_quant.py: checks engine/quant.c and quant-avx2.c against numpy.

Usage: check_quant.py TEST_QUANT_EXE

Runs TEST_QUANT_EXE on a temporary directory and checks what it wrote
(see tests/test-quant.c) against quant_ref.py, which implements ggml's
dequantizers from the published formulas:

  half      eng_float_to_half == numpy float16 rounding (RNE, inf, NaN);
            eng_half_to_float == numpy for all 65536 halves;
            eng_float_to_bf16 == exact nearest-even rounding.
  dequant   C dequantizer == numpy dequantizer within 1 ulp (float32).
  dot       every C dot result (plain C, dispatched AVX2, rows kernel,
            rows x cols kernel) vs float64 dot(numpy dequant(w),
            numpy dequant(quantized activation)):
              |c - ref| <= DOT_REL * sum(|w_terms| * |a|)
            where w_terms is |scale*q| + |offset| per element (no credit for
            cancellation inside a block). DOT_REL = 1e-6: the integer parts
            are exact, so only float32 scaling and accumulation round
            (~nb * 2^-24 relative); measured worst cases are reported.
            For Q4_1/Q5_1 x Q8_1 the min term uses the Q8_1 block's stored
            half s (ggml_vec_dot_q4_1_q8_1), not d*sum(q) exactly.
  quant     round trip of each quantizer: rmse(dequant(q) - x) / std(x) below
            a per-format limit (ggml-like quality), numpy dequant == C
            dequant, and activation formats' invariants (Q8_1 s = d*sum(q),
            Q8_K bsums, |x - dequant| <= d/2 per element).
  file      eng_quantize_file outputs, parsed by the GGUF reader below:
            metadata copied, general.file_type set, each tensor's type as
            the documented policy says (fallbacks included), data close to
            the input.
Exit 0 on success, 1 on any failure.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quant_ref as qr  # noqa: E402

DOT_REL = 1e-6

# rmse / std limits of the round trip, gaussian data (measured values are
# printed; limits leave ~25% headroom over them).
RMSE_LIMIT = {
    "F32": 0.0, "F16": 3e-4, "BF16": 2.2e-3, "Q8_0": 0.007, "Q8_1": 0.007,
    "Q8_K": 0.009, "Q4_0": 0.11, "Q4_1": 0.10, "Q5_0": 0.055, "Q5_1": 0.048,
    "Q4_K": 0.09, "Q5_K": 0.045, "Q6_K": 0.022, "IQ4_NL": 0.095,
}

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def load(d, prefix, ext, dtype=np.uint8):
    return np.fromfile(os.path.join(d, f"{prefix}.{ext}"), dtype=dtype)


def ulp_equal(a, b, ulps=1):
    a = a.astype(np.float32)
    b = b.astype(np.float32)
    tol = ulps * np.spacing(np.maximum(np.abs(a), np.abs(b)))
    return np.abs(a.astype(np.float64) - b.astype(np.float64)) <= tol


def check_half(d):
    x = load(d, "half", "in", np.float32)
    h = load(d, "half", "f16", np.uint16)
    b = load(d, "half", "bf16", np.uint16)
    allh = load(d, "half", "all", np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        ref = x.astype(np.float16)
    refbits = ref.view(np.uint16)
    nan = np.isnan(x)
    bad = np.nonzero((refbits != h) & ~nan)[0]
    if bad.size:
        i = bad[0]
        fail(f"float_to_half({x[i]!r}) = {h[i]:#06x}, numpy {refbits[i]:#06x} "
             f"({bad.size} mismatches)")
    hn = h[nan]
    if np.any(((hn & 0x7C00) != 0x7C00) | ((hn & 0x0200) == 0)):
        fail("float_to_half(NaN) is not a quiet NaN")
    ref_all = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16)
    ref_all = ref_all.astype(np.float32)
    same = (ref_all.view(np.uint32) == allh.view(np.uint32)) | (
        np.isnan(ref_all) & np.isnan(allh))
    if not same.all():
        i = np.nonzero(~same)[0][0]
        fail(f"half_to_float({i:#06x}) = {allh[i]!r}, numpy {ref_all[i]!r}")
    refb = qr.f32_to_bf16_ref(x)
    nbad = 0
    for i, r in enumerate(refb):
        if r is None:
            ok = (b[i] & 0x7F80) == 0x7F80 and (b[i] & 0x7F) != 0 and (b[i] & 0x40)
        else:
            ok = b[i] == r
        if not ok:
            if nbad == 0:
                fail(f"float_to_bf16({x[i]!r}) = {b[i]:#06x}, expected {r}")
            nbad += 1
    print(f"half/bf16: {x.size} conversions, 65536 halves checked")


def q8_1_min_correction(wraw, aq):
    """Q4_1/Q5_1 x Q8_1 (ggml_vec_dot_q4_1_q8_1): the block's min term is
    m * s with s the Q8_1 block's stored half, not m * d * sum(q) exactly.
    Returns sum over blocks of m * (s - d*sum(q)), [cols, rows]."""
    rows, cols = wraw.shape[0], aq.shape[0]
    ba = aq.reshape(cols, -1, 36)
    nb = ba.shape[1]
    bw = wraw.reshape(rows, nb, -1)
    m = bw[:, :, 2:4].copy().view(np.float16)[:, :, 0].astype(np.float64)      # [rows, nb]
    d = ba[:, :, 0:2].copy().view(np.float16)[:, :, 0].astype(np.float64)      # [cols, nb]
    s = ba[:, :, 2:4].copy().view(np.float16)[:, :, 0].astype(np.float64)
    sums = ba[:, :, 4:36].view(np.int8).astype(np.float64).sum(axis=2)
    return (s - d * sums) @ m.T


def check_dot(d, name, tid, vtid, n, rows, cols, prefix, worst):
    wraw = load(d, prefix, "w").reshape(rows, -1)
    wdq = load(d, prefix, "wdq", np.float32).reshape(rows, n)
    aq = load(d, prefix, "aq").reshape(cols, -1)
    assert wraw.shape[1] == qr.row_size(tid, n) and aq.shape[1] == qr.row_size(vtid, n)
    W, Wmag = [], []
    for r in range(rows):
        v, m = qr.dequantize(tid, wraw[r])
        W.append(v)
        Wmag.append(m)
        ok = ulp_equal(v, wdq[r])
        if not ok.all():
            i = np.nonzero(~ok)[0][0]
            fail(f"{prefix}: dequant row {r} elem {i}: C {wdq[r][i]!r} numpy {v[i]!r}")
            return
    W = np.array(W, np.float64)
    Wmag = np.array(Wmag, np.float64)
    A = np.array([qr.dequantize(vtid, aq[c])[0] for c in range(cols)], np.float64)
    ref = A @ W.T                       # [cols, rows]
    if vtid == 9:
        ref += q8_1_min_correction(wraw, aq)
    bound = np.abs(A) @ Wmag.T * DOT_REL + 1e-30
    for kind in ("dref", "ddisp", "drows", "drc"):
        got = load(d, prefix, kind, np.float32).reshape(cols, rows).astype(np.float64)
        err = np.abs(got - ref)
        ratio = float(np.max(err / bound)) * DOT_REL
        worst[kind] = max(worst.get(kind, 0.0), ratio)
        if not np.all(err <= bound):
            c, r = np.unravel_index(np.argmax(err / bound), err.shape)
            fail(f"{prefix}: {kind} col {c} row {r}: got {got[c, r]!r} want {ref[c, r]!r} "
                 f"(err {err[c, r]:.3g} > bound {bound[c, r]:.3g})")


def check_activation(name, tid, q, x, n):
    """Invariants of the activation formats on quantized rows q[rows, rs]."""
    for r in range(q.shape[0]):
        if name == "Q8_1":
            b = q[r].reshape(-1, 36)
            dd = b[:, 0:2].copy().view(np.float16)[:, 0].astype(np.float64)
            s = b[:, 2:4].copy().view(np.float16)[:, 0].astype(np.float64)
            sums = b[:, 4:36].view(np.int8).astype(np.int64).sum(axis=1)
            want = (dd * sums).astype(np.float16).astype(np.float64)
            if not np.all(np.abs(s - want) <= np.abs(want) * 2e-3 + 1e-7):
                fail("Q8_1: s != d * sum(qs)")
        if name == "Q8_K":
            b = q[r].reshape(-1, 292)
            qs = b[:, 4:260].view(np.int8).astype(np.int64).reshape(-1, 16, 16)
            bs = b[:, 260:292].copy().view("<i2").astype(np.int64)
            if not np.array_equal(qs.sum(axis=2), bs):
                fail("Q8_K: bsums != sums of 16 quants")
        if name in ("Q8_0", "Q8_1", "Q8_K"):
            blck = 256 if name == "Q8_K" else 32
            v, _ = qr.dequantize(tid, q[r])
            xr = x[r].astype(np.float64).reshape(-1, blck)
            amax = np.abs(xr).max(axis=1, keepdims=True)
            # d = amax/127, stored as half for Q8_0/Q8_1 (rel. err 2^-11)
            lim = amax / 127 * (0.5 + 127 * 2.0 ** -11) * 1.0001 + 1e-12
            if not np.all(np.abs(v.reshape(-1, blck) - xr) <= lim):
                fail(f"{name}: an element is off by more than d/2")


def check_quant(d, name, tid, n, rows, prefix, measured):
    x = load(d, prefix, "x", np.float32).reshape(rows, n)
    q = load(d, prefix, "q").reshape(rows, -1)
    qdq = load(d, prefix, "qdq", np.float32).reshape(rows, n)
    deq = np.array([qr.dequantize(tid, q[r])[0] for r in range(rows)])
    ok = ulp_equal(deq, qdq)
    if not ok.all():
        fail(f"{prefix}: numpy dequant differs from C dequant")
    if not np.all(np.isfinite(deq)):
        fail(f"{prefix}: non-finite values after round trip")
        return
    # rows 0 and 1 hold the zero block and the spike; measure quality on the rest
    zero = deq[0, :256]
    if np.any(zero != 0):
        fail(f"{prefix}: an all-zero block does not round-trip to zeros")
    body = slice(2, rows)
    e = deq[body].astype(np.float64) - x[body]
    rel = float(np.sqrt(np.mean(e * e)) / np.std(x[body]))
    measured[name] = rel
    if rel > RMSE_LIMIT[name]:
        fail(f"{prefix}: rmse/std {rel:.4f} > {RMSE_LIMIT[name]}")
    spike = np.abs(deq[1] - x[1]).max()
    if spike > 0.5 * 0.25:
        fail(f"{prefix}: the spike row is off by {spike}")
    check_activation(name, tid, q, x, n)


# ---- eng_quantize_file ----------------------------------------------------

GGUF_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
               10: "<Q", 11: "<q", 12: "<d"}
FTYPE = {"Q4_K": 14, "Q6_K": 18, "Q8_0": 7, "Q4_0": 2, "Q5_K": 16, "F16": 1, "IQ4_NL": 25}
NAME_TO_ID = {v[0]: k for k, v in qr.TYPES.items()}


def read_gguf(path):
    """Minimal GGUF v3 reader (spec: ggml/docs/gguf.md) -> (kv, tensors)
    with tensors[name] = (type_id, ne list, raw bytes)."""
    import struct
    buf = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, buf, pos)[0]
        pos += struct.calcsize(fmt)
        return v

    def string():
        nonlocal pos
        n = take("<Q")
        v = buf[pos:pos + n].decode()
        pos += n
        return v

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(GGUF_SCALAR[t])

    assert buf[:4] == b"GGUF", "bad magic"
    pos = 4
    assert take("<I") == 3
    n_tensors, n_kv = take("<Q"), take("<Q")
    kv = {}
    for _ in range(n_kv):
        k = string()
        kv[k] = value(take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        nd = take("<I")
        ne = [take("<Q") for _ in range(nd)]
        infos.append((name, ne, take("<I"), take("<Q")))
    align = kv.get("general.alignment", 32)
    data0 = (pos + align - 1) // align * align
    tensors = {}
    for name, ne, t, off in infos:
        n = int(np.prod(ne))
        size = qr.row_size(t, ne[0]) * (n // ne[0])
        tensors[name] = (t, ne, np.frombuffer(buf, np.uint8, size, data0 + off))
    return kv, tensors


def expected_type(name, ne, target_id, logits_matrix=False):
    """The policy of eng_quantize_file, restated (see engine/quantize.c).

    logits_matrix: the tensor computes the logits (output.weight, or a tied
    token_embd.weight); as in llama.cpp it becomes Q6_K unless the target is
    Q8_0 or a float type."""
    if len(ne) == 1 or "norm" in name:
        return 0
    if len(ne) == 2 and name.endswith(".weight"):
        tname = qr.TYPES[target_id][0]
        if logits_matrix and tname not in ("Q8_0", "F32", "F16", "BF16"):
            tname = "Q6_K"
        for t in (tname, {"Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}.get(tname, "F16"),
                  "F16"):
            if ne[0] % qr.TYPES[NAME_TO_ID[t]][1] == 0:
                return NAME_TO_ID[t]
    return None


def check_file(d, target, in_name, out_name):
    target = target.upper()
    kv_in, t_in = read_gguf(os.path.join(d, in_name))
    kv, t_out = read_gguf(os.path.join(d, out_name))
    if kv.get("general.file_type") != FTYPE[target]:
        fail(f"{out_name}: general.file_type {kv.get('general.file_type')} != {FTYPE[target]}")
    if kv.get("general.architecture") != kv_in["general.architecture"] or \
            kv.get("llama.block_count") != 1 or kv.get("general.quantization_version") != 2:
        fail(f"{out_name}: metadata not copied / set")
    if list(t_out) != list(t_in):
        fail(f"{out_name}: tensor names or order changed")
        return
    tid = NAME_TO_ID[target]
    for name, (src_t, ne, raw) in t_in.items():
        out_t, out_ne, out_raw = t_out[name]
        is_logits = name == "output.weight" or (name == "token_embd.weight" and "output.weight" not in t_in)
        want = expected_type(name, ne, tid, is_logits)
        if out_ne != ne or out_t != want:
            fail(f"{out_name}: {name} has type {out_t} shape {out_ne}, want {want} {ne}")
            continue
        x = qr.dequantize(src_t, raw)[0].astype(np.float64)
        y = qr.dequantize(out_t, out_raw)[0].astype(np.float64)
        rel = np.sqrt(np.mean((y - x) ** 2)) / np.std(x)
        if rel > RMSE_LIMIT[qr.TYPES[out_t][0]]:
            fail(f"{out_name}: {name} ({qr.TYPES[out_t][0]}) rmse/std {rel:.4f}")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    exe = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="wenshu-quant-") as d:
        subprocess.run([exe, d], check=True)
        worst, measured = {}, {}
        n_dot = n_file = 0
        with open(os.path.join(d, "manifest.txt")) as f:
            for line in f:
                p = line.split()
                if p[0] == "avx2":
                    print("AVX2 kernels in use:", p[1] == "1")
                elif p[0] == "half":
                    check_half(d)
                elif p[0] == "dot":
                    check_dot(d, p[1], int(p[2]), int(p[3]), int(p[4]), int(p[5]),
                              int(p[6]), p[7], worst)
                    n_dot += 1
                elif p[0] == "file":
                    check_file(d, p[1], p[2], p[3])
                    n_file += 1
                elif p[0] == "quant":
                    check_quant(d, p[1], int(p[2]), int(p[3]), int(p[4]), p[5], measured)
    print(f"dot: {n_dot} cases; worst err / sum|w||a| per kernel:",
          {k: f"{v:.2e}" for k, v in worst.items()})
    print(f"eng_quantize_file: {n_file} targets checked")
    print("round trip rmse/std:", {k: f"{v:.4f}" for k, v in measured.items()})
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all quant checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
