"""The paper's claim made visible: error to the soft-optimal Q* over steps, for every learner variant, and
what traces are for (:func:`dopasoft.experiments.convergence.convergence_experiment`; docs/figures.md).

Prints each off-policy learner's final error and the steps each λ needs on the delayed-reward chain, and
writes the figure.

Run:  python benchmarks/convergence.py [--steps 40000] [--out docs/figures/convergence.png]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from dopasoft.analysis.convergence import plot_convergence
from dopasoft.experiments.convergence import convergence_experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40_000)
    parser.add_argument("--out", type=Path, default=Path("docs/figures/convergence.png"))
    args = parser.parse_args()
    t0 = time.perf_counter()
    res = convergence_experiment(args.steps)
    off = res.curves[res.curves["experiment"] == "off-policy"].groupby("learner", sort=False).tail(1)
    print(f"{'variant':<28}{'max |Q - Q*| at end':>22}{'reaches Q*':>12}")
    for row in off.itertuples():
        print(f"{row.learner:<28}{row.error:>22.4f}{'yes' if row.unbiased else 'biased':>12}")
    print(f"delayed-reward chain, steps to max |Q - Q*| < {res.tol:g} (mean of 5 seeds):")
    for name, steps in res.steps_to_tol.items():
        print(f"  {name:<10}{steps:>8.0f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig = plot_convergence(res)
    fig.savefig(args.out, dpi=150)
    print(f"figure written to {args.out} ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
