"""The memory estimate against the measured peak RSS of real runs, the memory available here
(cgroups, /proc/meminfo, ulimit -v), size parsing."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fieldsolve import resources
from fieldsolve.config import load_config

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

_CHILD = """
import json, sys
from fieldsolve.config import load_config
from fieldsolve.resources import estimate_memory
from fieldsolve.runs import run
cfg = load_config(sys.argv[1], json.loads(sys.argv[3]))
est = estimate_memory(cfg)          # what `fieldsolve run` computes before it starts
run(cfg, out=sys.argv[2], echo=False, progress=False)
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
data = sum(b for b, what in est["parts"] if not what.startswith(("libraries", "compiled", "plotting")))
print(json.dumps({"total": est["total_bytes"], "run": est["run_bytes"], "process": est["process_bytes"],
                  "data": data, "peak": peak}))
"""


def _measure(tmp_path, config, overrides):
    r = subprocess.run([sys.executable, "-c", _CHILD, str(CONFIGS / config), str(tmp_path / "run"),
                        json.dumps(overrides)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


# runs whose arrays are most of their peak (so the test checks the model, not the interpreter)
FAST = {
    "pic 1-D, 4e6 particles": ("two_stream.yaml", ["species.0.n_particles=2000000", "species.1.n_particles=2000000",
                                                   "time.t_end=0.1", "output.plots=false"]),
    "poisson periodic 128^3": ("poisson_gaussian.yaml", ["grid.shape=[128,128,128]", "grid.periodic=true",
                                                         "solver.kernel=spectral", "solver.gradient=spectral",
                                                         "output.plots=false"]),
}
SLOW = {
    "nbody isolated 128^3": ("plummer.yaml", ["grid.shape=[128,128,128]", "initial.n_particles=100000",
                                              "time.t_end=0.1", "output.plots=false"]),
    "nbody isolated 64^3, 2e6 particles, plots": ("plummer.yaml", ["grid.shape=[64,64,64]",
                                                                   "initial.n_particles=2000000", "time.t_end=0.1"]),
    "nbody mixed 96^3": ("plummer.yaml", ["grid.shape=[96,96,96]", "grid.periodic=[true,true,false]",
                                          "initial.r_max=2", "initial.n_particles=100000", "time.t_end=0.1",
                                          "output.plots=false"]),
    "nbody periodic 64^3, 160^3 particles": ("zeldovich.yaml", ["grid.shape=[64,64,64]",
                                                                 "initial.particles_per_axis=[160,160,160]",
                                                                 "time.t_end=0.01", "output.plots=false"]),
    "pic 3-D 128^3": ("two_stream.yaml", ["grid.shape=[128,128,128]", "grid.box=10", "species.0.n_particles=100000",
                                          "species.1.n_particles=100000", "time.t_end=0.1", "output.plots=false"]),
    "poisson isolated 128^3": ("poisson_gaussian.yaml", ["grid.shape=[128,128,128]", "output.plots=false"]),
    "les 128^3": ("les_apriori.yaml", ["grid.shape=[128,128,128]", "output.plots=false"]),
    "les 2-D 1024^2": ("les_apriori.yaml", ["grid.shape=[1024,1024]", "output.plots=false"]),
}


def _check(tmp_path, name, config, overrides):
    m = _measure(tmp_path, config, overrides)
    mib = 2.0 ** 20
    print(f"{name}: estimate {m['total'] / mib:.0f} MiB (run {m['run'] / mib:.0f} + process "
          f"{m['process'] / mib:.0f}), measured peak RSS {m['peak'] / mib:.0f} MiB "
          f"({m['total'] / m['peak'] - 1:+.1%}; run part {m['run'] / (m['peak'] - m['process']) - 1:+.1%}; "
          f"arrays {m['data'] / m['peak']:.0%} of the peak)")
    assert abs(m["total"] / m["peak"] - 1) < 0.30
    # the run's arrays are a large share of the peak (the test checks them, not the interpreter),
    # and what the run adds to this process is predicted as well
    assert m["data"] > 0.4 * m["peak"] and abs(m["run"] / (m["peak"] - m["process"]) - 1) < 0.30


@pytest.mark.parametrize("name", list(FAST))
def test_memory_estimate_matches_measured_peak_rss(tmp_path, name):
    _check(tmp_path, name, *FAST[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW))
def test_memory_estimate_matches_measured_peak_rss_every_kind(tmp_path, name):
    _check(tmp_path, name, *SLOW[name])


def test_estimate_names_the_largest_part():
    cfg = load_config(CONFIGS / "plummer.yaml", ["grid.shape=[512,512,512]"])
    est = resources.estimate_memory(cfg)
    assert est["largest"].startswith("mesh arrays on the (512, 512, 512) grid")
    assert est["parts"][1][1].startswith("free-space Green's function and FFT buffers on the padded (1024, 1024, 1024)")
    assert est["run_bytes"] == sum(b for b, _ in est["parts"])
    # 20 fields of 512^3 float64 + 0.9375 padded (1024^3) fields
    assert est["grid_bytes"] == 8 * 512 ** 3 * 16 + int(8 * 1024 ** 3 * 0.9375)


@pytest.mark.parametrize("text,value", [("8 GiB", 8 << 30), ("512MiB", 512 << 20), ("16GB", 16_000_000_000),
                                        ("2e9", 2_000_000_000), (1024, 1024), ("1.5 kib", 1536)])
def test_parse_bytes(text, value):
    assert resources.parse_bytes(text) == value


@pytest.mark.parametrize("bad", ["lots", "-1", "0", "8 GiBs", True, float("nan")])
def test_parse_bytes_refuses(bad):
    with pytest.raises(ValueError):
        resources.parse_bytes(bad)


def test_cgroup_v2_limit_is_the_smallest_headroom_up_the_tree(tmp_path):
    root = tmp_path / "sys"
    (root / "a" / "b").mkdir(parents=True)
    (root / "memory.max").write_text("max\n")
    (root / "memory.current").write_text("123\n")
    (root / "a" / "memory.max").write_text(f"{4 << 30}\n")
    (root / "a" / "memory.current").write_text(f"{1 << 30}\n")
    (root / "a" / "b" / "memory.max").write_text(f"{8 << 30}\n")
    (root / "a" / "b" / "memory.current").write_text(f"{1 << 30}\n")
    proc = tmp_path / "cgroup"
    proc.write_text("0::/a/b\n")
    assert resources._cgroup_headroom(proc, root) == 3 << 30
    proc.write_text("4:memory:/x\n")
    (root / "memory" / "x").mkdir(parents=True)
    (root / "memory" / "x" / "memory.limit_in_bytes").write_text(f"{2 << 30}\n")
    (root / "memory" / "x" / "memory.usage_in_bytes").write_text(f"{1 << 29}\n")
    assert resources._cgroup_headroom(proc, root) == (2 << 30) - (1 << 29)
    (root / "memory" / "x" / "memory.limit_in_bytes").write_text(f"{2 ** 63 - 4096}\n")  # v1 "unlimited"
    assert resources._cgroup_headroom(proc, root) is None


def test_meminfo_and_available_memory(tmp_path):
    info = tmp_path / "meminfo"
    info.write_text("MemTotal:       24000000 kB\nMemAvailable:   20000000 kB\n")
    assert resources._meminfo(info) == 20000000 * 1024
    avail, where = resources.available_memory()
    assert avail > 0 and isinstance(where, str)


def test_ulimit_v_limits_what_a_run_may_use(tmp_path):
    """A process under `ulimit -v` gets that (less what it already maps) as its limit."""
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (40 << 30, resource.RLIM_INFINITY));"
            "from fieldsolve.resources import available_memory; print(*available_memory(), sep='|')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    avail, where = r.stdout.strip().split("|")
    assert where.startswith(("address space", "memory")) and 0 < int(avail) <= 40 << 30


def test_fixed_mmap_threshold(monkeypatch):
    """A run fixes glibc's mmap threshold unless the user's environment already chose one."""
    import sys

    from fieldsolve._malloc import fix_mmap_threshold

    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "1048576")
    assert fix_mmap_threshold() is False
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    if sys.platform == "linux" and "glibc" in " ".join(__import__("platform").libc_ver()):
        assert fix_mmap_threshold() is True
