"""Soft Q(λ) and n-step soft Q-learning agents, tabular or linear in features.

Both learners speak the same interface (``policy``, ``q_values``, ``value``, ``act``, ``update``,
``last_step``, ``reset_traces``) so that one simulation loop drives either on any task. Tabular states are
integers; with ``linear=True`` a state is a feature vector ``x`` and ``Q(x, a) = x @ W[:, a]``. The tabular
learner is the linear one with one-hot features: both run :func:`dopasoft.kernel.soft_q_step`, the step
that simulation, replay and the likelihood run too.
"""

from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dopasoft import kernel
from dopasoft.returns import (
    importance_weight,
    soft_n_step_return,
    soft_tree_backup_return,
)
from dopasoft.soft import check_prior, check_tau

__all__ = ["SoftQLambda", "NStepSoftQ", "StepSignals"]

TRACE_MODES = ("accumulating", "replacing")
CORRECTIONS = ("tree-backup", "importance", "on-policy")


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
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    ok = (0.0 < x <= 1.0) if low_open else (0.0 <= x <= 1.0)
    if not ok or not np.isfinite(x):
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return x


def _check_count(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
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
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not 0.0 <= x < 1.0:  # also refuses NaN
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
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
        self._prior_shape = p.shape if p.shape[0] > 1 else p.shape[1:]
        if self._learned_prior:  # one default policy per state (per one-hot feature when linear)
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
                raise ValueError(f"{name} must be an integer in 0..{self.n_states - 1}, got {state!r}")
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
        idx, val, finite = kernel.sparse_features(x)
        if not finite:
            raise ValueError(f"{name} has non-finite features")
        if self._learned_prior:
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
            raise ValueError(f"action must be an integer in 0..{self.n_actions - 1}, got {action!r}")
        a = int(action)
        if not 0 <= a < self.n_actions:
            raise ValueError(f"action {a} is out of range 0..{self.n_actions - 1}")
        return a

    @staticmethod
    def _check_reward(reward: float) -> float:
        try:
            r = float(reward)
        except (TypeError, ValueError):
            raise ValueError(f"reward must be a number, got {reward!r}") from None
        if not math.isfinite(r):
            raise ValueError(f"reward must be finite, got {reward!r}")
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
            raise ValueError(f"behaviour_prob must be in (0, 1], got {prob!r}")
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
    def prior(self) -> NDArray:
        """The current default policy ``pi0``; a copy.

        With ``prior_rate > 0``: the learned table ``(n_states, n_actions)`` (linear agents: row ``k`` is
        ``pi0`` of the one-hot state ``e_k``). Otherwise the fixed prior as given: ``(n_actions,)`` or
        ``(n_states, n_actions)``.
        """
        if self._learned_prior:
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


class SoftQLambda(_FeatureLearner):
    r"""Online Soft Q(λ) with eligibility traces (backward view), tabular or linear.

    Each :meth:`update` computes the one-step soft TD error
    :math:`\delta_t = r_{t+1} + \gamma V(s_{t+1}) - Q(s_t, a_t)` and applies it through the traces of the
    chosen variant (docs/maths.md §4, ``docs/maths.md``):

    - ``"tree-backup"`` (default): :math:`e \leftarrow \gamma\lambda\pi(a_t|s_t)e`; off-policy, converges
      to the soft-optimal :math:`Q^*` under any behaviour policy.
    - ``"on-policy"``: the backward view of the λ-return of on-policy soft n-step returns; earlier pairs
      receive :math:`\bar\delta_t = r + \gamma V(s') - \sum_b \pi(b|s_t)Q(s_t,b)`. Correct only when the
      behaviour is the Boltzmann policy.
    - ``"uncorrected"``: :math:`e \leftarrow \gamma\lambda e` (soft analogue of Harutyunyan et al. 2016).
    - ``"retrace"``: :math:`e \leftarrow \gamma\lambda\min(1, \pi/b)e` (Munos et al. 2016); needs
      ``behaviour_prob``.

    ``lam = 0`` is one-step soft Q-learning for every variant.

    Parameters
    ----------
    n_states : int
        Number of states (tabular) or of features (``linear=True``).
    n_actions : int
    alpha : float
        Learning rate in (0, 1].
    tau : float
        Temperature > 0.
    lam : float
        Trace decay λ in [0, 1].
    gamma : float, default 1.0
        Discount in [0, 1].
    trace : {"tree-backup", "on-policy", "uncorrected", "retrace"}
    trace_mode : {"accumulating", "replacing"}
    prior : array_like, optional
        Default policy ``pi0``: shape (n_actions,) or, tabular only, (n_states, n_actions). Uniform if omitted.
        With ``prior_rate > 0`` it is the starting point of the learned ``pi0`` of every state.
    q_init : float or array_like, default 0.0
        Initial values (weights).
    linear : bool, default False
        States are feature vectors of length ``n_states``.
    prior_rate : float, default 0.0
        ``alpha_pi`` in [0, 1): after each step at ``s`` with action ``a``,
        ``pi0(.|s) += alpha_pi (e_a - pi0(.|s))`` (:func:`dopasoft.kernel.prior_update`, docs/maths.md §7);
        ``V``, ``pi`` and ``delta`` use ``pi0`` from before the step. 0 keeps ``pi0`` fixed. Linear agents
        learn it per one-hot state and refuse other feature vectors.

    Examples
    --------
    >>> import dopasoft as ds
    >>> agent = ds.SoftQLambda(3, 2, alpha=0.5, tau=1.0, lam=0.9)
    >>> agent.update(0, 1, 0.0, 1, False)
    0.0
    >>> agent.update(1, 0, 1.0, 2, True)
    1.0
    >>> agent.q.round(3).tolist()
    [[0.0, 0.225], [0.5, 0.0], [0.0, 0.0]]

    A learned default policy (a habit) and its action prediction error:

    >>> habit = ds.SoftQLambda(1, 2, alpha=0.5, tau=1.0, lam=0.0, prior_rate=0.5)
    >>> habit.update(0, 1, 0.0, None, True)
    0.0
    >>> habit.last_step.action_pe, habit.prior.tolist()
    (0.5, [[0.25, 0.75]])
    """

    lam = _Checked(_unit_closed, "Trace decay λ in [0, 1].")

    def __init__(
        self,
        n_states: int,
        n_actions: int,
        *,
        alpha: float,
        tau: float,
        lam: float,
        gamma: float = 1.0,
        trace: str = "tree-backup",
        trace_mode: str = "accumulating",
        prior: ArrayLike | None = None,
        q_init: float | ArrayLike = 0.0,
        linear: bool = False,
        prior_rate: float = 0.0,
    ) -> None:
        if trace not in kernel.TRACE_CODES:
            raise ValueError(f"trace must be one of {sorted(kernel.TRACE_CODES)}, got {trace!r}")
        if trace_mode not in TRACE_MODES:
            raise ValueError(f"trace_mode must be one of {list(TRACE_MODES)}, got {trace_mode!r}")
        super().__init__(
            n_states,
            n_actions,
            alpha=alpha,
            tau=tau,
            gamma=gamma,
            prior=prior,
            q_init=q_init,
            linear=linear,
            prior_rate=prior_rate,
        )
        self.lam = lam
        self.trace = trace
        self.trace_mode = trace_mode
        self._trace_code = kernel.TRACE_CODES[trace]
        self._replacing = 1 if trace_mode == "replacing" else 0
        self._e = np.zeros_like(self._w)
        self._live = np.zeros(self.n_states + 1, dtype=np.int64)  # rows of _e that may be non-zero
        self._pack()

    def _pack(self) -> None:
        """Move the arrays into two buffers (:func:`dopasoft.kernel.pack_rows`); keep views of them.

        The tabular update passes just the buffers to :func:`dopasoft.kernel.tabular_learner_step`
        (numba's dispatch costs per argument); ``_w``, ``_e``, ... stay usable as before.
        """
        n, na = self.n_states, self.n_actions
        work, sig, ones, prior, total = kernel.pack_rows(n, na, self._log_prior.shape[0])
        fbuf = np.zeros((total, na))
        fbuf[:n], fbuf[n:work], fbuf[prior:] = self._w, self._e, self._log_prior
        fbuf[ones:prior] = 1.0
        fbuf[sig:ones].reshape(-1)[: kernel.N_SIGNALS] = self._signals
        ibuf = np.concatenate([self._live, np.arange(n, dtype=np.int64)])
        self._fbuf, self._ibuf, self._prior_row = fbuf, ibuf, prior
        self._views()

    def _views(self) -> None:
        n, na, fbuf = self.n_states, self.n_actions, self._fbuf
        work, sig, ones, prior, _ = kernel.pack_rows(n, na, fbuf.shape[0] - self._prior_row)
        self._w, self._e, self._work = fbuf[:n], fbuf[n:work], fbuf[work:sig]
        self._signals = fbuf[sig:ones].reshape(-1)
        self._log_prior = fbuf[prior:]
        self._log_prior_rows = list(self._log_prior)
        self._prior_rows = list(self._prior_table)
        self._live, self._index = self._ibuf[: n + 1], self._ibuf[n + 1 :]

    _VIEWS = (
        "_w",
        "_e",
        "_work",
        "_signals",
        "_log_prior",
        "_log_prior_rows",
        "_prior_rows",
        "_live",
        "_index",
    )

    def __getstate__(self) -> dict:
        # copies and pickles carry the buffers only; the views are rebuilt on them (a deep copy of a
        # view would silently detach it from the buffer the update writes to)
        return {k: v for k, v in self.__dict__.items() if k not in self._VIEWS}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._views()

    @property
    def needs_behaviour_prob(self) -> bool:
        """Whether :meth:`update` needs ``behaviour_prob`` (Retrace traces)."""
        return self.trace == "retrace"

    @property
    def traces(self) -> NDArray:
        """Eligibility traces, same shape as :attr:`q`; a copy."""
        return self._e.copy()

    def reset_traces(self) -> None:
        """Clear the eligibility traces (done automatically after a terminal step)."""
        self._e[:] = 0.0
        self._live[0] = 0

    def update(
        self,
        state: int | ArrayLike,
        action: int,
        reward: float,
        next_state: int | ArrayLike | None,
        terminated: bool,
        behaviour_prob: float | None = None,
    ) -> float:
        """Learn from one transition; return its soft TD error ``delta``.

        ``behaviour_prob`` is ``b(a|s)``, required by ``trace="retrace"``. ``next_state`` is ignored (may
        be ``None``) when ``terminated``. The step's model-dopamine signals are in :attr:`last_step`.
        """
        needed = 'trace="retrace"' if self.trace == "retrace" else None
        if not self.linear:
            s, a, r, ns, b = self._tabular_transition(
                state, action, reward, next_state, terminated, behaviour_prob, needed
            )
            per_state = self._per_state_prior
            delta = kernel.tabular_learner_step(
                self._fbuf,
                self._ibuf,
                s,
                a,
                r,
                ns,
                1 if terminated else 0,
                self._alpha,
                self._tau,
                self._gamma,
                self._lam,
                self._prior_row + s if per_state else self._prior_row,
                self._prior_row + ns if per_state else self._prior_row,
                self._trace_code,
                self._replacing,
                b,
            )
            if self._learned_prior:
                self._action_pe = kernel.prior_update(
                    self._prior_rows[s], self._log_prior_rows[s], a, self._prior_rate
                )
            else:  # inline: the hot path of simulation and replay
                self._action_pe = 1.0 - self._prior_list[s if per_state else 0][a]
            self._has_step = True
            return delta
        if self._per_state_prior or self._learned_prior:
            # a default policy per state (given or learned): the general call, with this state's
            # and the next state's log pi0 rows
            idx, val, row, a, r, nidx, nval, nrow, b = self._transition(
                state, action, reward, next_state, terminated, behaviour_prob, needed
            )
            _, delta = kernel.soft_q_step(
                self._w,
                self._e,
                self._live,
                idx,
                val,
                0,
                len(idx),
                a,
                r,
                nidx,
                nval,
                0,
                len(nidx),
                bool(terminated),
                self._alpha,
                self._tau,
                self._gamma,
                self._lam,
                self._log_prior_rows[row],
                self._log_prior_rows[nrow],
                self._trace_code,
                self._replacing,
                b,
                self._work,
                None,
                self._signals,
                None,
                None,
                None,
                None,
            )
            self._learn_prior(row, a)
            self._has_step = True
            return delta
        # one default policy for every state (the usual case): one packed call (kernel.linear_learner_step) that also extracts the active features
        # and checks them for non-finite values before anything is updated
        x = self._feature_vector(state, "state")
        a = self._check_action(action)
        r = self._check_reward(reward)
        b = self._check_behaviour(behaviour_prob, needed)
        nx = x if terminated else self._feature_vector(next_state, "next_state")
        if not self._allowed[0][a]:
            raise ValueError(f"action {a} has zero probability under the default policy in this state")
        delta, bad = kernel.linear_learner_step(
            self._fbuf,
            self._ibuf,
            x,
            nx,
            a,
            r,
            1 if terminated else 0,
            self._alpha,
            self._tau,
            self._gamma,
            self._lam,
            self._trace_code,
            self._replacing,
            b,
        )
        if bad:
            raise ValueError(f"{'state' if bad == 1 else 'next_state'} has non-finite features")
        self._learn_prior(0, a)
        self._has_step = True
        return delta

    def _feature_vector(self, state: ArrayLike, name: str) -> NDArray:
        """A linear state as a contiguous float64 vector of length ``n_states`` (finiteness is checked
        by :func:`dopasoft.kernel.linear_learner_step`)."""
        x = np.ascontiguousarray(state, dtype=float)
        if x.shape != (self.n_states,):
            raise ValueError(
                f"{name} must be a feature vector of length {self.n_states}, got shape {x.shape}"
            )
        return x


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
            g = soft_tree_backup_return(rewards, v_mid, pi_mid, q_mid, v_last, self._gamma)
            return g - q0[first.action]
        kl_mid = np.array([(pi @ q - v) / self._tau for v, pi, q in stats])
        g = soft_n_step_return(rewards, kl_mid, v_last, self._gamma, self._tau)
        weight = 1.0
        if self.correction == "importance":
            pi_mid = np.array([pi[p.action] for (_, pi, _), p in zip(stats, steps[1:], strict=True)])
            weight = importance_weight(pi_mid, np.array([p.behaviour_prob for p in steps[1:]]))
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
