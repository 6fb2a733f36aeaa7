"""Deposit / readout throughput, side by side in one run (Mpart/s, median of repeats).

Compares fieldsolve CIC/TSC paint and readout with a plain numpy ``bincount`` implementation
(written here, cell-centred like fieldsolve) and, when installed, Pylians3 ``MAS_library`` and
pmesh's painter (``pmesh.window``; install with ``pip install --no-deps pmesh``). Peers are
node-centred: their positions are shifted by half a cell so every method paints the same field,
and the benchmark checks that before timing. Also reports the gain from particles sorted by
cell (``fieldsolve.sort_particles``) and the JIT cost (cold cache / warm cache, fresh process).

    python benchmarks/bench_deposit.py            # N = 1e6, 1e7 on 128^3, 256^3, f4 and f8
    python benchmarks/bench_deposit.py --quick    # N = 1e6 on 64^3 and 128^3
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types

import numpy as np

import fieldsolve as fs

OFFSETS = {"cic": [0, 1], "tsc": [0, 1, 2]}


def numpy_stencil(pos, n, box, scheme):
    """First stencil cell and per-offset weights (N, 3) of every particle (cell-centred)."""
    u = pos.astype(np.float64) * (n / box) - 0.5
    if scheme == "cic":
        base = np.floor(u).astype(np.int64)
        d = u - base
        return base, [1 - d, d]
    base = np.floor(u + 0.5).astype(np.int64)
    d = u - base
    return base - 1, [0.5 * (0.5 - d) ** 2, 0.75 - d**2, 0.5 * (0.5 + d) ** 2]


def numpy_paint(pos, n, box, scheme):
    """Reference painter: flat indices + np.bincount per stencil offset (cell-centred)."""
    base, ws = numpy_stencil(pos, n, box, scheme)
    out = np.zeros(n**3)
    offs = OFFSETS[scheme]
    for a, oa in enumerate(offs):
        for b, ob in enumerate(offs):
            for c, oc in enumerate(offs):
                flat = (((base[:, 0] + oa) % n) * n + (base[:, 1] + ob) % n) * n + (base[:, 2] + oc) % n
                out += np.bincount(flat, weights=ws[a][:, 0] * ws[b][:, 1] * ws[c][:, 2], minlength=n**3)
    return out.reshape(n, n, n)


def numpy_read(field, pos, n, box, scheme):
    base, ws = numpy_stencil(pos, n, box, scheme)
    out = np.zeros(len(pos))
    offs = OFFSETS[scheme]
    for a, oa in enumerate(offs):
        for b, ob in enumerate(offs):
            for c, oc in enumerate(offs):
                out += ws[a][:, 0] * ws[b][:, 1] * ws[c][:, 2] * field[
                    (base[:, 0] + oa) % n, (base[:, 1] + ob) % n, (base[:, 2] + oc) % n]
    return out


def peers():
    found = {}
    try:
        found["pylians"] = importlib.import_module("MAS_library")
    except ImportError:
        pass
    try:  # pmesh/__init__ needs pfft (unbuildable offline): load only its painter module
        spec = importlib.util.find_spec("pmesh")
        if spec is not None and "pmesh" not in sys.modules:
            pkg = types.ModuleType("pmesh")
            pkg.__path__ = list(spec.submodule_search_locations)
            sys.modules["pmesh"] = pkg
        found["pmesh"] = importlib.import_module("pmesh.window")
    except Exception:
        pass
    return found


def methods(n, box, dtype, peer_mods):
    grid = fs.Grid((n, n, n), box)
    shift = box / n / 2  # node-centred peers: value i at i*h, ours at (i+1/2)*h

    def fs_paint(pos, scheme):
        return fs.deposit(grid, pos, window=scheme, density=False, dtype=dtype)

    def fs_read(field, pos, scheme):
        return fs.interpolate(grid, field, pos, scheme)

    paint = {"fieldsolve": fs_paint, "numpy_bincount": lambda p, s: numpy_paint(p, n, box, s)}
    read = {"fieldsolve": fs_read, "numpy_gather": lambda f, p, s: numpy_read(f, p, n, box, s)}
    if "pylians" in peer_mods:
        mas = peer_mods["pylians"]

        def pyl_paint(pos, scheme):
            out = np.zeros((n, n, n), np.float32)
            mas.MA(np.ascontiguousarray((pos - shift) % box, np.float32), out, box, scheme.upper(),
                   verbose=False)
            return out

        def pyl_read(field, pos, scheme):
            out = np.zeros(len(pos), np.float32)
            mas.CIC_interp(field.astype(np.float32), box,
                           np.ascontiguousarray((pos - shift) % box, np.float32), out)
            return out

        paint["pylians"] = pyl_paint
        read["pylians(cic only)"] = pyl_read
    if "pmesh" in peer_mods:
        win = peer_mods["pmesh"]

        def pm_paint(pos, scheme):
            out = np.zeros((n, n, n), dtype)
            tr = win.Affine(3, scale=[n / box] * 3, translate=[-0.5] * 3, period=[n] * 3)
            win.methods[scheme.upper()].paint(out, pos, transform=tr)
            return out

        def pm_read(field, pos, scheme):
            tr = win.Affine(3, scale=[n / box] * 3, translate=[-0.5] * 3, period=[n] * 3)
            return win.methods[scheme.upper()].readout(field.astype(dtype), pos, transform=tr)

        paint["pmesh"] = pm_paint
        read["pmesh"] = pm_read
    return paint, read


def timeit(fn, repeats):
    fn()  # warm-up: JIT, plans, page faults
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def jit_cost():
    """First call in a fresh process with an empty numba cache, then with a warm one."""
    code = ("import time,numpy as np;import fieldsolve as fs;"
            "g=fs.Grid((32,32,32),1.0);x=np.random.rand(50000,3);t=time.perf_counter();"
            "fs.deposit(g,x,scheme='cic');fs.interpolate(g,np.zeros(g.shape),x,'cic');"
            "print(time.perf_counter()-t)")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold = float(subprocess.check_output([sys.executable, "-c", code], env=env))
        warm = float(subprocess.check_output([sys.executable, "-c", code], env=env))
    return cold, warm


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N=1e6 on 64^3 and 128^3 only")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-numpy", action="store_true", help="skip the slow numpy reference")
    args = ap.parse_args()
    if args.threads:
        fs.set_num_threads(args.threads)
    sizes = [(10**6, 64), (10**6, 128)] if args.quick else [(10**6, 128), (10**6, 256), (10**7, 128), (10**7, 256)]
    box = 1000.0
    peer_mods = peers()
    print(f"threads={fs.get_num_threads()}  peers installed: {sorted(peer_mods) or 'none'}")
    cold, warm = jit_cost()
    print(f"JIT: first deposit+readout in a fresh process {cold:.2f} s with a cold numba cache, "
          f"{warm:.2f} s with a warm one (import excluded)")
    rng = np.random.default_rng(42)
    rows = []
    for npart, n in sizes:
        for dtype in (np.float32, np.float64):
            pos = (rng.random((npart, 3)) * box).astype(dtype)
            paint, read = methods(n, box, dtype, peer_mods)
            field = rng.standard_normal((n, n, n)).astype(dtype)
            for scheme in ("cic", "tsc"):
                ref = paint["fieldsolve"](pos[:20000], scheme)
                for name, fn in paint.items():
                    if name == "numpy_bincount" and (args.no_numpy or npart > 10**6):
                        continue
                    got = fn(pos[:20000], scheme)
                    err = np.abs(np.asarray(got, np.float64) - ref).max() / ref.max()
                    if err > 1e-4:
                        print(f"  ! {name} paint differs from fieldsolve by {err:.1e}; skipped")
                        continue
                    t = timeit(lambda: fn(pos, scheme), args.repeats)
                    rows.append(("paint", scheme, npart, n, dtype.__name__, name, npart / t / 1e6))
                for name, fn in read.items():
                    if name.startswith("numpy") and (args.no_numpy or npart > 10**6):
                        continue
                    if "cic only" in name and scheme != "cic":
                        continue
                    t = timeit(lambda: fn(field, pos, scheme), args.repeats)
                    rows.append(("readout", scheme, npart, n, dtype.__name__, name, npart / t / 1e6))
            # particles sorted by cell: the same kernels on a cache-friendly order
            order = fs.sort_particles(fs.Grid((n, n, n), box), pos)
            spos = pos[order]
            for scheme in ("cic", "tsc"):
                t = timeit(lambda: paint["fieldsolve"](spos, scheme), args.repeats)
                rows.append(("paint", scheme, npart, n, dtype.__name__, "fieldsolve sorted", npart / t / 1e6))
                t = timeit(lambda: read["fieldsolve"](field, spos, scheme), args.repeats)
                rows.append(("readout", scheme, npart, n, dtype.__name__, "fieldsolve sorted", npart / t / 1e6))
            print(f"  done N={npart:.0e} {n}^3 {dtype.__name__}", flush=True)

    print("\n| op | window | N | grid | dtype | method | Mpart/s | x numpy | x fieldsolve |")
    print("|---|---|---|---|---|---|---:|---:|---:|")
    for op, scheme, npart, n, dt, name, rate in rows:
        same = [r for r in rows if r[:5] == (op, scheme, npart, n, dt)]
        base = {r[5]: r[6] for r in same}
        np_rate = base.get("numpy_bincount") or base.get("numpy_gather")
        rel_np = f"{rate / np_rate:.1f}" if np_rate else "-"
        print(f"| {op} | {scheme} | {npart:.0e} | {n}^3 | {dt} | {name} | {rate:.1f} | {rel_np} | "
              f"{rate / base['fieldsolve']:.2f} |")


if __name__ == "__main__":
    main()
