"""The paper's claim made visible: error to the soft-optimal Q* over steps, for every learner variant.

One random MDP (5 states, 3 actions, gamma = 0.8, tau = 1), one fixed behaviour policy far from the
Boltzmann policy (mostly the action that pi* likes least), the same random stream for every learner and a
decaying step size alpha_t = alpha0 (1 + t/500)^-0.6; the curve is the error of the iterates averaged over
the second half of the steps so far (Polyak averaging, as in the tests). Off-policy learners (tree-backup, Retrace, n-step tree
backup and importance sampling) approach Q*; on-policy traces and returns settle on a biased table.
Panel b shows what traces are for: on a 10-state chain whose only reward is at its end, tree-backup Soft Q(λ)
with λ > 0 reaches Q* in fewer steps than λ = 0 (uniform behaviour, gamma = 0.95, tau = 0.1, mean of 5 seeds).

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
from dopasoft.tasks.mdp import chain_mdp, random_mdp  # noqa: E402

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


def chain_curve(lam, n=10, steps=1500, every=50, seeds=5):
    """Mean over seeds of max |Q - Q*| on a chain whose only reward is at its end (uniform behaviour)."""
    env = chain_mdp(n)
    q_star = env.solve(gamma=0.95, tau=0.1).q
    keep = ~env.terminal
    curves = []
    for seed in range(seeds):
        agent = ds.SoftQLambda(n, 2, alpha=0.5, tau=0.1, lam=lam, gamma=0.95)
        rng = np.random.default_rng(seed)
        s, errs = 0, []
        for t in range(1, steps + 1):
            a = int(rng.integers(2))
            s2 = s + 1 if a == 1 else s
            term = s2 == n - 1
            agent.update(s, a, 1.0 if term else 0.0, s2, term)
            if term:
                agent.reset_traces()
            s = 0 if term else s2
            if t % every == 0:
                errs.append(np.max(np.abs(agent.q[keep] - q_star[keep])))
        curves.append(errs)
    return np.arange(every, steps + 1, every), np.mean(curves, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40_000)
    parser.add_argument("--out", type=Path, default=Path("docs/figures/convergence.png"))
    args = parser.parse_args()

    mdp = random_mdp(5, 3, seed=1)
    solution = mdp.solve(gamma=GAMMA, tau=TAU)
    q_star = solution.q
    behaviour = 0.6 * np.eye(3)[solution.policy.argmin(axis=1)] + 0.4 / 3

    fig, (ax, ax2) = plt.subplots(
        1, 2, figsize=(12.4, 4.2), constrained_layout=True, gridspec_kw={"width_ratios": [1.5, 1]}
    )
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
    ax.text(-0.08, 1.04, "a", transform=ax.transAxes, fontweight="bold", fontsize=12)
    # b: what traces are for -- a delayed reward reaches early states sooner with lambda > 0
    print(f"{'chain, tree-backup':<28}{'steps to max |Q - Q*| < 0.05 (mean of 5 seeds)':>48}")
    for lam, colour in zip((0.0, 0.5, 0.9), (colours[0], colours[1], colours[2]), strict=True):
        t, err = chain_curve(lam)
        ax2.plot(t, err, color=colour, lw=1.6, label=f"λ = {lam:g}")
        below = np.flatnonzero(err < 0.05)
        print(f"{'lambda = ' + format(lam, 'g'):<28}{(t[below[0]] if below.size else float('nan')):>48}")
    ax2.axhline(0.05, color="grey", lw=0.8, ls=":")
    ax2.set_yscale("log")
    ax2.set_xlabel("environment steps")
    ax2.set_ylabel("max |Q − Q*|")
    ax2.set_title("Delayed reward (10-state chain)", fontsize=11)
    ax2.legend(fontsize=8, frameon=False)
    ax2.spines[["top", "right"]].set_visible(False)
    ax2.text(-0.12, 1.04, "b", transform=ax2.transAxes, fontweight="bold", fontsize=12)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=130)
    print(f"figure written to {args.out}")


if __name__ == "__main__":
    main()
