"""Value composition in a gridworld: compose two separately learnt goals vs learn their "OR" from scratch.

Prints, per seed, the error of composing the learnt values (no new learning), the error of composing the exact
values (round-off: composition is exact on deterministic first-exit tasks), and the steps a learner of the
composed task needs from scratch to reach the composed values' error; writes the figure of the first seed.

Run:  python benchmarks/composition.py [--seeds 5] [--out docs/figures/composition.png]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dopasoft.analysis import plot_composition
from dopasoft.experiments.composition import composition_experiment


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--n-steps", type=int, default=10_000)
    ap.add_argument("--out", default="benchmarks/out/composition")
    args = ap.parse_args()
    rows = []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        res = composition_experiment(n_steps=args.n_steps, seed=seed)
        last = res.curves.groupby("task").tail(1).set_index("task")["error"]
        rows.append((res.composed_error, res.steps_to_match))
        print(
            f"seed {seed}: composed error {res.composed_error:.4f} (exact values: {res.exact_error:.1e}); "
            f"components' final errors {last['task 1']:.3f}, {last['task 2']:.3f}; "
            f"from scratch reaches it after {res.steps_to_match} steps "
            f"({time.perf_counter() - t0:.1f} s)"
        )
        if seed == 0:
            plot_composition(res, save=args.out.removesuffix(".png"))
    err = np.array([r[0] for r in rows])
    steps = np.array([np.nan if r[1] is None else r[1] for r in rows], float)
    print(
        f"median composed error {np.median(err):.4f}; median steps from scratch to match {np.nanmedian(steps):.0f} "
        f"(components: {args.n_steps} steps each, learnt once; every new weighting costs 0 further steps)"
    )


if __name__ == "__main__":
    main()
