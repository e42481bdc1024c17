r"""The neural GLM: regress a per-trial neural measure on the model's trial-by-trial signals.

The standard model-based analysis of a recording (photometry, voltammetry, spikes, fMRI betas): fit
the choices, replay the fitted model through each subject's own choices
(:func:`dopasoft.fitting.replay`), then regress the recorded per-trial measure :math:`y` on the
replay's signals (``delta``, ``value_rpe``, ``action_term``; docs/maths.md and docs/analysis.md):

* per subject, ordinary least squares :math:`y_{t} = X_{t} \beta_s + \varepsilon_t` (t-based CIs);
* for the group, a linear mixed model (statsmodels ``MixedLM``, REML) with fixed effects
  :math:`\beta`, a random intercept per subject and optionally random slopes,
  :math:`y_{st} = X_{st} (\beta + b_s) + \varepsilon_{st}` (Wald z CIs).

Both read the same patsy formula (``"y ~ delta"``, ``"y ~ value_rpe + action_term"``, ...).
"""

from __future__ import annotations

import ast
import builtins
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dopasoft.analysis.style import COLORS, finish, new_figure, panel_letters, signal_label, style_context

__all__ = ["NeuralGLMResult", "neural_glm", "plot_neural_glm"]

COEF_COLUMNS = ("level", "term", "estimate", "se", "ci_low", "ci_high", "p", "n")


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


@dataclass
class NeuralGLMResult:
    """Result of :func:`neural_glm`.

    Attributes
    ----------
    coefficients : pandas.DataFrame
        One row per level and term: ``level`` (``"subject"`` or ``"group"``), the ``groups`` column
        (the subject; missing for the group), ``term``, ``estimate``, ``se``, ``ci_low``, ``ci_high``
        (``1 - alpha`` CI), ``p`` (two-sided, H0: coefficient = 0) and ``n`` (trials used).
    formula : str
        The patsy formula.
    groups : str
        The column identifying subjects.
    data : pandas.DataFrame
        The joined trials that were fitted (rows with a missing value in a formula variable dropped).
    n_dropped : int
        Joined trials left out for a missing value.
    subject_fits : dict
        Subject → statsmodels OLS results.
    group_fit : statsmodels MixedLMResults or None
        The mixed model (``None`` with fewer than two subjects).
    group_converged : bool
        Whether the mixed model's optimiser reported convergence without warnings.
    group_warnings : list of str
        Warnings statsmodels raised while fitting the mixed model (e.g. a random-effect variance on
        the boundary at 0).
    alpha : float
        1 − CI level.

    Examples
    --------
    >>> import dopasoft as ds
    >>> params = {"alpha": 0.5, "tau": 0.2, "lam": 0.9}
    >>> data = ds.experiments.simulate_two_step(4, 60, model="soft-q-lambda", params=params, seed=0)
    >>> signals = ds.fitting.replay(data, "soft-q-lambda", params)
    >>> recording = ds.analysis.synthetic_recording(signals, {"delta": 1.5}, stage=2, seed=0)
    >>> glm = ds.analysis.neural_glm(signals, recording, "y ~ delta", stage=2)
    >>> group = glm.coefficients.query("level == 'group'").set_index("term")
    >>> bool(abs(group.loc["delta", "estimate"] - 1.5) < 0.5)
    True
    """

    coefficients: pd.DataFrame
    formula: str
    groups: str
    data: pd.DataFrame
    n_dropped: int
    subject_fits: dict = field(repr=False)
    group_fit: Any = field(repr=False)
    group_converged: bool
    group_warnings: list[str]
    alpha: float

    def summary(self) -> str:
        """A plain-text summary: the group table and the spread of the subjects' estimates."""
        n_subj = len(self.subject_fits)
        lines = [
            f"Neural GLM  {self.formula}",
            f"{n_subj} subject(s), {len(self.data)} trials ({self.n_dropped} dropped for missing values)",
        ]
        group = self.coefficients[self.coefficients["level"] == "group"]
        if len(group):
            re = list(self.group_fit.cov_re.index) if self.group_fit is not None else []
            lines.append(
                f"Group: linear mixed model (REML), random effects per {self.groups}: {', '.join(re)}"
                + (
                    ""
                    if self.group_converged
                    else "  [NOT converged: " + "; ".join(self.group_warnings) + "]"
                )
            )
            lines.append(
                group.drop(columns=["level", self.groups]).to_string(index=False, float_format="%.4g")
            )
        subj = self.coefficients[self.coefficients["level"] == "subject"]
        spread = subj.groupby("term", sort=False)["estimate"].agg(["mean", "std", "min", "max"])
        lines.append(f"Per-subject OLS estimates ({int(100 * (1 - self.alpha))} % CIs in .coefficients):")
        lines.append(spread.to_string(float_format="%.4g"))
        return "\n".join(lines)

    def plot(self, *, terms: Sequence[str] | None = None, save: str | os.PathLike | None = None):
        """Coefficients per subject with CIs and the group estimate; see :func:`plot_neural_glm`."""
        return plot_neural_glm(self, terms=terms, save=save)


def _formula_names(formula: str) -> tuple[str, list[str]]:
    """The response column and the column names the right-hand side refers to."""
    from patsy import ModelDesc
    from patsy import builtins as patsy_builtins

    try:
        desc = ModelDesc.from_formula(formula)
    except Exception as err:
        raise ValueError(f"formula {formula!r} cannot be read: {err}".splitlines()[0]) from None
    if len(desc.lhs_termlist) != 1 or len(desc.lhs_termlist[0].factors) != 1:
        raise ValueError(
            f"formula {formula!r} needs one response column on the left of '~', e.g. 'y ~ delta'"
        )
    known = set(dir(patsy_builtins)) | set(dir(builtins)) | {"np", "numpy"}

    def names(code: str) -> list[str]:
        try:
            tree = ast.parse(code, mode="eval")
        except SyntaxError:
            return []
        return [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in known]

    lhs = names(desc.lhs_termlist[0].factors[0].code)
    if len(lhs) != 1:
        raise ValueError(f"formula {formula!r}: the response must be one column, e.g. 'y ~ delta'")
    rhs: list[str] = []
    for term in desc.rhs_termlist:
        for factor in term.factors:
            rhs += [n for n in names(factor.code) if n not in rhs]
    if not rhs:
        raise ValueError(f"formula {formula!r} has no model signal on the right of '~'")
    return lhs[0], rhs


def _join(
    signals: pd.DataFrame, neural: pd.DataFrame, groups: str, stage: int | None, y: str, rhs: list[str]
) -> pd.DataFrame:
    for what, df in (("signals", signals), ("neural", neural)):
        if not isinstance(df, pd.DataFrame):
            raise ValueError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
        missing = [c for c in (groups, "trial") if c not in df.columns]
        if missing:
            raise ValueError(f"{what} table lacks column(s) {missing} (needs {groups!r} and 'trial')")
    if y not in neural.columns:
        raise ValueError(
            f"neural table has no column {y!r}, the response of the formula (columns: {list(neural.columns)})"
        )
    if stage is not None:
        if "stage" not in signals.columns:
            raise ValueError(f"stage={stage!r} given but signals have no 'stage' column")
        signals = signals[signals["stage"] == stage]
        if signals.empty:
            raise ValueError(f"signals have no rows of stage {stage!r}")
        if "stage" in neural.columns:
            neural = neural[neural["stage"] == stage]
    keys = [groups, "trial"] + (["stage"] if "stage" in signals.columns and "stage" in neural.columns else [])
    for what, df in (("signals", signals), ("neural", neural)):
        dup = df.duplicated(keys).to_numpy()
        if dup.any():
            i = int(np.flatnonzero(dup)[0])
            hint = (
                "; pick the stage the neural measure belongs to, e.g. stage=2"
                if what == "signals" and "stage" in df.columns and "stage" not in keys
                else ""
            )
            raise ValueError(
                f"{what}, {groups} {_py(df[groups].iloc[i])!r}, row {_py(df.index[i])!r}: "
                f"a second row for trial {_py(df['trial'].iloc[i])!r}{hint}"
            )
    for name in rhs:
        if name not in signals.columns and name not in neural.columns:
            raise ValueError(
                f"formula column {name!r} is in neither signals nor neural (signals columns: {list(signals.columns)})"
            )
    neural = neural.rename(
        columns={c: f"{c}_neural" for c in neural.columns if c in signals.columns and c not in keys}
    )
    if f"{y}_neural" in neural.columns:
        neural = neural.rename(columns={f"{y}_neural": y})
        signals = signals.drop(columns=[y])
    try:
        data = signals.merge(neural, on=keys, how="inner")
    except ValueError as err:
        raise ValueError(f"cannot join signals and neural on {keys} ({err})") from None
    if data.empty:
        raise ValueError(
            f"no ({', '.join(keys)}) of the neural table is in the signals table "
            "(check that both use the same subject and trial identifiers)"
        )
    for name in [y, *rhs]:
        values = pd.to_numeric(data[name], errors="coerce") if data[name].dtype != object else data[name]
        if values.isna().all():
            raise ValueError(
                f"column {name!r} has no value on any joined trial (is it defined for this model/stage?)"
            )
    return data


def _design(formula: str, data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    from patsy import PatsyError, dmatrices

    try:
        return dmatrices(formula, data, return_type="dataframe", NA_action="drop")
    except PatsyError as err:
        raise ValueError(f"formula {formula!r}: {str(err).splitlines()[0]}") from None


def _check_design(x: pd.DataFrame, subject: Any, groups: str, n_y: int) -> None:
    where = f"{groups} {_py(subject)!r}"
    for col in x.columns:
        values = x[col].to_numpy()
        if col != "Intercept" and np.ptp(values) == 0:
            raise ValueError(
                f"regressor {col!r} is constant for {where} (all {values[0]:g}): its coefficient cannot be "
                "estimated; leave it out or drop this subject"
            )
    if n_y <= x.shape[1]:
        raise ValueError(f"{where} has {n_y} usable trial(s) for {x.shape[1]} coefficients; need more trials")
    if np.linalg.matrix_rank(x.to_numpy()) < x.shape[1]:
        raise ValueError(
            f"regressors {list(x.columns)} are collinear for {where}: one is a combination of the others"
        )


def neural_glm(
    signals: pd.DataFrame,
    neural: pd.DataFrame,
    formula: str = "y ~ delta",
    *,
    groups: str = "subject",
    stage: int | None = None,
    random_slopes: bool | Sequence[str] = False,
    alpha: float = 0.05,
) -> NeuralGLMResult:
    """Regress a per-trial neural measure on model signals: per-subject OLS and a group mixed model.

    Parameters
    ----------
    signals : pandas.DataFrame
        Replay table (:func:`dopasoft.fitting.replay`): ``subject``, ``trial``, ``stage`` and the
        signals (``delta``, ``value_rpe``, ``action_term``, ...).
    neural : pandas.DataFrame
        One row per ``subject`` and ``trial`` (and ``stage`` if it has one) with the neural measure
        (the formula's response, ``y`` by default). Joined to ``signals`` on subject, trial (and
        stage); a column in both besides the keys is read from ``signals`` (the neural copy is
        ``<name>_neural``), except the response.
    formula : str, default "y ~ delta"
        Patsy formula, e.g. ``"y ~ value_rpe + action_term"``. The intercept absorbs each subject's
        baseline.
    groups : str, default "subject"
        Column identifying subjects: one OLS per value, and the mixed model's grouping.
    stage : int, optional
        Use the signals of this stage only (e.g. 2 for the outcome of a two-step trial). Needed
        when ``signals`` has several stages per trial and ``neural`` has no ``stage`` column.
    random_slopes : bool or sequence of str, default False
        Random effects of the group model besides the intercept: ``True`` for every term of the
        formula, or the columns to give random slopes.
    alpha : float, default 0.05
        Confidence intervals at level ``1 - alpha``.

    Returns
    -------
    NeuralGLMResult
        ``.coefficients`` (tidy table), ``.summary()``, ``.plot()``, and the statsmodels fits.

    Raises
    ------
    ValueError
        One line naming the column, subject or row at fault: missing columns, duplicated trials,
        no overlap of subject/trial between the tables, a signal with no value, a regressor that is
        constant (or collinear with others) within a subject, too few trials, a bad formula.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> signals = pd.DataFrame({"subject": np.repeat([1, 2, 3, 4], 50), "trial": np.tile(np.arange(50), 4),
    ...                         "delta": rng.normal(size=200)})
    >>> baseline = np.array([0.0, 0.5, -0.4, 1.0])[signals["subject"] - 1]
    >>> neural = signals[["subject", "trial"]].assign(
    ...     y=baseline + 2.0 * signals["delta"] + rng.normal(0, 0.1, 200))
    >>> res = neural_glm(signals, neural, "y ~ delta")
    >>> group = res.coefficients.query("level == 'group' and term == 'delta'")
    >>> bool(group["ci_low"].iloc[0] < 2.0 < group["ci_high"].iloc[0])
    True
    """
    import statsmodels.api as sm

    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if not isinstance(formula, str):
        raise ValueError(f"formula must be a string such as 'y ~ delta', got {formula!r}")
    y_name, rhs = _formula_names(formula)
    data = _join(signals, neural, groups, stage, y_name, rhs)
    n_joined = len(data)
    y_all, x_all = _design(formula, data)
    data = data.loc[y_all.index].reset_index(drop=True)
    y_all = y_all.reset_index(drop=True)
    x_all = x_all.reset_index(drop=True)
    terms = list(x_all.columns)
    rows = []
    subject_fits = {}
    for subj, idx in data.groupby(groups, sort=True).indices.items():
        x = x_all.iloc[idx]
        _check_design(x, subj, groups, len(idx))
        # arrays, not frames: statsmodels' pandas wrapping costs more than the fit
        fit = sm.OLS(y_all.to_numpy()[idx, 0], x.to_numpy()).fit()
        subject_fits[subj] = fit
        ci = fit.conf_int(alpha)
        for k, term in enumerate(terms):
            rows.append(
                {
                    "level": "subject",
                    groups: subj,
                    "term": term,
                    "estimate": fit.params[k],
                    "se": fit.bse[k],
                    "ci_low": ci[k, 0],
                    "ci_high": ci[k, 1],
                    "p": fit.pvalues[k],
                    "n": len(idx),
                }
            )
    group_fit, converged, messages = None, True, []
    if len(subject_fits) >= 2:
        if random_slopes is True:
            re_columns = terms
        elif random_slopes is False or random_slopes is None:
            re_columns = ["Intercept"]
        else:
            bad = [c for c in random_slopes if c not in terms] if not isinstance(random_slopes, str) else None
            if bad or bad is None:
                raise ValueError(
                    f"random_slopes must be True, False or a list of the formula's terms {terms}; "
                    f"unknown: {bad or random_slopes!r}"
                )
            re_columns = ["Intercept", *[c for c in random_slopes if c != "Intercept"]]
        if "Intercept" in re_columns and "Intercept" not in terms:
            re_columns = [c for c in re_columns if c != "Intercept"] or None
        exog_re = (
            pd.DataFrame({"Intercept": np.ones(len(data))})
            if re_columns == ["Intercept"] or re_columns is None
            else x_all[re_columns]
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = sm.MixedLM(y_all, x_all, groups=data[groups].to_numpy(), exog_re=exog_re)
            try:
                group_fit = model.fit(reml=True)
            except (np.linalg.LinAlgError, ValueError) as err:
                raise ValueError(
                    f"the group mixed model could not be fitted ({err}); try random_slopes=False"
                ) from None
            ci = group_fit.conf_int(alpha)
            est, se, p = group_fit.fe_params, group_fit.bse_fe, group_fit.pvalues
        messages = sorted({str(w.message).splitlines()[0] for w in caught})
        if not np.isfinite(se.to_numpy()).all():
            messages.append("standard errors of the fixed effects are undefined (NaN)")
        converged = bool(group_fit.converged) and not messages
        if not converged:
            warnings.warn(
                f"neural_glm: the group mixed model did not converge cleanly ({messages[0]}); its standard "
                "errors may be wrong. See result.group_warnings; a random-effect variance at 0 often means "
                "the random part is not needed (try random_slopes=False).",
                RuntimeWarning,
                stacklevel=2,
            )
        for term in terms:
            rows.append(
                {
                    "level": "group",
                    groups: pd.NA,
                    "term": term,
                    "estimate": est[term],
                    "se": se[term],
                    "ci_low": ci.loc[term, 0],
                    "ci_high": ci.loc[term, 1],
                    "p": p[term],
                    "n": len(data),
                }
            )
    coefficients = pd.DataFrame(rows, columns=["level", groups, *COEF_COLUMNS[1:]])
    return NeuralGLMResult(
        coefficients=coefficients,
        formula=formula,
        groups=groups,
        data=data,
        n_dropped=n_joined - len(data),
        subject_fits=subject_fits,
        group_fit=group_fit,
        group_converged=converged,
        group_warnings=messages,
        alpha=float(alpha),
    )


def plot_neural_glm(
    result: NeuralGLMResult,
    *,
    terms: Sequence[str] | None = None,
    save: str | os.PathLike | None = None,
):
    """One panel per term: subjects' OLS estimates with CIs (sorted) and the group estimate with its CI.

    Parameters
    ----------
    result : NeuralGLMResult
    terms : sequence of str, optional
        Terms to show (default: all but the intercept).
    save : path, optional
        Write the figure (PNG + PDF + SVG without a suffix).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dopasoft as ds
    >>> params = {"alpha": 0.5, "tau": 0.2, "lam": 0.9}
    >>> data = ds.experiments.simulate_two_step(4, 60, model="soft-q-lambda", params=params, seed=0)
    >>> signals = ds.fitting.replay(data, "soft-q-lambda", params)
    >>> recording = ds.analysis.synthetic_recording(signals, {"delta": 1.5}, stage=2, seed=0)
    >>> glm = ds.analysis.neural_glm(signals, recording, "y ~ value_rpe + action_term", stage=2)
    >>> fig = ds.analysis.plot_neural_glm(glm)
    >>> len(fig.axes) >= 2  # one panel per term
    True
    """
    coef = result.coefficients
    all_terms = list(dict.fromkeys(coef["term"]))
    if terms is None:
        terms = [t for t in all_terms if t != "Intercept"] or all_terms
    terms = list(terms)
    unknown = [t for t in terms if t not in all_terms]
    if unknown:
        raise ValueError(f"unknown term(s) {unknown}; the fit has {all_terms}")
    from matplotlib.lines import Line2D

    level = int(round(100 * (1 - result.alpha)))
    with style_context():
        fig, axes = new_figure(
            1, len(terms), width=min(6.5, 2.2 * len(terms) + 0.6), height=2.6, squeeze=False
        )
        axes = axes[0]
        for ax, term in zip(axes, terms, strict=True):
            subj = coef[(coef["level"] == "subject") & (coef["term"] == term)].sort_values("estimate")
            x = np.arange(len(subj))
            ax.errorbar(
                x,
                subj["estimate"],
                yerr=[subj["estimate"] - subj["ci_low"], subj["ci_high"] - subj["estimate"]],
                fmt="o",
                ms=2.5,
                color="black",
                ecolor="#999999",
                elinewidth=0.8,
                capsize=0,
                zorder=3,
            )
            ticks, labels = [], []
            group = coef[(coef["level"] == "group") & (coef["term"] == term)]
            if len(group):
                g = group.iloc[0]
                gx = len(subj) + max(1.0, 0.1 * len(subj))
                ax.axhspan(g["ci_low"], g["ci_high"], color=COLORS["reward"], alpha=0.15, lw=0, zorder=1)
                ax.errorbar(
                    [gx],
                    [g["estimate"]],
                    yerr=[[g["estimate"] - g["ci_low"]], [g["ci_high"] - g["estimate"]]],
                    fmt="D",
                    ms=4,
                    color=COLORS["reward"],
                    elinewidth=1.2,
                    capsize=2.5,
                    zorder=4,
                )
                ticks, labels = [gx], ["Group"]
            ax.axhline(0, color="black", lw=0.8, zorder=2)
            ax.set_xticks(ticks, labels)
            ax.set_xlabel("Subjects (sorted)")
            ax.set_title(signal_label(term), fontsize=8)
            ax.set_ylabel(f"Coefficient ± {level}% CI (y units)")
        fig.legend(
            handles=[
                Line2D([], [], ls="", marker="o", ms=2.5, color="black", label=f"Subject: OLS ± {level}% CI"),
                Line2D(
                    [],
                    [],
                    ls="",
                    marker="D",
                    ms=4,
                    color=COLORS["reward"],
                    label=f"Group: mixed model ± {level}% CI",
                ),
            ],
            loc="outside lower center",
            ncols=2,
            fontsize=6.5,
        )
        if len(terms) > 1:
            panel_letters(axes)
    return finish(fig, save)
