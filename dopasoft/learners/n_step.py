"""n-step soft Q-learning, forward view (docs/maths.md §3): on-policy, importance-sampled and tree-backup
returns from :mod:`dopasoft.returns`, with the learners' shared feature and policy machinery."""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dopasoft.learners.base import (
    _N_VALUE_SIGNALS,
    _check_count,
    _FeatureLearner,
)
from dopasoft.returns import (
    _importance_weight,
    _soft_n_step_return,
    _soft_tree_backup_return,
)

__all__ = ["NStepSoftQ", "CORRECTIONS"]

CORRECTIONS = ("tree-backup", "importance", "on-policy")


class _Pending(NamedTuple):
    idx: NDArray
    val: NDArray
    row: int
    action: int
    reward: float
    next_idx: NDArray
    next_val: NDArray
    next_row: int
    terminated: bool
    behaviour_prob: float


class NStepSoftQ(_FeatureLearner):
    r"""n-step soft Q-learning, forward view: each pair is updated ``n`` steps after it was visited.

    The update of :math:`(s_t, a_t)` is :math:`Q \leftarrow Q + \alpha\,w\,(G - Q(s_t,a_t))` with the
    return computed from the current Q when the update is made, truncated at termination (pending pairs
    are flushed when an episode terminates), docs/maths.md §3:

    - ``"on-policy"``: :math:`G = r_{t+1} + \sum_{k=1}^{n-1}\gamma^k[r_{t+k+1} - \tau KL(s_{t+k})]
      + \gamma^n V(s_{t+n})`, ``w = 1``;
    - ``"importance"``: the same ``G`` with ``w`` = :math:`\prod_{k=1}^{n-1}\pi(a_{t+k}|s_{t+k}) /
      b(a_{t+k}|s_{t+k})`; needs ``behaviour_prob``;
    - ``"tree-backup"`` (default): :math:`G_t = r_{t+1} + \gamma[V(s_{t+1}) - \pi(a_{t+1}|s_{t+1})
      Q(s_{t+1},a_{t+1}) + \pi(a_{t+1}|s_{t+1}) G_{t+1}]`, ``w = 1``.

    ``n = 1`` is one-step soft Q-learning. Parameters are those of :class:`SoftQLambda` with ``n``
    (horizon, >= 1) and ``correction`` instead of ``lam`` and ``trace``.

    Parameters
    ----------
    n_states, n_actions : int
        Sizes of the table (or, with ``linear=True``, the number of features and actions).
    n : int
        Horizon of the return, >= 1.
    alpha, tau, gamma : float
        Step size, temperature and discount, as in :class:`SoftQLambda`.
    correction : {"tree-backup", "on-policy", "importance"}
        How the intermediate actions are corrected (above).
    prior : array_like, optional
        Default policy π0, shape (n_actions,) or (n_states, n_actions); uniform if omitted.
    q_init : float or array_like
        Initial values.
    linear : bool
        Linear in features instead of tabular.

    Examples
    --------
    >>> import dopasoft as ds
    >>> agent = ds.NStepSoftQ(3, 2, n=2, alpha=0.5, tau=1.0)
    >>> agent.update(0, 1, 0.0, 1, False)   # returns this step's one-step TD error
    0.0
    >>> agent.update(1, 0, 1.0, 2, True)    # terminal: both pending pairs are updated
    1.0
    """

    def __init__(
        self,
        n_states: int,
        n_actions: int,
        *,
        n: int,
        alpha: float,
        tau: float,
        gamma: float = 1.0,
        correction: str = "tree-backup",
        prior: ArrayLike | None = None,
        q_init: float | ArrayLike = 0.0,
        linear: bool = False,
    ) -> None:
        if correction not in CORRECTIONS:
            raise ValueError(f"correction must be one of {list(CORRECTIONS)}, got {correction!r}")
        super().__init__(
            n_states,
            n_actions,
            alpha=alpha,
            tau=tau,
            gamma=gamma,
            prior=prior,
            q_init=q_init,
            linear=linear,
        )
        self.n = _check_count(n, "n")
        self.correction = correction
        self._pending: deque[_Pending] = deque()

    @property
    def needs_behaviour_prob(self) -> bool:
        """Whether :meth:`update` needs ``behaviour_prob`` (importance-sampling correction)."""
        return self.correction == "importance"

    @property
    def n_pending(self) -> int:
        """Number of visited pairs whose update is still delayed."""
        return len(self._pending)

    def reset_traces(self) -> None:
        """Drop the pending (not yet updated) pairs, as at the start of a new episode."""
        self._pending.clear()

    def _error(self, steps: list[_Pending]) -> float:
        """Weighted n-step error ``w (G - Q(s_t, a_t))`` of the first pair of ``steps``."""
        first = steps[0]
        _, _, q0 = self._row_stats(first.idx, first.val, first.row)
        rewards = np.array([p.reward for p in steps])
        last = steps[-1]
        v_last = 0.0 if last.terminated else self._row_stats(last.next_idx, last.next_val, last.next_row)[0]
        stats = [self._row_stats(p.idx, p.val, p.row) for p in steps[1:]]
        if self.correction == "tree-backup":
            v_mid = np.array([v for v, _, _ in stats])
            pi_mid = np.array([pi[p.action] for (_, pi, _), p in zip(stats, steps[1:], strict=True)])
            q_mid = np.array([q[p.action] for (_, _, q), p in zip(stats, steps[1:], strict=True)])
            g = _soft_tree_backup_return(rewards, v_mid, pi_mid, q_mid, v_last, self._gamma)
            return g - q0[first.action]
        kl_mid = np.array([(pi @ q - v) / self._tau for v, pi, q in stats])
        g = _soft_n_step_return(rewards, kl_mid, v_last, self._gamma, self._tau)
        weight = 1.0
        if self.correction == "importance":
            pi_mid = np.array([pi[p.action] for (_, pi, _), p in zip(stats, steps[1:], strict=True)])
            weight = _importance_weight(pi_mid, np.array([p.behaviour_prob for p in steps[1:]]))
        return weight * (g - q0[first.action])

    def _apply(self, steps: list[_Pending]) -> None:
        first = steps[0]
        self._w[first.idx, first.action] += self._alpha * self._error(steps) * first.val

    def update(
        self,
        state: int | ArrayLike,
        action: int,
        reward: float,
        next_state: int | ArrayLike | None,
        terminated: bool,
        behaviour_prob: float | None = None,
    ) -> float:
        """Record one transition, make the updates that are due; return this step's one-step TD error.

        The pair visited ``n - 1`` steps ago is updated now; at termination every pending pair is updated
        with its truncated return. ``behaviour_prob`` (``b(a|s)``) is required by ``"importance"``.
        """
        needed = 'correction="importance"' if self.correction == "importance" else None
        idx, val, row, a, r, nidx, nval, nrow, b = self._transition(
            state, action, reward, next_state, terminated, behaviour_prob, needed
        )
        v, _, q = self._row_stats(idx, val, row)
        v_next = 0.0 if terminated else self._row_stats(nidx, nval, nrow)[0]
        target = r + self._gamma * v_next
        self._signals[:_N_VALUE_SIGNALS] = (target - q[a], target - v, q[a] - v, v, v_next)
        self._learn_prior(row, a)
        self._has_step = True
        self._pending.append(
            _Pending(
                idx.copy(),
                val.copy(),
                row,
                a,
                r,
                nidx.copy(),
                nval.copy(),
                nrow,
                bool(terminated),
                b,
            )
        )
        if len(self._pending) == self.n:
            self._apply(list(self._pending))
            self._pending.popleft()
        if terminated:
            while self._pending:
                self._apply(list(self._pending))
                self._pending.popleft()
        return float(target - q[a])
