"""Value composition in a gridworld: learn two goals apart with Soft Q(λ), compose them without new learning.

The experiment behind ``docs/maths.md`` §8 and the composition figure: two first-exit tasks on one grid
differ only in the rewards of their goals; each is learnt from uniformly random behaviour (tree-backup Soft
Q(λ) is off-policy, so the behaviour does not bias the values); :func:`dopasoft.compose` combines the learnt
values into those of the weighted "OR" task; a third learner learns that task from scratch, and the number of
steps it needs to match the composed values' error is counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dopasoft.learners import SoftQLambda
from dopasoft.soft import compose, compose_rewards
from dopasoft.tasks.mdp import TabularMDP, gridworld_mdp

__all__ = ["CompositionResult", "composition_experiment", "DEFAULT_LAYOUT"]

DEFAULT_LAYOUT = (
    "A....#...",
    "..#..#.#.",
    "..#....#B",
    "..####...",
    ".........",
)


@dataclass(frozen=True)
class CompositionResult:
    """Result of :func:`composition_experiment`.

    Attributes
    ----------
    curves : pandas.DataFrame
        ``task`` (``"task 1"``, ``"task 2"``, ``"composed, from scratch"``), ``step``, ``error``: the
        sup-norm error of each learner's Q over non-goal states against its task's soft-optimal Q*, every
        ``eval_every`` steps.
    composed_error : float
        Error of ``compose`` applied to the two learnt tables, against the composed task's Q*.
    exact_error : float
        Error of ``compose`` applied to the two tasks' exact Q* (0 up to round-off where composition is exact).
    steps_to_match : int or None
        First evaluation step at which learning the composed task from scratch reaches ``composed_error``
        (None if it does not within ``n_steps``).
    q_composed, q_star : numpy.ndarray
        Composed learnt values and the composed task's soft-optimal values.
    env : TabularMDP
        The composed task.
    """

    curves: pd.DataFrame
    composed_error: float
    exact_error: float
    steps_to_match: int | None
    q_composed: np.ndarray
    q_star: np.ndarray
    env: TabularMDP


def _error(q: np.ndarray, q_star: np.ndarray, keep: np.ndarray) -> float:
    return float(np.max(np.abs(q[keep] - q_star[keep])))


def _learn(
    env: TabularMDP,
    q_star: np.ndarray,
    *,
    tau: float,
    alpha: float,
    lam: float,
    n_steps: int,
    eval_every: int,
    rng: np.random.Generator,
    seed: int,
) -> tuple[SoftQLambda, list[tuple[int, float]]]:
    agent = SoftQLambda(env.n_states, env.n_actions, alpha=alpha, tau=tau, lam=lam, gamma=1.0)
    keep = ~env.terminal
    curve = [(0, _error(agent.q, q_star, keep))]
    s, _ = env.reset(seed=seed)
    for t in range(1, n_steps + 1):
        a = int(rng.integers(env.n_actions))
        s2, r, term, _, _ = env.step(a)
        agent.update(s, a, r, s2, term)
        if term:
            s, _ = env.reset()
            agent.reset_traces()
        else:
            s = s2
        if t % eval_every == 0:
            curve.append((t, _error(agent.q, q_star, keep)))
    return agent, curve


def composition_experiment(
    layout: Sequence[str] = DEFAULT_LAYOUT,
    rewards: Sequence[Mapping[str, float]] = ({"A": 1.0, "B": -1.0}, {"A": -1.0, "B": 1.0}),
    weights: Sequence[float] = (0.5, 0.5),
    *,
    tau: float = 0.5,
    step_reward: float = -0.1,
    alpha: float = 0.5,
    lam: float = 0.8,
    n_steps: int = 10_000,
    scratch_steps: int | None = None,
    eval_every: int = 250,
    seed: int = 0,
) -> CompositionResult:
    """Learn each task apart, compose the learnt values, and learn the composed task from scratch.

    Parameters
    ----------
    layout : sequence of str
        Grid (see :func:`dopasoft.tasks.gridworld_mdp`).
    rewards : sequence of mappings
        Goal rewards of each component task (the same goals in every task).
    weights : sequence of float
        Composition weights (``compose``); equal weights give an "OR" of the goals.
    tau, step_reward : float
        Temperature and per-move reward, shared by every task (composition needs that).
    alpha, lam : float
        Learning rate and trace decay of every learner (tree-backup Soft Q(λ), γ = 1).
    n_steps : int
        Steps each component task is learnt for.
    scratch_steps : int, optional
        Steps the composed task is learnt for from scratch (default ``2 * n_steps``, the components' total).
    eval_every : int
        Steps between error evaluations.
    seed : int
        Seeds the behaviour and the environments (same seed, same result).

    Returns
    -------
    CompositionResult

    Examples
    --------
    >>> from dopasoft.experiments.composition import composition_experiment
    >>> res = composition_experiment(n_steps=8000, seed=0)
    >>> bool(res.exact_error < 1e-8), round(res.composed_error, 3), res.steps_to_match
    (True, 0.023, 8000)
    """
    if len(rewards) != len(weights) or len(rewards) < 2:
        raise ValueError("rewards and weights need one entry per component task (at least two)")
    goals = sorted(rewards[0])
    if any(sorted(r) != goals for r in rewards):
        raise ValueError(f"every task must reward the same goals {goals}")
    scratch_steps = 2 * n_steps if scratch_steps is None else int(scratch_steps)
    rng = np.random.default_rng(seed)
    learnt, exact, curves = [], [], []
    for i, r in enumerate(rewards):
        env = gridworld_mdp(layout, r, step_reward=step_reward)
        q_star_i = env.solve(gamma=1.0, tau=tau).q
        agent, curve = _learn(
            env,
            q_star_i,
            tau=tau,
            alpha=alpha,
            lam=lam,
            n_steps=n_steps,
            eval_every=eval_every,
            rng=rng,
            seed=seed + 1 + i,
        )
        learnt.append(agent.q)
        exact.append(q_star_i)
        curves += [(f"task {i + 1}", t, e) for t, e in curve]
    goal_r = compose_rewards([[r[g] for g in goals] for r in rewards], weights, tau)
    env_c = gridworld_mdp(layout, dict(zip(goals, goal_r, strict=True)), step_reward=step_reward)
    q_star = env_c.solve(gamma=1.0, tau=tau).q
    keep = ~env_c.terminal
    q_comp = compose(learnt, weights, tau)
    composed_error = _error(q_comp, q_star, keep)
    exact_error = _error(compose(exact, weights, tau), q_star, keep)
    _, curve = _learn(
        env_c,
        q_star,
        tau=tau,
        alpha=alpha,
        lam=lam,
        n_steps=scratch_steps,
        eval_every=eval_every,
        rng=rng,
        seed=seed + 100,
    )
    curves += [("composed, from scratch", t, e) for t, e in curve]
    match = next((t for t, e in curve if e <= composed_error), None)
    table = pd.DataFrame(curves, columns=["task", "step", "error"])
    return CompositionResult(table, composed_error, exact_error, match, q_comp, q_star, env_c)
