r"""Uncertain reward timing: the variable-delay protocol and the belief-state representation.

The variable-delay protocol (Starkweather et al. 2017) pairs one odour cue with a reward whose delay
from cue onset is drawn on every trial from a bell-shaped distribution over 1.2–2.8 s; in one task the
reward always comes (``p_reward=1``), in the other it is omitted on 10 % of trials (``p_reward=0.9``).
It is built as a :class:`~dopasoft.tasks.conditioning.Session` (one row per trial with its own
``reward_time`` and ``rewarded``), so the per-trial output keeps the delay of every trial.

The belief-state representation (Daw, Courville & Touretzky 2006; Starkweather et al. 2017) is the
posterior over hidden states given the observations so far. Hidden states: ``ISI_k`` (``k`` bins since
the cue, outcome not yet come) for ``k = 0 .. K-1`` and ``ITI``. With the delay ``D`` in bins,
:math:`S(k) = P(D > k)` and the hazard :math:`h_k = P(D = k+1) / S(k)`, an unrewarded bin updates the
belief :math:`b` by Bayes' rule,

.. math::
    b'(\mathrm{ISI}_{k+1}) \propto b(\mathrm{ISI}_k)\,(1 - h_k), \qquad
    b'(\mathrm{ITI}) \propto b(\mathrm{ITI}) + (1 - p)\textstyle\sum_k b(\mathrm{ISI}_k)\,h_k ,

(:math:`p` = ``p_reward``: the outcome came and was an omission), a cue sets :math:`b = \mathrm{ISI}_0`
and a reward sets :math:`b = \mathrm{ITI}`. After ``j`` unrewarded bins since the cue,
:math:`b(\mathrm{ISI}_j) = S(j) / (S(j) + (1-p)(1 - S(j)))`. The belief is the feature vector of a linear
TD learner, :math:`V(b) = w^\top b`, :math:`\delta = r + \gamma V(b') - V(b)`,
:math:`w \leftarrow w + \alpha\delta b` (the learner of every representation: ``SoftQLambda(...,
linear=True)``).

References
----------
Starkweather, C. K., Babayan, B. M., Uchida, N. & Gershman, S. J. (2017). Dopamine reward prediction
errors reflect hidden-state inference across time. *Nature Neuroscience* 20, 581–589.
Daw, N. D., Courville, A. C. & Touretzky, D. S. (2006). Representation and timing in theories of the
dopamine system. *Neural Computation* 18, 1637–1677.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from dopasoft._messages import shown
from dopasoft.tasks.conditioning.session import Session, make_session

__all__ = [
    "STARKWEATHER_DELAYS",
    "BeliefState",
    "starkweather_delay_probs",
    "variable_delay_session",
]

STARKWEATHER_DELAYS = (1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4, 2.6, 2.8)
"""Cue-to-reward delays (s) of Starkweather et al. (2017): nine delays from 1.2 to 2.8 s."""


def starkweather_delay_probs(delays: Sequence[float] = STARKWEATHER_DELAYS) -> NDArray[np.float64]:
    """Bell-shaped probabilities of the delays: a normal density (mean 2 s, sd 0.5 s) at each delay, normalised.

    Starkweather et al. (2017) drew the delay from a bell-shaped distribution over 1.2–2.8 s; these
    weights have that shape (pass your own ``delay_probs`` to :func:`variable_delay_session` for another).

    Parameters
    ----------
    delays : sequence of float
        Delays in seconds.

    Returns
    -------
    ndarray
        Probabilities summing to 1.

    Examples
    --------
    >>> p = starkweather_delay_probs()
    >>> round(float(p.sum()), 12), int(np.argmax(p)), bool(np.isclose(p[0], p[-1]))
    (1.0, 4, True)
    """
    d = np.asarray(delays, dtype=float)
    w = np.exp(-0.5 * ((d - 2.0) / 0.5) ** 2)
    return w / w.sum()


def _check_delays(delays, delay_probs) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    d = np.asarray(delays, dtype=float)
    if d.ndim != 1 or d.size == 0 or not np.all(np.isfinite(d)) or np.any(d <= 0):
        raise ValueError(f"delays must be positive numbers of seconds, got {shown(delays)}")
    p = starkweather_delay_probs(d) if delay_probs is None else np.asarray(delay_probs, dtype=float)
    if p.shape != d.shape:
        raise ValueError(
            f"delay_probs must have one probability per delay ({d.size}), got {shown(delay_probs)}"
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError(f"delay_probs must be probabilities summing to 1, got {shown(delay_probs)}")
    return d, p


def _check_p_reward(p_reward: float) -> float:
    if isinstance(p_reward, bool) or not isinstance(p_reward, int | float | np.number):
        raise ValueError(f"p_reward must be a probability in (0, 1], got {shown(p_reward)}")
    if not 0.0 < float(p_reward) <= 1.0:
        raise ValueError(f"p_reward must be a probability in (0, 1], got {float(p_reward):g}")
    return float(p_reward)


def variable_delay_session(
    p_reward: float = 1.0,
    *,
    n_trials: int = 300,
    delays: Sequence[float] = STARKWEATHER_DELAYS,
    delay_probs: Sequence[float] | None = None,
    probe_delays: Sequence[float] = (),
    n_probes: int = 10,
    seed: int | np.random.Generator | None = None,
) -> Session:
    """The variable-delay protocol of Starkweather et al. (2017) as a session: one row per trial.

    Every trial is cue ``A`` followed by a reward after a delay drawn from ``delays`` with
    ``delay_probs``; the reward is delivered with probability ``p_reward`` (1: their task 1; 0.9: task 2,
    10 % omissions). Optional probe trials at the end deliver the reward at each of ``probe_delays``
    (early or late, e.g. 0.6 and 3.4 s), ``n_probes`` times each, interleaved at random; they are
    learnt from like any trial.

    Parameters
    ----------
    p_reward : float, default 1.0
        Probability that a trial is rewarded, in (0, 1].
    n_trials : int, default 300
        Training trials (phase ``"training"``).
    delays, delay_probs : sequence of float
        Delays (s from cue onset) and their probabilities (default :func:`starkweather_delay_probs`).
    probe_delays : sequence of float, default ()
        Reward times of the probe trials (phase ``"probes"``), always rewarded.
    n_probes : int, default 10
        Probe trials per probe delay.
    seed : int or Generator, optional
        Draws of delays, outcomes and probe order.

    Returns
    -------
    Session
        Columns ``trial_type`` (``"A+"``), ``phase``, ``reward_time``, ``rewarded``.

    Raises
    ------
    ValueError
        For a ``p_reward`` outside (0, 1], bad delays or probabilities, or counts that are not
        positive integers.

    Examples
    --------
    >>> s = variable_delay_session(0.9, n_trials=200, seed=0)
    >>> s.n_trials, sorted(set(s.reward_time.round(1).tolist()))[:2], round(float(s.rewarded.mean()), 2)
    (200, [1.2, 1.4], 0.9)
    """
    p = _check_p_reward(p_reward)
    d, probs = _check_delays(delays, delay_probs)
    for name, value, low in (("n_trials", n_trials, 1), ("n_probes", n_probes, 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {shown(value)}")
    probe = np.asarray(probe_delays, dtype=float).reshape(-1)
    if not np.all(np.isfinite(probe)) or np.any(probe <= 0):
        raise ValueError(f"probe_delays must be positive numbers of seconds, got {shown(probe_delays)}")
    rng = np.random.default_rng(seed)
    times = rng.choice(d, size=int(n_trials), p=probs)
    rewarded = rng.random(int(n_trials)) < p
    probe_times = rng.permutation(np.repeat(probe, int(n_probes)))
    table = pd.DataFrame(
        {
            "trial_type": "A+",
            "phase": ["training"] * int(n_trials) + ["probes"] * len(probe_times),
            "reward_time": np.concatenate([times, probe_times]),
            "rewarded": np.concatenate([rewarded, np.ones(len(probe_times), dtype=bool)]).astype(int),
        }
    )
    return make_session(table, name=f"variable-delay p_reward={p:g}")


@dataclass(frozen=True)
class BeliefState:
    r"""Belief over hidden states (``ISI_k`` sub-states and ``ITI``) as the features of a trial.

    The animal's model of the task: reward delays ``delays`` (s from cue onset) with probabilities
    ``delay_probs`` and a reward on a fraction ``p_reward`` of trials. Use one cue per task (the cue
    resets the belief to ``ISI_0``). See the module docstring for the update.

    Parameters
    ----------
    delays : tuple of float
    delay_probs : tuple of float, optional
        Default: :func:`starkweather_delay_probs`.
    p_reward : float, default 1.0
        Believed probability of reward, in (0, 1].

    Examples
    --------
    >>> rep = BeliefState((1.0, 2.0), (0.5, 0.5), p_reward=0.5)
    >>> x = rep.trial_features(onset=1, reward_bin=None, n_bins=7, dt=0.5)  # an omission trial
    >>> x.round(3)[:, [0, 1, 2, 3, -1]].tolist()[:5]
    [[0.0, 0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.667, 0.0, 0.333], [0.0, 0.0, 0.0, 0.667, 0.333]]
    """

    delays: tuple[float, ...] = STARKWEATHER_DELAYS
    delay_probs: tuple[float, ...] | None = None
    p_reward: float = 1.0
    name = "belief-state"

    def __post_init__(self) -> None:
        d, p = _check_delays(self.delays, self.delay_probs)
        object.__setattr__(self, "delays", tuple(float(x) for x in d))
        object.__setattr__(self, "delay_probs", tuple(float(x) for x in p))
        object.__setattr__(self, "p_reward", _check_p_reward(self.p_reward))

    def delay_bins(self, dt: float) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Distribution of the delay in bins of ``dt``: bins (>= 1) and their probabilities."""
        bins = np.maximum(1, np.round(np.asarray(self.delays) / dt).astype(np.int64))
        values = np.unique(bins)
        probs = np.array([np.sum(np.asarray(self.delay_probs)[bins == b]) for b in values])
        return values, probs

    def hazard(self, dt: float) -> NDArray[np.float64]:
        r"""Hazard :math:`h_k = P(D = k + 1 \mid D > k)` for ``k = 0 .. K - 1`` (1 where nothing is left)."""
        values, probs = self.delay_bins(dt)
        n_isi = int(values.max())
        pmf = np.zeros(n_isi + 1)
        pmf[values] = probs
        survival = 1.0 - np.cumsum(pmf)  # S(k) = P(D > k)
        h = np.ones(n_isi)
        alive = survival[:n_isi] > 1e-12
        h[alive] = pmf[1 : n_isi + 1][alive] / survival[:n_isi][alive]
        return np.clip(h, 0.0, 1.0)

    def n_features(self, dt: float) -> int:
        """``K`` ISI sub-states (K = the longest delay in bins) and the ITI."""
        return int(self.delay_bins(dt)[0].max()) + 1

    def labels(self, dt: float) -> list[str]:
        """``"isi:<seconds since cue>"`` per sub-state, then ``"iti"``."""
        return [f"isi:{k * dt:.2f}s" for k in range(self.n_features(dt) - 1)] + ["iti"]

    def trial_features(
        self, onset: int, reward_bin: int | None, n_bins: int, dt: float
    ) -> NDArray[np.float64]:
        """Belief ``(n_bins, K + 1)`` in every bin of a trial with its cue in bin ``onset``.

        ``reward_bin`` is the bin in which the reward is observed (None on an omission trial).
        Bins before the cue are ``ITI``; a reward that the model held impossible also sets ``ITI``.
        """
        h = self.hazard(dt)
        n_isi = len(h)
        x = np.zeros((n_bins, n_isi + 1))
        x[:onset, n_isi] = 1.0
        b = np.zeros(n_isi + 1)
        b[0] = 1.0
        omit = 1.0 - self.p_reward
        for t in range(onset, n_bins):
            if t > onset:
                if reward_bin is not None and t >= reward_bin:
                    b = np.zeros(n_isi + 1)
                    b[n_isi] = 1.0
                else:
                    new = np.zeros(n_isi + 1)
                    new[1:n_isi] = b[: n_isi - 1] * (1.0 - h[: n_isi - 1])
                    new[n_isi] = b[n_isi] + omit * float(b[:n_isi] @ h)
                    total = new.sum()
                    if total > 0.0:
                        b = new / total
                    else:  # an outcome the model holds certain did not come: the trial is over
                        b = np.zeros(n_isi + 1)
                        b[n_isi] = 1.0
            x[t] = b
        return x
