r"""hBayesDM's go/no-go models ``gng_m1`` … ``gng_m4`` (Guitart-Masip et al. 2012; Cavanagh et al. 2013).

On each trial a cue ``s`` (hBayesDM's ``cue`` − 1) is shown and the subject presses (go, action 1) or
withholds (no-go, action 0); the outcome ``r`` follows. With action values ``Q_go``, ``Q_nogo`` and a
Pavlovian stimulus value ``SV`` per cue, all 0 at the start:

.. math:: W_{go}(s) = Q_{go}(s) + b + \pi\,SV(s), \quad
          P(go) = (1 - \xi)\,\sigma(W_{go}(s) - Q_{nogo}(s)) + \xi / 2

then, with the sensitivity ``ρ = ρ_rew`` if ``r ≥ 0`` and ``ρ_pun`` otherwise,

.. math:: SV(s) \mathrel{+}= \epsilon (\rho r - SV(s)), \quad
          Q_a(s) \mathrel{+}= \epsilon (\rho r - Q_a(s)) \text{ for the action } a \text{ taken.}

``gng_m1`` (``xi, ep, rho``): ``b = π = 0``; ``gng_m2`` adds the go bias ``b``; ``gng_m3`` adds the
Pavlovian bias ``pi`` (one ``rho``); ``gng_m4`` splits ``rho`` into ``rhoRew`` and ``rhoPun``. This is
exactly the ``model`` block of hBayesDM's ``gng_m*.stan`` (one compiled loop, the four models being
its kernel columns ``GNG_COLUMNS`` with some held at 0 or tied). A trial without a recorded
``keyPressed`` is skipped (neither counted nor learned from).

The compiled functions serve the likelihood, its forward-mode gradient (tangents of ``Q_go``,
``Q_nogo``, ``SV`` along the six columns), the per-trial replay signals and the generator.

References
----------
Guitart-Masip, M., Huys, Q. J. M., Fuentemilla, L., Dayan, P., Duzel, E. & Dolan, R. J. (2012). Go
and no-go learning in reward and punishment: interactions between affect and effect. NeuroImage 62,
154–166.
Cavanagh, J. F., Eisenberg, I., Guitart-Masip, M., Huys, Q. & Frank, M. J. (2013). Frontal theta
overrides Pavlovian learning biases. J. Neurosci. 33, 8541–8548.
Ahn, W.-Y., Haines, N. & Zhang, L. (2017). Revealing neurocomputational mechanisms of reinforcement
learning and decision-making with the hBayesDM package. Computational Psychiatry 1, 24–57.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numba import njit

from dopasoft.fitting.models.base import INF, ChoiceModel, GradientBlock, ModelFamily, Parameter
from dopasoft.fitting.threads import run_blocks

__all__ = ["GoNoGoModel", "FAMILY", "PARAMETERS"]

GNG_XI, GNG_EP, GNG_B, GNG_PI, GNG_RR, GNG_RP = range(6)
GNG_COLUMNS = ("xi", "ep", "b", "pi", "rhoRew", "rhoPun")
GNG_N = len(GNG_COLUMNS)

# per-trial signals of a replay (``out`` of :func:`_gng_subject_nll`)
GS_P, GS_DELTA, GS_SVPE, GS_QGO, GS_QNOGO, GS_WGO, GS_SV, GS_PGO = range(8)
GNG_SIGNALS = ("p_choice", "delta", "value_rpe", "q_go", "q_nogo", "w_go", "sv", "p_go")


@njit(cache=True)
def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(cache=True)
def _log_sigmoid(x):
    if x >= 0:
        return -math.log1p(math.exp(-x))
    return x - math.log1p(math.exp(x))


@njit(cache=True)
def gng_log_p(x, xi, a):
    """``(log P(a), w)`` for log-odds ``x`` of σ and noise ``ξ``: ``P(a) = (1 − ξ) σ(±x) + ξ/2`` (+ for
    go), computed in logs so that ``ξ = 0`` and extreme ``x`` stay finite; ``w = (1 − ξ) σ(±x) / P(a)``."""
    ls = _log_sigmoid(x if a == 1 else -x)
    if xi <= 0.0:
        return ls, 1.0
    if xi >= 1.0:
        return math.log(0.5), 0.0
    l1 = math.log1p(-xi) + ls
    l2 = math.log(0.5 * xi)
    hi = max(l1, l2)
    lp = hi + math.log1p(math.exp(-abs(l1 - l2)))
    return lp, math.exp(l1 - lp)


@njit(cache=True)
def gng_p_go(qg, qn, sv, p, s):
    """``(P(go), σ(W_go − Q_nogo))`` at cue ``s``."""
    sig = _sigmoid(qg[s] + p[GNG_B] + p[GNG_PI] * sv[s] - qn[s])
    return (1.0 - p[GNG_XI]) * sig + 0.5 * p[GNG_XI], sig


@njit(cache=True)
def gng_learn(qg, qn, sv, p, s, a, r):
    """The trial's updates: ``SV(s)`` and the taken action's value towards ``ρ r`` at rate ``ε``."""
    target = (p[GNG_RR] if r >= 0 else p[GNG_RP]) * r
    ep = p[GNG_EP]
    sv[s] += ep * (target - sv[s])
    if a == 1:
        qg[s] += ep * (target - qg[s])
    else:
        qn[s] += ep * (target - qn[s])


@njit(cache=True)
def _learn_tangent(v, dv, ep, target, r, rho_col):
    """Tangents of ``v += ε (ρ r − v)`` along every column (call before the update)."""
    for c in range(GNG_N):
        dv[c] -= ep * dv[c]
    dv[GNG_EP] += target - v
    dv[rho_col] += ep * r


@njit(cache=True)
def _gng_subject_nll(state, action, reward, n, p, n_cues, out, dq, grad):
    """NLL of one subject; with ``out`` (n, 8) also the per-trial signals ``GNG_SIGNALS`` (read before
    the trial's updates; NaN on a missed trial). ``dq`` (3, n_cues, GNG_N) and ``grad`` (GNG_N,):
    ``None`` (value only) or the tangents of ``Q_go``, ``Q_nogo``, ``SV`` and the NLL's gradient."""
    qg = np.zeros(n_cues)
    qn = np.zeros(n_cues)
    sv = np.zeros(n_cues)
    if dq is not None:
        dq[:] = 0.0
        grad[:] = 0.0
    nll = 0.0
    for t in range(n):
        a = action[t]
        s = state[t]
        if out is not None:
            out[t, :] = np.nan
        if a < 0:
            continue
        r = reward[t]
        x = qg[s] + p[GNG_B] + p[GNG_PI] * sv[s] - qn[s]
        lpa, w = gng_log_p(x, p[GNG_XI], a)
        nll -= lpa
        rho_col = GNG_RR if r >= 0 else GNG_RP
        target = p[rho_col] * r
        if dq is not None:
            # P(a) = (1 - ξ) σ(sx) + ξ/2, s = ±1: d(-log P)/dx = -s w σ(-sx), d(-log P)/dξ = (σ(sx) - 1/2) / P
            sign = 1.0 if a == 1 else -1.0
            cx = -sign * w * _sigmoid(-sign * x)
            for c in range(GNG_N):
                grad[c] += cx * (dq[0, s, c] + p[GNG_PI] * dq[2, s, c] - dq[1, s, c])
            grad[GNG_B] += cx
            grad[GNG_PI] += cx * sv[s]
            grad[GNG_XI] += (_sigmoid(sign * x) - 0.5) * math.exp(-lpa)
            ep = p[GNG_EP]
            _learn_tangent(sv[s], dq[2, s], ep, target, r, rho_col)
            if a == 1:
                _learn_tangent(qg[s], dq[0, s], ep, target, r, rho_col)
            else:
                _learn_tangent(qn[s], dq[1, s], ep, target, r, rho_col)
        if out is not None:
            pgo, _ = gng_p_go(qg, qn, sv, p, s)
            out[t, GS_P] = math.exp(lpa)
            out[t, GS_PGO] = pgo
            out[t, GS_DELTA] = target - (qg[s] if a == 1 else qn[s])
            out[t, GS_SVPE] = target - sv[s]
            out[t, GS_QGO] = qg[s]
            out[t, GS_QNOGO] = qn[s]
            out[t, GS_WGO] = qg[s] + p[GNG_B] + p[GNG_PI] * sv[s]
            out[t, GS_SV] = sv[s]
        gng_learn(qg, qn, sv, p, s, a, r)
    return nll


@njit(cache=True)
def _check_full(full, n_rows):
    if full.shape[1] != GNG_N:
        raise ValueError("full must have one column per GNG_COLUMNS entry (6)")
    if full.shape[0] != n_rows:
        raise ValueError("full must have one row per (subject, parameter vector) pair")


@njit(cache=True, nogil=True)
def _gng_nll_block(lo, hi, state, action, reward, n_steps, subj, full, n_cues, out):
    """``out[k]`` = NLL of pair ``k`` (subject row ``subj[k]``, parameters ``full[k]``), ``lo <= k < hi``."""
    for k in range(lo, hi):
        i = subj[k]
        out[k] = _gng_subject_nll(
            state[i], action[i], reward[i], n_steps[i], full[k], n_cues, None, None, None
        )


@njit(cache=True, nogil=True)
def _gng_nll_grad_block(lo, hi, state, action, reward, n_steps, subj, full, n_cues, out, grad):
    """:func:`_gng_nll_block` with forward-mode tangents: also ``grad[k]`` along ``GNG_COLUMNS``."""
    dq = np.zeros((3, n_cues, GNG_N))
    for k in range(lo, hi):
        i = subj[k]
        out[k] = _gng_subject_nll(
            state[i], action[i], reward[i], n_steps[i], full[k], n_cues, None, dq, grad[k]
        )


@njit(cache=True)
def gng_replay_signals(state, action, reward, n_steps, full, n_cues):
    """Per-trial signals ``GNG_SIGNALS`` (n_subjects, max_steps, 8) of every subject (row ``i`` under
    ``full[i]``) from the likelihood's own loop, and each subject's NLL."""
    n_sub, m = state.shape
    _check_full(full, n_sub)
    out = np.full((n_sub, m, len(GNG_SIGNALS)), np.nan)
    nll = np.empty(n_sub)
    for i in range(n_sub):
        nll[i] = _gng_subject_nll(
            state[i], action[i], reward[i], n_steps[i], full[i], n_cues, out[i], None, None
        )
    return out, nll


@njit(cache=True)
def gng_generate(full, cues, outcome_if, u):
    """Simulate presses: ``cues`` (S, T) the cue of each trial, ``outcome_if`` (S, T, 2) the outcome
    each action would bring, ``u`` (S, T) uniforms for the choice. Returns (presses, outcomes)."""
    n_sub, n_tr = cues.shape
    _check_full(full, n_sub)
    n_cues = np.int64(cues.max() + 1)
    press = np.empty((n_sub, n_tr), np.int64)
    outcome = np.empty((n_sub, n_tr))
    for i in range(n_sub):
        p = full[i]
        qg = np.zeros(n_cues)
        qn = np.zeros(n_cues)
        sv = np.zeros(n_cues)
        for t in range(n_tr):
            s = cues[i, t]
            pgo, _ = gng_p_go(qg, qn, sv, p, s)
            a = 1 if u[i, t] < pgo else 0
            r = outcome_if[i, t, a]
            gng_learn(qg, qn, sv, p, s, a, r)
            press[i, t] = a
            outcome[i, t] = r
    return press, outcome


def _prepare(full, subj):
    subj = np.ascontiguousarray(subj, dtype=np.int64)
    full = np.ascontiguousarray(full, dtype=np.float64)
    _check_full(full, subj.shape[0])
    return full, subj


_UNIT = dict(domain=(0.0, 1.0))
# rho multiplies every value the choice sees (hBayesDM: "rho, inv temp"): kind inverse temperature, so
# that fit's weak default prior keeps a near-deterministic subject's rho off its bound
_RHO = dict(domain=(0.0, INF), open_ends=(False, True), unit="1/outcome units", kind="inverse-temperature")
PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter("xi", 0.0, 1.0, (0.02, 0.3), "irreducible noise", symbol="ξ", **_UNIT),
        Parameter("ep", 0.0, 1.0, (0.05, 0.6), "learning rate", symbol="ε", **_UNIT),
        Parameter("b", -10.0, 10.0, (-1.0, 1.0), "go bias", symbol="b", unit="log-odds"),
        Parameter("pi", -10.0, 10.0, (-1.0, 1.0), "Pavlovian bias", symbol="π"),
        Parameter("rho", 0.0, 100.0, (1.0, 15.0), "outcome sensitivity", symbol="ρ", **_RHO),
        Parameter("rhoRew", 0.0, 100.0, (1.0, 15.0), "reward sensitivity", symbol="ρ_rew", **_RHO),
        Parameter("rhoPun", 0.0, 100.0, (1.0, 15.0), "punishment sensitivity", symbol="ρ_pun", **_RHO),
    )
}
"""The family's parameters under hBayesDM's names. hBayesDM's Stan files bound ``xi`` and ``ep`` to
[0, 1] and ``rho`` below by 0; ``b`` and ``pi`` are unbounded there. The fitting bounds of ``b``, ``pi``
(±10) and ``rho`` (100) are dopasoft's, keeping maximum likelihood finite where a parameter is weakly
identified; give ``bounds=`` to change them. The sensitivities are of kind inverse temperature: ``fit``'s
weak default prior applies to them (docs/fitting.md, "Defaults for temperatures")."""

# model name -> (parameters, kernel column GNG_COLUMNS taken from each; -1: the constant 0)
_LAYOUTS = {
    "gng_m1": (("xi", "ep", "rho"), (0, 1, -1, -1, 2, 2)),
    "gng_m2": (("xi", "ep", "b", "rho"), (0, 1, 2, -1, 3, 3)),
    "gng_m3": (("xi", "ep", "b", "pi", "rho"), (0, 1, 2, 3, 4, 4)),
    "gng_m4": (("xi", "ep", "b", "pi", "rhoRew", "rhoPun"), (0, 1, 2, 3, 4, 5)),
}


@dataclass(frozen=True)
class GoNoGoModel(ChoiceModel):
    """hBayesDM's go/no-go models; build with :func:`dopasoft.fitting.get_model` (``"gng_m1"`` …
    ``"gng_m4"``). Data: hBayesDM's gng files (or step data with one step per trial, the cue as
    ``state``, ``choice`` 1 = go, 0 = no-go).

    Examples
    --------
    >>> import dopasoft as ds
    >>> m = ds.fitting.get_model("gng_m3")
    >>> m.param_names, m.simulation_tasks
    (('xi', 'ep', 'b', 'pi', 'rho'), ('gng',))
    >>> par = {"xi": 0.1, "ep": 0.2, "b": 0.5, "pi": 1.0, "rho": 5.0}
    >>> data = ds.fitting.simulate_choices(m, par, n_subjects=2, n_trials=40, seed=0)
    >>> sig = ds.fitting.replay(data, m, par)
    >>> bool(abs(-np.log(sig["p_choice"]).sum() - ds.fitting.negative_log_likelihood(data, m, par).sum()) < 1e-9)
    True
    """

    simulation_tasks: ClassVar[tuple[str, ...]] = ("gng",)

    def check_task(self, tr) -> None:  # noqa: D102 - documented on the base class
        super().check_task(tr)
        if tr.n_actions != 2:
            raise ValueError(f"model {self.name!r} needs two actions (0 = no-go, 1 = go), got {tr.n_actions}")
        if tr.task == "steps" and (tr.next_state >= 0).any():
            raise ValueError(f"model {self.name!r} needs one step per trial (every row terminal)")

    def _data(self, tr):
        return tr.state, tr.action, tr.reward, tr.n_steps

    def nll_pairs(self, tr, subj, theta):  # noqa: D102 - documented on the base class
        self.check_task(tr)
        full, subj = _prepare(self.full(theta), subj)
        out = np.empty(subj.shape[0])
        run_blocks(_gng_nll_block, subj.shape[0], *self._data(tr), subj, full, np.int64(tr.n_states), out)
        return out

    def nll_grad_pairs(self, tr, subj, theta):
        """NLL and its gradient with respect to the model's parameters, by forward mode through the
        likelihood's loop, pulled back from the kernel columns ``GNG_COLUMNS``."""
        self.check_task(tr)
        full, subj = _prepare(self.full(theta), subj)
        out = np.empty(subj.shape[0])
        grad = np.empty((subj.shape[0], GNG_N))
        n = np.int64(tr.n_states)
        run_blocks(_gng_nll_grad_block, subj.shape[0], *self._data(tr), subj, full, n, out, grad)
        return out, self.pull_back(grad)

    def compiled_functions(self) -> tuple:  # noqa: D102 - documented on the base class
        return (_gng_nll_grad_block,)

    def gradient_block(self, tr):  # noqa: D102 - documented on the base class
        self.check_task(tr)
        return GradientBlock(_gng_nll_grad_block, self._data(tr), (np.int64(tr.n_states),), GNG_N)

    def replay_signals(self, tr, theta):
        """Per-trial ``p_choice``, ``delta`` (``ρ r − Q_a(s)``, the taken action's prediction error),
        ``value_rpe`` (``ρ r − SV(s)``, the Pavlovian value's error; models with ``pi`` only, else NaN),
        ``action_term`` (NaN), and hBayesDM's regressors ``q_go``, ``q_nogo``, ``w_go`` and ``sv``
        (``gng_m3``, ``gng_m4``), plus ``p_go``; all read before the trial's update."""
        self.check_task(tr)
        full = np.ascontiguousarray(self.full(theta))
        out, nll = gng_replay_signals(*self._data(tr), full, np.int64(tr.n_states))
        signals = {name: out[..., j] for j, name in enumerate(GNG_SIGNALS)}
        if "pi" not in self.param_names:
            signals["value_rpe"] = np.full(tr.state.shape, np.nan)
            signals["sv"] = np.full(tr.state.shape, np.nan)
        signals["action_term"] = np.full(tr.state.shape, np.nan)
        return signals, nll

    def simulate_arrays(self, theta, probs, u, state=None):
        """Generate presses on the go/no-go task: ``probs`` (S, T, 2) is the outcome each action would
        bring on each trial, ``state`` (S, T) the cues, ``u`` (S, T) uniforms. Returns
        ``(presses, outcomes)``."""
        if state is None or probs.ndim != 3 or probs.shape[2] != 2:
            raise ValueError(f"model {self.name!r} simulates the go/no-go task only (task='gng')")
        full = np.ascontiguousarray(self.full(theta))
        return gng_generate(full, np.ascontiguousarray(state, np.int64), probs, u)


def build(name: str, options: dict[str, Any]) -> GoNoGoModel:
    """The go/no-go model ``name`` (it has no options)."""
    names, source = _LAYOUTS[name]
    return GoNoGoModel(
        name=name,
        params=tuple(PARAMETERS[n] for n in names),
        source=source,
        constant=(0.0,) * GNG_N,
        tasks=("steps", "bandit"),
        options=dict(options),
        family=FAMILY,
    )


FAMILY = ModelFamily(
    title="go/no-go",
    models={
        "gng_m1": "hBayesDM gng_m1: Rescorla-Wagner with irreducible noise (xi, ep, rho)",
        "gng_m2": "hBayesDM gng_m2: gng_m1 with a go bias (xi, ep, b, rho)",
        "gng_m3": "hBayesDM gng_m3: gng_m2 with a Pavlovian bias (xi, ep, b, pi, rho)",
        "gng_m4": "hBayesDM gng_m4: gng_m3 with reward and punishment sensitivities (rhoRew, rhoPun)",
    },
    options=(),
    build=build,
)
