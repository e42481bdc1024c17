r"""Fitted models: parameter tables, parameter recovery, model comparison and posterior predictive checks.

A *fits table* is the per-subject DataFrame of :func:`dopasoft.fitting.fit` (``FitResult.params``) or the
CSV of ``dopasoft fit``: ``subject``, one column per parameter, ``nll``, ``aic``, ``bic``, ``n_choices``,
``converged`` and ``se_<param>`` (and a ``model`` column in the CLI output). The model is taken from
the ``model`` argument, else the ``model`` column; the model's options (``kappa``, separate learning
rates or temperatures) are read from the parameter columns present.

Subjects with nothing fitted (no valid choices: ``n_choices == 0``, or a non-finite ``nll``) are left
out of every group table and figure here, and each says how many it left out (``n_left_out``).

Model comparison sums AIC/BIC over subjects (ΔAIC/ΔBIC relative to the best model, lower is better)
and runs random-effects Bayesian model selection (:func:`dopasoft.fitting.model_selection.bms`) on
:math:`-\mathrm{BIC}/2` (a Laplace-free approximation of each subject's log evidence; ``criterion="aic"``
uses :math:`-\mathrm{AIC}/2`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from dopasoft.analysis import two_step
from dopasoft.analysis.style import COLORS
from dopasoft.fitting import model_selection
from dopasoft.fitting.models import parameter_labels
from dopasoft.fitting.recovery import fitted_rows, recovery_table

__all__ = [
    "PARAM_LABELS",
    "fits_model",
    "check_fits",
    "fitted_rows",
    "parameter_table",
    "recovery_table",
    "compare_models",
    "posterior_predictive",
    "posterior_predictive_table",
]

FIT_COLUMNS = ("subject", "nll")

PARAM_LABELS: dict[str, str] = parameter_labels()
"""Axis labels (symbol, meaning, unit) of the fitting models' parameters, from their declarations."""


def fits_model(fits: pd.DataFrame, model: Any = None):
    """The :class:`~dopasoft.fitting.ChoiceModel` of a fits table, checked against its columns.

    Parameters
    ----------
    fits : pandas.DataFrame
        Fits table.
    model : str or ChoiceModel, optional
        Model name; default the table's ``model`` column (one value).

    Returns
    -------
    ChoiceModel

    Raises
    ------
    ValueError
        If no model is given or named in the table, the ``model`` column holds several models, or a
        parameter of the model is missing (the missing names are listed).

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> fits = ds.fitting.fit(data, "soft-q", n_starts=1).params
    >>> ds.analysis.fits_model(fits, "soft-q").name
    'soft-q'
    """
    from dopasoft.fitting import ChoiceModel, get_model
    from dopasoft.fitting.models import model_from_columns

    if not isinstance(fits, pd.DataFrame):
        raise ValueError(f"fits must be a pandas DataFrame, got {type(fits).__name__}")
    if model is None:
        if "model" not in fits.columns:
            raise ValueError(
                "the fits table has no 'model' column; pass the model name (e.g. model='soft-q-lambda')"
            )
        names = pd.unique(fits["model"].dropna())
        if len(names) != 1:
            raise ValueError(
                f"the fits table's 'model' column holds {len(names)} models {list(names)}; split it by model"
            )
        model = str(names[0])
    if isinstance(model, ChoiceModel) or "+" in str(model):
        m = get_model(model)
    else:  # a plain name: the variant whose parameters the table holds
        m = model_from_columns(str(model), fits.columns)
    check_fits(fits, m)
    return m


def check_fits(fits: pd.DataFrame, model: Any) -> None:
    """Raise ``ValueError`` naming what a fits table lacks for ``model`` (parameters, ``subject``, ``nll``).

    Parameters
    ----------
    fits : pandas.DataFrame
        A fits table (:attr:`dopasoft.fitting.FitResult.params` or one read from ``dopasoft fit``).
    model : str or ChoiceModel
        The model the table should hold.

    Examples
    --------
    >>> import pandas as pd
    >>> from dopasoft.analysis import check_fits
    >>> check_fits(pd.DataFrame({"subject": [1], "alpha": [0.3], "tau": [0.2], "nll": [10.0]}), "soft-q")
    >>> check_fits(pd.DataFrame({"subject": [1], "alpha": [0.3], "nll": [10.0]}), "soft-q")
    Traceback (most recent call last):
    ...
    ValueError: the fits table lacks column(s) ['tau'] needed for model 'soft-q' (parameters ['alpha', 'tau']); it has ['subject', 'alpha', 'nll']
    """
    from dopasoft.fitting import get_model

    m = get_model(model)
    missing = [c for c in (*FIT_COLUMNS, *m.param_names) if c not in fits.columns]
    if missing:
        raise ValueError(
            f"the fits table lacks column(s) {missing} needed for model {m.name!r} "
            f"(parameters {list(m.param_names)}); it has {list(fits.columns)}"
        )


def _left_out_note(fig, n: int) -> None:
    if n:
        fig.text(
            0.99,
            0.005,
            f"{n} subject(s) without a fit (no valid choices) left out",
            ha="right",
            va="bottom",
            fontsize=6.5,
            color=COLORS["rare"],
        )


def parameter_table(fits: pd.DataFrame, model: Any = None) -> pd.DataFrame:
    """Summary of fitted parameters over subjects.

    Parameters
    ----------
    fits : pandas.DataFrame
        Fits table.
    model : str or ChoiceModel, optional
        See :func:`fits_model`.

    Returns
    -------
    pandas.DataFrame
        One row per parameter: ``param``, ``mean``, ``sd``, ``median``, ``q25``, ``q75``, ``min``,
        ``max``, ``median_se`` (median Hessian standard error, NaN if absent), ``n`` and
        ``n_left_out`` (subjects without a fit, see :func:`fitted_rows`).

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> fits = ds.fitting.fit(data, "soft-q", n_starts=1).params
    >>> table = ds.analysis.parameter_table(fits, model="soft-q")
    >>> list(table["param"])
    ['alpha', 'tau']
    """
    m = fits_model(fits, model)
    ok = fitted_rows(fits)
    n_out = int((~ok).sum())
    fits = fits[ok]
    rows = []
    for p in m.param_names:
        v = pd.to_numeric(fits[p], errors="coerce").dropna()
        se = pd.to_numeric(fits.get(f"se_{p}", pd.Series(dtype=float)), errors="coerce")
        rows.append(
            {
                "param": p,
                "mean": v.mean(),
                "sd": v.std(ddof=1),
                "median": v.median(),
                "q25": v.quantile(0.25),
                "q75": v.quantile(0.75),
                "min": v.min(),
                "max": v.max(),
                "median_se": se.median() if se.notna().any() else np.nan,
                "n": len(v),
                "n_left_out": n_out,
            }
        )
    return pd.DataFrame(rows)


def _n_free(name: str, fits: pd.DataFrame) -> int | None:
    """The fits table's number of free parameters (its ``n_free`` column), or None without one."""
    if "n_free" not in fits.columns:
        return None
    k = pd.to_numeric(fits["n_free"], errors="coerce").dropna().unique()
    if len(k) != 1 or k[0] < 0 or k[0] != int(k[0]):
        raise ValueError(
            f"fits table of {name!r}: column 'n_free' must hold one non-negative integer, got {sorted(k)}"
        )
    return int(k[0])


def _n_params(fits: pd.DataFrame) -> int:
    """Free parameters from ``aic = 2 nll + 2k`` (older tables without ``n_free``)."""
    k = np.round((fits["aic"].to_numpy(float) - 2 * fits["nll"].to_numpy(float)) / 2)
    k = k[np.isfinite(k)]
    return int(np.median(k)) if len(k) else 0


def compare_models(
    fits: Mapping[str, Any], *, criterion: str = "bic"
) -> tuple[pd.DataFrame, model_selection.BMSResult]:
    """Compare models fitted to the same subjects: summed AIC/BIC (or LOO) and random-effects BMS.

    Parameters
    ----------
    fits : mapping of str to DataFrame, or to PosteriorResult
        Model name → fits table (``subject``, ``nll`` and ``aic``/``bic`` — or ``n_free`` and
        ``n_choices`` to compute them). Only subjects present in every table are compared. Or model
        name → posterior of :func:`dopasoft.fitting.sample` (all of them posteriors): then the
        comparison is PSIS-LOO (:func:`arviz.compare` on the per-choice log-likelihoods: ``elpd_loo``,
        ``se``, ``p_loo``, ``looic = −2 elpd_loo``, ``delta_looic``, ``weight``, ``warning`` when a
        Pareto k is too high), and the BMS takes each subject's summed pointwise ``elpd_loo`` as its
        log evidence.
    criterion : {"bic", "aic"}
        Log evidence of the BMS: ``-bic/2`` or ``-aic/2`` (fits tables only).

    Returns
    -------
    table : pandas.DataFrame
        One row per model: ``model``, ``n_params`` (free parameters: the table's ``n_free``, or
        ``(aic − 2 nll) / 2`` for older tables without it), ``n_subjects``, ``n_left_out`` (subjects common to
        the tables but without a fit in at least one of them, see :func:`fitted_rows`; they are not
        compared), ``nll``, ``aic``, ``bic`` (sums),
        ``delta_aic``, ``delta_bic`` (to the best), ``n_best`` (subjects for which the model has the
        lowest criterion), ``expected_frequency``, ``exceedance``, ``protected_exceedance``, ``bor``.
    bms : BMSResult

    Raises
    ------
    ValueError
        Fewer than two models, missing columns (named), or no subject common to all tables.

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> fits = ds.fitting.fit(data, "soft-q", n_starts=1).params
    >>> fits_k = ds.fitting.fit(data, "soft-q+kappa", n_starts=1).params
    >>> table, bms = ds.analysis.compare_models({"soft-q": fits, "soft-q+kappa": fits_k})
    >>> sorted(table["model"]), float(table["delta_bic"].min())
    (['soft-q', 'soft-q+kappa'], 0.0)
    """
    if criterion not in ("bic", "aic"):
        raise ValueError(f"criterion must be 'bic' or 'aic', got {criterion!r}")
    if len(fits) < 2:
        raise ValueError(f"model comparison needs at least two fits tables, got {len(fits)}")
    posteriors = [name for name, f in fits.items() if hasattr(f, "idata")]
    if posteriors:
        if len(posteriors) < len(fits):
            raise ValueError(
                f"compare posteriors with posteriors and fits tables with fits tables; posteriors: {posteriors}"
            )
        return _compare_posteriors(fits)
    tables, n_free = {}, {}
    for name, f in fits.items():
        missing = [c for c in FIT_COLUMNS if c not in f.columns]
        if missing:
            raise ValueError(f"fits table of {name!r} lacks column(s) {missing}; has {list(f.columns)}")
        f = f.assign(subject=f["subject"].astype(str)).set_index("subject")
        k = _n_free(name, f)
        if "aic" not in f.columns or "bic" not in f.columns:
            if k is None:
                raise ValueError(
                    f"fits table of {name!r} lacks column 'n_free' (number of free parameters, written by "
                    "fit) needed to compute its missing 'aic'/'bic'; refit, or add 'n_free' or 'aic' and 'bic'"
                )
            if "n_choices" not in f.columns:
                raise ValueError(
                    f"fits table of {name!r} needs 'aic' and 'bic' or 'n_choices' to compute them"
                )
            f = f.assign(aic=2 * f["nll"] + 2 * k, bic=2 * f["nll"] + k * np.log(f["n_choices"]))
        tables[name] = f
        n_free[name] = k if k is not None else _n_params(f)
    subjects = sorted(set.intersection(*(set(t.index) for t in tables.values())), key=str)
    if not subjects:
        raise ValueError("the fits tables share no subject")
    no_fit = set()
    for t in tables.values():
        no_fit |= set(t.index[~fitted_rows(t)])
    n_out = len([s for s in subjects if s in no_fit])
    subjects = [s for s in subjects if s not in no_fit]
    if not subjects:
        raise ValueError("no subject has a fit in every fits table (all lack valid choices or an nll)")
    names = list(tables)
    crit = pd.DataFrame(
        {n: tables[n].loc[subjects, criterion].to_numpy(float) for n in names}, index=subjects
    )
    result = model_selection.bms(-crit / 2.0, models=names)
    best = crit.to_numpy().argmin(axis=1)
    rows = []
    for i, n in enumerate(names):
        t = tables[n].loc[subjects]
        rows.append(
            {
                "model": n,
                "n_params": n_free[n],
                "n_subjects": len(subjects),
                "n_left_out": n_out,
                "nll": t["nll"].sum(),
                "aic": t["aic"].sum(),
                "bic": t["bic"].sum(),
                "n_best": int(np.sum(best == i)),
            }
        )
    table = pd.DataFrame(rows)
    table["delta_aic"] = table["aic"] - table["aic"].min()
    table["delta_bic"] = table["bic"] - table["bic"].min()
    bt = result.table().drop(columns=["model", "alpha"])
    table = pd.concat([table, bt], axis=1)
    order = [
        "model",
        "n_params",
        "n_subjects",
        "n_left_out",
        "nll",
        "aic",
        "bic",
        "delta_aic",
        "delta_bic",
        "n_best",
        "expected_frequency",
        "exceedance",
        "protected_exceedance",
        "bor",
    ]
    return table[order], result


def _compare_posteriors(posts: Mapping[str, Any]) -> tuple[pd.DataFrame, model_selection.BMSResult]:
    """:func:`compare_models` for posteriors: PSIS-LOO per choice, BMS on per-subject elpd."""
    from dopasoft.fitting.bayes.result import import_arviz

    az = import_arviz()
    subjects = [p.subjects for p in posts.values()]
    if len(set(subjects)) != 1:
        raise ValueError("the posteriors were sampled from different subjects; compare the same data")
    loos = {name: p.loo(per="trial", pointwise=True) for name, p in posts.items()}
    cmp = az.compare(loos, ic="loo")
    elpd = {}
    for name, loo in loos.items():
        pointwise = loo.loo_i
        by = pointwise.coords["obs_subject"].values if "obs_subject" in pointwise.coords else None
        if by is None:
            raise ValueError(f"posterior of {name!r} has no per-choice subject labels (obs_subject)")
        elpd[name] = pd.Series(pointwise.values).groupby(by.astype(str)).sum()
    evidence = pd.DataFrame(elpd)
    result = model_selection.bms(evidence, models=list(posts))
    table = pd.DataFrame(
        {
            "model": list(posts),
            "n_subjects": len(subjects[0]),
            "elpd_loo": [float(cmp.loc[n, "elpd_loo"]) for n in posts],
            "se": [float(cmp.loc[n, "se"]) for n in posts],
            "p_loo": [float(cmp.loc[n, "p_loo"]) for n in posts],
            "weight": [float(cmp.loc[n, "weight"]) for n in posts],
            "warning": [bool(cmp.loc[n, "warning"]) for n in posts],
        }
    )
    table["looic"] = -2.0 * table["elpd_loo"]
    table["delta_looic"] = table["looic"] - table["looic"].min()
    table["n_best"] = [int(np.sum(evidence.to_numpy().argmax(axis=1) == i)) for i in range(len(posts))]
    bt = result.table().drop(columns=["model", "alpha"])
    table = pd.concat([table, bt], axis=1)
    order = ["model", "n_subjects", "elpd_loo", "se", "p_loo", "looic", "delta_looic", "weight", "warning"]
    order += ["n_best", "expected_frequency", "exceedance", "protected_exceedance", "bor"]
    return table[order], result


def posterior_predictive(
    data: pd.DataFrame,
    fits: Any,
    model: Any = None,
    *,
    n_sims: int = 1,
    seed: int | np.random.Generator = 0,
) -> pd.DataFrame:
    """Simulate every subject of ``data`` from its fitted parameters (posterior predictive check).

    Each subject is simulated ``n_sims`` times for as many trials as it has in ``data`` (the longest
    session is used for all, the task's reward schedule is a fresh random walk). Subjects without a
    fit (:func:`fitted_rows`) are not simulated. Use
    :func:`posterior_predictive_table` or :func:`plot_posterior_predictive` to compare stay
    probabilities with the data.

    Parameters
    ----------
    data : pandas.DataFrame
        The fitted canonical two-step data (only its subjects and lengths are used).
    fits : pandas.DataFrame or PosteriorResult
        Fits table of ``model``; or a posterior of :func:`dopasoft.fitting.sample`: then each
        simulated session runs on another posterior draw (:meth:`PosteriorResult.draw_params`), all
        subjects of a session on the same draw, and ``model`` is the posterior's choice model.
    model : str or ChoiceModel, optional
        See :func:`fits_model`.
    n_sims : int, default 1
        Simulated sessions per subject.
    seed : int or numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        Canonical data; ``subject`` is the fitted subject, ``sim`` the repetition; the simulated
        sessions are separate subjects for the stay analysis through ``subject_sim`` = ``"<subject>/<sim>"``.

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> fits = ds.fitting.fit(data, "soft-q", n_starts=1).params
    >>> sim = ds.analysis.posterior_predictive(data, fits, "soft-q", n_sims=2, seed=0)
    >>> {"subject", "trial", "choice1", "state2", "choice2", "reward"} <= set(sim.columns)
    True
    """
    two_step._check_columns(data, ("subject", "trial"))
    if not isinstance(n_sims, int) or n_sims < 1:
        raise ValueError(f"n_sims must be a positive integer, got {n_sims!r}")
    rng = np.random.default_rng(seed)
    if hasattr(fits, "idata"):  # a posterior: one draw per simulated session
        m = fits.model.model
        draws = fits.draw_params(n_sims, rng)
    else:
        m = fits_model(fits, model)
        draws = [fits] * n_sims
    sessions = [_simulate_fitted(data, f, m, rng, r) for r, f in enumerate(draws)]
    out = pd.concat(sessions, ignore_index=True)
    out["subject_sim"] = out["subject"].astype(str) + "/" + out["sim"].astype(str)
    return out


def _simulate_fitted(data: pd.DataFrame, fits: pd.DataFrame, m: Any, rng: np.random.Generator, r: int):
    """One simulated session (``sim = r``) of every fitted subject of ``data`` under ``fits``."""
    from dopasoft.fitting import simulate_choices

    f = fits[fitted_rows(fits)]
    f = f.assign(subject=f["subject"].astype(str)).drop_duplicates("subject").set_index("subject")
    subjects = [s for s in pd.unique(data["subject"].astype(str)) if s in f.index]
    if not subjects:
        raise ValueError("no subject of the data has fitted parameters")
    n_trials = int(data.groupby(data["subject"].astype(str)).size().max())
    params = f.loc[subjects, list(m.param_names)].reset_index()
    sim = simulate_choices(m, params, n_trials=n_trials, seed=rng, task="two-step")  # stay analysis
    sim = sim[["subject", "trial", "choice1", "state2", "choice2", "reward"]].copy()
    sim.insert(1, "sim", r)
    return sim


def _as_sessions(sim: pd.DataFrame) -> pd.DataFrame:
    if "subject_sim" in sim.columns:
        return sim.drop(columns=["subject"]).rename(columns={"subject_sim": "subject"})
    return sim


def posterior_predictive_table(data: pd.DataFrame, simulated: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Group stay probabilities of the data and of each model's simulations side by side.

    Parameters
    ----------
    data : pandas.DataFrame
        The observed canonical two-step data.
    simulated : dict of str to pandas.DataFrame
        Model name → its simulations (:func:`posterior_predictive`).

    Returns
    -------
    pandas.DataFrame
        ``source`` (``"data"`` or the model name), ``rewarded``, ``transition``, ``mean``, ``sem``,
        ``n_subjects``.

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> fits = ds.fitting.fit(data, "soft-q", n_starts=1).params
    >>> sims = {"soft-q": ds.analysis.posterior_predictive(data, fits, "soft-q", seed=0)}
    >>> sorted(ds.analysis.posterior_predictive_table(data, sims)["source"].unique())
    ['data', 'soft-q']
    """
    frames = [two_step.group_stay_probabilities(two_step.stay_probabilities(data)).assign(source="data")]
    for name, sim in simulated.items():
        g = two_step.group_stay_probabilities(two_step.stay_probabilities(_as_sessions(sim)))
        frames.append(g.assign(source=name))
    out = pd.concat(frames, ignore_index=True)
    return out[["source", "rewarded", "transition", "mean", "sem", "n_subjects"]]
