"""Distributed ``poisson`` and ``les`` runs against serial: ``fieldsolve.run(cfg, comm=COMM_WORLD)``
on every rank, the same config run serially on rank 0 (``comm=COMM_SELF``), both in one folder
picked by rank 0.

Compared: every float dataset of the written openPMD file (meshes, extras, spectra) to 1e-13 of
the largest serial value, and the scalars of ``result.json`` to 1e-12 relative; the errors
against the analytic potential (``*_error``, already relative to its norm) to 1e-12 absolute: a
spectral solve's relative error of 4e-10, from a potential that agrees with serial to 2e-15,
agrees only to ~1e-6 of itself. ``RunResult.final`` must be the same on every rank.

Bitwise equal to serial as measured: the meshes of isolated, mixed and 1-D (replicated) Poisson
runs (density evaluated pointwise on the slab, the serial transforms in the free/mixed solve, FD
gradients on ghost planes with the serial stencils); their error norms differ by summation order
(~1e-19 absolute). Periodic solves (the distributed transforms, the global mean) and the LES pipeline
(distributed transforms, sums over the ranks) agree to rounding (~1e-15 of the largest value;
mean_dissipation, a mean with cancellation, to ~5e-14 relative); a float32 output shows no
difference."""
import json
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import allmax
from h5diff import relative_differences
from test_solvers import everywhere

from fieldsolve.config import ConfigError
from fieldsolve.parallel import Decomposition, mpi
from fieldsolve.runs import run

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
FIELD_TOL, SCALAR_TOL = 1e-13, 1e-12
COMMON = ["output.plots=false", "threads=1"]

# (config, overrides): every example of kind poisson or les, then variants. 25 planes split
# unevenly (13 + 12, 9 + 8 + 8); 48 and 32 evenly on 2 and 3 ranks except 32 on 3 (11 + 11 + 10)
CASES = {
    "poisson_gaussian": ("poisson_gaussian", []),  # isolated 48^3, zeta, fd4
    "les_apriori": ("les_apriori", []),  # periodic 32^3, float32 output
    "poisson_periodic": ("poisson_gaussian", ["grid.shape=[25,25,25]", "grid.periodic=true", "solver.kernel=spectral",
                                              "solver.gradient=fd4"]),
    "poisson_periodic_spectral": ("poisson_gaussian", ["grid.shape=[24,20,16]", "grid.box=[1.2,1.0,0.8]",
                                                       "grid.periodic=true", "solver.kernel=optimal",
                                                       "solver.gradient=spectral"]),
    "poisson_isolated_plummer": ("poisson_gaussian", ["grid.shape=[25,25,25]", "solver.kernel=lgf",
                                                      "solver.gradient=fd2", "source={kind: plummer, scale_radius: 0.1}"]),
    "poisson_mixed": ("poisson_gaussian", ["grid.shape=[25,16,16]", "grid.box=[1.25,0.8,0.8]",
                                           "grid.periodic=[false,true,true]", "solver.gradient=fd4"]),
    "poisson_mixed_z": ("poisson_gaussian", ["grid.shape=[24,16,18]", "grid.box=[1.2,0.8,0.9]",
                                             "grid.periodic=[true,true,false]", "solver.kernel=chat2",
                                             "solver.gradient=fd2"]),
    "poisson_2d": ("poisson_gaussian", ["grid.shape=[31,24]", "grid.box=[1.24,0.96]", "solver.gradient=fd4"]),
    "poisson_1d": ("poisson_gaussian", ["grid.shape=[64]", "solver.gradient=fd2"]),  # replicated
    "les_float64": ("les_apriori", ["output.dtype=float64", "grid.shape=[25,25,25]"]),
    "les_2d": ("les_apriori", ["output.dtype=float64", "grid.shape=[31,24]", "grid.box=[7.75,6.0]",
                               "test_filter=null"]),
}


@pytest.fixture
def shared(comm):
    """A folder every rank sees (rank 0's), removed after the test."""
    path = Path(comm.bcast(tempfile.mkdtemp(prefix="fs-mpi-runs-") if comm.Get_rank() == 0 else None))
    yield path
    comm.Barrier()
    if comm.Get_rank() == 0:
        shutil.rmtree(path, ignore_errors=True)


def _run(config, out, overrides, comm):
    return run(CONFIGS / f"{config}.yaml", out=out, comm=comm, echo=False, overrides=COMMON + overrides)


def _differences(par_dir, ser_dir):
    """``({dataset: max|par - ser| / scale}, {result.json key: relative difference})``: scales as
    in ``h5diff`` (a vector component against the vector, an error field against its solution)."""
    fields = relative_differences(par_dir / "diags/fields/fs_000000.h5", ser_dir / "diags/fields/fs_000000.h5")
    js, jp = (json.loads((d / "result.json").read_text()) for d in (ser_dir, par_dir))
    assert sorted(js) == sorted(jp)
    scalars = {}
    for k, v in js.items():
        if isinstance(v, float) and np.isfinite(v):  # errors vs analytic: already relative (module doc)
            scalars[k] = abs(jp[k] - v) / (1.0 if k.endswith("_error") or not v else abs(v))
        else:
            assert jp[k] == v, k
    return fields, scalars


def _worst(diffs):
    worst = max(diffs, key=diffs.get, default=None)
    return "bitwise" if worst is None or diffs[worst] == 0 else f"{diffs[worst]:.2e} ({worst})"


def compare(comm, config, overrides, shared, name):
    """Run on every rank and serially on rank 0; check the written outputs and the results."""
    par = _run(config, shared / "par", overrides, comm)
    finals = comm.allgather(par.final)
    assert all(f == finals[0] for f in finals), "RunResult.final differs between ranks"

    def serial():
        from mpi4py import MPI

        _run(config, shared / "ser", overrides, MPI.COMM_SELF)
        return _differences(shared / "par", shared / "ser")

    fields, scalars = mpi.on_root(comm, serial)
    worst_field = max(fields.values(), default=0.0)
    worst_scalar = max(scalars.values(), default=0.0)
    print(f"\n{name} on {comm.Get_size()} ranks: fields {_worst(fields)}; scalars {_worst(scalars)}")
    assert worst_field <= FIELD_TOL, fields
    assert worst_scalar <= SCALAR_TOL, scalars
    return par


@pytest.mark.parametrize("name", list(CASES))
def test_run_matches_serial(comm, shared, name):
    config, overrides = CASES[name]
    par = compare(comm, config, overrides, shared, name)
    # the state is this rank's slabs
    d = Decomposition(par.config.grid.make(), comm)
    held = par.state["density"] if par.kind == "poisson" else par.state["velocity"][0]
    assert everywhere(comm, held.shape == d.local_shape)


P_FILE = ["grid.shape=[25,20,16]", "grid.box=[1.0,0.8,0.64]"]


def test_hdf5_inputs(comm, shared):
    """A source and a velocity read from HDF5 files (whole, then sliced) give serial's outputs."""
    def write_inputs():
        from mpi4py import MPI

        rho = _run("poisson_gaussian", shared / "rho_src", P_FILE, MPI.COMM_SELF).state["density"]
        u = _run("les_apriori", shared / "u_src", ["grid.shape=[25,16,16]"], MPI.COMM_SELF).state["velocity"]
        with h5py.File(shared / "in.h5", "w") as f:
            f["density"], f["velocity"] = rho, u

    mpi.on_root(comm, write_inputs)
    comm.Barrier()
    compare(comm, "poisson_gaussian", P_FILE + [f"source={{kind: hdf5, path: '{shared / 'in.h5'}'}}"],
            shared / "p", "poisson_hdf5")
    compare(comm, "les_apriori", ["grid.shape=[25,16,16]", "output.dtype=float64",
                                  f"velocity={{kind: hdf5, path: '{shared / 'in.h5'}'}}"], shared / "l", "les_hdf5")


def test_thin_split_is_an_input_error_on_every_rank(comm, shared):
    """A bounded axis 0 with 2 planes on an end rank cannot take fd4's one-sided stencil; fewer planes
    than ranks cannot be split: a ConfigError on every rank (none left in a collective)."""
    size = comm.Get_size()
    if size == 1:
        pytest.skip("needs several ranks")
    with pytest.raises(ConfigError, match="use fewer ranks"):
        _run("poisson_gaussian", shared / "thin", [f"grid.shape=[{2 * size + 1},16,16]",
                                                           f"grid.box=[{(2 * size + 1) / 16},1,1]"], comm)
    with pytest.raises(ConfigError, match="cannot be split"):
        _run("les_apriori", shared / "few", [f"grid.shape=[{size - 1},16,16]"], comm)


def test_an_input_error_on_one_rank_is_raised_on_every_rank(comm, monkeypatch, tmp_path):
    """An HDF5 source read during the run (no preflight inputs) that fails on the last rank only."""
    from fieldsolve import inputs
    from fieldsolve.config import load_config
    from fieldsolve.runs.poisson import source_model

    cfg = load_config(CONFIGS / "poisson_gaussian.yaml",
                      ["grid.shape=[16,16,16]", f"source={{kind: hdf5, path: '{tmp_path / 'none.h5'}'}}"])
    last = comm.Get_rank() == comm.Get_size() - 1

    def load(c):
        if last:
            raise ConfigError("source.path: unreadable here")
        return {"source": np.zeros(c.grid.shape)}

    monkeypatch.setattr(inputs, "load_inputs", load)
    d = Decomposition(cfg.grid.make(), comm)
    with pytest.raises(ConfigError, match="unreadable here"):
        source_model(cfg, d.grid, None, d)


def test_a_write_error_on_rank_0_reaches_every_rank(comm, shared):
    """Rank 0 cannot create the fields folder (``out`` is a file): every rank raises its error."""
    from fieldsolve.config import load_config
    from fieldsolve.runs.poisson import run_poisson
    from fieldsolve.runs.rundir import provenance

    blocker = shared / "a_file"
    mpi.on_root(comm, blocker.write_text, "not a folder\n")
    comm.Barrier()
    cfg = load_config(CONFIGS / "poisson_gaussian.yaml", ["grid.shape=[16,16,16]", "output.plots=false"])
    with pytest.raises(OSError):
        run_poisson(cfg, blocker, provenance(cfg), {}, comm)
    assert allmax(comm, 1.0) == 1.0  # every rank is still here, in step


def test_a_planning_error_on_one_rank_is_raised_on_every_rank(comm, shared, monkeypatch):
    """The output check fails on the last rank only (as a folder seen differently would): every
    rank raises that ConfigError, marked as raised everywhere (so the CLI exits, no Abort)."""
    import fieldsolve.runs.plan as plan

    if comm.Get_size() == 1:
        pytest.skip("needs several ranks")
    preflight = plan.preflight

    def check(cfg, out, **kw):
        if comm.Get_rank() == comm.Get_size() - 1:
            raise ConfigError("out: seen as not empty on this rank")
        return preflight(cfg, out, **kw)

    monkeypatch.setattr(plan, "preflight", check)
    with pytest.raises(ConfigError, match="seen as not empty") as info:
        _run("poisson_gaussian", shared / "odd", ["grid.shape=[16,16,16]"], comm)
    assert mpi.on_every_rank(info.value)
    assert not (shared / "odd").exists()  # nothing written: the check failed before rank 0 made it


def test_a_slow_rank_checks_the_output_before_it_exists(comm, shared, monkeypatch):
    """Ranks other than 0 plan slowly: rank 0 must not create the run folder before they have
    checked it is absent (else they find it 'not empty' and fail alone)."""
    import time

    import fieldsolve.runs as runs

    plan_new = runs.plan_new

    def slow(*args, **kwargs):
        if comm.Get_rank() > 0:
            time.sleep(0.3)
        return plan_new(*args, **kwargs)

    monkeypatch.setattr(runs, "plan_new", slow)
    res = _run("poisson_gaussian", shared / "slow", ["grid.shape=[16,16,16]"], comm)
    assert comm.allgather(res.final) == [res.final] * comm.Get_size()
