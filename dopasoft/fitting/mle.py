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

from dopasoft._messages import shown
from dopasoft.fitting.data import Transitions
from dopasoft.fitting.models import ChoiceModel, get_model
from dopasoft.fitting.optimizer import (
    STOP_GRADIENT,
    STOP_REASONS,
    STOP_SMALL_CHANGE,
    Transform,
    _bfgs,
    _bound_mask,
    _diverging,
    _hessian,
    _Objective,
    _snap_to_bounds,
    _standard_errors,
)
from dopasoft.fitting.parameters import (
    Prior,
    _as_data,
    _params_matrix,
    _resolve_bounds,
    _resolve_fixed,
    _resolve_prior,
    check_parameters,
    default_prior,
)

__all__ = [
    "negative_log_likelihood",
    "fit",
    "iter_fit",
    "default_prior",
    "check_parameters",
    "FitResult",
    "Transform",
]


# ----------------------------------------------------------------------------------------------
# likelihood


def negative_log_likelihood(data, model: str | ChoiceModel, params) -> pd.Series:
    """Negative log-likelihood (NLL) of each subject's choices.

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

    Examples
    --------
    >>> import numpy as np
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(2, 30, seed=0)
    >>> nll = ds.fitting.negative_log_likelihood(data, "soft-q", {"alpha": 0.5, "tau": 1e6})
    >>> bool(np.allclose(nll, 60 * np.log(2)))  # a very hot policy: every choice has probability 1/2
    True
    """
    model = get_model(model)
    tr = _as_data(data)
    model.check_task(tr)
    mat = _params_matrix(model, tr, params)
    nll = model.nll_batch(tr, mat[:, None, :])[:, 0]
    return pd.Series(nll, index=tr.subjects, name="nll")


# ----------------------------------------------------------------------------------------------
# fitting


@dataclass
class FitResult:
    """Result of :func:`fit`.

    Attributes
    ----------
    params : pandas.DataFrame
        One row per subject: ``subject``, each parameter, ``nll`` (and ``nlp``, the negative log
        posterior, with a prior), ``aic``, ``bic``, ``n_free`` (free parameters), ``n_choices``,
        ``converged`` (the optimiser's own
        stopping criterion was met), ``at_bound`` (a free parameter lies at one of its bounds, or runs
        off towards a bound no estimate can take: τ → 0, β → ∞, named in ``notes``),
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

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(2, 30, seed=0)
    >>> res = ds.fitting.fit(data, "soft-q", n_starts=1)
    >>> res.model.name, list(res.params["subject"])
    ('soft-q', [0, 1])
    >>> {"alpha", "tau", "nll", "aic", "bic", "converged"} <= set(res.params.columns)
    True
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
        nll = np.where(np.isfinite(nlp), obj.nll(np.arange(n_sub, dtype=np.int64), zb), np.inf)
    se = np.full((n_sub, len(names)), np.nan)
    near_lo, near_hi = _bound_mask(theta[:, free], lo, hi)
    if k:  # estimates on their way to a bound no estimate can sit on (tau -> 0, beta -> inf)
        inf_lo, inf_hi = _diverging(obj, zb, fb, lo, hi)
    else:
        inf_lo = inf_hi = np.zeros_like(near_lo)
    at_bound = near_lo | near_hi | inf_lo | inf_hi
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
            if inf_lo[i, jj] or inf_hi[i, jj]:
                notes.append(_infinite_estimate_note(names[j], lo[jj] if inf_lo[i, jj] else hi[jj], prior))
            elif near_lo[i, jj]:
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
    out["n_free"] = k  # free parameters, the k of aic and bic (fixed ones excluded)
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


def _infinite_estimate_note(name: str, limit: float, prior) -> str:
    """The note of an estimate that runs off to ``limit`` (see :func:`_diverging`)."""
    where = (
        "0" if limit == 0 else ("∞" if limit == math.inf else ("-∞" if limit == -math.inf else f"{limit:g}"))
    )
    also = ""
    if name.startswith("tau") and limit == 0:
        also = " (β → ∞)"
    elif name.startswith("tau") and limit == math.inf:
        also = " (β → 0)"
    elif name.startswith("beta") and limit == math.inf:
        also = " (τ → 0)"
    what = "posterior" if prior else "likelihood"
    return f"{name} → {where}{also}: the {what} keeps rising; no finite {'MAP' if prior else 'ML'} estimate"


def _prepare(data, model, n_starts, fixed, bounds):
    model = get_model(model)
    tr = _as_data(data)
    model.check_task(tr)
    if not isinstance(n_starts, int | np.integer) or n_starts < 1:
        raise ValueError(f"n_starts must be a positive integer, got {shown(n_starts)}")
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

    Parameters
    ----------
    data, model, n_starts, seed, fixed, bounds, executor, chunk_size, prior, maxiter
        As :func:`fit`.
    skip : collection of str, optional
        Subject identifiers (as text) not to fit.

    Examples
    --------
    >>> import pandas as pd
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 30, seed=0)
    >>> chunks = list(ds.fitting.iter_fit(data, "soft-q", n_starts=1, chunk_size=2, skip={"3"}))
    >>> len(chunks), sorted(pd.concat([rows for rows, _ in chunks])["subject"])
    (2, [0, 1, 2])
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
        also under a prior), ``n_free`` (``k``, the number of free parameters: fixed ones are not
        counted), ``n_choices``, ``converged`` (the optimiser's own criterion was met:
        largest gradient component on the unconstrained scale below 1e−4, or below 1e−3 when no
        further decrease was possible), ``at_bound`` (a free parameter within 1e−3 of its scale of a
        bound, or an infinite ML estimate: the objective no higher further out towards an infinite bound
        or one outside the likelihood's domain, e.g. τ → 0; ``notes`` says ``tau → 0 (β → ∞): the
        likelihood keeps rising; no finite ML estimate``), ``se_<param>`` (NaN for fixed parameters and
        at a bound), ``n_starts`` and ``notes``.
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
