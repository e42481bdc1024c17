"""Parameter recovery of hBayesDM's models (gng_m1–m4, prl_fictitious, prl_rp, bandit2arm_delta,
bandit4arm_4par) by maximum likelihood, at the trial counts of hBayesDM's example files.

Run: ``python benchmarks/hbayesdm_recovery.py [--subjects 100] [--starts 5] [--seed 0] [--models a,b]``.
Prints numbers only.

Each model's population is drawn uniformly within its parameters' start ranges
(``ds.fitting.sample_parameters``; e.g. gng: ``xi`` 0.02–0.3, ``ep`` 0.05–0.6, ``b`` and ``pi`` −1–1,
``rho`` 1–15), simulated on its own task with the model's generator (``simulate_choices``: the
go/no-go task of Guitart-Masip et al. 2012 with p = 0.8 feedback; a two-armed reversal bandit,
p = 0.8 / 0.2, reversal every 40 trials; four arms with drifting gain and loss probabilities) and fitted
with ``ds.fitting.fit`` (default bounds and prior). Trial counts: 240 (gng example file), 100 (prl and
bandit2arm), 200 (bandit4arm). For each parameter: Pearson and Spearman r of estimates against the
truth and the median absolute error; then the CPU time of the fits (process time, all threads).

``--model-recovery``: model recovery among gng_m1–gng_m4 instead (``ds.fitting.model_recovery``,
``--subjects`` per generating model, 240 trials, selection by BIC and by AIC): the confusion matrix
p(best fit | generating) of each criterion.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import dopasoft.fitting as F

TRIALS = {
    "gng_m1": 240,
    "gng_m2": 240,
    "gng_m3": 240,
    "gng_m4": 240,
    "prl_fictitious": 100,
    "prl_rp": 100,
    "bandit2arm_delta": 100,
    "bandit4arm_4par": 200,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=100)
    ap.add_argument("--starts", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", default=",".join(TRIALS))
    ap.add_argument("--model-recovery", action="store_true", help="model recovery among gng_m1-gng_m4")
    args = ap.parse_args()
    if args.model_recovery:
        gng = ["gng_m1", "gng_m2", "gng_m3", "gng_m4"]
        for criterion in ("bic", "aic"):
            t0 = time.process_time()
            res = F.model_recovery(
                gng, args.subjects, n_trials=240, seed=args.seed, n_starts=args.starts, criterion=criterion
            )
            cpu = time.process_time() - t0
            print(f"model recovery, {args.subjects} subjects per model x 240 trials, {criterion}:")
            print(res.confusion.round(2).to_string())
            print(f"  {cpu:.1f} s CPU")
        return
    for j, name in enumerate(args.models.split(",")):
        model = F.get_model(name)
        rng = np.random.default_rng([args.seed, j])
        truth = F.sample_parameters(model, args.subjects, rng)
        truth.insert(0, "subject", [f"s{i:04d}" for i in range(args.subjects)])
        data = F.simulate_choices(model, truth, n_trials=TRIALS[name], seed=rng)
        t0 = time.process_time()
        res = F.fit(data, model, n_starts=args.starts, seed=args.seed)
        cpu = time.process_time() - t0
        table = F.recovery_table(truth, res.params, list(model.param_names))
        est = res.params.set_index("subject").loc[truth["subject"]]
        print(
            f"{name}: {args.subjects} subjects x {TRIALS[name]} trials ({model.simulation_tasks[0]}), {args.starts} starts"
        )
        for row in table.itertuples():
            err = np.median(np.abs(est[row.param].to_numpy() - truth[row.param].to_numpy()))
            print(
                f"  {row.param:7s} pearson r = {row.pearson_r:.3f}  spearman r = {row.spearman_r:.3f}  "
                f"median |error| = {err:.3f}"
            )
        print(
            f"  fit: {cpu:.1f} s CPU ({1000 * cpu / args.subjects:.1f} ms per subject), "
            f"converged {int(res.params['converged'].sum())}/{args.subjects}"
        )


if __name__ == "__main__":
    main()
