"""Generic tabular MDPs (random MDPs, chains) for validating the learners against soft value iteration."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import ArrayLike

from dopasoft.soft import SoftValueIterationResult, soft_value_iteration

__all__ = ["TabularMDP", "random_mdp", "chain_mdp"]


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
        super().reset(seed=seed)
        self._state = int(self.np_random.choice(self.n_states, p=self.start))
        return self._state, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        a = int(action)
        if not 0 <= a < self.n_actions:
            raise ValueError(f"action {action!r} is out of range 0..{self.n_actions - 1}")
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
