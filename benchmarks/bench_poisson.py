"""Benchmark of fieldsolve.PoissonSolver (3D), all measurements side by side in one run.

* periodic solve vs the bare FFT round trip (rfftn + irfftn) of the same grid (target <= 1.15x)
* free-space solve, pruned and unpruned, vs the periodic solve at the same N (target <= 3x),
  and the share of the pruned solve spent in its transforms alone (the floor of the method)
* kernel set-up time (zeta, LGF, VGF via DCT-I), separately
* peak memory of the free-space solve (tracemalloc, plans and kernel cached, the pruned
  solver's kept work buffer dropped first) relative to one padded complex array of
  (2N)^2 (N+1) entries (target <= 2.5x), and what the pruned solver holds between solves

Usage: python benchmarks/bench_poisson.py [--quick] [--sizes 64 128 256] [--repeat 3] [--threads 1]
``--quick`` runs N = 64, 128 only. Times are the median of ``--repeat`` runs (seconds).
"""
from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
import warnings

import numpy as np

import fieldsolve as fs
from fieldsolve import fft
from fieldsolve.poisson import PoissonSolver


def best(fn, repeat):
    """Median wall time of ``repeat`` calls after a warm-up (medians: the machine is noisy)."""
    fn()  # warm-up: plans, caches
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


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
            sp.spectrum(dt)
            t_fft = best(lambda: fft.irfftn(fft.rfftn(f), f.shape, overwrite_input=True), repeat)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t_per = best(lambda: sp.solve(f), repeat)
            fs.poisson._SPECTRUM_CACHE.clear()  # time the set-up from scratch
            t0 = time.perf_counter()
            spr = PoissonSolver(gf, "zeta", pruned=True)
            spr.spectrum(dt)
            t_setup_zeta = time.perf_counter() - t0
            sun = PoissonSolver(gf, "zeta", pruned=False)
            sun._spec = spr._spec  # same kernel spectrum
            t_pr = best(lambda: spr.solve(f), repeat)
            t_un = best(lambda: sun.solve(f), repeat)
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
            held = (sum(b.nbytes for b in spr._buffers) + spr.spectrum(dt).nbytes) / padded_complex
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
                  f"held between pruned solves (buffer + kernel spectrum) {held:4.2f}",
                  flush=True)
        # kernel set-up (float64 spectrum, from scratch)
        for name in ("zeta", "lgf", "vgf"):
            fs.kernels.lattice._lgf_octant.cache_clear()
            fs.poisson._SPECTRUM_CACHE.clear()
            t0 = time.perf_counter()
            PoissonSolver(fs.Grid((n,) * 3, 1.0, periodic=False), name).spectrum()
            dt_setup = time.perf_counter() - t0
            print(f"N={n:4d} kernel set-up {name:5s} {dt_setup:8.3f}s", flush=True)
            rows.append(dict(n=n, setup=name, seconds=dt_setup))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="N = 64, 128 only")
    p.add_argument("--sizes", type=int, nargs="*", default=None)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=None,
                   help="FFT threads (default: all cores; 1 gives steadier timings on a busy machine)")
    args = p.parse_args(argv)
    if args.threads:
        fs.set_num_threads(args.threads)
    sizes = args.sizes or ([64, 128] if args.quick else [64, 128, 256])
    print(f"fieldsolve {fs.__version__}, FFT backend {fft.get_backend()}, "
          f"{fs.get_num_threads()} threads, python {sys.version.split()[0]}")
    run(sizes, (np.float64, np.float32), args.repeat)


if __name__ == "__main__":
    main()
