r"""A conditioning trial as a semi-Markov process: one step per observed event, not per time bin.

Daw, Courville & Touretzky (2006) model conditioning as a semi-Markov process: hidden states ``ITI`` and
``ISI`` with random dwell times, and TD learning at the *events* (cue, reward) only, with the time spent
in a state discounted as a whole:

.. math:: \delta = \gamma_1^{d}\,\big(r + V(s')\big) - V(s),

:math:`d` the seconds spent in :math:`s` before the event that enters :math:`s'` (:math:`\gamma_1` per
second; :class:`~dopasoft.agents.SemiMarkovTD` applies it). Within a state nothing is learnt and no
prediction error is emitted; the value belongs to the state, not to the time elapsed in it.

Steps of one trial (``info["event"]``): ``"cue"`` (ITI → ISI after the pre-cue time), ``"reward"``
(ISI → ITI at the reward time, rewarded trials only: an omitted reward is no observation, so omission
trials have no ``reward_rpe``), then ``"end"`` (into the terminal state at the end of the trial, value 0:
the omission's negative error appears there). Observations are ``[x_ISI, x_ITI, d]``: the macro-state
one-hot and, last, the dwell ``d`` (seconds since the previous event).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from dopasoft.tasks.conditioning.protocols import Protocol
from dopasoft.tasks.conditioning.session import Session
from dopasoft.tasks.conditioning.task import ConditioningTask

__all__ = ["SemiMarkovConditioningTask"]


class SemiMarkovConditioningTask(ConditioningTask):
    """A one-cue protocol or session run event by event (cue, reward, end of trial).

    Parameters
    ----------
    protocol : str, Protocol or Session
        One cue followed by a reward (e.g. :func:`~dopasoft.tasks.conditioning.variable_delay_session`).
    **kwargs
        As :class:`ConditioningTask` (``dt`` only sets where times are rounded; ``representation`` is
        not used).

    Attributes
    ----------
    n_features : int
        3: ``ISI``, ``ITI`` and the dwell (seconds), the last read by
        :class:`~dopasoft.agents.SemiMarkovTD`, never learnt on.

    Raises
    ------
    ValueError
        For a protocol with more than one cue or serial cues.

    Examples
    --------
    >>> import pandas as pd
    >>> from dopasoft.tasks.conditioning import make_session
    >>> task = SemiMarkovConditioningTask(make_session(pd.DataFrame({"trial_type": ["A+"], "reward_time": [2.0]})))
    >>> obs, _ = task.reset(seed=0)
    >>> [(task.step(0)[4]["event"], task._t) for _ in range(3)]
    [('cue', 4), ('reward', 12), ('end', 15)]
    """

    def __init__(self, protocol: str | Protocol | Session = "acquisition", **kwargs: Any) -> None:
        kwargs.pop("representation", None)
        super().__init__(protocol, **kwargs)
        if len(self.cues) != 1 or any(len(tt.groups) != 1 for tt in self.protocol.trial_types):
            raise ValueError(
                "the semi-Markov model has one ISI state after one cue; protocol "
                f"{self.protocol.name!r} has cues {''.join(self.cues) or '(none)'}"
            )
        self.n_features = 3
        self.feature_names = ["isi", "iti", "dwell_s"]
        self.observation_space = gym.spaces.Box(
            low=np.zeros(3), high=np.array([1.0, 1.0, self.n_bins * self.dt]), dtype=np.float64
        )
        self._last_event_bin = 0

    def trial_features(self, trial_type: Any, timing: Any = None) -> NDArray[np.float64]:
        """Zeros ``(n_bins, 3)``: the semi-Markov model observes events, not bins (see :meth:`step`)."""
        return np.zeros((self.n_bins, self.n_features))

    def _obs(self, state: int, dwell_bins: int) -> NDArray[np.float64]:
        x = np.zeros(3)
        x[state] = 1.0
        x[2] = dwell_bins * self.dt
        return x

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float64], dict[str, Any]]:
        """Start the next trial in the ``ITI`` state (bin 0)."""
        _, info = super().reset(seed=seed, options=options)
        self._last_event_bin = 0
        return self._obs(1, 0), info

    def step(self, action: int) -> tuple[NDArray[np.float64], float, bool, bool, dict[str, Any]]:
        """Advance to the next event: the cue, the reward (if delivered) or the end of the trial."""
        if self._current is None:
            raise RuntimeError("call reset() before step()")
        if self._t >= self.n_bins:
            raise RuntimeError("the trial is over; call reset()")
        timing = self._timing
        onset = timing.onsets[0]
        if self._t < onset:
            entered, event, state, reward = onset, "cue", 0, 0.0
        elif self._t < timing.reward_bin and self._rewarded:
            entered, event, state, reward = timing.reward_bin, "reward", 1, self._reward_size
        else:
            entered, event, state, reward = self.n_bins, "end", 1, 0.0
        dwell = entered - self._t
        self._t = entered
        terminated = entered == self.n_bins
        obs = self._obs(state, dwell)
        if terminated:
            obs[:2] = 0.0
        info = {"bin": entered, "time": round((entered - onset) * self.dt, 10), "event": event}
        return obs, float(reward), terminated, False, info
