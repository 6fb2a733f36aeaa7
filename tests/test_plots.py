"""Plots: every example gets the plots that apply, each a function of a run directory or snapshot,
with log axes, units, equal aspect and the linear-theory rates checked on the figures."""
import math

import numpy as np
import pytest

import fieldsolve.plots as fp
from fieldsolve.cli import main
from fieldsolve.diagnostics import landau_root, two_stream_growth_rate

EXPECTED = {
    "default": {"energy", "momentum", "density", "potential", "particles"},
    "plummer": {"energy", "momentum", "density", "potential", "particles"},
    "zeldovich": {"energy", "momentum", "density", "potential", "phase_space"},
    "landau_damping": {"energy", "momentum", "mode_energy", "density", "potential", "phase_space"},
    "two_stream": {"energy", "momentum", "mode_energy", "density", "potential", "phase_space"},
    "poisson_gaussian": {"density", "potential", "poisson_error", "poisson_convergence"},
    "les_apriori": {"les_spectra", "les_fields"},
}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    fp.base._plt().close("all")


def test_every_plot_is_listed_and_used():
    assert set(fp.available()) == set().union(*EXPECTED.values())
    assert set(fp.available()) <= set(fp.__all__)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_make_plots_writes_the_plots_that_apply(example_runs, name, tmp_path):
    res = example_runs[name]
    paths = fp.make_plots(res.run_dir, out=tmp_path)
    assert {p.stem for p in paths} == EXPECTED[name]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
    assert not list(tmp_path.glob("*.tmp"))


def test_a_snapshot_gets_its_own_prefixed_plots(example_runs, tmp_path):
    snap = example_runs["two_stream"].snapshots[-1]
    paths = fp.make_plots(snap, out=tmp_path)
    assert {p.name for p in paths} == {f"{snap.stem}_{n}.png" for n in ("density", "potential", "phase_space")}


def test_plots_refuse_what_does_not_apply(example_runs):
    with pytest.raises(ValueError, match="only for les runs"):
        fp.les_spectra(example_runs["two_stream"].run_dir)
    with pytest.raises(ValueError, match="unknown plot"):
        fp.make_plots(example_runs["two_stream"].run_dir, only=["nope"])
    with pytest.raises(ValueError, match="timeseries"):
        fp.energy(example_runs["two_stream"].snapshots[-1])


def _lines(ax, label_part):
    return [ln for ln in ax.get_lines() if label_part in str(ln.get_label())]


def test_energy_log_axes_and_momentum_without_offset(example_runs):
    fig = fp.energy(example_runs["landau_damping"].run_dir, save=False)
    a, b = fig.axes[:2]
    assert a.get_yscale() == "log" and b.get_yscale() == "log"
    assert {"kinetic K", "|total E|"} <= {ln.get_label() for ln in a.get_lines()}
    assert "code units" in a.get_ylabel() and "mass·length²/time²" in a.get_ylabel()
    fig = fp.momentum(example_runs["landau_damping"].run_dir, save=False)
    assert fig.axes[0].yaxis.get_major_formatter().get_useOffset() is False


@pytest.mark.parametrize("name, rate", [("landau_damping", 2 * landau_root(0.5, 1.0).imag),
                                        ("two_stream", 2 * two_stream_growth_rate(0.6, 1.0))])
def test_mode_energy_overlays_the_linear_theory_slope(example_runs, name, rate):
    fig = fp.mode_energy(example_runs[name].run_dir, save=False)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    (line,) = _lines(ax, "linear theory")
    t, w = line.get_data()
    assert np.polyfit(t, np.log(w), 1)[0] == pytest.approx(rate, rel=1e-9)


def test_linear_theory_only_where_the_config_has_a_root(example_runs):
    cfg = example_runs["two_stream"].config
    warm = cfg.model_copy(update={"species": [s.model_copy(update={"v_th": [0.1]}) for s in cfg.species]})
    assert fp.timeseries._linear_theory(warm, (1,)) is None
    assert fp.timeseries._linear_theory(example_runs["plummer"].config, (1,)) is None
    label, rate = fp.timeseries._linear_theory(example_runs["landau_damping"].config, (1,))
    assert rate == pytest.approx(-0.3067, abs=2e-4) and "Landau" in label


def test_spatial_maps_have_equal_aspect_and_labelled_colour_bars(example_runs):
    for fn in (fp.density, fp.potential, fp.particles):
        fig = fn(example_runs["plummer"].run_dir, save=False)
        assert fig.axes[0].get_aspect() == 1.0, fn.__name__
        if fn is not fp.particles:  # 2000 particles are drawn as points, without a colour bar
            assert "code units" in fig.axes[1].get_ylabel(), fn.__name__
    fig = fp.density(example_runs["plummer"].run_dir, save=False)
    assert fig.axes[1].get_ylabel() == "∫ρ dz [mass/length², code units]"


def test_pic_density_is_labelled_a_charge_density_with_background(example_runs):
    fig = fp.density(example_runs["landau_damping"].run_dir, save=False)
    ax = fig.axes[0]
    assert "charge density" in ax.get_title() and "background" in ax.get_title()
    assert ax.get_ylabel() == "ρ [charge/length³, code units]"
    assert len(ax.get_lines()) >= 2  # the last profile over the first one


def test_phase_space_x_vx_and_the_exact_zeldovich_solution(example_runs):
    fig = fp.phase_space(example_runs["landau_damping"].run_dir, save=False)
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("x [") and ax.get_ylabel().startswith("v_x [")
    assert "macro-particles per bin" in fig.axes[1].get_ylabel()  # 6000 particles: a histogram
    res = example_runs["zeldovich"]
    fig = fp.phase_space(res.run_dir, save=False)
    (exact,) = _lines(fig.axes[0], "exact planar solution")
    from fieldsolve.openpmd import read_particles

    p = read_particles(res.snapshots[-1])
    x, v = exact.get_data()
    # every particle lies on the exact curve (before shell crossing: v is a function of x)
    np.testing.assert_allclose(np.interp(p["position"][:, 0], x, v), p["velocity"][:, 0],
                               atol=0.01 * np.abs(v).max())


def test_les_spectra_stop_at_nyquist_with_reference_and_transfer(example_runs):
    res = example_runs["les_apriori"]
    fig = fp.les_spectra(res.run_dir, save=False)
    a, b = fig.axes[:2]
    knyq = math.pi / res.config.grid.make().spacing[0]
    for ln in _lines(a, "E"):
        assert ln.get_xdata().max() <= knyq * (1 + 1e-12)
    (ref,) = _lines(a, "-5/3")
    k, e = ref.get_data()
    assert np.polyfit(np.log(k), np.log(e), 1)[0] == pytest.approx(-5 / 3)
    lo, hi = a.get_ylim()
    assert lo >= 1e-11 * hi
    (measured,) = _lines(b, "measured")
    (analytic,) = _lines(b, "|Ĝ(k)|²")
    delta = 2 * res.config.grid.make().spacing[0]  # width_cells: 2
    kk, g2 = analytic.get_data()
    np.testing.assert_allclose(g2, np.exp(-kk ** 2 * delta ** 2 / 12), rtol=1e-12)
    km, gm = measured.get_data()
    np.testing.assert_allclose(gm, np.exp(-km ** 2 * delta ** 2 / 12), atol=0.05)


def test_poisson_error_and_convergence(example_runs):
    res = example_runs["poisson_gaussian"]
    fig = fp.poisson_error(res.run_dir, save=False)
    radial = next(ax for ax in fig.axes if "relative L2 error" in ax.get_title())
    assert fig.axes[0].get_aspect() == 1.0 and radial.get_yscale() == "log"
    fig = fp.poisson_convergence(res.run_dir, save=False)
    ax = fig.axes[0]
    (err,) = _lines(ax, "relative L2 error")
    h, e = err.get_data()
    assert len(h) == 3 and np.all(np.diff(e) < 0)  # finer grids, smaller errors
    assert "observed order" in ax.get_title()


def test_units_text():
    assert fp.base._units_text((-3, 1, 0, 0, 0, 0, 0)) == "mass/length³"
    assert fp.base._units_text((1, 1, -3, -1, 0, 0, 0)) == "mass·length/charge·time²"
    assert fp.base._units_text((-3, 0, 1, 1, 0, 0, 0)) == "charge/length³"
    assert fp.base._units_text((0,) * 7) == "dimensionless"


def test_cli_plot_list_and_only(example_runs, tmp_path, capsys):
    assert main(["plot", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in fp.available())
    run_dir = example_runs["two_stream"].run_dir
    assert main(["plot", str(run_dir), "--only", "mode_energy", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "mode_energy.png")]
    assert main(["plot", str(run_dir), "--only", "les_spectra"]) == 2
    assert "does not apply" in capsys.readouterr().err
    assert main(["plot"]) == 2
    (tmp_path / "junk.h5").write_text("not hdf5")
    assert main(["plot", str(tmp_path / "junk.h5")]) == 2
    assert "not an HDF5 file" in capsys.readouterr().err


def test_every_cli_argument_has_help():
    import argparse

    from fieldsolve.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        assert sub._name_parser_map[name].description or any(
            c.dest == name and c.help for c in sub._choices_actions), name
        for action in p._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"fieldsolve {name} {action.dest}: no help text"
