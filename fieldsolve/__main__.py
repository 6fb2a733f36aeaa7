"""Command-line entry point: ``fieldsolve demo --out DIR`` (``python -m fieldsolve``)."""
from __future__ import annotations

import argparse
import sys


def _demo(args) -> int:
    from .demo import run_demo

    run_demo(args.out, n_particles=args.particles, n_mesh=args.mesh, seed=args.seed)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fieldsolve", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="deposit a clustered particle set and plot its P(k)")
    demo.add_argument("--out", default="runs/demo", help="output directory")
    demo.add_argument("--particles", type=int, default=400_000)
    demo.add_argument("--mesh", type=int, default=64)
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
