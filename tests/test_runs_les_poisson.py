"""Single Poisson solve and a-priori LES run types (configs/poisson_gaussian.yaml, les_apriori.yaml)."""
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

from fieldsolve.openpmd import read_mesh
from fieldsolve.runs import run

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
CHECKER = Path(sys.executable).parent / "openPMD_check_h5"


def test_poisson_gaussian_matches_analytic_and_converges(tmp_path):
    """Free-space Gaussian: error vs -M erf(r/sqrt2 s)/r is small and falls at the kernel's order."""
    errs = {}
    for n in (24, 48):
        res = run(CONFIGS / "poisson_gaussian.yaml", out=tmp_path / f"p{n}", echo=False,
                  overrides=[f"grid.shape=[{n},{n},{n}]", "output.plots=false", "threads=1"])
        errs[n] = res.final["phi_rel_l2_error"]
        assert res.final["field_rel_l2_error"] < 1e-2
    order = np.log2(errs[24] / errs[48])
    print(f"Poisson Gaussian: relL2 {errs[24]:.2e} (24^3), {errs[48]:.2e} (48^3), observed order {order:.2f}")
    assert errs[48] < 1e-4
    assert order > 3.5  # zeta kernel: 4th order
    phi, meta = read_mesh(res.snapshots[0], "phi")
    assert phi.shape == (48, 48, 48) and phi.min() < 0
    with h5py.File(res.snapshots[0], "r") as f:
        err = f["fieldsolve/extras/phi_error"][()]
        exact = f["fieldsolve/extras/phi_exact"][()]
    np.testing.assert_allclose(phi - exact, err, atol=1e-15)



def test_poisson_gaussian_periodic_against_the_lattice_sum(tmp_path):
    """Periodic 3-D Gaussian: compared with the analytic lattice sum (it has no field model; this
    configuration used to fail with an AttributeError after the solve)."""
    res = run(CONFIGS / "poisson_gaussian.yaml", out=tmp_path / "per", echo=False,
              overrides=["grid.shape=[24,24,24]", "grid.periodic=true", "solver.kernel=spectral",
                         "solver.gradient=spectral", "output.plots=false", "threads=1"])
    assert res.final["phi_rel_l2_error"] < 1e-6 and "field_rel_l2_error" not in res.final

def test_les_apriori_identities(tmp_path):
    res = run(CONFIGS / "les_apriori.yaml", out=tmp_path / "les", echo=False,
              overrides=["output.dtype=float64", "output.plots=false"])
    f = res.final
    # <u.u>/2 = <ubar.ubar>/2 + <k_sgs> exactly (the filter preserves the mean of u_i u_i)
    assert abs(f["total_energy"] - f["resolved_energy"] - f["mean_sgs_energy"]) < 1e-12 * f["total_energy"]
    assert abs(f["total_energy"] - 1.5) < 1e-10  # u_rms = 1 in 3-D
    assert 0.0 <= f["c_dynamic"] < 0.1 and np.isfinite(f["c_dynamic_raw"])
    snap = res.snapshots[0]
    u, _ = read_mesh(snap, "u")
    ubar, meta = read_mesh(snap, "ubar")
    # Gaussian grid filter of Pope width Delta = 2 h: ubar_k = exp(-k^2 Delta^2 / 24) u_k, mode by mode
    delta = 2 * meta["spacing"][0]
    U, Ub = np.fft.rfftn(u, axes=(1, 2, 3)), np.fft.rfftn(ubar, axes=(1, 2, 3))
    n = u.shape[1]
    k1 = 2 * np.pi * np.fft.fftfreq(n, meta["spacing"][0])
    kz = 2 * np.pi * np.fft.rfftfreq(n, meta["spacing"][0])
    k2 = k1[:, None, None] ** 2 + k1[None, :, None] ** 2 + kz[None, None, :] ** 2
    np.testing.assert_allclose(Ub, U * np.exp(-k2 * delta ** 2 / 24), atol=1e-10 * np.abs(U).max())
    with h5py.File(snap, "r") as h:
        k, E, Ef = (h[f"fieldsolve/spectra/{n}"][()] for n in ("k", "E", "E_filtered"))
        # the symmetric stress as six scalar records (openPMD-viewer reads no tensor record)
        assert sorted(k for k in h["data/0/meshes"] if k.startswith("tau")) == \
            ["tau_xx", "tau_xy", "tau_xz", "tau_yy", "tau_yz", "tau_zz"]
        np.testing.assert_array_equal(h["data/0/meshes/tau_xy"][()], res.state["apriori"].tau[0, 1])
    dk = k[1] - k[0]
    assert abs(E.sum() * dk - 1.5) < 1e-10 and abs(Ef.sum() * dk - f["resolved_energy"]) < 1e-10
    if CHECKER.exists():
        c = subprocess.run([str(CHECKER), "-i", str(snap)], capture_output=True, text=True)
        assert c.returncode == 0 and "0 Errors" in c.stdout, c.stdout


def test_hdf5_sources_match_the_analytic_runs(tmp_path):
    """A density / velocity given in an HDF5 file gives the same result as the generated one."""
    ref = run(CONFIGS / "poisson_gaussian.yaml", out=tmp_path / "pref", echo=False,
              overrides=["grid.shape=[16,16,16]", "output.plots=false"])
    with h5py.File(tmp_path / "rho.h5", "w") as f:
        f["density"] = ref.state["density"]
    res = run(CONFIGS / "poisson_gaussian.yaml", out=tmp_path / "pfile", echo=False,
              overrides=["grid.shape=[16,16,16]", "output.plots=false",
                         "source={kind: hdf5, path: '%s'}" % (tmp_path / "rho.h5")])
    np.testing.assert_array_equal(res.state["potential"], ref.state["potential"])
    assert "phi_rel_l2_error" not in res.final  # no analytic potential for a file source
    les = run(CONFIGS / "les_apriori.yaml", out=tmp_path / "lref", echo=False,
              overrides=["grid.shape=[16,16,16]", "output.plots=false"])
    with h5py.File(tmp_path / "u.h5", "w") as f:
        f["velocity"] = les.state["velocity"]
    les2 = run(CONFIGS / "les_apriori.yaml", out=tmp_path / "lfile", echo=False,
               overrides=["grid.shape=[16,16,16]", "output.plots=false",
                          "velocity={kind: hdf5, path: '%s'}" % (tmp_path / "u.h5")])
    assert les2.final["mean_dissipation"] == les.final["mean_dissipation"]
    assert les2.final["c_dynamic_raw"] == les.final["c_dynamic_raw"]
    from fieldsolve.cli import main

    assert main(["run", str(CONFIGS / "les_apriori.yaml"), "--out", str(tmp_path / "bad"), "-q",
                 "--set", "velocity={kind: hdf5, path: '%s', dataset: nope}" % (tmp_path / "u.h5")]) == 2
