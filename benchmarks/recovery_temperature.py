"""Recovery of the inverse temperature for near-deterministic subjects: old bounds vs the defaults.

Run: ``python benchmarks/recovery_temperature.py [--subjects 100] [--trials 200] [--seeds 5]``.
Prints numbers only. Each cohort is ``--subjects`` simulated bandit participants (``soft-q``, the
two-armed reversal task of ``dopasoft.fitting.simulate_choices``, reward 1 with p = 0.8 / 0.2, reversals every
40 trials) with true ``beta = 1/tau`` uniform in [1, 10] and ``alpha`` uniform in [0.05, 0.95].
Every cohort is fitted four ways (10 starts each):

* ``old (tau > 0), ML``: the bounds before this change (``tau`` in (0, inf)), maximum likelihood;
* ``beta <= 20, ML``: a peer-style bound, ``tau`` in (0.05, inf), maximum likelihood;
* ``tau >= 0.02, ML``: the new default bounds without the default prior (``prior={}``);
* ``defaults``: ``fit(data, "soft-q")`` as it is now (``tau >= 0.02`` and the weak default prior).

Columns: Pearson r of estimated against true ``1/tau`` (the acceptance criterion is r >= 0.75 with
the defaults), Spearman r, Pearson r of ``alpha``, fits that ran off (estimated beta > 1e6), fits with
``tau`` at its lower bound, fits reported converged, and the time of the fit.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import dopasoft.fitting as F

CONFIGS = {
    "old (tau > 0), ML": dict(bounds={"tau": (0.0, np.inf)}, prior={}),
    "beta <= 20, ML": dict(bounds={"tau": (0.05, np.inf)}, prior={}),
    "tau >= 0.02, ML": dict(prior={}),
    "defaults": dict(),
}


def cohort(n: int, n_trials: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """True parameters and simulated bandit choices of one cohort."""
    rng = np.random.default_rng(seed)
    beta = rng.uniform(1.0, 10.0, n)
    true = pd.DataFrame(
        {
            "subject": [f"p{i:03d}" for i in range(n)],
            "alpha": rng.uniform(0.05, 0.95, n),
            "tau": 1.0 / beta,
        }
    )
    data = F.simulate_choices("soft-q", true, n_trials=n_trials, seed=rng, task="bandit")
    return true, data


def evaluate(true: pd.DataFrame, fits: pd.DataFrame, lower: float) -> dict:
    """Recovery numbers of one fit of one cohort."""
    b_true, b_est = 1.0 / true["tau"].to_numpy(), 1.0 / fits["tau"].to_numpy()
    return {
        "r_beta": np.corrcoef(b_true, b_est)[0, 1],
        "spearman_beta": pd.Series(b_true).corr(pd.Series(b_est), method="spearman"),
        "r_alpha": np.corrcoef(true["alpha"], fits["alpha"])[0, 1],
        "ran_off": int((b_est > 1e6).sum()),
        "tau_at_bound": int((fits["tau"] - lower <= 1e-3 * max(1.0, lower)).sum()),
        "converged": int(fits["converged"].sum()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--subjects", type=int, default=100)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=5, help="cohorts (seeds 0 .. seeds-1)")
    ap.add_argument("--starts", type=int, default=10)
    args = ap.parse_args()
    print(
        f"soft-q on the reversal bandit: {args.subjects} subjects x {args.trials} trials, true beta in [1, 10], "
        f"alpha in [0.05, 0.95], {args.starts} starts, {args.seeds} cohorts"
    )
    F.fit(cohort(2, 20, 0)[1], "soft-q", n_starts=1)  # compile
    rows = []
    for seed in range(args.seeds):
        true, data = cohort(args.subjects, args.trials, seed)
        for name, opts in CONFIGS.items():
            lower = opts.get("bounds", {}).get("tau", F.get_model("soft-q").default_bounds()["tau"])[0]
            t0 = time.perf_counter()
            fits = F.fit(data, "soft-q", n_starts=args.starts, seed=0, **opts).params
            rows.append(
                {
                    "seed": seed,
                    "config": name,
                    **evaluate(true, fits, lower),
                    "seconds": time.perf_counter() - t0,
                }
            )
    table = pd.DataFrame(rows)
    fmt = {"r_beta": "{:.2f}", "spearman_beta": "{:.2f}", "r_alpha": "{:.2f}", "seconds": "{:.1f}"}
    print("\nper cohort")
    print(table.to_string(index=False, formatters={k: v.format for k, v in fmt.items()}))
    summary = table.groupby("config", sort=False).agg(
        r_beta_mean=("r_beta", "mean"),
        r_beta_min=("r_beta", "min"),
        spearman_mean=("spearman_beta", "mean"),
        r_alpha_mean=("r_alpha", "mean"),
        ran_off=("ran_off", "sum"),
        tau_at_bound=("tau_at_bound", "sum"),
        converged=("converged", "sum"),
        seconds=("seconds", "mean"),
    )
    n_fits = args.seeds * args.subjects
    print(
        f"\nover {args.seeds} cohorts ({n_fits} fits per configuration; ran_off, tau_at_bound and converged are counts)"
    )
    print(summary.to_string(float_format=lambda x: f"{x:.2f}"))


if __name__ == "__main__":
    main()
