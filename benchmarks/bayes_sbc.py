"""Simulation-based calibration (Talts et al. 2018) of ``sample(data, "bandit2arm_delta")``.

Each replicate draws the group parameters from hBayesDM's priors (``mu_pr ~ N(0, 1)``,
``sigma ~ N+(0, 0.2)``), the subjects from the group, simulates an hBayesDM bandit2arm file from the Stan
model's generative process (``benchmarks/bayes.py``'s bandit, with those parameters), samples the
posterior and records the rank of each true group parameter among the thinned posterior draws. If the
sampler and the log density are right, every rank is uniform on 0..L; a chi-square test over B bins
says how far each histogram is from uniform.

Run:  python benchmarks/bayes_sbc.py [--reps 100] [--subjects 8] [--trials 60] [--draws 400] [--thin 4]

Prints, for each group parameter (``mu_pr[A]``, ``mu_pr[tau]``, ``sigma[A]``, ``sigma[tau]``), the rank
histogram and the chi-square p-value, plus the run's time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

import dopasoft.fitting as F


def phi_approx(x):
    return 1.0 / (1.0 + np.exp(-(0.07056 * x**3 + 1.5976 * x)))


def simulate(mu_pr, sigma, n_subjects, n_trials, rng) -> pd.DataFrame:
    """An hBayesDM bandit2arm file's rows from bandit2arm_delta's generative model."""
    rows = []
    for s in range(n_subjects):
        a = phi_approx(mu_pr[0] + sigma[0] * rng.normal())
        tau = 5.0 * phi_approx(mu_pr[1] + sigma[1] * rng.normal())
        ev = np.zeros(2)
        for t in range(n_trials):
            p1 = 1.0 / (1.0 + np.exp(-tau * (ev[1] - ev[0])))
            c = int(rng.random() < p1)
            outcome = float(rng.random() < (0.7, 0.3)[c])
            rows.append((f"{1001 + s}", t + 1, c + 1, outcome))
            ev[c] += a * (outcome - ev[c])
    return pd.DataFrame(rows, columns=["subjID", "trial", "choice", "outcome"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--subjects", type=int, default=8)
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--draws", type=int, default=400, help="draws per chain (2 chains)")
    ap.add_argument("--thin", type=int, default=4, help="keep every thin-th draw for the ranks")
    ap.add_argument("--bins", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    names = ["mu_pr[A]", "mu_pr[tau]", "sigma[A]", "sigma[tau]"]
    ranks = {n: [] for n in names}
    n_kept = None
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bandit_2arm_exampleData.txt"
        for rep in range(args.reps):
            mu_pr = rng.normal(size=2)
            sigma = np.abs(rng.normal(0.0, 0.2, size=2))
            simulate(mu_pr, sigma, args.subjects, args.trials, rng).to_csv(path, sep="\t", index=False)
            data = F.read_hbayesdm(path)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the ranks, not each replicate's checks, are the test
                post = F.sample(
                    data, "bandit2arm_delta", chains=2, draws=args.draws, tune=400, seed=rep, progress=False
                )
            p = post.idata.posterior
            mu = p["mu_pr"].values[:, :: args.thin].reshape(-1, 2)
            sd = p["sigma"].values[:, :: args.thin].reshape(-1, 2)
            n_kept = mu.shape[0]
            for j in range(2):
                ranks[names[j]].append(int(np.sum(mu[:, j] < mu_pr[j])))
                ranks[names[2 + j]].append(int(np.sum(sd[:, j] < sigma[j])))
    took = time.perf_counter() - t0
    print(
        f"SBC of bandit2arm_delta: {args.reps} replicates of {args.subjects} subjects x {args.trials} trials, "
        f"2 chains x {args.draws} draws, ranks among {n_kept} thinned draws; {took:.0f} s"
    )
    edges = np.linspace(0, n_kept + 1, args.bins + 1)
    for n in names:
        hist, _ = np.histogram(ranks[n], bins=edges)
        p_value = stats.chisquare(hist).pvalue
        print(f"{n:12s} rank histogram {hist.tolist()}  chi-square p = {p_value:.3f}")


if __name__ == "__main__":
    main()
