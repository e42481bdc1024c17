r"""The Daw et al. (2011) hybrid: exactly hBayesDM's ``ts_par7`` / ``ts_par6`` / ``ts_par4`` (Ahn et al. 2017).

Model-free values ``Q_MF`` (stage-1 pair ``(0, a)``, stage-2 pairs ``(s, a)``, all 0 at start),
model-based stage-1 values from the transition probability ``p`` (0.7):

.. math:: Q_{MB}(a) = p \max_b Q_{MF}(1+a, b) + (1-p) \max_b Q_{MF}(2-a, b), \quad
          Q_{H} = w Q_{MB} + (1-w) Q_{MF}(0, \cdot)

.. math:: P(a_1 = 1) = \sigma(\beta_1 (Q_H(1) - Q_H(0)) + \pi (2 a_1^{prev} - 1)), \quad
          P(a_2 = 1) = \sigma(\beta_2 (Q_{MF}(s,1) - Q_{MF}(s,0)))

(no perseveration term on the first trial), then, in this order,

.. math:: Q_{MF}(0,a_1) \mathrel{+}= \alpha_1 (Q_{MF}(s,a_2) - Q_{MF}(0,a_1)), \quad
          Q_{MF}(s,a_2) \mathrel{+}= \alpha_2 (r - Q_{MF}(s,a_2)), \quad
          Q_{MF}(0,a_1) \mathrel{+}= \lambda \alpha_1 (r - Q_{MF}(s,a_2))

where the last error uses the *already updated* second-stage value, as in the Stan code.
``ts_par6`` is ``λ = 1``; ``ts_par4`` is ``α1 = α2 = α``, ``β1 = β2 = β``, ``λ = 1`` (the Stan
``model`` block; its ``generated quantities`` block repeats the first update, a discrepancy we do not
copy). With a missed second-stage choice the stage-1 choice is still counted but no value is updated.
The compiled functions below serve the likelihood and the simulator alike; given tangent arrays the
likelihood's loop also carries forward-mode derivatives along the seven kernel columns, for the
gradient (``docs/maths.md``, "The Daw hybrid's gradient").

References
----------
Daw, N. D., Gershman, S. J., Seymour, B., Dayan, P. & Dolan, R. J. (2011). Model-based influences
on humans' choices and striatal prediction errors. Neuron 69, 1204–1215.
Ahn, W.-Y., Haines, N. & Zhang, L. (2017). Revealing neurocomputational mechanisms of reinforcement
learning and decision-making with the hBayesDM package. Computational Psychiatry 1, 24–57.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from dopasoft.fitting.models.base import INF, ChoiceModel, GradientBlock, ModelFamily, Option, Parameter
from dopasoft.fitting.threads import run_blocks

__all__ = ["HybridModel", "FAMILY", "PARAMETERS"]


HY_A1, HY_B1, HY_A2, HY_B2, HY_PI, HY_W, HY_LAM = range(7)
HY_COLUMNS = ("alpha1", "beta1", "alpha2", "beta2", "pers", "w", "lam")
HY_N = len(HY_COLUMNS)


@njit(cache=True)
def _check_full(full, n_rows):
    """Refuse a parameter matrix that is not ``(n_rows, 7)`` (the loops index it unchecked)."""
    if full.shape[1] != HY_N:
        raise ValueError("full must have one column per HY_COLUMNS entry (7)")
    if full.shape[0] != n_rows:
        raise ValueError("full must have one row per (subject, parameter vector) pair")


@njit(cache=True)
def _log_sigmoid(x):
    if x >= 0:
        return -math.log1p(math.exp(-x))
    return x - math.log1p(math.exp(x))


@njit(cache=True)
def hybrid_stage1_logit(q, p, prev, p_common):
    """Log-odds of choosing first-stage option 1 (ts_par7)."""
    m1 = max(q[1, 0], q[1, 1])
    m2 = max(q[2, 0], q[2, 1])
    mb0 = p_common * m1 + (1.0 - p_common) * m2
    mb1 = (1.0 - p_common) * m1 + p_common * m2
    w = p[HY_W]
    h0 = w * mb0 + (1.0 - w) * q[0, 0]
    h1 = w * mb1 + (1.0 - w) * q[0, 1]
    x = p[HY_B1] * (h1 - h0)
    if prev >= 0:
        x += p[HY_PI] * (2 * prev - 1)
    return x


@njit(cache=True)
def hybrid_stage2_logit(q, p, s):
    """Log-odds of choosing option 1 in second-stage state ``s`` (1 or 2)."""
    return p[HY_B2] * (q[s, 1] - q[s, 0])


@njit(cache=True)
def hybrid_update1(q, p, a1, s, a2):
    """Stage-1 model-free update towards the chosen second-stage value."""
    q[0, a1] += p[HY_A1] * (q[s, a2] - q[0, a1])


@njit(cache=True)
def hybrid_update2(q, p, a1, s, a2, r):
    """Stage-2 update, then the λ-weighted stage-1 update with the updated stage-2 value."""
    q[s, a2] += p[HY_A2] * (r - q[s, a2])
    if a1 >= 0:
        q[0, a1] += p[HY_LAM] * p[HY_A1] * (r - q[s, a2])


@njit(cache=True)
def hybrid_stage1_logit_tangent(q, dq, p, prev, p_common, dx):
    """``dx[c]``: derivative of :func:`hybrid_stage1_logit` along kernel column ``c`` (``HY_N`` of
    them), given the derivatives ``dq`` (3, 2, ``HY_N``) of ``q``."""
    j1 = 1 if q[1, 1] > q[1, 0] else 0  # the max's argument (either one at a tie)
    j2 = 1 if q[2, 1] > q[2, 0] else 0
    w = p[HY_W]
    b1 = p[HY_B1]
    cw = b1 * w * (1.0 - 2.0 * p_common)  # d x / d (m1 - m2)
    cf = b1 * (1.0 - w)  # d x / d (Q_MF(0, 1) - Q_MF(0, 0))
    for c in range(HY_N):
        dx[c] = cw * (dq[1, j1, c] - dq[2, j2, c]) + cf * (dq[0, 1, c] - dq[0, 0, c])
    dmb = (1.0 - 2.0 * p_common) * (q[1, j1] - q[2, j2])  # Q_MB(1) - Q_MB(0)
    dmf = q[0, 1] - q[0, 0]
    dx[HY_B1] += w * dmb + (1.0 - w) * dmf
    dx[HY_W] += b1 * (dmb - dmf)
    if prev >= 0:
        dx[HY_PI] += 2 * prev - 1


@njit(cache=True)
def hybrid_stage2_logit_tangent(q, dq, p, s, dx):
    """``dx[c]``: derivative of :func:`hybrid_stage2_logit` along each kernel column."""
    b2 = p[HY_B2]
    for c in range(HY_N):
        dx[c] = b2 * (dq[s, 1, c] - dq[s, 0, c])
    dx[HY_B2] += q[s, 1] - q[s, 0]


@njit(cache=True)
def hybrid_update1_tangent(q, dq, p, a1, s, a2):
    """The derivatives ``dq`` through :func:`hybrid_update1`; call it before that update."""
    a = p[HY_A1]
    for c in range(HY_N):
        dq[0, a1, c] += a * (dq[s, a2, c] - dq[0, a1, c])
    dq[0, a1, HY_A1] += q[s, a2] - q[0, a1]


@njit(cache=True)
def hybrid_update2_tangent(q, dq, p, a1, s, a2, r):
    """The derivatives ``dq`` through :func:`hybrid_update2`; call it before that update."""
    a = p[HY_A2]
    e = r - q[s, a2]
    for c in range(HY_N):
        dq[s, a2, c] -= a * dq[s, a2, c]
    dq[s, a2, HY_A2] += e
    if a1 >= 0:
        e2 = r - (q[s, a2] + a * e)  # the error of the λ update, with the updated stage-2 value
        la = p[HY_LAM] * p[HY_A1]
        for c in range(HY_N):
            dq[0, a1, c] -= la * dq[s, a2, c]
        dq[0, a1, HY_A1] += p[HY_LAM] * e2
        dq[0, a1, HY_LAM] += p[HY_A1] * e2


# columns of the per-step signals of a replay (``out`` of :func:`_hybrid_subject_nll`)
HS_P, HS_DELTA, HS_QMF, HS_QMB, HS_QNET = range(5)
HYBRID_SIGNALS = ("p_choice", "delta", "q_mf", "q_mb", "q_net")


@njit(cache=True)
def _add_choice_grad(grad, dx, coef):
    """``grad += coef * dx``: a choice's ``-log P`` through its log-odds (``coef = d(-log P)/dx``)."""
    for c in range(HY_N):
        grad[c] += coef * dx[c]


@njit(cache=True)
def _hybrid_subject_nll(state, action, reward, next_state, is_choice, n, p, p_common, out, dq, dx, grad):
    """NLL of one subject; with ``out`` (n, 5) also the replay's per-step signals ``HYBRID_SIGNALS``
    (read before the step's updates; NaN where no choice was made). ``out=None`` compiles them away.

    ``dq, dx, grad``: ``None`` (value only; compiled without derivatives) or the forward-mode tangents
    along the ``HY_N`` kernel columns: ``dq`` (3, 2, HY_N) of ``Q_MF``, ``dx`` (HY_N,) of a choice's
    log-odds (scratch, any state), and ``grad`` (HY_N,), which receives the gradient of the NLL.
    """
    q = np.zeros((3, 2))
    if dq is not None:
        dq[:] = 0.0
        grad[:] = 0.0
    prev = -1
    a1 = -1
    nll = 0.0
    for t in range(n):
        a = action[t]
        s = state[t]
        if out is not None:
            out[t, :] = np.nan
        if s == 0:
            a1 = -1
            if a < 0:
                continue
            x = hybrid_stage1_logit(q, p, prev, p_common)
            lp = _log_sigmoid(x) if a == 1 else _log_sigmoid(-x)
            if is_choice[t]:
                nll -= lp
                if dq is not None:  # d(-lp)/dx = sigma(x) - a = ±expm1(lp), exact for tiny P too
                    hybrid_stage1_logit_tangent(q, dq, p, prev, p_common, dx)
                    _add_choice_grad(grad, dx, math.expm1(lp) if a == 1 else -math.expm1(lp))
            prev = a
            a1 = a
            ns = next_state[t]
            complete = t + 1 < n and state[t + 1] == ns and action[t + 1] >= 0
            if out is not None:
                m1 = max(q[1, 0], q[1, 1])
                m2 = max(q[2, 0], q[2, 1])
                mb = (
                    p_common * m1 + (1.0 - p_common) * m2 if a == 0 else (1.0 - p_common) * m1 + p_common * m2
                )
                out[t, HS_P] = math.exp(lp)
                out[t, HS_QMF] = q[0, a]
                out[t, HS_QMB] = mb
                out[t, HS_QNET] = p[HY_W] * mb + (1.0 - p[HY_W]) * q[0, a]
                if complete:
                    out[t, HS_DELTA] = q[ns, action[t + 1]] - q[0, a]
            if complete:
                if dq is not None:
                    hybrid_update1_tangent(q, dq, p, a, ns, action[t + 1])
                hybrid_update1(q, p, a, ns, action[t + 1])
            else:
                a1 = -1  # second-stage choice missed: no update this trial
        else:
            if a < 0:
                continue
            x = hybrid_stage2_logit(q, p, s)
            lp = _log_sigmoid(x) if a == 1 else _log_sigmoid(-x)
            if is_choice[t]:
                nll -= lp
                if dq is not None:
                    hybrid_stage2_logit_tangent(q, dq, p, s, dx)
                    _add_choice_grad(grad, dx, math.expm1(lp) if a == 1 else -math.expm1(lp))
            if out is not None:
                out[t, HS_P] = math.exp(lp)
                out[t, HS_DELTA] = reward[t] - q[s, a]
                out[t, HS_QMF] = q[s, a]
                out[t, HS_QNET] = q[s, a]
            if dq is not None:
                hybrid_update2_tangent(q, dq, p, a1, s, a, reward[t])
            hybrid_update2(q, p, a1, s, a, reward[t])
            a1 = -1
    return nll


@njit(cache=True)
def hybrid_replay_signals(state, action, reward, next_state, is_choice, n_steps, full, p_common):
    """Per-step signals ``HYBRID_SIGNALS`` of every subject (row ``i`` of the data under ``full[i]``),
    shape (n_subjects, max_steps, 5), from the likelihood's own loop; also returns each NLL."""
    n_sub, m = state.shape
    _check_full(full, n_sub)
    out = np.full((n_sub, m, len(HYBRID_SIGNALS)), np.nan)
    nll = np.empty(n_sub)
    for i in range(n_sub):
        nll[i] = _hybrid_subject_nll(
            state[i],
            action[i],
            reward[i],
            next_state[i],
            is_choice[i],
            n_steps[i],
            full[i],
            p_common,
            out[i],
            None,
            None,
            None,
        )
    return out, nll


@njit(cache=True, nogil=True)
def _hybrid_nll_block(
    lo, hi, state, action, reward, next_state, is_choice, n_steps, subj, full, p_common, out
):
    """``out[k]`` = NLL of the hybrid model for pairs ``lo <= k < hi`` (subject row ``subj[k]``,
    parameters ``full[k]``)."""
    for k in range(lo, hi):
        i = subj[k]
        out[k] = _hybrid_subject_nll(
            state[i],
            action[i],
            reward[i],
            next_state[i],
            is_choice[i],
            n_steps[i],
            full[k],
            p_common,
            None,
            None,
            None,
            None,
        )


@njit(cache=True, nogil=True)
def _hybrid_nll_grad_block(
    lo, hi, state, action, reward, next_state, is_choice, n_steps, subj, full, p_common, out, grad
):
    """:func:`_hybrid_nll_block` carrying forward-mode tangents: also ``grad[k]``, the gradient of pair
    ``k``'s NLL with respect to the ``HY_N`` kernel columns."""
    dq = np.zeros((3, 2, HY_N))
    dx = np.zeros(HY_N)
    for k in range(lo, hi):
        i = subj[k]
        out[k] = _hybrid_subject_nll(
            state[i],
            action[i],
            reward[i],
            next_state[i],
            is_choice[i],
            n_steps[i],
            full[k],
            p_common,
            None,
            dq,
            dx,
            grad[k],
        )


def hybrid_nll_pairs(state, action, reward, next_state, is_choice, n_steps, subj, full, p_common):
    """NLL of the hybrid model for (subject, parameter vector) pairs, on the likelihood threads
    (:func:`dopasoft.fitting.threads.run_blocks`)."""
    subj = np.ascontiguousarray(subj, dtype=np.int64)
    full = np.ascontiguousarray(full, dtype=np.float64)
    _check_full(full, subj.shape[0])
    out = np.empty(subj.shape[0])
    data = (state, action, reward, next_state, is_choice, n_steps)
    run_blocks(_hybrid_nll_block, subj.shape[0], *data, subj, full, p_common, out)
    return out


def hybrid_nll_grad_pairs(state, action, reward, next_state, is_choice, n_steps, subj, full, p_common):
    """NLL of the hybrid model and its gradient with respect to the kernel columns ``HY_COLUMNS``, for
    (subject, parameter vector) pairs: the loop of :func:`hybrid_nll_pairs` carrying forward-mode
    tangents. Returns ``(nll, grad)`` of shapes ``(n_pairs,)`` and ``(n_pairs, HY_N)``."""
    subj = np.ascontiguousarray(subj, dtype=np.int64)
    full = np.ascontiguousarray(full, dtype=np.float64)
    _check_full(full, subj.shape[0])
    out = np.empty(subj.shape[0])
    grad = np.empty((subj.shape[0], HY_N))
    data = (state, action, reward, next_state, is_choice, n_steps)
    run_blocks(_hybrid_nll_grad_block, subj.shape[0], *data, subj, full, p_common, out, grad)
    return out, grad


@njit(cache=True)
def hybrid_generate_two_step(full, probs, u, p_common):
    """Simulate the hybrid model on the two-step task (same functions as the likelihood)."""
    n_sub, n_tr = probs.shape[0], probs.shape[1]
    _check_full(full, n_sub)
    c1 = np.empty((n_sub, n_tr), np.int64)
    s2 = np.empty((n_sub, n_tr), np.int64)
    c2 = np.empty((n_sub, n_tr), np.int64)
    rew = np.empty((n_sub, n_tr))
    for i in range(n_sub):
        p = full[i]
        q = np.zeros((3, 2))
        prev = -1
        for t in range(n_tr):
            x = hybrid_stage1_logit(q, p, prev, p_common)
            a1 = 1 if u[i, t, 0] < 1.0 / (1.0 + math.exp(-x)) else 0
            st = a1 if u[i, t, 1] < p_common else 1 - a1
            x = hybrid_stage2_logit(q, p, 1 + st)
            a2 = 1 if u[i, t, 2] < 1.0 / (1.0 + math.exp(-x)) else 0
            r = 1.0 if u[i, t, 3] < probs[i, t, st, a2] else 0.0
            hybrid_update1(q, p, a1, 1 + st, a2)
            hybrid_update2(q, p, a1, 1 + st, a2, r)
            prev = a1
            c1[i, t], s2[i, t], c2[i, t], rew[i, t] = a1, st, a2, r
    return c1, s2, c2, rew


# Inverse temperatures in 1/reward units: the default bounds keep beta <= 50 (the soft Q models'
# tau >= 0.02), the domain stays beta >= 0; docs/fitting.md, "Defaults for temperatures".
_UNIT = dict(domain=(0.0, 1.0))
_BETA = dict(domain=(0.0, INF), open_ends=(False, True), unit="1/reward units", kind="inverse-temperature")
PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter("alpha", 0.0, 1.0, (0.05, 0.95), "learning rate", symbol="α", **_UNIT),
        Parameter("alpha1", 0.0, 1.0, (0.05, 0.95), "learning rate, stage 1", symbol="α₁", **_UNIT),
        Parameter("alpha2", 0.0, 1.0, (0.05, 0.95), "learning rate, stage 2", symbol="α₂", **_UNIT),
        Parameter(
            "beta", 0.0, 50.0, (0.5, 10.0), "inverse temperature", symbol="β", short="inverse temp.", **_BETA
        ),
        Parameter(
            "beta1",
            0.0,
            50.0,
            (0.5, 10.0),
            "inverse temperature, stage 1",
            symbol="β₁",
            short="inverse temp., stage 1",
            **_BETA,
        ),
        Parameter(
            "beta2",
            0.0,
            50.0,
            (0.5, 10.0),
            "inverse temperature, stage 2",
            symbol="β₂",
            short="inverse temp., stage 2",
            **_BETA,
        ),
        Parameter(
            "pers",
            0.0,
            5.0,
            (0.05, 2.0),
            "perseveration",
            domain=(-INF, INF),
            open_ends=(True, True),
            unit="log-odds",
        ),
        Parameter("w", 0.0, 1.0, (0.05, 0.95), "model-based weight", symbol="w", **_UNIT),
        Parameter("lam", 0.0, 1.0, (0.05, 0.95), "eligibility trace", symbol="λ", **_UNIT),
    )
}
"""Every parameter of the family, declared once (bounds, start range, domain, label, unit)."""

OPTIONS = (
    Option(
        "trans_prob", 0.7, "probability of the common transition (hBayesDM's trans_prob)", interval=(0.0, 1.0)
    ),
)

# model name -> (parameters, kernel columns HY_COLUMNS taken from them; -1: the constant 1)
_LAYOUTS = {
    "daw-hybrid": (("alpha1", "beta1", "alpha2", "beta2", "pers", "w", "lam"), (0, 1, 2, 3, 4, 5, 6)),
    "daw-hybrid-6": (("alpha1", "beta1", "alpha2", "beta2", "pers", "w"), (0, 1, 2, 3, 4, 5, -1)),
    "daw-hybrid-4": (("alpha", "beta", "pers", "w"), (0, 1, 0, 1, 2, 3, -1)),
}


@dataclass(frozen=True)
class HybridModel(ChoiceModel):
    """Daw et al. (2011) hybrid model with hBayesDM's likelihood; build with :func:`dopasoft.fitting.get_model`."""

    trans_prob: float = 0.7

    def nll_pairs(self, tr, subj, theta):  # noqa: D102 - documented on the base class
        self.check_task(tr)
        full = np.ascontiguousarray(self.full(theta))
        data = (tr.state, tr.action, tr.reward, tr.next_state, tr.is_choice, tr.n_steps)
        return hybrid_nll_pairs(*data, subj, full, float(self.trans_prob))

    def nll_grad_pairs(self, tr, subj, theta):
        """NLL and its gradient with respect to the model's parameters, by forward mode through the
        likelihood's loop (:func:`hybrid_nll_grad_pairs`), pulled back from the kernel columns."""
        self.check_task(tr)
        full = np.ascontiguousarray(self.full(theta))
        data = (tr.state, tr.action, tr.reward, tr.next_state, tr.is_choice, tr.n_steps)
        nll, gcols = hybrid_nll_grad_pairs(*data, subj, full, float(self.trans_prob))
        return nll, self.pull_back(gcols)

    def compiled_functions(self) -> tuple:  # noqa: D102 - documented on the base class
        return (_hybrid_nll_grad_block,)

    def gradient_block(self, tr):  # noqa: D102 - documented on the base class
        self.check_task(tr)
        data = tuple(
            np.ascontiguousarray(a) for a in (tr.state, tr.action, tr.reward, tr.next_state, tr.is_choice)
        )
        return GradientBlock(_hybrid_nll_grad_block, (*data, tr.n_steps), (float(self.trans_prob),), HY_N)

    def replay_signals(self, tr, theta):
        """Per-step ``p_choice``, ``delta`` (the model-free prediction error of each stage: stage 1
        ``Q_MF(s2, a2) − Q_MF(0, a1)``, stage 2 ``r − Q_MF(s2, a2)``, both before the updates;
        NaN at stage 1 when the second-stage choice was missed, since no update is made), and the
        chosen action's ``q_mf``, ``q_mb`` (stage 1 only) and ``q_net`` (the weighted value that
        enters the stage-1 choice; ``q_mf`` at stage 2). ``value_rpe`` and ``action_term`` are NaN:
        the hybrid has no soft value."""
        self.check_task(tr)
        full = np.ascontiguousarray(self.full(theta))
        data = (tr.state, tr.action, tr.reward, tr.next_state, tr.is_choice, tr.n_steps)
        out, nll = hybrid_replay_signals(*data, full, float(self.trans_prob))
        signals = {name: out[..., j] for j, name in enumerate(HYBRID_SIGNALS)}
        signals["value_rpe"] = np.full(tr.state.shape, np.nan)
        signals["action_term"] = np.full(tr.state.shape, np.nan)
        return signals, nll

    def simulate_arrays(self, theta, probs, u, p_common=None):
        """Generate two-step choices (``probs`` of shape (S, T, 2, 2))."""
        if probs.ndim != 4:
            raise ValueError(f"model {self.name!r} simulates the two-step task only")
        full = np.ascontiguousarray(self.full(theta))
        pc = self.trans_prob if p_common is None else p_common
        return hybrid_generate_two_step(full, probs, u, float(pc))


def build(name: str, options: dict[str, Any]) -> HybridModel:
    """The hybrid model ``name`` with ``options`` (every option of :data:`OPTIONS`, checked)."""
    names, source = _LAYOUTS[name]
    return HybridModel(
        name=name,
        params=tuple(PARAMETERS[n] for n in names),
        source=source,
        constant=(0.0,) * 6 + (1.0,),
        options=dict(options),
        family=FAMILY,
        trans_prob=float(options["trans_prob"]),
    )


FAMILY = ModelFamily(
    title="hybrid",
    models={
        "daw-hybrid": "Daw et al. (2011) hybrid, hBayesDM ts_par7",
        "daw-hybrid-6": "the hybrid with lam = 1 (ts_par6)",
        "daw-hybrid-4": "the hybrid with one learning rate and one inverse temperature, lam = 1 (ts_par4)",
    },
    options=OPTIONS,
    build=build,
)
