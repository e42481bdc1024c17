"""Action prediction errors in the discrimination task: the numbers of docs/maths.md §7 and its figures.

Prints, per seed, the chosen action's mean ``action_pe`` early and late in training, at the first trials of
a novel cue, and how much ``action_pe``, ``reward_rpe`` (r - Q) and ``action_term`` change when the same
choices are replayed with swapped outcomes (errors rewarded, correct choices not); then, per seed, the soft
signals after training with a per-state and with a shared default policy (policy compression), and the
signals of the time-resolved task at cue, movement and outcome. Writes the figures of the first seed.

Run:  python benchmarks/action_prediction.py [--seeds 5] [--out docs/figures/action_prediction.png]
      [--compression-out docs/figures/policy_compression.png] [--timed-out docs/figures/timed_prediction_errors.png]
"""

from __future__ import annotations

import argparse

import numpy as np

from dopasoft.analysis import (
    plot_action_prediction_errors,
    plot_policy_compression,
    plot_timed_prediction_errors,
)
from dopasoft.experiments.discrimination import discrimination_experiment, timed_discrimination_experiment


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--trials", type=int, default=400)
    ap.add_argument("--novel-at", type=int, default=300)
    ap.add_argument("--out", default="benchmarks/out/action_prediction.png")
    ap.add_argument("--compression-out", default="benchmarks/out/policy_compression.png")
    ap.add_argument("--timed-out", default="benchmarks/out/timed_prediction_errors.png")
    args = ap.parse_args()
    rows = []
    for seed in range(args.seeds):
        table = discrimination_experiment(args.trials, novel_at=args.novel_at, seed=seed)
        replay = discrimination_experiment(
            args.trials, novel_at=args.novel_at, seed=seed, actions=table["action"].tolist(),
            reward=0.0, error_reward=1.0,
        )  # fmt: skip
        familiar = table[~table["novel"]]
        novel = table[table["novel"]]
        row = (
            familiar["action_pe"].iloc[:20].mean(),
            familiar["action_pe"].iloc[-50:].mean(),
            novel["action_pe"].iloc[0],
            np.abs(replay["action_pe"] - table["action_pe"]).max(),
            np.abs(replay["reward_rpe"] - table["reward_rpe"]).max(),
            familiar["correct"].iloc[-50:].mean(),
            np.abs(replay["action_term"] - table["action_term"]).max(),
        )
        rows.append(row)
        print(
            f"seed {seed}: action_pe first 20 familiar trials {row[0]:.3f}, last 50 {row[1]:.4f} "
            f"(correct {row[5]:.2f}); first novel-cue trial {row[2]:.3f} (uniform pi0: 1 - 1/2 = 0.5); "
            f"replay with swapped outcomes: max |change| action_pe {row[3]:.1e} (value-free: 0), "
            f"reward_rpe {row[4]:.2f}, action_term {row[6]:.2f}"
        )
        if seed == 0:
            plot_action_prediction_errors(table, replay=replay, save=args.out)
    m = np.median(np.array(rows), axis=0)
    print(
        f"median over seeds: early {m[0]:.3f}, late {m[1]:.4f}, novel {m[2]:.3f}, "
        f"replay change action_pe {m[3]:.1e}, reward_rpe {m[4]:.2f}, action_term {m[6]:.2f}"
    )
    print("after training (last 50 trials), per-state default policy vs shared (policy compression):")
    for seed in range(args.seeds):
        runs = {
            scope: discrimination_experiment(args.trials, prior_scope=scope, seed=seed)
            for scope in ("per-state", "marginal")
        }
        late = {k: v.iloc[-50:] for k, v in runs.items()}
        print(
            f"seed {seed}: correct {late['per-state']['correct'].mean():.2f} / {late['marginal']['correct'].mean():.2f}; "
            f"mean |action_term| {late['per-state']['action_term'].abs().mean():.1e} / "
            f"{late['marginal']['action_term'].abs().mean():.3f} (tau log 2 = {0.25 * np.log(2):.3f}); "
            f"mean action_pe {late['per-state']['action_pe'].mean():.1e} / {late['marginal']['action_pe'].mean():.3f}"
        )
        if seed == 0:
            plot_policy_compression(runs["per-state"], runs["marginal"], save=args.compression_out)
    print("runaway default policies: seeds (of 20) with < 90 % correct over the last 50 trials:")
    for rate in (0.05, 0.02):
        failed = {
            scope: sum(
                discrimination_experiment(args.trials, prior_rate=rate, prior_scope=scope, seed=seed)
                .iloc[-50:]["correct"]
                .mean()
                < 0.9
                for seed in range(20)
            )
            for scope in ("per-state", "marginal")
        }
        print(f"alpha_pi {rate}: per-state {failed['per-state']}/20, marginal {failed['marginal']}/20")
    print("time-resolved task (cue, movement, outcome apart), first 20 / last 50 trials:")
    for seed in range(args.seeds):
        timed = timed_discrimination_experiment(args.trials, seed=seed)
        t = timed.trials
        early, late = t.iloc[:20], t.iloc[-50:]
        print(
            f"seed {seed}: movement_ape {early['movement_ape'].mean():.3f} / {late['movement_ape'].mean():.4f}; "
            f"reward_rpe (rewarded) {early.loc[early['reward'] > 0, 'reward_rpe'].mean():.3f} / "
            f"{late.loc[late['reward'] > 0, 'reward_rpe'].mean():.4f}; "
            f"cue_rpe {early['cue_rpe'].mean():.3f} / {late['cue_rpe'].mean():.3f}; correct {late['correct'].mean():.2f}"
        )
        if seed == 0:
            plot_timed_prediction_errors(timed, save=args.timed_out)


if __name__ == "__main__":
    main()
