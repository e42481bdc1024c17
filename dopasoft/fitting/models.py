r"""Choice models: each defined once, by compiled per-step functions shared by likelihood and simulation.

Soft Q(λ) family (docs/fitting.md §1–2)
--------------------------
Learning is the one Soft Q(λ) step :func:`dopasoft.kernel.soft_q_step` on a tabular ``Q``
(uniform default policy, ``Q ≡ 0`` at the start, ``γ = 1`` by default), applied to the data's steps
by :mod:`dopasoft.fitting.softq` (the optimiser's gradient is the same step carrying forward-mode
tangents); the probability of each observed choice is the Boltzmann policy at temperature ``τ``
before the step's update,

.. math:: P(a|s) = \frac{\exp(Q(s,a)/\tau + \kappa [a = a^{prev}_s])}
                        {\sum_b \exp(Q(s,b)/\tau + \kappa [b = a^{prev}_s])},

with the stickiness ``κ`` (optional) on the previous choice in first-stage states only; it enters
behaviour, never the learning target. On the two-step task this is docs/fitting.md §1–2 steps 1–4: stage 1
(``δ1 = γV(s2) − Q(0,a1)``), then stage 2 whose error ``δ2`` reaches the first-stage pair through the
trace, weighted by ``π(a2|s2)`` (tree-backup), 1 (uncorrected) or replaced by
``r − Σ_b π(b|s2)Q(s2,b)`` (on-policy). Options: separate learning rates / temperatures per stage
(``alpha1, alpha2`` / ``tau1, tau2``; each step uses its own stage's values, for its policy, ``V(s')``
and trace), ``kappa``.

Daw et al. (2011) hybrid, exactly hBayesDM's ``ts_par7`` / ``ts_par6`` / ``ts_par4`` (Ahn et al. 2017)
-----------------------------------------------------------------------------------------------------
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

References
----------
Daw, N. D., Gershman, S. J., Seymour, B., Dayan, P. & Dolan, R. J. (2011). Model-based influences
on humans' choices and striatal prediction errors. Neuron 69, 1204–1215.
Ahn, W.-Y., Haines, N. & Zhang, L. (2017). Revealing neurocomputational mechanisms of reinforcement
learning and decision-making with the hBayesDM package. Computational Psychiatry 1, 24–57.
Wilson, R. C. & Collins, A. G. E. (2019). Ten simple rules for the computational modeling of
behavioral data. eLife 8, e49547.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

from dopasoft import kernel as _k
from dopasoft.fitting.data import Transitions
from dopasoft.fitting.softq import (
    SQ_ALPHA0,
    SQ_ALPHA1,
    SQ_KAPPA,
    SQ_LAM,
    SQ_TAU0,
    SQ_TAU1,
    softq_generate_bandit,
    softq_generate_two_step,
    softq_nll_grad_pairs,
    softq_nll_pairs,
    softq_nll_pairs_serial,
)

__all__ = [
    "Parameter",
    "ChoiceModel",
    "SoftQLambdaModel",
    "HybridModel",
    "MODEL_NAMES",
    "get_model",
]

INF = math.inf
PARALLEL_MIN_PAIRS = 16  # smaller batches run single-threaded


@dataclass(frozen=True)
class Parameter:
    """A model parameter on the natural scale.

    Attributes
    ----------
    name : str
    lower, upper : float
        Default fitting bounds (what :func:`dopasoft.fitting.fit` searches unless told otherwise).
    start : (float, float)
        Range random starts are drawn from.
    description : str
    domain : (float, float)
        Values the likelihood accepts (closed unless listed in ``open_ends``); user bounds and fixed
        values must lie inside it.
    open_ends : (bool, bool)
        Whether the lower / upper end of ``domain`` is excluded (e.g. a temperature must be > 0).
    """

    name: str
    lower: float
    upper: float
    start: tuple[float, float]
    description: str = ""
    domain: tuple[float, float] = (-math.inf, math.inf)
    open_ends: tuple[bool, bool] = (False, False)

    def in_domain(self, value: float) -> bool:
        """Whether ``value`` is a finite value the likelihood accepts."""
        lo, hi = self.domain
        if not math.isfinite(value):
            return False
        above = value > lo if self.open_ends[0] else value >= lo
        below = value < hi if self.open_ends[1] else value <= hi
        return above and below

    def domain_text(self) -> str:
        """The domain in interval notation, e.g. ``(0, inf)`` or ``[0, 1]``."""
        lo, hi = self.domain
        return f"{'(' if self.open_ends[0] else '['}{lo:g}, {hi:g}{')' if self.open_ends[1] else ']'}"


# ----------------------------------------------------------------------------------------------
# Daw et al. (2011) hybrid, hBayesDM ts_par7 layout

HY_A1, HY_B1, HY_A2, HY_B2, HY_PI, HY_W, HY_LAM = range(7)
HY_COLUMNS = ("alpha1", "beta1", "alpha2", "beta2", "pers", "w", "lam")


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
def _hybrid_subject_nll(state, action, reward, next_state, is_choice, n, p, p_common):
    q = np.zeros((3, 2))
    prev = -1
    a1 = -1
    nll = 0.0
    for t in range(n):
        a = action[t]
        s = state[t]
        if s == 0:
            a1 = -1
            if a < 0:
                continue
            x = hybrid_stage1_logit(q, p, prev, p_common)
            if is_choice[t]:
                nll -= _log_sigmoid(x) if a == 1 else _log_sigmoid(-x)
            prev = a
            a1 = a
            ns = next_state[t]
            if t + 1 < n and state[t + 1] == ns and action[t + 1] >= 0:
                hybrid_update1(q, p, a, ns, action[t + 1])
            else:
                a1 = -1  # second-stage choice missed: no update this trial
        else:
            if a < 0:
                continue
            x = hybrid_stage2_logit(q, p, s)
            if is_choice[t]:
                nll -= _log_sigmoid(x) if a == 1 else _log_sigmoid(-x)
            hybrid_update2(q, p, a1, s, a, reward[t])
            a1 = -1
    return nll


@njit(parallel=True, cache=True)
def hybrid_nll_pairs(state, action, reward, next_state, is_choice, n_steps, subj, full, p_common):
    """NLL of the hybrid model for (subject, parameter vector) pairs, in parallel."""
    n_pairs = subj.shape[0]
    out = np.empty(n_pairs)
    for k in prange(n_pairs):
        i = subj[k]
        out[k] = _hybrid_subject_nll(
            state[i], action[i], reward[i], next_state[i], is_choice[i], n_steps[i], full[k], p_common
        )
    return out


@njit(cache=True)
def hybrid_nll_pairs_serial(state, action, reward, next_state, is_choice, n_steps, subj, full, p_common):
    """Single-threaded :func:`hybrid_nll_pairs`."""
    out = np.empty(subj.shape[0])
    for k in range(subj.shape[0]):
        i = subj[k]
        out[k] = _hybrid_subject_nll(
            state[i], action[i], reward[i], next_state[i], is_choice[i], n_steps[i], full[k], p_common
        )
    return out


@njit(cache=True)
def hybrid_generate_two_step(full, probs, u, p_common):
    """Simulate the hybrid model on the two-step task (same functions as the likelihood)."""
    n_sub, n_tr = probs.shape[0], probs.shape[1]
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


# ----------------------------------------------------------------------------------------------
# model objects


@dataclass(frozen=True)
class ChoiceModel(ABC):
    """A choice model: named parameters and a batched compiled likelihood.

    Subclasses map their parameters onto the columns of a compiled kernel (``columns``): column
    ``j`` takes parameter ``source[j]`` or, when ``source[j] = -1``, the constant ``constant[j]``.

    Attributes
    ----------
    name : str
    params : tuple of Parameter
    tasks : tuple of str
        Data formats the model accepts (``"two-step"``, ``"bandit"``).
    """

    name: str
    params: tuple[Parameter, ...]
    source: tuple[int, ...]
    constant: tuple[float, ...]
    tasks: tuple[str, ...] = ("two-step",)
    options: dict = field(default_factory=dict, compare=False)

    @property
    def param_names(self) -> tuple[str, ...]:
        """Parameter names, in the order of the last axis of parameter arrays."""
        return tuple(p.name for p in self.params)

    @property
    def n_params(self) -> int:
        """Number of parameters."""
        return len(self.params)

    @property
    def spec(self) -> str:
        """Name plus non-default options, e.g. ``"soft-q-lambda+kappa"`` (identifies fits on disk)."""
        defaults = {
            "kappa": False,
            "separate_alpha": False,
            "separate_tau": False,
            "gamma": 1.0,
            "trace_mode": "accumulating",
            "trans_prob": 0.7,
        }
        parts = [self.name]
        for k in sorted(self.options):
            v = self.options[k]
            if v != defaults.get(k):
                parts.append(k if v is True else f"{k}={v}")
        return "+".join(parts)

    def default_bounds(self) -> dict[str, tuple[float, float]]:
        """Bounds of each parameter on the natural scale."""
        return {p.name: (p.lower, p.upper) for p in self.params}

    def full(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """Map parameters ``(..., n_params)`` onto the kernel columns ``(..., n_columns)``."""
        theta = np.asarray(theta, dtype=float)
        src = np.asarray(self.source)
        out = np.broadcast_to(np.asarray(self.constant, float), theta.shape[:-1] + (len(src),)).copy()
        used = src >= 0
        out[..., used] = theta[..., src[used]]
        return out

    def pull_back(self, gcols: NDArray[np.float64]) -> NDArray[np.float64]:
        """Gradient with respect to the kernel columns -> with respect to the parameters."""
        out = np.zeros(gcols.shape[:-1] + (self.n_params,))
        for col, j in enumerate(self.source):
            if j >= 0:
                out[..., j] += gcols[..., col]
        return out

    nll_grad_pairs = None  # models with analytic gradients override this

    def check_task(self, tr: Transitions) -> None:
        """Raise ``ValueError`` if the model cannot be fitted to data of ``tr.task``."""
        if tr.task not in self.tasks:
            raise ValueError(f"model {self.name!r} needs {' or '.join(self.tasks)} data, got {tr.task} data")

    @abstractmethod
    def nll_pairs(
        self, tr: Transitions, subj: NDArray[np.int64], theta: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Negative log-likelihood of subjects ``subj`` (rows of ``tr``) under ``theta`` (n, n_params)."""

    def nll_batch(self, tr: Transitions, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """NLL for every subject and parameter vector: ``theta`` (n_subjects, n_vectors, n_params)
        -> (n_subjects, n_vectors), evaluated in one parallel compiled call."""
        theta = np.asarray(theta, dtype=float)
        s, v, _ = theta.shape
        subj = np.repeat(np.arange(s, dtype=np.int64), v)
        return self.nll_pairs(tr, subj, theta.reshape(s * v, -1)).reshape(s, v)

    @abstractmethod
    def simulate_arrays(self, theta, probs, u):
        """Generate choices; see :func:`dopasoft.fitting.simulate_choices`."""


@dataclass(frozen=True)
class SoftQLambdaModel(ChoiceModel):
    """Soft Q(λ) choice model (docs/fitting.md §1–2); build with :func:`get_model`."""

    trace: str = "tree-backup"
    gamma: float = 1.0
    replacing: bool = False
    tasks: tuple[str, ...] = ("two-step", "bandit", "steps")

    def __post_init__(self) -> None:
        if self.trace == "retrace":  # the kernels would need b(a|s) for every observed choice
            raise ValueError(
                "trace 'retrace' needs b(a|s), the probability with which each choice was made, which "
                "choice data do not record; use 'tree-backup', 'on-policy' or 'uncorrected'"
            )
        if self.trace not in _k.TRACE_CODES:
            raise ValueError(f"trace must be one of {sorted(_k.TRACE_CODES)}, got {self.trace!r}")

    def nll_pairs(self, tr, subj, theta):  # noqa: D102 - documented on the base class
        self.check_task(tr)
        full = np.ascontiguousarray(self.full(theta))
        fn = softq_nll_pairs if len(subj) >= PARALLEL_MIN_PAIRS else softq_nll_pairs_serial
        return fn(
            tr.state,
            tr.action,
            tr.reward,
            tr.next_state,
            tr.terminal,
            tr.is_choice,
            tr.n_steps,
            tr.state_stage,
            tr.n_states,
            tr.n_actions,
            np.ascontiguousarray(subj, np.int64),
            full,
            float(self.gamma),
            _k.TRACE_CODES[self.trace],
            bool(self.replacing),
        )

    def nll_grad_pairs(self, tr, subj, theta):
        """NLL and its gradient with respect to the model's parameters (forward mode)."""
        self.check_task(tr)
        full = np.ascontiguousarray(self.full(theta))
        nll, gcols = softq_nll_grad_pairs(
            tr.state,
            tr.action,
            tr.reward,
            tr.next_state,
            tr.terminal,
            tr.is_choice,
            tr.n_steps,
            tr.state_stage,
            tr.n_states,
            tr.n_actions,
            np.ascontiguousarray(subj, np.int64),
            full,
            float(self.gamma),
            _k.TRACE_CODES[self.trace],
            bool(self.replacing),
        )
        return nll, self.pull_back(gcols)

    def simulate_arrays(self, theta, probs, u, p_common=0.7):
        """Generate two-step (``probs`` 4-d) or bandit (``probs`` 3-d) choices."""
        full = np.ascontiguousarray(self.full(theta))
        code = _k.TRACE_CODES[self.trace]
        if probs.ndim == 4:
            return softq_generate_two_step(
                full, probs, u, p_common, float(self.gamma), code, bool(self.replacing)
            )
        return softq_generate_bandit(full, probs, u, float(self.gamma), code, bool(self.replacing))


@dataclass(frozen=True)
class HybridModel(ChoiceModel):
    """Daw et al. (2011) hybrid model with hBayesDM's likelihood; build with :func:`get_model`."""

    trans_prob: float = 0.7

    def nll_pairs(self, tr, subj, theta):  # noqa: D102
        self.check_task(tr)
        full = np.ascontiguousarray(self.full(theta))
        fn = hybrid_nll_pairs if len(subj) >= PARALLEL_MIN_PAIRS else hybrid_nll_pairs_serial
        return fn(
            tr.state,
            tr.action,
            tr.reward,
            tr.next_state,
            tr.is_choice,
            tr.n_steps,
            np.ascontiguousarray(subj, np.int64),
            full,
            float(self.trans_prob),
        )

    def simulate_arrays(self, theta, probs, u, p_common=None):
        """Generate two-step choices (``probs`` of shape (S, T, 2, 2))."""
        if probs.ndim != 4:
            raise ValueError(f"model {self.name!r} simulates the two-step task only")
        full = np.ascontiguousarray(self.full(theta))
        pc = self.trans_prob if p_common is None else p_common
        return hybrid_generate_two_step(full, probs, u, float(pc))


_TRACES = {
    "soft-q-lambda": "tree-backup",
    "soft-q-lambda-on-policy": "on-policy",
    "soft-q-lambda-uncorrected": "uncorrected",
    "soft-q": "tree-backup",
}
_HYBRIDS = {"daw-hybrid": 7, "daw-hybrid-6": 6, "daw-hybrid-4": 4}
MODEL_NAMES = tuple(_TRACES) + tuple(_HYBRIDS)

# (default lower, default upper, start range, domain, open ends of the domain)
# Temperatures are in reward units (rewards in [0, 1]): the default fitting bounds keep tau >= 0.02
# (beta <= 50), below which 200 choices cannot tell a near-deterministic subject from a greedy one,
# while the domain (what the likelihood accepts) stays tau > 0, beta >= 0. Rescale both bounds with
# the rewards (rewards in points 0-100: tau >= 2, beta <= 0.5); fit() also puts a weak default prior
# on them, tied to these bounds (parameters.default_prior). See docs/fitting.md, "Defaults for temperatures".
_UNIT = ((0.0, 1.0), (False, False))
_POSITIVE = ((0.0, INF), (True, True))
_NONNEG = ((0.0, INF), (False, True))
_REAL = ((-INF, INF), (True, True))
_ALPHA = (0.0, 1.0, (0.05, 0.95), *_UNIT)
_TAU = (0.02, INF, (0.05, 0.5), *_POSITIVE)
_LAM = (0.0, 1.0, (0.05, 0.95), *_UNIT)
_KAPPA = (-10.0, 10.0, (-1.0, 1.0), *_REAL)
_BETA = (0.0, 50.0, (0.5, 10.0), *_NONNEG)
_PERS = (0.0, 5.0, (0.05, 2.0), *_REAL)


def _p(name: str, spec: tuple, description: str) -> Parameter:
    lo, hi, start, domain, open_ends = spec
    return Parameter(name, lo, hi, start, description, domain=domain, open_ends=open_ends)


def get_model(
    name: str | ChoiceModel,
    *,
    kappa: bool = False,
    separate_alpha: bool = False,
    separate_tau: bool = False,
    gamma: float = 1.0,
    trace_mode: str = "accumulating",
    trans_prob: float = 0.7,
) -> ChoiceModel:
    """Return the choice model called ``name``.

    Parameters
    ----------
    name : str
        ``"soft-q-lambda"`` (tree-backup), ``"soft-q-lambda-on-policy"``,
        ``"soft-q-lambda-uncorrected"``, ``"soft-q"`` (λ = 0, one-step soft Q-learning; the natural
        model for bandits), ``"daw-hybrid"`` (hBayesDM ``ts_par7``), ``"daw-hybrid-6"`` (``ts_par6``),
        ``"daw-hybrid-4"`` (``ts_par4``). A :class:`ChoiceModel` is returned unchanged.
    kappa : bool
        Soft Q models: add the first-stage stickiness ``kappa`` (logit units).
    separate_alpha, separate_tau : bool
        Soft Q models: learning rate / temperature per stage (``alpha1, alpha2`` / ``tau1, tau2``).
    gamma : float
        Soft Q models: discount (default 1: the two-step trial is one undiscounted episode).
    trace_mode : {"accumulating", "replacing"}
    trans_prob : float
        Hybrid models: probability of the common transition (hBayesDM's ``trans_prob``, 0.7).

    Raises
    ------
    ValueError
        Unknown model name or invalid option.

    Notes
    -----
    ``name`` may also be a model's :attr:`ChoiceModel.spec`, the name followed by ``+option`` for each
    non-default option (``"soft-q-lambda+kappa+separate_alpha"``, ``"soft-q+gamma=0.9"``,
    ``"daw-hybrid+trans_prob=0.8"``), so that ``get_model(m.spec) == m``; options in the spec
    override the keyword arguments.
    """
    if isinstance(name, ChoiceModel):
        return name
    if isinstance(name, str) and "+" in name:
        base, *parts = name.split("+")
        opts = dict(
            kappa=kappa,
            separate_alpha=separate_alpha,
            separate_tau=separate_tau,
            gamma=gamma,
            trace_mode=trace_mode,
            trans_prob=trans_prob,
        )
        for part in parts:
            key, sep, val = part.strip().partition("=")
            if key in ("kappa", "separate_alpha", "separate_tau") and not sep:
                opts[key] = True
            elif key in ("gamma", "trans_prob") and sep:
                try:
                    opts[key] = float(val)
                except ValueError:
                    raise ValueError(f"model spec {name!r}: {key} must be a number, got {val!r}") from None
            elif key == "trace_mode" and sep:
                opts[key] = val
            else:
                raise ValueError(
                    f"model spec {name!r}: unknown option {part!r}; options are kappa, "
                    "separate_alpha, separate_tau, gamma=G, trace_mode=M, trans_prob=P"
                )
        if base.startswith("daw-hybrid"):
            for key in ("gamma", "trace_mode"):
                if opts[key] != {"gamma": 1.0, "trace_mode": "accumulating"}[key]:
                    raise ValueError(f"model spec {name!r}: {key} applies to the soft Q models only")
            return get_model(
                base,
                kappa=opts["kappa"],
                separate_alpha=opts["separate_alpha"],
                separate_tau=opts["separate_tau"],
                trans_prob=opts["trans_prob"],
            )
        if opts["trans_prob"] != 0.7:
            raise ValueError(f"model spec {name!r}: trans_prob applies to the hybrid models only")
        return get_model(
            base,
            kappa=opts["kappa"],
            separate_alpha=opts["separate_alpha"],
            separate_tau=opts["separate_tau"],
            gamma=opts["gamma"],
            trace_mode=opts["trace_mode"],
        )
    if name in _TRACES:
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
        if trace_mode not in ("accumulating", "replacing"):
            raise ValueError(f"trace_mode must be 'accumulating' or 'replacing', got {trace_mode!r}")
        params: list[Parameter] = []
        source = [-1] * 6
        constant = [0.0] * 6

        def add(col_list, par):
            params.append(par)
            for c in col_list:
                source[c] = len(params) - 1

        if separate_alpha:
            add([SQ_ALPHA0], _p("alpha1", _ALPHA, "learning rate, stage 1"))
            add([SQ_ALPHA1], _p("alpha2", _ALPHA, "learning rate, stage 2"))
        else:
            add([SQ_ALPHA0, SQ_ALPHA1], _p("alpha", _ALPHA, "learning rate"))
        if separate_tau:
            add([SQ_TAU0], _p("tau1", _TAU, "temperature, stage 1"))
            add([SQ_TAU1], _p("tau2", _TAU, "temperature, stage 2"))
        else:
            add([SQ_TAU0, SQ_TAU1], _p("tau", _TAU, "temperature"))
        if name != "soft-q":
            add([SQ_LAM], _p("lam", _LAM, "trace decay"))
        if kappa:
            add([SQ_KAPPA], _p("kappa", _KAPPA, "stage-1 stickiness (logit units)"))
        opts = dict(
            kappa=kappa,
            separate_alpha=separate_alpha,
            separate_tau=separate_tau,
            gamma=gamma,
            trace_mode=trace_mode,
        )
        return SoftQLambdaModel(
            name=name,
            params=tuple(params),
            source=tuple(source),
            constant=tuple(constant),
            options=opts,
            trace=_TRACES[name],
            gamma=float(gamma),
            replacing=trace_mode == "replacing",
        )
    if name in _HYBRIDS:
        if kappa or separate_alpha or separate_tau:
            raise ValueError(
                f"model {name!r} has fixed hBayesDM parameters; kappa/separate_alpha/separate_tau "
                "apply to the soft Q models only"
            )
        if not 0.0 <= trans_prob <= 1.0:
            raise ValueError(f"trans_prob must be in [0, 1], got {trans_prob!r}")
        k = _HYBRIDS[name]
        if k == 4:
            params = [
                _p("alpha", _ALPHA, "learning rate"),
                _p("beta", _BETA, "inverse temperature"),
                _p("pers", _PERS, "perseveration"),
                _p("w", _ALPHA, "model-based weight"),
            ]
            source = [0, 1, 0, 1, 2, 3, -1]
        else:
            params = [
                _p("alpha1", _ALPHA, "learning rate, stage 1"),
                _p("beta1", _BETA, "inverse temperature, stage 1"),
                _p("alpha2", _ALPHA, "learning rate, stage 2"),
                _p("beta2", _BETA, "inverse temperature, stage 2"),
                _p("pers", _PERS, "perseveration"),
                _p("w", _ALPHA, "model-based weight"),
            ]
            source = [0, 1, 2, 3, 4, 5, -1]
            if k == 7:
                params.append(_p("lam", _LAM, "eligibility trace"))
                source[6] = 6
        return HybridModel(
            name=name,
            params=tuple(params),
            source=tuple(source),
            constant=(0.0,) * 6 + (1.0,),
            options=dict(trans_prob=trans_prob),
            trans_prob=float(trans_prob),
        )
    raise ValueError(f"unknown model {name!r}; choose one of {list(MODEL_NAMES)}")
