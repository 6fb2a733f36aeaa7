"""A distributed PM step (fieldsolve.parallel over MPI) against serial, side by side in one run.

The step, with the default ParticleMesh settings on a periodic grid (TSC paint and readout,
``fd4`` Green's function, ``fd4`` gradient): paint, Poisson solve with the gradient
(``E = -grad(phi)``), readout, a kick and a drift (``v += a``, ``x += v``, periodic wrap), then
``fieldsolve.parallel.particles.migrate`` of the particles that left their rank. Mesh
``--mesh``^3 (default 256^3, float64); particles a lattice of ``--particles``^3 (default 128^3 =
2,097,152) displaced by up to a quarter lattice cell, with velocities of 0.2 mesh cells rms per
axis and step, drawn per lattice plane (the same particles for any number of ranks).

Each configuration runs in its own fresh process(es), and they take turns: ``--rounds`` rounds
of ``--steps`` steps each, so a change in the machine's load hits them alike. Printed:

* **memory per rank**: the resident-set high-water mark (``VmHWM``, reset before each phase by
  writing 5 to ``/proc/self/clear_refs``) during the steps, minus the RSS of the same process
  before its particles and meshes were made. That baseline (interpreter, imports, MPI, the numba
  kernels and FFTW plans of a small warm-up step) is printed too. RSS, not tracemalloc: it also
  counts what NumPy does not allocate (FFTW's plans and buffers, MPI's shared-memory segments)
  and only pages actually touched. The first full-size step (FFTW planning, kernels' first use)
  is reported apart; the peak is that of the later steps.
* **time per step**: min / median / max over the steps (a step lasts until its slowest rank is
  done), ratios of medians (and of minima), e.g. ``mpiexec -n 1`` over serial.
* **communication** (P > 1): seconds per step inside MPI calls (median, mean over ranks) and
  their share of the step: the FFT transposes (``Alltoallw``), the halo exchanges
  (``Sendrecv``), migrate's ``Alltoall`` + ``Alltoallv``, and the small agreement collectives
  (error and NaN checks). Timed from outside: the ``Decomposition`` gets a subclass of the
  communicator whose methods time those calls. With 2 ranks on 2 cores, time in a collective
  includes waiting for the slower rank.
* **per-operation costs** for the scaling model of ``docs/parallel.md``, one thread: the FFT
  round trip of the mesh per element and log2 of the element count (serial), and an
  ``Alltoall`` of one transpose's bytes and of 8 bytes per peer (P > 1).

``--mmap-threshold BYTES`` fixes glibc's mmap threshold in every process (default: 4 MiB, what
``fieldsolve run`` sets, see ``fieldsolve._malloc``; ``0``: glibc's own dynamic threshold, under
which freed arrays up to 32 MiB stay in the heap and count in the RSS).

Usage::

    mpiexec -n P python benchmarks/bench_parallel.py [--quick]  # P ranks; rank 0 also runs serial
    python benchmarks/bench_parallel.py [--quick] [--ranks 1 2]  # serial, mpiexec -n 1 and -n 2

``--quick``: 64^3 mesh, 32^3 particles, 4 rounds of one step (well under a minute).
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conditions import Conditions, timings  # noqa: E402

import numpy as np  # noqa: E402

import fieldsolve as fs  # noqa: E402
from fieldsolve.parallel import Decomposition, mpi  # noqa: E402
from fieldsolve.parallel.particles import migrate  # noqa: E402
from fieldsolve.parallel.transpose import split  # noqa: E402

MiB = float(1 << 20)
PHASES = ("paint", "solve", "readout", "drift", "migrate")
COMM = ("transpose", "halo", "migrate", "agree")
G = 1e-3  # kicks of ~0.05 cells per step: the particles stay a lattice-like load
TAG = "@bench "
SPENT = dict.fromkeys(COMM, 0.0)  # seconds inside MPI calls, by kind, since the process began


# -- measuring -------------------------------------------------------------------------------
def _status(key):
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak():
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def trim():
    """Hand freed heap memory back to the system (glibc), so the baseline RSS is what is in use."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def set_mmap_threshold(nbytes):
    """``nbytes`` > 0: fix glibc's mmap threshold as ``fieldsolve run`` does; 0: leave glibc's."""
    if nbytes:
        from fieldsolve._malloc import fix_mmap_threshold

        fix_mmap_threshold(nbytes)


def cpu_seconds():
    t = os.times()
    return t.user + t.system


def busy_jiffies():
    """(busy, total) jiffies of all CPUs, or None."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            v = [int(x) for x in fh.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return sum(v) - v[3] - v[4], sum(v)


def _timed(kind, fn):
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[kind] += time.perf_counter() - t
    return wrapper


def timed_comm(comm):
    """The same communicator, as a subclass whose MPI calls add their time to ``SPENT``."""
    from mpi4py import MPI

    kinds = {"Sendrecv": "halo", "Alltoall": "migrate", "Alltoallv": "migrate",
             "Alltoallw": "transpose", "allgather": "agree", "allreduce": "agree",
             "Allreduce": "agree"}
    timed = type("TimedComm", (MPI.Intracomm,),
                 {name: _timed(kind, getattr(MPI.Intracomm, name)) for name, kind in kinds.items()})
    return timed(comm)


def idle_barrier(comm):
    """A barrier that sleeps while it waits (MPICH's spins, taking a core from the others)."""
    if comm is not None and comm.Get_size() > 1:
        req = comm.Ibarrier()
        while not req.Test():
            time.sleep(0.02)  # rarely: the serial process beside may use both cores


# -- the simulation --------------------------------------------------------------------------
def lattice(d, ppa, seed):
    """This rank's share of the lattice planes: positions and velocities, per plane seeded."""
    n = d.grid.shape[0]
    starts, counts = split(ppa, d.size)
    j, k = np.meshgrid(np.arange(ppa), np.arange(ppa), indexing="ij")
    cell = np.stack([np.zeros(j.size), j.ravel(), k.ravel()], axis=1)
    xs, vs = [], []
    for i in range(starts[d.rank], starts[d.rank] + counts[d.rank]):
        rng = np.random.default_rng([seed, i])
        cell[:, 0] = i
        xs.append(((cell + 0.5 + rng.uniform(-0.25, 0.25, cell.shape)) / ppa) % 1.0)
        vs.append(rng.normal(0.0, 0.2 / n, cell.shape))
    return (np.concatenate(xs) if xs else np.empty((0, 3)),
            np.concatenate(vs) if vs else np.empty((0, 3)))


class Worker:
    """One configuration on this rank: its particles and PM, stepped on demand."""

    def __init__(self, comm, mesh, ppa, threads, seed, mmap_threshold=None):
        self.comm = comm
        set_mmap_threshold(mmap_threshold)
        if threads:
            fs.set_num_threads(threads)
        elif comm is not None:
            fs.set_num_threads(mpi.threads_per_rank(comm))
        self.resets = reset_peak()
        self.tcomm = timed_comm(comm) if comm is not None else None
        self.records, self.mass, self.base = [], 1.0 / ppa ** 3, _status("VmRSS")
        # warm-up: the kernels, plans and collectives of a smaller step (with enough particles
        # for the threaded kernels at full size)
        self._make(min(mesh, 32), min(ppa, 64), seed)
        self.step()
        self.records.clear()
        self.d = self.pm = self.x = self.v = None
        trim()
        self.base = _status("VmRSS")
        self._make(mesh, ppa, seed)
        self.step()  # the first full-size step: planning, first use; reported apart
        self.first = self.records.pop()

    def _make(self, n, ppa, seed):
        self.d = d = Decomposition(fs.Grid((n,) * 3, 1.0), self.tcomm)
        self.pm = fs.pm.ParticleMesh(d)
        self.x = self.v = None
        x, v = lattice(d, ppa, seed)
        self.x, (self.v,) = migrate(d, x, v)

    @contextmanager
    def phase(self, rec, name):
        if self.resets:
            reset_peak()
        t = time.perf_counter()
        yield
        rec["t_" + name] = time.perf_counter() - t
        rec["m_" + name] = (_status("VmHWM") - self.base) / MiB

    def step(self):
        rec, pm = {}, self.pm
        idle_barrier(self.comm)
        spent0, t0 = dict(SPENT), time.perf_counter()
        with self.phase(rec, "paint"):
            rho = pm.paint(self.x, self.mass)
        with self.phase(rec, "solve"):
            field = pm.solve(rho, 4 * np.pi * G, potential=False)[1]
            del rho
        with self.phase(rec, "readout"):
            acc = pm.readout(field, self.x)
            del field
        with self.phase(rec, "drift"):
            self.v += acc
            del acc
            self.x += self.v
            np.mod(self.x, 1.0, out=self.x)
        with self.phase(rec, "migrate"):
            self.x, (self.v,) = migrate(self.d, self.x, self.v)
        rec["t_step"] = time.perf_counter() - t0
        rec.update({"c_" + k: SPENT[k] - spent0[k] for k in COMM})
        rec["m_held"] = (_status("VmRSS") - self.base) / MiB
        rec["n"] = int(self.x.shape[0])
        self.records.append(rec)

    def steps(self, k):
        for _ in range(k):
            self.step()

    def costs(self, repeat=5):
        """Per-operation costs for the scaling model, one thread: serial, the FFT round trip of
        the mesh (s per element and log2 of the element count, per transform); on several
        ranks, an Alltoall of the bytes of one transpose of the spectrum, and of 8 B per peer."""
        threads, comm, P = fs.get_num_threads(), self.comm, self.d.size
        fs.set_num_threads(1)
        try:
            if P == 1:
                f = np.random.default_rng(0).random(self.d.grid.shape)
                t = _med(timings(lambda: fs.fft.irfftn(fs.fft.rfftn(f), f.shape, overwrite_input=True),
                                 repeat + 1)[1:])
                return {"fft": t / (2 * f.size * np.log2(f.size))}
            # the largest block's bytes: every rank sends the same to every peer
            out = {"a2a_bytes": comm.allreduce(16 * int(np.prod(self.d.block.rfft_shape)), op=_max())
                   * (P - 1) // P}
            for key, m, rep in (("a2a", out["a2a_bytes"] // (8 * (P - 1)), repeat), ("a2a_small", 1, 50)):
                send = np.ones(P * max(m, 1))
                recv = np.empty_like(send)

                def exchange():
                    comm.Barrier()
                    t = time.perf_counter()
                    comm.Alltoall(send, recv)
                    return time.perf_counter() - t
                out[key] = comm.allreduce(_med([exchange() for _ in range(rep + 1)][1:]), op=_max())
            return out
        finally:
            fs.set_num_threads(threads)

    def report(self):
        """Every rank's record, on rank 0 (None elsewhere)."""
        mine = {"base": self.base / MiB, "first": self.first, "steps": self.records,
                "threads": fs.get_num_threads(), "cpu": cpu_seconds(), "resets": self.resets,
                "costs": self.costs()}
        return mine if self.comm is None else self.comm.gather(mine, root=0)


# -- the worker's side of the pipe -------------------------------------------------------------
def reply(obj):
    print(TAG + json.dumps(obj), flush=True)


def serve(args):
    """A worker process (set): reads commands on rank 0's stdin, answers on its stdout."""
    comm = mpi.world()
    root = mpi.rank(comm) == 0
    w = Worker(comm, args.mesh, args.particles, args.threads, args.seed, args.mmap_threshold)
    if root:
        reply("ready")
    while True:
        line = sys.stdin.readline() if root else None
        idle_barrier(comm)
        cmd = (comm.bcast(line, root=0) if comm is not None else line).split()
        if not cmd or cmd[0] == "quit":
            return
        if cmd[0] == "steps":
            w.steps(int(cmd[1]))
            out = "ok"
        else:
            out = w.report()
        if root:
            reply(out)


class Child:
    """A worker process (set) driven through its pipes."""

    def __init__(self, label, launcher, args):
        self.label = label
        script = [sys.executable, str(Path(__file__).resolve()), "--worker", "--mesh", str(args.mesh),
                  "--particles", str(args.particles), "--seed", str(args.seed)]
        for name in ("threads", "mmap_threshold"):
            if getattr(args, name) is not None:
                script += ["--" + name.replace("_", "-"), str(getattr(args, name))]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PMI_", "OMPI_", "PMIX_", "HYDRA_", "MPI_LOCAL"))}
        self.proc = subprocess.Popen(launcher + script, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)
        self._read()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith(TAG):
                return json.loads(line[len(TAG):])
        raise RuntimeError(f"the {self.label} worker ended (exit status {self.proc.wait()}); "
                           "its errors are above")

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait()


# -- the report ----------------------------------------------------------------------------------
def _max():
    from mpi4py import MPI

    return MPI.MAX


def _med(values):
    return statistics.median(values) if values else float("nan")


def summarise(ranks):
    """One configuration's numbers from its ranks' records."""
    steps = list(zip(*[r["steps"] for r in ranks]))  # per step: every rank's record
    phases = {p: _med([max(r["t_" + p] for r in s) for s in steps]) for p in PHASES}
    t_step = [max(r["t_step"] for r in s) for s in steps]
    peak_rank = [max(max(rec["m_" + p] for p in PHASES) for rec in r["steps"]) for r in ranks]
    out = {"P": len(ranks), "threads": ranks[0]["threads"], "t_step": t_step, "phases": phases,
           "base": [r["base"] for r in ranks], "peak": peak_rank,
           "first": [max(r["first"]["m_" + p] for p in PHASES) for r in ranks],
           "held": [_med([rec["m_held"] for rec in r["steps"]]) for r in ranks],
           "phase_peak": {p: max(rec["m_" + p] for r in ranks for rec in r["steps"]) for p in PHASES},
           "particles": [r["steps"][-1]["n"] for r in ranks], "cpu": sum(r["cpu"] for r in ranks),
           "resets": all(r["resets"] for r in ranks), "costs": ranks[0]["costs"]}
    out["comm"] = {k: statistics.fmean(_med([rec["c_" + k] for rec in r["steps"]]) for r in ranks)
                   for k in COMM}
    out["share"] = statistics.fmean(_med([sum(rec["c_" + k] for k in COMM) / rec["t_step"]
                                          for rec in r["steps"]]) for r in ranks)
    return out


def _list(values, fmt="{:.0f}"):
    return ", ".join(fmt.format(v) for v in values)


def print_tables(args, results, serial_label):
    s = results.get(serial_label)
    n_part = args.particles ** 3
    print(f"# PM step: {args.mesh}^3 mesh (float64), {args.particles}^3 = {n_part:,} particles, "
          f"TSC / fd4 Green's function / fd4 gradient, periodic; {args.rounds} rounds x "
          f"{args.steps} steps per configuration, taking turns")
    print(f"# malloc: {'M_MMAP_THRESHOLD fixed at %d bytes (as fieldsolve run)' % args.mmap_threshold if args.mmap_threshold else 'glibc default (dynamic mmap threshold, up to 32 MiB)'}")
    if not all(r["resets"] for r in results.values()):
        print("# note: /proc/self/clear_refs not writable: peaks are since the process began")
    print("\n# memory per rank, MiB above the process's baseline (all ranks listed)")
    print(f"{'configuration':15s} {'threads':>7s}  {'baseline':>9s}  {'held':>9s}  {'first step':>10s}  "
          f"{'step peak':>10s}  {'peak / serial':>13s}")
    for label, r in results.items():
        ratio = "" if s is None else _list([p / max(s["peak"]) for p in r["peak"]], "{:.2f}")
        print(f"{label:15s} {r['threads']:7d}  {_list(r['base']):>9s}  {_list(r['held']):>9s}  "
              f"{_list(r['first']):>10s}  {_list(r['peak']):>10s}  {ratio:>13s}")
    print("# held: RSS between steps (particles, plans, Green's function); goal at P = 2: "
          "step peak per rank <= 0.6 x serial")
    print("# peak within each phase (max over ranks), MiB: " + "; ".join(
        f"{label}: " + " ".join(f"{p} {r['phase_peak'][p]:.0f}" for p in PHASES)
        for label, r in results.items()))
    print("\n# time per step, s: min / median / max of the step; medians of the phases "
          "(slowest rank)")
    print(f"{'configuration':15s} {'step':>24s}  " + " ".join(f"{p:>8s}" for p in PHASES)
          + "  / serial: medians (minima)")
    for label, r in results.items():
        t = r["t_step"]
        ratio = "" if s is None else f"{_med(t) / _med(s['t_step']):.3f} ({min(t) / min(s['t_step']):.3f})"
        print(f"{label:15s} {min(t):7.3f} / {_med(t):6.3f} / {max(t):6.3f}  "
              + " ".join(f"{r['phases'][p]:8.3f}" for p in PHASES) + f"  {ratio}")
    print("# goal: mpiexec -n 1 / serial <= 1.1 (same threads)")
    multi = {k: r for k, r in results.items() if r["P"] > 1}
    if multi:
        print("\n# communication per step, s (median, mean over ranks) and share of the step")
        print(f"{'configuration':15s} " + " ".join(f"{k:>10s}" for k in COMM)
              + f"  {'total':>8s}  {'share':>6s}  particles per rank")
        for label, r in multi.items():
            print(f"{label:15s} " + " ".join(f"{r['comm'][k]:10.4f}" for k in COMM)
                  + f"  {sum(r['comm'].values()):8.4f}  {100 * r['share']:5.1f}%  {_list(r['particles'])}")
        print("# transpose: FFT Alltoallw; halo: ghost-plane Sendrecv; migrate: Alltoall + "
              "Alltoallv; agree: error/NaN checks (allgather/allreduce)")
    print("\n# per-operation costs for the scaling model (docs/parallel.md), 1 thread per process")
    for label, r in results.items():
        c = r["costs"]
        if "fft" in c:
            print(f"{label:15s} FFT (r2c + c2r of the {args.mesh}^3 mesh): {1e9 * c['fft']:.3f} ns per "
                  "element and log2(element count), per transform")
        else:
            print(f"{label:15s} Alltoall of {c['a2a_bytes'] / MiB:.1f} MiB per rank (one transpose): "
                  f"{c['a2a']:.4f} s = {c['a2a_bytes'] / c['a2a'] / 1e9:.2f} GB/s per rank; 8 B per peer: "
                  f"{1e6 * c['a2a_small']:.1f} us (shared memory on one machine, not a network)")


def run_configs(args, comm, local_label):
    """Set up, step by turns, collect: every configuration's summary (on rank 0)."""
    root = mpi.rank(comm) == 0
    children = {}
    if root:
        children["serial"] = Child("serial", [], args)
        if local_label is None:
            mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
            for p in args.ranks if mpiexec else ():
                children[f"mpiexec -n {p}"] = Child(f"mpiexec -n {p}", [mpiexec, "-n", str(p)], args)
            if not mpiexec:
                print("# no mpiexec found (install the [mpi] extra: make mpi): serial only")
    idle_barrier(comm)
    local = Worker(comm, args.mesh, args.particles, args.threads, args.seed,
                   args.mmap_threshold) if local_label else None
    labels = comm.bcast(list(children), root=0) if comm is not None else list(children)
    for _ in range(args.rounds):
        for label in ([local_label] if local else []) + labels:
            if label == local_label:
                local.steps(args.steps)
            elif root:
                children[label].ask(f"steps {args.steps}")
            idle_barrier(comm)
    reports = {local_label: local.report()} if local else {}
    if root:
        reports.update({label: c.ask("report") for label, c in children.items()})
        for c in children.values():
            c.close()
        return {label: summarise(r if isinstance(r, list) else [r]) for label, r in
                sorted(reports.items(), key=lambda kv: (kv[0] != "serial", kv[0]))}
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="64^3 mesh, 32^3 particles, 4 rounds")
    ap.add_argument("--mesh", type=int, default=None, help="cells per axis (default 256)")
    ap.add_argument("--particles", type=int, default=None, help="particles per axis (default 128)")
    ap.add_argument("--rounds", type=int, default=None, help="rounds of turns (default 8)")
    ap.add_argument("--steps", type=int, default=1, help="steps per configuration and round (default 1)")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads per process (default: cores / ranks, as fieldsolve runs do)")
    ap.add_argument("--ranks", type=int, nargs="*", default=[1, 2],
                    help="run serially: the mpiexec -n P workers to start (default 1 2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mmap-threshold", type=int, default=None, metavar="BYTES",
                    help="glibc: mmap every allocation from BYTES up in every process (mallopt "
                         "M_MMAP_THRESHOLD; default 4 MiB as `fieldsolve run`; 0: glibc's own, "
                         "dynamic, threshold)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.mesh = args.mesh or (64 if args.quick else 256)
    args.particles = args.particles or (32 if args.quick else 128)
    args.rounds = args.rounds or (4 if args.quick else 8)
    if args.mmap_threshold is None:
        from fieldsolve._malloc import DEFAULT_THRESHOLD

        args.mmap_threshold = DEFAULT_THRESHOLD
    if args.worker:
        return serve(args)
    comm = mpi.world()
    root = mpi.rank(comm) == 0
    local = f"mpiexec -n {mpi.size(comm)}" if comm is not None else None
    cond = Conditions(warmup="each process: a 32^3 step first (numba kernels, FFTW plans, MPI), "
                             "then one full-size step (planning at that size), not timed")
    if root:
        print(cond.header())
        print(f"# this run: {local} here, and a serial process started by rank 0" if local else
              "# this run: the serial driver; serial and mpiexec workers in their own processes")
    cpu0, jiffies0 = cpu_seconds(), busy_jiffies()
    results = run_configs(args, comm, local)
    cpu = mpi.allsum(comm, cpu_seconds() - cpu0) if comm is not None else cpu_seconds() - cpu0
    if root:
        print_tables(args, results, "serial")
        jiffies1 = busy_jiffies()
        if jiffies0 and jiffies1:
            hz = os.sysconf("SC_CLK_TCK")
            busy, total = jiffies1[0] - jiffies0[0], jiffies1[1] - jiffies0[1]
            ours = cpu + sum(r["cpu"] for k, r in results.items() if k != local)
            print(f"\n# CPU used by other processes during the run: {max(0.0, busy / hz - ours) / (total / hz):.2f} "
                  f"of the machine's CPU time ({os.cpu_count()} CPUs; ours {ours:.0f} s of {total / hz:.0f} s)")
        print(cond.footer())


if __name__ == "__main__":
    main()
