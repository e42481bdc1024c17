r"""Pavlovian protocols: trial types (``"A+"``, ``"AB+"``, ``"A-"``, ``"B?"``), phases and a library.

A *trial type* is written as cue letters followed by an outcome sign:

- ``+`` reinforced (reward delivered, with probability ``p`` if given), ``-`` non-reinforced,
  ``?`` probe (no reward and **no learning**: the signals are computed but the weights are left alone);
- letters written together are presented simultaneously (``"AB+"``, a compound); ``>`` separates cues
  presented in series (``"B>A-"``: B, then A after ``serial_gap`` seconds, second-order conditioning);
- no letters (``"+"``) is a reward without any cue (an unexpected, "free" reward);
- optional tokens after the sign: ``p=0.25`` (reward probability, partial reinforcement) and ``r=2``
  (reward magnitude; 1 by default), e.g. ``"C+ p=0.5"``.

A *protocol* is an ordered tuple of phases, each a multiset of trial types that is presented in a random
(seeded) interleaved order, or in the written order when ``shuffle=False``.

References
----------
Rescorla, R. A. & Wagner, A. R. (1972). A theory of Pavlovian conditioning. In *Classical Conditioning
II*. (blocking, overshadowing, overexpectation, conditioned inhibition)
Kamin, L. J. (1969). Predictability, surprise, attention and conditioning. (blocking)
Fiorillo, C. D., Tobler, P. N. & Schultz, W. (2003). Discrete coding of reward probability and
uncertainty by dopamine neurons. *Science* 299, 1898–1902. (partial reinforcement)
Schultz, W., Dayan, P. & Montague, P. R. (1997). A neural substrate of prediction and reward.
*Science* 275, 1593–1599. (acquisition, omission, unexpected reward)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "TrialType",
    "Phase",
    "Protocol",
    "parse_trial_type",
    "make_protocol",
    "get_protocol",
    "protocol_names",
    "PROTOCOLS",
]

_TYPE_RE = re.compile(r"^(?P<cues>[A-Z>]*)(?P<outcome>[+\-?])(?P<rest>(?:\s+\S+)*)\s*$")
OUTCOMES = {"+": "reinforced", "-": "nonreinforced", "?": "probe"}


@dataclass(frozen=True)
class TrialType:
    """One kind of trial.

    Attributes
    ----------
    name : str
        The trial-type string it was parsed from, e.g. ``"AB+"``.
    groups : tuple of tuple of str
        Cue letters by onset: one group for a simultaneous compound, several for a serial one.
    outcome : {"+", "-", "?"}
        Reinforced, non-reinforced or probe.
    reward : float
        Reward magnitude on a reinforced trial.
    reward_prob : float
        Probability that a reinforced trial is actually rewarded.
    """

    name: str
    groups: tuple[tuple[str, ...], ...]
    outcome: str
    reward: float = 1.0
    reward_prob: float = 1.0

    @property
    def cues(self) -> tuple[str, ...]:
        """All cue letters, in onset order."""
        return tuple(c for g in self.groups for c in g)

    @property
    def learn(self) -> bool:
        """False on probe (``?``) trials: signals are read out, weights are not changed."""
        return self.outcome != "?"

    @property
    def reinforced(self) -> bool:
        """True when the reward is scheduled (it is then delivered with ``reward_prob``)."""
        return self.outcome == "+"


def parse_trial_type(spec: str) -> TrialType:
    """Parse a trial-type string such as ``"AB+"``, ``"A-"``, ``"B?"``, ``"B>A-"`` or ``"C+ p=0.5"``.

    Parameters
    ----------
    spec : str
        Cue letters (``A``–``Z``; ``>`` between serial cues), then ``+``, ``-`` or ``?``, then optional
        ``p=<probability>`` and ``r=<magnitude>`` tokens (reinforced trials only).

    Returns
    -------
    TrialType

    Raises
    ------
    ValueError
        On any malformed string, repeated cue, probability outside [0, 1] or non-finite magnitude.

    Examples
    --------
    >>> parse_trial_type("AB+").groups
    (('A', 'B'),)
    >>> parse_trial_type("B>A-").groups
    (('B',), ('A',))
    >>> parse_trial_type("C+ p=0.25").reward_prob
    0.25
    """
    if not isinstance(spec, str):
        raise ValueError(f"trial type must be a string like 'AB+', got {spec!r}")
    text = spec.strip()
    m = _TYPE_RE.match(text)
    if m is None:
        raise ValueError(
            f"trial type {spec!r} is malformed: expected cue letters A-Z (optionally separated by '>') "
            "followed by '+', '-' or '?', then optional 'p=...' and 'r=...'"
        )
    cue_text, outcome = m.group("cues"), m.group("outcome")
    groups: tuple[tuple[str, ...], ...] = ()
    if cue_text:
        parts = cue_text.split(">")
        if any(not p for p in parts):
            raise ValueError(f"trial type {spec!r} has an empty serial group around '>'")
        groups = tuple(tuple(p) for p in parts)
    letters = [c for g in groups for c in g]
    if len(set(letters)) != len(letters):
        raise ValueError(f"trial type {spec!r} repeats a cue")
    if not letters and outcome != "+":
        raise ValueError(f"trial type {spec!r} has no cue: only a reward without cue ('+') is allowed")
    options = _parse_options(spec, m.group("rest").split())
    if options and outcome != "+":
        raise ValueError(f"trial type {spec!r}: 'p=' and 'r=' apply to reinforced ('+') trials only")
    reward = options.get("r", 1.0)
    prob = options.get("p", 1.0)
    if not math.isfinite(reward):
        raise ValueError(f"trial type {spec!r}: reward magnitude must be finite")
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"trial type {spec!r}: reward probability p must be in [0, 1], got {prob}")
    name = ">".join("".join(g) for g in groups) + outcome
    if options:
        name += "".join(f" {k}={options[k]:g}" for k in ("p", "r") if k in options)
    return TrialType(name=name, groups=groups, outcome=outcome, reward=reward, reward_prob=prob)


def _parse_options(spec: str, tokens: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for tok in tokens:
        key, sep, value = tok.partition("=")
        if not sep or key not in ("p", "r") or key in out:
            raise ValueError(f"trial type {spec!r}: unknown or repeated option {tok!r} (use p=, r=)")
        try:
            out[key] = float(value)
        except ValueError:
            raise ValueError(f"trial type {spec!r}: option {tok!r} is not a number") from None
    return out


@dataclass(frozen=True)
class Phase:
    """A block of trials: ``(trial type, count)`` pairs, interleaved at random unless ``shuffle=False``."""

    name: str
    trials: tuple[tuple[TrialType, int], ...]
    shuffle: bool = True

    @property
    def n_trials(self) -> int:
        """Number of trials in the phase."""
        return sum(n for _, n in self.trials)

    def sequence(self, rng: np.random.Generator) -> list[TrialType]:
        """The phase's trial types in presentation order (shuffled with ``rng`` if ``shuffle``)."""
        seq = [tt for tt, n in self.trials for _ in range(n)]
        if self.shuffle:
            order = rng.permutation(len(seq))
            seq = [seq[i] for i in order]
        return seq


@dataclass(frozen=True)
class Protocol:
    """An ordered sequence of phases, with a name and a one-line description."""

    name: str
    phases: tuple[Phase, ...]
    description: str = ""

    @property
    def n_trials(self) -> int:
        """Total number of trials."""
        return sum(p.n_trials for p in self.phases)

    @property
    def cues(self) -> tuple[str, ...]:
        """Sorted cue letters used anywhere in the protocol."""
        return tuple(sorted({c for p in self.phases for tt, _ in p.trials for c in tt.cues}))

    @property
    def trial_types(self) -> tuple[TrialType, ...]:
        """Distinct trial types, in order of first appearance."""
        seen: dict[str, TrialType] = {}
        for p in self.phases:
            for tt, _ in p.trials:
                seen.setdefault(tt.name, tt)
        return tuple(seen.values())

    def schedule(self, rng: np.random.Generator) -> list[tuple[str, TrialType]]:
        """``(phase name, trial type)`` for every trial, phases in order."""
        return [(p.name, tt) for p in self.phases for tt in p.sequence(rng)]


PhaseSpec = Mapping[str, int] | Iterable[tuple[str, int]]


def make_protocol(
    name: str,
    phases: Sequence[tuple[str, PhaseSpec]],
    *,
    description: str = "",
    shuffle: bool = True,
) -> Protocol:
    """Build a protocol from ``[(phase name, {"A+": 100, "AX-": 100}), ...]``.

    Parameters
    ----------
    name : str
    phases : sequence of (str, mapping or iterable of (str, int))
        Phase names with their trial-type strings and counts (counts must be integers >= 0, and every
        phase must have at least one trial).
    description : str, optional
    shuffle : bool, default True
        Interleave the trial types of a phase in a random (seeded) order.

    Raises
    ------
    ValueError
        For a malformed trial type (the string is named), a negative or non-integer count or an empty
        protocol or phase.

    Examples
    --------
    >>> from dopasoft.tasks import make_protocol
    >>> control = make_protocol("control", [("compound", {"AB+": 50}), ("test", {"B?": 5})])
    >>> control.name
    'control'
    """
    if not phases:
        raise ValueError(f"protocol {name!r} has no phases")
    built = []
    for phase_name, spec in phases:
        items = spec.items() if isinstance(spec, Mapping) else spec
        trials = []
        for type_spec, count in items:
            if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
                raise ValueError(
                    f"phase {phase_name!r}: count of {type_spec!r} must be an integer >= 0, got {count!r}"
                )
            if count:
                trials.append((parse_trial_type(type_spec), int(count)))
        if not trials:
            raise ValueError(f"phase {phase_name!r} of protocol {name!r} has no trials")
        built.append(Phase(phase_name, tuple(trials), shuffle))
    return Protocol(name, tuple(built), description)


# -- the library ------------------------------------------------------------------------------------
_N = 200  # training trials per trial type and phase
_PROBES = 10  # probe trials per cue

_LIBRARY: dict[str, tuple[str, list[tuple[str, dict[str, int]]]]] = {
    "acquisition": (
        "A+ : cue A always followed by reward; the RPE moves from the reward to the cue.",
        [("acquisition", {"A+": _N})],
    ),
    "extinction": (
        "A+ then A- : reward omitted after training; a dip at the expected reward time.",
        [("acquisition", {"A+": _N}), ("extinction", {"A-": _N})],
    ),
    "blocking": (
        "A+ then AB+ then probes A?, B? : the pretrained A blocks learning about B (Kamin 1969).",
        [
            ("pretraining", {"A+": _N}),
            ("compound", {"AB+": _N}),
            ("test", {"A?": _PROBES, "B?": _PROBES}),
        ],
    ),
    "overshadowing": (
        "AB+ interleaved with C+ , probes A?, B?, C? : compound cues share the prediction.",
        [("training", {"AB+": _N, "C+": _N}), ("test", {"A?": _PROBES, "B?": _PROBES, "C?": _PROBES})],
    ),
    "overexpectation": (
        "A+, B+ then AB+ : the summed prediction exceeds the reward, A and B lose value.",
        [
            ("elemental", {"A+": _N, "B+": _N}),
            ("pre-test", {"A?": _PROBES, "B?": _PROBES}),
            ("compound", {"AB+": _N}),
            ("test", {"A?": _PROBES, "B?": _PROBES}),
        ],
    ),
    "conditioned-inhibition": (
        "A+ interleaved with AX- , probes : X becomes a conditioned inhibitor (negative value).",
        [
            ("acquisition", {"A+": _N // 2}),
            ("discrimination", {"A+": _N, "AX-": _N}),
            ("test", {"A?": _PROBES, "X?": _PROBES, "AX?": _PROBES}),
        ],
    ),
    "second-order-conditioning": (
        "A+ then B>A- (with A+ kept up) , probes B?, C? : B gains value without ever being rewarded.",
        [
            ("first-order", {"A+": _N}),
            ("second-order", {"B>A-": _N // 4, "A+": _N // 4}),
            ("test", {"B?": _PROBES, "C?": _PROBES}),
        ],
    ),
    "partial-reinforcement": (
        "A-, B+ p=.25, C+ p=.5, D+ p=.75, E+ interleaved: RPEs scale with reward probability "
        "(Fiorillo et al. 2003).",
        [
            (
                "training",
                {"A-": _N, "B+ p=0.25": _N, "C+ p=0.5": _N, "D+ p=0.75": _N, "E+": _N},
            )
        ],
    ),
    "omission": (
        "A+ then A+ with occasional A- : a dip at the time of the omitted reward.",
        [("acquisition", {"A+": _N}), ("omission", {"A+": 80, "A-": 20})],
    ),
    "unexpected-reward": (
        "A+ then A+ interleaved with uncued rewards (+) : free rewards keep a full RPE.",
        [("acquisition", {"A+": _N}), ("test", {"A+": 50, "+": 50})],
    ),
}


def protocol_names() -> tuple[str, ...]:
    """Names of the shipped protocols.

    Examples
    --------
    >>> from dopasoft.tasks import protocol_names
    >>> "blocking" in protocol_names(), len(protocol_names())
    (True, 10)
    """
    return tuple(_LIBRARY)


def get_protocol(name: str | Protocol) -> Protocol:
    """Return a shipped protocol by name (a :class:`Protocol` is returned unchanged).

    Parameters
    ----------
    name : str or Protocol
        The name of a shipped protocol (:func:`protocol_names`), or a protocol.

    Raises
    ------
    ValueError
        If ``name`` is not a shipped protocol; the message lists the valid names.

    Examples
    --------
    >>> from dopasoft.tasks import get_protocol
    >>> protocol = get_protocol("blocking")
    >>> protocol.name
    'blocking'
    """
    if isinstance(name, Protocol):
        return name
    if not isinstance(name, str) or name not in _LIBRARY:
        hint = ""
        if isinstance(name, str) and name.lower().endswith((".csv", ".tsv", ".txt", ".parquet", ".pq")):
            hint = " (a lab's session file goes to session=..., on the command line --session)"
        if name == "variable-delay":
            hint = (
                " ('variable-delay' draws a reward time per trial, so it is a session: "
                "simulate_conditioning('variable-delay', ...) or ConditioningTask(variable_delay_session(...)))"
            )
        raise ValueError(f"unknown protocol {name!r}; valid protocols: {', '.join(_LIBRARY)}{hint}")
    description, phases = _LIBRARY[name]
    return make_protocol(name, phases, description=description)


PROTOCOLS: dict[str, str] = {k: v[0] for k, v in _LIBRARY.items()}
"""Shipped protocol names with their one-line descriptions."""
