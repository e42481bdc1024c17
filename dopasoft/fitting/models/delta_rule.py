r"""hBayesDM's delta-rule models of two-armed tasks: ``prl_fictitious``, ``prl_rp``, ``bandit2arm_delta``.

Two expected values ``ev`` (0 at the start), options 0 and 1 (hBayesDM's ``choice`` − 1), outcome ``r``:

.. math:: P(a = 0) = \sigma\big(\beta\,(ev_0 - ev_1 - \alpha)\big), \qquad
          ev_a \mathrel{+}= \eta\,(r - ev_a)

and, in ``prl_fictitious`` only, the option not chosen learns from the opposite outcome,
:math:`ev_{1-a} \mathrel{+}= \eta\,(-r - ev_{1-a})`. The rate is

* ``prl_fictitious`` (Gläscher et al. 2009): ``η = eta``, with the indecision point ``alpha``, ``β = beta``;
* ``prl_rp`` (den Ouden et al. 2013): ``η = Arew`` if ``r > 0``, else ``Apun`` (an outcome of 0 uses
  ``Apun``, as in the Stan code), ``α = 0``, ``β = beta``;
* ``bandit2arm_delta`` (Erev et al. 2010): ``η = A``, ``α = 0``, ``β = tau`` — an *inverse*
  temperature, whatever its name.

This is exactly the ``model`` block of each hBayesDM Stan file, written as one compiled loop whose
kernel columns (``DR_COLUMNS``: rate after ``r > 0``, rate otherwise, ``β``, ``α``) the three models fill
(``fictitious`` is a switch of the loop). A trial without a choice is skipped. The same loop gives the
likelihood, its forward-mode gradient, the replay signals; the generator uses its update.

References
----------
Gläscher, J., Hampton, A. N. & O'Doherty, J. P. (2009). Determining a role for ventromedial prefrontal
cortex in encoding action-based value signals during reward-related decision making. Cereb. Cortex 19,
483–495.
den Ouden, H. E. M. et al. (2013). Dissociable effects of dopamine and serotonin on reversal learning.
Neuron 80, 1090–1100.
Erev, I. et al. (2010). A choice prediction competition: choices from experience and from description.
J. Behav. Decis. Making 23, 15–47.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numba import njit

from dopasoft.fitting.models.base import INF, ChoiceModel, GradientBlock, ModelFamily, Parameter
from dopasoft.fitting.threads import run_blocks

__all__ = ["DeltaRuleModel", "FAMILY", "PARAMETERS"]

DR_RPOS, DR_RNEG, DR_BETA, DR_ALPHA = range(4)
DR_COLUMNS = ("rate_reward", "rate_other", "beta", "alpha")
DR_N = len(DR_COLUMNS)

DS_P, DS_DELTA, DS_EVC, DS_EVNC, DS_PENC = range(5)
DR_SIGNALS = ("p_choice", "delta", "ev_chosen", "ev_unchosen", "delta_unchosen")


@njit(cache=True)
def dr_logit(ev, p):
    """Log-odds of option 0: ``β (ev0 − ev1 − α)``."""
    return p[DR_BETA] * (ev[0] - ev[1] - p[DR_ALPHA])


@njit(cache=True)
def dr_learn(ev, p, a, r, fictitious):
    """The trial's update of the chosen value (and, if ``fictitious``, of the other towards ``−r``)."""
    rate = p[DR_RPOS] if r > 0 else p[DR_RNEG]
    other = 1 - a
    pe_other = -r - ev[other]
    ev[a] += rate * (r - ev[a])
    if fictitious:
        ev[other] += rate * pe_other


@njit(cache=True)
def _dr_subject_nll(action, reward, n, p, fictitious, out, dev, grad):
    """NLL of one subject; ``out`` (n, 5): per-trial signals ``DR_SIGNALS`` or ``None``; ``dev``
    (2, DR_N) and ``grad`` (DR_N,): tangents of ``ev`` and the NLL's gradient, or ``None``."""
    ev = np.zeros(2)
    if dev is not None:
        dev[:] = 0.0
        grad[:] = 0.0
    nll = 0.0
    for t in range(n):
        a = action[t]
        if out is not None:
            out[t, :] = np.nan
        if a < 0:
            continue
        r = reward[t]
        x = dr_logit(ev, p)
        # log sigma(y) of the chosen option's log-odds y and 1 - sigma(y), from one exp and one log
        # (log(1 / (1 + e)) is within about 1e-16 of -log1p(e), and glibc's log1p is slow)
        y = x if a == 0 else -x
        e = math.exp(-abs(y))
        inv = 1.0 / (1.0 + e)
        if y >= 0.0:
            lp = math.log(inv)
            q = e * inv
        else:
            lp = y + math.log(inv)
            q = inv
        nll -= lp
        rate_col = DR_RPOS if r > 0 else DR_RNEG
        rate = p[rate_col]
        other = 1 - a
        if dev is not None:
            coef = -q if a == 0 else q  # d(-lp)/dx
            beta = p[DR_BETA]
            for c in range(DR_N):
                grad[c] += coef * beta * (dev[0, c] - dev[1, c])
            grad[DR_BETA] += coef * (ev[0] - ev[1] - p[DR_ALPHA])
            grad[DR_ALPHA] -= coef * beta
            for c in range(DR_N):
                dev[a, c] -= rate * dev[a, c]
            dev[a, rate_col] += r - ev[a]
            if fictitious:
                for c in range(DR_N):
                    dev[other, c] -= rate * dev[other, c]
                dev[other, rate_col] += -r - ev[other]
        if out is not None:
            out[t, DS_P] = math.exp(lp)
            out[t, DS_DELTA] = r - ev[a]
            out[t, DS_EVC] = ev[a]
            out[t, DS_EVNC] = ev[other]
            if fictitious:
                out[t, DS_PENC] = -r - ev[other]
        dr_learn(ev, p, a, r, fictitious)
    return nll


@njit(cache=True)
def _check_full(full, n_rows):
    if full.shape[1] != DR_N:
        raise ValueError("full must have one column per DR_COLUMNS entry (4)")
    if full.shape[0] != n_rows:
        raise ValueError("full must have one row per (subject, parameter vector) pair")


@njit(cache=True, nogil=True)
def _dr_nll_block(lo, hi, action, reward, n_steps, subj, full, fictitious, out):
    """``out[k]`` = NLL of pair ``k`` (subject row ``subj[k]``, parameters ``full[k]``), ``lo <= k < hi``."""
    for k in range(lo, hi):
        i = subj[k]
        out[k] = _dr_subject_nll(action[i], reward[i], n_steps[i], full[k], fictitious, None, None, None)


@njit(cache=True, nogil=True)
def _dr_nll_grad_block(lo, hi, action, reward, n_steps, subj, full, fictitious, out, grad):
    """:func:`_dr_nll_block` with forward-mode tangents: also ``grad[k]`` along ``DR_COLUMNS``."""
    dev = np.zeros((2, DR_N))
    for k in range(lo, hi):
        i = subj[k]
        out[k] = _dr_subject_nll(action[i], reward[i], n_steps[i], full[k], fictitious, None, dev, grad[k])


@njit(cache=True)
def dr_replay_signals(action, reward, n_steps, full, fictitious):
    """Per-trial signals ``DR_SIGNALS`` (n_subjects, max_steps, 5) from the likelihood's loop, and NLLs."""
    n_sub, m = action.shape
    _check_full(full, n_sub)
    out = np.full((n_sub, m, len(DR_SIGNALS)), np.nan)
    nll = np.empty(n_sub)
    for i in range(n_sub):
        nll[i] = _dr_subject_nll(action[i], reward[i], n_steps[i], full[i], fictitious, out[i], None, None)
    return out, nll


@njit(cache=True)
def dr_generate(full, probs, u, fictitious, win, lose):
    """Simulate a two-armed task with reward probabilities ``probs`` (S, T, 2); outcome ``win`` with
    that probability, else ``lose``; ``u`` (S, T, 2) uniforms (choice, outcome)."""
    n_sub, n_tr = probs.shape[0], probs.shape[1]
    _check_full(full, n_sub)
    choice = np.empty((n_sub, n_tr), np.int64)
    reward = np.empty((n_sub, n_tr))
    for i in range(n_sub):
        p = full[i]
        ev = np.zeros(2)
        for t in range(n_tr):
            x = dr_logit(ev, p)
            a = 0 if u[i, t, 0] < 1.0 / (1.0 + math.exp(-x)) else 1
            r = win if u[i, t, 1] < probs[i, t, a] else lose
            dr_learn(ev, p, a, r, fictitious)
            choice[i, t] = a
            reward[i, t] = r
    return choice, reward


_UNIT = dict(domain=(0.0, 1.0))
_INV = dict(domain=(0.0, INF), open_ends=(False, True), unit="1/outcome units", kind="inverse-temperature")
PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter("eta", 0.0, 1.0, (0.05, 0.95), "learning rate", symbol="η", **_UNIT),
        Parameter(
            "alpha",
            -5.0,
            5.0,
            (-0.5, 0.5),
            "indecision point",
            symbol="α",
            unit="outcome units",
            short="indecision point",
        ),
        Parameter(
            "beta", 0.0, 10.0, (0.5, 5.0), "inverse temperature", symbol="β", short="inverse temp.", **_INV
        ),
        Parameter("Apun", 0.0, 1.0, (0.05, 0.95), "learning rate, punishment", symbol="A_pun", **_UNIT),
        Parameter("Arew", 0.0, 1.0, (0.05, 0.95), "learning rate, reward", symbol="A_rew", **_UNIT),
        Parameter("A", 0.0, 1.0, (0.05, 0.95), "learning rate", symbol="A", **_UNIT),
        Parameter(
            "tau", 0.0, 5.0, (0.5, 4.0), "inverse temperature", symbol="τ", short="inverse temp.", **_INV
        ),
    )
}
"""The family's parameters under hBayesDM's names, bounded as hBayesDM bounds them (``beta`` ≤ 10,
``tau`` ≤ 5, rates in [0, 1]); ``alpha`` is unbounded there, ±5 outcome units here by default."""

# model name -> (parameters, kernel columns DR_COLUMNS taken from them, fictitious)
_LAYOUTS = {
    "prl_fictitious": (("eta", "alpha", "beta"), (0, 0, 2, 1), True),
    "prl_rp": (("Apun", "Arew", "beta"), (1, 0, 2, -1), False),
    "bandit2arm_delta": (("A", "tau"), (0, 0, 1, -1), False),
}


@dataclass(frozen=True)
class DeltaRuleModel(ChoiceModel):
    """hBayesDM's delta-rule models of two-armed tasks; build with :func:`dopasoft.fitting.get_model`
    (``"prl_fictitious"``, ``"prl_rp"``, ``"bandit2arm_delta"``).

    Examples
    --------
    >>> import dopasoft as ds
    >>> m = ds.fitting.get_model("prl_rp")
    >>> m.param_names, m.parameter("beta").upper
    (('Apun', 'Arew', 'beta'), 10.0)
    >>> data = ds.fitting.simulate_choices(m, {"Apun": 0.2, "Arew": 0.4, "beta": 3.0}, n_subjects=1, n_trials=30)
    >>> sorted(data["reward"].unique().tolist())
    [-1.0, 1.0]
    """

    fictitious: bool = False
    simulation_tasks: ClassVar[tuple[str, ...]] = ("bandit",)

    def check_task(self, tr) -> None:  # noqa: D102 - documented on the base class
        super().check_task(tr)
        if tr.n_actions != 2 or tr.n_states != 1:
            raise ValueError(
                f"model {self.name!r} needs a two-armed task without states (1 state, 2 options), "
                f"got {tr.n_states} state(s) and {tr.n_actions} options"
            )
        if tr.task == "steps" and (tr.next_state >= 0).any():
            raise ValueError(f"model {self.name!r} needs one step per trial (every row terminal)")

    def nll_pairs(self, tr, subj, theta):  # noqa: D102 - documented on the base class
        self.check_task(tr)
        subj = np.ascontiguousarray(subj, dtype=np.int64)
        full = np.ascontiguousarray(self.full(theta))
        _check_full(full, subj.shape[0])
        out = np.empty(subj.shape[0])
        data = (tr.action, tr.reward, tr.n_steps)
        run_blocks(_dr_nll_block, subj.shape[0], *data, subj, full, self.fictitious, out)
        return out

    def nll_grad_pairs(self, tr, subj, theta):
        """NLL and its gradient with respect to the model's parameters, by forward mode through the
        likelihood's loop, pulled back from the kernel columns ``DR_COLUMNS``."""
        self.check_task(tr)
        subj = np.ascontiguousarray(subj, dtype=np.int64)
        full = np.ascontiguousarray(self.full(theta))
        _check_full(full, subj.shape[0])
        out = np.empty(subj.shape[0])
        grad = np.empty((subj.shape[0], DR_N))
        data = (tr.action, tr.reward, tr.n_steps)
        run_blocks(_dr_nll_grad_block, subj.shape[0], *data, subj, full, self.fictitious, out, grad)
        return out, self.pull_back(grad)

    def compiled_functions(self) -> tuple:  # noqa: D102 - documented on the base class
        return (_dr_nll_grad_block,)

    def gradient_block(self, tr):  # noqa: D102 - documented on the base class
        self.check_task(tr)
        return GradientBlock(_dr_nll_grad_block, (tr.action, tr.reward, tr.n_steps), (self.fictitious,), DR_N)

    def replay_signals(self, tr, theta):
        """Per-trial ``p_choice``, ``delta`` (``r − ev_a``, the chosen option's prediction error),
        hBayesDM's regressors ``ev_chosen``, ``ev_unchosen`` and, for ``prl_fictitious``,
        ``delta_unchosen`` (``−r − ev_{1−a}``), all before the trial's update; ``value_rpe`` and
        ``action_term`` are NaN (no state value)."""
        self.check_task(tr)
        full = np.ascontiguousarray(self.full(theta))
        out, nll = dr_replay_signals(tr.action, tr.reward, tr.n_steps, full, self.fictitious)
        signals = {name: out[..., j] for j, name in enumerate(DR_SIGNALS)}
        if not self.fictitious:
            del signals["delta_unchosen"]
        signals["value_rpe"] = np.full(tr.state.shape, np.nan)
        signals["action_term"] = np.full(tr.state.shape, np.nan)
        return signals, nll

    def simulate_arrays(self, theta, probs, u):
        """Generate choices on a two-armed task with reward probabilities ``probs`` (S, T, 2):
        outcome 1 with that probability, else ``−1`` for the reversal-learning models (hBayesDM's prl
        files code outcomes ±1) and 0 for ``bandit2arm_delta``. Returns ``(choices, outcomes)``."""
        if probs.ndim != 3 or probs.shape[2] != 2:
            raise ValueError(f"model {self.name!r} simulates two-armed tasks only (task='bandit')")
        full = np.ascontiguousarray(self.full(theta))
        lose = 0.0 if self.name == "bandit2arm_delta" else -1.0
        return dr_generate(full, probs, u, self.fictitious, 1.0, lose)


def build(name: str, options: dict[str, Any]) -> DeltaRuleModel:
    """The delta-rule model ``name`` (it has no options)."""
    names, source, fictitious = _LAYOUTS[name]
    return DeltaRuleModel(
        name=name,
        params=tuple(PARAMETERS[n] for n in names),
        source=source,
        constant=(0.0,) * DR_N,
        tasks=("bandit", "steps"),
        options=dict(options),
        family=FAMILY,
        fictitious=fictitious,
    )


FAMILY = ModelFamily(
    title="two-armed delta-rule",
    models={
        "prl_fictitious": "hBayesDM prl_fictitious: fictitious update of the other option (eta, alpha, beta)",
        "prl_rp": "hBayesDM prl_rp: reward and punishment learning rates (Apun, Arew, beta)",
        "bandit2arm_delta": "hBayesDM bandit2arm_delta: delta rule (A, tau = inverse temperature)",
    },
    options=(),
    build=build,
)
