"""fieldsolve.power_spectrum against Pylians ``Pk_library.Pk``, side by side in one process.

For each mesh size: a float32 and a float64 density mesh (``1 + 0.1 * noise``), CIC
compensation, both libraries with the same thread count, timed alternately after one warm-up
call each (numba JIT from its disk cache, FFTW plans, first touch of memory). Pylians works in
float32 and also computes 1-D and 2-D spectra; fieldsolve transforms in float64 whatever the
input. Peak memory beyond the input is the resident-set high-water mark of the call (reset
through ``/proc/self/clear_refs`` before it; sees FFTW's and Cython's allocations too), and
fieldsolve's also by tracemalloc; both in float64 meshes (``8 N^3`` bytes).

Pylians is not a dependency: install it apart, e.g. ``pip install --target DIR Pylians
hdf5plugin`` and pass ``--pylians-path DIR``. Without it only fieldsolve is timed.

    python benchmarks/bench_power.py [--sizes 128 256] [--repeat 5] [--pylians-path DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tracemalloc

import numpy as np

import fieldsolve as fs
from conditions import Conditions, spread, timings

WARMUP = ("one call of each method per size first (JIT, FFTW plans, first touch), then "
          "--repeat rounds in which the methods alternate")


def _status_mib(field):
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise OSError(field)


def rss_peak(fn):
    """Peak resident memory (MiB) of ``fn()`` above the resident memory before it, or None
    where the high-water mark cannot be reset. Freed heap memory is first returned to the
    system (glibc ``malloc_trim``), or reused blocks would hide the allocations."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        before = _status_mib("VmRSS")
        fn()
        return _status_mib("VmHWM") - before
    except OSError:
        return None


def traced_peak(fn):
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak / 2**20


def make_field(n, dtype):
    """``1 + 0.1 N(0, 1)`` filled plane by plane (no float64 temporary of the mesh size)."""
    rng = np.random.default_rng(0)
    out = np.empty((n, n, n), dtype)
    for i in range(n):
        out[i] = 1 + 0.1 * rng.standard_normal((n, n))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="*", default=[128, 256])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--pylians-path", default=None, help="directory with a Pylians install")
    args = p.parse_args(argv)
    if args.threads:
        fs.set_num_threads(args.threads)
    threads = fs.get_num_threads()
    if args.pylians_path:
        sys.path.append(args.pylians_path)
    try:
        import Pk_library as PKL
    except ImportError:
        PKL = None
    cond = Conditions(WARMUP, extra_versions=("Pylians",) if PKL else ())
    print(cond.header())
    print(f"# Pylians: {'Pk_library.Pk, ' + str(threads) + ' threads' if PKL else 'not installed'}")
    box = 1000.0
    for n in args.sizes:
        grid = fs.Grid((n, n, n), box)
        mesh_mib = 8 * n**3 / 2**20
        f32, f64 = make_field(n, np.float32), make_field(n, np.float64)
        methods = {
            "fieldsolve f64": lambda: fs.power_spectrum(grid, f64, window="cic"),
            "fieldsolve f32": lambda: fs.power_spectrum(grid, f32, window="cic"),
        }
        if PKL is not None:
            def pylians():
                with contextlib.redirect_stdout(io.StringIO()):
                    return PKL.Pk(f32, box, 0, "CIC", threads, False)

            methods["Pylians Pk f32"] = pylians
        for fn in methods.values():
            fn()
        times = {name: [] for name in methods}
        for _ in range(args.repeat):
            for name, fn in methods.items():
                times[name] += timings(fn, 1)
        ref = statistics.median(times["Pylians Pk f32"]) if PKL is not None else None
        for name, fn in methods.items():
            med = statistics.median(times[name])
            rss = rss_peak(fn)
            line = (f"N={n:4d}^3 {name:15s} {spread(times[name])} s"
                    + (f"  time / Pylians {med / ref:5.2f}" if ref else "")
                    + (f"  peak RSS +{rss:7.1f} MiB = {rss / mesh_mib:4.2f} meshes" if rss is not None
                       else "  peak RSS n/a"))
            if name.startswith("fieldsolve"):
                tm = traced_peak(fn)
                line += f" (tracemalloc {tm / mesh_mib:4.2f})"
            print(line, flush=True)
    print(cond.footer())


if __name__ == "__main__":
    main()
