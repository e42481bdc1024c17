"""Simulated two-step trials per second: the compiled cohort simulator next to the per-trial Python loop.

``simulate_two_step`` (one compiled call per cohort) and the loop it replaced (each subject's Python
agent driven through ``dopasoft.simulate`` on a ``TwoStepTask``, then ``to_canonical``) run in the same
process; the loop runs on a small cohort, the compiled simulator on the large one after a JIT warm-up.
The two must give the same data for the small cohort (same seed, same numbers); the script checks it.

Run:  python benchmarks/cohort.py [--subjects 2000] [--trials 200] [--loop-subjects 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from dopasoft.experiments import make_two_step_agent, simulate_two_step, to_canonical
from dopasoft.simulation import simulate
from dopasoft.tasks import TwoStepTask

MODELS = ("soft-q-lambda", "soft-q-lambda-on-policy", "soft-hybrid")


def python_loop(n_subjects: int, n_trials: int, model: str, seed: int) -> pd.DataFrame:
    """The per-trial loop ``simulate_two_step`` used before it was compiled."""
    rng = np.random.default_rng(seed)
    frames = []
    for subject in range(n_subjects):
        task = TwoStepTask(n_trials)
        agent = make_two_step_agent(model, None, task.p_common)
        result = simulate(agent, task, seed=int(rng.integers(2**32)))
        frames.append(to_canonical(result, subject=subject))
    return pd.concat(frames, ignore_index=True)


def best_of(fn, repeats: int) -> tuple[float, float]:
    """Best wall-clock and best CPU time of ``repeats`` runs (the machine may be shared)."""
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--loop-subjects", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n, t, small = args.subjects, args.trials, args.loop_subjects
    print(f"two-step cohorts: compiled on {n} x {t}, Python loop on {small} x {t}")
    print("simulated trials per second (best of runs; wall clock, and per CPU-second of this process)")
    head = f"{'model':<26} {'compiled':>11} {'(CPU)':>11} {'python loop':>12} {'(CPU)':>8} {'speed-up':>9}"
    print(head + "  same data")
    for model in MODELS:
        simulate_two_step(2, 5, model=model, seed=0)  # JIT warm-up (and the on-disk cache)
        wall_c, cpu_c = best_of(lambda m=model: simulate_two_step(n, t, model=m, seed=1), args.repeats)
        w, c = time.perf_counter(), time.process_time()
        loop = python_loop(small, t, model, seed=1)
        wall_l, cpu_l = time.perf_counter() - w, time.process_time() - c
        same = loop.equals(simulate_two_step(small, t, model=model, seed=1))
        rc, rl = n * t / wall_c, small * t / wall_l
        print(
            f"{model:<26} {rc:>11,.0f} {n * t / cpu_c:>11,.0f} {rl:>12,.0f} {small * t / cpu_l:>8,.0f}"
            f" {rc / rl:>8,.0f}x  {same}"
        )
    w, c = time.perf_counter(), time.process_time()
    simulate_two_step(n, t, seed=1)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    print(f"simulate_two_step({n}, {t}) after warm-up: {wall:.2f} s wall, {cpu:.2f} s CPU")


if __name__ == "__main__":
    main()
