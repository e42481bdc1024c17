"""Replay speed: model prediction errors for 200 subjects x 200 two-step trials, side by side with a plain
reference (the public learner ``ds.SoftQLambda`` driven step by step over the same choices, from Python).

Times, after a warm-up (compiled cache), best of ``--rounds``:
* ``ds.fitting.replay(data, model, fits)``: validation, packing, the compiled replay, the table;
* ``dopasoft replay data.csv --fits fits.csv --out signals.csv`` in-process: also reading both CSV files and
  writing the signals CSV (80,000 rows);
* the reference, once (it is slow), and checks that its signals equal the replay's.

Run:  python benchmarks/replay.py [--subjects 200] [--trials 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import dopasoft as ds
import dopasoft.fitting as F
from dopasoft.cli import main as cli


def reference(data, fits, model) -> np.ndarray:
    """delta of every step from ds.SoftQLambda (no stickiness: kappa enters p_choice only)."""
    out = []
    for subject, g in data.groupby("subject", sort=False):
        p = fits.loc[subject]
        agent = ds.SoftQLambda(3, 2, alpha=p["alpha"], tau=p["tau"], lam=p["lam"], gamma=1.0)
        for row in g.itertuples():
            s2 = 1 + int(row.state2)
            out.append(agent.update(0, int(row.choice1), 0.0, s2, False))
            out.append(agent.update(s2, int(row.choice2), float(row.reward), None, True))
    return np.asarray(out)


def best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=200)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    model = F.get_model("soft-q-lambda", kappa=True)
    rng = np.random.default_rng(0)
    true = F.sample_parameters(model, args.subjects, rng)
    true.insert(0, "subject", [f"sub{i:03d}" for i in range(args.subjects)])
    data = F.simulate_choices(model, true, n_trials=args.trials, seed=rng)
    data = data[["subject", "trial", "choice1", "state2", "choice2", "reward"]]
    fits = true.assign(model=model.spec)
    with tempfile.TemporaryDirectory() as tmp:
        dpath, fpath, opath = (Path(tmp) / n for n in ("data.csv", "fits.csv", "signals.csv"))
        data.to_csv(dpath, index=False)
        fits.to_csv(fpath, index=False)
        command = ["replay", str(dpath), "--fits", str(fpath), "--out", str(opath), "--quiet"]
        sig = F.replay(data, model, fits)  # warm-up (compiles or loads the cache)
        cli(command)
        t_api = best(lambda: F.replay(data, model, fits), args.rounds)
        t_cli = best(lambda: cli(command), args.rounds)
    no_kappa = fits.assign(kappa=0.0).set_index("subject")
    t0 = time.perf_counter()
    ref = reference(data, no_kappa, model)
    t_ref = time.perf_counter() - t0
    sig0 = F.replay(data, model, no_kappa.reset_index())
    err = np.max(np.abs(sig0["delta"].to_numpy() - ref))
    steps = len(sig)
    print(f"{args.subjects} subjects x {args.trials} trials = {steps} choice steps, model {model.spec}")
    print(f"  ds.fitting.replay            {t_api:7.3f} s  ({steps / t_api / 1e6:.2f} M steps/s)")
    print(f"  dopasoft replay (CSV in/out) {t_cli:7.3f} s")
    print(
        f"  reference: ds.SoftQLambda per step from Python {t_ref:7.3f} s ({t_ref / t_api:.0f}x the replay)"
    )
    print(f"  max |delta(replay) - delta(reference)| = {err:.1e}")


if __name__ == "__main__":
    main()
