"""Figures of action prediction errors: per trial
(:func:`dopasoft.experiments.discrimination.discrimination_experiment`) and aligned to movement and
outcome (:func:`dopasoft.experiments.discrimination.timed_discrimination_experiment`)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from dopasoft.analysis.style import COLORS, OKABE_ITO, finish, new_figure, panel_letters, style_context

__all__ = ["plot_action_prediction_errors", "plot_policy_compression", "plot_timed_prediction_errors"]

_NEEDED = ("trial", "novel", "action_pe", "reward_rpe")


def _check_table(table: pd.DataFrame, name: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame (a discrimination_experiment table)")
    missing = [c for c in _NEEDED if c not in table.columns]
    if missing:
        raise ValueError(f"{name} has no column {missing[0]!r} (needs {', '.join(_NEEDED)})")
    if len(table) == 0:
        raise ValueError(f"{name} has no rows")


def _running_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of the values within ``window // 2`` trials either side of each one (fewer at the ends): a
    centred mean, so that the line does not lag the dots it summarises as a trailing mean would. An even
    ``window`` is widened by one to be symmetric."""
    half = window // 2
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(len(x))
    lo = np.maximum(i - half, 0)
    hi = np.minimum(i + half + 1, len(x))
    return (c[hi] - c[lo]) / (hi - lo)


def plot_action_prediction_errors(
    table: pd.DataFrame,
    *,
    replay: pd.DataFrame | None = None,
    window: int = 10,
    save: str | os.PathLike | None = None,
):
    """Two panels over trials: (a) the chosen action's ``action_pe``; (b) the ``reward_rpe``.

    Each trial is a dot (familiar cues grey, the novel cue coloured) with the running mean over
    ``window`` trials of each cue kind, centred on each trial, as a line; the first novel-cue trial is
    marked (dotted). A legend below the panels names the dots and lines. ``replay`` (the
    same choices with other outcomes, ``discrimination_experiment(..., actions=table.action)``) is drawn
    dashed: its ``action_pe`` lies on the original's (value-free), its ``reward_rpe`` does not.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`~dopasoft.experiments.discrimination.discrimination_experiment` table (columns
        ``trial``, ``novel``, ``action_pe``, ``reward_rpe``).
    replay : pandas.DataFrame, optional
        The replay with other outcomes, same columns.
    window : int, default 10
        Trials in the centred running mean (``window // 2`` either side of each trial: 11 for 10).
    save : path, optional
        Base path; writes PNG, PDF and SVG (or the one format of its suffix).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For a table without the needed columns or rows, or a bad ``window``.

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import discrimination_experiment
    >>> fig = ds.analysis.plot_action_prediction_errors(discrimination_experiment(100, novel_at=60, seed=0))
    >>> len(fig.axes)
    2
    """
    _check_table(table, "table")
    if replay is not None:
        _check_table(replay, "replay")
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    novel = table["novel"].to_numpy(dtype=bool)
    trial = table["trial"].to_numpy()
    kinds = [("familiar cues", ~novel, COLORS["data"]), ("novel cue", novel, OKABE_ITO["vermillion"])]
    signals = [
        ("action_pe", "Action prediction error\n1 − π0(a|cue)"),
        ("reward_rpe", "Reward RPE\nr − Q(cue, a)"),
    ]
    with style_context():
        fig, axes = new_figure(1, 2, width=6.5, height=2.4)
        for ax, (column, label) in zip(axes, signals, strict=True):
            y = table[column].to_numpy(dtype=float)
            for name, mask, color in kinds:
                if not mask.any():
                    continue
                ax.plot(trial[mask], y[mask], ".", color=color, markersize=2, alpha=0.35)
                ax.plot(trial[mask], _running_mean(y[mask], window), color=color, label=name)
                if replay is not None:
                    yr = replay[column].to_numpy(dtype=float)[mask]
                    ax.plot(
                        trial[mask],
                        _running_mean(yr, window),
                        color=color,
                        linestyle="--",
                        label=f"{name}, other outcomes",
                    )
            if novel.any():
                ax.axvline(
                    trial[novel][0], color="black", linestyle=":", linewidth=1, label="first novel-cue trial"
                )
            ax.set_xlabel("Trial")
            ax.set_ylabel(label)
        axes[0].set_title("Value-free: falls with practice")
        axes[1].set_title("Value-based: follows the outcome")
        handles, labels = axes[0].get_legend_handles_labels()
        dot = Line2D([], [], ls="", marker=".", ms=4, color=COLORS["data"], alpha=0.5)
        fig.legend(
            [dot, *handles],
            [f"single trials (dots); lines: mean of {2 * (window // 2) + 1} trials centred on each", *labels],
            loc="outside lower center",
            ncols=3,
            fontsize=6,
            frameon=False,
        )
        panel_letters(axes)
    return finish(fig, save)


def _aligned_mean(steps: pd.DataFrame, trials: np.ndarray, column: str, clock: str, window) -> tuple:
    """Mean of ``column`` over ``trials`` at each time of ``clock`` (s) within ``window``."""
    sel = steps[steps["trial"].isin(trials) & steps[clock].between(*window)]
    mean = sel.groupby(clock)[column].mean()
    return mean.index.to_numpy(dtype=float), mean.to_numpy(dtype=float)


def plot_timed_prediction_errors(
    result: Any,
    *,
    n_early: int = 50,
    n_late: int = 50,
    window: int = 20,
    save: str | os.PathLike | None = None,
):
    """Action and reward prediction errors at their own times, early and late in learning.

    Three panels in the layout of Greenstreet et al. (2025), from a
    :func:`~dopasoft.experiments.discrimination.timed_discrimination_experiment` result: (a) the
    recorded hemisphere's lateralised action prediction error ``contra_ape`` aligned to movement onset,
    contralateral and ipsilateral movements, in the first ``n_early`` and the last ``n_late`` trials;
    (b) the reward prediction error ``delta`` of every bin aligned to the outcome, rewarded trials, early
    and late (the cue response appears ``cue_to_movement + movement_to_outcome`` before the outcome);
    (c) across learning, the per-trial ``movement_ape`` and ``reward_rpe`` (running means over
    ``window`` trials, centred).

    Parameters
    ----------
    result : TimedDiscriminationResult
        From :func:`~dopasoft.experiments.discrimination.timed_discrimination_experiment`.
    n_early, n_late : int, default 50
        Trials at the start and at the end of the session averaged in panels a and b.
    window : int, default 20
        Trials in the running means of panel c.
    save : path, optional
        Base path; writes PNG, PDF and SVG (or the one format of its suffix).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For an object that is not such a result, or counts that are not positive integers.

    Examples
    --------
    >>> from dopasoft.experiments.discrimination import timed_discrimination_experiment
    >>> fig = plot_timed_prediction_errors(timed_discrimination_experiment(200, seed=0))
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['Time from movement onset (s)', 'Time from outcome (s)', 'Trial']
    """
    trials = getattr(result, "trials", None)
    steps = getattr(result, "steps", None)
    if not isinstance(trials, pd.DataFrame) or not isinstance(steps, pd.DataFrame):
        raise ValueError("result must be a timed_discrimination_experiment result (with .trials and .steps)")
    for name, value in (("n_early", n_early), ("n_late", n_late), ("window", window)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    n = len(trials)
    phases = [
        (f"trials 1–{min(n_early, n)}", trials["trial"].to_numpy()[:n_early], "--"),
        (f"trials {max(n - n_late, 0) + 1}–{n}", trials["trial"].to_numpy()[-n_late:], "-"),
    ]
    sides = [
        ("contralateral", trials["contralateral"].to_numpy(dtype=bool), OKABE_ITO["blue"]),
        ("ipsilateral", ~trials["contralateral"].to_numpy(dtype=bool), OKABE_ITO["vermillion"]),
    ]
    rewarded = trials["reward"].to_numpy() > 0
    hemisphere = getattr(result, "hemisphere", "left")
    with style_context():
        fig, axes = new_figure(1, 3, width=6.5, height=3.0)
        ax = axes[0]
        for phase, ids, ls in phases:
            for side, mask, color in sides:
                chosen = np.intersect1d(ids, trials["trial"].to_numpy()[mask])
                if len(chosen) == 0:
                    continue
                x, y = _aligned_mean(steps, chosen, "contra_ape", "time_from_movement", (-0.5, 0.5))
                ax.plot(x, y, ls, color=color, drawstyle="steps-mid", label=f"{side}, {phase}")
        ax.axvline(0.0, color="black", linestyle=":", linewidth=1)
        ax.set_xlabel("Time from movement onset (s)")
        ax.set_ylabel(f"Action prediction error\n({hemisphere} hemisphere)")
        ax.set_title("APE at movement (lateralised)")
        ax = axes[1]
        for phase, ids, ls in phases:
            chosen = np.intersect1d(ids, trials["trial"].to_numpy()[rewarded])
            if len(chosen) == 0:
                continue
            x, y = _aligned_mean(steps, chosen, "delta", "time_from_outcome", (-1.2, 0.5))
            ax.plot(x, y, ls, color=COLORS["reward"], drawstyle="steps-mid", label=f"rewarded, {phase}")
        ax.axvline(0.0, color="black", linestyle=":", linewidth=1)
        ax.set_xlabel("Time from outcome (s)")
        ax.set_ylabel("Reward prediction error δ")
        ax.set_title("RPE at cue and outcome")
        ax = axes[2]
        t = trials["trial"].to_numpy()
        for column, label, color in (
            ("movement_ape", "APE at movement", OKABE_ITO["blue"]),
            ("reward_rpe", "RPE at outcome", COLORS["reward"]),
            ("cue_rpe", "RPE at cue", COLORS["cue"]),
        ):
            y = trials[column].to_numpy(dtype=float)
            ax.plot(t, _running_mean(y, window), color=color, label=label)
        ax.set_xlabel("Trial")
        ax.set_ylabel(f"Signal (mean of {2 * (window // 2) + 1} trials)")
        ax.set_title("Across learning")
        handles, labels = [], []
        for each in axes:
            h, lab = each.get_legend_handles_labels()
            handles += h
            labels += lab
        fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=6, frameon=False)
        panel_letters(axes)
    return finish(fig, save)


def plot_policy_compression(
    per_state: pd.DataFrame,
    marginal: pd.DataFrame,
    *,
    window: int = 10,
    save: str | os.PathLike | None = None,
):
    r"""A per-state habit against a shared default policy: the soft signals over training.

    Two panels over trials, each a centred running mean over ``window`` trials, for two
    :func:`~dopasoft.experiments.discrimination.discrimination_experiment` tables that differ only in
    ``prior_scope``: (a) the action term :math:`\tau\log(\pi(a|s)/\pi_0(a|s))`, which the per-state
    default policy drives to 0 (it converges onto :math:`\pi`) and the shared one does not (it is the
    marginal of the policy, so it keeps :math:`\tau \log(\pi(a|s)/\bar\pi(a))`); (b) the action
    prediction error :math:`1 - \pi_0(a|s)`, which falls to 0 under a habit and stays near
    :math:`1 - \bar\pi(a)` under compression (docs/maths.md §7).

    Parameters
    ----------
    per_state, marginal : pandas.DataFrame
        Tables with ``trial``, ``action_term`` and ``action_pe``.
    window : int, default 10
        Trials in the centred running mean.
    save : path, optional
        Base path; writes PNG, PDF and SVG (or the one format of its suffix).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For a table without those columns or rows, or a bad ``window``.

    Examples
    --------
    >>> from dopasoft.experiments.discrimination import discrimination_experiment
    >>> tables = [discrimination_experiment(100, prior_scope=s, seed=0) for s in ("per-state", "marginal")]
    >>> fig = plot_policy_compression(*tables)
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['Action term τ log π/π0', 'Action prediction error 1 − π0']
    """
    for name, table in (("per_state", per_state), ("marginal", marginal)):
        if not isinstance(table, pd.DataFrame):
            raise ValueError(f"{name} must be a pandas DataFrame (a discrimination_experiment table)")
        missing = [c for c in ("trial", "action_term", "action_pe") if c not in table.columns]
        if missing:
            raise ValueError(f"{name} has no column {missing[0]!r}")
        if len(table) == 0:
            raise ValueError(f"{name} has no rows")
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    runs = [
        ("per-state default policy (habit)", per_state, COLORS["data"]),
        ("shared default policy (compression)", marginal, OKABE_ITO["blue"]),
    ]
    with style_context():
        fig, axes = new_figure(1, 2, width=6.5, height=2.4)
        for ax, (column, label) in zip(
            axes,
            [("action_term", "Action term τ log π/π0"), ("action_pe", "Action prediction error 1 − π0")],
            strict=True,
        ):
            for name, table, color in runs:
                y = table[column].to_numpy(dtype=float)
                ax.plot(table["trial"].to_numpy(), _running_mean(y, window), color=color, label=name)
            ax.axhline(0.0, color=COLORS["identity"], linewidth=0.8)
            ax.set_xlabel("Trial")
            ax.set_ylabel(label)
        axes[0].set_title("Soft signal over training")
        axes[1].set_title("Value-free signal over training")
        fig.legend(
            *axes[0].get_legend_handles_labels(),
            loc="outside lower center",
            ncols=2,
            fontsize=6,
            frameon=False,
        )
        panel_letters(axes)
    return finish(fig, save)
