"""Figure of action prediction errors (:func:`dopasoft.experiments.discrimination.discrimination_experiment`)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from dopasoft.analysis.style import COLORS, OKABE_ITO, finish, new_figure, panel_letters, style_context

__all__ = ["plot_action_prediction_errors"]

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
        ("reward_rpe", "Reward RPE\nr − V(cue)"),
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
