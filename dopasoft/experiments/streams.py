"""Many seeded numpy generators at once, for cohort simulators that must keep per-subject seeds.

``np.random.default_rng(seed)`` hashes ``seed`` with :class:`numpy.random.SeedSequence` (about 20–60 µs
per call); a cohort of thousands of subjects, each with three seeded generators, spends more time there
than in simulating. :func:`seeded_generators` computes the same hash for all seeds at once with
whole-array ``uint32`` arithmetic (NumPy's ``SeedSequence`` algorithm, pool size 4, no spawn key) and
hands each state to ``PCG64`` directly, so each generator is bit for bit ``default_rng(seed)``; the tests
check that against NumPy itself.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
from numpy.random.bit_generator import ISeedSequence
from numpy.typing import NDArray

__all__ = ["seeded_generators", "seed_states"]

_INIT_A = np.uint32(0x43B0D7E5)
_MULT_A = np.uint32(0x931E8875)
_INIT_B = np.uint32(0x8B51F9DD)
_MULT_B = np.uint32(0x58F38DED)
_MIX_L = np.uint32(0xCA01F9DD)
_MIX_R = np.uint32(0x4973F715)
_SHIFT = np.uint32(16)
_POOL = 4


class _State(ISeedSequence):
    """A seed sequence whose PCG64 state words were computed in advance."""

    __slots__ = ("_words",)

    def __init__(self, words: NDArray[np.uint64]) -> None:
        self._words = words

    def generate_state(self, n_words: int, dtype=np.uint32) -> NDArray[np.uint64]:
        return self._words


def seed_states(entropy: NDArray[np.uint32]) -> NDArray[np.uint64]:
    """``SeedSequence(list(row)).generate_state(4, np.uint64)`` for every row of ``entropy``.

    Parameters
    ----------
    entropy : ndarray of uint32, shape (n, k)
        Each row the 32-bit words of one seed (an integer below 2**32 is one word; the list
        ``[s, 1]`` is the two words ``s, 1``).

    Returns
    -------
    ndarray of uint64, shape (n, 4)
    """
    words = np.asarray(entropy, dtype=np.uint32)
    n, k = words.shape
    hash_const = [_INIT_A]

    def hashmix(value: NDArray[np.uint32]) -> NDArray[np.uint32]:
        value = value ^ hash_const[0]
        hash_const[0] = hash_const[0] * _MULT_A
        value = value * hash_const[0]
        return value ^ (value >> _SHIFT)

    def mix(x: NDArray[np.uint32], y: NDArray[np.uint32]) -> NDArray[np.uint32]:
        result = _MIX_L * x - _MIX_R * y
        return result ^ (result >> _SHIFT)

    with np.errstate(over="ignore"):
        zero = np.zeros(n, np.uint32)
        pool = [hashmix(words[:, i] if i < k else zero) for i in range(_POOL)]
        for src in range(_POOL):
            for dst in range(_POOL):
                if src != dst:
                    pool[dst] = mix(pool[dst], hashmix(pool[src]))
        for src in range(_POOL, k):
            for dst in range(_POOL):
                pool[dst] = mix(pool[dst], hashmix(words[:, src]))
        out = np.empty((n, 2 * _POOL), np.uint32)
        const = _INIT_B
        for i in range(2 * _POOL):
            value = pool[i % _POOL] ^ const
            const = const * _MULT_B
            value = value * const
            out[:, i] = value ^ (value >> _SHIFT)
    out = np.ascontiguousarray(out)
    if sys.byteorder == "big":  # pragma: no cover - NumPy pairs the words little-endian
        out = out.byteswap()
    return out.view(np.uint64)


def seeded_generators(seeds: Sequence[int] | NDArray[np.integer], suffix: Sequence[int] = ()) -> list:
    """``[np.random.default_rng([seed, *suffix]) for seed in seeds]`` (``default_rng(seed)`` without a
    suffix), for seeds in ``[0, 2**32)``, hashed all at once.

    Returns
    -------
    list of numpy.random.Generator
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    if seeds.size and (seeds.min() < 0 or seeds.max() >= 2**32):
        raise ValueError("seeded_generators takes seeds in [0, 2**32)")
    entropy = np.empty((seeds.size, 1 + len(suffix)), np.uint32)
    entropy[:, 0] = seeds
    for j, word in enumerate(suffix):
        entropy[:, 1 + j] = word
    states = seed_states(entropy)
    return [np.random.Generator(np.random.PCG64(_State(row))) for row in states]
