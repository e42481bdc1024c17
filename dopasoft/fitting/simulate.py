"""Generate choice data from a fitting model (the same compiled functions as its likelihood).

Used by parameter recovery (``dopasoft recover``) and the tests; the task environments here are
minimal array versions of docs/tasks.md (two-step task with drifting reward probabilities; a two-armed
reversal bandit) and of hBayesDM's go/no-go and four-armed bandit tasks, so that whole populations are
simulated in one compiled call.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from dopasoft._memory import require_table_memory
from dopasoft._messages import shown
from dopasoft.fitting.models import ChoiceModel, get_model
from dopasoft.fitting.parameters import check_parameters

__all__ = [
    "two_step_reward_probabilities",
    "reversal_probabilities",
    "go_nogo_outcomes",
    "four_arm_outcomes",
    "simulate_choices",
    "sample_parameters",
]

#: bytes :func:`simulate_choices` holds per subject × trial at its peak, by task (192, 144, 143 and 281
#: measured with tracemalloc: uniforms, reward probabilities or outcomes, the choices and the table)
CHOICE_ROW_BYTES = {"two-step": 250.0, "bandit": 200.0, "gng": 200.0, "bandit4arm": 350.0}
SIMULATED_TASKS = ("two-step", "bandit", "gng", "bandit4arm")


def two_step_reward_probabilities(
    n_subjects: int,
    n_trials: int,
    rng: np.random.Generator,
    *,
    sd: float = 0.025,
    low: float = 0.25,
    high: float = 0.75,
) -> NDArray[np.float64]:
    """Reward probabilities (n_subjects, n_trials, 2, 2): Gaussian random walks reflected into
    ``[low, high]`` (Daw et al. 2011), starting uniformly in that range.

    The walk is :func:`dopasoft.tasks.two_step.reflected_walk` (the package's one drift; reflection is
    exact for any ``sd``). Draws: the starts, then one ``(n_subjects, 2, 2)`` block of steps per trial.
    """
    from dopasoft.tasks.two_step import reflected_walk  # deferred: gymnasium loads on first use

    p0 = rng.uniform(low, high, size=(n_subjects, 2, 2))
    steps = rng.normal(0.0, sd, size=(n_trials, n_subjects, 2, 2))  # the last block is drawn, unused
    return reflected_walk(p0, np.moveaxis(steps[:-1], 0, 1), low, high)


def reversal_probabilities(
    n_subjects: int, n_trials: int, *, p_high: float = 0.8, block: int = 40
) -> NDArray[np.float64]:
    """Two-armed reversal task: the better arm (reward ``p_high``) switches every ``block`` trials."""
    t = np.arange(n_trials)
    good = (t // block) % 2
    p = np.where(good[:, None] == np.arange(2)[None, :], p_high, 1.0 - p_high)
    return np.broadcast_to(p, (n_subjects, n_trials, 2)).copy()


def go_nogo_outcomes(
    n_subjects: int, n_trials: int, rng: np.random.Generator, *, p_correct: float = 0.8
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Cues and outcomes of the orthogonalised go/no-go task (Guitart-Masip et al. 2012).

    Four cues, each on a quarter of the trials in a random order per subject (hBayesDM's ``cue`` − 1):
    0 go-to-win, 1 go-to-avoid-losing, 2 no-go-to-win, 3 no-go-to-avoid-losing. The correct action
    (go = 1 for cues 0, 1; no-go = 0 for cues 2, 3) brings the good outcome with probability
    ``p_correct``, the other action with ``1 − p_correct``; good / bad outcomes are 1 / 0 for the win
    cues and 0 / −1 for the avoid cues. One uniform per trial decides the feedback of both actions.

    Parameters
    ----------
    n_subjects, n_trials : int
    rng : numpy.random.Generator
    p_correct : float
        Probability of the good outcome after the correct action.

    Returns
    -------
    cues : int64 array (n_subjects, n_trials)
    outcome_if : float array (n_subjects, n_trials, 2)
        The outcome each action (0 no-go, 1 go) would bring on each trial.

    Examples
    --------
    >>> import numpy as np
    >>> cues, out = go_nogo_outcomes(1, 8, np.random.default_rng(0))
    >>> sorted(cues[0].tolist()), sorted(set(out.ravel().tolist())) <= [-1.0, 0.0, 1.0]
    ([0, 0, 1, 1, 2, 2, 3, 3], True)
    """
    cues = np.stack([rng.permutation(np.resize(np.arange(4), n_trials)) for _ in range(n_subjects)])
    cues = cues.reshape(n_subjects, n_trials).astype(np.int64)
    v = rng.uniform(size=(n_subjects, n_trials))
    correct = np.where(cues <= 1, 1, 0)
    win = (cues == 0) | (cues == 2)
    good, bad = np.where(win, 1.0, 0.0), np.where(win, 0.0, -1.0)
    outcome_if = np.empty((n_subjects, n_trials, 2))
    for a in (0, 1):
        p_good = np.where(correct == a, p_correct, 1.0 - p_correct)
        outcome_if[..., a] = np.where(v < p_good, good, bad)
    return cues, outcome_if


def four_arm_outcomes(
    n_subjects: int,
    n_trials: int,
    rng: np.random.Generator,
    *,
    n_arms: int = 4,
    sd: float = 0.05,
    low: float = 0.1,
    high: float = 0.9,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gains and losses of the four-armed bandit with separate reward and punishment (Seymour et al. 2012).

    Each arm has a probability of a gain (+1) and, independently, of a loss (−1) on every trial, each a
    Gaussian random walk (step ``sd``) reflected into ``[low, high]``
    (:func:`dopasoft.tasks.two_step.reflected_walk`), starting uniformly there.

    Parameters
    ----------
    n_subjects, n_trials : int
    rng : numpy.random.Generator
    n_arms : int
    sd, low, high : float
        The walks' step and range.

    Returns
    -------
    probs : float array (n_subjects, n_trials, n_arms, 2)
        Probability of the gain and of the loss of each arm on each trial.
    outcome_if : float array (n_subjects, n_trials, n_arms, 2)
        The gain (1 or 0) and loss (−1 or 0) each arm would bring on each trial.

    Examples
    --------
    >>> import numpy as np
    >>> probs, out = four_arm_outcomes(2, 50, np.random.default_rng(0))
    >>> probs.shape, bool(((probs >= 0.1) & (probs <= 0.9)).all()), sorted(np.unique(out[..., 1]).tolist())
    ((2, 50, 4, 2), True, [-1.0, 0.0])
    """
    from dopasoft.tasks.two_step import reflected_walk  # deferred: gymnasium loads on first use

    p0 = rng.uniform(low, high, size=(n_subjects, n_arms, 2))
    steps = rng.normal(0.0, sd, size=(n_trials, n_subjects, n_arms, 2))
    probs = reflected_walk(p0, np.moveaxis(steps[:-1], 0, 1), low, high)
    hit = rng.uniform(size=probs.shape) < probs
    outcome_if = np.where(hit, np.array([1.0, -1.0]), 0.0)
    return probs, outcome_if


def sample_parameters(model: str | ChoiceModel, n_subjects: int, rng: np.random.Generator) -> pd.DataFrame:
    """Draw parameters uniformly within each parameter's start range (a generic population).

    Parameters
    ----------
    model : str or ChoiceModel
        The model whose parameters are drawn.
    n_subjects : int
        Number of parameter sets.
    rng : numpy.random.Generator
        Random numbers.

    Examples
    --------
    >>> import numpy as np
    >>> from dopasoft.fitting import sample_parameters
    >>> params = sample_parameters("soft-q", 3, np.random.default_rng(0))
    >>> list(params.columns), len(params)
    (['alpha', 'tau'], 3)
    """
    model = get_model(model)
    cols = {p.name: rng.uniform(p.start[0], p.start[1], size=n_subjects) for p in model.params}
    return pd.DataFrame(cols)


def simulate_choices(
    model: str | ChoiceModel,
    params: pd.DataFrame | dict,
    *,
    n_trials: int = 200,
    seed: int | np.random.Generator = 0,
    task: str | None = None,
    n_subjects: int | None = None,
    subject_prefix: str = "sub",
) -> pd.DataFrame:
    """Simulate choices of a fitted model (``model`` with one parameter set per subject).

    Not to be confused with :func:`dopasoft.simulate`, the agent–environment loop of a learner on a
    task; this function generates choice data in the format that :func:`~dopasoft.fitting.fit` reads.

    Parameters
    ----------
    model : str or ChoiceModel
    params : pandas.DataFrame or dict
        One row per subject (columns = parameter names; optional ``subject``) or one dict for
        ``n_subjects`` identical subjects.
    n_trials : int
    seed : int or numpy.random.Generator
    task : {"two-step", "bandit", "gng", "bandit4arm"}, optional
        ``"two-step"``: drifting rewards (:func:`two_step_reward_probabilities`); ``"bandit"``:
        two-armed reversal task (:func:`reversal_probabilities`); ``"gng"``: the go/no-go task
        (:func:`go_nogo_outcomes`); ``"bandit4arm"``: four arms with gains and losses
        (:func:`four_arm_outcomes`). Default: the model's first task
        (:attr:`~dopasoft.fitting.models.ChoiceModel.simulation_tasks`: two-step for the Soft Q and
        hybrid models, bandit for ``prl_*`` and ``bandit2arm_delta``, gng for ``gng_m*``, bandit4arm
        for ``bandit4arm_4par``).
    n_subjects : int, optional
        With ``params`` a dict: how many identical subjects to simulate.
    subject_prefix : str
        Subject identifiers are ``<subject_prefix>000``, ``<subject_prefix>001``, ... when ``params`` has no
        ``subject`` column.

    Returns
    -------
    pandas.DataFrame
        Canonical data (two-step: ``subject, trial, choice1, state2, choice2, reward``; bandit:
        ``subject, trial, choice, reward``; gng: ``subject, trial, state`` (the cue 0–3), ``choice``
        (1 = go), ``reward``; bandit4arm: ``subject, trial, choice, reward, gain, loss``) with the
        reward probabilities as extra columns (two-step, bandit4arm); gng and bandit4arm tables carry
        their numbers of states and options in ``attrs``.

    Raises
    ------
    ValueError
        Unknown, missing, non-numeric or out-of-domain parameters (checked as
        :func:`~dopasoft.fitting.negative_log_likelihood` checks them), naming the parameter and subject;
        a task the model cannot be simulated on.

    Examples
    --------
    >>> from dopasoft.fitting import simulate_choices
    >>> data = simulate_choices("gng_m2", {"xi": 0.1, "ep": 0.2, "b": 0.5, "rho": 5.0}, n_trials=8, seed=0)
    >>> list(data.columns), data.attrs["n_states"]
    (['subject', 'trial', 'state', 'choice', 'reward'], 4)
    >>> data = simulate_choices("soft-q", {"alpha": 0.3, "tau": 0.2}, task="bandit", n_subjects=2, n_trials=5)
    >>> data[["subject", "trial", "choice", "reward"]].shape, sorted(data["subject"].unique())
    ((10, 4), ['sub000', 'sub001'])
    """
    model = get_model(model)
    if task is None:
        task = model.simulation_tasks[0]
    if task not in SIMULATED_TASKS:
        raise ValueError(f"task must be one of {list(SIMULATED_TASKS)}, got {task!r}")
    if task not in model.simulation_tasks:
        raise ValueError(
            f"model {model.name!r} cannot simulate the {task!r} task; it simulates "
            f"{' or '.join(repr(t) for t in model.simulation_tasks)}"
        )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if isinstance(n_trials, bool) or not isinstance(n_trials, int | np.integer) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {shown(n_trials)}")
    if n_subjects is not None and (
        isinstance(n_subjects, bool) or not isinstance(n_subjects, int | np.integer) or n_subjects < 1
    ):
        raise ValueError(f"n_subjects must be a positive integer, got {shown(n_subjects)}")
    n_rows = (
        (n_subjects or 1) if isinstance(params, Mapping) else len(params) if hasattr(params, "__len__") else 1
    )
    require_table_memory(
        CHOICE_ROW_BYTES.get(task, 0.0),
        {"subjects": n_rows, "trials": int(n_trials)},
        "simulating",
        "use fewer subjects or trials, or simulate in batches of subjects (each with its own seed)",
    )
    if isinstance(params, Mapping):
        unknown = [k for k in params if k not in model.param_names and k != "subject"]
        if unknown:
            raise ValueError(
                f"params: unknown parameter(s) {unknown} of model {model.name!r}; "
                f"parameters are {list(model.param_names)}"
            )
        params = pd.DataFrame([dict(params)] * (n_subjects or 1))
    if not isinstance(params, pd.DataFrame):
        raise ValueError(f"params must be a dict or a DataFrame, got {type(params).__name__}")
    missing = [p for p in model.param_names if p not in params.columns]
    if missing:
        raise ValueError(f"params: missing parameter(s) {missing} of model {model.name!r}")
    n = len(params)
    subjects = (
        params["subject"].astype(str).to_numpy()
        if "subject" in params.columns
        else np.array([f"{subject_prefix}{i:03d}" for i in range(n)])
    )
    raw = params[list(model.param_names)]
    theta = raw.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    text = np.isnan(theta) & raw.notna().to_numpy()
    if text.any():
        i, j = (int(v[0]) for v in np.nonzero(text))
        raise ValueError(
            f"params: {model.param_names[j]!r} = {raw.iloc[i, j]!r} for subject "
            f"{str(subjects[i])!r} is not a number"
        )
    check_parameters(model, theta, list(subjects))
    trial = np.tile(np.arange(1, n_trials + 1), n)
    if task == "two-step":
        probs = two_step_reward_probabilities(n, n_trials, rng)
        u = rng.uniform(size=(n, n_trials, 4))
        c1, s2, c2, r = model.simulate_arrays(theta, probs, u)
        df = pd.DataFrame(
            {
                "subject": np.repeat(subjects, n_trials),
                "trial": trial,
                "choice1": c1.ravel(),
                "state2": s2.ravel(),
                "choice2": c2.ravel(),
                "reward": r.ravel(),
            }
        )
        for a in range(2):
            for b in range(2):
                df[f"p_reward_{a}{b}"] = probs[:, :, a, b].ravel()
        return df
    if task == "gng":
        cues, outcome_if = go_nogo_outcomes(n, n_trials, rng)
        u = rng.uniform(size=(n, n_trials))
        press, outcome = model.simulate_arrays(theta, outcome_if, u, state=cues)
        df = pd.DataFrame(
            {
                "subject": np.repeat(subjects, n_trials),
                "trial": trial,
                "state": cues.ravel(),
                "choice": press.ravel(),
                "reward": outcome.ravel(),
            }
        )
        df.attrs.update(n_states=4, n_actions=2)
        return df
    if task == "bandit4arm":
        probs, outcome_if = four_arm_outcomes(n, n_trials, rng)
        u = rng.uniform(size=(n, n_trials))
        ch, gain, loss = model.simulate_arrays(theta, outcome_if, u)
        df = pd.DataFrame(
            {
                "subject": np.repeat(subjects, n_trials),
                "trial": trial,
                "choice": ch.ravel(),
                "reward": (gain + loss).ravel(),
                "gain": gain.ravel(),
                "loss": loss.ravel(),
            }
        )
        for k in range(probs.shape[2]):
            df[f"p_gain_{k}"] = probs[:, :, k, 0].ravel()
            df[f"p_loss_{k}"] = probs[:, :, k, 1].ravel()
        df.attrs.update(n_states=1, n_actions=probs.shape[2])
        return df
    if task == "bandit":
        probs = reversal_probabilities(n, n_trials)
        u = rng.uniform(size=(n, n_trials, 2))
        ch, r = model.simulate_arrays(theta, probs, u)
        return pd.DataFrame(
            {
                "subject": np.repeat(subjects, n_trials),
                "trial": trial,
                "choice": ch.ravel(),
                "reward": r.ravel(),
            }
        )
    raise AssertionError(task)  # every task of SIMULATED_TASKS is handled above
