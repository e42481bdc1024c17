"""The paper's claim made visible: error to the soft-optimal Q* over steps, for every learner variant.

One random MDP (5 states, 3 actions, gamma = 0.8, tau = 1), one fixed behaviour policy far from the
Boltzmann policy (mostly the action that pi* likes least), the same random stream for every learner and a
decaying step size alpha_t = alpha0 (1 + t/500)^-0.6; the curve is the error of the iterates averaged over
the second half of the steps so far (Polyak averaging, as in the tests). Off-policy learners (tree-backup, Retrace, n-step tree
backup and importance sampling) approach Q*; on-policy traces and returns settle on a biased table.

Run:  python benchmarks/convergence.py [--steps N] [--out docs/figures/convergence.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import dopasoft as ds  # noqa: E402
from dopasoft.tasks.mdp import random_mdp  # noqa: E402

GAMMA, TAU = 0.8, 1.0

VARIANTS = {
    "tree-backup λ=0 (one-step)": lambda: ds.SoftQLambda(5, 3, alpha=0.5, tau=TAU, lam=0.0, gamma=GAMMA),
    "tree-backup λ=0.5": lambda: ds.SoftQLambda(5, 3, alpha=0.5, tau=TAU, lam=0.5, gamma=GAMMA),
    "tree-backup λ=0.9": lambda: ds.SoftQLambda(5, 3, alpha=0.5, tau=TAU, lam=0.9, gamma=GAMMA),
    "retrace λ=0.9": lambda: ds.SoftQLambda(5, 3, alpha=0.5, tau=TAU, lam=0.9, gamma=GAMMA, trace="retrace"),
    "uncorrected λ=0.9": lambda: ds.SoftQLambda(
        5, 3, alpha=0.5, tau=TAU, lam=0.9, gamma=GAMMA, trace="uncorrected"
    ),
    "on-policy λ=0.9": lambda: ds.SoftQLambda(
        5, 3, alpha=0.5, tau=TAU, lam=0.9, gamma=GAMMA, trace="on-policy"
    ),
    "n-step tree-backup n=3": lambda: ds.NStepSoftQ(5, 3, n=3, alpha=0.5, tau=TAU, gamma=GAMMA),
    "n-step importance n=2": lambda: ds.NStepSoftQ(
        5, 3, n=2, alpha=0.5, tau=TAU, gamma=GAMMA, correction="importance"
    ),
    "n-step on-policy n=3": lambda: ds.NStepSoftQ(
        5, 3, n=3, alpha=0.5, tau=TAU, gamma=GAMMA, correction="on-policy"
    ),
}
ALPHA0 = {"n-step importance n=2": 0.1}


def learning_curve(agent, mdp, behaviour, q_star, steps, alpha0, every=250, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.random((steps, 2))
    cum_p = np.cumsum(mdp.P, axis=2)
    cum_b = np.cumsum(behaviour, axis=1)
    s, snapshots, errors = 0, [], []
    for t in range(steps):
        agent.alpha = alpha0 * (1 + t / 500) ** -0.6
        a = min(int(np.searchsorted(cum_b[s], u[t, 0])), 2)
        s2 = min(int(np.searchsorted(cum_p[s, a], u[t, 1])), 4)
        agent.update(s, a, mdp.R[s, a], s2, False, behaviour_prob=behaviour[s, a])
        s = s2
        if (t + 1) % every == 0:
            # Polyak average of the iterates over the second half of the run so far
            snapshots.append(agent.q)
            q_bar = np.mean(snapshots[len(snapshots) // 2 :], axis=0)
            errors.append(np.max(np.abs(q_bar - q_star)))
    return np.arange(every, steps + 1, every), np.array(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40_000)
    parser.add_argument("--out", type=Path, default=Path("docs/figures/convergence.png"))
    args = parser.parse_args()

    mdp = random_mdp(5, 3, seed=1)
    solution = mdp.solve(gamma=GAMMA, tau=TAU)
    q_star = solution.q
    behaviour = 0.6 * np.eye(3)[solution.policy.argmin(axis=1)] + 0.4 / 3

    fig, ax = plt.subplots(figsize=(8.6, 4.2), constrained_layout=True)
    colours = plt.colormaps["tab10"].colors
    print(f"{'variant':<28}{'max |Q - Q*| at end':>22}")
    for (name, make), colour in zip(VARIANTS.items(), colours, strict=False):
        t, err = learning_curve(make(), mdp, behaviour, q_star, args.steps, ALPHA0.get(name, 0.5))
        style = "--" if "on-policy" in name or "uncorrected" in name else "-"
        ax.plot(t, err, style, color=colour, label=name, lw=1.6)
        print(f"{name:<28}{err[-1]:>22.4f}")
    ax.set_yscale("log")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("max |Q̄ − Q*|  (Q* by soft value iteration)")
    ax.set_title("Off-policy behaviour: which learners reach the soft-optimal Q*", fontsize=11)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.spines[["top", "right"]].set_visible(False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=130)
    print(f"figure written to {args.out}")


if __name__ == "__main__":
    main()
