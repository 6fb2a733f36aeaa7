"""Deposit / readout benchmarks, all measured side by side in one run, with the conditions
(load before and after, CPU steal, threads, warm-up policy, versions) and min / median / max.

Sections (``--section``, default all):

* ``small``: 1-D deposit of 40 000 particles on 64 cells against the same CIC deposit written with
  ``np.bincount`` (ratio; target <= 3), the library part of a ``two_stream`` PIC step (1-D, 40 000
  particles, 64 cells, TSC deposit + ``ParticleMesh.solve`` + readout; target <= 5 ms), and
  2 threads / 1 thread over the sizes of this benchmark (target: never slower with 2).
* ``load``: 2-thread / 1-thread deposit speed while two CPU-bound processes, started and killed
  here, share the cores (target >= 0.8), and loaded / unloaded.
* ``bounded``: isolated (non-periodic) / periodic 3-D grid, deposit and 3-component readout,
  128^3 and 2e6 particles (target <= 1.3).
* ``throughput``: Mpart/s of the plain user call ``fs.deposit(grid, pos, window=...)`` /
  ``fs.interpolate``, with a numpy ``bincount`` reference and, when installed, Pylians3
  ``MAS_library`` and pmesh's painter (``pmesh.window``; ``pip install --no-deps pmesh``), each
  given its input already in its own format (conversions are not timed); particles sorted by
  cell; the first call in a fresh process (what a script that deposits once gets); JIT cost.

Peers are node-centred: their positions are shifted by half a cell so every method paints the
same field, and the benchmark checks that before timing.

    python benchmarks/bench_deposit.py                 # everything, N = 1e6 and 1e7
    python benchmarks/bench_deposit.py --quick         # smaller sizes, fewer repeats
    python benchmarks/bench_deposit.py --section small load
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
from conditions import Conditions, spread, timings

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


def methods(n, box, dtype, peer_mods, pos, field):
    """name -> paint(scheme) and name -> read(scheme) closures on ``pos`` / ``field``, each
    peer's input converted to its own format here, before any timing (the old benchmark timed
    Pylians' float32 cast and a modulo of the positions, about as long as its paint)."""
    grid = fs.Grid((n, n, n), box)
    shift = box / n / 2  # node-centred peers: value i at i*h, ours at (i+1/2)*h
    paint = {"fieldsolve": lambda s: fs.deposit(grid, pos, window=s),
             "numpy_bincount": lambda s: numpy_paint(pos, n, box, s)}
    read = {"fieldsolve": lambda s: fs.interpolate(grid, field, pos, s),
            "numpy_gather": lambda s: numpy_read(field, pos, n, box, s)}
    if "pylians" in peer_mods:
        mas = peer_mods["pylians"]
        p32 = np.ascontiguousarray((pos - shift) % box, np.float32)
        f32 = field.astype(np.float32)

        def pyl_paint(scheme):
            out = np.zeros((n, n, n), np.float32)
            mas.MA(p32, out, box, scheme.upper(), verbose=False)
            return out

        def pyl_read(scheme):
            out = np.zeros(len(p32), np.float32)
            mas.CIC_interp(f32, box, p32, out)
            return out

        paint["pylians"] = pyl_paint
        read["pylians(cic only)"] = pyl_read
    if "pmesh" in peer_mods:
        win = peer_mods["pmesh"]
        tr = win.Affine(3, scale=[n / box] * 3, translate=[-0.5] * 3, period=[n] * 3)

        def pm_paint(scheme):
            out = np.zeros((n, n, n), dtype)
            win.methods[scheme.upper()].paint(out, pos, transform=tr)
            return out

        paint["pmesh"] = pm_paint
        read["pmesh"] = lambda s: win.methods[s.upper()].readout(field, pos, transform=tr)
    return paint, read


WARMUP = ("every timed call is made once first (numba kernels from the disk cache, thread start,"
          " first touch of its inputs), then timed --repeat times; each call allocates its output"
          " as a user's call does; 'first call' rows time one call in a fresh process instead")


def timed(fn, repeats):
    """Wall times of ``repeats`` calls after one warm-up call."""
    fn()
    return timings(fn, repeats)


def med(ts):
    return statistics.median(ts)


def first_call(code, env=None):
    """Seconds printed by ``code`` run in a fresh interpreter."""
    return float(subprocess.check_output([sys.executable, "-c", code], env=env, text=True))


def jit_cost():
    """First deposit + readout in a fresh process with an empty numba cache, then a warm one."""
    code = ("import time,numpy as np;import fieldsolve as fs;"
            "g=fs.Grid((32,32,32),1.0);x=np.random.rand(50000,3);t=time.perf_counter();"
            "fs.deposit(g,x,window='cic');fs.interpolate(g,np.zeros(g.shape),x,'cic');"
            "print(time.perf_counter()-t)")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        return first_call(code, env), first_call(code, env)


def with_threads(n, fn):
    old = fs.get_num_threads()
    fs.set_num_threads(n)
    try:
        return fn()
    finally:
        fs.set_num_threads(old)


def thread_pair(fn, repeats):
    """(1-thread times, 2-thread times), interleaved so drifting load hits both alike."""
    one, two = [], []
    for _ in range(repeats):
        one += with_threads(1, lambda: timed(fn, 1))
        two += with_threads(2, lambda: timed(fn, 1))
    return one, two


# -- small and 1-D problems --------------------------------------------------------------------
L_TWO_STREAM = 2 * np.pi / 0.6  # configs/two_stream.yaml


def bincount_cic_1d(x, n, box):
    """The same 1-D CIC deposit (cell-centred, periodic, unit weights) with np.bincount."""
    u = x * (n / box) - 0.5
    s = np.floor(u)
    d = u - s
    i = s.astype(np.int64) % n
    return np.bincount(i, 1 - d, n) + np.bincount((i + 1) % n, d, n)


def small(repeats):
    from fieldsolve.pm import ParticleMesh

    rng = np.random.default_rng(1)
    n, npart = 64, 40_000
    grid = fs.Grid((n,), L_TWO_STREAM)
    x = rng.random(npart) * L_TWO_STREAM
    assert np.allclose(fs.deposit(grid, x, density=False), bincount_cic_1d(x, n, L_TWO_STREAM))
    rows = []
    t_bc = timed(lambda: bincount_cic_1d(x, n, L_TWO_STREAM), repeats)
    for win in ("cic", "tsc"):
        t = timed(lambda: fs.deposit(grid, x, window=win), repeats)
        rows.append((f"1-D deposit {win}, 40 000 particles, 64 cells / np.bincount CIC", t, t_bc,
                     "<= 3"))
    pm = ParticleMesh(grid)  # the two_stream settings: TSC, fd4
    charge = np.full(npart, -L_TWO_STREAM / npart)

    def step():
        rho = pm.paint(x, charge)
        _, e = pm.solve(rho, -1.0, potential=False)
        return pm.readout(e, x)

    t = timed(step, repeats)
    print("\n## Small and 1-D problems (the two_stream config: 1-D, 40 000 particles, 64 cells)\n")
    print("| case | min / median / max | reference min / median / max | ratio of medians | target |")
    print("|---|---|---|---:|---|")
    for label, a, b, target in rows:
        print(f"| {label} | {spread(ms(a))} ms | {spread(ms(b))} ms | {med(a) / med(b):.2f} | {target} |")
    print(f"| two_stream PM step (deposit + solve + readout, TSC) | {spread(ms(t))} ms | - | - | "
          f"<= 5 ms |")
    print("\n2 threads / 1 thread (speed ratio = t1 / t2, medians; >= 1 means 2 threads help):\n")
    print("| deposit / readout | window | N | grid | t1 min / median / max | t2 min / median / max | t1 / t2 |")
    print("|---|---|---|---|---|---|---:|")
    cases = [((64,), 40_000, "cic"), ((64,), 40_000, "tsc"), ((64,), 10**6, "tsc"),
             ((256, 256), 10**5, "cic"), ((32,) * 3, 2 * 10**4, "cic"), ((64,) * 3, 10**5, "tsc"),
             ((64,) * 3, 10**6, "cic"), ((128,) * 3, 2 * 10**6, "tsc")]
    for shape, npart, win in cases:
        g = fs.Grid(shape, 1.0)
        xs = rng.random((npart, len(shape)))
        f = rng.standard_normal(shape)
        for op, fn in (("deposit", lambda: fs.deposit(g, xs, window=win)),
                       ("readout", lambda: fs.interpolate(g, f, xs, win))):
            one, two = thread_pair(fn, repeats)
            shp = "x".join(map(str, shape))
            print(f"| {op} | {win} | {npart:.0e} | {shp} | {spread(ms(one))} ms | {spread(ms(two))} ms "
                  f"| {med(one) / med(two):.2f} |")


def ms(ts):
    return [1e3 * t for t in ts]


# -- threads under load ------------------------------------------------------------------------
def load(repeats):
    rng = np.random.default_rng(2)
    cases = [((64,), 40_000, "tsc"), ((64,) * 3, 10**6, "cic"), ((128,) * 3, 2 * 10**6, "tsc")]
    data = []
    for shape, npart, win in cases:
        g = fs.Grid(shape, 1.0)
        data.append((shape, npart, win, g, rng.random((npart, len(shape)))))

    def measure():
        out = []
        for shape, npart, win, g, xs in data:
            out.append(thread_pair(lambda: fs.deposit(g, xs, window=win), repeats))
        return out

    quiet = measure()
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(1.0)
        busy = measure()
        load_busy = os.getloadavg()[0]
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    print("\n## Threads under load (deposit; two `while True: pass` processes started and killed "
          f"here; 1-min load average with them {load_busy:.2f})\n")
    print("| window | N | grid | unloaded t1 / t2 (median ms) | loaded t1 / t2 (median ms) | "
          "loaded 2 thr / 1 thr speed (target >= 0.8) | loaded / unloaded time, 2 thr |")
    print("|---|---|---|---|---|---:|---:|")
    for (shape, npart, win, *_), (q1, q2), (b1, b2) in zip(data, quiet, busy):
        shp = "x".join(map(str, shape))
        print(f"| {win} | {npart:.0e} | {shp} | {1e3 * med(q1):.2f} / {1e3 * med(q2):.2f} | "
              f"{1e3 * med(b1):.2f} / {1e3 * med(b2):.2f} | {med(b1) / med(b2):.2f} | "
              f"{med(b2) / med(q2):.2f} |")
        print(f"|  |  |  | spread t2 {spread(ms(q2))} | spread t2 {spread(ms(b2))} |  |  |")


# -- bounded grids -----------------------------------------------------------------------------
def bounded(npart, n, repeats):
    rng = np.random.default_rng(3)
    gp = fs.Grid((n,) * 3, 1.0)
    gb = fs.Grid((n,) * 3, 1.0, periodic=False)
    x = 0.05 + 0.9 * rng.random((npart, 3))  # stencils inside the isolated grid
    f3 = rng.standard_normal((3, n, n, n))
    print(f"\n## Isolated / periodic grid ({n}^3, {npart:.0e} particles, random order)\n")
    print("| op | window | periodic min / median / max | isolated min / median / max | "
          "ratio of medians (target <= 1.3) |")
    print("|---|---|---|---|---:|")
    for win in ("cic", "tsc"):
        for op, call in (("deposit", lambda g: fs.deposit(g, x, window=win)),
                         ("readout 3 comp.", lambda g: fs.interpolate(g, f3, x, win))):
            tp, tb = [], []
            for _ in range(repeats):  # alternate, so that drifting load hits both alike
                tp += timed(lambda: call(gp), 1)
                tb += timed(lambda: call(gb), 1)
            print(f"| {op} | {win} | {spread(ms(tp))} ms | {spread(ms(tb))} ms | "
                  f"{med(tb) / med(tp):.2f} |")


# -- throughput --------------------------------------------------------------------------------
def fresh_first_call(npart, n, win, dtype):
    """Mpart/s of one deposit in a fresh process (warm numba cache): import excluded, kernel
    loading, thread start and first touch included."""
    code = (f"import time,numpy as np;import fieldsolve as fs;g=fs.Grid(({n},)*3,1000.0);"
            f"x=(np.random.default_rng(42).random(({npart},3))*1000).astype(np.{dtype});"
            f"t=time.perf_counter();fs.deposit(g,x,window='{win}');print(time.perf_counter()-t)")
    return npart / first_call(code) / 1e6


def throughput(sizes, repeats, no_numpy):
    box = 1000.0
    peer_mods = peers()
    print(f"\n## Throughput (Mpart/s = N / median time; peers installed: {sorted(peer_mods) or 'none'})")
    cold, warm = jit_cost()
    print(f"\nJIT: first deposit+readout in a fresh process {cold:.2f} s with a cold numba cache, "
          f"{warm:.2f} s with a warm one (import excluded)\n")
    rng = np.random.default_rng(42)
    rows = []
    for npart, n in sizes:
        for dtype in (np.float32, np.float64):
            pos = (rng.random((npart, 3)) * box).astype(dtype)
            field = rng.standard_normal((n, n, n)).astype(dtype)
            paint, read = methods(n, box, dtype, peer_mods, pos, field)
            small_paint, _ = methods(n, box, dtype, peer_mods, pos[:20000], field)
            for scheme in ("cic", "tsc"):
                ref = np.asarray(small_paint["fieldsolve"](scheme)) * (box / n) ** 3
                for name, fn in paint.items():
                    if name == "numpy_bincount" and (no_numpy or npart > 10**6):
                        continue
                    got = np.asarray(small_paint[name](scheme), np.float64)
                    if name == "fieldsolve":
                        got = got * (box / n) ** 3
                    err = np.abs(got - ref).max() / ref.max()
                    if err > 1e-4:
                        print(f"  ! {name} paint differs from fieldsolve by {err:.1e}; skipped")
                        continue
                    ts = timed(lambda: fn(scheme), repeats)
                    rows.append(("paint", scheme, npart, n, dtype.__name__, name, ts))
                for name, fn in read.items():
                    if name.startswith("numpy") and (no_numpy or npart > 10**6):
                        continue
                    if "cic only" in name and scheme != "cic":
                        continue
                    ts = timed(lambda: fn(scheme), repeats)
                    rows.append(("readout", scheme, npart, n, dtype.__name__, name, ts))
                first = fresh_first_call(npart, n, scheme, dtype.__name__)
                rows.append(("paint", scheme, npart, n, dtype.__name__,
                             "fieldsolve first call, fresh process", [npart / first / 1e6]))
            # particles sorted by cell: the same kernels on a cache-friendly order
            spos = pos[fs.sort_particles(fs.Grid((n, n, n), box), pos)]
            spaint, sread = methods(n, box, dtype, {}, spos, field)
            for scheme in ("cic", "tsc"):
                rows.append(("paint", scheme, npart, n, dtype.__name__, "fieldsolve sorted",
                             timed(lambda: spaint["fieldsolve"](scheme), repeats)))
                rows.append(("readout", scheme, npart, n, dtype.__name__, "fieldsolve sorted",
                             timed(lambda: sread["fieldsolve"](scheme), repeats)))
            print(f"  done N={npart:.0e} {n}^3 {dtype.__name__}", flush=True)

    print("\n| op | window | N | grid | dtype | method | Mpart/s (median) | min / median / max ms "
          "| x numpy | x fieldsolve |")
    print("|---|---|---|---|---|---|---:|---|---:|---:|")
    for op, scheme, npart, n, dt, name, ts in rows:
        same = [r for r in rows if r[:5] == (op, scheme, npart, n, dt)]
        base = {r[5]: med(r[6]) for r in same}
        np_t = base.get("numpy_bincount") or base.get("numpy_gather")
        if name.endswith("fresh process"):
            rate, cell = ts[0], "one call"
            t = npart / rate / 1e6
        else:
            t = med(ts)
            rate, cell = npart / t / 1e6, spread(ms(ts))
        rel_np = f"{np_t / t:.1f}" if np_t else "-"
        print(f"| {op} | {scheme} | {npart:.0e} | {n}^3 | {dt} | {name} | {rate:.1f} | {cell} | "
              f"{rel_np} | {base['fieldsolve'] / t:.2f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    ap.add_argument("--repeats", type=int, default=None, help="timed calls per case (default 7, "
                    "--quick 5)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--section", nargs="+", default=["all"],
                    choices=["all", "small", "load", "bounded", "throughput"])
    ap.add_argument("--no-numpy", action="store_true", help="skip the slow numpy reference")
    ap.add_argument("--sizes", nargs="+", default=None, metavar="N:GRID",
                    help="throughput cases, e.g. 10000000:128 (default: see --quick)")
    args = ap.parse_args()
    if args.threads:
        fs.set_num_threads(args.threads)
    repeats = args.repeats or (5 if args.quick else 7)
    want = set(args.section)
    every = "all" in want
    cond = Conditions(WARMUP, extra_versions=("Pylians", "pmesh"))
    print(cond.header())
    if every or "small" in want:
        small(repeats)
    if every or "load" in want:
        load(repeats)
    if every or "bounded" in want:
        bounded(2 * 10**6 if not args.quick else 5 * 10**5, 128, repeats)
    if every or "throughput" in want:
        sizes = ([(10**6, 64), (10**6, 128)] if args.quick
                 else [(10**6, 128), (10**6, 256), (10**7, 128), (10**7, 256)])
        if args.sizes:
            sizes = [tuple(int(float(v)) for v in item.split(":")) for item in args.sizes]
        throughput(sizes, repeats, args.no_numpy)
    print()
    print(cond.footer())


if __name__ == "__main__":
    main()
