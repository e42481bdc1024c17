r"""Two-step task "stay" analysis (Daw et al. 2011): stay probabilities, logistic regression, MB/MF indices.

For every trial *t > 1* of a subject, ``stay`` is 1 when ``choice1`` repeats the previous trial's
``choice1``. The previous trial's outcome is ``rewarded`` (``reward > 0``) or not, and its transition is
``common`` when ``state2 == choice1`` (docs/fitting.md §1–2 coding) and ``rare`` otherwise. A model-free learner
repeats rewarded choices whatever the transition (a main effect of reward); a model-based learner
repeats a rewarded choice after a common transition but switches after a rare one (a reward ×
transition interaction).

Only consecutive trials are paired (rows are sorted by ``subject`` and ``trial``): a trial whose
``choice1`` or ``state2`` is missing has no stay value and gives none to the next trial; a missing
``reward`` (no second-stage choice) leaves the previous outcome unknown, so the next trial is skipped.

The regression is the usual one, with effect-coded (±1) predictors,

.. math:: \operatorname{logit} P(\text{stay}) = \beta_0 + \beta_r\, r + \beta_t\, t + \beta_{rt}\, r t,
   \qquad r = \pm 1 \text{ (rewarded / not)}, \ t = \pm 1 \text{ (common / rare)},

fitted per subject, or pooled over subjects with cluster-robust (by subject) standard errors or a
GEE with an exchangeable working correlation. The model-free index is :math:`\beta_r`, the model-based
index :math:`\beta_{rt}`; the equivalent differences of stay probabilities are also reported.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from dopasoft.analysis.style import COLORS, finish, new_figure, panel_letters, style_context

__all__ = [
    "REQUIRED_COLUMNS",
    "stay_table",
    "stay_probabilities",
    "group_stay_probabilities",
    "stay_regression",
    "pooled_stay_regression",
    "mb_mf_indices",
    "plot_stay_probabilities",
    "plot_stay_regression",
    "plot_two_step_stay",
]

REQUIRED_COLUMNS = ("subject", "trial", "choice1", "state2", "reward")
"""Columns the stay analysis needs (``choice2`` is not used)."""

TERMS = ("intercept", "reward", "transition", "reward:transition")
_CONDITIONS = [(True, "common"), (True, "rare"), (False, "common"), (False, "rare")]


def _check_columns(data: pd.DataFrame, required: Sequence[str] = REQUIRED_COLUMNS) -> None:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"two-step data must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in required if c not in data.columns]
    if missing:
        raise ValueError(
            f"two-step data is missing column(s) {missing}; needs {list(required)} "
            f"(canonical format: subject, trial, choice1, state2, choice2, reward), has {list(data.columns)}"
        )


def stay_table(data: pd.DataFrame) -> pd.DataFrame:
    """One row per analysable trial: the previous trial's outcome and whether ``choice1`` was repeated.

    Parameters
    ----------
    data : pandas.DataFrame
        Canonical two-step data: ``subject, trial, choice1, state2, reward`` (``choice2`` optional).

    Returns
    -------
    pandas.DataFrame
        Columns ``subject``, ``trial`` (the current trial), ``rewarded`` (bool, previous reward > 0),
        ``transition`` (``"common"``/``"rare"``, previous trial), ``stay`` (0/1), and the effect codes
        ``reward_code``, ``transition_code`` (±1).

    Raises
    ------
    ValueError
        If a required column is missing (named) or ``choice1``/``state2`` are not 0/1.

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> table = ds.analysis.stay_table(data)
    >>> list(table.columns[:5])
    ['subject', 'trial', 'rewarded', 'transition', 'stay']
    """
    _check_columns(data)
    d = data[list(REQUIRED_COLUMNS)].sort_values(["subject", "trial"], kind="stable").reset_index(drop=True)
    for col in ("choice1", "state2"):
        values = pd.to_numeric(d[col], errors="coerce")
        bad = values.notna() & ~values.isin([0, 1])
        if bad.any() or (values.isna() & d[col].notna()).any():
            raise ValueError(f"column {col!r} must be 0/1 (or missing), found {d.loc[bad, col].unique()[:5]}")
        d[col] = values
    d["reward"] = pd.to_numeric(d["reward"], errors="coerce")
    prev = d.groupby("subject", sort=False)[["choice1", "state2", "reward"]].shift(1)
    keep = d["choice1"].notna() & prev["choice1"].notna() & prev["state2"].notna() & prev["reward"].notna()
    cur, prev = d[keep], prev[keep]
    rewarded = (prev["reward"] > 0).to_numpy()
    common = (prev["choice1"] == prev["state2"]).to_numpy()
    return pd.DataFrame(
        {
            "subject": cur["subject"].to_numpy(),
            "trial": cur["trial"].to_numpy(),
            "rewarded": rewarded,
            "transition": np.where(common, "common", "rare"),
            "stay": (cur["choice1"].to_numpy() == prev["choice1"].to_numpy()).astype(float),
            "reward_code": np.where(rewarded, 1.0, -1.0),
            "transition_code": np.where(common, 1.0, -1.0),
        }
    )


def stay_probabilities(data: pd.DataFrame) -> pd.DataFrame:
    """Per-subject stay probabilities by previous reward × transition.

    Parameters
    ----------
    data : pandas.DataFrame
        Canonical two-step data (see :func:`stay_table`).

    Returns
    -------
    pandas.DataFrame
        Long format, four rows per subject: ``subject``, ``rewarded`` (bool), ``transition``,
        ``p_stay`` (NaN when the condition never occurred) and ``n`` (trials in the condition).

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> per_subject = ds.analysis.stay_probabilities(data)
    >>> list(per_subject.columns), len(per_subject)  # 4 subjects x rewarded x transition
    (['subject', 'rewarded', 'transition', 'p_stay', 'n'], 16)
    """
    table = stay_table(data)
    grouped = table.groupby(["subject", "rewarded", "transition"], sort=False)["stay"]
    stats = pd.DataFrame({"p_stay": grouped.mean(), "n": grouped.size()})
    subjects = pd.unique(table["subject"])
    index = pd.MultiIndex.from_tuples(
        [(s, r, t) for s in subjects for r, t in _CONDITIONS], names=["subject", "rewarded", "transition"]
    )
    out = stats.reindex(index).reset_index()
    out["n"] = out["n"].fillna(0).astype(int)
    return out


def group_stay_probabilities(per_subject: pd.DataFrame) -> pd.DataFrame:
    """Group mean of per-subject stay probabilities with the standard error across subjects.

    Parameters
    ----------
    per_subject : pandas.DataFrame
        Output of :func:`stay_probabilities` (or canonical data, which is passed through it).

    Returns
    -------
    pandas.DataFrame
        Four rows: ``rewarded``, ``transition``, ``mean``, ``sem`` (SD / sqrt(n), NaN with one subject),
        ``n_subjects`` (subjects with the condition).

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> group = ds.analysis.group_stay_probabilities(ds.analysis.stay_probabilities(data))
    >>> list(group.columns), len(group)  # rewarded x transition
    (['rewarded', 'transition', 'mean', 'sem', 'n_subjects'], 4)
    """
    if "p_stay" not in per_subject.columns:
        per_subject = stay_probabilities(per_subject)
    rows = []
    for rewarded, transition in _CONDITIONS:
        sel = (per_subject["rewarded"] == rewarded) & (per_subject["transition"] == transition)
        p = per_subject.loc[sel, "p_stay"].dropna().to_numpy(dtype=float)
        n = len(p)
        rows.append(
            {
                "rewarded": rewarded,
                "transition": transition,
                "mean": float(np.mean(p)) if n else np.nan,
                "sem": float(np.std(p, ddof=1) / np.sqrt(n)) if n > 1 else np.nan,
                "n_subjects": n,
            }
        )
    return pd.DataFrame(rows)


def _design(table: pd.DataFrame) -> np.ndarray:
    r, t = table["reward_code"].to_numpy(), table["transition_code"].to_numpy()
    return np.column_stack([np.ones_like(r), r, t, r * t])


def stay_regression(data: pd.DataFrame) -> pd.DataFrame:
    """Logistic regression of stay on previous reward, transition and their interaction, per subject.

    Parameters
    ----------
    data : pandas.DataFrame
        Canonical two-step data.

    Returns
    -------
    pandas.DataFrame
        One row per subject: ``subject``, ``n_trials``, coefficients ``intercept``, ``reward``,
        ``transition``, ``reward:transition`` (log-odds per unit of the ±1 codes), their standard
        errors ``se_<term>`` and ``converged``. A subject whose fit fails or separates perfectly
        gets NaN coefficients and ``converged = False``.

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> fits = ds.analysis.stay_regression(data)
    >>> len(fits), "reward:transition" in fits.columns
    (4, True)
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationError

    table = stay_table(data)
    rows = []
    for subject, sub in table.groupby("subject", sort=False):
        row: dict = {"subject": subject, "n_trials": len(sub)}
        params = np.full(4, np.nan)
        se = np.full(4, np.nan)
        converged = False
        y = sub["stay"].to_numpy()
        if len(sub) > 4 and 0 < y.sum() < len(y):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = sm.Logit(y, _design(sub)).fit(disp=0, method="newton", maxiter=100)
                converged = bool(res.mle_retvals.get("converged", False)) and np.all(np.isfinite(res.bse))
                if converged:
                    params, se = np.asarray(res.params), np.asarray(res.bse)
            except (np.linalg.LinAlgError, ValueError, PerfectSeparationError):
                converged = False
        row.update(dict(zip(TERMS, params, strict=True)))
        row.update({f"se_{t}": s for t, s in zip(TERMS, se, strict=True)})
        row["converged"] = converged
        rows.append(row)
    return pd.DataFrame(rows)


def pooled_stay_regression(data: pd.DataFrame, *, method: str = "cluster") -> pd.DataFrame:
    """Stay regression pooled over subjects with errors that respect the repeated measures.

    Parameters
    ----------
    data : pandas.DataFrame
        Canonical two-step data (two or more subjects for ``"cluster"``/``"gee"``).
    method : {"cluster", "gee"}, default "cluster"
        ``"cluster"``: logistic regression with cluster-robust (sandwich, by subject) covariance;
        ``"gee"``: generalised estimating equations, binomial family, exchangeable working
        correlation within subject (population-averaged effects, robust errors).

    Returns
    -------
    pandas.DataFrame
        Index: the terms ``intercept, reward, transition, reward:transition``; columns ``coef``,
        ``se``, ``z``, ``p``, ``ci_low``, ``ci_high`` (95 %).

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> list(ds.analysis.pooled_stay_regression(data).index)
    ['intercept', 'reward', 'transition', 'reward:transition']
    """
    import statsmodels.api as sm

    table = stay_table(data)
    groups = pd.factorize(table["subject"])[0]
    if len(np.unique(groups)) < 2:
        raise ValueError("a pooled stay regression needs at least two subjects; use stay_regression")
    X, y = _design(table), table["stay"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "cluster":
            res = sm.Logit(y, X).fit(disp=0, cov_type="cluster", cov_kwds={"groups": groups})
        elif method == "gee":
            res = sm.GEE(
                y, X, groups=groups, family=sm.families.Binomial(), cov_struct=sm.cov_struct.Exchangeable()
            ).fit()
        else:
            raise ValueError(f"method must be 'cluster' or 'gee', got {method!r}")
    ci = np.asarray(res.conf_int())
    return pd.DataFrame(
        {
            "coef": np.asarray(res.params),
            "se": np.asarray(res.bse),
            "z": np.asarray(res.tvalues),
            "p": np.asarray(res.pvalues),
            "ci_low": ci[:, 0],
            "ci_high": ci[:, 1],
        },
        index=pd.Index(TERMS, name="term"),
    )


def mb_mf_indices(data: pd.DataFrame) -> pd.DataFrame:
    r"""Model-free and model-based indices per subject.

    From stay probabilities :math:`P_{rt}` (r = rewarded R / unrewarded U, t = common C / rare R):
    ``mf_index`` :math:`= \tfrac12[(P_{RC} + P_{RR}) - (P_{UC} + P_{UR})]` (main effect of reward) and
    ``mb_index`` :math:`= \tfrac12[(P_{RC} - P_{RR}) - (P_{UC} - P_{UR})]` (reward × transition); from the
    per-subject regression, ``mf_coef`` :math:`= \beta_r` and ``mb_coef`` :math:`= \beta_{rt}`.

    Parameters
    ----------
    data : pandas.DataFrame
        Canonical two-step data.

    Returns
    -------
    pandas.DataFrame
        ``subject, mf_index, mb_index, mf_coef, mb_coef``.

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> list(ds.analysis.mb_mf_indices(data).columns)
    ['subject', 'mf_index', 'mb_index', 'mf_coef', 'mb_coef']
    """
    probs = stay_probabilities(data)
    wide = probs.pivot_table(
        index="subject",
        columns=["rewarded", "transition"],
        values="p_stay",
        aggfunc="first",
        dropna=False,
        sort=False,
    )
    wide = wide.reindex(columns=pd.MultiIndex.from_tuples(_CONDITIONS))

    def p(r: bool, t: str) -> np.ndarray:
        return wide[(r, t)].to_numpy(dtype=float)

    out = pd.DataFrame({"subject": wide.index.to_numpy()})
    out["mf_index"] = 0.5 * ((p(True, "common") + p(True, "rare")) - (p(False, "common") + p(False, "rare")))
    out["mb_index"] = 0.5 * ((p(True, "common") - p(True, "rare")) - (p(False, "common") - p(False, "rare")))
    reg = stay_regression(data).set_index("subject")
    out["mf_coef"] = reg.loc[out["subject"], "reward"].to_numpy()
    out["mb_coef"] = reg.loc[out["subject"], "reward:transition"].to_numpy()
    return out


# ------------------------------------------------------------------------------------------------
# figures


def _stay_axes(
    ax,
    per_subject: pd.DataFrame,
    *,
    show_subjects: bool = True,
    predicted: dict[str, pd.DataFrame] | None = None,
    seed: int | np.random.Generator | None = 0,
    legend: bool = True,
) -> None:
    group = group_stay_probabilities(per_subject)
    width = 0.36
    x_of = {True: 0.0, False: 1.0}
    dx = {"common": -width / 2, "rare": width / 2}
    rng = np.random.default_rng(seed)
    for transition in ("common", "rare"):
        g = group[group["transition"] == transition]
        xs = [x_of[r] + dx[transition] for r in g["rewarded"]]
        ax.bar(
            xs,
            g["mean"],
            width=width * 0.95,
            color=COLORS[transition],
            label=f"{transition.capitalize()} transition",
            yerr=g["sem"],
            error_kw={"elinewidth": 1.0, "capsize": 2.5, "ecolor": "black"},
            zorder=2,
        )
        if show_subjects:
            for rewarded in (True, False):
                sel = (per_subject["rewarded"] == rewarded) & (per_subject["transition"] == transition)
                vals = per_subject.loc[sel, "p_stay"].dropna().to_numpy()
                jitter = rng.uniform(-width * 0.25, width * 0.25, size=len(vals))
                ax.scatter(
                    x_of[rewarded] + dx[transition] + jitter,
                    vals,
                    s=5,
                    color="black",
                    alpha=0.35,
                    linewidths=0,
                    zorder=3,
                )
    for i, (name, pred) in enumerate((predicted or {}).items()):
        pg = group_stay_probabilities(pred)
        marker = "oDs^v"[i % 5]
        for transition in ("common", "rare"):
            g = pg[pg["transition"] == transition]
            xs = [x_of[r] + dx[transition] for r in g["rewarded"]]
            ax.errorbar(
                xs,
                g["mean"],
                yerr=g["sem"],
                fmt=marker,
                color="white",
                mec="black",
                mew=1.0,
                ecolor="black",
                ms=4.5,
                zorder=4,
                label=name if transition == "common" else None,
            )
    dots = "; dots: subjects" if show_subjects else ""
    if predicted:
        what = f"bars: data, mean ± SEM of subjects{dots}\nmarkers: simulations, mean ± SEM across sessions"
    else:
        what = f"bars: mean ± SEM across subjects{dots}"
    if predicted:  # two lines: left-aligned, clear of the panel letter at the top left
        ax.set_title(what, fontsize=6.5, loc="left")
    else:
        ax.set_title(what, fontsize=7)
    ax.set_xticks([0, 1], ["Rewarded", "Unrewarded"])
    ax.set_xlabel("Previous outcome")
    ax.set_ylabel("P(repeat first-stage choice)")
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_xlim(-0.6, 1.6)
    n_items = 2 + len(predicted or {})
    rows = int(np.ceil(n_items / 2)) if n_items > 3 else 1
    # the legend sits in an empty band above P = 1 (no data there), inside the axes
    ax.set_ylim(0.0, 1.04 + 0.1 * rows if legend else 1.03)
    ax.spines["left"].set_bounds(0.0, 1.0)
    if legend:
        ax.legend(
            loc="upper center",
            ncols=2 if n_items != 3 else 3,
            borderaxespad=0.1,
            columnspacing=1.0,
            handlelength=1.2,
        )


def plot_stay_probabilities(
    data: pd.DataFrame,
    *,
    predicted: dict[str, pd.DataFrame] | None = None,
    show_subjects: bool = True,
    ax=None,
    save: str | os.PathLike | None = None,
    seed: int | np.random.Generator | None = 0,
):
    """Bar plot of stay probabilities by previous reward × transition (mean ± SEM over subjects).

    Parameters
    ----------
    data : pandas.DataFrame
        Canonical two-step data, or the per-subject output of :func:`stay_probabilities`.
    predicted : dict of str to DataFrame, optional
        Data simulated from fitted models (name → canonical data), drawn as open markers with SEM
        (posterior predictive check).
    show_subjects : bool, default True
        Overlay each subject's stay probabilities as jittered dots.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes instead of a new figure.
    save : path, optional
        Save the figure (see :func:`dopasoft.analysis.style.save_figure`).
    seed : int or Generator, optional
        Seed of the horizontal jitter of the dots.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> fig = ds.analysis.plot_stay_probabilities(data)
    >>> len(fig.axes)
    1
    """
    per_subject = data if "p_stay" in data.columns else stay_probabilities(data)
    pred = {k: (v if "p_stay" in v.columns else stay_probabilities(v)) for k, v in (predicted or {}).items()}
    with style_context():
        if ax is None:
            fig, ax = new_figure(width=3.0, height=2.6)
        else:
            fig = ax.figure
        _stay_axes(ax, per_subject, show_subjects=show_subjects, predicted=pred, seed=seed)
    return finish(fig, save)


def _regression_axes(ax, per_subject_reg: pd.DataFrame, pooled: pd.DataFrame | None) -> None:
    terms = list(TERMS[1:])
    labels = ["Reward", "Transition", "Reward ×\ntransition"]
    colors = [COLORS["reward"], "#999999", COLORS["common"]]
    x = np.arange(len(terms))
    if pooled is not None:
        coef = pooled.loc[terms, "coef"].to_numpy()
        err = np.vstack(
            [coef - pooled.loc[terms, "ci_low"].to_numpy(), pooled.loc[terms, "ci_high"].to_numpy() - coef]
        )
        ax.bar(
            x, coef, width=0.6, color=colors, zorder=2, yerr=err, error_kw={"elinewidth": 1.0, "capsize": 2.5}
        )
    ok = per_subject_reg[per_subject_reg["converged"]]
    rng = np.random.default_rng(0)
    for i, term in enumerate(terms):
        v = ok[term].to_numpy(dtype=float)
        if pooled is None and len(v):
            ax.bar(i, np.mean(v), width=0.6, color=colors[i], zorder=2)
        ax.scatter(
            i + rng.uniform(-0.15, 0.15, len(v)), v, s=5, color="black", alpha=0.35, linewidths=0, zorder=3
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, labels)
    ax.set_ylabel("Stay coefficient (log-odds)")
    what = "bars: pooled fit ± 95% CI" if pooled is not None else "bars: mean of subjects"
    ax.set_title(f"{what}; dots: subjects", fontsize=7)


def plot_stay_regression(
    data: pd.DataFrame,
    *,
    method: str = "cluster",
    ax=None,
    save: str | os.PathLike | None = None,
):
    """Coefficients of the stay regression: pooled estimate with 95 % CI (bars) and per-subject fits (dots).

    Parameters
    ----------
    data : pandas.DataFrame
        Canonical two-step data.
    method : {"cluster", "gee"}
        Pooled estimator (:func:`pooled_stay_regression`); a single subject shows per-subject only.
    ax : Axes, optional
    save : path, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> fig = ds.analysis.plot_stay_regression(data)
    >>> len(fig.axes)
    1
    """
    reg = stay_regression(data)
    pooled = pooled_stay_regression(data, method=method) if data["subject"].nunique() > 1 else None
    with style_context():
        if ax is None:
            fig, ax = new_figure(width=2.6, height=2.6)
        else:
            fig = ax.figure
        _regression_axes(ax, reg, pooled)
    return finish(fig, save)


def plot_two_step_stay(
    data: pd.DataFrame,
    *,
    predicted: dict[str, pd.DataFrame] | None = None,
    method: str = "cluster",
    save: str | os.PathLike | None = None,
    seed: int | np.random.Generator | None = 0,
):
    """Two-panel figure: (a) stay probabilities by reward × transition, (b) the stay regression.

    Parameters
    ----------
    data : pandas.DataFrame
        Canonical two-step data (one or more subjects).
    predicted : dict of str to DataFrame, optional
        Model-simulated data overlaid on panel a (posterior predictive check).
    method : {"cluster", "gee"}
        Pooled regression estimator.
    save : path, optional
    seed : int or Generator, optional
        Seed of the jitter of the subject dots.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> fig = ds.analysis.plot_two_step_stay(data)
    >>> len(fig.axes)
    2
    """
    reg = stay_regression(data)
    pooled = pooled_stay_regression(data, method=method) if data["subject"].nunique() > 1 else None
    per_subject = stay_probabilities(data)
    pred = {k: stay_probabilities(v) for k, v in (predicted or {}).items()}
    with style_context():
        fig, axes = new_figure(1, 2, width=6.0, height=2.6, gridspec_kw={"width_ratios": [1.15, 1]})
        _stay_axes(axes[0], per_subject, predicted=pred, seed=seed)
        _regression_axes(axes[1], reg, pooled)
        panel_letters(axes)
    return finish(fig, save)
