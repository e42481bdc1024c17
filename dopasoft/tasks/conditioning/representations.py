r"""Stimulus representations for temporal-difference models of conditioning.

Each representation turns the onset and offset bins of one cue into a block of features over the bins
of a trial, ``(n_bins, n_per_cue)``; a trial's feature matrix is the horizontal concatenation of the
blocks of all cues of the task (zeros for cues not presented). All are pure functions of the timing.

With ``k = t - onset`` the number of bins since the cue's onset (features are zero for ``k < 0``):

- complete serial compound (CSC; Sutton & Barto 1990, Schultz, Dayan & Montague 1997): one feature per
  time since onset, :math:`x_j(t) = [k = j]`, ``j = 0 .. n_per_cue - 1`` (it runs on after the cue's
  offset, so trace-conditioning intervals are timed as well);
- presence: one feature, :math:`x(t) = [\mathrm{onset} \le t < \mathrm{offset}]`;
- microstimuli (Ludvig, Sutton & Kehoe 2008): a memory trace that decays from 1 at onset,
  :math:`y(k) = d_1^{k\Delta}` (:math:`d_1` per second, :math:`\Delta` the bin width), read through ``m`` Gaussian basis functions on the trace *height*, each scaled by
  the height,

  .. math:: x_i(t) = y(k)\,\frac{1}{\sqrt{2\pi}}\exp\!\Big(-\frac{(y(k) - i/m)^2}{2\sigma^2}\Big),
     \quad i = 1..m,

  so that later microstimuli are weaker and wider in time; optionally with the presence feature
  appended (Ludvig, Sutton & Kehoe 2012).

References
----------
Sutton, R. S. & Barto, A. G. (1990). Time-derivative models of Pavlovian reinforcement. In *Learning and
Computational Neuroscience*. MIT Press.
Ludvig, E. A., Sutton, R. S. & Kehoe, E. J. (2008). Stimulus representation and the timing of
reward-prediction errors in models of the dopamine system. *Neural Computation* 20, 3034–3054.
Ludvig, E. A., Sutton, R. S. & Kehoe, E. J. (2012). Evaluating the TD model of classical conditioning.
*Learning & Behavior* 40, 305–319.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dopasoft._messages import shown

__all__ = [
    "Representation",
    "CompleteSerialCompound",
    "Presence",
    "Microstimuli",
    "make_representation",
    "REPRESENTATIONS",
]


class Representation(ABC):
    """Base class: ``n_per_cue(n_bins)`` and ``cue_features(onset, offset, n_bins, dt)`` (the task passes its
    bin width ``dt`` in seconds as a keyword; a representation with time constants uses it)."""

    name = "representation"

    @abstractmethod
    def n_per_cue(self, n_bins: int) -> int:
        """Number of features one cue needs in a trial of ``n_bins`` bins."""

    @abstractmethod
    def cue_features(self, onset: int, offset: int, n_bins: int, dt: float = 0.25) -> NDArray[np.float64]:
        """Features ``(n_bins, n_per_cue)`` of a cue on during bins ``[onset, offset)`` (bins of ``dt`` s)."""

    def labels(self, n_bins: int, dt: float) -> list[str]:
        """Short labels of one cue's features (joined with the cue letter by the task)."""
        return [f"f{j}" for j in range(self.n_per_cue(n_bins))]


@dataclass(frozen=True)
class CompleteSerialCompound(Representation):
    """One feature per bin since the cue's onset (a tapped delay line), up to the end of the trial."""

    name = "csc"

    def n_per_cue(self, n_bins: int) -> int:  # noqa: D102
        return n_bins

    def cue_features(self, onset: int, offset: int, n_bins: int, dt: float = 0.25) -> NDArray[np.float64]:  # noqa: D102
        x = np.zeros((n_bins, n_bins))
        k = np.arange(n_bins - onset)
        x[onset + k, k] = 1.0
        return x

    def labels(self, n_bins: int, dt: float) -> list[str]:  # noqa: D102
        return [f"{j * dt:.2f}s" for j in range(n_bins)]


@dataclass(frozen=True)
class Presence(Representation):
    """A single feature equal to 1 while the cue is on."""

    name = "presence"

    def n_per_cue(self, n_bins: int) -> int:  # noqa: D102
        return 1

    def cue_features(self, onset: int, offset: int, n_bins: int, dt: float = 0.25) -> NDArray[np.float64]:  # noqa: D102
        x = np.zeros((n_bins, 1))
        x[onset:offset, 0] = 1.0
        return x

    def labels(self, n_bins: int, dt: float) -> list[str]:  # noqa: D102
        return ["on"]


@dataclass(frozen=True)
class Microstimuli(Representation):
    r"""Ludvig, Sutton & Kehoe (2008) microstimuli.

    Parameters
    ----------
    n_micro : int, default 6
        Number ``m`` of basis functions (centres ``i/m`` of the trace height, ``i = 1..m``).
    sigma : float, default 0.08
        Width of the basis functions (in trace-height units).
    decay_per_s : float, default 0.85 ** 4 = 0.522
        Memory-trace decay per second, ``y = decay_per_s ** (seconds since onset)``, so the trace is the
        same function of time at any bin width (0.85 per 0.25-s bin: it halves in about 1 s). Ludvig et
        al. used 0.985 per 5-ms step (0.05 per s).
    presence : bool, default False
        Append the presence feature (Ludvig et al. 2012).
    decay : None
        Refused: a decay per bin would change with the bin width; give ``decay_per_s``.
    """

    n_micro: int = 6
    sigma: float = 0.08
    decay_per_s: float = 0.85**4
    presence: bool = False
    decay: float | None = None
    name = "microstimuli"

    def __post_init__(self) -> None:
        if self.decay is not None:
            raise ValueError(
                f"decay={self.decay!r} is per bin and would change with dt; give decay_per_s, the decay per "
                f"second (per 0.25-s bin it is decay_per_s ** 0.25; decay={self.decay!r} at 0.25 s is "
                f"decay_per_s={float(self.decay) ** 4:.4g})"
            )
        if isinstance(self.n_micro, bool) or not isinstance(self.n_micro, int) or self.n_micro < 1:
            raise ValueError(f"n_micro must be a positive integer, got {shown(self.n_micro)}")
        if not self.sigma > 0:
            raise ValueError(f"sigma must be > 0, got {shown(self.sigma)}")
        if not 0.0 < self.decay_per_s < 1.0:
            raise ValueError(f"decay_per_s must be in (0, 1), got {shown(self.decay_per_s)}")

    def n_per_cue(self, n_bins: int) -> int:  # noqa: D102
        return self.n_micro + int(self.presence)

    def cue_features(self, onset: int, offset: int, n_bins: int, dt: float = 0.25) -> NDArray[np.float64]:  # noqa: D102
        x = np.zeros((n_bins, self.n_per_cue(n_bins)))
        y = self.decay_per_s ** (np.arange(n_bins - onset, dtype=float) * dt)
        x[onset:, : self.n_micro] = microstimulus_basis(y, self.n_micro, self.sigma)
        if self.presence:
            x[onset:offset, -1] = 1.0
        return x

    def labels(self, n_bins: int, dt: float) -> list[str]:  # noqa: D102
        out = [f"ms{i}" for i in range(1, self.n_micro + 1)]
        return out + (["on"] if self.presence else [])


def microstimulus_basis(trace: NDArray, n_micro: int, sigma: float) -> NDArray[np.float64]:
    r"""Microstimulus levels for memory-trace heights ``trace``.

    Returns an array ``(len(trace), n_micro)`` with
    :math:`x_i = y \exp(-(y - i/m)^2 / 2\sigma^2) / \sqrt{2\pi}` (Ludvig et al. 2008, eq. 2).
    """
    y = np.asarray(trace, dtype=float)[:, None]
    centres = np.arange(1, n_micro + 1) / n_micro
    return y * np.exp(-((y - centres) ** 2) / (2.0 * sigma**2)) / np.sqrt(2.0 * np.pi)


REPRESENTATIONS = ("csc", "presence", "microstimuli")


def make_representation(spec: str | Representation) -> Representation:
    """Return a representation from its name (``"csc"``, ``"presence"``, ``"microstimuli"``) or as is.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.
    """
    if isinstance(spec, Representation):
        return spec
    makers = {"csc": CompleteSerialCompound, "presence": Presence, "microstimuli": Microstimuli}
    if spec in ("belief-state", "semi-markov"):
        raise ValueError(
            f"the {spec!r} model needs the task's reward-time distribution: use "
            f"simulate_conditioning('variable-delay', representation={spec!r}, ...), or "
            "ConditioningTask(..., representation=BeliefState(delays=..., p_reward=...))"
            if spec == "belief-state"
            else f"the {spec!r} model needs the task's reward-time distribution: use "
            f"simulate_conditioning('variable-delay', representation={spec!r}, ...)"
        )
    if spec not in makers:
        raise ValueError(
            f"unknown representation {spec!r}; valid representations: {', '.join(REPRESENTATIONS)}"
        )
    return makers[spec]()
