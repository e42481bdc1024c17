r"""Figures of fitted models: parameter distributions, parameter recovery, model comparison and posterior
predictive checks (the tables: :mod:`dopasoft.analysis.model_fits`)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dopasoft.analysis import two_step
from dopasoft.analysis.model_fits import (
    PARAM_LABELS,
    _as_sessions,
    _left_out_note,
    compare_models,
    fits_model,
)
from dopasoft.analysis.style import COLORS, PALETTE, finish, new_figure, panel_letters, style_context
from dopasoft.fitting.recovery import _align, fitted_rows, recovery_table

__all__ = ["plot_parameters", "plot_recovery", "plot_model_comparison", "plot_posterior_predictive"]


def _label(p: str, wrap: bool = False, model: Any = None) -> str:
    """Axis label of parameter ``p``: from ``model``'s declaration when given, else any family's."""
    names = model.param_names if model is not None else ()
    text = model.parameter(p).label if p in names else PARAM_LABELS.get(p, p)
    return text.replace(" (", "\n(") if wrap else text


def _grid(n: int) -> tuple[int, int]:
    ncols = min(n, 4)
    return int(np.ceil(n / ncols)), ncols


def plot_parameters(fits: pd.DataFrame, model: Any = None, *, save: str | os.PathLike | None = None):
    """Distribution of fitted parameters over subjects (one strip + box per parameter).

    Subjects without a fit (:func:`fitted_rows`) are left out; the figure says how many.

    Parameters
    ----------
    fits : pandas.DataFrame
        A fits table (:attr:`dopasoft.fitting.FitResult.params`).
    model : str or ChoiceModel, optional
        The fitted model; read from the table's ``model`` column or its parameter columns if omitted.
    save : str or os.PathLike, optional
        Path without extension: the figure is also written as PNG, PDF and SVG (:func:`save_figure`).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> fits = ds.fitting.fit(data, "soft-q", n_starts=1).params
    >>> fig = ds.analysis.plot_parameters(fits, "soft-q")
    >>> len(fig.axes) >= 1
    True
    """
    m = fits_model(fits, model)
    names = list(m.param_names)
    ok = fitted_rows(fits)
    n_out = int((~ok).sum())
    fits = fits[ok]
    nrows, ncols = _grid(len(names))
    rng = np.random.default_rng(0)
    with style_context():
        fig, axes = new_figure(nrows, ncols, width=1.7 * ncols, height=2.0 * nrows, squeeze=False)
        for ax, p in zip(axes.ravel(), names, strict=False):
            v = pd.to_numeric(fits[p], errors="coerce").dropna().to_numpy()
            ax.boxplot(v, widths=0.5, showfliers=False, medianprops={"color": "black"})
            ax.scatter(
                1 + rng.uniform(-0.15, 0.15, len(v)), v, s=6, color=PALETTE[0], alpha=0.6, linewidths=0
            )
            ax.set_xticks([])
            ax.set_ylabel(_label(p, wrap=True, model=m))
            _equal_values_axis(ax, v, m.parameter(p))
            if (
                m.parameter(p).kind in ("temperature", "inverse-temperature")
                and np.all(v > 0)
                and v.max() / v.min() > 20
            ):
                ax.set_yscale("log")
        for ax in axes.ravel()[len(names) :]:
            ax.set_visible(False)
        panel_letters([ax for ax in axes.ravel()[: len(names)]])
        _left_out_note(fig, n_out)
    return finish(fig, save)


def _equal_values_axis(ax, v: np.ndarray, param: Any) -> None:
    """When every subject has (nearly) the same value, matplotlib's automatic axis (value ± 5 %) makes
    a constant look like a spread: show the parameter's fitting bounds instead (or ± 0.5 around the
    value when a bound is infinite) and say so above the panel."""
    if v.size == 0:
        return
    lower, upper = float(param.lower), float(param.upper)
    bounded = np.isfinite(lower) and np.isfinite(upper) and upper > lower
    width = upper - lower if bounded else max(1.0, float(np.abs(v).max()))
    if np.ptp(v) > 0.01 * width:
        return
    if bounded:
        lo, hi, what = lower, upper, f"axis: fitting bounds {lower:g}–{upper:g}"
    else:
        c = float(np.mean(v))
        half = max(0.5, 0.5 * abs(c))
        lo, hi, what = c - half, c + half, f"axis: value ± {half:g}"
    pad = 0.04 * (hi - lo)
    ax.set_ylim(lo - pad, hi + pad)
    same = "all" if np.ptp(v) == 0 else "all ≈"
    ax.set_title(f"{same} {len(v)} subjects at {np.mean(v):.3g}\n({what})", fontsize=6.5)


def plot_recovery(
    true: pd.DataFrame,
    fitted: pd.DataFrame,
    params: Sequence[str] | None = None,
    *,
    save: str | os.PathLike | None = None,
):
    """Parameter recovery: estimated against true values, identity line and Pearson r per parameter.

    Axes span the true values (and the central 90 % of the estimates); estimates beyond them (e.g. at a
    bound for a subject whose choices are nearly deterministic) are drawn at the edge as open triangles
    and counted ("k off scale"); non-converged fits are crosses. ``r`` uses all finite pairs;
    subjects without a fit (:func:`fitted_rows`) are left out and counted below the panels.

    Parameters
    ----------
    true, fitted : pandas.DataFrame
        Generating and fitted parameters (matched on ``subject`` when both have it).
    params : sequence of str, optional
        Parameters to show (default all shared parameter columns).
    save : path, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> import dopasoft as ds
    >>> true = pd.DataFrame({"subject": [1, 2, 3], "alpha": [0.1, 0.5, 0.9], "tau": [0.1, 0.2, 0.3]})
    >>> fitted = true.assign(alpha=[0.2, 0.5, 0.8], tau=[0.12, 0.18, 0.33])
    >>> fig = ds.analysis.plot_recovery(true, fitted, ["alpha", "tau"])
    >>> len(fig.axes)  # one panel per parameter
    2
    """
    table = recovery_table(true, fitted, params).set_index("param")
    t, f = _align(true, fitted)
    names = list(table.index)
    if not names:
        raise ValueError("no parameter column shared by the true and fitted tables")
    nrows, ncols = _grid(len(names))
    converged = f["converged"].astype(bool).to_numpy() if "converged" in f.columns else np.ones(len(f), bool)
    has_fit = fitted_rows(f)
    shown: set[str] = set()  # marker kinds drawn in some panel (defined in the legend)
    with style_context():
        fig, axes = new_figure(
            nrows, ncols, width=1.75 * ncols + 0.3, height=1.85 * nrows + 0.15, squeeze=False
        )
        for ax, p in zip(axes.ravel(), names, strict=False):
            x, y = t[p].to_numpy(float), f[p].to_numpy(float)
            ok = np.isfinite(x) & np.isfinite(y) & has_fit
            # axes cover the true range (padded); estimates far outside are drawn at the edge as triangles
            span = float(np.ptp(x[ok])) if ok.any() and np.ptp(x[ok]) > 0 else 1.0
            lo = float(min(x[ok].min(), np.quantile(y[ok], 0.05))) - 0.12 * span if ok.any() else 0.0
            hi = float(max(x[ok].max(), np.quantile(y[ok], 0.95))) + 0.12 * span if ok.any() else 1.0
            outside = ok & ((y < lo) | (y > hi))
            inside = ok & ~outside
            ax.scatter(
                x[inside & converged], y[inside & converged], s=8, color=PALETTE[0], alpha=0.7, linewidths=0
            )
            if (inside & ~converged).any():
                shown.add("not converged")
                ax.scatter(
                    x[inside & ~converged],
                    y[inside & ~converged],
                    s=10,
                    marker="x",
                    color=COLORS["rare"],
                    lw=0.8,
                )
            if outside.any():
                shown.add("off scale")
                yc = np.clip(y[outside], lo, hi)
                ax.scatter(
                    x[outside],
                    yc,
                    s=14,
                    marker="^",
                    facecolors="none",
                    edgecolors=COLORS["rare"],
                    lw=0.8,
                    clip_on=False,
                    zorder=4,
                )
                ax.text(
                    0.96,
                    0.04,
                    f"{int(outside.sum())} off scale",
                    transform=ax.transAxes,
                    ha="right",
                    va="bottom",
                    fontsize=6.5,
                    color=COLORS["rare"],
                )
            lim = (lo, hi)
            ax.plot(lim, lim, color=COLORS["identity"], lw=0.8, ls="--", zorder=0)
            ax.set_xlim(lim)
            ax.set_ylim(lim)
            ax.set_aspect("equal", adjustable="box")
            ax.text(
                0.04,
                0.96,
                f"r = {table.loc[p, 'pearson_r']:.2f}",
                transform=ax.transAxes,
                ha="left",
                va="top",
                fontsize=7,
            )
            ax.set_title(_label(p), fontsize=7.5)
            ax.set_xlabel("True")
            ax.set_ylabel("Estimated")
        for ax in axes.ravel()[len(names) :]:
            ax.set_visible(False)
        panel_letters([ax for ax in axes.ravel()[: len(names)]], offset=(-24.0, 14.0))
        if shown:
            _recovery_legend(fig, shown)
        _left_out_note(fig, int((~has_fit).sum()))
    return finish(fig, save)


def _recovery_legend(fig, shown: set[str]) -> None:
    """Figure legend defining the markers of :func:`plot_recovery` (drawn only when a panel needs it)."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], ls="", marker="o", ms=3.5, color=PALETTE[0], alpha=0.7, label="Subject"),
        Line2D([], [], ls="", marker="x", ms=4, mew=0.8, color=COLORS["rare"], label="Fit not converged"),
        Line2D(
            [],
            [],
            ls="",
            marker="^",
            ms=4.5,
            mfc="none",
            mec=COLORS["rare"],
            mew=0.8,
            label="Estimate beyond the axis, drawn at its edge (counted: “k off scale”)",
        ),
    ]
    keep = [handles[0]] + [
        h for h, kind in zip(handles[1:], ("not converged", "off scale"), strict=True) if kind in shown
    ]
    fig.legend(handles=keep, loc="outside lower left", ncols=len(keep), fontsize=6.5, handletextpad=0.3)


def plot_model_comparison(
    fits: Mapping[str, pd.DataFrame] | pd.DataFrame,
    *,
    criterion: str = "bic",
    save: str | os.PathLike | None = None,
):
    """Model comparison: (a) summed ΔAIC and ΔBIC to the best model, (b) BMS frequencies and exceedance.

    Parameters
    ----------
    fits : mapping of str to DataFrame, or DataFrame
        Fits tables per model, or the table returned by :func:`compare_models`.
    criterion : {"bic", "aic"}
        Log evidence of the BMS (panel b).
    save : path, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> fits = ds.fitting.fit(data, "soft-q", n_starts=1).params
    >>> fits_k = ds.fitting.fit(data, "soft-q+kappa", n_starts=1).params
    >>> fig = ds.analysis.plot_model_comparison({"soft-q": fits, "soft-q+kappa": fits_k})
    >>> len(fig.axes)
    2
    """
    if isinstance(fits, pd.DataFrame):
        need = ["model", "delta_aic", "delta_bic", "expected_frequency", "exceedance", "protected_exceedance"]
        missing = [c for c in need if c not in fits.columns]
        if missing:
            raise ValueError(f"the comparison table lacks column(s) {missing}; pass the fits tables instead")
        table = fits
    else:
        table, _ = compare_models(fits, criterion=criterion)
    table = table.sort_values("delta_bic" if criterion == "bic" else "delta_aic", kind="stable")
    names = table["model"].tolist()
    y = np.arange(len(names))[::-1]
    h = 0.38
    with style_context():
        fig, axes = new_figure(1, 2, width=6.5, height=0.45 * len(names) + 1.8, sharey=True)
        a, b = axes
        a.barh(y + h / 2, table["delta_aic"], height=h, color=PALETTE[0], label="ΔAIC")
        a.barh(y - h / 2, table["delta_bic"], height=h, color=PALETTE[1], label="ΔBIC")
        for yy, da, db in zip(y, table["delta_aic"], table["delta_bic"], strict=True):
            if da == 0 and db == 0:
                a.text(0, yy, " best (Δ = 0)", va="center", ha="left", fontsize=7)
        a.set_yticks(y, names)
        a.set_xlabel("Summed Δ criterion vs best\n(lower is better)")
        a.legend(loc="upper right", borderaxespad=0.2)
        h3 = 0.26
        b.barh(y + h3, table["expected_frequency"], height=h3, color=PALETTE[5], label="Expected frequency")
        b.barh(y, table["exceedance"], height=h3, color=PALETTE[2], label="Exceedance prob.")
        b.barh(
            y - h3,
            table["protected_exceedance"],
            height=h3,
            color=PALETTE[3],
            label="Protected exceedance prob.",
        )
        b.set_xlim(0, 1)
        b.set_xlabel(f"Probability\n(random-effects BMS on −{criterion.upper()}/2)")
        b.legend(loc="upper right", borderaxespad=0.2)
        bor = float(table["bor"].iloc[0]) if "bor" in table.columns else np.nan
        b.set_title(f"BOR = {bor:.2f}", fontsize=7, loc="right")
        for ax in axes:
            ax.tick_params(axis="y", length=0)
            ax.spines["left"].set_bounds(-0.55, len(names) - 0.45)
        panel_letters(axes)
        _legend_band(fig, a, [a.get_legend(), b.get_legend()], -0.55, len(names) - 0.45)
    return finish(fig, save)


def _legend_band(fig, ax, legends, lo: float, hi: float) -> None:
    """Extend the y axis of ``ax`` (and its shared siblings) above ``hi`` by an empty band as tall as
    the tallest legend, so that legends at the top of the axes never sit on a bar, whatever the data."""
    ax.set_ylim(lo, hi)
    fig.draw_without_rendering()  # lays the figure out: sizes in pixels are final from here on
    renderer = fig._get_renderer()
    tall = max(lg.get_window_extent(renderer).height for lg in legends) + 4.0  # px, with a margin
    height = ax.get_window_extent(renderer).height
    units = hi - lo
    band = tall * units / max(height - tall, 0.25 * height)  # legend height in data units once extended
    ax.set_ylim(lo, hi + band)


def _identity_scatter(ax, x: np.ndarray, y: np.ndarray) -> None:
    ax.scatter(x, y, s=9, color=PALETTE[0], alpha=0.8, linewidths=0)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() > 0:
        lo, hi = min(x[ok].min(), y[ok].min()), max(x[ok].max(), y[ok].max())
        pad = 0.05 * ((hi - lo) or 1.0)
        lim = (lo - pad, hi + pad)
        ax.plot(lim, lim, color=COLORS["identity"], ls="--", lw=0.8, zorder=0)
        ax.set_xlim(lim)
        ax.set_ylim(lim)
    if ok.sum() > 2:
        ax.text(
            0.04,
            0.96,
            f"r = {np.corrcoef(x[ok], y[ok])[0, 1]:.2f}",
            transform=ax.transAxes,
            ha="left",
            va="top",
            fontsize=7,
        )
    ax.set_aspect("equal", adjustable="box")


def plot_posterior_predictive(
    data: pd.DataFrame,
    simulated: Mapping[str, pd.DataFrame],
    *,
    save: str | os.PathLike | None = None,
    seed: int | np.random.Generator | None = 0,
):
    """Posterior predictive check of stay behaviour.

    (a) data stay probabilities (bars ± SEM, subjects as dots) with each model's simulations (open
    markers ± SEM); per-subject (b) model-free index (main effect of reward on stay probability) and
    (c) model-based index (reward × transition), data against the first model's simulations (mean over
    its ``n_sims`` sessions), with the identity line and Pearson r (see :func:`~dopasoft.analysis.two_step.mb_mf_indices`).

    Parameters
    ----------
    data : pandas.DataFrame
        Canonical two-step data.
    simulated : mapping of str to DataFrame
        Model name → output of :func:`posterior_predictive`.
    save : path, optional
    seed : int or Generator, optional
        Jitter of the dots.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.experiments.simulate_two_step(4, 60, seed=0)
    >>> fits = ds.fitting.fit(data, "soft-q", n_starts=1).params
    >>> sims = {"soft-q": ds.analysis.posterior_predictive(data, fits, "soft-q", seed=0)}
    >>> fig = ds.analysis.plot_posterior_predictive(data, sims)
    >>> len(fig.axes) >= 1
    True
    """
    if not simulated:
        raise ValueError("simulated must hold at least one model's simulations")
    sessions = {k: _as_sessions(v) for k, v in simulated.items()}
    per_subject = two_step.stay_probabilities(data)
    first = next(iter(simulated))
    obs = two_step.mb_mf_indices(data).assign(subject=lambda d: d["subject"].astype(str)).set_index("subject")
    sim = simulated[first]
    sim_sessions = _as_sessions(sim)
    sim_idx = two_step.mb_mf_indices(sim_sessions)
    if "subject_sim" in sim.columns:
        owner = sim.drop_duplicates("subject_sim").set_index("subject_sim")["subject"].astype(str)
        sim_idx["subject"] = sim_idx["subject"].map(owner)
    pred = sim_idx.groupby(sim_idx["subject"].astype(str))[["mf_index", "mb_index"]].mean()
    common = [s for s in obs.index if s in pred.index]
    with style_context():
        fig, axes = new_figure(1, 3, width=6.8, height=2.7, gridspec_kw={"width_ratios": [1.3, 1, 1]})
        two_step._stay_axes(
            axes[0],
            per_subject,
            predicted={k: two_step.stay_probabilities(v) for k, v in sessions.items()},
            seed=seed,
        )
        for ax, col, what in ((axes[1], "mf_index", "Model-free"), (axes[2], "mb_index", "Model-based")):
            x = obs.loc[common, col].to_numpy(float)
            y = pred.loc[common, col].to_numpy(float)
            _identity_scatter(ax, x, y)
            ax.set_title(f"{what} index\n{first} vs data", fontsize=7.5)
            ax.set_xlabel("Data (ΔP stay)")
            ax.set_ylabel("Simulated (ΔP stay)")
        panel_letters(axes)
    return finish(fig, save)
