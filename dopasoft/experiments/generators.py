"""Compiled two-step generators with the ``simulate_arrays(theta, probs, u, p_common)`` interface.

The Soft Q(λ) models of :data:`~dopasoft.agents.TWO_STEP_MODELS` use the fitting models' own generators
(:meth:`dopasoft.fitting.models.SoftQLambdaModel.simulate_arrays`, the step functions of their
likelihood); the ``soft-hybrid`` agent uses :func:`soft_hybrid_generate_two_step`,
built on the same tabular Soft Q(λ) step. Loaded on the first simulation (it compiles and loads the
fitting models).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numba import njit
from numpy.typing import NDArray

from dopasoft import kernel as _k
from dopasoft.agents import _TRACES
from dopasoft.fitting.models import get_model
from dopasoft.fitting.softq_policy import softq_sample
from dopasoft.kernel import soft_q_step

__all__ = ["soft_hybrid_generate_two_step", "generator_for"]

_UNCORRECTED = _k.TRACE_CODES["uncorrected"]

SH_ALPHA, SH_TAU, SH_LAM, SH_W, SH_KAPPA = range(5)


@njit(cache=True)
def _soft_value_row(W, s, tau, log_prior):  # pragma: no cover - compiled
    """``V(s) = τ log Σ_b π0(b) exp(W[s, b]/τ)`` for two actions with ``log π0 = log_prior``."""
    z0 = W[s, 0] / tau + log_prior
    z1 = W[s, 1] / tau + log_prior
    m = max(z0, z1)
    return tau * (math.log(math.exp(z0 - m) + math.exp(z1 - m)) + m)


@njit(cache=True)
def soft_hybrid_generate_two_step(theta, probs, u, p_common, gamma):  # pragma: no cover - compiled
    r"""Simulate :class:`~dopasoft.agents.HybridTwoStepAgent` (optionally sticky) on the two-step task.

    ``theta``: (n_subjects, 5) columns ``alpha, tau, lam, w, kappa``; ``probs``: (n_subjects, n_trials,
    2, 2) reward probabilities; ``u``: (n_subjects, n_trials, 4) uniforms for the stage-1 choice, the
    transition, the stage-2 choice and the reward. The model-free values learn through the fitting
    models' Soft Q(λ) step (:func:`dopasoft.kernel.soft_q_step`, uncorrected trace,
    accumulating, uniform π0); the stage-1 choice is Boltzmann at ``tau`` on
    :math:`w\,\gamma \sum_{s_2} T(s_2|a) V(1 + s_2) + (1 - w) Q_{MF}(0, a)` plus ``kappa`` on the
    previous stage-1 choice. Returns int arrays c1, s2, c2 and float rewards, each (n_subjects,
    n_trials).
    """
    n_sub, n_tr = probs.shape[0], probs.shape[1]
    c1 = np.empty((n_sub, n_tr), np.int64)
    s2 = np.empty((n_sub, n_tr), np.int64)
    c2 = np.empty((n_sub, n_tr), np.int64)
    rew = np.empty((n_sub, n_tr))
    log_n = math.log(2.0)
    lp = np.full(2, -log_n)
    net = np.zeros((1, 2))
    rows = np.arange(3)
    ones = np.ones(3)
    work = np.empty((4, 2))
    for i in range(n_sub):
        alpha, tau, lam = theta[i, SH_ALPHA], theta[i, SH_TAU], theta[i, SH_LAM]
        w, kappa = theta[i, SH_W], theta[i, SH_KAPPA]
        W = np.zeros((3, 2))
        E = np.zeros((3, 2))
        live = np.zeros(4, np.int64)
        last = -1
        for t in range(n_tr):
            # soft values of the two second-stage states (uniform default policy)
            v1 = _soft_value_row(W, np.int64(1), tau, -log_n)
            v2 = _soft_value_row(W, np.int64(2), tau, -log_n)
            mb0 = gamma * (p_common * v1 + (1.0 - p_common) * v2)
            mb1 = gamma * ((1.0 - p_common) * v1 + p_common * v2)
            net[0, 0] = w * mb0 + (1.0 - w) * W[0, 0]
            net[0, 1] = w * mb1 + (1.0 - w) * W[0, 1]
            a1, b1 = softq_sample(net, np.int64(0), tau, kappa, last, lp, u[i, t, 0])
            st = a1 if u[i, t, 1] < p_common else 1 - a1
            soft_q_step(
                W,
                E,
                live,
                rows,
                ones,
                0,
                1,
                a1,
                0.0,
                rows,
                ones,
                1 + st,
                2 + st,
                False,
                alpha,
                tau,
                gamma,
                lam,
                lp,
                lp,
                _UNCORRECTED,
                False,
                b1,
                work,
                None,
                None,
                None,
                None,
                None,
                None,
            )
            a2, b2 = softq_sample(W, 1 + st, tau, 0.0, np.int64(-1), lp, u[i, t, 2])
            r = 1.0 if u[i, t, 3] < probs[i, t, st, a2] else 0.0
            soft_q_step(
                W,
                E,
                live,
                rows,
                ones,
                1 + st,
                2 + st,
                a2,
                r,
                rows,
                ones,
                1 + st,
                2 + st,
                True,
                alpha,
                tau,
                gamma,
                lam,
                lp,
                lp,
                _UNCORRECTED,
                False,
                b2,
                work,
                None,
                None,
                None,
                None,
                None,
                None,
            )
            last = a1
            c1[i, t], s2[i, t], c2[i, t], rew[i, t] = a1, st, a2, r
    return c1, s2, c2, rew


class _SoftHybridGenerator:
    """``simulate_arrays`` of the soft hybrid agent (columns ``alpha, tau, lam, w, kappa``)."""

    param_names = ("alpha", "tau", "lam", "w", "kappa")

    def simulate_arrays(self, theta, probs, u, p_common=0.7):
        return soft_hybrid_generate_two_step(
            np.ascontiguousarray(theta, dtype=float), probs, u, float(p_common), 1.0
        )


def generator_for(model: str, merged: Mapping[str, float]) -> tuple[Any, NDArray[np.float64]]:
    """The compiled generator of a two-step model and its parameter row.

    Parameters
    ----------
    model : str
        A key of :data:`~dopasoft.agents.TWO_STEP_MODELS` or a fitting model spec
        (:func:`dopasoft.fitting.get_model`).
    merged : mapping
        All of the model's parameters (:func:`~dopasoft.agents.merge_two_step_params`, or
        :func:`~dopasoft.experiments.two_step.two_step_parameters`).

    Returns
    -------
    generator : object
        Has ``param_names`` and ``simulate_arrays(theta, probs, u, p_common=...)`` returning
        ``c1, s2, c2, reward`` arrays (n_subjects, n_trials).
    row : ndarray
        The parameters in the order of ``param_names``.
    """
    if model in _TRACES:
        gen = get_model(model, kappa=True)  # alpha, tau, lam, kappa; kappa = 0 is plain Boltzmann
    elif model == "soft-hybrid":
        gen = _SoftHybridGenerator()
    else:  # a fitting model spec: the fitting model's own generator
        gen = get_model(model)
    row = [merged[name] for name in gen.param_names]
    return gen, np.asarray(row, dtype=float)
