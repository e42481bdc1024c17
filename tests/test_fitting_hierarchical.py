"""Hierarchical EM and random-effects Bayesian model selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dopasoft.fitting as F


def test_hierarchical_em_recovers_group_and_shrinks():
    model = F.get_model("soft-q")
    rng = np.random.default_rng(0)
    true = pd.DataFrame({"alpha": rng.uniform(0.3, 0.6, 30), "tau": rng.uniform(0.15, 0.3, 30)})
    data = F.simulate(model, true, n_trials=120, seed=1)
    ml = F.fit(data, model, n_starts=3)
    hier = F.fit_hierarchical(data, model, n_starts=3, max_iter=15)
    assert hier.n_iter <= 15
    # MAP never beats the ML optimum on the data term, and estimates are shrunk towards the group
    assert np.all(hier.params["nll"].to_numpy() >= ml.params["nll"].to_numpy() - 1e-6)
    assert hier.params["alpha"].std() <= ml.params["alpha"].std() + 1e-9
    assert 0.3 < hier.group.loc["alpha", "median"] < 0.65
    assert 0.1 < hier.group.loc["tau", "median"] < 0.4
    assert np.isfinite(hier.ibic) and "iBIC" in hier.summary()


def test_bms_strong_and_null_evidence():
    rng = np.random.default_rng(1)
    lme = np.column_stack([np.zeros(20), -10 + rng.normal(size=20), -12 + rng.normal(size=20)])
    res = F.bms(pd.DataFrame(lme, columns=["a", "b", "c"]), n_samples=20_000, seed=0)
    assert res.pxp["a"] > 0.95 and res.bor < 0.05
    np.testing.assert_allclose(res.expected_frequency.sum(), 1.0)
    null = F.bms(np.zeros((20, 3)), n_samples=20_000, seed=0)
    assert null.bor > 0.9
    np.testing.assert_allclose(null.pxp.to_numpy(), 1 / 3, atol=0.05)
    # two models: exact exceedance probability agrees with sampling
    two = F.bms(lme[:, :2] + rng.normal(scale=3, size=(20, 2)))
    r = np.random.default_rng(2).dirichlet(two.alpha.to_numpy(), size=200_000)
    assert abs(two.xp.iloc[0] - np.mean(r[:, 0] > r[:, 1])) < 0.01
    with pytest.raises(ValueError, match="n_models >= 2"):
        F.bms(np.zeros((5, 1)))
