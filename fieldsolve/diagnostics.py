"""Linear theory and fits used to check runs (Landau damping, two-stream, Plummer, Zel'dovich).

Normalised plasma units: electron plasma frequency omega_p = 1, thermal speed v_th = 1 (so the
Debye length is 1), eps0 = 1.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["plasma_dispersion_z", "landau_root", "two_stream_growth_rate", "fit_damped_oscillation",
           "fit_energy_peaks",
           "fit_exponential_rate", "lagrangian_radii", "zeldovich_tau"]


def plasma_dispersion_z(zeta):
    """Fried-Conte plasma dispersion function Z(zeta) = i sqrt(pi) w(zeta) (Faddeeva w)."""
    from scipy.special import wofz

    return 1j * math.sqrt(math.pi) * wofz(zeta)


def landau_root(k, v_th=1.0, omega_p=1.0, guess=None):
    """Least-damped root omega = omega_r + i gamma of the Maxwellian Langmuir-wave dispersion
    relation ``1 + (1 + zeta Z(zeta)) / (k lambda_D)^2 = 0``, ``zeta = omega / (sqrt2 k v_th)``,
    ``lambda_D = v_th / omega_p``. Returns the complex frequency (gamma < 0: damping); for
    k lambda_D = 0.5 this gives 1.4156 - 0.1533i."""
    from scipy.optimize import newton

    kl = k * v_th / omega_p

    def D(w):
        zeta = w / (math.sqrt(2) * k * v_th)
        return 1 + (1 + zeta * plasma_dispersion_z(zeta)) / kl ** 2

    if guess is None:  # Bohm-Gross
        guess = omega_p * math.sqrt(1 + 3 * kl ** 2) - 0.1j
    return complex(newton(D, complex(guess), tol=1e-13, maxiter=200))


def two_stream_growth_rate(k, v0, omega_p=1.0):
    """Growth rate of the symmetric cold two-stream instability: beams at +-v0, each of plasma
    frequency omega_p/sqrt2 (total omega_p). The dispersion relation
    ``1 = (omega_p^2/2) [1/(omega - k v0)^2 + 1/(omega + k v0)^2]`` has the roots
    ``omega^2 = k^2 v0^2 + omega_p^2/2 -+ (omega_p/2) sqrt(omega_p^2 + 8 k^2 v0^2)``; the minus
    root is negative (unstable) for ``k v0 < omega_p``, growth ``gamma = sqrt(-omega^2)``
    (maximum omega_p / (2 sqrt2) at k v0 = sqrt(3/8) omega_p). Returns 0 if stable."""
    a2 = (k * v0) ** 2
    w2 = a2 + omega_p ** 2 / 2 - 0.5 * omega_p * math.sqrt(omega_p ** 2 + 8 * a2)
    return math.sqrt(-w2) if w2 < 0 else 0.0


def fit_damped_oscillation(t, y):
    """Least-squares fit of ``y = A exp(gamma t) cos(omega t + phi) + c`` (returns gamma, omega,
    A, phi). Initial guesses come from the data itself (zero crossings and envelope)."""
    from scipy.optimize import curve_fit

    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    s = np.sign(y - np.median(y))
    zc = np.flatnonzero(s[1:] * s[:-1] < 0)
    if zc.size < 3:
        raise ValueError("fewer than 3 zero crossings: not an oscillation")
    tz = t[zc] - y[zc] * (t[zc + 1] - t[zc]) / (y[zc + 1] - y[zc])
    omega0 = math.pi / np.polyfit(np.arange(tz.size), tz, 1)[0]
    env_t, env = [], []
    for a, b in zip(zc[:-1], zc[1:]):
        i = a + np.argmax(np.abs(y[a:b + 1]))
        env_t.append(t[i])
        env.append(abs(y[i]))
    gamma0 = np.polyfit(env_t, np.log(env), 1)[0] if len(env) >= 2 else 0.0
    A0 = env[0] * math.exp(-gamma0 * env_t[0]) if env else np.max(np.abs(y))
    best = None
    for phi0 in np.linspace(0, 2 * math.pi, 8, endpoint=False):
        try:
            p, _ = curve_fit(lambda tt, A, g, w, ph, c: A * np.exp(g * tt) * np.cos(w * tt + ph) + c, t, y,
                             p0=[A0, gamma0, omega0, phi0, 0.0], maxfev=20000)
        except RuntimeError:
            continue
        res = np.sum((p[0] * np.exp(p[1] * t) * np.cos(p[2] * t + p[3]) + p[4] - y) ** 2)
        if best is None or res < best[0]:
            best = (res, p)
    if best is None:
        raise ValueError("damped-oscillation fit did not converge")
    A, g, w, ph, _ = best[1]
    if A < 0:
        A, ph = -A, ph + math.pi
    return float(g), float(abs(w)), float(A), float(ph % (2 * math.pi))


def fit_energy_peaks(t, W):
    """Damping (growth) rate and frequency from the local maxima of an oscillating energy
    ``W ~ exp(2 gamma t) cos^2(omega t + phi)``: the maxima (refined by a parabola through
    log W) lie on ``exp(2 gamma t)`` and are ``pi / omega`` apart. Returns (2 gamma, omega, peak times)."""
    t = np.asarray(t, dtype=float)
    L = np.log(np.asarray(W, dtype=float))
    i = np.flatnonzero((L[1:-1] > L[:-2]) & (L[1:-1] >= L[2:])) + 1
    if i.size < 3:
        raise ValueError(f"only {i.size} maxima in the window; need 3")
    a, b, c = L[i - 1], L[i], L[i + 1]
    off = 0.5 * (a - c) / (a - 2 * b + c)
    tp = t[i] + off * 0.5 * (t[i + 1] - t[i - 1])
    lp = b - 0.25 * (a - c) * off
    rate = np.polyfit(tp, lp, 1)[0]
    spacing = np.polyfit(np.arange(tp.size), tp, 1)[0]
    return float(rate), float(math.pi / spacing), tp


def fit_exponential_rate(t, y):
    """Slope of log(y) vs t by least squares (y > 0): the e-folding rate."""
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    return float(np.polyfit(t, np.log(y), 1)[0])


def lagrangian_radii(positions, masses, fractions=(0.1, 0.5, 0.9), center=None):
    """Radii enclosing the given mass fractions around ``center`` (default: centre of mass)."""
    x = np.asarray(positions, dtype=float)
    m = np.asarray(masses, dtype=float)
    c = (m[:, None] * x).sum(0) / m.sum() if center is None else np.asarray(center, dtype=float)
    r = np.linalg.norm(x - c, axis=1)
    order = np.argsort(r)
    cm = np.cumsum(m[order]) / m.sum()
    return np.interp(np.asarray(fractions), cm, r[order])


def zeldovich_tau(G, mean_density):
    """Growth time of a planar perturbation on a static background: tau = (4 pi G rho)^(-1/2)."""
    return 1.0 / math.sqrt(4 * math.pi * G * mean_density)
