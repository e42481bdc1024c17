"""What the learners share: the step's signals (:class:`StepSignals`), parameter checks, and the
feature, default-policy and policy machinery of :class:`_FeatureLearner` (tabular states are one-hot
features; docs/maths.md §4, §7)."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dopasoft import kernel
from dopasoft._messages import shown
from dopasoft.learners import calls
from dopasoft.soft import check_prior, check_tau

__all__ = ["PRIOR_SCOPES", "StepSignals", "TRACE_MODES"]


TRACE_MODES = ("accumulating", "replacing")

PRIOR_SCOPES = ("per-state", "marginal")
"""Where a learned default policy lives: one per state (a habit) or one shared by all states (the marginal
of the policy: policy compression, docs/maths.md §7)."""


class StepSignals(NamedTuple):
    """Model-dopamine quantities of one step (docs/maths.md §6); ``delta = value_rpe - action_term``.

    Attributes
    ----------
    delta : float
        Soft TD error ``r + gamma V(s') - Q(s, a)`` (the learning signal).
    value_rpe : float
        State-value prediction error ``r + gamma V(s') - V(s)``.
    action_term : float
        ``Q(s, a) - V(s) = tau log(pi(a|s) / pi0(a|s))``.
    value : float
        ``V(s)`` before the update.
    next_value : float
        ``V(s')`` before the update (0 at termination).
    action_pe : float
        Action prediction error ``1 - pi0(a|s)`` with the default policy before the step
        (docs/maths.md §7): value-free, blind to reward. NaN for an agent without a default policy.

    Examples
    --------
    >>> import dopasoft as ds
    >>> agent = ds.SoftQLambda(2, 2, alpha=0.5, tau=1.0, lam=0.0)
    >>> delta = agent.update(0, 1, 1.0, 1, True)
    >>> s = agent.last_step
    >>> bool(abs(s.delta - (s.value_rpe - s.action_term)) < 1e-12)
    True
    """

    delta: float
    value_rpe: float
    action_term: float
    value: float
    next_value: float
    action_pe: float = math.nan


_N_VALUE_SIGNALS = 5  # the StepSignals fields the compiled step writes (action_pe comes from pi0)


def _check_unit(value: float, name: str, *, low_open: bool) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {shown(value)}") from None
    ok = (0.0 < x <= 1.0) if low_open else (0.0 <= x <= 1.0)
    if not ok or not np.isfinite(x):
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"{name} must be in {interval}, got {shown(value)}")
    return x


def _check_count(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {shown(value)}")
    return int(value)


class _Checked:
    """A learner parameter validated on every assignment (so step-size schedules stay safe)."""

    def __init__(self, check, doc: str) -> None:
        self.check = check
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.slot = f"_{name}"

    def __get__(self, obj, objtype=None):
        return self if obj is None else getattr(obj, self.slot)

    def __set__(self, obj, value) -> None:
        setattr(obj, self.slot, self.check(value, self.name))


def _unit_open(value: float, name: str) -> float:
    return _check_unit(value, name, low_open=True)


def _unit_closed(value: float, name: str) -> float:
    return _check_unit(value, name, low_open=False)


def _check_prior_rate(value: float, name: str = "prior_rate") -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {shown(value)}") from None
    if not 0.0 <= x < 1.0:  # also refuses NaN
        raise ValueError(f"{name} must be in [0, 1), got {shown(value)}")
    return x


class _FeatureLearner:
    """Shared state handling: weights, features of a state, default policy, validation."""

    alpha = _Checked(_unit_open, "Learning rate in (0, 1]; may be reassigned between updates (schedules).")
    tau = _Checked(check_tau, "Temperature > 0.")
    gamma = _Checked(_unit_closed, "Discount in [0, 1].")

    def __init__(
        self,
        n_states: int,
        n_actions: int,
        *,
        alpha: float,
        tau: float,
        gamma: float,
        prior: ArrayLike | None,
        q_init: float | ArrayLike,
        linear: bool,
        prior_rate: float = 0.0,
        prior_scope: str = "per-state",
    ) -> None:
        self.n_states = _check_count(n_states, "n_states")
        self.n_actions = _check_count(n_actions, "n_actions")
        self.alpha = alpha
        self.tau = tau
        self.gamma = gamma
        self.linear = bool(linear)
        p = check_prior(prior, self.n_actions)
        if p is None:
            p = np.full(self.n_actions, 1.0 / self.n_actions)
        if p.ndim == 1:
            p = p[None, :]
        elif p.shape != (self.n_states, self.n_actions) or self.linear:
            want = "(n_actions,)" if self.linear else f"(n_actions,) or {(self.n_states, self.n_actions)}"
            raise ValueError(f"prior must have shape {want}, got {p.shape}")
        self._prior_rate = _check_prior_rate(prior_rate)
        self._learned_prior = self._prior_rate > 0.0
        if prior_scope not in PRIOR_SCOPES:
            raise ValueError(f"prior_scope must be one of {list(PRIOR_SCOPES)}, got {shown(prior_scope)}")
        self._prior_scope = prior_scope
        self._marginal = prior_scope == "marginal"
        if self._marginal and p.shape[0] > 1:
            raise ValueError(
                'prior_scope="marginal" shares one default policy across states: prior must have shape '
                f"(n_actions,), got {p.shape}"
            )
        self._prior_shape = p.shape if p.shape[0] > 1 else p.shape[1:]
        if self._learned_prior and not self._marginal:  # one per state (per one-hot feature when linear)
            p = np.repeat(p, self.n_states, axis=0) if p.shape[0] == 1 else p.copy()
        self._prior_table = np.array(p, dtype=float)
        with np.errstate(divide="ignore"):
            self._log_prior = np.log(p)
        # per-row views and allowed actions as Python lists: the hot path indexes them once per step
        self._log_prior_rows = list(self._log_prior)
        self._prior_rows = list(self._prior_table)
        self._prior_list = self._prior_table.tolist()  # fixed pi0 as Python floats: action_pe per step
        self._action_pe = math.nan
        self._per_state_prior = self._log_prior.shape[0] > 1
        self._allowed = np.isfinite(self._log_prior).tolist()
        init = np.asarray(q_init, dtype=float)
        try:
            self._w = np.array(np.broadcast_to(init, (self.n_states, self.n_actions)), dtype=float)
        except ValueError:
            raise ValueError(
                f"q_init must be a number or broadcast to {(self.n_states, self.n_actions)}, "
                f"got shape {init.shape}"
            ) from None
        if not np.all(np.isfinite(self._w)):
            raise ValueError("q_init must be finite")
        self._one = np.ones(1)
        self._index = np.arange(self.n_states, dtype=np.int64)
        self._work = np.empty((4, self.n_actions))
        self._signals = np.zeros(kernel.N_SIGNALS)
        self._has_step = False

    # -- states ------------------------------------------------------------------------------------
    def _features(self, state: int | ArrayLike, name: str = "state") -> tuple[NDArray, NDArray, int]:
        """Active features ``(idx, val)`` of a state and the row of the default policy to use."""
        if not self.linear:
            if type(state) is int and 0 <= state < self.n_states:  # fast path
                return self._index[state : state + 1], self._one, state if self._per_state_prior else 0
            if isinstance(state, bool) or not isinstance(state, int | np.integer):
                raise ValueError(f"{name} must be an integer in 0..{self.n_states - 1}, got {shown(state)}")
            s = int(state)
            if not 0 <= s < self.n_states:
                raise ValueError(f"{name} {s} is out of range 0..{self.n_states - 1}")
            row = s if self._per_state_prior else 0
            return self._index[s : s + 1], self._one, row
        x = np.asarray(state, dtype=float)
        if x.shape != (self.n_states,):
            raise ValueError(
                f"{name} must be a feature vector of length {self.n_states}, got shape {x.shape}"
            )
        idx, val, finite = calls.sparse_features(x)
        if not finite:
            raise ValueError(f"{name} has non-finite features")
        if self._learned_prior and not self._marginal:
            if len(idx) != 1 or val[0] != 1.0:
                raise ValueError(
                    f"{name} must be a one-hot feature vector with prior_rate > 0 (the default policy "
                    f"is learned per one-hot state, docs/maths.md §7), got {len(idx)} non-zero features"
                    + ("" if len(idx) != 1 else f" (value {val[0]:g})")
                )
            return idx, val, int(idx[0])
        return idx, val, 0

    def _check_action(self, action: int) -> int:
        if type(action) is int and 0 <= action < self.n_actions:  # fast path
            return action
        if isinstance(action, bool) or not isinstance(action, int | np.integer):
            raise ValueError(f"action must be an integer in 0..{self.n_actions - 1}, got {shown(action)}")
        a = int(action)
        if not 0 <= a < self.n_actions:
            raise ValueError(f"action {a} is out of range 0..{self.n_actions - 1}")
        return a

    @staticmethod
    def _check_reward(reward: float) -> float:
        try:
            r = float(reward)
        except (TypeError, ValueError):
            raise ValueError(f"reward must be a number, got {shown(reward)}") from None
        if not math.isfinite(r):
            raise ValueError(f"reward must be finite, got {shown(reward)}")
        return r

    @staticmethod
    def _check_behaviour(prob: float | None, needed_by: str | None) -> float:
        if prob is None:
            if needed_by is not None:
                raise ValueError(
                    f"behaviour_prob (b(a|s), the probability with which the action was taken) "
                    f"is required by {needed_by}"
                )
            return 1.0
        p = float(prob)
        if not 0.0 < p <= 1.0:
            raise ValueError(f"behaviour_prob must be in (0, 1], got {shown(prob)}")
        return p

    @property
    def last_step(self) -> StepSignals | None:
        """Model-dopamine signals (:class:`StepSignals`) of the last update, ``None`` before the first."""
        if not self._has_step:
            return None
        return StepSignals(*self._signals[:_N_VALUE_SIGNALS].tolist(), self._action_pe)

    @property
    def prior_rate(self) -> float:
        """Learning rate ``alpha_pi`` of the default policy in [0, 1) (docs/maths.md §7); 0: fixed.

        May be reassigned (a schedule) when the agent was built with ``prior_rate > 0``.
        """
        return self._prior_rate

    @prior_rate.setter
    def prior_rate(self, value: float) -> None:
        rate = _check_prior_rate(value)
        if rate > 0.0 and not self._learned_prior:
            raise ValueError(
                "prior_rate was 0 when the agent was built (its default policy is fixed); "
                "build it with prior_rate > 0 to learn the default policy"
            )
        self._prior_rate = rate

    @property
    def prior_scope(self) -> str:
        """``"per-state"`` or ``"marginal"``: which default policy ``prior_rate`` learns (docs/maths.md §7)."""
        return self._prior_scope

    @property
    def prior(self) -> NDArray:
        """The current default policy ``pi0``; a copy.

        With ``prior_rate > 0``: the learned table ``(n_states, n_actions)`` (linear agents: row ``k`` is
        ``pi0`` of the one-hot state ``e_k``), or with ``prior_scope="marginal"`` the one learned
        ``(n_actions,)`` shared by all states. Otherwise the fixed prior as given: ``(n_actions,)`` or
        ``(n_states, n_actions)``.
        """
        if self._learned_prior and not self._marginal:
            return self._prior_table.copy()
        return self._prior_table.reshape(self._prior_shape).copy()

    def default_policy(self, state: int | ArrayLike) -> NDArray:
        """The current default policy ``pi0(.|s)`` of one state; a copy."""
        return self._prior_rows[self._features(state)[2]].copy()

    def _learn_prior(self, row: int, a: int) -> None:
        """Record ``action_pe`` of the step just made and, with ``prior_rate > 0``, learn ``pi0(.|s)``."""
        if self._learned_prior:
            self._action_pe = kernel.prior_update(
                self._prior_rows[row], self._log_prior_rows[row], a, self._prior_rate
            )
        else:
            self._action_pe = 1.0 - self._prior_list[row][a]

    def _transition(self, state, action, reward, next_state, terminated, behaviour_prob, needed_by):
        """Validate one transition; return features, row, action, reward, next features, row, b(a|s)."""
        idx, val, row = self._features(state)
        a = self._check_action(action)
        r = self._check_reward(reward)
        b = self._check_behaviour(behaviour_prob, needed_by)
        if terminated:
            nidx, nval, nrow = idx, val, row
        else:
            nidx, nval, nrow = self._features(next_state, "next_state")
        if not self._allowed[row][a]:
            raise ValueError(f"action {a} has zero probability under the default policy in this state")
        return idx, val, row, a, r, nidx, nval, nrow, b

    def _tabular_transition(self, state, action, reward, next_state, terminated, behaviour_prob, needed_by):
        """:meth:`_transition` for a tabular learner: ``(s, a, r, s', b)`` as plain numbers (``s' = s``
        when terminated); the usual case is checked inline, anything else goes through the full checks."""
        n = self.n_states
        if (
            type(state) is int
            and 0 <= state < n
            and type(action) is int
            and 0 <= action < self.n_actions
            and type(reward) is float
            and math.isfinite(reward)
            and (terminated or (type(next_state) is int and 0 <= next_state < n))
            and (type(behaviour_prob) is float or (behaviour_prob is None and needed_by is None))
            and self._allowed[state if self._per_state_prior else 0][action]
        ):
            if behaviour_prob is None:
                return state, action, reward, state if terminated else next_state, 1.0
            if 0.0 < behaviour_prob <= 1.0:
                return state, action, reward, state if terminated else next_state, behaviour_prob
        idx, _, _, a, r, nidx, _, _, b = self._transition(
            state, action, reward, next_state, terminated, behaviour_prob, needed_by
        )
        return int(idx[0]), a, r, int(nidx[0]), b

    # -- read-outs ---------------------------------------------------------------------------------
    @property
    def q(self) -> NDArray:
        """Action-value table ``(n_states, n_actions)`` (the weights ``W`` in linear mode); a copy."""
        return self._w.copy()

    def q_values(self, state: int | ArrayLike) -> NDArray:
        """``Q(s, .)`` for one state."""
        idx, val, _ = self._features(state)
        out = np.empty(self.n_actions)
        kernel.action_values(self._w, idx, val, out)
        return out

    def _stats(self, state: int | ArrayLike) -> tuple[float, NDArray, NDArray]:
        return self._row_stats(*self._features(state))

    def _row_stats(self, idx: NDArray, val: NDArray, row: int) -> tuple[float, NDArray, NDArray]:
        """``V``, ``pi`` and ``Q`` of a state given by its active features."""
        q = np.empty(self.n_actions)
        pi = np.empty(self.n_actions)
        kernel.action_values(self._w, idx, val, q)
        v = kernel.soft_value_and_policy(q, self._tau, self._log_prior_rows[row], pi)
        return v, pi, q

    def policy(self, state: int | ArrayLike) -> NDArray:
        """Boltzmann policy ``pi(.|s)`` at temperature ``tau`` relative to the default policy."""
        return self._stats(state)[1]

    def value(self, state: int | ArrayLike) -> float:
        """Soft value ``V(s)``."""
        return self._stats(state)[0]

    def act(self, state: int | ArrayLike, rng: np.random.Generator) -> int:
        """Sample an action from the Boltzmann policy with the generator ``rng``."""
        pi = self.policy(state)
        return int(min(np.searchsorted(np.cumsum(pi), rng.random(), side="right"), self.n_actions - 1))
