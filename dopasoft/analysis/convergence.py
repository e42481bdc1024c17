"""Figure of :func:`dopasoft.experiments.convergence.convergence_experiment`: which learners reach the
soft-optimal Q* under off-policy behaviour, and what eligibility traces are for."""

from __future__ import annotations

import os

from dopasoft.analysis.style import PALETTE, finish, new_figure, panel_letters, style_context

__all__ = ["plot_convergence"]


def plot_convergence(result, *, save: str | os.PathLike | None = None):
    """a, off-policy: error of each learner to Q* over steps (dashed: biased learners); b, delayed reward:
    tree-backup Soft Q(λ) for three λ, with the tolerance at which ``steps_to_tol`` is read.

    Parameters
    ----------
    result : ConvergenceResult
        The result of :func:`dopasoft.experiments.convergence_experiment`.
    save : str or os.PathLike, optional
        Path without extension: the figure is also written as PNG, PDF and SVG (:func:`save_figure`).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import convergence_experiment
    >>> fig = ds.analysis.plot_convergence(convergence_experiment(500, chain_steps=100, chain_seeds=1))
    >>> len(fig.axes)
    2
    """
    curves = result.curves
    with style_context():
        fig, (a, b) = new_figure(1, 2, width=6.8, height=3.4, gridspec_kw={"width_ratios": [1.45, 1]})
        off = curves[curves["experiment"] == "off-policy"]
        for k, (name, part) in enumerate(off.groupby("learner", sort=False)):
            style = "-" if part["unbiased"].iloc[0] else "--"
            a.plot(part["step"], part["error"], style, color=PALETTE[k % len(PALETTE)], lw=1.1, label=name)
        a.set_yscale("log")
        a.set_xlabel("Environment steps")
        a.set_ylabel("max |Q̄ − Q*| (reward units)")
        a.legend(fontsize=5.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
        chain = curves[curves["experiment"] == "delayed reward"]
        for k, (name, part) in enumerate(chain.groupby("learner", sort=False)):
            b.plot(
                part["step"],
                part["error"],
                color=PALETTE[k],
                lw=1.2,
                label=f"{name}: {result.steps_to_tol[name]:.0f} steps",
            )
        b.axhline(result.tol, color="grey", lw=0.8, ls=":")
        b.set_yscale("log")
        b.set_xlabel("Environment steps")
        b.set_ylabel("max |Q − Q*| (reward units)")
        b.legend(fontsize=6, title=f"to error < {result.tol:g}", title_fontsize=6)
        panel_letters([a, b])
    return finish(fig, save)
