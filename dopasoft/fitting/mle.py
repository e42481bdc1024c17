r"""Maximum-likelihood fitting: per-subject NLL, batched multi-start quasi-Newton, standard errors.

All subjects × starts of a chunk are optimised together: every objective evaluation (line-search trials and
finite-difference gradients of all problems still running) is one parallel compiled call
(:meth:`ChoiceModel.nll_pairs`), and a BFGS iteration is vectorised over problems. Each problem's
trajectory depends only on its own data and start, so results do not depend on how subjects are
grouped, on the executor, or on finishing order.

Bounded parameters are optimised on an unconstrained scale ``z`` through smooth transforms (Wilson &
Collins 2019, rule 6): ``θ = lo + (hi − lo) σ(z)`` (both bounds), ``θ = lo + e^z`` (lower only),
``θ = hi − e^{−z}`` (upper only). Standard errors are the square roots of the diagonal of the inverse
natural-scale Hessian, obtained exactly from the central-difference Hessian and gradient in ``z``
(:func:`_standard_errors`); they are NaN at a bound (``at_bound``) or for a Hessian that is not
positive definite. ``converged`` is the optimiser's own criterion (:func:`_bfgs`).

MAP fitting (``prior=``): independent Gaussian priors on the unconstrained scale,
``z_j ~ N(m_j, s_j²)`` (a logit-normal prior for a parameter with two bounds, a log-normal one for a
parameter with a lower bound only); parameters without a prior are flat in ``z``. The objective is
then the negative log posterior (up to the evidence)

.. math:: \mathrm{NLP}(z) = \mathrm{NLL}(\theta(z)) + \sum_{j \in \text{prior}}
          \Big[\frac{(z_j - m_j)^2}{2 s_j^2} + \log s_j + \tfrac12 \log 2\pi\Big],

minimised in ``z``; the table reports both ``nlp`` and ``nll`` and AIC/BIC stay those of the NLL.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, wait
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from dopasoft.fitting.data import Transitions, to_transitions
from dopasoft.fitting.models import ChoiceModel, get_model

__all__ = ["log_likelihood", "fit", "iter_fit", "default_prior", "FitResult", "Transform"]

Prior = Mapping[str, tuple[float, float]]


# ----------------------------------------------------------------------------------------------
# transforms


@dataclass(frozen=True)
class Transform:
    """Vectorised map between unconstrained ``z`` and bounded parameters ``θ`` (one per column)."""

    lower: NDArray[np.float64]
    upper: NDArray[np.float64]

    def to_natural(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """``θ`` from ``z`` (last axis = parameters)."""
        lo, hi = self.lower, self.upper
        both = np.isfinite(lo) & np.isfinite(hi)
        low = np.isfinite(lo) & ~np.isfinite(hi)
        up = ~np.isfinite(lo) & np.isfinite(hi)
        with np.errstate(over="ignore", invalid="ignore"):
            sig = 0.5 * (1.0 + np.tanh(0.5 * z))
            out = np.where(both, lo + (hi - lo) * sig, z)
            out = np.where(low, lo + np.exp(np.minimum(z, 700.0)), out)
            out = np.where(up, hi - np.exp(np.minimum(-z, 700.0)), out)
        return out

    def derivative(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """``dθ/dz``."""
        lo, hi = self.lower, self.upper
        theta = self.to_natural(z)
        both = np.isfinite(lo) & np.isfinite(hi)
        low = np.isfinite(lo) & ~np.isfinite(hi)
        up = ~np.isfinite(lo) & np.isfinite(hi)
        sig = 0.5 * (1.0 + np.tanh(0.5 * z))
        with np.errstate(invalid="ignore"):
            d = np.where(both, (hi - lo) * sig * (1.0 - sig), 1.0)
        d = np.where(low, theta - lo, d)
        return np.where(up, hi - theta, d)

    def derivative_ratio(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """``(d²θ/dz²) / (dθ/dz)``: ``1 − 2σ(z)`` with two bounds, ``1`` (lower only), ``−1`` (upper
        only), ``0`` (unbounded). Converts a Hessian in ``z`` into one in ``θ`` away from a
        stationary point (see :func:`_standard_errors`)."""
        lo, hi = self.lower, self.upper
        both = np.isfinite(lo) & np.isfinite(hi)
        low = np.isfinite(lo) & ~np.isfinite(hi)
        up = ~np.isfinite(lo) & np.isfinite(hi)
        r = np.where(both, -np.tanh(0.5 * z), 0.0)  # 1 - 2 sigma(z)
        r = np.where(low, 1.0, r)
        return np.where(up, -1.0, r)

    def to_unconstrained(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """``z`` from ``θ`` (θ strictly inside its bounds)."""
        lo, hi = self.lower, self.upper
        both = np.isfinite(lo) & np.isfinite(hi)
        low = np.isfinite(lo) & ~np.isfinite(hi)
        up = ~np.isfinite(lo) & np.isfinite(hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(both, np.log((theta - lo) / (hi - theta)), theta)
            z = np.where(low, np.log(theta - lo), z)
            z = np.where(up, -np.log(hi - theta), z)
        return z


# ----------------------------------------------------------------------------------------------
# problem set-up


def _as_data(data) -> Transitions:
    return to_transitions(data)


def _resolve_bounds(model: ChoiceModel, bounds: Mapping[str, tuple[float, float]] | None):
    """Default bounds with the user's replacements; each pair must lie inside the parameter's domain.

    A bound may equal an end of the domain even where the domain is open there (``tau`` bounded
    below by 0): the transforms never reach a bound (``θ = lo + e^z > lo``)."""
    b = model.default_bounds()
    params = {p.name: p for p in model.params}
    for name, val in (bounds or {}).items():
        if name not in b:
            raise ValueError(
                f"bounds: unknown parameter {name!r} of model {model.name!r}; "
                f"parameters are {list(model.param_names)}"
            )
        try:
            if isinstance(val, str) or len(val) != 2:
                raise TypeError
            lo, hi = (float(val[0]), float(val[1]))
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"bounds[{name!r}] must be a pair (lower, upper), got {val!r}") from None
        if not lo < hi:
            raise ValueError(f"bounds[{name!r}]: lower {lo} must be below upper {hi}")
        dlo, dhi = params[name].domain
        if lo < dlo or hi > dhi:
            raise ValueError(
                f"bounds[{name!r}] = ({lo:g}, {hi:g}) is not inside the domain of {name!r}, "
                f"{params[name].domain_text()}"
            )
        b[name] = (lo, hi)
    return b


def _resolve_fixed(model: ChoiceModel, fixed: Mapping[str, float] | None, bounds) -> dict:
    """Fixed values, each checked against its parameter's domain (not the default fitting bounds:
    a fixed parameter is not searched, so its bounds do not apply)."""
    out = {}
    params = {p.name: p for p in model.params}
    for name, val in (fixed or {}).items():
        if name not in model.param_names:
            raise ValueError(
                f"fixed: unknown parameter {name!r} of model {model.name!r}; "
                f"parameters are {list(model.param_names)}"
            )
        try:
            if isinstance(val, bool):
                raise TypeError
            v = float(val)
        except (TypeError, ValueError):
            raise ValueError(f"fixed[{name!r}] must be a number, got {val!r}") from None
        if not params[name].in_domain(v):
            raise ValueError(
                f"fixed[{name!r}] = {v} is outside the domain of {name!r}, {params[name].domain_text()}"
            )
        out[name] = v
    return out


# Default weak priors (used when ``fit(prior=None)``): a temperature (reward units) with lower bound
# ``lo > 0`` gets ``log(τ − lo) ~ N(log(9 lo), 1.5²)`` (median ``10 lo``: 0.2 for the default
# ``lo = 0.02``); an inverse temperature with bounds ``(0, hi)`` gets ``logit(β / hi) ~ N(−log 9,
# 1.5²)`` (median ``hi / 10``: 5 for the default ``hi = 50``). Tied to the bounds so that a user who
# rescales the bounds for another reward scale rescales the prior with them. See docs/fitting.md.
TEMPERATURES = ("tau", "tau1", "tau2")
INVERSE_TEMPERATURES = ("beta", "beta1", "beta2")
DEFAULT_PRIOR_SD = 1.5
DEFAULT_PRIOR_RATIO = 10.0


def default_prior(
    model: str | ChoiceModel,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    fixed: Mapping[str, float] | None = None,
) -> dict[str, tuple[float, float]]:
    """The weak prior :func:`fit` uses when not given one: ``{name: (mean, sd)}`` on the ``z`` scale.

    Parameters
    ----------
    model : str or ChoiceModel
    bounds : dict, optional
        Fitting bounds (natural scale) replacing the model's defaults, as in :func:`fit`.
    fixed : dict, optional
        Fixed parameters (they get no prior).

    Returns
    -------
    dict
        For each free temperature ``τ`` with bounds ``(lo, hi)``, ``lo > 0``, ``10 lo < hi``: a
        Gaussian on ``z`` with mean ``z(10 lo)`` and sd 1.5 (log-normal on ``τ − lo`` when
        ``hi = ∞``); for each free inverse temperature ``β`` with bounds ``(0, hi)``, ``hi`` finite: mean
        ``z(hi / 10)``, sd 1.5 (logit-normal on ``β / hi``). Other parameters get none (flat in ``z``).
    """
    model = get_model(model)
    b = model.default_bounds()
    b.update(bounds or {})
    out: dict[str, tuple[float, float]] = {}
    for name in model.param_names:
        if name in (fixed or {}):
            continue
        lo, hi = (float(v) for v in b[name])
        if name in TEMPERATURES and lo > 0 and DEFAULT_PRIOR_RATIO * lo < hi:
            median = DEFAULT_PRIOR_RATIO * lo
        elif name in INVERSE_TEMPERATURES and lo == 0 and 0 < hi < math.inf:
            median = hi / DEFAULT_PRIOR_RATIO
        else:
            continue
        z = Transform(np.array([lo]), np.array([hi])).to_unconstrained(np.array([median]))[0]
        out[name] = (float(z), DEFAULT_PRIOR_SD)
    return out


def _resolve_prior(
    model: ChoiceModel,
    prior: Prior | None,
    fixed: dict,
    bounds: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, tuple[float, float]]:
    """Validate ``prior``: ``{name: (mean, sd)}`` of a Gaussian on the unconstrained scale ``z``.

    ``None`` means the default weak prior (:func:`default_prior`); ``{}`` maximum likelihood."""
    if prior is None:
        return default_prior(model, bounds, fixed)
    if not isinstance(prior, Mapping):
        raise ValueError(
            f"prior must be a dict {{name: (mean, sd)}} on the unconstrained scale, got {prior!r}"
        )
    out = {}
    for name, val in prior.items():
        if name not in model.param_names:
            raise ValueError(
                f"prior: unknown parameter {name!r} of model {model.name!r}; "
                f"parameters are {list(model.param_names)}"
            )
        if name in fixed:
            raise ValueError(f"prior[{name!r}]: the parameter is fixed (fixed[{name!r}] = {fixed[name]})")
        try:
            mean, sd = (float(val[0]), float(val[1]))
            if len(val) != 2:
                raise ValueError
        except (TypeError, ValueError, IndexError):
            raise ValueError(
                f"prior[{name!r}] must be a pair (mean, sd) on the unconstrained scale, got {val!r}"
            ) from None
        if not math.isfinite(mean):
            raise ValueError(f"prior[{name!r}]: mean must be finite, got {mean}")
        if not (sd > 0 and math.isfinite(sd)):
            raise ValueError(f"prior[{name!r}]: sd must be positive and finite, got {sd}")
        out[name] = (mean, sd)
    return out


def check_parameters(
    model: ChoiceModel, values: NDArray[np.float64], subjects, *, what: str = "params:"
) -> None:
    """Raise ``ValueError`` unless every value lies in its parameter's domain.

    The one check of parameter values shared by :func:`log_likelihood`,
    :func:`dopasoft.fitting.simulate` and ``dopasoft figures``.

    Parameters
    ----------
    model : ChoiceModel
    values : array_like, shape (n_subjects, n_params)
        Natural-scale parameters, columns in the order of ``model.param_names``.
    subjects : sequence
        Subject identifiers of the rows (named in the message).
    what : str
        What holds the values, starting the message (``"params:"``, ``"fits.csv, column"``).

    Raises
    ------
    ValueError
        Naming the parameter, the subject, the value and the domain, e.g. ``params: 'tau' = -1 for
        subject 's1' is outside its domain (0, inf)``.
    """
    values = np.asarray(values, dtype=float)
    for j, par in enumerate(model.params):
        col = values[:, j]
        bad = np.array([not par.in_domain(v) for v in col], dtype=bool)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            v, who = col[i], _subject_text(subjects[i])
            if np.isnan(v):
                raise ValueError(
                    f"{what} {par.name!r} is missing (NaN) for subject {who}; it must be a "
                    f"number in {par.domain_text()}"
                )
            raise ValueError(
                f"{what} {par.name!r} = {v:g} for subject {who} is outside its domain {par.domain_text()}"
            )


def _subject_text(s) -> str:
    return repr(s.item() if isinstance(s, np.generic) else s)


def _params_matrix(model: ChoiceModel, tr: Transitions, params) -> NDArray[np.float64]:
    """Per-subject natural parameter matrix (n_subjects, n_params) from a dict or a DataFrame.

    A DataFrame is matched on its ``subject`` column (or index); one with neither (a plain
    RangeIndex) is taken row by row in subject order. Values are checked against each parameter's
    domain (:func:`check_parameters`)."""
    names = model.param_names
    n = tr.n_subjects
    if (
        isinstance(params, pd.DataFrame)
        and "subject" not in params.columns
        and isinstance(params.index, pd.RangeIndex)
    ):
        if len(params) != n:
            raise ValueError(
                f"params: {len(params)} rows without a 'subject' column for {n} "
                "subjects; add a 'subject' column"
            )
        params = params.assign(subject=[str(s) for s in tr.subjects])
    if isinstance(params, pd.DataFrame):
        df = params.set_index("subject") if "subject" in params.columns else params
        df = df.copy()
        df.index = df.index.map(str)
        missing = [p for p in names if p not in df.columns]
        if missing:
            raise ValueError(f"params: missing parameter column(s) {missing} for model {model.name!r}")
        keys = [str(s) for s in tr.subjects]
        absent = [k for k in keys if k not in df.index]
        if absent:
            raise ValueError(f"params: no row for subject {absent[0]!r}")
        if df.index.duplicated().any():
            dup = df.index[df.index.duplicated()][0]
            raise ValueError(f"params: subject {dup!r} has more than one row")
        sub = df.loc[keys, list(names)]
        for name in names:
            num = pd.to_numeric(sub[name], errors="coerce")
            bad = num.isna() & sub[name].notna()
            if bad.any():
                k = int(np.flatnonzero(bad.to_numpy())[0])
                raise ValueError(
                    f"params: {name!r} = {sub[name].iloc[k]!r} for subject {keys[k]!r} is not a number"
                )
        mat = sub.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    elif isinstance(params, Mapping):
        unknown = [k for k in params if k not in names]
        missing = [p for p in names if p not in params]
        if unknown:
            raise ValueError(
                f"params: unknown parameter(s) {unknown} of model {model.name!r}; "
                f"parameters are {list(names)}"
            )
        if missing:
            raise ValueError(f"params: missing parameter(s) {missing} of model {model.name!r}")
        vals = []
        for p in names:
            try:
                if isinstance(params[p], bool | str):
                    raise TypeError
                vals.append(float(params[p]))
            except (TypeError, ValueError):
                raise ValueError(f"params: {p!r} must be a number, got {params[p]!r}") from None
        mat = np.tile(np.array(vals), (n, 1))
    else:
        try:
            mat = np.asarray(params, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                f"params: expected a dict, a DataFrame or an array of numbers, got {type(params).__name__}"
            ) from None
        if mat.ndim == 1:
            mat = np.tile(mat, (n, 1))
        if mat.shape != (n, len(names)):
            raise ValueError(f"params: expected shape ({n}, {len(names)}), got {mat.shape}")
    check_parameters(model, mat, list(tr.subjects))
    return mat


def log_likelihood(data, model: str | ChoiceModel, params) -> pd.Series:
    """Negative log-likelihood of each subject's choices.

    Parameters
    ----------
    data : pandas.DataFrame or Transitions
        Choice data (see :mod:`dopasoft.fitting.data`).
    model : str or ChoiceModel
        A model name (see :func:`get_model`) or model object.
    params : dict, pandas.DataFrame or array_like
        One parameter set for everybody (``{"alpha": 0.3, ...}``), or one row per subject (DataFrame
        with a ``subject`` column or index; array of shape (n_subjects, n_params)).

    Returns
    -------
    pandas.Series
        ``−Σ log P(choice)`` over the choices made, indexed by subject.
    """
    model = get_model(model)
    tr = _as_data(data)
    model.check_task(tr)
    mat = _params_matrix(model, tr, params)
    nll = model.nll_batch(tr, mat[:, None, :])[:, 0]
    return pd.Series(nll, index=tr.subjects, name="nll")


# ----------------------------------------------------------------------------------------------
# batched optimiser


class _Objective:
    """NLL as a function of unconstrained free parameters, for (subject row, vector) pairs."""

    def __init__(self, model, tr, free_idx, fixed_vals, transform, prior=None):
        self.model, self.tr = model, tr
        self.free_idx = free_idx
        self.base = fixed_vals  # (n_params,) with fixed values, NaN for free
        self.transform = transform
        self.n_evals = 0
        # None or (mean, sd) arrays over the free parameters of a Gaussian on z (sd = inf: flat);
        # the objective is then the negative log joint
        self.prior = prior

    def neg_log_prior(self, z):
        """``-log N(z | mean, diag(sd^2))`` summed over parameters with a prior (0 without one)."""
        if self.prior is None:
            return np.zeros(z.shape[:-1])
        mu, sd = self.prior
        on = np.isfinite(sd)
        zz, mm, ss = z[..., on], mu[on], sd[on]
        return (
            0.5 * np.sum(((zz - mm) / ss) ** 2, axis=-1)
            + np.sum(np.log(ss))
            + 0.5 * on.sum() * np.log(2 * np.pi)
        )

    def prior_grad(self, z):
        """Gradient of :meth:`neg_log_prior` in ``z``."""
        mu, sd = self.prior
        return (z - mu) / sd**2  # 0 where sd = inf

    def natural(self, z):
        theta = np.broadcast_to(self.base, z.shape[:-1] + self.base.shape).copy()
        theta[..., self.free_idx] = self.transform.to_natural(z)
        return theta

    @property
    def has_grad(self) -> bool:
        """The model provides analytic (forward-mode) gradients."""
        return getattr(self.model, "nll_grad_pairs", None) is not None

    def value_and_grad(self, subj, z):
        """Objective and its gradient in ``z`` (analytic, or forward differences as fallback)."""
        if not self.has_grad:
            f = self(subj, z)
            return f, _fd_gradient(self, subj, z, f)
        if len(subj) == 0:
            return np.empty(0), np.empty((0, z.shape[-1]))
        self.n_evals += len(subj)
        f, g_theta = self.model.nll_grad_pairs(self.tr, subj, self.natural(z))
        g = g_theta[:, self.free_idx] * self.transform.derivative(z)
        if self.prior is not None:
            f = f + self.neg_log_prior(z)
            g = g + self.prior_grad(z)
        bad = ~np.isfinite(f) | ~np.all(np.isfinite(g), axis=1)
        f = np.where(bad, np.inf, f)
        g[bad] = 0.0
        return f, g

    def __call__(self, subj, z):
        if len(subj) == 0:
            return np.empty(0)
        self.n_evals += len(subj)
        f = self.model.nll_pairs(self.tr, subj, self.natural(z))
        if self.prior is not None:
            f = f + self.neg_log_prior(z)
        return np.where(np.isfinite(f), f, np.inf)


def _fd_gradient(obj, subj, z, f, h=1e-7):
    """Forward-difference gradient of all problems, in one compiled call."""
    n, k = z.shape
    step = h * np.maximum(1.0, np.abs(z))
    zz = np.repeat(z[:, None, :], k, axis=1)
    zz[:, np.arange(k), np.arange(k)] += step
    fp = obj(np.repeat(subj, k), zz.reshape(n * k, k)).reshape(n, k)
    return (fp - f[:, None]) / step


def _merge_duplicates(z, f, active, n_starts, tol):
    """Stop starts of one subject that have joined another start of the same subject.

    Problems are laid out subject-major (``n_starts`` consecutive rows per subject). Of two active
    starts within ``tol`` (max-norm, unconstrained scale) the one with the higher NLL (or, on a
    tie, the later start) stops: both are in the same basin. Returns the rows stopped.
    """
    n, k = z.shape
    zz = z.reshape(-1, n_starts, k)
    ff = f.reshape(-1, n_starts)
    aa = active.reshape(-1, n_starts)
    cand = np.flatnonzero(aa.sum(axis=1) >= 2)
    if cand.size == 0:
        return np.empty(0, np.int64)
    zc, fc, ac = zz[cand], ff[cand], aa[cand]
    d = np.max(np.abs(zc[:, :, None, :] - zc[:, None, :, :]), axis=-1)  # (m, S, S)
    idx = np.arange(n_starts)
    worse = (fc[:, :, None] > fc[:, None, :]) | (
        (fc[:, :, None] == fc[:, None, :]) & (idx[:, None] > idx[None, :])
    )
    close = (d < tol) & ac[:, :, None] & ac[:, None, :] & worse
    drop = close.any(axis=2)
    rows = (cand[:, None] * n_starts + idx[None, :])[drop]
    return rows


# why a problem stopped (``FitResult.starts["stop"]``); the first two count as converged
STOP_GRADIENT, STOP_SMALL_CHANGE, STOP_STALLED, STOP_MAXITER, STOP_NONFINITE, STOP_MERGED, STOP_RUNNING = (
    range(7)
)
STOP_REASONS = ("gradient", "small_change", "stalled", "maxiter", "nonfinite", "merged", "running")
#: with no further decrease possible (relative change below ``ftol`` or no Armijo step), a problem
#: counts as converged only if its largest gradient component is below this multiple of ``gtol``
SMALL_CHANGE_GTOL_FACTOR = 10.0


@dataclass
class _BFGSResult:
    z: NDArray[np.float64]
    f: NDArray[np.float64]
    g: NDArray[np.float64]
    stop: NDArray[np.int64]
    n_iter: NDArray[np.int64]

    @property
    def converged(self) -> NDArray[np.bool_]:
        """The optimiser's own criterion was met (see :func:`_bfgs`)."""
        return (self.stop == STOP_GRADIENT) | (self.stop == STOP_SMALL_CHANGE)


def _bfgs(
    obj, subj, z0, *, n_starts=1, maxiter=200, gtol=1e-4, ftol=1e-9, max_step=4.0, merge_tol=0.1
) -> _BFGSResult:
    """Batched BFGS with backtracking (Armijo) line search; independent per problem.

    Gradients are the model's analytic ones when it has them (``nll_grad_pairs``), otherwise
    forward differences.
    Starts of one subject that meet in the same basin are merged (see :func:`_merge_duplicates`).

    A problem stops, and is *converged*, when (``g`` the gradient in ``z``, max-norm):

    * ``|g| < gtol`` (``"gradient"``), or
    * no further decrease is possible — an iteration lowered ``f`` by less than
      ``ftol · max(1, |f|)``, or no Armijo step was found in 30 halvings — while
      ``|g| < SMALL_CHANGE_GTOL_FACTOR · gtol`` (``"small_change"``).

    It stops *without* converging when no further decrease is possible but the gradient is larger
    (``"stalled"``, e.g. a failed line search away from a stationary point), after ``maxiter``
    iterations (``"maxiter"``), when the gradient is not finite (``"nonfinite"``), or when it has
    joined a better start of the same subject (``"merged"``).
    Returns a :class:`_BFGSResult` (``z, f, g, stop, n_iter``).
    """
    n, k = z0.shape
    z = z0.copy()
    analytic = obj.has_grad
    f, g = obj.value_and_grad(subj, z)
    hinv = np.repeat(np.eye(k)[None], n, axis=0)
    active = np.isfinite(f) & np.all(np.isfinite(g), axis=1)
    stop = np.where(active, STOP_RUNNING, STOP_NONFINITE).astype(np.int64)
    small_g = SMALL_CHANGE_GTOL_FACTOR * gtol
    n_iter = np.zeros(n, np.int64)
    first = np.ones(n, bool)
    for _ in range(maxiter):
        act = np.flatnonzero(active)
        if act.size == 0:
            break
        ga = g[act]
        d = -np.einsum("nij,nj->ni", hinv[act], ga)
        slope = np.sum(d * ga, axis=1)
        bad = ~(slope < 0) | ~np.all(np.isfinite(d), axis=1)
        if bad.any():  # reset to steepest descent
            hinv[act[bad]] = np.eye(k)
            d[bad] = -ga[bad]
            slope[bad] = -np.sum(ga[bad] ** 2, axis=1)
        norm = np.max(np.abs(d), axis=1)
        d *= np.minimum(1.0, max_step / np.maximum(norm, 1e-300))[:, None]
        slope = np.sum(d * ga, axis=1)
        t = np.ones(act.size)
        f_new = np.full(act.size, np.inf)
        g_new = np.zeros((act.size, k))
        accepted = np.zeros(act.size, bool)
        todo = np.arange(act.size)
        for _ls in range(30):
            zt = z[act[todo]] + t[todo, None] * d[todo]
            if analytic:  # value and gradient together: most first trials are accepted
                ft, gt = obj.value_and_grad(subj[act[todo]], zt)
            else:
                ft = obj(subj[act[todo]], zt)
            ok = ft <= f[act[todo]] + 1e-4 * t[todo] * slope[todo]
            f_new[todo[ok]] = ft[ok]
            if analytic:
                g_new[todo[ok]] = gt[ok]
            accepted[todo[ok]] = True
            todo = todo[~ok]
            if todo.size == 0:
                break
            t[todo] *= 0.5
        # problems whose line search failed: no decrease possible from here
        fail = ~accepted
        if fail.any():
            idx = act[fail]
            active[idx] = False
            gmax = np.max(np.abs(g[idx]), axis=1)
            stop[idx] = np.where(
                gmax < gtol, STOP_GRADIENT, np.where(gmax < small_g, STOP_SMALL_CHANGE, STOP_STALLED)
            )
        ok_idx = np.flatnonzero(accepted)
        if ok_idx.size == 0:
            continue
        a = act[ok_idx]
        s = t[ok_idx, None] * d[ok_idx]
        z_new = z[a] + s
        fn = f_new[ok_idx]
        gn = g_new[ok_idx] if analytic else _fd_gradient(obj, subj[a], z_new, fn)
        y = gn - g[a]
        sy = np.sum(s * y, axis=1)
        good = sy > 1e-12
        h = hinv[a]
        # first iteration: scale the initial inverse Hessian
        scale = first[a] & good
        if scale.any():
            yy = np.sum(y[scale] ** 2, axis=1)
            h[scale] = np.eye(k)[None] * (sy[scale] / yy)[:, None, None]
        first[a] = False
        if good.any():
            rho = 1.0 / sy[good]
            hg, sg, yg = h[good], s[good], y[good]
            hy = np.einsum("nij,nj->ni", hg, yg)
            yhy = np.sum(yg * hy, axis=1)
            hg = (
                hg
                - rho[:, None, None] * (hy[:, :, None] * sg[:, None, :] + sg[:, :, None] * hy[:, None, :])
                + (rho**2 * yhy + rho)[:, None, None] * sg[:, :, None] * sg[:, None, :]
            )
            h[good] = hg
        hinv[a] = h
        df = f[a] - fn
        z[a], f[a], g[a] = z_new, fn, gn
        n_iter[a] += 1
        gmax = np.max(np.abs(gn), axis=1)
        finite = np.all(np.isfinite(gn), axis=1)
        small = df <= ftol * np.maximum(1.0, np.abs(fn))
        why = np.full(a.size, STOP_RUNNING)
        why[small] = np.where(gmax[small] < small_g, STOP_SMALL_CHANGE, STOP_STALLED)
        why[gmax < gtol] = STOP_GRADIENT
        why[~finite] = STOP_NONFINITE
        done = why != STOP_RUNNING
        stop[a[done]] = why[done]
        active[a[done]] = False
        if n_starts > 1 and merge_tol > 0:
            merged = _merge_duplicates(z, f, active, n_starts, merge_tol)
            active[merged] = False
            stop[merged] = STOP_MERGED
    stop[active] = STOP_MAXITER
    return _BFGSResult(z=z, f=f, g=g, stop=stop, n_iter=n_iter)


def _hessian(obj, subj, z, h=1e-4, *, with_gradient=False):
    """Central-difference Hessian of every problem, in one compiled call (n, k, k).

    With ``with_gradient`` also the central-difference gradient (n, k) from the same points."""
    n, k = z.shape
    pts, tags = [], []
    for i in range(k):
        for sgn in (1, -1):
            p = z.copy()
            p[:, i] += sgn * h
            pts.append(p)
            tags.append(("d", i, sgn))
    for i in range(k):
        for j in range(i + 1, k):
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                p = z.copy()
                p[:, i] += si * h
                p[:, j] += sj * h
                pts.append(p)
                tags.append(("o", i, j, si * sj))
    zz = np.stack(pts, axis=1)  # (n, m, k)
    m = zz.shape[1]
    f0 = obj(subj, z)
    fv = obj(np.repeat(subj, m), zz.reshape(n * m, k)).reshape(n, m)
    hess = np.zeros((n, k, k))
    for col, tag in enumerate(tags):
        if tag[0] == "d":
            hess[:, tag[1], tag[1]] += fv[:, col] / h**2
        else:
            _, i, j, sign = tag
            hess[:, i, j] += sign * fv[:, col] / (4 * h * h)
    for i in range(k):
        hess[:, i, i] -= 2 * f0 / h**2
        for j in range(i + 1, k):
            hess[:, j, i] = hess[:, i, j]
    if not with_gradient:
        return hess
    grad = (fv[:, 0 : 2 * k : 2] - fv[:, 1 : 2 * k : 2]) / (2 * h)
    return hess, grad


# ----------------------------------------------------------------------------------------------
# fitting


@dataclass
class FitResult:
    """Result of :func:`fit`.

    Attributes
    ----------
    params : pandas.DataFrame
        One row per subject: ``subject``, each parameter, ``nll`` (and ``nlp``, the negative log
        posterior, with a prior), ``aic``, ``bic``, ``n_choices``, ``converged`` (the optimiser's own
        stopping criterion was met), ``at_bound`` (a free parameter lies at one of its bounds),
        ``se_<param>`` (NaN for fixed parameters and at a bound), ``n_starts`` and ``notes`` (why a
        fit is not converged, which parameter is at which bound, why standard errors are missing;
        empty when there is nothing to report). A subject with no valid choices has NaN parameters,
        ``nll``, ``aic``, ``bic`` and ``converged = False``.
    model : ChoiceModel
    fixed : dict
    starts : pandas.DataFrame
        Every start's final NLL (``subject``, ``start``, ``nll``, [``nlp``,] ``converged``,
        ``n_iter``, ``stop`` — why it stopped: ``gradient``, ``small_change``, ``stalled``,
        ``maxiter``, ``nonfinite``, ``merged`` or ``no_choices`` — and ``max_gradient``, the
        largest gradient component on the unconstrained scale where it stopped).
    prior : dict
        The prior ``{name: (mean, sd)}`` on the unconstrained scale (empty: maximum likelihood).
    """

    params: pd.DataFrame
    model: ChoiceModel
    fixed: dict
    starts: pd.DataFrame
    prior: dict = field(default_factory=dict)

    def summary(self) -> str:
        """Plain-text summary: parameter distribution, total NLL/AIC/BIC, convergence.

        Subjects with no valid choices are left out of the totals and the distribution (and
        counted)."""
        p = self.params
        names = list(self.model.param_names)
        fitted = p[p["n_choices"] > 0]
        n_out = len(p) - len(fitted)
        desc = fitted[names].describe().T[["mean", "std", "min", "50%", "max"]]
        head = (
            f"model {self.model.name!r}: {len(fitted)} subjects, {int(fitted['converged'].sum())} converged"
        )
        if "at_bound" in fitted.columns:
            head += f", {int(fitted['at_bound'].sum())} at a bound"
        lines = [head]
        if n_out:
            lines.append(f"{n_out} subject(s) with no valid choices left out")
        lines.append(
            f"total NLL {fitted['nll'].sum():.3f}, AIC {fitted['aic'].sum():.3f}, "
            f"BIC {fitted['bic'].sum():.3f}"
        )
        if self.fixed:
            lines.append("fixed: " + ", ".join(f"{k}={v:g}" for k, v in self.fixed.items()))
        if self.prior:
            lines.append(
                f"MAP, total NLP {fitted['nlp'].sum():.3f}; prior on z: "
                + ", ".join(f"{k}~N({m:g}, {sd:g}^2)" for k, (m, sd) in self.prior.items())
            )
        else:
            lines.append("maximum likelihood (no prior)")
        lines.append(desc.to_string(float_format=lambda x: f"{x:.4g}"))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"FitResult(model={self.model.name!r}, n_subjects={len(self.params)})"


def _subject_rng(seed: int, subject) -> np.random.Generator:
    key = zlib.crc32(str(subject).encode("utf-8"))
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, key])


def _draw_starts(model, tr, free, lo, hi, n_starts, seed):
    """Starts (n_subjects, n_starts, n_free), natural scale: the middle of each start range, then
    uniform draws from a generator seeded by ``(seed, subject id)``; strictly inside the bounds."""
    n_sub, k = tr.n_subjects, len(free)
    starts = np.empty((n_sub, n_starts, k))
    for i, subj in enumerate(tr.subjects):
        rng = _subject_rng(seed, subj)
        for jj, j in enumerate(free):
            a, b = model.params[j].start
            a, b = max(a, lo[jj]), min(b, hi[jj])
            if not a < b:  # user bounds outside the usual start range
                a, b = lo[jj], hi[jj]
            u = rng.uniform(size=n_starts)
            u[0] = 0.5
            starts[i, :, jj] = a + (b - a) * u
    span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    return np.clip(starts, lo + 1e-6 * span, hi - 1e-6 * span)


#: a free parameter is *at a bound* when its estimate is within this fraction of its scale of a
#: finite bound (natural scale); the scale is ``upper − lower`` with two finite bounds, else
#: ``max(1, |bound|)``
AT_BOUND_RTOL = 1e-3


def _bound_mask(theta: NDArray[np.float64], lo: NDArray[np.float64], hi: NDArray[np.float64]):
    """Which estimates (n, k) lie within :data:`AT_BOUND_RTOL` of their lower / upper bound."""
    both = np.isfinite(lo) & np.isfinite(hi)
    one = np.where(np.isfinite(lo), np.abs(lo), np.abs(hi))
    with np.errstate(invalid="ignore"):
        tol = AT_BOUND_RTOL * np.where(both, hi - lo, np.maximum(1.0, np.where(np.isfinite(one), one, 1.0)))
        near_lo = np.isfinite(lo) & (theta - lo <= tol)
        near_hi = np.isfinite(hi) & (hi - theta <= tol)
    return near_lo, near_hi


def _snap_to_bounds(obj, z, f, lo, hi):
    """Move estimates onto their nearest finite bound where the objective is lower there.

    A likelihood that keeps falling towards a bound flattens out near it, so the optimiser stops
    short, at an arbitrary point of the flat stretch (e.g. τ = 0.023 for a near-deterministic subject
    whose likelihood is highest at the lower bound 0.02). Each free parameter in turn is tried at its
    nearest finite bound (``z = ±∞``) with the others held; the move is kept if the objective is no
    higher there (to 1e-9 relative: the flat stretch is often flat to rounding). Bounds outside the
    domain the likelihood accepts (τ = 0) are not tried. Returns the new ``z`` and objective values."""
    z, f = z.copy(), f.copy()
    n, k = z.shape
    subj = np.arange(n, dtype=np.int64)
    theta = obj.transform.to_natural(z)
    params = [obj.model.params[int(j)] for j in obj.free_idx]
    for j in range(k):
        fin_lo = bool(np.isfinite(lo[j])) and params[j].in_domain(float(lo[j]))
        fin_hi = bool(np.isfinite(hi[j])) and params[j].in_domain(float(hi[j]))
        if not (fin_lo or fin_hi):
            continue
        if fin_lo and fin_hi:
            to_lo = theta[:, j] - lo[j] <= hi[j] - theta[:, j]
        else:
            to_lo = np.full(n, fin_lo)
        cand = z.copy()
        cand[:, j] = np.where(to_lo, -np.inf, np.inf)
        rows = np.flatnonzero(np.isfinite(f))
        if rows.size == 0:
            break
        fc = obj(subj[rows], cand[rows])
        better = fc <= f[rows] + 1e-9 * np.maximum(1.0, np.abs(f[rows]))
        idx = rows[better]
        z[idx], f[idx] = cand[idx], fc[better]
        theta[idx] = obj.transform.to_natural(z[idx])
    return z, f


def _standard_errors(hess, grad, z, transform, at_bound):
    """Standard errors (natural scale) of the free parameters and a note per problem.

    The Hessian of the objective in ``θ`` is recovered from the one in ``z`` exactly, also where
    the gradient is not quite zero: ``H_θ = J⁻¹ (H_z − diag(g_z · θ''/θ')) J⁻¹`` with ``J = diag(θ')``,
    so ``se(θ_j) = |θ'_j| sqrt([(H_z − diag(g_z θ''/θ'))⁻¹]_jj)``. Parameters at a bound get NaN
    and are left out of the matrix (the others' SEs are those with them held at the bound): a
    boundary optimum is not a stationary point, so the curvature there says nothing about its
    uncertainty. NaN for all when that matrix is not positive definite.
    """
    n, k = z.shape
    se = np.full((n, k), np.nan)
    notes = [""] * n
    jac = transform.derivative(z)
    ratio = transform.derivative_ratio(z)
    for i in range(n):
        inner = ~at_bound[i]
        if not inner.any():
            continue
        idx = np.flatnonzero(inner)
        h = hess[i][np.ix_(idx, idx)] - np.diag(grad[i, idx] * ratio[i, idx])
        if not np.all(np.isfinite(h)):
            notes[i] = "Hessian not finite: no standard errors"
            continue
        h = 0.5 * (h + h.T)
        w = np.linalg.eigvalsh(h)
        if not w.min() > 0:
            notes[i] = "Hessian not positive definite: no standard errors"
            continue
        cov = np.linalg.inv(h)
        se[i, idx] = np.abs(jac[i, idx]) * np.sqrt(np.diag(cov))
    return se, notes


def _fit_block(
    model: ChoiceModel,
    tr: Transitions,
    n_starts: int,
    seed: int,
    fixed: dict,
    bounds: dict,
    prior: dict | None = None,
    maxiter: int = 200,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit every subject of ``tr`` (all starts at once); returns (per-subject rows, per-start rows).

    With ``prior`` (resolved ``{name: (mean, sd)}``) the objective is the negative log posterior.
    Subjects without choices are optimised like the others (their objective is flat, so this costs
    nothing and keeps every other subject's path unchanged) and then reported as NaN."""
    names = list(model.param_names)
    free = [j for j, nm in enumerate(names) if nm not in fixed]
    base = np.array([fixed.get(nm, np.nan) for nm in names])
    lo = np.array([bounds[names[j]][0] for j in free], float)
    hi = np.array([bounds[names[j]][1] for j in free], float)
    transform = Transform(lo, hi)
    obj = _Objective(model, tr, np.array(free, np.int64), base, transform)
    if prior:
        mu = np.array([prior.get(names[j], (0.0, np.inf))[0] for j in free], float)
        sd = np.array([prior.get(names[j], (0.0, np.inf))[1] for j in free], float)
        obj.prior = (mu, sd)
    n_sub, k = tr.n_subjects, len(free)
    starts = _draw_starts(model, tr, free, lo, hi, n_starts, seed)
    subj_idx = np.repeat(np.arange(n_sub, dtype=np.int64), n_starts)
    if k:
        z0 = transform.to_unconstrained(starts).reshape(n_sub * n_starts, k)
        run = _bfgs(obj, subj_idx, z0, n_starts=n_starts, maxiter=maxiter)
        z, f, stop, n_iter = run.z, run.f, run.stop, run.n_iter
        gmax = np.max(np.abs(run.g), axis=1)
    else:
        z = np.zeros((n_sub * n_starts, 0))
        f = obj(subj_idx, z)
        stop, n_iter = np.full(len(f), STOP_GRADIENT, np.int64), np.zeros(len(f), np.int64)
        gmax = np.zeros(len(f))
    conv = (stop == STOP_GRADIENT) | (stop == STOP_SMALL_CHANGE)
    f2 = np.where(np.isfinite(f), f, np.inf).reshape(n_sub, n_starts)
    best = np.argmin(f2, axis=1)  # ties -> lowest start index
    rows = np.arange(n_sub) * n_starts + best
    zb, fb = z[rows], f[rows]
    if k:
        zb, fb = _snap_to_bounds(obj, zb, fb, lo, hi)
    theta = obj.natural(zb)
    nll = fb
    if prior:  # f is the negative log posterior; the NLL of every start follows from it
        nlp_all = f
        f = np.where(np.isfinite(f), f - obj.neg_log_prior(z), np.inf)
        nlp = nll
        nll = np.where(np.isfinite(nlp), model.nll_pairs(tr, np.arange(n_sub, dtype=np.int64), theta), np.inf)
    se = np.full((n_sub, len(names)), np.nan)
    near_lo, near_hi = _bound_mask(theta[:, free], lo, hi)
    at_bound = near_lo | near_hi
    se_notes = [""] * n_sub
    if k:
        hess, grad = _hessian(obj, np.arange(n_sub, dtype=np.int64), zb, with_gradient=True)
        se[:, free], se_notes = _standard_errors(hess, grad, zb, transform, at_bound)
    empty = tr.n_choices == 0
    converged = conv[rows] & np.isfinite(nll) & ~empty
    notes_col = []
    for i in range(n_sub):
        if empty[i]:
            notes_col.append("no valid choices")
            continue
        notes = []
        if not converged[i]:
            why = STOP_REASONS[stop[rows[i]]]
            notes.append(f"not converged ({why}, gradient {gmax[rows[i]]:.1e})")
        for jj, j in enumerate(free):
            if near_lo[i, jj]:
                notes.append(f"{names[j]} at lower bound {lo[jj]:g}")
            elif near_hi[i, jj]:
                notes.append(f"{names[j]} at upper bound {hi[jj]:g}")
        if se_notes[i]:
            notes.append(se_notes[i])
        notes_col.append("; ".join(notes))
    if empty.any():  # nothing to fit: no made-up estimate
        theta[np.ix_(empty, free)] = np.nan
        se[empty] = np.nan
        nll = np.where(empty, np.nan, nll)
        if prior:
            nlp = np.where(empty, np.nan, nlp)
        at_bound[empty] = False
    n_ch = tr.n_choices.astype(float)
    out = pd.DataFrame({"subject": list(tr.subjects)})
    for j, nm in enumerate(names):
        out[nm] = theta[:, j]
    out["nll"] = nll
    if prior:
        out["nlp"] = nlp
    out["aic"] = 2 * nll + 2 * k
    out["bic"] = 2 * nll + k * np.log(np.maximum(n_ch, 1.0))
    out["n_choices"] = tr.n_choices
    out["converged"] = converged
    out["at_bound"] = at_bound.any(axis=1)
    for j, nm in enumerate(names):
        out[f"se_{nm}"] = se[:, j]
    out["n_starts"] = n_starts
    out["notes"] = notes_col
    empty_starts = np.repeat(empty, n_starts)
    st = pd.DataFrame(
        {
            "subject": np.repeat(np.array(list(tr.subjects), dtype=object), n_starts),
            "start": np.tile(np.arange(n_starts), n_sub),
            "nll": np.where(empty_starts, np.nan, f),
            "converged": conv & ~empty_starts,
            "n_iter": n_iter,
            "stop": np.where(empty_starts, "no_choices", np.array(STOP_REASONS, dtype=object)[stop]),
            "max_gradient": np.where(empty_starts, np.nan, gmax),
        }
    )
    if prior:
        st.insert(3, "nlp", np.where(empty_starts, np.nan, nlp_all))
    return out, st


def _prepare(data, model, n_starts, fixed, bounds):
    model = get_model(model)
    tr = _as_data(data)
    model.check_task(tr)
    if not isinstance(n_starts, int | np.integer) or n_starts < 1:
        raise ValueError(f"n_starts must be a positive integer, got {n_starts!r}")
    b = _resolve_bounds(model, bounds)
    fx = _resolve_fixed(model, fixed, b)
    return model, tr, b, fx


def _warn_empty(subjects: list) -> None:
    """One ``UserWarning`` naming the subjects that have no valid choices (nothing to fit)."""
    if not subjects:
        return
    shown = ", ".join(repr(str(x)) for x in subjects[:10])
    more = f" and {len(subjects) - 10} more" if len(subjects) > 10 else ""
    warnings.warn(
        f"fit: subject(s) {shown}{more} have no valid choices: nothing to fit, so their parameters, "
        "nll, aic and bic are NaN, converged is False, and group summaries leave them out",
        UserWarning,
        stacklevel=3,
    )


#: Subjects per compiled batch when ``fit``/``iter_fit`` run without an executor and no ``chunk_size``:
#: large enough to keep every core busy, small enough that the optimiser's state (about 1.5 kB per
#: subject x start for three free parameters) stays a few tens of MB whatever the cohort's size.
DEFAULT_CHUNK = 1000


def iter_fit(
    data,
    model: str | ChoiceModel,
    *,
    n_starts: int = 10,
    seed: int = 0,
    fixed: Mapping[str, float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    executor: Executor | None = None,
    chunk_size: int | None = None,
    skip: set | None = None,
    prior: Prior | None = None,
    maxiter: int = 200,
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Fit subjects in chunks, yielding ``(params_rows, start_rows)`` as each chunk finishes.

    Same arguments as :func:`fit`, plus ``skip`` (subject identifiers, compared as strings, not to
    fit — used for resuming). Without an executor the chunks run one after the other; with one, at
    most two chunks per worker are in flight (a chunk's data is cut and sent only then) and chunks are
    yielded in the order they finish. Nothing of a chunk is kept once it is yielded, so a caller that
    writes each chunk away (``dopasoft fit``) holds memory that does not grow with the cohort.

    Warns (``UserWarning``, once, naming them) about subjects with no valid choices.
    """
    model, tr, b, fx = _prepare(data, model, n_starts, fixed, bounds)
    pr = _resolve_prior(model, prior, fx, b)
    if not isinstance(maxiter, int | np.integer) or isinstance(maxiter, bool) or maxiter < 0:
        raise ValueError(f"maxiter must be a non-negative integer, got {maxiter!r}")
    skip_s = {str(s) for s in (skip or ())}
    rows = np.array([i for i, s in enumerate(tr.subjects) if str(s) not in skip_s], np.int64)
    if rows.size == 0:
        return
    _warn_empty([tr.subjects[i] for i in rows if tr.n_choices[i] == 0])
    if chunk_size is None:
        if executor is None:
            chunk_size = min(rows.size, DEFAULT_CHUNK)
        else:
            per_worker = math.ceil(rows.size / (4 * _executor_workers(executor)))
            chunk_size = max(1, min(per_worker, DEFAULT_CHUNK))
    if not isinstance(chunk_size, int | np.integer) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    starts_at = range(0, rows.size, chunk_size)
    ctx = getattr(executor, "_mp_context", None)
    if ctx is not None and ctx.get_start_method() == "fork":
        raise ValueError(
            "executor: a ProcessPoolExecutor must not fork a process that has run compiled "
            "parallel code (numba/OpenMP); create it with "
            "mp_context=multiprocessing.get_context('spawn') or 'forkserver'"
        )
    if executor is None:
        for i in starts_at:
            yield _fit_block(model, tr.take(rows[i : i + chunk_size]), n_starts, seed, fx, b, pr, maxiter)
        return
    # A bounded number of chunks in flight: each chunk's data is cut and sent only when a worker is
    # about to be free, and a finished chunk is forgotten once yielded, so memory held here (and on a
    # Dask scheduler) does not grow with the number of subjects.
    pending = iter(starts_at)
    running: set = set()
    try:
        while True:
            while len(running) < 2 * _executor_workers(executor):
                i = next(pending, None)
                if i is None:
                    break
                c = tr.take(rows[i : i + chunk_size])
                running.add(executor.submit(_fit_block, model, c, n_starts, seed, fx, b, pr, maxiter))
                del c
            if not running:
                return
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                result = fut.result()
                yield result
            del done, fut, result
    finally:
        for fut in running:
            fut.cancel()


def _executor_workers(executor: Executor) -> int:
    """Chunks an executor runs at once: ``_max_workers`` of a pool, the worker threads of a Dask
    client's executor (at least 1, so a cluster whose workers have not joined yet still gets work)."""
    n = getattr(executor, "_max_workers", None)
    if n:
        return int(n)
    client = getattr(executor, "_client", None)  # distributed.Client.get_executor()
    if client is not None:
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:  # a scheduler that cannot answer now: one chunk at a time is still correct
            return 1
    return 4


def fit(
    data,
    model: str | ChoiceModel,
    *,
    n_starts: int = 10,
    seed: int = 0,
    fixed: Mapping[str, float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    executor: Executor | None = None,
    chunk_size: int | None = None,
    prior: Prior | None = None,
    maxiter: int = 200,
) -> FitResult:
    r"""Fit a choice model to each subject by maximum likelihood or MAP (multi-start).

    Parameters
    ----------
    data : pandas.DataFrame or Transitions
        Choice data (two-step canonical or hBayesDM, or bandit; see :mod:`dopasoft.fitting.data`).
    model : str or ChoiceModel
        Model name (:func:`dopasoft.fitting.get_model`) or object (for options such as ``kappa``).
    n_starts : int, default 10
        Starts per subject: the middle of each parameter's start range, then uniform draws.
    seed : int, default 0
        Seed of the starts; each subject's starts derive from ``(seed, subject id)`` only.
    fixed : dict, optional
        Parameters held at given values (not counted in AIC/BIC).
    bounds : dict, optional
        ``{name: (lower, upper)}`` replacing default bounds (natural scale).
    executor : concurrent.futures.Executor, optional
        Run chunks of subjects on it: a thread or process pool (``spawn``/``forkserver``), or a Dask
        cluster through ``distributed.Client(...).get_executor()`` (docs/fitting.md). Results are
        identical without it: each subject's fit depends only on its data, its starts and the options.
    chunk_size : int, optional
        Subjects per compiled batch. Default: ``DEFAULT_CHUNK`` (1000) without an executor; with one,
        about four chunks per worker, at most ``DEFAULT_CHUNK`` subjects each.
    prior : dict, optional
        MAP fitting: ``{name: (mean, sd)}``, independent Gaussian priors ``z ~ N(mean, sd²)`` on the
        unconstrained scale of each named parameter (``z = log((θ − lo)/(hi − θ))`` with two bounds,
        ``z = log(θ − lo)`` with a lower bound only — a logit-normal or log-normal prior on ``θ``);
        parameters not named are flat in ``z``. The optimiser then minimises the negative log
        posterior

        .. math:: \mathrm{NLP}(z) = \mathrm{NLL}(\theta(z)) + \sum_j \Big[
                  \frac{(z_j - m_j)^2}{2 s_j^2} + \log s_j + \tfrac12\log 2\pi \Big],

        and standard errors are the Laplace posterior standard deviations (Hessian of the NLP).
        Default (``None``): the weak prior on temperatures of :func:`default_prior`, which keeps
        near-deterministic subjects from running off; ``{}`` fits by maximum likelihood; a dict
        gives exactly those priors (no default added).
    maxiter : int, default 200
        BFGS iterations per start; a start stopped by it is not converged.

    Returns
    -------
    FitResult
        ``.params`` has one row per subject in data order: ``subject``, parameters, ``nll`` (and
        ``nlp`` with a prior), ``aic = 2 nll + 2k``, ``bic = 2 nll + k log n_choices`` (from the NLL
        also under a prior), ``n_choices``, ``converged`` (the optimiser's own criterion was met:
        largest gradient component on the unconstrained scale below 1e−4, or below 1e−3 when no
        further decrease was possible), ``at_bound`` (a free parameter within 1e−3 of its scale of a
        bound), ``se_<param>`` (NaN for fixed parameters and at a bound), ``n_starts`` and ``notes``.
        Subjects with no valid choices get NaN parameters, ``nll``, ``aic``, ``bic`` and
        ``converged = False``, and a ``UserWarning`` names them.

    Raises
    ------
    ValueError
        Bad data (naming subject/row/column), unknown model or parameter names, bad bounds, bad
        prior entries (naming the parameter).

    Examples
    --------
    Three simulated subjects, with a weak logit-normal prior on ``alpha`` centred at 0.5 and a log-normal
    one on ``tau − 0.02`` (the default lower bound) with median 0.18:

    >>> import numpy as np, dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(3, 100, seed=1)
    >>> res = fit(data, "soft-q-lambda", n_starts=2, prior={"alpha": (0.0, 1.5), "tau": (np.log(0.18), 1.0)})
    >>> res.params[["subject", "converged", "at_bound"]].to_string(index=False)
    ' subject  converged  at_bound\n       0       True     False\n       1       True     False\n       2       True     False'
    >>> fit(data, "soft-q-lambda", n_starts=2, prior={}).params.columns.tolist()[:6]   # plain ML: no nlp
    ['subject', 'alpha', 'tau', 'lam', 'nll', 'aic']
    """
    model, tr, b, fx = _prepare(data, model, n_starts, fixed, bounds)
    pr = _resolve_prior(model, prior, fx, b)
    parts = list(
        iter_fit(
            tr,
            model,
            n_starts=n_starts,
            seed=seed,
            fixed=fx,
            bounds=b,
            executor=executor,
            chunk_size=chunk_size,
            prior=pr,
            maxiter=maxiter,
        )
    )
    order = {str(s): i for i, s in enumerate(tr.subjects)}
    params = pd.concat([p for p, _ in parts], ignore_index=True)
    params = params.iloc[
        np.argsort(params["subject"].map(lambda s: order[str(s)]).to_numpy(), kind="stable")
    ].reset_index(drop=True)
    starts = pd.concat([s for _, s in parts], ignore_index=True)
    starts = starts.iloc[
        np.lexsort((starts["start"].to_numpy(), starts["subject"].map(lambda s: order[str(s)]).to_numpy()))
    ]
    return FitResult(params=params, model=model, fixed=fx, starts=starts.reset_index(drop=True), prior=pr)
