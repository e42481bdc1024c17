r"""Classical (Pavlovian) conditioning as an episodic, gymnasium-style task: one episode = one trial.

A trial is a sequence of ``n_bins`` time bins of width ``dt``. The observation in bin ``t`` is the
feature vector ``x_t`` of the chosen representation (all cues concatenated). Bin 0 .. ``onset - 1`` is
the pre-cue (inter-trial) period with ``x = 0``, so its value is 0 whatever was learnt: cue onsets are
unpredictable, as in the TD models of Schultz, Dayan & Montague (1997).

Timing conventions (``step`` number ``t`` is the transition from bin ``t`` to bin ``t + 1``; its reward
is the reward *of* bin ``t + 1``):

- the first cue group comes on in bin ``onset = round(cue_onset / dt)``, later serial groups
  ``round(serial_gap / dt)`` bins apart; each cue stays on until the next serial group (or the reward
  time): delay conditioning;
- the reward bin is ``round(isi / dt)`` bins after the last cue onset (after the nominal onset for an
  uncued reward ``"+"``); the reward is received on the step that enters it;
- every trial of a task has the same length: the longest reward time plus ``round(post_reward / dt)``
  bins; the step out of the last bin terminates the episode (terminal features ``x = 0``, ``V = 0``).

A protocol fixes these bins per trial type; a lab's session (:class:`~dopasoft.tasks.conditioning.Session`,
one row per trial, run in file order) may set the cue onset, the reward time (from the first cue onset),
the reward size and whether the reward was delivered per trial, so every trial has its own
:class:`TrialTiming`.

The step ``info`` carries ``time`` (seconds of the entered bin relative to the first cue onset),
``bin`` and ``event``: ``"cue"`` on the step entering the first cue-onset bin, ``"cue2"``, ... for later
serial onsets, ``"reward"`` on the step entering the reward bin (also when the reward is omitted or the
trial is a probe). The reset ``info`` carries ``phase``, ``trial_type``, ``learn`` (False on probe trials)
and ``rewarded``.

The Pavlovian task has a single action, so Soft Q(λ) is TD(λ) there (``V = Q``; ``tau`` is irrelevant).
:class:`InstrumentalConditioningTask` adds a lick/withhold choice, so that the soft terms matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from dopasoft._memory import require_memory
from dopasoft._messages import shown
from dopasoft.tasks.conditioning.protocols import (
    Protocol,
    TrialType,
    get_protocol,
    parse_trial_type,
)
from dopasoft.tasks.conditioning.representations import Representation, make_representation
from dopasoft.tasks.conditioning.reward_timing import BeliefState
from dopasoft.tasks.conditioning.session import Session

__all__ = ["ConditioningTask", "InstrumentalConditioningTask", "TrialTiming", "cue_value"]


@dataclass(frozen=True)
class TrialTiming:
    """Bins of one trial: cue ``(onset, offset)`` per cue letter, onset bins and reward bin."""

    cues: dict[str, tuple[int, int]]
    onsets: tuple[int, ...]
    reward_bin: int


def _bins(seconds: float, dt: float, name: str, minimum: int) -> int:
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of seconds, got {shown(seconds)}") from None
    n = int(round(value / dt))
    if not np.isfinite(value) or n < minimum:
        raise ValueError(f"{name} must be at least {minimum} bin(s) of dt={dt:g} s, got {shown(seconds)}")
    return n


def trial_timing(
    trial_type: TrialType, onset: int, isi: int, gap: int, reward_bin: int | None = None
) -> TrialTiming:
    """Onset/offset bins of each cue and the reward bin of a trial (pure function of bin counts).

    The reward bin is ``isi`` bins after the last cue onset unless ``reward_bin`` is given (a session's
    own reward time); the last cue group stays on until the reward bin.
    """
    n_groups = max(1, len(trial_type.groups))
    onsets = tuple(onset + g * gap for g in range(n_groups))
    if reward_bin is None:
        reward_bin = onsets[-1] + isi
    cues: dict[str, tuple[int, int]] = {}
    for g, group in enumerate(trial_type.groups):
        offset = onsets[g + 1] if g + 1 < n_groups else reward_bin
        for cue in group:
            cues[cue] = (onsets[g], offset)
    return TrialTiming(cues, onsets, reward_bin)


class ConditioningTask(gym.Env):
    r"""A Pavlovian protocol run trial by trial (single action; TD(λ) for Soft Q(λ)).

    Parameters
    ----------
    protocol : str, Protocol or Session, default "acquisition"
        A shipped protocol name (see :data:`dopasoft.tasks.conditioning.PROTOCOLS`), a
        :class:`Protocol` built with :func:`make_protocol`, or a lab's :class:`Session` (rows in file
        order, each with its own timing; its times override ``cue_onset`` and ``isi`` where given).
    representation : {"csc", "presence", "microstimuli"}, Representation or BeliefState, default "csc"
        A :class:`~dopasoft.tasks.conditioning.BeliefState` (one-cue protocols or sessions) makes the
        observation of each bin the posterior over hidden states, built per trial from its outcome.
    dt : float, default 0.25
        Bin width in seconds (the learner's discount and trace are per second:
        :func:`~dopasoft.experiments.conditioning.conditioning_agent`).
    cue_onset : float, default 1.0
        Time of the first cue onset after trial start (>= one bin: the pre-cue state precedes it).
    isi : float, default 1.5
        Interval from the last cue onset to the reward (>= one bin); a session's ``reward_time`` column
        replaces it.
    post_reward : float, default 0.5
        Time after the latest reward time before the trial ends.
    serial_gap : float, default 1.0
        Interval between the onsets of serial cue groups (``"B>A-"``).
    seed : int, optional
        Seed of the trial order and reward draws (``reset(seed=...)`` reseeds both).

    Attributes
    ----------
    n_features : int
        Length of the observation vectors: give it to ``SoftQLambda(n_features, 1, linear=True, ...)``.
    n_trials : int
        Trials in the protocol (episodes before the session is over).
    n_bins : int
        Bins (= steps) per trial.
    feature_names : list of str
        ``"<cue>:<label>"`` per feature.
    timings : dict of str to TrialTiming
        Bins of each trial type of a protocol (empty for a session).
    trial_timings : list of TrialTiming or None
        Bins of each trial of a session, in file order (None for a protocol).
    session : Session or None
        The lab's session the task runs, if any.

    Examples
    --------
    >>> task = ConditioningTask("blocking")
    >>> task.n_trials, task.n_bins, task.n_features
    (420, 13, 26)
    """

    metadata: dict[str, Any] = {"render_modes": []}
    n_actions = 1

    def __init__(
        self,
        protocol: str | Protocol | Session = "acquisition",
        *,
        representation: str | Representation = "csc",
        dt: float = 0.25,
        cue_onset: float = 1.0,
        isi: float = 1.5,
        post_reward: float = 0.5,
        serial_gap: float = 1.0,
        seed: int | None = None,
    ) -> None:
        self.session = protocol if isinstance(protocol, Session) else None
        self.protocol = self.session if self.session is not None else get_protocol(protocol)
        self.representation = (
            representation if isinstance(representation, BeliefState) else make_representation(representation)
        )
        self._belief = isinstance(self.representation, BeliefState)
        if not (isinstance(dt, int | float) and np.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a positive number of seconds, got {shown(dt)}")
        self.dt = float(dt)
        self.onset_bin = _bins(cue_onset, self.dt, "cue_onset", 1)
        self.isi_bins = _bins(isi, self.dt, "isi", 1)
        self.post_bins = _bins(post_reward, self.dt, "post_reward", 0)
        self.gap_bins = _bins(serial_gap, self.dt, "serial_gap", 1)
        self.cues = self.protocol.cues
        if self._belief and (
            len(self.cues) != 1 or any(len(tt.groups) != 1 for tt in self.protocol.trial_types)
        ):
            raise ValueError(
                "the belief-state representation models one cue followed by a reward; protocol "
                f"{self.protocol.name!r} has cues {''.join(self.cues) or '(none)'} and trial types "
                f"{[tt.name for tt in self.protocol.trial_types]}"
            )
        # bins per trial type (protocols: every trial of a type has the same bins) or per trial (sessions;
        # then ``timings`` is empty and ``trial_timings`` holds one TrialTiming per row)
        self.timings = (
            {
                tt.name: trial_timing(tt, self.onset_bin, self.isi_bins, self.gap_bins)
                for tt in self.protocol.trial_types
            }
            if self.session is None
            else {}
        )
        self.trial_timings = None if self.session is None else self._session_timings(self.session)
        latest = self.trial_timings if self.trial_timings is not None else list(self.timings.values())
        self.n_bins = max(t.reward_bin for t in latest) + 1 + self.post_bins
        if self._belief:  # one belief vector per bin, whatever the cue
            self.n_per_cue = self.representation.n_features(self.dt)
            self.n_features = self.n_per_cue
        else:
            self.n_per_cue = self.representation.n_per_cue(self.n_bins)
            self.n_features = max(1, len(self.cues) * self.n_per_cue)
        if self.session is None:
            # one (n_bins, n_features) matrix per trial type: refuse a grid that cannot fit in memory
            require_memory(
                8.0 * self.n_bins * self.n_features * max(1, len(self.protocol.trial_types)),
                f"dt={self.dt:g} s with isi={shown(isi)} s (trials of {self.n_bins} bins, {self.n_features} "
                f"features with the {self.representation.name!r} representation)",
                "use a larger dt or shorter intervals (isi, cue_onset, post_reward, serial_gap)",
            )
        else:
            self._require_session_memory(self.session)
        if self._belief:
            self.feature_names = self.representation.labels(self.dt)
        else:
            self.feature_names = [
                f"{c}:{label}" for c in self.cues for label in self.representation.labels(self.n_bins, dt)
            ] or ["none"]
        # a session's trials may each have their own bins, and a belief depends on the outcome: their
        # features are built at reset
        self._features = (
            {tt.name: self.trial_features(tt) for tt in self.protocol.trial_types}
            if self.session is None and not self._belief
            else {}
        )
        self.n_trials = self.protocol.n_trials
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(self.n_features,), dtype=np.float64)
        self.action_space = gym.spaces.Discrete(self.n_actions)
        self._seed = seed
        self._schedule: list[tuple[str, TrialType]] | None = None
        self._trial = -1
        self._t = 0
        self._current: TrialType | None = None
        self._timing: TrialTiming | None = None
        self._trial_x: NDArray[np.float64] | None = None
        self._reward_size = 0.0
        self._rewarded = False

    def _session_timings(self, session: Session) -> list[TrialTiming]:
        """Bins of every row of a session; rows whose times do not fit the grid are named."""
        out = []
        for i, tt in enumerate(session.types):
            onset = self.onset_bin
            if session.cue_onset is not None:
                onset = int(round(session.cue_onset[i] / self.dt))
                if onset < 1:
                    raise ValueError(
                        f"{session.where(i, 'cue_onset')}: {session.cue_onset[i]:g} s is less than one bin "
                        f"(dt={self.dt:g} s) after the trial start; the pre-cue state needs at least one bin"
                    )
            reward_bin = None
            if session.reward_time is not None:
                reward_bin = onset + int(round(session.reward_time[i] / self.dt))
                last = onset + (max(1, len(tt.groups)) - 1) * self.gap_bins
                if tt.groups and reward_bin <= last:
                    which = (
                        "cue onset"
                        if len(tt.groups) == 1
                        else f"last cue onset ({(last - onset) * self.dt:g} s)"
                    )
                    raise ValueError(
                        f"{session.where(i, 'reward_time')}: the reward at {session.reward_time[i]:g} s after "
                        f"the first cue onset is not after the {which} of {tt.name!r}; it must come at least "
                        f"one bin (dt={self.dt:g} s) after it"
                    )
            out.append(trial_timing(tt, onset, self.isi_bins, self.gap_bins, reward_bin))
        return out

    def _require_session_memory(self, session: Session) -> None:
        """Refuse trials too long for memory, naming the row that sets their length."""
        i = int(np.argmax([t.reward_bin for t in self.trial_timings]))
        if session.reward_time is not None:
            where = f"{session.where(i, 'reward_time')}: {session.reward_time[i]:g} s"
        elif session.cue_onset is not None:
            where = f"{session.where(i, 'cue_onset')}: {session.cue_onset[i]:g} s"
        else:
            where = f"{session.name}: dt={self.dt:g} s"
        # the current trial's (n_bins, n_features) matrix, the agent's weights of the same order, and
        # the simulation's step table (about 200 bytes a step, as dopasoft simulate measures it)
        require_memory(
            16.0 * self.n_bins * self.n_features + 200.0 * session.n_trials * self.n_bins,
            f"{where} makes trials of {self.n_bins} bins ({self.n_features} features with the "
            f"{self.representation.name!r} representation), which",
            "times are in seconds (milliseconds?); otherwise use a larger dt",
        )

    # -- features ----------------------------------------------------------------------------------
    def trial_features(self, trial_type: TrialType, timing: TrialTiming | None = None) -> NDArray[np.float64]:
        """Observation matrix ``(n_bins, n_features)`` of a trial type (with the task's default bins,
        or with ``timing``)."""
        if timing is None:
            timing = trial_timing(trial_type, self.onset_bin, self.isi_bins, self.gap_bins)
        if self._belief:  # the belief on a trial whose reward comes at its time
            return self.representation.trial_features(
                timing.onsets[0], timing.reward_bin, self.n_bins, self.dt
            )
        x = np.zeros((self.n_bins, self.n_features))
        for i, cue in enumerate(self.cues):
            if cue in timing.cues:
                on, off = timing.cues[cue]
                block = self.representation.cue_features(on, off, self.n_bins, dt=self.dt)
                x[:, i * self.n_per_cue : (i + 1) * self.n_per_cue] = block
        return x

    def onset_features(self, cues: str) -> NDArray[np.float64]:
        """Observation at the onset of a (compound of) cue(s), e.g. ``"A"`` or ``"AB"``."""
        unknown = [c for c in cues if c not in self.cues]
        if unknown or not cues:
            raise ValueError(f"cue(s) {cues!r} not in this protocol; its cues are {''.join(self.cues)}")
        return self.trial_features(parse_trial_type(cues + "?"))[self.onset_bin]

    # -- gymnasium interface -----------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float64], dict[str, Any]]:
        """Start the next trial of the protocol (``seed`` restarts the session from trial 0)."""
        if seed is None and self._schedule is None:
            seed = self._seed
        super().reset(seed=seed)
        if seed is not None or self._schedule is None:
            self._schedule = self.protocol.schedule(self.np_random)
            self._trial = -1
        self._trial += 1
        if self._trial >= len(self._schedule):
            raise ValueError(
                f"protocol {self.protocol.name!r} has only {len(self._schedule)} trials; "
                "call reset(seed=...) to start a new session"
            )
        phase, tt = self._schedule[self._trial]
        self._current = tt
        session = self.session
        self._timing = self.timings[tt.name] if session is None else self.trial_timings[self._trial]
        self._reward_size = float(tt.reward)
        if session is not None and session.reward is not None and tt.reinforced:
            self._reward_size = float(session.reward[self._trial])
        if session is not None and session.rewarded is not None:
            self._rewarded = bool(session.rewarded[self._trial])  # the lab's outcome, no draw
        else:
            self._rewarded = tt.reinforced and bool(self.np_random.random() < tt.reward_prob)
        if self._belief:
            reward_bin = self._timing.reward_bin if self._rewarded else None
            self._trial_x = self.representation.trial_features(
                self._timing.onsets[0], reward_bin, self.n_bins, self.dt
            )
        elif session is None:
            self._trial_x = self._features[tt.name]
        else:
            self._trial_x = self.trial_features(tt, self._timing)
        self._t = 0
        info = {
            "phase": phase,
            "trial_type": tt.name,
            "learn": tt.learn,
            "rewarded": self._rewarded,
        }
        return self._trial_x[0].copy(), info

    def _reward(self, action: int, entered: int, reward_bin: int) -> float:
        """Reward of entering bin ``entered`` after ``action``."""
        if entered == reward_bin and self._rewarded:
            return self._reward_size
        return 0.0

    def step(self, action: int) -> tuple[NDArray[np.float64], float, bool, bool, dict[str, Any]]:
        """Advance one bin; the reward of the entered bin is returned."""
        if self._current is None:
            raise RuntimeError("call reset() before step()")
        if not 0 <= int(action) < self.n_actions:
            raise ValueError(f"action must be in 0..{self.n_actions - 1}, got {shown(action)}")
        if self._t >= self.n_bins:
            raise RuntimeError("the trial is over; call reset()")
        timing = self._timing
        entered = self._t + 1
        reward = self._reward(int(action), entered, timing.reward_bin)
        terminated = entered == self.n_bins
        obs = np.zeros(self.n_features) if terminated else self._trial_x[entered].copy()
        self._t = entered
        info = {
            "bin": entered,
            "time": round((entered - timing.onsets[0]) * self.dt, 10),
            "event": _event(entered, timing),
        }
        return obs, reward, terminated, False, info


def _event(entered: int, timing: TrialTiming) -> str:
    """Name of the event in bin ``entered``: ``cue``, ``cue2``.., ``reward`` or ``""``."""
    if entered == timing.reward_bin:
        return "reward"
    if entered in timing.onsets:
        g = timing.onsets.index(entered)
        return "cue" if g == 0 else f"cue{g + 1}"
    return ""


class InstrumentalConditioningTask(ConditioningTask):
    r"""Conditioning with a lick/withhold choice in every bin, so that the soft terms matter.

    Actions: 0 = withhold, 1 = lick. A scheduled reward is collected only if the agent licks on the
    step that enters the reward bin (an anticipatory lick); every lick costs ``lick_cost``. Pair with
    ``SoftQLambda(task.n_features, 2, linear=True, prior=task.default_policy, ...)``: the default policy
    :math:`\pi_0 = (1 - p_\text{lick}, p_\text{lick})` is the animal's baseline licking.

    Parameters
    ----------
    protocol, representation, dt, cue_onset, isi, post_reward, serial_gap, seed
        As :class:`ConditioningTask`.
    lick_cost : float, default 0.05
        Cost subtracted from the reward of each lick (>= 0).
    p_lick : float, default 0.2
        Baseline lick probability of the default policy, in (0, 1).

    Examples
    --------
    >>> from dopasoft.experiments import simulate_conditioning
    >>> from dopasoft.tasks import InstrumentalConditioningTask
    >>> task = InstrumentalConditioningTask("acquisition", lick_cost=0.05, p_lick=0.2)
    >>> task.n_actions, task.default_policy.round(2).tolist()
    (2, [0.8, 0.2])
    >>> result = simulate_conditioning("acquisition", instrumental=True, seed=0)
    >>> bool(result.trials["cue_rpe"].iloc[-20:].mean() > result.trials["cue_rpe"].iloc[:5].mean())
    True
    """

    n_actions = 2

    def __init__(
        self,
        protocol: str | Protocol | Session = "acquisition",
        *,
        lick_cost: float = 0.05,
        p_lick: float = 0.2,
        **kwargs: Any,
    ) -> None:
        super().__init__(protocol, **kwargs)
        if not (np.isfinite(lick_cost) and lick_cost >= 0):
            raise ValueError(f"lick_cost must be >= 0, got {shown(lick_cost)}")
        if not 0.0 < p_lick < 1.0:
            raise ValueError(f"p_lick must be in (0, 1), got {shown(p_lick)}")
        self.lick_cost = float(lick_cost)
        self.default_policy = np.array([1.0 - p_lick, p_lick])

    def _reward(self, action: int, entered: int, reward_bin: int) -> float:
        scheduled = super()._reward(action, entered, reward_bin)
        return (scheduled if action == 1 else 0.0) - self.lick_cost * action


def cue_value(agent: Any, task: ConditioningTask, cues: str) -> float:
    r"""Learnt value of a cue (or compound) at its onset, :math:`V(x_\text{onset})`.

    With the pre-cue state's value 0, the RPE at the onset of the cue presented alone is
    :math:`\gamma V(x_\text{onset})`. For the single-action task and the CSC representation this is the
    weight of the cue's first CSC feature.

    Parameters
    ----------
    agent : SoftQLambda
        A linear learner trained on ``task`` (:func:`dopasoft.experiments.conditioning_agent`).
    task : ConditioningTask
        The task whose stimulus representation gives the onset features.
    cues : str
        The cue or compound, such as ``"A"`` or ``"AB"``.

    Examples
    --------
    >>> import dopasoft as ds
    >>> from dopasoft.experiments import conditioning_agent
    >>> from dopasoft.tasks import ConditioningTask, cue_value
    >>> task = ConditioningTask("acquisition")
    >>> agent = conditioning_agent(task)
    >>> cue_value(agent, task, "A")  # before training
    0.0
    >>> _ = ds.simulate(agent, task, 100, seed=0)
    >>> bool(0.5 < cue_value(agent, task, "A") <= 1.0)  # after: close to the discounted reward
    True
    """
    return float(agent.value(task.onset_features(cues)))
