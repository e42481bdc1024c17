r"""Two-step cohorts: one compiled simulator, the canonical table and stay probabilities.

:func:`simulate_two_step` runs every model of :data:`TWO_STEP_MODELS` through a compiled generator
with the ``simulate_arrays(theta, probs, u, p_common)`` interface: the Soft Q(λ) models through the
fitting models' own generators (:meth:`dopasoft.fitting.models.SoftQLambdaModel.simulate_arrays`, the
same step functions as their likelihood), the ``soft-hybrid`` agent through
:func:`~dopasoft.experiments.generators.soft_hybrid_generate_two_step`. Each of these also has a
step-by-step Python agent (:func:`~dopasoft.agents.make_two_step_agent`, for
:func:`dopasoft.simulation.simulate` with model-dopamine signals);
the tests check that both make the same choices from the same uniforms. Every other fitting model spec
(``daw-hybrid``, ``soft-q-lambda+separate_alpha``, ...) is simulated by the fitting model's own generator,
so a model has one name in simulation and fitting.

Random numbers are drawn exactly as the per-trial Python loop drew them (see
:func:`simulate_two_step`), so a seed gives the same cohort as that loop.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from dopasoft._memory import require_table_memory
from dopasoft._messages import shown
from dopasoft.agents import TWO_STEP_MODELS, make_two_step_agent, merge_two_step_params, updated_params
from dopasoft.experiments.streams import seeded_generators
from dopasoft.simulation import SimulationResult
from dopasoft.tasks.two_step import (
    CANONICAL_COLUMNS,
    _check_count,
    check_reward_probs,
    check_task_settings,
    reflected_walk,
)

__all__ = [
    "TWO_STEP_MODELS",
    "SIMULATION_DEFAULTS",
    "make_two_step_agent",
    "simulate_two_step",
    "two_step_parameters",
    "stay_probabilities",
    "to_canonical",
]


SIMULATION_DEFAULTS: dict[str, float] = {"alpha": 0.5, "tau": 0.2, "lam": 0.9, "kappa": 0.0}
"""Default parameters of a fitting model simulated by :func:`simulate_two_step` (as for the agents of
:data:`TWO_STEP_MODELS`); any other parameter defaults to the middle of its start range."""

#: bytes :func:`simulate_two_step` holds per subject × trial at its peak (160 measured with tracemalloc:
#: uniforms, reward schedules, the choices and the table)
TWO_STEP_ROW_BYTES = 200.0


def two_step_parameters(model: str, params: Mapping[str, float] | None = None) -> dict[str, float]:
    """Every parameter of a two-step model: its defaults updated by ``params``, checked.

    Parameters
    ----------
    model : str
        A key of :data:`TWO_STEP_MODELS` or a fitting model spec (:func:`dopasoft.fitting.get_model`).
    params : mapping, optional
        Parameters overriding the defaults (:data:`TWO_STEP_MODELS`; for other fitting models
        :data:`SIMULATION_DEFAULTS`, else the middle of the parameter's start range).

    Returns
    -------
    dict
        Parameter name -> value.

    Raises
    ------
    ValueError
        An unknown model (the valid names listed), an unknown parameter, a non-number or a value
        outside the parameter's domain (named).
    """
    if model in TWO_STEP_MODELS:
        merged = merge_two_step_params(model, params)
        make_two_step_agent(model, merged)  # checks every parameter's range, naming it
        return merged
    from dopasoft.fitting.models import MODEL_NAMES, get_model

    try:
        fitted = get_model(model)
    except ValueError as err:
        if model.split("+")[0].strip() in MODEL_NAMES:
            raise
        raise ValueError(f"{err}, or the simulation-only agent 'soft-hybrid'") from None
    if "two-step" not in fitted.simulation_tasks:
        task = fitted.simulation_tasks[0]
        raise ValueError(
            f"model {model!r} is not a two-step model; simulate it on its own task with "
            f"dopasoft.fitting.simulate_choices({model!r}, params) (task {task!r}, or "
            f"dopasoft recover --model {model})"
        )
    defaults = {
        p.name: SIMULATION_DEFAULTS.get(p.name, 0.5 * (p.start[0] + p.start[1])) for p in fitted.params
    }
    merged = updated_params(defaults, params, model)
    for par in fitted.params:
        if not par.in_domain(merged[par.name]):
            lo, hi = par.domain
            ends = "(" if par.open_ends[0] else "[", ")" if par.open_ends[1] else "]"
            raise ValueError(
                f"{par.name} must be in {ends[0]}{lo:g}, {hi:g}{ends[1]} for model {model!r}, "
                f"got {shown(merged[par.name])}"
            )
    return merged


def _cohort_streams(
    rng: np.random.Generator,
    n_subjects: int,
    n_trials: int,
    drift_sd: float,
    bounds: tuple[float, float],
    draw_schedule: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Uniforms ``u`` (n_subjects, n_trials, 4) and the drawn schedules, in the Python loop's order."""
    u = np.empty((n_subjects, n_trials, 4))
    low, high = bounds
    # simulate(agent, task, seed=seed_i): its generator gives the task seed, then the agent's uniforms
    seeds = [int(rng.integers(2**32)) for _ in range(n_subjects)]
    task_seeds = np.empty(n_subjects, np.int64)
    for i, subject_rng in enumerate(seeded_generators(seeds)):
        task_seeds[i] = subject_rng.integers(2**32)
        u[i, :, 0::2] = subject_rng.random(2 * n_trials).reshape(n_trials, 2)  # a1, a2
    # TwoStepTask.reset(seed=task_seed): transitions and rewards, and the schedule from [task_seed, 1]
    for i, task_rng in enumerate(seeded_generators(task_seeds)):
        u[i, :, 1::2] = task_rng.random(2 * n_trials).reshape(n_trials, 2)
    if not draw_schedule:
        return u, None
    p0 = np.empty((n_subjects, 2, 2))
    steps = np.empty((n_subjects, n_trials - 1, 2, 2))
    for i, schedule_rng in enumerate(seeded_generators(task_seeds, suffix=(1,))):
        p0[i] = schedule_rng.uniform(low, high, size=(2, 2))  # drifting_reward_probs
        steps[i] = schedule_rng.normal(0.0, drift_sd, size=(n_trials - 1, 2, 2))
    return u, (reflected_walk(p0, steps, low, high) if draw_schedule else None)


def simulate_two_step(
    n_subjects: int,
    n_trials: int,
    *,
    model: str = "soft-q-lambda",
    params: Mapping[str, float] | None = None,
    p_common: float = 0.7,
    drift_sd: float = 0.025,
    bounds: tuple[float, float] = (0.25, 0.75),
    reward_probs: ArrayLike | None = None,
    deterministic: bool = False,
    seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Simulate a cohort on the two-step task in one compiled call; return canonical data.

    Each subject has its own agent and (unless ``reward_probs`` is given) its own drifting schedule.
    The random numbers are those of running :func:`make_two_step_agent` on a
    :class:`~dopasoft.tasks.TwoStepTask` with :func:`dopasoft.simulate` subject by subject: subject
    ``i`` gets ``seed_i = rng.integers(2**32)``; from ``default_rng(seed_i)`` a task seed ``s`` and then
    the agent's two uniforms per trial; from ``default_rng(s)`` the transition and reward uniforms; from
    ``default_rng([s, 1])`` the schedule. So a seed gives the same data as that loop.

    Parameters
    ----------
    n_subjects, n_trials : int
        Positive counts.
    model : str, default "soft-q-lambda"
        A fitting model spec, as :func:`dopasoft.fitting.get_model` and ``dopasoft fit --model`` take
        it: ``soft-q-lambda``, ``soft-q-lambda-on-policy``, ``soft-q-lambda-uncorrected`` (γ = 1,
        uniform default policy; ``kappa`` always available, default 0), ``daw-hybrid`` (hBayesDM
        ``ts_par7``), ``soft-q-lambda+separate_alpha``, ...; or ``soft-hybrid``, the simulation-only
        soft hybrid agent :class:`~dopasoft.agents.HybridTwoStepAgent` (weight ``w``; ``w = 1`` is
        purely model-based).
    params : mapping, optional
        Model parameters overriding the defaults (:func:`two_step_parameters`; ``kappa`` is the
        stage-1 stickiness).
    p_common, drift_sd, bounds, reward_probs, deterministic
        Task settings (:class:`~dopasoft.tasks.TwoStepTask`); an explicit ``reward_probs`` is shared by
        all subjects.
    seed : int or Generator, optional

    Returns
    -------
    pandas.DataFrame
        Columns ``subject, trial, choice1, state2, choice2, reward``.

    Raises
    ------
    ValueError
        For an unknown model or parameter (named), a parameter out of range, non-positive counts, bad
        task settings or a mismatched schedule.

    Examples
    --------
    >>> data = simulate_two_step(2, 3, model="daw-hybrid", params={"w": 0.7}, seed=1)
    >>> list(data.columns), len(data)
    (['subject', 'trial', 'choice1', 'state2', 'choice2', 'reward'], 6)
    """
    n_sub = _check_count(n_subjects, "n_subjects")
    n_tr = _check_count(n_trials, "n_trials")
    require_table_memory(
        TWO_STEP_ROW_BYTES,
        {"subjects": n_sub, "trials": n_tr},
        "simulating",
        "use fewer subjects or trials, or simulate the cohort in batches (each with its own seed)",
    )
    merged = two_step_parameters(model, params)
    p_common, drift_sd, bounds = check_task_settings(p_common, drift_sd, bounds, deterministic=deterministic)
    if reward_probs is not None:
        reward_probs = check_reward_probs(reward_probs, n_tr)
    rng = np.random.default_rng(seed)
    u, drawn = _cohort_streams(rng, n_sub, n_tr, drift_sd, bounds, reward_probs is None)
    if drawn is None:
        probs = np.ascontiguousarray(np.broadcast_to(reward_probs, (n_sub, n_tr, 2, 2)))
    else:
        probs = drawn
        if deterministic:
            probs[..., 1] = probs[..., 0]
    from dopasoft.experiments.generators import generator_for  # compiled; loads the fitting models

    gen, row = generator_for(model, merged)
    theta = np.ascontiguousarray(np.broadcast_to(row, (n_sub, row.size)))
    c1, s2, c2, r = gen.simulate_arrays(theta, probs, u, p_common=p_common)
    out = pd.DataFrame(
        {
            "subject": np.repeat(np.arange(n_sub, dtype=np.int64), n_tr),
            "trial": np.tile(np.arange(1, n_tr + 1, dtype=np.int64), n_sub),
            "choice1": c1.ravel(),
            "state2": s2.ravel(),
            "choice2": c2.ravel(),
            "reward": r.ravel(),
        }
    )
    return out  # columns in CANONICAL_COLUMNS order


# ----------------------------------------------------------------------------------------------
# tables


def to_canonical(result: SimulationResult | pd.DataFrame, subject: int | str = 0) -> pd.DataFrame:
    """Canonical two-step data from a step-by-step two-step simulation (:func:`dopasoft.simulate`).

    Returns one row per trial with exactly the columns ``subject, trial, choice1, state2, choice2,
    reward`` (integers, and a float reward); ``trial`` is numbered from 1 (the simulation's trial + 1),
    as in :mod:`dopasoft.fitting`.

    Parameters
    ----------
    result : SimulationResult or pandas.DataFrame
        A :func:`dopasoft.simulate` run of a two-step agent on :class:`~dopasoft.tasks.TwoStepTask`, or its
        per-step table.
    subject : int or str
        The subject identifier written in the ``subject`` column.

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import make_two_step_agent, to_canonical
    >>> from dopasoft.tasks import TwoStepTask
    >>> run = ds.simulate(make_two_step_agent("soft-q-lambda"), TwoStepTask(), 10, seed=0)
    >>> list(to_canonical(run, subject="s1").columns)
    ['subject', 'trial', 'choice1', 'state2', 'choice2', 'reward']
    """
    steps = result.steps if isinstance(result, SimulationResult) else result
    if "stage" not in steps.columns:
        raise ValueError("not a two-step simulation: the step table has no 'stage' column")
    s1 = steps[steps["stage"] == 1].set_index("trial")
    s2 = steps[steps["stage"] == 2].set_index("trial")
    out = pd.DataFrame(
        {
            "subject": subject,
            "trial": s1.index.to_numpy(dtype=int) + 1,
            "choice1": s1["action"].to_numpy(dtype=int),
            "state2": s1["state2"].to_numpy(dtype=int),
            "choice2": s2["action"].reindex(s1.index).to_numpy(dtype=int),
            "reward": s2["reward"].reindex(s1.index).to_numpy(dtype=float),
        }
    )
    return out[list(CANONICAL_COLUMNS)]


def stay_probabilities(data: pd.DataFrame) -> pd.DataFrame:
    """Probability of repeating the stage-1 choice by previous reward and transition (Daw et al. 2011).

    Parameters
    ----------
    data : pandas.DataFrame
        Canonical two-step data (several subjects allowed; trials are paired within subject).

    Returns
    -------
    pandas.DataFrame
        Index ``rewarded`` (bool), columns ``common``/``rare``: mean stay probabilities.

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import stay_probabilities
    >>> table = stay_probabilities(ds.experiments.simulate_two_step(4, 60, seed=0))
    >>> table.shape  # rewarded (False, True) x transition (common, rare)
    (2, 2)
    """
    missing = [c for c in CANONICAL_COLUMNS if c not in data.columns]
    if missing:
        raise ValueError(f"data is missing the canonical column(s) {missing}")
    d = data.dropna(subset=["choice1", "state2"]).sort_values(["subject", "trial"])
    previous = d.groupby("subject")[["choice1", "state2", "reward"]].shift(1)
    keep = previous["choice1"].notna()
    frame = pd.DataFrame(
        {
            "rewarded": previous.loc[keep, "reward"].to_numpy() > 0,
            "transition": np.where(
                previous.loc[keep, "choice1"] == previous.loc[keep, "state2"], "common", "rare"
            ),
            "stay": (d.loc[keep, "choice1"] == previous.loc[keep, "choice1"]).to_numpy(dtype=float),
        }
    )
    return frame.pivot_table(index="rewarded", columns="transition", values="stay", aggfunc="mean")
