"""Full Bayes speed and sampler health on cohorts of the size of hBayesDM's examples, 4 chains x 1000
draws after 1000 tuning steps (hBayesDM's defaults): bandit2arm_delta (20 subjects x 100 trials) or the
two-step ts_par7 (11 subjects x 200 trials, the size of hBayesDM's ts_exampleData); or a large
Soft Q(lambda) cohort, soft-q-lambda on 200 subjects x 200 two-step trials.

Each cohort is simulated with the Stan file's generative model (subjects from the group on the
unconstrained scale, mapped by its transforms) and written as an hBayesDM task file, which is read back
with read_hbayesdm: bandit2arm_delta's choices softmax(tau * ev) on a 70/30 two-armed bandit;
ts_par7's from dopasoft's daw-hybrid (hBayesDM's ts_par7 likelihood) on the drifting two-step task.
The soft-q-lambda cohort is simulate_two_step(200, 200, seed=seed) (its default parameters), sampled
under the default group prior.

Prints divergences, tree-depth hits, E-BFMI, max R-hat and min bulk ESS over every group and subject
parameter, the CPU seconds of preparing the model (compiling or loading the likelihood) and of sampling
(tuning and draws, all threads), and min bulk ESS per sampling CPU-second next to hBayesDM's (22.2 for
bandit2arm_delta, 1.58 for ts_par7; none for the soft-q-lambda cohort), and the wall seconds of the
whole call.

Run:  python benchmarks/bayes.py [--model bandit2arm_delta|ts_par7|soft-q-lambda] [--subjects N]
                                 [--trials T] [--chains 4] [--draws 1000] [--tune 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import dopasoft.fitting as F
from dopasoft.experiments import simulate_two_step

# min bulk ESS per CPU-second of hBayesDM (rstan) on the same design
HBAYESDM_ESS_PER_CPU_SECOND = {"bandit2arm_delta": 22.2, "ts_par7": 1.58}
# default cohort (subjects, trials): the size of hBayesDM's example data; a large Soft Q(lambda) cohort
COHORT = {"bandit2arm_delta": (20, 100), "ts_par7": (11, 200), "soft-q-lambda": (200, 200)}


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


# ts_par7's group on the unconstrained scale (a1, beta1, a2, beta2, pi, w, lambda): medians a 0.5,
# beta 3, pi 5 Phi_approx(-1.3) = 0.5, w 0.5, lambda 0.5
TS_MU_PR = np.array([0.0, np.log(3.0), 0.0, np.log(3.0), -1.3, 0.0, 0.0])
TS_SIGMA = np.full(7, 0.3)


def simulate_ts(n_subjects: int, n_trials: int, seed: int) -> pd.DataFrame:
    """Canonical two-step data of ts_par7's generative model (dopasoft's daw-hybrid)."""
    rng = np.random.default_rng(seed)
    z = TS_MU_PR + TS_SIGMA * rng.normal(size=(n_subjects, 7))
    params = pd.DataFrame(
        {
            "subject": [f"{1001 + s}" for s in range(n_subjects)],
            "alpha1": phi_approx(z[:, 0]),
            "beta1": np.exp(z[:, 1]),
            "alpha2": phi_approx(z[:, 2]),
            "beta2": np.exp(z[:, 3]),
            "pers": 5.0 * phi_approx(z[:, 4]),
            "w": phi_approx(z[:, 5]),
            "lam": phi_approx(z[:, 6]),
        }
    )
    data = F.simulate_choices("daw-hybrid", params, n_trials=n_trials, seed=rng)
    return data[["subject", "trial", "choice1", "state2", "choice2", "reward"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=sorted(COHORT), default="bandit2arm_delta")
    ap.add_argument("--subjects", type=int, default=None)
    ap.add_argument("--trials", type=int, default=None)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--cores", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    n_subjects = args.subjects or COHORT[args.model][0]
    n_trials = args.trials or COHORT[args.model][1]

    with tempfile.TemporaryDirectory() as tmp:
        if args.model == "soft-q-lambda":
            path = None
            data = simulate_two_step(n_subjects, n_trials, seed=args.seed)
        elif args.model == "ts_par7":
            path = Path(tmp) / "ts_exampleData.txt"
            F.write_hbayesdm(simulate_ts(n_subjects, n_trials, args.seed), path)
        else:
            path = Path(tmp) / "bandit_2arm_exampleData.txt"
            simulate(n_subjects, n_trials, args.seed).to_csv(path, sep="\t", index=False)
        if path is not None:
            data = F.read_hbayesdm(path)

    wall = time.perf_counter()
    post = F.sample(
        data,
        args.model,
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
    reference = HBAYESDM_ESS_PER_CPU_SECOND.get(args.model)
    print(
        f"{args.model}, {n_subjects} subjects x {n_trials} trials, "
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
    versus = f"  (hBayesDM: {reference}; ratio {ess_rate / reference:.1f})" if reference else ""
    print(f"min bulk ESS / CPU s  {ess_rate:.1f}{versus}")
    groups = [v for v in post.idata.posterior.data_vars if v.startswith(("mu_", "sigma")) and v != "mu_pr"]
    group = post.summary(var_names=groups)
    print(group[["mean", "sd", "hdi_3%", "hdi_97%", "ess_bulk", "r_hat"]].to_string())


if __name__ == "__main__":
    main()
