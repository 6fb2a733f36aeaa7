"""A PM step inside a real run against the sum of its mesh work, side by side in one run.

Runs an ``nbody`` config (periodic 128^3 grid, 128^3 = 2.1 M particles from a Zel'dovich plane
wave, the PM defaults: TSC, fd4 Green's function and gradient) through ``fieldsolve.run`` with
timers around ``ParticleMesh.paint``, ``.solve`` (Green's function and gradient) and
``.readout`` and around the whole kick-drift-kick step; prints the median step time over the
median sum of paint + solve + readout within the same steps (target <= 1.2: the rest of the step
-- kick, drift with the periodic wrap, diagnostics -- costs at most 20 % of the mesh work).

Usage: python benchmarks/bench_pm_step.py [--n 128] [--steps 8] [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conditions import Conditions, spread  # noqa: E402

import fieldsolve as fs  # noqa: E402
from fieldsolve import pm  # noqa: E402
from fieldsolve.runs import particles  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=128, help="cells and particles per axis (default 128)")
    ap.add_argument("--steps", type=int, default=8, help="steps timed after the first (default 8)")
    ap.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    args = ap.parse_args(argv)
    if args.threads:
        fs.set_num_threads(args.threads)
    cond = Conditions(warmup="the run's set-up and first force evaluation are not timed; "
                             "numba kernels compiled/loaded beforehand")
    print(cond.header())
    n = args.n
    cfg = {"kind": "nbody", "seed": 1, "grid": {"shape": [n] * 3, "box": 1.0, "periodic": True},
           "time": {"dt": 0.005, "steps": args.steps + 1},
           "initial": {"kind": "zeldovich", "particles_per_axis": [n] * 3, "amplitude": 0.0159,
                       "mode": 1, "axis": 0},
           "output": {"every": 10 ** 6, "plots": False, "particles": False, "fields": []},
           "checkpoint": {"every": None}}
    timers = {"paint": [], "solve": [], "readout": [], "step": []}

    def timed(name, fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            out = fn(*a, **k)
            timers[name].append(time.perf_counter() - t)
            return out
        return wrapper

    saved = {k: getattr(pm.ParticleMesh, k) for k in ("paint", "solve", "readout")}
    saved_kdk = particles._ParticleRun.kdk
    for k, fn in saved.items():
        setattr(pm.ParticleMesh, k, timed(k, fn))
    particles._ParticleRun.kdk = timed("step", saved_kdk)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # a small run first compiles or loads every kernel the big one uses
            small = dict(cfg, grid=dict(cfg["grid"], shape=[16] * 3),
                         initial=dict(cfg["initial"], particles_per_axis=[16] * 3), time={"dt": 0.005, "steps": 2})
            fs.run(small, out=Path(tmp) / "warm", progress=False, echo=False, force=True)
            for v in timers.values():
                v.clear()
            fs.run(cfg, out=Path(tmp) / "bench", progress=False, echo=False, force=True)
    finally:
        for k, fn in saved.items():
            setattr(pm.ParticleMesh, k, fn)
        particles._ParticleRun.kdk = saved_kdk
    # the first force evaluation (set-up) has no step around it; drop it and the first step
    mesh = [p + s + r for p, s, r in zip(timers["paint"][2:], timers["solve"][2:], timers["readout"][2:])]
    steps = timers["step"][1:]
    print(f"# {n}^3 cells, {n ** 3:,} particles, TSC / fd4 / fd4, {len(steps)} steps timed")
    for name in ("paint", "solve", "readout"):
        print(f"{name:8s} s  min/median/max {spread(timers[name][2:])}")
    print(f"{'mesh sum':8s} s  min/median/max {spread(mesh)}")
    print(f"{'step':8s} s  min/median/max {spread(steps)}")
    print(f"step / (paint + solve + readout), medians: {statistics.median(steps) / statistics.median(mesh):.3f}"
          "   (target <= 1.2)")
    print(cond.footer())


if __name__ == "__main__":
    main()
