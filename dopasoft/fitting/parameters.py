"""Parameter set-up for fitting: bounds, fixed values, priors, and parameter tables per subject.

Resolves the user's ``bounds=``, ``fixed=`` and ``prior=`` against a model's parameter table
(:func:`_resolve_bounds`, :func:`_resolve_fixed`, :func:`_resolve_prior`), the default weak priors on
temperatures (:func:`default_prior`), the one check of parameter values used by every entry point
(:func:`check_parameters`), and turning a dict / DataFrame / array of parameters into one row per
subject (:func:`_params_matrix`). See docs/fitting.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from dopasoft.fitting.data import Transitions, to_transitions
from dopasoft.fitting.models import ChoiceModel, get_model
from dopasoft.fitting.optimizer import Transform

__all__ = ["check_parameters", "default_prior"]

Prior = Mapping[str, tuple[float, float]]

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

    Examples
    --------
    >>> from dopasoft.fitting import default_prior
    >>> sorted(default_prior("soft-q-lambda"))  # only the temperature gets a weak prior
    ['tau']
    """
    model = get_model(model)
    b = model.default_bounds()
    b.update(bounds or {})
    out: dict[str, tuple[float, float]] = {}
    for par in model.params:
        name = par.name
        if name in (fixed or {}):
            continue
        lo, hi = (float(v) for v in b[name])
        if par.kind == "temperature" and lo > 0 and DEFAULT_PRIOR_RATIO * lo < hi:
            median = DEFAULT_PRIOR_RATIO * lo
        elif par.kind == "inverse-temperature" and lo == 0 and 0 < hi < math.inf:
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

    The one check of parameter values shared by :func:`negative_log_likelihood`,
    :func:`dopasoft.fitting.simulate_choices` and ``dopasoft figures``.

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
