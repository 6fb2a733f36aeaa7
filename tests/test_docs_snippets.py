"""The README and docs snippets run as written, and print what their comments say.

Convention: a comment line ``# -> TEXT`` gives the line printed by the ``print`` above it. A
block with such lines must print exactly that many lines, each equal to its claim with every
number rounded to the digits the claim shows (``2.1e-03``, ``0.75``). A block preceded by
``<!-- snippet: slow -->`` runs only in ``make test-slow``; ``<!-- snippet: skip (why) -->``
marks a fragment that cannot run. Snippets that read ``runs/default`` get a small run of
configs/default.yaml there (same snapshot numbering, fewer particles and cells).
"""
import contextlib
import io
import os
import re
import shlex
from pathlib import Path

import pytest

from fieldsolve.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
FENCE = re.compile(r"^```(\w*|\{[\w-]+\})\s*$")  # ```python, ```{toctree} (MyST)


def _blocks():
    """(path, line, language, marker, code) of every fenced block."""
    out = []
    for path in DOCS:
        lines = path.read_text().splitlines()
        i = 0
        while i < len(lines):
            m = FENCE.match(lines[i])
            if not m:
                i += 1
                continue
            j = i + 1
            while not lines[j].startswith("```"):
                j += 1
            prev = next((ln.strip() for ln in reversed(lines[:i]) if ln.strip()), "")
            marker = re.match(r"<!-- snippet: (\w+)", prev)
            out.append((path, i + 1, m.group(1), marker.group(1) if marker else None, "\n".join(lines[i + 1:j])))
            i = j + 1
    return out


PYTHON = [b for b in _blocks() if b[2] == "python"]


def _params(slow):
    return [pytest.param(b, id=f"{b[0].name}:{b[1]}", marks=[pytest.mark.slow] if slow else [])
            for b in PYTHON if (b[3] == "slow") == slow and b[3] != "skip"]


def _matches(printed, claim):
    """``printed`` equals ``claim`` with every number rounded to the digits the claim shows."""
    if NUMBER.sub("#", printed).replace(" ", "") != NUMBER.sub("#", claim).replace(" ", ""):
        return False
    for got, want in zip(NUMBER.findall(printed), NUMBER.findall(claim)):
        if "e" in want.lower():
            mant = want.lower().split("e")[0]
            digits = len(mant.split(".")[1]) if "." in mant else 0
            if f"{float(got):.{digits}e}" != f"{float(want):.{digits}e}":
                return False
        else:
            digits = len(want.split(".")[1]) if "." in want else 0
            if f"{float(got):.{digits}f}" != f"{float(want):.{digits}f}":
                return False
    return True


def test_number_matching_rule():
    assert _matches("relative L2 error: 0.002090644", "relative L2 error: 2.1e-03")
    assert _matches("[ 0.75281894 -0.26919099  0.20742987]", "[ 0.75 -0.27  0.21]")
    assert not _matches("[ 0.75 -0.27  0.21]", "[ 0.75 -0.27  0.22]")
    assert not _matches("relative L2 error: 0.0031", "relative L2 error: 2.1e-03")
    assert not _matches("error: 0.002", "relative error: 0.002")


@pytest.fixture(scope="module")
def snippet_dir(tmp_path_factory):
    """A working directory with configs/ and a small runs/default (snapshots 0, 25, ..., 100)."""
    from fieldsolve.runs import run

    d = tmp_path_factory.mktemp("snippets")
    (d / "configs").symlink_to(ROOT / "configs")
    run(ROOT / "configs" / "default.yaml", out=d / "runs" / "default", echo=False,
        overrides=["initial.n_particles=2000", "grid.shape=[16,16,16]", "output.plots=false",
                   "checkpoint.every=null"])
    return d


def _run_snippet(block, cwd):
    path, line, _, _, code = block
    claims = [ln.split("# ->", 1)[1].strip() for ln in code.splitlines() if ln.strip().startswith("# ->")]
    buf = io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(buf):
            exec(compile(code, f"{path.name}:{line}", "exec"), {"__name__": "__snippet__"})
    finally:
        os.chdir(old)
        import matplotlib.pyplot as plt

        plt.close("all")
    printed = buf.getvalue().splitlines()
    if claims:
        assert len(printed) == len(claims), f"{path.name}:{line} printed {printed}, its comments say {claims}"
        for got, want in zip(printed, claims):
            assert _matches(got, want), f"{path.name}:{line}: printed {got!r}, the comment says {want!r}"


@pytest.mark.parametrize("block", _params(slow=False))
def test_snippet(block, snippet_dir):
    _run_snippet(block, snippet_dir)


@pytest.mark.parametrize("block", _params(slow=True))
def test_slow_snippet(block, snippet_dir):
    _run_snippet(block, snippet_dir)


def test_every_python_block_runs_or_says_why_not():
    for path, line, _, marker, _ in PYTHON:
        assert marker in (None, "slow", "skip"), f"{path.name}:{line}: unknown marker {marker!r}"
    skipped = [b for b in PYTHON if b[3] == "skip"]
    assert len(skipped) <= 1, [f"{b[0].name}:{b[1]}" for b in skipped]


def _command_lines():
    """``fieldsolve ...`` lines of the sh blocks and indented blocks (usage synopses excluded)."""
    out = []
    for path in DOCS:
        text = path.read_text()
        in_sh = False
        for n, ln in enumerate(text.splitlines(), 1):
            if ln.startswith("```"):
                in_sh = not in_sh and ln.strip() == "```sh"
                continue
            cmd = ln[4:] if ln.startswith("    ") and not in_sh else ln if in_sh else None
            if cmd is not None and cmd.startswith("fieldsolve "):
                out.append(pytest.param(cmd.split(" #")[0], id=f"{path.name}:{n}"))
    return out


@pytest.mark.parametrize("command", _command_lines())
def test_documented_commands_parse(command):
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert args.func is not None
