"""Convergence to the soft-optimal Q* under off-policy behaviour, and what eligibility traces are for.

Two experiments (docs/maths.md §4–5; docs/figures.md):

* **off-policy**: one random MDP (5 states, 3 actions, γ = 0.8, τ = 1) and a fixed behaviour policy far from
  the Boltzmann policy (mostly the action π* likes least); every learner variant sees the same random stream,
  with a decaying step size α_t = α0 (1 + t/500)^−0.6; the error is that of the Polyak-averaged iterates
  (the mean over the second half of the snapshots so far) to Q* from soft value iteration. Tree-backup,
  Retrace and n-step tree-backup / importance learners approach Q*; on-policy traces and returns settle on
  a biased table.
* **delayed reward**: a 10-state chain whose only reward is at its end (uniform behaviour, γ = 0.95,
  τ = 0.1, α = 0.5), tree-backup Soft Q(λ) with λ = 0, 0.5, 0.9, mean over seeds: λ > 0 reaches Q* in fewer
  steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dopasoft.learners import NStepSoftQ, SoftQLambda
from dopasoft.tasks.mdp import chain_mdp, random_mdp

__all__ = ["ConvergenceResult", "convergence_experiment", "OFF_POLICY_LEARNERS"]

GAMMA, TAU = 0.8, 1.0


def _soft_q(**kw) -> Callable[[], SoftQLambda]:
    return lambda: SoftQLambda(5, 3, alpha=0.5, tau=TAU, gamma=GAMMA, **kw)


def _n_step(**kw) -> Callable[[], NStepSoftQ]:
    return lambda: NStepSoftQ(5, 3, alpha=0.5, tau=TAU, gamma=GAMMA, **kw)


OFF_POLICY_LEARNERS: dict[str, tuple[Callable[[], object], float, bool]] = {
    # name -> (learner factory, alpha0, reaches Q* under off-policy behaviour)
    "tree-backup λ=0 (one-step)": (_soft_q(lam=0.0), 0.5, True),
    "tree-backup λ=0.5": (_soft_q(lam=0.5), 0.5, True),
    "tree-backup λ=0.9": (_soft_q(lam=0.9), 0.5, True),
    "retrace λ=0.9": (_soft_q(lam=0.9, trace="retrace"), 0.5, True),
    "uncorrected λ=0.9": (_soft_q(lam=0.9, trace="uncorrected"), 0.5, False),
    "on-policy λ=0.9": (_soft_q(lam=0.9, trace="on-policy"), 0.5, False),
    "n-step tree-backup n=3": (_n_step(n=3), 0.5, True),
    "n-step importance n=2": (_n_step(n=2, correction="importance"), 0.1, True),
    "n-step on-policy n=3": (_n_step(n=3, correction="on-policy"), 0.5, False),
}
"""The learners of the off-policy experiment."""


@dataclass(frozen=True)
class ConvergenceResult:
    """Curves of both experiments.

    Attributes
    ----------
    curves : pandas.DataFrame
        ``experiment`` (``"off-policy"`` or ``"delayed reward"``), ``learner``, ``step``, ``error``
        (max |Q − Q*|; Polyak-averaged in the off-policy experiment), ``unbiased`` (whether the learner
        should reach Q* off-policy; the chain rows are all tree-backup).
    steps_to_tol : pandas.Series
        Delayed reward: first step at which each λ's mean error is below ``tol`` (NaN if never).
    tol : float
    """

    curves: pd.DataFrame
    steps_to_tol: pd.Series
    tol: float


def _off_policy_curve(agent, mdp, behaviour, q_star, steps, alpha0, every, seed):
    rng = np.random.default_rng(seed)
    u = rng.random((steps, 2))
    cum_p = np.cumsum(mdp.P, axis=2)
    cum_b = np.cumsum(behaviour, axis=1)
    n_s, n_a = behaviour.shape
    s, snapshots, errors = 0, [], []
    for t in range(steps):
        agent.alpha = alpha0 * (1 + t / 500) ** -0.6
        a = min(int(np.searchsorted(cum_b[s], u[t, 0])), n_a - 1)
        s2 = min(int(np.searchsorted(cum_p[s, a], u[t, 1])), n_s - 1)
        agent.update(s, a, mdp.R[s, a], s2, False, behaviour_prob=behaviour[s, a])
        s = s2
        if (t + 1) % every == 0:
            snapshots.append(agent.q)
            q_bar = np.mean(snapshots[len(snapshots) // 2 :], axis=0)
            errors.append(np.max(np.abs(q_bar - q_star)))
    return np.arange(every, steps + 1, every), np.array(errors)


def _chain_curve(lam, n, steps, every, seeds):
    env = chain_mdp(n)
    q_star = env.solve(gamma=0.95, tau=0.1).q
    keep = ~env.terminal
    curves = []
    for seed in range(seeds):
        agent = SoftQLambda(n, 2, alpha=0.5, tau=0.1, lam=lam, gamma=0.95)
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


def convergence_experiment(
    steps: int = 40_000,
    *,
    chain_steps: int = 1500,
    chain_seeds: int = 5,
    every: int = 250,
    tol: float = 0.05,
    seed: int = 0,
) -> ConvergenceResult:
    """Run both experiments (see the module docstring).

    Parameters
    ----------
    steps : int
        Environment steps per learner in the off-policy experiment.
    chain_steps, chain_seeds : int
        Steps and seeds of the delayed-reward chain.
    every : int
        Off-policy snapshot interval (the chain is read every 50 steps).
    tol : float
        Error at which the chain's ``steps_to_tol`` are read.
    seed : int
        Seed of the off-policy random stream (the chain uses seeds 0..chain_seeds−1).

    Returns
    -------
    ConvergenceResult

    Examples
    --------
    >>> res = convergence_experiment(2000, chain_steps=800, chain_seeds=2)
    >>> sorted(res.curves["experiment"].unique())
    ['delayed reward', 'off-policy']
    """
    if steps < every or chain_steps < 50:
        raise ValueError(f"steps must be at least every={every} and chain_steps at least 50")
    mdp = random_mdp(5, 3, seed=1)
    solution = mdp.solve(gamma=GAMMA, tau=TAU)
    behaviour = 0.6 * np.eye(3)[solution.policy.argmin(axis=1)] + 0.4 / 3
    rows = []
    for name, (make, alpha0, unbiased) in OFF_POLICY_LEARNERS.items():
        t, err = _off_policy_curve(make(), mdp, behaviour, solution.q, steps, alpha0, every, seed)
        rows.append(
            pd.DataFrame(
                {"experiment": "off-policy", "learner": name, "step": t, "error": err, "unbiased": unbiased}
            )
        )
    reach = {}
    for lam in (0.0, 0.5, 0.9):
        t, err = _chain_curve(lam, 10, chain_steps, 50, chain_seeds)
        name = f"λ = {lam:g}"
        rows.append(
            pd.DataFrame(
                {"experiment": "delayed reward", "learner": name, "step": t, "error": err, "unbiased": True}
            )
        )
        below = np.flatnonzero(err < tol)
        reach[name] = float(t[below[0]]) if below.size else float("nan")
    return ConvergenceResult(pd.concat(rows, ignore_index=True), pd.Series(reach, name="steps_to_tol"), tol)
