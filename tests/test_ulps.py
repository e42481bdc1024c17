"""The ulp comparison the tests use between two code paths (tests/ulps.py): it counts what it says."""

import math

import numpy as np
import pytest
from ulps import assert_close_ulps, ulp_error

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)


def test_ulp_error_counts_units_in_the_last_place():
    x = np.array([1.0, 0.3, -2.5, 1e-300, 0.0])
    assert ulp_error(x, x).tolist() == [0.0] * 5
    one_up = np.nextafter(x, np.inf)
    np.testing.assert_array_equal(ulp_error(one_up, x), 1.0)
    three_up = np.nextafter(np.nextafter(one_up, np.inf), np.inf)
    np.testing.assert_array_equal(ulp_error(x, three_up), 3.0)
    # across a power of two the unit is the spacing at the larger magnitude
    assert ulp_error(np.nextafter(1.0, 0.0), 1.0) == 0.5
    # scale: a small entry of a table whose entries are ~1 is measured in ulps of 1
    assert ulp_error(1e-17, 0.0, scale=1.0) == pytest.approx(1e-17 / math.ulp(1.0))


def test_nan_and_infinities():
    assert ulp_error(math.nan, math.nan) == 0.0
    assert ulp_error(math.nan, 1.0) == math.inf and ulp_error(1.0, math.nan) == math.inf
    assert ulp_error(math.inf, math.inf) == 0.0
    assert ulp_error(math.inf, 1e308) == math.inf and ulp_error(-math.inf, math.inf) == math.inf


def test_assert_close_ulps_passes_within_and_fails_beyond_the_tolerance():
    x = np.linspace(-3.0, 3.0, 7)
    assert_close_ulps(np.nextafter(x, np.inf), x, ulps=1)
    with pytest.raises(AssertionError, match=r"7 of 7 values differ by more than 0 ulps"):
        assert_close_ulps(np.nextafter(x, np.inf), x, ulps=0)
    with pytest.raises(
        AssertionError, match=r"log: 1 of 2 .* worst 2\.25e\+15 ulps at flat index 1: 2\.0 against 3\.0"
    ):
        assert_close_ulps([1.0, 2.0], [1.0, 3.0], ulps=4, err_msg="log")
    with pytest.raises(AssertionError, match="1 of 1 values"):
        assert_close_ulps([math.nan], [0.0])
