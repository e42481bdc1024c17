r"""hBayesDM's ``bandit4arm_4par`` (Seymour et al. 2012): separate reward and punishment values.

Each option ``k`` has a reward value ``Qr_k`` and a punishment value ``Qp_k`` (0 at the start); a trial
brings a gain ``g ≥ 0`` and a loss ``l ≤ 0`` (hBayesDM's ``gain`` and ``−|loss|``):

.. math:: P(a) = \operatorname{softmax}_a(Qr + Qp), \quad
          Qr_a \mathrel{+}= A_{rew} (R\,g - Qr_a), \quad Qp_a \mathrel{+}= A_{pun} (P\,l - Qp_a)

and the options not chosen decay towards 0: :math:`Qr_k \mathrel{-}= A_{rew} Qr_k`,
:math:`Qp_k \mathrel{-}= A_{pun} Qp_k` (``k ≠ a``). There is no inverse temperature: ``R`` and ``P`` scale
the outcomes. This is exactly the ``model`` block of hBayesDM's ``bandit4arm_4par.stan``, for any
number of options. Data without separate ``gain`` and ``loss`` columns are read with the reward's
positive part as the gain and its negative part as the loss. A trial without a choice is skipped.

References
----------
Seymour, B., Daw, N. D., Roiser, J. P., Dayan, P. & Dolan, R. (2012). Serotonin selectively modulates
reward value in human decision-making. J. Neurosci. 32, 5833–5842.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numba import njit

from dopasoft.fitting.models.base import ChoiceModel, GradientBlock, ModelFamily, Parameter
from dopasoft.fitting.threads import run_blocks

__all__ = ["RewardPunishmentModel", "FAMILY", "PARAMETERS"]

B4_AREW, B4_APUN, B4_R, B4_P = range(4)
B4_COLUMNS = ("Arew", "Apun", "R", "P")
B4_N = len(B4_COLUMNS)

BS_P, BS_DELTA, BS_PER, BS_PEP, BS_QR, BS_QP = range(6)
B4_SIGNALS = ("p_choice", "delta", "delta_reward", "delta_punishment", "q_reward", "q_punishment")


@njit(cache=True)
def b4_log_policy(qr, qp, a):
    """``log softmax(Qr + Qp)`` at option ``a``, and the policy into ``pi`` (returned)."""
    k = qr.shape[0]
    m = -np.inf
    for j in range(k):
        m = max(m, qr[j] + qp[j])
    z = 0.0
    pi = np.empty(k)
    for j in range(k):
        pi[j] = math.exp(qr[j] + qp[j] - m)
        z += pi[j]
    for j in range(k):
        pi[j] /= z
    return qr[a] + qp[a] - m - math.log(z), pi


@njit(cache=True)
def b4_learn(qr, qp, p, a, gain, loss):
    """The trial's update: the chosen option towards ``R g`` / ``P l``, the others decay."""
    for j in range(qr.shape[0]):
        if j == a:
            qr[j] += p[B4_AREW] * (p[B4_R] * gain - qr[j])
            qp[j] += p[B4_APUN] * (p[B4_P] * loss - qp[j])
        else:
            qr[j] -= p[B4_AREW] * qr[j]
            qp[j] -= p[B4_APUN] * qp[j]


@njit(cache=True)
def _b4_subject_nll(action, gl, n, p, n_arms, out, dq, grad):
    """NLL of one subject (``gl`` (n, 2): gain and loss of each trial); ``out`` (n, 6): signals
    ``B4_SIGNALS`` or ``None``; ``dq`` (2, n_arms, B4_N), ``grad`` (B4_N,): tangents or ``None``."""
    qr = np.zeros(n_arms)
    qp = np.zeros(n_arms)
    if dq is not None:
        dq[:] = 0.0
        grad[:] = 0.0
    nll = 0.0
    for t in range(n):
        a = action[t]
        if out is not None:
            out[t, :] = np.nan
        if a < 0:
            continue
        gain = gl[t, 0]
        loss = gl[t, 1]
        lp, pi = b4_log_policy(qr, qp, a)
        nll -= lp
        if dq is not None:
            # d(-log pi_a) = sum_j pi_j dl_j - dl_a, l = Qr + Qp
            for c in range(B4_N):
                g = -(dq[0, a, c] + dq[1, a, c])
                for j in range(n_arms):
                    g += pi[j] * (dq[0, j, c] + dq[1, j, c])
                grad[c] += g
            ar = p[B4_AREW]
            ap = p[B4_APUN]
            for j in range(n_arms):
                for c in range(B4_N):
                    dq[0, j, c] -= ar * dq[0, j, c]
                    dq[1, j, c] -= ap * dq[1, j, c]
                if j == a:
                    dq[0, j, B4_AREW] += p[B4_R] * gain - qr[j]
                    dq[0, j, B4_R] += ar * gain
                    dq[1, j, B4_APUN] += p[B4_P] * loss - qp[j]
                    dq[1, j, B4_P] += ap * loss
                else:
                    dq[0, j, B4_AREW] -= qr[j]
                    dq[1, j, B4_APUN] -= qp[j]
        if out is not None:
            out[t, BS_P] = math.exp(lp)
            out[t, BS_PER] = p[B4_R] * gain - qr[a]
            out[t, BS_PEP] = p[B4_P] * loss - qp[a]
            out[t, BS_DELTA] = out[t, BS_PER] + out[t, BS_PEP]
            out[t, BS_QR] = qr[a]
            out[t, BS_QP] = qp[a]
        b4_learn(qr, qp, p, a, gain, loss)
    return nll


@njit(cache=True)
def _check_full(full, n_rows):
    if full.shape[1] != B4_N:
        raise ValueError("full must have one column per B4_COLUMNS entry (4)")
    if full.shape[0] != n_rows:
        raise ValueError("full must have one row per (subject, parameter vector) pair")


@njit(cache=True, nogil=True)
def _b4_nll_block(lo, hi, action, gl, n_steps, subj, full, n_arms, out):
    """``out[k]`` = NLL of pair ``k`` (subject row ``subj[k]``, parameters ``full[k]``), ``lo <= k < hi``."""
    for k in range(lo, hi):
        i = subj[k]
        out[k] = _b4_subject_nll(action[i], gl[i], n_steps[i], full[k], n_arms, None, None, None)


@njit(cache=True, nogil=True)
def _b4_nll_grad_block(lo, hi, action, gl, n_steps, subj, full, n_arms, out, grad):
    """:func:`_b4_nll_block` with forward-mode tangents: also ``grad[k]`` along ``B4_COLUMNS``."""
    dq = np.zeros((2, n_arms, B4_N))
    for k in range(lo, hi):
        i = subj[k]
        out[k] = _b4_subject_nll(action[i], gl[i], n_steps[i], full[k], n_arms, None, dq, grad[k])


@njit(cache=True)
def b4_replay_signals(action, gl, n_steps, full, n_arms):
    """Per-trial signals ``B4_SIGNALS`` (n_subjects, max_steps, 6) from the likelihood's loop, and NLLs."""
    n_sub, m = action.shape
    _check_full(full, n_sub)
    out = np.full((n_sub, m, len(B4_SIGNALS)), np.nan)
    nll = np.empty(n_sub)
    for i in range(n_sub):
        nll[i] = _b4_subject_nll(action[i], gl[i], n_steps[i], full[i], n_arms, out[i], None, None)
    return out, nll


@njit(cache=True)
def b4_generate(full, outcome_if, u):
    """Simulate choices: ``outcome_if`` (S, T, K, 2) the gain and loss each option would bring on each
    trial, ``u`` (S, T) uniforms. Returns (choices, gains, losses)."""
    n_sub, n_tr, k = outcome_if.shape[0], outcome_if.shape[1], outcome_if.shape[2]
    _check_full(full, n_sub)
    choice = np.empty((n_sub, n_tr), np.int64)
    gain = np.empty((n_sub, n_tr))
    loss = np.empty((n_sub, n_tr))
    for i in range(n_sub):
        p = full[i]
        qr = np.zeros(k)
        qp = np.zeros(k)
        for t in range(n_tr):
            _, pi = b4_log_policy(qr, qp, np.int64(0))
            a = k - 1
            acc = 0.0
            for j in range(k):
                acc += pi[j]
                if u[i, t] < acc:
                    a = j
                    break
            g = outcome_if[i, t, a, 0]
            ll = outcome_if[i, t, a, 1]
            b4_learn(qr, qp, p, a, g, ll)
            choice[i, t], gain[i, t], loss[i, t] = a, g, ll
    return choice, gain, loss


def gain_loss_of(tr) -> np.ndarray:
    """Each step's (gain, loss): the data's own columns, else the reward's positive and negative parts."""
    if tr.gain_loss is not None:
        return np.ascontiguousarray(tr.gain_loss)
    r = tr.reward
    return np.ascontiguousarray(np.stack([np.maximum(r, 0.0), np.minimum(r, 0.0)], axis=-1))


_UNIT = dict(domain=(0.0, 1.0))
# R and P scale the values the softmax sees (there is no temperature): kind inverse temperature, so that
# fit's weak default prior keeps a near-deterministic subject's R, P off their bound
_SENS = dict(
    domain=(0.0, float("inf")), open_ends=(False, True), unit="1/outcome units", kind="inverse-temperature"
)
PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter("Arew", 0.0, 1.0, (0.05, 0.95), "learning rate, reward", symbol="A_rew", **_UNIT),
        Parameter("Apun", 0.0, 1.0, (0.05, 0.95), "learning rate, punishment", symbol="A_pun", **_UNIT),
        Parameter("R", 0.0, 30.0, (0.5, 10.0), "reward sensitivity", symbol="R", **_SENS),
        Parameter("P", 0.0, 30.0, (0.5, 10.0), "punishment sensitivity", symbol="P", **_SENS),
    )
}
"""The parameters under hBayesDM's names and bounds (``R``, ``P`` ≤ 30, as its Stan file)."""


@dataclass(frozen=True)
class RewardPunishmentModel(ChoiceModel):
    """hBayesDM's ``bandit4arm_4par``; build with :func:`dopasoft.fitting.get_model`.

    Examples
    --------
    >>> import dopasoft as ds
    >>> par = {"Arew": 0.3, "Apun": 0.2, "R": 5.0, "P": 4.0}
    >>> data = ds.fitting.simulate_choices("bandit4arm_4par", par, n_subjects=1, n_trials=30, seed=0)
    >>> list(data.columns[:6])
    ['subject', 'trial', 'choice', 'reward', 'gain', 'loss']
    >>> sig = ds.fitting.replay(data, "bandit4arm_4par", par)
    >>> bool((sig["delta"] == sig["delta_reward"] + sig["delta_punishment"]).all())
    True
    """

    simulation_tasks: ClassVar[tuple[str, ...]] = ("bandit4arm",)

    def check_task(self, tr) -> None:  # noqa: D102 - documented on the base class
        super().check_task(tr)
        if tr.n_states != 1:
            raise ValueError(f"model {self.name!r} needs a bandit without states, got {tr.n_states} states")
        if tr.task == "steps" and (tr.next_state >= 0).any():
            raise ValueError(f"model {self.name!r} needs one step per trial (every row terminal)")

    def nll_pairs(self, tr, subj, theta):  # noqa: D102 - documented on the base class
        self.check_task(tr)
        subj = np.ascontiguousarray(subj, dtype=np.int64)
        full = np.ascontiguousarray(self.full(theta))
        _check_full(full, subj.shape[0])
        out = np.empty(subj.shape[0])
        data = (tr.action, gain_loss_of(tr), tr.n_steps)
        run_blocks(_b4_nll_block, subj.shape[0], *data, subj, full, np.int64(tr.n_actions), out)
        return out

    def nll_grad_pairs(self, tr, subj, theta):
        """NLL and its gradient with respect to the model's parameters, by forward mode through the
        likelihood's loop."""
        self.check_task(tr)
        subj = np.ascontiguousarray(subj, dtype=np.int64)
        full = np.ascontiguousarray(self.full(theta))
        _check_full(full, subj.shape[0])
        out = np.empty(subj.shape[0])
        grad = np.empty((subj.shape[0], B4_N))
        data = (tr.action, gain_loss_of(tr), tr.n_steps)
        run_blocks(_b4_nll_grad_block, subj.shape[0], *data, subj, full, np.int64(tr.n_actions), out, grad)
        return out, self.pull_back(grad)

    def compiled_functions(self) -> tuple:  # noqa: D102 - documented on the base class
        return (_b4_nll_grad_block,)

    def gradient_block(self, tr):  # noqa: D102 - documented on the base class
        self.check_task(tr)
        data = (tr.action, gain_loss_of(tr), tr.n_steps)
        return GradientBlock(_b4_nll_grad_block, data, (np.int64(tr.n_actions),), B4_N)

    def replay_signals(self, tr, theta):
        """Per-trial ``p_choice``, ``delta_reward`` (``R g − Qr_a``), ``delta_punishment``
        (``P l − Qp_a``), their sum ``delta``, and the chosen option's ``q_reward`` and
        ``q_punishment``, all before the trial's update; ``value_rpe`` and ``action_term`` are NaN."""
        self.check_task(tr)
        full = np.ascontiguousarray(self.full(theta))
        out, nll = b4_replay_signals(tr.action, gain_loss_of(tr), tr.n_steps, full, np.int64(tr.n_actions))
        signals = {name: out[..., j] for j, name in enumerate(B4_SIGNALS)}
        signals["value_rpe"] = np.full(tr.state.shape, np.nan)
        signals["action_term"] = np.full(tr.state.shape, np.nan)
        return signals, nll

    def simulate_arrays(self, theta, probs, u):
        """Generate choices: ``probs`` (S, T, K, 2) the gain and loss each option would bring on each
        trial, ``u`` (S, T) uniforms. Returns ``(choices, gains, losses)``."""
        if probs.ndim != 4 or probs.shape[3] != 2:
            raise ValueError(f"model {self.name!r} simulates the four-armed bandit only (task='bandit4arm')")
        full = np.ascontiguousarray(self.full(theta))
        return b4_generate(full, np.ascontiguousarray(probs, np.float64), np.ascontiguousarray(u))


def build(name: str, options: dict[str, Any]) -> RewardPunishmentModel:
    """``bandit4arm_4par`` (it has no options)."""
    return RewardPunishmentModel(
        name=name,
        params=tuple(PARAMETERS[n] for n in B4_COLUMNS),
        source=(0, 1, 2, 3),
        constant=(0.0,) * B4_N,
        tasks=("bandit", "steps"),
        options=dict(options),
        family=FAMILY,
    )


FAMILY = ModelFamily(
    title="reward-punishment bandit",
    models={"bandit4arm_4par": "hBayesDM bandit4arm_4par: reward and punishment values (Arew, Apun, R, P)"},
    options=(),
    build=build,
)
