"""Soft Q(λ) with eligibility traces, tabular or linear in features (docs/maths.md §4): every update is one
call of :func:`dopasoft.kernel.soft_q_step`, the step that simulation, replay and the likelihood run too."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dopasoft import kernel
from dopasoft.learners import calls
from dopasoft.learners.base import (
    TRACE_MODES,
    _Checked,
    _FeatureLearner,
    _unit_closed,
)

__all__ = ["SoftQLambda"]


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
    prior_scope : {"per-state", "marginal"}, default "per-state"
        Which default policy ``prior_rate`` learns. ``"per-state"``: one ``pi0(.|s)`` per state, learned
        from the actions taken there (a habit; with unit weight it converges onto ``pi`` and the soft
        signals vanish). ``"marginal"``: one ``pi0`` shared by all states, learned from every action
        taken, ``pi0 += alpha_pi (e_a - pi0)``, whose expected update is ``alpha_pi (pi(.|s_t) - pi0)``:
        the marginal of the policy over the visited states, policy compression (Lai & Gershman 2021).
        ``prior`` must then be one vector ``(n_actions,)``; linear agents accept any feature vector.
        See docs/maths.md §7.

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

    Policy compression: one default policy for every state, the marginal of the choices:

    >>> shared = ds.SoftQLambda(2, 2, alpha=0.5, tau=1.0, lam=0.0, prior_rate=0.5, prior_scope="marginal")
    >>> shared.update(0, 1, 0.0, None, True)
    0.0
    >>> shared.default_policy(1).tolist(), shared.prior.tolist()
    ([0.25, 0.75], [0.25, 0.75])
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
        prior_scope: str = "per-state",
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
            prior_scope=prior_scope,
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
        """Move the arrays into two buffers (:func:`dopasoft.learners.calls.pack_rows`); keep views of them.

        The tabular update passes just the buffers to :func:`dopasoft.learners.calls.tabular_learner_step`
        (numba's dispatch costs per argument); ``_w``, ``_e``, ... stay usable as before.
        """
        n, na = self.n_states, self.n_actions
        work, sig, ones, prior, total = calls.pack_rows(n, na, self._log_prior.shape[0])
        fbuf = np.zeros((total, na))
        fbuf[:n], fbuf[n:work], fbuf[prior:] = self._w, self._e, self._log_prior
        fbuf[ones:prior] = 1.0
        fbuf[sig:ones].reshape(-1)[: kernel.N_SIGNALS] = self._signals
        ibuf = np.concatenate([self._live, np.arange(n, dtype=np.int64)])
        self._fbuf, self._ibuf, self._prior_row = fbuf, ibuf, prior
        self._views()

    def _views(self) -> None:
        n, na, fbuf = self.n_states, self.n_actions, self._fbuf
        work, sig, ones, prior, _ = calls.pack_rows(n, na, fbuf.shape[0] - self._prior_row)
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
            delta = calls.tabular_learner_step(
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
                row = s if per_state else 0  # prior_scope="marginal": the one shared row
                self._action_pe = kernel.prior_update(
                    self._prior_rows[row], self._log_prior_rows[row], a, self._prior_rate
                )
            else:  # inline: the hot path of simulation and replay
                self._action_pe = 1.0 - self._prior_list[s if per_state else 0][a]
            self._has_step = True
            return delta
        if self._per_state_prior or (self._learned_prior and not self._marginal):
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
        # one default policy for every state (the usual case): one packed call (calls.linear_learner_step) that also extracts the active features
        # and checks them for non-finite values before anything is updated
        x = self._feature_vector(state, "state")
        a = self._check_action(action)
        r = self._check_reward(reward)
        b = self._check_behaviour(behaviour_prob, needed)
        nx = x if terminated else self._feature_vector(next_state, "next_state")
        if not self._allowed[0][a]:
            raise ValueError(f"action {a} has zero probability under the default policy in this state")
        delta, bad = calls.linear_learner_step(
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
        by :func:`dopasoft.learners.calls.linear_learner_step`)."""
        x = np.ascontiguousarray(state, dtype=float)
        if x.shape != (self.n_states,):
            raise ValueError(
                f"{name} must be a feature vector of length {self.n_states}, got shape {x.shape}"
            )
        return x
