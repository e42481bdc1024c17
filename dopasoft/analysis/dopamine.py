r"""Model dopamine: per-trial cue and reward RPEs, within-trial traces, heatmaps and a photometry kernel.

Inputs are the tables of :func:`dopasoft.simulate` / :func:`~dopasoft.experiments.conditioning.simulate_conditioning`
(a :class:`~dopasoft.simulation.SimulationResult`, or its ``trials`` / ``steps`` DataFrames, e.g. read
back from the CSV files of ``dopasoft simulate conditioning --out --trace-out``):

* per-trial table: ``trial``, ``trial_type`` (and usually ``phase``, ``rewarded``), ``cue_rpe``,
  ``reward_rpe`` (docs/tasks.md defines them);
* per-step table: ``trial``, ``time`` (s from the first cue onset), ``event`` and a signal column
  (``delta``, ``value_rpe``, ``action_term``).

Photometry. A GCaMP-like fluorescence trace is modelled as the RPE impulses (one per time bin, at the
time of the bin entered) convolved with a causal difference-of-exponentials kernel,

.. math:: h(t) = \frac{e^{-t/\tau_d} - e^{-t/\tau_r}}{\max_t (e^{-t/\tau_d} - e^{-t/\tau_r})}, \quad t \ge 0,

with rise :math:`\tau_r` = 0.1 s and decay :math:`\tau_d` = 0.6 s by default (GCaMP6f-like bulk
signals; use ~1.5 s for GCaMP6s). The result is in arbitrary units (peak of a unit RPE = 1): compare
shapes and relative sizes with recordings, not absolute ΔF/F.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.ticker import MultipleLocator

from dopasoft.analysis.style import COLORS, PALETTE, finish, new_figure, panel_letters, style_context

__all__ = [
    "trial_table",
    "step_table",
    "rpe_by_trial_type",
    "aligned_traces",
    "photometry_kernel",
    "convolve_photometry",
    "reward_probability",
    "probability_scaling",
    "plot_rpe_across_training",
    "plot_traces",
    "plot_heatmap",
    "plot_rpe_transfer",
    "plot_blocking",
    "plot_probability_scaling",
]

TRIAL_COLUMNS = ("trial", "trial_type", "cue_rpe", "reward_rpe")
STEP_COLUMNS = ("trial", "time", "event")
RPE_LABEL = "RPE δ (reward units)"
PHOTOMETRY_LABEL = "Model ΔF/F (a.u.)"


def _require(df: Any, columns: Sequence[str], what: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} is missing column(s) {missing}; has {list(df.columns)}")
    return df


def trial_table(result: Any) -> pd.DataFrame:
    """The per-trial table of a simulation result (or a DataFrame), checked for the needed columns.

    Parameters
    ----------
    result : SimulationResult or pandas.DataFrame
        A result with ``.trials``, or the table itself.

    Returns
    -------
    pandas.DataFrame
        With at least ``trial, trial_type, cue_rpe, reward_rpe``.

    Raises
    ------
    ValueError
        Naming the missing columns.
    """
    table = getattr(result, "trials", result)
    return _require(table, TRIAL_COLUMNS, "the per-trial table")


def step_table(result: Any, signal: str = "delta") -> pd.DataFrame:
    """The per-step table of a simulation result (or a DataFrame), checked for ``trial, time, event, signal``."""
    table = getattr(result, "steps", result)
    return _require(table, (*STEP_COLUMNS, signal), "the per-step table")


def rpe_by_trial_type(result: Any, *, last: int | None = None, phase: str | None = None) -> pd.DataFrame:
    """Mean cue and reward RPE per trial type (optionally in one phase and over its last trials).

    Parameters
    ----------
    result : SimulationResult or DataFrame
    last : int, optional
        Use only the last ``last`` trials of each trial type (after learning).
    phase : str, optional
        Restrict to this phase (needs a ``phase`` column).

    Returns
    -------
    pandas.DataFrame
        ``trial_type``, ``n``, ``cue_rpe``, ``cue_rpe_sem``, ``reward_rpe``, ``reward_rpe_sem``.
    """
    trials = trial_table(result)
    if phase is not None:
        _require(trials, ("phase",), "the per-trial table")
        trials = trials[trials["phase"] == phase]
        if trials.empty:
            raise ValueError(f"no trials in phase {phase!r}")
    if last is not None:
        trials = trials.groupby("trial_type", sort=False).tail(last)
    g = trials.groupby("trial_type", sort=False)
    out = pd.DataFrame({"n": g.size()})
    for col in ("cue_rpe", "reward_rpe"):
        out[col] = g[col].mean()
        out[f"{col}_sem"] = g[col].sem()
    return out.reset_index()


def aligned_traces(
    result: Any, signal: str = "delta", *, align: str = "cue", trials: Sequence[int] | None = None
) -> pd.DataFrame:
    """Within-trial traces of ``signal`` aligned to an event (trials × time from the event).

    Parameters
    ----------
    result : SimulationResult or DataFrame
        Per-step table with ``trial``, ``time``, ``event`` and ``signal``.
    signal : str, default "delta"
        ``delta``, ``value_rpe``, ``action_term`` or any numeric step column.
    align : str, default "cue"
        Event to align to (``"cue"``, ``"reward"``, ``"cue2"``, ...); a trial without that event is
        dropped. Each trace's value at time ``t`` is the signal of the step that enters the bin at
        ``t`` seconds from the event.
    trials : sequence of int, optional
        Keep these trials only.

    Returns
    -------
    pandas.DataFrame
        Index ``trial``, columns time from the event in seconds (rounded to 1e-9 s).
    """
    steps = step_table(result, signal)
    if trials is not None:
        steps = steps[steps["trial"].isin(list(trials))]
    events = steps.loc[steps["event"].astype(str) == align, ["trial", "time"]]
    if events.empty:
        raise ValueError(
            f"no step has event {align!r}; events present: {sorted(set(steps['event'].dropna().astype(str)) - {''})}"
        )
    onset = events.drop_duplicates("trial").set_index("trial")["time"]
    sel = steps[steps["trial"].isin(onset.index)]
    rel = (sel["time"].to_numpy(float) - onset.loc[sel["trial"]].to_numpy(float)).round(9)
    frame = pd.DataFrame({"trial": sel["trial"].to_numpy(), "t": rel, "v": sel[signal].to_numpy(float)})
    table = frame.pivot_table(index="trial", columns="t", values="v", aggfunc="first")
    table.columns.name = f"time from {align} (s)"
    return table


def photometry_kernel(
    t: np.ndarray | Sequence[float], *, tau_rise: float = 0.1, tau_decay: float = 0.6
) -> np.ndarray:
    """Causal GCaMP-like kernel: difference of exponentials with unit peak (0 for ``t < 0``).

    Parameters
    ----------
    t : array_like
        Times in seconds.
    tau_rise, tau_decay : float
        Rise and decay time constants in seconds (``0 < tau_rise < tau_decay``).

    Returns
    -------
    numpy.ndarray
        Kernel values at ``t``.
    """
    if not 0 < tau_rise < tau_decay:
        raise ValueError(f"need 0 < tau_rise < tau_decay, got tau_rise={tau_rise}, tau_decay={tau_decay}")
    t = np.asarray(t, dtype=float)
    t_peak = np.log(tau_decay / tau_rise) * tau_rise * tau_decay / (tau_decay - tau_rise)
    peak = np.exp(-t_peak / tau_decay) - np.exp(-t_peak / tau_rise)
    tt = np.maximum(t, 0.0)
    h = (np.exp(-tt / tau_decay) - np.exp(-tt / tau_rise)) / peak
    return np.where(t >= 0, h, 0.0)


def convolve_photometry(
    traces: pd.DataFrame,
    *,
    tau_rise: float = 0.1,
    tau_decay: float = 0.6,
    dt: float = 0.02,
    tail: float = 0.0,
) -> pd.DataFrame:
    """Model photometry: each trial's RPE impulses convolved with :func:`photometry_kernel`.

    Every column of ``traces`` (time ``t_k`` of a bin) is an impulse of height ``traces[:, k]`` at
    ``t_k``; the output is :math:`F(t) = \\sum_k \\delta_k h(t - t_k)` on a grid of step ``dt`` from the
    first bin to the last plus ``tail`` seconds. Exact for any bin width; missing values count as 0.

    Parameters
    ----------
    traces : pandas.DataFrame
        Trials × time (s), e.g. from :func:`aligned_traces` or ``SimulationResult.traces()``.
    tau_rise, tau_decay : float
        Kernel time constants (s).
    dt : float, default 0.02
        Output sampling step (s).
    tail : float, default 0
        Extra time after the last bin (s).

    Returns
    -------
    pandas.DataFrame
        Trials × output times (s), same index as ``traces``.
    """
    if not isinstance(traces, pd.DataFrame) or traces.shape[1] == 0:
        raise ValueError("traces must be a non-empty trials x time DataFrame")
    if not dt > 0:
        raise ValueError(f"dt must be > 0, got {dt!r}")
    times = np.asarray(traces.columns, dtype=float)
    grid = np.arange(times.min(), times.max() + tail + dt / 2, dt).round(9)
    kernel = photometry_kernel(grid[None, :] - times[:, None], tau_rise=tau_rise, tau_decay=tau_decay)
    values = np.nan_to_num(traces.to_numpy(dtype=float)) @ kernel
    out = pd.DataFrame(values, index=traces.index, columns=grid)
    out.columns.name = traces.columns.name
    return out


def reward_probability(trial_type: str) -> float:
    """Scheduled reward probability of a trial type: ``p`` of ``"C+ p=0.5"``, 1 for ``"+"``, 0 otherwise."""
    from dopasoft.tasks.conditioning import parse_trial_type

    tt = parse_trial_type(trial_type)
    return tt.reward_prob if tt.reinforced else 0.0


def probability_scaling(result: Any, *, last: int = 100) -> pd.DataFrame:
    """Cue RPE and reward RPE (delivered / omitted) as a function of reward probability.

    Parameters
    ----------
    result : SimulationResult or DataFrame
        Per-trial table of a partial-reinforcement protocol (needs ``rewarded``).
    last : int, default 100
        Use the last ``last`` trials of each trial type.

    Returns
    -------
    pandas.DataFrame
        One row per trial type: ``trial_type``, ``p``, ``cue_rpe``, ``cue_rpe_sem``, ``rpe_rewarded``,
        ``rpe_rewarded_sem``, ``rpe_omitted``, ``rpe_omitted_sem`` (NaN when no such trial), sorted by ``p``.
    """
    trials = _require(trial_table(result), ("rewarded",), "the per-trial table")
    trials = trials.groupby("trial_type", sort=False).tail(last)
    rows = []
    for tt, g in trials.groupby("trial_type", sort=False):
        rewarded = g["rewarded"].astype(bool)
        row = {"trial_type": tt, "p": reward_probability(str(tt)), "n": len(g)}
        row["cue_rpe"], row["cue_rpe_sem"] = g["cue_rpe"].mean(), g["cue_rpe"].sem()
        for name, sel in (("rpe_rewarded", rewarded), ("rpe_omitted", ~rewarded)):
            v = g.loc[sel, "reward_rpe"]
            row[name], row[f"{name}_sem"] = (v.mean(), v.sem()) if len(v) else (np.nan, np.nan)
        rows.append(row)
    return pd.DataFrame(rows).sort_values("p", kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------------------------
# figures


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

    Parameters
    ----------
    result : SimulationResult or DataFrame
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
    """
    trials = trial_table(result)
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
            for i, s in enumerate(signals):
                color = base.get(s, PALETTE[(i + 2) % len(PALETTE)])
                name = s.replace("_rpe", "").capitalize()
                label = name if len(types) == 1 else f"{tt} {name.lower()}"
                style: dict[str, Any] = {"lw": 1.2, "ls": linestyles[j % len(linestyles)]}
                if len(sub) <= 30:
                    style.update(marker="o^sDv<>"[j % 7], ms=3)
                ax.plot(sub["trial"] + 1, sub[s], color=color, label=label, **style)
        ax.axhline(0, color="black", lw=0.6, zorder=0)
        _phase_bounds(ax, trials)
        ax.set_xlabel("Trial")
        ax.set_ylabel(RPE_LABEL)
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
    """
    table = trial_table(result)
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
        d.legend().remove()
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
    width = 0.8 / max(1, len(groups))
    for g, (name, trials) in enumerate(groups.items()):
        probes = trials[trials["trial_type"].astype(str).str.endswith("?")]
        stats = probes.groupby("trial_type")["cue_rpe"].agg(["mean", "sem"])
        x = np.arange(len(cues)) + (g - (len(groups) - 1) / 2) * width
        means = [stats["mean"].get(f"{c}?", np.nan) for c in cues]
        sems = [stats["sem"].get(f"{c}?", np.nan) for c in cues]
        ax.bar(
            x,
            means,
            width=width * 0.95,
            yerr=sems,
            color=PALETTE[g],
            label=name,
            zorder=2,
            error_kw={"elinewidth": 1.0, "capsize": 2.0},
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(np.arange(len(cues)), [f"Cue {c}" for c in cues])
    ax.set_ylabel("Cue RPE at probe (reward units)")


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
    result : SimulationResult
        ``partial-reinforcement`` protocol (or any result whose trial types carry ``p=``); panel c needs
        the ``steps`` table and is left out when the result has none.
    last : int, default 100
        Trials per type (the last ones, after learning) entering the averages.
    save : path, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    table = probability_scaling(result, last=last)
    steps = getattr(result, "steps", None)
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
        b.legend(loc="lower left")
        for ax in (a, b):
            ax.axhline(0, color="black", lw=0.6, zorder=0)
            ax.set_xlabel("Reward probability p")
            ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0", ".25", ".5", ".75", "1"])
            ax.set_xlim(-0.08, 1.08)
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
            c.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), handlelength=1.2)
        panel_letters(axes)
    return finish(fig, save)
