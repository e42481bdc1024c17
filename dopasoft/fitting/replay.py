r"""Replay: a fitted model's prediction errors on the subjects' own choices (docs/maths.md §4, docs/analysis.md).

:func:`replay` runs a choice model along each subject's recorded choices — exactly the updates of its
likelihood, through the model's own compiled loop — and returns one row per choice step with the
probability the model gave the recorded choice and the model dopamine signals read before the step's
update. Summing :math:`-\log` ``p_choice`` over a subject gives its negative log-likelihood exactly.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from dopasoft.fitting.data import Transitions, to_transitions
from dopasoft.fitting.models import ChoiceModel, get_model, model_from_columns
from dopasoft.fitting.parameters import _params_matrix

__all__ = ["replay", "REPLAY_COLUMNS"]

REPLAY_COLUMNS = (
    "subject",
    "trial",
    "stage",
    "state",
    "action",
    "reward",
    "p_choice",
    "delta",
    "value_rpe",
    "action_term",
)
"""Columns every replay table starts with; a model family may add its own after them."""


def _resolve_model(model, params) -> ChoiceModel:
    """The model to replay; a fits table's ``model`` column and parameter columns must agree with it."""
    table = params if isinstance(params, pd.DataFrame) else None
    spec = None
    if table is not None and "model" in table.columns:
        specs = pd.unique(table["model"].dropna())
        if len(specs) > 1:
            raise ValueError(
                f"params: the 'model' column holds {len(specs)} models {list(specs)}; split it by model"
            )
        spec = str(specs[0]) if len(specs) else None
    if model is None:
        if spec is None:
            raise ValueError("give the model (e.g. model='soft-q-lambda'): params has no 'model' column")
        model = spec
    m = get_model(model)
    if spec is not None and get_model(spec) != m:
        raise ValueError(
            f"params were fitted with model {get_model(spec).spec!r}, not {m.spec!r}; "
            f"pass model={get_model(spec).spec!r} (or model=None to take it from the table)"
        )
    if table is not None and isinstance(model, str) and "+" not in model:
        richer = model_from_columns(model, table.columns)
        if richer.n_params > m.n_params:
            extra = [p for p in richer.param_names if p not in m.param_names]
            raise ValueError(
                f"params have column(s) {extra} that model {m.spec!r} does not take; "
                f"did you mean model={richer.spec!r}?"
            )
    return m


def _fitted_only(params, model: ChoiceModel, tr: Transitions) -> tuple[object, Transitions]:
    """Leave out (with a warning naming them) subjects of a fits table with no fitted parameters."""
    if not isinstance(params, pd.DataFrame) or "subject" not in params.columns:
        return params, tr
    names = [p for p in model.param_names if p in params.columns]
    values = params[names].apply(pd.to_numeric, errors="coerce")
    empty = values.isna().all(axis=1).to_numpy() & params[names].isna().all(axis=1).to_numpy()
    if not empty.any():
        return params, tr
    gone = {str(s) for s in params.loc[empty, "subject"]}
    warnings.warn(
        f"replay: {len(gone)} subject(s) have no fitted parameters and are left out: {sorted(gone)[:10]}",
        stacklevel=3,
    )
    keep = [i for i, s in enumerate(tr.subjects) if str(s) not in gone]
    return params.loc[~empty], tr.take(keep)


def _stages(trial: NDArray[np.float64], n_steps: NDArray[np.int64]) -> NDArray[np.int64]:
    """1-based position of every step within its trial (consecutive steps with one trial number)."""
    stage = np.zeros(trial.shape, np.int64)
    for i, k in enumerate(n_steps):
        t = trial[i, :k]
        new = np.r_[True, t[1:] != t[:-1]]
        start = np.maximum.accumulate(np.where(new, np.arange(k), 0))
        stage[i, :k] = np.arange(k) - start + 1
    return stage


def replay(
    data,
    model: str | ChoiceModel | None,
    params,
    *,
    n_actions: int | None = None,
    n_states: int | None = None,
) -> pd.DataFrame:
    """Model dopamine on the subjects' own choices: the model's prediction errors, step by step.

    Parameters
    ----------
    data : pandas.DataFrame
        Choice data in any format :func:`dopasoft.fitting.to_transitions` reads (canonical two-step,
        hBayesDM files, bandit, step format), validated the same way.
    model : str, ChoiceModel or None
        The fitted model (a name, a spec such as ``"soft-q-lambda+kappa"`` or a model object). ``None``:
        taken from the ``model`` column of a fits table. A fits table made with another model, or
        holding parameters the model does not take, is refused (the replay would be of another model).
    params : dict or pandas.DataFrame
        One parameter set for every subject (``{"alpha": 0.3, ...}``), or a fits table (one row per
        subject, e.g. :attr:`dopasoft.fitting.FitResult.params` or the CSV of ``dopasoft fit``).
        Subjects whose fit has no parameters (no valid choices) are left out with a warning.
    n_actions, n_states : int, optional
        Bandit and step-format data: numbers of options / states when not all codes occur.

    Returns
    -------
    pandas.DataFrame
        One row per choice step, in data order: ``subject``, ``trial``, ``stage`` (the step's position in
        its trial: 1, 2 for two-step data; 1 for one-step tasks), ``state`` (two-step: 0 first stage, ``1 + state2`` second),
        ``action``, ``reward`` (0 at two-step stage 1), ``p_choice`` (the model's probability of the
        recorded choice before the step's update, with stickiness), and the signals read before the
        update (docs/maths.md §4): ``delta`` (the prediction error the model learns from),
        ``value_rpe`` (``r + γV(s') − V(s)``), ``action_term`` (``Q(s,a) − V(s)``); then the model
        family's extra columns (Soft Q: ``value`` ``V(s)``; Daw hybrid: ``q_mf``, ``q_mb``,
        ``q_net``). A step whose choice is missing has ``action`` NaN and NaN signals; a two-step
        trial without a first-stage choice has no rows.

    Raises
    ------
    ValueError
        Invalid data or parameters (naming subject, row, column or parameter), a fits table of another
        model, a subject without parameters in the table.

    Examples
    --------
    >>> import dopasoft as ds
    >>> data = ds.fitting.simulate_choices("daw-hybrid-4", {"alpha": 0.5, "beta": 4, "pers": 0.2, "w": 0.5},
    ...                                    n_subjects=2, n_trials=50, seed=0)
    >>> sig = ds.fitting.replay(data, "daw-hybrid-4", {"alpha": 0.5, "beta": 4, "pers": 0.2, "w": 0.5})
    >>> list(sig.columns[:6]), len(sig)
    (['subject', 'trial', 'stage', 'state', 'action', 'reward'], 200)
    >>> nll = ds.fitting.negative_log_likelihood(data, "daw-hybrid-4", {"alpha": 0.5, "beta": 4, "pers": 0.2, "w": 0.5})
    >>> bool(abs(-np.log(sig["p_choice"]).groupby(sig["subject"]).sum() - nll).max() < 1e-10)
    True
    """
    m = _resolve_model(model, params)
    tr = to_transitions(data, n_actions=n_actions, n_states=n_states)
    if tr.trial is None:
        raise ValueError(
            "replay needs the choice table (for trial numbers), not Transitions built without them"
        )
    m.check_task(tr)
    params, tr = _fitted_only(params, m, tr)
    if isinstance(params, Mapping) or isinstance(params, pd.DataFrame):
        theta = _params_matrix(m, tr, params)
    else:
        raise ValueError(f"params: expected a dict or a fits table (DataFrame), got {type(params).__name__}")
    signals, _ = m.replay_signals(tr, theta)
    trial, stage = tr.trial, _stages(tr.trial, tr.n_steps)
    live = np.arange(tr.state.shape[1])[None, :] < tr.n_steps[:, None]
    rows = np.nonzero(live)
    subjects = np.asarray(tr.subjects, dtype=object)
    out = {
        "subject": subjects[rows[0]],
        "trial": trial[rows],
        "stage": stage[rows],
        "state": tr.state[rows],
        "action": np.where(tr.action[rows] >= 0, tr.action[rows], np.nan),
        "reward": tr.reward[rows],
    }
    table = pd.DataFrame(out)
    if np.all(table["trial"] == np.round(table["trial"])):
        table["trial"] = table["trial"].astype(np.int64)
    if not np.isnan(table["action"]).any():
        table["action"] = table["action"].astype(np.int64)
    for name in REPLAY_COLUMNS[6:]:
        table[name] = signals[name][rows]
    for name, values in signals.items():
        if name not in table.columns:
            table[name] = values[rows]
    return table
