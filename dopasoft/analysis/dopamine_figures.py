r"""Figures of model dopamine: RPEs across training, within-trial traces, heatmaps, RPE transfer,
blocking and probability scaling (tables and the photometry kernel: :mod:`dopasoft.analysis.dopamine`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.ticker import MultipleLocator

from dopasoft.analysis.dopamine import (
    PHOTOMETRY_LABEL,
    RPE_LABEL,
    _require,
    aligned_traces,
    cohort_mean,
    convolve_photometry,
    delay_slope,
    one_animal,
    probability_scaling,
    reward_probability,
    rpe_by_delay,
    trial_table,
)
from dopasoft.analysis.style import COLORS, PALETTE, finish, new_figure, panel_letters, style_context

__all__ = [
    "plot_rpe_across_training",
    "plot_traces",
    "plot_heatmap",
    "plot_rpe_transfer",
    "plot_blocking",
    "plot_probability_scaling",
    "plot_reward_timing",
]


def _phase_bounds(ax, trials: pd.DataFrame, *, label: bool = True) -> None:
    if "phase" not in trials.columns:
        return
    phases = trials["phase"].to_numpy()
    starts = np.flatnonzero(np.r_[True, phases[1:] != phases[:-1]])
    x = trials["trial"].to_numpy() + 1
    for i, s in enumerate(starts):
        if i > 0:
            ax.axvline(x[s] - 0.5, color="#999999", lw=0.8, ls="--", zorder=0)
        if label and len(starts) > 1:
            end = starts[i + 1] - 1 if i + 1 < len(starts) else len(x) - 1
            if (x[end] - x[s]) > 0.12 * (x[-1] - x[0]):  # room for the name
                ax.text(
                    (x[s] + x[end]) / 2,
                    1.0,
                    str(phases[s]),
                    transform=ax.get_xaxis_transform(),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color="#4D4D4D",
                )


def plot_rpe_across_training(
    result: Any,
    *,
    trial_types: Sequence[str] | None = None,
    signals: Sequence[str] = ("cue_rpe", "reward_rpe"),
    ax=None,
    save: str | os.PathLike | None = None,
):
    """Per-trial cue and reward RPE across training (phase boundaries dashed).

    For a cohort (a ``subject`` column with several animals) each line is the mean across animals of
    their ``k``-th trial of the type, with a band of ± SEM across animals (the trial orders differ between
    animals, so the x axis counts the trials of each type and phase boundaries are not drawn).

    Parameters
    ----------
    result : SimulationResult, ConditioningCohort or DataFrame
        Per-trial table.
    trial_types : sequence of str, optional
        Plot only these trial types (each type × signal is a line); default all.
    signals : sequence of str
        Per-trial columns to plot.
    ax : Axes, optional
    save : path, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import simulate_conditioning
    >>> result = simulate_conditioning("acquisition", seed=0)
    >>> fig = ds.analysis.plot_rpe_across_training(result)
    >>> len(fig.axes)
    1
    """
    trials = trial_table(result)
    animals = trials["subject"].nunique() if "subject" in trials.columns else 1
    for s in signals:
        _require(trials, (s,), "the per-trial table")
    if trial_types is not None:
        unknown = sorted(set(trial_types) - set(trials["trial_type"]))
        if unknown:
            raise ValueError(f"unknown trial type(s) {unknown}; present: {sorted(set(trials['trial_type']))}")
    types = list(trial_types) if trial_types is not None else list(pd.unique(trials["trial_type"]))
    base = {"cue_rpe": COLORS["cue"], "reward_rpe": COLORS["reward"]}
    with style_context():
        if ax is None:
            fig, ax = new_figure(width=3.2, height=2.4)
        else:
            fig = ax.figure
        linestyles = ["-", "--", ":", "-."]
        for j, tt in enumerate(types):
            sub = trials[trials["trial_type"] == tt]
            if animals > 1:  # the k-th trial of this type of every animal
                sub = sub.assign(k=sub.groupby("subject").cumcount())
                grouped = sub.groupby("k")[list(signals)]
                mean, sem = grouped.mean(), grouped.sem()
            for i, s in enumerate(signals):
                color = base.get(s, PALETTE[(i + 2) % len(PALETTE)])
                name = s.replace("_rpe", "").capitalize()
                label = name if len(types) == 1 else f"{tt} {name.lower()}"
                style: dict[str, Any] = {"lw": 1.2, "ls": linestyles[j % len(linestyles)]}
                if animals > 1:
                    x = mean.index.to_numpy() + 1
                    ax.fill_between(x, mean[s] - sem[s], mean[s] + sem[s], color=color, alpha=0.25, lw=0)
                    ax.plot(x, mean[s], color=color, label=label, **style)
                    continue
                if len(sub) <= 30:
                    style.update(marker="o^sDv<>"[j % 7], ms=3)
                ax.plot(sub["trial"] + 1, sub[s], color=color, label=label, **style)
        ax.axhline(0, color="black", lw=0.6, zorder=0)
        if animals > 1:
            ax.set_title(f"mean ± SEM (band) across {animals} animals", fontsize=7, loc="left")
            ax.set_xlabel("Trial of each type")
        else:
            _phase_bounds(ax, trials)
            ax.set_xlabel("Trial")
        ax.set_ylabel(RPE_LABEL)
        if animals > 1:  # bands fill the axes: the legend goes beside them
            ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
        else:
            ax.legend(loc="best")
    return finish(fig, save)


def _trace_colors(n: int) -> list:
    cmap = mcolors.LinearSegmentedColormap.from_list("early-late", ["#BBBBBB", COLORS["common"]])
    return [cmap(x) for x in np.linspace(0, 1, n)] if n > 1 else [COLORS["common"]]


def plot_traces(
    traces: pd.DataFrame,
    *,
    trials: Sequence[int] | None = None,
    ylabel: str = RPE_LABEL,
    xlabel: str | None = None,
    markers: bool = True,
    ax=None,
    save: str | os.PathLike | None = None,
):
    """Within-trial traces of chosen trials (early trials grey, late trials blue).

    Parameters
    ----------
    traces : pandas.DataFrame
        Trials × time (s), e.g. :func:`aligned_traces` or :func:`convolve_photometry`.
    trials : sequence of int, optional
        Trials (index labels) to draw; default first, middle and last.
    ylabel, xlabel : str
        Axis labels (``xlabel`` defaults to the columns' name).
    markers : bool
        Mark the samples (useful for coarse bins).
    ax : Axes, optional
    save : path, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import simulate_conditioning
    >>> result = simulate_conditioning("acquisition", seed=0)
    >>> fig = ds.analysis.plot_traces(ds.analysis.aligned_traces(result, "delta"), trials=[0, 50, 199])
    >>> len(fig.axes)
    1
    """
    if not isinstance(traces, pd.DataFrame) or traces.empty:
        raise ValueError("traces must be a non-empty trials x time DataFrame")
    if trials is None:
        idx = traces.index
        trials = list(dict.fromkeys([idx[0], idx[len(idx) // 2], idx[-1]]))
    missing = [t for t in trials if t not in traces.index]
    if missing:
        raise ValueError(f"trials {missing} are not in the traces")
    t = np.asarray(traces.columns, dtype=float)
    with style_context():
        if ax is None:
            fig, ax = new_figure(width=3.2, height=2.4)
        else:
            fig = ax.figure
        for color, trial in zip(_trace_colors(len(trials)), trials, strict=True):
            ax.plot(
                t,
                traces.loc[trial].to_numpy(float),
                color=color,
                marker="o" if markers else None,
                ms=2.5,
                label=f"Trial {int(trial) + 1}",
            )
        ax.axhline(0, color="black", lw=0.6, zorder=0)
        ax.set_xlabel(
            xlabel
            or (
                f"Time from {traces.columns.name.split('from ')[-1]}"
                if traces.columns.name and "from" in str(traces.columns.name)
                else "Time (s)"
            )
        )
        ax.set_ylabel(ylabel)
        ax.legend(loc="best")
    return finish(fig, save)


def plot_heatmap(
    traces: pd.DataFrame,
    *,
    label: str = RPE_LABEL,
    xlabel: str | None = None,
    ax=None,
    save: str | os.PathLike | None = None,
):
    """Heatmap of within-trial traces over trials (diverging colours centred at 0, colour bar with units).

    Parameters
    ----------
    traces : pandas.DataFrame
        Trials × time (s).
    label : str
        Colour-bar label.
    xlabel : str, optional
    ax : Axes, optional
    save : path, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import simulate_conditioning
    >>> result = simulate_conditioning("acquisition", seed=0)
    >>> fig = ds.analysis.plot_heatmap(ds.analysis.aligned_traces(result, "delta"))
    >>> len(fig.axes)  # the heatmap and its colour bar
    2
    """
    if not isinstance(traces, pd.DataFrame) or traces.empty:
        raise ValueError("traces must be a non-empty trials x time DataFrame")
    t = np.asarray(traces.columns, dtype=float)
    rows = np.asarray(traces.index, dtype=float) + 1
    values = traces.to_numpy(dtype=float)
    vmax = float(np.nanmax(np.abs(values))) or 1.0
    step_t = np.median(np.diff(t)) if len(t) > 1 else 1.0
    with style_context():
        if ax is None:
            fig, ax = new_figure(width=3.2, height=2.4)
        else:
            fig = ax.figure
        im = ax.imshow(
            values,
            aspect="auto",
            origin="lower",
            interpolation="nearest",
            cmap="RdBu_r",
            vmin=-vmax,
            vmax=vmax,
            extent=(t[0] - step_t / 2, t[-1] + step_t / 2, rows[0] - 0.5, rows[-1] + 0.5),
        )
        cbar = fig.colorbar(im, ax=ax, shrink=0.9, pad=0.02)
        cbar.set_label(label)
        cbar.ax.tick_params(labelsize=7)
        ax.set_xlabel(xlabel or "Time from cue onset (s)")
        ax.set_ylabel("Trial")
    return finish(fig, save)


def plot_rpe_transfer(
    result: Any,
    *,
    signal: str = "delta",
    trials: Sequence[int] | None = None,
    tau_rise: float = 0.1,
    tau_decay: float = 0.6,
    save: str | os.PathLike | None = None,
):
    """The transfer of the RPE from reward to cue during acquisition, four panels.

    (a) cue-aligned RPE traces of early, middle and late trials; (b) heatmap of the traces over trials;
    (c) per-trial cue and reward RPE across training; (d) the same traces as (a) convolved with the
    photometry kernel (:func:`convolve_photometry`).

    Parameters
    ----------
    result : SimulationResult
        Or any object with ``trials`` and ``steps`` tables (e.g. ``types.SimpleNamespace``).
    signal : str, default "delta"
    trials : sequence of int, optional
        Trials of panels a and d (default: first, 10 %, 30 % and last).
    tau_rise, tau_decay : float
        Photometry kernel (s).
    save : path, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import simulate_conditioning
    >>> result = simulate_conditioning("acquisition", seed=0)
    >>> fig = ds.analysis.plot_rpe_transfer(result)  # save="figs/rpe_transfer" writes .png .pdf .svg
    >>> len(fig.axes) >= 4
    True
    """
    table = one_animal(trial_table(result), "plot_rpe_transfer")
    traces = aligned_traces(getattr(result, "steps", None), signal, align="cue")
    if trials is None:
        idx = traces.index
        n = len(idx)
        trials = list(dict.fromkeys([idx[0], idx[int(0.1 * n)], idx[int(0.3 * n)], idx[-1]]))
    photometry = convolve_photometry(traces.loc[list(trials)], tau_rise=tau_rise, tau_decay=tau_decay)
    with style_context():
        fig, axes = new_figure(2, 2, width=6.5, height=4.6)
        a, b, c, d = axes.ravel()
        plot_traces(traces, trials=trials, ax=a, xlabel="Time from cue onset (s)")
        plot_heatmap(traces, ax=b, xlabel="Time from cue onset (s)")
        plot_rpe_across_training(table, ax=c)
        plot_traces(
            photometry,
            trials=trials,
            ax=d,
            markers=False,
            ylabel=PHOTOMETRY_LABEL,
            xlabel="Time from cue onset (s)",
        )
        reward_t = _event_offset(result)
        for ax in (a, d):
            ax.axvline(0, color=COLORS["cue"], lw=0.8, ls=":", zorder=0)
            if reward_t is not None:
                ax.axvline(reward_t, color=COLORS["reward"], lw=0.8, ls=":", zorder=0)
        # below the panel: the traces fill it, and a legend on the right would push b's colour bar away
        d.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.24),
            ncols=4,
            handlelength=1.2,
            columnspacing=0.9,
            borderaxespad=0.0,
        )
        panel_letters(axes.ravel())
    return finish(fig, save)


def _event_offset(result: Any, event: str = "reward") -> float | None:
    steps = getattr(result, "steps", None)
    if steps is None or "event" not in steps.columns:
        return None
    cue = steps.loc[steps["event"] == "cue", ["trial", "time"]].drop_duplicates("trial").set_index("trial")
    rew = steps.loc[steps["event"] == event, ["trial", "time"]].drop_duplicates("trial").set_index("trial")
    both = cue.merge(rew, left_index=True, right_index=True, suffixes=("_cue", "_ev"), how="inner")
    if both.empty:
        return None
    return float(np.median(both["time_ev"] - both["time_cue"]))


def _probe_bars(ax, groups: dict[str, pd.DataFrame], cues: Sequence[str]) -> None:
    """Cue RPE at the probe trials, one bar per group and cue.

    Probe trials do not learn, so one agent's repeated probes of a cue are identical copies: their
    SEM is zero and says nothing about variability. Such bars get no error bar and the panel says
    why; bars whose probes do differ get mean ± SEM over the probe trials, said in the title.
    """
    width = 0.8 / max(1, len(groups))
    spread = False
    for g, (name, trials) in enumerate(groups.items()):
        probes = trials[trials["trial_type"].astype(str).str.endswith("?")]
        stats = probes.groupby("trial_type")["cue_rpe"].agg(["mean", "sem", "count", "min", "max"])
        x = np.arange(len(cues)) + (g - (len(groups) - 1) / 2) * width
        means = np.array([stats["mean"].get(f"{c}?", np.nan) for c in cues], float)
        ranges = np.array(
            [stats["max"].get(f"{c}?", np.nan) - stats["min"].get(f"{c}?", np.nan) for c in cues]
        )
        sems = np.array([stats["sem"].get(f"{c}?", np.nan) for c in cues], float)
        varies = np.nan_to_num(ranges) > 1e-9 * (1.0 + np.nan_to_num(np.abs(means)))
        spread |= bool(varies.any())
        ax.bar(
            x,
            means,
            width=width * 0.95,
            yerr=np.where(varies, sems, np.nan) if varies.any() else None,
            color=PALETTE[g],
            label=name,
            zorder=2,
            error_kw={"elinewidth": 1.0, "capsize": 2.0},
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(np.arange(len(cues)), [f"Cue {c}" for c in cues])
    ax.set_ylabel("Cue RPE at probe (reward units)")
    n = int(max(len(t[t["trial_type"].astype(str).str.endswith("?")]) for t in groups.values()) / len(cues))
    if spread:
        ax.set_title(f"error bars: ± SEM over the probe\ntrials (≤ {n} per cue)", fontsize=6.5, loc="left")
    else:
        ax.set_title(
            f"one deterministic agent per group: its {n}\nprobes per cue are identical (probes do\n"
            "not learn), so there is no error bar",
            fontsize=6.5,
            loc="left",
        )


def plot_blocking(
    result: Any,
    control: Any | None = None,
    *,
    label: str = "Blocking",
    control_label: str = "Control (AB+ only)",
    save: str | os.PathLike | None = None,
):
    """Blocking (Kamin 1969): training RPEs and the cue RPE of the probe trials ``A?``, ``B?``.

    (a) cue RPE across training of the blocking protocol (A+ then AB+): the compound predicts the
    reward from the start of phase 2, so B gains no weight; (b) probe cue RPEs (mean ± SEM) for A and B
    in the blocking group and, if given, in a ``control`` group trained on AB+ only (B not blocked).

    Parameters
    ----------
    result : SimulationResult or DataFrame
        Per-trial table of the ``blocking`` protocol (probe trials ``A?``, ``B?``).
    control : SimulationResult or DataFrame, optional
        Per-trial table of a control protocol with the same probes.
    label, control_label : str
        Legend names of the two groups.
    save : path, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import simulate_conditioning
    >>> fig = ds.analysis.plot_blocking(simulate_conditioning("blocking", seed=0))
    >>> len(fig.axes) >= 2
    True
    """
    trials = trial_table(result)
    groups = {label: trials}
    if control is not None:
        groups[control_label] = trial_table(control)
    probes = trials[trials["trial_type"].astype(str).str.endswith("?")]
    if probes.empty:
        raise ValueError("the blocking table has no probe trials (trial types ending in '?')")
    cues = sorted({c for t in probes["trial_type"] for c in str(t)[:-1] if c.isalpha()})
    training = trials[~trials["trial_type"].astype(str).str.endswith("?")]
    with style_context():
        fig, axes = new_figure(1, 2, width=6.0, height=2.5, gridspec_kw={"width_ratios": [1.6, 1]})
        plot_rpe_across_training(training, ax=axes[0])
        _probe_bars(axes[1], groups, cues)
        axes[1].legend(loc="upper right")
        panel_letters(axes)
    return finish(fig, save)


def plot_probability_scaling(
    result: Any,
    *,
    last: int = 100,
    save: str | os.PathLike | None = None,
):
    """Reward-probability scaling (Fiorillo et al. 2003): cue RPE rises and reward RPE falls with p.

    (a) cue RPE against reward probability; (b) reward-time RPE on rewarded trials (≈ 1 − p) and on
    omissions (≈ −p); (c) mean cue-aligned RPE traces per probability (rewarded trials for p > 0).

    Parameters
    ----------
    result : SimulationResult or ConditioningCohort
        ``partial-reinforcement`` protocol (or any result whose trial types carry ``p=``); panel c needs
        the ``steps`` table and is left out when the result has none. A cohort
        (``simulate_conditioning(..., n_subjects=...)``) gives mean ± SEM across animals in a and b, and
        no panel c.
    last : int, default 100
        Trials per type (the last ones, after learning) entering the averages.
    save : path, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import simulate_conditioning
    >>> fig = ds.analysis.plot_probability_scaling(simulate_conditioning("partial-reinforcement", seed=0))
    >>> len(fig.axes) >= 1
    True
    """
    table = probability_scaling(result, last=last)
    steps = getattr(result, "steps", None)
    animals = int(table["n_subjects"].max()) if "n_subjects" in table.columns else 1
    if animals > 1:
        steps = None  # traces of several animals: panel c is one animal's
    with style_context():
        n_panels = 3 if steps is not None else 2
        fig, axes = new_figure(1, n_panels, width=2.2 * n_panels, height=2.3)
        a, b = axes[0], axes[1]
        a.errorbar(table["p"], table["cue_rpe"], yerr=table["cue_rpe_sem"], color=COLORS["cue"], marker="o")
        a.set_ylabel("Cue RPE (reward units)")
        for name, color, label in (
            ("rpe_rewarded", COLORS["reward"], "Rewarded"),
            ("rpe_omitted", COLORS["omission"], "Omitted"),
        ):
            ok = table[name].notna()
            b.errorbar(
                table.loc[ok, "p"],
                table.loc[ok, name],
                yerr=table.loc[ok, f"{name}_sem"],
                color=color,
                marker="o",
                label=label,
            )
        b.set_ylabel("Reward-time RPE (reward units)")
        # direct labels (a legend would sit on a line): rewarded RPEs start high at low p, omission RPEs
        # end low at high p
        for name, label, at, offset in (
            ("rpe_rewarded", "Rewarded", 0, (5, 3)),
            ("rpe_omitted", "Omitted", -1, (6, 0)),
        ):
            ok = table[name].notna()
            if ok.any():
                row = table[ok].iloc[at]
                b.annotate(
                    label,
                    xy=(row["p"], row[name]),
                    xytext=offset,
                    textcoords="offset points",
                    ha="left",
                    va="bottom" if at == 0 else "center",
                    fontsize=7,
                    color=COLORS["reward"] if name == "rpe_rewarded" else COLORS["omission"],
                )
        for ax in (a, b):
            ax.axhline(0, color="black", lw=0.6, zorder=0)
            ax.set_xlabel("Reward probability p")
            ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0", ".25", ".5", ".75", "1"])
            ax.set_xlim(-0.08, 1.08)
        fig.suptitle(
            f"a, b: mean ± SEM of the last {last} trials per p (most SEMs are smaller than the markers)"
            if animals == 1
            else f"a, b: mean ± SEM across {animals} animals (each: mean of its last {last} trials per p)",
            fontsize=7,
        )
        if steps is not None:
            c = axes[2]
            trials = trial_table(result)
            keep = trials.groupby("trial_type", sort=False).tail(last)
            traces = aligned_traces(steps, "delta", align="cue", trials=keep["trial"].tolist())
            info = keep.set_index("trial").loc[traces.index]
            p_of = info["trial_type"].map(lambda s: reward_probability(str(s)))
            use = info["rewarded"].astype(bool) | (p_of == 0)
            cmap = mcolors.LinearSegmentedColormap.from_list("p", ["#BBBBBB", COLORS["reward"], "#7A3A00"])
            t = np.asarray(traces.columns, dtype=float)
            for p in sorted(p_of.unique()):
                sel = (p_of == p) & use
                c.plot(
                    t,
                    traces[sel.to_numpy()].mean().to_numpy(),
                    color=cmap(p),
                    marker="o",
                    ms=2,
                    label=f"p = {p:g}",
                )
            c.axhline(0, color="black", lw=0.6, zorder=0)
            c.set_xlabel("Time from cue onset (s)")
            c.xaxis.set_major_locator(MultipleLocator(1.0))
            c.set_ylabel(RPE_LABEL)
            c.set_title(
                f"rewarded trials only (p = 0: all)\nmean of the last {last} per p", fontsize=6.5, loc="left"
            )
            c.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), handlelength=1.2)
        panel_letters(axes)
    return finish(fig, save)


def plot_reward_timing(
    results: dict[str, dict[str, Any]],
    *,
    skip: float = 0.5,
    save: str | os.PathLike | None = None,
):
    """Reward RPE against reward delay in the variable-delay tasks, one panel per model (Starkweather 2017).

    Each panel draws one line per task (e.g. 100 % and 90 % rewarded): the mean reward RPE of rewarded
    trials at each delay, after the first ``skip`` of training. For a cohort the points are the mean
    across animals of each animal's mean, with error bars ± SEM across animals; for one animal, ± SEM
    across its trials. The slope of each line (per s) is written in the legend.

    Parameters
    ----------
    results : dict of str to dict of str to result
        ``{model label: {task label: result}}``, each result a
        :func:`~dopasoft.experiments.conditioning.simulate_conditioning` run (or cohort) of
        ``"variable-delay"``.
    skip : float, default 0.5
        Fraction of training left out of the averages.
    save : path, optional

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For an empty ``results`` or a table without ``reward_time``.

    Examples
    --------
    >>> from dopasoft.experiments import simulate_conditioning
    >>> runs = {
    ...     task: simulate_conditioning("variable-delay", p_reward=p, representation="belief-state", n_trials=60, seed=0)
    ...     for task, p in (("100 %", 1.0), ("90 %", 0.9))
    ... }
    >>> fig = plot_reward_timing({"Belief-state TD": runs})
    >>> "one animal: mean ± SEM across trials" in fig.axes[0].get_title()
    True
    """
    if not results or not all(results.values()):
        raise ValueError("results must map model labels to {task label: result} with at least one run")
    task_colors = [COLORS["reward"], COLORS["omission"], PALETTE[2], PALETTE[3]]
    with style_context():
        n = len(results)
        fig, axes = new_figure(1, n, width=2.3 * n + 0.4, height=2.5, sharey=True)
        axes = np.atleast_1d(axes)
        n_animals = set()
        for ax, (model, runs) in zip(axes, results.items(), strict=True):
            for k, (task, result) in enumerate(runs.items()):
                table = rpe_by_delay(result, skip=skip)
                subjects = table["subject"].nunique()
                n_animals.add(subjects)
                if subjects > 1:
                    summary = cohort_mean(table, "reward_time", "reward_rpe")
                else:
                    summary = table.rename(columns={"reward_rpe": "mean"})
                slope = float(delay_slope(result, skip=skip).mean())
                ax.errorbar(
                    summary["reward_time"],
                    summary["mean"],
                    yerr=summary["sem"].fillna(0.0),
                    color=task_colors[k % len(task_colors)],
                    marker="o",
                    ms=3,
                    capsize=1.5,
                    label=f"{task}: slope {slope:+.2f}/s",
                )
            ax.axhline(0, color="black", lw=0.6, zorder=0)
            many = max(n_animals)
            bars = f"mean ± SEM across {many} animals" if many > 1 else "one animal: mean ± SEM across trials"
            ax.set_title(f"{model}\n{bars}", fontsize=7.5)
            n_animals.clear()
            ax.set_xlabel("Reward delay after cue (s)")
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), fontsize=6.5, frameon=False)
        axes[0].set_ylabel("Reward RPE (reward units)")
        fig.suptitle("Rewarded trials, second half of training", fontsize=7)
        panel_letters(axes)
    return finish(fig, save)
