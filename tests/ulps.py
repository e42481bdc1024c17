"""Comparing floating-point results of two different code paths, in units in the last place (ulps).

The same function run twice on the same input gives the same bits, and the tests say so exactly. Two
*different* code paths (numpy against numba or the math module, a compiled function against a plain
oracle, two compiled specialisations of one source) may round differently: numpy picks its SIMD kernels
by CPU at run time (its AVX-512 ``log`` is not glibc's), and a vectorising compiler may call a vector
maths library in one specialisation and not in another. Such comparisons state their tolerance here, in
ulps, with the reason at the call.
"""

import numpy as np

# One elementary function (log, exp) from two libraries, e.g. numpy's np.log against the math library's
# log that numba calls: each is within 1 ulp of the exact value, so they are within 2 ulps of each other.
# (numpy's AVX-512 log and glibc's differ in the last bit for ~0.35 % of inputs in (1e-3, 1).)
KERNEL_ULPS = 2

# Two compiled specialisations of one step or replay (with or without tangents, a cache or feature
# arrays; driven directly or inlined into a learner's packed call) do the same operations in the same
# order, but a compiler that vectorises a loop of one of them with a vector maths library (numba with
# Intel SVML) rounds its log or exp differently. Over a few hundred steps that stays within a few dozen
# ulps of a table's largest entry (a 1-ulp change of alpha or tau moves W by at most 6 of them). 256 ulps
# (~6e-14 for values ~1) is 20 times tighter than the plain oracles' 1e-12, and far below what a wrong
# operation, a stale cache or a missed step would change.
REPLAY_ULPS = 256


def ulp_error(actual, desired, scale=0.0):
    """``|actual - desired|`` in ulps of ``max(|actual|, |desired|, scale)``, element by element.

    Equal values (infinities and zeros included) and NaN against NaN count 0; anything against NaN,
    or an infinity against another value, counts ``inf``.
    """
    a = np.asarray(actual, dtype=float)
    d = np.asarray(desired, dtype=float)
    a, d = np.broadcast_arrays(a, d)
    both_nan = np.isnan(a) & np.isnan(d)
    same = (a == d) | both_nan
    with np.errstate(invalid="ignore", over="ignore"):
        unit = np.spacing(np.maximum(np.maximum(np.abs(a), np.abs(d)), abs(float(scale))))
        err = np.abs(a - d) / unit
    err = np.where(np.isfinite(err), err, np.inf)
    return np.where(same, 0.0, err)


def assert_close_ulps(actual, desired, ulps=4, *, scale=0.0, err_msg=""):
    """Assert that ``actual`` and ``desired`` differ by at most ``ulps`` ulps everywhere.

    The unit is the spacing of doubles at ``max(|actual|, |desired|)`` per element, or at ``scale`` where
    that is larger: pass the magnitude of a table (e.g. ``np.abs(q).max()``) when its small entries are
    sums of larger numbers and so carry rounding errors of the table's scale, not of their own. NaNs must
    be at the same places.
    """
    err = ulp_error(actual, desired, scale)
    worst = float(err.max()) if err.size else 0.0
    if worst > ulps:
        k = int(np.argmax(err))
        d = np.broadcast_to(np.asarray(desired, dtype=float), err.shape).ravel()
        a = np.broadcast_to(np.asarray(actual, dtype=float), err.shape).ravel()
        raise AssertionError(
            f"{err_msg}{': ' if err_msg else ''}{int(np.sum(err > ulps))} of {err.size} values differ by more "
            f"than {ulps} ulps; worst {worst:.3g} ulps at flat index {k}: {float(a[k])!r} against {float(d[k])!r}"
        )
