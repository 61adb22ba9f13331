#!/usr/bin/python3
"""Fits the polynomial coefficients of the GELU and exp kernels (kernels_generic.go,
tables.go) and reports their float32 accuracy, evaluated as the assembly does (fused
multiply-adds, float32 rounding). Debian's python3-numpy and python3-scipy:

    /usr/bin/python3 kernels/fit_coeffs.py
"""
import numpy as np
from scipy.special import erf


def fma(a, b, c):
    # float32 a*b + c with one rounding (a*b is exact in float64; the float64 sum
    # can round twice, rarely, which does not matter for an error estimate).
    return np.float32(np.float64(a) * np.float64(b) + np.float64(c))


def fit_gelu(nP=5, nQ=5, C=5.3):
    """erf(x/sqrt2) ~ x P(x^2) / Q(x^2), Q(0) = 1: linearised least squares on [0, C],
    iterated (Sanathanan-Koerner) and reweighted towards minimax (Lawson)."""
    x = np.concatenate([np.linspace(0, C, 6000), C * np.cos(np.linspace(0, np.pi / 2, 3000)) ** 2])
    x = np.unique(x)[1:]
    f = erf(x / np.sqrt(2))
    x2 = x * x
    A = np.hstack([np.stack([x * x2**k for k in range(nP)], 1),
                   np.stack([-f * x2**k for k in range(1, nQ + 1)], 1)])
    w, qprev = np.ones_like(x), np.ones_like(x)
    for it in range(200):
        W = w / qprev
        c, *_ = np.linalg.lstsq(A * W[:, None], f * W, rcond=None)
        p, q = c[:nP], c[nP:]
        qprev = 1 + sum(q[k - 1] * x2**k for k in range(1, nQ + 1))
        e = x * sum(p[k] * x2**k for k in range(nP)) / qprev - f
        if it > 20:
            w = w * np.abs(e) ** 0.5 + 1e-300
        w /= w.sum()
    return p.astype(np.float32), q.astype(np.float32)


def gelu32(xs, p, q, clamp):
    xs = np.float32(xs)
    c = np.minimum(np.maximum(xs, np.float32(-clamp)), np.float32(clamp))
    z = np.float32(c * c)
    pp = np.full_like(z, p[-1])
    for k in range(len(p) - 2, -1, -1):
        pp = fma(pp, z, p[k])
    pp = np.float32(pp * c)
    qq = np.full_like(z, q[-1])
    for k in range(len(q) - 2, -1, -1):
        qq = fma(qq, z, q[k])
    qq = fma(qq, z, np.float32(1))
    e = np.minimum(np.maximum(np.float32(pp / qq), np.float32(-1)), np.float32(1))
    h = np.float32(0.5) * xs
    return fma(h, e, h), np.float32(pp / qq)


def fit_exp():
    """exp(r) ~ 1 + r + r^2 P(r), P of degree 4, on |r| <= ln2/2: relative least squares,
    reweighted towards minimax."""
    L = np.log(2) / 2
    r = np.linspace(-L * 1.001, L * 1.001, 20001)
    f = np.exp(r)
    g = np.where(np.abs(r) > 1e-8, (f - 1 - r) / np.where(r == 0, 1, r) ** 2, 0.5)
    A = np.stack([r**k for k in range(5)], 1)
    w = np.ones_like(r)
    for _ in range(100):
        W = w * r**2 / f
        c, *_ = np.linalg.lstsq(A * W[:, None], g * W, rcond=None)
        e = (1 + r + r**2 * (A @ c) - f) / f
        w = w * np.abs(e) ** 0.5 + 1e-300
        w /= w.sum()
    return c.astype(np.float32)


def exp32(t, c):
    log2e = np.float32(1 / np.log(2))
    hi = np.float32(np.log(2))
    lo = np.float32(np.log(2) - np.float64(hi))
    n = np.round(np.float32(t * log2e))  # ties to even
    r = fma(-n, hi, t)
    r = fma(-n, lo, r)
    p = np.full_like(r, c[4])
    for k in (3, 2, 1, 0):
        p = fma(p, r, c[k])
    s = np.float32(fma(p, np.float32(r * r), r) + np.float32(1))
    return np.ldexp(s.astype(np.float64), n.astype(int)), hi, lo, log2e


def main():
    p, q = fit_gelu()
    xs = np.float32(np.linspace(4, 7, 30001))
    _, raw = gelu32(xs, p, q, 100.0)
    clamp = xs[np.argmax(raw >= 1)]  # the first float where x P/Q reaches 1
    print("GELU: erf(x/sqrt2) ~ x P(x^2)/Q(x^2)")
    print("  P0..P4 =", ", ".join(repr(float(v)) for v in p))
    print("  Q1..Q5 =", ", ".join(repr(float(v)) for v in q))
    print("  clamp  =", repr(float(clamp)))
    xt = np.float32(np.linspace(-12, 12, 800001))
    y, _ = gelu32(xt, p, q, clamp)
    g = 0.5 * xt.astype(np.float64) * (1 + erf(xt.astype(np.float64) / np.sqrt(2)))
    ae = np.abs(y - g)
    print("  max |error| / max(1, |x|) = %.3g" % (ae / np.maximum(1, np.abs(xt))).max())
    m = (xt >= -1) & (g != 0)
    print("  max relative error for x >= -1 = %.3g" % (ae[m] / np.abs(g[m])).max())

    c = fit_exp()
    t = np.float32(-np.linspace(0, 86.5, 2000001))
    y, hi, lo, log2e = exp32(t, c)
    print("exp: 2^n (1 + r + r^2 (c2 + r (c3 + r (c4 + r (c5 + r c6)))))")
    print("  c2..c6 =", ", ".join(repr(float(v)) for v in c))
    print("  log2e = %r, ln2 hi = %r, lo = %r" % (float(log2e), float(hi), float(lo)))
    print("  max relative error on [-86.5, 0] = %.3g" % (np.abs(y - np.exp(t.astype(np.float64))) / np.exp(t.astype(np.float64))).max())


if __name__ == "__main__":
    main()
