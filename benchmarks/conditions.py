"""The conditions a benchmark ran under, printed beside its numbers.

On a shared machine absolute times move with the load; what reproduces is a ratio measured side
by side in one run, together with the conditions: load average before and after, CPU steal
time during the run (virtual machines), thread counts, the warm-up policy and the library
versions. ``spread`` formats min / median / max of repeated timings.
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time


def _cpu_jiffies():
    """(total, steal) jiffies of all CPUs from /proc/stat, or None where unreadable."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    vals = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    return sum(vals), vals[7]


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def versions(extra=()):
    """``name version`` of Python, the numeric stack, fieldsolve and the ``extra``
    distributions (installed metadata, else the module's ``__version__``)."""
    import importlib
    import importlib.metadata

    out = [f"python {sys.version.split()[0]}"]
    for name in ("numpy", "scipy", "numba", "pyfftw", "fieldsolve", *extra):
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            try:
                version = getattr(importlib.import_module(name), "__version__", "?")
            except ImportError:
                version = "(not installed)"
        out.append(f"{name} {version}")
    return ", ".join(out)


class Conditions:
    """Record the load and CPU counters at creation; :meth:`header` and :meth:`footer` format
    what to print before and after the numbers."""

    def __init__(self, warmup, extra_versions=()):
        self.warmup = warmup
        self.extra = tuple(extra_versions)
        self.load0 = os.getloadavg()
        self.cpu0 = _cpu_jiffies()
        self.t0 = time.perf_counter()

    def header(self):
        import fieldsolve as fs
        from fieldsolve import fft

        try:
            import numba

            nb = f"numba threads {numba.get_num_threads()} (layer {numba.config.THREADING_LAYER})"
        except ImportError:  # pragma: no cover
            nb = "numba missing"
        return "\n".join([
            f"# machine: {_cpu_model()}, {os.cpu_count()} logical CPUs, "
            f"{len(os.sched_getaffinity(0))} usable",
            f"# versions: {versions(self.extra)}",
            f"# threads: fieldsolve {fs.get_num_threads()}, {nb}, FFT backend {fft.get_backend()} "
            f"(planner {fft.get_planner_effort()})",
            f"# warm-up: {self.warmup}",
            f"# load average before (1/5/15 min): {_fmt_load(self.load0)}",
        ])

    def footer(self):
        lines = [f"# load average after (1/5/15 min): {_fmt_load(os.getloadavg())}; "
                 f"wall time {time.perf_counter() - self.t0:.0f} s"]
        cpu1 = _cpu_jiffies()
        if self.cpu0 is not None and cpu1 is not None and cpu1[0] > self.cpu0[0]:
            steal = (cpu1[1] - self.cpu0[1]) / (cpu1[0] - self.cpu0[0])
            lines.append(f"# CPU steal time during the run: {100 * steal:.1f}% of all CPU time")
        else:
            lines.append("# CPU steal time: not readable here")
        return "\n".join(lines)


def _fmt_load(load):
    return " / ".join(f"{v:.2f}" for v in load)


def timings(fn, repeat):
    """Wall times of ``repeat`` calls of ``fn`` (no warm-up: the caller states its own)."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def spread(values, fmt="{:.3g}"):
    """``min / median / max`` of ``values``."""
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))
