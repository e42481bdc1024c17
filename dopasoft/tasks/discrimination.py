"""An auditory two-choice discrimination task: a cue per trial, the correct action rewarded.

The task behind value-free action prediction errors in the tail of the striatum (Greenstreet et al. 2025,
Nature 643:1333): a mouse hears one of two tones and must choose the action that tone calls for; a novel
tone may be introduced part-way through the session. Each trial is one episode of one choice: ``reset``
presents the cue (observation = cue index), ``step(action)`` pays ``reward`` when the action is the cue's
correct one (``error_reward`` otherwise) and ends the episode in the terminal observation ``n_cues``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from dopasoft._messages import shown

__all__ = ["DiscriminationTask", "TimedDiscriminationTask"]


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


def _bins(seconds: float, dt: float, name: str, minimum: int) -> int:
    """``seconds`` as a whole number of bins of ``dt`` (at least ``minimum``); refuse what is not one."""
    try:
        x = float(seconds)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of seconds, got {shown(seconds)}") from None
    n = round(x / dt) if np.isfinite(x) else -1
    if not np.isfinite(x) or abs(n * dt - x) > 1e-9 * max(1.0, abs(x)) or n < minimum:
        least = f"at least {minimum * dt:g} s" if minimum else "non-negative"
        raise ValueError(
            f"{name} must be a whole number of bins of dt = {dt:g} s, {least}, got {shown(seconds)}"
        )
    return int(n)


class TimedDiscriminationTask(DiscriminationTask):
    """The two-choice discrimination with cue, movement and outcome at separate times (bins of ``dt`` s).

    Each trial is one episode of time bins: an inter-trial wait before the cue (``pre_cue`` seconds,
    fixed or drawn per trial), the cue, a movement (the choice: left = action 0, right = action 1)
    ``cue_to_movement`` seconds after cue onset, the outcome ``movement_to_outcome`` seconds after
    movement onset, then ``post_outcome`` seconds. So an agent's action prediction error is emitted at
    movement onset and its reward prediction error at the outcome, as in the recordings of Greenstreet et
    al. (2025) that align tail-of-striatum dopamine to movement and ventral-striatum dopamine to outcome.

    Observations are state indices (one-hot for a tabular agent): 0 for every pre-cue bin (one
    inter-trial state: when the cue comes is not known, so its value stays below the cue's), per cue its
    bins before the movement and its movement bin, per cue and action the bins from movement to
    outcome (the state remembers the choice, so the value before the outcome predicts it), the
    post-outcome bins, and a terminal observation. Only in a movement bin do the actions differ;
    elsewhere every action means "wait" (:attr:`action_mask` marks the distinct choices, so an agent can
    give waiting bins a default policy on action 0 alone). Step ``k`` of a trial is the transition into
    bin ``k + 1``, at time ``(k + 1) dt`` from the trial's start (``info["time"]``); the steps into the
    first cue bin, out of the movement bin and into the outcome carry ``info["event"]`` = ``"cue"``,
    ``"movement"`` and ``"reward"`` (the outcome pays ``reward`` or ``error_reward`` on that step).

    Parameters
    ----------
    n_trials : int, default 400
    dt : float, default 0.1
        Bin width in seconds; every duration below must be a whole number of bins.
    pre_cue : float or (float, float), default (0.5, 2.0)
        Seconds from the trial's start to cue onset (at least one bin): fixed, or drawn per trial
        uniformly from the whole numbers of bins in ``[low, high]`` (with the cue sequence, from ``seed``).
    cue_to_movement : float, default 0.3
        Seconds from cue onset to movement onset (at least one bin).
    movement_to_outcome : float, default 0.5
        Seconds from movement onset to the outcome (at least one bin).
    post_outcome : float, default 0.5
        Seconds recorded after the outcome (0: the outcome ends the trial).
    correct, novel_from, novel_correct, novel_fraction, reward, error_reward, n_actions, seed
        As in :class:`DiscriminationTask`.

    Attributes
    ----------
    action_mask : ndarray of bool, shape (n_states, n_actions)
        True for the actions that are distinct choices in each state (all of them in movement bins,
        action 0 alone elsewhere).
    pre_bins : ndarray of int, shape (n_trials,)
        Pre-cue bins of every trial.

    Raises
    ------
    ValueError
        For a duration that is not a whole number of bins (named), or a bad parameter of
        :class:`DiscriminationTask`.

    Examples
    --------
    >>> task = TimedDiscriminationTask(n_trials=5, dt=0.1, pre_cue=0.2, cue_to_movement=0.2,
    ...                                movement_to_outcome=0.3, post_outcome=0.0, seed=0)
    >>> obs, info = task.reset()
    >>> events, done = [], False
    >>> while not done:
    ...     obs, r, done, _, info = task.step(task.correct_action(info["cue"]))
    ...     events.append((info["time"], info.get("event", ""), r))
    >>> events
    [(0.1, '', 0.0), (0.2, 'cue', 0.0), (0.3, '', 0.0), (0.4, 'movement', 0.0), (0.5, '', 0.0), (0.6, '', 0.0), (0.7, 'reward', 1.0)]
    """

    def __init__(
        self,
        n_trials: int = 400,
        *,
        dt: float = 0.1,
        pre_cue: float | tuple[float, float] = (0.5, 2.0),
        cue_to_movement: float = 0.3,
        movement_to_outcome: float = 0.5,
        post_outcome: float = 0.5,
        correct: Sequence[int] = (0, 1),
        novel_from: int | None = None,
        novel_correct: int = 0,
        novel_fraction: float = 0.5,
        reward: float = 1.0,
        error_reward: float = 0.0,
        n_actions: int = 2,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            n_trials,
            correct=correct,
            novel_from=novel_from,
            novel_correct=novel_correct,
            novel_fraction=novel_fraction,
            reward=reward,
            error_reward=error_reward,
            n_actions=n_actions,
            seed=seed,
        )
        try:
            step = float(dt)
        except (TypeError, ValueError):
            step = math.nan
        if not (np.isfinite(step) and step > 0.0):
            raise ValueError(f"dt must be a number of seconds > 0, got {shown(dt)}")
        self.dt = step
        if isinstance(pre_cue, tuple | list):
            if len(pre_cue) != 2:
                raise ValueError(f"pre_cue must be seconds or a (low, high) pair, got {shown(pre_cue)}")
            low, high = _bins(pre_cue[0], step, "pre_cue[0]", 1), _bins(pre_cue[1], step, "pre_cue[1]", 1)
            if high < low:
                raise ValueError(f"pre_cue must be (low, high) with low <= high, got {shown(pre_cue)}")
        else:
            low = high = _bins(pre_cue, step, "pre_cue", 1)
        self._pre_range = (low, high)
        self.n_wait = _bins(cue_to_movement, step, "cue_to_movement", 1) - 1  # cue bins before the movement's
        self.n_travel = _bins(movement_to_outcome, step, "movement_to_outcome", 1)
        self.n_post = _bins(post_outcome, step, "post_outcome", 0)
        c, na = self.n_cues, self.n_actions
        self._cue0 = 1  # state 0: the pre-cue (inter-trial) state; then n_wait + 1 bins per cue
        self._travel0 = self._cue0 + c * (self.n_wait + 1)
        self._post0 = self._travel0 + c * na * self.n_travel
        self._terminal = self._post0 + self.n_post
        self.n_states = self._terminal + 1
        self.observation_space = gym.spaces.Discrete(self.n_states)
        mask = np.zeros((self.n_states, na), dtype=bool)
        mask[:, 0] = True
        mask[[self.movement_state(i) for i in range(c)]] = True
        self.action_mask = mask
        self.pre_bins = self._draw_pre_bins(seed)
        self._bin, self._state, self._action = 0, 0, -1

    def _draw_pre_bins(self, seed: int | None):
        low, high = self._pre_range
        rng = np.random.default_rng(None if seed is None else [int(seed), 1])
        return rng.integers(low, high + 1, size=self.n_trials).astype(np.int64)

    def movement_state(self, cue: int) -> int:
        """The state (bin) in which cue ``cue``'s movement is chosen.

        Examples
        --------
        >>> task = TimedDiscriminationTask(n_trials=2, cue_to_movement=0.3)
        >>> [task.movement_state(c) for c in (0, 1)], bool(task.action_mask[task.movement_state(0)].all())
        ([3, 6], True)
        """
        return self._cue0 + int(cue) * (self.n_wait + 1) + self.n_wait

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Start the next trial in its first pre-cue bin (``seed`` restarts the session)."""
        _, info = super().reset(seed=seed, options=options)
        if seed is not None:
            self.pre_bins = self._draw_pre_bins(seed)
        self._n_pre = int(self.pre_bins[self._trial])
        self._bin, self._state, self._action = 0, 0, -1
        return 0, {**info, "time": 0.0}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        """Advance one bin; the action counts only in the movement bin (elsewhere it means "wait")."""
        a = int(action)
        if not 0 <= a < self.n_actions:
            raise ValueError(f"action {shown(action)} is out of range 0..{self.n_actions - 1}")
        k, cue, n_pre = self._bin, self._cue, self._n_pre
        info: dict[str, Any] = {"cue": cue, "time": round((k + 1) * self.dt, 12)}
        r = 0.0
        j = k - n_pre  # bins since cue onset
        if k < n_pre - 1:
            nxt = 0
        elif k == n_pre - 1:  # into the first cue bin
            nxt, info["event"] = self._cue0 + cue * (self.n_wait + 1), "cue"
        elif j == self.n_wait:  # out of the movement bin: the choice
            self._action = a
            info["event"], info["correct"] = "movement", a == self._correct[cue]
            nxt = self._travel0 + (cue * self.n_actions + a) * self.n_travel
        elif j == self.n_wait + self.n_travel:  # into the outcome
            correct = self._action == self._correct[cue]
            r = self.reward if correct else self.error_reward
            info["event"], info["correct"] = "reward", bool(correct)
            nxt = self._post0
        else:  # waiting before the movement, travelling to the outcome, after it
            nxt = self._state + 1
        self._bin, self._state = k + 1, nxt
        return nxt, float(r), nxt == self._terminal, False, info
