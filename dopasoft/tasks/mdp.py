"""Generic tabular MDPs (random MDPs, chains) for validating the learners against soft value iteration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import ArrayLike

from dopasoft._messages import shown
from dopasoft.soft import SoftValueIterationResult, soft_value_iteration

__all__ = ["TabularMDP", "random_mdp", "chain_mdp", "gridworld_mdp", "GRID_ACTIONS"]

GRID_ACTIONS = ("up", "right", "down", "left")
_MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))


class TabularMDP(gym.Env):
    """A finite MDP with known dynamics, speaking the gymnasium interface.

    Observations are state indices. Rewards are the expected reward ``R[s, a]`` plus Gaussian noise of
    sd ``reward_sd``. Reaching a state in ``terminal`` ends the episode (``terminated=True``).

    Parameters
    ----------
    P : array_like, shape (n_states, n_actions, n_states)
        Transition probabilities.
    R : array_like, shape (n_states, n_actions)
        Expected rewards.
    start : array_like, shape (n_states,), optional
        Initial-state distribution; uniform over non-terminal states if omitted.
    terminal : array_like of int, optional
        Terminal states.
    reward_sd : float, default 0.0

    Examples
    --------
    >>> from dopasoft.tasks import chain_mdp
    >>> env = chain_mdp(4)
    >>> obs, info = env.reset(seed=0)
    >>> obs
    0
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        P: ArrayLike,
        R: ArrayLike,
        *,
        start: ArrayLike | None = None,
        terminal: ArrayLike | None = None,
        reward_sd: float = 0.0,
    ) -> None:
        self.P = np.asarray(P, dtype=float)
        self.R = np.asarray(R, dtype=float)
        if self.P.ndim != 3 or self.P.shape[0] != self.P.shape[2]:
            raise ValueError(f"P must have shape (n_states, n_actions, n_states), got {self.P.shape}")
        self.n_states, self.n_actions = self.P.shape[:2]
        if not np.allclose(self.P.sum(axis=2), 1.0, atol=1e-8) or np.any(self.P < 0):
            raise ValueError("P[s, a] must be a probability distribution over next states")
        if self.R.shape != (self.n_states, self.n_actions):
            raise ValueError(f"R must have shape {(self.n_states, self.n_actions)}, got {self.R.shape}")
        self.terminal = np.zeros(self.n_states, dtype=bool)
        if terminal is not None:
            self.terminal[np.asarray(terminal, dtype=int)] = True
        if start is None:
            start = (~self.terminal).astype(float)
            start /= start.sum()
        self.start = np.asarray(start, dtype=float)
        if self.start.shape != (self.n_states,) or not np.isclose(self.start.sum(), 1.0):
            raise ValueError("start must be a distribution over the states")
        if reward_sd < 0:
            raise ValueError(f"reward_sd must be >= 0, got {reward_sd}")
        self.reward_sd = float(reward_sd)
        self.observation_space = gym.spaces.Discrete(self.n_states)
        self.action_space = gym.spaces.Discrete(self.n_actions)
        self._state = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Start an episode in a state drawn from ``start``; returns ``(state, {})``.

        ``seed`` seeds the task's own random stream (gymnasium's ``np_random``): give it a seed of its
        own, not the one of an agent's or a behaviour policy's generator, or the two streams coincide.
        """
        super().reset(seed=seed)
        self._state = int(self.np_random.choice(self.n_states, p=self.start))
        return self._state, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        """Take ``action``; returns ``(next_state, reward, terminated, False, {})`` (gymnasium's order)."""
        a = int(action)
        if not 0 <= a < self.n_actions:
            raise ValueError(f"action {shown(action)} is out of range 0..{self.n_actions - 1}")
        s = self._state
        reward = self.R[s, a]
        if self.reward_sd > 0:
            reward += self.reward_sd * self.np_random.standard_normal()
        self._state = int(self.np_random.choice(self.n_states, p=self.P[s, a]))
        return self._state, float(reward), bool(self.terminal[self._state]), False, {}

    def solve(self, *, gamma: float, tau: float, prior: ArrayLike | None = None) -> SoftValueIterationResult:
        """Soft-optimal values of this MDP (:func:`dopasoft.soft_value_iteration`)."""
        return soft_value_iteration(
            self.P,
            self.R,
            gamma=gamma,
            tau=tau,
            prior=prior,
            terminal=np.flatnonzero(self.terminal),
        )


def random_mdp(
    n_states: int,
    n_actions: int,
    *,
    branching: int | None = None,
    reward_sd: float = 0.0,
    seed: int | np.random.Generator | None = 0,
) -> TabularMDP:
    """A random continuing MDP: Dirichlet transitions over ``branching`` successors, N(0, 1) rewards.

    Parameters
    ----------
    n_states, n_actions : int
    branching : int, optional
        Number of possible next states of each ``(s, a)`` (all states if omitted).
    reward_sd : float
        Noise added to sampled rewards.
    seed : int or Generator

    Examples
    --------
    >>> from dopasoft.tasks import random_mdp
    >>> mdp = random_mdp(5, 3, seed=1)
    >>> mdp.P.shape, mdp.R.shape
    ((5, 3, 5), (5, 3))
    >>> q_star = mdp.solve(gamma=0.8, tau=1.0).q  # ground truth for learners
    """
    rng = np.random.default_rng(seed)
    k = n_states if branching is None else int(branching)
    if not 1 <= k <= n_states:
        raise ValueError(f"branching must be in 1..n_states ({n_states}), got {branching}")
    P = np.zeros((n_states, n_actions, n_states))
    for s in range(n_states):
        for a in range(n_actions):
            succ = rng.choice(n_states, size=k, replace=False)
            P[s, a, succ] = rng.dirichlet(np.ones(k))
    R = rng.standard_normal((n_states, n_actions))
    return TabularMDP(P, R, reward_sd=reward_sd)


def chain_mdp(n_states: int, *, reward: float = 1.0, slip: float = 0.0) -> TabularMDP:
    """A chain: action 1 moves right, action 0 stays; the last state is terminal, reached with ``reward``.

    With probability ``slip`` the move fails. Starts in state 0.

    Parameters
    ----------
    n_states : int
        Number of states (>= 2), the last one terminal.
    reward : float
        Reward on reaching the last state.
    slip : float
        Probability in [0, 1) that a move right fails.

    Examples
    --------
    >>> from dopasoft.tasks import chain_mdp
    >>> env = chain_mdp(3)
    >>> obs, _ = env.reset(seed=0)
    >>> env.step(1)[:3], env.step(1)[:3]  # (state, reward, terminated)
    ((1, 0.0, False), (2, 1.0, True))
    """
    if n_states < 2:
        raise ValueError(f"n_states must be >= 2, got {n_states}")
    P = np.zeros((n_states, 2, n_states))
    R = np.zeros((n_states, 2))
    for s in range(n_states):
        P[s, 0, s] = 1.0
        nxt = min(s + 1, n_states - 1)
        P[s, 1, nxt] += 1.0 - slip
        P[s, 1, s] += slip
        if nxt == n_states - 1 and s != n_states - 1:
            R[s, 1] = reward * (1.0 - slip)
    start = np.zeros(n_states)
    start[0] = 1.0
    return TabularMDP(P, R, start=start, terminal=[n_states - 1])


def gridworld_mdp(
    layout: Sequence[str],
    goal_rewards: Mapping[str, float],
    *,
    step_reward: float = -0.1,
    slip: float = 0.0,
) -> TabularMDP:
    """A gridworld whose goals are absorbing: the first-exit tasks of value composition.

    Each free cell is a state; actions 0-3 move up, right, down, left (``GRID_ACTIONS``); a move into a wall
    or off the grid stays put. Every move costs ``step_reward``; entering goal ``g`` also pays
    ``goal_rewards[g]`` and ends the episode. With ``slip > 0`` the move goes, with probability ``slip``,
    in one of the other three directions at random (stochastic transitions).

    Parameters
    ----------
    layout : sequence of str
        Rows of the grid: ``.`` a free cell, ``#`` a wall, ``S`` a start cell (free; several allowed,
        uniform; every free non-goal cell if none), an upper-case letter other than ``S`` a goal.
    goal_rewards : mapping of str to float
        Reward on entering each goal (every goal letter of the layout must have one).
    step_reward : float, default -0.1
        Reward of every move (the same in every task; composition needs that).
    slip : float, default 0.0
        Probability in [0, 1) that a move goes in another direction.

    Returns
    -------
    TabularMDP
        With extra attributes ``cells`` (state -> (row, column)), ``goals`` (letter -> state) and
        ``layout``.

    Examples
    --------
    >>> from dopasoft.tasks import gridworld_mdp
    >>> env = gridworld_mdp(["S.A", "..B"], {"A": 1.0, "B": 0.0})
    >>> env.n_states, env.n_actions, env.goals
    (6, 4, {'A': 2, 'B': 5})
    """
    rows = [str(r) for r in layout]
    if not rows or any(len(r) != len(rows[0]) for r in rows) or not rows[0]:
        raise ValueError("layout must be non-empty rows of equal length")
    if not 0.0 <= slip < 1.0:
        raise ValueError(f"slip must be in [0, 1), got {shown(slip)}")
    cells, goals, starts = [], {}, []
    index = {}
    for i, row in enumerate(rows):
        for j, ch in enumerate(row):
            if ch == "#":
                continue
            if not (ch in ".S" or (ch.isalpha() and ch.isupper())):
                raise ValueError(
                    f"layout row {i}, column {j}: unknown cell {ch!r} (use . # S or a goal letter)"
                )
            index[(i, j)] = len(cells)
            if ch == "S":
                starts.append(len(cells))
            elif ch != ".":
                if ch in goals:
                    raise ValueError(f"layout: goal {ch!r} appears twice")
                goals[ch] = len(cells)
            cells.append((i, j))
    if not goals:
        raise ValueError("layout has no goal (an upper-case letter other than S)")
    missing = sorted(set(goals) - set(goal_rewards))
    extra = sorted(set(goal_rewards) - set(goals))
    if missing or extra:
        raise ValueError(f"goal_rewards: missing {missing}, unknown {extra}; goals are {sorted(goals)}")
    n = len(cells)
    terminal = np.zeros(n, bool)
    terminal[list(goals.values())] = True
    goal_r = np.zeros(n)
    for g, st in goals.items():
        goal_r[st] = float(goal_rewards[g])
    P = np.zeros((n, 4, n))
    for s, (i, j) in enumerate(cells):
        if terminal[s]:
            P[s, :, s] = 1.0
            continue
        for a in range(4):
            for b, (di, dj) in enumerate(_MOVES):
                p = 1.0 - slip if b == a else slip / 3.0
                if p == 0.0:
                    continue
                P[s, a, index.get((i + di, j + dj), s)] += p
    R = np.where(terminal[:, None], 0.0, float(step_reward) + P @ goal_r)
    if not starts:
        starts = [s for s in range(n) if not terminal[s]]
    start = np.zeros(n)
    start[starts] = 1.0 / len(starts)
    env = TabularMDP(P, R, start=start, terminal=np.flatnonzero(terminal))
    env.cells, env.goals, env.layout = cells, goals, tuple(rows)
    return env
