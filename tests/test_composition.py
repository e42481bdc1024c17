"""Value composition (docs/maths.md §8): exact against soft value iteration where the theory says so."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dopasoft as ds
from dopasoft.soft import compose_rewards
from dopasoft.tasks import TabularMDP, gridworld_mdp

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

TAU = 0.5
LAYOUT = [
    "A....#...",
    "..#..#.#.",
    "..#S...#B",
    "..####...",
    ".........",
]


def test_compose_by_hand():
    q1 = np.array([[1.0, -2.0], [0.5, 0.0]])
    q2 = np.array([[0.0, 3.0], [0.5, -1.0]])
    w = [0.25, 2.0]
    out = ds.compose([q1, q2], w, tau=0.7)
    for idx in np.ndindex(q1.shape):
        expect = 0.7 * math.log(w[0] * math.exp(q1[idx] / 0.7) + w[1] * math.exp(q2[idx] / 0.7))
        assert out[idx] == pytest.approx(expect, abs=1e-13)
    # one task with weight 1 is that task; weights scale by tau * log(c)
    assert np.allclose(ds.compose([q1], [1.0], tau=0.7), q1, atol=1e-14)
    assert np.allclose(
        ds.compose([q1, q2], [2 * w[0], 2 * w[1]], tau=0.7), out + 0.7 * math.log(2), atol=1e-13
    )
    # tau -> 0: the max over tasks (weights do not matter)
    assert np.allclose(ds.compose([q1, q2], w, tau=1e-6), np.maximum(q1, q2), atol=1e-5)


def test_compose_is_stable_for_extreme_values():
    q = np.array([[1e7, -1e7], [0.0, 1e7]])
    out = ds.compose(q, [0.5, 0.5], tau=1.0)
    assert np.all(np.isfinite(out))
    assert out[0] == pytest.approx(1e7 + math.log(0.5), rel=1e-15)


@pytest.mark.parametrize(
    ("qs", "weights", "tau", "match"),
    [
        ([[0.0], [1.0]], [1.0], 1.0, "one entry per task"),
        ([[0.0], [1.0]], [1.0, -1.0], 1.0, ">= 0"),
        ([[0.0], [1.0]], [0.0, 0.0], 1.0, "at least one weight"),
        ([[0.0], [1.0]], [np.nan, 1.0], 1.0, "finite"),
        ([[0.0], [np.inf]], [1.0, 1.0], 1.0, r"qs\[1\]"),
        ([[0.0], [1.0]], [1.0, 1.0], 0.0, "tau"),
        ([[0.0], [1.0]], ["a", 1.0], 1.0, "weights must be numbers"),
    ],
)
def test_compose_rejects_bad_input(qs, weights, tau, match):
    with pytest.raises(ValueError, match=match):
        ds.compose(qs, weights, tau)


def _nonterminal(env: TabularMDP) -> np.ndarray:
    return ~env.terminal


@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.3, 0.7), (2.0, 0.1)])
def test_composition_is_exact_on_a_deterministic_gridworld(weights):
    r1, r2 = {"A": 1.0, "B": -1.0}, {"A": -0.5, "B": 2.0}
    q1 = gridworld_mdp(LAYOUT, r1).solve(gamma=1.0, tau=TAU).q
    q2 = gridworld_mdp(LAYOUT, r2).solve(gamma=1.0, tau=TAU).q
    rc = compose_rewards([[r1["A"], r1["B"]], [r2["A"], r2["B"]]], weights, TAU)
    env = gridworld_mdp(LAYOUT, {"A": rc[0], "B": rc[1]})
    q_star = env.solve(gamma=1.0, tau=TAU).q
    composed = ds.compose([q1, q2], weights, TAU)
    keep = _nonterminal(env)
    assert np.max(np.abs(composed[keep] - q_star[keep])) < 1e-8
    # and it is not trivially so: the composed task's values differ from each task's
    assert np.max(np.abs(q_star[keep] - q1[keep])) > 0.1 and np.max(np.abs(q_star[keep] - q2[keep])) > 0.1


def _random_first_exit(seed: int, goal_rewards: np.ndarray, n: int = 12, n_actions: int = 3) -> TabularMDP:
    """Deterministic first-exit task: action 0 walks s -> s+1 (the last state into goal 0), the others jump
    anywhere (goals included); every policy with full support terminates. Shared random step rewards."""
    rng = np.random.default_rng(seed)
    k = len(goal_rewards)
    m = n + k
    nxt = rng.integers(0, m, size=(n, n_actions))
    nxt[:, 0] = np.arange(1, n + 1)
    cost = rng.normal(-0.2, 0.3, size=(n, n_actions))
    P = np.zeros((m, n_actions, m))
    R = np.zeros((m, n_actions))
    for s in range(n):
        for a in range(n_actions):
            P[s, a, nxt[s, a]] = 1.0
            R[s, a] = cost[s, a] + (goal_rewards[nxt[s, a] - n] if nxt[s, a] >= n else 0.0)
    for g in range(n, m):
        P[g, :, g] = 1.0
    return TabularMDP(P, R, terminal=np.arange(n, m))


@pytest.mark.parametrize("seed", range(5))
def test_composition_is_exact_on_random_deterministic_first_exit_tasks(seed):
    rng = np.random.default_rng(100 + seed)
    n_tasks, k = 3, 3
    goals = rng.normal(0.0, 2.0, size=(n_tasks, k))
    w = rng.uniform(0.0, 2.0, size=n_tasks)
    tau = float(rng.uniform(0.2, 2.0))
    qs = [_random_first_exit(seed, goals[i]).solve(gamma=1.0, tau=tau).q for i in range(n_tasks)]
    env = _random_first_exit(seed, compose_rewards(goals, w, tau))
    q_star = env.solve(gamma=1.0, tau=tau).q
    keep = _nonterminal(env)
    assert np.max(np.abs(ds.compose(qs, w, tau)[keep] - q_star[keep])) < 1e-8


def _composition_error(slip: float, gamma: float) -> float:
    r1, r2 = {"A": 1.0, "B": -1.0}, {"A": -0.5, "B": 2.0}
    q1 = gridworld_mdp(LAYOUT, r1, slip=slip).solve(gamma=gamma, tau=TAU).q
    q2 = gridworld_mdp(LAYOUT, r2, slip=slip).solve(gamma=gamma, tau=TAU).q
    rc = compose_rewards([[1.0, -1.0], [-0.5, 2.0]], [0.5, 0.5], TAU)
    env = gridworld_mdp(LAYOUT, {"A": rc[0], "B": rc[1]}, slip=slip)
    q_star = env.solve(gamma=gamma, tau=TAU).q
    keep = _nonterminal(env)
    return float(np.max(np.abs(ds.compose([q1, q2], [0.5, 0.5], TAU)[keep] - q_star[keep])))


def test_composition_is_only_approximate_elsewhere():
    # stochastic transitions or discounting break the linearity of exp(V / tau): an approximation,
    # with the size of the error reported in docs/maths.md §8
    assert _composition_error(0.0, 1.0) < 1e-8
    stochastic = _composition_error(0.2, 1.0)
    discounted = _composition_error(0.0, 0.9)
    assert 1e-3 < stochastic < 1.0
    assert 1e-3 < discounted < 1.0


def _learn(env: TabularMDP, n_steps: int, seed: int) -> ds.SoftQLambda:
    """Soft Q(lambda), tree-backup, from uniformly random behaviour (off-policy)."""
    agent = ds.SoftQLambda(env.n_states, env.n_actions, alpha=0.2, tau=TAU, lam=0.8, gamma=1.0)
    rng = np.random.default_rng(seed)
    s, _ = env.reset(seed=seed)
    agent.reset_traces()
    for _ in range(n_steps):
        a = int(rng.integers(env.n_actions))
        s2, r, term, _, _ = env.step(a)
        agent.update(s, a, r, s2, term)
        if term:
            s, _ = env.reset()
            agent.reset_traces()
        else:
            s = s2
    return agent


def test_learned_values_compose_without_new_learning():
    layout = ["A..#", "...#", "..S.", "#..B"]
    r1, r2 = {"A": 1.0, "B": -1.0}, {"A": -1.0, "B": 1.0}
    rc = compose_rewards([[1.0, -1.0], [-1.0, 1.0]], [0.5, 0.5], TAU)
    env_c = gridworld_mdp(layout, {"A": rc[0], "B": rc[1]})
    q_star = env_c.solve(gamma=1.0, tau=TAU).q
    keep = _nonterminal(env_c)
    q1 = _learn(gridworld_mdp(layout, r1), 6000, seed=1).q
    q2 = _learn(gridworld_mdp(layout, r2), 6000, seed=2).q
    err = np.max(np.abs(ds.compose([q1, q2], [0.5, 0.5], TAU)[keep] - q_star[keep]))
    assert err < 0.02


def test_composition_experiment_and_figure():
    from dopasoft.analysis import plot_composition
    from dopasoft.experiments.composition import composition_experiment

    res = composition_experiment(n_steps=3000, scratch_steps=3000, eval_every=500, seed=3)
    again = composition_experiment(n_steps=3000, scratch_steps=3000, eval_every=500, seed=3)
    assert res.curves.equals(again.curves) and res.composed_error == again.composed_error  # same seed
    assert res.exact_error < 1e-8
    # composing learnt values is at least as good as the worse component is at its own task here
    last = res.curves.groupby("task")["error"].last()
    assert res.composed_error <= max(last["task 1"], last["task 2"]) + 1e-12
    fig = plot_composition(res)
    a, b = fig.axes[:2]
    assert b.get_ylabel() == "max |Q − Q*|" and b.get_xlabel() == "Learning steps"
    assert len(b.get_lines()) >= 4  # three curves and the composed error
