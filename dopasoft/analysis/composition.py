"""Figure of value composition (:func:`dopasoft.experiments.composition.composition_experiment`)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from dopasoft.analysis.style import PALETTE, finish, new_figure, panel_letters, style_context
from dopasoft.soft import soft_value

__all__ = ["plot_composition"]


def plot_composition(result: Any, *, tau: float = 0.5, save: str | os.PathLike | None = None):
    """Two panels: (a) the composed soft values on the grid; (b) error to Q* over learning steps.

    Panel a shows V(s) = τ log Σ_a π0 exp(Q_comp(s,a)/τ) of the composed learnt values on each free cell,
    walls blank, goals lettered. Panel b shows the sup-norm error of each component learner and of a
    learner of the composed task from scratch over steps, with the error of the composed values (reached
    without new learning) as a horizontal line and the step at which learning from scratch matches it.

    Parameters
    ----------
    result : CompositionResult
    tau : float
        The temperature of the experiment (for V in panel a).
    save : path, optional
        Base path; writes PNG, PDF and SVG.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import composition_experiment
    >>> fig = ds.analysis.plot_composition(composition_experiment(n_steps=500, eval_every=250))
    >>> len(fig.axes) >= 2
    True
    """
    env = result.env
    rows = env.layout
    grid = np.full((len(rows), len(rows[0])), np.nan)
    v = soft_value(result.q_composed, tau)
    for s, (i, j) in enumerate(env.cells):
        if not env.terminal[s]:
            grid[i, j] = v[s]
    with style_context():
        fig, (a, b) = new_figure(1, 2, width=6.5, height=2.6)
        im = a.imshow(grid, cmap="viridis")
        for g, s in env.goals.items():
            i, j = env.cells[s]
            a.text(j, i, g, ha="center", va="center", fontweight="bold")
        a.set_xticks([])
        a.set_yticks([])
        a.set_title("Composed soft value V(s)")
        fig.colorbar(im, ax=a, shrink=0.8)
        for k, (task, part) in enumerate(result.curves.groupby("task", sort=False)):
            b.plot(part["step"], part["error"], color=PALETTE[k], label=task)
        b.axhline(
            result.composed_error, color="black", linestyle="--", linewidth=1, label="composed (0 new steps)"
        )
        if result.steps_to_match is not None:
            b.axvline(result.steps_to_match, color="grey", linestyle=":", linewidth=1)
        b.set_yscale("log")
        b.set_xlabel("Learning steps")
        b.set_ylabel("max |Q − Q*|")
        # beside the panel: the curves span its whole height and width
        b.legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
        panel_letters([a, b])
    return finish(fig, save)
