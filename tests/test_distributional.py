"""Distributional TD (Dabney et al. 2020): reversal points are the expectiles of the reward distribution.

Ground truth: expectiles found here by bisection on the expectile equation (no package code), the
closed form e_tau = tau of a fair 0/1 reward, and the Wasserstein distance of the decoded distribution.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

import dopasoft as ds
from dopasoft.experiments.distributional import DABNEY_MAGNITUDES, DABNEY_PROBABILITIES, impute_distribution


def bisection_expectile(rewards, probs, tau):
    """m with tau E[(r - m)+] = (1 - tau) E[(m - r)+], by bisection (the left side falls in m)."""
    r, p = np.asarray(rewards, float), np.asarray(probs, float) / np.sum(probs)
    lo, hi = r.min(), r.max()
    for _ in range(200):
        m = 0.5 * (lo + hi)
        if tau * np.sum(p * np.clip(r - m, 0, None)) > (1 - tau) * np.sum(p * np.clip(m - r, 0, None)):
            lo = m
        else:
            hi = m
    return 0.5 * (lo + hi)


@pytest.fixture(scope="module")
def dabney():
    return ds.experiments.distributional_rpe(seed=0)


def test_reversal_points_are_the_expectiles_of_the_reward_distribution(dabney):
    units = dabney.units
    assert len(units) == 20 and {"unit", "asymmetry", "reversal_point"} <= set(units.columns)
    np.testing.assert_allclose(
        units["asymmetry"], units["alpha_plus"] / (units["alpha_plus"] + units["alpha_minus"])
    )
    truth = [bisection_expectile(DABNEY_MAGNITUDES, DABNEY_PROBABILITIES, t) for t in units["asymmetry"]]
    np.testing.assert_allclose(units["expectile"], truth, atol=1e-9)
    # within 0.15 µl of 0.1-20 µl: a constant step size leaves the values fluctuating by about that much
    np.testing.assert_allclose(units["reversal_point"], truth, atol=0.15)
    assert np.all(np.diff(units["reversal_point"]) > 0)  # optimists reverse at larger rewards
    # the RPE changes sign at the reversal point: negative below, positive above
    for _, unit in units.iterrows():
        rows = dabney.rpe[dabney.rpe["unit"] == unit["unit"]]
        below = rows["magnitude"] < unit["reversal_point"] - 0.2
        above = rows["magnitude"] > unit["reversal_point"] + 0.2
        assert (rows.loc[below, "delta"] < 0).all() and (rows.loc[above, "delta"] > 0).all()
        assert (rows.loc[below, "response"] == rows.loc[below, "delta"] * (1 - unit["asymmetry"])).all()


def test_fair_coin_reward_has_expectile_tau():
    taus = [0.1, 0.3, 0.5, 0.7, 0.9]
    res = ds.experiments.distributional_rpe(
        [0.0, 1.0], [0.5, 0.5], asymmetries=taus, alpha=0.01, n_trials=20_000, seed=1
    )
    np.testing.assert_allclose(res.units["expectile"], taus, atol=1e-9)
    np.testing.assert_allclose(res.units["value"], taus, atol=0.03)
    np.testing.assert_allclose(res.units["reversal_point"], taus, atol=0.03)


def test_decoded_distribution_is_close_to_the_true_one(dabney):
    true_mean = float(np.dot(DABNEY_MAGNITUDES, DABNEY_PROBABILITIES))
    assert abs(dabney.decoded.mean() - true_mean) < 0.3
    grid_true = np.repeat(DABNEY_MAGNITUDES, np.round(np.asarray(DABNEY_PROBABILITIES) * 10_000).astype(int))
    decoded_error = wasserstein_distance(dabney.decoded, grid_true)
    point_mass_error = wasserstein_distance([true_mean], grid_true)
    assert decoded_error < 0.25 * point_mass_error
    # the decoded samples have the units' expectiles (the imputation's own condition)
    for tau, rp in zip(dabney.units["asymmetry"], dabney.units["reversal_point"], strict=True):
        assert bisection_expectile(dabney.decoded, np.ones(dabney.decoded.size), tau) == pytest.approx(
            rp, abs=0.3
        )


def test_same_seed_same_result():
    a = ds.experiments.distributional_rpe(n_units=5, n_trials=500, seed=3)
    b = ds.experiments.distributional_rpe(n_units=5, n_trials=500, seed=3)
    np.testing.assert_array_equal(a.units["reversal_point"], b.units["reversal_point"])
    np.testing.assert_array_equal(a.decoded, b.decoded)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"asymmetries": [0.0, 0.5]}, "asymmetries must be numbers in"),
        ({"probabilities": [0.5, 0.5]}, "one value per reward"),
        ({"rewards": [1.0, np.inf], "probabilities": None}, "rewards must be finite"),
        ({"alpha": 0.0}, "alpha must be in"),
        ({"n_trials": 1}, "n_trials must be"),
    ],
)
def test_bad_input_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ds.experiments.distributional_rpe(**kwargs)
    with pytest.raises(ValueError, match="one per asymmetry"):
        impute_distribution([1.0, 2.0], [0.5])


def test_a_run_too_large_for_memory_is_refused_before_it_starts():
    with pytest.raises(ValueError, match="n_trials=100000000000 with 20 units.*memory"):
        ds.experiments.distributional_rpe(n_trials=10**11, seed=0)
