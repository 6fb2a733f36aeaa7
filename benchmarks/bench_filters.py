"""Cost of explicit filtering and of the SGS stress relative to the bare FFTs they need.

Minimum work for a d-component vector field on an n^3 grid:
  filter_field(u)     : d forward + d inverse real FFTs           (one round trip of (3, n, n, n))
  sgs_stress(u)       : ubar (3 + 3) and the 6 products (6 + 6)   (round trips of (3, ...) and (6, ...))
Both are timed side by side with those bare round trips in the same run (same arrays, same
FFT plans, warm-up excluded); the script prints medians over --repeats and the ratios.

    python benchmarks/bench_filters.py --n 256 --repeats 5
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import fieldsolve as fs
from fieldsolve import fft


def _time(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=256, help="cells per axis (default 256)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="FFT threads (default: library default)")
    ap.add_argument("--kind", default="gaussian")
    ap.add_argument("--float32", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        fs.set_num_threads(args.threads)
    n = args.n
    grid = fs.Grid((n, n, n), 2 * np.pi)
    dtype = np.float32 if args.float32 else np.float64
    u = fs.synthetic_turbulence(grid, k_peak=4.0, seed=1, dtype=dtype)
    width = None if args.kind in ("trapezoid", "simpson") else 4 * grid.spacing[0]
    filt = fs.make_filter(grid, args.kind, width)
    axes = (1, 2, 3)
    six = np.empty((6,) + grid.shape, dtype=dtype)
    six[:3] = u
    six[3:] = u

    def bare3():
        fft.irfftn(fft.rfftn(u, axes=axes), grid.shape, axes=axes, overwrite_input=True)

    def bare6():
        fft.irfftn(fft.rfftn(six, axes=axes), grid.shape, axes=axes, overwrite_input=True)

    def do_filter():
        filt.apply(u)

    def do_tau():
        fs.sgs_stress(grid, u, filt)

    cases = {"bare round trip (3 comps)": bare3, "bare round trip (6 comps)": bare6,
             "filter_field (3 comps)": do_filter, "sgs_stress (tau_ij)": do_tau}
    for fn in cases.values():  # warm-up: FFT plans, page faults
        fn()
    times = {k: [] for k in cases}
    for _ in range(args.repeats):
        for name, fn in cases.items():  # interleaved so that load changes hit all cases alike
            times[name].append(_time(fn))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"grid {n}^3, {np.dtype(dtype).name}, filter {args.kind}, FFT backend {fft.get_backend()}, "
          f"threads {fs.get_num_threads()}, median of {args.repeats}")
    for k, v in med.items():
        print(f"  {k:28s} {v * 1e3:10.1f} ms   (min {min(times[k]) * 1e3:.1f} ms)")
    r_filter = med["filter_field (3 comps)"] / med["bare round trip (3 comps)"]
    r_tau = med["sgs_stress (tau_ij)"] / (med["bare round trip (3 comps)"] + med["bare round trip (6 comps)"])
    print(f"ratio filter_field / bare FFTs (6 transforms)  : {r_filter:.3f}")
    print(f"ratio sgs_stress   / bare FFTs (18 transforms) : {r_tau:.3f}")
    return r_filter, r_tau


if __name__ == "__main__":
    main()
