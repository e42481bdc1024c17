"""An auditory two-choice discrimination task: a cue per trial, the correct action rewarded.

The task behind value-free action prediction errors in the tail of the striatum (Greenstreet et al. 2025,
Nature 643:1333): a mouse hears one of two tones and must choose the action that tone calls for; a novel
tone may be introduced part-way through the session. Each trial is one episode of one choice: ``reset``
presents the cue (observation = cue index), ``step(action)`` pays ``reward`` when the action is the cue's
correct one (``error_reward`` otherwise) and ends the episode in the terminal observation ``n_cues``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from dopasoft._messages import shown

__all__ = ["DiscriminationTask"]


class DiscriminationTask(gym.Env):
    """Two-choice discrimination with an optional novel cue.

    Parameters
    ----------
    n_trials : int, default 400
        Trials in the session.
    correct : sequence of int, default (0, 1)
        The correct action of each familiar cue (cue ``i`` calls for action ``correct[i]``).
    novel_from : int, optional
        From this trial on, a novel cue (index ``len(correct)``) is presented too, on a fraction
        ``novel_fraction`` of the trials; its correct action is ``novel_correct``.
    novel_correct : int, default 0
    novel_fraction : float, default 0.5
    reward, error_reward : float, default 1.0 and 0.0
        Outcome of a correct and of an incorrect choice.
    n_actions : int, default 2
    seed : int, optional
        Seed of the cue sequence (``reset(seed=...)`` redraws it).

    Attributes
    ----------
    cues : ndarray of int, shape (n_trials,)
        The cue of every trial.
    n_states : int
        Cues plus the terminal observation (``n_cues + 1``): give it to ``SoftQLambda(n_states, n_actions)``.

    Examples
    --------
    >>> task = DiscriminationTask(n_trials=10, novel_from=5, seed=0)
    >>> obs, info = task.reset()
    >>> task.n_states, info["cue"] == obs, info["novel"]
    (4, True, False)
    >>> obs2, r, terminated, truncated, info = task.step(task.correct_action(obs))
    >>> r, terminated, obs2
    (1.0, True, 3)
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        n_trials: int = 400,
        *,
        correct: Sequence[int] = (0, 1),
        novel_from: int | None = None,
        novel_correct: int = 0,
        novel_fraction: float = 0.5,
        reward: float = 1.0,
        error_reward: float = 0.0,
        n_actions: int = 2,
        seed: int | None = None,
    ) -> None:
        if isinstance(n_trials, bool) or not isinstance(n_trials, int | np.integer) or n_trials < 1:
            raise ValueError(f"n_trials must be a positive integer, got {shown(n_trials)}")
        if isinstance(n_actions, bool) or not isinstance(n_actions, int | np.integer) or n_actions < 2:
            raise ValueError(f"n_actions must be an integer >= 2, got {shown(n_actions)}")
        mapping = [int(a) for a in correct]
        if len(mapping) < 1 or any(not 0 <= a < n_actions for a in mapping):
            raise ValueError(
                f"correct must list one action in 0..{n_actions - 1} per cue, got {list(correct)!r}"
            )
        if novel_from is not None and not 0 <= int(novel_from) < n_trials:
            raise ValueError(f"novel_from must be a trial in 0..{n_trials - 1}, got {shown(novel_from)}")
        if not 0 <= int(novel_correct) < n_actions:
            raise ValueError(
                f"novel_correct must be an action in 0..{n_actions - 1}, got {shown(novel_correct)}"
            )
        if not 0.0 < float(novel_fraction) <= 1.0:
            raise ValueError(f"novel_fraction must be in (0, 1], got {shown(novel_fraction)}")
        for name, value in (("reward", reward), ("error_reward", error_reward)):
            if not np.isfinite(float(value)):
                raise ValueError(f"{name} must be finite, got {shown(value)}")
        self.n_trials = int(n_trials)
        self.n_actions = int(n_actions)
        self._correct = mapping + ([int(novel_correct)] if novel_from is not None else [])
        self.n_cues = len(self._correct)
        self.n_states = self.n_cues + 1
        self.novel_from = None if novel_from is None else int(novel_from)
        self.novel_fraction = float(novel_fraction)
        self.reward, self.error_reward = float(reward), float(error_reward)
        self.observation_space = gym.spaces.Discrete(self.n_states)
        self.action_space = gym.spaces.Discrete(self.n_actions)
        self._seed = seed
        self.cues = self._draw_cues(seed)
        self._trial = -1
        self._started = False
        self._cue = 0

    def _draw_cues(self, seed: int | None) -> NDArray[np.int64]:
        rng = np.random.default_rng(seed)
        familiar = len(self._correct) - (self.novel_from is not None)
        cues = rng.integers(familiar, size=self.n_trials)
        if self.novel_from is not None:
            late = np.arange(self.n_trials) >= self.novel_from
            novel = late & (rng.random(self.n_trials) < self.novel_fraction)
            novel[self.novel_from] = True  # the novel cue is first heard at novel_from
            cues = np.where(novel, familiar, cues)
        return cues.astype(np.int64)

    def correct_action(self, cue: int) -> int:
        """The action cue ``cue`` calls for."""
        return self._correct[int(cue)]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Present the next trial's cue (``seed`` restarts the session with a new cue sequence)."""
        super().reset(seed=seed)
        if seed is not None or not self._started:
            if seed is not None:
                self.cues = self._draw_cues(seed)
            self._trial = -1
            self._started = True
        self._trial += 1
        if self._trial >= self.n_trials:
            raise ValueError(f"the session has only {self.n_trials} trials; call reset(seed=...) to restart")
        self._cue = int(self.cues[self._trial])
        novel = self.novel_from is not None and self._cue == self.n_cues - 1
        return self._cue, {"trial": self._trial, "cue": self._cue, "novel": bool(novel)}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        """Choose: the reward of a correct choice, the terminal observation, ``terminated=True``."""
        a = int(action)
        if not 0 <= a < self.n_actions:
            raise ValueError(f"action {shown(action)} is out of range 0..{self.n_actions - 1}")
        correct = a == self._correct[self._cue]
        r = self.reward if correct else self.error_reward
        return self.n_cues, float(r), True, False, {"correct": bool(correct), "cue": self._cue}
