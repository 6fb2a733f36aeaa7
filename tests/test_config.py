"""Config loading and validation: YAML traps, overrides, error messages, CLI exit codes."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fieldsolve.cli import main
from fieldsolve.config import ConfigError, config_schema, dump_config, load_config, load_yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))

PIC = """\
kind: pic
grid: {shape: [32], box: 12.566370614359172}
time: {dt: 0.1, t_end: 1.0}
species:
  - {name: electrons, charge: -1, mass: 1, n_particles: 1000, v_th: 1.0,
     perturbation: {amplitude: 0.01, mode: 1}}
"""

NBODY = """\
kind: nbody
grid: {shape: [16, 16, 16], box: 8.0, periodic: false}
time: {dt: 0.1, steps: 2}
initial: {kind: plummer, n_particles: 100, r_max: 3.0}
"""


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_validate_and_round_trip(path):
    cfg = load_config(path)
    again = load_config(load_yaml(dump_config(cfg)))
    assert again == cfg


def test_yaml12_scalars():
    d = load_yaml("a: 1e-3\nb: 2E5\nc: 1_000\nd: no\ne: on\nf: true\ng: 0o17\nh: .5\ni: -3\n")
    assert d == {"a": 1e-3, "b": 2e5, "c": 1000, "d": "no", "e": "on", "f": True, "g": 15, "h": 0.5, "i": -3}
    assert isinstance(d["a"], float) and isinstance(d["c"], int)


def test_exponent_float_accepted_everywhere():
    cfg = load_config(PIC.replace("dt: 0.1", "dt: 1e-1"))
    assert cfg.time.dt == 0.1


def test_overrides_are_yaml_scalars():
    cfg = load_config(PIC, ["time.dt=2e-2", "species.0.v_th=[0.5]", "seed=7", "solver.window=tsc"])
    assert cfg.time.dt == 0.02 and cfg.species[0].v_th == [0.5] and cfg.seed == 7
    assert cfg.solver.window == "tsc"


def test_defaults_are_resolved_and_frozen():
    cfg = load_config(NBODY)
    assert cfg.output.every == 10 and cfg.checkpoint.keep_last == 2 and cfg.units.G == 1.0
    with pytest.raises(Exception):
        cfg.seed = 3


# (config text or override, expected fragments of the one-line message)
BAD = [
    (("time.dtt=1",), ["time.dtt", "unknown key", "allowed keys here: dt, t_end, steps, cfl"]),
    (("tme.dt=1",), ["tme", "unknown key", "grid"]),
    (("time.dt=-0.1",), ["time.dt", "-0.1", "greater than 0"]),
    (("time.dt=0",), ["time.dt", "greater than 0"]),
    (("time.dt=fast",), ["time.dt", "'fast'", "expected a number"]),
    (("grid.shape=[-4]",), ["grid.shape", "-4", "greater than 0"]),
    (("grid.shape=[32.5]",), ["grid.shape", "32.5", "expected an integer"]),
    (("grid.shape=[2,2,2,2]",), ["grid.shape", "at most 3"]),
    (("grid.box=[1,2]",), ["grid.box", "2 entries", "give 1 or 1"]),
    (("grid.box=-1",), ["grid.box", "-1", "greater than 0"]),
    (("grid.periodic=no",), ["grid.periodic", "'no'", "true or false"]),
    (("grid.periodic=false",), ["grid.periodic", "kind=pic needs true"]),
    (("solver.kernel=hockney",), ["solver.kernel = 'hockney'", "unknown", "spectral"]),
    (("solver.kernel=zeta",), ["solver.kernel", "zeta", "allowed here", "spectral"]),
    (("solver.window=quadratic",), ["solver.window", "quadratic", "'ngp', 'cic', 'tsc' or 'pcs'"]),
    (("solver.gradient=fd8",), ["solver.gradient", "fd8", "'spectral', 'fd2' or 'fd4'"]),
    (("seed=017",), ["seed", "017", "leading zero", "octal"]),
    (("seed=-1",), ["seed", "-1", "greater than or equal to 0"]),
    (("threads=0",), ["threads", "0", "greater than 0"]),
    (("kind=plasma",), ["kind", "plasma", "'nbody', 'pic', 'poisson'"]),
    (("species.0.charge=0",), ["species.0.charge = 0", "nonzero"]),
    (("species.0.mass=true",), ["species.0.mass", "True", "expected a number"]),
    (("species.0.n_particles=1e3",), None),  # valid: 1000.0 is an integer value
    (("species.0.n_particles=1.5e3",), None),
    (("species.0.n_particles=1500.5",), ["species.0.n_particles", "1500.5", "expected an integer"]),
    (("species.0.loading=calm",), ["species.0.loading", "calm", "'quiet' or 'random'"]),
    (("species.0.perturbation.mode=[1,0]",), ["species.0.perturbation.mode", "2 entries"]),
    (("output.dtype=float16",), ["output.dtype", "float16", "'float32' or 'float64'"]),
    (("output.every=0",), ["output.every", "greater than 0"]),
    (("output.fields=[density,vorticity]",), ["output.fields.1", "vorticity", "'density', 'potential' or 'field'"]),
    (("time.steps=3",), ["time", "t_end", "steps", "exactly one"]),
    (("name=my run",), ["name", "my run", "pattern"]),
    (("checkpoint.keep_last=0",), ["checkpoint.keep_last", "greater than 0"]),
]


@pytest.mark.parametrize("override,fragments", BAD, ids=[b[0][0] for b in BAD])
def test_bad_config_exit_2_names_key(override, fragments, tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(PIC)
    rc = main(["validate", str(cfg), "--set", override[0]])
    out, err = capsys.readouterr()
    if fragments is None:
        assert rc == 0, err
        return
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for frag in fragments:
        assert frag in err, (frag, err)


YAML_TRAPS = [
    ("duplicate", PIC + "time: {dt: 0.2, t_end: 1.0}\n", ["time", "duplicate key", "line 7"]),
    ("octal", PIC + "seed: 017\n", ["seed", "017", "leading zero"]),
    ("norway", PIC.replace("box: 12.566370614359172", "box: 12.5, periodic: no"), ["grid.periodic", "'no'"]),
    ("syntax", "kind: pic\ngrid: [1, 2\n", ["not valid YAML", "line"]),
    ("not a mapping", "- 1\n- 2\n", ["must be a mapping"]),
    ("missing kind", "grid: {shape: [8]}\n", ["kind", "missing", "nbody, pic, poisson"]),
    ("missing section", "kind: pic\ngrid: {shape: [8]}\ntime: {dt: 0.1, steps: 1}\n", ["species", "missing"]),
    ("bad initial", NBODY.replace("plummer", "plumer"), ["initial.kind", "plumer", "'plummer'"]),
    ("sphere outside box", NBODY.replace("r_max: 3.0", "r_max: 5.0"), ["initial.r_max", "leaves the isolated box"]),
    ("missing file", None, ["no_such.yaml", "cannot read"]),
]


@pytest.mark.parametrize("name,text,fragments", YAML_TRAPS, ids=[t[0] for t in YAML_TRAPS])
def test_yaml_traps_exit_2(name, text, fragments, tmp_path, capsys):
    cfg = tmp_path / "no_such.yaml"
    if text is not None:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(text)
    rc = main(["validate", str(cfg)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.count("\n") == 1, err
    for frag in fragments:
        assert frag in err, (frag, err)


def test_load_config_raises_configerror():
    with pytest.raises(ConfigError, match="time.dt"):
        load_config(PIC, ["time.dt=-1"])
    with pytest.raises(ConfigError, match="--set"):
        load_config(PIC, ["time.dt"])


def test_cli_process_exit_codes(tmp_path):
    """The real process: exit 2 with one line and no traceback; 0 for a valid config."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(PIC.replace("dt: 0.1", "dtt: 0.1"))
    r = subprocess.run([sys.executable, "-m", "fieldsolve", "validate", str(bad)], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "time.dtt" in r.stderr and "Traceback" not in r.stderr
    good = tmp_path / "good.yaml"
    good.write_text(PIC)
    r = subprocess.run([sys.executable, "-m", "fieldsolve", "validate", str(good), "--set", "time.dt=5e-2"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "dt: 0.05" in r.stdout and "estimated memory" in r.stdout


def test_schema(tmp_path, capsys):
    assert main(["schema", "--out", str(tmp_path / "s.json")]) == 0
    schema = json.loads((tmp_path / "s.json").read_text())
    assert schema == config_schema()
    text = json.dumps(schema)
    for key in ("PICConfig", "NBodyConfig", "PoissonConfig", "LESConfig", "keep_last", "n_particles", "discriminator"):
        assert key in text
