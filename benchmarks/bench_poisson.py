"""Benchmark of fieldsolve.PoissonSolver (3D), all measurements side by side in one run.

* periodic solve vs the bare FFT round trip (rfftn + irfftn) of the same grid (target <= 1.15x)
* free-space solve, pruned and unpruned, vs the periodic solve at the same N (target <= 3x),
  and the share of the pruned solve spent in its transforms alone (the floor of the method)
* peak memory of the free-space solve (tracemalloc, plans and kernel cached, the pruned
  solver's kept work buffer dropped first) relative to one padded complex array of
  (2N)^2 (N+1) entries (target <= 2.5x), and what the pruned solver holds between solves
* kernel set-up / one free-space solve, per free kernel: the float64 spectrum built from
  scratch (in-memory caches and the LGF quadrature table cleared, disk cache off) against the
  pruned ``zeta`` solve of the same N, run alternately (targets: <= 2 for every kernel but
  ``lgf``, <= 5 for ``lgf``)

Usage: python benchmarks/bench_poisson.py [--quick] [--sizes 64 128 256] [--repeat 3]
       [--threads 1] [--section all|solve|setup] [--kernels zeta lgf ...]
``--quick`` runs N = 64, 128 only. Times: min / median / max of ``--repeat`` runs (seconds),
ratios of medians; the conditions (load, steal time, threads, versions) are printed around them.
"""
from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc
import warnings

import numpy as np

import fieldsolve as fs
from conditions import Conditions, spread, timings
from fieldsolve import fft
from fieldsolve.poisson import PoissonSolver

SETUP_KERNELS = ("zeta", "chat2", "igf", "hej2", "hej4", "hej6", "hej8", "hej10", "hej0", "vgf",
                 "lgf")
WARMUP = ("every timed function is called once first (numba JIT from its disk cache, FFTW plans "
          "from wisdom, first touch of fresh memory), then timed --repeat times; set-up and "
          "solve alternate")


SPREADS = {}  # label -> wall times of the last best() call with that label


def best(fn, repeat, label=None):
    """Median wall time of ``repeat`` calls after a warm-up (medians: the machine is noisy);
    the times are kept under ``label`` for the printed spread."""
    fn()  # warm-up: plans, caches
    times = timings(fn, repeat)
    if label:
        SPREADS[label] = times
    return statistics.median(times)


def peak_bytes(fn):
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    out = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del out
    return peak


def pruned_fft_share(solver, f, repeat):
    """Median share of a pruned solve spent inside its transforms alone (the 2 + 2 (ndim - 1)
    ``fft.execute`` calls), measured within the same solves: the part of the cost that is
    the method's floor, not multiplies or copies."""
    inner = fft.execute
    spent = []

    def timed(*args, **kwargs):
        t = time.perf_counter()
        out = inner(*args, **kwargs)
        spent[-1][0] += time.perf_counter() - t
        return out

    fft.execute = timed
    try:
        for _ in range(repeat + 1):
            spent.append([0.0, 0.0])
            t = time.perf_counter()
            solver.solve(f)
            spent[-1][1] = time.perf_counter() - t
    finally:
        fft.execute = inner
    return float(np.median([a / b for a, b in spent[1:]]))


def run(sizes, dtypes, repeat):
    rows = []
    for n in sizes:
        for dt in dtypes:
            rng = np.random.default_rng(0)
            f = rng.standard_normal((n,) * 3).astype(dt)
            f -= f.mean()
            gp = fs.Grid((n,) * 3, 1.0)
            gf = fs.Grid((n,) * 3, 1.0, periodic=False)
            sp = PoissonSolver(gp)
            sp.prepare(dt)
            t_fft = best(lambda: fft.irfftn(fft.rfftn(f), f.shape, overwrite_input=True), repeat,
                         "fft round trip")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t_per = best(lambda: sp.solve(f), repeat, "periodic")
            fs.poisson._SPECTRUM_CACHE.clear()  # time the set-up from scratch
            t0 = time.perf_counter()
            spr = PoissonSolver(gf, "zeta", pruned=True)
            spr.prepare(dt)
            t_setup_zeta = time.perf_counter() - t0
            sun = PoissonSolver(gf, "zeta", pruned=False)
            sun._spec = spr._spec  # same kernel spectrum
            t_pr = best(lambda: spr.solve(f), repeat, "free pruned")
            t_un = best(lambda: sun.solve(f), repeat, "free unpruned")
            fft_share = pruned_fft_share(spr, f, repeat)
            # the floor a 2N-padded solve competes with: one bare (2N)^3 FFT round trip
            fpad = np.zeros((2 * n,) * 3, dt)
            t_pad = best(lambda: fft.irfftn(fft.rfftn(fpad), fpad.shape, overwrite_input=True), repeat)
            del fpad
            itemsize = 16 if dt == np.float64 else 8
            padded_complex = (2 * n) ** 2 * (n + 1) * itemsize
            # cold peak: the pruned solver's kept work buffer is dropped first, so the peak
            # includes allocating it; "held" is what stays allocated between solves
            mem_pr = peak_bytes(lambda: (spr._buffers.clear(), spr.solve(f))[1]) / padded_complex
            mem_un = peak_bytes(lambda: sun.solve(f)) / padded_complex
            held = (sum(b.nbytes for b in spr._buffers) + spr._stored(dt).nbytes) / padded_complex
            # the same with the scipy.fft backend, for comparison
            backend = fft.get_backend()
            fft.set_backend("scipy")
            try:
                spr.solve(f), sun.solve(f)
                smem_pr = peak_bytes(lambda: (spr._buffers.clear(), spr.solve(f))[1]) / padded_complex
                smem_un = peak_bytes(lambda: sun.solve(f)) / padded_complex
            finally:
                fft.set_backend(backend)
            rows.append(dict(n=n, dtype=np.dtype(dt).name, fft=t_fft, periodic=t_per,
                             pruned=t_pr, pruned_fft_share=fft_share, unpruned=t_un, padded_fft=t_pad, setup_zeta=t_setup_zeta,
                             mem_pruned=mem_pr, mem_unpruned=mem_un, held_pruned=held, scipy_mem_pruned=smem_pr,
                             scipy_mem_unpruned=smem_un))
            r = rows[-1]
            print(f"N={n:4d} {r['dtype']:8s} fft-roundtrip {t_fft:8.4f}s  periodic {t_per:8.4f}s "
                  f"({t_per / t_fft:4.2f}x)  free pruned {t_pr:8.4f}s ({t_pr / t_per:4.2f}x per.; "
                  f"{100 * fft_share:3.0f}% of it in the transforms)  "
                  f"unpruned {t_un:8.4f}s ({t_un / t_per:4.2f}x)  pruned / bare (2N)^3 round trip "
                  f"{t_pr / t_pad:4.2f}x  peak mem pruned {mem_pr:4.2f} / "
                  f"unpruned {mem_un:4.2f} padded-complex (scipy.fft: {smem_pr:4.2f} / {smem_un:4.2f}); "
                  f"held between pruned solves (buffer + kernel spectrum) {held:4.2f}\n"
                  f"           spread (min / median / max, s): "
                  + "; ".join(f"{k} {spread(v)}" for k, v in SPREADS.items()), flush=True)
    return rows


def _fresh_spectrum(grid, name):
    """The float64 transfer function a solve of kernel ``name`` uses, built from scratch: every
    in-memory cache of the solver and of the lattice Green's function cleared, the disk cache
    off (``prepare``: the half the solver keeps, not the full layout ``transfer()`` expands)."""
    from fieldsolve.kernels import lattice

    fs.poisson._SPECTRUM_CACHE.clear()
    for obj in vars(lattice).values():
        if callable(getattr(obj, "cache_clear", None)):
            obj.cache_clear()
    if hasattr(fs.poisson, "set_kernel_cache"):
        fs.poisson.set_kernel_cache(None)
    return PoissonSolver(grid, name).prepare()


def setup_ratios(sizes, kernels, repeat):
    """Kernel set-up against one pruned free-space solve (zeta, float64) of the same N."""
    rows = []
    for n in sizes:
        g = fs.Grid((n,) * 3, 1.0, periodic=False)
        f = np.random.default_rng(0).standard_normal(g.shape)
        solver = PoissonSolver(g, "zeta")
        solver.solve(f)
        first = {}
        for name in kernels:
            t = time.perf_counter()
            _fresh_spectrum(g, name)  # warm-up
            first[name] = time.perf_counter() - t
            setups, solves = [], []
            for _ in range(repeat):
                solves += timings(lambda: solver.solve(f), 1)
                setups += timings(lambda: _fresh_spectrum(g, name), 1)
            ratio = statistics.median(setups) / statistics.median(solves)
            target = 5 if name == "lgf" else 2
            rows.append(dict(n=n, kernel=name, setup=setups, solve=solves, ratio=ratio,
                             first=first[name]))
            print(f"N={n:4d} set-up {name:6s} {spread(setups)} s   solve {spread(solves)} s   "
                  f"set-up/solve {ratio:6.2f} (target <= {target}; {'ok' if ratio <= target else 'MISSED'})"
                  f"   first call in this process {first[name]:.3g} s", flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="N = 64, 128 only")
    p.add_argument("--sizes", type=int, nargs="*", default=None)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=None,
                   help="FFT threads (default: all cores; 1 gives steadier timings on a busy machine)")
    p.add_argument("--section", choices=("all", "solve", "setup"), default="all")
    p.add_argument("--kernels", nargs="*", default=list(SETUP_KERNELS),
                   help="free kernels for the set-up section")
    args = p.parse_args(argv)
    if args.threads:
        fs.set_num_threads(args.threads)
    sizes = args.sizes or ([64, 128] if args.quick else [64, 128, 256])
    cond = Conditions(WARMUP)
    print(cond.header(), flush=True)
    if args.section in ("all", "solve"):
        run(sizes, (np.float64, np.float32), args.repeat)
    if args.section in ("all", "setup"):
        setup_ratios(sizes, args.kernels, args.repeat)
    print(cond.footer())


if __name__ == "__main__":
    main()
