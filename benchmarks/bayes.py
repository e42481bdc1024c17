"""Full Bayes speed and sampler health: hBayesDM's bandit2arm_delta on a cohort of the size of hBayesDM's
example (20 subjects x 100 trials), 4 chains x 1000 draws after 1000 tuning steps (hBayesDM's defaults).

The cohort is simulated with hBayesDM's generative model (subjects from the group of the Stan file,
A = Phi_approx(mu + sigma eta), tau = 5 Phi_approx(...); choices softmax(tau * ev); a 70/30 two-armed
bandit) and written as an hBayesDM bandit2arm file, which is read back with read_hbayesdm.

Prints divergences, tree-depth hits, E-BFMI, max R-hat and min bulk ESS over every group and subject
parameter, the CPU seconds of preparing the model (compiling or loading the likelihood) and of sampling
(tuning and draws, all threads), and min bulk ESS per sampling CPU-second next to hBayesDM's 22.2.

Run:  python benchmarks/bayes.py [--subjects 20] [--trials 100] [--chains 4] [--draws 1000] [--tune 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import dopasoft.fitting as F

HBAYESDM_ESS_PER_CPU_SECOND = 22.2


def phi_approx(x):
    return 1.0 / (1.0 + np.exp(-(0.07056 * x**3 + 1.5976 * x)))


def simulate(n_subjects: int, n_trials: int, seed: int) -> pd.DataFrame:
    """An hBayesDM bandit2arm file's rows from bandit2arm_delta's generative model."""
    rng = np.random.default_rng(seed)
    mu_pr, sigma = np.array([-0.5, 0.4]), np.array([0.4, 0.4])
    rows = []
    for s in range(n_subjects):
        A = phi_approx(mu_pr[0] + sigma[0] * rng.normal())
        tau = 5.0 * phi_approx(mu_pr[1] + sigma[1] * rng.normal())
        ev = np.zeros(2)
        for t in range(n_trials):
            p = np.exp(tau * ev - np.logaddexp(tau * ev[0], tau * ev[1]))
            c = int(rng.random() < p[1])
            outcome = float(rng.random() < (0.7, 0.3)[c])
            rows.append((f"{1001 + s}", t + 1, c + 1, outcome))
            ev[c] += A * (outcome - ev[c])
    return pd.DataFrame(rows, columns=["subjID", "trial", "choice", "outcome"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=20)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--cores", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bandit_2arm_exampleData.txt"
        simulate(args.subjects, args.trials, args.seed).to_csv(path, sep="\t", index=False)
        data = F.read_hbayesdm(path)

    wall = time.perf_counter()
    post = F.sample(
        data,
        "bandit2arm_delta",
        chains=args.chains,
        draws=args.draws,
        tune=args.tune,
        seed=args.seed,
        cores=args.cores,
        progress=False,
    )
    wall = time.perf_counter() - wall
    d = post.diagnostics
    evals = int(post.idata.sample_stats["n_steps"].sum())
    ess_rate = d["ess_bulk_min"] / post.sampling_seconds
    print(
        f"bandit2arm_delta, {args.subjects} subjects x {args.trials} trials, "
        f"{args.chains} chains x {args.draws} draws after {args.tune} tuning steps"
    )
    print(f"divergences           {d['divergences']}")
    print(f"tree-depth hits       {d['treedepth_hits']}")
    print(f"E-BFMI (min chain)    {d['ebfmi_min']:.2f}")
    print(f"max R-hat             {d['rhat_max']:.4f}  ({d['rhat_max_at']})")
    print(f"min bulk ESS          {d['ess_bulk_min']:.0f}  ({d['ess_bulk_min_at']})")
    print(f"min tail ESS          {d['ess_tail_min']:.0f}")
    print(f"compile CPU s         {post.compile_seconds:.2f}")
    print(f"sampling CPU s        {post.sampling_seconds:.2f}  (kept draws: {evals} gradient evaluations)")
    print(f"wall s (whole call)   {wall:.2f}  (incl. log-likelihoods of every draw and the InferenceData)")
    print(
        f"min bulk ESS / CPU s  {ess_rate:.0f}  (hBayesDM: {HBAYESDM_ESS_PER_CPU_SECOND}; "
        f"ratio {ess_rate / HBAYESDM_ESS_PER_CPU_SECOND:.1f})"
    )
    group = post.summary(var_names=["mu_A", "mu_tau", "sigma"])
    print(group[["mean", "sd", "hdi_3%", "hdi_97%", "ess_bulk", "r_hat"]].to_string())


if __name__ == "__main__":
    main()
