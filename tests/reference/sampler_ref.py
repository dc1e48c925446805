#!/usr/bin/python3
"""sampler_ref.py: the engine's sampler against numpy, from the definitions.

For each case numpy builds logits (and a token history), computes the
distribution the sampler must draw from:
  penalties over the last penalty_last_n tokens (repeat: divide a positive
  logit / multiply a non-positive one; then subtract count*frequency and
  presence once), then top-k (k highest, ties to the lower id), top-p
  (shortest prefix of the sorted candidates whose mass, normalized over the
  candidates, reaches p), min-p (p_i >= min_p * p_max), softmax(logit / T);
and runs `test-sampler --draw` for N draws from the same logits. Checks:
  - the drawn tokens are inside the expected candidate set, and every
    candidate with p*N >= 25 was drawn (so the set is exact where it can be
    observed);
  - per-token frequencies within 5 sigma + 1e-4 of p, and a chi-square
    (bins with >= 5 expected) below the 1e-6 tail (Wilson-Hilferty);
  - greedy (T = 0) returns the argmax of the penalized logits (lowest id on
    ties) for many random cases;
  - the same seed repeats the counts; another seed changes them.
Cases whose filters would decide on a near-tie (|margin| < 1e-4) are redrawn,
so float32 vs float64 rounding cannot flip a decision.
Exit 0 pass, 1 fail.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

MARGIN = 1e-4


class Ambiguous(Exception):
    pass


def penalize(logits, hist, last_n, rep, freq, pres):
    w = logits.astype(np.float32).copy()
    window = hist[-last_n:] if last_n > 0 else np.array([], dtype=np.int32)
    ids, counts = np.unique(window, return_counts=True)
    for t, c in zip(ids, counts):
        x = w[t]
        x = np.float32(x * rep) if x <= 0 else np.float32(x / np.float32(rep))
        w[t] = np.float32(x - (np.float32(c) * np.float32(freq) + np.float32(pres)))
    return w


def expected_dist(logits, hist, p):
    """Return (ids, probs) of the candidate set, or raise Ambiguous."""
    w = penalize(logits, hist, p["last_n"], p["rep"], p["freq"], p["pres"]).astype(np.float64)
    n = len(w)
    order = np.lexsort((np.arange(n), -w))  # logit desc, then id asc
    lw = w[order]
    k = n
    if 0 < p["top_k"] < n:
        k = p["top_k"]
        if not p.get("exact_ties") and lw[k - 1] - lw[k] < MARGIN:
            raise Ambiguous("top-k boundary")
    cand, cl = order[:k], lw[:k]
    mx = cl[0]
    if p["top_p"] < 1.0:
        e = np.exp(cl - mx)
        z = e.sum() if k < n else np.exp(w - mx).sum()
        cum = np.cumsum(e) / z
        hit = np.nonzero(cum >= p["top_p"])[0]
        m = hit[0] + 1 if len(hit) else k
        near = np.abs(cum - p["top_p"])
        if near[max(0, m - 2):m + 1].min() < 1e-6:
            raise Ambiguous("top-p boundary")
        cand, cl = cand[:m], cl[:m]
    if p["min_p"] > 0.0:
        thr = mx + np.log(p["min_p"])
        if np.abs(cl - thr).min() < MARGIN:
            raise Ambiguous("min-p boundary")
        keep = cl >= thr
        keep[0] = True
        cand, cl = cand[keep], cl[keep]
    pr = np.exp((cl - mx) / p["temp"])
    return cand, pr / pr.sum()


def run_driver(driver, tmp, logits, hist, p, n_draws, seed):
    lf, hf = os.path.join(tmp, "logits.f32"), os.path.join(tmp, "hist.i32")
    logits.astype("<f4").tofile(lf)
    np.asarray(hist, dtype="<i4").tofile(hf)
    args = [driver, "--draw", lf, hf, str(n_draws), repr(p["temp"]), str(p["top_k"]),
            repr(p["top_p"]), repr(p["min_p"]), repr(p["rep"]), repr(p["freq"]),
            repr(p["pres"]), str(p["last_n"]), str(seed)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    counts = np.zeros(len(logits), dtype=np.int64)
    for line in out.split("\n"):
        if line:
            i, c = line.split()
            counts[int(i)] = int(c)
    return counts


def chi2_limit(df, z=4.753):  # upper 1e-6 tail of chi-square, Wilson-Hilferty
    return df * (1 - 2 / (9 * df) + z * np.sqrt(2 / (9 * df))) ** 3


def check_case(name, driver, tmp, logits, hist, p, n_draws, seed):
    ids, probs = expected_dist(logits, hist, p)
    counts = run_driver(driver, tmp, logits, hist, p, n_draws, seed)
    errors = []
    expected = np.zeros(len(logits))
    expected[ids] = probs
    outside = np.nonzero((counts > 0) & (expected == 0))[0]
    if len(outside):
        errors.append(f"drew tokens outside the candidate set: {outside[:10].tolist()}")
    must = ids[probs * n_draws >= 25]
    missing = [int(t) for t in must if counts[t] == 0]
    if missing:
        errors.append(f"candidates never drawn: {missing[:10]}")
    freq = counts / n_draws
    sigma = np.sqrt(expected * (1 - expected) / n_draws)
    dev = np.abs(freq - expected) - (5 * sigma + 1e-4)
    if dev.max() > 0:
        t = int(dev.argmax())
        errors.append(f"token {t}: freq {freq[t]:.5f} vs p {expected[t]:.5f}")
    big = expected * n_draws >= 5
    obs = np.append(counts[big], counts[~big].sum())
    exp = np.append(expected[big] * n_draws, expected[~big].sum() * n_draws)
    keep = exp > 0
    chi2 = float((((obs - exp) ** 2)[keep] / exp[keep]).sum())
    df = max(1, int(keep.sum()) - 1)
    if chi2 > chi2_limit(df):
        errors.append(f"chi-square {chi2:.1f} > {chi2_limit(df):.1f} (df {df})")
    status = "FAIL" if errors else "ok"
    print(f"{status} {name}: {len(ids)} candidates, chi2 {chi2:.1f}/df {df}, "
          f"max dev {np.abs(freq - expected).max():.5f}")
    for e in errors:
        print("   ", e)
    return not errors


def params(**kw):
    p = dict(temp=1.0, top_k=0, top_p=1.0, min_p=0.0, rep=1.0, freq=0.0, pres=0.0, last_n=64)
    p.update(kw)
    return p


def make_case(rng, n_vocab, sigma, hist_len, p):
    """Random logits and history that leave no filter decision near a tie."""
    for _ in range(200):
        logits = (rng.standard_normal(n_vocab) * sigma).astype(np.float32)
        # half the history from the 60 best tokens, so that penalties move the filters
        top = np.argsort(-logits)[:60]
        hist = np.where(rng.random(hist_len) < 0.5, rng.choice(top, size=hist_len),
                        rng.integers(0, min(n_vocab, 200), size=hist_len)).astype(np.int32)
        try:
            expected_dist(logits, hist, p)
            return logits, hist
        except Ambiguous:
            continue
    raise RuntimeError("no unambiguous case found")


CASES = [
    # name, n_vocab, sigma, history length, params, draws
    ("no filter T=1", 300, 1.0, 0, params(), 100000),
    ("top_k=40 T=0.7", 1000, 2.0, 0, params(temp=0.7, top_k=40), 100000),
    ("top_p=0.9", 1000, 2.0, 0, params(top_p=0.9), 100000),
    ("min_p=0.05 T=1.3", 1000, 2.0, 0, params(temp=1.3, min_p=0.05), 100000),
    ("top_k=40 top_p=0.95 T=0.8", 1000, 2.0, 0, params(temp=0.8, top_k=40, top_p=0.95), 100000),
    ("top_k=40 top_p=0.95 min_p=0.05 T=0.8", 1000, 2.0, 0,
     params(temp=0.8, top_k=40, top_p=0.95, min_p=0.05), 100000),
    ("top_k=40 min_p=0.2 T=0.9", 1000, 2.0, 0, params(temp=0.9, top_k=40, min_p=0.2), 100000),
    ("top_p=0.5 min_p=0.02", 1000, 1.5, 0, params(top_p=0.5, min_p=0.02), 100000),
    ("top_p=0.8 min_p=0.3", 1000, 1.5, 0, params(top_p=0.8, min_p=0.3), 100000),
    ("penalties rep=1.3 freq=0.2 pres=0.5 last_n=32 top_k=50", 1000, 2.0, 100,
     params(top_k=50, rep=1.3, freq=0.2, pres=0.5, last_n=32), 100000),
    ("penalties on a flat body, top_p=0.7", 400, 0.7, 300,
     params(top_p=0.7, rep=1.5, freq=0.1, pres=0.3, last_n=150), 100000),
    ("top_k=5000 > vocab, top_p=0.99", 2000, 3.0, 0, params(top_k=5000, top_p=0.99), 100000),
    ("20000 flat logits, top_p=0.6 (edge bucket)", 20000, 0.5, 0, params(top_p=0.6), 20000),
    ("vocab 151936 top_k=40 top_p=0.95 T=0.8", 151936, 2.5, 64,
     params(temp=0.8, top_k=40, top_p=0.95, rep=1.1, last_n=64), 10000),
    ("vocab 151936 top_p=0.9 min_p=0.05", 151936, 3.0, 0, params(top_p=0.9, min_p=0.05), 5000),
]


def tie_case(rng):
    """Logits on a 0.5 grid: many exact ties, resolved to the lower id."""
    logits = (np.round(rng.standard_normal(500) * 2) / 2).astype(np.float32)
    return logits, np.zeros(0, np.int32), params(top_k=10, exact_ties=True)


def check_greedy(driver, tmp, rng):
    ok = True
    for trial in range(40):
        n = int(rng.integers(50, 3000))
        logits = (rng.standard_normal(n) * 3).astype(np.float32)
        if trial % 4 == 0:  # exact ties at the top
            logits[rng.integers(0, n, size=3)] = logits.max() + 1
        hist = rng.integers(0, n, size=int(rng.integers(0, 80))).astype(np.int32)
        p = params(temp=0.0, rep=float(rng.choice([1.0, 1.2, 2.0])),
                   freq=float(rng.choice([0.0, 0.5])), pres=float(rng.choice([0.0, 1.0])),
                   last_n=int(rng.integers(1, 100)))
        w = penalize(logits, hist, p["last_n"], p["rep"], p["freq"], p["pres"])
        top = np.sort(w)[::-1]
        if trial % 4 != 0 and top[0] - top[1] < MARGIN:
            continue
        want = int(np.argmax(w))  # numpy returns the first (lowest) index
        counts = run_driver(driver, tmp, logits, hist, p, 3, trial)
        got = np.nonzero(counts)[0].tolist()
        if got != [want] or counts[want] != 3:
            print(f"FAIL greedy trial {trial}: got {got}, want {want}")
            ok = False
    print(f"{'ok' if ok else 'FAIL'} greedy: 40 trials")
    return ok


def check_seeds(driver, tmp, rng):
    logits = (rng.standard_normal(500) * 1.5).astype(np.float32)
    hist = np.zeros(0, np.int32)
    p = params(top_k=100, temp=1.0)
    a = run_driver(driver, tmp, logits, hist, p, 2000, 7)
    b = run_driver(driver, tmp, logits, hist, p, 2000, 7)
    c = run_driver(driver, tmp, logits, hist, p, 2000, 8)
    ok = np.array_equal(a, b) and not np.array_equal(a, c)
    print(f"{'ok' if ok else 'FAIL'} seeds: same seed same counts, other seed other counts")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    args = ap.parse_args()
    rng = np.random.default_rng(20240601)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, n_vocab, sigma, hist_len, p, n_draws) in enumerate(CASES):
            logits, hist = make_case(rng, n_vocab, sigma, hist_len, p)
            ok &= check_case(name, args.driver, tmp, logits, hist, p, n_draws, 1000 + i)
        logits, hist, p = tie_case(rng)
        ok &= check_case("ties on a 0.5 grid, top_k=10", args.driver, tmp, logits, hist, p,
                         100000, 99)
        ok &= check_greedy(args.driver, tmp, rng)
        ok &= check_seeds(args.driver, tmp, rng)
    print("sampler_ref:", "pass" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
