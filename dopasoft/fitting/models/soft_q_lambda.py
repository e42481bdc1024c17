r"""The Soft Q(λ) choice models: parameters, options and hooks (docs/fitting.md §1–2).

Learning is the one Soft Q(λ) step :func:`dopasoft.kernel.soft_q_step` on a tabular ``Q``
(uniform default policy, ``Q ≡ 0`` at the start, ``γ = 1`` by default), applied to the data's steps
by :mod:`dopasoft.fitting.softq` (the optimiser's gradient is the same step carrying forward-mode
tangents); the probability of each observed choice is the Boltzmann policy at temperature ``τ``
before the step's update,

.. math:: P(a|s) = \frac{\pi_0(a|s)\exp(Q(s,a)/\tau + \kappa [a = a^{prev}_s])}
                        {\sum_b \pi_0(b|s)\exp(Q(s,b)/\tau + \kappa [b = a^{prev}_s])},

i.e. logits :math:`\log\pi_0(a|s) + Q(s,a)/\tau + \kappa[a = a^{prev}_s]`, with the default policy
:math:`\pi_0` (uniform unless ``habit``, ``compression`` or ``go_bias`` make it otherwise, when its
logarithm is a choice kernel with weight 1) and the stickiness ``κ`` (optional) on the previous choice in
first-stage states only; ``κ`` enters behaviour, never the learning target. On the two-step task this is docs/fitting.md §1–2 steps 1–4: stage 1
(``δ1 = γV(s2) − Q(0,a1)``), then stage 2 whose error ``δ2`` reaches the first-stage pair through the
trace, weighted by ``π(a2|s2)`` (tree-backup), 1 (uncorrected) or replaced by
``r − Σ_b π(b|s2)Q(s2,b)`` (on-policy). Options: separate learning rates / temperatures per stage
(``alpha1, alpha2`` / ``tau1, tau2``; each step uses its own stage's values, for its policy, ``V(s')``
and trace), ``kappa``, the discount ``gamma``, the trace mode, ``habit`` (the default policy of each state
learned from the choices at rate ``alpha_pi``, docs/maths.md §7), ``compression`` (one default policy
shared by all states, learned from every choice at rate ``alpha_pi``: policy compression), ``valence`` (``alpha_pos`` / ``alpha_neg``
for steps whose error is >= 0 / < 0) and ``go_bias`` (two actions: ``pi0(go = 1) = sigmoid(go_bias)``).

References
----------
Wilson, R. C. & Collins, A. G. E. (2019). Ten simple rules for the computational modeling of
behavioral data. eLife 8, e49547.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from dopasoft import kernel as _k
from dopasoft.fitting.models.base import INF, ChoiceModel, GradientBlock, ModelFamily, Option, Parameter
from dopasoft.fitting.softq import (
    _nll_block,
    _nll_grad_block,
    replay_data,
    softq_nll_grad_pairs,
    softq_nll_pairs,
    softq_replay_signals,
)
from dopasoft.fitting.softq_generators import softq_generate_bandit, softq_generate_two_step
from dopasoft.fitting.softq_policy import (
    N_COLS,
    SQ_ALPHA0,
    SQ_ALPHA1,
    SQ_ALPHA_PI,
    SQ_COLUMNS,
    SQ_GO_BIAS,
    SQ_KAPPA,
    SQ_LAM,
    SQ_SHARED_PRIOR,
    SQ_TAU0,
    SQ_TAU1,
    SQ_VALENCE,
    tangent_directions,
)

__all__ = ["SoftQLambdaModel", "FAMILY", "PARAMETERS"]

HABIT_STEP = 1e-5  # difference step of d NLL / d alpha_pi, d go_bias (natural scale; error ~1e-9 relative)
# kernel columns whose derivative is a central difference (pi0 depends on them; the step's tangents do not
# carry it), with the open upper end of each one's domain
_DIFFERENCED = {SQ_ALPHA_PI: (0.0, 1.0 - 1e-9), SQ_GO_BIAS: (-np.inf, np.inf)}

# Temperatures are in reward units (rewards in [0, 1]): the default fitting bounds keep tau >= 0.02,
# below which 200 choices cannot tell a near-deterministic subject from a greedy one, while the domain
# (what the likelihood accepts) stays tau > 0. Rescale the bounds with the rewards (rewards in points
# 0-100: tau >= 2); fit() also puts a weak default prior on them, tied to these bounds
# (dopasoft.fitting.default_prior). See docs/fitting.md, "Defaults for temperatures".
_UNIT = dict(domain=(0.0, 1.0))
_TEMP = dict(domain=(0.0, INF), open_ends=(True, True), symbol="τ", unit="reward units", kind="temperature")
PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter("alpha", 0.0, 1.0, (0.05, 0.95), "learning rate", symbol="α", **_UNIT),
        Parameter("alpha1", 0.0, 1.0, (0.05, 0.95), "learning rate, stage 1", symbol="α₁", **_UNIT),
        Parameter("alpha2", 0.0, 1.0, (0.05, 0.95), "learning rate, stage 2", symbol="α₂", **_UNIT),
        Parameter("alpha_pos", 0.0, 1.0, (0.05, 0.95), "learning rate, errors >= 0", symbol="α₊", **_UNIT),
        Parameter("alpha_neg", 0.0, 1.0, (0.05, 0.95), "learning rate, errors < 0", symbol="α₋", **_UNIT),
        Parameter("tau", 0.02, INF, (0.05, 0.5), "temperature", **_TEMP),
        Parameter("tau1", 0.02, INF, (0.05, 0.5), "temperature, stage 1", **{**_TEMP, "symbol": "τ₁"}),
        Parameter("tau2", 0.02, INF, (0.05, 0.5), "temperature, stage 2", **{**_TEMP, "symbol": "τ₂"}),
        Parameter("lam", 0.0, 1.0, (0.05, 0.95), "trace decay", symbol="λ", **_UNIT),
        Parameter(
            "kappa",
            -10.0,
            10.0,
            (-1.0, 1.0),
            "stickiness",
            domain=(-INF, INF),
            open_ends=(True, True),
            symbol="κ",
            unit="log-odds",
        ),
        Parameter(
            "alpha_pi",
            0.0,
            1.0,
            (0.02, 0.5),
            "learning rate of the default policy (habit or compression)",
            domain=(0.0, 1.0),
            open_ends=(False, True),
            symbol="α_π",
            short="default-policy learning rate",
        ),
        Parameter(
            "go_bias",
            -10.0,
            10.0,
            (-1.0, 1.0),
            "go bias: pi0(go) = sigmoid(go_bias)",
            domain=(-INF, INF),
            open_ends=(True, True),
            symbol="b",
            unit="log-odds",
        ),
    )
}
"""Every parameter of the family, declared once (bounds, start range, domain, label, unit)."""

_TRACES = {
    "soft-q-lambda": "tree-backup",
    "soft-q-lambda-on-policy": "on-policy",
    "soft-q-lambda-uncorrected": "uncorrected",
    "soft-q": "tree-backup",
}

OPTIONS = (
    Option("kappa", False, "add the first-stage stickiness kappa (logit units)"),
    Option("separate_alpha", False, "a learning rate per stage (alpha1, alpha2)"),
    Option("separate_tau", False, "a temperature per stage (tau1, tau2)"),
    Option("habit", False, "learn the default policy pi0 per state from the choices (alpha_pi)"),
    Option(
        "compression",
        False,
        "learn one default policy pi0 shared by all states from every choice (alpha_pi): policy compression",
    ),
    Option("valence", False, "learning rates alpha_pos, alpha_neg for errors >= 0 / < 0 (replace alpha)"),
    Option("go_bias", False, "two actions: default policy pi0(go = action 1) = sigmoid(go_bias)"),
    Option("gamma", 1.0, "discount (1: the two-step trial is one undiscounted episode)", interval=(0.0, 1.0)),
    Option("trace_mode", "accumulating", "eligibility traces", choices=("accumulating", "replacing")),
)


@dataclass(frozen=True)
class SoftQLambdaModel(ChoiceModel):
    """Soft Q(λ) choice model (docs/fitting.md §1–2); build with :func:`dopasoft.fitting.get_model`."""

    trace: str = "tree-backup"
    gamma: float = 1.0
    replacing: bool = False
    tasks: tuple[str, ...] = ("two-step", "bandit", "steps")
    simulation_tasks: ClassVar[tuple[str, ...]] = ("two-step", "bandit")

    def __post_init__(self) -> None:
        if self.trace == "retrace":  # the kernels would need b(a|s) for every observed choice
            raise ValueError(
                "trace 'retrace' needs b(a|s), the probability with which each choice was made, which "
                "choice data do not record; use 'tree-backup', 'on-policy' or 'uncorrected'"
            )
        if self.trace not in _k.TRACE_CODES:
            raise ValueError(f"trace must be one of {sorted(_k.TRACE_CODES)}, got {self.trace!r}")

    def check_task(self, tr) -> None:  # noqa: D102 - documented on the base class
        super().check_task(tr)
        if self.options.get("go_bias") and tr.n_actions != 2:
            raise ValueError(
                f"option go_bias needs two actions (0 = no-go, 1 = go), but the data have {tr.n_actions}"
            )

    def _engine_args(self, tr, subj, theta) -> tuple:
        """The compiled replay's arguments: the data, the pairs, the kernel columns and the variant."""
        self.check_task(tr)
        return (
            *replay_data(tr),
            np.ascontiguousarray(subj, np.int64),
            np.ascontiguousarray(self.full(theta)),
            *self._variant(),
        )

    def _variant(self) -> tuple:
        """``(gamma, trace code, replacing)``, the compiled step's variant arguments."""
        return (float(self.gamma), _k.TRACE_CODES[self.trace], bool(self.replacing))

    def nll_pairs(self, tr, subj, theta):  # noqa: D102 - documented on the base class
        return softq_nll_pairs(*self._engine_args(tr, subj, theta))

    def compiled_functions(self) -> tuple:  # noqa: D102 - documented on the base class
        differenced = any(self.source[col] >= 0 for col in _DIFFERENCED)
        return (_nll_grad_block, _nll_block) if differenced else (_nll_grad_block,)

    def gradient_block(self, tr):  # noqa: D102 - documented on the base class
        if any(j >= 0 for j in self.source[N_COLS:]):  # a differenced column (alpha_pi, ...) is free
            return None
        self.check_task(tr)
        masks, params = tangent_directions(self.source)  # one tangent per parameter
        masks = tuple(int(m) for m in masks)
        return GradientBlock(
            _nll_grad_block, replay_data(tr), self._variant(), len(masks), after=(masks,), grad_source=params
        )

    def nll_grad_pairs(self, tr, subj, theta):
        """NLL and its gradient with respect to the model's parameters.

        Forward mode through the step, one tangent per parameter (its kernel columns moved together,
        :func:`dopasoft.fitting.softq_policy.tangent_directions`) but ``alpha_pi``; the learned default
        policy depends on ``alpha_pi`` and the choices only (a constant for the other directions), and
        ``d NLL / d alpha_pi`` is a central difference quotient (step ``HABIT_STEP``, one-sided at the
        ends of [0, 1)): two more likelihood passes instead of the optimiser's one per parameter.
        """
        args = self._engine_args(tr, subj, theta)
        masks, params = tangent_directions(self.source)
        nll, gdir = softq_nll_grad_pairs(*args, masks)
        grad = np.zeros(gdir.shape[:-1] + (self.n_params,))
        for d, j in enumerate(params):  # direction d is parameter j (all its kernel columns at once)
            if j >= 0:
                grad[:, j] = gdir[:, d]
        theta = np.asarray(theta, dtype=float)
        for col, (low, high) in _DIFFERENCED.items():
            j = self.source[col]
            if j < 0:
                continue
            x = theta[:, j]
            hi = np.minimum(x + HABIT_STEP, high)
            lo = np.maximum(x - HABIT_STEP, low)
            up, down = theta.copy(), theta.copy()
            up[:, j], down[:, j] = hi, lo
            grad[:, j] = (self.nll_pairs(tr, subj, up) - self.nll_pairs(tr, subj, down)) / (hi - lo)
        return nll, grad

    def replay_signals(self, tr, theta):
        """Per-step ``p_choice`` (with ``kappa``), ``delta``, ``value_rpe``, ``action_term``, ``value``
        (``V(s)``) and ``action_pe`` (``1 - pi0(a|s)``), all before the step's update, from the
        likelihood's own replay."""
        self.check_task(tr)
        full = np.ascontiguousarray(self.full(theta))  # one vector per subject, no pairs
        nll, p_choice, delta, value_rpe, action_term, value, action_pe = softq_replay_signals(
            *replay_data(tr), full, *self._variant()
        )
        signals = dict(
            p_choice=p_choice,
            delta=delta,
            value_rpe=value_rpe,
            action_term=action_term,
            value=value,
            action_pe=action_pe,
        )
        return signals, nll

    def simulate_arrays(self, theta, probs, u, p_common=0.7):
        """Generate two-step (``probs`` 4-d) or bandit (``probs`` 3-d) choices."""
        full = np.ascontiguousarray(self.full(theta))
        variant = self._variant()
        if probs.ndim == 4:
            return softq_generate_two_step(full, probs, u, p_common, *variant)
        return softq_generate_bandit(full, probs, u, *variant)


def build(name: str, options: dict[str, Any]) -> SoftQLambdaModel:
    """The soft Q model ``name`` with ``options`` (every option of :data:`OPTIONS`, checked)."""
    params: list[Parameter] = []
    source = [-1] * len(SQ_COLUMNS)

    def add(columns: list[int], pname: str) -> None:
        params.append(PARAMETERS[pname])
        for c in columns:
            source[c] = len(params) - 1

    constant = [0.0] * len(SQ_COLUMNS)
    if options["valence"]:
        if options["separate_alpha"]:
            raise ValueError(
                "options valence and separate_alpha cannot be combined: valence replaces alpha by "
                "alpha_pos, alpha_neg (errors >= 0 / < 0) at every stage"
            )
        add([SQ_ALPHA0], "alpha_pos")
        add([SQ_ALPHA1], "alpha_neg")
        constant[SQ_VALENCE] = 1.0
    elif options["separate_alpha"]:
        add([SQ_ALPHA0], "alpha1")
        add([SQ_ALPHA1], "alpha2")
    else:
        add([SQ_ALPHA0, SQ_ALPHA1], "alpha")
    if options["separate_tau"]:
        add([SQ_TAU0], "tau1")
        add([SQ_TAU1], "tau2")
    else:
        add([SQ_TAU0, SQ_TAU1], "tau")
    if name != "soft-q":
        add([SQ_LAM], "lam")
    if options["kappa"]:
        add([SQ_KAPPA], "kappa")
    if options["habit"] and options["compression"]:
        raise ValueError(
            "options habit and compression cannot be combined: both learn the default policy at rate "
            "alpha_pi, habit one per state, compression one shared by all states"
        )
    if options["habit"] or options["compression"]:
        add([SQ_ALPHA_PI], "alpha_pi")
    if options["compression"]:
        constant[SQ_SHARED_PRIOR] = 1.0
    if options["go_bias"]:
        add([SQ_GO_BIAS], "go_bias")
    return SoftQLambdaModel(
        name=name,
        params=tuple(params),
        source=tuple(source),
        constant=tuple(constant),
        options=dict(options),
        family=FAMILY,
        trace=_TRACES[name],
        gamma=float(options["gamma"]),
        replacing=options["trace_mode"] == "replacing",
    )


FAMILY = ModelFamily(
    title="soft Q",
    models={
        "soft-q-lambda": "Soft Q(λ), tree-backup traces (off-policy)",
        "soft-q-lambda-on-policy": "Soft Q(λ), on-policy (soft SARSA(λ)-like) traces",
        "soft-q-lambda-uncorrected": "Soft Q(λ), traces never cut (c = γλ)",
        "soft-q": "one-step soft Q-learning (λ = 0): the natural model for bandits",
    },
    options=OPTIONS,
    build=build,
)
