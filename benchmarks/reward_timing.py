"""Dopamine and time: how robust are the reward-timing and dt results?

Prints (1) the acquisition cue RPE during training and after it at three bin widths (per-second
parameters: the learnt value agrees, the speed of learning does not quite), and (2) the Starkweather
slopes of the three timing models over several seeds and two bin widths, with the CPU time of each run.

Run:  python benchmarks/reward_timing.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dopasoft.analysis import delay_slope
from dopasoft.experiments import simulate_conditioning


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()

    print(
        "acquisition cue RPE (trial 20, 50, mean of the last 20) per bin width; gamma_per_s**1.5 = "
        f"{(0.98**4) ** 1.5:.4f}"
    )
    for dt in (0.25, 0.1, 0.05):
        t0 = time.process_time()
        cue = simulate_conditioning("acquisition", seed=0, task_options={"dt": dt}).trials["cue_rpe"]
        print(
            f"  dt {dt:<5g} {cue.iloc[20]:.3f} {cue.iloc[50]:.3f} {cue.iloc[-20:].mean():.4f}"
            f"   ({time.process_time() - t0:.2f} s CPU)"
        )

    print("reward-RPE slope against delay (per s), mean ± sd over seeds")
    for representation in ("belief-state", "csc", "semi-markov"):
        for dt in (0.2, 0.1):
            for p in (1.0, 0.9):
                t0 = time.process_time()
                slopes = [
                    float(
                        delay_slope(
                            simulate_conditioning(
                                "variable-delay",
                                p_reward=p,
                                representation=representation,
                                seed=seed,
                                task_options={"dt": dt},
                            )
                        ).iloc[0]
                    )
                    for seed in range(args.seeds)
                ]
                cpu = (time.process_time() - t0) / args.seeds
                print(
                    f"  {representation:<12} dt {dt:<4g} p_reward {p:<4g} slope {np.mean(slopes):+.3f} "
                    f"± {np.std(slopes):.3f}   ({cpu:.2f} s CPU per run of 1500 trials)"
                )


if __name__ == "__main__":
    main()
